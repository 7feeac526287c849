#!/usr/bin/env bash
# Configures and builds Pollen into a build directory (default: build/).
#   scripts/build.sh [BUILD_DIR] [extra cmake -D options...]
# Runs scripts/setup.sh first so a fresh Debian machine needs nothing else.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
shift || true

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
cmake --build "$build" --parallel "$(nproc)"
