// Issue 16: download a region of a work by selecting it on the relic page's deep-zoom viewer.
// "Select a region" lays a layer over the viewer; a rectangle dragged there with a mouse, made
// with the keyboard (arrows move, Shift + arrows resize, Enter downloads, Escape leaves) or
// drawn with a finger on a phone-sized touch screen (Chromium's own touch events through the
// DevTools protocol) becomes image pixels, stated with the server's limit and the file's
// possible weight, and a link to /api/relics/{id}/download with region, width and format.
// Checked here: the selected region equals what OpenSeadragon's own coordinate conversion
// gives for the dragged corners (within 0.5 % of the image), the JPEG and the TIFF come back
// at the stated size with the record's rights in their XMP, the keyboard alone selects and
// downloads, and a touch drag selects on a phone without scrolling the page.

// Width and height of a JPEG (its SOF0/SOF2 segment) or a TIFF (tags 256/257, either order).
function dims(buf) {
  if (buf[0] === 0xff && buf[1] === 0xd8) {
    for (let i = 2; i + 9 < buf.length;) {
      if (buf[i] !== 0xff) { i++; continue; }
      const m = buf[i + 1], len = buf.readUInt16BE(i + 2);
      if (m === 0xc0 || m === 0xc2) return { w: buf.readUInt16BE(i + 7), h: buf.readUInt16BE(i + 5) };
      i += 2 + len;
    }
    return null;
  }
  const le = buf.toString('latin1', 0, 2) === 'II';
  if (!le && buf.toString('latin1', 0, 2) !== 'MM') return null;
  const u16 = (o) => (le ? buf.readUInt16LE(o) : buf.readUInt16BE(o)), u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  const ifd = u32(4), n = u16(ifd), out = {};
  for (let k = 0; k < n; k++) {
    const e = ifd + 2 + k * 12, tag = u16(e), type = u16(e + 2);
    const val = type === 3 ? u16(e + 8) : u32(e + 8);
    if (tag === 256) out.w = val;
    if (tag === 257) out.h = val;
  }
  return out.w ? out : null;
}

export default async function (h) {
  const R5 = h.ids['DQ-2026-0005'].id;
  const info = await (await fetch(`${h.base}/iiif/3/${encodeURIComponent(h.ids['DQ-2026-0005'].image)}/info.json`)).json();
  const manifest = await (await fetch(`${h.base}/iiif/presentation/3/${encodeURIComponent(R5)}/manifest`)).json();
  // What OpenSeadragon itself says the image pixel under an element point is.
  const osdImagePoint = (page, x, y) => page.evaluate(([px, py]) => {
    const v = window.__dqViewer, q = v.viewport.getCenter(); // an OpenSeadragon Point
    q.x = px; q.y = py;
    const p = v.world.getItemAt(0).viewerElementToImageCoordinates(q);
    return { x: p.x, y: p.y };
  }, [x, y]);
  const open = async (page) => {
    await page.goto(`${h.base}/relic/${encodeURIComponent(R5)}`);
    await h.osdSettled(page, 'viewer');
    await h.viewsSettled(page);
    // The relic page sometimes opens this viewer zoomed out to a speck (zoom ~0.0003, bounds
    // thousands of viewport units wide; seen in about one open in three here, before any
    // selection: a defect of the page's first view, reported, not this feature's). Start every
    // test from the home view so that the geometry below means what it says.
    const z0 = await page.evaluate(() => window.__dqViewer.viewport.getZoom(true) / window.__dqViewer.viewport.getHomeZoom());
    if (z0 < 0.01) h.log(`        (the page opened at ${z0.toExponential(2)} x the home zoom; reset to home)`);
    await page.evaluate(() => window.__dqViewer.viewport.goHome(true));
    await h.viewsSettled(page);
  };

  await h.test('region select: a mouse drag selects what OpenSeadragon maps; JPEG and TIFF at the stated size, rights inside', async () => {
    const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
    try {
      await open(page);
      // Zoomed in, so that the whole view is picture and both axes are checked unclamped.
      await page.evaluate(() => { const v = window.__dqViewer; v.viewport.zoomTo(v.viewport.getHomeZoom() * 4, null, true); });
      await h.viewsSettled(page);
      await page.click('#dl-select');
      const layer = await page.waitForSelector('[data-sel-layer]');
      const b = await layer.boundingBox();
      const c0 = { x: b.width * 0.35, y: b.height * 0.3 }, c1 = { x: b.width * 0.6, y: b.height * 0.7 };
      await page.mouse.move(b.x + c0.x, b.y + c0.y);
      await page.mouse.down();
      await page.mouse.move(b.x + (c0.x + c1.x) / 2, b.y + (c0.y + c1.y) / 2, { steps: 4 });
      await page.mouse.move(b.x + c1.x, b.y + c1.y, { steps: 4 });
      await page.mouse.up();
      const region = (await page.$eval('.sel-panel', (p) => p.dataset.region)).split(',').map(Number);
      const p0 = await osdImagePoint(page, c0.x, c0.y), p1 = await osdImagePoint(page, c1.x, c1.y);
      // The selection is clamped to the image (the view may show more than the picture).
      const cx = (x) => Math.max(0, Math.min(info.width, x)), cy = (y) => Math.max(0, Math.min(info.height, y));
      const want = [cx(p0.x), cy(p0.y), cx(p1.x) - cx(p0.x), cy(p1.y) - cy(p0.y)].map(Math.round);
      const tol = 0.005 * Math.max(info.width, info.height);
      h.log(`        dragged ${region.join(',')}; OpenSeadragon maps the corners to ${want.join(',')} (zoom ${await page.evaluate(() => window.__dqViewer.viewport.getZoom(true))}, layer ${JSON.stringify(b)})`);
      h.expect(region.every((v, i) => Math.abs(v - want[i]) <= tol), `selected region ${region} vs ${want}`);
      const text = await page.textContent('.sel-panel');
      h.expect(text.includes(`${region[2]} × ${region[3]} px`), `the size is stated: ${text.slice(0, 120)}`);
      const wmax = Number(await page.$eval('#sel-width', (e) => e.max));
      h.expect(wmax >= 1 && wmax <= region[2] && (!info.maxWidth || wmax <= info.maxWidth), `the limit is stated: ${wmax}`);
      h.expect(/uncompressed \d/.test(text), 'the file size bound is stated');
      // JPEG at the largest allowed width.
      let href = await page.getAttribute('.sel-get', 'href');
      let r = await fetch(`${h.base}${href}`);
      let buf = Buffer.from(await r.arrayBuffer());
      let d = dims(buf);
      h.expect(r.status === 200 && r.headers.get('content-type') === 'image/jpeg', `JPEG ${href} -> ${r.status}`);
      h.expect(d && d.w === wmax && Math.abs(d.h - Math.round((region[3] * wmax) / region[2])) <= 1, `JPEG is ${d && d.w}x${d && d.h}, link said ${wmax} wide`);
      h.expect(buf.includes(Buffer.from(`<xmpRights:WebStatement>${manifest.rights}</xmpRights:WebStatement>`)), 'the JPEG carries the rights (XMP)');
      // TIFF at a chosen width.
      await page.selectOption('#sel-format', 'tif');
      await page.fill('#sel-width', '300');
      href = await page.getAttribute('.sel-get', 'href');
      r = await fetch(`${h.base}${href}`);
      buf = Buffer.from(await r.arrayBuffer());
      d = dims(buf);
      h.expect(r.status === 200 && r.headers.get('content-type') === 'image/tiff', `TIFF ${href} -> ${r.status} ${r.headers.get('content-type')}`);
      h.expect(d && d.w === 300, `TIFF is ${d && d.w} wide`);
      h.expect(buf.includes(Buffer.from(manifest.rights)), 'the TIFF carries the rights');
      const out = await page.textContent('.sel-out');
      h.expect(out.includes(`300 × ${Math.max(1, Math.round((region[3] * 300) / region[2]))} px`), `the chosen size is stated: ${out}`);
      await page.$eval('.dl-box', (e) => e.scrollIntoView());
      await h.shot(page, 'region-select');
    } finally {
      await page.context().close();
    }
  });

  await h.test('region select: keyboard only (Enter on the button, arrows, Shift + arrows, Enter downloads, Escape)', async () => {
    const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
    try {
      await open(page);
      await page.focus('#dl-select');
      await page.keyboard.press('Enter');
      await page.waitForSelector('[data-sel-layer]');
      h.expect(await page.evaluate(() => document.activeElement && document.activeElement.hasAttribute('data-sel-layer')), 'the selection layer has the focus');
      const r0 = (await page.$eval('.sel-panel', (p) => p.dataset.region)).split(',').map(Number);
      for (let i = 0; i < 3; i++) await page.keyboard.press('ArrowRight');
      await page.keyboard.press('Shift+ArrowDown');
      const r1 = (await page.$eval('.sel-panel', (p) => p.dataset.region)).split(',').map(Number);
      h.log(`        keyboard: ${r0} -> ${r1}`);
      h.expect(r1[0] > r0[0] && r1[1] === r0[1] && Math.abs(r1[2] - r0[2]) <= 1 && r1[3] > r0[3], `arrows moved it right, Shift+Down made it taller: ${r0} -> ${r1}`);
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.keyboard.press('Enter')]);
      h.expect(/\.jpg$/.test(dl.suggestedFilename()), `Enter downloaded ${dl.suggestedFilename()}`);
      await page.keyboard.press('Escape');
      h.expect(await page.$('[data-sel-layer]') === null, 'Escape left the selection mode');
      h.expect(await page.evaluate(() => document.activeElement && document.activeElement.id === 'dl-select'), 'the focus is back on the button');
    } finally {
      await page.context().close();
    }
  });

  await h.test('region select: a finger drags a selection on a phone (touch), the page does not scroll', async () => {
    const ctx = await h.browser.newContext({ locale: 'en-GB', viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true, deviceScaleFactor: 2 });
    const page = await ctx.newPage();
    try {
      await open(page);
      await page.click('#dl-select');
      const layer = await page.waitForSelector('[data-sel-layer]');
      await layer.scrollIntoViewIfNeeded();
      const b = await layer.boundingBox();
      const y0 = await page.evaluate(() => window.scrollY);
      const cdp = await ctx.newCDPSession(page);
      const pt = (fx, fy) => [{ x: Math.round(b.x + b.width * fx), y: Math.round(b.y + b.height * fy) }];
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchStart', touchPoints: pt(0.2, 0.2) });
      for (let i = 1; i <= 5; i++) await cdp.send('Input.dispatchTouchEvent', { type: 'touchMove', touchPoints: pt(0.2 + 0.1 * i, 0.2 + 0.08 * i) });
      await cdp.send('Input.dispatchTouchEvent', { type: 'touchEnd', touchPoints: [] });
      const region = await page.$eval('.sel-panel', (p) => p.dataset.region || '');
      const [x, y, w, hh] = region.split(',').map(Number);
      const q0 = await osdImagePoint(page, b.width * 0.2, b.height * 0.2), q1 = await osdImagePoint(page, b.width * 0.7, b.height * 0.6);
      const clamp = (p) => ({ x: Math.max(0, Math.min(info.width, p.x)), y: Math.max(0, Math.min(info.height, p.y)) });
      const p0 = clamp(q0), p1 = clamp(q1);
      const tol = 0.01 * Math.max(info.width, info.height);
      h.log(`        touch: ${region}; OpenSeadragon ${[p0.x, p0.y, p1.x - p0.x, p1.y - p0.y].map(Math.round)}`);
      h.expect(Math.abs(x - p0.x) <= tol && Math.abs(y - p0.y) <= tol && Math.abs(x + w - p1.x) <= tol && Math.abs(y + hh - p1.y) <= tol, `the finger's rectangle was selected: ${region}`);
      h.expect(await page.evaluate(() => window.scrollY) === y0, 'the page did not scroll under the finger');
      const href = await page.getAttribute('.sel-get', 'href');
      const r = await fetch(`${h.base}${href}`);
      h.expect(r.status === 200, `the selection downloads: ${r.status}`);
      await h.shot(page, 'region-select-phone');
    } finally {
      await ctx.close();
    }
  });
}
