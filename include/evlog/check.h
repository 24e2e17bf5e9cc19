// evlog/check.h — assertions for broken invariants.
//
// A failed check is a bug in evlog (or memory corruption), never bad input:
// bad input gets an absl::Status. Checks print the condition, file and line
// and abort, so a core dump points at the first broken invariant rather than
// at the damage it causes later.
//
//   EVLOG_CHECK(cond)          always on; guards durability and offsets.
//   EVLOG_CHECK_OP(a, op, b)   always on; prints both operands.
//   EVLOG_DCHECK(cond)         debug builds only (hot paths).
//
// Split compound conditions (`EVLOG_CHECK(a); EVLOG_CHECK(b);`) so a failure
// names the part that broke.
#pragma once

#include <sstream>
#include <string>

namespace evlog::internal {

[[noreturn]] void CheckFailed(const char* file, int line, const char* condition,
                              const std::string& detail);

template <typename A, typename B>
std::string CheckOpDetail(const A& a, const B& b) {
  std::ostringstream os;
  os << "(" << a << " vs " << b << ")";
  return os.str();
}

}  // namespace evlog::internal

#define EVLOG_CHECK(cond)                                                       \
  do {                                                                          \
    if (!(cond)) [[unlikely]] {                                                 \
      ::evlog::internal::CheckFailed(__FILE__, __LINE__, #cond, std::string()); \
    }                                                                           \
  } while (false)

#define EVLOG_CHECK_OP(a, op, b)                                             \
  do {                                                                       \
    const auto& evlog_check_a_ = (a);                                        \
    const auto& evlog_check_b_ = (b);                                        \
    if (!(evlog_check_a_ op evlog_check_b_)) [[unlikely]] {                  \
      ::evlog::internal::CheckFailed(                                        \
          __FILE__, __LINE__, #a " " #op " " #b,                             \
          ::evlog::internal::CheckOpDetail(evlog_check_a_, evlog_check_b_)); \
    }                                                                        \
  } while (false)

#define EVLOG_CHECK_EQ(a, b) EVLOG_CHECK_OP(a, ==, b)
#define EVLOG_CHECK_NE(a, b) EVLOG_CHECK_OP(a, !=, b)
#define EVLOG_CHECK_LE(a, b) EVLOG_CHECK_OP(a, <=, b)
#define EVLOG_CHECK_LT(a, b) EVLOG_CHECK_OP(a, <, b)
#define EVLOG_CHECK_GE(a, b) EVLOG_CHECK_OP(a, >=, b)
#define EVLOG_CHECK_GT(a, b) EVLOG_CHECK_OP(a, >, b)

#ifdef NDEBUG
#define EVLOG_DCHECK(cond) \
  do {                     \
    if (false && (cond)) { \
    }                      \
  } while (false)
#else
#define EVLOG_DCHECK(cond) EVLOG_CHECK(cond)
#endif
