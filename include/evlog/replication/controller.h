// evlog/replication/controller.h — the in-process controller: cluster
// membership, topic placement, partition leadership and ISRs, decided with
// Kafka KRaft's rules and written to a metadata log.
//
//   evlog::ManualClock clock;
//   EVLOG_ASSIGN_OR_RETURN(auto controller, evlog::Controller::Open(
//       clock, std::make_unique<evlog::MemoryMetadataLog>()));
//   EVLOG_ASSIGN_OR_RETURN(int64_t epoch, controller->RegisterBroker(
//       evlog::BrokerId(1), "rack-a", "host1:9092", /*incarnation_id=*/0x5eed));
//   EVLOG_RETURN_IF_ERROR(controller->Heartbeat(evlog::BrokerId(1), epoch).status());
//   ... (brokers 2 and 3 likewise) ...
//   EVLOG_ASSIGN_OR_RETURN(evlog::TopicId id, controller->CreateTopic("orders", 6, 3));
//   // brokers follow RecordsSince() / a listener and apply the records to
//   // their own MetadataImage; a leader reports ISR changes:
//   EVLOG_ASSIGN_OR_RETURN(evlog::PartitionState state, controller->AlterPartition(change));
//   // the owner drives time:
//   clock.AdvanceMs(100);
//   EVLOG_RETURN_IF_ERROR(controller->Tick());
//
// The Controller is a deterministic state machine. It starts no thread and
// reads no clock of its own accord: Tick() is where time passes (fencing
// brokers whose session expired, the periodic leader rebalance), and the
// same calls with the same clock readings give the same log.
//
// Every decision is a list of metadata records (metadata_records.h)
// appended to the MetadataLog in one atomic Append, and applied to the
// controller's MetadataImage only after the append succeeded: an operation
// that returns an error changed nothing. (One exception: fencing,
// unfencing, registering or unregistering a broker in a way that changes
// more than kMaxRecordsPerDecision partitions is appended in several parts,
// in order; each part leaves a consistent state, and an error part way
// keeps the parts before it.) Open() replays the log, so a
// controller restarted on a SegmentedMetadataLog's directory comes back
// with every acknowledged decision. Broker sessions (when each broker was
// last heard from) are not in the log: after Open every registered broker
// has a fresh session, as when a Kafka controller becomes active.
//
// The rules, from Kafka's ClusterControlManager, ReplicationControlManager
// and PartitionChangeBuilder:
//
// * Brokers. RegisterBroker gives a new epoch on every registration (the
//   offset of its RegisterBrokerRecord) and the broker starts fenced. While
//   a broker's registration is unfenced and its session alive, another
//   registration of the same id with a different incarnation id is refused
//   (DUPLICATE_BROKER_REGISTRATION); the same incarnation registering again
//   (a retry) gets a new epoch and is fenced again. A heartbeat from a
//   fenced broker that says it caught up unfences it; want_fence fences it;
//   want_shut_down fences it (moving its leaderships) and answers
//   should_shut_down — Kafka's controlled shutdown in one step.
// * Fencing. A broker silent for session_timeout_ms is fenced by Tick():
//   removed from every ISR it is in, except where it is the last member
//   (Kafka keeps the last ISR member without KIP-966's ELR), and every
//   partition it led gets a new leader: the current leader if still valid,
//   else the first replica, in replica order, that is in the ISR and
//   unfenced; if none, the partition goes offline (leader kNoLeader) —
//   unless its topic allows unclean election, in which case the first
//   unfenced replica becomes leader with an ISR of itself alone, LOSING
//   whatever only the old ISR had (committed records included). When a
//   broker is unfenced, offline partitions elect the same way.
// * Epochs. A change of leader (to kNoLeader too) bumps the partition's
//   leader epoch; every change bumps its partition epoch. An ISR change
//   alone does not bump the leader epoch (Kafka since metadata 3.6).
// * Placement. Round-robin with a per-partition shift, rack-aware when every
//   usable broker has a rack (internal/replica_placement.h), over the
//   unfenced brokers. A new partition's ISR is all its replicas and its
//   leader the first of them.
// * Leader rebalance. With auto_leader_rebalance_enable, every
//   leader_imbalance_check_interval_ms Tick() looks at each broker's
//   preferred partitions (those whose first replica it is); when more than
//   leader_imbalance_per_broker_percentage of them are led by another
//   broker, each of them whose preferred replica is unfenced and in the ISR
//   gets it back as leader (the ZooKeeper controller's per-broker rule;
//   KRaft rebalances every imbalanced partition, which is this rule with
//   a percentage of 0).
//
// Thread-safety: every method is thread-safe. One mutex serialises them
// (decisions are made one at a time, in log order); the metadata log is
// appended to under it. The listener runs outside it (see SetListener).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/clock.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/replication/metadata_image.h"
#include "evlog/replication/metadata_log.h"
#include "evlog/replication/metadata_records.h"
#include "evlog/replication/partition_state.h"
#include "evlog/types.h"

namespace evlog {

// Kafka's names and defaults.
struct ControllerOptions {
  // broker.session.timeout.ms: a broker not heard from for longer is fenced.
  int64_t session_timeout_ms = 9000;
  // auto.leader.rebalance.enable.
  bool auto_leader_rebalance_enable = true;
  // leader.imbalance.per.broker.percentage (0-100).
  int32_t leader_imbalance_per_broker_percentage = 10;
  // leader.imbalance.check.interval.seconds (300), in ms.
  int64_t leader_imbalance_check_interval_ms = 300'000;
  // default.replication.factor and num.partitions: what CreateTopic uses
  // for -1.
  int16_t default_replication_factor = 1;
  int32_t default_num_partitions = 1;
  // min.insync.replicas for topics whose configs do not set it. The
  // controller does not use it (no KIP-966 ELR); MinInsyncReplicas() reports
  // it for the brokers' acks=all checks.
  int32_t default_min_insync_replicas = 1;
  // unclean.leader.election.enable for topics created without a choice.
  bool default_unclean_leader_election_enable = false;

  // OK, or INVALID_CONFIG naming the first bad setting.
  [[nodiscard]] absl::Status Validate() const;
};

// A broker's periodic heartbeat (Kafka BrokerHeartbeat).
struct HeartbeatRequest {
  BrokerId broker_id{0};
  int64_t broker_epoch = -1;
  // Ask to be fenced (a broker that lost its log directories, say).
  bool want_fence = false;
  // Ask to shut down: the broker is fenced, its leaderships move.
  bool want_shut_down = false;
  // The broker has applied the metadata log up to its registration record
  // (Kafka: currentMetadataOffset >= the registration's offset); a fenced
  // broker is unfenced only then.
  bool caught_up = true;
};

struct HeartbeatReply {
  bool fenced = true;
  bool should_shut_down = false;

  friend bool operator==(const HeartbeatReply&, const HeartbeatReply&) = default;
};

enum class ElectionType {
  // Make the first replica leader, when it is unfenced and in the ISR.
  kPreferred,
  // Give an offline partition a leader even from outside its ISR.
  kUnclean,
};

class Controller {
 public:
  // Most records one user operation may produce (Kafka's
  // MAX_RECORDS_PER_USER_OP): bounds the size of a decision's batch.
  static constexpr size_t kMaxRecordsPerDecision = 10000;

  // Called with each record after it is applied; see SetListener.
  using Listener = std::function<void(const MetadataLogEntry& entry)>;

  // Opens a controller on `log`, replaying it into the image. `clock` must
  // outlive the controller. Errors: INVALID_CONFIG (bad options); the log's
  // read errors; CORRUPT_MESSAGE when a record contradicts the ones before
  // it (the log is not a metadata log this controller wrote).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Controller>> Open(
      Clock& clock, std::unique_ptr<MetadataLog> log, ControllerOptions options = {});

  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;
  ~Controller();

  // --- Brokers -------------------------------------------------------------

  // Registers broker `id` and returns its new epoch; the broker starts
  // fenced and must heartbeat. `rack` (optional) enables rack-aware
  // placement; `endpoint` is stored for others to find the broker.
  // Errors: INVALID_REQUEST (negative id, rack or endpoint longer than
  // 32767 bytes); DUPLICATE_BROKER_REGISTRATION (see the header comment);
  // the log's errors.
  [[nodiscard]] absl::StatusOr<int64_t> RegisterBroker(BrokerId id, std::optional<std::string> rack,
                                                       std::string endpoint,
                                                       uint64_t incarnation_id);

  // Processes a heartbeat: renews the broker's session and fences or
  // unfences it as the request and its state say. Errors:
  // BROKER_ID_NOT_REGISTERED for an unknown id (Kafka answers
  // STALE_BROKER_EPOCH there); STALE_BROKER_EPOCH when broker_epoch is not
  // the current registration's; the log's errors.
  [[nodiscard]] absl::StatusOr<HeartbeatReply> Heartbeat(const HeartbeatRequest& request);
  [[nodiscard]] absl::StatusOr<HeartbeatReply> Heartbeat(BrokerId id, int64_t broker_epoch,
                                                         bool want_fence = false,
                                                         bool caught_up = true);

  // Removes broker `id` from the cluster: it leaves every ISR (but the last
  // member's place) and its leaderships move, as when fenced. Errors:
  // BROKER_ID_NOT_REGISTERED; the log's errors.
  [[nodiscard]] absl::Status UnregisterBroker(BrokerId id);

  // Lets time pass: fences every unfenced broker whose session expired (one
  // decision each, the longest-silent first), then runs the leader
  // rebalance when it is due. Errors: the log's (what was decided before
  // the error stays; the rest is retried by the next Tick).
  [[nodiscard]] absl::Status Tick();

  // --- Topics --------------------------------------------------------------

  // Creates topic `name` with `partitions` partitions of
  // `replication_factor` replicas (-1 for either: the option's default)
  // placed over the unfenced brokers, and returns its id. `configs` are
  // topic config overrides by Kafka name (validated as TopicConfig::Set
  // does); "unclean.leader.election.enable" ("true"/"false") is taken from
  // them when `allow_unclean` is not given, and the option's default when
  // neither is. Errors, in Kafka's order: INVALID_TOPIC_EXCEPTION (bad
  // name); TOPIC_ALREADY_EXISTS; INVALID_TOPIC_EXCEPTION (a name differing
  // from an existing topic's only in '.' vs '_'); INVALID_CONFIG;
  // INVALID_PARTITIONS (< 1);
  // INVALID_REPLICATION_FACTOR (< 1, or more than the unfenced brokers);
  // POLICY_VIOLATION (more than kMaxRecordsPerDecision - 1 partitions); the
  // log's errors.
  [[nodiscard]] absl::StatusOr<TopicId> CreateTopic(
      std::string_view name, int32_t partitions, int16_t replication_factor,
      std::map<std::string, std::string> configs = {},
      std::optional<bool> allow_unclean = std::nullopt);

  // Grows topic `name` to `total_partitions` partitions (never shrinks),
  // placing the new ones as CreateTopic does with the topic's replication
  // factor. Errors: UNKNOWN_TOPIC_OR_PARTITION; INVALID_PARTITIONS (not
  // more than now); INVALID_REPLICATION_FACTOR (too few unfenced brokers);
  // POLICY_VIOLATION; the log's errors.
  [[nodiscard]] absl::Status CreatePartitions(std::string_view name, int32_t total_partitions);

  // Deletes topic `name` and its partitions. Errors:
  // UNKNOWN_TOPIC_OR_PARTITION; the log's errors.
  [[nodiscard]] absl::Status DeleteTopic(std::string_view name);

  // --- Partitions ----------------------------------------------------------

  // Applies a leader's ISR change and returns the partition's new state
  // (the current one when the ISR is unchanged). Checks, in Kafka's order
  // (ReplicationControlManager.alterPartition):
  //   STALE_BROKER_EPOCH      leader_broker_epoch given and not the
  //                           sender's current epoch (or no such broker);
  //   UNKNOWN_TOPIC_OR_PARTITION;
  //   NOT_CONTROLLER          leader or partition epoch ahead of this
  //                           controller's (only a controller that lost
  //                           decisions could see that);
  //   FENCED_LEADER_EPOCH     leader epoch behind the current one;
  //   INVALID_REQUEST         the sender is not the current leader;
  //   INVALID_UPDATE_VERSION  partition epoch behind the current one;
  //   INVALID_REQUEST         new ISR with a non-replica or a repeat, or
  //                           without the leader;
  //   INELIGIBLE_REPLICA      new ISR with an unregistered or fenced broker.
  // Plus the log's errors.
  [[nodiscard]] absl::StatusOr<PartitionState> AlterPartition(const IsrChange& change);

  // Elects leaders for `partitions` (all partitions when empty) and returns
  // each one's outcome (OK: a new leader was elected). Per partition, as
  // Kafka's ElectLeaders: UNKNOWN_TOPIC_OR_PARTITION; ELECTION_NOT_NEEDED
  // (preferred: the first replica already leads; unclean: there is a
  // leader); PREFERRED_LEADER_NOT_AVAILABLE (preferred: the first replica
  // is fenced or out of the ISR and the current leader stays);
  // ELIGIBLE_LEADERS_NOT_AVAILABLE (unclean: no unfenced replica). An
  // unclean election here ignores the topic's setting (an operator's
  // choice) and loses data as described in the header comment. With an
  // empty `partitions`, ELECTION_NOT_NEEDED outcomes are left out. All
  // elections are one decision. Errors (the whole call): the log's.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, absl::Status>> ElectLeaders(
      std::span<const TopicPartition> partitions, ElectionType type);

  // --- Following the metadata log -------------------------------------------

  // Up to `max_records` records with offsets >= `from` (a follower passes
  // the offset after the last one it applied). Errors: the log's.
  [[nodiscard]] absl::StatusOr<std::vector<MetadataLogEntry>> RecordsSince(
      Offset from, size_t max_records = 1000) const;

  // A copy of the current image (O(partitions)).
  [[nodiscard]] MetadataImage image() const;

  // The offset of the last record applied; Offset(-1) when the log is empty.
  [[nodiscard]] Offset last_offset() const;

  // Sets (or with an empty function clears) the function called with each
  // record appended from now on, after it is applied, in log order, never
  // under the controller's mutex: it may call the controller, even start
  // a decision (whose records are delivered after the current ones). The
  // records of a call are delivered before it returns, unless another
  // thread is delivering at that moment, which then delivers them.
  void SetListener(Listener listener);

  // min.insync.replicas of `topic`: its config, else the option's default.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<int32_t> MinInsyncReplicas(std::string_view topic) const;

  const ControllerOptions& options() const { return options_; }

 private:
  Controller(Clock& clock, std::unique_ptr<MetadataLog> log, ControllerOptions options);

  absl::Status Replay();
  int64_t NowNs() const { return clock_.MonotonicNs(); }
  bool HasLiveSessionLocked(BrokerId id) const;

  // Appends `records` as one decision (in parts when longer than
  // kMaxRecordsPerDecision) and applies them; returns the first's offset.
  // REQUIRES: mu_ held.
  absl::StatusOr<Offset> CommitLocked(std::vector<MetadataRecord> records);
  // Hands queued records to the listener; call without mu_ held.
  void Deliver();

  // Records that remove `broker` from ISRs and leadership (never emptying
  // an ISR), electing new leaders; `broker` is not an acceptable leader.
  void RemoveBrokerFromPartitionsLocked(BrokerId broker, std::vector<MetadataRecord>& out) const;
  // Records that elect leaders for offline partitions now that `broker`
  // (whose UnfenceBrokerRecord precedes them) is an acceptable leader.
  void ElectOfflinePartitionsLocked(BrokerId broker, std::vector<MetadataRecord>& out) const;
  absl::Status FenceLocked(BrokerId broker);
  absl::Status RebalanceLocked();
  absl::StatusOr<HeartbeatReply> HeartbeatLocked(const HeartbeatRequest& request);
  absl::StatusOr<int64_t> RegisterBrokerLocked(BrokerId id, std::optional<std::string> rack,
                                               std::string endpoint, uint64_t incarnation_id);
  absl::StatusOr<TopicId> CreateTopicLocked(std::string_view name, int32_t partitions,
                                            int16_t replication_factor,
                                            std::map<std::string, std::string> configs,
                                            std::optional<bool> allow_unclean);
  absl::Status CreatePartitionsLocked(std::string_view name, int32_t total_partitions);
  absl::StatusOr<PartitionState> AlterPartitionLocked(const IsrChange& change);
  absl::StatusOr<std::map<TopicPartition, absl::Status>> ElectLeadersLocked(
      std::span<const TopicPartition> partitions, ElectionType type);
  // Replica lists for partitions [first, first + count) of `topic`.
  absl::StatusOr<std::vector<std::vector<BrokerId>>> PlaceLocked(std::string_view topic,
                                                                 int32_t first, int32_t count,
                                                                 int32_t replication_factor) const;

  Clock& clock_;
  const std::unique_ptr<MetadataLog> log_;
  const ControllerOptions options_;

  mutable std::mutex mu_;
  MetadataImage image_;
  // The offset the next record gets.
  Offset end_offset_{0};
  // Soft state (not in the log): when each registered broker was last
  // heard from (monotonic ns).
  std::map<BrokerId, int64_t> last_contact_ns_;
  int64_t next_rebalance_ns_ = 0;
  Listener listener_;
  // Applied records not yet handed to the listener, and whether a thread
  // is handing them out.
  std::vector<MetadataLogEntry> undelivered_;
  bool delivering_ = false;
};

}  // namespace evlog
