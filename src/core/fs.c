/*
 * fs.c: file-system helpers with crash safety in mind. Every durable write goes
 * "temporary file, fsync, rename, fsync of the directory": after a crash at any instant
 * the reader sees the old file or the new one, never a torn one (POSIX rename is atomic
 * within one file system, and the directory fsync makes the rename itself durable).
 */
#define _GNU_SOURCE
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int dq_fs_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int dq_fs_mkdirs(const char *path, dq_err_t *err)
{
    char *p = dq_xstrdup(path);
    int rc = -1;
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(p, 0755) < 0 && errno != EEXIST) {
                dq_err_set(err, DQ_EIO, 0, "cannot create directory %s: %s", p, strerror(errno));
                goto out;
            }
            *s = c;
            if (c == '\0')
                break;
        }
    }
    rc = 0;
out:
    free(p);
    return rc;
}

int dq_fs_read_file(const char *path, size_t max_len, dq_buf_t *buf, dq_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, 0, "cannot open %s: %s",
                          path, strerror(errno));
    size_t start = buf->len;
    for (;;) {
        dq_buf_reserve(buf, 65536);
        ssize_t n = read(fd, buf->data + buf->len, 65536);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            close(fd);
            return dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", path, strerror(errno));
        }
        if (n == 0)
            break;
        buf->len += (size_t)n;
        buf->data[buf->len] = '\0';
        if (buf->len - start > max_len) {
            close(fd);
            return dq_err_set(err, DQ_ELIMIT, 0, "%s is larger than %zu bytes", path, max_len);
        }
    }
    close(fd);
    return 0;
}

int dq_fs_fsync_path(const char *path, dq_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dq_err_set(err, DQ_EIO, 0, "cannot open %s: %s", path, strerror(errno));
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc < 0 && e != EINVAL) /* some file systems refuse fsync on directories */
        return dq_err_set(err, DQ_EIO, 0, "fsync %s: %s", path, strerror(e));
    return 0;
}

int dq_fs_fsync_parent(const char *path, dq_err_t *err)
{
    char *p = dq_xstrdup(path);
    int rc = dq_fs_fsync_path(dirname(p), err);
    free(p);
    return rc;
}

int dq_fs_commit(const char *tmp_path, const char *final_path, dq_err_t *err)
{
    if (dq_fs_fsync_path(tmp_path, err) < 0)
        return -1;
    if (rename(tmp_path, final_path) < 0)
        return dq_err_set(err, DQ_EIO, 0, "rename %s -> %s: %s", tmp_path, final_path,
                          strerror(errno));
    return dq_fs_fsync_parent(final_path, err);
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int dq_fs_write_atomic(const char *path, const char *tmp_dir, const void *data, size_t len,
                       dq_err_t *err)
{
    char *tmp = dq_xasprintf("%s/.write.XXXXXX", tmp_dir);
    int rc = -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot create a temporary file in %s: %s", tmp_dir,
                   strerror(errno));
        goto out;
    }
    if (write_all(fd, data, len) < 0 || fsync(fd) < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    close(fd);
    if (rename(tmp, path) < 0) {
        dq_err_set(err, DQ_EIO, 0, "rename %s -> %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    rc = dq_fs_fsync_parent(path, err);
out:
    free(tmp);
    return rc;
}

int dq_fs_copy(const char *src, const char *dst, dq_err_t *err)
{
    int in = -1, out_fd = -1, rc = -1;
    char *chunk = dq_xmalloc(1 << 20);
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot open %s: %s", src, strerror(errno));
        goto out;
    }
    out_fd = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out_fd < 0) {
        dq_err_set(err, DQ_EIO, 0, "cannot create %s: %s", dst, strerror(errno));
        goto out;
    }
    for (;;) {
        ssize_t n = read(in, chunk, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", src, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        if (write_all(out_fd, chunk, (size_t)n) < 0) {
            dq_err_set(err, DQ_EIO, 0, "cannot write %s: %s", dst, strerror(errno));
            goto out;
        }
    }
    if (fsync(out_fd) < 0) {
        dq_err_set(err, DQ_EIO, 0, "fsync %s: %s", dst, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (in >= 0)
        close(in);
    if (out_fd >= 0)
        close(out_fd);
    free(chunk);
    return rc;
}
