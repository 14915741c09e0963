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

#endif
