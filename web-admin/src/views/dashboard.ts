/// <reference lib="dom" />
import { api, get } from '../api.js';
import { clear, confirmDialog, fmtTime, h, showError, toast } from '../dom.js';
import { liveView } from '../liveView.js';
import type { Session } from '../session.js';
import { eventRow } from './events.js';
import { trendsSection } from './trends.js';
import type { DashboardJson } from '../../../daemon/src/admin/apiTypes.js';

type Dashboard = DashboardJson;

const MODE_LABEL: Record<string, string> = { normal: 'Normal', lockdown: 'LOCKDOWN', held_unlocked: 'Held unlocked' };

export function dashboardView(session: Session): HTMLElement {
  const doorCard = h('section.card.door', { 'aria-live': 'polite' });
  const tiles = h('section.tiles');
  const recent = h('section.card', null);
  const present = h('section.card', null);
  const trends = trendsSection();
  const root = h('div.dashboard', null, doorCard, tiles, trends, h('section.card', null, h('h2', null, 'Camera'), liveView()), recent, present);

  const command = async (path: string, body: unknown, what: string) => {
    try {
      await api('POST', path, body);
      toast(what);
      await refresh();
    } catch (err) {
      showError(null, err);
    }
  };

  const refresh = async () => {
    let d: Dashboard;
    try {
      d = await get<Dashboard>('/dashboard');
    } catch (err) {
      clear(doorCard, h('p.error', null, (err as Error).message));
      return;
    }
    const unlocked = d.door.relay === 'on';
    const isAdmin = session.me.user?.role === 'admin';
    clear(
      doorCard,
      h(
        'div.door-state',
        { class: unlocked ? 'unlocked' : 'locked' },
        h('span.big', { id: 'door-state' }, unlocked ? 'Unlocked' : 'Locked'),
        h(
          'span.muted',
          null,
          `Mode: ${MODE_LABEL[d.door.mode] ?? d.door.mode}`,
          d.door.contact ? ` · door ${d.door.contact}` : '',
          d.door.unlockReason ? ` · ${d.door.unlockReason}` : '',
        ),
      ),
      isAdmin &&
        h(
          'div.row.wrap',
          null,
          h(
            'button.primary.big-button',
            {
              id: 'unlock-now',
              disabled: d.door.mode === 'lockdown',
              onclick: async () => {
                if (await confirmDialog('Unlock the door now? This is recorded in the audit log under your name.', 'Unlock now', false))
                  await command('/door/unlock', {}, 'Door unlocked');
              },
            },
            'Unlock now',
          ),
          d.door.mode === 'lockdown'
            ? h('button.secondary', { onclick: () => command('/door/lockdown', { on: false }, 'Lockdown ended') }, 'End lockdown')
            : h(
                'button.danger',
                {
                  onclick: async () => {
                    if (await confirmDialog('Lock down the door? Nobody will be let in by face until lockdown ends.', 'Lock down'))
                      await command('/door/lockdown', { on: true }, 'Lockdown on');
                  },
                },
                'Lockdown',
              ),
          d.door.mode === 'held_unlocked'
            ? h('button.secondary', { onclick: () => command('/door/held-unlocked', { on: false }, 'Back to normal') }, 'End hold')
            : d.door.mode === 'normal' &&
                h(
                  'button.secondary',
                  {
                    onclick: async () => {
                      if (await confirmDialog('Hold the door unlocked until you end it?', 'Hold unlocked', false))
                        await command('/door/held-unlocked', { on: true }, 'Held unlocked');
                    },
                  },
                  'Hold unlocked',
                ),
        ),
    );
    clear(
      tiles,
      tile('Granted today', d.counts.granted, 'granted'),
      tile('Denied today', d.counts.denied, 'denied'),
      tile('Present', d.counts.present, ''),
      tile('Late', d.counts.late, d.counts.late ? 'late' : ''),
    );
    clear(
      recent,
      h('h2', null, 'Recent decisions'),
      d.recent.length ? h('ul.list', { id: 'recent-events' }, d.recent.map(eventRow)) : h('p.muted', null, 'No decisions yet.'),
      h('a.more', { href: '#/events' }, 'All events →'),
    );
    clear(
      present,
      h('h2', null, `Attendance today (${d.today})`),
      d.attendance.length
        ? h(
            'ul.list',
            { id: 'today-attendance' },
            d.attendance.map((a) =>
              h(
                'li.item',
                null,
                h('span.grow', null, a.personName),
                h('span', null, `in ${fmtTime(a.checkIn)}`, a.checkOut ? ` · out ${fmtTime(a.checkOut)}` : ''),
                a.late ? h('span.badge.late', null, 'LATE') : h('span.badge.ok', null, 'on time'),
              ),
            ),
          )
        : h('p.muted', null, 'Nobody has checked in yet today.'),
    );
  };

  // Refresh every 3 s while the dashboard is on screen; stop once it is replaced.
  let started = false;
  const tick = async () => {
    if (started && !root.isConnected) return;
    started = true;
    await refresh();
    if (root.isConnected) window.setTimeout(tick, 3000);
  };
  void tick();
  return root;
}

function tile(label: string, value: number, kind: string): HTMLElement {
  return h('div.tile', { class: kind }, h('span.value', null, String(value)), h('span.label', null, label));
}
