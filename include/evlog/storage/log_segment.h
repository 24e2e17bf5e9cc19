// evlog/storage/log_segment.h — one segment of a partition's log.
//
// A segment is the run of batches whose offsets start at its base offset,
// stored as three files named by that base offset (20 digits, zero padded):
//
//   00000000000000001000.log        record batches, back to back, exactly as
//                                   produced (RecordBatch v2)
//   00000000000000001000.index      sparse offset index: every
//                                   index_interval_bytes, (last offset of a
//                                   batch, its byte position in .log)
//   00000000000000001000.timeindex  sparse time index: (max timestamp so far,
//                                   offset of the batch holding it)
//
// The files are opened lazily: a segment describes itself by base offset and
// size until a read or append needs its bytes, and CloseFiles() gives the
// descriptors back, so a process can hold many logs with few descriptors.
//
// The active segment's .log may run past the segment's last batch with
// filler bytes (0xFF; PrepareTail): page-cache pages written ahead of the
// appends that will land in them. Nothing reads past size_bytes(); sealing
// and closing cut the filler off, and recovery cuts off a tail that is all
// filler without reporting it. Filler, not zeros: zeros are also what a
// file system shows for appended data a crash lost, which recovery must
// report; a batch can never start with 0xFF bytes (batchLength -1).
//
// A LogSegment is not thread-safe: its SegmentedLog serialises every call.
// The exceptions are the log file handle returned by LogFile(), which may
// be synced, or read below the size it had, from another thread while
// appends continue, and FillTail, which runs beside readers as WriteBatch
// does.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/io/file_system.h"
#include "evlog/storage/offset_index.h"
#include "evlog/storage/time_index.h"
#include "evlog/types.h"

namespace evlog {

// The parts of a batch header the storage layer indexes by, plus where the
// batch lies in its segment's .log file.
struct BatchPosition {
  uint64_t position = 0;  // byte position of the batch in the .log file
  uint32_t size = 0;      // total size of the batch in bytes
  Offset base_offset;
  Offset last_offset;
  int64_t max_timestamp = -1;
  // The batch's partitionLeaderEpoch (kNoLeaderEpoch when it has none).
  LeaderEpoch leader_epoch = kNoLeaderEpoch;
};

// Something recovery had to drop, reported through the log's reporter.
struct RecoveryEvent {
  std::string path;       // the .log file
  uint64_t position = 0;  // where the dropped bytes began
  uint64_t dropped_bytes = 0;
  std::string reason;  // e.g. "CRC mismatch", "torn batch header"
};

using RecoveryReporter = std::function<void(const RecoveryEvent&)>;

class LogSegment {
 public:
  struct Options {
    uint32_t index_interval_bytes = 4096;
    uint32_t max_index_bytes = 10u << 20;
  };

  // Creates the (empty) files of a new segment with base offset `base` in
  // `dir` and opens them. `now_ms` is its creation time, for segment_ms.
  // Errors: AlreadyExists when a segment with that base is there; I/O.
  static absl::StatusOr<std::unique_ptr<LogSegment>> Create(FileSystem& fs, std::string dir,
                                                            Offset base, Options options,
                                                            int64_t now_ms);

  // Describes an existing segment of `size_bytes` bytes without opening it.
  static std::unique_ptr<LogSegment> Existing(FileSystem& fs, std::string dir, Offset base,
                                              Options options, uint64_t size_bytes, int64_t now_ms);

  LogSegment(const LogSegment&) = delete;
  LogSegment& operator=(const LogSegment&) = delete;
  ~LogSegment();

  Offset base_offset() const { return base_; }
  uint64_t size_bytes() const { return size_bytes_; }
  int64_t created_ms() const { return created_ms_; }
  bool files_open() const { return log_ != nullptr; }
  const std::string& log_path() const { return log_path_; }

  // Appends an encoded batch whose offsets are final; `batch` describes it
  // as a header scan would (its position field is ignored): tail reads find
  // it among the recent batches instead of scanning. On error nothing of
  // the batch remains in the file (a partial write is cut off again), unless
  // cutting it off fails too, which is reported as kKafkaStorageError with
  // "unrecoverable" in the text: the caller must stop appending.
  // REQUIRES: batch.base_offset >= base_offset(); the result fits in 2 GiB.
  [[nodiscard]] absl::Status Append(ByteView bytes, const BatchPosition& batch);

  // Append in three steps, for an owner that writes without the lock its
  // readers take: PrepareAppend (under that lock) opens what an append
  // needs and returns the .log file, whose next batch goes at size_bytes();
  // WriteBatch (without the lock) writes it there; CommitAppend (under the
  // lock again) makes it part of the segment: its size and indexes. Until
  // CommitAppend nobody else may change the segment, and readers, who read
  // below size_bytes(), do not see the batch. WriteBatch's errors are
  // Append's; on error the batch is not committed. The file returned is
  // not a counted reference: readers count theirs (LogFile()), and an
  // appender that bumped the same count would take its cache line from
  // them on every batch. It stays open until the segment's files are
  // closed, which nobody may do before CommitAppend.
  [[nodiscard]] absl::StatusOr<File*> PrepareAppend();
  [[nodiscard]] static absl::Status WriteBatch(File& file, std::string_view path, uint64_t position,
                                               ByteView bytes);
  void CommitAppend(ByteView bytes, const BatchPosition& batch);
  // After a WriteBatch that failed: it cut the file back to size_bytes(),
  // filler included (or failed to, and the log stops).
  void AppendFailed() { file_bytes_ = size_bytes_; }

  // Filling the file ahead of the appends, in two steps as an append:
  // TailToFill (under the readers' lock) says what to write, nullopt when
  // nothing: the files are closed, the last append was a page or more (a
  // write that big allocates its own pages, and filling ahead of it would
  // write every page twice), or kFillAheadBytes past the end are filled
  // already. FillTail (without that lock) writes the filler. A small
  // append that starts a new page-cache page costs the kernel a page
  // allocation, ~2 µs against ~0.25 µs for one into a cached page; written
  // ahead, that cost lands between appends instead of on one of them.
  // FillTail's errors are the file's; the filler is past the end, so a
  // failure loses nothing.
  struct TailFill {
    File* file;  // as PrepareAppend's: valid until the files are closed
    uint64_t from;
    uint64_t to;
  };
  static constexpr uint64_t kFillAheadBytes = 4096;
  static constexpr std::byte kFiller{0xFF};
  std::optional<TailFill> TailToFill() const;
  [[nodiscard]] absl::Status FillTail(const TailFill& fill);
  // Cuts the .log's filler off, if it has any.
  [[nodiscard]] absl::Status TrimTail();

  // Reads up to out.size() bytes of the .log file from `position`.
  [[nodiscard]] absl::StatusOr<size_t> ReadAt(uint64_t position, MutableByteView out);
  // Reads exactly out.size() bytes of `file` (the .log at `path`, from
  // LogFile()) at `position`: what ReadAt does once it has the file, for a
  // reader that took the file under the log's lock and reads without it.
  // Errors: I/O errors; CORRUPT_MESSAGE when the file ends early.
  [[nodiscard]] static absl::StatusOr<size_t> ReadExactly(File& file, std::string_view path,
                                                          uint64_t position, MutableByteView out);

  // The first batch, at or after byte `from_position`, whose last offset is
  // >= `target`; nullopt when there is none. Uses the offset index to start
  // the scan near the target. Errors: kCorruptMessage for a batch header that
  // cannot be read (size or offsets that make no sense).
  [[nodiscard]] absl::StatusOr<std::optional<BatchPosition>> FindBatch(Offset target);

  // Visits the batch headers from byte `from_position` to the end of the
  // file (or until `visit` returns false), without checking CRCs.
  [[nodiscard]] absl::Status ScanHeaders(uint64_t from_position,
                                         const std::function<bool(const BatchPosition&)>& visit);

  // The first batch whose max timestamp is >= `timestamp_ms`.
  [[nodiscard]] absl::StatusOr<std::optional<BatchPosition>> FindBatchByTimestamp(
      int64_t timestamp_ms);

  // Largest record timestamp in the segment, -1 when empty or unknown.
  [[nodiscard]] absl::StatusOr<int64_t> MaxTimestamp();

  // Offset after the last batch in the segment (base_offset() when empty):
  // read from the index and a short scan.
  [[nodiscard]] absl::StatusOr<Offset> NextOffset();

  // Scans every batch from the start, checking sizes, offsets and CRCs;
  // rebuilds both indexes; cuts off the file at the first bad batch and
  // reports what was dropped. `next_segment_base`, when given, bounds the
  // offsets the segment may hold. A tail of filler is cut off without a
  // report when nothing can be missing before it: in the last segment, or
  // in one whose batches reach `next_segment_base` (a crash undid the cut
  // made on sealing). Returns the offset after the last valid batch
  // (base_offset() when none).
  [[nodiscard]] absl::StatusOr<Offset> Recover(std::optional<Offset> next_segment_base,
                                               const RecoveryReporter& reporter);

  // Removes every batch whose last offset is >= `offset` (whole batches:
  // a batch straddling `offset` goes too). Returns the offset after the
  // last batch kept.
  [[nodiscard]] absl::StatusOr<Offset> TruncateTo(Offset offset);

  // Turns the active segment into a sealed one: cuts off the .log's
  // filler, records the final time index entry and trims both index files to
  // their entries.
  [[nodiscard]] absl::Status Seal();

  // Makes .log and the indexes durable.
  [[nodiscard]] absl::Status Sync();

  // The open .log file (opened if closed), shared so that a group-commit
  // leader can fdatasync it, and a reader read what it held, outside the
  // log's lock while the segment may be closed (or deleted) meanwhile.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<File>> LogFile();

  // Closes the files (they reopen on demand). The .log's filler is cut off
  // and the index files trimmed first.
  [[nodiscard]] absl::Status CloseFiles();

  // Closes and removes the segment's files. Does not sync the directory.
  [[nodiscard]] absl::Status DeleteFiles();

  // Lets go of the files as they are: no filler is cut, no index trimmed,
  // nothing synced. For a segment whose files are removed next.
  void DropFiles();

  // Makes the index files ready: opens them, and rebuilds them from the log
  // when they are missing or fail their sanity check.
  [[nodiscard]] absl::Status EnsureIndexes();

  // True when an index has no room for another entry (time to roll).
  [[nodiscard]] absl::StatusOr<bool> IndexFull();

 private:
  LogSegment(FileSystem& fs, std::string dir, Offset base, Options options, uint64_t size_bytes,
             int64_t now_ms);

  absl::Status EnsureLogOpen();
  // Whether the .log holds only filler from `position` to its end.
  absl::StatusOr<bool> FillerFrom(uint64_t position);
  // Prepares the segment for appends: files open, indexes writable, and the
  // running state (largest timestamp, bytes since the last index entry)
  // known.
  absl::Status Activate();
  absl::Status RecomputeRunningState();
  absl::Status OpenIndexes(bool writable);
  absl::Status RebuildIndexes(uint64_t valid_bytes);
  void IndexBatch(const BatchPosition& batch);

  FileSystem& fs_;
  const std::string dir_;
  const Offset base_;
  const Options options_;
  const std::string log_path_;
  const std::string index_path_;
  const std::string time_index_path_;
  uint64_t size_bytes_;
  // At least the .log's size; the bytes from size_bytes_ up to it, those
  // the file has, are filler. Changed only by appenders (and the file is
  // only cut back below it by them).
  uint64_t file_bytes_;
  // The last append's size: small ones get the tail filled ahead.
  uint64_t last_append_bytes_ = 0;
  int64_t created_ms_;

  std::shared_ptr<File> log_;
  std::unique_ptr<OffsetIndex> offset_index_;
  std::unique_ptr<TimeIndex> time_index_;
  bool indexes_writable_ = false;
  bool sealed_ = true;  // Existing segments are sealed until Recover/append says otherwise
  uint64_t bytes_since_index_entry_ = 0;
  // The max timestamp seen and the offset of its batch, for the time index.
  int64_t max_timestamp_ = -1;
  Offset offset_of_max_timestamp_;
  bool max_timestamp_known_ = false;
  // The last batches indexed, contiguous and in file order: a reader at the
  // tail (a consumer, a follower's fetch) finds its batch here instead of
  // reading headers from the last index entry on, which it would do under
  // the log's lock. Trusted only while the last one ends at size_bytes_
  // (a truncation, or a rebuild against another size, makes it stale).
  // A ring, searched from its newest batch back: an append writes one
  // slot, and a reader at the tail reads the last one or two. (Shifting a
  // vector down by one per append rewrote all 16, ~12 cache lines, and a
  // polling consumer, which had just read them, took every one of those
  // lines from the appender again.)
  static constexpr size_t kRecentBatches = 16;
  std::vector<BatchPosition> recent_;  // kRecentBatches slots once used; released with the files
  size_t recent_count_ = 0;
  size_t recent_next_ = 0;  // the slot the next batch goes to
  // The i-th newest (0 the newest). REQUIRES: i < recent_count_.
  const BatchPosition& RecentBatch(size_t i) const {
    return recent_[(recent_next_ + kRecentBatches - 1 - i) % kRecentBatches];
  }
  void RememberBatch(const BatchPosition& batch);
  std::optional<std::optional<BatchPosition>> FindRecentBatch(Offset target) const;
};

namespace internal {
// "00000000000000001000" + extension (e.g. ".log").
std::string SegmentFileName(Offset base, std::string_view extension);
// The base offset of a file named "<20 digits><extension>", or nullopt.
std::optional<Offset> ParseSegmentFileName(std::string_view name, std::string_view extension);
}  // namespace internal

}  // namespace evlog
