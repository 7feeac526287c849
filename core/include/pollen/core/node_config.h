// flower-supernode's --node-config syntax, for any component that takes
// Flower-style key=value settings on its command line.
#ifndef POLLEN_CORE_NODE_CONFIG_H_
#define POLLEN_CORE_NODE_CONFIG_H_

#include <string>

#include "pollen/core/records.h"
#include "pollen/core/status.h"

namespace pollen {

// flower-supernode's --node-config value, in order of appearance.
using NodeConfig = ConfigRecord;

// Parses "partition-id=0 num-partitions=4 name='x'" as flower-supernode
// does: whitespace-separated key=value pairs whose values are TOML scalars:
// integers (int64_t), floats (double), true/false (bool) or strings quoted
// with '...' or "..." (which may contain spaces). Unlike Flower, which skips
// what its pattern does not match, every token must be a valid pair:
// INVALID_ARGUMENT naming the token for a missing '=', an empty key, an
// unquoted word, an unterminated quote or a repeated key.
Result<NodeConfig> parse_node_config(const std::string& text);

}  // namespace pollen

#endif  // POLLEN_CORE_NODE_CONFIG_H_
