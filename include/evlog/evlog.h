// evlog/evlog.h — the umbrella header: everything an application uses.
//
//   #include "evlog/evlog.h"
//
// Including one layer's headers directly (evlog/io/clock.h, ...) compiles
// faster; this header is for convenience. Each layer adds its public headers
// here as it lands; internal/ headers are never listed.
#pragma once

// Core vocabulary: errors, strong types, bytes, invariant checks, version.
#include "evlog/bytes.h"
#include "evlog/check.h"
#include "evlog/status.h"
#include "evlog/types.h"
#include "evlog/version.h"

// io: file systems and clocks.
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/faulty_file_system.h"
#include "evlog/io/file_system.h"
#include "evlog/io/log_sink.h"
#include "evlog/io/mem_file_system.h"
#include "evlog/io/posix_file_system.h"
#include "evlog/record/control_record.h"
#include "evlog/record/crc32c.h"
#include "evlog/record/record.h"
#include "evlog/record/record_batch.h"
#include "evlog/record/record_batch_builder.h"
#include "evlog/record/record_format.h"
#include "evlog/storage/leader_epoch_cache.h"
#include "evlog/storage/log_cleaner.h"
#include "evlog/storage/log_config.h"
#include "evlog/storage/log_segment.h"
#include "evlog/storage/offset_index.h"
#include "evlog/storage/segmented_log.h"
#include "evlog/storage/time_index.h"
#include "evlog/partition/crc32_partitioner.h"
#include "evlog/partition/default_partitioner.h"
#include "evlog/partition/murmur2_partitioner.h"
#include "evlog/partition/partition.h"
#include "evlog/partition/partitioner.h"
#include "evlog/partition/round_robin_partitioner.h"
#include "evlog/partition/sticky_partitioner.h"
#include "evlog/partition/topic.h"
#include "evlog/partition/topic_config.h"
#include "evlog/partition/xxhash_partitioner.h"
#include "evlog/transport/in_process_transport.h"
#include "evlog/transport/transport.h"
#include "evlog/broker/broker.h"
#include "evlog/client/consumer.h"
#include "evlog/client/producer.h"
#include "evlog/client/prometheus.h"
