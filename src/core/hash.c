/*
 * hash.c: SHA-256 (through OpenSSL's libcrypto, the one file of core/ that includes it) for
 * fixity of masters, pyramids and spectral bands, and a fast 64-bit hash for cheap in-memory
 * keys and ETags. SHA-256 streams in 1 MiB reads so that a multi-gigabyte master never sits
 * in memory. libcrypto rather than libsodium: its SHA-256 uses the CPU's SHA extensions where
 * there are any (1.5 GB/s here against libsodium's portable code at about a fifth of that),
 * which was 19 % of the CPU of `spectral add` on the benchmark scroll (302 MB of bands hashed
 * for fixity); the digests are the same (FIPS 180-4).
 */
#include "core.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

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
    EVP_MD_CTX *st = EVP_MD_CTX_new();
    DQ_ASSERT(st && EVP_DigestInit_ex(st, EVP_sha256(), NULL) == 1);
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
        DQ_ASSERT(EVP_DigestUpdate(st, chunk, (size_t)n) == 1);
        total += (uint64_t)n;
    }
    unsigned char d[32];
    unsigned int dn = 0;
    DQ_ASSERT(EVP_DigestFinal_ex(st, d, &dn) == 1 && dn == sizeof(d));
    to_hex(d, sizeof(d), hex);
    if (size)
        *size = total;
    rc = 0;
out:
    EVP_MD_CTX_free(st);
    free(chunk);
    close(fd);
    return rc;
}

void dq_sha256_buf(const void *data, size_t len, char hex[65])
{
    unsigned char d[32];
    unsigned int dn = 0;
    DQ_ASSERT(EVP_Digest(data, len, d, &dn, EVP_sha256(), NULL) == 1 && dn == sizeof(d));
    to_hex(d, sizeof(d), hex);
}

/* Eight bytes per step in four independent lanes (32 bytes per round), each lane a
 * multiply-xorshift chain, then Murmur3's 64-bit finaliser so that every input bit reaches
 * the low bits hash tables use. The byte-at-a-time FNV-1a it replaces was 14% of the CPU of
 * an uncached tile (bench/profile.sh tiles-nocache): the server hashes every body for its
 * ETag. Values are host-endian and not stored anywhere that outlives the process, except
 * as a cache stamp that a change only invalidates. */
static inline uint64_t load64(const unsigned char *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof w);
    return w;
}

static inline uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

uint64_t dq_hash64(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h[4] = {1469598103934665603ULL, 0x6A09E667F3BCC909ULL, 0xBB67AE8584CAA73BULL,
                     0x3C6EF372FE94F82BULL};
    size_t n = len;
    for (; n >= 32; n -= 32, p += 32)
        for (int i = 0; i < 4; i++)
            h[i] = mix(h[i], load64(p + 8 * i));
    uint64_t r = h[0] ^ (h[1] * 3) ^ (h[2] * 5) ^ (h[3] * 7) ^ len;
    for (; n >= 8; n -= 8, p += 8)
        r = mix(r, load64(p));
    if (n) {
        unsigned char tail[8] = {0};
        memcpy(tail, p, n);
        r = mix(r, load64(tail) ^ ((uint64_t)n << 59));
    }
    r ^= r >> 33;
    r *= 0xFF51AFD7ED558CCDULL;
    r ^= r >> 33;
    r *= 0xC4CEB9FE1A85EC53ULL;
    r ^= r >> 33;
    return r;
}
