// Browser tests of the web front end: playwright-core driving Debian's Chromium against
// `danqing serve` on loopback. Builds nothing: needs build/danqing (or $DQ_WEB_BIN) and
// build/web (make web). The sample collection is painted by `danqing generate` and ingested
// once into build/webtest/ (reused while the binary is unchanged), with `danqing import`
// for the records and `danqing user add` for a curator account. Everything comes from the
// real server: the tests create their annotations and tours through the API, as a curator
// signed in through the page (and remove what an earlier run left). Screenshots go to
// build/screenshots/. Last line: "N passed, N failed".
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.resolve(ROOT, process.env.DQ_WEB_BIN || 'build/danqing');
const WEB = path.join(ROOT, 'build/web');
const WORK = path.join(ROOT, 'build/webtest');
const GEN = path.join(ROOT, 'build/webtest-gen');
const SHOTS = path.join(ROOT, 'build/screenshots');
const SCALE = process.env.DQ_WEB_SCALE || '1';
const t0 = Date.now();
let passed = 0, failed = 0;
const consoleErrors = [];
let allowedErrors = null; // a RegExp of console errors a step provokes on purpose
const CURATOR = { user: 'curator1', password: 'Danqing-webtest-2026' };
const log = (...a) => console.log(...a);

function fail(msg) { throw new Error(msg); }
function expect(cond, msg) { if (!cond) fail(msg); }

// ---------------------------------------------------------------- data
function sh(cmd, args, opts = {}) { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString(); }

// The painted collection depends only on the generator's sources (src/paint, and the image
// and core code it writes with) and the scale, not on the rest of the binary: it is kept in
// build/webtest-gen/ while those are unchanged, which saves a minute of painting per run
// after an unrelated change. The ingested data directory is remade whenever the binary is.
function generatorKey() {
  const h = crypto.createHash('sha256');
  h.update(`scale ${SCALE}\n`);
  const walk = (dir) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const f = path.join(dir, e.name);
      if (e.isDirectory()) walk(f);
      else if (/\.[ch]$/.test(e.name)) { h.update(`${path.relative(ROOT, f)}\n`); h.update(fs.readFileSync(f)); }
    }
  };
  for (const d of ['src/paint', 'src/image', 'src/core']) walk(path.join(ROOT, d));
  return h.digest('hex');
}

function prepareData() {
  const stamp = path.join(WORK, 'stamp');
  const want = `${fs.statSync(BIN).mtimeMs}|${SCALE}`;
  const gen = path.join(GEN, 'gen'), data = path.join(WORK, 'data');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return { gen, data };
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  const genStamp = path.join(GEN, 'stamp'), genWant = generatorKey();
  if (!(fs.existsSync(genStamp) && fs.readFileSync(genStamp, 'utf8') === genWant)) {
    fs.rmSync(GEN, { recursive: true, force: true });
    fs.mkdirSync(GEN, { recursive: true });
    log(`  painting the sample collection (generate --scale ${SCALE}) ...`);
    sh(BIN, ['generate', '--out', gen, '--no-truth', '--quiet', '--scale', SCALE]);
    fs.writeFileSync(genStamp, genWant);
  }
  log('  ingesting the sample collection ...');
  // As make demo does: each main image under its accession, then the records.
  const lines = fs.readFileSync(path.join(gen, 'metadata.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const m of lines) sh(BIN, ['ingest', path.join(gen, m.images[0].file), '--id', m.accession, '--data', data, '--log-level', '3']);
  let imported = 'no import command';
  if (/^\s+import\s/m.test(sh(BIN, ['help']))) {
    try { sh(BIN, ['--data', data, 'import', path.join(gen, 'metadata.jsonl')]); imported = 'ok'; } catch (e) { imported = String(e.stderr || e).split('\n').slice(-2).join(' ').slice(0, 160); }
  }
  fs.writeFileSync(path.join(WORK, 'import'), imported);
  fs.writeFileSync(stamp, want);
  return { gen, data };
}

function startServer(data) {
  return new Promise((resolve, reject) => {
    const p = spawn(BIN, ['serve', '--listen', '127.0.0.1:0', '--data', data, '--web', WEB, '--log-level', '2', '--threads', '4'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    p.stderr.on('data', (d) => { if (process.env.DQ_WEB_VERBOSE) process.stderr.write(d); });
    p.stdout.on('data', (d) => {
      buf += d;
      const m = /listening on (http:\/\/[^\s]+?)\/?\s/.exec(buf);
      if (m) resolve({ proc: p, url: m[1] });
    });
    p.on('exit', (c) => reject(new Error(`server exited ${c}: ${buf}`)));
    setTimeout(() => reject(new Error('server did not start')), 15000);
  });
}

// ---------------------------------------------------------------- harness
async function test(name, fn) {
  const s = Date.now();
  try {
    await fn();
    passed++;
    log(`  ok    ${name} (${Date.now() - s} ms)`);
  } catch (e) {
    failed++;
    log(`  FAIL  ${name}: ${e && e.message ? (process.env.DQ_DEBUG ? e.message : e.message.split('\n')[0]) : e}`);
  }
}

// A page in a fresh context whose browser language (navigator.languages and the
// Accept-Language header) is lang.
async function newPage(browser, base, { width = 1440, height = 900, lang = 'zh-CN' } = {}) {
  const ctx = await browser.newContext({ locale: lang, viewport: { width, height } });
  const page = await ctx.newPage();
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location() && m.location().url ? ` (${m.location().url})` : '';
    const text = `${page.url()}: ${m.text()}${where}`;
    if (!(allowedErrors && allowedErrors.test(text))) consoleErrors.push(text);
  });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  return page;
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`) });
}

// Waits until OpenSeadragon has drawn every tile it wants for the current view.
async function osdSettled(page, expr) {
  await page.waitForFunction((e) => {
    // eslint-disable-next-line no-new-func
    const v = e === 'scroll' ? window.__dqScroll && window.__dqScroll.viewer : window.__dqViewer;
    return v && v.world.getItemCount() > 0 && v.world.getItemAt(0).getFullyLoaded() && (e !== 'scroll' || window.__dqScroll.settled);
  }, expr, { timeout: 20000 });
}

// Waits until the OpenSeadragon viewers named by which ('viewer': the relic page's,
// 'compare': the compare page's) have reached their target view (no spring still moving)
// and drawn every tile they want: the condition a fixed sleep used to guess at.
async function viewsSettled(page, which = 'viewer') {
  await page.waitForFunction((w) => {
    const vs = w === 'viewer' ? [window.__dqViewer] : (window.__dqCompare || []);
    return vs.length > 0 && vs.every((v) => {
      if (!v || !v.world || v.world.getItemCount() === 0) return false;
      for (let i = 0; i < v.world.getItemCount(); i++) if (!v.world.getItemAt(i).getFullyLoaded()) return false;
      const a = v.viewport.getBounds(true), b = v.viewport.getBounds(false);
      return Math.abs(a.x - b.x) + Math.abs(a.y - b.y) + Math.abs(a.width - b.width) + Math.abs(a.height - b.height) <= 1e-6 * Math.max(b.width, 1e-9) * 1e3;
    });
  }, which, { timeout: 20000 });
}

// Waits until sel's box stays put over two animation frames (a panel opened, a scroll into
// view finished).
async function layoutStable(page, sel) {
  await page.waitForFunction((s) => new Promise((resolve) => {
    const el = document.querySelector(s);
    if (!el) { resolve(false); return; }
    const r0 = JSON.stringify(el.getBoundingClientRect());
    requestAnimationFrame(() => requestAnimationFrame(() => resolve(JSON.stringify(el.getBoundingClientRect()) === r0)));
  }), sel, { timeout: 10000 });
}

function rawStatus(base, p) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method: 'GET' }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

// The curator account the tests sign in with (the CLI, before the server starts).
function ensureCurator(data) {
  const list = sh(BIN, ['--data', data, 'user', 'list']);
  if (new RegExp(`^\\s*${CURATOR.user}\\b`, 'm').test(list)) sh(BIN, ['--data', data, 'user', 'passwd', CURATOR.user, '--password', CURATOR.password]);
  else sh(BIN, ['--data', data, 'user', 'add', CURATOR.user, '--role', 'curator', '--password', CURATOR.password]);
}

// A signed-in API client for Node (cookie + the CSRF header on writes).
async function apiSession(base) {
  const r = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'danqing' }, body: JSON.stringify(CURATOR) });
  expect(r.status === 200, `login -> ${r.status}`);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  const call = async (method, p, { etag, body } = {}) => {
    const headers = { Cookie: cookie, 'X-Requested-With': 'danqing' };
    if (etag) headers['If-Match'] = etag;
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${p}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('etag'), json: text ? JSON.parse(text) : null };
  };
  return call;
}

// What an earlier run created (the data directory is kept between runs): gone.
async function cleanup(base) {
  const call = await apiSession(base);
  const list = await call('GET', '/api/relics?limit=100');
  for (const it of list.json.items) {
    const c = await call('GET', `/api/relics/${it.id}/annotations/`);
    for (const a of (c.json && c.json.first && c.json.first.items) || []) {
      const p = new URL(a.id).pathname;
      const g = await call('GET', p);
      await call('DELETE', p, { etag: g.etag });
    }
    const tl = await call('GET', `/api/relics/${it.id}/tours`);
    for (const tr of (tl.json && tl.json.items) || []) {
      const g = await call('GET', `/api/tours/${tr.id}`);
      await call('DELETE', `/api/tours/${tr.id}`, { etag: g.etag });
    }
  }
  // the edge-case records of the issue 10 tests
  const mine = await call('GET', '/api/relics?limit=100&sort=accession');
  for (const it of (mine.json && mine.json.items) || []) {
    if (!String(it.accession).startsWith('WEBTEST-')) continue;
    const g = await call('GET', `/api/relics/${it.id}`);
    await call('DELETE', `/api/relics/${it.id}`, { etag: g.etag });
  }
  await call('POST', '/api/logout');
}

// Records the issue 10 web tests need (created through the API, removed by cleanup): a title
// of 160 characters with no break opportunity; a record with neither dynasty nor object type
// and a Chinese-only (reign-period) date.
const LONG_TITLE = `Untitled${'Long'.repeat(38)}Scroll`;
async function seedEdgeRelics(base) {
  const call = await apiSession(base);
  const made = {};
  const someImage = (await call('GET', '/api/images')).json.items[0].id;
  for (const doc of [
    { accession: 'WEBTEST-LONG', title: { en: LONG_TITLE, zh: '长题' }, dynasty: 'ming', object_type: 'hanging_scroll', year_from: 1500, year_to: 1500 },
    { accession: 'WEBTEST-BARE', title: { zh: '无款山水', en: 'Untitled landscape' }, date_text: '万历三年', year_from: 1575, year_to: 1575, images: [{ image_id: someImage, role: 'main' }] },
  ]) {
    const r = await call('POST', '/api/relics', { body: doc });
    expect(r.status === 201, `create ${doc.accession} -> ${r.status} ${JSON.stringify(r.json)}`);
    made[doc.accession] = r.json.id;
  }
  await call('POST', '/api/logout');
  return made;
}

// The visible part of the image in image pixels: [x, y, w, h].
async function viewBounds(page) {
  return page.evaluate(() => {
    const v = window.__dqViewer, it = v.world.getItemAt(0);
    const r = it.viewportToImageRectangle(v.viewport.getBounds(true));
    return [r.x, r.y, r.width, r.height];
  });
}
async function flyTo(page, x, y, w, h) {
  await page.evaluate(([a, b, c, d]) => {
    const v = window.__dqViewer;
    v.viewport.fitBounds(v.world.getItemAt(0).imageToViewportRectangle(a, b, c, d), true);
  }, [x, y, w, h]);
  await viewsSettled(page);
}

// ---------------------------------------------------------------- main
async function main() {
  expect(fs.existsSync(BIN), `${BIN} missing: run make`);
  for (const f of fs.existsSync(SHOTS) ? fs.readdirSync(SHOTS) : []) if (f.endsWith('.png')) fs.rmSync(path.join(SHOTS, f)); // no stale ones
  expect(fs.existsSync(path.join(WEB, 'index.html')), 'build/web missing: run make web');
  const { gen, data } = prepareData();
  const imp = fs.readFileSync(path.join(WORK, 'import'), 'utf8');
  expect(imp === 'ok', `danqing import failed: ${imp}`);
  log('  catalog: imported with danqing import (real API)');
  ensureCurator(data);
  const { proc, url: base } = await startServer(data);
  // playwright-core gives the browser a fresh temporary --user-data-dir of its own.
  let browser = null;
  try {
    browser = await launch();
    await cleanup(base);
    const edge = await seedEdgeRelics(base);
    if (!process.env.DQ_WEB_ONLY) await scenarios(browser, base, edge);
    await suites(browser, base, gen, data);
    await test('no console errors', async () => {
      expect(consoleErrors.length === 0, `${consoleErrors.length}: ${consoleErrors.slice(0, 5).join(' || ')}`);
    });
  } finally {
    if (browser) await browser.close().catch(() => {});
    proc.kill('SIGTERM');
  }
}

// accession -> {id, image} from the search API (the real one once imported).
async function resolveIds(base) {
  const j = await (await fetch(`${base}/api/relics?limit=100&sort=accession`)).json();
  const out = {};
  for (const it of j.items) out[it.accession] = { id: it.id, image: it.image_id || (/\/iiif\/3\/([^/]+)\//.exec(it.thumbnail || '') || [])[1] };
  return out;
}

async function scenarios(ctx, base, edge) { // ctx: the browser
  const ids = await resolveIds(base);
  const R1 = ids['DQ-2026-0001'].id, R5 = ids['DQ-2026-0005'].id;
  const I9 = ids['DQ-2026-0009'].image, I10 = ids['DQ-2026-0010'].image;
  // ---- the server side of the front end
  await test('static: index, content types, 304, traversal', async () => {
    let r = await fetch(`${base}/`);
    expect(r.status === 200 && r.headers.get('content-type').startsWith('text/html'), `/ -> ${r.status}`);
    expect((r.headers.get('content-security-policy') || '').includes("script-src 'self'"), 'CSP missing');
    r = await fetch(`${base}/relic/${R1}`);
    expect(r.status === 200 && (await r.text()).includes('<main id="main"'), 'SPA fallback');
    r = await fetch(`${base}/static/js/app.js`);
    expect(r.headers.get('content-type').startsWith('text/javascript'), 'js type');
    const etag = r.headers.get('etag');
    r = await fetch(`${base}/static/js/app.js`, { headers: { 'If-None-Match': etag } });
    expect(r.status === 304, `revalidation -> ${r.status}`);
    r = await fetch(`${base}/static/fonts/kai-ui.woff2`);
    expect(r.headers.get('content-type') === 'font/woff2' && /max-age=\d{5,}/.test(r.headers.get('cache-control')), 'font headers');
    for (const p of ['/static/../index.html', '/static/%2e%2e/%2e%2e/etc/passwd', '/static/js/%2e%2e%2f%2e%2e%2fx.js', '/static/missing.js', '/..%2f..%2fetc/passwd']) {
      const st = await rawStatus(base, p); // fetch() would normalise the dots away
      expect(st === 400 || st === 404, `${p} -> ${st}`);
    }
  });

  const page = await newPage(ctx, base);
  // ---- home
  await test('home: featured works, dynasty timeline, types and subjects', async () => {
    await page.goto(`${base}/`);
    await page.waitForSelector('.featured .card img');
    expect(await page.locator('.featured .card').count() >= 3, 'featured');
    expect(await page.locator('.era-link').count() >= 5, 'timeline');
    expect(await page.locator('.tile').count() >= 3, 'tiles');
    expect(await page.evaluate(() => document.documentElement.lang) === 'zh-Hans', 'Accept-Language zh → zh');
    await page.waitForFunction(() => [...document.querySelectorAll('.featured img')].every((i) => i.complete && i.naturalWidth > 0));
    await page.evaluate(() => document.fonts.ready);
    await shot(page, 'home-desktop');
  });

  // ---- search
  await test('search 山水: results with thumbnails, URL state', async () => {
    await page.fill('#q-top', '山水');
    await page.press('#q-top', 'Enter');
    await page.waitForSelector('.results .card');
    expect(decodeURIComponent(page.url()).includes('q=山水'), `url ${page.url()}`);
    const n = await page.locator('.results .card').count();
    expect(n >= 5, `only ${n} results`);
    await page.waitForFunction(() => [...document.querySelectorAll('.results img')].slice(0, 8).every((i) => i.complete && i.naturalWidth > 0));
    await shot(page, 'search-desktop');
  });
  await test('search "landscape": facets, year range and paging keep the URL', async () => {
    await page.goto(`${base}/search?q=landscape`);
    await page.waitForSelector('.results .card');
    const before = await page.locator('.results .card').count();
    expect(before >= 5, 'landscape results');
    await page.locator('.facet-btn', { hasText: '明' }).first().click();
    await page.waitForURL(/dynasty=ming/);
    await page.waitForSelector('.facet-btn[aria-pressed="true"]');
    const after = await page.locator('.results .card').count();
    expect(after > 0 && after < before, `facet narrowed ${before} -> ${after}`);
    await page.goto(`${base}/search?year_from=1300&year_to=1400`);
    await page.waitForSelector('.results .card');
    expect((await page.textContent('.year-out')).includes('1300'), 'year range shown');
    await page.goto(`${base}/search?limit=4`);
    await page.goto(`${base}/search?q=&sort=accession`);
    await page.waitForSelector('.results .card');
    await page.goBack(); await page.goForward();
    expect(page.url().includes('sort=accession'), 'history keeps state');
  });

  // ---- issue 10 item 9: the defects the hostile review found in the front end
  await test('issue 10: snippets read as text (no entities), facts are labelled, no raw field dump', async () => {
    for (const q of ["fishermen's", 'landscape', '山水']) {
      await page.goto(`${base}/search?q=${encodeURIComponent(q)}`);
      await page.waitForSelector('.results .card, .results .empty');
      const cards = await page.evaluate(() => [...document.querySelectorAll('.results .card')].map((c) => ({
        text: c.textContent,
        facts: [...c.querySelectorAll('.card-facts .fact')].map((f) => [f.querySelector('.fact-label').textContent, f.querySelector('.fact-value').textContent]),
        match: (c.querySelector('.card-match') || {}).textContent || '',
        marks: c.querySelectorAll('mark').length,
      })));
      for (const c of cards) {
        expect(!/&(#\d+|#x[0-9a-f]+|[a-z]+);/i.test(c.text), `entity shown for ${q}: ${c.text.slice(0, 120)}`);
        expect(!/undefined|null/.test(c.text), `undefined shown: ${c.text.slice(0, 120)}`);
        expect(c.facts.length >= 1 && c.facts.every(([l, v]) => l.trim() && v.trim()), `facts labelled: ${JSON.stringify(c.facts)}`);
        const acc = (c.facts.find(([l]) => l === '编号') || [])[1];
        expect(!acc || !c.match.includes(acc), `a field dump as the snippet: ${c.match}`);
      }
      if (q === "fishermen's") {
        expect(cards.length >= 1 && cards.some((c) => c.text.includes("Fishermen's") && c.marks > 0), `Fishermen's highlighted: ${cards.map((c) => c.text.slice(0, 60)).join(' | ')}`);
      } else {
        expect(cards.length >= 1 && cards.every((c) => c.marks > 0), `every card shows its hit for ${q}`);
      }
    }
    await shot(page, 'search-snippets-desktop');
  });

  await test('issue 10: a long unbroken title wraps inside its card; a relic without dynasty or type shows no "undefined"', async () => {
    await page.goto(`${base}/search?sort=accession&limit=100`);
    await page.waitForSelector('.results .card');
    const long = page.locator(`.results a[href="/relic/${edge['WEBTEST-LONG']}"]`);
    await long.scrollIntoViewIfNeeded();
    const over = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(over <= 0, `page widened by ${over}px`);
    const [card, cell] = await page.evaluate((id) => {
      const a = document.querySelector(`.results a[href="/relic/${id}"]`);
      return [a.getBoundingClientRect().width, a.closest('li').getBoundingClientRect().width];
    }, edge['WEBTEST-LONG']);
    expect(card <= cell + 1 && cell < 600, `card ${card}px in a cell of ${cell}px`);
    await shot(page, 'search-long-title-desktop');
    const bare = await page.textContent(`.results a[href="/relic/${edge['WEBTEST-BARE']}"]`);
    expect(!/undefined/.test(bare), `search card: ${bare}`);
    await page.goto(`${base}/relic/${edge['WEBTEST-BARE']}`);
    await page.waitForSelector('.relic-title');
    const body = await page.textContent('main');
    expect(!/undefined/.test(body), 'relic page shows undefined');
    expect(await page.locator('.kicker a').count() === 0, 'no dynasty/type links for a record without them');
    const dts = await page.$$eval('.facts dt', (d) => d.map((x) => x.textContent));
    expect(!dts.includes('朝代') && !dts.includes('类别'), `empty rows: ${dts}`);
  });

  await test('issue 10: the English citation has no Chinese-only date; the Chinese one keeps it', async () => {
    await page.goto(`${base}/relic/${edge['WEBTEST-BARE']}?lang=en`);
    await page.waitForSelector('.relic-title');
    const en = await page.textContent('.cite-text');
    expect(!/[\u3400-\u9fff]/.test(en.replace(/^[^,]*《[^》]*》/, '')), `Chinese in the English citation: ${en}`);
    expect(en.includes('1575'), `the years stand in: ${en}`);
    expect(!/[\u3400-\u9fff]/.test(await page.textContent('.facts')), 'English facts carry Chinese-only text');
    await page.goto(`${base}/relic/${edge['WEBTEST-BARE']}?lang=zh`);
    await page.waitForSelector('.relic-title');
    expect((await page.textContent('.cite-text')).includes('万历三年'), 'the Chinese citation has the reign date');
  });

  await test('issue 10: the rights statement is the server\'s (the manifest\'s), in words', async () => {
    await page.goto(`${base}/relic/${R1}`);
    await page.waitForSelector('.relic-title');
    const m = await (await fetch(`${base}/iiif/presentation/3/${R1}/manifest`)).json();
    const shown = await page.getAttribute('.facts a.rights', 'data-rights');
    expect(shown === m.rights, `page ${shown} vs manifest ${m.rights}`);
    const text = await page.textContent('.facts a.rights');
    const cc0 = /publicdomain\/zero/.test(m.rights);
    expect(cc0 === /CC0/.test(text), `label "${text}" for ${m.rights}`);
    expect(cc0, `the generated works are CC0, the manifest says ${m.rights}`);
    // the record without rights: the manifest's default, said the same way
    await page.goto(`${base}/relic/${edge['WEBTEST-BARE']}`);
    await page.waitForSelector('.relic-title');
    const m2 = await (await fetch(`${base}/iiif/presentation/3/${edge['WEBTEST-BARE']}/manifest`)).json();
    expect((await page.getAttribute('.facts a.rights', 'data-rights')) === m2.rights, 'default rights as in the manifest');
    expect((await page.textContent('.facts a.rights')).includes('未评估'), 'copyright not evaluated, in words');
  });

  await test('issue 9: the dynasties come from /api/vocab (no copy in the front end)', async () => {
    const js = await (await fetch(`${base}/static/js/i18n.js`)).text();
    expect(!/five_dynasties|northern_song/.test(js), 'a hand copy of the dynasty list is still in i18n.js');
    const vocab = await (await fetch(`${base}/api/vocab/dynasties`)).json();
    expect(vocab.length >= 20, `the server knows ${vocab.length} dynasties`);
    // a page whose /api/vocab answer is changed shows the change: the labels come from there
    const p2 = await newPage(ctx, base);
    try {
      await p2.route('**/api/vocab/dynasties', async (route) => {
        const r = await route.fetch();
        const list = await r.json();
        for (const d of list) d.zh = `${d.zh}·测`;
        await route.fulfill({ response: r, json: list });
      });
      await p2.goto(`${base}/`);
      await p2.waitForSelector('.era-link');
      const eras = await p2.$$eval('.era-link .era-name', (e) => e.map((x) => x.textContent));
      expect(eras.length >= 3 && eras.every((x) => x.endsWith('·测')), `timeline labels ${eras}`);
      const keys = await p2.$$eval('.era-link', (e) => e.map((x) => new URL(x.href).searchParams.get('dynasty')));
      expect(keys.every((k) => vocab.some((d) => d.key === k)), `timeline keys ${keys}`);
      await p2.goto(`${base}/search?q=landscape`);
      await p2.waitForSelector('.facet-btn');
      const dyn = await p2.$$eval('#facet-dynasty ~ ul .facet-name', (e) => e.map((x) => x.textContent));
      expect(dyn.length > 0 && dyn.every((x) => x.endsWith('·测')), `facet labels ${dyn}`);
    } finally { await p2.context().close(); }
  });

  // ---- relic
  await test('relic: metadata, viewer opens, zoom in, cite, manifest, downloads', async () => {
    await page.goto(`${base}/search?q=${encodeURIComponent('高山飞瀑')}`);
    await page.locator('.results .card').first().click();
    await page.waitForURL((u) => u.pathname === `/relic/${R5}`);
    await page.waitForSelector('.relic-title');
    expect((await page.textContent('.relic-title')).includes('高山飞瀑图'), 'title');
    expect(await page.locator('.inscription').count() > 0 && await page.locator('.seal-chip').count() > 0, 'inscriptions and seals');
    await osdSettled(page, 'viewer');
    const z0 = await page.evaluate(() => window.__dqViewer.viewport.getZoom());
    await page.click('button[aria-label="放大"]');
    await viewsSettled(page);
    const z1 = await page.evaluate(() => window.__dqViewer.viewport.getZoom());
    expect(z1 > z0 * 1.3, `zoom ${z0} -> ${z1}`);
    await osdSettled(page, 'viewer');
    expect((await page.textContent('.cite-text')).includes('DQ-2026-0005'), 'citation');
    const href = await page.getAttribute('.iiif-drag', 'href');
    expect(href.includes(`/iiif/presentation/3/${R5}/manifest?manifest=`), 'manifest link');
    expect(await page.locator('.downloads a').count() >= 1, 'downloads');
    const dl = await page.getAttribute('.downloads a >> nth=0', 'href');
    const r = await fetch(`${base}${dl}`);
    expect(r.status === 200 && r.headers.get('content-type') === 'image/jpeg', `download ${dl} -> ${r.status}`);
    await page.click('button[aria-label="全图"]');
    await viewsSettled(page);
    await shot(page, 'relic-desktop');
  });

  // ---- issue 6: accounts, annotations, search inside a work, tours, shared views
  await test('anonymous: annotation layer, search box and share, no authoring controls', async () => {
    await page.goto(`${base}/relic/${R1}`);
    await osdSettled(page, 'viewer');
    await page.waitForSelector('#find-q');
    await page.waitForSelector('#share-view');
    expect(await page.locator('#signin').isVisible(), 'sign-in in the masthead');
    for (const sel of ['#anno-new', '#tour-new', '#tour-edit']) expect(await page.locator(sel).count() === 0, `${sel} shown to an anonymous reader`);
    // nothing to toggle yet (an earlier run's annotations were removed), so no switch
    expect(await page.locator('label.switch').isHidden(), 'switch hidden without annotations');
  });

  await test('sign in: dialog, inline errors, then the curator and role in the masthead', async () => {
    await page.click('#signin');
    await page.waitForSelector('dialog.signin-dialog[open]');
    expect(await page.evaluate(() => document.activeElement.id) === 'signin-user', 'focus on the user field');
    await page.click('#signin-submit');
    expect(await page.locator('#signin-user-err').isVisible() && (await page.getAttribute('#signin-user', 'aria-invalid')) === 'true', 'required shown inline');
    await page.fill('#signin-user', CURATOR.user);
    await page.fill('#signin-pass', 'not-the-password');
    allowedErrors = /\/api\/login|status of 401/;
    await page.click('#signin-submit');
    await page.waitForSelector('#signin-err:not([hidden])');
    allowedErrors = null;
    expect((await page.textContent('#signin-err')).includes('不正确'), 'wrong password explained');
    await shot(page, 'signin-dialog-desktop');
    await page.fill('#signin-pass', CURATOR.password);
    await page.press('#signin-pass', 'Enter');
    await page.waitForSelector('.who-name');
    expect((await page.textContent('.who-name')) === CURATOR.user && (await page.textContent('.who-role')) === '策展人', 'user and role shown');
    expect(await page.locator('dialog[open]').count() === 0, 'dialog closed');
    await page.waitForSelector('#anno-new');
    await page.waitForSelector('#tour-new');
  });

  let annoBox = null;
  await test('annotations: draw a region as a curator, save, see it drawn, toggle off and on, edit', async () => {
    await flyTo(page, 9000, 0, 6000, 2000);
    await osdSettled(page, 'viewer');
    await page.click('#anno-new');
    await page.waitForSelector('.anno-form');
    await page.waitForSelector('.draw-surface:not([hidden])');
    await page.waitForFunction(() => { const r = document.querySelector('.viewer').getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; });
    await layoutStable(page, '.viewer');
    const vb = await page.locator('.viewer').boundingBox();
    const from = { x: vb.x + vb.width * 0.35, y: vb.y + vb.height * 0.4 }, to = { x: vb.x + vb.width * 0.5, y: vb.y + vb.height * 0.62 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(to.x, to.y, { steps: 8 });
    await page.mouse.up();
    const xywh = await page.evaluate(() => [...document.querySelectorAll('.anno-form .num')].map((i) => Number(i.value)));
    const img = await page.evaluate(([fx, fy, tx, ty]) => {
      const v = window.__dqViewer, it = v.world.getItemAt(0), O = window.OpenSeadragon;
      const b = v.container.getBoundingClientRect();
      const a = it.viewerElementToImageCoordinates(new O.Point(fx - b.left, fy - b.top)), c = it.viewerElementToImageCoordinates(new O.Point(tx - b.left, ty - b.top));
      return [a.x, a.y, c.x - a.x, c.y - a.y];
    }, [from.x, from.y, to.x, to.y]);
    expect(xywh.every((n, i) => Math.abs(n - img[i]) < 30), `drawn region ${xywh} vs ${img.map(Math.round)}`);
    await page.fill('.anno-form textarea[lang="zh-Hans"]', '渔船泊岸');
    await page.fill('.anno-form textarea[lang="en"]', 'a fishing boat moored by the bank');
    await page.selectOption('.anno-form select', 'describing');
    await shot(page, 'relic-annotate-desktop');
    await page.click('.anno-form .save');
    await page.waitForSelector('.anno');
    expect(await page.locator('.anno').count() === 1, 'one region drawn');
    expect(await page.isChecked('#anno-toggle'), 'layer on after saving');
    annoBox = await page.locator('.anno').boundingBox();
    expect(Math.abs(annoBox.x - from.x) < 6 && Math.abs(annoBox.width - (to.x - from.x)) < 8, `overlay where it was drawn: ${JSON.stringify(annoBox)}`);
    expect((await page.getAttribute('.anno', 'aria-label')) === '渔船泊岸', 'overlay labelled with its text');
    await page.click('label.switch');
    await page.waitForFunction(() => !document.querySelector('.anno'));
    await page.click('label.switch');
    await page.waitForSelector('.anno');
    // the IIIF AnnotationPage the manifest names has it
    const m = await (await fetch(`${base}/iiif/presentation/3/${R1}/manifest`)).json();
    const pageUrl = m.items[0].annotations[0].id;
    const ap = await (await fetch(pageUrl)).json();
    expect(ap.items.length === 1 && ap.items[0].target.endsWith(`#xywh=${xywh.join(',')}`), `AnnotationPage ${JSON.stringify(ap.items[0] && ap.items[0].target)}`);
    // its card: edit the English text (PUT with If-Match)
    await page.click('.anno');
    await page.waitForSelector('.anno-card .edit');
    expect((await page.textContent('.anno-card .anno-meta')).includes(CURATOR.user), 'card names the author');
    await shot(page, 'relic-annotation-card-desktop');
    await page.click('.anno-card .edit');
    await page.waitForSelector('.anno-form');
    await page.fill('.anno-form textarea[lang="en"]', 'a fishing boat moored by the river bank');
    await page.click('.anno-form .save');
    await page.waitForFunction(() => !document.querySelector('.anno-form'));
    const c = await (await fetch(`${base}/api/relics/${R1}/annotations/`)).json();
    expect(c.total === 1 && JSON.stringify(c.first.items[0].body).includes('river bank'), 'edited on the server');
  });

  await test('annotations: the keyboard way (region typed in), tags, then delete', async () => {
    await page.focus('#anno-new');
    await page.keyboard.press('Enter');
    await page.waitForSelector('.anno-form');
    const pre = await page.evaluate(() => [...document.querySelectorAll('.anno-form .num')].map((i) => Number(i.value)));
    expect(pre.every((n) => Number.isFinite(n)) && pre[2] > 0 && pre[3] > 0, `prefilled from the view: ${pre}`);
    await page.click('.draw-toggle'); // drawing off: the keyboard user types
    await page.fill('.anno-form .num >> nth=2', String(Math.round(pre[2] / 2)));
    await page.fill('.anno-form .num >> nth=1', '5000'); // outside the canvas: refused inline
    await page.selectOption('.anno-form select', 'tagging');
    await page.fill('.anno-form textarea[lang="zh-Hans"]', '松，山');
    await page.click('.anno-form .save');
    await page.waitForSelector('.anno-form .region-fields .field-err:not([hidden])');
    expect((await page.getAttribute('.anno-form .num >> nth=0', 'aria-invalid')) === 'true', 'region marked invalid');
    await page.fill('.anno-form .num >> nth=1', String(pre[1]));
    await page.click('.anno-form .save');
    await page.waitForFunction(() => document.querySelectorAll('.anno').length === 2);
    // delete it from its card (two presses: delete, then confirm)
    await page.locator('.anno[data-motivation="tagging"]').click();
    await page.waitForSelector('.anno-card .danger');
    await page.click('.anno-card .danger');
    await page.click('.anno-card .danger.armed');
    await page.waitForFunction(() => document.querySelectorAll('.anno').length === 1);
  });

  await test('search inside the work: 船 and boat list the hit, a click flies there and highlights it', async () => {
    await page.click('button[aria-label="全图"]');
    await viewsSettled(page);
    const z0 = await page.evaluate(() => window.__dqViewer.viewport.getZoom());
    for (const q of ['船', 'boat']) {
      await page.fill('#find-q', q);
      await page.press('#find-q', 'Enter');
      await page.waitForFunction((qq) => (document.querySelector('#hits-title') || {}).textContent?.includes(qq), q);
      expect(await page.locator('.hit').count() === 1, `${q}: one hit`);
      expect((await page.textContent('.hit mark')).toLowerCase() === q, `${q} marked`);
    }
    await page.click('.hit');
    await page.waitForSelector('.anno.is-lit');
    await viewsSettled(page);
    const z1 = await page.evaluate(() => window.__dqViewer.viewport.getZoom());
    await page.evaluate(() => document.querySelector('.hits').scrollIntoView({ block: 'end' }));
    expect(z1 > z0 * 2, `flew in: zoom ${z0} -> ${z1}`);
    const lit = await page.locator('.anno.is-lit').boundingBox(), vb = await page.locator('.viewer').boundingBox();
    expect(lit.x > vb.x && lit.x + lit.width < vb.x + vb.width && lit.y > vb.y && lit.y + lit.height < vb.y + vb.height, 'the region is in view');
    await shot(page, 'relic-find-desktop');
  });

  await test('tours: a curator authors a tour of 3 stops (add current view, reorder by keyboard, remove one)', async () => {
    await page.click('#tour-new');
    await page.waitForSelector('.tour-form');
    await page.fill('.tour-form input[lang="zh-Hans"]', '松壑行旅');
    await page.fill('.tour-form input[lang="en"]', 'A walk through the pine ravines');
    const stops = [[20000, 100, 3600, 1800, '卷首题字', 'The frontispiece'], [9000, 0, 6000, 2000, '渔船泊岸', 'A boat by the bank'], [1000, 200, 3000, 1500, '卷尾题跋', 'Colophons at the end'], [5000, 0, 4000, 2000, '多余的一处', 'one too many']];
    for (const [x, y, w, hh, zh, en] of stops) {
      await flyTo(page, x, y, w, hh);
      await page.click('.add-stop');
      const last = page.locator('.stop-item').last();
      await last.locator('textarea[lang="zh-Hans"]').fill(zh);
      await last.locator('textarea[lang="en"]').fill(en);
    }
    expect(await page.locator('.stop-item').count() === 4, 'four stops');
    // remove the fourth; move the third (colophons) up to second with the keyboard
    await page.click('.stop-item >> nth=3 >> .remove');
    await page.locator('.stop-item >> nth=2 >> .up').focus();
    await page.keyboard.press('Enter');
    expect(await page.evaluate(() => document.activeElement.closest('.stop-item')?.dataset.i) === '1', 'focus follows the moved stop');
    const order = await page.$$eval('.stop-item textarea[lang="zh-Hans"]', (els) => els.map((e) => e.value));
    expect(order.join('|') === '卷首题字|卷尾题跋|渔船泊岸', `order ${order}`);
    await page.waitForFunction(() => [...document.querySelectorAll('.stop-thumb')].every((i) => i.complete && i.naturalWidth > 0));
    await shot(page, 'relic-tour-editor-desktop');
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('.stage button, .stage input, .stage select, .stage textarea')]
      .filter((e) => !e.closest('[hidden]') && !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.textContent.trim()))
      .map((e) => e.outerHTML.slice(0, 80)));
    expect(unlabelled.length === 0, `unlabelled: ${unlabelled.join(' | ')}`);
    await page.click('.tour-form .save');
    await page.waitForSelector('#tour-start');
    const list = await (await fetch(`${base}/api/relics/${R1}/tours`)).json();
    expect(list.items.length === 1 && list.items[0].n_stops === 3 && list.items[0].public === true, `public tour listed: ${JSON.stringify(list.items)}`);
  });

  await test('tour: play, next/previous, keyboard, autoplay, share a stop, end', async () => {
    await page.click('#tour-start');
    await page.waitForSelector('.tour:not([hidden])');
    expect((await page.textContent('.tour-count')).includes('第 1 处，共 3 处'), 'stop 1 of 3');
    expect((await page.textContent('.tour-title')) === '松壑行旅', 'tour title');
    await page.click('.tour-controls button[aria-label="下一处"]');
    expect((await page.textContent('.tour-count')).includes('第 2 处'), 'stop 2');
    expect((await page.textContent('.tour-text')) === '卷尾题跋', 'stop 2 text');
    await page.keyboard.press('ArrowRight');
    expect((await page.textContent('.tour-count')).includes('第 3 处'), 'key → stop 3');
    await page.keyboard.press('ArrowLeft');
    expect((await page.textContent('.tour-count')).includes('第 2 处'), 'key ← stop 2');
    await page.keyboard.press('ArrowLeft');
    await page.evaluate(() => { window.__dqTour.interval = 900; }); // autoplay at test speed
    await page.click('.tour-controls button[aria-label="自动播放"]');
    await page.waitForFunction(() => document.querySelector('.tour-count').textContent.includes('第 2 处'), null, { timeout: 4000 });
    await page.click('.tour-controls button[aria-label="暂停"]');
    await viewsSettled(page);
    await shot(page, 'relic-tour-desktop');
    await page.click('.tour-share');
    const url = await page.inputValue('#share-url');
    const cs = new URL(url).searchParams.get('iiif-content');
    const r = await (await fetch(`${base}/api/content-state?iiif-content=${cs}`)).json();
    const stop = (await viewBounds(page));
    expect(r.relic_id === R1 && r.xywh.length === 4, `stop's content state ${JSON.stringify(r)}`);
    expect(r.xywh[0] >= stop[0] - 2 && r.xywh[0] + r.xywh[2] <= stop[0] + stop[2] + 2, `the shared stop ${r.xywh} is the one shown ${stop.map(Math.round)}`);
    await page.click('.share-close'); // focus goes back to the tour's share button
    expect(await page.evaluate(() => document.activeElement.classList.contains('tour-share')), 'focus back on the share button');
    await page.keyboard.press('Escape');
    expect(await page.locator('.tour').count() === 0 || await page.locator('.tour').isHidden(), 'tour ended');
  });

  let shared = null;
  await test('share this view: a Content State URL reopens at the same viewport', async () => {
    await flyTo(page, 12000, 300, 4000, 1200);
    await osdSettled(page, 'viewer');
    const before = await viewBounds(page);
    await page.click('#share-view');
    shared = await page.inputValue('#share-url');
    expect(shared.startsWith(`${base}/relic/${R1}?iiif-content=`), `share url ${shared}`);
    const enc = new URL(shared).searchParams.get('iiif-content');
    expect(/^[A-Za-z0-9_-]+$/.test(enc), 'base64url without padding');
    const json = JSON.parse(decodeURIComponent(Buffer.from(enc, 'base64url').toString('utf8')));
    expect(json.type === 'Annotation' && json.motivation[0] === 'contentState' && /\/canvas\/1#xywh=\d+,\d+,\d+,\d+$/.test(json.target.id), `content state ${JSON.stringify(json)}`);
    // issue 10: Presentation 3 requires id (an http(s) URI) and type on every Annotation, and
    // id and type on its Canvas target; the server's own (a tour stop's) has the same shape
    const p3ok = (a) => typeof a.id === 'string' && /^https?:\/\/\S+$/.test(a.id) && a.type === 'Annotation' && a.target && /^https?:/.test(a.target.id) && a.target.type === 'Canvas';
    expect(p3ok(json), `the page's Content State lacks id: ${JSON.stringify(json)}`);
    const tours = await (await fetch(`${base}/api/relics/${R1}/tours`)).json();
    if (tours.items && tours.items.length) {
      const tr = await (await fetch(`${base}/api/tours/${tours.items[0].id}`)).json();
      const enc0 = [].concat(tr.content_state || [])[0] || (tr.stops && tr.stops[0] && tr.stops[0].content_state);
      if (enc0) {
        const srv = JSON.parse(decodeURIComponent(Buffer.from(enc0, 'base64url').toString('utf8')));
        expect(p3ok(srv), `the server's Content State lacks id: ${JSON.stringify(srv)}`);
        expect(srv.id.endsWith(`/view/${srv.target.id.split('#xywh=')[1]}`), `server id ${srv.id}`);
      }
    }
    const other = await newPage(ctx, base);
    try {
      await other.goto(shared);
      await viewsSettled(other);
      const after = await viewBounds(other);
      const cx = (b) => b[0] + b[2] / 2, cy = (b) => b[1] + b[3] / 2;
      expect(Math.abs(cx(after) - cx(before)) < before[2] * 0.02 && Math.abs(cy(after) - cy(before)) < before[3] * 0.03 && Math.abs(after[2] / before[2] - 1) < 0.03,
        `viewport ${before.map(Math.round)} -> ${after.map(Math.round)}`);
      await shot(other, 'relic-shared-view-desktop');
    } finally { await other.context().close(); }
  });

  await test('sign out: the authoring controls go, the tour and annotations stay for readers', async () => {
    await page.click('#signout');
    await page.waitForSelector('#signin');
    // the page renders again for the reader (asynchronously after the masthead changes)
    await page.waitForFunction(() => !document.querySelector('#anno-new, #tour-new, #tour-edit'), null, { timeout: 10000 }).catch(() => {});
    await page.waitForSelector('#tour-start');
    for (const sel of ['#anno-new', '#tour-new', '#tour-edit']) expect(await page.locator(sel).count() === 0, `${sel} after sign-out`);
    expect(await page.locator('label.switch').isVisible(), 'annotation switch for readers');
    await page.reload();
    await page.waitForSelector('#tour-start');
    expect(await page.locator('.who-name').count() === 0, 'still signed out after a reload');
    await page.click('label.switch');
    await page.click('.anno');
    await page.waitForSelector('.anno-card .anno-text');
    expect(await page.locator('.anno-card .edit').count() === 0, 'no edit for readers');
  });

  // ---- handscroll
  await test('handscroll: opens rolled, unrolls to the end and back, zoom keeps the place', async () => {
    await page.goto(`${base}/scroll/${R1}`);
    await page.waitForFunction(() => window.__dqScroll && document.querySelector('.hs').dataset.progress !== undefined);
    await osdSettled(page, 'scroll');
    expect(await page.evaluate(() => window.__dqScroll.progress) === 0, 'starts rolled');
    expect(await page.locator('.hs.is-rolled').count() === 1, 'rolled state drawn');
    await shot(page, 'scroll-rolled-desktop');
    await page.focus('.hs');
    await page.keyboard.press('PageDown');
    await page.waitForFunction(() => window.__dqScroll.settled);
    const p1 = await page.evaluate(() => window.__dqScroll.progress);
    expect(p1 > 0.02 && p1 < 0.2, `one arm's length: ${p1}`);
    await osdSettled(page, 'scroll');
    await shot(page, 'scroll-unrolling-desktop');
    // wheel and drag read on
    await page.mouse.move(700, 450);
    await page.mouse.wheel(0, 600);
    await page.waitForFunction((p) => window.__dqScroll.settled && window.__dqScroll.progress > p, p1);
    const p2 = await page.evaluate(() => window.__dqScroll.progress);
    await page.mouse.down(); await page.mouse.move(900, 450, { steps: 6 }); await page.mouse.up();
    await page.waitForFunction(() => window.__dqScroll.settled);
    const p3 = await page.evaluate(() => window.__dqScroll.progress);
    expect(p3 > p2, `drag unrolls: ${p2} -> ${p3}`);
    await page.keyboard.press('PageDown'); await page.keyboard.press('PageDown');
    await page.waitForFunction(() => window.__dqScroll.settled);
    await osdSettled(page, 'scroll');
    await shot(page, 'scroll-middle-desktop');
    // zoom in to the brushstroke and back out: the centre stays
    const c0 = await page.evaluate(() => window.__dqScroll.view().cx);
    await page.keyboard.press('+'); await page.keyboard.press('+'); await page.keyboard.press('+');
    await page.waitForFunction(() => window.__dqScroll.settled);
    expect(await page.evaluate(() => window.__dqScroll.zoom) > 2, 'zoomed in');
    await osdSettled(page, 'scroll');
    await shot(page, 'scroll-brushstroke-desktop');
    await page.keyboard.press('0');
    await page.waitForFunction(() => window.__dqScroll.settled);
    const c1 = await page.evaluate(() => window.__dqScroll.view().cx);
    expect(Math.abs(c1 - c0) < 2, `place kept: ${c0} -> ${c1}`);
    // to the end (colophons) and back to the beginning, measuring the frame rate
    await page.evaluate(() => { const s = window.__dqScroll.stats; s.frames = 0; s.ms = 0; s.longest = 0; });
    await page.keyboard.press('End');
    await page.waitForFunction(() => window.__dqScroll.settled, null, { timeout: 10000 });
    expect(await page.evaluate(() => window.__dqScroll.progress) === 1, 'unrolled to the end');
    const st = await page.evaluate(() => ({ ...window.__dqScroll.stats }));
    log(`        unroll animation: ${st.frames} frames, ${(1000 * st.frames / st.ms).toFixed(1)} fps, longest frame ${st.longest.toFixed(1)} ms`);
    await osdSettled(page, 'scroll');
    expect((await page.textContent('.hs-caption')).includes('题跋'), 'colophon section named');
    await shot(page, 'scroll-end-desktop');
    await page.keyboard.press('Home');
    await page.waitForFunction(() => window.__dqScroll.settled, null, { timeout: 10000 });
    expect(await page.evaluate(() => window.__dqScroll.progress) === 0, 'rolled back to the beginning');
    // the overview strip jumps on click
    const box = await page.locator('.hs-strip').boundingBox();
    await page.mouse.click(box.x + box.width * 0.5, box.y + box.height / 2);
    await page.waitForFunction(() => window.__dqScroll.settled);
    const cx = await page.evaluate(() => window.__dqScroll.view().cx / window.__dqScroll.W);
    expect(Math.abs(cx - 0.5) < 0.03, `strip jump centred at ${cx}`);
    // issue 10: a full-screen button, which takes the whole scroll page and gives it back
    const full = page.locator('.hs-controls button.hs-full');
    expect(await full.count() === 1 && (await full.getAttribute('aria-label')) === '全屏展卷', 'full-screen button');
    await full.click();
    await page.waitForFunction(() => document.fullscreenElement && document.fullscreenElement.classList.contains('scroll-page'));
    await page.waitForFunction(() => window.__dqScroll.settled);
    expect((await full.getAttribute('aria-pressed')) === 'true', 'pressed while full screen');
    await osdSettled(page, 'scroll');
    await shot(page, 'scroll-fullscreen-desktop');
    await full.click();
    await page.waitForFunction(() => !document.fullscreenElement);
    // aria-pressed follows the fullscreenchange event, which may come after fullscreenElement clears
    await page.waitForFunction(() => document.querySelector('.hs-controls button.hs-full')
      .getAttribute('aria-pressed') === 'false', null, { timeout: 5000 }).catch(() => {});
    expect((await full.getAttribute('aria-pressed')) === 'false', 'released after');
  });

  await test('issue 10: the classical motifs run through the pages (ornaments, borders, grounds), quietly', async () => {
    const motifs = async () => page.evaluate(() => {
      const bg = (el, pseudo) => (el ? getComputedStyle(el, pseudo).backgroundImage : 'none');
      const op = (el, pseudo) => (el ? Number(getComputedStyle(el, pseudo).opacity) : 1);
      const title = document.querySelector('main .section-title');
      return {
        ornament: bg(title, '::before'), rule: bg(title, '::after'), ruleOpacity: op(title, '::after'),
        masthead: bg(document.querySelector('.masthead'), '::after'), mastheadOpacity: op(document.querySelector('.masthead'), '::after'),
        colophon: bg(document.querySelector('.colophon'), '::before'),
        box: bg(document.querySelector('.card-box')),
        ink: getComputedStyle(document.body).color,
      };
    });
    await page.goto(`${base}/relic/${R5}`);
    await page.waitForSelector('.card-box');
    const m = await motifs();
    for (const k of ['ornament', 'rule', 'masthead', 'colophon', 'box']) expect(m[k].includes('svg'), `${k}: ${m[k].slice(0, 60)}`);
    expect(m.ruleOpacity <= 0.6 && m.mastheadOpacity <= 0.6, `motifs stay quiet: ${m.ruleOpacity}, ${m.mastheadOpacity}`);
    expect(m.ink === 'rgb(29, 26, 22)', `text keeps the ink colour: ${m.ink}`);
    await page.evaluate(() => document.querySelector('.side').scrollIntoView());
    await shot(page, 'relic-motifs-desktop');
    await page.goto(`${base}/search?q=landscape`);
    await page.waitForSelector('.results .card');
    expect((await motifs()).masthead.includes('svg'), 'search page masthead');
  });

  // ---- compare
  await test('compare: side by side with linked zoom, and swipe', async () => {
    await page.goto(`${base}/compare?a=${I9}&b=${I10}&mode=side`);
    await page.waitForFunction(() => document.querySelectorAll('.compare-side .openseadragon-canvas canvas').length === 2);
    await viewsSettled(page, 'compare');
    const before = await page.evaluate(() => window.__dqCompare.map((v) => v.viewport.getZoom()));
    const zooms = async () => page.evaluate(() => [...document.querySelectorAll('.compare-side .viewer')].map((v) => v.querySelector('.openseadragon-container')).length);
    expect(await zooms() === 2, 'two viewers');
    await page.locator('.compare-side .viewer >> nth=0').locator('button[aria-label="放大"]').click();
    // linked zoom: the right viewer follows the left one
    await page.waitForFunction((b) => window.__dqCompare.every((v, i) => v.viewport.getZoom(false) > b[i] * 1.3), before, { timeout: 10000 });
    await viewsSettled(page, 'compare');
    await shot(page, 'compare-side-desktop');
    await page.check('input[value="swipe"]');
    await page.waitForURL(/mode=swipe/);
    await page.waitForSelector('.swipe-range');
    await page.waitForFunction(() => window.__dqCompare && window.__dqCompare.length === 1 && window.__dqCompare[0].world.getItemCount() === 2);
    await viewsSettled(page, 'compare');
    await page.fill('.swipe-range', '300');
    await page.dispatchEvent('.swipe-range', 'input');
    // the divider line moves to 30 % of the width
    await page.waitForFunction(() => {
      const line = document.querySelector('.swipe-line'), w = document.querySelector('.compare-swipe .osd').clientWidth;
      const m = /translate3d\(([\d.]+)px/.exec(line.style.transform);
      return m && Math.abs(Number(m[1]) - 0.3 * w) < 2;
    });
    await viewsSettled(page, 'compare');
    await shot(page, 'compare-swipe-desktop');
  });

  // ---- language
  await test('language: toggle to English, persists, ?lang= overrides', async () => {
    await page.goto(`${base}/relic/${R1}`);
    await page.waitForSelector('.relic-title');
    await page.click('#lang-toggle');
    await page.waitForFunction(() => document.documentElement.lang === 'en');
    await page.waitForFunction(() => document.querySelector('.relic-title').textContent.includes('Pine Ravines'), null, { timeout: 5000 }).catch(() => fail('title in English'));
    expect((await page.textContent('.topnav a[data-nav="search"]')) === 'Search', 'nav in English');
    // issue 10: the viewer (kept across the switch, with the place) relabels its buttons
    const labels = await page.$$eval('.viewer .toolbar button', (b) => b.map((x) => `${x.getAttribute('aria-label')}|${x.title}`));
    expect(labels.length >= 4 && labels.every((l) => !/[\u3400-\u9fff]/.test(l)) && labels.includes('Zoom in|Zoom in'), `viewer buttons after the switch: ${labels}`);
    expect(!/[\u3400-\u9fff]/.test(await page.getAttribute('.viewer .osd', 'aria-label')), 'viewer label in English');
    await osdSettled(page, 'viewer');
    await shot(page, 'relic-en-desktop');
    await page.reload();
    await page.waitForSelector('.relic-title');
    expect(await page.evaluate(() => document.documentElement.lang) === 'en', 'persisted');
    await page.goto(`${base}/?lang=zh`);
    await page.waitForSelector('.featured .card');
    expect(await page.evaluate(() => document.documentElement.lang) === 'zh-Hans', '?lang=zh');
    await page.goto(`${base}/search?q=landscape&lang=en`);
    await page.waitForSelector('.results .card');
    await page.evaluate(() => document.fonts.ready);
    await shot(page, 'search-en-desktop');
    await page.evaluate(() => localStorage.removeItem('danqing.lang'));
  });

  await test('accessibility basics: labels, lang attributes, keyboard focus', async () => {
    await page.goto(`${base}/search?q=landscape&lang=en`);
    await page.waitForSelector('.results .card');
    const unlabelled = await page.evaluate(() => [...document.querySelectorAll('button, input, select, [role="slider"], [role="application"]')]
      .filter((e) => !e.closest('[hidden]') && !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.textContent.trim() || e.closest('label')))
      .map((e) => e.outerHTML.slice(0, 80)));
    expect(unlabelled.length === 0, `unlabelled: ${unlabelled.join(' | ')}`);
    const zhWithoutLang = await page.evaluate(() => [...document.querySelectorAll('main *')]
      .filter((e) => e.children.length === 0 && /[\u4e00-\u9fff]/.test(e.textContent) && !e.closest('[lang^="zh"]')).map((e) => e.outerHTML.slice(0, 80)));
    expect(zhWithoutLang.length === 0, `Chinese text without lang=zh: ${zhWithoutLang.slice(0, 3).join(' | ')}`);
    await page.keyboard.press('Tab');
    const skip = await page.evaluate(() => document.activeElement.className);
    expect(skip === 'skip', `first tab stop ${skip}`);
  });

  await page.close();

  // ---- phone width
  const phone = await newPage(ctx, base, { width: 390, height: 844, lang: 'en-US' });
  await test('phone: home, search, relic and handscroll fit 390 px', async () => {
    await phone.goto(`${base}/`);
    await phone.waitForSelector('.featured .card img');
    expect(await phone.evaluate(() => document.documentElement.lang) === 'en', 'Accept-Language en → en');
    await phone.waitForFunction(() => [...document.querySelectorAll('.featured img')].every((i) => i.complete && i.naturalWidth > 0));
    await phone.evaluate(() => document.fonts.ready);
    const over = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(over <= 0, `home overflows by ${over}px`);
    await shot(phone, 'home-phone');
    await phone.goto(`${base}/search?q=${encodeURIComponent('山水')}`);
    await phone.waitForSelector('.results .card');
    await phone.waitForFunction(() => [...document.querySelectorAll('.results img')].slice(0, 4).every((i) => i.complete && i.naturalWidth > 0));
    // issue 10: one search box, and a result before the filters (folded under one line)
    const boxes = await phone.$$eval('input[type="search"]', (i) => i.filter((x) => x.offsetParent !== null).length);
    expect(boxes === 1, `${boxes} search boxes on the phone's search page`);
    const firstCard = await phone.locator('.results .card').first().boundingBox();
    expect(firstCard.y < 844, `first result at ${firstCard.y}px, below the fold`);
    expect(!(await phone.locator('.facet-btn').first().isVisible()), 'the filter column is unfolded above the results');
    await shot(phone, 'search-phone');
    await phone.click('.facets-summary');
    await phone.waitForSelector('.facet-btn', { state: 'visible' });
    await shot(phone, 'search-filters-phone');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0, 'search page overflows');
    await phone.goto(`${base}/relic/${R1}`);
    await osdSettled(phone, 'viewer');
    expect(await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth) <= 0, 'relic overflows');
    await shot(phone, 'relic-phone');
    await phone.goto(`${base}/scroll/${R1}`);
    await osdSettled(phone, 'scroll');
    await phone.locator('.hs').focus();
    await phone.keyboard.press('PageDown'); await phone.keyboard.press('PageDown');
    await phone.waitForFunction(() => window.__dqScroll.settled);
    await osdSettled(phone, 'scroll');
    await shot(phone, 'scroll-phone');
  });
  await test('phone: sign in, search inside the work, annotation editor and tour fit 390 px', async () => {
    await phone.goto(`${base}/relic/${R1}`);
    await osdSettled(phone, 'viewer');
    await phone.click('#signin');
    await phone.waitForSelector('dialog[open]');
    await phone.fill('#signin-user', CURATOR.user);
    await phone.fill('#signin-pass', CURATOR.password);
    await shot(phone, 'signin-phone');
    await phone.click('#signin-submit');
    await phone.waitForSelector('#anno-new');
    const over = async () => phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(await over() <= 0, `signed-in masthead overflows by ${await over()}px`);
    await phone.fill('#find-q', 'boat');
    await phone.press('#find-q', 'Enter');
    await phone.waitForSelector('.hit');
    await phone.evaluate(() => document.querySelector('.work-tools').scrollIntoView({ block: 'end' }));
    await shot(phone, 'relic-tools-phone');
    await phone.click('#anno-new');
    await phone.waitForSelector('.anno-form');
    await layoutStable(phone, '.anno-form');
    expect(await over() <= 0, 'annotation editor overflows');
    await shot(phone, 'relic-annotate-phone');
    await phone.click('.anno-form .btn-line:not(.draw-toggle)');
    await phone.click('#tour-start');
    await phone.waitForSelector('.tour:not([hidden])');
    await phone.locator('.viewer').scrollIntoViewIfNeeded();
    await layoutStable(phone, '.viewer');
    await viewsSettled(phone);
    await shot(phone, 'relic-tour-phone');
    await phone.keyboard.press('Escape');
    await phone.click('#signout');
    await phone.waitForSelector('#signin');
  });
  await phone.close();
}

// Feature suites live beside this file in tests/web/scenarios/*.mjs, so that features built side
// by side do not edit one file. Each module's default export is `async function (h)` and gets the
// harness below; suites run in file-name order after the core scenarios, against the same server
// and catalog. A suite that needs WebGL launches its own browser with h.launch({ webgl: true }).
async function launch({ webgl = false } = {}) {
  const gpu = webgl ? ['--use-angle=swiftshader', '--enable-unsafe-swiftshader'] : ['--disable-gpu'];
  return chromium.launch({
    executablePath: process.env.DQ_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', ...gpu, '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

async function suites(browser, base, gen, data) {
  const dir = path.join(ROOT, 'tests/web/scenarios');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.mjs')).sort() : [];
  const only = process.env.DQ_WEB_ONLY; // a substring of suite file names: run just those
  const ids = await resolveIds(base);
  const h = {
    browser, base, gen, data, ids, BIN, ROOT, WORK, GEN, CURATOR, log, fail, expect, sh, test, newPage, shot,
    osdSettled, viewsSettled, layoutStable, apiSession, launch,
    allowErrors(re) { allowedErrors = re; },
  };
  for (const f of files) {
    if (only && !f.includes(only)) continue;
    log(`  -- ${f}`);
    const mod = await import(path.join(dir, f));
    try { await mod.default(h); } catch (e) { failed++; log(`  FAIL  ${f}: ${e.stack || e}`); }
    allowedErrors = null;
  }
}

main().catch((e) => { failed++; log(`  FAIL  setup: ${e.stack || e}`); }).finally(() => {
  log(`  screenshots: ${SHOTS}`);
  log(`  time: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
