/*
 * copy.c: copying a whole catalog into another one, for `danqing migrate` (issue 15): every
 * table row for row through the backends' generic copy ops (store.h "table copy"), so that
 * ids, times, versions, password hashes and the audit trail arrive as they were. Parents go
 * before children (foreign keys), in batches of one write transaction each, each table in key
 * order: after a kill the target's last row says where its copy stopped, and a rerun goes on
 * from there (a row already stored is left alone, so nothing is duplicated; a second run
 * finds nothing to copy). A target that holds anything but a prefix of this source is refused
 * before anything is written.
 * Not here: files (cli/cmd_migrate.c copies those through blob/), policy (nothing is
 * validated again: the rows were valid where they were written).
 */
#include "catalog.h"
#include "store.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the tables */

#define T(name, types, nkey, ...)                                                                  \
    {                                                                                              \
        name, (const char *const[]){__VA_ARGS__}, types, (int)sizeof(types) - 1, nkey              \
    }

/* Every table both backends keep, parents first. Left out on purpose (docs/deploy.md "Moving
 * up" says why): schema_version (each backend's own migrations), image_pending (an ingest in
 * flight: dq_catalog_copy refuses a source that has one), condition_jobs (work running on
 * the old servers, answered as failed once they stop: condition_job.c), SQLite's
 * sqlite_sequence and PostgreSQL's dq_counters (the id counters, raised through
 * counter_raise), and the full-text indexes each backend derives (FTS5 tables, tsvectors).
 * relic_tombstones and
 * relic_withdrawals come after relics: the triggers that keep them fire on inserting relics
 * and must find nothing to change. */
static const dq_store_table_t tables[] = {
    T("images", "tttittttiiiiiiitt", 1, "id", "master_sha256", "master_path", "master_size",
      "master_format", "orig_filename", "pyramid_path", "pyramid_sha256", "pyramid_size", "width",
      "height", "levels", "tile_size", "bands", "icc_converted", "created_at", "updated_at"),
    T("audit",
      "itttt"
      "t",
      1, "seq", "who", "at", "action", "object", "detail"),
    T("relics",
      "itti"
      "tttt"
      "iiiiii"
      "tt",
      1, "seq", "id", "accession", "version", "doc", "dynasty", "object_type", "medium",
      "year_from", "year_to", "sort_year", "sort_year_desc", "restricted", "has_images",
      "created_at", "updated_at"),
    T("relic_subjects", "ti", 2, "subject", "relic"),
    T("relic_creators", "iitt", 2, "relic", "pos", "name", "name_en"),
    T("relic_images", "iitt", 2, "relic", "pos", "image_id", "role"),
    /* the searchable texts; each backend derives its index from them */
    T("relic_fts", "itttt", 1, "seq", "title", "creators", "body", "description"),
    T("relic_names", "t", 1, "name"),
    T("relic_tombstones", "tttti", 1, "id", "deleted_at", "dynasty", "object_type", "restricted"),
    T("relic_withdrawals", "ttitt", 1, "id", "withdrawn_at", "audit_seq", "dynasty", "object_type"),
    /* ord: the order accounts were made in (SQLite's rowid), "the oldest" of a folded key */
    T("users",
      "titttt"
      "t",
      1, "name", "ord", "role", "pwhash", "created_at", "updated_at", "name_key"),
    T("sessions", "ttti", 1, "hash", "account", "created_at", "expires_at"),
    T("api_tokens", "ttti", 1, "hash", "account", "created_at", "expires_at"),
    T("iiif_access", "titti", 1, "hash", "kind", "session", "created_at", "expires_at"),
    T("annotations",
      "itiiiii"
      "ttt"
      "tit"
      "t",
      1, "id", "relic", "canvas", "x", "y", "w", "h", "motivation", "bodies", "fts", "creator",
      "version", "created_at", "updated_at"),
    T("tours",
      "ittt"
      "iitt",
      1, "id", "relic", "doc", "author", "public", "version", "created_at", "updated_at"),
    T("lessons",
      "itti"
      "itt",
      1, "id", "doc", "author", "public", "version", "created_at", "updated_at"),
    T("glossary",
      "tttt"
      "itt",
      1, "key", "doc", "fts", "author", "version", "created_at", "updated_at"),
    T("condition_records",
      "ittitti"
      "tt",
      1, "id", "relic_id", "date", "published", "doc", "author", "version", "created_at",
      "updated_at"),
    T("spectral_captures", "ttiittt", 1, "id", "relic", "width", "height", "doc", "created_at",
      "updated_at"),
    T("spectral_layers", "ttttt", 2, "capture", "name", "kind", "doc", "created_at"),
    T("scene_sets", "titttt", 2, "image_id", "version", "source", "doc", "author", "created_at"),
    T("style_embeddings",
      "tttib"
      "ttt",
      1, "image_id", "pyramid_sha256", "model", "dim", "vec", "palette", "named", "updated_at"),
    T("style_models", "ttt", 1, "label", "doc", "updated_at"),
    T("layer_files", "ttit", 1, "key", "sha256", "size", "created_at"),
};

/* The tables whose ids come from a counter that never goes back (store.h counter_get). */
static const char *const counters[] = {"relics", "annotations", "tours", "lessons",
                                       "condition_records"};

const dq_store_table_t *dq_store_copy_tables(int *n)
{
    *n = (int)DQ_ARRAY_LEN(tables);
    return tables;
}

/* ---------------------------------------------------------------- rows in memory */

/* A batch of rows, deep-copied out of the callbacks: vals[n_rows * n_cols], the bytes of text
 * and blobs in text (vals' p are offsets into it until fix_batch). */
typedef struct {
    const dq_store_table_t *t;
    dq_store_val_t *vals;
    int n_rows;
    size_t cap_vals; /* in values: the batch is reused for tables of other widths */
    dq_buf_t text;
} batch_t;

static int batch_add(void *ud, const dq_store_val_t *v)
{
    batch_t *b = ud;
    int nc = b->t->n_cols;
    if ((size_t)(b->n_rows + 1) * nc > b->cap_vals) {
        b->cap_vals = DQ_MAX(b->cap_vals * 2, (size_t)(b->n_rows + 1) * nc);
        b->vals = dq_xrealloc(b->vals, b->cap_vals * sizeof(*b->vals));
    }
    dq_store_val_t *dst = b->vals + (size_t)b->n_rows * nc;
    for (int c = 0; c < nc; c++) {
        dst[c] = v[c];
        if (v[c].type == DQ_VAL_TEXT || v[c].type == DQ_VAL_BLOB) {
            dst[c].p = (const char *)(uintptr_t)b->text.len;
            dq_buf_append(&b->text, v[c].p ? v[c].p : "", v[c].len);
        }
    }
    b->n_rows++;
    return 0;
}

/* Turns the offsets into pointers once the text no longer moves. */
static void batch_fix(batch_t *b)
{
    for (size_t i = 0; i < (size_t)b->n_rows * b->t->n_cols; i++)
        if (b->vals[i].type == DQ_VAL_TEXT || b->vals[i].type == DQ_VAL_BLOB)
            b->vals[i].p = b->text.data + (uintptr_t)b->vals[i].p;
}

static void batch_reset(batch_t *b, const dq_store_table_t *t)
{
    b->t = t;
    b->n_rows = 0;
    dq_buf_reset(&b->text);
}

static void batch_free(batch_t *b)
{
    free(b->vals);
    dq_buf_free(&b->text);
    memset(b, 0, sizeof(*b));
}

/* 1 when two values are the same (an integer kept as text by SQLite's affinity compares as
 * what it says). */
static int val_eq(const dq_store_val_t *a, const dq_store_val_t *b)
{
    if (a->type != b->type)
        return 0;
    if (a->type == DQ_VAL_INT)
        return a->i == b->i;
    if (a->type == DQ_VAL_NULL)
        return 1;
    return a->len == b->len && (a->len == 0 || memcmp(a->p, b->p, a->len) == 0);
}

static int row_eq(const dq_store_table_t *t, const dq_store_val_t *a, const dq_store_val_t *b)
{
    for (int c = 0; c < t->n_cols; c++)
        if (!val_eq(&a[c], &b[c]))
            return 0;
    return 1;
}

/* ---------------------------------------------------------------- transactions */

typedef struct {
    const dq_store_backend_t *be;
    void *impl;
} side_t;

static side_t side(dq_catalog_t *cat)
{
    return (side_t){dq_catalog_backend(cat), dq_catalog_impl(cat)};
}

/* Reads into b the rows of b->t after `after` (see dq_store_copy_ops.rows), in its own read
 * transaction. */
static int read_rows(side_t s, batch_t *b, const dq_store_val_t *after, int inclusive, int desc,
                     int limit, dq_err_t *err)
{
    dq_store_txn_t *txn;
    if (s.be->begin(s.impl, 0, &txn, err) < 0)
        return -1;
    int rc = s.be->copy->rows(txn, b->t, after, inclusive, desc, limit, batch_add, b, err);
    s.be->rollback(txn);
    if (rc == 0)
        batch_fix(b);
    return rc;
}

static int count_rows(side_t s, const dq_store_table_t *t, const dq_store_val_t *upto, int64_t *n,
                      dq_err_t *err)
{
    dq_store_txn_t *txn;
    if (s.be->begin(s.impl, 0, &txn, err) < 0)
        return -1;
    int rc = s.be->copy->count(txn, t, upto, n, err);
    s.be->rollback(txn);
    return rc;
}

/* ---------------------------------------------------------------- the copy */

/* Where the target's copy of t stands: *last (n_cols values in last_b, or none when the
 * target has no row). Refuses (DQ_EEXIST, 409) a target whose rows are not the first rows
 * of the source's in key order, equal value for value: another catalog's data, or this
 * catalog's changed since. */
static int check_table(side_t src, side_t dst, const dq_store_table_t *t, batch_t *last_b,
                       int64_t *n_src, int64_t *n_dst, int64_t *n_done, dq_err_t *err)
{
    batch_t a = {0}, b = {0};
    int rc = -1;
    batch_reset(last_b, t);
    batch_reset(&a, t);
    batch_reset(&b, t);
    *n_done = 0;
    *n_dst = 0; /* no target (a dry run's empty one): nothing to read there */
    if (count_rows(src, t, NULL, n_src, err) < 0 ||
        (dst.be && count_rows(dst, t, NULL, n_dst, err) < 0))
        goto out;
    if (*n_dst == 0) {
        rc = 0;
        goto out;
    }
    /* the target's last row must be the source's row of that key, and as many rows must come
     * before it on both sides; and the first rows must be the same */
    if (read_rows(dst, last_b, NULL, 0, 1, 1, err) < 0 ||
        read_rows(src, &a, last_b->vals, 1, 0, 1, err) < 0 ||
        count_rows(src, t, last_b->vals, n_done, err) < 0 ||
        read_rows(dst, &b, NULL, 0, 0, 1, err) < 0)
        goto out;
    int same = last_b->n_rows == 1 && a.n_rows == 1 && row_eq(t, last_b->vals, a.vals) &&
               *n_done == *n_dst && b.n_rows == 1;
    if (same) {
        batch_reset(&a, t);
        if (read_rows(src, &a, NULL, 0, 0, 1, err) < 0)
            goto out;
        same = a.n_rows == 1 && row_eq(t, a.vals, b.vals);
    }
    if (!same) {
        dq_err_set(err, DQ_EEXIST, 409,
                   "the target catalog already holds other data (table %s: %lld rows that are "
                   "not the first rows of this catalog's %lld); migrate copies into an empty "
                   "catalog or finishes its own interrupted copy",
                   t->name, (long long)*n_dst, (long long)*n_src);
        goto out;
    }
    rc = 0;
out:
    batch_free(&a);
    batch_free(&b);
    return rc;
}

typedef struct {
    const dq_store_copy_ops *ops;
    batch_t *b;
    int64_t inserted;
} put_t;

static int put_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    put_t *p = ud;
    return p->ops->put(txn, p->b->t, p->b->vals, p->b->n_rows, &p->inserted, err);
}

static int write_batch(side_t dst, batch_t *b, int64_t *inserted, dq_err_t *err)
{
    dq_store_txn_t *txn;
    put_t p = {dst.be->copy, b, 0};
    if (dst.be->begin(dst.impl, 1, &txn, err) < 0)
        return -1;
    if (put_txn(&p, txn, err) < 0) {
        dst.be->rollback(txn);
        return -1;
    }
    if (dst.be->commit(txn, err) < 0)
        return -1;
    *inserted = p.inserted;
    return 0;
}

/* Counters: the target's are raised to the source's, so that ids never repeat. */
static int copy_counters(side_t src, side_t dst, int dry_run, dq_err_t *err)
{
    int64_t v[DQ_ARRAY_LEN(counters)];
    dq_store_txn_t *txn;
    if (src.be->begin(src.impl, 0, &txn, err) < 0)
        return -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(counters); i++)
        if (src.be->copy->counter_get(txn, counters[i], &v[i], err) < 0) {
            src.be->rollback(txn);
            return -1;
        }
    src.be->rollback(txn);
    if (dry_run)
        return 0;
    if (dst.be->begin(dst.impl, 1, &txn, err) < 0)
        return -1;
    for (size_t i = 0; i < DQ_ARRAY_LEN(counters); i++)
        if (dst.be->copy->counter_raise(txn, counters[i], v[i], err) < 0) {
            dst.be->rollback(txn);
            return -1;
        }
    return dst.be->commit(txn, err);
}

/* 1 when the source has an ingest in flight (a pending journal row). */
static int pending_one(void *ud, const dq_image_rec_t *rec)
{
    (void)rec;
    *(int *)ud = 1;
    return 1;
}

int dq_catalog_copy(dq_catalog_t *src_cat, dq_catalog_t *dst_cat, const dq_catalog_copy_opts_t *o,
                    dq_catalog_copy_stat_t **stats_out, int *n_out, dq_err_t *err)
{
    /* dst NULL: a dry run against a target that has no catalog yet (dq_catalog_probe). */
    side_t src = side(src_cat), dst = dst_cat ? side(dst_cat) : (side_t){NULL, NULL};
    int n = (int)DQ_ARRAY_LEN(tables), rc = -1, pending = 0;
    int limit = o->batch > 0 ? o->batch : 1000;
    dq_catalog_copy_stat_t *st = dq_xcalloc((size_t)n, sizeof(*st));
    batch_t *last = dq_xcalloc((size_t)n, sizeof(*last));
    batch_t b = {0};
    *stats_out = st;
    *n_out = n;
    if (!dst_cat && !o->dry_run) {
        dq_err_set(err, DQ_EINVAL, 0, "catalog copy: no target");
        goto out;
    }
    if (!src.be->copy || (dst.be && !dst.be->copy)) {
        dq_err_set(err, DQ_EUNSUP, 0, "catalog: this backend cannot copy tables");
        goto out;
    }
    if (src_cat == dst_cat || (src.be == dst.be && src.impl == dst.impl)) {
        dq_err_set(err, DQ_EINVAL, 0, "catalog: the source and the target are one catalog");
        goto out;
    }
    {
        dq_store_txn_t *txn;
        if (src.be->begin(src.impl, 0, &txn, err) < 0)
            goto out;
        int r = src.be->images->pending_list(txn, pending_one, &pending, err);
        src.be->rollback(txn);
        if (r < 0)
            goto out;
        if (pending) {
            dq_err_set(err, DQ_EINVAL, 0,
                       "the source has an ingest in flight or interrupted (image_pending); run "
                       "`danqing fixity` on it first, which completes or drops it");
            goto out;
        }
    }
    /* First every table's state, so that a refused target is refused before any write. */
    for (int i = 0; i < n; i++) {
        st[i].table = tables[i].name;
        if (check_table(src, dst, &tables[i], &last[i], &st[i].source, &st[i].target, &st[i].done,
                        err) < 0)
            goto out;
        st[i].todo = st[i].source - st[i].done;
    }
    if (o->progress && o->progress(o->ud, st, n, -1) != 0)
        goto cancelled;
    if (o->dry_run) {
        rc = copy_counters(src, dst, 1, err);
        goto out;
    }
    for (int i = 0; i < n; i++) {
        const dq_store_val_t *after = last[i].n_rows ? last[i].vals : NULL;
        int64_t t0 = dq_now_us();
        for (;;) {
            batch_reset(&b, &tables[i]);
            if (read_rows(src, &b, after, 0, 0, limit, err) < 0)
                goto out;
            if (b.n_rows == 0)
                break;
            int64_t ins = 0;
            if (write_batch(dst, &b, &ins, err) < 0)
                goto out;
            st[i].copied += ins;
            st[i].done += b.n_rows;
            /* the cursor: this batch's last row, kept in last[i] */
            batch_reset(&last[i], &tables[i]);
            batch_add(&last[i], b.vals + (size_t)(b.n_rows - 1) * tables[i].n_cols);
            batch_fix(&last[i]);
            after = last[i].vals;
            st[i].seconds = (double)(dq_now_us() - t0) / 1e6;
            if (o->progress && o->progress(o->ud, st, n, i) != 0)
                goto cancelled;
            if (b.n_rows < limit)
                break;
        }
    }
    rc = copy_counters(src, dst, 0, err);
    goto out;
cancelled:
    dq_err_set(err, DQ_EIO, 0, "catalog copy: stopped by its caller");
out:
    for (int i = 0; i < n; i++)
        batch_free(&last[i]);
    free(last);
    batch_free(&b);
    return rc;
}
