/*
 * catalog/style.c: the policy of style analysis (issue 13), above the storage interface:
 * storing embeddings and attribution models (validation, audit rows), joining embeddings to
 * the relics that link their images (labels, titles, restricted flags), and answering
 * similar-works queries from an in-memory flat index (style/index.c) that is rebuilt when the
 * catalog changes. Visibility: a restricted relic's works are never returned to a caller who
 * may not see it, and a query image that belongs only to such relics is 404. Attribution is
 * only ever answered as a suggestion: nothing here writes a relic.
 *
 * The index cache: one snapshot per catalog, stamped with the audit sequence it was built at
 * (every committed write adds an audit row, so an unchanged stamp means unchanged data), shared
 * by queries through a reference count and swapped whole under cache->lock.
 */
#include "catalog.h"
#include "relic_internal.h"
#include "store.h"
#include "style_internal.h"

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "style/style.h"

/* ================================================================ writes */

typedef struct {
    dq_catalog_t *cat;
    const dq_style_row_t *row;
    const char *who, *label, *json, *image_id;
} wr_t;

static int put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wr_t *w = ud;
    const dq_store_backend_t *be = dq_catalog_backend(w->cat);
    dq_image_rec_t rec;
    int r = be->images->get(t, w->row->image_id, &rec, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", w->row->image_id);
    char detail[160];
    snprintf(detail, sizeof(detail), "{\"model\":\"%s\",\"dim\":%d}", w->row->model, w->row->dim);
    if (be->style->put(t, w->row, err) < 0 ||
        be->audit->append(t, w->who ? w->who : "cli", "style.index", w->row->image_id, detail,
                          err) < 0)
        return -1;
    return 0;
}

static int model_ok(const char *m)
{
    if (!m || !*m || strlen(m) > 63)
        return 0;
    for (const char *p = m; *p; p++)
        if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
            return 0;
    return 1;
}

int dq_catalog_style_put(dq_catalog_t *cat, const dq_style_row_t *row, const char *who,
                         dq_err_t *err)
{
    if (!row || !dq_image_id_valid(row->image_id, err))
        return err->code ? -1 : dq_err_set(err, DQ_EINVAL, 400, "style: no row");
    if (row->dim < 1 || row->dim > 4096 || !row->vec || !model_ok(row->model))
        return dq_err_set(err, DQ_EINVAL, 400, "style: bad embedding (dim 1..4096, a model name)");
    wr_t w = {.cat = cat, .row = row, .who = who};
    return dq_catalog_write(cat, put_txn, &w, err);
}

static int remove_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wr_t *w = ud;
    const dq_store_backend_t *be = dq_catalog_backend(w->cat);
    int r = be->style->remove(t, w->image_id, err);
    if (r != 0)
        return r < 0 ? -1 : 1;
    return be->audit->append(t, w->who ? w->who : "cli", "style.remove", w->image_id, NULL, err);
}

int dq_catalog_style_remove(dq_catalog_t *cat, const char *image_id, const char *who,
                            dq_err_t *err)
{
    if (!dq_image_id_valid(image_id, err))
        return -1;
    wr_t w = {.cat = cat, .image_id = image_id, .who = who};
    return dq_catalog_write(cat, remove_txn, &w, err);
}

static int label_ok(const char *label, dq_err_t *err)
{
    if (label && (strcmp(label, "school") == 0 || strcmp(label, "dynasty") == 0))
        return 1;
    dq_err_set(err, DQ_EINVAL, 400, "style: label must be school or dynasty");
    return 0;
}

static int model_put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wr_t *w = ud;
    const dq_store_backend_t *be = dq_catalog_backend(w->cat);
    if (be->style->model_put(t, w->label, w->json, err) < 0)
        return -1;
    char detail[64];
    snprintf(detail, sizeof(detail), "{\"label\":\"%s\"}", w->label);
    return be->audit->append(t, w->who ? w->who : "cli", "style.train", "style/model", detail,
                             err);
}

int dq_catalog_style_model_put(dq_catalog_t *cat, const char *label, const char *json,
                               const char *who, dq_err_t *err)
{
    if (!label_ok(label, err))
        return -1;
    json_t *j = json ? json_loads(json, 0, NULL) : NULL;
    int ok = json_is_object(j);
    json_decref(j);
    if (!ok)
        return dq_err_set(err, DQ_EINVAL, 400, "style: a model is a JSON object");
    wr_t w = {.cat = cat, .label = label, .json = json, .who = who};
    return dq_catalog_write(cat, model_put_txn, &w, err);
}

/* ================================================================ reads */

typedef struct {
    dq_catalog_t *cat;
    const char *image_id, *label;
    int with_vec;
    dq_style_row_cb cb;
    void *ud;
    dq_buf_t *out;
} rd_t;

static int get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    rd_t *r = ud;
    return dq_catalog_backend(r->cat)->style->get(t, r->image_id, r->cb, r->ud, err);
}

int dq_catalog_style_get(dq_catalog_t *cat, const char *image_id, dq_style_row_cb cb, void *ud,
                         dq_err_t *err)
{
    if (!dq_image_id_valid(image_id, err))
        return -1;
    rd_t r = {.cat = cat, .image_id = image_id, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, get_txn, &r, err);
}

static int list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    rd_t *r = ud;
    return dq_catalog_backend(r->cat)->style->list(t, r->with_vec, r->cb, r->ud, err);
}

int dq_catalog_style_list(dq_catalog_t *cat, int with_vec, dq_style_row_cb cb, void *ud,
                          dq_err_t *err)
{
    rd_t r = {.cat = cat, .with_vec = with_vec, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, list_txn, &r, err);
}

static int model_get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    rd_t *r = ud;
    return dq_catalog_backend(r->cat)->style->model_get(t, r->label, r->out, err);
}

int dq_catalog_style_model_get(dq_catalog_t *cat, const char *label, dq_buf_t *out,
                               dq_err_t *err)
{
    if (!label_ok(label, err))
        return -1;
    rd_t r = {.cat = cat, .label = label, .out = out};
    return dq_catalog_read(cat, model_get_txn, &r, err);
}

/* ================================================================ the snapshot */

/* One embedded image and what its relic says; strings owned by the snapshot. */
typedef struct {
    char *image_id, *relic_id, *school, *dynasty, *title_zh, *title_en;
    int year, restricted;
    int derived; /* a restoration, condition capture or change map: not a picture of the work */
    int64_t relic_seq; /* the backend's row number of relic_id (0: none), for colour search */
    float named[16];   /* share of each chromatic named colour (dq_style_colours order) */
    int n_pal;
    float pal[8][4]; /* palette clusters: L, a, b, share */
} entry_t;

typedef struct snapshot {
    atomic_int refs;
    int64_t stamp; /* the audit sequence it reflects */
    char model[64];
    int n, dim;    /* dim: the embedder's */
    entry_t *e;    /* n, in image id order */
    float *raw;    /* n x dim raw embeddings */
    dq_style_index_t *ix;
    int metric;    /* 1: the school model's discriminant directions are in ix */
} snapshot_t;

struct style_cache {
    pthread_mutex_t lock; /* guards snap and building */
    pthread_cond_t built; /* signalled when a build ends, installed or not */
    snapshot_t *snap;
    int building;         /* 1 while one thread builds: the others wait for its snapshot */
};

style_cache_t *style_cache_new(void)
{
    style_cache_t *c = dq_xcalloc(1, sizeof(*c));
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->built, NULL);
    return c;
}

static void snap_unref(snapshot_t *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (int i = 0; i < s->n; i++) {
        entry_t *e = &s->e[i];
        free(e->image_id);
        free(e->relic_id);
        free(e->school);
        free(e->dynasty);
        free(e->title_zh);
        free(e->title_en);
    }
    free(s->e);
    free(s->raw);
    dq_style_index_free(s->ix);
    free(s);
}

void style_cache_free(style_cache_t *c)
{
    if (!c)
        return;
    snap_unref(c->snap);
    pthread_cond_destroy(&c->built);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* Building: rows (with vectors) of the embedder in use, then links, then relic documents. */
typedef struct {
    dq_catalog_t *cat;
    snapshot_t *s;
    int cap;
    char **link_relic; /* per entry: the first linking relic (owned until moved) */
    int *link_restricted;
} build_t;

static int build_row(void *ud, const dq_style_row_t *row)
{
    build_t *b = ud;
    snapshot_t *s = b->s;
    if (!s->model[0]) {
        snprintf(s->model, sizeof(s->model), "%s", row->model);
        s->dim = row->dim;
    }
    /* One model per index: vectors of another embedder are not comparable. */
    if (strcmp(row->model, s->model) != 0 || row->dim != s->dim)
        return 0;
    if (s->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 256;
        s->e = dq_xrealloc(s->e, (size_t)b->cap * sizeof(entry_t));
        s->raw = dq_xrealloc(s->raw, (size_t)b->cap * s->dim * sizeof(float));
    }
    entry_t *e = &s->e[s->n];
    memset(e, 0, sizeof(entry_t));
    e->image_id = dq_xstrdup(row->image_id);
    /* The palette and named-colour shares, parsed once here for colour search. */
    json_t *pj = row->palette ? json_loads(row->palette, 0, NULL) : NULL;
    json_t *nj = row->named ? json_loads(row->named, 0, NULL) : NULL;
    size_t i;
    json_t *x;
    json_array_foreach(pj, i, x)
    {
        json_t *lab = json_object_get(x, "lab");
        if (e->n_pal == 8 || json_array_size(lab) != 3)
            break;
        for (int k = 0; k < 3; k++)
            e->pal[e->n_pal][k] = (float)json_number_value(json_array_get(lab, (size_t)k));
        e->pal[e->n_pal][3] = (float)json_number_value(json_object_get(x, "share"));
        e->n_pal++;
    }
    json_array_foreach(nj, i, x)
    {
        const dq_style_colour_t *c =
            dq_style_colour_find(json_string_value(json_object_get(x, "key")));
        if (c && c - dq_style_colours < 16)
            e->named[c - dq_style_colours] = (float)json_number_value(json_object_get(x, "share"));
    }
    json_decref(pj);
    json_decref(nj);
    memcpy(s->raw + (size_t)s->n * s->dim, row->vec, (size_t)s->dim * sizeof(float));
    s->n++;
    return 0;
}

static int find_entry(const snapshot_t *s, const char *image_id)
{
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(s->e[mid].image_id, image_id);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

static int build_link(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    build_t *b = ud;
    if (!image_id)
        return 0;
    int i = find_entry(b->s, image_id);
    if (i < 0)
        return 0;
    entry_t *e = &b->s->e[i];
    if (!e->relic_id) {
        e->relic_id = dq_xstrdup(relic_id);
        e->restricted = restricted;
    } else if (e->restricted && !restricted) {
        /* An image shown by any public relic is public: prefer that relic. */
        free(e->relic_id);
        e->relic_id = dq_xstrdup(relic_id);
        e->restricted = 0;
    }
    return 0;
}

static int take_seq(void *ud, const dq_relic_ixrow_t *row)
{
    *(int64_t *)ud = row->seq;
    return 1;
}

static char *jstr(json_t *o, const char *k)
{
    const char *v = json_string_value(json_object_get(o, k));
    return v ? dq_xstrdup(v) : NULL;
}

/* Whether relic document d links image_id as a derived picture rather than the work itself
 * (catalog.h dq_catalog_link_derived: a virtual restoration, a condition capture or its
 * change map; the roles the manifest keeps off the work's canvases). */
static int derived_link(json_t *d, const char *image_id)
{
    size_t i;
    json_t *link;
    json_array_foreach(json_object_get(d, "images"), i, link)
    {
        const char *id = json_string_value(json_object_get(link, "image_id"));
        const char *role = json_string_value(json_object_get(link, "role"));
        if (id && strcmp(id, image_id) == 0)
            return dq_catalog_link_derived(role);
    }
    return 0;
}

static int build_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    build_t *b = ud;
    const dq_store_backend_t *be = dq_catalog_backend(b->cat);
    if (be->style->list(t, 1, build_row, b, err) < 0 ||
        be->images->links(t, NULL, build_link, b, err) < 0)
        return -1;
    for (int i = 0; i < b->s->n; i++) {
        entry_t *e = &b->s->e[i];
        if (!e->relic_id)
            continue;
        dq_relic_stored_t st;
        int r = be->relics->load(t, e->relic_id, NULL, &st, err);
        if (r < 0)
            return -1;
        if (r == 1)
            continue;
        json_t *d = json_loadb(st.doc, st.doc_len, 0, NULL);
        if (!d)
            continue;
        if (derived_link(d, e->image_id)) {
            /* not a picture of the work: no point on the map, never a similar work */
            json_decref(d);
            e->derived = 1;
            continue;
        }
        json_t *title = json_object_get(d, "title");
        e->school = jstr(d, "school");
        e->dynasty = jstr(d, "dynasty");
        e->title_zh = jstr(title, "zh");
        e->title_en = jstr(title, "en");
        e->year = (int)json_integer_value(json_object_get(d, "year_from"));
        json_decref(d);
        if (be->relics->index_rows(t, e->relic_id, take_seq, &e->relic_seq, err) < 0)
            return -1;
    }
    return 0;
}

static snapshot_t *snapshot_build(dq_catalog_t *cat, int64_t stamp, dq_err_t *err)
{
    snapshot_t *s = dq_xcalloc(1, sizeof(*s));
    atomic_init(&s->refs, 1);
    s->stamp = stamp;
    build_t b = {.cat = cat, .s = s};
    if (dq_catalog_read(cat, build_txn, &b, err) < 0) {
        snap_unref(s);
        return NULL;
    }
    const dq_style_embedder_t *emb = dq_style_embedder(s->model);
    if (!emb)
        emb = dq_style_default();
    if (s->n && emb->dim != s->dim) {
        dq_err_set(err, DQ_EUNSUP, 409, "style: the catalog's embeddings (%s) are of no known model",
                   s->model);
        snap_unref(s);
        return NULL;
    }
    /* The learned metric: the school model, when one was fitted on this embedder. */
    dq_buf_t mj = {0};
    dq_err_t merr = {0};
    dq_style_model_t *m = NULL;
    if (dq_catalog_style_model_get(cat, "school", &mj, &merr) == 0)
        m = dq_style_model_from_json(mj.data, mj.len, &merr);
    if (m && strcmp(m->model_name, emb->name) != 0) {
        dq_style_model_free(m);
        m = NULL;
    }
    s->ix = dq_style_index_build(emb, s->raw, s->n, m);
    s->metric = m && m->lda_dim > 0;
    dq_style_model_free(m);
    dq_buf_free(&mj);
    return s;
}

/* The current snapshot (a new reference: snap_unref it), rebuilt when the catalog changed.
 * One thread builds (at 100k embeddings a build reads ~200 MB and takes about a second); the
 * queries that arrive meanwhile wait for its snapshot instead of each building their own,
 * which under load had every server thread rebuilding the same index at once. They do not
 * answer from the old one: a relic made restricted must leave the answers with the write. */
static snapshot_t *snapshot_get(dq_catalog_t *cat, dq_err_t *err)
{
    style_cache_t *c = style_cache_of(cat);
    int64_t stamp = 0;
    if (dq_catalog_audit_count(cat, &stamp, err) < 0)
        return NULL;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        snapshot_t *s = c->snap;
        if (s && s->stamp >= stamp) {
            atomic_fetch_add(&s->refs, 1);
            pthread_mutex_unlock(&c->lock);
            return s;
        }
        if (!c->building)
            break;
        /* Every build ends with a broadcast, failed or not, so this wait is bounded by one
         * build; a build that failed leaves the next waiter to try its own. */
        pthread_cond_wait(&c->built, &c->lock);
    }
    c->building = 1;
    pthread_mutex_unlock(&c->lock);
    snapshot_t *n = snapshot_build(cat, stamp, err);
    pthread_mutex_lock(&c->lock);
    c->building = 0;
    if (n && (!c->snap || c->snap->stamp <= n->stamp)) {
        snap_unref(c->snap);
        c->snap = n;                   /* the cache takes the build's reference */
        atomic_fetch_add(&n->refs, 1); /* and the caller gets one of its own */
    }
    pthread_cond_broadcast(&c->built);
    pthread_mutex_unlock(&c->lock);
    return n;
}

/* ================================================================ works */

int dq_catalog_style_works(dq_catalog_t *cat, const dq_actor_t *who, dq_style_work_cb cb,
                           void *ud, dq_err_t *err)
{
    snapshot_t *s = snapshot_get(cat, err);
    if (!s)
        return -1;
    int show = relic_show_restricted(who);
    for (int i = 0; i < s->n; i++) {
        const entry_t *e = &s->e[i];
        if (e->restricted && !show)
            continue;
        dq_style_work_t w = {e->image_id, e->relic_id, e->school,     e->dynasty,
                             e->title_zh, e->title_en, e->year,       e->restricted,
                             s->model,    s->dim,      s->raw + (size_t)i * s->dim};
        if (cb(ud, &w))
            break;
    }
    snap_unref(s);
    return 0;
}

/* ================================================================ similar */

static void jstr_or_null(dq_buf_t *out, const char *s)
{
    if (!s) {
        dq_buf_puts(out, "null");
        return;
    }
    json_t *j = json_string(s);
    char *t = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    dq_buf_puts(out, t ? t : "null");
    free(t);
    json_decref(j);
}

/* Opens a work's JSON object with the fields every answer shares (relic_id, image_id, title,
 * school, dynasty); the caller adds its own and closes it. */
static void work_json(dq_buf_t *out, const entry_t *e, int comma)
{
    dq_buf_puts(out, comma ? ",{\"relic_id\":" : "{\"relic_id\":");
    jstr_or_null(out, e->relic_id);
        dq_buf_puts(out, ",\"image_id\":");
        jstr_or_null(out, e->image_id);
        dq_buf_puts(out, ",\"title\":{\"zh\":");
        jstr_or_null(out, e->title_zh);
        dq_buf_puts(out, ",\"en\":");
        jstr_or_null(out, e->title_en);
        dq_buf_puts(out, "},\"school\":");
        jstr_or_null(out, e->school);
        dq_buf_puts(out, ",\"dynasty\":");
        jstr_or_null(out, e->dynasty);
}

int dq_catalog_style_similar(dq_catalog_t *cat, const dq_style_query_t *q, const dq_actor_t *who,
                             dq_buf_t *out, dq_err_t *err)
{
    int limit = q->limit ? q->limit : 12;
    if (limit < 1 || limit > 100)
        return dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..100");
    if (q->image_id && !dq_catalog_image_visible(cat, q->image_id, who))
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", q->image_id);
    snapshot_t *s = snapshot_get(cat, err);
    if (!s)
        return -1;
    int rc = -1, D = s->ix ? dq_style_index_dim(s->ix) : 0, self = -1;
    float *qv = dq_xcalloc((size_t)D + 1, sizeof(float)), *scores = NULL;
    int *best = dq_xmalloc((size_t)limit * sizeof(int));
    if (q->image_id) {
        self = find_entry(s, q->image_id);
        if (self < 0) {
            dq_err_set(err, DQ_ENOTFOUND, 404, "image '%s' is not indexed yet (danqing style index)",
                       q->image_id);
            goto out;
        }
        memcpy(qv, dq_style_index_row(s->ix, self), (size_t)D * sizeof(float));
    } else {
        if (!q->vec || !q->model) {
            dq_err_set(err, DQ_EINVAL, 400, "style: a query needs an image or a vector");
            goto out;
        }
        if (s->n && (strcmp(q->model, s->model) != 0 || q->dim != s->dim)) {
            dq_err_set(err, DQ_EUNSUP, 409, "style: query model %s, catalog model %s", q->model,
                       s->model);
            goto out;
        }
        if (s->n)
            dq_style_index_normalise(s->ix, q->vec, qv);
    }
    scores = dq_xmalloc(((size_t)s->n + 1) * sizeof(float));
    if (s->n)
        dq_style_index_scores(s->ix, qv, scores);
    int show = relic_show_restricted(who), nb = 0;
    const char *excl = q->exclude_relic;
    if (!excl && self >= 0)
        excl = s->e[self].relic_id;
    for (int i = 0; i < s->n; i++) {
        const entry_t *e = &s->e[i];
        if (i == self || e->derived || (e->restricted && !show) || (q->labelled_only && !e->school) ||
            (excl && e->relic_id && strcmp(excl, e->relic_id) == 0))
            continue;
        /* Keep the best limit in descending order (insertion: limit is small). */
        if (nb == limit && scores[i] <= scores[best[nb - 1]])
            continue;
        int j = nb < limit ? nb++ : nb - 1;
        while (j > 0 && scores[best[j - 1]] < scores[i]) {
            best[j] = best[j - 1];
            j--;
        }
        best[j] = i;
    }
    const dq_style_embedder_t *emb = dq_style_embedder(s->model);
    if (!emb)
        emb = dq_style_default();
    dq_buf_puts(out, "{\"model\":");
    jstr_or_null(out, s->n ? s->model : emb->name);
    dq_buf_printf(out, ",\"metric\":%s,\"n_indexed\":%d,\"items\":[",
                  s->metric ? "\"school\"" : "null", s->n);
    float sims[16];
    for (int r = 0; r < nb; r++) {
        const entry_t *e = &s->e[best[r]];
        dq_style_part_sims(s->ix, self >= 0 ? s->raw + (size_t)self * s->dim : q->vec,
                           s->raw + (size_t)best[r] * s->dim, sims);
        int top = 0;
        for (int p = 1; p < emb->n_parts && p < 16; p++)
            if (sims[p] > sims[top])
                top = p;
        work_json(out, e, r > 0);
        dq_buf_printf(out, ",\"year\":%d,\"score\":%.4f,\"reason\":{\"key\":\"%s\",\"en\":\"%s\","
                           "\"zh\":\"%s\"},\"parts\":{",
                      e->year, (double)scores[best[r]], emb->parts[top].key, emb->parts[top].en,
                      emb->parts[top].zh);
        for (int p = 0; p < emb->n_parts && p < 16; p++)
            dq_buf_printf(out, "%s\"%s\":%.3f", p ? "," : "", emb->parts[p].key, (double)sims[p]);
        dq_buf_puts(out, "}}");
    }
    dq_buf_puts(out, "]}");
    rc = 0;
out:
    free(qv);
    free(scores);
    free(best);
    snap_unref(s);
    return rc;
}

/* The image id of relic_id's first image into img (DQ_IMAGE_ID_MAX + 1 bytes): 0; 1 when the
 * relic has no image (img empty); -1 with err (404 for a relic who may not see). */
static int relic_first_image(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                             char *img, dq_err_t *err)
{
    dq_buf_t doc = {0};
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0) {
        dq_buf_free(&doc);
        return -1;
    }
    json_t *d = json_loadb(doc.data, doc.len, 0, NULL);
    dq_buf_free(&doc);
    const char *iid = json_string_value(
        json_object_get(json_array_get(json_object_get(d, "images"), 0), "image_id"));
    snprintf(img, DQ_IMAGE_ID_MAX + 1, "%s", iid ? iid : "");
    json_decref(d);
    return img[0] ? 0 : 1;
}

/* A visible relic whose first image has no embedding (or that has no image) is an answer, not
 * an error: the relic page asks for every relic, and a work ingested a minute ago is simply
 * not indexed until `danqing style index` runs. The reason says which of the two it is. */
static void put_not_indexed(dq_buf_t *out, const char *img, const char *list)
{
    dq_buf_printf(out, "{\"image_id\":");
    jstr_or_null(out, img[0] ? img : NULL);
    dq_buf_printf(out, ",\"indexed\":false,\"reason\":{\"key\":\"%s\",\"en\":\"%s\","
                       "\"zh\":\"%s\"},\"%s\":[]}",
                  img[0] ? "not_indexed" : "no_image",
                  img[0] ? "This image is not indexed yet (danqing style index)."
                         : "This relic has no image.",
                  img[0] ? "该图像尚未编入风格索引（danqing style index）。" : "该文物没有图像。",
                  list);
}

int dq_catalog_style_similar_relic(dq_catalog_t *cat, const char *relic_id, int limit,
                                   const dq_actor_t *who, dq_buf_t *out, dq_err_t *err)
{
    char img[DQ_IMAGE_ID_MAX + 1];
    int r = relic_first_image(cat, relic_id, who, img, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        snapshot_t *s = snapshot_get(cat, err);
        if (!s)
            return -1;
        int indexed = find_entry(s, img) >= 0;
        snap_unref(s);
        if (indexed) {
            dq_style_query_t q = {.image_id = img, .exclude_relic = relic_id, .limit = limit};
            return dq_catalog_style_similar(cat, &q, who, out, err);
        }
    }
    put_not_indexed(out, img, "items");
    return 0;
}

/* ================================================================ attribution */

int dq_catalog_style_classify(dq_catalog_t *cat, const char *label, const float *vec, int dim,
                              const char *model, int top, dq_buf_t *out, dq_err_t *err)
{
    dq_buf_t mj = {0};
    int r = dq_catalog_style_model_get(cat, label, &mj, err);
    if (r != 0) {
        dq_buf_free(&mj);
        return r;
    }
    dq_style_model_t *m = dq_style_model_from_json(mj.data, mj.len, err);
    dq_buf_free(&mj);
    if (!m)
        return -1;
    if (strcmp(m->model_name, model) != 0 || m->dim != dim) {
        dq_err_set(err, DQ_EUNSUP, 409, "style: the %s model was fitted on %s, not %s", label,
                   m->model_name, model);
        dq_style_model_free(m);
        return -1;
    }
    double *p = dq_xmalloc((size_t)m->n_classes * sizeof(double));
    int *ord = dq_xmalloc((size_t)m->n_classes * sizeof(int));
    dq_style_model_predict(m, vec, p);
    for (int c = 0; c < m->n_classes; c++)
        ord[c] = c;
    for (int i = 1; i < m->n_classes; i++)
        for (int j = i; j > 0 && p[ord[j]] > p[ord[j - 1]]; j--) {
            int t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    if (top < 1 || top > m->n_classes)
        top = m->n_classes;
    dq_buf_printf(out, "{\"label\":\"%s\",\"labels\":[", label);
    for (int i = 0; i < top; i++) {
        dq_buf_puts(out, i ? ",{\"label\":" : "{\"label\":");
        jstr_or_null(out, m->classes[ord[i]]);
        dq_buf_printf(out, ",\"p\":%.4f}", p[ord[i]]);
    }
    dq_buf_puts(out, "]}");
    free(p);
    free(ord);
    dq_style_model_free(m);
    return 0;
}

/* ================================================================ colour search */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* "#rrggbb" or "rrggbb" into Lab; 0 or -1. */
static int parse_hex(const char *s, float lab[3])
{
    if (*s == '#')
        s++;
    unsigned r, g, b;
    char tail;
    if (strlen(s) != 6 || sscanf(s, "%2x%2x%2x%c", &r, &g, &b, &tail) != 3)
        return -1;
    dq_style_srgb_to_lab((uint8_t)r, (uint8_t)g, (uint8_t)b, lab);
    return 0;
}

int style_colour_seqs(dq_catalog_t *cat, const char *colour, int show_restricted, int64_t **seqs,
                      size_t *n, dq_err_t *err)
{
    *seqs = NULL;
    *n = 0;
    const dq_style_colour_t *named = dq_style_colour_find(colour);
    int idx = named ? (int)(named - dq_style_colours) : -1;
    float lab[3];
    /* The first eight named colours are the chromatic pigments; ink and lead white are not
     * searchable by name (every work has ink; white is the paper's neighbour). */
    if (idx >= 8 || (!named && parse_hex(colour, lab) < 0))
        return dq_err_set(err, DQ_EINVAL, 400,
                          "colour must be #rrggbb or a named mineral colour (朱砂 银朱 赭石 土黄 "
                          "石黄 石青 石绿 花青, or zhusha, shiqing, ...)");
    snapshot_t *s = snapshot_get(cat, err);
    if (!s)
        return -1;
    dq_style_colour_t picked = {"picked", "", "", lab[0], lab[1], lab[2], ""};
    int64_t *out = dq_xmalloc(((size_t)s->n + 1) * sizeof(int64_t));
    size_t m = 0;
    for (int i = 0; i < s->n; i++) {
        const entry_t *e = &s->e[i];
        if (!e->relic_seq || (e->restricted && !show_restricted))
            continue;
        double share = 0;
        if (named) {
            share = e->named[idx];
        } else {
            /* A picked colour: the share of the palette clusters that are it or a wash of it. */
            for (int k = 0; k < e->n_pal; k++)
                share += e->pal[k][3] * dq_style_colour_match(&picked, e->pal[k]);
        }
        /* Half a percent of the picture: a seal or a figure's robe counts, stray noise not. */
        if (share >= 0.005)
            out[m++] = e->relic_seq;
    }
    snap_unref(s);
    qsort(out, m, sizeof(int64_t), cmp_i64);
    size_t u = 0;
    for (size_t i = 0; i < m; i++)
        if (!u || out[u - 1] != out[i])
            out[u++] = out[i];
    *seqs = out;
    *n = u;
    return 0;
}

/* ================================================================ palette of a relic */

typedef struct {
    dq_buf_t *out;
} pal_t;

static int put_palette(void *ud, const dq_style_row_t *row)
{
    pal_t *p = ud;
    dq_buf_printf(p->out, "{\"image_id\":");
    jstr_or_null(p->out, row->image_id);
    dq_buf_puts(p->out, ",\"palette\":");
    dq_buf_puts(p->out, row->palette ? row->palette : "[]");
    dq_buf_puts(p->out, ",\"named\":[");
    json_t *nj = row->named ? json_loads(row->named, 0, NULL) : NULL;
    size_t i;
    json_t *x;
    int first = 1;
    json_array_foreach(nj, i, x)
    {
        const dq_style_colour_t *c =
            dq_style_colour_find(json_string_value(json_object_get(x, "key")));
        if (!c)
            continue;
        dq_buf_printf(p->out, "%s{\"key\":\"%s\",\"zh\":\"%s\",\"en\":\"%s\",\"hex\":\"%s\","
                              "\"share\":%.4f}",
                      first ? "" : ",", c->key, c->zh, c->en, c->hex,
                      json_number_value(json_object_get(x, "share")));
        first = 0;
    }
    json_decref(nj);
    dq_buf_puts(p->out, "]}");
    return 0;
}

int dq_catalog_style_palette_relic(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                                   dq_buf_t *out, dq_err_t *err)
{
    char img[DQ_IMAGE_ID_MAX + 1];
    int r = relic_first_image(cat, relic_id, who, img, err);
    if (r < 0)
        return -1;
    if (r == 0) {
        pal_t p = {out};
        r = dq_catalog_style_get(cat, img, put_palette, &p, err);
        if (r != 1)
            return r;
    }
    put_not_indexed(out, img, "palette");
    return 0;
}

/* ================================================================ the style map */

int dq_catalog_style_map(dq_catalog_t *cat, const dq_actor_t *who, dq_buf_t *out, dq_err_t *err)
{
    snapshot_t *s = snapshot_get(cat, err);
    if (!s)
        return -1;
    int show = relic_show_restricted(who), D = s->ix ? dq_style_index_dim(s->ix) : 0, n = 0, rc = -1;
    int *which = dq_xmalloc(((size_t)s->n + 1) * sizeof(int));
    for (int i = 0; i < s->n; i++)
        if (s->e[i].relic_id && !s->e[i].derived && (!s->e[i].restricted || show))
            which[n++] = i;
    float *rows = dq_xmalloc(((size_t)n * D + 1) * sizeof(float));
    float *xy = dq_xmalloc(((size_t)n * 2 + 1) * sizeof(float));
    for (int k = 0; k < n; k++)
        memcpy(rows + (size_t)k * D, dq_style_index_row(s->ix, which[k]), (size_t)D * sizeof(float));
    if (n >= 3 && dq_style_pca2(rows, n, D, xy, err) < 0)
        goto out;
    if (n < 3)
        memset(xy, 0, ((size_t)n * 2 + 1) * sizeof(float));
    dq_buf_puts(out, "{\"model\":");
    jstr_or_null(out, s->model[0] ? s->model : NULL);
    dq_buf_printf(out, ",\"metric\":%s,\"projection\":\"pca\",\"points\":[",
                  s->metric ? "\"school\"" : "null");
    for (int k = 0; k < n; k++) {
        const entry_t *e = &s->e[which[k]];
        work_json(out, e, k > 0);
        dq_buf_printf(out, ",\"year\":%d,\"x\":%.4f,\"y\":%.4f}", e->year,
                      (double)xy[2 * k], (double)xy[2 * k + 1]);
    }
    dq_buf_puts(out, "]}");
    rc = 0;
out:
    free(which);
    free(rows);
    free(xy);
    snap_unref(s);
    return rc;
}
