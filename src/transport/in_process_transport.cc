#include "evlog/transport/in_process_transport.h"

#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/io/spinning_lock.h"
#include "evlog/status.h"

namespace evlog {
namespace {

constexpr int64_t kNsPerMs = 1'000'000;

void CheckFaults(const NetworkFaults& faults) {
  EVLOG_CHECK_GE(faults.min_delay_ms, 0);
  EVLOG_CHECK_LE(faults.min_delay_ms, faults.max_delay_ms);
  EVLOG_CHECK_GE(faults.drop_probability, 0.0);
  EVLOG_CHECK_LE(faults.drop_probability, 1.0);
  EVLOG_CHECK_GE(faults.duplicate_probability, 0.0);
  EVLOG_CHECK_LE(faults.duplicate_probability, 1.0);
}

// The handlers and callbacks this thread is inside, innermost first, so that
// Unlisten called from one of them does not wait for itself.
struct ActiveFrame {
  const void* network;
  BrokerId node;
  const ActiveFrame* outer;
};
thread_local const ActiveFrame* innermost_frame = nullptr;

class FrameScope {
 public:
  FrameScope(const void* network, BrokerId node) : frame_{network, node, innermost_frame} {
    innermost_frame = &frame_;
  }
  ~FrameScope() { innermost_frame = frame_.outer; }
  FrameScope(const FrameScope&) = delete;
  FrameScope& operator=(const FrameScope&) = delete;

 private:
  ActiveFrame frame_;
};

int FramesOnThisThread(const void* network, BrokerId node) {
  int frames = 0;
  for (const ActiveFrame* f = innermost_frame; f != nullptr; f = f->outer) {
    if (f->network == network && f->node == node) ++frames;
  }
  return frames;
}

std::string_view KindName(NetworkEvent::Kind kind) {
  switch (kind) {
    case NetworkEvent::Kind::kSent:
      return "sent";
    case NetworkEvent::Kind::kDuplicated:
      return "duplicated";
    case NetworkEvent::Kind::kDropped:
      return "dropped";
    case NetworkEvent::Kind::kDelivered:
      return "delivered";
    case NetworkEvent::Kind::kLate:
      return "late";
    case NetworkEvent::Kind::kTimedOut:
      return "timed out";
    case NetworkEvent::Kind::kUnreachable:
      return "unreachable";
  }
  return "?";
}

std::string_view CauseName(NetworkEvent::Cause cause) {
  switch (cause) {
    case NetworkEvent::Cause::kNone:
      return "";
    case NetworkEvent::Cause::kFault:
      return " (fault)";
    case NetworkEvent::Cause::kLinkDown:
      return " (link down)";
    case NetworkEvent::Cause::kNotListening:
      return " (not listening)";
    case NetworkEvent::Cause::kUnknownNode:
      return " (unknown node)";
  }
  return " (?)";
}

}  // namespace

std::string NetworkEvent::ToString() const {
  return absl::StrCat("t=", time_ms, is_response ? " resp#" : " req#", request_id, " ",
                      from.value(), "->", to.value(), " api=", api_key, " bytes=", body_bytes, " ",
                      internal::ToAbsl(KindName(kind)), internal::ToAbsl(CauseName(cause)));
}

// The state behind an InProcessTransport. Responders hold it weakly: one
// called after the transport is gone finds nothing, or finds it closed.
//
// Every task handed to `tasks_` captures a raw pointer: the transport
// closes the group before it lets go of the network, so none runs later.
class InProcessTransport::Network : public std::enable_shared_from_this<Network> {
 public:
  Network(Executor& executor, Clock& clock, uint64_t seed, NetworkFaults faults)
      : clock_(clock), tasks_(executor), rng_(seed), faults_(faults) {
    CheckFaults(faults_);
  }

  absl::Status Listen(BrokerId node, RequestHandler handler);
  void Unlisten(BrokerId node);
  void Send(BrokerId from, BrokerId to, Message request, int64_t timeout_ms, ResponseCallback done);
  void Close();

  void SetFaults(NetworkFaults faults) {
    CheckFaults(faults);
    std::unique_lock lock = LockSpinning(mu_);
    faults_ = faults;
  }
  NetworkFaults faults() const {
    std::unique_lock lock = LockSpinning(mu_);
    return faults_;
  }
  void Cut(BrokerId from, BrokerId to) {
    std::unique_lock lock = LockSpinning(mu_);
    CutLocked(from, to);
  }
  void Heal(BrokerId from, BrokerId to) {
    std::unique_lock lock = LockSpinning(mu_);
    auto it = links_.find(std::make_pair(from, to));
    if (it != links_.end()) it->second.down = false;
  }
  void Partition(const std::vector<BrokerId>& a, const std::vector<BrokerId>& b) {
    std::unique_lock lock = LockSpinning(mu_);
    for (BrokerId x : a) {
      for (BrokerId y : b) {
        CutLocked(x, y);
        CutLocked(y, x);
      }
    }
  }
  void Isolate(BrokerId node) {
    std::unique_lock lock = LockSpinning(mu_);
    TakeDown(isolated_[node]);
  }
  void Rejoin(BrokerId node) {
    std::unique_lock lock = LockSpinning(mu_);
    auto it = isolated_.find(node);
    if (it != isolated_.end()) it->second.down = false;
  }
  void HealAll() {
    std::unique_lock lock = LockSpinning(mu_);
    for (auto& [link, fault] : links_) fault.down = false;
    for (auto& [node, fault] : isolated_) fault.down = false;
  }
  NetworkStats stats() const {
    std::unique_lock lock = LockSpinning(mu_);
    return stats_;
  }
  void SetTraceSink(absl::AnyInvocable<void(const NetworkEvent&)> sink) {
    std::unique_lock lock = LockSpinning(mu_);
    std::swap(sink_, sink);
    lock.unlock();
    // The old sink is destroyed here, without the lock.
  }

 private:
  struct Node {
    // Of the current incarnation; 0 while not listening.
    uint64_t incarnation = 0;
    // Shared with the handler calls running, which must not lose it to an
    // Unlisten on another thread.
    std::shared_ptr<RequestHandler> handler;
    // Handlers and callbacks of this node running now, any incarnation.
    int running = 0;
    // Those of `running` that are inside Unlisten(this node) themselves: no
    // Unlisten waits for them, or two handlers unlistening their own node at
    // once would wait for each other.
    int parked = 0;
  };

  // A cut link, or an isolated node. `downs` counts the times it went down,
  // so a message can tell that it was down at some moment of its flight.
  struct Fault {
    bool down = false;
    uint64_t downs = 0;
  };

  // A request waiting for its outcome.
  struct Pending {
    BrokerId from;
    BrokerId to;
    uint16_t api_key = 0;
    int64_t timeout_ms = 0;
    ResponseCallback done;
    // The TaskGroup token of the timeout; 0 when there is none.
    Executor::TaskId timeout_task = 0;
  };

  // One copy of a message on its way.
  struct Envelope {
    uint64_t request_id = 0;
    bool is_response = false;
    BrokerId from;
    BrokerId to;
    // The sender's incarnation when it sent the message.
    uint64_t from_incarnation = 0;
    // The receiver's incarnation the message is addressed to (for a
    // response, the requester's when it sent the request).
    uint64_t to_incarnation = 0;
    // LinkDowns(from, to) when sent.
    uint64_t link_downs = 0;
    Message message;
  };

  // Where a response goes; what a Responder remembers.
  struct Route {
    uint64_t request_id = 0;
    BrokerId requester;
    uint64_t requester_incarnation = 0;
    BrokerId responder;
    uint64_t responder_incarnation = 0;
  };

  static void TakeDown(Fault& fault) {
    if (fault.down) return;
    fault.down = true;
    ++fault.downs;
  }
  void CutLocked(BrokerId from, BrokerId to) {
    if (from == to) return;
    TakeDown(links_[std::make_pair(from, to)]);
  }
  bool LinkDown(BrokerId from, BrokerId to) const;
  uint64_t LinkDowns(BrokerId from, BrokerId to) const;
  uint64_t Incarnation(BrokerId node) const {
    auto it = nodes_.find(node);
    return it == nodes_.end() ? 0 : it->second.incarnation;
  }

  bool Chance(double probability) {
    // 53 random bits make a double in [0, 1) exactly; std's distributions
    // are not the same on every standard library, this is.
    return static_cast<double>(rng_() >> 11) * 0x1.0p-53 < probability;
  }
  int64_t DrawDelayMs() {
    const auto span = static_cast<uint64_t>(faults_.max_delay_ms - faults_.min_delay_ms);
    return faults_.min_delay_ms + static_cast<int64_t>(rng_() % (span + 1));
  }

  void Trace(NetworkEvent::Kind kind, NetworkEvent::Cause cause, const Envelope& envelope);
  void Drop(NetworkEvent::Cause cause, const Envelope& envelope) {
    ++stats_.dropped;
    Trace(NetworkEvent::Kind::kDropped, cause, envelope);
  }

  // Puts `envelope` on the network: the checks at send, then the seeded
  // draws, then a delivery task per surviving copy.
  void Transmit(Envelope envelope);
  void Deliver(Envelope envelope);
  void Respond(const Route& route, Message response);
  void TimeOut(uint64_t request_id);
  void FailUnreachable(uint64_t request_id);
  // Runs the callback of `pending` with `outcome`. Consumes the lock.
  void Finish(std::unique_lock<std::mutex> lock, Pending pending, absl::StatusOr<Message> outcome);
  // Runs `work` as a handler or callback of `node`, whose `running` the
  // caller has raised under the lock (and no longer holds). `work` and what
  // it captured are destroyed before `running` drops, so Unlisten returns
  // only after they are gone.
  template <typename Work>
  void RunOnNode(BrokerId node, Work work);

  Clock& clock_;
  TaskGroup tasks_;

  mutable std::mutex mu_;
  // Signalled whenever a node's `running` drops.
  std::condition_variable idle_cv_;
  bool closed_ = false;
  std::mt19937_64 rng_;
  NetworkFaults faults_;
  NetworkStats stats_;
  absl::AnyInvocable<void(const NetworkEvent&)> sink_;
  // Every node that ever listened (a node is known for good). Ordered, so
  // anything that walks it is the same in every run.
  std::map<BrokerId, Node> nodes_;
  // Ordered by request id: Unlisten destroys a node's callbacks in send order.
  std::map<uint64_t, Pending> pending_;
  absl::flat_hash_map<std::pair<BrokerId, BrokerId>, Fault> links_;
  absl::flat_hash_map<BrokerId, Fault> isolated_;
  uint64_t next_request_id_ = 1;
  uint64_t next_incarnation_ = 1;
};

bool InProcessTransport::Network::LinkDown(BrokerId from, BrokerId to) const {
  if (from == to) return false;
  if (auto it = links_.find(std::make_pair(from, to)); it != links_.end() && it->second.down) {
    return true;
  }
  for (BrokerId end : {from, to}) {
    if (auto it = isolated_.find(end); it != isolated_.end() && it->second.down) return true;
  }
  return false;
}

uint64_t InProcessTransport::Network::LinkDowns(BrokerId from, BrokerId to) const {
  if (from == to) return 0;
  uint64_t downs = 0;
  if (auto it = links_.find(std::make_pair(from, to)); it != links_.end())
    downs += it->second.downs;
  for (BrokerId end : {from, to}) {
    if (auto it = isolated_.find(end); it != isolated_.end()) downs += it->second.downs;
  }
  return downs;
}

void InProcessTransport::Network::Trace(NetworkEvent::Kind kind, NetworkEvent::Cause cause,
                                        const Envelope& envelope) {
  if (!sink_) return;
  NetworkEvent event;
  event.time_ms = clock_.MonotonicNs() / kNsPerMs;
  event.kind = kind;
  event.cause = cause;
  event.request_id = envelope.request_id;
  event.is_response = envelope.is_response;
  event.from = envelope.from;
  event.to = envelope.to;
  event.api_key = envelope.message.api_key;
  event.body_bytes = envelope.message.body.size();
  sink_(event);
}

absl::Status InProcessTransport::Network::Listen(BrokerId node, RequestHandler handler) {
  EVLOG_CHECK(handler);
  std::unique_lock lock = LockSpinning(mu_);
  Node& n = nodes_[node];
  if (n.incarnation != 0) {
    return MakeError(ErrorCode::kDuplicateBrokerRegistration,
                     absl::StrCat("broker ", node.value(), " already listens"));
  }
  n.incarnation = next_incarnation_++;
  n.handler = std::make_shared<RequestHandler>(std::move(handler));
  return absl::OkStatus();
}

void InProcessTransport::Network::Unlisten(BrokerId node) {
  std::vector<Pending> orphans;
  std::shared_ptr<RequestHandler> handler;
  {
    std::unique_lock lock = LockSpinning(mu_);
    auto it = nodes_.find(node);
    if (it == nodes_.end()) return;
    Node& n = it->second;
    if (n.incarnation != 0) {
      n.incarnation = 0;
      handler = std::move(n.handler);
      for (auto p = pending_.begin(); p != pending_.end();) {
        if (p->second.from != node) {
          ++p;
          continue;
        }
        if (p->second.timeout_task != 0) (void)tasks_.Cancel(p->second.timeout_task);
        orphans.push_back(std::move(p->second));
        p = pending_.erase(p);
      }
    }
    // Also when another thread's Unlisten got here first: that one may not
    // have seen the node's tasks finish yet, and this call promises the same.
    const int own = FramesOnThisThread(this, node);
    n.parked += own;
    if (own > 0) idle_cv_.notify_all();
    idle_cv_.wait(lock, [&] { return n.running <= n.parked; });
    n.parked -= own;
  }
  // Destroyed without the lock: their captures may call the transport.
  orphans.clear();
  handler.reset();
}

void InProcessTransport::Network::Send(BrokerId from, BrokerId to, Message request,
                                       int64_t timeout_ms, ResponseCallback done) {
  EVLOG_CHECK_GE(timeout_ms, 0);
  EVLOG_CHECK(done);
  std::unique_lock lock = LockSpinning(mu_);
  // A closed network, like a sender that does not listen, keeps `done`
  // uncalled; it is destroyed on return, after the lock is released.
  if (closed_) return;
  Envelope envelope;
  envelope.request_id = next_request_id_++;
  envelope.from = from;
  envelope.to = to;
  envelope.message = std::move(request);
  envelope.from_incarnation = Incarnation(from);
  ++stats_.sent;
  Trace(NetworkEvent::Kind::kSent, NetworkEvent::Cause::kNone, envelope);
  if (envelope.from_incarnation == 0) {
    Drop(NetworkEvent::Cause::kNotListening, envelope);
    return;
  }
  const uint64_t id = envelope.request_id;
  Pending& pending = pending_[id];
  pending.from = from;
  pending.to = to;
  pending.api_key = envelope.message.api_key;
  pending.timeout_ms = timeout_ms;
  pending.done = std::move(done);
  if (!nodes_.contains(to)) {
    Drop(NetworkEvent::Cause::kUnknownNode, envelope);
    (void)tasks_.Schedule([this, id] { FailUnreachable(id); });
    return;
  }
  // Scheduled before the deliveries: with a zero timeout and zero delay,
  // the timeout wins the tie.
  pending.timeout_task = tasks_.ScheduleAfter(timeout_ms, [this, id] { TimeOut(id); });
  Transmit(std::move(envelope));
}

void InProcessTransport::Network::Transmit(Envelope envelope) {
  if (LinkDown(envelope.from, envelope.to)) {
    Drop(NetworkEvent::Cause::kLinkDown, envelope);
    return;
  }
  if (envelope.is_response) {
    // The requester's incarnation is already in the envelope; a restarted
    // requester has no use for it.
    if (Incarnation(envelope.to) != envelope.to_incarnation) {
      Drop(NetworkEvent::Cause::kNotListening, envelope);
      return;
    }
  } else {
    envelope.to_incarnation = Incarnation(envelope.to);
    if (envelope.to_incarnation == 0) {
      Drop(NetworkEvent::Cause::kNotListening, envelope);
      return;
    }
  }
  envelope.link_downs = LinkDowns(envelope.from, envelope.to);

  // Always the same draws per copy (loss, then delay), whatever the
  // outcome, so that one message's fate does not shift the next one's.
  const bool duplicate = Chance(faults_.duplicate_probability);
  if (duplicate) {
    ++stats_.duplicated;
    Trace(NetworkEvent::Kind::kDuplicated, NetworkEvent::Cause::kNone, envelope);
  }
  const int copies = duplicate ? 2 : 1;
  for (int copy = 0; copy < copies; ++copy) {
    const bool lost = Chance(faults_.drop_probability);
    const int64_t delay_ms = DrawDelayMs();
    if (lost) {
      Drop(NetworkEvent::Cause::kFault, envelope);
      continue;
    }
    Envelope in_flight = copy + 1 < copies ? envelope : std::move(envelope);
    (void)tasks_.ScheduleAfter(
        delay_ms, [this, e = std::move(in_flight)]() mutable { Deliver(std::move(e)); });
  }
}

void InProcessTransport::Network::Deliver(Envelope envelope) {
  std::unique_lock lock = LockSpinning(mu_);
  if (closed_) return;
  if (LinkDown(envelope.from, envelope.to) ||
      LinkDowns(envelope.from, envelope.to) != envelope.link_downs) {
    Drop(NetworkEvent::Cause::kLinkDown, envelope);
    return;
  }

  if (envelope.is_response) {
    auto it = pending_.find(envelope.request_id);
    if (it == pending_.end()) {
      if (Incarnation(envelope.to) != envelope.to_incarnation) {
        // Unlisten took the request with it.
        Drop(NetworkEvent::Cause::kNotListening, envelope);
      } else {
        ++stats_.late;
        Trace(NetworkEvent::Kind::kLate, NetworkEvent::Cause::kNone, envelope);
      }
      return;
    }
    Pending pending = std::move(it->second);
    pending_.erase(it);
    if (pending.timeout_task != 0) (void)tasks_.Cancel(pending.timeout_task);
    ++stats_.delivered;
    Trace(NetworkEvent::Kind::kDelivered, NetworkEvent::Cause::kNone, envelope);
    Finish(std::move(lock), std::move(pending), std::move(envelope.message));
    return;
  }

  auto it = nodes_.find(envelope.to);
  EVLOG_CHECK(it != nodes_.end());
  Node& receiver = it->second;
  if (receiver.incarnation != envelope.to_incarnation) {
    Drop(NetworkEvent::Cause::kNotListening, envelope);
    return;
  }
  ++stats_.delivered;
  Trace(NetworkEvent::Kind::kDelivered, NetworkEvent::Cause::kNone, envelope);
  Route route;
  route.request_id = envelope.request_id;
  route.requester = envelope.from;
  route.requester_incarnation = envelope.from_incarnation;
  route.responder = envelope.to;
  route.responder_incarnation = receiver.incarnation;
  Responder respond([network = weak_from_this(), route](Message response) {
    if (std::shared_ptr<Network> n = network.lock()) n->Respond(route, std::move(response));
  });
  std::shared_ptr<RequestHandler> handler = receiver.handler;
  ++receiver.running;
  lock.unlock();
  RunOnNode(envelope.to,
            [handler = std::move(handler), from = envelope.from,
             request = std::move(envelope.message), respond = std::move(respond)]() mutable {
              (*handler)(from, std::move(request), std::move(respond));
            });
}

void InProcessTransport::Network::Respond(const Route& route, Message response) {
  std::unique_lock lock = LockSpinning(mu_);
  if (closed_) return;
  Envelope envelope;
  envelope.request_id = route.request_id;
  envelope.is_response = true;
  envelope.from = route.responder;
  envelope.to = route.requester;
  envelope.from_incarnation = route.responder_incarnation;
  envelope.to_incarnation = route.requester_incarnation;
  envelope.message = std::move(response);
  ++stats_.sent;
  Trace(NetworkEvent::Kind::kSent, NetworkEvent::Cause::kNone, envelope);
  if (Incarnation(route.responder) != route.responder_incarnation) {
    Drop(NetworkEvent::Cause::kNotListening, envelope);
    return;
  }
  Transmit(std::move(envelope));
}

void InProcessTransport::Network::TimeOut(uint64_t request_id) {
  std::unique_lock lock = LockSpinning(mu_);
  if (closed_) return;
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  ++stats_.timed_out;
  Envelope about;
  about.request_id = request_id;
  about.from = pending.from;
  about.to = pending.to;
  about.message.api_key = pending.api_key;
  Trace(NetworkEvent::Kind::kTimedOut, NetworkEvent::Cause::kNone, about);
  absl::Status timed_out =
      MakeError(ErrorCode::kRequestTimedOut,
                absl::StrCat("no response from broker ", pending.to.value(), " to broker ",
                             pending.from.value(), " within ", pending.timeout_ms, " ms"));
  Finish(std::move(lock), std::move(pending), std::move(timed_out));
}

void InProcessTransport::Network::FailUnreachable(uint64_t request_id) {
  std::unique_lock lock = LockSpinning(mu_);
  if (closed_) return;
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  Pending pending = std::move(it->second);
  pending_.erase(it);
  Envelope about;
  about.request_id = request_id;
  about.from = pending.from;
  about.to = pending.to;
  about.message.api_key = pending.api_key;
  Trace(NetworkEvent::Kind::kUnreachable, NetworkEvent::Cause::kNone, about);
  absl::Status unreachable = MakeError(
      ErrorCode::kBrokerNotAvailable,
      absl::StrCat("broker ", pending.to.value(), " has never listened on this transport"));
  Finish(std::move(lock), std::move(pending), std::move(unreachable));
}

void InProcessTransport::Network::Finish(std::unique_lock<std::mutex> lock, Pending pending,
                                         absl::StatusOr<Message> outcome) {
  // A pending request's sender listens still: Unlisten takes its requests.
  auto it = nodes_.find(pending.from);
  EVLOG_CHECK(it != nodes_.end());
  EVLOG_CHECK_NE(it->second.incarnation, 0u);
  ++it->second.running;
  lock.unlock();
  RunOnNode(pending.from, [done = std::move(pending.done), outcome = std::move(outcome)]() mutable {
    done(std::move(outcome));
  });
}

template <typename Work>
void InProcessTransport::Network::RunOnNode(BrokerId node, Work work) {
  {
    FrameScope frame(this, node);
    // Moved into this scope so that what the work captured is destroyed
    // inside the frame, before the node counts as idle.
    Work owned(std::move(work));
    owned();
  }
  std::unique_lock lock = LockSpinning(mu_);
  auto it = nodes_.find(node);
  EVLOG_CHECK(it != nodes_.end());
  EVLOG_CHECK_GT(it->second.running, 0);
  --it->second.running;
  idle_cv_.notify_all();
}

void InProcessTransport::Network::Close() {
  std::map<uint64_t, Pending> pending;
  std::vector<std::shared_ptr<RequestHandler>> handlers;
  absl::AnyInvocable<void(const NetworkEvent&)> sink;
  {
    std::unique_lock lock = LockSpinning(mu_);
    closed_ = true;
    pending.swap(pending_);
    for (auto& [id, node] : nodes_) {
      node.incarnation = 0;
      if (node.handler) handlers.push_back(std::move(node.handler));
    }
    sink = std::move(sink_);
  }
  // Cancels the deliveries and timeouts still queued and waits for the
  // handlers and callbacks running (they all run inside the group's tasks).
  tasks_.Close();
}

// InProcessTransport ---------------------------------------------------------

InProcessTransport::InProcessTransport(Executor& executor, Clock& clock, uint64_t seed,
                                       NetworkFaults faults)
    : network_(std::make_shared<Network>(executor, clock, seed, faults)) {}

InProcessTransport::~InProcessTransport() { network_->Close(); }

absl::Status InProcessTransport::Listen(BrokerId node, RequestHandler handler) {
  return network_->Listen(node, std::move(handler));
}
void InProcessTransport::Unlisten(BrokerId node) { network_->Unlisten(node); }
void InProcessTransport::Send(BrokerId from, BrokerId to, Message request, int64_t timeout_ms,
                              ResponseCallback done) {
  network_->Send(from, to, std::move(request), timeout_ms, std::move(done));
}
void InProcessTransport::SetFaults(NetworkFaults faults) { network_->SetFaults(faults); }
NetworkFaults InProcessTransport::faults() const { return network_->faults(); }
void InProcessTransport::Cut(BrokerId from, BrokerId to) { network_->Cut(from, to); }
void InProcessTransport::Heal(BrokerId from, BrokerId to) { network_->Heal(from, to); }
void InProcessTransport::Partition(const std::vector<BrokerId>& a, const std::vector<BrokerId>& b) {
  network_->Partition(a, b);
}
void InProcessTransport::Isolate(BrokerId node) { network_->Isolate(node); }
void InProcessTransport::Rejoin(BrokerId node) { network_->Rejoin(node); }
void InProcessTransport::HealAll() { network_->HealAll(); }
NetworkStats InProcessTransport::stats() const { return network_->stats(); }
void InProcessTransport::SetTraceSink(absl::AnyInvocable<void(const NetworkEvent&)> sink) {
  network_->SetTraceSink(std::move(sink));
}

}  // namespace evlog
