// api.js: the HTTP API (docs/api.md) and IIIF as the pages use them. Each call returns parsed
// JSON or throws an ApiError with the status and the server's message.
import { setVocab, lang } from './i18n.js';

export class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function getJSON(url, { signal } = {}) {
  const r = await fetch(url, { signal, headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) {
    let msg = `${r.status} ${r.statusText}`;
    try { const j = await r.json(); if (j && j.error && j.error.message) msg = j.error.message; } catch { /* text body */ }
    throw new ApiError(r.status, msg);
  }
  return r.json();
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
// Loads the three vocabularies into i18n once (the built-in table stands in on failure).
export function loadVocab() {
  if (!vocabLoaded) {
    vocabLoaded = Promise.all(['dynasties', 'object_types', 'subjects'].map(async (k) => {
      try { setVocab(k, await getJSON(`/api/vocab/${k}`)); } catch { /* built-in labels */ }
    }));
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
// The conventional first annotation page of a relic (the manifest may name others).
export function annotationPageUrl(relicId, page = 1) {
  return `/iiif/presentation/3/${encodeURIComponent(relicId)}/annotations/${page}`;
}
// Guided tours (docs/api.md "Tours"): the relic's list, then one tour with its stops.
export function toursUrl(relicId) { return `/api/relics/${encodeURIComponent(relicId)}/tours`; }
export async function firstTour(relicId) {
  const list = await getJSON(toursUrl(relicId)).catch(() => null);
  const first = list && list.items && list.items[0];
  if (!first) return null;
  return first.stops ? first : getJSON(`/api/tours/${encodeURIComponent(first.id)}`).catch(() => null);
}
export function getJSONMaybe(url, opts) { return getJSON(url, opts).catch(() => null); }

// The relic's main image id (role "main", else the first).
export function mainImage(relic) {
  const imgs = relic.images || [];
  return (imgs.find((i) => i.role === 'main') || imgs[0] || {}).image_id || null;
}
