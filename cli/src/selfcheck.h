// `pollen selfcheck`: proves on this device that Pollen builds Flower's wire
// format bit for bit and signs requests a SuperLink accepts.
#ifndef POLLEN_CLI_SELFCHECK_H_
#define POLLEN_CLI_SELFCHECK_H_

#include <ostream>

namespace pollen::cli {

// Runs every check, printing one line each; returns the process exit code
// (0 when all pass).
int run_selfcheck(std::ostream& out);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_SELFCHECK_H_
