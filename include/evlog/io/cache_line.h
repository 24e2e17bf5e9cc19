// evlog/io/cache_line.h — keeping one thread's writes off another's reads.
//
// Two cores that touch the same 64-byte line, one of them writing, hand
// the line back and forth: each access after the other core's costs a
// cache miss (100-300 ns on the virtual machines measured in
// BENCHMARKS.md). A consumer polling a partition reads its high watermark
// and log end in a loop; when the counters an appender bumps, or the
// mutexes it takes, share a line with those, every append pays a miss on
// each of them. Members that different threads write are therefore kept
// on lines of their own: `alignas(kCacheLineBytes)` starts a new one.
//
// Not std::hardware_destructive_interference_size: GCC warns wherever that
// appears in a header (its value may differ between compilations), and
// 64 is right for x86-64 and for most ARMv8 cores.
//
// Thread-safety: constants only.
#pragma once

#include <cstddef>

namespace evlog {

inline constexpr std::size_t kCacheLineBytes = 64;

}  // namespace evlog
