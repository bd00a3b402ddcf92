// StateStore: the same semantics from RocksDB and the in-memory store.
#include "state/state_store.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "state/rocksdb_state_store.h"
#include "tests/common/test_util.h"

namespace exportwatch {
namespace {

class StateStoreTest : public ::testing::TestWithParam<bool> {
 protected:
  std::unique_ptr<StateStore> Open() {
    if (!GetParam()) return NewMemoryStateStore();
    RocksDbStateStoreOptions o;
    o.path = dir_.File("db");
    auto s = OpenRocksDbStateStore(o);
    EXPECT_TRUE(s.ok()) << s.status();
    return std::move(*s);
  }
  testing::TempDir dir_;
};

TEST_P(StateStoreTest, BatchWritesAllOpsAndScansInKeyOrder) {
  auto store = Open();
  WriteBatch b;
  b.Put("p/1/s/b", "2");
  b.Put("p/1/s/a", "1");
  b.Put("p/2/s/a", "x");
  b.Put("p/1/o/t", "10");
  ASSERT_TRUE(store->Write(b).ok());
  EXPECT_EQ(**store->Get("p/1/s/a"), "1");
  EXPECT_FALSE(store->Get("nope")->has_value());
  std::vector<std::string> keys;
  ASSERT_TRUE(store
                  ->Scan("p/1/s/", "",
                         [&](absl::string_view k, absl::string_view) {
                           keys.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(keys, (std::vector<std::string>{"p/1/s/a", "p/1/s/b"}));
  WriteBatch del;
  del.Delete("p/1/s/a");
  ASSERT_TRUE(store->Write(del).ok());
  EXPECT_FALSE(store->Get("p/1/s/a")->has_value());
}

TEST_P(StateStoreTest, ScanStopsWhenAsked) {
  auto store = Open();
  WriteBatch b;
  for (int i = 0; i < 10; ++i) b.Put("k/" + std::to_string(i), "v");
  ASSERT_TRUE(store->Write(b).ok());
  int seen = 0;
  ASSERT_TRUE(
      store->Scan("k/", "k/5", [&](absl::string_view, absl::string_view) { return ++seen < 2; })
          .ok());
  EXPECT_EQ(seen, 2);
}

// A view keeps the state it was taken at while the store takes writes (a
// snapshot written in steps reads one).
TEST_P(StateStoreTest, ASnapshotDoesNotSeeLaterWrites) {
  auto store = Open();
  WriteBatch b;
  b.Put("p/1/s/a", "1");
  b.Put("p/1/s/b", "2");
  ASSERT_TRUE(store->Write(b).ok());
  std::unique_ptr<StateSnapshot> view = store->NewSnapshot();
  WriteBatch later;
  later.Put("p/1/s/a", "changed");
  later.Delete("p/1/s/b");
  later.Put("p/1/s/c", "new");
  ASSERT_TRUE(store->Write(later).ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(view->Scan("p/1/", "",
                         [&](absl::string_view k, absl::string_view v) {
                           seen.push_back(absl::StrCat(k, "=", v));
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"p/1/s/a=1", "p/1/s/b=2"}));
  seen.clear();
  ASSERT_TRUE(view->Scan("p/1/", "p/1/s/b",
                         [&](absl::string_view k, absl::string_view) {
                           seen.emplace_back(k);
                           return true;
                         })
                  .ok());
  EXPECT_EQ(seen, std::vector<std::string>{"p/1/s/b"});
  EXPECT_EQ(**store->Get("p/1/s/a"), "changed");
}

INSTANTIATE_TEST_SUITE_P(Stores, StateStoreTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "RocksDb" : "Memory"; });

TEST(RocksDbStateStoreTest, SurvivesReopen) {
  testing::TempDir dir;
  RocksDbStateStoreOptions o;
  o.path = dir.File("db");
  {
    auto store = OpenRocksDbStateStore(o);
    ASSERT_TRUE(store.ok());
    WriteBatch b;
    b.Put("state", "s");
    b.Put("offset", "42");
    ASSERT_TRUE((*store)->Write(b).ok());
  }
  auto store = OpenRocksDbStateStore(o);
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(**(*store)->Get("offset"), "42");
  EXPECT_EQ(**(*store)->Get("state"), "s");
}

TEST(RocksDbStateStoreTest, BadPathIsAnError) {
  RocksDbStateStoreOptions o;
  EXPECT_EQ(OpenRocksDbStateStore(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.path = "/proc/definitely/not/writable";
  EXPECT_FALSE(OpenRocksDbStateStore(o).ok());
}

TEST(ExpiringValueTest, RoundTrips) {
  std::string v = EncodeExpiring(1'800'000'000, "payload");
  auto [expiry, payload] = DecodeExpiring(v);
  EXPECT_EQ(expiry, 1'800'000'000);
  EXPECT_EQ(payload, "payload");
  EXPECT_EQ(DecodeExpiring("short").first, 0);
}

}  // namespace
}  // namespace exportwatch
