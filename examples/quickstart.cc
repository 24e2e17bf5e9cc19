// evlog_quickstart — a broker inside your process: produce keyed order
// events to a 3-partition topic, read them all back, and run it again to see
// that the data is still there.
//
//   ./scripts/demo.sh                                    # builds and runs this
//   build/release/examples/evlog_quickstart [data-dir [record-count]]
//
// data-dir defaults to ./evlog-data and record-count to 200000. Each run adds
// record-count orders to the topic and reads back every record it holds,
// including those of earlier runs.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/status.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kTopic[] = "orders";
constexpr int32_t kPartitions = 3;
constexpr int64_t kDefaultRecordCount = 200'000;
// Poll gives up when it makes no progress for this long: every record it
// waits for was acknowledged before the consumer started, so a stall is a bug.
constexpr int64_t kStallLimitMs = 10'000;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Rate(int64_t records, uint64_t bytes, double seconds) {
  return absl::StrFormat("%d records in %.3f s: %.0f records/s, %.1f MB/s", records, seconds,
                         static_cast<double>(records) / seconds,
                         static_cast<double>(bytes) / seconds / 1e6);
}

// A JSON order of about 100 bytes; `out` is reused so that the loop does not
// allocate (Send() copies the bytes into a batch before it returns).
void OrderJson(int64_t order_id, std::string& out) {
  out.clear();
  absl::StrAppendFormat(&out,
                        R"({"order_id":%d,"customer":"customer-%d","sku":"SKU-%04d",)"
                        R"("quantity":%d,"amount_cents":%d,"currency":"EUR"})",
                        order_id, order_id % 1000, order_id % 7919, 1 + order_id % 5,
                        199 + (order_id * 37) % 20'000);
}

absl::Status Run(const std::string& data_dir, int64_t record_count) {
  evlog::BrokerOptions broker_options;
  broker_options.data_dir = data_dir;
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Broker> broker,
                         evlog::Broker::Open(broker_options));
  std::printf("broker open in %s\n", data_dir.c_str());

  absl::Status created = broker->CreateTopic(kTopic, evlog::NewTopic(kPartitions));
  if (created.ok()) {
    std::printf("created topic %s with %d partitions\n", kTopic, kPartitions);
  } else if (evlog::HasErrorCode(created, evlog::ErrorCode::kTopicAlreadyExists)) {
    std::printf("topic %s exists (from an earlier run)\n", kTopic);
  } else {
    return created;
  }

  // The topic may have been created with another partition count by hand:
  // read what it has rather than assume 3.
  EVLOG_ASSIGN_OR_RETURN(evlog::TopicDescription before, broker->DescribeTopic(kTopic));
  std::vector<evlog::TopicPartition> partitions;
  int64_t earlier_records = 0;
  for (const evlog::PartitionDescription& p : before.partitions) {
    partitions.emplace_back(kTopic, p.partition);
    earlier_records += p.high_watermark.value() - p.log_start_offset.value();
  }

  // Produce. Callbacks run on whichever thread appends the batch, so the
  // tallies are atomic and the first error is kept under a lock.
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Producer> producer,
                         evlog::Producer::Create(*broker));
  std::atomic<int64_t> acknowledged{0};
  std::mutex error_mu;
  absl::Status first_error;
  uint64_t produced_bytes = 0;
  std::string key;
  std::string value;
  const auto produce_start = Clock::now();
  for (int64_t i = 0; i < record_count; ++i) {
    const int64_t order_id = earlier_records + i;
    key = absl::StrFormat("customer-%d", order_id % 1000);
    OrderJson(order_id, value);
    produced_bytes += key.size() + value.size();
    EVLOG_RETURN_IF_ERROR(producer->Send(evlog::ProducerRecord(kTopic, key, value),
                                         [&](const absl::StatusOr<evlog::RecordMetadata>& sent) {
                                           if (sent.ok()) {
                                             acknowledged.fetch_add(1, std::memory_order_relaxed);
                                             return;
                                           }
                                           std::lock_guard<std::mutex> lock(error_mu);
                                           if (first_error.ok()) first_error = sent.status();
                                         }));
  }
  EVLOG_RETURN_IF_ERROR(producer->Flush());
  const double produce_seconds = SecondsSince(produce_start);
  {
    std::lock_guard<std::mutex> lock(error_mu);
    if (!first_error.ok()) return evlog::Annotate(first_error, "producing");
  }
  if (acknowledged.load() != record_count) {
    return absl::InternalError(absl::StrFormat("%d of %d records acknowledged after Flush()",
                                               acknowledged.load(), record_count));
  }
  EVLOG_RETURN_IF_ERROR(producer->Close());
  std::printf("\nproduced %s (key + value bytes)\n",
              Rate(record_count, produced_bytes, produce_seconds).c_str());

  // Consume every partition from its log start up to the end offsets taken
  // now, which include everything just produced.
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Consumer> consumer,
                         evlog::Consumer::Create(*broker));
  EVLOG_RETURN_IF_ERROR(consumer->Assign(partitions));
  EVLOG_RETURN_IF_ERROR(consumer->SeekToBeginning());
  EVLOG_ASSIGN_OR_RETURN(auto start_offsets, consumer->BeginningOffsets(partitions));
  EVLOG_ASSIGN_OR_RETURN(auto end_offsets, consumer->EndOffsets(partitions));

  std::map<evlog::TopicPartition, int64_t> consumed_per_partition;
  std::map<evlog::PartitionId, evlog::Offset> last_offset;
  int64_t consumed = 0;
  uint64_t consumed_bytes = 0;
  const auto consume_start = Clock::now();
  auto last_progress = consume_start;
  for (;;) {
    bool done = true;
    for (const evlog::TopicPartition& tp : partitions) {
      EVLOG_ASSIGN_OR_RETURN(evlog::Offset position, consumer->Position(tp));
      if (position < end_offsets[tp]) done = false;
    }
    if (done) break;
    if (SecondsSince(last_progress) * 1000 > kStallLimitMs) {
      return absl::DeadlineExceededError(
          absl::StrFormat("no record for %d ms with %d read", kStallLimitMs, consumed));
    }
    EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords records, consumer->Poll(/*timeout_ms=*/100));
    if (!records.empty()) last_progress = Clock::now();
    for (const evlog::ConsumerRecord& r : records) {
      // Within a partition, offsets only go up.
      auto [it, first] = last_offset.try_emplace(r.partition, r.offset);
      if (!first) {
        if (r.offset <= it->second) {
          return absl::InternalError(absl::StrFormat("partition %d: offset %d after %d",
                                                     r.partition.value(), r.offset.value(),
                                                     it->second.value()));
        }
        it->second = r.offset;
      }
      ++consumed_per_partition[evlog::TopicPartition(kTopic, r.partition)];
      ++consumed;
      consumed_bytes += (r.key ? r.key->size() : 0) + (r.value ? r.value->size() : 0);
    }
  }
  const double consume_seconds = SecondsSince(consume_start);
  std::printf("consumed %s\n\n", Rate(consumed, consumed_bytes, consume_seconds).c_str());

  for (const evlog::TopicPartition& tp : partitions) {
    std::printf("  %-10s %8lld records read, log start offset %lld, log end offset %lld\n",
                tp.ToString().c_str(), static_cast<long long>(consumed_per_partition[tp]),
                static_cast<long long>(start_offsets[tp].value()),
                static_cast<long long>(end_offsets[tp].value()));
  }
  if (consumed != earlier_records + record_count) {
    return absl::InternalError(
        absl::StrFormat("read %d records, expected %d from earlier runs + %d", consumed,
                        earlier_records, record_count));
  }
  std::printf("\n");
  if (earlier_records > 0) {
    std::printf("found %lld records from earlier runs, read back with this run's %lld\n",
                static_cast<long long>(earlier_records), static_cast<long long>(record_count));
  } else {
    std::printf("first run in %s: run again to see the records survive a restart\n",
                data_dir.c_str());
  }

  EVLOG_RETURN_IF_ERROR(consumer->Close());
  return broker->Close();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string data_dir = argc > 1 ? argv[1] : "./evlog-data";
  int64_t record_count = kDefaultRecordCount;
  if (argc > 2) {
    char* end = nullptr;
    record_count = std::strtoll(argv[2], &end, 10);
    if (*end != '\0' || record_count < 0) {
      std::fprintf(stderr, "usage: %s [data-dir [record-count]]\n", argv[0]);
      return 2;
    }
  }
  if (absl::Status status = Run(data_dir, record_count); !status.ok()) {
    std::fprintf(stderr, "error: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
