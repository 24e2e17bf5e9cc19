#include "evlog/replication/controller.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/partition/topic_config.h"
#include "evlog/replication/internal/replica_placement.h"
#include "evlog/status.h"

namespace evlog {

using internal::ToAbsl;

namespace {

constexpr int64_t kNsPerMs = 1'000'000;
// Records read per call while replaying the log at Open: bounds the memory
// replay needs whatever the log's length.
constexpr size_t kReplayChunkRecords = 4096;
constexpr std::string_view kUncleanConfig = "unclean.leader.election.enable";
constexpr std::string_view kMinIsrConfig = "min.insync.replicas";

bool Contains(const std::vector<BrokerId>& ids, BrokerId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// '.' and '_' collide in Kafka's metric names, so topics differing only
// there are refused (as Broker::CreateTopic does).
std::string CollisionName(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

absl::Status UnknownPartition(const TopicPartition& tp) {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("unknown partition ", tp.ToString()));
}

absl::Status UnknownTopic(std::string_view name) {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("unknown topic \"", ToAbsl(name), "\""));
}

// Kafka's PartitionChangeBuilder.Election.
enum class Election {
  kPreferred,  // the first replica if it is valid, else keep a valid leader
  kOnline,     // keep a valid leader, else the first valid replica
  kUnclean,    // as kOnline, else the first acceptable replica outside the ISR
};

// The ISR and leader part of Kafka's PartitionChangeBuilder: the change
// that moves `current` to ISR `target_isr` (kept as is when empty: without
// KIP-966 an ISR never empties) with a leader elected by `election` among
// the brokers `acceptable` accepts. nullopt when nothing changes.
//
// Example, replicas [1 2 3], ISR [1 2 3], leader 1; broker 1 is fenced:
//   target_isr [2 3] -> leader 2, isr [2 3] (leader epoch + 1)
// then broker 2 is fenced:
//   target_isr [3]   -> leader 3, isr [3]
// then broker 1 is back (unfenced, but not in the ISR) and 3 is fenced:
//   target_isr []    -> no clean leader. kOnline: leader -1, isr [3] (3
//                       keeps its place: it has every committed record).
//                       kUnclean: leader 1, isr [1], and whatever 3 had
//                       beyond 1's log end is lost.
std::optional<PartitionChangeRecord> BuildChange(TopicId topic, PartitionId partition,
                                                 const PartitionState& current,
                                                 const std::vector<BrokerId>& target_isr,
                                                 Election election,
                                                 const std::function<bool(BrokerId)>& acceptable) {
  EVLOG_CHECK(!current.replicas.empty());
  auto valid = [&](BrokerId r) {
    return r != kNoLeader && Contains(target_isr, r) && acceptable(r);
  };
  BrokerId leader = kNoLeader;
  bool unclean = false;
  if (election == Election::kPreferred) {
    if (valid(current.replicas[0])) {
      leader = current.replicas[0];
    } else if (valid(current.leader)) {
      leader = current.leader;
    } else {
      for (size_t i = 1; i < current.replicas.size(); ++i) {
        if (valid(current.replicas[i])) {
          leader = current.replicas[i];
          break;
        }
      }
    }
  } else {
    if (valid(current.leader)) {
      leader = current.leader;
    } else {
      for (BrokerId r : current.replicas) {
        if (valid(r)) {
          leader = r;
          break;
        }
      }
    }
    if (leader == kNoLeader && election == Election::kUnclean) {
      for (BrokerId r : current.replicas) {
        if (acceptable(r)) {
          leader = r;
          unclean = true;
          break;
        }
      }
    }
  }
  PartitionChangeRecord record;
  record.topic_id = topic;
  record.partition = partition;
  if (leader != current.leader) {
    record.leader = leader;
    // The new leader's log is the partition's log now: only it is in sync.
    if (unclean) record.isr = std::vector<BrokerId>{leader};
  }
  if (!record.isr && !target_isr.empty() && target_isr != current.isr) record.isr = target_isr;
  if (!record.isr && !record.leader) return std::nullopt;
  return record;
}

Election OnlineElection(const TopicImage& topic) {
  return topic.allow_unclean_election ? Election::kUnclean : Election::kOnline;
}

}  // namespace

absl::Status ControllerOptions::Validate() const {
  auto bad = [](std::string_view why) { return MakeError(ErrorCode::kInvalidConfig, why); };
  // Kafka's settings are Java ints; the bound also keeps ms * 10^6 in range.
  constexpr int64_t kMaxMs = INT32_MAX;
  if (session_timeout_ms <= 0 || session_timeout_ms > kMaxMs) {
    return bad("session_timeout_ms must be within [1, 2^31 - 1]");
  }
  if (leader_imbalance_per_broker_percentage < 0 || leader_imbalance_per_broker_percentage > 100) {
    return bad("leader_imbalance_per_broker_percentage must be within [0, 100]");
  }
  if (leader_imbalance_check_interval_ms <= 0 || leader_imbalance_check_interval_ms > kMaxMs) {
    return bad("leader_imbalance_check_interval_ms must be within [1, 2^31 - 1]");
  }
  if (default_replication_factor < 1) return bad("default_replication_factor must be >= 1");
  if (default_num_partitions < 1) return bad("default_num_partitions must be >= 1");
  if (default_min_insync_replicas < 1) return bad("default_min_insync_replicas must be >= 1");
  return absl::OkStatus();
}

Controller::Controller(Clock& clock, std::unique_ptr<MetadataLog> log, ControllerOptions options)
    : clock_(clock), log_(std::move(log)), options_(std::move(options)) {}

Controller::~Controller() = default;

absl::StatusOr<std::unique_ptr<Controller>> Controller::Open(Clock& clock,
                                                             std::unique_ptr<MetadataLog> log,
                                                             ControllerOptions options) {
  EVLOG_RETURN_IF_ERROR(options.Validate());
  if (log == nullptr) return MakeError(ErrorCode::kInvalidConfig, "no metadata log");
  std::unique_ptr<Controller> controller(new Controller(clock, std::move(log), std::move(options)));
  EVLOG_RETURN_IF_ERROR(controller->Replay());
  return controller;
}

absl::Status Controller::Replay() {
  std::lock_guard lock(mu_);
  Offset next(0);
  for (;;) {
    EVLOG_ASSIGN_OR_RETURN(std::vector<MetadataLogEntry> entries,
                           log_->Read(next, kReplayChunkRecords));
    if (entries.empty()) break;
    for (const MetadataLogEntry& e : entries) {
      if (e.offset != next) {
        return MakeError(ErrorCode::kCorruptMessage,
                         absl::StrCat("metadata log skips from offset ", next.value(), " to ",
                                      e.offset.value()));
      }
      absl::Status s = image_.Apply(e.record);
      if (!s.ok()) {
        return MakeError(ErrorCode::kCorruptMessage,
                         absl::StrCat("metadata log offset ", e.offset.value(), ": ", s.message()));
      }
      ++next;
    }
  }
  if (next != log_->end_offset()) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("metadata log read ended at ", next.value(), ", its end is ",
                                  log_->end_offset().value()));
  }
  end_offset_ = next;
  // Every broker gets a fresh session, as Kafka's controller gives them on
  // becoming active: sessions are not in the log.
  const int64_t now = NowNs();
  for (const auto& [id, b] : image_.brokers()) last_contact_ns_[id] = now;
  next_rebalance_ns_ = now + options_.leader_imbalance_check_interval_ms * kNsPerMs;
  return absl::OkStatus();
}

bool Controller::HasLiveSessionLocked(BrokerId id) const {
  auto it = last_contact_ns_.find(id);
  return it != last_contact_ns_.end() &&
         NowNs() - it->second <= options_.session_timeout_ms * kNsPerMs;
}

absl::StatusOr<Offset> Controller::CommitLocked(std::vector<MetadataRecord> records) {
  EVLOG_CHECK(!records.empty());
  const Offset first = end_offset_;
  // One append, unless the decision is longer than kMaxRecordsPerDecision
  // (only internal ones can be: fencing a broker that is in more ISRs than
  // that). It is then written in order as several appends, which is safe
  // because every prefix of such a decision is a consistent state: its
  // partition changes only move leadership and ISR places away from a
  // broker that is still unfenced (the FenceBrokerRecord comes last), or
  // follow the UnfenceBrokerRecord that makes the new leader eligible.
  for (size_t begin = 0; begin < records.size(); begin += kMaxRecordsPerDecision) {
    const size_t end = std::min(records.size(), begin + kMaxRecordsPerDecision);
    EVLOG_ASSIGN_OR_RETURN(Offset at, log_->Append(std::span<const MetadataRecord>(records).subspan(
                                          begin, end - begin)));
    EVLOG_CHECK_EQ(at, end_offset_);
    for (size_t i = begin; i < end; ++i) {
      absl::Status s = image_.Apply(records[i]);
      if (!s.ok()) {
        // The decision was made from this image: refusing it is a bug here,
        // and the log now holds a record that replay will refuse too.
        internal::CheckFailed(__FILE__, __LINE__, "image_.Apply(record).ok()", s.ToString());
      }
      if (listener_) {
        undelivered_.push_back(
            {end_offset_ + static_cast<int64_t>(i - begin), std::move(records[i])});
      }
    }
    end_offset_ = at + static_cast<int64_t>(end - begin);
  }
  EVLOG_DCHECK(image_.CheckInvariants().ok());
  return first;
}

void Controller::Deliver() {
  std::unique_lock lock(mu_);
  if (delivering_) return;  // the thread delivering now takes ours too
  delivering_ = true;
  while (!undelivered_.empty()) {
    std::vector<MetadataLogEntry> batch;
    batch.swap(undelivered_);
    Listener listener = listener_;
    lock.unlock();
    if (listener) {
      for (const MetadataLogEntry& e : batch) listener(e);
    }
    lock.lock();
  }
  delivering_ = false;
}

void Controller::SetListener(Listener listener) {
  std::lock_guard lock(mu_);
  listener_ = std::move(listener);
}

// --- Brokers -----------------------------------------------------------------

void Controller::RemoveBrokerFromPartitionsLocked(BrokerId broker,
                                                  std::vector<MetadataRecord>& out) const {
  auto acceptable = [&](BrokerId r) { return r != broker && image_.IsActive(r); };
  for (const auto& [name, topic] : image_.topics()) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionState& p = topic.partitions[i];
      if (!Contains(p.isr, broker)) continue;
      std::vector<BrokerId> target;
      for (BrokerId r : p.isr) {
        if (r != broker) target.push_back(r);
      }
      if (auto change = BuildChange(topic.id, PartitionId(static_cast<int32_t>(i)), p, target,
                                    OnlineElection(topic), acceptable)) {
        out.push_back(*std::move(change));
      }
    }
  }
}

void Controller::ElectOfflinePartitionsLocked(BrokerId broker,
                                              std::vector<MetadataRecord>& out) const {
  auto acceptable = [&](BrokerId r) { return r == broker || image_.IsActive(r); };
  for (const auto& [name, topic] : image_.topics()) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionState& p = topic.partitions[i];
      if (p.leader != kNoLeader) continue;
      if (auto change = BuildChange(topic.id, PartitionId(static_cast<int32_t>(i)), p, p.isr,
                                    OnlineElection(topic), acceptable)) {
        out.push_back(*std::move(change));
      }
    }
  }
}

absl::Status Controller::FenceLocked(BrokerId broker) {
  const BrokerRegistration* b = image_.broker(broker);
  EVLOG_CHECK(b != nullptr);
  EVLOG_CHECK(!b->fenced);
  std::vector<MetadataRecord> records;
  RemoveBrokerFromPartitionsLocked(broker, records);
  records.push_back(FenceBrokerRecord{broker, b->epoch});
  return CommitLocked(std::move(records)).status();
}

absl::StatusOr<int64_t> Controller::RegisterBroker(BrokerId id, std::optional<std::string> rack,
                                                   std::string endpoint, uint64_t incarnation_id) {
  absl::StatusOr<int64_t> result;
  {
    std::lock_guard lock(mu_);
    result = RegisterBrokerLocked(id, std::move(rack), std::move(endpoint), incarnation_id);
  }
  Deliver();
  return result;
}

absl::StatusOr<int64_t> Controller::RegisterBrokerLocked(BrokerId id,
                                                         std::optional<std::string> rack,
                                                         std::string endpoint,
                                                         uint64_t incarnation_id) {
  if (id.value() < 0) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat("broker id ", id.value(), " is negative"));
  }
  if ((rack && rack->size() > metadata_format::kMaxStringBytes) ||
      endpoint.size() > metadata_format::kMaxStringBytes) {
    return MakeError(ErrorCode::kInvalidRequest, "rack or endpoint longer than 32767 bytes");
  }
  const BrokerRegistration* existing = image_.broker(id);
  const bool was_unfenced = existing != nullptr && !existing->fenced;
  if (was_unfenced && HasLiveSessionLocked(id) && existing->incarnation_id != incarnation_id) {
    return MakeError(ErrorCode::kDuplicateBrokerRegistration,
                     absl::StrCat("broker ", id.value(), " is registered by incarnation ",
                                  existing->incarnation_id, ", whose session is alive"));
  }
  std::vector<MetadataRecord> records;
  // A registration fences the broker: its leaderships and ISR places go
  // first, or the image would hold a fenced leader.
  if (was_unfenced) RemoveBrokerFromPartitionsLocked(id, records);
  const int64_t epoch = (end_offset_ + static_cast<int64_t>(records.size())).value();
  records.push_back(
      RegisterBrokerRecord{id, epoch, incarnation_id, std::move(rack), std::move(endpoint)});
  EVLOG_RETURN_IF_ERROR(CommitLocked(std::move(records)).status());
  last_contact_ns_[id] = NowNs();
  return epoch;
}

absl::StatusOr<HeartbeatReply> Controller::Heartbeat(const HeartbeatRequest& request) {
  absl::StatusOr<HeartbeatReply> result;
  {
    std::lock_guard lock(mu_);
    result = HeartbeatLocked(request);
  }
  Deliver();
  return result;
}

absl::StatusOr<HeartbeatReply> Controller::Heartbeat(BrokerId id, int64_t broker_epoch,
                                                     bool want_fence, bool caught_up) {
  HeartbeatRequest request;
  request.broker_id = id;
  request.broker_epoch = broker_epoch;
  request.want_fence = want_fence;
  request.caught_up = caught_up;
  return Heartbeat(request);
}

absl::StatusOr<HeartbeatReply> Controller::HeartbeatLocked(const HeartbeatRequest& request) {
  const BrokerRegistration* b = image_.broker(request.broker_id);
  if (b == nullptr) {
    return MakeError(ErrorCode::kBrokerIdNotRegistered,
                     absl::StrCat("broker ", request.broker_id.value(), " is not registered"));
  }
  if (request.broker_epoch != b->epoch) {
    return MakeError(ErrorCode::kStaleBrokerEpoch,
                     absl::StrCat("broker ", request.broker_id.value(), " has epoch ", b->epoch,
                                  ", not ", request.broker_epoch));
  }
  last_contact_ns_[request.broker_id] = NowNs();
  HeartbeatReply reply;
  reply.should_shut_down = request.want_shut_down;
  if (b->fenced) {
    if (!request.want_fence && !request.want_shut_down && request.caught_up) {
      std::vector<MetadataRecord> records;
      records.push_back(UnfenceBrokerRecord{request.broker_id, b->epoch});
      ElectOfflinePartitionsLocked(request.broker_id, records);
      EVLOG_RETURN_IF_ERROR(CommitLocked(std::move(records)).status());
      reply.fenced = false;
    }
  } else if (request.want_fence || request.want_shut_down) {
    EVLOG_RETURN_IF_ERROR(FenceLocked(request.broker_id));
  } else {
    reply.fenced = false;
  }
  return reply;
}

absl::Status Controller::UnregisterBroker(BrokerId id) {
  absl::Status result;
  {
    std::lock_guard lock(mu_);
    const BrokerRegistration* b = image_.broker(id);
    if (b == nullptr) {
      result = MakeError(ErrorCode::kBrokerIdNotRegistered,
                         absl::StrCat("broker ", id.value(), " is not registered"));
    } else {
      std::vector<MetadataRecord> records;
      RemoveBrokerFromPartitionsLocked(id, records);
      records.push_back(UnregisterBrokerRecord{id, b->epoch});
      result = CommitLocked(std::move(records)).status();
      if (result.ok()) last_contact_ns_.erase(id);
    }
  }
  Deliver();
  return result;
}

absl::Status Controller::Tick() {
  absl::Status result;
  {
    std::lock_guard lock(mu_);
    const int64_t now = NowNs();
    const int64_t timeout_ns = options_.session_timeout_ms * kNsPerMs;
    std::vector<std::pair<int64_t, BrokerId>> stale;
    for (const auto& [id, b] : image_.brokers()) {
      if (b.fenced) continue;
      auto it = last_contact_ns_.find(id);
      const int64_t last = it == last_contact_ns_.end() ? INT64_MIN : it->second;
      if (last == INT64_MIN || now - last > timeout_ns) stale.emplace_back(last, id);
    }
    // The longest silent first, one decision each, as Kafka fences one
    // stale broker at a time: each fencing sees the leaders the one before
    // it elected.
    std::sort(stale.begin(), stale.end());
    for (const auto& [last, id] : stale) {
      result = FenceLocked(id);
      if (!result.ok()) break;
    }
    if (result.ok() && options_.auto_leader_rebalance_enable && now >= next_rebalance_ns_) {
      next_rebalance_ns_ = now + options_.leader_imbalance_check_interval_ms * kNsPerMs;
      result = RebalanceLocked();
    }
  }
  Deliver();
  return result;
}

absl::Status Controller::RebalanceLocked() {
  struct Preferred {
    size_t partitions = 0;
    // Partitions preferring this broker but led by another: (topic, index).
    std::vector<std::pair<const TopicImage*, size_t>> imbalanced;
  };
  std::map<BrokerId, Preferred> by_broker;
  for (const auto& [name, topic] : image_.topics()) {
    for (size_t i = 0; i < topic.partitions.size(); ++i) {
      const PartitionState& p = topic.partitions[i];
      Preferred& pref = by_broker[p.replicas[0]];
      ++pref.partitions;
      if (p.leader != p.replicas[0]) pref.imbalanced.emplace_back(&topic, i);
    }
  }
  auto acceptable = [&](BrokerId r) { return image_.IsActive(r); };
  std::vector<MetadataRecord> records;
  for (const auto& [broker, pref] : by_broker) {
    // More than the percentage of this broker's preferred partitions are
    // led elsewhere (integer form of imbalanced / partitions > pct / 100).
    if (pref.imbalanced.size() * 100 <=
        pref.partitions * static_cast<size_t>(options_.leader_imbalance_per_broker_percentage)) {
      continue;
    }
    for (const auto& [topic, i] : pref.imbalanced) {
      if (records.size() >= kMaxRecordsPerDecision) break;
      const PartitionState& p = topic->partitions[i];
      auto change = BuildChange(topic->id, PartitionId(static_cast<int32_t>(i)), p, p.isr,
                                Election::kPreferred, acceptable);
      // Only a move to the preferred replica rebalances anything.
      if (change && change->leader == p.replicas[0]) records.push_back(*std::move(change));
    }
  }
  if (records.empty()) return absl::OkStatus();
  return CommitLocked(std::move(records)).status();
}

// --- Topics ------------------------------------------------------------------

absl::StatusOr<std::vector<std::vector<BrokerId>>> Controller::PlaceLocked(
    std::string_view topic, int32_t first, int32_t count, int32_t replication_factor) const {
  std::vector<internal::PlacementBroker> usable;
  for (const auto& [id, b] : image_.brokers()) {
    if (!b.fenced) usable.push_back({id, b.rack});
  }
  const uint32_t hash = internal::PlacementHash(topic);
  absl::StatusOr<std::vector<std::vector<BrokerId>>> placed =
      internal::PlaceReplicas(usable, first, count, replication_factor, hash, hash >> 16);
  if (!placed.ok() && HasErrorCode(placed.status(), ErrorCode::kInvalidReplicationFactor)) {
    return MakeError(ErrorCode::kInvalidReplicationFactor,
                     absl::StrCat("replication factor ", replication_factor, " cannot be reached: ",
                                  usable.size(), " broker(s) are registered and unfenced"));
  }
  return placed;
}

absl::StatusOr<TopicId> Controller::CreateTopic(std::string_view name, int32_t partitions,
                                                int16_t replication_factor,
                                                std::map<std::string, std::string> configs,
                                                std::optional<bool> allow_unclean) {
  absl::StatusOr<TopicId> result;
  {
    std::lock_guard lock(mu_);
    result =
        CreateTopicLocked(name, partitions, replication_factor, std::move(configs), allow_unclean);
  }
  Deliver();
  return result;
}

absl::StatusOr<TopicId> Controller::CreateTopicLocked(std::string_view name, int32_t partitions,
                                                      int16_t replication_factor,
                                                      std::map<std::string, std::string> configs,
                                                      std::optional<bool> allow_unclean) {
  EVLOG_RETURN_IF_ERROR(ValidateTopicName(name));
  if (image_.topic(name) != nullptr) {
    return MakeError(ErrorCode::kTopicAlreadyExists,
                     absl::StrCat("topic \"", ToAbsl(name), "\" already exists"));
  }
  const std::string collision = CollisionName(name);
  for (const auto& [existing, t] : image_.topics()) {
    if (CollisionName(existing) == collision) {
      return MakeError(ErrorCode::kInvalidTopicException,
                       absl::StrCat("topic \"", ToAbsl(name), "\" collides with \"", existing,
                                    "\" ('.' and '_' are treated alike)"));
    }
  }
  std::optional<bool> unclean_config;
  TopicConfig probe;
  for (auto it = configs.begin(); it != configs.end();) {
    const auto& [key, value] = *it;
    if (key.size() > metadata_format::kMaxStringBytes ||
        value.size() > metadata_format::kMaxStringBytes) {
      return MakeError(ErrorCode::kInvalidConfig, "config name or value longer than 32767 bytes");
    }
    if (key == kUncleanConfig) {
      if (value != "true" && value != "false") {
        return MakeError(ErrorCode::kInvalidConfig,
                         absl::StrCat(key, "=", value, ": expected true or false"));
      }
      unclean_config = value == "true";
      // Kept once, as the record's allow_unclean_election.
      it = configs.erase(it);
      continue;
    }
    EVLOG_RETURN_IF_ERROR(probe.Set(key, value));
    ++it;
  }
  if (partitions == -1) partitions = options_.default_num_partitions;
  if (replication_factor == -1) replication_factor = options_.default_replication_factor;
  if (partitions < 1) {
    return MakeError(ErrorCode::kInvalidPartitions,
                     absl::StrCat("a topic needs at least 1 partition, asked for ", partitions));
  }
  if (replication_factor < 1) {
    return MakeError(ErrorCode::kInvalidReplicationFactor,
                     absl::StrCat("replication factor ", replication_factor, " is below 1"));
  }
  if (static_cast<size_t>(partitions) >= kMaxRecordsPerDecision) {
    return MakeError(ErrorCode::kPolicyViolation,
                     absl::StrCat(partitions, " partitions in one request; the limit is ",
                                  kMaxRecordsPerDecision - 1));
  }
  EVLOG_ASSIGN_OR_RETURN(std::vector<std::vector<BrokerId>> placement,
                         PlaceLocked(name, 0, partitions, replication_factor));

  // The offset of the TopicRecord, plus one so that no id is 0: unique for
  // the life of the log.
  const TopicId id(static_cast<uint64_t>(end_offset_.value()) + 1);
  std::vector<MetadataRecord> records;
  records.push_back(TopicRecord{std::string(name), id, std::move(configs),
                                allow_unclean.value_or(unclean_config.value_or(
                                    options_.default_unclean_leader_election_enable))});
  for (int32_t p = 0; p < partitions; ++p) {
    std::vector<BrokerId>& replicas = placement[static_cast<size_t>(p)];
    PartitionRecord record;
    record.topic_id = id;
    record.partition = PartitionId(p);
    record.isr = replicas;
    record.leader = replicas.front();
    record.replicas = std::move(replicas);
    records.push_back(std::move(record));
  }
  EVLOG_RETURN_IF_ERROR(CommitLocked(std::move(records)).status());
  return id;
}

absl::Status Controller::CreatePartitions(std::string_view name, int32_t total_partitions) {
  absl::Status result;
  {
    std::lock_guard lock(mu_);
    result = CreatePartitionsLocked(name, total_partitions);
  }
  Deliver();
  return result;
}

absl::Status Controller::CreatePartitionsLocked(std::string_view name, int32_t total_partitions) {
  const TopicImage* topic = image_.topic(name);
  if (topic == nullptr) return UnknownTopic(name);
  const auto current = static_cast<int32_t>(topic->partitions.size());
  if (total_partitions <= current) {
    return MakeError(ErrorCode::kInvalidPartitions,
                     absl::StrCat("topic \"", ToAbsl(name), "\" has ", current, " partition(s); ",
                                  total_partitions, " would not be an increase"));
  }
  const int32_t additional = total_partitions - current;
  if (static_cast<size_t>(additional) > kMaxRecordsPerDecision) {
    return MakeError(ErrorCode::kPolicyViolation,
                     absl::StrCat(additional, " new partitions in one request; the limit is ",
                                  kMaxRecordsPerDecision));
  }
  const auto replication_factor = static_cast<int32_t>(topic->partitions.front().replicas.size());
  EVLOG_ASSIGN_OR_RETURN(std::vector<std::vector<BrokerId>> placement,
                         PlaceLocked(name, current, additional, replication_factor));
  std::vector<MetadataRecord> records;
  for (int32_t i = 0; i < additional; ++i) {
    std::vector<BrokerId>& replicas = placement[static_cast<size_t>(i)];
    PartitionRecord record;
    record.topic_id = topic->id;
    record.partition = PartitionId(current + i);
    record.isr = replicas;
    record.leader = replicas.front();
    record.replicas = std::move(replicas);
    records.push_back(std::move(record));
  }
  return CommitLocked(std::move(records)).status();
}

absl::Status Controller::DeleteTopic(std::string_view name) {
  absl::Status result;
  {
    std::lock_guard lock(mu_);
    const TopicImage* topic = image_.topic(name);
    if (topic == nullptr) {
      result = UnknownTopic(name);
    } else {
      std::vector<MetadataRecord> records;
      records.push_back(RemoveTopicRecord{topic->id});
      result = CommitLocked(std::move(records)).status();
    }
  }
  Deliver();
  return result;
}

// --- Partitions --------------------------------------------------------------

absl::StatusOr<PartitionState> Controller::AlterPartition(const IsrChange& change) {
  absl::StatusOr<PartitionState> result;
  {
    std::lock_guard lock(mu_);
    result = AlterPartitionLocked(change);
  }
  Deliver();
  return result;
}

absl::StatusOr<PartitionState> Controller::AlterPartitionLocked(const IsrChange& change) {
  const TopicPartition& tp = change.topic_partition;
  const int32_t sender = change.leader.value();
  if (change.leader_broker_epoch != -1) {
    const BrokerRegistration* b = image_.broker(change.leader);
    if (b == nullptr || b->epoch != change.leader_broker_epoch) {
      return MakeError(
          ErrorCode::kStaleBrokerEpoch,
          absl::StrCat("broker ", sender, " does not have epoch ", change.leader_broker_epoch));
    }
  }
  const TopicImage* topic = image_.topic(tp.topic);
  const PartitionState* state = image_.partition(tp);
  if (topic == nullptr || state == nullptr) return UnknownPartition(tp);
  if (change.leader_epoch > state->leader_epoch ||
      change.partition_epoch > state->partition_epoch) {
    return MakeError(ErrorCode::kNotController,
                     absl::StrCat(tp.ToString(), ": the request's leader epoch ",
                                  change.leader_epoch.value(), " / partition epoch ",
                                  change.partition_epoch, " is ahead of this controller's ",
                                  state->leader_epoch.value(), " / ", state->partition_epoch));
  }
  if (change.leader_epoch < state->leader_epoch) {
    return MakeError(ErrorCode::kFencedLeaderEpoch,
                     absl::StrCat(tp.ToString(), ": leader epoch ", change.leader_epoch.value(),
                                  " is older than ", state->leader_epoch.value()));
  }
  if (change.leader != state->leader) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat(tp.ToString(), ": broker ", sender,
                                  " is not the leader; the leader is ", state->leader.value()));
  }
  if (change.partition_epoch < state->partition_epoch) {
    return MakeError(ErrorCode::kInvalidUpdateVersion,
                     absl::StrCat(tp.ToString(), ": partition epoch ", change.partition_epoch,
                                  " is older than ", state->partition_epoch));
  }
  std::set<BrokerId> seen;
  for (BrokerId id : change.new_isr) {
    if (!Contains(state->replicas, id) || !seen.insert(id).second) {
      return MakeError(ErrorCode::kInvalidRequest,
                       absl::StrCat(tp.ToString(), ": broker ", id.value(),
                                    " is not a replica or is listed twice in the new ISR"));
    }
  }
  if (!Contains(change.new_isr, state->leader)) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat(tp.ToString(), ": the new ISR leaves out the leader ", sender));
  }
  for (BrokerId id : change.new_isr) {
    const BrokerRegistration* b = image_.broker(id);
    if (b == nullptr || b->fenced) {
      return MakeError(ErrorCode::kIneligibleReplica,
                       absl::StrCat(tp.ToString(), ": broker ", id.value(), " is ",
                                    b == nullptr ? "not registered" : "fenced"));
    }
  }
  auto acceptable = [&](BrokerId r) { return image_.IsActive(r); };
  auto record = BuildChange(topic->id, tp.partition, *state, change.new_isr, OnlineElection(*topic),
                            acceptable);
  if (record) {
    std::vector<MetadataRecord> records;
    records.push_back(*std::move(record));
    EVLOG_RETURN_IF_ERROR(CommitLocked(std::move(records)).status());
  }
  return *image_.partition(tp);
}

absl::StatusOr<std::map<TopicPartition, absl::Status>> Controller::ElectLeaders(
    std::span<const TopicPartition> partitions, ElectionType type) {
  absl::StatusOr<std::map<TopicPartition, absl::Status>> result;
  {
    std::lock_guard lock(mu_);
    result = ElectLeadersLocked(partitions, type);
  }
  Deliver();
  return result;
}

absl::StatusOr<std::map<TopicPartition, absl::Status>> Controller::ElectLeadersLocked(
    std::span<const TopicPartition> partitions, ElectionType type) {
  const bool all = partitions.empty();
  std::set<TopicPartition> wanted(partitions.begin(), partitions.end());
  if (all) {
    for (const auto& [name, topic] : image_.topics()) {
      for (size_t i = 0; i < topic.partitions.size(); ++i) {
        wanted.emplace(name, static_cast<int32_t>(i));
      }
    }
  }
  auto acceptable = [&](BrokerId r) { return image_.IsActive(r); };
  std::map<TopicPartition, absl::Status> outcome;
  std::vector<MetadataRecord> records;
  for (const TopicPartition& tp : wanted) {
    const TopicImage* topic = image_.topic(tp.topic);
    const PartitionState* state = image_.partition(tp);
    if (topic == nullptr || state == nullptr) {
      outcome[tp] = UnknownPartition(tp);
      continue;
    }
    const bool preferred = type == ElectionType::kPreferred;
    if (preferred ? state->leader == state->replicas[0] : state->leader != kNoLeader) {
      if (!all) {
        outcome[tp] = MakeError(ErrorCode::kElectionNotNeeded,
                                absl::StrCat(tp.ToString(), " already has ",
                                             preferred ? "its preferred leader" : "a leader"));
      }
      continue;
    }
    auto change = BuildChange(topic->id, tp.partition, *state, state->isr,
                              preferred ? Election::kPreferred : Election::kUnclean, acceptable);
    if (!change) {
      outcome[tp] =
          preferred
              ? MakeError(ErrorCode::kPreferredLeaderNotAvailable,
                          absl::StrCat(tp.ToString(), ": preferred replica ",
                                       state->replicas[0].value(), " is fenced or not in the ISR"))
              : MakeError(ErrorCode::kEligibleLeadersNotAvailable,
                          absl::StrCat(tp.ToString(), ": no unfenced replica"));
      continue;
    }
    records.push_back(*std::move(change));
    outcome[tp] = absl::OkStatus();
    // Each election is independent of the others: a long list goes to the
    // log as several decisions rather than one unbounded batch.
    if (records.size() == kMaxRecordsPerDecision) {
      EVLOG_RETURN_IF_ERROR(CommitLocked(std::exchange(records, {})).status());
    }
  }
  if (!records.empty()) EVLOG_RETURN_IF_ERROR(CommitLocked(std::move(records)).status());
  return outcome;
}

// --- Following ---------------------------------------------------------------

absl::StatusOr<std::vector<MetadataLogEntry>> Controller::RecordsSince(Offset from,
                                                                       size_t max_records) const {
  if (max_records == 0) return std::vector<MetadataLogEntry>{};
  // The log is thread-safe: reading it does not hold up decisions.
  return log_->Read(from, max_records);
}

MetadataImage Controller::image() const {
  std::lock_guard lock(mu_);
  return image_;
}

Offset Controller::last_offset() const {
  std::lock_guard lock(mu_);
  return end_offset_ - 1;
}

absl::StatusOr<int32_t> Controller::MinInsyncReplicas(std::string_view name) const {
  std::lock_guard lock(mu_);
  const TopicImage* topic = image_.topic(name);
  if (topic == nullptr) return UnknownTopic(name);
  auto it = topic->configs.find(std::string(kMinIsrConfig));
  int32_t value = options_.default_min_insync_replicas;
  if (it != topic->configs.end() && !absl::SimpleAtoi(it->second, &value)) {
    return MakeError(ErrorCode::kInvalidConfig,
                     absl::StrCat(ToAbsl(kMinIsrConfig), "=", it->second, " is not a number"));
  }
  return value;
}

}  // namespace evlog
