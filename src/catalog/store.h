/*
 * store.h: the storage interface of the catalog (house style 4). A backend stores and fetches
 * rows inside transactions; it has no policy: no role checks, no validation, no last-admin
 * rule, no visibility rule, no JSON for the API, no query syntax built from user text. All of
 * that lives once, above this line, in catalog.c, account.c, annotation.c and relic*.c.
 *
 * Only src/catalog/ includes this header; http/, cli/ and tests use catalog.h.
 *
 * To write a backend: fill a dq_store_backend_t (open/close/begin/commit/rollback and one ops
 * struct per kind of object), and let dq_catalog_open pick it by URL scheme (catalog.c).
 * store_sqlite.c + store_sqlite_image.c + store_sqlite_account.c + store_sqlite_annotation.c
 * are the reference for everything except relics; store_sqlite_relic*.c for relics.
 *
 * Conventions every member follows unless its comment says otherwise:
 *  - Returns 0 on success, -1 with err filled on failure. A lookup that finds nothing returns
 *    1 (no err) so that callers choose the user-facing message. A unique violation is
 *    DQ_EEXIST; a database that stayed locked past the bounded write wait is DQ_EBUSY (503);
 *    anything else DQ_EIO / DQ_EINTERNAL (500).
 *  - Every primitive takes a dq_store_txn_t from begin() and runs inside it; write primitives
 *    need a write transaction. Strings passed in are borrowed for the call. Rows handed to a
 *    callback are borrowed for the callback only (copy what you keep); a callback returns
 *    non-zero to stop the walk (the primitive then returns 0) and must not call back into
 *    the catalog (the transaction's connection is busy).
 *  - Thread safety: the backend handle (void *impl) may be used by any number of threads at
 *    once; a transaction belongs to the thread that began it until commit/rollback.
 *  - Times are UTC text "2026-11-24T15:33:07Z" set by the backend ("now" at the write).
 */
#ifndef DQ_STORE_H
#define DQ_STORE_H

#include <stdint.h>

#include "catalog/catalog.h"

typedef struct dq_store_txn dq_store_txn_t; /* opaque, backend-defined */

/* ---------------------------------------------------------------- row types */

/* ======== relics: row types (relic*.c, store_sqlite_relic*.c) ======== */
/* A stored row as the backend returns it. */
typedef struct {
    char id[64];
    int64_t version;
    char created_at[32], updated_at[32];
    const char *doc; /* the user part of the document (no id/version/times), canonical JSON */
    size_t doc_len;
} dq_relic_stored_t;

/* One image link of a relic, in order. */
typedef struct {
    const char *image_id, *role;
} dq_relic_link_t;

/* What a backend writes for one relic: the canonical document plus the values it indexes.
 * Everything is borrowed for the call. */
typedef struct {
    const char *id, *accession;
    int64_t version;        /* 1 on insert */
    const char *created_at; /* NULL: now (insert) / keep (update) */
    const char *doc;        /* canonical user document JSON */
    size_t doc_len;
    const char *dynasty, *object_type, *medium_key; /* NULL when absent */
    int year_from, year_to, has_year;               /* has_year 0: no dates */
    int restricted;
    const char *sort_title; /* accession-independent title key for display */
    const char *title_zh;   /* the zh title (a dictionary name), NULL when there is none */
    const char *const *subjects;
    int n_subjects;
    const char *const *creators; /* facet labels: the zh name, else en */
    const char *const *creators_en;
    int n_creators;
    const dq_relic_link_t *links;
    int n_links;
    /* Full-text fields, ranked in this order of weight: title (zh/en/pinyin), creators, body
     * (medium, inscriptions, seals, school, date text, vocabulary labels, keywords,
     * accession), description. */
    const char *fts_title, *fts_creators, *fts_body, *fts_description;
} dq_relic_row_t;


/* ======== end relics: row types ======== */

/* ======== annotations and tours: types (annotation.c, store_sqlite_annotation.c) ======== */

/* One stored annotation as the backend reads and writes it. The W3C / IIIF JSON forms are
 * built by http/ (their ids are URLs that depend on the address the client used); the
 * catalog keeps this neutral record. Strings in fixed arrays are copies; bodies and fts are
 * borrowed (by the backend for the call on write; valid only during the callback on read). */
typedef struct {
    int64_t id;          /* server-assigned, > 0; 0 on insert */
    char relic_id[64];   /* the relic the annotation is on */
    int canvas;          /* 1-based canvas index in the relic's manifest */
    int x, y, w, h;      /* the region (FragmentSelector xywh=), canvas pixels */
    char motivation[16]; /* commenting | describing | identifying | tagging */
    const char *bodies;  /* JSON array [{"value": "...", "language": "zh"}], canonical */
    const char *fts;     /* the searchable text: the body values joined by newlines */
    char creator[64];    /* the account that created it (dq_actor_t.user) */
    char created[32], modified[32];
    int64_t version; /* 1 on insert, +1 per replace */
} dq_anno_row_t;

/* One stored tour. doc is the user part ({"title", "stops", "public"}), canonical JSON;
 * borrowed as for dq_anno_row_t. */
typedef struct {
    int64_t id; /* server-assigned, > 0; shown as "t{id}" */
    char relic_id[64];
    const char *doc;
    char author[64];
    int is_public;
    char created[32], modified[32];
    int64_t version;
} dq_tour_row_t;

/* Called once per row by the annotation and tour readers; row is borrowed for the call.
 * hl, for search only, is the FTS text with each hit between \x01 and \x02 (else NULL).
 * Non-zero stops the walk. The backend's lock is held: do not call back into the catalog. */
typedef int (*dq_anno_cb)(void *ud, const dq_anno_row_t *row, const char *hl);
typedef int (*dq_tour_cb)(void *ud, const dq_tour_row_t *row);

/* ======== end annotations and tours: types ======== */

/* ======== lessons and glossary: types (lesson.c, glossary.c, store_sqlite_lesson.c) ======== */

/* One stored lesson. doc is the user part ({"title", "summary", "steps", "public"}),
 * canonical JSON, borrowed as for dq_tour_row_t. */
typedef struct {
    int64_t id; /* server-assigned, > 0; shown as "l{id}" */
    const char *doc;
    char author[64];
    int is_public;
    char created[32], modified[32];
    int64_t version;
} dq_lesson_row_t;

/* One glossary entry. doc is the user part (term, definition, aliases, ...), canonical JSON;
 * fts the searchable text (terms, aliases, pinyin, definitions joined by newlines). Both
 * borrowed as for dq_anno_row_t. */
typedef struct {
    char key[64]; /* [a-z0-9-]{1,63}, the entry's name in URLs */
    const char *doc;
    const char *fts;
    char author[64];
    char created[32], modified[32];
    int64_t version;
} dq_gloss_row_t;

typedef int (*dq_lesson_cb)(void *ud, const dq_lesson_row_t *row);
typedef int (*dq_gloss_cb)(void *ud, const dq_gloss_row_t *row);

/* ======== end lessons and glossary: types ======== */


/* ---------------------------------------------------------------- images */

/* Called once per row; rec borrowed for the call. */
typedef int (*dq_store_image_cb)(void *ud, const dq_image_rec_t *rec);
/* One image link of a relic as image visibility needs it: the relic's id, whether the relic
 * is restricted, and the linked image id (borrowed for the call). */
typedef int (*dq_store_link_cb)(void *ud, const char *relic_id, int restricted,
                                const char *image_id);

typedef struct dq_store_image_ops {
    /* Inserts rec, or with replace=1 inserts or replaces it (keeping created_at); also deletes
     * the pending rows of the same id and pyramid. Without replace an existing id is DQ_EEXIST.
     * Sets created_at/updated_at itself (rec's are ignored). *replaced (may be NULL) gets 1 when a
     * row was replaced. */
    int (*put)(dq_store_txn_t *txn, const dq_image_rec_t *rec, int replace, int *replaced,
               dq_err_t *err);
    /* 0 and *out filled, 1 unknown id, -1 error. */
    int (*get)(dq_store_txn_t *txn, const char *id, dq_image_rec_t *out, dq_err_t *err);
    /* Every image in id order. */
    int (*list)(dq_store_txn_t *txn, dq_store_image_cb cb, void *ud, dq_err_t *err);
    /* 0 deleted, 1 unknown id. */
    int (*remove)(dq_store_txn_t *txn, const char *id, dq_err_t *err);
    /* The pending journal (catalog.h): one row per ingest run, keyed by rec->run (migration
     * 33; before, by id, so that two ingests of one id shared a row). put replaces the row of
     * the same run; drop of an absent run is not an error. list: id, run order, run filled,
     * created_at and updated_at empty. put above deletes the pending rows of its id that name
     * its pyramid: their uploads are the image's now. */
    int (*pending_put)(dq_store_txn_t *txn, const dq_image_rec_t *rec, dq_err_t *err);
    int (*pending_list)(dq_store_txn_t *txn, dq_store_image_cb cb, void *ud, dq_err_t *err);
    int (*pending_drop)(dq_store_txn_t *txn, const char *run, dq_err_t *err);
    /* The images, then the pending rows, whose master_sha256 is sha256 (indexed on images:
     * images_master), cb per row until it returns non-zero; no order within each. Issue 12:
     * whether a master is still named before it is removed, without walking every image. */
    int (*by_master)(dq_store_txn_t *txn, const char *sha256, dq_store_image_cb cb, void *ud,
                     dq_err_t *err);
    /* The image links of one relic (relic_id non-NULL; no call when the relic is gone; one
     * call with image_id NULL when it has no links) or of every relic (NULL: only linked
     * relics), for the image visibility map (image_map.c). */
    int (*links)(dq_store_txn_t *txn, const char *relic_id, dq_store_link_cb cb, void *ud,
                 dq_err_t *err);
} dq_store_image_ops;

/* ---------------------------------------------------------------- audit and change feed */

/* One audit row; strings borrowed for the callback. detail is a JSON object. */
typedef struct {
    int64_t seq;
    const char *at, *who, *action, *object, *detail;
} dq_store_audit_row_t;
typedef int (*dq_store_audit_cb)(void *ud, const dq_store_audit_row_t *row);

typedef struct dq_store_audit_ops {
    /* Appends a row (detail NULL or "" = "{}") in the write transaction; seq is assigned and
     * only ever grows, also across processes. Every committed write of relics, images,
     * accounts, annotations and tours adds at least one row: the change feed below depends on
     * it. */
    int (*append)(dq_store_txn_t *txn, const char *who, const char *action, const char *object,
                  const char *detail, dq_err_t *err);
    /* The largest seq (0 when empty). Cheap: the server polls it once a second. */
    int (*max_seq)(dq_store_txn_t *txn, int64_t *seq, dq_err_t *err);
    /* Rows with seq > after_seq in seq order, at most limit (the change feed). */
    int (*since)(dq_store_txn_t *txn, int64_t after_seq, int limit, dq_store_audit_cb cb, void *ud,
                 dq_err_t *err);
    /* Rows newest first: object NULL = all, before_seq 0 = from the newest, at most limit. */
    int (*list)(dq_store_txn_t *txn, const char *object, int64_t before_seq, int limit,
                dq_store_audit_cb cb, void *ud, dq_err_t *err);
} dq_store_audit_ops;

/* ---------------------------------------------------------------- accounts */

/* Names: every account has a display name (as created) and a key, the name folded to lower
 * case (account.c folds; the backend only stores and compares keys). The key is unique; see
 * account.c for accounts that existed before folding. */
typedef struct dq_store_account_ops {
    /* DQ_EEXIST when the key is taken. */
    int (*user_insert)(dq_store_txn_t *txn, const char *name, const char *key, int role,
                       const char *pwhash, dq_err_t *err);
    /* By key: 0 and *out (and pwhash, DQ_PWHASH_MAX bytes, when non-NULL) filled; 1 unknown.
     * When two rows share a key (from before folding), the one whose name equals name_hint
     * (may be NULL) wins, else the oldest. */
    int (*user_get)(dq_store_txn_t *txn, const char *key, const char *name_hint, dq_user_t *out,
                    char *pwhash, dq_err_t *err);
    /* Every account in name order, with its credentials unexpired at now counted. */
    int (*user_list)(dq_store_txn_t *txn, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err);
    /* By exact stored name: role >= 0 sets the role, pwhash non-NULL sets the hash (neither
     * touches credentials). 1 unknown. */
    int (*user_update)(dq_store_txn_t *txn, const char *name, int role, const char *pwhash,
                       dq_err_t *err);
    /* By exact stored name, with its credentials. 1 unknown. */
    int (*user_delete)(dq_store_txn_t *txn, const char *name, dq_err_t *err);
    /* Accounts with role DQ_ROLE_ADMIN. */
    int (*admin_count)(dq_store_txn_t *txn, int64_t *n, dq_err_t *err);
    /* Credentials (kind DQ_CRED_*) are kept as the 64-hex SHA-256 of the token text, with an
     * expiry in Unix seconds (0: never, tokens only). insert: of an existing stored name. */
    int (*cred_insert)(dq_store_txn_t *txn, int kind, const char *hash, const char *name,
                       int64_t expires_at, dq_err_t *err);
    /* 0 found and unexpired at now (*out: the account's stored name and current role), 1 not
     * found or expired. */
    int (*cred_lookup)(dq_store_txn_t *txn, int kind, const char *hash, int64_t now,
                       dq_actor_t *out, dq_err_t *err);
    /* Deletes one credential (absent is not an error). */
    int (*cred_delete)(dq_store_txn_t *txn, int kind, const char *hash, dq_err_t *err);
    /* Deletes every credential of the stored name (NULL: nobody's), then every one expired at
     * now. */
    int (*cred_purge)(dq_store_txn_t *txn, const char *name, int64_t now, dq_err_t *err);
} dq_store_account_ops;

/* ======== IIIF Authorization Flow 2.0 (iiif_auth.c, store_*_iiif_auth.c; migration 17) ======== */
/* Access cookies (DQ_IIIF_CRED_COOKIE) and access tokens (DQ_IIIF_CRED_TOKEN), each kept as
 * the 64-hex SHA-256 of its text with an expiry in Unix seconds, and tied to the browser
 * session (sessions.hash) it was granted from: it is worth nothing once that session ends. */
typedef struct dq_store_iiif_auth_ops {
    /* Inserts a credential of kind tied to the session whose hash is session (which exists). */
    int (*insert)(dq_store_txn_t *txn, int kind, const char *hash, const char *session,
                  int64_t expires_at, dq_err_t *err);
    /* 0: found, unexpired at now and its session too: *out gets the session's account (stored
     * name, current role) and session (65 bytes, may be NULL) the session's hash. 1: no such
     * credential (or its session is gone); 2: it exists but it or its session has expired. */
    int (*lookup)(dq_store_txn_t *txn, int kind, const char *hash, int64_t now, dq_actor_t *out,
                  char *session, dq_err_t *err);
    /* Deletes every credential tied to session (absent is not an error). */
    int (*drop_session)(dq_store_txn_t *txn, const char *session, dq_err_t *err);
    /* Deletes every credential expired at now. */
    int (*purge)(dq_store_txn_t *txn, int64_t now, dq_err_t *err);
} dq_store_iiif_auth_ops;
/* ======== end IIIF Authorization Flow 2.0 ======== */

/* ---------------------------------------------------------------- annotations and tours */

typedef struct dq_store_anno_ops {
    /* Inserts row (row->id 0): fills id, version (1), created, modified. A relic that does not
     * exist is DQ_ENOTFOUND. */
    int (*insert)(dq_store_txn_t *txn, dq_anno_row_t *row, dq_err_t *err);
    /* Updates annotation row->id of row->relic_id when its version is if_version (-1: any):
     * version + 1; fills version, created, modified and creator from the stored row. 1 unknown;
     * DQ_EEXIST (412) when the version differs. */
    int (*update)(dq_store_txn_t *txn, dq_anno_row_t *row, int64_t if_version, dq_err_t *err);
    /* 1 unknown; DQ_EEXIST (412) stale version. */
    int (*remove)(dq_store_txn_t *txn, const char *relic_id, int64_t id, int64_t if_version,
                  dq_err_t *err);
    /* One annotation (cb once) or 1 unknown. */
    int (*get)(dq_store_txn_t *txn, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
               dq_err_t *err);
    /* The relic's annotations in id order (canvas > 0: that canvas only) from offset, at most
     * limit; *total (may be NULL) the number that match canvas. */
    int (*list)(dq_store_txn_t *txn, const char *relic_id, int canvas, int64_t offset, int limit,
                dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err);
    /* Full-text search of the relic's annotation bodies for the user text q (the backend plans
     * it with search/, the Chinese-aware tokenizer both backends share; bad text is DQ_EINVAL).
     * motivations: a mask, 1 << k for k in commenting, describing, identifying, tagging (0:
     * any); creator NULL = any. Best first, at most limit; cb gets hl, the text with each hit
     * between \x01 and \x02. */
    int (*search)(dq_store_txn_t *txn, const char *relic_id, const char *q, unsigned motivations,
                  const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err);
} dq_store_anno_ops;

typedef struct dq_store_tour_ops {
    /* As for annotations: insert fills id, version, created, modified; update checks
     * if_version and fills version, created, modified, author, relic_id; 1 unknown. */
    int (*insert)(dq_store_txn_t *txn, dq_tour_row_t *row, dq_err_t *err);
    int (*update)(dq_store_txn_t *txn, dq_tour_row_t *row, int64_t if_version, dq_err_t *err);
    int (*remove)(dq_store_txn_t *txn, int64_t id, int64_t if_version, dq_err_t *err);
    int (*get)(dq_store_txn_t *txn, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err);
    /* The relic's tours in id order. */
    int (*list)(dq_store_txn_t *txn, const char *relic_id, dq_tour_cb cb, void *ud, dq_err_t *err);
} dq_store_tour_ops;


/* ---------------------------------------------------------------- lessons and glossary */

typedef struct dq_store_lesson_ops {
    /* As for tours: insert fills id, version (1), created, modified; update (by row->id)
     * checks if_version (-1: any; DQ_EEXIST 412 when stale), stores doc and is_public and
     * fills version, created, modified, author; 1 unknown. */
    int (*insert)(dq_store_txn_t *txn, dq_lesson_row_t *row, dq_err_t *err);
    int (*update)(dq_store_txn_t *txn, dq_lesson_row_t *row, int64_t if_version, dq_err_t *err);
    int (*remove)(dq_store_txn_t *txn, int64_t id, int64_t if_version, dq_err_t *err);
    int (*get)(dq_store_txn_t *txn, int64_t id, dq_lesson_cb cb, void *ud, dq_err_t *err);
    /* Every lesson in id order (visibility is the caller's). */
    int (*list)(dq_store_txn_t *txn, dq_lesson_cb cb, void *ud, dq_err_t *err);
} dq_store_lesson_ops;

typedef struct dq_store_gloss_ops {
    /* Inserts row (fills version 1, created, modified); DQ_EEXIST (409) when the key exists. */
    int (*insert)(dq_store_txn_t *txn, dq_gloss_row_t *row, dq_err_t *err);
    /* Replaces doc and fts of row->key when its version is if_version (-1: any): version + 1;
     * fills version, created, modified, author. 1 unknown; DQ_EEXIST (412) stale. */
    int (*update)(dq_store_txn_t *txn, dq_gloss_row_t *row, int64_t if_version, dq_err_t *err);
    /* 1 unknown; DQ_EEXIST (412) stale. */
    int (*remove)(dq_store_txn_t *txn, const char *key, int64_t if_version, dq_err_t *err);
    /* One entry (cb once) or 1 unknown. */
    int (*get)(dq_store_txn_t *txn, const char *key, dq_gloss_cb cb, void *ud, dq_err_t *err);
    /* Entries in key order from offset, at most limit; *total (may be NULL) all entries. */
    int (*list)(dq_store_txn_t *txn, int64_t offset, int limit, dq_gloss_cb cb, void *ud,
                int64_t *total, dq_err_t *err);
    /* Full-text search of the entries' fts for the user text q (planned with search/ as for
     * annotations; bad text DQ_EINVAL), best first, at most limit. */
    int (*search)(dq_store_txn_t *txn, const char *q, int limit, dq_gloss_cb cb, void *ud,
                  dq_err_t *err);
    /* Annotations of every relic whose bodies match the user text q (an entry's term), best
     * first, at most limit: the entry's examples across the collection. cb as for the
     * annotation search (hl the marked text). Visibility is the caller's. */
    int (*anno_examples)(dq_store_txn_t *txn, const char *q, int limit, dq_anno_cb cb, void *ud,
                         dq_err_t *err);
} dq_store_gloss_ops;

/* ---------------------------------------------------------------- relics */

struct dq_search_plan; /* search/search.h */

/* What the facet and sort index (relic_index.c) keeps of one relic; borrowed for the callback. */
typedef struct {
    int64_t seq; /* the backend's row number: > 0, never reused; match() returns these */
    const char *id, *accession;
    const char *dynasty, *object_type, *medium; /* NULL when absent */
    int has_year, year_from, year_to;
    int restricted, has_images;
    const char *const *subjects;
    int n_subjects;
    const char *const *creators, *const *creators_en;
    int n_creators;
} dq_relic_ixrow_t;
typedef int (*dq_relic_ixrow_cb)(void *ud, const dq_relic_ixrow_t *row);
/* One full-text match: seq and, when asked for, its score (smaller is better). */
typedef int (*dq_relic_match_cb)(void *ud, int64_t seq, double score);
/* One snippet: text is the best fragment of the relic's fields, each hit between \x01 and
 * \x02, "…" where the text was cut; borrowed for the callback. */
typedef int (*dq_relic_snippet_cb)(void *ud, int64_t seq, const char *text);

/* Which matches of a plan match() returns. */
enum {
    DQ_RELIC_MATCH_ALL = 0, /* every term, in any field */
    DQ_RELIC_MATCH_BOOST,   /* any boost phrase, in any field (callers only ask about matches) */
    DQ_RELIC_MATCH_TITLE,   /* every term, each within the title or creators field */
};

/* Relic row primitives (relic_doc.c, relic_write.c, relic_search.c and relic_index.c hold the
 * policy: validation, roles, visibility, ranking, facets, JSON). */
typedef struct dq_store_relic_ops {
    /* The search object the backend registered its tokenizer with (borrowed until close):
     * relic*.c plan queries and add dictionary names with it. */
    struct dq_search *(*search_handle)(void *impl);
    /* By id (accession NULL) or by accession (id NULL): 0 found (out->doc borrowed until the
     * next primitive call on txn), 1 not found. Any transaction. */
    int (*load)(dq_store_txn_t *txn, const char *id, const char *accession, dq_relic_stored_t *out,
                dq_err_t *err);
    /* Write transaction. Inserts (row->version == 1) or updates the row, its facet values,
     * image links and full-text entry. DQ_EEXIST for a duplicate id or accession; a failure
     * after the row itself was written is DQ_EINTERNAL (the caller must roll back). */
    int (*save)(dq_store_txn_t *txn, const dq_relic_row_t *row, dq_err_t *err);
    /* Write transaction. 1 when there is no such relic. */
    int (*remove)(dq_store_txn_t *txn, const char *id, dq_err_t *err);
    /* Write transaction. A fresh server id ("dq-2026-0042"), never handed out before. */
    int (*new_id)(dq_store_txn_t *txn, char id[32], dq_err_t *err);
    /* 1 when an image row with this id exists, 0 when not. */
    int (*image_exists)(dq_store_txn_t *txn, const char *image_id, dq_err_t *err);
    /* The index values of relic id, or of every relic in seq order (id NULL); nothing when id
     * does not exist. */
    int (*index_rows)(dq_store_txn_t *txn, const char *id, dq_relic_ixrow_cb cb, void *ud,
                      dq_err_t *err);
    /* Full-text: the relics that match plan (what: DQ_RELIC_MATCH_*) in ascending seq order,
     * with a score when scored (SQLite: bm25 with field weights 10, 8, 2, 1). A plan the
     * backend cannot run is DQ_EINVAL. */
    int (*match)(dq_store_txn_t *txn, const struct dq_search_plan *plan, int what, int scored,
                 dq_relic_match_cb cb, void *ud, dq_err_t *err);
    /* Whether at most limit relics match plan (every term), told cheaply: *bound gets an
     * upper bound <= limit, or -1 when there may be more or the backend cannot tell cheaply.
     * SQLite runs the match itself, stopped after limit + 1 rows, and keeps it for the match
     * call on the same plan that follows in the same transaction (so the bound is exact and
     * the rows are read once; store_sqlite_relic_search.c). */
    int (*match_bound)(dq_store_txn_t *txn, const struct dq_search_plan *plan, int64_t limit,
                       int64_t *bound, dq_err_t *err);
    /* The snippets of those of seqs[0..n) that match plan (about 24 tokens around the best
     * hits, the best field: FTS5's snippet(), fts_aux.h). all[0..n_all) are every match of
     * plan, ascending (a backend may use them to bound its work). Callers pass matches only:
     * a backend may answer a row that does not match with its unmarked text. */
    int (*snippets)(dq_store_txn_t *txn, const struct dq_search_plan *plan, const int64_t *seqs,
                    size_t n, const int64_t *all, size_t n_all, dq_relic_snippet_cb cb, void *ud,
                    dq_err_t *err);
    /* Read side on the backend handle (own read transaction). Counts of relics (all, or not
     * restricted). */
    int (*counts)(void *impl, int show_restricted, int64_t *relics, dq_err_t *err);
    /* Every creator name and zh title ever stored (to refill the search dictionary). */
    int (*names)(void *impl, int (*cb)(void *ud, const char *name), void *ud, dq_err_t *err);
    /* After a bulk write (an import), on the backend handle: folds what the text index holds
     * aside for fast writes into the index proper, so that the searches after an import do
     * not each read it (PostgreSQL: GIN's pending list, ~50 ms of server CPU per search
     * after 20,000 imported relics, 1 ms once folded). *pages: how much it folded. NULL where
     * a backend has no such buffer (SQLite's FTS5 merges as it writes). */
    int (*settle)(void *impl, int64_t *pages, dq_err_t *err);
    /* Batch primitives of imports (relic_write.c; issue 15), so that a backend whose round
     * trips are dear answers a whole batch at once. load_accessions: every stored relic whose
     * accession is one of accessions[0..n) (distinct): cb(ud, i, row), i the accession's
     * index, row borrowed for the call; any order. */
    int (*load_accessions)(dq_store_txn_t *txn, const char *const *accessions, int n,
                           int (*cb)(void *ud, int i, const dq_relic_stored_t *row), void *ud,
                           dq_err_t *err);
    /* Write transaction. Stores rows[0..n) (each version 1, accessions distinct and not
     * stored) exactly as new_id (for a row whose id is NULL) then save would, one after the
     * other in order: ids[i] gets the row's id; a row that save would refuse (its id or
     * accession taken, by a stored relic or an earlier row) is not written and errs[i] says
     * why (DQ_EEXIST, 409), else errs[i].code is DQ_OK. -1: the transaction must roll back. */
    int (*insert_many)(dq_store_txn_t *txn, const dq_relic_row_t *rows, int n, char (*ids)[64],
                       dq_err_t *errs, dq_err_t *err);
} dq_store_relic_ops;

/* ======== spectral captures (issue 11): types and ops (spectral.c, store_sqlite_spectral.c) ======== */
/* One capture of a relic: its band stack's record. doc is canonical JSON written by
 * catalog/spectral.c (bands with kinds, wavelengths, files, calibration residuals, shifts),
 * borrowed for the call or callback. */
typedef struct {
    char id[64], relic_id[64];
    int width, height; /* of the stored bands */
    const char *doc;
    char created[32], modified[32];
} dq_spectral_row_t;
/* One derived layer of a capture (a component, pigment map, reveal image). */
typedef struct {
    char capture_id[64], name[64], kind[32];
    const char *doc;
    char created[32];
} dq_spectral_layer_row_t;
typedef int (*dq_spectral_cb)(void *ud, const dq_spectral_row_t *row);
typedef int (*dq_spectral_layer_cb)(void *ud, const dq_spectral_layer_row_t *row);

typedef struct dq_store_spectral_ops {
    /* Write transaction. Inserts the capture, or with replace=1 replaces an existing one of
     * the same id (its layers are deleted). DQ_EEXIST when it exists and replace is 0. */
    int (*put)(dq_store_txn_t *txn, const dq_spectral_row_t *row, int replace, dq_err_t *err);
    /* The capture id: 0 and one cb call, 1 not found. */
    int (*get)(dq_store_txn_t *txn, const char *id, dq_spectral_cb cb, void *ud, dq_err_t *err);
    /* The captures of relic_id (NULL: all), oldest first. */
    int (*list)(dq_store_txn_t *txn, const char *relic_id, dq_spectral_cb cb, void *ud,
                dq_err_t *err);
    /* Write transaction. Removes the capture and its layers; 1 when there is none. */
    int (*remove)(dq_store_txn_t *txn, const char *id, dq_err_t *err);
    /* Write transaction. Inserts or replaces the layer (capture_id, name). */
    int (*put_layer)(dq_store_txn_t *txn, const dq_spectral_layer_row_t *row, dq_err_t *err);
    /* The layers of a capture, by name. */
    int (*layers)(dq_store_txn_t *txn, const char *capture_id, dq_spectral_layer_cb cb, void *ud,
                  dq_err_t *err);
} dq_store_spectral_ops;
/* ======== end spectral captures ======== */
/* ---------------------------------------------------------------- scene layer sets */

/* One version of an image's scene layers (issue 14; policy and JSON in scene.c). doc is the
 * canonical JSON the neutral layer built ({"layers": [...], "method", "note", ...}); borrowed
 * as for dq_anno_row_t. */
typedef struct {
    char image_id[DQ_IMAGE_ID_MAX + 1];
    int64_t version; /* 1, 2, ... per image */
    char source[16]; /* "truth", "estimate" or "curator" */
    const char *doc;
    char author[64];
    char created_at[32];
} dq_scene_row_t;
typedef int (*dq_scene_cb)(void *ud, const dq_scene_row_t *row);

typedef struct dq_store_scene_ops {
    /* The largest stored version of image_id, 0 when none. */
    int (*max_version)(dq_store_txn_t *txn, const char *image_id, int64_t *version,
                       dq_err_t *err);
    /* Inserts row as given (version chosen by the caller); sets created_at. DQ_EEXIST when
     * (image_id, version) exists. */
    int (*insert)(dq_store_txn_t *txn, const dq_scene_row_t *row, dq_err_t *err);
    /* One version (0: the newest), cb once; 1 when there is none. */
    int (*get)(dq_store_txn_t *txn, const char *image_id, int64_t version, dq_scene_cb cb,
               void *ud, dq_err_t *err);
    /* Every version of image_id, newest first. */
    int (*list)(dq_store_txn_t *txn, const char *image_id, dq_scene_cb cb, void *ud,
                dq_err_t *err);
} dq_store_scene_ops;
/* ---------------------------------------------------------------- style embeddings (issue 13) */

/* Rows: dq_style_row_t and dq_style_row_cb in catalog.h. */
typedef struct dq_store_style_ops {
    /* Inserts or replaces the row of row->image_id (sets updated_at). Write transaction. */
    int (*put)(dq_store_txn_t *txn, const dq_style_row_t *row, dq_err_t *err);
    /* One row (cb once) or 1 when there is none. */
    int (*get)(dq_store_txn_t *txn, const char *image_id, dq_style_row_cb cb, void *ud,
               dq_err_t *err);
    /* Every row in image id order; with_vec 0 leaves vec NULL and dim as stored (cheap scan). */
    int (*list)(dq_store_txn_t *txn, int with_vec, dq_style_row_cb cb, void *ud, dq_err_t *err);
    /* 0 deleted, 1 none. Write transaction. */
    int (*remove)(dq_store_txn_t *txn, const char *image_id, dq_err_t *err);
    /* A fitted attribution model per label ("school", "dynasty"): its JSON document, replaced
     * whole. get: 0 and out appended to, 1 none. */
    int (*model_put)(dq_store_txn_t *txn, const char *label, const char *json, dq_err_t *err);
    int (*model_get)(dq_store_txn_t *txn, const char *label, dq_buf_t *out, dq_err_t *err);
} dq_store_style_ops;

/* ======== network: OAI-PMH stamps and the relic change feed (network.c, store_sqlite_network.c) ======== */

/* One record as OAI-PMH lists it: a live relic (datestamp = updated_at) or a tombstone left
 * by a delete (deleted = 1, datestamp = when, doc NULL). Borrowed for the callback. */
typedef struct {
    const char *id, *datestamp, *dynasty, *object_type; /* dynasty/object_type NULL if absent */
    int deleted, restricted;
    int has_images; /* live relics: 1 when it has image links (so a Manifest); tombstones 0 */
    const char *doc; /* the stored user document (no id/version/times); NULL: tombstone or
                        not asked for */
    size_t doc_len;
    int64_t withdrawn; /* > 0: a relic public once and restricted now (migration 15), listed
                          as deleted (datestamp = when it was restricted) to include_restricted
                          = 0; the value is 1 + the audit seq before the withdrawing write */
} dq_store_stamp_row_t;
typedef int (*dq_store_stamp_cb)(void *ud, const dq_store_stamp_row_t *row);

/* Which records stamps() lists. Strings borrowed; NULL = no condition. */
typedef struct {
    const char *from, *until; /* datestamp bounds, inclusive ("2026-11-24T15:33:07Z") */
    const char *dynasty;      /* "" = has a dynasty, else that key */
    const char *object_type;  /* "" = has an object type, else that key */
    int include_restricted;   /* 0: restricted relics and their tombstones are left out, and
                                 withdrawals (public once) listed in their place */
    const char *after;        /* ids > after only */
    const char *id;           /* that id only */
    int limit;
    int with_docs; /* 1: fill doc for live relics */
} dq_store_stamp_query_t;

typedef struct dq_store_network_ops {
    /* Live relics and tombstones matching q, in id order (one list), at most q->limit. */
    int (*stamps)(dq_store_txn_t *txn, const dq_store_stamp_query_t *q, dq_store_stamp_cb cb,
                  void *ud, dq_err_t *err);
    /* The oldest datestamp of any relic or tombstone into out (32 bytes); "" when none. */
    int (*earliest)(dq_store_txn_t *txn, char *out, dq_err_t *err);
    /* The audit rows of relics (action "relic.*") in seq order, skipping offset of them, at
     * most limit; and how many there are. */
    int (*relic_changes)(dq_store_txn_t *txn, int64_t offset, int limit, dq_store_audit_cb cb,
                         void *ud, dq_err_t *err);
    int (*relic_change_count)(dq_store_txn_t *txn, int64_t *n, dq_err_t *err);
    /* The seq of the first relic.* audit row of relic id with seq > after into *seq (0:
     * none): the change that withdrew it from public view. */
    int (*first_change)(dq_store_txn_t *txn, const char *id, int64_t after, int64_t *seq,
                        dq_err_t *err);
} dq_store_network_ops;

/* ======== end network ======== */

/* ======== condition records (condition.c, store_sqlite_condition.c; issue 12) ======== */

typedef struct dq_store_condition_ops {
    /* Inserts row (relic_id, date, published, doc, author): fills id, version 1, created,
     * modified. */
    int (*insert)(dq_store_txn_t *txn, dq_condition_row_t *row, dq_err_t *err);
    /* Updates record row->id of row->relic_id (date, published, doc) when its version is
     * if_version (-1: any): version + 1, modified; fills the stored fields back. 1 unknown,
     * DQ_EEXIST (412) when stale. */
    int (*update)(dq_store_txn_t *txn, dq_condition_row_t *row, int64_t if_version,
                  dq_err_t *err);
    /* 0 removed, 1 unknown, DQ_EEXIST (412) when stale. */
    int (*remove)(dq_store_txn_t *txn, const char *relic_id, int64_t id, int64_t if_version,
                  dq_err_t *err);
    /* One record (cb once) or 1 unknown. */
    int (*get)(dq_store_txn_t *txn, const char *relic_id, int64_t id, dq_condition_cb cb,
               void *ud, dq_err_t *err);
    /* The relic's records in (date, id) order (relic_id NULL: every relic's, in (relic_id, id)
     * order); visibility is the caller's. */
    int (*list)(dq_store_txn_t *txn, const char *relic_id, dq_condition_cb cb, void *ud,
                dq_err_t *err);
    /* The published records of relic_id (NULL: of every relic), for the image map's
     * condition gates (condition.c dq_condition_gate_load). */
    int (*published)(dq_store_txn_t *txn, const char *relic_id, dq_condition_cb cb, void *ud,
                     dq_err_t *err);
    /* The image links of role (exact) of relic_id (NULL: of every relic); cb's restricted is
     * the relic's flag, image_id never NULL. */
    int (*role_links)(dq_store_txn_t *txn, const char *relic_id, const char *role,
                      dq_store_link_cb cb, void *ud, dq_err_t *err);
} dq_store_condition_ops;

/* ======== end condition records ======== */

/* ======== condition jobs (condition_job.c, store_*_condjob.c; issue 12) ======== */
/* One row per job in condition_jobs. "Now" here is the database's clock (ms since 1970 for
 * beat_ms / finished_ms / now_ms; UTC text for created). No policy: which jobs are stale, and
 * what a reader is told, is condition_job.c's. */
typedef struct dq_store_condjob_ops {
    /* Inserts row (id, relic_id, user, node, state, stage, percent, http_status, record,
     * error): created and beat_ms now, finished_ms 0. DQ_EEXIST when the id is taken. */
    int (*insert)(dq_store_txn_t *txn, const dq_condjob_row_t *row, dq_err_t *err);
    /* Sets state, stage, percent, http_status, record, error of row->id and its beat to now;
     * finished_ms to now when finished. Only an unfinished job changes: 1 when row->id is
     * absent or finished. */
    int (*update)(dq_store_txn_t *txn, const dq_condjob_row_t *row, int finished, dq_err_t *err);
    /* beat_ms = now for node's jobs with finished_ms 0; *n gets how many. */
    int (*beat)(dq_store_txn_t *txn, const char *node, int64_t *n, dq_err_t *err);
    /* The job (cb once, with now_ms) or 1 unknown. */
    int (*get)(dq_store_txn_t *txn, const char *id, dq_condjob_cb cb, void *ud, dq_err_t *err);
    /* Every job with finished_ms 0 (with now_ms), in id order. */
    int (*unfinished)(dq_store_txn_t *txn, dq_condjob_cb cb, void *ud, dq_err_t *err);
    /* Removes jobs with finished_ms > 0 and finished_ms < now - age_ms; *n gets how many. */
    int (*expire)(dq_store_txn_t *txn, int64_t age_ms, int64_t *n, dq_err_t *err);
    /* Sets the work column of row id (what its build stored so far: condition_job.c's JSON,
     * migration 29), only while the job is unfinished: 1 when absent or finished. */
    int (*set_work)(dq_store_txn_t *txn, const char *id, const char *work, dq_err_t *err);
} dq_store_condjob_ops;
/* ======== end condition jobs ======== */

/* ======== layer file checksums (layer_file.c, store_*_layerfile.c; issues 12, 15) ======== */
/* One stored derived-layer file (key under layers/) with the SHA-256 and size of the bytes
 * put; key borrowed for the callback. No policy: which keys are recorded is layer_file.c's. */
typedef struct dq_store_layerfile_ops {
    /* Write transaction. Inserts or replaces the row of row->key (created = now). */
    int (*put)(dq_store_txn_t *txn, const dq_layer_file_row_t *row, dq_err_t *err);
    /* Write transaction. Removes the row of key; a missing one is fine. */
    int (*remove)(dq_store_txn_t *txn, const char *key, dq_err_t *err);
    /* Every row, in key order (bytewise); with key non-NULL, that key's row only. */
    int (*list)(dq_store_txn_t *txn, const char *key, dq_layer_file_cb cb, void *ud,
                dq_err_t *err);
} dq_store_layerfile_ops;
/* ======== end layer file checksums ======== */

/* ======== work journals (journal.c, store_*_journal.c; issue 15, migration 32) ======== */
/* One run of a multi-step write whose steps are not one transaction (catalog.h
 * dq_catalog_journal_put); strings borrowed for the callback. No policy. */
typedef struct dq_store_journal_ops {
    /* Write transaction. Inserts or replaces the row of row->run (created = now). */
    int (*put)(dq_store_txn_t *txn, const dq_journal_row_t *row, dq_err_t *err);
    /* Write transaction. Removes the row of run; a missing one is fine. */
    int (*remove)(dq_store_txn_t *txn, const char *run, dq_err_t *err);
    /* The rows of kind, in run order (bytewise). */
    int (*list)(dq_store_txn_t *txn, const char *kind, dq_journal_cb cb, void *ud,
                dq_err_t *err);
} dq_store_journal_ops;
/* ======== end work journals ======== */

/* ======== table copy (issue 15, `danqing migrate`; copy.c, store_*_copy.c) ======== */
/* Moving a catalog to another backend keeps every id, time and version, which the create
 * ops above cannot (they assign their own). The stored tables of both backends match column
 * for column (checked when this was written: information_schema against pragma_table_info),
 * except for what a backend derives from the other columns: its full-text index (SQLite's
 * FTS5 tables, PostgreSQL's tsvectors and token counts), PostgreSQL's users.ord (SQLite's
 * rowid) and its generated fts_ab. So one generic row copy serves every kind of object: the
 * tables and their columns are listed once (dq_store_copy_tables in copy.c), and each backend
 * reads and writes those columns, deriving what it derives itself. No policy here. */

/* One value of a row: type DQ_VAL_NULL, _INT (i), _TEXT or _BLOB (p, len; not
 * NUL-terminated). */
enum { DQ_VAL_NULL = 0, DQ_VAL_INT, DQ_VAL_TEXT, DQ_VAL_BLOB };
typedef struct {
    int type;
    int64_t i;
    const char *p;
    size_t len;
} dq_store_val_t;

/* A table as both backends store it: cols[0..n_cols) with types ('i' integer, 't' text, 'b'
 * blob); the first n_key columns are the primary key, and rows are walked in key order
 * (integers numerically, text bytewise: SQLite's BINARY, PostgreSQL's "C"). */
typedef struct {
    const char *name;
    const char *const *cols;
    const char *types;
    int n_cols, n_key;
} dq_store_table_t;

/* Called once per row with n_cols values (borrowed for the call); non-zero stops. */
typedef int (*dq_store_row_cb)(void *ud, const dq_store_val_t *vals);

typedef struct dq_store_copy_ops {
    /* Rows of t whose key is > after (>= when inclusive; after NULL: from the first), in key
     * order, at most limit; desc 1 walks backwards from the last (after then ignored). */
    int (*rows)(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *after,
                int inclusive, int desc, int limit, dq_store_row_cb cb, void *ud, dq_err_t *err);
    /* How many rows of t have a key <= upto (NULL: all). */
    int (*count)(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *upto,
                 int64_t *n, dq_err_t *err);
    /* Write transaction. Inserts rows[0..n_rows) (n_cols values each) exactly as given,
     * deriving the backend's own columns and indexes; a row whose key is stored already is
     * left as it is. *inserted (may be NULL) gets how many were new. */
    int (*put)(dq_store_txn_t *txn, const dq_store_table_t *t, const dq_store_val_t *rows,
               int n_rows, int64_t *inserted, dq_err_t *err);
    /* The id counter of table (relics, annotations, tours, lessons, condition_records: ids
     * are never reused, as AUTOINCREMENT's): get (0 when none), and raise to at least v
     * (write transaction). */
    int (*counter_get)(dq_store_txn_t *txn, const char *table, int64_t *v, dq_err_t *err);
    int (*counter_raise)(dq_store_txn_t *txn, const char *table, int64_t v, dq_err_t *err);
} dq_store_copy_ops;

/* The copied tables, parents before children (copy.c); n in *n. */
const dq_store_table_t *dq_store_copy_tables(int *n);
/* ======== end table copy ======== */

/* ---------------------------------------------------------------- the backend */

typedef struct dq_store_backend {
    const char *name; /* "sqlite" */
    /* Opens the store named by the part of the URL after "scheme:" (SQLite: the database
     * file's path; its directory is created). write_wait_ms bounds how long a write
     * transaction waits for the database's write lock (begin with write=1). Returns a new
     * handle, or NULL with err. */
    void *(*open)(const char *location, int write_wait_ms, dq_err_t *err);
    /* NULL-safe. No transaction may be open. */
    void (*close)(void *impl);
    /* Starts a transaction into *txn. write=1: the one writer, waiting at most write_wait_ms
     * in all (for this process's other writers and for other processes), then DQ_EBUSY with
     * http_status 503 (http/ adds Retry-After). write=0: a consistent read snapshot on a
     * connection of its own, which never waits for a writer. */
    int (*begin)(void *impl, int write, dq_store_txn_t **txn, dq_err_t *err);
    /* Commits and ends txn (also on failure, which rolls back). */
    int (*commit)(dq_store_txn_t *txn, dq_err_t *err);
    /* Rolls back and ends txn; NULL-safe; ends a read transaction too. */
    void (*rollback)(dq_store_txn_t *txn);
    /* Changes write_wait_ms for later write transactions (thread-safe). */
    void (*set_write_wait)(void *impl, int ms);
    /* Looks at the catalog location names without creating or changing anything (no
     * database, file, schema or table is made; `danqing migrate --dry-run`): *n_applied gets
     * how many of this build's migrations it has applied (0: no catalog there yet, or an
     * empty schema), *n_known how many this build has. Opens and closes its own connection. */
    int (*probe)(const char *location, int *n_applied, int *n_known, dq_err_t *err);
    /* A lock that every process sharing the catalog respects (catalog.h dq_catalog_lock):
     * waits until lock `which` (DQ_CATALOG_LOCK_*) is this caller's, and gives a handle for
     * unlock. It is released by unlock, and by the end of its holder (a killed process's
     * session or file lock goes with it). PostgreSQL: a session advisory lock on a connection
     * of its own; SQLite: an flock on a file beside the database. which may carry
     * DQ_CATALOG_LOCK_SHARED and DQ_CATALOG_LOCK_TRY (catalog.h): a try that finds the lock
     * taken fails with DQ_EBUSY. */
    int (*lock)(void *impl, int which, void **handle, dq_err_t *err);
    void (*unlock)(void *impl, void *handle); /* NULL-safe handle */
    /* The schema version the backend has applied (for tests and `danqing status`). */
    int (*schema_version)(void *impl, int *version, dq_err_t *err);
    /* Optional (NULL: the caller polls): waits up to timeout_ms for a commit by any process
     * sharing the store. 1 a commit happened (or may have: call refresh), 0 timed out, -1
     * error. One waiting thread at a time (the server's watcher). PostgreSQL: LISTEN/NOTIFY. */
    int (*wait_change)(void *impl, int timeout_ms, dq_err_t *err);
    const dq_store_image_ops *images;
    const dq_store_audit_ops *audit;
    const dq_store_account_ops *accounts;
    const dq_store_anno_ops *annos;
    const dq_store_tour_ops *tours;
    const dq_store_relic_ops *relics;
    const dq_store_spectral_ops *spectral; /* issue 11 */
    const dq_store_scene_ops *scenes; /* scene layer sets (issue 14) */
    const dq_store_style_ops *style; /* issue 13 (store_sqlite_style.c) */
    const dq_store_lesson_ops *lessons; /* lesson.c, store_sqlite_lesson.c (issue 17) */
    const dq_store_gloss_ops *glossary;
    const dq_store_network_ops *network; /* network.c: OAI-PMH, Change Discovery */
    const dq_store_condition_ops *conditions; /* condition.c: condition records (issue 12) */
    const dq_store_iiif_auth_ops *iiif_auth; /* iiif_auth.c: IIIF Auth 2.0 (issue 16) */
    const dq_store_copy_ops *copy; /* copy.c: danqing migrate (issue 15) */
    const dq_store_condjob_ops *condjobs; /* condition_job.c: condition jobs (issue 12) */
    const dq_store_layerfile_ops *layer_files; /* layer_file.c: layer checksums (migration 29) */
    const dq_store_journal_ops *journals;      /* journal.c: work journals (migration 32) */
} dq_store_backend_t;

/* The SQLite backend (store_sqlite*.c). */
extern const dq_store_backend_t dq_store_sqlite;
/* The PostgreSQL backend (store_pg*.c; issue 15): open takes the whole postgres:// URL. */
extern const dq_store_backend_t dq_store_pg;

/* ---------------------------------------------------------------- for the neutral layer */

/* The backend and its handle of cat (borrowed, valid until close). */
const dq_store_backend_t *dq_catalog_backend(dq_catalog_t *cat);
void *dq_catalog_impl(dq_catalog_t *cat);
/* Runs fn inside one write transaction: commit when fn returns 0 (then this process's
 * in-memory views, the image map, learn the change before this returns), roll back
 * otherwise. fn must not call any other dq_catalog_* function. */
typedef int (*dq_catalog_txn_fn)(void *ud, dq_store_txn_t *txn, dq_err_t *err);
int dq_catalog_write(dq_catalog_t *cat, dq_catalog_txn_fn fn, void *ud, dq_err_t *err);
/* The same inside a read transaction (always ended; fn's result is returned). */
int dq_catalog_read(dq_catalog_t *cat, dq_catalog_txn_fn fn, void *ud, dq_err_t *err);

#endif
