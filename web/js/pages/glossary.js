// Glossary page (issue 17): /glossary lists the entries of motifs and techniques (searchable
// in Chinese, pinyin or English: GET /api/glossary?q=), /glossary/{key} shows one with its
// definition in both languages, cross references and its annotated examples across the
// collection, each a crop of the painting that opens the work at that place (IIIF Content
// State). Educators and above may add entries (POST /api/glossary).
import { t, pick, tag } from '../i18n.js';
import { h, clear } from '../dom.js';
import { getJSON, getRelic, send } from '../api.js';
import { hasRole, sessionLost } from '../session.js';
import { regionState, shareUrl } from '../contentstate.js';
import { lt } from '../lesson-strings.js';
import { ensureLessonCss } from './lesson.js';

export const name = 'glossary';

function bi(map) {
  const p = pick(map);
  const o = pick(map, p.lang === 'zh' ? 'en' : 'zh');
  return [h('span.gloss-main', { lang: tag(p.lang) }, p.text), o.text && o.lang !== p.lang ? h('span.gloss-other', { lang: tag(o.lang) }, o.text) : null];
}

function entryCard(e, { full = false } = {}) {
  const term = h(full ? 'h1.gloss-term-h' : 'h2.gloss-term-h',
    full ? bi(e.term) : h('a', { href: `/glossary/${encodeURIComponent(e.key)}` }, bi(e.term)),
    e.pinyin ? h('span.pinyin', { lang: 'zh-Latn-pinyin' }, e.pinyin) : null,
    h('span.gloss-cat', lt(`cat_${e.category}`)));
  const defs = ['zh', 'en'].filter((l) => e.definition && e.definition[l]).map((l) => h('p.gloss-def', { lang: tag(l) }, e.definition[l]));
  const see = (e.see_also || []).length ? h('p.gloss-see', lt('glossary_see_also'), ': ',
    e.see_also.map((k, i) => [i ? ' · ' : '', h('a', { href: `/glossary/${encodeURIComponent(k)}` }, k)])) : null;
  return h('article.gloss-entry', { id: `g-${e.key}`, 'data-key': e.key }, term, full ? defs : defs.slice(0, 1), see);
}

// The image of canvas n of a relic document (the n-th image, as the manifest numbers them).
function canvasImage(relic, n) {
  const imgs = relic.images || [];
  return (imgs[n - 1] || imgs[0] || {}).image_id || null;
}

async function examples(e) {
  const list = h('ul.gloss-examples');
  if (!(e.examples || []).length) return h('p.hint', lt('glossary_no_examples'));
  const relics = new Map();
  for (const x of e.examples) {
    if (!relics.has(x.relic_id)) relics.set(x.relic_id, getRelic(x.relic_id).catch(() => null));
    const relic = await relics.get(x.relic_id);
    if (!relic) continue;
    const img = canvasImage(relic, x.canvas);
    const [rx, ry, rw, rh] = x.xywh;
    const canvasId = `${location.origin}/iiif/presentation/3/${encodeURIComponent(x.relic_id)}/canvas/${x.canvas}`;
    const manifestId = `${location.origin}/iiif/presentation/3/${encodeURIComponent(x.relic_id)}/manifest`;
    const href = shareUrl(x.relic_id, regionState({ canvasId, manifestId, xywh: x.xywh }));
    const note = pick(x.text);
    list.append(h('li.gloss-example',
      h('a', { href },
        img ? h('img', { src: `/iiif/3/${encodeURIComponent(img)}/${rx},${ry},${rw},${rh}/!240,240/0/default.jpg`, alt: note.text, loading: 'lazy' }) : null,
        h('span.gloss-ex-title', pick(relic.title).text)),
      h('p.gloss-ex-note', { lang: tag(note.lang) }, note.text)));
  }
  return list;
}

function newEntryForm(onSaved) {
  const f = (id, label, el) => h('p.field', h('label', { for: id }, label), el);
  const key = h('input#g-key', { required: true, pattern: '[a-z0-9-]{1,63}' });
  const cat = h('select#g-cat', ['motif', 'technique', 'composition', 'format', 'mark', 'material'].map((c) => h('option', { value: c }, lt(`cat_${c}`))));
  const zh = h('input#g-zh'), en = h('input#g-en'), py = h('input#g-py');
  const dzh = h('textarea#g-dzh', { rows: 3 }), den = h('textarea#g-den', { rows: 3 });
  const err = h('p.form-err', { role: 'alert' });
  const form = h('form.gloss-form', { hidden: true },
    f('g-key', 'key', key), f('g-cat', lt('ed_kind'), cat), f('g-zh', '中文', zh), f('g-en', 'English', en), f('g-py', 'pinyin', py),
    f('g-dzh', '释义（中文）', dzh), f('g-den', 'Definition (English)', den), err, h('button.btn-ink', { type: 'submit' }, lt('ed_save')));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { key: key.value.trim(), category: cat.value, term: { zh: zh.value.trim(), en: en.value.trim() }, definition: {} };
    if (py.value.trim()) body.pinyin = py.value.trim();
    if (dzh.value.trim()) body.definition.zh = dzh.value.trim();
    if (den.value.trim()) body.definition.en = den.value.trim();
    try { await send('POST', '/api/glossary', body); onSaved(body.key); } catch (ex) {
      if (ex.status === 401) sessionLost();
      err.textContent = ex.fields ? Object.entries(ex.fields).map(([k, v]) => `${k}: ${v}`).join('; ') : ex.message;
    }
  });
  return form;
}

export async function render(ctx) {
  ensureLessonCss();
  const key = ctx.params.key;
  if (key) {
    const e = await getJSON(`/api/glossary/${encodeURIComponent(key)}`);
    const el = h('section.page.glossary-page',
      h('p.crumbs', h('a', { href: '/glossary' }, lt('glossary'))),
      entryCard(e, { full: true }),
      h('h2', lt('glossary_examples')), h('div.gloss-ex-slot', h('p.hint', t('loading'))));
    examples(e).then((x) => clear(el.querySelector('.gloss-ex-slot')).append(x)).catch((ex) => console.warn(ex));
    return { el, title: pick(e.term).text };
  }
  const q = ctx.query.get('q') || '';
  const res = await getJSON(`/api/glossary?limit=500${q ? `&q=${encodeURIComponent(q)}` : ''}`);
  const input = h('input#gloss-q', { type: 'search', value: q, placeholder: lt('glossary_search') });
  const form = h('form.gloss-search', { role: 'search' }, h('label.visually-hidden', { for: 'gloss-q' }, lt('glossary_search')), input,
    h('button.btn-ink', { type: 'submit' }, t('search_go')));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); ctx.navigate(`/glossary${input.value.trim() ? `?q=${encodeURIComponent(input.value.trim())}` : ''}`); });
  const cats = ['composition', 'motif', 'technique', 'format', 'mark', 'material'];
  const body = [];
  if (!res.items.length) body.push(h('p.hint', lt('glossary_none')));
  else if (q) body.push(h('div.gloss-list', res.items.map((e) => entryCard(e))));
  else for (const c of cats) {
    const items = res.items.filter((e) => e.category === c);
    if (items.length) body.push(h('section.gloss-cat-sec', h('h2', lt(`cat_${c}`)), h('div.gloss-list', items.map((e) => entryCard(e)))));
  }
  let add = null;
  if (hasRole('educator')) {
    const f = newEntryForm((k) => ctx.navigate(`/glossary/${encodeURIComponent(k)}`));
    add = [h('button.btn-line#gloss-new', { type: 'button', onclick: () => { f.hidden = !f.hidden; } }, lt('glossary_new')), f];
  }
  const el = h('section.page.glossary-page', h('h1', lt('glossary')), form, add, h('p.hint', t('results_count', { n: res.total })), body);
  return { el, title: lt('glossary') };
}
