#include "connectors/file_io.h"

#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace exportwatch {
namespace {

struct Line {
  std::string text;
  bool ok;
};

std::vector<Line> ReadAll(const std::string& content, size_t max) {
  testing::TempDir dir;
  std::string path = dir.File("in.jsonl");
  std::ofstream(path, std::ios::binary) << content;
  auto r = LineReader::Open(path, max);
  EXPECT_TRUE(r.ok());
  std::vector<Line> out;
  std::string line;
  absl::Status st;
  while ((*r)->Next(&line, &st)) out.push_back({line, st.ok()});
  return out;
}

TEST(LineReaderTest, SplitsLinesStripsCrAndKeepsALastLineWithoutNewline) {
  auto lines = ReadAll("a\r\n\nbc\nlast", 100);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].text, "a");
  EXPECT_EQ(lines[1].text, "");
  EXPECT_EQ(lines[2].text, "bc");
  EXPECT_EQ(lines[3].text, "last");
  EXPECT_TRUE(ReadAll("", 100).empty());
}

TEST(LineReaderTest, LongLineIsSkippedWholeAndReported) {
  std::string long_line(200000, 'x');  // spans several read buffers
  auto lines = ReadAll("ok\n" + long_line + "\nnext\n", 1000);
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_TRUE(lines[0].ok);
  EXPECT_FALSE(lines[1].ok);
  EXPECT_EQ(lines[1].text, "");
  EXPECT_EQ(lines[2].text, "next");
  EXPECT_TRUE(lines[2].ok);
}

TEST(LineReaderTest, LinesAcrossBufferBoundaries) {
  std::string content;
  std::vector<std::string> want;
  for (int i = 0; i < 20000; ++i) {
    want.push_back(std::string(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26)));
    content += want.back() + "\n";
  }
  auto lines = ReadAll(content, 96);
  ASSERT_EQ(lines.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(lines[i].text, want[i]) << i;
    ASSERT_TRUE(lines[i].ok);
  }
}

}  // namespace
}  // namespace exportwatch
