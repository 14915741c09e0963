// style.js: style analysis on the relic page (issue 13): the palette as swatches, "Similar
// works" with the reason each one is similar (palette, ink tones, brushwork, composition),
// and "Find by image": the region in view, or an uploaded photograph, against the whole
// collection, with the attribution the model suggests, labelled as a suggestion that never
// changes the record. Also the named colours for colour search (pages/search.js) and the
// strings of the style map (pages/stylemap.js). Talks only to docs/api.md "Similar works".
import { lang, tag, pick, vocabLabel } from './i18n.js';
import { getJSON, imageUrl } from './api.js';
import { h, clear } from './dom.js';

// Both languages of every string here (kept beside the feature, like its CSS).
const S = {
  palette: ['设色', 'Palette'],
  palette_hint: ['图中主要颜色，按面积排列', 'Main colours of the picture, largest first'],
  similar: ['相似作品', 'Similar works'],
  similar_none: ['尚无可比作品（需先建立风格索引）', 'No works to compare yet (the style index is empty)'],
  because: ['相似之处', 'Similar in'],
  score: ['相似度', 'similarity'],
  find: ['以图搜图', 'Find by image'],
  find_view: ['以当前视图检索', 'Search with this view'],
  find_upload: ['上传照片检索', 'Upload a photograph'],
  find_hint: ['框选：缩放查看器到要比较的局部，再点「以当前视图检索」；或上传一张照片（不超过 1 MB）。', 'Zoom the viewer to the detail to compare and press "Search with this view", or upload a photograph (up to 1 MB).'],
  find_busy: ['检索中…', 'Searching…'],
  find_results: ['与所选图像相似', 'Similar to the chosen image'],
  suggest: ['风格归属（建议）', 'Attribution (suggestion)'],
  suggest_note: ['模型给出的参考概率，不会修改藏品著录。', 'Calibrated probabilities from the model; the catalogue record is never changed.'],
  school: ['画派', 'school'],
  dynasty: ['朝代', 'dynasty'],
  colour: ['颜色', 'Colour'],
  colour_pick: ['自选颜色', 'Pick a colour'],
  colour_any: ['不限颜色', 'Any colour'],
  map: ['风格图谱', 'Style map'],
  map_intro: ['每件作品按其风格特征（设色、墨色、笔法、构图）投影为一点：相近的点风格相近。悬停查看作品，点击打开。', 'Every work is a point placed by its style features (palette, ink, brushwork, composition): nearby points look alike. Hover to see a work, click to open it.'],
  map_colour_by: ['着色依据', 'Colour by'],
  map_view: ['视图', 'View'],
  map_scatter: ['风格空间', 'Style space'],
  map_timeline: ['时间线', 'Timeline'],
  map_timeline_hint: ['横轴为年代，纵轴为第一风格主成分：可见各派特征随时间的变化。', 'Across: the date; up: the first style component, showing how each family\'s features change over time.'],
  map_empty: ['尚无已建索引的作品。', 'No indexed works yet.'],
  map_zoom: ['滚轮缩放，拖动平移', 'Wheel to zoom, drag to pan'],
  reset: ['复位', 'Reset'],
  unknown: ['未注明', 'unlabelled'],
};
export function L(key) { const s = S[key]; return s ? s[lang() === 'zh' ? 0 : 1] : key; }

// Named mineral colours (the server's dq_style_colours; docs/api.md): key, zh, en, swatch.
export const COLOURS = [
  ['zhusha', '朱砂', 'cinnabar', '#cd6059'], ['yinzhu', '银朱', 'vermilion', '#a74948'],
  ['zheshi', '赭石', 'red ochre', '#8d4d45'], ['tuhuang', '土黄', 'yellow ochre', '#af8c5d'],
  ['shihuang', '石黄', 'orpiment', '#caad4f'], ['shiqing', '石青', 'azurite', '#507da1'],
  ['shilv', '石绿', 'malachite', '#89a891'], ['huaqing', '花青', 'indigo', '#373641'],
];
export function colourName(key) {
  const c = COLOURS.find((x) => x[0] === key);
  return c ? (lang() === 'zh' ? c[1] : c[2]) : key;
}

const PART = { palette: ['设色', 'palette'], ink: ['墨色', 'ink tones'], brushwork: ['笔法', 'brushwork'], composition: ['构图', 'composition'] };
const partName = (k) => (PART[k] ? PART[k][lang() === 'zh' ? 0 : 1] : k);

async function post(body, type) {
  const headers = { Accept: 'application/json', 'X-Requested-With': 'danqing', 'Content-Type': type };
  const r = await fetch('/api/similar?limit=8', { method: 'POST', headers, credentials: 'same-origin', body });
  const j = await r.json().catch(() => null);
  if (!r.ok) throw new Error((j && j.error && j.error.message) || `${r.status}`);
  return j;
}

// One similar work: thumbnail, title, the reason (the part that agrees most), the score.
function simCard(it) {
  const title = pick(it.title || {});
  const parts = it.parts || {};
  const bars = Object.keys(parts).map((k) => h('span.sim-bar', { title: `${partName(k)} ${Math.round(parts[k] * 100)}%` },
    h('span.sim-bar-fill', { style: `width:${Math.max(0, Math.round(parts[k] * 100))}%` }), h('span.sim-bar-label', partName(k))));
  return h('li.sim-item', h('a.sim-card', { href: it.relic_id ? `/relic/${encodeURIComponent(it.relic_id)}` : `/iiif/3/${encodeURIComponent(it.image_id)}/full/!800,800/0/default.jpg`, 'data-relic': it.relic_id || '' },
    h('span.sim-thumb', h('img', { src: imageUrl(it.image_id, '!200,200'), alt: '', loading: 'lazy' })),
    h('span.sim-body',
      h('span.sim-title', { lang: tag(title.lang) }, title.text || it.image_id),
      h('span.sim-facts', [it.school || null, it.dynasty ? vocabLabel('dynasties', it.dynasty) : null].filter(Boolean).join(' · ')),
      h('span.sim-reason', { 'data-reason': it.reason ? it.reason.key : '' }, `${L('because')}: `, h('strong', it.reason ? partName(it.reason.key) : '')),
      h('span.sim-score', `${L('score')} ${(it.score * 100).toFixed(0)}%`),
      h('span.sim-bars', bars))));
}

// The server's reason when this relic's image has no embedding yet (or it has no image).
function notIndexed(res) {
  return res && res.indexed === false && res.reason ? (lang() === 'zh' ? res.reason.zh : res.reason.en) : null;
}

function simList(res) {
  const items = (res && res.items) || [];
  if (!items.length) return h('p.sim-empty', notIndexed(res) || L('similar_none'));
  return h('ul.sim-list', items.map(simCard));
}

function attribution(res) {
  const a = res && res.attribution;
  if (!a || !Object.keys(a).length) return null;
  return h('div.suggest', { role: 'note' },
    h('p.suggest-title', L('suggest')),
    Object.keys(a).map((k) => h('p.suggest-row', h('span.suggest-label', `${L(k)}: `),
      a[k].labels.map((x, i) => [i ? '，' : '', h('span.suggest-val', k === 'dynasty' ? vocabLabel('dynasties', x.label) : x.label), ` ${(x.p * 100).toFixed(0)}%`]))),
    h('p.suggest-note', L('suggest_note')));
}

// The style panel of a relic page. v: the page's viewer ({viewer}) or null.
export function stylePanel(relic, imageId, v) {
  const swatches = h('div.swatches', { 'aria-busy': 'true' });
  const similar = h('div.similar-out', { 'aria-live': 'polite' });
  const found = h('div.find-out', { 'aria-live': 'polite' });
  const file = h('input.visually-hidden#style-upload', { type: 'file', accept: 'image/jpeg,image/png,image/webp,image/tiff' });
  const run = async (fn) => {
    clear(found).append(h('p.hint', L('find_busy')));
    try {
      const res = await fn();
      clear(found).append(h('h3.sub-title', L('find_results')), attribution(res) || '', simList(res));
    } catch (e) { clear(found).append(h('p.error', { role: 'alert' }, e.message)); }
  };
  const viewBtn = v ? h('button.btn-line#find-view', { type: 'button', onclick: () => run(() => {
    const vp = v.viewer.viewport, item = v.viewer.world.getItemAt(0);
    const r = item.viewportToImageRectangle(vp.getBounds(true));
    const size = item.getContentSize();
    const x = Math.max(0, Math.round(r.x)), y = Math.max(0, Math.round(r.y));
    const w = Math.min(Math.round(r.width), size.x - x), hh = Math.min(Math.round(r.height), size.y - y);
    return post(JSON.stringify({ image_id: imageId, region: `${x},${y},${w},${hh}`, exclude_relic: relic.id }), 'application/json');
  }) }, L('find_view')) : null;
  file.addEventListener('change', () => {
    const f = file.files && file.files[0];
    if (f) run(() => post(f, f.type || 'image/jpeg'));
  });
  const el = h('section.band.style-panel', { 'aria-labelledby': 'h-similar' },
    h('div.style-cols',
      h('div.style-palette', h('h2.section-title', L('palette')), h('p.hint', L('palette_hint')), swatches),
      h('div.style-similar', h('h2#h-similar.section-title', L('similar')), similar)),
    h('div.style-find', h('h2.section-title', L('find')), h('p.hint', L('find_hint')),
      h('div.find-actions', viewBtn, h('label.btn-line.upload', { for: 'style-upload' }, L('find_upload')), file), found));
  const id = encodeURIComponent(relic.id);
  getJSON(`/api/relics/${id}/palette`).then((p) => {
    swatches.removeAttribute('aria-busy');
    if (notIndexed(p)) { clear(swatches).append(h('p.hint', notIndexed(p))); return; }
    clear(swatches).append(h('ul.swatch-list', (p.palette || []).map((c) => h('li.swatch', { title: `${c.hex} ${(c.share * 100).toFixed(1)}%` },
      h('span.swatch-chip', { style: `background:${c.hex};flex-grow:${Math.max(1, Math.round(c.share * 100))}` }),
      h('span.swatch-label', c.name === 'paper' ? (lang() === 'zh' ? '地' : 'ground') : (c.name || c.hex)), ' ',
      h('span.swatch-share', `${(c.share * 100).toFixed(0)}%`)))),
    (p.named || []).length ? h('p.named', (p.named || []).filter((n) => n.share >= 0.005).map((n) =>
      h('a.named-chip', { href: `/search?colour=${n.key}` }, h('span.dot', { style: `background:${n.hex}` }), lang() === 'zh' ? n.zh : n.en))) : null);
  }).catch(() => { swatches.removeAttribute('aria-busy'); clear(swatches).append(h('p.hint', L('similar_none'))); });
  getJSON(`/api/relics/${id}/similar?limit=8`).then((res) => clear(similar).append(simList(res)))
    .catch(() => clear(similar).append(h('p.sim-empty', L('similar_none'))));
  return el;
}
