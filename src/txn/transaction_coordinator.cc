#include "evlog/txn/transaction_coordinator.h"

#include <xxhash.h>

#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "binary_io.h"
#include "evlog/record/internal/big_endian.h"
#include "evlog/status.h"

namespace evlog {
namespace {

using txn_internal::Put;
using txn_internal::PutString;
using txn_internal::Reader;

using internal::LoadBigEndian;
using internal::StoreBigEndian;
using internal::ToAbsl;

bool Preparing(TransactionState s) {
  return s == TransactionState::kPrepareCommit || s == TransactionState::kPrepareAbort;
}

constexpr uint16_t kMetadataVersion = 1;

absl::Status Fenced(std::string_view id, ProducerEpoch epoch, ProducerEpoch current) {
  return MakeError(
      ErrorCode::kProducerFenced,
      absl::StrCat("transactional id \"", ToAbsl(id), "\": epoch ", epoch.value(),
                   " is older than ", current.value(), ": a newer instance took over"));
}

absl::Status Concurrent(std::string_view id) {
  return MakeError(ErrorCode::kConcurrentTransactions,
                   absl::StrCat("transactional id \"", ToAbsl(id),
                                "\": the last transaction is still ending; retry"));
}

}  // namespace

std::string_view TransactionStateName(TransactionState state) {
  switch (state) {
    case TransactionState::kEmpty:
      return "Empty";
    case TransactionState::kOngoing:
      return "Ongoing";
    case TransactionState::kPrepareCommit:
      return "PrepareCommit";
    case TransactionState::kPrepareAbort:
      return "PrepareAbort";
    case TransactionState::kCompleteCommit:
      return "CompleteCommit";
    case TransactionState::kCompleteAbort:
      return "CompleteAbort";
  }
  return "Unknown";
}

// Value layout: u16 version, string id, i64 producer id, i16 epoch,
// i64 timeout, i8 state, i64 start, i64 last update, u32 partitions
// { string topic, i32 partition }, u64 XXH3 of all before.
std::vector<std::byte> EncodeTransactionMetadata(const TransactionMetadata& m) {
  std::vector<std::byte> out;
  Put<uint16_t>(out, kMetadataVersion);
  PutString(out, m.transactional_id);
  Put<int64_t>(out, m.producer_id.value());
  Put<int16_t>(out, m.epoch.value());
  Put<int64_t>(out, m.timeout_ms);
  Put<int8_t>(out, static_cast<int8_t>(m.state));
  Put<int64_t>(out, m.start_ms);
  Put<int64_t>(out, m.last_update_ms);
  Put<uint32_t>(out, static_cast<uint32_t>(m.partitions.size()));
  for (const TopicPartition& tp : m.partitions) {
    PutString(out, tp.topic);
    Put<int32_t>(out, tp.partition.value());
  }
  Put<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

absl::StatusOr<TransactionMetadata> DecodeTransactionMetadata(ByteView bytes) {
  auto corrupt = [](std::string_view why) {
    return MakeError(ErrorCode::kCorruptMessage,
                     absl::StrCat("transaction state record: ", ToAbsl(why)));
  };
  if (bytes.size() < 8) return corrupt("too short");
  const size_t body = bytes.size() - 8;
  if (LoadBigEndian<uint64_t>(bytes.data() + body) != XXH3_64bits(bytes.data(), body)) {
    return corrupt("checksum mismatch");
  }
  Reader in(bytes.first(body));
  TransactionMetadata m;
  uint16_t version = 0;
  int64_t producer = 0;
  int16_t epoch = 0;
  int8_t state = 0;
  uint32_t count = 0;
  if (!in.Get(version) || version != kMetadataVersion) return corrupt("unknown version");
  if (!in.GetString(m.transactional_id) || !in.Get(producer) || !in.Get(epoch) ||
      !in.Get(m.timeout_ms) || !in.Get(state) || !in.Get(m.start_ms) || !in.Get(m.last_update_ms) ||
      !in.Get(count)) {
    return corrupt("truncated");
  }
  if (producer < 0 || epoch < 0 || state < 0 ||
      state > static_cast<int8_t>(TransactionState::kCompleteAbort) || count > in.remaining() / 6) {
    return corrupt("impossible values");
  }
  m.producer_id = ProducerId(producer);
  m.epoch = ProducerEpoch(epoch);
  m.state = static_cast<TransactionState>(state);
  for (uint32_t i = 0; i < count; ++i) {
    std::string topic;
    int32_t partition = 0;
    if (!in.GetString(topic) || !in.Get(partition) || partition < 0) return corrupt("partition");
    m.partitions.insert(TopicPartition(std::move(topic), PartitionId(partition)));
  }
  if (in.remaining() != 0) return corrupt("trailing bytes");
  return m;
}

absl::StatusOr<std::unique_ptr<TransactionCoordinator>> TransactionCoordinator::Open(
    TransactionLog& log, MarkerWriter& markers, ProducerIdSource& ids, Clock& clock,
    TransactionCoordinatorOptions options) {
  std::unique_ptr<TransactionCoordinator> c(
      new TransactionCoordinator(log, markers, ids, clock, options));
  EVLOG_ASSIGN_OR_RETURN(std::vector<TransactionMetadata> loaded, log.Load());
  std::lock_guard lock(c->mu_);
  for (TransactionMetadata& m : loaded) {
    const std::string id = m.transactional_id;
    c->transactions_[id] = std::move(m);
  }
  // A crash between the phases: the decision is in the log, the markers
  // may not be. Failures are left to the next call on the id.
  for (auto& [id, m] : c->transactions_) {
    if (Preparing(m.state)) (void)c->FinishLocked(m);
  }
  return c;
}

absl::Status TransactionCoordinator::CommitLocked(TransactionMetadata& current,
                                                  TransactionMetadata next) {
  next.last_update_ms = clock_.WallMs();
  EVLOG_RETURN_IF_ERROR(log_.Write(next));
  current = std::move(next);
  return absl::OkStatus();
}

absl::Status TransactionCoordinator::FinishLocked(TransactionMetadata& m) {
  const bool commit = m.state == TransactionState::kPrepareCommit;
  for (const TopicPartition& tp : m.partitions) {
    EVLOG_RETURN_IF_ERROR(
        markers_.WriteMarker(tp, m.producer_id, m.epoch,
                             commit ? ControlRecordType::kCommit : ControlRecordType::kAbort));
  }
  TransactionMetadata done = m;
  done.state = commit ? TransactionState::kCompleteCommit : TransactionState::kCompleteAbort;
  done.partitions.clear();
  done.start_ms = -1;
  // KIP-890: every transaction ends with a new epoch, so a late request of
  // the one that ended cannot land in the next.
  EVLOG_RETURN_IF_ERROR(NextEpoch(done));
  return CommitLocked(m, std::move(done));
}

absl::Status TransactionCoordinator::NextEpoch(TransactionMetadata& m) {
  if (m.epoch.value() == std::numeric_limits<int16_t>::max()) {
    // Epochs exhausted: a new producer id starts again at 0.
    EVLOG_ASSIGN_OR_RETURN(m.producer_id, ids_.NextId());
    m.epoch = ProducerEpoch(0);
  } else {
    m.epoch = m.epoch + 1;
  }
  return absl::OkStatus();
}

absl::Status TransactionCoordinator::FenceAndAbortLocked(TransactionMetadata& m) {
  // The epoch goes up first, so that the ABORT markers carry an epoch the
  // fenced producer does not have, and the partitions refuse its late
  // batches (INVALID_PRODUCER_EPOCH).
  TransactionMetadata bumped = m;
  EVLOG_RETURN_IF_ERROR(NextEpoch(bumped));
  EVLOG_RETURN_IF_ERROR(CommitLocked(m, std::move(bumped)));
  return EndLocked(m, /*commit=*/false);
}

absl::Status TransactionCoordinator::EndLocked(TransactionMetadata& m, bool commit) {
  TransactionMetadata prepare = m;
  prepare.state = commit ? TransactionState::kPrepareCommit : TransactionState::kPrepareAbort;
  EVLOG_RETURN_IF_ERROR(CommitLocked(m, std::move(prepare)));
  return FinishLocked(m);
}

absl::StatusOr<ProducerIdAndEpoch> TransactionCoordinator::InitProducerId(
    std::string_view transactional_id, int64_t timeout_ms) {
  if (transactional_id.empty()) {
    return MakeError(ErrorCode::kInvalidRequest, "the transactional id is empty");
  }
  if (timeout_ms < 1 || timeout_ms > options_.max_transaction_timeout_ms) {
    return MakeError(ErrorCode::kInvalidTransactionTimeout,
                     absl::StrCat("transaction timeout ", timeout_ms, " ms is outside [1, ",
                                  options_.max_transaction_timeout_ms, "]"));
  }
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end()) {
    TransactionMetadata m;
    m.transactional_id = std::string(transactional_id);
    EVLOG_ASSIGN_OR_RETURN(m.producer_id, ids_.NextId());
    m.epoch = ProducerEpoch(0);
    m.timeout_ms = timeout_ms;
    m.last_update_ms = clock_.WallMs();
    EVLOG_RETURN_IF_ERROR(log_.Write(m));
    it = transactions_.emplace(std::string(transactional_id), std::move(m)).first;
    return ProducerIdAndEpoch{it->second.producer_id, it->second.epoch};
  }
  TransactionMetadata& m = it->second;
  if (Preparing(m.state) && !FinishLocked(m).ok()) return Concurrent(transactional_id);
  if (m.state == TransactionState::kOngoing) {
    // A new instance: the old one is fenced and its transaction aborted.
    EVLOG_RETURN_IF_ERROR(FenceAndAbortLocked(m));
  } else {
    TransactionMetadata next = m;
    EVLOG_RETURN_IF_ERROR(NextEpoch(next));
    EVLOG_RETURN_IF_ERROR(CommitLocked(m, std::move(next)));
  }
  TransactionMetadata ready = m;
  ready.state = TransactionState::kEmpty;
  ready.timeout_ms = timeout_ms;
  EVLOG_RETURN_IF_ERROR(CommitLocked(m, std::move(ready)));
  return ProducerIdAndEpoch{m.producer_id, m.epoch};
}

absl::StatusOr<TransactionMetadata*> TransactionCoordinator::CheckProducerLocked(
    std::string_view transactional_id, ProducerId producer_id, ProducerEpoch epoch) {
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end() || it->second.producer_id != producer_id) {
    return MakeError(ErrorCode::kInvalidProducerIdMapping,
                     absl::StrCat("transactional id \"", ToAbsl(transactional_id),
                                  "\" does not map to producer id ", producer_id.value()));
  }
  TransactionMetadata& m = it->second;
  if (epoch < m.epoch) return Fenced(transactional_id, epoch, m.epoch);
  if (epoch > m.epoch) {
    return MakeError(ErrorCode::kInvalidProducerEpoch,
                     absl::StrCat("transactional id \"", ToAbsl(transactional_id), "\": epoch ",
                                  epoch.value(), " is newer than ", m.epoch.value()));
  }
  return &m;
}

absl::Status TransactionCoordinator::AddPartitions(std::string_view transactional_id,
                                                   ProducerId producer_id, ProducerEpoch epoch,
                                                   const std::vector<TopicPartition>& partitions) {
  std::lock_guard lock(mu_);
  EVLOG_ASSIGN_OR_RETURN(TransactionMetadata * m,
                         CheckProducerLocked(transactional_id, producer_id, epoch));
  if (Preparing(m->state)) return Concurrent(transactional_id);
  TransactionMetadata next = *m;
  if (next.state != TransactionState::kOngoing) {
    next.state = TransactionState::kOngoing;
    next.partitions.clear();
    next.start_ms = clock_.WallMs();
  }
  const size_t before = next.partitions.size();
  next.partitions.insert(partitions.begin(), partitions.end());
  if (next.state == m->state && next.partitions.size() == before) return absl::OkStatus();
  return CommitLocked(*m, std::move(next));
}

absl::StatusOr<ProducerEpoch> TransactionCoordinator::EndTransaction(
    std::string_view transactional_id, ProducerId producer_id, ProducerEpoch epoch, bool commit) {
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  // A retry of an EndTransaction that completed: its epoch is the one
  // before the bump.
  if (it != transactions_.end() && it->second.producer_id == producer_id &&
      epoch + 1 == it->second.epoch &&
      it->second.state ==
          (commit ? TransactionState::kCompleteCommit : TransactionState::kCompleteAbort)) {
    return it->second.epoch;
  }
  EVLOG_ASSIGN_OR_RETURN(TransactionMetadata * m,
                         CheckProducerLocked(transactional_id, producer_id, epoch));
  if (Preparing(m->state)) {
    const bool decided_commit = m->state == TransactionState::kPrepareCommit;
    if (decided_commit != commit) {
      return MakeError(ErrorCode::kInvalidTxnState,
                       absl::StrCat("transactional id \"", ToAbsl(transactional_id), "\" is in ",
                                    ToAbsl(TransactionStateName(m->state))));
    }
    EVLOG_RETURN_IF_ERROR(FinishLocked(*m));
    return m->epoch;
  }
  if (m->state != TransactionState::kOngoing) {
    return MakeError(ErrorCode::kInvalidTxnState,
                     absl::StrCat("transactional id \"", ToAbsl(transactional_id),
                                  "\" has no ongoing transaction (",
                                  ToAbsl(TransactionStateName(m->state)), ")"));
  }
  EVLOG_RETURN_IF_ERROR(EndLocked(*m, commit));
  return m->epoch;
}

size_t TransactionCoordinator::AbortTimedOut() {
  std::lock_guard lock(mu_);
  const int64_t now = clock_.WallMs();
  size_t aborted = 0;
  for (auto& [id, m] : transactions_) {
    if (m.state != TransactionState::kOngoing || now - m.start_ms <= m.timeout_ms) continue;
    if (FenceAndAbortLocked(m).ok()) ++aborted;
  }
  return aborted;
}

absl::StatusOr<TransactionMetadata> TransactionCoordinator::Describe(
    std::string_view transactional_id) const {
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end()) {
    return MakeError(ErrorCode::kInvalidProducerIdMapping,
                     absl::StrCat("unknown transactional id \"", ToAbsl(transactional_id), "\""));
  }
  return it->second;
}

}  // namespace evlog
