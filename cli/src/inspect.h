// `pollen inspect MODEL.pt`: shows the ArrayRecord Pollen builds from a
// TorchScript model, entry by entry with Flower object ids, so it can be
// compared with the initial ArrayRecord a Flower ServerApp sends.
#ifndef POLLEN_CLI_INSPECT_H_
#define POLLEN_CLI_INSPECT_H_

#include <ostream>
#include <string>

namespace pollen::cli {

// Prints one line per state_dict entry (name, dtype, shape, .npy bytes,
// Array id), a total line and the ArrayRecord id to `out`. Returns the
// process exit code: 0, or 1 after printing the error to `err`.
int run_inspect(const std::string& model_path, std::ostream& out, std::ostream& err);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_INSPECT_H_
