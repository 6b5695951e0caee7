/// <reference lib="dom" />
import { get } from '../api.js';
import { clear, daysAgo, fmtDateTime, h, showError, today } from '../dom.js';
import { DENY_REASONS, GRANT_REASONS } from '../../../daemon/src/access/reasons.js';
import type { AccessEventJson, AttendanceDayJson } from '../../../daemon/src/admin/apiTypes.js';

export type AccessEvent = AccessEventJson;

export function eventRow(e: AccessEvent): HTMLElement {
  const scores = [e.score !== null ? `score ${e.score.toFixed(2)}` : '', e.margin !== null ? `margin ${e.margin.toFixed(2)}` : ''].filter(Boolean).join(' · ');
  return h(
    'li.item.event',
    { dataset: { result: e.result } },
    h('span.badge', { class: e.result === 'GRANTED' ? 'ok' : 'bad' }, e.result),
    h(
      'span.grow',
      null,
      h('strong', null, e.personName ?? 'Unknown person'),
      h(
        'span.small.muted.block',
        null,
        h('time', { datetime: e.ts }, fmtDateTime(e.ts)),
        ' · ',
        e.reason.replace(/_/g, ' '),
        scores ? ` · ${scores}` : '',
        e.source !== 'camera' ? ` · ${e.source.replace(/_/g, ' ')}` : '',
      ),
    ),
  );
}

async function peopleOptions(select: HTMLSelectElement, selected = ''): Promise<void> {
  try {
    const { items: people } = await get<{ items: Array<{ id: string; name: string }> }>('/people?limit=500');
    for (const p of people) select.appendChild(h('option', { value: p.id, selected: p.id === selected }, p.name));
  } catch {
    /* the filter still works without names */
  }
}

/** The events list: filters and the page (beforeSeq) live in the URL, so a reload, a bookmark or a shared link shows the same rows. */
export function eventsView(params: URLSearchParams = new URLSearchParams()): HTMLElement {
  const person = h('select', { name: 'personId' }, h('option', { value: '' }, 'Everyone'));
  const result = h(
    'select',
    { name: 'result' },
    h('option', { value: '' }, 'All results'),
    h('option', { value: 'GRANTED' }, 'Granted'),
    h('option', { value: 'DENIED' }, 'Denied'),
  );
  const reason = h(
    'select',
    { name: 'reason' },
    h('option', { value: '' }, 'All reasons'),
    [...Object.keys(GRANT_REASONS), ...Object.keys(DENY_REASONS)].map((r) => h('option', { value: r }, r.replace(/_/g, ' '))),
  );
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') ?? daysAgo(7) });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') ?? today() });
  const list = h('ul.list', { id: 'events-list' });
  const newer = h('button.secondary', { id: 'events-newer', type: 'button', hidden: true }, '← Newer');
  const older = h('button.secondary', { id: 'events-older', type: 'button', hidden: true }, 'Older →');
  const pageInfo = h('span.muted.small', { id: 'events-page' });
  const csv = h('a.button.secondary', { id: 'events-csv', href: '#', download: '' }, 'Export CSV');
  const err = h('p.error', { hidden: true, role: 'alert' });
  const PAGE = 50;
  let before = Number(params.get('beforeSeq') ?? 0) || 0;
  /** The beforeSeq of the pages before this one (for "Newer"). */
  const trail: number[] = [];
  let page = 1;

  const query = () => {
    const q = new URLSearchParams();
    if (person.value) q.set('personId', person.value);
    if (result.value) q.set('result', result.value);
    if (reason.value) q.set('reason', reason.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    return q;
  };
  const load = async () => {
    const q = query();
    csv.href = '/api/v1/events.csv?' + q.toString();
    if (before) q.set('beforeSeq', String(before));
    history.replaceState(null, '', `#/events?${q.toString()}`);
    q.set('limit', String(PAGE));
    try {
      err.hidden = true;
      const { events } = await get<{ events: AccessEvent[] }>('/events?' + q.toString());
      clear(list, events.map(eventRow));
      if (events.length === 0) list.append(h('li.muted', null, 'No events match these filters.'));
      older.hidden = events.length < PAGE;
      older.dataset.next = String(events.at(-1)?.seq ?? 0);
      newer.hidden = before === 0;
      pageInfo.textContent = events.length ? `Page ${page}: ${events.length} events, ${fmtDateTime(events[0]!.ts)} to ${fmtDateTime(events.at(-1)!.ts)}` : '';
    } catch (e) {
      showError(err, e);
    }
  };
  older.addEventListener('click', () => {
    trail.push(before);
    before = Number(older.dataset.next);
    page++;
    void load();
  });
  newer.addEventListener('click', () => {
    before = trail.pop() ?? 0;
    page = Math.max(1, page - 1);
    void load();
  });
  for (const el of [person, result, reason, from, to])
    el.addEventListener('change', () => {
      before = 0;
      trail.length = 0;
      page = 1;
      void load();
    });
  if (params.get('result')) result.value = params.get('result')!;
  if (params.get('reason')) reason.value = params.get('reason')!;
  void peopleOptions(person, params.get('personId') ?? '').then(load);
  return h(
    'div',
    null,
    h(
      'section.card',
      null,
      h('h1', null, 'Events'),
      h(
        'div.filters',
        null,
        h('label', null, 'Person', person),
        h('label', null, 'Result', result),
        h('label', null, 'Reason', reason),
        h('label', null, 'From', from),
        h('label', null, 'To', to),
      ),
      h('div.row', null, csv),
    ),
    err,
    h('section.card', null, list, h('div.row.wrap', null, newer, pageInfo, older)),
  );
}

type AttendanceDay = AttendanceDayJson;

export function attendanceView(params: URLSearchParams = new URLSearchParams()): HTMLElement {
  const person = h('select', { name: 'personId' }, h('option', { value: '' }, 'Everyone'));
  const from = h('input', { type: 'date', name: 'from', value: params.get('from') ?? daysAgo(7) });
  const to = h('input', { type: 'date', name: 'to', value: params.get('to') ?? today() });
  const body = h('tbody');
  const info = h('p.muted');
  const csv = h('a.button.secondary', { id: 'attendance-csv', href: '#', download: '' }, 'Export CSV');
  const err = h('p.error', { hidden: true, role: 'alert' });
  const load = async () => {
    const q = new URLSearchParams();
    if (person.value) q.set('personId', person.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    csv.href = '/api/v1/attendance.csv?' + q.toString();
    history.replaceState(null, '', `#/attendance?${q.toString()}`);
    try {
      err.hidden = true;
      const r = await get<{ shiftStart: string; graceMinutes: number; days: AttendanceDay[] }>('/attendance?' + q.toString());
      info.textContent = `Shift starts ${r.shiftStart}; arrivals more than ${r.graceMinutes} min later are late.`;
      clear(
        body,
        r.days.length
          ? r.days.map((d) =>
              h(
                'tr',
                { class: d.late ? 'late' : '' },
                h('td', null, d.day),
                h('td', null, d.personName),
                h('td', null, d.checkIn ? new Date(d.checkIn).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '—'),
                h('td', null, d.checkOut ? new Date(d.checkOut).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : '—'),
                h('td', null, d.late ? h('span.badge.late', null, 'LATE') : d.status ? h('span.badge.ok', null, 'on time') : ''),
              ),
            )
          : h('tr', null, h('td', { colSpan: 5, class: 'muted' }, 'No attendance in this period.')),
      );
    } catch (e) {
      showError(err, e);
    }
  };
  for (const el of [person, from, to]) el.addEventListener('change', () => void load());
  void peopleOptions(person, params.get('personId') ?? '').then(load);
  return h(
    'div',
    null,
    h(
      'section.card',
      null,
      h('h1', null, 'Attendance'),
      info,
      h('div.filters', null, h('label', null, 'Person', person), h('label', null, 'From', from), h('label', null, 'To', to)),
      h('div.row.wrap', null, csv, h('a.button.secondary', { href: '#/reports' }, 'Timesheets →')),
    ),
    err,
    h(
      'section.card.scroll',
      null,
      h(
        'table#attendance-table',
        null,
        h('thead', null, h('tr', null, h('th', null, 'Day'), h('th', null, 'Person'), h('th', null, 'In'), h('th', null, 'Out'), h('th', null, 'Status'))),
        body,
      ),
    ),
  );
}
