#include "connectors/event_codec.h"

#include <cmath>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace exportwatch {
namespace {

using testing::Fixture;

v1::Event MustDecode(Stream stream, const std::string& json) {
  v1::Event e;
  DecodeInfo info;
  absl::Status s = DecodeEvent(stream, ContentType::kJson, json, DecodeLimits(), &e, &info);
  EXPECT_TRUE(s.ok()) << s;
  return e;
}

absl::Status DecodeTrade(const std::string& json) {
  v1::Event e;
  return DecodeEvent(Stream::kTrade, ContentType::kJson, json, DecodeLimits(), &e, nullptr);
}

TEST(EventCodecTest, ContractTradeExampleParses) {
  v1::Event e = MustDecode(Stream::kTrade, Fixture("contract_trade.json"));
  const auto& t = e.trade();
  EXPECT_EQ(t.event_id(), "tr-000123");
  EXPECT_EQ(t.ultimate_consignee().kind(), v1::PartyKind::DATA_CENTER);
  EXPECT_EQ(t.route(1).role(), v1::RouteRole::TRANSIT);
  EXPECT_EQ(t.items(0).quantity(), 256);
  EXPECT_EQ(t.items(0).serials_size(), 2);
  EXPECT_EQ(t.authorization().type(), v1::AuthorizationType::LPP);
  EXPECT_EQ(t.payment().payer_country(), "HK");
  EXPECT_DOUBLE_EQ(t.site().declared_power_mw(), 4.0);
  EXPECT_EQ(t.event_time().seconds(), 1740910500);  // 2025-03-02T10:15:00Z
}

TEST(EventCodecTest, ContractCloudUsageExampleParses) {
  v1::Event e = MustDecode(Stream::kCloudUsage, Fixture("contract_cloud_usage.json"));
  const auto& c = e.cloud_usage();
  EXPECT_EQ(c.tenant().ultimate_parent_hq_country(), "CN");
  EXPECT_EQ(c.workload(), v1::Workload::TRAINING);
  EXPECT_TRUE(c.has_gpu_hours());
  EXPECT_DOUBLE_EQ(c.gpu_hours(), 1024.0);
  EXPECT_EQ(c.accelerator_count(), 1024);
}

TEST(EventCodecTest, ContractModelTransferExampleParses) {
  v1::Event e = MustDecode(Stream::kModelTransfer, Fixture("contract_model_transfer.json"));
  const auto& m = e.model_transfer();
  EXPECT_DOUBLE_EQ(m.training_ops(), 3.1e26);
  EXPECT_EQ(m.mechanism(), v1::TransferMechanism::DOWNLOAD);
  EXPECT_EQ(m.authorization().type(), v1::AuthorizationType::NONE);
}

TEST(EventCodecTest, ContractPartyExampleParsesInsideATrade) {
  std::string json = "{\"event_id\":\"p1\",\"event_time\":\"2025-01-01T00:00:00Z\",\"purchaser\":" +
                     Fixture("contract_party.json") + "}";
  v1::Event e = MustDecode(Stream::kTrade, json);
  EXPECT_EQ(e.trade().purchaser().ultimate_parent_name(), "Nimbus Holdings Ltd");
  EXPECT_EQ(e.trade().purchaser().phones(0), "+60 3 8888 1234");
}

TEST(EventCodecTest, LowerCamelCaseIsAccepted) {
  v1::Event e =
      MustDecode(Stream::kTrade,
                 R"({"eventId":"x","eventTime":"2025-01-01T00:00:00Z","destinationCountry":"MY"})");
  EXPECT_EQ(e.trade().destination_country(), "MY");
}

TEST(EventCodecTest, ProtobufBinaryRoundTrips) {
  v1::Event original = MustDecode(Stream::kTrade, Fixture("contract_trade.json"));
  std::string bytes = original.trade().SerializeAsString();
  v1::Event e;
  ASSERT_TRUE(
      DecodeEvent(Stream::kTrade, ContentType::kProtobuf, bytes, DecodeLimits(), &e, nullptr).ok());
  EXPECT_EQ(e.trade().SerializeAsString(), bytes);
}

// A processor decodes every record into one Event. The next record must see
// nothing of the previous one (sub-messages it lacks are absent, not empty
// leftovers), and a sub-message both have is reused, not freed and
// allocated again: events.proto declares them `optional` for that.
TEST(EventCodecTest, EverySubMessageOfAnEventIsKeptByClear) {
  for (const auto* d : {v1::TradeEvent::descriptor(), v1::CloudUsageEvent::descriptor(),
                        v1::ModelTransferEvent::descriptor()}) {
    for (int i = 0; i < d->field_count(); ++i) {
      const auto* f = d->field(i);
      if (f->is_repeated() || f->message_type() == nullptr) continue;
      // Without the keyword protobuf's Clear() deletes the sub-message.
      EXPECT_TRUE(f->has_optional_keyword()) << f->full_name() << " is not `optional`";
    }
  }
}

TEST(EventCodecTest, ReusedEventKeepsSubMessagesButNothingElse) {
  const v1::Event full = MustDecode(Stream::kTrade, Fixture("contract_trade.json"));
  ASSERT_TRUE(full.trade().has_exporter() && full.trade().has_payment() &&
              full.trade().has_site() && full.trade().has_authorization());
  v1::TradeEvent bare;
  bare.set_event_id("tr-bare");
  bare.mutable_event_time()->set_seconds(1740910560);
  bare.set_destination_country("NL");
  bare.mutable_exporter()->set_name("Other Exporter");
  auto decode = [](const v1::TradeEvent& t, v1::Event* into) {
    return DecodeEvent(Stream::kTrade, ContentType::kProtobuf, t.SerializeAsString(),
                       DecodeLimits(), into, nullptr);
  };

  v1::Event reused;
  ASSERT_TRUE(decode(full.trade(), &reused).ok());
  ASSERT_TRUE(decode(bare, &reused).ok());
  EXPECT_EQ(reused.trade().SerializeAsString(), bare.SerializeAsString());
  EXPECT_FALSE(reused.trade().has_payment());
  EXPECT_FALSE(reused.trade().has_site());
  EXPECT_FALSE(reused.trade().has_authorization());
  EXPECT_FALSE(reused.trade().has_end_user());
  EXPECT_EQ(reused.trade().exporter().country(), "");

  // And back: the full record again decodes exactly as into a fresh Event.
  ASSERT_TRUE(decode(full.trade(), &reused).ok());
  EXPECT_EQ(reused.trade().SerializeAsString(), full.trade().SerializeAsString());
}

// The short path reads the schema's doubles by generated accessors: every
// double reachable from Event, set to NaN in an otherwise valid small record,
// must be rejected, and the short path must know all of them (else every
// record takes the full walk).
TEST(EventCodecTest, EveryDoubleOfTheSchemaIsCheckedOnTheShortPath) {
  EXPECT_TRUE(internal::FastDoubleCheckCoversSchema())
      << "a double was added to the event schema: teach EventDoublesFinite "
         "(event_codec.cc) to read it";
  using FD = google::protobuf::FieldDescriptor;
  const std::pair<Stream, const char*> kStreams[] = {
      {Stream::kTrade, "contract_trade.json"},
      {Stream::kCloudUsage, "contract_cloud_usage.json"},
      {Stream::kModelTransfer, "contract_model_transfer.json"}};
  int checked = 0;
  for (const auto& [stream, fixture] : kStreams) {
    const v1::Event original = MustDecode(stream, Fixture(fixture));
    const google::protobuf::Message* member = nullptr;
    switch (stream) {
      case Stream::kTrade:
        member = &original.trade();
        break;
      case Stream::kCloudUsage:
        member = &original.cloud_usage();
        break;
      case Stream::kModelTransfer:
        member = &original.model_transfer();
        break;
    }
    // Each path to a double: the message fields leading to it, then it.
    std::vector<std::vector<const FD*>> paths;
    std::function<void(const google::protobuf::Descriptor*, std::vector<const FD*>)> walk =
        [&](const google::protobuf::Descriptor* d, std::vector<const FD*> prefix) {
          for (int i = 0; i < d->field_count(); ++i) {
            const FD* f = d->field(i);
            auto path = prefix;
            path.push_back(f);
            if (f->cpp_type() == FD::CPPTYPE_DOUBLE) paths.push_back(path);
            if (f->cpp_type() == FD::CPPTYPE_MESSAGE) walk(f->message_type(), path);
          }
        };
    walk(member->GetDescriptor(), {});
    for (const auto& path : paths) {
      std::unique_ptr<google::protobuf::Message> m(member->New());
      m->CopyFrom(*member);
      google::protobuf::Message* at = m.get();
      std::string name;
      for (size_t i = 0; i + 1 < path.size(); ++i) {
        const auto* refl = at->GetReflection();
        name += path[i]->name() + ".";
        if (path[i]->is_repeated()) {
          at = refl->FieldSize(*at, path[i]) > 0 ? refl->MutableRepeatedMessage(at, path[i], 0)
                                                 : refl->AddMessage(at, path[i]);
        } else {
          at = refl->MutableMessage(at, path[i]);
        }
      }
      const FD* leaf = path.back();
      name += leaf->name();
      if (leaf->is_repeated()) {
        at->GetReflection()->AddDouble(at, leaf, std::nan(""));
      } else {
        at->GetReflection()->SetDouble(at, leaf, std::nan(""));
      }
      SCOPED_TRACE(name);
      const std::string wire = m->SerializeAsString();
      ASSERT_LT(wire.size(), DecodeLimits().max_string_bytes) << "must take the short path";
      v1::Event e;
      absl::Status s =
          DecodeEvent(stream, ContentType::kProtobuf, wire, DecodeLimits(), &e, nullptr);
      EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
      EXPECT_NE(s.message().find("not a finite number"), std::string::npos) << s;
      ++checked;
    }
  }
  EXPECT_GE(checked, 7);
}

// Binary records small enough that only their doubles need checking take a
// shorter path (event_codec.cc CheckShapeOfWire): it must reject exactly
// what the full walk rejects, with the same field path.
TEST(EventCodecTest, ProtobufShapeChecksSmallAndLargeRecords) {
  const v1::Event original = MustDecode(Stream::kTrade, Fixture("contract_trade.json"));
  auto decode = [](const v1::TradeEvent& t) {
    v1::Event e;
    return DecodeEvent(Stream::kTrade, ContentType::kProtobuf, t.SerializeAsString(),
                       DecodeLimits(), &e, nullptr);
  };
  const double kBad[] = {std::nan(""), HUGE_VAL, -HUGE_VAL};
  for (double bad : kBad) {
    for (const bool large : {false, true}) {
      SCOPED_TRACE(absl::StrFormat("value %g, large record %d", bad, large));
      v1::TradeEvent t = original.trade();
      // Over 4 KiB but within every limit: the full walk.
      if (large) t.set_source(std::string(3000, 's'));
      if (large) t.mutable_purchaser()->set_name(std::string(3000, 'p'));
      ASSERT_TRUE(decode(t).ok()) << decode(t);
      v1::TradeEvent top = t;
      top.set_value_usd(bad);
      EXPECT_NE(decode(top).message().find("value_usd: not a finite number"), std::string::npos)
          << decode(top);
      v1::TradeEvent item = t;  // a double in a repeated message
      item.mutable_items(0)->set_tpp_per_unit(bad);
      EXPECT_NE(decode(item).message().find("items[0].tpp_per_unit: not a finite number"),
                std::string::npos)
          << decode(item);
      v1::TradeEvent site = t;  // in a singular message
      site.mutable_site()->set_declared_power_mw(bad);
      EXPECT_NE(decode(site).message().find("site.declared_power_mw: not a finite number"),
                std::string::npos)
          << decode(site);
    }
  }
  v1::TradeEvent too_long = original.trade();
  too_long.set_source(std::string(4097, 's'));
  EXPECT_NE(decode(too_long).message().find("longer than 4096"), std::string::npos);
}

TEST(EventCodecTest, UnknownFieldsAreIgnoredAndReported) {
  v1::Event e;
  DecodeInfo info;
  ASSERT_TRUE(DecodeEvent(Stream::kTrade, ContentType::kJson,
                          R"({"event_id":"x","event_time":"2025-01-01T00:00:00Z","extra":{"a":1}})",
                          DecodeLimits(), &e, &info)
                  .ok());
  EXPECT_TRUE(info.had_unknown_fields);
}

struct BadCase {
  const char* name;
  std::string json;
  const char* reason_contains;
};

class BadInputTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadInputTest, IsRejectedWithAReason) {
  absl::Status s = DecodeTrade(GetParam().json);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(s.message()).find(GetParam().reason_contains), std::string::npos) << s;
}

const std::string kOk = R"("event_id":"x","event_time":"2025-01-01T00:00:00Z")";

INSTANTIATE_TEST_SUITE_P(
    Contract, BadInputTest,
    ::testing::Values(
        BadCase{"NotJson", "{not json", "invalid JSON"}, BadCase{"Empty", "", "empty"},
        BadCase{"MissingEventId", R"({"event_time":"2025-01-01T00:00:00Z"})", "event_id"},
        BadCase{"MissingTime", R"({"event_id":"x"})", "event_time"},
        BadCase{"BadTime", R"({"event_id":"x","event_time":"yesterday"})", "invalid JSON"},
        BadCase{"WrongType",
                "{" + kOk + R"(,"items":[{"chip_model":"H100-SXM","quantity":"many"}]})",
                "invalid JSON"},
        BadCase{"MisspeltEnum", "{" + kOk + R"(,"authorization":{"type":"lpp"}})", "invalid JSON"},
        BadCase{"MisspeltEnumAfterUnknownField",
                "{" + kOk + R"(,"authorization":{"type":"lpp"},"zzz":1})", "invalid JSON"},
        BadCase{"Year10000", R"({"event_id":"x","event_time":"10000-01-01T00:00:00Z"})",
                "invalid JSON"},
        BadCase{"NegativeQuantity",
                "{" + kOk + R"(,"items":[{"chip_model":"H100-SXM","quantity":-5}]})", "quantity"},
        BadCase{"ZeroQuantity", "{" + kOk + R"(,"items":[{"chip_model":"H100-SXM","quantity":0}]})",
                "quantity"},
        BadCase{"UnknownCountry", "{" + kOk + R"(,"destination_country":"XX"})", "unknown country"},
        BadCase{"LowerCaseCountry", "{" + kOk + R"(,"destination_country":"cn"})",
                "unknown country"},
        BadCase{"RouteCountry", "{" + kOk + R"(,"route":[{"country":"ZZ","role":"TRANSIT"}]})",
                "route[0].country"},
        BadCase{"NegativeValue", "{" + kOk + R"(,"value_usd":-1})", "value_usd"},
        BadCase{"NaN", "{" + kOk + R"(,"value_usd":"NaN"})", "finite"},
        BadCase{"LongString", "{" + kOk + R"(,"source":")" + std::string(5000, 'a') + "\"}",
                "longer than 4096"},
        BadCase{"LongEventId",
                R"({"event_id":")" + std::string(129, 'a') +
                    R"(","event_time":"2025-01-01T00:00:00Z"})",
                "128"},
        BadCase{"PartyWithoutIdOrName", "{" + kOk + R"(,"purchaser":{"country":"MY"}})",
                "entity_id or name"},
        BadCase{"BadIncorporatedOn",
                "{" + kOk + R"(,"purchaser":{"name":"a","incorporated_on":"2023-13-45"}})",
                "incorporated_on"},
        BadCase{"DeepNesting",
                "{" + kOk + R"(,"x":)" + std::string(100000, '[') + std::string(100000, ']') + "}",
                "nested deeper"},
        BadCase{"HugeRecord", "{" + kOk + R"(,"x":")" + std::string(10 << 20, 'a') + "\"}",
                "exceeds the limit"}),
    [](const ::testing::TestParamInfo<BadCase>& info) { return info.param.name; });

// The date check has a fast path; it must answer as absl::ParseCivilTime.
TEST(EventCodecTest, IncorporatedOnIsADayAsAbslReadsIt) {
  std::vector<std::string> dates;
  for (int y : {0, 1, 4, 100, 400, 1582, 1900, 1970, 1999, 2000, 2023, 2024, 2100, 2400, 9999}) {
    for (int m = 0; m <= 13; ++m) {
      for (int d = 0; d <= 32; ++d) dates.push_back(absl::StrFormat("%04d-%02d-%02d", y, m, d));
    }
  }
  for (const char* odd : {"+023-01-01", "-023-01-01", " 2023-1-01", "2023-1-1  ", "2023/01/01",
                          "20230-1-01", "2023-01-1 ", "0x23-01-01", "2023-01-01T", "2023-01-01"}) {
    dates.push_back(odd);
  }
  for (const std::string& date : dates) {
    absl::CivilDay day;
    const bool want = date.size() == 10 && absl::ParseCivilTime(date, &day);
    EXPECT_EQ(
        DecodeTrade("{" + kOk + R"(,"purchaser":{"name":"a","incorporated_on":")" + date + "\"}}")
            .ok(),
        want)
        << date;
  }
}

TEST(EventCodecTest, ProtobufTimesOutOfRangeAreRejected) {
  v1::TradeEvent t;
  t.set_event_id("x");
  t.mutable_event_time()->set_seconds(1);
  t.mutable_event_time()->set_nanos(2'000'000'000);
  v1::Event e;
  absl::Status s = DecodeEvent(Stream::kTrade, ContentType::kProtobuf, t.SerializeAsString(),
                               DecodeLimits(), &e, nullptr);
  EXPECT_NE(std::string(s.message()).find("nanos"), std::string::npos) << s;
  t.mutable_event_time()->set_nanos(0);
  t.mutable_event_time()->set_seconds(400'000'000'000);
  s = DecodeEvent(Stream::kTrade, ContentType::kProtobuf, t.SerializeAsString(), DecodeLimits(), &e,
                  nullptr);
  EXPECT_NE(std::string(s.message()).find("9999"), std::string::npos) << s;
}

TEST(EventCodecTest, UnsupportedContentTypeIsAnError) {
  EXPECT_FALSE(ParseContentType("text/xml").ok());
  EXPECT_EQ(*ParseContentType(""), ContentType::kJson);
  EXPECT_EQ(*ParseContentType("application/x-protobuf"), ContentType::kProtobuf);
}

TEST(EventCodecTest, ReplayLineMustWrapTheEvent) {
  v1::Event e;
  EXPECT_FALSE(DecodeReplayLine("{" + kOk + "}", DecodeLimits(), &e, nullptr).ok());
  EXPECT_TRUE(DecodeReplayLine(R"({"trade":{)" + kOk + "}}", DecodeLimits(), &e, nullptr).ok());
  EXPECT_TRUE(e.has_trade());
}

TEST(EventCodecTest, CountryCodes) {
  EXPECT_TRUE(IsIsoCountry("MO"));
  EXPECT_TRUE(IsIsoCountry("HK"));
  EXPECT_FALSE(IsIsoCountry("UK"));
  EXPECT_FALSE(IsIsoCountry("USA"));
  EXPECT_FALSE(IsIsoCountry(""));
}

}  // namespace
}  // namespace exportwatch
