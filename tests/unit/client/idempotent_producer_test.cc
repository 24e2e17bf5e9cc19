// The producer's idempotence (enable_idempotence): producer ids and
// sequence numbers in the batches it writes.
#include <set>
#include <string>
#include <vector>

#include "evlog/record/record_batch.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;

struct Header {
  ProducerId producer_id;
  ProducerEpoch epoch;
  Sequence first_sequence;
  int32_t records;
};

std::vector<Header> Headers(Broker& broker, const TopicPartition& tp) {
  auto partition = broker.GetPartition(tp);
  REQUIRE(partition.ok());
  std::vector<Header> out;
  std::vector<std::byte> buffer;
  Offset at(0);
  while (at < (*partition)->high_watermark()) {
    auto read = (*partition)->Read(at, buffer);
    REQUIRE(read.ok());
    ByteView rest = read->batches;
    while (!rest.empty()) {
      auto view = RecordBatchView::Parse(rest);
      REQUIRE(view.ok());
      out.push_back({view->producer_id(), view->producer_epoch(), view->base_sequence(),
                     view->record_count()});
      rest = rest.subspan(view->size_bytes());
    }
    at = read->next_offset;
  }
  return out;
}

TEST_CASE("an idempotent producer numbers its batches per partition from zero") {
  ClientEnv env;
  env.CreateTopic("ids", 2);
  ProducerOptions options;
  options.linger_ms = 0;
  auto producer = env.MakeProducer(options);  // acks all: idempotent by default
  for (int i = 0; i < 30; ++i) {
    REQUIRE(producer->SendSync(ProducerRecord("ids", "v").WithPartition(i % 2)).ok());
  }
  for (int p = 0; p < 2; ++p) {
    const std::vector<Header> headers = Headers(*env.broker, {"ids", p});
    REQUIRE(!headers.empty());
    int32_t expected = 0;
    for (const Header& h : headers) {
      CHECK(h.producer_id.value() >= 0);
      CHECK(h.producer_id == headers[0].producer_id);
      CHECK(h.epoch == ProducerEpoch(0));
      CHECK(h.first_sequence == Sequence(expected));
      expected += h.records;
    }
    CHECK(expected == 15);
  }
}

TEST_CASE("producers get distinct ids, also after the broker reopens") {
  ClientEnv env;
  env.CreateTopic("ids", 1);
  std::set<int64_t> ids;
  auto send_one = [&] {
    ProducerOptions options;
    options.linger_ms = 0;
    auto producer = env.MakeProducer(options);
    REQUIRE(producer->SendSync(ProducerRecord("ids", "v")).ok());
    REQUIRE(producer->Close().ok());
  };
  send_one();
  send_one();
  env.Reopen();
  send_one();
  for (const Header& h : Headers(*env.broker, {"ids", 0})) ids.insert(h.producer_id.value());
  CHECK(ids.size() == 3);
}

TEST_CASE("idempotence needs acks=all and is off by default with other acks") {
  ClientEnv env;
  env.CreateTopic("plain", 1);
  ProducerOptions bad;
  bad.acks = Acks::kLeader;
  bad.enable_idempotence = true;
  CHECK(HasErrorCode(Producer::Create(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
  ProducerOptions leader;
  leader.acks = Acks::kLeader;
  leader.linger_ms = 0;
  auto producer = env.MakeProducer(leader);
  REQUIRE(producer->SendSync(ProducerRecord("plain", "v")).ok());
  const std::vector<Header> headers = Headers(*env.broker, {"plain", 0});
  REQUIRE(headers.size() == 1);
  CHECK(headers[0].producer_id == kNoProducerId);
  CHECK(headers[0].first_sequence == kNoSequence);
}

}  // namespace
}  // namespace evlog
