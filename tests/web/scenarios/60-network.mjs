// Issue 16 in the browser: the relic page's research box (citation downloads that the server
// answers in each format, the Linked Art link), the Zotero meta tags and the describedby Link
// header of the page, and the open-data link in the footer.
export default async function (h) {
  const R1 = h.ids['DQ-2026-0001'].id;
  await h.test('network: research box, citation formats, page metadata', async () => {
    const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
    const resp = await page.goto(`${h.base}/relic/${R1}`);
    const link = resp.headers()['link'] || '';
    h.expect(link.includes(`/linked-art/object/${R1}>`) && link.includes('rel="describedby"'), `Link: ${link}`);
    await page.waitForSelector('.research', { timeout: 15000 });
    const hrefs = await page.$$eval('.research .cite-formats a', (as) => as.map((a) => a.getAttribute('href')));
    h.expect(hrefs.length === 3, `cite links: ${hrefs}`);
    for (const href of hrefs) {
      const r = await fetch(`${h.base}${href}`);
      const body = await r.text();
      h.expect(r.status === 200 && body.length > 40, `${href} -> ${r.status}`);
      if (href.includes('bibtex')) h.expect(body.startsWith('@misc{'), 'BibTeX entry');
      if (href.includes('ris')) h.expect(body.startsWith('TY  - ART'), 'RIS record');
      if (href.includes('csl')) h.expect(JSON.parse(body)[0].type === 'graphic', 'CSL item');
    }
    const la = await page.$eval('.research a[href^="/linked-art/object/"]', (a) => a.getAttribute('href'));
    const doc = await (await fetch(`${h.base}${la}`)).json();
    h.expect(doc.type === 'HumanMadeObject', `Linked Art type ${doc.type}`);
    const metas = await page.$$eval('meta[name="citation_title"], meta[name="DC.title"]', (m) => m.length);
    h.expect(metas === 2, `citation meta tags: ${metas}`);
    const open = await page.$eval('footer a[href="/api"]', (a) => a.textContent);
    h.expect(/Open data/.test(open), 'footer open-data link');
    const api = await (await fetch(`${h.base}/api`)).json();
    h.expect(api.metadata_licence.includes('publicdomain/zero'), 'metadata licence');
    await page.$eval('.research', (e) => e.scrollIntoView());
    await h.shot(page, 'network-research-box');
    await page.context().close();
  });

  // Downloads up to the served maximum with the rights embedded, stated beside the links, and
  // the region in view; places with their authority links (set here, removed after).
  await h.test('network: downloads with rights embedded, region in view, places', async () => {
    const call = await h.apiSession(h.base);
    const g = await call('GET', `/api/relics/${R1}`);
    const set = await call('PATCH', `/api/relics/${R1}`, { etag: g.etag, body: { places: [
      { name: { zh: '开封', en: 'Kaifeng' }, role: 'made', wikidata: 'Q197173', tgn: '7001837' }] } });
    h.expect(set.status === 200, `PATCH places -> ${set.status}`);
    const page = await h.newPage(h.browser, h.base, { lang: 'en-GB' });
    try {
      await page.goto(`${h.base}/relic/${R1}`);
      await page.waitForSelector('.dl-box .downloads a', { timeout: 15000 });
      await h.osdSettled(page, 'viewer');
      const info = await (await fetch(`${h.base}/iiif/3/${h.ids['DQ-2026-0001'].image}/info.json`)).json();
      const max = await page.$eval('.dl-max', (a) => ({ w: +a.dataset.width, href: a.getAttribute('href') }));
      h.expect(max.w === Math.min(info.width, info.maxWidth || Infinity), `largest offered ${max.w} (image ${info.width}, maxWidth ${info.maxWidth})`);
      const r = await fetch(`${h.base}${max.href}`);
      const bytes = Buffer.from(await r.arrayBuffer());
      h.expect(r.status === 200 && r.headers.get('content-type') === 'image/jpeg', `max download ${r.status}`);
      const m = await (await fetch(`${h.base}/iiif/presentation/3/${R1}/manifest`)).json();
      h.expect(bytes.includes(Buffer.from(`<xmpRights:WebStatement>${m.rights}</xmpRights:WebStatement>`)), 'XMP WebStatement = manifest rights');
      const stated = await page.$eval('.dl-rights a', (a) => a.getAttribute('href'));
      h.expect(stated === m.rights, `rights stated beside the button: ${stated}`);
      // Zoom in, then download the region in view: a smaller file of the visible part.
      await page.evaluate(() => { const v = window.__dqViewer; v.viewport.zoomTo(v.viewport.getHomeZoom() * 4, null, true); });
      await h.viewsSettled(page);
      const [dl] = await Promise.all([page.waitForEvent('download', { timeout: 20000 }), page.click('#dl-region')]);
      const name = dl.suggestedFilename();
      const region = await page.$eval('#dl-region', (b) => b.dataset.region);
      const [, , rw, rh] = region.split(',').map(Number);
      h.expect(rw > 0 && rw < info.width / 2 && name.includes(`-${rw}x${rh}.jpg`), `region ${region} -> ${name}`);
      // Places: the name and links to Wikidata and the Getty TGN.
      const links = await page.$$eval('.places a', (as) => as.map((a) => a.getAttribute('href')));
      h.expect(links.includes('https://www.wikidata.org/wiki/Q197173') && links.includes('http://vocab.getty.edu/page/tgn/7001837'), `place links ${links}`);
      h.expect((await page.textContent('.places')).includes('Kaifeng'), 'place name');
      await page.$eval('.dl-box', (e) => e.scrollIntoView());
      await h.shot(page, 'network-downloads');
    } finally {
      await page.context().close();
      const g2 = await call('GET', `/api/relics/${R1}`);
      await call('PATCH', `/api/relics/${R1}`, { etag: g2.etag, body: { places: [] } });
    }
  });
}
