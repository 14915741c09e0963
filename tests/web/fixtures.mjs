// fixtures.mjs: stand-ins for the HTTP API (docs/api.md) and for annotation pages and
// tours, built from the sample collection's metadata.jsonl (`danqing generate`). The test
// only answers from here when the real server lacks the endpoint (404 with a non-JSON
// body: the static handler's answer under /api/), so the same tests run against the real
// API once it lands.
import fs from 'node:fs';

const DYN = {
  tang: ['唐', 'Tang'], five_dynasties: ['五代', 'Five Dynasties'], song: ['宋', 'Song'], northern_song: ['北宋', 'Northern Song'],
  southern_song: ['南宋', 'Southern Song'], liao: ['辽', 'Liao'], jin: ['金', 'Jin'], yuan: ['元', 'Yuan'], ming: ['明', 'Ming'],
  qing: ['清', 'Qing'], republic: ['民国', 'Republic'], modern: ['现代', 'Modern'],
};
const YEARS = { tang: [618, 907], five_dynasties: [907, 979], song: [960, 1279], northern_song: [960, 1127], southern_song: [1127, 1279], yuan: [1271, 1368], ming: [1368, 1644], qing: [1644, 1912] };
const TYPES = { handscroll: ['手卷', 'Handscroll'], hanging_scroll: ['立轴', 'Hanging scroll'], album_leaf: ['册页', 'Album leaf'], fan: ['扇面', 'Fan'], calligraphy: ['书法', 'Calligraphy'], other: ['其他', 'Other'] };
const SUBJ = { landscape: ['山水', 'Landscape'], bird_and_flower: ['花鸟', 'Bird and flower'], figure: ['人物', 'Figure'], calligraphy: ['书法', 'Calligraphy'], other: ['其他', 'Other'] };

export function imageIdOf(accession) { return accession; } // ingested under the accession, as make demo does

// metadata.jsonl line -> the API's relic document
export function toRelic(m) {
  const id = m.accession.toLowerCase();
  return {
    id, accession: m.accession,
    title: { zh: m.title_zh, en: m.title_en, pinyin: m.title_pinyin },
    creators: (m.creators || []).map((c) => ({ name: { zh: c.name_zh, en: c.name_en }, dates: c.dates, role: c.role })),
    dynasty: m.dynasty, date_text: m.date_text, year_from: m.year_from, year_to: m.year_to,
    object_type: m.object_type, subject: [].concat(m.subject || []),
    medium: { zh: m.medium_zh, en: m.medium_en }, support: m.support, dimensions_cm: m.dimensions_cm,
    inscriptions: (m.inscriptions || []).map((i) => ({ ...i, lang: 'zh' })),
    seals: m.seals || [], provenance: [{ year: 1950, text: { zh: '丹青样本藏品', en: 'danqing sample collection' } }],
    description: { zh: m.description_zh, en: m.description_en }, rights: m.rights, restricted: false, school: m.school,
    images: [{ image_id: imageIdOf(m.accession), role: 'main', label: { zh: '全图', en: 'Whole work' } }],
    created_at: '2026-11-24T00:00:00Z', updated_at: '2026-11-24T00:00:00Z', version: 1,
  };
}

function hay(r) {
  const parts = [r.title.zh, r.title.en, r.title.pinyin, r.medium.zh, r.medium.en, r.description.zh, r.description.en,
    ...r.creators.flatMap((c) => [c.name.zh, c.name.en]), ...(DYN[r.dynasty] || []), ...(TYPES[r.object_type] || []),
    ...r.subject.flatMap((s) => SUBJ[s] || [])];
  return parts.join(' ').toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

export function makeApi(metadataPath) {
  const relics = fs.readFileSync(metadataPath, 'utf8').split('\n').filter(Boolean).map((l) => toRelic(JSON.parse(l)));
  const byId = new Map(relics.map((r) => [r.id, r]));
  const facetOf = {
    dynasty: (r) => [r.dynasty], object_type: (r) => [r.object_type], subject: (r) => r.subject,
    creator: (r) => r.creators.map((c) => c.name.zh), has_images: (r) => (r.images.length ? ['1'] : []),
  };
  function search(params) {
    const q = (params.get('q') || '').trim().toLowerCase().normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    const filt = (r, except) => {
      if (q && !q.split(/\s+/).every((w) => hay(r).includes(w))) return false;
      for (const k of ['dynasty', 'object_type', 'subject', 'creator']) {
        const v = params.get(k);
        if (v && k !== except && !facetOf[k](r).includes(v)) return false;
      }
      const yf = params.get('year_from'), yt = params.get('year_to');
      if (yf && r.year_to < Number(yf)) return false;
      if (yt && r.year_from > Number(yt)) return false;
      return true;
    };
    let hits = relics.filter((r) => filt(r));
    const sort = params.get('sort') || '';
    if (sort === 'date') hits.sort((a, b) => a.year_from - b.year_from || a.id.localeCompare(b.id));
    else if (sort === '-date') hits.sort((a, b) => b.year_from - a.year_from || a.id.localeCompare(b.id));
    else hits.sort((a, b) => a.id.localeCompare(b.id));
    const limit = Math.max(1, Math.min(100, Number(params.get('limit') || 24)));
    const start = Number(params.get('cursor') || 0);
    const page = hits.slice(start, start + limit);
    const facets = {};
    for (const k of Object.keys(facetOf)) {
      const counts = new Map();
      for (const r of relics.filter((x) => filt(x, k))) for (const v of facetOf[k](r)) counts.set(v, (counts.get(v) || 0) + 1);
      facets[k] = [...counts].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
    }
    return {
      total: hits.length,
      items: page.map((r) => ({
        id: r.id, accession: r.accession, title: r.title, creators: r.creators.map((c) => ({ name: c.name })),
        dynasty: r.dynasty, object_type: r.object_type, date_text: r.date_text, year_from: r.year_from, year_to: r.year_to,
        thumbnail: `/iiif/3/${r.images[0].image_id}/full/!400,400/0/default.jpg`, image_id: r.images[0].image_id,
        snippet: q ? null : null,
      })),
      facets,
      next_cursor: start + limit < hits.length ? String(start + limit) : null,
    };
  }
  const vocab = {
    dynasties: Object.entries(DYN).map(([key, [zh, en]]) => ({ key, zh, en, year_from: (YEARS[key] || [])[0], year_to: (YEARS[key] || [])[1] })),
    object_types: Object.entries(TYPES).map(([key, [zh, en]]) => ({ key, zh, en })),
    subjects: Object.entries(SUBJ).map(([key, [zh, en]]) => ({ key, zh, en })),
  };
  // Answers a URL (path + query) or returns null when the fixture has no such endpoint.
  function answer(url) {
    const u = new URL(url);
    let m;
    if (u.pathname === '/api/relics') return { status: 200, body: search(u.searchParams) };
    if ((m = /^\/api\/relics\/([^/]+)$/.exec(u.pathname))) {
      const r = byId.get(decodeURIComponent(m[1]));
      return r ? { status: 200, body: r } : { status: 404, body: { error: { code: 'not_found', message: 'no such relic' } } };
    }
    if ((m = /^\/api\/relics\/([^/]+)\/tours$/.exec(u.pathname))) {
      const r = byId.get(decodeURIComponent(m[1]));
      return r ? { status: 200, body: { items: [{ id: `t-${r.id}`, relic_id: r.id, title: { zh: '导览', en: 'Tour' }, n_stops: 3, public: true }] } } : null;
    }
    if ((m = /^\/api\/tours\/t-([^/]+)$/.exec(u.pathname))) {
      const r = byId.get(decodeURIComponent(m[1]));
      return r ? { status: 200, body: { id: `t-${r.id}`, relic_id: r.id, title: { zh: '导览', en: 'Tour' }, ...tourFor(r) } } : null;
    }
    if ((m = /^\/api\/vocab\/(\w+)$/.exec(u.pathname)) && vocab[m[1]]) return { status: 200, body: vocab[m[1]] };
    if ((m = /^\/iiif\/presentation\/3\/([^/]+)\/annotations\/1$/.exec(u.pathname))) {
      const r = byId.get(decodeURIComponent(m[1]));
      return r ? { status: 200, body: annotationPage(r, `${u.origin}${u.pathname}`) } : null;
    }
    return null;
  }
  return { relics, answer };
}

// A small AnnotationPage over the work's canvas: the seals and inscriptions it names, placed
// where the generator puts them (right end, left end) in proportion to the image size.
function annotationPage(r, id) {
  const { width: W = 1000, height: H = 1000 } = r._pixels || {};
  const canvas = id.replace(/\/annotations\/1$/, '/canvas/1');
  const regions = [
    [0.86 * W, 0.1 * H, 0.1 * W, 0.5 * H, '引首题字', 'Frontispiece title'],
    [0.45 * W, 0.3 * H, 0.12 * W, 0.35 * H, '山石皴法', 'Texture strokes on the rocks'],
    [0.03 * W, 0.15 * H, 0.1 * W, 0.6 * H, '题跋与钤印', 'Colophon and seals'],
  ];
  return {
    '@context': 'http://iiif.io/api/presentation/3/context.json', id, type: 'AnnotationPage',
    items: regions.map(([x, y, w, h, zh, en], i) => ({
      id: `${id}/a${i + 1}`, type: 'Annotation', motivation: 'commenting',
      body: [{ type: 'TextualBody', value: zh, language: 'zh' }, { type: 'TextualBody', value: en, language: 'en' }],
      target: `${canvas}#xywh=${Math.round(x)},${Math.round(y)},${Math.round(w)},${Math.round(h)}`,
    })),
  };
}

function tourFor(r) {
  const { width: W = 1000, height: H = 1000 } = r._pixels || {};
  return {
    stops: [
      { canvas: 1, xywh: [0.8 * W, 0, 0.2 * W, H].map(Math.round), text: { zh: '卷首：题名与钤印。', en: 'The opening: title and seals.' } },
      { canvas: 1, xywh: [0.45 * W, 0.2 * H, 0.15 * W, 0.5 * H].map(Math.round), text: { zh: '画心：山石以斧劈皴写出。', en: 'The painting: rocks in axe-cut strokes.' }, zoom: 1.5 },
      { canvas: 1, xywh: [0.02 * W, 0, 0.14 * W, H].map(Math.round), text: { zh: '卷尾：题跋。', en: 'The end: colophons.' } },
    ],
  };
}

export function attachPixels(api, metadataPath) {
  const lines = fs.readFileSync(metadataPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
  for (const m of lines) {
    const r = api.relics.find((x) => x.accession === m.accession);
    if (r && m.pixels) Object.defineProperty(r, '_pixels', { value: m.pixels, enumerable: false });
  }
}
