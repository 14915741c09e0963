// living-gl.js: the living painting's renderer (issue 14, docs/living.md). One full-screen
// quad in WebGL2 through three.js: the painting and its scene layers (depth, mist, foliage,
// water) arrive as IIIF region requests sized to the screen, so the view is sharp at any zoom
// (the layers at half the painting's size: they are smooth fields and binary masks);
// a fragment shader moves each pixel by its depth against the pointer (parallax), drifts a
// noise field through the mist mask, stirs foliage and ripples water, and tints the light for
// the hour and season. Outside the masks nothing moves while the pointer rests, which the
// browser test checks pixel by pixel. WebXR places the layers at their depths around the
// viewer (immersive-vr) or the work at its true size in front of them (immersive-ar).
import * as THREE from '/static/vendor/three/three.module.js';

// The one WebGL2 context of the view, or null where the browser offers none. The page asks
// before it builds anything, and the renderer then takes this same context: a throwaway
// probe context cost as much as the real one (half a second in software GL) before the
// first frame. No depth or stencil buffer (one quad needs neither, and software GL clears
// and stores them every frame); opaque, so the compositor need not blend the canvas.
export const CONTEXT_ATTRS = { alpha: false, depth: false, stencil: false, antialias: false, premultipliedAlpha: true, preserveDrawingBuffer: false, powerPreference: 'high-performance' };
// prewarm() makes the context ahead of the page (the relic page calls it when the reader
// points at "Enter the painting"); the living page then takes it instead of making one.
let spare = null;
export function prewarm() {
  if (!spare) spare = make();
  return !!spare;
}
export function webgl2Context() {
  const s = spare;
  spare = null;
  return s || make();
}
function make() {
  try {
    if (!window.WebGL2RenderingContext) return null;
    const canvas = document.createElement('canvas');
    const context = canvas.getContext('webgl2', CONTEXT_ATTRS);
    return context ? { canvas, context } : null;
  } catch { return null; }
}

const VERT = `
out vec2 vUv;
void main() { vUv = uv; gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0); }`;

// Masks are sampled where the pixel lands after parallax; anything that moves with time is
// gated by a mask, so a still viewer sees motion only inside mist, foliage and water.
// Software GL (SwiftShader, what a machine without a GPU runs) pays for every texture fetch
// and every transcendental per pixel, so the four layers come packed in one RGBA texture
// (depth, mist, foliage, water: two fetches where there were five) and the mist's fractal
// noise is read from a tiling texture made once on the CPU (one fetch for sixteen hashes).
const FRAG = `
precision highp float;
in vec2 vUv;
out vec4 outColor;
uniform sampler2D uPaint, uLayers, uNoise;
uniform vec4 uView;        // the shown window inside the loaded strip: x, y, w, h (0..1)
uniform vec2 uParallax;    // pointer / tilt, -1..1
uniform float uStrength;   // parallax amplitude as a fraction of the window
uniform float uTime, uAnim, uHasLayers, uDebug, uSliceLo, uSliceHi;
uniform vec3 uTint, uSeason;
uniform vec2 uTexel;       // one strip pixel in uv
uniform vec3 uPaper;       // the support's tone, what mist thins the picture towards
void main() {
  vec2 uv = uView.xy + vUv * uView.zw;
  float d = uHasLayers > 0.5 ? texture(uLayers, uv).r : 0.5;
  vec2 p = uv + uParallax * (0.5 - d) * uStrength * uView.zw;
  vec4 L = uHasLayers > 0.5 ? texture(uLayers, p) : vec4(0.5, 0.0, 0.0, 0.0);
  float dp = L.r;
  // one refinement step: the depth where the moved pixel lands (the masks come with it)
  p = uv + uParallax * (0.5 - dp) * uStrength * uView.zw;
  float mist = step(0.5, L.g), fol = step(0.5, L.b), wat = step(0.5, L.a);
  if (uDebug > 0.5) { outColor = vec4(mist, fol, wat, 1.0); return; }
  if (dp < uSliceLo || dp >= uSliceHi) discard;
  vec2 q = p;
  float t = uTime * uAnim;
  // Only pixels inside a mask pay for the trigonometry (most of a landscape is neither
  // foliage nor water; software GL skips a branch that no pixel of a quad takes).
  if (fol + wat > 0.5) {
    // leaves stir: a small sway that grows with height above the pixel's anchor
    q += fol * uTexel * vec2(1.6 * sin(t * 1.9 + p.y * 900.0) + 0.8 * sin(t * 3.1 + p.x * 700.0), 0.6 * cos(t * 2.3 + p.x * 500.0));
    // water ripples: a vertical shimmer travelling across
    q += wat * uTexel * vec2(0.0, 2.2 * sin(t * 2.0 + p.y * 1400.0 + p.x * 90.0));
  }
  vec3 col = texture(uPaint, q).rgb;
  // mist: a noise field drifting slowly sideways, only inside the mist mask
  if (mist > 0.5) {
    vec2 mp = vec2(p.x / uView.z * 3.0 - t * 0.05, p.y / uView.w * 9.0);
    float fog = smoothstep(0.45, 0.8, texture(uNoise, mp * (1.0 / 8.0)).r) * 0.45;
    col = mix(col, max(col, uPaper), fog);
  }
  if (fol > 0.5) col *= uSeason;
  outColor = vec4(col * uTint, 1.0);
}`;

// Light: hour and season. The tint multiplies everything; the season colours foliage only.
export const HOURS = { dawn: [1.0, 0.94, 0.86], day: [1, 1, 1], dusk: [1.0, 0.84, 0.7], night: [0.55, 0.62, 0.8] };
export const SEASONS = { spring: [0.92, 1.05, 0.9], summer: [1, 1, 1], autumn: [1.12, 0.9, 0.7], winter: [1.05, 1.08, 1.15] };

// Where a work hangs on a wall that a WebXR hit test found: the hit's position and the
// surface normal (the Y axis of the hit pose, as the WebXR Hit Test module defines it), both
// in the reference space. The work's face (+Z of its plane) looks out along the normal, its
// top points up the wall, and it sits 5 mm proud of the surface. null where the surface is
// not a wall (a floor, a table, a ceiling: more than 30 degrees from vertical).
export function wallPlacement(point, normal) {
  const n = new THREE.Vector3(...normal).normalize();
  if (!(n.lengthSq() > 0.5) || Math.abs(n.y) > 0.5) return null;
  const z = new THREE.Vector3(n.x, 0, n.z).normalize(); // walls lean a little: hang plumb
  const y = new THREE.Vector3(0, 1, 0);
  const x = new THREE.Vector3().crossVectors(y, z);
  const q = new THREE.Quaternion().setFromRotationMatrix(new THREE.Matrix4().makeBasis(x, y, z));
  const pos = new THREE.Vector3(...point).addScaledVector(z, 0.005);
  return { position: pos.toArray(), quaternion: q.toArray() };
}

function regionOf(x, y, w, hgt) { return `${Math.round(x)},${Math.round(y)},${Math.max(1, Math.round(w))},${Math.max(1, Math.round(hgt))}`; }

// An IIIF Image API 3.0 region request of image (W x H) for region (in the base image's
// pixels, scaled to the image's own size when it is a smaller layer) at about px wide.
// An absolute id is another institution's image service (a IIIF manifest opened by URL,
// issue 16): its base URL as the manifest gives it. Region x,y,w,h, size w, and max read the
// same in Image API 2.1 and 3.0.
function regionUrl(id, imgW, baseW, r, px, fmt) {
  const s = imgW / baseW;
  const rw = Math.max(1, Math.round(r.w * s)), rh = Math.max(1, Math.round(r.h * s));
  const size = px >= rw || Math.round((rh * px) / rw) < 1 ? 'max' : `${Math.max(1, Math.round(px))},`;
  const base = /^https?:\/\//.test(id) ? id : `/iiif/3/${encodeURIComponent(id)}`;
  return `${base}/${regionOf(r.x * s, r.y * s, rw, rh)}/${size}/0/default.${fmt}`;
}

// Depth from height alone for region r of an image H px high, as `danqing scene estimate
// --method prior` makes it (src/scene/estimate.c: 255 x (1 - row / H), the top farthest):
// what a work gets whose image our server cannot analyse (another collection's, issue 16).
// A canvas one pixel wide: the layers are scaled to the strip anyway.
export function heightPrior(r, H) {
  const c = document.createElement('canvas');
  const n = Math.max(2, Math.min(1024, Math.round(r.h)));
  c.width = 1; c.height = n;
  const g = c.getContext('2d');
  const im = g.createImageData(1, n);
  for (let y = 0; y < n; y++) {
    const v = Math.round(255 * (1 - (r.y + ((y + 0.5) * r.h) / n) / H));
    im.data.set([v, v, v, 255], y * 4);
  }
  g.putImageData(im, 0, 0);
  return c;
}

async function loadTex(url) {
  // Decoded off the page's thread into an ImageBitmap, already upside down as GL wants it:
  // an <img> was decoded and flipped on the main thread at upload time.
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  const bmp = await createImageBitmap(await res.blob(), { imageOrientation: 'flipY', premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  const tex = new THREE.Texture(bmp);
  tex.flipY = false;
  tex.needsUpdate = true;
  tex.addEventListener('dispose', () => bmp.close());
  // Raw values in, raw values out: the shader writes the sRGB it read (a ShaderMaterial gets
  // no output colour conversion), so the painting's colours stay exactly the served ones.
  tex.colorSpace = THREE.NoColorSpace;
  tex.minFilter = THREE.LinearFilter;
  tex.generateMipmaps = false;
  tex.wrapS = tex.wrapT = THREE.ClampToEdgeWrapping;
  return tex;
}

// A 256 x 256 tiling fractal noise (four octaves of value noise on periodic lattices of 8,
// 16, 32 and 64 cells), made once per view: the mist's texture, so that the fragment shader
// reads one texel where it computed sixteen hashes. Deterministic (an integer hash).
function noiseTexture() {
  const N = 256, out = new Uint8Array(N * N * 4);
  const hash = (x, y, o) => {
    let h = (Math.imul(x, 374761393) + Math.imul(y, 668265263) + Math.imul(o, 2147483647)) | 0;
    h = Math.imul(h ^ (h >>> 13), 1274126177);
    return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
  };
  const smooth = (f) => f * f * (3 - 2 * f);
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      let sum = 0, amp = 0.5;
      for (let o = 0, cells = 8; o < 4; o++, cells *= 2, amp *= 0.5) {
        const fx = (x / N) * cells, fy = (y / N) * cells;
        const ix = Math.floor(fx), iy = Math.floor(fy), tx = smooth(fx - ix), ty = smooth(fy - iy);
        const a = hash(ix % cells, iy % cells, o), b = hash((ix + 1) % cells, iy % cells, o);
        const c = hash(ix % cells, (iy + 1) % cells, o), d = hash((ix + 1) % cells, (iy + 1) % cells, o);
        sum += amp * ((a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty);
      }
      const v = Math.max(0, Math.min(255, Math.round((sum / 0.9375) * 255)));
      out.set([v, v, v, 255], (y * N + x) * 4);
    }
  }
  const tex = new THREE.DataTexture(out, N, N);
  tex.wrapS = tex.wrapT = THREE.RepeatWrapping;
  tex.magFilter = tex.minFilter = THREE.LinearFilter;
  tex.needsUpdate = true;
  return tex;
}

const CHANNEL = { depth: 0, mist: 1, foliage: 2, water: 3 };

// The four scene layers of one strip in one RGBA texture (depth, mist, foliage, water), at the
// size of the first layer that arrived. A missing layer is neutral: depth 0.5, masks 0.
function packLayers(images) {
  const first = Object.values(images).find(Boolean);
  const w = first ? first.width : 1, hgt = first ? first.height : 1;
  const data = new Uint8Array(w * hgt * 4);
  for (let i = 0; i < data.length; i += 4) data[i] = 128;
  const pack = { w, hgt, data, tex: new THREE.DataTexture(data, w, hgt) };
  for (const [kind, img] of Object.entries(images)) if (img) putChannel(pack, kind, img);
  pack.tex.magFilter = pack.tex.minFilter = THREE.LinearFilter;
  pack.tex.wrapS = pack.tex.wrapT = THREE.ClampToEdgeWrapping;
  pack.tex.needsUpdate = true;
  return pack;
}

// Copies the red channel of img (an image or a canvas, scaled to the pack) into the layer's
// channel; the caller flags the texture for upload.
function putChannel(pack, kind, img) {
  const c = document.createElement('canvas');
  c.width = pack.w; c.height = pack.hgt;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(img, 0, 0, pack.w, pack.hgt);
  const src = g.getImageData(0, 0, pack.w, pack.hgt).data, ch = CHANNEL[kind];
  // Data textures are not flipped: the first row of data is the bottom of the picture (v = 0),
  // as it is for the painting, which three.js flips on upload.
  for (let y = 0; y < pack.hgt; y++) {
    const s0 = (pack.hgt - 1 - y) * pack.w * 4, d0 = y * pack.w * 4;
    for (let x = 0; x < pack.w * 4; x += 4) pack.data[d0 + x + ch] = src[s0 + x];
  }
}

async function loadImage(url) {
  const img = new Image();
  img.src = url;
  await img.decode();
  return img;
}

// opts: {container, imageId, info, set (scene layer set or null), wide (handscroll),
//        reduced (prefers-reduced-motion), dims ({width, height} cm or null), onStats}
export function createLiving(opts) {
  const { container, imageId, info, set } = opts;
  const layers = {};
  for (const l of (set && set.layers) || []) layers[l.kind] = l;
  // opts.depthPrior 'height': no layer set, depth from height alone (heightPrior).
  const prior = opts.depthPrior === 'height';
  const hasLayers = !!(layers.depth && layers.mist && layers.foliage && layers.water) || !!layers.depth || prior;
  // The drawing buffer is not preserved (that costs a full-frame copy per frame in software
  // GL): whoever reads pixels renders and reads in one task (readPixels below).
  const gl0 = opts.gl || webgl2Context();
  if (!gl0) throw new Error('no WebGL2');
  const renderer = new THREE.WebGLRenderer({ canvas: gl0.canvas, context: gl0.context, ...CONTEXT_ATTRS });
  const baseRatio = Math.min(window.devicePixelRatio || 1, 1.5);
  renderer.setPixelRatio(baseRatio);
  // Render scale: where frames come slower than 30 per second (software GL, a weak GPU), the
  // scene is drawn at a lower internal resolution and scaled up by the browser, in steps,
  // during the first seconds of animation; then it stays put (a resolution that changed under
  // a reader of pixels, or every few seconds, would be worse than a steady one). The canvas
  // keeps its size on the page. 1 on any machine that keeps up.
  // opts.scale (the page's ?scale=) fixes it: a reader who wants full resolution whatever the
  // frame rate, or a benchmark comparing like with like.
  const scaler = { scale: opts.scale || 1, settled: !!opts.scale, intervals: [], steps: 0 };
  if (opts.scale) renderer.setPixelRatio(baseRatio * opts.scale);
  renderer.outputColorSpace = THREE.SRGBColorSpace;
  // The canvas is opaque: its letterbox takes the stage's colour (living.css).
  renderer.setClearColor(0x1d1b18, 1);
  renderer.xr.enabled = true;
  const canvas = renderer.domElement;
  canvas.className = 'living-canvas';
  container.append(canvas);
  const scene = new THREE.Scene();
  const camera = new THREE.OrthographicCamera(-0.5, 0.5, 0.5, -0.5, 0, 10);
  // Sampled like the painting and the layers (linear, clamped), so that the warm-up draw
  // below prepares the same sampling code the real frames use.
  const blank = new THREE.DataTexture(new Uint8Array([0, 0, 0, 255]), 1, 1);
  blank.magFilter = blank.minFilter = THREE.LinearFilter;
  blank.needsUpdate = true;
  const noise = noiseTexture();
  let pack = null; // the packed layers of the loaded strip
  const uniforms = {
    uPaint: { value: blank }, uLayers: { value: blank }, uNoise: { value: noise },
    uView: { value: new THREE.Vector4(0, 0, 1, 1) }, uParallax: { value: new THREE.Vector2(0, 0) },
    uStrength: { value: 0.035 }, uTime: { value: 0 }, uAnim: { value: opts.reduced ? 0 : 1 },
    uHasLayers: { value: 0 }, uDebug: { value: 0 }, uSliceLo: { value: -1 }, uSliceHi: { value: 2 },
    uTint: { value: new THREE.Vector3(...HOURS.day) }, uSeason: { value: new THREE.Vector3(...SEASONS.summer) },
    uTexel: { value: new THREE.Vector2(0.001, 0.001) }, uPaper: { value: new THREE.Vector3(0.93, 0.9, 0.83) },
  };
  const material = new THREE.ShaderMaterial({ glslVersion: THREE.GLSL3, vertexShader: VERT, fragmentShader: FRAG, uniforms, depthTest: false });
  const quad = new THREE.Mesh(new THREE.PlaneGeometry(1, 1), material);
  scene.add(quad);
  // One warm-up draw of a single pixel now, while the first picture is on its way: software
  // GL (SwiftShader) turns the shader and its texture sampling into machine code at the first
  // draw that uses them, which took 0.4-2 s when it waited for the painting. The commands
  // run in the GPU process while this thread goes on loading; the pixel is cleared by the
  // first real frame.
  renderer.setScissorTest(true);
  renderer.setScissor(0, 0, 1, 1);
  uniforms.uHasLayers.value = 1; // the branch the real frames take
  renderer.render(scene, camera);
  uniforms.uHasLayers.value = 0;
  renderer.setScissorTest(false);

  const W = info.width, H = info.height;
  // The window: what is on screen, in image pixels. Zoom divides it; the walk moves x.
  const view = { x: 0, y: 0, w: W, h: H, zoom: 1 };
  let strip = null;     // {x, y, w, h}: the region the textures hold
  let loading = null, busy = false;
  // firstFrameAt: the painting on screen; layersAt: its layers in, the scene alive.
  const stats = { frames: 0, frameTimes: [], firstFrameAt: 0, layersAt: 0, started: performance.now(), textures: 0 };
  let pointer = { x: 0, y: 0 }, smooth = { x: 0, y: 0 };
  let walking = false, walkSpeed = 0; // image px per second, leftwards
  let raf = 0, last = 0, lastDraw = 0, dead = false;
  let xrGroup = null;

  function aspect() { const r = container.getBoundingClientRect(); return Math.max(0.1, r.width / Math.max(1, r.height)); }

  function fitView() {
    const a = aspect();
    if (opts.wide) { view.h = H / view.zoom; view.w = Math.min(W, view.h * a); }
    else if (W / H > a) { view.w = W / view.zoom; view.h = view.w / a; }
    else { view.h = H / view.zoom; view.w = view.h * a; }
    view.w = Math.min(view.w, W); view.h = Math.min(view.h, H);
    view.x = Math.max(0, Math.min(W - view.w, view.x));
    view.y = Math.max(0, Math.min(H - view.h, view.y));
  }

  // The plane keeps the painting's aspect inside the screen (letterboxed, never stretched).
  function layout() {
    const r = container.getBoundingClientRect();
    renderer.setSize(r.width, r.height, false);
    const a = r.width / Math.max(1, r.height), va = view.w / view.h;
    quad.scale.set(va > a ? 1 : va / a, va > a ? a / va : 1, 1);
  }

  function updateWindowUniform() {
    if (!strip) return;
    uniforms.uView.value.set((view.x - strip.x) / strip.w, 1 - (view.y - strip.y + view.h) / strip.h, view.w / strip.w, view.h / strip.h);
  }

  // Loads the strip around the window: the window itself, or three windows wide for a walk,
  // at the screen's pixel size (so a deeper zoom asks for a smaller region, as sharp).
  async function loadStrip() {
    const r = container.getBoundingClientRect();
    const dpr = renderer.getPixelRatio();
    const span = opts.wide ? 3 : 1;
    const sw = Math.min(W, view.w * span), sx = Math.max(0, Math.min(W - sw, view.x + view.w / 2 - sw / 2));
    const want = { x: sx, y: view.y, w: sw, h: view.h };
    // The window is letterboxed inside the stage (a tall painting shows a narrow column): its
    // width on screen, not the stage's, decides how many pixels are worth asking for.
    const shown = Math.min(r.width, r.height * (view.w / view.h));
    let px = Math.min(shown * dpr * (sw / view.w), 8192);
    if (info.maxWidth) px = Math.min(px, info.maxWidth);
    if (info.maxArea) px = Math.min(px, Math.sqrt(info.maxArea * (want.w / want.h)));
    const my = loading = {};
    busy = true;
    // The layers at half the painting's size (at most 1024 px): smooth depth and binary
    // masks lose nothing visible, and the server encodes and the browser decodes a quarter.
    const kinds = ['depth', 'mist', 'foliage', 'water'];
    const lpx = Math.max(64, Math.min(px / 2, 1024));
    const layerJobs = kinds.map((k) => (layers[k] ? loadImage(regionUrl(layers[k].image_id, layers[k].width, W, want, lpx, 'png')).catch(() => null)
      : Promise.resolve(prior && k === 'depth' ? heightPrior(want, H) : null)));
    const paintJob = loadTex(regionUrl(imageId, W, W, want, px, 'jpg'));
    // The first strip shows the painting as soon as it arrives, still; the layers join when
    // they come (a later strip swaps both at once, so a walk never shows a still patch).
    let paint;
    if (!strip) {
      paint = await paintJob.catch((e) => { if (my === loading) busy = false; throw e; });
      if (dead || my !== loading) { paint.dispose(); return; }
      setPaint(paint, want);
      draw(performance.now());
    }
    const imgs = await Promise.all(layerJobs);
    if (!paint) paint = await paintJob.finally(() => { if (my === loading) busy = false; });
    if (my === loading) busy = false;
    if (dead || my !== loading) { if (uniforms.uPaint.value !== paint) paint.dispose(); return; }
    if (uniforms.uPaint.value !== paint) setPaint(paint, want);
    if (pack) pack.tex.dispose();
    pack = null;
    uniforms.uLayers.value = blank;
    uniforms.uHasLayers.value = 0;
    if (imgs[0]) {
      pack = packLayers(Object.fromEntries(kinds.map((k, i) => [k, imgs[i]])));
      uniforms.uLayers.value = pack.tex;
      uniforms.uHasLayers.value = 1;
    }
    stats.textures++;
    draw(performance.now());
    if (!stats.layersAt) stats.layersAt = performance.now();
    readyResolve(); // ready: the layers are in and the painting moves
    kick();
  }

  function setPaint(paint, want) {
    if (uniforms.uPaint.value !== blank) uniforms.uPaint.value.dispose();
    uniforms.uPaint.value = paint;
    uniforms.uTexel.value.set(1 / paint.image.width, 1 / paint.image.height);
    paperTone(paint.image);
    strip = want;
    updateWindowUniform();
  }

  // The support's tone, for the mist to thin towards: the mean of the brightest tenth of a
  // 48 px copy of the loaded painting (blank silk or paper, whatever its age).
  function paperTone(img) {
    try {
      const c = document.createElement('canvas');
      c.width = 48; c.height = Math.max(1, Math.round(48 * img.height / img.width));
      const g = c.getContext('2d', { willReadFrequently: true });
      g.drawImage(img, 0, 0, c.width, c.height);
      const d = g.getImageData(0, 0, c.width, c.height).data, px = [];
      for (let i = 0; i < d.length; i += 4) px.push([d[i] + d[i + 1] + d[i + 2], d[i], d[i + 1], d[i + 2]]);
      px.sort((a, b) => b[0] - a[0]);
      const top = px.slice(0, Math.max(1, px.length >> 3));
      const m = [1, 2, 3].map((k) => top.reduce((s, p) => s + p[k], 0) / top.length / 255);
      uniforms.uPaper.value.set(m[0], m[1], m[2]);
    } catch { /* keep the default tone */ }
  }

  let reloadTimer = 0;
  function scheduleReload(ms = 200) { clearTimeout(reloadTimer); reloadTimer = setTimeout(() => loadStrip().catch((e) => console.warn('living', e)), ms); }

  function draw(now) {
    if (!strip) return;
    const t0 = performance.now();
    uniforms.uTime.value = (now - stats.started) / 1000;
    // ease towards the pointer over about a fifth of a second, whatever the frame rate
    const k = Math.min(1, (now - (lastDraw || now)) / 200 + 0.05);
    lastDraw = now;
    smooth.x += (pointer.x - smooth.x) * k;
    smooth.y += (pointer.y - smooth.y) * k;
    if (Math.abs(smooth.x - pointer.x) < 1e-3) smooth.x = pointer.x;
    if (Math.abs(smooth.y - pointer.y) < 1e-3) smooth.y = pointer.y;
    uniforms.uParallax.value.set(smooth.x, -smooth.y);
    renderer.render(scene, camera);
    stats.frames++;
    if (!stats.firstFrameAt) stats.firstFrameAt = performance.now();
    stats.frameTimes.push(performance.now() - t0);
    if (stats.frameTimes.length > 600) stats.frameTimes.shift();
    opts.onStats?.(stats);
  }

  function adapt(interval) {
    if (scaler.settled || !interval) return;
    scaler.intervals.push(interval);
    if (scaler.intervals.length < 12) return;
    // The mean interval, less the slowest one (a collection pause): frames come on the
    // display's beat, so a median of exactly two beats (30/s) hid runs of three-beat frames
    // that made 25/s. A step aims at 36/s, a margin for scenes that cost more than this one.
    const sorted = scaler.intervals.sort((a, b) => a - b).slice(0, -1);
    const mean = sorted.reduce((x, y) => x + y, 0) / sorted.length;
    scaler.intervals = [];
    scaler.steps++;
    const next = mean > 1000 / 32 ? Math.max(0.5, scaler.scale * Math.sqrt((1000 / 36) / mean)) : scaler.scale;
    if (next < scaler.scale - 0.02 && scaler.steps < 5) {
      scaler.scale = Math.round(next * 100) / 100;
      renderer.setPixelRatio(baseRatio * scaler.scale);
      layout();
    } else scaler.settled = true;
  }

  function tick(now) {
    raf = 0;
    if (dead) return;
    const dt = last ? Math.min(0.1, (now - last) / 1000) : 0;
    if (last && stats.layersAt && uniforms.uAnim.value > 0) adapt(now - last);
    last = now;
    if (walking && strip) {
      view.x = Math.max(0, view.x - walkSpeed * dt);
      if (view.x <= 0) walking = false;
      updateWindowUniform();
      if (!busy && view.x < strip.x + view.w * 0.25 && strip.x > 0) scheduleReload(0);
    }
    draw(now);
    if (uniforms.uAnim.value > 0 || walking || smooth.x !== pointer.x || smooth.y !== pointer.y) raf = requestAnimationFrame(tick);
  }
  function kick() { if (!raf && !dead && !renderer.xr.isPresenting) raf = requestAnimationFrame(tick); }

  // Pointer, touch and tilt move the viewpoint; the wheel zooms (new regions load sharp).
  function onMove(e) {
    const r = canvas.getBoundingClientRect();
    pointer = { x: Math.max(-1, Math.min(1, ((e.clientX - r.left) / r.width) * 2 - 1)), y: Math.max(-1, Math.min(1, ((e.clientY - r.top) / r.height) * 2 - 1)) };
    kick();
  }
  function onTilt(e) {
    if (e.gamma == null) return;
    pointer = { x: Math.max(-1, Math.min(1, e.gamma / 30)), y: Math.max(-1, Math.min(1, (e.beta - 45) / 30)) };
    kick();
  }
  function onWheel(e) {
    e.preventDefault();
    const cx = view.x + view.w / 2, cy = view.y + view.h / 2;
    view.zoom = Math.max(1, Math.min(16, view.zoom * (e.deltaY < 0 ? 1.25 : 0.8)));
    fitView();
    view.x = Math.max(0, Math.min(W - view.w, cx - view.w / 2));
    view.y = Math.max(0, Math.min(H - view.h, cy - view.h / 2));
    layout();
    if (strip && view.x >= strip.x && view.x + view.w <= strip.x + strip.w && view.y >= strip.y && view.y + view.h <= strip.y + strip.h) updateWindowUniform();
    scheduleReload();
    kick();
  }
  canvas.addEventListener('pointermove', onMove);
  canvas.addEventListener('wheel', onWheel, { passive: false });
  window.addEventListener('deviceorientation', onTilt);
  // Nothing loads before the stage has a size (the page is built before it is attached):
  // the first resize places the window (a handscroll opens at its right end, where reading
  // starts) and loads; later ones reload at the new size.
  let readyResolve;
  const ready = new Promise((res) => { readyResolve = res; });
  let placed = false;
  const ro = new ResizeObserver(() => {
    const r = container.getBoundingClientRect();
    if (r.width < 2 || r.height < 2) return;
    fitView();
    if (!placed) { placed = true; if (opts.wide) view.x = W - view.w; fitView(); }
    layout();
    updateWindowUniform();
    // The first load starts here and now (a timer would wait for another task); later
    // sizes are debounced.
    if (strip || loading) scheduleReload(250);
    else loadStrip().catch((e) => console.warn('living', e));
    kick();
  });
  ro.observe(container);

  // ---- WebXR: the layers as a space to stand in, or the work on a wall at its true size.
  function buildXr(mode) {
    xrGroup = new THREE.Group();
    const a = view.w / view.h;
    const slices = mode === 'immersive-vr' && hasLayers ? 4 : 1;
    for (let i = 0; i < slices; i++) {
      const m = material.clone();
      m.uniforms = THREE.UniformsUtils.clone(uniforms);
      for (const k of ['uPaint', 'uLayers', 'uNoise']) m.uniforms[k].value = uniforms[k].value;
      m.uniforms.uParallax.value.set(0, 0);
      m.uniforms.uSliceLo.value = slices > 1 ? i / slices : -1;
      m.uniforms.uSliceHi.value = slices > 1 ? (i + 1) / slices : 2;
      m.transparent = true;
      let w, hgt, z;
      if (mode === 'immersive-ar' && opts.dims && opts.dims.width) {
        w = opts.dims.width / 100; hgt = opts.dims.height / 100; z = -1.5; // true size, metres
      } else {
        const dist = 2 + i * 1.5; // nearer layers closer to the viewer
        hgt = 1.2 * dist / 2; w = hgt * a; z = -dist;
      }
      const mesh = new THREE.Mesh(new THREE.PlaneGeometry(w, hgt), m);
      mesh.position.set(0, 1.5, z);
      mesh.renderOrder = -i;
      xrGroup.add(mesh);
    }
    scene.add(xrGroup);
    quad.visible = false;
  }
  function endXr() {
    if (xrGroup) { scene.remove(xrGroup); xrGroup.traverse((o) => { o.geometry?.dispose(); o.material?.dispose(); }); xrGroup = null; }
    quad.visible = true;
    renderer.setAnimationLoop(null);
    kick();
  }
  // AR with a hit test: the work waits, as an outline of its true size that follows the wall
  // the reader points at, until a tap (select) hangs it there. Without one (a device that
  // cannot find walls) it hangs 1.5 m ahead, and the page says so.
  async function wallHanging(session, note) {
    if (!session.requestHitTestSource || !xrGroup) { note('ar_nowall'); return null; }
    let source;
    try {
      const viewer = await session.requestReferenceSpace('viewer');
      source = await session.requestHitTestSource({ space: viewer });
    } catch { note('ar_nowall'); return null; }
    const work = xrGroup.children[0];
    work.position.set(0, 0, 0);
    xrGroup.visible = false;
    const outline = new THREE.LineSegments(new THREE.EdgesGeometry(work.geometry), new THREE.LineBasicMaterial({ color: 0xf4e4c1 }));
    outline.visible = false;
    scene.add(outline);
    let aim = null;
    session.addEventListener('select', () => {
      if (!aim) return;
      xrGroup.position.fromArray(aim.position);
      xrGroup.quaternion.fromArray(aim.quaternion);
      xrGroup.visible = true;
      note('ar_placed');
    });
    session.addEventListener('end', () => { source.cancel?.(); scene.remove(outline); outline.geometry.dispose(); outline.material.dispose(); });
    note('ar_aim');
    return (frame) => {
      const space = renderer.xr.getReferenceSpace();
      const hit = frame && space ? frame.getHitTestResults(source)[0] : null;
      const pose = hit ? hit.getPose(space) : null;
      aim = null;
      if (pose) {
        const m = new THREE.Matrix4().fromArray(pose.transform.matrix);
        const p = new THREE.Vector3().setFromMatrixPosition(m);
        const n = new THREE.Vector3().setFromMatrixColumn(m, 1);
        aim = wallPlacement(p.toArray(), n.toArray());
      }
      outline.visible = !!aim;
      if (aim) { outline.position.fromArray(aim.position); outline.quaternion.fromArray(aim.quaternion); }
    };
  }
  async function enterXr(mode, note = () => {}) {
    const session = await navigator.xr.requestSession(mode, { optionalFeatures: mode === 'immersive-ar' ? ['local-floor', 'hit-test'] : ['local-floor'] });
    const cam = new THREE.PerspectiveCamera(70, 1, 0.05, 100);
    buildXr(mode);
    session.addEventListener('end', endXr);
    await renderer.xr.setSession(session);
    const follow = mode === 'immersive-ar' ? await wallHanging(session, note) : null;
    renderer.setAnimationLoop((now, frame) => {
      uniforms.uTime.value = (now - stats.started) / 1000;
      follow?.(frame);
      renderer.render(scene, cam);
    });
    return session;
  }

  // ---- for the curator's brushes and the browser tests
  function readPixels() {
    renderer.render(scene, camera); // the frame as it is now: the buffer was not kept
    const gl = renderer.getContext();
    const w = gl.drawingBufferWidth, hgt = gl.drawingBufferHeight;
    const data = new Uint8Array(w * hgt * 4);
    gl.readPixels(0, 0, w, hgt, gl.RGBA, gl.UNSIGNED_BYTE, data);
    return { width: w, height: hgt, data };
  }
  function maskPixels() {
    uniforms.uDebug.value = 1;
    renderer.render(scene, camera);
    const px = readPixels();
    uniforms.uDebug.value = 0;
    renderer.render(scene, camera);
    return px;
  }
  // Image pixel under a client point (for brushes), or null off the painting.
  function imageAt(clientX, clientY) {
    const r = canvas.getBoundingClientRect();
    const sx = quad.scale.x, sy = quad.scale.y;
    const u = ((clientX - r.left) / r.width - 0.5) / sx + 0.5, v = ((clientY - r.top) / r.height - 0.5) / sy + 0.5;
    if (u < 0 || u > 1 || v < 0 || v > 1) return null;
    return { x: view.x + u * view.w, y: view.y + v * view.h };
  }
  // Replaces one layer texture by a canvas covering exactly the loaded strip (the brushes
  // crop their whole-image copy to it).
  function setLayerCanvas(kind, cnv) {
    if (!(kind in CHANNEL)) return null;
    if (!pack) {
      pack = packLayers({ [kind]: cnv });
      uniforms.uLayers.value = pack.tex;
    } else {
      putChannel(pack, kind, cnv);
      pack.tex.needsUpdate = true;
    }
    uniforms.uHasLayers.value = 1;
    return pack.tex;
  }

  return {
    canvas, ready, stats, view, uniforms,
    get renderScale() { return scaler.scale; },
    get scaleSettled() { return scaler.settled; },
    get strip() { return strip; },
    setReduced(on) { uniforms.uAnim.value = on ? 0 : 1; kick(); },
    setLight(hour, season) {
      uniforms.uTint.value.set(...(HOURS[hour] || HOURS.day));
      uniforms.uSeason.value.set(...(SEASONS[season] || SEASONS.summer));
      kick(); draw(performance.now());
    },
    walk(on, secondsPerScreen = 40) {
      walking = on && opts.wide; walkSpeed = view.w / secondsPerScreen;
      // A walk is the longest steady animation: the scale is looked at again while it runs.
      if (walking && !opts.scale) { scaler.settled = false; scaler.intervals = []; scaler.steps = Math.min(scaler.steps, 3); }
      kick();
    },
    get walking() { return walking; },
    setPointer(x, y) { pointer = { x, y }; kick(); },
    enterXr, readPixels, maskPixels, imageAt, setLayerCanvas, reload: () => loadStrip(),
    draw: () => draw(performance.now()),
    destroy() {
      dead = true;
      cancelAnimationFrame(raf);
      clearTimeout(reloadTimer);
      ro.disconnect();
      window.removeEventListener('deviceorientation', onTilt);
      renderer.setAnimationLoop(null);
      if (uniforms.uPaint.value !== blank) uniforms.uPaint.value.dispose();
      pack?.tex.dispose();
      noise.dispose();
      material.dispose();
      quad.geometry.dispose();
      renderer.dispose();
      canvas.remove();
    },
  };
}
