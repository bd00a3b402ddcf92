// The rules of RULES.md beyond the foundation: each fires, does not fire,
// at each threshold level, once per subject/window/level, with duplicates
// counted once and late events (within the allowed lateness) counted in
// their own window.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/rules/alert_builder.h"
#include "tests/processor/rule_harness.h"

namespace exportwatch::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr int64_t kT0 = 1740910500;  // 2025-03-02T10:15:00Z, the contract's trade
constexpr int64_t kDay = 86400;

// The contract trade made neutral: paid in the purchaser's country, no
// transit hub, no site, no serials. Tests add the one feature they test.
v1::Event Neutral(const std::string& id, int64_t t = kT0) {
  v1::Event e = ContractEvent(Stream::kTrade);
  auto* tr = e.mutable_trade();
  tr->set_event_id(id);
  tr->set_shipment_id("SHP-" + id);
  tr->mutable_event_time()->set_seconds(t);
  tr->mutable_payment()->set_payer_country("MY");
  tr->clear_route();
  tr->clear_site();
  tr->mutable_items(0)->clear_serials();
  tr->mutable_authorization()->set_type(v1::AuthorizationType::NONE);
  return e;
}

// A shipment of `units` H100-SXM (15,832 TPP each).
v1::Event H100s(const std::string& id, int64_t units, int64_t t = kT0) {
  v1::Event e = Neutral(id, t);
  e.mutable_trade()->mutable_items(0)->set_quantity(units);
  return e;
}

v1::Event Cloud(const std::string& id, int64_t t) {
  v1::Event e = ContractEvent(Stream::kCloudUsage);
  e.mutable_cloud_usage()->set_event_id(id);
  e.mutable_cloud_usage()->mutable_event_time()->set_seconds(t);
  return e;
}

std::vector<v1::Alert> Only(const std::vector<v1::Alert>& alerts, const std::string& rule) {
  std::vector<v1::Alert> out;
  for (const auto& a : alerts) {
    if (a.rule_id() == rule) out.push_back(a);
  }
  return out;
}

// ---------------------------------------------------------------- stateless

TEST(HqInRestrictedCountryTest, FiresPerPartyWhateverTheDestination) {
  RuleHarness h("current");
  v1::Event e = Neutral("hq1");
  e.mutable_trade()->mutable_ultimate_consignee()->set_ultimate_parent_hq_country("CN");
  auto alerts = h.Run(e);
  ASSERT_THAT(RulesOf(alerts), ElementsAre("HQ_IN_RESTRICTED_COUNTRY:HIGH"));
  EXPECT_EQ(alerts[0].subject().kind(), v1::ENTITY);
  EXPECT_EQ(alerts[0].subject().id(), "C-1042");
  EXPECT_EQ(StringValue(alerts[0], "matched_field"), "ultimate_parent_hq_country");
  // The purchaser is the same entity: still one alert per party.
  e.mutable_trade()->set_event_id("hq2");
  e.mutable_trade()->mutable_purchaser()->set_hq_country("RU");
  EXPECT_EQ(Only(h.Run(e), "HQ_IN_RESTRICTED_COUNTRY").size(), 1u);
  // A second, distinct party.
  e.mutable_trade()->set_event_id("hq3");
  e.mutable_trade()->mutable_end_user()->set_entity_id("EU-2");
  e.mutable_trade()->mutable_end_user()->set_hq_country("IR");
  EXPECT_EQ(Only(h.Run(e), "HQ_IN_RESTRICTED_COUNTRY").size(), 2u);
}

TEST(HqInRestrictedCountryTest, NotUnderLicenceNorForUncontrolledChips) {
  RuleHarness h("current");
  v1::Event e = Neutral("hq-l");
  e.mutable_trade()->mutable_purchaser()->set_hq_country("CN");
  e.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LICENSE);
  EXPECT_THAT(h.Run(e), IsEmpty());
  v1::Event t4 = Neutral("hq-t4");
  t4.mutable_trade()->mutable_purchaser()->set_hq_country("CN");
  t4.mutable_trade()->mutable_items(0)->set_chip_model("T4");
  EXPECT_THAT(h.Run(t4), IsEmpty());
  // Cambodia left D:5 on 2026-02-03.
  v1::Event kh = Neutral("hq-kh", 1772323200);  // 2026-03-01
  kh.mutable_trade()->mutable_purchaser()->set_hq_country("KH");
  EXPECT_THAT(h.Run(kh), IsEmpty());
}

TEST(TransshipmentRouteTest, HubAndForwarderIsMediumRestrictedOnwardIsHigh) {
  RuleHarness h("current");
  v1::Event e = Neutral("ts1");
  auto* t = e.mutable_trade();
  t->add_route()->set_country("US");
  t->mutable_route(0)->set_role(v1::RouteRole::ORIGIN);
  auto* hub = t->add_route();
  hub->set_country("SG");
  hub->set_role(v1::RouteRole::TRANSSHIPMENT);
  t->mutable_ultimate_consignee()->set_kind(v1::PartyKind::FREIGHT_FORWARDER);
  auto alerts = h.Run(e);
  ASSERT_THAT(RulesOf(alerts), ElementsAre("TRANSSHIPMENT_ROUTE:MEDIUM"));
  EXPECT_EQ(alerts[0].subject().kind(), v1::SHIPMENT);
  EXPECT_EQ(StringValue(alerts[0], "hub"), "SG");
  EXPECT_EQ(StringValue(alerts[0], "consignee_kind"), "FREIGHT_FORWARDER");

  // The end user elsewhere, and restricted: HIGH (the end user's country
  // being restricted is also the embargo).
  v1::Event r = e;
  r.mutable_trade()->set_event_id("ts2");
  r.mutable_trade()->mutable_ultimate_consignee()->set_kind(v1::PartyKind::DATA_CENTER);
  r.mutable_trade()->mutable_end_user()->set_country("CN");
  EXPECT_THAT(RulesOf(h.Run(r)),
              UnorderedElementsAre("TRANSSHIPMENT_ROUTE:HIGH", "EMBARGOED_DESTINATION:CRITICAL"));
}

TEST(TransshipmentRouteTest, NoHubOrNoRedFlagOrOriginOnlyIsQuiet) {
  RuleHarness h("current");
  v1::Event e = Neutral("ts3");
  auto* t = e.mutable_trade();
  auto* node = t->add_route();
  node->set_country("DE");  // not a hub
  node->set_role(v1::RouteRole::TRANSIT);
  t->mutable_ultimate_consignee()->set_kind(v1::PartyKind::TRADING_COMPANY);
  EXPECT_THAT(h.Run(e), IsEmpty());
  node->set_country("SG");
  node->set_role(v1::RouteRole::ORIGIN);  // a hub as origin is not transit
  t->set_event_id("ts4");
  EXPECT_THAT(h.Run(e), IsEmpty());
  node->set_role(v1::RouteRole::TRANSIT);
  t->mutable_ultimate_consignee()->set_kind(v1::PartyKind::DATA_CENTER);  // no red flag
  t->set_event_id("ts5");
  EXPECT_THAT(h.Run(e), IsEmpty());
}

TEST(ThirdCountryPaymentTest, PayerElsewhereIsMediumRestrictedPayerHigh) {
  RuleHarness h("current");
  v1::Event e = Neutral("p1");
  e.mutable_trade()->mutable_payment()->set_payer_country("AE");
  auto alerts = h.Run(e);
  ASSERT_THAT(RulesOf(alerts), ElementsAre("THIRD_COUNTRY_PAYMENT:MEDIUM"));
  EXPECT_EQ(StringValue(alerts[0], "payer_country"), "AE");
  e.mutable_trade()->set_event_id("p2");
  e.mutable_trade()->mutable_payment()->set_payer_country("HK");
  EXPECT_THAT(RulesOf(h.Run(e)), ElementsAre("THIRD_COUNTRY_PAYMENT:HIGH"));
  // Paid from the consignee's country (the purchaser being elsewhere).
  e.mutable_trade()->set_event_id("p3");
  e.mutable_trade()->mutable_purchaser()->set_country("SG");
  e.mutable_trade()->mutable_payment()->set_payer_country("MY");
  EXPECT_THAT(h.Run(e), IsEmpty());
  // No payer country: nothing to compare.
  e.mutable_trade()->set_event_id("p4");
  e.mutable_trade()->mutable_payment()->clear_payer_country();
  EXPECT_THAT(h.Run(e), IsEmpty());
}

// ---------------------------------------------------------------- quotas

TEST(CountryQuotaTest, Tier2CapLevelsOncePerWindowUnderAidrOnly) {
  // 790,000,000 TPP: 80% = 632M. 10,000 H100 = 158.32M per shipment.
  RuleHarness aidr("aidr-2025");
  RuleHarness current("current");
  std::vector<std::string> fired;
  for (int i = 0; i < 6; ++i) {
    v1::Event e = H100s("cq" + std::to_string(i), 10000, kT0 + i * kDay);
    EXPECT_THAT(Only(current.Run(e), "COUNTRY_QUOTA"), IsEmpty());
    for (const auto& a : Only(aidr.Run(e), "COUNTRY_QUOTA")) {
      fired.push_back(absl::StrCat(i, ":", v1::Severity_Name(a.severity())));
      EXPECT_EQ(a.subject().kind(), v1::COUNTRY);
      EXPECT_EQ(a.subject().id(), "MY");
      EXPECT_EQ(NumberValue(a, "limit_tpp"), 790000000.0);
    }
  }
  // 4 x 158.32M = 633.28M >= 632M; 5 x = 791.6M >= 790M.
  EXPECT_THAT(fired, ElementsAre("3:MEDIUM", "4:HIGH"));
}

TEST(CountryQuotaTest, ExcludedAuthorizationsTier1AndOutsideTheWindowDoNotCount) {
  RuleHarness h("aidr-2025");
  for (int i = 0; i < 6; ++i) {
    v1::Event lpp = H100s("x-lpp" + std::to_string(i), 10000);
    lpp.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::UVEU);
    EXPECT_THAT(Only(h.Run(lpp), "COUNTRY_QUOTA"), IsEmpty());
    v1::Event gb = H100s("x-gb" + std::to_string(i), 10000);
    gb.mutable_trade()->set_destination_country("GB");  // Tier 1
    EXPECT_THAT(Only(h.Run(gb), "COUNTRY_QUOTA"), IsEmpty());
    v1::Event early = H100s("x-early" + std::to_string(i), 10000, 1735689600);  // 2025-01-01
    EXPECT_THAT(Only(h.Run(early), "COUNTRY_QUOTA"), IsEmpty());
  }
}

TEST(ConsigneeLppQuotaTest, LateEventCountsInItsOwnYear) {
  RuleHarness h("aidr-2025");
  auto lpp = [](const std::string& id, int64_t t) {
    v1::Event e = H100s(id, 700, t);  // 11.08M TPP
    e.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LPP);
    return e;
  };
  const int64_t dec31 = 1767139200;  // 2025-12-31
  const int64_t jan02 = 1767312000;  // 2026-01-02
  EXPECT_THAT(Only(h.Run(lpp("a", dec31)), "CONSIGNEE_LPP_QUOTA"), IsEmpty());
  EXPECT_THAT(Only(h.Run(lpp("b", jan02)), "CONSIGNEE_LPP_QUOTA"), IsEmpty());
  // Arrives after a 2026 event, dated 2025: joins 2025 (2 x 11.08M >= 21.52M).
  auto late = Only(h.Run(lpp("c", dec31 - 3600)), "CONSIGNEE_LPP_QUOTA");
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].severity(), v1::MEDIUM);
  EXPECT_EQ(StringValue(late[0], "window"), "2025");
  // Redelivered: counted once.
  EXPECT_THAT(Only(h.Run(lpp("c", dec31 - 3600)), "CONSIGNEE_LPP_QUOTA"), IsEmpty());
}

std::shared_ptr<const Policy> WithLicences() {
  v1::Policy p = (*Policy::FromProfile("current"))->proto();
  p.add_enabled_rules("LICENSE_DRAWDOWN");
  auto* q = p.add_quotas();
  q->set_id("LICENSE_UNITS");
  q->set_rule_id("LICENSE_DRAWDOWN");
  q->set_scope(v1::QuotaScope::AUTHORIZATION_ID);
  q->set_measure(v1::QuotaMeasure::UNITS);
  q->mutable_window()->set_kind(v1::QuotaWindow::LIFETIME);
  q->add_authorizations(v1::AuthorizationType::LICENSE);
  q->add_levels(0.9);
  q->add_level_severities("MEDIUM");
  q->add_levels(1.0);
  q->add_level_severities("HIGH");
  auto* k = q->add_keys();
  k->set_key("D1234567");
  k->set_limit(2000);
  // The reported per-customer cap: 75,000 H200 per Chinese customer a year.
  auto* cap = p.add_quotas();
  cap->set_id("H200_PER_CN_CUSTOMER");
  cap->set_rule_id("CUSTOMER_CHIP_CAP");
  cap->set_scope(v1::QuotaScope::ULTIMATE_CONSIGNEE);
  cap->set_measure(v1::QuotaMeasure::UNITS);
  cap->mutable_window()->set_kind(v1::QuotaWindow::CALENDAR_YEAR);
  cap->set_limit(75000);
  cap->add_levels(1.0);
  cap->add_level_severities("HIGH");
  cap->add_chip_models("H200");
  cap->add_destination_groups("D5_MACAU");
  p.add_enabled_rules("CUSTOMER_CHIP_CAP");
  auto policy = Policy::Create(p);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

TEST(QuotaPrimitiveTest, LicenceDrawdownIsPolicyNotCode) {
  RuleHarness h(WithLicences());
  auto licensed = [](const std::string& id, const std::string& licence, int64_t units) {
    v1::Event e = H100s(id, units);
    e.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LICENSE);
    e.mutable_trade()->mutable_authorization()->set_id(licence);
    return e;
  };
  EXPECT_THAT(Only(h.Run(licensed("l1", "D1234567", 1500)), "LICENSE_DRAWDOWN"), IsEmpty());
  auto at90 = Only(h.Run(licensed("l2", "D1234567", 400)), "LICENSE_DRAWDOWN");
  ASSERT_EQ(at90.size(), 1u);
  EXPECT_EQ(at90[0].severity(), v1::MEDIUM);
  EXPECT_EQ(at90[0].subject().kind(), v1::LICENSE);
  EXPECT_EQ(at90[0].subject().id(), "D1234567");
  EXPECT_EQ(NumberValue(at90[0], "used_units"), 1900);
  EXPECT_EQ(NumberValue(at90[0], "limit_units"), 2000);
  EXPECT_THAT(RulesOf(Only(h.Run(licensed("l3", "D1234567", 100)), "LICENSE_DRAWDOWN")),
              ElementsAre("LICENSE_DRAWDOWN:HIGH"));
  // A licence the policy does not list is not tracked.
  EXPECT_THAT(Only(h.Run(licensed("l4", "OTHER", 5000)), "LICENSE_DRAWDOWN"), IsEmpty());
}

TEST(QuotaPrimitiveTest, PerCustomerChipCapCountsOnlyItsChipAndGroup) {
  RuleHarness h(WithLicences());
  auto h200 = [](const std::string& id, const std::string& country, int64_t units) {
    v1::Event e = H100s(id, units);
    e.mutable_trade()->mutable_items(0)->set_chip_model("H200");
    e.mutable_trade()->set_destination_country(country);
    e.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LICENSE);
    return e;
  };
  EXPECT_THAT(Only(h.Run(h200("c1", "CN", 50000)), "CUSTOMER_CHIP_CAP"), IsEmpty());
  EXPECT_THAT(Only(h.Run(h200("c2", "MY", 50000)), "CUSTOMER_CHIP_CAP"), IsEmpty());
  v1::Event h100 = H100s("c3", 50000);
  h100.mutable_trade()->set_destination_country("CN");
  h100.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LICENSE);
  EXPECT_THAT(Only(h.Run(h100), "CUSTOMER_CHIP_CAP"), IsEmpty());
  EXPECT_THAT(RulesOf(Only(h.Run(h200("c4", "CN", 25000)), "CUSTOMER_CHIP_CAP")),
              ElementsAre("CUSTOMER_CHIP_CAP:HIGH"));
}

TEST(QuotaPrimitiveTest, InvalidQuotasNameTheField) {
  v1::Policy p = (*Policy::FromProfile("aidr-2025"))->proto();
  p.mutable_quotas(0)->clear_level_severities();
  auto bad = Policy::Create(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              ::testing::HasSubstr("quotas[0].level_severities"));
  v1::Policy g = (*Policy::FromProfile("aidr-2025"))->proto();
  g.mutable_quotas(0)->set_destination_groups(0, "TIER3");
  EXPECT_THAT(std::string(Policy::Create(g).status().message()),
              ::testing::HasSubstr("quotas[0].destination_groups[0]"));
  v1::Policy m = (*Policy::FromProfile("aidr-2025"))->proto();
  m.clear_quotas();
  EXPECT_THAT(std::string(Policy::Create(m).status().message()),
              ::testing::HasSubstr("no entry of quotas declares it"));
  v1::Policy w = (*Policy::FromProfile("aidr-2025"))->proto();
  w.mutable_quotas(0)->mutable_window()->set_until("2024-01-01");
  EXPECT_THAT(std::string(Policy::Create(w).status().message()),
              ::testing::HasSubstr("quotas[0].window.until"));
}

// ---------------------------------------------------------------- windows

TEST(ShipmentStructuringTest, ThreeSmallShipmentsWithin30DaysFireOnce) {
  RuleHarness h("current");
  // 150 H100 = 2,374,800 TPP each (< 2.69M); three = 7.1M >= 6.725M.
  EXPECT_THAT(Only(h.Run(H100s("s1", 150, kT0)), "SHIPMENT_STRUCTURING"), IsEmpty());
  EXPECT_THAT(Only(h.Run(H100s("s2", 150, kT0 + 10 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
  auto fired = Only(h.Run(H100s("s3", 150, kT0 + 20 * kDay)), "SHIPMENT_STRUCTURING");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), v1::MEDIUM);
  EXPECT_EQ(fired[0].subject().id(), "C-1042");
  EXPECT_THAT(fired[0].evidence().event_ids(), ElementsAre("s1", "s2", "s3"));
  EXPECT_DOUBLE_EQ(NumberValue(fired[0], "total_tpp"), 3 * 150 * 15832.0);
  // A fourth in the same run: same episode, no new alert; a duplicate: none.
  EXPECT_THAT(Only(h.Run(H100s("s4", 150, kT0 + 21 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
  EXPECT_THAT(Only(h.Run(H100s("s3", 150, kT0 + 20 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
  // A fresh run of three, later: a second alert.
  int later = 0;
  for (int i = 0; i < 3; ++i) {
    later += Only(h.Run(H100s("t" + std::to_string(i), 150, kT0 + (60 + i) * kDay)),
                  "SHIPMENT_STRUCTURING")
                 .size();
  }
  EXPECT_EQ(later, 1);
}

TEST(ShipmentStructuringTest, SpreadOutLargeOrTooFewIsQuiet) {
  RuleHarness h("current");
  // 40 days apart: never three within 30 days.
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(Only(h.Run(H100s("w" + std::to_string(i), 150, kT0 + i * 20 * kDay)),
                     "SHIPMENT_STRUCTURING"),
                IsEmpty());
  }
  // Shipments at or over the per-shipment ceiling are not structuring.
  RuleHarness big("current");
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(
        Only(big.Run(H100s("b" + std::to_string(i), 170, kT0 + i * kDay)), "SHIPMENT_STRUCTURING"),
        IsEmpty());
  }
}

TEST(ShipmentStructuringTest, LateShipmentJoinsItsWindowTooLateIsNotCounted) {
  RuleHarness h("current");
  EXPECT_THAT(Only(h.Run(H100s("a", 150, kT0)), "SHIPMENT_STRUCTURING"), IsEmpty());
  EXPECT_THAT(Only(h.Run(H100s("c", 150, kT0 + 6 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
  // Dated between the two, arriving after: 6 days late is within 7.
  EXPECT_EQ(Only(h.Run(H100s("b", 150, kT0 + 1 * kDay)), "SHIPMENT_STRUCTURING").size(), 1u);

  RuleHarness late("current");
  EXPECT_THAT(Only(late.Run(H100s("a", 150, kT0)), "SHIPMENT_STRUCTURING"), IsEmpty());
  EXPECT_THAT(Only(late.Run(H100s("c", 150, kT0 + 20 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
  // Dated 12 days before the newest: beyond the 7 days' allowed lateness.
  EXPECT_THAT(Only(late.Run(H100s("b", 150, kT0 + 8 * kDay)), "SHIPMENT_STRUCTURING"), IsEmpty());
}

TEST(NewEntityVelocityTest, YoungConsigneeBuyingFastFires) {
  RuleHarness h("current");
  auto young = [](const std::string& id, int64_t units, int64_t t) {
    v1::Event e = H100s(id, units, t);
    e.mutable_trade()->mutable_ultimate_consignee()->set_incorporated_on("2024-09-01");
    return e;
  };
  // 600 H100 = 9.5M each; two = 19M > 15.832M.
  EXPECT_THAT(Only(h.Run(young("v1", 600, kT0)), "NEW_ENTITY_VELOCITY"), IsEmpty());
  auto fired = Only(h.Run(young("v2", 600, kT0 + 30 * kDay)), "NEW_ENTITY_VELOCITY");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), v1::MEDIUM);
  EXPECT_EQ(StringValue(fired[0], "incorporated_on"), "2024-09-01");
  EXPECT_EQ(NumberValue(fired[0], "age_months"), 7);
  EXPECT_THAT(Only(h.Run(young("v3", 600, kT0 + 31 * kDay)), "NEW_ENTITY_VELOCITY"), IsEmpty());

  // Same volume, 91+ days apart: no window holds both.
  RuleHarness slow("current");
  EXPECT_THAT(Only(slow.Run(young("s1", 600, kT0)), "NEW_ENTITY_VELOCITY"), IsEmpty());
  EXPECT_THAT(Only(slow.Run(young("s2", 600, kT0 + 95 * kDay)), "NEW_ENTITY_VELOCITY"), IsEmpty());

  // An established consignee (the contract's, incorporated 2023-02-14) is not judged.
  RuleHarness old("current");
  EXPECT_THAT(Only(old.Run(H100s("o1", 600, kT0)), "NEW_ENTITY_VELOCITY"), IsEmpty());
  EXPECT_THAT(Only(old.Run(H100s("o2", 600, kT0 + kDay)), "NEW_ENTITY_VELOCITY"), IsEmpty());
}

// ---------------------------------------------------------------- keyed joins

TEST(SitePowerImplausibleTest, ShipmentsBeyondDeclaredPowerFireOncePerDeclaration) {
  RuleHarness h("current");
  auto to_site = [](const std::string& id, int64_t units, std::optional<double> mw, int64_t t) {
    v1::Event e = H100s(id, units, t);
    e.mutable_trade()->mutable_site()->set_site_id("CYB-1");
    if (mw) e.mutable_trade()->mutable_site()->set_declared_power_mw(*mw);
    return e;
  };
  // 700 W x 1.5 x 1.3 = 1365 W per H100; 4 MW holds 2930 of them.
  EXPECT_THAT(Only(h.Run(to_site("p1", 2000, 4.0, kT0)), "SITE_POWER_IMPLAUSIBLE"), IsEmpty());
  auto fired = Only(h.Run(to_site("p2", 1000, std::nullopt, kT0 + kDay)), "SITE_POWER_IMPLAUSIBLE");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].subject().kind(), v1::SITE);
  EXPECT_EQ(fired[0].subject().id(), "CYB-1");
  EXPECT_NEAR(NumberValue(fired[0], "required_mw"), 3000 * 1365 / 1e6, 1e-9);
  EXPECT_EQ(NumberValue(fired[0], "declared_power_mw"), 4.0);
  EXPECT_THAT(
      Only(h.Run(to_site("p3", 10, std::nullopt, kT0 + 2 * kDay)), "SITE_POWER_IMPLAUSIBLE"),
      IsEmpty());
  // A new, larger declaration re-arms the rule; an older one is ignored.
  EXPECT_THAT(Only(h.Run(to_site("p4", 10, 5.0, kT0 + 3 * kDay)), "SITE_POWER_IMPLAUSIBLE"),
              IsEmpty());
  EXPECT_THAT(Only(h.Run(to_site("p5", 10, 1.0, kT0 - kDay)), "SITE_POWER_IMPLAUSIBLE"), IsEmpty());
  EXPECT_EQ(Only(h.Run(to_site("p6", 700, std::nullopt, kT0 + 4 * kDay)), "SITE_POWER_IMPLAUSIBLE")
                .size(),
            1u);
}

TEST(SerialLocationMismatchTest, SerialShippedToOneCountryUsedInAnother) {
  RuleHarness h("current");
  v1::Event ship = Neutral("sh1");
  ship.mutable_trade()->mutable_items(0)->add_serials("SN-7");
  EXPECT_THAT(Only(h.Run(ship), "SERIAL_LOCATION_MISMATCH"), IsEmpty());
  v1::Event use = Cloud("cu1", kT0 + 10 * kDay);
  use.mutable_cloud_usage()->set_datacenter_country("CN");
  use.mutable_cloud_usage()->add_accelerator_serials("SN-7");
  auto fired = Only(h.Run(use), "SERIAL_LOCATION_MISMATCH");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), v1::HIGH);
  EXPECT_EQ(fired[0].subject().kind(), v1::SERIAL);
  EXPECT_EQ(fired[0].subject().id(), "SN-7");
  EXPECT_EQ(StringValue(fired[0], "shipped_country"), "MY");
  EXPECT_THAT(fired[0].evidence().event_ids(), ElementsAre("sh1", "cu1"));
  // The next hour's usage there: the same detection.
  use.mutable_cloud_usage()->set_event_id("cu2");
  EXPECT_THAT(Only(h.Run(use), "SERIAL_LOCATION_MISMATCH"), IsEmpty());
}

TEST(SerialLocationMismatchTest, SightingBeforeTheShipmentAndTwoSitesInADay) {
  RuleHarness h("current");
  v1::Event use = Cloud("cu1", kT0 + kDay);
  use.mutable_cloud_usage()->set_datacenter_country("CN");
  use.mutable_cloud_usage()->add_accelerator_serials("SN-8");
  EXPECT_THAT(Only(h.Run(use), "SERIAL_LOCATION_MISMATCH"), IsEmpty());
  v1::Event ship = Neutral("sh8");
  ship.mutable_trade()->mutable_items(0)->add_serials("SN-8");
  EXPECT_EQ(Only(h.Run(ship), "SERIAL_LOCATION_MISMATCH").size(), 1u);

  RuleHarness sites("current");
  v1::Event a = Cloud("a", kT0);
  a.mutable_cloud_usage()->add_accelerator_serials("SN-9");
  EXPECT_THAT(Only(sites.Run(a), "SERIAL_LOCATION_MISMATCH"), IsEmpty());
  v1::Event far = Cloud("far", kT0 + 3 * kDay);  // another site, days later: a move
  far.mutable_cloud_usage()->set_site_id("SIN-1");
  far.mutable_cloud_usage()->add_accelerator_serials("SN-9");
  EXPECT_THAT(Only(sites.Run(far), "SERIAL_LOCATION_MISMATCH"), IsEmpty());
  v1::Event b = Cloud("b", kT0 + 3 * kDay + 5 * 3600);  // back at JKT-2 5 h later
  b.mutable_cloud_usage()->add_accelerator_serials("SN-9");
  auto fired = Only(sites.Run(b), "SERIAL_LOCATION_MISMATCH");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(StringValue(fired[0], "site_a"), "JKT-2");
  EXPECT_EQ(StringValue(fired[0], "site_b"), "SIN-1");
}

v1::Event Training(const std::string& id, double ops, const std::string& parent_hq) {
  v1::Event e = Cloud(id, kT0);
  auto* c = e.mutable_cloud_usage();
  c->set_measured_ops(ops);
  c->mutable_tenant()->set_ultimate_parent_hq_country(parent_hq);
  return e;
}

TEST(RestrictedTrainingComputeTest, RestrictedParentCrossingThresholdIsHighOnce) {
  RuleHarness h("current");
  EXPECT_THAT(Only(h.Run(Training("t1", 6e23, "CN")), "RESTRICTED_TRAINING_COMPUTE"), IsEmpty());
  auto fired = Only(h.Run(Training("t2", 5e23, "CN")), "RESTRICTED_TRAINING_COMPUTE");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), v1::HIGH);
  EXPECT_EQ(fired[0].subject().id(), "P-500");
  EXPECT_EQ(StringValue(fired[0], "model"), "lv-base-70b");
  EXPECT_DOUBLE_EQ(NumberValue(fired[0], "cumulative_ops"), 11e23);
  EXPECT_THAT(Only(h.Run(Training("t3", 5e23, "CN")), "RESTRICTED_TRAINING_COMPUTE"), IsEmpty());
  // Inference does not count.
  v1::Event inf = Training("t4", 1e25, "CN");
  inf.mutable_cloud_usage()->set_model_id("other");
  inf.mutable_cloud_usage()->set_workload(v1::Workload::INFERENCE);
  EXPECT_THAT(Only(h.Run(inf), "RESTRICTED_TRAINING_COMPUTE"), IsEmpty());
}

TEST(RestrictedTrainingComputeTest, GpuHoursEstimateAndNonTier1OnlyUnderAidr) {
  // 1024 GPU-hours of H100 at 40%: 1024 x 3600 x 15832/16 x 1e12 x 0.4 = 1.459e21.
  RuleHarness h("current");
  auto fired = h.Run(Cloud("g1", kT0));  // parent CN, no measured ops
  EXPECT_THAT(Only(fired, "RESTRICTED_TRAINING_COMPUTE"), IsEmpty());
  RuleHarness current("current");
  RuleHarness aidr("aidr-2025");
  // Parent in Tier 2 (SG): 1.2e26 ops.
  EXPECT_THAT(Only(current.Run(Training("n1", 1.2e26, "SG")), "RESTRICTED_TRAINING_COMPUTE"),
              IsEmpty());
  EXPECT_THAT(RulesOf(Only(aidr.Run(Training("n1", 1.2e26, "SG")), "RESTRICTED_TRAINING_COMPUTE")),
              ElementsAre("RESTRICTED_TRAINING_COMPUTE:MEDIUM"));
  // Tier 1 parent: never.
  EXPECT_THAT(Only(aidr.Run(Training("n2", 1e27, "US")), "RESTRICTED_TRAINING_COMPUTE"), IsEmpty());
}

// ---------------------------------------------------------------- composite

TEST(CompositeRiskTest, ThreeDistinctIndicatorsWithin180DaysFireOnce) {
  RuleHarness h("current");
  // Third-country payment (day 0), transshipment (day 50), site power (day 100).
  v1::Event pay = Neutral("k1", kT0);
  pay.mutable_trade()->mutable_payment()->set_payer_country("AE");
  EXPECT_THAT(Only(h.Run(pay), "COMPOSITE_RISK"), IsEmpty());
  v1::Event route = Neutral("k2", kT0 + 50 * kDay);
  auto* hub = route.mutable_trade()->add_route();
  hub->set_country("SG");
  hub->set_role(v1::RouteRole::TRANSIT);
  route.mutable_trade()->mutable_end_user()->set_country("TH");
  EXPECT_THAT(Only(h.Run(route), "COMPOSITE_RISK"), IsEmpty());
  // The same indicator again does not make three.
  pay.mutable_trade()->set_event_id("k1b");
  pay.mutable_trade()->mutable_event_time()->set_seconds(kT0 + 50 * kDay);
  EXPECT_THAT(Only(h.Run(pay), "COMPOSITE_RISK"), IsEmpty());
  v1::Event power = H100s("k3", 4000, kT0 + 100 * kDay);
  power.mutable_trade()->mutable_site()->set_site_id("CYB-9");
  power.mutable_trade()->mutable_site()->set_declared_power_mw(1.0);
  auto fired = Only(h.Run(power), "COMPOSITE_RISK");
  ASSERT_EQ(fired.size(), 1u);
  EXPECT_EQ(fired[0].severity(), v1::HIGH);
  EXPECT_EQ(fired[0].subject().id(), "C-1042");
  EXPECT_EQ(StringValue(fired[0], "rules"),
            "SITE_POWER_IMPLAUSIBLE,THIRD_COUNTRY_PAYMENT,TRANSSHIPMENT_ROUTE");
  EXPECT_THAT(fired[0].evidence().event_ids(), ElementsAre("k1", "k1b", "k2", "k3"));
}

TEST(CompositeRiskTest, IndicatorsFurtherApartThan180DaysDoNot) {
  RuleHarness h("current");
  v1::Event pay = Neutral("f1", kT0);
  pay.mutable_trade()->mutable_payment()->set_payer_country("AE");
  h.Run(pay);
  v1::Event route = Neutral("f2", kT0 + 100 * kDay);
  auto* hub = route.mutable_trade()->add_route();
  hub->set_country("SG");
  hub->set_role(v1::RouteRole::TRANSIT);
  route.mutable_trade()->mutable_end_user()->set_country("TH");
  h.Run(route);
  v1::Event power = H100s("f3", 4000, kT0 + 200 * kDay);
  power.mutable_trade()->mutable_site()->set_site_id("CYB-9");
  power.mutable_trade()->mutable_site()->set_declared_power_mw(1.0);
  EXPECT_THAT(Only(h.Run(power), "COMPOSITE_RISK"), IsEmpty());
}

TEST(StatefulAlertIdsTest, IdDoesNotDependOnWhichEventCrossed) {
  // The same quota crossing reached by different events in another order
  // keeps one id: it is one detection.
  RuleHarness a("aidr-2025");
  RuleHarness b("aidr-2025");
  std::vector<v1::Event> events;
  for (int i = 0; i < 5; ++i) events.push_back(H100s("o" + std::to_string(i), 10000));
  std::vector<std::string> ids_a, ids_b;
  for (const auto& e : events) {
    for (const auto& al : Only(a.Run(e), "COUNTRY_QUOTA")) ids_a.push_back(al.alert_id());
  }
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    for (const auto& al : Only(b.Run(*it), "COUNTRY_QUOTA")) ids_b.push_back(al.alert_id());
  }
  ASSERT_EQ(ids_a.size(), 2u);
  EXPECT_EQ(ids_a, ids_b);
}

}  // namespace
}  // namespace exportwatch::testing
