// Research box of the relic page (issue 16): citation downloads (CSL-JSON, BibTeX, RIS from
// /api/relics/{id}/cite), the record's Linked Art document, its creators' authority links
// (Wikidata, ULAN), its bibliography, and, for a record harvested from another institution,
// where it comes from and its licence. Strings are bilingual here; nothing is fetched.
import { lang, tag, pick, rightsLabel } from './i18n.js';
import { h } from './dom.js';
import { manifestField } from './remote-manifest.js';

const L = {
  title: { zh: '研究', en: 'For research' },
  cite: { zh: '引用格式', en: 'Citation' },
  la: { zh: 'Linked Art 数据', en: 'Linked Art (JSON-LD)' },
  authorities: { zh: '规范档', en: 'Authorities' },
  refs: { zh: '参考文献', en: 'References' },
  remote: { zh: '外部馆藏', en: 'From another collection' },
  licence: { zh: '许可', en: 'Licence' },
  manifest: { zh: 'IIIF 清单', en: 'IIIF Manifest' },
  record: { zh: '来源记录 (OAI-PMH)', en: 'Source record (OAI-PMH)' },
  fields: { zh: '来源的其他字段', en: 'Other fields of the source' },
};
const s = (k) => L[k][lang()] || L[k].en;

export function researchBox(r) {
  const id = encodeURIComponent(r.id);
  const fmt = (f, label) => h('a', { href: `/api/relics/${id}/cite?format=${f}`, download: `${r.id}.${f === 'csl' ? 'json' : f === 'bibtex' ? 'bib' : 'ris'}` }, label);
  const auth = (r.creators || []).flatMap((c) => [
    c.wikidata ? h('li', pick(c.name).text, ' · ', h('a', { href: `https://www.wikidata.org/wiki/${c.wikidata}`, 'data-external': '' }, `Wikidata ${c.wikidata}`)) : null,
    c.ulan ? h('li', pick(c.name).text, ' · ', h('a', { href: `http://vocab.getty.edu/page/ulan/${c.ulan}`, 'data-external': '' }, `ULAN ${c.ulan}`)) : null,
  ]).filter(Boolean);
  const refs = (r.references || []).map((x) => h('li', x.text,
    x.doi ? [' ', h('a', { href: `https://doi.org/${x.doi}`, 'data-external': '' }, `doi:${x.doi}`)] : null,
    !x.doi && x.url ? [' ', h('a', { href: x.url, 'data-external': '' }, x.url)] : null));
  const rm = r.remote;
  return h('section.card-box.research', { 'aria-labelledby': 'h-research', lang: tag() },
    h('h2#h-research.box-title', s('title')),
    rm ? h('div.remote', h('p', h('strong', s('remote')), rm.institution ? ` · ${rm.institution}` : ''),
      rm.licence ? h('p', `${s('licence')}: `, h('a', { href: rm.licence, 'data-external': '' }, rm.licence)) : null,
      rm.manifest ? h('p', h('a', { href: rm.manifest, 'data-external': '' }, s('manifest'))) : null,
      rm.record ? h('p', h('a', { href: rm.record, 'data-external': '' }, s('record'))) : null,
      rm.fields && rm.fields.length ? h('details.remote-fields', h('summary', s('fields')),
        h('dl', rm.fields.flatMap((x) => [h('dt', x.name), h('dd', x.value)]))) : null) : null,
    h('p.cite-formats', `${s('cite')}: `, fmt('csl', 'CSL-JSON'), ' · ', fmt('bibtex', 'BibTeX'), ' · ', fmt('ris', 'RIS')),
    h('p', h('a', { href: `/linked-art/object/${id}`, 'data-external': '' }, s('la'))),
    auth.length ? [h('h3', s('authorities')), h('ul.authorities', auth)] : null,
    refs.length ? [h('h3', s('refs')), h('ul.references', refs)] : null);
}

// The sections view of a handscroll's manifest (manifest?view=sections): Mirador, Universal
// Viewer and Clover open a Canvas but not a region of it, so the single-Canvas manifest opens
// whole there; this one is the scroll cut into screen-wide Canvases from the right end.
const SEC = {
  link: { zh: '分段清单（自右端展开）', en: 'Manifest in sections, from the right end' },
  hint: { zh: '供 Mirador、Universal Viewer、Clover 等只能按整幅打开手卷的查看器使用：手卷切成一屏宽的分段，从右端开始。', en: 'For viewers that open a scroll whole (Mirador, Universal Viewer, Clover): the scroll in screen-wide sections, starting at the right end.' },
};
export function sectionsLink(r, murl) {
  if (r.object_type !== 'handscroll') return null;
  const u = `${murl}?view=sections`;
  const sl = (k) => SEC[k][lang()] || SEC[k].en;
  return h('div.sections-manifest', { lang: tag() },
    h('p', h('a.iiif-drag', { href: `${u}&manifest=${encodeURIComponent(u)}`, draggable: 'true', title: sl('hint'), 'data-external': '' }, sl('link'))),
    h('p.hint', sl('hint')));
}

// ---- Downloads with rights embedded (issue 16) ----
// Sizes up to the largest the server allows (info.json maxWidth / maxHeight / maxArea, IIIF
// Image 3.0 §5.3), each from /api/relics/{id}/download: the Image API's render with the
// record's rights and credit written into the file (XMP and IPTC). What is embedded is
// stated beside the links, read from the manifest (rights, requiredStatement): the same
// source the server embeds from. "The region in view" downloads what the viewer shows.
const D = {
  px: { zh: '宽 {w} 像素', en: '{w} px wide' },
  full: { zh: '原大 {w} × {h} 像素', en: 'full size, {w} × {h} px' },
  region: { zh: '下载视图中的区域', en: 'Download the region in view' },
  embedded: { zh: '文件内嵌版权与来源信息（XMP、IPTC）：', en: 'Rights and credit are embedded in the file (XMP, IPTC):' },
  capped: { zh: '服务器允许的最大尺寸', en: 'the largest size this server allows' },
};
const ds = (k, vars = {}) => Object.entries(vars).reduce((a, [k2, v]) => a.replace(`{${k2}}`, v), D[k][lang()] || D[k].en);

// The widest whole-image download the limits allow, as the server's "max" computes it.
export function maxDownloadWidth(info) {
  const W = info.width, H = info.height;
  let w = W;
  if (info.maxWidth) w = Math.min(w, info.maxWidth);
  if (info.maxHeight) w = Math.min(w, Math.floor((info.maxHeight * W) / H));
  if (info.maxArea) w = Math.min(w, Math.floor(Math.sqrt((info.maxArea * W) / H)));
  return Math.max(1, w);
}

export function downloadBox(r, imageId, info, manifest, v) {
  const base = `/api/relics/${encodeURIComponent(r.id)}/download?image=${encodeURIComponent(imageId)}`;
  const W = info.width, H = info.height, wmax = maxDownloadWidth(info);
  const widths = [800, 1600, 3200, 6400].filter((w) => w < wmax);
  const items = widths.map((w) => h('li', h('a', { href: `${base}&width=${w}`, download: '' }, `JPEG, ${ds('px', { w })}`)));
  items.push(h('li', h('a.dl-max', { href: `${base}&width=${wmax}`, download: '', 'data-width': wmax },
    'JPEG, ', wmax === W ? ds('full', { w: W, h: H }) : `${ds('px', { w: wmax })} (${ds('capped')})`)));
  items.push(h('li', h('a', { href: `${base}&width=${wmax}&format=tif`, download: '' }, `TIFF, ${ds('px', { w: wmax })}`)));
  const regionBtn = v ? h('button.btn-line#dl-region', { type: 'button', style: { margin: '8px 0' }, onclick: () => {
    const item = v.viewer.world.getItemAt(0);
    if (!item) return;
    const rr = item.viewportToImageRectangle(v.viewer.viewport.getBounds(true));
    const size = item.getContentSize();
    const x = Math.max(0, Math.round(rr.x)), y = Math.max(0, Math.round(rr.y));
    const w = Math.min(Math.round(rr.x + rr.width), size.x) - x, hh = Math.min(Math.round(rr.y + rr.height), size.y) - y;
    if (w < 1 || hh < 1) return;
    // Scale to the image's full resolution: OpenSeadragon's content size is the image's.
    const k = W / size.x;
    const region = `${Math.round(x * k)},${Math.round(y * k)},${Math.round(w * k)},${Math.round(hh * k)}`;
    const a = h('a', { href: `${base}&region=${region}`, download: '' });
    document.body.append(a); a.click(); a.remove();
    regionBtn.dataset.region = region;
  } }, ds('region')) : null;
  const uri = manifest && typeof manifest.rights === 'string' ? manifest.rights : null;
  const credit = manifest && manifest.requiredStatement ? pick(manifest.requiredStatement.value).text : '';
  return h('section.card-box.dl-box', { 'aria-labelledby': 'h-dl', lang: tag() },
    h('h2#h-dl.box-title', lang() === 'zh' ? '下载' : 'Download'),
    h('ul.downloads', items),
    regionBtn,
    h('p.hint.dl-rights', ds('embedded'), ' ',
      uri ? h('a', { href: uri, 'data-external': '', 'data-rights': uri }, rightsLabel(uri) || uri) : null,
      credit ? ` · ${credit}` : ''));
}

// ---- Places with authorities (issue 16) ----
export function placesList(r) {
  const ps = r.places || [];
  if (!ps.length) return null;
  return h('ul.places', ps.map((p) => h('li.place',
    h('span', { lang: tag(pick(p.name).lang) }, pick(p.name).text),
    p.role ? h('span.place-role', ` (${p.role})`) : null,
    p.wikidata ? [' · ', h('a', { href: `https://www.wikidata.org/wiki/${p.wikidata}`, 'data-external': '' }, `Wikidata ${p.wikidata}`)] : null,
    p.tgn ? [' · ', h('a', { href: `http://vocab.getty.edu/page/tgn/${p.tgn}`, 'data-external': '' }, `TGN ${p.tgn}`)] : null)));
}

// ---- Another collection's manifest beside this work (issue 16) ----
// Pasted into the field, or dropped on the viewer (IIIF drag-and-drop): opens compare with
// this image on the left and the manifest's first image on the right.
export function remoteCompare(imageId, navigate, dropTarget) {
  return h('section.card-box.remote-box', { 'aria-labelledby': 'h-remote', lang: tag() },
    h('h2#h-remote.box-title', lang() === 'zh' ? '与其他馆藏对照' : 'Compare with another collection'),
    manifestField({
      id: 'relic-remote', dropTarget,
      onOpen: (res) => navigate(`/compare?${new URLSearchParams({ a: imageId, b: res.service, bl: res.label || '' })}`),
    }));
}
