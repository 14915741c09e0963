// iiif-access.js: the page of the IIIF Authorization Flow 2.0 access service
// (/iiif/auth/2/access?origin=..., src/http/iiif_auth.c; docs/api.md "IIIF Authorization
// Flow"). A viewer on any site opens it in a new window when a researcher asks to see a
// restricted image (Auth 2.0 §3.3.1 "active"). It signs in through POST /api/login, the same
// call as the site's own sign-in dialog (session.js), or, for a browser already signed in,
// offers to continue; either way the user clicks, which is the user gesture browsers want
// before they send our cookie to third-party frames (Auth 2.0 Appendix A). Then it asks
// POST /iiif/auth/2/access for the access cookie and closes itself: the viewer waits for that
// close, then asks the token service. It names the site that asked (the origin parameter), so
// that nobody signs in for a site they did not mean to.
import { h } from './dom.js';
import { login, me, send, ApiError } from './api.js';

const main = document.getElementById('main');
const origin = new URLSearchParams(location.search).get('origin') || '';

// Both languages side by side: the page opens in whatever viewer asked, whose language we do
// not know.
const both = (zh, en) => [h('span', { lang: 'zh' }, zh), ' · ', h('span', { lang: 'en' }, en)];

const status = h('p.iiif-access-status#iiif-access-status', { role: 'status' });
const alertBox = h('p.form-err#iiif-access-err', { role: 'alert', hidden: true });

function fail(e) {
  alertBox.hidden = false;
  alertBox.replaceChildren(...(e instanceof ApiError && e.status === 401
    ? both('用户名或密码错误', 'Wrong user name or password')
    : both('出错了，请重试', `Something went wrong (${e.message || e}); please try again`)));
}

// The access cookie for this browser's session, then the window closes (when a script opened
// it, which a viewer does; otherwise it stays and says so).
async function grant() {
  await send('POST', `/iiif/auth/2/access${location.search}`);
  document.body.dataset.granted = '1';
  status.replaceChildren(...both('已授权，此窗口将关闭。', 'Access granted; this window closes now.'));
  window.close();
}

function signInForm() {
  const user = h('input#iiif-access-user', { required: true, autocomplete: 'username', autocapitalize: 'none' });
  const pass = h('input#iiif-access-pass', { type: 'password', required: true, autocomplete: 'current-password' });
  const form = h('form.signin-form#iiif-access-form', {
    noValidate: true,
    onsubmit: async (ev) => {
      ev.preventDefault();
      alertBox.hidden = true;
      try {
        await login(user.value.trim(), pass.value);
        await grant();
      } catch (e) { fail(e); }
    },
  },
  h('div.field', h('label', { for: 'iiif-access-user' }, ...both('用户名', 'User name')), user),
  h('div.field', h('label', { for: 'iiif-access-pass' }, ...both('密码', 'Password')), pass),
  h('div.dialog-actions', h('button.btn-ink#iiif-access-submit', { type: 'submit' }, ...both('登录', 'Sign in'))));
  return form;
}

function continueAs(u) {
  return h('div.iiif-access-continue',
    h('p', ...both(`已登录：${u.user}`, `Signed in as ${u.user} (${u.role})`)),
    h('button.btn-ink#iiif-access-continue', {
      type: 'button',
      onclick: async () => { alertBox.hidden = true; try { await grant(); } catch (e) { fail(e); } },
    }, ...both('继续', 'Continue')));
}

async function start() {
  main.append(h('p.iiif-access-who', ...(origin
    ? both(`${origin} 上的查看器请求显示本馆的受限图像。`, `A viewer at ${origin} asks to show you restricted images of this museum.`)
    : both('请从 IIIF 查看器打开此页。', 'Open this page from a IIIF viewer.'))));
  let u = null;
  try { u = await me(); } catch { u = null; }
  main.append(u ? continueAs(u) : signInForm(), alertBox, status);
  document.body.dataset.ready = '1';
}

start();
