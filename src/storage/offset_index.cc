#include "evlog/storage/offset_index.h"

#include <optional>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace evlog {

namespace internal {
template class SparseIndex<OffsetIndexTraits>;
}  // namespace internal

absl::StatusOr<std::unique_ptr<OffsetIndex>> OffsetIndex::Open(FileSystem& fs, std::string path,
                                                               Offset base_offset,
                                                               uint32_t max_index_bytes,
                                                               IndexMode mode) {
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<Impl> index,
                         Impl::Open(fs, std::move(path), base_offset, max_index_bytes, mode));
  return std::unique_ptr<OffsetIndex>(new OffsetIndex(std::move(index)));
}

absl::Status OffsetIndex::Append(Offset offset, uint32_t position) {
  return index_->Append(OffsetPosition{offset, position});
}

OffsetPosition OffsetIndex::Lookup(Offset target) const {
  return index_->Floor(target).value_or(OffsetPosition{base_offset(), 0});
}

std::optional<OffsetPosition> OffsetIndex::LookupCeiling(Offset target) const {
  return index_->Ceiling(target);
}

std::optional<OffsetPosition> OffsetIndex::LookupByPositionCeiling(uint32_t position) const {
  return index_->FirstNotSatisfying(
      [position](const OffsetPosition& e) { return e.position < position; });
}

Offset OffsetIndex::last_offset() const {
  const std::optional<OffsetPosition> last = index_->LastEntry();
  return last.has_value() ? last->offset : base_offset();
}

absl::Status OffsetIndex::SanityCheck(uint64_t log_size_bytes) const {
  return index_->CheckEntries([log_size_bytes](
                                  const OffsetPosition& e) -> std::optional<std::string> {
    if (e.position >= log_size_bytes) {
      return absl::StrCat("position ", e.position, " is not below the log size ", log_size_bytes);
    }
    return std::nullopt;
  });
}

}  // namespace evlog
