// 30-conservation.mjs: the conservation panel of the relic page (issue 12). Against the real
// API and CLI: condition records are created through /api/relics/{id}/condition, the virtual
// restoration through `danqing restore --relic` (a derived layer that the manifest then offers
// as a Choice). The page shows the records as a timeline in date order, compares two of them
// side by side, swiped and as an onion skin, gives areas in px and cm², keeps the "virtual
// proposal" label on the restoration while its slider moves, and anonymous callers see only
// published records.
import fs from 'node:fs';
import path from 'node:path';

export default async function (h) {
  const { test, expect, base, ids } = h;
  const R = ids['DQ-2026-0012'].id, I = ids['DQ-2026-0012'].image;
  const call = await h.apiSession(base);
  const recs = `/api/relics/${encodeURIComponent(R)}/condition`;

  await test('conservation: records through the API (roles, visibility, order)', async () => {
    // what an earlier run left behind
    const old = await call('GET', recs);
    for (const r of (old.json && old.json.items) || []) {
      const g = await call('GET', `${recs}/${r.id}`);
      await call('DELETE', `${recs}/${r.id}`, { etag: g.etag });
    }
    const info = await (await fetch(`${base}/iiif/3/${encodeURIComponent(I)}/info.json`)).json();
    let r = await call('POST', recs, { body: {
      date: '2026-04-09', examiner: 'Li Na', overall: 'poor', published: true, images: [I],
      observations: [{ type: 'flaking', severity: 'severe', note: 'azurite lifting' }],
      dimensions_cm: { width: 25.1, height: 24.8 },
      changes: { width: info.width, height: info.height,
        registration: { matrix: [[1, 0, 3], [0, 1, -2], [0, 0, 1]] },
        classes: { loss: { area_px: 12000 }, flaking: { area_px: 3400 }, fading: { area_px: 800 } } } } });
    expect(r.status === 201, `create -> ${r.status} ${JSON.stringify(r.json)}`);
    r = await call('POST', recs, { body: { date: '2016-05-17', examiner: 'Wang Li', overall: 'fair', published: true,
      images: [I], environment: { rh_percent: 52, temperature_c: 19.5, lux: 50 },
      treatments: [{ status: 'proposed', description: 'consolidate flaking azurite' }] } });
    expect(r.status === 201, `create 2016 -> ${r.status}`);
    r = await call('POST', recs, { body: { date: '2020-01-02', examiner: 'X', overall: 'good' } });
    expect(r.status === 201, 'create unpublished');
    r = await call('POST', recs, { body: { date: '2020-01-02', examiner: 'X', overall: 'splendid' } });
    expect(r.status === 422 && r.json.error.fields.overall, `bad overall -> ${r.status}`);
    const anon = await (await fetch(`${base}${recs}`)).json();
    expect(anon.items.length === 2, `anonymous sees ${anon.items.length} records, want the 2 published`);
    expect(anon.items[0].date === '2016-05-17', 'date order');
    const w = await fetch(`${base}${recs}`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Requested-With': 'x' }, body: '{}' });
    expect(w.status === 401, `anonymous write -> ${w.status}`);
  });

  await test('conservation: restore --relic makes a Choice in the manifest, master untouched', async () => {
    const info = await (await fetch(`${base}/iiif/3/${encodeURIComponent(I)}/info.json`)).json();
    const mask = path.join(h.WORK, 'cons-mask.png');
    h.sh('/usr/bin/python3', ['-c', `import numpy as np, cv2
m = np.zeros((${info.height}, ${info.width}), np.uint8)
m[${Math.floor(info.height / 3)}:${Math.floor(info.height / 3) + 40}, ${Math.floor(info.width / 3)}:${Math.floor(info.width / 3) + 60}] = 255
cv2.imwrite(${JSON.stringify(mask)}, m)`]);
    const fix0 = h.sh(h.BIN, ['--data', h.data, 'fixity', '--id', I]);
    h.sh(h.BIN, ['--data', h.data, 'restore', '--relic', R, '--mask', mask]);
    const fix1 = h.sh(h.BIN, ['--data', h.data, 'fixity', '--id', I]);
    expect(fix0.includes(' ok') && fix1 === fix0, `fixity changed: ${fix0} / ${fix1}`);
    let choice = null;
    for (let i = 0; i < 50 && !choice; i++) { // the server learns of the change within ~1 s
      const m = await (await fetch(`${base}/iiif/presentation/3/${encodeURIComponent(R)}/manifest`)).json();
      const b = m.items[0].items[0].items[0].body;
      if (b.type === 'Choice') choice = b;
      else await new Promise((res) => setTimeout(res, 200));
    }
    // The original first (the default), the restoration second; the spectral scenario's layers
    // of this relic, when it ran, follow them in the same Choice.
    expect(choice && choice.items.length >= 2 && choice.items[1].id.includes('.restoration'), 'no Choice in the manifest');
    expect(choice.items[0].id.includes(`/iiif/3/${encodeURIComponent(I)}/`), `the original is not the default: ${choice.items[0].id}`);
    expect(choice.items.slice(2).every((x) => x.id.includes('/spectral/')), `unexpected Choice items: ${choice.items.map((x) => x.id)}`);
  });

  await test('conservation: timeline, comparison modes, restoration slider, print', async () => {
    const page = await h.newPage(h.browser, base, { lang: 'en-US' });
    await page.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await page.waitForSelector('.conservation[data-records]', { timeout: 20000 });
    const n = await page.locator('.cons-record').count();
    expect(n === 2, `timeline shows ${n} records to an anonymous visitor, want 2`);
    const first = await page.locator('.cons-record time').first().textContent();
    expect(first === '2016-05-17', `first record ${first}`);
    // restoration: the label stays while the slider moves
    await page.waitForSelector('[data-testid=restoration] .cons-restored');
    const label = page.locator('.cons-proposal');
    expect(/proposal/.test(await label.textContent()), 'proposal label text');
    await page.locator('.cons-restoration .cons-range').fill('10');
    expect(await label.isVisible(), 'label hidden after moving the slider');
    const clip = await page.locator('.cons-restored').evaluate((e) => e.style.clipPath);
    expect(clip.includes('10%'), `slider did not move the split: ${clip}`);
    // areas in px and cm2
    const areas = await page.locator('.cons-areas').first().textContent();
    expect(/12,000 px/.test(areas) && /cm²/.test(areas), `areas: ${areas}`);
    // compare the two dates
    for (const box of await page.locator('.cons-pick input').all()) await box.check();
    await page.waitForSelector('[data-testid=compare]');
    for (const mode of ['swipe', 'onion', 'side']) {
      await page.locator(`.cons-modes input[value=${mode}]`).check();
      const m = await page.locator('[data-testid=compare]').getAttribute('data-mode');
      expect(m === mode, `mode ${m}, want ${mode}`);
    }
    await page.locator('.cons-modes input[value=onion]').check();
    await page.waitForFunction(() => { const i = document.querySelector('.cons-mov'); return i && i.complete && i.naturalWidth > 0; });
    // The record's registration (x + 3, y - 2) drawn back: MOVING's pixel (103, 98) lands on
    // REF's (100, 100) at the display scale.
    const full = await (await fetch(`${base}/iiif/3/${encodeURIComponent(I)}/info.json`)).json();
    const hit = await page.locator('.cons-mov').evaluate((e, W) => {
      // display scale: REF's shown width over its full width (the record's changes.width)
      const k = document.querySelector('.cons-ref').clientWidth / W;
      const p = new DOMMatrix(e.style.transform).transformPoint(new DOMPoint(103 * k, 98 * k));
      return { tr: e.style.transform, x: p.x / p.w / k, y: p.y / p.w / k };
    }, full.width);
    // (a matrix3d with no projective part reads back as a 2D matrix())
    expect(/^matrix/.test(hit.tr) && Math.abs(hit.x - 100) < 1e-3 && Math.abs(hit.y - 100) < 1e-3,
      `registration not applied: ${JSON.stringify(hit)}`);
    // A homography's projective row is kept (it used to be dropped): REF (x, y) -> MOVING
    // H (x, y); the CSS inverse at scale 0.5 must take 0.5 H(x) back to 0.5 x.
    const proj = await page.evaluate(async () => {
      const { inverseCss } = await import('/static/js/conservation.js');
      const H = [[1.01, 0.02, 5], [-0.01, 0.99, -3], [2e-5, -1e-5, 1]];
      const m = new DOMMatrix(inverseCss(H, 0.5));
      const x = 700, y = 300, w = H[2][0] * x + H[2][1] * y + 1;
      const mx = (H[0][0] * x + H[0][1] * y + 5) / w, my = (H[1][0] * x + H[1][1] * y - 3) / w;
      const p = m.transformPoint(new DOMPoint(mx * 0.5, my * 0.5));
      return { x: p.x / p.w / 0.5, y: p.y / p.w / 0.5, singular: inverseCss([[0, 0, 0], [0, 0, 0], [0, 0, 1]]) };
    });
    expect(Math.abs(proj.x - 700) < 1e-3 && Math.abs(proj.y - 300) < 1e-3 && proj.singular === null,
      `homography overlay: ${JSON.stringify(proj)}`);
    await h.shot(page, 'conservation');
    // the print stylesheet keeps only the panel
    await page.emulateMedia({ media: 'print' });
    await page.evaluate(() => document.body.classList.add('print-conservation'));
    const hidden = await page.locator('.relic-head').isHidden();
    expect(hidden, 'the print report still shows the page header');
    await page.context().close();
  });
}
