#include "evlog/group/offset_store.h"

#include <algorithm>
#include <limits>
#include <set>
#include <tuple>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/broker/coordinator_log.h"
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

OffsetStore::OffsetStore(std::unique_ptr<CoordinatorLog> log, OffsetStoreOptions options)
    : log_(std::move(log)), options_(std::move(options)) {}

OffsetStore::~OffsetStore() {
  std::unique_lock lock(mu_);
  appends_done_.wait(lock, [this] {
    return std::all_of(guards_.begin(), guards_.end(),
                       [](const PartitionGuard& g) { return g.in_flight == 0; });
  });
}

absl::StatusOr<std::unique_ptr<OffsetStore>> OffsetStore::Open(Broker& broker,
                                                               OffsetStoreOptions options) {
  EVLOG_RETURN_IF_ERROR(
      OffsetsTopicConfig(options).ApplyTo(broker.options().topic_defaults).status());
  return Open(MakeCoordinatorLog(broker, kTopic), std::move(options));
}

absl::StatusOr<std::unique_ptr<OffsetStore>> OffsetStore::Open(std::unique_ptr<CoordinatorLog> log,
                                                               OffsetStoreOptions options) {
  if (options.partition_count < 1) {
    return MakeError(ErrorCode::kInvalidConfig, "partition_count must be at least 1");
  }
  if (options.metadata_max_bytes > fmt::kMaxStringBytes) {
    return MakeError(ErrorCode::kInvalidConfig,
                     absl::StrCat("metadata_max_bytes must be at most ", fmt::kMaxStringBytes));
  }
  std::unique_ptr<OffsetStore> store(new OffsetStore(std::move(log), std::move(options)));
  EVLOG_RETURN_IF_ERROR(store->Load());
  return store;
}

void OffsetStore::Log(LogLevel level, std::string_view message) const {
  LogSink& sink = log_->log_sink();
  if (sink.Enabled(level)) sink.Log(level, kTopic, message);
}

int64_t OffsetStore::WallMs() const { return log_->clock().WallMs(); }

absl::Status OffsetStore::Load() {
  const int32_t existing = log_->partition_count();
  partition_count_ = existing > 0 ? existing : options_.partition_count;
  if (existing > 0 && partition_count_ != options_.partition_count) {
    Log(LogLevel::kWarning, absl::StrCat(ToAbsl(kTopic), " exists with ", partition_count_,
                                         " partitions; partition_count ", options_.partition_count,
                                         " applies only when creating"));
  }
  guards_.resize(static_cast<size_t>(partition_count_));
  if (existing == 0) return absl::OkStatus();
  std::lock_guard create_lock(create_mu_);
  EVLOG_RETURN_IF_ERROR(AdoptTopic());
  for (int32_t p = 0; p < partition_count_; ++p) EVLOG_RETURN_IF_ERROR(Replay(PartitionId(p)));
  Log(LogLevel::kInfo,
      absl::StrCat("loaded ", replay_stats_.offset_commits, " offset commits and ",
                   replay_stats_.tombstones, " tombstones of ", groups_.size(), " groups"));
  return absl::OkStatus();
}

absl::Status OffsetStore::AdoptTopic() {
  const int32_t partitions = log_->partition_count();
  // Partitions added behind the store's back (CreatePartitions) are not
  // used: groups stay where PartitionFor put them.
  if (partitions < partition_count_) {
    return MakeError(ErrorCode::kCoordinatorNotAvailable,
                     absl::StrCat(ToAbsl(kTopic), " has ", partitions,
                                  " partitions, the store uses ", partition_count_));
  }
  have_topic_.store(true, std::memory_order_release);
  return absl::OkStatus();
}

absl::StatusOr<bool> OffsetStore::EnsureTopic(bool create) {
  if (have_topic_.load(std::memory_order_acquire)) return true;
  std::lock_guard create_lock(create_mu_);
  if (have_topic_.load(std::memory_order_relaxed)) return true;
  if (log_->partition_count() == 0) {
    if (!create) return false;
    absl::Status created = log_->Create(partition_count_, OffsetsTopicConfig(options_));
    // Someone else may have created it since Open (another store on the
    // same broker); then its partition count must be ours.
    if (!created.ok() && !HasErrorCode(created, ErrorCode::kTopicAlreadyExists)) return created;
    if (created.ok()) {
      Log(LogLevel::kInfo,
          absl::StrCat("created ", ToAbsl(kTopic), " with ", partition_count_, " partitions"));
    }
  }
  EVLOG_RETURN_IF_ERROR(AdoptTopic());
  return true;
}

absl::Status OffsetStore::EnsureTopic() {
  EVLOG_ASSIGN_OR_RETURN(const bool exists, EnsureTopic(/*create=*/true));
  (void)exists;
  return absl::OkStatus();
}

absl::Status OffsetStore::Replay(PartitionId partition) {
  std::vector<std::byte> decompressed;
  bool warned = false;
  const std::string name = absl::StrCat(ToAbsl(kTopic), "-", partition.value());
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
          ResolvePendingLocked(batch.producer_id(), partition, record.offset,
                               *type == ControlRecordType::kCommit);
        }
      }
      return records.status();
    }
    const bool transactional = batch.is_transactional();
    EVLOG_ASSIGN_OR_RETURN(RecordIterator records, batch.Records({}, &decompressed));
    for (const RecordView& record : records) {
      if (!record.key) {
        return MakeError(
            ErrorCode::kCorruptMessage,
            absl::StrCat(name, " offset ", record.offset.value(), ": a record without a key"));
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
          Log(LogLevel::kWarning,
              absl::StrCat("skipping records of unknown type ", version, " in ", name));
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
  return log_->Scan(partition, replay);
}

void OffsetStore::ApplyValueLocked(GroupOffsets& offsets, const std::string& group,
                                   const TopicPartition& tp, const Entry& entry) {
  // A tombstone of the key written after this record but applied before it
  // (appends completing out of order) has the last word.
  const PartitionGuard& guard = guards_[static_cast<size_t>(PartitionFor(group).value())];
  if (auto t = guard.tombstones.find(std::pair(group, tp));
      t != guard.tombstones.end() && t->second > entry.record_offset) {
    return;
  }
  auto [it, inserted] = offsets.try_emplace(tp, entry);
  // A concurrent commit of the same key with a later record may have been
  // applied first, or a transaction's offsets may be committed after a
  // plain commit written later: the log's order decides.
  if (!inserted && it->second.record_offset < entry.record_offset) it->second = entry;
}

void OffsetStore::ApplyLocked(const std::string& group, const std::vector<Update>& updates,
                              Offset base_offset) {
  PartitionGuard& guard = guards_[static_cast<size_t>(PartitionFor(group).value())];
  auto it = groups_.find(group);
  Offset record_offset = base_offset;
  for (const Update& update : updates) {
    if (update.value) {
      if (it == groups_.end()) it = groups_.emplace(group, GroupOffsets()).first;
      ApplyValueLocked(it->second, group, update.topic_partition,
                       Entry{*update.value, record_offset});
    } else {
      if (it != groups_.end()) {
        auto found = it->second.find(update.topic_partition);
        // A value written after the tombstone may have been applied first.
        if (found != it->second.end() && found->second.record_offset < record_offset) {
          it->second.erase(found);
        }
      }
      if (guard.in_flight > 0) {
        Offset& at = guard.tombstones[std::pair(group, update.topic_partition)];
        at = std::max(at, record_offset);
      }
    }
    ++record_offset;
  }
  if (it != groups_.end() && it->second.empty()) groups_.erase(it);
}

void OffsetStore::AddPendingLocked(ProducerId producer, const std::string& group,
                                   const std::vector<Update>& updates, Offset base_offset) {
  const PartitionGuard& guard = guards_[static_cast<size_t>(PartitionFor(group).value())];
  // The transaction's marker may have been written after this batch but
  // applied before it: it decides at once.
  std::optional<bool> decided;
  if (auto m = guard.markers.find(producer);
      m != guard.markers.end() && m->second.offset > base_offset) {
    decided = m->second.commit;
  }
  if (decided == false) return;
  GroupOffsets& offsets = decided ? groups_[group] : pending_[producer][group];
  Offset record_offset = base_offset;
  for (const Update& update : updates) {
    // Transactions write values only (a tombstone in one would be Kafka's
    // own business, which it never does).
    if (update.value) {
      ApplyValueLocked(offsets, group, update.topic_partition, Entry{*update.value, record_offset});
    }
    ++record_offset;
  }
}

void OffsetStore::ResolvePendingLocked(ProducerId producer, PartitionId partition,
                                       Offset marker_offset, bool commit) {
  PartitionGuard& guard = guards_[static_cast<size_t>(partition.value())];
  if (guard.in_flight > 0) {
    PartitionGuard::Marker& m = guard.markers[producer];
    if (m.offset < marker_offset) m = PartitionGuard::Marker{marker_offset, commit};
  }
  auto it = pending_.find(producer);
  if (it == pending_.end()) return;
  for (auto group = it->second.begin(); group != it->second.end();) {
    if (PartitionFor(group->first) != partition) {
      ++group;
      continue;
    }
    // Only the records before the marker are its transaction's: a later
    // transaction's batch may have completed first.
    GroupOffsets& entries = group->second;
    GroupOffsets* committed = commit ? &groups_[group->first] : nullptr;
    for (auto e = entries.begin(); e != entries.end();) {
      if (e->second.record_offset > marker_offset) {
        ++e;
        continue;
      }
      if (committed != nullptr) ApplyValueLocked(*committed, group->first, e->first, e->second);
      e = entries.erase(e);
    }
    if (committed != nullptr && committed->empty()) groups_.erase(group->first);
    group = entries.empty() ? it->second.erase(group) : std::next(group);
  }
  if (it->second.empty()) pending_.erase(it);
}

void OffsetStore::EndAppendLocked(PartitionId partition) {
  PartitionGuard& guard = guards_[static_cast<size_t>(partition.value())];
  if (--guard.in_flight > 0) return;
  // Nothing older can complete now: the guards have done their work.
  guard.tombstones.clear();
  guard.markers.clear();
  appends_done_.notify_all();
}

absl::Status OffsetStore::AppendError(const absl::Status& status, std::string_view group,
                                      size_t records, size_t batch_bytes) {
  switch (GetErrorCode(status)) {
    case ErrorCode::kMessageTooLarge:
    case ErrorCode::kRecordListTooLarge:
      return MakeError(
          ErrorCode::kInvalidCommitOffsetSize,
          absl::StrCat(records, " offsets of group \"", ToAbsl(group), "\" make a batch of ",
                       batch_bytes, " bytes, over the max.message.bytes of ", ToAbsl(kTopic)));
    case ErrorCode::kNotLeaderOrFollower:
    case ErrorCode::kLeaderNotAvailable:
    case ErrorCode::kNotEnoughReplicas:
    case ErrorCode::kNotEnoughReplicasAfterAppend:
    case ErrorCode::kRequestTimedOut:
      // Kafka's coordinator answers these as COORDINATOR_NOT_AVAILABLE (or
      // NOT_COORDINATOR): retriable for the client, which commits again.
      return MakeError(ErrorCode::kCoordinatorNotAvailable,
                       absl::StrCat("writing ", ToAbsl(kTopic), ": ", status.message()));
    default:
      return status;
  }
}

void OffsetStore::AppendBatch(PartitionId id, std::string group, std::vector<Update> updates,
                              int64_t now_ms, std::optional<TxnProducer> txn, StatusCallback done) {
  RecordBatchOptions batch_options;
  if (txn) {
    // As Kafka's coordinator writes them: the producer's id and epoch, no
    // sequence.
    batch_options.producer_id = txn->id;
    batch_options.producer_epoch = txn->epoch;
    batch_options.is_transactional = true;
  }
  RecordBatchBuilder builder(batch_options);
  auto build = [&]() -> absl::StatusOr<MutableByteView> {
    OffsetCommitKey key;
    key.group = group;
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
    return builder.Finish();
  };
  absl::StatusOr<MutableByteView> batch = build();
  if (!batch.ok()) {
    done(batch.status());
    return;
  }
  AppendOptions append;
  append.trusted = true;
  if (txn) append.origin = AppendOrigin::kCoordinator;
  const size_t records = updates.size();
  const size_t batch_bytes = batch->size();
  GuardedAppend(
      id, *batch, append,
      [this, group, updates = std::move(updates), txn](const AppendResult& appended) {
        EVLOG_CHECK_EQ(appended.last_offset - appended.base_offset,
                       static_cast<int64_t>(updates.size()) - 1);
        if (txn) {
          AddPendingLocked(txn->id, group, updates, appended.base_offset);
        } else {
          ApplyLocked(group, updates, appended.base_offset);
        }
      },
      [group, records, batch_bytes](const absl::Status& error) {
        return AppendError(error, group, records, batch_bytes);
      },
      std::move(done));
}

void OffsetStore::GuardedAppend(PartitionId partition, MutableByteView batch,
                                const AppendOptions& options,
                                absl::AnyInvocable<void(const AppendResult&)> apply_locked,
                                absl::AnyInvocable<absl::Status(const absl::Status&)> error,
                                StatusCallback done) {
  {
    std::lock_guard lock(mu_);
    ++guards_[static_cast<size_t>(partition.value())].in_flight;
  }
  log_->Append(partition, batch, options,
               [this, partition, apply_locked = std::move(apply_locked), error = std::move(error),
                done = std::move(done)](absl::StatusOr<AppendResult> appended) mutable {
                 {
                   std::lock_guard lock(mu_);
                   if (appended.ok()) apply_locked(*appended);
                   EndAppendLocked(partition);
                 }
                 done(appended.ok() ? absl::OkStatus() : error(appended.status()));
               });
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
  return AwaitCallback<absl::Status>(log_->executor(), [&](StatusCallback done) {
    Commit(group, offsets, now_ms, std::nullopt, std::move(done));
  });
}

void OffsetStore::CommitOffsetsAsync(std::string_view group,
                                     const std::map<TopicPartition, OffsetAndMetadata>& offsets,
                                     int64_t now_ms, StatusCallback done) {
  Commit(group, offsets, now_ms, std::nullopt, std::move(done));
}

absl::Status OffsetStore::TxnCommitOffsets(
    std::string_view group, ProducerId producer_id, ProducerEpoch epoch,
    const std::map<TopicPartition, OffsetAndMetadata>& offsets, int64_t now_ms) {
  return AwaitCallback<absl::Status>(log_->executor(), [&](StatusCallback done) {
    Commit(group, offsets, now_ms, TxnProducer{producer_id, epoch}, std::move(done));
  });
}

void OffsetStore::Commit(std::string_view group,
                         const std::map<TopicPartition, OffsetAndMetadata>& offsets, int64_t now_ms,
                         std::optional<TxnProducer> txn, StatusCallback done) {
  absl::StatusOr<std::vector<Update>> updates = PrepareCommit(group, offsets, now_ms);
  if (!updates.ok()) {
    done(updates.status());
    return;
  }
  if (txn && (txn->id.value() < 0 || txn->epoch.value() < 0)) {
    done(MakeError(ErrorCode::kInvalidRequest,
                   absl::StrCat("transactional offsets of producer ", txn->id.value(), " epoch ",
                                txn->epoch.value())));
    return;
  }
  if (updates->empty()) {
    done(absl::OkStatus());
    return;
  }
  if (absl::Status s = EnsureTopic(); !s.ok()) {
    done(std::move(s));
    return;
  }
  AppendBatch(PartitionFor(group), std::string(group), *std::move(updates), now_ms, txn,
              std::move(done));
}

absl::Status OffsetStore::CompleteTransaction(PartitionId partition, ProducerId producer_id,
                                              ProducerEpoch epoch, ControlRecordType type) {
  return AwaitCallback<absl::Status>(log_->executor(), [&](StatusCallback done) {
    CompleteTransactionAsync(partition, producer_id, epoch, type, std::move(done));
  });
}

void OffsetStore::CompleteTransactionAsync(PartitionId partition, ProducerId producer_id,
                                           ProducerEpoch epoch, ControlRecordType type,
                                           StatusCallback done) {
  if (partition.value() < 0 || partition.value() >= partition_count_) {
    done(MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat(ToAbsl(kTopic), "-", partition.value(), " does not exist")));
    return;
  }
  if (absl::Status s = EnsureTopic(); !s.ok()) {
    done(std::move(s));
    return;
  }
  std::vector<std::byte> marker =
      BuildEndTransactionMarkerBatch({type, /*coordinator_epoch=*/0}, producer_id, epoch, WallMs());
  const size_t marker_bytes = marker.size();
  GuardedAppend(
      partition, MutableByteView(marker), AppendOptions{},
      [this, partition, producer_id,
       commit = type == ControlRecordType::kCommit](const AppendResult& appended) {
        ResolvePendingLocked(producer_id, partition, appended.base_offset, commit);
      },
      [marker_bytes](const absl::Status& error) { return AppendError(error, "", 1, marker_bytes); },
      std::move(done));
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

void OffsetStore::DeleteSelected(
    std::string_view group, const std::function<bool(const TopicPartition&, const Entry&)>& select,
    int64_t now_ms, DeletedCallback done) {
  absl::StatusOr<bool> exists = EnsureTopic(/*create=*/false);
  if (!exists.ok() || !*exists) {
    // No topic yet: nothing to delete.
    done(exists.ok() ? absl::StatusOr<std::vector<TopicPartition>>(std::vector<TopicPartition>())
                     : absl::StatusOr<std::vector<TopicPartition>>(exists.status()));
    return;
  }
  std::vector<Update> updates;
  {
    std::lock_guard lock(mu_);
    auto it = groups_.find(group);
    if (it != groups_.end()) {
      for (const auto& [tp, entry] : it->second) {
        if (select(tp, entry)) updates.push_back(Update{tp, std::nullopt});
      }
    }
  }
  if (updates.empty()) {
    done(std::vector<TopicPartition>());
    return;
  }
  // A commit racing the tombstones is ordered by the log: written after
  // them it stands, before them it is deleted (ApplyLocked).
  std::vector<TopicPartition> deleted;
  deleted.reserve(updates.size());
  for (const Update& update : updates) deleted.push_back(update.topic_partition);
  AppendBatch(PartitionFor(group), std::string(group), std::move(updates), now_ms, std::nullopt,
              [deleted = std::move(deleted), done = std::move(done)](absl::Status s) mutable {
                if (s.ok()) {
                  done(std::move(deleted));
                } else {
                  done(std::move(s));
                }
              });
}

absl::StatusOr<size_t> OffsetStore::DeleteGroup(std::string_view group) {
  EVLOG_RETURN_IF_ERROR(CheckGroupId(group));
  EVLOG_ASSIGN_OR_RETURN(
      std::vector<TopicPartition> deleted,
      AwaitCallback<absl::StatusOr<std::vector<TopicPartition>>>(log_->executor(), [&](auto done) {
        DeleteSelected(
            group, [](const TopicPartition&, const Entry&) { return true; }, WallMs(),
            std::move(done));
      }));
  return deleted.size();
}

absl::StatusOr<size_t> OffsetStore::DeleteOffsets(std::string_view group,
                                                  std::span<const TopicPartition> partitions) {
  return AwaitCallback<absl::StatusOr<size_t>>(log_->executor(), [&](CountCallback done) {
    DeleteOffsetsAsync(group, partitions, std::move(done));
  });
}

void OffsetStore::DeleteOffsetsAsync(std::string_view group,
                                     std::span<const TopicPartition> partitions,
                                     CountCallback done) {
  if (absl::Status valid = CheckGroupId(group); !valid.ok()) {
    done(valid);
    return;
  }
  const std::set<TopicPartition> wanted(partitions.begin(), partitions.end());
  DeleteSelected(
      group, [&](const TopicPartition& tp, const Entry&) { return wanted.contains(tp); }, WallMs(),
      [done = std::move(done)](absl::StatusOr<std::vector<TopicPartition>> deleted) mutable {
        if (!deleted.ok()) {
          done(deleted.status());
        } else {
          done(deleted->size());
        }
      });
}

absl::StatusOr<std::vector<ExpiredOffset>> OffsetStore::ExpireOffsets(
    int64_t now_ms, int64_t retention_ms, const GroupEmptySince& empty_since) {
  return AwaitCallback<absl::StatusOr<std::vector<ExpiredOffset>>>(
      log_->executor(), [&](ExpiredCallback done) {
        ExpireOffsetsAsync(now_ms, retention_ms, empty_since, std::move(done));
      });
}

void OffsetStore::ExpireOffsetsAsync(int64_t now_ms, int64_t retention_ms,
                                     const GroupEmptySince& empty_since, ExpiredCallback done) {
  if (retention_ms < 0) {
    done(MakeError(ErrorCode::kInvalidConfig,
                   absl::StrCat("offsets retention of ", retention_ms, " ms")));
    return;
  }
  // Every group's tombstones go out at once; the last to finish answers.
  struct Pass {
    std::mutex mu;
    int outstanding = 1;  // the loop below holds one until it is through
    absl::Status error;
    std::vector<ExpiredOffset> expired;
    ExpiredCallback done;
  };
  auto pass = std::make_shared<Pass>();
  pass->done = std::move(done);
  auto finish = [this](const std::shared_ptr<Pass>& p) {
    {
      std::lock_guard lock(p->mu);
      if (--p->outstanding > 0) return;
    }
    if (!p->error.ok()) {
      p->done(p->error);
      return;
    }
    std::sort(p->expired.begin(), p->expired.end(), [](const auto& a, const auto& b) {
      return std::tie(a.group, a.topic_partition) < std::tie(b.group, b.topic_partition);
    });
    if (!p->expired.empty()) {
      Log(LogLevel::kInfo, absl::StrCat("expired ", p->expired.size(), " offsets"));
    }
    p->done(std::move(p->expired));
  };
  for (const std::string& group : ListGroups()) {
    const std::optional<int64_t> since = empty_since(group);
    if (!since) continue;
    auto is_expired = [&](const TopicPartition&, const Entry& entry) {
      const CommittedOffset& v = entry.value;
      if (v.expire_timestamp_ms) return now_ms >= *v.expire_timestamp_ms;
      const int64_t base = std::max(v.commit_timestamp_ms, *since);
      return now_ms - base >= retention_ms;
    };
    {
      std::lock_guard lock(pass->mu);
      ++pass->outstanding;
    }
    DeleteSelected(group, is_expired, now_ms,
                   [pass, group, finish](absl::StatusOr<std::vector<TopicPartition>> deleted) {
                     {
                       std::lock_guard lock(pass->mu);
                       if (!deleted.ok()) {
                         if (pass->error.ok()) pass->error = deleted.status();
                       } else {
                         for (TopicPartition& tp : *deleted) {
                           pass->expired.push_back(ExpiredOffset{group, std::move(tp)});
                         }
                       }
                     }
                     finish(pass);
                   });
  }
  finish(pass);
}

std::vector<std::string> OffsetStore::ListGroups() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  names.reserve(groups_.size());
  for (const auto& [name, offsets] : groups_) names.push_back(name);
  return names;
}

}  // namespace evlog
