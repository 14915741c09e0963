/*
 * str.c: small string helpers for parsing untrusted text: percent-decoding that rejects
 * malformed escapes and NUL bytes (so "..%2F" and "%00" cannot sneak past a later check),
 * and strict decimal parsing without sign, blanks or overflow.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *dq_str_pct_decode(const char *src, size_t len, dq_err_t *err)
{
    char *out = dq_xmalloc(len + 1);
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = src[i];
        if (c == '%') {
            if (len - i < 3) { /* fewer than two characters follow the '%' */
                free(out);
                dq_err_set(err, DQ_EINVAL, 400, "truncated percent escape");
                return NULL;
            }
            int h = hexval(src[i + 1]), l = hexval(src[i + 2]);
            if (h < 0 || l < 0) {
                free(out);
                dq_err_set(err, DQ_EINVAL, 400, "bad percent escape");
                return NULL;
            }
            c = (char)(h * 16 + l);
            if (c == '\0') {
                free(out);
                dq_err_set(err, DQ_EINVAL, 400, "encoded NUL byte");
                return NULL;
            }
            i += 2;
        } else if (c == '\0') {
            free(out);
            dq_err_set(err, DQ_EINVAL, 400, "NUL byte");
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

int dq_str_starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int dq_str_to_u64(const char *s, size_t len, uint64_t *out)
{
    if (len == 0 || len > 19)
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}
