#!/usr/bin/env bash
# Builds a Debian bookworm sysroot for cross-compiling Pollen, with the
# project's dependencies taken from Debian's own packages for that architecture.
#
#   scripts/make-sysroot.sh aarch64 [DIR]     (default DIR: .cache/sysroot-aarch64)
#
# Also installs what the host needs to use it (Debian packages, through apt):
# the cross compiler (g++-aarch64-linux-gnu), qemu-user (to run the tests) and
# mmdebstrap. The sysroot is made with `mmdebstrap --variant=extract`: package
# files only, no maintainer scripts, no chroot, no emulation. Cached: when DIR
# already holds a sysroot made from the same package list, nothing is done.
#
# Environment: POLLEN_DEBIAN_MIRROR (default http://deb.debian.org/debian) and
# POLLEN_DEBIAN_SECURITY (default http://deb.debian.org/debian-security).
set -euo pipefail

usage() { echo "usage: $0 aarch64 [DIR]" >&2; exit 2; }
[[ $# -ge 1 && $# -le 2 ]] || usage
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

case $1 in
  aarch64|arm64) arch=aarch64 deb_arch=arm64 triplet=aarch64-linux-gnu ;;
  *) echo "make-sysroot.sh: unsupported architecture '$1' (supported: aarch64)" >&2; exit 2 ;;
esac
dir=${2:-$root/.cache/sysroot-$arch}
suite=bookworm
mirror=${POLLEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
security=${POLLEN_DEBIAN_SECURITY:-http://deb.debian.org/debian-security}

# Target packages: what Pollen links against (see scripts/setup.sh), for the
# target architecture. protobuf-compiler-grpc is never run (the host's
# grpc_cpp_plugin generates the code) but gRPC's CMake targets check that the
# file exists.
TARGET_PACKAGES=(
  libc6-dev libstdc++-12-dev
  libtorch-dev
  libgrpc++-dev libprotobuf-dev protobuf-compiler-grpc
  libssl-dev zlib1g-dev nlohmann-json3-dev libcli11-dev libgtest-dev
)
# Host packages: the cross compiler, the emulator that runs the tests, the
# sysroot builder.
HOST_PACKAGES=("g++-$triplet" qemu-user mmdebstrap)

log() { echo "make-sysroot.sh: $*"; }

# --- host packages -----------------------------------------------------------
if [[ $(id -u) -eq 0 ]]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  SUDO=(false)
fi
missing=()
for p in "${HOST_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing host packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt=("${SUDO[@]}" apt-get -o DPkg::Lock::Timeout=600)
  if [[ -z $(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n1) ]]; then
    "${apt[@]}" update -q
  fi
  if ! "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"; then
    "${apt[@]}" update -q
    "${apt[@]}" install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# --- cache check -------------------------------------------------------------
# The stamp names everything the sysroot's contents depend on; bump the format
# number when the post-processing below changes.
stamp_text="pollen-sysroot 1
arch $deb_arch
suite $suite
mirror $mirror
security $security
packages ${TARGET_PACKAGES[*]}"
stamp=$dir/.pollen-sysroot-stamp
if [[ -f $stamp && $(cat "$stamp") == "$stamp_text" ]]; then
  log "$dir is up to date ($deb_arch; same ${#TARGET_PACKAGES[@]} requested packages)"
  exit 0
fi

# --- extract -----------------------------------------------------------------
start=$SECONDS
tmp=$dir.partial
rm -rf "$tmp"
mkdir -p "$(dirname "$dir")"
log "building a Debian $suite $deb_arch sysroot in $dir"
include=$(IFS=,; echo "${TARGET_PACKAGES[*]}")
# Root mode needs no user namespaces; as another user mmdebstrap picks unshare
# or fakechroot mode itself.
mode=auto
[[ $(id -u) -eq 0 ]] && mode=root
mmdebstrap --quiet --mode="$mode" --variant=extract --architectures="$deb_arch" \
  --include="$include" \
  "$suite" "$tmp" \
  "deb $mirror $suite main" \
  "deb $mirror $suite-updates main" \
  "deb $security $suite-security main"

# --- make it usable as a sysroot -----------------------------------------------
cd "$tmp"
# Debian packages carry absolute symlinks (usr/lib/<triplet>/libm.so ->
# /lib/<triplet>/libm.so.6, ...) that would resolve on the host: make them
# relative to the sysroot.
find . -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
  target=$(readlink "$link")
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" ".$target")" "$link"
done
# --variant=extract runs no maintainer scripts, so update-alternatives never
# made the BLAS/LAPACK links; libtorch_cpu.so needs libblas.so.3 and
# liblapack.so.3.
libdir=usr/lib/$triplet
for lib in blas/libblas.so.3 lapack/liblapack.so.3; do
  if [[ -e $libdir/$lib ]]; then
    ln -sfn "$lib" "$libdir/$(basename "$lib")"
  else
    echo "make-sysroot.sh: $libdir/$lib missing from the sysroot" >&2
    exit 1
  fi
done
# Nothing in the sysroot runs on its own; drop what only takes space.
rm -rf usr/share/doc usr/share/man usr/share/info usr/share/locale var/cache/apt/archives/*.deb
cd - >/dev/null

printf '%s\n' "$stamp_text" >"$tmp/.pollen-sysroot-stamp"
rm -rf "$dir"
mv "$tmp" "$dir"
log "done in $((SECONDS - start)) s: $(du -sh "$dir" | cut -f1) in $dir"
