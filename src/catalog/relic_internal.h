/*
 * relic_internal.h: what the backend-neutral relic files share (relic_doc.c: vocabularies,
 * validation, canonical documents; relic_write.c: writes, reads and import batches;
 * relic_search.c: search; relic_index.c: the facet and sort index; relic_import.c: the bulk
 * readers). Catalog-internal: only src/catalog/relic*.c include it. It includes jansson.h,
 * which is why it is not catalog.h.
 */
#ifndef DQ_RELIC_INTERNAL_H
#define DQ_RELIC_INTERNAL_H

#include <jansson.h>

#include "catalog/catalog.h"
#include "catalog/store.h"
#include "search/search.h"

/* One row of an import: doc is owned by the row (decref'd by relic_import_batch). */
typedef struct {
    json_t *doc;
    long line;
    /* 1: image links whose image is not in the catalog are dropped instead of failing the
     * row (the sample collection's flat form names images that may not be ingested yet). */
    int lenient_images;
} relic_import_row_t;

/* Validates rows[0..n) and upserts them by accession in one transaction (see
 * dq_catalog_import). Bad rows go to on_error and st->failed. dry_run: nothing is written.
 * Returns -1 only for a failure of the whole batch (database error). norm NULL: takes every
 * rows[i].doc (set to NULL). norm: the rows' documents already validated by
 * relic_import_norm (NULL entries: rows that failed and were reported by the caller); then
 * rows and norm stay the caller's, to be freed by the thread that made them (glibc's malloc
 * is slow when one thread frees what another keeps allocating: +25 % of an import's client
 * CPU). written NULL: the search dictionary learns the names of the rows written (relic_dict_add)
 * once the batch has committed. written (n entries, zero on entry): written[i] is set to 1 for
 * each row inserted or updated, and the dictionary is left to the caller, to be told once this
 * returned 0 and dry_run is 0 (an import does it while the server writes its next batch). */
int relic_import_batch(dq_catalog_t *cat, relic_import_row_t *rows, json_t **norm, int *written,
                       int n, const dq_actor_t *who, int dry_run, dq_import_error_fn on_error,
                       void *ud, dq_import_stats_t *st, dq_err_t *err);
/* An import row's document validated (relic_normalize): its canonical part (new reference),
 * or NULL with *why the field errors as relic_import_batch words them (new string, free()).
 * Touches no catalog: import readers run it beside the batch being written. */
json_t *relic_import_norm(json_t *doc, char **why);

/* The dynasty vocabulary key for a Met-style period or dynasty string ("Northern Song dynasty
 * (960–1127)", "Qing dynasty (1644–1911)"), or NULL. */
const char *relic_dynasty_from_text(const char *text);
/* 1 when key is in vocabulary name ("dynasties", "object_types", "subjects"). */
int relic_vocab_has(const char *name, const char *key);

/* ---------------------------------------------------------------- relic_doc.c */

#define RELIC_SMALL_ARRAY_MAX 32 /* creators, subjects, keywords */
#define RELIC_ARRAY_MAX 200      /* inscriptions, seals, provenance, images */

/* Field errors collect in a JSON object {"path": "message"}; the first message per path wins. */
void relic_fe_add(json_t *fe, const char *path, const char *msg);
void relic_fe_addf(json_t *fe, const char *msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Validates an input document; returns its canonical user part (new reference), or NULL with
 * the field errors ({"path": "message"}) added to fe. */
json_t *relic_normalize(json_t *in, json_t *fe);
/* Canonical text of a user document (malloc'd). */
char *relic_doc_text(json_t *d);
/* A write's row: the canonical document and what the backend indexes, pointing into d. */
typedef struct {
    dq_relic_row_t row;
    const char *subj[RELIC_SMALL_ARRAY_MAX], *cr[RELIC_SMALL_ARRAY_MAX],
        *cr_en[RELIC_SMALL_ARRAY_MAX];
    dq_relic_link_t links[RELIC_ARRAY_MAX];
    dq_buf_t title, creators, body, desc;
    char *doc;
} relic_row_build_t;
/* Fills rb->row from the canonical document d (borrowed: d must outlive the row). */
void relic_row_build(relic_row_build_t *rb, json_t *d, const char *id, int64_t version);
void relic_row_free(relic_row_build_t *rb);
/* {"id":…, <user fields>, "created_at", "updated_at", "version"} from the stored parts. */
void relic_doc_out(dq_buf_t *out, const dq_relic_stored_t *st);
/* The audit detail of an update (malloc'd JSON): changed top-level fields, old and new. */
char *relic_diff_detail(json_t *old, json_t *new, int64_t version);
/* RFC 7396 §2: MergePatch(target, patch); a new reference. */
json_t *relic_merge_patch(json_t *target, json_t *patch);
/* Adds d's creator names and zh title to the search dictionary (names it refuses are just
 * not boosted). */
void relic_dict_add(dq_catalog_t *cat, json_t *d);
/* 1 when id is a valid relic id, else 0 with err (400). */
int relic_id_ok(const char *id, dq_err_t *err);
/* 1 when who may see restricted relics (viewer and above). */
int relic_show_restricted(const dq_actor_t *who);

/* ---------------------------------------------------------------- relic_index.c */

/* The in-memory facet and sort index of one catalog (see relic_index.c). */
typedef struct relic_index relic_index_t;
/* The catalog's index (catalog.c owns it: created at open, freed at close). */
relic_index_t *relic_index_of(dq_catalog_t *cat);
relic_index_t *relic_index_new(void);
void relic_index_free(relic_index_t *ix); /* NULL-safe */
/* Brings ix up to date with the snapshot of txn (a read or write transaction of b): the
 * first call builds it, later ones apply the change feed since. Thread-safe (takes the
 * index's write lock only when there is something to do). 0, or -1 with err (ix is then
 * emptied and built again next time). */
int relic_index_sync(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn,
                     dq_err_t *err);
/* The change feed applied by a poller rather than a search: when the index is built (the first
 * search builds it; nothing happens before), applies at most max_rows feed rows after the
 * index's position, each re-reading at most one named relic, and never rebuilds. Takes the
 * index's lock for writing only when there is something to apply. 0, or -1 (the index is then
 * dropped and the next search builds it again). */
int relic_index_follow(relic_index_t *ix, const dq_store_backend_t *b, dq_store_txn_t *txn,
                       int max_rows, dq_err_t *err);
/* Full builds and relics re-read from the feed so far (tests, bench). */
void relic_index_stats(relic_index_t *ix, int64_t *rebuilds, int64_t *reloads);
/* The reads below need the read lock. */
void relic_index_rdlock(relic_index_t *ix);
void relic_index_unlock(relic_index_t *ix);
/* The largest seq ever present (the relevance cursor's snapshot). */
int64_t relic_index_max_seq(const relic_index_t *ix);

enum {
    DQ_RELIC_SORT_RELEVANCE = 0,
    DQ_RELIC_SORT_DATE,
    DQ_RELIC_SORT_DATE_DESC,
    DQ_RELIC_SORT_ACCESSION
};
/* A validated search request: what relic_search.c makes of a dq_relic_query_t besides the
 * text plan. Strings borrowed. */
typedef struct {
    int sort;               /* DQ_RELIC_SORT_* */
    int limit;              /* 1..100 */
    int has_cursor;         /* keyset: rows strictly after (cursor key, cursor_seq) */
    double cursor_num;      /* the year of the date sorts; relevance: the offset */
    const char *cursor_str; /* accession sort */
    int64_t cursor_seq;     /* relevance: the snapshot (largest seq of the first page) */
    int lang_en;            /* 1: English snippets and creator labels */
} relic_plan_t;

/* The relics that pass every filter, in ascending seq order (seq owned: relic_sel_free). */
typedef struct {
    int64_t *seq;
    size_t n;
} relic_sel_t;
/* Filters cand[0..n_cand) (ascending seqs; every relic when !only) by q's filters and
 * visibility into *res, and when facets is non-NULL appends ,"facets":{...} to it (each facet
 * ignoring its own filter; creator labels in English when lang_en). */
void relic_index_select(const relic_index_t *ix, const dq_relic_query_t *q, int show_restricted,
                        int lang_en, int only, const int64_t *cand, size_t n_cand, relic_sel_t *res,
                        dq_buf_t *facets);
void relic_sel_free(relic_sel_t *res);
/* The first k rows of res in p's (non-relevance) sort order after p's cursor, into
 * page[0..k); returns how many. */
size_t relic_index_page(const relic_index_t *ix, const relic_plan_t *p, const relic_sel_t *res,
                        int64_t *page, size_t k);
/* What the index knows of seq (strings borrowed while the read lock is held): 0, or 1 when
 * seq is not a present relic. */
typedef struct {
    const char *id, *accession;
    int has_year, year_from, year_to;
    int sort_year, sort_year_desc; /* the date sorts' keys (missing dates last) */
} relic_ixinfo_t;
int relic_index_entry(const relic_index_t *ix, int64_t seq, relic_ixinfo_t *out);

/* ---------------------------------------------------------------- relic_search.c */

typedef struct {
    const dq_store_backend_t *b;
    relic_index_t *ix;
    dq_store_txn_t *txn;
    const dq_relic_query_t *q;
    const relic_plan_t *p;
    const dq_search_plan_t *sp; /* NULL without text */
    int show_restricted;
    dq_buf_t *out;
    const int64_t *colour_seq; /* colour search (style.c): allowed relic seqs, ascending */
    size_t n_colour;
    int colour;                /* 1: colour_seq applies */
} relic_search_ctx_t;
/* dq_catalog_read callback that syncs the index (ud: relic_search_ctx_t with b and ix). */
int relic_warm_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err);

#endif
