// A broker on an in-memory file system for the client tests, reopenable,
// on the real clock and a thread pool (Poll wake-ups and linger timers are
// real-time behaviour). A test that drives time opens its own broker with
// InMemoryBrokerOptions and a ManualClock.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/io/executor.h"
#include "evlog/io/mem_file_system.h"
#include "tests/support/broker_options.h"
#include "tests/support/catch.h"

namespace evlog::testing {

struct ClientEnv {
  MemFileSystem fs;
  ThreadPoolExecutor executor{1};
  std::unique_ptr<Broker> broker;

  explicit ClientEnv(bool open = true) {
    if (open) Reopen();
  }
  BrokerOptions Options() { return InMemoryBrokerOptions(fs, executor); }
  void Reopen() {
    if (broker) REQUIRE(broker->Close().ok());
    broker.reset();
    auto opened = Broker::Open(Options());
    REQUIRE(opened.ok());
    broker = *std::move(opened);
  }
  void CreateTopic(const std::string& name, int partitions, TopicConfig config = {}) {
    NewTopic t(partitions);
    t.config = config;
    REQUIRE(broker->CreateTopic(name, t).ok());
  }
  std::unique_ptr<Producer> MakeProducer(ProducerOptions options = {}) {
    auto p = Producer::Create(*broker, std::move(options));
    REQUIRE(p.ok());
    return *std::move(p);
  }
  std::unique_ptr<Consumer> MakeConsumer(ConsumerOptions options = {}) {
    auto c = Consumer::Create(*broker, std::move(options));
    REQUIRE(c.ok());
    return *std::move(c);
  }
};

// Polls until `count` records arrived or `polls` polls came back empty.
inline std::vector<OwnedRecord> PollAll(Consumer& consumer, size_t count, int max_empty = 50) {
  std::vector<OwnedRecord> out;
  int empty = 0;
  while (out.size() < count && empty < max_empty) {
    auto records = consumer.Poll(100);
    REQUIRE(records.ok());
    if (records->empty()) ++empty;
    for (const auto& r : *records) out.push_back(r.ToOwned());
  }
  return out;
}

// Polls without waiting until a poll comes back empty (for tests that drive
// the appends themselves): every record readable now.
inline std::vector<OwnedRecord> PollNow(Consumer& consumer) {
  std::vector<OwnedRecord> out;
  for (;;) {
    auto records = consumer.Poll(0);
    INFO(records.status());
    REQUIRE(records.ok());
    if (records->empty()) return out;
    for (const auto& r : *records) out.push_back(r.ToOwned());
  }
}

// The values of PollNow's records, in the order read (null values as "").
inline std::vector<std::string> PollValuesNow(Consumer& consumer) {
  std::vector<std::string> out;
  for (const OwnedRecord& r : PollNow(consumer)) out.push_back(r.value.value_or(""));
  return out;
}

}  // namespace evlog::testing
