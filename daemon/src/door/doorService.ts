import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AlarmRegistry } from '../alarms/alarmRegistry.js';
import type { Config } from '../config/schema.js';
import type { DoorMode, DoorState, EventBus } from '../events.js';
import type { Logger } from '../logging.js';
import { BaseService } from '../service.js';
import { compiledWorker } from '../util/workerPath.js';
import type { ControllerPriority, FromDoorController, ToDoorController } from './doorProtocol.js';
import { DoorStateMachine, heldUnlockedRefusal, type DoorHooks, type PulseResult } from './doorStateMachine.js';
import type { GpioDriver } from './gpio/driver.js';
import { selectGpioDriver } from './gpio/selectDriver.js';
import { Relay } from './relay.js';

export type { PulseResult } from './doorStateMachine.js';

/** How long start() waits for the controller process. */
const CONTROLLER_START_MS = 15_000;
/** How long stop() waits for it to turn the relay off and exit. */
const CONTROLLER_STOP_MS = 2000;

export interface DoorServiceOptions {
  /** Run the state machine in this thread on this driver (tests, bench). Without it the door runs in its controller process. */
  driverFactory?: (c: Config['door']) => GpioDriver;
  /** The unit's time zone (held-unlocked windows). */
  timeZone?: string;
  /** Where the mode is kept across restarts (a lockdown survives a restart; held-unlocked never does). */
  modeFile?: string;
  /** Records what the door did on its own (a hold ended by a restart or its limit). */
  audit?: (action: string, details: Record<string, unknown>) => void;
}

/**
 * The door as the daemon sees it. The logic (DoorStateMachine: relay, contact, exit button,
 * modes and their timers) runs in the door controller process (controllerMain.ts), which owns the
 * GPIO lines; this service forks it, sends it grants and mode changes, and mirrors its state:
 * `door.changed` and `door.exit_request` on the bus, held_open / forced_open in the AlarmRegistry.
 * Calls are synchronous for the caller (the decider, the command table): the mirror changes at
 * once and the controller's confirmations, numbered, bring it up to date.
 *
 * The relay is off at start, at stop, on a crash of either process, and — because the
 * controller turns it off when its IPC channel closes — when the daemon is killed. A lockdown
 * survives a restart (kept in door.modeFile); held-unlocked never does, and saying so is audited.
 */
export class DoorService extends BaseService {
  private machine: DoorStateMachine | null = null;
  private child: ChildProcess | null = null;
  private mirror: DoorState = { relay: 'off', contact: null, mode: 'normal', unlockReason: null, changedAt: new Date().toISOString() };
  private sentSeq = 0;
  private pulses = 0;
  private driver = 'unknown';
  private stopping = false;
  private restarts = 0;
  private lastError: string | null = null;
  private priority: ControllerPriority | null = null;

  constructor(
    private readonly config: Config['door'],
    bus: EventBus,
    private readonly alarms: AlarmRegistry,
    private readonly log: Logger,
    private readonly options: DoorServiceOptions = {},
  ) {
    super('door', bus);
  }

  private get timeZone(): string {
    return this.options.timeZone ?? '';
  }

  private hooks(): DoorHooks {
    return {
      changed: (state) => this.adopt(state),
      alarm: (type, active, reason, details) => (active ? this.alarms.raise(type, reason, details) : this.alarms.clear(type, reason)),
      exitRequest: (req) => this.bus.emit('door.exit_request', req),
      log: (level, msg, details) => this.log[level](details ?? {}, msg),
    };
  }

  protected async onStart(): Promise<void> {
    this.stopping = false;
    if (this.options.driverFactory) {
      this.machine = new DoorStateMachine(this.config, this.options.driverFactory(this.config), this.hooks(), { timeZone: this.timeZone });
      this.machine.start();
      this.driver = this.machine.driverName;
      this.mirror = this.machine.state();
    } else {
      await this.spawn();
    }
    this.log.info(
      {
        driver: this.driver,
        controller: this.machine ? 'in-process' : 'process',
        relayPin: this.config.relayPin,
        activeLow: this.config.relayActiveLow,
        contactPin: this.config.contactPin,
        exitButtonPin: this.config.exitButtonPin,
      },
      'door relay ready (off)',
    );
    this.restoreMode();
  }

  /** Unlock for an access grant: one pulse, unless in lockdown; in held-unlocked nothing changes. */
  grant(reason: string, ms: number = this.config.pulseMs): PulseResult {
    if (this.machine) return this.machine.grant(reason, ms);
    if (this.mirror.mode === 'lockdown') return { ok: false, error: 'the unit is in lockdown: unlock refused' };
    if (this.mirror.mode === 'held_unlocked') return { ok: true, ms: 0 };
    return this.pulse(reason, ms, 'grant');
  }

  /** One relay pulse of `ms` (default: the configured pulse), capped at the maximum unlock time. Mode is not checked. */
  pulse(reason: string, ms: number = this.config.pulseMs, kind: 'grant' | 'pulse' = 'pulse'): PulseResult {
    if (this.machine) return this.machine.pulse(reason, ms);
    if (!this.child) throw new Error('door service is not started');
    if (!Number.isFinite(ms) || ms <= 0) return { ok: false, error: `pulse length must be a positive number of ms (got ${ms})` };
    const length = Math.min(ms, this.config.maxUnlockMs);
    this.send({ type: kind, seq: ++this.sentSeq, reason, ms: length });
    this.setMirror({ relay: 'on', unlockReason: reason });
    return { ok: true, ms: length };
  }

  /** Lockdown, held-unlocked or normal. Returns why it was refused (held-unlocked outside its windows), or null. */
  setMode(mode: DoorMode, why = 'command'): string | null {
    let refusal: string | null;
    if (this.machine) refusal = this.machine.setMode(mode, why);
    else {
      if (!this.child) throw new Error('door service is not started');
      refusal = mode === 'held_unlocked' ? heldUnlockedRefusal(this.config, this.timeZone) : null;
      if (!refusal) {
        this.send({ type: 'mode', seq: ++this.sentSeq, mode, why });
        this.setMirror({ mode, relay: mode === 'held_unlocked' ? 'on' : 'off', unlockReason: mode === 'held_unlocked' ? 'held_unlocked' : null });
      }
    }
    if (!refusal) this.saveMode(mode);
    return refusal;
  }

  /** Synchronous relay off, for shutdown and crash paths. Never throws. */
  emergencyOff(): boolean {
    try {
      if (this.machine) return this.machine.emergencyOff();
      // The controller turns the relay off on SIGTERM (and on its own when this process is gone).
      // Its exit is then expected: not a crash to restart from (the daemon is stopping or dying).
      if (this.child && this.child.exitCode === null) {
        this.stopping = true;
        this.child.kill('SIGTERM');
      }
      this.mirror = { ...this.mirror, relay: 'off', unlockReason: null };
      return true;
    } catch {
      return false;
    }
  }

  state(): DoorState {
    return this.machine ? this.machine.state() : { ...this.mirror };
  }

  protected override async onStop(): Promise<void> {
    this.stopping = true;
    if (this.machine) {
      this.machine.stop();
      this.machine = null;
      return;
    }
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    // A controller that is exiting already (it saw the parent stop) has closed the channel: the
    // write fails asynchronously with EPIPE, which must end in a SIGTERM, not an uncaught error.
    try {
      child.send({ type: 'stop' } satisfies ToDoorController, (err) => {
        if (err && child.exitCode === null) child.kill('SIGTERM');
      });
    } catch {
      child.kill('SIGTERM');
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([exited, new Promise<void>((r) => (timer = setTimeout(r, CONTROLLER_STOP_MS)))]);
    clearTimeout(timer);
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      this.relayOffDirect('the door controller did not stop');
    }
    this.mirror = { ...this.mirror, relay: 'off', unlockReason: null };
  }

  health(): Record<string, unknown> {
    return {
      driver: this.driver,
      controller: this.machine
        ? 'in-process'
        : { pid: this.child?.pid ?? null, restarts: this.restarts, lastError: this.lastError, nice: this.priority?.nice ?? null },
      ...this.state(),
      pulses: this.machine?.pulses ?? this.pulses,
    };
  }

  // ---- the controller process --------------------------------------------------------------

  private spawn(): Promise<void> {
    // A plain Node for a small process: none of the daemon's own flags or preloads (an `-e` script,
    // NODE_OPTIONS --import) are the controller's business.
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    const child = fork(compiledWorker('door/controllerMain.js', import.meta.url, 'controllerMain.js'), [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'json',
      execArgv: [],
      env,
    });
    this.child = child;
    // IPC write errors (EPIPE when the controller is gone) are reported here, never thrown
    // uncaught: its exit is handled below, and the relay is turned off directly then.
    child.on('error', (err) => {
      this.lastError = err.message;
      this.log.warn({ err }, 'door controller channel error');
    });
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the door controller did not start within ${CONTROLLER_START_MS} ms`)), CONTROLLER_START_MS);
      child.on('message', (m: FromDoorController) => {
        if (m.type === 'ready') {
          clearTimeout(timer);
          this.driver = m.driver;
          this.priority = m.priority;
          if (!m.priority.raised)
            this.log.warn(
              { error: m.priority.error },
              'the door controller could not raise its priority (nice -10): under heavy CPU load pulses may run long; the systemd unit allows it (LimitNICE=-10)',
            );
          this.mirror = m.state;
          this.sentSeq = 0;
          resolve();
          return;
        }
        this.onMessage(m);
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        if (this.child === child) this.child = null;
        if (this.stopping) {
          // It turns the relay off before a clean exit; anything else gets the direct write too.
          if (code !== 0) this.relayOffDirect(`the door controller exited (${signal ?? code}) while stopping`);
          return;
        }
        this.lastError = `the door controller exited (${signal ?? code})`;
        this.log.error({ code, signal }, 'door controller exited: relay off, restarting it');
        this.relayOffDirect('the door controller died');
        this.mirror = { ...this.mirror, relay: 'off', unlockReason: null };
        reject(new Error(this.lastError));
        this.restarts++;
        this.later(Math.min(10_000, 500 * this.restarts), () => {
          if (this.stopping) return;
          const mode = this.mirror.mode;
          this.spawn()
            .then(() => {
              if (mode === 'lockdown') this.setMode('lockdown', 'kept across a door controller restart');
            })
            .catch((err: unknown) => this.log.error({ err }, 'door controller restart failed'));
        });
      });
      child.send({ type: 'init', config: this.config, timeZone: this.timeZone } satisfies ToDoorController, (err) => {
        if (err) reject(new Error(`the door controller could not be initialised: ${err.message}`));
      });
    });
  }

  private send(m: ToDoorController): void {
    try {
      this.child?.send(m, (err) => {
        if (err) {
          this.lastError = err.message;
          this.log.error({ err }, 'door controller unreachable');
        }
      });
    } catch (err) {
      this.lastError = (err as Error).message;
      this.log.error({ err }, 'door controller unreachable');
    }
  }

  private onMessage(m: FromDoorController): void {
    switch (m.type) {
      case 'state':
        this.pulses = m.pulses;
        // A confirmation of an older command while a newer one is in flight is already out of date.
        if (m.seq === this.sentSeq) this.adopt(m.state);
        return;
      case 'refused':
        this.log.warn({ error: m.error }, 'door controller refused a command');
        return;
      case 'alarm':
        if (m.active) this.alarms.raise(m.alarm, m.reason, m.details);
        else this.alarms.clear(m.alarm, m.reason);
        return;
      case 'exit_request':
        this.bus.emit('door.exit_request', m.request);
        return;
      case 'log':
        this.log[m.level](m.details ?? {}, m.msg);
        return;
      case 'error':
        this.lastError = m.message;
        this.log.error({ err: m.message }, 'door controller error');
        return;
    }
  }

  /** The last line of defence: write the relay off from this process (the controller is gone). */
  private relayOffDirect(why: string): void {
    try {
      const driver = selectGpioDriver(this.config, (msg) => this.log.warn(msg));
      new Relay(driver, this.config.relayPin, this.config.relayActiveLow).off();
      this.log.warn({ why }, 'relay turned off by the daemon');
    } catch (err) {
      this.log.error({ err, why }, 'could not turn the relay off directly');
    }
  }

  // ---- the mirror and the mode kept across restarts ----------------------------------------

  private adopt(state: DoorState): void {
    const prev = this.mirror;
    this.mirror = state;
    if (prev.mode !== state.mode) this.saveMode(state.mode);
    if (prev.relay !== state.relay || prev.contact !== state.contact || prev.mode !== state.mode || prev.unlockReason !== state.unlockReason) {
      this.bus.emit('door.changed', { ...state });
    }
  }

  private setMirror(patch: Partial<DoorState>): void {
    this.mirror = { ...this.mirror, ...patch, changedAt: new Date().toISOString() };
    this.bus.emit('door.changed', { ...this.mirror });
  }

  private saveMode(mode: DoorMode): void {
    const file = this.options.modeFile;
    if (!file) return;
    try {
      writeFileSync(`${file}.tmp`, JSON.stringify({ mode, since: new Date().toISOString() }));
      renameSync(`${file}.tmp`, file);
    } catch (err) {
      this.log.warn({ err, file }, 'door mode not saved');
    }
  }

  private restoreMode(): void {
    const file = this.options.modeFile;
    if (!file) return;
    let saved: { mode?: DoorMode; since?: string } = {};
    try {
      saved = JSON.parse(readFileSync(file, 'utf8')) as typeof saved;
    } catch {
      return; // first start, or unreadable: normal
    }
    if (saved.mode === 'lockdown') {
      this.log.warn({ since: saved.since }, 'lockdown kept across the restart');
      this.setMode('lockdown', 'kept across a restart');
    } else if (saved.mode === 'held_unlocked') {
      // Never silently: the door comes back locked, and the end of the hold is on record.
      this.log.warn({ since: saved.since }, 'held unlocked ended by the restart: the door is locked');
      this.options.audit?.('door.held_unlocked_ended', { reason: 'restart', since: saved.since ?? null });
      this.saveMode('normal');
    }
  }
}
