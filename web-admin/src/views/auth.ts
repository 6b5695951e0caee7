/// <reference lib="dom" />
import { api, type Me } from '../api.js';
import { h, showError } from '../dom.js';

export function setupView(done: (me: Me) => void): HTMLElement {
  const err = h('p.error', { hidden: true, role: 'alert' });
  const form = h(
    'form.card.narrow',
    { id: 'setup-form' },
    h('h1', null, 'Set up this unit'),
    h('p', null, 'Create the first administrator. You need the one-time setup token that blinkd printed in its log at first start:'),
    h('pre.hint', null, 'journalctl -u blinkd | grep "setup token"'),
    h('p.muted', null, '(or the file admin-setup-token in the data directory). There is no default password.'),
    h('label', null, 'Setup token', h('input', { name: 'token', required: true, autocomplete: 'off', autocapitalize: 'off', spellcheck: 'false' })),
    h(
      'label',
      null,
      'Your user name',
      h('input', { name: 'username', required: true, autocomplete: 'username', autocapitalize: 'off', pattern: '[A-Za-z0-9._@\\-]+' }),
    ),
    h(
      'label',
      null,
      'Password (at least 10 characters)',
      h('input', { name: 'password', type: 'password', required: true, minLength: 10, autocomplete: 'new-password' }),
    ),
    h('label', null, 'Password again', h('input', { name: 'password2', type: 'password', required: true, autocomplete: 'new-password' })),
    err,
    h('button', { type: 'submit' }, 'Create administrator'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    if (f.get('password') !== f.get('password2')) return showError(err, new Error('the two passwords differ'));
    try {
      done(
        await api<Me>('POST', '/auth/setup', {
          token: String(f.get('token')).trim(),
          username: String(f.get('username')).trim(),
          password: String(f.get('password')),
        }),
      );
    } catch (e2) {
      showError(err, e2);
    }
  });
  return form;
}

export function loginView(done: (me: Me) => void, unitName: string): HTMLElement {
  const err = h('p.error', { hidden: true, role: 'alert' });
  const form = h(
    'form.card.narrow',
    { id: 'login-form' },
    h('h1', null, 'Sign in'),
    h('p.muted', null, unitName),
    h('label', null, 'User name', h('input', { name: 'username', required: true, autocomplete: 'username', autocapitalize: 'off' })),
    h('label', null, 'Password', h('input', { name: 'password', type: 'password', required: true, autocomplete: 'current-password' })),
    err,
    h('button', { type: 'submit' }, 'Sign in'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const btn = form.querySelector('button')!;
    btn.disabled = true;
    try {
      done(await api<Me>('POST', '/auth/login', { username: String(f.get('username')).trim(), password: String(f.get('password')) }));
    } catch (e2) {
      showError(err, e2);
    } finally {
      btn.disabled = false;
    }
  });
  return form;
}
