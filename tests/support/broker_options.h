// tests/support/broker_options.h — the options of a Broker on an in-memory
// disk, as the tests open one.
#pragma once

#include "evlog/broker/broker.h"
#include "evlog/io/clock.h"
#include "evlog/io/executor.h"
#include "evlog/io/file_system.h"

namespace evlog::testing {

// A Broker in "/data" on `fs`, running its tasks on `executor`, on `clock`
// when given (a ManualClock, for tests that drive time) or else the system
// clock. In memory a preallocated index costs its full size: they are kept
// small.
inline BrokerOptions InMemoryBrokerOptions(FileSystem& fs, Executor& executor,
                                           Clock* clock = nullptr) {
  BrokerOptions o;
  o.data_dir = "/data";
  o.topic_defaults.log.segment_index_bytes = 64 << 10;
  o.file_system = &fs;
  o.executor = &executor;
  o.clock = clock;
  return o;
}

}  // namespace evlog::testing
