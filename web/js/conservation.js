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
// - a printable condition report (print stylesheet in conservation.css): each record with its
//   capture and change map, observations, areas and signature lines;
// - for conservators: a new record from a photograph in one step (POST .../condition/jobs,
//   polled: the capture is registered against the earlier record's, the change maps and draft
//   observations come back in a draft record), then review (remove a drafted observation) and
//   publish;
// - the restoration's mask outline on demand (GET /api/images/{id}/outline, SVG), over the
//   slider, with the "virtual proposal" label kept.
import { lang } from './i18n.js';
import { getJSONMaybe, getWithETag, getInfo, imageUrl, send, ApiError } from './api.js';
import { h } from './dom.js';
import { hasRole, currentUser, onSessionChange } from './session.js';

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
  outline: { zh: '显示修复范围轮廓', en: 'Show the mask outline' },
  capture: { zh: '保存状况影像', en: 'Capture' },
  change_map: { zh: '变化图', en: 'Change map' },
  draft: { zh: '草稿（未发布）', en: 'Draft (unpublished)' },
  publish: { zh: '审核并发布', en: 'Reviewed: publish' },
  remove: { zh: '删除此项', en: 'Remove' },
  delete_draft: { zh: '删除草稿', en: 'Delete draft' },
  new_record: { zh: '由新照片生成保存状况记录', en: 'New record from a photograph' },
  photo: { zh: '新照片', en: 'New photograph' },
  against: { zh: '与之比较', en: 'Compare with' },
  baseline: { zh: '（首次记录，不比较）', en: '(baseline: no comparison)' },
  make: { zh: '生成记录', en: 'Make the record' },
  working: { zh: '处理中', en: 'Working' },
  failed: { zh: '未能生成记录', en: 'No record was made' },
  made: { zh: '已生成草稿记录', en: 'Draft record made' },
  auto: { zh: '自动', en: 'drafted' },
  edit: { zh: '编辑', en: 'Edit' },
  save: { zh: '保存', en: 'Save' },
  severity: { zh: '程度', en: 'Severity' },
  note: { zh: '备注', en: 'Note' },
  add_treatment: { zh: '新增处理', en: 'Add a treatment' },
  minor: { zh: '轻微', en: 'minor' }, moderate: { zh: '中等', en: 'moderate' }, severe: { zh: '严重', en: 'severe' },
  against_other: { zh: '变化图基于另一次影像计算，未配准显示。', en: 'This change map was computed against another capture: shown unregistered.' },
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
  // IIIF Image 3.0 §4.2: "!w,h" may not upscale, so a small image is asked for whole.
  const size = canvas.width > 1400 || canvas.height > 1400 ? '!1400,1400' : 'max';
  const top = h('img.cons-restored', { src: imageUrl(canvas.restorationId, size), alt: s('restoration') });
  const wrap = h('div.cons-stack', { 'data-testid': 'restoration' },
    h('img.cons-base', { src: imageUrl(canvas.imageId, size), alt: s('original') }), top,
    h('p.cons-proposal', { role: 'note' }, s('proposal')));
  // The mask outline, fetched on demand: an SVG in the image's pixel frame (viewBox), so it
  // lies exactly over the stack whatever its displayed size. It is drawn under the label.
  let outline = null;
  const outlineToggle = h('label.cons-outline-toggle', h('input', { type: 'checkbox', onchange: (e) => {
    if (e.target.checked && !outline) {
      outline = h('img.cons-outline', { src: `/api/images/${encodeURIComponent(canvas.restorationId)}/outline`, alt: '' });
      wrap.insertBefore(outline, wrap.querySelector('.cons-proposal'));
    }
    if (outline) outline.hidden = !e.target.checked;
    wrap.dataset.outline = e.target.checked ? 'on' : 'off';
  } }), s('outline'));
  const range = h('input.cons-range', {
    type: 'range', min: '0', max: '100', value: '50', 'aria-label': s('slider'),
    oninput: () => { top.style.clipPath = `inset(0 0 0 ${range.value}%)`; },
  });
  top.style.clipPath = 'inset(0 0 0 50%)';
  return h('figure.cons-restoration', wrap,
    h('figcaption', h('span', s('original')), range, h('span', s('restoration')), outlineToggle));
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
  // The registration and the change map are in the frame of the capture they were computed
  // against (changes.ref_image); over another record's capture they would mislead.
  const sameRef = !(r2.changes && r2.changes.ref_image) || r2.changes.ref_image === refId;
  const reg = sameRef && r2.changes && r2.changes.registration && r2.changes.registration.matrix;
  const refW = (r2.changes && r2.changes.width) || null;
  const box = h('div.cons-compare', { 'data-mode': 'side', 'data-testid': 'compare' });
  // '^': a capture smaller than the box is scaled up (IIIF 3.0 §4.2; plain "!w,h" is a 400
  // there), so that all three images keep the same fit whatever their size.
  const size = '^!1200,1200';
  const refImg = h('img.cons-ref', { src: imageUrl(refId, size), alt: r1.date });
  const movImg = h('img.cons-mov', { src: imageUrl(movId, size), alt: r2.date });
  const movWrap = h('div.cons-movwrap', movImg);
  const mapImg = sameRef && r2.changes && r2.changes.map_image
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
    h('p.cons-dates', `${r1.date} → ${r2.date}${reg ? ` (${s('registered')})` : ''}`),
    sameRef ? null : h('p.hint', s('against_other')), pane,
    mapImg ? legend() : null, areasTable(r2, refW, null));
  apply();
  return box;
}

// ---------------------------------------------------------------- the timeline

const recUrl = (relic, id) => `/api/relics/${encodeURIComponent(relic.id)}/condition${id ? `/${encodeURIComponent(id)}` : ''}`;

function obsText(o) {
  const area = o.area_px != null ? ` · ${Number(o.area_px).toLocaleString()} px${o.area_cm2 != null ? ` · ${Number(o.area_cm2).toFixed(2)} cm²` : ''}` : '';
  const box = o.region && o.region.xywh ? ` · [${o.region.xywh.map((v) => Math.round(v)).join(', ')}]` : '';
  return `${s(o.type)} · ${o.severity}${area}${box}${o.note ? ` — ${o.note}` : ''}`;
}

// The observations' regions on the capture, numbered as in the list: an SVG in the capture's
// pixel frame (its size from info.json), laid over the thumbnail (and printed with it).
const SVG = 'http://www.w3.org/2000/svg';
function obsBoxes(rec) {
  const cap = rec.images[0];
  const list = (rec.observations || []).map((o, i) => [o, i + 1]).filter(([o]) => o.region && o.region.xywh && o.region.image_id === cap);
  if (!list.length) return null;
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'cons-boxes');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  getInfo(cap).then((info) => {
    svg.setAttribute('viewBox', `0 0 ${info.width} ${info.height}`);
    for (const [o, n] of list) {
      const [x, y, w, hh] = o.region.xywh;
      const r = document.createElementNS(SVG, 'rect');
      for (const [k, v] of Object.entries({ x, y, width: w, height: hh, 'data-n': n, 'data-type': o.type })) r.setAttribute(k, String(v));
      const t = document.createElementNS(SVG, 'text');
      t.setAttribute('x', String(x));
      t.setAttribute('y', String(Math.max(0, y - 4)));
      t.setAttribute('font-size', String(Math.max(info.width, info.height) / 40));
      t.textContent = String(n);
      svg.append(r, t);
    }
    svg.dataset.boxes = String(list.length);
  }).catch(() => svg.remove());
  return svg;
}

// Review of a record (conservators): overall, environment, note, each observation's severity,
// a treatment to add. save(change) PUTs the edited record.
function editForm(rec, save) {
  const sel = (name, opts, v) => h('select', { name }, opts.map((o) => h('option', { value: o, selected: o === v }, s(o))));
  const num = (name, v) => h('input', { type: 'number', step: 'any', name, value: v != null ? String(v) : '' });
  const env = rec.environment || {};
  const overall = sel('overall', ['excellent', 'good', 'fair', 'poor', 'critical'], rec.overall);
  const rh = num('rh_percent', env.rh_percent), tc = num('temperature_c', env.temperature_c), lx = num('lux', env.lux);
  const note = h('textarea', { name: 'note', rows: '2' }, rec.note || '');
  const sev = (rec.observations || []).map((o) => sel('severity', ['minor', 'moderate', 'severe'], o.severity));
  const tStatus = sel('t_status', ['proposed', 'done'], 'proposed');
  const tDesc = h('input', { type: 'text', name: 't_description' });
  const msg = h('span.cons-edit-msg', { role: 'status' });
  const form = h('form.cons-edit', { onsubmit: async (e) => {
    e.preventDefault();
    const environment = {};
    for (const [k, el] of [['rh_percent', rh], ['temperature_c', tc], ['lux', lx]]) if (el.value !== '') environment[k] = Number(el.value);
    try {
      await save((b) => {
        const out = { ...b, overall: overall.value, note: note.value || undefined };
        if (Object.keys(environment).length) out.environment = environment; else delete out.environment;
        out.observations = (b.observations || []).map((o, i) => (sev[i] ? { ...o, severity: sev[i].value } : o));
        if (tDesc.value.trim()) out.treatments = [...(b.treatments || []), { status: tStatus.value, description: tDesc.value.trim() }];
        if (!out.note) delete out.note;
        return out;
      });
    } catch (err) { msg.textContent = err.message; }
  } },
  h('label', s('overall'), overall), h('label', 'RH %', rh), h('label', '°C', tc), h('label', 'lux', lx),
  sev.length ? h('fieldset', h('legend', `${s('observations')}: ${s('severity')}`), sev.map((x, i) => h('label', `${i + 1}. ${s(rec.observations[i].type)}`, x))) : null,
  h('label.cons-wide', s('note'), note),
  h('fieldset', h('legend', s('add_treatment')), tStatus, tDesc),
  h('button.btn', { type: 'submit' }, s('save')), msg);
  return h('details.cons-editbox', h('summary', s('edit')), form);
}

// A record of the timeline. ctl (conservators only): {publish(rec), removeObs(rec, i), del(rec)}.
function recordItem(rec, onPick, ctl) {
  const draft = rec.draft && !rec.published;
  const obs = (rec.observations || []).map((o, i) => h('li', { 'data-auto': o.auto ? 'true' : null, value: String(i + 1) },
    obsText(o), o.auto ? h('span.cons-auto', ` (${s('auto')})`) : null,
    ctl && draft ? h('button.btn-line.cons-rm', { type: 'button', 'aria-label': `${s('remove')}: ${s(o.type)}`, onclick: () => ctl.removeObs(rec, i) }, '×') : null));
  const env = rec.environment ? [
    rec.environment.rh_percent != null ? `RH ${rec.environment.rh_percent}%` : null,
    rec.environment.temperature_c != null ? `${rec.environment.temperature_c} °C` : null,
    rec.environment.lux != null ? `${rec.environment.lux} lx` : null].filter(Boolean).join(' · ') : '';
  const tr = (rec.treatments || []).map((t) => h('li', `${s(t.status)}: ${t.description}${t.date ? ` (${t.date})` : ''}`));
  const canCompare = rec.images && rec.images.length;
  // Images of the record, for the screen and the printed report: the capture and, when the
  // record was compared with an earlier one, its change map (in that capture's frame).
  const thumbs = canCompare ? h('div.cons-thumbs',
    h('figure', h('div.cons-boxwrap', h('img', { src: imageUrl(rec.images[0], '^!360,360'), alt: `${s('capture')} ${rec.date}` }), obsBoxes(rec)),
      h('figcaption', s('capture'))),
    rec.changes && rec.changes.map_image ? h('figure', h('img.cons-thumb-map', { src: imageUrl(rec.changes.map_image, '^!360,360'), alt: `${s('change_map')} ${rec.date}` }),
      h('figcaption', `${s('change_map')}${rec.changes.ref_image ? ` (${rec.changes.against || rec.changes.ref_image})` : ''}`)) : null) : null;
  return h('li.cons-record', { 'data-record': rec.id, 'data-draft': draft ? 'true' : null },
    h('div.cons-when', h('time', { dateTime: rec.date }, rec.date),
      h('span.cons-overall', { 'data-overall': rec.overall }, s(rec.overall)),
      draft ? h('span.cons-draft', s('draft')) : null),
    h('dl.cons-facts',
      h('dt', s('examiner')), h('dd', rec.examiner),
      obs.length ? [h('dt', s('observations')), h('dd', h('ol.cons-obs', obs))] : null,
      env ? [h('dt', s('environment')), h('dd', env)] : null,
      tr.length ? [h('dt', s('treatments')), h('dd', h('ul', tr))] : null),
    thumbs,
    areasTable(rec, null, null),
    rec.changes && rec.changes.map_image ? legend() : null,
    ctl ? editForm(rec, (change) => ctl.edit(rec, change)) : null,
    ctl && draft ? h('div.cons-review',
      h('button.btn.cons-publish', { type: 'button', onclick: () => ctl.publish(rec) }, s('publish')),
      h('button.btn-line.cons-del', { type: 'button', onclick: () => ctl.del(rec) }, s('delete_draft'))) : null,
    canCompare ? h('label.cons-pick', h('input', { type: 'checkbox', onchange: (e) => onPick(rec, e.target.checked) }), s('compare')) : null,
    h('div.cons-sign', h('span', `${s('signature')}: ____________`), h('span', `${s('date')}: ________`)));
}

// ---------------------------------------------------------------- a record in one step

// The form: a photograph, its date and examiner, what to compare with; the job is polled until
// the draft record exists (onDone(recordId)) or the server says why it could not be made.
function newRecordForm(relic, records, onDone) {
  const today = new Date().toISOString().slice(0, 10);
  const file = h('input', { type: 'file', accept: 'image/jpeg,image/png,image/tiff,image/webp', required: true, name: 'capture' });
  const date = h('input', { type: 'date', value: today, required: true, name: 'date' });
  const examiner = h('input', { type: 'text', value: (currentUser() && currentUser().user) || '', required: true, name: 'examiner' });
  const against = h('select', { name: 'against' });
  // The records to compare with change as records are made: refresh(records) rebuilds them,
  // the latest with a capture first chosen.
  const refresh = (recs) => {
    const caps = recs.filter((r) => r.images && r.images.length);
    against.replaceChildren(h('option', { value: '', selected: !caps.length }, s('baseline')),
      ...caps.map((r, i) => h('option', { value: r.id, selected: i === caps.length - 1 }, `${r.date} (${r.id})`)));
  };
  refresh(records);
  const bar = h('progress', { max: '100', value: '0', hidden: true });
  const status = h('p.cons-job', { role: 'status', 'aria-live': 'polite' });
  const button = h('button.btn', { type: 'submit' }, s('make'));
  const form = h('form.cons-new', { 'data-testid': 'new-record', onsubmit: async (e) => {
    e.preventDefault();
    const f = file.files && file.files[0];
    if (!f) return;
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.textContent = s('working');
    delete form.dataset.state;
    const q = new URLSearchParams({ date: date.value, examiner: examiner.value, filename: f.name });
    if (against.value) q.set('against', against.value);
    try {
      const r = await fetch(`/api/relics/${encodeURIComponent(relic.id)}/condition/jobs?${q}`, {
        method: 'POST', credentials: 'same-origin', body: f,
        headers: { 'Content-Type': f.type || 'image/jpeg', 'X-Requested-With': 'danqing', Accept: 'application/json' } });
      let job = await r.json().catch(() => null);
      if (!r.ok) throw new ApiError(r.status, (job && job.error && job.error.message) || `${r.status}`);
      // Bounded polling: a record of a whole handscroll takes about a minute.
      for (let i = 0; i < 1200 && job.state !== 'done' && job.state !== 'failed'; i++) {
        await new Promise((res) => setTimeout(res, 500));
        const g = await fetch(job.href, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
        if (g.ok) job = await g.json();
        bar.value = job.percent || 0;
        status.textContent = `${s('working')}: ${job.stage || job.state} (${job.percent || 0}%)`;
      }
      if (job.state !== 'done') throw new ApiError(job.error ? job.error.status : 500, job.error ? job.error.message : job.state);
      form.dataset.state = 'done';
      status.textContent = `${s('made')}: ${job.record}`;
      bar.hidden = true;
      file.value = '';
      onDone(job.record);
    } catch (err) {
      form.dataset.state = 'failed';
      bar.hidden = true;
      status.textContent = `${s('failed')}: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  } },
  h('fieldset', h('legend', s('new_record')),
    h('label', s('photo'), file), h('label', s('date'), date), h('label', s('examiner'), examiner),
    h('label', s('against'), against), button, bar, status));
  form.refresh = refresh;
  return form;
}

// The panel; it fills itself once the records arrive. Returns {el, destroy}.
export function conservationPanel({ relic, canvases }) {
  loadCss();
  const canvas = (canvases || []).find((c) => c.restorationId);
  const list = h('ol.cons-timeline', { 'aria-label': s('timeline') });
  const empty = h('p.hint.cons-empty', { hidden: true }, s('none'));
  const cmp = h('div.cons-cmp');
  const formSlot = h('div.cons-form-slot');
  const el = h('section.band.conservation#conservation', { 'aria-labelledby': 'h-cons' },
    h('h2#h-cons.section-title', s('title')),
    canvas ? restorationView(canvas) : null,
    h('h3.cons-sub', s('timeline')), formSlot, list, empty, cmp,
    h('button.btn-line.cons-print', { type: 'button', onclick: () => {
      document.body.classList.add('print-conservation');
      const done = () => { document.body.classList.remove('print-conservation'); window.removeEventListener('afterprint', done); };
      window.addEventListener('afterprint', done);
      window.print();
    } }, s('print')));
  let alive = true;
  let records = [];
  let form = null;
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
  // Review of a draft: each change is a PUT of the whole record with its current ETag.
  const edit = async (rec, change) => {
    const { body, etag } = await getWithETag(recUrl(relic, rec.id));
    await send('PUT', recUrl(relic, rec.id), change(body), { etag });
    await load();
  };
  const ctl = {
    edit,
    publish: (rec) => edit(rec, (b) => ({ ...b, draft: false, published: true })),
    removeObs: (rec, i) => edit(rec, (b) => ({ ...b, observations: (b.observations || []).filter((_, k) => k !== i) })),
    del: async (rec) => {
      const { etag } = await getWithETag(recUrl(relic, rec.id));
      await send('DELETE', recUrl(relic, rec.id), undefined, { etag });
      await load();
    },
  };
  const canWrite = () => hasRole('conservator');
  const render = () => {
    picked.length = 0;
    cmp.replaceChildren();
    list.replaceChildren(...records.map((r) => recordItem(r, onPick, canWrite() ? ctl : null)));
    empty.hidden = records.length > 0;
    list.hidden = !records.length;
    // The form outlives re-renders (its status line says what the last job did).
    if (canWrite() && !form) form = newRecordForm(relic, records, () => load());
    if (!canWrite()) form = null;
    if (form) form.refresh(records);
    formSlot.replaceChildren(form || '');
    el.dataset.records = String(records.length);
  };
  async function load() {
    const j = await getJSONMaybe(recUrl(relic));
    if (!alive) return;
    records = (j && j.items) || [];
    render();
  }
  load();
  const off = onSessionChange(() => { if (alive) load(); });
  return { el, destroy() { alive = false; off(); } };
}
