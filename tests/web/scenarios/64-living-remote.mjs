// Issue 16: the living painting opens another collection's work from its IIIF manifest
// (/living?manifest=URL, pasted into the page's field or dropped on it), as compare, the relic
// page and the handscroll page do. The other collection is a second origin: a loopback server
// serving a Presentation 3 manifest whose image service is on that origin too (it relays the
// Image API requests to this danqing and adds CORS, as a museum's IIIF server would), so that
// every picture the page draws must come from there. Our server holds no copy of that image,
// so there are no scene layers: depth comes from height alone, and the page says so. Checked
// in software GL (h.launch({webgl: true})): the page comes alive, draws only from the other
// origin, labels the prior, and moves the top and the bottom of the picture against each
// other with the pointer (a flat picture without depth would not move at all).
import http from 'node:http';

async function ready(page) {
  await page.waitForSelector('[data-living="on"][data-ready="1"], [data-living="fallback"], [data-living="remote"]', { timeout: 90000 });
  await page.waitForFunction(() => !window.__dqLiving || !window.__dqLiving.engine.uniforms.uAnim.value || window.__dqLiving.engine.scaleSettled, null, { timeout: 90000 });
}

export default async function (h) {
  const img = h.ids['DQ-2026-0009'].image;
  const R2 = h.ids['DQ-2026-0002'].id;
  let origin = '';
  const relayed = [];
  const manifest = () => {
    const service = `${origin}/iiif/3/${encodeURIComponent(img)}`;
    return {
      '@context': 'http://iiif.io/api/presentation/3/context.json', id: `${origin}/m3.json`, type: 'Manifest',
      label: { en: ['Remote album leaf'] },
      items: [{ id: `${origin}/c1`, type: 'Canvas', width: 100, height: 100, items: [{ id: `${origin}/p1`, type: 'AnnotationPage', items: [{
        id: `${origin}/a1`, type: 'Annotation', motivation: 'painting', target: `${origin}/c1`,
        body: { id: `${service}/full/max/0/default.jpg`, type: 'Image', format: 'image/jpeg', service: [{ id: service, type: 'ImageService3', profile: 'level2' }] } }] }] }],
    };
  };
  const srv = http.createServer(async (req, res) => {
    const p = req.url.split('?')[0];
    if (p === '/m3.json') {
      res.writeHead(200, { 'Content-Type': 'application/ld+json', 'Access-Control-Allow-Origin': '*' });
      res.end(JSON.stringify(manifest()));
      return;
    }
    if (p.startsWith('/iiif/3/')) {
      relayed.push(p);
      const r = await fetch(`${h.base}${req.url}`);
      res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') || 'application/octet-stream', 'Access-Control-Allow-Origin': '*' });
      res.end(Buffer.from(await r.arrayBuffer()));
      return;
    }
    res.writeHead(404, { 'Access-Control-Allow-Origin': '*' });
    res.end();
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${srv.address().port}`;
  const murl = `${origin}/m3.json`;
  h.allowErrors(/Failed to load resource|404/);
  const browser = await h.launch({ webgl: true });
  try {
    await h.test('living remote: /living?manifest= comes alive from the other origin, depth from height, labelled', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      const ours = [];
      page.on('request', (r) => { if (r.url().startsWith(`${h.base}/iiif/3/`)) ours.push(r.url()); });
      relayed.length = 0;
      await page.goto(`${h.base}/living?manifest=${encodeURIComponent(murl)}`);
      await ready(page);
      h.expect(await page.$('[data-living="on"]') !== null, 'the living mode opened (not the fallback)');
      h.expect(await page.$eval('h1', (e) => e.textContent.includes('Remote album leaf')), 'the manifest\'s label is the title');
      const prior = await page.$eval('[data-depth-prior]', (e) => e.textContent);
      h.expect(/height alone/.test(prior), `the depth prior is labelled: ${prior}`);
      const drawn = relayed.filter((p) => !p.endsWith('/info.json'));
      h.log(`        ${relayed.length} requests to the other origin (${drawn.length} pictures: ${drawn.slice(0, 2).join(', ')}), ${ours.length} to ours`);
      h.expect(relayed.some((p) => p.endsWith('/info.json')) && drawn.length > 0, 'info.json and the picture came from the other origin');
      h.expect(ours.length === 0, `nothing asked of our image server: ${ours.slice(0, 2)}`);
      h.expect(await page.evaluate(() => window.__dqLiving.engine.uniforms.uHasLayers.value) === 1, 'a depth layer is in use');
      // Parallax from the prior: the top (far) and the bottom (near) move in opposite
      // directions with the pointer, the middle row (depth 0.5) stays.
      const box = await (await page.$('canvas.living-canvas')).boundingBox();
      const at = async (fx) => {
        await page.mouse.move(box.x + box.width * fx, box.y + box.height / 2);
        await page.waitForFunction((want) => Math.abs(window.__dqLiving.engine.uniforms.uParallax.value.x - want) < 0.02, fx * 2 - 1, { timeout: 30000 });
        return page.evaluate(() => { const p = window.__dqLiving.readPixels(); return { w: p.width, hgt: p.height, g: Array.from(p.data.filter((_, i) => i % 4 === 1)) }; });
      };
      const a = await at(0.05), b = await at(0.95);
      const band = (y0, y1) => {
        let d = 0, n = 0;
        for (let y = Math.floor(a.hgt * y0); y < Math.floor(a.hgt * y1); y++) {
          for (let x = 0; x < a.w; x++) { n++; if (Math.abs(a.g[y * a.w + x] - b.g[y * a.w + x]) > 8) d++; }
        }
        return d / Math.max(1, n);
      };
      const top = band(0.05, 0.2), mid = band(0.47, 0.53), bottom = band(0.8, 0.95);
      h.log(`        parallax: share of pixels that moved: top ${top.toFixed(3)}, middle ${mid.toFixed(3)}, bottom ${bottom.toFixed(3)}`);
      h.expect(top > 0.02 && bottom > 0.02, 'the top and the bottom moved with the pointer');
      h.expect(mid < Math.min(top, bottom) / 2, 'the middle, at depth 0.5, moved least');
      await h.shot(page, 'living-remote');
      await page.context().close();
    });

    await h.test('living remote: pasted into the field on a work\'s living page, and dropped on it', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/living/${encodeURIComponent(R2)}`);
      await ready(page);
      await page.click('.living-remote-box summary');
      await page.fill('#living-remote', murl);
      await page.click('.living-remote-box button[type=submit]');
      await page.waitForURL((u) => u.pathname === '/living' && u.searchParams.get('manifest') === murl, { timeout: 15000 });
      // The URL changes before the new page replaces the old one (which is ready too).
      const alive = () => page.waitForSelector('[data-living="on"][data-remote][data-ready="1"]', { timeout: 90000 }).then(() => true, () => false);
      h.expect(await alive(), 'the pasted manifest opened alive');
      await page.goto(`${h.base}/living/${encodeURIComponent(R2)}`);
      await ready(page);
      await page.evaluate((text) => {
        const dt = new DataTransfer();
        dt.setData('text/uri-list', text);
        const el = document.querySelector('article.living');
        el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, `${origin}/elsewhere?manifest=${encodeURIComponent(murl)}`);
      await page.waitForURL((u) => u.pathname === '/living' && u.searchParams.get('manifest') === murl, { timeout: 15000 });
      h.expect(await alive(), 'the dropped IIIF link opened alive');
      await page.context().close();
    });

    await h.test('living remote: /living alone offers the field; a bad manifest says why', async () => {
      const page = await h.newPage(browser, h.base, { width: 1280, height: 720, lang: 'en-US' });
      await page.goto(`${h.base}/living`);
      await page.waitForSelector('[data-living="remote"] #living-remote');
      await page.goto(`${h.base}/living?manifest=${encodeURIComponent(`${origin}/missing.json`)}`);
      await page.waitForSelector('[data-living="remote"] .living-status.error');
      const msg = await page.$eval('.living-status.error', (e) => e.textContent);
      h.expect(/404/.test(msg), `the other site's answer is shown: ${msg}`);
      await page.context().close();
    });
  } finally {
    await browser.close();
    srv.close();
  }
}
