#include "evlog/broker/broker.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/internal/wire.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/status.h"
#include "evlog/storage/internal/scan_batches.h"
#include "open_partition.h"

namespace evlog {

using internal::ToAbsl;

namespace {

// The compacted log of topic records (docs/format/broker_directory.md).
constexpr std::string_view kMetadataDir = "__cluster_metadata-0";
// Version of a topic record's value; a reader refuses newer ones.
constexpr int8_t kTopicRecordVersion = 1;
// A metadata record is tiny; anything above this is not ours.
constexpr size_t kMaxMetadataRecordBytes = 1 << 20;

// '.' and '_' collide in Kafka's metric names, so topics differing only
// there are refused.
std::string CollisionName(std::string_view name) {
  std::string s(name);
  std::replace(s.begin(), s.end(), '.', '_');
  return s;
}

// Splits "<topic>-<partition>"; false for anything else.
bool ParsePartitionDir(std::string_view name, std::string& topic, int32_t& partition) {
  const size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  for (char c : name.substr(dash + 1)) {
    if (c < '0' || c > '9') return false;
  }
  if (!absl::SimpleAtoi(ToAbsl(name.substr(dash + 1)), &partition)) return false;
  topic = std::string(name.substr(0, dash));
  return ValidateTopicName(topic).ok();
}

absl::Status UnknownTopic(std::string_view name) {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("unknown topic \"", ToAbsl(name), "\""));
}

}  // namespace

// What the metadata log says about one topic.
struct Broker::TopicRecord {
  int32_t partitions = 0;
  int16_t replication_factor = 1;
  TopicConfig config;

  std::vector<std::byte> Encode() const {
    internal::WireWriter out;
    out.Int(kTopicRecordVersion);
    out.UnsignedVarint(static_cast<uint64_t>(partitions));
    out.UnsignedVarint(static_cast<uint64_t>(replication_factor));
    const auto configs = config.ToStrings();
    out.UnsignedVarint(configs.size());
    for (const auto& [k, v] : configs) {
      out.VarString(k);
      out.VarString(v);
    }
    return std::move(out).Take();
  }

  static absl::StatusOr<TopicRecord> Decode(std::string_view topic, ByteView value) {
    auto corrupt = [&](std::string_view why) {
      return MakeError(
          ErrorCode::kCorruptMessage,
          absl::StrCat("metadata record of topic \"", ToAbsl(topic), "\": ", ToAbsl(why)));
    };
    internal::WireReader in(value);
    int8_t version;
    if (!in.Int(version)) return corrupt("empty");
    if (version != kTopicRecordVersion) {
      return corrupt(
          absl::StrCat("version ", version, " (this build reads ", kTopicRecordVersion, ")"));
    }
    TopicRecord r;
    uint64_t partitions, rf, count;
    if (!in.UnsignedVarint(partitions) || !in.UnsignedVarint(rf) || !in.UnsignedVarint(count))
      return corrupt("truncated");
    if (partitions < 1 || partitions > INT32_MAX || rf < 1 || rf > INT16_MAX) {
      return corrupt("partition count or replication factor out of range");
    }
    r.partitions = static_cast<int32_t>(partitions);
    r.replication_factor = static_cast<int16_t>(rf);
    for (uint64_t i = 0; i < count; ++i) {
      std::string k, v;
      if (!in.VarString(k) || !in.VarString(v)) return corrupt("truncated config");
      absl::Status set = r.config.Set(k, v);
      if (!set.ok()) return corrupt(internal::FromAbsl(set.message()));
    }
    if (!in.done()) return corrupt("bytes after the record");
    return r;
  }
};

Broker::Broker(BrokerOptions options) : options_(std::move(options)) {}

Broker::~Broker() { (void)Close(); }

absl::StatusOr<std::unique_ptr<Broker>> Broker::Open(BrokerOptions options) {
  if (options.data_dir.empty()) {
    return MakeError(ErrorCode::kInvalidConfig, "data_dir is empty");
  }
  if (options.auto_create_partitions < 1) {
    return MakeError(ErrorCode::kInvalidConfig, "auto_create_partitions must be >= 1");
  }
  if (options.retention_check_interval_ms < 1 || options.compaction_check_interval_ms < 1) {
    return MakeError(ErrorCode::kInvalidConfig, "maintenance intervals must be >= 1 ms");
  }
  EVLOG_RETURN_IF_ERROR(TopicConfig().ApplyTo(options.topic_defaults).status());
  std::unique_ptr<Broker> broker(new Broker(std::move(options)));
  EVLOG_RETURN_IF_ERROR(broker->Load());
  broker->ResumeTransactions();
  return broker;
}

void Broker::Log(LogLevel level, std::string_view message) const {
  if (log_sink_->Enabled(level)) log_sink_->Log(level, "broker", message);
}

absl::Status Broker::Load() {
  if (options_.file_system != nullptr) {
    fs_ = options_.file_system;
  } else {
    owned_fs_ = std::make_unique<PosixFileSystem>();
    fs_ = owned_fs_.get();
  }
  clock_ = options_.clock != nullptr ? options_.clock : &SystemClock::Default();
  if (options_.executor != nullptr) {
    executor_ = options_.executor;
  } else {
    owned_executor_ = std::make_unique<ThreadPoolExecutor>(1);
    executor_ = owned_executor_.get();
  }
  log_sink_ = options_.log_sink != nullptr ? options_.log_sink : &NullLogSink::Default();
  tasks_ = std::make_unique<TaskGroup>(*executor_);

  EVLOG_RETURN_IF_ERROR(fs_->CreateDir(options_.data_dir));
  LogConfig metadata_config;
  metadata_config.cleanup_policy = CleanupPolicy::kCompact;
  metadata_config.durability = Durability::kEveryAppend;
  metadata_config.segment_bytes = 1 << 20;
  metadata_config.segment_index_bytes = 64 << 10;  // a few records per topic change
  metadata_config.retention_ms = -1;
  LogOpenOptions open_options;
  open_options.reporter = [this](const RecoveryEvent& e) {
    Log(LogLevel::kWarning, absl::StrCat("metadata log recovery dropped ", e.dropped_bytes,
                                         " bytes of ", e.path, " at ", e.position, ": ", e.reason));
  };
  EVLOG_ASSIGN_OR_RETURN(
      metadata_log_,
      PartitionLog::Open(*fs_, *clock_, absl::StrCat(options_.data_dir, "/", ToAbsl(kMetadataDir)),
                         metadata_config, std::move(open_options)));
  std::map<std::string, TopicRecord> records;
  EVLOG_RETURN_IF_ERROR(ReplayMetadata(records));

  std::lock_guard lock(mu_);
  for (auto& [name, record] : records) {
    absl::StatusOr<TopicSettings> resolved = record.config.ApplyTo(options_.topic_defaults);
    if (!resolved.ok()) return Annotate(resolved.status(), absl::StrCat("restoring topic ", name));
    const TopicSettings& settings = *resolved;
    auto topic = std::make_shared<Topic>(name, record.replication_factor, record.config, settings);
    std::vector<std::shared_ptr<Partition>> partitions;
    for (int32_t p = 0; p < record.partitions; ++p) {
      EVLOG_ASSIGN_OR_RETURN(auto partition, OpenPartition(name, PartitionId(p), settings));
      partitions.push_back(std::move(partition));
    }
    topic->AddPartitions(std::move(partitions));
    topics_.emplace(name, std::move(topic));
  }
  EVLOG_RETURN_IF_ERROR(RemoveStrayDirectories());
  ScheduleMaintenance(options_.retention_check_interval_ms, /*retention=*/true);
  ScheduleMaintenance(options_.compaction_check_interval_ms, /*retention=*/false);
  Log(LogLevel::kInfo,
      absl::StrCat("opened ", options_.data_dir, " with ", topics_.size(), " topics"));
  return absl::OkStatus();
}

absl::Status Broker::ReplayMetadata(std::map<std::string, TopicRecord>& topics) {
  return internal::ScanBatches(
      *metadata_log_, metadata_log_->log_start_offset(), metadata_log_->log_end_offset(),
      [&topics](const RecordBatchView& batch) -> absl::Status {
        EVLOG_ASSIGN_OR_RETURN(RecordIterator records, batch.Records());
        for (const RecordView& record : records) {
          if (!record.key) {
            return MakeError(ErrorCode::kCorruptMessage, "metadata record without a key");
          }
          const std::string name(AsStringView(*record.key));
          if (!record.value) {
            topics.erase(name);
            continue;
          }
          EVLOG_ASSIGN_OR_RETURN(topics[name], TopicRecord::Decode(name, *record.value));
        }
        return records.status();
      });
}

absl::Status Broker::WriteMetadata(std::string_view name, const TopicRecord* record) {
  RecordBatchBuilder builder;
  std::optional<std::vector<std::byte>> value;
  if (record != nullptr) value = record->Encode();
  if (value && value->size() > kMaxMetadataRecordBytes) {
    return MakeError(ErrorCode::kInvalidConfig, "topic configuration too large");
  }
  std::optional<ByteView> value_view;
  if (value) value_view = ByteView(*value);
  EVLOG_RETURN_IF_ERROR(builder.Append(clock_->WallMs(), AsBytes(name), value_view));
  EVLOG_ASSIGN_OR_RETURN(MutableByteView batch, builder.Finish());
  AppendOptions append;
  append.trusted = true;
  return metadata_log_->Append(batch, append).status();
}

absl::StatusOr<std::shared_ptr<Partition>> Broker::OpenPartition(const std::string& topic,
                                                                 PartitionId id,
                                                                 const TopicSettings& settings) {
  const std::string dir = absl::StrCat(options_.data_dir, "/", topic, "-", id.value());
  return internal::OpenPartition(
      *fs_, *clock_, dir, TopicPartition(topic, id), settings,
      [this](const std::string& line) { Log(LogLevel::kWarning, line); });
}

absl::StatusOr<ProducerId> Broker::InitProducerId() {
  {
    std::lock_guard lock(mu_);
    if (closed_) return absl::FailedPreconditionError("the broker is closed");
  }
  std::lock_guard lock(producer_ids_mu_);
  if (producer_ids_ == nullptr) {
    // Not a partition directory name: RemoveStrayDirectories leaves it.
    EVLOG_ASSIGN_OR_RETURN(
        producer_ids_,
        ProducerIdManager::Open(*fs_, absl::StrCat(options_.data_dir, "/__producer_ids")));
  }
  return producer_ids_->NextId();
}

absl::Status Broker::RemoveStrayDirectories() {
  EVLOG_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(options_.data_dir));
  for (const std::string& name : names) {
    if (name == kMetadataDir) continue;
    std::string topic;
    int32_t partition;
    if (!ParsePartitionDir(name, topic, partition)) continue;
    auto it = topics_.find(topic);
    if (it != topics_.end() && partition < it->second->partition_count()) continue;
    Log(LogLevel::kWarning,
        absl::StrCat("removing ", name, ": no topic owns it (a deletion interrupted by a crash)"));
    EVLOG_RETURN_IF_ERROR(
        RemoveDirectoryAndFiles(*fs_, absl::StrCat(options_.data_dir, "/", name)));
  }
  return absl::OkStatus();
}

absl::Status Broker::CreateTopic(std::string_view name, const NewTopic& topic) {
  std::lock_guard lock(mu_);
  return CreateTopicLocked(name, topic);
}

absl::Status Broker::CreateTopicLocked(std::string_view name, const NewTopic& topic) {
  if (closed_) return absl::FailedPreconditionError("the broker is closed");
  EVLOG_RETURN_IF_ERROR(ValidateTopicName(name));
  if (name == kMetadataDir.substr(0, kMetadataDir.size() - 2)) {
    return MakeError(ErrorCode::kInvalidTopicException,
                     "__cluster_metadata is reserved for the broker");
  }
  if (topics_.contains(name)) {
    return MakeError(ErrorCode::kTopicAlreadyExists,
                     absl::StrCat("topic \"", ToAbsl(name), "\" already exists"));
  }
  const std::string collision = CollisionName(name);
  for (const auto& [existing, t] : topics_) {
    if (CollisionName(existing) == collision) {
      return MakeError(ErrorCode::kInvalidTopicException,
                       absl::StrCat("topic \"", ToAbsl(name), "\" collides with \"", existing,
                                    "\" ('.' and '_' are treated alike)"));
    }
  }
  if (topic.partitions < 1) {
    return MakeError(
        ErrorCode::kInvalidPartitions,
        absl::StrCat("a topic needs at least 1 partition, asked for ", topic.partitions));
  }
  if (topic.replication_factor != 1) {
    return MakeError(ErrorCode::kInvalidReplicationFactor,
                     absl::StrCat("replication factor ", topic.replication_factor,
                                  " on a single broker (only 1 is possible)"));
  }
  EVLOG_ASSIGN_OR_RETURN(TopicSettings settings, topic.config.ApplyTo(options_.topic_defaults));

  TopicRecord record;
  record.partitions = topic.partitions;
  record.replication_factor = topic.replication_factor;
  record.config = topic.config;
  EVLOG_RETURN_IF_ERROR(WriteMetadata(name, &record));

  const std::string topic_name(name);
  auto created =
      std::make_shared<Topic>(topic_name, topic.replication_factor, topic.config, settings);
  std::vector<std::shared_ptr<Partition>> partitions;
  for (int32_t p = 0; p < topic.partitions; ++p) {
    absl::StatusOr<std::shared_ptr<Partition>> partition =
        OpenPartition(topic_name, PartitionId(p), settings);
    if (!partition.ok()) {
      // Undo: the record first, so a crash now leaves directories that
      // the next Open removes.
      for (auto& opened : partitions) opened->Discard();
      if (WriteMetadata(name, nullptr).ok()) (void)RemoveStrayDirectories();
      return partition.status();
    }
    partitions.push_back(*std::move(partition));
  }
  created->AddPartitions(std::move(partitions));
  topics_.emplace(topic_name, std::move(created));
  Log(LogLevel::kInfo,
      absl::StrCat("created topic ", topic_name, " with ", topic.partitions, " partitions"));
  return absl::OkStatus();
}

absl::Status Broker::DeleteTopic(std::string_view name) {
  std::lock_guard lock(mu_);
  if (closed_) return absl::FailedPreconditionError("the broker is closed");
  auto it = topics_.find(name);
  if (it == topics_.end()) return UnknownTopic(name);
  EVLOG_RETURN_IF_ERROR(WriteMetadata(name, nullptr));
  std::shared_ptr<Topic> topic = std::move(it->second);
  topics_.erase(it);
  topic->MarkDeleted();
  absl::Status status;
  for (const auto& partition : topic->partitions()) {
    partition->Discard();
    status.Update(RemoveDirectoryAndFiles(
        *fs_, absl::StrCat(options_.data_dir, "/", topic->name(), "-", partition->id().value())));
  }
  Log(LogLevel::kInfo, absl::StrCat("deleted topic ", topic->name()));
  return status;
}

absl::Status Broker::CreatePartitions(std::string_view name, int32_t partition_count) {
  std::lock_guard lock(mu_);
  if (closed_) return absl::FailedPreconditionError("the broker is closed");
  auto it = topics_.find(name);
  if (it == topics_.end()) return UnknownTopic(name);
  Topic& topic = *it->second;
  const int32_t current = topic.partition_count();
  if (partition_count <= current) {
    return MakeError(
        ErrorCode::kInvalidPartitions,
        absl::StrCat("topic \"", ToAbsl(name), "\" has ", current,
                     " partitions; partitions can only be added, asked for ", partition_count));
  }
  TopicRecord record;
  record.partitions = partition_count;
  record.replication_factor = topic.replication_factor();
  record.config = topic.config();
  EVLOG_RETURN_IF_ERROR(WriteMetadata(name, &record));
  std::vector<std::shared_ptr<Partition>> added;
  for (int32_t p = current; p < partition_count; ++p) {
    EVLOG_ASSIGN_OR_RETURN(auto partition,
                           OpenPartition(topic.name(), PartitionId(p), topic.settings()));
    added.push_back(std::move(partition));
  }
  topic.AddPartitions(std::move(added));
  return absl::OkStatus();
}

std::vector<std::string> Broker::ListTopics() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  names.reserve(topics_.size());
  for (const auto& [name, topic] : topics_) names.push_back(name);
  return names;
}

absl::StatusOr<TopicDescription> Broker::DescribeTopic(std::string_view name) const {
  std::shared_ptr<Topic> topic;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(name);
    if (it == topics_.end()) return UnknownTopic(name);
    topic = it->second;
  }
  TopicDescription d;
  d.name = topic->name();
  d.replication_factor = topic->replication_factor();
  d.internal = IsInternalTopic(d.name);
  d.config = topic->config();
  d.settings = topic->settings();
  for (const auto& partition : topic->partitions()) {
    const PartitionMetrics m = partition->metrics();
    PartitionDescription p;
    p.partition = partition->id();
    p.log_start_offset = m.log_start_offset;
    p.high_watermark = m.high_watermark;
    p.log_end_offset = m.log_end_offset;
    p.size_bytes = m.size_bytes;
    d.partitions.push_back(p);
  }
  return d;
}

absl::StatusOr<std::shared_ptr<Topic>> Broker::GetTopic(std::string_view name, bool auto_create) {
  std::lock_guard lock(mu_);
  if (closed_) return absl::FailedPreconditionError("the broker is closed");
  auto it = topics_.find(name);
  if (it != topics_.end()) return it->second;
  if (!auto_create || !options_.auto_create_topics) {
    EVLOG_RETURN_IF_ERROR(ValidateTopicName(name));
    return UnknownTopic(name);
  }
  EVLOG_RETURN_IF_ERROR(CreateTopicLocked(name, NewTopic(options_.auto_create_partitions)));
  return topics_.find(name)->second;
}

absl::StatusOr<std::shared_ptr<Partition>> Broker::GetPartition(
    const TopicPartition& topic_partition) const {
  std::shared_ptr<Topic> topic;
  {
    std::lock_guard lock(mu_);
    auto it = topics_.find(topic_partition.topic);
    if (it == topics_.end()) return UnknownTopic(topic_partition.topic);
    topic = it->second;
  }
  std::shared_ptr<Partition> partition = topic->partition(topic_partition.partition);
  if (partition == nullptr) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("topic \"", topic_partition.topic, "\" has no partition ",
                                  topic_partition.partition.value(), " (it has ",
                                  topic->partition_count(), ")"));
  }
  return partition;
}

absl::Status Broker::DeleteRecordsBefore(const TopicPartition& topic_partition, Offset offset) {
  EVLOG_ASSIGN_OR_RETURN(std::shared_ptr<Partition> partition, GetPartition(topic_partition));
  return partition->DeleteRecordsBefore(offset);
}

std::vector<std::shared_ptr<Topic>> Broker::SnapshotTopics() const {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Topic>> topics;
  topics.reserve(topics_.size());
  for (const auto& [name, topic] : topics_) topics.push_back(topic);
  return topics;
}

absl::Status Broker::RunMaintenance() {
  const std::vector<std::shared_ptr<Topic>> topics = SnapshotTopics();
  absl::Status status;
  for (const auto& topic : topics) {
    for (const auto& partition : topic->partitions()) {
      if (partition->closed()) continue;
      status.Update(partition->DeleteOldSegments().status());
      status.Update(partition->MaybeCompact());
    }
  }
  return status;
}

void Broker::ScheduleMaintenance(int64_t interval_ms, bool retention) {
  tasks_->ScheduleAfter(interval_ms, [this, interval_ms, retention] {
    const std::vector<std::shared_ptr<Topic>> topics = SnapshotTopics();
    for (const auto& topic : topics) {
      for (const auto& partition : topic->partitions()) {
        if (partition->closed()) continue;
        absl::Status status =
            retention ? partition->DeleteOldSegments().status() : partition->MaybeCompact();
        if (!status.ok() && !partition->closed()) {
          Log(LogLevel::kError,
              absl::StrCat(retention ? "retention" : "compaction", " of ", topic->name(), "-",
                           partition->id().value(), " failed: ", status.message()));
        }
      }
    }
    ScheduleMaintenance(interval_ms, retention);
  });
}

BrokerMetrics Broker::metrics() const {
  const std::vector<std::shared_ptr<Topic>> topics = SnapshotTopics();
  BrokerMetrics m;
  for (const auto& topic : topics) {
    for (const auto& partition : topic->partitions()) m.partitions.push_back(partition->metrics());
  }
  return m;
}

absl::Status Broker::ServiceSlot(
    std::string_view name,
    const std::function<absl::StatusOr<std::shared_ptr<BrokerService>>()>& create,
    std::shared_ptr<BrokerService>& out) {
  std::unique_lock lock(services_mu_);
  auto starting = [&] {
    return std::find(services_starting_.begin(), services_starting_.end(), name) !=
           services_starting_.end();
  };
  for (;;) {
    if (services_closed_) return absl::FailedPreconditionError("the broker is closed");
    for (const auto& [service_name, service] : services_) {
      if (service_name == name) {
        out = service;
        return absl::OkStatus();
      }
    }
    if (!starting()) break;
    services_cv_.wait(lock);
  }
  services_starting_.emplace_back(name);
  lock.unlock();
  absl::StatusOr<std::shared_ptr<BrokerService>> made = create();
  lock.lock();
  std::erase(services_starting_, name);
  services_cv_.notify_all();
  if (!made.ok()) return made.status();
  EVLOG_CHECK(*made != nullptr);
  // Close() waits for services being made, so it cannot have passed.
  EVLOG_CHECK(!services_closed_);
  services_.emplace_back(std::string(name), *made);
  out = *std::move(made);
  return absl::OkStatus();
}

absl::Status Broker::Close() {
  // Services first: they write to partitions (offset commits) and run
  // tasks on the executor.
  std::vector<std::pair<std::string, std::shared_ptr<BrokerService>>> services;
  {
    std::unique_lock lock(services_mu_);
    // A service being made finishes first, so that it is shut down too.
    services_cv_.wait(lock, [&] { return services_starting_.empty(); });
    services_closed_ = true;
    services.swap(services_);
  }
  for (auto it = services.rbegin(); it != services.rend(); ++it) it->second->Shutdown();
  services.clear();
  if (tasks_ != nullptr) tasks_->Close();
  std::lock_guard lock(mu_);
  if (closed_) return absl::OkStatus();
  closed_ = true;
  absl::Status status;
  for (auto& [name, topic] : topics_) {
    for (const auto& partition : topic->partitions()) status.Update(partition->Close());
  }
  if (metadata_log_ != nullptr) status.Update(metadata_log_->Close());
  return status;
}

}  // namespace evlog
