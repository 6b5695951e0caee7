import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { openBundle } from './bundle.js';
import { NO_SERVICE, runHealthGate, type GateResult, type HealthCheck, type ServiceControl } from './healthGate.js';
import { ReleaseLayout } from './releases.js';
import { pruneSnapshots, restoreDatabase, snapshotDatabase } from './snapshot.js';
import { readState, writeState, type PendingUpdate, type UpdateResult, type UpdateState } from './state.js';

/** Where things are. Every path is configurable so tests run in a temporary directory. */
export interface UpdatePaths {
  /** The app root: releases/ and current live here (/opt/blink). */
  root: string;
  /** The updater's state file (default <root>/update/state.json). */
  stateFile?: string;
  /** The SQLite database the daemon uses. */
  databaseFile: string;
  /** Where database snapshots go (default: update-snapshots/ next to the database). */
  snapshotDir?: string;
}

/** The points of an update the Updater reports to `onPhase` (tests stop the process at one of them). */
export type UpdatePhase = 'verified' | 'installed' | 'stopped' | 'snapshot' | 'switching' | 'switched' | 'started' | 'gated' | 'rolling_back' | 'rolled_back';

export interface UpdaterOptions extends UpdatePaths {
  trustedKeys: readonly KeyObject[];
  service?: ServiceControl;
  /** The checks that decide whether the new release stays. Called with the version being gated. */
  checks?: (release: { version: string; appVersion: string | null }) => HealthCheck[];
  gateDeadlineMs?: number;
  gateIntervalMs?: number;
  keepReleases?: number;
  progress?: (msg: string) => void;
  onPhase?: (phase: UpdatePhase) => void;
}

export interface ApplyOutcome {
  result: 'ok' | 'noop' | 'rolled_back';
  from: string | null;
  to: string;
  detail: string;
  gate: GateResult | null;
}

export interface UpdateStatus {
  root: string;
  current: string | null;
  releases: string[];
  state: UpdateState;
  interrupted: boolean;
  canRollBackTo: string | null;
}

/**
 * Owner of the installed releases, the `current` switch, the updater state file and the database
 * snapshots. Apply: verify → install side by side → stop → snapshot → switch → start → gate;
 * a failed gate, or a process that stopped between "switching" and the end of the gate, ends with
 * the previous release and the snapshot back in place.
 */
export class Updater {
  readonly layout: ReleaseLayout;
  readonly stateFile: string;
  readonly snapshotDir: string;
  private readonly service: ServiceControl;

  constructor(private readonly opts: UpdaterOptions) {
    this.layout = new ReleaseLayout(opts.root);
    this.stateFile = opts.stateFile ?? join(opts.root, 'update', 'state.json');
    this.snapshotDir = opts.snapshotDir ?? join(opts.databaseFile, '..', 'update-snapshots');
    this.service = opts.service ?? NO_SERVICE;
  }

  private say(msg: string): void {
    this.opts.progress?.(msg);
  }

  private phase(p: UpdatePhase): void {
    this.opts.onPhase?.(p);
  }

  status(): UpdateStatus {
    const state = readState(this.stateFile);
    const prev = state.lastUpdate?.from ?? null;
    return {
      root: this.opts.root,
      current: this.layout.currentVersion(),
      releases: this.layout.versions().sort(),
      state,
      interrupted: state.phase !== 'idle',
      canRollBackTo: state.phase === 'idle' && prev && this.layout.has(prev) ? prev : null,
    };
  }

  /** Finishes what an interrupted update left: a rollback to the release and database from before it. */
  async recover(): Promise<UpdateResult | null> {
    const state = readState(this.stateFile);
    if (state.phase === 'idle' || !state.pending) return null;
    return this.locked(() => this.recoverLocked());
  }

  private async recoverLocked(): Promise<UpdateResult | null> {
    const state = readState(this.stateFile);
    if (state.phase === 'idle' || !state.pending) return null;
    const p = state.pending;
    this.say(`an update ${p.from} -> ${p.to} was interrupted while ${state.phase}: rolling back to ${p.from}`);
    const r = await this.rollBack(state, p, 'recover', `interrupted while ${state.phase}${p.reason ? ` (${p.reason})` : ''}`);
    return r;
  }

  async apply(bundleFile: string): Promise<ApplyOutcome> {
    return this.locked(() => this.applyLocked(bundleFile));
  }

  /** One updater at a time: an exclusive lock file with the holder's pid (a dead holder's lock is taken over). */
  private async locked<T>(fn: () => Promise<T>): Promise<T> {
    const dir = join(this.opts.root, 'update');
    mkdirSync(dir, { recursive: true });
    const lock = join(dir, 'lock');
    for (let attempt = 0; ; attempt++) {
      try {
        writeFileSync(lock, String(process.pid), { flag: 'wx' });
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0)
          throw new Error(`another update is running (${lock}: pid ${readFileSync(lock, 'utf8').trim()})`);
        const pid = Number(readFileSync(lock, 'utf8').trim());
        if (pid > 0 && pidAlive(pid)) throw new Error(`another update is running (pid ${pid})`);
        rmSync(lock, { force: true });
      }
    }
    try {
      return await fn();
    } finally {
      rmSync(lock, { force: true });
    }
  }

  private async applyLocked(bundleFile: string): Promise<ApplyOutcome> {
    await this.recoverLocked();
    mkdirSync(join(this.opts.root, 'update'), { recursive: true });
    const stagingRoot = join(this.opts.root, 'update', 'staging');
    mkdirSync(stagingRoot, { recursive: true });
    const staging = mkdtempSync(join(stagingRoot, 'b-'));
    try {
      this.say(`[1/6] verifying ${bundleFile}`);
      const bundle = await openBundle(bundleFile, staging, this.opts.trustedKeys);
      const { manifest, digest } = bundle;
      const to = manifest.version;
      const fileCount = manifest.files.length;
      this.say(`      signature ok (key ${bundle.signedBy}), ${fileCount} files match the manifest, release ${to}`);
      this.phase('verified');

      const from = this.layout.currentVersion();
      if (!from || !this.layout.has(from)) {
        throw new Error(`no current release under ${this.opts.root} (run the installer first: image/install.sh)`);
      }
      let state = readState(this.stateFile);
      if (from === to) {
        if (this.layout.installedDigest(to) === digest) {
          const detail = `release ${to} is already installed and running: nothing to do`;
          this.say(detail);
          this.record(state, { action: 'apply', from, to, result: 'noop', detail });
          return { result: 'noop', from, to, detail, gate: null };
        }
        throw new Error(`release ${to} is running with different content: give the new bundle a new version`);
      }

      this.say(`[2/6] installing release ${to} beside ${from}`);
      if (this.layout.has(to) && this.layout.installedDigest(to) === digest) this.say(`      ${to} was installed before with the same content: reusing it`);
      else this.layout.adopt(bundle.tree, to);
      this.phase('installed');

      this.say('[3/6] stopping blinkd and taking a database snapshot');
      await this.service.stop();
      this.phase('stopped');
      const snapshot = await snapshotDatabase(this.opts.databaseFile, this.snapshotDir, `before-${to}`);
      this.say(snapshot ? `      snapshot ${snapshot}` : '      no database yet: nothing to snapshot');
      this.phase('snapshot');

      const pending: PendingUpdate = { from, to, digest, snapshot, startedAt: new Date().toISOString() };
      this.layout.switchTo(from, this.layout.previousLink);
      state = { ...readState(this.stateFile), phase: 'switching', pending };
      writeState(this.stateFile, state);
      this.phase('switching');
      this.say(`[4/6] switching current -> releases/${to}`);
      this.layout.switchTo(to);
      state = { ...state, phase: 'gating' };
      writeState(this.stateFile, state);
      this.phase('switched');

      this.say('[5/6] starting blinkd (the new release migrates the database)');
      let gate: GateResult;
      try {
        await this.service.start();
        this.phase('started');
        gate = await this.gate(to, manifest.appVersion);
      } catch (err) {
        // The new release could not even be started or gated: it is not kept.
        const reason = `could not start or gate release ${to}: ${(err as Error).message}`;
        this.say(`[6/6] ${reason}: rolling back to ${from}`);
        await this.rollBack(readState(this.stateFile), { ...pending, reason }, 'apply', reason);
        return { result: 'rolled_back', from, to, detail: reason, gate: null };
      }
      this.phase('gated');
      if (gate.ok) {
        const detail = `release ${to} passed the health gate in ${(gate.elapsedMs / 1000).toFixed(1)} s`;
        this.say(`[6/6] ${detail}`);
        state = { ...readState(this.stateFile), phase: 'idle', pending: null, lastUpdate: pending };
        this.record(state, { action: 'apply', from, to, result: 'ok', detail });
        this.prune(to, from, snapshot);
        return { result: 'ok', from, to, detail, gate };
      }
      const failed = gate.checks
        .filter((c) => !c.ok)
        .map((c) => `${c.name}: ${c.detail}`)
        .join('; ');
      const reason = `health gate failed after ${(gate.elapsedMs / 1000).toFixed(1)} s (${failed})${gate.fatal ? `: ${gate.fatal} failed for good, the deadline was not waited out` : ''}`;
      this.say(`[6/6] ${reason}: rolling back to ${from}`);
      await this.rollBack(readState(this.stateFile), { ...pending, reason }, 'apply', reason);
      return { result: 'rolled_back', from, to, detail: reason, gate };
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }

  /** `blinkd update rollback`: back to the release and database from before the last update. */
  async rollback(): Promise<UpdateResult> {
    return this.locked(() => this.rollbackLocked());
  }

  private async rollbackLocked(): Promise<UpdateResult> {
    const recovered = await this.recoverLocked();
    if (recovered) return recovered;
    const state = readState(this.stateFile);
    const last = state.lastUpdate;
    const current = this.layout.currentVersion();
    if (!last || last.to !== current) throw new Error(`nothing to roll back: ${current ?? 'no release'} was not installed by an update`);
    if (!this.layout.has(last.from)) throw new Error(`the previous release ${last.from} is no longer installed`);
    this.say(`rolling back ${current} -> ${last.from}; the database goes back to its snapshot from ${last.startedAt} (changes since are lost)`);
    await this.service.stop();
    const keep = await snapshotDatabase(this.opts.databaseFile, this.snapshotDir, `rollback-from-${current}`);
    if (keep) this.say(`      the current database is kept as ${keep}`);
    return this.rollBack(state, { ...last, reason: 'requested' }, 'rollback', 'rolled back on request');
  }

  private async gate(version: string, appVersion: string | null): Promise<GateResult> {
    const checks = this.opts.checks?.({ version, appVersion }) ?? [];
    const deadlineMs = this.opts.gateDeadlineMs ?? 90_000;
    this.say(`      health gate: ${checks.map((c) => c.name).join(', ') || '(no checks)'} within ${Math.round(deadlineMs / 1000)} s`);
    return runHealthGate(checks, { deadlineMs, intervalMs: this.opts.gateIntervalMs, progress: (m) => this.say('      ' + m) });
  }

  /** Idempotent, so an interrupted rollback can simply run again: stop, switch back, restore, start. */
  private async rollBack(state: UpdateState, p: PendingUpdate, action: UpdateResult['action'], detail: string): Promise<UpdateResult> {
    writeState(this.stateFile, { ...state, phase: 'rolling_back', pending: p });
    this.phase('rolling_back');
    await this.service.stop();
    this.layout.switchTo(p.from);
    this.say(`      current -> releases/${p.from}`);
    restoreDatabase(this.opts.databaseFile, p.snapshot);
    this.say(p.snapshot ? `      database restored from ${p.snapshot}` : '      database removed (there was none before the update)');
    await this.service.start();
    const result: UpdateResult = { action, from: p.to, to: p.from, result: 'rolled_back', detail, at: new Date().toISOString() };
    const next = { ...readState(this.stateFile), phase: 'idle' as const, pending: null, lastUpdate: action === 'rollback' ? null : state.lastUpdate };
    next.history = [...next.history, result];
    writeState(this.stateFile, next);
    this.phase('rolled_back');
    this.say(`rolled back to ${p.from}`);
    return result;
  }

  private record(state: UpdateState, r: Omit<UpdateResult, 'at'>): void {
    writeState(this.stateFile, { ...state, history: [...state.history, { ...r, at: new Date().toISOString() }] });
  }

  private prune(current: string, previous: string, snapshot: string | null): void {
    const removed = this.layout.prune(this.opts.keepReleases ?? 3, [current, previous]);
    if (removed.length) this.say(`      removed old releases: ${removed.join(', ')}`);
    pruneSnapshots(this.snapshotDir, 3, [snapshot]);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
