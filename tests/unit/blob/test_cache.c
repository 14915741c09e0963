/*
 * test_cache.c: blob/cache.c, the read-through block cache, over a file store standing in for
 * the object store (its read verb is what a ranged GET is to S3): reads equal the object's bytes
 * at every offset, misses fetch whole blocks once, the bound holds with least-recently-used
 * eviction, a block file of the wrong size is dropped and fetched again, blocks left by an
 * earlier run are counted at start (and evicted when the bound shrank), and another version tag
 * never reads the old version's blocks, and threads missing one block together fetch it once.
 * Also: keys, and the default store's put (rename). Includes cache.c to reach its counters.
 */
#define _GNU_SOURCE
#include "dq_test.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../../src/blob/cache.c"
#include <time.h>

#define BLOCK 4096
#define OBJ_LEN (40 * BLOCK + 123)

typedef struct {
    char dir[256], store[300], cache[300];
    uint8_t *obj;
    void *fs; /* the file store */
} fix_t;

static void fix_open(fix_t *f)
{
    snprintf(f->dir, sizeof f->dir, "%s/dq_cache.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    DQ_ASSERT(mkdtemp(f->dir));
    snprintf(f->store, sizeof f->store, "%s/store", f->dir);
    snprintf(f->cache, sizeof f->cache, "%s/cache", f->dir);
    dq_err_t err = {0};
    char *objdir = dq_xasprintf("%s/obj", f->store);
    DQ_ASSERT(dq_fs_mkdirs(objdir, &err) == 0);
    free(objdir);
    f->obj = dq_xmalloc(OBJ_LEN);
    for (size_t i = 0; i < OBJ_LEN; i++)
        f->obj[i] = (uint8_t)(i * 2654435761u >> 13);
    char *p = dq_xasprintf("%s/obj/a.bin", f->store);
    DQ_ASSERT(dq_fs_write_atomic(p, f->dir, f->obj, OBJ_LEN, &err) == 0);
    free(p);
    f->fs = dq_blob_file_new(f->store, 1);
}

static void fix_close(fix_t *f)
{
    dq_blob_file_ops.close(f->fs);
    free(f->obj);
    char *cmd = dq_xasprintf("rm -rf '%s'", f->dir);
    DQ_ASSERT(system(cmd) == 0);
    free(cmd);
}

/* Bytes of block files on disk under the cache directory. */
static uint64_t on_disk(const char *cache)
{
    uint64_t n = 0;
    for (int d = 0; d < 256; d++) {
        char *sub = dq_xasprintf("%s/%02x", cache, d);
        DIR *dir = opendir(sub);
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            if (de->d_name[0] == '.')
                continue;
            char *p = dq_xasprintf("%s/%s", sub, de->d_name);
            struct stat st;
            if (stat(p, &st) == 0)
                n += (uint64_t)st.st_size;
            free(p);
        }
        if (dir)
            closedir(dir);
        free(sub);
    }
    return n;
}

static int read_ok(dq_blob_cache_t *c, const fix_t *f, const char *tag, uint64_t off, size_t len)
{
    uint8_t *buf = dq_xmalloc(len ? len : 1);
    dq_err_t err = {0};
    int ok = dq_blob_cache_read(c, "obj/a.bin", tag, OBJ_LEN, buf, len, off, &err) == 0 &&
             memcmp(buf, f->obj + off, len) == 0;
    free(buf);
    return ok;
}

DQ_TEST(reads_equal_the_object_and_fetch_each_block_once)
{
    fix_t f;
    fix_open(&f);
    dq_err_t err = {0};
    dq_blob_cache_t *c = dq_blob_cache_new(f.cache, 1 << 20, BLOCK, &dq_blob_file_ops, f.fs, &err);
    DQ_CHECK(c != NULL);
    /* within a block, across two, across three, the last bytes, the whole object */
    DQ_CHECK(read_ok(c, &f, "v1", 10, 100));
    DQ_CHECK(read_ok(c, &f, "v1", BLOCK - 5, 10));
    DQ_CHECK(read_ok(c, &f, "v1", 3 * BLOCK - 1, BLOCK + 2));
    DQ_CHECK(read_ok(c, &f, "v1", OBJ_LEN - 7, 7));
    dq_blob_stats_t s;
    dq_blob_cache_stats(c, &s);
    DQ_CHECK_INT((int)s.misses, 6); /* blocks 0, 1, 2, 3, 4, 40 */
    DQ_CHECK(read_ok(c, &f, "v1", 0, OBJ_LEN));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK_INT((int)s.misses, 41); /* every block once, no more */
    DQ_CHECK(s.bytes == OBJ_LEN && on_disk(f.cache) == OBJ_LEN);
    uint64_t hits = s.hits;
    DQ_CHECK(read_ok(c, &f, "v1", 5 * BLOCK + 1, 2 * BLOCK));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.misses == 41 && s.hits == hits + 3);
    /* another version of the object never reads the old version's blocks */
    DQ_CHECK(read_ok(c, &f, "v2", 0, 10));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK_INT((int)s.misses, 42);
    dq_blob_cache_free(c);
    fix_close(&f);
}

DQ_TEST(the_bound_holds_and_least_recent_blocks_go_first)
{
    fix_t f;
    fix_open(&f);
    dq_err_t err = {0};
    dq_blob_cache_t *c =
        dq_blob_cache_new(f.cache, 8 * BLOCK, BLOCK, &dq_blob_file_ops, f.fs, &err);
    DQ_CHECK(c != NULL);
    DQ_CHECK(read_ok(c, &f, "v1", 0, OBJ_LEN));
    dq_blob_stats_t s;
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.bytes <= 8 * BLOCK && on_disk(f.cache) <= 8 * BLOCK && s.evictions >= 33);
    /* the most recent blocks (the end) are kept, the oldest (the start) went */
    uint64_t misses = s.misses;
    DQ_CHECK(read_ok(c, &f, "v1", 39 * BLOCK, BLOCK));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.misses == misses);
    DQ_CHECK(read_ok(c, &f, "v1", 0, 10));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.misses == misses + 1);
    DQ_CHECK(on_disk(f.cache) <= 8 * BLOCK);
    dq_blob_cache_free(c);
    fix_close(&f);
}

DQ_TEST(a_damaged_block_is_fetched_again_and_restarts_keep_the_bound)
{
    fix_t f;
    fix_open(&f);
    dq_err_t err = {0};
    dq_blob_cache_t *c = dq_blob_cache_new(f.cache, 1 << 20, BLOCK, &dq_blob_file_ops, f.fs, &err);
    DQ_CHECK(read_ok(c, &f, "v1", 0, 10 * BLOCK));
    /* truncate every cached block file: the next reads must refetch, and still be right */
    for (int d = 0; d < 256; d++) {
        char *sub = dq_xasprintf("%s/%02x", f.cache, d);
        DIR *dir = opendir(sub);
        struct dirent *de;
        while (dir && (de = readdir(dir)))
            if (de->d_name[0] != '.') {
                char *p = dq_xasprintf("%s/%s", sub, de->d_name);
                DQ_CHECK(truncate(p, 17) == 0);
                free(p);
            }
        if (dir)
            closedir(dir);
        free(sub);
    }
    dq_blob_stats_t s;
    dq_blob_cache_stats(c, &s);
    uint64_t misses = s.misses;
    DQ_CHECK(read_ok(c, &f, "v1", 0, 10 * BLOCK));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.misses == misses + 10);
    dq_blob_cache_free(c);
    /* a new cache over the same directory counts what is there ... */
    c = dq_blob_cache_new(f.cache, 1 << 20, BLOCK, &dq_blob_file_ops, f.fs, &err);
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.bytes == 10 * BLOCK && s.misses == 0);
    DQ_CHECK(read_ok(c, &f, "v1", 0, 10 * BLOCK));
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.misses == 0 && s.hits == 10);
    dq_blob_cache_free(c);
    /* ... and evicts down to a smaller bound at start */
    c = dq_blob_cache_new(f.cache, 3 * BLOCK, BLOCK, &dq_blob_file_ops, f.fs, &err);
    dq_blob_cache_stats(c, &s);
    DQ_CHECK(s.bytes <= 3 * BLOCK && s.evictions == 7 && on_disk(f.cache) <= 3 * BLOCK);
    dq_blob_cache_free(c);
    /* nonsense settings are refused */
    DQ_CHECK(dq_blob_cache_new(f.cache, 0, BLOCK, &dq_blob_file_ops, f.fs, &err) == NULL);
    fix_close(&f);
}

/* ---- threads missing one block together: one fetch */

typedef struct {
    dq_blob_cache_t *c;
    void *fs;
    atomic_int calls;
} slow_t;

static slow_t *g_slow; /* the backend below gets its state through self; this is for read_one */

/* A backend read that holds the fetch until the three other readers wait for it (bounded: at
 * most 5 s), so that the test does not depend on timing. */
static int slow_read(void *self, const char *key, const char *tag, uint64_t off, size_t len,
                     void *dst, dq_err_t *err)
{
    slow_t *s = self;
    atomic_fetch_add(&s->calls, 1);
    for (int i = 0; i < 5000; i++) {
        pthread_mutex_lock(&s->c->lock);
        uint64_t w = s->c->waits;
        pthread_mutex_unlock(&s->c->lock);
        if (w >= 3)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return dq_blob_file_ops.read(s->fs, key, tag, off, len, dst, err);
}

typedef struct {
    const fix_t *f;
    uint64_t off;
    int ok;
} reader_t;

static void *read_one(void *arg)
{
    reader_t *r = arg;
    r->ok = read_ok(g_slow->c, r->f, "v1", r->off, 100);
    return NULL;
}

DQ_TEST(one_fetch_for_threads_missing_the_same_block)
{
    fix_t f;
    fix_open(&f);
    dq_err_t err = {0};
    dq_blob_ops_t ops = dq_blob_file_ops;
    ops.read = slow_read;
    slow_t s = {.fs = f.fs};
    atomic_init(&s.calls, 0);
    s.c = dq_blob_cache_new(f.cache, 1 << 20, BLOCK, &ops, &s, &err);
    DQ_CHECK(s.c != NULL);
    g_slow = &s;
    pthread_t th[4];
    reader_t r[4];
    for (int i = 0; i < 4; i++) {
        r[i] = (reader_t){&f, 2 * BLOCK + 200 * (uint64_t)i, 0};
        DQ_CHECK(pthread_create(&th[i], NULL, read_one, &r[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        DQ_CHECK(r[i].ok);
    }
    DQ_CHECK_INT(atomic_load(&s.calls), 1);
    dq_blob_stats_t st;
    dq_blob_cache_stats(s.c, &st);
    DQ_CHECK(st.misses == 1 && st.hits == 3 && s.c->waits == 3);
    dq_blob_cache_free(s.c);
    fix_close(&f);
}

DQ_TEST(keys)
{
    DQ_CHECK(dq_blob_key_ok("pyramids/DQ-2026-0001.tif"));
    DQ_CHECK(dq_blob_key_ok("masters/ab/abcdef0123"));
    DQ_CHECK(!dq_blob_key_ok(""));
    DQ_CHECK(!dq_blob_key_ok(NULL));
    DQ_CHECK(!dq_blob_key_ok("/etc/passwd"));
    DQ_CHECK(!dq_blob_key_ok("a/../b"));
    DQ_CHECK(!dq_blob_key_ok("../b"));
    DQ_CHECK(!dq_blob_key_ok("a//b"));
    DQ_CHECK(!dq_blob_key_ok("a/b/"));
    DQ_CHECK(!dq_blob_key_ok("a/.hidden"));
    DQ_CHECK(!dq_blob_key_ok("a b"));
    DQ_CHECK(!dq_blob_key_ok("a\\b"));
}

DQ_TEST(the_default_store_is_the_data_directory)
{
    fix_t f;
    fix_open(&f);
    dq_err_t err = {0};
    dq_blob_t *b = dq_blob_open_local(f.store);
    DQ_CHECK_STR(dq_blob_kind(b), "local");
    char *src = dq_xasprintf("%s/new.bin", f.store);
    DQ_CHECK(dq_fs_write_atomic(src, f.store, "hello", 5, &err) == 0);
    DQ_CHECK(dq_blob_put_file(b, "pyramids/x.tif", src, &err) == 0);
    DQ_CHECK(!dq_fs_exists(src)); /* renamed in, not copied */
    char *path = dq_blob_file_path(b, "pyramids/x.tif");
    char *want = dq_xasprintf("%s/pyramids/x.tif", f.store);
    DQ_CHECK_STR(path, want);
    char hex[65];
    uint64_t size = 0;
    DQ_CHECK(dq_blob_sha256(b, "pyramids/x.tif", hex, &size, &err) == 0 && size == 5);
    DQ_CHECK_STR(hex, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824");
    DQ_CHECK(dq_blob_exists(b, "pyramids/none.tif", &err) == 0);
    DQ_CHECK(dq_blob_sha256(b, "pyramids/none.tif", hex, &size, &err) < 0 &&
             err.code == DQ_ENOTFOUND);
    DQ_CHECK(dq_blob_put_file(b, "../escape", src, &err) < 0 && err.code == DQ_EINVAL);
    dq_blob_obj_t *o = dq_blob_obj_open(b, "pyramids/x.tif", &err);
    char buf[4] = "";
    DQ_CHECK(o && dq_blob_obj_read(o, buf, 3, 1, &err) == 0 && memcmp(buf, "ell", 3) == 0);
    DQ_CHECK(dq_blob_obj_read(o, buf, 3, 4, &err) < 0); /* past the end */
    dq_blob_obj_free(o);
    free(src);
    free(path);
    free(want);
    dq_blob_close(b);
    fix_close(&f);
}
