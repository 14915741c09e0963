/*
 * hash.c: SHA-256 (through libsodium, the one file of core/ that includes it) for fixity of
 * masters, and FNV-1a for cheap in-memory keys. SHA-256 streams in 1 MiB reads so that a
 * multi-gigabyte master never sits in memory.
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

static void to_hex(const unsigned char *d, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[2 * n] = '\0';
}

int dq_sha256_file(const char *path, char hex[65], uint64_t *size, dq_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dq_err_set(err, errno == ENOENT ? DQ_ENOTFOUND : DQ_EIO, 0, "cannot open %s: %s",
                          path, strerror(errno));
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    unsigned char *chunk = dq_xmalloc(1 << 20);
    uint64_t total = 0;
    int rc = -1;
    for (;;) {
        ssize_t n = read(fd, chunk, 1 << 20);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            dq_err_set(err, DQ_EIO, 0, "cannot read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        crypto_hash_sha256_update(&st, chunk, (unsigned long long)n);
        total += (uint64_t)n;
    }
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&st, d);
    to_hex(d, sizeof(d), hex);
    if (size)
        *size = total;
    rc = 0;
out:
    free(chunk);
    close(fd);
    return rc;
}

void dq_sha256_buf(const void *data, size_t len, char hex[65])
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, data, len);
    to_hex(d, sizeof(d), hex);
}

uint64_t dq_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}
