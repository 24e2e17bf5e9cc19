// evlog/replication/metadata_image.h — the cluster's state as the metadata
// log describes it: brokers, topics and every partition's replicas, ISR,
// leader and epochs.
//
// A MetadataImage is built by replaying metadata records in log order. The
// Controller keeps one and changes it only through Apply after the records
// are in its log; a broker keeps its own by applying the records it reads
// from the controller (Controller::RecordsSince), and compares its images
// before and after to learn which partitions it must now lead or follow:
//
//   evlog::MetadataImage image;               // the broker's copy
//   ...
//   evlog::MetadataImage next = image;
//   for (const evlog::MetadataLogEntry& e : entries) {
//     EVLOG_RETURN_IF_ERROR(next.Apply(e.record));
//   }
//   evlog::BrokerPartitionDelta delta = evlog::ComputeBrokerDelta(image, next, my_id);
//   // stop the replicas in delta.stopped, then start or update delta.leading
//   // and delta.following (ReplicaSet::Update with each PartitionState)
//   image = std::move(next);
//
// Apply refuses a record that contradicts the image (a PartitionChange for
// an unknown partition, a fence of a broker epoch that is not the current
// one, a leader outside the ISR, ...) with INVALID_REQUEST and leaves the
// image as it was: the log is then not the one this image was built from,
// and the caller must not go on.
//
// Invariants of every image (Apply keeps them, CheckInvariants verifies):
//   * a partition's replicas are distinct, non-empty; its ISR is a non-empty
//     subset of them without repeats;
//   * its leader is kNoLeader or a member of its ISR that is registered and
//     unfenced (an unclean election makes the ISR just the new leader);
//   * leader_epoch and partition_epoch are >= 0.
//
// Thread-safety: a value; const methods may run concurrently, Apply needs
// exclusive access.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "evlog/partition/topic_partition.h"
#include "evlog/replication/metadata_records.h"
#include "evlog/replication/partition_state.h"
#include "evlog/types.h"

namespace evlog {

// What a broker's registration says about it.
struct BrokerRegistration {
  BrokerId id{0};
  int64_t epoch = 0;
  uint64_t incarnation_id = 0;
  std::optional<std::string> rack;
  std::string endpoint;
  // A fenced broker is not given leadership or ISR membership; it starts
  // fenced and is unfenced once it has caught up with the metadata log.
  bool fenced = true;

  friend bool operator==(const BrokerRegistration&, const BrokerRegistration&) = default;
};

struct TopicImage {
  std::string name;
  TopicId id;
  std::map<std::string, std::string> configs;
  bool allow_unclean_election = false;
  // Indexed by partition id: partitions are numbered 0..n-1.
  std::vector<PartitionState> partitions;

  friend bool operator==(const TopicImage&, const TopicImage&) = default;
};

class MetadataImage {
 public:
  MetadataImage() = default;

  // Applies one record. Errors: INVALID_REQUEST naming the contradiction;
  // the image is then unchanged. See the header comment for what each
  // record requires:
  //   RegisterBroker: epoch above the broker's current one, which must lead
  //     no partition (the controller moves leadership away first);
  //   Fence / Unfence / UnregisterBroker: the broker's current epoch; fence
  //     an unfenced broker leading nothing, unfence a fenced one, unregister
  //     one leading nothing;
  //   Topic: a new name and id; Partition: the topic's next partition id, a
  //     valid state; PartitionChange: an existing partition, and a valid
  //     state after it; RemoveTopic: an existing topic id.
  [[nodiscard]] absl::Status Apply(const MetadataRecord& record);

  // Registered brokers by id.
  const std::map<BrokerId, BrokerRegistration>& brokers() const { return brokers_; }
  // nullptr when not registered.
  const BrokerRegistration* broker(BrokerId id) const;
  // Registered and unfenced: may lead and be added to an ISR.
  bool IsActive(BrokerId id) const;

  // Topics by name.
  const std::map<std::string, TopicImage, std::less<>>& topics() const { return topics_; }
  // nullptr when there is no such topic.
  const TopicImage* topic(std::string_view name) const;
  const TopicImage* topic(TopicId id) const;
  // nullptr when there is no such partition.
  const PartitionState* partition(const TopicPartition& tp) const;
  size_t partition_count() const;

  // OK, or INTERNAL naming the first invariant (header comment) that does
  // not hold. For tests and assertions; O(partitions).
  [[nodiscard]] absl::Status CheckInvariants() const;

  friend bool operator==(const MetadataImage&, const MetadataImage&) = default;

 private:
  TopicImage* MutableTopic(TopicId id);
  absl::Status ApplyRecord(const RegisterBrokerRecord& r);
  absl::Status ApplyRecord(const UnregisterBrokerRecord& r);
  absl::Status ApplyRecord(const FenceBrokerRecord& r);
  absl::Status ApplyRecord(const UnfenceBrokerRecord& r);
  absl::Status ApplyRecord(const TopicRecord& r);
  absl::Status ApplyRecord(const PartitionRecord& r);
  absl::Status ApplyRecord(const PartitionChangeRecord& r);
  absl::Status ApplyRecord(const RemoveTopicRecord& r);
  // OK when `state` keeps the invariants in this image.
  absl::Status CheckPartition(const PartitionState& state) const;
  bool LeadsAnyPartition(BrokerId id) const;

  std::map<BrokerId, BrokerRegistration> brokers_;
  std::map<std::string, TopicImage, std::less<>> topics_;
  // topic id -> name, for records that name topics by id.
  std::map<TopicId, std::string> names_by_id_;
};

// One partition a broker must (re)configure.
struct PartitionDeltaEntry {
  TopicPartition topic_partition;
  TopicId topic_id;
  PartitionState state;

  friend bool operator==(const PartitionDeltaEntry&, const PartitionDeltaEntry&) = default;
};

// What changed for one broker between two images.
struct BrokerPartitionDelta {
  // Partitions the broker leads in the new image whose state is new or
  // changed (a new leader epoch, ISR, replica list, ...).
  std::vector<PartitionDeltaEntry> leading;
  // Partitions the broker is a replica of, but not the leader, in the new
  // image, whose state is new or changed.
  std::vector<PartitionDeltaEntry> following;
  // Partitions the broker was a replica of in the old image and is not in
  // the new one (its topic was deleted, or it was moved off the broker);
  // entries carry the old state. A topic deleted and created again under
  // the same name between the images appears here with its old id and in
  // leading/following with its new one: handle `stopped` first.
  std::vector<PartitionDeltaEntry> stopped;

  bool empty() const { return leading.empty() && following.empty() && stopped.empty(); }
};

// The delta for `broker` from `previous` to `next`, each list ordered by
// topic partition. Partitions whose state did not change are left out.
[[nodiscard]] BrokerPartitionDelta ComputeBrokerDelta(const MetadataImage& previous,
                                                      const MetadataImage& next, BrokerId broker);

}  // namespace evlog
