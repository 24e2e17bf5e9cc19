// Writes the seed corpus for record_batch_fuzzer: a handful of valid
// batches of different shapes. Run once; the output is kept in the repo.
//
//   evlog_record_corpus_generator fuzz/corpus/record_batch

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "evlog/record/control_record.h"
#include "evlog/record/record_batch_builder.h"

namespace {

using namespace evlog;

void Write(const std::string& dir, const std::string& name, ByteView bytes) {
  std::ofstream out(dir + "/" + name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  std::printf("%s/%s (%zu bytes)\n", dir.c_str(), name.c_str(), bytes.size());
}

std::vector<std::byte> Build(const RecordBatchOptions& options, int records, bool headers,
                             bool nulls) {
  RecordBatchBuilder builder(options);
  const std::string json = R"({"user":"u-1234","event":"page_view","path":"/checkout"})";
  for (int i = 0; i < records; ++i) {
    const std::string key = "key-" + std::to_string(i % 3);
    std::vector<RecordHeader> hs;
    if (headers) {
      hs.push_back({"trace-id", AsBytes("abc123")});
      hs.push_back({"empty", std::nullopt});
    }
    std::optional<ByteView> k = (nulls && i % 2 == 0) ? std::nullopt : std::optional(AsBytes(key));
    std::optional<ByteView> v = (nulls && i % 3 == 0) ? std::nullopt : std::optional(AsBytes(json));
    if (!builder.Append(1'700'000'000'000 + i * 7, k, v, hs).ok()) std::abort();
  }
  if (!builder.Finish().ok()) std::abort();
  return std::move(builder).Release();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s <output dir>\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  RecordBatchOptions plain;
  Write(dir, "empty", ByteView(Build(plain, 0, false, false)));
  Write(dir, "one_record", ByteView(Build(plain, 1, false, false)));
  Write(dir, "nulls_and_headers", ByteView(Build(plain, 6, true, true)));

  RecordBatchOptions producer;
  producer.base_offset = Offset(1000);
  producer.producer_id = ProducerId(77);
  producer.producer_epoch = ProducerEpoch(2);
  producer.base_sequence = Sequence(40);
  producer.is_transactional = true;
  producer.partition_leader_epoch = LeaderEpoch(3);
  Write(dir, "transactional", ByteView(Build(producer, 4, true, false)));

  RecordBatchOptions zstd;
  zstd.compression = CompressionType::kZstd;
  Write(dir, "zstd", ByteView(Build(zstd, 20, true, true)));

  RecordBatchOptions append_time;
  append_time.log_append_time_ms = 1'700'000'123'456;
  Write(dir, "log_append_time", ByteView(Build(append_time, 3, false, false)));

  Write(dir, "commit_marker",
        ByteView(BuildEndTransactionMarkerBatch({ControlRecordType::kCommit, 5}, ProducerId(77),
                                                ProducerEpoch(2), 1'700'000'000'500)));
  Write(dir, "abort_marker",
        ByteView(BuildEndTransactionMarkerBatch({ControlRecordType::kAbort, 6}, ProducerId(78),
                                                ProducerEpoch(0), 1'700'000'000'600)));
  return 0;
}
