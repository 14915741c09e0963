// tour.js: a guided tour over an OpenSeadragon viewer: an ordered list of stops, each a
// region of the image (pixels, x,y,w,h), a text in Chinese and English and an optional zoom
// (docs/api.md: screen pixels per image pixel, centred on the region; absent = fit the
// region). Next/previous, autoplay, keyboard
// (→/← or n/p, space plays/pauses, Escape ends). The relic page feeds it a tour from
// /api/tours/{id}; stop regions are canvas pixels (scaled to the image by canvas.width).
import { t, pick, tag, onLangChange } from './i18n.js';
import { h, svgIcon, clear } from './dom.js';
import { parseXywh } from './annotations.js';

export function normStop(s) {
  let r = s.region ?? s.xywh;
  if (typeof r === 'string') r = parseXywh(r.includes('xywh=') ? r : `xywh=${r}`);
  else if (Array.isArray(r)) r = { x: r[0], y: r[1], w: r[2], h: r[3] };
  if (!r || !(r.w > 0) || !(r.h > 0)) throw new Error('tour stop without a region');
  return { region: r, text: s.text || {}, zoom: Number(s.zoom) > 0 ? Math.min(64, Number(s.zoom)) : null };
}

// createTour(viewer, stops, {interval}) -> {el, start(), stop(), go(i), next(), prev(),
// play(), pause(), index, playing, destroy()}. el is the panel to place beside the viewer.
export function createTour(viewer, rawStops, { interval = 6000, onEnd = null, title = null, canvas = null, onShare = null } = {}) {
  const stops = rawStops.map(normStop);
  let index = -1, timer = null, active = false;
  const counter = h('p.tour-count', { 'aria-live': 'polite' });
  const heading = h('p.tour-title');
  const text = h('p.tour-text');
  const playBtn = h('button.tool', { type: 'button' });
  const prevBtn = h('button.tool', { type: 'button', onclick: () => tour.prev() }, svgIcon('left'));
  const nextBtn = h('button.tool', { type: 'button', onclick: () => tour.next() }, svgIcon('right'));
  const closeBtn = h('button.tool', { type: 'button', onclick: () => tour.stop() }, svgIcon('close'));
  const shareBtn = onShare ? h('button.tool.tour-share', { type: 'button', onclick: () => onShare(index, shareBtn) }, svgIcon('share')) : null;
  playBtn.addEventListener('click', () => (timer ? tour.pause() : tour.play()));
  const el = h('section.tour', { role: 'region', tabindex: '-1', hidden: true },
    h('div.tour-head', h('div.tour-heading', heading, counter), closeBtn), text,
    h('div.tour-controls', { role: 'toolbar' }, prevBtn, playBtn, nextBtn, shareBtn));

  function labels() {
    el.setAttribute('aria-label', t('tour'));
    prevBtn.setAttribute('aria-label', t('tour_prev'));
    nextBtn.setAttribute('aria-label', t('tour_next'));
    closeBtn.setAttribute('aria-label', t('tour_close'));
    closeBtn.title = t('tour_close');
    if (shareBtn) { shareBtn.setAttribute('aria-label', t('tour_share_stop')); shareBtn.title = t('tour_share_stop'); }
    if (title) { const p = pick(title); heading.textContent = p.text; heading.lang = tag(p.lang); }
    heading.hidden = !title;
    playBtn.setAttribute('aria-label', t(timer ? 'tour_pause' : 'tour_play'));
    playBtn.setAttribute('aria-pressed', timer ? 'true' : 'false');
    clear(playBtn).append(svgIcon(timer ? 'pause' : 'play'));
    if (index >= 0) {
      counter.textContent = t('tour_stop_n', { i: index + 1, n: stops.length });
      const p = pick(stops[index].text);
      text.textContent = p.text;
      text.lang = tag(p.lang);
    }
    prevBtn.disabled = index <= 0;
    nextBtn.disabled = index >= stops.length - 1;
  }

  // Keeps the stop's region clear of the panel: beside it on wide viewers, above it on
  // narrow ones (where the panel spans the width).
  function margins() {
    const vp = viewer.viewport;
    if (!vp.setMargins) return;
    const W = viewer.container.clientWidth, pw = el.offsetWidth, ph = el.offsetHeight;
    if (!pw) vp.setMargins({});
    else if (pw > W * 0.6) vp.setMargins({ bottom: ph + 14 });
    else vp.setMargins({ right: pw + 28 });
  }

  function fly(i) {
    const s = stops[i];
    margins();
    const item = viewer.world.getItemAt(0);
    const k = canvas && canvas.width && item ? item.getContentSize().x / canvas.width : 1;
    const r = s.region;
    const rect = item ? item.imageToViewportRectangle(r.x * k, r.y * k, r.w * k, r.h * k) : new window.OpenSeadragon.Rect(r.x, r.y, r.w, r.h);
    if (s.zoom && item) {
      viewer.viewport.panTo(rect.getCenter(), false);
      viewer.viewport.zoomTo(item.imageToViewportZoom(s.zoom / k), null, false);
    } else {
      viewer.viewport.fitBounds(rect, false);
    }
  }

  function onKey(e) {
    if (!active || e.altKey || e.ctrlKey || e.metaKey) return;
    const tgt = e.target;
    if (tgt && (tgt.tagName === 'INPUT' || tgt.tagName === 'SELECT' || tgt.tagName === 'TEXTAREA')) return;
    const k = e.key;
    if (k === 'ArrowRight' || k === 'n' || k === 'PageDown') tour.next();
    else if (k === 'ArrowLeft' || k === 'p' || k === 'PageUp') tour.prev();
    else if (k === ' ' && tgt === el) { if (timer) tour.pause(); else tour.play(); }
    else if (k === 'Escape') tour.stop();
    else return;
    e.preventDefault();
    e.stopPropagation();
  }

  const off = onLangChange(labels);
  const tour = {
    el, stops,
    get index() { return index; },
    get playing() { return !!timer; },
    get active() { return active; },
    get interval() { return interval; },
    set interval(ms) { interval = ms; if (timer) { tour.pause(); tour.play(); } },
    start(i = 0) {
      active = true;
      el.hidden = false;
      document.addEventListener('keydown', onKey, true);
      tour.go(i);
      el.focus({ preventScroll: true });
    },
    go(i) {
      if (!stops.length) return;
      index = Math.max(0, Math.min(stops.length - 1, i));
      labels();
      fly(index);
      el.dispatchEvent(new CustomEvent('tourstop', { detail: { index } }));
    },
    next() {
      if (index < stops.length - 1) tour.go(index + 1);
      else if (timer) { tour.pause(); if (onEnd) onEnd(); }
    },
    prev() { if (index > 0) tour.go(index - 1); },
    play() { if (!timer) { timer = setInterval(() => tour.next(), interval); labels(); } },
    pause() { if (timer) { clearInterval(timer); timer = null; labels(); } },
    stop() {
      tour.pause();
      active = false;
      el.hidden = true;
      document.removeEventListener('keydown', onKey, true);
      if (viewer.viewport.setMargins) viewer.viewport.setMargins({});
      viewer.viewport.goHome();
      el.dispatchEvent(new CustomEvent('tourend'));
    },
    destroy() {
      tour.pause(); document.removeEventListener('keydown', onKey, true); off(); el.remove();
      if (active && viewer.viewport && viewer.viewport.setMargins) viewer.viewport.setMargins({});
    },
  };
  labels();
  return tour;
}
