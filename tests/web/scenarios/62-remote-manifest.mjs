// Issue 16: compare and the relic page open another collection's IIIF manifest, pasted into a
// field or dropped as the IIIF drag-and-drop convention does (a link with ?manifest=), also by
// IIIF Content State. The other collection is a second origin: a static server on another
// loopback port serving a Presentation 3 and a 2.1 manifest with CORS, and one without CORS
// (the page must say the other site forbids the read). Their image service is this danqing's.
import http from 'node:http';

export default async function (h) {
  const img = h.ids['DQ-2026-0009'].image;
  const R1 = h.ids['DQ-2026-0001'].id, img1 = h.ids['DQ-2026-0001'].image;
  const service = `${h.base}/iiif/3/${encodeURIComponent(img)}`;
  let origin = '';
  const docs = {
    '/m3.json': () => ({
      '@context': 'http://iiif.io/api/presentation/3/context.json', id: `${origin}/m3.json`, type: 'Manifest',
      label: { en: ['Remote scroll (v3)'] },
      items: [{ id: `${origin}/c1`, type: 'Canvas', width: 100, height: 100, items: [{ id: `${origin}/p1`, type: 'AnnotationPage', items: [{
        id: `${origin}/a1`, type: 'Annotation', motivation: 'painting', target: `${origin}/c1`,
        body: { id: `${service}/full/max/0/default.jpg`, type: 'Image', format: 'image/jpeg', service: [{ id: service, type: 'ImageService3', profile: 'level2' }] } }] }] }],
    }),
    '/m2.json': () => ({
      '@context': 'http://iiif.io/api/presentation/2/context.json', '@id': `${origin}/m2.json`, '@type': 'sc:Manifest',
      label: 'Remote leaf (v2)',
      sequences: [{ '@type': 'sc:Sequence', canvases: [{ '@id': `${origin}/c1`, '@type': 'sc:Canvas', width: 100, height: 100, images: [{
        '@type': 'oa:Annotation', motivation: 'sc:painting', on: `${origin}/c1`,
        resource: { '@id': `${service}/full/full/0/default.jpg`, '@type': 'dctypes:Image', service: { '@context': 'http://iiif.io/api/image/2/context.json', '@id': service, profile: 'http://iiif.io/api/image/2/level2.json' } } }] }] }],
    }),
  };
  const srv = http.createServer((req, res) => {
    const p = req.url.split('?')[0];
    if (p === '/nocors.json') { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(JSON.stringify(docs['/m3.json']())); return; }
    const d = docs[p];
    if (!d) { res.writeHead(404, { 'Access-Control-Allow-Origin': '*' }); res.end(); return; }
    res.writeHead(200, { 'Content-Type': 'application/ld+json', 'Access-Control-Allow-Origin': '*' });
    res.end(JSON.stringify(d()));
  });
  await new Promise((ok) => srv.listen(0, '127.0.0.1', ok));
  origin = `http://127.0.0.1:${srv.address().port}`;
  h.allowErrors(/Access-Control-Allow-Origin|Failed to load resource|CORS/);
  const rightSource = (page) => page.evaluate(() => {
    const v = window.__dqCompare && window.__dqCompare[window.__dqCompare.length - 1];
    const item = v && v.world.getItemAt(0);
    return item ? item.source['@id'] || item.source.id || '' : '';
  });
  const waitRight = async (page) => {
    for (let i = 0; i < 100; i++) { if ((await rightSource(page)).includes('/iiif/3/')) return; await page.waitForTimeout(100); }
  };
  try {
    await h.test('remote manifest: pasted on compare (v3), shown on the right, label kept', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      await page.goto(`${h.base}/compare`);
      await page.waitForSelector('#remote-manifest');
      await page.fill('#remote-manifest', `${origin}/m3.json`);
      await page.click('.remote-manifest button[type=submit]');
      await page.waitForURL((u) => u.searchParams.get('b') === service, { timeout: 15000 });
      const named = await page.waitForFunction(() => {
        const s = document.querySelector('#cmp-b');
        return s && s.selectedOptions[0] && s.selectedOptions[0].textContent.includes('Remote scroll (v3)');
      }, null, { timeout: 15000 }).then(() => true, () => false);
      await waitRight(page);
      h.expect((await rightSource(page)).startsWith(service), `right viewer opened ${await rightSource(page)}`);
      const opt = await page.$eval('#cmp-b', (s) => s.selectedOptions[0].textContent);
      h.expect(named, `right picker names the remote: ${opt}`);
      await h.shot(page, 'remote-compare');
      await page.context().close();
    });
    await h.test('remote manifest: a site without CORS is refused with a reason', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      await page.goto(`${h.base}/compare`);
      await page.waitForSelector('#remote-manifest');
      await page.fill('#remote-manifest', `${origin}/nocors.json`);
      await page.click('.remote-manifest button[type=submit]');
      await page.waitForSelector('.remote-status[data-cors="1"]', { timeout: 15000 });
      const msg = await page.textContent('.remote-status');
      h.expect(/CORS/.test(msg) && !page.url().includes('b=http'), `CORS message: ${msg}`);
      await page.context().close();
    });
    await h.test('remote manifest: a IIIF drag-and-drop link dropped on the relic viewer (v2) opens compare', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      await page.goto(`${h.base}/relic/${R1}`);
      await h.osdSettled(page, 'viewer');
      const link = `${origin}/somewhere?manifest=${encodeURIComponent(`${origin}/m2.json`)}`;
      await page.evaluate((text) => {
        const dt = new DataTransfer();
        dt.setData('text/uri-list', text);
        const stage = document.querySelector('.stage .viewer');
        stage.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
        stage.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, link);
      await page.waitForURL((u) => u.pathname === '/compare' && u.searchParams.get('b') === service, { timeout: 15000 });
      h.expect(new URL(page.url()).searchParams.get('a') === img1, `left is this work: ${page.url()}`);
      await waitRight(page);
      h.expect((await rightSource(page)).startsWith(service), 'the v2 manifest\'s image on the right');
      await page.context().close();
    });
    await h.test('remote manifest: dropped on the handscroll page opens compare', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      await page.goto(`${h.base}/scroll/${R1}`);
      await page.waitForSelector('.scroll-page #relic-remote', { state: 'attached', timeout: 15000 });
      await h.osdSettled(page, 'scroll');
      await page.evaluate((text) => {
        const dt = new DataTransfer();
        dt.setData('text/uri-list', text);
        const el = document.querySelector('.scroll-page');
        el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
      }, `${origin}/m3.json`);
      await page.waitForURL((u) => u.pathname === '/compare' && u.searchParams.get('b') === service, { timeout: 15000 });
      h.expect(new URL(page.url()).searchParams.get('a') === img1, `left is the scroll: ${page.url()}`);
      await page.context().close();
    });
    await h.test('remote manifest: /compare?manifest= and ?iiif-content= (Content State) open it', async () => {
      const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
      await page.goto(`${h.base}/compare?manifest=${encodeURIComponent(`${origin}/m3.json`)}`);
      await page.waitForURL((u) => u.searchParams.get('b') === service, { timeout: 15000 });
      const state = Buffer.from(encodeURIComponent(JSON.stringify({ id: `${origin}/m2.json`, type: 'Manifest' }))).toString('base64url');
      await page.goto(`${h.base}/compare?iiif-content=${state}`);
      await page.waitForURL((u) => u.searchParams.get('b') === service, { timeout: 15000 });
      // The URL changes before the page re-renders: wait (bounded) for the picker to name it.
      const named = await page.waitForFunction(() => {
        const s = document.querySelector('#cmp-b');
        return s && s.selectedOptions[0] && s.selectedOptions[0].textContent.includes('Remote leaf (v2)');
      }, null, { timeout: 15000 }).then(() => true, () => false);
      const opt = await page.$eval('#cmp-b', (s) => s.selectedOptions[0].textContent);
      h.expect(named, `content state opened the v2 manifest: ${opt}`);
      await page.context().close();
    });
  } finally {
    srv.close();
  }
}
