// The transactional producer on a Broker: records of a transaction become
// visible to read_committed consumers together, or never; a second
// instance fences the first.
#include <algorithm>
#include <string>
#include <vector>

#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollValuesNow;

std::unique_ptr<Producer> Transactional(ClientEnv& env, const std::string& id) {
  ProducerOptions options;
  options.linger_ms = 0;
  options.transactional_id = id;
  auto producer = env.MakeProducer(options);
  REQUIRE(producer->InitTransactions().ok());
  return producer;
}

std::unique_ptr<Consumer> Reader(ClientEnv& env, IsolationLevel level) {
  ConsumerOptions options;
  options.isolation_level = level;
  options.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto consumer = env.MakeConsumer(options);
  REQUIRE(consumer->Assign({{"orders", 0}, {"orders", 1}}).ok());
  return consumer;
}

void SendOk(Producer& producer, const std::string& value, int partition) {
  REQUIRE(producer.Send(ProducerRecord("orders", value).WithPartition(partition), nullptr).ok());
}

TEST_CASE("a committed transaction appears at once and an aborted one never") {
  ClientEnv env;
  env.CreateTopic("orders", 2);
  auto producer = Transactional(env, "billing");
  auto committed = Reader(env, IsolationLevel::kReadCommitted);
  auto everything = Reader(env, IsolationLevel::kReadUncommitted);

  REQUIRE(producer->BeginTransaction().ok());
  SendOk(*producer, "a", 0);
  SendOk(*producer, "b", 1);
  SendOk(*producer, "c", 0);
  REQUIRE(producer->Flush().ok());
  CHECK(PollValuesNow(*committed).empty());  // open: held at the last stable offset
  REQUIRE(producer->CommitTransaction().ok());
  std::vector<std::string> seen = PollValuesNow(*committed);
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{"a", "b", "c"});

  REQUIRE(producer->BeginTransaction().ok());
  SendOk(*producer, "x", 0);
  SendOk(*producer, "y", 1);
  REQUIRE(producer->AbortTransaction().ok());
  // A third transaction after the abort (a new epoch, sequences from 0).
  REQUIRE(producer->BeginTransaction().ok());
  SendOk(*producer, "d", 1);
  REQUIRE(producer->CommitTransaction().ok());
  CHECK(PollValuesNow(*committed) == std::vector<std::string>{"d"});
  std::vector<std::string> all = PollValuesNow(*everything);
  std::sort(all.begin(), all.end());
  CHECK(all == std::vector<std::string>{"a", "b", "c", "d", "x", "y"});
  CHECK(producer->metrics().record_errors == 0);
}

TEST_CASE("a second instance fences the first and its transaction is lost") {
  ClientEnv env;
  env.CreateTopic("orders", 2);
  auto first = Transactional(env, "billing");
  REQUIRE(first->BeginTransaction().ok());
  SendOk(*first, "zombie", 0);
  REQUIRE(first->Flush().ok());

  auto second = Transactional(env, "billing");  // aborts the first's transaction
  REQUIRE(second->BeginTransaction().ok());
  SendOk(*second, "fresh", 1);
  REQUIRE(second->CommitTransaction().ok());

  CHECK(HasErrorCode(first->CommitTransaction(), ErrorCode::kProducerFenced));
  CHECK(HasErrorCode(first->BeginTransaction(), ErrorCode::kInvalidTxnState));
  auto committed = Reader(env, IsolationLevel::kReadCommitted);
  CHECK(PollValuesNow(*committed) == std::vector<std::string>{"fresh"});
}

TEST_CASE("transactional calls out of order are refused") {
  ClientEnv env;
  env.CreateTopic("orders", 2);
  ProducerOptions options;
  options.transactional_id = "billing";
  auto producer = env.MakeProducer(options);
  CHECK(HasErrorCode(producer->BeginTransaction(), ErrorCode::kInvalidTxnState));
  REQUIRE(producer->InitTransactions().ok());
  CHECK(!producer->InitTransactions().ok());
  CHECK(HasErrorCode(producer->Send(ProducerRecord("orders", "v"), nullptr),
                     ErrorCode::kInvalidTxnState));
  CHECK(HasErrorCode(producer->CommitTransaction(), ErrorCode::kInvalidTxnState));
  ProducerOptions bad = options;
  bad.enable_idempotence = false;
  CHECK(HasErrorCode(Producer::Create(*env.broker, bad).status(), ErrorCode::kInvalidConfig));
  ProducerOptions plain;
  auto untransactional = env.MakeProducer(plain);
  CHECK(!untransactional->InitTransactions().ok());
}

TEST_CASE("the coordinator's state survives a broker restart") {
  ClientEnv env;
  env.CreateTopic("orders", 2);
  {
    auto producer = Transactional(env, "billing");
    REQUIRE(producer->BeginTransaction().ok());
    SendOk(*producer, "before", 0);
    REQUIRE(producer->CommitTransaction().ok());
    REQUIRE(producer->Close().ok());
  }
  auto before = env.broker->transaction_coordinator();
  REQUIRE(before.ok());
  const ProducerEpoch epoch = (*before)->Describe("billing")->epoch;
  env.Reopen();
  auto after = env.broker->transaction_coordinator();
  REQUIRE(after.ok());
  auto state = (*after)->Describe("billing");
  REQUIRE(state.ok());
  CHECK(state->epoch == epoch);
  CHECK(state->state == TransactionState::kCompleteCommit);
  auto producer = Transactional(env, "billing");
  CHECK((*after)->Describe("billing")->epoch > epoch);
  REQUIRE(producer->BeginTransaction().ok());
  SendOk(*producer, "after", 1);
  REQUIRE(producer->CommitTransaction().ok());
  auto committed = Reader(env, IsolationLevel::kReadCommitted);
  std::vector<std::string> seen = PollValuesNow(*committed);
  std::sort(seen.begin(), seen.end());
  CHECK(seen == std::vector<std::string>{"after", "before"});
}

}  // namespace
}  // namespace evlog
