// Relic page: the deep-zoom viewer, bilingual metadata (inscriptions, seals, provenance),
// "cite this", the IIIF manifest link (drag-and-drop to other IIIF viewers), downloads up to
// the size the server permits with the rights embedded (network.js), and the work tools (../worktools.js): annotations, search
// inside the work, guided tours, sharing a view. The viewer and its layers survive a
// language switch or a sign-in (handed from the old render to the new one), so the reader
// keeps the place. ?iiif-content= (IIIF Content State) opens the page at a region.
import { t, tag, pick, vocabLabel, lang, yearText, dateText, rightsLabel } from '../i18n.js';
import { getRelic, getInfo, mainImage, manifestUrl, imageUrl, getManifest, canvasesOf } from '../api.js';
import { h, txt } from '../dom.js';
import { createViewer } from '../viewer.js';
import { workTools } from '../worktools.js';
import { resolveContentState } from '../contentstate.js';
import { stylePanel } from '../style.js';
import { researchBox, downloadBox, placesList, remoteCompare, sectionsLink } from '../network.js';
import { conservationPanel } from '../conservation.js';
import { spectralPanel } from '../spectral.js';
import { livingEnter } from '../living-enter.js';

export const name = 'relic';
let kept = null; // {key, v, store: {layer, panel, player}, owner}

function dropKept() {
  if (!kept) return;
  const st = kept.store;
  st.panel?.destroy(); st.player?.tour.destroy(); st.layer?.destroy();
  kept.v.destroy();
  kept = null;
}

function bi(map, cls = '') {
  const p = pick(map);
  const o = pick(map, p.lang === 'zh' ? 'en' : 'zh');
  return h(`span.bi${cls}`, h('span', { lang: tag(p.lang) }, p.text),
    o.text && o.lang !== p.lang ? h('span.bi-other', { lang: tag(o.lang) }, o.text) : null);
}

function row(key, ...value) {
  const v = value.flat().filter((x) => x != null && x !== '');
  return v.length ? [h('dt', t(key)), h('dd', v)] : [];
}

function creatorsOf(r) {
  return (r.creators || []).map((c, i) => [i ? '；' : '', txt(c.name), c.dates ? h('span.dates', ` (${c.dates})`) : null]);
}

function citation(r, url) {
  const title = pick(r.title).text;
  const creator = r.creators && r.creators[0] ? pick(r.creators[0].name).text : '';
  const date = dateText(r); // in the reader's language: no reign-period text in English
  const today = new Date().toISOString().slice(0, 10);
  if (lang() === 'zh') {
    return `${creator ? creator + '，' : ''}《${pick(r.title, 'zh').text || title}》，${date ? date + '，' : ''}${pick(r.medium, 'zh').text || ''}。丹青数字典藏，${r.accession}。${url}（${today} 访问）。`;
  }
  const en = pick(r.title, 'en').text || title;
  return `${creator ? creator + ', ' : ''}${en}${date ? ', ' + date : ''}${r.medium ? ', ' + pick(r.medium, 'en').text : ''}. Danqing digital collection, ${r.accession}. ${url} (accessed ${today}).`;
}

// The rights statement as the server states it: the manifest's `rights` (IIIF Presentation 3
// §3.3.1), which the server derives from the record, so the page and every IIIF viewer say
// the same. Labelled when the URI is a known one, else the URI itself.
function rightsOf(manifest) {
  const uri = manifest && typeof manifest.rights === 'string' ? manifest.rights : null;
  if (!uri) return null;
  return h('a.rights', { href: uri, 'data-external': '', 'data-rights': uri }, rightsLabel(uri) || uri);
}

function iiifBadge() {
  const ns = 'http://www.w3.org/2000/svg';
  const s = document.createElementNS(ns, 'svg');
  s.setAttribute('viewBox', '0 0 40 36'); s.setAttribute('aria-hidden', 'true'); s.classList.add('iiif-logo');
  for (const [x, c] of [[3, '#2873AB'], [12, '#ED1D33'], [21, '#2873AB'], [30, '#ED1D33']]) {
    const r = document.createElementNS(ns, 'rect');
    r.setAttribute('x', x); r.setAttribute('y', 8); r.setAttribute('width', 6); r.setAttribute('height', 24); r.setAttribute('fill', c);
    const d = document.createElementNS(ns, 'circle');
    d.setAttribute('cx', x + 3); d.setAttribute('cy', 4); d.setAttribute('r', 3); d.setAttribute('fill', c);
    s.append(r, d);
  }
  return s;
}

export async function render(ctx) {
  const id = ctx.params.id;
  const [r, manifest] = await Promise.all([getRelic(id), getManifest(id).catch(() => null)]);
  const canvases = canvasesOf(manifest);
  // A shared view (?iiif-content=): its canvas picks the image, its region the viewport.
  let shared = null;
  const cs = ctx.query.get('iiif-content');
  if (cs) {
    shared = await resolveContentState(cs).catch((e) => { console.warn('content state', e); return null; });
    if (shared && shared.relic_id && shared.relic_id !== r.id) {
      ctx.navigate(`/relic/${encodeURIComponent(shared.relic_id)}?iiif-content=${encodeURIComponent(cs)}`, { replace: true });
      return { el: h('div'), title: pick(r.title).text };
    }
  }
  const sharedCanvas = shared && canvases[shared.canvas - 1];
  const imageId = (sharedCanvas && sharedCanvas.imageId) || ctx.query.get('image') || mainImage(r);
  const key = `${id}|${imageId}`;
  const owner = {};
  let v = null, fresh = false;
  if (kept && kept.key === key) {
    v = kept.v;
    kept.owner = owner;
  } else if (imageId) {
    dropKept();
    v = createViewer(imageId);
    fresh = true;
    kept = { key, v, store: { layer: null, panel: null, player: null }, owner };
  } else {
    dropKept();
  }
  if (v) window.__dqViewer = v.viewer; // for the browser tests and the console
  const title = pick(r.title);
  const murl = manifestUrl(r.id);
  const info = imageId ? await getInfo(imageId).catch(() => null) : null;
  const wide = r.object_type === 'handscroll' || (info && info.width / info.height > 3);

  // Annotations, search inside the work, tours and sharing: they need the manifest's canvas.
  let tools = null;
  const canvas = canvases.find((c) => c.imageId === imageId) || (imageId === mainImage(r) ? canvases[0] : null);
  if (v && manifest && canvas) {
    tools = workTools({
      relic: r, v, manifest, navigate: ctx.navigate, store: kept.store,
      canvas: { ...canvas, imageId, width: canvas.width || (info && info.width), height: canvas.height || (info && info.height), imageWidth: info ? info.width : canvas.width },
    });
    if (fresh && shared && shared.xywh) tools.showRegion(shared.xywh).catch(() => {});
  }

  const inscriptions = (r.inscriptions || []).map((i) => h('li',
    h('blockquote.inscription', { lang: i.lang === 'en' ? 'en' : 'zh-Hans' }, i.text),
    h('span.where', [i.author ? h('span', { lang: /[\u3400-\u9fff]/.test(i.author) ? 'zh-Hans' : 'en' }, i.author) : null, i.author && i.position ? ' · ' : null, i.position || ''])));
  const seals = (r.seals || []).map((s) => h('li.seal-item',
    h('span.seal-chip', { lang: 'zh-Hans', 'data-style': s.style || '' }, s.reading),
    h('span.where', [s.owner || '', s.owner && s.position ? ' · ' : '', s.position || ''])));
  const provenance = (r.provenance || []).map((p) => h('li', h('span.year', p.year != null ? yearText(p.year) : ''), ' ', txt(p.text)));
  const dims = r.dimensions_cm ? t('dims', { h: r.dimensions_cm.height, w: r.dimensions_cm.width }) : '';
  // Condition captures and change maps (issue 12) belong to the conservation panel's records.
  const pages = (r.images || []).filter((im) => im.role !== 'condition' && im.role !== 'change-map');
  const imgs = pages.length > 1 ? h('ul.image-list', pages.map((im) => h('li', h('a', {
    href: `/relic/${encodeURIComponent(r.id)}?image=${encodeURIComponent(im.image_id)}`, 'aria-current': im.image_id === imageId ? 'true' : null,
  }, h('img', { src: imageUrl(im.image_id, '!160,160'), alt: '' }), im.label ? txt(im.label) : im.role)))) : null;

  const cons = conservationPanel({ relic: r, canvases });
  const spec = spectralPanel({ relic: r, v }); // issue 11: multispectral layers over the viewer
  const el = h('article.page.relic',
    h('header.relic-head',
      h('p.kicker', [
        r.dynasty ? h('a', { href: `/search?dynasty=${encodeURIComponent(r.dynasty)}` }, vocabLabel('dynasties', r.dynasty)) : null,
        r.dynasty && r.object_type ? ' · ' : null,
        r.object_type ? h('a', { href: `/search?object_type=${encodeURIComponent(r.object_type)}` }, vocabLabel('object_types', r.object_type)) : null]),
      h('h1.relic-title', { lang: tag(title.lang) }, title.text),
      h('p.relic-sub', [r.title && r.title[title.lang === 'zh' ? 'en' : 'zh'] ? h('span', { lang: tag(title.lang === 'zh' ? 'en' : 'zh') }, r.title[title.lang === 'zh' ? 'en' : 'zh']) : null,
        r.title && r.title.pinyin ? h('span.pinyin', { lang: 'zh-Latn-pinyin' }, r.title.pinyin) : null]),
      h('p.byline', creatorsOf(r), r.creators && r.creators.length ? ' · ' : '', dateText(r))),
    v ? h('section.stage', { 'aria-label': t('viewer_label') }, v.el, tools ? tools.panel : null,
      h('div.stage-actions',
        wide ? h('a.btn-seal', { href: `/scroll/${encodeURIComponent(r.id)}${imageId !== mainImage(r) ? `?image=${encodeURIComponent(imageId)}` : ''}` }, t('open_scroll')) : null,
        h('a.btn-line', { href: `/compare?a=${encodeURIComponent(imageId)}` }, t('open_compare')),
        /* issue 14: the living painting */
        livingEnter(r, imageId, 'btn-seal'),
        tools ? tools.actions : null),
      tools ? tools.below : null) : h('p.noimg-big', t('no_image')),
    imgs ? h('section.band', h('h2.section-title', t('images')), imgs) : null,
    spec.el, // issue 11: the Spectral panel
    imageId ? stylePanel(r, imageId, v) : null,
    cons.el, // issue 12: condition records, comparison, virtual restoration
    h('div.relic-body',
      h('section.meta', { 'aria-labelledby': 'h-meta' },
        h('h2#h-meta.visually-hidden', t('meta_description')),
        r.description ? h('div.description', bi(r.description, '.desc')) : null,
        h('dl.facts',
          row('meta_accession', r.accession),
          row('meta_creator', creatorsOf(r)),
          row('meta_dynasty', r.dynasty ? h('span', { lang: tag() }, vocabLabel('dynasties', r.dynasty)) : null),
          row('meta_date', dateText(r)),
          row('meta_type', vocabLabel('object_types', r.object_type)),
          row('meta_subject', (r.subject ? [].concat(r.subject) : []).map((s, i) => [i ? '、' : '', h('a', { href: `/search?subject=${s}` }, vocabLabel('subjects', s))])),
          row('meta_medium', r.medium ? bi(r.medium) : null),
          row('meta_dimensions', dims),
          row('meta_school', r.school || null),
          row('meta_places', placesList(r)), // issue 16: places with Wikidata / TGN links
          row('meta_rights', rightsOf(manifest))),
        inscriptions.length ? h('section.sub', h('h2.section-title', t('meta_inscriptions')), h('ul.inscriptions', inscriptions)) : null,
        seals.length ? h('section.sub', h('h2.section-title', t('meta_seals')), h('ul.seals', seals)) : null,
        provenance.length ? h('section.sub', h('h2.section-title', t('meta_provenance')), h('ol.provenance', provenance)) : null),
      h('aside.side',
        h('section.card-box.cite', { 'aria-labelledby': 'h-cite' },
          h('h2#h-cite.box-title', t('cite_title')),
          h('p.cite-text#cite-text', { lang: tag() }, citation(r, `${location.origin}/relic/${encodeURIComponent(r.id)}`)),
          h('button.btn-line.copy', { type: 'button', onclick: async (e) => {
            try { await navigator.clipboard.writeText(document.getElementById('cite-text').textContent); e.target.textContent = t('cite_copied'); } catch { /* clipboard may be denied */ }
          } }, t('cite_copy'))),
        researchBox(r),
        h('section.card-box.manifest', { 'aria-labelledby': 'h-manifest' },
          h('h2#h-manifest.box-title', t('manifest_title')),
          h('a.iiif-drag', { href: `${murl}?manifest=${encodeURIComponent(murl)}`, draggable: 'true', title: t('manifest_hint'), 'data-external': '' }, iiifBadge(), h('span.visually-hidden', t('manifest_title'))),
          h('p.hint', t('manifest_hint')),
          h('p.url', h('a', { href: murl, 'data-external': '' }, murl)),
          sectionsLink(r, murl)), // issue 16: handscrolls for viewers that ignore start's region
        info ? downloadBox(r, imageId, info, manifest, v) : null, // issue 16: rights embedded
        v ? remoteCompare(imageId, ctx.navigate, v.el) : null))); // issue 16: a dropped/pasted manifest

  return {
    el,
    title: title.text,
    destroy() {
      tools?.destroy();
      cons.destroy();
      spec.destroy();
      if (kept && kept.owner === owner) dropKept();
    },
  };
}
