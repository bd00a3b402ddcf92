// SCREENING_MATCH: parties and ultimate parents against a watchlist, the
// severities, the alert identities per stream, the policy threshold, and the
// re-screen of known parties when a list changes (with the real OFAC
// snapshots of 2022-02-24 and 02-25: 91 additions).
#include "processor/rules/screening_match.h"

#include <fstream>
#include <set>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "processor/entity_registry.h"
#include "processor/rules/alert_builder.h"
#include "screening/list_loader.h"
#include "tests/processor/rule_harness.h"

namespace exportwatch::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr char kList[] = R"({"results": [
  {"id": "el-1", "name": "Sophgo Technologies Ltd.", "alt_names": ["Suanneng Technology"],
   "source": "Entity List (EL) - Bureau of Industry and Security", "type": "Entity",
   "addresses": [{"address": "Haidian", "city": "Beijing", "country": "CN"}]},
  {"id": "sdn-1", "name": "Rosoboronexport",
   "source": "Specially Designated Nationals (SDN) - Treasury Department", "type": "Entity"},
  {"id": "dpl-1", "name": "Quantum Parts Trading LLC",
   "source": "Denied Persons List (DPL) - Bureau of Industry and Security", "type": "Entity"}
]})";

WatchlistData TestList() {
  auto w = WatchlistFromText(kList, "test-list.json");
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : WatchlistData{};
}

std::shared_ptr<const Policy> OnlyScreening(double min_score = 0) {
  v1::Policy p = (*Policy::FromProfile("current"))->proto();
  p.clear_enabled_rules();
  p.add_enabled_rules("SCREENING_MATCH");
  if (min_score > 0) p.mutable_screening()->set_min_score(min_score);
  return *Policy::Create(p);
}

// The contract's trade with the Malaysian consignee renamed.
v1::Event TradeTo(const std::string& consignee, const std::string& parent = "") {
  v1::Event e = ContractEvent(Stream::kTrade);
  auto* t = e.mutable_trade();
  for (auto* p : {t->mutable_purchaser(), t->mutable_ultimate_consignee(), t->mutable_end_user()}) {
    p->set_name(consignee);
    if (!parent.empty()) p->set_ultimate_parent_name(parent);
  }
  return e;
}

TEST(ScreeningMatchTest, ListedConsigneeSpelledDifferentlyIsCriticalOnAControlledShipment) {
  RuleHarness h(OnlyScreening(), TestList());
  auto alerts = h.Run(TradeTo("SOPHGO TECHNOLOGIES LIMITED"));
  ASSERT_THAT(RulesOf(alerts), ElementsAre("SCREENING_MATCH:CRITICAL"));
  const v1::Alert& a = alerts[0];
  EXPECT_EQ(a.subject().kind(), v1::ENTITY);
  EXPECT_EQ(a.subject().id(), "C-1042");  // purchaser, consignee and end user: one party
  EXPECT_EQ(StringValue(a, "list_entry_id"), "el-1");
  EXPECT_EQ(StringValue(a, "matched_via"), "name");
  EXPECT_EQ(StringValue(a, "controlled_shipment"), "true");
  EXPECT_EQ(StringValue(a, "trigger"), "event");
  EXPECT_GE(NumberValue(a, "score"), 0.88);
  EXPECT_EQ(NumberValue(a, "min_score"), 0.88);
  EXPECT_THAT(StringValue(a, "watchlist_version"), ::testing::StartsWith("test-list.json@3#"));
  ASSERT_EQ(a.evidence().event_ids_size(), 1);
  EXPECT_EQ(a.evidence().event_ids(0), "tr-000123");
}

// The ingest stage computes an event's parties once and hands them to the
// rule (RuleContext::screened_parties): the same alerts as the rule's own.
TEST(ScreeningMatchTest, PartiesHandedInRaiseWhatTheRuleFindsItself) {
  DetectionEngine engine(OnlyScreening(), TestList());
  const absl::Time now = absl::FromUnixSeconds(1767225600);
  for (const char* name : {"SOPHGO TECHNOLOGIES LIMITED", "ROSOBORONEXPORT JSC", "Nobody Ltd"}) {
    SCOPED_TRACE(name);
    const v1::Event e = TradeTo(name, "Quantum Parts Trading LLC");
    std::vector<v1::Alert> own, handed;
    std::vector<FactOut> facts;
    engine.Inspect(e, now, &own, &facts);
    const std::vector<ScreenedParty> parties = ScreenedParties(e);
    engine.Inspect(e, now, &handed, &facts, &parties);
    ASSERT_FALSE(own.empty()) << "every name here matches (the parent at least)";
    ASSERT_EQ(own.size(), handed.size());
    for (size_t i = 0; i < own.size(); ++i) {
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(own[i], handed[i]))
          << own[i].DebugString() << "\nvs\n"
          << handed[i].DebugString();
    }
  }
}

// Each entity once, in the place of its first role, as its fullest copy
// (the one with an ultimate parent), from the first 64 parties with a name;
// a reused vector holds only the new event's parties.
TEST(ScreeningMatchTest, ScreenedPartiesEachEntityOnceFromTheFirst64) {
  v1::Event e;
  auto* t = e.mutable_trade();
  t->mutable_ultimate_consignee()->set_name("Acme Components Ltd");
  t->mutable_ultimate_consignee()->set_country("SG");
  t->mutable_purchaser()->set_name("Acme Components Ltd");
  t->mutable_purchaser()->set_country("SG");
  t->mutable_purchaser()->set_ultimate_parent_name("Big Parent Holdings");
  t->mutable_end_user()->set_name("Other Co");
  t->mutable_exporter()->set_country("US");  // no name: not screened, not counted
  for (int i = 0; i < 70; ++i) {
    auto* ic = t->add_intermediate_consignees();
    ic->set_name(absl::StrCat("Forwarder ", i));
  }
  std::vector<ScreenedParty> parties = ScreenedParties(e);
  ASSERT_EQ(parties.size(), 63u);  // 64 candidates, the consignee and purchaser one entity
  EXPECT_EQ(parties[0].role, "purchaser");
  EXPECT_EQ(parties[0].party, &t->purchaser());
  EXPECT_EQ(parties[0].key, EntityKey(t->purchaser()));
  EXPECT_EQ(parties[1].role, "end_user");
  EXPECT_EQ(parties[2].party, &t->intermediate_consignees(0));
  EXPECT_EQ(parties[62].party, &t->intermediate_consignees(60));

  v1::Event cloud;
  cloud.mutable_cloud_usage()->mutable_tenant()->set_name("Tenant Inc");
  ScreenedParties(cloud, &parties);
  ASSERT_EQ(parties.size(), 1u);
  EXPECT_EQ(parties[0].role, "tenant");
  EXPECT_EQ(parties[0].key, EntityKey(cloud.cloud_usage().tenant()));
}

TEST(ScreeningMatchTest, AliasWordOrderAndSdn) {
  RuleHarness h(OnlyScreening(), TestList());
  auto alias = h.Run(TradeTo("Technology Suanneng"));
  ASSERT_THAT(RulesOf(alias), ElementsAre("SCREENING_MATCH:CRITICAL"));
  EXPECT_EQ(StringValue(alias[0], "matched_alias"), "true");
  auto sdn = h.Run(TradeTo("ROSOBORONEXPORT JSC"));
  ASSERT_THAT(RulesOf(sdn), ElementsAre("SCREENING_MATCH:CRITICAL"));
  EXPECT_EQ(StringValue(sdn[0], "list_entry_id"), "sdn-1");
}

TEST(ScreeningMatchTest, OtherListsAndUncontrolledShipmentsAreHigh) {
  RuleHarness h(OnlyScreening(), TestList());
  EXPECT_THAT(RulesOf(h.Run(TradeTo("Quantum Parts Trading, L.L.C."))),
              ElementsAre("SCREENING_MATCH:HIGH"));
  v1::Event v100 = TradeTo("Sophgo Technologies");
  v100.mutable_trade()->set_event_id("evt-v100");
  v100.mutable_trade()->mutable_items(0)->set_chip_model("V100");
  auto alerts = h.Run(v100);
  ASSERT_THAT(RulesOf(alerts), ElementsAre("SCREENING_MATCH:HIGH"));
  EXPECT_EQ(StringValue(alerts[0], "controlled_shipment"), "false");
}

TEST(ScreeningMatchTest, UltimateParentOnTheListMakesTheSubsidiaryAMatch) {
  RuleHarness h(OnlyScreening(), TestList());
  auto alerts = h.Run(TradeTo("Bright Harbor Trading Pte Ltd", "Sophgo Technologies Co., Ltd."));
  ASSERT_THAT(RulesOf(alerts), ElementsAre("SCREENING_MATCH:CRITICAL"));
  EXPECT_EQ(StringValue(alerts[0], "matched_via"), "ultimate_parent");
  EXPECT_EQ(StringValue(alerts[0], "screened_name"), "Sophgo Technologies Co., Ltd.");
  EXPECT_EQ(alerts[0].subject().id(), "C-1042");
}

TEST(ScreeningMatchTest, UnlistedNamesAndScoresUnderThePolicyThresholdDoNotFire) {
  RuleHarness h(OnlyScreening(), TestList());
  EXPECT_THAT(h.Run(ContractEvent(Stream::kTrade)), IsEmpty());
  EXPECT_THAT(h.Run(TradeTo("Sapphire Technologies Ltd")), IsEmpty());
  // One typo: a match at the default threshold, not at 0.99.
  v1::Event typo = TradeTo("Sophgo Technolgies Ltd");
  EXPECT_THAT(RulesOf(h.Run(typo)), ElementsAre("SCREENING_MATCH:CRITICAL"));
  RuleHarness strict(OnlyScreening(0.99), TestList());
  EXPECT_THAT(strict.Run(typo), IsEmpty());
}

TEST(ScreeningMatchTest, NoListLoadedRaisesNothing) {
  RuleHarness h(OnlyScreening());
  EXPECT_THAT(h.Run(TradeTo("Sophgo Technologies Ltd.")), IsEmpty());
}

TEST(ScreeningMatchTest, CloudTenantOncePerDayModelRecipientPerTransfer) {
  RuleHarness h(OnlyScreening(), TestList());
  v1::Event c1 = ContractEvent(Stream::kCloudUsage);
  c1.mutable_cloud_usage()->mutable_tenant()->set_name("Sophgo Technologies");
  v1::Event c2 = c1;
  c2.mutable_cloud_usage()->set_event_id("usage-2");
  c2.mutable_cloud_usage()->mutable_event_time()->set_seconds(
      c1.cloud_usage().event_time().seconds() + 3600);
  v1::Event c3 = c1;
  c3.mutable_cloud_usage()->set_event_id("usage-3");
  c3.mutable_cloud_usage()->mutable_event_time()->set_seconds(
      c1.cloud_usage().event_time().seconds() + 86400);
  auto a1 = h.Run(c1), a2 = h.Run(c2), a3 = h.Run(c3);
  ASSERT_THAT(RulesOf(a1), ElementsAre("SCREENING_MATCH:HIGH"));  // not a shipment
  ASSERT_EQ(a2.size(), 1u);
  ASSERT_EQ(a3.size(), 1u);
  EXPECT_EQ(a1[0].alert_id(), a2[0].alert_id());  // same tenant, same day
  EXPECT_NE(a1[0].alert_id(), a3[0].alert_id());  // the next day
  EXPECT_EQ(StringValue(a1[0], "party_role"), "tenant");

  v1::Event m = ContractEvent(Stream::kModelTransfer);
  m.mutable_model_transfer()->mutable_recipient()->set_name("Rosoboronexport");
  auto am = h.Run(m);
  ASSERT_THAT(RulesOf(am), ElementsAre("SCREENING_MATCH:HIGH"));
  EXPECT_EQ(StringValue(am[0], "party_role"), "recipient");
}

// ---- re-screen when a list changes --------------------------------------

WatchlistData OfacSnapshot(const char* file) {
  auto w = LoadWatchlists({std::string(EW_SHARED_DIR) + "/data/ofac-sdn-git-scrape/" + file});
  EXPECT_TRUE(w.ok()) << w.status();
  return w.ok() ? *std::move(w) : WatchlistData{};
}

TEST(EntityRegistryTest, KnownPartiesAreRescreenedAgainstTheAdditionsOfANewList) {
  WatchlistData before = OfacSnapshot("sdn_2022-02-24T0152Z.csv");
  WatchlistData after = OfacSnapshot("sdn_2022-02-25T0150Z.csv");
  ASSERT_NE(before.list, nullptr);
  ASSERT_NE(after.list, nullptr);
  const screening::WatchlistDiff diff = screening::Diff(*before.list, *after.list);
  ASSERT_EQ(diff.added.size(), 91u);

  // Five consignees named like five of the entries added on 02-25, and 200
  // ordinary ones, all seen under the 02-24 list: no match yet.
  std::vector<std::string> listed_later;
  for (size_t i = 0; i < diff.added.size() && listed_later.size() < 5; i += 17) {
    listed_later.push_back(after.list->entry(*after.list->Find(diff.added[i])).name);
  }
  RuleHarness old_engine(OnlyScreening(), before);
  EntityRegistry instance_a, instance_b;
  int n = 0;
  auto feed = [&](const std::string& name, EntityRegistry& r) {
    v1::Event e = TradeTo(name);
    e.mutable_trade()->set_event_id("evt-" + std::to_string(++n));
    e.mutable_trade()->mutable_ultimate_consignee()->set_entity_id("C-" + std::to_string(n));
    e.mutable_trade()->mutable_purchaser()->set_entity_id("C-" + std::to_string(n));
    e.mutable_trade()->mutable_end_user()->set_entity_id("C-" + std::to_string(n));
    EXPECT_THAT(old_engine.Run(e), IsEmpty()) << name;
    r.Note(e);
  };
  for (int i = 0; i < 200; ++i) feed("Ordinary Compute Sdn Bhd " + std::to_string(i), instance_a);
  n = 1000;
  for (const auto& name : listed_later) feed(name, instance_a);
  n = 1000;
  for (const auto& name : listed_later) feed(name, instance_b);  // same parties, instance b

  DetectionEngine new_engine(OnlyScreening(), after);
  std::vector<v1::Alert> alerts_a, alerts_b;
  const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  EXPECT_EQ(instance_a.Rescreen(before, new_engine, now, &alerts_a), instance_a.size());
  instance_b.Rescreen(before, new_engine, now, &alerts_b);
  ASSERT_EQ(alerts_a.size(), listed_later.size());
  ASSERT_EQ(alerts_b.size(), listed_later.size());
  for (size_t i = 0; i < alerts_a.size(); ++i) {
    EXPECT_EQ(alerts_a[i].rule_id(), "SCREENING_MATCH");
    EXPECT_EQ(StringValue(alerts_a[i], "trigger"), "list_update");
    EXPECT_EQ(StringValue(alerts_a[i], "watchlist_version"), after.version);
    EXPECT_THAT(diff.added, ::testing::Contains(StringValue(alerts_a[i], "list_entry_id")));
  }
  // Two instances that knew the same parties raise the same alerts.
  auto ids = [](const std::vector<v1::Alert>& v) {
    std::set<std::string> s;
    for (const auto& a : v) s.insert(a.alert_id());
    return s;
  };
  EXPECT_EQ(ids(alerts_a), ids(alerts_b));

  // The same list again: nothing new to screen against.
  std::vector<v1::Alert> again;
  DetectionEngine same(OnlyScreening(), after);
  EXPECT_EQ(instance_a.Rescreen(after, same, now, &again), 0u);
  EXPECT_THAT(again, IsEmpty());
}

TEST(EntityRegistryTest, BoundedByCapacity) {
  EntityRegistry r(100);
  for (int i = 0; i < 1000; ++i) {
    v1::Event e = TradeTo("Company " + std::to_string(i));
    for (auto* p :
         {e.mutable_trade()->mutable_purchaser(), e.mutable_trade()->mutable_ultimate_consignee(),
          e.mutable_trade()->mutable_end_user()}) {
      p->set_entity_id("C-" + std::to_string(i));
    }
    e.mutable_trade()->set_event_id("e" + std::to_string(i));
    r.Note(e);
  }
  EXPECT_LE(r.size(), 100u);
  EXPECT_GT(r.evictions(), 0);
}

// ---- list files --------------------------------------------------------------

TEST(WatchlistFilesTest, FormsAreToldApartByContent) {
  const std::string data = std::string(EW_SHARED_DIR) + "/data/";
  auto csv = LoadWatchlists({data + "moov-io-watchman/csl.csv"});
  ASSERT_TRUE(csv.ok()) << csv.status();
  EXPECT_EQ(csv->list->entries().size(), 115u);
  // OFAC sdn.csv with alt.csv and add.csv beside it.
  auto sdn = LoadWatchlists({data + "moov-io-watchman/bench/sdn.csv"});
  ASSERT_TRUE(sdn.ok()) << sdn.status();
  EXPECT_EQ(sdn->list->entries().size(), 8976u);
  size_t aliases = 0;
  for (const auto& e : sdn->list->entries()) aliases += e.alt_names.size();
  EXPECT_GT(aliases, 10000u);  // alt.csv was read
  // Two lists at once; the version names both.
  auto both =
      LoadWatchlists({data + "moov-io-watchman/csl.csv", data + "moov-io-watchman/bench/sdn.csv"});
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->list->entries().size(), 115u + 8976u);
  EXPECT_THAT(both->version, ::testing::StartsWith("csl.csv+sdn.csv@9091#"));
  EXPECT_NE(csv->version, both->version);
}

TEST(WatchlistFilesTest, BadInputIsAClearError) {
  EXPECT_FALSE(LoadWatchlists({"/nonexistent/list.json"}).ok());
  auto text = WatchlistFromText("not a list", "reference-data@7");
  ASSERT_FALSE(text.ok());
  EXPECT_THAT(std::string(text.status().message()), ::testing::HasSubstr("reference-data@7"));
  auto json = WatchlistFromText(R"({"results": [)", "reference-data@8");
  ASSERT_FALSE(json.ok());
  EXPECT_THAT(std::string(json.status().message()), ::testing::HasSubstr("reference-data@8"));
}

TEST(WatchlistFilesTest, EntityListAndSdnSourcesAreRecognised) {
  EXPECT_TRUE(IsEntityListOrSdn("Entity List (EL) - Bureau of Industry and Security"));
  EXPECT_TRUE(IsEntityListOrSdn(screening::kOfacSdnSource));
  EXPECT_FALSE(IsEntityListOrSdn("Denied Persons List (DPL) - Bureau of Industry and Security"));
  EXPECT_FALSE(IsEntityListOrSdn("Unverified List (UVL) - Bureau of Industry and Security"));
}

}  // namespace
}  // namespace exportwatch::testing
