/*
 * store_sqlite_internal.h: what the store_sqlite*.c files share and nobody else sees. The
 * SQLite backend is split by object kind (store_sqlite.c: open, migrations, images, audit;
 * store_sqlite_relic.c: relics and their search index) but has one connection, one lock and
 * one list of migrations. Only store_sqlite*.c include this header (it includes sqlite3.h).
 */
#ifndef DQ_STORE_SQLITE_INTERNAL_H
#define DQ_STORE_SQLITE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include "catalog/catalog.h"
#include "search/search.h"

typedef struct {
    sqlite3 *db;          /* guarded by lock */
    pthread_mutex_t lock; /* serializes every use of db */
    /* The FTS5 tokenizer's tables and user dictionary: created at open (before the
     * migrations, which create an FTS5 table that names the tokenizer), owned, read-only
     * apart from the dictionary (which has its own lock). */
    dq_search_t *search;
    /* Relic statements and caches (store_sqlite_relic.c); guarded by lock. */
    struct relic_cache *relic;
    /* The in-memory facet and sort index of the relics (store_sqlite_relic_index.c): built by
     * the first search, owned; guarded by lock, like db (a search needs the connection for
     * its FTS5 part and its page anyway, so a separate rwlock would buy no parallelism). */
    struct relic_index *rindex;
} store_t;

/* ---- helpers every store_sqlite*.c file uses (store_sqlite.c) ---- */

/* Fills err (DQ_EIO, 500) with what and SQLite's message; returns -1. Lock held. */
int dq_sq_fail(store_t *s, dq_err_t *err, const char *what);
/* Runs sql (no rows, no parameters). */
int dq_sq_exec(store_t *s, const char *sql, dq_err_t *err);
/* Prepares sql into *st (finalize it after). */
int dq_sq_prepare(store_t *s, const char *sql, sqlite3_stmt **st, dq_err_t *err);
/* Steps st to the end, ignoring rows. */
int dq_sq_step_done(store_t *s, sqlite3_stmt *st, dq_err_t *err);
/* Rolls back the open transaction, if any. */
void dq_sq_rollback(store_t *s);
/* Copies column col of the current row as text ("" for NULL), cut to cap. */
void dq_sq_copy_col(char *dst, size_t cap, sqlite3_stmt *st, int col);
/* Appends an audit row (detail: a JSON object, "{}" when NULL or empty) in the current
 * transaction. Lock held. */
int dq_sq_audit(store_t *s, const char *who, const char *action, const char *object,
                const char *detail, dq_err_t *err);

/* ---- store_sqlite_relic.c ---- */

/* Migration 3: relics, their facet tables, image links and the FTS5 index. */
extern const char dq_sqlite_relic_schema[];
/* Migration 6: relic_names, the search dictionary's names (creators, zh titles). */
extern const char dq_sqlite_relic_names_schema[];
/* After the migrations: prepares what the relic code needs and refills the search dictionary
 * from the stored creator names and titles. Lock not held (called during open). */
int dq_sqlite_relic_open(store_t *s, dq_err_t *err);
/* Frees s->relic (finalizing its statements). NULL-safe inside. */
void dq_sqlite_relic_close(store_t *s);

struct dq_search *dq_sqlite_relic_search_handle(void *impl);
int dq_sqlite_relic_txn(void *impl, dq_relic_txn_fn fn, void *ud, dq_err_t *err);
int dq_sqlite_relic_load(void *txn, const char *id, const char *accession, dq_relic_stored_t *out,
                         dq_err_t *err);
int dq_sqlite_relic_save(void *txn, const dq_relic_row_t *row, dq_err_t *err);
int dq_sqlite_relic_remove(void *txn, const char *id, dq_err_t *err);
int dq_sqlite_relic_new_id(void *txn, char id[32], dq_err_t *err);
int dq_sqlite_relic_image_exists(void *txn, const char *image_id, dq_err_t *err);
int dq_sqlite_relic_audit(void *txn, const char *who, const char *action, const char *object,
                          const char *detail, dq_err_t *err);
int dq_sqlite_relic_get(void *impl, const char *id, dq_relic_stored_t *out, dq_buf_t *out_doc,
                        dq_err_t *err);
int dq_sqlite_relic_warm(void *impl, dq_err_t *err);
int dq_sqlite_relic_search(void *impl, const dq_relic_query_t *q, const dq_relic_plan_t *plan,
                           int show_restricted, dq_buf_t *out, dq_err_t *err);
int dq_sqlite_relic_image_visible(void *impl, const char *image_id, int show_restricted);
int dq_sqlite_relic_counts(void *impl, int show_restricted, int64_t *relics, int64_t *images,
                           dq_err_t *err);
int dq_sqlite_relic_audit_list(void *impl, const char *object, int limit, int64_t before_seq,
                               dq_buf_t *out, dq_err_t *err);
int dq_sqlite_relic_names(void *impl, int (*cb)(void *ud, const char *name), void *ud,
                          dq_err_t *err);

/* ---- store_sqlite_relic_index.c: the in-memory facet and sort index ---- */

typedef struct relic_index relic_index_t;
/* New and empty (built by the first dq_sqlite_rindex_sync); free with dq_sqlite_rindex_free
 * (NULL-safe). */
relic_index_t *dq_sqlite_rindex_new(void);
void dq_sqlite_rindex_free(relic_index_t *ix);
/* Lock held. Builds the index, or rebuilds it when another connection has committed since
 * (PRAGMA data_version). 0, or -1 with err (the index is then empty and rebuilt next time). */
int dq_sqlite_rindex_sync(store_t *s, dq_err_t *err);
/* Lock held, inside a transaction: seq was written (saved or removed). */
void dq_sqlite_rindex_note(store_t *s, int64_t seq);
/* Lock held, after COMMIT (committed 1: re-read the noted rows) or ROLLBACK (0: forget them). */
void dq_sqlite_rindex_end_txn(store_t *s, int committed);
/* The largest seq the index has seen (the relevance cursor's snapshot). */
int64_t dq_sqlite_rindex_max_seq(store_t *s);

/* The relics that pass every filter, in ascending seq order (seq owned: dq_sqlite_rsel_free). */
typedef struct {
    int64_t *seq;
    size_t n;
} dq_rsel_t;
/* Lock held, index synced. Filters cand[0..n_cand) (ascending seqs; every relic when !only) by q's
 * filters and visibility into *res, and when facets is non-NULL appends ,"facets":{...} to it
 * (each facet ignoring its own filter; creator labels in English when lang_en). Returns 0. */
int dq_sqlite_rindex_select(store_t *s, const dq_relic_query_t *q, int show_restricted, int lang_en,
                            int only, const int64_t *cand, size_t n_cand, dq_rsel_t *res,
                            dq_buf_t *facets);
void dq_sqlite_rsel_free(dq_rsel_t *res);
/* Lock held. The first k rows of res in p's (non-relevance) sort order after p's cursor, into
 * page[0..k); returns how many. */
size_t dq_sqlite_rindex_page(store_t *s, const dq_relic_plan_t *p, const dq_rsel_t *res,
                             int64_t *page, size_t k);
/* The sort key of seq for a cursor: the year of the date sorts, or the accession (borrowed,
 * valid while the lock is held). */
void dq_sqlite_rindex_sort_key(store_t *s, int sort, int64_t seq, double *num, const char **str);

/* ======== accounts (store_sqlite_account.c) ======== */

/* Migration 4: users, sessions, API tokens. */
extern const char dq_sqlite_account_schema[];
int dq_sqlite_user_insert(void *impl, const char *name, int role, const char *pwhash,
                          const char *who, dq_err_t *err);
int dq_sqlite_user_get(void *impl, const char *name, dq_user_t *out, char *pwhash, dq_err_t *err);
int dq_sqlite_user_list(void *impl, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err);
int dq_sqlite_user_update(void *impl, const char *name, int role, const char *pwhash,
                          const char *who, dq_err_t *err);
int dq_sqlite_user_delete(void *impl, const char *name, const char *who, dq_err_t *err);
int dq_sqlite_cred_insert(void *impl, int kind, const char *hash, const char *name,
                          int64_t expires_at, const char *who, dq_err_t *err);
int dq_sqlite_cred_lookup(void *impl, int kind, const char *hash, int64_t now, dq_actor_t *out,
                          dq_err_t *err);
int dq_sqlite_cred_delete(void *impl, int kind, const char *hash, dq_err_t *err);
int dq_sqlite_cred_revoke(void *impl, const char *name, int64_t now, const char *who,
                          dq_err_t *err);
/* ======== end accounts ======== */

/* ======== annotations and tours (store_sqlite_annotation.c) ======== */

/* Migration 5: annotations (+ FTS5 index kept by triggers) and tours. */
extern const char dq_sqlite_annotation_schema[];
int dq_sqlite_anno_put(void *impl, dq_anno_row_t *row, int64_t if_version, const char *who,
                       const char *detail, dq_err_t *err);
int dq_sqlite_anno_delete(void *impl, const char *relic_id, int64_t id, int64_t if_version,
                          const char *who, dq_err_t *err);
int dq_sqlite_anno_get(void *impl, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
                       dq_err_t *err);
int dq_sqlite_anno_list(void *impl, const char *relic_id, int canvas, int64_t offset, int limit,
                        dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err);
int dq_sqlite_anno_search(void *impl, const char *relic_id, const char *match, unsigned motivations,
                          const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err);
int dq_sqlite_tour_put(void *impl, dq_tour_row_t *row, int64_t if_version, const char *who,
                       const char *detail, dq_err_t *err);
int dq_sqlite_tour_delete(void *impl, int64_t id, int64_t if_version, const char *who,
                          dq_err_t *err);
int dq_sqlite_tour_get(void *impl, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err);
int dq_sqlite_tour_list(void *impl, const char *relic_id, dq_tour_cb cb, void *ud, dq_err_t *err);
/* ======== end annotations and tours ======== */

#endif
