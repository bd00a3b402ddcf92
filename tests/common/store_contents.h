// Every key and value of a StateStore, for tests that compare two stores.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "state/state_store.h"

namespace exportwatch::testing {

inline std::map<std::string, std::string> StoreContents(StateStore& store) {
  std::map<std::string, std::string> out;
  absl::Status s = store.Scan("", "", [&](absl::string_view k, absl::string_view v) {
    out.emplace(std::string(k), std::string(v));
    return true;
  });
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

}  // namespace exportwatch::testing
