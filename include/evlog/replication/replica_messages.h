// evlog/replication/replica_messages.h — what a follower and its leader say
// to each other, and how it is encoded for a Transport.
//
// A follower pulls: it sends a FetchRequest for its partition from its log
// end offset, naming the epoch of its last batch; the leader answers with
// batches, its high watermark, or — when the follower's log has diverged
// from its own — the epoch and end offset where they part (Kafka's
// DivergingEpoch, KIP-320/KIP-595), so that the follower truncates there.
//
// Encodings are versioned and big-endian (Kafka's style, not Kafka's
// exact Fetch layout: one partition per request, and the fields evlog
// needs). Decoders check every length against the input and fail with
// CORRUPT_MESSAGE; a version they do not know is UNSUPPORTED_VERSION.
//
// Thread-safety: values and free functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/status.h"
#include "evlog/types.h"

namespace evlog {

// Transport api keys of replication messages (Kafka's where one exists).
namespace replica_api {
inline constexpr uint16_t kFetch = 1;
inline constexpr uint16_t kFetchVersion = 0;
}  // namespace replica_api

struct FetchRequest {
  std::string topic;
  PartitionId partition;
  // The follower asking.
  BrokerId replica_id;
  // The leader epoch the follower believes current: the leader fences an
  // older one (FENCED_LEADER_EPOCH) and does not yet know a newer one
  // (UNKNOWN_LEADER_EPOCH).
  LeaderEpoch current_leader_epoch = kNoLeaderEpoch;
  // The follower's log end offset: everything before it is acknowledged.
  Offset fetch_offset;
  // Epoch of the follower's last batch (kNoLeaderEpoch for an empty log):
  // the leader checks that its own log agrees up to fetch_offset.
  LeaderEpoch last_fetched_epoch = kNoLeaderEpoch;
  Offset log_start_offset;
  int32_t max_bytes = 1 << 20;
  // How long the leader may hold the request while it has nothing new.
  int32_t max_wait_ms = 0;
};

struct FetchResponse {
  ErrorCode error = ErrorCode::kNone;
  // The leader as the answering broker knows it, so a follower with stale
  // metadata learns where to go (NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH).
  BrokerId leader_id{-1};
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
  Offset high_watermark{-1};
  Offset log_start_offset{-1};
  Offset log_end_offset{-1};
  // Set when the follower's log diverges from the leader's before
  // fetch_offset; no records come with it. The leader's log ends epoch
  // `diverging_epoch` at `diverging_end_offset`: the follower truncates
  // there (or to its own end of that epoch, when shorter) and fetches
  // again. Both are -1 when the leader's epochs cannot place the follower's
  // last epoch: the follower then falls back to its high watermark (or the
  // leader's log start, when that is later), as Kafka does.
  bool diverging = false;
  LeaderEpoch diverging_epoch = kNoLeaderEpoch;
  Offset diverging_end_offset{-1};
  // Whole batches, as in the leader's log. A view, so that a fetch copies
  // them once, into the encoded answer: it points into the leader's read
  // buffer until the responder has encoded the answer (ReplicaSet calls it
  // before the buffer is reused), and a decoded answer points into the
  // bytes it was decoded from.
  ByteView records;
};

std::vector<std::byte> EncodeFetchRequest(const FetchRequest& request);
absl::StatusOr<FetchRequest> DecodeFetchRequest(ByteView bytes, uint16_t version);
std::vector<std::byte> EncodeFetchResponse(const FetchResponse& response);
// The answer's `records` point into `bytes`, which must outlive their use.
absl::StatusOr<FetchResponse> DecodeFetchResponse(ByteView bytes, uint16_t version);

}  // namespace evlog
