#!/usr/bin/env bash
# Puts the UCI handwritten digits (1,797 8x8 images, the copy Debian ships in
# python3-sklearn) at DEST/digits.csv: 64 pixel columns (0..16) and a label
# column, no header. Takes the one file out of the package (apt-get download +
# dpkg -x) instead of installing scikit-learn. Idempotent.
#   scripts/fetch-digits.sh [DEST]   (default: .cache/digits in the checkout)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest=${1:-$root/.cache/digits}
out=$dest/digits.csv
member=usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz

check() {  # 1797 rows of 65 cells
  [[ -s $1 ]] && awk -F, 'NF != 65 { bad = 1 } END { exit (bad || NR != 1797) }' "$1"
}

if check "$out"; then
  echo "fetch-digits: $out present"
  exit 0
fi
mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [[ -f /$member ]]; then
  src=/$member  # scikit-learn is installed already
else
  chmod 755 "$tmp"  # apt's sandbox user must be able to write the .deb here
  if ! (cd "$tmp" && apt-get download -q python3-sklearn >/dev/null 2>"$tmp/apt.log"); then
    cat "$tmp/apt.log" >&2
    echo "fetch-digits: could not download python3-sklearn (is a Debian mirror reachable?)" >&2
    exit 1
  fi
  dpkg -x "$tmp"/python3-sklearn_*.deb "$tmp/x"
  src=$tmp/x/$member
fi
zcat "$src" >"$tmp/digits.csv"
if ! check "$tmp/digits.csv"; then
  echo "fetch-digits: $src is not the expected 1797 x 65 table" >&2
  exit 1
fi
mv "$tmp/digits.csv" "$out"
echo "fetch-digits: wrote $out (1797 samples)"
