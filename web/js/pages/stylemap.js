// Style map (issue 13): every indexed work as a point of a 2-D projection of the style
// embeddings (GET /api/style/map: the first two principal components), coloured by school
// or dynasty, zoomable (wheel) and pannable (drag), a thumbnail on hover or focus, a click
// through to the relic; the timeline view puts the date across and the first style component
// up, so that a family's drift over the centuries shows. State in the URL (?by=, ?view=).
import { lang, tag, pick, vocabLabel, yearText } from '../i18n.js';
import { getJSON, imageUrl } from '../api.js';
import { h, clear } from '../dom.js';
import { L } from '../style.js';

export const name = 'stylemap';
const NS = 'http://www.w3.org/2000/svg';
const PALETTE = ['#a8281d', '#2f6690', '#5d8a4e', '#c08a2d', '#6b4c8a', '#3b3b3b', '#c45f9a', '#2e8c8c', '#8a6d3b', '#707070'];
const W = 1000, H = 620, PAD = 40;

function svg(tagName, attrs = {}) {
  const e = document.createElementNS(NS, tagName);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function labelOf(by, key) {
  if (!key) return L('unknown');
  return by === 'dynasty' ? vocabLabel('dynasties', key) : key;
}

export async function render(ctx) {
  const by = ctx.query.get('by') === 'dynasty' ? 'dynasty' : 'school';
  const view = ctx.query.get('view') === 'timeline' ? 'timeline' : 'scatter';
  const data = await getJSON('/api/style/map');
  const pts = (data.points || []).filter((p) => view === 'scatter' || p.year);
  const go = (next) => ctx.navigate(`/style-map?by=${next.by}&view=${next.view}`, { keepScroll: true });
  const keys = [...new Set(pts.map((p) => p[by] || ''))].sort();
  const colour = (k) => PALETTE[keys.indexOf(k) % PALETTE.length];
  const X = (p) => (view === 'timeline' ? p.year : p.x), Y = (p) => (view === 'timeline' ? p.x : p.y);
  const xs = pts.map(X), ys = pts.map(Y);
  const x0 = Math.min(...xs), x1 = Math.max(...xs), y0 = Math.min(...ys), y1 = Math.max(...ys);
  const sx = (v) => PAD + ((v - x0) / ((x1 - x0) || 1)) * (W - 2 * PAD);
  const sy = (v) => H - PAD - ((v - y0) / ((y1 - y0) || 1)) * (H - 2 * PAD);

  const plot = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'map-svg', role: 'img', 'aria-label': L('map') });
  const layer = svg('g');
  plot.append(layer);
  if (view === 'timeline') { // century ticks along the bottom
    for (let c = Math.ceil(x0 / 100) * 100; c <= x1; c += 100) {
      const x = sx(c);
      layer.append(svg('line', { x1: x, x2: x, y1: PAD / 2, y2: H - PAD, class: 'map-grid' }));
      const tx = svg('text', { x, y: H - PAD / 3, class: 'map-tick', 'text-anchor': 'middle' });
      tx.textContent = yearText(c);
      layer.append(tx);
    }
  }
  const tip = h('div.map-tip', { hidden: true, role: 'tooltip' });
  const show = (p, cx, cy) => {
    const t = pick(p.title || {});
    clear(tip).append(h('img', { src: imageUrl(p.image_id, '!160,160'), alt: '' }),
      h('span.map-tip-title', { lang: tag(t.lang) }, t.text || p.image_id),
      h('span.map-tip-facts', [p.school, p.dynasty ? vocabLabel('dynasties', p.dynasty) : null, p.year ? yearText(p.year) : null].filter(Boolean).join(' · ')));
    tip.hidden = false;
    tip.style.left = `${cx + 14}px`;
    tip.style.top = `${cy + 14}px`;
  };
  const wrap = h('div.map-wrap', plot, tip);
  for (const p of pts) {
    const c = svg('circle', { cx: sx(X(p)), cy: sy(Y(p)), r: 5.5, fill: colour(p[by] || ''), class: 'map-pt', tabindex: '0', 'data-relic': p.relic_id, 'data-key': p[by] || '' });
    const t = svg('title');
    t.textContent = pick(p.title || {}).text || p.image_id;
    c.append(t);
    const at = (e) => { const b = wrap.getBoundingClientRect(); show(p, (e.clientX ?? b.left + 20) - b.left, (e.clientY ?? b.top + 20) - b.top); };
    c.addEventListener('mouseenter', at);
    c.addEventListener('mousemove', at);
    c.addEventListener('mouseleave', () => { tip.hidden = true; });
    c.addEventListener('focus', () => { const r = c.getBoundingClientRect(), b = wrap.getBoundingClientRect(); show(p, r.left - b.left, r.top - b.top); });
    c.addEventListener('blur', () => { tip.hidden = true; });
    const open = () => ctx.navigate(`/relic/${encodeURIComponent(p.relic_id)}`);
    c.addEventListener('click', open);
    c.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
    layer.append(c);
  }
  // Zoom about the cursor with the wheel, pan by dragging: the viewBox moves, points keep
  // their size in screen pixels only approximately (they scale with the zoom, as a map does).
  let vb = { x: 0, y: 0, w: W, h: H };
  const apply = () => plot.setAttribute('viewBox', `${vb.x} ${vb.y} ${vb.w} ${vb.h}`);
  plot.addEventListener('wheel', (e) => {
    e.preventDefault();
    const b = plot.getBoundingClientRect();
    const mx = vb.x + ((e.clientX - b.left) / b.width) * vb.w, my = vb.y + ((e.clientY - b.top) / b.height) * vb.h;
    const f = e.deltaY > 0 ? 1.2 : 1 / 1.2;
    const nw = Math.min(W * 2, Math.max(W / 40, vb.w * f)), nh = (nw / vb.w) * vb.h;
    vb = { x: mx - ((mx - vb.x) * nw) / vb.w, y: my - ((my - vb.y) * nh) / vb.h, w: nw, h: nh };
    apply();
  }, { passive: false });
  let drag = null;
  plot.addEventListener('pointerdown', (e) => { if (e.target === plot || e.target.tagName === 'line') { drag = { x: e.clientX, y: e.clientY, vb: { ...vb } }; plot.setPointerCapture(e.pointerId); } });
  plot.addEventListener('pointermove', (e) => {
    if (!drag) return;
    const b = plot.getBoundingClientRect();
    vb = { ...drag.vb, x: drag.vb.x - ((e.clientX - drag.x) / b.width) * drag.vb.w, y: drag.vb.y - ((e.clientY - drag.y) / b.height) * drag.vb.h };
    apply();
  });
  plot.addEventListener('pointerup', () => { drag = null; });

  const toggle = (label, on, fn) => h('button.facet-btn', { type: 'button', 'aria-pressed': on ? 'true' : 'false', onclick: fn }, label);
  const legend = h('ul.map-legend', keys.map((k) => h('li', h('span.dot', { style: `background:${colour(k)}` }), ' ', labelOf(by, k),
    h('span.facet-count', ` ${pts.filter((p) => (p[by] || '') === k).length}`))));
  const el = h('div.page.stylemap',
    h('h1.page-title', h('span', { lang: tag() }, L('map'))),
    h('p.intro', L('map_intro')),
    h('div.map-controls',
      h('span.map-ctl', `${L('map_colour_by')}: `, toggle(L('school'), by === 'school', () => go({ by: 'school', view })), toggle(L('dynasty'), by === 'dynasty', () => go({ by: 'dynasty', view }))),
      h('span.map-ctl', `${L('map_view')}: `, toggle(L('map_scatter'), view === 'scatter', () => go({ by, view: 'scatter' })), toggle(L('map_timeline'), view === 'timeline', () => go({ by, view: 'timeline' }))),
      h('button.btn-line', { type: 'button', onclick: () => { vb = { x: 0, y: 0, w: W, h: H }; apply(); } }, L('reset')),
      h('span.hint', L('map_zoom'))),
    view === 'timeline' ? h('p.hint', L('map_timeline_hint')) : null,
    pts.length ? wrap : h('p.empty', L('map_empty')),
    legend);
  void lang;
  return { el, title: L('map') };
}
