// evlog/record/crc32c.h — CRC-32C (Castagnoli), the checksum of RecordBatch v2.
//
// Kafka checksums a batch with CRC-32C (reflected polynomial 0x82F63B78,
// initial value and final xor 0xFFFFFFFF), the same function iSCSI, ext4
// and SSE4.2's `crc32` instruction compute. On x86-64 CPUs with SSE4.2 the
// instruction is used (selected at run time, so one binary runs on any
// x86-64); elsewhere a slice-by-8 table implementation.
//
//   uint32_t c = evlog::Crc32c(evlog::AsBytes("123456789"));  // 0xE3069283
//
//   // Incrementally, over pieces:
//   uint32_t crc = 0;                       // CRC of the empty string
//   crc = evlog::Crc32cExtend(crc, part1);
//   crc = evlog::Crc32cExtend(crc, part2);  // == Crc32c(part1 + part2)
//
// Thread-safety: pure functions, thread-safe.
#pragma once

#include <cstdint>

#include "evlog/bytes.h"

namespace evlog {

// Returns the CRC-32C of `data`.
[[nodiscard]] uint32_t Crc32c(ByteView data);

// Returns the CRC-32C of A+`data`, where `crc` is the CRC-32C of some bytes A
// (0 for none). Feeding a message in pieces gives the same result as one call.
[[nodiscard]] uint32_t Crc32cExtend(uint32_t crc, ByteView data);

namespace internal {

// True when the CPU has the SSE4.2 crc32 instruction (and this build can
// use it).
[[nodiscard]] bool Crc32cHardwareAvailable();

// The two implementations behind Crc32cExtend, exposed for tests and
// benchmarks. Same contract as Crc32cExtend.
[[nodiscard]] uint32_t Crc32cExtendPortable(uint32_t crc, ByteView data);
// REQUIRES: Crc32cHardwareAvailable().
[[nodiscard]] uint32_t Crc32cExtendHardware(uint32_t crc, ByteView data);

}  // namespace internal
}  // namespace evlog
