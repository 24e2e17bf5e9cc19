#include "evlog/broker/internal/high_watermark_checkpoint.h"

#include <string>
#include <string_view>
#include <vector>

#include "evlog/io/mem_file_system.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

using internal::DecodeHighWatermarkCheckpoint;
using internal::EncodeHighWatermarkCheckpoint;
using internal::HighWatermarkEntry;

void WriteText(MemFileSystem& fs, const std::string& path, std::string_view text) {
  auto file = fs.Open(path, OpenMode::kCreate);
  REQUIRE(file.ok());
  REQUIRE((*file)->Truncate(0).ok());
  REQUIRE((*file)->Append(AsBytes(text)).ok());
}

TEST_CASE("a high-watermark checkpoint round-trips its entries in order") {
  const std::vector<HighWatermarkEntry> entries = {
      {TopicPartition("orders", 0), TopicId(7), Offset(0)},
      {TopicPartition("orders", 12), TopicId(7), Offset(9'223'372'036'854'775'807)},
      {TopicPartition("__consumer_offsets", 3), TopicId(18'446'744'073'709'551'615ULL), Offset(42)},
  };
  const std::string text = EncodeHighWatermarkCheckpoint(entries);
  CHECK(text.substr(0, 5) == "0\n3\no");
  CHECK(text.find("orders 12 9223372036854775807 7\n") != std::string::npos);
  auto decoded = DecodeHighWatermarkCheckpoint(text);
  REQUIRE(decoded.ok());
  CHECK(*decoded == entries);
  auto none = DecodeHighWatermarkCheckpoint(EncodeHighWatermarkCheckpoint({}));
  REQUIRE(none.ok());
  CHECK(none->empty());
  // Kafka's readers take CRLF lines and runs of blanks.
  auto loose = DecodeHighWatermarkCheckpoint("0\r\n1\r\norders\t 2  5 7 \r\n");
  REQUIRE(loose.ok());
  CHECK(*loose ==
        std::vector<HighWatermarkEntry>{{TopicPartition("orders", 2), TopicId(7), Offset(5)}});
}

TEST_CASE("a damaged high-watermark checkpoint is refused with the line that is wrong") {
  struct Case {
    std::string_view text;
    std::string_view says;
  };
  const Case cases[] = {
      {"", "is empty"},
      {"0\n1\norders 0 5 7", "no newline"},
      {"1\n0\n", "line 1: version 1, expected 0"},
      {"0\n2\norders 0 5 7\n", "announces 2 entries but has 1"},
      {"0\n1\norders 0 5\n",
       "line 3: expected \"<topic> <partition> <high watermark> <topic id>\""},
      {"0\n1\norders 0 5 7 8\n", "line 3"},
      {"0\n1\nor/ders 0 5 7\n", "line 3"},
      {"0\n1\norders -1 5 7\n", "line 3"},
      {"0\n1\norders 0 -5 7\n", "line 3"},
      {"0\n1\norders 0 5 0\n", "line 3"},
      {"0\n1\norders 0 5 -7\n", "line 3"},
      {"0\n1\n orders 0 5 7\n", "line 3"},
      {"0\n1\norders 2147483648 5 7\n", "line 3"},
      {"0\n2\norders 0 5 7\norders 1 x 7\n", "line 4"},
      {"0\n2\norders 0 5 7\norders 0 6 7\n", "line 4: expected each partition once"},
  };
  for (const Case& c : cases) {
    INFO("text: \"" << c.text << "\"");
    auto decoded = DecodeHighWatermarkCheckpoint(c.text);
    REQUIRE_FALSE(decoded.ok());
    CHECK(absl::IsDataLoss(decoded.status()));
    CHECK(std::string(decoded.status().message()).find(c.says) != std::string::npos);
  }
}

TEST_CASE("reading a broker's high-watermark checkpoint file") {
  MemFileSystem fs;
  REQUIRE(fs.CreateDir("/broker-1").ok());
  // None yet: no entries, not an error.
  auto missing = internal::ReadHighWatermarkCheckpoint(fs, "/broker-1");
  REQUIRE(missing.ok());
  CHECK(missing->empty());

  const std::vector<HighWatermarkEntry> entries = {
      {TopicPartition("orders", 1), TopicId(3), Offset(17)}};
  REQUIRE(internal::WriteHighWatermarkCheckpoint(fs, "/broker-1", entries).ok());
  auto read = internal::ReadHighWatermarkCheckpoint(fs, "/broker-1");
  REQUIRE(read.ok());
  CHECK(*read == entries);

  WriteText(fs, "/broker-1/high-watermark-checkpoint", "0\n1\norders 1 1");
  auto torn = internal::ReadHighWatermarkCheckpoint(fs, "/broker-1");
  REQUIRE_FALSE(torn.ok());
  CHECK(absl::IsDataLoss(torn.status()));
  CHECK(std::string(torn.status().message()).find("/broker-1/high-watermark-checkpoint") !=
        std::string::npos);
}

}  // namespace
}  // namespace evlog
