/*
 * store_pg_copy.c: the generic table copy of the PostgreSQL backend (store.h "table copy",
 * `danqing migrate`, issue 15). Reads walk a table in key order (text keys under "C", the
 * byte order SQLite's BINARY uses, whatever the database's collation). A batch of rows is
 * written by one COPY into a temporary table and one INSERT ... SELECT ... ON CONFLICT DO
 * NOTHING, three round trips whatever its size. What this backend derives it derives here,
 * with the same helpers as its own writers: relic_fts.fts (fts_ab is generated from it; the
 * four texts the copy carries are not stored since migration 30: read, they are made from
 * the relic's document as snippets make them),
 * the terms and token counts of annotations and glossary entries (store_pg_text.c), and
 * users.ord (an identity column: given values are kept, its sequence is moved past them).
 * No policy: rows are stored as given.
 */
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- SQL pieces */

static void put_col(dq_buf_t *q, const dq_store_table_t *t, int c)
{
    dq_buf_puts(q, t->cols[c]);
    if (t->types[c] == 't')
        dq_buf_puts(q, " COLLATE \"C\"");
}

/* "(k1, k2) OP ($1, $2)" */
static void key_cond(dq_buf_t *q, const dq_store_table_t *t, const char *op)
{
    dq_buf_puts(q, "(");
    for (int c = 0; c < t->n_key; c++) {
        if (c)
            dq_buf_puts(q, ", ");
        put_col(q, t, c);
    }
    dq_buf_printf(q, ") %s (", op);
    for (int c = 0; c < t->n_key; c++)
        dq_buf_printf(q, "%s$%d", c ? ", " : "", c + 1);
    dq_buf_puts(q, ")");
}

static void bind_keys(pg_params_t *p, const dq_store_table_t *t, const dq_store_val_t *v)
{
    for (int c = 0; c < t->n_key; c++) {
        if (v[c].type == DQ_VAL_INT)
            dq_pg_p_int(p, v[c].i);
        else if (v[c].type == DQ_VAL_NULL)
            dq_pg_p_text(p, NULL);
        else
            dq_pg_p_textn(p, v[c].p, v[c].len);
    }
}

static int hexval(int ch)
{
    return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* ---------------------------------------------------------------- reads */

static int copy_rows(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *after,
                     int inclusive, int desc, int limit, dq_store_row_cb cb, void *ud,
                     dq_err_t *err)
{
    dq_buf_t q = {0}, blob = {0}, texts[4] = {{0}};
    dq_store_val_t v[32];
    pg_params_t p = {0};
    PGresult *res = NULL;
    int rc = -1, fts = strcmp(t->name, "relic_fts") == 0;
    DQ_ASSERT(t->n_cols <= (int)DQ_ARRAY_LEN(v));
    DQ_ASSERT(!fts || t->n_cols == 5);
    dq_buf_puts(&q, "SELECT ");
    if (fts) /* seq and the four texts, which are made from the document (migration 30) */
        dq_buf_puts(&q, "seq, doc FROM relic_fts JOIN relics USING (seq)");
    for (int c = 0; !fts && c < t->n_cols; c++)
        dq_buf_printf(&q, "%s%s", c ? ", " : "", t->cols[c]);
    if (!fts)
        dq_buf_printf(&q, " FROM %s", t->name);
    if (after && !desc) {
        dq_buf_puts(&q, " WHERE ");
        key_cond(&q, t, inclusive ? ">=" : ">");
        bind_keys(&p, t, after);
    }
    dq_buf_puts(&q, " ORDER BY ");
    for (int c = 0; c < t->n_key; c++) {
        if (c)
            dq_buf_puts(&q, ", ");
        put_col(&q, t, c);
        if (desc)
            dq_buf_puts(&q, " DESC");
    }
    dq_buf_printf(&q, " LIMIT %d", limit);
    /* not dq_pg_exec: it knows prepared statements by the text's address, which q's next text
     * may reuse */
    if (!(res = dq_pg_exec_once(txn, q.data, &p, err)))
        goto out;
    for (int r = 0; r < PQntuples(res); r++) {
        dq_buf_reset(&blob);
        if (fts) {
            memset(v, 0, 5 * sizeof(v[0]));
            v[0].type = DQ_VAL_INT;
            v[0].i = strtoll(PQgetvalue(res, r, 0), NULL, 10);
            if (dq_relic_fts_fields(PQgetvalue(res, r, 1), (size_t)PQgetlength(res, r, 1),
                                    texts) < 0) {
                dq_err_set(err, DQ_EIO, 500, "catalog: relic %lld: its document is not JSON",
                           (long long)v[0].i);
                goto out;
            }
            for (int k = 0; k < 4; k++) {
                v[1 + k].type = DQ_VAL_TEXT;
                v[1 + k].p = texts[k].data ? texts[k].data : "";
                v[1 + k].len = texts[k].len;
            }
            if (cb(ud, v) != 0)
                break;
            continue;
        }
        for (int c = 0; c < t->n_cols; c++) {
            memset(&v[c], 0, sizeof(v[c]));
            if (PQgetisnull(res, r, c))
                continue;
            const char *s = PQgetvalue(res, r, c);
            size_t len = (size_t)PQgetlength(res, r, c);
            if (t->types[c] == 'i') {
                v[c].type = DQ_VAL_INT;
                v[c].i = strtoll(s, NULL, 10);
            } else if (t->types[c] == 'b') {
                /* bytea's text output: \x then two hex digits a byte */
                size_t off = blob.len;
                for (size_t k = 2; k + 1 < len; k += 2)
                    dq_buf_putc(&blob, (char)(hexval(s[k]) << 4 | hexval(s[k + 1])));
                v[c].type = DQ_VAL_BLOB;
                v[c].p = (const char *)(uintptr_t)off;
                v[c].len = blob.len - off;
            } else {
                v[c].type = DQ_VAL_TEXT;
                v[c].p = s;
                v[c].len = len;
            }
        }
        for (int c = 0; c < t->n_cols; c++)
            if (v[c].type == DQ_VAL_BLOB)
                v[c].p = blob.data ? blob.data + (uintptr_t)v[c].p : "";
        if (cb(ud, v) != 0)
            break;
    }
    rc = 0;
out:
    PQclear(res);
    dq_buf_free(&q);
    dq_buf_free(&blob);
    for (int k = 0; k < 4; k++)
        dq_buf_free(&texts[k]);
    return rc;
}

static int copy_count(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *upto,
                      int64_t *n, dq_err_t *err)
{
    dq_buf_t q = {0};
    pg_params_t p = {0};
    dq_buf_printf(&q, "SELECT count(*) FROM %s", t->name);
    if (upto) {
        dq_buf_puts(&q, " WHERE ");
        key_cond(&q, t, "<=");
        bind_keys(&p, t, upto);
    }
    PGresult *res = dq_pg_exec_once(txn, q.data, &p, err);
    dq_buf_free(&q);
    if (!res)
        return -1;
    *n = dq_pg_col_int(res, 0, 0);
    PQclear(res);
    return 0;
}

/* ---------------------------------------------------------------- writes */

/* Appends s[0..len) as a field of COPY's text format (backslash escapes). */
static void copy_text(dq_buf_t *b, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        switch (ch) {
        case '\\':
            dq_buf_puts(b, "\\\\");
            break;
        case '\n':
            dq_buf_puts(b, "\\n");
            break;
        case '\r':
            dq_buf_puts(b, "\\r");
            break;
        case '\t':
            dq_buf_puts(b, "\\t");
            break;
        default:
            dq_buf_putc(b, ch);
        }
    }
}

static void copy_val(dq_buf_t *b, const dq_store_val_t *v)
{
    static const char hex[] = "0123456789abcdef";
    switch (v->type) {
    case DQ_VAL_INT:
        dq_buf_printf(b, "%lld", (long long)v->i);
        break;
    case DQ_VAL_TEXT:
        copy_text(b, v->p ? v->p : "", v->len);
        break;
    case DQ_VAL_BLOB: /* bytea's hex input, its backslash escaped for COPY */
        dq_buf_puts(b, "\\\\x");
        for (size_t i = 0; i < v->len; i++) {
            unsigned char u = (unsigned char)v->p[i];
            dq_buf_putc(b, hex[u >> 4]);
            dq_buf_putc(b, hex[u & 15]);
        }
        break;
    default:
        dq_buf_puts(b, "\\N");
    }
}

/* The columns this backend derives for table t, after the copied ones ("" when none). */
static const char *derived(const dq_store_table_t *t)
{
    if (strcmp(t->name, "relic_fts") == 0)
        return ", fts";
    if (strcmp(t->name, "annotations") == 0 || strcmp(t->name, "glossary") == 0)
        return ", ntok, terms";
    return "";
}

/* The index of column name in t, -1 when absent. */
static int col_of(const dq_store_table_t *t, const char *name)
{
    for (int c = 0; c < t->n_cols; c++)
        if (strcmp(t->cols[c], name) == 0)
            return c;
    return -1;
}

static const char *val_str(const dq_store_val_t *v, dq_buf_t *tmp)
{
    dq_buf_reset(tmp);
    if (v->type == DQ_VAL_TEXT)
        dq_buf_append(tmp, v->p ? v->p : "", v->len);
    dq_buf_putc(tmp, '\0');
    return v->type == DQ_VAL_TEXT ? tmp->data : NULL;
}

/* Appends the derived columns' COPY fields of one row. */
static void add_derived(dq_store_txn_t *txn, dq_buf_t *b, const dq_store_table_t *t,
                        const dq_store_val_t *v, dq_buf_t *tsv, dq_buf_t tmp[4])
{
    dq_buf_reset(tsv);
    if (derived(t)[0]) { /* annotations, glossary (relic_fts goes in binary: fts_binary) */
        int64_t ntok = 0;
        const char *f[1] = {val_str(&v[col_of(t, "fts")], &tmp[0])};
        dq_pg_tsvector(txn->search, f, 1, 1, tsv, &ntok);
        dq_buf_printf(b, "\t%lld\t", (long long)ntok);
        copy_text(b, tsv->data ? tsv->data : "", tsv->len);
    }
}

/* Appends v big-endian in n bytes (COPY's binary format). */
static void bin_int(dq_buf_t *b, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--)
        dq_buf_putc(b, (char)(v >> (8 * i) & 0xff));
}

/* relic_fts rows in COPY's binary format (as store_pg_relic.c's imports send them: the
 * server then receives the tsvector instead of parsing its literal, which was most of its
 * time): seq int8 and fts, made from the four texts (which are not stored: migration 30). */
static void fts_binary(dq_store_txn_t *txn, dq_buf_t *b, const dq_store_val_t *rows, int n_rows,
                       dq_buf_t *tsv, dq_buf_t tmp[4])
{
    dq_buf_append(b, "PGCOPY\n\377\r\n\0\0\0\0\0\0\0\0\0", 19);
    for (int r = 0; r < n_rows; r++) {
        const dq_store_val_t *v = rows + (size_t)r * 5;
        const char *f[4];
        bin_int(b, 2, 2);
        bin_int(b, 8, 4);
        bin_int(b, (uint64_t)v[0].i, 8);
        for (int k = 0; k < 4; k++)
            f[k] = val_str(&v[1 + k], &tmp[k]);
        dq_buf_reset(tsv);
        dq_pg_tsvector_bin(txn->search, f, 4, DQ_PG_RELIC_TSV, tsv);
        bin_int(b, (uint32_t)tsv->len, 4);
        dq_buf_append(b, tsv->data ? tsv->data : "", tsv->len);
    }
    bin_int(b, 0xffff, 2); /* the trailer */
}

static int copy_put(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *rows,
                    int n_rows, int64_t *inserted, dq_err_t *err)
{
    dq_buf_t q = {0}, cols = {0}, data = {0}, tsv = {0}, tmp[4] = {{0}};
    PGresult *res = NULL;
    int rc = -1, is_users = strcmp(t->name, "users") == 0;
    int64_t n = 0;
    if (inserted)
        *inserted = 0;
    if (n_rows == 0)
        return 0;
    int binary = strcmp(t->name, "relic_fts") == 0;
    for (int c = 0; c < (binary ? 1 : t->n_cols); c++) /* relic_fts: seq (its texts: fts) */
        dq_buf_printf(&cols, "%s%s", c ? ", " : "", t->cols[c]);
    dq_buf_puts(&cols, derived(t));
    if (binary)
        fts_binary(txn, &data, rows, n_rows, &tsv, tmp);
    for (int r = 0; !binary && r < n_rows; r++) {
        const dq_store_val_t *v = rows + (size_t)r * t->n_cols;
        for (int c = 0; c < t->n_cols; c++) {
            if (c)
                dq_buf_putc(&data, '\t');
            copy_val(&data, &v[c]);
        }
        add_derived(txn, &data, t, v, &tsv, tmp);
        dq_buf_putc(&data, '\n');
    }
    /* a staging table of this transaction: the copied columns and the derived ones */
    if (!(res = dq_pg_exec_once(txn, "DROP TABLE IF EXISTS pg_temp.dq_copy_in", NULL, err)))
        goto out;
    PQclear(res);
    dq_buf_printf(&q,
                  "CREATE TEMP TABLE dq_copy_in ON COMMIT DROP AS SELECT %s FROM %s"
                  " WITH NO DATA",
                  cols.data, t->name);
    if (!(res = dq_pg_exec_once(txn, q.data, NULL, err)))
        goto out;
    PQclear(res);
    res = NULL;
    dq_buf_reset(&q);
    dq_buf_printf(&q, "COPY dq_copy_in (%s) FROM STDIN%s", cols.data,
                  binary ? " (FORMAT binary)" : "");
    if (dq_pg_copy_in(txn, q.data, data.data, data.len, err) < 0)
        goto out;
    dq_buf_reset(&q);
    dq_buf_printf(&q, "INSERT INTO %s (%s)%s SELECT %s FROM dq_copy_in ON CONFLICT DO NOTHING",
                  t->name, cols.data, is_users ? " OVERRIDING SYSTEM VALUE" : "", cols.data);
    if (!(res = dq_pg_exec_once(txn, q.data, NULL, err)))
        goto out;
    const char *nt = PQcmdTuples(res);
    n = nt && *nt ? strtoll(nt, NULL, 10) : 0;
    PQclear(res);
    res = NULL;
    /* the identity's next value comes after every kept ord */
    if (is_users && !(res = dq_pg_exec_once(txn,
                                            "SELECT setval(pg_get_serial_sequence('users', "
                                            "'ord'), (SELECT max(ord) FROM users))",
                                            NULL, err)))
        goto out;
    if (inserted)
        *inserted = n;
    rc = 0;
out:
    PQclear(res);
    dq_buf_free(&q);
    dq_buf_free(&cols);
    dq_buf_free(&data);
    dq_buf_free(&tsv);
    for (int k = 0; k < 4; k++)
        dq_buf_free(&tmp[k]);
    return rc;
}

/* ---------------------------------------------------------------- counters */

static int counter_get(dq_store_txn_t *txn, const char *table, int64_t *v, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, table);
    *v = 0;
    int r = dq_pg_int(txn, "SELECT value FROM dq_counters WHERE name = $1", &p, v, err);
    return r < 0 ? -1 : 0;
}

static int counter_raise(dq_store_txn_t *txn, const char *table, int64_t v, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, table);
    dq_pg_p_int(&p, v);
    /* the transaction's cached next relic seq (store_pg_relic.c) is asked again */
    txn->next_relic_seq = 0;
    return dq_pg_run(txn,
                     "INSERT INTO dq_counters (name, value) VALUES ($1, $2::bigint)"
                     " ON CONFLICT (name) DO UPDATE SET value = greatest(dq_counters.value,"
                     " excluded.value)",
                     &p, NULL, err);
}

const dq_store_copy_ops dq_pg_copy_ops = {
    .rows = copy_rows,
    .count = copy_count,
    .put = copy_put,
    .counter_get = counter_get,
    .counter_raise = counter_raise,
};
