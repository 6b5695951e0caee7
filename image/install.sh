#!/bin/sh
# BLINK Edge appliance installer: run as root from a built checkout (npm ci && npm run build).
#
#   sudo image/install.sh                 install to /opt/blink, create the blink user, enable + start blinkd
#   sudo image/install.sh --no-start      same, but only enable the units (image builds run this in a chroot)
#   sudo image/install.sh --uninstall     remove the app and the units; keep /etc/blink, /var/lib/blink and the user
#   sudo image/install.sh --uninstall --purge   also delete config, data (biometric templates!) and the user
#   image/install.sh --dest DIR           stage the files under DIR (no user, no systemctl, no npm): for packaging and tests
#
# Layout (the same one `blinkd update` maintains):
#   /opt/blink/releases/<version>/   one app tree per release (code, node_modules, models, docs)
#   /opt/blink/current -> releases/<version>   what the units run
#   /etc/blink/blinkd.yaml (kept if it exists), /etc/blink/update-keys/ (trusted update signing keys)
#   /var/lib/blink (0700, owned by blink): database, setup token, snapshots
#   /etc/systemd/system/blinkd.service, blink-update-recover.service
# Running it again with the same checkout changes nothing (and does not restart blinkd).
set -eu

# onnxruntime-node reads this (npm 11 warns that the .npmrc key will stop working): never fetch CUDA files.
export ONNXRUNTIME_NODE_INSTALL=skip

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEST=""
START=1
UNINSTALL=0
PURGE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) DEST="${2:?--dest needs a directory}"; shift 2 ;;
    --no-start) START=0; shift ;;
    --uninstall) UNINSTALL=1; shift ;;
    --purge) PURGE=1; shift ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

PREFIX="$DEST/opt/blink"
ETC="$DEST/etc/blink"
DATA="$DEST/var/lib/blink"
UNIT_DIR="$DEST/etc/systemd/system"
UNITS="blinkd.service blink-update-recover.service"
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
  say "removed $PREFIX and the units"
  if [ "$PURGE" -eq 1 ]; then
    rm -rf "$ETC" "$DATA"
    [ -z "$DEST" ] && id blink >/dev/null 2>&1 && userdel blink
    say "purged $ETC, $DATA (database with biometric templates) and the blink user"
  else
    say "kept $ETC and $DATA (and the blink user): --uninstall --purge deletes them"
  fi
  exit 0
fi

if [ -z "$DEST" ]; then
  bash "$SRC/scripts/check-node.sh"
  command -v ffmpeg >/dev/null 2>&1 || { changed "installing ffmpeg (file:, rtsp:// and v4l2: camera sources)"; apt-get install -y --no-install-recommends ffmpeg; }
fi

[ -f "$SRC/dist/daemon/src/main.js" ] || { echo "install.sh: $SRC is not built: run npm ci && npm run build first" >&2; exit 1; }
VERSION=$(sed -n 's/^  "version": "\([^"]*\)".*/\1/p' "$SRC/package.json" | head -n 1)
[ -n "$VERSION" ] || { echo "install.sh: no version in $SRC/package.json" >&2; exit 1; }
ITEMS="package.json package-lock.json .npmrc daemon/bin dist models docs systemd web-admin/dist"

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
for old in package.json package-lock.json daemon dist models docs systemd web-admin node_modules; do
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
runuser -u blink -- /usr/bin/node "$PREFIX/current/daemon/bin/blinkd.js" config check /etc/blink/blinkd.yaml >/dev/null

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
