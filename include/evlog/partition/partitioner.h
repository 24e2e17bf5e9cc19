// evlog/partition/partitioner.h — which partition a record goes to.
//
// A producer asks a Partitioner for the partition of every record that does
// not name one itself. The policies, one header each:
//
//   DefaultPartitioner     murmur2 for keyed records (Kafka's Java client),
//                          sticky for null keys (KIP-794). What you get when
//                          you do not choose.
//   Murmur2Partitioner     keyed records land where a Kafka Java producer
//                          puts them; null keys sticky.
//   Crc32Partitioner       librdkafka's default `consistent_random`: keyed
//                          records land where a C/C++ librdkafka producer
//                          puts them; null and empty keys random.
//   XxHashPartitioner      XXH3 of the key (evlog's own, fastest); null keys
//                          sticky.
//   RoundRobinPartitioner  ignores the key; each topic's records go to
//                          0, 1, ..., n-1, 0, ...
//   StickyPartitioner      ignores the key; per topic, one partition until a
//                          batch's worth of bytes went there, then another.
//
// Java and librdkafka clients place the same key on different partitions
// by default. A topic shared with existing Kafka producers should use the
// partitioner of those producers.
//
// Example:
//
//   evlog::AnyPartitioner partitioner;   // a DefaultPartitioner
//   evlog::PartitionRequest request;
//   request.topic = "orders";
//   request.key = evlog::AsBytes("customer-42");
//   request.record_bytes = 120;
//   request.partition_count = 12;
//   absl::StatusOr<evlog::PartitionId> p =
//       evlog::ChoosePartition(partitioner, request, /*explicit_partition=*/std::nullopt);
//
// A user's own policy is any type with
// `PartitionId Partition(const PartitionRequest&)` that is safe to call from
// several threads at once; wrap it in an AnyPartitioner to hand it to a
// producer.
//
// Thread-safety: every policy here, and AnyPartitioner, may be called
// concurrently from any number of threads.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/status/statusor.h"
#include "evlog/bytes.h"
#include "evlog/check.h"
#include "evlog/types.h"

namespace evlog {

// What a partitioner may look at for one record. Views only: the caller
// keeps `topic` and `key` alive for the duration of the Partition call, and
// no policy keeps them afterwards (policies copy the topic name when they
// keep per-topic state).
struct PartitionRequest {
  std::string_view topic;
  // std::nullopt is a null key, which is not the same as an empty key
  // (ByteView{}): Kafka's Java client hashes an empty key like any other.
  std::optional<ByteView> key;
  // Approximate encoded size of the record (key + value + headers), for the
  // sticky policy's accounting of how much went to a partition.
  size_t record_bytes = 0;
  // The topic's current number of partitions. REQUIRES: > 0 for Partition().
  int32_t partition_count = 0;
};

// A partitioning policy. Partition(request) returns a partition in
// [0, request.partition_count). It is called concurrently from many
// producer threads and must be thread-safe; it must not fail (a policy that
// cannot decide picks some partition in range).
template <typename P>
concept Partitioner = requires(P& p, const PartitionRequest& request) {
  { p.Partition(request) } -> std::same_as<PartitionId>;
};

// Holds any Partitioner behind one type, so producers and configuration need
// no template parameter for it. Copies share the policy object (and so its
// per-topic state: two producers holding copies of one sticky partitioner
// stick together). A default-constructed AnyPartitioner holds a
// DefaultPartitioner with its default batch size and seed.
//
// A moved-from AnyPartitioner holds nothing: assign to it or destroy it.
//
// Thread-safety: Partition() is as thread-safe as the held policy (all of
// evlog's are). Assigning to an AnyPartitioner while another thread calls it
// is a data race, as for any object.
class AnyPartitioner {
 public:
  AnyPartitioner();

  // Takes ownership of `policy`. Move-only policies (those with per-topic
  // state) are moved in: `AnyPartitioner(StickyPartitioner(16384, seed))`.
  template <Partitioner P>
  requires(!std::same_as<std::remove_cvref_t<P>, AnyPartitioner>) AnyPartitioner(
      P policy)  // NOLINT(google-explicit-constructor): a policy is an AnyPartitioner
      : AnyPartitioner(std::make_shared<P>(std::move(policy))) {}

  // Shares `policy` with the caller, who may keep calling it directly.
  // REQUIRES: policy != nullptr.
  template <Partitioner P>
  explicit AnyPartitioner(std::shared_ptr<P> policy)
      : partition_(&Call<P>), policy_(std::move(policy)) {
    EVLOG_CHECK(policy_ != nullptr);
  }

  // Returns the held policy's choice for `request`, in
  // [0, request.partition_count). REQUIRES: request.partition_count > 0.
  PartitionId Partition(const PartitionRequest& request) const {
    return partition_(policy_.get(), request);
  }

 private:
  template <typename P>
  static PartitionId Call(void* policy, const PartitionRequest& request) {
    return static_cast<P*>(policy)->Partition(request);
  }

  // A function pointer rather than a virtual base: policies need not derive
  // from anything, and the call costs the same.
  PartitionId (*partition_)(void*, const PartitionRequest&);
  std::shared_ptr<void> policy_;
};

static_assert(Partitioner<AnyPartitioner>);

// The partition a producer should append a record to: `explicit_partition`
// when the record names one (it overrides the partitioner, as in Kafka),
// otherwise partitioner.Partition(request).
//
// Errors (nothing else happens on error; the partitioner is not called):
//   InvalidArgument                  request.partition_count <= 0.
//   UNKNOWN_TOPIC_OR_PARTITION (3)   explicit_partition outside
//                                    [0, request.partition_count).
namespace internal {
// ChoosePartition with an explicit partition or no partitions: the checks
// and their errors, out of line.
[[nodiscard]] absl::StatusOr<PartitionId> CheckPartition(
    const PartitionRequest& request, std::optional<PartitionId> explicit_partition);
}  // namespace internal

// Inline: a producer calls it for every record.
[[nodiscard]] inline absl::StatusOr<PartitionId> ChoosePartition(
    const AnyPartitioner& partitioner, const PartitionRequest& request,
    std::optional<PartitionId> explicit_partition) {
  if (explicit_partition.has_value() || request.partition_count <= 0) {
    return internal::CheckPartition(request, explicit_partition);
  }
  const PartitionId chosen = partitioner.Partition(request);
  // A user's policy out of range would corrupt the producer's bookkeeping.
  EVLOG_CHECK_GE(chosen.value(), 0);
  EVLOG_CHECK_LT(chosen.value(), request.partition_count);
  return chosen;
}

}  // namespace evlog
