// evlog/client/consumer.h — reads records from assigned partitions.
//
//   EVLOG_ASSIGN_OR_RETURN(auto consumer, evlog::Consumer::Create(*broker));
//   EVLOG_RETURN_IF_ERROR(consumer->Assign({{"orders", 0}, {"orders", 1}}));
//   EVLOG_RETURN_IF_ERROR(consumer->SeekToBeginning());
//   while (running) {
//     EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords records, consumer->Poll(/*timeout_ms=*/100));
//     for (const evlog::ConsumerRecord& r : records) handle(r.partition, r.offset, r.value);
//   }
//
// Partitions are assigned by the application here (Kafka's assign());
// consumer groups, which assign them automatically, build on this
// (evlog/group/). Each assigned partition has a position, the offset of
// the next record to return. A new assignment has none: the first Poll or
// Position sets it by auto_offset_reset (no committed offsets without a
// group), as does a position found out of range (below the log start after
// retention, or past the end after a Seek there).
//
// Poll reads in place: each partition's batches are read (pread) into a
// buffer the consumer reuses, and the ConsumerRecords point into it —
// valid until the next Poll, Assign or Close. ToOwned() copies them.
// When there is nothing to read, Poll parks until an append to an assigned
// partition wakes it (microseconds, no sleep loop) or the timeout passes;
// poll_spin_us makes it spin first, trading a core for latency.
//
// Thread-safety: not thread-safe (one consumer per thread, as in Kafka),
// except Wakeup(), which any thread may call.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/broker/broker.h"
#include "evlog/bytes.h"
#include "evlog/partition/partition.h"
#include "evlog/record/record.h"
#include "evlog/record/record_format.h"
#include "evlog/types.h"

namespace evlog {

// Where a position without a valid offset goes (Kafka auto.offset.reset).
enum class OffsetResetPolicy : int8_t {
  kEarliest,  // the log start offset
  kLatest,    // the high watermark: only records appended from now on
  kNone,      // Poll fails with OFFSET_OUT_OF_RANGE
};

struct ConsumerOptions {
  // Most records one Poll returns (max.poll.records).
  int32_t max_poll_records = 500;
  // Most batch bytes one Poll reads in all (fetch.max.bytes) and per
  // partition (max.partition.fetch.bytes); a first batch larger than
  // either is still returned whole, so a consumer never gets stuck.
  int32_t fetch_max_bytes = 50 << 20;
  int32_t max_partition_fetch_bytes = 1 << 20;
  OffsetResetPolicy auto_offset_reset = OffsetResetPolicy::kLatest;
  // Check each batch's CRC as it is read (check.crcs).
  bool check_crcs = true;
  // Spin this long looking for data before parking (0: park at once).
  int64_t poll_spin_us = 0;
  // Shown in metrics.
  std::string client_id = "evlog-consumer";
};

// A record as a copy the application owns.
struct OwnedRecord {
  std::string topic;
  PartitionId partition;
  Offset offset;
  int64_t timestamp_ms = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<std::pair<std::string, std::optional<std::string>>> headers;
};

// A record as Poll returns it: views into the consumer's read buffers.
struct ConsumerRecord {
  std::string_view topic;
  PartitionId partition;
  Offset offset;
  int64_t timestamp_ms = -1;
  TimestampType timestamp_type = TimestampType::kCreateTime;
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  RecordHeadersView headers;

  std::optional<std::string_view> key_string() const {
    if (!key) return std::nullopt;
    return AsStringView(*key);
  }
  std::optional<std::string_view> value_string() const {
    if (!value) return std::nullopt;
    return AsStringView(*value);
  }
  OwnedRecord ToOwned() const;
};

// The records of one Poll, partition by partition, each partition's in
// offset order. Valid until the consumer's next Poll, Assign or Close.
class ConsumerRecords {
 public:
  ConsumerRecords() = default;
  explicit ConsumerRecords(std::span<const ConsumerRecord> records) : records_(records) {}

  size_t size() const { return records_.size(); }
  bool empty() const { return records_.empty(); }
  const ConsumerRecord& operator[](size_t i) const { return records_[i]; }
  auto begin() const { return records_.begin(); }
  auto end() const { return records_.end(); }
  std::vector<OwnedRecord> ToOwned() const;

 private:
  std::span<const ConsumerRecord> records_;
};

struct ConsumerPartitionMetrics {
  TopicPartition topic_partition;
  // -1 while not yet known.
  Offset position{-1};
  Offset high_watermark;
  // high_watermark - position (0 while the position is unknown).
  int64_t lag = 0;
};

struct ConsumerMetrics {
  std::string client_id;
  uint64_t polls = 0;
  uint64_t records_consumed = 0;
  uint64_t bytes_fetched = 0;
  uint64_t offset_resets = 0;
  uint64_t errors = 0;
  std::vector<ConsumerPartitionMetrics> partitions;
};

class Consumer {
 public:
  // A consumer of `broker`'s topics; `broker` must outlive it. Errors:
  // INVALID_CONFIG naming a bad option.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Consumer>> Create(
      Broker& broker, ConsumerOptions options = {});

  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Replaces the assignment with `partitions` (duplicates are ignored).
  // Partitions kept from the previous assignment keep their positions.
  // Errors: UNKNOWN_TOPIC_OR_PARTITION for an unknown topic or partition,
  // INVALID_TOPIC_EXCEPTION; on error the assignment is unchanged.
  [[nodiscard]] absl::Status Assign(const std::vector<TopicPartition>& partitions);
  // Sorted.
  [[nodiscard]] std::vector<TopicPartition> Assignment() const;

  // Sets the position of an assigned partition; an offset outside the log
  // is handled by auto_offset_reset at the next Poll. Errors:
  // FailedPrecondition (not assigned), InvalidArgument (negative offset).
  [[nodiscard]] absl::Status Seek(const TopicPartition& partition, Offset offset);
  // To the log start / the high watermark, of `partitions` (empty: all
  // assigned). Errors: FailedPrecondition (one is not assigned).
  [[nodiscard]] absl::Status SeekToBeginning(const std::vector<TopicPartition>& partitions = {});
  [[nodiscard]] absl::Status SeekToEnd(const std::vector<TopicPartition>& partitions = {});

  // The offset of the next record Poll returns from `partition`, resolving
  // it by auto_offset_reset when unknown. Errors: FailedPrecondition (not
  // assigned); OFFSET_OUT_OF_RANGE (unknown and the policy is kNone).
  [[nodiscard]] absl::StatusOr<Offset> Position(const TopicPartition& partition);

  // For each partition, the first record with a timestamp >= the given
  // one, or nullopt when every record is older (Kafka offsetsForTimes).
  // Errors: UNKNOWN_TOPIC_OR_PARTITION; I/O.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, std::optional<TimestampAndOffset>>>
  OffsetsForTimes(const std::map<TopicPartition, int64_t>& timestamps_ms);
  // Log start offsets / high watermarks. Errors: UNKNOWN_TOPIC_OR_PARTITION.
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> BeginningOffsets(
      const std::vector<TopicPartition>& partitions);
  [[nodiscard]] absl::StatusOr<std::map<TopicPartition, Offset>> EndOffsets(
      const std::vector<TopicPartition>& partitions);

  // Returns the records available at the assigned partitions' positions
  // (at most max_poll_records) and moves the positions past them; waits up
  // to `timeout_ms` for some when there are none (0: never waits). Errors:
  // OFFSET_OUT_OF_RANGE (a position out of range with policy kNone);
  // UNKNOWN_TOPIC_OR_PARTITION (an assigned topic was deleted); CORRUPT_MESSAGE;
  // Cancelled (Wakeup() was called); FailedPrecondition after Close(). Records
  // already collected are returned before an error surfaces, at the next call.
  [[nodiscard]] absl::StatusOr<ConsumerRecords> Poll(int64_t timeout_ms);

  // Makes a blocked (or the next) Poll return Cancelled. Any thread.
  void Wakeup();

  // Unassigns everything. Idempotent.
  [[nodiscard]] absl::Status Close();

  [[nodiscard]] ConsumerMetrics metrics() const;

 private:
  struct PartitionState;

  Consumer(Broker& broker, ConsumerOptions options);
  PartitionState* Find(const TopicPartition& partition) const;
  // The states of `partitions` (empty: every assigned one); FailedPrecondition
  // when one is not assigned.
  absl::StatusOr<std::vector<PartitionState*>> Targets(
      const std::vector<TopicPartition>& partitions) const;
  absl::Status ResetPosition(PartitionState& state, bool out_of_range);
  // Reads from one partition into records_; returns the bytes read.
  absl::StatusOr<size_t> FetchFrom(PartitionState& state, size_t max_bytes);
  absl::Status FetchAll();
  bool HasData() const;

  Broker& broker_;
  const ConsumerOptions options_;
  std::vector<std::unique_ptr<PartitionState>> assigned_;
  // Next partition to read first, so that no partition starves.
  size_t next_start_ = 0;
  std::vector<ConsumerRecord> records_;
  std::vector<std::vector<std::byte>> decompression_buffers_;
  size_t decompression_buffers_used_ = 0;
  absl::Status deferred_error_;
  DataWaiter waiter_;
  std::atomic<bool> wakeup_{false};
  bool closed_ = false;

  uint64_t polls_ = 0;
  uint64_t records_consumed_ = 0;
  uint64_t bytes_fetched_ = 0;
  uint64_t offset_resets_ = 0;
  uint64_t errors_ = 0;
};

}  // namespace evlog
