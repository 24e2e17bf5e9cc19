// evlog_mail_service — services that talk through topics instead of calling
// each other.
//
// A member service publishes "member-signed-up" events to `members` and an
// order service publishes "order-completed" events to `orders-completed`,
// each from its own thread through one shared Producer. A mail service, on
// the main thread, reads both topics as a consumer group and prints the mail
// it would send, committing as it goes. Neither publisher knows the mail
// service exists.
//
//   build/release/examples/evlog_mail_service [data-dir]
//
// Without data-dir it uses a fresh temporary directory and removes it after.
// Exits non-zero unless the mail service saw every event exactly once.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/status.h"
#include "run_in_data_dir.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kMembersTopic[] = "members";
constexpr char kOrdersTopic[] = "orders-completed";
// The mail service gives up when it has waited this long for the events it
// expects: they are all published within milliseconds.
constexpr std::chrono::seconds kReceiveTimeout{30};

struct Member {
  const char* id;
  const char* name;
  const char* email;
};
constexpr Member kMembers[] = {
    {"m-1", "Ada", "ada@example.com"},       {"m-2", "Grace", "grace@example.com"},
    {"m-3", "Edsger", "edsger@example.com"}, {"m-4", "Barbara", "barbara@example.com"},
    {"m-5", "Leslie", "leslie@example.com"},
};

struct Order {
  const char* id;
  int member;  // index into kMembers
  int total_cents;
};
constexpr Order kOrders[] = {
    {"o-1001", 0, 4250}, {"o-1002", 1, 1999}, {"o-1003", 0, 12000}, {"o-1004", 3, 850},
    {"o-1005", 2, 3100}, {"o-1006", 4, 7725}, {"o-1007", 1, 560},   {"o-1008", 3, 23999},
};

// The string value of `"field":"..."` in a flat JSON object, or nullopt. The
// events here are written by this program, so no escaping is handled.
std::optional<std::string_view> Field(std::string_view json, std::string_view field) {
  const std::string needle = absl::StrFormat("\"%s\":\"", field);
  const size_t start = json.find(needle);
  if (start == std::string_view::npos) return std::nullopt;
  const size_t begin = start + needle.size();
  const size_t end = json.find('"', begin);
  if (end == std::string_view::npos) return std::nullopt;
  return json.substr(begin, end - begin);
}

absl::Status CreateTopicIfMissing(evlog::Broker& broker, std::string_view name,
                                  int32_t partitions) {
  absl::Status created = broker.CreateTopic(name, evlog::NewTopic(partitions));
  if (evlog::HasErrorCode(created, evlog::ErrorCode::kTopicAlreadyExists)) return absl::OkStatus();
  return created;
}

// Counts a publisher's outcomes; callbacks arrive on the threads that append.
class Outcomes {
 public:
  evlog::SendCallback Callback() {
    return [this](const absl::StatusOr<evlog::RecordMetadata>& sent) {
      std::lock_guard<std::mutex> lock(mu_);
      if (sent.ok()) {
        ++acknowledged_;
      } else if (error_.ok()) {
        error_ = sent.status();
      }
    };
  }
  void Fail(absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    if (error_.ok()) error_ = std::move(status);
  }
  absl::Status Check(int expected) const {
    std::lock_guard<std::mutex> lock(mu_);
    if (!error_.ok()) return error_;
    if (acknowledged_ != expected) {
      return absl::InternalError(
          absl::StrFormat("%d of %d events acknowledged", acknowledged_, expected));
    }
    return absl::OkStatus();
  }

 private:
  mutable std::mutex mu_;
  int acknowledged_ = 0;
  absl::Status error_;
};

void MemberService(evlog::Producer& producer, Outcomes& outcomes) {
  for (const Member& m : kMembers) {
    const std::string event =
        absl::StrFormat(R"({"type":"member-signed-up","member_id":"%s","name":"%s","email":"%s"})",
                        m.id, m.name, m.email);
    absl::Status sent =
        producer.Send(evlog::ProducerRecord(kMembersTopic, m.id, event), outcomes.Callback());
    if (!sent.ok()) return outcomes.Fail(sent);
  }
  if (absl::Status s = producer.Flush(); !s.ok()) outcomes.Fail(s);
}

void OrderService(evlog::Producer& producer, Outcomes& outcomes) {
  for (const Order& o : kOrders) {
    const Member& m = kMembers[o.member];
    const std::string event = absl::StrFormat(
        R"({"type":"order-completed","order_id":"%s","member_id":"%s","email":"%s",)"
        R"("total":"%d.%02d"})",
        o.id, m.id, m.email, o.total_cents / 100, o.total_cents % 100);
    // Keyed by member: one member's orders stay in order on one partition.
    absl::Status sent =
        producer.Send(evlog::ProducerRecord(kOrdersTopic, m.id, event), outcomes.Callback());
    if (!sent.ok()) return outcomes.Fail(sent);
  }
  if (absl::Status s = producer.Flush(); !s.ok()) outcomes.Fail(s);
}

absl::Status Run(const std::string& data_dir) {
  evlog::BrokerOptions broker_options;
  broker_options.data_dir = data_dir;
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Broker> broker,
                         evlog::Broker::Open(broker_options));
  EVLOG_RETURN_IF_ERROR(CreateTopicIfMissing(*broker, kMembersTopic, 2));
  EVLOG_RETURN_IF_ERROR(CreateTopicIfMissing(*broker, kOrdersTopic, 3));

  // The mail service is a consumer group ("mail-service"): the group's
  // committed offsets say which events it has handled, so a data directory
  // from an earlier run does not send that run's mail again, and more mail
  // service instances with the same group id would share the partitions.
  // A new group starts at the beginning of each partition.
  evlog::ConsumerOptions mail_options;
  mail_options.group_id = "mail-service";
  mail_options.auto_offset_reset = evlog::OffsetResetPolicy::kEarliest;
  mail_options.enable_auto_commit = false;  // committed after each batch, below
  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Consumer> mail,
                         evlog::Consumer::Create(*broker, mail_options));
  EVLOG_RETURN_IF_ERROR(mail->Subscribe({kMembersTopic, kOrdersTopic}));

  EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<evlog::Producer> producer,
                         evlog::Producer::Create(*broker));
  Outcomes member_outcomes;
  Outcomes order_outcomes;
  std::thread member_service([&] { MemberService(*producer, member_outcomes); });
  std::thread order_service([&] { OrderService(*producer, order_outcomes); });

  std::set<std::string> expected_members;
  std::set<std::string> expected_orders;
  for (const Member& m : kMembers) expected_members.insert(m.id);
  for (const Order& o : kOrders) expected_orders.insert(o.id);
  std::set<std::string> welcomed;
  std::set<std::string> confirmed;
  absl::Status mail_status;
  const auto deadline = Clock::now() + kReceiveTimeout;
  while (mail_status.ok() &&
         (welcomed.size() < expected_members.size() || confirmed.size() < expected_orders.size())) {
    if (Clock::now() > deadline) {
      mail_status = absl::DeadlineExceededError("the mail service stopped receiving events");
      break;
    }
    absl::StatusOr<evlog::ConsumerRecords> records = mail->Poll(/*timeout_ms=*/100);
    if (!records.ok()) {
      mail_status = records.status();
      break;
    }
    for (const evlog::ConsumerRecord& r : *records) {
      const std::string_view event = r.value_string().value_or("");
      if (r.topic == kMembersTopic) {
        const std::optional<std::string_view> id = Field(event, "member_id");
        const std::optional<std::string_view> name = Field(event, "name");
        const std::optional<std::string_view> email = Field(event, "email");
        if (!id || !name || !email || !welcomed.emplace(*id).second) {
          mail_status = absl::InternalError(absl::StrFormat("unexpected event %s", event));
          break;
        }
        std::printf("to %-22s Welcome, %s!\n", std::string(*email).c_str(),
                    std::string(*name).c_str());
      } else {
        const std::optional<std::string_view> id = Field(event, "order_id");
        const std::optional<std::string_view> email = Field(event, "email");
        const std::optional<std::string_view> total = Field(event, "total");
        if (!id || !email || !total || !confirmed.emplace(*id).second) {
          mail_status = absl::InternalError(absl::StrFormat("unexpected event %s", event));
          break;
        }
        std::printf("to %-22s Your order %s is complete (total EUR %s)\n",
                    std::string(*email).c_str(), std::string(*id).c_str(),
                    std::string(*total).c_str());
      }
    }
    // Mail sent: remember so (at least once: a crash before this line sends
    // the batch's mail again).
    if (mail_status.ok() && !records->empty()) mail_status = mail->CommitSync();
  }
  member_service.join();
  order_service.join();

  EVLOG_RETURN_IF_ERROR(evlog::Annotate(
      member_outcomes.Check(static_cast<int>(std::size(kMembers))), "member service"));
  EVLOG_RETURN_IF_ERROR(
      evlog::Annotate(order_outcomes.Check(static_cast<int>(std::size(kOrders))), "order service"));
  EVLOG_RETURN_IF_ERROR(evlog::Annotate(mail_status, "mail service"));
  if (welcomed != expected_members || confirmed != expected_orders) {
    return absl::InternalError("the mail service received events nobody published");
  }
  std::printf("\nmail service: %zu welcome mails and %zu order mails, one per event published\n",
              welcomed.size(), confirmed.size());

  EVLOG_RETURN_IF_ERROR(producer->Close());
  EVLOG_RETURN_IF_ERROR(mail->Close());
  return broker->Close();
}

}  // namespace

int main(int argc, char** argv) {
  return evlog::examples::RunInDataDir(argc, argv, "mail-service", Run);
}
