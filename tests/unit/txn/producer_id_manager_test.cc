#include "evlog/txn/producer_id_manager.h"

#include <memory>
#include <set>

#include "evlog/io/faulty_file_system.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/status.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

std::unique_ptr<ProducerIdManager> Open(FileSystem& fs, int64_t block = 10) {
  auto m = ProducerIdManager::Open(fs, "/data/__producer_ids", block);
  INFO(m.status());
  REQUIRE(m.ok());
  return *std::move(m);
}

TEST_CASE("producer ids never repeat across restarts and crashes") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  std::set<int64_t> seen;
  auto take = [&](ProducerIdManager& m, int n) {
    for (int i = 0; i < n; ++i) {
      auto id = m.NextId();
      REQUIRE(id.ok());
      CHECK(id->value() >= 0);
      CHECK(seen.insert(id->value()).second);
    }
  };
  take(*Open(fs), 25);  // three blocks of 10
  take(*Open(fs), 3);   // a clean restart: a new block, the rest of the old one skipped
  {
    auto m = Open(fs);
    take(*m, 14);
    fs.SimulateCrash(/*seed=*/5);  // only what was synced survives
  }
  take(*Open(fs), 12);
  CHECK(seen.size() == 54);
}

TEST_CASE("a failed block allocation hands out no id and a later call retries") {
  MemFileSystem mem;
  FaultyFileSystem fs(mem);
  auto m = Open(fs, /*block=*/2);
  REQUIRE(m->NextId().ok());
  REQUIRE(m->NextId().ok());
  fs.AddFault(FaultRule(FsOp::kSync).PathContains("producer-ids"));
  CHECK(!m->NextId().ok());
  auto id = m->NextId();
  REQUIRE(id.ok());
  CHECK(id->value() == 2);
  // Reopened, it continues after the block the failed call could have
  // persisted as well as after the one that was.
  auto reopened = Open(fs, /*block=*/2);
  auto next = reopened->NextId();
  REQUIRE(next.ok());
  CHECK(next->value() >= 4);
}

TEST_CASE("an unreadable allocation file is refused, not guessed") {
  MemFileSystem fs;
  REQUIRE(Open(fs)->NextId().ok());
  auto file = fs.Open("/data/__producer_ids/producer-ids", OpenMode::kReadWrite);
  REQUIRE(file.ok());
  REQUIRE((*file)->WriteAt(9, AsBytes("x")).ok());
  CHECK(HasErrorCode(ProducerIdManager::Open(fs, "/data/__producer_ids").status(),
                     ErrorCode::kCorruptMessage));
  CHECK(HasErrorCode(ProducerIdManager::Open(fs, "/x", 0).status(), ErrorCode::kInvalidConfig));
}

}  // namespace
}  // namespace evlog
