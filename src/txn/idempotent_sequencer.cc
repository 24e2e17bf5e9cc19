#include "evlog/txn/idempotent_sequencer.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "binary_io.h"
#include "evlog/check.h"
#include "evlog/record/control_record.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"
#include "evlog/storage/internal/atomic_file.h"

namespace evlog {
namespace {

using txn_internal::Put;
using txn_internal::Reader;

using internal::LoadBigEndian;
using internal::StoreBigEndian;

constexpr int64_t kSequenceSpace = int64_t{std::numeric_limits<int32_t>::max()} + 1;

// (a + delta) in the sequence space [0, INT32_MAX], wrapping.
Sequence Advance(Sequence a, int64_t delta) {
  return Sequence(static_cast<int32_t>((int64_t{a.value()} + delta) % kSequenceSpace));
}

// How far `to` is ahead of `from` in the wrapping sequence space, in
// [0, kSequenceSpace).
int64_t Distance(Sequence from, Sequence to) {
  return ((int64_t{to.value()} - from.value()) % kSequenceSpace + kSequenceSpace) % kSequenceSpace;
}

// Snapshot layout (big-endian): "EVPS", u16 version, u16 reserved, i64 end
// offset, u32 producers; per producer: i64 id, i16 epoch, i64 last update,
// u8 batches; per batch: i32 first seq, i32 last seq, i64 first offset,
// i64 last offset, i64 timestamp; then u64 XXH3 of all before it.
constexpr char kMagic[4] = {'E', 'V', 'P', 'S'};
constexpr uint16_t kVersion = 1;
constexpr size_t kHeaderBytes = 4 + 2 + 2 + 8 + 4;
constexpr size_t kProducerBytes = 8 + 2 + 8 + 1;
constexpr size_t kBatchBytes = 4 + 4 + 8 + 8 + 8;

// Reads fixed-size fields, failing (not reading past the end) once short.

absl::Status Corrupt(std::string_view why) {
  return MakeError(ErrorCode::kCorruptMessage,
                   absl::StrCat("producer state snapshot: ", internal::ToAbsl(why)));
}

}  // namespace

ProducerBatchInfo ProducerBatchInfo::Of(const RecordBatchView& batch) {
  ProducerBatchInfo info;
  info.producer_id = batch.producer_id();
  info.producer_epoch = batch.producer_epoch();
  info.first_sequence = batch.base_sequence();
  info.record_count = batch.record_count();
  return info;
}

ProducerBatchInfo ProducerBatchInfo::OfHeader(ByteView batch) {
  namespace F = record_format;
  EVLOG_DCHECK(batch.size() >= F::kRecordBatchOverhead);
  ProducerBatchInfo info;
  info.producer_id = ProducerId(LoadBigEndian<int64_t>(batch.data() + F::kProducerIdOffset));
  info.producer_epoch =
      ProducerEpoch(LoadBigEndian<int16_t>(batch.data() + F::kProducerEpochOffset));
  info.first_sequence = Sequence(LoadBigEndian<int32_t>(batch.data() + F::kBaseSequenceOffset));
  info.record_count = LoadBigEndian<int32_t>(batch.data() + F::kRecordsCountOffset);
  return info;
}

Sequence ProducerBatchInfo::last_sequence() const {
  return Advance(first_sequence, std::max(record_count, 1) - 1);
}

absl::StatusOr<SequenceDecision> IdempotentSequencer::Check(const ProducerBatchInfo& batch) const {
  SequenceDecision decision;
  if (!batch.idempotent()) return decision;
  if (batch.record_count < 1 || batch.first_sequence.value() < 0 ||
      batch.producer_epoch.value() < 0) {
    return MakeError(
        ErrorCode::kInvalidRecord,
        absl::StrCat("idempotent batch of producer ", batch.producer_id.value(), " with ",
                     batch.record_count, " records, sequence ", batch.first_sequence.value(),
                     ", epoch ", batch.producer_epoch.value()));
  }
  auto it = producers_.find(batch.producer_id);
  // An unknown producer (new, expired, truncated away) starts anywhere.
  if (it == producers_.end()) return decision;
  const ProducerStateEntry& state = it->second;
  if (batch.producer_epoch < state.epoch) {
    return MakeError(ErrorCode::kInvalidProducerEpoch,
                     absl::StrCat("producer ", batch.producer_id.value(), " epoch ",
                                  batch.producer_epoch.value(), " is older than its epoch ",
                                  state.epoch.value(), ": a newer instance fenced it"));
  }
  if (batch.producer_epoch > state.epoch || state.batches.empty()) {
    if (batch.producer_epoch > state.epoch && batch.first_sequence != Sequence(0)) {
      return MakeError(ErrorCode::kOutOfOrderSequenceNumber,
                       absl::StrCat("producer ", batch.producer_id.value(), " new epoch ",
                                    batch.producer_epoch.value(), " starts at sequence ",
                                    batch.first_sequence.value(), ", not 0"));
    }
    return decision;
  }
  const Sequence last = batch.last_sequence();
  for (const RetainedBatch& retained : state.batches) {
    if (retained.first_sequence == batch.first_sequence && retained.last_sequence == last) {
      decision.duplicate = true;
      decision.original = retained.placement;
      return decision;
    }
  }
  const Sequence expected = Advance(state.batches.back().last_sequence, 1);
  const int64_t ahead = Distance(expected, batch.first_sequence);
  if (ahead == 0) return decision;
  // Starts before the oldest retained batch (within half the space back):
  // written long ago, and its offsets are no longer known.
  const bool before_retained =
      Distance(state.batches.front().first_sequence, batch.first_sequence) >= kSequenceSpace / 2;
  if (ahead >= kSequenceSpace / 2 && before_retained) {
    return MakeError(ErrorCode::kDuplicateSequenceNumber,
                     absl::StrCat("producer ", batch.producer_id.value(), " sequence ",
                                  batch.first_sequence.value(),
                                  " was written before the retained batches (next expected ",
                                  expected.value(), ")"));
  }
  return MakeError(
      ErrorCode::kOutOfOrderSequenceNumber,
      absl::StrCat("producer ", batch.producer_id.value(), " sequence ",
                   batch.first_sequence.value(), " leaves a gap: expected ", expected.value()));
}

void IdempotentSequencer::Record(const ProducerBatchInfo& batch, const BatchPlacement& placement,
                                 int64_t now_ms) {
  if (!batch.idempotent()) return;
  ProducerStateEntry& state = producers_[batch.producer_id];
  if (batch.producer_epoch != state.epoch) {
    // A newer epoch starts afresh (a replayed log never goes back).
    state.epoch = batch.producer_epoch;
    state.batches.clear();
  }
  state.batches.push_back({batch.first_sequence, batch.last_sequence(), placement});
  while (state.batches.size() > kRetainedBatches) state.batches.pop_front();
  state.last_update_ms = std::max(state.last_update_ms, now_ms);
}

void IdempotentSequencer::ObserveEpoch(ProducerId producer_id, ProducerEpoch epoch,
                                       int64_t now_ms) {
  auto [it, fresh] = producers_.try_emplace(producer_id);
  ProducerStateEntry& state = it->second;
  if (fresh || epoch > state.epoch) {
    state.epoch = epoch;
    state.batches.clear();
  }
  state.last_update_ms = std::max(state.last_update_ms, now_ms);
}

size_t IdempotentSequencer::ExpireIdle(int64_t now_ms, int64_t expiration_ms) {
  return std::erase_if(producers_, [&](const auto& entry) {
    return now_ms - entry.second.last_update_ms >= expiration_ms;
  });
}

void IdempotentSequencer::TruncateTo(Offset end) {
  for (auto it = producers_.begin(); it != producers_.end();) {
    std::deque<RetainedBatch>& batches = it->second.batches;
    while (!batches.empty() && batches.back().placement.last_offset >= end) batches.pop_back();
    it = batches.empty() ? producers_.erase(it) : std::next(it);
  }
}

const ProducerStateEntry* IdempotentSequencer::producer(ProducerId producer_id) const {
  auto it = producers_.find(producer_id);
  return it == producers_.end() ? nullptr : &it->second;
}

std::vector<std::byte> IdempotentSequencer::EncodeSnapshot(Offset end_offset) const {
  std::vector<std::byte> out;
  out.reserve(kHeaderBytes + producers_.size() * (kProducerBytes + kRetainedBatches * kBatchBytes) +
              8);
  for (char c : kMagic) out.push_back(static_cast<std::byte>(c));
  Put<uint16_t>(out, kVersion);
  Put<uint16_t>(out, 0);
  Put<int64_t>(out, end_offset.value());
  Put<uint32_t>(out, static_cast<uint32_t>(producers_.size()));
  for (const auto& [id, state] : producers_) {
    Put<int64_t>(out, id.value());
    Put<int16_t>(out, state.epoch.value());
    Put<int64_t>(out, state.last_update_ms);
    Put<uint8_t>(out, static_cast<uint8_t>(state.batches.size()));
    for (const RetainedBatch& b : state.batches) {
      Put<int32_t>(out, b.first_sequence.value());
      Put<int32_t>(out, b.last_sequence.value());
      Put<int64_t>(out, b.placement.first_offset.value());
      Put<int64_t>(out, b.placement.last_offset.value());
      Put<int64_t>(out, b.placement.timestamp_ms);
    }
  }
  Put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

absl::StatusOr<Offset> IdempotentSequencer::LoadSnapshot(ByteView snapshot) {
  if (snapshot.size() < kHeaderBytes + 8) return Corrupt("too short");
  const size_t body = snapshot.size() - 8;
  if (LoadBigEndian<uint64_t>(snapshot.data() + body) != XXH3_64bits(snapshot.data(), body)) {
    return Corrupt("checksum mismatch");
  }
  if (std::memcmp(snapshot.data(), kMagic, sizeof(kMagic)) != 0) return Corrupt("bad magic");
  Reader in(snapshot.first(body).subspan(sizeof(kMagic)));
  uint16_t version = 0;
  uint16_t reserved = 0;
  int64_t end = 0;
  uint32_t count = 0;
  if (!in.Get(version) || !in.Get(reserved) || !in.Get(end) || !in.Get(count)) {
    return Corrupt("truncated header");
  }
  if (version != kVersion) return Corrupt(absl::StrCat("unknown version ", version));
  if (end < 0) return Corrupt("negative end offset");
  if (count > in.remaining() / kProducerBytes) return Corrupt("producer count past the end");
  std::map<ProducerId, ProducerStateEntry> producers;
  for (uint32_t i = 0; i < count; ++i) {
    int64_t id = 0;
    int16_t epoch = 0;
    int64_t last_update = 0;
    uint8_t batches = 0;
    if (!in.Get(id) || !in.Get(epoch) || !in.Get(last_update) || !in.Get(batches)) {
      return Corrupt("truncated producer");
    }
    if (id < 0 || epoch < 0 || batches > kRetainedBatches) return Corrupt("impossible producer");
    ProducerStateEntry state;
    state.epoch = ProducerEpoch(epoch);
    state.last_update_ms = last_update;
    for (uint8_t b = 0; b < batches; ++b) {
      int32_t first_seq = 0;
      int32_t last_seq = 0;
      int64_t first_offset = 0;
      int64_t last_offset = 0;
      int64_t timestamp = 0;
      if (!in.Get(first_seq) || !in.Get(last_seq) || !in.Get(first_offset) ||
          !in.Get(last_offset) || !in.Get(timestamp)) {
        return Corrupt("truncated batch");
      }
      if (first_seq < 0 || last_seq < 0 || first_offset < 0 || last_offset < first_offset ||
          last_offset >= end) {
        return Corrupt("impossible batch");
      }
      state.batches.push_back({Sequence(first_seq),
                               Sequence(last_seq),
                               {Offset(first_offset), Offset(last_offset), timestamp}});
    }
    if (!producers.emplace(ProducerId(id), std::move(state)).second) {
      return Corrupt("a producer twice");
    }
  }
  if (in.remaining() != 0) return Corrupt("trailing bytes");
  producers_ = std::move(producers);
  return Offset(end);
}

namespace {

constexpr int64_t kExpiryCheckIntervalMs = 10 * 60 * 1000;
// Appends between two looks at the clock for expiry: reading it per batch
// costs more than the rest of the bookkeeping.
constexpr uint32_t kAppendsPerExpiryCheck = 1024;

class IdempotenceHook final : public ProducerStateHook {
 public:
  IdempotenceHook(Clock& clock, int64_t expiration_ms, FileSystem* fs, std::string dir)
      : clock_(clock), expiration_ms_(expiration_ms), fs_(fs), dir_(std::move(dir)) {}

  Offset Restore(Offset log_start, Offset log_end) override {
    if (fs_ == nullptr) return log_start;
    std::vector<int64_t> saved = SnapshotOffsets();
    // Newest first; one past the log end describes a log that is gone.
    for (auto it = saved.rbegin(); it != saved.rend(); ++it) {
      if (Offset(*it) > log_end) {
        (void)fs_->Remove(SnapshotPath(*it));
        continue;
      }
      if (Load(*it)) {
        LogStartMoved(log_start);
        return Offset(*it);
      }
    }
    return log_start;
  }

  void LogStartMoved(Offset log_start) override {
    // An aborted transaction wholly before the log start is nothing a
    // reader can meet any more (Kafka deletes its .txnindex entries with
    // the segments); without this the list would grow with every abort.
    // aborted_ is in marker order.
    auto first_kept = std::find_if(
        aborted_.begin(), aborted_.end(),
        [log_start](const AbortedTransaction& t) { return t.last_offset >= log_start; });
    aborted_.erase(aborted_.begin(), first_kept);
  }

  absl::Status Checkpoint(Offset end) override {
    if (fs_ == nullptr) return absl::OkStatus();
    EVLOG_RETURN_IF_ERROR(
        internal::ReplaceFileAtomically(*fs_, dir_, SnapshotName(end.value()), Encode(end)));
    // Keep this one and the one before it.
    std::vector<int64_t> saved = SnapshotOffsets();
    for (size_t i = 0; i + 2 < saved.size(); ++i) (void)fs_->Remove(SnapshotPath(saved[i]));
    return absl::OkStatus();
  }

  std::optional<Offset> FirstUnstableOffset(Offset high_watermark) const override {
    std::optional<Offset> first;
    for (const auto& [id, offset] : open_) {
      if (!first || offset < *first) first = offset;
    }
    // Ended, but the marker is not yet replicated: not stable either.
    for (auto it = ended_.rbegin(); it != ended_.rend() && it->marker >= high_watermark; ++it) {
      if (!first || it->first < *first) first = it->first;
    }
    return first;
  }

  std::vector<AbortedTransaction> AbortedTransactions(Offset from, Offset to) const override {
    std::vector<AbortedTransaction> out;
    // aborted_ is in marker order: skip those that ended before `from`.
    auto it =
        std::lower_bound(aborted_.begin(), aborted_.end(), from,
                         [](const AbortedTransaction& t, Offset at) { return t.last_offset < at; });
    for (; it != aborted_.end(); ++it) {
      if (it->first_offset < to) out.push_back(*it);
    }
    return out;
  }

  bool Concerns(ByteView batch) const override {
    return batch.size() >= record_format::kRecordBatchOverhead &&
           ProducerBatchInfo::OfHeader(batch).idempotent();
  }

  absl::StatusOr<std::optional<AppendResult>> Check(ByteView batch, AppendOrigin origin) override {
    const ProducerBatchInfo info = ProducerBatchInfo::OfHeader(batch);
    if (IsControl(batch) || origin == AppendOrigin::kCoordinator) {
      // A coordinator's batch (a marker, transactional offsets) carries no
      // sequence: only its epoch counts.
      const ProducerStateEntry* state = sequencer_.producer(info.producer_id);
      if (state != nullptr && info.producer_epoch < state->epoch) {
        return MakeError(
            ErrorCode::kInvalidProducerEpoch,
            absl::StrCat(IsControl(batch) ? "marker" : "batch", " of producer ",
                         info.producer_id.value(), " epoch ", info.producer_epoch.value(),
                         " is older than its epoch ", state->epoch.value()));
      }
      return std::nullopt;
    }
    EVLOG_ASSIGN_OR_RETURN(SequenceDecision decision, sequencer_.Check(info));
    if (!decision.duplicate) return std::nullopt;
    AppendResult original;
    original.base_offset = decision.original.first_offset;
    original.last_offset = decision.original.last_offset;
    original.log_append_time_ms = decision.original.timestamp_ms;
    return original;
  }

  void Appended(ByteView batch, const AppendResult& result) override {
    TrackTransactions(batch, result);
    const ProducerBatchInfo info = ProducerBatchInfo::OfHeader(batch);
    if (IsControl(batch) || info.first_sequence == kNoSequence) {
      sequencer_.ObserveEpoch(
          info.producer_id, info.producer_epoch,
          internal::LoadBigEndian<int64_t>(batch.data() + record_format::kMaxTimestampOffset));
      return;
    }
    // A producer was last active at its batch's timestamp, as in Kafka
    // (ProducerStateEntry's lastTimestamp).
    const int64_t batch_time =
        internal::LoadBigEndian<int64_t>(batch.data() + record_format::kMaxTimestampOffset);
    sequencer_.Record(ProducerBatchInfo::OfHeader(batch),
                      {result.base_offset, result.last_offset, result.log_append_time_ms},
                      result.log_append_time_ms >= 0 ? result.log_append_time_ms : batch_time);
    if (++appends_since_check_ < kAppendsPerExpiryCheck) return;
    appends_since_check_ = 0;
    const int64_t now = clock_.WallMs();
    if (now - last_expiry_check_ms_ >= kExpiryCheckIntervalMs) {
      last_expiry_check_ms_ = now;
      sequencer_.ExpireIdle(now, expiration_ms_);
    }
  }

  void Truncated(Offset end) override {
    sequencer_.TruncateTo(end);
    if (fs_ != nullptr) {
      for (int64_t saved : SnapshotOffsets()) {
        if (Offset(saved) > end) (void)fs_->Remove(SnapshotPath(saved));
      }
    }
    std::erase_if(open_, [end](const auto& entry) { return entry.second >= end; });
    // A transaction whose marker is gone is open again (if its first batch
    // is still there).
    while (!ended_.empty() && ended_.back().marker >= end) {
      if (ended_.back().first < end) open_[ended_.back().producer_id] = ended_.back().first;
      ended_.pop_back();
    }
    while (!aborted_.empty() && aborted_.back().last_offset >= end) aborted_.pop_back();
  }

 private:
  static std::string SnapshotName(int64_t offset) {
    return absl::StrFormat("%020d.snapshot", offset);
  }
  std::string SnapshotPath(int64_t offset) const {
    return absl::StrCat(dir_, "/", SnapshotName(offset));
  }
  // The offsets of the snapshot files in dir_, ascending.
  std::vector<int64_t> SnapshotOffsets() const {
    std::vector<int64_t> out;
    absl::StatusOr<std::vector<std::string>> names = fs_->ListDir(dir_);
    if (!names.ok()) return out;
    for (const std::string& name : *names) {
      int64_t offset = 0;
      if (name.size() == 29 && absl::EndsWith(name, ".snapshot") &&
          absl::SimpleAtoi(name.substr(0, 20), &offset) && offset >= 0) {
        out.push_back(offset);
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // Snapshot file: "EVHS", u16 version, u16 0, i64 end, u32 + the
  // sequencer's snapshot, then the open, ended and aborted transactions
  // (u32 count, then i64 fields each), then u64 XXH3 of all before.
  std::vector<std::byte> Encode(Offset end) const {
    std::vector<std::byte> out;
    for (char c : {'E', 'V', 'H', 'S'}) out.push_back(static_cast<std::byte>(c));
    Put<uint16_t>(out, 1);
    Put<uint16_t>(out, 0);
    Put<int64_t>(out, end.value());
    const std::vector<std::byte> producers = sequencer_.EncodeSnapshot(end);
    Put<uint32_t>(out, static_cast<uint32_t>(producers.size()));
    out.insert(out.end(), producers.begin(), producers.end());
    Put<uint32_t>(out, static_cast<uint32_t>(open_.size()));
    for (const auto& [id, first] : open_) {
      Put<int64_t>(out, id.value());
      Put<int64_t>(out, first.value());
    }
    Put<uint32_t>(out, static_cast<uint32_t>(ended_.size()));
    for (const Ended& e : ended_) {
      Put<int64_t>(out, e.producer_id.value());
      Put<int64_t>(out, e.first.value());
      Put<int64_t>(out, e.marker.value());
    }
    Put<uint32_t>(out, static_cast<uint32_t>(aborted_.size()));
    for (const AbortedTransaction& a : aborted_) {
      Put<int64_t>(out, a.producer_id.value());
      Put<int64_t>(out, a.first_offset.value());
      Put<int64_t>(out, a.last_offset.value());
    }
    Put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
    return out;
  }

  // Replaces the state with snapshot `offset`'s; false (state unchanged)
  // when it cannot be read or does not check out.
  bool Load(int64_t offset) {
    absl::StatusOr<std::unique_ptr<File>> file =
        fs_->Open(SnapshotPath(offset), OpenMode::kReadOnly);
    if (!file.ok()) return false;
    absl::StatusOr<uint64_t> size = (*file)->Size();
    if (!size.ok() || *size < 28 || *size > (uint64_t{1} << 30)) return false;
    std::vector<std::byte> bytes(*size);
    absl::StatusOr<size_t> n = (*file)->ReadAt(0, bytes);
    if (!n.ok() || *n != bytes.size()) return false;
    const size_t body = bytes.size() - 8;
    if (LoadBigEndian<uint64_t>(bytes.data() + body) != XXH3_64bits(bytes.data(), body)) {
      return false;
    }
    if (std::memcmp(bytes.data(), "EVHS", 4) != 0) return false;
    Reader in(ByteView(bytes).first(body).subspan(4));
    uint16_t version = 0;
    uint16_t reserved = 0;
    int64_t end = 0;
    uint32_t producers_bytes = 0;
    if (!in.Get(version) || !in.Get(reserved) || !in.Get(end) || !in.Get(producers_bytes) ||
        version != 1 || end != offset || producers_bytes > in.remaining()) {
      return false;
    }
    const size_t producers_at = 4 + 2 + 2 + 8 + 4;
    IdempotentSequencer sequencer;
    absl::StatusOr<Offset> loaded =
        sequencer.LoadSnapshot(ByteView(bytes).subspan(producers_at, producers_bytes));
    if (!loaded.ok() || *loaded != Offset(end)) return false;
    Reader rest(ByteView(bytes).first(body).subspan(producers_at + producers_bytes));
    std::map<ProducerId, Offset> open;
    std::deque<Ended> ended;
    std::vector<AbortedTransaction> aborted;
    uint32_t count = 0;
    if (!rest.Get(count)) return false;
    for (uint32_t i = 0; i < count; ++i) {
      int64_t id = 0, first = 0;
      if (!rest.Get(id) || !rest.Get(first)) return false;
      open[ProducerId(id)] = Offset(first);
    }
    if (!rest.Get(count)) return false;
    for (uint32_t i = 0; i < count; ++i) {
      int64_t id = 0, first = 0, marker = 0;
      if (!rest.Get(id) || !rest.Get(first) || !rest.Get(marker)) return false;
      ended.push_back({ProducerId(id), Offset(first), Offset(marker)});
    }
    if (!rest.Get(count)) return false;
    for (uint32_t i = 0; i < count; ++i) {
      int64_t id = 0, first = 0, last = 0;
      if (!rest.Get(id) || !rest.Get(first) || !rest.Get(last)) return false;
      aborted.push_back({ProducerId(id), Offset(first), Offset(last)});
    }
    if (rest.remaining() != 0) return false;
    sequencer_ = std::move(sequencer);
    open_ = std::move(open);
    ended_ = std::move(ended);
    aborted_ = std::move(aborted);
    return true;
  }

  Clock& clock_;
  const int64_t expiration_ms_;
  FileSystem* const fs_;
  const std::string dir_;
  int64_t last_expiry_check_ms_ = 0;
  uint32_t appends_since_check_ = 0;

  // A transaction that ended (its marker's offset), kept while the marker
  // may still be above the high watermark and for truncations.
  struct Ended {
    ProducerId producer_id;
    Offset first;
    Offset marker;
  };
  static constexpr size_t kEndedKept = 1000;

  void TrackTransactions(ByteView batch, const AppendResult& result) {
    namespace F = record_format;
    const auto attributes = internal::LoadBigEndian<uint16_t>(batch.data() + F::kAttributesOffset);
    if ((attributes & F::kTransactionalFlagMask) == 0) return;
    const ProducerId producer = ProducerBatchInfo::OfHeader(batch).producer_id;
    if ((attributes & F::kControlFlagMask) == 0) {
      open_.try_emplace(producer, result.base_offset);
      return;
    }
    auto it = open_.find(producer);
    if (it == open_.end()) return;  // a marker for a transaction with nothing here
    const Offset first = it->second;
    open_.erase(it);
    ended_.push_back({producer, first, result.last_offset});
    if (ended_.size() > kEndedKept) ended_.pop_front();
    if (IsAbortMarker(batch)) aborted_.push_back({producer, first, result.last_offset});
  }

  static bool IsControl(ByteView batch) {
    return (internal::LoadBigEndian<uint16_t>(batch.data() + record_format::kAttributesOffset) &
            record_format::kControlFlagMask) != 0;
  }

  static bool IsAbortMarker(ByteView batch) {
    absl::StatusOr<RecordBatchView> view = RecordBatchView::Parse(batch);
    if (!view.ok()) return false;
    absl::StatusOr<RecordIterator> records = view->Records();
    if (!records.ok() || !records->Valid()) return false;
    absl::StatusOr<ControlRecordType> type = ParseControlRecordType(records->record());
    return type.ok() && *type == ControlRecordType::kAbort;
  }

  // Producers with an open transaction here, and where it starts.
  std::map<ProducerId, Offset> open_;
  std::deque<Ended> ended_;
  std::vector<AbortedTransaction> aborted_;
  IdempotentSequencer sequencer_;
};

}  // namespace

std::unique_ptr<ProducerStateHook> MakeProducerStateHook(Clock& clock, int64_t expiration_ms,
                                                         FileSystem* fs, std::string dir) {
  return std::make_unique<IdempotenceHook>(clock, expiration_ms, fs, std::move(dir));
}

}  // namespace evlog
