#include "evlog/replication/metadata_image.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/status.h"

namespace evlog {

using internal::ToAbsl;

namespace {

absl::Status Contradiction(const MetadataRecord& record, std::string_view why) {
  return MakeError(
      ErrorCode::kInvalidRequest,
      absl::StrCat(MetadataRecordToString(record), " contradicts the image: ", ToAbsl(why)));
}

bool Contains(const std::vector<BrokerId>& ids, BrokerId id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

bool HasDuplicates(const std::vector<BrokerId>& ids) {
  std::set<BrokerId> seen(ids.begin(), ids.end());
  return seen.size() != ids.size();
}

}  // namespace

const BrokerRegistration* MetadataImage::broker(BrokerId id) const {
  auto it = brokers_.find(id);
  return it == brokers_.end() ? nullptr : &it->second;
}

bool MetadataImage::IsActive(BrokerId id) const {
  const BrokerRegistration* b = broker(id);
  return b != nullptr && !b->fenced;
}

const TopicImage* MetadataImage::topic(std::string_view name) const {
  auto it = topics_.find(name);
  return it == topics_.end() ? nullptr : &it->second;
}

const TopicImage* MetadataImage::topic(TopicId id) const {
  auto it = names_by_id_.find(id);
  return it == names_by_id_.end() ? nullptr : topic(it->second);
}

TopicImage* MetadataImage::MutableTopic(TopicId id) {
  auto it = names_by_id_.find(id);
  if (it == names_by_id_.end()) return nullptr;
  auto t = topics_.find(it->second);
  return t == topics_.end() ? nullptr : &t->second;
}

const PartitionState* MetadataImage::partition(const TopicPartition& tp) const {
  const TopicImage* t = topic(tp.topic);
  if (t == nullptr || tp.partition.value() < 0 ||
      static_cast<size_t>(tp.partition.value()) >= t->partitions.size()) {
    return nullptr;
  }
  return &t->partitions[static_cast<size_t>(tp.partition.value())];
}

size_t MetadataImage::partition_count() const {
  size_t n = 0;
  for (const auto& [name, t] : topics_) n += t.partitions.size();
  return n;
}

bool MetadataImage::LeadsAnyPartition(BrokerId id) const {
  for (const auto& [name, t] : topics_) {
    for (const PartitionState& p : t.partitions) {
      if (p.leader == id) return true;
    }
  }
  return false;
}

absl::Status MetadataImage::CheckPartition(const PartitionState& p) const {
  if (p.replicas.empty()) return absl::InternalError("no replicas");
  if (HasDuplicates(p.replicas)) return absl::InternalError("a replica listed twice");
  if (p.isr.empty()) return absl::InternalError("an empty ISR");
  if (HasDuplicates(p.isr)) return absl::InternalError("an ISR member listed twice");
  for (BrokerId id : p.isr) {
    if (!Contains(p.replicas, id)) {
      return absl::InternalError(absl::StrCat("ISR member ", id.value(), " is not a replica"));
    }
  }
  if (p.leader != kNoLeader) {
    if (!Contains(p.isr, p.leader)) {
      return absl::InternalError(absl::StrCat("leader ", p.leader.value(), " is not in the ISR"));
    }
    if (!IsActive(p.leader)) {
      return absl::InternalError(
          absl::StrCat("leader ", p.leader.value(), " is not a registered, unfenced broker"));
    }
  }
  if (p.leader_epoch.value() < 0 || p.partition_epoch < 0) {
    return absl::InternalError("a negative epoch");
  }
  return absl::OkStatus();
}

absl::Status MetadataImage::CheckInvariants() const {
  for (const auto& [name, t] : topics_) {
    auto id = names_by_id_.find(t.id);
    if (id == names_by_id_.end() || id->second != name) {
      return absl::InternalError(absl::StrCat("topic ", name, " is not indexed by its id"));
    }
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      absl::Status s = CheckPartition(t.partitions[i]);
      if (!s.ok()) return Annotate(s, absl::StrCat(name, "-", i));
    }
  }
  if (names_by_id_.size() != topics_.size()) {
    return absl::InternalError("the topic id index has stale entries");
  }
  return absl::OkStatus();
}

absl::Status MetadataImage::Apply(const MetadataRecord& record) {
  return std::visit([this](const auto& r) { return ApplyRecord(r); }, record);
}

absl::Status MetadataImage::ApplyRecord(const RegisterBrokerRecord& r) {
  if (r.broker_id.value() < 0) return Contradiction(r, "a negative broker id");
  if (const BrokerRegistration* old = broker(r.broker_id)) {
    if (r.broker_epoch <= old->epoch) {
      return Contradiction(r, absl::StrCat("the broker's epoch is already ", old->epoch));
    }
    if (LeadsAnyPartition(r.broker_id)) {
      return Contradiction(r, "the broker still leads partitions");
    }
  }
  BrokerRegistration& b = brokers_[r.broker_id];
  b = BrokerRegistration{r.broker_id,    r.broker_epoch, r.incarnation_id, r.rack, r.endpoint,
                         /*fenced=*/true};
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const UnregisterBrokerRecord& r) {
  const BrokerRegistration* b = broker(r.broker_id);
  if (b == nullptr) return Contradiction(r, "no such broker");
  if (b->epoch != r.broker_epoch) {
    return Contradiction(r, absl::StrCat("the broker's epoch is ", b->epoch));
  }
  if (LeadsAnyPartition(r.broker_id)) return Contradiction(r, "the broker still leads partitions");
  brokers_.erase(r.broker_id);
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const FenceBrokerRecord& r) {
  auto it = brokers_.find(r.broker_id);
  if (it == brokers_.end()) return Contradiction(r, "no such broker");
  if (it->second.epoch != r.broker_epoch) {
    return Contradiction(r, absl::StrCat("the broker's epoch is ", it->second.epoch));
  }
  if (it->second.fenced) return Contradiction(r, "the broker is already fenced");
  if (LeadsAnyPartition(r.broker_id)) return Contradiction(r, "the broker still leads partitions");
  it->second.fenced = true;
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const UnfenceBrokerRecord& r) {
  auto it = brokers_.find(r.broker_id);
  if (it == brokers_.end()) return Contradiction(r, "no such broker");
  if (it->second.epoch != r.broker_epoch) {
    return Contradiction(r, absl::StrCat("the broker's epoch is ", it->second.epoch));
  }
  if (!it->second.fenced) return Contradiction(r, "the broker is not fenced");
  it->second.fenced = false;
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const TopicRecord& r) {
  if (r.topic_id == kNoTopicId) return Contradiction(r, "topic id 0 is reserved");
  if (topics_.contains(r.name)) return Contradiction(r, "a topic of that name exists");
  if (names_by_id_.contains(r.topic_id)) return Contradiction(r, "a topic of that id exists");
  TopicImage t;
  t.name = r.name;
  t.id = r.topic_id;
  t.configs = r.configs;
  t.allow_unclean_election = r.allow_unclean_election;
  topics_.emplace(r.name, std::move(t));
  names_by_id_.emplace(r.topic_id, r.name);
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const PartitionRecord& r) {
  TopicImage* t = MutableTopic(r.topic_id);
  if (t == nullptr) return Contradiction(r, "no such topic");
  if (r.partition.value() < 0 || static_cast<size_t>(r.partition.value()) != t->partitions.size()) {
    return Contradiction(r, absl::StrCat("the topic's next partition is ", t->partitions.size()));
  }
  PartitionState p{r.replicas, r.isr, r.leader, r.leader_epoch, r.partition_epoch};
  absl::Status s = CheckPartition(p);
  if (!s.ok()) return Contradiction(r, internal::FromAbsl(s.message()));
  t->partitions.push_back(std::move(p));
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const PartitionChangeRecord& r) {
  TopicImage* t = MutableTopic(r.topic_id);
  if (t == nullptr) return Contradiction(r, "no such topic");
  if (r.partition.value() < 0 || static_cast<size_t>(r.partition.value()) >= t->partitions.size()) {
    return Contradiction(r, "no such partition");
  }
  PartitionState& current = t->partitions[static_cast<size_t>(r.partition.value())];
  PartitionState next = current;
  if (r.replicas) next.replicas = *r.replicas;
  if (r.isr) next.isr = *r.isr;
  if (r.leader) {
    next.leader = *r.leader;
    next.leader_epoch += 1;
  }
  next.partition_epoch += 1;
  if (next.leader_epoch < current.leader_epoch || next.partition_epoch < current.partition_epoch) {
    return Contradiction(r, "an epoch would wrap around");
  }
  absl::Status s = CheckPartition(next);
  if (!s.ok()) return Contradiction(r, internal::FromAbsl(s.message()));
  current = std::move(next);
  return absl::OkStatus();
}

absl::Status MetadataImage::ApplyRecord(const RemoveTopicRecord& r) {
  auto it = names_by_id_.find(r.topic_id);
  if (it == names_by_id_.end()) return Contradiction(r, "no such topic");
  topics_.erase(it->second);
  names_by_id_.erase(it);
  return absl::OkStatus();
}

BrokerPartitionDelta ComputeBrokerDelta(const MetadataImage& previous, const MetadataImage& next,
                                        BrokerId broker) {
  BrokerPartitionDelta delta;
  // Stopped: hosted before, and either the topic (by id) is gone or the
  // broker is no longer among the partition's replicas.
  for (const auto& [name, t] : previous.topics()) {
    const TopicImage* now = next.topic(t.id);
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& old = t.partitions[i];
      if (!Contains(old.replicas, broker)) continue;
      const bool still_hosted = now != nullptr && i < now->partitions.size() &&
                                Contains(now->partitions[i].replicas, broker);
      if (!still_hosted) {
        delta.stopped.push_back({TopicPartition(name, static_cast<int32_t>(i)), t.id, old});
      }
    }
  }
  for (const auto& [name, t] : next.topics()) {
    const TopicImage* before = previous.topic(t.id);
    for (size_t i = 0; i < t.partitions.size(); ++i) {
      const PartitionState& state = t.partitions[i];
      if (!Contains(state.replicas, broker)) continue;
      if (before != nullptr && i < before->partitions.size() && before->partitions[i] == state) {
        continue;
      }
      PartitionDeltaEntry entry{TopicPartition(name, static_cast<int32_t>(i)), t.id, state};
      (state.leader == broker ? delta.leading : delta.following).push_back(std::move(entry));
    }
  }
  return delta;
}

}  // namespace evlog
