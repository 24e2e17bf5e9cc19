#include "evlog/broker/cluster.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "coordinator_services.h"
#include "evlog/broker/coordinator_log.h"
#include "evlog/broker/internal/high_watermark_checkpoint.h"
#include "evlog/group/group_coordinator.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/replication/metadata_log.h"
#include "evlog/replication/replica_messages.h"
#include "evlog/replication/segmented_metadata_log.h"
#include "evlog/status.h"
#include "evlog/transport/in_process_transport.h"
#include "open_partition.h"

namespace evlog {

using internal::ToAbsl;

namespace {

// Kafka's per-partition file naming the topic id the directory belongs to.
constexpr std::string_view kPartitionMetadataFile = "partition.metadata";
constexpr std::string_view kUncleanConfig = "unclean.leader.election.enable";
constexpr std::string_view kMinIsrConfig = "min.insync.replicas";
// Records a broker reads from the controller per call while catching up:
// bounds one read, not the catch-up.
constexpr size_t kMetadataReadBatch = 1000;
// Brokers one process may run: far beyond "tens of nodes", and keeps
// broker ids and per-broker seeds small.
constexpr int32_t kMaxBrokers = 1000;

std::string PartitionDirName(const TopicPartition& tp) {
  return absl::StrCat(tp.topic, "-", tp.partition.value());
}

// True when `name` looks like "<valid topic>-<digits>".
bool IsPartitionDirName(std::string_view name) {
  const size_t dash = name.rfind('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == name.size()) return false;
  int32_t partition = 0;
  if (!absl::SimpleAtoi(ToAbsl(name.substr(dash + 1)), &partition) || partition < 0) return false;
  return ValidateTopicName(name.substr(0, dash)).ok();
}

absl::Status UnknownPartition(const TopicPartition& tp) {
  return MakeError(ErrorCode::kUnknownTopicOrPartition,
                   absl::StrCat("unknown topic partition ", tp.ToString()));
}

absl::Status ClosedError() { return absl::FailedPreconditionError("the cluster is closed"); }

PartitionMetadata ToMetadata(PartitionId id, const PartitionState& state) {
  PartitionMetadata m;
  m.partition = id;
  m.leader = state.leader;
  m.leader_epoch = state.leader_epoch;
  m.partition_epoch = state.partition_epoch;
  m.replicas = state.replicas;
  m.isr = state.isr;
  return m;
}

// What a topic with config overrides `configs` (as the controller keeps
// them) runs with.
absl::StatusOr<TopicSettings> SettingsOf(const std::map<std::string, std::string>& configs,
                                         const ClusterOptions& options) {
  TopicConfig config;
  int32_t min_isr = options.controller.default_min_insync_replicas;
  for (const auto& [key, value] : configs) {
    if (key == kUncleanConfig) continue;
    // The controller validated them when the topic was created.
    EVLOG_RETURN_IF_ERROR(config.Set(key, value));
    if (key == kMinIsrConfig) (void)absl::SimpleAtoi(value, &min_isr);
  }
  EVLOG_ASSIGN_OR_RETURN(TopicSettings settings, config.ApplyTo(options.topic_defaults));
  settings.min_insync_replicas = min_isr;
  return settings;
}

}  // namespace

absl::Status ClusterOptions::Validate() const {
  auto bad = [](std::string_view why) { return MakeError(ErrorCode::kInvalidConfig, why); };
  if (brokers < 1 || brokers > kMaxBrokers) return bad("brokers must be in 1..1000");
  if (!racks.empty() && racks.size() != static_cast<size_t>(brokers)) {
    return bad("racks must be empty or name one rack per broker");
  }
  if (!broker_file_systems.empty() && broker_file_systems.size() != static_cast<size_t>(brokers)) {
    return bad("broker_file_systems must be empty or give one per broker");
  }
  if (data_dir.empty()) return bad("data_dir is empty");
  if (heartbeat_interval_ms < 1 || heartbeat_interval_ms >= controller.session_timeout_ms) {
    return bad("heartbeat_interval_ms must be >= 1 and below the session timeout");
  }
  if (controller_tick_interval_ms < 1) return bad("controller_tick_interval_ms must be >= 1");
  if (high_watermark_checkpoint_interval_ms < 1) {
    return bad("high_watermark_checkpoint_interval_ms must be >= 1");
  }
  if (replica.replica_lag_time_max_ms < 1 || replica.fetch_max_bytes < 1 ||
      replica.fetch_max_wait_ms < 0 || replica.fetch_backoff_ms < 0 ||
      replica.fetch_timeout_ms < 1) {
    return bad("replica options out of range");
  }
  EVLOG_RETURN_IF_ERROR(controller.Validate());
  return TopicConfig().ApplyTo(topic_defaults).status();
}

// --- Node: one broker -----------------------------------------------------------

// One broker's replicas and its life cycle with the controller.
//
// Locks: mu_ serialises the life cycle (start, stop), registration,
// heartbeats and applying metadata; it is held while replica sets are
// created, updated and closed. replicas_mu_ guards only the map, so that the
// produce, fetch and transport paths never wait for metadata work (and
// callbacks run by ReplicaSet::Update under mu_ may produce).
class Cluster::Node {
 public:
  struct Replica {
    TopicId topic_id;
    std::shared_ptr<Partition> partition;
    // Declared after the partition it uses, so destroyed before it.
    std::unique_ptr<ReplicaSet<>> set;
  };

  Node(Cluster& cluster, BrokerId id, std::optional<std::string> rack, FileSystem& fs,
       FaultyFileSystem* faulty)
      : cluster_(cluster),
        id_(id),
        rack_(std::move(rack)),
        fs_(fs),
        faulty_(faulty),
        dir_(absl::StrCat(cluster.options_.data_dir, "/broker-", id.value())) {}

  ~Node() { (void)Stop(/*crash=*/false); }

  BrokerId id() const { return id_; }

  // Starts listening and registers (once; heartbeats retry). REQUIRES: not
  // running.
  absl::Status Start(uint64_t incarnation) {
    EVLOG_RETURN_IF_ERROR(fs_.CreateDir(dir_));
    {
      std::lock_guard lock(mu_);
      if (running_) return absl::FailedPreconditionError(Name() + " is running");
      running_ = true;
      incarnation_ = incarnation;
      broker_epoch_ = -1;
      image_ = MetadataImage();
      applied_ = Offset(-1);
      strays_checked_ = false;
      tasks_ = std::make_unique<TaskGroup>(*cluster_.executor_);
      LoadHighWatermarksLocked();
      ScheduleHighWatermarkCheckpointLocked();
    }
    absl::Status listening =
        cluster_.transport_->Listen(id_, [this](BrokerId, Message request, Responder respond) {
          ServeRequest(std::move(request), std::move(respond));
        });
    if (!listening.ok()) {
      std::unique_ptr<TaskGroup> tasks;
      {
        std::lock_guard lock(mu_);
        running_ = false;
        tasks = std::move(tasks_);
      }
      return listening;
    }
    std::lock_guard lock(mu_);
    RegisterLocked();
    return absl::OkStatus();
  }

  // Crash (drop everything, simulate a power loss) or clean stop (close the
  // logs). The caller does the controlled shutdown before a clean stop.
  absl::Status Stop(bool crash) {
    {
      std::lock_guard lock(mu_);
      if (!running_) return absl::OkStatus();
    }
    // Unlisten waits for running handlers, which take replicas_mu_ only.
    cluster_.transport_->Unlisten(id_);
    std::unique_ptr<TaskGroup> tasks;
    {
      std::lock_guard lock(mu_);
      running_ = false;
      tasks = std::move(tasks_);
    }
    // Waits for a heartbeat in progress (it sees running_ false and stops).
    if (tasks) tasks->Close();
    absl::Status first;
    std::lock_guard lock(mu_);
    std::map<TopicPartition, std::shared_ptr<Replica>> replicas;
    {
      std::lock_guard replicas_lock(replicas_mu_);
      replicas.swap(replicas_);
    }
    for (auto& [tp, replica] : replicas) replica->set->Close();
    if (!crash) {
      // What the replica sets last published, for the next start.
      absl::Status written = WriteHighWatermarks(HighWatermarksLocked(replicas));
      if (first.ok() && !written.ok()) first = written;
    }
    restored_high_watermarks_.clear();
    {
      std::lock_guard checkpoint_lock(checkpoint_mu_);
      written_high_watermarks_.reset();
    }
    if (crash) {
      if (faulty_ != nullptr) {
        faulty_->SimulateCrash(cluster_.options_.transport_seed * 1'000'003 +
                               static_cast<uint64_t>(id_.value()) * 7919 + ++crashes_);
      }
    } else {
      for (auto& [tp, replica] : replicas) {
        absl::Status closed = replica->partition->Close();
        if (first.ok() && !closed.ok()) first = closed;
      }
    }
    replicas.clear();
    broker_epoch_ = -1;
    broker_epoch_atomic_.store(-1, std::memory_order_relaxed);
    image_ = MetadataImage();
    applied_ = Offset(-1);
    // Clients that resolved a leader here look again.
    cluster_.MetadataChanged();
    return first;
  }

  // Kafka's controlled shutdown: fenced, leaderships moved, before the
  // logs close.
  void ControlledShutdown() {
    std::lock_guard lock(mu_);
    if (!running_ || broker_epoch_ < 0) return;
    HeartbeatRequest request;
    request.broker_id = id_;
    request.broker_epoch = broker_epoch_;
    request.want_shut_down = true;
    absl::StatusOr<HeartbeatReply> reply = cluster_.controller_->Heartbeat(request);
    if (!reply.ok()) {
      cluster_.Log(LogLevel::kWarning,
                   absl::StrCat(Name(), " controlled shutdown: ", reply.status().ToString()));
    }
  }

  // One heartbeat round: register when not registered, catch up with the
  // metadata, heartbeat; then the next round is scheduled.
  void Heartbeat() {
    std::lock_guard lock(mu_);
    if (!running_) return;
    if (broker_epoch_ < 0) RegisterLocked();
    if (broker_epoch_ >= 0) {
      CatchUpLocked();
      HeartbeatRequest request;
      request.broker_id = id_;
      request.broker_epoch = broker_epoch_;
      request.caught_up = applied_ >= Offset(broker_epoch_);
      absl::StatusOr<HeartbeatReply> reply = cluster_.controller_->Heartbeat(request);
      if (!reply.ok()) {
        const ErrorCode code = GetErrorCode(reply.status());
        if (code == ErrorCode::kStaleBrokerEpoch || code == ErrorCode::kBrokerIdNotRegistered) {
          // Another registration took over: register again next round.
          broker_epoch_ = -1;
          broker_epoch_atomic_.store(-1, std::memory_order_relaxed);
        }
        cluster_.Log(LogLevel::kWarning,
                     absl::StrCat(Name(), " heartbeat: ", reply.status().ToString()));
      }
    }
    tasks_->ScheduleAfter(cluster_.options_.heartbeat_interval_ms, [this] { Heartbeat(); });
  }

  // Applies the controller's metadata up to its end (only while registered).
  void CatchUp() {
    std::lock_guard lock(mu_);
    if (running_) CatchUpLocked();
  }

  // Lock-free: the produce and fetch paths ask, and they run inside
  // ReplicaSet completions that Update calls with mu_ held.
  bool running() const { return running_.load(std::memory_order_acquire); }
  bool registered() const {
    std::lock_guard lock(mu_);
    return running_ && broker_epoch_ >= 0;
  }

  std::shared_ptr<Replica> FindReplica(const TopicPartition& tp) const {
    std::lock_guard lock(replicas_mu_);
    auto it = replicas_.find(tp);
    return it == replicas_.end() ? nullptr : it->second;
  }

  uint64_t incarnation() const {
    std::lock_guard lock(mu_);
    return incarnation_;
  }

  std::string Name() const { return absl::StrCat("broker ", id_.value()); }

 private:
  void RegisterLocked() {
    absl::StatusOr<int64_t> epoch = cluster_.controller_->RegisterBroker(
        id_, rack_, absl::StrCat("in-process:broker-", id_.value()), incarnation_);
    if (!epoch.ok()) {
      // DUPLICATE_BROKER_REGISTRATION until the previous incarnation's
      // session expires: retried on the next heartbeat.
      if (!HasErrorCode(epoch.status(), ErrorCode::kDuplicateBrokerRegistration)) {
        cluster_.Log(LogLevel::kWarning,
                     absl::StrCat(Name(), " registration: ", epoch.status().ToString()));
      }
      return;
    }
    broker_epoch_ = *epoch;
    broker_epoch_atomic_.store(*epoch, std::memory_order_relaxed);
  }

  void CatchUpLocked() {
    if (broker_epoch_ < 0) return;
    std::optional<MetadataImage> next;
    // Whether the image reached the end of the log (strays are judged only
    // against a complete image).
    bool complete = false;
    for (;;) {
      absl::StatusOr<std::vector<MetadataLogEntry>> entries =
          cluster_.controller_->RecordsSince(applied_ + 1, kMetadataReadBatch);
      if (!entries.ok()) {
        cluster_.Log(LogLevel::kError,
                     absl::StrCat(Name(), " reading metadata: ", entries.status().ToString()));
        break;
      }
      if (entries->empty()) {
        complete = true;
        break;
      }
      if (!next) next.emplace(image_);
      bool failed = false;
      for (const MetadataLogEntry& entry : *entries) {
        absl::Status applied = next->Apply(entry.record);
        if (!applied.ok()) {
          // The controller's own image took this record: a bug, not a fault.
          cluster_.Log(LogLevel::kError,
                       absl::StrCat(Name(), " metadata offset ", entry.offset.value(), ": ",
                                    applied.ToString()));
          failed = true;
          break;
        }
        applied_ = entry.offset;
      }
      if (failed) break;
    }
    if (next) {
      BrokerPartitionDelta delta = ComputeBrokerDelta(image_, *next, id_);
      image_ = *std::move(next);
      ApplyDeltaLocked(delta);
      cluster_.MetadataChanged();
    }
    if (complete && !strays_checked_) {
      strays_checked_ = true;
      RemoveStrayDirectoriesLocked();
    }
  }

  void ApplyDeltaLocked(const BrokerPartitionDelta& delta) {
    for (const PartitionDeltaEntry& entry : delta.stopped) {
      std::shared_ptr<Replica> replica;
      {
        std::lock_guard lock(replicas_mu_);
        auto it = replicas_.find(entry.topic_partition);
        if (it == replicas_.end() || it->second->topic_id != entry.topic_id) continue;
        replica = std::move(it->second);
        replicas_.erase(it);
      }
      replica->set->Close();
      replica->partition->Discard();
      absl::Status removed = RemoveDirectoryAndFiles(fs_, PartitionDir(entry.topic_partition));
      if (!removed.ok()) {
        cluster_.Log(LogLevel::kWarning,
                     absl::StrCat(Name(), " removing ", entry.topic_partition.ToString(), ": ",
                                  removed.ToString()));
      }
    }
    for (const auto* list : {&delta.leading, &delta.following}) {
      for (const PartitionDeltaEntry& entry : *list) {
        std::shared_ptr<Replica> replica = EnsureReplicaLocked(entry);
        if (replica == nullptr) continue;
        absl::Status updated = replica->set->Update(entry.state);
        if (!updated.ok()) {
          cluster_.Log(LogLevel::kError, absl::StrCat(Name(), " ", entry.topic_partition.ToString(),
                                                      ": ", updated.ToString()));
        }
      }
    }
  }

  std::string PartitionDir(const TopicPartition& tp) const {
    return absl::StrCat(dir_, "/", PartitionDirName(tp));
  }

  // The replica of entry's partition, opened (recovering its log) when new.
  std::shared_ptr<Replica> EnsureReplicaLocked(const PartitionDeltaEntry& entry) {
    if (std::shared_ptr<Replica> existing = FindReplica(entry.topic_partition)) {
      if (existing->topic_id == entry.topic_id) return existing;
    }
    absl::StatusOr<std::shared_ptr<Replica>> opened = OpenReplicaLocked(entry);
    if (!opened.ok()) {
      // Kafka would take the log directory offline; this broker just hosts
      // no replica, and leads nothing, for this partition.
      cluster_.Log(LogLevel::kError,
                   absl::StrCat(Name(), " opening ", entry.topic_partition.ToString(), ": ",
                                opened.status().ToString()));
      return nullptr;
    }
    std::lock_guard lock(replicas_mu_);
    replicas_[entry.topic_partition] = *opened;
    return *std::move(opened);
  }

  absl::StatusOr<std::shared_ptr<Replica>> OpenReplicaLocked(const PartitionDeltaEntry& entry) {
    const TopicImage* topic = image_.topic(entry.topic_id);
    if (topic == nullptr) return UnknownPartition(entry.topic_partition);
    EVLOG_ASSIGN_OR_RETURN(TopicSettings settings, SettingsOf(topic->configs, cluster_.options_));
    const int32_t min_isr = settings.min_insync_replicas;

    const std::string dir = PartitionDir(entry.topic_partition);
    EVLOG_ASSIGN_OR_RETURN(bool adopt, CheckTopicIdLocked(dir, entry.topic_id));
    EVLOG_ASSIGN_OR_RETURN(
        std::shared_ptr<Partition> partition,
        internal::OpenPartition(fs_, *cluster_.clock_, dir, entry.topic_partition, settings,
                                [this](const std::string& line) {
                                  cluster_.Log(LogLevel::kWarning, Name() + " " + line);
                                }));
    if (!adopt) EVLOG_RETURN_IF_ERROR(WriteTopicId(dir, entry.topic_id));

    auto replica = std::make_shared<Replica>();
    replica->topic_id = entry.topic_id;
    replica->partition = std::move(partition);
    ReplicaSetOptions replica_options = cluster_.options_.replica;
    replica_options.min_insync_replicas = min_isr;
    replica->set = std::make_unique<ReplicaSet<>>(
        id_, entry.topic_partition, *replica->partition, *cluster_.transport_, *cluster_.executor_,
        *cluster_.clock_,
        [this](IsrChange change, absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done) {
          SendIsrChange(std::move(change), std::move(done));
        },
        replica_options, RestoredHighWatermarkLocked(entry));
    return replica;
  }

  // The checkpointed high watermark of entry's partition when it is of the
  // same topic id; 0 (the log start, after clamping) otherwise.
  Offset RestoredHighWatermarkLocked(const PartitionDeltaEntry& entry) const {
    auto it = restored_high_watermarks_.find(entry.topic_partition);
    if (it == restored_high_watermarks_.end() || it->second.topic_id != entry.topic_id) {
      return Offset(0);
    }
    return it->second.high_watermark;
  }

  void LoadHighWatermarksLocked() {
    restored_high_watermarks_.clear();
    absl::StatusOr<std::vector<internal::HighWatermarkEntry>> entries =
        internal::ReadHighWatermarkCheckpoint(fs_, dir_);
    if (!entries.ok()) {
      // Safe without it: the high watermarks start at the log starts.
      cluster_.Log(LogLevel::kWarning, absl::StrCat(Name(), " ", entries.status().ToString()));
      return;
    }
    for (internal::HighWatermarkEntry& e : *entries) {
      restored_high_watermarks_[e.topic_partition] = std::move(e);
    }
  }

  // Kafka's replica.high.watermark.checkpoint.interval.ms: a crash loses
  // at most that much of the high watermarks' progress, which only delays
  // what readers see after the restart.
  void ScheduleHighWatermarkCheckpointLocked() {
    tasks_->ScheduleAfter(cluster_.options_.high_watermark_checkpoint_interval_ms, [this] {
      std::vector<internal::HighWatermarkEntry> entries;
      {
        std::lock_guard lock(mu_);
        if (!running_) return;
        std::lock_guard replicas_lock(replicas_mu_);
        entries = HighWatermarksLocked(replicas_);
      }
      // The file and its syncs without mu_: heartbeats and metadata go on.
      // Stop closes the tasks before its own write, so writes keep order.
      absl::Status written = WriteHighWatermarks(std::move(entries));
      if (!written.ok()) {
        cluster_.Log(LogLevel::kWarning,
                     absl::StrCat(Name(), " high-watermark checkpoint: ", written.ToString()));
      }
      std::lock_guard lock(mu_);
      if (running_) ScheduleHighWatermarkCheckpointLocked();
    });
  }

  // The high watermarks of `replicas`, and, until the metadata has been
  // applied whole, the restored ones of replicas not opened yet (a restart
  // followed quickly by a crash must not forget them).
  std::vector<internal::HighWatermarkEntry> HighWatermarksLocked(
      const std::map<TopicPartition, std::shared_ptr<Replica>>& replicas) const {
    std::vector<internal::HighWatermarkEntry> entries;
    for (const auto& [tp, replica] : replicas) {
      entries.push_back({tp, replica->topic_id, replica->partition->high_watermark()});
    }
    if (!strays_checked_) {
      for (const auto& [tp, entry] : restored_high_watermarks_) {
        if (!replicas.contains(tp)) entries.push_back(entry);
      }
      std::sort(entries.begin(), entries.end(),
                [](const auto& a, const auto& b) { return a.topic_partition < b.topic_partition; });
    }
    return entries;
  }

  // Writes `entries` unless the file holds them already.
  absl::Status WriteHighWatermarks(std::vector<internal::HighWatermarkEntry> entries) {
    std::lock_guard lock(checkpoint_mu_);
    if (written_high_watermarks_ && *written_high_watermarks_ == entries) return absl::OkStatus();
    EVLOG_RETURN_IF_ERROR(internal::WriteHighWatermarkCheckpoint(fs_, dir_, entries));
    written_high_watermarks_ = std::move(entries);
    return absl::OkStatus();
  }

  // AlterPartition reaches the controller as a task (in Kafka, an RPC),
  // stamped with this broker's epoch so that the controller refuses a
  // proposal from a previous incarnation (STALE_BROKER_EPOCH).
  void SendIsrChange(IsrChange change,
                     absl::AnyInvocable<void(absl::StatusOr<PartitionState>)> done) {
    change.leader_broker_epoch = broker_epoch_atomic_.load(std::memory_order_relaxed);
    Cluster& cluster = cluster_;
    cluster.tasks_->Schedule(
        [&cluster, change = std::move(change), done = std::move(done)]() mutable {
          done(cluster.controller_->AlterPartition(change));
        });
  }

  // True when `dir` holds this topic id's data (or nothing: a new
  // directory); a directory of another topic id (deleted while this broker
  // was down, and the name reused) is emptied first.
  absl::StatusOr<bool> CheckTopicIdLocked(const std::string& dir, TopicId id) {
    const std::string path = absl::StrCat(dir, "/", ToAbsl(kPartitionMetadataFile));
    EVLOG_ASSIGN_OR_RETURN(bool exists, fs_.Exists(path));
    if (!exists) return false;
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs_.Open(path, OpenMode::kReadOnly));
    EVLOG_ASSIGN_OR_RETURN(uint64_t size, file->Size());
    std::string text(static_cast<size_t>(std::min<uint64_t>(size, 256)), '\0');
    EVLOG_ASSIGN_OR_RETURN(
        size_t read,
        file->ReadAt(0, MutableByteView(reinterpret_cast<std::byte*>(text.data()), text.size())));
    text.resize(read);
    (void)file->Close();
    uint64_t stored = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      if (absl::ConsumePrefix(&line, "topic_id: ")) (void)absl::SimpleAtoi(line, &stored);
    }
    if (stored == id.value()) return true;
    cluster_.Log(LogLevel::kWarning, absl::StrCat(Name(), " ", dir, " belongs to topic id ", stored,
                                                  ", not ", id.value(), ": removing it"));
    EVLOG_RETURN_IF_ERROR(RemoveDirectoryAndFiles(fs_, dir));
    return false;
  }

  absl::Status WriteTopicId(const std::string& dir, TopicId id) {
    const std::string path = absl::StrCat(dir, "/", ToAbsl(kPartitionMetadataFile));
    const std::string text = absl::StrCat("version: 0\ntopic_id: ", id.value(), "\n");
    EVLOG_ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs_.Open(path, OpenMode::kCreate));
    EVLOG_RETURN_IF_ERROR(file->Truncate(0));
    EVLOG_RETURN_IF_ERROR(file->Append(AsBytes(text)));
    EVLOG_RETURN_IF_ERROR(file->Sync());
    EVLOG_RETURN_IF_ERROR(file->Close());
    return fs_.SyncDir(dir);
  }

  // Partition directories of replicas this broker no longer hosts (a topic
  // deleted while it was down, or a cluster whose metadata was in memory).
  void RemoveStrayDirectoriesLocked() {
    absl::StatusOr<std::vector<std::string>> names = fs_.ListDir(dir_);
    if (!names.ok()) return;
    // By the metadata, not by the replicas opened: a replica that failed to
    // open keeps its data.
    std::set<std::string> placed;
    for (const auto& [topic_name, topic] : image_.topics()) {
      for (size_t p = 0; p < topic.partitions.size(); ++p) {
        const std::vector<BrokerId>& replicas = topic.partitions[p].replicas;
        if (std::find(replicas.begin(), replicas.end(), id_) != replicas.end()) {
          placed.insert(PartitionDirName(TopicPartition(topic_name, static_cast<int32_t>(p))));
        }
      }
    }
    for (const std::string& name : *names) {
      if (!IsPartitionDirName(name) || placed.contains(name)) continue;
      cluster_.Log(LogLevel::kWarning,
                   absl::StrCat(Name(), " removing ", name, ": no replica of it is placed here"));
      absl::Status removed = RemoveDirectoryAndFiles(fs_, absl::StrCat(dir_, "/", name));
      if (!removed.ok()) {
        cluster_.Log(LogLevel::kWarning, absl::StrCat(Name(), " ", removed.ToString()));
      }
    }
  }

  void ServeRequest(Message request, Responder respond) {
    // Only follower fetches travel between brokers; anything else is
    // dropped (its sender times out).
    if (request.api_key != replica_api::kFetch) return;
    absl::StatusOr<FetchRequest> fetch = DecodeFetchRequest(request.body, request.api_version);
    if (!fetch.ok()) return;
    auto answer = [respond = std::move(respond)](const FetchResponse& response) mutable {
      Message m;
      m.api_key = replica_api::kFetch;
      m.api_version = replica_api::kFetchVersion;
      m.body = EncodeFetchResponse(response);
      std::move(respond)(std::move(m));
    };
    std::shared_ptr<Replica> replica = FindReplica(TopicPartition(fetch->topic, fetch->partition));
    if (replica == nullptr) {
      FetchResponse response;
      response.error = ErrorCode::kNotLeaderOrFollower;
      answer(response);
      return;
    }
    replica->set->HandleFetch(
        *fetch, [answer = std::move(answer)](FetchResponse response) mutable { answer(response); });
  }

  Cluster& cluster_;
  const BrokerId id_;
  const std::optional<std::string> rack_;
  FileSystem& fs_;
  FaultyFileSystem* const faulty_;
  const std::string dir_;

  mutable std::mutex mu_;
  // Written under mu_.
  std::atomic<bool> running_{false};
  uint64_t incarnation_ = 0;
  uint64_t crashes_ = 0;
  // -1: not registered in this run.
  int64_t broker_epoch_ = -1;
  std::atomic<int64_t> broker_epoch_atomic_{-1};
  MetadataImage image_;
  // The offset of the last metadata record applied to image_.
  Offset applied_{-1};
  bool strays_checked_ = false;
  std::unique_ptr<TaskGroup> tasks_;
  // From the checkpoint at Start, until Stop.
  std::map<TopicPartition, internal::HighWatermarkEntry> restored_high_watermarks_;
  // What the checkpoint holds, as far as this run knows; serialises writes.
  std::mutex checkpoint_mu_;
  std::optional<std::vector<internal::HighWatermarkEntry>> written_high_watermarks_;

  mutable std::mutex replicas_mu_;
  std::map<TopicPartition, std::shared_ptr<Replica>> replicas_;
};

// --- Cluster --------------------------------------------------------------------

Cluster::Cluster(ClusterOptions options) : options_(std::move(options)) {}

Cluster::~Cluster() {
  (void)Close();
  nodes_.clear();
}

void Cluster::Log(LogLevel level, std::string_view message) const {
  if (log_sink_->Enabled(level)) log_sink_->Log(level, "cluster", message);
}

absl::StatusOr<std::unique_ptr<Cluster>> Cluster::Open(ClusterOptions options) {
  EVLOG_RETURN_IF_ERROR(options.Validate());
  std::unique_ptr<Cluster> cluster(new Cluster(std::move(options)));
  EVLOG_RETURN_IF_ERROR(cluster->Start());
  return cluster;
}

absl::Status Cluster::Start() {
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
  if (options_.transport != nullptr) {
    transport_ = options_.transport;
  } else {
    owned_transport_ =
        std::make_unique<InProcessTransport>(*executor_, *clock_, options_.transport_seed);
    transport_ = owned_transport_.get();
  }

  EVLOG_RETURN_IF_ERROR(fs_->CreateDir(options_.data_dir));
  std::unique_ptr<MetadataLog> log;
  if (options_.in_memory_metadata) {
    log = std::make_unique<MemoryMetadataLog>();
  } else {
    EVLOG_ASSIGN_OR_RETURN(log, SegmentedMetadataLog::Open(
                                    *fs_, *clock_, absl::StrCat(options_.data_dir, "/controller")));
  }
  EVLOG_ASSIGN_OR_RETURN(controller_,
                         Controller::Open(*clock_, std::move(log), options_.controller));
  tasks_ = std::make_unique<TaskGroup>(*executor_);
  controller_->SetListener([this](const MetadataLogEntry&) { SchedulePropagation(); });

  const MetadataImage image = controller_->image();
  for (int32_t i = 0; i < options_.brokers; ++i) {
    const BrokerId id(i + 1);
    FileSystem* own = options_.broker_file_systems.empty()
                          ? nullptr
                          : options_.broker_file_systems[static_cast<size_t>(i)];
    std::optional<std::string> rack;
    if (!options_.racks.empty()) rack = options_.racks[static_cast<size_t>(i)];
    nodes_.push_back(std::make_unique<Node>(*this, id, std::move(rack),
                                            own != nullptr ? *own : *fs_,
                                            dynamic_cast<FaultyFileSystem*>(own)));
  }
  for (auto& node : nodes_) {
    // A broker registered before comes back as the same incarnation: the
    // whole process restarted, so no other copy of it can be alive.
    const BrokerRegistration* known = image.broker(node->id());
    EVLOG_RETURN_IF_ERROR(node->Start(known != nullptr ? known->incarnation_id : 1));
  }
  // Each catches up and is unfenced; the others learn of it below.
  for (auto& node : nodes_) node->Heartbeat();
  PropagateMetadata();
  ScheduleTick();
  Log(LogLevel::kInfo, absl::StrCat("opened ", options_.data_dir, " with ", options_.brokers,
                                    " brokers and ", image.topics().size(), " topics"));
  return absl::OkStatus();
}

absl::Status Cluster::Close() {
  // The coordinators' calls fail from now on; their writes in flight fail
  // when the brokers stop below. Transactions first: their markers go
  // through the group coordinator.
  std::unique_ptr<broker_internal::ClusterTransactions> transactions;
  {
    std::lock_guard lock(transactions_mu_);
    transactions_closed_ = true;
    transactions = std::move(transactions_);
  }
  if (transactions != nullptr) transactions->Shutdown();
  std::shared_ptr<GroupCoordinator> groups;
  {
    std::lock_guard lock(group_mu_);
    groups_closed_.store(true);
    // Kept (shut down) until the cluster goes: group_coordinator() reads it
    // without the lock once it is there.
    groups = group_coordinator_;
  }
  if (groups != nullptr) groups->Shutdown();
  std::lock_guard admin(admin_mu_);
  if (closed_.exchange(true)) return absl::OkStatus();
  absl::Status first;
  if (controller_ != nullptr) controller_->SetListener({});
  if (tasks_ != nullptr) tasks_->Close();
  for (auto& node : nodes_) {
    absl::Status stopped = node->Stop(/*crash=*/false);
    if (first.ok() && !stopped.ok()) first = stopped;
  }
  // Waits for the transaction coordinator's operations, failed by now.
  transactions.reset();
  controller_.reset();
  return first;
}

Cluster::Node* Cluster::FindNode(BrokerId id) const {
  if (id.value() < 1 || id.value() > static_cast<int32_t>(nodes_.size())) return nullptr;
  return nodes_[static_cast<size_t>(id.value() - 1)].get();
}

void Cluster::SchedulePropagation() {
  if (propagation_scheduled_.exchange(true)) return;
  tasks_->Schedule([this] {
    propagation_scheduled_.store(false);
    PropagateMetadata();
  });
}

void Cluster::ScheduleTick() {
  tasks_->ScheduleAfter(options_.controller_tick_interval_ms, [this] {
    absl::Status ticked = controller_->Tick();
    if (!ticked.ok()) Log(LogLevel::kWarning, absl::StrCat("controller tick: ", ticked.ToString()));
    ScheduleTick();
  });
}

void Cluster::PropagateMetadata() {
  if (closed_.load()) return;
  CatchUpMetadata();
  for (auto& node : nodes_) node->CatchUp();
}

void Cluster::CatchUpMetadata() {
  std::unique_lock lock(metadata_mu_);
  for (;;) {
    absl::StatusOr<std::vector<MetadataLogEntry>> entries =
        controller_->RecordsSince(metadata_offset_ + 1, kMetadataReadBatch);
    if (!entries.ok() || entries->empty()) return;
    for (const MetadataLogEntry& entry : *entries) {
      absl::Status applied = metadata_.Apply(entry.record);
      if (!applied.ok()) {
        Log(LogLevel::kError,
            absl::StrCat("metadata offset ", entry.offset.value(), ": ", applied.ToString()));
        return;
      }
      metadata_offset_ = entry.offset;
    }
    MetadataChanged();
  }
}

void Cluster::MetadataChanged() {
  metadata_version_.fetch_add(1, std::memory_order_acq_rel);
  std::lock_guard lock(metadata_waiters_mu_);
  for (DataWaiter* waiter : metadata_waiters_) waiter->Wake();
}

void Cluster::AddMetadataWaiter(DataWaiter* waiter) {
  std::lock_guard lock(metadata_waiters_mu_);
  metadata_waiters_.push_back(waiter);
}

void Cluster::RemoveMetadataWaiter(DataWaiter* waiter) {
  std::lock_guard lock(metadata_waiters_mu_);
  std::erase(metadata_waiters_, waiter);
}

absl::StatusOr<TopicId> Cluster::CreateTopic(std::string_view name, const NewTopic& topic,
                                             std::optional<bool> unclean) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  EVLOG_RETURN_IF_ERROR(topic.config.ApplyTo(options_.topic_defaults).status());
  std::map<std::string, std::string> configs;
  for (auto& [key, value] : topic.config.ToStrings()) configs.emplace(key, value);
  EVLOG_ASSIGN_OR_RETURN(TopicId id,
                         controller_->CreateTopic(name, topic.partitions, topic.replication_factor,
                                                  std::move(configs), unclean));
  PropagateMetadata();
  return id;
}

absl::Status Cluster::DeleteTopic(std::string_view name) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  EVLOG_RETURN_IF_ERROR(controller_->DeleteTopic(name));
  PropagateMetadata();
  return absl::OkStatus();
}

absl::Status Cluster::CreatePartitions(std::string_view name, int32_t total_partitions) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  EVLOG_RETURN_IF_ERROR(controller_->CreatePartitions(name, total_partitions));
  PropagateMetadata();
  return absl::OkStatus();
}

absl::StatusOr<std::map<TopicPartition, absl::Status>> Cluster::ElectLeaders(
    std::span<const TopicPartition> partitions, ElectionType type) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  EVLOG_ASSIGN_OR_RETURN(auto result, controller_->ElectLeaders(partitions, type));
  PropagateMetadata();
  return result;
}

std::vector<std::string> Cluster::ListTopics() const {
  std::shared_lock lock(metadata_mu_);
  std::vector<std::string> names;
  for (const auto& [name, topic] : metadata_.topics()) names.push_back(name);
  return names;
}

absl::StatusOr<TopicMetadata> Cluster::Describe(std::string_view name) const {
  std::shared_lock lock(metadata_mu_);
  const TopicImage* topic = metadata_.topic(name);
  if (topic == nullptr) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("unknown topic \"", ToAbsl(name), "\""));
  }
  TopicMetadata m;
  m.name = topic->name;
  m.id = topic->id;
  m.configs = topic->configs;
  m.unclean_leader_election_enable = topic->allow_unclean_election;
  for (size_t p = 0; p < topic->partitions.size(); ++p) {
    m.partitions.push_back(ToMetadata(PartitionId(static_cast<int32_t>(p)), topic->partitions[p]));
  }
  return m;
}

absl::StatusOr<PartitionMetadata> Cluster::Metadata(const TopicPartition& tp) const {
  std::shared_lock lock(metadata_mu_);
  const PartitionState* state = metadata_.partition(tp);
  if (state == nullptr) return UnknownPartition(tp);
  return ToMetadata(tp.partition, *state);
}

void Cluster::Produce(const TopicPartition& tp, MutableByteView batch, Acks acks,
                      int64_t timeout_ms, ProduceCallback done, AppendOrigin origin) {
  if (closed_) {
    done(ClosedError());
    return;
  }
  BrokerId leader = kNoLeader;
  {
    std::shared_lock lock(metadata_mu_);
    const PartitionState* state = metadata_.partition(tp);
    if (state == nullptr) {
      lock.unlock();
      done(UnknownPartition(tp));
      return;
    }
    leader = state->leader;
  }
  if (leader == kNoLeader) {
    done(MakeError(ErrorCode::kLeaderNotAvailable,
                   absl::StrCat(tp.ToString(), " has no leader: its in-sync replicas are down")));
    return;
  }
  Node* node = FindNode(leader);
  if (node == nullptr || !node->running()) {
    done(MakeError(ErrorCode::kLeaderNotAvailable,
                   absl::StrCat(tp.ToString(), ": its leader, broker ", leader.value(),
                                ", is down and not yet replaced")));
    return;
  }
  ProduceTo(leader, tp, batch, acks, timeout_ms, std::move(done), origin);
}

void Cluster::ProduceTo(BrokerId broker, const TopicPartition& tp, MutableByteView batch, Acks acks,
                        int64_t timeout_ms, ProduceCallback done, AppendOrigin origin) {
  if (closed_) {
    done(ClosedError());
    return;
  }
  Node* node = FindNode(broker);
  if (node == nullptr || !node->running()) {
    done(MakeError(ErrorCode::kBrokerNotAvailable,
                   absl::StrCat("broker ", broker.value(), " is not running")));
    return;
  }
  std::shared_ptr<Node::Replica> replica = node->FindReplica(tp);
  if (replica == nullptr) {
    absl::StatusOr<PartitionMetadata> metadata = Metadata(tp);
    if (!metadata.ok()) {
      done(metadata.status());
      return;
    }
    done(MakeError(ErrorCode::kNotLeaderOrFollower,
                   absl::StrCat("broker ", broker.value(), " hosts no replica of ", tp.ToString(),
                                "; the current leader is broker ", metadata->leader.value(),
                                " (epoch ", metadata->leader_epoch.value(), ")")));
    return;
  }
  replica->set->Append(
      batch, acks, timeout_ms,
      [this, tp, done = std::move(done)](absl::StatusOr<AppendResult> result) mutable {
        if (!result.ok() && HasErrorCode(result.status(), ErrorCode::kNotLeaderOrFollower)) {
          // Tell the client where to go, as Kafka's CurrentLeader field does.
          absl::StatusOr<PartitionMetadata> metadata = Metadata(tp);
          if (metadata.ok()) {
            result = Annotate(result.status(), absl::StrCat("the current leader is broker ",
                                                            metadata->leader.value(), " (epoch ",
                                                            metadata->leader_epoch.value(), ")"));
          }
        }
        done(std::move(result));
      },
      origin);
}

absl::StatusOr<TopicSettings> Cluster::Settings(std::string_view name) const {
  std::shared_lock lock(metadata_mu_);
  const TopicImage* topic = metadata_.topic(name);
  if (topic == nullptr) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("unknown topic \"", ToAbsl(name), "\""));
  }
  return SettingsOf(topic->configs, options_);
}

absl::StatusOr<std::shared_ptr<GroupCoordinator>> Cluster::group_coordinator(
    const GroupCoordinatorOptions* options) {
  // Lock-free once made: the transaction coordinator's markers ask for it
  // from replication's completions, under locks that making it (creating
  // a topic) takes in another order.
  if (options == nullptr && group_ready_.load(std::memory_order_acquire)) {
    if (closed_ || groups_closed_.load()) return ClosedError();
    return group_coordinator_;
  }
  std::lock_guard lock(group_mu_);
  if (closed_ || groups_closed_.load()) return ClosedError();
  if (group_coordinator_ != nullptr) {
    if (options != nullptr) {
      return absl::FailedPreconditionError(
          "the cluster's group coordinator already runs; options can only be given when it is "
          "made");
    }
    return group_coordinator_;
  }
  EVLOG_ASSIGN_OR_RETURN(
      group_coordinator_,
      GroupCoordinator::Create(*clock_, *executor_, *log_sink_,
                               MakeCoordinatorLog(*this, OffsetStore::kTopic),
                               options != nullptr ? *options : GroupCoordinatorOptions{}));
  group_ready_.store(true, std::memory_order_release);
  return group_coordinator_;
}

absl::StatusOr<TransactionCoordinator*> Cluster::transaction_coordinator() {
  std::lock_guard lock(transactions_mu_);
  if (closed_ || transactions_closed_) return ClosedError();
  if (transactions_ == nullptr) {
    EVLOG_ASSIGN_OR_RETURN(transactions_, broker_internal::ClusterTransactions::Start(*this));
  }
  return transactions_->coordinator();
}

absl::StatusOr<ProducerId> Cluster::InitProducerId() {
  if (closed_) return ClosedError();
  std::lock_guard lock(producer_ids_mu_);
  if (producer_ids_ == nullptr) {
    EVLOG_ASSIGN_OR_RETURN(
        producer_ids_,
        ProducerIdManager::Open(*fs_, absl::StrCat(options_.data_dir, "/producer-ids")));
  }
  return producer_ids_->NextId();
}

absl::StatusOr<LeaderReplica> Cluster::Leader(const TopicPartition& tp) const {
  if (closed_) return ClosedError();
  EVLOG_ASSIGN_OR_RETURN(PartitionMetadata metadata, Metadata(tp));
  if (metadata.leader == kNoLeader) {
    return MakeError(ErrorCode::kLeaderNotAvailable,
                     absl::StrCat(tp.ToString(), " has no leader: its in-sync replicas are down"));
  }
  Node* node = FindNode(metadata.leader);
  std::shared_ptr<Node::Replica> replica =
      node != nullptr && node->running() ? node->FindReplica(tp) : nullptr;
  if (replica == nullptr) {
    return MakeError(ErrorCode::kLeaderNotAvailable,
                     absl::StrCat(tp.ToString(), ": its leader, broker ", metadata.leader.value(),
                                  ", is down and not yet replaced"));
  }
  if (!replica->set->is_leader()) {
    return MakeError(ErrorCode::kNotLeaderOrFollower,
                     absl::StrCat("broker ", metadata.leader.value(), " has not yet taken over ",
                                  tp.ToString()));
  }
  return LeaderReplica{metadata.leader, metadata.leader_epoch, replica->partition};
}

absl::StatusOr<ClusterFetchResult> Cluster::Fetch(const TopicPartition& tp, Offset offset,
                                                  size_t max_bytes) {
  EVLOG_ASSIGN_OR_RETURN(LeaderReplica leader, Leader(tp));
  std::vector<std::byte> buffer;
  LogReadOptions read;
  read.max_bytes = std::max<size_t>(max_bytes, 1);
  EVLOG_ASSIGN_OR_RETURN(LogReadResult result, leader.partition->Read(offset, buffer, read));
  ClusterFetchResult out;
  out.records.assign(result.batches.begin(), result.batches.end());
  out.next_offset = result.next_offset;
  out.high_watermark = leader.partition->high_watermark();
  out.log_start_offset = result.log_start_offset;
  out.leader = leader.broker;
  out.leader_epoch = leader.leader_epoch;
  return out;
}

absl::Status Cluster::CrashBroker(BrokerId id) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  Node* node = FindNode(id);
  if (node == nullptr) {
    return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("no broker ", id.value()));
  }
  if (!node->running()) {
    return absl::FailedPreconditionError(absl::StrCat("broker ", id.value(), " is not running"));
  }
  return node->Stop(/*crash=*/true);
}

absl::Status Cluster::StopBroker(BrokerId id) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  Node* node = FindNode(id);
  if (node == nullptr) {
    return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("no broker ", id.value()));
  }
  if (!node->running()) {
    return absl::FailedPreconditionError(absl::StrCat("broker ", id.value(), " is not running"));
  }
  node->ControlledShutdown();
  // The new leaders take over before this broker's logs close.
  PropagateMetadata();
  return node->Stop(/*crash=*/false);
}

absl::Status Cluster::RestartBroker(BrokerId id) {
  std::lock_guard admin(admin_mu_);
  if (closed_) return ClosedError();
  Node* node = FindNode(id);
  if (node == nullptr) {
    return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("no broker ", id.value()));
  }
  if (node->running()) {
    return absl::FailedPreconditionError(absl::StrCat("broker ", id.value(), " is running"));
  }
  // A new incarnation: refused while the previous one's session lives.
  EVLOG_RETURN_IF_ERROR(node->Start(node->incarnation() + 1));
  node->Heartbeat();
  PropagateMetadata();
  return absl::OkStatus();
}

bool Cluster::IsRunning(BrokerId id) const {
  Node* node = FindNode(id);
  return node != nullptr && node->running();
}

bool Cluster::IsRegistered(BrokerId id) const {
  Node* node = FindNode(id);
  return node != nullptr && node->registered();
}

absl::StatusOr<std::shared_ptr<Partition>> Cluster::ReplicaLog(BrokerId id,
                                                               const TopicPartition& tp) const {
  Node* node = FindNode(id);
  if (node == nullptr) {
    return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("no broker ", id.value()));
  }
  std::shared_ptr<Node::Replica> replica = node->FindReplica(tp);
  if (replica == nullptr) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("broker ", id.value(), " hosts no replica of ", tp.ToString()));
  }
  return replica->partition;
}

absl::StatusOr<ReplicaStatus> Cluster::ReplicaState(BrokerId id, const TopicPartition& tp) const {
  Node* node = FindNode(id);
  if (node == nullptr) {
    return MakeError(ErrorCode::kInvalidRequest, absl::StrCat("no broker ", id.value()));
  }
  std::shared_ptr<Node::Replica> replica = node->FindReplica(tp);
  if (replica == nullptr) {
    return MakeError(ErrorCode::kUnknownTopicOrPartition,
                     absl::StrCat("broker ", id.value(), " hosts no replica of ", tp.ToString()));
  }
  return replica->set->status();
}

}  // namespace evlog
