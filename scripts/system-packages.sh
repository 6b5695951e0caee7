#!/usr/bin/env bash
# Installs the Debian / Raspberry Pi OS packages blinkd and its tests use, if any is missing.
#   scripts/system-packages.sh run    what the daemon needs (ffmpeg for file/rtsp/v4l2 sources)
#   scripts/system-packages.sh test   plus what the tests start for real (Mosquitto, Chromium, PostgreSQL)
set -euo pipefail
profile="${1:-run}"

need=()
have() { command -v "$1" >/dev/null 2>&1 || [ -x "$2" ]; }
have ffmpeg /usr/bin/ffmpeg || need+=(ffmpeg)
if [ "$profile" = test ]; then
  have mosquitto /usr/sbin/mosquitto || need+=(mosquitto)
  have chromium /usr/bin/chromium || need+=(chromium)
  have systemd-analyze /usr/bin/systemd-analyze || need+=(systemd)
  have python3 /usr/bin/python3 || need+=(python3)   # the sd_notify test's datagram listener
  have pg_ctlcluster /usr/bin/pg_ctlcluster || need+=(postgresql)   # the sync server tests (started when not running)
fi

if [ "${#need[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing system packages: ${need[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
