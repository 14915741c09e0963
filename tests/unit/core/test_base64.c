/*
 * test_base64.c: core/base64.c. The test vectors of RFC 4648 §10, padding optional, and each
 * class of bad input (a character outside the alphabet, data after padding, a lone trailing
 * character, too many '=', output over the bound) refused.
 */
#include "dq_test.h"

#include <string.h>

#include "core/core.h"

static int dec(const char *in, char *out, size_t cap, size_t max)
{
    dq_buf_t b = {0};
    int rc = dq_base64_decode(in, strlen(in), &b, max);
    snprintf(out, cap, "%.*s", (int)b.len, b.data ? b.data : "");
    dq_buf_free(&b);
    return rc;
}

DQ_TEST(rfc4648_vectors)
{
    static const char *const v[][2] = {{"", ""},
                                       {"Zg==", "f"},
                                       {"Zm8=", "fo"},
                                       {"Zm9v", "foo"},
                                       {"Zm9vYg==", "foob"},
                                       {"Zm9vYmE=", "fooba"},
                                       {"Zm9vYmFy", "foobar"},
                                       {"Zm9vYg", "foob"}};
    char out[64];
    for (size_t i = 0; i < DQ_ARRAY_LEN(v); i++) {
        DQ_CHECK(dec(v[i][0], out, sizeof(out), 64) == 0);
        DQ_CHECK_STR(out, v[i][1]);
    }
}

DQ_TEST(bad_input_refused)
{
    char out[64];
    DQ_CHECK(dec("Zm9v!", out, sizeof(out), 64) < 0);    /* outside the alphabet */
    DQ_CHECK(dec("Zg==Zg==", out, sizeof(out), 64) < 0); /* data after padding */
    DQ_CHECK(dec("Zm9vY", out, sizeof(out), 64) < 0);    /* a lone trailing character */
    DQ_CHECK(dec("Zg===", out, sizeof(out), 64) < 0);    /* three '=' */
    DQ_CHECK(dec("Zm9 v", out, sizeof(out), 64) < 0);    /* no white space */
    DQ_CHECK(dec("Zm9vYmFy", out, sizeof(out), 5) < 0);  /* over the bound */
    DQ_CHECK(dec("Zm9vYmFy", out, sizeof(out), 6) == 0); /* exactly the bound */
}
