#include "evlog/transport/transport.h"

#include "evlog/check.h"

namespace evlog {

Responder::Responder(SendFn send) : send_(std::move(send)) { EVLOG_CHECK(send_); }

void Responder::operator()(Message response) && {
  EVLOG_CHECK(send_);
  // Spent before the send runs, so code it reaches sees operator bool false.
  SendFn send = std::exchange(send_, nullptr);
  std::move(send)(std::move(response));
}

}  // namespace evlog
