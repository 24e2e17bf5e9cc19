// isolation_level read_committed: a consumer stops at the last stable
// offset and never returns records of aborted transactions. The
// transactions are written straight into the partition, as the
// transactional producer and coordinator will write them.
#include <string>
#include <vector>

#include "evlog/record/control_record.h"
#include "evlog/record/record_batch_builder.h"
#include "tests/support/catch.h"
#include "tests/unit/client/client_env.h"

namespace evlog {
namespace {

using testing::ClientEnv;
using testing::PollValuesNow;

std::vector<std::byte> Batch(int64_t producer, int32_t sequence, bool transactional,
                             const std::vector<std::string>& values) {
  RecordBatchOptions options;
  options.producer_id = ProducerId(producer);
  options.producer_epoch = ProducerEpoch(producer < 0 ? -1 : 0);
  options.base_sequence = Sequence(sequence);
  options.is_transactional = transactional;
  RecordBatchBuilder builder(options);
  for (const std::string& v : values) REQUIRE(builder.Append(1'000, std::nullopt, AsBytes(v)).ok());
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  return std::vector<std::byte>(bytes->begin(), bytes->end());
}

void Write(Partition& p, std::vector<std::byte> batch) {
  auto r = p.Append(batch);
  INFO(r.status());
  REQUIRE(r.ok());
}

void End(Partition& p, int64_t producer, ControlRecordType type) {
  Write(p, BuildEndTransactionMarkerBatch({type, 0}, ProducerId(producer), ProducerEpoch(0), 1));
}

TEST_CASE("read_committed stops at an open transaction and skips aborted ones") {
  ClientEnv env;
  env.CreateTopic("ledger", 1);
  auto partition = env.broker->GetPartition({"ledger", 0});
  REQUIRE(partition.ok());
  Partition& p = **partition;
  ConsumerOptions committed;
  committed.isolation_level = IsolationLevel::kReadCommitted;
  committed.auto_offset_reset = OffsetResetPolicy::kEarliest;
  committed.max_poll_records = 2;  // positions inside and between batches
  auto reader = env.MakeConsumer(committed);
  ConsumerOptions all;
  all.auto_offset_reset = OffsetResetPolicy::kEarliest;
  auto everything = env.MakeConsumer(all);
  REQUIRE(reader->Assign({{"ledger", 0}}).ok());
  REQUIRE(everything->Assign({{"ledger", 0}}).ok());

  Write(p, Batch(-1, -1, false, {"plain-1"}));
  Write(p, Batch(10, 0, true, {"a-1", "a-2"}));  // transaction A opens
  Write(p, Batch(-1, -1, false, {"plain-2"}));
  Write(p, Batch(20, 0, true, {"b-1"}));  // transaction B opens
  Write(p, Batch(10, 2, true, {"a-3"}));
  // A is open: only what precedes it is stable.
  CHECK(PollValuesNow(*reader) == std::vector<std::string>{"plain-1"});
  End(p, 10, ControlRecordType::kAbort);
  // A aborted: B is now the earliest open transaction.
  CHECK(PollValuesNow(*reader) == std::vector<std::string>{"plain-2"});
  Write(p, Batch(20, 1, true, {"b-2"}));
  End(p, 20, ControlRecordType::kCommit);
  Write(p, Batch(-1, -1, false, {"plain-3"}));
  CHECK(PollValuesNow(*reader) == std::vector<std::string>{"b-1", "b-2", "plain-3"});
  // read_uncommitted sees every data record (never the markers).
  CHECK(PollValuesNow(*everything) == std::vector<std::string>{"plain-1", "a-1", "a-2", "plain-2",
                                                               "b-1", "a-3", "b-2", "plain-3"});

  // End offsets follow the isolation level.
  Write(p, Batch(30, 0, true, {"c-1"}));
  auto stable = reader->EndOffsets({{"ledger", 0}});
  auto high = everything->EndOffsets({{"ledger", 0}});
  REQUIRE(stable.ok());
  REQUIRE(high.ok());
  CHECK(stable->at({"ledger", 0}) == p.last_stable_offset());
  CHECK(high->at({"ledger", 0}) == p.high_watermark());
  CHECK(stable->at({"ledger", 0}) < high->at({"ledger", 0}));
}

}  // namespace
}  // namespace evlog
