/* Unit tests of core/: buffers, JSON escaping, percent-decoding, atomic writes, hashing. */
#include "../../../src/core/core.h"
#include "../../dq_test.h"

#include <sys/stat.h>

DQ_TEST(buf_grows_and_terminates)
{
    dq_buf_t b = {0};
    for (int i = 0; i < 1000; i++)
        dq_buf_printf(&b, "%d,", i);
    DQ_CHECK(b.len == strlen(b.data));
    DQ_CHECK(dq_str_starts(b.data, "0,1,2,"));
    DQ_CHECK(strstr(b.data, "999,") != NULL);
    dq_buf_free(&b);
}

DQ_TEST(buf_put_u64_writes_what_printf_writes)
{
    uint64_t v[] = {0, 7, 10, 255, 4294967295u, 1234567890123ull, UINT64_MAX};
    for (size_t i = 0; i < DQ_ARRAY_LEN(v); i++) {
        dq_buf_t a = {0}, b = {0};
        dq_buf_puts(&a, "x");
        dq_buf_put_u64(&a, v[i]);
        dq_buf_printf(&b, "x%llu", (unsigned long long)v[i]);
        DQ_CHECK_STR(a.data, b.data);
        DQ_CHECK(a.len == b.len);
        dq_buf_free(&a);
        dq_buf_free(&b);
    }
}

DQ_TEST(json_escapes_controls_and_quotes)
{
    dq_buf_t b = {0};
    dq_buf_json_str(&b, "a\"b\\c\n\x01山", strlen("a\"b\\c\n\x01山"));
    DQ_CHECK_STR(b.data, "a\\\"b\\\\c\\n\\u0001山");
    dq_buf_free(&b);
}

DQ_TEST(pct_decode_accepts_and_rejects)
{
    dq_err_t err = {0};
    char *s = dq_str_pct_decode("a%2Fb%2d", 8, &err);
    DQ_CHECK_STR(s, "a/b-");
    free(s);
    DQ_CHECK(dq_str_pct_decode("a%2", 3, &err) == NULL);
    DQ_CHECK(err.http_status == 400);
    DQ_CHECK(dq_str_pct_decode("a%", 2, &err) == NULL);
    DQ_CHECK(dq_str_pct_decode("a%zz", 4, &err) == NULL);
    DQ_CHECK(dq_str_pct_decode("a%00b", 5, &err) == NULL);
}

DQ_TEST(u64_parse_is_strict)
{
    uint64_t v;
    DQ_CHECK(dq_str_to_u64("123", 3, &v) == 0 && v == 123);
    DQ_CHECK(dq_str_to_u64("", 0, &v) < 0);
    DQ_CHECK(dq_str_to_u64("-1", 2, &v) < 0);
    DQ_CHECK(dq_str_to_u64("1 ", 2, &v) < 0);
    DQ_CHECK(dq_str_to_u64("99999999999999999999", 20, &v) < 0);
}

DQ_TEST(atomic_write_and_sha256)
{
    char *dir = dq_test_tmpdir("dqtest");
    char *path = dq_xasprintf("%s/sub/x.txt", dir);
    char *sub = dq_xasprintf("%s/sub", dir);
    dq_err_t err = {0};
    DQ_REQUIRE(dq_fs_mkdirs(sub, &err) == 0);
    DQ_REQUIRE(dq_fs_write_atomic(path, sub, "abc", 3, &err) == 0);
    char hex[65];
    uint64_t size = 0;
    DQ_REQUIRE(dq_sha256_file(path, hex, &size, &err) == 0);
    DQ_CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    DQ_CHECK(size == 3);
    dq_sha256_buf("abc", 3, hex);
    DQ_CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    DQ_CHECK(dq_sha256_file("/nonexistent/file", hex, NULL, &err) < 0);
    DQ_CHECK(err.code == DQ_ENOTFOUND);
    dq_buf_t b = {0};
    DQ_CHECK(dq_fs_read_file(path, 2, &b, &err) < 0 && err.code == DQ_ELIMIT);
    dq_buf_free(&b);
    free(path);
    free(sub);
    free(dir);
}

DQ_TEST(hash64_sees_every_bit_and_spreads_low_bits)
{
    unsigned char a[160], b[161];
    for (size_t i = 0; i < sizeof a; i++)
        a[i] = (unsigned char)(i * 37 + 11);
    /* Every length, every bit flipped: a different hash; the same bytes at another address
     * (unaligned): the same hash. */
    int missed = 0;
    for (size_t len = 0; len <= 130; len++) {
        uint64_t h = dq_hash64(a, len);
        memcpy(b + 1, a, len);
        missed += dq_hash64(b + 1, len) != h;
        for (size_t i = 0; i < len; i++)
            for (int bit = 0; bit < 8; bit++) {
                a[i] ^= (unsigned char)(1u << bit);
                missed += dq_hash64(a, len) == h;
                a[i] ^= (unsigned char)(1u << bit);
            }
    }
    DQ_CHECK_INT(missed, 0);
    /* Runs of zero bytes differ by length. */
    memset(a, 0, sizeof a);
    for (size_t len = 1; len < 70; len++)
        missed += dq_hash64(a, len) == dq_hash64(a, len - 1);
    DQ_CHECK_INT(missed, 0);
    /* The low 12 bits of 4,096 similar keys, as a hash table uses them: no crowded bucket. */
    static unsigned char load[4096];
    int worst = 0;
    for (int k = 0; k < 4096; k++) {
        char key[32];
        int n = snprintf(key, sizeof key, "/iiif/3/img%d/info.json", k);
        int l = ++load[dq_hash64(key, (size_t)n) & 4095];
        worst = l > worst ? l : worst;
    }
    DQ_CHECK(worst <= 10);
}
