/// <reference lib="dom" />
import { get } from '../api.js';
import { clear, h, localClock, showError, today } from '../dom.js';
import type { PunctualityRules, TimesheetJson } from '../../../daemon/src/admin/apiTypes.js';

const hours = (min: number) => `${Math.floor(min / 60)}:${String(min % 60).padStart(2, '0')}`;

/** The rules every report applies, said where the report is read. */
export function rulesBox(r: PunctualityRules): HTMLElement {
  return h(
    'div.rules.small',
    { id: 'report-rules' },
    h(
      'p',
      null,
      `Late = first check-in after ${r.shiftStart} + ${r.graceMinutes} min grace; late minutes count from ${r.shiftStart}. Expected days: the person's weekly schedule, or ${r.workDays.join(', ')} without one. `,
      'Change these in ',
      h('a', { href: '#/settings' }, 'Settings → Attendance and shift'),
      '.',
    ),
    h(
      'p',
      null,
      'Reports recompute: past days are judged by the rules in force now, so changing them changes past reports. The status recorded at check-in (in the attendance log, MQTT and sync) is not rewritten.',
    ),
    h('p', null, `Hours present = last check-out − first check-in. ${r.missingCheckOut} Times are in the unit's time zone, ${r.timeZone}.`),
  );
}

/** Downloads an export with fetch, showing how much has arrived (long exports stream). */
async function download(url: string, progress: HTMLElement): Promise<void> {
  progress.textContent = 'Starting export…';
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => ({}))) as { message?: string };
    throw new Error(body.message ?? `export failed (${res.status})`);
  }
  const name = /filename="([^"]+)"/.exec(res.headers.get('content-disposition') ?? '')?.[1] ?? 'timesheet';
  const totalDays = Number(res.headers.get('x-export-days') ?? 0);
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let bytes = 0;
  const decoder = new TextDecoder();
  let lastDay = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    bytes += value.length;
    if (name.endsWith('.csv')) {
      const m = decoder.decode(value.slice(-400), { stream: false }).match(/\r\n(\d{4}-\d{2}-\d{2}),/g);
      if (m) lastDay = m.at(-1)!.slice(2, 12);
    }
    progress.textContent = `Exporting… ${(bytes / 1024).toFixed(0)} KB${lastDay ? `, up to ${lastDay}` : ''}${totalDays ? ` (${totalDays} days)` : ''}`;
  }
  const a = h('a', { href: URL.createObjectURL(new Blob(parts as BlobPart[], { type: res.headers.get('content-type') ?? '' })), download: name });
  document.body.appendChild(a);
  a.click();
  a.remove();
  progress.textContent = `Exported ${name} (${(bytes / 1024).toFixed(0)} KB)`;
}

/** Timesheets: one person or everyone, for a day, week, month or custom range; CSV and XLSX exports. State in the URL. */
export function reportsView(params: URLSearchParams): HTMLElement {
  const person = h('select', { name: 'personId', id: 'report-person' }, h('option', { value: '' }, 'Everyone (per-day summary)'));
  const period = h(
    'select',
    { name: 'period', id: 'report-period' },
    ['day', 'week', 'month', 'custom'].map((p) => h('option', { value: p }, p[0]!.toUpperCase() + p.slice(1))),
  );
  const day = h('input', { type: 'date', name: 'day', id: 'report-day', value: params.get('day') ?? today() });
  const from = h('input', { type: 'date', name: 'from', id: 'report-from', value: params.get('from') ?? '' });
  const to = h('input', { type: 'date', name: 'to', id: 'report-to', value: params.get('to') ?? '' });
  period.value = params.get('period') ?? 'month';
  const rules = h('div');
  const out = h('section.card.scroll', { id: 'report-result' });
  const err = h('p.error', { hidden: true, role: 'alert' });
  const progress = h('p.small.muted.progress', { id: 'export-progress', role: 'status', 'aria-live': 'polite' });
  const dayLabel = h('label', null, 'Day in period', day);
  const fromLabel = h('label', null, 'From', from);
  const toLabel = h('label', null, 'To', to);

  const query = () => {
    const q = new URLSearchParams();
    if (person.value) q.set('personId', person.value);
    q.set('period', period.value);
    if (period.value === 'custom') {
      if (from.value) q.set('from', from.value);
      if (to.value) q.set('to', to.value);
    } else if (day.value) q.set('day', day.value);
    return q;
  };

  const load = async () => {
    const custom = period.value === 'custom';
    dayLabel.hidden = custom;
    fromLabel.hidden = toLabel.hidden = !custom;
    const q = query();
    history.replaceState(null, '', `#/reports?${q.toString()}`);
    if (custom && (!from.value || !to.value)) return clear(out, h('p.muted', null, 'Choose the first and last day.'));
    try {
      err.hidden = true;
      const r = await get<TimesheetJson>('/reports/timesheet?' + q.toString());
      clear(rules, rulesBox(r.rules));
      const tz = r.rules.timeZone;
      const title = h('h2', { id: 'report-title' }, `${r.person ? r.person.name : 'Everyone'}: ${r.period.from} to ${r.period.to}`);
      if (r.days && r.totals) {
        const t = r.totals;
        clear(
          out,
          title,
          h(
            'p#report-totals',
            null,
            `Present ${t.daysPresent} of ${t.scheduledDays} scheduled days · ${hours(t.minutesPresent)} h · late ${t.lateCount}× (${t.lateMinutes} min) · absent ${t.absences} · no check-out ${t.missingCheckOuts}`,
          ),
          h(
            'table#timesheet-table',
            null,
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['Day', 'First in', 'Last out', 'Hours', 'Late (min)', 'Note'].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              null,
              r.days.map((d) =>
                h(
                  'tr',
                  { class: d.absent ? 'absent' : d.late ? 'late' : '', dataset: { day: d.day } },
                  h('td', null, `${d.weekday} ${d.day}`),
                  h('td', null, localClock(d.firstIn, tz)),
                  h('td', null, localClock(d.lastOut, tz)),
                  h('td', null, d.firstIn && d.lastOut ? hours(d.minutesPresent) : '—'),
                  h('td', null, d.late ? String(d.lateMinutes) : ''),
                  h(
                    'td',
                    null,
                    [
                      d.absent ? 'absent' : '',
                      d.missingCheckOut ? 'no check-out (0 h)' : '',
                      d.stillIn ? 'in now' : '',
                      !d.scheduled && d.firstIn ? 'unscheduled day' : '',
                    ]
                      .filter(Boolean)
                      .join(', '),
                  ),
                ),
              ),
              h(
                'tr.totals',
                null,
                h('th', { scope: 'row' }, 'Total'),
                h('td', null, ''),
                h('td', null, ''),
                h('td', null, hours(t.minutesPresent)),
                h('td', null, String(t.lateMinutes)),
                h('td', null, `${t.lateCount} late, ${t.absences} absent, ${t.missingCheckOuts} no check-out`),
              ),
            ),
          ),
        );
      } else {
        clear(
          out,
          title,
          h(
            'table#summary-table',
            null,
            h(
              'thead',
              null,
              h(
                'tr',
                null,
                ['Day', 'Expected', 'Present', 'Late', 'Late min', 'Absent', 'No check-out', 'Hours'].map((c) => h('th', { scope: 'col' }, c)),
              ),
            ),
            h(
              'tbody',
              null,
              (r.summary ?? []).map((d) =>
                h(
                  'tr',
                  { dataset: { day: d.day } },
                  h('td', null, `${d.weekday} ${d.day}`),
                  [d.scheduled, d.present, d.late, d.lateMinutes, d.absent, d.missingCheckOuts].map((v) => h('td', null, String(v))),
                  h('td', null, hours(d.minutesPresent)),
                ),
              ),
            ),
          ),
        );
      }
    } catch (e) {
      showError(err, e);
    }
  };
  const exportButton = (ext: 'csv' | 'xlsx') =>
    h(
      'button.secondary',
      {
        id: `export-${ext}`,
        type: 'button',
        onclick: () => download(`/api/v1/reports/timesheet.${ext}?${query().toString()}`, progress).catch((e: unknown) => showError(err, e)),
      },
      `Export ${ext.toUpperCase()}`,
    );
  for (const el of [person, period, day, from, to]) el.addEventListener('change', () => void load());
  // The picker holds up to 500 names; at a larger site, the search box narrows it (and a person in the URL is always there).
  const search = h('input', { type: 'search', id: 'report-person-search', placeholder: 'Find a person', 'aria-label': 'Find a person' });
  const fill = async (q: string) => {
    const { items } = await get<{ items: Array<{ id: string; name: string }> }>(`/people?limit=500${q ? `&search=${encodeURIComponent(q)}` : ''}`);
    const keep = person.value;
    clear(
      person,
      h('option', { value: '' }, 'Everyone (per-day summary)'),
      items.map((p) => h('option', { value: p.id }, p.name)),
    );
    const wanted = keep || params.get('personId') || '';
    if (wanted && !items.some((p) => p.id === wanted)) {
      const p = await get<{ id: string; name: string }>(`/people/${encodeURIComponent(wanted)}`).catch(() => null);
      if (p) person.appendChild(h('option', { value: p.id }, p.name));
    }
    person.value = wanted;
  };
  let searchTimer: number | undefined;
  search.addEventListener('input', () => {
    window.clearTimeout(searchTimer);
    searchTimer = window.setTimeout(() => void fill(search.value.trim()).catch(() => {}), 250);
  });
  void fill('')
    .catch(() => {})
    .then(load);
  return h(
    'div',
    null,
    h(
      'section.card',
      null,
      h('h1', null, 'Timesheets'),
      rules,
      h('div.filters', null, h('label', null, 'Person', search, person), h('label', null, 'Period', period), dayLabel, fromLabel, toLabel),
      h('div.row.wrap', null, exportButton('csv'), exportButton('xlsx')),
      progress,
    ),
    err,
    out,
  );
}
