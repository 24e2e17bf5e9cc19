// evlog/replication/metadata_log.h — where the Controller writes its
// decisions, and the in-memory implementation.
//
// A MetadataLog is an append-only sequence of metadata records with dense
// offsets from 0. The Controller appends each decision — the records of
// one operation, such as a topic and its partitions, or a broker's fencing
// with the leader changes it causes — with one Append call, and an Append
// is atomic: after a crash the log holds all of its records or none. When
// Append returns OK the records are durable as far as the implementation
// promises (MemoryMetadataLog: for the life of the object;
// SegmentedMetadataLog: synced to disk).
//
//   evlog::MemoryMetadataLog log;
//   std::vector<evlog::MetadataRecord> decision = {topic_record, partition_record};
//   EVLOG_ASSIGN_OR_RETURN(evlog::Offset first, log.Append(decision));
//   EVLOG_ASSIGN_OR_RETURN(auto entries, log.Read(first, /*max_records=*/100));
//
// Other implementations (a replicated log, an external coordination
// service) plug in here: the Controller depends only on this interface.
//
// Thread-safety: implementations must be thread-safe (the Controller
// serialises its appends, but brokers may read while it appends).
#pragma once

#include <cstddef>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/replication/metadata_records.h"
#include "evlog/types.h"

namespace evlog {

// One record and the offset it has in the log.
struct MetadataLogEntry {
  Offset offset;
  MetadataRecord record;

  friend bool operator==(const MetadataLogEntry&, const MetadataLogEntry&) = default;
};

class MetadataLog {
 public:
  virtual ~MetadataLog() = default;

  // Appends `records` (at least one) atomically at end_offset(); they get
  // consecutive offsets. Returns the offset of the first. Errors: the
  // implementation's (I/O, a record that does not encode); on error nothing
  // was appended.
  [[nodiscard]] virtual absl::StatusOr<Offset> Append(std::span<const MetadataRecord> records) = 0;

  // Up to `max_records` (>= 1) entries with offsets >= `from`, in offset
  // order; empty when `from` >= end_offset(). Errors: OFFSET_OUT_OF_RANGE
  // when `from` is negative; CORRUPT_MESSAGE or UNSUPPORTED_VERSION for a
  // stored record that does not decode; I/O errors.
  [[nodiscard]] virtual absl::StatusOr<std::vector<MetadataLogEntry>> Read(
      Offset from, size_t max_records) const = 0;

  // The offset the next appended record gets (the number of records).
  [[nodiscard]] virtual Offset end_offset() const = 0;
};

// A MetadataLog held in memory: for tests, the simulator and an embedded
// cluster that needs no restart. Records are kept as values (never
// encoded), so it cannot fail.
class MemoryMetadataLog final : public MetadataLog {
 public:
  MemoryMetadataLog() = default;
  MemoryMetadataLog(const MemoryMetadataLog&) = delete;
  MemoryMetadataLog& operator=(const MemoryMetadataLog&) = delete;

  [[nodiscard]] absl::StatusOr<Offset> Append(std::span<const MetadataRecord> records) override;
  [[nodiscard]] absl::StatusOr<std::vector<MetadataLogEntry>> Read(
      Offset from, size_t max_records) const override;
  [[nodiscard]] Offset end_offset() const override;

  // Appends made so far (each a count of records), for tests that check a
  // decision was one atomic append.
  std::vector<size_t> append_sizes() const;

 private:
  mutable std::mutex mu_;
  std::vector<MetadataRecord> records_;
  std::vector<size_t> append_sizes_;
};

}  // namespace evlog
