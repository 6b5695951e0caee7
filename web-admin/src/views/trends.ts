/// <reference lib="dom" />
import { get } from '../api.js';
import { chartFigure } from '../charts.js';
import { clear, h, localClock } from '../dom.js';
import type {
  CheckInsPerHourJson,
  DeniedByReasonJson,
  LateByDayJson,
  PresentJson,
  RecognitionHealthJson,
  PunctualityRules,
} from '../../../daemon/src/admin/apiTypes.js';

const PALETTE = ['--accent', '--bad', '--warn', '--ok', '#a855f7', '#0d9488', '#db2777'];

/** "2026-03-14" → "14 Mar" */
function shortDay(day: string): string {
  const [, m, d] = day.split('-');
  return `${Number(d)} ${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][Number(m) - 1]}`;
}

/** The dashboard's trend charts (uPlot, each with its numbers as a table), refreshed every minute while shown. */
export function trendsSection(): HTMLElement {
  const root = h('section.trends', { 'aria-label': 'Attendance trends' }, h('p.muted', null, 'Loading charts…'));

  const load = async () => {
    try {
      const [rules, perHour, late, present, denied, health] = await Promise.all([
        get<PunctualityRules>('/reports/rules'),
        get<CheckInsPerHourJson>('/reports/checkins-per-hour'),
        get<LateByDayJson>('/reports/late-by-day?days=30'),
        get<PresentJson>('/reports/present'),
        get<DeniedByReasonJson>('/reports/denied-by-reason?days=7'),
        get<RecognitionHealthJson>('/reports/recognition-health'),
      ]);
      const clock = (iso: string) => localClock(iso, rules.timeZone);
      clear(
        root,
        h(
          'section.card',
          null,
          chartFigure({
            id: 'chart-checkins',
            title: 'Check-ins per hour today',
            note: `Today (${perHour.day}) against the usual ${new Date(perHour.day + 'T12:00:00Z').toLocaleDateString('en-GB', { weekday: 'long', timeZone: 'UTC' })}: the average of ${perHour.comparedWith.join(', ')}.`,
            xName: 'Hour',
            labels: perHour.hours.map((x) => x.label),
            yLabel: 'check-ins',
            series: [
              { label: 'Today', values: perHour.hours.map((x) => x.today), color: '--accent', kind: 'bar' },
              { label: 'Usual (4-week average)', values: perHour.hours.map((x) => x.usual), color: '--warn', kind: 'line' },
            ],
          }),
        ),
        h(
          'section.card',
          { id: 'present-now' },
          h('h2', null, `In now: `, h('span#present-count', null, String(present.count))),
          h('p.muted.small', null, 'Checked in today and not checked out (a person who leaves without being seen by the camera stays listed until tomorrow).'),
          present.people.length
            ? h(
                'ul.list.compact',
                { id: 'present-list' },
                present.people.map((p) =>
                  h('li.item', null, h('span.grow', null, p.personName || p.personId), h('span.muted', null, `since ${clock(p.checkIn)}`)),
                ),
              )
            : h('p.muted', null, 'Nobody is checked in.'),
        ),
        h(
          'section.card',
          null,
          chartFigure({
            id: 'chart-late',
            title: 'Late arrivals per day (30 days)',
            note: `Late = first check-in after ${late.rules.shiftStart} + ${late.rules.graceMinutes} min grace, with today's rules (reports recompute).`,
            xName: 'Day',
            labels: late.days.map((d) => shortDay(d.day)),
            yLabel: 'people late',
            series: [
              { label: 'Late', values: late.days.map((d) => d.late), color: '--bad', kind: 'bar' },
              { label: 'Checked in', values: late.days.map((d) => d.checkIns), color: '--muted', kind: 'line' },
              { label: 'Late minutes', values: late.days.map((d) => d.lateMinutes), color: '--warn', kind: 'line', scale: 'y2' },
            ],
            y2Label: 'minutes',
          }),
        ),
        h(
          'section.card',
          null,
          chartFigure({
            id: 'chart-denied',
            title: 'Denied attempts by reason (7 days)',
            note: 'A spike of liveness failed or unknown faces is worth a look (a spoofing attempt, a camera moved, bad light).',
            xName: 'Day',
            labels: denied.days.map(shortDay),
            yLabel: 'denied',
            series: denied.reasons.map((r, i) => ({
              label: r.reason.replace(/_/g, ' '),
              values: r.perDay,
              color: PALETTE[i % PALETTE.length]!,
              kind: 'line' as const,
            })),
          }),
          h(
            'p.small',
            { id: 'denied-totals' },
            denied.reasons.length ? denied.reasons.map((r) => `${r.reason.replace(/_/g, ' ')}: ${r.total}`).join(' · ') : 'No denied attempts in 7 days.',
          ),
        ),
        h(
          'section.card',
          null,
          chartFigure({
            id: 'chart-health',
            title: 'Recognition health today',
            note: `Grants ${health.granted}, denials ${health.denied}; median unlock latency ${health.medianLatencyMs === null ? '—' : `${Math.round(health.medianLatencyMs)} ms`} (first frame of a face to the decision, camera grants).`,
            xName: 'Hour',
            labels: health.hours.map((x) => x.label),
            yLabel: 'decisions',
            y2Label: 'ms',
            series: [
              { label: 'Granted', values: health.hours.map((x) => x.granted), color: '--ok', kind: 'bar', align: -1 },
              { label: 'Denied', values: health.hours.map((x) => x.denied), color: '--bad', kind: 'bar', align: 1 },
              {
                label: 'Median latency (ms)',
                values: health.hours.map((x) => (x.medianLatencyMs === null ? null : Math.round(x.medianLatencyMs))),
                color: '--accent',
                kind: 'line',
                scale: 'y2',
              },
            ],
          }),
        ),
      );
    } catch (err) {
      clear(root, h('p.error', null, `Charts unavailable: ${(err as Error).message}`));
    }
  };
  let started = false;
  const tick = async () => {
    if (started && !root.isConnected) return;
    started = true;
    await load();
    if (root.isConnected) window.setTimeout(tick, 60_000);
  };
  void tick();
  return root;
}
