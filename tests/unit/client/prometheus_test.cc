#include "evlog/client/prometheus.h"

#include <string>

#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollAll;

TEST_CASE("the Prometheus rendering carries offsets, counters and lag from live snapshots") {
  ClientEnv env;
  env.CreateTopic("orders", 2);
  ProducerOptions po;
  po.client_id = "svc \"a\"";
  auto producer = env.MakeProducer(po);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(producer->Send(ProducerRecord("orders", "v").WithPartition(1), nullptr).ok());
  }
  REQUIRE(producer->Flush().ok());
  ConsumerOptions co;
  co.auto_offset_reset = OffsetResetPolicy::kEarliest;
  co.max_poll_records = 4;
  co.client_id = "reader";
  auto consumer = env.MakeConsumer(co);
  REQUIRE(consumer->Assign({{"orders", 1}}).ok());
  REQUIRE(consumer->Poll(1000).ok());  // reads 4 of 10

  MetricsSnapshot snapshot;
  snapshot.broker = env.broker->metrics();
  snapshot.producers.push_back(producer->metrics());
  snapshot.consumers.push_back(consumer->metrics());
  const std::string text = RenderPrometheus(snapshot);
  INFO(text);
  CHECK(text.find("# TYPE evlog_partition_log_end_offset gauge\n") != std::string::npos);
  CHECK(text.find("evlog_partition_log_end_offset{topic=\"orders\",partition=\"1\"} 10\n") !=
        std::string::npos);
  CHECK(text.find("evlog_partition_log_end_offset{topic=\"orders\",partition=\"0\"} 0\n") !=
        std::string::npos);
  CHECK(text.find("evlog_partition_appended_records_total{topic=\"orders\",partition=\"1\"} "
                  "10\n") != std::string::npos);
  CHECK(text.find("evlog_producer_records_total{client_id=\"svc \\\"a\\\"\"} 10\n") !=
        std::string::npos);
  CHECK(text.find("evlog_consumer_lag_records{client_id=\"reader\",topic=\"orders\","
                  "partition=\"1\"} 6\n") != std::string::npos);
  CHECK(text.find("evlog_consumer_records_total{client_id=\"reader\"} 4\n") != std::string::npos);
}

TEST_CASE("an empty snapshot renders nothing") { CHECK(RenderPrometheus({}).empty()); }

}  // namespace
}  // namespace evlog
