// ToJson(const v1::Alert&), the alerts topic's printer, against protobuf's
// JSON printer (the generic ToJson): same output, byte for byte, wherever
// protobuf's is deterministic (it writes a Struct's keys in map order; ours
// sorts them, so those are compared as parsed JSON).
#include "processor/json.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "processor/gen/generator.h"
#include "processor/watchlist_data.h"
#include "tests/processor/rule_harness.h"

namespace exportwatch::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

std::string Protobufs(const v1::Alert& a) {
  return ToJson(static_cast<const google::protobuf::Message&>(a));
}

std::string Utf8(uint32_t cp) {
  std::string s;
  if (cp < 0x80) {
    s += static_cast<char>(cp);
  } else if (cp < 0x800) {
    s += static_cast<char>(0xc0 | (cp >> 6));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    s += static_cast<char>(0xe0 | (cp >> 12));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    s += static_cast<char>(0xf0 | (cp >> 18));
    s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    s += static_cast<char>(0x80 | (cp & 0x3f));
  }
  return s;
}

// Both printers' output parsed as JSON values (Struct keys compared as a
// map, numbers as doubles).
void ExpectSameJson(const std::string& ours, const std::string& theirs) {
  google::protobuf::Value a, b;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, &a).ok()) << ours;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(theirs, &b).ok()) << theirs;
  EXPECT_TRUE(MessageDifferencer::Equals(a, b)) << ours << "\n" << theirs;
}

TEST(AlertJsonTest, GeneratedAlertsPrintAsProtobufDoes) {
  const std::string data_dir = std::string(EW_SHARED_DIR) + "/data";
  auto watchlist = LoadWatchlists({data_dir + "/moov-io-watchman/csl.csv"});
  ASSERT_TRUE(watchlist.ok()) << watchlist.status();
  size_t alerts = 0, values = 0;
  for (const char* profile : {"aidr-2025", "current"}) {
    EventGenerator::Options o;
    o.seed = 11;
    o.violation_rate = 0.2;
    o.data_dir = data_dir;
    auto gen = EventGenerator::Create(o);
    ASSERT_TRUE(gen.ok()) << gen.status();
    RuleHarness h(profile, *watchlist);
    GeneratedEvent ge;
    for (int i = 0; i < 6000; ++i) {
      (*gen)->Next(&ge);
      for (v1::Alert& a : h.Run(ge.event)) {
        // The fields alertd sets, on some of them.
        if (alerts % 3 == 0) {
          a.set_cursor(absl::StrCat(alerts));
          a.mutable_triage()->set_status(v1::ACKNOWLEDGED);
          a.mutable_triage()->set_updated_by("soc \"analyst\" <a@b>");
          a.mutable_triage()->mutable_updated_at()->set_seconds(1'800'000'000 + alerts);
          a.mutable_triage()->mutable_updated_at()->set_nanos(static_cast<int32_t>(alerts * 1000));
        }
        ++alerts;
        const std::string ours = ToJson(a);
        v1::Alert back;
        ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(ours, &back).ok()) << ours;
        EXPECT_TRUE(MessageDifferencer::Equals(back, a)) << ours;
        ExpectSameJson(ours, Protobufs(a));
        // Byte for byte: everything but the evidence values, then each value
        // on its own (a one-key Struct has one order).
        v1::Alert part = a;
        part.mutable_evidence()->clear_values();
        EXPECT_EQ(ToJson(part), Protobufs(part));
        for (const auto& [key, value] : a.evidence().values().fields()) {
          part.Clear();
          (*part.mutable_evidence()->mutable_values()->mutable_fields())[key] = value;
          EXPECT_EQ(ToJson(part), Protobufs(part));
          ++values;
        }
      }
    }
  }
  std::cout << alerts << " alerts, " << values << " evidence values\n";
  EXPECT_GT(alerts, 1000u);
  EXPECT_GT(values, 2 * alerts) << "the generator's alerts should carry evidence values";
}

TEST(AlertJsonTest, EveryCodePointIsEscapedAsProtobufDoes) {
  v1::Alert a;
  for (uint32_t cp = 0; cp <= 0x10ffff; ++cp) {
    if (cp >= 0xd800 && cp <= 0xdfff) continue;  // not encodable in UTF-8
    a.set_title(absl::StrCat("a", Utf8(cp), "b"));
    const std::string ours = ToJson(a);
    ASSERT_EQ(ours, Protobufs(a)) << "U+" << std::hex << cp;
  }
}

TEST(AlertJsonTest, NumbersPrintAsProtobufDoes) {
  std::vector<double> numbers = {0.0,
                                 -0.0,
                                 1,
                                 -1,
                                 0.1,
                                 1.0 / 3,
                                 2500000,
                                 1234567.125,
                                 1e15,
                                 1e15 - 1,
                                 -1e15 + 1,
                                 999999999999999.5,
                                 1e16,
                                 1e21,
                                 1e-5,
                                 1e-7,
                                 123456789012345678.0,
                                 5e-324,
                                 std::numeric_limits<double>::max(),
                                 std::numeric_limits<double>::lowest(),
                                 std::numeric_limits<double>::quiet_NaN(),
                                 std::numeric_limits<double>::infinity(),
                                 -std::numeric_limits<double>::infinity()};
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof(d));
    numbers.push_back(d);
    numbers.push_back(static_cast<double>(rng() % 10'000'000) / 100.0);  // money-like
    // Whole numbers around the 1e15 boundary of %.15g, and small counts.
    numbers.push_back(static_cast<double>(static_cast<int64_t>(rng() % 4'000'000'000'000'000) -
                                          2'000'000'000'000'000));
    numbers.push_back(static_cast<double>(static_cast<int64_t>(rng() % 2000) - 1000));
    numbers.push_back(std::ldexp(1.0, static_cast<int>(rng() % 64)) * (i % 2 ? 1 : -1));
  }
  v1::Alert a;
  auto& values = *a.mutable_evidence()->mutable_values()->mutable_fields();
  for (double d : numbers) {
    values["n"].set_number_value(d);
    ASSERT_EQ(ToJson(a), Protobufs(a)) << d;
  }
  // A list of them, and other kinds of values.
  values.clear();
  auto* list = values["l"].mutable_list_value();
  for (double d : {1.5, -0.0, 1e21}) list->add_values()->set_number_value(d);
  list->add_values()->set_bool_value(false);
  list->add_values()->set_null_value(google::protobuf::NULL_VALUE);
  list->add_values()->set_string_value("x");
  list->add_values()->mutable_struct_value();
  list->add_values()->mutable_list_value();
  EXPECT_EQ(ToJson(a), Protobufs(a));
}

TEST(AlertJsonTest, TimestampsPrintAsProtobufDoes) {
  v1::Alert a;
  for (int64_t seconds : {int64_t{-62135596800}, int64_t{-1}, int64_t{0}, int64_t{951782400},
                          int64_t{1'800'000'000}, int64_t{253402300799}}) {
    for (int32_t nanos : {0, 1, 1000, 1000000, 120000000, 123456789, 999999999}) {
      a.mutable_event_time()->set_seconds(seconds);
      a.mutable_event_time()->set_nanos(nanos);
      EXPECT_EQ(ToJson(a), Protobufs(a)) << seconds << "." << nanos;
    }
  }
}

TEST(AlertJsonTest, WhatItDoesNotWriteItLeavesToProtobuf) {
  v1::Alert a;
  a.set_alert_id("x");
  v1::Alert bad = a;
  bad.set_title(
      "ab\xff\xfe"
      "c");  // invalid UTF-8
  EXPECT_EQ(ToJson(bad), Protobufs(bad));
  bad = a;
  bad.set_severity(static_cast<v1::Severity>(42));  // no name
  EXPECT_EQ(ToJson(bad), Protobufs(bad));
  bad = a;
  bad.mutable_detected_at()->set_seconds(253402300800);  // year 10000
  EXPECT_EQ(ToJson(bad), Protobufs(bad));
  bad = a;
  (*bad.mutable_evidence()->mutable_values()->mutable_fields())["k"];  // a Value with no kind
  EXPECT_EQ(ToJson(bad), Protobufs(bad));
}

TEST(AlertJsonTest, EvidenceKeysAreSorted) {
  v1::Alert a;
  auto& values = *a.mutable_evidence()->mutable_values()->mutable_fields();
  for (const char* k : {"used_tpp", "hub", "limit_tpp", "a", "z"}) values[k].set_bool_value(true);
  EXPECT_EQ(ToJson(a),
            "{\"evidence\":{\"values\":{\"a\":true,\"hub\":true,\"limit_tpp\":true,"
            "\"used_tpp\":true,\"z\":true}}}");
}

}  // namespace
}  // namespace exportwatch::testing
