// annotate.js: authoring annotations on the viewer (docs/api.md "Annotations").
// - a draw mode: drag a rectangle over the image with the mouse (or a finger); the wheel
//   still zooms. Regions are full-resolution canvas pixels.
// - the editor: text in Chinese and/or English, the motivation, the region as x, y, w, h
//   (prefilled from the current view: the keyboard way to place one), save with POST to
//   the relic's container, or PUT with If-Match when editing.
// - the card shown when an annotation is chosen: its text, who wrote it, and edit/delete
//   for those allowed (educators and conservators their own, curators and admins any).
import { t, tag, pick } from './i18n.js';
import { h, svgIcon } from './dom.js';
import { send, getWithETag, sameOrigin, ApiError } from './api.js';
import { currentUser, hasRole, sessionLost } from './session.js';
import { glossaryLinks } from './glossary-links.js'; // annotations that name a glossary entry link to it

export const MOTIVATIONS = ['commenting', 'describing', 'identifying', 'tagging'];

// ---------------------------------------------------------------- geometry
// The canvas <-> image scale of the viewer's first item.
function scaleOf(viewer, canvas) {
  const item = viewer.world.getItemAt(0);
  return item && canvas && canvas.width ? item.getContentSize().x / canvas.width : 1;
}

// Clamps a region to the canvas, in whole pixels (w, h >= 1): [x, y, w, h].
export function clampRegion(r, canvas) {
  const W = canvas.width, H = canvas.height;
  let x0 = Math.max(0, Math.min(W - 1, Math.round(r.x))), y0 = Math.max(0, Math.min(H - 1, Math.round(r.y)));
  let x1 = Math.max(x0 + 1, Math.min(W, Math.round(r.x + r.w))), y1 = Math.max(y0 + 1, Math.min(H, Math.round(r.y + r.h)));
  return [x0, y0, x1 - x0, y1 - y0];
}

// The visible part of the canvas, [x, y, w, h] in canvas pixels. Where the view reaches past
// an edge, the region shrinks evenly about the view's centre, so fitting it again gives the
// same centre and (on the axis that fits) the same zoom. inset 0.25 keeps the middle half.
export function viewRegion(viewer, canvas, inset = 0) {
  const item = viewer.world.getItemAt(0);
  const b = viewer.viewport.getBounds(true);
  const ir = item ? item.viewportToImageRectangle(b) : b;
  const k = scaleOf(viewer, canvas);
  const W = canvas.width, H = canvas.height;
  const cx = Math.max(0, Math.min(W, (ir.x + ir.width / 2) / k)), cy = Math.max(0, Math.min(H, (ir.y + ir.height / 2) / k));
  const hw = Math.min(ir.width / 2 / k, cx, W - cx) * (1 - 2 * inset), hh = Math.min(ir.height / 2 / k, cy, H - cy) * (1 - 2 * inset);
  return clampRegion({ x: cx - hw, y: cy - hh, w: 2 * hw, h: 2 * hh }, canvas);
}

// Canvas region -> viewport rectangle.
export function regionRect(viewer, canvas, [x, y, w, hh]) {
  const item = viewer.world.getItemAt(0), k = scaleOf(viewer, canvas);
  return item ? item.imageToViewportRectangle(x * k, y * k, w * k, hh * k) : new window.OpenSeadragon.Rect(x, y, w, hh);
}

// ---------------------------------------------------------------- draw mode
// createDrawer(viewerHandle, canvas, onDraw) -> {on(), off(), active, showDraft(xywh), clear(), destroy()}.
// viewerHandle is createViewer()'s result ({el, viewer}).
export function createDrawer({ el, viewer }, canvas, onDraw) {
  const OSD = window.OpenSeadragon;
  const surface = h('div.draw-surface', { 'aria-hidden': 'true', hidden: true });
  const band = h('div.draw-band', { hidden: true });
  surface.append(band);
  el.append(surface);
  const draft = h('div.draft-region', { 'aria-hidden': 'true' });
  let draftOn = false, start = null, active = false;
  const local = (e) => { const b = surface.getBoundingClientRect(); return { x: e.clientX - b.left, y: e.clientY - b.top }; };
  const toCanvas = (p) => {
    const item = viewer.world.getItemAt(0), k = scaleOf(viewer, canvas);
    const vp = viewer.viewport.viewerElementToViewportCoordinates(new OSD.Point(p.x, p.y));
    const ip = item ? item.viewportToImageCoordinates(vp) : vp;
    return { x: ip.x / k, y: ip.y / k };
  };
  surface.addEventListener('pointerdown', (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    surface.setPointerCapture(e.pointerId);
    start = local(e);
    Object.assign(band.style, { left: `${start.x}px`, top: `${start.y}px`, width: '0px', height: '0px' });
    band.hidden = false;
  });
  surface.addEventListener('pointermove', (e) => {
    if (!start) return;
    const p = local(e);
    Object.assign(band.style, { left: `${Math.min(p.x, start.x)}px`, top: `${Math.min(p.y, start.y)}px`, width: `${Math.abs(p.x - start.x)}px`, height: `${Math.abs(p.y - start.y)}px` });
  });
  const finish = (e) => {
    if (!start) return;
    const p = local(e), s = start;
    start = null;
    band.hidden = true;
    if (Math.abs(p.x - s.x) < 4 || Math.abs(p.y - s.y) < 4) return; // a click, not a rectangle
    const a = toCanvas({ x: Math.min(p.x, s.x), y: Math.min(p.y, s.y) }), b = toCanvas({ x: Math.max(p.x, s.x), y: Math.max(p.y, s.y) });
    const r = clampRegion({ x: a.x, y: a.y, w: b.x - a.x, h: b.y - a.y }, canvas);
    drawer.showDraft(r);
    onDraw(r);
  };
  surface.addEventListener('pointerup', finish);
  surface.addEventListener('pointercancel', () => { start = null; band.hidden = true; });
  // The wheel still zooms about the pointer while drawing.
  surface.addEventListener('wheel', (e) => {
    e.preventDefault();
    const p = local(e);
    viewer.viewport.zoomBy(e.deltaY < 0 ? 1.25 : 0.8, viewer.viewport.viewerElementToViewportCoordinates(new OSD.Point(p.x, p.y)));
    viewer.viewport.applyConstraints();
  }, { passive: false });
  const drawer = {
    get active() { return active; },
    on() { active = true; surface.hidden = false; el.classList.add('is-drawing'); },
    off() { active = false; surface.hidden = true; band.hidden = true; start = null; el.classList.remove('is-drawing'); },
    showDraft(xywh) {
      const rect = regionRect(viewer, canvas, xywh);
      if (draftOn) viewer.updateOverlay(draft, rect); else { viewer.addOverlay({ element: draft, location: rect }); draftOn = true; }
    },
    clear() { if (draftOn) { viewer.removeOverlay(draft); draftOn = false; } },
    destroy() { drawer.off(); drawer.clear(); surface.remove(); },
  };
  return drawer;
}

// ---------------------------------------------------------------- forms
let uid = 0;
function fieldWrap(label, control, id) {
  return h('div.field', h('label', { for: id }, label), control, h(`p.field-err#${id}-err`, { hidden: true }));
}
function setErr(form, id, msg) {
  const input = form.querySelector(`#${id}`), p = form.querySelector(`#${id}-err`);
  if (!input || !p) return;
  p.textContent = msg || ''; p.hidden = !msg;
  if (msg) { input.setAttribute('aria-invalid', 'true'); input.setAttribute('aria-describedby', `${id}-err`); } else input.removeAttribute('aria-invalid');
}

// The text of an annotation's bodies per language, and the tags.
export function bodiesOf(anno) {
  const out = { zh: [], en: [] };
  for (const b of [].concat(anno.body || [])) {
    if (!b || !b.value) continue;
    out[String(b.language || '').startsWith('zh') ? 'zh' : 'en'].push(b.value);
  }
  return out;
}
function regionOf(anno) {
  const tg = anno.target;
  const s = typeof tg === 'string' ? tg : tg && tg.selector ? [].concat(tg.selector).map((x) => x.value).join('') : '';
  const m = /xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+)/.exec(s);
  return m ? m.slice(1).map(Number) : null;
}
export function canEdit(anno) {
  const u = currentUser();
  if (!u) return false;
  if (hasRole('curator')) return true;
  return hasRole('educator') && anno && anno.creator && anno.creator.nickname === u.user;
}

// The annotation editor. opts: {viewerHandle, canvas, containerUrl, canvasId, anno?, etag?,
// onSaved(anno), onCancel()}. Returns {el, destroy(), focus()}.
export function annotationEditor({ viewerHandle, canvas, containerUrl, canvasId, anno = null, etag = null, onSaved, onCancel }) {
  const n = ++uid, id = (k) => `ae${n}-${k}`;
  const viewer = viewerHandle.viewer;
  const init = anno ? regionOf(anno) : viewRegion(viewer, canvas, 0.25);
  const texts = anno ? bodiesOf(anno) : { zh: [], en: [] };
  const sep = (anno && anno.motivation === 'tagging') ? ', ' : '\n';
  const zh = h(`textarea#${id('zh')}`, { rows: 2, lang: 'zh-Hans', maxLength: 4000 }); zh.value = texts.zh.join(sep);
  const en = h(`textarea#${id('en')}`, { rows: 2, lang: 'en', maxLength: 4000 }); en.value = texts.en.join(sep);
  const mot = h(`select#${id('mot')}`, MOTIVATIONS.map((m) => h('option', { value: m }, t(`motivation_${m}`))));
  mot.value = anno ? anno.motivation : 'commenting';
  const nums = ['x', 'y', 'w', 'h'].map((k, i) => {
    const inp = h(`input.num#${id(k)}`, { type: 'number', min: k === 'w' || k === 'h' ? 1 : 0, step: 1, inputMode: 'numeric' });
    inp.value = init ? String(init[i]) : '';
    return inp;
  });
  const region = () => nums.map((x) => Math.round(Number(x.value)));
  const drawBtn = h('button.btn-line.draw-toggle', { type: 'button', 'aria-pressed': 'true' }, svgIcon('frame'), t('anno_draw'));
  const formErr = h('p.form-err', { role: 'alert', hidden: true });
  const tagHint = h('p.hint.tag-hint', { hidden: mot.value !== 'tagging' }, t('anno_tag_hint'));
  const form = h('form.panel-form.anno-form', { noValidate: true, 'aria-labelledby': id('title') },
    h(`h2.panel-title#${id('title')}`, t(anno ? 'anno_edit_title' : 'anno_new_title')),
    h('p.hint', t('anno_draw_hint')),
    drawBtn,
    fieldWrap(t('anno_text_zh'), zh, id('zh')),
    fieldWrap(t('anno_text_en'), en, id('en')),
    fieldWrap(t('anno_motivation'), mot, id('mot')),
    tagHint,
    h('fieldset.region-fields', h('legend', t('anno_region')),
      h('div.nums', nums.map((inp, i) => h('label.num-label', { for: inp.id }, h('span', t(`region_${'xywh'[i]}`)), inp))),
      h(`p.field-err#${id('x')}-err`, { hidden: true })),
    h('div.panel-foot',
      formErr,
      h('div.panel-actions',
        h('button.btn-seal.save', { type: 'submit' }, t('save')),
        h('button.btn-line', { type: 'button', onclick: () => { ed.destroy(); onCancel && onCancel(); } }, t('cancel')))));
  const drawer = createDrawer(viewerHandle, canvas, (r) => {
    r.forEach((v, i) => { nums[i].value = String(v); });
    setErr(form, id('x'), '');
  });
  const setDraw = (on) => { if (on) drawer.on(); else drawer.off(); drawBtn.setAttribute('aria-pressed', on ? 'true' : 'false'); };
  drawBtn.addEventListener('click', () => setDraw(!drawer.active));
  mot.addEventListener('change', () => { tagHint.hidden = mot.value !== 'tagging'; });
  const preview = () => { const r = region(); if (r.every(Number.isFinite) && r[2] > 0 && r[3] > 0) drawer.showDraft(r); };
  for (const inp of nums) inp.addEventListener('input', preview);
  setDraw(true);
  if (init) drawer.showDraft(init);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formErr.hidden = true;
    for (const k of ['zh', 'en', 'mot', 'x']) setErr(form, id(k), '');
    const vals = { zh: zh.value.trim(), en: en.value.trim() };
    let bad = false;
    if (!vals.zh && !vals.en) { setErr(form, id('zh'), t('anno_text_required')); bad = true; }
    const r = region();
    if (!r.every(Number.isFinite) || r[2] < 1 || r[3] < 1 || r[0] < 0 || r[1] < 0 || r[0] + r[2] > canvas.width || r[1] + r[3] > canvas.height) {
      setErr(form, id('x'), t('anno_region_bad', { w: canvas.width, h: canvas.height })); bad = true;
    }
    if (bad) { form.querySelector('[aria-invalid="true"]')?.focus(); return; }
    const body = [];
    for (const l of ['zh', 'en']) {
      if (!vals[l]) continue;
      const parts = mot.value === 'tagging' ? vals[l].split(/[,，、\n]+/).map((x) => x.trim()).filter(Boolean) : [vals[l]];
      for (const v of parts) body.push({ type: 'TextualBody', value: v, language: l, format: 'text/plain' });
    }
    const doc = { motivation: mot.value, body: body.slice(0, 8), target: `${canvasId}#xywh=${r.join(',')}` };
    const save = form.querySelector('.save');
    save.disabled = true;
    try {
      const res = anno ? await send('PUT', sameOrigin(anno.id), doc, { etag }) : await send('POST', containerUrl, doc);
      ed.destroy();
      onSaved && onSaved(res.body);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 401) sessionLost();
      if (ex.fields) {
        for (const [k, msg] of Object.entries(ex.fields)) {
          if (k.startsWith('body')) setErr(form, id('zh'), msg);
          else if (k.startsWith('motivation')) setErr(form, id('mot'), msg);
          else if (k.startsWith('target')) setErr(form, id('x'), msg);
        }
      }
      formErr.textContent = ex.status === 412 ? t('conflict_stale') : ex.status === 403 ? t('forbidden') : t('save_failed', { msg: ex.message });
      formErr.hidden = false;
    } finally { save.disabled = false; }
  });
  const ed = {
    el: form,
    focus() { (anno ? zh : drawBtn).focus({ preventScroll: true }); },
    destroy() { drawer.destroy(); form.remove(); },
  };
  return ed;
}

// The card of one annotation (fetched with its ETag). opts: {url, onEdit(anno, etag),
// onDeleted(), onClose()}. Returns {el, ready, destroy(), focus()}.
export function annotationCard({ url, onEdit, onDeleted, onClose }) {
  const el = h('section.panel-card.anno-card', { 'aria-live': 'polite', 'aria-label': t('annotation') }, h('p.hint', t('loading')));
  const ready = (async () => {
    const [{ body: a, etag }, gloss] = await Promise.all([getWithETag(sameOrigin(url)), glossaryLinks()]);
    const tx = bodiesOf(a);
    const main = pick({ zh: tx.zh.join('、'), en: tx.en.join(', ') });
    const other = main.lang === 'zh' ? tx.en.join(', ') : tx.zh.join('、');
    const close = h('button.tool.card-close', { type: 'button', 'aria-label': t('close'), onclick: () => onClose && onClose() }, svgIcon('close'));
    el.replaceChildren(
      h('div.card-head', h('span.motivation-chip', { 'data-motivation': a.motivation }, t(`motivation_${a.motivation}`)), close),
      h('p.anno-text', { lang: tag(main.lang) }, gloss(main.text)),
      other ? h('p.anno-text-other', { lang: tag(main.lang === 'zh' ? 'en' : 'zh') }, gloss(other)) : null,
      h('p.anno-meta', a.creator && a.creator.nickname ? t('anno_by', { user: a.creator.nickname, date: String(a.modified || a.created || '').slice(0, 10) }) : ''));
    if (canEdit(a)) {
      const del = h('button.btn-line.danger', { type: 'button' }, t('delete'));
      let armed = false;
      del.addEventListener('click', async () => {
        if (!armed) { armed = true; del.textContent = t('delete_confirm'); del.classList.add('armed'); return; }
        del.disabled = true;
        try { await send('DELETE', sameOrigin(a.id), undefined, { etag }); onDeleted && onDeleted(a); } catch (ex) {
          if (ex.status === 401) sessionLost();
          el.append(h('p.form-err', { role: 'alert' }, ex.status === 412 ? t('conflict_stale') : t('save_failed', { msg: ex.message })));
          del.disabled = false;
        }
      });
      el.append(h('div.panel-actions', h('button.btn-line.edit', { type: 'button', onclick: () => onEdit && onEdit(a, etag) }, t('edit')), del));
    }
    return a;
  })();
  ready.catch((e) => { el.replaceChildren(h('p.form-err', { role: 'alert' }, t('error_load', { msg: e.message }))); });
  return { el, ready, focus() { el.querySelector('button')?.focus({ preventScroll: true }); }, destroy() { el.remove(); } };
}
