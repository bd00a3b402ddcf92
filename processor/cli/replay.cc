// exportwatch replay: the detection engine over a JSON-lines file.
#include <iostream>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/event_codec.h"
#include "connectors/file_io.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/detection_engine.h"
#include "processor/json.h"

namespace exportwatch::cli {

int RunReplay(int argc, char** argv) {
  std::string input, output, policy_file, profile = "current", watchlist, dead_letters;
  FlagSet flags("replay",
                "Runs the detection engine over EVENTS.jsonl in file order and writes one alert "
                "per line.\nEach input line wraps one event by its stream: {\"trade\": {...}}, "
                "{\"cloud_usage\": {...}} or {\"model_transfer\": {...}}.\nA bad line goes to the "
                "dead letters (with its line number and reason) and the run goes on.\nExit status "
                "0 unless a file cannot be opened or the policy is invalid.");
  flags.String("input", &input, "events, JSON lines ('-' for stdin); required");
  flags.String("output", &output, "alerts, JSON lines ('-' for stdout); required");
  flags.String("policy", &policy_file, "policy file (JSON); wins over --profile");
  flags.String("profile", &profile, "shipped profile: current | aidr-2025");
  flags.String("watchlist", &watchlist,
               "screening list file (SCREENING_MATCH; not implemented yet: an error if given)");
  flags.String("dead-letters", &dead_letters,
               "rejected lines, JSON lines with line number and reason (default: stderr)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  if (input.empty() || output.empty()) {
    std::cerr << "exportwatch replay: --input and --output are required (see --help)\n";
    return 2;
  }
  if (!watchlist.empty()) {
    std::cerr << "exportwatch replay: --watchlist: screening is not implemented yet\n";
    return 2;
  }
  auto policy = Policy::Load(policy_file, profile);
  if (!policy.ok()) {
    std::cerr << "exportwatch replay: " << policy.status().message() << "\n";
    return 2;
  }
  DecodeLimits limits;
  auto reader = LineReader::Open(input, limits.max_record_bytes);
  if (!reader.ok()) {
    std::cerr << "exportwatch replay: " << reader.status().message() << "\n";
    return 1;
  }
  auto writer = LineWriter::Open(output);
  if (!writer.ok()) {
    std::cerr << "exportwatch replay: " << writer.status().message() << "\n";
    return 1;
  }
  std::unique_ptr<LineWriter> dead;
  if (!dead_letters.empty()) {
    auto d = LineWriter::Open(dead_letters);
    if (!d.ok()) {
      std::cerr << "exportwatch replay: " << d.status().message() << "\n";
      return 1;
    }
    dead = std::move(*d);
  }

  DetectionEngine engine(*policy);
  auto store = NewMemoryStateStore();
  TaskState state(store.get(), (*policy)->proto().dedup_retention_seconds());
  std::string line;
  absl::Status line_status;
  int64_t events = 0, rejected = 0, alerts_written = 0;
  v1::Event event;
  std::vector<v1::Alert> alerts;
  while ((*reader)->Next(&line, &line_status)) {
    if (line_status.ok() && line.find_first_not_of(" \t") == std::string::npos) continue;
    if (line_status.ok()) line_status = DecodeReplayLine(line, limits, &event, nullptr);
    if (!line_status.ok()) {
      ++rejected;
      std::string rec = absl::StrCat("{\"line\": ", (*reader)->line_number(), ", \"error\": \"",
                                     absl::CEscape(line_status.message()), "\"}");
      if (dead) {
        (void)dead->Write(rec);
      } else {
        std::cerr << "dead letter: " << rec << "\n";
      }
      continue;
    }
    ++events;
    alerts.clear();
    if (auto s = engine.ProcessInline(event, absl::Now(), state, &alerts); !s.ok()) {
      std::cerr << "exportwatch replay: state error: " << s.message() << "\n";
      return 1;
    }
    for (const auto& a : alerts) {
      if (auto s = (*writer)->Write(ToJson(a)); !s.ok()) {
        std::cerr << "exportwatch replay: " << s.message() << "\n";
        return 1;
      }
      ++alerts_written;
    }
  }
  if (auto s = (*writer)->Close(); !s.ok()) {
    std::cerr << "exportwatch replay: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "replay: " << events << " events, " << rejected << " rejected, " << alerts_written
            << " alerts (policy " << (*policy)->ref().name() << " " << (*policy)->ref().version()
            << ")\n";
  return 0;
}

}  // namespace exportwatch::cli
