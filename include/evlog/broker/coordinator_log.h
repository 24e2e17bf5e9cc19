// evlog/broker/coordinator_log.h — the partitions of an internal topic a
// coordinator keeps its state in (`__consumer_offsets`), wherever they live:
// a Broker's own logs, or replicas spread over the brokers of a Cluster.
//
//   std::unique_ptr<evlog::CoordinatorLog> log =
//       evlog::MakeCoordinatorLog(broker, "__consumer_offsets", defaults);
//   log->Append(evlog::PartitionId(3), batch, {}, [](absl::StatusOr<evlog::AppendResult> r) {
//     // durable (synced, or replicated to every in-sync replica) when ok
//   });
//
// A coordinator writes through Append and learns the outcome in its
// callback; it reads its partitions back only when it loads (Scan). Kafka's
// coordinators do the same over the replica manager: append with acks=all,
// update the in-memory state when the append completes, reload from the
// log when they take a partition over.
//
// Completion order: on a Broker, Append completes before it returns, in the
// order of the calls. On a Cluster the callbacks run later, on executor
// threads, and two appends to one partition may complete in either order;
// AppendResult::base_offset gives the log's order, which is what a
// coordinator must apply its state in.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/log_sink.h"
#include "evlog/partition/topic_config.h"
#include "evlog/record/record_batch.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/types.h"

namespace evlog {

class Broker;
class Cluster;

class CoordinatorLog {
 public:
  using AppendCallback = absl::AnyInvocable<void(absl::StatusOr<AppendResult>)>;
  using BatchVisitor = std::function<absl::Status(const RecordBatchView&)>;

  virtual ~CoordinatorLog() = default;

  // The internal topic's name.
  virtual const std::string& topic() const = 0;
  // Its partition count; 0 while it does not exist.
  virtual int32_t partition_count() const = 0;
  // Creates the topic with `partitions` partitions and `config`. Errors:
  // TOPIC_ALREADY_EXISTS (someone created it: read partition_count());
  // COORDINATOR_NOT_AVAILABLE (a Cluster with fewer brokers up than the
  // replication factor: retriable); the broker's or controller's. Not from
  // an Append callback.
  [[nodiscard]] virtual absl::Status Create(int32_t partitions, const TopicConfig& config) = 0;

  // Appends `batch` (one RecordBatchBuilder batch, edited in place; not
  // referenced once `done` has run and Append has returned) to
  // `partition`, and calls `done` once it is durable: synced by a Broker
  // (the topic's durability), in every in-sync replica of a Cluster
  // (acks=all). `options.origin` is passed on (and `options.trusted` on a
  // Broker); the offsets are the log's. Errors given to `done`: the log's and, on a
  // Cluster, the replication's (NOT_LEADER_OR_FOLLOWER,
  // LEADER_NOT_AVAILABLE, NOT_ENOUGH_REPLICAS,
  // NOT_ENOUGH_REPLICAS_AFTER_APPEND: the batch may still commit,
  // REQUEST_TIMED_OUT: likewise).
  virtual void Append(PartitionId partition, MutableByteView batch, const AppendOptions& options,
                      AppendCallback done) = 0;

  // Calls `visit` for every batch of `partition`, from its log start to its
  // end as it is now, in offset order; stops at the first error. On a
  // Cluster it reads the leader's replica and only once all of it is
  // committed (its high watermark at its log end), so that what a
  // coordinator loads cannot be truncated away. Errors:
  // UNKNOWN_TOPIC_OR_PARTITION; COORDINATOR_LOAD_IN_PROGRESS (a Cluster
  // whose partition has no running leader yet, or uncommitted data:
  // retriable); the log's, CORRUPT_MESSAGE, the visitor's.
  [[nodiscard]] virtual absl::Status Scan(PartitionId partition, const BatchVisitor& visit) = 0;

  virtual Clock& clock() const = 0;
  // Where the appends complete (a Cluster's); a caller waiting for one
  // drives it through AwaitOn.
  virtual Executor& executor() const = 0;
  virtual LogSink& log_sink() const = 0;
};

// Topic `topic` of `broker` (which must outlive the result). A commit is
// durable once the partition's append returns, so the topic's config should
// sync every append (Durability::kEveryAppend).
std::unique_ptr<CoordinatorLog> MakeCoordinatorLog(Broker& broker, std::string_view topic);

// Topic `topic` of `cluster` (which must outlive the result), created with
// `replication_factor` replicas (-1: min(3, brokers), Kafka's
// offsets.topic.replication.factor) and appended to with acks=all, each
// append given `timeout_ms`.
std::unique_ptr<CoordinatorLog> MakeCoordinatorLog(Cluster& cluster, std::string_view topic,
                                                   int16_t replication_factor = -1,
                                                   int64_t timeout_ms = 30'000);

}  // namespace evlog
