// Home: a few featured works, the dynasties along a horizontal timeline (scrolled like a
// handscroll, right to left in time order is not forced: left = earlier, as timelines
// read in both languages), and entry points by type and subject.
import { t, vocabLabel, tag, lang, vocabList, yearText } from '../i18n.js';
import { searchRelics } from '../api.js';
import { h, txt } from '../dom.js';
import { card } from './search.js';

export const name = 'home';

function counts(facets, kind) {
  const m = new Map();
  for (const f of (facets && facets[kind]) || []) m.set(f.key, f.count);
  return m;
}

function timeline(dynCounts) {
  // The server's dynasties (GET /api/vocab/dynasties) in its order: those with works, or all
  // of them when the collection has none yet. An era that another one spans (Song over
  // Northern and Southern Song) is left out when its parts are shown, so the track has no
  // overlaps; each era keeps its own years.
  const all = vocabList('dynasties').filter((d) => d.year_from != null && d.year_to != null);
  const shown = all.filter((d) => dynCounts.size === 0 || dynCounts.has(d.key));
  const dyn = shown.filter((d) => !shown.some((o) => o !== d && o.year_from >= d.year_from && o.year_to <= d.year_to && (o.year_from > d.year_from || o.year_to < d.year_to) && shown.filter((p) => p !== d && p.year_from >= d.year_from && p.year_to <= d.year_to).length > 1));
  const lo = Math.min(...dyn.map((d) => d.year_from));
  const hi = Math.max(...dyn.map((d) => Math.min(d.year_to, 1950)));
  const track = h('ol.timeline-track');
  for (const d of dyn) {
    const span = Math.max(30, Math.min(d.year_to, 1950) - d.year_from);
    const n = dynCounts.get(d.key) || 0;
    track.append(h('li.era', { style: { flexGrow: String(span), flexBasis: `${span * 0.55}px` } },
      h('a.era-link', { href: `/search?dynasty=${d.key}`, 'aria-label': `${vocabLabel('dynasties', d.key)} ${yearText(d.year_from)}–${yearText(Math.min(d.year_to, 2030))}, ${t('works_count', { n })}` },
        h('span.era-name', { lang: tag() }, vocabLabel('dynasties', d.key)),
        h('span.era-years', `${yearText(d.year_from)}–${d.year_to > 2000 ? '' : yearText(d.year_to)}`),
        n ? h('span.era-count', t('works_count', { n })) : null)));
  }
  const scroller = h('div.timeline', { tabindex: '0', role: 'region', 'aria-label': t('home_timeline_hint') }, track);
  scroller.dataset.lo = lo; scroller.dataset.hi = hi;
  return scroller;
}

function tiles(kind, facetKind, cmap) {
  const list = h('ul.tiles');
  for (const v of vocabList(kind)) {
    const n = cmap.get(v.key) || 0;
    if (!n && cmap.size) continue;
    list.append(h('li', h('a.tile', { href: `/search?${facetKind}=${v.key}` },
      h('span.tile-zh', { lang: 'zh-Hans' }, vocabLabel(kind, v.key, 'zh')),
      h('span.tile-en', { lang: 'en' }, vocabLabel(kind, v.key, 'en')),
      n ? h('span.tile-count', t('works_count', { n })) : null)));
  }
  return list;
}

export async function render() {
  const [featured, all] = await Promise.all([
    searchRelics({ has_images: 1, limit: 6, sort: 'date' }),
    searchRelics({ limit: 1 }),
  ]);
  const f = all.facets || {};
  const el = h('div.page.home',
    h('section.hero',
      h('div.hero-text',
        h('h1.display', { lang: 'zh-Hans' }, '丹青'),
        h('p.hero-sub', { lang: tag() }, t('home_intro')),
        h('a.btn-ink.hero-cta', { href: '/search' }, t('home_browse_all'), ` · ${t('works_count', { n: all.total ?? '' })}`))),
    h('section.band', { 'aria-labelledby': 'h-featured' },
      h('h2#h-featured.section-title', h('span', { lang: tag() }, t('home_featured'))),
      h('ul.grid.featured', (featured.items || []).slice(0, 6).map((it, i) => h('li', card(it, { eager: i < 3, large: i === 0 }))))),
    h('section.band', { 'aria-labelledby': 'h-time' },
      h('h2#h-time.section-title', h('span', { lang: tag() }, t('home_timeline'))),
      h('p.hint', t('home_timeline_hint')),
      timeline(counts(f, 'dynasty'))),
    h('div.band.two-col',
      h('section', { 'aria-labelledby': 'h-types' },
        h('h2#h-types.section-title', h('span', { lang: tag() }, t('home_types'))),
        tiles('object_types', 'object_type', counts(f, 'object_type'))),
      h('section', { 'aria-labelledby': 'h-subjects' },
        h('h2#h-subjects.section-title', h('span', { lang: tag() }, t('home_subjects'))),
        tiles('subjects', 'subject', counts(f, 'subject')))));
  void lang; void txt;
  return { el, title: null };
}
