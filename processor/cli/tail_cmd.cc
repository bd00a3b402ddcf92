// exportwatch tail: a terminal subscriber to the alert service.
#include <iostream>

#include "processor/alert_subscriber.h"
#include "processor/alertd/auth.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/signals.h"
#include "processor/json.h"
#include "processor/tail_format.h"
#include "state/alert_log.h"

namespace exportwatch::cli {

int RunTail(int argc, char** argv) {
  std::string target = "127.0.0.1:50051", min_severity, after;
  std::vector<std::string> rules, subjects;
  bool json = false, from_start = false;
  int64_t count = 0;
  ClientTlsFiles tls;
  std::string token_file;
  FlagSet flags("tail",
                "Subscribes to an alertd and prints alerts as they arrive, one per line.\n"
                "Reconnects by itself and resumes from the last cursor it printed.");
  flags.String("target", &target, "alertd host:port");
  flags.String("min-severity", &min_severity, "INFO | LOW | MEDIUM | HIGH | CRITICAL");
  flags.Repeated("rule", &rules, "only this rule id (repeatable)");
  flags.Repeated("subject", &subjects, "only this subject id (repeatable)");
  flags.String("after-cursor", &after, "first every stored alert after this cursor, then live");
  flags.Bool("from-start", &from_start, "first every stored alert, then live");
  flags.Bool("json", &json, "print each alert as its JSON (else one readable line)");
  flags.Int("count", &count, "exit after this many alerts (0: never)");
  flags.String("tls-ca", &tls.ca, "PEM roots to verify alertd's certificate: connect over TLS");
  flags.String("tls-cert", &tls.cert, "PEM client certificate (mutual TLS)");
  flags.String("tls-key", &tls.key, "PEM private key of --tls-cert");
  flags.String("auth-token-file", &token_file,
               "file whose first line is the bearer token to send (kept out of argv)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  AlertSubscriberOptions o;
  o.target = target;
  auto creds = MakeChannelCredentials(tls);
  if (!creds.ok()) {
    std::cerr << "exportwatch tail: " << creds.status().message() << "\n";
    return 2;
  }
  o.credentials = *creds;
  if (!token_file.empty()) {
    auto token = ReadTokenFile(token_file);
    if (!token.ok()) {
      std::cerr << "exportwatch tail: " << token.status().message() << "\n";
      return 2;
    }
    o.bearer_token = *token;
  }
  if (!min_severity.empty()) {
    v1::Severity sev;
    if (!v1::Severity_Parse(min_severity, &sev)) {
      std::cerr << "exportwatch tail: --min-severity: unknown severity '" << min_severity << "'\n";
      return 2;
    }
    o.request.set_min_severity(sev);
  }
  for (const auto& r : rules) o.request.add_rule_ids(r);
  for (const auto& s : subjects) o.request.add_subject_ids(s);
  o.request.set_after_cursor(from_start ? FormatCursor(0) : after);
  InstallStopSignals();
  int64_t printed = 0;
  absl::Status s = RunAlertSubscriber(
      o, StopFlag(),
      [&](const v1::Alert& a) {
        std::cout << (json ? ToJson(a) : FormatAlertLine(a)) << std::endl;
        if (count > 0 && ++printed >= count) RequestStop();
      },
      [&](const absl::Status& st) {
        std::cerr << "tail: stream ended (" << st << "); reconnecting\n";
      });
  if (!s.ok()) {
    std::cerr << "exportwatch tail: " << s.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace exportwatch::cli
