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
