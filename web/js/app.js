// app.js: start-up. Picks the language, wires the masthead (search box, language switch,
// navigation) and renders the page for the current URL. Each page module exports
// render(ctx) -> {el, title, destroy?} and is rendered again on a language switch.
import { detectLang, setLang, lang, otherLang, onLangChange, t } from './i18n.js';
import { route, match, start, navigate } from './router.js';
import { loadVocab } from './api.js';
import { h, clear } from './dom.js';
import { mountAccount, restoreSession, onSessionChange, relabel } from './session.js';
import * as home from './pages/home.js';
import * as search from './pages/search.js';
import * as relic from './pages/relic.js';
import * as scroll from './pages/scroll.js';
import * as compare from './pages/compare.js';
import * as lesson from './pages/lesson.js';
import * as lessonEdit from './pages/lesson-edit.js';
import * as glossary from './pages/glossary.js';
import * as classroom from './classroom.js';
import * as stylemap from './pages/stylemap.js';
import * as living from './pages/living.js';

route('/', home);
route('/search', search);
route('/relic/:id', relic);
route('/scroll/:id', scroll);
route('/compare', compare);
// teaching (issue 17): lessons, their editor and handout, the glossary, classroom sessions
route('/lessons', lesson);
route('/lesson/new', lessonEdit);
route('/lesson/:id/edit', lessonEdit);
route('/lesson/:id/handout', { name: 'lesson', render: (ctx) => lesson.render({ ...ctx, params: { ...ctx.params, view: 'handout' } }) });
route('/lesson/:id', lesson);
route('/glossary', glossary);
route('/glossary/:key', glossary);
route('/class/:code', classroom);
route('/style-map', stylemap);
route('/living/:id', living);
route('/living', living); // issue 16: ?manifest= another collection's work

const main = document.getElementById('main');
let current = null;
let seq = 0;

async function render(keepScroll) {
  const my = ++seq;
  const m = match(location.pathname);
  const page = m ? m.page : null;
  const ctx = { params: m ? m.params : {}, query: new URLSearchParams(location.search), navigate };
  document.body.dataset.page = page ? page.name : 'missing';
  for (const a of document.querySelectorAll('[data-nav]')) {
    const on = page && a.dataset.nav === page.name;
    if (on) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const q = document.getElementById('q-top');
  if (q && document.activeElement !== q) q.value = page === search ? ctx.query.get('q') || '' : '';
  let out;
  try {
    await loadVocab();
    out = page ? await page.render(ctx) : { el: h('section.page.message', h('p', t('page_not_found'))), title: t('page_not_found') };
  } catch (err) {
    console.warn(err);
    out = { el: h('section.page.message', h('p', { role: 'alert' }, err.status === 404 ? t('not_found') : t('error_load', { msg: err.message }))) };
  }
  if (my !== seq) { if (out && out.destroy) out.destroy(); return; }
  if (current && current.destroy && current !== out) current.destroy();
  current = out;
  clear(main).append(out.el);
  document.title = out.title ? `${out.title} · ${t('site_name')}` : `${t('site_name')} · ${t('site_tagline')}`;
  if (!keepScroll) window.scrollTo(0, 0);
  if (out.focus) out.focus(); else if (!keepScroll && seq > 1) main.focus({ preventScroll: true });
}

function announce(msg) {
  const live = document.getElementById('live');
  live.textContent = '';
  requestAnimationFrame(() => { live.textContent = msg; });
}

function boot() {
  setLang(detectLang(), { save: false });
  document.getElementById('lang-toggle').addEventListener('click', () => {
    setLang(otherLang());
    // keep ?lang= (if any) in step, so a shared link says what the reader saw
    const u = new URL(location.href);
    if (u.searchParams.has('lang')) { u.searchParams.set('lang', lang()); history.replaceState({}, '', u); }
    announce(t('lang_toggle_label', null, otherLang()) && (lang() === 'zh' ? '已切换到中文' : 'Switched to English'));
  });
  onLangChange(() => { relabel(); render(true); });
  mountAccount(document.getElementById('account'));
  document.querySelector('.quick-search').addEventListener('submit', (e) => {
    e.preventDefault();
    const v = document.getElementById('q-top').value.trim();
    navigate(v ? `/search?q=${encodeURIComponent(v)}` : '/search');
  });
  // The page waits for the session (one GET /api/me, only after a sign-in in this browser),
  // so authoring controls appear with the first paint instead of popping in.
  restoreSession().finally(() => {
    onSessionChange(() => render(true));
    start(render);
  });
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', boot); else boot();
