#!/usr/bin/env bash
# Runs every Pollen test from a fresh Debian bookworm machine:
#   1. setup + the full build (LibTorch on) + every ctest test;
#   2. a build without LibTorch (-DPOLLEN_WITH_TORCH=OFF) under AddressSanitizer
#      and UndefinedBehaviorSanitizer, running the unit and gRPC tests;
#   3. a cross build for aarch64 against a Debian arm64 sysroot, its tests run
#      under qemu-aarch64 (scripts/cross-build.sh; what cannot run there is
#      listed with the reason).
# Prints ctest's summary for each and exits non-zero when any test fails.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
failed=()

stage() { printf '\n==== %s ====\n' "$*"; }

stage "full build ($root/build)"
if "$root/scripts/build.sh" "$root/build"; then
  (cd "$root/build" && ctest --output-on-failure -j "$jobs") || failed+=("tests")
else
  failed+=("build")
fi

stage "no LibTorch, ASan+UBSan ($root/build-asan)"
if "$root/scripts/build.sh" "$root/build-asan" -DPOLLEN_WITH_TORCH=OFF -DPOLLEN_SANITIZE=ON; then
  (cd "$root/build-asan" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j "$jobs" -L "unit|grpc") || failed+=("sanitizer tests")
else
  failed+=("sanitizer build")
fi

stage "aarch64 cross build, tests under qemu ($root/build-aarch64)"
"$root/scripts/cross-build.sh" aarch64 || failed+=("aarch64 cross build or its tests")

echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tests passed"
