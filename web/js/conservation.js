// conservation.js: the relic page's conservation panel (issue 12; docs/conservation.md).
// - the virtual restoration, when the manifest offers one (a Choice on the canvas): original
//   and restoration stacked, a slider between them, and a label that stays on screen: it is a
//   proposal, not the object's state;
// - the condition records (GET /api/relics/{id}/condition) as a timeline in date order;
// - two dates compared side by side, swiped or overlaid (onion skin); the later capture is
//   drawn in the earlier one's frame through the registration the record carries
//   (changes.registration.matrix, REF -> MOVING pixels, as `danqing condition changes` writes);
// - the change map (changes.map_image, a colour-coded image) as an overlay with its legend, and
//   the areas per class in px and cm² (from the record's dimensions_cm);
// - a printable condition report (print stylesheet in conservation.css).
import { lang } from './i18n.js';
import { getJSONMaybe, imageUrl } from './api.js';
import { h } from './dom.js';

const S = {
  title: { zh: '保存状况与修复', en: 'Condition and conservation' },
  restoration: { zh: '虚拟修复', en: 'Virtual restoration' },
  proposal: { zh: '虚拟修复建议，非文物现状', en: 'Virtual restoration: a proposal, not the object’s state' },
  slider: { zh: '原件与虚拟修复之间', en: 'Between the original and the virtual restoration' },
  original: { zh: '原件', en: 'Original' },
  timeline: { zh: '保存状况记录', en: 'Condition records' },
  none: { zh: '尚无公开的保存状况记录。', en: 'No published condition records yet.' },
  examiner: { zh: '检查人', en: 'Examiner' },
  overall: { zh: '总体状况', en: 'Overall' },
  observations: { zh: '观察', en: 'Observations' },
  environment: { zh: '环境', en: 'Environment' },
  treatments: { zh: '处理', en: 'Treatments' },
  compare: { zh: '比较两次记录', en: 'Compare two records' },
  pick: { zh: '选两条有图像的记录进行比较。', en: 'Pick two records with captures to compare.' },
  side: { zh: '并排', en: 'Side by side' },
  swipe: { zh: '滑动', en: 'Swipe' },
  onion: { zh: '叠加', en: 'Onion skin' },
  mix: { zh: '叠加比例', en: 'Blend' },
  changes: { zh: '变化图', en: 'Change map' },
  show_changes: { zh: '显示变化图', en: 'Show the change map' },
  area: { zh: '面积', en: 'Area' },
  print: { zh: '打印保存状况报告', en: 'Print condition report' },
  signature: { zh: '签名', en: 'Signature' },
  date: { zh: '日期', en: 'Date' },
  registered: { zh: '已配准', en: 'registered' },
  loss: { zh: '缺失', en: 'Loss' },
  flaking: { zh: '颜料剥落', en: 'Flaking' },
  fading: { zh: '褪色', en: 'Fading' },
  excellent: { zh: '极好', en: 'excellent' }, good: { zh: '良好', en: 'good' }, fair: { zh: '一般', en: 'fair' },
  poor: { zh: '差', en: 'poor' }, critical: { zh: '危急', en: 'critical' },
  proposed: { zh: '建议', en: 'proposed' }, done: { zh: '已完成', en: 'done' },
};
const s = (k) => (S[k] ? S[k][lang()] || S[k].en : k);
// The change classes and their overlay colours (the same as `danqing condition changes`'s
// changes.png: loss red, flaking yellow, fading blue).
const CLASSES = [['loss', '#e0312b'], ['flaking', '#f2c200'], ['fading', '#2f7de1']];

let cssLoaded = false;
function loadCss() {
  if (cssLoaded || document.querySelector('link[data-conservation]')) return;
  cssLoaded = true;
  document.head.append(h('link', { rel: 'stylesheet', href: '/static/css/conservation.css', 'data-conservation': '' }));
}

// ---------------------------------------------------------------- restoration slider

function restorationView(canvas) {
  const size = '!1400,1400';
  const top = h('img.cons-restored', { src: imageUrl(canvas.restorationId, size), alt: s('restoration') });
  const wrap = h('div.cons-stack', { 'data-testid': 'restoration' },
    h('img.cons-base', { src: imageUrl(canvas.imageId, size), alt: s('original') }), top,
    h('p.cons-proposal', { role: 'note' }, s('proposal')));
  const range = h('input.cons-range', {
    type: 'range', min: '0', max: '100', value: '50', 'aria-label': s('slider'),
    oninput: () => { top.style.clipPath = `inset(0 0 0 ${range.value}%)`; },
  });
  top.style.clipPath = 'inset(0 0 0 50%)';
  return h('figure.cons-restoration', wrap,
    h('figcaption', h('span', s('original')), range, h('span', s('restoration'))));
}

// ---------------------------------------------------------------- areas

// Areas per class in px and cm² (the record's dimensions over the capture's pixel size).
function areasTable(rec, imgW, imgH) {
  const cl = rec.changes && (rec.changes.classes || rec.changes);
  if (!cl) return null;
  const dims = rec.dimensions_cm;
  const w = (rec.changes && rec.changes.width) || imgW, hh = (rec.changes && rec.changes.height) || imgH;
  const cm2 = dims && w && hh ? (dims.width / w) * (dims.height / hh) : null;
  const rows = CLASSES.filter(([k]) => cl[k] && cl[k].area_px != null).map(([k, col]) => h('tr',
    h('th', { scope: 'row' }, h('span.cons-swatch', { style: { background: col }, 'aria-hidden': 'true' }), s(k)),
    h('td', `${Number(cl[k].area_px).toLocaleString()} px`),
    h('td', cm2 ? `${(cl[k].area_px * cm2).toFixed(2)} cm²` : '—')));
  if (!rows.length) return null;
  return h('table.cons-areas', h('caption', s('area')), h('tbody', rows));
}

function legend() {
  return h('ul.cons-legend', { 'aria-label': s('changes') }, CLASSES.map(([k, col]) =>
    h('li', h('span.cons-swatch', { style: { background: col }, 'aria-hidden': 'true' }), s(k))));
}

// ---------------------------------------------------------------- comparison

// CSS transform drawing MOVING pixels in REF's frame at display scale k: the inverse of the full
// registration REF -> MOVING (a homography's projective row included), conjugated by the
// display scale, as a matrix3d acting on (x, y, 0, 1). Exported for the browser test.
export function inverseCss(m, k = 1) {
  const g = m.length > 2 ? m : [m[0], m[1], [0, 0, 1]];
  const [[a, b, c], [d, e, f], [p, q, r]] = g;
  // adjugate / determinant: the inverse 3x3
  const A = e * r - f * q, B = c * q - b * r, C = b * f - c * e;
  const D = f * p - d * r, E = a * r - c * p, F = c * d - a * f;
  const G = d * q - e * p, H = b * p - a * q, I = a * e - b * d;
  const det = a * A + b * D + c * G;
  if (!det || !Number.isFinite(det)) return null;
  // S_k * inv * S_(1/k): rows 0-1 keep their scale, translation scales by k, projective row by 1/k
  const n = [[A / det, B / det, C / det * k], [D / det, E / det, F / det * k], [G / det / k, H / det / k, I / det]];
  // matrix3d is column-major 4x4: the homography sits in rows/columns 0, 1 and 3
  return `matrix3d(${n[0][0]},${n[1][0]},0,${n[2][0]},${n[0][1]},${n[1][1]},0,${n[2][1]},0,0,1,0,${n[0][2]},${n[1][2]},0,${n[2][2]})`;
}

function compareView(r1, r2) {
  const refId = r1.images[0], movId = r2.images[0];
  const reg = r2.changes && r2.changes.registration && r2.changes.registration.matrix;
  const refW = (r2.changes && r2.changes.width) || null;
  const box = h('div.cons-compare', { 'data-mode': 'side', 'data-testid': 'compare' });
  const size = '!1200,1200';
  const refImg = h('img.cons-ref', { src: imageUrl(refId, size), alt: r1.date });
  const movImg = h('img.cons-mov', { src: imageUrl(movId, size), alt: r2.date });
  const movWrap = h('div.cons-movwrap', movImg);
  const mapImg = r2.changes && r2.changes.map_image
    ? h('img.cons-map', { src: imageUrl(r2.changes.map_image, size), alt: s('changes'), hidden: true }) : null;
  const pane = h('div.cons-pane', refImg, movWrap, mapImg);
  const place = () => {
    const wrFull = refW || refImg.naturalWidth;
    const k = refImg.naturalWidth ? refImg.clientWidth / wrFull : 1;
    const inv = reg ? inverseCss(reg, k) : null;
    if (!inv || box.dataset.mode === 'side' || !refImg.naturalWidth || !movImg.naturalWidth) {
      movImg.style.transform = '';
      movImg.style.width = '';
      return;
    }
    // Display scale k: REF's displayed width over its full pixel width; MOVING is shown at the
    // same scale, then mapped by the inverse registration conjugated by k.
    const wmFull = wrFull * movImg.naturalWidth / refImg.naturalWidth;
    movImg.style.width = `${wmFull * k}px`;
    movImg.style.transformOrigin = '0 0';
    movImg.style.transform = inv;
  };
  refImg.addEventListener('load', place);
  movImg.addEventListener('load', place);
  const blend = h('input.cons-range', { type: 'range', min: '0', max: '100', value: '50', 'aria-label': s('mix'),
    oninput: () => apply() });
  const apply = () => {
    const v = Number(blend.value);
    if (box.dataset.mode === 'swipe') { movWrap.style.clipPath = `inset(0 0 0 ${v}%)`; movWrap.style.opacity = ''; }
    else if (box.dataset.mode === 'onion') { movWrap.style.clipPath = ''; movWrap.style.opacity = String(v / 100); }
    else { movWrap.style.clipPath = ''; movWrap.style.opacity = ''; }
    place();
  };
  const modes = h('div.cons-modes', { role: 'radiogroup', 'aria-label': s('compare') }, ['side', 'swipe', 'onion'].map((m) =>
    h('label', h('input', { type: 'radio', name: 'cons-mode', value: m, checked: m === 'side',
      onchange: () => { box.dataset.mode = m; apply(); } }), s(m))));
  const mapToggle = mapImg ? h('label.cons-maptoggle', h('input', { type: 'checkbox',
    onchange: (e) => { mapImg.hidden = !e.target.checked; } }), s('show_changes')) : null;
  box.append(h('div.cons-controls', modes, blend, mapToggle),
    h('p.cons-dates', `${r1.date} → ${r2.date}${reg ? ` (${s('registered')})` : ''}`), pane,
    mapImg ? legend() : null, areasTable(r2, refW, null));
  apply();
  return box;
}

// ---------------------------------------------------------------- the timeline

function recordItem(rec, onPick) {
  const obs = (rec.observations || []).map((o) => h('li', `${o.type} · ${o.severity}${o.note ? ` — ${o.note}` : ''}`));
  const env = rec.environment ? [
    rec.environment.rh_percent != null ? `RH ${rec.environment.rh_percent}%` : null,
    rec.environment.temperature_c != null ? `${rec.environment.temperature_c} °C` : null,
    rec.environment.lux != null ? `${rec.environment.lux} lx` : null].filter(Boolean).join(' · ') : '';
  const tr = (rec.treatments || []).map((t) => h('li', `${s(t.status)}: ${t.description}${t.date ? ` (${t.date})` : ''}`));
  const canCompare = rec.images && rec.images.length;
  return h('li.cons-record', { 'data-record': rec.id },
    h('div.cons-when', h('time', { dateTime: rec.date }, rec.date),
      h('span.cons-overall', { 'data-overall': rec.overall }, s(rec.overall))),
    h('dl.cons-facts',
      h('dt', s('examiner')), h('dd', rec.examiner),
      obs.length ? [h('dt', s('observations')), h('dd', h('ul', obs))] : null,
      env ? [h('dt', s('environment')), h('dd', env)] : null,
      tr.length ? [h('dt', s('treatments')), h('dd', h('ul', tr))] : null),
    areasTable(rec, null, null),
    canCompare ? h('label.cons-pick', h('input', { type: 'checkbox', onchange: (e) => onPick(rec, e.target.checked) }), s('compare')) : null,
    h('div.cons-sign', h('span', `${s('signature')}: ____________`), h('span', `${s('date')}: ________`)));
}

// The panel; it fills itself once the records arrive. Returns {el, destroy}.
export function conservationPanel({ relic, canvases }) {
  loadCss();
  const canvas = (canvases || []).find((c) => c.restorationId);
  const list = h('ol.cons-timeline', { 'aria-label': s('timeline') });
  const cmp = h('div.cons-cmp');
  const el = h('section.band.conservation#conservation', { 'aria-labelledby': 'h-cons' },
    h('h2#h-cons.section-title', s('title')),
    canvas ? restorationView(canvas) : null,
    h('h3.cons-sub', s('timeline')), list, cmp,
    h('button.btn-line.cons-print', { type: 'button', onclick: () => {
      document.body.classList.add('print-conservation');
      const done = () => { document.body.classList.remove('print-conservation'); window.removeEventListener('afterprint', done); };
      window.addEventListener('afterprint', done);
      window.print();
    } }, s('print')));
  let alive = true;
  const picked = [];
  const onPick = (rec, on) => {
    const i = picked.findIndex((r) => r.id === rec.id);
    if (on && i < 0) picked.push(rec);
    if (!on && i >= 0) picked.splice(i, 1);
    while (picked.length > 2) {
      const old = picked.shift();
      const box = list.querySelector(`[data-record="${old.id}"] input[type=checkbox]`);
      if (box) box.checked = false;
    }
    cmp.replaceChildren();
    if (picked.length === 2) {
      const [a, b] = [...picked].sort((x, y) => x.date.localeCompare(y.date));
      cmp.append(compareView(a, b));
    } else {
      cmp.append(h('p.hint', s('pick')));
    }
  };
  getJSONMaybe(`/api/relics/${encodeURIComponent(relic.id)}/condition`).then((j) => {
    if (!alive) return;
    const items = (j && j.items) || [];
    if (!items.length) list.replaceWith(h('p.hint.cons-empty', s('none')));
    else list.append(...items.map((r) => recordItem(r, onPick)));
    el.dataset.records = String(items.length);
  });
  return { el, destroy() { alive = false; } };
}
