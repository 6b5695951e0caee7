#!/bin/sh
# BLINK Edge appliance installer: run as root from a built checkout (npm ci && npm run build).
#
#   sudo image/install.sh                 install to /opt/blink, create the blink user, enable + start blinkd
#   sudo image/install.sh --no-start      same, but only enable the unit (image builds: pi-gen runs this in a chroot)
#   image/install.sh --dest DIR           stage the files under DIR (no user, no systemctl, no npm): for packaging and tests
#
# Layout: code /opt/blink, config /etc/blink/blinkd.yaml (kept if it exists), state /var/lib/blink
# (systemd StateDirectory), unit /etc/systemd/system/blinkd.service.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
DEST=""
START=1
while [ $# -gt 0 ]; do
  case "$1" in
    --dest) DEST="${2:?--dest needs a directory}"; shift 2 ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
done

PREFIX="$DEST/opt/blink"
ETC="$DEST/etc/blink"
UNIT_DIR="$DEST/etc/systemd/system"

say() { printf 'install.sh: %s\n' "$*"; }

if [ -z "$DEST" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "install.sh: run as root (sudo), or use --dest DIR to stage files" >&2; exit 1; }
  bash "$SRC/scripts/check-node.sh"
  command -v ffmpeg >/dev/null 2>&1 || { say "installing ffmpeg (file:, rtsp:// and v4l2: camera sources)"; apt-get install -y ffmpeg; }
fi

[ -f "$SRC/dist/daemon/src/main.js" ] || { echo "install.sh: $SRC is not built: run npm ci && npm run build first" >&2; exit 1; }

say "installing blinkd to $PREFIX"
mkdir -p "$PREFIX"
for item in package.json package-lock.json daemon/bin dist models docs systemd web-admin/dist; do
  [ -e "$SRC/$item" ] || continue
  mkdir -p "$PREFIX/$(dirname "$item")"
  rm -rf "${PREFIX:?}/$item"
  cp -R "$SRC/$item" "$PREFIX/$item"
done

if [ -z "$DEST" ]; then
  say "installing production dependencies (npm ci --omit=dev)"
  (cd "$PREFIX" && npm ci --omit=dev --no-audit --no-fund)
fi

mkdir -p "$ETC" "$UNIT_DIR"
if [ ! -f "$ETC/blinkd.yaml" ]; then
  say "writing $ETC/blinkd.yaml (defaults; edit, then: systemctl restart blinkd)"
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
cp "$SRC/systemd/blinkd.service" "$UNIT_DIR/blinkd.service"

if [ -n "$DEST" ]; then
  say "staged under $DEST (no user created, systemd not touched)"
  exit 0
fi

if ! id blink >/dev/null 2>&1; then
  say "creating the system user blink"
  useradd --system --user-group --home-dir /var/lib/blink --no-create-home --shell /usr/sbin/nologin blink
fi
for g in gpio video; do
  if getent group "$g" >/dev/null 2>&1; then usermod -a -G "$g" blink; else say "no group $g on this system (fine on a non-Pi)"; fi
done
chown -R root:blink "$ETC"
chmod 0750 "$ETC"

say "validating the configuration"
runuser -u blink -- /usr/bin/node "$PREFIX/daemon/bin/blinkd.js" config check /etc/blink/blinkd.yaml >/dev/null

systemctl daemon-reload
systemctl enable blinkd.service
if [ "$START" -eq 1 ]; then
  systemctl restart blinkd.service
  say "started: systemctl status blinkd; journalctl -u blinkd -f"
else
  say "enabled (starts at next boot)"
fi
