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
}
