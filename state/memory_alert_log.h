// An in-memory AlertLog for tests: the RocksDB implementation over RocksDB's
// in-memory file system, so the semantics are exactly the durable one's
// (nothing survives the object, though).
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "state/alert_log.h"

namespace exportwatch {

struct MemoryAlertLogOptions {
  // See RocksDbAlertLogOptions::list_scan_limit. Default 100000.
  size_t list_scan_limit = 100000;
};

[[nodiscard]] absl::StatusOr<std::unique_ptr<AlertLog>> NewMemoryAlertLog(
    const MemoryAlertLogOptions& options = {});

}  // namespace exportwatch
