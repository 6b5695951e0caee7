import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { generateSigningKey } from '../../src/update/manifest.js';

/** A small but complete-looking release tree: entry point, compiled code, a model, migrations, a node_modules/.bin symlink. */
export function makeReleaseTree(dir: string, version: string, extra: Record<string, string> = {}): string {
  const files: Record<string, string> = {
    'package.json': JSON.stringify({ name: 'blink-edge', version }),
    'daemon/bin/blinkd.js': `#!/usr/bin/env node\nconsole.log('blinkd ${version}');\n`,
    'dist/daemon/src/main.js': `export const version = '${version}';\n`,
    'dist/daemon/src/store/migrations.js': `export const MIGRATIONS = [{ version: 1 }];\n`,
    'models/manifest.json': JSON.stringify({ models: ['face.onnx'] }),
    'models/face.onnx': `weights of ${version} `.repeat(200),
    'node_modules/pkg/cli.js': '#!/usr/bin/env node\n',
    ...extra,
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  chmodSync(join(dir, 'daemon/bin/blinkd.js'), 0o755);
  mkdirSync(join(dir, 'node_modules/.bin'), { recursive: true });
  symlinkSync('../pkg/cli.js', join(dir, 'node_modules/.bin/pkg'));
  return dir;
}

/**
 * What node-gyp leaves in an installed release: each build output under build/Release/obj.target/
 * hard-linked as build/Release/<name> (one inode, two paths). Three pairs, one of them a few MiB
 * (node-tar's async pack stalled on the third such pair). Returns every path with its bytes.
 */
export function addHardLinkedBuildOutputs(dir: string): Map<string, Buffer> {
  const base = 'node_modules/native/build/Release';
  const outputs: Record<string, Buffer> = {
    'native.node': randomBytes(4 << 20),
    'helper.node': randomBytes(64 << 10),
    'deps/libnative.a': randomBytes(256 << 10),
  };
  const paths = new Map<string, Buffer>();
  for (const [name, bytes] of Object.entries(outputs)) {
    const built = `${base}/obj.target/${name}`;
    const linked = `${base}/${name.split('/').pop()!}`;
    mkdirSync(dirname(join(dir, built)), { recursive: true });
    writeFileSync(join(dir, built), bytes);
    linkSync(join(dir, built), join(dir, linked));
    paths.set(built, bytes).set(linked, bytes);
  }
  return paths;
}

/** An installed unit as image/install.sh leaves it: releases/<v>, current -> releases/<v>, a database with one person. */
export function makeInstalledRoot(base: string, version: string): { root: string; db: string } {
  const root = join(base, 'opt-blink');
  makeReleaseTree(join(root, 'releases', version), version);
  symlinkSync(join('releases', version), join(root, 'current'));
  const dataDir = join(base, 'var-lib-blink');
  mkdirSync(dataDir, { recursive: true });
  const db = join(dataDir, 'blink.db');
  const d = new Database(db);
  d.pragma('journal_mode = WAL');
  d.exec("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO people (name) VALUES ('Ada'); PRAGMA user_version = 1;");
  d.close();
  return { root, db };
}

/** What a new release's first start does to the database: a migration and new rows. */
export function migrateLikeNewRelease(db: string): void {
  const d = new Database(db);
  d.exec("ALTER TABLE people ADD COLUMN badge TEXT; INSERT INTO people (name, badge) VALUES ('Bob', 'x'); PRAGMA user_version = 2;");
  d.close();
}

export function readDb(db: string): { schema: number; people: string[]; columns: string[] } {
  const d = new Database(db, { readonly: true });
  try {
    return {
      schema: d.pragma('user_version', { simple: true }) as number,
      people: (d.prepare('SELECT name FROM people ORDER BY id').all() as Array<{ name: string }>).map((r) => r.name),
      columns: (d.prepare('PRAGMA table_info(people)').all() as Array<{ name: string }>).map((r) => r.name),
    };
  } finally {
    d.close();
  }
}

export function keypair(dir: string, name: string): { key: string; pub: string; privatePem: string; publicPem: string } {
  const k = generateSigningKey();
  const key = join(dir, `${name}.key`);
  const pub = join(dir, `${name}.pub`);
  writeFileSync(key, k.privatePem, { mode: 0o600 });
  writeFileSync(pub, k.publicPem);
  return { key, pub, privatePem: k.privatePem, publicPem: k.publicPem };
}

/**
 * A STAND-IN for systemctl (systemd does not run here), NOT systemd: for `unit` it does only what
 * the updater calls. `start --no-block` runs `<root>/current/daemon/bin/blinkd.js run --config
 * <config>` in the background and, like blinkd.service (Restart=on-failure, RestartSec=2,
 * StartLimitBurst=10, RestartPreventExitStatus=65 78), starts it again 2 s after a non-zero exit
 * other than 65/78, at most 10 starts in all; `stop` sends SIGTERM and waits; `reset-failed` makes
 * a failed unit inactive; `show -p ActiveState -p SubState -p NRestarts`: ActiveState
 * "activating" while it runs (these releases never send READY) or waits to be restarted (SubState
 * "auto-restart", NRestarts the restarts so far), "failed" after the last non-zero exit,
 * "inactive" otherwise. Anything else exits 1. Every call is logged to <dir>/run/calls.
 * Returns the directory to put first in PATH.
 */
export function systemctlStandIn(dir: string, opts: { unit: string; root: string; config: string }): string {
  const bin = join(dir, 'bin');
  const run = join(dir, 'run');
  mkdirSync(bin, { recursive: true });
  mkdirSync(run, { recursive: true });
  const script = `#!/bin/bash
# STAND-IN for systemctl in daemon/test/update (NOT systemd): see systemctlStandIn in fixtures.ts.
set -u
RUN='${run}' ROOT='${opts.root}' CFG='${opts.config}' NODE='${process.execPath}' UNIT='${opts.unit}'
echo "$* ($(readlink "$ROOT/current"))" >>"$RUN/calls"
case "$*" in
"start --no-block $UNIT")
  rm -f "$RUN/exit" "$RUN/pid" "$RUN/stopping" "$RUN/waiting"
  echo 0 >"$RUN/restarts"
  (
    for n in 1 2 3 4 5 6 7 8 9 10; do
      "$NODE" "$ROOT/current/daemon/bin/blinkd.js" run --config "$CFG" >>"$RUN/daemon.log" 2>&1 &
      echo $! >"$RUN/pid"
      rc=0
      wait $! || rc=$?
      [ -e "$RUN/stopping" ] && break
      case $rc in 0 | 65 | 78) break ;; esac
      [ "$n" = 10 ] && break
      touch "$RUN/waiting"
      sleep 2
      rm -f "$RUN/waiting"
      [ -e "$RUN/stopping" ] && break
      echo "$n" >"$RUN/restarts"
    done
    echo "$rc" >"$RUN/exit"
  ) </dev/null >/dev/null 2>&1 &
  for _ in $(seq 50); do [ -s "$RUN/pid" ] && exit 0; sleep 0.1; done
  ;;
"stop $UNIT")
  if [ -s "$RUN/pid" ] && [ ! -e "$RUN/exit" ]; then
    touch "$RUN/stopping"
    kill -TERM "$(cat "$RUN/pid")" 2>/dev/null
    for _ in $(seq 100); do [ -e "$RUN/exit" ] && break; sleep 0.1; done
  fi
  rm -f "$RUN/pid" "$RUN/exit" "$RUN/waiting"
  ;;
"reset-failed $UNIT")
  if [ -s "$RUN/exit" ] && [ "$(cat "$RUN/exit")" != 0 ]; then rm -f "$RUN/exit" "$RUN/pid"; fi
  ;;
"show -p ActiveState -p SubState -p NRestarts $UNIT")
  if [ -s "$RUN/exit" ]; then
    if [ "$(cat "$RUN/exit")" = 0 ]; then printf 'ActiveState=inactive\nSubState=dead\n'; else printf 'ActiveState=failed\nSubState=failed\n'; fi
  elif [ -e "$RUN/waiting" ]; then
    printf 'ActiveState=activating\nSubState=auto-restart\n'
  elif [ -s "$RUN/pid" ]; then
    printf 'ActiveState=activating\nSubState=start\n'
  else
    printf 'ActiveState=inactive\nSubState=dead\n'
  fi
  echo "NRestarts=$(cat "$RUN/restarts" 2>/dev/null || echo 0)"
  ;;
*)
  echo "systemctl stand-in: unsupported: $*" >&2
  exit 1
  ;;
esac
`;
  writeFileSync(join(bin, 'systemctl'), script);
  chmodSync(join(bin, 'systemctl'), 0o755);
  return bin;
}
