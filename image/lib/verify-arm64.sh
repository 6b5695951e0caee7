# Sourced by image/verify.sh (uses its step/fail/timed/want, SRC, WORK, IMAGE_DIR, DATA, PORT):
# the arm64 tree under qemu-user, and the image booted under qemu-system-aarch64.

TREE="$IMAGE_DIR/tree"
# qemu-user 7.2 sometimes kills node with SIGSEGV (exit 139) while it starts its threads; such a
# run is repeated (at most 3 times) and counted in the output, any other failure is a failure.
qemu_retry() {
  local attempt rc
  for attempt in 1 2 3; do
    rc=0
    "$@" || rc=$?
    [ "$rc" -eq 139 ] || return "$rc"
    step "qemu-user segfault (exit 139), attempt $attempt: running it again"
  done
  return "$rc"
}

if want arm64; then
  [ -x "$TREE/usr/bin/node" ] && [ -L "$TREE/opt/blink/current" ] || fail "no arm64 tree in $TREE: run sudo bash image/build.sh first"
  [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || fail "binfmt_misc has no qemu-aarch64 (apt-get install qemu-user-static binfmt-support)"
  F="$DATA/faces"
  for f in amy/amy1.png amy/amy2.png amy/amy3.png amy/amy4.png biden/biden.jpg; do [ -f "$F/$f" ] || fail "missing test photo $F/$f"; done
  A0=$(date +%s)
  mountin -t proc proc "$TREE/proc"
  # No /sys in the chroot: node under qemu-user 7.2 segfaults at start when sysfs is mounted.
  mountin --bind /dev "$TREE/dev"
  mountin -t tmpfs -o size=512m tmpfs "$TREE/tmp"
  in_tree() { chroot "$TREE" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"; }
  step "arm64 tree $TREE: node $(in_tree node --version), $(in_tree uname -m) via $(qemu-aarch64-static --version | head -n 1)"

  in_tree systemd-analyze verify /etc/systemd/system/blinkd.service /etc/systemd/system/blink-update-recover.service ||
    fail "systemd-analyze verify in the arm64 tree"
  for u in blinkd.service blink-update-recover.service systemd-networkd.service; do
    [ "$(in_tree systemctl is-enabled "$u")" = enabled ] || fail "$u is not enabled in the tree"
  done
  step "arm64: systemd-analyze verify clean, units enabled"

  qemu_retry timed "arm64: native modules as blink" in_tree sh -c 'cd /opt/blink/current && runuser -u blink -- node --input-type=module -e "
    const Database = (await import(\"better-sqlite3\")).default;
    const v = new Database(\":memory:\").prepare(\"select sqlite_version() v\").get().v;
    const ort = await import(\"onnxruntime-node\"); const sharp = (await import(\"sharp\")).default;
    await sharp({ create: { width: 4, height: 4, channels: 3, background: \"#808080\" } }).png().toBuffer();
    const { Gpio } = await import(\"onoff\"); await import(\"epoll\");
    console.log(\"arm64 native modules load: better-sqlite3 (sqlite \" + v + \"), sharp (libvips \" + sharp.versions.vips + \"), onnxruntime-node (\" + Object.keys(ort).length + \" exports), onoff/epoll (Gpio.accessible=\" + Gpio.accessible + \")\");
  "' || fail "native modules do not load in the arm64 tree"

  # The same enrollment and query on the host (x86-64, this checkout) and in the arm64 tree.
  mkdir -p "$TREE/tmp/faces" && cp "$F/amy/amy1.png" "$F/amy/amy2.png" "$F/amy/amy3.png" "$F/amy/amy4.png" "$F/biden/biden.jpg" "$TREE/tmp/faces/"
  chmod -R a+rX "$TREE/tmp/faces"
  mkdir -p "$TREE/tmp/id" && chown "$(stat -c %u:%g "$TREE/var/lib/blink")" "$TREE/tmp/id"
  printf 'store:\n  dataDir: /tmp/id\ndoor:\n  driver: simulated\n  simulatedStateFile: /tmp/id/gpio.json\n' >"$TREE/tmp/id.yaml"
  chmod a+r "$TREE/tmp/id.yaml"
  X86="$WORK/x86-identify"
  rm -rf "$X86" && mkdir -p "$X86"
  printf 'store:\n  dataDir: %s\ndoor:\n  driver: simulated\n  simulatedStateFile: %s/gpio.json\n' "$X86" "$X86" >"$X86.yaml"
  enroll_identify() { # enroll_identify RUNNER DIR CONFIG  (RUNNER: a command prefix, DIR: where the photos are)
    local run=$1 d=$2 c=$3
    $run node "${BLINKD:?}" enroll --config "$c" --name amy "$d/amy1.png" "$d/amy2.png" "$d/amy3.png" &&
      $run node "$BLINKD" enroll --config "$c" --name biden "$d/biden.jpg" &&
      $run node "$BLINKD" identify --config "$c" --json "$d/amy4.png"
  }
  BLINKD="$SRC/daemon/bin/blinkd.js" timed "x86-64: enroll 4 photos + identify" enroll_identify "" "$TREE/tmp/faces" "$X86.yaml" >"$X86/identify.json" 2>"$X86/identify.err" ||
    { cat "$X86/identify.err"; fail "identify on the host"; }
  arm_run() { in_tree runuser -u blink -- "$@"; }
  rm -rf "$TREE/tmp/id/"*
  arm_once() { rm -rf "$TREE/tmp/id/"* && BLINKD=/opt/blink/current/daemon/bin/blinkd.js enroll_identify arm_run /tmp/faces /tmp/id.yaml >"$WORK/arm64-identify.json" 2>"$WORK/arm64-identify.err"; }
  qemu_retry timed "arm64 (qemu-user): enroll 4 photos + identify" arm_once || { cat "$WORK/arm64-identify.err"; fail "identify in the arm64 tree"; }
  grep -v '^{' "$WORK/arm64-identify.err" | sed 's/^/    /' | tail -5 || true
  pick() { node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").split("\n"); const a=l.indexOf("{"); const j=JSON.parse(l.slice(a, l.indexOf("}", a)+1).join("\n")); console.log([j.decision,j.name,j.score.toFixed(6),j.model].join(" "))' "$1"; }
  x=$(pick "$X86/identify.json") a=$(pick "$WORK/arm64-identify.json")
  step "identify amy4.png: x86-64 -> $x; arm64 -> $a"
  [ "$(echo "$x" | cut -d' ' -f1,2)" = "match amy" ] && [ "$(echo "$a" | cut -d' ' -f1,2)" = "match amy" ] || fail "not the same person on both"
  cp "$TREE/tmp/id/blink.db" "$WORK/arm64-identify.db"
  # The default embedder is int8 (mobilefacenet512-int8): its quantized kernels are not the same
  # code on x86-64 and arm64, and the embeddings differ by about as much as int8 differs from fp32
  # (measured: cosine 0.989-0.992 arm64 vs x86, 0.987-0.991 int8 vs fp32 on x86). The fp32 model
  # shows the rest of the pipeline (decode, detection, alignment, the network) is the same on both:
  # it must reach 0.999; int8 is held to 0.985. A cosine below its bar is reported at the end of
  # this part: the daemon check below still runs.
  COSINE_OK=1
  (cd "$SRC" && node image/lib/compare-templates.mjs "$X86/blink.db" "$WORK/arm64-identify.db" 0.985) >"$WORK/cosine-int8.jsonl" || COSINE_OK=0
  sed 's/^/    /' "$WORK/cosine-int8.jsonl"
  step "arm64 vs x86-64 templates, int8 (default): $(tail -n 1 "$WORK/cosine-int8.jsonl")"
  # The same chips on both: 48 faces of $BLINK_TEST_DATA/faces detected and aligned on the host,
  # the chip bytes embedded by the daemon's Embedder in the arm64 tree (int8 and fp32). The
  # end-to-end templates above also differ by the platforms' own FP32 detector and mesh (landmarks
  # ~1e-3 px apart, so a chip byte can be 1 off, which int8 amplifies); this is the embedder alone:
  # int8 must reach 0.999 (the k/255 QLinearAdd scales make it byte-identical, docs/MODELS.md).
  find "$F"/amy "$F"/biden "$F"/deepface_* "$F"/howard "$F"/john_* "$F"/kit_harington "$F"/leonard "$F"/obama \
    "$F"/openface_lennon "$F"/penny "$F"/rose_leslie "$F"/sheldon "$F"/human_* -type f \( -name '*.jpg' -o -name '*.png' \) |
    LC_ALL=C sort | head -n 48 >"$WORK/same-chip-photos.txt"
  (cd "$SRC" && xargs node image/lib/same-chip.mjs write "$TREE/tmp/chips.json" <"$WORK/same-chip-photos.txt") >"$WORK/same-chip-write.log" 2>&1 ||
    { cat "$WORK/same-chip-write.log"; fail "same-chip: writing the chips on the host"; }
  cp "$SRC/image/lib/same-chip.mjs" "$TREE/tmp/same-chip.mjs" && chmod a+r "$TREE/tmp/same-chip.mjs" "$TREE/tmp/chips.json"
  chip_check() { in_tree sh -c 'cd /opt/blink/current && runuser -u blink -- node /tmp/same-chip.mjs check /tmp/chips.json 0.999' >"$WORK/same-chip.jsonl" 2>"$WORK/same-chip.err"; }
  qemu_retry timed "arm64 (qemu-user): the host's $(wc -l <"$WORK/same-chip-photos.txt") chips embedded, int8 + fp32" chip_check || COSINE_OK=0
  grep -e '-int8"' "$WORK/same-chip.jsonl" | grep '"identical":false' | sed 's/^/    /' || true
  step "same chip, arm64 vs x86-64: $(tail -n 1 "$WORK/same-chip.jsonl")"
  printf 'vision:\n  precision: fp32\n' >>"$TREE/tmp/id.yaml"
  printf 'vision:\n  precision: fp32\n' >>"$X86.yaml"
  rm -rf "${X86:?}"/*
  BLINKD="$SRC/daemon/bin/blinkd.js" timed "x86-64 fp32: enroll 4 photos + identify" enroll_identify "" "$TREE/tmp/faces" "$X86.yaml" >"$X86/identify.json" 2>"$X86/identify.err" ||
    { cat "$X86/identify.err"; fail "fp32 identify on the host"; }
  qemu_retry timed "arm64 fp32 (qemu-user): enroll 4 photos + identify" arm_once || { cat "$WORK/arm64-identify.err"; fail "fp32 identify in the arm64 tree"; }
  x=$(pick "$X86/identify.json") a=$(pick "$WORK/arm64-identify.json")
  step "identify amy4.png, fp32: x86-64 -> $x; arm64 -> $a"
  [ "$(echo "$x" | cut -d' ' -f1,2)" = "match amy" ] && [ "$(echo "$a" | cut -d' ' -f1,2)" = "match amy" ] || fail "fp32: not the same person on both"
  cp "$TREE/tmp/id/blink.db" "$WORK/arm64-identify-fp32.db"
  (cd "$SRC" && node image/lib/compare-templates.mjs "$X86/blink.db" "$WORK/arm64-identify-fp32.db" 0.999) >"$WORK/cosine-fp32.jsonl" || COSINE_OK=0
  sed 's/^/    /' "$WORK/cosine-fp32.jsonl"
  step "arm64 vs x86-64 templates, fp32: $(tail -n 1 "$WORK/cosine-fp32.jsonl")"

  APORT=$((PORT + 1))
  step "arm64: blinkd run as blink (simulated GPIO, no camera), waiting for /health on 127.0.0.1:$APORT"
  rm -rf "$TREE/tmp/id/"*
  s=$(date +%s)
  in_tree runuser -u blink -- env BLINK_ADMIN__PORT="$APORT" BLINK_ADMIN__HOST=127.0.0.1 \
    node /opt/blink/current/daemon/bin/blinkd.js run --config /tmp/id.yaml >"$WORK/arm64-blinkd.log" 2>&1 &
  DAEMON_PID=$!
  until body=$(curl -fsS "http://127.0.0.1:$APORT/health" 2>/dev/null); do
    kill -0 "$DAEMON_PID" 2>/dev/null || { tail -20 "$WORK/arm64-blinkd.log"; fail "blinkd exited in the arm64 tree"; }
    [ $(($(date +%s) - s)) -lt 300 ] || { tail -20 "$WORK/arm64-blinkd.log"; fail "no /health within 300 s"; }
    sleep 2
  done
  step "arm64 blinkd answered /health after $(($(date +%s) - s)) s: $(echo "$body" | head -c 160)"
  stop_runuser "$DAEMON_PID"
  DAEMON_PID=""
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -l "${mounted[$i]}" 2>/dev/null || true; done
  mounted=()
  [ "$COSINE_OK" -eq 1 ] || fail "arm64 embeddings differ from the x86-64 ones (a cosine below its bar, see above) ($(($(date +%s) - A0)) s)"
  step "arm64 PASS ($(($(date +%s) - A0)) s)"
fi

if want boot; then
  command -v qemu-system-aarch64 >/dev/null || fail "qemu-system-aarch64 missing (apt-get install qemu-system-arm)"
  IMGXZ="$SRC/out/blink-edge-arm64.img.xz"
  RAW="$IMAGE_DIR/blink-edge-arm64.img"
  [ -f "$IMAGE_DIR/vmlinuz" ] && { [ -f "$IMGXZ" ] || [ -f "$RAW" ]; } || fail "no image: run sudo bash image/build.sh first"
  B0=$(date +%s)
  if [ -f "$RAW" ] && [ "${BLINK_VERIFY_FROM_XZ:-0}" != 1 ]; then
    # build.sh leaves the raw image beside the kernel: booted with snapshot=on (writes are discarded).
    step "booting $RAW (the image before xz; BLINK_VERIFY_FROM_XZ=1 unpacks out/*.img.xz instead)"
    DRIVE="file=$RAW,snapshot=on"
  else
    (cd "$SRC/out" && sha256sum -c --quiet blink-edge-arm64.img.xz.sha256) || fail "the image does not match its sha256"
    BOOT_IMG="$WORK/boot-test.img"
    timed "unpacking the image" sh -c "xz -dc '$IMGXZ' >'$BOOT_IMG'"
    # A card is bigger than the image: grow the copy so the first boot has room (as on a Pi).
    truncate -s +1G "$BOOT_IMG"
    DRIVE="file=$BOOT_IMG"
  fi
  BPORT=$((PORT + 2))
  step "booting the image: qemu-system-aarch64 -M virt (TCG, 2 vCPUs), serial log $WORK/qemu-serial.log"
  qemu-system-aarch64 -M virt -cpu cortex-a72 -smp 2 -m 2048 -nographic -no-reboot \
    -kernel "$IMAGE_DIR/vmlinuz" -initrd "$IMAGE_DIR/initrd.img" \
    -append "root=LABEL=BLINKROOT rootfstype=ext4 rw console=ttyAMA0 net.ifnames=0 rootwait" \
    -drive if=none,id=d0,format=raw,"$DRIVE" -device virtio-blk-pci,drive=d0 \
    -netdev user,id=n0,hostfwd=tcp:127.0.0.1:$BPORT-:8080 -device virtio-net-pci,netdev=n0 \
    -serial file:"$WORK/qemu-serial.log" -monitor none -display none </dev/null >"$WORK/qemu.log" 2>&1 &
  QEMU_PID=$!
  trap 'kill "$QEMU_PID" 2>/dev/null || true; cleanup' EXIT
  s=$(date +%s)
  last=""
  until body=$(curl -fsS --max-time 10 "http://127.0.0.1:$BPORT/health" 2>/dev/null); do
    kill -0 "$QEMU_PID" 2>/dev/null || { tail -30 "$WORK/qemu-serial.log"; cat "$WORK/qemu.log"; fail "qemu exited"; }
    [ $(($(date +%s) - s)) -lt "${BLINK_VERIFY_BOOT_TIMEOUT:-1800}" ] || { tail -30 "$WORK/qemu-serial.log"; fail "no /health within the boot timeout"; }
    now=$(grep -a -E 'Reached target|Started|Finished|login:|blinkd' "$WORK/qemu-serial.log" 2>/dev/null | tail -n 1 | tr -d '\r' | cut -c1-110 || true)
    [ "$now" = "$last" ] || { step "  boot: $now"; last=$now; }
    sleep 5
  done
  step "the emulated appliance answered /health through 127.0.0.1:$BPORT after $(($(date +%s) - s)) s: $(echo "$body" | head -c 200)"
  grep -a -m1 -E 'Linux version' "$WORK/qemu-serial.log" | tr -d '\r' | cut -c1-120 | sed 's/^/    /' || true
  kill "$QEMU_PID" 2>/dev/null || true
  wait "$QEMU_PID" 2>/dev/null || true
  rm -f "${BOOT_IMG:-}"
  step "boot PASS ($(($(date +%s) - B0)) s)"
fi
