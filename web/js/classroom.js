// classroom.js: a live lesson (issue 17; docs/api.md "Classroom"), without headsets or
// student accounts. /class/new?lesson=l3 opens a session and leads to /class/{code}?teach=1,
// the teacher's view: the lesson player, the join code in large letters, teacher-paced or
// student-paced, and an anonymous dashboard (how many are on each step, answered, right;
// where the class is looking, drawn over the painting). /class/{code} is a learner's view:
// they join with the code alone, follow the teacher's step and view live over server-sent
// events (EventSource) in teacher-paced mode, or explore on their own in student-paced
// mode; their answers are checked and counted, never attributed.
import { pick, tag } from './i18n.js';
import { h, clear } from './dom.js';
import { getJSON, send } from './api.js';
import { lt } from './lesson-strings.js';
import { createPlayer, ensureLessonCss, lessonUrl } from './pages/lesson.js';

export const name = 'classroom';

const classUrl = (code) => `/api/classes/${encodeURIComponent(code)}`;

// Calls fn at most once per ms, always with the latest arguments (trailing call kept).
function throttle(fn, ms) {
  let last = 0, timer = null, args = null;
  return (...a) => {
    args = a;
    const wait = last + ms - Date.now();
    if (wait <= 0 && !timer) { last = Date.now(); fn(...args); return; }
    if (!timer) timer = setTimeout(() => { timer = null; last = Date.now(); fn(...args); }, Math.max(0, wait));
  };
}

async function openNew(ctx) {
  const lesson = ctx.query.get('lesson');
  const mode = ctx.query.get('mode') === 'student' ? 'student' : 'teacher';
  const r = await send('POST', '/api/classes', { lesson, mode });
  ctx.navigate(`/class/${encodeURIComponent(r.body.code)}?teach=1`, { replace: true });
  return { el: h('div') };
}

function dashboardView(lesson) {
  const table = h('tbody');
  const el = h('section.class-dash#class-dash', { 'aria-live': 'off' }, h('h2', lt('class_dashboard')),
    h('table', h('thead', h('tr', h('th', '#'), h('th', lt('class_on_step')), h('th', lt('ed_question')))), table));
  return {
    el,
    update(d) {
      clear(table);
      (d.steps || []).forEach((s, i) => {
        const q = lesson.steps[i] && lesson.steps[i].question;
        table.append(h('tr', { 'data-step': String(i), class: i === d.step ? 'current' : '' }, h('td', String(i + 1)), h('td.on-step', String(s.on_step)),
          h('td.answers', q ? lt('class_answers', { n: s.answered, k: s.correct }) : '—')));
      });
    },
  };
}

// Draws the class's views (canvas-pixel regions) over the teacher's first viewer.
function heat(player) {
  let els = [];
  return (views) => {
    const v = player.views[0];
    for (const e of els) v?.viewer.removeOverlay(e);
    els = [];
    if (!v) return;
    for (const r of views || []) {
      const el = v.frame(r, 'class-heat');
      el.classList.add('class-heat');
      els.push(el);
    }
  };
}

async function teacherPage(ctx, code) {
  let d = await getJSON(classUrl(code));
  const lesson = await getJSON(lessonUrl(d.lesson));
  const post = (body) => send('POST', `${classUrl(code)}/state`, body).catch((e) => console.warn('class state', e.message));
  const sendView = throttle((view) => post({ view }), 300);
  const player = createPlayer(lesson, {
    onStep: (i) => post({ step: i }),
    onView: (i, view) => { if (view) sendView(view); },
  });
  const dash = dashboardView(lesson);
  const draw = heat(player);
  const learners = h('span.class-learners#class-learners', lt('class_learners', { n: d.learners }));
  const modeSel = h('select#class-mode', ['teacher', 'student'].map((m) => h('option', { value: m, selected: d.mode === m }, lt(`class_mode_${m}`))));
  modeSel.addEventListener('change', () => post({ mode: modeSel.value }));
  const end = h('button.btn-line.danger#class-end', { type: 'button' }, lt('class_end'));
  end.addEventListener('click', async () => { await post({ end: true }); ctx.navigate(`/lesson/${encodeURIComponent(lesson.id)}`); });
  const es = new EventSource(`${classUrl(code)}/events`);
  es.addEventListener('dashboard', (e) => {
    d = JSON.parse(e.data);
    learners.textContent = d.ended ? lt('class_ended') : lt('class_learners', { n: d.learners });
    dash.update(d);
    draw(d.views);
    // Ended here or elsewhere (another tab, the server's idle expiry): the stream ends with
    // the session, and an EventSource left open would reconnect to it every few seconds.
    if (d.ended) {
      es.close();
      modeSel.disabled = end.disabled = true;
    }
  });
  dash.update(d);
  const el = h('section.page.lesson-page.class-page',
    h('div.class-bar', h('span', lt('class_code'), ': '), h('span.class-code#class-code', code),
      h('span.hint', `${location.origin}/class/${code}`), learners,
      h('label', { for: 'class-mode' }, lt('ed_kind')), modeSel, end),
    h('h1', { lang: tag(pick(lesson.title).lang) }, pick(lesson.title).text), player.el, dash.el);
  window.__dqLesson = player;
  window.__dqClass = { role: 'teacher', code, get dashboard() { return d; }, get streaming() { return es.readyState !== EventSource.CLOSED; } };
  queueMicrotask(() => player.go(d.step || 0));
  return { el, title: `${lt('class_code')} ${code}`, destroy() { es.close(); player.destroy(); } };
}

async function learnerPage(ctx, code) {
  const key = `danqing.class.${code}`;
  let token = sessionStorage.getItem(key), state;
  if (!token) {
    const r = await send('POST', `${classUrl(code)}/join`).catch((e) => e);
    if (r instanceof Error) return { el: h('section.page.message', h('p', { role: 'alert' }, r.status === 410 ? lt('class_ended') : lt('class_join_bad'))) };
    token = r.body.learner;
    state = r.body.state;
    sessionStorage.setItem(key, token);
  }
  const lessonId = state ? state.lesson : null;
  let lesson = lessonId ? await getJSON(lessonUrl(lessonId)) : null;
  let mode = state ? state.mode : 'teacher';
  const progress = throttle((step, view) => send('POST', `${classUrl(code)}/progress`, { learner: token, step, view: view || null }).catch(() => {}), 1000);
  const status = h('p.class-status#class-status', { role: 'status' });
  const slot = h('div');
  let player = null;
  const start = (l) => {
    lesson = l;
    player = createPlayer(lesson, {
      onStep: (i) => progress(i, null),
      onView: (i, view) => progress(i, view),
      check: (i, body) => send('POST', `${classUrl(code)}/answer`, { learner: token, step: i, ...body }).then((r) => r.body),
    });
    slot.append(h('h1', { lang: tag(pick(lesson.title).lang) }, pick(lesson.title).text), player.el);
    window.__dqLesson = player;
  };
  const apply = (s) => {
    mode = s.mode;
    status.textContent = s.ended ? lt('class_ended') : mode === 'teacher' ? lt('class_following') : lt('class_free');
    if (!player) return;
    player.setLocked(mode === 'teacher' && !s.ended);
    if (mode === 'teacher' && !s.ended) {
      if (player.index !== s.step) player.go(s.step);
      if (s.view) setTimeout(() => player.show(s.view), 50);
    }
  };
  const es = new EventSource(`${classUrl(code)}/events?learner=${encodeURIComponent(token)}`);
  const seen = [];
  let starting = null; // one player, however many events arrive while the lesson loads
  es.addEventListener('state', async (e) => {
    const s = JSON.parse(e.data);
    seen.push(s.seq);
    if (!player) {
      starting = starting || (lesson ? Promise.resolve(lesson) : getJSON(lessonUrl(s.lesson))).then((l) => { if (!player) start(l); });
      await starting;
    }
    apply(s);
    if (s.ended) es.close();
  });
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) status.textContent = lt('class_ended'); };
  window.__dqClass = { role: 'learner', code, seen, get mode() { return mode; } };
  const el = h('section.page.lesson-page.class-page', h('div.class-bar', h('span', lt('class_code'), ': '), h('span.class-code', code), status), slot);
  return { el, title: `${lt('class_code')} ${code}`, destroy() { es.close(); player?.destroy(); } };
}

export async function render(ctx) {
  ensureLessonCss();
  const code = ctx.params.code;
  if (code === 'new') return openNew(ctx);
  if (ctx.query.get('teach') === '1') return teacherPage(ctx, code);
  return learnerPage(ctx, code.toUpperCase());
}
