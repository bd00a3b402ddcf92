// SERIAL_LOCATION_MISMATCH (RULES.md): joins trade and cloud streams by
// accelerator serial. HIGH when a serial shipped to country A is used in a
// cloud whose datacenter_country is B != A, or is seen at two sites within
// two_sites_hours (24). Once per serial and (country | pair of sites).
//
// Facts are one per serial and carry a slimmed event (the few fields the
// join needs), so a shipment of many GPUs does not copy itself per GPU.
// Arrival order does not matter: a shipment that arrives after the cloud
// sightings is checked against them, and the shipment in force is the
// latest by (event_time, event_id), whichever arrived last.
//
// A shipment's fact keeps no dedup mark (ReapplyIsNoOp): only a shipment
// that takes over from the one in force changes the state or raises, and a
// shipment applied again never takes over from itself. Shipments are most
// of this rule's facts (one per serial), and most facts of a stream with
// serials.
#include <algorithm>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"
#include "processor/wire.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "SERIAL_LOCATION_MISMATCH";
constexpr absl::string_view kState = "serial";
// Sightings kept per serial (the newest by event time).
constexpr int kMaxSightings = 64;
// A sighting at a site already seen this close is not stored again.
constexpr int64_t kSameSiteMergeSeconds = 3600;
constexpr int kMaxAlerted = 64;

std::string Location(const v1::CloudUsageEvent& c) {
  if (!c.site_id().empty()) return c.site_id();
  if (c.provider_id().empty() && c.region().empty()) return "";
  return absl::StrCat(c.provider_id(), "/", c.region());
}

// The events of a shipment's facts, one per serial, serialized: the bytes
// of a v1::Event holding the fields the join reads and one item with one
// serial, as protobuf would write them (same fields, same order). The part
// they share is encoded once per shipment and once per item; building,
// serializing and freeing a message per serial was ~3% of the processor's
// instructions (BENCHMARKS.md, session 14).
class SerialFactEvents {
 public:
  // Encodes nothing yet: most shipments have no serials.
  explicit SerialFactEvents(const v1::TradeEvent& t) : t_(t) {}

  // The event of `serial` of `item`, an item of the shipment.
  std::string For(const v1::Item& item, absl::string_view serial) {
    if (!encoded_shared_) EncodeShared();
    if (item_ != &item) EncodeItemHead(item);
    const size_t item_size =
        item_head_.size() + wire::LengthDelimitedSize(v1::Item::kSerialsFieldNumber, serial.size());
    const size_t trade_size =
        shared_.size() + wire::LengthDelimitedSize(v1::TradeEvent::kItemsFieldNumber, item_size);
    std::string out;
    out.reserve(wire::LengthDelimitedSize(v1::Event::kTradeFieldNumber, trade_size));
    wire::AppendLengthDelimitedHeader(v1::Event::kTradeFieldNumber, trade_size, &out);
    // The shared fields' numbers are all below items', the item's
    // chip_model below serials: protobuf's order (only the test that
    // compares bytes needs it; a parser takes fields in any order).
    static_assert(v1::TradeEvent::kDestinationCountryFieldNumber <
                  v1::TradeEvent::kItemsFieldNumber);
    static_assert(v1::Item::kChipModelFieldNumber < v1::Item::kSerialsFieldNumber);
    out += shared_;
    wire::AppendLengthDelimitedHeader(v1::TradeEvent::kItemsFieldNumber, item_size, &out);
    out += item_head_;
    wire::AppendLengthDelimited(v1::Item::kSerialsFieldNumber, serial, &out);
    return out;
  }

 private:
  void EncodeShared() {
    v1::TradeEvent shared;
    shared.set_event_id(t_.event_id());
    *shared.mutable_event_time() = t_.event_time();
    shared.set_shipment_id(t_.shipment_id());
    shared.set_destination_country(t_.destination_country());
    shared.SerializeToString(&shared_);
    encoded_shared_ = true;
  }

  void EncodeItemHead(const v1::Item& item) {
    v1::Item head;
    head.set_chip_model(item.chip_model());
    head.SerializeToString(&item_head_);
    item_ = &item;
  }

  const v1::TradeEvent& t_;
  bool encoded_shared_ = false;
  std::string shared_;
  const v1::Item* item_ = nullptr;  // whose chip_model item_head_ holds
  std::string item_head_;
};

class SerialLocationMismatch final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  // Sightings are appended to a bounded list, so they keep their marks.
  bool ReapplyIsNoOp(const v1::Event& event) const override { return event.has_trade(); }

  void Inspect(const v1::Event& event, const RuleContext&, Emitter& out) const override {
    if (event.has_trade()) {
      const auto& t = event.trade();
      if (t.destination_country().empty()) return;
      SerialFactEvents events(t);
      for (const auto& item : t.items()) {
        for (const auto& serial : item.serials()) {
          if (serial.empty()) continue;
          out.FactWithEvent(kId, serial, events.For(item, serial));
        }
      }
    } else if (event.has_cloud_usage()) {
      const auto& c = event.cloud_usage();
      for (const auto& serial : c.accelerator_serials()) {
        if (serial.empty()) continue;
        v1::Event slim;
        auto* sc = slim.mutable_cloud_usage();
        sc->set_event_id(c.event_id());
        *sc->mutable_event_time() = c.event_time();
        sc->set_provider_id(c.provider_id());
        sc->set_region(c.region());
        sc->set_site_id(c.site_id());
        sc->set_datacenter_country(c.datacenter_country());
        sc->set_accelerator_model(c.accelerator_model());
        *sc->mutable_tenant() = c.tenant();
        sc->add_accelerator_serials(serial);
        out.FactWithEvent(kId, serial, slim.SerializeAsString());
      }
    }
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    v1::SerialState s;
    auto stored = state.Get(kState);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) s.ParseFromString(**stored);

    if (event.has_trade()) {
      const auto& t = event.trade();
      const int64_t at = t.event_time().seconds();
      // Only a shipment that takes over does anything. The one in force
      // again, or an older one, would find only mismatches already raised,
      // or windows the bounded `alerted` list has since forgotten: raising
      // those again is what a re-delivery must not do.
      const bool takes_over = s.shipped_country().empty() || at > s.shipped_at_unix() ||
                              (at == s.shipped_at_unix() && t.event_id() > s.shipment_event_id());
      if (!takes_over) return absl::OkStatus();
      s.set_shipped_country(t.destination_country());
      s.set_shipment_event_id(t.event_id());
      s.set_shipped_at_unix(at);
      // Sightings that arrived before the shipment.
      for (const auto& seen : s.sightings()) {
        if (!seen.country().empty() && seen.country() != s.shipped_country()) {
          RaiseCountry(event, key, ctx, s, seen, out);
        }
      }
    } else if (event.has_cloud_usage()) {
      const auto& c = event.cloud_usage();
      v1::SerialSighting now;
      now.set_time_unix(c.event_time().seconds());
      now.set_country(c.datacenter_country());
      now.set_site_id(Location(c));
      now.set_event_id(c.event_id());
      if (!s.shipped_country().empty() && !now.country().empty() &&
          now.country() != s.shipped_country()) {
        RaiseCountry(event, key, ctx, s, now, out);
      }
      const int64_t limit = int64_t{ctx.policy.proto().serial_location().two_sites_hours()} * 3600;
      bool merge = false;
      for (const auto& seen : s.sightings()) {
        const int64_t gap = std::abs(seen.time_unix() - now.time_unix());
        if (seen.site_id() == now.site_id()) {
          merge = merge || gap <= kSameSiteMergeSeconds;
        } else if (!now.site_id().empty() && !seen.site_id().empty() && gap <= limit) {
          RaiseTwoSites(event, key, ctx, s, seen, now, out);
        }
      }
      if (!merge) AddSighting(s, std::move(now));
    }
    state.Put(kState, s.SerializeAsString());
    return absl::OkStatus();
  }

 private:
  static void AddSighting(v1::SerialState& s, v1::SerialSighting sighting) {
    auto* list = s.mutable_sightings();
    *list->Add() = std::move(sighting);
    // Into time order (the list is sorted and short; arrivals are mostly in order).
    for (int i = list->size() - 1; i > 0 && list->Get(i).time_unix() < list->Get(i - 1).time_unix();
         --i) {
      list->SwapElements(i, i - 1);
    }
    if (list->size() > kMaxSightings) list->DeleteSubrange(0, list->size() - kMaxSightings);
  }

  // True (and remembered) the first time `window` alerts for this serial.
  static bool FirstTime(v1::SerialState& s, const std::string& window) {
    for (const auto& w : s.alerted()) {
      if (w == window) return false;
    }
    AppendBounded(s.mutable_alerted(), window, kMaxAlerted);
    return true;
  }

  void RaiseCountry(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                    v1::SerialState& s, const v1::SerialSighting& seen, Emitter& out) const {
    std::string window = absl::StrCat("country:", s.shipped_country(), ">", seen.country());
    if (!FirstTime(s, window)) return;
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::HIGH;
    spec.subject_kind = v1::SERIAL;
    spec.subject_id = std::string(key);
    spec.window = window;
    spec.once_per_window = true;
    spec.title = absl::StrCat("Serial ", key, " shipped to ", s.shipped_country(),
                              " is in use in a data centre in ", seen.country());
    v1::Alert a = BuildAlert(spec, event, ctx);
    a.mutable_evidence()->clear_event_ids();
    a.mutable_evidence()->add_event_ids(s.shipment_event_id());
    a.mutable_evidence()->add_event_ids(seen.event_id());
    SetValue(a, "shipped_country", s.shipped_country());
    SetValue(a, "datacenter_country", seen.country());
    SetValue(a, "site", seen.site_id());
    SetValue(a, "seen_at", FormatDay(seen.time_unix()));
    out.Alert(std::move(a));
  }

  void RaiseTwoSites(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     v1::SerialState& s, const v1::SerialSighting& a_seen,
                     const v1::SerialSighting& b_seen, Emitter& out) const {
    const auto& [first, second] = std::minmax(a_seen.site_id(), b_seen.site_id());
    std::string window = absl::StrCat("sites:", first, "|", second);
    if (!FirstTime(s, window)) return;
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::HIGH;
    spec.subject_kind = v1::SERIAL;
    spec.subject_id = std::string(key);
    spec.window = window;
    spec.once_per_window = true;
    const int64_t gap_h = std::abs(a_seen.time_unix() - b_seen.time_unix()) / 3600;
    spec.title = absl::StrCat("Serial ", key, " seen at two sites, ", first, " and ", second, ", ",
                              gap_h, " h apart");
    v1::Alert a = BuildAlert(spec, event, ctx);
    a.mutable_evidence()->clear_event_ids();
    a.mutable_evidence()->add_event_ids(a_seen.event_id());
    a.mutable_evidence()->add_event_ids(b_seen.event_id());
    SetValue(a, "site_a", first);
    SetValue(a, "site_b", second);
    SetValue(a, "hours_apart", static_cast<double>(gap_h));
    SetValue(a, "max_hours", ctx.policy.proto().serial_location().two_sites_hours());
    out.Alert(std::move(a));
  }
};

EW_REGISTER_RULE(kId, SerialLocationMismatch);

}  // namespace
}  // namespace exportwatch
