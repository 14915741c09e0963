// handscroll.js: the handscroll engine. A handscroll is read right to left an arm's length
// at a time: the view is the scroll's full height, and the reader unrolls it leftward.
//
// State: u, how much has been unrolled (image pixels from the right end, 0 = rolled up,
// W = open to the end); z, zoom over "fit the height" (1 .. brushstroke level); cy, the
// vertical centre (free only when zoomed). Each frame eases the current state towards its
// target (exponential, time-based, driven by requestAnimationFrame) and then, in one go,
// points OpenSeadragon's viewport at the resulting rectangle (fitBounds, immediate) and
// moves the roller and the mask with transforms: no layout is read in the frame.
//
// The roller (the still-rolled remainder, drawn as a cylinder whose thickness shrinks as
// it unrolls, plus the end rod) is attached to image x = W - u. While the unrolled part is
// narrower than the screen the painting's right end stays at the right edge and the roller
// travels left across the screen; after that the roller waits at the left edge and the
// painting moves under it. The view never leaves the scroll: u, z and cy are clamped.
// Zooming changes only z around the centre, so zooming in to the brushstroke and back out
// returns to the same place.
import { imageUrl } from './api.js';

const TAU = 0.09;          // easing time constant, seconds
const ROD = 12;            // end rod, screen px
const ROLL = 30;           // thickness of the full roll, screen px
const STRIP_MAX = 2400;    // overview image width

export function createHandscroll({ root, stage, roller, mask, strip, imageId, info, onChange = () => {} }) {
  const OSD = window.OpenSeadragon;
  const W = info.width, H = info.height;
  const viewer = OSD({
    element: stage,
    tileSources: `/iiif/3/${encodeURIComponent(imageId)}/info.json`,
    prefixUrl: '/static/vendor/openseadragon/images/',
    drawer: 'canvas',
    showNavigationControl: false,
    mouseNavEnabled: false,       // this engine owns wheel, drag, keys and pinch
    visibilityRatio: 0,
    constrainDuringPan: false,
    wrapHorizontal: false,
    animationTime: 0,
    blendTime: 0.1,
    immediateRender: false,
    maxZoomPixelRatio: 4,
    minZoomImageRatio: 0.01,
    imageLoaderLimit: 6,
    preserveViewport: true,
    crossOriginPolicy: false,
  });

  let cw = root.clientWidth || 1, ch = root.clientHeight || 1;
  const cur = { u: 0, z: 1, cy: H / 2 };
  const tgt = { u: 0, z: 1, cy: H / 2 };
  let raf = 0, last = 0, opened = false, destroyed = false;
  const stats = { frames: 0, ms: 0, longest: 0 };

  const k0 = () => ch / H;                           // screen px per image px at fit
  const zmax = () => Math.max(1, 2.5 / k0());        // 2.5 screen px per image px
  const rollPx = (u) => ROD + ROLL * Math.sqrt(Math.max(0, (W - u) / W));

  // Left image x of the view (and the roller's screen x) for a state.
  function layout(s) {
    const k = k0() * s.z;
    const r = rollPx(s.u);
    // At fit: roller screen x, then the view left that puts image x = W - u just right of it.
    const rx0 = Math.max(0, cw - s.u * k0() - r);
    const left0 = W - s.u - (rx0 + r) / k0();
    const cx = left0 + cw / (2 * k0());             // the place: kept across zoom
    const left = cx - cw / (2 * k);
    const vh = ch / k;
    const cy = Math.min(Math.max(s.cy, vh / 2), H - vh / 2);
    const top = s.z <= 1.0001 ? (H - vh) / 2 : cy - vh / 2;
    const rollerX = (W - s.u - left) * k - r;       // right edge of the roller at W - u
    return { k, left, top, vw: cw / k, vh, rollerX, r, cx };
  }

  function clamp(s) {
    s.u = Math.min(Math.max(s.u, 0), W);
    s.z = Math.min(Math.max(s.z, 1), zmax());
    const vh = ch / (k0() * s.z);
    s.cy = Math.min(Math.max(s.cy, vh / 2), H - vh / 2);
    return s;
  }

  function apply() {
    const L = layout(cur);
    const rect = viewer.viewport.imageToViewportRectangle(L.left, L.top, L.vw, L.vh);
    viewer.viewport.fitBounds(rect, true);
    roller.style.transform = `translate3d(${L.rollerX.toFixed(1)}px,0,0)`;
    roller.style.width = `${L.r.toFixed(1)}px`;
    const m = Math.max(0, L.rollerX + L.r * 0.5);
    mask.style.transform = `scaleX(${(m / cw).toFixed(4)})`;
    if (strip) strip.update(L);
  }

  function frame(now) {
    raf = 0;
    const dt = last ? Math.min(0.05, (now - last) / 1000) : 1 / 60;
    if (last) { stats.frames++; stats.ms += now - last; stats.longest = Math.max(stats.longest, now - last); }
    last = now;
    const a = 1 - Math.exp(-dt / TAU);
    cur.u += (tgt.u - cur.u) * a;
    cur.z = Math.exp(Math.log(cur.z) + (Math.log(tgt.z) - Math.log(cur.z)) * a);
    cur.cy += (tgt.cy - cur.cy) * a;
    const done = Math.abs(tgt.u - cur.u) * k0() < 0.3 && Math.abs(tgt.z / cur.z - 1) < 0.001 && Math.abs(tgt.cy - cur.cy) * k0() < 0.3;
    if (done) Object.assign(cur, tgt);
    apply();
    if (!done) raf = requestAnimationFrame(frame);
    else { last = 0; onChange(engine); }
  }

  // The u whose view is centred on image x (the centre falls as u grows; where it is flat,
  // the painting is pinned at the right end, keep u when it already gives that centre).
  function uForCentre(x, u0) {
    if (Math.abs(layout({ u: u0, z: 1, cy: H / 2 }).cx - x) < 0.5) return u0;
    let lo = 0, hi = W;
    for (let i = 0; i < 40; i++) {
      const mid = (lo + hi) / 2;
      if (layout({ u: mid, z: 1, cy: H / 2 }).cx > x) lo = mid; else hi = mid;
    }
    return (lo + hi) / 2;
  }

  function kick() {
    clamp(tgt);
    if (!raf && opened) { last = 0; raf = requestAnimationFrame(frame); }
  }

  // ---------------------------------------------------------------- moves (screen px)
  const engine = {
    viewer, stats, W, H,
    get progress() { return W ? tgt.u / W : 0; },
    get current() { return { ...cur }; },
    get zoom() { return tgt.z; },
    get zmax() { return zmax(); },
    get settled() { return !raf; },
    view() { return layout(cur); },
    armLength() { return cw * 0.8; },
    // Moves along the scroll by px screen pixels (positive = unroll further).
    move(px) { tgt.u += px / (k0() * tgt.z); kick(); },
    moveTo(u, { instant = false } = {}) { tgt.u = u; clamp(tgt); if (instant) { Object.assign(cur, tgt); apply(); onChange(engine); } else kick(); },
    begin() { engine.moveTo(0); },
    end() { engine.moveTo(W); },
    // Zoom by factor about the centre, or about screen x,y (keeps that point still).
    zoomBy(f, at = null) {
      const before = layout(tgt);
      tgt.z = Math.min(Math.max(tgt.z * f, 1), zmax());
      if (at) {
        // Keep the image point under (x, y) still: vertically through cy, horizontally
        // through u (the centre is a function of u; while the roller is still on screen
        // the painting is pinned at the right end, and only the zoom moves).
        const ix = before.left + at.x / before.k, iy = before.top + at.y / before.k;
        const k = k0() * tgt.z;
        tgt.u = uForCentre(ix - (at.x - cw / 2) / k, tgt.u);
        tgt.cy = iy - (at.y - ch / 2) / k;
      }
      kick();
    },
    zoomHome() { tgt.z = 1; tgt.cy = H / 2; kick(); },
    pan(dy) { tgt.cy += dy / (k0() * tgt.z); kick(); },
    // Centres image x (pixels) in the view, at fit zoom (used by the overview strip).
    centreOn(x) {
      // at least unroll past x, so a click near the right end never rolls the scroll up
      tgt.u = Math.max(uForCentre(x, tgt.u), W - x + cw / (4 * k0()));
      kick();
    },
    resize() {
      cw = root.clientWidth || 1; ch = root.clientHeight || 1;
      clamp(tgt); clamp(cur);
      if (opened) apply();
    },
    destroy() {
      destroyed = true;
      if (raf) cancelAnimationFrame(raf);
      ro.disconnect();
      viewer.destroy();
    },
  };

  const ro = new ResizeObserver(() => engine.resize());
  ro.observe(root);

  // ---------------------------------------------------------------- input
  root.addEventListener('wheel', (e) => {
    e.preventDefault();
    const unit = e.deltaMode === 1 ? 40 : e.deltaMode === 2 ? cw : 1;
    if (e.ctrlKey || e.metaKey) {
      const r = root.getBoundingClientRect();
      engine.zoomBy(Math.exp(-e.deltaY * unit * 0.0025), { x: e.clientX - r.left, y: e.clientY - r.top });
    } else {
      // Down or left (content moves right) reads on; up or right goes back.
      engine.move((e.deltaY - e.deltaX) * unit);
    }
  }, { passive: false });

  const pointers = new Map();
  let pinch0 = null, vel = 0, lastMove = 0;
  root.addEventListener('pointerdown', (e) => {
    if (e.button !== 0 && e.pointerType === 'mouse') return;
    root.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, { x: e.clientX, y: e.clientY });
    root.classList.add('grabbing');
    vel = 0; lastMove = performance.now();
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      pinch0 = { d: Math.hypot(a.x - b.x, a.y - b.y), z: tgt.z };
    }
  });
  root.addEventListener('pointermove', (e) => {
    const p = pointers.get(e.pointerId);
    if (!p) return;
    const dx = e.clientX - p.x, dy = e.clientY - p.y;
    p.x = e.clientX; p.y = e.clientY;
    if (pointers.size === 2 && pinch0) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      tgt.z = pinch0.z; engine.zoomBy(d / pinch0.d);
      return;
    }
    const now = performance.now();
    // Follow the hand one to one: move the target and the current state together.
    const du = dx / (k0() * tgt.z);
    tgt.u += du; cur.u += du;
    if (tgt.z > 1) { const dc = -dy / (k0() * tgt.z); tgt.cy += dc; cur.cy += dc; }
    clamp(tgt); clamp(cur);
    vel = 0.8 * vel + 0.2 * (dx / Math.max(1, now - lastMove));
    lastMove = now;
    apply();
  });
  const up = (e) => {
    if (!pointers.delete(e.pointerId)) return;
    if (pointers.size < 2) pinch0 = null;
    if (pointers.size === 0) {
      root.classList.remove('grabbing');
      if (performance.now() - lastMove < 80 && Math.abs(vel) > 0.2) engine.move(vel * 220); // a fling coasts
      else onChange(engine);
    }
  };
  root.addEventListener('pointerup', up);
  root.addEventListener('pointercancel', up);

  // Keys (also called by the page for document-level shortcuts): true when handled.
  engine.key = (e) => {
    const arm = engine.armLength();
    switch (e.key) {
      case 'ArrowLeft': engine.move(e.shiftKey ? arm : cw * 0.15); break;
      case 'ArrowRight': engine.move(-(e.shiftKey ? arm : cw * 0.15)); break;
      case 'PageDown': case ' ': engine.move(e.shiftKey && e.key === ' ' ? -arm : arm); break;
      case 'PageUp': engine.move(-arm); break;
      case 'Home': engine.begin(); break;
      case 'End': engine.end(); break;
      case 'ArrowUp': if (tgt.z > 1) engine.pan(-ch * 0.15); else return false; break;
      case 'ArrowDown': if (tgt.z > 1) engine.pan(ch * 0.15); else return false; break;
      case '+': case '=': engine.zoomBy(1.5); break;
      case '-': case '_': engine.zoomBy(1 / 1.5); break;
      case '0': engine.zoomHome(); break;
      default: return false;
    }
    return true;
  };

  engine.ready = new Promise((resolve, reject) => {
    viewer.addOnceHandler('open', () => {
      if (destroyed) return;
      opened = true;
      engine.resize();
      apply();
      resolve(engine);
    });
    viewer.addOnceHandler('open-failed', (e) => reject(new Error(e.message || 'open failed')));
  });
  engine.ready.catch(() => {});
  return engine;
}

// The overview strip: the whole scroll small, the rolled part dimmed, the view framed.
// Click or drag jumps there; it is also a slider for assistive technology.
export function createStrip({ el, img, win, rolled, imageId, info, getEngine }) {
  const w = Math.min(STRIP_MAX, info.width);
  img.src = imageUrl(imageId, `${w},`);
  img.alt = '';
  let sw = el.clientWidth || 1;
  new ResizeObserver(() => { sw = el.clientWidth || 1; }).observe(el);
  const strip = {
    update(L) {
      const W = info.width;
      const left = Math.max(0, L.left) / W, right = Math.min(W, L.left + L.vw) / W;
      win.style.transform = `translate3d(${(left * sw).toFixed(1)}px,0,0)`;
      win.style.width = `${Math.max(2, (right - left) * sw).toFixed(1)}px`;
      const rolledTo = Math.max(0, (L.left + (L.rollerX + L.r) / L.k) / W);
      rolled.style.transform = `scaleX(${Math.min(1, rolledTo).toFixed(4)})`;
    },
  };
  const jump = (clientX) => {
    const r = el.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (clientX - r.left) / r.width));
    getEngine().centreOn(f * info.width);
  };
  let dragging = false;
  el.addEventListener('pointerdown', (e) => { dragging = true; el.setPointerCapture(e.pointerId); jump(e.clientX); });
  el.addEventListener('pointermove', (e) => { if (dragging) jump(e.clientX); });
  el.addEventListener('pointerup', () => { dragging = false; });
  el.addEventListener('keydown', (e) => { if (getEngine().key(e)) { e.preventDefault(); e.stopPropagation(); } });
  return strip;
}
