/// <reference lib="dom" />
import { api, get, setCsrf, whenSignedOut, type Me } from './api.js';
import { clear, h, toast } from './dom.js';
import type { Session } from './session.js';
import { loginView, setupView } from './views/auth.js';
import { dashboardView } from './views/dashboard.js';
import { attendanceView, eventsView } from './views/events.js';
import { enrollCameraView, enrollView, peopleView, personView } from './views/people.js';
import { reportsView } from './views/reports.js';
import { auditView, healthView, settingsView, usersView } from './views/settings.js';

const session: Session = { me: { setupRequired: false, user: null, csrfToken: null, unit: { id: '', name: 'BLINK' }, idleMinutes: 30 } };
const main = document.getElementById('main')!;
const nav = document.getElementById('nav')!;
const unitName = document.getElementById('unit-name')!;

/** [href, label, icon, admin only, on the phone's bottom bar] */
const NAV: Array<[string, string, string, boolean, boolean]> = [
  ['#/', 'Dashboard', '◉', false, true],
  ['#/people', 'People', '☺', false, true],
  ['#/events', 'Events', '≡', false, true],
  ['#/attendance', 'Attendance', '✓', false, true],
  ['#/reports', 'Timesheets', '▦', false, false],
  ['#/settings', 'Settings', '⚙', false, false],
  ['#/health', 'Health', '♥', false, false],
  ['#/audit', 'Audit', '§', true, false],
  ['#/account', 'Account', '⚷', false, false],
];

function renderNav(): void {
  const isAdmin = session.me.user?.role === 'admin';
  const route = location.hash || '#/';
  const active = (href: string) => (href === '#/' ? route === '#/' : route.startsWith(href) || (href === '#/people' && route.startsWith('#/enroll')));
  const items = NAV.filter(([, , , adminOnly]) => isAdmin || !adminOnly);
  const secondary = items.filter(([, , , , primary]) => !primary);
  clear(
    nav,
    session.me.user && [
      items.map(([href, label, icon, , primary]) =>
        h(
          'a',
          { href, class: [active(href) ? 'active' : '', primary ? '' : 'secondary-nav'].join(' '), 'aria-label': label },
          h('span.icon', { 'aria-hidden': 'true' }, icon),
          h('span.label', null, label),
        ),
      ),
      h(
        'a.more-nav',
        { href: '#/more', class: route === '#/more' || secondary.some(([href]) => active(href)) ? 'active' : '', 'aria-label': 'More' },
        h('span.icon', { 'aria-hidden': 'true' }, '⋯'),
        h('span.label', null, 'More'),
      ),
      h('button.link.logout', { id: 'logout', onclick: logout }, `Sign out ${session.me.user.username}`),
    ],
  );
}

/** The phone's "More" page: everything that is not on the bottom bar. */
function moreView(): HTMLElement {
  const isAdmin = session.me.user?.role === 'admin';
  return h(
    'section.card',
    null,
    h('h1', null, 'More'),
    h(
      'ul.list',
      null,
      NAV.filter(([, , , adminOnly, primary]) => !primary && (isAdmin || !adminOnly)).map(([href, label, icon]) =>
        h('li', null, h('a.item', { href }, h('span.icon', { 'aria-hidden': 'true' }, icon), h('span.grow', null, label), '›')),
      ),
    ),
    h('p.muted.small', null, `Signed in as ${session.me.user?.username} (${session.me.user?.role})`),
    h('button.secondary', { onclick: logout, id: 'logout-more' }, 'Sign out'),
  );
}

function signedIn(me: Me): void {
  session.me = me;
  setCsrf(me.csrfToken);
  unitName.textContent = me.unit.name;
  document.title = `${me.unit.name} · BLINK admin`;
  route();
}

async function logout(): Promise<void> {
  try {
    await api('POST', '/auth/logout', {});
  } catch {
    /* signed out either way */
  }
  session.me = { ...session.me, user: null, csrfToken: null };
  setCsrf(null);
  location.hash = '#/';
  route();
}

function route(): void {
  renderNav();
  if (session.me.setupRequired) return clear(main, setupView(signedIn));
  if (!session.me.user) return clear(main, loginView(signedIn, session.me.unit.name));
  const hash = location.hash.replace(/^#/, '') || '/';
  const [path, query] = hash.split('?') as [string, string | undefined];
  const person = /^\/people\/(.+)$/.exec(path);
  let view: HTMLElement;
  if (path === '/') view = dashboardView(session);
  else if (path === '/people') view = peopleView(session);
  else if (person) view = personView(decodeURIComponent(person[1]!), session);
  else if (path === '/enroll') view = enrollView();
  else if (path === '/enroll-camera') view = enrollCameraView();
  else if (path === '/events') view = eventsView(new URLSearchParams(query ?? ''));
  else if (path === '/attendance') view = attendanceView(new URLSearchParams(query ?? ''));
  else if (path === '/reports') view = reportsView(new URLSearchParams(query ?? ''));
  else if (path === '/settings') view = settingsView(session);
  else if (path === '/health') view = healthView();
  else if (path === '/audit') view = auditView();
  else if (path === '/account') view = usersView(session);
  else if (path === '/more') view = moreView();
  else view = h('p', null, 'Page not found. ', h('a', { href: '#/' }, 'Dashboard'));
  clear(main, view);
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}

whenSignedOut(() => {
  if (!session.me.user) return;
  session.me = { ...session.me, user: null, csrfToken: null };
  toast('Your session ended: sign in again', 'error');
  route();
});

window.addEventListener('hashchange', route);
get<Me>('/auth/state')
  .then(signedIn)
  .catch((err: unknown) => clear(main, h('p.error', null, `Cannot reach the unit: ${(err as Error).message}`)));
