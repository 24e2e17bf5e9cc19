#include "evlog/partition/partitioner.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "evlog/partition/default_partitioner.h"
#include "evlog/status.h"

namespace evlog {

AnyPartitioner::AnyPartitioner() : AnyPartitioner(DefaultPartitioner()) {}

namespace internal {

absl::StatusOr<PartitionId> CheckPartition(const PartitionRequest& request,
                                           std::optional<PartitionId> explicit_partition) {
  if (request.partition_count <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("topic '", ToAbsl(request.topic), "' has partition_count ",
                     request.partition_count, ", expected at least 1"));
  }
  EVLOG_CHECK(explicit_partition.has_value());
  const int32_t p = explicit_partition->value();
  if (p < 0 || p >= request.partition_count) {
    return MakeError(
        ErrorCode::kUnknownTopicOrPartition,
        absl::StrCat("partition ", p, " of topic '", ToAbsl(request.topic),
                     "' does not exist (the topic has ", request.partition_count, " partitions)"));
  }
  return *explicit_partition;
}

}  // namespace internal

}  // namespace evlog
