// Lesson pages (issue 17): /lessons (the list, and "join a class"), /lesson/{id} (the player:
// one link starts at step 1; the learner's place and answers stay in this browser's
// localStorage, nothing about them goes to the server but the answer being checked),
// /lesson/{id}/handout (a printable handout: the steps with crops at print resolution and
// the questions). ?embed=1 shows the player alone, for an <iframe> in a school's learning
// platform; every step can be exported as a IIIF Content State link. A classroom session
// (../classroom.js) drives the same player.
import { t, pick, tag, onLangChange } from '../i18n.js';
import { h, clear, svgIcon } from '../dom.js';
import { getJSON, getRelic, getManifest, canvasesOf, send } from '../api.js';
import { createViewer, imageRect } from '../viewer.js';
import { hasRole, currentUser } from '../session.js';
import { glossaryLinks } from '../glossary-links.js';
import { lt } from '../lesson-strings.js';

export const name = 'lesson';

// The teaching pages' stylesheet, added once (app.css stays the shared one).
export function ensureLessonCss() {
  if (document.getElementById('lesson-css')) return;
  document.head.append(h('link#lesson-css', { rel: 'stylesheet', href: '/static/css/lesson.css' }));
}

export function lessonUrl(id) { return `/api/lessons/${encodeURIComponent(id)}`; }

// ---------------------------------------------------------------- progress (this browser only)

const store = {
  key: (id) => `danqing.lesson.${id}`,
  get(id) { try { return JSON.parse(localStorage.getItem(store.key(id))) || { step: 0, answers: {} }; } catch { return { step: 0, answers: {} }; } },
  set(id, p) { try { localStorage.setItem(store.key(id), JSON.stringify(p)); } catch { /* private mode */ } },
};

// ---------------------------------------------------------------- works and canvases

const works = new Map(); // relic id -> Promise<{relic, canvases}>
function work(relicId) {
  if (!works.has(relicId)) {
    works.set(relicId, Promise.all([getRelic(relicId), getManifest(relicId)]).then(([relic, m]) => ({ relic, canvases: canvasesOf(m) })));
    works.get(relicId).catch(() => works.delete(relicId));
  }
  return works.get(relicId);
}

// What a step's viewer shows (issue 17, with issues 11 and 12): canvas n's image; the work's
// image with role ref.layer; a layer of one of its spectral captures (ref.spectral, served at
// /iiif/3/spectral/{capture}/{layer}); or the photograph of a condition record
// (ref.condition_record.image, given by the server only to readers who may see the record).
// -> {service (the IIIF Image base URL), imageId?, canvas, own (1: the canvas's own image,
// whose pixels are the region's)}. A layer or photograph covers the whole canvas, so the
// region is scaled to its size.
export function sourceOf(w, ref) {
  const c = w.canvases[(ref.canvas || 1) - 1] || w.canvases[0];
  const img = (imageId, own = 0) => ({ service: `/iiif/3/${encodeURIComponent(imageId)}`, imageId, canvas: c, own });
  if (ref.spectral) return { service: `/iiif/3/spectral/${encodeURIComponent(ref.spectral.capture)}/${encodeURIComponent(ref.spectral.layer)}`, canvas: c, own: 0 };
  if (ref.condition_record && ref.condition_record.image) return img(ref.condition_record.image);
  if (ref.layer) {
    const im = (w.relic.images || []).find((i) => i.role === ref.layer);
    if (im) return img(im.image_id);
  }
  return img(c && c.imageId, 1);
}

// The IIIF region of ref.xywh (canvas pixels) on src: pixels on the canvas's own image,
// percentages of the whole on a layer or photograph.
export function regionOf(src, xywh) {
  const c = src.canvas;
  if (src.own || !c || !c.width || !c.height) return xywh.join(',');
  const f = (v, n) => Math.max(0, Math.min(100, (100 * v) / n)).toFixed(4).replace(/\.?0+$/, '');
  return `pct:${f(xywh[0], c.width)},${f(xywh[1], c.height)},${f(xywh[2], c.width)},${f(xywh[3], c.height)}`;
}

export function loadWork(relicId) { return work(relicId); }

// A viewer on ref's region; resolves {el, viewer, canvas, destroy, toCanvas(pt), frame(xywh)}.
export async function regionViewer(ref, label) {
  const w = await work(ref.relic_id);
  const src = sourceOf(w, ref);
  const { canvas } = src;
  const v = createViewer(src.imageId || null, { navigator: false, label, extra: { tileSources: `${src.service}/info.json` } });
  const k = () => {
    const item = v.viewer.world.getItemAt(0);
    return item && canvas && canvas.width ? item.getContentSize().x / canvas.width : 1;
  };
  const fit = (xywh, immediately) => {
    const s = k();
    v.viewer.viewport.fitBounds(imageRect(v.viewer, xywh[0] * s, xywh[1] * s, xywh[2] * s, xywh[3] * s), immediately);
  };
  v.ready.then(() => { if (ref.xywh) fit(ref.xywh, true); }).catch(() => {});
  return {
    el: v.el, viewer: v.viewer, canvas, ready: v.ready, relic: w.relic,
    destroy: () => v.destroy(),
    fit,
    // viewer pixel position -> canvas pixels
    toCanvas(pos) {
      const item = v.viewer.world.getItemAt(0);
      const p = item.viewportToImageCoordinates(v.viewer.viewport.pointFromPixel(pos));
      const s = k();
      return [Math.round(p.x / s), Math.round(p.y / s)];
    },
    // the visible region in canvas pixels, clipped to the canvas (null when off it)
    visible() {
      const item = v.viewer.world.getItemAt(0);
      if (!item || !canvas) return null;
      const r = item.viewportToImageRectangle(v.viewer.viewport.getBounds(true));
      const s = k();
      const x0 = Math.max(0, Math.round(r.x / s)), y0 = Math.max(0, Math.round(r.y / s));
      const x1 = Math.min(canvas.width, Math.round((r.x + r.width) / s)), y1 = Math.min(canvas.height, Math.round((r.y + r.height) / s));
      return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : null;
    },
    frame(xywh, cls) {
      const s = k();
      const el = h(`div.lesson-frame${cls ? '.' + cls : ''}`);
      v.viewer.addOverlay({ element: el, location: imageRect(v.viewer, xywh[0] * s, xywh[1] * s, xywh[2] * s, xywh[3] * s) });
      return el;
    },
    mark(pt) {
      const s = k(), d = 12 / (v.viewer.viewport.getZoom(true) * v.viewer.container.clientWidth) || 0.01;
      const p = v.viewer.world.getItemAt(0).imageToViewportCoordinates(pt[0] * s, pt[1] * s);
      const el = h('div.lesson-mark');
      v.viewer.addOverlay({ element: el, location: new window.OpenSeadragon.Rect(p.x - d / 2, p.y - d / 2, d, d) });
      return el;
    },
  };
}

// ---------------------------------------------------------------- spectral layers, condition records

// A spectral layer's name for people: the presets and band names of docs/api.md.
export function spectralName(layer) {
  if (['visible', 'irfc', 'uvf', 'pigments'].includes(layer)) return lt(`spec_${layer}`);
  const m = /^r(\d+)$/.exec(layer);
  return m ? `${m[1]} nm` : layer;
}

// The summary of a condition record shown beside its photograph (player and handout).
export function conditionSummary(rec) {
  const obs = rec.observations || [];
  return h('div.lesson-condition', { 'data-record': rec.id },
    h('p.lesson-kind', lt('lesson_condition_rec', { date: rec.date, overall: lt(`overall_${rec.overall}`) })),
    rec.examiner ? h('p.hint', lt('lesson_examiner', { who: rec.examiner })) : null,
    rec.image ? null : h('p.hint', lt('lesson_no_photo')),
    rec.note ? h('p.lesson-condition-note', rec.note) : null,
    obs.length ? h('ul.lesson-obs', obs.map((o) => h('li', `${lt(`obs_${o.type}`)} · ${lt(`sev_${o.severity}`)}${o.note ? ` — ${o.note}` : ''}`))) : null);
}

// ---------------------------------------------------------------- the player

// createPlayer(lesson, {onStep(i), onAnswer(i, correct), onView(i, xywh), check(i, body), embed})
// -> {el, go(i), show(xywh), setLocked(on), index, views, destroy()}
export function createPlayer(lesson, opts = {}) {
  const steps = lesson.steps || [];
  const progress = store.get(lesson.id);
  let index = -1, views = [], seq = 0, gloss = (s) => s;
  glossaryLinks().then((g) => { gloss = g; if (index >= 0) renderText(); });
  const counter = h('p.lesson-count', { 'aria-live': 'polite' });
  const bar = h('div.lesson-bar', { role: 'progressbar', 'aria-valuemin': '1', 'aria-valuemax': String(steps.length) }, h('span'));
  const stage = h('div.lesson-stage');
  const text = h('div.lesson-text');
  const question = h('div.lesson-question');
  const prev = h('button.btn-line#lesson-prev', { type: 'button', onclick: () => player.go(index - 1) }, svgIcon('left'), h('span', lt('lesson_prev')));
  const next = h('button.btn-ink#lesson-next', { type: 'button', onclick: () => player.go(index + 1) }, h('span', lt('lesson_next')), svgIcon('right'));
  const done = h('p.lesson-done', { hidden: true }, lt('lesson_done'));
  const el = h('div.lesson-player', { tabindex: '-1' }, h('div.lesson-progress', counter, bar), stage,
    h('div.lesson-side', text, question, done, h('nav.lesson-nav', { 'aria-label': lt('lesson_progress') }, prev, next)));

  function renderText() {
    const s = steps[index];
    clear(text);
    if (!s) return;
    if (s.kind === 'hidden') { text.append(h('p.hint', lt('lesson_hidden'))); return; }
    const title = s.title && pick(s.title);
    if (title && title.text) text.append(h('h2.lesson-step-title', { lang: tag(title.lang) }, title.text));
    if (s.kind === 'compare') text.append(h('p.lesson-kind', lt('lesson_compare')));
    if (s.layer) text.append(h('p.lesson-kind', lt('lesson_layer', { layer: s.layer })));
    if (s.spectral) text.append(h('p.lesson-kind.lesson-spectral', lt('lesson_spectral', { layer: spectralName(s.spectral.layer), capture: s.spectral.capture })));
    if (s.condition_record) text.append(conditionSummary(s.condition_record));
    else if (s.condition_date) text.append(h('p.lesson-kind', lt('lesson_condition', { date: s.condition_date })));
    const body = pick(s.text);
    if (body.text) for (const para of body.text.split(/\n+/)) text.append(h('p', { lang: tag(body.lang) }, gloss(para)));
    if (s.relic_id) text.append(h('p.lesson-open', h('a', { href: `/relic/${encodeURIComponent(s.relic_id)}` }, lt('lesson_open_work'))));
  }

  function answered(i, res) {
    progress.answers[i] = { correct: !!res.correct };
    store.set(lesson.id, progress);
    if (opts.onAnswer) opts.onAnswer(i, !!res.correct);
  }

  function renderQuestion(i) {
    const s = steps[i];
    clear(question);
    const q = s && s.question;
    if (!q) { question.hidden = true; return; }
    question.hidden = false;
    const prompt = pick(q.prompt);
    const fb = h('p.lesson-feedback', { role: 'status' });
    const prior = progress.answers[i];
    if (prior) { fb.textContent = `${lt('q_answered')}: ${prior.correct ? lt('q_right') : lt('q_wrong')}`; fb.dataset.correct = String(prior.correct); }
    question.append(h('h3.lesson-prompt', { lang: tag(prompt.lang) }, prompt.text));
    // In a classroom the answer goes to the session, which checks it and counts it.
    const check = opts.check ? (body) => opts.check(i, body)
      : (body) => send('POST', `${lessonUrl(lesson.id)}/check`, { step: i, ...body }).then((r) => r.body);
    if (q.type === 'choice') {
      const name = `q-${lesson.id}-${i}`;
      const opts2 = (q.choices || []).map((c, k) => {
        const p = pick(c);
        return h('label.lesson-choice', h('input', { type: 'radio', name, value: String(k) }), h('span', { lang: tag(p.lang) }, p.text));
      });
      const btn = h('button.btn-ink.lesson-check', { type: 'button' }, lt('q_check'));
      btn.addEventListener('click', async () => {
        const sel = question.querySelector(`input[name="${name}"]:checked`);
        if (!sel) { fb.textContent = lt('q_choose'); return; }
        btn.disabled = true;
        try {
          const res = await check({ choice: Number(sel.value) });
          fb.textContent = res.correct ? lt('q_right') : lt('q_wrong');
          fb.dataset.correct = String(res.correct);
          for (const l of question.querySelectorAll('.lesson-choice')) l.classList.remove('right');
          opts2[res.answer.choice]?.classList.add('right');
          answered(i, res);
        } catch (e) { fb.textContent = t('error_load', { msg: e.message }); } finally { btn.disabled = false; }
      });
      question.append(h('fieldset.lesson-choices', h('legend.visually-hidden', prompt.text), opts2), btn, fb);
    } else if (q.type === 'find') {
      question.append(h('p.hint', lt('q_find_hint')), fb);
      const target = q.target || {};
      const v = views.find((x) => x.relic_id === target.relic_id && (x.canvas || {}).n === target.canvas) || views[0];
      if (!v) return;
      let busy = false;
      v.onClick = async (pt) => {
        if (busy) return;
        busy = true;
        const mk = v.mark(pt);
        try {
          const res = await check({ point: pt, canvas: target.canvas, relic_id: target.relic_id });
          fb.textContent = res.correct ? lt('q_right') : lt('q_wrong_find');
          fb.dataset.correct = String(res.correct);
          mk.classList.add(res.correct ? 'right' : 'wrong');
          if (res.answer && res.answer.xywh) v.frame(res.answer.xywh, 'answer');
          answered(i, res);
        } catch (e) { fb.textContent = t('error_load', { msg: e.message }); } finally { busy = false; }
      };
    }
  }

  async function renderStage(i) {
    const my = ++seq;
    for (const v of views) v.destroy();
    views = [];
    clear(stage);
    const s = steps[i];
    if (!s || s.kind === 'hidden') return;
    const refs = s.kind === 'compare' ? [s.a, s.b] : [{ ...s }];
    stage.classList.toggle('compare', s.kind === 'compare');
    const made = await Promise.all(refs.map((r, k) => regionViewer(r, s.kind === 'compare' ? `${lt('lesson_compare')} ${k + 1}` : null).catch((e) => { console.warn(e); return null; })));
    if (my !== seq) { for (const v of made) v && v.destroy(); return; }
    views = made.filter(Boolean).map((v, k) => Object.assign(v, { relic_id: refs[k].relic_id, ref: refs[k] }));
    for (const v of views) {
      stage.append(v.el);
      v.viewer.addHandler('canvas-click', (e) => {
        if (!e.quick || !v.onClick) return;
        e.preventDefaultAction = true;
        v.onClick(v.toCanvas(e.position));
      });
      v.viewer.addHandler('animation-finish', () => { if (opts.onView && views[0] === v) opts.onView(index, v.visible()); });
    }
    window.__dqLessonViews = views; // for the browser tests and the console
    renderQuestion(i);
  }

  const player = {
    el,
    get index() { return index; },
    get views() { return views; },
    // keep: 1 leaves the stored place alone (the first step shown on opening a link, while
    // "continue where you left off" is still on offer)
    go(i, keep = 0) {
      if (!steps.length) return;
      i = Math.max(0, Math.min(steps.length - 1, i));
      const changed = i !== index;
      index = i;
      if (!keep) {
        progress.step = i;
        store.set(lesson.id, progress);
      }
      counter.textContent = lt('lesson_step_n', { i: i + 1, n: steps.length });
      bar.setAttribute('aria-valuenow', String(i + 1));
      bar.firstChild.style.width = `${((i + 1) / steps.length) * 100}%`;
      prev.disabled = i === 0;
      next.disabled = i === steps.length - 1;
      done.hidden = i !== steps.length - 1;
      renderText();
      if (changed) renderStage(i); else renderQuestion(i);
      el.dataset.step = String(i);
      if (changed && opts.onStep) opts.onStep(i);
    },
    // Shows the region xywh (canvas pixels) of the current step's first view (teacher-paced).
    show(xywh) { if (views[0] && xywh) views[0].fit(xywh, false); },
    setLocked(on) { prev.hidden = next.hidden = !!on; el.classList.toggle('locked', !!on); },
    destroy() { seq++; for (const v of views) v.destroy(); views = []; document.removeEventListener('keydown', onKey, true); offLang(); },
  };
  function onKey(e) {
    const tg = e.target;
    if (e.altKey || e.ctrlKey || e.metaKey || (tg && /^(INPUT|TEXTAREA|SELECT)$/.test(tg.tagName))) return;
    if (el.classList.contains('locked')) return;
    if (e.key === 'ArrowRight' && tg && !tg.closest('.osd')) { player.go(index + 1); e.preventDefault(); }
    if (e.key === 'ArrowLeft' && tg && !tg.closest('.osd')) { player.go(index - 1); e.preventDefault(); }
  }
  document.addEventListener('keydown', onKey, true);
  const offLang = onLangChange(() => { renderText(); renderQuestion(index); });
  return player;
}

// ---------------------------------------------------------------- share: embed, content state

function copyBox(id, value, rows = 1) {
  const area = rows > 1 ? h(`textarea#${id}.copy-box`, { rows, readOnly: true }, value) : h(`input#${id}.copy-box`, { readOnly: true, value });
  const btn = h('button.btn-line', { type: 'button' }, lt('copy'));
  btn.addEventListener('click', async () => {
    area.select();
    try { await navigator.clipboard.writeText(value); } catch { document.execCommand?.('copy'); }
    btn.textContent = lt('copied');
  });
  return h('div.copy-row', area, btn);
}

export function embedCode(lesson) {
  const src = `${location.origin}/lesson/${encodeURIComponent(lesson.id)}?embed=1`;
  const title = pick(lesson.title).text.replace(/"/g, '&quot;');
  return `<iframe src="${src}" title="${title}" width="960" height="640" style="border:0" allow="fullscreen" loading="lazy"></iframe>`;
}

export function contentStateLinks(lesson) {
  return (lesson.steps || []).map((s, i) => {
    const enc = lesson.content_state && lesson.content_state[i];
    if (!enc) return null;
    const relic = s.kind === 'compare' ? s.a.relic_id : s.relic_id;
    return `${location.origin}/relic/${encodeURIComponent(relic)}?iiif-content=${enc}`;
  }).filter(Boolean);
}

function shareTools(lesson) {
  const embed = h('details.lesson-share#lesson-embed', h('summary', lt('embed')), h('p.hint', lt('embed_hint')), copyBox('embed-code', embedCode(lesson)));
  const links = contentStateLinks(lesson);
  const cs = h('details.lesson-share#lesson-export', h('summary', lt('export_cs')), h('p.hint', lt('export_cs_hint')),
    h('ol.cs-links', links.map((u) => h('li', h('a', { href: u, 'data-external': '' }, u)))), copyBox('cs-all', links.join('\n'), 4));
  return [embed, cs];
}

// ---------------------------------------------------------------- pages

async function listPage(ctx) {
  const res = await getJSON('/api/lessons');
  const join = h('form.class-join#class-join', h('label', { for: 'join-code' }, lt('class_join')),
    h('input#join-code', { autocomplete: 'off', inputmode: 'latin', maxLength: 8, pattern: '[A-Za-z0-9]{4,8}', required: true }),
    h('button.btn-ink', { type: 'submit' }, lt('class_join_go')));
  join.addEventListener('submit', (e) => { e.preventDefault(); ctx.navigate(`/class/${encodeURIComponent(join.querySelector('input').value.trim().toUpperCase())}`); });
  const cards = res.items.map((l) => h('li.lesson-card', h('a', { href: `/lesson/${encodeURIComponent(l.id)}` }, h('strong', { lang: tag(pick(l.title).lang) }, pick(l.title).text)),
    l.summary ? h('p', pick(l.summary).text) : null, h('p.hint', lt('lesson_steps_n', { n: l.n_steps }))));
  const el = h('section.page.lessons-page', h('h1', lt('lessons')), join,
    hasRole('educator') ? h('p', h('a.btn-line#lesson-new', { href: '/lesson/new' }, lt('lesson_new'))) : null,
    cards.length ? h('ul.lesson-list', cards) : h('p.hint', lt('lessons_none')),
    h('p', h('a', { href: '/glossary' }, lt('glossary'))));
  return { el, title: lt('lessons') };
}

async function handoutPage(ctx, lesson) {
  const steps = lesson.steps || [];
  const crop = (ref, w) => {
    const x = ref.xywh;
    return work(ref.relic_id).then(async (wk) => {
      const src = sourceOf(wk, ref);
      // print resolution: about 300 dpi across a 13 cm column, or the region's own pixels when
      // it has fewer (IIIF Image 3.0 §4.2: without "^" a size may not exceed the region). On a
      // layer or photograph the region's pixels are its share of that image's size.
      let rw = x[2], rh = x[3];
      if (!src.own && src.canvas && src.canvas.width) {
        const info = await getJSON(`${src.service}/info.json`);
        rw = (x[2] / src.canvas.width) * info.width;
        rh = (x[3] / src.canvas.height) * info.height;
      }
      const size = Math.max(rw, rh) > w ? `!${w},${w}` : 'max';
      return h('img.handout-crop', { src: `${src.service}/${regionOf(src, x)}/${size}/0/default.jpg`, alt: pick(wk.relic.title).text });
    }).catch(() => null);
  };
  const items = await Promise.all(steps.map(async (s, i) => {
    if (s.kind === 'hidden') return null;
    const title = s.title && pick(s.title).text;
    const imgs = s.kind === 'compare' ? await Promise.all([crop(s.a, 900), crop(s.b, 900)]) : [await crop(s, 1600)];
    const q = s.question;
    let qel = null;
    if (q) {
      const p = pick(q.prompt);
      qel = h('div.handout-q', h('p.handout-prompt', { lang: tag(p.lang) }, `${i + 1}. ${p.text}`),
        q.type === 'choice' ? h('ul.handout-choices', (q.choices || []).map((c) => h('li', '☐ ', pick(c).text))) : h('p', lt('handout_answer_here')));
    }
    const what = [
      s.layer ? h('p.lesson-kind', lt('lesson_layer', { layer: s.layer })) : null,
      s.spectral ? h('p.lesson-kind.lesson-spectral', lt('lesson_spectral', { layer: spectralName(s.spectral.layer), capture: s.spectral.capture })) : null,
      s.condition_record ? conditionSummary(s.condition_record) : null];
    return h('section.handout-step', h('h2', `${i + 1}${title ? '. ' + title : ''}`),
      h('div.handout-imgs', imgs), what, pick(s.text).text ? h('p', { lang: tag(pick(s.text).lang) }, pick(s.text).text) : null, qel);
  }));
  const key = steps.map((s, i) => {
    const q = s.question;
    if (!q || q.answer === undefined) return null;
    return h('li', `${i + 1}. ${pick(q.choices[q.answer]).text}`);
  }).filter(Boolean);
  const el = h('section.page.handout-page',
    h('p.no-print', h('a', { href: `/lesson/${encodeURIComponent(lesson.id)}` }, '← ', pick(lesson.title).text), ' ',
      h('button.btn-ink#handout-print', { type: 'button', onclick: () => window.print() }, lt('handout_print'))),
    h('h1', pick(lesson.title).text),
    lesson.summary ? h('p.handout-summary', pick(lesson.summary).text) : null,
    items, key.length ? h('section.handout-key', h('h2', lt('handout_answers')), h('ul', key)) : null,
    h('p.handout-foot', `${location.origin}/lesson/${lesson.id}`));
  document.body.classList.add('handout');
  return { el, title: `${pick(lesson.title).text} · ${lt('handout_title')}`, destroy() { document.body.classList.remove('handout'); } };
}

export async function render(ctx) {
  ensureLessonCss();
  if (!ctx.params.id) return listPage(ctx);
  const lesson = await getJSON(lessonUrl(ctx.params.id));
  if (ctx.params.view === 'handout') return handoutPage(ctx, lesson);
  const embed = ctx.query.get('embed') === '1';
  document.body.classList.toggle('embed', embed);
  const saved = store.get(lesson.id);
  const q = Number(ctx.query.get('step'));
  const player = createPlayer(lesson, { embed });
  const me = currentUser();
  const editor = me && (me.user === lesson.author || hasRole('admin'));
  const title = pick(lesson.title);
  const tools = embed ? null : h('div.lesson-tools',
    h('a.btn-line#lesson-handout', { href: `/lesson/${encodeURIComponent(lesson.id)}/handout` }, lt('handout')),
    editor ? h('a.btn-line#lesson-edit', { href: `/lesson/${encodeURIComponent(lesson.id)}/edit` }, lt('lesson_edit')) : null,
    hasRole('educator') ? h('a.btn-line#class-start', { href: `/class/new?lesson=${encodeURIComponent(lesson.id)}` }, lt('class_start')) : null,
    shareTools(lesson));
  // One link starts at step 1; a learner who was here before may pick up where they left off.
  const resume = !embed && !(q > 0) && saved.step > 0 && saved.step < (lesson.steps || []).length
    ? h('p.lesson-resume', h('button.btn-line#lesson-resume', { type: 'button', onclick: (e) => { player.go(saved.step); e.target.closest('p').remove(); } }, lt('lesson_resume', { i: saved.step + 1 }))) : null;
  const el = h('section.page.lesson-page',
    embed ? null : h('p.crumbs', h('a', { href: '/lessons' }, lt('lessons'))),
    h('h1', { lang: tag(title.lang) }, title.text),
    lesson.summary && pick(lesson.summary).text ? h('p.lesson-summary', pick(lesson.summary).text) : null,
    resume, player.el, tools);
  window.__dqLesson = player; // for the browser tests and the console
  queueMicrotask(() => player.go(q > 0 ? q - 1 : 0, resume ? 1 : 0));
  return { el, title: title.text, destroy() { player.destroy(); document.body.classList.remove('embed'); } };
}

