#!/usr/bin/env bash
# Installs the Debian bookworm packages Pollen needs to build and test.
# Idempotent: packages already present are left alone, and `apt-get update`
# runs only when something is missing and the package lists are stale.
set -euo pipefail

# Build + test dependencies. Later components add to this list.
PACKAGES=(
  build-essential cmake ninja-build pkg-config libcli11-dev
  libtorch-dev python3-torch
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libssl-dev openssl nlohmann-json3-dev libgtest-dev
  gnuplot-nox  # the demo's plot
  shellcheck   # tests/jetson lints jetson/*.sh
  faketime     # test.sh runs the suite with the clock moved (libfaketime)
)

if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  echo "setup.sh: run as root or install sudo" >&2
  exit 1
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

install_missing() {
  echo "setup.sh: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Refresh the package lists only when they are missing or older than a day.
  lists=/var/lib/apt/lists
  if [[ -z $(find "$lists" -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    "${SUDO[@]}" apt-get update -q
  fi
  if ! "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"; then
    # A stale list can name versions the mirror no longer has: refresh once, retry.
    "${SUDO[@]}" apt-get update -q
    "${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
}

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "setup.sh: all ${#PACKAGES[@]} packages present"
else
  install_missing
fi

# The demo's and the tests' data set: one file out of Debian's python3-sklearn.
"$(dirname "${BASH_SOURCE[0]}")/fetch-digits.sh"
