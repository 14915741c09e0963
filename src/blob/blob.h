/*
 * blob: where the bytes of masters, pyramids and derived layers live (issue 15). One interface,
 * three kinds of store:
 *   - the data directory itself (the default: keys are paths under DATA, today's layout, written
 *     with the same fsync + rename as before);
 *   - any shared POSIX mount (`--store /mnt/danqing` or `file:///mnt/danqing`): the same layout
 *     under another root, written through a temporary file on that mount so that rename stays
 *     atomic there;
 *   - S3-compatible object storage (`--store s3://bucket/prefix`): libcurl with its AWS SigV4
 *     signing, ranged GETs through a bounded local read-through block cache, multipart upload
 *     for large objects, bounded retries with back-off, checksums verified on every upload.
 * A key is the relative path the catalog records ("pyramids/ID.tif", "masters/ab/<sha256>"):
 * letters, digits and . _ - / only, no "..", no leading slash.
 * Not here: what a key means (image/ and cli/ decide), catalog rows, HTTP. File stores answer
 * dq_blob_file_path and callers keep reading files directly (one pread per tile, no copy); only
 * object stores go through dq_blob_obj_read.
 * Thread safety: a store is safe to use from any number of threads once opened.
 */
#ifndef DQ_BLOB_H
#define DQ_BLOB_H

#include <stddef.h>
#include <stdint.h>

#include "core/config.h"
#include "core/core.h"

typedef struct dq_blob dq_blob_t;

/* The backend's verbs (house style 4: one I/O verb per member, no policy). self is the
 * backend's own state. Keys are validated before any of these is called. */
typedef struct {
    /* Publishes the local file src under key, atomically: readers see the old object or the new
     * one, never a part. src may be renamed away (a file store on the same file system). */
    int (*put_file)(void *self, const char *key, const char *src, dq_err_t *err);
    /* Size and a version tag of key (the ETag of an object, or "dev:ino:mtime" of a file);
     * DQ_ENOTFOUND when missing. tag may be NULL. */
    int (*stat)(void *self, const char *key, uint64_t *size, char tag[128], dq_err_t *err);
    /* Exactly len bytes of key from off into dst; tag (may be NULL) must still match. */
    int (*read)(void *self, const char *key, const char *tag, uint64_t off, size_t len, void *dst,
                dq_err_t *err);
    /* The whole object, in order, to sink (called with consecutive chunks). */
    int (*stream)(void *self, const char *key, int (*sink)(void *ud, const void *data, size_t len),
                  void *ud, dq_err_t *err);
    /* Removes key; a missing key is not an error. */
    int (*remove)(void *self, const char *key, dq_err_t *err);
    /* The file behind key (new string), or NULL when the store is not a file system. */
    char *(*file_path)(void *self, const char *key);
    void (*close)(void *self);
} dq_blob_ops_t;

/* ---------------------------------------------------------------- opening */

/* Opens the store cfg names. The data directory remembers it: the first use of a --store other
 * than the default writes DATA/store.conf (store, endpoint, region; no credentials), a later
 * command without --store uses it, and a --store naming another store is refused (DQ_EINVAL),
 * as is switching a data directory that already holds local masters or pyramids.
 * cfg->store "" = the data directory (today's behaviour), a path or
 * file:///path = a POSIX mount, s3://bucket[/prefix] = an S3-compatible store at
 * cfg->s3_endpoint (else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) with credentials from
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (/ AWS_SESSION_TOKEN) and region cfg->s3_region
 * (else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1). The read-through cache of an object
 * store lives in cfg->store_cache (default DATA/cache/blob) bounded to cfg->store_cache_mb.
 * Returns a new store (free with dq_blob_close), or NULL with err (DQ_EINVAL for a bad URL or
 * missing credentials, DQ_EIO). Call before starting threads (it may initialise libcurl). */
dq_blob_t *dq_blob_open(const dq_config_t *cfg, dq_err_t *err);
/* Opens exactly the store cfg->store names ("" = the data directory), without reading or
 * writing DATA/store.conf: for `danqing migrate`, whose data directory keeps its local files
 * while they are copied into another store. Otherwise as dq_blob_open. */
dq_blob_t *dq_blob_open_named(const dq_config_t *cfg, dq_err_t *err);
/* The default store: the data directory itself (what dq_blob_open gives for store ""). New;
 * cannot fail. */
dq_blob_t *dq_blob_open_local(const char *data_dir);
/* NULL-safe. No thread may still use the store. */
void dq_blob_close(dq_blob_t *b);
/* "local", "posix" or "s3". */
const char *dq_blob_kind(const dq_blob_t *b);
/* A one-line description for logs and /health (no credentials): "local:DATA", "s3://b/p". */
const char *dq_blob_describe(const dq_blob_t *b);
/* 1 when key is a well-formed key (see the header comment). */
int dq_blob_key_ok(const char *key);

/* ---------------------------------------------------------------- whole objects */

/* See dq_blob_ops_t.put_file. For the default store this is exactly dq_fs_commit into DATA
 * (parent directories made first). Errors: DQ_EINVAL (bad key), DQ_EIO (after retries for S3;
 * an S3 upload that fails leaves no object and aborts its multipart upload). */
int dq_blob_put_file(dq_blob_t *b, const char *key, const char *src, dq_err_t *err);
/* 1 when key exists, 0 when not, -1 on an error. */
int dq_blob_exists(dq_blob_t *b, const char *key, dq_err_t *err);
/* Size and version tag (tag may be NULL, else 128 bytes). DQ_ENOTFOUND when missing. */
int dq_blob_stat(dq_blob_t *b, const char *key, uint64_t *size, char tag[128], dq_err_t *err);
/* SHA-256 (lower-case hex) and size of the stored bytes, read end to end from the store itself,
 * never from a cache: what `danqing fixity` compares with the catalog. DQ_ENOTFOUND when
 * missing. */
int dq_blob_sha256(dq_blob_t *b, const char *key, char hex[65], uint64_t *size, dq_err_t *err);
/* Copies key into the local file dst (created or truncated, fsynced). */
int dq_blob_fetch_file(dq_blob_t *b, const char *key, const char *dst, dq_err_t *err);
/* Removes key; a missing one is fine. */
int dq_blob_remove(dq_blob_t *b, const char *key, dq_err_t *err);
/* The file behind key for a file store (new string, free()), NULL for an object store. */
char *dq_blob_file_path(dq_blob_t *b, const char *key);

/* A local file holding key's current bytes, for code that needs a path (libvips loaders in
 * style, scene and restore): for a file store the file itself (no I/O); for an object store a
 * whole copy under STORE_CACHE/files/KEY, fetched when missing or when the object's ETag
 * changed, written to a temporary name and renamed. The ETag is asked with a HEAD at each call,
 * or, for a key pinned to the SHA-256 its catalog row names (dq_blob_pin, before this call),
 * once per pin: again after a new pin or a failed read of the key. New string (free()),
 * or NULL with err (DQ_ENOTFOUND when missing). These copies are outside the block cache's
 * bound: they are as large as the objects asked for. Thread-safe. */
char *dq_blob_local_path(dq_blob_t *b, const char *key, dq_err_t *err);

/* ---------------------------------------------------------------- ranged reads */

/* An object opened for ranged reads: its size and tag are read once (HEAD), and every read
 * asks for that version; a replaced object fails reads with DQ_EIO until reopened (never a
 * mix of two versions): dq_blob_obj_replaced tells the caller when to reopen. */
typedef struct dq_blob_obj dq_blob_obj_t;
/* New handle (free with dq_blob_obj_free), or NULL with err (DQ_ENOTFOUND when missing). The
 * store must outlive it. A pinned key (dq_blob_pin) whose size and tag were read for its
 * current pin is opened without asking the store. */
dq_blob_obj_t *dq_blob_obj_open(dq_blob_t *b, const char *key, dq_err_t *err);
/* Declares that key's content is the one with SHA-256 sha256, as the catalog's record of it
 * says (a spectral band's, read for every request anyway): an object store then asks its size
 * and tag (a HEAD) once per pin instead of once per open. A new pin asks again; so does the
 * next open after a read of the key failed (an object replaced without its record, whose
 * reads carry the old tag and fail rather than mix versions). Nothing for file stores, whose
 * opens read no metadata over a network. At most 8192 keys are remembered. Thread-safe. */
void dq_blob_pin(dq_blob_t *b, const char *key, const char *sha256);
/* After a failed dq_blob_obj_read: 1 when key now holds another version (its ETag or size
 * moved: replaced outside danqing, say) or is gone, so the caller should reopen it (the next
 * dq_blob_obj_open of key uses what was read here, without asking again) and retry once; 0 when
 * it is still the version opened (the failure was something else), or when no read failed
 * since the last call (then nothing is asked). Asks the store (a HEAD) at most once per failed
 * read, however many threads ask at once; once 1, stays 1. -1 with err when the store did not
 * answer. Thread-safe. */
int dq_blob_obj_replaced(dq_blob_obj_t *o, dq_err_t *err);
void dq_blob_obj_free(dq_blob_obj_t *o);
uint64_t dq_blob_obj_size(const dq_blob_obj_t *o);
/* The version tag read at open (borrowed). */
const char *dq_blob_obj_tag(const dq_blob_obj_t *o);
const char *dq_blob_obj_key(const dq_blob_obj_t *o);
/* Reads exactly len bytes at off into dst: through the read-through cache for an object store
 * (whole blocks are fetched by ranged GETs and kept on local disk; the bytes go straight from
 * the cache file into dst). DQ_EINVAL past the end. Thread-safe. */
int dq_blob_obj_read(dq_blob_obj_t *o, void *dst, size_t len, uint64_t off, dq_err_t *err);

/* Cache counters since open, for tests and benches: hits and misses in blocks, bytes now
 * cached, evictions, ranged GETs sent, retries made. All zero for a file store. */
typedef struct {
    uint64_t hits, misses, bytes, evictions, gets, retries;
} dq_blob_stats_t;
void dq_blob_stats(dq_blob_t *b, dq_blob_stats_t *out);

#endif
