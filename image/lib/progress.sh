# Progress output shared by image/build.sh and image/verify.sh (sourced; the caller sets PROG).
# step MSG: "PROG [  12s] MSG", seconds since the script started; fail MSG: step + exit 1;
# timed LABEL cmd...: runs cmd, prints its duration, returns its status.
T0=$(date +%s)
step() { printf '%s [%4ss] %s\n' "$PROG" "$(($(date +%s) - T0))" "$*"; }
fail() {
  step "FAIL: $*"
  exit 1
}
timed() {
  local label=$1 s rc=0
  shift
  s=$(date +%s)
  "$@" || rc=$?
  step "$label took $(($(date +%s) - s)) s (exit $rc)"
  return "$rc"
}
# stop_runuser PID: stops a `runuser -u blink -- node …` started in the background by this shell.
# runuser does not pass SIGTERM on to node: its child is stopped first, by parent pid.
stop_runuser() {
  pkill -TERM -P "$1" 2>/dev/null || true
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# clear_tree DIR: removes a chroot tree left by an earlier run. A run that was killed (mmdebstrap,
# or this script before its EXIT trap) can leave the host's /proc, /sys, /dev/pts and /dev/shm
# bind-mounted inside it, and a plain `rm -rf` would then delete through them into the host's
# own /dev/shm (seen here: PostgreSQL lost its shared-memory segments). So everything mounted
# under DIR is unmounted first, deepest first, and rm never crosses into another file system.
clear_tree() {
  local dir m
  dir=$(realpath -m "$1")
  [ -e "$dir" ] || return 0
  while read -r m; do
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { print $2 }' /proc/self/mounts | sort -r)
  if awk -v d="$dir" '$2 == d || index($2, d "/") == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
    fail "$dir still has file systems mounted under it; not removing it"
  fi
  rm -rf --one-file-system "$dir"
}
