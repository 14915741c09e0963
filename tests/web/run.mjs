// Browser tests of the web front end: playwright-core driving Debian's Chromium against
// `danqing serve` on loopback. Builds nothing: needs build/danqing (or $DQ_WEB_BIN) and
// build/web (make web). The sample collection is painted by `danqing generate` and ingested
// once into build/webtest/ (reused while the binary is unchanged). The API (/api/...),
// annotation pages and tours come from fixtures.mjs only when the server lacks the
// endpoint; the summary says which were used. Screenshots go to build/screenshots/.
// Last line: "N passed, N failed".
import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeApi, attachPixels } from './fixtures.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const BIN = path.resolve(ROOT, process.env.DQ_WEB_BIN || 'build/danqing');
const WEB = path.join(ROOT, 'build/web');
const WORK = path.join(ROOT, 'build/webtest');
const SHOTS = path.join(ROOT, 'build/screenshots');
const SCALE = process.env.DQ_WEB_SCALE || '1';
const t0 = Date.now();
let passed = 0, failed = 0;
const consoleErrors = [];
const fixtureHits = new Map();
const log = (...a) => console.log(...a);

function fail(msg) { throw new Error(msg); }
function expect(cond, msg) { if (!cond) fail(msg); }

// ---------------------------------------------------------------- data
function sh(cmd, args, opts = {}) { return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts }).toString(); }

function prepareData() {
  const stamp = path.join(WORK, 'stamp');
  const want = `${fs.statSync(BIN).mtimeMs}|${SCALE}`;
  const gen = path.join(WORK, 'gen'), data = path.join(WORK, 'data');
  if (fs.existsSync(stamp) && fs.readFileSync(stamp, 'utf8') === want) return { gen, data };
  fs.rmSync(WORK, { recursive: true, force: true });
  fs.mkdirSync(WORK, { recursive: true });
  log(`  preparing the sample collection (generate --scale ${SCALE}, ingest) ...`);
  sh(BIN, ['generate', '--out', gen, '--no-truth', '--quiet', '--scale', SCALE]);
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
    log(`  FAIL  ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
  }
}

// Fixture mode: 'catalog' when the records could not be imported (the real API then has no
// data to show), else only endpoints the server lacks.
let IMPORTED = false;
const CATALOG = /\/api\/(relics(\/[^/]+)?|vocab\/\w+)(\?|$)/;
async function lacks(res, url) {
  const p = new URL(url).pathname + new URL(url).search;
  if (!IMPORTED && (CATALOG.test(p) || p.startsWith('/iiif/presentation/') || /^\/api\/(relics\/[^/]+\/tours|tours\/)/.test(p))) return true;
  const ct = res.headers()['content-type'] || '';
  if (res.status() === 404 && !ct.includes('json')) return true;        // no such route
  if (res.status() === 404) {
    const body = await res.text().catch(() => '');
    if (body.includes('no such API resource')) return true;             // route, no endpoint
  }
  // an annotation page or a tour list with nothing in it: the front end has nothing to show
  if (res.status() === 200 && /\/(annotations\/\d+|tours)$/.test(new URL(url).pathname)) {
    try { const j = JSON.parse(await res.text()); if (!(j.items || []).length) return true; } catch { return true; }
  }
  return false;
}

// A page in a fresh context whose browser language (navigator.languages and the
// Accept-Language header) is lang.
async function newPage(browser, base, api, { width = 1440, height = 900, lang = 'zh-CN' } = {}) {
  const ctx = await browser.newContext({ locale: lang, viewport: { width, height } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`${page.url()}: ${m.text()}`); });
  page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
  // Real endpoint first; the fixture only where the server has none (404, not JSON).
  const handler = async (route) => {
    const req = route.request();
    let real = null;
    try { real = await route.fetch(); } catch { real = null; }
    if (real && !(await lacks(real, req.url()))) return route.fulfill({ response: real });
    const fx = api.answer(req.url());
    if (!fx) return route.fulfill({ response: real });
    const key = new URL(req.url()).pathname.replace(/\/[^/]*\d[^/]*(?=\/|$)/g, '/{id}');
    fixtureHits.set(key, (fixtureHits.get(key) || 0) + 1);
    return route.fulfill({ status: fx.status, contentType: 'application/json', body: JSON.stringify(fx.body) });
  };
  await page.route(`${base}/api/**`, handler);
  await page.route(`${base}/iiif/presentation/**`, handler);
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

function rawStatus(base, p) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: p, method: 'GET' }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', reject);
    req.end();
  });
}

// ---------------------------------------------------------------- main
async function main() {
  expect(fs.existsSync(BIN), `${BIN} missing: run make`);
  expect(fs.existsSync(path.join(WEB, 'index.html')), 'build/web missing: run make web');
  const { gen, data } = prepareData();
  const imp = fs.readFileSync(path.join(WORK, 'import'), 'utf8');
  IMPORTED = imp === 'ok';
  log(`  catalog: ${IMPORTED ? 'imported with danqing import (real API)' : `fixtures (import: ${imp})`}`);
  const api = makeApi(path.join(gen, 'metadata.jsonl'));
  attachPixels(api, path.join(gen, 'metadata.jsonl'));
  const { proc, url: base } = await startServer(data);
  // playwright-core gives the browser a fresh temporary --user-data-dir of its own.
  let browser = null;
  try {
    browser = await chromium.launch({
      executablePath: process.env.DQ_CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    await scenarios(browser, base, api);
  } finally {
    if (browser) await browser.close().catch(() => {});
    proc.kill('SIGTERM');
  }
}

// accession -> {id, image} from the search API (the real one once imported).
async function resolveIds(base, api) {
  const q = '/api/relics?limit=100&sort=accession';
  const j = IMPORTED ? await (await fetch(`${base}${q}`)).json() : api.answer(`${base}${q}`).body;
  const out = {};
  for (const it of j.items) out[it.accession] = { id: it.id, image: it.image_id || (/\/iiif\/3\/([^/]+)\//.exec(it.thumbnail || '') || [])[1] };
  return out;
}

async function scenarios(ctx, base, api) { // ctx: the browser
  const ids = await resolveIds(base, api);
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

  const page = await newPage(ctx, base, api);
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
    await page.waitForTimeout(1200);
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
    await page.waitForTimeout(900);
    await osdSettled(page, 'viewer');
    await shot(page, 'relic-desktop');
  });

  await test('annotations: toggle the layer on and off', async () => {
    await page.goto(`${base}/relic/${R1}`);
    await osdSettled(page, 'viewer');
    await page.waitForSelector('#anno-toggle', { state: 'attached' });
    await page.waitForSelector('.switch:not([hidden])');
    await page.click('label.switch'); // the label, as a reader would
    await page.waitForSelector('.anno');
    expect(await page.locator('.anno').count() === 3, 'three regions');
    const label = await page.getAttribute('.anno >> nth=0', 'aria-label');
    expect(label === '引首题字', `label ${label}`);
    await page.waitForTimeout(300);
    await shot(page, 'relic-annotations-desktop');
    await page.click('label.switch');
    await page.waitForFunction(() => !document.querySelector('.anno'));
    expect(await page.locator('.anno').count() === 0, 'hidden again');
  });

  await test('tour: start, next/previous, keyboard, end', async () => {
    await page.click('#tour-start');
    await page.waitForSelector('.tour:not([hidden])');
    expect((await page.textContent('.tour-count')).includes('第 1 处'), 'stop 1');
    await page.click('.tour-controls button[aria-label="下一处"]');
    expect((await page.textContent('.tour-count')).includes('第 2 处'), 'stop 2');
    await page.keyboard.press('ArrowRight');
    expect((await page.textContent('.tour-count')).includes('第 3 处'), 'key → stop 3');
    await page.keyboard.press('ArrowLeft');
    expect((await page.textContent('.tour-count')).includes('第 2 处'), 'key ← stop 2');
    await page.waitForTimeout(1200);
    await shot(page, 'relic-tour-desktop');
    await page.keyboard.press('Escape');
    expect(await page.locator('.tour').isHidden(), 'tour ended');
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
  });

  // ---- compare
  await test('compare: side by side with linked zoom, and swipe', async () => {
    await page.goto(`${base}/compare?a=${I9}&b=${I10}&mode=side`);
    await page.waitForFunction(() => document.querySelectorAll('.compare-side .openseadragon-canvas canvas').length === 2);
    await page.waitForTimeout(800);
    const zooms = async () => page.evaluate(() => [...document.querySelectorAll('.compare-side .viewer')].map((v) => v.querySelector('.openseadragon-container')).length);
    expect(await zooms() === 2, 'two viewers');
    await page.locator('.compare-side .viewer >> nth=0').locator('button[aria-label="放大"]').click();
    await page.waitForTimeout(1200);
    await shot(page, 'compare-side-desktop');
    await page.check('input[value="swipe"]');
    await page.waitForURL(/mode=swipe/);
    await page.waitForSelector('.swipe-range');
    await page.waitForTimeout(1200);
    await page.fill('.swipe-range', '300');
    await page.dispatchEvent('.swipe-range', 'input');
    await page.waitForTimeout(300);
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
  const phone = await newPage(ctx, base, api, { width: 390, height: 844, lang: 'en-US' });
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
    await shot(phone, 'search-phone');
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
  await phone.close();

  await test('no console errors', async () => {
    expect(consoleErrors.length === 0, `${consoleErrors.length}: ${consoleErrors.slice(0, 5).join(' || ')}`);
  });
}

main().catch((e) => { failed++; log(`  FAIL  setup: ${e.stack || e}`); }).finally(() => {
  const used = [...fixtureHits.keys()];
  log(`  fixtures used for: ${used.length ? used.join(', ') : 'nothing (the real API answered everything)'}`);
  log(`  screenshots: ${SHOTS}`);
  log(`  time: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
});
