#!/usr/bin/env bash
# Sets up and builds Pollen, then runs its protocol self-check: Flower's
# wire format reproduced bit for bit, and request signing.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$root/scripts/build.sh" "$root/build"
exec "$root/build/cli/pollen" selfcheck
