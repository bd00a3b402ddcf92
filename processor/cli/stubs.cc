// Subcommands not wired yet (temporary; replaced as each lands).
#include <iostream>

#include "processor/cli/commands.h"

namespace exportwatch::cli {

int RunDev(int, char**) { std::cerr << "dev: not yet\n"; return 1; }
int RunAlertd(int, char**) { std::cerr << "alertd: not yet\n"; return 1; }
int RunGen(int, char**) { std::cerr << "gen: not yet\n"; return 1; }
int RunTail(int, char**) { std::cerr << "tail: not yet\n"; return 1; }

}  // namespace exportwatch::cli
