#include "evlog/storage/log_cleaner.h"

#include <algorithm>
#include <utility>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/record/record_format.h"
#include "evlog/status.h"
#include "evlog/storage/index_format.h"
#include "evlog/storage/internal/batch_reader.h"
#include "evlog/storage/log_segment.h"

namespace evlog::internal {
namespace {

// Output is written in chunks of this size: few syscalls, bounded memory.
constexpr size_t kWriteChunkBytes = size_t{1} << 20;

std::pair<uint64_t, uint64_t> KeyHash(ByteView key) {
  const XXH128_hash_t h = XXH3_128bits(key.data(), key.size());
  return {h.high64, h.low64};
}

// Calls `visit(view)` for every batch of the segment file at `path`.
template <typename Visit>
absl::Status ForEachBatch(FileSystem& fs, const std::string& path, Visit visit) {
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs.Open(path, OpenMode::kReadOnly));
  EVLOG_ASSIGN_OR_RETURN(uint64_t size, file->Size());
  BatchReader reader(*file, size);
  while (true) {
    EVLOG_ASSIGN_OR_RETURN(std::optional<ByteView> bytes, reader.Next());
    if (!bytes) return absl::OkStatus();
    absl::StatusOr<RecordBatchView> view = RecordBatchView::Parse(*bytes);
    if (!view.ok())
      return Annotate(view.status(),
                      absl::StrCat("cleaning ", path, " at byte ", reader.position()));
    EVLOG_RETURN_IF_ERROR(visit(*view));
  }
}

// Rewrites the header fields a rebuilt batch must keep from the original:
// its last offset (so the next batch's offsets still follow it, and an
// idempotent producer's last sequence survives) and, for an empty batch,
// its timestamps.
void KeepBatchBounds(MutableByteView batch, const RecordBatchView& original, bool empty) {
  StoreBigEndian<int32_t>(batch.data() + record_format::kLastOffsetDeltaOffset,
                          original.last_offset_delta());
  if (empty) {
    StoreBigEndian<int64_t>(batch.data() + record_format::kBaseTimestampOffset,
                            original.max_timestamp());
    StoreBigEndian<int64_t>(batch.data() + record_format::kMaxTimestampOffset,
                            original.max_timestamp());
  }
  UpdateBatchCrc(batch);
}

// Whether a batch belongs to an aborted transaction.
class AbortedBatches {
 public:
  explicit AbortedBatches(const std::vector<AbortedTransaction>& aborted) {
    for (const AbortedTransaction& t : aborted) {
      by_producer_[t.producer_id.value()].push_back({t.first_offset, t.last_offset});
    }
  }

  bool Contains(const RecordBatchView& view) const {
    if (!view.is_transactional() || view.is_control() || by_producer_.empty()) return false;
    auto it = by_producer_.find(view.producer_id().value());
    if (it == by_producer_.end()) return false;
    const Offset base = view.base_offset();
    return std::any_of(it->second.begin(), it->second.end(), [base](const auto& range) {
      return range.first <= base && base <= range.second;
    });
  }

 private:
  absl::flat_hash_map<int64_t, std::vector<std::pair<Offset, Offset>>> by_producer_;
};

struct Filtered {
  std::vector<RecordView> kept;
  int64_t removed = 0;
  int64_t tombstones_removed = 0;
};

absl::StatusOr<Filtered> FilterRecords(const RecordBatchView& view, const KeyOffsetMap& latest,
                                       const CleanerParams& params,
                                       std::vector<std::byte>& decompressed) {
  Filtered out;
  EVLOG_ASSIGN_OR_RETURN(RecordIterator records, view.Records({}, &decompressed));
  const bool tombstones_expired = view.max_timestamp() < params.now_ms - params.delete_retention_ms;
  for (const RecordView& record : records) {
    bool keep = true;
    if (record.key) {
      auto it = latest.find(KeyHash(*record.key));
      keep = it == latest.end() || it->second == record.offset.value();
      if (keep && !record.value && tombstones_expired) {
        keep = false;
        ++out.tombstones_removed;
      }
    }
    if (keep) {
      out.kept.push_back(record);
    } else {
      ++out.removed;
    }
  }
  EVLOG_RETURN_IF_ERROR(records.status());
  return out;
}

absl::StatusOr<std::vector<std::byte>> RebuildBatch(const RecordBatchView& view,
                                                    const std::vector<RecordView>& kept) {
  RecordBatchOptions options;
  options.base_offset = view.base_offset();
  options.partition_leader_epoch = view.partition_leader_epoch();
  options.producer_id = view.producer_id();
  options.producer_epoch = view.producer_epoch();
  options.base_sequence = view.base_sequence();
  options.is_transactional = view.is_transactional();
  options.compression = view.compression();
  if (view.timestamp_type() == TimestampType::kLogAppendTime) {
    options.log_append_time_ms = view.max_timestamp();
  }
  RecordBatchBuilder builder(options);
  std::vector<RecordHeader> headers;
  for (const RecordView& record : kept) {
    headers.clear();
    for (const RecordHeaderView& h : record.headers) headers.push_back({h.key, h.value});
    EVLOG_RETURN_IF_ERROR(builder.AppendWithOffset(record.offset, record.timestamp_ms, record.key,
                                                   record.value, headers));
  }
  EVLOG_RETURN_IF_ERROR(builder.Finish().status());
  std::vector<std::byte> bytes = std::move(builder).Release();
  KeepBatchBounds(bytes, view, kept.empty());
  return bytes;
}

class SegmentWriter {
 public:
  SegmentWriter(std::unique_ptr<File> file) : file_(std::move(file)) {}

  absl::Status Write(ByteView bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    size_ += bytes.size();
    if (buffer_.size() >= kWriteChunkBytes) return Flush();
    return absl::OkStatus();
  }
  absl::Status Finish() {
    EVLOG_RETURN_IF_ERROR(Flush());
    EVLOG_RETURN_IF_ERROR(file_->Sync());
    return file_->Close();
  }
  uint64_t size() const { return size_; }

 private:
  absl::Status Flush() {
    if (buffer_.empty()) return absl::OkStatus();
    EVLOG_RETURN_IF_ERROR(file_->Append(buffer_));
    buffer_.clear();
    return absl::OkStatus();
  }

  std::unique_ptr<File> file_;
  std::vector<std::byte> buffer_;
  uint64_t size_ = 0;
};

void RemoveQuietly(FileSystem& fs, const std::string& path) { (void)fs.Remove(path); }

}  // namespace

absl::StatusOr<KeyOffsetMap> BuildKeyOffsetMap(FileSystem& fs,
                                               const std::vector<CleanerSource>& sources,
                                               const CleanerParams& params) {
  KeyOffsetMap latest;
  const AbortedBatches aborted(params.aborted_transactions);
  std::vector<std::byte> decompressed;
  for (const CleanerSource& source : sources) {
    EVLOG_RETURN_IF_ERROR(ForEachBatch(fs, source.log_path, [&](const RecordBatchView& view) {
      if (view.is_control() || aborted.Contains(view)) return absl::OkStatus();
      EVLOG_ASSIGN_OR_RETURN(RecordIterator records, view.Records({}, &decompressed));
      for (const RecordView& record : records) {
        if (record.key) latest[KeyHash(*record.key)] = record.offset.value();
      }
      return records.status();
    }));
  }
  return latest;
}

absl::StatusOr<std::vector<CleanedSegment>> WriteCleanedSegments(
    FileSystem& fs, std::string_view dir, const std::vector<CleanerSource>& sources,
    const KeyOffsetMap& latest, const CleanerParams& params, CompactionResult& result) {
  // Each idempotent producer's newest batch survives even when emptied.
  absl::flat_hash_map<int64_t, int64_t> newest_batch_of_producer;
  for (const CleanerSource& source : sources) {
    EVLOG_RETURN_IF_ERROR(ForEachBatch(fs, source.log_path, [&](const RecordBatchView& view) {
      if (view.producer_id() != kNoProducerId) {
        newest_batch_of_producer[view.producer_id().value()] = view.base_offset().value();
      }
      return absl::OkStatus();
    }));
  }

  const AbortedBatches aborted(params.aborted_transactions);
  std::vector<CleanedSegment> done;
  std::vector<std::string> written;
  auto fail = [&](absl::Status status) {
    for (const std::string& path : written) RemoveQuietly(fs, path);
    return status;
  };
  std::vector<std::byte> decompressed;
  size_t i = 0;
  while (i < sources.size()) {
    // Group consecutive sources while they fit in one segment by size and
    // by 32-bit relative offsets.
    const Offset base = sources[i].base;
    size_t j = i;
    uint64_t group_bytes = 0;
    do {
      group_bytes += sources[j].size_bytes;
      ++j;
    } while (j < sources.size() && group_bytes + sources[j].size_bytes <= params.segment_bytes &&
             sources[j].end - base - 1 <= kMaxRelativeOffset);

    const std::string log_name = SegmentFileName(base, ".log");
    const std::string cleaned = JoinPath(dir, log_name + std::string(kCleanedSuffix));
    const std::string swap = JoinPath(dir, log_name + std::string(kSwapSuffix));
    RemoveQuietly(fs, cleaned);
    absl::StatusOr<std::unique_ptr<File>> file = fs.Open(cleaned, OpenMode::kCreateNew);
    if (!file.ok()) return fail(file.status());
    written.push_back(cleaned);
    SegmentWriter writer(*std::move(file));
    CleanedSegment segment;
    for (size_t k = i; k < j; ++k) {
      segment.replaced.push_back(sources[k].base);
      absl::Status s = ForEachBatch(fs, sources[k].log_path, [&](const RecordBatchView& view) {
        if (view.is_control()) return writer.Write(view.bytes());
        absl::StatusOr<Filtered> filtered;
        if (aborted.Contains(view)) {
          filtered = Filtered{.kept = {}, .removed = view.record_count(), .tombstones_removed = 0};
          result.aborted_records_removed += view.record_count();
        } else {
          filtered = FilterRecords(view, latest, params, decompressed);
        }
        if (absl::IsUnimplemented(filtered.status())) {
          return writer.Write(view.bytes());  // a codec evlog cannot read: keep as is
        }
        EVLOG_RETURN_IF_ERROR(filtered.status());
        result.records_removed += filtered->removed;
        result.tombstones_removed += filtered->tombstones_removed;
        if (filtered->removed == 0) return writer.Write(view.bytes());
        if (filtered->kept.empty()) {
          auto newest = newest_batch_of_producer.find(view.producer_id().value());
          const bool keep_empty = view.producer_id() != kNoProducerId &&
                                  newest != newest_batch_of_producer.end() &&
                                  newest->second == view.base_offset().value();
          if (!keep_empty) return absl::OkStatus();
        }
        EVLOG_ASSIGN_OR_RETURN(std::vector<std::byte> rebuilt, RebuildBatch(view, filtered->kept));
        return writer.Write(rebuilt);
      });
      if (!s.ok()) return fail(s);
    }
    absl::Status s = writer.Finish();
    if (s.ok()) s = fs.Rename(cleaned, swap);
    if (!s.ok()) return fail(s);
    written.back() = swap;
    segment.swap_path = swap;
    segment.size_bytes = writer.size();
    done.push_back(std::move(segment));
    i = j;
  }
  // The .swap names must be durable before any old segment is removed.
  absl::Status s = fs.SyncDir(dir);
  if (!s.ok()) return fail(s);
  return done;
}

absl::Status CompleteInterruptedSwaps(FileSystem& fs, std::string_view dir) {
  EVLOG_ASSIGN_OR_RETURN(std::vector<std::string> names, fs.ListDir(dir));
  bool changed = false;
  for (const std::string& name : names) {
    if (absl::EndsWith(name, ToAbsl(kCleanedSuffix))) {
      EVLOG_RETURN_IF_ERROR(fs.Remove(JoinPath(dir, name)));
      changed = true;
    }
  }
  for (const std::string& name : names) {
    if (!absl::EndsWith(name, ToAbsl(kSwapSuffix))) continue;
    const std::string log_name = name.substr(0, name.size() - kSwapSuffix.size());
    std::optional<Offset> base = ParseSegmentFileName(log_name, ".log");
    if (!base) continue;
    const std::string swap = JoinPath(dir, name);
    Offset last = *base;
    EVLOG_RETURN_IF_ERROR(ForEachBatch(fs, swap, [&last](const RecordBatchView& view) {
      last = std::max(last, view.last_offset());
      return absl::OkStatus();
    }));
    for (const std::string& other : names) {
      std::optional<Offset> other_base = ParseSegmentFileName(other, ".log");
      if (!other_base || *other_base < *base || *other_base > last) continue;
      for (std::string_view ext : {".log", ".index", ".timeindex"}) {
        absl::Status removed = fs.Remove(JoinPath(dir, SegmentFileName(*other_base, ext)));
        if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
      }
    }
    for (std::string_view ext : {".index", ".timeindex"}) {
      absl::Status removed = fs.Remove(JoinPath(dir, SegmentFileName(*base, ext)));
      if (!removed.ok() && !absl::IsNotFound(removed)) return removed;
    }
    EVLOG_RETURN_IF_ERROR(fs.Rename(swap, JoinPath(dir, log_name)));
    changed = true;
  }
  if (changed) EVLOG_RETURN_IF_ERROR(fs.SyncDir(dir));
  return absl::OkStatus();
}

}  // namespace evlog::internal
