/*
 * core: the dependency-free base of danqing. Error values, memory helpers that die on
 * exhaustion, a growable byte buffer, logging, atomic file writes and SHA-256.
 * Nothing here knows about images, HTTP or the catalog; every other module may use it.
 * Thread safety: everything is reentrant; the log level is set once at start-up.
 */
#ifndef DQ_CORE_H
#define DQ_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------- errors */

/* Error codes: a coarse class; the message says the detail. */
enum {
    DQ_OK = 0,
    DQ_EINVAL,    /* bad input from a user or a client */
    DQ_ENOTFOUND, /* a named thing does not exist */
    DQ_EEXIST,    /* a thing exists and must not be overwritten */
    DQ_ELIMIT,    /* input beyond a configured limit */
    DQ_EUNSUP,    /* valid but not supported */
    DQ_EIO,       /* the file system or a library failed */
    DQ_EINTERNAL, /* a bug or an unexpected library state */
    DQ_EBUSY,     /* a shared resource stayed busy past its bounded wait: retry later (503) */
};

/* Filled by a failing function; owned by the caller, usually on its stack. */
typedef struct {
    int code;        /* DQ_E* */
    int http_status; /* the HTTP status this error maps to (400, 404, ...), 0 when unset */
    char msg[512];
} dq_err_t;

/* Sets err (which may be NULL) and returns -1, so that `return dq_err_set(...)` reads well.
 * http_status 0 picks the default for the code. */
int dq_err_set(dq_err_t *err, int code, int http_status, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Resets err to "no error". */
void dq_err_clear(dq_err_t *err);
/* The default HTTP status for an error code. */
int dq_err_status(int code);

/* ---------------------------------------------------------------- memory */

/* Allocation that cannot fail: on exhaustion it prints file:line and aborts. Use for sizes
 * that do not come from untrusted input. */
#define dq_xmalloc(n) dq_xmalloc_at((n), __FILE__, __LINE__)
#define dq_xcalloc(n, s) dq_xcalloc_at((n), (s), __FILE__, __LINE__)
#define dq_xrealloc(p, n) dq_xrealloc_at((p), (n), __FILE__, __LINE__)
#define dq_xstrdup(s) dq_xstrdup_at((s), __FILE__, __LINE__)
#define dq_xstrndup(s, n) dq_xstrndup_at((s), (n), __FILE__, __LINE__)
void *dq_xmalloc_at(size_t n, const char *file, int line);
void *dq_xcalloc_at(size_t n, size_t size, const char *file, int line);
void *dq_xrealloc_at(void *p, size_t n, const char *file, int line);
char *dq_xstrdup_at(const char *s, const char *file, int line);
char *dq_xstrndup_at(const char *s, size_t n, const char *file, int line);
/* For sizes from untrusted input: returns NULL and fills err instead of aborting. */
void *dq_trymalloc(size_t n, dq_err_t *err);
/* printf into a new string; free with free(). */
char *dq_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Invariants, on in every build. Never for bad input. */
#define DQ_ASSERT(c)                                                                               \
    do {                                                                                           \
        if (!(c))                                                                                  \
            dq_panic(__FILE__, __LINE__, #c);                                                      \
    } while (0)
void dq_panic(const char *file, int line, const char *what) __attribute__((noreturn));

#define DQ_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define DQ_MIN(a, b) ((a) < (b) ? (a) : (b))
#define DQ_MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---------------------------------------------------------------- byte buffer */

/* A growable byte buffer, always NUL-terminated after len (so text can be used as a C
 * string). Starts zeroed (`dq_buf_t b = {0};`); release with dq_buf_free. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
} dq_buf_t;

void dq_buf_reserve(dq_buf_t *b, size_t extra);
void dq_buf_append(dq_buf_t *b, const void *data, size_t len);
void dq_buf_puts(dq_buf_t *b, const char *s);
void dq_buf_putc(dq_buf_t *b, char c);
/* Appends v in decimal: what "%llu" writes, without printf's parsing (hot paths: tile headers). */
void dq_buf_put_u64(dq_buf_t *b, uint64_t v);
void dq_buf_printf(dq_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dq_buf_vprintf(dq_buf_t *b, const char *fmt, va_list ap);
/* Appends s as the body of a JSON string (without the quotes), escaping as RFC 8259 asks. */
void dq_buf_json_str(dq_buf_t *b, const char *s, size_t len);
/* The unreserved characters of RFC 3986 §2.3 besides letters and digits (a URL path segment),
 * and those of encodeURIComponent (ECMA-262 §19.2.6.5). */
#define DQ_PCT_RFC3986 "-._~"
#define DQ_PCT_URI_COMPONENT "-_.!~*'()"
/* Appends s[0..len) percent-encoded: ASCII letters, digits and the characters in keep (one of
 * the DQ_PCT_* sets) stay, every other byte becomes %XX (uppercase hex). */
void dq_buf_pct_encode(dq_buf_t *b, const char *s, size_t len, const char *keep);
/* Appends the NUL-terminated s as one URL path segment (DQ_PCT_RFC3986). */
void dq_buf_url_segment(dq_buf_t *b, const char *s);
void dq_buf_reset(dq_buf_t *b);
/* Hands the data to the caller (free with free()) and resets b. */
char *dq_buf_steal(dq_buf_t *b, size_t *len);
void dq_buf_free(dq_buf_t *b);

/* ---------------------------------------------------------------- logging */

enum { DQ_LOG_DEBUG = 0, DQ_LOG_INFO, DQ_LOG_WARN, DQ_LOG_ERROR, DQ_LOG_OFF };
/* Set once in main before threads start; read-only afterwards. */
void dq_log_set_level(int level);
int dq_log_get_level(void);
/* One line to stderr: "2026-11-24T15:33:07.123Z level module message". Thread-safe (one
 * write(2) per line). */
void dq_log(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---------------------------------------------------------------- time */

/* Monotonic microseconds, for durations. */
int64_t dq_now_us(void);

/* ---------------------------------------------------------------- files */

/* Creates a directory and its parents (like mkdir -p). */
int dq_fs_mkdirs(const char *path, dq_err_t *err);
/* Reads a whole file into buf (appended). Fails beyond max_len bytes. */
int dq_fs_read_file(const char *path, size_t max_len, dq_buf_t *buf, dq_err_t *err);
/* Writes data to path atomically: a temporary file in tmp_dir (same file system), fsync,
 * rename over path, fsync of path's directory. A crash leaves the old file or the new. */
int dq_fs_write_atomic(const char *path, const char *tmp_dir, const void *data, size_t len,
                       dq_err_t *err);
/* fsync of a file by name, and of the directory holding a path. */
int dq_fs_fsync_path(const char *path, dq_err_t *err);
int dq_fs_fsync_parent(const char *path, dq_err_t *err);
/* Atomically moves a finished temporary file into place: fsync(tmp), rename, fsync(dir). */
int dq_fs_commit(const char *tmp_path, const char *final_path, dq_err_t *err);
/* Copies a file to dst_tmp (then the caller commits it). */
int dq_fs_copy(const char *src, const char *dst, dq_err_t *err);
/* 1 when path exists. */
int dq_fs_exists(const char *path);

/* ---------------------------------------------------------------- hashing */

/* SHA-256 of a file, as 64 lowercase hex digits plus NUL in hex; size in *size if non-NULL. */
int dq_sha256_file(const char *path, char hex[65], uint64_t *size, dq_err_t *err);
/* SHA-256 of a buffer. */
void dq_sha256_buf(const void *data, size_t len, char hex[65]);
/* A fast non-cryptographic 64-bit hash, for cache keys and ETags; values may differ between
 * builds and hosts, so never store them as data. */
uint64_t dq_hash64(const void *data, size_t len);

/* ---------------------------------------------------------------- strings */

/* Percent-decodes src[0..len) into a new string (free with free()). Rejects bad escapes and
 * encoded NUL: returns NULL and fills err. '+' is left as is (paths, not forms). */
char *dq_str_pct_decode(const char *src, size_t len, dq_err_t *err);
/* 1 when s starts with prefix. */
int dq_str_starts(const char *s, const char *prefix);
/* Parses a non-negative decimal integer filling all of [s, s+len); no sign, no spaces. */
int dq_str_to_u64(const char *s, size_t len, uint64_t *out);
/* RFC 4648 §4 base64 of src[0..len) appended to out, at most max_out bytes (core/base64.c):
 * 0, or -1 for a character outside the alphabet, data after '=', a dangling character or more
 * than max_out bytes (out then holds a partial result; callers discard it). Pure. */
int dq_base64_decode(const char *src, size_t len, dq_buf_t *out, size_t max_out);

#endif
