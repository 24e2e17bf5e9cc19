#include "evlog/types.h"

#include <sstream>
#include <type_traits>

#include "absl/container/flat_hash_set.h"
#include "tests/support/catch.h"

namespace evlog {
namespace {

// Strong types do not mix: none converts implicitly from a raw integer or
// from another strong type, and they cannot be compared across kinds.
template <typename A, typename B>
concept EqualityComparable = requires(A a, B b) {
  a == b;
};
template <typename A, typename B>
concept Addable = requires(A a, B b) {
  a + b;
};

static_assert(!std::is_convertible_v<int64_t, Offset>);
static_assert(!std::is_convertible_v<Offset, int64_t>);
static_assert(!std::is_convertible_v<LeaderEpoch, Offset>);
static_assert(!std::is_constructible_v<Offset, LeaderEpoch>);
static_assert(!std::is_constructible_v<ProducerEpoch, LeaderEpoch>);
static_assert(!std::is_convertible_v<BrokerId, PartitionId>);
static_assert(!std::is_convertible_v<Generation, LeaderEpoch>);
static_assert(!std::is_convertible_v<Sequence, ProducerEpoch>);
static_assert(!std::is_convertible_v<ProducerId, Offset>);
static_assert(!EqualityComparable<Offset, LeaderEpoch>);
static_assert(!EqualityComparable<Offset, int64_t>);
static_assert(!EqualityComparable<BrokerId, PartitionId>);
static_assert(!Addable<Offset, Offset>);
static_assert(Addable<Offset, int64_t>);
static_assert(EqualityComparable<Offset, Offset>);
static_assert(sizeof(Offset) == sizeof(int64_t));
static_assert(sizeof(ProducerEpoch) == sizeof(int16_t));
static_assert(std::is_trivially_copyable_v<Offset>);

TEST_CASE("offsets advance by deltas and subtract to counts") {
  Offset base{100};
  Offset last = base + 9;
  CHECK(last.value() == 109);
  CHECK(last - base == 9);
  CHECK(base < last);
  ++base;
  CHECK(base == Offset{101});
  base += 4;
  CHECK(base.value() == 105);
}

TEST_CASE("strong types hash and print as their value") {
  absl::flat_hash_set<ProducerId> ids{ProducerId{1}, ProducerId{2}, ProducerId{1}};
  CHECK(ids.size() == 2);
  std::ostringstream os;
  os << ProducerEpoch{7} << " " << kNoLeaderEpoch;
  CHECK(os.str() == "7 -1");
}

}  // namespace
}  // namespace evlog
