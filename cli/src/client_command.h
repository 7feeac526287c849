// `pollen --superlink ... --model m.pt --train-data d`: the node mode.
#ifndef POLLEN_CLI_CLIENT_COMMAND_H_
#define POLLEN_CLI_CLIENT_COMMAND_H_

#include "client_options.h"

namespace pollen::cli {

// Loads the model and data, restores the state directory, connects and
// serves until stopped. Returns the process exit code: 0 after a clean
// stop, 1 when something could not be set up or the node could not run
// (the reason is logged, naming the flag or file).
int run_client_command(const ClientOptions& options);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_CLIENT_COMMAND_H_
