#include "evlog/replication/replica_messages.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/record/internal/wire.h"

namespace evlog {

namespace {

using internal::WireReader;
using internal::WireWriter;

absl::Status Corrupt(std::string_view what, std::string_view why) {
  return MakeError(ErrorCode::kCorruptMessage,
                   absl::StrCat(internal::ToAbsl(what), ": ", internal::ToAbsl(why)));
}

absl::Status CheckVersion(std::string_view what, uint16_t version) {
  if (version == replica_api::kFetchVersion) return absl::OkStatus();
  return MakeError(ErrorCode::kUnsupportedVersion,
                   absl::StrCat(internal::ToAbsl(what), " version ", version, " (this build reads ",
                                replica_api::kFetchVersion, ")"));
}

}  // namespace

std::vector<std::byte> EncodeFetchRequest(const FetchRequest& r) {
  WireWriter out(64 + r.topic.size());
  out.String(r.topic);
  out.Int(r.partition);
  out.Int(r.replica_id);
  out.Int(r.current_leader_epoch);
  out.Int(r.fetch_offset);
  out.Int(r.last_fetched_epoch);
  out.Int(r.log_start_offset);
  out.Int(r.max_bytes);
  out.Int(r.max_wait_ms);
  return std::move(out).Take();
}

absl::StatusOr<FetchRequest> DecodeFetchRequest(ByteView bytes, uint16_t version) {
  constexpr std::string_view kWhat = "fetch request";
  EVLOG_RETURN_IF_ERROR(CheckVersion(kWhat, version));
  WireReader in(bytes);
  FetchRequest r;
  if (!in.String(r.topic) || !in.Int(r.partition) || !in.Int(r.replica_id) ||
      !in.Int(r.current_leader_epoch) || !in.Int(r.fetch_offset) || !in.Int(r.last_fetched_epoch) ||
      !in.Int(r.log_start_offset) || !in.Int(r.max_bytes) || !in.Int(r.max_wait_ms)) {
    return Corrupt(kWhat, "truncated or malformed");
  }
  if (!in.done()) return Corrupt(kWhat, absl::StrCat(in.remaining(), " bytes after the request"));
  if (r.fetch_offset < Offset(0) || r.max_bytes < 0 || r.max_wait_ms < 0) {
    return MakeError(ErrorCode::kInvalidRequest,
                     "fetch request: negative fetch offset, max bytes or max wait");
  }
  return r;
}

std::vector<std::byte> EncodeFetchResponse(const FetchResponse& r) {
  WireWriter out(64 + r.records.size());
  out.Int(static_cast<int16_t>(r.error));
  out.Int(r.leader_id);
  out.Int(r.leader_epoch);
  out.Int(r.high_watermark);
  out.Int(r.log_start_offset);
  out.Int(r.log_end_offset);
  out.Bool(r.diverging);
  out.Int(r.diverging_epoch);
  out.Int(r.diverging_end_offset);
  out.Bytes(r.records);
  return std::move(out).Take();
}

absl::StatusOr<FetchResponse> DecodeFetchResponse(ByteView bytes, uint16_t version) {
  constexpr std::string_view kWhat = "fetch response";
  EVLOG_RETURN_IF_ERROR(CheckVersion(kWhat, version));
  WireReader in(bytes);
  FetchResponse r;
  int16_t error;
  if (!in.Int(error) || !in.Int(r.leader_id) || !in.Int(r.leader_epoch) ||
      !in.Int(r.high_watermark) || !in.Int(r.log_start_offset) || !in.Int(r.log_end_offset) ||
      !in.Bool(r.diverging) || !in.Int(r.diverging_epoch) || !in.Int(r.diverging_end_offset) ||
      !in.Bytes(r.records)) {
    return Corrupt(kWhat, "truncated or malformed");
  }
  if (!in.done()) return Corrupt(kWhat, absl::StrCat(in.remaining(), " bytes after the response"));
  r.error = static_cast<ErrorCode>(error);
  return r;
}

}  // namespace evlog
