#include "keygen.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "pollen/core/signing.h"
#include "pollen/transport/fleet.h"

namespace pollen::cli {

namespace {

// Creates `path` with `mode` and writes `text`; fails if it exists.
Status write_new_file(const std::string& path, const std::string& text, mode_t mode) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return failed_precondition("cannot create '" + path + "': " + std::strerror(errno));
  }
  const ssize_t n = write(fd, text.data(), text.size());
  close(fd);
  if (n != static_cast<ssize_t>(text.size())) {
    return internal_error("cannot write '" + path + "'");
  }
  return Status::Ok();
}

Status keygen(const std::string& path, std::ostream& out) {
  POLLEN_ASSIGN_OR_RETURN(NodeKey key, NodeKey::generate());
  POLLEN_ASSIGN_OR_RETURN(std::string private_pem, key.private_key_pem());
  POLLEN_ASSIGN_OR_RETURN(std::string public_ssh, openssh_public_key(key));
  if (std::filesystem::exists(path + ".pub")) {
    return failed_precondition("'" + path + ".pub' already exists; not overwriting it");
  }
  POLLEN_RETURN_IF_ERROR(write_new_file(path, private_pem, 0600));
  POLLEN_RETURN_IF_ERROR(write_new_file(path + ".pub", public_ssh + "\n", 0644));
  out << "private key: " << path << " (keep it on this device)\n"
      << "public key:  " << path << ".pub\n\n"
      << "Register the node with the SuperLink (flwr 1.28; SUPERLINK is a connection of your\n"
      << "Flower configuration, its default when left out), then start Pollen with the private "
         "key:\n"
      << "  flwr supernode register " << path << ".pub [SUPERLINK]\n"
      << "  pollen ... --auth-supernode-private-key " << path << "\n";
  return Status::Ok();
}

}  // namespace

int run_keygen(const std::string& path, std::ostream& out, std::ostream& err) {
  Status status = keygen(path, out);
  if (!status.ok()) {
    err << "pollen keygen: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace pollen::cli
