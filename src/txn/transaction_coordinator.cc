#include "evlog/txn/transaction_coordinator.h"

#include <xxhash.h>

#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "binary_io.h"
#include "evlog/check.h"
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
    Executor& executor, TransactionCoordinatorOptions options) {
  std::unique_ptr<TransactionCoordinator> c(
      new TransactionCoordinator(log, markers, ids, clock, executor, options));
  EVLOG_ASSIGN_OR_RETURN(std::vector<TransactionMetadata> loaded, log.Load());
  std::vector<std::string> preparing;
  {
    std::lock_guard lock(c->mu_);
    for (TransactionMetadata& m : loaded) {
      const std::string id = m.transactional_id;
      if (Preparing(m.state)) preparing.push_back(id);
      c->transactions_[id].metadata = std::move(m);
    }
    for (const std::string& id : preparing) EVLOG_CHECK(c->AcquireLocked(id, false).ok());
  }
  // A crash between the phases: the decision is in the log, the markers
  // may not be. Failures are left to the next call on the id.
  for (const std::string& id : preparing) {
    TransactionCoordinator* self = c.get();
    c->Finish(id, [self, id](absl::Status) { self->Release(id); });
  }
  return c;
}

TransactionCoordinator::~TransactionCoordinator() {
  std::unique_lock lock(mu_);
  idle_.wait(lock, [this] { return in_flight_ == 0; });
}

absl::Status TransactionCoordinator::AcquireLocked(std::string_view transactional_id, bool create) {
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end()) {
    if (!create) {
      return MakeError(ErrorCode::kInvalidProducerIdMapping,
                       absl::StrCat("unknown transactional id \"", ToAbsl(transactional_id), "\""));
    }
    it = transactions_.emplace(std::string(transactional_id), Entry()).first;
  }
  if (it->second.busy) return Concurrent(transactional_id);
  it->second.busy = true;
  ++in_flight_;
  return absl::OkStatus();
}

void TransactionCoordinator::Release(const std::string& transactional_id) {
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  EVLOG_CHECK(it != transactions_.end() && it->second.busy);
  it->second.busy = false;
  // A new id whose first record never became durable.
  if (!it->second.metadata) transactions_.erase(it);
  if (--in_flight_ == 0) idle_.notify_all();
}

TransactionMetadata TransactionCoordinator::Current(const std::string& transactional_id) const {
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  EVLOG_CHECK(it != transactions_.end() && it->second.metadata.has_value());
  return *it->second.metadata;
}

void TransactionCoordinator::Commit(const std::string& transactional_id, TransactionMetadata next,
                                    StatusCallback done) {
  next.last_update_ms = clock_.WallMs();
  const TransactionMetadata record = next;
  log_.Write(record, [this, transactional_id, next = std::move(next),
                      done = std::move(done)](absl::Status s) mutable {
    if (s.ok()) {
      std::lock_guard lock(mu_);
      transactions_.find(transactional_id)->second.metadata = std::move(next);
    }
    done(std::move(s));
  });
}

void TransactionCoordinator::Finish(const std::string& transactional_id, StatusCallback done) {
  const TransactionMetadata m = Current(transactional_id);
  const bool commit = m.state == TransactionState::kPrepareCommit;
  StatusCallback complete = [this, transactional_id, commit,
                             done = std::move(done)](absl::Status s) mutable {
    if (!s.ok()) {
      done(std::move(s));
      return;
    }
    TransactionMetadata next = Current(transactional_id);
    next.state = commit ? TransactionState::kCompleteCommit : TransactionState::kCompleteAbort;
    next.partitions.clear();
    next.start_ms = -1;
    // KIP-890: every transaction ends with a new epoch, so a late request of
    // the one that ended cannot land in the next.
    if (absl::Status bumped = NextEpoch(next); !bumped.ok()) {
      done(std::move(bumped));
      return;
    }
    Commit(transactional_id, std::move(next), std::move(done));
  };
  if (m.partitions.empty()) {
    complete(absl::OkStatus());
    return;
  }
  // Every partition's marker at once; the last answer moves on.
  struct Markers {
    std::mutex mu;
    size_t left;
    absl::Status first_error;
    StatusCallback then;
  };
  auto markers = std::make_shared<Markers>();
  markers->left = m.partitions.size();
  markers->then = std::move(complete);
  const ControlRecordType type = commit ? ControlRecordType::kCommit : ControlRecordType::kAbort;
  for (const TopicPartition& tp : m.partitions) {
    markers_.WriteMarker(tp, m.producer_id, m.epoch, type, [markers](absl::Status s) {
      absl::Status outcome;
      {
        std::lock_guard lock(markers->mu);
        if (!s.ok() && markers->first_error.ok()) markers->first_error = std::move(s);
        if (--markers->left > 0) return;
        outcome = markers->first_error;
      }
      markers->then(std::move(outcome));
    });
  }
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

void TransactionCoordinator::FenceAndAbort(const std::string& transactional_id,
                                           StatusCallback done) {
  // The epoch goes up first, so that the ABORT markers carry an epoch the
  // fenced producer does not have, and the partitions refuse its late
  // batches (INVALID_PRODUCER_EPOCH).
  TransactionMetadata bumped = Current(transactional_id);
  if (absl::Status s = NextEpoch(bumped); !s.ok()) {
    done(std::move(s));
    return;
  }
  Commit(transactional_id, std::move(bumped),
         [this, transactional_id, done = std::move(done)](absl::Status s) mutable {
           if (!s.ok()) {
             done(std::move(s));
             return;
           }
           End(transactional_id, /*commit=*/false, std::move(done));
         });
}

void TransactionCoordinator::End(const std::string& transactional_id, bool commit,
                                 StatusCallback done) {
  TransactionMetadata prepare = Current(transactional_id);
  prepare.state = commit ? TransactionState::kPrepareCommit : TransactionState::kPrepareAbort;
  Commit(transactional_id, std::move(prepare),
         [this, transactional_id, done = std::move(done)](absl::Status s) mutable {
           if (!s.ok()) {
             done(std::move(s));
             return;
           }
           Finish(transactional_id, std::move(done));
         });
}

void TransactionCoordinator::InitProducerIdAsync(std::string_view transactional_id,
                                                 int64_t timeout_ms, InitCallback done) {
  if (transactional_id.empty()) {
    done(MakeError(ErrorCode::kInvalidRequest, "the transactional id is empty"));
    return;
  }
  if (timeout_ms < 1 || timeout_ms > options_.max_transaction_timeout_ms) {
    done(MakeError(ErrorCode::kInvalidTransactionTimeout,
                   absl::StrCat("transaction timeout ", timeout_ms, " ms is outside [1, ",
                                options_.max_transaction_timeout_ms, "]")));
    return;
  }
  const std::string id(transactional_id);
  bool known;
  {
    std::lock_guard lock(mu_);
    known = transactions_.contains(id);
    if (absl::Status s = AcquireLocked(id, /*create=*/true); !s.ok()) {
      done(std::move(s));
      return;
    }
  }
  // The id is ours until `finish`.
  auto finish = [this, id, done = std::move(done)](absl::StatusOr<ProducerIdAndEpoch> r) mutable {
    Release(id);
    done(std::move(r));
  };
  // Once the last write is durable: the producer id and epoch it wrote.
  auto answer = [this, id](InitCallback finish) -> StatusCallback {
    return [this, id, finish = std::move(finish)](absl::Status s) mutable {
      if (!s.ok()) {
        finish(std::move(s));
        return;
      }
      const TransactionMetadata m = Current(id);
      finish(ProducerIdAndEpoch{m.producer_id, m.epoch});
    };
  };
  // Last step: Empty, with the new timeout, at the epoch reached.
  auto ready = [this, id, timeout_ms, answer](InitCallback finish) mutable {
    TransactionMetadata next = Current(id);
    next.state = TransactionState::kEmpty;
    next.timeout_ms = timeout_ms;
    Commit(id, std::move(next), answer(std::move(finish)));
  };
  if (!known) {
    TransactionMetadata m;
    m.transactional_id = id;
    absl::StatusOr<ProducerId> producer_id = ids_.NextId();
    if (!producer_id.ok()) {
      finish(producer_id.status());
      return;
    }
    m.producer_id = *producer_id;
    m.epoch = ProducerEpoch(0);
    m.timeout_ms = timeout_ms;
    Commit(id, std::move(m), answer(std::move(finish)));
    return;
  }
  // Then: a new epoch, fencing the previous instance (and aborting what it
  // left open).
  auto fence = [this, id, ready = std::move(ready)](InitCallback finish) mutable {
    StatusCallback next_step = [ready = std::move(ready),
                                finish = std::move(finish)](absl::Status s) mutable {
      if (!s.ok()) {
        finish(std::move(s));
        return;
      }
      ready(std::move(finish));
    };
    if (Current(id).state == TransactionState::kOngoing) {
      // A new instance: the old one is fenced and its transaction aborted.
      FenceAndAbort(id, std::move(next_step));
      return;
    }
    TransactionMetadata next = Current(id);
    if (absl::Status s = NextEpoch(next); !s.ok()) {
      next_step(std::move(s));
      return;
    }
    Commit(id, std::move(next), std::move(next_step));
  };
  if (!Preparing(Current(id).state)) {
    fence(std::move(finish));
    return;
  }
  // First: the transaction a crash or an earlier failure left half-ended.
  Finish(id,
         [this, id, fence = std::move(fence), finish = std::move(finish)](absl::Status s) mutable {
           if (!s.ok()) {
             finish(Concurrent(id));
             return;
           }
           fence(std::move(finish));
         });
}

absl::Status TransactionCoordinator::CheckProducerLocked(std::string_view transactional_id,
                                                         ProducerId producer_id,
                                                         ProducerEpoch epoch) const {
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end() || !it->second.metadata ||
      it->second.metadata->producer_id != producer_id) {
    return MakeError(ErrorCode::kInvalidProducerIdMapping,
                     absl::StrCat("transactional id \"", ToAbsl(transactional_id),
                                  "\" does not map to producer id ", producer_id.value()));
  }
  const TransactionMetadata& m = *it->second.metadata;
  if (epoch < m.epoch) return Fenced(transactional_id, epoch, m.epoch);
  if (epoch > m.epoch) {
    return MakeError(ErrorCode::kInvalidProducerEpoch,
                     absl::StrCat("transactional id \"", ToAbsl(transactional_id), "\": epoch ",
                                  epoch.value(), " is newer than ", m.epoch.value()));
  }
  return absl::OkStatus();
}

void TransactionCoordinator::AddPartitionsAsync(std::string_view transactional_id,
                                                ProducerId producer_id, ProducerEpoch epoch,
                                                const std::vector<TopicPartition>& partitions,
                                                StatusCallback done) {
  const std::string id(transactional_id);
  TransactionMetadata next;
  {
    std::lock_guard lock(mu_);
    if (absl::Status s = CheckProducerLocked(id, producer_id, epoch); !s.ok()) {
      done(std::move(s));
      return;
    }
    Entry& entry = transactions_.find(id)->second;
    if (entry.busy || Preparing(entry.metadata->state)) {
      done(Concurrent(id));
      return;
    }
    next = *entry.metadata;
    if (next.state != TransactionState::kOngoing) {
      next.state = TransactionState::kOngoing;
      next.partitions.clear();
      next.start_ms = clock_.WallMs();
    }
    const size_t before = next.partitions.size();
    next.partitions.insert(partitions.begin(), partitions.end());
    if (next.state == entry.metadata->state && next.partitions.size() == before) {
      done(absl::OkStatus());
      return;
    }
    EVLOG_CHECK(AcquireLocked(id, /*create=*/false).ok());
  }
  Commit(id, std::move(next), [this, id, done = std::move(done)](absl::Status s) mutable {
    Release(id);
    done(std::move(s));
  });
}

void TransactionCoordinator::EndTransactionAsync(std::string_view transactional_id,
                                                 ProducerId producer_id, ProducerEpoch epoch,
                                                 bool commit, EndCallback done) {
  const std::string id(transactional_id);
  bool finish_only = false;
  {
    std::lock_guard lock(mu_);
    auto it = transactions_.find(id);
    // A retry of an EndTransaction that completed: its epoch is the one
    // before the bump.
    if (it != transactions_.end() && it->second.metadata &&
        it->second.metadata->producer_id == producer_id &&
        epoch + 1 == it->second.metadata->epoch &&
        it->second.metadata->state ==
            (commit ? TransactionState::kCompleteCommit : TransactionState::kCompleteAbort)) {
      done(it->second.metadata->epoch);
      return;
    }
    if (absl::Status s = CheckProducerLocked(id, producer_id, epoch); !s.ok()) {
      done(std::move(s));
      return;
    }
    const Entry& entry = it->second;
    if (entry.busy) {
      done(Concurrent(id));
      return;
    }
    const TransactionState state = entry.metadata->state;
    if (Preparing(state)) {
      const bool decided_commit = state == TransactionState::kPrepareCommit;
      if (decided_commit != commit) {
        done(MakeError(ErrorCode::kInvalidTxnState,
                       absl::StrCat("transactional id \"", id, "\" is in ",
                                    ToAbsl(TransactionStateName(state)))));
        return;
      }
      finish_only = true;
    } else if (state != TransactionState::kOngoing) {
      done(MakeError(ErrorCode::kInvalidTxnState,
                     absl::StrCat("transactional id \"", id, "\" has no ongoing transaction (",
                                  ToAbsl(TransactionStateName(state)), ")")));
      return;
    }
    EVLOG_CHECK(AcquireLocked(id, /*create=*/false).ok());
  }
  StatusCallback ended = [this, id, done = std::move(done)](absl::Status s) mutable {
    const ProducerEpoch next = Current(id).epoch;
    Release(id);
    if (!s.ok()) {
      done(std::move(s));
    } else {
      done(next);
    }
  };
  if (finish_only) {
    Finish(id, std::move(ended));
  } else {
    End(id, commit, std::move(ended));
  }
}

void TransactionCoordinator::AbortTimedOutAsync(absl::AnyInvocable<void(size_t)> done) {
  std::vector<std::string> expired;
  std::vector<std::string> unfinished;
  {
    std::lock_guard lock(mu_);
    const int64_t now = clock_.WallMs();
    for (auto& [id, entry] : transactions_) {
      if (entry.busy || !entry.metadata) continue;
      const TransactionMetadata& m = *entry.metadata;
      if (Preparing(m.state)) {
        // Decided, but a marker could not be written (its leader was away
        // longer than the writer retries): try again, as Kafka's marker
        // channel does until the markers land.
        EVLOG_CHECK(AcquireLocked(id, /*create=*/false).ok());
        unfinished.push_back(id);
        continue;
      }
      if (m.state != TransactionState::kOngoing || now - m.start_ms <= m.timeout_ms) continue;
      EVLOG_CHECK(AcquireLocked(id, /*create=*/false).ok());
      expired.push_back(id);
    }
  }
  for (const std::string& id : unfinished) {
    Finish(id, [this, id](absl::Status) { Release(id); });
  }
  struct Pass {
    std::mutex mu;
    size_t left;
    size_t aborted = 0;
    absl::AnyInvocable<void(size_t)> done;
  };
  auto pass = std::make_shared<Pass>();
  pass->left = expired.size() + 1;  // the loop holds one
  pass->done = std::move(done);
  auto one_done = [pass](bool aborted) {
    size_t total;
    {
      std::lock_guard lock(pass->mu);
      if (aborted) ++pass->aborted;
      if (--pass->left > 0) return;
      total = pass->aborted;
    }
    pass->done(total);
  };
  for (const std::string& id : expired) {
    FenceAndAbort(id, [this, id, one_done](absl::Status s) {
      Release(id);
      one_done(s.ok());
    });
  }
  one_done(false);
}

absl::StatusOr<ProducerIdAndEpoch> TransactionCoordinator::InitProducerId(
    std::string_view transactional_id, int64_t timeout_ms) {
  return AwaitCallback<absl::StatusOr<ProducerIdAndEpoch>>(executor_, [&](InitCallback done) {
    InitProducerIdAsync(transactional_id, timeout_ms, std::move(done));
  });
}

absl::Status TransactionCoordinator::AddPartitions(std::string_view transactional_id,
                                                   ProducerId producer_id, ProducerEpoch epoch,
                                                   const std::vector<TopicPartition>& partitions) {
  return AwaitCallback<absl::Status>(executor_, [&](StatusCallback done) {
    AddPartitionsAsync(transactional_id, producer_id, epoch, partitions, std::move(done));
  });
}

absl::StatusOr<ProducerEpoch> TransactionCoordinator::EndTransaction(
    std::string_view transactional_id, ProducerId producer_id, ProducerEpoch epoch, bool commit) {
  return AwaitCallback<absl::StatusOr<ProducerEpoch>>(executor_, [&](EndCallback done) {
    EndTransactionAsync(transactional_id, producer_id, epoch, commit, std::move(done));
  });
}

size_t TransactionCoordinator::AbortTimedOut() {
  return AwaitCallback<size_t>(executor_, [&](absl::AnyInvocable<void(size_t)> done) {
    AbortTimedOutAsync(std::move(done));
  });
}

absl::StatusOr<TransactionMetadata> TransactionCoordinator::Describe(
    std::string_view transactional_id) const {
  std::lock_guard lock(mu_);
  auto it = transactions_.find(transactional_id);
  if (it == transactions_.end() || !it->second.metadata) {
    return MakeError(ErrorCode::kInvalidProducerIdMapping,
                     absl::StrCat("unknown transactional id \"", ToAbsl(transactional_id), "\""));
  }
  return *it->second.metadata;
}

}  // namespace evlog
