#include "state/rocksdb_alert_log.h"

#include <algorithm>
#include <atomic>
#include <limits>
#include <unordered_set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "rocksdb/cache.h"
#include "rocksdb/db.h"
#include "rocksdb/env.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "state/rocksdb_status.h"

namespace exportwatch {
namespace {

constexpr char kSeqPrefix[] = "s/";
constexpr size_t kSeqPrefixSize = sizeof(kSeqPrefix) - 1;
// First key after every s/ key ('0' follows '/').
constexpr char kSeqEnd[] = "s0";
constexpr char kIdPrefix[] = "i/";
constexpr char kSourceKey[] = "m/source";
constexpr char kLayoutKey[] = "m/layout";
constexpr char kLayoutVersion[] = "1";

// Debian's Abseil has its own string_view, distinct from std's.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

rocksdb::Slice ToSlice(std::string_view s) { return {s.data(), s.size()}; }
std::string_view ToView(const rocksdb::Slice& s) { return {s.data(), s.size()}; }

std::string SeqKey(uint64_t seq) { return absl::StrCat(kSeqPrefix, FormatCursor(seq)); }
std::string IdKey(std::string_view alert_id) { return absl::StrCat(kIdPrefix, Sv(alert_id)); }

absl::Status ToStatus(const rocksdb::Status& s, std::string_view what) {
  return rocks::ToStatus(s, absl::StrCat("alert log ", Sv(what)));
}

absl::StatusOr<uint64_t> SeqOfKey(const rocksdb::Slice& key) {
  absl::StatusOr<uint64_t> seq = ParseCursor(ToView(key).substr(kSeqPrefixSize));
  if (!seq.ok()) {
    return absl::DataLossError(absl::StrCat("alert log: bad key ", Sv(ToView(key))));
  }
  return seq;
}

absl::StatusOr<v1::Alert> ParseAlert(const rocksdb::Slice& key, const rocksdb::Slice& value) {
  v1::Alert alert;
  if (!alert.ParseFromArray(value.data(), static_cast<int>(value.size()))) {
    return absl::DataLossError(absl::StrCat("alert log: unparsable alert under ", Sv(ToView(key))));
  }
  return alert;
}

struct Settings {
  bool sync_appends = false;
  bool sync_status_updates = true;
  size_t list_scan_limit = 100000;
};

class RocksDbAlertLog final : public AlertLog {
 public:
  RocksDbAlertLog(std::unique_ptr<rocksdb::Env> env, std::unique_ptr<rocksdb::DB> db, uint64_t head,
                  Settings settings)
      : env_(std::move(env)), db_(std::move(db)), settings_(settings), head_(head) {}

  absl::StatusOr<AppendResult> Append(std::vector<v1::Alert> alerts,
                                      std::string source_position) override {
    for (size_t i = 0; i < alerts.size(); ++i) {
      if (alerts[i].alert_id().empty()) {
        return absl::InvalidArgumentError(absl::StrCat("alert log append: alert ", i, " of ",
                                                       alerts.size(), " has an empty alert_id"));
      }
    }
    absl::MutexLock lock(&write_mu_);
    AppendResult result;
    rocksdb::WriteBatch batch;
    std::unordered_set<std::string> batch_ids;
    uint64_t next = head_.load(std::memory_order_relaxed);
    for (v1::Alert& alert : alerts) {
      if (!batch_ids.insert(alert.alert_id()).second) {
        ++result.duplicates;
        continue;
      }
      std::string stored_seq;
      rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), IdKey(alert.alert_id()), &stored_seq);
      if (s.ok()) {
        ++result.duplicates;
        continue;
      }
      if (!s.IsNotFound()) return ToStatus(s, "dedup lookup");
      ++next;
      std::string cursor = FormatCursor(next);
      alert.set_cursor(cursor);
      std::string value;
      if (!alert.SerializeToString(&value)) {
        return absl::InternalError("alert log append: cannot serialize alert");
      }
      batch.Put(SeqKey(next), value);
      batch.Put(IdKey(alert.alert_id()), cursor);
      result.appended.push_back(std::move(alert));
    }
    if (!source_position.empty()) batch.Put(ToSlice(kSourceKey), source_position);
    if (batch.Count() > 0) {
      rocksdb::WriteOptions wo;
      wo.sync = settings_.sync_appends;
      RETURN_IF_ERROR(ToStatus(db_->Write(wo, &batch), "append"));
    }
    // Published only after the write, so HeadSeq() never names an alert
    // that a reader cannot find.
    head_.store(next, std::memory_order_release);
    appended_.fetch_add(result.appended.size(), std::memory_order_relaxed);
    duplicates_.fetch_add(result.duplicates, std::memory_order_relaxed);
    return result;
  }

  absl::StatusOr<std::optional<std::string>> LastSourcePosition() override {
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), ToSlice(kSourceKey), &value);
    if (s.IsNotFound()) return std::nullopt;
    RETURN_IF_ERROR(ToStatus(s, "read source position"));
    return value;
  }

  absl::StatusOr<v1::Alert> Get(std::string_view alert_id) override {
    ASSIGN_OR_RETURN(uint64_t seq, SeqOf(alert_id));
    return ReadSeq(seq);
  }

  absl::StatusOr<std::vector<v1::Alert>> ReadAfter(uint64_t after_seq, size_t limit) override {
    std::vector<v1::Alert> out;
    if (limit == 0 || after_seq == std::numeric_limits<uint64_t>::max()) {
      return out;
    }
    rocksdb::Slice upper = ToSlice(kSeqEnd);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    for (it->Seek(SeqKey(after_seq + 1)); it->Valid() && out.size() < limit; it->Next()) {
      ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->key(), it->value()));
      out.push_back(std::move(alert));
    }
    RETURN_IF_ERROR(ToStatus(it->status(), "read"));
    return out;
  }

  uint64_t HeadSeq() const override { return head_.load(std::memory_order_acquire); }

  absl::StatusOr<v1::Alert> UpdateStatus(std::string_view alert_id,
                                         const v1::Triage& triage) override {
    // Under the write mutex so that two updates of one alert do not
    // interleave their read-modify-write.
    absl::MutexLock lock(&write_mu_);
    ASSIGN_OR_RETURN(uint64_t seq, SeqOf(alert_id));
    ASSIGN_OR_RETURN(v1::Alert alert, ReadSeq(seq));
    *alert.mutable_triage() = triage;
    std::string value;
    if (!alert.SerializeToString(&value)) {
      return absl::InternalError("alert log update: cannot serialize alert");
    }
    rocksdb::WriteOptions wo;
    wo.sync = settings_.sync_status_updates;
    RETURN_IF_ERROR(ToStatus(db_->Put(wo, SeqKey(seq), value), "update status"));
    status_updates_.fetch_add(1, std::memory_order_relaxed);
    return alert;
  }

  absl::StatusOr<ListPage> List(const AlertFilter& filter, std::string_view page_token,
                                size_t page_size) override {
    if (page_size == 0) {
      return absl::InvalidArgumentError("alert log list: page_size is 0");
    }
    uint64_t after = 0;
    if (!page_token.empty()) {
      absl::StatusOr<uint64_t> parsed = ParseCursor(page_token);
      if (!parsed.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad page_token: ", parsed.status().message()));
      }
      after = *parsed;
    }
    ListPage page;
    if (after == std::numeric_limits<uint64_t>::max()) return page;
    rocksdb::Slice upper = ToSlice(kSeqEnd);
    rocksdb::ReadOptions ro;
    ro.iterate_upper_bound = &upper;
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro));
    uint64_t last_scanned = after;
    size_t scanned = 0;
    for (it->Seek(SeqKey(after + 1)); it->Valid(); it->Next()) {
      // Another stored alert exists: the page ends with a token only if so.
      if (page.alerts.size() == page_size || scanned == settings_.list_scan_limit) {
        page.next_page_token = FormatCursor(last_scanned);
        break;
      }
      ASSIGN_OR_RETURN(last_scanned, SeqOfKey(it->key()));
      ++scanned;
      ASSIGN_OR_RETURN(v1::Alert alert, ParseAlert(it->key(), it->value()));
      if (filter.Matches(alert)) page.alerts.push_back(std::move(alert));
    }
    RETURN_IF_ERROR(ToStatus(it->status(), "list"));
    return page;
  }

  Counters counters() const override {
    Counters c;
    c.appended = appended_.load(std::memory_order_relaxed);
    c.duplicates_dropped = duplicates_.load(std::memory_order_relaxed);
    c.status_updates = status_updates_.load(std::memory_order_relaxed);
    return c;
  }

 private:
  absl::StatusOr<uint64_t> SeqOf(std::string_view alert_id) {
    std::string cursor;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), IdKey(alert_id), &cursor);
    if (s.IsNotFound()) {
      return absl::NotFoundError(absl::StrCat("no alert with id \"", Sv(alert_id), "\""));
    }
    RETURN_IF_ERROR(ToStatus(s, "index lookup"));
    absl::StatusOr<uint64_t> seq = ParseCursor(cursor);
    if (!seq.ok()) {
      return absl::DataLossError(absl::StrCat("alert log: bad index entry for ", Sv(alert_id)));
    }
    return seq;
  }

  absl::StatusOr<v1::Alert> ReadSeq(uint64_t seq) {
    std::string key = SeqKey(seq);
    std::string value;
    rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key, &value);
    // The index and the alert are written in one batch: a missing alert
    // means the database is damaged, not that the id is unknown.
    if (s.IsNotFound()) {
      return absl::DataLossError(absl::StrCat("alert log: index names missing ", key));
    }
    RETURN_IF_ERROR(ToStatus(s, "read alert"));
    return ParseAlert(key, value);
  }

  // Declared before db_ so that it is destroyed after the database closes.
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
  const Settings settings_;
  absl::Mutex write_mu_;
  std::atomic<uint64_t> head_;
  std::atomic<uint64_t> appended_{0};
  std::atomic<uint64_t> duplicates_{0};
  std::atomic<uint64_t> status_updates_{0};
};

absl::StatusOr<std::unique_ptr<AlertLog>> Open(const std::string& path, uint64_t block_cache_bytes,
                                               uint64_t write_buffer_bytes, Settings settings,
                                               std::unique_ptr<rocksdb::Env> env) {
  if (path.empty()) return absl::InvalidArgumentError("alert log path is empty");
  rocksdb::Options ro;
  ro.create_if_missing = true;
  ro.write_buffer_size = write_buffer_bytes;
  ro.max_write_buffer_number = 2;
  if (env) ro.env = env.get();
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(block_cache_bytes);
  table.cache_index_and_filter_blocks = true;
  // Most de-duplication lookups are for new ids: a bloom filter answers
  // them without reading a data block.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::DB* raw = nullptr;
  RETURN_IF_ERROR(ToStatus(rocksdb::DB::Open(ro, path, &raw), absl::StrCat("open ", path)));
  std::unique_ptr<rocksdb::DB> db(raw);

  std::string layout;
  rocksdb::Status s = db->Get(rocksdb::ReadOptions(), ToSlice(kLayoutKey), &layout);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions wo;
    wo.sync = true;
    RETURN_IF_ERROR(ToStatus(db->Put(wo, ToSlice(kLayoutKey), ToSlice(kLayoutVersion)), "init"));
  } else {
    RETURN_IF_ERROR(ToStatus(s, "read layout"));
    if (layout != kLayoutVersion) {
      return absl::FailedPreconditionError(
          absl::StrCat("alert log ", path, " has layout version \"", layout,
                       "\", this build reads \"", kLayoutVersion, "\""));
    }
  }

  uint64_t head = 0;
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    it->SeekForPrev(SeqKey(std::numeric_limits<uint64_t>::max()));
    if (it->Valid() && it->key().starts_with(ToSlice(kSeqPrefix))) {
      ASSIGN_OR_RETURN(head, SeqOfKey(it->key()));
    }
    RETURN_IF_ERROR(ToStatus(it->status(), "find head"));
  }
  return std::make_unique<RocksDbAlertLog>(std::move(env), std::move(db), head, settings);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AlertLog>> OpenRocksDbAlertLog(
    const RocksDbAlertLogOptions& options) {
  Settings settings;
  settings.sync_appends = options.sync_appends;
  settings.sync_status_updates = options.sync_status_updates;
  // At least one per call, so that every page makes progress.
  settings.list_scan_limit = std::max<size_t>(1, options.list_scan_limit);
  std::unique_ptr<rocksdb::Env> env;
  if (options.in_memory) env.reset(rocksdb::NewMemEnv(rocksdb::Env::Default()));
  return Open(options.path, options.block_cache_bytes, options.write_buffer_bytes, settings,
              std::move(env));
}

}  // namespace exportwatch
