#!/usr/bin/env bash
# Installs Pollen as a systemd service:
#
#   sudo jetson/install.sh [--binary PATH] [--prefix DIR] [--no-enable]
#   jetson/install.sh --root DIR --binary PATH       (into DIR, for packaging and tests)
#
#   --binary PATH  the pollen program, a build directory (PATH/cli/pollen) or an
#                  installed prefix (PATH/bin/pollen). Default: the repository's
#                  build-jetson/ (what jetson/build-on-device.sh makes), else build/.
#   --prefix DIR   where the program goes: DIR/bin/pollen (default /usr/local).
#   --root DIR     install under DIR instead of / (also $DESTDIR): files only, no
#                  user, no ownership changes, no systemctl.
#   --no-enable    do not enable the service.
#
# What it does, each step only when needed (running it again changes nothing):
#   1. the system user and group "pollen" (home /var/lib/pollen, no login shell),
#      also in the group "video" for the GPU;
#   2. the program as PREFIX/bin/pollen;
#   3. jetson/pollen.service as /etc/systemd/system/pollen.service, its ExecStart
#      pointing at that program;
#   4. /etc/pollen/client.json from jetson/client.json.example when there is none
#      (an existing one is never touched; the example is refreshed next to it);
#   5. /var/lib/pollen, the state directory;
#   6. when systemd runs: systemctl daemon-reload and enable (not start: edit the
#      config first).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

usage() {
  sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 2
}
die() { echo "install.sh: $*" >&2; exit 1; }
say() { echo "install.sh: $*"; }

binary="" prefix=/usr/local root=${DESTDIR:-} enable=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --binary) [[ $# -ge 2 ]] || usage; binary=$2; shift 2 ;;
    --prefix) [[ $# -ge 2 ]] || usage; prefix=$2; shift 2 ;;
    --root) [[ $# -ge 2 ]] || usage; root=$2; shift 2 ;;
    --no-enable) enable=0; shift ;;
    -h|--help) usage ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

[[ $prefix == /* ]] || die "--prefix must be an absolute path (got '$prefix')"
prefix=${prefix%/}
if [[ -n $root ]]; then
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  [[ $root == / ]] && root=""
fi
system=0   # 1: installing into the running system
[[ -z $root ]] && system=1
if [[ $system -eq 1 && $(id -u) -ne 0 ]]; then
  die "installing into the system needs root: run it with sudo (or use --root DIR)"
fi

# --- the program to install
if [[ -z $binary ]]; then
  for candidate in "$repo/build-jetson" "$repo/build"; do
    if [[ -x $candidate/cli/pollen ]]; then binary=$candidate; break; fi
  done
  [[ -n $binary ]] || die "no built pollen in $repo/build-jetson or $repo/build; build it (jetson/build-on-device.sh) or pass --binary PATH"
fi
if [[ -d $binary ]]; then
  if [[ -x $binary/cli/pollen ]]; then
    binary=$binary/cli/pollen
  elif [[ -x $binary/bin/pollen ]]; then
    binary=$binary/bin/pollen
  else
    die "$binary holds neither cli/pollen (a build directory) nor bin/pollen (an installed prefix)"
  fi
fi
[[ -f $binary && -x $binary ]] || die "$binary is not an executable file"

changed_unit=0

# Copies SRC to DEST with MODE unless DEST already has the same content;
# written to a temporary file and renamed, so a running program is not disturbed.
put() {
  local src=$1 dest=$2 mode=$3
  mkdir -p "$(dirname "$dest")"
  if [[ -f $dest ]] && cmp -s "$src" "$dest"; then
    chmod "$mode" "$dest"
    say "unchanged $dest"
    return 1
  fi
  local tmp
  tmp=$(mktemp "$dest.XXXXXX")
  cp "$src" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  say "installed $dest"
  return 0
}

# --- 1. user and group
if [[ $system -eq 1 ]]; then
  if ! getent group pollen >/dev/null; then
    groupadd --system pollen
    say "created group pollen"
  fi
  if ! getent passwd pollen >/dev/null; then
    useradd --system --gid pollen --home-dir /var/lib/pollen --no-create-home \
            --shell /usr/sbin/nologin --comment "Pollen Flower SuperNode" pollen
    say "created user pollen"
  fi
  if getent group video >/dev/null && ! id -nG pollen | tr ' ' '\n' | grep -qx video; then
    usermod -a -G video pollen
    say "added user pollen to group video (GPU access)"
  fi
else
  say "--root $root: not creating the user pollen (the service runs as User=pollen)"
fi

# --- 2. the program
put "$binary" "$root$prefix/bin/pollen" 0755 || true

# --- 3. the unit, its ExecStart pointing at the installed program
unit_tmp=$(mktemp)
trap 'rm -f "$unit_tmp"' EXIT
sed "s#^ExecStart=/usr/local/bin/pollen #ExecStart=$prefix/bin/pollen #" \
    "$here/pollen.service" > "$unit_tmp"
grep -q "^ExecStart=$prefix/bin/pollen --config /etc/pollen/client.json\$" "$unit_tmp" ||
  die "could not set ExecStart in the unit (did jetson/pollen.service change?)"
if put "$unit_tmp" "$root/etc/systemd/system/pollen.service" 0644; then changed_unit=1; fi

# --- 4. the configuration
mkdir -p "$root/etc/pollen"
put "$here/client.json.example" "$root/etc/pollen/client.json.example" 0644 || true
if [[ -e $root/etc/pollen/client.json ]]; then
  say "kept $root/etc/pollen/client.json"
else
  put "$here/client.json.example" "$root/etc/pollen/client.json" 0640 || true
fi
if [[ $system -eq 1 ]]; then
  chown root:pollen /etc/pollen /etc/pollen/client.json
  chmod 0750 /etc/pollen
fi

# --- 5. the state directory (systemd's StateDirectory=pollen keeps it so)
mkdir -p "$root/var/lib/pollen"
chmod 0750 "$root/var/lib/pollen"
if [[ $system -eq 1 ]]; then
  chown pollen:pollen /var/lib/pollen
fi

# --- 6. systemd
if [[ $system -eq 1 && -d /run/systemd/system ]]; then
  if [[ $changed_unit -eq 1 ]]; then
    systemctl daemon-reload
    say "systemctl daemon-reload"
  fi
  if [[ $enable -eq 1 ]]; then
    if systemctl is-enabled --quiet pollen.service; then
      say "pollen.service already enabled"
    else
      systemctl enable pollen.service
    fi
  fi
  if systemctl cat systemd-time-wait-sync.service >/dev/null 2>&1 &&
     ! systemctl is-enabled --quiet systemd-time-wait-sync.service; then
    say "note: systemd-time-wait-sync.service is not enabled, so time-sync.target does not wait"
    say "      for the clock; enable it with: sudo systemctl enable systemd-time-wait-sync"
  fi
elif [[ $system -eq 1 ]]; then
  say "systemd is not running here: skipped systemctl daemon-reload and enable"
else
  say "--root $root: skipped systemctl"
fi

# --- checks and next steps
if [[ $system -eq 1 ]] && command -v ldd >/dev/null; then
  if missing=$(ldd "$prefix/bin/pollen" 2>/dev/null | grep "not found"); then
    say "warning: $prefix/bin/pollen cannot find some of its libraries:"
    echo "$missing" >&2
    say "(LibTorch's lib directory must be in its RUNPATH or in ldconfig's paths; see jetson/README.md)"
  fi
fi
say "done. Next: edit $root/etc/pollen/client.json (superlink, model, data), then"
say "  sudo systemctl start pollen && journalctl -u pollen -f"
