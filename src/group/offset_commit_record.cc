#include "evlog/group/offset_commit_record.h"

#include <cstring>
#include <string_view>
#include <type_traits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "evlog/check.h"
#include "evlog/record/internal/wire.h"
#include "evlog/status.h"

namespace evlog {

namespace fmt = consumer_offsets_format;

namespace {

using Reader = internal::WireReader;
using Writer = internal::WireWriter;

absl::Status Corrupt(std::string_view what, std::string_view why) {
  return MakeError(
      ErrorCode::kCorruptMessage,
      absl::StrCat("__consumer_offsets ", internal::ToAbsl(what), ": ", internal::ToAbsl(why)));
}

absl::Status TooLong(std::string_view field, size_t size) {
  return MakeError(ErrorCode::kInvalidRequest,
                   absl::StrCat(internal::ToAbsl(field), " of ", size, " bytes is longer than ",
                                fmt::kMaxStringBytes));
}

}  // namespace

absl::StatusOr<int16_t> PeekConsumerOffsetsKeyVersion(ByteView key) {
  Reader in(key);
  int16_t version;
  if (!in.Int(version)) return Corrupt("key", "shorter than its 2-byte version");
  return version;
}

absl::StatusOr<std::vector<std::byte>> EncodeOffsetCommitKey(const OffsetCommitKey& key) {
  if (key.group.size() > fmt::kMaxStringBytes) return TooLong("group id", key.group.size());
  if (key.topic.size() > fmt::kMaxStringBytes) return TooLong("topic name", key.topic.size());
  Writer out(fmt::kKeyFixedBytes + key.group.size() + key.topic.size());
  out.Int(fmt::kOffsetCommitKeyVersion);
  out.String(key.group);
  out.String(key.topic);
  out.Int(key.partition.value());
  return std::move(out).Take();
}

absl::StatusOr<OffsetCommitKey> DecodeOffsetCommitKey(ByteView bytes) {
  Reader in(bytes);
  int16_t version;
  if (!in.Int(version)) return Corrupt("key", "shorter than its 2-byte version");
  if (version != fmt::kOffsetCommitKeyVersion0 && version != fmt::kOffsetCommitKeyVersion) {
    return Corrupt("key", absl::StrCat("version ", version, " is not an offset commit key"));
  }
  OffsetCommitKey key;
  int32_t partition;
  if (!in.String(key.group)) return Corrupt("offset commit key", "bad or truncated group");
  if (!in.String(key.topic)) return Corrupt("offset commit key", "bad or truncated topic");
  if (!in.Int(partition)) return Corrupt("offset commit key", "truncated partition");
  if (in.remaining() != 0) {
    return Corrupt("offset commit key", absl::StrCat(in.remaining(), " bytes after the key"));
  }
  key.partition = PartitionId(partition);
  return key;
}

absl::StatusOr<std::vector<std::byte>> EncodeOffsetCommitValue(const OffsetCommitValue& value,
                                                               int16_t version) {
  if (version < 0 || version > fmt::kMaxOffsetCommitValueVersion) {
    return MakeError(ErrorCode::kInvalidRequest,
                     absl::StrCat("offset commit value version ", version, " is not 0 to ",
                                  fmt::kMaxOffsetCommitValueVersion));
  }
  if (value.metadata.size() > fmt::kMaxStringBytes) {
    return TooLong("offset metadata", value.metadata.size());
  }
  const size_t size =
      2 + 8 + (version >= 3 ? 4 : 0) + 2 + value.metadata.size() + 8 + (version == 1 ? 8 : 0);
  Writer out(size);
  out.Int(version);
  out.Int(value.offset.value());
  if (version >= 3) out.Int(value.leader_epoch.value());
  out.String(value.metadata);
  out.Int(value.commit_timestamp_ms);
  if (version == 1) out.Int(value.expire_timestamp_ms.value_or(-1));
  return std::move(out).Take();
}

absl::StatusOr<OffsetCommitValue> DecodeOffsetCommitValue(ByteView bytes) {
  Reader in(bytes);
  int16_t version;
  if (!in.Int(version)) return Corrupt("offset commit value", "shorter than its 2-byte version");
  if (version < 0 || version > fmt::kMaxOffsetCommitValueVersion) {
    return Corrupt("offset commit value",
                   absl::StrCat("version ", version, " (this build reads 0 to ",
                                fmt::kMaxOffsetCommitValueVersion, ")"));
  }
  OffsetCommitValue value;
  int64_t offset;
  if (!in.Int(offset)) return Corrupt("offset commit value", "truncated offset");
  value.offset = Offset(offset);
  if (version >= 3) {
    int32_t epoch;
    if (!in.Int(epoch)) return Corrupt("offset commit value", "truncated leader epoch");
    value.leader_epoch = LeaderEpoch(epoch);
  }
  if (!in.String(value.metadata)) {
    return Corrupt("offset commit value", "bad or truncated metadata");
  }
  if (!in.Int(value.commit_timestamp_ms)) {
    return Corrupt("offset commit value", "truncated commit timestamp");
  }
  if (version == 1) {
    int64_t expire;
    if (!in.Int(expire)) return Corrupt("offset commit value", "truncated expire timestamp");
    if (expire != -1) value.expire_timestamp_ms = expire;
  }
  if (in.remaining() != 0) {
    return Corrupt("offset commit value", absl::StrCat(in.remaining(), " bytes after the value"));
  }
  return value;
}

}  // namespace evlog
