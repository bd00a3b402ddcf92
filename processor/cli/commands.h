// The subcommands of `exportwatch`; each parses its own flags from argv[2..].
#pragma once

namespace exportwatch::cli {

int RunDev(int argc, char** argv);
int RunProcessor(int argc, char** argv);
int RunAlertd(int argc, char** argv);
int RunReplay(int argc, char** argv);
int RunGen(int argc, char** argv);
int RunTail(int argc, char** argv);
int RunMockBroker(int argc, char** argv);

}  // namespace exportwatch::cli
