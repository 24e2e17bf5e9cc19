#include "evlog/replication/replica_messages.h"

#include <algorithm>
#include <string>
#include <vector>

#include "tests/support/catch.h"

namespace evlog {
namespace {

FetchRequest SampleRequest() {
  FetchRequest r;
  r.topic = "orders";
  r.partition = PartitionId(7);
  r.replica_id = BrokerId(3);
  r.current_leader_epoch = LeaderEpoch(12);
  r.fetch_offset = Offset(1'234'567'890'123);
  r.last_fetched_epoch = LeaderEpoch(11);
  r.log_start_offset = Offset(40);
  r.max_bytes = 65'536;
  r.max_wait_ms = 250;
  return r;
}

FetchResponse SampleResponse() {
  FetchResponse r;
  r.error = ErrorCode::kNone;
  r.leader_id = BrokerId(1);
  r.leader_epoch = LeaderEpoch(12);
  r.high_watermark = Offset(90);
  r.log_start_offset = Offset(40);
  r.log_end_offset = Offset(100);
  r.diverging = true;
  r.diverging_epoch = LeaderEpoch(9);
  r.diverging_end_offset = Offset(77);
  static const std::vector<std::byte> records = [] {
    std::vector<std::byte> bytes;
    for (int i = 0; i < 300; ++i) bytes.push_back(std::byte(i % 251));
    return bytes;
  }();
  r.records = records;
  return r;
}

void CheckSame(const FetchRequest& a, const FetchRequest& b) {
  CHECK(a.topic == b.topic);
  CHECK(a.partition == b.partition);
  CHECK(a.replica_id == b.replica_id);
  CHECK(a.current_leader_epoch == b.current_leader_epoch);
  CHECK(a.fetch_offset == b.fetch_offset);
  CHECK(a.last_fetched_epoch == b.last_fetched_epoch);
  CHECK(a.log_start_offset == b.log_start_offset);
  CHECK(a.max_bytes == b.max_bytes);
  CHECK(a.max_wait_ms == b.max_wait_ms);
}

TEST_CASE("fetch requests and responses survive encoding field for field") {
  const FetchRequest request = SampleRequest();
  absl::StatusOr<FetchRequest> decoded =
      DecodeFetchRequest(EncodeFetchRequest(request), replica_api::kFetchVersion);
  REQUIRE(decoded.ok());
  CheckSame(*decoded, request);

  for (ErrorCode error : {ErrorCode::kNone, ErrorCode::kFencedLeaderEpoch,
                          ErrorCode::kNotLeaderOrFollower, ErrorCode::kOffsetOutOfRange}) {
    FetchResponse response = SampleResponse();
    response.error = error;
    response.diverging = error == ErrorCode::kNone;
    const std::vector<std::byte> encoded = EncodeFetchResponse(response);
    absl::StatusOr<FetchResponse> back = DecodeFetchResponse(encoded, replica_api::kFetchVersion);
    REQUIRE(back.ok());
    CHECK(back->error == error);
    CHECK(back->leader_id == response.leader_id);
    CHECK(back->leader_epoch == response.leader_epoch);
    CHECK(back->high_watermark == response.high_watermark);
    CHECK(back->log_start_offset == response.log_start_offset);
    CHECK(back->log_end_offset == response.log_end_offset);
    CHECK(back->diverging == response.diverging);
    CHECK(back->diverging_epoch == response.diverging_epoch);
    CHECK(back->diverging_end_offset == response.diverging_end_offset);
    CHECK(std::equal(back->records.begin(), back->records.end(), response.records.begin(),
                     response.records.end()));
    // Decoded in place: the batches are not copied out of the message.
    CHECK(back->records.data() >= encoded.data());
    CHECK(back->records.data() + back->records.size() == encoded.data() + encoded.size());
  }
}

TEST_CASE("every cut-off fetch message is CORRUPT_MESSAGE, never a partial value") {
  const std::vector<std::byte> request = EncodeFetchRequest(SampleRequest());
  for (size_t n = 0; n < request.size(); ++n) {
    CAPTURE(n);
    CHECK(GetErrorCode(DecodeFetchRequest(ByteView(request.data(), n), replica_api::kFetchVersion)
                           .status()) == ErrorCode::kCorruptMessage);
  }
  const std::vector<std::byte> response = EncodeFetchResponse(SampleResponse());
  for (size_t n = 0; n < response.size(); ++n) {
    CAPTURE(n);
    CHECK(GetErrorCode(DecodeFetchResponse(ByteView(response.data(), n), replica_api::kFetchVersion)
                           .status()) == ErrorCode::kCorruptMessage);
  }
  // Trailing bytes are as wrong as missing ones.
  std::vector<std::byte> longer = request;
  longer.push_back(std::byte{0});
  CHECK(GetErrorCode(DecodeFetchRequest(longer, replica_api::kFetchVersion).status()) ==
        ErrorCode::kCorruptMessage);
}

TEST_CASE("unknown versions and nonsensical requests are refused with their codes") {
  const std::vector<std::byte> request = EncodeFetchRequest(SampleRequest());
  CHECK(GetErrorCode(DecodeFetchRequest(request, replica_api::kFetchVersion + 1).status()) ==
        ErrorCode::kUnsupportedVersion);
  CHECK(GetErrorCode(DecodeFetchResponse(EncodeFetchResponse(SampleResponse()), 9).status()) ==
        ErrorCode::kUnsupportedVersion);
  FetchRequest negative = SampleRequest();
  negative.fetch_offset = Offset(-1);
  CHECK(GetErrorCode(DecodeFetchRequest(EncodeFetchRequest(negative), replica_api::kFetchVersion)
                         .status()) == ErrorCode::kInvalidRequest);
  negative = SampleRequest();
  negative.max_wait_ms = -5;
  CHECK(GetErrorCode(DecodeFetchRequest(EncodeFetchRequest(negative), replica_api::kFetchVersion)
                         .status()) == ErrorCode::kInvalidRequest);
}

}  // namespace
}  // namespace evlog
