// worktools.js: what the relic page offers around its viewer (issue 6):
// - the annotation layer of the canvas (the AnnotationPages the manifest names), toggled;
//   choosing a region opens its card; educators and up draw new ones (annotate.js);
// - search inside the work (IIIF Content Search 2.0): hits listed, a click flies there;
// - guided tours: chosen and played by anyone (tour.js), authored by educators
//   (tour-editor.js);
// - "share this view": a /relic/{id}?iiif-content= link (IIIF Content State 1.0).
// The page hands over `store` (kept across its re-renders: the layer, an open panel, a
// playing tour) so a language switch or a sign-in keeps the reader's place.
import { t, tag, pick, lang } from './i18n.js';
import { h, svgIcon, clear } from './dom.js';
import { getJSON, getWithETag, annotationsUrl, listTours, tourUrl, sameOrigin, searchServiceOf } from './api.js';
import { createAnnotationLayer } from './annotations.js';
import { annotationEditor, annotationCard, viewRegion, regionRect } from './annotate.js';
import { tourEditor } from './tour-editor.js';
import { createTour } from './tour.js';
import { regionState, shareUrl } from './contentstate.js';
import { addToLessonButton } from './lesson-add.js';
import { currentUser, hasRole } from './session.js';

function announce(msg) {
  const live = document.getElementById('live');
  if (!live) return;
  live.textContent = '';
  requestAnimationFrame(() => { live.textContent = msg; });
}

// opts: {relic, v (createViewer's handle), canvas {n, id, width, height, imageId, imageWidth,
// annotations}, manifest, store, navigate}. Returns {actions, panel, below, destroy()}.
export function workTools({ relic, v, canvas, manifest, store, navigate }) {
  const viewer = v.viewer;
  const me = currentUser();
  const disposers = [];
  const canvasInfo = { ...canvas };

  // ---------------------------------------------------------------- the panel beside the viewer
  // One host for all renders of this viewer, so a panel opened before a re-render still closes.
  const panel = store.host || (store.host = h('div.stage-panel', { hidden: true }));
  function openPanel(p, focus = true) {
    closePanel(false);
    store.panel = p;
    panel.append(p.el);
    panel.hidden = false;
    // The panel lies over the viewer (below it on narrow screens): bring the pair into view.
    const narrow = window.matchMedia('(max-width: 900px)').matches;
    const smooth = window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth';
    (narrow ? panel : v.el).scrollIntoView({ block: 'nearest', behavior: smooth });
    if (focus) p.focus();
  }
  function closePanel(destroy = true) {
    if (store.panel) { if (destroy) store.panel.destroy(); else store.panel.el.remove(); }
    store.panel = null;
    panel.hidden = true;
    clear(panel);
  }

  // ---------------------------------------------------------------- annotations
  const annoBox = h('label.switch', { hidden: true },
    h('input#anno-toggle', { type: 'checkbox', role: 'switch' }), h('span.switch-track', { 'aria-hidden': 'true' }),
    h('span.switch-label', t('annotations_show')), h('span.anno-count'));
  const cb = annoBox.querySelector('input');
  const canAnnotate = hasRole('educator');
  const annoBtn = canAnnotate ? h('button.btn-line#anno-new', { type: 'button' }, svgIcon('frame'), t('anno_new')) : null;
  const onSelect = (a) => {
    store.layer.highlight(a.id, false);
    const card = annotationCard({
      url: a.id,
      onClose: () => closePanel(),
      onEdit: (anno, etag) => openEditor(anno, etag),
      onDeleted: async () => { closePanel(); await refreshLayer(); announce(t('anno_deleted')); },
    });
    openPanel(card);
    card.ready.then(() => { if (store.panel === card) card.focus(); }).catch(() => {});
  };
  async function refreshLayer() {
    await store.layer.reload();
    updateCount();
  }
  function updateCount() {
    const n = store.layer ? store.layer.annotations.length : 0;
    annoBox.hidden = !n && !canAnnotate;
    cb.checked = !!(store.layer && store.layer.visible);
    annoBox.querySelector('.anno-count').textContent = ` · ${t(n === 1 ? 'annotations_count_one' : 'annotations_count', { n })}`;
  }
  function openEditor(anno = null, etag = null) {
    const ed = annotationEditor({
      viewerHandle: v, canvas: canvasInfo, containerUrl: annotationsUrl(relic.id), canvasId: `canvas/${canvas.n}`, anno, etag,
      onSaved: async (saved) => {
        closePanel(false);
        await refreshLayer();
        store.layer.show(); updateCount();
        store.layer.highlight(saved.id, false);
        announce(t(anno ? 'anno_updated' : 'anno_saved'));
        document.getElementById('anno-new')?.focus({ preventScroll: true });
      },
      onCancel: () => { closePanel(false); document.getElementById('anno-new')?.focus({ preventScroll: true }); },
    });
    openPanel(ed);
  }
  if (annoBtn) annoBtn.addEventListener('click', () => openEditor());
  cb.addEventListener('change', () => { if (store.layer) { store.layer.toggle(cb.checked); updateCount(); } });
  const layerReady = (async () => {
    await v.ready;
    if (!store.layer) {
      store.layer = createAnnotationLayer(viewer, { urls: canvas.annotations, canvas: { width: canvas.width, height: canvas.height }, onSelect: (a) => store.onSelect(a) });
      await store.layer.load();
    }
    store.onSelect = onSelect; // the current render's handler
    updateCount();
  })();
  layerReady.catch((e) => console.warn('annotations', e));

  // ---------------------------------------------------------------- search inside the work
  const service = searchServiceOf(manifest);
  const hitsBox = h('section.hits', { hidden: true, 'aria-labelledby': 'hits-title' });
  let searchForm = null;
  if (service) {
    const q = h('input#find-q', { type: 'search', placeholder: t('find_placeholder'), autocomplete: 'off' });
    searchForm = h('form.find', { role: 'search', 'aria-label': t('find_label') },
      h('label.visually-hidden', { for: 'find-q' }, t('find_label')),
      h('span.find-icon', { 'aria-hidden': 'true' }, svgIcon('search')), q,
      h('button.btn-line', { type: 'submit' }, t('find_go')));
    searchForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const term = q.value.trim();
      if (!term) { hitsBox.hidden = true; return; }
      let res;
      try { res = await getJSON(`${service}?q=${encodeURIComponent(term)}`); } catch (ex) {
        hitsBox.replaceChildren(h('p.form-err', { role: 'alert' }, t('error_load', { msg: ex.message }))); hitsBox.hidden = false; return;
      }
      showHits(term, res);
    });
  }
  function showHits(term, res) {
    const hitsOf = new Map();
    for (const page of res.annotations || []) {
      for (const hit of page.items || []) {
        const src = hit.target && (hit.target.source && (hit.target.source.id || hit.target.source));
        const sel = [].concat((hit.target && hit.target.selector) || []).find((s) => s && s.type === 'TextQuoteSelector');
        if (src && sel && !hitsOf.has(src)) hitsOf.set(src, sel);
      }
    }
    const items = res.items || [];
    const list = h('ol.hit-list');
    items.forEach((a) => {
      const sel = hitsOf.get(a.id);
      const texts = [].concat(a.body || []).filter((b) => b && b.value);
      const best = texts.find((b) => String(b.language || '').startsWith(lang() === 'zh' ? 'zh' : 'en')) || texts[0] || { value: '' };
      const quote = sel
        ? h('span.hit-quote', { lang: /[\u3400-\u9fff]/.test(sel.exact) ? 'zh-Hans' : 'en' }, sel.prefix ? `…${sel.prefix}` : '', h('mark', sel.exact), sel.suffix ? `${sel.suffix}…` : '')
        : h('span.hit-quote', { lang: String(best.language || '').startsWith('zh') ? 'zh-Hans' : 'en' }, best.value);
      const target = typeof a.target === 'string' ? a.target : (a.target && (a.target.id || a.target.source)) || '';
      const cn = Number((/\/canvas\/(\d+)/.exec(target) || [])[1] || canvas.n);
      const btn = h('button.hit', { type: 'button' }, h('span.motivation-chip', { 'data-motivation': a.motivation }, t(`motivation_${a.motivation}`)), quote);
      btn.addEventListener('click', () => {
        for (const b of list.querySelectorAll('.hit')) b.removeAttribute('aria-current');
        btn.setAttribute('aria-current', 'true');
        goToAnnotation(a, cn, target);
      });
      list.append(h('li', btn));
    });
    hitsBox.replaceChildren(
      h('h2.hits-title#hits-title', t('find_results', { n: items.length, q: term })),
      items.length ? list : h('p.empty-hits', t('find_none', { q: term })));
    hitsBox.hidden = false;
    announce(t('find_results', { n: items.length, q: term }));
  }
  async function goToAnnotation(a, cn, target) {
    if (cn !== canvas.n) { // another canvas: open it at the region (a content state link)
      const m = /#xywh=(\d+),(\d+),(\d+),(\d+)/.exec(target);
      const cvs = (manifest.items || [])[cn - 1];
      if (m && cvs) navigate(shareUrl(relic.id, regionState({ canvasId: cvs.id, manifestId: manifest.id, xywh: m.slice(1).map(Number) })));
      return;
    }
    await layerReady;
    if (!store.layer.annotations.some((x) => x.id === a.id)) await refreshLayer();
    store.layer.show(); updateCount();
    store.layer.highlight(a.id, true);
    v.el.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  }

  // ---------------------------------------------------------------- share this view
  const shareBox = h('div.share-box', { hidden: true });
  function showShare(url, what, anchor) {
    const inp = h('input#share-url', { type: 'text', readOnly: true, value: url });
    const copy = h('button.btn-ink.copy-link', { type: 'button' }, t('share_copy'));
    const done = h('span.share-done', { role: 'status' });
    copy.addEventListener('click', async () => {
      inp.select();
      try { await navigator.clipboard.writeText(url); done.textContent = t('cite_copied'); } catch { done.textContent = t('share_select'); }
    });
    shareBox.replaceChildren(
      h('label.share-label', { for: 'share-url' }, what),
      h('div.share-row', inp, copy,
        h('button.tool.share-close', { type: 'button', 'aria-label': t('close'), title: t('close'), onclick: () => { shareBox.hidden = true; anchor?.focus(); } }, svgIcon('close'))),
      done);
    shareBox.hidden = false;
    inp.focus(); inp.select();
  }
  const shareBtn = h('button.btn-line#share-view', { type: 'button' }, svgIcon('link'), t('share_view'));
  shareBtn.addEventListener('click', () => {
    const xywh = viewRegion(viewer, canvasInfo);
    showShare(shareUrl(relic.id, regionState({ canvasId: canvas.id, manifestId: manifest.id, xywh })), t('share_view_label'), shareBtn);
  });

  // issue 17: the region in view as a step of a lesson (educators; lesson-add.js)
  const addLesson = addToLessonButton({ relicId: relic.id, canvasN: canvas.n, region: () => viewRegion(viewer, canvasInfo) });

  // ---------------------------------------------------------------- tours
  const tourBox = h('div.tour-pick', { hidden: true });
  const canAuthor = hasRole('educator');
  const newTourBtn = canAuthor ? h('button.btn-line#tour-new', { type: 'button' }, svgIcon('plus'), t('tour_new')) : null;
  let tours = [];
  const player = () => store.player;
  function stopPlayer() { if (store.player) { store.player.tour.destroy(); store.player = null; } }
  async function startTour(id) {
    const { body: tour } = await getWithETag(tourUrl(id));
    stopPlayer();
    closePanel();
    const p = createTour(viewer, tour.stops.filter((s) => !s.canvas || s.canvas === canvas.n), {
      title: tour.title, canvas: { width: canvas.width, height: canvas.height },
      onShare: (i, anchor) => {
        const enc = tour.content_state && tour.content_state[i];
        const s = tour.stops[i];
        const url = enc ? `${location.origin}/relic/${encodeURIComponent(relic.id)}?iiif-content=${enc}`
          : shareUrl(relic.id, regionState({ canvasId: canvas.id, manifestId: manifest.id, xywh: s.xywh }));
        showShare(url, t('tour_share_label', { i: i + 1 }), anchor);
      },
    });
    p.el.addEventListener('tourend', () => { if (store.player && store.player.tour === p) { stopPlayer(); document.getElementById('tour-start')?.focus({ preventScroll: true }); } });
    v.el.append(p.el);
    store.player = { id, tour: p };
    v.el.scrollIntoView({ block: 'nearest', behavior: window.matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
    window.__dqTour = p; // for the browser tests and the console
    p.start(0);
  }
  async function loadTours(selectId = null) {
    tours = await listTours(relic.id);
    clear(tourBox);
    if (!tours.length && !canAuthor) { tourBox.hidden = true; return; }
    const mine = (tr) => me && (tr.author === me.user || hasRole('admin'));
    const label = (tr) => { const p = pick(tr.title); return `${p.text}${tr.public === false ? ` (${t('tour_private')})` : ''}`; };
    let sel = null;
    if (tours.length > 1) {
      sel = h('select#tour-select', tours.map((tr) => h('option', { value: tr.id }, label(tr))));
      if (selectId) sel.value = selectId;
      tourBox.append(h('label.visually-hidden', { for: 'tour-select' }, t('tour_choose')), sel);
    }
    const chosen = () => (sel ? sel.value : tours[0] && tours[0].id);
    if (tours.length) {
      const start = h('button.btn-line#tour-start', { type: 'button' }, svgIcon('play'), tours.length === 1 ? t('tour_start_named', { title: label(tours[0]) }) : t('tour_start'));
      start.addEventListener('click', () => startTour(chosen()).catch((e) => announce(t('error_load', { msg: e.message }))));
      tourBox.append(start);
      if (canAuthor) {
        const edit = h('button.btn-line#tour-edit', { type: 'button' }, t('tour_edit'));
        const sync = () => { const tr = tours.find((x) => x.id === chosen()); edit.hidden = !(tr && mine(tr)); };
        sel?.addEventListener('change', sync);
        sync();
        edit.addEventListener('click', async () => {
          const { body, etag } = await getWithETag(tourUrl(chosen()));
          openTourEditor(body, etag);
        });
        tourBox.append(edit);
      }
    }
    if (newTourBtn) tourBox.append(newTourBtn);
    tourBox.hidden = false;
  }
  function openTourEditor(tour = null, etag = null) {
    stopPlayer();
    const ed = tourEditor({
      relicId: relic.id, viewerHandle: v, canvas: canvasInfo, tour, etag, announce,
      onSaved: async (saved) => { closePanel(false); await loadTours(saved.id); announce(t('tour_saved')); document.getElementById('tour-start')?.focus({ preventScroll: true }); },
      onDeleted: async () => { closePanel(false); await loadTours(); announce(t('tour_deleted')); },
      onCancel: () => { closePanel(false); (document.getElementById('tour-edit') || newTourBtn)?.focus({ preventScroll: true }); },
    });
    openPanel(ed);
  }
  if (newTourBtn) newTourBtn.addEventListener('click', () => openTourEditor());
  loadTours().catch((e) => console.warn('tours', e));

  // ---------------------------------------------------------------- layout
  const actions = h('div.viewer-extras', annoBox, tourBox);
  const below = h('div.work-tools',
    h('div.work-row', searchForm, h('div.work-actions', shareBtn, addLesson && addLesson.btn, annoBtn)),
    shareBox, addLesson && addLesson.box, hitsBox);
  void tag; void regionRect; void sameOrigin; void player;
  return {
    actions, panel, below,
    // Flies to a shared region (Content State) and frames it for a moment.
    async showRegion(xywh) {
      await v.ready;
      // OSD may open the image before the page is in the document: wait until it has
      // measured its container, or the fit would be computed for a 0 × 0 viewer.
      for (let i = 0; i < 300; i++) {
        const c = viewer.container;
        if (c.isConnected && c.clientWidth > 0 && Math.abs(viewer.viewport.getContainerSize().x - c.clientWidth) < 1) break;
        await new Promise((res) => requestAnimationFrame(res));
      }
      viewer.viewport.fitBounds(regionRect(viewer, canvasInfo, xywh), true);
      const frame = h('div.shared-region', { 'aria-hidden': 'true' });
      viewer.addOverlay({ element: frame, location: regionRect(viewer, canvasInfo, xywh) });
      setTimeout(() => viewer.removeOverlay(frame), 4500);
    },
    destroy() { for (const d of disposers) d(); },
  };
}
