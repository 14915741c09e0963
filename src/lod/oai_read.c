/*
 * oai_read.c: another repository's OAI-PMH 2.0 answers, read for `danqing harvest`
 * (docs/api.md "Harvesting"): Identify (granularity), ListMetadataFormats (the prefixes on
 * offer), ListRecords / GetRecord pages (headers, deleted records, resumption token) and the
 * §3.6 errors; each record's oai_dc or LIDO metadata becomes a relic document that
 * references its source. The only file that includes libxml2. The bytes come from the
 * network: the parser never loads external entities or DTDs (XML_PARSE_NONET, no entity
 * substitution), answers over the caller's size limit are refused before parsing, and every
 * output list is bounded. Fuzzed by fuzz/fuzz_oai_read.c.
 *
 * Mapping without silent loss: every leaf element of the metadata is either used for one of
 * our fields or kept, in document order, in "remote.fields" as {name, value} (name = the
 * element's path of local names below the metadata root, with @lang when it has one).
 */
#include "lod/lod.h"

#include <jansson.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define NS_OAI "http://www.openarchives.org/OAI/2.0/"
#define NS_DC "http://purl.org/dc/elements/1.1/"
#define NS_LIDO "http://www.lido-schema.org"

#define MAX_RECORDS 5000 /* per page; OAI repositories send 100..1000 */
#define MAX_FIELDS 200   /* kept source fields per record (as our arrays are bounded) */
#define MAX_VALUE 4000   /* bytes of one kept value */
#define MAX_FORMATS 64

/* ---------------------------------------------------------------- tree helpers */

static int is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child(const xmlNode *n, const char *ns, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (is(c, ns, name))
            return c;
    return NULL;
}

static xmlNode *first_element(const xmlNode *n)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (c->type == XML_ELEMENT_NODE)
            return c;
    return NULL;
}

/* The text of n with surrounding white space trimmed and inner runs folded to one space
 * (new string; "" when none). */
static char *text_of(const xmlNode *n)
{
    xmlChar *t = xmlNodeGetContent(n);
    const char *s = t ? (const char *)t : "";
    size_t len = strlen(s);
    char *out = dq_xmalloc(len + 1);
    size_t o = 0;
    int space = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = o > 0;
            continue;
        }
        if (space)
            out[o++] = ' ';
        space = 0;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    xmlFree(t);
    return out;
}

static int has_element_children(const xmlNode *n)
{
    return first_element(n) != NULL;
}

/* xml:lang of n (or of the nearest ancestor that has one) into out; "" when none. */
static void lang_of(const xmlNode *n, char *out, size_t cap)
{
    xmlChar *l = xmlNodeGetLang(n);
    snprintf(out, cap, "%s", l ? (const char *)l : "");
    xmlFree(l);
}

/* Which of our two languages a value in lang goes to: "zh" for zh*, except romanised
 * (zh-Latn), "en" for en* or no language when the text has no CJK; NULL for other languages. */
static const char *our_lang(const char *lang, const char *text)
{
    if (strncasecmp(lang, "zh", 2) == 0 && !strstr(lang, "Latn"))
        return "zh";
    if (strncasecmp(lang, "en", 2) == 0)
        return "en";
    if (lang[0])
        return NULL;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        if (p[0] == 0xe4 || (p[0] >= 0xe5 && p[0] <= 0xe9)) /* U+4E00..U+9FFF */
            return "zh";
    return "en";
}

/* ---------------------------------------------------------------- the record builder */

typedef struct {
    const dq_lod_ctx_t *vocab;
    json_t *dyn, *types, *subj; /* parsed vocabularies (may be NULL) */
    json_t *doc, *remote, *fields;
    json_t *title, *desc, *medium, *creators, *subjects, *keywords, *refs;
    int n_dropped;
    const void *actor; /* the element the last creator came from (LIDO: its actor) */
    int actor_lang;    /* oai_dc: the last creator had an explicit xml:lang */
} rec_t;

static void keep(rec_t *r, const char *name, const char *lang, const char *value)
{
    if (!value[0])
        return;
    if (json_array_size(r->fields) >= MAX_FIELDS) {
        r->n_dropped++;
        return;
    }
    char nm[200];
    snprintf(nm, sizeof(nm), "%s%s%s", name, lang[0] ? "@" : "", lang);
    char *v = dq_xstrndup(value, strlen(value) > MAX_VALUE ? MAX_VALUE : strlen(value));
    json_array_append_new(r->fields, json_pack("{s:s, s:s}", "name", nm, "value", v));
    free(v);
}

/* Puts value into the {zh, en} map m under its language; 0 when it went there, -1 when the
 * slot was taken or the language is not one of ours (the caller keeps it). */
static int lang_put(json_t *m, const char *lang, const char *value)
{
    const char *to = our_lang(lang, value);
    if (!to || json_object_get(m, to) || !value[0] || strlen(value) > 60000)
        return -1;
    json_object_set_new(m, to, json_string(value));
    return 0;
}

/* One creator name. Names of one person in several languages are one creator: in LIDO, the
 * appellations of one actor (same); in oai_dc, consecutive dc:creator elements with explicit,
 * different languages (as a repository writes the zh and en name of one person). */
static int add_creator(rec_t *r, const char *lang, const char *value, const void *same)
{
    if (strlen(value) > 500)
        return -1;
    /* A name in another language (a Flemish museum's LIDO is all xml:lang="nl") is still the
     * person's name, which is not translated: file it by its script, CJK as zh, else en. */
    const char *to = our_lang(lang, value);
    if (!to)
        to = our_lang("", value);
    char nm[512], dates[128];
    dq_lod_split_dates(value, nm, sizeof(nm), dates, sizeof(dates));
    if (!nm[0])
        return -1;
    json_t *last = json_array_get(r->creators, json_array_size(r->creators) - 1);
    json_t *lname = json_object_get(last, "name");
    int merge = last && !json_object_get(lname, to) &&
                (same ? same == r->actor : (lang[0] && r->actor_lang));
    r->actor = same;
    r->actor_lang = lang[0] != 0;
    if (merge) {
        json_object_set_new(lname, to, json_string(nm));
        if (dates[0] && !json_object_get(last, "dates"))
            json_object_set_new(last, "dates", json_string(dates));
        return 0;
    }
    if (json_array_size(r->creators) >= 32)
        return -1;
    json_t *c = json_pack("{s:{s:s}}", "name", to, nm);
    if (dates[0])
        json_object_set_new(c, "dates", json_string(dates));
    json_array_append_new(r->creators, c);
    return 0;
}

/* "1100", "-206", "1100/1125", "1100-1125" → years; 0 when value is such a year range. */
static int years(const char *v, int *from, int *to)
{
    char *e;
    long a = strtol(v, &e, 10);
    if (e == v || e - v > 5)
        return -1;
    long b = a;
    if (*e == '/' || (*e == '-' && e[1] >= '0' && e[1] <= '9')) {
        char *e2;
        b = strtol(e + 1, &e2, 10);
        if (e2 == e + 1)
            return -1;
        e = e2;
    }
    if (*e || a < -5000 || a > 9999 || b < a || b > 9999)
        return -1;
    *from = (int)a;
    *to = (int)b;
    return 0;
}

static int set_years(rec_t *r, const char *v)
{
    int a, b;
    if (json_object_get(r->doc, "year_from") || years(v, &a, &b) < 0)
        return -1;
    json_object_set_new(r->doc, "year_from", json_integer(a));
    json_object_set_new(r->doc, "year_to", json_integer(b));
    return 0;
}

static int set_once(json_t *o, const char *key, const char *v)
{
    if (json_object_get(o, key) || !v[0] || strlen(v) > 60000)
        return -1;
    json_object_set_new(o, key, json_string(v));
    return 0;
}

static int is_url(const char *v)
{
    return strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0;
}

static int set_vocab(rec_t *r, const char *field, const json_t *vocab, const char *v)
{
    const char *k = dq_lod_vocab_key(vocab, v);
    if (!k || json_object_get(r->doc, field))
        return -1;
    json_object_set_new(r->doc, field, json_string(k));
    return 0;
}

static int add_subject(rec_t *r, const char *v)
{
    const char *k = dq_lod_vocab_key(r->subj, v);
    if (k) {
        if (json_array_size(r->subjects) >= 32)
            return -1;
        json_array_append_new(r->subjects, json_string(k));
        return 0;
    }
    /* Not one of ours: a keyword (one line, 128 bytes at most, as relic keywords are). */
    if (strlen(v) > 128 || json_array_size(r->keywords) >= 32)
        return -1;
    json_array_append_new(r->keywords, json_string(v));
    return 0;
}

static int add_ref(rec_t *r, const char *v)
{
    if (json_array_size(r->refs) >= 200 || strlen(v) > 60000)
        return -1;
    json_t *x = json_pack("{s:s}", "text", v);
    if (is_url(v))
        json_object_set_new(x, "url", json_string(v));
    json_array_append_new(r->refs, x);
    return 0;
}

/* A IIIF Presentation Manifest URL, by the conventions such URLs follow. */
static int looks_like_manifest(const char *v)
{
    return is_url(v) && (strstr(v, "/manifest") || strstr(v, "manifest.json") ||
                         strstr(v, "/iiif/presentation/"));
}

/* One Dublin Core element of oai_dc: used, or kept. */
static void dc_leaf(rec_t *r, const char *name, const char *lang, const char *v)
{
    int used = -1;
    if (strcmp(name, "title") == 0)
        used = lang_put(r->title, lang, v);
    else if (strcmp(name, "creator") == 0)
        used = add_creator(r, lang, v, NULL);
    else if (strcmp(name, "subject") == 0)
        used = add_subject(r, v);
    else if (strcmp(name, "description") == 0)
        used = lang_put(r->desc, lang, v);
    else if (strcmp(name, "date") == 0)
        used = set_years(r, v) == 0 ? 0 : set_once(r->doc, "date_text", v);
    else if (strcmp(name, "type") == 0)
        used = set_vocab(r, "object_type", r->types, v);
    else if (strcmp(name, "format") == 0)
        used = lang_put(r->medium, lang, v);
    else if (strcmp(name, "coverage") == 0)
        used = set_vocab(r, "dynasty", r->dyn, v);
    else if (strcmp(name, "rights") == 0) {
        used = set_once(r->doc, "rights", v);
        if (used == 0 && is_url(v))
            json_object_set_new(r->remote, "licence", json_string(v));
    } else if (strcmp(name, "relation") == 0)
        used = add_ref(r, v);
    else if (strcmp(name, "publisher") == 0)
        used = set_once(r->remote, "institution", v);
    else if (strcmp(name, "identifier") == 0 && looks_like_manifest(v))
        used = set_once(r->remote, "manifest", v);
    else if (strcmp(name, "identifier") == 0 && is_url(v))
        used = set_once(r->remote, "url", v);
    if (used < 0)
        keep(r, name, lang, v);
}

/* One LIDO leaf, by the path of local names below lido:lido: used, or kept. Paths follow
 * LIDO 1.0 (lido-v1.0.xsd): titles, work type, actors, dates, materials, culture/period,
 * description, subjects, repository; the rest is kept. */
static int ends(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    return a >= b && strcmp(path + a - b, suffix) == 0 && (a == b || path[a - b - 1] == '/');
}

static void lido_leaf(rec_t *r, const xmlNode *n, const char *path, const char *lang,
                      const char *v)
{
    int used = -1;
    if (ends(path, "titleWrap/titleSet/appellationValue"))
        used = lang_put(r->title, lang, v);
    else if (ends(path, "objectWorkType/term"))
        used = set_vocab(r, "object_type", r->types, v);
    else if (ends(path, "eventActor/actorInRole/actor/nameActorSet/appellationValue"))
        used = add_creator(r, lang, v, n->parent ? n->parent->parent : n);
    else if (ends(path, "eventActor/displayActorInRole"))
        used = add_creator(r, lang, v, n->parent);
    else if (ends(path, "eventDate/displayDate") || ends(path, "displayCreationDate"))
        used = set_once(r->doc, "date_text", v);
    else if (ends(path, "eventDate/date/earliestDate")) {
        int a, b;
        used = -1;
        if (!json_object_get(r->doc, "year_from") && years(v, &a, &b) == 0) {
            json_object_set_new(r->doc, "year_from", json_integer(a));
            if (!json_object_get(r->doc, "year_to"))
                json_object_set_new(r->doc, "year_to", json_integer(b));
            used = 0;
        }
    } else if (ends(path, "eventDate/date/latestDate")) {
        int a, b;
        used = -1;
        if (years(v, &a, &b) == 0) {
            json_object_set_new(r->doc, "year_to", json_integer(b));
            used = 0;
        }
    } else if (ends(path, "eventMaterialsTech/displayMaterialsTech"))
        used = lang_put(r->medium, lang, v);
    else if (ends(path, "culture/term") || ends(path, "periodName/term") ||
             ends(path, "classification/term"))
        used = set_vocab(r, "dynasty", r->dyn, v) == 0
                   ? 0
                   : set_vocab(r, "object_type", r->types, v);
    else if (ends(path, "objectDescriptionSet/descriptiveNoteValue"))
        used = lang_put(r->desc, lang, v);
    else if (ends(path, "subjectConcept/term"))
        used = add_subject(r, v);
    else if (ends(path, "repositorySet/repositoryName/legalBodyName/appellationValue") ||
             ends(path, "recordSource/legalBodyName/appellationValue"))
        used = set_once(r->remote, "institution", v);
    else if (ends(path, "rightsResource/rightsType/term") ||
             ends(path, "rightsWorkSet/rightsType/term"))
        used = is_url(v) ? set_once(r->remote, "licence", v) : -1;
    else if (ends(path, "resourceRepresentation/linkResource") && looks_like_manifest(v))
        used = set_once(r->remote, "manifest", v);
    else if (ends(path, "recordInfoSet/recordInfoLink") && is_url(v))
        used = set_once(r->remote, "url", v);
    if (used < 0)
        keep(r, path, lang, v);
}

/* Walks the leaves below n (path = local names from the metadata root). */
static void walk_leaves(rec_t *r, const xmlNode *n, const char *path, int lido, int depth)
{
    for (xmlNode *c = n->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        char p[512];
        snprintf(p, sizeof(p), "%s%s%s", path, path[0] ? "/" : "", (const char *)c->name);
        if (has_element_children(c)) {
            if (depth < 32)
                walk_leaves(r, c, p, lido, depth + 1);
            continue;
        }
        char lang[32];
        lang_of(c, lang, sizeof(lang));
        char *v = text_of(c);
        if (lido)
            lido_leaf(r, c, p, lang, v);
        else if (c->ns && c->ns->href && strcmp((const char *)c->ns->href, NS_DC) == 0)
            dc_leaf(r, (const char *)c->name, lang, v);
        else
            keep(r, p, lang, v);
        free(v);
    }
}

/* The relic document of one record's metadata (new string, one JSON line) or NULL with a
 * message in why. */
static char *build(const xmlNode *meta, const char *base_url, const char *oai_id,
                   const char *record_url, const dq_lod_ctx_t *vocab, char *why, size_t why_cap)
{
    rec_t r = {.vocab = vocab};
    char *line = NULL;
    r.dyn = vocab && vocab->dynasties_json ? json_loads(vocab->dynasties_json, 0, NULL) : NULL;
    r.types =
        vocab && vocab->object_types_json ? json_loads(vocab->object_types_json, 0, NULL) : NULL;
    r.subj = vocab && vocab->subjects_json ? json_loads(vocab->subjects_json, 0, NULL) : NULL;
    char id[32], acc[40];
    dq_lod_oai_local_id(base_url, oai_id, id, acc);
    r.doc = json_pack("{s:s, s:s}", "id", id, "accession", acc);
    r.remote = json_object();
    r.fields = json_array();
    r.title = json_object();
    r.desc = json_object();
    r.medium = json_object();
    r.creators = json_array();
    r.subjects = json_array();
    r.keywords = json_array();
    r.refs = json_array();
    const xmlNode *root = first_element(meta);
    int lido = 0;
    if (root && is(root, NS_LIDO, "lidoWrap"))
        root = child(root, NS_LIDO, "lido");
    if (root && is(root, NS_LIDO, "lido"))
        lido = 1;
    if (!root) {
        snprintf(why, why_cap, "%s: empty metadata", oai_id);
        goto out;
    }
    walk_leaves(&r, root, "", lido, 0);
    if (!json_object_size(r.title)) {
        /* Every record needs a title: another language's, or the identifier. */
        const json_t *f;
        size_t i;
        json_array_foreach(r.fields, i, f)
        {
            const char *nm = json_string_value(json_object_get(f, "name"));
            if (strncmp(nm, "title@", 6) == 0 || strstr(nm, "titleSet/appellationValue@")) {
                json_object_set(r.title, "en", json_object_get(f, "value"));
                break;
            }
        }
        if (!json_object_size(r.title)) {
            snprintf(why, why_cap, "%s: the record has no title", oai_id);
            goto out;
        }
    }
    json_object_set(r.doc, "title", r.title);
    if (json_array_size(r.creators))
        json_object_set(r.doc, "creators", r.creators);
    if (!json_object_get(r.doc, "object_type"))
        json_object_set_new(r.doc, "object_type", json_string("other"));
    if (json_array_size(r.subjects))
        json_object_set(r.doc, "subject", r.subjects);
    if (json_array_size(r.keywords))
        json_object_set(r.doc, "keywords", r.keywords);
    if (json_object_size(r.medium))
        json_object_set(r.doc, "medium", r.medium);
    if (json_object_size(r.desc))
        json_object_set(r.doc, "description", r.desc);
    if (json_array_size(r.refs))
        json_object_set(r.doc, "references", r.refs);
    json_object_set_new(r.remote, "source", json_string(base_url));
    json_object_set_new(r.remote, "record", json_string(record_url));
    json_object_set_new(r.remote, "oai_identifier", json_string(oai_id));
    json_object_set_new(r.remote, "format", json_string(lido ? "lido" : "oai_dc"));
    if (r.n_dropped)
        json_array_append_new(r.fields,
                              json_pack("{s:s, s:s}", "name", "_more", "value", "not kept"));
    if (json_array_size(r.fields))
        json_object_set(r.remote, "fields", r.fields);
    json_object_set(r.doc, "remote", r.remote);
    line = json_dumps(r.doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
    json_decref(r.dyn);
    json_decref(r.types);
    json_decref(r.subj);
    json_decref(r.doc);
    json_decref(r.remote);
    json_decref(r.fields);
    json_decref(r.title);
    json_decref(r.desc);
    json_decref(r.medium);
    json_decref(r.creators);
    json_decref(r.subjects);
    json_decref(r.keywords);
    json_decref(r.refs);
    return line;
}

/* ---------------------------------------------------------------- pages */

void dq_lod_oai_local_id(const char *base_url, const char *oai_id, char id[32], char acc[40])
{
    /* The repository and the record's identifier together: two repositories may use the
     * same local identifiers. */
    char *key = dq_xasprintf("%s\n%s", base_url, oai_id);
    char hex[65];
    dq_sha256_buf(key, strlen(key), hex);
    free(key);
    snprintf(id, 32, "ext-%.16s", hex);
    snprintf(acc, 40, "ext-%.24s", hex);
}

static void page_record(dq_oai_page_t *p, const xmlNode *rec, const char *base_url,
                        const char *prefix, const dq_lod_ctx_t *vocab)
{
    const xmlNode *h = child(rec, NS_OAI, "header");
    if (!h || p->n_recs >= MAX_RECORDS)
        return;
    dq_oai_rec_t out = {0};
    xmlNode *idn = child(h, NS_OAI, "identifier"), *ds = child(h, NS_OAI, "datestamp");
    out.identifier = idn ? text_of(idn) : dq_xstrdup("");
    out.datestamp = ds ? text_of(ds) : dq_xstrdup("");
    xmlChar *status = xmlGetProp(h, (const xmlChar *)"status");
    out.deleted = status && strcmp((const char *)status, "deleted") == 0;
    xmlFree(status);
    if (!out.identifier[0]) {
        out.error = dq_xstrdup("a record without an identifier");
    } else if (!out.deleted) {
        const xmlNode *meta = child(rec, NS_OAI, "metadata");
        char why[300] = "";
        dq_buf_t u = {0};
        dq_buf_printf(&u, "%s?verb=GetRecord&metadataPrefix=%s&identifier=", base_url,
                      prefix && strcmp(prefix, "lido") == 0 ? "lido" : "oai_dc");
        dq_buf_pct_encode(&u, out.identifier, strlen(out.identifier), DQ_PCT_RFC3986 ":/");
        char *url = dq_buf_steal(&u, NULL);
        if (!meta)
            snprintf(why, sizeof(why), "%s: no metadata", out.identifier);
        else
            out.doc = build(meta, base_url, out.identifier, url, vocab, why, sizeof(why));
        free(url);
        if (!out.doc)
            out.error = dq_xstrdup(why);
    }
    p->recs = dq_xrealloc(p->recs, (p->n_recs + 1) * sizeof(*p->recs));
    p->recs[p->n_recs++] = out;
}

int dq_lod_oai_read(const char *xml, size_t len, const char *base_url, const char *prefix,
                    const dq_lod_ctx_t *vocab, dq_oai_page_t *p, dq_err_t *err)
{
    memset(p, 0, sizeof(*p));
    if (len > (size_t)INT32_MAX)
        return dq_err_set(err, DQ_ELIMIT, 413, "OAI-PMH answer too large");
    xmlDoc *d = xmlReadMemory(xml, (int)len, "oai.xml", NULL,
                              XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlNode *root = d ? xmlDocGetRootElement(d) : NULL;
    if (!root || !is(root, NS_OAI, "OAI-PMH")) {
        xmlFreeDoc(d);
        return dq_err_set(err, DQ_EINVAL, 422, "not an OAI-PMH 2.0 answer");
    }
    xmlNode *rd = child(root, NS_OAI, "responseDate");
    if (rd) {
        char *t = text_of(rd);
        snprintf(p->response_date, sizeof(p->response_date), "%s", t);
        free(t);
    }
    xmlNode *e = child(root, NS_OAI, "error");
    if (e) {
        xmlChar *code = xmlGetProp(e, (const xmlChar *)"code");
        char *t = text_of(e);
        snprintf(p->error_code, sizeof(p->error_code), "%s", code ? (const char *)code : "?");
        snprintf(p->error_msg, sizeof(p->error_msg), "%s", t);
        free(t);
        xmlFree(code);
    }
    xmlNode *id = child(root, NS_OAI, "Identify");
    xmlNode *g = child(id, NS_OAI, "granularity");
    if (g) {
        char *t = text_of(g);
        snprintf(p->granularity, sizeof(p->granularity), "%s", t);
        free(t);
    }
    for (xmlNode *f = first_element(child(root, NS_OAI, "ListMetadataFormats")); f; f = f->next) {
        xmlNode *mp = is(f, NS_OAI, "metadataFormat") ? child(f, NS_OAI, "metadataPrefix") : NULL;
        if (!mp || p->n_formats >= MAX_FORMATS)
            continue;
        p->formats = dq_xrealloc(p->formats, (p->n_formats + 1) * sizeof(*p->formats));
        p->formats[p->n_formats++] = text_of(mp);
    }
    xmlNode *list = child(root, NS_OAI, "ListRecords");
    if (!list)
        list = child(root, NS_OAI, "GetRecord");
    for (xmlNode *c = list ? list->children : NULL; c; c = c->next) {
        if (is(c, NS_OAI, "record"))
            page_record(p, c, base_url, prefix, vocab);
        else if (is(c, NS_OAI, "resumptionToken")) {
            /* OAI-PMH allows one; a page with several continues from the first (the others
             * were leaked here before: fuzz_oai_read). */
            char *t = text_of(c);
            if (t[0] && !p->token)
                p->token = t;
            else
                free(t);
        }
    }
    xmlFreeDoc(d);
    return 0;
}

void dq_lod_oai_page_free(dq_oai_page_t *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_recs; i++) {
        free(p->recs[i].identifier);
        free(p->recs[i].datestamp);
        free(p->recs[i].doc);
        free(p->recs[i].error);
    }
    free(p->recs);
    for (size_t i = 0; i < p->n_formats; i++)
        free(p->formats[i]);
    free(p->formats);
    free(p->token);
    memset(p, 0, sizeof(*p));
}
