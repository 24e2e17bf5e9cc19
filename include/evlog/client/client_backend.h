// evlog/client/client_backend.h — what a Producer or Consumer needs of the
// brokers it talks to, so that the same client runs against one embedded
// Broker, a Cluster of brokers in this process, and later transports.
//
//   auto backend = evlog::MakeClientBackend(*cluster);   // or (*broker)
//   EVLOG_ASSIGN_OR_RETURN(auto topic, backend->GetTopic("orders", /*auto_create=*/false));
//   EVLOG_ASSIGN_OR_RETURN(auto partition, topic->partition(evlog::PartitionId(0)));
//   partition->Append(batch, evlog::Acks::kAll, 30'000, [](auto result) { ... });
//
// Applications rarely use this header: Producer::Create and Consumer::Create
// take a Broker or a Cluster and build the backend themselves. It is public
// so that a transport can give the clients another backend.
//
// A Kafka client keeps a metadata cache and sends requests to the broker
// that leads each partition. In one process both reduce to the calls below:
// a topic looked up by name (its partition count and settings), and per
// partition an append with acks and an in-place read, both at whichever
// replica leads the partition now. A backend follows leadership changes
// itself; what a client sees of them are retriable errors
// (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE, ...: IsRetriable), which
// it retries.
//
// Thread-safety: ClientBackend and ClientTopic are thread-safe. A
// ClientPartition is thread-safe except for its waiter registration
// (AddWaiter, RemoveWaiter, and Read/Offsets, which may move it), which
// belongs to one consumer thread; the producer, which never registers a
// waiter, shares its partitions between threads.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/log_sink.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic_config.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/types.h"

namespace evlog {

class Broker;
class Cluster;
class GroupCoordinator;
class TransactionCoordinator;

// A partition's offsets as its leader has them now.
struct PartitionOffsets {
  Offset log_start_offset;
  // The end of what consumers may read.
  Offset high_watermark;
  Offset log_end_offset;
  // The end of what read_committed consumers may read (<= high_watermark).
  Offset last_stable_offset;
};

// One partition, wherever its leader is. Obtained from ClientTopic; each
// call to ClientTopic::partition returns a new object, so that every
// consumer registers its waiter on its own.
class ClientPartition {
 public:
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>)>;

  explicit ClientPartition(TopicPartition topic_partition)
      : topic_partition_(std::move(topic_partition)) {}
  virtual ~ClientPartition() = default;
  ClientPartition(const ClientPartition&) = delete;
  ClientPartition& operator=(const ClientPartition&) = delete;

  const TopicPartition& topic_partition() const { return topic_partition_; }

  // Appends one RecordBatch v2 batch at the leader (edited in place: base
  // offset, leader epoch; not referenced once `done` has run and Append has
  // returned) and calls `done` once `acks` is satisfied — possibly before
  // Append returns, on this thread, or later on an executor thread. Errors
  // given to `done`: the leader's (ReplicaSet::Append, Partition::Append);
  // retriable ones (IsRetriable) may succeed when sent again.
  virtual void Append(MutableByteView batch, Acks acks, int64_t timeout_ms,
                      AppendCallback done) = 0;

  // Reads whole batches from `offset` below the leader's high watermark
  // into `buffer` (reused; the result points into it), as
  // Partition::Read. An offset between the high watermark and the log end
  // offset reads nothing (a new leader's high watermark may briefly lag
  // what it already holds). Errors: OFFSET_OUT_OF_RANGE (below the log
  // start or past the log end); UNKNOWN_TOPIC_OR_PARTITION once deleted();
  // LEADER_NOT_AVAILABLE and NOT_LEADER_OR_FOLLOWER while leadership moves;
  // the log's. With options.verify, every batch returned has had its CRC
  // checked where it arrived here (the consumer does not check it again): a
  // backend whose bytes travel checks them after they have.
  virtual absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                             const LogReadOptions& options) = 0;

  // The leader's offsets. Errors: as Read (not OFFSET_OUT_OF_RANGE).
  virtual absl::StatusOr<PartitionOffsets> Offsets() = 0;

  // The first record with a timestamp >= `timestamp_ms` (Kafka ListOffsets).
  // Errors: as Offsets; the log's.
  virtual absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(
      int64_t timestamp_ms) = 0;

  // The aborted transactions with batches in [from, to), for
  // read_committed reading. Errors: as Offsets.
  virtual absl::StatusOr<std::vector<AbortedTransaction>> AbortedTransactions(Offset from,
                                                                              Offset to) = 0;

  // Registers `waiter` to be woken when there may be more to read: an
  // append or a high watermark move at the leader, the leader moving, or
  // the partition going away. Must stay alive until RemoveWaiter returns.
  // One waiter per object at a time.
  virtual void AddWaiter(DataWaiter* waiter) = 0;
  virtual void RemoveWaiter(DataWaiter* waiter) = 0;

  // True once the partition's topic was deleted (a topic created again
  // under the same name is another one): look the topic up again.
  virtual bool deleted() const = 0;

 private:
  const TopicPartition topic_partition_;
};

// One topic, as a client's metadata describes it.
class ClientTopic {
 public:
  ClientTopic(std::string name, TopicSettings settings)
      : name_(std::move(name)), settings_(std::move(settings)) {}
  virtual ~ClientTopic() = default;
  ClientTopic(const ClientTopic&) = delete;
  ClientTopic& operator=(const ClientTopic&) = delete;

  const std::string& name() const { return name_; }
  // The broker's defaults with the topic's overrides applied.
  const TopicSettings& settings() const { return settings_; }

  // Partitions now (it grows with CreatePartitions); lock-free or nearly.
  virtual int32_t partition_count() const = 0;
  // True once deleted: look the name up again.
  virtual bool deleted() const = 0;
  // A new handle on partition `id`. Errors: UNKNOWN_TOPIC_OR_PARTITION
  // (out of range, or the topic was deleted).
  virtual absl::StatusOr<std::shared_ptr<ClientPartition>> partition(PartitionId id) = 0;

 private:
  const std::string name_;
  const TopicSettings settings_;
};

class ClientBackend {
 public:
  virtual ~ClientBackend() = default;

  // The environment the clients schedule on (linger timers, retries,
  // heartbeats) and read time from.
  virtual Clock& clock() const = 0;
  virtual Executor& executor() const = 0;
  virtual LogSink& log_sink() const = 0;

  // Topic names, sorted.
  virtual std::vector<std::string> ListTopics() const = 0;
  // Topic `name`; with `auto_create`, created with the defaults when the
  // backend allows it (Broker's auto_create_topics). Errors:
  // INVALID_TOPIC_EXCEPTION; UNKNOWN_TOPIC_OR_PARTITION; creation's.
  virtual absl::StatusOr<std::shared_ptr<ClientTopic>> GetTopic(std::string_view name,
                                                                bool auto_create) = 0;
  // A producer id never handed out before (Kafka InitProducerId, for an
  // idempotent producer; epoch 0). Errors: the id allocation's I/O errors.
  virtual absl::StatusOr<ProducerId> InitProducerId() = 0;
  // The transaction coordinator. Errors: UNSUPPORTED_VERSION where the
  // backend has none; loading its state (COORDINATOR_LOAD_IN_PROGRESS on a
  // Cluster: retriable).
  virtual absl::StatusOr<TransactionCoordinator*> transaction_coordinator() = 0;
  // The coordinator of consumer groups. Errors: UNSUPPORTED_VERSION where
  // the backend has none; loading its offsets (COORDINATOR_LOAD_IN_PROGRESS
  // on a Cluster whose `__consumer_offsets` is not yet readable:
  // retriable).
  virtual absl::StatusOr<std::shared_ptr<GroupCoordinator>> group_coordinator() = 0;
  // True when the coordinators answer before their calls return (a
  // Broker: local appends), so that a producer's executor task may call
  // them; false when they wait on replication (a Cluster), where only a
  // caller's own thread may wait for them.
  virtual bool coordinators_answer_inline() const = 0;
};

// Backends over a broker or a cluster of this process; each must outlive
// its backend.
std::unique_ptr<ClientBackend> MakeClientBackend(Broker& broker);
std::unique_ptr<ClientBackend> MakeClientBackend(Cluster& cluster);

}  // namespace evlog
