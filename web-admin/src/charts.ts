/// <reference lib="dom" />
import uPlot from 'uplot';
import { h } from './dom.js';

/**
 * Charts drawn by uPlot (a maintained, small canvas chart library), each with the same numbers
 * as a table underneath (for screen readers, and for anyone who wants the exact values). Colours
 * come from the page's CSS variables, so the charts follow light and dark mode; the width follows
 * the card (a 390 px phone included).
 */

export interface ChartSeries {
  label: string;
  values: Array<number | null>;
  /** A CSS variable name (--accent) or a colour. */
  color: string;
  kind: 'bar' | 'line';
  /** Bars side by side: -1 left, 1 right, 0 centred. */
  align?: -1 | 0 | 1;
  /** 'y2' puts the series on a second axis on the right. */
  scale?: 'y' | 'y2';
  /** How the table shows a value (default: the number, or — for none). */
  format?: (v: number | null) => string;
}

export interface ChartSpec {
  id: string;
  title: string;
  /** One label per x position (hours, days, reasons). */
  labels: string[];
  series: ChartSeries[];
  yLabel: string;
  y2Label?: string;
  /** The table's first column header. */
  xName: string;
  note?: string;
}

function cssColor(c: string): string {
  if (!c.startsWith('--')) return c;
  return getComputedStyle(document.documentElement).getPropertyValue(c).trim() || '#888';
}

const fmt = (s: ChartSeries, v: number | null) => (s.format ? s.format(v) : v === null ? '—' : String(v));

/** A figure with the chart and its data table. Call the returned element's chart once it is in the document. */
export function chartFigure(spec: ChartSpec): HTMLElement {
  const plot = h('div.chart-plot', { 'aria-hidden': 'true' });
  const table = h(
    'table.chart-table',
    null,
    h('caption', null, `${spec.title} (numbers)`),
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        h('th', { scope: 'col' }, spec.xName),
        spec.series.map((s) => h('th', { scope: 'col' }, s.label)),
      ),
    ),
    h(
      'tbody',
      null,
      spec.labels.map((l, i) =>
        h(
          'tr',
          null,
          h('th', { scope: 'row' }, l),
          spec.series.map((s) => h('td', null, fmt(s, s.values[i] ?? null))),
        ),
      ),
    ),
  );
  const fig = h(
    'figure.chart',
    { id: spec.id, role: 'group', 'aria-label': spec.title },
    h('figcaption', null, h('h2', null, spec.title), spec.note ? h('p.muted.small', null, spec.note) : null),
    plot,
    h('details.chart-data', null, h('summary', null, 'Show the numbers'), h('div.scroll', null, table)),
  );
  // Drawn once the figure is laid out (uPlot needs a width).
  requestAnimationFrame(() => draw(plot, spec));
  return fig;
}

function draw(el: HTMLElement, spec: ChartSpec): void {
  if (!el.isConnected) return;
  const muted = cssColor('--muted');
  const line = cssColor('--line');
  const axis = (scale: string, label: string, side?: 1 | 3): uPlot.Axis => ({
    scale,
    label,
    side,
    stroke: muted,
    grid: { stroke: line, width: 1, show: scale === 'y' },
    ticks: { stroke: line, width: 1 },
    size: 40,
    labelSize: 18,
    font: '11px system-ui, sans-serif',
    labelFont: '11px system-ui, sans-serif',
  });
  const width = () => Math.max(260, el.clientWidth);
  const n = spec.labels.length;
  const every = Math.max(1, Math.ceil(n / Math.floor(width() / 44)));
  const opts: uPlot.Options = {
    width: width(),
    height: 220,
    legend: { show: true, live: false },
    cursor: { show: false },
    scales: {
      x: { time: false, range: [-0.6, n - 0.4] },
      y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
      y2: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] },
    },
    axes: [
      {
        stroke: muted,
        grid: { show: false },
        ticks: { stroke: line },
        font: '11px system-ui, sans-serif',
        splits: () => spec.labels.map((_, i) => i).filter((i) => i % every === 0),
        values: (_u, splits) => splits.map((i) => spec.labels[i] ?? ''),
        size: 30,
      },
      axis('y', spec.yLabel),
      ...(spec.y2Label ? [axis('y2', spec.y2Label, 1)] : []),
    ],
    series: [
      {},
      ...spec.series.map((s) => {
        const color = cssColor(s.color);
        return s.kind === 'bar'
          ? {
              label: s.label,
              scale: s.scale ?? 'y',
              stroke: color,
              fill: color,
              width: 0,
              paths: uPlot.paths.bars!({ size: [spec.series.filter((o) => o.kind === 'bar').length > 1 ? 0.4 : 0.7, 40], align: s.align ?? 0 }),
              points: { show: false },
            }
          : { label: s.label, scale: s.scale ?? 'y', stroke: color, width: 2, points: { show: true, size: 4, fill: color } };
      }),
    ],
  };
  const data: uPlot.AlignedData = [spec.labels.map((_, i) => i), ...spec.series.map((s) => s.values.map((v) => v ?? null))];
  const u = new uPlot(opts, data, el);
  new ResizeObserver(() => {
    if (el.isConnected && Math.abs(u.width - width()) > 2) u.setSize({ width: width(), height: 220 });
  }).observe(el);
}
