#include "evlog/client/producer.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/client/consumer.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/group/offset_store.h"
#include "evlog/io/cache_line.h"
#include "evlog/io/spinning_lock.h"
#include "evlog/partition/default_partitioner.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"

namespace evlog {

using internal::ToAbsl;

namespace {

// Free batch buffers an accumulator keeps for reuse, per lane in use: one
// being filled and one being appended is the steady state; more would only
// hold memory.
constexpr size_t kMaxPooledLanes = 4;
// Lanes per partition by default at most: beyond the cores that can fill
// batches at the same moment, more lanes would only split batches.
constexpr size_t kMaxDefaultLanes = 8;
constexpr int32_t kMaxLanes = 64;
// Batches one sending thread appends for others before handing the rest to
// the executor: bounds how long a Send() can be held up by other senders.
constexpr int kMaxBatchesPerDrain = 64;

absl::Status TooLarge(size_t bytes, std::string_view limit_name, uint64_t limit) {
  return MakeError(ErrorCode::kMessageTooLarge,
                   absl::StrCat("the record is ", bytes, " bytes encoded, over ",
                                ToAbsl(limit_name), " = ", limit));
}

// A seed for a producer without partitioner_seed: distinct per producer in
// a process, and across processes with distinct client ids.
uint64_t DefaultSeed(std::string_view client_id) {
  static std::atomic<uint64_t> producers{0};
  return XXH3_64bits_withSeed(client_id.data(), client_id.size(),
                              producers.fetch_add(1, std::memory_order_relaxed));
}

// A power of two: a mask then picks a thread's lane.
size_t LaneCount(int32_t option) {
  if (option > 0) return std::bit_floor(static_cast<size_t>(option));
  return std::bit_floor(
      std::clamp<size_t>(std::thread::hardware_concurrency(), 1, kMaxDefaultLanes));
}

// Hands each thread the lowest slot no live thread holds, so that an
// application's few sending threads keep distinct lanes however many
// short-lived threads came and went before them.
class ThreadSlots {
 public:
  size_t Acquire() {
    std::lock_guard lock(mu_);
    auto it = std::find(used_.begin(), used_.end(), false);
    if (it == used_.end()) it = used_.insert(it, false);
    *it = true;
    return static_cast<size_t>(it - used_.begin());
  }
  void Release(size_t slot) {
    std::lock_guard lock(mu_);
    used_[slot] = false;
  }

 private:
  std::mutex mu_;
  std::vector<bool> used_;
};

ThreadSlots& Slots() {
  // Never destroyed: threads may exit after static destructors ran.
  static auto* slots = new ThreadSlots;
  return *slots;
}

struct SlotHolder {
  SlotHolder() : slot(Slots().Acquire()) {}
  ~SlotHolder() { Slots().Release(slot); }
  const size_t slot;
};

// The calling thread's slot. The cached copy is trivially initialised, so
// every Send after the first reads it without a thread_local guard.
size_t ThreadSlot() {
  static thread_local size_t cached = std::numeric_limits<size_t>::max();
  if (cached != std::numeric_limits<size_t>::max()) [[likely]] {
    return cached;
  }
  static thread_local SlotHolder holder;
  cached = holder.slot;
  return cached;
}

}  // namespace

// A record's callback, with what its RecordMetadata needs. Records sent
// without one leave no trace outside the batch's bytes.
struct Producer::PendingCallback {
  int32_t index;  // in the batch
  int64_t timestamp_ms;
  SendCallback callback;
};

// A batch being filled (the accumulator's open batch) or waiting to be
// appended (its ready queue).
struct Producer::Batch {
  // When it was opened (the clock's monotonic time): delivery_timeout_ms
  // and linger_ms count from here.
  int64_t opened_ns = 0;
  // The encoded batch once sealed and finished; kept for retries.
  MutableByteView bytes;
  int attempts = 0;
  std::vector<std::byte> buffer;
  std::optional<RecordBatchBuilder> builder;
  std::vector<PendingCallback> callbacks;
  // Of buffer_memory: up to batch_size while open, its encoded size once
  // sealed.
  size_t reserved_bytes = 0;
};

// A batch sent, with the producer id and epoch it was stamped with, and
// its outcome once known.
struct Producer::Sent {
  Batch batch;
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch epoch{0};
  // Sent again out of Accumulator::retry: every batch kept there is later.
  bool again = false;
  // Its last attempt was refused as out of sequence: certainly not in the
  // log, so it may be stamped anew.
  bool refused = false;
  std::optional<absl::StatusOr<AppendResult>> outcome;
};

// One thread's (or, past lane_count_ threads, a few threads') batch
// being filled for a partition. A line of its own: the lane's thread
// writes it for every record. Its lock is a SpinLock, one atomic per
// record instead of two: other threads want it only to close its batch.
struct alignas(kCacheLineBytes) Producer::Lane {
  SpinLock mu;
  std::optional<Batch> open;
  // Records accepted into this lane's batches, for Flush.
  uint64_t accepted = 0;
  // The lane's one linger timer (OnLinger), 0 while none is armed.
  Executor::TaskId linger_timer = 0;
};

// Per partition: the lanes filling batches, the batches ready to append in
// order, and who is appending them. Lock order: a lane's mu, then mu.
struct Producer::Accumulator {
  SpinningMutex mu;
  std::condition_variable_any completed_cv;
  std::shared_ptr<ClientPartition> partition;
  std::string_view topic;  // the TopicEntry's name
  RecordBatchOptions batch_options;
  size_t batch_bytes_max = 0;     // min(batch_size, max.message.bytes)
  size_t message_bytes_max = 0;   // the topic's max.message.bytes
  std::unique_ptr<Lane[]> lanes;  // lane_count_ of them (LanesOf)
  // Lanes with an open batch (changed under mu and the lane's mu).
  size_t open_lanes = 0;
  std::deque<Batch> ready;
  // Sent and not yet settled, oldest first (at most max_in_flight).
  std::deque<std::unique_ptr<Sent>> in_flight;
  // After a retriable failure: the failed batches to send again, oldest
  // first, and the later ones held behind them so that completions stay
  // in order (those with an outcome are only completed). Nothing new is
  // sent until it empties and nothing is in flight.
  std::deque<std::unique_ptr<Sent>> retry;
  bool recovering = false;
  // The backoff before the next send of retry.front() has passed.
  bool retry_due = false;
  // Whoever holds it works the partition's batches (Drain).
  bool draining = false;
  // A SendSync left its batch open because a drain was running: that drain
  // seals the open batches when it runs out of ready ones.
  bool seal_asked = false;
  // Idempotence: the producer id and the sequence of the next batch sent.
  ProducerId producer_id = kNoProducerId;
  ProducerEpoch epoch{0};
  int32_t next_sequence = 0;
  // The transaction this partition was last added to (txn_generation_):
  // written by Send (under txn_mu_) and by its drains.
  std::atomic<uint64_t> added_in_generation{0};
  std::vector<std::vector<std::byte>> free_buffers;
  // Emptied callback lists of appended batches: a new batch starts with
  // one's capacity instead of growing its own record by record.
  std::vector<std::vector<PendingCallback>> free_callback_lists;
  // Records completed, for Flush (the lanes count those accepted).
  uint64_t completed = 0;
  // The smallest `completed` a Flush waits for: completions before it wake
  // nobody (waking the flushing thread per batch cost it, and the core it
  // shares with the appends, a futex round trip each).
  uint64_t flush_wake_at = std::numeric_limits<uint64_t>::max();
};

// A topic's accumulators by partition number, read on every Send without a
// lock. A table never changes size: a topic that grows gets a bigger copy,
// and the old table stays alive (in `tables`) for readers still using it.
struct Producer::AccumulatorTable {
  explicit AccumulatorTable(size_t n) : size(n), slots(new std::atomic<Accumulator*>[n]) {
    for (size_t i = 0; i < n; ++i) slots[i].store(nullptr, std::memory_order_relaxed);
  }
  const size_t size;
  const std::unique_ptr<std::atomic<Accumulator*>[]> slots;
};

struct Producer::TopicEntry {
  std::shared_ptr<ClientTopic> topic;
  std::atomic<AccumulatorTable*> table{nullptr};
  std::mutex mu;  // guards the owning containers below
  std::vector<std::unique_ptr<AccumulatorTable>> tables;
  std::vector<std::unique_ptr<Accumulator>> accumulators;
};

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(Broker& broker,
                                                           ProducerOptions options) {
  return Create(MakeClientBackend(broker), std::move(options));
}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(Cluster& cluster,
                                                           ProducerOptions options) {
  return Create(MakeClientBackend(cluster), std::move(options));
}

absl::StatusOr<std::unique_ptr<Producer>> Producer::Create(std::unique_ptr<ClientBackend> backend,
                                                           ProducerOptions options) {
  EVLOG_CHECK(backend != nullptr);
  auto bad = [](std::string_view what) { return MakeError(ErrorCode::kInvalidConfig, what); };
  if (options.batch_size < 1) return bad("batch_size must be >= 1");
  if (options.linger_ms < 0) return bad("linger_ms must be >= 0");
  if (options.open_batches_per_partition < 0 || options.open_batches_per_partition > kMaxLanes) {
    return bad("open_batches_per_partition must be 0 to 64");
  }
  if (options.buffer_memory < 1) return bad("buffer_memory must be >= 1");
  if (options.max_block_ms < 0) return bad("max_block_ms must be >= 0");
  if (options.max_request_size < 1) return bad("max_request_size must be >= 1");
  if (options.request_timeout_ms < 1) return bad("request_timeout_ms must be >= 1");
  if (options.retry_backoff_ms < 0) return bad("retry_backoff_ms must be >= 0");
  if (options.max_in_flight < 1) return bad("max_in_flight must be >= 1");
  if (options.delivery_timeout_ms < options.linger_ms + options.request_timeout_ms) {
    return bad("delivery_timeout_ms must be >= linger_ms + request_timeout_ms");
  }
  if (options.compression != CompressionType::kNone &&
      options.compression != CompressionType::kZstd) {
    return bad("compression must be none or zstd");
  }
  if (options.acks != Acks::kNone && options.acks != Acks::kLeader && options.acks != Acks::kAll) {
    return MakeError(ErrorCode::kInvalidRequiredAcks, "acks must be 0, 1 or -1 (all)");
  }
  const bool transactional = options.transactional_id.has_value();
  if (transactional && options.transactional_id->empty()) {
    return bad("transactional_id must not be empty when set");
  }
  if (transactional && options.enable_idempotence == false) {
    return bad("transactional_id needs enable_idempotence");
  }
  if (transactional && options.acks != Acks::kAll) return bad("transactional_id needs acks = all");
  const bool idempotent =
      transactional || options.enable_idempotence.value_or(options.acks == Acks::kAll);
  if (idempotent && options.acks != Acks::kAll) {
    return bad("enable_idempotence needs acks = all");
  }
  if (idempotent && options.max_in_flight > 5) {
    // A partition remembers a producer's last five batches: a retry of an
    // older one could not be recognised.
    return bad("enable_idempotence needs max_in_flight <= 5");
  }
  ProducerId producer_id = kNoProducerId;
  // A transactional producer gets its id from InitTransactions.
  if (idempotent && !transactional) {
    EVLOG_ASSIGN_OR_RETURN(producer_id, backend->InitProducerId());
  }
  AnyPartitioner partitioner =
      options.partitioner ? *options.partitioner
                          : AnyPartitioner(DefaultPartitioner(
                                static_cast<size_t>(options.batch_size),
                                options.partitioner_seed.value_or(DefaultSeed(options.client_id))));
  std::unique_ptr<Producer> producer(
      new Producer(std::move(backend), std::move(options), std::move(partitioner)));
  producer->idempotent_ = idempotent;
  producer->producer_id_.store(producer_id.value());
  producer->transactional_ = transactional;
  return producer;
}

Producer::Producer(std::unique_ptr<ClientBackend> backend, ProducerOptions options,
                   AnyPartitioner partitioner)
    : backend_(std::move(backend)),
      options_(std::move(options)),
      partitioner_(std::move(partitioner)),
      clock_(backend_->clock()),
      lane_count_(LaneCount(options_.open_batches_per_partition)),
      tasks_(backend_->executor()) {}

Producer::~Producer() {
  (void)Close();
  tasks_.Close();
}

absl::StatusOr<Producer::TopicEntry*> Producer::FindTopic(std::string_view name) {
  // Most applications send to one topic at a time: the last entry found is
  // checked first, without the map's lock or a hash of the name.
  TopicEntry* last = last_topic_.load(std::memory_order_acquire);
  if (last != nullptr && last->topic->name() == name && !last->topic->deleted()) [[likely]] {
    return last;
  }
  return FindTopicSlow(name);
}

absl::StatusOr<Producer::TopicEntry*> Producer::FindTopicSlow(std::string_view name) {
  {
    std::shared_lock lock(topics_mu_);
    auto it = topics_.find(ToAbsl(name));
    if (it != topics_.end() && !it->second->topic->deleted()) {
      last_topic_.store(it->second.get(), std::memory_order_release);
      return it->second.get();
    }
  }
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientTopic> topic,
                         backend_->GetTopic(name, /*auto_create=*/true));
  std::unique_lock lock(topics_mu_);
  auto& slot = topics_[ToAbsl(name)];
  if (slot == nullptr || slot->topic->deleted()) {
    // Entries are never freed before the producer: last_topic_ and
    // RecordMetadata::topic may still point at a replaced one.
    if (slot != nullptr) retired_.push_back(std::move(slot));
    slot = std::make_unique<TopicEntry>();
    slot->topic = std::move(topic);
  }
  last_topic_.store(slot.get(), std::memory_order_release);
  return slot.get();
}

absl::StatusOr<Producer::Accumulator*> Producer::FindAccumulator(TopicEntry& entry,
                                                                 PartitionId partition) {
  const auto index = static_cast<size_t>(partition.value());
  if (const AccumulatorTable* table = entry.table.load(std::memory_order_acquire);
      table != nullptr && index < table->size) [[likely]] {
    if (Accumulator* acc = table->slots[index].load(std::memory_order_acquire)) [[likely]] {
      return acc;
    }
  }
  return FindAccumulatorSlow(entry, partition);
}

absl::StatusOr<Producer::Accumulator*> Producer::FindAccumulatorSlow(TopicEntry& entry,
                                                                     PartitionId partition) {
  const auto index = static_cast<size_t>(partition.value());
  std::lock_guard lock(entry.mu);
  AccumulatorTable* table = entry.table.load(std::memory_order_relaxed);
  if (table != nullptr && index < table->size) {
    if (Accumulator* acc = table->slots[index].load(std::memory_order_relaxed)) return acc;
  }
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientPartition> p, entry.topic->partition(partition));
  if (table == nullptr || table->size <= index) {
    const size_t size = std::max<size_t>(index + 1, entry.topic->partition_count());
    auto bigger = std::make_unique<AccumulatorTable>(size);
    for (size_t i = 0; table != nullptr && i < table->size; ++i) {
      bigger->slots[i].store(table->slots[i].load(std::memory_order_relaxed),
                             std::memory_order_relaxed);
    }
    table = bigger.get();
    entry.tables.push_back(std::move(bigger));
    entry.table.store(table, std::memory_order_release);
  }
  auto acc = std::make_unique<Accumulator>();
  acc->partition = std::move(p);
  acc->producer_id = ProducerId(producer_id_.load(std::memory_order_acquire));
  acc->epoch = ProducerEpoch(epoch_.load(std::memory_order_acquire));
  acc->batch_options.is_transactional = transactional_;
  acc->topic = entry.topic->name();
  const TopicSettings& settings = entry.topic->settings();
  switch (settings.compression) {
    case TopicCompression::kProducer:
      acc->batch_options.compression = options_.compression;
      break;
    case TopicCompression::kNone:
      acc->batch_options.compression = CompressionType::kNone;
      break;
    case TopicCompression::kZstd:
      acc->batch_options.compression = CompressionType::kZstd;
      break;
  }
  acc->batch_options.compression_level = options_.compression_level;
  acc->message_bytes_max = settings.log.max_message_bytes;
  acc->batch_bytes_max =
      std::min<size_t>(static_cast<size_t>(options_.batch_size), acc->message_bytes_max);
  acc->lanes = std::make_unique<Lane[]>(lane_count_);
  Accumulator* raw = acc.get();
  entry.accumulators.push_back(std::move(acc));
  table->slots[index].store(raw, std::memory_order_release);
  return raw;
}

size_t Producer::TryReserve(size_t min_bytes, size_t max_bytes) {
  EVLOG_DCHECK(min_bytes > 0 && min_bytes <= max_bytes);
  const auto limit = static_cast<uint64_t>(options_.buffer_memory);
  uint64_t used = buffer_used_.load(std::memory_order_relaxed);
  uint64_t take = 0;
  do {
    if (used >= limit || limit - used < min_bytes) return 0;
    take = std::min<uint64_t>(max_bytes, limit - used);
  } while (!buffer_used_.compare_exchange_weak(used, used + take, std::memory_order_relaxed));
  return static_cast<size_t>(take);
}

absl::Status Producer::ReserveMemory(size_t bytes) {
  if (closed_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("the producer is closed");
  }
  if (TryReserve(bytes, bytes) != 0) return absl::OkStatus();
  // Batches lingering on other partitions hold memory that only their
  // timers would free: send them now.
  for (Accumulator* acc : AllAccumulators()) {
    SealOpenLanes(*acc);
    std::unique_lock acc_lock(acc->mu);
    if (!acc->ready.empty() && !acc->draining) {
      acc->draining = true;
      acc_lock.unlock();
      StartDrain(*acc);
    }
  }
  std::unique_lock lock(state_mu_);
  // Release() notifies only when it sees a waiter: count this one before
  // the predicate's first check (Dekker with the fence in Release()).
  memory_waiters_.fetch_add(1, std::memory_order_seq_cst);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  bool reserved = false;
  state_cv_.wait_for(lock, std::chrono::milliseconds(options_.max_block_ms), [&] {
    if (closed_.load(std::memory_order_acquire)) return true;
    reserved = TryReserve(bytes, bytes) != 0;
    return reserved;
  });
  memory_waiters_.fetch_sub(1, std::memory_order_relaxed);
  if (reserved) return absl::OkStatus();
  if (closed_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("the producer is closed");
  }
  return MakeError(
      ErrorCode::kRequestTimedOut,
      absl::StrCat("no room in buffer_memory (", options_.buffer_memory, " bytes) for a ", bytes,
                   "-byte record within max_block_ms = ", options_.max_block_ms));
}

void Producer::Release(size_t bytes) {
  if (bytes == 0) return;
  buffer_used_.fetch_sub(bytes, std::memory_order_relaxed);
  // seq_cst pairs with the waiter's increment: either it sees the freed
  // bytes in its predicate, or this sees it waiting and wakes it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (memory_waiters_.load(std::memory_order_relaxed) == 0) return;
  { std::lock_guard lock(state_mu_); }
  state_cv_.notify_all();
}

absl::Status Producer::Prepare(const ProducerRecord& record, Prepared& prepared) {
  if (transactional_ && phase_.load(std::memory_order_acquire) != TxnPhase::kInTransaction) {
    return MakeError(ErrorCode::kInvalidTxnState,
                     "a transactional producer sends only inside BeginTransaction ... "
                     "CommitTransaction");
  }
  if (record.timestamp_ms < -1) [[unlikely]] {
    return MakeError(ErrorCode::kInvalidTimestamp,
                     absl::StrCat("timestamp ", record.timestamp_ms, " is negative"));
  }
  EVLOG_ASSIGN_OR_RETURN(TopicEntry * entry, FindTopic(record.topic));
  prepared.timestamp_ms = record.timestamp_ms == -1 ? clock_.WallMs() : record.timestamp_ms;
  prepared.record_bytes =
      RecordBatchBuilder::EncodedRecordSize(0, 0, record.key, record.value, record.headers);
  if (prepared.record_bytes > static_cast<size_t>(options_.max_request_size)) [[unlikely]] {
    return TooLarge(prepared.record_bytes, "max_request_size", options_.max_request_size);
  }
  const size_t batch_bytes = prepared.record_bytes + record_format::kRecordBatchOverhead;
  const uint32_t topic_max = entry->topic->settings().log.max_message_bytes;
  if (batch_bytes > topic_max) [[unlikely]] {
    return TooLarge(batch_bytes, "max.message.bytes", topic_max);
  }
  if (batch_bytes > static_cast<uint64_t>(options_.buffer_memory)) [[unlikely]] {
    return TooLarge(batch_bytes, "buffer_memory", options_.buffer_memory);
  }
  PartitionRequest request;
  request.topic = record.topic;
  request.key = record.key;
  request.record_bytes = prepared.record_bytes;
  request.partition_count = entry->topic->partition_count();
  EVLOG_ASSIGN_OR_RETURN(PartitionId partition,
                         ChoosePartition(partitioner_, request, record.partition));
  EVLOG_ASSIGN_OR_RETURN(prepared.accumulator, FindAccumulator(*entry, partition));
  return absl::OkStatus();
}

absl::Status Producer::InitTransactions() {
  if (!transactional_) return absl::FailedPreconditionError("no transactional_id");
  std::lock_guard lock(txn_mu_);
  if (phase_.load() != TxnPhase::kUninitialized) {
    return absl::FailedPreconditionError("InitTransactions was already called");
  }
  EVLOG_ASSIGN_OR_RETURN(coordinator_, backend_->transaction_coordinator());
  EVLOG_ASSIGN_OR_RETURN(
      ProducerIdAndEpoch id,
      coordinator_->InitProducerId(*options_.transactional_id, options_.transaction_timeout_ms));
  ApplyEpoch(id.producer_id, id.epoch);
  phase_.store(TxnPhase::kReady);
  return absl::OkStatus();
}

absl::Status Producer::BeginTransaction() {
  std::lock_guard lock(txn_mu_);
  if (phase_.load() != TxnPhase::kReady) {
    return MakeError(ErrorCode::kInvalidTxnState,
                     "BeginTransaction needs InitTransactions and no open transaction");
  }
  txn_errors_.store(0);
  txn_generation_.fetch_add(1, std::memory_order_acq_rel);
  phase_.store(TxnPhase::kInTransaction);
  return absl::OkStatus();
}

absl::Status Producer::CommitTransaction() { return EndTransaction(/*commit=*/true); }
absl::Status Producer::AbortTransaction() { return EndTransaction(/*commit=*/false); }

absl::Status Producer::EndTransaction(bool commit) {
  {
    std::lock_guard lock(txn_mu_);
    if (phase_.load() == TxnPhase::kFenced) {
      return MakeError(ErrorCode::kProducerFenced,
                       "another instance took over this transactional id");
    }
    if (phase_.load() != TxnPhase::kInTransaction) {
      return MakeError(ErrorCode::kInvalidTxnState, "no transaction is open");
    }
    phase_.store(TxnPhase::kEnding);  // Send refuses from here on
  }
  FlushAll();
  std::lock_guard lock(txn_mu_);
  if (commit && txn_errors_.load() > 0) {
    phase_.store(TxnPhase::kInTransaction);
    return MakeError(
        ErrorCode::kTransactionAbortable,
        absl::StrCat(txn_errors_.load(), " records of the transaction failed: abort it"));
  }
  const ProducerId producer_id(producer_id_.load());
  absl::StatusOr<ProducerEpoch> next = coordinator_->EndTransaction(
      *options_.transactional_id, producer_id, ProducerEpoch(epoch_.load()), commit);
  if (!next.ok()) {
    if (HasErrorCode(next.status(), ErrorCode::kProducerFenced)) {
      phase_.store(TxnPhase::kFenced);
    } else {
      phase_.store(TxnPhase::kInTransaction);
    }
    return next.status();
  }
  // The coordinator may have moved to a new producer id (epochs exhausted).
  absl::StatusOr<TransactionMetadata> state = coordinator_->Describe(*options_.transactional_id);
  ApplyEpoch(state.ok() ? state->producer_id : producer_id, *next);
  phase_.store(TxnPhase::kReady);
  return absl::OkStatus();
}

absl::Status Producer::SendOffsetsToTransaction(
    const std::map<TopicPartition, OffsetAndMetadata>& offsets,
    const ConsumerGroupMetadata& group) {
  std::lock_guard lock(txn_mu_);
  if (phase_.load() == TxnPhase::kFenced) {
    return MakeError(ErrorCode::kProducerFenced,
                     "another instance took over this transactional id");
  }
  if (phase_.load() != TxnPhase::kInTransaction) {
    return MakeError(ErrorCode::kInvalidTxnState,
                     "SendOffsetsToTransaction needs an open transaction");
  }
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<GroupCoordinator> groups, backend_->group_coordinator());
  const ProducerId producer_id(producer_id_.load());
  const ProducerEpoch epoch(epoch_.load());
  auto fail = [&](absl::Status status) {
    if (HasErrorCode(status, ErrorCode::kProducerFenced) ||
        HasErrorCode(status, ErrorCode::kInvalidProducerEpoch)) {
      // Kafka's producer treats either as fenced: a newer instance or the
      // transaction timeout bumped the epoch.
      phase_.store(TxnPhase::kFenced);
      return MakeError(ErrorCode::kProducerFenced, internal::FromAbsl(status.message()));
    }
    // Any other failure leaves the transaction only abortable, as Kafka's
    // abortable errors do. ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID and
    // FENCED_INSTANCE_ID: the input may be another member's by now. The
    // rest: the offsets are not in the transaction, or are in the log
    // without the coordinator knowing (a replicated write that timed out or
    // whose in-sync replicas shrank can still commit); committing would make
    // the output visible without them, or them behind its back.
    txn_errors_.fetch_add(1);
    return status;
  };
  // Kafka's AddOffsetsToTxn: the coordinator will write the transaction's
  // marker on the group's partition of `__consumer_offsets` too.
  const uint64_t generation = txn_generation_.load(std::memory_order_acquire);
  if (offsets_generation_ != generation) {
    offsets_partitions_.clear();
    offsets_generation_ = generation;
  }
  const PartitionId partition = groups->OffsetsPartitionFor(group.group_id);
  if (std::find(offsets_partitions_.begin(), offsets_partitions_.end(), partition) ==
      offsets_partitions_.end()) {
    if (absl::Status s = coordinator_->AddPartitions(
            *options_.transactional_id, producer_id, epoch,
            {TopicPartition(std::string(OffsetStore::kTopic), partition)});
        !s.ok()) {
      return fail(std::move(s));
    }
    offsets_partitions_.push_back(partition);
  }
  // Kafka's TxnOffsetCommit.
  TxnOffsetCommitRequest request;
  request.group_id = group.group_id;
  request.producer_id = producer_id;
  request.producer_epoch = epoch;
  request.generation = group.generation;
  request.member_id = group.member_id;
  request.group_instance_id = group.group_instance_id;
  request.offsets = offsets;
  if (absl::Status s = groups->TxnCommitOffsets(request); !s.ok()) return fail(std::move(s));
  return absl::OkStatus();
}

absl::Status Producer::AddToTransaction(const std::vector<Accumulator*>& claimed) {
  // The partitions not yet in the transaction, in one AddPartitions (one
  // write of the transaction's state) rather than one each as their batches
  // go out. The caller owns these drains: nothing else touches
  // added_in_generation meanwhile.
  const uint64_t generation = txn_generation_.load(std::memory_order_acquire);
  std::vector<TopicPartition> fresh;
  std::vector<Accumulator*> adding;
  for (Accumulator* acc : claimed) {
    if (acc->added_in_generation.load(std::memory_order_acquire) == generation) continue;
    fresh.push_back(acc->partition->topic_partition());
    adding.push_back(acc);
  }
  if (fresh.empty()) return absl::OkStatus();
  EVLOG_RETURN_IF_ERROR(coordinator_->AddPartitions(
      *options_.transactional_id, adding[0]->producer_id, adding[0]->epoch, fresh));
  for (Accumulator* acc : adding) {
    acc->added_in_generation.store(generation, std::memory_order_release);
  }
  return absl::OkStatus();
}

absl::Status Producer::AddToTransaction(Accumulator& acc) {
  const uint64_t generation = txn_generation_.load(std::memory_order_acquire);
  if (acc.added_in_generation.load(std::memory_order_acquire) == generation) {
    return absl::OkStatus();
  }
  // On the sending thread, before the record is accepted, rather than when
  // its batch goes out: on a Cluster the coordinator's write is replicated,
  // which a drain running on the executor must not wait for. One partition
  // at a time (txn_mu_; drains never take it, and the epoch cannot move
  // under it). On a Broker the drains add them instead, several in one
  // write.
  std::lock_guard lock(txn_mu_);
  // Prepare checked the phase; an EndTransaction since then flushes what
  // was accepted before it.
  if (phase_.load() != TxnPhase::kInTransaction) return absl::OkStatus();
  absl::Status added = AddToTransaction(std::vector<Accumulator*>{&acc});
  if (HasErrorCode(added, ErrorCode::kProducerFenced)) phase_.store(TxnPhase::kFenced);
  return added;
}

void Producer::ApplyEpoch(ProducerId producer_id, ProducerEpoch epoch) {
  producer_id_.store(producer_id.value(), std::memory_order_release);
  epoch_.store(epoch.value(), std::memory_order_release);
  for (Accumulator* acc : AllAccumulators()) {
    std::lock_guard acc_lock(acc->mu);
    acc->producer_id = producer_id;
    acc->epoch = epoch;
    acc->next_sequence = 0;  // a new epoch starts its sequences again
  }
}

absl::Status Producer::Send(const ProducerRecord& record, SendCallback callback) {
  Prepared prepared;
  if (absl::Status status = Prepare(record, prepared); !status.ok()) [[unlikely]] {
    send_rejections_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }
  if (transactional_ && !backend_->coordinators_answer_inline()) {
    if (absl::Status added = AddToTransaction(*prepared.accumulator); !added.ok()) {
      send_rejections_.fetch_add(1, std::memory_order_relaxed);
      return added;
    }
  }
  absl::Status status = Enqueue(*prepared.accumulator, record, prepared.timestamp_ms,
                                prepared.record_bytes, callback, /*flush_now=*/false);
  if (!status.ok()) send_rejections_.fetch_add(1, std::memory_order_relaxed);
  return status;
}

absl::Status Producer::Enqueue(Accumulator& acc, const ProducerRecord& record, int64_t timestamp_ms,
                               size_t record_bytes, SendCallback& callback, bool flush_now) {
  // A new batch needs room for its header and this record, whose deltas
  // are 0 as its first (record_bytes is exact then).
  const size_t first_bytes = record_bytes + record_format::kRecordBatchOverhead;
  const size_t batch_bytes = std::max(acc.batch_bytes_max, first_bytes);
  Lane& lane = acc.lanes[ThreadSlot() & (lane_count_ - 1)];
  // Memory this sender waited for without the locks, for a new batch.
  size_t held = 0;
  std::unique_lock lane_lock(lane.mu);
  // Taken only to open or close a batch, and with linger_ms 0.
  std::unique_lock acc_lock(acc.mu, std::defer_lock);
  for (;;) {
    // Close() sets closed_ and then flushes every lane under its mutex: a
    // record enqueued after that flush would never be appended.
    if (closed_.load(std::memory_order_seq_cst)) {
      if (acc_lock.owns_lock()) acc_lock.unlock();
      lane_lock.unlock();
      Release(held);
      return absl::FailedPreconditionError("the producer is closed");
    }
    if (lane.open && TryAddLocked(acc, *lane.open, record, timestamp_ms, record_bytes, callback)) {
      break;
    }
    if (!acc_lock.owns_lock()) acc_lock.lock();
    if (lane.open) SealLocked(acc, lane);
    size_t credit = held;
    if (credit < first_bytes) {
      const size_t got = TryReserve(first_bytes - credit, batch_bytes - credit);
      if (got == 0) {
        // Waiting for memory under the locks would keep this partition's
        // own batches, which free it, from going out.
        acc_lock.unlock();
        lane_lock.unlock();
        if (absl::Status reserved = ReserveMemory(first_bytes - held); !reserved.ok()) {
          Release(held);
          return reserved;
        }
        held = first_bytes;
        lane_lock.lock();
        continue;  // another sender of this lane may have opened a batch
      }
      credit += got;
    } else if (credit < batch_bytes) {
      credit += TryReserve(1, batch_bytes - credit);
    }
    held = 0;
    Batch batch;
    batch.opened_ns = clock_.MonotonicNs();
    batch.reserved_bytes = credit;
    if (!acc.free_buffers.empty() && acc.free_buffers.back().size() >= batch_bytes) {
      batch.buffer = std::move(acc.free_buffers.back());
      acc.free_buffers.pop_back();
    } else {
      batch.buffer.resize(batch_bytes);
    }
    if (!acc.free_callback_lists.empty()) {
      batch.callbacks = std::move(acc.free_callback_lists.back());
      acc.free_callback_lists.pop_back();
    }
    batch.builder.emplace(MutableByteView(batch.buffer), acc.batch_options);
    absl::Status appended =
        batch.builder->Append(timestamp_ms, record.key, record.value, record.headers);
    if (!appended.ok()) {
      acc_lock.unlock();
      lane_lock.unlock();
      Release(credit);
      return appended;
    }
    if (callback) batch.callbacks.push_back({0, timestamp_ms, std::move(callback)});
    lane.open = std::move(batch);
    ++acc.open_lanes;
    // One timer per lane, not per batch: a batch that fills before its
    // linger ends leaves the timer to the next one (OnLinger), instead of
    // arming and cancelling one per batch, which costs an executor
    // wake-up each.
    if (options_.linger_ms > 0 && !flush_now && lane.linger_timer == 0) {
      lane.linger_timer =
          tasks_.ScheduleAfter(options_.linger_ms, [this, &acc, &lane] { OnLinger(acc, lane); });
    }
    break;
  }
  ++lane.accepted;
  const bool full = lane.open->builder->size_bytes() >= acc.batch_bytes_max;
  if (!full && !flush_now && options_.linger_ms > 0 && !acc_lock.owns_lock()) [[likely]] {
    // The batch lingers, and nothing was sealed: the partition's own state
    // is not touched at all.
    lane_lock.unlock();
    Release(held);  // a batch had room after all
    return absl::OkStatus();
  }
  if (!acc_lock.owns_lock()) acc_lock.lock();
  // Full, or (linger 0, or a SendSync) sendable now. With linger 0 and an
  // append running, the batch stays open to gather more records; the
  // drainer takes it next.
  if (full || ((flush_now || (options_.linger_ms == 0 && CanSendLocked(acc))) && !acc.draining)) {
    SealLocked(acc, lane);
  } else if (flush_now) {
    // A SendSync's batch has no linger timer: the drainer seals it next.
    acc.seal_asked = true;
  }
  const bool drain = !acc.ready.empty() && !acc.draining;
  if (drain) acc.draining = true;
  acc_lock.unlock();
  lane_lock.unlock();
  Release(held);
  if (drain) StartDrain(acc);
  return absl::OkStatus();
}

bool Producer::TryAddLocked(Accumulator& acc, Batch& batch, const ProducerRecord& record,
                            int64_t timestamp_ms, size_t record_bytes, SendCallback& callback) {
  RecordBatchBuilder& builder = *batch.builder;
  const size_t used = builder.size_bytes();
  // A batch is bounded by max.message.bytes, and by batch_size unless one
  // record alone is bigger.
  if (used + record_bytes > acc.batch_bytes_max) return false;
  // record_bytes has deltas of 0; the record's own (a timestamp varlong, an
  // offset varint, and the length prefix they lengthen) add at most this.
  constexpr size_t kMaxDeltaBytes =
      (record_format::kMaxVarlongBytes - 1) + (record_format::kMaxVarintBytes - 1) + 1;
  const size_t bound = used + record_bytes + kMaxDeltaBytes;
  if (bound > batch.reserved_bytes) {
    // Opened with less than batch_size free: take more if it is there.
    const size_t want = std::max(bound, acc.batch_bytes_max) - batch.reserved_bytes;
    const size_t got = TryReserve(bound - batch.reserved_bytes, want);
    if (got == 0) return false;
    batch.reserved_bytes += got;
  }
  const auto index = static_cast<int32_t>(builder.record_count());
  if (!builder.Append(timestamp_ms, record.key, record.value, record.headers).ok()) return false;
  if (callback) batch.callbacks.push_back({index, timestamp_ms, std::move(callback)});
  return true;
}

void Producer::SealLocked(Accumulator& acc, Lane& lane) {
  EVLOG_DCHECK(lane.open.has_value());
  Batch& batch = *lane.open;
  const size_t used = batch.builder->size_bytes();
  if (batch.reserved_bytes > used) {
    Release(batch.reserved_bytes - used);
    batch.reserved_bytes = used;
  }
  acc.ready.push_back(std::move(batch));
  lane.open.reset();
  --acc.open_lanes;
}

std::span<Producer::Lane> Producer::LanesOf(Accumulator& acc) const {
  return {acc.lanes.get(), lane_count_};
}

void Producer::SealOpenLanes(Accumulator& acc) {
  for (Lane& lane : LanesOf(acc)) {
    std::lock_guard lane_lock(lane.mu);
    if (!lane.open) continue;
    std::lock_guard acc_lock(acc.mu);
    SealLocked(acc, lane);
  }
}

void Producer::StartDrain(Accumulator& acc) {
  if (options_.async_send) {
    if (tasks_.Schedule([this, &acc] { Drain(acc); })) return;
  }
  Drain(acc);
}

void Producer::OnLinger(Accumulator& acc, Lane& lane) {
  std::unique_lock lane_lock(lane.mu);
  lane.linger_timer = 0;
  if (!lane.open) return;  // the next batch opened arms the timer again
  // The timer may have been armed for an earlier batch: this one waits out
  // its own linger.
  const int64_t left_ns =
      lane.open->opened_ns + options_.linger_ms * 1'000'000 - clock_.MonotonicNs();
  if (left_ns > 0) {
    lane.linger_timer = tasks_.ScheduleAfter((left_ns + 999'999) / 1'000'000,
                                             [this, &acc, &lane] { OnLinger(acc, lane); });
    return;
  }
  std::unique_lock acc_lock(acc.mu);
  SealLocked(acc, lane);
  lane_lock.unlock();
  if (acc.draining) return;
  acc.draining = true;
  acc_lock.unlock();
  Drain(acc);
}

namespace {

Sequence AdvanceSequence(int32_t from, int32_t records) {
  return Sequence(static_cast<int32_t>((int64_t{from} + records) %
                                       (int64_t{std::numeric_limits<int32_t>::max()} + 1)));
}

}  // namespace

bool Producer::CanSendLocked(const Accumulator& acc) const {
  return !acc.recovering && acc.in_flight.size() < static_cast<size_t>(options_.max_in_flight);
}

void Producer::Drain(Accumulator& acc) {
  std::unique_lock lock(acc.mu);
  EVLOG_DCHECK(acc.draining);
  for (int sent = 0;;) {
    // Outcomes first, in send order: a later batch's waits for the ones
    // before it, so that callbacks run in offset order.
    if (!acc.in_flight.empty() && acc.in_flight.front()->outcome.has_value()) {
      std::unique_ptr<Sent> done = std::move(acc.in_flight.front());
      acc.in_flight.pop_front();
      lock.unlock();
      Settle(acc, std::move(done));
      lock.lock();
      continue;
    }
    if (acc.recovering) {
      // Wait for the whole window, then send the failed batches again, one
      // at a time, completing the held ones as their turn comes.
      if (!acc.in_flight.empty()) break;
      if (acc.retry.empty()) {
        acc.recovering = false;
        continue;
      }
      if (acc.retry.front()->outcome.has_value()) {
        std::unique_ptr<Sent> held = std::move(acc.retry.front());
        acc.retry.pop_front();
        const absl::StatusOr<AppendResult> result = *std::move(held->outcome);
        lock.unlock();
        Finish(acc, *held, result);
        lock.lock();
        continue;
      }
      if (!acc.retry_due) break;  // the backoff timer comes back
      std::unique_ptr<Sent> again = std::move(acc.retry.front());
      acc.retry.pop_front();
      if (idempotent_ && again->refused &&
          (again->producer_id != acc.producer_id || again->epoch != acc.epoch)) {
        // Stamped before its partition moved to a new producer id (a batch
        // before it failed for good), and refused under the old one: it
        // continues the new id's sequence. One whose outcome is unknown (a
        // lost answer, a timeout) goes again as it was first stamped, so
        // that a copy already in the log is recognised, not written twice.
        again->producer_id = acc.producer_id;
        again->epoch = acc.epoch;
        SetBatchProducer(again->batch.bytes, acc.producer_id, acc.epoch,
                         Sequence(acc.next_sequence));
        acc.next_sequence =
            AdvanceSequence(acc.next_sequence, again->batch.builder->record_count()).value();
      }
      again->again = true;
      Sent& ref = *again;
      acc.in_flight.push_back(std::move(again));
      lock.unlock();
      retries_.fetch_add(1, std::memory_order_relaxed);
      Transmit(acc, ref);
      lock.lock();
      continue;
    }
    if (acc.ready.empty() && acc.open_lanes > 0 && (options_.linger_ms == 0 || acc.seal_asked)) {
      // With linger 0 (or for a SendSync) a batch waits only for the append
      // before it: take it.
      acc.seal_asked = false;
      lock.unlock();
      SealOpenLanes(acc);
      lock.lock();
      continue;
    }
    if (acc.ready.empty() || !CanSendLocked(acc)) break;
    // Other threads keep filling batches while this one appends; after a
    // while the rest goes to the executor, so that this Send() returns.
    if (++sent > kMaxBatchesPerDrain && tasks_.Schedule([this, &acc] { Drain(acc); })) return;
    auto next = std::make_unique<Sent>();
    next->batch = std::move(acc.ready.front());
    acc.ready.pop_front();
    next->producer_id = acc.producer_id;
    next->epoch = acc.epoch;
    if (idempotent_) {
      // Sequences in send order, fixed for the batch's retries.
      RecordBatchBuilder& builder = *next->batch.builder;
      builder.SetProducer(acc.producer_id, acc.epoch, Sequence(acc.next_sequence));
      acc.next_sequence = AdvanceSequence(acc.next_sequence, builder.record_count()).value();
    }
    Sent& ref = *next;
    acc.in_flight.push_back(std::move(next));
    lock.unlock();
    absl::StatusOr<MutableByteView> bytes = ref.batch.builder->Finish();
    if (bytes.ok()) {
      ref.batch.bytes = *bytes;
      Transmit(acc, ref);
    } else {
      OnOutcome(acc, ref, bytes.status());
    }
    lock.lock();
  }
  acc.draining = false;
}

void Producer::Transmit(Accumulator& acc, Sent& sent) {
  Batch& batch = sent.batch;
  // A first attempt always has request_timeout_ms left (Create checks
  // delivery_timeout_ms >= linger_ms + request_timeout_ms); a retry gets
  // what remains. No clock read on the common path.
  int64_t timeout_ms = options_.request_timeout_ms;
  if (++batch.attempts > 1) {
    const int64_t left_ms =
        (batch.opened_ns - clock_.MonotonicNs()) / 1'000'000 + options_.delivery_timeout_ms;
    timeout_ms = std::clamp<int64_t>(left_ms, 1, options_.request_timeout_ms);
  }
  // A partition's first batch in a transaction adds the partition to it
  // first (Kafka's AddPartitionsToTxn), so that the coordinator writes a
  // marker there when the transaction ends.
  if (absl::Status added = transactional_ ? AddToTransaction({&acc}) : absl::OkStatus();
      !added.ok()) {
    OnOutcome(acc, sent, std::move(added));
    return;
  }
  acc.partition->Append(batch.bytes, options_.acks, timeout_ms,
                        [this, &acc, &sent](absl::StatusOr<AppendResult> result) {
                          OnOutcome(acc, sent, std::move(result));
                        });
}

void Producer::OnOutcome(Accumulator& acc, Sent& sent, absl::StatusOr<AppendResult> result) {
  std::unique_lock lock(acc.mu);
  sent.outcome = std::move(result);
  // The drain's owner (perhaps this thread, inside Transmit) looks at the
  // outcomes before it lets go of the partition.
  if (acc.draining) return;
  acc.draining = true;
  lock.unlock();
  Drain(acc);
}

void Producer::ScheduleRetry(Accumulator& acc) {
  // REQUIRES: acc.mu held.
  acc.retry_due = false;
  const Executor::TaskId task = tasks_.ScheduleAfter(options_.retry_backoff_ms, [this, &acc] {
    std::unique_lock lock(acc.mu);
    acc.retry_due = true;
    if (acc.draining) return;
    acc.draining = true;
    lock.unlock();
    Drain(acc);
  });
  if (task != 0) return;
  // Only a producer being destroyed refuses tasks: what waits fails.
  for (std::unique_ptr<Sent>& s : acc.retry) {
    if (!s->outcome.has_value()) {
      s->outcome = MakeError(ErrorCode::kRequestTimedOut,
                             "the producer closed before it could send the batch again");
    }
  }
  acc.retry_due = true;
}

void Producer::Settle(Accumulator& acc, std::unique_ptr<Sent> sent) {
  Batch& batch = sent->batch;
  absl::StatusOr<AppendResult> result = *std::move(sent->outcome);
  sent->outcome.reset();
  std::unique_lock lock(acc.mu);
  if (!result.ok()) {
    const ErrorCode code = GetErrorCode(result.status());
    const int64_t now_ns = clock_.MonotonicNs();
    const bool in_time = now_ns + options_.retry_backoff_ms * 1'000'000 <
                         batch.opened_ns + options_.delivery_timeout_ms * 1'000'000;
    // Out of sequence because a batch before it is to be sent again, or
    // failed for good and took its producer id along: it goes again after
    // that one.
    const bool behind = code == ErrorCode::kOutOfOrderSequenceNumber && idempotent_ &&
                        (!acc.retry.empty() || sent->producer_id != acc.producer_id);
    sent->refused = code == ErrorCode::kOutOfOrderSequenceNumber;
    // A deleted topic does not come back: fail at once, as on one broker.
    const bool retriable = ((IsRetriable(code) && code != ErrorCode::kCorruptMessage) || behind) &&
                           !acc.partition->deleted();
    if (retriable && in_time) {
      if (sent->again) {
        // Failed again: still the first to go, after another backoff.
        acc.retry.push_front(std::move(sent));
        ScheduleRetry(acc);
      } else {
        acc.retry.push_back(std::move(sent));
        if (!acc.recovering) {
          acc.recovering = true;
          ScheduleRetry(acc);
        }
      }
      return;
    }
    if (retriable) {
      result = Annotate(result.status(),
                        absl::StrCat("delivery_timeout_ms (", options_.delivery_timeout_ms,
                                     ") passed after ", batch.attempts, " attempts"));
    }
    if (transactional_) txn_errors_.fetch_add(1, std::memory_order_relaxed);
    // A batch that failed for good may or may not be in the log: the next
    // sequence would be a gap or a repeat. Later batches start afresh under
    // a new producer id. (A transactional producer's epoch moves with its
    // transactions instead.)
    if (idempotent_ && !transactional_ && sent->producer_id == acc.producer_id) {
      lock.unlock();
      absl::StatusOr<ProducerId> id = backend_->InitProducerId();
      lock.lock();
      if (id.ok()) {
        acc.producer_id = *id;
        acc.next_sequence = 0;
      }
    }
  } else {
    bytes_sent_.fetch_add(batch.bytes.size(), std::memory_order_relaxed);
  }
  if (!sent->again && !acc.retry.empty()) {
    // Completed after the batches before it.
    sent->outcome = std::move(result);
    acc.retry.push_back(std::move(sent));
    return;
  }
  lock.unlock();
  Finish(acc, *sent, result);
}

void Producer::Finish(Accumulator& acc, Sent& sent, const absl::StatusOr<AppendResult>& result) {
  Batch& batch = sent.batch;
  const auto count = static_cast<size_t>(batch.builder->record_count());
  Complete(acc, batch, result);
  std::lock_guard lock(acc.mu);
  acc.completed += count;
  const bool wake = acc.completed >= acc.flush_wake_at;
  if (wake) acc.flush_wake_at = std::numeric_limits<uint64_t>::max();
  const size_t pooled = std::min(lane_count_, kMaxPooledLanes) + 1;
  if (acc.free_buffers.size() < pooled && batch.buffer.size() == acc.batch_bytes_max) {
    acc.free_buffers.push_back(std::move(batch.buffer));
  }
  if (acc.free_callback_lists.size() < pooled && batch.callbacks.capacity() > 0) {
    batch.callbacks.clear();  // Complete() cleared it; keeps the capacity
    acc.free_callback_lists.push_back(std::move(batch.callbacks));
  }
  // Every flusher woken re-registers its target if it is not there yet.
  if (wake) acc.completed_cv.notify_all();
}

void Producer::Complete(Accumulator& acc, Batch& batch,
                        const absl::StatusOr<AppendResult>& result) {
  const auto count = static_cast<size_t>(batch.builder->record_count());
  if (result.ok()) {
    records_sent_.fetch_add(count, std::memory_order_relaxed);
    batches_sent_.fetch_add(1, std::memory_order_relaxed);
  } else {
    record_errors_.fetch_add(count, std::memory_order_relaxed);
  }
  for (PendingCallback& r : batch.callbacks) {
    if (!result.ok()) {
      r.callback(result.status());
      continue;
    }
    RecordMetadata m;
    m.topic = acc.topic;
    m.partition = acc.partition->topic_partition().partition;
    m.offset = options_.acks == Acks::kNone ? Offset(-1) : result->base_offset + r.index;
    m.timestamp_ms = result->log_append_time_ms >= 0 ? result->log_append_time_ms : r.timestamp_ms;
    r.callback(m);
  }
  batch.callbacks.clear();
  Release(batch.reserved_bytes);
}

std::vector<Producer::Accumulator*> Producer::AllAccumulators() const {
  std::vector<Accumulator*> out;
  std::shared_lock lock(topics_mu_);
  for (const auto& [name, entry] : topics_) {
    std::lock_guard entry_lock(entry->mu);
    for (const auto& acc : entry->accumulators) {
      if (acc != nullptr) out.push_back(acc.get());
    }
  }
  return out;
}

std::future<absl::StatusOr<RecordMetadata>> Producer::Send(const ProducerRecord& record) {
  auto promise = std::make_shared<std::promise<absl::StatusOr<RecordMetadata>>>();
  std::future<absl::StatusOr<RecordMetadata>> future = promise->get_future();
  absl::Status status =
      Send(record, [promise](const absl::StatusOr<RecordMetadata>& m) { promise->set_value(m); });
  if (!status.ok()) promise->set_value(status);
  return future;
}

absl::StatusOr<RecordMetadata> Producer::SendSync(const ProducerRecord& record) {
  Prepared prepared;
  if (absl::Status status = Prepare(record, prepared); !status.ok()) {
    send_rejections_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }
  std::promise<absl::StatusOr<RecordMetadata>> promise;
  std::future<absl::StatusOr<RecordMetadata>> future = promise.get_future();
  SendCallback callback = [&promise](const absl::StatusOr<RecordMetadata>& m) {
    promise.set_value(m);
  };
  absl::Status status = Enqueue(*prepared.accumulator, record, prepared.timestamp_ms,
                                prepared.record_bytes, callback, /*flush_now=*/true);
  if (!status.ok()) {
    send_rejections_.fetch_add(1, std::memory_order_relaxed);
    return status;
  }
  return future.get();
}

absl::Status Producer::Flush() {
  if (closed_.load(std::memory_order_acquire)) {
    return absl::FailedPreconditionError("the producer is closed");
  }
  FlushAll();
  return absl::OkStatus();
}

void Producer::FlushAll() {
  std::vector<std::pair<Accumulator*, uint64_t>> targets;
  std::vector<Accumulator*> claimed;
  std::vector<std::unique_lock<SpinLock>> lane_locks;
  for (Accumulator* acc : AllAccumulators()) {
    // Every lane at once: then all the records accepted before this point
    // are sealed ahead of any accepted after it, and as batches complete
    // in ready order, a count of completions says when they are done.
    lane_locks.clear();
    for (Lane& lane : LanesOf(*acc)) lane_locks.emplace_back(lane.mu);
    std::unique_lock lock(acc->mu);
    uint64_t accepted = 0;
    for (Lane& lane : LanesOf(*acc)) {
      accepted += lane.accepted;
      if (lane.open) SealLocked(*acc, lane);
    }
    targets.emplace_back(acc, accepted);
    lane_locks.clear();
    if (acc->ready.empty() || acc->draining) continue;
    acc->draining = true;
    claimed.push_back(acc);
  }
  // On failure each batch tries again on its own as it goes out (Transmit),
  // and fails with the reason.
  if (transactional_) (void)AddToTransaction(claimed);
  for (Accumulator* acc : claimed) StartDrain(*acc);
  for (auto [acc, accepted] : targets) {
    // A Cluster on a ManualExecutor completes appends only when driven.
    AwaitCondition(backend_->executor(), acc->mu, acc->completed_cv, [&] {
      if (acc->completed >= accepted) return true;
      acc->flush_wake_at = std::min(acc->flush_wake_at, accepted);
      return false;
    });
  }
}

absl::Status Producer::Close() {
  if (closed_.exchange(true, std::memory_order_seq_cst)) return absl::OkStatus();
  {
    // Senders blocked for memory see closed_ and give up.
    std::lock_guard lock(state_mu_);
  }
  state_cv_.notify_all();
  // Sends that got in before closed_ are appended; later ones are refused
  // by Enqueue (see there).
  FlushAll();
  tasks_.Close();
  return absl::OkStatus();
}

ProducerMetrics Producer::metrics() const {
  ProducerMetrics m;
  m.client_id = options_.client_id;
  m.records_sent = records_sent_.load(std::memory_order_relaxed);
  m.bytes_sent = bytes_sent_.load(std::memory_order_relaxed);
  m.batches_sent = batches_sent_.load(std::memory_order_relaxed);
  m.record_errors = record_errors_.load(std::memory_order_relaxed);
  m.send_rejections = send_rejections_.load(std::memory_order_relaxed);
  m.retries = retries_.load(std::memory_order_relaxed);
  m.buffer_bytes_used = buffer_used_.load(std::memory_order_relaxed);
  for (Accumulator* acc : AllAccumulators()) {
    // Completed first: read after it, the lanes' counts are not smaller.
    uint64_t completed = 0;
    {
      std::lock_guard lock(acc->mu);
      completed = acc->completed;
    }
    uint64_t accepted = 0;
    for (Lane& lane : LanesOf(*acc)) {
      std::lock_guard lane_lock(lane.mu);
      accepted += lane.accepted;
    }
    m.records_in_flight += accepted - completed;
  }
  return m;
}

}  // namespace evlog
