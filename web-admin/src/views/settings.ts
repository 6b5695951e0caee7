/// <reference lib="dom" />
import { api, get } from '../api.js';
import { clear, h, showError, toast } from '../dom.js';
import type { Session } from '../session.js';
import type { SettingJson } from '../../../daemon/src/admin/apiTypes.js';

type Setting = SettingJson;

const SECTIONS: Record<string, [string, string]> = {
  recognition: [
    'Recognition',
    'The security level sets the false-accept target per stranger visit; the threshold follows from the running face model’s calibration and the number of people enrolled. Leave threshold and margin empty to use the calibrated values.',
  ],
  liveness: ['Liveness', 'Checks that a real person, not a photo or screen, stands at the door.'],
  door: ['Door timing', 'How long the lock stays open (milliseconds).'],
  attendance: ['Attendance and shift', 'When the shift starts and how late counts as late.'],
  mqtt: ['MQTT', "Connection to the building's MQTT broker / Home Assistant."],
  sync: ['Sync', 'People and attendance shared with the sync server; face templates leave the unit only encrypted.'],
  admin: ['Admin security', 'Session timeouts, sign-in lock-out and thumbnail retention.'],
};

const LABELS: Record<string, string> = {
  'access.securityLevel': 'Security level',
  'access.threshold': 'Match threshold override (0–1, empty = calibrated)',
  'access.margin': 'Margin override (0–1, empty = calibrated)',
  'access.liveness.passive': 'Passive anti-spoof check',
  'access.liveness.passiveThreshold': 'Anti-spoof threshold (0–1)',
  'access.liveness.blink': 'Require a blink',
  'access.liveness.headTurn': 'Require a head turn',
  'access.liveness.headTurnYawDeg': 'Head turn angle (°)',
  'access.attendance.enabled': 'Record attendance',
  'access.attendance.shiftStart': 'Shift starts at',
  'access.attendance.graceMinutes': 'Late after (minutes past shift start)',
  'access.attendance.minCheckoutGapMinutes': 'Check-out at least (minutes after check-in)',
  'access.attendance.workDays': 'Expected days without a schedule (mon,tue,…)',
  'mqtt.enabled': 'Connect to MQTT',
  'mqtt.url': 'Broker URL',
  'mqtt.homeAssistant.enabled': 'Home Assistant discovery',
  'mqtt.healthIntervalSec': 'Health report every (s)',
  'sync.enabled': 'Sync with the sync server',
  'sync.serverUrl': 'Sync server URL',
  'sync.org': 'Organisation',
  'sync.claimCode': 'Claim code (one-time)',
  'sync.intervalSec': 'Sync every (s)',
  'admin.thumbnailRetentionDays': 'Keep face thumbnails (days, 0 = none)',
};

/** Number settings that may be empty (null = computed by the unit). */
const NULLABLE_NUMBERS = new Set(['access.threshold', 'access.margin']);
/** Settings with a fixed set of values, with their labels. */
const CHOICES: Record<string, Array<[string, string]>> = {
  'access.securityLevel': [
    ['high', 'High — 1 false accept in 100,000 stranger visits'],
    ['standard', 'Standard — 1 in 10,000'],
    ['convenience', 'Convenience — 1 in 1,000'],
  ],
};

interface OperatingPointJson {
  model: string;
  level: string;
  people: number;
  threshold: number;
  margin: number;
  farPerVisit: number;
  farPerVisitTarget: number;
  frr: number;
  resolved: boolean;
  thresholdSource: string;
  warnings: string[];
}

const pct = (x: number): string => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)} %`;

/** The door's operating point as /health reports it (read-only): the threshold in force and how it was chosen. */
function operatingPointCard(): HTMLElement {
  const box = h('div.card', { id: 'operating-point' }, h('h2', null, 'Operating point in force'), h('p.muted.small', null, 'loading…'));
  void get<{ services?: { access?: { operatingPoint?: OperatingPointJson | { error: string } | null } } }>('/health')
    .then((r) => {
      const p = r.services?.access?.operatingPoint;
      const rows: Array<[string, string]> =
        !p || 'error' in p
          ? [['Status', p && 'error' in p ? p.error : 'the door is not running (no camera or vision)']]
          : [
              ['Face model', p.model],
              ['Security level', `${p.level} (target ≤ 1 in ${Math.round(1 / p.farPerVisitTarget).toLocaleString()} stranger visits)`],
              ['People enrolled (searchable)', String(p.people)],
              ['Threshold', `${p.threshold.toFixed(4)} (${p.thresholdSource === 'calibration' ? 'calibrated' : 'set in access.threshold'})`],
              ['Margin', p.margin.toFixed(3)],
              [
                'Expected false accepts per stranger visit',
                p.resolved
                  ? p.farPerVisit === 0
                    ? '0 measured'
                    : `1 in ${Math.round(1 / p.farPerVisit).toLocaleString()}`
                  : 'below what the calibration can show',
              ],
              ['Expected false rejects per photo pair', pct(p.frr)],
              ...p.warnings.map((w): [string, string] => ['Warning', w]),
            ];
      clear(
        box,
        h('h2', null, 'Operating point in force'),
        h(
          'dl',
          null,
          rows.map(([k, v]) => [h('dt', null, k), h('dd', null, v)]),
        ),
      );
    })
    .catch((e: unknown) => clear(box, h('h2', null, 'Operating point in force'), h('p.error', null, (e as Error).message)));
  return box;
}

function label(path: string): string {
  if (LABELS[path]) return LABELS[path]!;
  const last = path.split('.').slice(-1)[0]!;
  return last
    .replace(/([A-Z])/g, ' $1')
    .replace(/^./, (c) => c.toUpperCase())
    .replace(/ Ms$/, ' (ms)')
    .replace(/ Sec$/, ' (s)');
}

export function settingsView(session: Session): HTMLElement {
  const root = h('div', null, h('h1', null, 'Settings'));
  const isAdmin = session.me.user?.role === 'admin';
  void get<{ settings: Setting[] }>('/settings')
    .then(({ settings }) => {
      for (const [key, [title, help]] of Object.entries(SECTIONS)) {
        const items = settings.filter((s) => s.section === key);
        const err = h('p.error', { hidden: true, role: 'alert' });
        const inputs = new Map<string, HTMLInputElement>();
        const fields = items.map((s) => {
          const id = `set-${s.path.replace(/\./g, '-')}`;
          let input: HTMLInputElement;
          const choices = CHOICES[s.path];
          if (choices)
            input = h(
              'select',
              { id },
              choices.map(([v, text]) => h('option', { value: v, selected: s.value === v }, text)),
            ) as unknown as HTMLInputElement;
          else if (NULLABLE_NUMBERS.has(s.path))
            input = h('input', {
              type: 'number',
              id,
              value: s.value === null ? '' : String(s.value),
              step: 'any',
              inputMode: 'decimal',
              placeholder: 'calibrated',
            });
          else if (typeof s.value === 'boolean') input = h('input', { type: 'checkbox', id, checked: s.value });
          else if (s.secret) input = h('input', { type: 'password', id, placeholder: s.isSet ? '(set — type to replace)' : '(not set)', autocomplete: 'off' });
          else if (typeof s.value === 'number') input = h('input', { type: 'number', id, value: String(s.value), step: 'any', inputMode: 'decimal' });
          else input = h('input', { type: s.path.endsWith('shiftStart') ? 'time' : 'text', id, value: String(s.value ?? '') });
          input.disabled = !isAdmin;
          input.dataset.path = s.path;
          inputs.set(s.path, input);
          return h(
            'label',
            { class: typeof s.value === 'boolean' ? 'check' : '', for: id },
            h(
              'span',
              null,
              label(s.path),
              s.pendingRestart
                ? h('span.badge.late', { title: 'saved; blinkd still uses the old value until it restarts' }, 'restart pending')
                : !s.live && h('span.badge.restart', { title: 'takes effect after a restart' }, 'restart'),
            ),
            input,
          );
        });
        const form = h(
          'form.card.settings',
          { id: `settings-${key}` },
          h('h2', null, title),
          h('p.muted.small', null, help),
          fields,
          err,
          isAdmin && h('button', { type: 'submit' }, `Save ${title.toLowerCase()}`),
        );
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          err.hidden = true;
          const changes: Record<string, unknown> = {};
          for (const s of items) {
            const input = inputs.get(s.path)!;
            if (input.type === 'checkbox') changes[s.path] = input.checked;
            else if (s.secret) {
              if (input.value) changes[s.path] = input.value;
            } else if (typeof s.value === 'number' || NULLABLE_NUMBERS.has(s.path)) changes[s.path] = input.value === '' ? null : Number(input.value);
            else changes[s.path] = input.value;
          }
          try {
            const r = await api<{ applied: string[]; restartRequired: string[] }>('PUT', '/settings', { changes });
            if (!r.applied.length && !r.restartRequired.length) toast('Nothing changed');
            else toast(r.restartRequired.length ? `Saved. Restart blinkd to apply: ${r.restartRequired.join(', ')}` : 'Saved and applied');
          } catch (e2) {
            showError(err, e2);
          }
        });
        root.appendChild(form);
        if (key === 'recognition') root.appendChild(operatingPointCard());
      }
    })
    .catch((e: unknown) => root.appendChild(h('p.error', null, (e as Error).message)));
  return root;
}

export function healthView(): HTMLElement {
  const root = h('div', null, h('h1', null, 'Health'));
  const body = h('div');
  root.appendChild(body);
  const load = async () => {
    try {
      const r = await get<Record<string, any>>('/health'); // eslint-disable-line @typescript-eslint/no-explicit-any
      const sys = r.system ?? {};
      const pipe = r.pipeline ?? {};
      const card = (title: string, rows: Array<[string, unknown]>) =>
        h(
          'section.card',
          null,
          h('h2', null, title),
          h(
            'dl',
            null,
            rows
              .filter(([, v]) => v !== undefined)
              .map(([k, v]) => [h('dt', null, k), h('dd', null, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v ?? '—'))]),
          ),
        );
      const stages = pipe.stagesMs
        ? Object.entries(pipe.stagesMs as Record<string, number>)
            .map(([k, v]) => `${k.replace(/Ms$/, '')} ${v}`)
            .join(' · ')
        : null;
      const models = Array.isArray(r.models) ? (r.models as Array<{ id: string; precision: string | null; sha256: string }>) : [];
      clear(
        body,
        h(
          'p',
          null,
          h('span.badge', { class: r.status === 'healthy' ? 'ok' : 'bad', id: 'health-status' }, r.status),
          ` version ${r.version} · up ${Math.round((r.uptimeSec ?? 0) / 60)} min`,
        ),
        card('Unit', [
          ['CPU temperature', sys.cpuTempC === null || sys.cpuTempC === undefined ? 'not available' : `${sys.cpuTempC} °C`],
          ['Load (1/5/15 min)', (sys.load ?? []).join(' / ')],
          ['Memory', sys.memory ? `${sys.memory.rssMb} MB blinkd · ${sys.memory.freeMb} of ${sys.memory.totalMb} MB free` : undefined],
          ['Disk', r.disk ? `${r.disk.freeMb} MB free of ${r.disk.totalMb} MB (${r.disk.usedPct}% used)` : undefined],
        ]),
        card('Camera and vision', [
          ['Camera', r.services?.camera ? `${r.services.camera.state ?? r.services.camera.status} · ${pipe.cameraFps ?? 0} fps` : 'none'],
          ['Vision', `${pipe.visionFps ?? 0} fps`],
          ['Capture → result', pipe.captureToResultMs !== null && pipe.captureToResultMs !== undefined ? `${pipe.captureToResultMs} ms` : '—'],
          ['Per stage (ms)', stages ?? '—'],
          ['Recognition model', r.engine ? `${r.engine.recognitionModel} (${r.engine.precision})` : undefined],
          [
            'Re-embedding',
            r.services?.reembed && r.services.reembed.total > 0
              ? `${r.services.reembed.state} for ${r.services.reembed.model}: ${r.services.reembed.done} of ${r.services.reembed.total} people, ${r.services.reembed.failed} failed`
              : undefined,
          ],
          [
            'Operating point',
            r.services?.access?.operatingPoint?.threshold !== undefined
              ? `${r.services.access.operatingPoint.level}: threshold ${Number(r.services.access.operatingPoint.threshold).toFixed(4)}, margin ${Number(r.services.access.operatingPoint.margin).toFixed(3)} for ${r.services.access.operatingPoint.people} people`
              : undefined,
          ],
        ]),
        card(
          'Models',
          models.map((m) => [m.id, `${m.precision ?? ''} sha256 ${m.sha256.slice(0, 12)}…`]),
        ),
        card('Queues', [
          ['MQTT outbox', r.store?.mqttOutbox],
          ['Sync outbox', r.store?.syncOutbox],
          ['People', r.store?.people],
          ['Templates', r.store?.templates],
          ['Events', r.store?.events],
          ['Database', r.store ? `${Math.round(r.store.sizeBytes / 1024)} KB` : undefined],
        ]),
        ...(r.services?.sync ? [syncCard(r.services.sync, card)] : []),
        card(
          'Services',
          Object.entries(r.services ?? {}).map(([k, v]) => [k, (v as { status?: string }).status]),
        ),
        h('details.card', null, h('summary', null, 'Full report (JSON)'), h('pre.small', null, JSON.stringify(r, null, 2))),
      );
    } catch (e) {
      showError(null, e);
    }
  };
  void load();
  return root;
}

/** The sync service's state (/health services.sync, daemon/src/sync/syncService.ts): what an operator needs in words. */
function syncCard(
  s: {
    server?: string;
    org?: string;
    device?: string;
    connected?: boolean;
    lastSuccessAt?: string | null;
    lastError?: { at: string; message: string } | null;
    nextAttemptAt?: string | null;
    pending?: { people: number; attendance: number; oldestAt: string | null };
    reenrollmentNeeded?: number;
  },
  card: (title: string, rows: Array<[string, unknown]>) => HTMLElement,
): HTMLElement {
  const when = (t: string | null | undefined) => (t ? new Date(t).toLocaleString() : undefined);
  const el = card('Sync', [
    ['Sync server', `${s.server ?? ''} · organisation ${s.org ?? ''}`],
    ['This unit', s.device],
    ['Connected', s.connected ? 'yes' : 'no'],
    ['Last synced', when(s.lastSuccessAt) ?? 'never (people deactivated elsewhere still pass here until then)'],
    ['Last error', s.lastError ? `${s.lastError.message} (${when(s.lastError.at)})` : 'none'],
    ['Next attempt', when(s.nextAttemptAt)],
    ['Waiting to send', s.pending ? `${s.pending.people} people · ${s.pending.attendance} attendance rows` : undefined],
    ['Re-enrollment needed', s.reenrollmentNeeded],
  ]);
  el.id = 'sync-card';
  return el;
}

export function auditView(): HTMLElement {
  const list = h('ul.list', { id: 'audit-list' });
  void get<{ entries: Array<{ ts: string; actor: string; action: string; target: string | null; details: Record<string, unknown> | null }> }>(
    '/audit?limit=300',
  )
    .then(({ entries }) =>
      clear(
        list,
        entries.map((e) =>
          h(
            'li.item',
            null,
            h('time.small', { datetime: e.ts }, new Date(e.ts).toLocaleString()),
            h('span.grow', null, h('strong', null, e.actor), ' ', e.action, e.target ? h('span.muted', null, ` ${e.target}`) : ''),
            e.details ? h('span.small.muted.clip', null, JSON.stringify(e.details)) : '',
          ),
        ),
      ),
    )
    .catch((e: unknown) => showError(null, e));
  return h(
    'div',
    null,
    h('section.card', null, h('h1', null, 'Audit log'), h('p.muted', null, 'Every admin, MQTT and CLI action that changed the unit.')),
    h('section.card', null, list),
  );
}

export function usersView(session: Session): HTMLElement {
  const list = h('ul.list');
  const err = h('p.error', { hidden: true, role: 'alert' });
  const load = () =>
    get<Array<{ id: number; username: string; role: string; createdAt: string }>>('/users')
      .then((users) =>
        clear(
          list,
          users.map((u) =>
            h(
              'li.item',
              null,
              h('span.grow', null, h('strong', null, u.username), ` · ${u.role}`),
              u.id !== session.me.user?.id &&
                h(
                  'button.link',
                  {
                    onclick: async () => {
                      try {
                        await api('DELETE', `/users/${u.id}`);
                        void load();
                      } catch (e) {
                        showError(err, e);
                      }
                    },
                  },
                  'delete',
                ),
            ),
          ),
        ),
      )
      .catch((e: unknown) => showError(err, e));
  const add = h(
    'form.card',
    null,
    h('h2', null, 'Add an account'),
    h('label', null, 'User name', h('input', { name: 'username', required: true, autocapitalize: 'off' })),
    h(
      'label',
      null,
      'Password (10+ characters)',
      h('input', { name: 'password', type: 'password', required: true, minLength: 10, autocomplete: 'new-password' }),
    ),
    h('label', null, 'Role', h('select', { name: 'role' }, h('option', { value: 'viewer' }, 'viewer (read only)'), h('option', { value: 'admin' }, 'admin'))),
    err,
    h('button', { type: 'submit' }, 'Add'),
  );
  add.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(add);
    try {
      await api('POST', '/users', { username: String(f.get('username')).trim(), password: String(f.get('password')), role: String(f.get('role')) });
      add.reset();
      toast('Account added');
      void load();
    } catch (e2) {
      showError(err, e2);
    }
  });
  const pwErr = h('p.error', { hidden: true, role: 'alert' });
  const pw = h(
    'form.card',
    null,
    h('h2', null, 'Change your password'),
    h('label', null, 'Current password', h('input', { name: 'currentPassword', type: 'password', required: true, autocomplete: 'current-password' })),
    h('label', null, 'New password', h('input', { name: 'newPassword', type: 'password', required: true, minLength: 10, autocomplete: 'new-password' })),
    pwErr,
    h('button', { type: 'submit' }, 'Change password'),
  );
  pw.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(pw);
    try {
      await api('POST', '/auth/password', { currentPassword: String(f.get('currentPassword')), newPassword: String(f.get('newPassword')) });
      pw.reset();
      toast('Password changed; your other sessions were signed out');
    } catch (e2) {
      showError(pwErr, e2);
    }
  });
  if (session.me.user?.role === 'admin') void load();
  return h('div', null, session.me.user?.role === 'admin' && [h('section.card', null, h('h1', null, 'Accounts'), list), add], pw);
}
