#include "processor/pipeline.h"

#include <pthread.h>
#include <time.h>

#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "exportwatch/v1/internal.pb.h"
#include "google/protobuf/arena.h"
#include "processor/changelog.h"
#include "processor/detection_engine.h"
#include "processor/entity_registry.h"
#include "processor/fact_batch.h"
#include "processor/json.h"
#include "processor/policy_updates.h"
#include "processor/rules/screening_match.h"
#include "state/rocksdb_state_store.h"

namespace exportwatch {
namespace {

constexpr absl::Duration kPollTimeout = absl::Milliseconds(100);
constexpr absl::Duration kFlushTimeout = absl::Seconds(30);

void LogError(absl::string_view stage, const absl::Status& s) {
  std::cerr << "processor/" << stage << ": " << s << "\n";
}

// Produces `send` until Kafka has every record, retrying a failed flush
// (outputs are idempotent: ids are deterministic), unless stopped.
absl::Status ProduceDurably(KafkaSink& sink, const std::atomic<bool>& stop, ProcessorMetrics& m,
                            absl::string_view stage, const std::function<absl::Status()>& send) {
  absl::Duration backoff = absl::Milliseconds(100);
  while (true) {
    absl::Status s = send();
    if (s.ok()) s = sink.Flush(kFlushTimeout);
    if (s.ok()) return s;
    LogError(stage, s);
    ++m.kafka_retries;
    if (stop.load()) return absl::CancelledError("stopped before outputs were durable");
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Seconds(5));
  }
}

// Arenas that hold a poll batch's messages: large blocks, so that a batch
// takes a few allocations.
google::protobuf::ArenaOptions BatchArenaOptions() {
  google::protobuf::ArenaOptions o;
  o.start_block_size = 64 << 10;
  o.max_block_size = 1 << 20;
  return o;
}

int64_t ProcessCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// Held while a stage handles records: the process is not idle then (a
// backlog's poll can take seconds to apply), and the busy span's CPU is
// noted (see ProcessorMetrics).
class BusySpan {
 public:
  explicit BusySpan(ProcessorMetrics& m) : m_(m) {
    ++m_.stages_busy;
    m_.last_record_unix_nanos = absl::GetCurrentTimeNanos();
    int64_t unset = 0;
    m_.cpu_at_first_record_nanos.compare_exchange_strong(unset, ProcessCpuNanos());
  }
  ~BusySpan() {
    const int64_t now = ProcessCpuNanos();
    int64_t seen = m_.cpu_after_last_batch_nanos.load();
    while (seen < now && !m_.cpu_after_last_batch_nanos.compare_exchange_weak(seen, now)) {
    }
    m_.last_record_unix_nanos = absl::GetCurrentTimeNanos();
    --m_.stages_busy;
  }

 private:
  ProcessorMetrics& m_;
};

}  // namespace

std::string QuotaUsageKey(const v1::QuotaUsage& u) {
  return QuotaUsageKey(u.quota_id(), u.subject().id(), u.window_start().seconds());
}

namespace {

class IngestStage {
 public:
  IngestStage(const ProcessorOptions& o, KafkaSink* sink, const EngineHolder* engines,
              int32_t facts_partitions, ProcessorMetrics* m)
      : o_(o), sink_(sink), engines_(engines), m_(*m), facts_(facts_partitions) {
    stream_of_[o.topics.trade] = Stream::kTrade;
    stream_of_[o.topics.cloud_usage] = Stream::kCloudUsage;
    stream_of_[o.topics.model_transfers] = Stream::kModelTransfer;
  }

  absl::Status Run(const std::atomic<bool>& stop) {
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.group_id = absl::StrCat(o_.group_prefix, "-ingest");
    so.topics = {o_.topics.trade, o_.topics.cloud_usage, o_.topics.model_transfers};
    so.max_batch = o_.max_batch;
    so.config = o_.kafka_config;
    CommitOnRevoke listener(this);
    ASSIGN_OR_RETURN(auto source, KafkaSource::Create(so, &listener));
    source_ = source.get();
    absl::Status result;
    while (!stop.load()) {
      auto records = source->Poll(kPollTimeout);
      if (absl::Status c = source->TakeAsyncCommitError(); !c.ok()) LogError("ingest commit", c);
      if (!records.ok()) {
        result = records.status();
        break;
      }
      if (records->empty()) {
        // A new screening list re-screens the known parties at once, not
        // with the next input.
        if (engines_->Current()->watchlist().list != screened_with_.list) {
          if (absl::Status s = HandleBatch(*records, stop); !s.ok()) {
            result = s;
            break;
          }
        }
        // An idle stream's last offsets are committed too.
        if (!durable_offsets_.empty()) CommitDurable(/*sync=*/false);
        continue;
      }
      BusySpan busy(m_);
      absl::Status s = HandleBatch(*records, stop);
      if (!s.ok()) {
        result = s;
        break;
      }
      // The batch's outputs are durable: its offsets may be committed.
      for (const auto& [tp, next] : batch_offsets_) durable_offsets_[tp] = next;
      if (absl::Now() - last_commit_ >= kCommitInterval) CommitDurable(/*sync=*/false);
    }
    // A clean stop leaves nothing to re-read (Close() revokes through the
    // listener, which would commit too; doing it here reports the error).
    CommitDurable(/*sync=*/true);
    source->Close();
    source_ = nullptr;
    return result;
  }

 private:
  // Offsets are committed at most every kCommitInterval, asynchronously, as
  // Kafka Streams does (commit.interval.ms): a per-batch synchronous commit
  // cost a coordinator round trip on every batch's path. What a crash can
  // re-read grows to this interval's records, which the design absorbs
  // (facts are deduplicated by the stateful stage or are no-ops applied
  // again, alerts by id in alertd).
  static constexpr absl::Duration kCommitInterval = absl::Milliseconds(100);

  // Takes the group's offsets on assignment; before partitions move, commits
  // what is durable, so that their next owner starts where this one ended.
  class CommitOnRevoke final : public RebalanceListener {
   public:
    explicit CommitOnRevoke(IngestStage* stage) : stage_(stage) {}
    absl::StatusOr<std::vector<PartitionOffset>> OnAssigned(
        const std::vector<TopicPartition>& parts) override {
      std::vector<PartitionOffset> out;
      for (const auto& tp : parts) out.push_back({tp, -1});  // the group's offsets
      return out;
    }
    void OnRevoked(const std::vector<TopicPartition>&) override {
      stage_->CommitDurable(/*sync=*/true);
    }

   private:
    IngestStage* stage_;
  };

  // Commits every durable offset not committed yet. A failure only means
  // re-delivery.
  void CommitDurable(bool sync) {
    last_commit_ = absl::Now();
    if (source_ == nullptr || durable_offsets_.empty()) return;
    std::vector<PartitionOffset> offsets;
    offsets.reserve(durable_offsets_.size());
    for (const auto& [tp, next] : durable_offsets_) offsets.push_back({tp, next});
    durable_offsets_.clear();
    if (sync) {
      if (absl::Status c = source_->Commit(offsets); !c.ok()) LogError("ingest commit", c);
    } else {
      source_->CommitAsync(offsets);
    }
  }

  struct Output {
    std::string topic, key, value;
    std::vector<Header> headers;
    int32_t partition = -1;  // -1: by key
  };

  absl::Status HandleBatch(const std::vector<Record>& records, const std::atomic<bool>& stop) {
    // One policy per batch: a new version takes effect at the next one.
    const std::shared_ptr<const DetectionEngine> engine = engines_->Current();
    outputs_.clear();
    batch_offsets_.clear();
    absl::Time now = absl::Now();
    uint64_t n_alerts = 0, n_facts = 0;
    if (engine->watchlist().list != screened_with_.list) {
      // A new screening list: the parties seen so far are screened against
      // what it added, in this batch's flush (a crash re-does it; the alert
      // ids depend on the party and the list version only).
      alerts_.clear();
      const size_t screened = known_.Rescreen(screened_with_, *engine, now, &alerts_);
      for (auto& a : alerts_) {
        outputs_.push_back(
            {o_.topics.alerts, a.alert_id(), ToJson(a), {{"content-type", "application/json"}}});
      }
      n_alerts += alerts_.size();
      m_.rescreened_entities += screened;
      screened_with_ = engine->watchlist();
    }
    const bool note_parties = engine->policy().RuleEnabled("SCREENING_MATCH");
    for (const Record& r : records) {
      ++m_.records_in;
      batch_offsets_[{std::string(r.topic), r.partition}] = r.offset + 1;
      absl::Status s;
      DecodeInfo info;
      auto stream = stream_of_.find(r.topic);
      auto type = ParseContentType(r.content_type);
      if (stream == stream_of_.end()) {
        s = absl::InvalidArgumentError(absl::StrCat("unexpected topic ", r.topic));
      } else if (!type.ok()) {
        s = type.status();
      } else {
        s = DecodeEvent(stream->second, *type, r.value, o_.limits, &event_, &info);
      }
      if (!s.ok()) {
        DeadLetter(r, std::string(s.message()));
        continue;
      }
      alerts_.clear();
      event_facts_.clear();
      // Once for the screening rule and the entity registry.
      if (note_parties) ScreenedParties(event_, &parties_);
      engine->Inspect(event_, now, &alerts_, &event_facts_, note_parties ? &parties_ : nullptr);
      // The event as its facts carry it (for a trade, the parts their rules
      // read), serialized once for all of them.
      event_bytes_.clear();
      if (!event_facts_.empty()) {
        engine->FactEvent(event_, event_facts_, &fact_event_).AppendToString(&event_bytes_);
      }
      if (auto too_big = OversizedOutput(); !too_big.empty()) {
        // Kafka would refuse it and the stage would retry forever: the event
        // is dead-lettered instead (no valid event comes near the limit).
        DeadLetter(r, too_big);
        continue;
      }
      ++m_.events_valid;
      if (info.had_unknown_fields) ++m_.unknown_fields;
      if (note_parties) known_.Note(event_, parties_);
      for (auto& a : alerts_) {
        outputs_.push_back(
            {o_.topics.alerts, a.alert_id(), ToJson(a), {{"content-type", "application/json"}}});
      }
      n_alerts += alerts_.size();
      n_facts += event_facts_.size();
      for (auto& f : event_facts_) {
        fact_.Clear();
        fact_.set_rule_id(f.rule_id);
        fact_.set_key(f.key);
        if (!f.source_rule_id.empty()) fact_.set_source_rule_id(f.source_rule_id);
        fact_.set_source_topic(r.topic.data(), r.topic.size());
        fact_.set_source_partition(r.partition);
        fact_.set_source_offset(r.offset);
        if (f.payload.has_value()) {
          facts_.Add(fact_, *f.payload);
        } else {
          facts_.Add(fact_, event_bytes_);
        }
      }
    }
    for (auto& batch : facts_.Take()) {
      outputs_.push_back({o_.topics.facts, "", std::move(batch.value), {}, batch.partition});
    }
    RETURN_IF_ERROR(ProduceDurably(*sink_, stop, m_, "ingest", [&]() -> absl::Status {
      for (const auto& out : outputs_) {
        RETURN_IF_ERROR(sink_->Produce(out.topic, out.key, out.value, out.headers, out.partition));
      }
      return absl::OkStatus();
    }));
    m_.alerts_out += n_alerts;
    m_.facts_out += n_facts;
    return absl::OkStatus();
  }

  // Queues `r` for dead-letters: its first max_dead_letter_bytes, the reason
  // and its origin (flagged when cut).
  void DeadLetter(const Record& r, std::string error) {
    ++m_.dead_letters;
    Output dead{o_.topics.dead_letters,
                std::string(r.key.substr(0, o_.limits.max_string_bytes)),
                std::string(r.value.substr(0, o_.max_dead_letter_bytes)),
                {{"error", std::move(error)},
                 {"source-topic", std::string(r.topic)},
                 {"source-partition", absl::StrCat(r.partition)},
                 {"source-offset", absl::StrCat(r.offset)},
                 {"content-type", std::string(r.content_type.substr(0, 256))}}};
    if (r.value.size() > o_.max_dead_letter_bytes) {
      dead.headers.push_back({"truncated", "true"});
      dead.headers.push_back({"original-size", absl::StrCat(r.value.size())});
    }
    outputs_.push_back(std::move(dead));
  }

  // Empty, or why this event's alerts or facts would be too large to produce.
  std::string OversizedOutput() const {
    // What travels: the serialized fact event (empty when the event raised
    // no fact) plus room for a fact's own fields, whose key is at most a
    // string of the event (a trimmed fact event may not hold it) and whose
    // rule ids and topic are short. Payload facts (one per serial) carry a
    // few fields of the event, so they are smaller.
    const size_t fact_bytes =
        event_bytes_.empty() ? 0 : event_bytes_.size() + 2 * o_.limits.max_string_bytes + 512;
    if (fact_bytes > kMaxOutputBytes) {
      return absl::StrCat("event re-encoded as a fact is ", fact_bytes, " bytes (limit ",
                          kMaxOutputBytes, ")");
    }
    for (const auto& a : alerts_) {
      if (a.ByteSizeLong() * 6 > kMaxOutputBytes) {  // JSON escapes at most x6
        return absl::StrCat("alert ", a.rule_id(), " would exceed ", kMaxOutputBytes, " bytes");
      }
    }
    return "";
  }

  // Under Kafka's default message.max.bytes (1,000,000).
  static constexpr size_t kMaxOutputBytes = 950'000;

  const ProcessorOptions& o_;
  KafkaSink* sink_;
  const EngineHolder* engines_;
  // Parties seen, and the list they were last screened against.
  EntityRegistry known_{o_.known_entities};
  WatchlistData screened_with_ = engines_->Current()->watchlist();
  ProcessorMetrics& m_;
  std::map<std::string, Stream, std::less<>> stream_of_;
  KafkaSource* source_ = nullptr;  // while Run() runs
  // The next offset per partition: of the batch being handled, and of the
  // batches whose outputs are durable but not yet committed.
  std::map<TopicPartition, int64_t> batch_offsets_;
  std::map<TopicPartition, int64_t> durable_offsets_;
  absl::Time last_commit_ = absl::InfinitePast();
  std::vector<Output> outputs_;
  // Not in an arena: the JSON decoder keeps the event's members for reuse
  // (release_* from an arena message would copy them).
  v1::Event event_;
  std::vector<v1::Alert> alerts_;
  std::vector<FactOut> event_facts_;
  // The current event's ScreenedParties (they point into event_).
  std::vector<ScreenedParty> parties_;
  // A fact without its event, and the event serialized once for its facts
  // (for a trade, only the parts their rules read: fact_event_).
  v1::Fact fact_;
  v1::Event fact_event_;
  std::string event_bytes_;
  // This batch's facts, a record per facts partition.
  FactBatcher facts_;
};

class StatefulStage final : public RebalanceListener {
 public:
  StatefulStage(const ProcessorOptions& o, KafkaSink* sink, const EngineHolder* engines,
                StateStore* store, Changelog* changelog, int32_t facts_partitions,
                ProcessorMetrics* m)
      : o_(o),
        sink_(sink),
        engines_(engines),
        store_(store),
        changelog_(changelog),
        state_(store, o.policy->proto().dedup_retention_seconds()),
        m_(*m),
        derived_records_(facts_partitions) {}

  absl::StatusOr<std::vector<PartitionOffset>> OnAssigned(
      const std::vector<TopicPartition>& parts) override {
    std::vector<PartitionOffset> out;
    for (const auto& tp : parts) {
      if (changelog_ != nullptr) {
        // Before the shard's first fact: fence the changelog and bring the
        // local copy up to it (the input offset comes with the state).
        ASSIGN_OR_RETURN(RestoreStats rs, changelog_->Acquire(tp.partition, store_, *stop_));
        CountRestore(tp.partition, rs);
      }
      ASSIGN_OR_RETURN(int64_t next, state_.StoredOffset(tp.partition, tp.topic));
      // Never committed: the start of the log (auto.offset.reset=earliest).
      out.push_back({tp, next});
      ExpectNext(tp.partition, std::max<int64_t>(next, 0));
    }
    return out;
  }
  // Every batch is committed before the next poll, so nothing is pending.
  void OnRevoked(const std::vector<TopicPartition>& parts) override {
    if (changelog_ == nullptr) return;
    for (const auto& tp : parts) changelog_->Release(tp.partition);
  }

  absl::Status Run(const std::atomic<bool>& stop) {
    stop_ = &stop;
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.group_id = absl::StrCat(o_.group_prefix, "-stateful");
    so.topics = {o_.topics.facts};
    so.max_batch = o_.max_batch;
    so.config = o_.kafka_config;
    ASSIGN_OR_RETURN(auto source, KafkaSource::Create(so, this));
    source_ = source.get();
    absl::Status result;
    while (!stop.load()) {
      // A snapshot in progress goes on between polls even when no facts
      // come: the poll waits no longer than its next step.
      const absl::Duration next_step =
          changelog_ != nullptr ? changelog_->until_next_snapshot_step() : absl::InfiniteDuration();
      const bool snapshotting = next_step != absl::InfiniteDuration();
      auto records = source->Poll(std::min(kPollTimeout, next_step));
      skip_.clear();  // a seek's shards: this poll is from their new position
      if (!records.ok()) {
        // A stop that interrupts a restore is a clean stop: the shard's
        // local copy is consistent at every checkpoint.
        if (!(stop.load() && absl::IsCancelled(records.status()))) result = records.status();
        break;
      }
      if (records->empty()) {
        if (snapshotting) {
          absl::Status s = SnapshotStep(stop);
          if (!s.ok() && stop.load()) break;
        }
        continue;
      }
      std::optional<BusySpan> busy(std::in_place, m_);
      // A poll of a backlog can hold 2,000 fact batches (~100,000 facts):
      // applied as one, its overlay, changelog records and RocksDB batch
      // would grow to hundreds of MB and its alerts wait for all of it.
      absl::Status s;
      for (size_t from = 0; from < records->size() && s.ok(); from += kRecordsPerBatch) {
        s = HandleBatch(absl::MakeConstSpan(*records).subspan(from, kRecordsPerBatch), stop);
      }
      busy.reset();
      if (!s.ok()) {
        state_.Abort();
        // Stopped before the batch was durable: nothing of it committed.
        if (!(stop.load() && absl::IsCancelled(s))) result = s;
        break;
      }
    }
    source->Close();
    source_ = nullptr;
    return result;
  }

 private:
  // Fact records applied (and made durable) together.
  static constexpr size_t kRecordsPerBatch = 64;

  // The facts topic has no gaps (idempotent producers, no transactions, no
  // compaction): a record past the one expected means the log dropped facts
  // this stage never read (retention shorter than its lag; librdkafka then
  // resets to the log start). They are lost for good; say so, and count them.
  void ExpectNext(int32_t partition, int64_t offset) {
    if (partition < 0) return;
    if (static_cast<size_t>(partition) >= expected_next_.size()) {
      expected_next_.resize(static_cast<size_t>(partition) + 1, -1);
    }
    expected_next_[static_cast<size_t>(partition)] = offset;
  }
  void CheckContiguous(const Record& r) {
    if (r.partition < 0 || static_cast<size_t>(r.partition) >= expected_next_.size()) return;
    int64_t& want = expected_next_[static_cast<size_t>(r.partition)];
    if (want >= 0 && r.offset > want) {
      m_.facts_lost_to_retention += static_cast<uint64_t>(r.offset - want);
      std::cerr << "processor/stateful: " << r.topic << "/" << r.partition << ": records " << want
                << ".." << r.offset - 1
                << " were dropped by the log before this stage read them (retention shorter "
                   "than its lag): their facts are lost"
                << std::endl;
    }
    want = r.offset + 1;
  }

  void CountRestore(int32_t partition, const RestoreStats& rs) {
    ++m_.shards_restored;
    m_.restored_records += rs.records;
    m_.restored_bytes += rs.bytes;
    m_.restored_ops += rs.ops_applied;
    m_.restore_wall_nanos += absl::ToInt64Nanoseconds(rs.wall);
    m_.restore_cpu_nanos += absl::ToInt64Nanoseconds(rs.thread_cpu);
    m_.changelog_discarded += rs.incomplete_discarded + rs.fenced_discarded;
    if (rs.local_copy_dropped) ++m_.local_copies_dropped;
    std::cerr << "processor/stateful: shard " << partition << " restored " << rs.records
              << " changelog records (" << rs.bytes << " bytes, " << rs.batches_applied
              << " batches, " << rs.ops_applied << " key writes) in "
              << absl::ToDoubleSeconds(rs.wall) << " s, thread cpu "
              << absl::ToDoubleSeconds(rs.thread_cpu)
              << " s; not applied: " << rs.incomplete_discarded << " cut, " << rs.fenced_discarded
              << " fenced" << (rs.local_copy_dropped ? "; local copy rebuilt" : "")
              << (rs.snapshot_base >= 0
                      ? absl::StrCat("; from the snapshot at offset ", rs.snapshot_base, " (",
                                     rs.before_snapshot_skipped, " records before it skipped)")
                      : std::string())
              << std::endl;
  }

  // Shards another instance fenced while this one still held them (the
  // group gave them to both, or this one was a zombie that was never told):
  // what this instance wrote there since is ignored by every reader. It
  // takes them again (its fence now wins), rebuilds their state from the
  // log, and reads their facts again from the offset that state holds; the
  // rest of this poll's records of those shards are dropped (re-read).
  absl::Status Reacquire(const std::vector<int32_t>& fenced, const std::atomic<bool>& stop) {
    std::vector<PartitionOffset> seek;
    for (int32_t p : fenced) {
      std::cerr << "processor/stateful: shard " << p
                << " was fenced by another instance while this one held it; acquiring it again"
                << std::endl;
      ++m_.shards_reacquired;
      changelog_->Release(p);
      ASSIGN_OR_RETURN(RestoreStats rs, changelog_->Acquire(p, store_, stop));
      CountRestore(p, rs);
      ASSIGN_OR_RETURN(int64_t next, state_.StoredOffset(p, o_.topics.facts));
      seek.push_back({{o_.topics.facts, p}, next});
      ExpectNext(p, std::max<int64_t>(next, 0));
      skip_.insert(p);
    }
    return source_->Seek(seek);
  }

  absl::Status HandleBatch(absl::Span<const Record> records, const std::atomic<bool>& stop) {
    // One policy per batch: a new version takes effect at the next one.
    const std::shared_ptr<const DetectionEngine> engine = engines_->Current();
    alerts_.clear();
    derived_.clear();
    reports_.Clear();
    arena_.Reset();
    absl::Time now = absl::Now();
    uint64_t n_derived = 0;
    for (const Record& r : records) {
      if (!skip_.empty() && skip_.count(r.partition) > 0) continue;
      CheckContiguous(r);
      state_.SetOffset(r.partition, r.topic, r.offset + 1);
      auto* batch = google::protobuf::Arena::CreateMessage<v1::FactBatch>(&arena_);
      if (!batch->ParseFromArray(r.value.data(), static_cast<int>(r.value.size()))) {
        // Only this process writes the facts topic; count and move on.
        LogError("stateful", absl::DataLossError(absl::StrCat("unreadable fact batch at ", r.topic,
                                                              "/", r.partition, "@", r.offset)));
        continue;
      }
      for (const v1::Fact& fact : batch->facts()) {
        const size_t first_derived = derived_.size();
        ASSIGN_OR_RETURN(bool applied,
                         engine->Apply(r.partition, fact, now, state_, &alerts_, &derived_,
                                       report_usage ? &reports_ : nullptr));
        for (size_t i = first_derived; i < derived_.size(); ++i) {
          const FactOut& d = derived_[i];
          // A payload goes as the bytes it already is, not parsed again.
          v1::Fact out = d.payload.has_value() ? FactHeader(d) : MakeFact(d, fact.event());
          out.set_source_topic(fact.source_topic());
          out.set_source_partition(fact.source_partition());
          out.set_source_offset(fact.source_offset());
          derived_records_.Add(out, d.payload.has_value() ? absl::string_view(*d.payload) : "");
          ++n_derived;
        }
        if (applied) {
          ++m_.facts_applied;
        } else {
          ++m_.facts_duplicate;
        }
      }
    }
    const std::vector<FactBatcher::Record> derived_records = derived_records_.Take();
    // Alerts and derived facts are durable before the state that made them
    // commits: a crash in between re-applies the batch, which re-produces the
    // same alert ids and facts (dropped downstream as duplicates). Quota
    // usages go with them: the newest per quota window (a compacted topic
    // keeps the newest per key, so a repeat is harmless).
    if (!alerts_.empty() || !derived_records.empty() || reports_.size() > 0) {
      RETURN_IF_ERROR(ProduceDurably(*sink_, stop, m_, "stateful", [&]() -> absl::Status {
        for (const auto& a : alerts_) {
          RETURN_IF_ERROR(sink_->Produce(o_.topics.alerts, a.alert_id(), ToJson(a),
                                         {{"content-type", "application/json"}}));
        }
        for (const auto& [partition, value] : derived_records) {
          RETURN_IF_ERROR(sink_->Produce(o_.topics.facts, "", value, {}, partition));
        }
        for (size_t i = 0; i < reports_.size(); ++i) {
          RETURN_IF_ERROR(sink_->Produce(o_.topics.quota_usage, reports_.key(i),
                                         reports_.usage(i).SerializeAsString(),
                                         {{"content-type", "application/x-protobuf"}}));
        }
        return absl::OkStatus();
      }));
      m_.alerts_out += alerts_.size();
      m_.facts_out += n_derived;
    }
    if (changelog_ != nullptr) {
      // The batch's state changes, dedup marks and input offsets go to the
      // changelog (one record per shard, chunked if large) after its
      // outputs and before the local write: a restore can then never hold a
      // state whose alerts were not delivered, and a crash before the local
      // write is repaired by the restore on restart.
      const auto& by_shard = state_.Stage();
      fenced_.clear();
      if (!by_shard.empty()) {
        uint64_t r0 = changelog_->records_out(), b0 = changelog_->bytes_out();
        ASSIGN_OR_RETURN(auto checkpoints, changelog_->Append(by_shard, stop, &fenced_));
        for (auto& op : checkpoints) state_.Put(std::move(op.key), std::move(*op.value));
        m_.changelog_records_out += changelog_->records_out() - r0;
        m_.changelog_bytes_out += changelog_->bytes_out() - b0;
      }
    }
    // A fenced shard's part of the batch stays out of the local store (every
    // reader of the log ignores it too): its local copy is then still the
    // state as of its previous checkpoint, before the foreign fence, and its
    // restore reads on from there instead of rebuilding the shard.
    RETURN_IF_ERROR(state_.Commit(fenced_));
    ++m_.batches_committed;
    if (!fenced_.empty()) RETURN_IF_ERROR(Reacquire(fenced_, stop));
    if (changelog_ != nullptr) {
      absl::Status s = SnapshotStep(stop);
      if (!s.ok() && stop.load()) return s;
    }
    return absl::OkStatus();
  }

  // One step of a shard's snapshot, when one is due or in progress: it
  // bounds what a restore from nothing must read (changelog.h). A failure
  // costs only the snapshot: another starts after the next batch, and the
  // log still holds everything.
  absl::Status SnapshotStep(const std::atomic<bool>& stop) {
    const int64_t s0 = changelog_->snapshots_out(), b0 = changelog_->snapshot_bytes_out();
    const int64_t r0 = changelog_->records_out(), c0 = changelog_->bytes_out();
    absl::Status s = changelog_->SnapshotIfDue(store_, stop);
    m_.changelog_snapshots_out += changelog_->snapshots_out() - s0;
    m_.changelog_snapshot_bytes_out += changelog_->snapshot_bytes_out() - b0;
    m_.changelog_records_out += changelog_->records_out() - r0;
    m_.changelog_bytes_out += changelog_->bytes_out() - c0;
    return s;
  }

  const ProcessorOptions& o_;
  KafkaSink* sink_;
  const EngineHolder* engines_;
  StateStore* store_;
  Changelog* changelog_;  // null: no changelog
  const std::atomic<bool>* stop_ = nullptr;
  KafkaSource* source_ = nullptr;  // while Run runs
  // Shards re-acquired during this poll: their remaining records are dropped.
  absl::flat_hash_set<int32_t> skip_;
  std::vector<int32_t> fenced_;         // by Append, per batch
  std::vector<int64_t> expected_next_;  // by facts partition; -1: not known
  TaskState state_;
  ProcessorMetrics& m_;
  std::vector<v1::Alert> alerts_;
  // The batch's facts, in an arena reset per batch: parsing a fact then
  // allocates its ~10 messages by bumping a pointer.
  google::protobuf::Arena arena_{BatchArenaOptions()};
  std::vector<FactOut> derived_;
  FactBatcher derived_records_;
  UsageReports reports_;
  const bool report_usage = !o_.topics.quota_usage.empty();
};

class KafkaProcessor final : public Processor {
 public:
  explicit KafkaProcessor(ProcessorOptions o)
      : o_(std::move(o)), engines_(o_.policy, o_.watchlist) {}

  absl::Status Init() {
    KafkaSinkOptions sink_opts;
    sink_opts.brokers = o_.brokers;
    sink_opts.config = o_.kafka_config;
    // One producer per stage: Flush() reports the delivery errors of its own
    // producer, so a stage can never take (and clear) the other's failure.
    ASSIGN_OR_RETURN(sink_, KafkaSink::Create(sink_opts));
    ASSIGN_OR_RETURN(stateful_sink_, KafkaSink::Create(sink_opts));
    if (o_.create_topics) {
      std::vector<TopicSpec> topics = {
          {o_.topics.trade, 4},
          {o_.topics.cloud_usage, 4},
          {o_.topics.model_transfers, 1},
          {o_.topics.alerts, 1},
          {o_.topics.dead_letters, 1},
          // Without a changelog a moved shard rebuilds its state from here,
          // so nothing expires by default; with one, retention only has to
          // stay above the stateful stage's lag.
          {o_.topics.facts, o_.facts_partitions, {{"retention.ms", "-1"}}}};
      if (!o_.topics.quota_usage.empty()) {
        topics.push_back({o_.topics.quota_usage, 1, {{"cleanup.policy", "compact"}}});
      }
      if (!o_.topics.state_changelog.empty()) {
        // Records have unique keys (processor/changelog.h), so compaction
        // would drop none: the log is bounded by snapshots and, if the
        // operator sets it, retention.bytes (processor/README.md). Never by
        // time, which could drop the newest snapshot of an idle shard.
        topics.push_back({o_.topics.state_changelog,
                          o_.facts_partitions,
                          {{"cleanup.policy", "delete"}, {"retention.ms", "-1"}}});
      }
      if (!o_.topics.reference_data.empty()) {
        // The newest record per key is the reference data in force.
        topics.push_back({o_.topics.reference_data, 1, {{"cleanup.policy", "compact"}}});
      }
      RETURN_IF_ERROR(sink_->EnsureTopics(topics, absl::Seconds(10)));
    }
    PolicyUpdateOptions pu;
    pu.file = o_.policy_file;
    pu.watchlist_files = o_.watchlist_files;
    pu.brokers = o_.brokers;
    pu.topic = o_.topics.reference_data;
    pu.kafka_config = o_.kafka_config;
    pu.log = [](const std::string& m) { std::cerr << "processor: " << m << std::endl; };
    if (!pu.file.empty() || !pu.topic.empty() || !pu.watchlist_files.empty()) {
      ASSIGN_OR_RETURN(policy_updates_, PolicyUpdates::Start(std::move(pu), &engines_));
    }
    if (!o_.topics.quota_usage.empty() &&
        !sink_->PartitionCount(o_.topics.quota_usage, absl::Seconds(5)).ok()) {
      // Producing to a missing topic would retry forever and stall the
      // stateful stage; the view is optional, the detections are not.
      std::cerr << "processor: topic " << o_.topics.quota_usage
                << " is missing: quota usages for QueryService are not written" << std::endl;
      o_.topics.quota_usage.clear();
    }
    // Facts are batched by partition (fact_batch.h) over the count at start.
    ASSIGN_OR_RETURN(facts_partitions_, sink_->PartitionCount(o_.topics.facts, absl::Seconds(10)));
    if (!o_.topics.state_changelog.empty()) {
      // One changelog partition per shard.
      ASSIGN_OR_RETURN(int log,
                       sink_->PartitionCount(o_.topics.state_changelog, absl::Seconds(10)));
      if (facts_partitions_ != log) {
        return absl::FailedPreconditionError(
            absl::StrCat(o_.topics.state_changelog, " has ", log, " partitions, ", o_.topics.facts,
                         " has ", facts_partitions_, ": they must be equal"));
      }
      ChangelogOptions co;
      co.brokers = o_.brokers;
      co.kafka_config = o_.kafka_config;
      co.topic = o_.topics.state_changelog;
      // Only the stateful stage appends, between its own flushes.
      co.sink = stateful_sink_.get();
      co.snapshot_step_bytes = o_.snapshot_step_bytes;
      co.snapshot_duty = o_.snapshot_duty;
      ASSIGN_OR_RETURN(changelog_, Changelog::Create(std::move(co)));
    }
    RocksDbStateStoreOptions so;
    so.path = o_.state_dir;
    ASSIGN_OR_RETURN(store_, OpenRocksDbStateStore(so));
    return absl::OkStatus();
  }

  absl::Status Run(const std::atomic<bool>& stop) override {
    // Either stage failing stops the other.
    std::atomic<bool> local_stop{false};
    auto idle = [&] {
      int64_t last = metrics_.last_record_unix_nanos.load();
      return o_.exit_when_idle > absl::ZeroDuration() && last != 0 &&
             metrics_.stages_busy.load() == 0 &&
             absl::Now() - absl::FromUnixNanos(last) > o_.exit_when_idle;
    };
    auto watch = [&] { return stop.load() || local_stop.load() || idle(); };
    std::atomic<bool> combined{false};
    absl::Status ingest_status, stateful_status;
    IngestStage ingest(o_, sink_.get(), &engines_, facts_partitions_, &metrics_);
    StatefulStage stateful(o_, stateful_sink_.get(), &engines_, store_.get(), changelog_.get(),
                           facts_partitions_, &metrics_);
    // Named for profilers and top -H (at most 15 characters).
    std::thread t1([&] {
      pthread_setname_np(pthread_self(), "ew-ingest");
      ingest_status = ingest.Run(combined);
      local_stop = true;
    });
    std::thread t2([&] {
      pthread_setname_np(pthread_self(), "ew-stateful");
      stateful_status = stateful.Run(combined);
      local_stop = true;
    });
    while (!watch()) absl::SleepFor(absl::Milliseconds(50));
    combined = true;
    t1.join();
    t2.join();
    if (!ingest_status.ok()) return ingest_status;
    return stateful_status;
  }

  const ProcessorMetrics& metrics() const override { return metrics_; }

 private:
  ProcessorOptions o_;
  EngineHolder engines_;
  std::unique_ptr<PolicyUpdates> policy_updates_;
  std::unique_ptr<KafkaSink> sink_;  // the ingest stage's, and admin
  std::unique_ptr<KafkaSink> stateful_sink_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Changelog> changelog_;
  int32_t facts_partitions_ = 0;
  ProcessorMetrics metrics_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Processor>> Processor::Create(ProcessorOptions options) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("--brokers is required");
  if (options.state_dir.empty()) return absl::InvalidArgumentError("a state directory is required");
  if (options.policy == nullptr) return absl::InvalidArgumentError("a policy is required");
  auto p = std::make_unique<KafkaProcessor>(std::move(options));
  RETURN_IF_ERROR(p->Init());
  return p;
}

}  // namespace exportwatch
