// Several batches in flight per partition (max_in_flight): how many go out
// before the first is acknowledged, and how a failure among them is
// retried without reordering or duplicating a partition's records. The
// appends reach a real idempotent partition of a Broker, but through a
// link the test holds: each append waits until the test lets it through,
// loses it, or loses its answer.
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "evlog/client/client_backend.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/support/forwarding_backend.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollValuesNow;

// The appends the producer sent and the test has not let through yet.
struct Link {
  struct Pending {
    std::vector<std::byte> batch;
    Acks acks;
    int64_t timeout_ms;
    ClientPartition::AppendCallback done;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Pending> pending;
  std::shared_ptr<ClientPartition> target;

  // Waits up to 10 s until `n` appends wait.
  bool WaitFor(size_t n) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return pending.size() >= n; });
  }
  size_t Waiting() {
    std::lock_guard lock(mu);
    return pending.size();
  }
  Pending Take() {
    std::lock_guard lock(mu);
    REQUIRE(!pending.empty());
    Pending p = std::move(pending.front());
    pending.pop_front();
    return p;
  }
  // The oldest waiting append reaches the partition; its answer reaches
  // the producer unless `lose_answer`.
  void Deliver(bool lose_answer = false) {
    Pending p = Take();
    target->Append(MutableByteView(p.batch), p.acks, p.timeout_ms,
                   [lose_answer, done = std::move(p.done)](absl::StatusOr<AppendResult> r) mutable {
                     if (lose_answer) r = MakeError(ErrorCode::kNetworkException, "answer lost");
                     done(std::move(r));
                   });
  }
  // The oldest waiting append never arrives.
  void Drop() {
    Pending p = Take();
    p.done(MakeError(ErrorCode::kNetworkException, "request lost"));
  }
};

class HeldPartition final : public testing::ForwardingPartition {
 public:
  HeldPartition(std::shared_ptr<ClientPartition> base, Link& link)
      : ForwardingPartition(std::move(base)), link_(link) {}
  void Append(MutableByteView batch, Acks acks, int64_t timeout_ms, AppendCallback done) override {
    {
      std::lock_guard lock(link_.mu);
      link_.target = base_ptr();
      link_.pending.push_back(
          {std::vector<std::byte>(batch.begin(), batch.end()), acks, timeout_ms, std::move(done)});
    }
    link_.cv.notify_all();
  }

 private:
  Link& link_;
};

struct InFlightEnv : ClientEnv {
  Link link;
  std::mutex mu;
  std::vector<std::string> completed;  // "value@offset" or "value!" in callback order

  InFlightEnv() { CreateTopic("orders", 1); }

  std::unique_ptr<Producer> Make(int32_t max_in_flight) {
    ProducerOptions o;
    o.linger_ms = 0;
    o.batch_size = 1;  // one record per batch
    o.max_in_flight = max_in_flight;
    o.retry_backoff_ms = 1;
    auto backend = std::make_unique<testing::ForwardingBackend>(
        MakeClientBackend(*broker), [this](std::shared_ptr<ClientPartition> p) {
          return std::make_shared<HeldPartition>(std::move(p), link);
        });
    auto p = Producer::Create(std::move(backend), o);
    REQUIRE(p.ok());
    return *std::move(p);
  }
  void Send(Producer& producer, const std::string& value) {
    REQUIRE(producer
                .Send(ProducerRecord("orders", value),
                      [this, value](const absl::StatusOr<RecordMetadata>& m) {
                        std::lock_guard lock(mu);
                        completed.push_back(m.ok() ? value + "@" + std::to_string(m->offset.value())
                                                   : value + "!");
                      })
                .ok());
  }
  std::vector<std::string> Completed() {
    std::lock_guard lock(mu);
    return completed;
  }
  std::vector<std::string> Log() {
    ConsumerOptions o;
    o.auto_offset_reset = OffsetResetPolicy::kEarliest;
    auto c = MakeConsumer(o);
    REQUIRE(c->Assign({{"orders", 0}}).ok());
    return PollValuesNow(*c);
  }
};

std::vector<std::string> Values(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("r" + std::to_string(i));
  return out;
}

std::vector<std::string> AtOffsets(int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back("r" + std::to_string(i) + "@" + std::to_string(i));
  return out;
}

TEST_CASE("up to max_in_flight batches of a partition go out before the first is acknowledged") {
  for (int32_t limit : {1, 3, 5}) {
    InFlightEnv env;
    auto producer = env.Make(limit);
    for (const std::string& v : Values(8)) env.Send(*producer, v);
    REQUIRE(env.link.WaitFor(static_cast<size_t>(limit)));
    CHECK(env.link.Waiting() == static_cast<size_t>(limit));
    // Each acknowledgement lets one more go.
    for (int i = 0; i < 8; ++i) {
      REQUIRE(env.link.WaitFor(1));
      env.link.Deliver();
    }
    REQUIRE(producer->Flush().ok());
    CHECK(env.Completed() == AtOffsets(8));
    CHECK(env.Log() == Values(8));
  }
}

TEST_CASE("a lost batch is sent again before the batches behind it, which keep their order") {
  InFlightEnv env;
  auto producer = env.Make(5);
  for (const std::string& v : Values(5)) env.Send(*producer, v);
  REQUIRE(env.link.WaitFor(5));
  env.link.Deliver();  // r0
  env.link.Drop();     // r1 never arrives
  // r2..r4 arrive after a gap: the partition refuses them as out of
  // sequence, and they wait behind r1.
  for (int i = 0; i < 3; ++i) env.link.Deliver();
  // Then one at a time: r1, r2, r3, r4.
  for (int i = 0; i < 4; ++i) {
    REQUIRE(env.link.WaitFor(1));
    CHECK(env.link.Waiting() == 1);
    env.link.Deliver();
  }
  REQUIRE(producer->Flush().ok());
  CHECK(env.Completed() == AtOffsets(5));
  CHECK(env.Log() == Values(5));
  CHECK(producer->metrics().retries == 4);
}

TEST_CASE("a lost acknowledgement among batches in flight writes nothing twice") {
  InFlightEnv env;
  auto producer = env.Make(5);
  for (const std::string& v : Values(5)) env.Send(*producer, v);
  REQUIRE(env.link.WaitFor(5));
  env.link.Deliver();
  env.link.Deliver(/*lose_answer=*/true);  // r1 is written; its answer is lost
  for (int i = 0; i < 3; ++i) env.link.Deliver();
  // r2..r4 were acknowledged, but their callbacks wait for r1's, which is
  // sent again and recognised as a retry.
  CHECK(env.Completed() == std::vector<std::string>{"r0@0"});
  REQUIRE(env.link.WaitFor(1));
  env.link.Deliver();
  REQUIRE(producer->Flush().ok());
  CHECK(env.Completed() == AtOffsets(5));
  CHECK(env.Log() == Values(5));
}

TEST_CASE("max_in_flight is checked") {
  ClientEnv env;
  ProducerOptions o;
  o.max_in_flight = 0;
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o.max_in_flight = 6;  // idempotent by default: at most 5
  CHECK(HasErrorCode(Producer::Create(*env.broker, o).status(), ErrorCode::kInvalidConfig));
  o.enable_idempotence = false;
  CHECK(Producer::Create(*env.broker, o).ok());
}

}  // namespace
}  // namespace evlog
