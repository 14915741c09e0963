// Search: one box (Chinese, pinyin or English: the server matches all three), facets, a
// year range, a grid of IIIF thumbnails with titles in the reader's language, cursor
// paging. Everything is in the URL (q, dynasty, object_type, subject, year_from, year_to,
// sort, cursor), so a result page can be shared, bookmarked and gone back to.
import { t, tag, vocabLabel, vocabList, pick, yearText, lang, dateText } from '../i18n.js';
import { searchRelics } from '../api.js';
import { h, txt, snippetParts, highlight } from '../dom.js';
import { COLOURS, L } from '../style.js';

export const name = 'search';
const FILTERS = ['dynasty', 'object_type', 'subject', 'creator', 'medium'];
const KINDS = { dynasty: 'dynasties', object_type: 'object_types', subject: 'subjects' };
const YEAR_MIN = 600, YEAR_MAX = 1950;

// One labelled fact of a card ("Dynasty  Ming"), or null when the record has no value.
function fact(key, value, words, attrs = {}) {
  if (value == null || value === '') return null;
  return h('span.fact', h('span.fact-label', t(key)), ' ', h('span.fact-value', attrs, highlight(value, words)));
}

// Every vocabulary label, either language, lower-cased -> {kind, key}: a hit on one of them
// is a hit on that field (a subject, a dynasty, a type), not on running text.
function vocabLabels() {
  const m = new Map();
  for (const kind of ['dynasties', 'object_types', 'subjects'])
    for (const v of vocabList(kind)) for (const l of [v.zh, v.en]) if (l) m.set(l.toLowerCase(), { kind, key: v.key });
  return m;
}
const FIELD_OF = { dynasties: 'meta_dynasty', object_types: 'meta_type', subjects: 'meta_subject' };

// What the card adds for a hit that its own fields (title, creator, the facts) do not show:
// a hit on a vocabulary label becomes that field, labelled ("Subject  Landscape"); a hit in
// running text (a description, an inscription, a seal) becomes the matched passage,
// labelled, with the catalogue fields the server's match text runs together (accession,
// dynasty, type, subject, date) taken out.
function matchLine(it, visible) {
  const parts = snippetParts(it.snippet);
  const words = parts.filter((p) => p.mark).map((p) => p.text);
  const seen = visible.join(' ').toLowerCase();
  const unseen = words.filter((w) => !seen.includes(w.toLowerCase()));
  if (!unseen.length) return { words, el: null };
  const labels = vocabLabels();
  if (unseen.every((w) => labels.has(w.toLowerCase()))) {
    const fields = [...new Map(unseen.map((w) => [w.toLowerCase(), labels.get(w.toLowerCase())])).values()];
    // the field matched as a whole (perhaps in the other language): mark its label
    return { words, el: h('span.card-facts.card-match-facts', fields.map((f) => {
      const label = vocabLabel(f.kind, f.key);
      return fact(FIELD_OF[f.kind], label, [label], { lang: tag() });
    })) };
  }
  const meta = new Set([...visible.flatMap((v) => String(v).split(/\s+/)), ...labels.keys()].filter(Boolean).map((x) => x.toLowerCase()));
  const kept = [];
  for (const p of parts) {
    if (p.mark) { kept.push(p); continue; }
    const text = p.text.split(/(\s+)/).filter((tok) => !meta.has(tok.trim().toLowerCase()) && !/^[（(]\d+[)）]$/.test(tok.trim())).join('').replace(/\s{2,}/g, ' ');
    if (text.trim()) kept.push({ text, mark: false });
  }
  return { words, el: h('span.card-match', h('span.fact-label', t('snippet_label')), ' ',
    h('span.snippet', { lang: kept.some((p) => /[\u3400-\u9fff]/.test(p.text)) ? 'zh-Hans' : 'en' },
      kept.map((p) => (p.mark ? h('mark', p.text) : p.text)))) };
}

// A result card: thumbnail, title in the reader's language with the other beneath, the
// creator, then labelled facts (dynasty, type, date, accession: only those the record has)
// and, when the hit is elsewhere, the matched passage.
export function card(it, { eager = false, large = false } = {}) {
  const title = pick(it.title);
  const other = pick(it.title, title.lang === 'zh' ? 'en' : 'zh');
  const creator = it.creators && it.creators[0] ? pick(it.creators[0].name) : null;
  const dyn = vocabLabel('dynasties', it.dynasty), type = vocabLabel('object_types', it.object_type);
  const date = dateText(it);
  const visible = [title.text, other.text, creator && creator.text, dyn, type, date, it.accession].filter(Boolean);
  const m = it.snippet ? matchLine(it, visible) : { words: [], el: null };
  const img = it.thumbnail
    ? h('img', { src: it.thumbnail, alt: '', loading: eager ? 'eager' : 'lazy', decoding: 'async' })
    : h('span.noimg', t('no_image'));
  return h(`a.card${large ? '.card-large' : ''}${it.object_type === 'handscroll' ? '.card-wide' : ''}`, { href: `/relic/${encodeURIComponent(it.id)}` },
    h('span.thumb', img),
    h('span.card-body',
      h('span.card-title', { lang: tag(title.lang) }, highlight(title.text, m.words)),
      other.text && other.lang !== title.lang ? h('span.card-sub', { lang: tag(other.lang) }, highlight(other.text, m.words)) : null,
      creator && creator.text ? h('span.card-creator', { lang: tag(creator.lang) }, highlight(creator.text, m.words)) : null,
      h('span.card-facts',
        fact('meta_dynasty', dyn, m.words, { lang: tag() }),
        fact('meta_type', type, m.words, { lang: tag() }),
        fact('meta_date', date, m.words),
        fact('meta_accession', it.accession, m.words)),
      m.el));
}

function stateFrom(query) {
  const s = { q: query.get('q') || '', sort: query.get('sort') || '', cursor: query.get('cursor') || '' };
  for (const f of FILTERS) s[f] = query.get(f) || '';
  s.year_from = query.get('year_from') || '';
  s.year_to = query.get('year_to') || '';
  s.colour = query.get('colour') || '';
  return s;
}

function urlOf(s) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(s)) if (v !== '' && v != null) u.set(k, v);
  const qs = u.toString();
  return qs ? `/search?${qs}` : '/search';
}

function facetLabel(kind, key) {
  if (KINDS[kind]) return vocabLabel(KINDS[kind], key);
  if (kind === 'has_images') return t('facet_has_images');
  return key;
}

function facetGroup(kind, items, s, go) {
  if (!items || !items.length) return null;
  const id = `facet-${kind}`;
  return h('fieldset.facet',
    h('legend', { id }, t(`facet_${kind}`)),
    h('ul', items.slice(0, 12).map((f) => {
      const on = s[kind] === f.key;
      return h('li', h('button.facet-btn', {
        type: 'button', 'aria-pressed': on ? 'true' : 'false',
        onclick: () => go({ ...s, [kind]: on ? '' : f.key, cursor: '' }),
      }, h('span.facet-name', { lang: KINDS[kind] ? tag() : (/[\u3400-\u9fff]/.test(f.key) ? 'zh-Hans' : 'en') }, facetLabel(kind, f.key)), h('span.facet-count', String(f.count))));
    })));
}

function yearRange(s, go) {
  const from = Number(s.year_from || YEAR_MIN), to = Number(s.year_to || YEAR_MAX);
  const out = h('output.year-out', { 'aria-live': 'polite' });
  const lo = h('input#yr-from', { type: 'range', min: YEAR_MIN, max: YEAR_MAX, step: 10, value: from, 'aria-label': `${t('years')} ${t('year_from')}` });
  const hi = h('input#yr-to', { type: 'range', min: YEAR_MIN, max: YEAR_MAX, step: 10, value: to, 'aria-label': `${t('years')} ${t('year_to')}` });
  const fill = h('span.range-fill');
  const show = () => {
    let a = Number(lo.value), b = Number(hi.value);
    if (a > b) { if (document.activeElement === lo) lo.value = a = b; else hi.value = b = a; }
    out.textContent = `${yearText(a)} – ${yearText(b)}`;
    const span = YEAR_MAX - YEAR_MIN;
    fill.style.left = `${((a - YEAR_MIN) / span) * 100}%`;
    fill.style.right = `${100 - ((b - YEAR_MIN) / span) * 100}%`;
  };
  const apply = () => {
    const a = Number(lo.value), b = Number(hi.value);
    go({ ...s, year_from: a > YEAR_MIN ? String(a) : '', year_to: b < YEAR_MAX ? String(b) : '', cursor: '' });
  };
  lo.addEventListener('input', show); hi.addEventListener('input', show);
  lo.addEventListener('change', apply); hi.addEventListener('change', apply);
  show();
  return h('fieldset.facet.years', h('legend', t('years')), h('div.range', h('span.range-track', fill), lo, hi), out);
}

// Search by colour (issue 13): the named mineral colours, or any picked colour.
function colourFilter(s, go) {
  const picked = /^#[0-9a-f]{6}$/i.test(s.colour) ? s.colour : '#507da1';
  const pick = h('input#colour-pick', { type: 'color', value: picked, 'aria-label': L('colour_pick') });
  pick.addEventListener('change', () => go({ ...s, colour: pick.value, cursor: '' }));
  return h('fieldset.facet.colour-filter', h('legend', L('colour')),
    h('ul.colour-list', COLOURS.map(([key, zh, en, hex]) => h('li', h('button.colour-chip', {
      type: 'button', 'aria-pressed': s.colour === key ? 'true' : 'false', 'data-colour': key,
      onclick: () => go({ ...s, colour: s.colour === key ? '' : key, cursor: '' }),
    }, h('span.dot', { style: `background:${hex}` }), h('span', { lang: tag() }, lang() === 'zh' ? zh : en))))),
    h('label.colour-pick', { for: 'colour-pick' }, pick, L('colour_pick')),
    s.colour ? h('button.link-btn', { type: 'button', onclick: () => go({ ...s, colour: '', cursor: '' }) }, L('colour_any')) : null);
}

export async function render(ctx) {
  const s = stateFrom(ctx.query);
  const go = (next) => ctx.navigate(urlOf(next), { keepScroll: false });
  const res = await searchRelics(s);
  const items = res.items || [];
  const f = res.facets || {};
  const active = FILTERS.filter((k) => s[k]).length + (s.year_from || s.year_to ? 1 : 0) + (s.colour ? 1 : 0);
  const input = h('input#q', { type: 'search', name: 'q', value: s.q, autocomplete: 'off', placeholder: t('search_placeholder') });
  const sortSel = h('select#sort', { onchange: (e) => go({ ...s, sort: e.target.value, cursor: '' }) },
    ['', 'date', '-date', 'accession'].map((v) => h('option', { value: v, selected: s.sort === v }, t(v ? `sort_${v.replace('-', '_')}` : 'sort_relevance'))));
  const form = h('form.search-form', { role: 'search', onsubmit: (e) => { e.preventDefault(); go({ ...s, q: input.value.trim(), cursor: '' }); } },
    h('label.visually-hidden', { for: 'q' }, t('search_label')),
    input,
    h('button.btn-ink', { type: 'submit' }, t('search_go')));
  // On a phone the filters fold away under one line above the results (issue 10: the whole
  // column came before any result); on wider screens they stay open beside them.
  const wide = !window.matchMedia || window.matchMedia('(min-width: 901px)').matches;
  const facets = h('aside.facets', { 'aria-label': t('filters') },
    h('h2.facets-title', t('filters')),
    active ? h('button.link-btn', { type: 'button', onclick: () => go({ q: s.q, sort: s.sort }) }, t('clear_filters')) : null,
    facetGroup('dynasty', f.dynasty, s, go),
    yearRange(s, go),
    colourFilter(s, go),
    facetGroup('object_type', f.object_type, s, go),
    facetGroup('subject', f.subject, s, go),
    facetGroup('creator', f.creator, s, go));
  const prevUrl = s.cursor ? urlOf({ ...s, cursor: '' }) : null;
  const nav = h('nav.pager', { 'aria-label': t('page_next') },
    s.cursor ? h('a.btn-line', { href: prevUrl, onclick: (e) => { if (history.length > 1 && history.state) { e.preventDefault(); history.back(); } } }, t('page_prev')) : null,
    s.cursor ? h('a.btn-line', { href: prevUrl }, t('page_first')) : null,
    res.next_cursor ? h('a.btn-line', { href: urlOf({ ...s, cursor: res.next_cursor }), rel: 'next' }, t('page_next')) : null);
  const el = h('div.page.search',
    h('div.search-head', h('h1.page-title', h('span', { lang: tag() }, t('nav_search'))), form),
    h('div.search-layout',
      h('details.facets-fold', { open: wide },
        h('summary.facets-summary', t('filters'), active ? h('span.facet-count', ` ${active}`) : null),
        facets),
      h('section.results', { 'aria-labelledby': 'results-count' },
        h('div.results-bar',
          h('p#results-count.count', { 'aria-live': 'polite' }, t('results_count', { n: res.total ?? items.length })),
          h('label.sort', { for: 'sort' }, t('sort'), ' ', sortSel)),
        items.length ? h('ul.grid', items.map((it) => h('li', card(it)))) : h('p.empty', t('results_none')),
        nav)));
  void txt; void lang; void yearText;
  return { el, title: s.q ? `${s.q} · ${t('nav_search')}` : t('nav_search') };
}
