// dom.js: building DOM without HTML strings (catalog text is never parsed as markup).
import { pick, tag } from './i18n.js';

// h('a.card', {href, onclick}, child...) — tag with optional .classes and #id; props
// starting with "on" become listeners, "aria-*"/"data-*"/"role" become attributes.
export function h(sel, props, ...children) {
  const m = /^([a-z0-9-]+)?((?:[.#][\w-]+)*)$/i.exec(sel);
  const el = document.createElement(m[1] || 'div');
  for (const part of (m[2] || '').match(/[.#][\w-]+/g) || []) {
    if (part[0] === '.') el.classList.add(part.slice(1)); else el.id = part.slice(1);
  }
  if (props && (typeof props !== 'object' || props instanceof Node || Array.isArray(props))) {
    children.unshift(props);
    props = null;
  }
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'style' && typeof v === 'object') Object.assign(el.style, v);
    else if (k.startsWith('aria-') || k.startsWith('data-') || k === 'role' || k === 'for' || k === 'lang' || k === 'tabindex' || k === 'draggable')
      el.setAttribute(k, v === true ? '' : String(v));
    else el[k] = v;
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c == null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// A span of catalog text in the reader's language (or the other one when missing), with
// its lang attribute.
export function txt(map, cls) {
  const p = pick(map);
  return h(`span${cls ? '.' + cls : ''}`, { lang: tag(p.lang) }, p.text);
}

// The five entities the server escapes snippet text with (&lt; &gt; &amp; &quot; &#39;), and
// numeric ones, back to characters: the text goes in as text nodes, never as markup.
export function decodeEntities(s) {
  return String(s).replace(/&(lt|gt|amp|quot|#39|#x[0-9a-f]+|#\d+);/gi, (m, e) => {
    const k = e.toLowerCase();
    if (k === 'lt') return '<';
    if (k === 'gt') return '>';
    if (k === 'amp') return '&';
    if (k === 'quot') return '"';
    const n = k[1] === 'x' ? parseInt(k.slice(2), 16) : parseInt(k.slice(1), 10);
    return n > 0 && n < 0x110000 ? String.fromCodePoint(n) : m;
  });
}

// A search snippet ("…text <mark>hit</mark> text…", HTML-escaped by the server) as parts:
// [{text, mark}], entities decoded. Nothing in it is ever parsed as markup.
export function snippetParts(s) {
  const out = [];
  let mark = false;
  for (const p of String(s || '').split(/(<mark>|<\/mark>)/)) {
    if (p === '<mark>') mark = true;
    else if (p === '</mark>') mark = false;
    else if (p) out.push({ text: decodeEntities(p.replace(/<[^>]*>/g, '')), mark });
  }
  return out;
}

// Search snippets carry <mark>…</mark> and nothing else: split on them, never innerHTML.
export function snippet(s) {
  return h('span.snippet', snippetParts(s).map((p) => (p.mark ? h('mark', p.text) : p.text)));
}

// text with every occurrence of the words (case-insensitive) wrapped in <mark>: an array of
// strings and elements for h().
export function highlight(text, words) {
  const ws = [...new Set(words.filter((w) => w && w.trim()).map((w) => w.trim()))];
  if (!ws.length || !text) return [text];
  const esc = ws.sort((a, b) => b.length - a.length).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  const re = new RegExp(`(${esc.join('|')})`, 'gi');
  return String(text).split(re).filter((x) => x !== '').map((x) => (ws.some((w) => w.toLowerCase() === x.toLowerCase()) ? h('mark', x) : x));
}

export function clear(el) { while (el.firstChild) el.firstChild.remove(); return el; }

export function svgIcon(name) {
  const paths = {
    plus: 'M12 5v14M5 12h14',
    minus: 'M5 12h14',
    home: 'M4 4h16v16H4z',
    full: 'M4 9V4h5M20 9V4h-5M4 15v5h5M20 15v5h-5',
    left: 'M15 5l-7 7 7 7',
    right: 'M9 5l7 7-7 7',
    play: 'M8 5l11 7-11 7z',
    pause: 'M8 5v14M16 5v14',
    close: 'M6 6l12 12M18 6L6 18',
    first: 'M18 5l-7 7 7 7M7 5v14',
    last: 'M6 5l7 7-7 7M17 5v14',
    frame: 'M4 8V4h4M16 4h4v4M20 16v4h-4M8 20H4v-4M9 9h6v6H9z',
    eye: 'M2 12s3.5-6 10-6 10 6 10 6-3.5 6-10 6S2 12 2 12zM12 9.5a2.5 2.5 0 1 0 0 5 2.5 2.5 0 0 0 0-5z',
    up: 'M6 15l6-6 6 6',
    down: 'M6 9l6 6 6-6',
    share: 'M6 10a2 2 0 1 0 0 4 2 2 0 1 0 0-4zM18 4a2 2 0 1 0 0 4 2 2 0 1 0 0-4zM18 16a2 2 0 1 0 0 4 2 2 0 1 0 0-4zM7.8 11l8.4-4M7.8 13l8.4 4',
    search: 'M10.5 4a6.5 6.5 0 1 0 0 13 6.5 6.5 0 0 0 0-13zM15.5 15.5L20 20',
    link: 'M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1',
  };
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  svg.classList.add('icon');
  const p = document.createElementNS(ns, 'path');
  p.setAttribute('d', paths[name] || '');
  svg.append(p);
  return svg;
}
