// tests/support/forwarding_backend.h — a ClientBackend that forwards every
// call to another one, for tests that put something between a client and
// its brokers (a lossy link, appends held until the test lets them go).
// Subclass ForwardingPartition and override Append or Read; the backend
// wraps every partition a client asks for with `wrap`.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "evlog/client/client_backend.h"
#include "evlog/status.h"

namespace evlog::testing {

class ForwardingPartition : public ClientPartition {
 public:
  explicit ForwardingPartition(std::shared_ptr<ClientPartition> base)
      : ClientPartition(base->topic_partition()), base_(std::move(base)) {}

  void Append(MutableByteView batch, Acks acks, int64_t timeout_ms, AppendCallback done) override {
    base_->Append(batch, acks, timeout_ms, std::move(done));
  }
  absl::StatusOr<LogReadResult> Read(Offset offset, std::vector<std::byte>& buffer,
                                     const LogReadOptions& options) override {
    return base_->Read(offset, buffer, options);
  }
  absl::StatusOr<PartitionOffsets> Offsets() override { return base_->Offsets(); }
  absl::StatusOr<std::optional<TimestampAndOffset>> OffsetForTimestamp(int64_t ts) override {
    return base_->OffsetForTimestamp(ts);
  }
  absl::StatusOr<std::vector<AbortedTransaction>> AbortedTransactions(Offset from,
                                                                      Offset to) override {
    return base_->AbortedTransactions(from, to);
  }
  void AddWaiter(DataWaiter* waiter) override { base_->AddWaiter(waiter); }
  void RemoveWaiter(DataWaiter* waiter) override { base_->RemoveWaiter(waiter); }
  bool deleted() const override { return base_->deleted(); }

 protected:
  ClientPartition& base() { return *base_; }
  const std::shared_ptr<ClientPartition>& base_ptr() const { return base_; }

 private:
  std::shared_ptr<ClientPartition> base_;
};

using PartitionWrapper =
    std::function<std::shared_ptr<ClientPartition>(std::shared_ptr<ClientPartition>)>;

class ForwardingTopic final : public ClientTopic {
 public:
  ForwardingTopic(std::shared_ptr<ClientTopic> base, PartitionWrapper wrap)
      : ClientTopic(base->name(), base->settings()),
        base_(std::move(base)),
        wrap_(std::move(wrap)) {}
  int32_t partition_count() const override { return base_->partition_count(); }
  bool deleted() const override { return base_->deleted(); }
  absl::StatusOr<std::shared_ptr<ClientPartition>> partition(PartitionId id) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientPartition> p, base_->partition(id));
    return wrap_(std::move(p));
  }

 private:
  std::shared_ptr<ClientTopic> base_;
  PartitionWrapper wrap_;
};

class ForwardingBackend final : public ClientBackend {
 public:
  ForwardingBackend(std::unique_ptr<ClientBackend> base, PartitionWrapper wrap)
      : base_(std::move(base)), wrap_(std::move(wrap)) {}
  Clock& clock() const override { return base_->clock(); }
  Executor& executor() const override { return base_->executor(); }
  LogSink& log_sink() const override { return base_->log_sink(); }
  std::vector<std::string> ListTopics() const override { return base_->ListTopics(); }
  absl::StatusOr<std::shared_ptr<ClientTopic>> GetTopic(std::string_view name,
                                                        bool auto_create) override {
    EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<ClientTopic> t, base_->GetTopic(name, auto_create));
    return std::make_shared<ForwardingTopic>(std::move(t), wrap_);
  }
  absl::StatusOr<ProducerId> InitProducerId() override { return base_->InitProducerId(); }
  absl::StatusOr<TransactionCoordinator*> transaction_coordinator() override {
    return base_->transaction_coordinator();
  }
  absl::StatusOr<std::shared_ptr<GroupCoordinator>> group_coordinator() override {
    return base_->group_coordinator();
  }
  bool coordinators_answer_inline() const override { return base_->coordinators_answer_inline(); }

 private:
  std::unique_ptr<ClientBackend> base_;
  PartitionWrapper wrap_;
};

}  // namespace evlog::testing
