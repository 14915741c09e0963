// session.js: who is signed in. The session cookie (dq_session) is HttpOnly, so the page
// cannot see it: it asks GET /api/me, but only when it signed in before in this browser
// (a hint in localStorage), so anonymous readers never trigger a 401. The masthead gets a
// discreet "登录 / Sign in" that opens a dialog; once signed in it shows the user and role and
// a sign-out button. Listeners (onSessionChange) hear every change.
import { t, tag } from './i18n.js';
import { h, clear } from './dom.js';
import { login, logout, me, ApiError } from './api.js';

const HINT = 'danqing.signed-in';
const RANK = { viewer: 1, educator: 2, conservator: 3, curator: 4, admin: 5 };
let user = null; // {user, role}
const listeners = new Set();

export function currentUser() { return user; }
// At least the given role (docs/api.md "Roles": admin > curator > conservator > educator >
// viewer).
export function hasRole(role) { return !!user && (RANK[user.role] || 0) >= (RANK[role] || 99); }
export function onSessionChange(fn) { listeners.add(fn); return () => listeners.delete(fn); }

function hint(on) {
  try { if (on) localStorage.setItem(HINT, '1'); else localStorage.removeItem(HINT); } catch { /* storage may be off */ }
}
function hinted() { try { return localStorage.getItem(HINT) === '1'; } catch { return false; } }

function set(u) {
  const was = user ? `${user.user}|${user.role}` : '';
  user = u && u.user ? { user: u.user, role: u.role } : null;
  hint(!!user);
  renderSlot();
  if (was !== (user ? `${user.user}|${user.role}` : '')) for (const fn of listeners) fn(user);
}

// Asks the server who we are (only when this browser signed in before). Resolves either way.
export async function restoreSession() {
  if (!hinted()) { renderSlot(); return null; }
  try { set(await me()); } catch (e) { if (e instanceof ApiError && e.status === 401) set(null); else renderSlot(); }
  return user;
}

export async function signIn(name, password) { set(await login(name, password)); return user; }
export async function signOut() {
  try { await logout(); } finally { set(null); }
}

// A request the server refused for want of a session (it expired): forget the user.
export function sessionLost() { if (user) set(null); }

// ---------------------------------------------------------------- masthead
let slot = null, dialog = null;

function renderSlot() {
  if (!slot) return;
  clear(slot);
  if (!user) {
    slot.append(h('button.signin#signin', { type: 'button', 'aria-haspopup': 'dialog', onclick: openDialog }, t('signin')));
    return;
  }
  slot.append(
    h('span.who', { title: t('signed_in_as', { user: user.user, role: t(`role_${user.role}`) }) },
      h('span.who-name', user.user), h('span.who-role', { lang: tag() }, t(`role_${user.role}`))),
    h('button.signout#signout', { type: 'button', onclick: async () => { await signOut().catch(() => {}); document.getElementById('signin')?.focus(); } }, t('signout')));
}

function field(id, key, props) {
  const input = h(`input#${id}`, { required: true, 'aria-describedby': `${id}-err`, ...props });
  return h('div.field', h('label', { for: id }, t(key)), input, h(`p.field-err#${id}-err`, { hidden: true }));
}

function openDialog() {
  if (dialog) dialog.remove();
  const err = h('p.form-err#signin-err', { role: 'alert', hidden: true });
  const form = h('form.signin-form', { method: 'dialog', noValidate: true },
    h('h2.dialog-title#signin-title', t('signin_title')),
    field('signin-user', 'signin_user', { type: 'text', autocomplete: 'username', autocapitalize: 'none' }),
    field('signin-pass', 'signin_password', { type: 'password', autocomplete: 'current-password' }),
    err,
    h('div.dialog-actions',
      h('button.btn-ink#signin-submit', { type: 'submit' }, t('signin_submit')),
      h('button.btn-line', { type: 'button', onclick: () => dialog.close() }, t('cancel'))));
  dialog = h('dialog.dialog.signin-dialog', { 'aria-labelledby': 'signin-title' }, form);
  const showErr = (id, msg) => {
    const input = dialog.querySelector(`#${id}`), p = dialog.querySelector(`#${id}-err`);
    p.textContent = msg || ''; p.hidden = !msg;
    if (msg) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const name = dialog.querySelector('#signin-user').value.trim(), pass = dialog.querySelector('#signin-pass').value;
    showErr('signin-user', name ? '' : t('required'));
    showErr('signin-pass', pass ? '' : t('required'));
    err.hidden = true;
    if (!name) { dialog.querySelector('#signin-user').focus(); return; }
    if (!pass) { dialog.querySelector('#signin-pass').focus(); return; }
    const submit = dialog.querySelector('#signin-submit');
    submit.disabled = true;
    try {
      await signIn(name, pass);
      dialog.close();
      document.getElementById('signout')?.focus();
    } catch (ex) {
      err.textContent = ex.status === 401 || ex.status === 403 ? t('signin_failed') : t('error_load', { msg: ex.message });
      err.hidden = false;
      dialog.querySelector('#signin-pass').select();
    } finally { submit.disabled = false; }
  });
  dialog.addEventListener('close', () => { const d = dialog; setTimeout(() => { d.remove(); if (dialog === d) dialog = null; }, 0); });
  document.body.append(dialog);
  dialog.showModal();
  dialog.querySelector('#signin-user').focus();
}

// Mounts the account control into the masthead element el.
export function mountAccount(el) { slot = el; renderSlot(); }
export function relabel() { renderSlot(); }
