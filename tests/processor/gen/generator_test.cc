#include "processor/gen/generator.h"

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/civil_time.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "processor/gen/reference.h"

namespace exportwatch {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;
using v1::AuthorizationType;
using v1::Workload;

// RULES.md, written out again so that the generator's own copy is checked
// against the contract rather than against itself.
const std::set<std::string, std::less<>> kRestricted = {
    "AF", "BY", "MM", "KH", "CF", "CN", "CU", "CD", "ER", "ET", "HT", "IR", "IQ",
    "LB", "LY", "KP", "NI", "RU", "SO", "SS", "SD", "SY", "VE", "ZW", "MO", "HK"};
const std::set<std::string, std::less<>> kTier1 = {"US", "AU", "BE", "CA", "DK", "FI", "FR",
                                                   "DE", "IE", "IT", "JP", "NL", "NZ", "NO",
                                                   "KR", "ES", "SE", "TW", "GB"};
const std::set<std::string, std::less<>> kHubs = {"SG", "MY", "TH", "HK", "AE", "ID", "VN"};
struct ChipRow {
  double tpp;
  bool controlled;
  bool prc;
};
const std::map<std::string, ChipRow, std::less<>> kCatalog = {
    {"H100-SXM", {15832, true, false}},   {"H100-PCIE", {12096, true, false}},
    {"H200", {15832, true, false}},       {"B200", {36000, true, false}},
    {"H20", {2368, true, false}},         {"A100", {4992, true, false}},
    {"L40S", {5864, true, false}},        {"RTX-4090", {5285, true, false}},
    {"MI300X", {20918, true, false}},     {"MI325X", {20800, true, false}},
    {"ASCEND-910B", {5120, true, true}},  {"ASCEND-910C", {12800, true, true}},
    {"ASCEND-910D", {12800, true, true}}, {"V100", {2000, false, false}},
    {"T4", {1040, false, false}},         {"P100", {339, false, false}}};
const std::set<std::string, std::less<>> kRuleIds = {"EMBARGOED_DESTINATION",
                                                     "HQ_IN_RESTRICTED_COUNTRY",
                                                     "PRC_ADVANCED_IC",
                                                     "COUNTRY_QUOTA",
                                                     "CONSIGNEE_LPP_QUOTA",
                                                     "SHIPMENT_STRUCTURING",
                                                     "TRANSSHIPMENT_ROUTE",
                                                     "THIRD_COUNTRY_PAYMENT",
                                                     "SCREENING_MATCH",
                                                     "NEW_ENTITY_VELOCITY",
                                                     "SITE_POWER_IMPLAUSIBLE",
                                                     "SERIAL_LOCATION_MISMATCH",
                                                     "RESTRICTED_TRAINING_COMPUTE",
                                                     "MODEL_WEIGHT_TRANSFER",
                                                     "COMPOSITE_RISK"};

constexpr int64_t kDayMs = 86'400'000;
// aidr-2025 COUNTRY_QUOTA window: 2025-01-15 through 2027-12-31.
constexpr int64_t kQuotaFromMs = 1736899200'000;
constexpr int64_t kQuotaUntilMs = 1830297600'000;

std::string SharedData() { return std::string(EW_SHARED_DIR) + "/data"; }

EventGenerator::Options RealData() {
  EventGenerator::Options o;
  o.data_dir = SharedData();
  o.require_data = true;
  return o;
}

std::unique_ptr<EventGenerator> Make(const EventGenerator::Options& o) {
  auto g = EventGenerator::Create(o);
  EXPECT_TRUE(g.ok()) << g.status();
  return g.ok() ? std::move(g).value() : nullptr;
}

std::vector<GeneratedEvent> Generate(const EventGenerator::Options& o, int n) {
  std::unique_ptr<EventGenerator> g = Make(o);
  std::vector<GeneratedEvent> out(g ? n : 0);
  for (GeneratedEvent& e : out) g->Next(&e);
  return out;
}

const google::protobuf::Timestamp& EventTime(const GeneratedEvent& e) {
  switch (e.event.kind_case()) {
    case v1::Event::kTrade:
      return e.event.trade().event_time();
    case v1::Event::kCloudUsage:
      return e.event.cloud_usage().event_time();
    default:
      return e.event.model_transfer().event_time();
  }
}

int64_t Ms(const google::protobuf::Timestamp& ts) {
  return ts.seconds() * 1000 + ts.nanos() / 1'000'000;
}
int64_t TimeMs(const GeneratedEvent& e) { return Ms(EventTime(e)); }

const std::string& EventId(const GeneratedEvent& e) {
  switch (e.event.kind_case()) {
    case v1::Event::kTrade:
      return e.event.trade().event_id();
    case v1::Event::kCloudUsage:
      return e.event.cloud_usage().event_id();
    default:
      return e.event.model_transfer().event_id();
  }
}

std::string ScenarioName(const GeneratedEvent& e) {
  return std::string(e.scenario.substr(0, e.scenario.find('/')));
}

constexpr char kCountryQuotaLabel[] = "COUNTRY_QUOTA@aidr-2025";

// The labels a scenario is built for, without the country-cap crossings that
// any shipment may add (checked on their own by ExpectBaselineClean).
bool Injected(const GeneratedEvent& e) {
  return !e.scenario.empty() && ScenarioName(e) != "country-quota";
}

std::vector<std::string> ScenarioLabels(const GeneratedEvent& e) {
  std::vector<std::string> out;
  for (const std::string& l : e.expected_rules) {
    if (l != kCountryQuotaLabel) out.push_back(l);
  }
  return out;
}

double ControlledTpp(const v1::TradeEvent& tr) {
  double tpp = 0;
  for (const auto& item : tr.items()) {
    auto it = kCatalog.find(item.chip_model());
    if (it != kCatalog.end() && it->second.controlled) tpp += it->second.tpp * item.quantity();
  }
  return tpp;
}

bool Restricted(std::string_view c) { return kRestricted.count(c) > 0; }

int64_t CivilYear(int64_t ms) {
  return absl::ToCivilYear(absl::FromUnixMillis(ms), absl::UTCTimeZone()).year();
}

// ---- data ----------------------------------------------------------------

TEST(EventGeneratorTest, LoadsTheRealSharedDataQuickly) {
  const absl::Time start = absl::Now();
  std::unique_ptr<EventGenerator> g = Make(RealData());
  const absl::Duration took = absl::Now() - start;
  ASSERT_NE(g, nullptr);
  std::cout << "Create() took " << absl::FormatDuration(took) << "\n";
  EXPECT_LT(took, absl::Seconds(1));  // < 200 ms in practice; slack for sanitizers

  const DataReport& r = g->data_report();
  EXPECT_TRUE(r.trade_from_file);
  EXPECT_TRUE(r.cloud_from_file);
  EXPECT_THAT(r.fallback_reason, IsEmpty());
  EXPECT_THAT(r.trade_years, ElementsAre(2024, 2025));
  EXPECT_EQ(r.trade_hs_code, "85423100002");
  EXPECT_GT(r.trade_rows_used, 100);
  EXPECT_THAT(r.excluded_restricted, Contains("HK"));
  EXPECT_THAT(r.excluded_restricted, Contains("CN"));
  EXPECT_THAT(r.excluded_restricted, Contains("MO"));
  EXPECT_THAT(r.unmapped_names, Contains("Others"));
  EXPECT_GT(r.cloud_jobs, 7000);  // 7,064 GPU pods in the trace

  const auto& shares = g->destination_shares();
  ASSERT_GT(shares.size(), 20u);
  EXPECT_EQ(shares[0].first, "MX");  // largest non-restricted buyer in 2024-25
  double sum = 0;
  for (const auto& [iso, share] : shares) {
    EXPECT_FALSE(Restricted(iso)) << iso;
    sum += share;
  }
  EXPECT_NEAR(sum, 1.0, 1e-9);
  EXPECT_EQ(r.trade_countries, static_cast<int>(shares.size()));
}

TEST(EventGeneratorTest, FallsBackToBuiltinsWithoutData) {
  EventGenerator::Options o;
  o.data_dir = "/nonexistent-exportwatch-data";
  std::unique_ptr<EventGenerator> g = Make(o);
  ASSERT_NE(g, nullptr);
  EXPECT_FALSE(g->data_report().trade_from_file);
  EXPECT_FALSE(g->data_report().cloud_from_file);
  EXPECT_THAT(g->data_report().fallback_reason, testing::HasSubstr("cannot open"));
  EXPECT_EQ(g->destination_shares()[0].first, "MX");
  GeneratedEvent e;
  for (int i = 0; i < 2000; ++i) g->Next(&e);

  o.require_data = true;
  EXPECT_EQ(EventGenerator::Create(o).status().code(), absl::StatusCode::kNotFound);
}

TEST(EventGeneratorTest, RejectsBadOptions) {
  auto bad = [](auto mutate) {
    EventGenerator::Options o;
    mutate(o);
    return EventGenerator::Create(o).status().code();
  };
  using O = EventGenerator::Options;
  EXPECT_EQ(bad([](O& o) { o.events_per_second = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](O& o) { o.trade_weight = o.cloud_weight = o.model_weight = 0; }),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](O& o) { o.cloud_weight = -1; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](O& o) { o.violation_rate = 1.5; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](O& o) { o.num_tenants = 0; }), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad([](O& o) { o.id_namespace = "a b"; }), absl::StatusCode::kInvalidArgument);
}

// ---- sequence properties ---------------------------------------------------

TEST(EventGeneratorTest, SameSeedSameSequence) {
  EventGenerator::Options o = RealData();
  o.seed = 42;
  o.violation_rate = 0.05;
  const auto a = Generate(o, 5000);
  const auto b = Generate(o, 5000);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].event.SerializeAsString(), b[i].event.SerializeAsString()) << i;
    ASSERT_EQ(a[i].topic, b[i].topic);
    ASSERT_EQ(a[i].expected_rules, b[i].expected_rules);
    ASSERT_EQ(a[i].scenario, b[i].scenario);
  }
  o.seed = 43;
  const auto c = Generate(o, 100);
  int same = 0;
  for (size_t i = 0; i < c.size(); ++i)
    same += a[i].event.SerializeAsString() == c[i].event.SerializeAsString();
  EXPECT_LT(same, 5);
}

TEST(EventGeneratorTest, IdsUniqueAndTimeNonDecreasing) {
  EventGenerator::Options o = RealData();
  o.violation_rate = 0.1;
  o.events_per_second = 2.0;
  const auto events = Generate(o, 20000);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(TimeMs(events[0]), absl::ToUnixMillis(o.start_time));
  absl::flat_hash_set<std::string> ids;
  absl::flat_hash_set<std::string> shipments;
  absl::flat_hash_set<std::string> serials;
  int64_t prev = TimeMs(events[0]);
  for (const GeneratedEvent& e : events) {
    ASSERT_TRUE(ids.insert(EventId(e)).second) << EventId(e);
    const int64_t t = TimeMs(e);
    ASSERT_GE(t, prev);
    prev = t;
    if (e.topic == kTradeTopic) {
      EXPECT_TRUE(absl::StartsWith(EventId(e), "tr-"));
      EXPECT_TRUE(shipments.insert(e.event.trade().shipment_id()).second);
      for (const auto& item : e.event.trade().items()) {
        for (const auto& s : item.serials()) EXPECT_TRUE(serials.insert(s).second) << s;
      }
    } else if (e.topic == kCloudUsageTopic) {
      EXPECT_TRUE(absl::StartsWith(EventId(e), "cu-"));
    } else {
      ASSERT_EQ(e.topic, kModelTransferTopic);
      EXPECT_TRUE(absl::StartsWith(EventId(e), "mt-"));
    }
  }
  // Mean gap follows the rate (heavy-tailed trace gaps: loose bound).
  const double mean_gap_s = (prev - TimeMs(events[0])) / 1000.0 / (events.size() - 1);
  EXPECT_NEAR(mean_gap_s, 0.5, 0.2);
}

TEST(EventGeneratorTest, IdNamespaceIsInsertedInIds) {
  EventGenerator::Options o = RealData();
  o.id_namespace = "p7";
  for (const GeneratedEvent& e : Generate(o, 200)) {
    EXPECT_TRUE(absl::StrContains(EventId(e), "-p7-")) << EventId(e);
  }
}

TEST(EventGeneratorTest, EveryEventRoundTripsThroughJson) {
  EventGenerator::Options o = RealData();
  o.violation_rate = 0.2;
  google::protobuf::util::JsonPrintOptions print;
  print.preserve_proto_field_names = true;
  for (const GeneratedEvent& e : Generate(o, 5000)) {
    std::string json;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(e.event, &json, print).ok());
    EXPECT_TRUE(absl::StrContains(json, "\"event_id\"")) << json;
    v1::Event back;
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &back).ok()) << json;
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(e.event, back)) << json;
    // Producers publish the stream message itself, without the wrapper.
    const google::protobuf::Message* payload =
        e.topic == kTradeTopic ? static_cast<const google::protobuf::Message*>(&e.event.trade())
        : e.topic == kCloudUsageTopic
            ? static_cast<const google::protobuf::Message*>(&e.event.cloud_usage())
            : &e.event.model_transfer();
    json.clear();
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*payload, &json, print).ok());
    std::unique_ptr<google::protobuf::Message> parsed(payload->New());
    ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, parsed.get()).ok()) << json;
    ASSERT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*payload, *parsed)) << json;
  }
}

void ExpectMix(const EventGenerator::Options& o, int n, double tolerance) {
  std::map<std::string, int> counts;
  for (const GeneratedEvent& e : Generate(o, n)) ++counts[e.topic];
  const double total = o.trade_weight + o.cloud_weight + o.model_weight;
  EXPECT_NEAR(counts[kTradeTopic] / double(n), o.trade_weight / total, tolerance);
  EXPECT_NEAR(counts[kCloudUsageTopic] / double(n), o.cloud_weight / total, tolerance);
  EXPECT_NEAR(counts[kModelTransferTopic] / double(n), o.model_weight / total, tolerance);
}

TEST(EventGeneratorTest, StreamMixFollowsOptions) {
  EventGenerator::Options o = RealData();
  ExpectMix(o, 30000, 0.015);
  o.trade_weight = 2;
  o.cloud_weight = 1;
  o.model_weight = 1;
  o.violation_rate = 0.2;
  ExpectMix(o, 20000, 0.015);
  o.trade_weight = 0;
  std::map<std::string, int> counts;
  for (const GeneratedEvent& e : Generate(o, 2000)) ++counts[e.topic];
  EXPECT_EQ(counts.count(kTradeTopic), 0u);
}

// Injected scenarios only: country-cap crossings are baseline that happened
// to cross (at most two per country).
double ViolationFraction(const std::vector<GeneratedEvent>& events) {
  int n = 0;
  for (const GeneratedEvent& e : events) n += Injected(e);
  return static_cast<double>(n) / events.size();
}

TEST(EventGeneratorTest, ViolationFractionFollowsOptions) {
  EventGenerator::Options o = RealData();
  EXPECT_NEAR(ViolationFraction(Generate(o, 50000)), 0.01, 0.0025);
  o.violation_rate = 0.1;
  EXPECT_NEAR(ViolationFraction(Generate(o, 20000)), 0.1, 0.012);
  o.violation_rate = 0;
  EXPECT_EQ(ViolationFraction(Generate(o, 5000)), 0.0);
}

TEST(EventGeneratorTest, BaselineDestinationsFollowTheTaiwanData) {
  EventGenerator::Options o = RealData();
  o.violation_rate = 0;
  o.trade_weight = 1;
  o.cloud_weight = 0;
  o.model_weight = 0;
  std::unique_ptr<EventGenerator> g = Make(o);
  std::map<std::string, int> counts;
  GeneratedEvent e;
  constexpr int kN = 30000;
  for (int i = 0; i < kN; ++i) {
    g->Next(&e);
    ++counts[e.event.trade().destination_country()];
  }
  // Not uniform: each of the six largest buyers within 2.5 points of its
  // share of Taiwan's processor exports (MX 27%, MY, VN, SG 14-15%, TH 10%,
  // US 7%).
  const auto& shares = g->destination_shares();
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_NEAR(counts[shares[i].first] / double(kN), shares[i].second, 0.025) << shares[i].first;
  }
  EXPECT_GT(counts["MX"], 0.2 * kN);
  EXPECT_LT(counts["GB"], 0.01 * kN);
  for (const auto& [iso, n] : counts) EXPECT_FALSE(Restricted(iso)) << iso;
}

// ---- baseline is clean -------------------------------------------------------

bool HubTransit(const v1::TradeEvent& tr) {
  for (const auto& n : tr.route()) {
    if ((n.role() == v1::RouteRole::TRANSIT || n.role() == v1::RouteRole::TRANSSHIPMENT) &&
        kHubs.count(n.country())) {
      return true;
    }
  }
  return false;
}

void ExpectPartyClean(const v1::Party& p, std::string_view what) {
  EXPECT_FALSE(Restricted(p.country())) << what << " " << p.ShortDebugString();
  EXPECT_FALSE(Restricted(p.hq_country())) << what << " " << p.ShortDebugString();
  EXPECT_FALSE(Restricted(p.ultimate_parent_hq_country())) << what << " " << p.ShortDebugString();
}

int64_t DaysBetween(const std::string& ymd, int64_t ms) {
  absl::CivilDay day;
  EXPECT_TRUE(absl::ParseCivilTime(ymd, &day)) << ymd;
  return absl::ToCivilDay(absl::FromUnixMillis(ms), absl::UTCTimeZone()) - day;
}

// Replays RULES.md over the baseline events (stateless checks per event,
// stateful ones with the default windows and thresholds) and expects nothing
// to fire under `current`, and nothing but labelled events under aidr-2025.
void ExpectBaselineClean(const std::vector<GeneratedEvent>& events) {
  struct Consignee {
    std::vector<std::pair<int64_t, double>> small;
    std::map<int64_t, double> lpp_by_year;
  };
  std::map<std::string, Consignee> consignees;
  std::map<std::string, double> country_quota;
  std::map<std::string, int> quota_crossings;
  std::map<std::pair<std::string, std::string>, double> training;
  std::map<std::string, double> model_ops;
  int trade = 0;
  int cloud = 0;
  int model = 0;
  for (const GeneratedEvent& e : events) {
    const int64_t t = TimeMs(e);
    if (e.topic == kTradeTopic) {
      const v1::TradeEvent& tr = e.event.trade();
      const double tpp = ControlledTpp(tr);
      const auto auth = tr.authorization().type();
      // COUNTRY_QUOTA (aidr-2025), over every shipment: exactly the crossing
      // shipments carry the label.
      bool crosses = false;
      if (tpp > 0 && !kTier1.count(tr.destination_country()) &&
          !Restricted(tr.destination_country()) && t >= kQuotaFromMs && t < kQuotaUntilMs &&
          auth != AuthorizationType::LPP && auth != AuthorizationType::UVEU &&
          auth != AuthorizationType::NVEU) {
        double& sum = country_quota[tr.destination_country()];
        const double before = sum;
        sum += tpp;
        crosses = (before < 0.8 * 790e6 && sum >= 0.8 * 790e6) || (before < 790e6 && sum >= 790e6);
      }
      EXPECT_EQ(crosses, absl::c_linear_search(e.expected_rules, kCountryQuotaLabel)) << EventId(e);
      if (crosses) ++quota_crossings[tr.destination_country()];
      if (ScenarioName(e) == "country-quota") {
        EXPECT_TRUE(crosses);
        EXPECT_EQ(e.scenario, "country-quota/" + tr.destination_country());
      }
      if (Injected(e)) {
        EXPECT_FALSE(absl::StartsWith(tr.ultimate_consignee().entity_id(), "C-"))
            << "scenario shipments use their own consignees";
        continue;
      }
      ++trade;
      EXPECT_THAT(ScenarioLabels(e), IsEmpty());
      EXPECT_FALSE(Restricted(tr.destination_country())) << tr.ShortDebugString();
      EXPECT_NE(tr.destination_country(), tr.exporter().country());
      EXPECT_TRUE(tr.exporter().country() == "US" || tr.exporter().country() == "TW");
      for (const auto& n : tr.route())
        EXPECT_FALSE(Restricted(n.country())) << tr.ShortDebugString();
      EXPECT_FALSE(HubTransit(tr)) << tr.ShortDebugString();
      ExpectPartyClean(tr.exporter(), "exporter");
      ExpectPartyClean(tr.purchaser(), "purchaser");
      ExpectPartyClean(tr.ultimate_consignee(), "consignee");
      ExpectPartyClean(tr.end_user(), "end user");
      for (const auto& p : tr.intermediate_consignees()) ExpectPartyClean(p, "intermediate");
      EXPECT_NE(tr.ultimate_consignee().kind(), v1::PartyKind::FREIGHT_FORWARDER);
      EXPECT_NE(tr.ultimate_consignee().kind(), v1::PartyKind::TRADING_COMPANY);
      EXPECT_EQ(tr.end_user().country(), tr.destination_country());
      EXPECT_EQ(tr.payment().payer_country(), tr.purchaser().country());
      EXPECT_FALSE(tr.has_site());
      for (const auto& item : tr.items()) {
        ASSERT_TRUE(kCatalog.count(item.chip_model())) << item.chip_model();
        EXPECT_FALSE(kCatalog.at(item.chip_model()).prc) << item.chip_model();
        EXPECT_GT(item.quantity(), 0);
      }
      EXPECT_TRUE(auth == AuthorizationType::NLR || auth == AuthorizationType::LICENSE ||
                  auth == AuthorizationType::LPP || auth == AuthorizationType::NVEU)
          << tr.ShortDebugString();
      // NEW_ENTITY_VELOCITY: no baseline consignee is younger than 24 months.
      EXPECT_GE(DaysBetween(tr.ultimate_consignee().incorporated_on(), t), 731);
      if (tpp <= 0) continue;
      Consignee& c = consignees[tr.ultimate_consignee().entity_id()];
      // SHIPMENT_STRUCTURING.
      if (tpp < 2'690'000) {
        c.small.emplace_back(t, tpp);
        int n = 0;
        double sum = 0;
        for (const auto& [ts, v] : c.small) {
          if (ts > t - 30 * kDayMs) {
            ++n;
            sum += v;
          }
        }
        EXPECT_FALSE(n >= 3 && sum >= 6'725'000) << "structuring at " << EventId(e);
      }
      // CONSIGNEE_LPP_QUOTA (aidr-2025).
      if (auth == AuthorizationType::LPP) {
        EXPECT_FALSE(kTier1.count(tr.destination_country()));
        c.lpp_by_year[CivilYear(t)] += tpp;
        EXPECT_LT(c.lpp_by_year[CivilYear(t)], 0.8 * 26'900'000);
      }
    } else if (e.topic == kCloudUsageTopic) {
      if (!e.scenario.empty()) continue;
      ++cloud;
      const v1::CloudUsageEvent& cu = e.event.cloud_usage();
      EXPECT_THAT(e.expected_rules, IsEmpty());
      ExpectPartyClean(cu.tenant(), "tenant");
      EXPECT_FALSE(Restricted(cu.datacenter_country()));
      ASSERT_TRUE(kCatalog.count(cu.accelerator_model())) << cu.accelerator_model();
      EXPECT_FALSE(kCatalog.at(cu.accelerator_model()).prc);
      EXPECT_EQ(cu.accelerator_serials_size(), 0);
      EXPECT_GT(cu.accelerator_count(), 0);
      EXPECT_LE(Ms(cu.period_start()), Ms(cu.period_end()));
      if (cu.workload() == Workload::TRAINING || cu.workload() == Workload::FINE_TUNING) {
        const double hours =
            cu.has_gpu_hours()
                ? cu.gpu_hours()
                : cu.accelerator_count() * (Ms(cu.period_end()) - Ms(cu.period_start())) / 3.6e6;
        // Utilisation 1, an upper bound on the policy's 0.4.
        double& ops = training[{cu.tenant().entity_id(), cu.model_id()}];
        ops += hours * 3600 * kCatalog.at(cu.accelerator_model()).tpp / 16 * 1e12;
        EXPECT_LT(ops, 1e24) << cu.tenant().entity_id() << " " << cu.model_id();
      }
    } else {
      const v1::ModelTransferEvent& mt = e.event.model_transfer();
      double cumulative = mt.training_ops();
      if (!mt.base_model_id().empty() && model_ops.count(mt.base_model_id())) {
        cumulative += model_ops[mt.base_model_id()];
      }
      model_ops[mt.model_id()] = cumulative;
      if (!e.scenario.empty()) continue;
      ++model;
      EXPECT_THAT(e.expected_rules, IsEmpty());
      EXPECT_TRUE(mt.weights_published() || cumulative < 1e25) << mt.ShortDebugString();
      EXPECT_FALSE(Restricted(mt.destination_country()));
      ExpectPartyClean(mt.recipient(), "recipient");
      ExpectPartyClean(mt.source_org(), "source org");
    }
  }
  EXPECT_GT(trade, 0);
  EXPECT_GT(cloud, 0);
  EXPECT_GT(model, 0);
  EXPECT_FALSE(quota_crossings.empty()) << "no Tier 2 cap crossed: labels untested";
  for (const auto& [country, n] : quota_crossings) EXPECT_LE(n, 2) << country;
}

class BaselineCleanTest : public testing::TestWithParam<double> {};

TEST_P(BaselineCleanTest, NoRuleFires) {
  EventGenerator::Options o = RealData();
  o.events_per_second = GetParam();
  o.violation_rate = 0.05;
  ExpectBaselineClean(Generate(o, 40000));
}

// From ~10 events a day (windows and calendar years roll over) through the
// default to 100 a second (every consignee budget under pressure).
INSTANTIATE_TEST_SUITE_P(Rates, BaselineCleanTest, testing::Values(1e-4, 0.01, 100.0));

// ---- scenarios -----------------------------------------------------------------

TEST(EventGeneratorTest, ScenariosAreLabelledByConstruction) {
  EventGenerator::Options o = RealData();
  o.violation_rate = 0.3;
  const auto events = Generate(o, 60000);
  std::map<std::string, std::vector<size_t>> by_tag;
  std::set<std::string> names;
  for (size_t i = 0; i < events.size(); ++i) {
    const GeneratedEvent& e = events[i];
    for (const std::string& label : e.expected_rules) {
      const std::string rule = label.substr(0, label.find('@'));
      EXPECT_TRUE(kRuleIds.count(rule)) << label;
      if (rule != label) {
        EXPECT_EQ(label.substr(label.find('@')), "@aidr-2025");
      }
    }
    if (e.scenario.empty()) {
      EXPECT_THAT(e.expected_rules, IsEmpty());
      continue;
    }
    if (ScenarioName(e) == "country-quota") continue;
    by_tag[e.scenario].push_back(i);
    names.insert(ScenarioName(e));
  }
  EXPECT_THAT(
      names, UnorderedElementsAre(
                 "embargoed-destination", "ascend-shipment", "lpp-quota-burst", "restricted-parent",
                 "transshipment-hk-payer", "structuring", "new-entity-velocity", "site-power",
                 "serial-diversion", "ascend-cloud", "restricted-training", "frontier-weights",
                 "finetune-accumulation", "entity-list-front-company", "composite-diversion"));

  int full_lpp_bursts = 0, front_companies = 0, composites = 0;
  int finetunes = 0;
  int diversions = 0;
  for (const auto& [tag, idx] : by_tag) {
    const std::string name = tag.substr(0, tag.find('/'));
    const GeneratedEvent& first = events[idx[0]];
    if (name == "embargoed-destination") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_TRUE(Restricted(tr.destination_country()));
      EXPECT_GT(ControlledTpp(tr), 0);
      EXPECT_NE(tr.authorization().type(), AuthorizationType::LICENSE);
      EXPECT_THAT(ScenarioLabels(first),
                  UnorderedElementsAre("EMBARGOED_DESTINATION", "HQ_IN_RESTRICTED_COUNTRY"));
    } else if (name == "ascend-shipment") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_TRUE(kCatalog.at(tr.items(0).chip_model()).prc);
      EXPECT_EQ(tr.declared_purpose(), v1::DeclaredPurpose::PRODUCTION);
      EXPECT_FALSE(Restricted(tr.destination_country()));
      EXPECT_FALSE(Restricted(tr.exporter().hq_country()));
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("PRC_ADVANCED_IC"));
    } else if (name == "ascend-cloud") {
      EXPECT_TRUE(kCatalog.at(first.event.cloud_usage().accelerator_model()).prc);
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("PRC_ADVANCED_IC"));
    } else if (name == "restricted-parent") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_FALSE(Restricted(tr.destination_country()));
      EXPECT_TRUE(Restricted(tr.ultimate_consignee().ultimate_parent_hq_country()));
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("HQ_IN_RESTRICTED_COUNTRY"));
    } else if (name == "transshipment-hk-payer") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_TRUE(HubTransit(tr));
      EXPECT_EQ(tr.payment().payer_country(), "HK");
      EXPECT_NE(tr.purchaser().country(), "HK");
      EXPECT_FALSE(Restricted(tr.destination_country()));
      EXPECT_THAT(ScenarioLabels(first),
                  UnorderedElementsAre("TRANSSHIPMENT_ROUTE", "THIRD_COUNTRY_PAYMENT"));
    } else if (name == "new-entity-velocity") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_LT(DaysBetween(tr.ultimate_consignee().incorporated_on(), TimeMs(first)), 730);
      EXPECT_GT(ControlledTpp(tr), 15'832'000);
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("NEW_ENTITY_VELOCITY"));
    } else if (name == "site-power") {
      const v1::TradeEvent& tr = first.event.trade();
      const double mw = tr.items(0).quantity() * 700 * 1.5 * 1.3 / 1e6;
      EXPECT_GT(mw, tr.site().declared_power_mw());
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("SITE_POWER_IMPLAUSIBLE"));
    } else if (name == "restricted-training") {
      const v1::CloudUsageEvent& cu = first.event.cloud_usage();
      EXPECT_TRUE(Restricted(cu.tenant().ultimate_parent_hq_country()));
      EXPECT_GE(cu.measured_ops(), 1e24);
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("RESTRICTED_TRAINING_COMPUTE"));
    } else if (name == "frontier-weights") {
      const v1::ModelTransferEvent& mt = first.event.model_transfer();
      EXPECT_GE(mt.training_ops(), 1e26);
      EXPECT_FALSE(mt.weights_published());
      EXPECT_EQ(mt.authorization().type(), AuthorizationType::NONE);
      EXPECT_TRUE(Restricted(mt.destination_country()));
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("MODEL_WEIGHT_TRANSFER"));
    } else if (name == "finetune-accumulation") {
      const v1::ModelTransferEvent& base = first.event.model_transfer();
      EXPECT_EQ(base.training_ops(), 8e25);
      EXPECT_TRUE(kTier1.count(base.destination_country()));
      EXPECT_THAT(ScenarioLabels(first), IsEmpty());
      if (idx.size() < 2) continue;  // the fine-tune is still pending
      ASSERT_EQ(idx.size(), 2u);
      const GeneratedEvent& second = events[idx[1]];
      const v1::ModelTransferEvent& ft = second.event.model_transfer();
      EXPECT_EQ(ft.base_model_id(), base.model_id());
      EXPECT_EQ(ft.training_ops(), 3e25);
      EXPECT_GE(base.training_ops() + ft.training_ops(), 1e26);
      EXPECT_LT(ft.training_ops(), 1e26);
      EXPECT_TRUE(Restricted(ft.destination_country()));
      EXPECT_GT(TimeMs(second), TimeMs(first));
      EXPECT_THAT(ScenarioLabels(second), ElementsAre("MODEL_WEIGHT_TRANSFER"));
      ++finetunes;
    } else if (name == "lpp-quota-burst") {
      EXPECT_LE(idx.size(), 7u);
      double tpp = 0;
      int64_t year = 0;
      int labels = 0;
      for (size_t i : idx) {
        const GeneratedEvent& e = events[i];
        const v1::TradeEvent& tr = e.event.trade();
        EXPECT_EQ(tr.authorization().type(), AuthorizationType::LPP);
        EXPECT_EQ(tr.ultimate_consignee().entity_id(),
                  first.event.trade().ultimate_consignee().entity_id());
        EXPECT_GE(ControlledTpp(tr), 2'690'000);  // never structuring
        if (CivilYear(TimeMs(e)) != year) {
          year = CivilYear(TimeMs(e));
          tpp = 0;
        }
        const double before = tpp;
        tpp += ControlledTpp(tr);
        const bool crosses = (before < 0.8 * 26'900'000 && tpp >= 0.8 * 26'900'000) ||
                             (before < 26'900'000 && tpp >= 26'900'000);
        if (crosses) {
          EXPECT_THAT(ScenarioLabels(e), ElementsAre("CONSIGNEE_LPP_QUOTA@aidr-2025"));
          EXPECT_THAT(EventGenerator::ExpectedRulesFor(e, "current"), IsEmpty());
          EXPECT_THAT(EventGenerator::ExpectedRulesFor(e, "aidr-2025"),
                      ElementsAre("CONSIGNEE_LPP_QUOTA"));
          ++labels;
        } else {
          EXPECT_THAT(ScenarioLabels(e), IsEmpty());
        }
      }
      full_lpp_bursts += labels == 2;
    } else if (name == "structuring") {
      std::vector<int64_t> times;
      for (size_t i : idx) {
        const GeneratedEvent& e = events[i];
        EXPECT_LT(ControlledTpp(e.event.trade()), 2'690'000);
        times.push_back(TimeMs(e));
        const bool fires = times.size() == 3 && times[2] - times[0] < 30 * kDayMs;
        EXPECT_EQ(ScenarioLabels(e).size(), fires ? 1u : 0u);
      }
    } else if (name == "serial-diversion") {
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_THAT(ScenarioLabels(first), IsEmpty());
      if (idx.size() < 2) continue;
      const v1::CloudUsageEvent& cu = events[idx[1]].event.cloud_usage();
      EXPECT_THAT(std::vector<std::string>(cu.accelerator_serials().begin(),
                                           cu.accelerator_serials().end()),
                  testing::ElementsAreArray(tr.items(0).serials()));
      EXPECT_NE(cu.datacenter_country(), tr.destination_country());
      EXPECT_THAT(ScenarioLabels(events[idx[1]]), ElementsAre("SERIAL_LOCATION_MISMATCH"));
      ++diversions;
    } else if (name == "composite-diversion") {
      // Red flags first, volume later, one young consignee.
      const v1::TradeEvent& tr = first.event.trade();
      EXPECT_EQ(tr.payment().payer_country(), "HK");
      EXPECT_THAT(ScenarioLabels(first),
                  ElementsAre("TRANSSHIPMENT_ROUTE", "THIRD_COUNTRY_PAYMENT"));
      if (idx.size() < 2) continue;
      ASSERT_EQ(idx.size(), 2u);
      const GeneratedEvent& second = events[idx[1]];
      const v1::TradeEvent& big = second.event.trade();
      EXPECT_EQ(big.ultimate_consignee().entity_id(), tr.ultimate_consignee().entity_id());
      EXPECT_GT(ControlledTpp(big), 15'832'000);
      EXPECT_EQ(big.payment().payer_country().empty() || big.payment().payer_country() != "HK",
                true);
      const bool within = TimeMs(second) - TimeMs(first) < 180 * kDayMs;
      if (within) {
        EXPECT_THAT(ScenarioLabels(second), ElementsAre("NEW_ENTITY_VELOCITY", "COMPOSITE_RISK"));
        ++composites;
      }
    } else if (name == "entity-list-front-company") {
      // The consignee, or its declared ultimate parent, carries an Entity
      // List name; nothing else about the shipment is a red flag.
      const v1::TradeEvent& tr = first.event.trade();
      const v1::Party& c = tr.ultimate_consignee();
      EXPECT_TRUE(c.name().rfind("SC-", 0) != 0);
      EXPECT_NE(c.name().empty() && c.ultimate_parent_name().empty(), true);
      EXPECT_FALSE(Restricted(tr.destination_country()));
      EXPECT_FALSE(Restricted(c.hq_country()));
      EXPECT_FALSE(Restricted(c.ultimate_parent_hq_country()));
      EXPECT_THAT(ScenarioLabels(first), ElementsAre("SCREENING_MATCH"));
      ++front_companies;
    } else {
      ADD_FAILURE() << "untested scenario " << name;
    }
  }
  EXPECT_GT(full_lpp_bursts, 0);
  EXPECT_GT(front_companies, 0);
  EXPECT_GT(composites, 0);
  EXPECT_GT(finetunes, 0);
  EXPECT_GT(diversions, 0);
}

TEST(EventGeneratorTest, ExpectedRulesForResolvesProfiles) {
  GeneratedEvent e;
  e.expected_rules = {"EMBARGOED_DESTINATION", "CONSIGNEE_LPP_QUOTA@aidr-2025"};
  EXPECT_THAT(EventGenerator::ExpectedRulesFor(e, "current"), ElementsAre("EMBARGOED_DESTINATION"));
  EXPECT_THAT(EventGenerator::ExpectedRulesFor(e, "aidr-2025"),
              ElementsAre("EMBARGOED_DESTINATION", "CONSIGNEE_LPP_QUOTA"));
}

// ---- the generator's reference copy agrees with RULES.md ------------------------

TEST(EventGeneratorTest, ReferenceTablesMatchRulesMd) {
  const absl::Time t2025 = absl::FromCivil(absl::CivilDay(2025, 6, 1), absl::UTCTimeZone());
  for (const std::string& c : kRestricted) {
    EXPECT_TRUE(gen::IsEverRestricted(c)) << c;
    EXPECT_TRUE(gen::IsRestrictedAt(c, t2025)) << c;
  }
  EXPECT_FALSE(
      gen::IsRestrictedAt("HK", absl::FromCivil(absl::CivilDay(2020, 1, 1), absl::UTCTimeZone())));
  EXPECT_FALSE(
      gen::IsRestrictedAt("KH", absl::FromCivil(absl::CivilDay(2026, 6, 1), absl::UTCTimeZone())));
  EXPECT_FALSE(gen::IsEverRestricted("CY"));  // in D:5 but excluded by the rules
  for (const std::string& c : kTier1) EXPECT_TRUE(gen::IsTier1(c)) << c;
  EXPECT_FALSE(gen::IsTier1("SG"));
  for (const std::string& c : kHubs) EXPECT_TRUE(gen::IsHub(c)) << c;
  for (const auto& [model, row] : kCatalog) {
    const gen::Chip* chip = gen::FindChip(model);
    ASSERT_NE(chip, nullptr) << model;
    EXPECT_EQ(chip->tpp, row.tpp) << model;
    EXPECT_EQ(chip->controlled, row.controlled) << model;
    EXPECT_EQ(chip->prc_advanced_ic, row.prc) << model;
  }
  EXPECT_EQ(gen::IsoFromEnglishName("Mexico"), "MX");
  EXPECT_EQ(gen::IsoFromEnglishName("South Korea"), "KR");
  EXPECT_EQ(gen::IsoFromEnglishName("Saint Helena, Ascension and Tristan da Cunha"), "SH");
  EXPECT_EQ(gen::IsoFromEnglishName("Others"), std::nullopt);
  EXPECT_EQ(gen::IsoFromEnglishName("Kosovo"), std::nullopt);
}

// ---- names stay off the watchlists ---------------------------------------------

// Names as SCREENING_MATCH normalises them: upper case, punctuation gone,
// legal suffixes dropped.
std::vector<std::string> NameTokens(std::string_view name) {
  static const std::set<std::string, std::less<>> kSuffixes = {
      "LTD", "LIMITED", "INC", "CO",  "CORP", "LLC", "GMBH", "SDN", "BHD", "PTE",
      "PVT", "PTY",     "AG",  "AB",  "OY",   "AS",  "SA",   "SAS", "BV",  "KK",
      "SPA", "SL",      "SRL", "LDA", "LTDA", "KFT", "SRO",  "OOO", "SIA", "UAB",
      "TBK", "SAE",     "DE",  "CV",  "SP",   "Z",   "O"};
  // "B.V." -> "BV", "Co., Ltd" -> "CO LTD".
  std::string clean;
  for (char c : name) {
    if (c == '.') continue;
    clean += absl::ascii_isalnum(static_cast<unsigned char>(c)) ? absl::ascii_toupper(c) : ' ';
  }
  std::vector<std::string> tokens;
  for (absl::string_view tok : absl::StrSplit(clean, ' ', absl::SkipEmpty())) {
    if (!kSuffixes.count(tok)) tokens.emplace_back(tok);
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  return tokens;
}

// Second column of an OFAC legacy sdn.csv (no header, quoted fields).
std::vector<std::string> SdnNames(const std::string& path) {
  std::vector<std::string> names;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const size_t a = line.find(",\"");
    if (a == std::string::npos) continue;
    const size_t b = line.find('"', a + 2);
    if (b == std::string::npos) continue;
    names.push_back(line.substr(a + 2, b - a - 2));
  }
  return names;
}

TEST(EventGeneratorTest, PartyNamesDoNotResembleSanctionedNames) {
  std::vector<std::vector<std::string>> listed;
  for (const std::string& file : {SharedData() + "/moov-io-watchman/bench/sdn.csv",
                                  SharedData() + "/ofac-sdn-git-scrape/sdn_2024-05-03T1843Z.csv"}) {
    for (const std::string& n : SdnNames(file)) {
      std::vector<std::string> tokens = NameTokens(n);
      if (!tokens.empty()) listed.push_back(std::move(tokens));
    }
  }
  ASSERT_GT(listed.size(), 10000u);
  absl::flat_hash_map<std::string, std::vector<size_t>> index;
  for (size_t i = 0; i < listed.size(); ++i) {
    for (const std::string& tok : listed[i]) index[tok].push_back(i);
  }

  EventGenerator::Options o = RealData();
  o.violation_rate = 0.05;
  std::set<std::string> names;
  for (const GeneratedEvent& e : Generate(o, 20000)) {
    // The one scenario whose names are listed on purpose.
    if (e.scenario.rfind("entity-list-front-company", 0) == 0) continue;
    auto add = [&](const v1::Party& p) {
      names.insert(p.name());
      if (!p.ultimate_parent_name().empty()) names.insert(p.ultimate_parent_name());
    };
    if (e.topic == kTradeTopic) {
      const v1::TradeEvent& tr = e.event.trade();
      add(tr.exporter());
      add(tr.ultimate_consignee());
      for (const auto& p : tr.intermediate_consignees()) add(p);
      names.insert(tr.payment().payer_name());
    } else if (e.topic == kCloudUsageTopic) {
      add(e.event.cloud_usage().tenant());
    } else {
      add(e.event.model_transfer().source_org());
      add(e.event.model_transfer().recipient());
    }
  }
  ASSERT_GT(names.size(), 300u);
  for (const std::string& name : names) {
    const std::vector<std::string> mine = NameTokens(name);
    std::set<size_t> candidates;
    for (const std::string& tok : mine) {
      auto it = index.find(tok);
      if (it != index.end()) candidates.insert(it->second.begin(), it->second.end());
    }
    for (size_t c : candidates) {
      const auto& theirs = listed[c];
      std::vector<std::string> common;
      std::set_intersection(mine.begin(), mine.end(), theirs.begin(), theirs.end(),
                            std::back_inserter(common));
      const double jaccard = double(common.size()) / (mine.size() + theirs.size() - common.size());
      EXPECT_LT(jaccard, 0.6) << name << " ~ " << absl::StrJoin(theirs, " ");
    }
  }
}

}  // namespace
}  // namespace exportwatch

namespace exportwatch {
namespace {

TEST(EventGeneratorScenariosTest, OnlyTheChosenScenariosAreInjected) {
  EventGenerator::Options o;
  o.data_dir = std::string(EW_SHARED_DIR) + "/data";
  o.violation_rate = 0.3;
  o.scenarios = {"structuring", "restricted-training"};
  auto gen = EventGenerator::Create(o);
  ASSERT_TRUE(gen.ok()) << gen.status();
  std::set<std::string> seen;
  int model_violations = 0;
  GeneratedEvent e;
  for (int i = 0; i < 5000; ++i) {
    (*gen)->Next(&e);
    if (e.scenario.empty()) continue;
    const std::string name = e.scenario.substr(0, e.scenario.find('/'));
    if (name != "country-quota") seen.insert(name);
    model_violations += e.event.has_model_transfer();
  }
  EXPECT_EQ(seen, (std::set<std::string>{"structuring", "restricted-training"}));
  EXPECT_EQ(model_violations, 0);  // no model scenario chosen: baseline only

  o.scenarios = {"structuring", "no-such-scenario"};
  auto bad = EventGenerator::Create(o);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("no-such-scenario"), std::string::npos);
  EXPECT_EQ(EventGenerator::ScenarioNames().size(), 15u);
}

}  // namespace
}  // namespace exportwatch
