/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
import { api, get, ApiError } from '../api.js';
import { clear, confirmDialog, fmtDateTime, h, showError, toast } from '../dom.js';
import { liveView, type FrameMeta } from '../liveView.js';
import type { Session } from '../session.js';
import type { PeoplePageJson, PersonJson } from '../../../daemon/src/admin/apiTypes.js';

export type Person = PersonJson;
type Window_ = NonNullable<Person['schedule']>[number];

const DAYS: Window_['days'] = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];

function avatar(p: Person): HTMLElement {
  return p.hasThumbnail
    ? h('img.avatar', { src: `/api/v1/people/${encodeURIComponent(p.id)}/thumbnail?v=${encodeURIComponent(p.updatedAt)}`, alt: '', loading: 'lazy' })
    : h(
        'span.avatar.initials',
        { 'aria-hidden': 'true' },
        p.name
          .split(/\s+/)
          .map((w) => w[0])
          .join('')
          .slice(0, 2)
          .toUpperCase(),
      );
}

/** One page of GET /api/v1/people. */
type PeoplePage = PeoplePageJson;

type StatusFilter = '' | 'ACTIVE' | 'DEACTIVATED';
type SortOrder = 'name' | '-name';

/** What the list shows; kept in the URL hash (#/people?search=…&status=…&sort=…&after=…) so reload and back/forward keep it. */
interface ListState {
  search: string;
  status: StatusFilter;
  sort: SortOrder;
  after: string;
  before: string;
}

const PAGE_SIZE = 100;
const fmtCount = (n: number) => n.toLocaleString('en-US');

function readListState(): ListState {
  const q = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = q.get('status') ?? '';
  return {
    search: q.get('search') ?? '',
    status: status === 'ACTIVE' || status === 'DEACTIVATED' ? status : '',
    sort: q.get('sort') === '-name' ? '-name' : 'name',
    after: q.get('after') ?? '',
    before: q.get('before') ?? '',
  };
}

function listQuery(s: ListState, forApi: boolean): string {
  const q = new URLSearchParams();
  if (forApi) q.set('limit', String(PAGE_SIZE));
  if (s.search.trim()) q.set('search', forApi ? s.search.trim() : s.search);
  if (s.status) q.set('status', s.status);
  if (s.sort !== 'name') q.set('sort', s.sort);
  if (s.after) q.set('after', s.after);
  else if (s.before) q.set('before', s.before);
  return q.toString();
}

function personRow(p: Person): HTMLElement {
  return h(
    'li',
    null,
    h(
      'a.item.person',
      { href: `#/people/${encodeURIComponent(p.id)}` },
      avatar(p),
      h('span.grow', null, h('strong', null, p.name), p.externalId ? h('span.muted.small', null, ` · ${p.externalId}`) : ''),
      h('span.small.muted', null, `${photoCount(p)} photo${photoCount(p) === 1 ? '' : 's'}`),
      reenrollBadge(p),
      p.status === 'ACTIVE' ? h('span.badge.ok', null, 'active') : h('span.badge.bad', null, 'deactivated'),
    ),
  );
}

/** Photos enrolled: the templates of the running face model (a re-embedded person has one of each model per photo), else all of them. */
const photoCount = (p: Person): number => (p.currentTemplates ? p.currentTemplates : p.templates);

/** "Re-enrollment needed": enrolled with another face model only, so the door does not recognise them. */
function reenrollBadge(p: Person): HTMLElement | '' {
  return p.needsReenrollment
    ? h(
        'span.badge.late.reenroll',
        { title: 'enrolled with another face model: the door does not recognise this person until they are enrolled again' },
        're-enrollment needed',
      )
    : '';
}

/** /health services.reembed (daemon/src/registry/reembedder.ts): people given templates of a new face model from their stored chips. */
interface ReembedJson {
  model: string | null;
  state: 'idle' | 'running' | 'done';
  total: number;
  done: number;
  failed: number;
}

/** One line on the people page while (and after) the unit re-embeds stored face chips for a new face model; hidden when there was nothing to do. */
function reembedLine(): HTMLElement {
  const line = h('p.small.muted', { id: 'reembed-progress', hidden: true, 'aria-live': 'polite' });
  void get<{ services?: { reembed?: ReembedJson } }>('/health')
    .then((r) => {
      const e = r.services?.reembed;
      if (!e || e.total === 0) return;
      const failed = e.failed ? ` · ${fmtCount(e.failed)} could not be (re-enrollment needed)` : '';
      line.textContent =
        e.state === 'running'
          ? `Moving enrolled faces to the face model ${e.model}: ${fmtCount(e.done + e.failed)} of ${fmtCount(e.total)} people${failed}`
          : `Enrolled faces moved to the face model ${e.model}: ${fmtCount(e.done)} of ${fmtCount(e.total)} people${failed}`;
      line.hidden = false;
    })
    .catch(() => {});
  return line;
}

/**
 * The people list, a page at a time (100, name order) with previous/next, "201–300 of 2,143",
 * a status filter, sort and search. Paging uses the API's cursors, so renames or deletions while
 * someone pages do not make anyone vanish between pages. Every change is written to the URL hash
 * with the History API (no re-render); back/forward re-render the view from the hash.
 */
export function peopleView(session: Session): HTMLElement {
  let state = readListState();
  let page: PeoplePage | null = null;
  let seq = 0;
  let searchEntryPushed = false;
  let timer = 0;

  const search = h('input', {
    type: 'search',
    placeholder: 'Search by name or ID',
    'aria-label': 'search people',
    id: 'people-search',
    value: state.search,
    autocomplete: 'off',
  });
  const status = h(
    'select',
    { id: 'people-status', name: 'status' },
    h('option', { value: '' }, 'Everyone'),
    h('option', { value: 'ACTIVE' }, 'Active'),
    h('option', { value: 'DEACTIVATED' }, 'Deactivated'),
  );
  status.value = state.status;
  const sort = h('select', { id: 'people-sort', name: 'sort' }, h('option', { value: 'name' }, 'Name A–Z'), h('option', { value: '-name' }, 'Name Z–A'));
  sort.value = state.sort;
  const list = h('ul.list', { id: 'people-list', 'aria-busy': 'true' });
  const range = h('span.muted', { id: 'people-range', 'aria-live': 'polite' });
  const err = h('p.error', { hidden: true, role: 'alert' });

  const pagers: Array<{ el: HTMLElement; prev: HTMLButtonElement; next: HTMLButtonElement; text: HTMLElement }> = [];
  const pager = (where: 'top' | 'bottom') => {
    const prev = h(
      'button.secondary.prev',
      { type: 'button', 'aria-label': 'previous page', onclick: () => go({ ...state, after: '', before: page?.prevCursor ?? '' }, true) },
      '‹ Previous',
    );
    const next = h(
      'button.secondary.next',
      { type: 'button', 'aria-label': 'next page', onclick: () => go({ ...state, after: page?.nextCursor ?? '', before: '' }, true) },
      'Next ›',
    );
    const text = h('span.pager-text.small.muted');
    const el = h('nav.pager', { 'aria-label': `pages (${where})`, dataset: { where } }, prev, text, next);
    pagers.push({ el, prev, next, text });
    return el;
  };

  const render = (r: PeoplePage) => {
    const first = r.items.length ? r.offset + 1 : 0;
    const shown = r.items.length
      ? `${fmtCount(first)}–${fmtCount(r.offset + r.items.length)} of ${fmtCount(r.total)}`
      : `${fmtCount(r.total)} ${r.total === 1 ? 'person' : 'people'}`;
    range.textContent = shown;
    const filtered = Boolean(state.search.trim() || state.status);
    clear(
      list,
      r.items.length
        ? r.items.map(personRow)
        : r.total > 0
          ? h(
              'li.muted',
              null,
              'Nobody on this page. ',
              h(
                'a',
                {
                  href: '#',
                  onclick: (e: Event) => {
                    e.preventDefault();
                    go({ ...state, after: '', before: '' }, true);
                  },
                },
                'First page',
              ),
            )
          : h('li.muted', null, filtered ? 'Nobody matches.' : 'No people enrolled yet. Use "Enroll person" to add the first.'),
    );
    for (const p of pagers) {
      p.prev.disabled = !r.prevCursor;
      p.next.disabled = !r.nextCursor;
      p.text.textContent = shown;
      p.el.hidden = !r.prevCursor && !r.nextCursor; // one page: no paging controls
    }
  };

  const load = async () => {
    const mine = ++seq;
    list.setAttribute('aria-busy', 'true');
    try {
      const r = await get<PeoplePage>(`/people?${listQuery(state, true)}`);
      if (mine !== seq) return; // a newer request is on its way
      err.hidden = true;
      page = r;
      render(r);
    } catch (e) {
      if (mine !== seq) return;
      // A cursor in the URL that the API refuses (edited or from an older version): start at the first page.
      if (e instanceof ApiError && e.status === 400 && (e.body.parameter === 'after' || e.body.parameter === 'before'))
        return go({ ...state, after: '', before: '' }, false);
      showError(err, e);
    } finally {
      if (mine === seq) list.removeAttribute('aria-busy');
    }
  };

  /** Shows `next`; push = a new history entry (paging, filter, sort), else the current entry is replaced. */
  const go = (next: ListState, push: boolean, scroll = push) => {
    state = next;
    const url = `#/people${listQuery(state, false) ? '?' + listQuery(state, false) : ''}`;
    if (push) history.pushState(null, '', url);
    else history.replaceState(null, '', url);
    void load().then(() => {
      // Paged from the bottom controls: show the new page from its top.
      if (scroll && listCard.getBoundingClientRect().top < 0) pagers[0]?.el.scrollIntoView({ block: 'start' });
    });
  };

  // Search starts again at page 1; one history entry per search, not one per key press.
  search.addEventListener('input', () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(() => {
      go({ ...state, search: search.value, after: '', before: '' }, !searchEntryPushed, false);
      searchEntryPushed = true;
    }, 250);
  });
  const refilter = () => {
    searchEntryPushed = false;
    go({ ...state, status: status.value as StatusFilter, sort: sort.value as SortOrder, after: '', before: '' }, true, false);
  };
  status.addEventListener('change', refilter);
  sort.addEventListener('change', refilter);

  const listCard = h('section.card', null, pager('top'), list, pager('bottom'));
  void load();
  return h(
    'div',
    null,
    h(
      'section.card',
      null,
      h('div.row', null, h('h1.grow', null, 'People'), range),
      h('div.row', null, search, session.me.user?.role === 'admin' && h('a.button', { href: '#/enroll', id: 'enroll-button' }, 'Enroll person')),
      h('div.filters', null, h('label', null, 'Status', status), h('label', null, 'Sort', sort)),
      reembedLine(),
      err,
    ),
    listCard,
  );
}

export function enrollView(): HTMLElement {
  const err = h('p.error', { hidden: true, role: 'alert', id: 'enroll-error' });
  const name = h('input', { name: 'name', required: true, maxLength: 100, autocomplete: 'off' });
  const externalId = h('input', { name: 'externalId', maxLength: 64, autocomplete: 'off' });
  const files = h('input', { type: 'file', name: 'photos', accept: 'image/jpeg,image/png,image/webp', multiple: true, id: 'enroll-photos' });
  const previews = h('div.previews');
  files.addEventListener('change', () => {
    clear(
      previews,
      [...(files.files ?? [])].map((f) => h('figure', null, h('img', { src: URL.createObjectURL(f), alt: f.name }), h('figcaption.small', null, f.name))),
    );
  });
  const submit = h('button', { type: 'submit' }, 'Enroll');
  const form = h(
    'form.card',
    { id: 'enroll-form' },
    h('h1', null, 'Enroll a person'),
    h('label', null, 'Name', name),
    h('label', null, 'Employee / badge ID (optional)', externalId),
    h(
      'fieldset',
      null,
      h('legend', null, 'Photos'),
      h(
        'p.muted',
        null,
        'Add 3–5 clear photos of the face from slightly different angles: one face per photo, good light, no sunglasses. On a phone you can take them with the camera.',
      ),
      files,
      previews,
    ),
    err,
    submit,
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const data = new FormData();
    data.set('name', name.value.trim());
    if (externalId.value.trim()) data.set('externalId', externalId.value.trim());
    for (const f of files.files ?? []) data.append('photos', f, f.name);
    if (!files.files?.length) return showError(err, new Error('add at least one photo'));
    submit.disabled = true;
    submit.textContent = 'Checking photos…';
    try {
      const r = await api<{ person: Person; templates: number }>('POST', '/people', data);
      toast(`${r.person.name} enrolled with ${r.templates} photo${r.templates === 1 ? '' : 's'}`);
      location.hash = `#/people/${encodeURIComponent(r.person.id)}`;
    } catch (e2) {
      showError(err, e2 instanceof ApiError && e2.status === 409 && e2.code === 'duplicate' ? new Error(`${e2.message} — this face is already enrolled.`) : e2);
    } finally {
      submit.disabled = false;
      submit.textContent = 'Enroll';
    }
  });
  return h(
    'div',
    null,
    h('nav.tabs', null, h('a.active', { href: '#/enroll' }, 'Upload photos'), h('a', { href: '#/enroll-camera' }, 'Use the door camera')),
    form,
  );
}

export function enrollCameraView(): HTMLElement {
  const err = h('p.error', { hidden: true, role: 'alert' });
  const feedback = h('ul.feedback', { 'aria-live': 'polite' });
  const shots = h('div.previews');
  const captures: string[] = [];
  const name = h('input', { name: 'name', required: true, maxLength: 100 });
  const onMeta = (meta: FrameMeta | null, error: string | null) => {
    if (!meta) return clear(feedback, h('li.bad', null, error ?? 'no camera'));
    const faces = meta.faces;
    if (faces.length === 0) return clear(feedback, h('li.bad', null, "No face in view: stand an arm's length from the camera, facing it."));
    if (faces.length > 1) return clear(feedback, h('li.bad', null, `${faces.length} faces in view: only the person being enrolled.`));
    const q = faces[0]!.quality;
    if (!q) return clear(feedback, h('li.ok', null, 'One face in view.'));
    // The server's quality gates decide; the numbers are shown for orientation.
    clear(
      feedback,
      h('li', null, `Face size ${Math.round(q.faceSizePx)} px`),
      h('li', null, `Sharpness ${Math.round(q.sharpness)}`),
      h('li', null, `Facing the camera ${Math.round(q.poseScore * 100)}%`),
      ...q.problems.map((p) => h('li.bad', null, p)),
      q.problems.length === 0 && h('li.ok', null, 'Good: capture now.'),
    );
  };
  const capture = h(
    'button.secondary',
    {
      type: 'button',
      onclick: async () => {
        try {
          err.hidden = true;
          const r = await api<{ captureId: string }>('POST', '/live/capture', {});
          captures.push(r.captureId);
          shots.append(h('figure', null, h('img', { src: `/api/v1/live/capture/${r.captureId}`, alt: `capture ${captures.length}` })));
        } catch (e) {
          showError(err, e);
        }
      },
    },
    'Capture',
  );
  const form = h(
    'form.card',
    null,
    h('h1', null, 'Enroll from the door camera'),
    h('p.muted', null, 'Ask the person to stand at the door and look at the camera. Capture 3–5 times, turning the head slightly between captures.'),
    liveView(onMeta, { url: '/api/v1/live/assess', periodMs: 700, names: false }),
    feedback,
    h('div.row', null, capture),
    shots,
    h('label', null, 'Name', name),
    err,
    h('button', { type: 'submit' }, 'Enroll'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!captures.length) return showError(err, new Error('capture at least one photo first'));
    try {
      const r = await api<{ person: Person }>('POST', '/people/from-camera', { name: name.value.trim(), captures });
      toast(`${r.person.name} enrolled`);
      location.hash = `#/people/${encodeURIComponent(r.person.id)}`;
    } catch (e2) {
      showError(err, e2);
    }
  });
  return h(
    'div',
    null,
    h('nav.tabs', null, h('a', { href: '#/enroll' }, 'Upload photos'), h('a.active', { href: '#/enroll-camera' }, 'Use the door camera')),
    form,
  );
}

function scheduleEditor(initial: Window_[] | null): { el: HTMLElement; value: () => Window_[] | null } {
  const rows = h('div.schedule');
  const add = (w: Window_) => {
    const row = h(
      'div.window',
      null,
      h(
        'div.days',
        null,
        DAYS.map((d) => h('label.day', null, h('input', { type: 'checkbox', value: d, checked: w.days.includes(d) }), d)),
      ),
      h('input', { type: 'time', value: w.start, 'aria-label': 'from' }),
      '–',
      h('input', { type: 'time', value: w.end, 'aria-label': 'until' }),
      h('button.link', { type: 'button', onclick: () => row.remove() }, 'remove'),
    );
    rows.appendChild(row);
  };
  (initial ?? []).forEach(add);
  const el = h(
    'fieldset',
    null,
    h('legend', null, 'Schedule'),
    h('p.muted.small', null, 'Empty = any time. Otherwise the person is let in only inside these weekly windows.'),
    rows,
    h('button.secondary', { type: 'button', onclick: () => add({ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '07:00', end: '19:00' }) }, 'Add window'),
  );
  return {
    el,
    value: () => {
      const ws = [...rows.querySelectorAll<HTMLElement>('.window')].map((r) => {
        const [start, end] = [...r.querySelectorAll<HTMLInputElement>('input[type=time]')].map((i) => i.value);
        const days = [...r.querySelectorAll<HTMLInputElement>('input[type=checkbox]:checked')].map((c) => c.value as Window_['days'][number]);
        return { days, start: start ?? '', end: end ?? '' };
      });
      return ws.length ? ws : null;
    },
  };
}

export function personView(id: string, session: Session): HTMLElement {
  const root = h('div', null, h('p.muted', null, 'Loading…'));
  const isAdmin = session.me.user?.role === 'admin';
  void get<Person>(`/people/${encodeURIComponent(id)}`)
    .then((p) => {
      const err = h('p.error', { hidden: true, role: 'alert' });
      const name = h('input', { name: 'name', value: p.name, required: true, maxLength: 100, disabled: !isAdmin });
      const ext = h('input', { name: 'externalId', value: p.externalId ?? '', maxLength: 64, disabled: !isAdmin });
      const from = h('input', { type: 'date', name: 'validFrom', value: p.validFrom ?? '', disabled: !isAdmin });
      const until = h('input', { type: 'date', name: 'validUntil', value: p.validUntil ?? '', disabled: !isAdmin });
      const notes = h('textarea', { name: 'notes', maxLength: 1000, disabled: !isAdmin, rows: 2 }, p.notes ?? '');
      const schedule = scheduleEditor(p.schedule);
      const form = h(
        'form.card',
        { id: 'person-form' },
        h(
          'div.row',
          null,
          avatar(p),
          h('h1.grow', null, p.name),
          reenrollBadge(p),
          p.status === 'ACTIVE' ? h('span.badge.ok', null, 'active') : h('span.badge.bad', null, 'deactivated'),
        ),
        h('p.muted.small', null, `${p.templates} face template${p.templates === 1 ? '' : 's'} · enrolled ${fmtDateTime(p.createdAt)}`),
        h('label', null, 'Name', name),
        h('label', null, 'Employee / badge ID', ext),
        h('div.row.wrap', null, h('label', null, 'Valid from', from), h('label', null, 'Valid until', until)),
        schedule.el,
        h('label', null, 'Notes', notes),
        err,
        isAdmin &&
          h(
            'div.row.wrap',
            null,
            h('button', { type: 'submit' }, 'Save'),
            h(
              'button.secondary',
              {
                type: 'button',
                id: 'toggle-status',
                onclick: async () => {
                  try {
                    await api('PATCH', `/people/${encodeURIComponent(p.id)}`, { status: p.status === 'ACTIVE' ? 'DEACTIVATED' : 'ACTIVE' });
                    toast(p.status === 'ACTIVE' ? 'Deactivated: no longer let in' : 'Reactivated');
                    clear(root, personView(id, session));
                  } catch (e) {
                    showError(err, e);
                  }
                },
              },
              p.status === 'ACTIVE' ? 'Deactivate' : 'Reactivate',
            ),
            h(
              'button.danger',
              {
                type: 'button',
                id: 'delete-person',
                onclick: async () => {
                  if (
                    !(await confirmDialog(
                      `Delete ${p.name}? Their face templates, face chips and thumbnails are erased for good. Past events keep the name.`,
                      'Delete and erase',
                    ))
                  )
                    return;
                  try {
                    await api('DELETE', `/people/${encodeURIComponent(p.id)}`);
                    toast(`${p.name} deleted; face data erased`);
                    location.hash = '#/people';
                  } catch (e) {
                    showError(err, e);
                  }
                },
              },
              'Delete',
            ),
          ),
      );
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        try {
          err.hidden = true;
          await api('PATCH', `/people/${encodeURIComponent(p.id)}`, {
            name: name.value.trim(),
            externalId: ext.value.trim() || null,
            validFrom: from.value || null,
            validUntil: until.value || null,
            schedule: schedule.value(),
            notes: notes.value.trim() || null,
          });
          toast('Saved');
          clear(root, personView(id, session));
        } catch (e2) {
          showError(err, e2);
        }
      });
      const addErr = h('p.error', { hidden: true, role: 'alert' });
      const addFiles = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/webp', multiple: true });
      const addForm =
        isAdmin &&
        h(
          'form.card',
          null,
          h('h2', null, 'Add photos'),
          h('p.muted.small', null, 'More photos (other angles, glasses on/off) make recognition more reliable.'),
          addFiles,
          addErr,
          h('button.secondary', { type: 'submit' }, 'Add'),
        );
      if (addForm)
        addForm.addEventListener('submit', async (e) => {
          e.preventDefault();
          const data = new FormData();
          for (const f of addFiles.files ?? []) data.append('photos', f, f.name);
          try {
            await api('POST', `/people/${encodeURIComponent(p.id)}/photos`, data);
            toast('Photos added');
            clear(root, personView(id, session));
          } catch (e2) {
            showError(addErr, e2);
          }
        });
      clear(
        root,
        h('a.back', { href: '#/people' }, '← People'),
        form,
        addForm,
        h('section.card', null, h('a', { href: `#/events?personId=${encodeURIComponent(p.id)}` }, 'Events of this person →')),
      );
    })
    .catch((e: unknown) => clear(root, h('p.error', null, (e as Error).message)));
  return root;
}
