// evlog/transport/in_process_transport.h — a seeded, fault-injecting network
// inside one process.
//
// Every message (each request, each response) is copied and delivered by an
// executor task after a delay, and may be lost or duplicated on the way;
// links can be cut one way, groups partitioned, nodes isolated. All
// randomness comes from one generator seeded at construction and drawn in
// the order messages are sent, so a whole cluster on one ManualExecutor
// replays the same history, bit for bit, from the same seed:
//
//   evlog::ManualClock clock;
//   evlog::ManualExecutor executor(clock);
//   evlog::InProcessTransport network(executor, clock, /*seed=*/42,
//                                     {.min_delay_ms = 1, .max_delay_ms = 20,
//                                      .drop_probability = 0.01});
//   (void)network.Listen(BrokerId(1), handler1);
//   (void)network.Listen(BrokerId(2), handler2);
//   network.Send(BrokerId(1), BrokerId(2), request, /*timeout_ms=*/100, done);
//   network.Partition({BrokerId(1)}, {BrokerId(2)});
//   executor.AdvanceMs(100);   // nothing happens until time moves
//
// On a ThreadPoolExecutor the same network runs in real time (delays are real
// milliseconds), without the replay guarantee.
//
// What a message goes through, in order:
//   at send      sender not listening, link down (a cut, a partition, an
//                isolated end) or receiver not listening: lost. Otherwise
//                the seeded draws: maybe a duplicate, then per copy maybe
//                lost, and a delay uniform in [min_delay_ms, max_delay_ms].
//                Different delays reorder messages; equal delays keep the
//                send order.
//   in flight    a link that goes down while the message is on it loses it,
//                even when healed before the delivery time (a message sent
//                into or across a cut never arrives).
//   at delivery  a request reaches the receiver's handler only while the
//                incarnation it was sent to still listens (a restarted node
//                does not get its predecessor's mail); a response completes
//                the request only when it is still waiting — after a
//                timeout or an earlier copy it is ignored ("late").
//
// Faults apply to every message, a node's messages to itself included;
// cuts and isolation never separate a node from itself.
//
// Thread-safety: every method is thread-safe. The trace sink runs under the
// transport's lock; handlers and callbacks run without it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/transport/transport.h"
#include "evlog/types.h"

namespace evlog {

// What the network does to every message. The defaults are a perfect
// network: no delay, no loss, no duplicates.
struct NetworkFaults {
  // Each copy's delay is uniform in [min_delay_ms, max_delay_ms].
  // REQUIRES: 0 <= min_delay_ms <= max_delay_ms.
  int64_t min_delay_ms = 0;
  int64_t max_delay_ms = 0;
  // Chance that a copy is lost. REQUIRES: in [0, 1].
  double drop_probability = 0;
  // Chance that a message is delivered twice, the second copy with its own
  // delay and its own chance of loss. REQUIRES: in [0, 1].
  double duplicate_probability = 0;
};

// Counters since construction. Every copy of a message ends as exactly one
// of delivered, dropped or late, so once the network is quiet
// sent + duplicated == delivered + dropped + late.
struct NetworkStats {
  // Requests and responses handed to the network (a duplicate not counted).
  uint64_t sent = 0;
  // Extra copies made by duplicate_probability.
  uint64_t duplicated = 0;
  // Copies that reached a handler, or a callback that was waiting.
  uint64_t delivered = 0;
  // Copies lost: drop_probability, a link down, an end not listening, an
  // unknown receiver.
  uint64_t dropped = 0;
  // Response copies that arrived after their request had completed.
  uint64_t late = 0;
  // Requests completed with REQUEST_TIMED_OUT.
  uint64_t timed_out = 0;
};

// One step of the network's history, for tests that compare runs.
struct NetworkEvent {
  enum class Kind {
    kSent,         // handed to the network
    kDuplicated,   // a second copy was made
    kDropped,      // a copy was lost (see cause)
    kDelivered,    // a copy reached a handler or a waiting callback
    kLate,         // a response copy arrived after its request completed
    kTimedOut,     // the request completed with REQUEST_TIMED_OUT
    kUnreachable,  // the request completed with BROKER_NOT_AVAILABLE
  };
  enum class Cause {
    kNone,
    kFault,         // drop_probability
    kLinkDown,      // a cut, a partition or an isolated end, at send or in flight
    kNotListening,  // the sender or receiver (that incarnation) is not listening
    kUnknownNode,   // the receiver never listened on this transport
  };

  // Monotonic clock reading, in ms.
  int64_t time_ms = 0;
  Kind kind = Kind::kSent;
  Cause cause = Cause::kNone;
  // Numbers requests from 1 in send order; a response carries its request's.
  uint64_t request_id = 0;
  bool is_response = false;
  // The direction of this message: a response goes from the request's
  // receiver to its sender.
  BrokerId from;
  BrokerId to;
  uint16_t api_key = 0;
  size_t body_bytes = 0;

  // E.g. "t=12 req#3 1->2 api=1 bytes=40 delivered",
  // "t=30 resp#3 2->1 api=1 bytes=8 dropped (link down)".
  std::string ToString() const;
};

class InProcessTransport final : public Transport {
 public:
  // `executor` runs every delivery, timeout, handler and callback; `clock`
  // stamps trace events (pass the executor's clock). Both must outlive the
  // transport. REQUIRES: `faults` is valid (see NetworkFaults).
  InProcessTransport(Executor& executor, Clock& clock, uint64_t seed, NetworkFaults faults = {});
  // Drops everything in flight; callbacks still owed are destroyed uncalled,
  // handlers too; Responders that outlive the transport send nothing. Waits
  // for handlers and callbacks running on other threads.
  // REQUIRES: not called from one of this transport's handlers or callbacks.
  ~InProcessTransport() override;
  InProcessTransport(const InProcessTransport&) = delete;
  InProcessTransport& operator=(const InProcessTransport&) = delete;

  // See Transport. A node becomes known to this transport at its first
  // Listen and stays known (a node that stopped listening looks crashed:
  // requests to it time out). Send to a node never known completes with
  // BROKER_NOT_AVAILABLE on the executor, without waiting for the timeout.
  [[nodiscard]] absl::Status Listen(BrokerId node, RequestHandler handler) override;
  void Unlisten(BrokerId node) override;
  void Send(BrokerId from, BrokerId to, Message request, int64_t timeout_ms,
            ResponseCallback done) override;

  // Replaces the faults for messages sent from now on (messages in flight
  // keep their delays). REQUIRES: `faults` is valid.
  void SetFaults(NetworkFaults faults);
  NetworkFaults faults() const;

  // Loses every message from `from` to `to`, including those in flight; the
  // other direction is unaffected. Lasts until Heal(from, to) or HealAll.
  void Cut(BrokerId from, BrokerId to);
  // Heals what Cut (or Partition) did to messages from `from` to `to`; does
  // not undo Isolate. Messages lost meanwhile stay lost.
  void Heal(BrokerId from, BrokerId to);
  // Cuts both ways between every node of `a` and every node of `b`.
  void Partition(const std::vector<BrokerId>& a, const std::vector<BrokerId>& b);
  // Loses every message to or from `node` (but not its messages to itself),
  // including nodes that first listen later. Lasts until Rejoin or HealAll.
  void Isolate(BrokerId node);
  // Undoes Isolate(node); cuts made by Cut or Partition stay.
  void Rejoin(BrokerId node);
  // Undoes every Cut, Partition and Isolate.
  void HealAll();

  NetworkStats stats() const;

  // Calls `sink` with every event from now on, in the order they happen (an
  // empty sink stops tracing). The sink runs under the transport's lock: it
  // must be quick and must not call the transport.
  void SetTraceSink(absl::AnyInvocable<void(const NetworkEvent&)> sink);

 private:
  class Network;
  // Shared with Responders, which may outlive the transport.
  std::shared_ptr<Network> network_;
};

static_assert(TransportLike<InProcessTransport>);

}  // namespace evlog
