// The contract's example events (tests/fixtures/contract_*.json), decoded.
#pragma once

#include <string>

#include "connectors/event_codec.h"
#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace exportwatch::testing {

inline v1::Event ContractEvent(Stream stream) {
  const char* file = stream == Stream::kTrade        ? "contract_trade.json"
                     : stream == Stream::kCloudUsage ? "contract_cloud_usage.json"
                                                     : "contract_model_transfer.json";
  v1::Event e;
  absl::Status s =
      DecodeEvent(stream, ContentType::kJson, Fixture(file), DecodeLimits(), &e, nullptr);
  EXPECT_TRUE(s.ok()) << file << ": " << s;
  return e;
}

}  // namespace exportwatch::testing
