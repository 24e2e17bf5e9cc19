// evlog/transport/transport.h — request/response messages between brokers.
//
// Replication (follower fetch), the controller (registration, heartbeats,
// AlterPartition) and everything else that crosses from one broker to
// another goes through a Transport. A node listens under its BrokerId and
// answers requests; any listening node sends requests to any other and gets
// exactly one outcome back: the response, or an error.
//
//   transport.Listen(BrokerId(2), [](BrokerId from, Message request, Responder respond) {
//     Message response{.api_key = request.api_key, .api_version = 0, .body = Handle(request)};
//     std::move(respond)(std::move(response));   // now, or later from any thread
//   });
//   transport.Send(BrokerId(1), BrokerId(2), std::move(fetch), /*timeout_ms=*/500,
//                  [](absl::StatusOr<Message> response) {
//                    if (evlog::HasErrorCode(response.status(), ErrorCode::kRequestTimedOut)) ...
//                  });
//
// The transport moves bytes; it knows nothing of what they encode (the
// layers above own their codecs). It never shares memory between sender and
// receiver, so an in-process run exercises the same encoding and decoding a
// TCP run does.
//
// Implementations: InProcessTransport (in_process_transport.h), a seeded,
// fault-injecting network for tests and the deterministic simulator. A user
// may bring their own by deriving from Transport.
//
// Thread-safety: every Transport method is thread-safe. Handlers and
// callbacks run on the transport's executor with no transport lock held, so
// they may call Send, Listen and Unlisten (subject to Unlisten's own rules).
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "evlog/types.h"

namespace evlog {

// One request or response. `body` is the encoded message; the transport
// copies it and never looks inside.
struct Message {
  // What the body encodes (Kafka's ApiKey numbering where one applies).
  uint16_t api_key = 0;
  uint16_t api_version = 0;
  std::vector<std::byte> body;
};

// The way back to the sender of one request: a handler answers by calling
// it with the response. Move-only, one shot.
//
// It may be called at most once, from any thread, at once or much later (a
// long-poll fetch answers when data arrives, an acks=all produce when the
// followers caught up). Destroying it uncalled sends nothing: the sender
// times out. Calling it after the responding node stopped listening, or
// after the transport is gone, is safe and sends nothing.
class Responder {
 public:
  // How a transport delivers the response; called at most once.
  using SendFn = absl::AnyInvocable<void(Message response) &&>;

  // An empty responder (operator bool is false); calling it is a bug.
  Responder() = default;
  // REQUIRES: `send` is not empty.
  explicit Responder(SendFn send);

  Responder(Responder&& other) noexcept : send_(std::exchange(other.send_, nullptr)) {}
  Responder& operator=(Responder&& other) noexcept {
    send_ = std::exchange(other.send_, nullptr);
    return *this;
  }
  Responder(const Responder&) = delete;
  Responder& operator=(const Responder&) = delete;

  // Sends `response` to the requester. Afterwards the responder is empty.
  // REQUIRES: not empty (not called before, not moved from).
  void operator()(Message response) &&;

  // True until it is called or moved from.
  explicit operator bool() const { return static_cast<bool>(send_); }

 private:
  SendFn send_;
};

// Serves requests addressed to one node: `from` is the sender. It may be
// called concurrently from several executor threads (for different
// requests), like any server.
using RequestHandler = absl::AnyInvocable<void(BrokerId from, Message request, Responder respond)>;

// The outcome of one Send: the response, or why there is none.
using ResponseCallback = absl::AnyInvocable<void(absl::StatusOr<Message> response)>;

class Transport {
 public:
  virtual ~Transport() = default;

  // From now on, requests addressed to `node` are handed to `handler`. The
  // transport owns the handler until the node stops listening.
  // Errors: AlreadyExists with ErrorCode::kDuplicateBrokerRegistration when
  // `node` listens already. REQUIRES: `handler` is not empty.
  [[nodiscard]] virtual absl::Status Listen(BrokerId node, RequestHandler handler) = 0;

  // The node goes away (crash or shutdown). When this returns, none of the
  // node's handlers and none of the callbacks of its outgoing requests is
  // running or will ever run; those callbacks have been destroyed uncalled.
  // Responses sent later through the node's Responders are dropped, and
  // requests to the node time out. A later Listen(node) starts a new
  // incarnation: answers owed by the old one never arrive.
  //
  // Waits for the node's handlers and callbacks running on other threads.
  // It may be called from inside the node's own handlers and callbacks
  // (those calling it are left to finish; no other is running when it
  // returns), and from another node's; but two nodes' handlers that
  // unlisten each other's node at the same time wait for each other
  // forever. Does nothing more when `node` does not listen.
  virtual void Unlisten(BrokerId node) = 0;

  // Sends `request` from `from` to `to`. `done` runs exactly once, on the
  // executor and never inside Send, with:
  //   * the response; or
  //   * DeadlineExceeded with ErrorCode::kRequestTimedOut when no response
  //     arrived within `timeout_ms` (lost, unanswered, or `to` is down);
  //   * Unavailable with ErrorCode::kBrokerNotAvailable when the transport
  //     has no way to reach `to` at all (a node it has never known), without
  //     waiting for the timeout.
  // Exception: when `from` is not listening at the call, or stops listening
  // before the outcome, `done` is destroyed uncalled (see Unlisten).
  // REQUIRES: timeout_ms >= 0; `done` is not empty.
  virtual void Send(BrokerId from, BrokerId to, Message request, int64_t timeout_ms,
                    ResponseCallback done) = 0;
};

// Satisfied by transports that components take as a template parameter
// (ReplicaSet<Log, TransportT>).
template <typename T>
concept TransportLike = std::derived_from<T, Transport>;

}  // namespace evlog
