#!/usr/bin/env bash
# Runs a build's tests with the system clock moved, to prove that no test
# depends on today's date (recorded fixtures, certificates, signed
# timestamps, message lifetimes):
#
#   scripts/faketime-tests.sh [BUILD_DIR] [OFFSET...]     (default: +2y -1y)
#
# By default +2y runs every selected label and -1y only `unit|grpc` (the
# tests with signed timestamps, certificates, recorded fixtures and TTLs;
# the torch-labelled ones exercise the same clock code through the same
# libraries and ran at +2y), to keep CI under its hour. Offsets given on the
# command line run every selected label.
#
# Uses libfaketime from Debian (`faketime`, installed by scripts/setup.sh): it
# is preloaded into ctest and, through the environment, into every program a
# test starts, so test programs, pollen, pollen-superlink-lite, openssl and
# python all see the moved date. Only the calendar moves: the monotonic clock
# is left alone (FAKETIME_DONT_FAKE_MONOTONIC=1), since moving it a year back
# would make it negative, which no real machine shows; durations and
# deadlines still run in real time. Statically linked programs would not see
# the moved clock; Pollen builds none.
#
# Prints ctest's summary per offset and what is left out, with the reason;
# exits non-zero when a test fails.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
shift || true
offsets=("$@")
declare -A offset_labels=()
if [[ ${#offsets[@]} -eq 0 ]]; then
  offsets=(+2y -1y)
  offset_labels[-1y]='unit|grpc'
fi
jobs=$(nproc)

if ! command -v faketime >/dev/null 2>&1; then
  echo "faketime-tests.sh: faketime is not installed (Debian package faketime; scripts/setup.sh installs it)" >&2
  exit 1
fi
cd "$build" || { echo "faketime-tests.sh: no build directory $build" >&2; exit 1; }

# What runs: the labels below. Left out: labels that configure and build
# separate CMake projects or packages, whose up-to-date checks compare file
# times written by the real clock with the moved one (a year back, every file
# looks as if it came from the future); that is a property of make tools, not
# of Pollen, and those tests check packaging, not time.
labels='unit|grpc|torch'
exclude_labels='install|package|slow|interop'
excluded=(
  '^jetson_(toolchain|grpc_package|grpc_package_cross|build_script)$'
  "they configure and build separate CMake projects (up-to-date checks compare real file times with the moved clock)"
  '^e2e_tests\.FederationTest\.RoundsFinishThroughDelaysAndCutConnections$'
  "its gRPC connections through the test's fault proxy stop getting through once the clock is moved (it passes under faketime +0, and has no date in it): libfaketime's rewriting of timed waits stalls gRPC's reconnect timers; it runs with the real clock in stage 1"
  '^transport_tests\.ConnectFleetTest\.(UnreachableSuperLinkIsUnavailableOnceRetriesRunOut|ACallWaitingToRetryTriesAgainOnceTheSuperLinkIsBack)$|^e2e_tests\.(FederationTest\.NodeIsBackSoonAfterALongerSuperLinkOutage|ProcessTest\.BadFlagsAndUnreachableServerFailWithAMessage)$'
  "a retry waiting for an unreachable SuperLink waits on gRPC's channel state (so it tries again the moment the SuperLink is back), and gRPC's connection timers stall under libfaketime with the clock moved ahead, as for the test above (the deadline is on gRPC's monotonic clock; the tests pass with the clock moved back and run with the real clock in stage 1)"
)

list() { ctest -N "$@" | sed -n 's/^ *Test *#[0-9]*: /    /p'; }
report() {
  [[ -n $2 ]] && printf 'left out under faketime: %d tests, because %s:\n%s\n' "$(grep -c . <<<"$2")" "$1" "$2"
}
report "they are not labelled $labels (benchmarks print figures, not dates)" "$(list -LE "$labels|$exclude_labels")"
report "they are labelled install|package|slow: they build and install separate projects and packages (file times against the moved clock)" "$(list -L 'install|package|slow')"
report "they are labelled interop: the real Flower SuperLink is Python, whose time.sleep fails under libfaketime when the monotonic clock is left alone" "$(list -L interop)"
exclude_regex=""
for ((i = 0; i < ${#excluded[@]}; i += 2)); do
  report "${excluded[i + 1]}" "$(list -R "${excluded[i]}" -L "$labels" -LE "$exclude_labels")"
  exclude_regex+="${excluded[i]}|"
done
exclude_regex=${exclude_regex%|}

rc=0
for offset in "${offsets[@]}"; do
  printf '\n---- clock moved %s: %s ----\n' "$offset" \
    "$(FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$offset" date -u '+%Y-%m-%d %H:%M UTC')"
  these_labels=${offset_labels[$offset]:-$labels}
  [[ $these_labels == "$labels" ]] || echo "labels at $offset: $these_labels"
  FAKETIME_DONT_FAKE_MONOTONIC=1 faketime -f "$offset" \
    ctest --output-on-failure -j "$jobs" --timeout 900 \
      -L "$these_labels" -LE "$exclude_labels" -E "$exclude_regex" || {
    echo "FAILED: tests with the clock moved $offset"
    rc=1
  }
done
exit "$rc"
