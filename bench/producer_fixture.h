// What the producer-mode benchmarks (idempotence_bench.cc,
// transaction_bench.cc) share: one Broker per process in a scratch
// directory (PosixFileSystem, durability none unless a topic says
// otherwise), a pool of 1,024 16-byte keys and a 100-byte value, and fresh
// names for the topics and transactional ids of each row.
#pragma once

#include <cstddef>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench_support.h"
#include "evlog/broker/broker.h"

namespace evlog::bench {

class ProducerFixture {
 public:
  static constexpr size_t kKeyBytes = 16;
  static constexpr size_t kKeys = 1024;
  static constexpr size_t kValueBytes = 100;

  // The process's fixture, opened on first use (and never closed: the
  // benchmarks of the executable share it).
  static ProducerFixture& Get() {
    static ProducerFixture* fixture = new ProducerFixture();
    return *fixture;
  }

  Broker& broker() { return *broker_; }
  const std::string& key(uint64_t n) const { return keys_[n % kKeys]; }
  const std::string& value() const { return value_; }
  // "<prefix>-<n>", n counting up over the process.
  std::string NextName(const char* prefix) { return absl::StrFormat("%s-%d", prefix, next_++); }

 private:
  ProducerFixture() {
    BrokerOptions options;
    options.data_dir = dir_.path();
    broker_ = Must(Broker::Open(options), "Broker::Open");
    std::mt19937_64 rng(7);
    for (size_t i = 0; i < kKeys; ++i) {
      keys_.push_back(absl::StrFormat("user-%011d", rng() % 100'000'000'000ULL));
    }
  }

  TempDir dir_{"producer"};
  std::unique_ptr<Broker> broker_;
  std::vector<std::string> keys_;
  std::string value_ = std::string(kValueBytes, 'v');
  int next_ = 0;
};

}  // namespace evlog::bench
