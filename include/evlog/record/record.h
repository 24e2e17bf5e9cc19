// evlog/record/record.h — one record of a batch, as written and as read.
//
// A record is an optional key, an optional value and a list of headers
// (a string key and an optional byte value each). "Optional" matters: a
// null value is a tombstone on a compacted topic, while an empty value is
// ordinary data, so null and empty are kept apart everywhere:
//
//   std::optional<ByteView> null_value;                    // null
//   std::optional<ByteView> empty_value = ByteView{};      // present, 0 bytes
//
// RecordHeader is what a writer passes to RecordBatchBuilder::Append.
// RecordView, RecordHeadersView and RecordHeaderView are what a reader gets
// from a RecordIterator (record_batch.h): views into batch memory that the
// reader does not own (see RecordBatchView::Records for their lifetime).
//
// Thread-safety: values and views; a view may be read from any thread while
// the memory it points into is alive and unmodified.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string_view>

#include "evlog/bytes.h"
#include "evlog/types.h"

namespace evlog {

// A header to write. Kafka forbids null header keys; the value may be null.
struct RecordHeader {
  std::string_view key;
  std::optional<ByteView> value;
};

// A header as read: views into the batch.
struct RecordHeaderView {
  std::string_view key;
  std::optional<ByteView> value;
};

// The headers of one record, decoded lazily on iteration. The encoded
// bytes were fully validated when the record was read, so iterating cannot
// fail.
class RecordHeadersView {
 public:
  class Iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = RecordHeaderView;
    using difference_type = std::ptrdiff_t;
    using pointer = const RecordHeaderView*;
    using reference = const RecordHeaderView&;

    Iterator() = default;
    const RecordHeaderView& operator*() const { return current_; }
    const RecordHeaderView* operator->() const { return &current_; }
    Iterator& operator++() {
      --left_;
      Load();
      return *this;
    }
    void operator++(int) { ++*this; }
    friend bool operator==(const Iterator& a, const Iterator& b) { return a.left_ == b.left_; }

   private:
    friend class RecordHeadersView;
    Iterator(ByteView rest, int32_t left) : rest_(rest), left_(left) { Load(); }
    void Load();  // decodes the header at rest_ when left_ > 0

    ByteView rest_;
    int32_t left_ = 0;
    RecordHeaderView current_;
  };

  RecordHeadersView() = default;
  // REQUIRES: `encoded` holds exactly `count` valid encoded headers.
  RecordHeadersView(ByteView encoded, int32_t count) : encoded_(encoded), count_(count) {}

  [[nodiscard]] int32_t size() const { return count_; }
  [[nodiscard]] bool empty() const { return count_ == 0; }
  [[nodiscard]] Iterator begin() const { return Iterator(encoded_, count_); }
  [[nodiscard]] Iterator end() const { return Iterator(); }
  // The encoded headers (without their count), e.g. to copy them verbatim.
  [[nodiscard]] ByteView encoded() const { return encoded_; }

 private:
  ByteView encoded_;
  int32_t count_ = 0;
};

// A record as read from a batch.
struct RecordView {
  Offset offset;         // baseOffset + offsetDelta
  int64_t timestamp_ms;  // create time, or the batch's log-append time
  std::optional<ByteView> key;
  std::optional<ByteView> value;
  RecordHeadersView headers;
};

}  // namespace evlog
