// spectral.js: the relic page's Spectral panel (issue 11; docs/spectral.md, docs/api.md
// "Multispectral captures"). For a relic with captures it offers, over the deep-zoom viewer:
// - presets (visible, IR false colour, UV fluorescence) and a wavelength slider across the
//   reflectance bands, each a IIIF layer of /iiif/3/spectral/{capture}/{layer} drawn as a second
//   tiled image in the same OpenSeadragon world, so it pans and zooms with the painting;
// - the derived layers: components (PCA/MNF/ICA), reveal images and the pigment map, the
//   latter with its legend and hover names;
// - opacity, and a swipe that shows the layer on one side of a line only;
// - a click that plots the point's reflectance (GET /api/captures/{id}/spectrum) against the
//   best library matches, as SVG, in Chinese or English.
import { lang } from './i18n.js';
import { getJSONMaybe } from './api.js';
import { h, clear } from './dom.js';

const S = {
  title: { zh: '多光谱', en: 'Spectral' },
  capture: { zh: '采集', en: 'Capture' },
  presets: { zh: '预设', en: 'Presets' },
  none: { zh: '原图', en: 'Original' },
  visible: { zh: '可见光', en: 'Visible' },
  irfc: { zh: '红外假彩色', en: 'IR false colour' },
  uvf: { zh: '紫外荧光', en: 'UV fluorescence' },
  wavelength: { zh: '波长', en: 'Wavelength' },
  components: { zh: '成分图像', en: 'Components' },
  pigments: { zh: '颜料分布图', en: 'Pigment map' },
  reveal: { zh: '揭示', en: 'Reveal' },
  opacity: { zh: '不透明度', en: 'Opacity' },
  swipe: { zh: '滑动对比', en: 'Swipe' },
  legend: { zh: '图例', en: 'Legend' },
  click: { zh: '点击画面查看该点的反射光谱。', en: 'Click the painting to plot the reflectance at that point.' },
  measured: { zh: '测得', en: 'measured' },
  reflectance: { zh: '反射率', en: 'Reflectance' },
  nm: { zh: '波长 (nm)', en: 'Wavelength (nm)' },
  support: { zh: '绢/纸', en: 'support' },
  carbon_ink: { zh: '墨', en: 'carbon ink' },
  at: { zh: '位置', en: 'at' },
};
const s = (k) => (S[k] ? S[k][lang()] || S[k].en : k);
// The server's palette for pigment labels (api_spectral.c label_rgb): 0 support, 1 ink, then
// these twelve in turn.
const PALETTE = ['#e6194b', '#3cb44b', '#ffe119', '#0082c8', '#f58230', '#911eb4', '#46f0f0',
  '#f032e6', '#d2f53c', '#008080', '#aa6e28', '#800000'];
const labelColour = (v) => (v === 0 ? '#f5f5f5' : v === 1 ? '#1e1e1e' : PALETTE[(v - 2) % 12]);
const PLOT = ['#c0392b', '#2471a3', '#229954', '#7d3c98'];

let cssLoaded = false;
function loadCss() {
  if (cssLoaded || document.querySelector('link[data-spectral]')) return;
  cssLoaded = true;
  document.head.append(h('link', { rel: 'stylesheet', href: '/static/css/spectral.css', 'data-spectral': '' }));
}

// The SVG plot of one spectrum answer: measured band values as dots joined by a line, the best
// library matches as curves.
export function spectrumSvg(sp) {
  const W = 360, H = 200, L = 40, B = 28, T = 8, R = 8;
  const x = (nm) => L + ((nm - 400) / 600) * (W - L - R);
  const y = (v) => T + (1 - Math.max(0, Math.min(1.1, v)) / 1.1) * (H - T - B);
  const ns = 'http://www.w3.org/2000/svg';
  const el = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  };
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: 'spec-plot', role: 'img', 'aria-label': s('reflectance') });
  svg.append(el('line', { x1: L, y1: H - B, x2: W - R, y2: H - B, class: 'axis' }), el('line', { x1: L, y1: T, x2: L, y2: H - B, class: 'axis' }));
  for (const nm of [400, 500, 600, 700, 800, 900, 1000]) svg.append(el('text', { x: x(nm), y: H - B + 14, 'text-anchor': 'middle', class: 'tick' }, String(nm)));
  for (const v of [0, 0.5, 1]) svg.append(el('text', { x: L - 4, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(v)));
  svg.append(el('text', { x: (L + W - R) / 2, y: H - 2, 'text-anchor': 'middle', class: 'label' }, s('nm')));
  (sp.matches || []).slice(0, 3).forEach((m, i) => {
    const pts = sp.library_nm.map((nm, k) => `${x(nm).toFixed(1)},${y(m.curve[k]).toFixed(1)}`).join(' ');
    svg.append(el('polyline', { points: pts, fill: 'none', stroke: PLOT[i + 1], 'stroke-width': 1.5, class: 'match', 'data-name': m.name }));
  });
  const bands = (sp.bands || []).filter((b) => b.kind === 'reflectance' && b.nm >= 400 && b.nm <= 1000);
  svg.append(el('polyline', { points: bands.map((b) => `${x(b.nm).toFixed(1)},${y(b.value).toFixed(1)}`).join(' '), fill: 'none', stroke: PLOT[0], 'stroke-width': 2, class: 'measured' }));
  for (const b of bands) svg.append(el('circle', { cx: x(b.nm), cy: y(b.value), r: 3, fill: PLOT[0] }));
  return svg;
}

// The panel. v: the page's viewer ({viewer, ready}); returns {el, destroy}.
export function spectralPanel({ relic, v }) {
  loadCss();
  const el = h('section.band.spectral', { 'aria-labelledby': 'h-spectral', hidden: true, 'data-testid': 'spectral' });
  let item = null, cap = null, current = null, opacity = 0.85, swipe = 1, destroyed = false, hoverTimer = null;
  const OSD = () => window.OpenSeadragon;
  const viewer = v && v.viewer;

  function clip() {
    if (!item) return;
    const sz = item.getContentSize();
    item.setClip(swipe >= 1 ? null : new (OSD().Rect)(0, 0, sz.x * swipe, sz.y));
  }
  function show(name) {
    current = name;
    status.textContent = name ? `${cap.id} · ${name}` : '';
    legend.hidden = name !== 'pigments';
    if (item) { viewer.world.removeItem(item); item = null; }
    if (!name) el.dataset.layer = '';
    if (!name || !viewer) return;
    const base = viewer.world.getItemAt(0);
    viewer.addTiledImage({
      tileSource: `/iiif/3/spectral/${encodeURIComponent(cap.id)}/${encodeURIComponent(name)}/info.json`,
      x: 0, y: 0, width: base ? base.getBounds().width : 1, opacity,
      success: (e) => { if (current !== name || destroyed) { viewer.world.removeItem(e.item); return; } item = e.item; el.dataset.layer = name; clip(); },
    });
  }

  const status = h('p.spec-status', { 'aria-live': 'polite' });
  const legend = h('div.spec-legend', { hidden: true });
  const plot = h('div.spec-plotbox', h('p.hint', s('click')));
  const hover = h('p.spec-hover', { 'aria-live': 'polite' });
  const body = h('div.spec-body');
  el.append(h('h2#h-spectral.section-title', s('title')), body);

  async function point(px, py, target) {
    const sp = await getJSONMaybe(`/api/captures/${encodeURIComponent(cap.id)}/spectrum?x=${px}&y=${py}`);
    if (!sp || destroyed) return null;
    if (target === 'plot') {
      clear(plot);
      const names = (sp.matches || []).slice(0, 3);
      plot.append(spectrumSvg(sp), h('ul.spec-keys',
        h('li', h('span.swatch', { style: `background:${PLOT[0]}` }), `${s('measured')} (${s('at')} ${px}, ${py})`),
        names.map((m, i) => h('li', h('span.swatch', { style: `background:${PLOT[i + 1]}` }), `${m.name} · ${(m.rms).toFixed(3)}`))));
      el.dataset.plotted = `${px},${py}`;
    }
    return sp;
  }
  // Viewer pixel -> capture pixel.
  function capturePoint(pos) {
    const base = viewer.world.getItemAt(0);
    if (!base) return null;
    const vp = viewer.viewport.pointFromPixel(pos);
    const ip = base.viewportToImageCoordinates(vp);
    const size = base.getContentSize();
    const px = Math.floor((ip.x / size.x) * cap.width), py = Math.floor((ip.y / size.y) * cap.height);
    return px >= 0 && py >= 0 && px < cap.width && py < cap.height ? [px, py] : null;
  }

  async function load() {
    const list = await getJSONMaybe(`/api/relics/${encodeURIComponent(relic.id)}/captures`);
    if (destroyed || !list || !list.items || !list.items.length) return;
    cap = await getJSONMaybe(`/api/captures/${encodeURIComponent(list.items[0].id)}`);
    if (destroyed || !cap) return;
    el.hidden = false;
    const images = cap.images || [];
    const refl = images.filter((i) => i.kind === 'reflectance' && i.nm).sort((a, b) => a.nm - b.nm);
    const comps = images.filter((i) => i.kind === 'component');
    const reveals = images.filter((i) => i.kind === 'reveal');
    const has = (n) => images.some((i) => i.name === n);
    const btn = (name, label) => h('button.btn-line', { type: 'button', 'data-layer': name || '', onclick: () => show(name) }, label);
    const slider = refl.length ? h('input.spec-wl', { type: 'range', min: 0, max: refl.length - 1, step: 1, value: 0, 'aria-label': s('wavelength'),
      oninput: (e) => { const b = refl[+e.target.value]; wl.textContent = `${b.nm} nm`; show(b.name); } }) : null;
    const wl = h('output.spec-wlv', refl.length ? `${refl[0].nm} nm` : '');
    const pig = (cap.layers || []).find((l) => l.name === 'pigments');
    if (pig && pig.doc && pig.doc.labels) {
      const items = [...pig.doc.labels].filter((l) => l.fraction >= 0.001).sort((a, b) => b.fraction - a.fraction).slice(0, 12);
      legend.append(h('h3.spec-sub', s('legend')), h('ul.spec-legend-list', items.map((l) => h('li',
        h('span.swatch', { style: `background:${labelColour(l.value)}` }),
        l.value === 0 ? s('support') : l.value === 1 ? s('carbon_ink') : l.name, ` ${(100 * l.fraction).toFixed(1)}%`))));
    }
    body.append(
      h('div.spec-row', h('span.spec-k', s('presets')), btn(null, s('none')),
        has('visible') ? btn('visible', s('visible')) : null, has('irfc') ? btn('irfc', s('irfc')) : null, has('uvf') ? btn('uvf', s('uvf')) : null),
      slider ? h('label.spec-row', h('span.spec-k', s('wavelength')), slider, wl) : null,
      comps.length ? h('label.spec-row', h('span.spec-k', s('components')), h('select.spec-comp', { onchange: (e) => show(e.target.value || null) },
        h('option', { value: '' }, '—'), comps.map((c) => h('option', { value: c.name }, c.name)))) : null,
      (pig || reveals.length) ? h('div.spec-row', pig ? btn('pigments', s('pigments')) : null,
        reveals.map((r) => btn(r.name, `${s('reveal')}: ${r.name.replace('reveal-', '')}`))) : null,
      h('label.spec-row', h('span.spec-k', s('opacity')), h('input.spec-op', { type: 'range', min: 0, max: 100, value: 85, 'aria-label': s('opacity'),
        oninput: (e) => { opacity = e.target.value / 100; if (item) item.setOpacity(opacity); } })),
      h('label.spec-row', h('span.spec-k', s('swipe')), h('input.spec-swipe', { type: 'range', min: 0, max: 100, value: 100, 'aria-label': s('swipe'),
        oninput: (e) => { swipe = e.target.value / 100; clip(); } })),
      status, legend, hover, plot);
    if (viewer) {
      viewer.addHandler('canvas-click', onClick);
      viewer.element.addEventListener('mousemove', onMove);
    }
  }
  function onClick(e) {
    if (!e.quick || !cap) return;
    const p = capturePoint(e.position);
    if (p) point(p[0], p[1], 'plot');
  }
  function onMove(ev) {
    if (current !== 'pigments' || !cap) return;
    const r = viewer.element.getBoundingClientRect();
    const pos = new (OSD().Point)(ev.clientX - r.left, ev.clientY - r.top);
    clearTimeout(hoverTimer);
    hoverTimer = setTimeout(async () => {
      const p = capturePoint(pos);
      if (!p) return;
      const sp = await point(p[0], p[1], 'hover');
      const m = sp && sp.matches && sp.matches[0];
      hover.textContent = m ? `${m.family} (${p[0]}, ${p[1]})` : '';
    }, 250);
  }
  if (v && v.ready) v.ready.then(load, () => {}); else load();
  return {
    el,
    destroy() {
      destroyed = true;
      clearTimeout(hoverTimer);
      // The relic page may have destroyed the viewer first (OpenSeadragon then nulls its
      // element and world): only undo what is still there.
      if (viewer) {
        viewer.removeHandler('canvas-click', onClick);
        viewer.element?.removeEventListener('mousemove', onMove);
        if (item && viewer.world) { try { viewer.world.removeItem(item); } catch { /* viewer gone */ } }
      }
    },
  };
}
