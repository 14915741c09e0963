// glossary-links.js: words of the glossary (issue 17) found in a text become links to their
// entry, so an annotation or a lesson step that names a motif or a technique leads to it.
// The glossary is fetched once (GET /api/glossary?limit=500) and matched longest first; a
// text is split into text nodes and <a> elements, never parsed as markup.
import { h } from './dom.js';

let loading = null;

async function load() {
  const r = await fetch('/api/glossary?limit=500', { headers: { Accept: 'application/json' }, credentials: 'same-origin' });
  if (!r.ok) throw new Error(`glossary ${r.status}`);
  const j = await r.json();
  const terms = [];
  for (const e of j.items || []) {
    const words = [e.term && e.term.zh, e.term && e.term.en, ...(e.aliases || [])];
    for (const w of words) if (w && w.length >= (/[\u3400-\u9fff]/.test(w) ? 2 : 4)) terms.push({ w, key: e.key });
  }
  terms.sort((a, b) => b.w.length - a.w.length);
  return terms;
}

// Resolves to fn(text) -> [string | <a>] (the text alone when the glossary cannot load).
export async function glossaryLinks() {
  if (!loading) loading = load().catch((e) => { loading = null; console.warn(e.message); return []; });
  const terms = await loading;
  return (text) => linkTerms(String(text || ''), terms);
}

export function linkTerms(text, terms) {
  const out = [];
  let i = 0, plain = 0;
  const lower = text.toLowerCase();
  while (i < text.length) {
    let hit = null;
    for (const t of terms) {
      const w = t.w.toLowerCase();
      if (lower.startsWith(w, i)) {
        // English words only at word boundaries ("pine" not in "spine")
        const latin = /[a-z]/i.test(w);
        if (latin && ((i > 0 && /[a-z]/i.test(text[i - 1])) || /[a-z]/i.test(text[i + w.length] || ''))) continue;
        hit = t;
        break;
      }
    }
    if (!hit) { i++; continue; }
    if (i > plain) out.push(text.slice(plain, i));
    out.push(h('a.gloss-term', { href: `/glossary/${encodeURIComponent(hit.key)}`, 'data-gloss': hit.key }, text.slice(i, i + hit.w.length)));
    i += hit.w.length;
    plain = i;
  }
  if (plain < text.length) out.push(text.slice(plain));
  return out;
}
