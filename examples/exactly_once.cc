// evlog_exactly_once — consume, transform and produce exactly once.
//
// A shop writes orders to `orders`. A billing service reads them as the
// consumer group "billing" and writes one invoice per order to `invoices`.
// Each batch it polls is one transaction: the invoices and the `orders`
// offsets after the batch are committed together
// (Producer::SendOffsetsToTransaction), so an order is never billed twice
// and never skipped, whatever happens between two commits.
//
// To show it, the service misbehaves on purpose: one batch is aborted (its
// invoices are written to the log but never shown to read_committed
// readers, and its orders are read again), and the first instance "crashes"
// in the middle of a transaction: it stops without committing, and a
// second instance with the same transactional id takes over. The new
// instance's InitTransactions aborts what the first left open, and its
// consumer waits for that abort before it resumes from the last committed
// offsets (KIP-447).
//
// At the end an auditor reads `invoices` with read_committed and checks
// that every order has exactly one invoice.
//
//   build/release/examples/evlog_exactly_once [data-dir]
//
// Without data-dir it uses a fresh temporary directory and removes it after.
// Exits non-zero unless every order was billed exactly once.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/group/offset_store.h"
#include "evlog/status.h"
#include "run_in_data_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kOrders[] = "orders";
constexpr char kInvoices[] = "invoices";
constexpr int kPartitions = 3;
constexpr int kOrderCount = 600;
// The transaction the service aborts, and the one its first instance does
// not live to commit.
constexpr int kAbortedTransaction = 2;
constexpr int kCrashedTransaction = 5;
constexpr std::chrono::seconds kTimeout{60};

absl::Status PublishOrders(evlog::Broker& broker) {
  EVLOG_ASSIGN_OR_RETURN(auto shop, evlog::Producer::Create(broker));
  for (int i = 0; i < kOrderCount; ++i) {
    const std::string id = absl::StrFormat("order-%04d", i);
    const std::string amount = absl::StrCat((i * 37) % 500 + 1);
    EVLOG_RETURN_IF_ERROR(shop->Send(evlog::ProducerRecord(kOrders, id, amount), nullptr));
  }
  return shop->Close();
}

// One instance of the billing service: a group member and a transactional
// producer, both named after the instance's transactional id.
struct Billing {
  std::unique_ptr<evlog::Consumer> consumer;
  std::unique_ptr<evlog::Producer> producer;

  static absl::StatusOr<Billing> Start(evlog::Broker& broker) {
    Billing b;
    evlog::ProducerOptions producer_options;
    producer_options.transactional_id = "billing-service";
    producer_options.linger_ms = 0;
    EVLOG_ASSIGN_OR_RETURN(b.producer, evlog::Producer::Create(broker, producer_options));
    // Fences any earlier instance and aborts what it left open.
    EVLOG_RETURN_IF_ERROR(b.producer->InitTransactions());
    evlog::ConsumerOptions consumer_options;
    consumer_options.group_id = "billing";
    consumer_options.isolation_level = evlog::IsolationLevel::kReadCommitted;
    consumer_options.auto_offset_reset = evlog::OffsetResetPolicy::kEarliest;
    // Offsets are committed by the transactions, never on their own.
    consumer_options.enable_auto_commit = false;
    consumer_options.max_poll_records = 50;
    EVLOG_ASSIGN_OR_RETURN(b.consumer, evlog::Consumer::Create(broker, consumer_options));
    EVLOG_RETURN_IF_ERROR(b.consumer->Subscribe({kOrders}));
    return b;
  }
};

struct Outcome {
  int transactions = 0;
  int aborted_invoices = 0;
};

// Bills until every order is committed. `crash_at`: the transaction this
// instance abandons (returns with `crashed` set) instead of committing.
absl::Status RunBilling(Billing& billing, std::map<int, int64_t>& committed, int& transaction,
                        int crash_at, bool& crashed, Outcome& outcome) {
  const auto deadline = Clock::now() + kTimeout;
  auto done = [&] {
    int64_t total = 0;
    for (const auto& [partition, next] : committed) total += next;
    return total == kOrderCount;
  };
  while (!done()) {
    if (Clock::now() > deadline) return absl::DeadlineExceededError("billing did not finish");
    EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords orders, billing.consumer->Poll(100));
    if (orders.empty()) continue;
    ++transaction;
    EVLOG_RETURN_IF_ERROR(billing.producer->BeginTransaction());
    std::map<evlog::TopicPartition, evlog::OffsetAndMetadata> offsets;
    for (const evlog::ConsumerRecord& order : orders) {
      // (Debian's Abseil predates std::string_view as absl::string_view.)
      const std::string invoice = "invoice for " + std::string(*order.key_string()) + ": " +
                                  std::string(*order.value_string()) + " EUR";
      EVLOG_RETURN_IF_ERROR(billing.producer->Send(
          evlog::ProducerRecord(kInvoices, *order.key_string(), invoice), nullptr));
      offsets[{std::string(order.topic), order.partition}].offset = order.offset + 1;
    }
    EVLOG_RETURN_IF_ERROR(
        billing.producer->SendOffsetsToTransaction(offsets, billing.consumer->GroupMetadata()));
    if (transaction == crash_at) {
      // The process dies here: nothing commits, and whatever was written
      // stays in the log, open, until the next instance fences this one.
      EVLOG_RETURN_IF_ERROR(billing.producer->Flush());
      outcome.aborted_invoices += static_cast<int>(orders.size());
      crashed = true;
      return absl::OkStatus();
    }
    if (transaction == kAbortedTransaction) {
      // Say the invoice printer failed: give the batch back.
      EVLOG_RETURN_IF_ERROR(billing.producer->AbortTransaction());
      outcome.aborted_invoices += static_cast<int>(orders.size());
      // The consumer's position moved past the batch; rewind it to the
      // committed offsets so the orders are billed again.
      for (const auto& [tp, offset] : offsets) {
        auto it = committed.find(tp.partition.value());
        EVLOG_RETURN_IF_ERROR(
            billing.consumer->Seek(tp, evlog::Offset(it == committed.end() ? 0 : it->second)));
      }
      continue;
    }
    EVLOG_RETURN_IF_ERROR(billing.producer->CommitTransaction());
    ++outcome.transactions;
    for (const auto& [tp, offset] : offsets)
      committed[tp.partition.value()] = offset.offset.value();
  }
  return absl::OkStatus();
}

// Reads every invoice a read_committed consumer sees, and counts those a
// read_uncommitted one sees.
absl::StatusOr<std::map<std::string, int>> Audit(evlog::Broker& broker, int& in_log) {
  std::map<std::string, int> invoices;
  for (evlog::IsolationLevel level :
       {evlog::IsolationLevel::kReadCommitted, evlog::IsolationLevel::kReadUncommitted}) {
    evlog::ConsumerOptions options;
    options.isolation_level = level;
    options.auto_offset_reset = evlog::OffsetResetPolicy::kEarliest;
    EVLOG_ASSIGN_OR_RETURN(auto auditor, evlog::Consumer::Create(broker, options));
    std::vector<evlog::TopicPartition> partitions;
    for (int p = 0; p < kPartitions; ++p) partitions.emplace_back(kInvoices, p);
    EVLOG_RETURN_IF_ERROR(auditor->Assign(partitions));
    int seen = 0;
    int empty_polls = 0;
    while (empty_polls < 5) {
      EVLOG_ASSIGN_OR_RETURN(evlog::ConsumerRecords records, auditor->Poll(50));
      empty_polls = records.empty() ? empty_polls + 1 : 0;
      for (const evlog::ConsumerRecord& r : records) {
        ++seen;
        if (level == evlog::IsolationLevel::kReadCommitted) {
          ++invoices[std::string(*r.key_string())];
        }
      }
    }
    if (level == evlog::IsolationLevel::kReadUncommitted) in_log = seen;
  }
  return invoices;
}

absl::Status Run(const std::string& data_dir) {
  evlog::BrokerOptions broker_options;
  broker_options.data_dir = data_dir;
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Broker> broker,
                         evlog::Broker::Open(broker_options));
  evlog::NewTopic topic(kPartitions);
  EVLOG_RETURN_IF_ERROR(broker->CreateTopic(kOrders, topic));
  EVLOG_RETURN_IF_ERROR(broker->CreateTopic(kInvoices, topic));
  EVLOG_RETURN_IF_ERROR(PublishOrders(*broker));
  std::printf("shop: %d orders in %s\n", kOrderCount, kOrders);

  std::map<int, int64_t> committed;  // orders partition -> next offset
  int transaction = 0;
  Outcome outcome;
  bool crashed = false;
  {
    EVLOG_ASSIGN_OR_RETURN(Billing first, Billing::Start(*broker));
    EVLOG_RETURN_IF_ERROR(
        RunBilling(first, committed, transaction, kCrashedTransaction, crashed, outcome));
    // The instance is gone without a word: no commit, no abort. (Its
    // objects still close, which is no more than the broker seeing the
    // process's connections drop.)
  }
  std::printf("billing: instance 1 aborted transaction %d and crashed in transaction %d\n",
              kAbortedTransaction, kCrashedTransaction);
  {
    EVLOG_ASSIGN_OR_RETURN(Billing second, Billing::Start(*broker));
    bool unused = false;
    EVLOG_RETURN_IF_ERROR(RunBilling(second, committed, transaction, -1, unused, outcome));
    EVLOG_RETURN_IF_ERROR(second.producer->Close());
    EVLOG_RETURN_IF_ERROR(second.consumer->Close());
  }
  std::printf("billing: instance 2 took over; %d transactions committed\n", outcome.transactions);

  int in_log = 0;
  EVLOG_ASSIGN_OR_RETURN(auto invoices, Audit(*broker, in_log));
  int once = 0;
  for (int i = 0; i < kOrderCount; ++i) {
    auto it = invoices.find(absl::StrFormat("order-%04d", i));
    const int count = it == invoices.end() ? 0 : it->second;
    if (count != 1) {
      return absl::DataLossError(absl::StrFormat("order-%04d has %d invoices", i, count));
    }
    ++once;
  }
  if (invoices.size() != static_cast<size_t>(kOrderCount)) {
    return absl::DataLossError("invoices for orders that do not exist");
  }
  std::printf(
      "auditor: %d orders, each with exactly one invoice; the log also holds %d invoices of "
      "aborted transactions that read_committed readers never see\n",
      once, in_log - once);
  return broker->Close();
}

}  // namespace

int main(int argc, char** argv) {
  return evlog::examples::RunInDataDir(argc, argv, "exactly-once", Run);
}
