#include "evlog/client/prometheus.h"

#include <cstdint>
#include <functional>
#include <string_view>

#include "absl/strings/str_cat.h"

namespace evlog {
namespace {

using internal::ToAbsl;

// Backslash, double quote and newline are the characters a label value
// must escape.
std::string EscapeLabel(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PartitionLabels(const TopicPartition& tp) {
  return absl::StrCat("topic=\"", EscapeLabel(tp.topic), "\",partition=\"", tp.partition.value(),
                      "\"");
}

std::string ClientLabel(std::string_view client_id) {
  return absl::StrCat("client_id=\"", EscapeLabel(client_id), "\"");
}

// One family: its header, then a sample per item.
template <typename Item>
void Family(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            const std::vector<Item>& items, const std::function<std::string(const Item&)>& labels,
            const std::function<int64_t(const Item&)>& value) {
  if (items.empty()) return;
  absl::StrAppend(&out, "# HELP ", ToAbsl(name), " ", ToAbsl(help), "\n# TYPE ", ToAbsl(name), " ",
                  ToAbsl(type), "\n");
  for (const Item& item : items) {
    absl::StrAppend(&out, ToAbsl(name), "{", labels(item), "} ", value(item), "\n");
  }
}

}  // namespace

std::string RenderPrometheus(const MetricsSnapshot& snapshot) {
  std::string out;
  if (snapshot.broker) {
    using P = PartitionMetrics;
    const auto& ps = snapshot.broker->partitions;
    auto labels = [](const P& p) { return PartitionLabels(p.topic_partition); };
    struct Row {
      std::string_view name, type, help;
      std::function<int64_t(const P&)> value;
    };
    const Row rows[] = {
        {"evlog_partition_log_start_offset", "gauge", "First readable offset.",
         [](const P& p) { return static_cast<int64_t>(p.log_start_offset.value()); }},
        {"evlog_partition_high_watermark", "gauge", "End of what consumers may read.",
         [](const P& p) { return static_cast<int64_t>(p.high_watermark.value()); }},
        {"evlog_partition_log_end_offset", "gauge", "Offset the next record gets.",
         [](const P& p) { return static_cast<int64_t>(p.log_end_offset.value()); }},
        {"evlog_partition_size_bytes", "gauge", "Bytes in the partition's segments.",
         [](const P& p) { return static_cast<int64_t>(p.size_bytes); }},
        {"evlog_partition_segments", "gauge", "Segments of the partition's log.",
         [](const P& p) { return static_cast<int64_t>(p.segments); }},
        {"evlog_partition_appended_records_total", "counter", "Records appended.",
         [](const P& p) { return static_cast<int64_t>(p.records_appended); }},
        {"evlog_partition_appended_batches_total", "counter", "Batches appended.",
         [](const P& p) { return static_cast<int64_t>(p.batches_appended); }},
        {"evlog_partition_appended_bytes_total", "counter", "Batch bytes appended.",
         [](const P& p) { return static_cast<int64_t>(p.bytes_appended); }},
        {"evlog_partition_append_errors_total", "counter", "Appends that failed.",
         [](const P& p) { return static_cast<int64_t>(p.append_errors); }},
        {"evlog_partition_read_bytes_total", "counter", "Batch bytes read by consumers.",
         [](const P& p) { return static_cast<int64_t>(p.bytes_read); }},
        {"evlog_partition_reads_total", "counter", "Reads served.",
         [](const P& p) { return static_cast<int64_t>(p.reads); }},
    };
    for (const Row& row : rows) {
      Family<P>(out, row.name, row.type, row.help, ps, labels, row.value);
    }
  }
  {
    using M = ProducerMetrics;
    auto labels = [](const M& m) { return ClientLabel(m.client_id); };
    struct Row {
      std::string_view name, type, help;
      std::function<int64_t(const M&)> value;
    };
    const Row rows[] = {
        {"evlog_producer_records_total", "counter", "Records appended for this producer.",
         [](const M& m) { return static_cast<int64_t>(m.records_sent); }},
        {"evlog_producer_bytes_total", "counter", "Batch bytes appended.",
         [](const M& m) { return static_cast<int64_t>(m.bytes_sent); }},
        {"evlog_producer_batches_total", "counter", "Batches appended.",
         [](const M& m) { return static_cast<int64_t>(m.batches_sent); }},
        {"evlog_producer_record_errors_total", "counter", "Records completed with an error.",
         [](const M& m) { return static_cast<int64_t>(m.record_errors); }},
        {"evlog_producer_send_rejections_total", "counter", "Send() calls refused.",
         [](const M& m) { return static_cast<int64_t>(m.send_rejections); }},
        {"evlog_producer_retries_total", "counter", "Batches sent again.",
         [](const M& m) { return static_cast<int64_t>(m.retries); }},
        {"evlog_producer_buffer_bytes", "gauge", "Bytes of records not yet appended.",
         [](const M& m) { return static_cast<int64_t>(m.buffer_bytes_used); }},
        {"evlog_producer_records_in_flight", "gauge", "Records accepted, not yet completed.",
         [](const M& m) { return static_cast<int64_t>(m.records_in_flight); }},
    };
    for (const Row& row : rows) {
      Family<M>(out, row.name, row.type, row.help, snapshot.producers, labels, row.value);
    }
  }
  {
    using M = ConsumerMetrics;
    auto labels = [](const M& m) { return ClientLabel(m.client_id); };
    struct Row {
      std::string_view name, type, help;
      std::function<int64_t(const M&)> value;
    };
    const Row rows[] = {
        {"evlog_consumer_polls_total", "counter", "Poll() calls.",
         [](const M& m) { return static_cast<int64_t>(m.polls); }},
        {"evlog_consumer_records_total", "counter", "Records returned by Poll().",
         [](const M& m) { return static_cast<int64_t>(m.records_consumed); }},
        {"evlog_consumer_fetched_bytes_total", "counter", "Batch bytes read.",
         [](const M& m) { return static_cast<int64_t>(m.bytes_fetched); }},
        {"evlog_consumer_offset_resets_total", "counter", "Positions set by auto_offset_reset.",
         [](const M& m) { return static_cast<int64_t>(m.offset_resets); }},
        {"evlog_consumer_errors_total", "counter", "Fetches that failed.",
         [](const M& m) { return static_cast<int64_t>(m.errors); }},
    };
    for (const Row& row : rows) {
      Family<M>(out, row.name, row.type, row.help, snapshot.consumers, labels, row.value);
    }
    // Lag is per partition of each consumer.
    struct Lag {
      std::string labels;
      int64_t lag;
    };
    std::vector<Lag> lags;
    for (const M& m : snapshot.consumers) {
      for (const ConsumerPartitionMetrics& p : m.partitions) {
        lags.push_back(
            {absl::StrCat(ClientLabel(m.client_id), ",", PartitionLabels(p.topic_partition)),
             p.lag});
      }
    }
    Family<Lag>(
        out, "evlog_consumer_lag_records", "gauge", "High watermark minus the consumer's position.",
        lags, [](const Lag& l) { return l.labels; },
        [](const Lag& l) { return static_cast<int64_t>(l.lag); });
  }
  return out;
}

}  // namespace evlog
