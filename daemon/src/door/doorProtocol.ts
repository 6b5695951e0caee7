import type { Config } from '../config/schema.js';
import type { AlarmType, DoorMode, DoorState, ExitRequest } from '../events.js';

/** Messages between the daemon (DoorService) and its door controller process (controllerMain.ts). */
export type ToDoorController =
  | { type: 'init'; config: Config['door']; timeZone: string }
  /** `seq` numbers every command; the controller's state messages say which one they reflect. */
  | { type: 'grant'; seq: number; reason: string; ms: number }
  | { type: 'pulse'; seq: number; reason: string; ms: number }
  | { type: 'mode'; seq: number; mode: DoorMode; why: string }
  | { type: 'off'; seq: number }
  | { type: 'stop' };

export type FromDoorController =
  | { type: 'ready'; state: DoorState; driver: string; priority: ControllerPriority }
  | { type: 'state'; seq: number; state: DoorState; pulses: number }
  | { type: 'refused'; seq: number; error: string }
  | { type: 'alarm'; alarm: Extract<AlarmType, 'held_open' | 'forced_open'>; active: boolean; reason: string; details: Record<string, unknown> | null }
  | { type: 'exit_request'; request: ExitRequest }
  | { type: 'log'; level: 'info' | 'warn'; msg: string; details?: Record<string, unknown> }
  | { type: 'error'; message: string };

/** The scheduling priority the controller process got (nice -10 when permitted). */
export interface ControllerPriority {
  nice: number;
  raised: boolean;
  error: string | null;
}
