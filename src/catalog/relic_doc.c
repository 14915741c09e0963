/*
 * relic_doc.c: what a relic record may be, backend-neutral. It owns the vocabularies
 * (dynasties, object types, subjects), validation against docs/api.md "The relic document",
 * the canonical form (fixed key order, so that "unchanged" is a byte comparison and a
 * re-import is idempotent), JSON merge patch (RFC 7396), the audit detail of an update, and
 * what a document gives the backend to store and index (relic_row_build: facet values, sort
 * keys and the four full-text fields). It runs no transactions (relic_write.c) and no
 * searches (relic_search.c).
 */
#include "catalog/fts_aux.h"
#include "catalog/relic_internal.h"

#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define STR_MAX (64 * 1024) /* any one string field */
#define ARRAY_MAX RELIC_ARRAY_MAX
#define SMALL_ARRAY_MAX RELIC_SMALL_ARRAY_MAX

/* ---------------------------------------------------------------- vocabularies */

typedef struct {
    const char *key, *zh, *en;
    int year_from, year_to; /* dynasties only; 0/0 elsewhere */
} vocab_t;

/* Earlier dynasties than docs/api.md lists are ours to define; years are the conventional
 * ones (the end year of "modern" is open: 9999). */
static const vocab_t dynasties[] = {
    {"shang", "商", "Shang", -1600, -1046},
    {"zhou", "周", "Zhou", -1046, -256},
    {"warring_states", "战国", "Warring States", -475, -221},
    {"qin", "秦", "Qin", -221, -207},
    {"han", "汉", "Han", -206, 220},
    {"three_kingdoms", "三国", "Three Kingdoms", 220, 280},
    {"jin_dynasty", "晋", "Jin (265–420)", 265, 420},
    {"southern_northern", "南北朝", "Southern and Northern Dynasties", 420, 589},
    {"sui", "隋", "Sui", 581, 618},
    {"tang", "唐", "Tang", 618, 907},
    {"five_dynasties", "五代", "Five Dynasties", 907, 979},
    {"song", "宋", "Song", 960, 1279},
    {"northern_song", "北宋", "Northern Song", 960, 1127},
    {"southern_song", "南宋", "Southern Song", 1127, 1279},
    {"liao", "辽", "Liao", 907, 1125},
    {"jin", "金", "Jin (1115–1234)", 1115, 1234},
    {"yuan", "元", "Yuan", 1271, 1368},
    {"ming", "明", "Ming", 1368, 1644},
    {"qing", "清", "Qing", 1644, 1912},
    {"republic", "民国", "Republic", 1912, 1949},
    {"modern", "现代", "Modern", 1949, 9999},
};

static const vocab_t object_types[] = {
    {"handscroll", "手卷", "handscroll", 0, 0},
    {"hanging_scroll", "立轴", "hanging scroll", 0, 0},
    {"album_leaf", "册页", "album leaf", 0, 0},
    {"fan", "扇面", "fan", 0, 0},
    {"calligraphy", "书法", "calligraphy", 0, 0},
    {"mural", "壁画", "mural", 0, 0},
    {"bronze", "青铜器", "bronze", 0, 0},
    {"ceramic", "陶瓷", "ceramic", 0, 0},
    {"jade", "玉器", "jade", 0, 0},
    {"textile", "织绣", "textile", 0, 0},
    {"other", "其他", "other", 0, 0},
};

static const vocab_t subjects[] = {
    {"landscape", "山水", "landscape", 0, 0},
    {"bird_and_flower", "花鸟", "bird and flower", 0, 0},
    {"figure", "人物", "figure", 0, 0},
    {"animals", "走兽", "animals", 0, 0},
    {"architecture", "界画", "architecture", 0, 0},
    {"religious", "宗教", "religious", 0, 0},
    {"calligraphy", "书法", "calligraphy", 0, 0},
    {"other", "其他", "other", 0, 0},
};

typedef struct {
    const char *name;
    const vocab_t *v;
    size_t n;
} vocab_list_t;

static const vocab_list_t vocabs[] = {
    {"dynasties", dynasties, DQ_ARRAY_LEN(dynasties)},
    {"object_types", object_types, DQ_ARRAY_LEN(object_types)},
    {"subjects", subjects, DQ_ARRAY_LEN(subjects)},
};

static const vocab_t *vocab_find(const vocab_t *v, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i].key, key) == 0)
            return &v[i];
    return NULL;
}

int relic_vocab_has(const char *name, const char *key)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(vocabs); i++)
        if (strcmp(vocabs[i].name, name) == 0)
            return vocab_find(vocabs[i].v, vocabs[i].n, key) != NULL;
    return 0;
}

/* Period strings of museum data (The Met's "Period"/"Dynasty" columns) to our keys. Longest
 * names first, so that "Northern Song" is not taken for "Song". */
const char *relic_dynasty_from_text(const char *text)
{
    static const struct {
        const char *needle, *key;
    } map[] = {
        {"northern song", "northern_song"},
        {"southern song", "southern_song"},
        {"five dynasties", "five_dynasties"},
        {"warring states", "warring_states"},
        {"three kingdoms", "three_kingdoms"},
        {"southern and northern", "southern_northern"},
        {"northern and southern", "southern_northern"},
        {"northern wei", "southern_northern"},
        {"song", "song"},
        {"tang", "tang"},
        {"yuan", "yuan"},
        {"ming", "ming"},
        {"qing", "qing"},
        {"liao", "liao"},
        {"jin dynasty (1115", "jin"},
        {"jurchen", "jin"},
        {"sui", "sui"},
        {"han dynasty", "han"},
        {"eastern han", "han"},
        {"western han", "han"},
        {"qin", "qin"},
        {"zhou", "zhou"},
        {"shang", "shang"},
        {"republic", "republic"},
        {"北宋", "northern_song"},
        {"南宋", "southern_song"},
        {"五代", "five_dynasties"},
        {"宋", "song"},
        {"唐", "tang"},
        {"元", "yuan"},
        {"明", "ming"},
        {"清", "qing"},
        {"辽", "liao"},
        {"金", "jin"},
        {"隋", "sui"},
        {"汉", "han"},
        {"民国", "republic"},
    };
    if (!text)
        return NULL;
    char low[256];
    size_t n = strlen(text);
    if (n >= sizeof(low))
        n = sizeof(low) - 1;
    for (size_t i = 0; i < n; i++)
        low[i] = (text[i] >= 'A' && text[i] <= 'Z') ? (char)(text[i] + 32) : text[i];
    low[n] = '\0';
    if (relic_vocab_has("dynasties", low))
        return vocab_find(dynasties, DQ_ARRAY_LEN(dynasties), low)->key;
    for (size_t i = 0; i < DQ_ARRAY_LEN(map); i++)
        if (strstr(low, map[i].needle))
            return map[i].key;
    return NULL;
}

int dq_catalog_vocab(dq_catalog_t *cat, const char *name, dq_buf_t *out, dq_err_t *err)
{
    (void)cat;
    for (size_t i = 0; i < DQ_ARRAY_LEN(vocabs); i++) {
        if (!name || strcmp(vocabs[i].name, name) != 0)
            continue;
        dq_buf_putc(out, '[');
        for (size_t k = 0; k < vocabs[i].n; k++) {
            const vocab_t *v = &vocabs[i].v[k];
            dq_buf_printf(out, "%s{\"key\":\"%s\",\"zh\":\"%s\",\"en\":\"", k ? "," : "", v->key,
                          v->zh);
            dq_buf_json_str(out, v->en, strlen(v->en));
            dq_buf_putc(out, '"');
            if (vocabs[i].v == dynasties)
                dq_buf_printf(out, ",\"year_from\":%d,\"year_to\":%d", v->year_from, v->year_to);
            dq_buf_putc(out, '}');
        }
        dq_buf_putc(out, ']');
        return 0;
    }
    return dq_err_set(err, DQ_ENOTFOUND, 404, "no vocabulary '%s'", name ? name : "");
}

/* ---------------------------------------------------------------- validation */

/* Field errors collect in a JSON object; the first message per path wins. */
void relic_fe_add(json_t *fe, const char *path, const char *msg)
{
    if (!json_object_get(fe, path))
        json_object_set_new(fe, path, json_string(msg));
}

void relic_fe_addf(json_t *fe, const char *msg, const char *fmt, ...)
{
    char path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    relic_fe_add(fe, path, msg);
}

/* A bounded string without control characters other than tab and newline: the search layer
 * uses control bytes as token namespaces and snippet markers, so none may come from users. */
static json_t *chk_str(json_t *fe, const char *path, json_t *v, size_t max)
{
    if (!json_is_string(v)) {
        relic_fe_add(fe, path, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max) {
        relic_fe_add(fe, path, "too long");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            relic_fe_add(fe, path, "must not contain control characters");
            return NULL;
        }
    }
    return json_incref(v);
}

/* A language map: an object with only zh, en and pinyin (non-empty strings), rebuilt in that
 * order. need: 1 when zh or en is required. */
static json_t *chk_lang(json_t *fe, const char *path, json_t *v, int need)
{
    static const char *const keys[] = {"zh", "en", "pinyin"};
    if (!json_is_object(v)) {
        relic_fe_add(fe, path, "must be an object with zh/en");
        return NULL;
    }
    const char *k;
    json_t *x;
    int bad = 0;
    json_object_foreach(v, k, x)
    {
        if (strcmp(k, "zh") && strcmp(k, "en") && strcmp(k, "pinyin")) {
            relic_fe_addf(fe, "unknown language (zh, en, pinyin)", "%s.%.40s", path, k);
            bad = 1;
        }
    }
    json_t *o = json_object();
    for (size_t i = 0; i < DQ_ARRAY_LEN(keys); i++) {
        json_t *s = json_object_get(v, keys[i]);
        if (!s || json_is_null(s))
            continue;
        char p[128];
        snprintf(p, sizeof(p), "%s.%s", path, keys[i]);
        json_t *c = chk_str(fe, p, s, STR_MAX);
        if (!c) {
            bad = 1;
            continue;
        }
        if (json_string_length(c) == 0)
            json_decref(c);
        else
            json_object_set_new(o, keys[i], c);
    }
    if (need && !json_object_get(o, "zh") && !json_object_get(o, "en")) {
        char p[128];
        snprintf(p, sizeof(p), "%s.zh", path);
        relic_fe_add(fe, p, "required (zh or en)");
        bad = 1;
    }
    if (bad || json_object_size(o) == 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* An array of objects; each element is checked by one of the element checkers below. */
typedef json_t *(*elem_fn)(json_t *fe, const char *path, json_t *v);

static json_t *chk_array(json_t *fe, const char *path, json_t *v, size_t max, elem_fn fn)
{
    if (!json_is_array(v)) {
        relic_fe_add(fe, path, "must be an array");
        return NULL;
    }
    if (json_array_size(v) > max) {
        relic_fe_add(fe, path, "too many elements");
        return NULL;
    }
    json_t *a = json_array();
    size_t i;
    json_t *x;
    int bad = 0;
    json_array_foreach(v, i, x)
    {
        char p[128];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        json_t *c = fn(fe, p, x);
        if (!c)
            bad = 1;
        else
            json_array_append_new(a, c);
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* An object with a fixed list of keys: each checked, unknown ones rejected, rebuilt in list
 * order. kinds: 's' string, 'l' language map, 'i' integer, 'n' positive number, 'I' image id. */
typedef struct {
    const char *key;
    char kind;
    int required;
} field_t;

static json_t *chk_object(json_t *fe, const char *path, json_t *v, const field_t *f, size_t n)
{
    if (!json_is_object(v)) {
        relic_fe_add(fe, path, "must be an object");
        return NULL;
    }
    int bad = 0;
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x)
    {
        size_t i;
        for (i = 0; i < n && strcmp(f[i].key, k) != 0; i++)
            ;
        if (i == n) {
            relic_fe_addf(fe, "unknown field", "%s.%.40s", path, k);
            bad = 1;
        }
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        char p[160];
        snprintf(p, sizeof(p), "%s.%s", path, f[i].key);
        json_t *e = json_object_get(v, f[i].key), *c = NULL;
        if (!e || json_is_null(e)) {
            if (f[i].required) {
                relic_fe_add(fe, p, "required");
                bad = 1;
            }
            continue;
        }
        switch (f[i].kind) {
        case 's':
            c = chk_str(fe, p, e, STR_MAX);
            break;
        case 'l':
            c = chk_lang(fe, p, e, f[i].required);
            break;
        case 'i':
            if (json_is_integer(e) && json_integer_value(e) >= -5000 &&
                json_integer_value(e) <= 9999)
                c = json_incref(e);
            else
                relic_fe_add(fe, p, "must be a year (integer)");
            break;
        case 'n':
            if (json_is_number(e) && json_number_value(e) > 0 && json_number_value(e) < 1e6)
                c = json_real(json_number_value(e));
            else
                relic_fe_add(fe, p, "must be a positive number");
            break;
        case 'I': {
            dq_err_t e2 = {0};
            if (json_is_string(e) && dq_image_id_valid(json_string_value(e), &e2))
                c = json_incref(e);
            else
                relic_fe_add(fe, p, "must be an image id ([A-Za-z0-9._-]{1,128})");
            break;
        }
        }
        if (!c)
            bad = 1;
        else if (json_is_string(c) && json_string_length(c) == 0)
            json_decref(c);
        else
            json_object_set_new(o, f[i].key, c);
    }
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ======== network: authority ids and references (issue 16) ======== */
/* An authority id: prefix (may be "") then 1..max_digits digits, the first not 0. */
static int authority_ok(const char *s, const char *prefix, size_t min_digits, size_t max_digits)
{
    size_t pl = strlen(prefix), n = strlen(s);
    if (strncmp(s, prefix, pl) != 0 || n - pl < min_digits || n - pl > max_digits ||
        s[pl] == '0')
        return 0;
    for (size_t i = pl; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

/* Creators may name their Wikidata item ("Q5598") and Getty ULAN id ("500018222", nine
 * digits): exported as Linked Art equivalents and LIDO actorIDs, and searchable. */
static json_t *chk_creator(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"name", 'l', 1},     {"dates", 's', 0}, {"role", 's', 0},
                                {"wikidata", 's', 0}, {"ulan", 's', 0}};
    json_t *c = chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
    const char *wd = json_string_value(json_object_get(c, "wikidata"));
    const char *ulan = json_string_value(json_object_get(c, "ulan"));
    int bad = 0;
    if (wd && !authority_ok(wd, "Q", 1, 12)) {
        relic_fe_addf(fe, "must be a Wikidata item id (Q followed by digits)", "%s.wikidata",
                      path);
        bad = 1;
    }
    if (ulan && !authority_ok(ulan, "", 9, 9)) {
        relic_fe_addf(fe, "must be a ULAN id (nine digits)", "%s.ulan", path);
        bad = 1;
    }
    if (bad) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* A place the work is tied to (where it was made, found, or what it shows: role is free
 * text), with its Wikidata item and Getty TGN id (seven digits): exported as Linked Art
 * equivalents, searchable. */
static json_t *chk_place(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"name", 'l', 1}, {"role", 's', 0}, {"wikidata", 's', 0},
                                {"tgn", 's', 0}};
    json_t *c = chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
    const char *wd = json_string_value(json_object_get(c, "wikidata"));
    const char *tgn = json_string_value(json_object_get(c, "tgn"));
    int bad = 0;
    if (wd && !authority_ok(wd, "Q", 1, 12)) {
        relic_fe_addf(fe, "must be a Wikidata item id (Q followed by digits)", "%s.wikidata",
                      path);
        bad = 1;
    }
    if (tgn && !authority_ok(tgn, "", 7, 7)) {
        relic_fe_addf(fe, "must be a TGN id (seven digits)", "%s.tgn", path);
        bad = 1;
    }
    if (bad) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* A bibliographic reference: the citation as text, and optionally its URL and DOI. */
static json_t *chk_reference(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"text", 's', 1}, {"url", 's', 0}, {"doi", 's', 0}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}
/* One source field a harvest did not map (kept so that nothing is lost silently). */
static json_t *chk_source_field(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"name", 's', 1}, {"value", 's', 1}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

/* A record harvested from another institution (`danqing harvest`): its Manifest and/or its
 * source record (OAI-PMH) and where it came from, referenced and never copied. URLs must be
 * http(s); one of manifest and record is required. */
static json_t *chk_remote(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"manifest", 's', 0}, {"institution", 's', 0},
                                {"source", 's', 0},   {"url", 's', 0},
                                {"licence", 's', 0},  {"record", 's', 0},
                                {"oai_identifier", 's', 0}, {"format", 's', 0}};
    json_t *fields = json_is_object(v) ? json_object_get(v, "fields") : NULL, *cf = NULL;
    json_t *rest = v;
    if (fields) {
        char p[160];
        snprintf(p, sizeof(p), "%s.fields", path);
        if (!(cf = chk_array(fe, p, fields, ARRAY_MAX, chk_source_field)))
            return NULL;
        rest = json_copy(v);
        json_object_del(rest, "fields");
    } else {
        json_incref(rest);
    }
    json_t *c = chk_object(fe, path, rest, f, DQ_ARRAY_LEN(f));
    json_decref(rest);
    static const char *const urls[] = {"manifest", "source", "url", "record"};
    for (size_t i = 0; c && i < DQ_ARRAY_LEN(urls); i++) {
        const char *u = json_string_value(json_object_get(c, urls[i]));
        if (u && strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) {
            relic_fe_addf(fe, "must be an http(s) URL", "%s.%s", path, urls[i]);
            json_decref(c);
            c = NULL;
        }
    }
    if (c && !json_object_get(c, "manifest") && !json_object_get(c, "record")) {
        relic_fe_addf(fe, "required (or record)", "%s.manifest", path);
        json_decref(c);
        c = NULL;
    }
    if (c && cf && json_array_size(cf))
        json_object_set(c, "fields", cf);
    json_decref(cf);
    return c;
}
/* ======== end network ======== */

static json_t *chk_inscription(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {
        {"text", 's', 1}, {"author", 's', 0}, {"position", 's', 0}, {"lang", 's', 0}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

static json_t *chk_seal(json_t *fe, const char *path, json_t *v)
{
    /* style: "zhuwen" (朱文, relief: red characters) or "baiwen" (白文, intaglio: white
     * characters on red), as seal catalogues record it. */
    static const field_t f[] = {
        {"reading", 's', 1}, {"owner", 's', 0}, {"position", 's', 0}, {"style", 's', 0}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

static json_t *chk_provenance(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"year", 'i', 0}, {"text", 's', 1}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

static json_t *chk_image(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"image_id", 'I', 1}, {"role", 's', 0}, {"label", 'l', 0}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

/* A keyword: free text such as a museum's tags ("Horses", "Mountains"), one line. */
static json_t *chk_keyword(json_t *fe, const char *path, json_t *v)
{
    json_t *c = chk_str(fe, path, v, 128);
    if (c && (json_string_length(c) == 0 || strchr(json_string_value(c), '\n'))) {
        relic_fe_add(fe, path, "must be one non-empty line");
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *chk_subject(json_t *fe, const char *path, json_t *v)
{
    if (!json_is_string(v) || !relic_vocab_has("subjects", json_string_value(v))) {
        relic_fe_add(fe, path, "unknown subject (GET /api/vocab/subjects)");
        return NULL;
    }
    return json_incref(v);
}

/* The document's top-level fields in canonical order. Server fields (id, version, times) are
 * known but never part of the stored user document. */
static const char *const doc_fields[] = {
    "accession",     "title",        "creators", "dynasty",    "date_text",   "year_from",
    "year_to",       "object_type",  "subject",  "keywords",   "medium",      "support",
    "dimensions_cm", "inscriptions", "seals",    "provenance", "description", "rights",
    "restricted",    "school",       "references", "remote", "images", "places",
};
static const char *const server_fields[] = {"id", "version", "created_at", "updated_at"};

static int is_server_field(const char *k)
{
    for (size_t i = 0; i < DQ_ARRAY_LEN(server_fields); i++)
        if (strcmp(server_fields[i], k) == 0)
            return 1;
    return 0;
}

/* Validates an input document and returns its canonical user part (new reference), or NULL
 * with fe filled. */
json_t *relic_normalize(json_t *in, json_t *fe)
{
    if (!json_is_object(in)) {
        relic_fe_add(fe, "", "the document must be a JSON object");
        return NULL;
    }
    const char *k;
    json_t *x;
    json_object_foreach(in, k, x)
    {
        size_t i;
        for (i = 0; i < DQ_ARRAY_LEN(doc_fields) && strcmp(doc_fields[i], k) != 0; i++)
            ;
        if (i == DQ_ARRAY_LEN(doc_fields) && !is_server_field(k))
            relic_fe_addf(fe, "unknown field", "%.60s", k);
    }
    json_t *d = json_object();
    for (size_t i = 0; i < DQ_ARRAY_LEN(doc_fields); i++) {
        const char *f = doc_fields[i];
        json_t *v = json_object_get(in, f), *c = NULL;
        if (!v || json_is_null(v)) {
            if (strcmp(f, "accession") == 0)
                relic_fe_add(fe, "accession", "required");
            else if (strcmp(f, "title") == 0)
                relic_fe_add(fe, "title.zh", "required (zh or en)");
            continue;
        }
        if (strcmp(f, "accession") == 0) {
            c = chk_str(fe, f, v, 128);
            if (c && json_string_length(c) == 0) {
                relic_fe_add(fe, f, "required");
                json_decref(c);
                c = NULL;
            }
        } else if (!strcmp(f, "title") || !strcmp(f, "medium") || !strcmp(f, "description")) {
            c = chk_lang(fe, f, v, strcmp(f, "title") == 0);
        } else if (strcmp(f, "creators") == 0) {
            c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_creator);
        } else if (strcmp(f, "places") == 0) {
            c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_place);
        } else if (strcmp(f, "dynasty") == 0 || strcmp(f, "object_type") == 0) {
            const char *voc = f[0] == 'd' ? "dynasties" : "object_types";
            if (json_is_string(v) && relic_vocab_has(voc, json_string_value(v)))
                c = json_incref(v);
            else
                relic_fe_add(fe, f,
                             f[0] == 'd' ? "unknown dynasty (GET /api/vocab/dynasties)"
                                         : "unknown object type (GET /api/vocab/object_types)");
        } else if (strcmp(f, "year_from") == 0 || strcmp(f, "year_to") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= -5000 &&
                json_integer_value(v) <= 9999)
                c = json_incref(v);
            else
                relic_fe_add(fe, f, "must be a year (integer, -5000..9999)");
        } else if (strcmp(f, "subject") == 0) {
            if (json_is_string(v)) { /* one subject is accepted as a string */
                json_t *a = json_pack("[O]", v);
                c = chk_array(fe, f, a, SMALL_ARRAY_MAX, chk_subject);
                json_decref(a);
            } else {
                c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_subject);
            }
        } else if (strcmp(f, "keywords") == 0) {
            c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_keyword);
            if (c && json_array_size(c) == 0) {
                json_decref(c);
                continue;
            }
        } else if (strcmp(f, "dimensions_cm") == 0) {
            static const field_t dim[] = {{"height", 'n', 0}, {"width", 'n', 0}, {"depth", 'n', 0}};
            c = chk_object(fe, f, v, dim, DQ_ARRAY_LEN(dim));
        } else if (strcmp(f, "inscriptions") == 0) {
            c = chk_array(fe, f, v, ARRAY_MAX, chk_inscription);
        } else if (strcmp(f, "seals") == 0) {
            c = chk_array(fe, f, v, ARRAY_MAX, chk_seal);
        } else if (strcmp(f, "provenance") == 0) {
            c = chk_array(fe, f, v, ARRAY_MAX, chk_provenance);
        } else if (strcmp(f, "images") == 0) {
            c = chk_array(fe, f, v, ARRAY_MAX, chk_image);
        } else if (strcmp(f, "references") == 0) { /* network (issue 16) */
            c = chk_array(fe, f, v, ARRAY_MAX, chk_reference);
        } else if (strcmp(f, "remote") == 0) { /* network (issue 16) */
            c = chk_remote(fe, f, v);
        } else if (strcmp(f, "restricted") == 0) {
            if (json_is_boolean(v))
                c = json_incref(v);
            else
                relic_fe_add(fe, f, "must be true or false");
        } else { /* date_text, support, rights, school */
            c = chk_str(fe, f, v, STR_MAX);
        }
        if (c && json_is_string(c) && json_string_length(c) == 0 && strcmp(f, "accession") != 0) {
            json_decref(c);
            continue;
        }
        if (c)
            json_object_set_new(d, f, c);
    }
    json_t *yf = json_object_get(d, "year_from"), *yt = json_object_get(d, "year_to");
    if (yf && yt && json_integer_value(yf) > json_integer_value(yt))
        relic_fe_add(fe, "year_from", "must be <= year_to");
    if (json_object_size(fe) > 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Canonical text of a user document: compact, in the insertion order normalize() built. */
char *relic_doc_text(json_t *d)
{
    return json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(10));
}

/* ---------------------------------------------------------------- row extraction */

static void put_sp(dq_buf_t *b, const char *s)
{
    if (!s || !*s)
        return;
    if (b->len)
        dq_buf_puts(b, " \n ");
    dq_buf_puts(b, s);
}

static const char *lang_get(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void put_lang(dq_buf_t *b, json_t *o)
{
    put_sp(b, lang_get(o, "zh"));
    put_sp(b, lang_get(o, "en"));
    put_sp(b, lang_get(o, "pinyin"));
}

static void put_label(dq_buf_t *b, const vocab_t *v, size_t n, const char *key)
{
    const vocab_t *e = key ? vocab_find(v, n, key) : NULL;
    if (e) {
        put_sp(b, e->zh);
        put_sp(b, e->en);
    }
}

/* Fills rb->row from the canonical document d (borrowed: the row points into d, which must
 * outlive the row). */
void relic_row_build(relic_row_build_t *rb, json_t *d, const char *id, int64_t version)
{
    dq_relic_row_t *r = &rb->row;
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->version = version;
    r->accession = json_string_value(json_object_get(d, "accession"));
    free(rb->doc);
    rb->doc = relic_doc_text(d);
    r->doc = rb->doc;
    r->doc_len = strlen(rb->doc);
    r->dynasty = json_string_value(json_object_get(d, "dynasty"));
    r->object_type = json_string_value(json_object_get(d, "object_type"));
    json_t *med = json_object_get(d, "medium");
    r->medium_key = lang_get(med, "zh") ? lang_get(med, "zh") : lang_get(med, "en");
    json_t *yf = json_object_get(d, "year_from"), *yt = json_object_get(d, "year_to");
    const vocab_t *dy =
        r->dynasty ? vocab_find(dynasties, DQ_ARRAY_LEN(dynasties), r->dynasty) : NULL;
    if (yf || yt) {
        r->has_year = 1;
        r->year_from = (int)json_integer_value(yf ? yf : yt);
        r->year_to = (int)json_integer_value(yt ? yt : yf);
    } else if (dy) { /* the dynasty's span stands in for a missing date */
        r->has_year = 1;
        r->year_from = dy->year_from;
        r->year_to = dy->year_to;
    }
    r->restricted = json_is_true(json_object_get(d, "restricted"));
    json_t *title = json_object_get(d, "title");
    r->title_zh = lang_get(title, "zh");
    r->sort_title = r->title_zh ? r->title_zh : lang_get(title, "en");
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(d, "subject"), i, x) rb->subj[r->n_subjects++] =
        json_string_value(x);
    r->subjects = rb->subj;
    dq_buf_reset(&rb->creators);
    json_array_foreach(json_object_get(d, "creators"), i, x)
    {
        json_t *nm = json_object_get(x, "name");
        const char *zh = lang_get(nm, "zh"), *en = lang_get(nm, "en");
        rb->cr[r->n_creators] = zh ? zh : en;
        rb->cr_en[r->n_creators] = en ? en : zh;
        r->n_creators++;
        put_lang(&rb->creators, nm);
    }
    r->creators = rb->cr;
    r->creators_en = rb->cr_en;
    json_array_foreach(json_object_get(d, "images"), i, x)
    {
        rb->links[r->n_links].image_id = json_string_value(json_object_get(x, "image_id"));
        const char *role = json_string_value(json_object_get(x, "role"));
        rb->links[r->n_links].role = role ? role : "";
        r->n_links++;
    }
    r->links = rb->links;
    dq_buf_reset(&rb->title);
    put_lang(&rb->title, title);
    /* body: everything else worth finding, vocabulary labels and keywords included, so that
     * 山水 and "landscape" find landscapes, 北宋 finds the Northern Song and "horse" a work
     * tagged "Horses" (the tokenizer folds plurals). */
    dq_buf_reset(&rb->body);
    put_sp(&rb->body, r->accession);
    put_label(&rb->body, dynasties, DQ_ARRAY_LEN(dynasties), r->dynasty);
    put_label(&rb->body, object_types, DQ_ARRAY_LEN(object_types), r->object_type);
    json_array_foreach(json_object_get(d, "subject"), i, x)
        put_label(&rb->body, subjects, DQ_ARRAY_LEN(subjects), json_string_value(x));
    json_array_foreach(json_object_get(d, "keywords"), i, x)
        put_sp(&rb->body, json_string_value(x));
    put_sp(&rb->body, json_string_value(json_object_get(d, "date_text")));
    put_lang(&rb->body, med);
    put_sp(&rb->body, json_string_value(json_object_get(d, "support")));
    put_sp(&rb->body, json_string_value(json_object_get(d, "school")));
    json_array_foreach(json_object_get(d, "inscriptions"), i, x)
    {
        put_sp(&rb->body, lang_get(x, "text"));
        put_sp(&rb->body, lang_get(x, "author"));
    }
    json_array_foreach(json_object_get(d, "seals"), i, x)
    {
        put_sp(&rb->body, lang_get(x, "reading"));
        put_sp(&rb->body, lang_get(x, "owner"));
    }
    json_array_foreach(json_object_get(d, "provenance"), i, x)
        put_sp(&rb->body, lang_get(x, "text"));
    /* network (issue 16): references and creators' authority ids are found like any text. */
    json_array_foreach(json_object_get(d, "references"), i, x)
    {
        put_sp(&rb->body, lang_get(x, "text"));
        put_sp(&rb->body, lang_get(x, "doi"));
    }
    json_array_foreach(json_object_get(d, "creators"), i, x)
    {
        put_sp(&rb->body, lang_get(x, "wikidata"));
        put_sp(&rb->body, lang_get(x, "ulan"));
    }
    json_array_foreach(json_object_get(d, "places"), i, x)
    {
        put_lang(&rb->body, json_object_get(x, "name"));
        put_sp(&rb->body, lang_get(x, "wikidata"));
        put_sp(&rb->body, lang_get(x, "tgn"));
    }
    dq_buf_reset(&rb->desc);
    put_lang(&rb->desc, json_object_get(d, "description"));
    r->fts_title = rb->title.data ? rb->title.data : "";
    r->fts_creators = rb->creators.data ? rb->creators.data : "";
    r->fts_body = rb->body.data ? rb->body.data : "";
    r->fts_description = rb->desc.data ? rb->desc.data : "";
}

void relic_row_free(relic_row_build_t *rb)
{
    dq_buf_free(&rb->title);
    dq_buf_free(&rb->creators);
    dq_buf_free(&rb->body);
    dq_buf_free(&rb->desc);
    free(rb->doc);
    rb->doc = NULL;
}

int dq_relic_fts_fields(const char *doc, size_t doc_len, dq_buf_t out[4])
{
    json_t *d = json_loadb(doc, doc_len, 0, NULL);
    if (!d)
        return -1;
    /* the row builder as the writer ran it (rb is large: its link array) */
    relic_row_build_t *rb = dq_xcalloc(1, sizeof(*rb));
    relic_row_build(rb, d, "", 1);
    const char *f[4] = {rb->row.fts_title, rb->row.fts_creators, rb->row.fts_body,
                        rb->row.fts_description};
    for (int k = 0; k < 4; k++) {
        dq_buf_reset(&out[k]);
        dq_buf_puts(&out[k], f[k]);
    }
    relic_row_free(rb);
    free(rb);
    json_decref(d);
    return 0;
}

/* Adds the creator names and the title of d to the search dictionary, so that a query naming
 * one of them whole ranks those records first. Names the dictionary refuses (too long, no
 * searchable text) are simply not boosted. */
void relic_dict_add(dq_catalog_t *cat, json_t *d)
{
    dq_search_t *s = dq_catalog_backend(cat)->relics->search_handle(dq_catalog_impl(cat));
    dq_err_t e = {0};
    size_t i;
    json_t *x;
    if (!s)
        return;
    json_array_foreach(json_object_get(d, "creators"), i, x)
    {
        json_t *nm = json_object_get(x, "name");
        if (lang_get(nm, "zh"))
            dq_search_dict_add(s, lang_get(nm, "zh"), &e);
        if (lang_get(nm, "en"))
            dq_search_dict_add(s, lang_get(nm, "en"), &e);
    }
    const char *tz = lang_get(json_object_get(d, "title"), "zh");
    if (tz)
        dq_search_dict_add(s, tz, &e);
}

/* ---------------------------------------------------------------- documents out */

/* {"id":…, <user fields>, "created_at", "updated_at", "version"} from the stored parts. */
void relic_doc_out(dq_buf_t *out, const dq_relic_stored_t *st)
{
    dq_buf_puts(out, "{\"id\":\"");
    dq_buf_json_str(out, st->id, strlen(st->id));
    dq_buf_putc(out, '"');
    if (st->doc_len > 2) {
        dq_buf_putc(out, ',');
        dq_buf_append(out, st->doc + 1, st->doc_len - 2);
    }
    dq_buf_printf(out, ",\"created_at\":\"%s\",\"updated_at\":\"%s\",\"version\":%lld}",
                  st->created_at, st->updated_at, (long long)st->version);
}

/* The audit detail of an update: {"changed": {field: {"old": …, "new": …}}}, top level only. */
char *relic_diff_detail(json_t *old, json_t *new, int64_t version)
{
    json_t *ch = json_object();
    for (size_t i = 0; i < DQ_ARRAY_LEN(doc_fields); i++) {
        json_t *a = json_object_get(old, doc_fields[i]), *b = json_object_get(new, doc_fields[i]);
        if ((a || b) && !(a && b && json_equal(a, b)))
            json_object_set_new(
                ch, doc_fields[i],
                json_pack("{s:O, s:O}", "old", a ? a : json_null(), "new", b ? b : json_null()));
    }
    json_t *det = json_pack("{s:o, s:I}", "changed", ch, "version", (json_int_t)version);
    char *s = json_dumps(det, JSON_COMPACT);
    json_decref(det);
    return s;
}

int relic_id_ok(const char *id, dq_err_t *err)
{
    dq_err_t e = {0};
    if (!id || strlen(id) > 63 || !dq_image_id_valid(id, &e))
        return dq_err_set(err, DQ_EINVAL, 400, "bad relic id"), 0;
    return 1;
}

/* RFC 7396 §2: MergePatch(Target, Patch). Returns a new reference. */
json_t *relic_merge_patch(json_t *target, json_t *patch)
{
    if (!json_is_object(patch))
        return json_deep_copy(patch);
    json_t *t = json_is_object(target) ? json_deep_copy(target) : json_object();
    const char *k;
    json_t *v;
    json_object_foreach(patch, k, v)
    {
        if (json_is_null(v))
            json_object_del(t, k);
        else
            json_object_set_new(t, k, relic_merge_patch(json_object_get(t, k), v));
    }
    return t;
}

int relic_show_restricted(const dq_actor_t *who)
{
    return who && who->role >= DQ_ROLE_VIEWER;
}
