#include "open_partition.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/status.h"
#include "evlog/txn/idempotent_sequencer.h"

namespace evlog::internal {

absl::StatusOr<std::shared_ptr<Partition>> OpenPartition(
    FileSystem& fs, Clock& clock, const std::string& dir, const TopicPartition& topic_partition,
    const TopicSettings& settings, std::function<void(const std::string&)> warn) {
  LogOpenOptions open_options;
  open_options.reporter = [warn = std::move(warn)](const RecoveryEvent& e) {
    warn(absl::StrCat("recovery dropped ", e.dropped_bytes, " bytes of ", e.path, " at ",
                      e.position, ": ", e.reason));
  };
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<PartitionLog> log,
                         PartitionLog::Open(fs, clock, dir, settings.log, std::move(open_options)));
  auto partition = std::make_shared<Partition>(topic_partition.topic, topic_partition.partition,
                                               std::move(log), settings);
  EVLOG_RETURN_IF_ERROR(partition->SetProducerStateHook(
      MakeProducerStateHook(clock, kDefaultProducerIdExpirationMs, &fs, dir)));
  return partition;
}

}  // namespace evlog::internal
