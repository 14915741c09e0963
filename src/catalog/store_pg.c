/*
 * store_pg.c: the PostgreSQL backend of the catalog (issue 15): opening by URL
 * (postgres://user@host:port/db, any libpq connection URI; the schema is whatever the
 * connection's search_path names first, so that several catalogs can share one database),
 * migrations, the connections and transactions (see store_pg_internal.h for the model), the
 * helpers every store_pg*.c file uses, the audit trail with its change feed, and the change
 * notifications that let several servers share one catalog (LISTEN/NOTIFY).
 *
 * The schema grows by its own ordered list of migrations, numbered as SQLite's are (the same
 * version means the same objects), each applied in one transaction under the writers'
 * advisory lock together with its schema_version row, so that two processes opening a fresh
 * catalog at once apply each exactly once.
 *
 * Row ids that SQLite takes from AUTOINCREMENT (relics.seq, annotation and tour ids) come
 * from a counter table updated in the writing transaction: like sqlite_sequence they are
 * never reused and a rolled-back insert takes nothing (a PostgreSQL sequence would skip).
 * Audit seq is max + 1 under the writers' lock, so it equals the number of rows as on SQLite.
 */
#define _GNU_SOURCE
#include "catalog.h"
#include "store_pg_internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The advisory lock's first key: "dq" (the second is the schema's hash). */
#define PG_LOCK_KEY1 0x6471

/* ---------------------------------------------------------------- migrations */

typedef struct {
    int version;
    const char *what;
    const char *sql;
} migration_t;

/* What runs after a migration's sql in its transaction, for a change SQL cannot make (the
 * tokenizer is ours: migration 25 makes every relic's tsvector again). */
static const struct {
    int version;
    int (*then)(dq_store_txn_t *t, dq_err_t *err);
} migration_then[] = {
    {25, dq_pg_relic_pairs_rebuild}, /* store_pg_relic_search.c */
};

/* Migration 8 on SQLite adds an FTS5 vocabulary table that bounds matches before they run;
 * PostgreSQL has no use for it (match_bound is left out), but the version is kept in step. */
static const char noop_schema[] = "SELECT 1";

/* Append only, with the version SQLite uses for the same objects. As on SQLite, a migration
 * is applied when its own schema_version row is missing, so versions may arrive in any
 * order (9..14 belong to parallel issues). */
static const migration_t migrations[] = {
    {1, "images and audit", dq_pg_image_schema},
    {2, "pending image journal", dq_pg_pending_schema},
    {3, "relics, facets, image links, full-text index", dq_pg_relic_schema},
    {4, "users, sessions, API tokens", dq_pg_account_schema},
    {5, "annotations, their full-text index, tours", dq_pg_annotation_schema},
    {6, "relic names for the search dictionary", dq_pg_relic_names_schema},
    {7, "user names folded to lower case", dq_pg_account_fold_schema},
    {8, "relic full-text vocabulary (SQLite only)", noop_schema},
    {13, "educator role, lessons, glossary", dq_pg_lesson_schema}, /* store_pg_lesson.c */
    /* store_pg_kinds.c */
    {9, "spectral captures and derived layers", dq_pg_spectral_schema},
    {10, "condition records", dq_pg_condition_schema},
    {11, "style embeddings and attribution models", dq_pg_style_schema},
    {12, "scene layer sets", dq_pg_scene_schema},
    {14, "relic tombstones, datestamp and change-feed indexes", dq_pg_network_schema},
    {15, "relics withdrawn from public view", dq_pg_withdrawal_schema},
    {17, "IIIF Authorization Flow 2.0 access cookies and tokens",
     dq_pg_iiif_auth_schema}, /* store_pg_iiif_auth.c */
    {18, "relic title and creators full-text index", dq_pg_relic_title_schema}, /* _relic.c */
    {19, "withdrawals of relics restricted before migration 15, from the audit trail",
     dq_pg_withdrawal_backfill}, /* store_pg_kinds.c */
    {23, "relic search tables compressed with lz4", dq_pg_relic_lz4_schema}, /* _relic.c */
    {24, "condition jobs shared by every server", dq_pg_condjob_schema}, /* _condjob.c */
    {25, "relic search: pair lexemes and markers in relic_fts",
     dq_pg_relic_pairs_schema}, /* store_pg_relic_search.c, and migration_then */
    {26, "relics without child foreign keys, unread btrees or row triggers on insert",
     dq_pg_bulk_schema}, /* store_pg_kinds.c */
    {29, "layer file checksums; condition jobs' work for the undo of a stopped job",
     dq_pg_layerfile_schema}, /* store_pg_layerfile.c */
    {32, "work journals seen by every node", dq_pg_journal_schema}, /* store_pg_journal.c */
    {28, "relic search table analyzed when grown by half", dq_pg_relic_analyze_schema}, /* _relic.c */
    {30, "relic search table without its texts (snippets read the document)",
     dq_pg_relic_texts_schema}, /* _relic.c */
    {31, "deleted relics' seqs, for the search's posting bitmaps",
     dq_pg_relic_gone_schema}, /* store_pg_postings.c */
    {33, "pending image journal: one row per ingest run", dq_pg_pending_run_schema}, /* _image.c */
};

/* ---------------------------------------------------------------- parameters and errors */

void dq_pg_p_text(pg_params_t *p, const char *s)
{
    DQ_ASSERT(p->n < DQ_PG_MAX_PARAMS);
    p->v[p->n] = s;
    p->len[p->n] = s ? (int)strlen(s) : 0;
    p->n++;
}

void dq_pg_p_textn(pg_params_t *p, const char *s, size_t len)
{
    DQ_ASSERT(p->n < DQ_PG_MAX_PARAMS);
    p->v[p->n] = s;
    p->len[p->n] = (int)len;
    p->n++;
}

void dq_pg_p_int(pg_params_t *p, int64_t v)
{
    DQ_ASSERT(p->n < DQ_PG_MAX_PARAMS);
    snprintf(p->num[p->n], sizeof(p->num[p->n]), "%lld", (long long)v);
    p->v[p->n] = p->num[p->n];
    p->len[p->n] = (int)strlen(p->num[p->n]);
    p->n++;
}

/* Fills err from a failed result (or the connection's message when res is NULL). */
int dq_pg_fail(dq_store_txn_t *t, PGresult *res, const char *what, dq_err_t *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = res ? PQresultErrorMessage(res) : PQerrorMessage(t->pc->conn);
    char m[400];
    snprintf(m, sizeof(m), "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    t->failed = 1;
    if (state && strcmp(state, "23505") == 0)
        return dq_err_set(err, DQ_EEXIST, 409, "catalog: %s: %s", what, m);
    if (state && strcmp(state, "23503") == 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "catalog: %s: %s", what, m);
    if (state && strcmp(state, "55P03") == 0) /* lock_timeout: say whose wait it was */
        return dq_err_set(err, DQ_EBUSY, 503,
                          "catalog: %s: the database is busy, try again (a lock wait timed out:"
                          " another session holds or waits for a lock on these tables, e.g."
                          " DDL)",
                          what);
    if (state &&
        (strcmp(state, "57014") == 0 ||
         strcmp(state, "40P01") == 0 || strcmp(state, "40001") == 0 || strcmp(state, "53300") == 0))
        return dq_err_set(err, DQ_EBUSY, 503, "catalog: %s: the database is busy, try again", what);
    return dq_err_set(err, DQ_EIO, 500, "catalog: %s: %s", what, m);
}

static PGresult *check(dq_store_txn_t *t, PGresult *res, const char *what, dq_err_t *err)
{
    ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_SINGLE_TUPLE)
        return res;
    dq_pg_fail(t, res, what, err);
    PQclear(res);
    return NULL;
}

/* The connection's prepared statement for sql, prepared now when new; NULL with err. */
static const char *prepared(dq_store_txn_t *t, const char *sql, int n_params, dq_err_t *err)
{
    pg_conn_t *c = t->pc;
    /* By pointer first (literals), confirmed by text: a caller's buffer may hold other SQL
     * at the same address later. */
    for (size_t i = 0; i < c->n_stmts; i++)
        if (c->stmts[i].ptr == sql && strcmp(c->stmts[i].sql, sql) == 0)
            return c->stmts[i].name;
    for (size_t i = 0; i < c->n_stmts; i++)
        if (strcmp(c->stmts[i].sql, sql) == 0) {
            c->stmts[i].ptr = sql;
            return c->stmts[i].name;
        }
    if (c->n_stmts == c->cap_stmts) {
        c->cap_stmts = c->cap_stmts ? c->cap_stmts * 2 : 32;
        c->stmts = dq_xrealloc(c->stmts, c->cap_stmts * sizeof(*c->stmts));
    }
    pg_prepared_t *p = &c->stmts[c->n_stmts];
    snprintf(p->name, sizeof(p->name), "s%zu", c->n_stmts);
    (void)n_params;
    PGresult *res = check(t, PQprepare(c->conn, p->name, sql, 0, NULL), "prepare", err);
    if (!res)
        return NULL;
    PQclear(res);
    p->sql = dq_xstrdup(sql);
    p->ptr = sql;
    c->n_stmts++;
    return p->name;
}

/* ---------------------------------------------------------------- writes sent by a thread */

/* 1 on the thread dq_pg_send_async started, while it runs fn: its own statements must not
 * wait for themselves. Per-thread. */
static _Thread_local int on_sender;

static void *sender_main(void *arg)
{
    dq_store_txn_t *t = arg;
    on_sender = 1;
    dq_err_clear(&t->send_err);
    t->send_rc = t->send_fn(t, t->send_job, &t->send_err);
    on_sender = 0;
    return NULL;
}

int dq_pg_sync(dq_store_txn_t *t, dq_err_t *err)
{
    if (!t->sending || on_sender)
        return 0;
    pthread_join(t->sender, NULL); /* the join orders the sender's writes before ours */
    t->sending = 0;
    t->send_free(t->send_job);
    t->send_job = NULL;
    if (t->send_rc < 0) {
        t->failed = 1;
        if (err)
            *err = t->send_err;
        return -1;
    }
    return 0;
}

int dq_pg_send_async(dq_store_txn_t *t, int (*fn)(dq_store_txn_t *t, void *job, dq_err_t *err),
                     void (*free_fn)(void *job), void *job, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0) {
        free_fn(job);
        return -1;
    }
    t->send_fn = fn;
    t->send_free = free_fn;
    t->send_job = job;
    t->sending = 1;
    if (pthread_create(&t->sender, NULL, sender_main, t) == 0)
        return 0;
    t->sending = 0; /* no thread: send here */
    int rc = fn(t, job, err);
    free_fn(job);
    t->send_job = NULL;
    return rc;
}

PGresult *dq_pg_exec(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return NULL;
    const char *name = prepared(t, sql, params ? params->n : 0, err);
    if (!name)
        return NULL;
    return check(t,
                 PQexecPrepared(t->pc->conn, name, params ? params->n : 0,
                                params ? params->v : NULL, params ? params->len : NULL, NULL, 0),
                 "query", err);
}

PGresult *dq_pg_exec_once(dq_store_txn_t *t, const char *sql, const pg_params_t *params,
                          dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return NULL;
    return check(t,
                 PQexecParams(t->pc->conn, sql, params ? params->n : 0, NULL,
                              params ? params->v : NULL, params ? params->len : NULL, NULL, 0),
                 "query", err);
}

int dq_pg_run(dq_store_txn_t *t, const char *sql, const pg_params_t *params, int64_t *changed,
              dq_err_t *err)
{
    PGresult *res = dq_pg_exec(t, sql, params, err);
    if (!res)
        return -1;
    if (changed) {
        const char *n = PQcmdTuples(res);
        *changed = n && *n ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(res);
    return 0;
}

int dq_pg_int(dq_store_txn_t *t, const char *sql, const pg_params_t *params, int64_t *v,
              dq_err_t *err)
{
    PGresult *res = dq_pg_exec(t, sql, params, err);
    if (!res)
        return -1;
    int rc = PQntuples(res) > 0 ? 0 : 1;
    if (rc == 0)
        *v = dq_pg_col_int(res, 0, 0);
    PQclear(res);
    return rc;
}

int dq_pg_walk(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_pg_row_cb cb,
               void *ud, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return -1;
    const char *name = prepared(t, sql, params ? params->n : 0, err);
    PGconn *c = t->pc->conn;
    if (!name)
        return -1;
    if (!PQsendQueryPrepared(c, name, params ? params->n : 0, params ? params->v : NULL,
                             params ? params->len : NULL, NULL, 0))
        return dq_pg_fail(t, NULL, "query", err);
    PQsetSingleRowMode(c);
    int rc = 0, stop = 0;
    PGresult *res;
    while ((res = PQgetResult(c)) != NULL) {
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_SINGLE_TUPLE) {
            if (!stop && rc == 0 && cb(ud, res) != 0)
                stop = 1; /* the rest is drained: the connection must be idle again */
        } else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK && rc == 0) {
            dq_pg_fail(t, res, "query", err);
            rc = -1;
        }
        PQclear(res);
    }
    return rc;
}

int dq_pg_copy_in(dq_store_txn_t *t, const char *sql, const char *data, size_t len,
                  dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return -1;
    PGconn *c = t->pc->conn;
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_COPY_IN) {
        dq_pg_fail(t, r, "copy", err);
        PQclear(r);
        return -1;
    }
    PQclear(r);
    int ok = 1;
    for (size_t off = 0; ok && off < len;) { /* in pieces: PQputCopyData takes an int */
        size_t k = DQ_MIN(len - off, (size_t)1 << 20);
        ok = PQputCopyData(c, data + off, (int)k) == 1;
        off += k;
    }
    ok = PQputCopyEnd(c, ok ? NULL : "the client failed to send") == 1 && ok;
    int rc = 0;
    while ((r = PQgetResult(c)) != NULL) {
        if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
            rc = dq_pg_fail(t, r, "copy", err);
        PQclear(r);
    }
    if (!ok && rc == 0)
        rc = dq_pg_fail(t, NULL, "copy", err);
    return rc;
}

const char *dq_pg_col(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? NULL : PQgetvalue(res, r, c);
}

int64_t dq_pg_col_int(PGresult *res, int r, int c)
{
    return PQgetisnull(res, r, c) ? 0 : strtoll(PQgetvalue(res, r, c), NULL, 10);
}

void dq_pg_copy_col(char *dst, size_t cap, PGresult *res, int r, int c)
{
    const char *v = dq_pg_col(res, r, c);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* ---------------------------------------------------------------- connections */

static void conn_close(pg_conn_t *c)
{
    for (size_t i = 0; i < c->n_stmts; i++)
        free(c->stmts[i].sql);
    free(c->stmts);
    PQfinish(c->conn);
    memset(c, 0, sizeof(*c));
}

/* Forgets the prepared statements (after a reconnect the server has none). */
static void conn_forget(pg_conn_t *c)
{
    for (size_t i = 0; i < c->n_stmts; i++)
        free(c->stmts[i].sql);
    c->n_stmts = 0;
}

static PGconn *connect_url(const char *url, dq_err_t *err)
{
    PGconn *c = PQconnectdb(url);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char m[300];
        snprintf(m, sizeof(m), "%s", c ? PQerrorMessage(c) : "out of memory");
        size_t n = strlen(m);
        while (n && m[n - 1] == '\n')
            m[--n] = '\0';
        dq_err_set(err, DQ_EIO, 500, "catalog: cannot connect to PostgreSQL: %s", m);
        PQfinish(c);
        return NULL;
    }
    /* Text results in UTF-8 and times in UTC, whatever the server's defaults. */
    PGresult *r = PQexec(c, "SET client_encoding = 'UTF8'; SET TIME ZONE 'UTC';"
                            " SET client_min_messages = warning");
    PQclear(r);
    return c;
}

static int conn_open(pg_store_t *s, pg_conn_t *c, dq_err_t *err)
{
    c->conn = connect_url(s->conninfo, err);
    return c->conn ? 0 : -1;
}

/* A connection that broke (the server restarted) is opened again before it is used: a
 * server node must outlive a database failover. */
static int conn_ensure(pg_store_t *s, pg_conn_t *c, dq_err_t *err)
{
    if (c->conn && PQstatus(c->conn) == CONNECTION_OK)
        return 0;
    conn_forget(c);
    PQfinish(c->conn);
    c->conn = NULL;
    return conn_open(s, c, err);
}

static void txn_bind(pg_store_t *s, dq_store_txn_t *t, pg_conn_t *c, int write)
{
    t->store = s;
    t->pc = c;
    t->search = s->search;
    t->write = write;
    t->failed = 0;
    t->n_audit = t->n_audit_gone = 0;
    t->next_relic_seq = 0;
    t->fts = NULL;
    t->fts_b = NULL;
    t->n_b = 0;
    t->fts_turn = 0;
    t->xid[0] = '\0';
    t->audit_sent = 0;
    t->has_audit_at = 0;
    t->n_pre = 0;
    dq_buf_reset(&t->pre_text);
    dq_buf_reset(&t->a_who);
    dq_buf_reset(&t->a_action);
    dq_buf_reset(&t->a_object);
    dq_buf_reset(&t->a_detail);
}

/* ---------------------------------------------------------------- transactions */

/* Runs a transaction-control text (several statements allowed) on t's connection; where v is
 * not NULL, the integer its last statement gives goes into *v. */
static int control_int(dq_store_txn_t *t, const char *sql, int64_t *v, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return -1;
    PGresult *r = check(t, PQexec(t->pc->conn, sql), "transaction", err);
    if (!r)
        return -1;
    if (v)
        *v = PQntuples(r) ? dq_pg_col_int(r, 0, 0) : 0;
    PQclear(r);
    return 0;
}

static int control(dq_store_txn_t *t, const char *sql, dq_err_t *err)
{
    return control_int(t, sql, NULL, err);
}

/* ---------------------------------------------------------------- two-phase commit
 *
 * A write transaction that wrote relic_fts through its second half (dq_pg_fts_half) commits
 * in three steps (store_commit): the second half is prepared (PREPARE TRANSACTION, under the
 * name dq_fts_<schema's lock key>_<the first half's xid>: from here it outlives either
 * connection), the first committed, then the second (COMMIT PREPARED). The writers' lock is
 * held at session level from before the first commit until after the second, so that no
 * other writer sees one half without the other. A writer that dies in between leaves a
 * prepared second half behind, which the next writer of the catalog (store_begin) or the next
 * process to open it settles under the writers' lock: committed where its first half
 * committed (pg_xact_status), rolled back where it aborted. Under that lock a first half is
 * never still running (it holds the lock until it ends). Until then readers may see the
 * first half's relics without their search rows, never the reverse, and a write to those
 * rows waits for the settlement (lock_timeout: 503).
 *
 * An import's search rows go through two search halves in turn (dq_pg_fts_bulk_half: two
 * server processes keep the GIN indexes at once, docs/deploy.md "Bulk loads"): the second is
 * prepared as dq_ftb_<key>_<xid>, the same xid, and settled by the same rule, so both follow
 * the first half's outcome. It needs room for two prepared transactions at once
 * (max_prepared_transactions >= 2); with one, an import keeps to one search half. */

/* The SQL condition on pg_prepared_xacts.gid that names this catalog's search halves: dq_fts_
 * (the first, with the audit rows) and dq_ftb_ (an import's other one), each followed by the
 * lock key and the first half's xid (from the 17th character on). By gid, dq_ftb_ comes
 * first: settled in that order, the audit rows become visible last, as at commit. */
static void orphan_cond(const pg_store_t *s, char *buf, size_t cap)
{
    snprintf(buf, cap, "(starts_with(gid, 'dq_fts_%08x_') OR starts_with(gid, 'dq_ftb_%08x_'))",
             (unsigned)s->lock_key, (unsigned)s->lock_key);
}

/* Settles dq_fts_ and dq_ftb_ prepared transactions of this catalog (see above), outside a
 * transaction, on t's connection: 0, or -1 with err. */
static int settle(pg_store_t *s, dq_store_txn_t *t, dq_err_t *err)
{
    char sql[256];
    PGconn *c = t->pc->conn;
    snprintf(sql, sizeof(sql),
             "SET lock_timeout = %d; SELECT pg_advisory_lock(%d, %d); RESET lock_timeout",
             atomic_load(&s->write_wait_ms), PG_LOCK_KEY1, s->lock_key);
    PGresult *r = check(t, PQexec(c, sql), "settle", err);
    if (!r) {
        r = PQexec(c, "RESET lock_timeout");
        PQclear(r);
        return -1;
    }
    PQclear(r);
    char cond[128];
    orphan_cond(s, cond, sizeof(cond));
    snprintf(sql, sizeof(sql),
             "SELECT gid, pg_xact_status(substr(gid, 17)::xid8) FROM pg_prepared_xacts"
             " WHERE database = current_database() AND %s ORDER BY gid",
             cond);
    int rc = 0, committed = 0;
    r = check(t, PQexec(c, sql), "settle", err);
    if (!r)
        rc = -1;
    for (int i = 0; r && i < PQntuples(r) && rc == 0; i++) {
        const char *st = dq_pg_col(r, i, 1);
        if (!st || (strcmp(st, "committed") != 0 && strcmp(st, "aborted") != 0))
            continue; /* not decided (cannot happen under the lock): left as it is */
        char q[128];
        snprintf(q, sizeof(q), "%s PREPARED '%s'",
                 strcmp(st, "committed") == 0 ? "COMMIT" : "ROLLBACK", PQgetvalue(r, i, 0));
        PGresult *x = check(t, PQexec(c, q), "settle", err);
        rc = x ? 0 : -1;
        committed += x && strcmp(st, "committed") == 0;
        PQclear(x);
    }
    PQclear(r);
    /* the other processes learn of the committed writes at once (the dead writer never
     * told them) */
    snprintf(sql, sizeof(sql), "%s%s%sSELECT pg_advisory_unlock(%d, %d)",
             committed ? "NOTIFY " : "", committed ? s->channel : "", committed ? "; " : "",
             PG_LOCK_KEY1, s->lock_key);
    r = PQexec(c, sql);
    PQclear(r);
    t->failed = 0;
    return rc;
}

/* Begins a search half f of t on connection c. Its lock waits are bounded like the first
 * half's (store_begin's lock_timeout): the two halves wait for each other through this
 * process, where PostgreSQL's deadlock check cannot see it, so a lock the search half queues
 * for behind another session that waits for the first half (DDL such as DROP SCHEMA or LOCK
 * TABLE during an import) would otherwise hold all three forever; with it the write fails
 * (DQ_EBUSY), both halves roll back, and the other session goes on. */
static int half_begin(dq_store_txn_t *t, dq_store_txn_t *f, pg_conn_t *c, dq_err_t *err)
{
    pg_store_t *s = t->store;
    char sql[80];
    snprintf(sql, sizeof(sql), "BEGIN; SET LOCAL lock_timeout = %d",
             atomic_load(&s->write_wait_ms));
    txn_bind(s, f, c, 0);
    if (conn_ensure(s, f->pc, err) < 0 || control(f, sql, err) < 0) {
        t->failed = 1; /* the caller's write fails, and with it the transaction */
        return -1;
    }
    return 0;
}

dq_store_txn_t *dq_pg_fts_half(dq_store_txn_t *t, dq_err_t *err)
{
    pg_store_t *s = t->store;
    /* audit rows sent on t already would become visible before the search rows */
    if (t->fts || !t->write || t != &s->wtxn || !s->two_phase || t->audit_sent)
        return t->fts ? t->fts : t;
    if (s->two_phase < 0) {
        int64_t n = 0;
        if (dq_pg_int(t, "SELECT current_setting('max_prepared_transactions')::int", NULL, &n,
                      err) < 0)
            return NULL;
        s->two_phase = n > 1 ? 2 : (int)n; /* 2: room for both of an import's search halves */
        if (!s->two_phase)
            return t;
    }
    PGresult *r = dq_pg_exec(t, "SELECT pg_current_xact_id()::text", NULL, err);
    if (!r)
        return NULL;
    dq_pg_copy_col(t->xid, sizeof(t->xid), r, 0, 0);
    PQclear(r);
    if (half_begin(t, &s->w2txn, &s->w2, err) < 0)
        return NULL;
    return t->fts = &s->w2txn;
}

dq_store_txn_t *dq_pg_fts_half_of(dq_store_txn_t *t, int64_t seq, dq_err_t *err)
{
    for (size_t i = 0; i + 1 < t->n_b; i += 2)
        if (seq >= t->b_seqs[i] && seq < t->b_seqs[i + 1])
            return t->fts_b;
    return dq_pg_fts_half(t, err);
}

dq_store_txn_t *dq_pg_fts_bulk_half(dq_store_txn_t *t, int64_t lo, int64_t hi, dq_err_t *err)
{
    pg_store_t *s = t->store;
    dq_store_txn_t *a = dq_pg_fts_half(t, err);
    if (!a || a == t)
        return a;
    t->fts_turn ^= 1;
    if (t->fts_turn || s->two_phase < 2) /* A's turn: the first send, and every other one */
        return a;
    if (!t->fts_b) {
        if (half_begin(t, &s->w3txn, &s->w3, err) < 0)
            return NULL;
        t->fts_b = &s->w3txn;
    }
    if (t->n_b + 2 > t->cap_b) {
        t->cap_b = t->cap_b ? t->cap_b * 2 : 32;
        t->b_seqs = dq_xrealloc(t->b_seqs, t->cap_b * sizeof(*t->b_seqs));
    }
    t->b_seqs[t->n_b++] = lo;
    t->b_seqs[t->n_b++] = hi;
    return t->fts_b;
}

dq_store_txn_t *dq_pg_audit_txn(dq_store_txn_t *t)
{
    return t->fts ? t->fts : t;
}

/* Ends search half f (rolled back unless it was prepared), leaving its connection idle. */
static void half_end(dq_store_txn_t *f, int rollback)
{
    if (!f)
        return;
    dq_pg_sync(f, NULL);
    if (rollback) {
        PGresult *r = PQexec(f->pc->conn, "ROLLBACK");
        PQclear(r);
    }
    dq_buf_free(&f->doc);
}

/* Ends t's search halves (rolled back unless they were prepared), leaving w2 and w3 idle. */
static void fts_end(dq_store_txn_t *t, int rollback)
{
    half_end(t->fts, rollback);
    half_end(t->fts_b, rollback);
    t->fts = t->fts_b = NULL;
    t->n_b = 0;
}

/* Raises the test fault DQ_PG_FAULT_2PC names at this step (see pg_store_t.fault_2pc). */
static void fault(const pg_store_t *s, int step)
{
    if (s->fault_2pc == step)
        raise(SIGKILL);
}

/* Commits t and its second half (see "two-phase commit" above), then tells the other
 * processes (NOTIFY, which a prepared transaction cannot send; the audit rows the listeners
 * read are in the second half). 0, or -1 with err; both halves are ended either way. */
static int commit_both(dq_store_txn_t *t, dq_err_t *err)
{
    pg_store_t *s = t->store;
    dq_store_txn_t *half[2] = {t->fts, t->fts_b};
    char gid[2][64], q[512];
    snprintf(gid[0], sizeof(gid[0]), "dq_fts_%08x_%s", (unsigned)s->lock_key, t->xid);
    snprintf(gid[1], sizeof(gid[1]), "dq_ftb_%08x_%s", (unsigned)s->lock_key, t->xid);
    for (int k = 0; k < 2; k++) {
        dq_store_txn_t *f = half[k];
        if (f && (dq_pg_sync(f, err) < 0 || f->failed)) {
            if (!f->failed || err->code == DQ_OK)
                dq_err_set(err, DQ_EINTERNAL, 500,
                           "catalog: a statement failed inside the transaction; rolled back");
            fts_end(t, 1);
            return -1;
        }
    }
    for (int k = 0; k < 2; k++) {
        if (!half[k])
            continue;
        snprintf(q, sizeof(q), "PREPARE TRANSACTION '%s'", gid[k]);
        if (control(half[k], q, err) < 0) {
            fts_end(t, 1);
            if (k == 1) { /* the first search half is prepared already: undone here, or
                             settled as aborted by the next writer when this fails too */
                snprintf(q, sizeof(q), "ROLLBACK PREPARED '%s'", gid[0]);
                PGresult *r = PQexec(s->w2.conn, q);
                PQclear(r);
            }
            return -1;
        }
    }
    fts_end(t, 0); /* w2, w3 are idle now; the halves live on as prepared transactions */
    fault(s, 1);
    snprintf(q, sizeof(q), "SELECT pg_advisory_lock(%d, %d); COMMIT", PG_LOCK_KEY1, s->lock_key);
    int rc = control(t, q, err);
    if (rc < 0) {
        /* The first half's outcome decides: a COMMIT refused rolled it back; a connection
         * lost during it may have committed it. settle() asks the server which. */
        PGresult *r = PQexec(t->pc->conn, "ROLLBACK");
        PQclear(r);
        snprintf(q, sizeof(q), "SELECT pg_advisory_unlock(%d, %d)", PG_LOCK_KEY1, s->lock_key);
        r = PQexec(t->pc->conn, q);
        PQclear(r);
        dq_store_txn_t probe = {0};
        dq_err_t e = {0};
        txn_bind(s, &probe, &s->w2, 0);
        settle(s, &probe, &e);
        return -1;
    }
    fault(s, 2);
    dq_store_txn_t w2 = {0};
    txn_bind(s, &w2, &s->w2, 0);
    rc = conn_ensure(s, &s->w2, err);
    /* both on w2 (any session may finish them), the one with the audit rows last: a reader
     * that sees a write in the change feed sees all of its search rows */
    for (int k = 1; k >= 0 && rc == 0; k--)
        if (half[k]) {
            snprintf(q, sizeof(q), "COMMIT PREPARED '%s'", gid[k]);
            rc = control(&w2, q, err);
            if (k == 1)
                fault(s, 3);
        }
    snprintf(q, sizeof(q), "NOTIFY %s; SELECT pg_advisory_unlock(%d, %d)", s->channel,
             PG_LOCK_KEY1, s->lock_key);
    PGresult *r = PQexec(t->pc->conn, q);
    PQclear(r);
    if (rc < 0)
        return dq_err_set(err, DQ_EIO, 500,
                          "catalog: written, but the search rows of this write were left"
                          " prepared (%s); the next write or start settles them",
                          gid[0]);
    return 0;
}

static int store_begin(void *impl, int write, dq_store_txn_t **txn, dq_err_t *err)
{
    pg_store_t *s = impl;
    *txn = NULL;
    if (!write) {
        int i = dq_store_pool_take(&s->pool);
        dq_store_txn_t *t = &s->rtxn[i];
        txn_bind(s, t, &s->rd[i], 0);
        if (conn_ensure(s, t->pc, err) < 0 ||
            control(t, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0) {
            dq_store_pool_give(&s->pool, i);
            return -1;
        }
        *txn = t;
        return 0;
    }
    int64_t deadline = dq_now_us() + (int64_t)atomic_load(&s->write_wait_ms) * 1000;
    if (dq_store_lock_until(&s->wlock, deadline) < 0)
        return dq_err_set(err, DQ_EBUSY, 503,
                          "the catalog is busy with other writes; try again in a moment");
    dq_store_txn_t *t = &s->wtxn;
    int settled = 0;
again:
    txn_bind(s, t, &s->w, 1);
    if (conn_ensure(s, t->pc, err) < 0) {
        pthread_mutex_unlock(&s->wlock);
        return -1;
    }
    int64_t left_ms = (deadline - dq_now_us()) / 1000;
    char sql[512], cond[128];
    orphan_cond(s, cond, sizeof(cond));
    /* One round trip: the transaction, the wait bound, and the writers' lock, which another
     * process's writer (an import) may hold; lock_timeout turns a long wait into 55P03. */
    snprintf(sql, sizeof(sql),
             "BEGIN; SET LOCAL lock_timeout = %lld; SELECT pg_advisory_xact_lock(%d, %d);"
             " SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"
             " AND %s",
             (long long)(left_ms > 1 ? left_ms : 1), PG_LOCK_KEY1, s->lock_key, cond);
    int64_t orphans = 0;
    int rc = control_int(t, sql, &orphans, err);
    if (rc == 0 && orphans > 0 && !settled) {
        /* a writer died between its halves' commits (store_commit): settled outside this
         * transaction (COMMIT PREPARED cannot run in one), then begun again */
        PGresult *r = PQexec(t->pc->conn, "ROLLBACK");
        PQclear(r);
        settled = 1;
        if (settle(s, t, err) < 0)
            rc = -1;
        else
            goto again;
    }
    if (rc < 0) {
        PGresult *r = PQexec(t->pc->conn, "ROLLBACK");
        PQclear(r);
        if (err && err->code == DQ_EBUSY)
            snprintf(err->msg, sizeof(err->msg),
                     "the catalog is locked by another writer (an import?); try again in a "
                     "moment");
        pthread_mutex_unlock(&s->wlock);
        return -1;
    }
    *txn = t;
    return 0;
}

static void txn_end(dq_store_txn_t *t)
{
    pg_store_t *s = t->store;
    dq_buf_free(&t->doc);
    dq_buf_free(&t->a_who);
    dq_buf_free(&t->a_action);
    dq_buf_free(&t->a_object);
    dq_buf_free(&t->a_detail);
    t->n_audit = t->n_audit_gone = 0;
    free(t->pre);
    t->pre = NULL;
    t->n_pre = 0;
    dq_buf_free(&t->pre_text);
    dq_buf_free(&t->m_query);
    free(t->b_seqs);
    t->b_seqs = NULL;
    t->cap_b = 0;
    free(t->m_seqs);
    t->m_seqs = NULL;
    free(t->m_sc);
    t->m_sc = NULL;
    t->n_m = t->cap_m = 0;
    if (t->write)
        pthread_mutex_unlock(&s->wlock);
    else
        dq_store_pool_give(&s->pool, (int)(t->pc - s->rd));
}

static void store_rollback(dq_store_txn_t *t)
{
    if (!t)
        return;
    dq_pg_sync(t, NULL); /* its outcome no longer matters, but the connection must be idle */
    fts_end(t, 1);
    PGresult *r = PQexec(t->pc->conn, "ROLLBACK");
    PQclear(r);
    txn_end(t);
}

/* ---------------------------------------------------------------- a reader beside */

/* Issue 15: one statement's rechecks split over two server processes (store_pg_relic_search.c,
 * split_beside). The helper is a free connection of the read pool, taken without waiting
 * (dq_store_pool_try: a reader that waited for another reader could wait for itself), in a
 * transaction that imports t's snapshot (PostgreSQL 15 §13.2.2 and "Snapshot Synchronization
 * Functions": pg_export_snapshot, SET TRANSACTION SNAPSHOT), so both see exactly the same
 * rows. This is what a parallel query does inside PostgreSQL, without starting a worker
 * process per statement (~15 ms of CPU each at 500,000 relics, more than the work it split). */
int dq_pg_beside_begin(dq_store_txn_t *t, dq_store_txn_t **out, dq_err_t *err)
{
    pg_store_t *s = t->store;
    *out = NULL;
    if (t->write)
        return 0;
    int i = dq_store_pool_try(&s->pool);
    if (i < 0)
        return 0;
    char id[64] = "", sql[160];
    PGresult *r = dq_pg_exec(t, "SELECT pg_export_snapshot()", NULL, err);
    if (!r) {
        dq_store_pool_give(&s->pool, i);
        return -1;
    }
    dq_pg_copy_col(id, sizeof(id), r, 0, 0);
    PQclear(r);
    size_t n = strspn(id, "0123456789ABCDEFabcdef-");
    dq_store_txn_t *b = &s->rtxn[i];
    txn_bind(s, b, &s->rd[i], 0);
    snprintf(sql, sizeof(sql),
             "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '%s'",
             id);
    dq_err_t e = {0};
    if (!id[0] || id[n] || conn_ensure(s, b->pc, &e) < 0 || control(b, sql, &e) < 0) {
        /* the helper's own failure (a connection that cannot open): t does the work alone */
        if (b->pc->conn && PQtransactionStatus(b->pc->conn) != PQTRANS_IDLE) {
            PGresult *x = PQexec(b->pc->conn, "ROLLBACK");
            PQclear(x);
        }
        txn_end(b);
        return 0;
    }
    b->audit_at = t->audit_at;
    b->schema_at = t->schema_at;
    b->has_audit_at = t->has_audit_at;
    *out = b;
    return 0;
}

void dq_pg_beside_end(dq_store_txn_t *b)
{
    if (!b)
        return;
    PGresult *r;
    while ((r = PQgetResult(b->pc->conn)) != NULL) /* a statement sent and not received */
        PQclear(r);
    r = PQexec(b->pc->conn, "ROLLBACK");
    PQclear(r);
    txn_end(b);
}

int dq_pg_send(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0)
        return -1;
    const char *name = prepared(t, sql, params ? params->n : 0, err);
    if (!name)
        return -1;
    if (!PQsendQueryPrepared(t->pc->conn, name, params ? params->n : 0,
                             params ? params->v : NULL, params ? params->len : NULL, NULL, 0))
        return dq_pg_fail(t, NULL, "query", err);
    return 0;
}

PGresult *dq_pg_recv(dq_store_txn_t *t, dq_err_t *err)
{
    PGresult *res = PQgetResult(t->pc->conn), *more;
    while ((more = PQgetResult(t->pc->conn)) != NULL) /* the end of this statement's results */
        PQclear(more);
    return check(t, res, "query", err);
}

static int store_commit(dq_store_txn_t *t, dq_err_t *err)
{
    if (dq_pg_sync(t, err) < 0) { /* writes still on their way failed: nothing is kept */
        store_rollback(t);
        return -1;
    }
    if (t->failed) {
        /* PostgreSQL has already refused the transaction; COMMIT would roll it back. */
        store_rollback(t);
        return dq_err_set(err, DQ_EINTERNAL, 500,
                          "catalog: a statement failed inside the transaction; rolled back");
    }
    if (t->n_audit && dq_pg_audit_flush(t, err) < 0) {
        store_rollback(t);
        return -1;
    }
    char sql[128];
    /* Every committed write tells the other processes (delivered at commit, once per
     * transaction, only if it commits): their watchers refresh at once instead of at the
     * next poll. */
    if (t->write)
        snprintf(sql, sizeof(sql), "NOTIFY %s; COMMIT", t->store->channel);
    else
        snprintf(sql, sizeof(sql), "COMMIT");
    if (t->fts) {
        if (commit_both(t, err) < 0) {
            store_rollback(t); /* a no-op where the first half has ended already */
            return -1;
        }
        txn_end(t);
        return 0;
    }
    if (control(t, sql, err) < 0) {
        store_rollback(t);
        return -1;
    }
    txn_end(t);
    return 0;
}

/* ---------------------------------------------------------------- open and migrate */

static int read_version(dq_store_txn_t *t, int *version, dq_err_t *err)
{
    int64_t v = 0;
    if (dq_pg_int(t, "SELECT coalesce(max(version), 0) FROM schema_version", NULL, &v, err) < 0)
        return -1;
    *version = (int)v;
    return 0;
}

static int newest_known(void)
{
    int n = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++)
        n = migrations[i].version > n ? migrations[i].version : n;
    return n;
}

static int migrate(pg_store_t *s, dq_err_t *err)
{
    const int newest = newest_known();
    {
        /* The common case, a catalog already up to date, without the writers' lock. */
        dq_store_txn_t t = {0};
        int64_t have = 0;
        dq_err_t e = {0};
        pg_params_t p = {0};
        char list[256] = "{";
        for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? "," : "",
                     migrations[i].version);
        strcat(list, "}");
        dq_pg_p_text(&p, list);
        txn_bind(s, &t, &s->w, 1);
        PGresult *r = dq_pg_exec_once(
            &t, "SELECT count(*) FROM schema_version WHERE version = ANY($1::int[])", &p, &e);
        if (r) {
            have = dq_pg_col_int(r, 0, 0);
            PQclear(r);
            if (have == (int64_t)DQ_ARRAY_LEN(migrations))
                return 0;
        }
    }
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++) {
        const migration_t *m = &migrations[i];
        dq_store_txn_t *t;
        int have = 0;
        int64_t applied = 0;
        if (store_begin(s, 1, &t, err) < 0)
            return -1;
        if (control(t,
                    "CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                    " what text NOT NULL, applied_at text NOT NULL)",
                    err) < 0 ||
            read_version(t, &have, err) < 0)
            goto fail;
        if (have > newest) {
            dq_err_set(err, DQ_EUNSUP, 0,
                       "catalog schema version %d is newer than this danqing knows (%d)", have,
                       newest);
            goto fail;
        }
        pg_params_t p = {0};
        dq_pg_p_int(&p, m->version);
        int e = dq_pg_int(t, "SELECT 1 FROM schema_version WHERE version = $1", &p, &applied, err);
        if (e < 0)
            goto fail;
        if (e == 1) {
            dq_pg_p_text(&p, m->what);
            int (*then)(dq_store_txn_t *, dq_err_t *) = NULL;
            for (size_t k = 0; k < DQ_ARRAY_LEN(migration_then); k++)
                if (migration_then[k].version == m->version)
                    then = migration_then[k].then;
            if (control(t, m->sql, err) < 0 || (then && then(t, err) < 0) ||
                dq_pg_run(t,
                          "INSERT INTO schema_version (version, what, applied_at)"
                          " VALUES ($1, $2, " DQ_PG_NOW ")",
                          &p, NULL, err) < 0)
                goto fail;
        }
        if (store_commit(t, err) < 0)
            return -1;
        continue;
    fail:
        store_rollback(t);
        return -1;
    }
    return 0;
}

/* store.h probe: one connection of its own, two reads. */
static int store_probe(const char *location, int *n_applied, int *n_known, dq_err_t *err)
{
    char list[256] = "{";
    for (size_t i = 0; i < DQ_ARRAY_LEN(migrations); i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", i ? "," : "",
                 migrations[i].version);
    strcat(list, "}");
    *n_applied = 0;
    *n_known = (int)DQ_ARRAY_LEN(migrations);
    PGconn *c = connect_url(location, err);
    if (!c)
        return -1;
    int rc = -1;
    /* to_regclass answers NULL for a table that does not exist, where naming it in a query
     * would fail: the schema_version table is read only when it is there. */
    PGresult *r = PQexec(c, "SELECT to_regclass('schema_version') IS NOT NULL");
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
        dq_err_set(err, DQ_EIO, 500, "catalog: %s", PQerrorMessage(c));
        goto out;
    }
    if (strcmp(PQgetvalue(r, 0, 0), "t") == 0) {
        PQclear(r);
        const char *v[1] = {list};
        r = PQexecParams(c, "SELECT count(*) FROM schema_version WHERE version = ANY($1::int[])",
                         1, NULL, v, NULL, NULL, 0);
        if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
            dq_err_set(err, DQ_EIO, 500, "catalog: %s", PQerrorMessage(c));
            goto out;
        }
        *n_applied = atoi(PQgetvalue(r, 0, 0));
    }
    rc = 0;
out:
    PQclear(r);
    PQfinish(c);
    return rc;
}

/* store.h lock: a session advisory lock on a connection of its own, so that it is held for
 * as long as the caller wants while the caller's transactions run on the pool, and goes with
 * the session when the holder dies. Keys: PG_LOCK_KEY1 + which (the writers' lock is
 * PG_LOCK_KEY1 itself) and the schema's hash, so catalogs in other schemas do not wait. */
static int store_lock(void *impl, int which, void **handle, dq_err_t *err)
{
    pg_store_t *s = impl;
    PGconn *c = connect_url(s->conninfo, err);
    if (!c)
        return -1;
    char sql[128];
    int try = which & DQ_CATALOG_LOCK_TRY;
    snprintf(sql, sizeof(sql), "SELECT pg_%sadvisory_lock%s(%d, %d)", try ? "try_" : "",
             which & DQ_CATALOG_LOCK_SHARED ? "_shared" : "", PG_LOCK_KEY1 + (which & 0xff),
             s->lock_key);
    PGresult *r = PQexec(c, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        dq_err_set(err, DQ_EIO, 500, "catalog lock: %s", PQerrorMessage(c));
        PQclear(r);
        PQfinish(c);
        return -1;
    }
    if (try && strcmp(PQgetvalue(r, 0, 0), "t") != 0) { /* another session holds it */
        dq_err_set(err, DQ_EBUSY, 503, "catalog lock %d is taken", which & 0xff);
        PQclear(r);
        PQfinish(c);
        return -1;
    }
    PQclear(r);
    *handle = c;
    return 0;
}

static void store_unlock(void *impl, void *handle)
{
    (void)impl;
    PQfinish(handle); /* the session's end releases its advisory locks */
}

static void store_close(void *impl)
{
    pg_store_t *s = impl;
    if (!s)
        return;
    for (int i = 0; i < DQ_PG_N_READERS; i++)
        conn_close(&s->rd[i]);
    conn_close(&s->w);
    conn_close(&s->w2);
    conn_close(&s->w3);
    PQfinish(s->listener);
    dq_search_free(s->search);
    dq_pg_postings_free(s->postings);
    pthread_mutex_destroy(&s->wlock);
    dq_store_pool_destroy(&s->pool);
    pthread_mutex_destroy(&s->listen_lock);
    free(s->conninfo);
    free(s);
}

/* The schema this catalog lives in, its lock key and its channel name. */
static int identify(pg_store_t *s, dq_err_t *err)
{
    dq_store_txn_t t = {0};
    txn_bind(s, &t, &s->w, 1);
    PGresult *r = dq_pg_exec_once(
        &t, "SELECT current_schema(), hashtext(coalesce(current_schema(), 'public'))", NULL, err);
    if (!r)
        return -1;
    const char *schema = dq_pg_col(r, 0, 0);
    if (!schema) {
        PQclear(r);
        return dq_err_set(err, DQ_EINVAL, 400,
                          "catalog: the connection's search_path names no schema that exists");
    }
    s->lock_key = (int)dq_pg_col_int(r, 0, 1);
    /* A channel name is an identifier: the schema's hash keeps it short and plain. */
    snprintf(s->channel, sizeof(s->channel), "danqing_catalog_%08x", (unsigned)s->lock_key);
    PQclear(r);
    return 0;
}

/* location: the whole libpq connection URI (postgres://...). */
static void *store_open(const char *location, int write_wait_ms, dq_err_t *err)
{
    pg_store_t *s = dq_xcalloc(1, sizeof(*s));
    s->conninfo = dq_xstrdup(location);
    s->postings = dq_pg_postings_new();
    pthread_mutex_init(&s->wlock, NULL);
    dq_store_pool_init(&s->pool, DQ_PG_N_READERS);
    pthread_mutex_init(&s->listen_lock, NULL);
    atomic_init(&s->write_wait_ms, write_wait_ms > 0 ? write_wait_ms : 1500);
    const char *fa = getenv("DQ_PG_FAULT_2PC");
    s->fault_2pc = !fa                             ? 0
                   : strcmp(fa, "prepared") == 0  ? 1
                   : strcmp(fa, "committed") == 0 ? 2
                   : strcmp(fa, "searched") == 0  ? 3
                                                  : 0;
    /* "single": as a server that takes no prepared transactions (the one-connection path) */
    s->two_phase = fa && strcmp(fa, "single") == 0 ? 0 : -1;
    /* The compiled Unihan tables can be cached where the operator says (a PostgreSQL catalog
     * has no directory of its own); without it they load from Debian's files (~0.3 s). */
    dq_search_config_t scfg = {.cache_path = getenv("DANQING_SEARCH_CACHE")};
    if (conn_open(s, &s->w, err) < 0 || identify(s, err) < 0 ||
        !(s->search = dq_search_new(&scfg, err)))
        goto fail;
    /* Opening may wait longer than a write: another process may be migrating. */
    atomic_store(&s->write_wait_ms, 30000);
    if (migrate(s, err) < 0)
        goto fail;
    atomic_store(&s->write_wait_ms, write_wait_ms > 0 ? write_wait_ms : 1500);
    {
        /* second halves a crashed writer left prepared (see "two-phase commit") */
        dq_store_txn_t t = {0};
        int64_t orphans = 0;
        char sql[256], cond[128];
        txn_bind(s, &t, &s->w, 1);
        orphan_cond(s, cond, sizeof(cond));
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()"
                 " AND %s",
                 cond);
        if (control_int(&t, sql, &orphans, err) < 0 || (orphans > 0 && settle(s, &t, err) < 0))
            goto fail;
    }
    for (int i = 0; i < DQ_PG_N_READERS; i++)
        if (conn_open(s, &s->rd[i], err) < 0)
            goto fail;
    dq_store_txn_t *t;
    if (store_begin(s, 0, &t, err) < 0)
        goto fail;
    int rc = dq_pg_relic_open(t, err);
    store_rollback(t);
    if (rc < 0)
        goto fail;
    return s;
fail:
    store_close(s);
    return NULL;
}

static void store_set_write_wait(void *impl, int ms)
{
    pg_store_t *s = impl;
    atomic_store(&s->write_wait_ms, ms > 0 ? ms : 1500);
}

static int store_schema_version(void *impl, int *version, dq_err_t *err)
{
    dq_store_txn_t *t;
    if (store_begin(impl, 0, &t, err) < 0)
        return -1;
    int rc = read_version(t, version, err);
    store_rollback(t);
    return rc;
}

/* ---------------------------------------------------------------- change notifications */

/* Waits up to timeout_ms for a commit by any process (this one included) on this catalog:
 * 1 notified, 0 timed out, -1 error (the listener is dropped and made again at the next
 * call). Only one thread may wait at a time (the watcher); others get 0 at once. */
static int store_wait_change(void *impl, int timeout_ms, dq_err_t *err)
{
    pg_store_t *s = impl;
    if (pthread_mutex_trylock(&s->listen_lock) != 0)
        return 0;
    int rc = -1;
    if (!s->listener || PQstatus(s->listener) != CONNECTION_OK) {
        PQfinish(s->listener);
        s->listener = connect_url(s->conninfo, err);
        if (!s->listener)
            goto out;
        char sql[96];
        snprintf(sql, sizeof(sql), "LISTEN %s", s->channel);
        PGresult *r = PQexec(s->listener, sql);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        PQclear(r);
        if (!ok) {
            dq_err_set(err, DQ_EIO, 500, "catalog: LISTEN: %s", PQerrorMessage(s->listener));
            goto drop;
        }
        rc = 1; /* a fresh listener may have missed commits: report a change */
        goto out;
    }
    int64_t deadline = dq_now_us() + (int64_t)timeout_ms * 1000;
    for (;;) {
        if (!PQconsumeInput(s->listener)) {
            dq_err_set(err, DQ_EIO, 500, "catalog: listener: %s", PQerrorMessage(s->listener));
            goto drop;
        }
        PGnotify *n;
        int got = 0;
        while ((n = PQnotifies(s->listener)) != NULL) {
            got = 1;
            PQfreemem(n);
        }
        if (got) {
            rc = 1;
            goto out;
        }
        int64_t left = deadline - dq_now_us();
        if (left <= 0) {
            rc = 0;
            goto out;
        }
        struct pollfd pfd = {.fd = PQsocket(s->listener), .events = POLLIN};
        if (poll(&pfd, 1, (int)(left / 1000) + 1) < 0 && errno != EINTR) {
            dq_err_set(err, DQ_EIO, 500, "catalog: listener: poll: %s", strerror(errno));
            goto drop;
        }
    }
drop:
    PQfinish(s->listener);
    s->listener = NULL;
out:
    pthread_mutex_unlock(&s->listen_lock);
    return rc;
}

/* ---------------------------------------------------------------- audit and change feed */

void dq_pg_array_add(dq_buf_t *b, const char *v)
{
    dq_buf_putc(b, b->len ? ',' : '{');
    if (!v) {
        dq_buf_puts(b, "NULL");
        return;
    }
    dq_buf_putc(b, '"');
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            dq_buf_putc(b, '\\');
        dq_buf_putc(b, *p);
    }
    dq_buf_putc(b, '"');
}

int dq_pg_audit(dq_store_txn_t *t, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err)
{
    (void)err;
    dq_pg_array_add(&t->a_who, who ? who : "");
    dq_pg_array_add(&t->a_action, action ? action : "");
    dq_pg_array_add(&t->a_object, object ? object : "");
    dq_pg_array_add(&t->a_detail, detail && *detail ? detail : "{}");
    t->n_audit++;
    t->n_audit_gone += action && strcmp(action, "relic.delete") == 0;
    return 0;
}

void dq_pg_audit_take(dq_store_txn_t *t, dq_pg_audit_rows_t *out)
{
    out->who = t->a_who;
    out->action = t->a_action;
    out->object = t->a_object;
    out->detail = t->a_detail;
    out->n = t->n_audit;
    out->n_gone = t->n_audit_gone;
    t->a_who = t->a_action = t->a_object = t->a_detail = (dq_buf_t){0};
    t->n_audit = t->n_audit_gone = 0;
    if (t->write && out->n)
        t->audit_sent = 1;
}

int dq_pg_audit_send(dq_store_txn_t *a, dq_pg_audit_rows_t *rows, dq_err_t *err)
{
    dq_buf_t *b[4] = {&rows->who, &rows->action, &rows->object, &rows->detail};
    pg_params_t p = {0};
    for (int i = 0; i < 4; i++) {
        dq_buf_putc(b[i], '}');
        dq_pg_p_text(&p, b[i]->data);
    }
    /* max + 1 under the writers' lock: gapless and in commit order, like SQLite's; with the
     * search rows where a second half writes them (committed last: see "two-phase
     * commit") */
    int rc = rows->n ? dq_pg_run(a,
                                 "INSERT INTO audit (seq, who, at, action, object, detail)"
                                 " SELECT (SELECT coalesce(max(seq), 0) FROM audit) + o.i, o.w, "
                                 DQ_PG_NOW ", o.a, o.ob, o.d FROM unnest($1::text[], $2::text[],"
                                 " $3::text[], $4::text[]) WITH ORDINALITY AS o(w, a, ob, d, i)"
                                 " ORDER BY o.i",
                                 &p, NULL, err)
                     : 0;
    for (int i = 0; i < 4; i++)
        dq_buf_free(b[i]);
    rows->n = 0;
    /* a deletion's relic_gone row is written with it; the old ones go here (migration 31) */
    if (rc == 0 && rows->n_gone)
        rc = dq_pg_relic_gone_prune(a, err);
    rows->n_gone = 0;
    return rc;
}

int dq_pg_audit_flush(dq_store_txn_t *t, dq_err_t *err)
{
    if (!t->n_audit)
        return 0;
    dq_pg_audit_rows_t rows;
    dq_pg_audit_take(t, &rows);
    return dq_pg_audit_send(dq_pg_audit_txn(t), &rows, err);
}

int dq_pg_audit_max_seq(dq_store_txn_t *t, int64_t *seq, dq_err_t *err)
{
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    if (t->write)
        return dq_pg_int(t, "SELECT coalesce(max(seq), 0) FROM audit", NULL, seq, err) < 0 ? -1
                                                                                            : 0;
    /* the snapshot's: the posting bitmaps ask (store_pg_postings.c), and with it the count of
     * migrations applied, which tells them whether one rewrote relic_fts since (read here, in
     * the statement every search sends first, rather than in one more round trip there) */
    PGresult *r = dq_pg_exec(
        t, "SELECT coalesce(max(seq), 0), (SELECT count(*) FROM schema_version) FROM audit", NULL,
        err);
    if (!r)
        return -1;
    *seq = t->audit_at = dq_pg_col_int(r, 0, 0);
    t->schema_at = dq_pg_col_int(r, 0, 1);
    t->has_audit_at = 1;
    PQclear(r);
    return 0;
}

typedef struct {
    dq_store_audit_cb cb;
    void *ud;
} audit_walk_t;

static int audit_row(void *ud, PGresult *r)
{
    audit_walk_t *w = ud;
    dq_store_audit_row_t row = {
        .seq = dq_pg_col_int(r, 0, 0),
        .at = dq_pg_col(r, 0, 1),
        .who = dq_pg_col(r, 0, 2),
        .action = dq_pg_col(r, 0, 3),
        .object = dq_pg_col(r, 0, 4),
        .detail = dq_pg_col(r, 0, 5),
    };
    return w->cb(w->ud, &row);
}

static int audit_since(dq_store_txn_t *t, int64_t after_seq, int limit, dq_store_audit_cb cb,
                       void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    audit_walk_t w = {cb, ud};
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    dq_pg_p_int(&p, after_seq);
    dq_pg_p_int(&p, limit);
    return dq_pg_walk(t,
                      "SELECT seq, at, who, action, object, detail FROM audit"
                      " WHERE seq > $1 ORDER BY seq LIMIT $2",
                      &p, audit_row, &w, err);
}

static int audit_list(dq_store_txn_t *t, const char *object, int64_t before_seq, int limit,
                      dq_store_audit_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    audit_walk_t w = {cb, ud};
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    dq_pg_p_text(&p, object);
    dq_pg_p_int(&p, before_seq);
    dq_pg_p_int(&p, limit);
    return dq_pg_walk(t,
                      "SELECT seq, at, who, action, object, detail FROM audit"
                      " WHERE ($1::text IS NULL OR object = $1) AND ($2 = 0 OR seq < $2)"
                      " ORDER BY seq DESC LIMIT $3",
                      &p, audit_row, &w, err);
}

static const dq_store_audit_ops audit_ops = {
    .append = dq_pg_audit,
    .max_seq = dq_pg_audit_max_seq,
    .since = audit_since,
    .list = audit_list,
};

const dq_store_backend_t dq_store_pg = {
    .name = "postgres",
    .open = store_open,
    .probe = store_probe,
    .lock = store_lock,
    .unlock = store_unlock,
    .close = store_close,
    .begin = store_begin,
    .commit = store_commit,
    .rollback = store_rollback,
    .set_write_wait = store_set_write_wait,
    .schema_version = store_schema_version,
    .wait_change = store_wait_change,
    .images = &dq_pg_image_ops,
    .audit = &audit_ops,
    .accounts = &dq_pg_account_ops,
    .annos = &dq_pg_anno_ops,
    .tours = &dq_pg_tour_ops,
    .relics = &dq_pg_relic_ops,
    .lessons = &dq_pg_lesson_ops,
    .glossary = &dq_pg_gloss_ops,
    .spectral = &dq_pg_spectral_ops,
    .scenes = &dq_pg_scene_ops,
    .style = &dq_pg_style_ops,
    .network = &dq_pg_network_ops,
    .iiif_auth = &dq_pg_iiif_auth_ops,
    .copy = &dq_pg_copy_ops,
    .conditions = &dq_pg_condition_ops,
    .condjobs = &dq_pg_condjob_ops,
    .layer_files = &dq_pg_layerfile_ops,
    .journals = &dq_pg_journal_ops,
};
