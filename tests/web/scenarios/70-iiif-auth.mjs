// Issue 16, IIIF Authorization Flow 2.0 in a real browser: a viewer on a second origin runs
// the client side of the specification (https://iiif.io/api/auth/2.0/ §7: read info.json,
// probe, show heading/note/confirmLabel, open the access service in a window, wait for it to
// close, open the token service in a hidden iframe and take its postMessage, probe with the
// token, then load the pixels, whose request carries the access cookie), and a researcher
// signs in through our real sign-in popup. Then logout, after which the token and the cookie
// are worth nothing. The viewer is ours because Mirador 4.0.0 (npm, the newest) implements
// only Auth 0.9/1.0: its bundle names auth/1/login, auth/1/token, auth/1/probe and never
// AuthProbeService2, AuthAccessService2 nor the auth/2 context.
//
// The viewer's origin is 127.0.0.1 on another port: another origin of the same site, so the
// access cookie, SameSite=Lax over plain http, reaches the token iframe and the <img>. The
// second test opens the same viewer from http://localhost:PORT, another site: over plain http
// the browser then keeps the cookie back and the token service says missingAspect, which is
// why docs/api.md asks for https (SameSite=None; Secure) for viewers on other sites. The third
// does that: a second danqing on the same data behind HAProxy terminating TLS (a throwaway
// self-signed certificate; --public-url https://...), and the viewer on the other site again:
// in a browser profile that allows third-party cookies the flow goes through and the pixels
// load; in one that blocks them (Chromium 156's default here, and every Incognito-like
// context) the token service says missingAspect and there are no pixels.
import http from 'node:http';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const RESEARCHER = { user: 'researcher1', password: 'Danqing-research-2026' };

// The viewer: plain script, no library. Everything it learns goes to window.__auth for the
// test to read; what a person sees is in #auth-ui.
const VIEWER_JS = String.raw`
const A = window.__auth = { events: [] };
const info_url = new URLSearchParams(location.search).get('info');
const ui = document.getElementById('auth-ui');
const en = (m) => (m && (m.en || m.none || [])[0]) || '';
const zh = (m) => (m && (m.zh || [])[0]) || '';
async function probe(ps, token) {
  const r = await fetch(ps.id, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
  return r.json();
}
// §4.2: the token service in a hidden frame, answered by postMessage.
function token(ts) {
  return new Promise((resolve) => {
    const messageId = 'm' + Math.random().toString(36).slice(2);
    const from = new URL(ts.id).origin;
    const frame = document.createElement('iframe');
    frame.hidden = true;
    function onmsg(ev) {
      A.events.push({ origin: ev.origin, messageId: ev.data && ev.data.messageId });
      if (ev.origin !== from || !ev.data || ev.data.messageId !== messageId) return; // §4.4
      window.removeEventListener('message', onmsg);
      frame.remove();
      resolve({ data: ev.data, origin: ev.origin, asked: messageId });
    }
    window.addEventListener('message', onmsg);
    frame.src = ts.id + '?messageId=' + encodeURIComponent(messageId) + '&origin=' + encodeURIComponent(location.origin);
    document.body.append(frame);
  });
}
function image(id, src) {
  return new Promise((resolve) => {
    const img = document.createElement('img');
    img.id = id;
    img.onload = () => resolve(img.naturalWidth);
    img.onerror = () => resolve(0);
    img.src = src;
    document.body.append(img);
  });
}
function waitClosed(w) {
  return new Promise((resolve) => { const t = setInterval(() => { if (w.closed) { clearInterval(t); resolve(); } }, 50); });
}
async function main() {
  const info = await (await fetch(info_url)).json();
  const ps = (info.service || []).find((s) => s.type === 'AuthProbeService2');
  const as = ps.service.find((s) => s.type === 'AuthAccessService2' && s.profile === 'active');
  const ts = as.service.find((s) => s.type === 'AuthAccessTokenService2');
  const lo = as.service.find((s) => s.type === 'AuthLogoutService2');
  const tile = (n) => info.id + '/full/200,/0/default.jpg?n=' + n;
  A.before = await image('before', tile(0));
  A.probe1 = await probe(ps);
  if (A.probe1.status !== 200) {
    // §3.3.1.1: heading and note before the button, the button says confirmLabel.
    const btn = document.createElement('button');
    btn.id = 'confirm';
    btn.textContent = en(as.confirmLabel) + ' · ' + zh(as.confirmLabel);
    ui.append(Object.assign(document.createElement('h2'), { id: 'heading', textContent: en(as.heading) + ' · ' + zh(as.heading) }),
              Object.assign(document.createElement('p'), { id: 'note', textContent: en(A.probe1.note) }), btn);
    await new Promise((resolve) => { btn.onclick = resolve; });
    const w = window.open(as.id + '?origin=' + encodeURIComponent(location.origin), 'dq-access');
    await waitClosed(w);
    A.token = await token(ts);
    if (!A.token.data.accessToken) {
      ui.append(Object.assign(document.createElement('p'), { id: 'token-error', textContent: en(A.token.data.heading) }));
      A.done = true;
      return;
    }
    A.probe2 = await probe(ps, A.token.data.accessToken);
  }
  if ((A.probe2 || A.probe1).status === 200) A.after = await image('after', tile(1));
  const out = document.createElement('button');
  out.id = 'logout';
  out.textContent = en(lo.label);
  ui.append(out);
  A.done = true;
  await new Promise((resolve) => { out.onclick = resolve; });
  const w = window.open(lo.id, 'dq-logout');
  await waitClosed(w);
  A.probe3 = await probe(ps, A.token && A.token.data.accessToken);
  A.later = await image('later', tile(2));
  A.loggedOut = true;
}
main().catch((e) => { A.error = String(e); A.done = true; });
`;

const VIEWER_HTML = '<!doctype html><html><head><meta charset="utf-8"><title>test viewer</title></head>' +
  '<body><div id="auth-ui"></div><script src="/viewer.js"></script></body></html>';

function startViewerServer() {
  return new Promise((resolve) => {
    const srv = http.createServer((req, res) => {
      if (req.url.startsWith('/viewer.js')) { res.writeHead(200, { 'Content-Type': 'text/javascript' }); res.end(VIEWER_JS); return; }
      if (req.url.startsWith('/viewer')) { res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }); res.end(VIEWER_HTML); return; }
      res.writeHead(404); res.end();
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

// A loopback port free now.
function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

// Resolves when a TCP connection to port succeeds (bounded: 10 s), else rejects.
async function waitPort(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => { c.end(); resolve(true); });
      c.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing listens on ${port}`);
}

// danqing serve over data with extra flags; resolves {proc, port} once it printed its address.
function startDanqing(bin, data, extra) {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['--data', data, 'serve', '--listen', '127.0.0.1:0', '--log-level', '2', ...extra], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve({ proc, port: +m[1] });
    });
    proc.on('exit', (code) => reject(new Error(`danqing serve exited ${code}`)));
  });
}

export default async function (h) {
  // A restricted relic whose one image belongs to nobody else (an image shared with a public
  // relic is public), and a researcher: an account with the viewer role.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dq-iiifauth-'));
  const image = 'webtest-iiif-auth';
  h.sh('vips', ['xyz', `${tmp}/a.v`, '512', '384']);
  h.sh('vips', ['colourspace', `${tmp}/a.v`, `${tmp}/a.png`, 'srgb']);
  try { h.sh(h.BIN, ['--data', h.data, 'ingest', `${tmp}/a.png`, '--id', image]); } catch {
    h.sh(h.BIN, ['--data', h.data, 'ingest', `${tmp}/a.png`, '--id', image, '--replace']);
  }
  try { h.sh(h.BIN, ['--data', h.data, 'user', 'add', RESEARCHER.user, '--role', 'viewer', '--password', RESEARCHER.password]); } catch {
    h.sh(h.BIN, ['--data', h.data, 'user', 'passwd', RESEARCHER.user, '--password', RESEARCHER.password]);
  }
  const call = await h.apiSession(h.base);
  const made = await call('POST', '/api/relics', { body: { accession: `WEBTEST-AUTH-${Date.now()}`, title: { en: 'Restricted for researchers', zh: '仅供研究' }, restricted: true, images: [{ image_id: image, role: 'main' }] } });
  h.expect(made.status === 201, `restricted relic -> ${made.status}`);
  const relic = made.json.id;
  const viewerSrv = await startViewerServer();
  const vport = viewerSrv.address().port;
  const infoUrl = `${h.base}/iiif/3/${image}/info.json`;

  // Signs in in the access service's popup that a click on #confirm opens; resolves when the
  // popup has closed itself.
  async function signInPopup(page) {
    await page.waitForSelector('#confirm', { timeout: 15000 });
    const [popup] = await Promise.all([page.waitForEvent('popup'), page.click('#confirm')]);
    await popup.waitForSelector('#iiif-access-form', { timeout: 15000 });
    await popup.fill('#iiif-access-user', RESEARCHER.user);
    await popup.fill('#iiif-access-pass', RESEARCHER.password);
    const who = await popup.$eval('.iiif-access-who', (e) => e.textContent);
    await h.shot(popup, 'iiif-auth-access-popup');
    await Promise.all([popup.waitForEvent('close', { timeout: 15000 }), popup.click('#iiif-access-submit')]);
    return who;
  }

  try {
    await h.test('iiif-auth: a viewer on another origin walks probe, access, token, probe, pixels, logout', async () => {
      const origin = `http://127.0.0.1:${vport}`;
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      // the refused tile before sign-in and after logout is an expected console error
      h.allowErrors(/401|Unauthorized|Failed to load resource/);
      try {
        await page.goto(`${origin}/viewer?info=${encodeURIComponent(infoUrl)}`);
        const who = await signInPopup(page);
        h.expect(who.includes(origin), `the popup names the asking site: ${who}`);
        await page.waitForFunction(() => window.__auth.done, null, { timeout: 20000 });
        const A = await page.evaluate(() => window.__auth);
        h.expect(!A.error, `viewer error: ${A.error}`);
        h.expect(A.before === 0, 'before sign-in the tile does not load');
        h.expect(A.probe1.type === 'AuthProbeResult2' && A.probe1.status === 401 && A.probe1.heading.zh, `probe without token: ${JSON.stringify(A.probe1)}`);
        const heading = await page.textContent('#heading');
        h.expect(/Restricted image/.test(heading) && /受限图像/.test(heading), `heading shown: ${heading}`);
        const m = A.token.data;
        h.expect(m.type === 'AuthAccessToken2' && m.messageId === A.token.asked && m.accessToken.startsWith('dqt_') && m.expiresIn > 0, `token message: ${JSON.stringify({ ...m, accessToken: '…' })}`);
        h.expect(A.token.origin === h.base, `posted from the token service's origin ${A.token.origin}`);
        h.expect(A.probe2.status === 200, `probe with token: ${JSON.stringify(A.probe2)}`);
        h.expect(A.after > 0, 'after sign-in the tile loads with the access cookie');
        await h.shot(page, 'iiif-auth-viewer-signed-in');
        const [out] = await Promise.all([page.waitForEvent('popup'), page.click('#logout')]);
        await out.waitForSelector('#signed-out', { timeout: 15000 });
        await out.close();
        await page.waitForFunction(() => window.__auth.loggedOut, null, { timeout: 20000 });
        const B = await page.evaluate(() => window.__auth);
        h.expect(B.probe3.status === 401, `after logout the token probes ${B.probe3.status}`);
        h.expect(B.later === 0, 'after logout the tile does not load');
      } finally {
        await page.context().close();
        h.allowErrors(null);
      }
    });

    await h.test('iiif-auth: another site over plain http gets missingAspect (https needed)', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      h.allowErrors(/401|Unauthorized|Failed to load resource/);
      try {
        await page.goto(`http://localhost:${vport}/viewer?info=${encodeURIComponent(infoUrl)}`);
        await signInPopup(page);
        await page.waitForFunction(() => window.__auth.done, null, { timeout: 20000 });
        const A = await page.evaluate(() => window.__auth);
        h.expect(A.token && A.token.data.type === 'AuthAccessTokenError2' && A.token.data.profile === 'missingAspect',
          `cross-site token over http: ${JSON.stringify(A.token && A.token.data)}`);
        h.expect(A.before === 0 && !A.after, 'and no pixels');
        h.expect(/Not signed in/.test(await page.textContent('#token-error')), 'the error heading is shown');
      } finally {
        await page.context().close();
        h.allowErrors(null);
      }
    });

    await h.test('iiif-auth: another site over https (TLS proxy): SameSite=None; Secure cookie, the flow goes through', async () => {
      const procs = [];
      // A regular browser profile: Chromium sends third-party cookies there by default, but
      // blocks them in Incognito-like contexts (every h.newPage context is one), as Safari
      // and Firefox's strict mode do everywhere; both are tried below.
      const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dq-iiifauth-profile-'));
      let regular = null, incognito = null;
      try {
        const hp = await freePort();
        h.sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${tmp}/k.pem`, '-out', `${tmp}/c.pem`,
          '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']);
        fs.writeFileSync(`${tmp}/tls.pem`, fs.readFileSync(`${tmp}/c.pem`) + fs.readFileSync(`${tmp}/k.pem`));
        const dq = await startDanqing(h.BIN, h.data, ['--public-url', `https://127.0.0.1:${hp}`]);
        procs.push(dq.proc);
        fs.writeFileSync(`${tmp}/haproxy.cfg`, [
          'defaults', '    mode http', '    timeout connect 1s', '    timeout client 30s', '    timeout server 30s',
          'frontend tls', `    bind 127.0.0.1:${hp} ssl crt ${tmp}/tls.pem`, '    default_backend dq',
          'backend dq', `    server dq1 127.0.0.1:${dq.port}`, ''].join('\n'));
        const ha = spawn('haproxy', ['-db', '-f', `${tmp}/haproxy.cfg`], { stdio: 'ignore' });
        procs.push(ha);
        await waitPort(hp);
        const origin = `https://127.0.0.1:${hp}`;
        const viewerUrl = `http://localhost:${vport}/viewer?info=${encodeURIComponent(`${origin}/iiif/3/${image}/info.json`)}`;

        // The browser's cookie setting "allow third-party cookies" (chrome://settings/cookies),
        // as a researcher sets it for the museum: written into the new profile's preferences.
        fs.mkdirSync(path.join(profile, 'Default'), { recursive: true });
        fs.writeFileSync(path.join(profile, 'Default', 'Preferences'), JSON.stringify({ profile: { cookie_controls_mode: 0, block_third_party_cookies: false } }));
        regular = await chromium.launchPersistentContext(profile, {
          executablePath: process.env.DQ_CHROMIUM || '/usr/bin/chromium', headless: true, ignoreHTTPSErrors: true, locale: 'en-GB',
          args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
        });
        const page = await regular.newPage();
        await page.goto(viewerUrl);
        await signInPopup(page);
        await page.waitForFunction(() => window.__auth.done, null, { timeout: 20000 });
        const A = await page.evaluate(() => window.__auth);
        h.expect(!A.error, `viewer error: ${A.error}`);
        const c = (await regular.cookies()).find((k) => k.name === 'dq_iiif');
        h.expect(c && c.sameSite === 'None' && c.secure && c.httpOnly && c.path === '/iiif/', `access cookie over https: ${JSON.stringify(c && { ...c, value: '…' })}`);
        h.expect(A.before === 0 && A.probe1.status === 401, 'before: no pixels, probe 401');
        h.expect(A.token.data.type === 'AuthAccessToken2' && A.token.origin === origin, `token from another site over https: ${JSON.stringify({ ...A.token.data, accessToken: '…' })}`);
        h.expect(A.probe2.status === 200 && A.after > 0, `probe ${A.probe2.status}, tile ${A.after}px wide`);
        await h.shot(page, 'iiif-auth-viewer-other-site-https');
        const [out] = await Promise.all([page.waitForEvent('popup'), page.click('#logout')]);
        await out.waitForSelector('#signed-out', { timeout: 15000 });
        await out.close();
        await page.waitForFunction(() => window.__auth.loggedOut, null, { timeout: 20000 });
        const B = await page.evaluate(() => window.__auth);
        h.expect(B.probe3.status === 401 && B.later === 0, `after logout: probe ${B.probe3.status}, tile ${B.later}`);

        // The same in a context that blocks third-party cookies: the sign-in works, the
        // token frame gets no cookie, the viewer shows the error; still never a pixel.
        incognito = await h.browser.newContext({ ignoreHTTPSErrors: true, locale: 'en-GB' });
        const p2 = await incognito.newPage();
        await p2.goto(viewerUrl);
        await signInPopup(p2);
        await p2.waitForFunction(() => window.__auth.done, null, { timeout: 20000 });
        const C = await p2.evaluate(() => window.__auth);
        h.expect(C.token && C.token.data.profile === 'missingAspect' && C.before === 0 && !C.after,
          `third-party cookies blocked: ${JSON.stringify(C.token && C.token.data.profile)}`);
      } finally {
        if (regular) await regular.close();
        if (incognito) await incognito.close();
        for (const p of procs) p.kill('SIGTERM');
        fs.rmSync(profile, { recursive: true, force: true });
      }
    });
  } finally {
    viewerSrv.close();
    const g = await call('GET', `/api/relics/${relic}`);
    await call('DELETE', `/api/relics/${relic}`, { etag: g.etag });
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
