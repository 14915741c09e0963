/*
 * store_sqlite_copy.c: the generic table copy of the SQLite backend (store.h "table copy",
 * `danqing migrate`, issue 15): rows of a listed table in key order, counts, inserts that keep
 * every value, and the AUTOINCREMENT counters in sqlite_sequence. Two logical columns are the
 * rowid here: relic_fts.seq (the FTS5 table's rowid is the relic's seq) and users.ord (the
 * order accounts were made in). annotation_fts and glossary_fts follow by their triggers.
 * No policy: rows are stored as given.
 */
#include "store_sqlite_internal.h"

#include <stdlib.h>
#include <string.h>

/* The SQL expression of a logical column. */
static const char *col_sql(const dq_store_table_t *t, int c)
{
    if ((strcmp(t->name, "relic_fts") == 0 && strcmp(t->cols[c], "seq") == 0) ||
        (strcmp(t->name, "users") == 0 && strcmp(t->cols[c], "ord") == 0))
        return "rowid";
    return t->cols[c];
}

static void put_cols(dq_buf_t *q, const dq_store_table_t *t, int n)
{
    for (int c = 0; c < n; c++)
        dq_buf_printf(q, "%s%s", c ? ", " : "", col_sql(t, c));
}

/* "(k1, k2) OP (?1, ?2)" or "k1 OP ?1" */
static void key_cond(dq_buf_t *q, const dq_store_table_t *t, const char *op)
{
    if (t->n_key == 1) {
        dq_buf_printf(q, "%s %s ?1", col_sql(t, 0), op);
        return;
    }
    dq_buf_puts(q, "(");
    put_cols(q, t, t->n_key);
    dq_buf_printf(q, ") %s (", op);
    for (int c = 0; c < t->n_key; c++)
        dq_buf_printf(q, "%s?%d", c ? ", " : "", c + 1);
    dq_buf_puts(q, ")");
}

static void bind_val(sqlite3_stmt *st, int i, const dq_store_val_t *v)
{
    switch (v->type) {
    case DQ_VAL_INT:
        sqlite3_bind_int64(st, i, v->i);
        break;
    case DQ_VAL_TEXT:
        sqlite3_bind_text(st, i, v->p ? v->p : "", (int)v->len, SQLITE_STATIC);
        break;
    case DQ_VAL_BLOB:
        sqlite3_bind_blob(st, i, v->p ? v->p : "", (int)v->len, SQLITE_STATIC);
        break;
    default:
        sqlite3_bind_null(st, i);
    }
}

static void read_val(sqlite3_stmt *st, int c, char type, dq_store_val_t *v)
{
    memset(v, 0, sizeof(*v));
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        return;
    if (type == 'i') {
        v->type = DQ_VAL_INT;
        v->i = sqlite3_column_int64(st, c);
    } else if (type == 'b') {
        v->type = DQ_VAL_BLOB;
        v->p = sqlite3_column_blob(st, c);
        v->len = (size_t)sqlite3_column_bytes(st, c);
    } else {
        v->type = DQ_VAL_TEXT;
        v->p = (const char *)sqlite3_column_text(st, c);
        v->len = (size_t)sqlite3_column_bytes(st, c);
    }
}

static int copy_rows(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *after,
                     int inclusive, int desc, int limit, dq_store_row_cb cb, void *ud,
                     dq_err_t *err)
{
    dq_buf_t q = {0};
    dq_store_val_t v[32];
    int rc = -1, r;
    DQ_ASSERT(t->n_cols <= (int)DQ_ARRAY_LEN(v));
    dq_buf_puts(&q, "SELECT ");
    put_cols(&q, t, t->n_cols);
    dq_buf_printf(&q, " FROM %s", t->name);
    if (after && !desc) {
        dq_buf_puts(&q, " WHERE ");
        key_cond(&q, t, inclusive ? ">=" : ">");
    }
    dq_buf_puts(&q, " ORDER BY ");
    for (int c = 0; c < t->n_key; c++)
        dq_buf_printf(&q, "%s%s%s", c ? ", " : "", col_sql(t, c), desc ? " DESC" : "");
    dq_buf_printf(&q, " LIMIT %d", limit);
    /* prepared here, never cached by dq_sq_stmt: it knows statements by the text's address,
     * and q's is reused by the next call for other text */
    sqlite3_stmt *st = NULL;
    if (dq_sq_prepare(txn, q.data, &st, err) < 0)
        goto out;
    if (after && !desc)
        for (int c = 0; c < t->n_key; c++)
            bind_val(st, c + 1, &after[c]);
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
        for (int c = 0; c < t->n_cols; c++)
            read_val(st, c, t->types[c], &v[c]);
        if (cb(ud, v) != 0)
            break;
    }
    if (r != SQLITE_ROW && r != SQLITE_DONE) {
        dq_sq_fail(txn, err, t->name);
        goto out;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    dq_buf_free(&q);
    return rc;
}

static int copy_count(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *upto,
                      int64_t *n, dq_err_t *err)
{
    dq_buf_t q = {0};
    int rc = -1;
    dq_buf_printf(&q, "SELECT count(*) FROM %s", t->name);
    if (upto) {
        dq_buf_puts(&q, " WHERE ");
        key_cond(&q, t, "<=");
    }
    sqlite3_stmt *st = NULL;
    if (dq_sq_prepare(txn, q.data, &st, err) < 0)
        goto out;
    for (int c = 0; upto && c < t->n_key; c++)
        bind_val(st, c + 1, &upto[c]);
    if (dq_sq_row(txn, st, t->name, err) != 0)
        goto out;
    *n = sqlite3_column_int64(st, 0);
    rc = 0;
out:
    sqlite3_finalize(st);
    dq_buf_free(&q);
    return rc;
}

static int copy_put(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *rows,
                    int n_rows, int64_t *inserted, dq_err_t *err)
{
    dq_buf_t q = {0}, e = {0};
    sqlite3_stmt *st = NULL, *ex = NULL;
    int rc = -1;
    /* FTS5 has no conflict handling of its own: a stored rowid is looked up first */
    int fts = strcmp(t->name, "relic_fts") == 0;
    if (inserted)
        *inserted = 0;
    dq_buf_printf(&q, "INSERT OR IGNORE INTO %s (", t->name);
    put_cols(&q, t, t->n_cols);
    dq_buf_puts(&q, ") VALUES (");
    for (int c = 0; c < t->n_cols; c++)
        dq_buf_printf(&q, "%s?%d", c ? ", " : "", c + 1);
    dq_buf_puts(&q, ")");
    dq_buf_printf(&e, "SELECT 1 FROM %s WHERE rowid = ?1", t->name);
    if (dq_sq_prepare(txn, q.data, &st, err) < 0 ||
        (fts && dq_sq_prepare(txn, e.data, &ex, err) < 0))
        goto out;
    for (int r = 0; r < n_rows; r++) {
        const dq_store_val_t *v = rows + (size_t)r * t->n_cols;
        if (fts) {
            bind_val(ex, 1, &v[0]);
            int found = dq_sq_row(txn, ex, t->name, err);
            sqlite3_reset(ex);
            if (found < 0)
                goto out;
            if (found == 0)
                continue;
        }
        for (int c = 0; c < t->n_cols; c++)
            bind_val(st, c + 1, &v[c]);
        if (dq_sq_step_done(txn, st, err) < 0)
            goto out;
        if (inserted)
            *inserted += sqlite3_changes(txn->db) > 0;
    }
    rc = 0;
out:
    sqlite3_finalize(st);
    sqlite3_finalize(ex);
    dq_buf_free(&q);
    dq_buf_free(&e);
    return rc;
}

static int counter_get(dq_store_txn_t *txn, const char *table, int64_t *v, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(txn, "SELECT seq FROM sqlite_sequence WHERE name = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, table);
    int r = dq_sq_row(txn, st, "sqlite_sequence", err);
    *v = r == 0 ? sqlite3_column_int64(st, 0) : 0;
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int counter_raise(dq_store_txn_t *txn, const char *table, int64_t v, dq_err_t *err)
{
    int64_t have = 0;
    if (counter_get(txn, table, &have, err) < 0)
        return -1;
    if (have >= v)
        return 0;
    sqlite3_stmt *st = dq_sq_stmt(txn,
                                  "INSERT INTO sqlite_sequence (name, seq) SELECT ?1, ?2"
                                  " WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence"
                                  " WHERE name = ?1)",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, table);
    sqlite3_bind_int64(st, 2, v);
    if (dq_sq_step_done(txn, st, err) < 0)
        return -1;
    if (!(st = dq_sq_stmt(txn, "UPDATE sqlite_sequence SET seq = ?2 WHERE name = ?1", err)))
        return -1;
    dq_sq_bind_text(st, 1, table);
    sqlite3_bind_int64(st, 2, v);
    return dq_sq_step_done(txn, st, err);
}

const dq_store_copy_ops dq_sqlite_copy_ops = {
    .rows = copy_rows,
    .count = copy_count,
    .put = copy_put,
    .counter_get = counter_get,
    .counter_raise = counter_raise,
};
