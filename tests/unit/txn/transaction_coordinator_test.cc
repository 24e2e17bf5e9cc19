#include "evlog/txn/transaction_coordinator.h"

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

// A durable log that survives the coordinator (a restart reads it back).
// With `hold`, a write is durable only once the test releases it (a
// replicated log answering later).
struct MemoryLog : TransactionLog {
  std::vector<TransactionMetadata> records;
  bool hold = false;
  std::vector<std::pair<TransactionMetadata, WriteCallback>> held;
  void Write(const TransactionMetadata& m, WriteCallback done) override {
    if (hold) {
      held.emplace_back(m, std::move(done));
      return;
    }
    Store(m);
    done(absl::OkStatus());
  }
  void Store(const TransactionMetadata& m) {
    // Through the record format, as the real log stores it.
    auto decoded = DecodeTransactionMetadata(EncodeTransactionMetadata(m));
    REQUIRE(decoded.ok());
    records.push_back(*decoded);
  }
  // Makes the held writes durable, in order, and answers them.
  void ReleaseAll() {
    hold = false;
    auto writes = std::move(held);
    held.clear();
    for (auto& [m, done] : writes) {
      Store(m);
      done(absl::OkStatus());
    }
  }
  absl::StatusOr<std::vector<TransactionMetadata>> Load() override {
    std::map<std::string, TransactionMetadata> last;
    for (const TransactionMetadata& m : records) last[m.transactional_id] = m;
    std::vector<TransactionMetadata> out;
    for (auto& [id, m] : last) out.push_back(m);
    return out;
  }
};

using MarkerCall = std::tuple<TopicPartition, int64_t, int16_t, ControlRecordType>;

struct Markers : MarkerWriter {
  std::vector<MarkerCall> written;
  bool fail = false;
  void WriteMarker(const TopicPartition& tp, ProducerId id, ProducerEpoch epoch,
                   ControlRecordType type, WriteCallback done) override {
    if (fail) {
      done(absl::UnavailableError("injected: the partition's leader is away"));
      return;
    }
    written.emplace_back(tp, id.value(), epoch.value(), type);
    done(absl::OkStatus());
  }
};

struct Ids : ProducerIdSource {
  int64_t next = 1000;
  absl::StatusOr<ProducerId> NextId() override { return ProducerId(next++); }
};

struct Env {
  MemoryLog log;
  Markers markers;
  Ids ids;
  ManualClock clock{1'700'000'000'000};
  ManualExecutor executor{clock};
  std::unique_ptr<TransactionCoordinator> coordinator = Open();

  std::unique_ptr<TransactionCoordinator> Open() {
    auto c = TransactionCoordinator::Open(log, markers, ids, clock, executor);
    REQUIRE(c.ok());
    return *std::move(c);
  }
  ProducerIdAndEpoch Init(const std::string& id, int64_t timeout_ms = 60'000) {
    auto r = coordinator->InitProducerId(id, timeout_ms);
    INFO(r.status());
    REQUIRE(r.ok());
    return *r;
  }
  TransactionState State(const std::string& id) {
    auto m = coordinator->Describe(id);
    REQUIRE(m.ok());
    return m->state;
  }
};

const TopicPartition kA("invoices", 0);
const TopicPartition kB("invoices", 1);

TEST_CASE("a commit writes COMMIT markers on every partition and bumps the epoch") {
  Env env;
  const ProducerIdAndEpoch p = env.Init("billing");
  CHECK(p.producer_id == ProducerId(1000));
  CHECK(p.epoch == ProducerEpoch(0));
  REQUIRE(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kA}).ok());
  REQUIRE(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kB, kA}).ok());
  CHECK(env.State("billing") == TransactionState::kOngoing);
  auto next = env.coordinator->EndTransaction("billing", p.producer_id, p.epoch, true);
  REQUIRE(next.ok());
  CHECK(*next == ProducerEpoch(1));
  CHECK(env.markers.written == std::vector<MarkerCall>{{kA, 1000, 0, ControlRecordType::kCommit},
                                                       {kB, 1000, 0, ControlRecordType::kCommit}});
  CHECK(env.State("billing") == TransactionState::kCompleteCommit);
  // A retry of the commit (its answer was lost) gets the same answer.
  auto retry = env.coordinator->EndTransaction("billing", p.producer_id, p.epoch, true);
  REQUIRE(retry.ok());
  CHECK(*retry == ProducerEpoch(1));
  CHECK(env.markers.written.size() == 2);
  // The old epoch is fenced; the new one runs the next transaction.
  CHECK(HasErrorCode(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kA}),
                     ErrorCode::kProducerFenced));
  REQUIRE(env.coordinator->AddPartitions("billing", p.producer_id, *next, {kB}).ok());
  auto aborted = env.coordinator->EndTransaction("billing", p.producer_id, *next, false);
  REQUIRE(aborted.ok());
  CHECK(env.markers.written.back() == MarkerCall{kB, 1000, 1, ControlRecordType::kAbort});
}

TEST_CASE("calls in the wrong state or with the wrong producer change nothing") {
  Env env;
  const ProducerIdAndEpoch p = env.Init("billing");
  const size_t records = env.log.records.size();
  CHECK(HasErrorCode(
      env.coordinator->EndTransaction("billing", p.producer_id, p.epoch, true).status(),
      ErrorCode::kInvalidTxnState));
  CHECK(HasErrorCode(env.coordinator->AddPartitions("billing", ProducerId(7), p.epoch, {kA}),
                     ErrorCode::kInvalidProducerIdMapping));
  CHECK(HasErrorCode(env.coordinator->AddPartitions("nobody", p.producer_id, p.epoch, {kA}),
                     ErrorCode::kInvalidProducerIdMapping));
  CHECK(HasErrorCode(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch + 1, {kA}),
                     ErrorCode::kInvalidProducerEpoch));
  CHECK(
      HasErrorCode(env.coordinator->InitProducerId("", 1000).status(), ErrorCode::kInvalidRequest));
  CHECK(HasErrorCode(env.coordinator->InitProducerId("billing", 0).status(),
                     ErrorCode::kInvalidTransactionTimeout));
  CHECK(HasErrorCode(env.coordinator->InitProducerId("billing", 16 * 60 * 1000).status(),
                     ErrorCode::kInvalidTransactionTimeout));
  CHECK(env.log.records.size() == records);
  CHECK(env.markers.written.empty());
  CHECK(env.State("billing") == TransactionState::kEmpty);
}

TEST_CASE("a second instance fences the first and aborts its open transaction") {
  Env env;
  const ProducerIdAndEpoch first = env.Init("billing");
  REQUIRE(env.coordinator->AddPartitions("billing", first.producer_id, first.epoch, {kA}).ok());
  const ProducerIdAndEpoch second = env.Init("billing");
  CHECK(second.producer_id == first.producer_id);
  CHECK(second.epoch > first.epoch);
  // The abort markers carry an epoch the first instance does not have.
  REQUIRE(env.markers.written.size() == 1);
  CHECK(std::get<3>(env.markers.written[0]) == ControlRecordType::kAbort);
  CHECK(std::get<2>(env.markers.written[0]) > first.epoch.value());
  // The first instance's commit fails, and commits nothing.
  CHECK(HasErrorCode(
      env.coordinator->EndTransaction("billing", first.producer_id, first.epoch, true).status(),
      ErrorCode::kProducerFenced));
  CHECK(env.markers.written.size() == 1);
  CHECK(env.State("billing") == TransactionState::kEmpty);
}

TEST_CASE("a coordinator restarted between the phases finishes the commit") {
  Env env;
  const ProducerIdAndEpoch p = env.Init("billing");
  REQUIRE(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kA, kB}).ok());
  env.markers.fail = true;
  CHECK(!env.coordinator->EndTransaction("billing", p.producer_id, p.epoch, true).ok());
  CHECK(env.State("billing") == TransactionState::kPrepareCommit);
  // Meanwhile: the transaction is ending, the producer must wait.
  CHECK(HasErrorCode(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kA}),
                     ErrorCode::kConcurrentTransactions));
  env.coordinator.reset();  // the crash
  env.markers.fail = false;
  env.coordinator = env.Open();
  CHECK(env.State("billing") == TransactionState::kCompleteCommit);
  CHECK(env.markers.written == std::vector<MarkerCall>{{kA, 1000, 0, ControlRecordType::kCommit},
                                                       {kB, 1000, 0, ControlRecordType::kCommit}});
  // The producer's retry of the commit is answered with the new epoch.
  auto retry = env.coordinator->EndTransaction("billing", p.producer_id, p.epoch, true);
  REQUIRE(retry.ok());
  CHECK(*retry == ProducerEpoch(1));
}

TEST_CASE("a transaction open past its timeout is aborted and its producer fenced") {
  Env env;
  const ProducerIdAndEpoch p = env.Init("slow", /*timeout_ms=*/5'000);
  const ProducerIdAndEpoch other = env.Init("quick", /*timeout_ms=*/60'000);
  REQUIRE(env.coordinator->AddPartitions("slow", p.producer_id, p.epoch, {kA}).ok());
  REQUIRE(env.coordinator->AddPartitions("quick", other.producer_id, other.epoch, {kB}).ok());
  env.clock.AdvanceMs(4'000);
  CHECK(env.coordinator->AbortTimedOut() == 0);
  env.clock.AdvanceMs(2'000);
  CHECK(env.coordinator->AbortTimedOut() == 1);
  CHECK(env.State("slow") == TransactionState::kCompleteAbort);
  CHECK(env.State("quick") == TransactionState::kOngoing);
  REQUIRE(env.markers.written.size() == 1);
  CHECK(std::get<0>(env.markers.written[0]) == kA);
  CHECK(std::get<2>(env.markers.written[0]) > p.epoch.value());
  CHECK(HasErrorCode(env.coordinator->EndTransaction("slow", p.producer_id, p.epoch, true).status(),
                     ErrorCode::kProducerFenced));
}

TEST_CASE("transaction state records round-trip and reject every corruption") {
  TransactionMetadata m;
  m.transactional_id = "billing";
  m.producer_id = ProducerId(42);
  m.epoch = ProducerEpoch(7);
  m.timeout_ms = 30'000;
  m.state = TransactionState::kPrepareAbort;
  m.partitions = {kA, kB};
  m.start_ms = 11;
  m.last_update_ms = 12;
  const std::vector<std::byte> bytes = EncodeTransactionMetadata(m);
  auto decoded = DecodeTransactionMetadata(bytes);
  REQUIRE(decoded.ok());
  CHECK(*decoded == m);
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<std::byte> bad = bytes;
    bad[i] ^= std::byte{0x01};
    CHECK(HasErrorCode(DecodeTransactionMetadata(bad).status(), ErrorCode::kCorruptMessage));
    CHECK(HasErrorCode(DecodeTransactionMetadata(ByteView(bytes).first(i)).status(),
                       ErrorCode::kCorruptMessage));
  }
}

TEST_CASE("while an id's write is in flight its other calls are CONCURRENT_TRANSACTIONS") {
  Env env;
  const ProducerIdAndEpoch p = env.Init("billing");
  REQUIRE(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kA}).ok());
  env.log.hold = true;
  std::optional<absl::StatusOr<ProducerEpoch>> ended;
  env.coordinator->EndTransactionAsync("billing", p.producer_id, p.epoch, /*commit=*/true,
                                       [&](absl::StatusOr<ProducerEpoch> r) { ended = r; });
  // The PrepareCommit record is written but not yet durable.
  REQUIRE(env.log.held.size() == 1);
  CHECK(!ended.has_value());
  CHECK(env.State("billing") == TransactionState::kOngoing);
  CHECK(HasErrorCode(env.coordinator->AddPartitions("billing", p.producer_id, p.epoch, {kB}),
                     ErrorCode::kConcurrentTransactions));
  std::optional<absl::StatusOr<ProducerIdAndEpoch>> init;
  env.coordinator->InitProducerIdAsync("billing", 60'000,
                                       [&](absl::StatusOr<ProducerIdAndEpoch> r) { init = r; });
  REQUIRE(init.has_value());
  CHECK(HasErrorCode(init->status(), ErrorCode::kConcurrentTransactions));
  // Other ids are not held up: audit's first record is written at once.
  std::optional<absl::StatusOr<ProducerIdAndEpoch>> audit;
  env.coordinator->InitProducerIdAsync("audit", 60'000,
                                       [&](absl::StatusOr<ProducerIdAndEpoch> r) { audit = r; });
  CHECK(env.log.held.size() == 2);
  CHECK(env.markers.written.empty());

  // Once durable: the markers, then the Complete record with the next epoch.
  env.log.ReleaseAll();
  CHECK(env.markers.written.size() == 1);
  REQUIRE(ended.has_value());
  REQUIRE(ended->ok());
  CHECK(**ended == p.epoch + 1);
  CHECK(env.State("billing") == TransactionState::kCompleteCommit);
  REQUIRE(audit.has_value());
  REQUIRE(audit->ok());
  CHECK((*audit)->producer_id != p.producer_id);
}

}  // namespace
}  // namespace evlog
