// exportwatch replay: the detection engine over a JSON-lines file.
#include <fstream>
#include <iostream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/event_codec.h"
#include "connectors/file_io.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/watchlist_flag.h"
#include "processor/detection_engine.h"
#include "processor/json.h"
#include "processor/scoring.h"

namespace exportwatch::cli {

namespace {

// --compare-policy's value: a file if one exists, else a shipped profile.
absl::StatusOr<std::shared_ptr<const Policy>> LoadComparison(const std::string& what) {
  if (std::ifstream(what).good()) return Policy::FromFile(what);
  return Policy::FromProfile(what);
}

// One policy's run: its engine, its own state, its alerts.
struct Run {
  Run(std::shared_ptr<const Policy> p, WatchlistData watchlist)
      : policy(p),
        engine(p, std::move(watchlist)),
        store(NewMemoryStateStore()),
        state(store.get(), p->proto().dedup_retention_seconds()) {}
  std::shared_ptr<const Policy> policy;
  DetectionEngine engine;
  std::unique_ptr<StateStore> store;
  TaskState state;
};

}  // namespace

int RunReplay(int argc, char** argv) {
  std::string input, output, policy_file, profile = "current", dead_letters;
  std::vector<std::string> watchlists;
  std::string labels_path, compare, diff_path;
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
  flags.Repeated("watchlist", &watchlists, kWatchlistHelp);
  flags.String("dead-letters", &dead_letters,
               "rejected lines, JSON lines with line number and reason (default: stderr)");
  flags.String("labels", &labels_path,
               "ground truth (exportwatch gen --labels): print precision and recall per rule");
  flags.String("compare-policy", &compare,
               "backtest: also run under this policy (file, else profile name) and print what "
               "--policy/--profile adds and removes, per rule");
  flags.String("diff", &diff_path,
               "with --compare-policy: the added and removed alerts, JSON lines "
               "{\"change\": \"added\"|\"removed\", \"alert\": {...}}");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  if (input.empty() || output.empty()) {
    std::cerr << "exportwatch replay: --input and --output are required (see --help)\n";
    return 2;
  }
  auto policy = Policy::Load(policy_file, profile);
  if (!policy.ok()) {
    std::cerr << "exportwatch replay: " << policy.status().message() << "\n";
    return 2;
  }
  WatchlistData watchlist;
  if (!LoadWatchlistFlag(watchlists, **policy, "replay", &watchlist)) return 2;
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

  std::unique_ptr<Run> baseline;
  if (!compare.empty()) {
    auto other = LoadComparison(compare);
    if (!other.ok()) {
      std::cerr << "exportwatch replay: --compare-policy: " << other.status().message() << "\n";
      return 2;
    }
    baseline = std::make_unique<Run>(*other, watchlist);
  } else if (!diff_path.empty()) {
    std::cerr << "exportwatch replay: --diff needs --compare-policy\n";
    return 2;
  }
  std::unique_ptr<Scorer> scorer;
  if (!labels_path.empty()) {
    scorer = std::make_unique<Scorer>((*policy)->ref().name());
    auto labels = LineReader::Open(labels_path, limits.max_record_bytes);
    if (!labels.ok()) {
      std::cerr << "exportwatch replay: " << labels.status().message() << "\n";
      return 1;
    }
    std::string l;
    absl::Status ls;
    while ((*labels)->Next(&l, &ls)) {
      if (ls.ok() && l.empty()) continue;
      if (ls.ok()) ls = scorer->AddLabelLine(l);
      if (!ls.ok()) {
        std::cerr << "exportwatch replay: " << labels_path << ":" << (*labels)->line_number()
                  << ": " << ls.message() << "\n";
        return 1;
      }
    }
  }

  Run run(*policy, watchlist);
  // The alert log keeps the first alert of an id (alertd does the same): a
  // detection raised by several events (SCREENING_MATCH per tenant and day)
  // is written once.
  absl::flat_hash_set<std::string> written;
  std::vector<v1::Alert> all_current, all_draft;
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
    const absl::Time now = absl::Now();
    if (auto s = run.engine.ProcessInline(event, now, run.state, &alerts); !s.ok()) {
      std::cerr << "exportwatch replay: state error: " << s.message() << "\n";
      return 1;
    }
    if (baseline) {
      all_draft.insert(all_draft.end(), alerts.begin(), alerts.end());
      if (auto s = baseline->engine.ProcessInline(event, now, baseline->state, &all_current);
          !s.ok()) {
        std::cerr << "exportwatch replay: state error: " << s.message() << "\n";
        return 1;
      }
    }
    for (const auto& a : alerts) {
      if (!written.insert(a.alert_id()).second) continue;
      if (scorer) scorer->AddAlert(a);
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
  // Reports go to stdout, unless the alerts do.
  std::ostream& report = output == "-" ? std::cerr : std::cout;
  if (scorer)
    report << "\nprecision and recall against " << labels_path << ":\n" << scorer->Table();
  if (baseline) {
    PolicyDiff diff = ComparePolicies(all_current, all_draft);
    const auto& cur = baseline->policy->ref();
    const auto& draft = (*policy)->ref();
    report << "\n"
           << draft.name() << " " << draft.version() << " (draft) against " << cur.name() << " "
           << cur.version() << ": " << diff.added.size() << " alerts added, " << diff.removed.size()
           << " removed\n"
           << DiffTable(diff, cur.name(), draft.name());
    if (!diff_path.empty()) {
      auto d = LineWriter::Open(diff_path);
      if (!d.ok()) {
        std::cerr << "exportwatch replay: " << d.status().message() << "\n";
        return 1;
      }
      for (const auto& [change, list] :
           {std::pair{"added", &diff.added}, std::pair{"removed", &diff.removed}}) {
        for (const auto& a : *list) {
          if (auto s = (*d)->Write(
                  absl::StrCat("{\"change\": \"", change, "\", \"alert\": ", ToJson(a), "}"));
              !s.ok()) {
            std::cerr << "exportwatch replay: " << s.message() << "\n";
            return 1;
          }
        }
      }
      if (auto s = (*d)->Close(); !s.ok()) {
        std::cerr << "exportwatch replay: " << s.message() << "\n";
        return 1;
      }
    }
  }
  return 0;
}

}  // namespace exportwatch::cli
