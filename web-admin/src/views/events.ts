/// <reference lib="dom" />
import { get } from '../api.js';
import { clear, daysAgo, fmtDateTime, h, showError, today } from '../dom.js';
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

export function eventsView(params: URLSearchParams = new URLSearchParams()): HTMLElement {
  const person = h('select', { name: 'personId' }, h('option', { value: '' }, 'Everyone'));
  const result = h(
    'select',
    { name: 'result' },
    h('option', { value: '' }, 'All results'),
    h('option', { value: 'GRANTED' }, 'Granted'),
    h('option', { value: 'DENIED' }, 'Denied'),
  );
  const from = h('input', { type: 'date', name: 'from', value: daysAgo(7) });
  const to = h('input', { type: 'date', name: 'to', value: today() });
  const list = h('ul.list', { id: 'events-list' });
  const more = h('button.secondary', { hidden: true }, 'Load more');
  const csv = h('a.button.secondary', { id: 'events-csv', href: '#', download: '' }, 'Export CSV');
  const err = h('p.error', { hidden: true, role: 'alert' });
  let before = 0;

  const query = () => {
    const q = new URLSearchParams();
    if (person.value) q.set('personId', person.value);
    if (result.value) q.set('result', result.value);
    if (from.value) q.set('from', from.value);
    if (to.value) q.set('to', to.value);
    return q;
  };
  const load = async (append: boolean) => {
    const q = query();
    csv.href = '/api/v1/events.csv?' + q.toString();
    q.set('limit', '50');
    if (append && before) q.set('beforeSeq', String(before));
    try {
      err.hidden = true;
      const { events } = await get<{ events: AccessEvent[] }>('/events?' + q.toString());
      if (!append) clear(list);
      list.append(...events.map(eventRow));
      if (!append && events.length === 0) list.append(h('li.muted', null, 'No events match these filters.'));
      before = events.at(-1)?.seq ?? 0;
      more.hidden = events.length < 50;
    } catch (e) {
      showError(err, e);
    }
  };
  more.addEventListener('click', () => void load(true));
  for (const el of [person, result, from, to]) el.addEventListener('change', () => void load(false));
  if (params.get('result')) result.value = params.get('result')!;
  void peopleOptions(person, params.get('personId') ?? '').then(() => load(false));
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
        h('label', null, 'From', from),
        h('label', null, 'To', to),
      ),
      h('div.row', null, csv),
    ),
    err,
    h('section.card', null, list, more),
  );
}

type AttendanceDay = AttendanceDayJson;

export function attendanceView(): HTMLElement {
  const person = h('select', { name: 'personId' }, h('option', { value: '' }, 'Everyone'));
  const from = h('input', { type: 'date', name: 'from', value: daysAgo(7) });
  const to = h('input', { type: 'date', name: 'to', value: today() });
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
  void peopleOptions(person).then(load);
  return h(
    'div',
    null,
    h(
      'section.card',
      null,
      h('h1', null, 'Attendance'),
      info,
      h('div.filters', null, h('label', null, 'Person', person), h('label', null, 'From', from), h('label', null, 'To', to)),
      h('div.row', null, csv),
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
