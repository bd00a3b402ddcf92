#include "processor/changelog.h"

#include <time.h>

#include <algorithm>
#include <deque>
#include <iostream>
#include <iterator>
#include <random>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "connectors/kafka_source.h"

namespace exportwatch {
namespace {

constexpr absl::Duration kFlushTimeout = absl::Seconds(30);
// A batch poll returns at its timeout unless it filled up: short, so that the
// tail of a restore does not wait.
constexpr absl::Duration kPollTimeout = absl::Milliseconds(20);
// Local writes during a restore are batched up to this many bytes.
constexpr size_t kRestoreWriteBytes = 4 << 20;
constexpr char kFence = 'F';
constexpr char kBatch = 'B';
constexpr char kSnapshot = 'S';
constexpr char kPut = 'P';
constexpr char kDelete = 'D';

// ---- record encoding ----------------------------------------------------
// Fence value: 'F' epoch(8, big-endian).
// Batch chunk value: 'B' epoch(8) seq(8) index(4) count(4), then ops:
//   'P' varint(key size) key varint(value size) value | 'D' varint(key size) key
// Snapshot chunk value: 'S' epoch(8) seq(8) index(4) last(4: 1 on the last
// chunk) fence(8: offset of the writer's fence) verified(8: the writer saw
// no other fence before this offset), then 'P' ops.

void PutFixed(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
bool GetFixed(absl::string_view* in, int bytes, uint64_t* v) {
  if (in->size() < static_cast<size_t>(bytes)) return false;
  *v = 0;
  for (int i = 0; i < bytes; ++i) *v = (*v << 8) | static_cast<unsigned char>((*in)[i]);
  in->remove_prefix(bytes);
  return true;
}
void PutVarint(std::string* out, uint64_t v) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}
bool GetVarint(absl::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64 && !in->empty(); shift += 7) {
    auto b = static_cast<unsigned char>(in->front());
    in->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) return true;
  }
  return false;
}
bool GetBytes(absl::string_view* in, absl::string_view* out) {
  uint64_t n;
  if (!GetVarint(in, &n) || in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

// One op of a chunk body (a put when `value` is set, else a delete).
void AppendOp(std::string* body, absl::string_view key, const absl::string_view* value) {
  body->push_back(value != nullptr ? kPut : kDelete);
  PutVarint(body, key.size());
  body->append(key.data(), key.size());
  if (value != nullptr) {
    PutVarint(body, value->size());
    body->append(value->data(), value->size());
  }
}

// Whether an op of `op_bytes` (key and value) starts a new chunk: a chunk
// stays under max_record_bytes unless one op alone is larger.
bool StartsNewChunk(const std::string& body, size_t op_bytes, size_t max_record_bytes) {
  return !body.empty() && body.size() + op_bytes + 20 > max_record_bytes;
}

struct ChunkHeader {
  uint64_t epoch = 0, seq = 0, index = 0, count = 0;
  char type = kBatch;
  bool last = false;  // snapshots: the chunk that completes it
  uint64_t fence = 0, verified = 0;
};

std::string CheckpointKey(int32_t partition, absl::string_view what) {
  return absl::StrCat("p/", partition, "/c/", what);
}

absl::StatusOr<int64_t> ReadInt(StateStore* store, const std::string& key, int64_t dflt) {
  ASSIGN_OR_RETURN(auto v, store->Get(key));
  if (!v.has_value()) return dflt;
  int64_t out = 0;
  if (!absl::SimpleAtoi(*v, &out)) return absl::DataLossError(absl::StrCat("corrupt ", key));
  return out;
}

absl::Duration ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return absl::DurationFromTimespec(ts);
}

// Deletes every local key of shard `partition` (state, offsets, dedup marks,
// checkpoints). The first batch swaps the checkpoints for a mark
// (`p/<P>/c/dropping`), the last removes it: a drop cut by a crash leaves
// the mark, and Restore finishes the drop before it replays (so no leftover
// key survives, and no checkpoint vouches for a half-dropped shard).
absl::Status DropShard(StateStore* store, int32_t partition) {
  const std::string mark = CheckpointKey(partition, "dropping");
  WriteBatch wb;
  RETURN_IF_ERROR(
      store->Scan(CheckpointKey(partition, ""), "", [&](absl::string_view k, absl::string_view) {
        wb.Delete(std::string(k));
        return true;
      }));
  wb.Put(mark, "1");
  RETURN_IF_ERROR(store->Write(wb));
  for (const std::string& prefix :
       {absl::StrCat("p/", partition, "/"), absl::StrCat("d/", partition, "/")}) {
    while (true) {
      wb.Clear();
      RETURN_IF_ERROR(store->Scan(prefix, "", [&](absl::string_view k, absl::string_view) {
        if (k != mark) wb.Delete(std::string(k));
        return wb.ops().size() < 10000;
      }));
      if (wb.empty()) break;
      RETURN_IF_ERROR(store->Write(wb));
    }
  }
  wb.Clear();
  wb.Delete(mark);
  return store->Write(wb);
}

// Applies the records of one changelog partition, in offset order, to the
// local store (see changelog.h for the rules).
class ShardReplayer {
 public:
  // `valid_epoch`: the writer that owned the log at the first record read
  // (0: none; records before the first fence are then ignored). `based`:
  // the store holds the shard's state as of `start` (the local copy, or
  // nothing at offset 0); otherwise the replay waits for a snapshot it can
  // trust (changelog.h) and builds on that.
  ShardReplayer(StateStore* store, int32_t partition, uint64_t valid_epoch, bool based,
                int64_t start, RestoreStats* stats)
      : store_(store),
        partition_(partition),
        valid_(valid_epoch),
        based_(based),
        start_(start),
        stats_(stats) {}

  absl::Status OnRecord(int64_t offset, absl::string_view value) {
    ++stats_->records;
    stats_->bytes += static_cast<int64_t>(value.size());
    bytes_since_snapshot_ += static_cast<int64_t>(value.size());
    if (value.empty()) return Corrupt(offset);
    char type = value.front();
    value.remove_prefix(1);
    ChunkHeader h;
    h.type = type;
    if (!GetFixed(&value, 8, &h.epoch)) return Corrupt(offset);
    if (type == kFence) {
      DiscardGroup();
      valid_ = h.epoch;
      fences_.push_back({offset, h.epoch});
      // The writer of the snapshot being read was fenced before its end.
      if (base_.active && h.epoch != base_.epoch) AbandonBase();
      return Checkpoint(offset);
    }
    if (type != kBatch && type != kSnapshot) return Corrupt(offset);
    if (!GetFixed(&value, 8, &h.seq) || !GetFixed(&value, 4, &h.index) ||
        !GetFixed(&value, 4, &h.count)) {
      return Corrupt(offset);
    }
    if (type == kSnapshot) {
      if (!GetFixed(&value, 8, &h.fence) || !GetFixed(&value, 8, &h.verified) || h.count > 1) {
        return Corrupt(offset);
      }
      h.last = h.count == 1;
      return OnSnapshotChunk(offset, h, value);
    }
    if (h.count == 0 || h.index >= h.count) return Corrupt(offset);
    if (!based_ && !base_.active) {
      ++stats_->before_snapshot_skipped;  // no state to apply it to yet
      return absl::OkStatus();
    }
    // (While a base is read, valid_ is its writer: any other's fence ended it.)
    if (h.epoch != valid_) {
      ++stats_->fenced_discarded;
      return absl::OkStatus();
    }
    if (h.index == 0) {
      DiscardGroup();  // a retry re-sends a batch from its first chunk
      group_ = h;
      in_group_ = true;
    } else if (!in_group_ || h.epoch != group_.epoch || h.seq != group_.seq ||
               h.index != group_.index + 1) {
      DiscardGroup();
      ++stats_->incomplete_discarded;
      return absl::OkStatus();
    } else {
      group_.index = h.index;
    }
    ++group_chunks_;
    while (!value.empty()) {
      char kind = value.front();
      value.remove_prefix(1);
      absl::string_view k, v;
      if (!GetBytes(&value, &k)) return Corrupt(offset);
      if (kind == kPut) {
        if (!GetBytes(&value, &v)) return Corrupt(offset);
        group_ops_.Put(std::string(k), std::string(v));
        group_bytes_ += k.size() + v.size();
      } else if (kind == kDelete) {
        group_ops_.Delete(std::string(k));
        group_bytes_ += k.size();
      } else {
        return Corrupt(offset);
      }
    }
    if (h.index + 1 < h.count) return absl::OkStatus();
    // Complete: the batch joins the local write.
    for (const auto& op : group_ops_.ops()) {
      if (op.value) {
        pending_.Put(op.key, *op.value);
      } else {
        pending_.Delete(op.key);
      }
      // Newer than the view of the snapshot being read: its op for this
      // key, if it is still to come, is left out.
      if (!based_) overridden_.insert(op.key);
    }
    pending_bytes_ += group_bytes_;
    stats_->ops_applied += static_cast<int64_t>(group_ops_.ops().size());
    EndGroup();
    ++stats_->batches_applied;
    return Checkpoint(offset);
  }

  // Writes what is complete (an unfinished batch stays out). DATA_LOSS when
  // the replay never found a base to build on.
  absl::Status Finish(int64_t own_fence) {
    DiscardGroup();
    if (!based_) {
      // A snapshot read in part left some of its keys (and no checkpoint).
      if (base_started_) RETURN_IF_ERROR(DropShard(store_, partition_));
      return absl::DataLossError(absl::StrCat("changelog partition ", partition_,
                                              " no longer holds offset 0 and holds ",
                                              "no trusted snapshot after its start ", start_,
                                              ": its retention is shorter than a snapshot cycle"));
    }
    if (own_fence >= 0) pending_.Put(CheckpointKey(partition_, "own"), absl::StrCat(own_fence));
    return WritePending();
  }

  // Bytes of the records read after the last complete snapshot (all of them
  // when there was none).
  int64_t bytes_since_snapshot() const { return bytes_since_snapshot_; }
  // What the local copy recorded before this replay (its `since`).
  void set_bytes_since_snapshot(int64_t bytes) { bytes_since_snapshot_ = bytes; }

 private:
  struct Fence {
    int64_t offset;
    uint64_t epoch;
  };

  // A snapshot chunk (changelog.h: batches of its writer land between its
  // steps).
  absl::Status OnSnapshotChunk(int64_t offset, const ChunkHeader& h, absl::string_view ops) {
    if (based_) {
      if (h.epoch != valid_) {
        ++stats_->fenced_discarded;
        return absl::OkStatus();
      }
      // The owner's own snapshot: the batches before it built this state
      // already, so its ops are not even parsed.
      if (!h.last) return absl::OkStatus();
      ++stats_->snapshots_skipped;
      bytes_since_snapshot_ = 0;
      return in_group_ ? absl::OkStatus() : Checkpoint(offset);
    }
    // Still looking for a base.
    if (base_.active && h.epoch != base_.epoch) {
      ++stats_->fenced_discarded;  // a zombie's, interleaved
      return absl::OkStatus();
    }
    if (h.index == 0) {
      if (base_.active) AbandonBase();  // its writer gave up on it and began again
      if (!Trusted(h, offset)) {
        ++stats_->before_snapshot_skipped;
        return absl::OkStatus();
      }
      RETURN_IF_ERROR(StartBase(offset, h));
    } else if (base_.active && h.seq < base_.seq) {
      // A straggler of a snapshot its writer gave up on (a step whose flush
      // failed, delivered late): it says nothing about this one.
      ++stats_->before_snapshot_skipped;
      return absl::OkStatus();
    } else if (!base_.active || h.seq != base_.seq || h.index != base_.next_index) {
      if (base_.active) AbandonBase();  // a chunk of it is missing
      ++stats_->before_snapshot_skipped;
      return absl::OkStatus();
    }
    ++base_.next_index;
    while (!ops.empty()) {
      absl::string_view k, v;
      if (ops.front() != kPut) return Corrupt(offset);
      ops.remove_prefix(1);
      if (!GetBytes(&ops, &k) || !GetBytes(&ops, &v)) return Corrupt(offset);
      if (!overridden_.empty() && overridden_.contains(k)) continue;  // a batch wrote it since
      pending_.Put(std::string(k), std::string(v));
      pending_bytes_ += k.size() + v.size();
      ++stats_->ops_applied;
    }
    if (!h.last) return Checkpoint(offset);  // (no base yet: only writes)
    // Complete: the shard's state from here on.
    based_ = true;
    base_.active = false;
    overridden_.clear();
    stats_->snapshot_base = base_.first_offset;
    bytes_since_snapshot_ = 0;
    return in_group_ ? absl::OkStatus() : Checkpoint(offset);
  }

  // Trusted only when this replay read the log from where its writer last
  // checked it, and no other writer fenced the shard since.
  bool Trusted(const ChunkHeader& h, int64_t offset) const {
    const auto verified = static_cast<int64_t>(h.verified);
    if (verified < start_ || verified > offset) return false;
    for (const Fence& f : fences_) {
      if (f.offset >= verified && f.epoch != h.epoch) return false;
    }
    return true;
  }

  // The base begins: whatever the store held of the shard goes.
  absl::Status StartBase(int64_t offset, const ChunkHeader& h) {
    DiscardGroup();
    pending_.Clear();
    pending_bytes_ = 0;
    overridden_.clear();
    RETURN_IF_ERROR(DropShard(store_, partition_));
    base_ = {
        .active = true, .epoch = h.epoch, .seq = h.seq, .next_index = 0, .first_offset = offset};
    base_started_ = true;
    valid_ = h.epoch;
    return absl::OkStatus();
  }

  // The snapshot being read will not end (its writer was fenced, or began
  // another): the next trusted one replaces it (StartBase drops what this
  // one wrote; so does Finish when none comes).
  void AbandonBase() {
    DiscardGroup();
    stats_->incomplete_discarded += static_cast<int64_t>(base_.next_index);
    base_.active = false;
    overridden_.clear();
    pending_.Clear();
    pending_bytes_ = 0;
  }

  // Marks `offset` as the point to resume from (only with a base: before
  // one there is nothing to resume from) and writes the pending ops once
  // they are large (a base still being read is written without a
  // checkpoint: StartBase or Finish drops it if it never ends).
  absl::Status Checkpoint(int64_t offset) {
    if (based_) next_ = offset + 1;
    if (pending_bytes_ >= kRestoreWriteBytes) return WritePending();
    return absl::OkStatus();
  }
  absl::Status WritePending() {
    if (next_ >= 0) {
      pending_.Put(CheckpointKey(partition_, "next"), absl::StrCat(next_));
      pending_.Put(CheckpointKey(partition_, "epoch"), absl::StrCat(valid_));
      pending_.Put(CheckpointKey(partition_, "since"), absl::StrCat(bytes_since_snapshot_));
    }
    if (pending_.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(store_->Write(pending_));
    pending_.Clear();
    pending_bytes_ = 0;
    return absl::OkStatus();
  }
  void EndGroup() {
    group_ops_.Clear();
    group_bytes_ = 0;
    group_chunks_ = 0;
    in_group_ = false;
  }
  void DiscardGroup() {
    if (in_group_) stats_->incomplete_discarded += group_chunks_;
    EndGroup();
  }
  absl::Status Corrupt(int64_t offset) {
    return absl::DataLossError(
        absl::StrCat("unreadable changelog record at partition ", partition_, " offset ", offset));
  }

  StateStore* store_;
  int32_t partition_;
  uint64_t valid_;
  bool based_;
  int64_t start_;
  RestoreStats* stats_;
  std::vector<Fence> fences_;
  // The snapshot being read as the base of a replay that has none yet.
  struct Base {
    bool active = false;
    uint64_t epoch = 0, seq = 0, next_index = 0;
    int64_t first_offset = -1;
  } base_;
  bool base_started_ = false;
  // Keys the batches after the base's first chunk wrote.
  absl::flat_hash_set<std::string> overridden_;
  ChunkHeader group_;  // the batch being read
  bool in_group_ = false;
  int64_t group_chunks_ = 0;
  WriteBatch group_ops_;
  size_t group_bytes_ = 0;
  WriteBatch pending_;
  size_t pending_bytes_ = 0;
  int64_t next_ = -1;
  int64_t bytes_since_snapshot_ = 0;
};

// Reads records [start, until) of one changelog partition and hands each to
// `fn`. DATA_LOSS when the log no longer starts at `start`.
absl::Status ReadRange(const ChangelogOptions& o, int32_t partition, int64_t start, int64_t until,
                       const std::atomic<bool>& stop,
                       const std::function<absl::Status(int64_t, absl::string_view)>& fn) {
  if (until <= start) return absl::OkStatus();
  KafkaSourceOptions so;
  so.brokers = o.brokers;
  so.config = o.kafka_config;
  so.max_batch = 10000;
  so.assign = {{{o.topic, partition}, start}};
  // A start before the log start must not silently skip records.
  so.config["auto.offset.reset"] = "error";
  ASSIGN_OR_RETURN(auto source, KafkaSource::Create(so, nullptr));
  int64_t expected = start;
  absl::Time last_progress = absl::Now();
  while (expected < until) {
    if (stop.load()) return absl::CancelledError("stopped during a changelog restore");
    auto polled = source->Poll(kPollTimeout);
    if (absl::IsOutOfRange(polled.status())) {
      return absl::DataLossError(absl::StrCat("changelog ", o.topic, "/", partition,
                                              " no longer holds offset ", expected, ": ",
                                              polled.status().message()));
    }
    ASSIGN_OR_RETURN(auto records, std::move(polled));
    if (records.empty()) {
      if (absl::Now() - last_progress > absl::Seconds(10)) {  // broker trouble
        std::cerr << "changelog: partition " << partition << " restore waiting at offset "
                  << expected << " of " << until << "\n";
        last_progress = absl::Now();
      }
      continue;
    }
    last_progress = absl::Now();
    for (const Record& r : records) {
      if (r.offset < expected) continue;
      if (r.offset != expected && expected == start) {
        return absl::DataLossError(absl::StrCat("changelog ", o.topic, "/", partition,
                                                " starts at offset ", r.offset, ", needed from ",
                                                start, ": the log lost records"));
      }
      if (r.offset >= until) break;
      RETURN_IF_ERROR(fn(r.offset, r.value));
      expected = r.offset + 1;
    }
  }
  source->Close();
  return absl::OkStatus();
}

// Whether records [start, until) hold a fence of a writer other than `epoch`.
absl::StatusOr<bool> ForeignFenceIn(const ChangelogOptions& o, int32_t partition, int64_t start,
                                    int64_t until, uint64_t epoch, const std::atomic<bool>& stop) {
  bool found = false;
  RETURN_IF_ERROR(ReadRange(o, partition, start, until, stop,
                            [&](int64_t, absl::string_view v) -> absl::Status {
                              uint64_t e = 0;
                              if (!v.empty() && v.front() == kFence) {
                                v.remove_prefix(1);
                                if (GetFixed(&v, 8, &e) && e != epoch) found = true;
                              }
                              return absl::OkStatus();
                            }));
  return found;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Changelog>> Changelog::Create(ChangelogOptions options) {
  if (options.brokers.empty() || options.topic.empty()) {
    return absl::InvalidArgumentError("changelog: brokers and topic are required");
  }
  std::unique_ptr<Changelog> c(new Changelog(std::move(options)));
  c->sink_ = c->o_.sink;
  if (c->sink_ == nullptr) {
    KafkaSinkOptions so;
    so.brokers = c->o_.brokers;
    so.config = c->o_.kafka_config;
    ASSIGN_OR_RETURN(c->own_sink_, KafkaSink::Create(so));
    c->sink_ = c->own_sink_.get();
  }
  return c;
}

absl::StatusOr<RestoreStats> Changelog::Acquire(int32_t partition, StateStore* store,
                                                const std::atomic<bool>& stop) {
  RestoreStats stats;
  absl::Time t0 = absl::Now();
  absl::Duration c0 = ThreadCpu();
  static std::mt19937_64 rng{std::random_device{}()};
  Writer w;
  // 63 bits: the local checkpoint stores it as a signed decimal.
  while (w.epoch == 0) w.epoch = rng() >> 1;
  // The fence first: whatever an older owner appends after it is ignored.
  std::string fence(1, kFence);
  PutFixed(&fence, w.epoch, 8);
  int64_t fence_offset = -1;
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status s =
        sink_->Produce(o_.topic, absl::StrCat("f/", w.epoch), fence, {}, partition, &fence_offset);
    if (s.ok()) s = sink_->Flush(kFlushTimeout);
    if (s.ok() && fence_offset >= 0) break;
    std::cerr << "changelog: fence of partition " << partition << ": " << s << "\n";
    if (stop.load()) return absl::CancelledError("stopped before the fence was written");
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  w.fence_offset = fence_offset;
  w.verified_to = fence_offset + 1;  // the restore reads up to the fence
  int data_loss_attempts = 0;
  while (true) {
    // Counts start again with each attempt; a dropped local copy stays dropped.
    stats = RestoreStats{.local_copy_dropped = stats.local_copy_dropped};
    absl::Status s =
        Restore(partition, store, w.epoch, fence_offset, stop, &stats, &w.bytes_since_snapshot);
    if (s.ok()) break;
    // Broker trouble is retried; a log that lost records is not, except
    // twice more: its start may have moved between the watermark query and
    // the read (the next attempt then looks for a snapshot).
    if (absl::IsDataLoss(s) && ++data_loss_attempts < 3) {
      std::cerr << "changelog: restore of partition " << partition << ": " << s
                << "; trying again from the log's start\n";
      continue;
    }
    if (absl::IsDataLoss(s) || absl::IsCancelled(s) || stop.load()) return s;
    std::cerr << "changelog: restore of partition " << partition << ": " << s << "; retrying\n";
    absl::SleepFor(absl::Seconds(1));
  }
  writers_[partition] = std::move(w);
  stats.wall = absl::Now() - t0;
  stats.thread_cpu = ThreadCpu() - c0;
  return stats;
}

absl::Status Changelog::Restore(int32_t partition, StateStore* store, uint64_t epoch,
                                int64_t fence_offset, const std::atomic<bool>& stop,
                                RestoreStats* stats, int64_t* bytes_since_snapshot) {
  ASSIGN_OR_RETURN(auto dropping, store->Get(CheckpointKey(partition, "dropping")));
  if (dropping.has_value()) {
    std::cerr << "changelog: partition " << partition
              << ": finishing a drop of the local copy that a crash cut short\n";
    RETURN_IF_ERROR(DropShard(store, partition));
    stats->local_copy_dropped = true;
  }
  ASSIGN_OR_RETURN(int64_t next, ReadInt(store, CheckpointKey(partition, "next"), -1));
  ASSIGN_OR_RETURN(int64_t valid, ReadInt(store, CheckpointKey(partition, "epoch"), 0));
  ASSIGN_OR_RETURN(int64_t own, ReadInt(store, CheckpointKey(partition, "own"), -1));
  ASSIGN_OR_RETURN(int64_t since, ReadInt(store, CheckpointKey(partition, "since"), 0));
  if (next > fence_offset) {
    return absl::DataLossError(absl::StrCat("local changelog checkpoint ", next, " of partition ",
                                            partition, " is past the log end ", fence_offset,
                                            ": the topic was recreated?"));
  }
  if (next >= 0 && own >= 0 && own < next) {
    // Did another owner fence this shard while this instance still wrote
    // locally (a zombie)? Then the local copy holds batches the log rejects.
    absl::StatusOr<bool> checked =
        ForeignFenceIn(o_, partition, own, next, static_cast<uint64_t>(valid), stop);
    // The log lost where this ownership began: the copy cannot be checked.
    if (!checked.ok() && !absl::IsDataLoss(checked.status())) return checked.status();
    const bool foreign_fence = !checked.ok() || *checked;
    if (foreign_fence) {
      std::cerr << "changelog: partition " << partition
                << ": local copy was written after another owner's fence (or the log lost "
                   "where its ownership began); rebuilding it\n";
      RETURN_IF_ERROR(DropShard(store, partition));
      stats->local_copy_dropped = true;
      next = -1;
      valid = 0;
    }
  }
  auto replay = [&](int64_t start, bool based) -> absl::Status {
    ShardReplayer replayer(store, partition, static_cast<uint64_t>(valid), based, start, stats);
    if (next >= 0) replayer.set_bytes_since_snapshot(since);
    RETURN_IF_ERROR(ReadRange(
        o_, partition, start, fence_offset + 1, stop,
        [&](int64_t offset, absl::string_view v) { return replayer.OnRecord(offset, v); }));
    RETURN_IF_ERROR(replayer.Finish(fence_offset));
    *bytes_since_snapshot = replayer.bytes_since_snapshot();
    return absl::OkStatus();
  };
  // From the local copy's checkpoint, or from offset 0.
  const int64_t start = next >= 0 ? next : 0;
  absl::Status s = replay(start, /*based=*/true);
  if (!absl::IsDataLoss(s)) return s;
  // The log no longer starts there (retention, the mock's 5 MB): the local
  // copy cannot catch up, so a snapshot must replace it. (The watermark is
  // asked only here: on the mock the first query can take a second.)
  ASSIGN_OR_RETURN(const int64_t log_start,
                   sink_->StartOffset(o_.topic, partition, absl::Seconds(10)));
  if (log_start <= start) return s;  // something else was lost
  std::cerr << "changelog: partition " << partition << ": restore needed offset " << start
            << ", the log now starts at " << log_start << "; rebuilding from a snapshot\n";
  if (next >= 0) {
    RETURN_IF_ERROR(DropShard(store, partition));
    stats->local_copy_dropped = true;
  }
  next = -1;
  valid = 0;
  *stats = RestoreStats{.local_copy_dropped = stats->local_copy_dropped};
  (void)epoch;  // the fence itself is the last record applied
  return replay(log_start, /*based=*/false);
}

absl::StatusOr<std::vector<WriteBatch::Op>> Changelog::Append(
    const std::map<int32_t, std::vector<const WriteBatch::Op*>>& ops, const std::atomic<bool>& stop,
    std::vector<int32_t>* fenced) {
  struct Chunk {
    int32_t partition;
    std::string key, value;
  };
  std::vector<Chunk> chunks;
  for (const auto& [partition, list] : ops) {
    auto it = writers_.find(partition);
    if (it == writers_.end()) {
      return absl::FailedPreconditionError(
          absl::StrCat("changelog: partition ", partition, " written before it was acquired"));
    }
    Writer& w = it->second;
    const uint64_t seq = ++w.seq;
    std::vector<std::string> bodies(1);
    for (const WriteBatch::Op* op : list) {
      const size_t op_bytes = op->key.size() + (op->value ? op->value->size() : 0);
      if (StartsNewChunk(bodies.back(), op_bytes, o_.max_record_bytes)) bodies.emplace_back();
      const absl::string_view value = op->value ? absl::string_view(*op->value) : "";
      AppendOp(&bodies.back(), op->key, op->value ? &value : nullptr);
    }
    for (size_t i = 0; i < bodies.size(); ++i) {
      Chunk c{partition, absl::StrCat("b/", w.epoch, "/", seq, "/", i), std::string(1, kBatch)};
      PutFixed(&c.value, w.epoch, 8);
      PutFixed(&c.value, seq, 8);
      PutFixed(&c.value, i, 4);
      PutFixed(&c.value, bodies.size(), 4);
      c.value.append(bodies[i]);
      chunks.push_back(std::move(c));
    }
  }
  std::vector<int64_t> offsets(chunks.size(), -1);
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    // A retry re-sends every chunk: a batch whose first attempt was cut
    // restarts at chunk 0 on the reader's side.
    absl::Status s;
    for (size_t i = 0; i < chunks.size() && s.ok(); ++i) {
      s = sink_->Produce(o_.topic, chunks[i].key, chunks[i].value, {}, chunks[i].partition,
                         &offsets[i]);
    }
    if (s.ok()) s = sink_->Flush(kFlushTimeout);
    if (s.ok()) break;
    std::cerr << "changelog: append: " << s << "\n";
    if (stop.load()) return absl::CancelledError("stopped before the changelog was durable");
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
  struct Landed {
    int64_t first = 0, next = 0, records = 0;  // offsets [first, next)
  };
  std::map<int32_t, Landed> landed;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (offsets[i] < 0) return absl::InternalError("changelog: a record has no offset");
    Landed& l = landed[chunks[i].partition];
    l.first = l.records == 0 ? offsets[i] : std::min(l.first, offsets[i]);
    l.next = std::max(l.next, offsets[i] + 1);
    ++l.records;
    records_out_ += 1;
    bytes_out_ += static_cast<int64_t>(chunks[i].value.size());
    writers_[chunks[i].partition].bytes_since_snapshot +=
        static_cast<int64_t>(chunks[i].value.size());
  }
  // Still the owner? When the records landed right after the last ones
  // checked, nobody else wrote in between; otherwise the gap is read for
  // another writer's fence. (A partition can be assigned to two members at
  // once: the cooperative-sticky assignor of librdkafka < 2.2 does it after
  // kills, #4252. The one fenced must find out, or it goes on processing
  // while every reader ignores what it writes.)
  std::vector<WriteBatch::Op> checkpoints;
  for (const auto& [partition, l] : landed) {
    Writer& w = writers_[partition];
    const bool contiguous = l.first == w.verified_to && l.next - l.first == l.records;
    if (!contiguous && !w.fenced_off) {
      absl::StatusOr<bool> foreign;
      for (int attempt = 1;; ++attempt) {  // three tries for a transient error
        foreign = ForeignFenceIn(o_, partition, w.verified_to, l.next, w.epoch, stop);
        if (foreign.ok() || absl::IsDataLoss(foreign.status()) || stop.load() || attempt == 3) {
          break;
        }
        absl::SleepFor(absl::Milliseconds(200) * attempt);
      }
      if (!foreign.ok() && stop.load()) return foreign.status();
      if (!foreign.ok()) {
        // Ownership cannot be proven (the gap left the log, or the broker
        // keeps failing): act as if fenced. Acquiring the shard again is
        // always safe; going on as a possible zombie is not.
        std::cerr << "changelog: partition " << partition << ": cannot check the records in ["
                  << w.verified_to << ", " << l.next << ") for another owner's fence ("
                  << foreign.status() << "); acquiring the shard again\n";
      }
      w.fenced_off = !foreign.ok() || *foreign;
    }
    w.verified_to = l.next;
    if (w.fenced_off && fenced != nullptr) fenced->push_back(partition);
    checkpoints.push_back({CheckpointKey(partition, "next"), absl::StrCat(l.next)});
    checkpoints.push_back(
        {CheckpointKey(partition, "since"), absl::StrCat(w.bytes_since_snapshot)});
  }
  return checkpoints;
}

// A snapshot between its steps: the view it reads and where it is in it.
struct Changelog::SnapshotInProgress {
  std::unique_ptr<StateSnapshot> view;
  uint64_t seq = 0;
  uint64_t verified = 0;  // the header's: no foreign fence before this offset
  uint64_t index = 0;     // the next chunk's
  int64_t bytes = 0;      // written so far
  size_t prefix = 0;      // 0: the shard's p/ keys, 1: its d/ keys, 2: done
  std::string resume;     // the next key to read in that prefix ("": its first)
  int64_t now = 0;        // dedup marks that expired by then are left out
  // The shard's bytes_since_snapshot when it started: what was appended
  // during the snapshot still counts towards the next one.
  int64_t bytes_before = 0;
  int steps = 0;
  absl::Time started;
  absl::Duration busy;   // in the steps themselves
  absl::Time next_step;  // paced: snapshot_duty of the thread at most
};

Changelog::Changelog(ChangelogOptions o) : o_(std::move(o)) {}
Changelog::~Changelog() = default;

const Changelog::SnapshotInProgress* Changelog::InProgress() const {
  for (const auto& [partition, w] : writers_) {
    if (w.snapshot != nullptr) return w.snapshot.get();
  }
  return nullptr;
}

bool Changelog::snapshot_in_progress() const { return InProgress() != nullptr; }

absl::Duration Changelog::until_next_snapshot_step() const {
  const SnapshotInProgress* snap = InProgress();
  if (snap == nullptr) return absl::InfiniteDuration();
  return std::max(absl::ZeroDuration(), snap->next_step - absl::Now());
}

absl::Status Changelog::SnapshotIfDue(StateStore* store, const std::atomic<bool>& stop) {
  // The shard whose snapshot goes on, else the first that is due one.
  auto it = std::find_if(writers_.begin(), writers_.end(),
                         [](const auto& e) { return e.second.snapshot != nullptr; });
  if (it != writers_.end()) {
    if (absl::Now() < it->second.snapshot->next_step) return absl::OkStatus();  // paced
  } else {
    it = std::find_if(writers_.begin(), writers_.end(), [&](const auto& e) {
      const Writer& w = e.second;
      const double due = std::max(static_cast<double>(o_.snapshot_min_bytes),
                                  o_.snapshot_ratio * static_cast<double>(w.last_snapshot_bytes));
      return static_cast<double>(w.bytes_since_snapshot) >= due;
    });
    if (it == writers_.end()) return absl::OkStatus();
  }
  auto& [partition, w] = *it;
  absl::Status s =
      w.snapshot != nullptr ? absl::OkStatus() : StartSnapshot(partition, w, store, stop);
  if (s.ok()) s = SnapshotStep(partition, w, stop);
  if (!s.ok()) {
    std::cerr << "changelog: snapshot of partition " << partition << ": " << s << "\n";
    w.snapshot = nullptr;  // abandoned; a reader never completes it
  }
  return s;
}

absl::Status Changelog::StartSnapshot(int32_t partition, Writer& w, StateStore* store,
                                      const std::atomic<bool>& stop) {
  // Still the owner? Any other writer's fence since we last looked means
  // this instance is a zombie here: its snapshot must not exist.
  ASSIGN_OR_RETURN(const int64_t end, sink_->EndOffset(o_.topic, partition, absl::Seconds(10)));
  if (!w.fenced_off) {
    ASSIGN_OR_RETURN(w.fenced_off,
                     ForeignFenceIn(o_, partition, w.verified_to, end, w.epoch, stop));
  }
  if (w.fenced_off) {
    w.bytes_since_snapshot = 0;  // not again at every batch until the shard goes
    return absl::FailedPreconditionError(absl::StrCat("another owner fenced partition ", partition,
                                                      " after offset ", w.verified_to,
                                                      ": no snapshot from this zombie"));
  }
  w.verified_to = end;
  auto snap = std::make_unique<SnapshotInProgress>();
  // The view holds every batch this writer appended (they are committed
  // locally), and nothing it appends later: it is the shard's state as of
  // the first chunk, which the first step produces before any other record
  // of this writer (whatever lands in between is another writer's: a fence,
  // which makes readers distrust the snapshot, or a zombie's batch, which
  // they ignore).
  snap->view = store->NewSnapshot();
  snap->seq = ++w.seq;
  snap->verified = static_cast<uint64_t>(end);
  snap->now = absl::ToUnixSeconds(absl::Now());
  snap->bytes_before = w.bytes_since_snapshot;
  snap->started = absl::Now();
  w.snapshot = std::move(snap);
  return absl::OkStatus();
}

absl::Status Changelog::SnapshotStep(int32_t partition, Writer& w, const std::atomic<bool>& stop) {
  SnapshotInProgress& snap = *w.snapshot;
  const absl::Time t0 = absl::Now();
  const std::string prefixes[] = {absl::StrCat("p/", partition, "/"),
                                  absl::StrCat("d/", partition, "/")};
  const std::string checkpoints = CheckpointKey(partition, "");
  // Delivery-report slots live in the member (a deque keeps addresses on
  // push_back) until a flush succeeds: a failed step's chunks may still
  // report later.
  std::deque<int64_t>& chunk_offsets = snapshot_offsets_;
  const size_t first_slot = chunk_offsets.size();
  int64_t step_bytes = 0;
  std::string body;
  auto emit = [&](bool last) -> absl::Status {
    std::string value(1, kSnapshot);
    PutFixed(&value, w.epoch, 8);
    PutFixed(&value, snap.seq, 8);
    PutFixed(&value, snap.index, 4);
    PutFixed(&value, last ? 1 : 0, 4);
    PutFixed(&value, static_cast<uint64_t>(w.fence_offset), 8);
    PutFixed(&value, snap.verified, 8);
    value.append(body);
    body.clear();
    step_bytes += static_cast<int64_t>(value.size());
    chunk_offsets.push_back(-1);
    RETURN_IF_ERROR(sink_->Produce(o_.topic,
                                   absl::StrCat("s/", w.epoch, "/", snap.seq, "/", snap.index),
                                   value, {}, partition, &chunk_offsets.back()));
    ++snap.index;
    return absl::OkStatus();
  };
  // Reads on from where the last step stopped, until this step's bytes are
  // written (the key it stops at is the next step's first).
  bool step_full = false;
  absl::Status produced;
  for (; snap.prefix < std::size(prefixes) && !step_full; ++snap.prefix) {
    const std::string& prefix = prefixes[snap.prefix];
    RETURN_IF_ERROR(
        snap.view->Scan(prefix, snap.resume, [&](absl::string_view k, absl::string_view v) {
          if (absl::StartsWith(k, checkpoints)) return true;  // local only
          // Expired dedup marks are left out: the snapshot is also a compaction.
          if (k.front() == 'd') {
            const int64_t expiry = DecodeExpiring(v).first;
            if (expiry > 0 && expiry < snap.now) return true;
          }
          // The step ends once it wrote its bytes (a step's last chunk can
          // be short), the chunk when it is full.
          if (!body.empty() && step_bytes + static_cast<int64_t>(body.size()) >=
                                   static_cast<int64_t>(o_.snapshot_step_bytes)) {
            produced = emit(false);
            snap.resume = std::string(k);
            step_full = true;
            return false;
          }
          if (StartsNewChunk(body, k.size() + v.size(), o_.max_record_bytes)) {
            produced = emit(false);
            if (!produced.ok()) return false;
          }
          AppendOp(&body, k, &v);
          return true;
        }));
    RETURN_IF_ERROR(produced);
    if (step_full) break;
    snap.resume.clear();
  }
  const bool last = !step_full;
  if (last || !body.empty()) RETURN_IF_ERROR(emit(last));
  // A snapshot that does not reach Kafka whole is never applied (its last
  // chunk is missing, or a chunk is cut); the next call starts another.
  RETURN_IF_ERROR(sink_->Flush(kFlushTimeout));
  const auto n = static_cast<int64_t>(chunk_offsets.size() - first_slot);
  // Still the owner? When the chunks landed right after the records checked
  // last, nobody else wrote in between; otherwise the gap is read for
  // another writer's fence (a zombie stops its snapshot there).
  int64_t landed_end = w.verified_to;
  bool contiguous = true;
  for (size_t i = first_slot; i < chunk_offsets.size(); ++i) {
    if (chunk_offsets[i] < 0) return absl::InternalError("changelog: a record has no offset");
    contiguous &= chunk_offsets[i] == w.verified_to + static_cast<int64_t>(i - first_slot);
    landed_end = std::max(landed_end, chunk_offsets[i] + 1);
  }
  chunk_offsets.clear();  // everything produced so far is delivered
  if (!contiguous) {
    ASSIGN_OR_RETURN(w.fenced_off,
                     ForeignFenceIn(o_, partition, w.verified_to, landed_end, w.epoch, stop));
    if (w.fenced_off) {
      return absl::FailedPreconditionError(absl::StrCat(
          "another owner fenced partition ", partition, " during its snapshot: abandoned"));
    }
  }
  w.verified_to = landed_end;
  snap.bytes += step_bytes;
  const absl::Time t1 = absl::Now();
  snap.busy += t1 - t0;
  ++snap.steps;
  const double duty = std::clamp(o_.snapshot_duty, 0.01, 1.0);
  snap.next_step = t1 + (t1 - t0) * (1.0 / duty - 1.0);
  records_out_ += n;
  bytes_out_ += step_bytes;
  if (!last) return absl::OkStatus();
  // What was appended during the snapshot counts towards the next one.
  w.bytes_since_snapshot = std::max<int64_t>(0, w.bytes_since_snapshot - snap.bytes_before);
  w.last_snapshot_bytes = snap.bytes;
  // Rare (each follows at least snapshot_min_bytes of batches) and worth
  // seeing: its cost grows with the shard's state.
  std::cerr << "changelog: partition " << partition << ": snapshot of " << snap.bytes << " bytes ("
            << snap.index << " records) in " << snap.steps << " steps, "
            << absl::ToDoubleSeconds(snap.busy) << " s of work over "
            << absl::ToDoubleSeconds(absl::Now() - snap.started) << " s\n";
  snapshots_out_ += 1;
  snapshot_bytes_out_ += snap.bytes;
  w.snapshot = nullptr;
  return absl::OkStatus();
}

void Changelog::Release(int32_t partition) { writers_.erase(partition); }

namespace {

// RestoreShardFrom, with the caller's producer (for its watermark query).
absl::Status ReplayShardFrom(const ChangelogOptions& options, KafkaSink* sink, int32_t partition,
                             int64_t start, StateStore* store, RestoreStats* stats) {
  ASSIGN_OR_RETURN(int64_t end, sink->EndOffset(options.topic, partition, absl::Seconds(10)));
  std::atomic<bool> stop{false};
  ShardReplayer replayer(store, partition, 0, /*based=*/start == 0, start, stats);
  RETURN_IF_ERROR(
      ReadRange(options, partition, start, end, stop,
                [&](int64_t offset, absl::string_view v) { return replayer.OnRecord(offset, v); }));
  return replayer.Finish(-1);
}

}  // namespace

absl::StatusOr<RestoreStats> RestoreShardFrom(const ChangelogOptions& options, int32_t partition,
                                              int64_t start, StateStore* store) {
  ASSIGN_OR_RETURN(auto c, Changelog::Create(options));
  RestoreStats stats;
  RETURN_IF_ERROR(ReplayShardFrom(options, c->sink_, partition, start, store, &stats));
  return stats;
}

absl::StatusOr<RestoreStats> RestoreWholeChangelog(const ChangelogOptions& options, int partitions,
                                                   StateStore* store) {
  RestoreStats stats;
  absl::Time t0 = absl::Now();
  absl::Duration c0 = ThreadCpu();
  ASSIGN_OR_RETURN(auto c, Changelog::Create(options));
  for (int32_t p = 0; p < partitions; ++p) {
    ASSIGN_OR_RETURN(int64_t start, c->sink_->StartOffset(options.topic, p, absl::Seconds(10)));
    RETURN_IF_ERROR(ReplayShardFrom(options, c->sink_, p, start, store, &stats));
  }
  stats.wall = absl::Now() - t0;
  stats.thread_cpu = ThreadCpu() - c0;
  return stats;
}

}  // namespace exportwatch
