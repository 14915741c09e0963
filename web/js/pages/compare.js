// Compare (/compare?a=IMAGE&b=IMAGE&mode=side|swipe): two images, or two captures of one
// work, side by side with linked zoom, or overlaid with a swipe divider (the upper image is
// clipped at the divider; the divider is a range input, so keys move it too). Either side may
// be another institution's image, opened from its IIIF manifest (pasted or dropped).
import { t, tag, pick } from '../i18n.js';
import { searchRelics, mainImage, imageUrl } from '../api.js';
import { h } from '../dom.js';
import { createViewer, osd, OSD_DEFAULTS } from '../viewer.js';
import { infoUrl } from '../api.js';
import { manifestField } from '../remote-manifest.js';

export const name = 'compare';

async function choices() {
  const res = await searchRelics({ has_images: 1, limit: 48, sort: 'accession' });
  return (res.items || []).filter((it) => it.image_id || it.thumbnail).map((it) => ({
    image: it.image_id || (/\/iiif\/3\/([^/]+)\//.exec(it.thumbnail) || [])[1], title: it.title, id: it.id,
  }));
}

function picker(id, label, list, value, onChange, remote) {
  // A remote image (issue 16: a manifest opened by URL) is one more option, named by its label.
  const opts = list.map((c) => h('option', { value: c.image, selected: c.image === value, lang: tag(pick(c.title).lang) }, pick(c.title).text));
  if (remote) opts.unshift(h('option', { value: remote.service, selected: true }, `${remote.label || remote.service} ↗`));
  return h('label.pick', { for: id }, h('span', t(label)),
    h(`select#${id}`, { onchange: (e) => onChange(e.target.value) }, opts));
}

function linkViewers(a, b) {
  let lock = false;
  const sync = (from, to) => () => {
    if (lock) return;
    lock = true;
    to.viewport.zoomTo(from.viewport.getZoom(), null, true);
    to.viewport.panTo(from.viewport.getCenter(), true);
    lock = false;
  };
  const h1 = sync(a, b), h2 = sync(b, a);
  a.addHandler('viewport-change', h1);
  b.addHandler('viewport-change', h2);
  return () => { a.removeHandler('viewport-change', h1); b.removeHandler('viewport-change', h2); };
}

export async function render(ctx) {
  const list = await choices();
  const q = ctx.query;
  const a = q.get('a') || (list[0] && list[0].image);
  const b = q.get('b') || (list.find((c) => c.image !== a) || list[0] || {}).image;
  const mode = q.get('mode') === 'swipe' ? 'swipe' : 'side';
  // Issue 16: a side may be another institution's image service (a=/b= an http(s) URL), with
  // its manifest's label in al=/bl=; ?manifest= (IIIF drag-and-drop) opens one on the right.
  const src = (x) => (/^https?:\/\//.test(x) ? `${x}/info.json` : infoUrl(x));
  const remote = (k) => (/^https?:\/\//.test(q.get(k) || '') ? { service: q.get(k), label: q.get(`${k}l`) || '' } : null);
  const go = (next) => {
    const keep = {};
    for (const k of ['al', 'bl']) if (q.get(k)) keep[k] = q.get(k);
    const u = new URLSearchParams({ a, b, mode, ...keep, ...next });
    for (const k of ['a', 'b']) if (!/^https?:/.test(u.get(k) || '')) u.delete(`${k}l`);
    ctx.navigate(`/compare?${u}`, { replace: true, keepScroll: true });
  };
  const cleanup = [];
  let body;
  if (!a || !b) {
    body = h('p', t('compare_pick'));
  } else if (mode === 'side') {
    const va = createViewer(a, { navigator: false, label: `${t('compare_left')}: ${t('viewer_label')}` });
    const vb = createViewer(b, { navigator: false, label: `${t('compare_right')}: ${t('viewer_label')}` });
    Promise.all([va.ready, vb.ready]).then(() => cleanup.push(linkViewers(va.viewer, vb.viewer))).catch(() => {});
    cleanup.push(() => va.destroy(), () => vb.destroy());
    window.__dqCompare = [va.viewer, vb.viewer]; // for the browser tests and the console
    body = h('div.compare-side', va.el, vb.el);
  } else {
    const OSD = osd();
    const stage = h('div.osd', { role: 'application', 'aria-label': t('viewer_label') });
    const viewer = OSD({ ...OSD_DEFAULTS, element: stage, tileSources: [src(b), src(a)], showNavigator: false });
    const divider = h('input.swipe-range', { type: 'range', min: 0, max: 1000, value: 500, 'aria-label': t('compare_divider') });
    const line = h('div.swipe-line', { 'aria-hidden': 'true' });
    const wrap = h('div.viewer.compare-swipe', stage, line, divider);
    const clip = () => {
      const top = viewer.world.getItemAt(1);
      if (!top) return;
      const f = Number(divider.value) / 1000;
      const sw = viewer.container.clientWidth;
      const x = f * sw;
      // Clip the upper image to the part left of the divider, in its own pixels.
      const p0 = top.viewerElementToImageCoordinates(new OSD.Point(0, 0));
      const p1 = top.viewerElementToImageCoordinates(new OSD.Point(x, viewer.container.clientHeight));
      top.setClip(new OSD.Rect(p0.x - 1e6, p0.y - 1e6, p1.x - p0.x + 1e6, 2e6 + (p1.y - p0.y)));
      line.style.transform = `translate3d(${x}px,0,0)`;
    };
    viewer.addHandler('open', () => {
      // Both images at the same width: captures of one work line up.
      const ia = viewer.world.getItemAt(0), ib = viewer.world.getItemAt(1);
      if (ia && ib) { ia.setWidth(1, true); ib.setWidth(1, true); ia.setPosition(new OSD.Point(0, 0), true); ib.setPosition(new OSD.Point(0, 0), true); viewer.viewport.goHome(true); }
      clip();
    });
    viewer.addHandler('animation', clip);
    viewer.addHandler('resize', clip);
    divider.addEventListener('input', () => { clip(); viewer.forceRedraw(); });
    cleanup.push(() => viewer.destroy());
    window.__dqCompare = [viewer];
    body = wrap;
  }
  const field = manifestField({ onOpen: (res) => go({ b: res.service, bl: res.label || '' }) });
  const pasted = q.get('manifest') || q.get('iiif-content');
  if (pasted && !remote('b')) {
    // Opened by a IIIF drag-and-drop link (/compare?manifest=URL): read it as if pasted.
    queueMicrotask(() => field.openText(q.get('manifest') ? pasted : `${location.origin}/compare?iiif-content=${pasted}`));
  }
  const el = h('div.page.compare',
    h('header.compare-head',
      h('h1.page-title', h('span', { lang: tag() }, t('compare_title'))),
      h('p.hint', t('compare_pick'))),
    h('div.compare-controls',
      picker('cmp-a', 'compare_left', list, a, (v) => go({ a: v }), remote('a')),
      picker('cmp-b', 'compare_right', list, b, (v) => go({ b: v }), remote('b')),
      h('fieldset.mode', h('legend', t('compare_mode')),
        ['side', 'swipe'].map((m) => h('label.radio', h('input', { type: 'radio', name: 'mode', value: m, checked: mode === m, onchange: () => go({ mode: m }) }), h('span', t(`compare_${m}`)))))),
    field,
    body);
  void imageUrl; void mainImage;
  return { el, title: t('compare_title'), destroy() { for (const f of cleanup.reverse()) f(); } };
}
