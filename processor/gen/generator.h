// EventGenerator: synthetic input for the three streams of
// shared/contract/EVENTS.md: realistic, rule-clean baseline traffic plus
// injected violation scenarios, each event labelled with the rules it is
// designed to trigger. See processor/gen/README.md for the numbers' sources.
//
// Not thread-safe: one generator per producing thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "exportwatch/v1/events.pb.h"
#include "processor/gen/source_data.h"

namespace exportwatch {

inline constexpr char kTradeTopic[] = "trade-events";
inline constexpr char kCloudUsageTopic[] = "cloud-usage";
inline constexpr char kModelTransferTopic[] = "model-transfers";

struct GeneratedEvent {
  exportwatch::v1::Event event;
  // kTradeTopic, kCloudUsageTopic or kModelTransferTopic.
  std::string topic;
  // Ground truth: the rules this event is designed to trigger (empty for
  // baseline traffic and for the setup steps of a scenario). "RULE_ID" means
  // under every shipped profile (`current`, and `aidr-2025` which includes
  // it); "RULE_ID@aidr-2025" means only under that profile. A rule is listed
  // once even when it raises several alerts (e.g. one per serial or party).
  // Use EventGenerator::ExpectedRulesFor() to resolve for one profile.
  std::vector<std::string> expected_rules;
  // "" for baseline; otherwise "<scenario-name>/<instance>", e.g.
  // "lpp-quota-burst/12": all events of one injected scenario share it.
  // One exception: a baseline shipment whose TPP crosses 80% or 100% of an
  // aidr-2025 Tier 2 country cap is labelled "COUNTRY_QUOTA@aidr-2025" and
  // gets scenario "country-quota/<ISO>" (at most two per country; a scenario
  // shipment that crosses keeps its own scenario and gains the label).
  // Hence: expected_rules non-empty => scenario non-empty.
  std::string scenario;
};

class EventGenerator {
 public:
  struct Options {
    // Same seed and options (and same data files) -> same event sequence.
    uint64_t seed = 1;
    // event_time of the first event. Default 2025-03-01T00:00:00Z.
    absl::Time start_time = absl::FromUnixSeconds(1740787200);
    // Mean events per simulated second (all streams together); gaps follow
    // the Alibaba trace's task inter-arrival shape scaled to this mean.
    // Default 0.01: ~390 shipments a day, the order of real worldwide
    // accelerator shipments. Higher rates are fine (baseline stays clean),
    // but the per-consignee budgets then turn more small orders into bulk
    // ones (see README.md). Must be > 0.
    double events_per_second = 0.01;
    // Stream mix, relative weights (need not sum to 1; >= 0, not all 0).
    // Defaults 0.45 / 0.50 / 0.05.
    double trade_weight = 0.45;
    double cloud_weight = 0.50;
    double model_weight = 0.05;
    // Fraction of events that belong to injected violation scenarios, in
    // [0, 1], applied per stream. Default 0.01.
    double violation_rate = 0.01;
    // Scenarios to inject (names of README.md's table); empty: all. A
    // stream none of whose scenarios is chosen gets baseline traffic only.
    std::vector<std::string> scenarios;
    // Root of the shared data (folders taiwan-hs8542-exports/ and
    // alibaba-clusterdata/). Default "../shared/data", relative to the
    // working directory (the project root in CI).
    std::string data_dir = "../shared/data";
    // When false (default), a missing or unreadable file falls back to
    // built-in numbers summarised from the same files (see data_report());
    // when true, Create() fails instead.
    bool require_data = false;
    // Upper bound on data rows read per file, so Create() stays fast.
    // Default 20000 (both files have fewer).
    int max_rows_per_file = 20000;
    // Size of the fixed consignee population (trade) and tenant population
    // (cloud, model recipients). Defaults 300 and 200. Each >= 1; a country
    // in the destination mix always gets at least one consignee.
    int num_consignees = 300;
    int num_tenants = 200;
    // Inserted into every generated id ("tr-<ns>-<n>", "SHP-<ns>-<n>", ...)
    // so that several generators can feed one pipeline. Default "" (ids
    // "tr-000000001", "cu-...", "mt-...").
    std::string id_namespace;
  };

  // Loads the data and builds the populations. InvalidArgument for bad
  // options; with require_data, the load error of a missing/bad file.
  static absl::StatusOr<std::unique_ptr<EventGenerator>> Create(Options options);

  // The names of every scenario, trade first.
  static std::vector<std::string> ScenarioNames();

  ~EventGenerator();
  EventGenerator(const EventGenerator&) = delete;
  EventGenerator& operator=(const EventGenerator&) = delete;

  // Overwrites *out with the next event. event_time never decreases.
  void Next(GeneratedEvent* out);

  // What was loaded from which file.
  const DataReport& data_report() const;

  // Destination mix of baseline trade (ISO code, share summing to 1),
  // heaviest first; restricted countries already removed.
  const std::vector<std::pair<std::string, double>>& destination_shares() const;

  // The labels of `event` that apply under `profile` ("current",
  // "aidr-2025"), without the "@profile" suffix.
  static std::vector<std::string> ExpectedRulesFor(const GeneratedEvent& event,
                                                   absl::string_view profile);

 private:
  class Impl;
  explicit EventGenerator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace exportwatch
