// evlog/broker/broker.h — one node: the topics in a data directory, their
// partitions' logs, and the background work that keeps them in shape.
//
//   evlog::BrokerOptions options;
//   options.data_dir = "./evlog-data";
//   EVLOG_ASSIGN_OR_RETURN(auto broker, evlog::Broker::Open(options));
//   EVLOG_RETURN_IF_ERROR(broker->CreateTopic("orders", evlog::NewTopic(3)));
//   // producers and consumers (evlog/client/) take the broker by reference
//
// On disk (docs/format/broker_directory.md): each partition's log is the
// directory `<data_dir>/<topic>-<partition>` (Kafka's layout), and the
// topics themselves are records in the compacted log
// `<data_dir>/__cluster_metadata-0`: one record per topic change, keyed by
// the topic's name, synced before the change is acknowledged. Open()
// replays it, so reopening the directory restores every topic with its
// configuration; partition directories that no topic owns (a deletion
// interrupted by a crash) are removed.
//
// Background work — retention, compaction of compacted topics — runs as
// tasks on the executor from the options; the broker starts no thread of
// its own (without an executor it creates a one-thread pool).
//
// Coordinators of the layers above (the group coordinator, later the
// transaction coordinator) are services of the broker: one of each kind per
// broker, made on first use (Service<S>()), shut down by Close() before the
// partitions they write to. The broker knows them only through
// BrokerService, so that it depends on no layer above it.
//
// Thread-safety: every method is thread-safe. Admin calls (create, delete,
// grow) are serialised; the produce and fetch paths go to the partitions
// directly and do not take the broker's lock.
#pragma once

#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/file_system.h"
#include "evlog/io/log_sink.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic.h"
#include "evlog/partition/topic_config.h"
#include "evlog/txn/producer_id_manager.h"
#include "evlog/txn/transaction_coordinator.h"
#include "evlog/types.h"

namespace evlog {

struct BrokerOptions {
  // Created when missing.
  std::string data_dir = "evlog-data";
  // The environment; each must outlive the broker. nullptr: the broker
  // uses the operating system's file system and clocks, a thread pool of
  // one thread, and drops its diagnostics.
  FileSystem* file_system = nullptr;
  Clock* clock = nullptr;
  Executor* executor = nullptr;
  LogSink* log_sink = nullptr;
  // What a topic's partitions run with where its config says nothing.
  TopicSettings topic_defaults;
  // Create a topic the first time a producer sends to it (Kafka
  // auto.create.topics.enable), with this many partitions (num.partitions).
  bool auto_create_topics = false;
  int32_t auto_create_partitions = 1;
  // How often retention runs (log.retention.check.interval.ms) and how
  // often compacted topics are looked at (log.cleaner.backoff.ms).
  int64_t retention_check_interval_ms = 5 * 60 * 1000;
  int64_t compaction_check_interval_ms = 15 * 1000;
};

struct PartitionDescription {
  PartitionId partition;
  Offset log_start_offset;
  Offset high_watermark;
  Offset log_end_offset;
  uint64_t size_bytes = 0;
};

struct TopicDescription {
  std::string name;
  int16_t replication_factor = 1;
  bool internal = false;
  // The overrides it was created with, and the settings in effect.
  TopicConfig config;
  TopicSettings settings;
  // In partition order.
  std::vector<PartitionDescription> partitions;
};

// Every partition's counters, ordered by topic and partition.
struct BrokerMetrics {
  std::vector<PartitionMetrics> partitions;
};

// A component a higher layer runs on a broker (see Service<S>()). S names
// itself with `static constexpr std::string_view kServiceName`.
class BrokerService {
 public:
  virtual ~BrokerService() = default;
  // Stops the service: its background work ends and its calls fail from
  // now on. Called once, by Broker::Close(), before the partitions close.
  virtual void Shutdown() = 0;
};

class Broker {
 public:
  // Opens (or creates) the broker in options.data_dir, restoring every
  // topic and recovering every partition log that was not closed cleanly.
  // Errors: INVALID_CONFIG (bad topic_defaults or intervals); CORRUPT_MESSAGE
  // (an unreadable metadata record); I/O errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Broker>> Open(BrokerOptions options);

  Broker(const Broker&) = delete;
  Broker& operator=(const Broker&) = delete;
  // Closes the broker if Close() was not called (errors are dropped).
  ~Broker();

  // Creates topic `name`: durably recorded, then its partition logs
  // created. Errors: INVALID_TOPIC_EXCEPTION (bad name, or one that
  // collides with an existing topic once '.' and '_' are treated alike, as
  // Kafka's metric names would); TOPIC_ALREADY_EXISTS; INVALID_PARTITIONS
  // (below 1); INVALID_REPLICATION_FACTOR (not 1 on a single broker);
  // INVALID_CONFIG; I/O errors. On error nothing was created.
  [[nodiscard]] absl::Status CreateTopic(std::string_view name, const NewTopic& topic);

  // Deletes topic `name` and its data. Producers and consumers using it get
  // UNKNOWN_TOPIC_OR_PARTITION from then on. Errors:
  // UNKNOWN_TOPIC_OR_PARTITION; I/O errors.
  [[nodiscard]] absl::Status DeleteTopic(std::string_view name);

  // Grows topic `name` to `partition_count` partitions (Kafka
  // CreatePartitions: existing keys may map to other partitions after).
  // Errors: UNKNOWN_TOPIC_OR_PARTITION; INVALID_PARTITIONS when not above
  // the current count; I/O errors.
  [[nodiscard]] absl::Status CreatePartitions(std::string_view name, int32_t partition_count);

  // Topic names, sorted.
  [[nodiscard]] std::vector<std::string> ListTopics() const;

  // Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<TopicDescription> DescribeTopic(std::string_view name) const;

  // The topic, for clients. With `auto_create` and auto_create_topics set,
  // a missing topic is created first. Errors: UNKNOWN_TOPIC_OR_PARTITION;
  // the errors of CreateTopic; FailedPrecondition after Close().
  [[nodiscard]] absl::StatusOr<std::shared_ptr<Topic>> GetTopic(std::string_view name,
                                                                bool auto_create = false);

  // The transaction coordinator of this broker (made on first use; its
  // state in the topic `__transaction_state`), valid until Close(). Errors:
  // loading its state (CORRUPT_MESSAGE, I/O); FailedPrecondition after
  // Close().
  [[nodiscard]] absl::StatusOr<TransactionCoordinator*> transaction_coordinator();

  // A producer id no producer of this data directory had before (Kafka
  // InitProducerId), from blocks recorded in `<data_dir>/__producer_ids`.
  // Errors: I/O errors; FailedPrecondition after Close().
  [[nodiscard]] absl::StatusOr<ProducerId> InitProducerId();

  // One partition. Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<Partition>> GetPartition(
      const TopicPartition& topic_partition) const;

  // Moves a partition's log start offset to `offset` (Kafka DeleteRecords).
  // Errors: UNKNOWN_TOPIC_OR_PARTITION; OFFSET_OUT_OF_RANGE past the high
  // watermark.
  [[nodiscard]] absl::Status DeleteRecordsBefore(const TopicPartition& topic_partition,
                                                 Offset offset);

  // Runs retention and compaction on every partition now (the background
  // tasks call the same). Returns the first error; keeps going past it.
  [[nodiscard]] absl::Status RunMaintenance();

  [[nodiscard]] BrokerMetrics metrics() const;

  // The broker's service of type S: the one made earlier, or a new one from
  // `create()` (called at most once per broker and kind, under the broker's
  // services lock: it must not ask for another service). Errors:
  // FailedPrecondition after Close(); those of `create`.
  template <typename S>
  requires std::derived_from<S, BrokerService>
  [[nodiscard]] absl::StatusOr<std::shared_ptr<S>> Service(
      const std::function<absl::StatusOr<std::shared_ptr<S>>()>& create) {
    std::shared_ptr<BrokerService> service;
    absl::Status status = ServiceSlot(
        S::kServiceName,
        [&]() -> absl::StatusOr<std::shared_ptr<BrokerService>> {
          absl::StatusOr<std::shared_ptr<S>> made = create();
          if (!made.ok()) return made.status();
          return std::shared_ptr<BrokerService>(*std::move(made));
        },
        service);
    if (!status.ok()) return status;
    return std::static_pointer_cast<S>(std::move(service));
  }

  FileSystem& file_system() const { return *fs_; }
  Clock& clock() const { return *clock_; }
  Executor& executor() const { return *executor_; }
  LogSink& log_sink() const { return *log_sink_; }
  const BrokerOptions& options() const { return options_; }

  // Stops the background tasks, then closes every partition (each writes
  // its clean-shutdown checkpoint) and the metadata log. Clients still
  // holding partitions get UNKNOWN_TOPIC_OR_PARTITION after it. Returns
  // the first error; idempotent.
  [[nodiscard]] absl::Status Close();

 private:
  struct TopicRecord;

  explicit Broker(BrokerOptions options);
  absl::Status Load();
  // Starts the transaction coordinator when `__transaction_state` exists.
  void ResumeTransactions();
  absl::Status ReplayMetadata(std::map<std::string, TopicRecord>& topics);
  absl::Status WriteMetadata(std::string_view name, const TopicRecord* record);
  absl::StatusOr<std::shared_ptr<Partition>> OpenPartition(const std::string& topic, PartitionId id,
                                                           const TopicSettings& settings);
  absl::Status RemoveStrayDirectories();
  absl::Status CreateTopicLocked(std::string_view name, const NewTopic& topic);
  void ScheduleMaintenance(int64_t interval_ms, bool retention);
  // The topics now, so partition work runs without the broker's lock.
  std::vector<std::shared_ptr<Topic>> SnapshotTopics() const;
  void Log(LogLevel level, std::string_view message) const;
  absl::Status ServiceSlot(
      std::string_view name,
      const std::function<absl::StatusOr<std::shared_ptr<BrokerService>>()>& create,
      std::shared_ptr<BrokerService>& out);

  BrokerOptions options_;
  std::unique_ptr<FileSystem> owned_fs_;
  std::unique_ptr<Executor> owned_executor_;
  FileSystem* fs_ = nullptr;
  Clock* clock_ = nullptr;
  Executor* executor_ = nullptr;
  LogSink* log_sink_ = nullptr;
  std::unique_ptr<TaskGroup> tasks_;

  mutable std::mutex mu_;
  bool closed_ = false;
  std::unique_ptr<PartitionLog> metadata_log_;
  std::map<std::string, std::shared_ptr<Topic>, std::less<>> topics_;

  // Opened at the first InitProducerId.
  std::mutex producer_ids_mu_;
  std::unique_ptr<ProducerIdManager> producer_ids_;

  // Not mu_: a service's creation may call the broker's admin methods.
  // Not held while a service is made: making one may start another it
  // uses (the transaction coordinator finishing a commit at startup starts
  // the group coordinator, whose offsets the commit includes) and take that
  // service's locks, which callers of this one may hold already.
  std::mutex services_mu_;
  std::condition_variable services_cv_;
  // Services being made (by name); others asking for one wait for it.
  std::vector<std::string> services_starting_;
  bool services_closed_ = false;
  // In creation order; shut down in reverse.
  std::vector<std::pair<std::string, std::shared_ptr<BrokerService>>> services_;
};

}  // namespace evlog
