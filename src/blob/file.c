/*
 * blob/file.c: the file-system stores. The default one is the data directory: put_file renames
 * a file from DATA/tmp/ into place with dq_fs_commit, exactly what ingest did before the store
 * existed. A shared POSIX mount uses the same layout under its own root, but a file made in
 * DATA/tmp/ may live on another file system, where rename(2) fails (EXDEV): so there the file
 * is first copied to ROOT/tmp/, fsynced, and renamed within the mount. Readers of a file store
 * open the file itself (dq_blob_file_path); read/stream here serve fixity and migrate.
 */
#define _GNU_SOURCE
#include "blob/blob_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *root;
    int rename_in; /* 1: src is on root's file system (the data directory) */
} file_store_t;

void *dq_blob_file_new(const char *root, int rename_in)
{
    file_store_t *f = dq_xcalloc(1, sizeof(*f));
    f->root = dq_xstrdup(root);
    f->rename_in = rename_in;
    return f;
}

static char *file_path(void *self, const char *key)
{
    file_store_t *f = self;
    return dq_xasprintf("%s/%s", f->root, key);
}

static int mkparents(const char *path, dq_err_t *err)
{
    char *p = dq_xstrdup(path);
    int rc = dq_fs_mkdirs(dirname(p), err);
    free(p);
    return rc;
}

static int file_put(void *self, const char *key, const char *src, dq_err_t *err)
{
    file_store_t *f = self;
    char *dst = file_path(self, key), *tmp_dir = NULL, *tmp = NULL;
    int rc = -1;
    if (mkparents(dst, err) < 0)
        goto out;
    if (f->rename_in) {
        rc = dq_fs_commit(src, dst, err);
        goto out;
    }
    tmp_dir = dq_xasprintf("%s/tmp", f->root);
    if (dq_fs_mkdirs(tmp_dir, err) < 0)
        goto out;
    tmp = dq_xasprintf("%s/.put.%ld.XXXXXX", tmp_dir, (long)getpid());
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot create a file in %s: %s", tmp_dir, strerror(errno));
        free(tmp);
        tmp = NULL;
        goto out;
    }
    close(fd);
    if (dq_fs_copy(src, tmp, err) < 0 || dq_fs_commit(tmp, dst, err) < 0) {
        unlink(tmp);
        goto out;
    }
    rc = 0;
out:
    free(dst);
    free(tmp_dir);
    free(tmp);
    return rc;
}

static int file_stat(void *self, const char *key, uint64_t *size, char tag[128], dq_err_t *err)
{
    char *p = file_path(self, key);
    struct stat st;
    int rc = stat(p, &st);
    int e = errno;
    free(p);
    if (rc < 0)
        return dq_err_set(err, e == ENOENT ? DQ_ENOTFOUND : DQ_EIO, e == ENOENT ? 404 : 500,
                          "%s: %s", key, strerror(e));
    if (size)
        *size = (uint64_t)st.st_size;
    if (tag)
        snprintf(tag, 128, "%llx:%llx:%lld.%09ld", (unsigned long long)st.st_dev,
                 (unsigned long long)st.st_ino, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    return 0;
}

static int file_read(void *self, const char *key, const char *tag, uint64_t off, size_t len,
                     void *dst, dq_err_t *err)
{
    (void)tag;
    char *p = file_path(self, key);
    int fd = open(p, O_RDONLY | O_CLOEXEC), rc = -1;
    if (fd < 0) {
        dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, 0, "%s: %s", key, strerror(errno));
        goto out;
    }
    size_t got = 0;
    while (got < len) {
        ssize_t n = pread(fd, (char *)dst + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            dq_err_set(err, DQ_EIO, 0, "%s: short read at %llu", key,
                       (unsigned long long)(off + got));
            goto out;
        }
        got += (size_t)n;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(p);
    return rc;
}

static int file_stream(void *self, const char *key,
                       int (*sink)(void *ud, const void *data, size_t len), void *ud, dq_err_t *err)
{
    char *p = file_path(self, key);
    char *chunk = dq_xmalloc(1 << 20);
    int fd = open(p, O_RDONLY | O_CLOEXEC), rc = -1;
    if (fd < 0) {
        dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, errno == ENOENT ? 404 : 500,
                   "%s: %s", key, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(fd, chunk, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", key, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (sink(ud, chunk, (size_t)n) < 0) {
            dq_err_set(err, DQ_EIO, 0, "%s: consumer failed", key);
            goto out;
        }
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    free(chunk);
    free(p);
    return rc;
}

static int file_remove(void *self, const char *key, dq_err_t *err)
{
    char *p = file_path(self, key);
    int rc = unlink(p) < 0 && errno != ENOENT
                 ? dq_err_set(err, DQ_EIO, 0, "cannot remove %s: %s", key, strerror(errno))
                 : 0;
    free(p);
    return rc;
}

static void file_close(void *self)
{
    file_store_t *f = self;
    if (!f)
        return;
    free(f->root);
    free(f);
}

const dq_blob_ops_t dq_blob_file_ops = {
    .put_file = file_put,
    .stat = file_stat,
    .read = file_read,
    .stream = file_stream,
    .remove = file_remove,
    .file_path = file_path,
    .close = file_close,
};
