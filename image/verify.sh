#!/usr/bin/env bash
# Slow verification of the appliance installer (NOT part of .ci/run; minutes, needs root and the
# Debian and npm package archives). Prints progress with elapsed seconds as it goes.
#
#   sudo bash image/verify.sh          # from a built checkout (npm ci && npm run build)
#
# What it does, in a clean Debian amd64 root file system made by debootstrap (chroot, no systemd as PID 1):
#   1. installs Debian's nodejs (>= 20 in trixie) and npm, and a compiler for the native modules
#      that have no prebuilt binary reachable from the package registries;
#   2. runs image/install.sh --no-start (timed: this includes npm ci --omit=dev and the native builds);
#   3. runs it a second time: it must say "nothing to do" and leave every path's mode, owner, size
#      and mtime as they were;
#   4. checks the result: user blink in gpio and video, /var/lib/blink 0700 blink:blink, both units
#      enabled and accepted by systemd-analyze verify, the native modules loading as the blink user;
#   5. starts blinkd as the blink user with the simulated GPIO driver and no camera, and waits for
#      GET /health through the host's loopback;
#   6. uninstalls (data kept), then checks /var/lib/blink and /etc/blink are still there.
#
#   sudo bash image/verify.sh arm64 boot   # only some parts: amd64 (above), arm64, boot, update (default: all four)
#
# arm64 (needs `sudo bash image/build.sh` first: it checks the tree the image was made from, in
# $BLINK_IMAGE_DIR/tree, through qemu-user; a tmpfs on its /tmp keeps the test data out of it):
#   7. systemd-analyze verify of the units in the arm64 tree;
#   8. the native modules (better-sqlite3, onnxruntime-node, sharp, onoff/epoll) load as blink;
#   9. blinkd enroll (amy: 3 photos, biden: 1) and identify (a 4th photo of amy) on real photos from
#      $BLINK_TEST_DATA/faces, in the arm64 tree and on the host (x86-64): same person, and every
#      stored template's cosine between the two >= 0.999 with the fp32 embedder, >= 0.985 with the
#      default int8 one (each platform's own fp32 detector and mesh move the landmarks by ~1e-3 px,
#      so a chip byte can differ by 1, which int8 amplifies; image/README.md); and the same chips
#      (48 faces aligned on the host, image/lib/same-chip.mjs) embedded in the arm64 tree: int8
#      cosine to the host's >= 0.999 (the int8 file computes the same bytes on both);
#  10. blinkd run as blink in the arm64 tree with the simulated GPIO driver until /health answers.
# boot: 11. the image booted in qemu-system-aarch64 -M virt (Debian's arm64 kernel and initrd from the
#      image, direct -kernel boot; the Pi firmware and GPIO cannot be emulated) until blinkd's
#      /health answers through a port forwarded to 127.0.0.1.
# update (image/lib/verify-update.sh; the arm64 tree again, under qemu-user, with a systemctl STAND-IN
#      for blinkd.service because systemd cannot be PID 1 there; the tree is put back afterwards):
#  12. a tampered bundle (one byte flipped) refused; a signed update to a new release applied through
#      `blinkd update apply` and its health gate; a deliberately broken release (writes to the
#      database, exits 1 at start) rolled back by the gate: previous release, database restored.
# Not done here: a Raspberry Pi (firmware, GPIO, camera), updates inside the emulated system (booted).
set -euo pipefail
STEPS=" ${*:-amd64 arm64 boot update} "
want() { case "$STEPS" in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
IMAGE_DIR=${BLINK_IMAGE_DIR:-/var/tmp/blink-image}
DATA=${BLINK_TEST_DATA:-/work/shared/data}

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BLINK_VERIFY_DIR:-/var/tmp/blink-verify}
SUITE=${BLINK_VERIFY_SUITE:-trixie}
MIRROR=${BLINK_VERIFY_MIRROR:-http://deb.debian.org/debian}
PORT=${BLINK_VERIFY_PORT:-18480}
ROOT="$WORK/root-$SUITE"
PROG=verify.sh
# shellcheck source=image/lib/progress.sh
. "$SRC/image/lib/progress.sh"

[ "$(id -u)" -eq 0 ] || fail "run as root (debootstrap and chroot)"
[ -f "$SRC/dist/daemon/src/main.js" ] || fail "$SRC is not built: npm ci && npm run build"

mounted=()
cleanup() {
  [ -n "${DAEMON_PID:-}" ] && { pkill -TERM -P "$DAEMON_PID" 2>/dev/null; kill "$DAEMON_PID" 2>/dev/null; } || true
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
}
trap cleanup EXIT
mountin() { mount "$@" && mounted+=("${*: -1}"); }
# A host behind a TLS-inspecting proxy trusts extra CAs (/usr/local/share/ca-certificates): the root
# gets the same ones, and node (npm) is told to use the system store, or npm ci fails with
# SELF_SIGNED_CERT_IN_CHAIN.
EXTRA_CA=()
in_root() { chroot "$ROOT" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "${EXTRA_CA[@]}" "$@"; }

mkdir -p "$WORK"
if want amd64; then
command -v debootstrap >/dev/null || { step "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
if [ ! -x "$ROOT/usr/bin/apt-get" ] || [ ! -f "$ROOT/.debootstrap-done" ]; then
  clear_tree "$ROOT"
  step "debootstrap $SUITE amd64 (minbase) into $ROOT"
  timed "debootstrap" debootstrap --variant=minbase --arch=amd64 "$SUITE" "$ROOT" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 || {
    tail -20 "$WORK/debootstrap.log"
    fail debootstrap
  }
  touch "$ROOT/.debootstrap-done"
else
  step "reusing the root file system in $ROOT (delete it for a clean start)"
fi
mountin -t proc proc "$ROOT/proc"
mountin -t sysfs sys "$ROOT/sys"
mountin --bind /dev "$ROOT/dev"
mountin --bind /dev/pts "$ROOT/dev/pts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"

step "installing nodejs, npm, systemd and a compiler in the root (Debian packages)"
timed "apt-get install (nodejs npm systemd python3 make g++)" in_root sh -c \
  'apt-get update -qq && apt-get install -y -qq --no-install-recommends ca-certificates nodejs npm systemd python3 make g++ libnode-dev >/dev/null'
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
  in_root update-ca-certificates >/dev/null 2>&1
  EXTRA_CA=(NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt)
  step "the host's extra CA certificates are trusted in the root too (TLS-inspecting proxy)"
fi
step "node $(in_root node --version), npm $(in_root npm --version)"

step "copying the built checkout to /tmp/blink-src in the root"
rm -rf "$ROOT/tmp/blink-src"
mkdir -p "$ROOT/tmp/blink-src"
(cd "$SRC" && tar -cf - package.json package-lock.json .npmrc daemon/bin dist models docs systemd web-admin/dist image scripts) | tar -C "$ROOT/tmp/blink-src" -xf -

snapshot() { in_root sh -c 'find /opt/blink /etc/blink /var/lib/blink /etc/systemd/system -printf "%p %y %m %u:%g %s %T@\n" | LC_ALL=C sort; getent passwd blink; id blink'; }

step "first run: image/install.sh --no-start"
if ! timed "first install" in_root sh /tmp/blink-src/image/install.sh --no-start >"$WORK/install-1.log" 2>&1; then
  sed 's/^/    /' "$WORK/install-1.log"
  fail "the first install failed"
fi
sed 's/^/    /' "$WORK/install-1.log"
snapshot >"$WORK/after-1.txt"

step "second run: must change nothing"
if ! timed "second install" in_root sh /tmp/blink-src/image/install.sh --no-start >"$WORK/install-2.log" 2>&1; then
  sed 's/^/    /' "$WORK/install-2.log"
  fail "the second install failed"
fi
sed 's/^/    /' "$WORK/install-2.log"
grep -q 'nothing to do: the installation is up to date' "$WORK/install-2.log" || fail "the second run changed something"
snapshot >"$WORK/after-2.txt"
diff -u "$WORK/after-1.txt" "$WORK/after-2.txt" || fail "the second run changed files, modes, owners or times"
step "second run changed nothing ($(wc -l <"$WORK/after-2.txt") paths compared)"

step "checking user, permissions, units, native modules"
groups=$(in_root id -nG blink)
for g in gpio video; do echo " $groups " | grep -q " $g " || fail "blink is not in $g ($groups)"; done
[ "$(in_root stat -c '%a %U:%G' /var/lib/blink)" = "700 blink:blink" ] || fail "/var/lib/blink is $(in_root stat -c '%a %U:%G' /var/lib/blink)"
for u in blinkd.service blink-update-recover.service; do
  [ "$(in_root systemctl is-enabled "$u")" = enabled ] || fail "$u is not enabled"
done
in_root systemd-analyze verify /etc/systemd/system/blinkd.service /etc/systemd/system/blink-update-recover.service || fail "systemd-analyze verify"
step "systemd-analyze verify: clean; units enabled; blink in: $groups"
in_root sh -c 'cd /opt/blink/current && runuser -u blink -- node --input-type=module -e "
  const Database = (await import(\"better-sqlite3\")).default; new Database(\":memory:\").prepare(\"select 1\").get();
  const ort = await import(\"onnxruntime-node\"); const sharp = (await import(\"sharp\")).default;
  await sharp({ create: { width: 4, height: 4, channels: 3, background: \"#808080\" } }).png().toBuffer();
  console.log(\"native modules load: better-sqlite3, sharp \" + sharp.versions.vips + \", onnxruntime-node \" + Object.keys(ort).length + \" exports\");
"' || fail "native modules do not load"

step "starting blinkd as blink (simulated GPIO, no camera), waiting for /health on 127.0.0.1:$PORT"
in_root runuser -u blink -- env BLINK_ADMIN__PORT="$PORT" BLINK_ADMIN__HOST=127.0.0.1 BLINK_DOOR__DRIVER=simulated \
  node /opt/blink/current/daemon/bin/blinkd.js run --config /etc/blink/blinkd.yaml >"$WORK/blinkd.log" 2>&1 &
DAEMON_PID=$!
s=$(date +%s)
until body=$(curl -fsS "http://127.0.0.1:$PORT/health" 2>/dev/null || node -e "fetch('http://127.0.0.1:$PORT/health').then(r=>r.text()).then(t=>console.log(t)).catch(()=>process.exit(1))" 2>/dev/null); do
  kill -0 "$DAEMON_PID" 2>/dev/null || { tail -20 "$WORK/blinkd.log"; fail "blinkd exited"; }
  [ $(($(date +%s) - s)) -lt 120 ] || { tail -20 "$WORK/blinkd.log"; fail "no /health within 120 s"; }
  sleep 1
done
step "blinkd answered /health after $(($(date +%s) - s)) s: $(echo "$body" | head -c 160)"
stop_runuser "$DAEMON_PID"
DAEMON_PID=""

step "uninstall (data kept)"
in_root sh /tmp/blink-src/image/install.sh --uninstall | sed 's/^/    /'
[ -d "$ROOT/var/lib/blink" ] && [ -f "$ROOT/etc/blink/blinkd.yaml" ] || fail "uninstall removed data or config"
[ ! -e "$ROOT/opt/blink" ] || fail "uninstall left /opt/blink"
step "amd64 PASS ($(($(date +%s) - T0)) s); logs in $WORK"
for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
mounted=()
fi
mkdir -p "$WORK"
. "$SRC/image/lib/verify-arm64.sh"
. "$SRC/image/lib/verify-update.sh"
step "PASS: $STEPS(total $(($(date +%s) - T0)) s); logs in $WORK"
