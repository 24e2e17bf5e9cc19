// Offset commit throughput: OffsetStore::CommitOffsets of 1 and of 10
// partitions per commit, beside a baseline in the same run that appends the
// same batch bytes straight to a Partition of a topic configured as
// `__consumer_offsets` is (compacted, Durability::kEveryAppend: one
// fdatasync per append from one thread).
//
//   build/<dir>/bench/evlog_offset_commit_bench
//   build/<dir>/bench/evlog_offset_commit_bench --benchmark_filter=/10
//
// BM_CommitOffsetsConcurrent/threads:<n> commits from n threads at once
// (items/s summed over the threads).
//
// Rows report items/s = commits/s (one batch each). The difference between
// BM_CommitOffsets and BM_RawAppend is what the store adds: validation,
// encoding the keys and values, building the batch, the cache update. Both
// sync every commit, so on a real disk the fdatasync dominates; run on
// tmpfs (TMPDIR=/dev/shm) to see the store's CPU cost alone.
//
// Files live in a fresh directory under $TMPDIR (or /tmp), removed at the
// end of each benchmark.

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "evlog/broker/broker.h"
#include "evlog/group/offset_store.h"
#include "evlog/record/record_batch_builder.h"

namespace evlog {
namespace {

using bench::TempDir;

// A broker in a temporary directory, with one thread of background work.
struct Node {
  TempDir dir{"node"};
  std::unique_ptr<Broker> broker;

  Node() {
    BrokerOptions options;
    options.data_dir = dir.path();
    auto opened = Broker::Open(options);
    if (!opened.ok()) {
      std::fprintf(stderr, "Broker::Open: %s\n", opened.status().ToString().c_str());
      std::abort();
    }
    broker = *std::move(opened);
  }
  ~Node() { (void)broker->Close(); }
};

// What a consumer of `partitions` partitions commits (offsets from `offset`).
std::map<TopicPartition, OffsetAndMetadata> Commit(int partitions, int64_t offset) {
  std::map<TopicPartition, OffsetAndMetadata> offsets;
  for (int p = 0; p < partitions; ++p) {
    OffsetAndMetadata o;
    o.offset = Offset(offset + p);
    o.leader_epoch = LeaderEpoch(3);
    offsets[TopicPartition("orders", p)] = o;
  }
  return offsets;
}

void BM_CommitOffsets(benchmark::State& state) {
  const int partitions = static_cast<int>(state.range(0));
  Node node;
  auto store = OffsetStore::Open(*node.broker);
  if (!store.ok()) {
    state.SkipWithError("OffsetStore::Open failed");
    return;
  }
  auto offsets = Commit(partitions, 0);
  int64_t now_ms = 0;
  for (auto _ : state) {
    absl::Status s = (*store)->CommitOffsets("billing", offsets, ++now_ms);
    if (!s.ok()) {
      state.SkipWithError("CommitOffsets failed");
      break;
    }
    for (auto& [tp, o] : offsets) o.offset += partitions;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["partitions_per_commit"] = partitions;
}

// The same records, encoded once, appended as one batch to a Partition of
// a topic with the offsets topic's settings.
void BM_RawAppend(benchmark::State& state) {
  const int partitions = static_cast<int>(state.range(0));
  Node node;
  NewTopic topic(1);
  topic.config.cleanup_policy = CleanupPolicy::kCompact;
  topic.config.durability = Durability::kEveryAppend;
  topic.config.segment_bytes = 100 << 20;
  if (!node.broker->CreateTopic("raw_offsets", topic).ok()) {
    state.SkipWithError("CreateTopic failed");
    return;
  }
  auto partition = node.broker->GetPartition(TopicPartition("raw_offsets", 0));
  if (!partition.ok()) {
    state.SkipWithError("GetPartition failed");
    return;
  }
  RecordBatchBuilder builder;
  for (const auto& [tp, o] : Commit(partitions, 0)) {
    OffsetCommitValue value;
    value.offset = o.offset;
    value.leader_epoch = o.leader_epoch;
    value.commit_timestamp_ms = 0;
    auto key = EncodeOffsetCommitKey({"billing", tp.topic, tp.partition});
    auto encoded = EncodeOffsetCommitValue(value);
    if (!key.ok() || !encoded.ok() || !builder.Append(0, ByteView(*key), ByteView(*encoded)).ok()) {
      state.SkipWithError("encoding failed");
      return;
    }
  }
  auto batch = builder.Finish();
  if (!batch.ok()) {
    state.SkipWithError("Finish failed");
    return;
  }
  AppendOptions append;
  append.trusted = true;
  for (auto _ : state) {
    // Append rewrites the base offset in place, so the batch is reusable.
    if (!(*partition)->Append(*batch, append).ok()) {
      state.SkipWithError("Append failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["partitions_per_commit"] = partitions;
  state.counters["batch_bytes"] = static_cast<double>(batch->size());
}

// Commits of 1 partition from several threads, each for its own group, all
// groups on the same partition of the topic: their appends share fsyncs
// (group commit), which a lock held across each append would prevent.
void BM_CommitOffsetsConcurrent(benchmark::State& state) {
  static std::unique_ptr<Node> node;
  static std::unique_ptr<OffsetStore> store;
  static std::vector<std::string> groups;
  if (state.thread_index() == 0) {
    node = std::make_unique<Node>();
    auto opened = OffsetStore::Open(*node->broker);
    if (!opened.ok()) std::abort();
    store = *std::move(opened);
    groups.clear();
    for (int i = 0; groups.size() < static_cast<size_t>(state.threads()); ++i) {
      std::string g = "group-" + std::to_string(i);
      if (store->PartitionFor(g) == store->PartitionFor("group-0")) groups.push_back(g);
    }
  }
  // The benchmark's start barrier orders the set-up before every thread's
  // first iteration.
  auto offsets = Commit(1, 0);
  int64_t now_ms = 0;
  for (auto _ : state) {
    if (!store->CommitOffsets(groups[static_cast<size_t>(state.thread_index())], offsets, ++now_ms)
             .ok()) {
      state.SkipWithError("CommitOffsets failed");
      break;
    }
    offsets.begin()->second.offset += 1;
  }
  state.SetItemsProcessed(state.iterations());
  if (state.thread_index() == 0) {
    store.reset();
    node.reset();
  }
}

BENCHMARK(BM_RawAppend)->Arg(1)->Arg(10)->UseRealTime();
BENCHMARK(BM_CommitOffsets)->Arg(1)->Arg(10)->UseRealTime();
BENCHMARK(BM_CommitOffsetsConcurrent)->Threads(1)->Threads(4)->UseRealTime();

}  // namespace
}  // namespace evlog
