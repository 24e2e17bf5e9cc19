#include "evlog/group/offset_store.h"

#include <algorithm>
#include <limits>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "evlog/storage/internal/scan_batches.h"

namespace evlog {

using internal::ToAbsl;
namespace fmt = consumer_offsets_format;

namespace {

constexpr uint32_t kReplacementCharacter = 0xFFFD;

TopicConfig OffsetsTopicConfig(const OffsetStoreOptions& options) {
  TopicConfig config;
  config.cleanup_policy = CleanupPolicy::kCompact;
  // An acknowledged commit must survive a crash: Kafka gets that from
  // replication (acks=all), a single embedded node only from the disk.
  config.durability = Durability::kEveryAppend;
  config.segment_bytes = options.segment_bytes;
  // Kafka's offsets.topic.compression.codec defaults to none.
  config.compression = TopicCompression::kNone;
  return config;
}

absl::Status CheckGroupId(std::string_view group) {
  if (group.empty()) return MakeError(ErrorCode::kInvalidGroupId, "the group id is empty");
  if (group.size() > fmt::kMaxStringBytes) {
    return MakeError(
        ErrorCode::kInvalidGroupId,
        absl::StrCat("group id of ", group.size(), " bytes (at most ", fmt::kMaxStringBytes, ")"));
  }
  return absl::OkStatus();
}

}  // namespace

int32_t JavaStringHashCode(std::string_view utf8) {
  // Unsigned arithmetic wraps as Java's int does.
  uint32_t h = 0;
  auto unit = [&h](uint32_t code_unit) { h = h * 31 + code_unit; };
  const size_t n = utf8.size();
  size_t i = 0;
  while (i < n) {
    const auto lead = static_cast<uint8_t>(utf8[i]);
    if (lead < 0x80) {
      unit(lead);
      ++i;
      continue;
    }
    // The bounds of the byte after the lead exclude overlong forms and
    // code points above U+10FFFF (Unicode table 3-7). Encoded surrogates
    // (ED A0..BF xx) are decoded and then replaced whole, as Java does.
    int need;
    uint32_t cp;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
      cp = lead & 0x1Fu;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      need = 2;
      cp = lead & 0x0Fu;
      if (lead == 0xE0) lo = 0xA0;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      need = 3;
      cp = lead & 0x07u;
      if (lead == 0xF0) lo = 0x90;
      if (lead == 0xF4) hi = 0x8F;
    } else {
      unit(kReplacementCharacter);
      ++i;
      continue;
    }
    size_t j = i + 1;
    int got = 0;
    while (got < need && j < n) {
      const auto c = static_cast<uint8_t>(utf8[j]);
      if (c < lo || c > hi) break;
      cp = (cp << 6) | (c & 0x3Fu);
      ++j;
      ++got;
      lo = 0x80;
      hi = 0xBF;
    }
    if (got < need) {
      // A truncated sequence: one replacement for its maximal prefix.
      unit(kReplacementCharacter);
    } else if (cp >= 0x10000) {
      cp -= 0x10000;
      unit(0xD800 + (cp >> 10));
      unit(0xDC00 + (cp & 0x3FF));
    } else if (cp >= 0xD800 && cp <= 0xDFFF) {
      unit(kReplacementCharacter);
    } else {
      unit(cp);
    }
    i = j;
  }
  return static_cast<int32_t>(h);
}

PartitionId OffsetsPartitionFor(std::string_view group, int32_t partition_count) {
  EVLOG_CHECK_GE(partition_count, 1);
  const int32_t hash = JavaStringHashCode(group);
  // Kafka's Utils.abs: Math.abs(INT_MIN) is INT_MIN, so it maps that to 0.
  const int32_t abs = hash == std::numeric_limits<int32_t>::min() ? 0 : (hash < 0 ? -hash : hash);
  return PartitionId(abs % partition_count);
}

OffsetStore::OffsetStore(Broker& broker, OffsetStoreOptions options)
    : broker_(broker), options_(std::move(options)) {}

OffsetStore::~OffsetStore() = default;

absl::StatusOr<std::unique_ptr<OffsetStore>> OffsetStore::Open(Broker& broker,
                                                               OffsetStoreOptions options) {
  if (options.partition_count < 1) {
    return MakeError(ErrorCode::kInvalidConfig, "partition_count must be at least 1");
  }
  if (options.metadata_max_bytes > fmt::kMaxStringBytes) {
    return MakeError(ErrorCode::kInvalidConfig,
                     absl::StrCat("metadata_max_bytes must be at most ", fmt::kMaxStringBytes));
  }
  EVLOG_RETURN_IF_ERROR(
      OffsetsTopicConfig(options).ApplyTo(broker.options().topic_defaults).status());
  std::unique_ptr<OffsetStore> store(new OffsetStore(broker, std::move(options)));
  EVLOG_RETURN_IF_ERROR(store->Load());
  return store;
}

void OffsetStore::Log(LogLevel level, std::string_view message) const {
  LogSink& sink = broker_.log_sink();
  if (sink.Enabled(level)) sink.Log(level, kTopic, message);
}

absl::Status OffsetStore::Load() {
  absl::StatusOr<std::shared_ptr<Topic>> topic = broker_.GetTopic(kTopic);
  if (!topic.ok() && !HasErrorCode(topic.status(), ErrorCode::kUnknownTopicOrPartition)) {
    return topic.status();
  }
  partition_count_ = topic.ok() ? (*topic)->partition_count() : options_.partition_count;
  if (topic.ok() && partition_count_ != options_.partition_count) {
    Log(LogLevel::kWarning, absl::StrCat(ToAbsl(kTopic), " exists with ", partition_count_,
                                         " partitions; partition_count ", options_.partition_count,
                                         " applies only when creating"));
  }
  partition_locks_ = std::make_unique<std::shared_mutex[]>(static_cast<size_t>(partition_count_));
  if (!topic.ok()) return absl::OkStatus();
  std::lock_guard create_lock(create_mu_);
  EVLOG_RETURN_IF_ERROR(AdoptTopic());
  for (const auto& partition : partitions_) {
    EVLOG_RETURN_IF_ERROR(Replay(*partition));
  }
  Log(LogLevel::kInfo,
      absl::StrCat("loaded ", replay_stats_.offset_commits, " offset commits and ",
                   replay_stats_.tombstones, " tombstones of ", groups_.size(), " groups"));
  return absl::OkStatus();
}

absl::Status OffsetStore::AdoptTopic() {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Topic> topic, broker_.GetTopic(kTopic));
  std::vector<std::shared_ptr<Partition>> partitions = topic->partitions();
  // Partitions added behind the store's back (CreatePartitions) are not
  // used: groups stay where PartitionFor put them.
  if (partitions.size() < static_cast<size_t>(partition_count_)) {
    return MakeError(ErrorCode::kCoordinatorNotAvailable,
                     absl::StrCat(ToAbsl(kTopic), " has ", partitions.size(),
                                  " partitions, the store uses ", partition_count_));
  }
  partitions.resize(static_cast<size_t>(partition_count_));
  partitions_ = std::move(partitions);
  have_partitions_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<const std::vector<std::shared_ptr<Partition>>*> OffsetStore::Partitions(
    bool create) {
  if (have_partitions_.load(std::memory_order_acquire)) return &partitions_;
  std::lock_guard create_lock(create_mu_);
  if (have_partitions_.load(std::memory_order_relaxed)) return &partitions_;
  if (!create) return nullptr;
  NewTopic topic(partition_count_);
  topic.config = OffsetsTopicConfig(options_);
  absl::Status created = broker_.CreateTopic(kTopic, topic);
  // Someone else may have created it since Open (another store on the
  // same broker); then its partition count must be ours.
  if (!created.ok() && !HasErrorCode(created, ErrorCode::kTopicAlreadyExists)) return created;
  EVLOG_RETURN_IF_ERROR(AdoptTopic());
  if (created.ok()) {
    Log(LogLevel::kInfo,
        absl::StrCat("created ", ToAbsl(kTopic), " with ", partition_count_, " partitions"));
  }
  return &partitions_;
}

absl::Status OffsetStore::Replay(Partition& partition) {
  std::vector<std::byte> decompressed;
  bool warned = false;
  std::lock_guard lock(mu_);
  auto replay = [&](const RecordBatchView& batch) -> absl::Status {
    ++replay_stats_.batches;
    if (batch.is_control()) {
      ++replay_stats_.control_batches;
      EVLOG_ASSIGN_OR_RETURN(RecordIterator records, batch.Records({}, &decompressed));
      for (const RecordView& record : records) {
        absl::StatusOr<ControlRecordType> type = ParseControlRecordType(record);
        if (batch.is_transactional() && type.ok() &&
            (*type == ControlRecordType::kCommit || *type == ControlRecordType::kAbort)) {
          ResolvePendingLocked(batch.producer_id(), partition.id(),
                               *type == ControlRecordType::kCommit);
        }
      }
      return records.status();
    }
    const bool transactional = batch.is_transactional();
    EVLOG_ASSIGN_OR_RETURN(RecordIterator records, batch.Records({}, &decompressed));
    for (const RecordView& record : records) {
      if (!record.key) {
        return MakeError(ErrorCode::kCorruptMessage,
                         absl::StrCat(partition.topic(), "-", partition.id().value(), " offset ",
                                      record.offset.value(), ": a record without a key"));
      }
      EVLOG_ASSIGN_OR_RETURN(const int16_t version, PeekConsumerOffsetsKeyVersion(*record.key));
      if (version == fmt::kGroupMetadataKeyVersion) {
        ++replay_stats_.group_metadata;
        continue;
      }
      if (version != fmt::kOffsetCommitKeyVersion0 && version != fmt::kOffsetCommitKeyVersion) {
        // Kafka's loader skips record types it does not know ("a left
        // over from an aborted upgrade") rather than refusing to load.
        ++replay_stats_.other_records;
        if (!warned && (version < 0 || version > fmt::kLastKnownGroupRecordKeyVersion)) {
          warned = true;
          Log(LogLevel::kWarning, absl::StrCat("skipping records of unknown type ", version, " in ",
                                               partition.topic(), "-", partition.id().value()));
        }
        continue;
      }
      EVLOG_ASSIGN_OR_RETURN(OffsetCommitKey key, DecodeOffsetCommitKey(*record.key));
      std::vector<Update> update(1);
      update[0].topic_partition = TopicPartition(std::move(key.topic), key.partition);
      if (record.value) {
        EVLOG_ASSIGN_OR_RETURN(update[0].value, DecodeOffsetCommitValue(*record.value));
        ++(transactional ? replay_stats_.transactional_offset_commits
                         : replay_stats_.offset_commits);
      } else {
        ++replay_stats_.tombstones;
      }
      if (transactional) {
        AddPendingLocked(batch.producer_id(), key.group, update, record.offset);
      } else {
        ApplyLocked(key.group, update, record.offset);
      }
    }
    return records.status();
  };
  return internal::ScanBatches(partition, partition.log_start_offset(), partition.high_watermark(),
                               replay);
}

void OffsetStore::ApplyValueLocked(GroupOffsets& offsets, const TopicPartition& tp,
                                   const Entry& entry) {
  auto [it, inserted] = offsets.try_emplace(tp, entry);
  // A concurrent commit of the same key with a later record may have been
  // applied first, or a transaction's offsets may be committed after a
  // plain commit written later: the log's order decides.
  if (!inserted && it->second.record_offset < entry.record_offset) it->second = entry;
}

void OffsetStore::ApplyLocked(const std::string& group, const std::vector<Update>& updates,
                              Offset base_offset) {
  auto it = groups_.find(group);
  Offset record_offset = base_offset;
  for (const Update& update : updates) {
    if (update.value) {
      if (it == groups_.end()) it = groups_.emplace(group, GroupOffsets()).first;
      ApplyValueLocked(it->second, update.topic_partition, Entry{*update.value, record_offset});
    } else if (it != groups_.end()) {
      // Tombstones are written under the partition's exclusive lock, so no
      // older record of the key can still be on its way.
      it->second.erase(update.topic_partition);
    }
    ++record_offset;
  }
  if (it != groups_.end() && it->second.empty()) groups_.erase(it);
}

void OffsetStore::AddPendingLocked(ProducerId producer, const std::string& group,
                                   const std::vector<Update>& updates, Offset base_offset) {
  GroupOffsets& offsets = pending_[producer][group];
  Offset record_offset = base_offset;
  for (const Update& update : updates) {
    // Transactions write values only (a tombstone in one would be Kafka's
    // own business, which it never does).
    if (update.value) {
      ApplyValueLocked(offsets, update.topic_partition, Entry{*update.value, record_offset});
    }
    ++record_offset;
  }
}

void OffsetStore::ResolvePendingLocked(ProducerId producer, PartitionId partition, bool commit) {
  auto it = pending_.find(producer);
  if (it == pending_.end()) return;
  for (auto group = it->second.begin(); group != it->second.end();) {
    if (PartitionFor(group->first) != partition) {
      ++group;
      continue;
    }
    if (commit) {
      GroupOffsets& committed = groups_[group->first];
      for (const auto& [tp, entry] : group->second) ApplyValueLocked(committed, tp, entry);
    }
    group = it->second.erase(group);
  }
  if (it->second.empty()) pending_.erase(it);
}

absl::StatusOr<Offset> OffsetStore::AppendBatch(Partition& partition, std::string_view group,
                                                const std::vector<Update>& updates, int64_t now_ms,
                                                const TxnProducer* txn) {
  RecordBatchOptions batch_options;
  if (txn != nullptr) {
    // As Kafka's coordinator writes them: the producer's id and epoch, no
    // sequence.
    batch_options.producer_id = txn->id;
    batch_options.producer_epoch = txn->epoch;
    batch_options.is_transactional = true;
  }
  RecordBatchBuilder builder(batch_options);
  OffsetCommitKey key;
  key.group = std::string(group);
  for (const Update& update : updates) {
    key.topic = update.topic_partition.topic;
    key.partition = update.topic_partition.partition;
    EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> key_bytes, EncodeOffsetCommitKey(key));
    std::optional<std::vector<std::byte>> value_bytes;
    if (update.value) {
      EVLOG_ASSIGN_OR_RETURN(value_bytes, EncodeOffsetCommitValue(*update.value));
    }
    std::optional<ByteView> value_view;
    if (value_bytes) value_view = ByteView(*value_bytes);
    EVLOG_RETURN_IF_ERROR(builder.Append(now_ms, ByteView(key_bytes), value_view));
  }
  EVLOG_ASSIGN_OR_RETURN(MutableByteView batch, builder.Finish());
  AppendOptions append;
  append.trusted = true;
  if (txn != nullptr) append.origin = AppendOrigin::kCoordinator;
  absl::StatusOr<AppendResult> appended = partition.Append(batch, append);
  if (!appended.ok()) {
    const ErrorCode code = GetErrorCode(appended.status());
    if (code == ErrorCode::kMessageTooLarge || code == ErrorCode::kRecordListTooLarge) {
      return MakeError(
          ErrorCode::kInvalidCommitOffsetSize,
          absl::StrCat(updates.size(), " offsets of group \"", ToAbsl(group), "\" make a batch of ",
                       batch.size(), " bytes, over the max.message.bytes of ", ToAbsl(kTopic)));
    }
    return appended.status();
  }
  EVLOG_CHECK_EQ(appended->last_offset - appended->base_offset,
                 static_cast<int64_t>(updates.size()) - 1);
  return appended->base_offset;
}

absl::StatusOr<std::vector<OffsetStore::Update>> OffsetStore::PrepareCommit(
    std::string_view group, const std::map<TopicPartition, OffsetAndMetadata>& offsets,
    int64_t now_ms) const {
  EVLOG_RETURN_IF_ERROR(CheckGroupId(group));
  for (const auto& [tp, committed] : offsets) {
    if (absl::Status s = ValidateTopicName(tp.topic); !s.ok()) {
      return Annotate(s, absl::StrCat("committing offsets of group \"", ToAbsl(group), "\""));
    }
    auto invalid = [&](std::string_view why) {
      return MakeError(ErrorCode::kInvalidRequest, absl::StrCat(tp.ToString(), ": ", ToAbsl(why)));
    };
    if (tp.partition.value() < 0) return invalid("negative partition");
    if (committed.offset.value() < 0) {
      return invalid(absl::StrCat("negative offset ", committed.offset.value()));
    }
    if (committed.leader_epoch < kNoLeaderEpoch) {
      return invalid(absl::StrCat("leader epoch ", committed.leader_epoch.value()));
    }
    if (committed.metadata.size() > options_.metadata_max_bytes) {
      return MakeError(ErrorCode::kOffsetMetadataTooLarge,
                       absl::StrCat(tp.ToString(), ": metadata of ", committed.metadata.size(),
                                    " bytes (at most ", options_.metadata_max_bytes, ")"));
    }
  }
  std::vector<Update> updates;
  updates.reserve(offsets.size());
  for (const auto& [tp, committed] : offsets) {
    CommittedOffset value;
    value.offset = committed.offset;
    value.leader_epoch = committed.leader_epoch;
    value.metadata = committed.metadata;
    value.commit_timestamp_ms = now_ms;
    updates.push_back(Update{tp, std::move(value)});
  }
  return updates;
}

absl::Status OffsetStore::CommitOffsets(std::string_view group,
                                        const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                                        int64_t now_ms) {
  return Commit(group, offsets, now_ms, /*txn=*/nullptr);
}

absl::Status OffsetStore::TxnCommitOffsets(
    std::string_view group, ProducerId producer_id, ProducerEpoch epoch,
    const std::map<TopicPartition, OffsetAndMetadata>& offsets, int64_t now_ms) {
  const TxnProducer txn{producer_id, epoch};
  return Commit(group, offsets, now_ms, &txn);
}

absl::Status OffsetStore::Commit(std::string_view group,
                                 const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                                 int64_t now_ms, const TxnProducer* txn) {
  EVLOG_ASSIGN_OR_RETURN(std::vector<Update> updates, PrepareCommit(group, offsets, now_ms));
  if (txn != nullptr && (txn->id.value() < 0 || txn->epoch.value() < 0)) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat("transactional offsets of producer ", txn->id.value(), " epoch ",
                                  txn->epoch.value()));
  }
  if (updates.empty()) return absl::OkStatus();
  EVLOG_ASSIGN_OR_RETURN(auto partitions, Partitions(/*create=*/true));
  const PartitionId id = PartitionFor(group);
  // Shared, transactional or not: only CompleteTransaction (exclusive) must
  // not pass a transaction's batch between its append and its pending entry.
  std::shared_lock partition_lock(partition_locks_[static_cast<size_t>(id.value())]);
  EVLOG_ASSIGN_OR_RETURN(
      const Offset base_offset,
      AppendBatch(*(*partitions)[static_cast<size_t>(id.value())], group, updates, now_ms, txn));
  std::lock_guard lock(mu_);
  if (txn != nullptr) {
    AddPendingLocked(txn->id, std::string(group), updates, base_offset);
  } else {
    ApplyLocked(std::string(group), updates, base_offset);
  }
  return absl::OkStatus();
}

absl::Status OffsetStore::CompleteTransaction(PartitionId partition, ProducerId producer_id,
                                              ProducerEpoch epoch, ControlRecordType type) {
  if (partition.value() < 0 || partition.value() >= partition_count_) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat(ToAbsl(kTopic), "-", partition.value(), " does not exist"));
  }
  EVLOG_ASSIGN_OR_RETURN(auto partitions, Partitions(/*create=*/true));
  const auto index = static_cast<size_t>(partition.value());
  std::unique_lock partition_lock(partition_locks_[index]);
  std::vector<std::byte> marker = BuildEndTransactionMarkerBatch(
      {type, /*coordinator_epoch=*/0}, producer_id, epoch, broker_.clock().WallMs());
  EVLOG_RETURN_IF_ERROR((*partitions)[index]->Append(marker).status());
  std::lock_guard lock(mu_);
  ResolvePendingLocked(producer_id, partition, type == ControlRecordType::kCommit);
  return absl::OkStatus();
}

absl::StatusOr<std::map<TopicPartition, CommittedOffset>> OffsetStore::FetchStableOffsets(
    std::string_view group, std::optional<std::span<const TopicPartition>> partitions) const {
  std::lock_guard lock(mu_);
  for (const auto& [producer, groups] : pending_) {
    auto it = groups.find(group);
    if (it == groups.end()) continue;
    for (const auto& [tp, entry] : it->second) {
      if (partitions &&
          std::find(partitions->begin(), partitions->end(), tp) == partitions->end()) {
        continue;
      }
      return MakeError(ErrorCode::kUnstableOffsetCommit,
                       absl::StrCat("group \"", ToAbsl(group), "\" has offsets of ", tp.ToString(),
                                    " in the open transaction of producer ", producer.value()));
    }
  }
  return FetchLocked(group, partitions);
}

std::map<TopicPartition, CommittedOffset> OffsetStore::FetchOffsets(
    std::string_view group, std::optional<std::span<const TopicPartition>> partitions) const {
  std::lock_guard lock(mu_);
  return FetchLocked(group, partitions);
}

std::map<TopicPartition, CommittedOffset> OffsetStore::FetchLocked(
    std::string_view group, std::optional<std::span<const TopicPartition>> partitions) const {
  std::map<TopicPartition, CommittedOffset> out;
  auto it = groups_.find(group);
  if (it == groups_.end()) return out;
  if (!partitions) {
    for (const auto& [tp, entry] : it->second) out.emplace(tp, entry.value);
    return out;
  }
  for (const TopicPartition& tp : *partitions) {
    auto found = it->second.find(tp);
    if (found != it->second.end()) out.emplace(tp, found->second.value);
  }
  return out;
}

absl::StatusOr<std::vector<TopicPartition>> OffsetStore::DeleteSelected(
    std::string_view group, const std::function<bool(const TopicPartition&, const Entry&)>& select,
    int64_t now_ms) {
  EVLOG_ASSIGN_OR_RETURN(auto partitions, Partitions(/*create=*/false));
  if (partitions == nullptr) return std::vector<TopicPartition>();
  const PartitionId id = PartitionFor(group);
  std::unique_lock partition_lock(partition_locks_[static_cast<size_t>(id.value())]);
  std::vector<Update> updates;
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group);
    if (it == groups_.end()) return std::vector<TopicPartition>();
    for (const auto& [tp, entry] : it->second) {
      if (select(tp, entry)) updates.push_back(Update{tp, std::nullopt});
    }
  }
  std::vector<TopicPartition> deleted;
  if (updates.empty()) return deleted;
  EVLOG_ASSIGN_OR_RETURN(
      const Offset base_offset,
      AppendBatch(*(*partitions)[static_cast<size_t>(id.value())], group, updates, now_ms));
  {
    std::lock_guard lock(mu_);
    ApplyLocked(std::string(group), updates, base_offset);
  }
  deleted.reserve(updates.size());
  for (Update& update : updates) deleted.push_back(std::move(update.topic_partition));
  return deleted;
}

absl::StatusOr<size_t> OffsetStore::DeleteGroup(std::string_view group) {
  EVLOG_RETURN_IF_ERROR(CheckGroupId(group));
  EVLOG_ASSIGN_OR_RETURN(std::vector<TopicPartition> deleted,
                         DeleteSelected(
                             group, [](const TopicPartition&, const Entry&) { return true; },
                             broker_.clock().WallMs()));
  return deleted.size();
}

absl::StatusOr<size_t> OffsetStore::DeleteOffsets(std::string_view group,
                                                  std::span<const TopicPartition> partitions) {
  EVLOG_RETURN_IF_ERROR(CheckGroupId(group));
  const std::set<TopicPartition> wanted(partitions.begin(), partitions.end());
  EVLOG_ASSIGN_OR_RETURN(
      std::vector<TopicPartition> deleted,
      DeleteSelected(
          group, [&](const TopicPartition& tp, const Entry&) { return wanted.contains(tp); },
          broker_.clock().WallMs()));
  return deleted.size();
}

absl::StatusOr<std::vector<ExpiredOffset>> OffsetStore::ExpireOffsets(
    int64_t now_ms, int64_t retention_ms, const GroupEmptySince& empty_since) {
  if (retention_ms < 0) {
    return MakeError(ErrorCode::kInvalidConfig,
                     absl::StrCat("offsets retention of ", retention_ms, " ms"));
  }
  std::vector<ExpiredOffset> expired;
  for (const std::string& group : ListGroups()) {
    const std::optional<int64_t> since = empty_since(group);
    if (!since) continue;
    auto is_expired = [&](const TopicPartition&, const Entry& entry) {
      const CommittedOffset& v = entry.value;
      if (v.expire_timestamp_ms) return now_ms >= *v.expire_timestamp_ms;
      const int64_t base = std::max(v.commit_timestamp_ms, *since);
      return now_ms - base >= retention_ms;
    };
    EVLOG_ASSIGN_OR_RETURN(std::vector<TopicPartition> deleted,
                           DeleteSelected(group, is_expired, now_ms));
    for (TopicPartition& tp : deleted) expired.push_back(ExpiredOffset{group, std::move(tp)});
  }
  if (!expired.empty()) {
    Log(LogLevel::kInfo, absl::StrCat("expired ", expired.size(), " offsets"));
  }
  return expired;
}

std::vector<std::string> OffsetStore::ListGroups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  names.reserve(groups_.size());
  for (const auto& [name, offsets] : groups_) names.push_back(name);
  return names;
}

}  // namespace evlog
