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
#include "evlog/io/file_system.h"
