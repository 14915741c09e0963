/*
 * core/base64.c: RFC 4648 §4 base64 decoding, for bodies that carry binary data in JSON (the
 * curator's scene layers as PNG data URLs, issue 14). Decoding only; strict about the alphabet
 * and padding, bounded in output. No dependencies beyond buf.
 */
#include "core/core.h"

/* The 6-bit value of one base64 character, -1 for '=' (padding), -2 for anything else. */
static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return ch == '=' ? -1 : -2;
}

int dq_base64_decode(const char *src, size_t len, dq_buf_t *out, size_t max_out)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0, start = out->len;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)src[i]);
        if (v == -1) {
            pad++;
            continue;
        }
        if (v < 0 || pad)
            return -1; /* outside the alphabet, or data after padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out->len - start >= max_out)
                return -1;
            dq_buf_putc(out, (char)((acc >> bits) & 0xff));
        }
    }
    /* 2 or 4 leftover bits are the zero fill of the last quantum (§4); 6 means a lone
     * character, which encodes nothing; more than two '=' is never padding. */
    return bits >= 6 || pad > 2 ? -1 : 0;
}
