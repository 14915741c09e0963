/*
 * fuzz_s3xml.c: libFuzzer entry for blob/s3_xml.c, which reads S3's XML answers (a network
 * peer's bytes). The first input byte picks the tag and the output buffer size. Invariants:
 * never a read past the input (ASan), the output NUL-terminated within the buffer and never
 * longer than the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blob/blob_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tags[] = {"UploadId", "ETag", "Code", "Message"};
    if (size < 1)
        return 0;
    const char *tag = tags[data[0] & 3];
    size_t cap = 1 + (data[0] >> 2);
    char *copy = malloc(size - 1 ? size - 1 : 1); /* exactly the input: ASan sees overreads */
    memcpy(copy, data + 1, size - 1);
    char *out = malloc(cap);
    if (dq_s3_xml_text(copy, size - 1, tag, out, cap) == 0) {
        size_t n = strnlen(out, cap);
        if (n == cap || n > size) {
            fprintf(stderr, "output of %zu bytes from %zu (cap %zu)\n", n, size, cap);
            abort();
        }
    }
    free(out);
    free(copy);
    return 0;
}
