/// <reference lib="dom" />
import { h } from './dom.js';
import type { FrameMetaJson } from '../../daemon/src/admin/apiTypes.js';

export type FrameMeta = FrameMetaJson;

/**
 * The camera, polled as single JPEGs (~3 fps; one request at a time, so a slow phone on
 * Wi-Fi never builds a queue), drawn on a canvas with face boxes and names. Stops when the
 * element leaves the page or the tab is hidden.
 */
export function liveView(
  onMeta?: (meta: FrameMeta | null, error: string | null) => void,
  options: { url?: string; periodMs?: number; names?: boolean } = {},
): HTMLElement {
  const url = options.url ?? '/api/v1/live/frame';
  const period = options.periodMs ?? 330;
  const canvas = h('canvas', { width: 640, height: 480, 'aria-label': 'live camera view' });
  const status = h('p.muted.live-status', null, 'Connecting to the camera…');
  const note = h('p.small.muted.live-note', { hidden: true }, 'Live picture only: face boxes and names are not available on this unit yet.');
  const wrap = h('div.live', null, canvas, status);
  const outer = h('div', null, wrap, note);
  const ctx = canvas.getContext('2d')!;
  let stopped = false;

  const draw = async (blob: Blob, meta: FrameMeta) => {
    const bmp = await createImageBitmap(blob);
    if (canvas.width !== bmp.width || canvas.height !== bmp.height) Object.assign(canvas, { width: bmp.width, height: bmp.height });
    ctx.drawImage(bmp, 0, 0);
    bmp.close();
    const scale = canvas.width / (meta.width || canvas.width);
    ctx.lineWidth = Math.max(2, canvas.width / 200);
    ctx.font = `${Math.max(14, Math.round(canvas.width / 30))}px system-ui, sans-serif`;
    for (const f of meta.faces) {
      const { x, y, width, height } = f.box;
      const ok = f.name !== null && f.status !== 'DEACTIVATED';
      // A deactivated person is named (the door recognises and denies them), in red.
      ctx.strokeStyle = ok ? '#1f9d55' : f.status === 'DEACTIVATED' ? '#dc2626' : f.quality?.problems.length ? '#d97706' : '#2563eb';
      ctx.strokeRect(x * scale, y * scale, width * scale, height * scale);
      const label = f.name
        ? `${f.name}${f.status === 'DEACTIVATED' ? ' (deactivated)' : ''}${f.score !== null ? ` ${f.score.toFixed(2)}` : ''}`
        : (f.quality?.problems[0] ?? (options.names === false ? 'face' : 'unknown'));
      const tw = ctx.measureText(label).width + 8;
      const th = parseInt(ctx.font, 10) + 6;
      ctx.fillStyle = ctx.strokeStyle;
      ctx.fillRect(x * scale, Math.max(0, y * scale - th), tw, th);
      ctx.fillStyle = '#fff';
      ctx.fillText(label, x * scale + 4, Math.max(th - 6, y * scale - 6));
    }
  };

  const loop = async () => {
    while (!stopped) {
      if (!wrap.isConnected) {
        // Not attached yet (first run) or the page changed: give it a moment, then stop.
        await new Promise((r) => setTimeout(r, 200));
        if (!wrap.isConnected) break;
      }
      if (document.hidden) {
        await new Promise((r) => setTimeout(r, 1000));
        continue;
      }
      const started = performance.now();
      try {
        const res = await fetch(url, { credentials: 'same-origin', cache: 'no-store' });
        if (!res.ok) {
          const body = (await res.json().catch(() => ({}))) as { message?: string };
          status.textContent = body.message ?? `camera unavailable (${res.status})`;
          status.hidden = false;
          wrap.classList.add('unavailable');
          onMeta?.(null, status.textContent);
          await new Promise((r) => setTimeout(r, 3000));
          continue;
        }
        const meta = JSON.parse(res.headers.get('x-frame-meta') ?? '{"faces":[]}') as FrameMeta;
        await draw(await res.blob(), meta);
        status.hidden = true;
        note.hidden = meta.analysed !== false;
        wrap.classList.remove('unavailable');
        onMeta?.(meta, null);
      } catch {
        status.textContent = 'camera connection lost; retrying…';
        status.hidden = false;
        await new Promise((r) => setTimeout(r, 2000));
      }
      await new Promise((r) => setTimeout(r, Math.max(0, period - (performance.now() - started))));
    }
  };
  queueMicrotask(() => void loop());
  (outer as HTMLElement & { stop?: () => void }).stop = () => (stopped = true);
  return outer;
}
