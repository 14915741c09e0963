// 60-teaching.mjs (issue 17): lessons, questions, the glossary, the printed handout, the embed
// URL, IIIF Content State export, the lesson editor and a classroom with many learners, in a
// real browser against the real server. The sample collection comes from the harness; this
// suite adds an educator, the starter glossary and the generator's composition overlays
// (danqing teach), and removes the lessons it made.
import fs from 'node:fs';
import path from 'node:path';

const EDUCATOR = { user: 'teacher1', password: 'Danqing-teach-2026' };

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
    return { status: res.status, etag: res.headers.get('etag'), location: res.headers.get('location'), json: text && text[0] === '{' ? JSON.parse(text) : text };
  };
  call.cookie = cookie;
  return call;
}

// A page signed in as the educator (the session cookie set on its context).
async function educatorPage(h, base, call, opts) {
  const page = await h.newPage(h.browser, base, opts);
  const [name, value] = call.cookie.split('=');
  await page.context().addCookies([{ name, value, url: base }]);
  await page.addInitScript(() => localStorage.setItem('danqing.signed-in', '1'));
  return page;
}

const stepIs = (page, i) => page.waitForFunction((k) => window.__dqLesson && window.__dqLesson.index === k, i, { timeout: 15000 });
const viewsReady = (page) => page.waitForFunction(() => (window.__dqLessonViews || []).length > 0 &&
  window.__dqLessonViews.every((v) => v.viewer.world.getItemCount() > 0 && v.viewer.world.getItemAt(0).getFullyLoaded()), null, { timeout: 20000 });

// Clicks canvas pixel (x, y) of the first view of the current step.
async function clickCanvas(page, x, y) {
  const pt = await page.evaluate(([cx, cy]) => {
    const v = window.__dqLessonViews[0];
    const item = v.viewer.world.getItemAt(0);
    const k = item.getContentSize().x / v.canvas.width;
    const vp = item.imageToViewportCoordinates(cx * k, cy * k);
    const px = v.viewer.viewport.pixelFromPoint(vp, true);
    const r = v.viewer.container.getBoundingClientRect();
    return [r.left + px.x, r.top + px.y];
  }, [x, y]);
  await page.mouse.click(pt[0], pt[1]);
}

export default async function (h) {
  const { base, BIN, test, expect, sh, shot, ids } = h;
  const data = h.data;
  // an educator, the starter glossary and the overlays (both imports are idempotent)
  const list = sh(BIN, ['--data', data, 'user', 'list']);
  if (new RegExp(`^\\s*${EDUCATOR.user}\\b`, 'm').test(list)) sh(BIN, ['--data', data, 'user', 'passwd', EDUCATOR.user, '--password', EDUCATOR.password]);
  else sh(BIN, ['--data', data, 'user', 'add', EDUCATOR.user, '--role', 'educator', '--password', EDUCATOR.password]);
  sh(BIN, ['--data', data, 'teach', 'glossary', path.join(h.ROOT, 'data-src/glossary/starter.json')]);
  sh(BIN, ['--data', data, 'teach', 'overlays', h.gen]);
  const call = await login(base, EDUCATOR);
  // what an earlier run made: gone
  for (const l of (await call('GET', '/api/lessons')).json.items) if (l.author === EDUCATOR.user) {
    const g = await call('GET', `/api/lessons/${l.id}`);
    await call('DELETE', `/api/lessons/${l.id}`, { etag: g.etag });
  }
  const hanging = ids['DQ-2026-0005'], leaf = ids['DQ-2026-0009'];
  expect(hanging && leaf, 'sample works 0005 and 0009');
  const comp = JSON.parse(fs.readFileSync(path.join(h.gen, 'DQ-2026-0005', 'composition.json'), 'utf8'));
  const fall = comp.regions.find((r) => r.glossary === 'waterfall') || comp.regions.find((r) => r.glossary === 'high-distance');
  const high = comp.regions.find((r) => r.glossary === 'high-distance');
  expect(fall && high, 'the hanging scroll has a waterfall / high distance overlay');
  const lesson = {
    title: { zh: '看山：三远', en: 'Looking at mountains: the three distances' }, public: true,
    summary: { en: 'A hanging scroll and an album leaf.' },
    steps: [
      { kind: 'view', relic_id: hanging.id, title: { en: 'The whole scroll' }, text: { zh: '郭熙说山有三远。', en: 'Guo Xi: mountains have the three distances. Find the host mountain.' },
        question: { type: 'choice', prompt: { zh: '目光怎样移动？', en: 'How does the eye move?' }, choices: [{ en: 'Left to right' }, { en: 'Up the mountain' }, { en: 'Round in a circle' }], answer: 1 } },
      { kind: 'compare', title: { en: 'Two details' }, a: { relic_id: hanging.id, canvas: 1, xywh: high.xywh }, b: { relic_id: leaf.id, canvas: 1, xywh: [0, 0, 900, 900] }, text: { en: 'A pine and a plum: the three friends of winter.' } },
      { kind: 'view', relic_id: hanging.id, xywh: high.xywh, text: { en: 'The high distance.' },
        question: { type: 'find', prompt: { en: 'Click the waterfall.' }, target: { xywh: fall.xywh } } },
    ],
  };
  const made = await call('POST', '/api/lessons', { body: lesson });
  expect(made.status === 201, `lesson created: ${made.status} ${JSON.stringify(made.json).slice(0, 300)}`);
  const L = made.json;
  const centre = [fall.xywh[0] + fall.xywh[2] / 2, fall.xywh[1] + fall.xywh[3] / 2];

  const page = await h.newPage(h.browser, base, { lang: 'en-US' });
  await test('teach: a lesson link opens at step 1; choice checked on the server; steps across works', async () => {
    await page.goto(`${base}/lesson/${L.id}`);
    await stepIs(page, 0);
    await viewsReady(page);
    expect((await page.textContent('.lesson-count')).includes('Step 1 of 3'), 'step counter');
    expect(await page.locator('.lesson-text a.gloss-term').count() > 0, 'glossary words in the step text are links');
    await page.check('.lesson-choice >> nth=0');
    await page.click('.lesson-check');
    await page.waitForFunction(() => document.querySelector('.lesson-feedback').dataset.correct === 'false');
    await page.check('.lesson-choice >> nth=1');
    await page.click('.lesson-check');
    await page.waitForFunction(() => document.querySelector('.lesson-feedback').dataset.correct === 'true');
    await shot(page, 'teach-lesson-choice');
    await page.click('#lesson-next');
    await stepIs(page, 1);
    await viewsReady(page);
    expect(await page.locator('.lesson-stage.compare .viewer').count() === 2, 'two details side by side');
    await shot(page, 'teach-lesson-compare');
  });

  await test('teach: a find-it question: a click outside is wrong (the answer is framed), on the place right', async () => {
    await page.click('#lesson-next');
    await stepIs(page, 2);
    await viewsReady(page);
    // a point of the view well away from the right place (and from the viewer's toolbar)
    const [hx, hy, hw, hh] = high.xywh, [fx, fy, fw, fh] = fall.xywh;
    let miss = null;
    for (const a of [0.25, 0.75, 0.5, 0.35, 0.65]) for (const b of [0.3, 0.5, 0.7]) {
      const x = hx + a * hw, y = hy + b * hh;
      if (!miss && (x < fx - 40 || x > fx + fw + 40 || y < fy - 40 || y > fy + fh + 40)) miss = [x, y];
    }
    expect(miss, 'a place that is not the answer');
    await clickCanvas(page, miss[0], miss[1]);
    await page.waitForFunction(() => document.querySelector('.lesson-feedback').dataset.correct === 'false');
    expect(await page.locator('.lesson-frame.answer').count() === 1, 'the right region is framed');
    await clickCanvas(page, centre[0], centre[1]);
    await page.waitForFunction(() => document.querySelector('.lesson-feedback').dataset.correct === 'true');
    await shot(page, 'teach-lesson-find');
  });

  await test('teach: progress stays in the browser; the link still starts at step 1 and offers to resume', async () => {
    const saved = await page.evaluate((id) => JSON.parse(localStorage.getItem(`danqing.lesson.${id}`)), L.id);
    expect(saved.step === 2 && saved.answers['0'].correct && saved.answers['2'].correct, `progress kept: ${JSON.stringify(saved)}`);
    await page.goto(`${base}/lesson/${L.id}`);
    await stepIs(page, 0);
    await page.waitForSelector('#lesson-resume');
    await page.click('#lesson-resume');
    await stepIs(page, 2);
    const again = await page.evaluate((id) => JSON.parse(localStorage.getItem(`danqing.lesson.${id}`)), L.id);
    expect(again.step === 2, 'resumed');
  });

  await test('teach: the glossary: by category, searchable in pinyin, entries with annotated examples', async () => {
    await page.goto(`${base}/glossary`);
    await page.waitForSelector('.gloss-entry');
    expect(await page.locator('.gloss-cat-sec').count() >= 5, 'grouped by category');
    await page.fill('#gloss-q', 'pingyuan');
    await page.press('#gloss-q', 'Enter');
    await page.waitForFunction(() => document.querySelector('.gloss-entry') && document.querySelector('.gloss-entry').dataset.key === 'level-distance');
    await page.goto(`${base}/glossary/three-distances`);
    await page.waitForSelector('.gloss-example img');
    const ok = await page.evaluate(() => Promise.all([...document.querySelectorAll('.gloss-example img')].map((i) => i.decode().then(() => i.naturalWidth > 0).catch(() => false))));
    expect(ok.length >= 1 && ok.every(Boolean), `example crops load: ${ok}`);
    await shot(page, 'teach-glossary-entry');
    await page.click('.gloss-example a >> nth=0');
    await page.waitForFunction(() => location.pathname.startsWith('/relic/') && location.search.includes('iiif-content='));
  });

  await test('teach: an annotation that names a glossary entry links to it', async () => {
    await page.goto(`${base}/relic/${hanging.id}`);
    await page.waitForSelector('label.switch:not([hidden])');
    await page.click('label.switch');
    await page.waitForSelector('button.anno');
    // the overlay of the high distance names its entry (and the three distances)
    await page.click('button.anno[aria-label^="High distance"]', { force: true });
    await page.waitForSelector('.anno-card .anno-text');
    expect(await page.locator('.anno-card a.gloss-term').count() > 0, 'a card with a glossary link');
    await page.locator('.anno-card a.gloss-term').first().click();
    await page.waitForSelector('.gloss-entry h1, h1.gloss-term-h');
  });

  await test('teach: print handout: crops at print resolution, the questions, no site chrome in print', async () => {
    await page.goto(`${base}/lesson/${L.id}/handout`);
    await page.waitForSelector('.handout-step');
    // the long side of each crop: 1600 px for a view, 900 for each detail of a comparison
    // (or the region's own size when smaller): about 300 dpi across the printed column
    const sizes = await page.evaluate(() => Promise.all([...document.querySelectorAll('.handout-crop')].map((i) => i.decode().then(() => Math.max(i.naturalWidth, i.naturalHeight)).catch(() => 0))));
    expect(sizes.length === 4 && sizes[0] === 1600 && sizes[1] === 900 && sizes[2] === 900 && sizes[3] === 1600, `crops: ${sizes}`);
    expect(await page.locator('.handout-q').count() === 2, 'both questions');
    await page.emulateMedia({ media: 'print' });
    expect(await page.evaluate(() => getComputedStyle(document.querySelector('.masthead')).display) === 'none', 'masthead hidden in print');
    const pdf = await page.pdf({ format: 'A4' });
    expect(pdf.length > 10000, 'a PDF prints');
    await shot(page, 'teach-handout-print');
    await page.emulateMedia({ media: 'screen' });
  });

  await test('teach: embed URL in an iframe; IIIF Content State export opens a step in the viewer', async () => {
    await page.goto(`${base}/lesson/${L.id}`);
    await page.click('#lesson-embed summary');
    const code = await page.inputValue('#embed-code');
    expect(code.includes(`/lesson/${L.id}?embed=1`) && code.startsWith('<iframe'), 'embed code');
    const links = (await page.inputValue('#cs-all')).split('\n');
    expect(links.length === 3 && links.every((u) => u.includes('iiif-content=')), 'one content state link per step');
    const host = await h.newPage(h.browser, base, { lang: 'en-US' });
    // a page standing for the school's platform, holding nothing but the embed code
    await host.goto(`${base}/lessons`);
    await host.setContent(`<!doctype html><title>School portal</title><h1>School portal</h1>${code}`);
    const frame = await (await host.waitForSelector('iframe')).contentFrame();
    await frame.waitForFunction(() => window.__dqLesson && window.__dqLesson.index === 0, null, { timeout: 20000 });
    // (the teaching stylesheet is added when the page opens: wait until it applies)
    await frame.waitForFunction(() => getComputedStyle(document.querySelector('.masthead')).display === 'none', null, { timeout: 10000 })
      .catch(() => expect(false, 'player alone in the iframe'));
    await shot(host, 'teach-embed');
    await host.context().close();
    await page.goto(links[2]);
    await h.osdSettled(page, 'viewer');
    const b = await page.evaluate(() => { const v = window.__dqViewer, it = v.world.getItemAt(0); const r = it.viewportToImageRectangle(v.viewport.getBounds(true)); return [r.x, r.y, r.width, r.height]; });
    const cx = b[0] + b[2] / 2, cy = b[1] + b[3] / 2;
    const hx = high.xywh[0] + high.xywh[2] / 2, hy = high.xywh[1] + high.xywh[3] / 2;
    expect(Math.abs(cx - hx) < high.xywh[2] * 0.25 && Math.abs(cy - hy) < high.xywh[3] * 0.25, `opened at the step's region: ${b} vs ${high.xywh}`);
  });

  const ed = await educatorPage(h, base, call, { lang: 'en-US' });
  await test('teach: the editor: an educator makes a lesson; a bad region is shown at its step', async () => {
    await ed.goto(`${base}/lesson/new?relic=${encodeURIComponent(leaf.id)}`);
    await ed.waitForSelector('.lesson-editor');
    await ed.fill('.lesson-editor > .field:nth-of-type(2) input', 'Plum blossom');
    const step = ed.locator('.le-step').first();
    await step.locator('.le-view input').nth(2).fill('0,0,99999,10');
    h.allowErrors(/\/api\/lessons.*422|status of 422/);
    await ed.click('#le-save');
    await ed.waitForSelector('.le-step .form-err li');
    h.allowErrors(null);
    expect((await ed.textContent('.le-step .form-err')).includes('xywh'), 'field error at the step');
    await step.locator('.le-view input').nth(2).fill('10,10,400,300');
    await ed.click('#le-add');
    const s2 = ed.locator('.le-step').nth(1);
    await s2.locator('.le-view input').nth(0).fill(hanging.id);
    await s2.locator('select.le-qtype').selectOption('choice');
    await s2.locator('.le-q input').nth(1).fill('Which is the host mountain?');
    await s2.locator('.le-q textarea').fill('the small one\n*the tall one');
    await ed.click('#le-save');
    await ed.waitForFunction(() => /^\/lesson\/l\d+$/.test(location.pathname));
    await stepIs(ed, 0);
    expect((await ed.textContent('h1')).includes('Plum blossom'), 'saved and opened');
  });

  await test('teach: classroom: 8 browsers and 32 scripted learners follow the teacher; an anonymous dashboard', async () => {
    await ed.goto(`${base}/class/new?lesson=${L.id}`);
    await ed.waitForSelector('#class-code');
    const code = (await ed.textContent('#class-code')).trim();
    expect(/^[A-Z0-9]{6}$/.test(code), `join code ${code}`);
    // 32 learners by script: join and hold an event stream
    const scripted = [];
    for (let i = 0; i < 32; i++) {
      const j = await (await fetch(`${base}/api/classes/${code}/join`, { method: 'POST' })).json();
      const ac = new AbortController();
      const res = await fetch(`${base}/api/classes/${code}/events?learner=${j.learner}`, { signal: ac.signal });
      const s = { token: j.learner, steps: [], ac, t: [] };
      (async () => {
        const rd = res.body.getReader(); const dec = new TextDecoder(); let buf = '';
        try {
          for (;;) {
            const { value, done } = await rd.read(); if (done) break;
            buf += dec.decode(value, { stream: true });
            let k;
            while ((k = buf.indexOf('\n\n')) >= 0) {
              const block = buf.slice(0, k); buf = buf.slice(k + 2);
              const m = /event: state\ndata: (.*)/.exec(block);
              if (m) { const st = JSON.parse(m[1]); s.steps.push(st.step); s.t.push(Date.now()); }
            }
          }
        } catch { /* aborted */ }
      })();
      scripted.push(s);
    }
    // 8 learners in browsers, by the join form
    const ctxs = [];
    for (let i = 0; i < 8; i++) {
      const p = await h.newPage(h.browser, base, { width: 900, height: 700, lang: 'zh-CN' });
      await p.goto(`${base}/lessons`);
      await p.fill('#join-code', code.toLowerCase());
      await p.press('#join-code', 'Enter');
      await stepIs(p, 0);
      ctxs.push(p);
    }
    await ed.waitForFunction(() => window.__dqClass.dashboard.learners === 40, null, { timeout: 15000 });
    expect((await ed.textContent('#class-learners')).includes('40'), 'the teacher sees 40 learners');
    // teacher-paced: the teacher goes on, everyone follows
    const t0 = Date.now();
    await ed.click('#lesson-next');
    for (const p of ctxs) await stepIs(p, 1);
    const tBrowsers = Date.now() - t0;
    const deadline = Date.now() + 10000;
    while (scripted.some((s) => s.steps[s.steps.length - 1] !== 1) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(scripted.every((s) => s.steps[s.steps.length - 1] === 1), 'scripted learners got the step');
    const lat = scripted.map((s) => s.t[s.t.length - 1] - t0).sort((a, b) => a - b);
    h.log(`        classroom: 32 scripted learners got the teacher's step in ${lat[0]}..${lat[lat.length - 1]} ms (click to event, incl. the teacher's POST); 8 browsers followed within ${tBrowsers} ms`);
    expect(await ctxs[0].evaluate(() => document.querySelector('.lesson-player').classList.contains('locked')), 'teacher-paced: learner navigation locked');
    // answers: by the browsers (step 0's choice) and the scripted learners, counted, not named
    await ed.click('#lesson-prev');
    for (const p of ctxs) await stepIs(p, 0);
    for (const [i, p] of ctxs.entries()) {
      await p.check(`.lesson-choice >> nth=${i % 2 ? 1 : 0}`);
      await p.click('.lesson-check');
      await p.waitForSelector('.lesson-feedback[data-correct]');
    }
    for (const s of scripted.slice(0, 10)) await fetch(`${base}/api/classes/${code}/answer`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ learner: s.token, step: 0, choice: 1 }) });
    await ed.waitForFunction(() => window.__dqClass.dashboard.steps[0].answered === 18, null, { timeout: 10000 });
    const d = await ed.evaluate(() => window.__dqClass.dashboard);
    expect(d.steps[0].correct === 14, `right answers counted: ${JSON.stringify(d.steps[0])}`);
    expect(!scripted.some((s) => JSON.stringify(d).includes(s.token)), 'the dashboard names nobody');
    expect((await ed.textContent('#class-dash')).includes('18 answered, 14 right'), 'shown on the dashboard');
    // where the class looks: learners' views drawn over the teacher's painting
    for (const s of scripted.slice(0, 5)) await fetch(`${base}/api/classes/${code}/progress`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ learner: s.token, step: 0, view: [100, 200, 300, 400] }) });
    await ed.waitForFunction(() => document.querySelectorAll('.class-heat').length >= 5, null, { timeout: 10000 });
    await shot(ed, 'teach-classroom-dashboard');
    await shot(ctxs[0], 'teach-classroom-learner');
    // student-paced: learners move on their own
    await ed.selectOption('#class-mode', 'student');
    await ctxs[0].waitForFunction(() => window.__dqClass.mode === 'student');
    expect(!(await ctxs[0].evaluate(() => document.querySelector('.lesson-player').classList.contains('locked'))), 'unlocked');
    await ctxs[0].click('#lesson-next');
    await stepIs(ctxs[0], 1);
    // the end, from elsewhere (another tab of the teacher's): the teacher's page says so and
    // stops its stream instead of reconnecting to an ended session
    expect(await ed.evaluate(() => window.__dqClass.streaming), 'the dashboard streams');
    const ended = await ed.evaluate((c) => fetch(`/api/classes/${c}/state`, { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'danqing' }, body: JSON.stringify({ end: true }) }).then((r) => r.status), code);
    expect(ended === 200 || ended === 204, `the session ended through the API (${ended})`);
    await ctxs[1].waitForFunction(() => document.querySelector('#class-status').textContent.length > 0 && window.__dqClass.seen.length > 2);
    await ctxs[1].waitForFunction(() => /ended|结束/.test(document.querySelector('#class-status').textContent), null, { timeout: 10000 });
    await ed.waitForFunction(() => !window.__dqClass.streaming && document.querySelector('#class-end').disabled && /ended|结束/.test(document.querySelector('#class-learners').textContent), null, { timeout: 10000 });
    for (const s of scripted) s.ac.abort();
    for (const p of ctxs) await p.context().close();
  });

  // ---------------------------------------------------------------- spectral layers and condition records
  // DQ-2026-0012 carries the spectral suite's capture web-cap (added here when that suite did not
  // run) and two condition records of this suite's own (examiner "teach-web"): a published one
  // whose photograph is a capture of another size than the canvas, and an unpublished one.
  const R = ids['DQ-2026-0012'].id, I = ids['DQ-2026-0012'].image;
  const cur = await h.apiSession(base);
  const recs = `/api/relics/${encodeURIComponent(R)}/condition`;
  const PHOTO = 'teach-cond-2019';
  let L2 = null, pubRec = null, privRec = null, region = null;
  const drop = async () => {
    for (const r of ((await cur('GET', recs)).json || { items: [] }).items) if (r.examiner === 'teach-web') {
      const g = await cur('GET', `${recs}/${r.id}`);
      await cur('DELETE', `${recs}/${r.id}`, { etag: g.etag });
    }
  };
  const requests = [];
  await test('teach: a lesson on a spectral layer and condition records (API: references checked)', async () => {
    const caps = await (await fetch(`${base}/api/relics/${encodeURIComponent(R)}/captures`)).json();
    const gen = path.join(h.GEN, 'spectral-gen');
    if (!fs.existsSync(path.join(gen, 'DQ-2026-0012/truth/capture/bands.json')))
      sh(BIN, ['generate', '--out', gen, '--only', 'DQ-2026-0012', '--scale', '0.25', '--quiet']);
    if (!(caps.items || []).some((c) => c.id === 'web-cap'))
      sh(BIN, ['--data', data, 'spectral', 'add', R, path.join(gen, 'DQ-2026-0012/truth/capture'), '--id', 'web-cap', '--replace']);
    if ((await fetch(`${base}/iiif/3/${PHOTO}/info.json`)).status !== 200)
      sh(BIN, ['ingest', path.join(gen, 'DQ-2026-0012/main.tif'), '--id', PHOTO, '--data', data, '--log-level', '3']);
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) { // the server learns of the CLI's writes within ~1 s
      ok = (await fetch(`${base}/iiif/3/${PHOTO}/info.json`)).status === 200 && (await fetch(`${base}/iiif/3/spectral/web-cap/irfc/info.json`)).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    expect(ok, 'the capture and the record photograph are served');
    await drop();
    let r = await cur('POST', recs, { body: { date: '2019-03-02', examiner: 'teach-web', overall: 'fair', published: true, images: [PHOTO],
      note: 'Teaching record: old losses along the top edge', observations: [{ type: 'loss', severity: 'moderate' }] } });
    expect(r.status === 201, `published record -> ${r.status} ${JSON.stringify(r.json)}`);
    pubRec = r.json.id;
    r = await cur('POST', recs, { body: { date: '2021-06-01', examiner: 'teach-web', overall: 'poor', images: [I], note: 'Unpublished teaching note' } });
    expect(r.status === 201, `unpublished record -> ${r.status}`);
    privRec = r.json.id;
    const m = await (await fetch(`${base}/iiif/presentation/3/${encodeURIComponent(R)}/manifest`)).json();
    const W = m.items[0].width, H = m.items[0].height;
    region = [Math.round(W * 0.2), Math.round(H * 0.3), Math.round(W * 0.4), Math.round(H * 0.3)];
    const bad = await call('POST', '/api/lessons', { body: { title: { en: 'x' }, steps: [
      { kind: 'view', relic_id: R, spectral: { capture: 'web-cap', layer: 'xray' } },
      { kind: 'view', relic_id: hanging.id, spectral: { capture: 'web-cap', layer: 'irfc' } },
      { kind: 'view', relic_id: R, condition_date: '1999-01-01' }] } });
    const f = (bad.json && bad.json.error && bad.json.error.fields) || {};
    expect(bad.status === 422 && f['steps[0].spectral.layer'] && f['steps[1].spectral.capture'] && f['steps[2].condition_date'], `bad references: ${bad.status} ${JSON.stringify(f)}`);
    const made2 = await call('POST', '/api/lessons', { body: { title: { en: 'Beyond the visible, then and now' }, public: true, steps: [
      { kind: 'view', relic_id: R, xywh: region, spectral: { capture: 'web-cap', layer: 'irfc' }, text: { en: 'Infrared false colour: the underdrawing.' } },
      { kind: 'view', relic_id: R, xywh: region, condition_date: '2019-03-02', text: { en: 'The leaf in 2019.' } },
      { kind: 'view', relic_id: R, xywh: region, condition: privRec, text: { en: 'And later.' } }] } });
    expect(made2.status === 201, `lesson: ${made2.status} ${JSON.stringify(made2.json).slice(0, 300)}`);
    L2 = made2.json;
    expect(L2.steps[1].condition === pubRec && L2.steps[1].condition_record.image === PHOTO, `the date names the record: ${JSON.stringify(L2.steps[1])}`);
    const anon = await (await fetch(`${base}/api/lessons/${L2.id}`)).text();
    expect(!anon.includes(privRec) && !anon.includes('2021-06-01') && !anon.includes('Unpublished teaching'), 'the unpublished record does not reach anonymous readers');
  });

  // The canvas region in view in the first view of the current step, and its centre's distance
  // from the centre of region, in region widths/heights.
  const offCentre = (p) => p.evaluate((rg) => {
    const v = window.__dqLessonViews[0].visible();
    return [Math.abs(v[0] + v[2] / 2 - (rg[0] + rg[2] / 2)) / rg[2], Math.abs(v[1] + v[3] / 2 - (rg[1] + rg[3] / 2)) / rg[3]];
  }, region);
  await test('teach: the player shows the spectral layer and the record photograph with its summary, and nothing of an unpublished record', async () => {
    expect(L2, 'the lesson of the previous test');
    const p = await h.newPage(h.browser, base, { lang: 'en-US' });
    p.on('request', (q) => requests.push(q.url()));
    await p.goto(`${base}/lesson/${L2.id}`);
    await stepIs(p, 0);
    await viewsReady(p);
    expect(requests.some((u) => u.includes('/iiif/3/spectral/web-cap/irfc/') && !u.endsWith('info.json')), 'tiles of the spectral layer');
    expect((await p.textContent('.lesson-spectral')).includes('infrared false colour'), 'the layer named');
    let d = await offCentre(p);
    expect(d[0] < 0.1 && d[1] < 0.1, `the step's region in view on the layer: ${d}`);
    await shot(p, 'teach-lesson-spectral');
    await p.click('#lesson-next');
    await stepIs(p, 1);
    await viewsReady(p);
    expect(requests.some((u) => u.includes(`/iiif/3/${PHOTO}/`) && !u.endsWith('info.json')), 'tiles of the record photograph');
    const txt = await p.textContent('.lesson-condition');
    expect(txt.includes('2019-03-02') && txt.includes('fair') && txt.includes('old losses') && txt.includes('loss'), `the summary: ${txt}`);
    d = await offCentre(p);
    expect(d[0] < 0.1 && d[1] < 0.1, `the region scaled onto the photograph: ${d}`);
    await shot(p, 'teach-lesson-condition');
    await p.click('#lesson-next');
    await stepIs(p, 2);
    await viewsReady(p);
    expect(await p.locator('.lesson-condition').count() === 0, 'no record summary on the unpublished step');
    expect(requests.some((u) => u.includes(`/iiif/3/${encodeURIComponent(I)}/`) && !u.endsWith('info.json')), 'the canvas image instead');
    expect(!(await p.content()).includes('Unpublished teaching'), 'nothing of it in the page');
    // the handout: both at print resolution, the summary beside the photograph
    await p.goto(`${base}/lesson/${L2.id}/handout`);
    await p.waitForSelector('.handout-step');
    const crops = await p.evaluate(() => Promise.all([...document.querySelectorAll('.handout-crop')].map((i) => i.decode().then(() => [i.getAttribute('src'), Math.max(i.naturalWidth, i.naturalHeight)]).catch(() => [i.getAttribute('src'), 0]))));
    // the photograph (another size than the canvas) at its share of its own pixels
    const info = await (await fetch(`${base}/iiif/3/${PHOTO}/info.json`)).json();
    const m = await (await fetch(`${base}/iiif/presentation/3/${encodeURIComponent(R)}/manifest`)).json();
    const photoPx = Math.min(1600, Math.round(Math.max(region[2] * info.width / m.items[0].width, region[3] * info.height / m.items[0].height)));
    expect(crops.length === 3 && crops[0][0].includes('/iiif/3/spectral/web-cap/irfc/pct:') && crops[1][0].includes(`/iiif/3/${PHOTO}/pct:`) && crops.every((c) => c[1] > 0), `handout crops: ${JSON.stringify(crops)}`);
    expect(Math.abs(crops[1][1] - photoPx) <= 2 && crops[2][1] === Math.min(1600, Math.max(region[2], region[3])), `crop sizes ${crops.map((c) => c[1])}, photograph region ${photoPx} px`);
    expect((await p.textContent('.handout-step >> nth=1')).includes('2019-03-02'), 'the record summary in the handout');
    await p.context().close();
  });

  await test('teach: the editor picks captures\' layers and condition records, and takes the region in view', async () => {
    expect(L2, 'the lesson');
    const e = await educatorPage(h, base, call, { lang: 'en-US' });
    await e.goto(`${base}/lesson/${L2.id}/edit`);
    await e.waitForSelector('.le-step');
    const s0 = e.locator('.le-step').nth(0);
    await e.waitForFunction(() => document.querySelectorAll('.le-shows[data-loading]').length === 0 && document.querySelectorAll('.le-shows option').length > 3, null, { timeout: 20000 });
    const opts = await s0.locator('.le-shows option').evaluateAll((os) => os.map((o) => [o.value, o.textContent, o.selected]));
    const sel = opts.find((o) => o[2]);
    expect(sel && JSON.parse(sel[0]).spectral.layer === 'irfc', `the stored layer selected: ${JSON.stringify(sel)}`);
    const band = opts.find((o) => /"layer":"r\d+"/.test(o[0]));
    expect(band && opts.some((o) => o[0].includes(pubRec)), `bands and records offered: ${opts.map((o) => o[1]).join(' | ')}`);
    const priv = opts.find((o) => o[0].includes(`"${privRec}"`));
    expect(priv && /not published/.test(priv[1]), 'an unpublished record is marked');
    await s0.locator('.le-shows').selectOption(band[0]);
    await s0.locator('.le-preview').click();
    await e.waitForFunction(() => window.__dqEditorView && window.__dqEditorView.viewer.world.getItemCount() > 0 && window.__dqEditorView.viewer.world.getItemAt(0).getFullyLoaded(), null, { timeout: 20000 });
    // zoom the preview onto another part of the canvas and take it as the step's region
    const want = [Math.round(region[0] * 1.5), Math.round(region[1] * 0.5), Math.round(region[2] * 0.5), Math.round(region[3] * 0.5)];
    await e.evaluate((w) => window.__dqEditorView.fit(w, true), want);
    await s0.locator('.le-use-view').click();
    const got = (await s0.locator('.le-view input').nth(2).inputValue()).split(',').map(Number);
    const cx = got[0] + got[2] / 2, cy = got[1] + got[3] / 2;
    expect(Math.abs(cx - (want[0] + want[2] / 2)) < want[2] * 0.1 && Math.abs(cy - (want[1] + want[3] / 2)) < want[3] * 0.1, `region taken from the view: ${got} vs ${want}`);
    await e.click('#le-save');
    await e.waitForFunction((id) => location.pathname === `/lesson/${id}`, L2.id);
    const back = (await call('GET', `/api/lessons/${L2.id}`)).json;
    expect(back.steps[0].spectral.layer === JSON.parse(band[0]).spectral.layer && back.steps[0].xywh.join(',') === got.join(','), `saved: ${JSON.stringify(back.steps[0])}`);
    // "Add to a lesson" on the work's page: the view there becomes the lesson's last step
    await e.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await h.osdSettled(e, 'viewer');
    await e.evaluate((w) => { const v = window.__dqViewer; v.viewport.fitBounds(v.world.getItemAt(0).imageToViewportRectangle(...w), true); }, want);
    await h.viewsSettled(e);
    await e.click('#lesson-add-view');
    await e.click(`#lesson-add-box a[data-lesson="${L2.id}"]`);
    await e.waitForSelector('.le-added');
    expect(await e.locator('.le-step').count() === 4, 'a fourth step');
    const s3 = e.locator('.le-step').nth(3);
    expect(await s3.locator('.le-view input').nth(0).inputValue() === R, 'its work');
    await e.click('#le-save');
    await e.waitForFunction((id) => location.pathname === `/lesson/${id}`, L2.id);
    const last = (await call('GET', `/api/lessons/${L2.id}`)).json.steps[3];
    const lx = last.xywh[0] + last.xywh[2] / 2, ly = last.xywh[1] + last.xywh[3] / 2;
    expect(last.relic_id === R && Math.abs(lx - (want[0] + want[2] / 2)) < want[2] * 0.1 && Math.abs(ly - (want[1] + want[3] / 2)) < want[3] * 0.1, `the page's view as the step: ${last.xywh} vs ${want}`);
    await e.context().close();
    await drop();
  });
  await ed.context().close();
  await page.context().close();
}
