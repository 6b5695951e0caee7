#!/bin/sh
# BLINK Edge first boot: makes what is unique to one unit and must never be baked into an image,
# then grows the file system holding the data folder. Run once by blink-firstboot.service (before
# blinkd.service; the stamp /var/lib/blink/.firstboot-done keeps it from running again), as root.
#
#   image/firstboot.sh                    the real thing (as root, on the unit)
#   image/firstboot.sh --root DIR         against a staged root (tests): paths under DIR, no user switch, growing only said
#   image/firstboot.sh --no-grow          skip growing the partition and file system
#
# What it makes, each only when missing (a second run changes nothing):
#   /etc/machine-id          systemd-machine-id-setup (systemd has usually committed one already)
#   /etc/ssh/ssh_host_*      ssh-keygen -A, when OpenSSH is installed (fingerprints are printed)
#   unit id, admin setup token, admin TLS certificate (admin.tls.mode: self-signed), sync device key:
#                            `blinkd firstboot`, the daemon's own code, run as the blink user
# The setup token is printed (the unit sends this script's output to the console and the journal);
# private keys never are.
# Environment: BLINK_NODE (node binary), BLINK_APP (app tree), BLINK_CONFIG (config file).
set -eu

ROOT=/
GROW=1
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT="${2:?--root needs a directory}"; shift 2 ;;
    --no-grow) GROW=0; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "firstboot.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$ROOT" && pwd)
R=${ROOT%/}                                # "" for the real root, so "$R/etc" is /etc
NODE="${BLINK_NODE:-$R/opt/blink/node/current/bin/node}"
APP="${BLINK_APP:-$R/opt/blink/current}"
CONFIG="${BLINK_CONFIG:-$R/etc/blink/blinkd.yaml}"
DATA="$R/var/lib/blink"
STAMP="$DATA/.firstboot-done"

say() { printf 'blink-firstboot: %s\n' "$*"; }

if [ -z "$R" ] && [ "$(id -u)" -ne 0 ]; then echo "firstboot.sh: run as root (or --root DIR for a staged tree)" >&2; exit 1; fi

# ---- machine-id ------------------------------------------------------------------------------
mid=$(cat "$R/etc/machine-id" 2>/dev/null || true)
case "$mid" in
  ''|uninitialized)
    if command -v systemd-machine-id-setup >/dev/null 2>&1; then
      if [ -z "$R" ]; then systemd-machine-id-setup >/dev/null; else systemd-machine-id-setup --root "$ROOT" >/dev/null; fi
    else
      mkdir -p "$R/etc"
      od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$R/etc/machine-id"
      echo >> "$R/etc/machine-id"
      chmod 0444 "$R/etc/machine-id"
    fi
    say "machine-id generated"
    ;;
  *) say "machine-id present" ;;
esac

# ---- SSH host keys ---------------------------------------------------------------------------
if command -v ssh-keygen >/dev/null 2>&1 && [ -d "$R/etc/ssh" ]; then
  if [ -z "$R" ]; then ssh-keygen -A >/dev/null; else ssh-keygen -A -f "$ROOT" >/dev/null; fi
  for pub in "$R"/etc/ssh/ssh_host_*_key.pub; do
    [ -f "$pub" ] && say "ssh host key $(ssh-keygen -lf "$pub" | awk '{print $2, $NF}')"
  done
else
  say "no OpenSSH server here: no host keys"
fi

# ---- the unit's own secrets, by the daemon's code ----------------------------------------------
mkdir -p "$DATA"
if [ -z "$R" ]; then
  id blink >/dev/null 2>&1 || { echo "firstboot.sh: no user blink (run image/install.sh first)" >&2; exit 1; }
  chown blink:blink "$DATA"
  chmod 0700 "$DATA"
  facts=$(runuser -u blink -- "$NODE" "$APP/daemon/bin/blinkd.js" firstboot --config "$CONFIG")
else
  # A staged tree: the data folder is the one under DIR, whatever the config says.
  facts=$(BLINK_STORE__DATA_DIR="$DATA" "$NODE" "$APP/daemon/bin/blinkd.js" firstboot --config "$CONFIG")
fi
printf '%s\n' "$facts" | sed 's/^/blink-firstboot: /'

# ---- grow the partition and file system holding the data folder --------------------------------
# Only the last partition of a disk, only into free space right after it, only ext2/3/4 (resize2fs
# grows a mounted one online). Anything else (a file system that is not on a partition, one that
# fills its disk already, a partition followed by another) is left alone.
grow() {
  src=$(findmnt -n -o SOURCE --target "$DATA" 2>/dev/null || true)
  fstype=$(findmnt -n -o FSTYPE --target "$DATA" 2>/dev/null || true)
  case "$src" in /dev/*) ;; *) say "grow: $DATA is not on a block device (${src:-unknown}): nothing to grow"; return 0 ;; esac
  name=$(basename "$(readlink -f "$src")")
  sys="/sys/class/block/$name"
  if [ ! -f "$sys/partition" ]; then say "grow: $src is not a partition: nothing to grow"; return 0; fi
  part=$(cat "$sys/partition")
  disk=$(basename "$(readlink -f "$sys/..")")
  start=$(cat "$sys/start"); size=$(cat "$sys/size"); total=$(cat "/sys/class/block/$disk/size")
  end=$((start + size))
  for other in /sys/class/block/"$disk"/"$disk"*; do
    [ -f "$other/start" ] || continue
    if [ "$(cat "$other/start")" -ge "$end" ]; then say "grow: another partition follows $src: left alone"; return 0; fi
  done
  # Less than 16 MiB free after it (GPT keeps 33 sectors for its backup header): full size already.
  if [ $((total - end)) -lt 32768 ]; then
    say "grow: $src fills /dev/$disk already"
  elif [ -n "$R" ]; then
    say "grow: $src ends $(((total - end) / 2048)) MiB before the end of /dev/$disk: would grow partition $part (not with --root)"
    return 0
  else
    say "grow: $src ends $(((total - end) / 2048)) MiB before the end of /dev/$disk: growing partition $part"
    if command -v growpart >/dev/null 2>&1; then
      growpart "/dev/$disk" "$part" >/dev/null
    else
      echo ', +' | sfdisk --no-reread --no-tell-kernel -N "$part" "/dev/$disk" >/dev/null 2>&1
      # tell the kernel about the new size of the mounted partition
      partx -u --nr "$part" "/dev/$disk" || { say "grow: the kernel did not take the new size; after a reboot run: resize2fs $src"; return 0; }
    fi
  fi
  [ -z "$R" ] || return 0
  # The file system to its partition's size (online for a mounted ext4; nothing to do when it is already).
  case "$fstype" in
    ext2|ext3|ext4)
      if msg=$(resize2fs "$src" 2>&1); then
        case "$msg" in *"Nothing to do"*) say "grow: $fstype on $src fills its partition" ;; *) say "grow: $fstype on $src grown to its partition" ;; esac
      else
        why=$(printf '%s\n' "$msg" | grep -m 1 '^resize2fs: ' || printf '%s\n' "$msg" | tail -n 1)
        say "grow: resize2fs $src failed: $why"
      fi ;;
    *) say "grow: $fstype on $src: not resized (only ext2/3/4 are)" ;;
  esac
}
# With --root only the decision is made and said (the disk under a staged tree is the host's).
if [ "$GROW" -eq 1 ]; then grow; fi

date -u +%Y-%m-%dT%H:%M:%SZ > "$STAMP"
say "done (stamp $STAMP)"
