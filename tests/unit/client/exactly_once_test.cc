// Consume-transform-produce with a transactional producer and a consumer
// group on a Broker: the input's offsets go into the transaction that
// produces its output (SendOffsetsToTransaction), so both commit together
// or not at all, and KIP-447's fencing keeps zombies out.
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "evlog/group/group_coordinator.h"
#include "evlog/status.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollAll;
using testing::PollValuesNow;

bool Is(const absl::Status& s, ErrorCode code) { return HasErrorCode(s, code); }

struct EosEnv : ClientEnv {
  std::shared_ptr<GroupCoordinator> groups;

  EosEnv() {
    StartGroups();
    CreateTopic("orders", 1);
    CreateTopic("invoices", 1);
    auto producer = MakeProducer();
    for (int i = 0; i < 10; ++i) {
      const std::string value = "order-" + std::to_string(i);
      REQUIRE(producer->Send(ProducerRecord("orders", value), nullptr).ok());
    }
    REQUIRE(producer->Flush().ok());
  }
  void StartGroups() {
    GroupCoordinatorOptions o;
    o.min_session_timeout_ms = 10;
    o.offset_store.partition_count = 2;
    auto made = GroupCoordinator::ForBroker(*broker, &o);
    REQUIRE(made.ok());
    groups = *std::move(made);
  }
  void Restart() {
    groups.reset();
    Reopen();
    StartGroups();
  }
  std::unique_ptr<Producer> Transactional(int64_t timeout_ms = 60'000) {
    ProducerOptions options;
    options.linger_ms = 0;
    options.transactional_id = "billing";
    options.transaction_timeout_ms = timeout_ms;
    auto producer = MakeProducer(options);
    REQUIRE(producer->InitTransactions().ok());
    return producer;
  }
  std::unique_ptr<Consumer> Member(IsolationLevel level = IsolationLevel::kReadCommitted) {
    ConsumerOptions o;
    o.group_id = "billing";
    o.isolation_level = level;
    o.auto_offset_reset = OffsetResetPolicy::kEarliest;
    o.session_timeout_ms = 2'000;
    o.heartbeat_interval_ms = 20;
    o.enable_auto_commit = false;
    auto consumer = MakeConsumer(o);
    REQUIRE(consumer->Subscribe({"orders"}).ok());
    return consumer;
  }
  std::unique_ptr<Consumer> InvoiceReader() {
    ConsumerOptions o;
    o.isolation_level = IsolationLevel::kReadCommitted;
    o.auto_offset_reset = OffsetResetPolicy::kEarliest;
    auto consumer = MakeConsumer(o);
    REQUIRE(consumer->Assign({{"invoices", 0}}).ok());
    return consumer;
  }
  std::map<TopicPartition, CommittedOffset> Committed() {
    auto stable = groups->FetchStableOffsets("billing");
    INFO(stable.status());
    REQUIRE(stable.ok());
    return *stable;
  }
};

std::map<TopicPartition, OffsetAndMetadata> At(int64_t offset) {
  return {{{"orders", 0}, OffsetAndMetadata{Offset(offset), kNoLeaderEpoch, ""}}};
}

// One round: the input polled now, its invoices sent, the offsets after it
// in the transaction. Returns the next offset.
int64_t Transform(Producer& producer, Consumer& member, std::vector<OwnedRecord>& input) {
  for (const OwnedRecord& order : input) {
    const std::string invoice = "invoice-for-" + *order.value;
    REQUIRE(producer.Send(ProducerRecord("invoices", invoice), nullptr).ok());
  }
  const int64_t next = input.back().offset.value() + 1;
  absl::Status sent = producer.SendOffsetsToTransaction(At(next), member.GroupMetadata());
  INFO(sent);
  REQUIRE(sent.ok());
  return next;
}

TEST_CASE("offsets sent in a transaction commit with its records, or not at all") {
  EosEnv env;
  auto producer = env.Transactional();
  auto member = env.Member();
  auto invoices = env.InvoiceReader();

  std::vector<OwnedRecord> input = PollAll(*member, 10);
  REQUIRE(input.size() == 10);
  input.resize(4);
  REQUIRE(producer->BeginTransaction().ok());
  Transform(*producer, *member, input);
  REQUIRE(producer->Flush().ok());
  // Open: neither the invoices nor the offsets are visible.
  CHECK(PollValuesNow(*invoices).empty());
  CHECK(env.groups->FetchOffsets("billing").empty());
  CHECK(Is(env.groups->FetchStableOffsets("billing").status(), ErrorCode::kUnstableOffsetCommit));
  REQUIRE(producer->CommitTransaction().ok());
  CHECK(PollValuesNow(*invoices).size() == 4);
  CHECK(env.Committed().at({"orders", 0}).offset == Offset(4));

  // An aborted round changes neither.
  std::vector<OwnedRecord> more(input.begin(), input.begin() + 1);
  more[0].offset = Offset(8);
  REQUIRE(producer->BeginTransaction().ok());
  Transform(*producer, *member, more);
  REQUIRE(producer->AbortTransaction().ok());
  CHECK(PollValuesNow(*invoices).empty());
  CHECK(env.Committed().at({"orders", 0}).offset == Offset(4));

  // A successor in the group resumes after the committed input.
  REQUIRE(member->Close().ok());
  auto successor = env.Member();
  std::vector<OwnedRecord> rest = PollAll(*successor, 6);
  REQUIRE(rest.size() == 6);
  CHECK(rest.front().offset == Offset(4));
}

TEST_CASE("a read_committed member waits for offsets of an open transaction instead of resetting") {
  EosEnv env;
  auto producer = env.Transactional();
  REQUIRE(producer->BeginTransaction().ok());
  // A producer's offsets outside group management (generation -1).
  ConsumerGroupMetadata outside;
  outside.group_id = "billing";
  REQUIRE(producer->SendOffsetsToTransaction(At(7), outside).ok());

  auto member = env.Member();
  CHECK(Is(member->Committed({{"orders", 0}}).status(), ErrorCode::kUnstableOffsetCommit));
  // Without KIP-447's wait it would reset to the earliest offset and read
  // the ten orders again.
  for (int i = 0; i < 10; ++i) {
    auto records = member->Poll(20);
    REQUIRE(records.ok());
    CHECK(records->empty());
  }
  CHECK(member->Assignment().size() == 1);
  REQUIRE(producer->CommitTransaction().ok());
  auto committed = member->Committed({{"orders", 0}});
  REQUIRE(committed.ok());
  CHECK(committed->at({"orders", 0}).offset == Offset(7));
  std::vector<OwnedRecord> rest = PollAll(*member, 3);
  REQUIRE(rest.size() == 3);
  CHECK(rest.front().offset == Offset(7));
}

TEST_CASE("a member rebalanced away cannot put its offsets in a transaction") {
  EosEnv env;
  auto producer = env.Transactional();
  auto member = env.Member();
  std::vector<OwnedRecord> input = PollAll(*member, 10);
  REQUIRE(input.size() == 10);
  const ConsumerGroupMetadata current = member->GroupMetadata();
  REQUIRE(current.generation.value() >= 1);

  REQUIRE(producer->BeginTransaction().ok());
  REQUIRE(producer->Send(ProducerRecord("invoices", "late"), nullptr).ok());
  ConsumerGroupMetadata stale = current;
  stale.generation = Generation(current.generation.value() - 1);
  CHECK(Is(producer->SendOffsetsToTransaction(At(10), stale), ErrorCode::kIllegalGeneration));
  ConsumerGroupMetadata ghost = current;
  ghost.member_id = "ghost";
  CHECK(Is(producer->SendOffsetsToTransaction(At(10), ghost), ErrorCode::kUnknownMemberId));
  // The transaction may no longer commit.
  CHECK(Is(producer->CommitTransaction(), ErrorCode::kTransactionAbortable));
  REQUIRE(producer->AbortTransaction().ok());
  CHECK(env.Committed().empty());
  CHECK(PollValuesNow(*env.InvoiceReader()).empty());

  // The next transaction with the member's current metadata succeeds.
  REQUIRE(producer->BeginTransaction().ok());
  REQUIRE(producer->SendOffsetsToTransaction(At(10), current).ok());
  REQUIRE(producer->CommitTransaction().ok());
  CHECK(env.Committed().at({"orders", 0}).offset == Offset(10));
}

TEST_CASE("a fenced instance's offsets never commit") {
  EosEnv env;
  auto zombie = env.Transactional();
  REQUIRE(zombie->BeginTransaction().ok());
  ConsumerGroupMetadata outside;
  outside.group_id = "billing";
  REQUIRE(zombie->SendOffsetsToTransaction(At(3), outside).ok());

  // The successor fences it and aborts its transaction.
  auto successor = env.Transactional();
  CHECK(env.Committed().empty());
  CHECK(Is(zombie->SendOffsetsToTransaction(At(5), outside), ErrorCode::kProducerFenced));
  CHECK(Is(zombie->CommitTransaction(), ErrorCode::kProducerFenced));
  CHECK(env.Committed().empty());

  REQUIRE(successor->BeginTransaction().ok());
  REQUIRE(successor->SendOffsetsToTransaction(At(2), outside).ok());
  REQUIRE(successor->CommitTransaction().ok());
  CHECK(env.Committed().at({"orders", 0}).offset == Offset(2));
}

TEST_CASE("offsets of a transaction open at a restart wait for it to time out, then are dropped") {
  EosEnv env;
  {
    auto producer = env.Transactional(/*timeout_ms=*/50);
    REQUIRE(producer->BeginTransaction().ok());
    ConsumerGroupMetadata outside;
    outside.group_id = "billing";
    REQUIRE(producer->SendOffsetsToTransaction(At(6), outside).ok());
    REQUIRE(producer->Close().ok());
  }
  env.Restart();
  // The coordinator started with the broker and still has it open.
  CHECK(Is(env.groups->FetchStableOffsets("billing").status(), ErrorCode::kUnstableOffsetCommit));
  auto coordinator = env.broker->transaction_coordinator();
  REQUIRE(coordinator.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t aborted = 0;
  while (aborted == 0 && std::chrono::steady_clock::now() < deadline) {
    aborted = (*coordinator)->AbortTimedOut();
    if (aborted == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(aborted == 1);
  CHECK(env.Committed().empty());
}

}  // namespace
}  // namespace evlog
