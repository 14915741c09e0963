// The living painting (/living/{relic-id}, issue 14, docs/living.md): step into the work.
// Parallax from depth, drifting mist, stirring leaves, rippling water, light for the hour and
// season, a synthesised soundscape (off by default), a slow right-to-left walk along a
// handscroll, WebXR buttons that say why when they cannot work, and for curators brushes that
// correct the scene layers and save them as a new version. prefers-reduced-motion stops the
// animation; without WebGL2 the page says so and keeps the normal deep-zoom viewer.
import { lang, pick, tag } from '../i18n.js';
import { getRelic, getInfo, mainImage, getJSON, send } from '../api.js';
import { h } from '../dom.js';
import { createViewer } from '../viewer.js';
import { hasRole } from '../session.js';
import { manifestField, manifestFromText, openManifest } from '../remote-manifest.js';

export const name = 'living';

const S = {
  title: { zh: '入画', en: 'Enter the painting' },
  back: { zh: '返回藏品页', en: 'Back to the record' },
  no_webgl: { zh: '此浏览器不支持 WebGL2，无法进入画中；以下为常规观看。', en: 'This browser offers no WebGL2, so the painting cannot come alive here; the normal viewer follows.' },
  no_layers: { zh: '此作尚无景深图层：画面只随视角轻移。', en: 'This work has no scene layers yet: the picture moves as one plane.' },
  layers_v: { zh: '景深图层 第{v}版（{src}）', en: 'Scene layers v{v} ({src})' },
  walk: { zh: '缓步观卷', en: 'Walk along the scroll' },
  stop: { zh: '停步', en: 'Stop' },
  sound_on: { zh: '开启声景', en: 'Sound on' },
  sound_off: { zh: '关闭声景', en: 'Sound off' },
  hour: { zh: '时辰', en: 'Hour' },
  season: { zh: '季节', en: 'Season' },
  dawn: { zh: '晨', en: 'Dawn' }, day: { zh: '昼', en: 'Day' }, dusk: { zh: '暮', en: 'Dusk' }, night: { zh: '夜', en: 'Night' },
  spring: { zh: '春', en: 'Spring' }, summer: { zh: '夏', en: 'Summer' }, autumn: { zh: '秋', en: 'Autumn' }, winter: { zh: '冬', en: 'Winter' },
  vr: { zh: '虚拟现实（VR）', en: 'Stand in it (VR)' },
  ar: { zh: '置于墙上（AR）', en: 'On your wall (AR)' },
  xr_none: { zh: '此浏览器没有 WebXR（需头显浏览器与安全连接）。', en: 'This browser has no WebXR (it needs a headset browser and a secure connection).' },
  vr_none: { zh: '此设备不提供沉浸式 VR。', en: 'This device offers no immersive VR.' },
  ar_none: { zh: '此设备不提供沉浸式 AR。', en: 'This device offers no immersive AR.' },
  ar_aim: { zh: '请对准一面墙，轻点即将作品按原大挂上。', en: 'Point at a wall and tap: the work hangs there at its true size.' },
  ar_placed: { zh: '作品已按原大挂在墙上；再点一处可移动。', en: 'The work hangs on the wall at its true size; tap elsewhere to move it.' },
  ar_nowall: { zh: '此设备无法识别墙面：作品悬于前方 1.5 米处。', en: 'This device cannot find walls: the work hangs 1.5 m in front of you.' },
  xr_fail: { zh: '未能开始：{msg}', en: 'Could not start: {msg}' },
  reduced: { zh: '已按系统设置减少动态：画面静止。', en: 'Reduced motion is on: the picture stays still.' },
  edit: { zh: '修正图层', en: 'Correct the layers' },
  remote_title: { zh: '进入其他馆藏的画作', en: 'Enter a painting from another collection' },
  remote_from: { zh: '来自其他馆藏：{host}', en: 'From another collection: {host}' },
  remote_manifest: { zh: '来源清单', en: 'The source manifest' },
  remote_prior: { zh: '景深仅按高低推定（画面越高越远，即 danqing scene estimate --method prior 的先验）：此作的图像在对方网站，本站服务器未能分析其山形，故无云雾、草木、水的图层。', en: 'Depth from height alone (higher on the picture is farther: the prior of danqing scene estimate --method prior): this work\'s image is on the other site, which our server cannot analyse, so there are no mist, foliage or water layers.' },
  remote_info: { zh: '未能读取对方的图像信息（info.json）：{msg}', en: 'Could not read the other site\'s image information (info.json): {msg}' },
  brush_layer: { zh: '图层', en: 'Layer' },
  brush_tool: { zh: '笔', en: 'Brush' },
  add: { zh: '添加', en: 'Add' }, erase: { zh: '擦除', en: 'Erase' },
  nearer: { zh: '推近', en: 'Nearer' }, farther: { zh: '推远', en: 'Farther' },
  size: { zh: '笔径', en: 'Size' },
  save: { zh: '另存为新版本', en: 'Save as a new version' },
  saved: { zh: '已保存为第{v}版', en: 'Saved as version {v}' },
  depth: { zh: '景深', en: 'Depth' }, mist: { zh: '云雾', en: 'Mist' }, foliage: { zh: '草木', en: 'Foliage' }, water: { zh: '水', en: 'Water' },
};
function s(key, vars) {
  let out = (S[key] && S[key][lang()]) || key;
  for (const [k, v] of Object.entries(vars || {})) out = out.replace(`{${k}}`, v);
  return out;
}

function ensureCss() {
  if (document.querySelector('link[data-living-css]')) return;
  document.head.append(h('link', { rel: 'stylesheet', href: '/static/css/living.css', 'data-living-css': '' }));
}

// ---- the soundscape: wind and water from filtered noise, synthesised in the browser
function createSound(waterShare) {
  const ac = new (window.AudioContext || window.webkitAudioContext)();
  const len = ac.sampleRate * 2;
  const buf = ac.createBuffer(1, len, ac.sampleRate);
  const ch = buf.getChannelData(0);
  for (let i = 0; i < len; i++) ch[i] = Math.random() * 2 - 1;
  const src = (f, q, g) => {
    const n = ac.createBufferSource(); n.buffer = buf; n.loop = true;
    const bp = ac.createBiquadFilter(); bp.type = 'bandpass'; bp.frequency.value = f; bp.Q.value = q;
    const gain = ac.createGain(); gain.gain.value = g;
    n.connect(bp).connect(gain).connect(ac.destination); n.start();
    return { n, gain, bp };
  };
  const wind = src(380, 0.6, 0.05), water = src(1400, 1.8, 0.03 * Math.max(0.2, waterShare));
  // wind gusts: a slow LFO on the gain; water: a faster babble
  const lfo = ac.createOscillator(); lfo.frequency.value = 0.08;
  const lg = ac.createGain(); lg.gain.value = 0.035; lfo.connect(lg).connect(wind.gain.gain); lfo.start();
  const lfo2 = ac.createOscillator(); lfo2.frequency.value = 3.3;
  const lg2 = ac.createGain(); lg2.gain.value = 0.012; lfo2.connect(lg2).connect(water.gain.gain); lfo2.start();
  return { ac, close() { ac.close(); } };
}

// ---- WebXR buttons: enabled only where navigator.xr offers the mode; otherwise they say why.
async function xrButton(mode, labelKey, noneKey, engine, status) {
  const why = h('span.xr-why', { id: `why-${mode}` });
  const b = h('button.btn-line.xr', { type: 'button', 'data-xr': mode, disabled: true, 'aria-describedby': `why-${mode}` }, s(labelKey));
  const wrap = h('span.xr-wrap', b, why);
  let ok = false;
  try {
    ok = !!(navigator.xr && await navigator.xr.isSessionSupported(mode));
    why.textContent = ok ? '' : s(navigator.xr ? noneKey : 'xr_none');
  } catch (e) { why.textContent = s(noneKey); }
  b.disabled = !ok;
  b.dataset.supported = ok ? '1' : '0';
  b.addEventListener('click', async () => {
    try { await engine.enterXr(mode, (key) => { status.textContent = s(key); }); } catch (e) { status.textContent = s('xr_fail', { msg: e.message || String(e) }); }
  });
  return wrap;
}

// ---- the curator's brushes: whole-layer copies in 2D canvases, cropped to the GL strip
async function createBrushes(engine, imageId, info, set, status) {
  const kinds = ['depth', 'mist', 'foliage', 'water'];
  const copies = {};
  const MAX = 2048;
  for (const k of kinds) {
    const l = (set.layers || []).find((x) => x.kind === k);
    const sw = l ? Math.min(l.width, MAX) : Math.min(info.width, MAX);
    const sh = Math.max(1, Math.round(sw * info.height / info.width));
    const c = document.createElement('canvas'); c.width = sw; c.height = sh;
    const g = c.getContext('2d', { willReadFrequently: true });
    g.fillStyle = k === 'depth' ? 'rgb(128,128,128)' : 'black'; g.fillRect(0, 0, sw, sh);
    if (l) {
      const img = new Image();
      img.src = `/iiif/3/${encodeURIComponent(l.image_id)}/full/${sw},${sh}/0/default.png`;
      await img.decode().catch(() => null);
      if (img.naturalWidth) g.drawImage(img, 0, 0, sw, sh);
    }
    copies[k] = c;
  }
  let layer = 'mist', tool = 'add', size = 24, down = false;
  function push(k) {
    const st = engine.strip; const c = copies[k];
    if (!st) return;
    const sx = c.width / info.width, sy = c.height / info.height;
    const crop = document.createElement('canvas');
    crop.width = Math.max(1, Math.round(st.w * sx)); crop.height = Math.max(1, Math.round(st.h * sy));
    crop.getContext('2d').drawImage(c, st.x * sx, st.y * sy, st.w * sx, st.h * sy, 0, 0, crop.width, crop.height);
    engine.setLayerCanvas(k, crop);
    engine.draw();
  }
  function paint(e) {
    const p = engine.imageAt(e.clientX, e.clientY);
    if (!p) return;
    const c = copies[layer], g = c.getContext('2d');
    const x = p.x * c.width / info.width, y = p.y * c.height / info.height;
    const r = size * c.width / engine.view.w;
    g.beginPath(); g.arc(x, y, Math.max(1, r), 0, Math.PI * 2);
    if (layer === 'depth') {
      g.fillStyle = tool === 'nearer' ? 'rgba(0,0,0,0.15)' : 'rgba(255,255,255,0.15)';
    } else g.fillStyle = tool === 'erase' ? 'black' : 'white';
    g.fill();
    push(layer);
  }
  const cv = engine.canvas;
  const onDown = (e) => { if (!panel.classList.contains('on')) return; down = true; cv.setPointerCapture?.(e.pointerId); paint(e); };
  const onMove = (e) => { if (down) paint(e); };
  const onUp = () => { down = false; };
  cv.addEventListener('pointerdown', onDown);
  cv.addEventListener('pointermove', onMove);
  cv.addEventListener('pointerup', onUp);
  const toolSel = h('select', { 'aria-label': s('brush_tool'), onchange: (e) => { tool = e.target.value; } });
  const setTools = () => {
    toolSel.replaceChildren(...(layer === 'depth' ? ['nearer', 'farther'] : ['add', 'erase']).map((v) => h('option', { value: v }, s(v))));
    tool = toolSel.value;
  };
  setTools();
  const panel = h('div.living-brushes',
    h('label', s('brush_layer'), ' ', h('select', { 'data-brush-layer': '', onchange: (e) => { layer = e.target.value; setTools(); } },
      kinds.map((k) => h('option', { value: k, selected: k === layer }, s(k))))),
    h('label', s('brush_tool'), ' ', toolSel),
    h('label', s('size'), ' ', h('input', { type: 'range', min: 4, max: 120, value: size, oninput: (e) => { size = +e.target.value; } })),
    h('button.btn-seal', { type: 'button', 'data-save-layers': '', onclick: async () => {
      const layers = {};
      for (const k of kinds) layers[k] = copies[k].toDataURL('image/png');
      try {
        const r = await send('POST', `/api/images/${encodeURIComponent(imageId)}/scene`, { layers, note: '', method: `curator brushes on v${set.version}` });
        status.textContent = s('saved', { v: r.body.version });
      } catch (e) { status.textContent = s('xr_fail', { msg: e.message }); }
    } }, s('save')));
  return {
    panel,
    toggle() { panel.classList.toggle('on'); cv.classList.toggle('brushing', panel.classList.contains('on')); for (const k of kinds) push(k); },
    destroy() { cv.removeEventListener('pointerdown', onDown); cv.removeEventListener('pointermove', onMove); cv.removeEventListener('pointerup', onUp); },
  };
}

// ---- another collection's painting (issue 16): /living?manifest=URL (or ?iiif-content=),
// opened from a pasted or dropped IIIF manifest. Its image service is read directly by the
// browser (CORS); our server holds no copy, so it has no scene layers and cannot estimate
// them: depth comes from height alone (heightPrior), and the page says so.
async function renderRemote(ctx, glJob) {
  const status = h('p.living-status', { role: 'status', 'aria-live': 'polite' });
  const field = manifestField({ id: 'living-remote', onOpen: (res) => ctx.navigate(`/living?${new URLSearchParams({ manifest: res.manifest })}`) });
  const head = (t, extra) => h('header.living-head', h('h1', t, ' · ', s('title')), extra);
  const asked = ctx.query.get('manifest') || ctx.query.get('iiif-content') ? manifestFromText(location.href) : null;
  let res = null, info = null;
  if (asked) {
    try {
      res = await openManifest(asked);
      const r = await fetch(`${res.service}/info.json`, { mode: 'cors', credentials: 'omit' });
      if (!r.ok) throw new Error(`${r.status} ${r.statusText}`);
      info = await r.json();
      if (!(info.width > 0 && info.height > 0)) throw new Error('no width and height');
    } catch (e) {
      status.textContent = res ? s('remote_info', { msg: e.message }) : e.message;
      status.classList.add('error');
      res = null;
    }
  }
  const gl = await glJob;
  const gl0 = res && gl && gl.webgl2Context();
  if (!res || !gl0) {
    const el = h('article.page.living.living-remote', { 'data-living': res ? 'fallback' : 'remote' }, head(s('remote_title')), status, field);
    let v = null;
    if (res) { // no WebGL2: the normal deep-zoom viewer of their image service
      v = createViewer(res.service);
      el.append(h('p.living-fallback', { role: 'note' }, s('no_webgl')), h('section.stage', v.el));
    }
    return { el, title: s('remote_title'), destroy() { v?.destroy(); } };
  }
  const host = new URL(res.manifest).host;
  const stage = h('div.living-stage', { 'data-living': 'stage' });
  const mq = window.matchMedia('(prefers-reduced-motion: reduce)');
  const engine = gl.createLiving({ gl: gl0, container: stage, imageId: res.service, info, set: null, depthPrior: 'height',
    wide: info.width / info.height > 3, reduced: mq.matches, dims: null });
  const onMq = () => engine.setReduced(mq.matches);
  mq.addEventListener('change', onMq);
  const walkBtn = info.width / info.height > 3 ? h('button.btn-seal', { type: 'button', 'aria-pressed': 'false', 'data-walk': '', onclick: () => {
    engine.walk(!engine.walking);
    walkBtn.setAttribute('aria-pressed', engine.walking ? 'true' : 'false');
    walkBtn.textContent = s(engine.walking ? 'stop' : 'walk');
  } }, s('walk')) : null;
  const el = h('article.page.living', { 'data-living': 'on', 'data-remote': res.manifest },
    head(res.label || host, h('a.btn-line', { href: res.manifest, 'data-external': '' }, s('remote_manifest'))),
    stage,
    h('div.living-controls', walkBtn),
    h('p.living-note', { 'data-remote-from': '' }, s('remote_from', { host })),
    h('p.living-note', { 'data-depth-prior': '' }, s('remote_prior')),
    status, field);
  engine.ready.then(() => {
    window.__dqLiving = { engine, stats: engine.stats, readPixels: () => engine.readPixels(), maskPixels: () => engine.maskPixels(), setPointer: (x, y) => engine.setPointer(x, y) };
    el.dataset.ready = '1';
  });
  return {
    el,
    title: `${res.label || host} · ${s('title')}`,
    destroy() {
      mq.removeEventListener('change', onMq);
      engine.destroy();
      if (window.__dqLiving && window.__dqLiving.engine === engine) delete window.__dqLiving;
    },
  };
}

export async function render(ctx) {
  ensureCss();
  // three.js (1.2 MB) loads while the record, the image's geometry and its layers are asked
  // for: each wait used to follow the one before it, and the first frame waited for all.
  const glJob = import('../living-gl.js').catch((e) => { console.warn('living: three.js', e); return null; });
  if (!ctx.params.id) return renderRemote(ctx, glJob);
  const r = await getRelic(ctx.params.id);
  const imageId = ctx.query.get('image') || mainImage(r);
  if (!imageId) throw Object.assign(new Error('no image'), { status: 404 });
  const setsJob = getJSON(`/api/images/${encodeURIComponent(imageId)}/scene`).catch(() => null);
  const info = await getInfo(imageId);
  const title = pick(r.title);
  const wide = r.object_type === 'handscroll' || info.width / info.height > 3;
  const back = h('a.btn-line', { href: `/relic/${encodeURIComponent(r.id)}` }, s('back'));
  const status = h('p.living-status', { role: 'status', 'aria-live': 'polite' });
  const head = h('header.living-head', h('h1', { lang: tag(title.lang) }, title.text, ' · ', s('title')), back);
  const gl = await glJob;

  const gl0 = gl && gl.webgl2Context();
  if (!gl0) {
    // No WebGL2: say so, and keep the normal deep-zoom viewer.
    const v = createViewer(imageId);
    const el = h('article.page.living', { 'data-living': 'fallback' }, head, h('p.living-fallback', { role: 'note' }, s('no_webgl')), h('section.stage', v.el));
    return { el, title: `${title.text} · ${s('title')}`, destroy() { v.destroy(); } };
  }

  // The newest layer set (the list answers 200 with no items when there is none).
  const sets = await setsJob;
  const set = sets && sets.items && sets.items.length ? sets.items[0] : null;
  const mq = window.matchMedia('(prefers-reduced-motion: reduce)');
  const stage = h('div.living-stage', { 'data-living': 'stage' });
  const el = h('article.page.living', { 'data-living': 'on' }, head, stage);
  const fixed = Number(ctx.query.get('scale'));
  const engine = gl.createLiving({ gl: gl0, container: stage, imageId, info, set, wide, reduced: mq.matches, dims: r.dimensions_cm || null,
    scale: fixed >= 0.25 && fixed <= 2 ? fixed : null });
  const onMq = () => { engine.setReduced(mq.matches); reducedNote.hidden = !mq.matches; };
  mq.addEventListener('change', onMq);
  const reducedNote = h('p.living-note', { hidden: !mq.matches }, s('reduced'));

  let hour = 'day', season = 'summer', sound = null;
  const lightSel = (key, opts, cur, fn) => h('label', s(key), ' ', h('select', { [`data-${key}`]: '', onchange: (e) => fn(e.target.value) },
    opts.map((o) => h('option', { value: o, selected: o === cur }, s(o)))));
  const soundBtn = h('button.btn-line', { type: 'button', 'aria-pressed': 'false', 'data-sound': '', onclick: () => {
    if (sound) { sound.close(); sound = null; } else sound = createSound(set && set.layers.some((l) => l.kind === 'water') ? 0.6 : 0.2);
    soundBtn.setAttribute('aria-pressed', sound ? 'true' : 'false');
    soundBtn.textContent = s(sound ? 'sound_off' : 'sound_on');
  } }, s('sound_on'));
  const walkBtn = wide ? h('button.btn-seal', { type: 'button', 'aria-pressed': 'false', 'data-walk': '', onclick: () => {
    engine.walk(!engine.walking);
    walkBtn.setAttribute('aria-pressed', engine.walking ? 'true' : 'false');
    walkBtn.textContent = s(engine.walking ? 'stop' : 'walk');
  } }, s('walk')) : null;
  const controls = h('div.living-controls',
    walkBtn,
    lightSel('hour', ['dawn', 'day', 'dusk', 'night'], hour, (v) => { hour = v; engine.setLight(hour, season); }),
    lightSel('season', ['spring', 'summer', 'autumn', 'winter'], season, (v) => { season = v; engine.setLight(hour, season); }),
    soundBtn,
    await xrButton('immersive-vr', 'vr', 'vr_none', engine, status),
    await xrButton('immersive-ar', 'ar', 'ar_none', engine, status));
  const layerNote = h('p.living-note', set ? s('layers_v', { v: set.version, src: set.source }) : s('no_layers'));
  // issue 16: another collection's manifest, pasted or dropped anywhere on the page
  const remote = manifestField({ id: 'living-remote', dropTarget: el, onOpen: (res) => ctx.navigate(`/living?${new URLSearchParams({ manifest: res.manifest })}`) });
  const remoteBox = h('details.living-remote-box', h('summary', s('remote_title')), remote);
  el.addEventListener('drop', () => { remoteBox.open = true; });
  el.append(controls, reducedNote, layerNote, status, remoteBox);

  let brushes = null;
  if (set && hasRole('curator')) {
    brushes = await createBrushes(engine, imageId, info, set, status);
    controls.append(h('button.btn-line', { type: 'button', 'data-edit-layers': '', onclick: () => brushes.toggle() }, s('edit')));
    el.append(brushes.panel);
  }

  // For the browser tests and the console: frame counts and times, pixels and masks.
  const enteredAt = performance.getEntriesByName('dq-living-enter').slice(-1)[0];
  engine.ready.then(() => {
    window.__dqLiving = {
      engine, stats: engine.stats,
      firstFrameMs: enteredAt ? engine.stats.firstFrameAt - enteredAt.startTime : null,
      layersMs: enteredAt ? engine.stats.layersAt - enteredAt.startTime : null,
      readPixels: () => engine.readPixels(), maskPixels: () => engine.maskPixels(),
      setPointer: (x, y) => engine.setPointer(x, y),
    };
    el.dataset.ready = '1';
  });

  return {
    el,
    title: `${title.text} · ${s('title')}`,
    destroy() {
      mq.removeEventListener('change', onMq);
      sound?.close();
      brushes?.destroy();
      engine.destroy();
      if (window.__dqLiving && window.__dqLiving.engine === engine) delete window.__dqLiving;
    },
  };
}
