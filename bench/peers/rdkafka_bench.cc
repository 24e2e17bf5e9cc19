// evlog against librdkafka's in-process mock cluster (issue 8): produce N
// keyed records and read them all back with a group consumer, through
// evlog's Producer and Consumer on a Broker and through librdkafka's
// producer and high-level consumer on a 3-broker mock cluster, in one
// executable so that every ratio comes from one run.
//
//   build/release/bench/peers/evlog_peer_rdkafka_bench --benchmark_filter='value:100/'
//
// Rows (each evlog row right before its librdkafka twin):
//   BM_ProduceConsume<EvlogClient|RdKafkaClient>/value:<B>/idempotence:<0|1>/transactional:<0|1>
// One iteration, on a fresh topic of 3 partitions:
//   1. warm-up, untimed: one record to each partition, flushed (segment
//      files, connections, metadata and producer ids exist before timing)
//   2. produce, timed: Send/produce N records (8-byte big-endian keys,
//      key-partitioned) and Flush
//   3. consume, timed from the assignment: a consumer in a new group
//      subscribes (earliest), and the clock starts when the group hands it
//      its partitions (the join itself, several round trips on both sides,
//      is not counted); it stops when the consumer has every record.
// The iteration's (manual) time is produce + consume, so items_per_second
// is "produce+consume" records/s; the counters produce_per_second and
// consume_per_second give the two halves, first_record_ms the time from the
// assignment to the first record, consume_after_first_per_second the
// consume rate from then on, and join_ms the group join left out.
//
// What each side guarantees, and the differences:
//   evlog     Broker on $TMPDIR (ext4 here), Durability::kNone: every batch is
//             written (pwrite) into a segment file before it is acknowledged,
//             so it survives a crash of the process (not of the machine: no
//             fsync, as Kafka's default). Replication factor 1 (a Broker is
//             one node). Producer defaults: acks=all, linger_ms 5,
//             batch_size 16 KiB, Send on the caller's thread.
//   rdkafka   3 mock brokers in this process, partitions with replication
//             factor 3, acks=all (the mock acknowledges at once: its
//             "replicas" are not copies), records kept in memory only (lost
//             with the process). Producer defaults: linger.ms 5,
//             batch.size 1 MB, a background thread per broker.
//   Both consumers: group protocol, auto-commit on (5 s), CRC checks on.
//   librdkafka's consumer defaults to read_committed, evlog's to
//   read_uncommitted (no open transactions here, so they read the same).
// Transactions (transactional:1): both producers commit a transaction every
// kRecordsPerTransaction records (and once more at the end), and both
// consumers read_committed.
#include <benchmark/benchmark.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/partition/topic_config.h"
#include "peer_support.h"

namespace evlog::bench::peers {
namespace {

constexpr int32_t kPartitions = 3;
constexpr int kMockBrokers = 3;
// Records per librdkafka transaction: Kafka Streams' exactly-once commit
// interval (100 ms) at ~100k records/s.
constexpr uint64_t kRecordsPerTransaction = 10'000;
// A consume that has not seen every record by then has failed.
constexpr int64_t kConsumeDeadlineNs = 60'000'000'000;
constexpr int kFlushTimeoutMs = 60'000;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Records per iteration. The mock cluster keeps at most 5 MiB of batches per
// partition (older ones are deleted, as by retention), so a workload that
// is to be read back whole stays below that: 100,000 x 108 B and 12,000 x
// 1,032 B over 3 partitions are 3.6 and 4.1 MB per partition.
uint64_t RecordsPerIteration(size_t value_bytes) {
  if (SmokeRun()) return 2'000;
  return value_bytes <= 100 ? 100'000 : 12'000;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "evlog_peer_rdkafka_bench: %s\n", what.c_str());
  std::abort();
}

struct Mode {
  bool idempotence = false;
  bool transactional = false;
};

// What one consume saw, and when.
struct ConsumeResult {
  ReadTotals totals;
  int64_t assigned_ns = 0;
  int64_t first_ns = 0;  // the first record in the application's hands
  int64_t done_ns = 0;
};

// --- evlog: Producer and Consumer on a Broker ------------------------------------

class EvlogClient {
 public:
  static constexpr const char* kName = "evlog";
  // Iterations of a full run: cheap here, so more samples.
  static constexpr int kIterations = 10;

  explicit EvlogClient(Mode mode) : mode_(mode) {
    BrokerOptions options;
    options.data_dir = dir_.Sub("broker");
    options.topic_defaults.log.durability = Durability::kNone;
    options.topic_defaults.log.retention_ms = -1;
    broker_ = Must(Broker::Open(std::move(options)), "Broker::Open");
  }
  ~EvlogClient() {
    CloseProducer();
    Must(broker_->Close(), "Broker::Close");
  }
  EvlogClient(const EvlogClient&) = delete;
  EvlogClient& operator=(const EvlogClient&) = delete;

  // A new topic with one null record in each partition.
  std::string NewTopic() {
    const std::string topic = absl::StrFormat("peer-%d", next_topic_++);
    Must(broker_->CreateTopic(topic, evlog::NewTopic(kPartitions)), "CreateTopic");
    CloseProducer();
    ProducerOptions options;
    options.enable_idempotence = mode_.idempotence;
    if (mode_.transactional) options.transactional_id = topic + "-txn";
    producer_ = Must(Producer::Create(*broker_, options), "Producer::Create");
    if (mode_.transactional) {
      Must(producer_->InitTransactions(), "InitTransactions");
      Must(producer_->BeginTransaction(), "BeginTransaction");
    }
    for (int32_t p = 0; p < kPartitions; ++p) {
      ProducerRecord record(topic, std::nullopt, std::nullopt);
      Must(producer_->SendSync(record.WithPartition(p)).status(), "SendSync");
    }
    if (mode_.transactional) Must(producer_->CommitTransaction(), "CommitTransaction");
    return topic;
  }

  void Produce(const std::string& topic, const Workload& workload, uint64_t count) {
    for (uint64_t n = 0; n < count; ++n) {
      if (mode_.transactional && n % kRecordsPerTransaction == 0) {
        if (n != 0) Must(producer_->CommitTransaction(), "CommitTransaction");
        Must(producer_->BeginTransaction(), "BeginTransaction");
      }
      const Key key = Workload::KeyOf(n);
      const ProducerRecord record(topic, std::optional<ByteView>(ByteView(key)),
                                  std::optional<ByteView>(workload.value(n)));
      Must(producer_->Send(record, SendCallback()), "Send");
    }
    if (mode_.transactional) Must(producer_->CommitTransaction(), "CommitTransaction");
    Must(producer_->Flush(), "Flush");
    const ProducerMetrics metrics = producer_->metrics();
    if (metrics.record_errors != 0) Fail("evlog: records failed");
  }

  ConsumeResult Consume(const std::string& topic, uint64_t count) {
    ConsumerOptions options;
    options.group_id = topic + "-group";
    options.auto_offset_reset = OffsetResetPolicy::kEarliest;
    // As librdkafka's default; it matters only where transactions are.
    if (mode_.transactional) options.isolation_level = IsolationLevel::kReadCommitted;
    auto consumer = Must(Consumer::Create(*broker_, options), "Consumer::Create");
    ConsumeResult result;
    StampOnAssign listener(result);
    Must(consumer->Subscribe({topic}, &listener), "Subscribe");
    const uint64_t expected = count + kPartitions;  // and the warm-up records
    uint64_t seen = 0;
    const int64_t deadline = SteadyNs() + kConsumeDeadlineNs;
    while (seen < expected) {
      const ConsumerRecords records = Must(consumer->Poll(100), "Poll");
      for (const ConsumerRecord& r : records) {
        ++seen;
        if (result.first_ns == 0) result.first_ns = SteadyNs();
        if (!r.value) continue;
        Touch(result.totals, r.key ? r.key->size() : 0, r.value->data(), r.value->size());
      }
      if (SteadyNs() > deadline) Fail("evlog: the consumer did not get every record");
    }
    result.done_ns = SteadyNs();
    Must(consumer->Close(), "Consumer::Close");
    return result;
  }

 private:
  void CloseProducer() {
    if (producer_ != nullptr) Must(producer_->Close(), "Producer::Close");
    producer_.reset();
  }

  class StampOnAssign final : public ConsumerRebalanceListener {
   public:
    explicit StampOnAssign(ConsumeResult& result) : result_(result) {}
    void OnPartitionsRevoked(const std::vector<TopicPartition>&) override {}
    void OnPartitionsAssigned(const std::vector<TopicPartition>& partitions) override {
      if (result_.assigned_ns == 0 && !partitions.empty()) result_.assigned_ns = SteadyNs();
    }

   private:
    ConsumeResult& result_;
  };

  const Mode mode_;
  TempDir dir_{"evlog"};
  std::unique_ptr<Broker> broker_;
  std::unique_ptr<Producer> producer_;
  int next_topic_ = 0;
};

// --- librdkafka: producer and consumer on a mock cluster ----------------------------

void SetConf(rd_kafka_conf_t* conf, const char* name, const std::string& value) {
  char error[512];
  if (rd_kafka_conf_set(conf, name, value.c_str(), error, sizeof(error)) != RD_KAFKA_CONF_OK) {
    Fail(absl::StrFormat("config %s=%s: %s", name, value, error));
  }
}

rd_kafka_t* NewHandle(rd_kafka_type_t type, rd_kafka_conf_t* conf) {
  char error[512];
  rd_kafka_t* rk = rd_kafka_new(type, conf, error, sizeof(error));
  if (rk == nullptr) Fail(absl::StrFormat("rd_kafka_new: %s", error));
  return rk;
}

void MustOk(rd_kafka_error_t* error, const char* what) {
  if (error == nullptr) return;
  const std::string message = rd_kafka_error_string(error);
  rd_kafka_error_destroy(error);
  Fail(absl::StrFormat("%s: %s", what, message));
}

class RdKafkaClient {
 public:
  static constexpr const char* kName = "rdkafka";
  // Iterations of a full run: each waits ~3 s for the group join.
  static constexpr int kIterations = 3;

  explicit RdKafkaClient(Mode mode) : mode_(mode) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    SetConf(conf, "log_level", "3");
    owner_ = NewHandle(RD_KAFKA_PRODUCER, conf);
    cluster_ = rd_kafka_mock_cluster_new(owner_, kMockBrokers);
    if (cluster_ == nullptr) Fail("rd_kafka_mock_cluster_new failed");
    bootstraps_ = rd_kafka_mock_cluster_bootstraps(cluster_);
  }
  ~RdKafkaClient() {
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    rd_kafka_mock_cluster_destroy(cluster_);
    rd_kafka_destroy(owner_);
  }
  RdKafkaClient(const RdKafkaClient&) = delete;
  RdKafkaClient& operator=(const RdKafkaClient&) = delete;

  std::string NewTopic() {
    const std::string topic = absl::StrFormat("peer-%d", next_topic_++);
    if (rd_kafka_mock_topic_create(cluster_, topic.c_str(), kPartitions, kMockBrokers) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      Fail("rd_kafka_mock_topic_create failed");
    }
    if (producer_ != nullptr) rd_kafka_destroy(producer_);
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    SetConf(conf, "bootstrap.servers", bootstraps_);
    SetConf(conf, "acks", "all");
    SetConf(conf, "enable.idempotence", mode_.idempotence ? "true" : "false");
    if (mode_.transactional) SetConf(conf, "transactional.id", topic + "-txn");
    SetConf(conf, "log_level", "3");
    rd_kafka_conf_set_dr_msg_cb(conf, &RdKafkaClient::OnDelivery);
    rd_kafka_conf_set_opaque(conf, this);
    producer_ = NewHandle(RD_KAFKA_PRODUCER, conf);
    if (mode_.transactional) {
      MustOk(rd_kafka_init_transactions(producer_, kFlushTimeoutMs), "init_transactions");
      MustOk(rd_kafka_begin_transaction(producer_), "begin_transaction");
    }
    for (int32_t p = 0; p < kPartitions; ++p) ProduceOne(topic, p, nullptr, {});
    if (mode_.transactional) {
      MustOk(rd_kafka_commit_transaction(producer_, kFlushTimeoutMs), "commit_transaction");
    }
    Flush();
    return topic;
  }

  void Produce(const std::string& topic, const Workload& workload, uint64_t count) {
    for (uint64_t n = 0; n < count; ++n) {
      if (mode_.transactional && n % kRecordsPerTransaction == 0) {
        if (n != 0) {
          MustOk(rd_kafka_commit_transaction(producer_, kFlushTimeoutMs), "commit_transaction");
        }
        MustOk(rd_kafka_begin_transaction(producer_), "begin_transaction");
      }
      const Key key = Workload::KeyOf(n);
      ProduceOne(topic, RD_KAFKA_PARTITION_UA, &key, workload.value(n));
    }
    if (mode_.transactional) {
      MustOk(rd_kafka_commit_transaction(producer_, kFlushTimeoutMs), "commit_transaction");
    }
    Flush();
  }

  ConsumeResult Consume(const std::string& topic, uint64_t count) {
    ConsumeResult result;
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    SetConf(conf, "bootstrap.servers", bootstraps_);
    SetConf(conf, "group.id", topic + "-group");
    SetConf(conf, "auto.offset.reset", "earliest");
    rd_kafka_conf_set_rebalance_cb(conf, &RdKafkaClient::OnRebalance);
    rd_kafka_conf_set_opaque(conf, &result);
    rd_kafka_t* consumer = NewHandle(RD_KAFKA_CONSUMER, conf);
    rd_kafka_poll_set_consumer(consumer);
    rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, topic.c_str(), RD_KAFKA_PARTITION_UA);
    if (rd_kafka_subscribe(consumer, topics) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("subscribe");
    rd_kafka_topic_partition_list_destroy(topics);
    const uint64_t expected = count + kPartitions;  // and the warm-up records
    uint64_t seen = 0;
    const int64_t deadline = SteadyNs() + kConsumeDeadlineNs;
    while (seen < expected) {
      rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
      if (SteadyNs() > deadline) {
        Fail(absl::StrFormat("rdkafka: the consumer got %d of %d records", seen, expected));
      }
      if (message == nullptr) continue;
      if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++seen;
        if (result.first_ns == 0) result.first_ns = SteadyNs();
        if (message->payload != nullptr) {
          Touch(result.totals, message->key_len, static_cast<const std::byte*>(message->payload),
                message->len);
        }
      } else if (message->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        std::fprintf(stderr, "evlog_peer_rdkafka_bench: consumer: %s\n",
                     rd_kafka_message_errstr(message));
      }
      rd_kafka_message_destroy(message);
    }
    result.done_ns = SteadyNs();
    rd_kafka_consumer_close(consumer);
    rd_kafka_destroy(consumer);
    return result;
  }

 private:
  static void OnDelivery(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* opaque) {
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      static_cast<RdKafkaClient*>(opaque)->delivery_errors_.fetch_add(1);
    }
  }

  static void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                          rd_kafka_topic_partition_list_t* partitions, void* opaque) {
    auto* result = static_cast<ConsumeResult*>(opaque);
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      if (result->assigned_ns == 0 && partitions->cnt > 0) result->assigned_ns = SteadyNs();
      rd_kafka_assign(rk, partitions);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }

  // Queues one record, serving delivery reports while the queue is full.
  void ProduceOne(const std::string& topic, int32_t partition, const Key* key, ByteView value) {
    // The RD_KAFKA_V_* macros do not parenthesise their arguments.
    const void* key_data = key != nullptr ? key->data() : nullptr;
    const size_t key_bytes = key != nullptr ? key->size() : 0;
    void* value_data = const_cast<std::byte*>(value.data());
    const size_t value_bytes = value.size();
    for (;;) {
      const rd_kafka_resp_err_t err = rd_kafka_producev(
          producer_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition),
          RD_KAFKA_V_KEY(key_data, key_bytes), RD_KAFKA_V_VALUE(value_data, value_bytes),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        Fail(absl::StrFormat("producev: %s", rd_kafka_err2str(err)));
      }
      rd_kafka_poll(producer_, 1);
    }
  }

  void Flush() {
    if (rd_kafka_flush(producer_, kFlushTimeoutMs) != RD_KAFKA_RESP_ERR_NO_ERROR) Fail("flush");
    if (delivery_errors_.load() != 0) Fail("rdkafka: records failed");
  }

  const Mode mode_;
  rd_kafka_t* owner_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
  std::string bootstraps_;
  rd_kafka_t* producer_ = nullptr;
  std::atomic<uint64_t> delivery_errors_{0};
  int next_topic_ = 0;
};

// --- The benchmark, the same for both clients ----------------------------------------

// Args: value bytes, idempotence, transactional.
template <typename Client>
void BM_ProduceConsume(benchmark::State& state) {
  const Workload workload(static_cast<size_t>(state.range(0)));
  const Mode mode{state.range(1) != 0, state.range(2) != 0};
  const uint64_t count = RecordsPerIteration(workload.value_bytes());
  Client client(mode);
  double produce_s = 0;
  double consume_s = 0;
  double join_s = 0;
  double first_record_s = 0;
  double after_first_s = 0;
  uint64_t records = 0;
  for (auto _ : state) {
    const std::string topic = client.NewTopic();
    const int64_t start = SteadyNs();
    client.Produce(topic, workload, count);
    const int64_t produced = SteadyNs();
    const ConsumeResult consumed = client.Consume(topic, count);
    if (consumed.totals.records != count ||
        consumed.totals.bytes != count * workload.record_bytes() || consumed.assigned_ns == 0) {
      state.SkipWithError("the consumer read other records than were produced");
      break;
    }
    const double produce = static_cast<double>(produced - start) / 1e9;
    const double consume = static_cast<double>(consumed.done_ns - consumed.assigned_ns) / 1e9;
    state.SetIterationTime(produce + consume);
    produce_s += produce;
    consume_s += consume;
    join_s += static_cast<double>(consumed.assigned_ns - produced) / 1e9;
    first_record_s += static_cast<double>(consumed.first_ns - consumed.assigned_ns) / 1e9;
    after_first_s += static_cast<double>(consumed.done_ns - consumed.first_ns) / 1e9;
    records += count;
  }
  SetRecordCounters(state, records, workload);
  const auto n = static_cast<double>(records);
  state.counters["produce_per_second"] = produce_s > 0 ? n / produce_s : 0;
  state.counters["consume_per_second"] = consume_s > 0 ? n / consume_s : 0;
  state.counters["join_ms"] =
      state.iterations() > 0 ? 1e3 * join_s / static_cast<double>(state.iterations()) : 0;
  // The consume rate once records flow: leaves out the start (offset
  // lookups, the first fetch), which is most of librdkafka's consume time
  // here (about 100 ms from the assignment to its first record).
  state.counters["consume_after_first_per_second"] = after_first_s > 0 ? n / after_first_s : 0;
  state.counters["first_record_ms"] =
      state.iterations() > 0 ? 1e3 * first_record_s / static_cast<double>(state.iterations()) : 0;
  state.counters["record_bytes"] = static_cast<double>(workload.record_bytes());
}

template <typename Client>
void Register(const char* name, int64_t value, int64_t idempotence, int64_t transactional) {
  benchmark::RegisterBenchmark(name, BM_ProduceConsume<Client>)
      ->ArgNames({"value", "idempotence", "transactional"})
      ->Args({value, idempotence, transactional})
      ->Iterations(SmokeRun() ? 1 : Client::kIterations)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
}

// A smoke run (CTest) registers one value size and one mode per client
// plus the transactional row: every librdkafka consumer waits ~3 s for the
// mock cluster's group join, which would make the full set ~30 s.
[[maybe_unused]] const bool registered = [] {
  if (SmokeRun()) {
    Register<EvlogClient>("BM_ProduceConsume<EvlogClient>", 100, 1, 0);
    Register<RdKafkaClient>("BM_ProduceConsume<RdKafkaClient>", 100, 1, 0);
    Register<EvlogClient>("BM_ProduceConsume<EvlogClient>", 100, 1, 1);
    Register<RdKafkaClient>("BM_ProduceConsume<RdKafkaClient>", 100, 1, 1);
    return true;
  }
  for (int64_t value : kValueBytes) {
    for (int64_t idempotence : {0, 1}) {
      Register<EvlogClient>("BM_ProduceConsume<EvlogClient>", value, idempotence, 0);
      Register<RdKafkaClient>("BM_ProduceConsume<RdKafkaClient>", value, idempotence, 0);
    }
    Register<EvlogClient>("BM_ProduceConsume<EvlogClient>", value, 1, 1);
    Register<RdKafkaClient>("BM_ProduceConsume<RdKafkaClient>", value, 1, 1);
  }
  return true;
}();

}  // namespace
}  // namespace evlog::bench::peers
