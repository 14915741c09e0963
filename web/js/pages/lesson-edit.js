// Lesson editor (issue 17): /lesson/new and /lesson/{id}/edit, for educators and above. A
// form per step (kind, work, canvas, region, layer, text in both languages, an optional
// question), reordered with buttons so the keyboard can do it; saving is POST for a new
// lesson and PUT with If-Match for an existing one, and the server's field errors
// ("steps[2].xywh": ...) are shown beside the step they name. Regions are canvas pixels,
// as the relic page's "share this view" and the tour editor record them.
import { t, pick } from '../i18n.js';
import { h, clear } from '../dom.js';
import { getWithETag, send } from '../api.js';
import { hasRole, sessionLost } from '../session.js';
import { lt } from '../lesson-strings.js';
import { ensureLessonCss, lessonUrl } from './lesson.js';

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
    value() { const r = { relic_id: relic.value.trim(), canvas: Number(canvas.value) || 1 }; const x = parseXywh(xywh.value); if (x) r.xywh = x; return r; },
  };
}

function stepForm(s = { kind: 'view' }, list) {
  const kind = h('select', ['view', 'tour', 'compare'].map((k) => h('option', { value: k, selected: s.kind === k }, lt(`ed_kind_${k}`))));
  const view = refFields(s.kind === 'view' ? s : {});
  const layer = h('input', { value: s.layer || '' });
  const tour = h('input', { value: s.tour_id || '', placeholder: 't1' });
  const stop = h('input', { type: 'number', min: 0, value: s.stop || 0 });
  const a = refFields(s.a), b = refFields(s.b);
  const tzh = h('input', { value: (s.title && s.title.zh) || '' }), ten = h('input', { value: (s.title && s.title.en) || '' });
  const xzh = h('textarea', { rows: 3 }, (s.text && s.text.zh) || ''), xen = h('textarea', { rows: 3 }, (s.text && s.text.en) || '');
  const q = s.question || {};
  const qtype = h('select', ['', 'choice', 'find'].map((k) => h('option', { value: k, selected: (q.type || '') === k }, lt(k ? `ed_q_${k}` : 'ed_q_none'))));
  const pzh = h('input', { value: (q.prompt && q.prompt.zh) || '' }), pen = h('input', { value: (q.prompt && q.prompt.en) || '' });
  const choices = h('textarea', { rows: 4 }, (q.choices || []).map((c, k) => `${k === q.answer ? '*' : ''}${pick(c).text}`).join('\n'));
  const target = h('input', { value: xywhText(q.target && q.target.xywh) });
  const errs = h('ul.form-err', { role: 'alert' });
  const parts = {
    view: h('div.le-view', view.el, field(lt('ed_layer'), layer)),
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
      h('button.btn-line.danger.le-remove', { type: 'button', onclick: () => { list.splice(list.indexOf(form), 1); form.onMove(); } }, lt('ed_remove'))));
  sync();
  const form = {
    el, errs, head,
    value() {
      const o = { kind: kind.value };
      if (kind.value === 'view') { Object.assign(o, view.value()); if (layer.value.trim()) o.layer = layer.value.trim(); }
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
  };
  return form;
}

export async function render(ctx) {
  ensureLessonCss();
  if (!hasRole('educator')) return { el: h('section.page.message', h('p', { role: 'alert' }, lt('ed_need_role'))), title: lt('lesson_new') };
  let lesson = { title: {}, summary: {}, public: true, steps: [{ kind: 'view', relic_id: ctx.query.get('relic') || '' }] };
  let etag = null;
  if (ctx.params.id) ({ body: lesson, etag } = await getWithETag(lessonUrl(ctx.params.id)));
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
  const status = h('div.form-status', { role: 'status' });
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
  return { el: h('section.page.lesson-edit-page', h('h1', title), form, del), title };
}
