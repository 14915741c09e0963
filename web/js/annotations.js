// annotations.js: draws the regions of a IIIF AnnotationPage (W3C Web Annotation, as IIIF
// Presentation 3.0 carries them) over an OpenSeadragon viewer, as overlays that can be
// toggled. Targets are canvas fragments ("…/canvas/1#xywh=10,20,300,200", or a
// SpecificResource with a FragmentSelector); bodies are TextualBody values with a language.
// Canvas coordinates are mapped to image pixels by canvasWidth (when the canvas is not the
// image's own size). The relic page loads the AnnotationPages the manifest's canvas names.
import { pick, tag } from './i18n.js';
import { h } from './dom.js';

// Parses "xywh=x,y,w,h" (pixel form only; "percent:" scaled by the canvas size).
export function parseXywh(s, canvas = null) {
  const m = /xywh=(?:(pixel|percent):)?([\d.]+),([\d.]+),([\d.]+),([\d.]+)/.exec(s || '');
  if (!m) return null;
  let [x, y, w, hh] = m.slice(2).map(Number);
  if (m[1] === 'percent' && canvas) { x *= canvas.width / 100; w *= canvas.width / 100; y *= canvas.height / 100; hh *= canvas.height / 100; }
  return { x, y, w, h: hh };
}

function targetRegion(target, canvas) {
  if (!target) return null;
  if (typeof target === 'string') return parseXywh(target, canvas);
  if (target.selector) {
    const sels = Array.isArray(target.selector) ? target.selector : [target.selector];
    for (const s of sels) if (s && s.value) { const r = parseXywh(s.value, canvas); if (r) return r; }
  }
  if (target.id) return parseXywh(target.id, canvas);
  return null;
}

// The text of the bodies as a language map {zh, en}.
function bodyText(body) {
  const out = {};
  for (const b of Array.isArray(body) ? body : body ? [body] : []) {
    if (!b || (b.type && b.type !== 'TextualBody') || !b.value) continue;
    const l = String(b.language || '').toLowerCase().startsWith('zh') ? 'zh' : 'en';
    out[l] = out[l] ? `${out[l]}${l === 'zh' ? '、' : ', '}${b.value}` : b.value;
  }
  return out;
}

// Parses an AnnotationPage into [{id, region:{x,y,w,h}, text:{zh,en}, motivation}].
export function parsePage(page, canvas = null) {
  const items = (page && (page.items || page.resources)) || [];
  const out = [];
  for (const a of items) {
    const region = targetRegion(a.target || a.on, canvas);
    if (!region) continue;
    out.push({ id: a.id || `anno-${out.length}`, region, text: bodyText(a.body || a.resource), motivation: a.motivation || 'commenting' });
  }
  return out;
}

// createAnnotationLayer(viewer, {urls | page, canvas, onSelect}) -> layer with load(),
// reload(), show(), hide(), toggle(on?), highlight(id), visible, annotations, destroy().
// urls are the canvas's AnnotationPages as the manifest references them. Overlays are
// buttons (focusable, labelled with their text) so the keyboard reaches them.
export function createAnnotationLayer(viewer, { urls = null, url = null, page = null, canvas = null, fetchFn = window.fetch.bind(window), onSelect = null } = {}) {
  const OSD = window.OpenSeadragon;
  const pages = urls || (url ? [url] : []);
  let annotations = [];
  let elements = [];
  let visible = false;
  let lit = null;
  const scale = () => {
    const item = viewer.world.getItemAt(0);
    return canvas && item && canvas.width ? item.getContentSize().x / canvas.width : 1;
  };
  // Canvas pixels -> the viewer's viewport rectangle.
  const rectOf = (r) => {
    const item = viewer.world.getItemAt(0), k = scale();
    return item ? item.imageToViewportRectangle(r.x * k, r.y * k, r.w * k, r.h * k) : new OSD.Rect(r.x, r.y, r.w, r.h);
  };
  function draw() {
    for (const el of elements) viewer.removeOverlay(el);
    elements = annotations.map((a, i) => {
      const label = pick(a.text);
      const el = h('button.anno', { type: 'button', 'aria-label': label.text || `#${i + 1}`, title: label.text, 'data-anno': a.id, 'data-motivation': a.motivation },
        h('span.anno-n', { 'aria-hidden': 'true' }, String(i + 1)));
      el.addEventListener('click', () => onSelect && onSelect(a, i));
      viewer.addOverlay({ element: el, location: rectOf(a.region) });
      // OSD's tracker would swallow the click as a canvas drag: let the button have it.
      new OSD.MouseTracker({ element: el, clickHandler: () => el.click() });
      return el;
    });
    if (lit) layer.highlight(lit, false);
  }
  const layer = {
    get annotations() { return annotations; },
    get visible() { return visible; },
    rectOf,
    async load() {
      const all = [];
      for (const p of page ? [page] : pages) {
        let j = p;
        if (typeof p === 'string') {
          const r = await fetchFn(p, { headers: { Accept: 'application/ld+json, application/json' }, credentials: 'same-origin' });
          if (!r.ok) throw new Error(`annotations: ${r.status}`);
          j = await r.json();
        }
        all.push(...parsePage(j, canvas));
      }
      annotations = all;
      return annotations;
    },
    async reload() {
      await layer.load();
      if (visible) draw();
      return annotations;
    },
    show() {
      if (visible) return;
      visible = true;
      draw();
      viewer.container.classList.add('annotations-on');
    },
    hide() {
      if (!visible) return;
      visible = false;
      for (const el of elements) viewer.removeOverlay(el);
      elements = [];
      viewer.container.classList.remove('annotations-on');
    },
    toggle(on = !visible) { if (on) layer.show(); else layer.hide(); return visible; },
    // Marks one annotation (by id) as the current one; fly=true also brings it into view.
    highlight(id, fly = true) {
      lit = id;
      for (const el of elements) el.classList.toggle('is-lit', el.dataset.anno === id);
      const a = annotations.find((x) => x.id === id);
      if (a && fly) {
        const rect = rectOf(a.region);
        // some room around the region, so it reads in its context
        viewer.viewport.fitBounds(new OSD.Rect(rect.x - rect.width * 0.6, rect.y - rect.height * 0.6, rect.width * 2.2, rect.height * 2.2), false);
      }
      return a || null;
    },
    destroy() { layer.hide(); annotations = []; },
  };
  void tag;
  return layer;
}
