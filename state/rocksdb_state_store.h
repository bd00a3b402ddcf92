// RocksDB implementation of StateStore.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "state/state_store.h"

namespace exportwatch {

struct RocksDbStateStoreOptions {
  // Directory of the database; created when missing. Required.
  std::string path;
  // Block cache size in bytes; index and Bloom filter blocks (10 bits per
  // key) are kept in it too, so with the memtables below it bounds RocksDB's
  // memory (128 MiB by default). Default 64 MiB.
  uint64_t block_cache_bytes = 64ull << 20;
  // Memtable size in bytes (two of them at most). Default 32 MiB.
  uint64_t write_buffer_bytes = 32ull << 20;
  // fsync the WAL on every Write. Default false: the WAL is written on every
  // Write (survives a process crash, which is what kill -9 tests), and
  // RocksDB syncs it in the background; set true to survive power loss too.
  bool sync_writes = false;
  // Keys beginning with this prefix hold expiring values (EncodeExpiring) and
  // are dropped at compaction once expired. Default "d/" (dedup entries).
  std::string ttl_prefix = "d/";
};

[[nodiscard]] absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksDbStateStore(
    const RocksDbStateStoreOptions& options);

}  // namespace exportwatch
