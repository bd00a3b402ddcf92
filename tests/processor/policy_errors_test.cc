// Every policy error names the field and the line: JSON syntax errors,
// unknown fields, wrong types (protobuf's parser says what, the locator
// says where), and semantic checks; text format has its own positions.
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/json.h"
#include "processor/policy/json_locator.h"
#include "processor/policy/policy.h"

namespace exportwatch {
namespace {

using ::testing::HasSubstr;

// A profile as a user would edit it: pretty-printed JSON.
std::string Pretty(const char* profile = "current") {
  std::string json = ToJson((*Policy::FromProfile(profile))->proto());
  // One key per line, so that a line number is meaningful.
  return absl::StrReplaceAll(json, {{",\"", ",\n\""}, {"{\"", "{\n\""}});
}

int LineOf(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  EXPECT_NE(at, std::string::npos) << needle;
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + at, '\n'));
}

std::string ErrorOf(const std::string& json) {
  auto p = Policy::FromJson(json, "policy.json");
  EXPECT_FALSE(p.ok());
  return p.ok() ? "" : std::string(p.status().message());
}

TEST(PolicyErrorsTest, ValidPolicyParses) { EXPECT_TRUE(Policy::FromJson(Pretty(), "p").ok()); }

TEST(PolicyErrorsTest, UnknownFieldNamesFieldAndLine) {
  std::string json = absl::StrReplaceAll(Pretty(), {{"\"min_score\"", "\"min_scor\""}});
  ASSERT_NE(json, Pretty());
  const std::string e = ErrorOf(json);
  EXPECT_THAT(e, HasSubstr("min_scor"));
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(LineOf(json, "\"min_scor\"")) + ":"));
}

TEST(PolicyErrorsTest, WrongTypeNamesFieldAndLine) {
  std::string json =
      absl::StrReplaceAll(Pretty(), {{"\"min_score\":0.88", "\"min_score\":\"high\""}});
  ASSERT_NE(json, Pretty());
  const std::string e = ErrorOf(json);
  EXPECT_THAT(e, HasSubstr("min_score"));
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(LineOf(json, "\"min_score\"")) + ":"));
}

TEST(PolicyErrorsTest, SyntaxErrorHasLineAndColumn) {
  std::string json =
      absl::StrReplaceAll(Pretty(), {{"\"min_score\":0.88", "\"min_score\":0.88,,"}});
  const std::string e = ErrorOf(json);
  const int line = LineOf(json, ",,");
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(line) + ":"));
  EXPECT_EQ(e.find('\n'), std::string::npos) << "one line, no snippet: " << e;
}

TEST(PolicyErrorsTest, SemanticErrorNamesFieldAndLine) {
  std::string json = absl::StrReplaceAll(Pretty(), {{"\"min_score\":0.88", "\"min_score\":7"}});
  const std::string e = ErrorOf(json);
  EXPECT_THAT(e, HasSubstr("screening.min_score"));
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(LineOf(json, "\"min_score\"")) + ":"));
}

// '|' separates a quota window key's parts (quota-usage topic): an id with
// one would let two quotas' windows share a key.
TEST(PolicyErrorsTest, QuotaIdWithTheKeySeparatorIsRefused) {
  // The current profile declares no quotas.
  ASSERT_TRUE(Policy::FromJson(Pretty("aidr-2025"), "p").ok());
  std::string json = absl::StrReplaceAll(
      Pretty("aidr-2025"), {{"\"id\":\"COUNTRY_QUOTA\"", "\"id\":\"COUNTRY|QUOTA\""}});
  ASSERT_NE(json, Pretty("aidr-2025"));
  const std::string e = ErrorOf(json);
  EXPECT_THAT(e, HasSubstr(".id: must not contain '|'"));
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(LineOf(json, "COUNTRY|QUOTA")) + ":"));
}

TEST(PolicyErrorsTest, LowerCamelCaseKeysAreLocatedToo) {
  std::string json = absl::StrReplaceAll(Pretty(), {{"\"min_score\":0.88", "\"minScore\":7"}});
  const std::string e = ErrorOf(json);
  EXPECT_THAT(e, HasSubstr("line " + std::to_string(LineOf(json, "\"minScore\"")) + ":"));
}

TEST(PolicyErrorsTest, TextFormatSyntaxErrorHasLine) {
  auto p = Policy::FromText("name: \"x\"\nversion: \"1\"\nscreening { min_scor: 1 }\n", "p.txtpb");
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("line 3:"));
}

TEST(JsonLocatorTest, PathsAndErrors) {
  const std::string json = "{\n \"a\": {\"b_c\": [1,\n  {\"d\": true}]},\n \"e\": null\n}";
  auto d = LocateJsonPath(json, "a.bC[1].d");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->line, 3);
  EXPECT_EQ(d->column, 4);
  auto e = LocateJsonPath(json, "e");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->line, 4);
  EXPECT_FALSE(LocateJsonPath(json, "a.x").has_value());
  EXPECT_FALSE(FindJsonSyntaxError(json).has_value());
  auto bad = FindJsonSyntaxError("{\n \"a\": [1 2]\n}");
  ASSERT_TRUE(bad.has_value());
  EXPECT_EQ(bad->line, 2);
  EXPECT_EQ(bad->column, 10);  // the "2"
  EXPECT_TRUE(FindJsonSyntaxError("{\"a\": tru}").has_value());
  EXPECT_TRUE(FindJsonSyntaxError("{\"a\": \"unterminated}").has_value());
  // Deeper than the scanner follows: no position, never a crash.
  EXPECT_TRUE(FindJsonSyntaxError(std::string(100000, '[')).has_value());
}

TEST(JsonLocatorTest, ErrorFieldPathForms) {
  EXPECT_EQ(ErrorFieldPath("(screening) min_scor: Cannot find field."), "screening.min_scor");
  EXPECT_EQ(ErrorFieldPath("(screening.min_score): invalid value"), "screening.min_score");
  EXPECT_EQ(ErrorFieldPath("quotas[0].levels[1]: must be increasing"), "quotas[0].levels[1]");
  EXPECT_EQ(ErrorFieldPath("Expected an object key or }."), "");
  EXPECT_EQ(ErrorFieldPath("() top: x"), "top");
}

}  // namespace
}  // namespace exportwatch
