// `pollen keygen FILE`: a node key for SuperLinks run with
// --enable-supernode-auth.
#ifndef POLLEN_CLI_KEYGEN_H_
#define POLLEN_CLI_KEYGEN_H_

#include <ostream>
#include <string>

namespace pollen::cli {

// Writes a new P-384 private key to `path` (PEM, mode 0600) and its public
// key to `path`.pub in OpenSSH format, which `flwr supernode register`
// reads. Refuses to overwrite. Returns the process exit code.
int run_keygen(const std::string& path, std::ostream& out, std::ostream& err);

}  // namespace pollen::cli

#endif  // POLLEN_CLI_KEYGEN_H_
