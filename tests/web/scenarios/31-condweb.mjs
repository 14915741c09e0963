// 31-condweb.mjs (DQ_WEB_ONLY=condweb): a condition record in one step from the relic page
// (issue 12), as a conservator would make it. Against the real server: the two condition
// captures of a small painted work (`danqing generate --only DQ-2026-0006 --scale 0.5`, its
// truth/condition_2016.jpg and condition_2026.jpg) are uploaded through the page's form; the
// job is polled until the draft record is in the timeline with its capture, change map,
// drafted observations (px and cm²), and the conservator removes one and publishes. A
// photograph that cannot be registered fails with the server's reason and adds nothing. The
// two records then compare registered with the change map and its legend. Last, the
// restoration made from those captures (`danqing restore --relic --from-changes`) gets its
// mask outline on demand over the slider, the "virtual proposal" label still on screen.
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

const CONSERVATOR = { user: 'conservator1', password: 'Danqing-cons-2026' };

async function login(base, who) {
  const r = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'danqing' }, body: JSON.stringify(who) });
  if (r.status !== 200) throw new Error(`login ${who.user} -> ${r.status}`);
  const cookie = r.headers.get('set-cookie').split(';')[0];
  const call = async (method, p, { etag, body } = {}) => {
    const headers = { Cookie: cookie, 'X-Requested-With': 'danqing' };
    if (etag) headers['If-Match'] = etag;
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetch(`${base}${p}`, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    return { status: res.status, etag: res.headers.get('etag'), json: text && text[0] === '{' ? JSON.parse(text) : text };
  };
  call.cookie = cookie;
  return call;
}

// A grey PNG of uniform noise: nothing in it registers to a painting.
function noisePng(file, w, h) {
  const crcTable = Array.from({ length: 256 }, (_, n) => { let c = n; for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1; return c >>> 0; });
  const crc = (b) => { let c = 0xffffffff; for (const x of b) c = crcTable[(c ^ x) & 0xff] ^ (c >>> 8); return (c ^ 0xffffffff) >>> 0; };
  const chunk = (t, d) => { const len = Buffer.alloc(4); len.writeUInt32BE(d.length); const td = Buffer.concat([Buffer.from(t), d]); const c = Buffer.alloc(4); c.writeUInt32BE(crc(td)); return Buffer.concat([len, td, c]); };
  let seed = 7;
  const raw = Buffer.alloc((w + 1) * h);
  for (let i = 0; i < raw.length; i++) { seed = (seed * 1103515245 + 12345) & 0x7fffffff; raw[i] = i % (w + 1) === 0 ? 0 : seed >> 16 & 0xff; }
  const ihdr = Buffer.alloc(13); ihdr.writeUInt32BE(w, 0); ihdr.writeUInt32BE(h, 4); ihdr[8] = 8; ihdr[9] = 0;
  fs.writeFileSync(file, Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]));
}

export default async function (h) {
  const { base, BIN, test, expect, sh, shot, ids } = h;
  const data = h.data;
  const W = 'DQ-2026-0006';
  const R = ids[W].id;
  const recs = `/api/relics/${encodeURIComponent(R)}/condition`;
  const list = sh(BIN, ['--data', data, 'user', 'list']);
  if (new RegExp(`^\\s*${CONSERVATOR.user}\\b`, 'm').test(list)) sh(BIN, ['--data', data, 'user', 'passwd', CONSERVATOR.user, '--password', CONSERVATOR.password]);
  else sh(BIN, ['--data', data, 'user', 'add', CONSERVATOR.user, '--role', 'conservator', '--password', CONSERVATOR.password]);
  const gen = path.join(h.WORK, 'condweb-gen');
  if (!fs.existsSync(path.join(gen, W, 'truth', 'condition_2026.jpg')))
    sh(BIN, ['generate', '--out', gen, '--only', W, '--scale', '0.5', '--quiet']);
  const c16 = path.join(gen, W, 'truth', 'condition_2016.jpg'), c26 = path.join(gen, W, 'truth', 'condition_2026.jpg');
  const noise = path.join(h.WORK, 'condweb-noise.png');
  noisePng(noise, 300, 800);

  const cons = await login(base, CONSERVATOR);
  const curator = await h.apiSession(base);
  // what an earlier run left: its records, and its captures' links on the relic
  for (const r of ((await cons('GET', recs)).json.items || [])) {
    const g = await cons('GET', `${recs}/${r.id}`);
    await cons('DELETE', `${recs}/${r.id}`, { etag: g.etag });
  }
  const rel = await curator('GET', `/api/relics/${encodeURIComponent(R)}`);
  const keep = (rel.json.images || []).filter((i) => i.role !== 'condition' && i.role !== 'change-map');
  if (keep.length !== (rel.json.images || []).length) {
    const put = await curator('PUT', `/api/relics/${encodeURIComponent(R)}/images`, { body: keep });
    expect(put.status === 200, `reset the relic's images -> ${put.status}`);
  }

  const page = await h.newPage(h.browser, base, { lang: 'en-US' });
  const [name, value] = cons.cookie.split('=');
  await page.context().addCookies([{ name, value, url: base }]);
  await page.addInitScript(() => localStorage.setItem('danqing.signed-in', '1'));
  const submit = async (file, date) => {
    const form = page.locator('[data-testid=new-record]');
    await form.locator('input[type=file]').setInputFiles(file);
    await form.locator('input[name=date]').fill(date);
    await form.locator('input[name=examiner]').fill('Li Na');
    await form.locator('button[type=submit]').click();
    await page.waitForFunction(() => { const f = document.querySelector('[data-testid=new-record]'); return f && f.dataset.state; }, null, { timeout: 90000 });
    return form.getAttribute('data-state');
  };

  await test('condweb: a record from a photograph in one step, reviewed and published', async () => {
    await page.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await page.waitForSelector('.conservation[data-records="0"] [data-testid=new-record]', { timeout: 20000 });
    expect(await submit(c16, '2016-05-17') === 'done', 'the baseline record was not made');
    await page.waitForSelector('.conservation[data-records="1"] .cons-record[data-draft=true]');
    // the second capture: compared with the first (the default choice)
    const choice = await page.locator('[data-testid=new-record] select[name=against]').inputValue();
    expect(choice === 'c1' || /^c\d+$/.test(choice), `compare-with default: ${choice}`);
    expect(await submit(c26, '2026-04-09') === 'done', `the record was not made: ${await page.locator('.cons-job').textContent()}`);
    await page.waitForSelector('.conservation[data-records="2"]');
    const rec = page.locator('.cons-record').nth(1);
    expect(await rec.locator('time').textContent() === '2026-04-09', 'timeline order');
    expect(await rec.getAttribute('data-draft') === 'true', 'the new record is not a draft');
    await rec.locator('.cons-thumb-map').waitFor({ state: 'attached' });
    await rec.scrollIntoViewIfNeeded();
    await page.waitForFunction(() => [...document.querySelectorAll('.cons-record:nth-child(2) .cons-thumbs img')].every((i) => i.complete && i.naturalWidth > 0), null, { timeout: 20000 });
    const obs = rec.locator('li[data-auto=true]');
    const n = await obs.count();
    const first = n ? await obs.first().textContent() : '';
    expect(n > 1 && / px/.test(first) && /cm²/.test(first) && /\[\d+, \d+, \d+, \d+\]/.test(first), `drafted observations: ${n} ${first}`);
    const areas = await rec.locator('.cons-areas').textContent();
    expect(/Loss/.test(areas) && /cm²/.test(areas), `areas: ${areas}`);
    // review: drop one drafted observation, then publish
    await obs.first().locator('.cons-rm').click();
    await page.waitForFunction((k) => document.querySelectorAll('.cons-record:nth-child(2) li[data-auto=true]').length === k, n - 1, { timeout: 10000 });
    await page.locator('.cons-record').nth(1).locator('.cons-publish').click();
    await page.waitForFunction(() => { const r = document.querySelectorAll('.cons-record')[1]; return r && !r.dataset.draft; }, null, { timeout: 10000 });
    const anon = await (await fetch(`${base}${recs}`)).json();
    expect(anon.items.length === 1 && anon.items[0].date === '2026-04-09' && anon.items[0].observations.length === n - 1,
      `anonymous visitors see the published record only: ${anon.items.map((r) => r.date)}`);
    // the regions drawn on the capture, numbered as in the list
    await page.waitForFunction((k) => { const b = document.querySelectorAll('.cons-record')[1].querySelector('.cons-boxes'); return b && Number(b.dataset.boxes) === k; }, n - 1, { timeout: 10000 });
    // review: overall, environment, a severity, a treatment
    const edit = page.locator('.cons-record').nth(1).locator('.cons-editbox');
    await edit.locator('summary').click();
    await edit.locator('select[name=overall]').selectOption('poor');
    await edit.locator('input[name=rh_percent]').fill('55');
    await edit.locator('input[name=temperature_c]').fill('19.5');
    await edit.locator('select[name=severity]').first().selectOption('severe');
    await edit.locator('input[name=t_description]').fill('consolidate the lifting paint');
    await edit.locator('button[type=submit]').click();
    await page.waitForFunction(() => /poor/.test(document.querySelectorAll('.cons-record')[1].querySelector('.cons-overall').dataset.overall || ''), null, { timeout: 10000 });
    const got = (await (await fetch(`${base}${recs}`)).json()).items[0];
    expect(got.overall === 'poor' && got.environment.rh_percent === 55 && got.environment.temperature_c === 19.5 &&
      got.observations[0].severity === 'severe' && got.treatments[0].description === 'consolidate the lifting paint' && got.version >= 4,
      `review not saved: ${JSON.stringify({ o: got.overall, e: got.environment, t: got.treatments, v: got.version })}`);
    await shot(page, 'condweb-record');
    // an anonymous visitor: the published record, no form, no review controls
    const anonPage = await h.newPage(h.browser, base, { lang: 'en-US' });
    await anonPage.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await anonPage.waitForSelector('.conservation[data-records="1"]', { timeout: 20000 });
    const ctl = await anonPage.locator('[data-testid=new-record], .cons-editbox, .cons-publish, .cons-rm').count();
    expect(ctl === 0, `an anonymous visitor gets ${ctl} write controls`);
    await anonPage.context().close();
    // the printed report: the records with their images, boxes, observations, areas and
    // signature lines; no form, no review controls
    await page.emulateMedia({ media: 'print' });
    await page.evaluate(() => document.body.classList.add('print-conservation'));
    const pr = await page.evaluate(() => {
      const vis = (e) => !!e && getComputedStyle(e).display !== 'none' && e.getBoundingClientRect().width > 0;
      const r = document.querySelectorAll('.cons-record')[1];
      return { form: vis(document.querySelector('.cons-new')), edit: vis(r.querySelector('.cons-editbox')), sign: vis(r.querySelector('.cons-sign')),
        imgs: [...r.querySelectorAll('.cons-thumbs img')].filter(vis).length, boxes: vis(r.querySelector('.cons-boxes')), areas: vis(r.querySelector('.cons-areas')),
        obs: vis(r.querySelector('.cons-obs')), head: vis(document.querySelector('.relic-head')) };
    });
    expect(!pr.form && !pr.edit && pr.sign && pr.imgs === 2 && pr.boxes && pr.areas && pr.obs && !pr.head, `print report: ${JSON.stringify(pr)}`);
    await page.evaluate(() => document.body.classList.remove('print-conservation'));
    await page.emulateMedia({ media: 'screen' });
  });

  await test('condweb: a photograph that cannot be registered fails cleanly', async () => {
    const before = (await cons('GET', recs)).json.items.length;
    const imgs = (await curator('GET', `/api/relics/${encodeURIComponent(R)}`)).json.images.length;
    expect(await submit(noise, '2026-05-01') === 'failed', 'a noise photograph made a record');
    const msg = await page.locator('.cons-job').textContent();
    expect(/cannot be compared/.test(msg), `the reason is not shown: ${msg}`);
    expect((await cons('GET', recs)).json.items.length === before, 'a record was added');
    expect((await curator('GET', `/api/relics/${encodeURIComponent(R)}`)).json.images.length === imgs, 'an image was linked');
  });

  await test('condweb: the two records compare registered, with the change map and legend', async () => {
    for (const box of await page.locator('.cons-pick input').all()) await box.check();
    await page.waitForSelector('[data-testid=compare]');
    const dates = await page.locator('.cons-dates').textContent();
    expect(/2016-05-17 → 2026-04-09 \(registered\)/.test(dates), `compare: ${dates}`);
    await page.locator('.cons-modes input[value=onion]').check();
    await page.locator('.cons-maptoggle input').check();
    await page.waitForFunction(() => { const m = document.querySelector('.cons-map'); return m && !m.hidden && m.complete && m.naturalWidth > 0; }, null, { timeout: 20000 });
    expect(await page.locator('[data-testid=compare] .cons-legend li').count() === 3, 'legend');
    const tr = await page.locator('.cons-mov').evaluate((e) => e.style.transform);
    expect(/^matrix/.test(tr), `the later capture is not drawn in the earlier one's frame: ${tr}`);
  });

  await test('condweb: the restoration mask outline on demand, label kept', async () => {
    sh(BIN, ['--data', data, 'restore', '--relic', R, '--from-changes']);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) { // the server learns of the new image within ~1 s
      const m = await (await fetch(`${base}/iiif/presentation/3/${encodeURIComponent(R)}/manifest`)).json();
      ok = m.items[0].items[0].items[0].body.type === 'Choice';
      if (!ok) await new Promise((res) => setTimeout(res, 200));
    }
    expect(ok, 'no restoration Choice in the manifest');
    await page.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await page.waitForSelector('[data-testid=restoration] .cons-restored');
    expect(await page.locator('.cons-outline').count() === 0, 'the outline is fetched before it is asked for');
    await page.locator('.cons-outline-toggle input').check();
    await page.waitForFunction(() => { const o = document.querySelector('.cons-outline'); return o && o.complete && o.naturalWidth > 0; }, null, { timeout: 20000 });
    const geo = await page.evaluate(() => {
      const r = (e) => e.getBoundingClientRect();
      const o = r(document.querySelector('.cons-outline')), b = r(document.querySelector('.cons-base'));
      return { dx: Math.abs(o.left - b.left) + Math.abs(o.right - b.right), dy: Math.abs(o.top - b.top) + Math.abs(o.bottom - b.bottom) };
    });
    expect(geo.dx < 1.5 && geo.dy < 1.5, `the outline does not lie over the image: ${JSON.stringify(geo)}`);
    expect(await page.locator('.cons-proposal').isVisible(), 'the proposal label is hidden with the outline on');
    await page.locator('.cons-restoration .cons-range').fill('30');
    expect(await page.locator('.cons-proposal').isVisible() && await page.locator('.cons-outline').isVisible(), 'label or outline gone after the slider moved');
    const svg = await (await fetch(`${base}/api/images/${encodeURIComponent(ids[W].image)}.restoration/outline`)).text();
    expect(/<svg[^>]+viewBox="0 0 \d+ \d+"/.test(svg) && / d="M\d+ \d+/.test(svg), 'outline SVG');
    await shot(page, 'condweb-outline');
    await page.locator('.cons-outline-toggle input').uncheck();
    expect(await page.locator('.cons-outline').isHidden(), 'the outline stays after the toggle is off');
  });
  await page.context().close();
}
