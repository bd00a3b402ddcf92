#include "state/rocksdb_state_store.h"

#include <ctime>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "rocksdb/cache.h"
#include "rocksdb/compaction_filter.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/slice_transform.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "state/rocksdb_status.h"

namespace exportwatch {
namespace {

using rocks::ToStatus;

// Drops expired de-duplication entries during compaction, so the dedup
// window costs disk only for its retention.
class ExpiryFilter final : public rocksdb::CompactionFilter {
 public:
  explicit ExpiryFilter(std::string prefix) : prefix_(std::move(prefix)) {}
  bool Filter(int, const rocksdb::Slice& key, const rocksdb::Slice& value, std::string*,
              bool*) const override {
    if (prefix_.empty() || !key.starts_with(prefix_)) return false;
    auto [expiry, payload] = DecodeExpiring(absl::string_view(value.data(), value.size()));
    return expiry != 0 && expiry < static_cast<int64_t>(std::time(nullptr));
  }
  const char* Name() const override { return "exportwatch.ExpiryFilter"; }

 private:
  std::string prefix_;
};

absl::Status ScanIterator(rocksdb::Iterator* it, absl::string_view prefix, absl::string_view start,
                          const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  absl::string_view from = start > prefix ? start : prefix;
  for (it->Seek(rocksdb::Slice(from.data(), from.size())); it->Valid(); it->Next()) {
    rocksdb::Slice k = it->key();
    if (!k.starts_with(rocksdb::Slice(prefix.data(), prefix.size()))) break;
    rocksdb::Slice v = it->value();
    if (!fn(absl::string_view(k.data(), k.size()), absl::string_view(v.data(), v.size()))) {
      break;
    }
  }
  return ToStatus(it->status(), "state scan");
}

// One iterator kept open, not an explicit RocksDB snapshot: the iterator
// reads the DB as of its creation and pins the memtables and files it needs
// until it is destroyed. (An explicit snapshot, once released, makes RocksDB
// rewrite every bottommost file that holds keys newer than it, to zero their
// sequence numbers: with 5M keys of state that "BottommostFiles" compaction
// halved the processor's CPU throughput.)
class RocksDbSnapshot final : public StateSnapshot {
 public:
  explicit RocksDbSnapshot(rocksdb::DB* db) {
    rocksdb::ReadOptions ro;
    // A whole-shard pass: do not push the hot blocks out of the cache.
    ro.fill_cache = false;
    it_.reset(db->NewIterator(ro));
  }

  absl::Status Scan(absl::string_view prefix, absl::string_view start,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn) override {
    return ScanIterator(it_.get(), prefix, start, fn);
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksDbStateStore final : public StateStore {
 public:
  RocksDbStateStore(std::unique_ptr<rocksdb::DB> db, std::unique_ptr<ExpiryFilter> filter,
                    bool sync)
      : filter_(std::move(filter)), db_(std::move(db)), sync_(sync) {}

  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    std::string value;
    rocksdb::Status s =
        db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
    if (s.IsNotFound()) return std::nullopt;
    if (!s.ok()) return ToStatus(s, "state get");
    return value;
  }

  absl::Status Write(const WriteBatch& batch) override {
    rocksdb::WriteBatch wb;
    for (const auto& op : batch.ops()) {
      rocksdb::Status s = op.value ? wb.Put(op.key, *op.value) : wb.Delete(op.key);
      if (!s.ok()) return ToStatus(s, "state batch");
    }
    rocksdb::WriteOptions wo;
    wo.sync = sync_;
    return ToStatus(db_->Write(wo, &wb), "state write");
  }

  absl::Status Scan(absl::string_view prefix, absl::string_view start,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn) override {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
    return ScanIterator(it.get(), prefix, start, fn);
  }

  std::unique_ptr<StateSnapshot> NewSnapshot() override {
    return std::make_unique<RocksDbSnapshot>(db_.get());
  }

 private:
  // Declared before db_ so that it is destroyed after the database closes.
  std::unique_ptr<ExpiryFilter> filter_;
  std::unique_ptr<rocksdb::DB> db_;
  bool sync_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<StateStore>> OpenRocksDbStateStore(
    const RocksDbStateStoreOptions& options) {
  if (options.path.empty()) {
    return absl::InvalidArgumentError("state store path is empty");
  }
  auto filter = std::make_unique<ExpiryFilter>(options.ttl_prefix);
  rocksdb::Options ro;
  ro.create_if_missing = true;
  ro.write_buffer_size = options.write_buffer_bytes;
  ro.max_write_buffer_number = 2;
  // Most reads are misses (see the table's filter below), and most end in
  // the memtable: a Bloom filter over whole keys (2% of the write buffer)
  // answers them without a skiplist search.
  ro.memtable_prefix_bloom_size_ratio = 0.02;
  ro.memtable_whole_key_filtering = true;
  // A batch arrives in key order (TaskState::Commit). With an insert hint
  // per first byte of the key (so two: the d/ marks and the p/ state), the
  // memtable's skiplist resumes each insert from the previous one and climbs
  // only as far as the gap between them (RocksDB's "partial splice fix");
  // without a hint it searches from the top unless the key lands exactly
  // next to the last. (RocksDB shares the hints with range deletions: add
  // DeleteRange only after checking that is safe.)
  ro.memtable_insert_with_hint_prefix_extractor.reset(rocksdb::NewFixedPrefixTransform(1));
  ro.compaction_filter = filter.get();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  // Most reads are misses (every fact's de-duplication lookup is for an event
  // id not seen before): a Bloom filter per file (10 bits/key, ~1% false
  // positives) answers them without reading a data block from every level.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(ro, options.path, &raw);
  if (!s.ok()) return ToStatus(s, absl::StrCat("open state store ", options.path));
  return std::make_unique<RocksDbStateStore>(std::unique_ptr<rocksdb::DB>(raw), std::move(filter),
                                             options.sync_writes);
}

}  // namespace exportwatch
