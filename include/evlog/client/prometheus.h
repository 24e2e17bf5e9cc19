// evlog/client/prometheus.h — renders metrics snapshots in the Prometheus
// text exposition format (version 0.0.4), for an application to serve on
// its /metrics endpoint with whatever HTTP server it already has.
//
//   evlog::MetricsSnapshot snapshot;
//   snapshot.broker = broker->metrics();
//   snapshot.producers.push_back(producer->metrics());
//   snapshot.consumers.push_back(consumer->metrics());
//   std::string body = evlog::RenderPrometheus(snapshot);
//
// Counters are exported as `_total` and are monotonic for the life of the
// object they count, so rates (records appended per second, bytes read per
// second) are Prometheus's rate() over them; gauges (offsets, sizes, lag,
// buffer use) are exported as they are.
//
// Thread-safety: a pure function of its argument.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"

namespace evlog {

struct MetricsSnapshot {
  std::optional<BrokerMetrics> broker;
  std::vector<ProducerMetrics> producers;
  std::vector<ConsumerMetrics> consumers;
};

// Every metric family once, with # HELP and # TYPE lines, samples labelled
// by topic and partition (broker, consumer lag) and client_id (clients).
// Label values are escaped as the format requires.
[[nodiscard]] std::string RenderPrometheus(const MetricsSnapshot& snapshot);

}  // namespace evlog
