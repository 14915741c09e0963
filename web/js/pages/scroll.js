// Handscroll mode (/scroll/{id}): the scroll opens rolled; the reader unrolls it right to
// left an arm's length at a time (wheel, drag, keys, touch, the buttons or the overview
// strip), zooms to the brushstroke and back; the frontispiece, painting and colophons are
// named as they come into view. The engine is in ../handscroll.js.
import { t, tag, pick } from '../i18n.js';
import { getRelic, getInfo, mainImage } from '../api.js';
import { h, svgIcon } from '../dom.js';
import { createHandscroll, createStrip } from '../handscroll.js';
import { remoteCompare } from '../network.js';
import { livingEnter } from '../living-enter.js';

export const name = 'scroll';
let kept = null; // {key, engine, parts, owner}

function sections(r, W) {
  // Where the parts of a handscroll lie is not in the record; mark the conventional ones
  // the inscriptions name: the frontispiece at the right end, colophons at the left.
  const pos = (r.inscriptions || []).map((i) => String(i.position || '').toLowerCase());
  const out = [];
  if (pos.some((p) => p.includes('frontispiece'))) out.push({ key: 'frontispiece', from: W * 0.9, to: W });
  out.push({ key: 'painting', from: pos.some((p) => p.includes('colophon')) ? W * 0.14 : 0, to: out.length ? W * 0.9 : W });
  if (pos.some((p) => p.includes('colophon'))) out.push({ key: 'colophon', from: 0, to: W * 0.14 });
  return out;
}

function tool(icon, key, fn) {
  return h('button.tool', { type: 'button', 'aria-label': t(key), title: t(key), onclick: fn }, svgIcon(icon));
}

export async function render(ctx) {
  const r = await getRelic(ctx.params.id);
  const imageId = ctx.query.get('image') || mainImage(r);
  if (!imageId) throw Object.assign(new Error(t('no_image')), { status: 404 });
  const info = await getInfo(imageId);
  const key = `${r.id}|${imageId}`;
  const owner = {};
  let parts;
  if (kept && kept.key === key) {
    parts = kept.parts;
    kept.owner = owner;
  } else {
    if (kept) kept.engine.destroy();
    const stage = h('div.hs-stage');
    const mask = h('div.hs-mask', { 'aria-hidden': 'true' });
    const roller = h('div.hs-roller', { 'aria-hidden': 'true' }, h('span.hs-rod'), h('span.hs-label', { lang: 'zh-Hans' }, pick(r.title, 'zh').text));
    const hint = h('p.hs-hint', { 'aria-hidden': 'true' });
    const root = h('div.hs', { tabindex: '0', role: 'application' }, stage, mask, roller, hint);
    const stripImg = h('img.hs-strip-img', { draggable: 'false' });
    const win = h('div.hs-window', { 'aria-hidden': 'true' });
    const rolled = h('div.hs-rolled', { 'aria-hidden': 'true' });
    const stripEl = h('div.hs-strip', { role: 'slider', tabindex: '0', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-valuenow': '0' }, stripImg, rolled, win);
    const marks = h('div.hs-marks', { 'aria-hidden': 'true' });
    const progress = h('output.hs-progress', { 'aria-live': 'off' });
    const caption = h('p.hs-caption', { 'aria-live': 'polite' });
    parts = { root, stripEl, marks, progress, caption, secs: sections(r, info.width) };
    let engine = null;
    const strip = createStrip({ el: stripEl, img: stripImg, win, rolled, imageId, info, getEngine: () => engine });
    let lastSec = '';
    const onChange = (e) => {
      const p = Math.round(e.progress * 100);
      progress.textContent = t('scroll_progress', { p });
      stripEl.setAttribute('aria-valuenow', String(p));
      stripEl.setAttribute('aria-valuetext', t('scroll_progress', { p }));
      root.dataset.progress = e.progress.toFixed(4);
      root.dataset.zoom = e.zoom.toFixed(3);
      root.classList.toggle('is-rolled', e.progress < 0.002);
      root.classList.toggle('is-open', e.progress > 0.998);
      const L = e.view();
      const cx = L.left + L.vw / 2;
      const sec = parts.secs.find((s) => cx >= s.from && cx <= s.to) || parts.secs[0];
      if (sec && sec.key !== lastSec && e.progress > 0.002) { lastSec = sec.key; caption.textContent = t(`scroll_section_${sec.key}`); caption.lang = tag(); }
    };
    engine = createHandscroll({ root, stage, roller, mask, strip, imageId, info, onChange });
    parts.engine = engine;
    engine.ready.then(() => onChange(engine));
    kept = { key, engine, parts, owner };
    window.__dqScroll = engine; // for the browser tests and the console
  }
  const { root, stripEl, marks, progress, caption, engine } = parts;
  root.setAttribute('aria-label', t('scroll_label'));
  const hintEl = root.querySelector('.hs-hint');
  hintEl.textContent = t('scroll_rolled_hint');
  hintEl.lang = tag();
  root.setAttribute('aria-roledescription', t('open_scroll'));
  stripEl.setAttribute('aria-label', t('scroll_overview'));
  marks.replaceChildren(...parts.secs.map((s) => h('span.hs-mark', { style: { left: `${(s.from / info.width) * 100}%`, width: `${((s.to - s.from) / info.width) * 100}%` }, lang: tag() }, t(`scroll_section_${s.key}`))));
  if (engine.settled) progress.textContent = t('scroll_progress', { p: Math.round(engine.progress * 100) });
  if (caption.textContent) caption.textContent = '';

  const onKey = (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    const tg = e.target;
    if (tg && (tg.tagName === 'INPUT' || tg.tagName === 'SELECT' || tg.tagName === 'TEXTAREA' || (tg.tagName === 'BUTTON' && (e.key === ' ' || e.key === 'Enter')))) return;
    if (tg && tg.closest && tg.closest('.masthead')) return;
    if (engine.key(e)) e.preventDefault();
  };
  document.addEventListener('keydown', onKey);

  const title = pick(r.title);
  const fullBtn = h('button.tool.hs-full', { type: 'button', 'aria-label': t('scroll_fullscreen'), title: t('scroll_fullscreen'), 'aria-pressed': 'false', onclick: () => toggleFull() }, svgIcon('full'));
  const el = h('div.page.scroll-page',
    h('header.hs-head',
      h('a.back', { href: `/relic/${encodeURIComponent(r.id)}` }, svgIcon('left'), h('span', t('scroll_exit'))),
      h('h1.hs-title', { lang: tag(title.lang) }, title.text),
      /* issue 14: the living painting, walking the scroll right to left */
      livingEnter(r, imageId, 'btn-line'),
      progress),
    root,
    h('div.hs-bar',
      h('div.hs-strip-wrap', marks, stripEl),
      h('div.hs-controls', { role: 'toolbar', 'aria-label': t('scroll_label') },
        tool('first', 'scroll_end', () => engine.end()),
        tool('left', 'scroll_forward', () => engine.move(engine.armLength())),
        tool('right', 'scroll_back', () => engine.move(-engine.armLength())),
        tool('last', 'scroll_begin', () => engine.begin()),
        h('span.sep', { 'aria-hidden': 'true' }),
        tool('plus', 'zoom_in', () => engine.zoomBy(1.6)),
        tool('minus', 'zoom_out', () => engine.zoomBy(1 / 1.6)),
        tool('home', 'zoom_home', () => engine.zoomHome()),
        h('span.sep', { 'aria-hidden': 'true' }),
        fullBtn),
      caption),
    h('p.hs-help', t('scroll_help')));
  // issue 16: a IIIF manifest dropped on the page opens compare beside this work. The box (its
  // status says when the other site forbids the read) shows only once something is dropped:
  // the scroll's layout fills the window and must not lose height to it.
  const remoteBox = remoteCompare(imageId, ctx.navigate, el);
  remoteBox.style.display = 'none';
  el.addEventListener('drop', () => { remoteBox.style.display = ''; });
  el.append(remoteBox);
  // Full screen takes the whole page (title, scroll, strip and controls), so the reader can
  // still unroll, jump and leave with Escape; the engine follows the size change.
  function toggleFull() {
    if (document.fullscreenElement) document.exitFullscreen?.().catch(() => {});
    else el.requestFullscreen?.().catch((e) => console.warn('full screen', e.message));
  }
  const onFull = () => {
    const on = document.fullscreenElement === el;
    fullBtn.setAttribute('aria-pressed', on ? 'true' : 'false');
    const k = on ? 'scroll_fullscreen_exit' : 'scroll_fullscreen';
    fullBtn.setAttribute('aria-label', t(k)); fullBtn.title = t(k);
    el.classList.toggle('is-fullscreen', on);
    window.dispatchEvent(new Event('resize'));
  };
  document.addEventListener('fullscreenchange', onFull);
  return {
    el,
    title: title.text,
    focus: () => root.focus({ preventScroll: true }),
    destroy() {
      document.removeEventListener('keydown', onKey);
      document.removeEventListener('fullscreenchange', onFull);
      if (document.fullscreenElement === el) document.exitFullscreen?.().catch(() => {});
      if (kept && kept.owner === owner) { kept.engine.destroy(); kept = null; if (window.__dqScroll === engine) window.__dqScroll = null; }
    },
  };
}
