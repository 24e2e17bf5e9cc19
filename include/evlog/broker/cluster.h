// evlog/broker/cluster.h — several brokers and their controller in one
// process: partitions replicated across the brokers, a leader per partition
// and failover, with Kafka's rules.
//
//   evlog::ClusterOptions options;
//   options.brokers = 3;
//   options.data_dir = "./evlog-cluster";
//   EVLOG_ASSIGN_OR_RETURN(auto cluster, evlog::Cluster::Open(options));
//   evlog::NewTopic orders(/*partitions=*/6, /*replication_factor=*/3);
//   orders.config.min_insync_replicas = 2;
//   EVLOG_RETURN_IF_ERROR(cluster->CreateTopic("orders", orders).status());
//   cluster->Produce({"orders", 0}, batch, evlog::Acks::kAll, /*timeout_ms=*/30'000,
//                    [](absl::StatusOr<evlog::AppendResult> r) { ... });
//   EVLOG_ASSIGN_OR_RETURN(evlog::ClusterFetchResult read,
//                          cluster->Fetch({"orders", 0}, evlog::Offset(0)));
//
// What runs where:
//
//   * One Controller (evlog/replication/controller.h) decides membership,
//     placement, leaders and ISRs. Its metadata log is a
//     SegmentedMetadataLog in `<data_dir>/controller` (so a reopened
//     cluster has its topics back), or in memory when asked. A task on the
//     executor calls its Tick() every controller_tick_interval_ms.
//   * Broker i (ids 1..N) keeps its partitions under `<data_dir>/broker-<i>`
//     as `<topic>-<partition>` directories, each with a
//     `partition.metadata` file naming the topic id (Kafka's file of that
//     name), so a directory left from a deleted topic is never taken for a
//     new topic of the same name. For every partition the controller
//     places on it, it runs a Partition and a ReplicaSet; it learns the
//     placement by replaying the controller's metadata log into its own
//     MetadataImage (Controller::RecordsSince) and applying the difference
//     (ComputeBrokerDelta): new replicas are opened, changed ones updated,
//     replicas of deleted topics closed and their directories removed.
//     It registers with the controller and heartbeats every
//     heartbeat_interval_ms (a task on the executor), applies metadata only
//     while registered, and says it has caught up once it has applied its
//     own registration; its ReplicaSets' ISR proposals go to
//     Controller::AlterPartition, and followers' fetches reach leaders
//     through the Transport (api key replica_api::kFetch), where the
//     broker routes each to the ReplicaSet of its topic partition.
//   * Metadata reaches the brokers on the executor right after every
//     controller decision (the controller's listener schedules it); admin
//     calls (CreateTopic, ...) also apply it before they return, so a
//     topic is usable as soon as CreateTopic returns OK.
//   * Consumer groups: one GroupCoordinator for the process
//     (group_coordinator()), its committed offsets in the replicated topic
//     `__consumer_offsets` (evlog/broker/coordinator_log.h), appended with
//     acks=all and loaded back from the partitions' leaders when a reopened
//     cluster first needs it.
//   * Transactions: one TransactionCoordinator for the process
//     (transaction_coordinator()), its state in the replicated
//     `__transaction_state`, its markers appended at each partition's
//     leader with acks=all and retried while leadership moves
//     (src/broker/coordinator_services.h).
//   * Producers and readers go to the leader named by the cluster's copy of
//     the metadata (Produce, Fetch), the way a Kafka client follows its
//     metadata; the broker asked checks that it really leads.
//
// Failures (test hooks): CrashBroker is a power loss — the broker leaves the
// network at once, its replicas stop, and, when its file system is its own
// FaultyFileSystem, every unsynced write is lost (SimulateCrash). The
// controller notices only when the broker's session expires
// (ControllerOptions::session_timeout_ms), then moves its leaderships; a
// restarted broker's registration is refused (DUPLICATE_BROKER_REGISTRATION)
// until then, and it retries on every heartbeat. StopBroker is Kafka's
// controlled shutdown: leaderships move first, then the logs are closed
// cleanly, and the broker may restart at once.
//
// Execution: the cluster starts no thread. Everything periodic or
// asynchronous (heartbeats, controller ticks, metadata propagation,
// replication fetches and their answers, acks=all completions, timeouts)
// is a task on the executor. With a ManualExecutor, a ManualClock, in-memory
// file systems and an InProcessTransport the whole cluster is
// deterministic: nothing happens until the test runs the executor.
//
// Thread-safety: every method is thread-safe. Callbacks (Produce's) run on
// the caller's thread or an executor thread, with no cluster lock held; they
// may call Produce, Fetch and the read-only calls, but not admin calls,
// the broker hooks or Close (those wait for metadata work that may be what
// is running the callback).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/file_system.h"
#include "evlog/io/log_sink.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic_config.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/replication/controller.h"
#include "evlog/replication/metadata_image.h"
#include "evlog/replication/replica_set.h"
#include "evlog/transport/transport.h"
#include "evlog/txn/producer_id_manager.h"
#include "evlog/types.h"

namespace evlog {

class GroupCoordinator;
struct GroupCoordinatorOptions;
class TransactionCoordinator;
namespace broker_internal {
class ClusterTransactions;
}

struct ClusterOptions {
  // Brokers 1..brokers. REQUIRES: 1..1000.
  int32_t brokers = 3;
  // Empty, or one rack per broker (index i for broker i + 1): placement is
  // then rack-aware.
  std::vector<std::string> racks;
  // The cluster's directory: `<data_dir>/controller` and
  // `<data_dir>/broker-<id>`. Created when missing.
  std::string data_dir = "evlog-cluster";

  // The environment; each must outlive the cluster. nullptr: the operating
  // system's file system and clocks, a one-thread pool (as Broker), no
  // diagnostics.
  FileSystem* file_system = nullptr;
  // Empty, or one file system per broker (index i for broker i + 1; a
  // nullptr entry falls back to file_system). A broker whose own file
  // system is a FaultyFileSystem loses its unsynced writes in CrashBroker;
  // one shared by several brokers is never crashed (it would take the
  // others' files with it).
  std::vector<FileSystem*> broker_file_systems;
  Clock* clock = nullptr;
  Executor* executor = nullptr;
  LogSink* log_sink = nullptr;
  // Carries replication between the brokers. nullptr: an InProcessTransport
  // on the executor, seeded with transport_seed, without faults.
  Transport* transport = nullptr;
  uint64_t transport_seed = 1;

  ControllerOptions controller;
  // Keep the controller's metadata log in memory: the cluster then forgets
  // its topics when closed (partition directories of a later cluster in the
  // same directory are removed as strays once that broker applies metadata).
  bool in_memory_metadata = false;
  // For every replica; min_insync_replicas is replaced per topic by its
  // min.insync.replicas (else controller.default_min_insync_replicas).
  ReplicaSetOptions replica;
  // What a topic's partitions run with where its config says nothing.
  TopicSettings topic_defaults;
  // broker.heartbeat.interval.ms. REQUIRES: >= 1 and below
  // controller.session_timeout_ms.
  int64_t heartbeat_interval_ms = 2'000;
  // How often the controller's Tick runs (session expiry, leader
  // rebalance). REQUIRES: >= 1.
  int64_t controller_tick_interval_ms = 500;
  // How often each broker writes its replicas' high watermarks to
  // high-watermark-checkpoint (Kafka's
  // replica.high.watermark.checkpoint.interval.ms); also written at a clean
  // stop. After a crash a replica's high watermark restarts at most this
  // far behind, so readers of a broker just restarted (and of a leader
  // elected soon after) wait less. REQUIRES: >= 1.
  int64_t high_watermark_checkpoint_interval_ms = 5'000;

  // OK, or INVALID_CONFIG naming the first bad setting.
  [[nodiscard]] absl::Status Validate() const;
};

// One partition as the cluster's metadata describes it.
struct PartitionMetadata {
  PartitionId partition;
  // kNoLeader while offline.
  BrokerId leader = kNoLeader;
  LeaderEpoch leader_epoch{0};
  int32_t partition_epoch = 0;
  // replicas[0] is the preferred leader.
  std::vector<BrokerId> replicas;
  std::vector<BrokerId> isr;

  friend bool operator==(const PartitionMetadata&, const PartitionMetadata&) = default;
};

struct TopicMetadata {
  std::string name;
  TopicId id;
  // The config overrides it was created with (Kafka names), and whether an
  // unclean leader election may give it a leader from outside its ISR.
  std::map<std::string, std::string> configs;
  bool unclean_leader_election_enable = false;
  // In partition order.
  std::vector<PartitionMetadata> partitions;
};

// What Fetch read.
struct ClusterFetchResult {
  // Whole RecordBatch v2 batches, below the high watermark.
  std::vector<std::byte> records;
  // The offset after the last batch returned (the fetch offset when none).
  Offset next_offset;
  Offset high_watermark;
  Offset log_start_offset;
  BrokerId leader = kNoLeader;
  LeaderEpoch leader_epoch{0};
};

// The replica that leads a partition now, for clients of this process.
struct LeaderReplica {
  BrokerId broker = kNoLeader;
  LeaderEpoch leader_epoch{0};
  // Its log: reads in place see what this leader serves, below its high
  // watermark.
  std::shared_ptr<Partition> partition;
};

class Cluster {
 public:
  using ProduceCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>)>;

  // Opens (or creates) the cluster in options.data_dir: the controller
  // replays its metadata log, then every broker registers, catches up with
  // the metadata, reopens (recovering) the logs of its replicas, and is
  // unfenced; leaders are elected as brokers come back. A broker that had
  // registered before keeps its registration's incarnation, so reopening a
  // directory after a crash does not wait out the old sessions.
  // Errors: INVALID_CONFIG; the controller's (CORRUPT_MESSAGE for a
  // metadata log it cannot replay); I/O errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Cluster>> Open(ClusterOptions options);

  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;
  // Closes the cluster if Close() was not called (errors are dropped).
  ~Cluster();

  // Stops the cluster's timers, closes every running broker's replicas and
  // logs cleanly (without a controlled shutdown: the metadata still names
  // them as leaders, and they register again when the directory is
  // reopened), then closes the controller's log. Pending produces fail with
  // NOT_LEADER_OR_FOLLOWER; later calls fail with FailedPrecondition.
  // Returns the first error; idempotent.
  [[nodiscard]] absl::Status Close();

  // --- Topics (through the controller) ---------------------------------------

  // Creates topic `name` with topic.partitions partitions of
  // topic.replication_factor replicas (-1 for either: the controller's
  // default) over the unfenced brokers, leaders the first replica of each;
  // returns its id once every running broker has applied it. `unclean`
  // sets unclean.leader.election.enable (default: the controller's
  // default). Errors: as Controller::CreateTopic — INVALID_TOPIC_EXCEPTION,
  // TOPIC_ALREADY_EXISTS, INVALID_CONFIG (also a config TopicConfig cannot
  // apply to topic_defaults), INVALID_PARTITIONS,
  // INVALID_REPLICATION_FACTOR (more than the unfenced brokers),
  // POLICY_VIOLATION; FailedPrecondition after Close.
  [[nodiscard]] absl::StatusOr<TopicId> CreateTopic(std::string_view name, const NewTopic& topic,
                                                    std::optional<bool> unclean = std::nullopt);

  // Deletes topic `name`: every broker closes its replicas and removes
  // their directories (a broker down meanwhile does it when it comes
  // back). Errors: UNKNOWN_TOPIC_OR_PARTITION; FailedPrecondition.
  [[nodiscard]] absl::Status DeleteTopic(std::string_view name);

  // Grows topic `name` to `total_partitions`. Errors: as
  // Controller::CreatePartitions (UNKNOWN_TOPIC_OR_PARTITION,
  // INVALID_PARTITIONS, INVALID_REPLICATION_FACTOR, POLICY_VIOLATION);
  // FailedPrecondition.
  [[nodiscard]] absl::Status CreatePartitions(std::string_view name, int32_t total_partitions);

  // Topic names, sorted.
  [[nodiscard]] std::vector<std::string> ListTopics() const;

  // Leader, leader epoch, replicas and ISR of every partition of `topic`,
  // as the cluster's metadata says now (Kafka Metadata / DescribeTopics).
  // Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<TopicMetadata> Describe(std::string_view topic) const;
  // One partition. Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<PartitionMetadata> Metadata(
      const TopicPartition& topic_partition) const;

  // What partitions of `topic` run with: topic_defaults with the topic's
  // overrides and min.insync.replicas. Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<TopicSettings> Settings(std::string_view topic) const;

  // The partition's leader, as the cluster's metadata names it, once that
  // broker runs and has taken over. Errors: UNKNOWN_TOPIC_OR_PARTITION;
  // LEADER_NOT_AVAILABLE (no leader, or its broker is down and not yet
  // replaced); NOT_LEADER_OR_FOLLOWER (the named broker has not yet taken
  // over); FailedPrecondition after Close.
  [[nodiscard]] absl::StatusOr<LeaderReplica> Leader(const TopicPartition& topic_partition) const;

  // Counts changes that may move leaders: the cluster's metadata moving on,
  // a broker applying it, a broker stopping. Clients cache what they
  // resolved (Leader) and look again when it changed. Lock-free.
  uint64_t metadata_version() const { return metadata_version_.load(std::memory_order_acquire); }
  // `waiter` is woken at every such change until removed; it must stay
  // alive until RemoveMetadataWaiter returns.
  void AddMetadataWaiter(DataWaiter* waiter);
  void RemoveMetadataWaiter(DataWaiter* waiter);

  // A producer id never handed out before by this cluster directory (Kafka
  // InitProducerId; the controller's AllocateProducerIds), from blocks
  // recorded in `<data_dir>/producer-ids`. Errors: I/O; FailedPrecondition
  // after Close.
  [[nodiscard]] absl::StatusOr<ProducerId> InitProducerId();

  // The cluster's consumer group coordinator, made on first use with
  // `options` (the defaults when null). Its committed offsets live in the
  // replicated topic `__consumer_offsets`, created here when missing
  // (min(3, brokers) replicas, Kafka's offsets.topic.replication.factor)
  // and loaded from its leaders; commits are appended with acks=all. Unlike
  // Kafka, where each broker coordinates the groups of the partitions it
  // leads, one coordinator serves the whole process: membership lives in
  // memory and survives any broker's crash, while offsets survive what
  // replication survives. Errors: COORDINATOR_LOAD_IN_PROGRESS while a
  // partition of the topic has no running leader or uncommitted records
  // (retriable: ask again); FailedPrecondition when `options` are given
  // after it was made, or after Close; the topic's creation errors.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<GroupCoordinator>> group_coordinator(
      const GroupCoordinatorOptions* options = nullptr);

  // The cluster's transaction coordinator, made on first use, valid until
  // Close(). Its state lives in the replicated topic `__transaction_state`
  // (created here when missing; loaded from its leader), its markers go to
  // each partition's leader with acks=all, retried while leadership moves,
  // and those of `__consumer_offsets` through group_coordinator(). As for
  // groups, one coordinator serves the whole process. Errors:
  // COORDINATOR_LOAD_IN_PROGRESS (the topic's leader is not there yet, or
  // has uncommitted records: retriable); FailedPrecondition after Close;
  // the topic's creation errors.
  [[nodiscard]] absl::StatusOr<TransactionCoordinator*> transaction_coordinator();

  // Preferred or unclean election (Controller::ElectLeaders), with the
  // result applied by the brokers before it returns.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, absl::Status>> ElectLeaders(
      std::span<const TopicPartition> partitions, ElectionType type);

  // --- Data ------------------------------------------------------------------

  // Appends `batch` (one RecordBatch v2 batch, e.g. from RecordBatchBuilder;
  // edited in place during the call, not referenced after it returns) at
  // the partition's leader and calls `done` once `acks` is satisfied (see
  // ReplicaSet::Append), on this thread or an executor thread. Errors
  // passed to `done`: UNKNOWN_TOPIC_OR_PARTITION; LEADER_NOT_AVAILABLE
  // (no leader: the whole ISR is down, or the leader's broker is down and
  // not yet fenced); NOT_LEADER_OR_FOLLOWER (the broker the metadata names
  // has not yet taken over, or lost leadership while waiting; the message
  // names the current leader); NOT_ENOUGH_REPLICAS,
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND, REQUEST_TIMED_OUT after `timeout_ms`;
  // FailedPrecondition after Close; the log's errors. All but the last two
  // are retriable once the metadata moves on.
  // `origin`: AppendOptions::origin (coordinators' writes).
  void Produce(const TopicPartition& topic_partition, MutableByteView batch, Acks acks,
               int64_t timeout_ms, ProduceCallback done,
               AppendOrigin origin = AppendOrigin::kClient);
  // The same at broker `broker`, whatever the metadata says, as a client
  // with stale metadata would: NOT_LEADER_OR_FOLLOWER (naming the current
  // leader) when it does not lead the partition; BROKER_NOT_AVAILABLE when
  // it is down or unknown.
  void ProduceTo(BrokerId broker, const TopicPartition& topic_partition, MutableByteView batch,
                 Acks acks, int64_t timeout_ms, ProduceCallback done,
                 AppendOrigin origin = AppendOrigin::kClient);

  // Reads whole batches from `offset` at the partition's leader, below its
  // high watermark, about `max_bytes` (at least one batch). Errors:
  // UNKNOWN_TOPIC_OR_PARTITION; LEADER_NOT_AVAILABLE; NOT_LEADER_OR_FOLLOWER;
  // OFFSET_OUT_OF_RANGE (outside [log start, high watermark]); the log's.
  [[nodiscard]] absl::StatusOr<ClusterFetchResult> Fetch(const TopicPartition& topic_partition,
                                                         Offset offset,
                                                         size_t max_bytes = size_t{1} << 20);

  // --- Test hooks --------------------------------------------------------------

  // A power loss of broker `id` (see the header comment). Errors:
  // INVALID_REQUEST for an unknown id; FailedPrecondition when it is not
  // running.
  [[nodiscard]] absl::Status CrashBroker(BrokerId id);
  // A controlled shutdown of broker `id`: its leaderships move, then its
  // logs are closed cleanly. Errors: as CrashBroker; the logs' close errors.
  [[nodiscard]] absl::Status StopBroker(BrokerId id);
  // Starts broker `id` again on the same directory: it recovers its logs
  // once it is registered and follows the metadata from the start. Returns
  // once it runs; it joins when its registration is accepted (retried on
  // every heartbeat). Errors: as CrashBroker (FailedPrecondition when it is
  // running); the transport's Listen errors.
  [[nodiscard]] absl::Status RestartBroker(BrokerId id);
  // Whether broker `id` runs (not crashed or stopped).
  bool IsRunning(BrokerId id) const;
  // Whether broker `id` is registered with the controller this run (it
  // applies metadata only then).
  bool IsRegistered(BrokerId id) const;

  // Broker `id`'s replica of a partition: its log and its replica state.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION when the broker hosts no such
  // replica now; INVALID_REQUEST for an unknown broker.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<Partition>> ReplicaLog(
      BrokerId id, const TopicPartition& topic_partition) const;
  [[nodiscard]] absl::StatusOr<ReplicaStatus> ReplicaState(
      BrokerId id, const TopicPartition& topic_partition) const;

  // Applies the controller's metadata to every running broker now (what
  // the propagation task does).
  void PropagateMetadata();

  Controller& controller() const { return *controller_; }
  Transport& transport() const { return *transport_; }
  Clock& clock() const { return *clock_; }
  Executor& executor() const { return *executor_; }
  LogSink& log_sink() const { return *log_sink_; }
  const ClusterOptions& options() const { return options_; }

 private:
  class Node;

  explicit Cluster(ClusterOptions options);
  absl::Status Start();
  Node* FindNode(BrokerId id) const;
  void SchedulePropagation();
  void ScheduleTick();
  // Brings metadata_ up to the controller's log.
  void CatchUpMetadata();
  void Log(LogLevel level, std::string_view message) const;
  // Bumps metadata_version and wakes the metadata waiters.
  void MetadataChanged();

  ClusterOptions options_;
  std::unique_ptr<FileSystem> owned_fs_;
  std::unique_ptr<Executor> owned_executor_;
  std::unique_ptr<Transport> owned_transport_;
  FileSystem* fs_ = nullptr;
  Clock* clock_ = nullptr;
  Executor* executor_ = nullptr;
  LogSink* log_sink_ = nullptr;
  Transport* transport_ = nullptr;
  std::unique_ptr<Controller> controller_;
  std::unique_ptr<TaskGroup> tasks_;
  // Index i is broker i + 1; fixed after Open.
  std::vector<std::unique_ptr<Node>> nodes_;
  std::atomic<bool> propagation_scheduled_{false};

  // Serialises admin calls and Close.
  std::mutex admin_mu_;
  std::atomic<bool> closed_{false};

  // The cluster's copy of the metadata, as clients see it.
  mutable std::shared_mutex metadata_mu_;
  MetadataImage metadata_;
  Offset metadata_offset_{-1};

  std::atomic<uint64_t> metadata_version_{0};

  // Made at the first group_coordinator(). Taken before admin_mu_ (making
  // it creates a topic).
  std::mutex group_mu_;
  std::atomic<bool> groups_closed_{false};
  // Written once, under group_mu_, before group_ready_ is set.
  std::shared_ptr<GroupCoordinator> group_coordinator_;
  std::atomic<bool> group_ready_{false};

  // Made at the first transaction_coordinator(); taken before admin_mu_.
  std::mutex transactions_mu_;
  bool transactions_closed_ = false;
  std::unique_ptr<broker_internal::ClusterTransactions> transactions_;

  // Opened at the first InitProducerId.
  std::mutex producer_ids_mu_;
  std::unique_ptr<ProducerIdManager> producer_ids_;
  std::mutex metadata_waiters_mu_;
  std::vector<DataWaiter*> metadata_waiters_;
};

}  // namespace evlog
