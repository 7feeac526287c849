// OpenSSH's private key format ("openssh-key-v1", what ssh-keygen writes) for
// ECDSA node keys, behind load_node_key() and openssh_public_key().
#ifndef POLLEN_TRANSPORT_OPENSSH_KEY_H_
#define POLLEN_TRANSPORT_OPENSSH_KEY_H_

#include <string>
#include <string_view>

#include "pollen/core/signing.h"
#include "pollen/core/status.h"

namespace pollen::fleet {

// Reads the text of an unencrypted "-----BEGIN OPENSSH PRIVATE KEY-----"
// file holding one ecdsa-sha2-nistp256/384/521 key. Every length is checked
// against the data; encrypted and non-ECDSA keys fail with INVALID_ARGUMENT
// saying what to do.
Result<NodeKey> parse_openssh_private_key(std::string_view text);

// Writes `key` in that format, unencrypted, as `ssh-keygen -t ecdsa -N ""`
// would (used to save a key for reuse, and by tests).
Result<std::string> format_openssh_private_key(const NodeKey& key, std::string_view comment);

}  // namespace pollen::fleet

#endif  // POLLEN_TRANSPORT_OPENSSH_KEY_H_
