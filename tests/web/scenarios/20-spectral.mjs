// 20-spectral.mjs: the Spectral panel of the relic page (issue 11). Against the real CLI and
// server: a raw capture of the album leaf DQ-2026-0012 is painted (`danqing generate`, with its
// truth, since the shared sample has none), added with `danqing spectral add` and given a pigment
// map; the page must then offer presets, a wavelength slider and the pigment map as layers over
// the deep-zoom viewer (a second tiled image from /iiif/3/spectral/...), with a legend, and a
// click must plot the point's reflectance against the library matches (SVG).
import fs from 'node:fs';
import path from 'node:path';

// fetch with up to 3 tries on a network error (not on an HTTP status): after the long CLI steps
// the client's kept-alive connection may have been closed by the server.
async function fetchRetry(url) {
  for (let i = 0; ; i++) {
    try { return await fetch(url); } catch (e) { if (i >= 2) throw e; }
  }
}

export default async function (h) {
  const { test, expect, base, ids } = h;
  const R = ids['DQ-2026-0012'].id;
  const gen = path.join(h.GEN, 'spectral-gen');

  await test('spectral: add a raw capture and a pigment map through the CLI', async () => {
    if (!fs.existsSync(path.join(gen, 'DQ-2026-0012/truth/capture/bands.json')))
      h.sh(h.BIN, ['generate', '--out', gen, '--only', 'DQ-2026-0012', '--scale', '0.25', '--quiet']);
    h.sh(h.BIN, ['--data', h.data, 'spectral', 'add', R, path.join(gen, 'DQ-2026-0012/truth/capture'), '--id', 'web-cap', '--replace']);
    h.sh(h.BIN, ['--data', h.data, 'spectral', 'pigments', 'web-cap', '--out', path.join(h.WORK, 'spectral-map.png')]);
    const list = await (await fetchRetry(`${base}/api/relics/${encodeURIComponent(R)}/captures`)).json();
    expect(list.items && list.items.some((c) => c.id === 'web-cap'), `captures: ${JSON.stringify(list).slice(0, 200)}`);
    const info = await fetchRetry(`${base}/iiif/3/spectral/web-cap/irfc/info.json`);
    expect(info.status === 200, `irfc info.json -> ${info.status}`);
  });

  await test('spectral: presets, wavelength slider, pigment map with legend, spectrum plot', async () => {
    const page = await h.newPage(h.browser, base, { lang: 'en-US' });
    await page.goto(`${base}/relic/${encodeURIComponent(R)}`);
    await page.waitForSelector('[data-testid=spectral]:not([hidden]) .spec-wl', { timeout: 30000 });
    const layer = () => page.locator('[data-testid=spectral]').getAttribute('data-layer');
    await page.locator('[data-testid=spectral] button[data-layer=irfc]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=spectral]').dataset.layer === 'irfc', null, { timeout: 20000 });
    await page.locator('.spec-wl').fill('3');
    await page.waitForFunction(() => document.querySelector('[data-testid=spectral]').dataset.layer === 'r750', null, { timeout: 20000 });
    expect((await page.locator('.spec-wlv').textContent()) === '750 nm', 'wavelength label');
    await page.locator('[data-testid=spectral] button[data-layer=pigments]').click();
    await page.waitForFunction(() => document.querySelector('[data-testid=spectral]').dataset.layer === 'pigments', null, { timeout: 20000 });
    const n = await page.locator('.spec-legend-list li').count();
    expect(n >= 2 && await page.locator('.spec-legend').isVisible(), `legend items ${n}`);
    expect(/support/.test(await page.locator('.spec-legend-list').textContent()), 'legend names the support');
    await page.locator('.spec-op').fill('40');
    await page.locator('.spec-swipe').fill('50');
    // A click on the painting plots its spectrum.
    await page.locator('.osd').first().scrollIntoViewIfNeeded(); // the panel's buttons scrolled it away
    const box = await page.locator('.osd').first().boundingBox();
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await page.waitForSelector('.spec-plot polyline.measured', { timeout: 20000 });
    const matches = await page.locator('.spec-plot polyline.match').count();
    expect(matches >= 1, `plotted ${matches} library matches`);
    expect(/measured/.test(await page.locator('.spec-keys').textContent()), 'plot key');
    await h.shot(page, 'spectral');
    await page.locator('[data-testid=spectral] button[data-layer=""]').click();
    expect((await layer()) === '', 'the original alone again');
    await page.context().close();
  });
}
