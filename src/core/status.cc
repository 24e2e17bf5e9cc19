#include "evlog/status.h"

#include <string>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "evlog/check.h"

namespace evlog {
namespace {

// Payload key for the Kafka error code; the value is the decimal number.
constexpr absl::string_view kErrorCodePayload = "type.evlog.dev/evlog.ErrorCode";

struct ErrorInfo {
  ErrorCode code;
  std::string_view name;
  bool retriable;
  absl::StatusCode canonical;
};

using SC = absl::StatusCode;
constexpr ErrorInfo kErrors[] = {
    {ErrorCode::kUnknownServerError, "UNKNOWN_SERVER_ERROR", false, SC::kInternal},
    {ErrorCode::kNone, "NONE", false, SC::kOk},
    {ErrorCode::kOffsetOutOfRange, "OFFSET_OUT_OF_RANGE", false, SC::kOutOfRange},
    {ErrorCode::kCorruptMessage, "CORRUPT_MESSAGE", true, SC::kDataLoss},
    {ErrorCode::kUnknownTopicOrPartition, "UNKNOWN_TOPIC_OR_PARTITION", true, SC::kNotFound},
    {ErrorCode::kInvalidFetchSize, "INVALID_FETCH_SIZE", false, SC::kInvalidArgument},
    {ErrorCode::kLeaderNotAvailable, "LEADER_NOT_AVAILABLE", true, SC::kUnavailable},
    {ErrorCode::kNotLeaderOrFollower, "NOT_LEADER_OR_FOLLOWER", true, SC::kUnavailable},
    {ErrorCode::kRequestTimedOut, "REQUEST_TIMED_OUT", true, SC::kDeadlineExceeded},
    {ErrorCode::kBrokerNotAvailable, "BROKER_NOT_AVAILABLE", false, SC::kUnavailable},
    {ErrorCode::kReplicaNotAvailable, "REPLICA_NOT_AVAILABLE", true, SC::kUnavailable},
    {ErrorCode::kMessageTooLarge, "MESSAGE_TOO_LARGE", false, SC::kInvalidArgument},
    {ErrorCode::kStaleControllerEpoch, "STALE_CONTROLLER_EPOCH", false, SC::kFailedPrecondition},
    {ErrorCode::kOffsetMetadataTooLarge, "OFFSET_METADATA_TOO_LARGE", false, SC::kInvalidArgument},
    {ErrorCode::kNetworkException, "NETWORK_EXCEPTION", true, SC::kUnavailable},
    {ErrorCode::kCoordinatorLoadInProgress, "COORDINATOR_LOAD_IN_PROGRESS", true, SC::kUnavailable},
    {ErrorCode::kCoordinatorNotAvailable, "COORDINATOR_NOT_AVAILABLE", true, SC::kUnavailable},
    {ErrorCode::kNotCoordinator, "NOT_COORDINATOR", true, SC::kUnavailable},
    {ErrorCode::kInvalidTopicException, "INVALID_TOPIC_EXCEPTION", false, SC::kInvalidArgument},
    {ErrorCode::kRecordListTooLarge, "RECORD_LIST_TOO_LARGE", false, SC::kInvalidArgument},
    {ErrorCode::kNotEnoughReplicas, "NOT_ENOUGH_REPLICAS", true, SC::kUnavailable},
    {ErrorCode::kNotEnoughReplicasAfterAppend, "NOT_ENOUGH_REPLICAS_AFTER_APPEND", true,
     SC::kUnavailable},
    {ErrorCode::kInvalidRequiredAcks, "INVALID_REQUIRED_ACKS", false, SC::kInvalidArgument},
    {ErrorCode::kIllegalGeneration, "ILLEGAL_GENERATION", false, SC::kFailedPrecondition},
    {ErrorCode::kInconsistentGroupProtocol, "INCONSISTENT_GROUP_PROTOCOL", false,
     SC::kInvalidArgument},
    {ErrorCode::kInvalidGroupId, "INVALID_GROUP_ID", false, SC::kInvalidArgument},
    {ErrorCode::kUnknownMemberId, "UNKNOWN_MEMBER_ID", false, SC::kFailedPrecondition},
    {ErrorCode::kInvalidSessionTimeout, "INVALID_SESSION_TIMEOUT", false, SC::kInvalidArgument},
    {ErrorCode::kRebalanceInProgress, "REBALANCE_IN_PROGRESS", false, SC::kAborted},
    {ErrorCode::kInvalidCommitOffsetSize, "INVALID_COMMIT_OFFSET_SIZE", false,
     SC::kInvalidArgument},
    {ErrorCode::kInvalidTimestamp, "INVALID_TIMESTAMP", false, SC::kInvalidArgument},
    {ErrorCode::kUnsupportedVersion, "UNSUPPORTED_VERSION", false, SC::kUnimplemented},
    {ErrorCode::kTopicAlreadyExists, "TOPIC_ALREADY_EXISTS", false, SC::kAlreadyExists},
    {ErrorCode::kInvalidPartitions, "INVALID_PARTITIONS", false, SC::kInvalidArgument},
    {ErrorCode::kInvalidReplicationFactor, "INVALID_REPLICATION_FACTOR", false,
     SC::kInvalidArgument},
    {ErrorCode::kInvalidReplicaAssignment, "INVALID_REPLICA_ASSIGNMENT", false,
     SC::kInvalidArgument},
    {ErrorCode::kInvalidConfig, "INVALID_CONFIG", false, SC::kInvalidArgument},
    {ErrorCode::kNotController, "NOT_CONTROLLER", true, SC::kUnavailable},
    {ErrorCode::kInvalidRequest, "INVALID_REQUEST", false, SC::kInvalidArgument},
    {ErrorCode::kPolicyViolation, "POLICY_VIOLATION", false, SC::kPermissionDenied},
    {ErrorCode::kOutOfOrderSequenceNumber, "OUT_OF_ORDER_SEQUENCE_NUMBER", false,
     SC::kFailedPrecondition},
    {ErrorCode::kDuplicateSequenceNumber, "DUPLICATE_SEQUENCE_NUMBER", false, SC::kAlreadyExists},
    {ErrorCode::kInvalidProducerEpoch, "INVALID_PRODUCER_EPOCH", false, SC::kFailedPrecondition},
    {ErrorCode::kInvalidTxnState, "INVALID_TXN_STATE", false, SC::kFailedPrecondition},
    {ErrorCode::kInvalidProducerIdMapping, "INVALID_PRODUCER_ID_MAPPING", false,
     SC::kFailedPrecondition},
    {ErrorCode::kInvalidTransactionTimeout, "INVALID_TRANSACTION_TIMEOUT", false,
     SC::kInvalidArgument},
    {ErrorCode::kConcurrentTransactions, "CONCURRENT_TRANSACTIONS", true, SC::kUnavailable},
    {ErrorCode::kTransactionCoordinatorFenced, "TRANSACTION_COORDINATOR_FENCED", false,
     SC::kFailedPrecondition},
    {ErrorCode::kKafkaStorageError, "KAFKA_STORAGE_ERROR", true, SC::kUnavailable},
    {ErrorCode::kLogDirNotFound, "LOG_DIR_NOT_FOUND", false, SC::kNotFound},
    {ErrorCode::kUnknownProducerId, "UNKNOWN_PRODUCER_ID", false, SC::kFailedPrecondition},
    {ErrorCode::kNonEmptyGroup, "NON_EMPTY_GROUP", false, SC::kFailedPrecondition},
    {ErrorCode::kGroupIdNotFound, "GROUP_ID_NOT_FOUND", false, SC::kNotFound},
    {ErrorCode::kFencedLeaderEpoch, "FENCED_LEADER_EPOCH", true, SC::kFailedPrecondition},
    {ErrorCode::kUnknownLeaderEpoch, "UNKNOWN_LEADER_EPOCH", true, SC::kUnavailable},
    {ErrorCode::kUnsupportedCompressionType, "UNSUPPORTED_COMPRESSION_TYPE", false,
     SC::kUnimplemented},
    {ErrorCode::kStaleBrokerEpoch, "STALE_BROKER_EPOCH", false, SC::kFailedPrecondition},
    {ErrorCode::kOffsetNotAvailable, "OFFSET_NOT_AVAILABLE", true, SC::kUnavailable},
    {ErrorCode::kMemberIdRequired, "MEMBER_ID_REQUIRED", false, SC::kFailedPrecondition},
    {ErrorCode::kPreferredLeaderNotAvailable, "PREFERRED_LEADER_NOT_AVAILABLE", true,
     SC::kUnavailable},
    {ErrorCode::kGroupMaxSizeReached, "GROUP_MAX_SIZE_REACHED", false, SC::kResourceExhausted},
    {ErrorCode::kFencedInstanceId, "FENCED_INSTANCE_ID", false, SC::kFailedPrecondition},
    {ErrorCode::kEligibleLeadersNotAvailable, "ELIGIBLE_LEADERS_NOT_AVAILABLE", true,
     SC::kUnavailable},
    {ErrorCode::kElectionNotNeeded, "ELECTION_NOT_NEEDED", false, SC::kFailedPrecondition},
    {ErrorCode::kInvalidRecord, "INVALID_RECORD", false, SC::kInvalidArgument},
    {ErrorCode::kUnstableOffsetCommit, "UNSTABLE_OFFSET_COMMIT", true, SC::kUnavailable},
    {ErrorCode::kProducerFenced, "PRODUCER_FENCED", false, SC::kFailedPrecondition},
    {ErrorCode::kInvalidUpdateVersion, "INVALID_UPDATE_VERSION", false, SC::kFailedPrecondition},
    {ErrorCode::kDuplicateBrokerRegistration, "DUPLICATE_BROKER_REGISTRATION", false,
     SC::kAlreadyExists},
    {ErrorCode::kBrokerIdNotRegistered, "BROKER_ID_NOT_REGISTERED", false, SC::kNotFound},
    {ErrorCode::kIneligibleReplica, "INELIGIBLE_REPLICA", false, SC::kFailedPrecondition},
    {ErrorCode::kNewLeaderElected, "NEW_LEADER_ELECTED", false, SC::kFailedPrecondition},
    {ErrorCode::kFencedMemberEpoch, "FENCED_MEMBER_EPOCH", false, SC::kFailedPrecondition},
    {ErrorCode::kStaleMemberEpoch, "STALE_MEMBER_EPOCH", false, SC::kFailedPrecondition},
    {ErrorCode::kTransactionAbortable, "TRANSACTION_ABORTABLE", false, SC::kAborted},
};

const ErrorInfo* Find(ErrorCode code) {
  for (const ErrorInfo& e : kErrors) {
    if (e.code == code) return &e;
  }
  return nullptr;
}

}  // namespace

std::string_view ErrorCodeName(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr ? e->name : "UNKNOWN_ERROR_CODE";
}

bool IsRetriable(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr && e->retriable;
}

absl::StatusCode CanonicalCode(ErrorCode code) {
  const ErrorInfo* e = Find(code);
  return e != nullptr ? e->canonical : absl::StatusCode::kInternal;
}

absl::Status MakeError(ErrorCode code, std::string_view message) {
  EVLOG_CHECK(code != ErrorCode::kNone);
  absl::Status status(CanonicalCode(code), absl::StrCat(internal::ToAbsl(ErrorCodeName(code)), ": ",
                                                        internal::ToAbsl(message)));
  status.SetPayload(kErrorCodePayload, absl::Cord(absl::StrCat(static_cast<int>(code))));
  return status;
}

ErrorCode GetErrorCode(const absl::Status& status) {
  if (status.ok()) return ErrorCode::kNone;
  if (auto payload = status.GetPayload(kErrorCodePayload)) {
    int value = 0;
    if (absl::SimpleAtoi(std::string(*payload), &value)) return static_cast<ErrorCode>(value);
  }
  switch (status.code()) {
    case SC::kDataLoss:
      return ErrorCode::kCorruptMessage;
    case SC::kOutOfRange:
      return ErrorCode::kOffsetOutOfRange;
    case SC::kDeadlineExceeded:
      return ErrorCode::kRequestTimedOut;
    case SC::kNotFound:
      return ErrorCode::kUnknownTopicOrPartition;
    case SC::kInvalidArgument:
      return ErrorCode::kInvalidRequest;
    case SC::kUnavailable:
      return ErrorCode::kKafkaStorageError;
    default:
      return ErrorCode::kUnknownServerError;
  }
}

absl::Status Annotate(const absl::Status& status, std::string_view context) {
  if (status.ok()) return status;
  absl::Status out(status.code(),
                   absl::StrCat("while ", internal::ToAbsl(context), ": ", status.message()));
  status.ForEachPayload(
      [&out](absl::string_view key, const absl::Cord& value) { out.SetPayload(key, value); });
  return out;
}

}  // namespace evlog
