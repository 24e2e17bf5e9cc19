// evlog against RocksDB (issue 8): the storage workloads of peer_support.h
// on evlog's SegmentedLog and on a RocksDB database, in one executable so
// that every ratio comes from one run.
//
//   build/release/bench/peers/evlog_peer_rocksdb_bench --benchmark_filter='value:100/'
//
// Rows (each evlog row right before its RocksDB twin):
//   BM_Append<EvlogStore|RocksDbStore>/value:<B>/batch:<records>/sync:<0|1>
//   BM_Read<EvlogStore|RocksDbStore>/value:<B>
//
// RocksDB as a user would open it: Options() with create_if_missing, the
// rest at their defaults (64 MiB memtable, Snappy compression of SST blocks,
// two background jobs), the WAL on. A batch is one WriteBatch of Put(key,
// value). sync:0 is WriteOptions::sync = false: the WAL record is written
// (write(2), page cache) before Write returns, so a crash of the process
// loses nothing, a crash of the machine may; that is evlog's
// Durability::kNone. sync:1 is WriteOptions::sync = true: the WAL is
// fdatasync'ed (use_fsync false) before Write returns; that is evlog's
// Durability::kEveryAppend. The read is a forward iterator over the whole
// key space (ReadOptions defaults: block checksums verified), against
// evlog's Read with CRC checks. The stores are as the writes left them:
// RocksDB's records sit in its memtable (the read sizes stay below 64 MiB),
// evlog's in the page cache.
#include <benchmark/benchmark.h>
#include <rocksdb/db.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/slice.h>
#include <rocksdb/status.h>
#include <rocksdb/write_batch.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "peer_support.h"

namespace evlog::bench::peers {
namespace {

void MustOk(const rocksdb::Status& status, const char* what) {
  if (!status.ok()) {
    std::fprintf(stderr, "evlog_peer_rocksdb_bench: %s: %s\n", what, status.ToString().c_str());
    std::abort();
  }
}

rocksdb::Slice AsSlice(ByteView bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

class RocksDbStore {
 public:
  static constexpr const char* kName = "rocksdb";

  RocksDbStore(const std::string& dir, bool sync) {
    rocksdb::Options options;
    options.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    MustOk(rocksdb::DB::Open(options, dir + "/db", &db), "DB::Open");
    db_.reset(db);
    write_options_.sync = sync;
    write_options_.disableWAL = false;
  }
  ~RocksDbStore() { MustOk(db_->Close(), "DB::Close"); }
  RocksDbStore(const RocksDbStore&) = delete;
  RocksDbStore& operator=(const RocksDbStore&) = delete;

  void Append(const Workload& workload, uint64_t first, size_t count) {
    batch_.Clear();
    for (uint64_t n = first; n < first + count; ++n) {
      const Key key = Workload::KeyOf(n);
      MustOk(batch_.Put(AsSlice(ByteView(key)), AsSlice(workload.value(n))), "WriteBatch::Put");
    }
    MustOk(db_->Write(write_options_, &batch_), "DB::Write");
  }

  ReadTotals ReadAll(const Workload& /*workload*/) {
    ReadTotals totals;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice value = it->value();
      Touch(totals, it->key().size(), reinterpret_cast<const std::byte*>(value.data()),
            value.size());
    }
    MustOk(it->status(), "Iterator");
    return totals;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  rocksdb::WriteOptions write_options_;
  rocksdb::WriteBatch batch_;
};

[[maybe_unused]] const bool registered = [] {
  RegisterStorePairs<RocksDbStore>("RocksDbStore");
  return true;
}();

}  // namespace
}  // namespace evlog::bench::peers
