// How a broker (Broker, or a Cluster's broker) opens a partition replica:
// its log recovered from `dir`, recovery's findings reported, and the
// idempotence hook installed and replayed (evlog/txn/idempotent_sequencer.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/topic_config.h"
#include "evlog/partition/topic_partition.h"

namespace evlog::internal {

// `warn` gets one line per stretch of bytes recovery dropped. Errors: the
// log's open and read errors.
absl::StatusOr<std::shared_ptr<Partition>> OpenPartition(
    FileSystem& fs, Clock& clock, const std::string& dir, const TopicPartition& topic_partition,
    const TopicSettings& settings, std::function<void(const std::string&)> warn);

}  // namespace evlog::internal
