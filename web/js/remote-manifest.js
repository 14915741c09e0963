// remote-manifest.js (issue 16): opening another institution's IIIF manifest on our viewer
// pages. A reader pastes a manifest URL into a field, or drops a link the way the IIIF
// drag-and-drop convention does (https://iiif.io/api/cookbook/, "drag and drop": a link whose
// query carries ?manifest=URL; also IIIF Content State 1.0 ?iiif-content= / a bare state),
// and the page shows the first Canvas's image service. The manifest is fetched by the browser:
// when the other site sends no CORS header (Access-Control-Allow-Origin), the browser refuses
// to let us read it and we say so, rather than proxying it through our server.
import { lang, tag } from './i18n.js';
import { h } from './dom.js';
import { decodeContentState } from './contentstate.js';

const L = {
  label: { zh: '打开其他馆藏的 IIIF 清单（粘贴网址，或拖入 IIIF 图标）', en: 'Open a IIIF manifest from another collection (paste its URL or drop a IIIF icon here)' },
  open: { zh: '打开', en: 'Open' },
  busy: { zh: '正在读取清单…', en: 'Reading the manifest…' },
  cors: { zh: '对方网站不允许从本站读取该清单（未发送 CORS 许可头 Access-Control-Allow-Origin）。请在对方网站或支持的查看器中打开。', en: 'The other site does not allow this page to read its manifest (it sends no CORS header, Access-Control-Allow-Origin). Open it on that site or in a viewer it allows.' },
  http: { zh: '对方网站答复 {s}。', en: 'The other site answered {s}.' },
  notiiif: { zh: '这不是可识别的 IIIF 清单（Presentation 2 或 3）。', en: 'This is not a IIIF manifest we can read (Presentation 2 or 3).' },
  noimage: { zh: '清单的第一幅画布没有 IIIF 图像服务。', en: 'The manifest\'s first canvas has no IIIF image service.' },
  badurl: { zh: '请输入 http(s) 网址。', en: 'Enter an http(s) URL.' },
  shown: { zh: '已打开：{t}', en: 'Opened: {t}' },
};
const s = (k, vars = {}) => Object.entries(vars).reduce((a, [k2, v]) => a.replace(`{${k2}}`, v), L[k][lang()] || L[k].en);

// The manifest URL a dropped or pasted text names: a link with ?manifest= (the IIIF
// drag-and-drop convention), a link with ?iiif-content= or a bare Content State (base64url or
// JSON: its target's partOf manifest, or a Manifest itself), or the URL itself.
export function manifestFromText(text) {
  const t0 = String(text || '').trim().split(/\s+/)[0];
  if (!t0) return null;
  let u = null;
  try { u = new URL(t0); } catch { /* not a URL: perhaps a bare content state */ }
  if (u && /^https?:$/.test(u.protocol)) {
    const m = u.searchParams.get('manifest');
    if (m) return m;
    const cs = u.searchParams.get('iiif-content');
    if (cs) return manifestFromState(cs);
    return u.href;
  }
  return manifestFromState(t0);
}

function manifestFromState(cs) {
  let st;
  try { st = /^\s*[{[]/.test(cs) ? JSON.parse(cs) : decodeContentState(cs); } catch { return null; }
  if (typeof st === 'string') return /^https?:\/\//.test(st) ? st : null;
  if (!st || typeof st !== 'object') return null;
  const type = st.type || st['@type'];
  if (type === 'Manifest' || type === 'sc:Manifest') return st.id || st['@id'] || null;
  const target = [].concat(st.target || [])[0];
  const part = target && typeof target === 'object' ? [].concat(target.partOf || [])[0] : null;
  return part ? part.id || part['@id'] || null : null;
}

// {label, service (the image service's base URL), canvas} of the manifest's first Canvas
// with an image service, Presentation 3 or 2; throws with a reader's message otherwise.
export function firstImage(m) {
  const label = (lm) => {
    if (!lm) return '';
    if (typeof lm === 'string') return lm;
    if (Array.isArray(lm)) return label(lm[0]);
    if (lm['@value']) return lm['@value'];
    const vals = lm[lang()] || lm.en || lm.none || Object.values(lm)[0];
    return [].concat(vals || [])[0] || '';
  };
  const svcId = (svc) => {
    const one = [].concat(svc || []).find((x) => x && (x.id || x['@id']) && /ImageService|image\/[23]|iiif\.io\/api\/image/.test(`${x.type || x['@type'] || ''} ${x.profile || ''} ${x['@context'] || ''}`));
    return one ? String(one.id || one['@id']).replace(/\/info\.json$/, '').replace(/\/$/, '') : null;
  };
  if (m && (m.type === 'Manifest') && Array.isArray(m.items)) {
    for (const c of m.items) {
      for (const page of c.items || []) for (const a of page.items || []) {
        for (const b of [].concat(a.body || [])) {
          const bodies = b.type === 'Choice' ? b.items || [] : [b];
          for (const x of bodies) { const id = svcId(x.service); if (id) return { label: label(m.label), service: id, canvas: c.id }; }
        }
      }
    }
    throw new Error(s('noimage'));
  }
  if (m && (m['@type'] === 'sc:Manifest')) {
    for (const seq of m.sequences || []) for (const c of seq.canvases || []) for (const im of c.images || []) {
      const id = svcId(im.resource && im.resource.service);
      if (id) return { label: label(m.label), service: id, canvas: c['@id'] };
    }
    throw new Error(s('noimage'));
  }
  throw new Error(s('notiiif'));
}

// Fetches and reads a manifest; throws an Error whose message is for the reader, with
// .cors = true when the browser refused the cross-origin read.
export async function openManifest(url) {
  if (!/^https?:\/\//.test(url || '')) throw new Error(s('badurl'));
  let r;
  try {
    r = await fetch(url, { mode: 'cors', credentials: 'omit', headers: { Accept: 'application/ld+json, application/json' } });
  } catch {
    // fetch rejects with a TypeError, and no detail, for a CORS refusal (and for a network
    // failure, which from here looks the same): say the likely one.
    const e = new Error(s('cors'));
    e.cors = true;
    throw e;
  }
  if (!r.ok) throw new Error(s('http', { s: `${r.status} ${r.statusText}` }));
  let m;
  try { m = await r.json(); } catch { throw new Error(s('notiiif')); }
  return { manifest: url, ...firstImage(m) };
}

// The field (paste + Open) and a drop zone on `dropTarget` (default the field): onOpen gets
// {manifest, label, service, canvas}. Returns the form; form.openText(text) opens as if pasted.
export function manifestField({ onOpen, dropTarget = null, id = 'remote-manifest' }) {
  const input = h(`input#${id}`, { type: 'url', placeholder: 'https://…/manifest', spellcheck: 'false' });
  const status = h('p.remote-status', { 'aria-live': 'polite', role: 'status' });
  const go = async (text) => {
    const url = manifestFromText(text);
    status.className = 'remote-status';
    if (!url) { status.textContent = s('badurl'); status.classList.add('error'); return; }
    input.value = url;
    status.textContent = s('busy');
    try {
      const res = await openManifest(url);
      status.textContent = s('shown', { t: res.label || url });
      onOpen(res);
    } catch (e) {
      status.textContent = e.message;
      status.classList.add('error');
      if (e.cors) status.dataset.cors = '1';
    }
  };
  const form = h('form.remote-manifest', { lang: tag(), onsubmit: (e) => { e.preventDefault(); go(input.value); } },
    h('label', { for: id }, s('label')),
    h('div.remote-row', input, h('button.btn-line', { type: 'submit' }, s('open'))),
    status);
  const zone = dropTarget || form;
  zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('drop-over'); });
  zone.addEventListener('dragleave', () => zone.classList.remove('drop-over'));
  zone.addEventListener('drop', (e) => {
    e.preventDefault();
    zone.classList.remove('drop-over');
    const dt = e.dataTransfer;
    const text = dt.getData('text/uri-list') || dt.getData('text/plain') || dt.getData('URL');
    go(text);
  });
  input.addEventListener('paste', (e) => {
    const text = e.clipboardData && e.clipboardData.getData('text');
    if (text) { e.preventDefault(); go(text); }
  });
  form.openText = go; // for a page opened with ?manifest= (nothing to paste)
  return form;
}
