// A Partition with the idempotence hook (MakeProducerStateHook): retries
// answered from the log, refusals leave the log untouched, and the state
// survives a reopen, a follower's replication and a truncation.
#include <memory>
#include <string>
#include <vector>

#include "evlog/io/clock.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/partition/partition.h"
#include "evlog/record/control_record.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "evlog/storage/internal/scan_batches.h"
#include "evlog/txn/idempotent_sequencer.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

std::vector<std::byte> ProducerBatch(int64_t producer, int16_t epoch, int32_t sequence,
                                     int records) {
  RecordBatchOptions options;
  options.producer_id = ProducerId(producer);
  options.producer_epoch = ProducerEpoch(epoch);
  options.base_sequence = Sequence(sequence);
  RecordBatchBuilder builder(options);
  for (int i = 0; i < records; ++i) {
    const std::string value = "p" + std::to_string(producer) + "-s" + std::to_string(sequence + i);
    REQUIRE(builder.Append(1'000, std::nullopt, AsBytes(value)).ok());
  }
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  return std::vector<std::byte>(bytes->begin(), bytes->end());
}

struct Env {
  MemFileSystem fs;
  ManualClock clock{1'700'000'000'000};

  static LogConfig Config() {
    LogConfig config;
    config.segment_index_bytes = 64 << 10;
    return config;
  }
  std::shared_ptr<Partition> Open(const std::string& dir, LogConfig config = Config()) {
    auto log = PartitionLog::Open(fs, clock, dir, config);
    REQUIRE(log.ok());
    TopicSettings settings;
    settings.log = config;
    auto p = std::make_shared<Partition>("orders", PartitionId(0), *std::move(log), settings);
    REQUIRE(p->SetProducerStateHook(MakeProducerStateHook(clock)).ok());
    return p;
  }
};

AppendResult Append(Partition& p, std::vector<std::byte> batch) {
  auto r = p.Append(batch);
  INFO(r.status());
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("an idempotent partition answers a retry with its original offsets") {
  Env env;
  auto p = env.Open("/orders-0");
  Append(*p, ProducerBatch(-1, -1, -1, 2));
  const AppendResult first = Append(*p, ProducerBatch(7, 0, 0, 3));
  CHECK(first.base_offset == Offset(2));
  CHECK(first.last_offset == Offset(4));
  const AppendResult second = Append(*p, ProducerBatch(7, 0, 3, 2));
  // A retry of either (a lost acknowledgement) is answered, not appended.
  const AppendResult retry = Append(*p, ProducerBatch(7, 0, 0, 3));
  CHECK(retry.base_offset == first.base_offset);
  CHECK(retry.last_offset == first.last_offset);
  CHECK(Append(*p, ProducerBatch(7, 0, 3, 2)).base_offset == second.base_offset);
  CHECK(p->log_end_offset() == Offset(7));

  // Refusals append nothing.
  std::vector<std::byte> gap = ProducerBatch(7, 0, 9, 1);
  CHECK(HasErrorCode(p->Append(gap).status(), ErrorCode::kOutOfOrderSequenceNumber));
  Append(*p, ProducerBatch(7, 1, 0, 1));  // a new epoch (a restarted producer)
  std::vector<std::byte> zombie = ProducerBatch(7, 0, 5, 1);
  CHECK(HasErrorCode(p->Append(zombie).status(), ErrorCode::kInvalidProducerEpoch));
  CHECK(p->log_end_offset() == Offset(8));
  // Batches without a producer id are never checked.
  Append(*p, ProducerBatch(-1, -1, -1, 1));
  Append(*p, ProducerBatch(-1, -1, -1, 1));
  CHECK(p->log_end_offset() == Offset(10));
}

TEST_CASE("a reopened partition still knows which batches it holds") {
  Env env;
  AppendResult last;
  {
    auto p = env.Open("/orders-0");
    for (int i = 0; i < 4; ++i) last = Append(*p, ProducerBatch(3, 2, i * 10, 10));
    REQUIRE(p->Close().ok());
  }
  auto p = env.Open("/orders-0");
  const AppendResult retry = Append(*p, ProducerBatch(3, 2, 30, 10));
  CHECK(retry.base_offset == last.base_offset);
  CHECK(p->log_end_offset() == Offset(40));
  std::vector<std::byte> gap = ProducerBatch(3, 2, 41, 1);
  CHECK(HasErrorCode(p->Append(gap).status(), ErrorCode::kOutOfOrderSequenceNumber));
  CHECK(Append(*p, ProducerBatch(3, 2, 40, 1)).base_offset == Offset(40));
}

TEST_CASE("a follower learns producer state from its copies and forgets what it truncates") {
  Env env;
  auto leader = env.Open("/leader/orders-0");
  auto follower = env.Open("/follower/orders-0");
  std::vector<std::vector<std::byte>> sent;
  for (int i = 0; i < 3; ++i) {
    sent.push_back(ProducerBatch(11, 0, i * 2, 2));
    std::vector<std::byte> copy = sent.back();
    REQUIRE(leader->Append(copy).ok());  // edited in place: the copy now has its offsets
    AppendOptions replica;
    replica.assign_offsets = false;
    REQUIRE(follower->Append(copy, replica).ok());
  }
  // The follower, now leader, answers the producer's retry of the last batch.
  CHECK(Append(*follower, sent[2]).base_offset == Offset(4));
  CHECK(follower->log_end_offset() == Offset(6));
  // Its log diverged: the last batch is truncated away, and its retry is
  // then appended again, not answered from a batch that is gone.
  REQUIRE(follower->TruncateTo(Offset(4)).ok());
  CHECK(Append(*follower, sent[2]).base_offset == Offset(4));
  CHECK(follower->log_end_offset() == Offset(6));
  REQUIRE(follower->TruncateFullyAndStartAt(Offset(100)).ok());
  // Nothing known any more: any sequence is accepted.
  CHECK(Append(*follower, ProducerBatch(11, 0, 50, 1)).base_offset == Offset(100));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

std::vector<std::byte> TxnBatch(int64_t producer, int32_t sequence, int records) {
  RecordBatchOptions options;
  options.producer_id = ProducerId(producer);
  options.producer_epoch = ProducerEpoch(0);
  options.base_sequence = Sequence(sequence);
  options.is_transactional = true;
  RecordBatchBuilder builder(options);
  for (int i = 0; i < records; ++i) {
    REQUIRE(builder.Append(1'000, std::nullopt, AsBytes("t" + std::to_string(producer))).ok());
  }
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  return std::vector<std::byte>(bytes->begin(), bytes->end());
}

std::vector<std::byte> Marker(int64_t producer, ControlRecordType type) {
  return BuildEndTransactionMarkerBatch({type, 0}, ProducerId(producer), ProducerEpoch(0), 2'000);
}

TEST_CASE("the last stable offset stops at the earliest open transaction") {
  Env env;
  auto p = env.Open("/orders-0");
  Append(*p, ProducerBatch(-1, -1, -1, 2));  // 0-1
  Append(*p, TxnBatch(1, 0, 3));             // 2-4, txn of 1
  Append(*p, ProducerBatch(-1, -1, -1, 1));  // 5
  Append(*p, TxnBatch(2, 0, 2));             // 6-7, txn of 2
  CHECK(p->last_stable_offset() == Offset(2));
  Append(*p, Marker(1, ControlRecordType::kCommit));  // 8
  CHECK(p->last_stable_offset() == Offset(6));
  Append(*p, TxnBatch(2, 2, 1));                     // 9, still txn of 2
  Append(*p, Marker(2, ControlRecordType::kAbort));  // 10
  CHECK(p->last_stable_offset() == Offset(11));
  CHECK(p->AbortedTransactions(Offset(0), Offset(11)) ==
        std::vector<AbortedTransaction>{{ProducerId(2), Offset(6), Offset(10)}});
  CHECK(p->AbortedTransactions(Offset(11), Offset(20)).empty());

  // Reopened, the log replays into the same state.
  REQUIRE(p->Close().ok());
  p = env.Open("/orders-0");
  CHECK(p->last_stable_offset() == Offset(11));
  CHECK(p->AbortedTransactions(Offset(7), Offset(8)).size() == 1);
  Append(*p, TxnBatch(3, 0, 1));  // 11
  REQUIRE(p->Close().ok());
  p = env.Open("/orders-0");
  CHECK(p->last_stable_offset() == Offset(11));
}

TEST_CASE("a managed high watermark starts at the restored one, within the log") {
  Env env;
  LogConfig config = Env::Config();
  config.retention_ms = -1;  // the records are from 1970
  auto p = env.Open("/orders-0", config);
  Append(*p, ProducerBatch(-1, -1, -1, 5));  // 0-4
  p->ManageHighWatermark(Offset(3));
  CHECK(p->high_watermark() == Offset(3));
  // A checkpoint from before the log lost its tail (a crash): the log end.
  p->ManageHighWatermark(Offset(9));
  CHECK(p->high_watermark() == Offset(5));
  REQUIRE(p->DeleteRecordsBefore(Offset(2)).ok());
  // From before the log start moved: the log start.
  p->ManageHighWatermark(Offset(1));
  CHECK(p->high_watermark() == Offset(2));
}

TEST_CASE("a transaction is stable only once its marker is below the high watermark") {
  Env env;
  auto p = env.Open("/orders-0");
  p->ManageHighWatermark(Offset(0));  // as a replicated leader: the replica set moves it
  Append(*p, TxnBatch(1, 0, 2));      // 0-1
  Append(*p, Marker(1, ControlRecordType::kCommit));  // 2
  p->SetHighWatermark(Offset(2));
  CHECK(p->last_stable_offset() == Offset(0));  // the marker is not replicated
  p->SetHighWatermark(Offset(3));
  CHECK(p->last_stable_offset() == Offset(3));
  // A follower that loses the marker in a truncation has the transaction open again.
  REQUIRE(p->TruncateTo(Offset(2)).ok());
  CHECK(p->last_stable_offset() == Offset(0));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

struct PersistentEnv : Env {
  std::shared_ptr<Partition> OpenSaved(const std::string& dir, uint32_t segment_bytes = 1 << 30) {
    LogConfig config;
    config.segment_index_bytes = 64 << 10;
    config.segment_bytes = segment_bytes;
    auto log = PartitionLog::Open(fs, clock, dir, config);
    REQUIRE(log.ok());
    auto p =
        std::make_shared<Partition>("orders", PartitionId(0), *std::move(log), TopicSettings());
    REQUIRE(p->SetProducerStateHook(
                 MakeProducerStateHook(clock, kDefaultProducerIdExpirationMs, &fs, dir))
                .ok());
    return p;
  }
  std::vector<std::string> Snapshots(const std::string& dir) {
    auto names = fs.ListDir(dir);
    REQUIRE(names.ok());
    std::vector<std::string> out;
    for (const std::string& n : *names) {
      if (n.ends_with(".snapshot")) out.push_back(n);
    }
    return out;
  }
};

TEST_CASE("producer state is saved at close and restored, or rebuilt when the save is bad") {
  PersistentEnv env;
  const std::string dir = "/orders-0";
  {
    auto p = env.OpenSaved(dir);
    Append(*p, ProducerBatch(4, 0, 0, 2));             // 0-1
    Append(*p, TxnBatch(5, 0, 1));                     // 2, open
    Append(*p, TxnBatch(6, 0, 1));                     // 3
    Append(*p, Marker(6, ControlRecordType::kAbort));  // 4
    REQUIRE(p->Close().ok());
  }
  CHECK(env.Snapshots(dir) == std::vector<std::string>{"00000000000000000005.snapshot"});
  auto check = [&](Partition& p) {
    CHECK(Append(p, ProducerBatch(4, 0, 0, 2)).base_offset == Offset(0));  // a retry
    CHECK(p.last_stable_offset() == Offset(2));
    CHECK(p.AbortedTransactions(Offset(0), Offset(5)) ==
          std::vector<AbortedTransaction>{{ProducerId(6), Offset(3), Offset(4)}});
    CHECK(p.log_end_offset() == Offset(5));
  };
  {
    auto p = env.OpenSaved(dir);
    check(*p);
    REQUIRE(p->Close().ok());
  }
  // A damaged snapshot is not trusted: the log is replayed instead.
  auto file = env.fs.Open(dir + "/00000000000000000005.snapshot", OpenMode::kReadWrite);
  REQUIRE(file.ok());
  REQUIRE((*file)->WriteAt(20, AsBytes("??")).ok());
  REQUIRE((*file)->Close().ok());
  auto p = env.OpenSaved(dir);
  check(*p);
}

TEST_CASE("a snapshot past the log end is dropped and the log replayed") {
  PersistentEnv env;
  const std::string dir = "/orders-0";
  {
    auto p = env.OpenSaved(dir);
    Append(*p, ProducerBatch(8, 0, 0, 1));  // 0
    Append(*p, ProducerBatch(8, 0, 1, 1));  // 1
    REQUIRE(p->Close().ok());
  }
  {
    // The log loses its last batch behind the partition's back (as an
    // unclean shutdown may), after the snapshot at 2 was written.
    LogConfig config;
    config.segment_index_bytes = 64 << 10;
    auto log = PartitionLog::Open(env.fs, env.clock, dir, config);
    REQUIRE(log.ok());
    REQUIRE((*log)->TruncateTo(Offset(1)).ok());
    REQUIRE((*log)->Close().ok());
  }
  auto p = env.OpenSaved(dir);
  // The lost batch is expected again, not answered from the stale snapshot.
  CHECK(Append(*p, ProducerBatch(8, 0, 1, 1)).base_offset == Offset(1));
  CHECK(p->log_end_offset() == Offset(2));
}

TEST_CASE("producer state is saved at segment rolls, the two newest kept") {
  PersistentEnv env;
  auto p = env.OpenSaved("/orders-0", /*segment_bytes=*/4096);
  for (int i = 0; i < 400; ++i) Append(*p, ProducerBatch(9, 0, i, 1));
  // Saved while running, not only at close (a crash keeps these).
  const std::vector<std::string> saved = env.Snapshots("/orders-0");
  CHECK(saved.size() == 2);
  REQUIRE(p->Close().ok());
  auto reopened = env.OpenSaved("/orders-0", 4096);
  CHECK(Append(*reopened, ProducerBatch(9, 0, 399, 1)).base_offset == Offset(399));
  CHECK(reopened->log_end_offset() == Offset(400));
}

TEST_CASE("a marker with a newer epoch fences the producer's older instance") {
  Env env;
  auto p = env.Open("/orders-0");
  Append(*p, TxnBatch(5, 0, 1));  // epoch 0, sequence 0
  // The coordinator fenced epoch 0 and aborted its transaction with epoch 1.
  Append(*p, BuildEndTransactionMarkerBatch({ControlRecordType::kAbort, 0}, ProducerId(5),
                                            ProducerEpoch(1), 2'000));
  std::vector<std::byte> zombie = TxnBatch(5, 1, 1);
  CHECK(HasErrorCode(p->Append(zombie).status(), ErrorCode::kInvalidProducerEpoch));
  CHECK(p->log_end_offset() == Offset(2));
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

// One keyed record per batch: `key`=`value` (nullopt: no producer).
std::vector<std::byte> KeyedBatch(const std::string& key, const std::string& value,
                                  std::optional<int64_t> txn_producer, int32_t sequence = 0) {
  RecordBatchOptions options;
  if (txn_producer) {
    options.producer_id = ProducerId(*txn_producer);
    options.producer_epoch = ProducerEpoch(0);
    options.base_sequence = Sequence(sequence);
    options.is_transactional = true;
  }
  RecordBatchBuilder builder(options);
  // Padded so that every batch fills a segment of 1 KiB.
  const std::string padded = value + std::string(700, ' ');
  REQUIRE(builder.Append(1'000, AsBytes(key), AsBytes(padded)).ok());
  auto bytes = builder.Finish();
  REQUIRE(bytes.ok());
  return std::vector<std::byte>(bytes->begin(), bytes->end());
}

// key=value of every record readable from the start.
std::vector<std::string> Contents(Partition& p) {
  std::vector<std::string> out;
  std::vector<std::byte> decompressed;
  REQUIRE(internal::ScanBatches(p, p.log_start_offset(), p.high_watermark(),
                                [&](const RecordBatchView& batch) -> absl::Status {
                                  if (batch.is_control()) return absl::OkStatus();
                                  EVLOG_ASSIGN_OR_RETURN(RecordIterator records,
                                                         batch.Records({}, &decompressed));
                                  for (const RecordView& r : records) {
                                    std::string value = ToString(*r.value);
                                    value.erase(value.find(' '));
                                    out.push_back(ToString(*r.key) + "=" + value);
                                  }
                                  return records.status();
                                })
              .ok());
  return out;
}

TEST_CASE("compaction drops aborted writes without losing the value they would have replaced") {
  Env env;
  LogConfig config = Env::Config();
  config.segment_bytes = 1024;  // every keyed batch rolls a segment
  config.cleanup_policy = CleanupPolicy::kCompact;
  config.min_cleanable_dirty_ratio = 0;
  auto p = env.Open("/offsets-0", config);

  Append(*p, KeyedBatch("a", "1", std::nullopt));     // 0
  Append(*p, KeyedBatch("b", "1", std::nullopt));     // 1
  Append(*p, KeyedBatch("a", "aborted", 7));          // 2, txn of 7
  Append(*p, Marker(7, ControlRecordType::kAbort));   // 3
  Append(*p, KeyedBatch("b", "committed", 8));        // 4, txn of 8
  Append(*p, Marker(8, ControlRecordType::kCommit));  // 5
  Append(*p, KeyedBatch("a", "open", 9));             // 6, txn of 9: open
  Append(*p, KeyedBatch("c", "1", std::nullopt));     // 7
  Append(*p, KeyedBatch("d", "1", std::nullopt));     // 8 (active segment)
  REQUIRE(p->last_stable_offset() == Offset(6));

  REQUIRE(p->MaybeCompact().ok());
  // The aborted a=aborted is gone and did not displace a=1; b=1 gave way to
  // the committed b; the open transaction and what follows it are untouched.
  CHECK(Contents(*p) == std::vector<std::string>{"a=1", "b=committed", "a=open", "c=1", "d=1"});

  // Once the open transaction aborts too, a=1 is still the value of a.
  Append(*p, Marker(9, ControlRecordType::kAbort));  // 9
  Append(*p, KeyedBatch("e", "1", std::nullopt));    // 10
  REQUIRE(p->MaybeCompact().ok());
  CHECK(Contents(*p) == std::vector<std::string>{"a=1", "b=committed", "c=1", "d=1", "e=1"});
}

}  // namespace
}  // namespace evlog

namespace evlog {
namespace {

TEST_CASE("aborted transactions before the log start are forgotten") {
  Env env;
  LogConfig config = Env::Config();
  config.retention_ms = -1;  // the batches' timestamps are from 1970
  auto p = env.Open("/orders-0", config);
  Append(*p, TxnBatch(1, 0, 2));                     // 0-1
  Append(*p, Marker(1, ControlRecordType::kAbort));  // 2
  Append(*p, TxnBatch(2, 0, 1));                     // 3
  Append(*p, Marker(2, ControlRecordType::kAbort));  // 4
  Append(*p, ProducerBatch(-1, -1, -1, 1));          // 5
  REQUIRE(p->AbortedTransactions(Offset(0), Offset(6)).size() == 2);
  REQUIRE(p->DeleteRecordsBefore(Offset(3)).ok());
  CHECK(p->AbortedTransactions(Offset(0), Offset(6)) ==
        std::vector<AbortedTransaction>{{ProducerId(2), Offset(3), Offset(4)}});
  REQUIRE(p->DeleteRecordsBefore(Offset(5)).ok());
  CHECK(p->AbortedTransactions(Offset(0), Offset(6)).empty());
}

}  // namespace
}  // namespace evlog
