// RocksDB implementation of AlertLog.
//
// Key layout (one column family; every key starts with a one-letter tag):
//   s/<16 hex seq>   serialized v1::Alert, `cursor` set (= the hex seq), with
//                    its current triage. Hex sorts like the number, so a
//                    forward scan from s/<cursor> reads in append order.
//   i/<alert_id>     16 hex seq of that alert: the de-duplication index.
//   m/source         the source position of the last Append that had one.
//   m/layout         layout version ("1"); a different one refuses to open.
// Head sequence number: recovered at open from the last s/ key.
//
// Appends are serialized by a mutex (sequence numbers are assigned in
// memory, then written with the alerts, index entries and source position
// in one WriteBatch); reads go straight to RocksDB and never block appends.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "state/alert_log.h"

namespace exportwatch {

struct RocksDbAlertLogOptions {
  // Directory of the database; created when missing. Required.
  std::string path;
  // Block cache size in bytes. Default 32 MiB.
  uint64_t block_cache_bytes = 32ull << 20;
  // Memtable size in bytes (two of them at most). Default 16 MiB.
  uint64_t write_buffer_bytes = 16ull << 20;
  // fsync the WAL on every Append. Default false: the WAL is written on
  // every Append (survives a process crash), and an Append lost to a power
  // failure is re-read from Kafka, since its source position is lost with it.
  bool sync_appends = false;
  // fsync the WAL on every UpdateStatus. Default true: triage is human input
  // that nothing can replay.
  bool sync_status_updates = true;
  // List examines at most this many stored alerts per call, so that a narrow
  // filter over a long log cannot pin a thread; the page then ends early
  // with a next_page_token. Default 100000.
  size_t list_scan_limit = 100000;
  // Keep the database in memory (RocksDB's in-memory file system under
  // `path`), for tests; nothing survives the object. Default false.
  bool in_memory = false;
};

// Opens (or creates) the log at options.path.
[[nodiscard]] absl::StatusOr<std::unique_ptr<AlertLog>> OpenRocksDbAlertLog(
    const RocksDbAlertLogOptions& options);

}  // namespace exportwatch
