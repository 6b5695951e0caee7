/**
 * The door controller process. The daemon forks it at start (DoorService) and it owns the GPIO
 * lines: the relay, the door contact and the exit button, with the door's state machine and all
 * its timers. So the length of an unlock, the maximum unlock, held-unlocked's limits and the exit
 * button never depend on the daemon's main thread being free (a write-locked database, a flood of
 * MQTT messages), and when the daemon dies — even by SIGKILL, outside systemd — the IPC channel
 * closes and this process turns the relay off and exits.
 */
import { setPriority } from 'node:os';
import { selectGpioDriver } from './gpio/selectDriver.js';
import { DoorStateMachine } from './doorStateMachine.js';
import type { FromDoorController, ToDoorController } from './doorProtocol.js';

if (!process.send) throw new Error('the door controller must be started by blinkd (with an IPC channel)');

/**
 * The controller's timers end every pulse, so on a board whose cores the vision worker keeps
 * busy it must be the first process scheduled when its timer fires: it asks for nice -10
 * exactly (Node's PRIORITY_HIGH is -14, which the unit's ceiling would refuse). Allowed to root, to CAP_SYS_NICE, or by the RLIMIT_NICE ceiling the systemd
 * unit sets (LimitNICE=-10); elsewhere it keeps the daemon's priority and says so in /health.
 */
const CONTROLLER_NICE = -10;
function raisePriority(): { nice: number; raised: boolean; error: string | null } {
  try {
    setPriority(CONTROLLER_NICE);
    return { nice: CONTROLLER_NICE, raised: true, error: null };
  } catch (err) {
    return { nice: 0, raised: false, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}
const priority = raisePriority();

let machine: DoorStateMachine | null = null;
let seq = 0;

const send = (m: FromDoorController): void => {
  if (process.connected) process.send!(m);
};

function shutdown(code: number): void {
  try {
    machine?.stop();
  } finally {
    process.exit(code);
  }
}

// The daemon went away (exit, crash, SIGKILL): the relay must not stay on.
process.on('disconnect', () => shutdown(0));
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));
process.on('uncaughtException', (err) => {
  send({ type: 'error', message: err.message });
  shutdown(1);
});

process.on('message', (m: ToDoorController) => {
  try {
    if (m.type === 'init') {
      const driver = selectGpioDriver(m.config, (msg) => send({ type: 'log', level: 'warn', msg }));
      machine = new DoorStateMachine(
        m.config,
        driver,
        {
          changed: (state) => send({ type: 'state', seq, state, pulses: machine?.pulses ?? 0 }),
          alarm: (alarm, active, reason, details) => send({ type: 'alarm', alarm, active, reason, details }),
          exitRequest: (request) => send({ type: 'exit_request', request }),
          log: (level, msg, details) => send({ type: 'log', level, msg, ...(details ? { details } : {}) }),
        },
        { timeZone: m.timeZone },
      );
      machine.start();
      send({ type: 'ready', state: machine.state(), driver: machine.driverName, priority });
      return;
    }
    if (m.type === 'stop') return shutdown(0);
    if (!machine) throw new Error('door controller not initialised');
    seq = m.seq;
    if (m.type === 'grant' || m.type === 'pulse') {
      const r = m.type === 'grant' ? machine.grant(m.reason, m.ms) : machine.pulse(m.reason, m.ms);
      if (!r.ok) send({ type: 'refused', seq, error: r.error ?? 'refused' });
    } else if (m.type === 'mode') {
      const refusal = machine.setMode(m.mode, m.why);
      if (refusal) send({ type: 'refused', seq, error: refusal });
    } else if (m.type === 'off') machine.emergencyOff();
    // Every command is confirmed with the state it left (so the daemon's mirror catches up).
    send({ type: 'state', seq, state: machine.state(), pulses: machine.pulses });
  } catch (err) {
    send({ type: 'error', message: (err as Error).message });
  }
});
