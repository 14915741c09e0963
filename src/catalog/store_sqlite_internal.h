/*
 * store_sqlite_internal.h: what the store_sqlite*.c files share and nobody else sees (it
 * includes sqlite3.h). The SQLite backend is split by object kind (store_sqlite.c: open,
 * migrations, connections, transactions, audit; store_sqlite_image.c; store_sqlite_account.c;
 * store_sqlite_annotation.c; store_sqlite_relic*.c) around one list of migrations and one
 * connection model:
 *
 *  - one writer connection (store_t.w) guarded by store_t.wlock. A write transaction takes
 *    wlock with a deadline, then BEGIN IMMEDIATE with a busy handler that gives up at the
 *    same deadline (write_wait_ms in all, default 1.5 s): on timeout DQ_EBUSY / 503.
 *  - a pool of read connections (store_t.rd, query_only, WAL): a read transaction takes a free
 *    one for a consistent snapshot (BEGIN ... COMMIT) and never waits for the writer.
 *  - prepared statements are per connection: dq_sq_stmt(txn, sql) caches them by SQL text, so
 *    a primitive just names its SQL and never finalizes.
 *
 * Inside a primitive everything goes through the dq_store_txn_t: txn->db is the connection.
 */
#ifndef DQ_STORE_SQLITE_INTERNAL_H
#define DQ_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "catalog/store.h"
#include "search/search.h"
#include "store_pool.h"

/* The timestamp every row gets, written once (UTC, second precision). */
#define DQ_SQ_NOW "strftime('%Y-%m-%dT%H:%M:%SZ','now')"

#define DQ_SQ_N_READERS 4

typedef struct store store_t;

/* One cached statement of a connection, keyed by its SQL text. */
typedef struct {
    char *sql;       /* owned copy of the text */
    const char *ptr; /* the caller's pointer last seen for it (fast path for literals) */
    sqlite3_stmt *st;
} sq_cached_t;

/* One connection: the writer or a member of the read pool. */
typedef struct {
    sqlite3 *db;
    sq_cached_t *cache; /* dq_sq_stmt's statements; used only by the txn holding the conn */
    size_t n_cache, cap_cache;
    struct relic_cache *relic; /* store_sqlite_relic.c's statements on this connection */
    /* store_sqlite_relic_search.c's last full-text walk; used only by the transaction holding
     * the connection and forgotten when it ends */
    struct relic_walk *walk;
} sq_conn_t;

/* A transaction: one per connection, reused (the writer's and each reader's). The first four
 * fields are what the relic files use. */
struct dq_store_txn {
    sqlite3 *db;                /* the connection, borrowed for the transaction */
    struct relic_cache *relic;  /* == conn->relic */
    dq_search_t *search;        /* == store->search (read-only but for its own locked dict) */
    store_t *store;
    sq_conn_t *conn;
    int write; /* 1: the writer's transaction (wlock held) */
    int open;  /* 1: BEGIN was issued */
};

struct store {
    sq_conn_t w;           /* the writer connection; guarded by wlock */
    dq_store_txn_t wtxn;   /* its transaction; guarded by wlock */
    pthread_mutex_t wlock; /* one writer at a time in this process */
    int64_t w_deadline_us; /* the busy handler's deadline; guarded by wlock */
    atomic_int write_wait_ms; /* set at open, changed by set_write_wait */
    sq_conn_t rd[DQ_SQ_N_READERS]; /* the read pool: rd[i] is lent while pool.in_use[i] */
    dq_store_txn_t rtxn[DQ_SQ_N_READERS];
    dq_store_pool_t pool;
    /* The FTS5 tokenizer's tables and user dictionary: created at open (before the
     * migrations, which create an FTS5 table that names the tokenizer), owned, read-only
     * apart from the dictionary (which has its own lock). */
    dq_search_t *search;
};

/* ---- helpers every store_sqlite*.c file uses (store_sqlite.c) ---- */

/* Fills err with what and SQLite's message (DQ_EBUSY / 503 when the database stayed locked,
 * DQ_EEXIST / 409 for a unique violation, else DQ_EIO / 500); returns -1. */
int dq_sq_fail(dq_store_txn_t *t, dq_err_t *err, const char *what);
/* Runs sql (no rows, no parameters; several statements allowed). */
int dq_sq_exec(dq_store_txn_t *t, const char *sql, dq_err_t *err);
/* Prepares sql into *st, uncached (finalize it after): for SQL built at run time. */
int dq_sq_prepare(dq_store_txn_t *t, const char *sql, sqlite3_stmt **st, dq_err_t *err);
/* The connection's cached statement for sql, reset and unbound, or NULL with err. Do not
 * finalize it; it is reset again when the transaction ends. */
sqlite3_stmt *dq_sq_stmt(dq_store_txn_t *t, const char *sql, dq_err_t *err);
/* Steps st to the end, ignoring rows; resets it. */
int dq_sq_step_done(dq_store_txn_t *t, sqlite3_stmt *st, dq_err_t *err);
/* Steps st once: 0 a row, 1 done, -1 error (err filled). */
int dq_sq_row(dq_store_txn_t *t, sqlite3_stmt *st, const char *what, dq_err_t *err);
/* One page of a list (annotations, glossary; store_sqlite_annotation.c): count_sql's count into
 * *total (may be NULL), then page_sql, whose parameters are those of count_sql (bound by
 * bind(st, bud), which may be NULL when there are none) followed by LIMIT (?n_params+1) and
 * OFFSET (?n_params+2). Returns the page's statement, bound and ready to step (cached: reset
 * by the walk), or NULL with err. */
sqlite3_stmt *dq_sq_page(dq_store_txn_t *t, const char *count_sql, const char *page_sql,
                         void (*bind)(sqlite3_stmt *st, const void *bud), const void *bud,
                         int n_params, int limit, int64_t offset, int64_t *total, dq_err_t *err);
/* Binds text (NULL binds NULL), borrowed until the statement is reset. */
void dq_sq_bind_text(sqlite3_stmt *st, int i, const char *t);
/* Copies column col of the current row as text ("" for NULL), cut to cap. */
void dq_sq_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col);
/* Appends an audit row in the write transaction (detail "{}" when NULL or empty). */
int dq_sq_audit(dq_store_txn_t *t, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err);
/* PRAGMA data_version of the writer connection, which changes only when ANOTHER process (or
 * connection) commits: 0 with *v, 1 when the writer is busy right now (try later; *v
 * untouched), -1 error. Never waits for the writer. */
int dq_sq_foreign_version(store_t *s, int64_t *v, dq_err_t *err);

/* ---- store_sqlite_image.c ---- */

extern const dq_store_image_ops dq_sqlite_image_ops;
/* Migrations 1 and 2: images and audit, the pending journal. */
extern const char dq_sqlite_image_schema[];
extern const char dq_sqlite_pending_schema[];
extern const char dq_sqlite_pending_run_schema[];

/* ---- store_sqlite_relic.c ---- */

/* Migration 3: relics, their facet tables, image links and the FTS5 index. */
extern const char dq_sqlite_relic_schema[];
/* Migration 6: relic_names, the search dictionary's names (creators, zh titles). */
extern const char dq_sqlite_relic_names_schema[];
/* Migration 8: relic_fts_vocab, the full-text index's document frequencies. */
extern const char dq_sqlite_relic_vocab_schema[];
extern const dq_store_relic_ops dq_sqlite_relic_ops;
/* After the migrations, on the writer connection t (no transaction open): tunes the relic
 * tables and refills the search dictionary from the stored names. */
int dq_sqlite_relic_open(dq_store_txn_t *t, dq_err_t *err);
/* A connection's relic statement cache: new (empty) and free (finalizes; NULL-safe). */
struct relic_cache *dq_sqlite_relic_cache_new(void);
void dq_sqlite_relic_cache_free(struct relic_cache *c);

/* ---- store_sqlite_relic_search.c: query plans in FTS5 ---- */

/* Appends the FTS5 expression of plan: DQ_SQ_FTS_MATCH, every term (AND) of its alternative
 * phrases (OR); DQ_SQ_FTS_BOOST, its boost phrases OR-ed ("" when it has none). Every phrase
 * is a quoted FTS5 string, so nothing a user typed becomes FTS5 syntax. Also for the
 * annotation search (store_sqlite_annotation.c). */
enum { DQ_SQ_FTS_MATCH = 0, DQ_SQ_FTS_BOOST };
void dq_sqlite_fts_render(const dq_search_plan_t *plan, int what, dq_buf_t *out);
/* dq_store_relic_ops.match, .match_bound and .snippets. */
int dq_sqlite_relic_match(dq_store_txn_t *txn, const dq_search_plan_t *plan, int what, int scored,
                          dq_relic_match_cb cb, void *ud, dq_err_t *err);
int dq_sqlite_relic_match_bound(dq_store_txn_t *txn, const dq_search_plan_t *plan, int64_t limit,
                                int64_t *bound, dq_err_t *err);
int dq_sqlite_relic_snippets(dq_store_txn_t *txn, const dq_search_plan_t *plan,
                             const int64_t *seqs, size_t n, const int64_t *all, size_t n_all,
                             dq_relic_snippet_cb cb, void *ud, dq_err_t *err);
/* Adds the FTS5 auxiliary function the relic walk uses to connection db (each connection,
 * after dq_search_register). */
int dq_sqlite_relic_fts_register(sqlite3 *db, dq_err_t *err);
/* A connection's walk (sq_conn_t.walk): forgotten (kept allocated) when its transaction ends,
 * freed with the connection; both NULL-safe. */
void dq_sqlite_relic_walk_clear(struct relic_walk *w);
void dq_sqlite_relic_walk_free(struct relic_walk *w);

/* ---- store_sqlite_account.c ---- */

/* A credential lookup's row (columns: 0 the stored hash, 1 the account name, 2 its role):
 * 0 with *out filled when column 0 equals hash (compared without an early exit, so that the
 * comparison's time says nothing about the secret's hash), else 1. Shared by the account and
 * IIIF Auth credential lookups. */
int dq_sq_cred_row(sqlite3_stmt *st, const char *hash, dq_actor_t *out);

/* Migration 4: users, sessions, API tokens; migration 7: the folded name key. */
extern const char dq_sqlite_account_schema[];
extern const char dq_sqlite_account_fold_schema[];
extern const dq_store_account_ops dq_sqlite_account_ops;

/* ---- store_sqlite_annotation.c ---- */

/* Migration 5: annotations (+ FTS5 index kept by triggers) and tours. */
extern const char dq_sqlite_annotation_schema[];
extern const dq_store_anno_ops dq_sqlite_anno_ops;
extern const dq_store_tour_ops dq_sqlite_tour_ops;

/* ---- store_sqlite_spectral.c ---- */

/* Migration 9: spectral captures and their derived layers. */
extern const char dq_sqlite_spectral_schema[];
extern const dq_store_spectral_ops dq_sqlite_spectral_ops;
/* ---- store_sqlite_scene.c ---- */

/* Migration 12: scene layer sets (issue 14). */
extern const char dq_sqlite_scene_schema[];
extern const dq_store_scene_ops dq_sqlite_scene_ops;
/* ---- store_sqlite_style.c (issue 13) ---- */

/* Migration 11: style embeddings and attribution models. */
extern const char dq_sqlite_style_schema[];
extern const dq_store_style_ops dq_sqlite_style_ops;
/* ---- store_sqlite_lesson.c (issue 17) ---- */

/* Migration 13: the educator role in users' CHECK, lessons, the glossary and its FTS5 index. */
extern const char dq_sqlite_lesson_schema[];
extern const dq_store_lesson_ops dq_sqlite_lesson_ops;
extern const dq_store_gloss_ops dq_sqlite_gloss_ops;
/* ---- store_sqlite_network.c ---- */

/* Migration 14: relic tombstones (kept by triggers), datestamp and change-feed indexes. */
extern const char dq_sqlite_network_schema[];
extern const char dq_sqlite_withdrawal_schema[];
extern const char dq_sqlite_withdrawal_backfill[]; /* migration 19 */
extern const dq_store_network_ops dq_sqlite_network_ops;

/* store_sqlite_condition.c (issue 12) */
extern const char dq_sqlite_condition_schema[];
extern const dq_store_condition_ops dq_sqlite_condition_ops;
/* store_sqlite_condjob.c: migration 24, condition jobs (issue 12) */
extern const char dq_sqlite_condjob_schema[];
extern const dq_store_condjob_ops dq_sqlite_condjob_ops;
extern const char dq_sqlite_layerfile_schema[];
extern const dq_store_layerfile_ops dq_sqlite_layerfile_ops;
extern const char dq_sqlite_journal_schema[];
extern const dq_store_journal_ops dq_sqlite_journal_ops;

/* ---- store_sqlite_iiif_auth.c (issue 16) ---- */
/* Migration 17: IIIF Authorization Flow 2.0 access cookies and tokens. */
extern const char dq_sqlite_iiif_auth_schema[];
extern const dq_store_iiif_auth_ops dq_sqlite_iiif_auth_ops;
extern const dq_store_copy_ops dq_sqlite_copy_ops; /* store_sqlite_copy.c */

#endif
