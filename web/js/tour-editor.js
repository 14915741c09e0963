// tour-editor.js: authoring a guided tour (docs/api.md "Tours") for educators and above
// (a teacher gets an educator account): title in Chinese and/or English, public or not, and
// an ordered list of stops. "Add the current view as a stop" records the visible region of
// the canvas; each stop has text in both languages and an optional zoom, and can be viewed,
// moved up or down (buttons, so the keyboard can reorder) and removed. Save is POST for a
// new tour and PUT with If-Match for an existing one.
import { t } from './i18n.js';
import { h, svgIcon, clear } from './dom.js';
import { send, toursUrl, tourUrl, imageUrl, ApiError } from './api.js';
import { sessionLost } from './session.js';
import { viewRegion, regionRect } from './annotate.js';

let uid = 0;

// opts: {relicId, viewerHandle, canvas: {n, width, height, imageId}, tour?, etag?, onSaved(tour),
// onDeleted(), onCancel(), announce(msg)}. Returns {el, focus(), destroy()}.
export function tourEditor({ relicId, viewerHandle, canvas, tour = null, etag = null, onSaved, onDeleted, onCancel, announce = () => {} }) {
  const n = ++uid, id = (k) => `te${n}-${k}`;
  const viewer = viewerHandle.viewer;
  const state = {
    title: { zh: (tour && tour.title && tour.title.zh) || '', en: (tour && tour.title && tour.title.en) || '' },
    public: tour ? tour.public !== false : true,
    stops: ((tour && tour.stops) || []).map((s) => ({ canvas: s.canvas || canvas.n, xywh: [...s.xywh], text: { zh: (s.text && s.text.zh) || '', en: (s.text && s.text.en) || '' }, zoom: s.zoom || '' })),
  };
  const input = (k, props, value, onInput) => {
    const el = h(`input#${id(k)}`, props);
    el.value = value;
    el.addEventListener('input', () => onInput(el.value));
    return el;
  };
  const titleZh = input('tzh', { type: 'text', lang: 'zh-Hans', maxLength: 200 }, state.title.zh, (v) => { state.title.zh = v; });
  const titleEn = input('ten', { type: 'text', lang: 'en', maxLength: 200 }, state.title.en, (v) => { state.title.en = v; });
  const pub = h(`input#${id('pub')}`, { type: 'checkbox', checked: state.public });
  pub.addEventListener('change', () => { state.public = pub.checked; });
  const list = h('ol.stop-list', { 'aria-labelledby': id('stops') });
  const count = h('span.stop-count');
  const formErr = h('p.form-err', { role: 'alert', hidden: true });
  const stopsErr = h(`p.field-err#${id('stops')}-err`, { hidden: true });
  const titleErr = h(`p.field-err#${id('tzh')}-err`, { hidden: true });
  const addBtn = h('button.btn-seal.add-stop', { type: 'button' }, svgIcon('plus'), t('tour_add_stop'));
  const save = h('button.btn-ink.save', { type: 'submit' }, t('save'));
  const cancel = h('button.btn-line', { type: 'button', onclick: () => { ed.destroy(); onCancel && onCancel(); } }, t('cancel'));
  const del = tour ? h('button.btn-line.danger.delete-tour', { type: 'button' }, t('tour_delete')) : null;
  const form = h('form.panel-form.tour-form', { noValidate: true, 'aria-labelledby': id('title') },
    h(`h2.panel-title#${id('title')}`, t(tour ? 'tour_edit_title' : 'tour_new_title')),
    h('div.field', h('label', { for: titleZh.id }, t('tour_title_zh')), titleZh, titleErr),
    h('div.field', h('label', { for: titleEn.id }, t('tour_title_en')), titleEn),
    h('label.check', { for: pub.id }, pub, h('span', t('tour_public'))),
    h(`h3.stops-title#${id('stops')}`, t('tour_stops'), ' ', count),
    list, stopsErr,
    h('div.panel-foot',
      h('p.hint', t('tour_add_hint')),
      addBtn,
      formErr,
      h('div.panel-actions', save, cancel, del)));

  const thumb = (xywh) => {
    const k = canvas.imageWidth && canvas.width ? canvas.imageWidth / canvas.width : 1;
    const r = xywh.map((v) => Math.round(v * k));
    return imageUrl(canvas.imageId, '!120,80', r.join(','));
  };
  function renderStops(focus = null) {
    clear(list);
    count.textContent = t('tour_stop_count', { n: state.stops.length });
    state.stops.forEach((s, i) => {
      const sid = (k) => id(`s${i}-${k}`);
      const zh = h(`textarea#${sid('zh')}`, { rows: 2, lang: 'zh-Hans', maxLength: 4000 }); zh.value = s.text.zh;
      zh.addEventListener('input', () => { s.text.zh = zh.value; });
      const en = h(`textarea#${sid('en')}`, { rows: 2, lang: 'en', maxLength: 4000 }); en.value = s.text.en;
      en.addEventListener('input', () => { s.text.en = en.value; });
      const zoom = h(`input.num#${sid('zoom')}`, { type: 'number', min: 0.01, max: 64, step: 'any', placeholder: t('tour_zoom_fit') }); zoom.value = s.zoom ? String(s.zoom) : '';
      zoom.addEventListener('input', () => { s.zoom = zoom.value; });
      const mk = (cls, icon, key, fn, disabled = false) => h(`button.tool.${cls}`, { type: 'button', 'aria-label': t(key, { i: i + 1 }), title: t(key, { i: i + 1 }), disabled, onclick: fn }, svgIcon(icon));
      list.append(h('li.stop-item', { 'data-i': i },
        h('div.stop-head',
          h('img.stop-thumb', { src: thumb(s.xywh), alt: '', width: 60, height: 40 }),
          h('span.stop-n', t('tour_stop_label', { i: i + 1 })),
          h('span.stop-tools', { role: 'group', 'aria-label': t('tour_stop_label', { i: i + 1 }) },
            mk('view', 'eye', 'tour_stop_view', () => viewer.viewport.fitBounds(regionRect(viewer, canvas, s.xywh), false)),
            mk('up', 'up', 'tour_stop_up', () => move(i, -1), i === 0),
            mk('down', 'down', 'tour_stop_down', () => move(i, 1), i === state.stops.length - 1),
            mk('remove', 'close', 'tour_stop_remove', () => remove(i)))),
        h('div.field', h('label', { for: zh.id }, t('tour_text_zh')), zh),
        h('div.field', h('label', { for: en.id }, t('tour_text_en')), en),
        h('div.field.zoom-field', h('label', { for: zoom.id }, t('tour_zoom')), zoom)));
    });
    if (focus) (list.querySelector(focus.sel) || list.querySelector(`[data-i="${focus.i}"] button:not([disabled])`) || addBtn).focus({ preventScroll: false });
  }
  function move(i, d) {
    const j = i + d;
    if (j < 0 || j >= state.stops.length) return;
    [state.stops[i], state.stops[j]] = [state.stops[j], state.stops[i]];
    const which = d < 0 ? 'up' : 'down';
    // keep the focus on the same button of the moved stop (or its other arrow at an end)
    const edge = (which === 'up' && j === 0) || (which === 'down' && j === state.stops.length - 1);
    renderStops({ i: j, sel: `[data-i="${j}"] .${edge ? (which === 'up' ? 'down' : 'up') : which}` });
    announce(t('tour_moved', { from: i + 1, to: j + 1 }));
  }
  function remove(i) {
    state.stops.splice(i, 1);
    renderStops({ i: Math.min(i, state.stops.length - 1), sel: `[data-i="${Math.min(i, state.stops.length - 1)}"] .remove` });
    announce(t('tour_removed', { i: i + 1 }));
  }
  addBtn.addEventListener('click', () => {
    if (state.stops.length >= 200) return;
    state.stops.push({ canvas: canvas.n, xywh: viewRegion(viewer, canvas), text: { zh: '', en: '' }, zoom: '' });
    stopsErr.hidden = true;
    renderStops({ sel: `[data-i="${state.stops.length - 1}"] textarea` });
    announce(t('tour_added', { i: state.stops.length }));
  });
  if (del) {
    let armed = false;
    del.addEventListener('click', async () => {
      if (!armed) { armed = true; del.textContent = t('delete_confirm'); del.classList.add('armed'); return; }
      del.disabled = true;
      try { await send('DELETE', tourUrl(tour.id), undefined, { etag }); ed.destroy(); onDeleted && onDeleted(tour); } catch (ex) {
        if (ex.status === 401) sessionLost();
        formErr.textContent = ex.status === 412 ? t('conflict_stale') : t('save_failed', { msg: ex.message }); formErr.hidden = false;
        del.disabled = false;
      }
    });
  }
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    formErr.hidden = true; titleErr.hidden = true; stopsErr.hidden = true;
    titleZh.removeAttribute('aria-invalid');
    const title = {};
    if (state.title.zh.trim()) title.zh = state.title.zh.trim();
    if (state.title.en.trim()) title.en = state.title.en.trim();
    if (!title.zh && !title.en) {
      titleErr.textContent = t('tour_title_required'); titleErr.hidden = false;
      titleZh.setAttribute('aria-invalid', 'true'); titleZh.setAttribute('aria-describedby', titleErr.id); titleZh.focus();
      return;
    }
    if (!state.stops.length) { stopsErr.textContent = t('tour_stops_required'); stopsErr.hidden = false; addBtn.focus(); return; }
    const doc = {
      title, public: state.public,
      stops: state.stops.map((s) => {
        const text = {};
        if (s.text.zh.trim()) text.zh = s.text.zh.trim();
        if (s.text.en.trim()) text.en = s.text.en.trim();
        const o = { canvas: s.canvas, xywh: s.xywh.map((v) => Math.round(v)), text };
        const z = Number(s.zoom);
        if (s.zoom !== '' && z > 0) o.zoom = Math.min(64, z);
        return o;
      }),
    };
    save.disabled = true;
    try {
      const res = tour ? await send('PUT', tourUrl(tour.id), doc, { etag }) : await send('POST', toursUrl(relicId), doc);
      ed.destroy();
      onSaved && onSaved(res.body, res.etag);
    } catch (ex) {
      if (ex instanceof ApiError && ex.status === 401) sessionLost();
      const fields = ex.fields ? Object.entries(ex.fields).map(([k, v]) => `${k}: ${v}`).join('; ') : '';
      formErr.textContent = ex.status === 412 ? t('conflict_stale') : ex.status === 403 ? t('forbidden') : t('save_failed', { msg: fields || ex.message });
      formErr.hidden = false;
    } finally { save.disabled = false; }
  });
  renderStops();
  const ed = {
    el: form,
    focus() { titleZh.focus({ preventScroll: true }); },
    destroy() { form.remove(); },
  };
  return ed;
}
