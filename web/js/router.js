// router.js: client-side routes over the History API. The server answers index.html for
// every extension-less path, so /relic/x, /search?q=… and /scroll/x are real, shareable URLs.
const routes = [];
let renderFn = null;

export function route(pattern, page) {
  const keys = [];
  const re = new RegExp('^' + pattern.replace(/:(\w+)/g, (_, k) => { keys.push(k); return '([^/]+)'; }) + '/?$');
  routes.push({ re, keys, page });
}

export function match(pathname) {
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (m) {
      const params = {};
      r.keys.forEach((k, i) => { params[k] = decodeURIComponent(m[i + 1]); });
      return { page: r.page, params };
    }
  }
  return null;
}

export function navigate(url, { replace = false, keepScroll = false } = {}) {
  const u = new URL(url, location.href);
  if (u.origin !== location.origin) { location.href = u.href; return; }
  if (replace) history.replaceState({}, '', u); else history.pushState({}, '', u);
  renderFn(keepScroll);
}

export function start(render) {
  renderFn = render;
  window.addEventListener('popstate', () => render(false));
  // Same-origin links navigate in place; modified clicks, downloads and targets do not.
  document.addEventListener('click', (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    const a = e.target.closest('a[href]');
    if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
    const u = new URL(a.href, location.href);
    if (u.origin !== location.origin || u.pathname.startsWith('/iiif/') || u.pathname.startsWith('/api/')) return;
    e.preventDefault();
    navigate(u.href);
  });
  render(false);
}
