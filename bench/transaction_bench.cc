// Transactions (issue 7): transactional vs plain produce throughput, and
// CommitTransaction latency. A Producer on a Broker (PosixFileSystem under
// $TMPDIR; the data topic at durability none, __transaction_state synced on
// every append as the coordinator requires), 4 partitions, 100-byte values
// with 16-byte keys, linger_ms 5.
//
//   BM_Produce/txn:0                    plain (idempotent) produce + Flush: the baseline
//   BM_Produce/txn:1/records:<n>        Begin, n records, Commit, repeated
//   BM_Commit/records:<n>               latency of CommitTransaction alone (p50/p99 counters)
//
// Each iteration sends 10,000 records (1,000 in smoke runs).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "evlog/broker/broker.h"
#include "evlog/client/producer.h"
#include "producer_fixture.h"

namespace evlog::bench {
namespace {

using F = ProducerFixture;
constexpr size_t kKeyBytes = F::kKeyBytes;
constexpr size_t kValueBytes = F::kValueBytes;

uint64_t PerIteration() { return SmokeRun() ? 1'000 : 10'000; }

struct Topic {
  explicit Topic(ProducerFixture& f) : f(f), name(f.NextName("txn")) {
    Must(f.broker().CreateTopic(name, NewTopic(4)), "CreateTopic");
  }
  ~Topic() { Must(f.broker().DeleteTopic(name), "DeleteTopic"); }
  ProducerFixture& f;
  std::string name;
};

std::unique_ptr<Producer> MakeProducer(ProducerFixture& f, bool transactional) {
  ProducerOptions options;
  options.linger_ms = 5;
  if (transactional) options.transactional_id = f.NextName("bench");
  auto producer = Must(Producer::Create(f.broker(), options), "Producer::Create");
  if (transactional) Must(producer->InitTransactions(), "InitTransactions");
  return producer;
}

void SendRecords(ProducerFixture& f, Producer& producer, const std::string& topic, uint64_t first,
                 uint64_t count) {
  for (uint64_t n = first; n < first + count; ++n) {
    Must(producer.Send(ProducerRecord(topic, f.key(n), f.value()), SendCallback()), "Send");
  }
}

// Args: transactional (0/1), records per transaction.
void BM_Produce(benchmark::State& state) {
  ProducerFixture& f = ProducerFixture::Get();
  const bool transactional = state.range(0) != 0;
  const auto per_txn = static_cast<uint64_t>(state.range(1));
  Topic topic(f);
  auto producer = MakeProducer(f, transactional);
  uint64_t sent = 0;
  for (auto _ : state) {
    const uint64_t target = sent + PerIteration();
    while (sent < target) {
      const uint64_t n = std::min(per_txn, target - sent);
      if (transactional) Must(producer->BeginTransaction(), "BeginTransaction");
      SendRecords(f, *producer, topic.name, sent, n);
      if (transactional) {
        Must(producer->CommitTransaction(), "CommitTransaction");
      }
      sent += n;
    }
    if (!transactional) Must(producer->Flush(), "Flush");
  }
  if (producer->metrics().record_errors != 0) state.SkipWithError("records failed");
  state.SetItemsProcessed(static_cast<int64_t>(sent));
  state.SetBytesProcessed(static_cast<int64_t>(sent * (kKeyBytes + kValueBytes)));
  Must(producer->Close(), "Producer::Close");
}

BENCHMARK(BM_Produce)
    ->ArgNames({"txn", "records"})
    ->Args({0, 10'000})
    ->Args({1, 100})
    ->Args({1, 10'000})
    ->UseRealTime();

// Args: records per transaction. Times CommitTransaction only (manual
// time); p50/p99 over every commit of the run.
void BM_Commit(benchmark::State& state) {
  ProducerFixture& f = ProducerFixture::Get();
  const auto per_txn = static_cast<uint64_t>(state.range(0));
  Topic topic(f);
  auto producer = MakeProducer(f, true);
  std::vector<double> commit_us;
  uint64_t sent = 0;
  for (auto _ : state) {
    Must(producer->BeginTransaction(), "BeginTransaction");
    SendRecords(f, *producer, topic.name, sent, per_txn);
    sent += per_txn;
    const auto start = std::chrono::steady_clock::now();
    Must(producer->CommitTransaction(), "CommitTransaction");
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.SetIterationTime(seconds);
    commit_us.push_back(seconds * 1e6);
  }
  std::sort(commit_us.begin(), commit_us.end());
  if (!commit_us.empty()) {
    state.counters["p50_us"] = commit_us[commit_us.size() / 2];
    state.counters["p99_us"] =
        commit_us[std::min(commit_us.size() - 1, commit_us.size() * 99 / 100)];
  }
  state.SetItemsProcessed(static_cast<int64_t>(sent));
  Must(producer->Close(), "Producer::Close");
}

BENCHMARK(BM_Commit)->ArgName("records")->Arg(100)->Arg(10'000)->UseManualTime();

}  // namespace
}  // namespace evlog::bench
