/*
 * store_pg_internal.h: what the store_pg*.c files share and nobody else sees (it includes
 * libpq-fe.h). The PostgreSQL backend (issue 15) mirrors the SQLite one file by file
 * (store_pg.c: open, migrations, connections, transactions, audit, change notifications;
 * store_pg_image.c; store_pg_account.c; store_pg_annotation.c; store_pg_relic.c;
 * store_pg_relic_search.c; store_pg_text.c: the tokens and phrase hits both searches use)
 * around one connection model:
 *
 *  - one writer connection per process (pg_store_t.w) behind a local mutex. A write
 *    transaction takes the mutex with a deadline, then, in the same round trip as BEGIN,
 *    a transaction-scoped advisory lock with lock_timeout set to what is left of the same
 *    deadline: writers are serialized across every process sharing the database, as SQLite's
 *    one writer is, so the neutral layer's read-then-write rules (the last admin, fresh ids,
 *    audit seq order) hold unchanged. Past the deadline: DQ_EBUSY / 503.
 *  - a pool of read connections: a read transaction is REPEATABLE READ READ ONLY, a snapshot
 *    that never waits for a writer (MVCC).
 *  - statements are prepared once per connection (dq_pg_exec caches them by SQL text) and
 *    run with text parameters; every value crosses as text, every result is read as text.
 *
 * Inside a primitive everything goes through the dq_store_txn_t: txn->pc->conn is the
 * connection.
 */
#ifndef DQ_STORE_PG_INTERNAL_H
#define DQ_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdatomic.h>

#include "catalog/catalog.h"
#include "catalog/fts_aux.h"
#include "catalog/store.h"
#include "search/search.h"
#include "store_pool.h"

/* The timestamp every row gets: UTC, second precision, the statement's time (as SQLite's
 * 'now' is the statement's). */
#define DQ_PG_NOW                                                                                  \
    "to_char(statement_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

#define DQ_PG_N_READERS 4
#define DQ_PG_MAX_PARAMS 32

typedef struct pg_store pg_store_t;

/* One prepared statement of a connection. */
typedef struct {
    char *sql;       /* owned copy of the text */
    const char *ptr; /* the caller's pointer last seen for it */
    char name[16];   /* "s<n>" */
} pg_prepared_t;

/* One connection: the writer or a member of the read pool. */
typedef struct {
    PGconn *conn;
    pg_prepared_t *stmts; /* used only by the txn holding the connection */
    size_t n_stmts, cap_stmts;
} pg_conn_t;

typedef struct {
    size_t id, doc, doc_len; /* offsets into pre_text */
    int64_t version;
    char created[32], updated[32];
} dq_pg_prefetch_t;

struct dq_store_txn {
    pg_store_t *store;
    pg_conn_t *pc; /* borrowed for the transaction */
    dq_search_t *search;
    int write;    /* 1: the writer's transaction (wlock held) */
    int failed;   /* 1 after a statement failed: PostgreSQL refuses the rest, COMMIT rolls back */
    dq_buf_t doc; /* the relic document relic_load last returned (borrowed by callers) */
    /* Audit rows appended but not yet sent (array literals of who, action, object, detail):
     * they go in one statement at commit, or before anything reads the audit trail in this
     * transaction, so an import pays no round trip per audit row. */
    dq_buf_t a_who, a_action, a_object, a_detail;
    int n_audit;
    int n_audit_gone; /* relic.delete rows among them: the flush prunes relic_gone */
    int64_t next_relic_seq; /* relics' counter + 1 as this transaction knows it (0: unknown) */
    int relic_year;
    /* Read transactions: the stored rows of the search page, read together with their
     * snippets (one round trip instead of one per item); relic_load answers from them. */
    dq_pg_prefetch_t *pre;
    size_t n_pre;
    dq_buf_t pre_text;
    /* The matches of the last plan match_bound ran (its tsquery in m_query), kept for the
     * match call on the same plan that follows (store_pg_relic_search.c). */
    dq_buf_t m_query;
    int64_t *m_seqs;
    size_t n_m, cap_m;
    /* NULL, or each match's ranked-walk score where match_bound already has it (NAN where
     * not): the rows its phrase half read anyway (store_pg_relic_search.c) */
    double *m_sc;
    /* Read transactions: the max audit seq of the snapshot once read (audit max_seq), which
     * tells whether the posting bitmaps are exact for it (store_pg_postings.c). */
    int64_t audit_at;
    int64_t schema_at; /* and the count of schema_version rows then (a migration since) */
    int has_audit_at;
    /* Writes still on their way (dq_pg_send_async): a thread of their own sends them on the
     * connection while the caller prepares what comes next; every other use of the
     * connection waits for it first (dq_pg_sync). Touched only by the transaction's thread
     * while sending is 0, and by the sender alone while it is 1. */
    int sending;
    pthread_t sender;
    int (*send_fn)(dq_store_txn_t *t, void *job, dq_err_t *err);
    void (*send_free)(void *job);
    void *send_job; /* owned, freed by dq_pg_sync */
    int send_rc;
    dq_err_t send_err;
    /* The second half of a write transaction (issue 15; docs/deploy.md "Bulk loads"): its
     * relic_fts rows go through a second connection, so that a second server process keeps
     * the search index (two thirds of an import's server work) while the first writes the
     * rest; the halves commit together by two-phase commit (store_pg.c, store_commit). NULL
     * until dq_pg_fts_half opens it. xid: this first half's transaction id, in the second
     * half's name. */
    dq_store_txn_t *fts;
    char xid[24];
    int audit_sent; /* 1 once audit rows went out on this connection (no second half then) */
    /* An import's search rows go to two search halves in turn (dq_pg_fts_bulk_half), so that
     * two server processes keep the GIN indexes at once: fts_b is the other one (NULL until
     * used; never the audit rows), b_seqs the seq ranges [lo, hi) it wrote, in pairs, so that
     * a later write of one of those relics in the same transaction goes where its row is
     * (dq_pg_fts_half_of). fts_turn: which half the next bulk send goes to. */
    dq_store_txn_t *fts_b;
    int64_t *b_seqs;
    size_t n_b, cap_b;
    int fts_turn;
};

/* store_pg_postings.c: posting bitmaps of relic_fts's frequent lexemes */
typedef struct dq_pg_postings dq_pg_postings_t;

struct pg_store {
    char *conninfo;        /* the URL, owned */
    pg_conn_t w;           /* the writer; guarded by wlock */
    dq_store_txn_t wtxn;   /* its transaction; guarded by wlock */
    pthread_mutex_t wlock; /* one writer at a time in this process */
    atomic_int write_wait_ms;
    pg_conn_t w2;          /* the writer's second connection (relic_fts); guarded by wlock */
    dq_store_txn_t w2txn;  /* its half of the writer's transaction; guarded by wlock */
    pg_conn_t w3;          /* the writer's third (an import's other search half); wlock */
    dq_store_txn_t w3txn;  /* its half of the writer's transaction; guarded by wlock */
    int two_phase;         /* the server takes prepared transactions: 2 (two at once or more),
                              1 (one: a single search half), 0, -1 not asked yet;
                              guarded by wlock */
    int fault_2pc;         /* tests: DQ_PG_FAULT_2PC at open (read-only after): the process
                              kills itself after the second half's PREPARE (1), after the
                              first half's COMMIT (2) or after an import's other search
                              half's COMMIT PREPARED (3, "searched"), as a crash there would;
                              "single" sets two_phase 0 */
    pg_conn_t rd[DQ_PG_N_READERS]; /* the read pool: rd[i] is lent while pool.in_use[i] */
    dq_store_txn_t rtxn[DQ_PG_N_READERS];
    dq_store_pool_t pool;
    int lock_key;     /* the advisory lock's second key: hashtext(current_schema()) */
    char channel[64]; /* the NOTIFY channel of this catalog (per schema) */
    /* The change listener (dq_pg_wait_change): its own connection, used only by the one
     * thread that waits (the server's watcher); guarded by listen_lock. */
    pthread_mutex_t listen_lock;
    PGconn *listener;
    dq_search_t *search; /* owned; read-only but for its own locked dictionary */
    dq_pg_postings_t *postings; /* owned; its own lock (store_pg_postings.c) */
};

/* ---- helpers every store_pg*.c file uses (store_pg.c) ---- */

/* Text parameters of one statement: values are borrowed (or point into num). */
typedef struct {
    const char *v[DQ_PG_MAX_PARAMS];
    int len[DQ_PG_MAX_PARAMS];
    char num[DQ_PG_MAX_PARAMS][24];
    int n;
} pg_params_t;
void dq_pg_p_text(pg_params_t *p, const char *s); /* NULL binds NULL */
void dq_pg_p_textn(pg_params_t *p, const char *s, size_t len);
void dq_pg_p_int(pg_params_t *p, int64_t v);

/* Runs the cached prepared statement sql with params (may be NULL) and returns its result
 * (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it), or NULL with err: DQ_EEXIST / 409 for a
 * unique violation, DQ_EBUSY / 503 for a lock or statement timeout, DQ_ENOTFOUND / 404 for a
 * foreign key, else DQ_EIO / 500. A failure marks txn failed. */
PGresult *dq_pg_exec(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_err_t *err);
/* The same for SQL built at run time (not cached). */
PGresult *dq_pg_exec_once(dq_store_txn_t *t, const char *sql, const pg_params_t *params,
                          dq_err_t *err);
/* Runs sql and returns 0, or -1 with err; *changed (may be NULL) gets the rows affected. */
int dq_pg_run(dq_store_txn_t *t, const char *sql, const pg_params_t *params, int64_t *changed,
              dq_err_t *err);
/* Runs sql (one row, one column expected) into *v: 0, 1 no row, -1 error. NULL reads 0. */
int dq_pg_int(dq_store_txn_t *t, const char *sql, const pg_params_t *params, int64_t *v,
              dq_err_t *err);
/* Runs sql and calls cb for each row as it arrives (single-row mode: a walk over 500,000
 * relics never holds them all). cb returns non-zero to stop (the rest is drained). */
typedef int (*dq_pg_row_cb)(void *ud, PGresult *row);
int dq_pg_walk(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_pg_row_cb cb,
               void *ud, dq_err_t *err);
/* Runs sql (a COPY ... FROM STDIN) and sends data[0..len) as its input (COPY text format):
 * 0, or -1 with err (txn failed). */
int dq_pg_copy_in(dq_store_txn_t *t, const char *sql, const char *data, size_t len,
                  dq_err_t *err);
/* Runs fn(t, job) on a thread of its own and returns at once: the statements fn sends
 * overlap with the caller's next work (an import's client CPU with the server's). Its
 * outcome comes with the next dq_pg_sync, which every statement of this file set calls
 * first, commit and rollback included; free_fn(job) is called then. When no thread can be
 * started, fn runs here. 0, or -1 with err (fn's own failure, when it ran here). */
int dq_pg_send_async(dq_store_txn_t *t, int (*fn)(dq_store_txn_t *t, void *job, dq_err_t *err),
                     void (*free_fn)(void *job), void *job, dq_err_t *err);
/* The transaction whose connection writes relic_fts rows in the write transaction t (every
 * relic_fts write goes through it): t's second half, opened here on the first call when the
 * server takes prepared transactions (max_prepared_transactions > 0), else t itself. A row
 * the second half wrote is invisible to t until both commit, and t waiting on it would wait
 * forever: hence all of them or none. NULL with err when the second half cannot begin. */
dq_store_txn_t *dq_pg_fts_half(dq_store_txn_t *t, dq_err_t *err);
/* The search half that holds relic seq's relic_fts row if this transaction wrote it through
 * dq_pg_fts_bulk_half, else dq_pg_fts_half's: a relic's search row is written, rewritten and
 * deleted on one connection within a transaction (the other could not see it, and would wait
 * for it forever). NULL with err. */
dq_store_txn_t *dq_pg_fts_half_of(dq_store_txn_t *t, int64_t seq, dq_err_t *err);
/* For an import's new relics seq [lo, hi): the search half that writes their relic_fts rows,
 * the two halves in turn (docs/deploy.md "Bulk loads"; t itself without prepared
 * transactions). NULL with err. */
dq_store_txn_t *dq_pg_fts_bulk_half(dq_store_txn_t *t, int64_t lo, int64_t hi, dq_err_t *err);
/* The transaction whose connection holds t's audit rows: its second half where it has one
 * (the change feed names a write only once its search rows are visible too), else t. Readers
 * of the audit table in t read there, after dq_pg_audit_flush. */
dq_store_txn_t *dq_pg_audit_txn(dq_store_txn_t *t);
/* Waits for the writes dq_pg_send_async started: 0, or -1 with their error (the
 * transaction has failed then). A no-op on the sending thread itself and when none run. */
int dq_pg_sync(dq_store_txn_t *t, dq_err_t *err);
/* A second read transaction beside the read transaction t, with t's snapshot, on a free
 * connection of the read pool (store_pg.c, "a reader beside"): one statement's work split in
 * two runs on two server processes at once. *out: the helper (end it with dq_pg_beside_end),
 * or NULL when no reader is free or t writes (the caller does the work alone). 0, or -1 with
 * err (t failed). Not thread-safe with t: the caller's thread uses both. */
int dq_pg_beside_begin(dq_store_txn_t *t, dq_store_txn_t **out, dq_err_t *err);
/* Ends the helper (waits for a statement it still runs) and returns its connection; NULL-safe. */
void dq_pg_beside_end(dq_store_txn_t *b);
/* Sends the cached prepared statement sql and returns without waiting; dq_pg_recv waits for
 * its result (PQclear it; NULL with err as dq_pg_exec). 0, or -1 with err. */
int dq_pg_send(dq_store_txn_t *t, const char *sql, const pg_params_t *params, dq_err_t *err);
PGresult *dq_pg_recv(dq_store_txn_t *t, dq_err_t *err);
/* Fills err from the failed result res (NULL: the connection's message), marks t failed;
 * returns -1. */
int dq_pg_fail(dq_store_txn_t *t, PGresult *res, const char *what, dq_err_t *err);
/* Column helpers on row r: text or NULL; integer (NULL reads 0); copy into dst. */
const char *dq_pg_col(PGresult *res, int r, int c);
int64_t dq_pg_col_int(PGresult *res, int r, int c);
void dq_pg_copy_col(char *dst, size_t cap, PGresult *res, int r, int c);
/* Appends an audit row in the write transaction (detail "{}" when NULL or empty); it is
 * written with the others of the transaction by dq_pg_audit_flush. */
int dq_pg_audit(dq_store_txn_t *t, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err);

/* Writes the audit rows appended so far (seq max + 1, in order); 0 or -1. Every reader of
 * the audit table calls it first, and commit does. */
int dq_pg_audit_flush(dq_store_txn_t *t, dq_err_t *err);
/* Audit rows taken out of a write transaction to go out with other writes (an import's
 * search rows: they are written in order on the connection that holds the audit rows, while
 * the client prepares the next rows, instead of all at commit). */
typedef struct {
    dq_buf_t who, action, object, detail; /* array literals, as dq_store_txn_t's */
    int n;
    int n_gone; /* relic.delete rows among them: relic_gone is pruned after them */
} dq_pg_audit_rows_t;
/* Moves t's appended audit rows into *out (empty before; t has none after). */
void dq_pg_audit_take(dq_store_txn_t *t, dq_pg_audit_rows_t *out);
/* Writes rows (taken from the write transaction whose audit rows a is, dq_pg_audit_txn) on
 * a's connection, and frees their buffers: 0, or -1 with err (a failed). */
int dq_pg_audit_send(dq_store_txn_t *a, dq_pg_audit_rows_t *rows, dq_err_t *err);
/* The audit table's last seq as t sees it (0 when empty); a read transaction also keeps it as
 * its snapshot's (t->audit_at, which store_pg_postings.c compares its bitmaps with). */
int dq_pg_audit_max_seq(dq_store_txn_t *t, int64_t *seq, dq_err_t *err);
/* Appends v as one element of a PostgreSQL array literal under construction (NULL: NULL). */
void dq_pg_array_add(dq_buf_t *b, const char *v);

/* ---- the schema: one function per object kind returns its migration SQL ---- */

extern const char dq_pg_image_schema[], dq_pg_pending_schema[], dq_pg_pending_run_schema[];
extern const char dq_pg_relic_schema[], dq_pg_relic_names_schema[], dq_pg_relic_title_schema[],
    dq_pg_relic_lz4_schema[], dq_pg_relic_pairs_schema[], dq_pg_relic_analyze_schema[],
    dq_pg_relic_texts_schema[];
/* Migration 25's second half, after dq_pg_relic_pairs_schema in the same transaction
 * (store_pg_relic_search.c): relic_fts's tsvectors made again, with pair lexemes. */
int dq_pg_relic_pairs_rebuild(dq_store_txn_t *t, dq_err_t *err);
extern const char dq_pg_account_schema[], dq_pg_account_fold_schema[];
extern const char dq_pg_annotation_schema[], dq_pg_lesson_schema[];

extern const dq_store_image_ops dq_pg_image_ops;
extern const dq_store_account_ops dq_pg_account_ops;
extern const dq_store_anno_ops dq_pg_anno_ops;
extern const dq_store_tour_ops dq_pg_tour_ops;
extern const dq_store_relic_ops dq_pg_relic_ops;
extern const dq_store_lesson_ops dq_pg_lesson_ops;
/* store_pg_kinds.c: migrations 9, 10, 11, 12, 14 and their ops */
extern const char dq_pg_spectral_schema[], dq_pg_condition_schema[], dq_pg_style_schema[],
    dq_pg_scene_schema[], dq_pg_network_schema[], dq_pg_withdrawal_schema[],
    dq_pg_withdrawal_backfill[], /* migration 19 */
    dq_pg_bulk_schema[];         /* migration 26 */
extern const dq_store_spectral_ops dq_pg_spectral_ops;
extern const dq_store_condition_ops dq_pg_condition_ops;
extern const dq_store_style_ops dq_pg_style_ops;
extern const dq_store_scene_ops dq_pg_scene_ops;
extern const dq_store_network_ops dq_pg_network_ops;
extern const dq_store_gloss_ops dq_pg_gloss_ops;
/* store_pg_relic_search.c: dq_store_relic_ops.match, .match_bound and .snippets. */
int dq_pg_relic_match(dq_store_txn_t *t, const dq_search_plan_t *plan, int what, int scored,
                      dq_relic_match_cb cb, void *ud, dq_err_t *err);
int dq_pg_relic_match_bound(dq_store_txn_t *t, const dq_search_plan_t *plan, int64_t limit,
                            int64_t *bound, dq_err_t *err);
int dq_pg_relic_snippets(dq_store_txn_t *t, const dq_search_plan_t *plan, const int64_t *seqs,
                         size_t n, const int64_t *all, size_t n_all, dq_relic_snippet_cb cb,
                         void *ud, dq_err_t *err);
/* The plain matches (ascending seqs into *out, *n, growing *cap) of the tsquery text q on
 * fts, or on fts_ab when ab (store_pg_relic_search.c): 0, or -1 with err. */
int dq_pg_relic_plain(dq_store_txn_t *t, int ab, const char *q, int64_t **out, size_t *n,
                      size_t *cap, dq_err_t *err);
/* store_pg_postings.c: new (free with dq_pg_postings_free, NULL-safe). */
dq_pg_postings_t *dq_pg_postings_new(void);
void dq_pg_postings_free(dq_pg_postings_t *ps);
/* The plain matches of plan (DQ_RELIC_MATCH_ALL on fts, or on fts_ab when ab) answered with
 * the posting bitmaps of its frequent one-lexeme terms (and PostgreSQL for the other terms),
 * into *out / *n / *cap as dq_pg_relic_plain fills them: 1 when answered so, 0 when the
 * caller asks PostgreSQL as before (a write transaction, no such term, a snapshot older than
 * the bitmaps), -1 with err. Thread-safe. */
int dq_pg_postings_match(dq_store_txn_t *t, const dq_search_plan_t *plan, int ab, int64_t **out,
                         size_t *n, size_t *cap, dq_err_t *err);
/* The rows of fts that may hold the phrase text q[0..len) (an OR of chains of quoted
 * lexemes, '\2xs' <-> '\2sx' <-> '\2xl': a split query's phrase half) by the posting
 * bitmaps: each chain's lexemes' AND, the chains' OR, into *out / *n / *cap ascending. A
 * superset of the matches (positions are not in the bitmaps), exactly the rows whose index
 * entries PostgreSQL's GIN scan would give for q. 1 when answered so, 0 when a lexeme is
 * neither kept nor frequent (or as dq_pg_postings_match says 0), -1 with err. Thread-safe. */
int dq_pg_postings_chains(dq_store_txn_t *t, const char *q, size_t len, int64_t **out, size_t *n,
                          size_t *cap, dq_err_t *err);
/* Migration 31: relic_gone (id, seq), a row per relic deletion, written with the deletion's
 * search half (relic_remove, store_pg_relic.c): the change feed names a deleted relic by id,
 * whose relics row is gone, and the bitmaps need its seq to forget it. */
extern const char dq_pg_relic_gone_schema[];
/* Deletes the relic_gone rows no bitmap can use any more (store_pg_postings.c says when), on
 * t (the connection the audit rows go out on, after a relic.delete's went): 0, -1 with err. */
int dq_pg_relic_gone_prune(dq_store_txn_t *t, dq_err_t *err);
/* After the migrations: refills the search dictionary from relic_names. */
int dq_pg_relic_open(dq_store_txn_t *t, dq_err_t *err);

/* ---- store_pg_text.c: index terms and phrase hits (no SQL) ---- */

/* Flags of the text functions below: the tokenizer's pinyin and initials tokens (bit 0), and
 * DQ_PG_PAIRS, the pair lexemes and markers that relic_fts holds since migration 25
 * (store_pg_text.c, "pair lexemes"): its tsvectors are made with DQ_PG_RELIC_TSV and its
 * queries rendered with DQ_PG_PAIRS. Annotations, lessons and the glossary have neither. */
#define DQ_PG_PAIRS 0x100
#define DQ_PG_RELIC_TSV (1 | DQ_PG_PAIRS)
/* Appends to out the tsvector literal of the fields (NULL = empty) with weights A, B, C, D
 * in order: danqing's tokenizer in document mode (pinyin when flags has bit 0), one tsvector
 * position per tokenizer position, colocated tokens at the same position, one empty
 * position between fields (so that no phrase spans two); with DQ_PG_PAIRS also the pair
 * lexemes and markers. *n_pos gets the positions used (the text's length in tokens, as FTS5
 * counts it). */
void dq_pg_tsvector(const dq_search_t *s, const char *const *fields, int n_fields, int flags,
                    dq_buf_t *out, int64_t *n_pos);
/* The same tsvector in PostgreSQL's binary send/receive form (a COPY ... (FORMAT binary)
 * field), appended to out. */
void dq_pg_tsvector_bin(const dq_search_t *s, const char *const *fields, int n_fields, int flags,
                        dq_buf_t *out);
/* The tsquery of plan: what is DQ_RELIC_MATCH_ALL (every term, a term any of its phrases),
 * DQ_RELIC_MATCH_BOOST (any boost phrase) or DQ_RELIC_MATCH_TITLE (every term within
 * weights A or B), or-ed with DQ_PG_PAIRS for relic_fts. Appends nothing when nothing can
 * match (no boost phrases; a term whose phrases have no tokens). Phrases become <-> chains of
 * quoted lexemes (with DQ_PG_PAIRS: pair lexemes where they exist): nothing a user typed
 * becomes tsquery syntax. */
void dq_pg_tsquery(const dq_search_t *s, const dq_search_plan_t *plan, int what, dq_buf_t *out);
/* Term `term` of plan alone, as dq_pg_tsquery(..., DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS) writes it
 * inside the AND of all terms ("(" its phrases joined by " | " ")"); nothing when none of its
 * phrases has tokens. */
void dq_pg_tsquery_term(const dq_search_t *s, const dq_search_plan_t *plan, int term,
                        dq_buf_t *out);
/* A one-term plan's DQ_RELIC_MATCH_ALL | DQ_PG_PAIRS query in two parts whose matches together
 * are the query's: its one-lexeme alternatives (exact, which GIN answers without reading
 * rows) and its phrases (rechecked against each candidate's positions). PostgreSQL rechecks
 * every candidate of a query that holds any phrase, so 'qiushan' | 'qiu' <-> 'shan' read
 * 19,000 tsvectors from TOAST that the lexeme alone had matched. 1 when both parts are
 * non-empty (appended to exact and phrased), else 0 and nothing appended. */
int dq_pg_tsquery_split(const dq_search_t *s, const dq_search_plan_t *plan, dq_buf_t *exact,
                        dq_buf_t *phrased);
/* The phrases (fts_aux.h, dq_fts_phrases_t) and FTS5's snippet and highlight over them
 * come from fts_aux.c, which the SQLite backend shares. */
/* Appends phrase k alone as a tsquery (nothing when it has no tokens). */
void dq_pg_phrase_tsquery(const dq_fts_phrases_t *p, size_t k, dq_buf_t *out);
/* store_pg_annotation.c: FTS5's bm25 over rows (a result of `table`'s rows, one text field,
 * its token count and terms columns), best first into *out (new, free()); ties by id_col then
 * key_col (either -1: unused). And the annotation search itself (relic_id NULL: all). */
typedef struct {
    int64_t id;
    const char *key; /* borrowed from rows */
    double score;
    int row;
} dq_pg_ranked_t;
int dq_pg_bm25(dq_store_txn_t *t, const dq_fts_phrases_t *ph, const char *table, PGresult *rows,
               int text_col, int ntok_col, int id_col, int key_col, dq_pg_ranked_t **out,
               dq_err_t *err);
int dq_pg_anno_ranked(dq_store_txn_t *t, const char *relic_id, const char *q, unsigned motivations,
                      const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err);

/* A credential lookup's row 0 (columns: 0 the stored hash, 1 the account name, 2 its role):
 * 0 with *out filled when column 0 equals hash (compared without an early exit), else 1.
 * Shared by the account and IIIF Auth credential lookups (store_pg_account.c). */
int dq_pg_cred_row(PGresult *r, const char *hash, dq_actor_t *out);

/* ---- store_pg_iiif_auth.c (issue 16) ---- */
/* Migration 17: IIIF Authorization Flow 2.0 access cookies and tokens. */
extern const char dq_pg_iiif_auth_schema[];
extern const dq_store_iiif_auth_ops dq_pg_iiif_auth_ops;
extern const dq_store_copy_ops dq_pg_copy_ops; /* store_pg_copy.c */
/* store_pg_condjob.c: migration 24, condition jobs (issue 12) */
extern const char dq_pg_condjob_schema[];
extern const dq_store_condjob_ops dq_pg_condjob_ops;
extern const char dq_pg_layerfile_schema[];
extern const dq_store_layerfile_ops dq_pg_layerfile_ops;
/* One page of a list (annotations, glossary; store_pg_annotation.c): count_sql's count into
 * *total (may be NULL), then page_sql walked with cb, whose parameters are p's followed by
 * LIMIT ($n+1) and OFFSET ($n+2) (p is extended: pass a copy you no longer need). */
int dq_pg_page(dq_store_txn_t *t, const char *count_sql, const char *page_sql, pg_params_t *p,
               int limit, int64_t offset, int64_t *total, dq_pg_row_cb cb, void *ud,
               dq_err_t *err);
extern const char dq_pg_journal_schema[];
extern const dq_store_journal_ops dq_pg_journal_ops;

#endif
