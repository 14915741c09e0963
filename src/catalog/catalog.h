/*
 * catalog: the records danqing keeps about its objects, behind one interface: images (one row
 * per ingested master and its pyramid, and a "pending" journal that makes an image
 * replacement crash-safe), relic records and their search, accounts, annotations, tours and
 * an audit trail of every write. It does not touch image files: callers hash and move files,
 * the catalog only records what they did.
 *
 * This header is the API every caller (http/, cli/, image/, tests) uses. Storage backends plug
 * in below it through store.h (house style 4), which only src/catalog/ includes; policy
 * (validation, roles, visibility, JSON) lives here, once, in backend-neutral code.
 *
 * Thread safety: a dq_catalog_t may be shared by threads. Reads use their own connections and
 * never wait for a writer; a write waits for the database's write lock at most a bounded time
 * (DQ_CATALOG_WRITE_WAIT_MS, default 1500) and then fails with DQ_EBUSY (HTTP 503). Image
 * geometry and visibility (the tile path) come from an in-memory map (image_map.c) with no
 * SQL. Several processes may open the same catalog.
 */
#ifndef DQ_CATALOG_H
#define DQ_CATALOG_H

#include <stdint.h>
#include <string.h>

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
    char pyramid_path[160];  /* relative to the data dir: pyramids/<id>.<sha16>.tif (before
                                session 25: pyramids/<id>.tif) */
    char pyramid_sha256[65];
    uint64_t pyramid_size;
    int width, height;   /* full resolution, pixels */
    int levels;          /* TIFF directories in the pyramid, full resolution first */
    int tile_size;       /* square tiles, pixels */
    int bands;           /* 1 (grey) or 3 (sRGB) */
    int icc_converted;   /* 1 when an embedded profile (or CMYK) was converted to sRGB */
    char created_at[32]; /* UTC, "2026-11-24T15:33:07Z"; set by the store on first put */
    char updated_at[32]; /* set by the store on every put */
    /* A pending (journal) row's own key, the ingest run that wrote it (migration 33: two
     * ingests of one id no longer share a row); empty in an image row. */
    char run[DQ_IMAGE_ID_MAX + 8];
} dq_image_rec_t;

/* 1 when id is a valid image id; otherwise 0 and err says why (DQ_EINVAL, 400). */
int dq_image_id_valid(const char *id, dq_err_t *err);

/* ---------------------------------------------------------------- relics: types */

/* Roles, ordered: a higher role may do everything a lower one may (docs/api.md "Roles").
 * Stored as names, never as these numbers, so a role may be inserted in the order. An
 * educator (issue 17) writes teaching material (lessons, glossary, tours, annotations) and
 * never records; it sits below conservator so that it gains nothing conservators may do to
 * condition data. */
enum {
    DQ_ROLE_ANON = 0,
    DQ_ROLE_VIEWER,
    DQ_ROLE_EDUCATOR,
    DQ_ROLE_CONSERVATOR,
    DQ_ROLE_CURATOR,
    DQ_ROLE_ADMIN
};
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
    const char *colour;     /* NULL = any; else works whose palette holds it: "#rrggbb" or a
                               named mineral colour (石青, shiqing, ...; catalog/style.c) */
} dq_relic_query_t;

/* Counts of one import (dq_catalog_import). */
typedef struct {
    int64_t inserted, updated, unchanged, failed;
    /* the text index's fast-write buffer folded in at the end (store.h relics->settle):
     * pages, and the time it took */
    int64_t settled_pages, settle_us;
} dq_import_stats_t;

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

/* ---------------------------------------------------------------- images */

/* Flags of dq_catalog_image_put. */
enum {
    DQ_CATALOG_REPLACE = 1, /* overwrite an existing row (keeps its created_at) */
};

/* Called once per row by the list functions; rec is borrowed for the call only. A non-zero
 * return stops the listing (the list function then returns 0). */
typedef int (*dq_image_cb)(void *ud, const dq_image_rec_t *rec);

/* ---------------------------------------------------------------- derived pictures */

/* The image-link roles of pictures derived from a relic's images rather than pictures of the
 * work itself: a virtual restoration ("restoration", `danqing restore --relic`, issue 12), a
 * condition capture ("condition") and its change map ("change-map", condrec/). They are
 * never canvases of the manifest (iiif/presentation.c) nor style neighbours or map points
 * (style.c); the condition ones are also "gated": shown to anonymous callers only once a
 * published condition record names them (condition.c). The list is here once so that a new
 * derived role is added in one place. Header-only (iiif/ links no catalog code). Pure;
 * thread-safe. */

/* The i-th derived link role (0, 1, ...; NULL past the last); *gated (may be NULL) gets 1
 * for the roles gated by publication. */
static inline const char *dq_catalog_link_derived_at(int i, int *gated)
{
    static const char *const roles[] = {"restoration", "condition", "change-map"};
    static const int gates[] = {0, 1, 1};
    if (i < 0 || i >= (int)(sizeof(roles) / sizeof(roles[0])))
        return NULL;
    if (gated)
        *gated = gates[i];
    return roles[i];
}

/* 1 when role (may be NULL) is a derived picture's link role. */
static inline int dq_catalog_link_derived(const char *role)
{
    const char *r;
    for (int i = 0; role && (r = dq_catalog_link_derived_at(i, NULL)) != NULL; i++)
        if (strcmp(role, r) == 0)
            return 1;
    return 0;
}

/* ---------------------------------------------------------------- the catalog handle */

typedef struct dq_catalog dq_catalog_t;

/* Opens a catalog: url_or_dir is "sqlite:PATH" (PATH: the database file, e.g.
 * data/catalog.sqlite) or a plain data directory, which means sqlite:DIR/catalog.sqlite; the
 * directory, the database and its schema are created when absent (re-opening applies only
 * the missing migrations). "postgres://..." (or postgresql://) is any libpq connection URI:
 * the catalog lives in the first schema of its search_path (options=-csearch_path%3DNAME picks
 * one; the default is public), created and migrated the same way (issue 15). Returns a new
 * handle, free with dq_catalog_close, or NULL with err. */
dq_catalog_t *dq_catalog_open(const char *url_or_dir, dq_err_t *err);
/* NULL-safe. No call may be in flight on another thread. */
void dq_catalog_close(dq_catalog_t *cat);
/* Locks that span every process and server sharing the catalog (issue 15, several servers
 * with data directories of their own): DQ_CATALOG_LOCK_INGEST serializes the commit of
 * ingests (a master found present must stay until a row names it; one id, one pyramid) with
 * the undo that removes a master no row names (condrec). Waits until the lock is the
 * caller's; *out gets a handle (new, release with dq_catalog_unlock, NULL-safe). The holder's
 * death releases it (PostgreSQL: an advisory lock of its own session; SQLite: an flock beside
 * the database file). Not re-entrant. 0, or -1 with err. Thread-safe.
 * DQ_CATALOG_LOCK_UPLOAD (issue 15, session 25) is held SHARED by every ingest from its
 * journal row until its commit, while it uploads without the ingest lock; whoever takes it
 * exclusively (always with DQ_CATALOG_LOCK_TRY, under the ingest lock) knows that no ingest
 * anywhere is uploading, so every journal row is a dead run's. Flags or'ed into which:
 * DQ_CATALOG_LOCK_SHARED (shared with other shared holders), DQ_CATALOG_LOCK_TRY (do not wait:
 * -1 with DQ_EBUSY when another holds it). DQ_CATALOG_LOCK_SPECTRAL: the same pattern for
 * `spectral add` into an object store and its journals (cmd_spectral.c). */
enum { DQ_CATALOG_LOCK_INGEST = 1, DQ_CATALOG_LOCK_UPLOAD = 2, DQ_CATALOG_LOCK_SPECTRAL = 3 };
enum { DQ_CATALOG_LOCK_SHARED = 0x100, DQ_CATALOG_LOCK_TRY = 0x200 };
typedef struct dq_catalog_lock dq_catalog_lock_t;
int dq_catalog_lock(dq_catalog_t *cat, int which, dq_catalog_lock_t **out, dq_err_t *err);
void dq_catalog_unlock(dq_catalog_lock_t *lk);
/* Looks at the catalog url_or_dir names (as dq_catalog_open reads it) and creates nothing:
 * no directory, database file, schema or table (`danqing migrate --dry-run`). *n_applied gets
 * how many of this build's migrations are applied there (0: no catalog yet), *n_known how
 * many this build has: equal means dq_catalog_open would change nothing. 0, or -1 with err
 * (an unreachable server, a bad URL). */
int dq_catalog_probe(const char *url_or_dir, int *n_applied, int *n_known, dq_err_t *err);
/* How long a write waits for the database's write lock before DQ_EBUSY (503); the default is
 * DQ_CATALOG_WRITE_WAIT_MS from the environment, else 1500. Takes effect for later writes.
 * Batch tools (import) may wait longer than a server should. */
void dq_catalog_set_write_wait(dq_catalog_t *cat, int ms);
/* The schema version applied (after open, the newest this build knows). */
int dq_catalog_schema_version(dq_catalog_t *cat, int *version, dq_err_t *err);
/* Reads the change feed (every write since the last call, by this process or another) and
 * brings the in-memory views up to date: the image map, and what the backend keeps. Returns
 * 1 when anything changed (so the caller retires cached responses), 0 when nothing did, -1
 * with err. Cheap when nothing changed (one indexed read); a server's watcher thread calls it
 * about once a second. Thread-safe. */
int dq_catalog_refresh(dq_catalog_t *cat, dq_err_t *err);
/* Waits up to timeout_ms for a commit to the catalog by any process (PostgreSQL: a NOTIFY
 * every write transaction sends), so that a server's watcher refreshes at once instead of at
 * its next poll. 1 a commit happened (call dq_catalog_refresh), 0 timed out, -1 error (err),
 * -2 the backend cannot wait (SQLite: poll). One waiting thread per catalog. */
int dq_catalog_wait_change(dq_catalog_t *cat, int timeout_ms, dq_err_t *err);
/* The images a CDN must forget after the writes that follow audit position *seq (purge.c,
 * issue 15): an image replaced or deleted, and every image linked to a relic that was
 * created or changed (it may have been restricted). cb once per such image (an id may come
 * more than once; borrowed for the call; non-zero stops). Reads at most limit audit rows
 * (0: 500) and moves *seq past them; *seq < 0 moves it to the end of the trail and reports
 * nothing (a server starting). 0, or -1 with err (*seq unchanged). Thread-safe. */
int dq_catalog_purge_scan(dq_catalog_t *cat, int64_t *seq, int limit,
                          int (*cb)(void *ud, const char *image_id), void *ud, dq_err_t *err);
/* "sqlite" or "postgres" (borrowed, static). */
const char *dq_catalog_backend_name(dq_catalog_t *cat);

/* The image functions: validate arguments (id syntax, paths relative and inside the data
 * dir), then write (one transaction with its audit row) or read. rec/out are caller-owned.
 * dq_catalog_image_get answers from the in-memory image map (no SQL for a known id).
 * Thread-safe. */
int dq_catalog_image_put(dq_catalog_t *cat, const dq_image_rec_t *rec, unsigned flags,
                         const char *who, dq_err_t *err);
int dq_catalog_image_get(dq_catalog_t *cat, const char *id, dq_image_rec_t *out, dq_err_t *err);
int dq_catalog_image_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err);
/* The images, then the pending (mid-ingest) rows, whose master is sha256, through the index
 * on images.master_sha256: cb per row until it returns non-zero. What a delete asks before it
 * removes a master file that rows may share (issue 12). 0, or -1 with err. Thread-safe. */
int dq_catalog_image_by_master(dq_catalog_t *cat, const char *sha256, dq_image_cb cb, void *ud,
                               dq_err_t *err);
int dq_catalog_image_delete(dq_catalog_t *cat, const char *id, const char *who, dq_err_t *err);
/* The pending journal (ingest.c): one row per ingest run (rec->run, non-empty, 400 otherwise),
 * written before its uploads and removed by its commit, so that a dead run's uploads are named
 * by a row of their own whatever other runs of the same id do. put rewrites the row of the same
 * run; list gives every row (run filled) in id, run order; drop removes one run's row (an absent
 * run is fine). */
int dq_catalog_pending_put(dq_catalog_t *cat, const dq_image_rec_t *rec, dq_err_t *err);
int dq_catalog_pending_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err);
int dq_catalog_pending_drop(dq_catalog_t *cat, const char *run, dq_err_t *err);
int dq_catalog_audit_count(dq_catalog_t *cat, int64_t *n, dq_err_t *err);

/* ------------------------------------------ relics (relic_doc.c, relic_write.c, relic_search.c) */

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
/* Builds the in-memory facet and sort index now (about 0.25 s of CPU per 100,000 relics), so
 * that the first search does not pay for it; later changes, of any process, reach it through
 * the change feed (relic_index.c). Meant for a background thread at server start: searches
 * that arrive meanwhile wait for the build (or, if they got there first, build the index
 * themselves and this returns at once). Thread-safe. Returns 0, or -1 with err (the next
 * search tries again). */
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

/* "anonymous", "viewer", "educator", "conservator", "curator", "admin"; "?" out of range.
 * Static. */
const char *dq_catalog_role_name(int role);
/* The role named name (not "anonymous"), or -1. */
int dq_catalog_role_parse(const char *name);
/* 1 when name is a valid account name ([A-Za-z0-9][A-Za-z0-9._@-]{0,62}, not "cli" in any
 * case), else 0 with err (400). Names are case-insensitive: "Alice" and "alice" name one
 * account (the name keeps the case it was created with). */
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
/* Changes the role (role >= 0; -1 keeps it) and/or the password (non-NULL; every session and
 * token of the account is revoked with it): everything is validated first, then applied in
 * one transaction, so a bad password leaves the role unchanged. 409 when it would leave no
 * admin. */
int dq_catalog_user_update(dq_catalog_t *cat, const char *name, int role, const char *password,
                           const dq_actor_t *who, dq_err_t *err);
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
/* Writes the audit row "login.fail" for a wrong name or password (who "anonymous"; object the
 * name tried when it is a valid account name, else "?"; detail {"client": client}, never the
 * password). client (the address, may be NULL) is copied. */
int dq_catalog_login_failed(dq_catalog_t *cat, const char *name, const char *client,
                            dq_err_t *err);
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
 * Roles (docs/api.md "Annotations, search, tours"): annotations are created by educator and
 * above; an educator or conservator may change or delete only their own, curator and admin
 * any. Tours are created by educator and above and changed by their author or an admin; a tour that is
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


/* ---------------------------------------------------------------- spectral captures (issue 11) */
/* catalog/spectral.c. A capture is a relic's multispectral band stack; its record (doc) is a
 * JSON object written by the caller (cli/ spectral add: bands, kinds, wavelengths, files,
 * calibration residuals, shifts). Visible to whoever may see the relic (404 otherwise);
 * written by conservators and above. Audited as "spectral.add|replace|layer" on
 * "capture/<id>". Errors: 400 bad id/doc, 401/403, 404, 409 exists (no replace), 503 busy. */
typedef struct {
    char id[64], relic_id[64];
    int width, height;
    char *doc; /* canonical JSON, owned: dq_capture_free */
    char created[32], modified[32];
} dq_capture_t;
/* Frees c->doc; NULL-safe. */
void dq_capture_free(dq_capture_t *c);
/* 1 when id is a valid capture or layer id (the image id rules), else 0 with err (400). */
int dq_capture_id_valid(const char *id, dq_err_t *err);
/* Stores capture id of relic (its id or accession) with the stored bands' size and doc;
 * replace 1 replaces an existing capture (and drops its layers). out (caller-owned) gets the
 * stored row. */
int dq_catalog_capture_put(dq_catalog_t *cat, const char *relic, const char *id, int width,
                           int height, const char *doc, int replace, const dq_actor_t *who,
                           dq_capture_t *out, dq_err_t *err);
int dq_catalog_capture_get(dq_catalog_t *cat, const char *id, const dq_actor_t *who,
                           dq_capture_t *out, dq_err_t *err);
/* Appends a JSON array of the relic's captures ({id, relic, width, height, created, modified,
 * bands}) to out. relic NULL: every capture of the catalog (who must be an admin, else 403). */
int dq_catalog_capture_list(dq_catalog_t *cat, const char *relic, const dq_actor_t *who,
                            dq_buf_t *out, dq_err_t *err);
/* Records (or replaces) derived layer name of a capture: kind ("component", "pigments",
 * "reveal", ...) and doc (a JSON object: files, method, parameters, results). */
int dq_catalog_capture_layer_put(dq_catalog_t *cat, const char *capture_id, const char *name,
                                 const char *kind, const char *doc, const dq_actor_t *who,
                                 dq_err_t *err);
/* Appends a JSON array of the capture's layers ({name, kind, created, doc}) to out. */
int dq_catalog_capture_layers(dq_catalog_t *cat, const char *capture_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err);
/* ======== scene layer sets (scene.c; issue 14, docs/living.md) ======== */

/* Versioned sets of scene layers (depth, mist, foliage, water, figure, boat) per image. Each
 * layer is a derived image of its own with the reserved id "<image>.scene-v<N>-<kind>",
 * ingested beside the master before the set naming it is saved; it is visible exactly when
 * its base image is (dq_catalog_image_visible). The document saved:
 *   {"source": "truth|estimate|curator", "method": "...", "note": "...", "metrics": {...},
 *    "layers": [{"kind": "depth", "image_id": "<image>.scene-v3-depth"}, ...]}
 * and given back with "image_id", "version", "author", "created_at" and each layer's
 * "width"/"height". A depth layer is required; kinds appear at most once.
 * Common: cat and who borrowed; out/field_errors caller-owned, appended to; errors 400, 401,
 * 403 (saving needs curator), 404 (unknown or hidden image, no such version), 409 (the
 * version was taken meanwhile), 422 (field_errors: {"layers[0].kind": "..."}), 500.
 * Thread-safe. */

/* Writes "<image_id>.scene-v<version>-<kind>" into out (cap bytes). 400 for an unknown kind,
 * a version outside 1..999999, or an id that would exceed DQ_IMAGE_ID_MAX. */
int dq_catalog_scene_layer_id(const char *image_id, int64_t version, const char *kind, char *out,
                              size_t cap, dq_err_t *err);
/* 1 when layer_id has the derived-layer form, with its base image id copied into base (cap
 * bytes); 0 otherwise. Pure. */
int dq_catalog_scene_layer_base(const char *layer_id, char *base, size_t cap);
/* The version the next save of image_id should use (the newest + 1) into *version; checks
 * the role and the image first, so that callers ingest no layer they may not save. */
int dq_catalog_scene_next_version(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who,
                                  int64_t *version, dq_err_t *err);
/* Saves version (from next_version) of image_id's layers from the document json (len bytes);
 * every layer image must exist under its derived id. Audited "scene.save", object
 * "<image>/scene/v<N>". out (may be NULL) receives the stored set as dq_catalog_scene_get. */
int dq_catalog_scene_save(dq_catalog_t *cat, const char *image_id, int64_t version,
                          const char *json, size_t len, const dq_actor_t *who, dq_buf_t *out,
                          dq_buf_t *field_errors, dq_err_t *err);
/* One set (version 0: the newest) as a JSON object into out. */
int dq_catalog_scene_get(dq_catalog_t *cat, const char *image_id, int64_t version,
                         const dq_actor_t *who, dq_buf_t *out, dq_err_t *err);
/* {"image_id": "...", "items": [set, ...]} newest first (items empty when none). */
int dq_catalog_scene_list(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who,
                          dq_buf_t *out, dq_err_t *err);
/* ======== style: embeddings, attribution, similar works (style.c; issue 13) ======== */

/* One stored embedding of an image. Strings and vec are borrowed: by the catalog for the call
 * on write, by the callback for the call on read. */
typedef struct {
    const char *image_id;
    const char *pyramid_sha256; /* of the pyramid it was computed from ("" when unknown) */
    const char *model;          /* the embedder's name (style/style.h) */
    int dim;
    const float *vec;           /* dim floats (NULL in a listing without vectors) */
    const char *palette;        /* JSON array of colour clusters (dq_style_palette) */
    const char *named;          /* JSON array of named-colour shares */
    const char *updated_at;     /* on read */
} dq_style_row_t;
typedef int (*dq_style_row_cb)(void *ud, const dq_style_row_t *row);

/* Stores (inserts or replaces) one embedding, with an audit row "style.index" on the image.
 * The image must exist (404); dim 1..4096; model non-empty (400). Thread-safe. */
int dq_catalog_style_put(dq_catalog_t *cat, const dq_style_row_t *row, const char *who,
                         dq_err_t *err);
/* One embedding (cb once; 1 when the image has none), or every one in image id order
 * (with_vec 0: without the vectors, for a cheap "what is indexed" scan). */
int dq_catalog_style_get(dq_catalog_t *cat, const char *image_id, dq_style_row_cb cb, void *ud,
                         dq_err_t *err);
int dq_catalog_style_list(dq_catalog_t *cat, int with_vec, dq_style_row_cb cb, void *ud,
                          dq_err_t *err);
/* Removes an image's embedding (audited); 1 when it had none. */
int dq_catalog_style_remove(dq_catalog_t *cat, const char *image_id, const char *who,
                            dq_err_t *err);
/* The attribution model of label ("school" or "dynasty", else 400) as JSON: put replaces it
 * (audited "style.train"), get appends it to out and returns 1 when none was trained. */
int dq_catalog_style_model_put(dq_catalog_t *cat, const char *label, const char *json,
                               const char *who, dq_err_t *err);
int dq_catalog_style_model_get(dq_catalog_t *cat, const char *label, dq_buf_t *out,
                               dq_err_t *err);

/* One embedded image with what its relic says (the first relic that links it). Borrowed for
 * the callback. relic_id and the labels are NULL for an unlinked image / a missing field. */
typedef struct {
    const char *image_id, *relic_id;
    const char *school, *dynasty, *title_zh, *title_en;
    int year; /* year_from, 0 when unknown */
    int restricted;
    const char *model;
    int dim;
    const float *vec;
} dq_style_work_t;
typedef int (*dq_style_work_cb)(void *ud, const dq_style_work_t *w);
/* Every embedded image in image id order, with its relic's labels; restricted ones only when
 * who may see them. For training and the style map. */
int dq_catalog_style_works(dq_catalog_t *cat, const dq_actor_t *who, dq_style_work_cb cb,
                           void *ud, dq_err_t *err);

/* A similar-works query: by a stored image's embedding (image_id) or by a raw vector (vec of
 * dim floats from model, e.g. an upload or a region). */
typedef struct {
    const char *image_id;
    const float *vec;
    int dim;
    const char *model;
    const char *exclude_relic; /* leave this relic's images out (NULL: only the query image) */
    int limit;                 /* 1..100; 0 = 12 */
    int labelled_only;         /* 1: only works whose relic names a school */
} dq_style_query_t;
/* The most similar works visible to who, best first, into out:
 *   {"model": "...", "metric": "school"|null, "n_indexed": N, "items": [{"relic_id",
 *    "image_id", "title": {"zh","en"}, "school", "dynasty", "year", "score", "reason": {"key",
 *    "en", "zh"}, "parts": {"palette": 0.91, "ink": .., "brushwork": .., "composition": ..}}]}
 * reason names the part that agrees most. A query image that who may not see is 404, one
 * without an embedding 404 ("not indexed yet"). Served from an in-memory index rebuilt when
 * the catalog changes (any audit row). Thread-safe. */
int dq_catalog_style_similar(dq_catalog_t *cat, const dq_style_query_t *q, const dq_actor_t *who,
                             dq_buf_t *out, dq_err_t *err);
/* The same for a relic: its first image's embedding, the relic itself left out. 404 for a relic
 * who may not see; a relic without an image, or whose image has no embedding yet, answers
 * {"image_id", "indexed": false, "reason": {"key": "no_image"|"not_indexed", "en", "zh"},
 *  "items": []}. */
int dq_catalog_style_similar_relic(dq_catalog_t *cat, const char *relic_id, int limit,
                                   const dq_actor_t *who, dq_buf_t *out, dq_err_t *err);
/* Attribution suggestions for a raw vector: {"label": "school", "labels": [{"label": "jinbi",
 * "p": 0.93}, ...]} (best first, at most top) appended to out; 1 when no model of that label
 * was trained (nothing appended), 409 when the model was fitted on another embedder. */
int dq_catalog_style_classify(dq_catalog_t *cat, const char *label, const float *vec, int dim,
                              const char *model, int top, dq_buf_t *out, dq_err_t *err);

/* The palette of a relic's first image as {"image_id", "palette": [{"hex", "lab", "share",
 * "name"}], "named": [{"key", "zh", "en", "hex", "share"}]} into out; 404 for a relic who may
 * not see; one without an indexed image answers as dq_catalog_style_similar_relic does, with
 * "palette": [] in place of "items". */
int dq_catalog_style_palette_relic(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                                   dq_buf_t *out, dq_err_t *err);

/* The style map: every indexed work who may see, as a point of the first two principal
 * components of the search space: {"model", "metric", "projection": "pca", "points":
 * [{"relic_id", "image_id", "title": {"zh","en"}, "school", "dynasty", "year", "x", "y"}]}. */
int dq_catalog_style_map(dq_catalog_t *cat, const dq_actor_t *who, dq_buf_t *out, dq_err_t *err);

/* ======== end style ======== */
/* ======== lessons and glossary (lesson.c, glossary.c; issue 17) ======== */

/* Lessons: an ordered walk across any number of works, with questions (docs/api.md
 * "Lessons"). The JSON the catalog takes and gives ("lesson doc"):
 *   {"id": "l3", "title": {"zh", "en"}, "summary": {"zh", "en"}, "public": true,
 *    "steps": [{"kind": "view", "relic_id", "canvas", "xywh"?, "title"?, "text"?, "question"?,
 *               and at most one of: "layer" (an image role of the work),
 *               "spectral": {"capture", "layer"} (a layer of one of its spectral captures, on
 *               canvas 1), "condition" (c<n>) / "condition_date" (one of its condition records;
 *               either names it, both are stored)},
 *              {"kind": "tour", "tour_id": "t4", "stop": 0, ...},
 *              {"kind": "compare", "a": {"relic_id", "canvas", "xywh"}, "b": {...}, ...}],
 *    "author", "created_at", "updated_at", "version"}
 * A question is {"type": "choice", "prompt", "choices": [{"zh","en"}, ...], "answer": k} or
 * {"type": "find", "prompt", "target": {"relic_id", "canvas", "xywh"}}. Every reference is
 * checked on write against what the author may see (relics, canvases, regions inside them,
 * image roles for "layer", captures and their layers, condition records, tour stops). On
 * read, a step whose work the caller may not see becomes {"kind": "hidden"}; a step naming a
 * condition record gains "condition_record" (id, date, overall, examiner, note, published,
 * "image" = its photograph, observations) when the caller may see that record, and loses every
 * trace of it otherwise (editors keep the reference); answers ("answer", "target") are given
 * only to those who may edit the lesson; learners check with dq_catalog_lesson_check.
 * Roles: educator and above create; the author or an admin change and delete; a lesson that
 * is not public is seen by its author and admin only (404 for others). Every write is one
 * transaction with its audit row ("lesson.create|replace|delete", object "lesson/l{n}").
 * Common: cat and who borrowed; out and field_errors caller-owned and appended to; errors
 * 400, 401, 403, 404, 412 (if_version stale; -1 = any), 422 (field_errors gets
 * {"steps[2].xywh": "the region extends beyond the canvas", ...}) or 500. Thread-safe. */
int dq_catalog_lesson_create(dq_catalog_t *cat, const char *json, size_t len,
                             const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                             dq_err_t *err);
int dq_catalog_lesson_get(dq_catalog_t *cat, const char *lesson_id, const dq_actor_t *who,
                          dq_buf_t *out, int64_t *version, dq_err_t *err);
int dq_catalog_lesson_replace(dq_catalog_t *cat, const char *lesson_id, const char *json,
                              size_t len, int64_t if_version, const dq_actor_t *who,
                              dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err);
int dq_catalog_lesson_delete(dq_catalog_t *cat, const char *lesson_id, int64_t if_version,
                             const dq_actor_t *who, dq_err_t *err);
/* {"items": [lesson doc without "steps", with "n_steps" and "works" (the relic ids its steps
 * name)]} of the lessons who may see, id order; relic_id non-NULL keeps those that name it. */
int dq_catalog_lesson_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                           dq_buf_t *out, dq_err_t *err);
/* Checks a learner's answer to the question of step (0-based): json is {"choice": k} or
 * {"point": [x, y]} (canvas pixels on the target's canvas; "canvas" and "relic_id" may be
 * given and must then match). out gets {"correct": true|false, "answer": {...}} (the right
 * choice or target region, so a player can show it after an attempt). 404 no such step or
 * no question, 400 malformed answer. *correct (may be NULL) gets 1 or 0. Needs no role:
 * anyone who may see the lesson may answer; nothing about the learner is kept. */
int dq_catalog_lesson_check(dq_catalog_t *cat, const char *lesson_id, int step, const char *json,
                            size_t len, const dq_actor_t *who, dq_buf_t *out, int *correct,
                            dq_err_t *err);

/* The glossary of motifs and techniques (docs/api.md "Glossary"). Entry doc:
 *   {"key": "pine", "category": "motif", "term": {"zh": "松", "en": "pine"},
 *    "pinyin": "sōng", "aliases": ["青松", "pines"], "definition": {"zh", "en"},
 *    "see_also": ["crane"], "author", "created_at", "updated_at", "version"}
 * key [a-z0-9-]{1,63}; category motif | technique | composition | format | mark | material;
 * term needs zh and en, definition zh or en (each 1..4000 bytes); aliases 0..16 strings of
 * 1..64 bytes; see_also 0..16 keys. Search covers terms, aliases, pinyin and definitions
 * (Chinese, pinyin and English as in relic search). Roles: educator and above create; the
 * author or a curator and above change and delete. Writes audited "glossary.create|replace|
 * delete", object "glossary/{key}". Errors as for lessons, plus 409 for a key that exists. */
int dq_catalog_gloss_create(dq_catalog_t *cat, const char *json, size_t len,
                            const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                            dq_err_t *err);
/* The entry with "examples": up to 12 annotations across the collection, visible to who, whose
 * text uses the entry's term ({"relic_id", "annotation": n, "canvas", "xywh", "text"}). */
int dq_catalog_gloss_get(dq_catalog_t *cat, const char *key, const dq_actor_t *who,
                         dq_buf_t *out, int64_t *version, dq_err_t *err);
int dq_catalog_gloss_replace(dq_catalog_t *cat, const char *key, const char *json, size_t len,
                             int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                             dq_buf_t *field_errors, dq_err_t *err);
int dq_catalog_gloss_delete(dq_catalog_t *cat, const char *key, int64_t if_version,
                            const dq_actor_t *who, dq_err_t *err);
/* {"total", "items": [entry docs]}: q NULL or "" lists all in key order (from offset), else the
 * entries matching q best first. limit 1..500. */
int dq_catalog_gloss_search(dq_catalog_t *cat, const char *q, int64_t offset, int limit,
                            dq_buf_t *out, dq_err_t *err);
/* Imports a JSON array of entry docs (the starter glossary, data-src/glossary/): an entry whose
 * key is new is created, one whose content differs is replaced, an identical one is left
 * alone. All or nothing: one bad entry (422 with "[3].term.en": ...) writes none. *created and
 * *updated (may be NULL) get the counts. Needs curator or above (it replaces others' entries). */
int dq_catalog_gloss_import(dq_catalog_t *cat, const char *json, size_t len,
                            const dq_actor_t *who, int *created, int *updated,
                            dq_buf_t *field_errors, dq_err_t *err);

/* The id of the relic whose accession number is accession, as who may see it, into id (64
 * bytes); 404 when there is none (or who may not see it). For importers that know works by
 * accession (the composition overlays of the sample collection). */
int dq_catalog_relic_by_accession(dq_catalog_t *cat, const char *accession, const dq_actor_t *who,
                                  char id[64], dq_err_t *err);

/* ======== end lessons and glossary ======== */
/* ======== network: OAI-PMH records and the relic change feed (network.c) ======== */

/* One record as a harvester sees it: a live relic or a deleted one. Borrowed for the
 * callback. doc is the whole stored document with "id" (live records, when asked for). */
typedef struct {
    const char *id, *datestamp, *dynasty, *object_type; /* NULL when absent */
    int deleted;
    const char *doc;
    size_t doc_len;
} dq_net_record_t;
typedef int (*dq_net_record_cb)(void *ud, const dq_net_record_t *rec);

/* Which records to list (strings borrowed; NULL = no condition). */
typedef struct {
    const char *from, *until; /* datestamps, inclusive, "YYYY-MM-DDThh:mm:ssZ" */
    const char *dynasty;      /* "" = any record with a dynasty, else that key */
    const char *object_type;  /* "" = any record with an object type, else that key */
    const char *after;        /* ids after this one (paging) */
    const char *id;           /* that one record */
    int limit;                /* 1..1000 */
    int with_docs;
} dq_net_query_t;

/* Lists records in id order as who may see them: a restricted relic is invisible to the
 * anonymous caller, and so is its tombstone, when it never was public; one that was public
 * and was restricted later is listed to the anonymous caller as deleted, with the datestamp
 * of the restriction (and the dynasty/type it had then), until it is public again. Datestamps
 * are the last change (updated_at) or the deletion. Tombstones are kept for ever (OAI-PMH deletedRecord
 * "persistent"). 400 for a limit out of range. Thread-safe. */
int dq_catalog_net_records(dq_catalog_t *cat, const dq_net_query_t *q, const dq_actor_t *who,
                           dq_net_record_cb cb, void *ud, dq_err_t *err);
/* The oldest datestamp of any record into out (32 bytes; "" for an empty catalog). */
int dq_catalog_net_earliest(dq_catalog_t *cat, char *out, dq_err_t *err);

/* One change of the relic change feed: kind "Create", "Update" or "Delete" (IIIF Change
 * Discovery activity types), borrowed for the callback. */
typedef int (*dq_net_change_cb)(void *ud, const char *kind, const char *relic_id,
                                const char *at);
/* The relic changes of the audit trail in order, from the offset-th (0-based) on, at most
 * limit (1..1000) rows of it (cb may be NULL: only *total): creates, imports, replaces, patches, image changes, deletes.
 * A change of a relic who may not see now (restricted, or deleted while restricted), or of
 * a live relic without images (it has no Manifest), is skipped, so a page may hold fewer
 * than limit; but for a relic that was public and was restricted later, the change that
 * restricted it is a "Delete" to those who may not see it (its earlier changes are kept). *total (may be NULL) gets the number of
 * relic rows in the trail, which numbers the pages. Thread-safe. */
int dq_catalog_net_changes(dq_catalog_t *cat, int64_t offset, int limit, const dq_actor_t *who,
                           dq_net_change_cb cb, void *ud, int64_t *total, dq_err_t *err);
/* ======== end network ======== */

/* ======== condition records (condition.c; issue 12) ======== */
/* A condition record of a relic: one examination on one date (docs/api.md "Condition
 * records"). The JSON the catalog takes ("condition doc"): date (YYYY-MM-DD, required),
 * examiner (required), overall (excellent|good|fair|poor|critical, required), images (ids of
 * catalogued captures), observations [{type: loss|flaking|tear|crease|fading|stain|
 * insect_damage|mould|old_repair, severity: minor|moderate|severe, region {image_id,
 * xywh [x,y,w,h] px}, note}], environment {rh_percent, temperature_c, lux}, treatments
 * [{status: proposed|done, description, date}], dimensions_cm {width, height}, changes (the
 * object `danqing condition changes` writes, or a summary of it), published (bool), note.
 * Records are versioned (If-Match) and every write has its audit row ("condition.create|
 * replace|delete", object "relic/{id}/condition/c{n}"). Roles: conservators and above write;
 * viewers and above read every record of a relic they may see; anonymous callers see only
 * published records of public relics. Errors as for relics (400/401/403/404/412/422). */
typedef struct {
    int64_t id;
    char relic_id[64];
    char date[16];
    int published;
    const char *doc; /* canonical JSON of the condition doc; borrowed for a callback */
    char author[64];
    int64_t version;
    char created[32], modified[32];
} dq_condition_row_t;
typedef int (*dq_condition_cb)(void *ud, const dq_condition_row_t *row);

/* The relic id of a condition record's audit object "relic/<id>/condition/c<n>" into relic
 * (cap bytes): 1, or 0 when object is not such a name or the id does not fit. */
int dq_catalog_condition_object_relic(const char *object, char *relic, size_t cap);
int dq_catalog_condition_create(dq_catalog_t *cat, const char *relic_id, const char *json,
                                size_t len, const dq_actor_t *who, dq_buf_t *out,
                                dq_buf_t *field_errors, dq_err_t *err);
/* record_id is "c{n}". */
int dq_catalog_condition_get(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                             const dq_actor_t *who, dq_buf_t *out, int64_t *version,
                             dq_err_t *err);
int dq_catalog_condition_replace(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                                 const char *json, size_t len, int64_t if_version,
                                 const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                                 dq_err_t *err);
int dq_catalog_condition_delete(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                                int64_t if_version, const dq_actor_t *who, dq_err_t *err);
/* 1 when s is a condition date: YYYY-MM-DD with a plausible month and day. */
int dq_catalog_condition_date_ok(const char *s);
/* {"relic_id", "items": [record, ...]} in date order (then id), as who may see them. */
int dq_catalog_condition_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err);
/* Every condition record of every relic, in (relic_id, id) order, with no visibility filter
 * (maintenance commands only: `danqing fixity --adopt-layers`); row->doc borrowed for the
 * callback, which runs inside a read transaction (copy out, do no I/O). 0, or -1 with err. */
int dq_catalog_condition_each(dq_catalog_t *cat, dq_condition_cb cb, void *ud, dq_err_t *err);
/* Every relic's image links of role (exact; e.g. "restoration"), no visibility filter, as
 * dq_catalog_condition_each. Strings borrowed for the callback. 0, or -1 with err. */
typedef int (*dq_role_link_cb)(void *ud, const char *relic_id, const char *image_id);
int dq_catalog_role_links(dq_catalog_t *cat, const char *role, dq_role_link_cb cb, void *ud,
                          dq_err_t *err);
/* ======== end condition records ======== */

/* ======== condition jobs (condition_job.c; issue 12 with issue 15's several servers) ======== */
/* The state of a one-step condition record running on some server's job queue (docs/api.md
 * "Condition records in one step"), kept in the catalog so that every server sharing it
 * answers a poll with the same JSON. The server that took a job ("node": "host/pid/where.start")
 * runs it on its own queue, writes its progress here and beats for it while it is queued or
 * running; a job whose node stopped (its process is gone, as far as this host can tell, or its
 * beat is older than the stale time) is answered as failed (503, with the reason), and is
 * stored so at the next sweep. Finished jobs are forgotten keep_ms after they finished. Times
 * that are compared (beat_ms, finished_ms, now_ms) are the database's clock in ms since
 * 1970, so that servers whose clocks differ agree. Not here: running jobs (http/), the
 * record itself (dq_condrec_build). */
typedef struct {
    char id[40];       /* "j" + 16 hex digits, unique across servers */
    char relic_id[64];
    char user[64];     /* who sent it */
    char node[128];    /* the server running it */
    char state[12];    /* queued | running | done | failed */
    char stage[48];    /* "" or the running stage ("registering", ...) */
    int percent;       /* 0..100 */
    int http_status;   /* of the outcome: 201 done, 4xx/5xx failed, 0 unfinished */
    char record[24];   /* "c<n>" once done */
    const char *error; /* why it failed, or NULL; borrowed (for a callback, or the call) */
    char created[32];  /* UTC text, set by the backend */
    int64_t beat_ms, finished_ms; /* the last beat; when it finished (0: not yet) */
    int64_t now_ms;               /* reads only: the database's clock at the read */
    const char *work; /* reads only: what its build stored (JSON), or NULL; borrowed as error */
} dq_condjob_row_t;
typedef int (*dq_condjob_cb)(void *ud, const dq_condjob_row_t *row);

/* How a reader decides that a job's server stopped: no beat for stale_ms, or dead(ud, node)
 * returns 1 (may be NULL: the caller cannot tell; it must not block). Finished jobs older
 * than keep_ms are gone. */
typedef struct {
    int64_t stale_ms, keep_ms;
    int (*dead)(void *ud, const char *node);
    void *ud;
    /* May be NULL. Called (after the write committed, on the calling thread) for each job
     * that this very call stored as failed because its server stopped, with the job's row
     * (row->work: what it stored, or NULL): the compare-and-set that stored it failed is won
     * by one call on one server, so each stopped job is handed over once, to be undone
     * (condrec dq_condrec_undo). */
    void (*undo)(void *ud, const dq_condjob_row_t *row);
} dq_condjob_policy_t;

/* Stores a new queued job (row: id, relic_id, user, node; the rest is set here). 409 when
 * the id is taken. Thread-safe, as all below. */
int dq_catalog_condjob_create(dq_catalog_t *cat, const dq_condjob_row_t *row, dq_err_t *err);
/* Writes the progress or outcome of job row->id (state, stage, percent, http_status, record,
 * error) and beats for it; finished 1 stamps finished_ms. A job no longer stored (expired,
 * or swept as failed by another server meanwhile) is left alone: 1. With pol (the running
 * server's own writes) it is a compare-and-set in one transaction: the stored job must still
 * be unfinished and row->node's, and not stopped by pol; a done/failed outcome also loses
 * when the last beat is older than half of pol->stale_ms. A job found stopped or late is
 * stored as failed (503, the reason) and the call answers 1: the caller undoes its work. */
int dq_catalog_condjob_set(dq_catalog_t *cat, const dq_condjob_row_t *row,
                           const dq_condjob_policy_t *pol, dq_err_t *err);
/* The beat of node for every one of its unfinished jobs; *n (may be NULL) gets how many.
 * With pol, every job stopped by pol is first stored as failed (so a server thawing after a
 * freeze never revives a job other servers answered as failed). */
int dq_catalog_condjob_beat(dq_catalog_t *cat, const char *node, const dq_condjob_policy_t *pol,
                            int64_t *n, dq_err_t *err);
/* The job's JSON into out: {"id", "href", "relic_id", "state", "percent", "user", "node",
 * "created", "stage"?, "record"?, "record_href"?, "error"?: {"status", "message"}}, with a
 * stopped server's job as failed. 404 when unknown, of another relic, or expired. A stopped
 * job found here is also stored as failed (compare-and-set), and handed to pol->undo when
 * this call won. */
int dq_catalog_condjob_get(dq_catalog_t *cat, const char *relic_id, const char *job_id,
                           const dq_condjob_policy_t *pol, dq_buf_t *out, dq_err_t *err);
/* Keeps the work note of unfinished job id (what its build stored so far: JSON, at most
 * 16 KiB) for the undo of a job whose server stops. 1 when the job is no longer unfinished
 * (judged failed meanwhile: the build must not go on storing). 0, or -1 with err. */
int dq_catalog_condjob_set_work(dq_catalog_t *cat, const char *id, const char *work,
                                dq_err_t *err);
/* Stores as failed every unfinished job whose server stopped (by pol) and forgets finished
 * jobs older than pol->keep_ms; *n_failed / *n_expired (may be NULL) get the counts. */
int dq_catalog_condjob_sweep(dq_catalog_t *cat, const dq_condjob_policy_t *pol, int64_t *n_failed,
                             int64_t *n_expired, dq_err_t *err);
/* ======== end condition jobs ======== */

/* ======== layer file checksums (layer_file.c; issues 12 and 15) ======== */
/* The SHA-256 of derived-layer files that are not images of their own: a condition record's
 * change files (layers/<capture>/changes/{loss,flaking,fading}.png, changes.png,
 * changes.json) and a restoration's (layers/<image>/{restoration.png,restoration.json,
 * mask.png}). Written when the file is put into the store, removed with it; `danqing fixity`
 * reads every one back from the store (migration 29). */
typedef struct {
    const char *key; /* borrowed for the callback */
    char sha256[65];
    uint64_t size;
    char created[32];
} dq_layer_file_row_t;
typedef int (*dq_layer_file_cb)(void *ud, const dq_layer_file_row_t *row);
/* Records (or replaces) key's checksum: key must be a well-formed store key under layers/
 * (400 otherwise), sha256 64 lower-case hex digits. 0, or -1 with err. Thread-safe. */
int dq_catalog_layer_file_put(dq_catalog_t *cat, const char *key, const char *sha256,
                              uint64_t size, dq_err_t *err);
/* Forgets key's checksum (the file was removed); a key with none is fine. */
int dq_catalog_layer_file_remove(dq_catalog_t *cat, const char *key, dq_err_t *err);
/* Every recorded layer file in key order; cb returns non-zero to stop. Runs in one read
 * transaction: cb must not call back into the catalog. */
int dq_catalog_layer_file_list(dq_catalog_t *cat, dq_layer_file_cb cb, void *ud, dq_err_t *err);
/* key's recorded SHA-256 into sha256: 0, 1 when none is recorded, -1 with err. Thread-safe. */
int dq_catalog_layer_file_get(dq_catalog_t *cat, const char *key, char sha256[65], dq_err_t *err);
/* ======== end layer file checksums ======== */

/* ======== work journals (journal.c; issue 15, session 25, migration 32) ======== */
/* A run of a write whose steps are not one catalog transaction (a `spectral add` into an object
 * store uploads its bands, then writes its record) writes a journal row first, naming what it is
 * about to change, and removes it when done. The row is in the catalog, so every process and
 * node sharing the catalog sees it and can take back a run that died; whether the run is alive
 * is the caller's business (a catalog lock: cmd_spectral.c). */
typedef struct {
    const char *run;  /* unique per run, [A-Za-z0-9._-]{1,128}; borrowed */
    const char *kind; /* who writes and reads it ("spectral-add"); borrowed */
    const char *doc;  /* JSON text, the writer's format; borrowed */
    char created[32];
} dq_journal_row_t;
typedef int (*dq_journal_cb)(void *ud, const dq_journal_row_t *row);
/* Writes (or rewrites) run's journal: run as above (400 otherwise), kind non-empty, doc a JSON
 * text. 0, or -1 with err. Thread-safe. */
int dq_catalog_journal_put(dq_catalog_t *cat, const char *run, const char *kind, const char *doc,
                           dq_err_t *err);
/* Removes run's journal; a run with none is fine. */
int dq_catalog_journal_remove(dq_catalog_t *cat, const char *run, dq_err_t *err);
/* The journals of kind in run order; cb returns non-zero to stop. One read transaction: cb must
 * not call back into the catalog (copy what it needs). */
int dq_catalog_journal_list(dq_catalog_t *cat, const char *kind, dq_journal_cb cb, void *ud,
                            dq_err_t *err);
/* ======== end work journals ======== */

/* ======== IIIF Authorization Flow 2.0 (iiif_auth.c; issue 16) ======== */
/* The credentials of the IIIF Authorization Flow API 2.0 (docs/api.md "IIIF Authorization
 * Flow"). A signed-in browser session is the root: the access service grants an access cookie
 * ("dqa_..."), sent by browsers with image requests from any site; the token service turns
 * the cookie (or the session itself, for viewers on our own site) into a short-lived access
 * token ("dqt_...") that a viewer shows the probe service. Each is 32 random bytes (libsodium),
 * kept only as its SHA-256, and tied to its session: signing out, a new password, a revoke or
 * deleting the account ends every cookie and token that came from it. The role is read at
 * every lookup, so a changed role counts at once. Thread-safe; errors fill err (401, 500). */
enum { DQ_IIIF_CRED_COOKIE = 3, DQ_IIIF_CRED_TOKEN = 4 };
/* Lifetimes in seconds: the access token is short (a viewer asks again when it expires, which
 * costs one hidden frame); the cookie is at most the session's (it dies with the session). */
#define DQ_IIIF_TOKEN_TTL 600
#define DQ_IIIF_COOKIE_TTL (12 * 3600)

/* Grants an access cookie to the signed-in session `session` (the dq_session text): cookie
 * (DQ_TOKEN_MAX bytes) receives it, *who the account. 401 when the session is unknown or
 * expired. ttl_s > 0. */
int dq_catalog_iiif_grant(dq_catalog_t *cat, const char *session, int64_t ttl_s, char *cookie,
                          dq_actor_t *who, dq_err_t *err);
/* Mints an access token from a credential of from_kind (DQ_CRED_SESSION or
 * DQ_IIIF_CRED_COOKIE): token (DQ_TOKEN_MAX bytes) receives it, *who the account. On failure
 * err is 401 and *expired (may be NULL) is 1 when the credential existed but has expired. */
int dq_catalog_iiif_token(dq_catalog_t *cat, int from_kind, const char *cred, int64_t ttl_s,
                          char *token, dq_actor_t *who, int *expired, dq_err_t *err);
/* Who holds cred of kind (DQ_IIIF_CRED_COOKIE or DQ_IIIF_CRED_TOKEN): *out the account. 401
 * (with *expired as above) for a malformed, unknown or expired one. */
int dq_catalog_iiif_authenticate(dq_catalog_t *cat, int kind, const char *cred, dq_actor_t *out,
                                 int *expired, dq_err_t *err);
/* Ends the session behind cred of kind (DQ_CRED_SESSION or DQ_IIIF_CRED_COOKIE) with every
 * access cookie and token tied to it. An unknown credential is not an error (nothing to end). */
int dq_catalog_iiif_logout(dq_catalog_t *cat, int kind, const char *cred, dq_err_t *err);
/* ======== end IIIF Authorization Flow 2.0 ======== */


/* ======== copying a catalog (issue 15, `danqing migrate`; copy.c) ======== */
/* Where one table's copy stands. */
typedef struct {
    const char *table;     /* static */
    int64_t source;        /* rows in the source */
    int64_t target;        /* rows in the target when the copy began */
    int64_t done;          /* source rows the target holds now (in key order) */
    int64_t todo;          /* rows left to copy when the copy began (the dry run's answer) */
    int64_t copied;        /* rows this run inserted */
    double seconds;        /* spent copying it this run */
} dq_catalog_copy_stat_t;
typedef struct {
    int dry_run; /* 1: only check the target and fill source/target/todo; nothing is written */
    int batch;   /* rows per write transaction (0: 1000) */
    /* Called after the checks (table -1) and after every batch of table i; non-zero stops
     * the copy (an error). May be NULL. */
    int (*progress)(void *ud, const dq_catalog_copy_stat_t *st, int n, int table);
    void *ud;
} dq_catalog_copy_opts_t;
/* Copies every row of src into dst (another backend, or another SQLite file) keeping ids,
 * times, versions, hashes and the audit trail, table by table in batches; a rerun after a
 * kill goes on where the copy stopped, and a finished copy copies nothing again. Refuses,
 * before writing anything: a target holding other data (DQ_EEXIST, 409), a source with an
 * ingest in flight (DQ_EINVAL). *stats (new, free()) gets *n entries, also on failure (read
 * what was filled). Writes nothing to src. Not thread-safe with writers of either catalog:
 * the source should not change while it is copied. With o->dry_run, dst may be NULL: a target
 * that holds no catalog yet (dq_catalog_probe said so), counted as empty and never created. */
int dq_catalog_copy(dq_catalog_t *src, dq_catalog_t *dst, const dq_catalog_copy_opts_t *o,
                    dq_catalog_copy_stat_t **stats, int *n, dq_err_t *err);
/* ======== end copying a catalog ======== */

#endif
