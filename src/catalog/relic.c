/*
 * relic.c: the backend-neutral half of relic records. It owns what a record may be
 * (validation against docs/api.md "The relic document" and the vocabularies below), its
 * canonical form (fixed key order, so that "unchanged" is a byte comparison and a re-import
 * is idempotent), JSON merge patch (RFC 7396), the audit detail of a write (changed top-level
 * fields, old and new), role checks, and the translation of a search request into a plan. It
 * runs every write through the backend's dq_catalog_write so that read-check-write-audit is one
 * transaction; SQL lives in store_sqlite_relic.c. It does not parse CSV (relic_import.c).
 */
#include "catalog/relic_internal.h"
#include "catalog/store.h"
#include "search/search.h"

#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define STR_MAX (64 * 1024) /* any one string field */
#define ARRAY_MAX 200       /* inscriptions, seals, provenance, images */
#define SMALL_ARRAY_MAX 32  /* creators, subjects */
#define DOC_MAX (1024 * 1024)

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
static void fe_add(json_t *fe, const char *path, const char *msg)
{
    if (!json_object_get(fe, path))
        json_object_set_new(fe, path, json_string(msg));
}

static void fe_addf(json_t *fe, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fe_addf(json_t *fe, const char *msg, const char *fmt, ...)
{
    char path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    fe_add(fe, path, msg);
}

/* A bounded string without control characters other than tab and newline: the search layer
 * uses control bytes as token namespaces and snippet markers, so none may come from users. */
static json_t *chk_str(json_t *fe, const char *path, json_t *v, size_t max)
{
    if (!json_is_string(v)) {
        fe_add(fe, path, "must be a string");
        return NULL;
    }
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n > max) {
        fe_add(fe, path, "too long");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
            fe_add(fe, path, "must not contain control characters");
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
        fe_add(fe, path, "must be an object with zh/en");
        return NULL;
    }
    const char *k;
    json_t *x;
    int bad = 0;
    json_object_foreach(v, k, x)
    {
        if (strcmp(k, "zh") && strcmp(k, "en") && strcmp(k, "pinyin")) {
            fe_addf(fe, "unknown language (zh, en, pinyin)", "%s.%.40s", path, k);
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
        fe_add(fe, p, "required (zh or en)");
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
        fe_add(fe, path, "must be an array");
        return NULL;
    }
    if (json_array_size(v) > max) {
        fe_add(fe, path, "too many elements");
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
        fe_add(fe, path, "must be an object");
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
            fe_addf(fe, "unknown field", "%s.%.40s", path, k);
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
                fe_add(fe, p, "required");
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
                fe_add(fe, p, "must be a year (integer)");
            break;
        case 'n':
            if (json_is_number(e) && json_number_value(e) > 0 && json_number_value(e) < 1e6)
                c = json_real(json_number_value(e));
            else
                fe_add(fe, p, "must be a positive number");
            break;
        case 'I': {
            dq_err_t e2 = {0};
            if (json_is_string(e) && dq_image_id_valid(json_string_value(e), &e2))
                c = json_incref(e);
            else
                fe_add(fe, p, "must be an image id ([A-Za-z0-9._-]{1,128})");
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

static json_t *chk_creator(json_t *fe, const char *path, json_t *v)
{
    static const field_t f[] = {{"name", 'l', 1}, {"dates", 's', 0}, {"role", 's', 0}};
    return chk_object(fe, path, v, f, DQ_ARRAY_LEN(f));
}

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

static json_t *chk_subject(json_t *fe, const char *path, json_t *v)
{
    if (!json_is_string(v) || !relic_vocab_has("subjects", json_string_value(v))) {
        fe_add(fe, path, "unknown subject (GET /api/vocab/subjects)");
        return NULL;
    }
    return json_incref(v);
}

/* The document's top-level fields in canonical order. Server fields (id, version, times) are
 * known but never part of the stored user document. */
static const char *const doc_fields[] = {
    "accession",   "title",         "creators",     "dynasty", "date_text",
    "year_from",   "year_to",       "object_type",  "subject", "medium",
    "support",     "dimensions_cm", "inscriptions", "seals",   "provenance",
    "description", "rights",        "restricted",   "school",  "images",
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
static json_t *normalize(json_t *in, json_t *fe)
{
    if (!json_is_object(in)) {
        fe_add(fe, "", "the document must be a JSON object");
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
            fe_addf(fe, "unknown field", "%.60s", k);
    }
    json_t *d = json_object();
    for (size_t i = 0; i < DQ_ARRAY_LEN(doc_fields); i++) {
        const char *f = doc_fields[i];
        json_t *v = json_object_get(in, f), *c = NULL;
        if (!v || json_is_null(v)) {
            if (strcmp(f, "accession") == 0)
                fe_add(fe, "accession", "required");
            else if (strcmp(f, "title") == 0)
                fe_add(fe, "title.zh", "required (zh or en)");
            continue;
        }
        if (strcmp(f, "accession") == 0) {
            c = chk_str(fe, f, v, 128);
            if (c && json_string_length(c) == 0) {
                fe_add(fe, f, "required");
                json_decref(c);
                c = NULL;
            }
        } else if (!strcmp(f, "title") || !strcmp(f, "medium") || !strcmp(f, "description")) {
            c = chk_lang(fe, f, v, strcmp(f, "title") == 0);
        } else if (strcmp(f, "creators") == 0) {
            c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_creator);
        } else if (strcmp(f, "dynasty") == 0 || strcmp(f, "object_type") == 0) {
            const char *voc = f[0] == 'd' ? "dynasties" : "object_types";
            if (json_is_string(v) && relic_vocab_has(voc, json_string_value(v)))
                c = json_incref(v);
            else
                fe_add(fe, f,
                       f[0] == 'd' ? "unknown dynasty (GET /api/vocab/dynasties)"
                                   : "unknown object type (GET /api/vocab/object_types)");
        } else if (strcmp(f, "year_from") == 0 || strcmp(f, "year_to") == 0) {
            if (json_is_integer(v) && json_integer_value(v) >= -5000 &&
                json_integer_value(v) <= 9999)
                c = json_incref(v);
            else
                fe_add(fe, f, "must be a year (integer, -5000..9999)");
        } else if (strcmp(f, "subject") == 0) {
            if (json_is_string(v)) { /* one subject is accepted as a string */
                json_t *a = json_pack("[O]", v);
                c = chk_array(fe, f, a, SMALL_ARRAY_MAX, chk_subject);
                json_decref(a);
            } else {
                c = chk_array(fe, f, v, SMALL_ARRAY_MAX, chk_subject);
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
        } else if (strcmp(f, "restricted") == 0) {
            if (json_is_boolean(v))
                c = json_incref(v);
            else
                fe_add(fe, f, "must be true or false");
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
        fe_add(fe, "year_from", "must be <= year_to");
    if (json_object_size(fe) > 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* Canonical text of a user document: compact, in the insertion order normalize() built. */
static char *doc_text(json_t *d)
{
    return json_dumps(d, JSON_COMPACT | JSON_REAL_PRECISION(10));
}

/* ---------------------------------------------------------------- row extraction */

typedef struct {
    dq_relic_row_t row;
    const char *subj[SMALL_ARRAY_MAX], *cr[SMALL_ARRAY_MAX], *cr_en[SMALL_ARRAY_MAX];
    dq_relic_link_t links[ARRAY_MAX];
    dq_buf_t title, creators, body, desc;
    char *doc;
} row_build_t;

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
static void row_build(row_build_t *rb, json_t *d, const char *id, int64_t version)
{
    dq_relic_row_t *r = &rb->row;
    memset(r, 0, sizeof(*r));
    r->id = id;
    r->version = version;
    r->accession = json_string_value(json_object_get(d, "accession"));
    free(rb->doc);
    rb->doc = doc_text(d);
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
    r->sort_title = lang_get(title, "zh") ? lang_get(title, "zh") : lang_get(title, "en");
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
    /* body: everything else worth finding, vocabulary labels included, so that 山水 and
     * "landscape" find landscapes and 北宋 finds the Northern Song. */
    dq_buf_reset(&rb->body);
    put_sp(&rb->body, r->accession);
    put_label(&rb->body, dynasties, DQ_ARRAY_LEN(dynasties), r->dynasty);
    put_label(&rb->body, object_types, DQ_ARRAY_LEN(object_types), r->object_type);
    json_array_foreach(json_object_get(d, "subject"), i, x)
        put_label(&rb->body, subjects, DQ_ARRAY_LEN(subjects), json_string_value(x));
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
    dq_buf_reset(&rb->desc);
    put_lang(&rb->desc, json_object_get(d, "description"));
    r->fts_title = rb->title.data ? rb->title.data : "";
    r->fts_creators = rb->creators.data ? rb->creators.data : "";
    r->fts_body = rb->body.data ? rb->body.data : "";
    r->fts_description = rb->desc.data ? rb->desc.data : "";
}

static void row_free(row_build_t *rb)
{
    dq_buf_free(&rb->title);
    dq_buf_free(&rb->creators);
    dq_buf_free(&rb->body);
    dq_buf_free(&rb->desc);
    free(rb->doc);
    rb->doc = NULL;
}

/* Adds the creator names and the title of d to the search dictionary, so that a query naming
 * one of them whole ranks those records first. Names the dictionary refuses (too long, no
 * searchable text) are simply not boosted. */
static void dict_add_doc(dq_catalog_t *cat, json_t *d)
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
static void doc_out(dq_buf_t *out, const dq_relic_stored_t *st)
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
static char *diff_detail(json_t *old, json_t *new, int64_t version)
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

static int need_curator(const dq_actor_t *who, dq_err_t *err)
{
    if (!who || who->role < DQ_ROLE_CURATOR)
        return dq_err_set(err, DQ_EINVAL, 403, "editing records needs the curator role");
    return 0;
}

static const char *who_name(const dq_actor_t *who)
{
    return who && who->user[0] ? who->user : "anonymous";
}

static int relic_id_ok(const char *id, dq_err_t *err)
{
    dq_err_t e = {0};
    if (!id || strlen(id) > 63 || !dq_image_id_valid(id, &e))
        return dq_err_set(err, DQ_EINVAL, 400, "bad relic id"), 0;
    return 1;
}

/* ---------------------------------------------------------------- writes */

enum { W_CREATE, W_REPLACE, W_PATCH, W_DELETE, W_IMAGES };

typedef struct {
    dq_catalog_t *cat;
    int kind;
    const char *id;
    int64_t if_version;
    const dq_actor_t *who;
    json_t *input;   /* parsed body (owned by the caller) */
    json_t *fe;      /* field errors */
    dq_buf_t *out;   /* stored document */
    json_t *written; /* the canonical doc that was written (for the dictionary) */
    int lenient_images;
} write_t;

/* RFC 7396 §2: MergePatch(Target, Patch). Returns a new reference. */
static json_t *merge_patch(json_t *target, json_t *patch)
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
            json_object_set_new(t, k, merge_patch(json_object_get(t, k), v));
    }
    return t;
}

/* Checks that every linked image exists (inside the transaction, so that a concurrent image
 * delete cannot slip between check and write). Lenient: drops unknown links instead. */
static int check_links(write_t *w, dq_store_txn_t *txn, json_t *d, dq_err_t *err)
{
    json_t *imgs = json_object_get(d, "images");
    for (size_t i = 0; i < json_array_size(imgs);) {
        const char *iid = json_string_value(json_object_get(json_array_get(imgs, i), "image_id"));
        int r = dq_catalog_backend(w->cat)->relics->image_exists(txn, iid, err);
        if (r < 0)
            return -1;
        if (r == 0 && w->lenient_images) {
            json_array_remove(imgs, i);
            continue;
        }
        if (r == 0)
            fe_addf(w->fe, "unknown image", "images[%zu].image_id", i);
        i++;
    }
    if (imgs && json_array_size(imgs) == 0 && w->lenient_images)
        json_object_del(d, "images");
    return 0;
}

static int fail_invalid(write_t *w, dq_err_t *err)
{
    void *it = json_object_iter(w->fe);
    const char *first = it ? json_object_iter_key(it) : "";
    json_t *v = it ? json_object_iter_value(it) : NULL;
    return dq_err_set(err, DQ_EINVAL, 422, "invalid document (%s: %s)", first,
                      json_string_value(v) ? json_string_value(v) : "");
}

static int write_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_relic_ops *ops = dq_catalog_backend(w->cat)->relics;
    const dq_store_audit_ops *audit = dq_catalog_backend(w->cat)->audit;
    dq_relic_stored_t cur = {0};
    json_t *old = NULL, *next = NULL;
    row_build_t rb = {0};
    char *detail = NULL, *old_text = NULL;
    char newid[64];
    int rc = -1;
    int exists = 0;

    if (w->kind != W_CREATE) {
        int r = ops->load(txn, w->id, NULL, &cur, err);
        if (r < 0)
            goto out;
        if (r == 1) {
            dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", w->id);
            goto out;
        }
        exists = 1;
        old = json_loadb(cur.doc, cur.doc_len, 0, NULL);
        if (!old) {
            dq_err_set(err, DQ_EINTERNAL, 500, "relic '%s': stored document is not JSON", w->id);
            goto out;
        }
        if (w->if_version >= 0 && w->if_version != cur.version) {
            dq_err_set(err, DQ_EEXIST, 412, "relic '%s' is at version %lld, not %lld", w->id,
                       (long long)cur.version, (long long)w->if_version);
            goto out;
        }
    }
    if (w->kind == W_DELETE) {
        char *det = dq_xasprintf("{\"version\":%lld,\"accession\":", (long long)cur.version);
        dq_buf_t b = {0};
        dq_buf_puts(&b, det);
        free(det);
        json_t *acc = json_object_get(old, "accession");
        char *a = json_dumps(acc, JSON_ENCODE_ANY);
        dq_buf_puts(&b, a ? a : "null");
        free(a);
        dq_buf_putc(&b, '}');
        rc = ops->remove(txn, w->id, err) < 0 ||
                     audit->append(txn, who_name(w->who), "relic.delete", w->id, b.data, err) < 0
                 ? -1
                 : 0;
        dq_buf_free(&b);
        goto out;
    }

    /* The candidate document. */
    json_t *cand = NULL;
    if (w->kind == W_CREATE || w->kind == W_REPLACE) {
        cand = json_incref(w->input);
        if (w->kind == W_REPLACE) {
            json_t *iid = json_object_get(cand, "id");
            if (iid && !(json_is_string(iid) && strcmp(json_string_value(iid), w->id) == 0))
                fe_add(w->fe, "id", "does not match the URL");
            /* A replace that says nothing about images keeps the links (they have their own
             * endpoint); deep copy so that the caller's document is not modified. */
            if (!json_object_get(cand, "images") && json_object_get(old, "images")) {
                json_t *c2 = json_deep_copy(cand);
                json_decref(cand);
                cand = c2;
                json_object_set(cand, "images", json_object_get(old, "images"));
            }
        }
    } else if (w->kind == W_PATCH) {
        if (!json_is_object(w->input)) {
            fe_add(w->fe, "", "a merge patch must be a JSON object");
        } else {
            json_t *iid = json_object_get(w->input, "id");
            if (iid && !(json_is_string(iid) && strcmp(json_string_value(iid), w->id) == 0))
                fe_add(w->fe, "id", "read-only");
            cand = merge_patch(old, w->input);
        }
    } else { /* W_IMAGES */
        cand = json_deep_copy(old);
        json_object_set(cand, "images", w->input);
        if (json_is_array(w->input) && json_array_size(w->input) == 0)
            json_object_del(cand, "images");
    }
    if (json_object_size(w->fe) == 0) {
        next = normalize(cand, w->fe);
        if (next && check_links(w, txn, next, err) < 0) {
            json_decref(cand);
            goto out;
        }
    }
    json_decref(cand);
    if (json_object_size(w->fe) > 0) {
        fail_invalid(w, err);
        goto out;
    }

    if (w->kind == W_CREATE) {
        json_t *iid = json_object_get(w->input, "id");
        if (iid) {
            if (!json_is_string(iid) || !relic_id_ok(json_string_value(iid), err)) {
                fe_add(w->fe, "id", "must match [A-Za-z0-9._-]{1,63}");
                fail_invalid(w, err);
                goto out;
            }
            snprintf(newid, sizeof(newid), "%s", json_string_value(iid));
        } else {
            char nid[32];
            if (ops->new_id(txn, nid, err) < 0)
                goto out;
            snprintf(newid, sizeof(newid), "%s", nid);
        }
        row_build(&rb, next, newid, 1);
    } else {
        row_build(&rb, next, w->id, cur.version + 1);
        old_text = dq_xstrndup(cur.doc, cur.doc_len);
        if (strcmp(old_text, rb.doc) == 0) { /* nothing changed: no new version, no audit */
            doc_out(w->out, &cur);
            rc = 0;
            goto out;
        }
    }
    if (ops->save(txn, &rb.row, err) < 0)
        goto out;
    if (w->kind == W_CREATE) {
        detail = dq_xasprintf("{\"accession\":%s}", "null");
        json_t *det = json_pack("{s:O}", "accession", json_object_get(next, "accession"));
        free(detail);
        detail = json_dumps(det, JSON_COMPACT);
        json_decref(det);
    } else {
        detail = diff_detail(old, next, cur.version + 1);
    }
    static const char *const actions[] = {"relic.create", "relic.replace", "relic.patch", "",
                                          "relic.images"};
    if (audit->append(txn, who_name(w->who), actions[w->kind], rb.row.id, detail, err) < 0)
        goto out;
    dq_relic_stored_t st = {0};
    int r = ops->load(txn, rb.row.id, NULL, &st, err);
    if (r != 0) {
        if (r == 1)
            dq_err_set(err, DQ_EINTERNAL, 500, "relic vanished after save");
        goto out;
    }
    doc_out(w->out, &st);
    w->written = json_incref(next);
    (void)exists;
    rc = 0;
out:
    json_decref(old);
    json_decref(next);
    row_free(&rb);
    free(detail);
    free(old_text);
    return rc;
}

static int run_write(dq_catalog_t *cat, int kind, const char *id, const char *json, size_t len,
                     int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                     dq_buf_t *field_errors, dq_err_t *err)
{
    write_t w = {.cat = cat, .kind = kind, .id = id, .if_version = if_version, .who = who};
    dq_buf_t sink = {0};
    int rc = -1;
    w.fe = json_object();
    w.out = out ? out : &sink;
    if (need_curator(who, err) < 0)
        goto out;
    if (kind != W_CREATE && !relic_id_ok(id, err)) {
        err->code = DQ_ENOTFOUND; /* an id that cannot exist does not exist */
        err->http_status = 404;
        goto out;
    }
    if (kind != W_DELETE) {
        if (len > DOC_MAX) {
            dq_err_set(err, DQ_ELIMIT, 413, "document larger than %d bytes", DOC_MAX);
            goto out;
        }
        json_error_t je;
        w.input = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je);
        if (!w.input) {
            dq_err_set(err, DQ_EINVAL, 400, "not JSON: %s (line %d)", je.text, je.line);
            goto out;
        }
    }
    rc = dq_catalog_write(cat, write_txn, &w, err);
    if (rc == 0 && w.written)
        dict_add_doc(cat, w.written);
out:
    if (rc < 0 && field_errors && json_object_size(w.fe) > 0) {
        char *s = json_dumps(w.fe, JSON_COMPACT);
        dq_buf_puts(field_errors, s);
        free(s);
    }
    json_decref(w.fe);
    json_decref(w.input);
    json_decref(w.written);
    dq_buf_free(&sink);
    return rc;
}

int dq_catalog_relic_create(dq_catalog_t *cat, const char *json, size_t len, const dq_actor_t *who,
                            dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_CREATE, NULL, json, len, -1, who, out, field_errors, err);
}

int dq_catalog_relic_replace(dq_catalog_t *cat, const char *id, const char *json, size_t len,
                             int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                             dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_REPLACE, id, json, len, if_version, who, out, field_errors, err);
}

int dq_catalog_relic_patch(dq_catalog_t *cat, const char *id, const char *merge_patch_text,
                           size_t len, int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                           dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_PATCH, id, merge_patch_text, len, if_version, who, out, field_errors,
                     err);
}

int dq_catalog_relic_delete(dq_catalog_t *cat, const char *id, int64_t if_version,
                            const dq_actor_t *who, dq_err_t *err)
{
    return run_write(cat, W_DELETE, id, NULL, 0, if_version, who, NULL, NULL, err);
}

int dq_catalog_relic_set_images(dq_catalog_t *cat, const char *id, const char *json_array,
                                size_t len, int64_t if_version, const dq_actor_t *who,
                                dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_IMAGES, id, json_array, len, if_version, who, out, field_errors, err);
}

/* ---------------------------------------------------------------- reads */

static int show_restricted(const dq_actor_t *who)
{
    return who && who->role >= DQ_ROLE_VIEWER;
}

int dq_catalog_relic_get(dq_catalog_t *cat, const char *id, const dq_actor_t *who, dq_buf_t *out,
                         int64_t *version, dq_err_t *err)
{
    dq_relic_stored_t st = {0};
    dq_buf_t doc = {0};
    int rc = -1;
    if (!relic_id_ok(id, err)) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%.64s'", id ? id : "");
        goto out;
    }
    if (dq_catalog_backend(cat)->relics->get(dq_catalog_impl(cat), id, &st, &doc, err) < 0)
        goto out;
    st.doc = doc.data;
    st.doc_len = doc.len;
    if (!show_restricted(who)) {
        json_t *d = json_loadb(doc.data, doc.len, 0, NULL);
        int hidden = json_is_true(json_object_get(d, "restricted"));
        json_decref(d);
        if (hidden) { /* indistinguishable from a missing record (docs/api.md "Roles") */
            dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", id);
            goto out;
        }
    }
    if (out)
        doc_out(out, &st);
    if (version)
        *version = st.version;
    rc = 0;
out:
    dq_buf_free(&doc);
    return rc;
}

/* ---------------------------------------------------------------- search */

/* Cursors are "<sort letter>~<key>~<rowid>": d/D date (year), a accession (hex of the
 * accession, so that any text survives a URL), r relevance (offset~snapshot seq: see
 * store_sqlite_relic.c for why relevance is not a keyset). URL-safe, opaque to
 * clients, and checked strictly when they come back. */
void dq_relic_cursor_encode(dq_buf_t *out, int sort, double num, const char *str, int64_t rowid)
{
    static const char letters[] = "rdDa";
    dq_buf_putc(out, letters[sort]);
    dq_buf_putc(out, '~');
    if (sort == DQ_RELIC_SORT_ACCESSION) {
        for (const unsigned char *p = (const unsigned char *)str; *p; p++)
            dq_buf_printf(out, "%02x", *p);
    } else {
        dq_buf_printf(out, "%lld", (long long)num);
    }
    dq_buf_printf(out, "~%lld", (long long)rowid);
}

static int cursor_decode(const char *c, dq_relic_plan_t *p, char **str, dq_err_t *err)
{
    static const char letters[] = "rdDa";
    const char *t1 = strchr(c, '~'), *t2 = t1 ? strchr(t1 + 1, '~') : NULL;
    if (!t1 || !t2 || t1 != c + 1 || strchr(letters, c[0]) == NULL || !c[0])
        goto bad;
    int sort = (int)(strchr(letters, c[0]) - letters);
    if (sort != p->sort)
        return dq_err_set(err, DQ_EINVAL, 400, "cursor belongs to another sort order");
    uint64_t rowid;
    if (dq_str_to_u64(t2 + 1, strlen(t2 + 1), &rowid) < 0 || rowid > INT64_MAX)
        goto bad;
    p->cursor_rowid = (int64_t)rowid;
    size_t klen = (size_t)(t2 - t1 - 1);
    const char *k = t1 + 1;
    if (sort == DQ_RELIC_SORT_ACCESSION) {
        if (klen % 2 || klen > 512)
            goto bad;
        char *s = dq_xmalloc(klen / 2 + 1);
        for (size_t i = 0; i < klen / 2; i++) {
            unsigned v;
            if (sscanf(k + 2 * i, "%2x", &v) != 1) {
                free(s);
                goto bad;
            }
            s[i] = (char)v;
        }
        s[klen / 2] = '\0';
        *str = s;
        p->cursor_str = s;
    } else {
        char tmp[64];
        if (klen == 0 || klen >= sizeof(tmp))
            goto bad;
        memcpy(tmp, k, klen);
        tmp[klen] = '\0';
        char *end;
        p->cursor_num = strtod(tmp, &end);
        if (*end || !isfinite(p->cursor_num))
            goto bad;
    }
    p->has_cursor = 1;
    return 0;
bad:
    return dq_err_set(err, DQ_EINVAL, 400, "bad cursor");
}

int dq_catalog_relic_warm(dq_catalog_t *cat, dq_err_t *err)
{
    const dq_store_relic_ops *ops = dq_catalog_backend(cat)->relics;
    return ops->warm ? ops->warm(dq_catalog_impl(cat), err) : 0;
}

int dq_catalog_relic_search(dq_catalog_t *cat, const dq_relic_query_t *q, const dq_actor_t *who,
                            dq_buf_t *out, dq_err_t *err)
{
    dq_relic_plan_t p = {0};
    dq_search_plan_t sp = {0};
    char *cstr = NULL;
    int rc = -1;
    int has_q = q->q && *q->q;
    const char *sort = q->sort && *q->sort ? q->sort : (has_q ? "relevance" : "accession");
    if (strcmp(sort, "relevance") == 0 && has_q)
        p.sort = DQ_RELIC_SORT_RELEVANCE;
    else if (strcmp(sort, "relevance") == 0)
        p.sort = DQ_RELIC_SORT_ACCESSION; /* nothing to be relevant to */
    else if (strcmp(sort, "date") == 0)
        p.sort = DQ_RELIC_SORT_DATE;
    else if (strcmp(sort, "-date") == 0)
        p.sort = DQ_RELIC_SORT_DATE_DESC;
    else if (strcmp(sort, "accession") == 0)
        p.sort = DQ_RELIC_SORT_ACCESSION;
    else {
        dq_err_set(err, DQ_EINVAL, 400, "sort must be relevance, date, -date or accession");
        goto out;
    }
    p.limit = q->limit ? q->limit : 24;
    if (p.limit < 1 || p.limit > 100) {
        dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..100");
        goto out;
    }
    if (q->has_images < -1 || q->has_images > 1) {
        dq_err_set(err, DQ_EINVAL, 400, "has_images must be 0 or 1");
        goto out;
    }
    if (q->year_from != INT_MIN && q->year_to != INT_MAX && q->year_from > q->year_to) {
        dq_err_set(err, DQ_EINVAL, 400, "year_from must be <= year_to");
        goto out;
    }
    if (q->lang && *q->lang && strcmp(q->lang, "zh") != 0 && strcmp(q->lang, "en") != 0) {
        dq_err_set(err, DQ_EINVAL, 400, "lang must be zh or en");
        goto out;
    }
    p.lang_en = q->lang && strcmp(q->lang, "en") == 0;
    if (has_q) {
        dq_search_t *s = dq_catalog_backend(cat)->relics->search_handle(dq_catalog_impl(cat));
        if (dq_search_query_plan(s, q->q, &sp, err) < 0) {
            err->http_status = 400;
            goto out;
        }
        p.match = sp.match.data;
        p.boost = sp.boost.len ? sp.boost.data : NULL;
    }
    if (q->cursor && *q->cursor && cursor_decode(q->cursor, &p, &cstr, err) < 0)
        goto out;
    rc = dq_catalog_backend(cat)->relics->search(dq_catalog_impl(cat), q, &p, show_restricted(who), out,
                                           err);
out:
    dq_search_plan_free(&sp);
    free(cstr);
    return rc;
}

/* ---------------------------------------------------------------- import batches */

typedef struct {
    dq_catalog_t *cat;
    relic_import_row_t *rows;
    json_t **norm; /* canonical docs of the rows that passed validation (NULL: failed) */
    int n;
    const dq_actor_t *who;
    int dry_run;
    dq_import_error_fn on_error;
    void *ud;
    dq_import_stats_t *st;
    int *written; /* 1 per row that was inserted or updated (dictionary) */
} batch_t;

static void report_fe(batch_t *b, long line, json_t *fe)
{
    dq_buf_t msg = {0};
    const char *k;
    json_t *v;
    json_object_foreach(fe, k, v)
    {
        if (msg.len)
            dq_buf_puts(&msg, "; ");
        dq_buf_printf(&msg, "%s: %s", *k ? k : "document", json_string_value(v));
    }
    if (b->on_error)
        b->on_error(b->ud, line, msg.data ? msg.data : "invalid");
    b->st->failed++;
    dq_buf_free(&msg);
}

static int batch_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    batch_t *b = ud;
    const dq_store_relic_ops *ops = dq_catalog_backend(b->cat)->relics;
    const dq_store_audit_ops *audit = dq_catalog_backend(b->cat)->audit;
    row_build_t rb = {0};
    json_t *old = NULL;
    char *detail = NULL;
    int rc = -1;
    for (int i = 0; i < b->n; i++) {
        json_t *d = b->norm[i];
        if (!d)
            continue;
        json_t *fe = json_object();
        write_t w = {.cat = b->cat, .fe = fe, .lenient_images = b->rows[i].lenient_images};
        if (check_links(&w, txn, d, err) < 0) {
            json_decref(fe);
            goto out;
        }
        if (json_object_size(fe) > 0) {
            report_fe(b, b->rows[i].line, fe);
            json_decref(fe);
            continue;
        }
        json_decref(fe);
        dq_relic_stored_t cur = {0};
        const char *acc = json_string_value(json_object_get(d, "accession"));
        int r = ops->load(txn, NULL, acc, &cur, err);
        if (r < 0)
            goto out;
        dq_err_t rerr = {0};
        if (r == 0) {
            json_decref(old);
            old = json_loadb(cur.doc, cur.doc_len, 0, NULL);
            /* Rows without images keep the links made since (by the API or an earlier
             * import), so that re-importing the same metadata is a no-op. */
            if (!json_object_get(d, "images") && json_object_get(old, "images"))
                json_object_set(d, "images", json_object_get(old, "images"));
            json_t *iid = json_object_get(b->rows[i].doc, "id");
            if (iid && strcmp(json_string_value(iid) ? json_string_value(iid) : "", cur.id)) {
                if (b->on_error)
                    b->on_error(b->ud, b->rows[i].line, "id: accession belongs to another id");
                b->st->failed++;
                continue;
            }
            char id[64];
            snprintf(id, sizeof(id), "%s", cur.id);
            int64_t v = cur.version;
            char *txt = doc_text(d);
            int same = strlen(txt) == cur.doc_len && memcmp(txt, cur.doc, cur.doc_len) == 0;
            free(txt);
            if (same) {
                b->st->unchanged++;
                continue;
            }
            row_build(&rb, d, id, v + 1);
            if (!b->dry_run) {
                if (ops->save(txn, &rb.row, &rerr) < 0)
                    goto row_failed;
                free(detail);
                detail = diff_detail(old, d, v + 1);
                if (audit->append(txn, who_name(b->who), "relic.import", id, detail, err) < 0)
                    goto out;
            }
            b->st->updated++;
            b->written[i] = 1;
            continue;
        }
        char id[64];
        json_t *iid = json_object_get(b->rows[i].doc, "id");
        if (iid) {
            if (!json_is_string(iid) || !relic_id_ok(json_string_value(iid), &rerr)) {
                dq_err_set(&rerr, DQ_EINVAL, 422, "id: must match [A-Za-z0-9._-]{1,63}");
                goto row_failed;
            }
            snprintf(id, sizeof(id), "%s", json_string_value(iid));
        } else {
            char nid[32];
            if (ops->new_id(txn, nid, err) < 0)
                goto out;
            snprintf(id, sizeof(id), "%s", nid);
        }
        row_build(&rb, d, id, 1);
        if (!b->dry_run) {
            if (ops->save(txn, &rb.row, &rerr) < 0)
                goto row_failed;
            json_t *det = json_pack("{s:s, s:b}", "accession", acc, "import", 1);
            free(detail);
            detail = json_dumps(det, JSON_COMPACT);
            json_decref(det);
            if (audit->append(txn, who_name(b->who), "relic.create", id, detail, err) < 0)
                goto out;
        }
        b->st->inserted++;
        b->written[i] = 1;
        continue;
    row_failed:
        if (rerr.code == DQ_EIO || rerr.code == DQ_EINTERNAL) {
            *err = rerr;
            goto out;
        }
        if (b->on_error)
            b->on_error(b->ud, b->rows[i].line, rerr.msg);
        b->st->failed++;
    }
    rc = 0;
    if (b->dry_run) { /* roll back whatever the id allocation touched */
        dq_err_set(err, DQ_OK, 0, "dry run");
        rc = -1;
    }
out:
    json_decref(old);
    row_free(&rb);
    free(detail);
    return rc;
}

int relic_import_batch(dq_catalog_t *cat, relic_import_row_t *rows, int n, const dq_actor_t *who,
                       int dry_run, dq_import_error_fn on_error, void *ud, dq_import_stats_t *st,
                       dq_err_t *err)
{
    batch_t b = {.cat = cat,
                 .rows = rows,
                 .n = n,
                 .who = who,
                 .dry_run = dry_run,
                 .on_error = on_error,
                 .ud = ud,
                 .st = st};
    int rc = -1;
    dq_import_stats_t saved = *st;
    b.norm = dq_xcalloc((size_t)n ? (size_t)n : 1, sizeof(*b.norm));
    b.written = dq_xcalloc((size_t)n ? (size_t)n : 1, sizeof(*b.written));
    for (int i = 0; i < n; i++) {
        json_t *fe = json_object();
        b.norm[i] = normalize(rows[i].doc, fe);
        if (!b.norm[i])
            report_fe(&b, rows[i].line, fe);
        json_decref(fe);
    }
    saved.failed = st->failed;
    if (dq_catalog_write(cat, batch_txn, &b, err) < 0 &&
        !(dry_run && err->code == DQ_OK)) {
        /* The whole batch rolled back: its counts must not claim otherwise. */
        *st = saved;
        goto out;
    }
    dq_err_clear(err);
    if (!dry_run)
        for (int i = 0; i < n; i++)
            if (b.written[i])
                dict_add_doc(cat, b.norm[i]);
    rc = 0;
out:
    for (int i = 0; i < n; i++) {
        json_decref(b.norm[i]);
        json_decref(rows[i].doc);
        rows[i].doc = NULL;
    }
    free(b.norm);
    free(b.written);
    return rc;
}
