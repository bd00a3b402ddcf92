// Facts of trade events carry only the parts their rules' Apply read
// (Rule::trade_parts_applied, DetectionEngine::FactEvent). These tests prove
// that the trimming changes nothing a user sees: the generator's stream,
// violations included, is applied twice, once with the whole event in every
// fact and once with the event trimmed to the parts of that fact's rule, and
// the alerts, quota usages, derived facts and stored state must be identical.
#include <deque>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "processor/detection_engine.h"
#include "processor/gen/generator.h"
#include "processor/pipeline.h"
#include "processor/policy/policy.h"
#include "processor/task_state.h"
#include "processor/watchlist_data.h"
#include "state/state_store.h"
#include "tests/common/store_contents.h"

namespace exportwatch::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

// One side of the comparison: a store, the state over it, and what its
// Applies produced.
struct Side {
  std::unique_ptr<StateStore> store = NewMemoryStateStore();
  TaskState state{store.get(), 86400};
  std::vector<v1::Alert> alerts;
  std::vector<v1::QuotaUsage> reports;  // every report, in order
  UsageReports batch;
  std::vector<FactOut> derived;

  // Applies `fact` and the facts derived from it, in order (as the stateful
  // stage does through the facts topic). `own_batch`: each Apply is a batch
  // of its own, whose reports are all kept in `reports`; otherwise they
  // accumulate in `batch` until the caller clears it, as in a stateful batch.
  void ApplyAll(const DetectionEngine& engine, v1::Fact fact, absl::Time now,
                bool own_batch = true) {
    std::deque<v1::Fact> queue{std::move(fact)};
    while (!queue.empty()) {
      const size_t first = derived.size();
      if (own_batch) batch.Clear();
      auto applied = engine.Apply(0, queue.front(), now, state, &alerts, &derived, &batch);
      ASSERT_TRUE(applied.ok()) << applied.status();
      for (size_t i = 0; own_batch && i < batch.size(); ++i) {
        // The slot's key is the topic key of what the rule put in it.
        EXPECT_EQ(batch.key(i), QuotaUsageKey(batch.usage(i)));
        reports.push_back(batch.usage(i));
      }
      for (size_t i = first; i < derived.size(); ++i) {
        queue.push_back(MakeFact(derived[i], queue.front().event()));
      }
      queue.pop_front();
    }
  }

  std::map<std::string, std::string> Stored() { return StoreContents(*store); }
};

// The profile, plus quotas over every party scope and the licence (the
// shipped profiles only key quotas by country and ultimate consignee), with
// limits low enough that the generator's stream reaches them.
std::shared_ptr<const Policy> PolicyWithEveryQuotaScope(const std::string& profile) {
  v1::Policy proto = (*Policy::FromProfile(profile))->proto();
  const std::pair<const char*, v1::QuotaScope::Value> scopes[] = {
      {"PURCHASER_CAP", v1::QuotaScope::PURCHASER},
      {"END_USER_CAP", v1::QuotaScope::END_USER},
      {"EXPORTER_CAP", v1::QuotaScope::EXPORTER},
      {"LICENCE_CAP", v1::QuotaScope::AUTHORIZATION_ID},
      {"CONSIGNEE_CAP", v1::QuotaScope::ULTIMATE_CONSIGNEE},
      {"COUNTRY_CAP", v1::QuotaScope::DESTINATION_COUNTRY}};
  for (const auto& [id, scope] : scopes) {
    v1::QuotaDefinition* q = proto.add_quotas();
    q->set_id(id);
    q->set_rule_id(id);
    q->set_scope(scope);
    q->set_measure(v1::QuotaMeasure::TPP);
    // One window without bounds (its usage has no window_start).
    q->mutable_window()->set_kind(scope == v1::QuotaScope::AUTHORIZATION_ID
                                      ? v1::QuotaWindow::LIFETIME
                                      : v1::QuotaWindow::CALENDAR_YEAR);
    q->set_limit(5e6);
    q->add_levels(0.5);
    q->add_level_severities("LOW");
    q->add_levels(1.0);
    q->add_level_severities("MEDIUM");
    proto.add_enabled_rules(id);
  }
  auto policy = Policy::Create(std::move(proto));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

// The processing time of these tests' Inspects and Applies.
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

// Generates 20,000 events of the generator's stream (5% violations), runs
// them through `engine`'s Inspect and calls on_fact(event, fact) for each
// fact in order, then on_event_end() after each event's facts. Stops at the
// first fatal failure (an ASSERT in a callback only leaves the callback).
template <typename OnFact, typename OnEventEnd>
void ForEachFact(const DetectionEngine& engine, uint64_t seed, OnFact on_fact,
                 OnEventEnd on_event_end) {
  EventGenerator::Options o;
  o.seed = seed;
  o.violation_rate = 0.05;
  o.data_dir = std::string(EW_SHARED_DIR) + "/data";
  auto gen = EventGenerator::Create(o);
  ASSERT_TRUE(gen.ok()) << gen.status();
  GeneratedEvent ge;
  for (int i = 0; i < 20000; ++i) {
    (*gen)->Next(&ge);
    std::vector<v1::Alert> alerts;
    std::vector<FactOut> facts;
    engine.Inspect(ge.event, kNow, &alerts, &facts);
    for (const FactOut& f : facts) {
      on_fact(ge.event, f);
      if (::testing::Test::HasFatalFailure()) return;
    }
    on_event_end();
    if (::testing::Test::HasFatalFailure()) return;
  }
}

class FactEventTest : public ::testing::TestWithParam<const char*> {};

TEST_P(FactEventTest, TrimmedFactsRaiseWhatWholeEventsRaise) {
  const std::string data_dir = std::string(EW_SHARED_DIR) + "/data";
  auto watchlist = LoadWatchlists({data_dir + "/moov-io-watchman/csl.csv"});
  ASSERT_TRUE(watchlist.ok()) << watchlist.status();
  DetectionEngine engine(PolicyWithEveryQuotaScope(GetParam()), *watchlist);
  Side whole, trimmed;
  size_t trimmed_facts = 0, whole_bytes = 0, trimmed_bytes = 0;
  std::map<std::string, int> facts_by_rule;
  v1::Event scratch;
  ForEachFact(
      engine, /*seed=*/7,
      [&](const v1::Event& event, const FactOut& f) {
        // Each fact trimmed to its own rule's parts, not to the union the
        // pipeline sends: a rule that reads a part it does not name must fail
        // here even when another rule of the same event names that part.
        const v1::Event& fact_event = engine.FactEvent(event, {f}, &scratch);
        ++facts_by_rule[f.rule_id];
        if (!f.payload.has_value() && &fact_event != &event) {
          ++trimmed_facts;
          whole_bytes += event.ByteSizeLong();
          trimmed_bytes += fact_event.ByteSizeLong();
        }
        whole.ApplyAll(engine, MakeFact(f, event), kNow);
        trimmed.ApplyAll(engine, MakeFact(f, fact_event), kNow);
      },
      [&] {
        ASSERT_TRUE(whole.state.Commit().ok());
        ASSERT_TRUE(trimmed.state.Commit().ok());
      });
  if (HasFatalFailure()) return;

  // The stream exercised the trimmed path, on every kind of quota.
  for (const char* rule : {"PURCHASER_CAP", "END_USER_CAP", "EXPORTER_CAP", "LICENCE_CAP",
                           "CONSIGNEE_CAP", "COUNTRY_CAP", "SHIPMENT_STRUCTURING"}) {
    EXPECT_GT(facts_by_rule[rule], 0) << rule;
  }
  std::cout << GetParam() << ": " << trimmed_facts << " trimmed facts, " << trimmed_bytes
            << " event bytes instead of " << whole_bytes << "\n";
  EXPECT_GT(trimmed_facts, 1000u);
  EXPECT_LT(trimmed_bytes, whole_bytes * 3 / 4) << "trimming kept most of the event";
  std::map<std::string, int> alerts_by_rule;
  for (const auto& a : whole.alerts) ++alerts_by_rule[a.rule_id()];
  for (const char* rule : {"PURCHASER_CAP", "END_USER_CAP", "EXPORTER_CAP", "CONSIGNEE_CAP",
                           "COUNTRY_CAP", "SHIPMENT_STRUCTURING"}) {
    EXPECT_GT(alerts_by_rule[rule], 0) << rule << " raised nothing: its title went unchecked";
  }

  // Identical results.
  ASSERT_EQ(whole.alerts.size(), trimmed.alerts.size());
  for (size_t i = 0; i < whole.alerts.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(whole.alerts[i], trimmed.alerts[i]))
        << whole.alerts[i].DebugString() << "\nvs\n"
        << trimmed.alerts[i].DebugString();
  }
  ASSERT_EQ(whole.reports.size(), trimmed.reports.size());
  size_t lifetime = 0;
  for (size_t i = 0; i < whole.reports.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(whole.reports[i], trimmed.reports[i]));
    lifetime += !whole.reports[i].has_window_start();
  }
  EXPECT_GT(lifetime, 0u) << "no report of a window without bounds (LICENCE_CAP)";
  ASSERT_EQ(whole.derived.size(), trimmed.derived.size());
  for (size_t i = 0; i < whole.derived.size(); ++i) {
    EXPECT_EQ(whole.derived[i].key, trimmed.derived[i].key);
    ASSERT_TRUE(whole.derived[i].payload.has_value() && trimmed.derived[i].payload.has_value());
    EXPECT_EQ(*whole.derived[i].payload, *trimmed.derived[i].payload);
  }
  EXPECT_EQ(whole.Stored(), trimmed.Stored());
}

// A stateful batch publishes the newest usage of each quota window it
// changed, and the quota rule brings a window's slot up to date rather than
// rebuilding it for every shipment (Emitter::UsageSlot). Applied in batches
// of many facts, the stream must publish, per batch and window, exactly
// what applying every fact in a batch of its own reported last.
TEST_P(FactEventTest, BatchedReportsAreTheNewestSingleFactReports) {
  DetectionEngine engine(PolicyWithEveryQuotaScope(GetParam()));
  constexpr int kFactsPerBatch = 300;
  Side single, batched;
  std::map<std::string, v1::QuotaUsage> newest;  // single's last report per window
  std::set<std::string> reported;                // windows single reported this batch
  size_t seen = 0, facts_in_batch = 0, reports_in_batch = 0;
  size_t compared = 0, superseded = 0;
  auto end_batch = [&] {
    for (size_t i = 0; i < batched.batch.size(); ++i) {
      const v1::QuotaUsage& u = batched.batch.usage(i);
      EXPECT_EQ(batched.batch.key(i), QuotaUsageKey(u));
      auto it = newest.find(batched.batch.key(i));
      ASSERT_NE(it, newest.end()) << batched.batch.key(i);
      EXPECT_TRUE(MessageDifferencer::Equals(u, it->second)) << u.DebugString() << "\nvs\n"
                                                             << it->second.DebugString();
      ++compared;
    }
    // Every window reported, and none twice.
    std::set<std::string> keys;
    for (size_t i = 0; i < batched.batch.size(); ++i) keys.insert(batched.batch.key(i));
    EXPECT_EQ(keys.size(), batched.batch.size());
    EXPECT_EQ(keys, reported);
    reported.clear();
    // Reports of a window made earlier in the batch and then updated.
    superseded += reports_in_batch - batched.batch.size();
    batched.batch.Clear();
    ASSERT_TRUE(batched.state.Commit().ok());
    facts_in_batch = reports_in_batch = 0;
  };
  ForEachFact(
      engine, /*seed=*/11,
      [&](const v1::Event& event, const FactOut& f) {
        single.ApplyAll(engine, MakeFact(f, event), kNow);
        batched.ApplyAll(engine, MakeFact(f, event), kNow, /*own_batch=*/false);
        if (HasFatalFailure()) return;
        for (; seen < single.reports.size(); ++seen, ++reports_in_batch) {
          const std::string key = QuotaUsageKey(single.reports[seen]);
          newest[key] = single.reports[seen];
          reported.insert(key);
        }
        if (++facts_in_batch == kFactsPerBatch) end_batch();
      },
      [&] { ASSERT_TRUE(single.state.Commit().ok()); });
  if (HasFatalFailure()) return;
  end_batch();
  std::cout << GetParam() << ": " << compared << " batched reports compared, " << superseded
            << " superseded within their batch\n";
  EXPECT_GT(compared, 500u);
  EXPECT_GT(superseded, 1000u) << "few windows were reported twice in a batch: the update path "
                                  "went untested";
  EXPECT_EQ(single.alerts.size(), batched.alerts.size());
  EXPECT_EQ(single.Stored(), batched.Stored());
}

INSTANTIATE_TEST_SUITE_P(Profiles, FactEventTest, ::testing::Values("current", "aidr-2025"));

// A trade's facts keep the union of the parts their rules read; a rule that
// does not say gets the whole event, and so does every other kind of event.
TEST(FactEventTest, KeepsTheUnionOfThePartsItsRulesRead) {
  DetectionEngine engine(PolicyWithEveryQuotaScope("aidr-2025"));
  v1::Event event;
  auto* t = event.mutable_trade();
  t->set_event_id("tr-1");
  t->mutable_event_time()->set_seconds(1'750'000'000);
  t->set_shipment_id("SHP-1");
  t->set_source("erp");
  t->set_order_id("PO-1");
  t->set_destination_country("VN");
  t->add_items()->set_chip_model("H100");
  for (auto* p : {t->mutable_exporter(), t->mutable_purchaser(), t->mutable_ultimate_consignee(),
                  t->mutable_end_user()}) {
    p->set_name("Someone");
  }
  t->add_route()->set_country("SG");
  t->mutable_payment()->set_payer_name("Payer");
  t->mutable_authorization()->set_id("LIC-1");
  v1::Event scratch;

  const v1::Event& country = engine.FactEvent(event, {{"COUNTRY_CAP", "VN", "", {}}}, &scratch);
  ASSERT_EQ(&country, &scratch);
  EXPECT_EQ(country.trade().event_id(), "tr-1");
  EXPECT_EQ(country.trade().event_time().seconds(), 1'750'000'000);
  EXPECT_EQ(country.trade().shipment_id(), "SHP-1");
  EXPECT_EQ(country.trade().items_size(), 1);
  EXPECT_FALSE(country.trade().has_purchaser());
  EXPECT_FALSE(country.trade().has_ultimate_consignee());
  EXPECT_FALSE(country.trade().has_payment());
  EXPECT_EQ(country.trade().route_size(), 0);
  EXPECT_EQ(country.trade().source(), "");

  const v1::Event& two = engine.FactEvent(
      event, {{"PURCHASER_CAP", "k", "", {}}, {"SHIPMENT_STRUCTURING", "k", "", {}}}, &scratch);
  EXPECT_TRUE(two.trade().has_purchaser());
  EXPECT_TRUE(two.trade().has_ultimate_consignee());
  EXPECT_FALSE(two.trade().has_exporter());
  EXPECT_FALSE(two.trade().has_end_user());

  // Facts with a payload of their own do not widen it.
  v1::Event own;
  own.mutable_trade()->set_event_id("tr-1");
  const v1::Event& with_payload =
      engine.FactEvent(event,
                       {{"COUNTRY_CAP", "VN", "", {}},
                        {"SERIAL_LOCATION_MISMATCH", "s", "", own.SerializeAsString()}},
                       &scratch);
  EXPECT_FALSE(with_payload.trade().has_ultimate_consignee());

  EXPECT_EQ(&engine.FactEvent(event, {{"SITE_POWER_IMPLAUSIBLE", "s", "", {}}}, &scratch), &event);
  EXPECT_EQ(&engine.FactEvent(event, {{"NOT_A_RULE", "k", "", {}}}, &scratch), &event);
  v1::Event cloud;
  cloud.mutable_cloud_usage()->set_event_id("cu-1");
  EXPECT_EQ(&engine.FactEvent(cloud, {{"PRC_ADVANCED_IC", "t", "", {}}}, &scratch), &cloud);
}

// Rules that read the items get them without their serial numbers (only
// SERIAL_LOCATION_MISMATCH reads serials, from a payload of its own), and
// every other field of an item.
TEST(FactEventTest, ItemsTravelWithoutTheirSerials) {
  DetectionEngine engine(PolicyWithEveryQuotaScope("aidr-2025"));
  v1::Event event;
  auto* t = event.mutable_trade();
  t->set_event_id("tr-1");
  for (const char* model : {"H100", "B200"}) {
    v1::Item* item = t->add_items();
    item->set_chip_model(model);
    item->set_quantity(16);
    item->set_tpp_per_unit(4000);
    item->add_serials("SN-1");
    item->add_serials("SN-2");
  }
  t->mutable_items(1)->clear_tpp_per_unit();
  v1::Event scratch;

  const v1::Event& slim = engine.FactEvent(event, {{"COUNTRY_CAP", "VN", "", {}}}, &scratch);
  ASSERT_EQ(&slim, &scratch);
  ASSERT_EQ(slim.trade().items_size(), 2);
  v1::Item expected = t->items(0);
  expected.clear_serials();
  EXPECT_TRUE(MessageDifferencer::Equals(slim.trade().items(0), expected))
      << slim.trade().items(0).DebugString();
  expected = t->items(1);
  expected.clear_serials();
  EXPECT_TRUE(MessageDifferencer::Equals(slim.trade().items(1), expected))
      << slim.trade().items(1).DebugString();
  EXPECT_FALSE(slim.trade().items(1).has_tpp_per_unit()) << "an absent optional stays absent";
  // CopyTradeParts copies an item field by field: a new Item field must be
  // added there (and here) or facts would silently lose it.
  EXPECT_EQ(v1::Item::descriptor()->field_count(), 4);

  // A rule that does not name its parts gets everything, serials included.
  const v1::Event& whole = engine.FactEvent(
      event, {{"COUNTRY_CAP", "VN", "", {}}, {"NOT_A_RULE", "k", "", {}}}, &scratch);
  EXPECT_EQ(whole.trade().items(0).serials_size(), 2);
}

// A shipment's serial facts carry, each, the bytes protobuf writes for the
// slim event the join reads: the shipment's event_id, event_time,
// shipment_id and destination, and the one item and serial of the fact
// (SerialFactEvents encodes the shared part once). Lengths of 128 bytes and
// more take two-byte varints, at every level.
TEST(FactEventTest, SerialFactsCarryWhatProtobufWouldWrite) {
  DetectionEngine engine(PolicyWithEveryQuotaScope("aidr-2025"));
  for (bool with_time : {true, false}) {
    v1::Event event;
    auto* t = event.mutable_trade();
    t->set_event_id(std::string(120, 'e'));
    if (with_time) t->mutable_event_time()->set_seconds(1'740'000'000);
    t->set_shipment_id("SHP-9");
    t->set_destination_country("SG");
    t->mutable_ultimate_consignee()->set_name("Not In The Facts Ltd");
    t->set_value_usd(1e6);
    const std::vector<std::vector<std::string>> serials = {
        {"SN-1", "", std::string(200, 's')}, {}, {"SN-3"}};
    for (size_t i = 0; i < serials.size(); ++i) {
      v1::Item* item = t->add_items();
      item->set_chip_model(i == 0 ? std::string(130, 'm') : "H100");
      item->set_quantity(3);
      item->set_tpp_per_unit(4000);
      for (const auto& sn : serials[i]) item->add_serials(sn);
    }
    std::vector<v1::Alert> alerts;
    std::vector<FactOut> facts;
    engine.Inspect(event, kNow, &alerts, &facts);

    std::vector<std::string> expected_keys;
    std::vector<std::string> expected_bytes;
    for (const auto& item : t->items()) {
      for (const auto& sn : item.serials()) {
        if (sn.empty()) continue;
        v1::Event slim;
        auto* st = slim.mutable_trade();
        st->set_event_id(t->event_id());
        *st->mutable_event_time() = t->event_time();
        st->set_shipment_id(t->shipment_id());
        st->set_destination_country(t->destination_country());
        auto* it = st->add_items();
        it->set_chip_model(item.chip_model());
        it->add_serials(sn);
        expected_keys.push_back(sn);
        expected_bytes.push_back(slim.SerializeAsString());
      }
    }
    std::vector<std::string> keys;
    std::vector<std::string> bytes;
    for (const auto& f : facts) {
      if (f.rule_id != "SERIAL_LOCATION_MISMATCH") continue;
      ASSERT_TRUE(f.payload.has_value());
      keys.push_back(f.key);
      bytes.push_back(*f.payload);
      v1::Event parsed;
      EXPECT_TRUE(parsed.ParseFromString(*f.payload));
    }
    EXPECT_EQ(keys, expected_keys);
    ASSERT_EQ(bytes.size(), expected_bytes.size());
    for (size_t i = 0; i < bytes.size(); ++i) {
      EXPECT_EQ(bytes[i], expected_bytes[i]) << "fact " << i << " with_time " << with_time;
    }
  }
}

}  // namespace
}  // namespace exportwatch::testing
