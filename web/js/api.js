// api.js: the HTTP API (docs/api.md) and IIIF as the pages use them. Each call returns parsed
// JSON or throws an ApiError with the status and the server's message.
import { setVocab, lang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, message, { code = null, fields = null } = {}) { super(message); this.status = status; this.code = code; this.fields = fields; }
}

async function failure(r) {
  let msg = `${r.status} ${r.statusText}`, code = null, fields = null;
  try {
    const j = await r.json();
    if (j && j.error) { msg = j.error.message || msg; code = j.error.code || null; fields = j.error.fields || null; }
  } catch { /* text body */ }
  return new ApiError(r.status, msg, { code, fields });
}

async function getJSON(url, { signal } = {}) {
  const r = await fetch(url, { signal, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) throw await failure(r);
  return r.json();
}

// GET that also answers the ETag: {body, etag}.
export async function getWithETag(url) {
  const r = await fetch(url, { headers: { Accept: 'application/ld+json, application/json' }, credentials: 'same-origin' });
  if (!r.ok) throw await failure(r);
  return { body: await r.json(), etag: r.headers.get('ETag') };
}

// A write with the session cookie: every one carries the CSRF header (docs/api.md
// "Authentication"); etag becomes If-Match. Answers {status, body, etag, location}.
export async function send(method, url, body = undefined, { etag = null } = {}) {
  const headers = { Accept: 'application/json', 'X-Requested-With': 'danqing' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (etag) headers['If-Match'] = etag;
  const r = await fetch(url, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw await failure(r);
  const text = r.status === 204 ? '' : await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, etag: r.headers.get('ETag'), location: r.headers.get('Location') };
}

// params: {q, dynasty, object_type, subject, year_from, year_to, sort, cursor, limit}
export function searchRelics(params, opts) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, v);
  if (!u.has('limit')) u.set('limit', '24');
  u.set('facets', '1');
  u.set('lang', lang());
  return getJSON(`/api/relics?${u}`, opts);
}

export function getRelic(id, opts) { return getJSON(`/api/relics/${encodeURIComponent(id)}`, opts); }

let vocabLoaded = null;
// Loads the three vocabularies (the server's, the only copy) into i18n once. When one fails
// the page still renders, with keys for labels, and the next render asks again.
export function loadVocab() {
  if (!vocabLoaded) {
    let failed = false;
    vocabLoaded = Promise.all(['dynasties', 'object_types', 'subjects'].map(async (k) => {
      try { setVocab(k, await getJSON(`/api/vocab/${k}`)); } catch (e) { failed = true; console.warn('vocabulary', k, e.message); }
    })).then(() => { if (failed) vocabLoaded = null; });
  }
  return vocabLoaded;
}

export function infoUrl(imageId) { return `/iiif/3/${encodeURIComponent(imageId)}/info.json`; }
export function getInfo(imageId, opts) { return getJSON(infoUrl(imageId), opts); }
export function imageUrl(imageId, size = '!400,400', region = 'full') {
  return `/iiif/3/${encodeURIComponent(imageId)}/${region}/${size}/0/default.jpg`;
}
export function manifestUrl(relicId) {
  return `${location.origin}/iiif/presentation/3/${encodeURIComponent(relicId)}/manifest`;
}
export function getManifest(relicId, opts) { return getJSON(`/iiif/presentation/3/${encodeURIComponent(relicId)}/manifest`, opts); }

// The canvases of a manifest as [{n, id, width, height, imageId, annotations: [url…]}]; hidden
// pages (the scene layers of issue 14, embedded) are not annotations to draw.
// (n counts from 1 in the manifest's order, as docs/api.md numbers them).
export function canvasesOf(manifest) {
  return ((manifest && manifest.items) || []).map((c, i) => {
    let imageId = null, restorationId = null;
    const idOf = (b) => {
      const svc = [].concat((b && b.service) || [])[0];
      const m = svc && /\/iiif\/3\/([^/]+)\/?$/.exec(svc.id || svc['@id'] || '');
      return m ? decodeURIComponent(m[1]) : null;
    };
    for (const page of c.items || []) {
      for (const a of page.items || []) {
        // A Choice (issue 12): the original first, a virtual restoration second.
        const choice = a.body && a.body.type === 'Choice' ? a.body.items || [] : null;
        const id = idOf(choice ? choice[0] : a.body);
        if (id && !imageId) imageId = id;
        if (choice && choice[1] && !restorationId) restorationId = idOf(choice[1]);
      }
    }
    return { n: i + 1, id: c.id, width: c.width, height: c.height, imageId, restorationId, annotations: (c.annotations || []).filter((p) => !(p.behavior || []).includes('hidden')).map((p) => sameOrigin(p.id)) };
  });
}
// The manifest's Content Search 2.0 service, if any.
export function searchServiceOf(manifest) {
  const s = [].concat((manifest && manifest.service) || []).find((x) => x && (x.type === 'SearchService2' || String(x.profile || '').includes('search/2')));
  return s ? sameOrigin(s.id || s['@id']) : null;
}
// Absolute ids from the server name its own origin: fetch them by path, so a proxy or a
// different host name never makes them cross-origin.
export function sameOrigin(u) {
  try { const x = new URL(u, location.href); return x.origin === location.origin ? x.pathname + x.search : x.href; } catch { return u; }
}

// Annotations (Web Annotation Protocol container per relic).
export function annotationsUrl(relicId) { return `/api/relics/${encodeURIComponent(relicId)}/annotations/`; }
// Guided tours (docs/api.md "Tours"): the relic's list, then one tour with its stops.
export function toursUrl(relicId) { return `/api/relics/${encodeURIComponent(relicId)}/tours`; }
export function tourUrl(tourId) { return `/api/tours/${encodeURIComponent(tourId)}`; }
export async function listTours(relicId) {
  const list = await getJSON(toursUrl(relicId)).catch(() => null);
  return (list && list.items) || [];
}
export function getJSONMaybe(url, opts) { return getJSON(url, opts).catch(() => null); }
export { getJSON };

// Accounts.
export function login(user, password) { return send('POST', '/api/login', { user, password }).then((r) => r.body); }
export function logout() { return send('POST', '/api/logout'); }
export function me() { return getJSON('/api/me'); }

// The relic's main image id (role "main", else the first).
export function mainImage(relic) {
  const imgs = relic.images || [];
  return (imgs.find((i) => i.role === 'main') || imgs[0] || {}).image_id || null;
}
