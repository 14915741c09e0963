/*
 * buf.c: a growable byte buffer that keeps a NUL after its contents. Growth doubles, so
 * appends are amortised O(1); the buffer owns its memory until dq_buf_steal hands it over.
 */
#include "core.h"

#include <stdlib.h>
#include <string.h>

void dq_buf_reserve(dq_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = dq_xrealloc(b->data, cap);
    b->cap = cap;
}

void dq_buf_append(dq_buf_t *b, const void *data, size_t len)
{
    dq_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void dq_buf_puts(dq_buf_t *b, const char *s) { dq_buf_append(b, s, strlen(s)); }

void dq_buf_putc(dq_buf_t *b, char c) { dq_buf_append(b, &c, 1); }

void dq_buf_put_u64(dq_buf_t *b, uint64_t v)
{
    char tmp[20]; /* UINT64_MAX has 20 digits */
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    dq_buf_append(b, tmp + i, sizeof tmp - i);
}

void dq_buf_vprintf(dq_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    DQ_ASSERT(n >= 0);
    if ((size_t)n < sizeof(small)) {
        dq_buf_append(b, small, (size_t)n);
    } else {
        dq_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void dq_buf_printf(dq_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    dq_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void dq_buf_pct_encode(dq_buf_t *b, const char *s, size_t len, const char *keep)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            (c && strchr(keep, c))) {
            dq_buf_putc(b, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            dq_buf_append(b, e, 3);
        }
    }
}

void dq_buf_url_segment(dq_buf_t *b, const char *s)
{
    dq_buf_pct_encode(b, s, strlen(s), DQ_PCT_RFC3986);
}

void dq_buf_json_str(dq_buf_t *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"':
            dq_buf_append(b, "\\\"", 2);
            break;
        case '\\':
            dq_buf_append(b, "\\\\", 2);
            break;
        case '\n':
            dq_buf_append(b, "\\n", 2);
            break;
        case '\r':
            dq_buf_append(b, "\\r", 2);
            break;
        case '\t':
            dq_buf_append(b, "\\t", 2);
            break;
        default:
            if (c < 0x20) {
                char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
                dq_buf_append(b, e, 6);
            } else {
                dq_buf_putc(b, (char)c);
            }
        }
    }
}

void dq_buf_reset(dq_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *dq_buf_steal(dq_buf_t *b, size_t *len)
{
    if (!b->data)
        dq_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    if (len)
        *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}

void dq_buf_free(dq_buf_t *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
