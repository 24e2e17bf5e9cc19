// evlog/status.h — errors.
//
// Every fallible evlog call returns absl::Status or absl::StatusOr<T>. A
// status made by evlog carries two things:
//
//   * an absl::StatusCode chosen by how the caller should react (retry later:
//     kUnavailable; fix the request: kInvalidArgument; the data is bad:
//     kDataLoss; ...), so generic code that knows only Abseil does the right
//     thing; and
//   * the Kafka error that applies, as an evlog::ErrorCode with Kafka's
//     number, stored as a payload, so a Kafka-aware caller (and later the
//     wire-protocol front end) can tell OUT_OF_ORDER_SEQUENCE_NUMBER from
//     INVALID_PRODUCER_EPOCH.
//
// Example:
//
//   absl::Status s = evlog::MakeError(evlog::ErrorCode::kOffsetOutOfRange,
//                                     "offset 42 is past the log end 40");
//   assert(s.code() == absl::StatusCode::kOutOfRange);
//   assert(evlog::GetErrorCode(s) == evlog::ErrorCode::kOffsetOutOfRange);
//
// Statuses that did not come from MakeError (from Abseil, or a user's plug-in)
// map to an ErrorCode by their canonical code; see GetErrorCode.
//
// Thread-safety: all functions here are pure and thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace evlog {

// Kafka protocol error codes that evlog can produce, with Kafka's numbers
// (kafka-clients Errors.java). The numbers are stable: they cross the wire.
enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kBrokerNotAvailable = 8,
  kReplicaNotAvailable = 9,
  kMessageTooLarge = 10,
  kStaleControllerEpoch = 11,
  kOffsetMetadataTooLarge = 12,
  kNetworkException = 13,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kNotEnoughReplicas = 19,
  kNotEnoughReplicasAfterAppend = 20,
  kInvalidRequiredAcks = 21,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kInvalidTimestamp = 32,
  kUnsupportedVersion = 35,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kNotController = 41,
  kInvalidRequest = 42,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTxnState = 48,
  kInvalidProducerIdMapping = 49,
  kInvalidTransactionTimeout = 50,
  kConcurrentTransactions = 51,
  kTransactionCoordinatorFenced = 52,
  kKafkaStorageError = 56,
  kLogDirNotFound = 57,
  kUnknownProducerId = 59,
  kNonEmptyGroup = 68,
  kGroupIdNotFound = 69,
  kFencedLeaderEpoch = 74,
  kUnknownLeaderEpoch = 75,
  kUnsupportedCompressionType = 76,
  kStaleBrokerEpoch = 77,
  kOffsetNotAvailable = 78,
  kMemberIdRequired = 79,
  kPreferredLeaderNotAvailable = 80,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kEligibleLeadersNotAvailable = 83,
  kElectionNotNeeded = 84,
  kInvalidRecord = 87,
  kUnstableOffsetCommit = 88,
  kProducerFenced = 90,
  kInvalidUpdateVersion = 95,
  kDuplicateBrokerRegistration = 101,
  kBrokerIdNotRegistered = 102,
  kIneligibleReplica = 107,
  kNewLeaderElected = 108,
  kFencedMemberEpoch = 110,
  kStaleMemberEpoch = 113,
  kTransactionAbortable = 120,
};

// Kafka's upper-case name of `code`, e.g. "OFFSET_OUT_OF_RANGE".
std::string_view ErrorCodeName(ErrorCode code);

// True when Kafka classifies `code` as retriable (the same request may
// succeed later without any change by the caller).
bool IsRetriable(ErrorCode code);

// The canonical Abseil code evlog uses for `code`: how a caller that knows
// nothing of Kafka should react.
absl::StatusCode CanonicalCode(ErrorCode code);

// A non-OK status with CanonicalCode(code), the message "<NAME>: <message>",
// and `code` attached. REQUIRES: code != ErrorCode::kNone.
absl::Status MakeError(ErrorCode code, std::string_view message);

// The ErrorCode of `status`: kNone for OK; the attached code for statuses
// made by MakeError; otherwise derived from the canonical code
// (kDataLoss -> kCorruptMessage, kOutOfRange -> kOffsetOutOfRange,
// kDeadlineExceeded -> kRequestTimedOut, kNotFound -> kUnknownTopicOrPartition,
// kInvalidArgument -> kInvalidRequest, kUnavailable -> kKafkaStorageError
// for I/O, anything else -> kUnknownServerError).
ErrorCode GetErrorCode(const absl::Status& status);

// True when `status` carries `code` (see GetErrorCode).
inline bool HasErrorCode(const absl::Status& status, ErrorCode code) {
  return GetErrorCode(status) == code;
}

// Adds context in front of a non-OK status's message, keeping its code and
// payloads: "while <context>: <original message>".
absl::Status Annotate(const absl::Status& status, std::string_view context);

namespace internal {
// Converts without relying on absl::string_view being std::string_view: on
// Debian's Abseil it is not, so every call into Abseil goes through here.
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }
inline std::string_view FromAbsl(absl::string_view s) { return {s.data(), s.size()}; }
}  // namespace internal

}  // namespace evlog

#define EVLOG_STATUS_CONCAT_INNER_(a, b) a##b
#define EVLOG_STATUS_CONCAT_(a, b) EVLOG_STATUS_CONCAT_INNER_(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define EVLOG_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status evlog_status_ = (expr);         \
    if (!evlog_status_.ok()) return evlog_status_; \
  } while (false)

// EVLOG_ASSIGN_OR_RETURN(lhs, expr): evaluates `expr` (an absl::StatusOr<T>),
// returns its status from the enclosing function when not OK, otherwise
// moves the value into `lhs` (which may declare a variable: `auto x`).
#define EVLOG_ASSIGN_OR_RETURN(lhs, expr) \
  EVLOG_ASSIGN_OR_RETURN_IMPL_(EVLOG_STATUS_CONCAT_(evlog_statusor_, __LINE__), lhs, expr)
#define EVLOG_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                 \
  if (!tmp.ok()) return std::move(tmp).status();     \
  lhs = std::move(tmp).value()
