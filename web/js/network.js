// Research box of the relic page (issue 16): citation downloads (CSL-JSON, BibTeX, RIS from
// /api/relics/{id}/cite), the record's Linked Art document, its creators' authority links
// (Wikidata, ULAN), its bibliography, and, for a record harvested from another institution,
// where it comes from and its licence. Strings are bilingual here; nothing is fetched.
import { lang, tag, pick } from './i18n.js';
import { h } from './dom.js';

const L = {
  title: { zh: '研究', en: 'For research' },
  cite: { zh: '引用格式', en: 'Citation' },
  la: { zh: 'Linked Art 数据', en: 'Linked Art (JSON-LD)' },
  authorities: { zh: '规范档', en: 'Authorities' },
  refs: { zh: '参考文献', en: 'References' },
  remote: { zh: '外部馆藏', en: 'From another collection' },
  licence: { zh: '许可', en: 'Licence' },
  manifest: { zh: 'IIIF 清单', en: 'IIIF Manifest' },
  record: { zh: '来源记录 (OAI-PMH)', en: 'Source record (OAI-PMH)' },
  fields: { zh: '来源的其他字段', en: 'Other fields of the source' },
};
const s = (k) => L[k][lang()] || L[k].en;

export function researchBox(r) {
  const id = encodeURIComponent(r.id);
  const fmt = (f, label) => h('a', { href: `/api/relics/${id}/cite?format=${f}`, download: `${r.id}.${f === 'csl' ? 'json' : f === 'bibtex' ? 'bib' : 'ris'}` }, label);
  const auth = (r.creators || []).flatMap((c) => [
    c.wikidata ? h('li', pick(c.name).text, ' · ', h('a', { href: `https://www.wikidata.org/wiki/${c.wikidata}`, 'data-external': '' }, `Wikidata ${c.wikidata}`)) : null,
    c.ulan ? h('li', pick(c.name).text, ' · ', h('a', { href: `http://vocab.getty.edu/page/ulan/${c.ulan}`, 'data-external': '' }, `ULAN ${c.ulan}`)) : null,
  ]).filter(Boolean);
  const refs = (r.references || []).map((x) => h('li', x.text,
    x.doi ? [' ', h('a', { href: `https://doi.org/${x.doi}`, 'data-external': '' }, `doi:${x.doi}`)] : null,
    !x.doi && x.url ? [' ', h('a', { href: x.url, 'data-external': '' }, x.url)] : null));
  const rm = r.remote;
  return h('section.card-box.research', { 'aria-labelledby': 'h-research', lang: tag() },
    h('h2#h-research.box-title', s('title')),
    rm ? h('div.remote', h('p', h('strong', s('remote')), rm.institution ? ` · ${rm.institution}` : ''),
      rm.licence ? h('p', `${s('licence')}: `, h('a', { href: rm.licence, 'data-external': '' }, rm.licence)) : null,
      rm.manifest ? h('p', h('a', { href: rm.manifest, 'data-external': '' }, s('manifest'))) : null,
      rm.record ? h('p', h('a', { href: rm.record, 'data-external': '' }, s('record'))) : null,
      rm.fields && rm.fields.length ? h('details.remote-fields', h('summary', s('fields')),
        h('dl', rm.fields.flatMap((x) => [h('dt', x.name), h('dd', x.value)]))) : null) : null,
    h('p.cite-formats', `${s('cite')}: `, fmt('csl', 'CSL-JSON'), ' · ', fmt('bibtex', 'BibTeX'), ' · ', fmt('ris', 'RIS')),
    h('p', h('a', { href: `/linked-art/object/${id}`, 'data-external': '' }, s('la'))),
    auth.length ? [h('h3', s('authorities')), h('ul.authorities', auth)] : null,
    refs.length ? [h('h3', s('refs')), h('ul.references', refs)] : null);
}
