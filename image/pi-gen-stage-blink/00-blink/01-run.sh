#!/bin/bash -e
# pi-gen step: copy the built blinkd checkout into the image and run the appliance installer
# inside the chroot (no --dest: it creates the user and enables the unit; --no-start: a chroot
# has no running systemd). BLINK_SRC must point at a checkout where `npm ci && npm run build`
# already ran FOR arm64 (node_modules holds native addons: better-sqlite3, onnxruntime-node, sharp).
: "${BLINK_SRC:?set BLINK_SRC to the built blinkd checkout}"
install -d "${ROOTFS_DIR}/tmp/blink-src"
cp -a "${BLINK_SRC}/." "${ROOTFS_DIR}/tmp/blink-src/"
on_chroot <<'CHROOT'
set -e
export ONNXRUNTIME_NODE_INSTALL=skip
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  curl -fsSL https://deb.nodesource.com/setup_20.x | bash -
  apt-get install -y nodejs
fi
sh /tmp/blink-src/image/install.sh --no-start
rm -rf /tmp/blink-src
CHROOT
