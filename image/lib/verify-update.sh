# Sourced by image/verify.sh (uses its step/fail/timed/want/mountin, SRC, WORK, IMAGE_DIR, PORT and
# qemu_retry from verify-arm64.sh): `verify.sh update`, an update applied and a deliberately broken
# update rolled back by the health gate, in the arm64 tree ($IMAGE_DIR/tree) under qemu-user.
#
# systemd cannot run as PID 1 in a qemu-user chroot, so for the duration of this check a STAND-IN
# for systemctl is installed at /usr/local/sbin/systemctl in the tree (first in the chroot's PATH).
# It is NOT systemd: it implements for blinkd.service only what the update's health gate calls
# (daemon/src/update/healthGate.ts): `reset-failed` (forgets a "failed"), `start --no-block`
# (runs blinkd as blink like the unit's ExecStart, with the simulated GPIO driver and no camera,
# restarting it on failure like Restart=on-failure RestartSec=2, at most 10 starts), `stop`
# (SIGTERM to node, SIGKILL after 15 s like TimeoutStopSec=15) and `show -p ActiveState -p
# SubState -p NRestarts` ("active" once blinkd's /health answers — with systemd it is READY=1 —,
# "activating" before, SubState "auto-restart" while it waits to restart a crashed release,
# NRestarts the restarts since the start, "failed" after it gave up, "inactive" when stopped). The unit's sandboxing and ExecStopPost
# (`blinkd relay off`) are not emulated.
# Everything this check adds to the tree (the stand-in, releases, keys, update state, the
# `current` switch) is removed or put back at the end, also when it fails.

if want update; then
  UTREE="$IMAGE_DIR/tree"
  [ -x "$UTREE/usr/bin/node" ] && [ -L "$UTREE/opt/blink/current" ] || fail "no arm64 tree in $UTREE: run sudo bash image/build.sh first"
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || fail "binfmt_misc has no qemu-aarch64 (apt-get install qemu-user-static binfmt-support)"
  U0=$(date +%s)
  UPORT=$((PORT + 3))
  UDEADLINE=${BLINK_VERIFY_UPDATE_DEADLINE:-150}
  OPT="$UTREE/opt/blink"
  V1=$(basename "$(readlink "$OPT/current")")
  V2="$V1-verify.2" V3="$V1-verify.3"
  UW=/var/tmp/blink-update-check # in the tree: the release trees and bundles (too big for the tmpfs)
  STANDIN="$UTREE/usr/local/sbin/systemctl"
  KEYFILE="$UTREE/etc/blink/update-keys/verify-update.pub"
  for p in "$OPT/update" "$OPT/previous" "$OPT/releases/$V2" "$OPT/releases/$V3" "$UTREE$UW" "$STANDIN" "$KEYFILE"; do
    [ ! -e "$p" ] && [ ! -L "$p" ] || fail "$p exists (left by an interrupted run?): the update check starts from the tree as build.sh made it"
  done
  NODE=/opt/blink/node/current/bin/node BLINKD=/opt/blink/current/daemon/bin/blinkd.js
  in_upd() { chroot "$UTREE" /usr/bin/env -i PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
  blinkd_upd() { in_upd "$NODE" "$BLINKD" "$@"; }
  logto() { # logto FILE cmd...: cmd's output into FILE (so timed's own line stays on the terminal)
    local f=$1
    shift
    "$@" >"$f" 2>&1
  }

  update_cleanup() {
    [ -n "${U_CLEANUP:-}" ] || return 0
    U_CLEANUP=""
    [ -x "$STANDIN" ] && in_upd systemctl stop blinkd.service >/dev/null 2>&1 || true
    rm -f "$STANDIN" "$KEYFILE"
    [ "$(readlink "$OPT/current")" = "releases/$V1" ] || { ln -sfn "releases/$V1" "$OPT/current.verify-tmp" && mv -T "$OPT/current.verify-tmp" "$OPT/current"; }
    rm -rf "${OPT:?}/update" "$OPT/previous" "$OPT/releases/$V2" "$OPT/releases/$V3" "$OPT/releases/.old-"* "${UTREE:?}$UW"
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
    mounted=()
  }
  U_CLEANUP=1
  trap 'update_cleanup; cleanup' EXIT

  mountin -t proc proc "$UTREE/proc"
  mountin --bind /dev "$UTREE/dev"
  mountin -t tmpfs -o size=256m tmpfs "$UTREE/tmp"
  BUID=$(stat -c %u:%g "$UTREE/var/lib/blink")
  mkdir -p "$UTREE/tmp/upd/data" "$UTREE/tmp/upd/run" "$UTREE$UW"
  chown "$BUID" "$UTREE/tmp/upd/data" && chmod 700 "$UTREE/tmp/upd/data"
  printf 'store:\n  dataDir: /tmp/upd/data\ndoor:\n  driver: simulated\n  simulatedStateFile: /tmp/upd/data/gpio.json\nadmin:\n  host: 127.0.0.1\n  port: %s\n' "$UPORT" >"$UTREE/tmp/upd/blinkd.yaml"
  chmod a+r "$UTREE/tmp/upd/blinkd.yaml"
  step "update: arm64 tree $UTREE, release $V1 -> $V2 (good) -> $V3 (broken); gate deadline $UDEADLINE s; /health on 127.0.0.1:$UPORT"

  # ---- the systemctl stand-in (see the top of this file) ----
  mkdir -p "$(dirname "$STANDIN")"
  cat >"$STANDIN" <<'EOF'
#!/bin/bash
# STAND-IN FOR systemd's systemctl, installed by `image/verify.sh update` for that check only and
# removed after it (systemd cannot be PID 1 in a qemu-user chroot). NOT systemd: it knows only
# blinkd.service and only what the update health gate calls: reset-failed, start --no-block, stop,
# show -p ActiveState -p SubState -p NRestarts. "active" = blinkd's /health answers (systemd: READY=1).
set -u
RUN=/tmp/upd/run CFG=/tmp/upd/blinkd.yaml
PORT=$(sed -n 's/^  port: //p' "$CFG")
W=$RUN/blinkd.pid
usage() { echo "systemctl stand-in (verify.sh update): unsupported: $*" >&2; exit 1; }
alive() { [ -f "$W" ] && kill -0 "$(cat "$W")" 2>/dev/null; }
node_pid() { local r; r=$(pgrep -P "$(cat "$W" 2>/dev/null)" 2>/dev/null | head -n 1) && pgrep -P "$r" | head -n 1; }
health() { # any HTTP answer on /health
  (
    exec 2>/dev/null 3<>"/dev/tcp/127.0.0.1/$PORT" || exit 1
    printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
    read -r -t 5 line <&3 || exit 1
    case $line in HTTP/1.*) exit 0 ;; *) exit 1 ;; esac
  )
}
case "$*" in
"start --no-block blinkd.service")
  alive && exit 0
  rm -f "$RUN/stopping" "$RUN/exit" "$RUN/waiting"
  echo 0 >"$RUN/restarts"
  # Like ExecStart= as User=blink, WorkingDirectory=/var/lib/blink (here the test's data dir),
  # Restart=on-failure RestartSec=2, StartLimitBurst=10, RestartPreventExitStatus=65 78.
  setsid bash -c '
    echo $$ >'"$W"'
    cd /tmp/upd/data
    for n in 1 2 3 4 5 6 7 8 9 10; do
      [ -e '"$RUN"'/stopping ] && exit 0
      echo "[systemctl stand-in] start $n: $(date -u +%T)"
      rc=0
      runuser -u blink -- env NODE_ENV=production BLINK_DOOR__DRIVER=simulated \
        /opt/blink/node/current/bin/node /opt/blink/current/daemon/bin/blinkd.js run --config '"$CFG"' || rc=$?
      echo "[systemctl stand-in] exited with $rc: $(date -u +%T)"
      [ -e '"$RUN"'/stopping ] && exit 0
      case $rc in 0 | 65 | 78) break ;; esac
      [ "$n" = 10 ] && break
      touch '"$RUN"'/waiting
      sleep 2
      rm -f '"$RUN"'/waiting
      echo "$n" >'"$RUN"'/restarts
    done
    echo "$rc" >'"$RUN"'/exit' </dev/null >>"$RUN/blinkd.log" 2>&1 &
  for _ in $(seq 50); do [ -s "$W" ] && exit 0; sleep 0.1; done
  exit 0
  ;;
"stop blinkd.service")
  alive || { rm -f "$W"; exit 0; }
  touch "$RUN/stopping"
  # runuser does not pass SIGTERM on to node: node (runuser's child) gets it directly.
  n=$(node_pid) && kill -TERM "$n" 2>/dev/null
  for _ in $(seq 150); do alive || break; sleep 0.1; done
  if alive; then
    n=$(node_pid) && kill -KILL "$n" 2>/dev/null
    kill -KILL "$(cat "$W")" 2>/dev/null
  fi
  rm -f "$W" "$RUN/exit"
  exit 0
  ;;
"reset-failed blinkd.service")
  # The updater's start runs this first, so a "failed" from before is not taken for the new start's.
  alive || rm -f "$RUN/exit"
  echo 0 >"$RUN/restarts"
  exit 0
  ;;
"show -p ActiveState -p SubState -p NRestarts blinkd.service")
  if alive; then
    if [ -e "$RUN/waiting" ]; then
      printf 'ActiveState=activating\nSubState=auto-restart\n'
    elif node_pid >/dev/null && health; then
      printf 'ActiveState=active\nSubState=running\n'
    else
      printf 'ActiveState=activating\nSubState=start\n'
    fi
  elif [ -s "$RUN/exit" ] && [ "$(cat "$RUN/exit")" != 0 ]; then
    printf 'ActiveState=failed\nSubState=failed\n'
  else
    printf 'ActiveState=inactive\nSubState=dead\n'
  fi
  echo "NRestarts=$(cat "$RUN/restarts" 2>/dev/null || echo 0)"
  exit 0
  ;;
*) usage "$*" ;;
esac
EOF
  chmod 755 "$STANDIN"
  step "update: systemctl stand-in installed at /usr/local/sbin/systemctl in the tree (NOT systemd; removed at the end)"

  active_state() { in_upd systemctl show -p ActiveState -p SubState -p NRestarts blinkd.service | sed -n 's/^ActiveState=//p'; }
  wait_state() { # wait_state STATE SECONDS: the stand-in reports STATE
    local want=$1 max=$2 s st
    s=$(date +%s)
    until st=$(active_state) && [ "$st" = "$want" ]; do
      [ $(($(date +%s) - s)) -lt "$max" ] || { tail -20 "$UTREE/tmp/upd/run/blinkd.log"; return 1; }
      sleep 2
    done
  }
  health_version() { curl -fsS --max-time 5 "http://127.0.0.1:$UPORT/health" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(j.version+" "+j.status+" relay "+(j.services&&j.services.door?j.services.door.relay:"?"))})'; }
  dbq() { # dbq SQL: one value from the test database, read on the host (x86 better-sqlite3 of this checkout)
    (cd "$SRC" && node -e 'const D=require("better-sqlite3");const d=new D(process.argv[1],{readonly:true});const r=d.prepare(process.argv[2]).pluck().get();console.log(r===undefined?"":String(r));d.close()' "$UTREE/tmp/upd/data/blink.db" "$1")
  }

  in_upd systemctl start --no-block blinkd.service
  timed "update: $V1 started by the stand-in, until active (/health answers)" wait_state active 300 || fail "$V1 did not become active"
  step "update: running $(health_version)"

  # ---- key, releases, bundles ----
  qemu_retry timed "update: blinkd update keygen (arm64)" logto "$WORK/update-keygen.log" blinkd_upd update keygen --out /tmp/upd/publisher || { cat "$WORK/update-keygen.log"; fail keygen; }
  grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-keygen.log" | sed 's/^/    /' || true
  cp "$UTREE/tmp/upd/publisher.pub" "$KEYFILE"
  chmod 644 "$KEYFILE"
  # Copied WITH their hard links (cp -a). node-gyp leaves hard links in the installed release
  # (build/Release/*.node = obj.target/*.node, 8 files). `blinkd update sign` of such a tree used to
  # stall (node-tar's async pack never settled, node exited 13) and to write hard-link entries that
  # `apply` refuses; daemon/src/update/bundle.ts now packs synchronously and stores every path as an
  # ordinary file. Signing the release as install.sh left it is what a publisher does, so the
  # copies keep the links and the count is printed (until 2026-12-02 this step used cp -RP).
  timed "update: release trees $V2 and $V3 copied from releases/$V1 (cp -a, hard links kept)" sh -c "cp -a '$OPT/releases/$V1' '$UTREE$UW/$V2' && cp -a '$OPT/releases/$V1' '$UTREE$UW/$V3'"
  step "update: releases/$V1 has $(find "$OPT/releases/$V1" -type f -links +1 | wc -l) hard-linked files (node-gyp), the copy $V2 $(find "$UTREE$UW/$V2" -type f -links +1 | wc -l)"
  rm -f "$UTREE$UW/$V2/.blink-release.json" "$UTREE$UW/$V3/.blink-release.json"
  setver() { node -e 'const f=process.argv[1],p=JSON.parse(require("fs").readFileSync(f,"utf8"));p.version=process.argv[2];require("fs").writeFileSync(f,JSON.stringify(p,null,2)+"\n")' "$1/package.json" "$2"; }
  setver "$UTREE$UW/$V2" "$V2"
  setver "$UTREE$UW/$V3" "$V3"
  echo "release $V2 made by image/verify.sh update" >"$UTREE$UW/$V2/VERIFY-UPDATE.txt"
  # The broken release: its start changes the database (as a migration would), then exits 1.
  cat >"$UTREE$UW/$V3/daemon/bin/blinkd.js" <<EOF
#!/usr/bin/env node
// DELIBERATELY BROKEN release made by image/verify.sh update: \`run\` writes to the database, then exits 1.
if (process.argv[2] === 'run') {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database('/tmp/upd/data/blink.db');
  db.exec('CREATE TABLE IF NOT EXISTS verify_broken_release (at TEXT); INSERT INTO verify_broken_release VALUES (datetime())');
  db.close();
  console.error('broken release $V3: exiting with 1 at start');
  process.exit(1);
}
const { main } = await import('../../dist/daemon/src/main.js');
process.exitCode = await main(process.argv.slice(2));
EOF
  for v in "$V2" "$V3"; do
    qemu_retry timed "update: blinkd update sign $v (arm64: hashing and tar of the whole release)" \
      logto "$WORK/update-sign-$v.log" blinkd_upd update sign --key /tmp/upd/publisher.key --out "$UW/$v.tar" "$UW/$v" || { cat "$WORK/update-sign-$v.log"; fail "sign $v"; }
    grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-sign-$v.log" | sed 's/^/    /' || true
  done
  step "update: bundles $(du -m "$UTREE$UW/$V2.tar" | cut -f1) MiB and $(du -m "$UTREE$UW/$V3.tar" | cut -f1) MiB"
  APPLY=(update apply --config /tmp/upd/blinkd.yaml --no-camera --deadline "$UDEADLINE")

  # ---- a tampered bundle is refused before anything changes ----
  cp "$UTREE$UW/$V2.tar" "$UTREE$UW/tampered.tar"
  off=$(grep -obaF "release $V2 made by image/verify.sh update" "$UTREE$UW/tampered.tar" | head -n 1 | cut -d: -f1)
  [ -n "$off" ] || fail "marker not found in the bundle"
  printf 'X' | dd of="$UTREE$UW/tampered.tar" bs=1 seek="$off" conv=notrunc status=none
  rc=0
  timed "update: apply of the tampered bundle (one byte flipped in tree/VERIFY-UPDATE.txt)" logto "$WORK/update-tampered.log" blinkd_upd "${APPLY[@]}" "$UW/tampered.tar" || rc=$?
  grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-tampered.log" | sed 's/^/    /' || true
  [ "$rc" -ne 0 ] && grep -q 'VERIFY-UPDATE.txt: sha256 does not match the signed manifest' "$WORK/update-tampered.log" || fail "the tampered bundle was not refused (exit $rc)"
  [ "$(readlink "$OPT/current")" = "releases/$V1" ] && [ "$(active_state)" = active ] ||
    fail "the refused bundle changed current or stopped blinkd"
  rm -f "$UTREE$UW/tampered.tar"
  step "update: tampered bundle refused (exit $rc), current still $V1, blinkd still active"

  # ---- a good update ----
  rc=0
  timed "update: apply $V2 (verify, install, stop, snapshot, switch, start, gate)" logto "$WORK/update-apply-good.log" blinkd_upd "${APPLY[@]}" "$UW/$V2.tar" || rc=$?
  grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-apply-good.log" | sed 's/^/    /' || true
  [ "$rc" -eq 0 ] || fail "apply $V2 exited $rc"
  grep -q "release $V2 passed the health gate" "$WORK/update-apply-good.log" || fail "apply $V2: no passed gate in the output"
  [ "$(readlink "$OPT/current")" = "releases/$V2" ] || fail "current -> $(readlink "$OPT/current"), expected releases/$V2"
  h=$(health_version) && [ "${h%% *}" = "$V2" ] || fail "/health after apply $V2: $h"
  step "update: current -> releases/$V2; /health: $h"
  SCHEMA=$(dbq 'PRAGMA user_version') OBJS=$(dbq 'SELECT count(*) FROM sqlite_master')
  step "update: database under $V2: user_version $SCHEMA, $OBJS schema objects"

  # ---- a broken update: the gate fails, the updater rolls back by itself ----
  rc=0
  timed "update: apply $V3 (broken: writes to the database, exits 1 at start; gate until $UDEADLINE s)" logto "$WORK/update-apply-broken.log" blinkd_upd "${APPLY[@]}" "$UW/$V3.tar" || rc=$?
  grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-apply-broken.log" | sed 's/^/    /' || true
  [ "$rc" -eq 1 ] || fail "apply $V3 exited $rc (expected 1: rolled back)"
  grep -q "health gate failed" "$WORK/update-apply-broken.log" && grep -q "rolled back to $V2" "$WORK/update-apply-broken.log" ||
    fail "apply $V3: no failed gate + rollback in the output"
  step "update: the broken release was started $(grep -c "broken release $V3: exiting" "$UTREE/tmp/upd/run/blinkd.log" || true) times by the stand-in (Restart=on-failure)"
  [ "$(readlink "$OPT/current")" = "releases/$V2" ] || fail "after the rollback current -> $(readlink "$OPT/current"), expected releases/$V2"
  timed "update: $V2 back after the rollback, until active" wait_state active 300 || fail "$V2 did not come back after the rollback"
  h=$(health_version) && [ "${h%% *}" = "$V2" ] || fail "/health after the rollback: $h"
  [ -z "$(dbq "SELECT name FROM sqlite_master WHERE name = 'verify_broken_release'")" ] || fail "the broken release's table is still in the database: not restored"
  [ "$(dbq 'PRAGMA user_version')" = "$SCHEMA" ] && [ "$(dbq 'SELECT count(*) FROM sqlite_master')" = "$OBJS" ] || fail "the database differs from before the broken update"
  step "update: rolled back: current -> releases/$V2, /health: $h; database restored (no verify_broken_release table, user_version $SCHEMA)"
  qemu_retry timed "update: blinkd update status (arm64)" logto "$WORK/update-status.txt" blinkd_upd update status --config /tmp/upd/blinkd.yaml || { cat "$WORK/update-status.txt"; fail "update status"; }
  grep -v -e cpuinfo -e 'cpuid_info' "$WORK/update-status.txt" | sed 's/^/    /' || true
  grep -q "^current      $V2\$" "$WORK/update-status.txt" && grep -q "apply $V1 -> $V2: ok" "$WORK/update-status.txt" &&
    grep -q "apply $V3 -> $V2: rolled_back: health gate failed" "$WORK/update-status.txt" || fail "update status does not show $V2 current, the update and the rollback"

  timed "update: cleanup (stop blinkd, remove the stand-in, releases, keys, update state; current -> releases/$V1)" update_cleanup
  trap cleanup EXIT
  [ "$(readlink "$OPT/current")" = "releases/$V1" ] && [ ! -e "$STANDIN" ] && [ ! -e "$OPT/update" ] || fail "the tree was not put back"
  step "update PASS ($(($(date +%s) - U0)) s)"
fi
