#include "evlog/record/control_record.h"

#include <vector>

#include "evlog/record/record_batch.h"
#include "evlog/status.h"
#include "record_test_util.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

TEST_CASE("commit and abort marker batches round trip") {
  for (auto type : {ControlRecordType::kCommit, ControlRecordType::kAbort}) {
    auto bytes = BuildEndTransactionMarkerBatch({type, 17}, ProducerId(42), ProducerEpoch(3), 1234,
                                                LeaderEpoch(9));
    CHECK(bytes.size() == EndTransactionMarkerBatchSize());
    auto view = RecordBatchView::Parse(ByteView(bytes));
    REQUIRE(view.ok());
    CHECK(view->Validate().ok());
    CHECK(view->is_control());
    CHECK(view->is_transactional());
    CHECK(view->producer_id() == ProducerId(42));
    CHECK(view->producer_epoch() == ProducerEpoch(3));
    CHECK(view->base_sequence() == kNoSequence);
    CHECK(view->partition_leader_epoch() == LeaderEpoch(9));
    CHECK(view->record_count() == 1);
    CHECK(view->compression() == CompressionType::kNone);
    auto it = view->Records();
    REQUIRE(it.ok());
    REQUIRE(it->Valid());
    const RecordView& r = it->record();
    CHECK(r.timestamp_ms == 1234);
    // key: version 0, type; value: version 0, coordinator epoch 17.
    REQUIRE(r.key.has_value());
    CHECK(ToString(*r.key) == std::string({0, 0, 0, static_cast<char>(type)}));
    REQUIRE(r.value.has_value());
    CHECK(ToString(*r.value) == std::string({0, 0, 0, 0, 0, 17}));
    auto parsed_type = ParseControlRecordType(r);
    REQUIRE(parsed_type.ok());
    CHECK(*parsed_type == type);
    auto marker = ParseEndTransactionMarker(r);
    REQUIRE(marker.ok());
    CHECK(marker->type == type);
    CHECK(marker->coordinator_epoch == 17);
    it->Next();
    CHECK_FALSE(it->Valid());
    CHECK(it->status().ok());
  }
}

TEST_CASE("marker batches are written into caller memory") {
  std::vector<std::byte> memory(EndTransactionMarkerBatchSize() + 10);
  auto size = WriteEndTransactionMarkerBatch(
      MutableByteView(memory), {ControlRecordType::kCommit, 1}, ProducerId(1), ProducerEpoch(0), 5);
  REQUIRE(size.ok());
  CHECK(*size == EndTransactionMarkerBatchSize());
  std::vector<std::byte> tiny(EndTransactionMarkerBatchSize() - 1);
  CHECK(HasErrorCode(
      WriteEndTransactionMarkerBatch(MutableByteView(tiny), {ControlRecordType::kCommit, 1},
                                     ProducerId(1), ProducerEpoch(0), 5)
          .status(),
      ErrorCode::kRecordListTooLarge));
  CHECK(HasErrorCode(
      WriteEndTransactionMarkerBatch(MutableByteView(memory), {ControlRecordType::kLeaderChange, 1},
                                     ProducerId(1), ProducerEpoch(0), 5)
          .status(),
      ErrorCode::kInvalidRecord));
}

TEST_CASE("malformed control records are corrupt") {
  RecordView r{};
  CHECK(HasErrorCode(ParseControlRecordType(r).status(), ErrorCode::kCorruptMessage));
  const std::string short_key("\0\0\0", 3);
  r.key = AsBytes(short_key);
  CHECK(HasErrorCode(ParseControlRecordType(r).status(), ErrorCode::kCorruptMessage));
  const std::string leader_change("\0\0\0\2", 4);
  r.key = AsBytes(leader_change);
  CHECK(*ParseControlRecordType(r) == ControlRecordType::kLeaderChange);
  CHECK(HasErrorCode(ParseEndTransactionMarker(r).status(), ErrorCode::kCorruptMessage));
  const std::string commit("\0\0\0\1", 4);
  r.key = AsBytes(commit);
  CHECK(HasErrorCode(ParseEndTransactionMarker(r).status(), ErrorCode::kCorruptMessage));
  const std::string short_value("\0\0\0\0\0", 5);
  r.value = AsBytes(short_value);
  CHECK(HasErrorCode(ParseEndTransactionMarker(r).status(), ErrorCode::kCorruptMessage));
}

TEST_CASE("a control batch whose record has no key is corrupt") {
  // Record without key in a batch flagged control.
  auto raw = testing::RawBatch(testing::Hex({0x0C, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00}), 1, 0,
                               record_format::kControlFlagMask);
  auto view = RecordBatchView::Parse(ByteView(raw));
  REQUIRE(view.ok());
  CHECK(HasErrorCode(view->Validate(), ErrorCode::kCorruptMessage));
}

}  // namespace
}  // namespace evlog
