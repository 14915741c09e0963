// Lesson editor (issue 17): /lesson/new and /lesson/{id}/edit, for educators and above. A
// form per step (kind, work, canvas, region, layer, text in both languages, an optional
// question), reordered with buttons so the keyboard can do it; saving is POST for a new
// lesson and PUT with If-Match for an existing one, and the server's field errors
// ("steps[2].xywh": ...) are shown beside the step they name. Regions are canvas pixels,
// as the relic page's "share this view" and the tour editor record them.
import { t, pick } from '../i18n.js';
import { h, clear } from '../dom.js';
import { getJSON, getJSONMaybe, getWithETag, send } from '../api.js';
import { hasRole, sessionLost } from '../session.js';
import { lt } from '../lesson-strings.js';
import { ensureLessonCss, lessonUrl, regionViewer, spectralName } from './lesson.js';

export const name = 'lesson-edit';

let uid = 0;
const field = (label, input) => { const id = `le-${++uid}`; input.id = id; return h('p.field', h('label', { for: id }, label), input); };
const xywhText = (a) => (Array.isArray(a) ? a.join(',') : '');
function parseXywh(s) {
  const v = String(s || '').split(/[,\s]+/).filter(Boolean).map(Number);
  return v.length === 4 && v.every((x) => Number.isInteger(x)) ? v : s.trim() ? s.trim() : null;
}
const lang2 = (zh, en) => { const m = {}; if (zh.value.trim()) m.zh = zh.value.trim(); if (en.value.trim()) m.en = en.value.trim(); return m; };

function refFields(ref = {}) {
  const relic = h('input', { value: ref.relic_id || '' }); // the server says what is missing, per step
  const canvas = h('input', { type: 'number', min: 1, value: ref.canvas || 1 });
  const xywh = h('input', { value: xywhText(ref.xywh), placeholder: '1200,340,420,260' });
  return {
    el: [field(lt('ed_relic'), relic), field(lt('ed_canvas'), canvas), field(lt('ed_xywh'), xywh)],
    inputs: { relic, canvas, xywh },
    value() { const r = { relic_id: relic.value.trim(), canvas: Number(canvas.value) || 1 }; const x = parseXywh(xywh.value); if (x) r.xywh = x; return r; },
  };
}

// ---------------------------------------------------------------- what a view shows

// What a view step may show besides its canvas, as the work offers it: the roles of its images,
// every layer of its spectral captures (issue 11) and its condition records (issue 12; an
// educator sees unpublished ones too, marked, since learners will not). Each choice's value is
// the JSON of the step fields it sets; extra is what the preview needs (a record's photograph).
async function showsChoices(relicId) {
  const enc = encodeURIComponent(relicId);
  const [relic, caps, conds] = await Promise.all([getJSON(`/api/relics/${enc}`),
    getJSONMaybe(`/api/relics/${enc}/captures`), getJSONMaybe(`/api/relics/${enc}/condition`)]);
  const out = [{ value: '{}', label: lt('ed_shows_canvas') }];
  for (const role of new Set((relic.images || []).map((i) => i.role).filter(Boolean)))
    out.push({ value: JSON.stringify({ layer: role }), label: lt('ed_shows_role', { role }) });
  const details = await Promise.all(((caps && caps.items) || []).map((c) => getJSONMaybe(`/api/captures/${encodeURIComponent(c.id)}`)));
  for (const cap of details.filter(Boolean))
    for (const im of cap.images || [])
      out.push({ value: JSON.stringify({ spectral: { capture: cap.id, layer: im.name } }), label: lt('ed_shows_spectral', { capture: cap.id, layer: spectralName(im.name) }) });
  for (const r of (conds && conds.items) || [])
    out.push({ value: JSON.stringify({ condition: r.id }), extra: { condition_record: { image: (r.images || [])[0] } },
      label: lt('ed_shows_condition', { date: r.date, overall: lt(`overall_${r.overall}`) }) + (r.published ? '' : ` — ${lt('ed_unpublished')}`) });
  return out;
}

// The "shows" value of a stored step.
function showsOf(s) {
  if (s.spectral) return JSON.stringify({ spectral: { capture: s.spectral.capture, layer: s.spectral.layer } });
  if (s.layer) return JSON.stringify({ layer: s.layer });
  if (s.condition) return JSON.stringify({ condition: s.condition });
  if (s.condition_date) return JSON.stringify({ condition_date: s.condition_date });
  return '{}';
}

// A picker of what the step shows, refilled whenever the work changes; a stored value the work
// no longer offers stays (marked), so that saving says what is wrong rather than dropping it.
function showsPicker(relicInput, initial) {
  const sel = h('select.le-shows');
  let extras = new Map(), want = initial, seq = 0;
  const fill = (choices) => {
    clear(sel);
    extras = new Map(choices.map((c) => [c.value, c.extra || {}]));
    if (!choices.some((c) => c.value === want)) choices = [...choices, { value: want, label: lt('ed_shows_missing', { what: want }) }];
    for (const c of choices) sel.append(h('option', { value: c.value, selected: c.value === want }, c.label));
  };
  const load = async () => {
    const my = ++seq, id = relicInput.value.trim();
    sel.dataset.loading = '1';
    const choices = id ? await showsChoices(id).catch(() => [{ value: '{}', label: lt('ed_shows_canvas') }]) : [{ value: '{}', label: lt('ed_shows_canvas') }];
    if (my !== seq) return;
    fill(choices);
    delete sel.dataset.loading;
  };
  sel.addEventListener('change', () => { want = sel.value; });
  relicInput.addEventListener('change', () => { want = '{}'; load(); });
  fill([{ value: '{}', label: lt('ed_shows_canvas') }]);
  load();
  return { el: sel, value: () => JSON.parse(sel.value || '{}'), extra: () => extras.get(sel.value) || {} };
}

// "Show the step on the painting": a viewer of what the step shows, and a button that takes the
// region in view as the step's region (canvas pixels, clipped to the canvas).
function previewBox(view, shows) {
  const box = h('div.le-preview-box', { hidden: true });
  const toggle = h('button.btn-line.le-preview', { type: 'button', 'aria-expanded': 'false' }, lt('ed_preview'));
  let v = null;
  const close = () => { if (v) v.destroy(); v = null; clear(box); box.hidden = true; toggle.textContent = lt('ed_preview'); toggle.setAttribute('aria-expanded', 'false'); };
  toggle.addEventListener('click', async () => {
    if (v) { close(); return; }
    const ref = { ...view.value(), ...shows.value(), ...shows.extra() };
    if (!Array.isArray(ref.xywh)) delete ref.xywh;
    if (!ref.relic_id) return;
    toggle.setAttribute('aria-expanded', 'true');
    toggle.textContent = lt('ed_preview_hide');
    box.hidden = false;
    try { v = await regionViewer(ref, lt('ed_preview')); } catch (e) { box.append(h('p.form-err', t('error_load', { msg: e.message }))); return; }
    const use = h('button.btn-ink.le-use-view', { type: 'button' }, lt('ed_use_view'));
    use.addEventListener('click', () => {
      const r = v && v.visible();
      if (r) { view.inputs.xywh.value = r.join(','); view.inputs.xywh.dispatchEvent(new Event('input')); }
    });
    box.append(v.el, use);
    window.__dqEditorView = v; // for the browser tests and the console
  });
  return { toggle, box, destroy: close };
}

function stepForm(s = { kind: 'view' }, list) {
  const kind = h('select', ['view', 'tour', 'compare'].map((k) => h('option', { value: k, selected: s.kind === k }, lt(`ed_kind_${k}`))));
  const view = refFields(s.kind === 'view' ? s : {});
  const shows = showsPicker(view.inputs.relic, s.kind === 'view' ? showsOf(s) : '{}');
  const preview = previewBox(view, shows);
  const tour = h('input', { value: s.tour_id || '', placeholder: 't1' });
  const stop = h('input', { type: 'number', min: 0, value: s.stop || 0 });
  const a = refFields(s.a), b = refFields(s.b);
  const tzh = h('input', { value: (s.title && s.title.zh) || '' }), ten = h('input', { value: (s.title && s.title.en) || '' });
  const xzh = h('textarea', { rows: 3 }, (s.text && s.text.zh) || ''), xen = h('textarea', { rows: 3 }, (s.text && s.text.en) || '');
  const q = s.question || {};
  const qtype = h('select.le-qtype', ['', 'choice', 'find'].map((k) => h('option', { value: k, selected: (q.type || '') === k }, lt(k ? `ed_q_${k}` : 'ed_q_none'))));
  const pzh = h('input', { value: (q.prompt && q.prompt.zh) || '' }), pen = h('input', { value: (q.prompt && q.prompt.en) || '' });
  const choices = h('textarea', { rows: 4 }, (q.choices || []).map((c, k) => `${k === q.answer ? '*' : ''}${pick(c).text}`).join('\n'));
  const target = h('input', { value: xywhText(q.target && q.target.xywh) });
  const errs = h('ul.form-err', { role: 'alert' });
  const parts = {
    view: h('div.le-view', view.el, field(lt('ed_shows'), shows.el), h('p.le-preview-row', preview.toggle), preview.box),
    tour: h('div.le-tour', field(lt('ed_tour'), tour), field(lt('ed_stop'), stop)),
    compare: h('div.le-compare', h('fieldset', h('legend', lt('ed_a')), a.el), h('fieldset', h('legend', lt('ed_b')), b.el)),
  };
  const qChoice = field(lt('ed_choices'), choices), qFind = field(lt('ed_target'), target);
  const qBox = h('div.le-q', field(lt('ed_prompt_zh'), pzh), field(lt('ed_prompt_en'), pen), qChoice, qFind);
  const sync = () => {
    for (const [k, el] of Object.entries(parts)) el.hidden = kind.value !== k;
    qBox.hidden = !qtype.value;
    qChoice.hidden = qtype.value !== 'choice';
    qFind.hidden = qtype.value !== 'find';
  };
  kind.addEventListener('change', sync);
  qtype.addEventListener('change', sync);
  const head = h('h3.le-step-h');
  const move = (d) => { const i = list.indexOf(form); const j = i + d; if (j < 0 || j >= list.length) return; list.splice(i, 1); list.splice(j, 0, form); form.onMove(); };
  const el = h('li.le-step', head, field(lt('ed_kind'), kind), parts.view, parts.tour, parts.compare,
    field(lt('ed_title_zh'), tzh), field(lt('ed_title_en'), ten), field(lt('ed_text_zh'), xzh), field(lt('ed_text_en'), xen),
    field(lt('ed_question'), qtype), qBox, errs,
    h('div.le-step-tools', h('button.btn-line.le-up', { type: 'button', onclick: () => move(-1) }, lt('ed_up')),
      h('button.btn-line.le-down', { type: 'button', onclick: () => move(1) }, lt('ed_down')),
      h('button.btn-line.danger.le-remove', { type: 'button', onclick: () => { list.splice(list.indexOf(form), 1); form.destroy(); form.onMove(); } }, lt('ed_remove'))));
  sync();
  const form = {
    el, errs, head,
    value() {
      const o = { kind: kind.value };
      if (kind.value === 'view') Object.assign(o, view.value(), shows.value());
      if (kind.value === 'tour') { o.tour_id = tour.value.trim(); o.stop = Number(stop.value) || 0; }
      if (kind.value === 'compare') { o.a = a.value(); o.b = b.value(); }
      const ti = lang2(tzh, ten);
      if (Object.keys(ti).length) o.title = ti;
      o.text = lang2(xzh, xen);
      if (qtype.value) {
        const qq = { type: qtype.value, prompt: lang2(pzh, pen) };
        if (qtype.value === 'choice') {
          const lines = choices.value.split('\n').map((x) => x.trim()).filter(Boolean);
          qq.choices = lines.map((x) => { const v = x.replace(/^\*/, '').trim(); return /[\u3400-\u9fff]/.test(v) ? { zh: v } : { en: v }; });
          qq.answer = lines.findIndex((x) => x.startsWith('*'));
        } else {
          qq.target = { xywh: parseXywh(target.value) };
        }
        o.question = qq;
      }
      return o;
    },
    onMove: () => {},
    destroy: () => preview.destroy(),
  };
  return form;
}

export async function render(ctx) {
  ensureLessonCss();
  if (!hasRole('educator')) return { el: h('section.page.message', h('p', { role: 'alert' }, lt('ed_need_role'))), title: lt('lesson_new') };
  let lesson = { title: {}, summary: {}, public: true, steps: [{ kind: 'view', relic_id: ctx.query.get('relic') || '' }] };
  let etag = null;
  if (ctx.params.id) ({ body: lesson, etag } = await getWithETag(lessonUrl(ctx.params.id)));
  // "Add to a lesson" on a work's page: ?relic=&canvas=&xywh= is the view it had; a new lesson
  // starts with it, an existing one gets it as a new last step.
  const pre = ctx.query.get('relic') && ctx.query.get('xywh') ? {
    kind: 'view', relic_id: ctx.query.get('relic'), canvas: Number(ctx.query.get('canvas')) || 1,
    xywh: parseXywh(ctx.query.get('xywh')) } : null;
  if (pre && !Array.isArray(pre.xywh)) delete pre.xywh;
  if (pre && ctx.params.id) lesson.steps = [...(lesson.steps || []), pre];
  else if (pre) lesson.steps = [pre];
  const tzh = h('input', { value: lesson.title.zh || '' }), ten = h('input', { value: lesson.title.en || '' });
  const szh = h('textarea', { rows: 2 }, (lesson.summary && lesson.summary.zh) || ''), sen = h('textarea', { rows: 2 }, (lesson.summary && lesson.summary.en) || '');
  const pub = h('input', { type: 'checkbox', checked: lesson.public !== false });
  const list = [];
  const ol = h('ol.le-steps');
  const redraw = () => { clear(ol); list.forEach((f, i) => { f.head.textContent = `${i + 1}`; ol.append(f.el); }); };
  for (const s of lesson.steps || []) { const f = stepForm(s, list); f.onMove = redraw; list.push(f); }
  redraw();
  const add = h('button.btn-line#le-add', { type: 'button' }, lt('ed_add_step'));
  add.addEventListener('click', () => { const f = stepForm({ kind: 'view' }, list); f.onMove = redraw; list.push(f); redraw(); f.el.querySelector('select')?.focus(); });
  const status = h('div.form-status', { role: 'status' }, pre && ctx.params.id ? h('p.le-added', lt('ed_added_view', { i: list.length })) : null);
  const save = h('button.btn-ink#le-save', { type: 'submit' }, lt('ed_save'));
  const form = h('form.lesson-editor', field(lt('ed_title_zh'), tzh), field(lt('ed_title_en'), ten),
    field(lt('ed_summary_zh'), szh), field(lt('ed_summary_en'), sen),
    h('p.field.check', h('label', pub, ' ', lt('ed_public'))),
    h('h2', lt('ed_steps')), ol, add, status, save);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    for (const f of list) clear(f.errs);
    clear(status);
    const body = { title: lang2(tzh, ten), summary: lang2(szh, sen), public: pub.checked, steps: list.map((f) => f.value()) };
    save.disabled = true;
    try {
      const r = lesson.id ? await send('PUT', lessonUrl(lesson.id), body, { etag }) : await send('POST', '/api/lessons', body);
      status.textContent = lt('ed_saved');
      ctx.navigate(`/lesson/${encodeURIComponent(r.body.id)}`);
    } catch (ex) {
      if (ex.status === 401) sessionLost();
      const fields = ex.fields || {};
      const general = [];
      for (const [k, v] of Object.entries(fields)) {
        const m = /^steps\[(\d+)\]\.?(.*)$/.exec(k);
        if (m && list[Number(m[1])]) list[Number(m[1])].errs.append(h('li', `${m[2] || k}: ${v}`));
        else general.push(h('li', `${k}: ${v}`));
      }
      status.append(h('p.form-err', { role: 'alert' }, Object.keys(fields).length ? lt('ed_errors') : t('save_failed', { msg: ex.message })), h('ul', general));
    } finally { save.disabled = false; }
  });
  let del = null;
  if (lesson.id) {
    del = h('button.btn-line.danger#le-delete', { type: 'button' }, lt('ed_delete'));
    del.addEventListener('click', async () => {
      if (del.dataset.armed !== '1') { del.dataset.armed = '1'; del.textContent = t('delete_confirm'); return; }
      await send('DELETE', lessonUrl(lesson.id), undefined, { etag });
      ctx.navigate('/lessons');
    });
  }
  const title = lesson.id ? lt('lesson_edit') : lt('lesson_new');
  if (pre && ctx.params.id) queueMicrotask(() => list[list.length - 1].el.scrollIntoView({ block: 'center' }));
  return { el: h('section.page.lesson-edit-page', h('h1', title), form, del), title, destroy() { for (const f of list) f.destroy(); } };
}
