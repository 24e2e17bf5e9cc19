// evlog/replication/segmented_metadata_log.h — a MetadataLog kept in a
// directory, so that a Controller restarted on the same directory replays
// its decisions.
//
//   evlog::PosixFileSystem fs;
//   EVLOG_ASSIGN_OR_RETURN(auto log, evlog::SegmentedMetadataLog::Open(
//                                        fs, evlog::SystemClock::Default(), "/data/controller"));
//   EVLOG_ASSIGN_OR_RETURN(auto controller,
//                          evlog::Controller::Open(clock, std::move(log), options));
//
// On disk (docs/format/metadata_records.md): a SegmentedLog of RecordBatch
// v2 batches with durability=every_append and no retention. One Append is
// one batch, each record of it one batch record with a null key and the
// encoded MetadataRecord as its value; the log's offsets are the metadata
// log's offsets. Append returns once the batch is synced, and a batch is
// recovered whole or not at all after a crash (the SegmentedLog's CRC and
// torn-tail rules), so a crash keeps a prefix of the decisions, and every
// decision that was acknowledged.
//
// The log is never compacted or snapshotted: it grows with every decision
// (a few dozen bytes each) for the life of the directory.
//
// Thread-safety: thread-safe (the SegmentedLog serialises appends).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/io/clock.h"
#include "evlog/io/file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/replication/metadata_log.h"
#include "evlog/storage/segmented_log.h"

namespace evlog {

class SegmentedMetadataLog final : public MetadataLog {
 public:
  // Largest batch (one decision) the log accepts, in bytes. A decision over
  // Controller's kMaxRecordsPerDecision records of a few dozen bytes each
  // stays far below it.
  static constexpr uint32_t kMaxBatchBytes = 8u << 20;

  // Opens (creating when missing) the log in directory `dir`, recovering it
  // when it was not closed cleanly (a torn last batch is dropped and
  // reported through options.reporter). `fs` and `clock` must outlive the
  // log. Errors: I/O errors.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<SegmentedMetadataLog>> Open(
      FileSystem& fs, Clock& clock, std::string dir, LogOpenOptions options = {});

  SegmentedMetadataLog(const SegmentedMetadataLog&) = delete;
  SegmentedMetadataLog& operator=(const SegmentedMetadataLog&) = delete;
  ~SegmentedMetadataLog() override;

  // Errors: INVALID_REQUEST for a record that does not encode (see
  // EncodeMetadataRecord); MESSAGE_TOO_LARGE for a decision larger than
  // kMaxBatchBytes; the SegmentedLog's errors (KAFKA_STORAGE_ERROR for I/O:
  // the batch is then not in the log).
  [[nodiscard]] absl::StatusOr<Offset> Append(std::span<const MetadataRecord> records) override;
  // Errors as MetadataLog::Read; CORRUPT_MESSAGE also for a batch that is
  // not a metadata batch (a control batch, a record with a key or a null
  // value).
  [[nodiscard]] absl::StatusOr<std::vector<MetadataLogEntry>> Read(
      Offset from, size_t max_records) const override;
  [[nodiscard]] Offset end_offset() const override;

  // Syncs and closes the underlying log; later calls fail with
  // FailedPrecondition. Idempotent; the destructor calls it.
  [[nodiscard]] absl::Status Close();

 private:
  SegmentedMetadataLog(Clock& clock, std::unique_ptr<PartitionLog> log);

  Clock& clock_;
  std::unique_ptr<PartitionLog> log_;
};

}  // namespace evlog
