// contentstate.js: IIIF Content State 1.0 for shareable views of a region (docs/api.md
// "IIIF Content State"). encode: JSON → encodeURIComponent → base64url without padding
// (§2.3); decode reverses it and accepts the §2.2 forms: an Annotation whose target is a
// Canvas (object or "…#xywh=" string), a bare Canvas, or a plain canvas id.
import { getJSON } from './api.js';

export function encodeContentState(obj) {
  const json = typeof obj === 'string' ? obj : JSON.stringify(obj);
  return btoa(encodeURIComponent(json)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeContentState(s) {
  let b = String(s || '').trim().replace(/-/g, '+').replace(/_/g, '/');
  while (b.length % 4) b += '=';
  const text = decodeURIComponent(atob(b));
  return text.trim().startsWith('{') ? JSON.parse(text) : text;
}

// The Content State of a region of a canvas (§2.2: an Annotation, motivation contentState).
// Its id (required of every Annotation by Presentation 3) names the view under its canvas,
// as the server's iiif/content_state.c does: equal views, equal ids.
export function regionState({ canvasId, manifestId, xywh }) {
  const r = xywh.map((v) => Math.round(v));
  return {
    '@context': 'http://iiif.io/api/presentation/3/context.json',
    id: `${canvasId}/view/${r.join(',')}`,
    type: 'Annotation',
    motivation: ['contentState'],
    target: { id: `${canvasId}#xywh=${r.join(',')}`, type: 'Canvas', partOf: [{ id: manifestId, type: 'Manifest' }] },
  };
}

// The share URL of a view: /relic/{id}?iiif-content={encoded}.
export function shareUrl(relicId, state) {
  return `${location.origin}/relic/${encodeURIComponent(relicId)}?iiif-content=${encodeContentState(state)}`;
}

// {relic_id, canvas, xywh, canvas_id} from a decoded content state, or null.
export function parseState(cs) {
  let target = cs;
  if (cs && typeof cs === 'object' && cs.type === 'Annotation') target = [].concat(cs.target)[0];
  let id = null, manifest = null;
  if (typeof target === 'string') id = target;
  else if (target && typeof target === 'object') {
    id = target.id || target['@id'] || null;
    if (target.source && target.selector) {
      const sel = [].concat(target.selector).find((x) => x && x.value);
      id = `${typeof target.source === 'string' ? target.source : target.source.id}#${sel ? sel.value : ''}`;
    }
    const p = [].concat(target.partOf || [])[0];
    manifest = p ? p.id || p['@id'] || p : null;
  }
  const m = /\/iiif\/presentation\/3\/([^/]+)\/canvas\/(\d+)(?:#xywh=(?:pixel:)?(\d+),(\d+),(\d+),(\d+))?$/.exec(id || '');
  if (!m) return null;
  return {
    relic_id: decodeURIComponent(m[1]), canvas: Number(m[2]), canvas_id: id.split('#')[0], manifest,
    xywh: m[3] != null ? [m[3], m[4], m[5], m[6]].map(Number) : null,
  };
}

// Decodes ?iiif-content= in the page (client side), falling back to the server's
// /api/content-state for forms the client does not read.
export async function resolveContentState(encoded) {
  try {
    const st = parseState(decodeContentState(encoded));
    if (st && st.xywh) return st;
  } catch { /* not base64url JSON: ask the server */ }
  return getJSON(`/api/content-state?iiif-content=${encodeURIComponent(encoded)}`);
}
