#include "evlog/txn/idempotent_sequencer.h"

#include <cstdint>
#include <limits>
#include <vector>

#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

constexpr int32_t kMaxSeq = std::numeric_limits<int32_t>::max();

ProducerBatchInfo Batch(int64_t producer, int16_t epoch, int32_t first_seq, int32_t count) {
  ProducerBatchInfo b;
  b.producer_id = ProducerId(producer);
  b.producer_epoch = ProducerEpoch(epoch);
  b.first_sequence = Sequence(first_seq);
  b.record_count = count;
  return b;
}

// Checks `b` and, when it is to be appended, records it at the next
// offsets of a log that ends at `end` (moved past it).
SequenceDecision Append(IdempotentSequencer& s, const ProducerBatchInfo& b, int64_t& end,
                        int64_t now_ms = 0) {
  absl::StatusOr<SequenceDecision> d = s.Check(b);
  INFO(d.status());
  REQUIRE(d.ok());
  if (!d->duplicate) {
    const BatchPlacement at{Offset(end), Offset(end + b.record_count - 1), 1000 + end};
    s.Record(b, at, now_ms);
    end += b.record_count;
  }
  return *d;
}

TEST_CASE("a producer's batches must follow each other by sequence") {
  IdempotentSequencer s;
  int64_t end = 0;
  // Unknown producers start at any sequence (a producer whose state
  // expired keeps its sequence numbers).
  CHECK_FALSE(Append(s, Batch(7, 0, 40, 3), end).duplicate);
  CHECK_FALSE(Append(s, Batch(7, 0, 43, 2), end).duplicate);
  const ProducerStateEntry before = *s.producer(ProducerId(7));
  // A gap: 45 expected.
  CHECK(HasErrorCode(s.Check(Batch(7, 0, 46, 1)).status(), ErrorCode::kOutOfOrderSequenceNumber));
  // Overlapping a retained batch without being equal to one.
  CHECK(HasErrorCode(s.Check(Batch(7, 0, 41, 3)).status(), ErrorCode::kOutOfOrderSequenceNumber));
  CHECK(*s.producer(ProducerId(7)) == before);  // a refusal changes nothing
  CHECK_FALSE(Append(s, Batch(7, 0, 45, 1), end).duplicate);
  // Other producers are independent.
  CHECK_FALSE(Append(s, Batch(8, 0, 0, 1), end).duplicate);
  CHECK(s.producer_count() == 2);
}

TEST_CASE("a retry of any of the last five batches answers with its original offsets") {
  IdempotentSequencer s;
  int64_t end = 100;
  std::vector<BatchPlacement> placements;
  for (int i = 0; i < 7; ++i) {
    const int64_t first = end;
    Append(s, Batch(1, 3, i * 10, 10), end);
    placements.push_back({Offset(first), Offset(first + 9), 1000 + first});
  }
  for (int i = 2; i < 7; ++i) {
    absl::StatusOr<SequenceDecision> d = s.Check(Batch(1, 3, i * 10, 10));
    REQUIRE(d.ok());
    CHECK(d->duplicate);
    CHECK(d->original == placements[static_cast<size_t>(i)]);
  }
  // Older than the retained five: known to be written, offsets forgotten.
  CHECK(HasErrorCode(s.Check(Batch(1, 3, 10, 10)).status(), ErrorCode::kDuplicateSequenceNumber));
  CHECK(s.producer(ProducerId(1))->batches.size() == IdempotentSequencer::kRetainedBatches);
}

TEST_CASE("an older epoch is fenced and a newer one starts at sequence zero") {
  IdempotentSequencer s;
  int64_t end = 0;
  Append(s, Batch(5, 2, 0, 4), end);
  CHECK(HasErrorCode(s.Check(Batch(5, 1, 4, 1)).status(), ErrorCode::kInvalidProducerEpoch));
  CHECK(HasErrorCode(s.Check(Batch(5, 3, 4, 1)).status(), ErrorCode::kOutOfOrderSequenceNumber));
  CHECK_FALSE(Append(s, Batch(5, 3, 0, 2), end).duplicate);
  const ProducerStateEntry* state = s.producer(ProducerId(5));
  REQUIRE(state != nullptr);
  CHECK(state->epoch == ProducerEpoch(3));
  CHECK(state->batches.size() == 1);  // the old epoch's batches are gone
  // The old epoch's retry is now fenced, not a duplicate.
  CHECK(HasErrorCode(s.Check(Batch(5, 2, 0, 4)).status(), ErrorCode::kInvalidProducerEpoch));
}

TEST_CASE("sequences wrap from INT32_MAX to zero") {
  IdempotentSequencer s;
  int64_t end = 0;
  Append(s, Batch(9, 0, kMaxSeq - 1, 3), end);  // kMaxSeq-1, kMaxSeq, 0
  CHECK(s.producer(ProducerId(9))->batches.back().last_sequence == Sequence(0));
  // Inside the retained batch without being it.
  CHECK(HasErrorCode(s.Check(Batch(9, 0, 0, 1)).status(), ErrorCode::kOutOfOrderSequenceNumber));
  CHECK_FALSE(Append(s, Batch(9, 0, 1, 1), end).duplicate);
  CHECK(Append(s, Batch(9, 0, kMaxSeq - 1, 3), end).duplicate);
}

TEST_CASE("non-idempotent batches pass unchecked and leave no state") {
  IdempotentSequencer s;
  int64_t end = 0;
  CHECK_FALSE(Append(s, Batch(-1, -1, -1, 5), end).duplicate);
  CHECK_FALSE(Append(s, Batch(-1, -1, -1, 5), end).duplicate);
  CHECK(s.producer_count() == 0);
  CHECK(HasErrorCode(s.Check(Batch(3, 0, 0, 0)).status(), ErrorCode::kInvalidRecord));
  CHECK(HasErrorCode(s.Check(Batch(3, 0, -5, 1)).status(), ErrorCode::kInvalidRecord));
}

TEST_CASE("idle producers expire and truncation forgets batches past the new end") {
  IdempotentSequencer s;
  int64_t end = 0;
  Append(s, Batch(1, 0, 0, 2), end, /*now_ms=*/1'000);  // offsets 0-1
  Append(s, Batch(2, 0, 0, 2), end, /*now_ms=*/5'000);  // 2-3
  Append(s, Batch(2, 0, 2, 2), end, /*now_ms=*/5'000);  // 4-5
  CHECK(s.ExpireIdle(/*now_ms=*/6'000, /*expiration_ms=*/5'000) == 1);
  CHECK(s.producer(ProducerId(1)) == nullptr);
  s.TruncateTo(Offset(4));
  REQUIRE(s.producer(ProducerId(2)) != nullptr);
  CHECK(s.producer(ProducerId(2))->batches.size() == 1);
  // The truncated batch is expected again, not a duplicate.
  absl::StatusOr<SequenceDecision> d = s.Check(Batch(2, 0, 2, 2));
  REQUIRE(d.ok());
  CHECK_FALSE(d->duplicate);
  s.TruncateTo(Offset(0));
  CHECK(s.producer_count() == 0);
}

TEST_CASE("a producer state snapshot round-trips and rejects every corruption") {
  IdempotentSequencer s;
  int64_t end = 0;
  for (int i = 0; i < 7; ++i) Append(s, Batch(1, 4, i * 3, 3), end, 10 + i);
  Append(s, Batch(2, 0, kMaxSeq, 2), end, 99);
  const std::vector<std::byte> snapshot = s.EncodeSnapshot(Offset(end));

  IdempotentSequencer loaded;
  absl::StatusOr<Offset> at = loaded.LoadSnapshot(snapshot);
  REQUIRE(at.ok());
  CHECK(*at == Offset(end));
  CHECK(loaded.producers() == s.producers());

  IdempotentSequencer target;
  int64_t other_end = 0;
  Append(target, Batch(77, 0, 0, 1), other_end);
  const auto original = target.producers();
  for (size_t i = 0; i < snapshot.size(); ++i) {
    std::vector<std::byte> bad = snapshot;
    bad[i] ^= std::byte{0x20};
    CHECK(HasErrorCode(target.LoadSnapshot(bad).status(), ErrorCode::kCorruptMessage));
    CHECK(HasErrorCode(target.LoadSnapshot(ByteView(snapshot).first(i)).status(),
                       ErrorCode::kCorruptMessage));
  }
  CHECK(target.producers() == original);  // nothing loaded from a bad one
}

TEST_CASE("producer fields are read from a RecordBatch v2 batch") {
  RecordBatchOptions options;
  options.producer_id = ProducerId(4242);
  options.producer_epoch = ProducerEpoch(3);
  options.base_sequence = Sequence(17);
  RecordBatchBuilder builder(options);
  for (int i = 0; i < 4; ++i) REQUIRE(builder.Append(1000, std::nullopt, AsBytes("v")).ok());
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  auto view = RecordBatchView::Parse(*bytes);
  REQUIRE(view.ok());
  const ProducerBatchInfo info = ProducerBatchInfo::Of(*view);
  CHECK(info.producer_id == ProducerId(4242));
  CHECK(info.producer_epoch == ProducerEpoch(3));
  CHECK(info.first_sequence == Sequence(17));
  CHECK(info.record_count == 4);
  CHECK(info.last_sequence() == Sequence(20));
}

}  // namespace
}  // namespace evlog
