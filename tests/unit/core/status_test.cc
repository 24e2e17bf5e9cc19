#include "evlog/status.h"

#include <string>

#include "tests/support/catch.h"

namespace evlog {
namespace {

absl::StatusOr<int> Half(int x) {
  if (x % 2 != 0) return MakeError(ErrorCode::kInvalidRequest, "odd");
  return x / 2;
}

absl::StatusOr<int> Quarter(int x) {
  EVLOG_ASSIGN_OR_RETURN(int h, Half(x));
  EVLOG_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

absl::Status CheckEven(int x) {
  EVLOG_RETURN_IF_ERROR(Half(x).status());
  return absl::OkStatus();
}

TEST_CASE("a status made from an error code carries the Kafka code and a canonical code") {
  absl::Status s = MakeError(ErrorCode::kOffsetOutOfRange, "offset 42 is past the end");
  CHECK(s.code() == absl::StatusCode::kOutOfRange);
  CHECK(GetErrorCode(s) == ErrorCode::kOffsetOutOfRange);
  CHECK(static_cast<int>(GetErrorCode(s)) == 1);
  CHECK(std::string(s.message()) == "OFFSET_OUT_OF_RANGE: offset 42 is past the end");
  CHECK(HasErrorCode(s, ErrorCode::kOffsetOutOfRange));
  CHECK_FALSE(HasErrorCode(s, ErrorCode::kCorruptMessage));
}

TEST_CASE("Kafka error numbers match the protocol") {
  CHECK(static_cast<int>(ErrorCode::kCorruptMessage) == 2);
  CHECK(static_cast<int>(ErrorCode::kNotLeaderOrFollower) == 6);
  CHECK(static_cast<int>(ErrorCode::kNotEnoughReplicas) == 19);
  CHECK(static_cast<int>(ErrorCode::kIllegalGeneration) == 22);
  CHECK(static_cast<int>(ErrorCode::kOutOfOrderSequenceNumber) == 45);
  CHECK(static_cast<int>(ErrorCode::kInvalidProducerEpoch) == 47);
  CHECK(static_cast<int>(ErrorCode::kProducerFenced) == 90);
  CHECK(ErrorCodeName(ErrorCode::kNotEnoughReplicasAfterAppend) ==
        "NOT_ENOUGH_REPLICAS_AFTER_APPEND");
  CHECK(IsRetriable(ErrorCode::kNotLeaderOrFollower));
  CHECK_FALSE(IsRetriable(ErrorCode::kOffsetOutOfRange));
}

TEST_CASE("statuses not made by evlog map to an error code by their canonical code") {
  CHECK(GetErrorCode(absl::OkStatus()) == ErrorCode::kNone);
  CHECK(GetErrorCode(absl::DataLossError("x")) == ErrorCode::kCorruptMessage);
  CHECK(GetErrorCode(absl::OutOfRangeError("x")) == ErrorCode::kOffsetOutOfRange);
  CHECK(GetErrorCode(absl::InternalError("x")) == ErrorCode::kUnknownServerError);
}

TEST_CASE("annotating a status keeps its codes and prefixes the context") {
  absl::Status s = Annotate(MakeError(ErrorCode::kCorruptMessage, "bad crc"), "reading 00.log");
  CHECK(s.code() == absl::StatusCode::kDataLoss);
  CHECK(GetErrorCode(s) == ErrorCode::kCorruptMessage);
  CHECK(std::string(s.message()) == "while reading 00.log: CORRUPT_MESSAGE: bad crc");
  CHECK(Annotate(absl::OkStatus(), "x").ok());
}

TEST_CASE("EVLOG_ASSIGN_OR_RETURN and EVLOG_RETURN_IF_ERROR propagate the first error") {
  CHECK(*Quarter(8) == 2);
  absl::StatusOr<int> odd_half = Quarter(6);  // 6 -> 3 -> odd
  REQUIRE_FALSE(odd_half.ok());
  CHECK(GetErrorCode(odd_half.status()) == ErrorCode::kInvalidRequest);
  CHECK(CheckEven(4).ok());
  CHECK(GetErrorCode(CheckEven(5)) == ErrorCode::kInvalidRequest);
}

}  // namespace
}  // namespace evlog
