/*
 * linkedart.c: Linked Art JSON-LD (linked.art API 1.0) for a relic (HumanMadeObject), a
 * creator (Person) and an image (DigitalObject), built from stored relic documents. Terms
 * follow the Linked Art model pages: names and identifiers (model/base "Names",
 * "Identifiers"), statements classified with the AAT "brief text" meta-type, dimensions in
 * AAT units, production with a time-span and carried_out_by, representation through a
 * VisualItem digitally shown by the IIIF image, and subject_of for the web page and the IIIF
 * manifest. Danqing's own vocabulary keys (object type, dynasty, subject) are published as
 * Types with URIs under /api/vocab/, which is honest: we do not claim an AAT equivalence we
 * have not checked. It builds documents only; http/linkedart.c serves them.
 */
#include "lod/lod.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Getty AAT concepts used below (http://vocab.getty.edu/aat/...). */
#define AAT "http://vocab.getty.edu/aat/"
#define AAT_PRIMARY_NAME "300404670"
#define AAT_ACCESSION "300312355"
#define AAT_BRIEF_TEXT "300418049"
#define AAT_DESCRIPTION "300435416"
#define AAT_MATERIALS_STMT "300435429"
#define AAT_PROVENANCE_STMT "300435438"
#define AAT_INSCRIPTION_STMT "300435414"
#define AAT_RIGHTS_STMT "300435434"
#define AAT_BIOGRAPHY_STMT "300435422"
#define AAT_BIBLIOGRAPHY "300026497"
#define AAT_HEIGHT "300055644"
#define AAT_WIDTH "300055647"
#define AAT_CM "300379098"
#define AAT_PIXELS "300266190"
#define AAT_DIGITAL_IMAGE "300215302"
#define AAT_WEB_PAGE "300264578"
#define AAT_ZH "300388113"
#define AAT_EN "300388277"
#define AAT_WORK_OF_ART "300133025"
#define AAT_TYPE_OF_WORK "300435443"

/* ---------------------------------------------------------------- small builders */

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s && *s ? s : NULL;
}

static json_t *ref(const char *id, const char *type, const char *label)
{
    json_t *r = json_pack("{s:s, s:s}", "id", id, "type", type);
    if (label)
        json_object_set_new(r, "_label", json_string(label));
    return r;
}

static json_t *aat(const char *num, const char *type, const char *label)
{
    char id[64];
    snprintf(id, sizeof(id), AAT "%s", num);
    return ref(id, type, label);
}

static json_t *lang_ref(const char *lang)
{
    if (strcmp(lang, "zh") == 0)
        return aat(AAT_ZH, "Language", "Chinese");
    if (strcmp(lang, "en") == 0)
        return aat(AAT_EN, "Language", "English");
    return NULL;
}

/* A Type classified as "brief text", the meta-type that marks a statement as the one to show
 * (model/base "Statements"). */
static json_t *stmt_type(const char *num, const char *label)
{
    json_t *t = aat(num, "Type", label);
    json_object_set_new(t, "classified_as",
                        json_pack("[o]", aat(AAT_BRIEF_TEXT, "Type", "brief text")));
    return t;
}

/* A LinguisticObject statement of content in language lang (may be NULL). */
static json_t *statement(const char *num, const char *label, const char *content,
                         const char *lang)
{
    json_t *s = json_pack("{s:s, s:s, s:[o]}", "type", "LinguisticObject", "content", content,
                          "classified_as", stmt_type(num, label));
    json_t *l = lang ? lang_ref(lang) : NULL;
    if (l)
        json_object_set_new(s, "language", json_pack("[o]", l));
    return s;
}

/* Adds one statement per language of a language map ({"zh","en","pinyin"}). */
static void lang_statements(json_t *arr, const json_t *map, const char *num, const char *label)
{
    static const char *const langs[] = {"zh", "en"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(langs); i++) {
        const char *s = jstr(map, langs[i]);
        if (s)
            json_array_append_new(arr, statement(num, label, s, langs[i]));
    }
}

static json_t *name(const char *content, const char *lang, int primary)
{
    json_t *n = json_pack("{s:s, s:s}", "type", "Name", "content", content);
    if (primary)
        json_object_set_new(n, "classified_as",
                            json_pack("[o]", aat(AAT_PRIMARY_NAME, "Type", "Primary Name")));
    json_t *l = lang ? lang_ref(lang) : NULL;
    if (l)
        json_object_set_new(n, "language", json_pack("[o]", l));
    return n;
}

/* The names of a language map: zh and en as primary names in their language, pinyin as an
 * alternative name (a romanization, no language of its own). */
static void names_of(json_t *arr, const json_t *map)
{
    const char *zh = jstr(map, "zh"), *en = jstr(map, "en"), *py = jstr(map, "pinyin");
    if (zh)
        json_array_append_new(arr, name(zh, "zh", 1));
    if (en)
        json_array_append_new(arr, name(en, "en", 1));
    if (py)
        json_array_append_new(arr, name(py, NULL, 0));
}

/* "zh / en" or whichever exists, for _label (a developer's label, not for display). */
static char *label_of(const json_t *map, const char *fallback)
{
    const char *zh = jstr(map, "zh"), *en = jstr(map, "en");
    if (zh && en)
        return dq_xasprintf("%s / %s", zh, en);
    return dq_xstrdup(zh ? zh : en ? en : fallback);
}

/* The en (else zh) label of a vocabulary key, or the key itself. */
static const char *vocab_label(const char *vocab_json, const char *key, json_t **hold)
{
    *hold = vocab_json ? json_loads(vocab_json, 0, NULL) : NULL;
    size_t i;
    json_t *e;
    json_array_foreach(*hold, i, e)
    {
        const char *k = jstr(e, "key");
        if (k && strcmp(k, key) == 0)
            return jstr(e, "en") ? jstr(e, "en") : jstr(e, "zh") ? jstr(e, "zh") : key;
    }
    return key;
}

static char *url(const dq_lod_ctx_t *ctx, const char *kind, const char *key)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, ctx->base_url);
    dq_lod_la_path(&b, kind, key);
    return dq_buf_steal(&b, NULL);
}

/* A Type for one of our vocabulary keys: {base}/api/vocab/{vocab}#{key}. */
static json_t *vocab_type(const dq_lod_ctx_t *ctx, const char *vocab, const char *vocab_json,
                          const char *key)
{
    json_t *hold = NULL;
    dq_buf_t id = {0};
    dq_buf_printf(&id, "%s/api/vocab/%s#", ctx->base_url, vocab);
    dq_buf_url_segment(&id, key);
    json_t *t = ref(id.data, "Type", vocab_label(vocab_json, key, &hold));
    json_decref(hold);
    dq_buf_free(&id);
    return t;
}

static void finish(json_t *doc, dq_buf_t *out)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    dq_buf_puts(out, s);
    free(s);
    json_decref(doc);
}

/* ---------------------------------------------------------------- public helpers */

int dq_lod_la_accepts(const char *accept)
{
    if (!accept)
        return 0;
    /* Each comma-separated media range on its own: application/ld+json with a profile
     * parameter naming Linked Art, and no q=0. */
    const char *p = accept;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        char one[512];
        if (n < sizeof(one)) {
            memcpy(one, p, n);
            one[n] = '\0';
            char *s = one;
            while (*s == ' ' || *s == '\t')
                s++;
            int q0 = 0;
            char *qp = strstr(s, "q=");
            if (qp) {
                double q = strtod(qp + 2, NULL);
                q0 = q <= 0.0;
            }
            if (strncasecmp(s, "application/ld+json", 19) == 0 &&
                strstr(s, "linked.art/ns/v1/linked-art.json") && !q0)
                return 1;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}

void dq_lod_la_path(dq_buf_t *out, const char *kind, const char *key)
{
    dq_buf_printf(out, "/linked-art/%s/", kind);
    dq_buf_url_segment(out, key);
}

const char *dq_lod_la_person_key(const char *zh, const char *en)
{
    if (zh && *zh)
        return zh;
    if (en && *en)
        return en;
    return NULL;
}

/* ---------------------------------------------------------------- HumanMadeObject */

/* Year as xsd:dateTime; years before 1 CE as ISO 8601 expanded years ("-0206"). */
static void year_time(char *buf, size_t cap, int year, int end)
{
    snprintf(buf, cap, "%s%04d-%s", year < 0 ? "-" : "", abs(year),
             end ? "12-31T23:59:59Z" : "01-01T00:00:00Z");
}

static json_t *production(const json_t *doc, const dq_lod_ctx_t *ctx)
{
    json_t *p = json_pack("{s:s}", "type", "Production");
    const json_t *yf = json_object_get(doc, "year_from"), *yt = json_object_get(doc, "year_to");
    const char *dt = jstr(doc, "date_text");
    if (json_is_integer(yf) || json_is_integer(yt) || dt) {
        json_t *ts = json_pack("{s:s}", "type", "TimeSpan");
        char b[40];
        if (dt)
            json_object_set_new(ts, "identified_by", json_pack("[o]", name(dt, NULL, 0)));
        if (json_is_integer(yf)) {
            year_time(b, sizeof(b), (int)json_integer_value(yf), 0);
            json_object_set_new(ts, "begin_of_the_begin", json_string(b));
        }
        if (json_is_integer(yt) || json_is_integer(yf)) {
            year_time(b, sizeof(b), (int)json_integer_value(json_is_integer(yt) ? yt : yf), 1);
            json_object_set_new(ts, "end_of_the_end", json_string(b));
        }
        json_object_set_new(p, "timespan", ts);
    }
    const json_t *creators = json_object_get(doc, "creators");
    json_t *by = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(creators, i, c)
    {
        const json_t *nm = json_object_get(c, "name");
        const char *key = dq_lod_la_person_key(jstr(nm, "zh"), jstr(nm, "en"));
        if (!key)
            continue;
        char *id = url(ctx, "person", key), *lab = label_of(nm, key);
        json_array_append_new(by, ref(id, "Person", lab));
        free(id);
        free(lab);
    }
    if (json_array_size(by))
        json_object_set_new(p, "carried_out_by", by);
    else
        json_decref(by);
    if (json_object_size(p) == 1) { /* nothing known about the making */
        json_decref(p);
        return NULL;
    }
    return p;
}

static json_t *dimensions(const json_t *doc)
{
    const json_t *d = json_object_get(doc, "dimensions_cm");
    static const struct {
        const char *key, *aat, *label;
    } dims[] = {{"height", AAT_HEIGHT, "Height"}, {"width", AAT_WIDTH, "Width"}};
    json_t *a = json_array();
    for (size_t i = 0; i < DQ_ARRAY_LEN(dims); i++) {
        const json_t *v = json_object_get(d, dims[i].key);
        if (!json_is_number(v))
            continue;
        json_array_append_new(a, json_pack("{s:s, s:f, s:o, s:[o]}", "type", "Dimension", "value",
                                           json_number_value(v), "unit",
                                           aat(AAT_CM, "MeasurementUnit", "centimeters"),
                                           "classified_as", aat(dims[i].aat, "Type",
                                                                dims[i].label)));
    }
    if (!json_array_size(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *access_object(const char *href, const char *format, const char *conforms,
                             const char *label)
{
    json_t *d = json_pack("{s:s, s:[o]}", "type", "DigitalObject", "access_point",
                          ref(href, "DigitalObject", NULL));
    if (label)
        json_object_set_new(d, "_label", json_string(label));
    if (format)
        json_object_set_new(d, "format", json_string(format));
    if (conforms)
        json_object_set_new(d, "conforms_to",
                            json_pack("[o]", ref(conforms, "InformationObject", NULL)));
    return d;
}

int dq_lod_la_object(const char *relic_json, size_t len, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                     dq_err_t *err)
{
    json_t *doc = json_loadb(relic_json, len, 0, NULL);
    const char *id = jstr(doc, "id");
    if (!json_is_object(doc) || !id) {
        json_decref(doc);
        return dq_err_set(err, DQ_EINVAL, 400, "linked art: not a relic document");
    }
    char *self = url(ctx, "object", id);
    char *lab = label_of(json_object_get(doc, "title"), id);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "@context", DQ_LOD_LA_PROFILE, "id", self,
                          "type", "HumanMadeObject", "_label", lab);
    free(lab);

    /* Names and the accession number. */
    json_t *ids = json_array();
    names_of(ids, json_object_get(doc, "title"));
    const char *acc = jstr(doc, "accession");
    if (acc)
        json_array_append_new(ids, json_pack("{s:s, s:s, s:[o]}", "type", "Identifier", "content",
                                             acc, "classified_as",
                                             aat(AAT_ACCESSION, "Type", "Accession Number")));
    json_object_set_new(o, "identified_by", ids);

    /* Classification: a work of art (as a type of work), then our object type. */
    json_t *cls = json_array();
    json_t *woa = aat(AAT_WORK_OF_ART, "Type", "Works of Art");
    json_object_set_new(woa, "classified_as",
                        json_pack("[o]", aat(AAT_TYPE_OF_WORK, "Type", "Type of Work")));
    json_array_append_new(cls, woa);
    if (jstr(doc, "object_type"))
        json_array_append_new(cls, vocab_type(ctx, "object_types", ctx->object_types_json,
                                              jstr(doc, "object_type")));
    json_object_set_new(o, "classified_as", cls);

    /* Statements: description, materials, inscriptions, provenance, rights. */
    json_t *refs = json_array();
    lang_statements(refs, json_object_get(doc, "description"), AAT_DESCRIPTION, "Description");
    lang_statements(refs, json_object_get(doc, "medium"), AAT_MATERIALS_STMT,
                    "Materials Description");
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(doc, "inscriptions"), i, e)
    {
        const char *t = jstr(e, "text");
        if (t)
            json_array_append_new(refs, statement(AAT_INSCRIPTION_STMT, "Inscription", t,
                                                  jstr(e, "lang")));
    }
    json_array_foreach(json_object_get(doc, "provenance"), i, e)
    {
        const char *t = jstr(e, "text");
        if (!t)
            continue;
        const json_t *y = json_object_get(e, "year");
        char *s = json_is_integer(y) ? dq_xasprintf("%lld: %s", (long long)json_integer_value(y), t)
                                     : dq_xstrdup(t);
        json_array_append_new(refs, statement(AAT_PROVENANCE_STMT, "Provenance Statement", s,
                                              NULL));
        free(s);
    }
    if (jstr(doc, "rights"))
        json_array_append_new(refs, statement(AAT_RIGHTS_STMT, "Rights Statement",
                                              jstr(doc, "rights"), NULL));
    /* The record's bibliography: each reference as a citation statement. */
    json_array_foreach(json_object_get(doc, "references"), i, e)
    {
        const char *t = jstr(e, "text");
        if (!t)
            continue;
        char *s = jstr(e, "doi") ? dq_xasprintf("%s doi:%s", t, jstr(e, "doi"))
                  : jstr(e, "url") ? dq_xasprintf("%s <%s>", t, jstr(e, "url"))
                                   : dq_xstrdup(t);
        json_array_append_new(refs, statement(AAT_BIBLIOGRAPHY, "Bibliography", s, NULL));
        free(s);
    }
    if (json_array_size(refs))
        json_object_set_new(o, "referred_to_by", refs);
    else
        json_decref(refs);

    json_t *dims = dimensions(doc);
    if (dims)
        json_object_set_new(o, "dimension", dims);
    json_t *prod = production(doc, ctx);
    /* Places on the production's took_place_at, each a fragment of this document (there is
     * no place endpoint) labelled with its role, its authorities as equivalents. */
    json_t *where = json_array();
    json_t *pl;
    json_array_foreach(json_object_get(doc, "places"), i, pl)
    {
        char *pid = dq_xasprintf("%s#place-%zu", self, i + 1);
        const char *role = jstr(pl, "role");
        char *plab = label_of(json_object_get(pl, "name"), "place");
        char *full = role ? dq_xasprintf("%s (%s)", plab, role) : dq_xstrdup(plab);
        json_t *p = ref(pid, "Place", full);
        json_t *eq = json_array();
        if (jstr(pl, "wikidata")) {
            char *u = dq_xasprintf("http://www.wikidata.org/entity/%s", jstr(pl, "wikidata"));
            json_array_append_new(eq, ref(u, "Place", plab));
            free(u);
        }
        if (jstr(pl, "tgn")) {
            char *u = dq_xasprintf("http://vocab.getty.edu/tgn/%s", jstr(pl, "tgn"));
            json_array_append_new(eq, ref(u, "Place", plab));
            free(u);
        }
        if (json_array_size(eq))
            json_object_set_new(p, "equivalent", eq);
        else
            json_decref(eq);
        json_array_append_new(where, p);
        free(pid);
        free(plab);
        free(full);
    }
    if (json_array_size(where)) {
        if (!prod)
            prod = json_pack("{s:s}", "type", "Production");
        json_object_set_new(prod, "took_place_at", where);
    } else {
        json_decref(where);
    }
    if (prod)
        json_object_set_new(o, "produced_by", prod);

    /* What it shows: the subjects, as our Types, on a VisualItem. Linked Art puts subjects on
     * the visual item (model/object/aboutness); we embed it with the images below. */
    json_t *rep = json_array();
    json_array_foreach(json_object_get(doc, "images"), i, e)
    {
        const char *iid = jstr(e, "image_id");
        if (!iid)
            continue;
        dq_buf_t info = {0};
        dq_buf_printf(&info, "%s/iiif/3/", ctx->base_url);
        dq_buf_url_segment(&info, iid);
        dq_buf_puts(&info, "/info.json");
        char *dig = url(ctx, "digital", iid);
        json_t *d = access_object(info.data, "application/ld+json", "http://iiif.io/api/image",
                                  iid);
        json_object_set_new(d, "identified_by",
                            json_pack("[o]", json_pack("{s:s, s:s}", "type", "Identifier",
                                                       "content", dig)));
        json_array_append_new(rep, json_pack("{s:s, s:[o]}", "type", "VisualItem",
                                             "digitally_shown_by", d));
        free(dig);
        dq_buf_free(&info);
    }
    if (json_array_size(rep))
        json_object_set_new(o, "representation", rep);
    else
        json_decref(rep);

    /* Where it is the subject: the relic's web page and its IIIF manifest. */
    dq_buf_t page = {0}, man = {0};
    dq_buf_printf(&page, "%s/relic/", ctx->base_url);
    dq_buf_url_segment(&page, id);
    dq_buf_printf(&man, "%s/iiif/presentation/3/", ctx->base_url);
    dq_buf_url_segment(&man, id);
    dq_buf_puts(&man, "/manifest");
    json_t *home = access_object(page.data, "text/html", NULL, "Home Page");
    json_object_set_new(home, "classified_as", json_pack("[o]", aat(AAT_WEB_PAGE, "Type",
                                                                    "Web Page")));
    json_t *subj = json_pack("[{s:s, s:[o]}]", "type", "LinguisticObject", "digitally_carried_by",
                             home);
    if (json_array_size(json_object_get(doc, "images")))
        json_array_append_new(
            subj, json_pack("{s:s, s:[o]}", "type", "LinguisticObject", "digitally_carried_by",
                            access_object(man.data, "application/ld+json",
                                          "http://iiif.io/api/presentation", "IIIF Manifest")));
    json_object_set_new(o, "subject_of", subj);
    dq_buf_free(&page);
    dq_buf_free(&man);

    free(self);
    json_decref(doc);
    finish(o, out);
    return 0;
}

/* ---------------------------------------------------------------- Person */

int dq_lod_la_person(const char *key, const char *relics_json, size_t len, const dq_lod_ctx_t *ctx,
                     dq_buf_t *out, dq_err_t *err)
{
    json_t *relics = json_loadb(relics_json, len, 0, NULL);
    if (!json_is_array(relics)) {
        json_decref(relics);
        return dq_err_set(err, DQ_EINVAL, 400, "linked art: relics must be a JSON array");
    }
    const json_t *found = NULL;
    json_t *authorities = json_array();
    size_t i, k;
    json_t *r, *c;
    json_array_foreach(relics, i, r)
    {
        json_array_foreach(json_object_get(r, "creators"), k, c)
        {
            const json_t *nm = json_object_get(c, "name");
            const char *ck = dq_lod_la_person_key(jstr(nm, "zh"), jstr(nm, "en"));
            if (!ck || strcmp(ck, key) != 0)
                continue;
            if (!found)
                found = c;
            /* Authority ids (Wikidata, ULAN) as equivalents, once each. */
            static const char *const auth[] = {"wikidata", "ulan"};
            for (size_t a = 0; a < DQ_ARRAY_LEN(auth); a++) {
                const char *v = jstr(c, auth[a]);
                if (!v)
                    continue;
                char *u = a == 0 ? dq_xasprintf("http://www.wikidata.org/entity/%s", v)
                                 : dq_xasprintf("http://vocab.getty.edu/ulan/%s", v);
                int dup = 0;
                size_t x;
                json_t *y;
                json_array_foreach(authorities, x, y) dup |=
                    strcmp(json_string_value(json_object_get(y, "id")), u) == 0;
                if (!dup)
                    json_array_append_new(authorities, ref(u, "Person", NULL));
                free(u);
            }
        }
    }
    if (!found) {
        json_decref(relics);
        json_decref(authorities);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no creator '%s'", key);
    }
    const json_t *nm = json_object_get(found, "name");
    char *self = url(ctx, "person", key), *lab = label_of(nm, key);
    json_t *p = json_pack("{s:s, s:s, s:s, s:s}", "@context", DQ_LOD_LA_PROFILE, "id", self,
                          "type", "Person", "_label", lab);
    json_t *ids = json_array();
    names_of(ids, nm);
    json_object_set_new(p, "identified_by", ids);
    json_t *refs = json_array();
    if (jstr(found, "dates"))
        json_array_append_new(refs, statement(AAT_BIOGRAPHY_STMT, "Biography Statement",
                                              jstr(found, "dates"), NULL));
    if (json_array_size(refs))
        json_object_set_new(p, "referred_to_by", refs);
    else
        json_decref(refs);
    if (json_array_size(authorities))
        json_object_set_new(p, "equivalent", authorities);
    else
        json_decref(authorities);
    free(self);
    free(lab);
    json_decref(relics);
    finish(p, out);
    return 0;
}

/* ---------------------------------------------------------------- DigitalObject */

int dq_lod_la_digital(const dq_lod_image_t *img, const dq_lod_ctx_t *ctx, dq_buf_t *out,
                      dq_err_t *err)
{
    if (!img || !img->image_id || !*img->image_id)
        return dq_err_set(err, DQ_EINVAL, 400, "linked art: no image id");
    char *self = url(ctx, "digital", img->image_id);
    char *lab = img->relic_label ? dq_xasprintf("%s (%s)", img->relic_label, img->image_id)
                                 : dq_xstrdup(img->image_id);
    json_t *d = json_pack("{s:s, s:s, s:s, s:s}", "@context", DQ_LOD_LA_PROFILE, "id", self,
                          "type", "DigitalObject", "_label", lab);
    free(lab);
    json_object_set_new(d, "classified_as",
                        json_pack("[o]", aat(AAT_DIGITAL_IMAGE, "Type", "Digital Image")));
    json_object_set_new(d, "format", json_string("image/jpeg"));
    json_object_set_new(
        d, "conforms_to",
        json_pack("[o]", ref("http://iiif.io/api/image", "InformationObject", "IIIF Image API")));
    dq_buf_t info = {0};
    dq_buf_printf(&info, "%s/iiif/3/", ctx->base_url);
    dq_buf_url_segment(&info, img->image_id);
    json_object_set_new(d, "access_point", json_pack("[o]", ref(info.data, "DigitalObject",
                                                                "IIIF Image API service")));
    dq_buf_free(&info);
    json_t *dims = json_array();
    if (img->width > 0)
        json_array_append_new(dims, json_pack("{s:s, s:i, s:o, s:[o]}", "type", "Dimension",
                                              "value", img->width, "unit",
                                              aat(AAT_PIXELS, "MeasurementUnit", "pixels"),
                                              "classified_as",
                                              aat(AAT_WIDTH, "Type", "Width")));
    if (img->height > 0)
        json_array_append_new(dims, json_pack("{s:s, s:i, s:o, s:[o]}", "type", "Dimension",
                                              "value", img->height, "unit",
                                              aat(AAT_PIXELS, "MeasurementUnit", "pixels"),
                                              "classified_as",
                                              aat(AAT_HEIGHT, "Type", "Height")));
    if (json_array_size(dims))
        json_object_set_new(d, "dimension", dims);
    else
        json_decref(dims);
    free(self);
    finish(d, out);
    return 0;
}
