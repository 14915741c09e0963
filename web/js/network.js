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
  return regionMaxWidth(info, info.width, info.height);
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
  const sel = v ? regionSelect(v, info, base) : null;
  return h('section.card-box.dl-box', { 'aria-labelledby': 'h-dl', lang: tag() },
    h('h2#h-dl.box-title', lang() === 'zh' ? '下载' : 'Download'),
    h('ul.downloads', items),
    regionBtn,
    sel ? [sel.button, sel.panel] : null,
    h('p.hint.dl-rights', ds('embedded'), ' ',
      uri ? h('a', { href: uri, 'data-external': '', 'data-rights': uri }, rightsLabel(uri) || uri) : null,
      credit ? ` · ${credit}` : ''));
}

// ---- Drag to select a region, then download it (issue 16) ----
// "Select a region" puts a layer over the deep-zoom viewer: drag a rectangle with a mouse, a
// pen or a finger (pointer events; touch-action none so a finger draws instead of scrolling),
// or, from the keyboard, move the selection with the arrow keys and resize it with Shift +
// arrows (Enter downloads, Escape leaves). The panel states the selection in the image's own
// pixels, the largest width the server allows for it (info.json maxWidth / maxHeight /
// maxArea, Image 3.0 §5.3, as the download's "max" computes them), the chosen width and what
// that file may weigh; the link is /api/relics/{id}/download?region=x,y,w,h&width=N&format=,
// the same rights-embedding download as above. Element pixels map to image pixels linearly
// through the viewport's bounds, as "the region in view" does (the viewer never rotates).
const R = {
  select: { zh: '框选区域', en: 'Select a region' },
  done: { zh: '结束框选', en: 'Stop selecting' },
  help: { zh: '在图上拖出一个矩形（手指亦可）。键盘：方向键移动，Shift+方向键改变大小，Enter 下载，Esc 退出。', en: 'Drag a rectangle on the picture (a finger works too). Keyboard: arrows move it, Shift + arrows resize it, Enter downloads, Escape leaves.' },
  none: { zh: '尚未选择区域。', en: 'No region selected yet.' },
  size: { zh: '选区：原图 {w} × {h} 像素（x {x}，y {y}）', en: 'Selection: {w} × {h} px of the image (at x {x}, y {y})' },
  limit: { zh: '此选区最大可下载宽 {w} 像素（服务器限制）', en: 'At most {w} px wide for this selection (the server\'s limits)' },
  width: { zh: '下载宽度（像素）', en: 'Width to download (px)' },
  format: { zh: '格式', en: 'Format' },
  out: { zh: '将得到 {w} × {h} 像素；未压缩 {raw}：TIFF（无损 deflate）至多约此大小，JPEG 通常不到其十分之一。', en: 'You get {w} × {h} px; uncompressed {raw}: the TIFF (lossless, deflate) is at most about that, the JPEG usually under a tenth of it.' },
  get: { zh: '下载选区', en: 'Download the selection' },
  area: { zh: '区域选择：方向键移动，Shift+方向键改变大小，Enter 下载，Esc 退出', en: 'Region selection: arrows move, Shift + arrows resize, Enter downloads, Escape leaves' },
};
const rs = (k, vars = {}) => Object.entries(vars).reduce((a, [k2, v2]) => a.replace(`{${k2}}`, v2), R[k][lang()] || R[k].en);
const bytes = (n) => (n >= 1e9 ? `${(n / 1e9).toFixed(1)} GB` : n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(n / 1e3))} KB`);

// The largest output width the server allows for a region of rw x rh (never enlarged).
export function regionMaxWidth(info, rw, rh) {
  let w = rw;
  if (info.maxWidth) w = Math.min(w, info.maxWidth);
  if (info.maxHeight) w = Math.min(w, Math.floor((info.maxHeight * rw) / rh));
  if (info.maxArea) w = Math.min(w, Math.floor(Math.sqrt((info.maxArea * rw) / rh)));
  return Math.max(1, w);
}

function regionSelect(v, info, base) {
  const W = info.width, H = info.height;
  let on = false, sel = null, drag = null, region = null; // sel: element px {x0, y0, x1, y1}
  const tag2 = h('span.sel-tag', { 'aria-hidden': 'true' }); // the size on the rectangle itself
  const rect = h('div.sel-rect', { hidden: true }, tag2);
  const layer = h('div.sel-layer', { tabindex: '0', role: 'application', 'aria-label': rs('area'), 'data-sel-layer': '' }, rect);
  const sizeP = h('p.sel-size', { 'aria-live': 'polite' }, rs('none'));
  const limitP = h('p.hint.sel-limit');
  const widthIn = h('input#sel-width', { type: 'number', min: '1', step: '1', inputmode: 'numeric' });
  const fmtSel = h('select#sel-format', h('option', { value: 'jpg' }, 'JPEG'), h('option', { value: 'tif' }, 'TIFF'));
  const outP = h('p.hint.sel-out');
  const link = h('a.btn-seal.sel-get', { download: '', 'aria-disabled': 'true' }, rs('get'));
  const panel = h('div.sel-panel', { hidden: true },
    h('p.hint', rs('help')), sizeP, limitP,
    h('div.sel-row', h('label', { for: 'sel-width' }, rs('width')), widthIn, h('label', { for: 'sel-format' }, rs('format')), fmtSel),
    outP, link);
  const button = h('button.btn-line#dl-select', { type: 'button', 'aria-pressed': 'false', style: { margin: '8px 0 8px 8px' } }, rs('select'));

  // Element px -> image px through the viewport's current bounds.
  const toImage = () => {
    const item = v.viewer.world.getItemAt(0);
    const el = layer.getBoundingClientRect();
    if (!item || !sel || !el.width) return null;
    const rr = item.viewportToImageRectangle(v.viewer.viewport.getBounds(true));
    const k = W / item.getContentSize().x;
    const fx = (px) => (rr.x + (px / el.width) * rr.width) * k, fy = (py) => (rr.y + (py / el.height) * rr.height) * k;
    const x0 = Math.max(0, Math.round(fx(Math.min(sel.x0, sel.x1)))), x1 = Math.min(W, Math.round(fx(Math.max(sel.x0, sel.x1))));
    const y0 = Math.max(0, Math.round(fy(Math.min(sel.y0, sel.y1)))), y1 = Math.min(H, Math.round(fy(Math.max(sel.y0, sel.y1))));
    return x1 - x0 >= 1 && y1 - y0 >= 1 ? { x: x0, y: y0, w: x1 - x0, h: y1 - y0 } : null;
  };
  // The image's part of the layer, in element px (a tall work leaves the sides empty): where
  // the keyboard's selection starts and stays.
  const imgBox = () => {
    const item = v.viewer.world.getItemAt(0);
    const el = layer.getBoundingClientRect();
    if (!item || !el.width) return { x0: 0, y0: 0, x1: el.width, y1: el.height };
    const rr = item.viewportToImageRectangle(v.viewer.viewport.getBounds(true));
    const sz = item.getContentSize();
    const ex = (ix) => ((ix - rr.x) / rr.width) * el.width, ey = (iy) => ((iy - rr.y) / rr.height) * el.height;
    const b = { x0: Math.max(0, ex(0)), y0: Math.max(0, ey(0)), x1: Math.min(el.width, ex(sz.x)), y1: Math.min(el.height, ey(sz.y)) };
    return b.x1 - b.x0 >= 8 && b.y1 - b.y0 >= 8 ? b : { x0: 0, y0: 0, x1: el.width, y1: el.height };
  };
  const update = () => {
    if (sel) {
      Object.assign(rect.style, { left: `${Math.min(sel.x0, sel.x1)}px`, top: `${Math.min(sel.y0, sel.y1)}px`, width: `${Math.abs(sel.x1 - sel.x0)}px`, height: `${Math.abs(sel.y1 - sel.y0)}px` });
      rect.hidden = false;
    }
    region = toImage();
    if (!region) {
      sizeP.textContent = rs('none'); limitP.textContent = ''; outP.textContent = '';
      link.removeAttribute('href'); link.setAttribute('aria-disabled', 'true');
      return;
    }
    const wmax = regionMaxWidth(info, region.w, region.h);
    widthIn.max = String(wmax);
    let w = Number(widthIn.value);
    if (!(w >= 1) || widthIn.dataset.auto === '1' || w > wmax) { w = wmax; widthIn.value = String(wmax); widthIn.dataset.auto = '1'; }
    const oh = Math.max(1, Math.round((region.h * w) / region.w));
    sizeP.textContent = rs('size', { w: region.w, h: region.h, x: region.x, y: region.y });
    tag2.textContent = `${region.w} × ${region.h} px`;
    limitP.textContent = rs('limit', { w: wmax });
    outP.textContent = rs('out', { w, h: oh, raw: bytes(w * oh * 3) });
    const r = `${region.x},${region.y},${region.w},${region.h}`;
    link.href = `${base}&region=${r}&width=${w}&format=${fmtSel.value}`;
    link.removeAttribute('aria-disabled');
    panel.dataset.region = r;
  };
  widthIn.addEventListener('input', () => { widthIn.dataset.auto = '0'; update(); });
  fmtSel.addEventListener('change', update);

  const at = (e) => { const b = layer.getBoundingClientRect(); return { x: Math.max(0, Math.min(b.width, e.clientX - b.left)), y: Math.max(0, Math.min(b.height, e.clientY - b.top)) }; };
  layer.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    layer.setPointerCapture?.(e.pointerId);
    const p = at(e);
    drag = e.pointerId;
    sel = { x0: p.x, y0: p.y, x1: p.x, y1: p.y };
    widthIn.dataset.auto = '1';
    update();
  });
  layer.addEventListener('pointermove', (e) => {
    if (drag !== e.pointerId) return;
    const p = at(e);
    sel.x1 = p.x; sel.y1 = p.y;
    update();
  });
  const end = (e) => { if (drag === e.pointerId) { drag = null; update(); } };
  layer.addEventListener('pointerup', end);
  layer.addEventListener('pointercancel', end);
  layer.addEventListener('keydown', (e) => {
    const b = imgBox();
    const step = Math.max(2, Math.round((b.x1 - b.x0) / 50));
    const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
    if (d) {
      e.preventDefault();
      const x0 = Math.min(sel.x0, sel.x1), y0 = Math.min(sel.y0, sel.y1), x1 = Math.max(sel.x0, sel.x1), y1 = Math.max(sel.y0, sel.y1);
      if (e.shiftKey) sel = { x0, y0, x1: Math.max(x0 + 4, Math.min(b.x1, x1 + d[0])), y1: Math.max(y0 + 4, Math.min(b.y1, y1 + d[1])) };
      else {
        const dx = Math.max(b.x0 - x0, Math.min(b.x1 - x1, d[0])), dy = Math.max(b.y0 - y0, Math.min(b.y1 - y1, d[1]));
        sel = { x0: x0 + dx, y0: y0 + dy, x1: x1 + dx, y1: y1 + dy };
      }
      widthIn.dataset.auto = '1';
      update();
    } else if (e.key === 'Enter' && link.href) { e.preventDefault(); link.click(); }
    else if (e.key === 'Escape') { e.preventDefault(); toggle(false); button.focus(); }
  });
  // The view may move under a fixed selection (the window resized): keep the numbers true.
  const onView = () => { if (on && sel) update(); };
  v.viewer.addHandler('animation-finish', onView);

  function toggle(want) {
    on = want;
    button.setAttribute('aria-pressed', on ? 'true' : 'false');
    button.textContent = rs(on ? 'done' : 'select');
    panel.hidden = !on;
    if (on) {
      (v.viewer.container || v.viewer.element).append(layer);
      if (!sel) { // a starting selection for the keyboard: the middle half of the image in view
        const b = imgBox(), w = b.x1 - b.x0, hh = b.y1 - b.y0;
        sel = { x0: b.x0 + w / 4, y0: b.y0 + hh / 4, x1: b.x0 + (w * 3) / 4, y1: b.y0 + (hh * 3) / 4 };
        widthIn.dataset.auto = '1';
      }
      update();
      layer.focus();
    } else layer.remove();
  }
  button.addEventListener('click', () => toggle(!on));
  return { button, panel };
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
