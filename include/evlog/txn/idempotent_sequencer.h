// evlog/txn/idempotent_sequencer.h — per-partition producer state: which
// batches of which idempotent producer a partition holds, so that a retry
// is recognised instead of written twice (KIP-98, Kafka's
// ProducerStateManager).
//
//   evlog::IdempotentSequencer sequencer;
//   auto info = evlog::ProducerBatchInfo::Of(batch_view);
//   EVLOG_ASSIGN_OR_RETURN(evlog::SequenceDecision d, sequencer.Check(info));
//   if (d.duplicate) return d.original;            // success: the first copy's offsets
//   ... append the batch at base..last ...
//   sequencer.Record(info, {base, last, timestamp_ms}, now_ms);
//
// Per producer id it keeps the producer epoch and the metadata of the last
// five batches (Kafka's NUM_BATCHES_TO_RETAIN), which is as many as an
// idempotent producer has in flight per partition. A batch of that epoch
// whose first sequence follows the last one is appended; a batch equal
// (same epoch, first and last sequence) to a retained one is a duplicate:
// the caller answers with the original offsets and appends nothing. The
// leader checks client batches; followers, and recovery replaying a log,
// only Record what the log holds.
//
// Sequences are int32 and wrap from INT32_MAX to 0. A producer the
// sequencer does not know (new, expired or removed by a truncation) is
// accepted at any sequence, as Kafka's broker does.
//
// Snapshot: EncodeSnapshot/DecodeSnapshot give a versioned, checksummed
// image of the state as of a log offset; a partition writes one at segment
// roll and replays its log after that offset on open.
//
// Thread-safety: none; the partition's append path serialises its calls.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/types.h"

namespace evlog {

class RecordBatchView;

// What the sequencer reads of a batch (its producer fields).
struct ProducerBatchInfo {
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch producer_epoch = kNoProducerEpoch;
  Sequence first_sequence = kNoSequence;
  // Records in the batch. REQUIRES: >= 1 for an idempotent batch.
  int32_t record_count = 0;

  static ProducerBatchInfo Of(const RecordBatchView& batch);
  // The same from a batch's header bytes, unchecked. REQUIRES: at least
  // record_format::kRecordBatchOverhead bytes.
  static ProducerBatchInfo OfHeader(ByteView batch);

  // Whether the batch comes from an idempotent producer at all.
  bool idempotent() const { return producer_id != kNoProducerId; }
  // The sequence of its last record, wrapping at INT32_MAX.
  Sequence last_sequence() const;
};

// Where a batch went in the log.
struct BatchPlacement {
  Offset first_offset;
  Offset last_offset;
  int64_t timestamp_ms = -1;

  friend bool operator==(const BatchPlacement&, const BatchPlacement&) = default;
};

// One retained batch of a producer.
struct RetainedBatch {
  Sequence first_sequence;
  Sequence last_sequence;
  BatchPlacement placement;

  friend bool operator==(const RetainedBatch&, const RetainedBatch&) = default;
};

struct ProducerStateEntry {
  ProducerEpoch epoch;
  // Oldest first; at most IdempotentSequencer::kRetainedBatches.
  std::deque<RetainedBatch> batches;
  // When it last appended (the caller's clock, ms): expiry counts from here.
  int64_t last_update_ms = 0;

  friend bool operator==(const ProducerStateEntry&, const ProducerStateEntry&) = default;
};

// Check's answer for a batch it accepts.
struct SequenceDecision {
  // True: a retry of a retained batch; append nothing and answer with
  // `original`.
  bool duplicate = false;
  BatchPlacement original;
};

class IdempotentSequencer {
 public:
  static constexpr size_t kRetainedBatches = 5;

  IdempotentSequencer() = default;

  // Decides what to do with a client batch; changes nothing. Errors:
  // INVALID_PRODUCER_EPOCH (an epoch older than the producer's: a fenced
  // or zombie instance); OUT_OF_ORDER_SEQUENCE_NUMBER (a new epoch not
  // starting at sequence 0, or a gap after the last sequence);
  // DUPLICATE_SEQUENCE_NUMBER (behind the last sequence but older than the
  // retained batches, so its offsets are no longer known); INVALID_RECORD
  // for an idempotent batch without records.
  [[nodiscard]] absl::StatusOr<SequenceDecision> Check(const ProducerBatchInfo& batch) const;

  // Notes that `batch` is in the log at `placement` (after an append the
  // Check allowed, or a follower's or recovery's replay of the log, which
  // are not checked). A newer epoch replaces the producer's state; a
  // non-idempotent batch is ignored. `now_ms` stamps the producer for
  // ExpireIdle.
  void Record(const ProducerBatchInfo& batch, const BatchPlacement& placement, int64_t now_ms);

  // A batch of `producer_id` at `epoch` without a sequence, written by a
  // coordinator (a transaction marker, transactional offsets): a newer
  // epoch replaces the producer's state, so that its older instance's
  // batches are refused from now on.
  void ObserveEpoch(ProducerId producer_id, ProducerEpoch epoch, int64_t now_ms);

  // Forgets producers that appended nothing for `expiration_ms`
  // (producer.id.expiration.ms) before `now_ms`. Returns how many.
  size_t ExpireIdle(int64_t now_ms, int64_t expiration_ms);

  // After the log was truncated to `end` (a follower whose log diverged):
  // forgets retained batches at or past `end`, and producers left with
  // none (they are then unknown, and accepted at any sequence).
  void TruncateTo(Offset end);

  // The state of `producer_id`, if known.
  const ProducerStateEntry* producer(ProducerId producer_id) const;
  size_t producer_count() const { return producers_.size(); }
  const std::map<ProducerId, ProducerStateEntry>& producers() const { return producers_; }

  // The state, as of log offset `end_offset` (exclusive), in a versioned
  // format with an XXH3 checksum.
  [[nodiscard]] std::vector<std::byte> EncodeSnapshot(Offset end_offset) const;
  // Replaces this state with a snapshot's and returns its end offset.
  // Errors: CORRUPT_MESSAGE (truncated, checksum mismatch, unknown version,
  // impossible values); the state is unchanged then.
  [[nodiscard]] absl::StatusOr<Offset> LoadSnapshot(ByteView snapshot);

 private:
  std::map<ProducerId, ProducerStateEntry> producers_;
};

// Kafka's producer.id.expiration.ms default: a day.
inline constexpr int64_t kDefaultProducerIdExpirationMs = 86'400'000;

// A Partition's producer-state hook (Partition::SetProducerStateHook):
// an IdempotentSequencer, which makes the partition idempotent, and the
// partition's transactions — open ones (a transactional batch of a
// producer without its COMMIT/ABORT marker yet) for the last stable
// offset, aborted ones for read_committed readers. Idle producers expire
// after `expiration_ms` of `clock`'s wall time, checked at most every ten
// minutes as batches come. Aborted transactions are kept for the life of
// the partition object (Kafka keeps them per segment, in .txnindex files,
// and drops them with the segment); they are rebuilt from the log when a
// partition opens.
//
// With `fs`, the hook saves its state in `dir` (the partition's directory)
// as `<20-digit log end offset>.snapshot` files when the partition
// checkpoints it (segment rolls, clean closes), keeping the two newest, and
// restores the newest usable one when the partition opens; without, a
// partition replays its whole log on open.
std::unique_ptr<ProducerStateHook> MakeProducerStateHook(
    Clock& clock, int64_t expiration_ms = kDefaultProducerIdExpirationMs, FileSystem* fs = nullptr,
    std::string dir = {});

}  // namespace evlog
