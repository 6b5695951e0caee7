#!/usr/bin/env bash
# Builds the flashable arm64 appliance image from Debian packages, on an x86-64 Debian host, without
# a Raspberry Pi (slow: tens of minutes; needs root, the Debian archive and the npm registry):
#
#   sudo bash image/build.sh      # from a built checkout (npm ci && npm run build)
#   -> out/blink-edge-arm64.img.xz and out/blink-edge-arm64.img.xz.sha256
#
# Steps (each prints its duration; the two slow ones are cached in $BLINK_IMAGE_DIR):
#   1. rootfs: mmdebstrap of Debian trixie arm64 (image/lib/packages.txt) under qemu-user
#      (binfmt_misc): systemd, Debian's linux-image-arm64 + initramfs, raspi-firmware (Pi firmware,
#      kernel, initrd and device trees on /boot/firmware), nodejs 20, ffmpeg, openssh-server.
#   2. modules: the production node_modules for linux/arm64, built on the host: npm ci --omit=dev
#      --os=linux --cpu=arm64, the native addons (better-sqlite3, epoll) cross-compiled with
#      aarch64-linux-gnu-g++ against the host's Node 20 headers (same ABI, NODE_MODULE_VERSION
#      115); onnxruntime-node and sharp come with arm64 binaries in their npm packages.
#   3. tree: a copy of the rootfs; install.sh --dest stages the release, the arm64 node_modules are
#      put in it, then install.sh --no-start runs in the arm64 chroot (qemu-user): same digest, so
#      no npm ci there; it creates the blink user and groups, /etc/blink, /var/lib/blink and
#      enables the units. Then the appliance settings (fstab, network, journald, boot files).
#   4. unique state removed: SSH host keys, /etc/machine-id ("uninitialized": first boot),
#      /var/lib/dbus/machine-id, random seeds, apt lists and logs; the first-boot unit
#      (image/firstboot.sh + blink-firstboot.service, installed by install.sh) makes them per unit.
#   5. image: MBR (the Pi firmware reads FAT on MBR) with
#        p1 BLINKBOOT  FAT32 256 MiB  /boot/firmware (firmware, kernel, initrd, DTBs, config.txt)
#        p2 BLINKROOT  ext4           /              (can be mounted read-only)
#        p3 BLINKDATA  ext4  64 MiB   /var/lib/blink (the only writable app state; last, so first
#                                                     boot can grow it to the card's size)
#      built with mkfs.vfat + mtools and mke2fs -d (no loop devices, no mounts), then xz.
# Reproducibility: every time stamp is SOURCE_DATE_EPOCH (the checkout's commit time by default),
# file-system UUIDs and the ext4 hash seed are derived from it, the FAT volume id is fixed.
set -euo pipefail

SRC=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BLINK_IMAGE_DIR:-/var/tmp/blink-image}
OUT=${BLINK_IMAGE_OUT:-$SRC/out}
SUITE=${BLINK_IMAGE_SUITE:-trixie}
MIRROR=${BLINK_IMAGE_MIRROR:-http://deb.debian.org/debian}
NAME=blink-edge-arm64
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$SRC" log -1 --format=%ct 2>/dev/null || date +%s)}
export ONNXRUNTIME_NODE_INSTALL=skip
PROG=build.sh
# shellcheck source=image/lib/progress.sh
. "$SRC/image/lib/progress.sh"

[ "$(id -u)" -eq 0 ] || fail "run as root (mmdebstrap, chroot, file ownership in the image)"
[ -f "$SRC/dist/daemon/src/main.js" ] && [ -f "$SRC/web-admin/dist/app.js" ] || fail "$SRC is not built: npm ci && npm run build"
need=(mmdebstrap qemu-aarch64-static aarch64-linux-gnu-g++ mke2fs mkfs.vfat mcopy sfdisk xz)
for c in "${need[@]}"; do
  command -v "$c" >/dev/null || fail "$c missing: apt-get install mmdebstrap qemu-user-static binfmt-support crossbuild-essential-arm64 e2fsprogs dosfstools mtools fdisk xz-utils"
done
[ -f /usr/include/node/node_api.h ] || fail "Node headers missing (/usr/include/node): apt-get install libnode-dev, or nodejs from NodeSource"
# binfmt_misc runs the arm64 maintainer scripts and the chroot commands through qemu-aarch64-static.
[ -e /proc/sys/fs/binfmt_misc/status ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64
mkdir -p "$WORK" "$OUT"

# ---- 1. rootfs ---------------------------------------------------------------------------------
BASE="$WORK/rootfs"
PKGS=$(grep -v '^#' "$SRC/image/lib/packages.txt" | grep . | LC_ALL=C sort | paste -sd, -)
if [ -f "$BASE/.blink-packages" ] && [ "$(cat "$BASE/.blink-packages")" = "$SUITE $PKGS" ]; then
  step "1. reusing the $SUITE arm64 rootfs in $BASE (delete it to rebuild)"
else
  clear_tree "$BASE"
  step "1. mmdebstrap $SUITE arm64 into $BASE (qemu-user; long)"
  timed "mmdebstrap" nice -n 10 mmdebstrap --mode=root --arch=arm64 --variant=apt \
    --components="main non-free-firmware" --include="$PKGS" \
    --setup-hook='mkdir -p "$1/boot/firmware"' \
    "$SUITE" "$BASE" "$MIRROR" >"$WORK/mmdebstrap.log" 2>&1 || { tail -30 "$WORK/mmdebstrap.log"; fail mmdebstrap; }
  echo "$SUITE $PKGS" >"$BASE/.blink-packages"
fi

# ---- 2. arm64 node_modules, cross-built on the host ------------------------------------------
MODS="$WORK/modules"
LOCKSUM=$(cat "$SRC/package.json" "$SRC/package-lock.json" "$SRC/.npmrc" | sha256sum | cut -d' ' -f1)
if [ -f "$MODS/.blink-lock" ] && [ "$(cat "$MODS/.blink-lock")" = "$LOCKSUM" ]; then
  step "2. reusing the arm64 node_modules in $MODS"
else
  clear_tree "$MODS"
  mkdir -p "$MODS"
  cp "$SRC/package.json" "$SRC/package-lock.json" "$SRC/.npmrc" "$MODS/"
  step "2. npm ci --omit=dev for linux/arm64, native addons cross-compiled (aarch64-linux-gnu-g++)"
  (cd "$MODS" && timed "npm ci (arm64, cross)" env npm_config_arch=arm64 npm_config_target_arch=arm64 \
    npm_config_nodedir=/usr CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar \
    LINK=aarch64-linux-gnu-g++ nice -n 10 npm ci --omit=dev --no-audit --no-fund --os=linux --cpu=arm64 \
    --foreground-scripts >"$WORK/npm-cross.log" 2>&1) || { tail -30 "$WORK/npm-cross.log"; fail "npm ci (arm64)"; }
  for f in better-sqlite3/build/Release/better_sqlite3.node epoll/build/Release/epoll.node; do
    file -b "$MODS/node_modules/$f" | grep -q 'ARM aarch64' || fail "$f is not an arm64 binary"
  done
  echo "$LOCKSUM" >"$MODS/.blink-lock"
fi

# ---- 3. the appliance tree -------------------------------------------------------------------
TREE="$WORK/tree"
step "3. copying the rootfs to $TREE"
clear_tree "$TREE"
timed "copy rootfs" cp -a "$BASE" "$TREE"
rm -f "$TREE/.blink-packages"
mounted=()
cleanup() { for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done; }
trap cleanup EXIT
mountin() { mount "$@" && mounted+=("${*: -1}"); }
in_tree() { chroot "$TREE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }

step "staging release (install.sh --dest) and the arm64 node_modules"
sh "$SRC/image/install.sh" --dest "$TREE" | sed 's/^/    /'
VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$SRC/package.json" | head -n 1)
REL="$TREE/opt/blink/releases/$VERSION"
cp -a "$MODS/node_modules" "$REL/node_modules"
# onnxruntime-node ships every platform's runtime: the image keeps linux/arm64 only.
for d in "$REL"/node_modules/onnxruntime-node/bin/napi-v*; do
  find "$d" -mindepth 1 -maxdepth 1 ! -name linux -exec rm -rf {} +
  find "$d/linux" -mindepth 1 -maxdepth 1 ! -name arm64 -exec rm -rf {} +
done
step "release $VERSION: $(du -sh "$REL" | cut -f1) ($(du -sh "$REL/node_modules" | cut -f1) node_modules)"

step "install.sh --no-start in the arm64 chroot (qemu-user)"
mkdir -p "$TREE/tmp/blink-src"
(cd "$SRC" && tar -cf - package.json package-lock.json .npmrc daemon/bin dist models docs systemd web-admin/dist image scripts) | tar -C "$TREE/tmp/blink-src" -xf -
mountin -t proc proc "$TREE/proc"
# No /sys: with sysfs mounted, node under qemu-user 7.2 segfaults at start (reproducible; node reads
# the cgroup limits there).
mountin --bind /dev "$TREE/dev"
# qemu-user 7.2 (Debian 12's) now and then kills node with SIGSEGV (exit 139) in a multi-threaded
# start-up; the same command passes when run again, and install.sh is safe to re-run.
for attempt in 1 2 3; do
  rc=0
  timed "install.sh in the arm64 chroot (attempt $attempt)" in_tree sh /tmp/blink-src/image/install.sh --no-start >"$WORK/install-arm64.log" 2>&1 || rc=$?
  [ "$rc" -eq 139 ] || break
  step "qemu-user segfault (exit 139): running install.sh again"
done
[ "$rc" -eq 0 ] || { sed 's/^/    /' "$WORK/install-arm64.log"; fail "install.sh in the arm64 chroot"; }
sed 's/^/    /' "$WORK/install-arm64.log"
grep -q 'npm ci' "$WORK/install-arm64.log" && fail "install.sh ran npm ci in the chroot (the staged digest did not match)"
rm -rf "$TREE/tmp/blink-src"

step "appliance settings: fstab, network, journald, boot files"
cat >"$TREE/etc/fstab" <<'EOF'
# BLINK Edge appliance (image/build.sh). The root can be mounted read-only (add "ro" to cmdline.txt
# and change rw to ro here): the app's only writable state is /var/lib/blink, logs go to journald.
LABEL=BLINKROOT  /               ext4  rw,noatime,errors=remount-ro  0 1
LABEL=BLINKBOOT  /boot/firmware  vfat  rw,noatime,umask=0077,nofail  0 2
LABEL=BLINKDATA  /var/lib/blink  ext4  rw,noatime,nosuid,nodev,nofail,x-systemd.growfs  0 2
EOF
echo blink-edge >"$TREE/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\tblink-edge\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$TREE/etc/hosts"
mkdir -p "$TREE/etc/systemd/network" "$TREE/etc/systemd/journald.conf.d"
cat >"$TREE/etc/systemd/network/20-wired.network" <<'EOF'
[Match]
Type=ether

[Network]
DHCP=yes
EOF
# Logs in RAM (journald), capped: the root stays unwritten; blinkd's own records are in its database.
cat >"$TREE/etc/systemd/journald.conf.d/50-blink.conf" <<'EOF'
[Journal]
Storage=volatile
RuntimeMaxUse=48M
EOF
in_tree systemctl enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service >/dev/null 2>&1 ||
  fail "enabling networkd, resolved, timesyncd"
ln -sf ../run/systemd/resolve/stub-resolv.conf "$TREE/etc/resolv.conf"
# No interactive first-boot wizard on an appliance's console: with machine-id "uninitialized",
# systemd-firstboot.service would wait on the serial console for a locale, a time zone and a root
# password (seen in the qemu boot). The locale is set here (no /etc/localtime: UTC); blink-firstboot does the rest.
ln -sf /dev/null "$TREE/etc/systemd/system/systemd-firstboot.service"
echo 'LANG=C.UTF-8' >"$TREE/etc/locale.conf"
# Serial consoles for the Pi (serial0) and for qemu -M virt (ttyAMA0); kernel updates keep these
# through /etc/default/raspi-firmware.
sed -i -e 's|^#\?ROOTPART=.*|ROOTPART=LABEL=BLINKROOT|' -e 's|^#\?CONSOLES=.*|CONSOLES="serial0,115200 tty1"|' "$TREE/etc/default/raspi-firmware"
echo 'console=serial0,115200 console=tty1 root=LABEL=BLINKROOT rootfstype=ext4 rw fsck.repair=yes net.ifnames=0 cma=64M rootwait' >"$TREE/boot/firmware/cmdline.txt"
cleanup
mounted=()

# ---- 4. unique state out ---------------------------------------------------------------------
step "4. removing per-unit state: SSH host keys, machine-id, seeds, logs, apt lists"
rm -f "$TREE"/etc/ssh/ssh_host_*
printf 'uninitialized\n' >"$TREE/etc/machine-id"
rm -f "$TREE/var/lib/dbus/machine-id" "$TREE/var/lib/systemd/random-seed" "$TREE/var/lib/systemd/credential.secret"
rm -rf "$TREE"/var/lib/apt/lists/* "$TREE"/var/cache/apt/*.bin "$TREE"/var/log/*.log "$TREE"/var/log/apt/* "$TREE"/tmp/* "$TREE"/root/.npm
[ -z "$(ls -A "$TREE/var/lib/blink")" ] || fail "/var/lib/blink in the image is not empty: $(ls -A "$TREE/var/lib/blink" | tr '\n' ' ')"

# ---- 5. the image ----------------------------------------------------------------------------
step "5. file systems and the image"
IMG="$WORK/$NAME.img"
find "$TREE" -xdev -newermt "@$SOURCE_DATE_EPOCH" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} + 2>/dev/null || true
uuid() { printf '%s' "$1-$SOURCE_DATE_EPOCH" | sha256sum | sed -E 's/^(.{8})(.{4}).(.{3}).(.{3})(.{12}).*/\1-\2-4\3-8\4-\5/'; }
export E2FSPROGS_FAKE_TIME=$SOURCE_DATE_EPOCH
MiB=$((1024 * 1024))
BOOT_MB=256
DATA_MB=64
ROOT_USED_MB=$(($(du -sm --apparent-size -x "$TREE" | cut -f1)))
ROOT_MB=$((ROOT_USED_MB * 13 / 10 + 200))
# The data file system: what the tree has under /var/lib/blink (owner and mode kept: 0700 blink).
DATA_DIR="$WORK/data-fs"
rm -rf "$DATA_DIR" && mkdir -p "$DATA_DIR"
cp -a "$TREE/var/lib/blink/." "$DATA_DIR/"
chown --reference="$TREE/var/lib/blink" "$DATA_DIR" && chmod --reference="$TREE/var/lib/blink" "$DATA_DIR"
# The boot file system's content, moved out of the root's mount point.
BOOT_DIR="$WORK/boot-fs"
rm -rf "$BOOT_DIR" && mkdir -p "$BOOT_DIR"
cp -a "$TREE/boot/firmware/." "$BOOT_DIR/"
find "$TREE/boot/firmware" -mindepth 1 -delete
rm -f "$IMG" "$WORK"/part-*.img
timed "mke2fs root (${ROOT_MB} MiB)" mke2fs -q -t ext4 -L BLINKROOT -U "$(uuid root)" -E "hash_seed=$(uuid seed),root_owner=0:0" \
  -d "$TREE" "$WORK/part-root.img" "${ROOT_MB}M"
timed "mke2fs data (${DATA_MB} MiB)" mke2fs -q -t ext4 -L BLINKDATA -U "$(uuid data)" -E "hash_seed=$(uuid seed),root_owner=$(stat -c %u:%g "$DATA_DIR")" \
  -d "$DATA_DIR" "$WORK/part-data.img" "${DATA_MB}M"
truncate -s "${BOOT_MB}M" "$WORK/part-boot.img"
mkfs.vfat -F 32 -n BLINKBOOT -i 0b11ed9e --invariant "$WORK/part-boot.img" >/dev/null
export MTOOLS_SKIP_CHECK=1
(cd "$BOOT_DIR" && mcopy -s -p -m -i "$WORK/part-boot.img" ./* ::/)
# p1 starts at 4 MiB; each partition is MiB-aligned.
P1=$((4 * MiB / 512))
P2=$((P1 + BOOT_MB * MiB / 512))
P3=$((P2 + ROOT_MB * MiB / 512))
END=$((P3 + DATA_MB * MiB / 512))
truncate -s $((END * 512)) "$IMG"
sfdisk -q "$IMG" <<EOF
label: dos
label-id: 0x$(printf '%s' "$SOURCE_DATE_EPOCH" | sha256sum | cut -c1-8)
start=$P1, size=$((P2 - P1)), type=c, bootable
start=$P2, size=$((P3 - P2)), type=83
start=$P3, type=83
EOF
dd if="$WORK/part-boot.img" of="$IMG" bs=1M seek=$((P1 * 512 / MiB)) conv=notrunc status=none
dd if="$WORK/part-root.img" of="$IMG" bs=1M seek=$((P2 * 512 / MiB)) conv=notrunc status=none
dd if="$WORK/part-data.img" of="$IMG" bs=1M seek=$((P3 * 512 / MiB)) conv=notrunc status=none
rm -f "$WORK"/part-*.img
step "image: $(($(stat -c %s "$IMG") / MiB)) MiB (boot ${BOOT_MB}, root ${ROOT_MB} with ${ROOT_USED_MB} used, data ${DATA_MB})"
# The kernel and initrd for a direct qemu -M virt boot (image/verify.sh).
cp "$BOOT_DIR"/vmlinuz-* "$WORK/vmlinuz" && cp "$BOOT_DIR"/initrd.img-* "$WORK/initrd.img"
timed "xz" nice -n 10 xz -${BLINK_IMAGE_XZ_LEVEL:-3} -T2 --block-size=$((64 * MiB)) -c "$IMG" >"$OUT/$NAME.img.xz.tmp"
mv "$OUT/$NAME.img.xz.tmp" "$OUT/$NAME.img.xz"
(cd "$OUT" && sha256sum "$NAME.img.xz" >"$NAME.img.xz.sha256")
step "DONE (total $(($(date +%s) - T0)) s): $OUT/$NAME.img.xz ($(($(stat -c %s "$OUT/$NAME.img.xz") / MiB)) MiB), sha256 $(cut -d' ' -f1 "$OUT/$NAME.img.xz.sha256")"
