/*
 * blob/blob_internal.h: what blob.c, file.c, cache.c and s3.c share. Not part of the module's
 * contract (blob.h is); nothing outside src/blob/ and its tests includes it.
 */
#ifndef DQ_BLOB_INTERNAL_H
#define DQ_BLOB_INTERNAL_H

#include <stdatomic.h>

#include "blob/blob.h"

/* ---------------------------------------------------------------- file stores (file.c) */

/* A store rooted at root. tmp_dir is where put_file's temporary copies go ("" = rename src in
 * directly, which is what the data directory does: its tmp/ is on the same file system).
 * New state for dq_blob_file_ops. */
void *dq_blob_file_new(const char *root, int rename_in);
extern const dq_blob_ops_t dq_blob_file_ops;

/* ---------------------------------------------------------------- S3 (s3.c) */

typedef struct dq_s3 dq_s3_t;
typedef struct {
    const char *endpoint;                 /* http(s)://host[:port], no trailing slash */
    const char *region, *bucket, *prefix; /* prefix "" or "p/q/" (ends with '/') */
    const char *access_key, *secret_key, *session_token; /* token may be "" */
    uint64_t part_size;
    int retries;
} dq_s3_cfg_t;
/* New client (strings copied), or NULL with err. */
dq_s3_t *dq_s3_new(const dq_s3_cfg_t *c, dq_err_t *err);
extern const dq_blob_ops_t dq_blob_s3_ops;
/* The text of the first <tag>...</tag> in xml (S3's answers: UploadId, ETag, Code, Message),
 * the five XML entities decoded, into out (cap bytes, NUL-terminated, truncated to fit).
 * 0 when found, -1 when not. Pure; never reads past xml_len (fuzz/fuzz_s3xml.c). */
int dq_s3_xml_text(const char *xml, size_t xml_len, const char *tag, char *out, size_t cap);
/* Counters the client keeps (atomic). */
void dq_s3_counters(const dq_s3_t *s, uint64_t *gets, uint64_t *retries);

/* ---------------------------------------------------------------- read-through cache (cache.c) */

typedef struct dq_blob_cache dq_blob_cache_t;
/* A cache of fixed-size blocks of objects in dir (made when missing; files already there from
 * an earlier run are counted and reused), at most max_bytes on disk. Reads that miss call
 * ops->read on self for one block. New, free with dq_blob_cache_free. */
dq_blob_cache_t *dq_blob_cache_new(const char *dir, uint64_t max_bytes, size_t block,
                                   const dq_blob_ops_t *ops, void *self, dq_err_t *err);
void dq_blob_cache_free(dq_blob_cache_t *c);
/* Reads len bytes at off of (key, tag, size) into dst, block by block. */
int dq_blob_cache_read(dq_blob_cache_t *c, const char *key, const char *tag, uint64_t size,
                       void *dst, size_t len, uint64_t off, dq_err_t *err);
void dq_blob_cache_stats(dq_blob_cache_t *c, dq_blob_stats_t *out);

#endif
