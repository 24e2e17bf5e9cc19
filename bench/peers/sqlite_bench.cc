// evlog against SQLite (issue 8): the storage workloads of peer_support.h
// on evlog's SegmentedLog and on an SQLite table, in one executable so that
// every ratio comes from one run.
//
//   build/release/bench/peers/evlog_peer_sqlite_bench --benchmark_filter='batch:1000/'
//
// Rows (each evlog row right before its SQLite twin):
//   BM_Append<EvlogStore|SqliteStore>/value:<B>/batch:<records>/sync:<0|1>
//   BM_Read<EvlogStore|SqliteStore>/value:<B>
//
// SQLite as an event log is usually kept: one table
//   CREATE TABLE log(seq INTEGER PRIMARY KEY, k BLOB NOT NULL, v BLOB NOT NULL)
// (the sequence number is the rowid, so no extra index), journal_mode=WAL,
// one prepared INSERT, a batch is one BEGIN ... COMMIT transaction. sync:0
// is synchronous=NORMAL: a commit writes its WAL frames (write(2), page
// cache) and does not fsync, so a crash of the process loses nothing, a
// crash of the machine may lose the last commits; the WAL is fsync'ed
// before each automatic checkpoint (every 1,000 pages, ~4 MiB), which
// evlog's Durability::kNone does only at segment rolls, Flush and Close.
// sync:1 is synchronous=FULL: the WAL is fsync'ed at every commit; that is
// evlog's Durability::kEveryAppend (fdatasync per append). The read is
// SELECT k, v FROM log ORDER BY seq, stepping through every row.
#include <benchmark/benchmark.h>
#include <sqlite3.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "peer_support.h"

namespace evlog::bench::peers {
namespace {

class SqliteStore {
 public:
  static constexpr const char* kName = "sqlite";

  SqliteStore(const std::string& dir, bool sync) {
    Check(sqlite3_open((dir + "/log.db").c_str(), &db_), "sqlite3_open");
    Exec("PRAGMA journal_mode=WAL");
    Exec(sync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
    Exec("CREATE TABLE log(seq INTEGER PRIMARY KEY, k BLOB NOT NULL, v BLOB NOT NULL)");
    insert_ = Prepare("INSERT INTO log(seq, k, v) VALUES (?1, ?2, ?3)");
    begin_ = Prepare("BEGIN");
    commit_ = Prepare("COMMIT");
    select_ = Prepare("SELECT k, v FROM log ORDER BY seq");
  }
  ~SqliteStore() {
    for (sqlite3_stmt* statement : {insert_, begin_, commit_, select_}) sqlite3_finalize(statement);
    Check(sqlite3_close(db_), "sqlite3_close");
  }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  void Append(const Workload& workload, uint64_t first, size_t count) {
    StepDone(begin_, "BEGIN");
    for (uint64_t n = first; n < first + count; ++n) {
      const Key key = Workload::KeyOf(n);
      const ByteView value = workload.value(n);
      Check(sqlite3_bind_int64(insert_, 1, static_cast<sqlite3_int64>(n)), "bind seq");
      Check(sqlite3_bind_blob(insert_, 2, key.data(), static_cast<int>(key.size()), SQLITE_STATIC),
            "bind k");
      Check(sqlite3_bind_blob(insert_, 3, value.data(), static_cast<int>(value.size()),
                              SQLITE_STATIC),
            "bind v");
      StepDone(insert_, "INSERT");
    }
    StepDone(commit_, "COMMIT");
  }

  ReadTotals ReadAll(const Workload& /*workload*/) {
    ReadTotals totals;
    int rc;
    while ((rc = sqlite3_step(select_)) == SQLITE_ROW) {
      const auto* value = static_cast<const std::byte*>(sqlite3_column_blob(select_, 1));
      const int value_bytes = sqlite3_column_bytes(select_, 1);
      const int key_bytes = sqlite3_column_bytes(select_, 0);
      Touch(totals, static_cast<size_t>(key_bytes), value, static_cast<size_t>(value_bytes));
    }
    if (rc != SQLITE_DONE) Check(rc, "SELECT");
    sqlite3_reset(select_);
    return totals;
  }

 private:
  void Check(int rc, const char* what) const {
    if (rc == SQLITE_OK) return;
    std::fprintf(stderr, "evlog_peer_sqlite_bench: %s: %s (%d)\n", what,
                 db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc), rc);
    std::abort();
  }
  void Exec(const char* sql) { Check(sqlite3_exec(db_, sql, nullptr, nullptr, nullptr), sql); }
  sqlite3_stmt* Prepare(const char* sql) {
    sqlite3_stmt* statement = nullptr;
    Check(sqlite3_prepare_v2(db_, sql, -1, &statement, nullptr), sql);
    return statement;
  }
  void StepDone(sqlite3_stmt* statement, const char* what) {
    const int rc = sqlite3_step(statement);
    if (rc != SQLITE_DONE) Check(rc, what);
    sqlite3_reset(statement);
  }

  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* begin_ = nullptr;
  sqlite3_stmt* commit_ = nullptr;
  sqlite3_stmt* select_ = nullptr;
};

[[maybe_unused]] const bool registered = [] {
  RegisterStorePairs<SqliteStore>("SqliteStore");
  return true;
}();

}  // namespace
}  // namespace evlog::bench::peers
