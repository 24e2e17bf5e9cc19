#include "evlog/replication/metadata_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/replication/segmented_metadata_log.h"
#include "evlog/status.h"

namespace evlog {

namespace {

absl::Status NegativeOffset(Offset from) {
  return MakeError(ErrorCode::kOffsetOutOfRange,
                   absl::StrCat("metadata log offset ", from.value(), " is negative"));
}

absl::Status EmptyAppend() {
  return MakeError(ErrorCode::kInvalidRequest, "a metadata log append needs at least one record");
}

}  // namespace

absl::StatusOr<Offset> MemoryMetadataLog::Append(std::span<const MetadataRecord> records) {
  if (records.empty()) return EmptyAppend();
  std::lock_guard lock(mu_);
  const Offset first(static_cast<int64_t>(records_.size()));
  records_.insert(records_.end(), records.begin(), records.end());
  append_sizes_.push_back(records.size());
  return first;
}

absl::StatusOr<std::vector<MetadataLogEntry>> MemoryMetadataLog::Read(Offset from,
                                                                      size_t max_records) const {
  if (from.value() < 0) return NegativeOffset(from);
  std::lock_guard lock(mu_);
  std::vector<MetadataLogEntry> entries;
  for (size_t i = static_cast<size_t>(from.value());
       i < records_.size() && entries.size() < max_records; ++i) {
    entries.push_back({Offset(static_cast<int64_t>(i)), records_[i]});
  }
  return entries;
}

Offset MemoryMetadataLog::end_offset() const {
  std::lock_guard lock(mu_);
  return Offset(static_cast<int64_t>(records_.size()));
}

std::vector<size_t> MemoryMetadataLog::append_sizes() const {
  std::lock_guard lock(mu_);
  return append_sizes_;
}

SegmentedMetadataLog::SegmentedMetadataLog(Clock& clock, std::unique_ptr<PartitionLog> log)
    : clock_(clock), log_(std::move(log)) {}

SegmentedMetadataLog::~SegmentedMetadataLog() { (void)Close(); }

absl::StatusOr<std::unique_ptr<SegmentedMetadataLog>> SegmentedMetadataLog::Open(
    FileSystem& fs, Clock& clock, std::string dir, LogOpenOptions options) {
  LogConfig config;
  // Every decision is acknowledged only once it is on disk: a controller
  // that forgot one after a crash could hand out an epoch twice.
  config.durability = Durability::kEveryAppend;
  config.retention_ms = -1;
  config.retention_bytes = -1;
  config.max_message_bytes = kMaxBatchBytes;
  config.segment_bytes = 2 * uint64_t{kMaxBatchBytes};
  // Enough index for a full segment at the default interval (16 MiB / 4 KiB
  // entries of 8 or 12 bytes), and no more: index files are preallocated.
  config.segment_index_bytes = 64u << 10;
  EVLOG_RETURN_IF_ERROR(fs.CreateDir(dir));
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<PartitionLog> log,
                         PartitionLog::Open(fs, clock, std::move(dir), config, std::move(options)));
  return std::unique_ptr<SegmentedMetadataLog>(new SegmentedMetadataLog(clock, std::move(log)));
}

absl::StatusOr<Offset> SegmentedMetadataLog::Append(std::span<const MetadataRecord> records) {
  if (records.empty()) return EmptyAppend();
  RecordBatchBuilder builder;
  const int64_t now_ms = clock_.WallMs();
  for (const MetadataRecord& record : records) {
    EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> value, EncodeMetadataRecord(record));
    EVLOG_RETURN_IF_ERROR(builder.Append(now_ms, std::nullopt, ByteView(value)));
  }
  EVLOG_ASSIGN_OR_RETURN(MutableByteView batch, builder.Finish());
  AppendOptions append;
  append.trusted = true;
  EVLOG_ASSIGN_OR_RETURN(AppendResult result, log_->Append(batch, append));
  EVLOG_CHECK_EQ(result.last_offset - result.base_offset + 1, static_cast<int64_t>(records.size()));
  return result.base_offset;
}

absl::StatusOr<std::vector<MetadataLogEntry>> SegmentedMetadataLog::Read(Offset from,
                                                                         size_t max_records) const {
  if (from.value() < 0) return NegativeOffset(from);
  std::vector<MetadataLogEntry> entries;
  std::vector<std::byte> buffer;
  Offset position = from;
  while (entries.size() < max_records && position < log_->log_end_offset()) {
    EVLOG_ASSIGN_OR_RETURN(LogReadResult read, log_->Read(position, buffer));
    if (read.batches.empty()) break;
    ByteView rest = read.batches;
    while (!rest.empty() && entries.size() < max_records) {
      EVLOG_ASSIGN_OR_RETURN(RecordBatchView batch, RecordBatchView::Parse(rest));
      rest = rest.subspan(batch.size_bytes());
      if (batch.is_control()) {
        return MakeError(ErrorCode::kCorruptMessage,
                         absl::StrCat("control batch at offset ", batch.base_offset().value(),
                                      " in a metadata log"));
      }
      EVLOG_ASSIGN_OR_RETURN(RecordIterator records, batch.Records());
      for (const RecordView& record : records) {
        if (record.offset < from) continue;
        if (entries.size() == max_records) break;
        if (record.key || !record.value) {
          return MakeError(ErrorCode::kCorruptMessage,
                           absl::StrCat("record at offset ", record.offset.value(),
                                        " is not a metadata record (a key or a null value)"));
        }
        absl::StatusOr<MetadataRecord> decoded = DecodeMetadataRecord(*record.value);
        if (!decoded.ok()) {
          return Annotate(decoded.status(),
                          absl::StrCat("metadata log offset ", record.offset.value()));
        }
        entries.push_back({record.offset, *std::move(decoded)});
      }
      EVLOG_RETURN_IF_ERROR(records.status());
    }
    if (read.next_offset <= position) break;
    position = read.next_offset;
  }
  return entries;
}

Offset SegmentedMetadataLog::end_offset() const { return log_->log_end_offset(); }

absl::Status SegmentedMetadataLog::Close() { return log_->Close(); }

}  // namespace evlog
