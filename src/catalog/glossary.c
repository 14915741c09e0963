/*
 * glossary.c: the glossary of motifs and techniques (issue 17), the logic behind catalog.h
 * "glossary": validation of entries (bilingual term and definition, category, aliases,
 * pinyin, cross references), the access rules (educators and above create; the author or a
 * curator and above change), search (through the backend's full-text index, planned by
 * search/ like every other search), the starter-glossary import, and the examples of an
 * entry: annotations across the collection whose text uses its term, as the caller may see
 * them. Each write is one transaction of the backend's row primitives with its audit row.
 */
#include "catalog.h"
#include "store.h"
#include "teach_internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ALIASES 16
#define MAX_ALIAS_BYTES 64
#define MAX_EXAMPLES 12
#define MAX_IMPORT 2000

static const char *const categories[] = {"motif",  "technique", "composition",
                                         "format", "mark",      "material"};

/* ---------------------------------------------------------------- validation */

static int key_ok(const char *k)
{
    size_t n = k ? strlen(k) : 0;
    if (n == 0 || n > 63 || k[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((k[i] >= 'a' && k[i] <= 'z') || (k[i] >= '0' && k[i] <= '9') || k[i] == '-'))
            return 0;
    return 1;
}

/* A list of 0..16 short one-line strings (or keys when keys is set) at path. */
static json_t *string_list(const json_t *v, const char *path, int keys, json_t *fe)
{
    json_t *out = json_array();
    if (!v)
        return out;
    if (!json_is_array(v) || json_array_size(v) > MAX_ALIASES) {
        dq_teach_fe(fe, path, "must be a list of at most 16 strings");
        return out;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e)
    {
        const char *s = json_string_value(e);
        if (keys ? !key_ok(s)
                 : (!s || !*s || strlen(s) > MAX_ALIAS_BYTES || strchr(s, '\n') ||
                    !dq_teach_text_clean(s)))
            dq_teach_fef(fe, keys ? "must be an entry key [a-z0-9-]" : "1 to 64 bytes, one line",
                         "%s[%d]", path, (int)i);
        else
            json_array_append_new(out, json_string(s));
    }
    return out;
}

/* Validates an entry at prefix ("" or "[3]."); fills *key_out (64 bytes), *doc_out (the
 * canonical user part, new reference) and fts (the searchable text). Errors go to fe. */
static void entry_parse(const json_t *j, const char *prefix, char key_out[64], json_t **doc_out,
                        dq_buf_t *fts, json_t *fe)
{
    static const char *const known[] = {"key",        "category", "term",    "pinyin",
                                        "aliases",    "definition", "see_also", "author",
                                        "created_at", "updated_at", "version",  "examples"};
    char p[96];
    *doc_out = NULL;
    key_out[0] = '\0';
    if (!json_is_object(j)) {
        dq_teach_fef(fe, "must be an object {key, term, definition, ...}", "%.*s",
                     (int)(strlen(prefix) ? strlen(prefix) - 1 : 0), prefix);
        return;
    }
    dq_teach_unknown_fields(j, prefix, known, DQ_ARRAY_LEN(known), fe);
    json_t *doc = json_object();
    const char *key = json_string_value(json_object_get(j, "key"));
    snprintf(p, sizeof(p), "%skey", prefix);
    if (!key_ok(key))
        dq_teach_fe(fe, p, "required: 1 to 63 of a-z, 0-9 and '-' (e.g. three-distances)");
    else
        snprintf(key_out, 64, "%s", key);
    const char *cat = json_string_value(json_object_get(j, "category"));
    int ci = -1;
    for (int i = 0; cat && i < (int)DQ_ARRAY_LEN(categories); i++)
        if (strcmp(cat, categories[i]) == 0)
            ci = i;
    snprintf(p, sizeof(p), "%scategory", prefix);
    if (ci < 0)
        dq_teach_fe(fe, p, "must be motif, technique, composition, format, mark or material");
    else
        json_object_set_new(doc, "category", json_string(cat));
    snprintf(p, sizeof(p), "%sterm", prefix);
    json_t *term = dq_teach_lang_map(json_object_get(j, "term"), p, 2, DQ_TEACH_MAX_TITLE, fe);
    if (term)
        json_object_set_new(doc, "term", term);
    const json_t *py = json_object_get(j, "pinyin");
    snprintf(p, sizeof(p), "%spinyin", prefix);
    if (py && (!json_is_string(py) || json_string_length(py) > MAX_ALIAS_BYTES ||
               !dq_teach_text_clean(json_string_value(py))))
        dq_teach_fe(fe, p, "must be a line of at most 64 bytes");
    else if (py && json_string_length(py))
        json_object_set_new(doc, "pinyin", json_string(json_string_value(py)));
    snprintf(p, sizeof(p), "%saliases", prefix);
    json_t *al = string_list(json_object_get(j, "aliases"), p, 0, fe);
    json_object_set_new(doc, "aliases", al);
    snprintf(p, sizeof(p), "%sdefinition", prefix);
    json_t *def =
        dq_teach_lang_map(json_object_get(j, "definition"), p, 1, DQ_TEACH_MAX_TEXT, fe);
    if (def)
        json_object_set_new(doc, "definition", def);
    snprintf(p, sizeof(p), "%ssee_also", prefix);
    json_object_set_new(doc, "see_also", string_list(json_object_get(j, "see_also"), p, 1, fe));
    /* The searchable text: terms and aliases first (the ranking weighs short matches), then
     * pinyin and the definitions. */
    dq_buf_reset(fts);
    const char *parts[] = {json_string_value(json_object_get(term, "zh")),
                           json_string_value(json_object_get(term, "en")),
                           json_string_value(json_object_get(doc, "pinyin")),
                           json_string_value(json_object_get(def, "zh")),
                           json_string_value(json_object_get(def, "en"))};
    for (size_t i = 0; i < DQ_ARRAY_LEN(parts); i++) {
        if (!parts[i])
            continue;
        if (fts->len)
            dq_buf_putc(fts, '\n');
        dq_buf_puts(fts, parts[i]);
        if (i == 1) {
            size_t k;
            json_t *e;
            json_array_foreach(al, k, e)
            {
                dq_buf_putc(fts, '\n');
                dq_buf_puts(fts, json_string_value(e));
            }
        }
    }
    *doc_out = doc;
}

/* ---------------------------------------------------------------- transactions */

enum { W_INSERT, W_UPDATE, W_DELETE };

/* One or more glossary writes in one transaction, each with its audit row. */
typedef struct {
    int kind;
    dq_gloss_row_t *row; /* insert, update */
    const char *key;     /* delete */
    int64_t if_version;
} gop_t;

typedef struct {
    const dq_store_backend_t *be;
    gop_t *ops;
    size_t n;
    const char *who;
} write_t;

static int write_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_gloss_ops *o = w->be->glossary;
    static const char *const actions[] = {"glossary.create", "glossary.replace",
                                          "glossary.delete"};
    for (size_t i = 0; i < w->n; i++) {
        gop_t *op = &w->ops[i];
        int r = op->kind == W_INSERT   ? o->insert(t, op->row, err)
                : op->kind == W_UPDATE ? o->update(t, op->row, op->if_version, err)
                                       : o->remove(t, op->key, op->if_version, err);
        if (r > 0)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no glossary entry '%s'",
                              op->row ? op->row->key : op->key);
        if (r < 0) {
            if (err && err->code == DQ_EEXIST && err->http_status == 409)
                dq_err_set(err, DQ_EEXIST, 409, "the glossary has an entry '%s' already",
                           op->row->key);
            return -1;
        }
        char object[96];
        snprintf(object, sizeof(object), "glossary/%s", op->row ? op->row->key : op->key);
        if (w->be->audit->append(t, w->who, actions[op->kind], object, "{}", err) < 0)
            return -1;
    }
    return 0;
}

/* A read: get (key), list/search (q), or the examples of a term (examples). */
typedef struct {
    const dq_store_backend_t *be;
    const char *key, *q;
    int examples;
    int64_t offset, *total;
    int limit;
    dq_gloss_cb cb;
    dq_anno_cb acb;
    void *ud;
} read_t;

static int read_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    const dq_store_gloss_ops *o = r->be->glossary;
    if (r->examples)
        return o->anno_examples(t, r->q, r->limit, r->acb, r->ud, err);
    if (r->key) {
        int rc = o->get(t, r->key, r->cb, r->ud, err);
        if (rc > 0)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no glossary entry '%s'", r->key);
        return rc;
    }
    if (r->q && *r->q)
        return o->search(t, r->q, r->limit, r->cb, r->ud, err);
    return o->list(t, r->offset, r->limit, r->cb, r->ud, r->total, err);
}

/* ---------------------------------------------------------------- entries out */

/* The entry doc of row: key first, the user part, then the server fields. New reference. */
static json_t *entry_json(const dq_gloss_row_t *row)
{
    json_t *d = json_loads(row->doc ? row->doc : "{}", 0, NULL);
    json_t *o = json_pack("{s:s}", "key", row->key);
    if (json_is_object(d))
        json_object_update(o, d);
    json_object_set_new(o, "author", json_string(row->author));
    json_object_set_new(o, "created_at", json_string(row->created));
    json_object_set_new(o, "updated_at", json_string(row->modified));
    json_object_set_new(o, "version", json_integer(row->version));
    json_decref(d);
    return o;
}

typedef struct {
    json_t *items;
    dq_gloss_row_t one; /* get: a copy with owned doc */
} collect_t;

static int collect_entry(void *ud, const dq_gloss_row_t *row)
{
    collect_t *c = ud;
    if (c->items) {
        json_array_append_new(c->items, entry_json(row));
        return 0;
    }
    c->one = *row;
    c->one.doc = dq_xstrdup(row->doc ? row->doc : "{}");
    c->one.fts = NULL;
    return 1;
}

static int entry_load(dq_catalog_t *cat, const char *key, dq_gloss_row_t *row, dq_err_t *err)
{
    collect_t c = {0};
    if (!key_ok(key))
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no glossary entry '%.64s'", key ? key : "");
    read_t r = {.be = dq_catalog_backend(cat), .key = key, .cb = collect_entry, .ud = &c};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        return -1;
    *row = c.one;
    return 0;
}

/* ---------------------------------------------------------------- examples */

typedef struct {
    json_t *v; /* [{relic_id, annotation, canvas, xywh, text}] */
} examples_t;

static int collect_example(void *ud, const dq_anno_row_t *a, const char *hl)
{
    (void)hl;
    examples_t *e = ud;
    size_t i;
    json_t *x;
    json_array_foreach(e->v, i, x) if (json_integer_value(json_object_get(x, "annotation")) ==
                                       a->id) return 0;
    json_t *bodies = json_loads(a->bodies ? a->bodies : "[]", 0, NULL);
    json_t *text = json_object();
    size_t k;
    json_t *b;
    json_array_foreach(bodies, k, b)
    {
        const char *lang = json_string_value(json_object_get(b, "language"));
        if (lang && !json_object_get(text, lang))
            json_object_set(text, lang, json_object_get(b, "value"));
    }
    json_decref(bodies);
    json_array_append_new(e->v, json_pack("{s:s, s:I, s:i, s:[iiii], s:s, s:o}", "relic_id",
                                          a->relic_id, "annotation", (json_int_t)a->id, "canvas",
                                          a->canvas, "xywh", a->x, a->y, a->w, a->h, "motivation",
                                          a->motivation, "text", text));
    return 0;
}

/* Up to MAX_EXAMPLES annotations that use the entry's terms or its first aliases (each
 * searched alone, so that either language, or a part named by an alias, finds them), on
 * relics who may see. */
static json_t *examples_of(dq_catalog_t *cat, const json_t *entry, const dq_actor_t *who)
{
    examples_t e = {json_array()};
    const json_t *term = json_object_get(entry, "term"), *al = json_object_get(entry, "aliases");
    const char *terms[6] = {json_string_value(json_object_get(term, "zh")),
                            json_string_value(json_object_get(term, "en")),
                            json_string_value(json_array_get(al, 0)),
                            json_string_value(json_array_get(al, 1)),
                            json_string_value(json_array_get(al, 2)),
                            json_string_value(json_array_get(al, 3))};
    for (int i = 0; i < 6; i++) {
        if (!terms[i] || json_array_size(e.v) >= MAX_EXAMPLES)
            continue;
        dq_err_t err = {0};
        read_t r = {.be = dq_catalog_backend(cat), .q = terms[i], .examples = 1,
                    .limit = 4 * MAX_EXAMPLES, .acb = collect_example, .ud = &e};
        /* A term the planner cannot search (punctuation only) simply has no examples. */
        (void)dq_catalog_read(cat, read_txn, &r, &err);
    }
    json_t *out = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(e.v, i, x)
    {
        dq_buf_t b = {0};
        dq_err_t err = {0};
        if (json_array_size(out) < MAX_EXAMPLES &&
            dq_catalog_relic_get(cat, json_string_value(json_object_get(x, "relic_id")), who, &b,
                                 NULL, &err) == 0)
            json_array_append(out, x);
        dq_buf_free(&b);
    }
    json_decref(e.v);
    return out;
}

/* ---------------------------------------------------------------- the API */

/* The author or a curator and above. */
static int may_edit(const dq_actor_t *who, const dq_gloss_row_t *row, dq_err_t *err)
{
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0)
        return -1;
    if (who->role >= DQ_ROLE_CURATOR || strcmp(who->user, row->author) == 0)
        return 0;
    return dq_err_set(err, DQ_EINVAL, 403,
                      "only the entry's author or a curator may change it");
}

/* Parses one entry body; 0 with *doc (new) and row key/fts set, or -1 (400/422). */
static int body_entry(const char *json, size_t len, dq_gloss_row_t *row, json_t **doc,
                      dq_buf_t *fts, dq_buf_t *field_errors, dq_err_t *err)
{
    json_t *j = dq_teach_parse(json, len, err), *fe = NULL;
    int rc = -1;
    if (!j)
        return -1;
    fe = json_object();
    entry_parse(j, "", row->key, doc, fts, fe);
    if (json_object_size(fe)) {
        dq_teach_fail_fields(fe, field_errors, err);
        json_decref(*doc);
        *doc = NULL;
    } else {
        row->fts = fts->data ? fts->data : "";
        rc = 0;
    }
    json_decref(fe);
    json_decref(j);
    return rc;
}

static void entry_out(dq_buf_t *out, const dq_gloss_row_t *row)
{
    json_t *o = entry_json(row);
    dq_teach_dump(out, o);
    json_decref(o);
}

int dq_catalog_gloss_create(dq_catalog_t *cat, const char *json, size_t len,
                            const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                            dq_err_t *err)
{
    dq_gloss_row_t row = {0};
    dq_buf_t fts = {0};
    json_t *doc = NULL;
    char *text = NULL;
    int rc = -1;
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        body_entry(json, len, &row, &doc, &fts, field_errors, err) < 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    snprintf(row.author, sizeof(row.author), "%s", who->user);
    gop_t op = {.kind = W_INSERT, .row = &row};
    write_t w = {.be = dq_catalog_backend(cat), .ops = &op, .n = 1, .who = who->user};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        entry_out(out, &row);
    rc = 0;
out:
    json_decref(doc);
    free(text);
    dq_buf_free(&fts);
    return rc;
}

int dq_catalog_gloss_get(dq_catalog_t *cat, const char *key, const dq_actor_t *who,
                         dq_buf_t *out, int64_t *version, dq_err_t *err)
{
    dq_gloss_row_t row;
    if (entry_load(cat, key, &row, err) < 0)
        return -1;
    if (out) {
        json_t *o = entry_json(&row);
        json_object_set_new(o, "examples", examples_of(cat, o, who));
        dq_teach_dump(out, o);
        json_decref(o);
    }
    if (version)
        *version = row.version;
    free((char *)row.doc);
    return 0;
}

int dq_catalog_gloss_replace(dq_catalog_t *cat, const char *key, const char *json, size_t len,
                             int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                             dq_buf_t *field_errors, dq_err_t *err)
{
    dq_gloss_row_t old = {0}, row = {0};
    dq_buf_t fts = {0};
    json_t *doc = NULL;
    char *text = NULL;
    int rc = -1;
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        entry_load(cat, key, &old, err) < 0)
        goto out;
    if (may_edit(who, &old, err) < 0 ||
        body_entry(json, len, &row, &doc, &fts, field_errors, err) < 0)
        goto out;
    if (strcmp(row.key, old.key) != 0) {
        json_t *fe = json_pack("{s:s}", "key", "does not match the URL (a key never changes)");
        dq_teach_fail_fields(fe, field_errors, err);
        json_decref(fe);
        goto out;
    }
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    gop_t op = {.kind = W_UPDATE, .row = &row, .if_version = if_version};
    write_t w = {.be = dq_catalog_backend(cat), .ops = &op, .n = 1, .who = who->user};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        entry_out(out, &row);
    rc = 0;
out:
    free((char *)old.doc);
    json_decref(doc);
    free(text);
    dq_buf_free(&fts);
    return rc;
}

int dq_catalog_gloss_delete(dq_catalog_t *cat, const char *key, int64_t if_version,
                            const dq_actor_t *who, dq_err_t *err)
{
    dq_gloss_row_t old = {0};
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        entry_load(cat, key, &old, err) < 0)
        return -1;
    free((char *)old.doc);
    if (may_edit(who, &old, err) < 0)
        return -1;
    gop_t op = {.kind = W_DELETE, .key = key, .if_version = if_version};
    write_t w = {.be = dq_catalog_backend(cat), .ops = &op, .n = 1, .who = who->user};
    return dq_catalog_write(cat, write_txn, &w, err);
}

int dq_catalog_gloss_search(dq_catalog_t *cat, const char *q, int64_t offset, int limit,
                            dq_buf_t *out, dq_err_t *err)
{
    if (limit < 1 || limit > 500 || offset < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..500 and offset >= 0");
    if (q && strlen(q) > 200)
        return dq_err_set(err, DQ_EINVAL, 400, "the query is too long (200 bytes at most)");
    collect_t c = {.items = json_array()};
    int64_t total = 0;
    read_t r = {.be = dq_catalog_backend(cat), .q = q, .offset = offset, .limit = limit,
                .total = &total, .cb = collect_entry, .ud = &c};
    int rc = dq_catalog_read(cat, read_txn, &r, err);
    if (rc == 0) {
        if (q && *q)
            total = (int64_t)json_array_size(c.items);
        json_t *o = json_pack("{s:I, s:O}", "total", (json_int_t)total, "items", c.items);
        dq_teach_dump(out, o);
        json_decref(o);
    }
    json_decref(c.items);
    return rc;
}

int dq_catalog_gloss_import(dq_catalog_t *cat, const char *json, size_t len,
                            const dq_actor_t *who, int *created, int *updated,
                            dq_buf_t *field_errors, dq_err_t *err)
{
    json_t *arr = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    json_t *fe = json_object(), *docs = json_array();
    size_t n = json_array_size(arr);
    gop_t *ops = NULL;
    dq_gloss_row_t *rows = NULL;
    dq_buf_t *fts = NULL;
    char **texts = NULL;
    size_t n_ops = 0;
    int rc = -1, nc = 0, nu = 0;
    /* An import replaces entries whoever wrote them: a curator's (or the command line's) act. */
    if (dq_teach_need_role(who, DQ_ROLE_CURATOR, err) < 0)
        goto out;
    if (!json_is_array(arr) || n > MAX_IMPORT) {
        dq_err_set(err, DQ_EINVAL, 400, "a glossary file is a JSON array of at most %d entries",
                   MAX_IMPORT);
        goto out;
    }
    rows = dq_xcalloc(n + 1, sizeof(*rows));
    fts = dq_xcalloc(n + 1, sizeof(*fts));
    texts = dq_xcalloc(n + 1, sizeof(*texts));
    ops = dq_xcalloc(n + 1, sizeof(*ops));
    /* Validate everything first: one bad entry writes none. */
    for (size_t i = 0; i < n; i++) {
        char prefix[24];
        json_t *doc = NULL;
        snprintf(prefix, sizeof(prefix), "[%d].", (int)i);
        entry_parse(json_array_get(arr, i), prefix, rows[i].key, &doc, &fts[i], fe);
        for (size_t k = 0; k < i && rows[i].key[0]; k++)
            if (strcmp(rows[k].key, rows[i].key) == 0)
                dq_teach_fef(fe, "the same key twice in the file", "[%d].key", (int)i);
        json_array_append_new(docs, doc ? doc : json_null());
    }
    if (json_object_size(fe)) {
        dq_teach_fail_fields(fe, field_errors, err);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        dq_gloss_row_t old = {0};
        dq_err_t e = {0};
        texts[i] = json_dumps(json_array_get(docs, i), JSON_COMPACT | JSON_PRESERVE_ORDER);
        rows[i].doc = texts[i];
        rows[i].fts = fts[i].data ? fts[i].data : "";
        snprintf(rows[i].author, sizeof(rows[i].author), "%s", who->user);
        if (entry_load(cat, rows[i].key, &old, &e) == 0) {
            int same = strcmp(old.doc, texts[i]) == 0;
            free((char *)old.doc);
            if (same)
                continue;
            ops[n_ops++] = (gop_t){.kind = W_UPDATE, .row = &rows[i], .if_version = old.version};
            nu++;
        } else if (e.http_status == 404) {
            ops[n_ops++] = (gop_t){.kind = W_INSERT, .row = &rows[i]};
            nc++;
        } else {
            *err = e;
            goto out;
        }
    }
    write_t w = {.be = dq_catalog_backend(cat), .ops = ops, .n = n_ops, .who = who->user};
    if (n_ops && dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (created)
        *created = nc;
    if (updated)
        *updated = nu;
    rc = 0;
out:
    for (size_t i = 0; i < n && fts; i++) {
        dq_buf_free(&fts[i]);
        free(texts[i]);
    }
    free(fts);
    free(texts);
    free(rows);
    free(ops);
    json_decref(docs);
    json_decref(fe);
    json_decref(arr);
    return rc;
}
