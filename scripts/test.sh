#!/usr/bin/env bash
# Runs every Pollen test from a fresh Debian bookworm machine:
#   1. setup + the full build (LibTorch on) + every ctest test but interop;
#   2. the interop tests against the real Flower 1.28 SuperLink, provisioned
#      with ../shared/flower-1.28/setup.sh (scripts/interop.sh);
#   3. the same build's tests again with the system clock moved two years
#      ahead and (unit and grpc tests) one year back (libfaketime), so nothing
#      depends on today's date (scripts/faketime-tests.sh says what runs and
#      what is left out);
#   4. a build without LibTorch (-DPOLLEN_WITH_TORCH=OFF) under AddressSanitizer
#      and UndefinedBehaviorSanitizer, running the unit and gRPC tests;
#   5. a cross build for aarch64 against a Debian arm64 sysroot, its tests run
#      under qemu-aarch64 (scripts/cross-build.sh; what cannot run there is
#      listed with the reason).
# Every test has its own timeout (cmake/PollenTesting.cmake); each ctest call
# also passes --timeout as a backstop. Prints ctest's summary for each stage,
# then each stage's wall time, and exits non-zero when any test fails.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
jobs=$(nproc)
failed=()
timings=()
start=$SECONDS
stage_start=$SECONDS

stage() {
  printf '\n==== %s ====\n' "$*"
  stage_start=$SECONDS
}
stage_done() {
  local t=$((SECONDS - stage_start))
  timings+=("$(printf '%-44s %5d s (%dm%02ds)' "$1" "$t" $((t / 60)) $((t % 60)))")
}

stage "full build ($root/build)"
full_build=0
if "$root/scripts/build.sh" "$root/build"; then
  full_build=1
  (cd "$root/build" && ctest --output-on-failure -j "$jobs" --timeout 900 -LE interop) ||
    failed+=("tests")
else
  failed+=("build")
fi
stage_done "1. full build + all tests"

stage "interop: the full build against the real Flower 1.28 SuperLink"
flower_setup=${POLLEN_FLOWER_SETUP:-$root/../shared/flower-1.28/setup.sh}
if [[ $full_build -ne 1 ]]; then
  echo "not run: the full build failed"
elif [[ -n ${POLLEN_FLWR_DIR:-} ]]; then
  "$root/scripts/interop.sh" "$root/build" || failed+=("interop tests")
elif [[ -x $flower_setup ]]; then
  if "$flower_setup" "$root/.cache/flwr-1.28" >"$root/.cache/flwr-setup.log" 2>&1; then
    POLLEN_FLWR_DIR=$root/.cache/flwr-1.28 "$root/scripts/interop.sh" "$root/build" ||
      failed+=("interop tests")
  else
    tail -n 20 "$root/.cache/flwr-setup.log"
    failed+=("real Flower set-up ($flower_setup)")
  fi
else
  echo "skipped: no real Flower (set POLLEN_FLWR_DIR, or POLLEN_FLOWER_SETUP to Flower's setup.sh)"
fi
stage_done "2. interop with the real Flower SuperLink"

stage "the full build's tests with the clock moved (faketime)"
if [[ $full_build -eq 1 ]]; then
  "$root/scripts/faketime-tests.sh" "$root/build" || failed+=("tests under faketime")
else
  echo "not run: the full build failed"
fi
stage_done "3. tests under faketime +2y and -1y"

stage "no LibTorch, ASan+UBSan ($root/build-asan)"
if "$root/scripts/build.sh" "$root/build-asan" -DPOLLEN_WITH_TORCH=OFF -DPOLLEN_SANITIZE=ON; then
  (cd "$root/build-asan" &&
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --output-on-failure -j "$jobs" --timeout 900 -L "unit|grpc") || failed+=("sanitizer tests")
else
  failed+=("sanitizer build")
fi
stage_done "4. no LibTorch, ASan+UBSan build + tests"

stage "aarch64 cross build, tests under qemu ($root/build-aarch64)"
"$root/scripts/cross-build.sh" aarch64 || failed+=("aarch64 cross build or its tests")
stage_done "5. aarch64 cross build + tests under qemu"

echo
echo "stage wall times:"
printf '  %s\n' "${timings[@]}"
total=$((SECONDS - start))
printf '  %-44s %5d s (%dm%02ds)\n' "total" "$total" $((total / 60)) $((total % 60))
echo
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]}"
  exit 1
fi
echo "all tests passed"
