/*
 * catalog: the records danqing keeps about its objects, behind one interface. Today it holds
 * images (one row per ingested master and its pyramid), an audit trail and a small "pending"
 * journal that makes an image replacement crash-safe; relic records, users and annotations
 * come as later migrations of the same store. It does not touch image files: callers hash and
 * move files, the catalog only records what they did.
 *
 * Backends plug in through dq_store_ops (house style 4): store_sqlite.c today, store_pg.c
 * later. Callers use only the dq_catalog_* functions below and never see a backend type.
 *
 * Thread safety: a dq_catalog_t may be shared by threads. The SQLite backend keeps one
 * connection guarded by a mutex (`dq_catalog_t.impl->lock`), so calls are serialized; a read
 * is a single indexed lookup of microseconds, which is cheaper than a pool until a
 * measurement says otherwise. Several processes may open the same data directory (WAL mode,
 * busy_timeout).
 */
#ifndef DQ_CATALOG_H
#define DQ_CATALOG_H

#include <stdint.h>

#include "core/core.h"

/* ---------------------------------------------------------------- records */

#define DQ_IMAGE_ID_MAX 128

/* One image. Plain value: fixed-size strings, no pointers, so it can be copied with `=`. */
typedef struct {
    char id[DQ_IMAGE_ID_MAX + 1]; /* [A-Za-z0-9._-]{1,128}, not starting with '.' */
    char master_sha256[65];       /* 64 lowercase hex digits */
    char master_path[96];         /* relative to the data dir: masters/ab/<sha256> */
    uint64_t master_size;
    char master_format[8];   /* jpeg, tiff, png, webp, jp2 */
    char orig_filename[256]; /* base name of the file given to ingest (NAME_MAX fits) */
    char pyramid_path[160];  /* relative to the data dir: pyramids/<id>.tif */
    char pyramid_sha256[65];
    uint64_t pyramid_size;
    int width, height;   /* full resolution, pixels */
    int levels;          /* TIFF directories in the pyramid, full resolution first */
    int tile_size;       /* square tiles, pixels */
    int bands;           /* 1 (grey) or 3 (sRGB) */
    int icc_converted;   /* 1 when an embedded profile (or CMYK) was converted to sRGB */
    char created_at[32]; /* UTC, "2026-11-24T15:33:07Z"; set by the store on first put */
    char updated_at[32]; /* set by the store on every put */
} dq_image_rec_t;

/* 1 when id is a valid image id; otherwise 0 and err says why (DQ_EINVAL, 400). */
int dq_image_id_valid(const char *id, dq_err_t *err);

/* ---------------------------------------------------------------- relics: types */

/* Roles, ordered: a higher role may do everything a lower one may (docs/api.md "Roles"). */
enum { DQ_ROLE_ANON = 0, DQ_ROLE_VIEWER, DQ_ROLE_CONSERVATOR, DQ_ROLE_CURATOR, DQ_ROLE_ADMIN };
/* Who is asking. user "" for anonymous; "cli" for the command line. Plain value. */
typedef struct {
    char user[64];
    int role;
} dq_actor_t;

/* A search request (GET /api/relics). Strings are borrowed for the call. */
typedef struct {
    const char *q;                                                  /* user text or NULL */
    const char *dynasty, *object_type, *subject, *creator, *medium; /* NULL = any */
    int has_images;                                                 /* -1 any, 0, 1 */
    int year_from, year_to; /* INT_MIN / INT_MAX when unset; overlap semantics */
    const char *sort;       /* "relevance" (default with q), "date", "-date", "accession"
                               (default without q); NULL = default */
    int limit;              /* 1..100; 0 = default 24 */
    const char *cursor;     /* opaque, from next_cursor; NULL = first page */
    int facets;             /* 1: compute facets (each facet ignores its own filter) */
    const char *lang;       /* "zh" (default) or "en": snippets and creator facet labels */
} dq_relic_query_t;

/* Counts of one import (dq_catalog_import). */
typedef struct {
    int64_t inserted, updated, unchanged, failed;
} dq_import_stats_t;

/* Backend-facing types (used by relic.c and the store_*.c backends only). */
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
    const char *const *subjects;
    int n_subjects;
    const char *const *creators; /* facet labels: the zh name, else en */
    const char *const *creators_en;
    int n_creators;
    const dq_relic_link_t *links;
    int n_links;
    /* FTS5 columns: title (zh/en/pinyin), creators, body (medium, inscriptions, seals,
     * school, date text, accession), description. */
    const char *fts_title, *fts_creators, *fts_body, *fts_description;
} dq_relic_row_t;

typedef int (*dq_relic_txn_fn)(void *ud, void *txn, dq_err_t *err);

enum {
    DQ_RELIC_SORT_RELEVANCE = 0,
    DQ_RELIC_SORT_DATE,
    DQ_RELIC_SORT_DATE_DESC,
    DQ_RELIC_SORT_ACCESSION
};
/* A validated search: relic.c fills it from a dq_relic_query_t; strings are borrowed. */
typedef struct dq_relic_plan {
    const char *match, *boost; /* FTS5 expressions (search/ query plan); NULL without q */
    int sort;                  /* DQ_RELIC_SORT_* */
    int limit;                 /* 1..100 */
    int has_cursor;            /* keyset: rows strictly after (cursor key, cursor_rowid) */
    double cursor_num;         /* the year of the date sorts; relevance: the offset */
    const char *cursor_str;    /* accession sort */
    int64_t cursor_rowid;      /* relevance: the snapshot (largest seq of the first page) */
    int lang_en;               /* 1: English snippets and creator labels */
} dq_relic_plan_t;
struct dq_search;
/* Appends the next_cursor text of a row with these sort keys (relic.c defines the format and
 * decodes it into dq_relic_plan_t; backends only write it). */
void dq_relic_cursor_encode(dq_buf_t *out, int sort, double num, const char *str, int64_t rowid);

/* ======== accounts: types (account.c, store_sqlite_account.c) ======== */

#define DQ_USER_NAME_MAX 63 /* bytes; fits dq_actor_t.user */
#define DQ_PWHASH_MAX 128   /* an encoded argon2id hash, NUL included (crypto_pwhash_STRBYTES) */
#define DQ_TOKEN_MAX 64     /* a session or API token as text, NUL included */

/* The two kinds of bearer credential: a browser session (cookie dq_session) and an API token
 * (Authorization: Bearer). Both are 32 random bytes shown once; only their SHA-256 is kept. */
enum { DQ_CRED_SESSION = 1, DQ_CRED_TOKEN = 2 };

/* One account as listed. Plain value; never holds the password hash. */
typedef struct {
    char name[DQ_USER_NAME_MAX + 1];
    int role; /* DQ_ROLE_VIEWER .. DQ_ROLE_ADMIN */
    char created_at[32], updated_at[32];
    int64_t n_sessions, n_tokens; /* unexpired credentials (filled by list, 0 from get) */
} dq_user_t;

/* Called once per account by dq_catalog_user_list; u borrowed for the call. Non-zero stops. */
typedef int (*dq_user_cb)(void *ud, const dq_user_t *u);

/* ======== end accounts: types ======== */

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

/* ---------------------------------------------------------------- backend interface */

/* Called once per row by the list functions; rec is borrowed for the call only. A non-zero
 * return stops the listing (the list function then returns 0). */
typedef int (*dq_image_cb)(void *ud, const dq_image_rec_t *rec);

/* Flags of image_put. */
enum {
    DQ_CATALOG_REPLACE = 1, /* overwrite an existing row (keeps its created_at) */
};

/* A backend. Every function returns 0 or -1 with err filled; impl is the backend's handle.
 * Every function must be safe to call from several threads on the same impl. */
typedef struct dq_store_ops {
    const char *name; /* "sqlite", "pg" */
    /* Insert rec (or with DQ_CATALOG_REPLACE, insert or replace), delete the pending row of
     * the same id, and add an audit row: one transaction. Without the flag an existing id is
     * DQ_EEXIST (409). who is the actor written into the audit row. */
    int (*image_put)(void *impl, const dq_image_rec_t *rec, unsigned flags, const char *who,
                     dq_err_t *err);
    /* Fills *out; DQ_ENOTFOUND (404) for an unknown id. */
    int (*image_get)(void *impl, const char *id, dq_image_rec_t *out, dq_err_t *err);
    /* Every image in id order. */
    int (*image_list)(void *impl, dq_image_cb cb, void *ud, dq_err_t *err);
    /* Deletes the row and adds an audit row, one transaction; DQ_ENOTFOUND for an unknown id.
     * Files are the caller's business. */
    int (*image_delete)(void *impl, const char *id, const char *who, dq_err_t *err);
    /* The pending journal: a row written (and committed) before a pyramid is renamed over the
     * old one, so that recovery after a crash can tell "renamed" from "not renamed yet". */
    int (*pending_put)(void *impl, const dq_image_rec_t *rec, dq_err_t *err);
    int (*pending_list)(void *impl, dq_image_cb cb, void *ud, dq_err_t *err);
    int (*pending_drop)(void *impl, const char *id, dq_err_t *err);
    /* Number of rows in the audit table (for tests and `danqing status`). */
    int (*audit_count)(void *impl, int64_t *n, dq_err_t *err);

    /* ======== relics (store_sqlite_relic.c); the logic lives in relic.c ======== */
    /* The search object the backend registered its FTS5 tokenizer with (borrowed, valid
     * until close); relic.c plans queries and adds dictionary names with it. */
    struct dq_search *(*relic_search_handle)(void *impl);
    /* Runs fn inside one write transaction with the backend's lock held: commit when fn
     * returns 0, roll back otherwise. txn is valid only during fn and is what the relic_*
     * primitives below take; fn must not call any other dq_catalog_* function. */
    int (*relic_txn)(void *impl, dq_relic_txn_fn fn, void *ud, dq_err_t *err);
    /* Primitives, only inside relic_txn. load: by id (accession NULL) or by accession (id
     * NULL); 0 found (out filled, out->doc borrowed until the next primitive call), 1 not
     * found, -1 error. */
    int (*relic_load)(void *txn, const char *id, const char *accession, dq_relic_stored_t *out,
                      dq_err_t *err);
    /* Inserts (row->version == 1) or updates the row, its facet rows, image links and FTS
     * entry. A duplicate accession or id is DQ_EEXIST (409). */
    int (*relic_save)(void *txn, const dq_relic_row_t *row, dq_err_t *err);
    int (*relic_remove)(void *txn, const char *id, dq_err_t *err);
    /* A fresh server id ("dq-2026-0042"), never handed out before; written into id[32]. */
    int (*relic_new_id)(void *txn, char id[32], dq_err_t *err);
    /* 1 when an image row with this id exists, 0 when not, -1 on error. */
    int (*relic_image_exists)(void *txn, const char *image_id, dq_err_t *err);
    int (*relic_audit)(void *txn, const char *who, const char *action, const char *object,
                       const char *detail, dq_err_t *err);
    /* Read side (own locking). get: the stored row (doc copied into out_doc). */
    int (*relic_get)(void *impl, const char *id, dq_relic_stored_t *out, dq_buf_t *out_doc,
                     dq_err_t *err);
    /* The whole search response (docs/api.md) into out. q is validated; plan is the FTS5
     * plan of it; show_restricted: 1 for viewer and above. */
    int (*relic_search)(void *impl, const dq_relic_query_t *q, const dq_relic_plan_t *plan,
                        int show_restricted, dq_buf_t *out, dq_err_t *err);
    /* Builds whatever the first search would otherwise build (own locking); NULL: nothing. */
    int (*relic_warm)(void *impl, dq_err_t *err);
    int (*relic_image_visible)(void *impl, const char *image_id, int show_restricted);
    int (*relic_counts)(void *impl, int show_restricted, int64_t *relics, int64_t *images,
                        dq_err_t *err);
    int (*relic_audit_list)(void *impl, const char *object, int limit, int64_t before_seq,
                            dq_buf_t *out, dq_err_t *err);
    /* Calls cb for every creator name and zh title (to refill the search dictionary at open). */
    int (*relic_names)(void *impl, int (*cb)(void *ud, const char *name), void *ud, dq_err_t *err);
    /* ======== end relics ======== */
    /* ======== accounts (store_sqlite_account.c); the logic lives in account.c ======== */
    /* Every account function below runs in one transaction with its audit row (who; detail
     * never holds a secret). Roles are DQ_ROLE_*; hashes are encoded argon2id strings; cred
     * hashes are the 64-hex SHA-256 of the token text; times are Unix seconds. */
    /* DQ_EEXIST (409) when the name is taken. */
    int (*user_insert)(void *impl, const char *name, int role, const char *pwhash, const char *who,
                       dq_err_t *err);
    /* Fills *out and, when pwhash is non-NULL, the hash (DQ_PWHASH_MAX bytes); 404 unknown. */
    int (*user_get)(void *impl, const char *name, dq_user_t *out, char *pwhash, dq_err_t *err);
    /* Every account in name order, with its unexpired credentials counted at now. */
    int (*user_list)(void *impl, int64_t now, dq_user_cb cb, void *ud, dq_err_t *err);
    /* Sets the role (role >= 0) and/or the hash (pwhash non-NULL). A new hash also drops all of
     * the user's sessions and tokens. 404 unknown; 409 when it would leave no admin. */
    int (*user_update)(void *impl, const char *name, int role, const char *pwhash, const char *who,
                       dq_err_t *err);
    /* Deletes the account and its credentials. 404 unknown; 409 for the last admin. */
    int (*user_delete)(void *impl, const char *name, const char *who, dq_err_t *err);
    /* Stores a credential (kind DQ_CRED_*) of user name; expires_at 0 = never (tokens only).
     * Sessions are not audited (one per login); tokens are. 404 unknown user. */
    int (*cred_insert)(void *impl, int kind, const char *hash, const char *name, int64_t expires_at,
                       const char *who, dq_err_t *err);
    /* Looks an unexpired credential up at now: 0 found (*out: the user and its role now), 1 not
     * found or expired, -1 error. */
    int (*cred_lookup)(void *impl, int kind, const char *hash, int64_t now, dq_actor_t *out,
                       dq_err_t *err);
    /* Deletes one credential (absent is not an error). */
    int (*cred_delete)(void *impl, int kind, const char *hash, dq_err_t *err);
    /* Deletes every credential of name (name NULL: none), then every one expired at now. */
    int (*cred_revoke)(void *impl, const char *name, int64_t now, const char *who, dq_err_t *err);
    /* ======== end accounts ======== */
    /* ======== annotations and tours (store_sqlite_annotation.c); logic in annotation.c ======== */
    /* Each write is one transaction with its audit row (who, action, object, detail JSON).
     * put: row->id 0 inserts (fills id, version 1, created, modified); otherwise updates the
     * annotation id of row->relic_id when its version is if_version (-1: any), writing version
     * + 1 (filled into row) and keeping created and creator. 404 unknown, 412 stale. */
    int (*anno_put)(void *impl, dq_anno_row_t *row, int64_t if_version, const char *who,
                    const char *detail, dq_err_t *err);
    int (*anno_delete)(void *impl, const char *relic_id, int64_t id, int64_t if_version,
                       const char *who, dq_err_t *err);
    /* One annotation (cb once) or 404. */
    int (*anno_get)(void *impl, const char *relic_id, int64_t id, dq_anno_cb cb, void *ud,
                    dq_err_t *err);
    /* The relic's annotations in id order (canvas > 0: that canvas only), offset/limit;
     * *total gets the count of all that match canvas. */
    int (*anno_list)(void *impl, const char *relic_id, int canvas, int64_t offset, int limit,
                     dq_anno_cb cb, void *ud, int64_t *total, dq_err_t *err);
    /* FTS5 search of the relic's annotation bodies: match is an expression from search/;
     * motivations a mask (1 << k for k in the order commenting, describing, identifying,
     * tagging; 0 any); creator NULL = any. Best first, at most limit rows. */
    int (*anno_search)(void *impl, const char *relic_id, const char *match, unsigned motivations,
                       const char *creator, int limit, dq_anno_cb cb, void *ud, dq_err_t *err);
    /* Tours, the same way: put inserts (row->id 0) or updates with the version check. */
    int (*tour_put)(void *impl, dq_tour_row_t *row, int64_t if_version, const char *who,
                    const char *detail, dq_err_t *err);
    int (*tour_delete)(void *impl, int64_t id, int64_t if_version, const char *who, dq_err_t *err);
    int (*tour_get)(void *impl, int64_t id, dq_tour_cb cb, void *ud, dq_err_t *err);
    /* The relic's tours in id order. */
    int (*tour_list)(void *impl, const char *relic_id, dq_tour_cb cb, void *ud, dq_err_t *err);
    /* ======== end annotations and tours ======== */
    /* Releases impl; NULL-safe. */
    void (*close)(void *impl);
} dq_store_ops;

/* The SQLite backend (store_sqlite.c). Opens or creates data_dir/catalog.sqlite and applies
 * any missing migrations. Returns a new impl for dq_store_sqlite_ops, or NULL with err. */
extern const dq_store_ops dq_store_sqlite_ops;
void *dq_store_sqlite_open(const char *data_dir, dq_err_t *err);
/* The schema version the SQLite backend has applied (after open, the newest it knows). */
int dq_store_sqlite_schema_version(void *impl, int *version, dq_err_t *err);

/* ---------------------------------------------------------------- the catalog handle */

typedef struct dq_catalog dq_catalog_t;

/* Opens the catalog of data_dir (creating the directory, catalog.sqlite and its schema when
 * absent; re-opening applies only the missing migrations). Returns a new handle, free with
 * dq_catalog_close, or NULL with err. */
dq_catalog_t *dq_catalog_open(const char *data_dir, dq_err_t *err);
/* Wraps an already opened backend; takes impl (closed by dq_catalog_close). */
dq_catalog_t *dq_catalog_wrap(const dq_store_ops *ops, void *impl);
/* NULL-safe. No call may be in flight on another thread. */
void dq_catalog_close(dq_catalog_t *cat);
/* The backend's handle and operations (borrowed, valid until close). */
void *dq_catalog_impl(dq_catalog_t *cat);
const dq_store_ops *dq_catalog_ops(dq_catalog_t *cat);

/* The image functions: validate arguments (id syntax, paths relative and inside the data
 * dir), then dispatch to the backend. rec/out are caller-owned. Thread-safe. */
int dq_catalog_image_put(dq_catalog_t *cat, const dq_image_rec_t *rec, unsigned flags,
                         const char *who, dq_err_t *err);
int dq_catalog_image_get(dq_catalog_t *cat, const char *id, dq_image_rec_t *out, dq_err_t *err);
int dq_catalog_image_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err);
int dq_catalog_image_delete(dq_catalog_t *cat, const char *id, const char *who, dq_err_t *err);
int dq_catalog_pending_put(dq_catalog_t *cat, const dq_image_rec_t *rec, dq_err_t *err);
int dq_catalog_pending_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err);
int dq_catalog_pending_drop(dq_catalog_t *cat, const char *id, dq_err_t *err);
int dq_catalog_audit_count(dq_catalog_t *cat, int64_t *n, dq_err_t *err);

/* ---------------------------------------------------------------- relics (relic.c) */

/* Relic records: the JSON document of docs/api.md "The relic document", validated against
 * the vocabularies below and stored with its version, times and an audit row per write (who,
 * when, action, and for replace/patch the changed top-level fields with old and new values),
 * all in one transaction. Restricted relics are invisible to anonymous callers everywhere:
 * get answers 404, search, facets and counts leave them out.
 * Common to every function: cat and who are borrowed; out/field_errors are caller-owned
 * buffers that are appended to (start them zeroed); on failure err->http_status is one of
 * 400 (bad argument), 403 (role too low: writes need DQ_ROLE_CURATOR), 404, 409 (duplicate
 * accession or id), 412 (if_version is not the stored version), 422 (invalid document:
 * field_errors, when non-NULL, receives a JSON object {"title.zh": "required", ...}) or 500.
 * All are thread-safe (the backend serializes). */

/* Creates a relic from a whole document (an "id" is accepted, otherwise one is assigned).
 * out receives the stored document with id, version 1, created_at, updated_at. */
int dq_catalog_relic_create(dq_catalog_t *cat, const char *json, size_t len, const dq_actor_t *who,
                            dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err);
/* The stored document into out and its version into *version (either may be NULL).
 * 404 for an unknown id, and for a restricted relic when who is anonymous. */
int dq_catalog_relic_get(dq_catalog_t *cat, const char *id, const dq_actor_t *who, dq_buf_t *out,
                         int64_t *version, dq_err_t *err);
/* Replaces the whole document (server fields in json are ignored; "images" absent keeps the
 * links). if_version -1: any version. out receives the new stored document. */
int dq_catalog_relic_replace(dq_catalog_t *cat, const char *id, const char *json, size_t len,
                             int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                             dq_buf_t *field_errors, dq_err_t *err);
/* Applies a JSON merge patch (RFC 7396) to the stored document, then validates the result
 * like replace. */
int dq_catalog_relic_patch(dq_catalog_t *cat, const char *id, const char *merge_patch, size_t len,
                           int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                           dq_buf_t *field_errors, dq_err_t *err);
int dq_catalog_relic_delete(dq_catalog_t *cat, const char *id, int64_t if_version,
                            const dq_actor_t *who, dq_err_t *err);
/* Replaces the ordered image list with json_array ([{"image_id","role","label"}]); every
 * image_id must exist (422 "images[1].image_id": "unknown image"). if_version -1: any. */
int dq_catalog_relic_set_images(dq_catalog_t *cat, const char *id, const char *json_array,
                                size_t len, int64_t if_version, const dq_actor_t *who,
                                dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err);
/* Search (docs/api.md "Search response"): appends {"total","items","facets","next_cursor"}
 * to out ("facets" only when q->facets). 400 for a bad sort, limit, cursor or query text. */
int dq_catalog_relic_search(dq_catalog_t *cat, const dq_relic_query_t *q, const dq_actor_t *who,
                            dq_buf_t *out, dq_err_t *err);
/* Builds the backend's in-memory search index now (about 1 s at 500,000 relics), so that the
 * first search does not pay for it. Meant for a background thread at server start: it holds
 * the catalog's lock while it builds, so searches that arrive meanwhile wait for it (or, if
 * they got the lock first, build the index themselves and this returns at once). Thread-safe.
 * Returns 0, or -1 with err (the next search tries again). */
int dq_catalog_relic_warm(dq_catalog_t *cat, dq_err_t *err);
/* A vocabulary as a JSON array [{"key","zh","en"[,"year_from","year_to"]}] into out.
 * name: "dynasties", "object_types" or "subjects"; 404 for any other. */
int dq_catalog_vocab(dq_catalog_t *cat, const char *name, dq_buf_t *out, dq_err_t *err);
/* 1 when image_id may be shown to who: it belongs to at least one relic visible to who, or to
 * no relic at all (unlinked images are public); 0 when it belongs only to restricted relics
 * and who is anonymous (and 0 on a database error: fail closed). */
int dq_catalog_image_visible(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who);
/* Relics visible to who, and all images. Either pointer may be NULL. */
int dq_catalog_counts(dq_catalog_t *cat, const dq_actor_t *who, int64_t *relics, int64_t *images,
                      dq_err_t *err);
/* Audit rows, newest first: {"items":[{"at","who","action","object","detail"}],
 * "next_cursor"} into out. object NULL/"" = all; limit 1..500 (0 = 50). Callers check the
 * admin role (the catalog does not know who asks here). */
int dq_catalog_audit_list(dq_catalog_t *cat, const char *object, int limit, const char *cursor,
                          dq_buf_t *out, dq_err_t *err);

/* ---------------------------------------------------------------- relics: bulk import */

enum {
    DQ_IMPORT_JSONL = 1, /* one relic document per line (docs/api.md), or the flat form of the
                            sample collection's metadata.jsonl */
    DQ_IMPORT_CSV,       /* RFC 4180; columns named by a mapping file (docs/import.md) */
    DQ_IMPORT_MET,       /* The Met's MetObjects.csv, built-in mapping */
    DQ_IMPORT_AUTO,      /* JSON Lines when the first byte that is not blank is '{', else CSV */
};

/* Called once per bad row (line is the 1-based line where the row starts); reason borrowed. */
typedef void (*dq_import_error_fn)(void *ud, long line, const char *reason);
/* Called now and then (every batch) with rows read so far and bytes consumed. */
typedef void (*dq_import_progress_fn)(void *ud, int64_t rows, int64_t bytes);

typedef struct {
    int format;               /* DQ_IMPORT_*; a CSV header that is The Met's is read as
                                 DQ_IMPORT_MET unless mapping_json is given */
    const char *mapping_json; /* mapping file text for DQ_IMPORT_CSV (docs/import.md); NULL:
                                 the CSV header must name document fields directly */
    size_t mapping_len;
    int dry_run;    /* 1: validate and count, write nothing */
    int batch_rows; /* rows per transaction; 0 = 10000 (store_sqlite_relic.c: FTS5 hashsize) */
    dq_import_error_fn on_error;
    dq_import_progress_fn on_progress;
    void *ud;
} dq_import_opts_t;

/* Reads in (borrowed; read to EOF) and upserts each row by accession, one transaction per
 * batch: a new accession is inserted, a changed one updated (version + 1, audit row), an
 * identical one left alone (so a re-import is all "unchanged"). A bad row goes to on_error
 * and is counted in st->failed; it never stops the import or touches other rows. Returns 0
 * (even with failed rows), or -1 with err for a failure of the whole import (unreadable
 * input, bad mapping: 400, database error). st (caller-owned) is filled in both cases.
 * Memory is bounded whatever the input: a line (JSONL) or record (CSV) over 4 MiB, a NUL
 * byte in one, is a bad row; line breaks are LF, CRLF or CR. */
int dq_catalog_import(dq_catalog_t *cat, FILE *in, const dq_import_opts_t *opts,
                      const dq_actor_t *who, dq_import_stats_t *st, dq_err_t *err);

/* ---------------------------------------------------------------- accounts (account.c) */

/* Accounts, roles and credentials. Passwords are hashed with argon2id (libsodium
 * crypto_pwhash_str, "interactive" limits: 2 passes over 64 MiB, about 120 ms per hash or
 * verify on the reference machine, so a login stays well under 300 ms) and verified in
 * constant time; the hashing runs outside the backend's lock, so a login never stalls other
 * catalog calls. Sessions and API tokens are 32 bytes from randombytes_buf, shown to the
 * caller once as text ("dqs_..." / "dq_..." + 43 base64url characters); the catalog keeps
 * only their SHA-256. Nothing here logs a password or a token.
 * Common to every function: cat and who are borrowed; changes need who->role ==
 * DQ_ROLE_ADMIN (403 otherwise) and are audited as who->user; errors fill err with
 * http_status 400 (bad name, role or password), 401, 403, 404, 409 or 500. Thread-safe. */

/* "anonymous", "viewer", "conservator", "curator", "admin"; "?" out of range. Static. */
const char *dq_catalog_role_name(int role);
/* The role named name (not "anonymous"), or -1. */
int dq_catalog_role_parse(const char *name);
/* 1 when name is a valid account name ([A-Za-z0-9][A-Za-z0-9._@-]{0,62}, not "cli"), else 0
 * with err (400). */
int dq_catalog_user_name_valid(const char *name, dq_err_t *err);

/* Creates an account with role DQ_ROLE_VIEWER..DQ_ROLE_ADMIN and password (8..1024 bytes,
 * NUL-terminated). 409 when the name exists. */
int dq_catalog_user_add(dq_catalog_t *cat, const char *name, int role, const char *password,
                        const dq_actor_t *who, dq_err_t *err);
/* Fills *out (caller-owned); 404 for an unknown name. Needs no role (callers check). */
int dq_catalog_user_get(dq_catalog_t *cat, const char *name, dq_user_t *out, dq_err_t *err);
/* Calls cb for every account in name order (with the backend's lock held: cb must not call
 * back into cat). Needs no role (callers check). */
int dq_catalog_user_list(dq_catalog_t *cat, dq_user_cb cb, void *ud, dq_err_t *err);
/* Sets a new password; every session and token of the account is revoked with it. */
int dq_catalog_user_set_password(dq_catalog_t *cat, const char *name, const char *password,
                                 const dq_actor_t *who, dq_err_t *err);
/* Changes the role (takes effect on the account's next request: credentials carry no role).
 * 409 when it would leave no admin. */
int dq_catalog_user_set_role(dq_catalog_t *cat, const char *name, int role, const dq_actor_t *who,
                             dq_err_t *err);
/* Deletes the account and its credentials; 409 for the last admin. */
int dq_catalog_user_delete(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err);
/* Revokes every session and token of name. */
int dq_catalog_user_revoke(dq_catalog_t *cat, const char *name, const dq_actor_t *who,
                           dq_err_t *err);

/* Writes a fresh random password of n_chars (12..64) characters from an alphabet without
 * look-alikes (no 0/O, 1/l/I) into out (n_chars + 1 bytes), for a one-time password. */
void dq_catalog_password_generate(char *out, int n_chars);

/* Checks name and password and opens a session of ttl_s seconds: token (caller-owned,
 * DQ_TOKEN_MAX bytes) receives the session token, *actor the account. An unknown name and a
 * wrong password fail alike (401 "wrong user name or password") and cost the same argon2id
 * verification, so neither the answer nor its timing tells whether an account exists. */
int dq_catalog_login(dq_catalog_t *cat, const char *name, const char *password, int64_t ttl_s,
                     char *token, dq_actor_t *actor, dq_err_t *err);
/* Ends the session whose token is given (an unknown token is not an error). */
int dq_catalog_logout(dq_catalog_t *cat, const char *token, dq_err_t *err);
/* Creates an API token for name that expires after ttl_s seconds (0: never); token as for
 * login. Audited as "token.create" (without the token). */
int dq_catalog_token_create(dq_catalog_t *cat, const char *name, int64_t ttl_s,
                            const dq_actor_t *who, char *token, dq_err_t *err);
/* Resolves a credential of kind DQ_CRED_SESSION or DQ_CRED_TOKEN into *out (the account's
 * name and current role). 401 for a malformed, unknown, expired or revoked credential. */
int dq_catalog_authenticate(dq_catalog_t *cat, int kind, const char *token, dq_actor_t *out,
                            dq_err_t *err);

/* ======== annotations and tours (annotation.c) ======== */

/* Annotations on a relic's canvases (Web Annotation Data Model, kept in the neutral form
 * below) and guided tours. The JSON the catalog takes and gives ("anno doc"):
 *   {"id": 7, "relic_id": "dq-2026-0001", "canvas": 1, "xywh": [x, y, w, h],
 *    "motivation": "commenting", "bodies": [{"value": "...", "language": "zh"}],
 *    "creator": "alice", "created": "...", "modified": "...", "version": 2}
 * On write only canvas, xywh, motivation and bodies are read (others are ignored). The region
 * must lie inside the canvas (the canvas n is the n-th image of the relic that has an image
 * record, as the manifest numbers them); 1..8 bodies, language zh or en, value 1..4000 bytes
 * without control characters (tab and newline allowed); a tagging body is a tag (1..64 bytes,
 * one line). Tour doc:
 *   {"id": "t3", "relic_id": "...", "title": {"zh", "en"}, "stops": [{"canvas": 1,
 *    "xywh": [x, y, w, h], "text": {"zh", "en"}, "zoom": 2.0}], "public": true,
 *    "author": "...", "created_at", "updated_at", "version"}
 * Roles (docs/api.md "Annotations, search, tours"): annotations are created by conservator
 * and above; a conservator may change or delete only their own, curator and admin any. Tours
 * are created by curator and above and changed by their author or an admin; a tour that is
 * not public is seen only by its author and admin. Everything on a relic the caller may not
 * see (restricted, anonymous) is 404, like the relic. Every write is audited in its own
 * transaction ("annotation.create|replace|delete", "tour.*"; object "{relic}/annotations/{n}"
 * or "tour/t{n}").
 * Common: cat and who borrowed; out and field_errors caller-owned and appended to; errors
 * 400, 401 (anonymous write), 403, 404, 412 (if_version stale; -1 = any), 422 (field_errors
 * gets {"bodies[0].language": "must be zh or en", ...}) or 500. Thread-safe. */
int dq_catalog_anno_create(dq_catalog_t *cat, const char *relic_id, const char *json, size_t len,
                           const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                           dq_err_t *err);
int dq_catalog_anno_get(dq_catalog_t *cat, const char *relic_id, int64_t id, const dq_actor_t *who,
                        dq_buf_t *out, int64_t *version, dq_err_t *err);
int dq_catalog_anno_replace(dq_catalog_t *cat, const char *relic_id, int64_t id, const char *json,
                            size_t len, int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                            dq_buf_t *field_errors, dq_err_t *err);
int dq_catalog_anno_delete(dq_catalog_t *cat, const char *relic_id, int64_t id, int64_t if_version,
                           const dq_actor_t *who, dq_err_t *err);
/* A JSON array of anno docs into out, id order; canvas 0 = all canvases; *total (may be NULL)
 * gets the number of annotations that match canvas. limit 1..1000. */
int dq_catalog_anno_list(dq_catalog_t *cat, const char *relic_id, int canvas, int64_t offset,
                         int limit, const dq_actor_t *who, dq_buf_t *out, int64_t *total,
                         dq_err_t *err);
/* Content Search over the relic's annotation bodies (Chinese, pinyin, English as relic
 * search). motivation: NULL/"" any, else space-separated names (unknown: 400); creator NULL/""
 * any. out receives [{"annotation": {anno doc}, "hits": [{"prefix", "exact", "suffix"}]}],
 * best first, at most limit (1..100). 400 for an empty or over-long query. */
int dq_catalog_anno_search(dq_catalog_t *cat, const char *relic_id, const char *q,
                           const char *motivation, const char *creator, int limit,
                           const dq_actor_t *who, dq_buf_t *out, dq_err_t *err);
/* The relic's canvases as [{"canvas": 1, "image_id": "...", "width": W, "height": H}] into
 * out (404 hidden or unknown relic). */
int dq_catalog_relic_canvases(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err);

/* Tours. tour_id is "t{n}" (anything else is 404). */
int dq_catalog_tour_create(dq_catalog_t *cat, const char *relic_id, const char *json, size_t len,
                           const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                           dq_err_t *err);
int dq_catalog_tour_get(dq_catalog_t *cat, const char *tour_id, const dq_actor_t *who,
                        dq_buf_t *out, int64_t *version, dq_err_t *err);
int dq_catalog_tour_replace(dq_catalog_t *cat, const char *tour_id, const char *json, size_t len,
                            int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                            dq_buf_t *field_errors, dq_err_t *err);
int dq_catalog_tour_delete(dq_catalog_t *cat, const char *tour_id, int64_t if_version,
                           const dq_actor_t *who, dq_err_t *err);
/* {"items": [tour doc without "stops", with "n_stops"]} of the tours who may see. */
int dq_catalog_tour_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                         dq_buf_t *out, dq_err_t *err);

/* ======== end annotations and tours ======== */

#endif
