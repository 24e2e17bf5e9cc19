// Idempotent vs plain produce (issue 7's "idempotent vs plain produce
// throughput", goal >= 0.95): a Producer on a Broker (PosixFileSystem under
// $TMPDIR, durability none) sends 10,000 records of 100 B (16-byte keys
// from a pool of 1,024, murmur2-partitioned over 4 partitions) per
// iteration, then Flush()es. Args: idempotence (0/1), linger_ms. The same
// binary, the same topic settings: the ratio is idempotent / plain at the
// same linger.
#include <benchmark/benchmark.h>

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

void BM_Produce(benchmark::State& state) {
  ProducerFixture& f = ProducerFixture::Get();
  const bool idempotent = state.range(0) != 0;
  const std::string topic = f.NextName("idem");
  Must(f.broker().CreateTopic(topic, NewTopic(4)), "CreateTopic");
  ProducerOptions options;
  options.enable_idempotence = idempotent;
  options.linger_ms = state.range(1);
  auto producer = Must(Producer::Create(f.broker(), options), "Producer::Create");
  // Segment files exist before the timed loop.
  for (int p = 0; p < 4; ++p) {
    Must(producer->SendSync(ProducerRecord(topic, "warm-up").WithPartition(p)).status(),
         "SendSync");
  }
  const uint64_t per_iteration = SmokeRun() ? 1'000 : 10'000;
  uint64_t sent = 0;
  for (auto _ : state) {
    for (uint64_t n = 0; n < per_iteration; ++n, ++sent) {
      Must(producer->Send(ProducerRecord(topic, f.key(sent), f.value()), SendCallback()), "Send");
    }
    Must(producer->Flush(), "Flush");
  }
  if (producer->metrics().record_errors != 0) state.SkipWithError("records failed");
  state.SetItemsProcessed(static_cast<int64_t>(sent));
  state.SetBytesProcessed(static_cast<int64_t>(sent * (kKeyBytes + kValueBytes)));
  Must(producer->Close(), "Producer::Close");
  producer.reset();
  Must(f.broker().DeleteTopic(topic), "DeleteTopic");
}

BENCHMARK(BM_Produce)
    ->ArgNames({"idempotent", "linger"})
    ->ArgsProduct({{0, 1}, {0, 5}})
    ->UseRealTime();

}  // namespace
}  // namespace evlog::bench
