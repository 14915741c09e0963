// The "Enter the painting" link of the relic page and the handscroll mode (issue 14). It
// readies the living painting before the click: three.js (2 MB of modules) is fetched and
// compiled when the browser is idle, and the WebGL context, which takes software GL a
// large part of a second to create, is made when the reader points at or focuses the link.
import { lang } from './i18n.js';
import { mainImage } from './api.js';
import { h } from './dom.js';

let job = null;
function loadLiving() {
  job = job || import('./living-gl.js').catch(() => { job = null; return null; });
  return job;
}

export function livingEnter(r, imageId, cls) {
  const href = `/living/${encodeURIComponent(r.id)}${imageId !== mainImage(r) ? `?image=${encodeURIComponent(imageId)}` : ''}`;
  const intent = () => loadLiving().then((m) => m && m.prewarm());
  const a = h(`a.${cls}.living-enter`, {
    href, 'data-living-enter': '',
    onclick: () => performance.mark('dq-living-enter'),
    onpointerenter: intent, onfocus: intent, ontouchstart: intent,
  }, lang() === 'zh' ? '入画' : 'Enter the painting');
  (window.requestIdleCallback || ((f) => setTimeout(f, 1500)))(() => loadLiving(), { timeout: 4000 });
  return a;
}
