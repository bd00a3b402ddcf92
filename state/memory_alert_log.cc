#include "state/memory_alert_log.h"

#include "state/rocksdb_alert_log.h"

namespace exportwatch {

absl::StatusOr<std::unique_ptr<AlertLog>> NewMemoryAlertLog(const MemoryAlertLogOptions& options) {
  RocksDbAlertLogOptions rocksdb;
  rocksdb.path = "/exportwatch-alert-log";
  rocksdb.in_memory = true;
  rocksdb.block_cache_bytes = 1 << 20;
  rocksdb.write_buffer_bytes = 4 << 20;
  rocksdb.sync_status_updates = false;
  rocksdb.list_scan_limit = options.list_scan_limit;
  return OpenRocksDbAlertLog(rocksdb);
}

}  // namespace exportwatch
