#include "evlog/partition/xxhash_partitioner.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "evlog/check.h"

namespace evlog {

PartitionId XxHashPartitioner::Partition(const PartitionRequest& request) {
  EVLOG_DCHECK(request.partition_count > 0);
  if (!request.key.has_value()) return null_key_.Partition(request);
  const uint64_t hash = XXH3_64bits(request.key->data(), request.key->size());
  return PartitionId(static_cast<int32_t>(hash % static_cast<uint64_t>(request.partition_count)));
}

}  // namespace evlog
