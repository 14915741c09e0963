/*
 * blob/blob.c: choosing a store from the configuration, key validation, and the verbs every
 * store shares (fixity hashing, fetching to a file, ranged-read handles) on top of a backend's
 * dq_blob_ops_t. An object store's ranged reads go through the read-through cache (cache.c);
 * a file store's go straight to the file.
 */
#define _GNU_SOURCE
#include "blob/blob_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

/* A key whose content the caller pinned (dq_blob_pin): the size and tag read for it, so
 * that ranged opens skip the HEAD while the pin holds. */
typedef struct pin {
    struct pin *next;
    char *key;
    char sha[65];
    int have; /* size and tag read for this pin */
    int once; /* not pinned by a caller: learnt by dq_blob_obj_replaced for the next open only */
    uint64_t size;
    char tag[128];
} pin_t;
#define PIN_BUCKETS 1024
#define PIN_MAX 8192 /* then the table starts over: a bound, not a policy */

struct dq_blob {
    const dq_blob_ops_t *ops;
    void *self;
    char kind[8];
    char desc[PATH_MAX + 1700];
    dq_blob_cache_t *cache; /* object stores only */
    char *cache_dir;        /* object stores only: the cache's directory */
    /* object stores only: pinned keys; pin_lock guards pins and n_pins */
    pthread_mutex_t pin_lock;
    pin_t **pins;
    size_t n_pins;
};

struct dq_blob_obj {
    dq_blob_t *b;
    char *key;
    uint64_t size;
    char tag[128];
    /* 1 after a read of this version failed: the next dq_blob_obj_replaced asks the store */
    atomic_int failed;
    /* check_lock serialises that question (one HEAD for all readers that failed at once) and
     * guards replaced: 1 once the store answered another version (or none) for key */
    pthread_mutex_t check_lock;
    int replaced;
};

int dq_blob_key_ok(const char *key)
{
    size_t n = key ? strlen(key) : 0;
    if (n == 0 || n > 900 || key[0] == '/' || key[n - 1] == '/')
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = key[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-' || c == '/'))
            return 0;
        /* no empty segment and no segment that starts with '.' (".", "..", hidden files) */
        if ((i == 0 || key[i - 1] == '/') && (c == '/' || c == '.'))
            return 0;
    }
    return 1;
}

static int bad_key(const char *key, dq_err_t *err)
{
    return dq_err_set(err, DQ_EINVAL, 400, "'%.200s' is not a valid store key", key ? key : "");
}

/* ---------------------------------------------------------------- opening */

static const char *env_or(const char *a, const char *b, const char *dflt)
{
    const char *v = getenv(a);
    if (v && *v)
        return v;
    v = b ? getenv(b) : NULL;
    return v && *v ? v : dflt;
}

static dq_blob_t *open_s3(const dq_config_t *cfg, dq_err_t *err)
{
    dq_blob_t *b = NULL;
    char *bucket = NULL, *prefix = NULL, *endpoint = NULL, *cache_dir = NULL;
    dq_s3_t *s3 = NULL;
    const char *rest = cfg->store + 5; /* after "s3://" */
    const char *slash = strchr(rest, '/');
    bucket = slash ? dq_xstrndup(rest, (size_t)(slash - rest)) : dq_xstrdup(rest);
    /* S3 bucket names: 3-63 lower-case letters, digits, '.', '-' (no '_', no upper case). */
    size_t bl = strlen(bucket);
    int ok = bl >= 3 && bl <= 63;
    for (size_t i = 0; ok && i < bl; i++)
        ok = (bucket[i] >= 'a' && bucket[i] <= 'z') || (bucket[i] >= '0' && bucket[i] <= '9') ||
             bucket[i] == '.' || bucket[i] == '-';
    if (!ok) {
        dq_err_set(err, DQ_EINVAL, 0, "--store: '%s' is not an S3 bucket name", bucket);
        goto out;
    }
    {
        const char *p = slash ? slash + 1 : "";
        size_t pl = strlen(p);
        while (pl && p[pl - 1] == '/')
            pl--;
        char *pp = dq_xstrndup(p, pl);
        if (pl && !dq_blob_key_ok(pp)) {
            dq_err_set(err, DQ_EINVAL, 0, "--store: bad prefix '%s'", pp);
            free(pp);
            goto out;
        }
        prefix = pl ? dq_xasprintf("%s/", pp) : dq_xstrdup("");
        free(pp);
    }
    const char *ep = cfg->s3_endpoint[0] ? cfg->s3_endpoint
                                         : env_or("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", NULL);
    if (!ep) {
        dq_err_set(err, DQ_EINVAL, 0,
                   "--store %s needs --s3-endpoint or AWS_ENDPOINT_URL (http(s)://host[:port])",
                   cfg->store);
        goto out;
    }
    if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
        dq_err_set(err, DQ_EINVAL, 0, "S3 endpoint '%s' must start with http:// or https://", ep);
        goto out;
    }
    endpoint = dq_xstrdup(ep);
    for (size_t n = strlen(endpoint); n && endpoint[n - 1] == '/'; n--)
        endpoint[n - 1] = '\0';
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    if (!ak || !*ak || !sk || !*sk) {
        dq_err_set(err, DQ_EINVAL, 0,
                   "--store %s needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                   "environment",
                   cfg->store);
        goto out;
    }
    dq_s3_cfg_t sc = {
        .endpoint = endpoint,
        .region = cfg->s3_region[0] ? cfg->s3_region
                                    : env_or("AWS_REGION", "AWS_DEFAULT_REGION", "us-east-1"),
        .bucket = bucket,
        .prefix = prefix,
        .access_key = ak,
        .secret_key = sk,
        .session_token = env_or("AWS_SESSION_TOKEN", NULL, ""),
        .part_size = (uint64_t)cfg->s3_part_mb << 20,
        .retries = cfg->s3_retries,
    };
    if (!(s3 = dq_s3_new(&sc, err)))
        goto out;
    b = dq_xcalloc(1, sizeof(*b));
    pthread_mutex_init(&b->pin_lock, NULL);
    b->pins = dq_xcalloc(PIN_BUCKETS, sizeof(*b->pins));
    b->ops = &dq_blob_s3_ops;
    b->self = s3;
    s3 = NULL;
    snprintf(b->kind, sizeof(b->kind), "s3");
    snprintf(b->desc, sizeof(b->desc), "s3://%s/%s at %s", bucket, prefix, endpoint);
    cache_dir = cfg->store_cache[0] ? dq_xstrdup(cfg->store_cache)
                                    : dq_xasprintf("%s/cache/blob", cfg->data_dir);
    b->cache_dir = dq_xstrdup(cache_dir);
    if (!(b->cache = dq_blob_cache_new(cache_dir, (uint64_t)cfg->store_cache_mb << 20,
                                       (size_t)cfg->store_block_kb << 10, b->ops, b->self, err))) {
        dq_blob_close(b);
        b = NULL;
    }
out:
    if (s3)
        dq_blob_s3_ops.close(s3);
    free(bucket);
    free(prefix);
    free(endpoint);
    free(cache_dir);
    return b;
}

dq_blob_t *dq_blob_open_local(const char *data_dir)
{
    dq_blob_t *b = dq_xcalloc(1, sizeof(*b));
    b->ops = &dq_blob_file_ops;
    b->self = dq_blob_file_new(data_dir, 1);
    snprintf(b->kind, sizeof(b->kind), "local");
    snprintf(b->desc, sizeof(b->desc), "local:%s", data_dir);
    return b;
}

/* ---------------------------------------------------------------- the data directory's store */

/* A data directory names its store in DATA/store.conf, written the first time a command uses
 * it with --store (key=value lines: store, s3-endpoint, s3-region; never credentials). Later
 * commands without --store use that store, and a --store that names another one is refused:
 * the catalog's keys would point into a store that does not hold them. A data directory
 * without the file is the local store, and its layout is untouched (no file is written). */
#define STORE_CONF "store.conf"

typedef struct {
    char store[1024], endpoint[512], region[64];
} store_conf_t;

/* 1 and *out filled when DATA/store.conf exists, 0 when not, -1 on a bad file. */
static int conf_read(const char *data_dir, store_conf_t *out, dq_err_t *err)
{
    char *path = dq_xasprintf("%s/" STORE_CONF, data_dir);
    dq_buf_t b = {0};
    dq_err_t e = {0};
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (dq_fs_read_file(path, 8192, &b, &e) < 0) {
        rc = e.code == DQ_ENOTFOUND ? 0 : dq_err_set(err, e.code, 0, "%s", e.msg);
        goto out;
    }
    for (char *line = b.data, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (!*line || *line == '#')
            continue;
        char *eq = strchr(line, '=');
        char *dst = NULL;
        size_t cap = 0;
        if (eq) {
            *eq = '\0';
            if (strcmp(line, "store") == 0)
                dst = out->store, cap = sizeof(out->store);
            else if (strcmp(line, "s3-endpoint") == 0)
                dst = out->endpoint, cap = sizeof(out->endpoint);
            else if (strcmp(line, "s3-region") == 0)
                dst = out->region, cap = sizeof(out->region);
        }
        if (!dst || strlen(eq + 1) >= cap) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: bad line '%.80s'", path, line);
            goto out;
        }
        snprintf(dst, cap, "%s", eq + 1);
    }
    if (!out->store[0]) {
        dq_err_set(err, DQ_EINVAL, 0, "%s names no store", path);
        goto out;
    }
    rc = 1;
out:
    dq_buf_free(&b);
    free(path);
    return rc;
}

/* The same store written two ways: file:///x and /x, with or without a trailing slash. */
static int same_store(const char *a, const char *b)
{
    if (strncmp(a, "file://", 7) == 0)
        a += 7;
    if (strncmp(b, "file://", 7) == 0)
        b += 7;
    size_t na = strlen(a), nb = strlen(b);
    while (na > 1 && a[na - 1] == '/')
        na--;
    while (nb > 1 && b[nb - 1] == '/')
        nb--;
    return na == nb && memcmp(a, b, na) == 0;
}

/* Fills eff (a copy of cfg) with the store the data directory names, or records cfg's. */
static int resolve_store(const dq_config_t *cfg, dq_config_t *eff, dq_err_t *err)
{
    store_conf_t c;
    int found = conf_read(cfg->data_dir, &c, err);
    if (found < 0)
        return -1;
    if (found) {
        if (cfg->store[0] && !same_store(cfg->store, c.store))
            return dq_err_set(err, DQ_EINVAL, 0,
                              "%s keeps its images in %s (%s/" STORE_CONF "), not in %s",
                              cfg->data_dir, c.store, cfg->data_dir, cfg->store);
        snprintf(eff->store, sizeof(eff->store), "%s", c.store);
        if (!cfg->s3_endpoint[0])
            snprintf(eff->s3_endpoint, sizeof(eff->s3_endpoint), "%s", c.endpoint);
        if (!cfg->s3_region[0])
            snprintf(eff->s3_region, sizeof(eff->s3_region), "%s", c.region);
        return 0;
    }
    if (!cfg->store[0] || !dq_fs_exists(cfg->data_dir))
        return 0; /* the local store; or no data directory yet (recorded when it exists) */
    char *m = dq_xasprintf("%s/masters", cfg->data_dir),
         *p = dq_xasprintf("%s/pyramids", cfg->data_dir);
    int local_files = dq_fs_exists(m) || dq_fs_exists(p);
    free(m);
    free(p);
    if (local_files)
        return dq_err_set(err, DQ_EINVAL, 0,
                          "%s already holds masters or pyramids in the data directory: it cannot "
                          "switch to --store %s without moving them",
                          cfg->data_dir, cfg->store);
    dq_buf_t t = {0};
    dq_buf_printf(&t,
                  "# the blob store of this data directory (docs/deploy.md); no secrets here\n"
                  "store=%s\n",
                  cfg->store);
    if (cfg->s3_endpoint[0])
        dq_buf_printf(&t, "s3-endpoint=%s\n", cfg->s3_endpoint);
    if (cfg->s3_region[0])
        dq_buf_printf(&t, "s3-region=%s\n", cfg->s3_region);
    char *path = dq_xasprintf("%s/" STORE_CONF, cfg->data_dir);
    int rc = dq_fs_write_atomic(path, cfg->data_dir, t.data, t.len, err);
    free(path);
    dq_buf_free(&t);
    return rc;
}

static dq_blob_t *open_named(const dq_config_t *cfg, dq_err_t *err);

dq_blob_t *dq_blob_open(const dq_config_t *cfg, dq_err_t *err)
{
    dq_config_t *eff = dq_xmalloc(sizeof(*eff));
    *eff = *cfg;
    dq_blob_t *b = resolve_store(cfg, eff, err) < 0 ? NULL : open_named(eff, err);
    free(eff);
    return b;
}

dq_blob_t *dq_blob_open_named(const dq_config_t *cfg, dq_err_t *err)
{
    return open_named(cfg, err);
}

static dq_blob_t *open_named(const dq_config_t *cfg, dq_err_t *err)
{
    const char *s = cfg->store;
    if (strncmp(s, "s3://", 5) == 0)
        return open_s3(cfg, err);
    if (sodium_init() < 0) {
        dq_err_set(err, DQ_EINTERNAL, 0, "libsodium failed to start");
        return NULL;
    }
    if (!s[0])
        return dq_blob_open_local(cfg->data_dir);
    const char *root = strncmp(s, "file://", 7) == 0 ? s + 7 : s;
    if (root[0] != '/' || strstr(root, "://")) {
        dq_err_set(err, DQ_EINVAL, 0,
                   "--store '%s': want an absolute path, file:///PATH or s3://BUCKET[/PREFIX]", s);
        return NULL;
    }
    if (dq_fs_mkdirs(root, err) < 0)
        return NULL;
    dq_blob_t *b = dq_xcalloc(1, sizeof(*b));
    b->ops = &dq_blob_file_ops;
    b->self = dq_blob_file_new(root, 0);
    snprintf(b->kind, sizeof(b->kind), "posix");
    snprintf(b->desc, sizeof(b->desc), "posix:%s", root);
    return b;
}

static void pins_clear(dq_blob_t *b)
{
    for (size_t i = 0; i < PIN_BUCKETS; i++)
        for (pin_t *p = b->pins[i], *n; p; p = n) {
            n = p->next;
            free(p->key);
            free(p);
        }
    memset(b->pins, 0, PIN_BUCKETS * sizeof(*b->pins));
    b->n_pins = 0;
}

void dq_blob_close(dq_blob_t *b)
{
    if (!b)
        return;
    if (b->pins) {
        pins_clear(b);
        free(b->pins);
        pthread_mutex_destroy(&b->pin_lock);
    }
    dq_blob_cache_free(b->cache);
    b->ops->close(b->self);
    free(b->cache_dir);
    free(b);
}

const char *dq_blob_kind(const dq_blob_t *b)
{
    return b->kind;
}
const char *dq_blob_describe(const dq_blob_t *b)
{
    return b->desc;
}

/* ---------------------------------------------------------------- whole objects */

int dq_blob_put_file(dq_blob_t *b, const char *key, const char *src, dq_err_t *err)
{
    if (!dq_blob_key_ok(key))
        return bad_key(key, err);
    return b->ops->put_file(b->self, key, src, err);
}

int dq_blob_stat(dq_blob_t *b, const char *key, uint64_t *size, char tag[128], dq_err_t *err)
{
    if (!dq_blob_key_ok(key))
        return bad_key(key, err);
    return b->ops->stat(b->self, key, size, tag, err);
}

int dq_blob_exists(dq_blob_t *b, const char *key, dq_err_t *err)
{
    dq_err_t e = {0};
    if (dq_blob_stat(b, key, NULL, NULL, &e) == 0)
        return 1;
    if (e.code == DQ_ENOTFOUND)
        return 0;
    *err = e;
    return -1;
}

typedef struct {
    crypto_hash_sha256_state st;
    uint64_t n;
} hash_sink_t;

static int hash_sink(void *ud, const void *data, size_t len)
{
    hash_sink_t *h = ud;
    crypto_hash_sha256_update(&h->st, data, len);
    h->n += len;
    return 0;
}

int dq_blob_sha256(dq_blob_t *b, const char *key, char hex[65], uint64_t *size, dq_err_t *err)
{
    if (!dq_blob_key_ok(key))
        return bad_key(key, err);
    hash_sink_t h = {.n = 0};
    crypto_hash_sha256_init(&h.st);
    if (b->ops->stream(b->self, key, hash_sink, &h, err) < 0)
        return -1;
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&h.st, d);
    for (size_t i = 0; i < sizeof d; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    if (size)
        *size = h.n;
    return 0;
}

typedef struct {
    int fd;
} file_sink_t;

static int file_sink(void *ud, const void *data, size_t len)
{
    file_sink_t *f = ud;
    const char *p = data;
    while (len) {
        ssize_t n = write(f->fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int dq_blob_fetch_file(dq_blob_t *b, const char *key, const char *dst, dq_err_t *err)
{
    if (!dq_blob_key_ok(key))
        return bad_key(key, err);
    file_sink_t f = {open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)};
    if (f.fd < 0)
        return dq_err_set(err, DQ_EIO, 0, "cannot create %s: %s", dst, strerror(errno));
    int rc = b->ops->stream(b->self, key, file_sink, &f, err);
    if (rc == 0 && fsync(f.fd) < 0)
        rc = dq_err_set(err, DQ_EIO, 0, "fsync %s: %s", dst, strerror(errno));
    close(f.fd);
    if (rc < 0)
        unlink(dst);
    return rc;
}

int dq_blob_remove(dq_blob_t *b, const char *key, dq_err_t *err)
{
    if (!dq_blob_key_ok(key))
        return bad_key(key, err);
    return b->ops->remove(b->self, key, err);
}

char *dq_blob_file_path(dq_blob_t *b, const char *key)
{
    return dq_blob_key_ok(key) ? b->ops->file_path(b->self, key) : NULL;
}

static int pinned_stat(dq_blob_t *b, const char *key, int use_once, uint64_t *size,
                       char tag[128], dq_err_t *err);

char *dq_blob_local_path(dq_blob_t *b, const char *key, dq_err_t *err)
{
    if (!dq_blob_key_ok(key)) {
        bad_key(key, err);
        return NULL;
    }
    char *path = b->ops->file_path(b->self, key);
    if (path)
        return path;
    char tag[128], have[129] = "";
    uint64_t size;
    /* A pinned key (the caller read its SHA-256 in the catalog) asks the store once per pin;
     * the pin is asked again after a failed read of the key, as for ranged reads. */
    if (pinned_stat(b, key, 0, &size, tag, err) < 0)
        return NULL;
    path = dq_xasprintf("%s/files/%s", b->cache_dir, key);
    char *tag_path = dq_xasprintf("%s.etag", path), *tmp = NULL;
    dq_buf_t t = {0};
    /* The copy is current when its recorded ETag is the object's and its size matches. */
    if (dq_fs_read_file(tag_path, 256, &t, err) == 0 && t.len < sizeof(have)) {
        memcpy(have, t.data, t.len);
        have[t.len] = '\0';
    }
    dq_buf_free(&t);
    dq_err_clear(err);
    struct stat st;
    if (strcmp(have, tag) == 0 && stat(path, &st) == 0 && (uint64_t)st.st_size == size)
        goto done;
    char *dir = dq_xstrdup(path);
    *strrchr(dir, '/') = '\0';
    int rc = dq_fs_mkdirs(dir, err);
    if (rc == 0) {
        tmp = dq_xasprintf("%s/.fetch.XXXXXX", dir);
        int fd = mkstemp(tmp);
        if (fd < 0) {
            rc = dq_err_set(err, DQ_EIO, 0, "cannot create a file in %s: %s", dir, strerror(errno));
        } else {
            close(fd);
            rc = dq_blob_fetch_file(b, key, tmp, err);
            if (rc == 0 && rename(tmp, path) < 0)
                rc = dq_err_set(err, DQ_EIO, 0, "rename %s: %s", path, strerror(errno));
            if (rc < 0)
                unlink(tmp);
        }
    }
    if (rc == 0)
        rc = dq_fs_write_atomic(tag_path, dir, tag, strlen(tag), err);
    free(dir);
    if (rc < 0) {
        free(path);
        path = NULL;
    }
done:
    free(tag_path);
    free(tmp);
    return path;
}

/* ---------------------------------------------------------------- ranged reads */

/* The pin of key (pin_lock held), or NULL. */
static pin_t *pin_find(dq_blob_t *b, const char *key)
{
    for (pin_t *p = b->pins[dq_hash64(key, strlen(key)) % PIN_BUCKETS]; p; p = p->next)
        if (strcmp(p->key, key) == 0)
            return p;
    return NULL;
}

/* The pin of key, made (zeroed; *added set when added is not NULL) when missing; the table is
 * emptied first when full (pin_lock held). */
static pin_t *pin_add(dq_blob_t *b, const char *key, int *added)
{
    pin_t *p = pin_find(b, key);
    if (added)
        *added = !p;
    if (p)
        return p;
    if (b->n_pins >= PIN_MAX)
        pins_clear(b);
    size_t h = dq_hash64(key, strlen(key)) % PIN_BUCKETS;
    p = dq_xcalloc(1, sizeof(*p));
    p->key = dq_xstrdup(key);
    p->next = b->pins[h];
    b->pins[h] = p;
    b->n_pins++;
    return p;
}

void dq_blob_pin(dq_blob_t *b, const char *key, const char *sha256)
{
    if (!b->pins || !key || !sha256 || strlen(sha256) != 64)
        return;
    pthread_mutex_lock(&b->pin_lock);
    pin_t *p = pin_add(b, key, NULL);
    if (strcmp(p->sha, sha256) != 0) { /* other content now: its size and tag are asked again */
        memcpy(p->sha, sha256, 65);
        p->have = 0;
    }
    p->once = 0;
    pthread_mutex_unlock(&b->pin_lock);
}

/* A read of a pinned key failed (its object replaced under the same pin, say): the next
 * open asks the store again. */
static void pin_forget(dq_blob_t *b, const char *key)
{
    if (!b->pins)
        return;
    pthread_mutex_lock(&b->pin_lock);
    pin_t *p = pin_find(b, key);
    if (p)
        p->have = 0;
    pthread_mutex_unlock(&b->pin_lock);
}

/* Size and tag of key: from its pin when the store was asked for the current pin (no request;
 * also what dq_blob_obj_replaced learnt for one open when use_once), else a HEAD, remembered
 * when key is pinned and the pin did not change meanwhile. */
static int pinned_stat(dq_blob_t *b, const char *key, int use_once, uint64_t *size,
                       char tag[128], dq_err_t *err)
{
    char sha[65] = "";
    if (b->pins) {
        int known = 0;
        pthread_mutex_lock(&b->pin_lock);
        pin_t *p = pin_find(b, key);
        if (p && p->have && (use_once || !p->once)) {
            *size = p->size;
            memcpy(tag, p->tag, 128);
            known = 1;
            if (p->once)
                p->have = 0;
        }
        if (p && !known) /* the pin the stat below is for (it may change meanwhile) */
            memcpy(sha, p->sha, sizeof(sha));
        pthread_mutex_unlock(&b->pin_lock);
        if (known)
            return 0; /* pinned and known: no HEAD */
    }
    if (dq_blob_stat(b, key, size, tag, err) < 0)
        return -1;
    if (sha[0]) {
        pthread_mutex_lock(&b->pin_lock);
        pin_t *p = pin_find(b, key);
        if (p && strcmp(p->sha, sha) == 0) {
            p->size = *size;
            memcpy(p->tag, tag, sizeof(p->tag));
            p->have = 1;
            p->once = 0;
        }
        pthread_mutex_unlock(&b->pin_lock);
    }
    return 0;
}

dq_blob_obj_t *dq_blob_obj_open(dq_blob_t *b, const char *key, dq_err_t *err)
{
    dq_blob_obj_t *o = dq_xcalloc(1, sizeof(*o));
    o->b = b;
    atomic_init(&o->failed, 0);
    pthread_mutex_init(&o->check_lock, NULL);
    if (pinned_stat(b, key, 1, &o->size, o->tag, err) < 0) {
        pthread_mutex_destroy(&o->check_lock);
        free(o);
        return NULL;
    }
    o->key = dq_xstrdup(key);
    return o;
}

void dq_blob_obj_free(dq_blob_obj_t *o)
{
    if (!o)
        return;
    pthread_mutex_destroy(&o->check_lock);
    free(o->key);
    free(o);
}

uint64_t dq_blob_obj_size(const dq_blob_obj_t *o)
{
    return o->size;
}
const char *dq_blob_obj_tag(const dq_blob_obj_t *o)
{
    return o->tag;
}
const char *dq_blob_obj_key(const dq_blob_obj_t *o)
{
    return o->key;
}

int dq_blob_obj_read(dq_blob_obj_t *o, void *dst, size_t len, uint64_t off, dq_err_t *err)
{
    if (off > o->size || len > o->size - off)
        return dq_err_set(err, DQ_EINVAL, 500, "%s: read of %zu bytes at %llu past its end (%llu)",
                          o->key, len, (unsigned long long)off, (unsigned long long)o->size);
    if (len == 0)
        return 0;
    int rc = o->b->cache
                 ? dq_blob_cache_read(o->b->cache, o->key, o->tag, o->size, dst, len, off, err)
                 : o->b->ops->read(o->b->self, o->key, o->tag, off, len, dst, err);
    if (rc < 0) {
        atomic_store(&o->failed, 1);
        pin_forget(o->b, o->key);
    }
    return rc;
}

/* Remembers what the store answered for key (pin_lock taken here): the next open of key asks
 * nothing, whether key is pinned or not (an unpinned key's entry serves that one open). */
static void pin_learn(dq_blob_t *b, const char *key, uint64_t size, const char *tag)
{
    if (!b->pins)
        return;
    pthread_mutex_lock(&b->pin_lock);
    int added = 0;
    pin_t *p = pin_add(b, key, &added);
    if (added)
        p->once = 1;
    p->size = size;
    snprintf(p->tag, sizeof(p->tag), "%s", tag);
    p->have = 1;
    pthread_mutex_unlock(&b->pin_lock);
}

int dq_blob_obj_replaced(dq_blob_obj_t *o, dq_err_t *err)
{
    pthread_mutex_lock(&o->check_lock);
    int rc = o->replaced;
    if (!rc && atomic_exchange(&o->failed, 0)) {
        uint64_t size = 0;
        char tag[128] = "";
        dq_err_t e = {0};
        if (dq_blob_stat(o->b, o->key, &size, tag, &e) == 0) {
            rc = o->replaced = size != o->size || strcmp(tag, o->tag) != 0;
            if (rc) /* the reopen that follows uses this answer instead of asking again */
                pin_learn(o->b, o->key, size, tag);
        } else if (e.code == DQ_ENOTFOUND) {
            rc = o->replaced = 1; /* deleted: the reopen answers 404 */
        } else {
            atomic_store(&o->failed, 1); /* the store did not answer: ask again next time */
            *err = e;
            rc = -1;
        }
    }
    pthread_mutex_unlock(&o->check_lock);
    return rc;
}

void dq_blob_stats(dq_blob_t *b, dq_blob_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!b->cache)
        return;
    dq_blob_cache_stats(b->cache, out);
    dq_s3_counters(b->self, &out->gets, &out->retries);
}
