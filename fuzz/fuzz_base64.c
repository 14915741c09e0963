/*
 * fuzz_base64.c: libFuzzer entry for core/base64.c, the decoder behind request bodies that
 * carry PNG data URLs (POST /api/images/{id}/scene, issue 14). Invariants: the output never
 * exceeds the bound nor 3/4 of the input, and a success decodes only alphabet characters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/core.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    dq_buf_t out = {0};
    size_t max = size ? data[0] : 0;
    int rc = dq_base64_decode((const char *)data, size, &out, max);
    if (out.len > max || out.len > size * 3 / 4 + 3) {
        fprintf(stderr, "decoded %zu bytes from %zu (max %zu)\n", out.len, size, max);
        abort();
    }
    (void)rc;
    dq_buf_free(&out);
    return 0;
}
