// Seeded randomness for the partitioners: SplitMix64 (Steele, Lea and
// Flood, "Fast splittable pseudorandom number generators", 2014). Chosen
// because its state is one counter: a draw is an atomic add plus a mix, so
// a shared generator needs no lock, and the same seed gives the same
// sequence on every platform (std distributions do not promise that).
#pragma once

#include <cstdint>

namespace evlog::internal {

inline constexpr uint64_t kSplitMixGamma = 0x9e3779b97f4a7c15ULL;

// The SplitMix64 output function of counter value `z`.
inline constexpr uint64_t SplitMixMix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A uniform draw in [0, n) from 64 random bits, by multiply-and-shift
// (Lemire) on the high 32 bits: no division, bias below n / 2^32.
inline constexpr uint32_t DrawBelow(uint64_t random, uint32_t n) {
  return static_cast<uint32_t>(((random >> 32) * n) >> 32);
}

}  // namespace evlog::internal
