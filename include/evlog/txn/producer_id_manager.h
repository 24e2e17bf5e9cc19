// evlog/txn/producer_id_manager.h — hands out producer ids (Kafka's
// InitProducerId) that never repeat, even across restarts and crashes.
//
//   EVLOG_ASSIGN_OR_RETURN(auto ids, evlog::ProducerIdManager::Open(fs, "/data/__producer_ids"));
//   EVLOG_ASSIGN_OR_RETURN(evlog::ProducerId id, ids->NextId());
//
// Ids come from blocks (1,000 by default, as Kafka's controller allocates
// them): before the first id of a block is handed out, the start of the
// next block is written durably to `<dir>/producer-ids` (replaced
// atomically). A restart continues from there, so ids of a block cut short
// by a crash are skipped, never reused. A partition's producer state keyed
// by a reused id would take a new producer for an old one.
//
// Thread-safety: thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "evlog/io/file_system.h"
#include "evlog/types.h"

namespace evlog {

// Hands out producer ids (a ProducerIdManager, or a fake in tests).
class ProducerIdSource {
 public:
  virtual ~ProducerIdSource() = default;
  [[nodiscard]] virtual absl::StatusOr<ProducerId> NextId() = 0;
};

class ProducerIdManager final : public ProducerIdSource {
 public:
  static constexpr int64_t kDefaultBlockSize = 1000;

  // Opens the allocation state in `dir` (created when missing). Errors:
  // CORRUPT_MESSAGE for an allocation file it cannot read (refusing to
  // guess where the used ids end); INVALID_CONFIG for block_size < 1; I/O.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ProducerIdManager>> Open(
      FileSystem& fs, std::string dir, int64_t block_size = kDefaultBlockSize);

  // An id never returned before by a manager of this directory. Errors:
  // I/O errors persisting the next block (no id is handed out then).
  [[nodiscard]] absl::StatusOr<ProducerId> NextId() override;

 private:
  ProducerIdManager(FileSystem& fs, std::string dir, int64_t block_size, int64_t next_block)
      : fs_(fs), dir_(std::move(dir)), block_size_(block_size), next_block_(next_block) {}

  FileSystem& fs_;
  const std::string dir_;
  const int64_t block_size_;
  std::mutex mu_;
  // [next_id_, block_end_) is the current block; next_block_ is persisted.
  int64_t next_id_ = 0;
  int64_t block_end_ = 0;
  int64_t next_block_;
};

}  // namespace evlog
