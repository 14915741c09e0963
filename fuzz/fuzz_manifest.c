/*
 * fuzz_manifest.c: libFuzzer entry for lod/harvest.c's dq_lod_manifest_to_relic, which maps
 * another institution's IIIF Manifest (Presentation 3.0, or 2.1 upgraded on the way: bytes
 * from a network peer) to a relic document for `danqing harvest`. Invariants, checked with
 * abort(): a failure appends nothing and says why; a success appends one JSON object line with
 * a string id, a title object and a remote block naming the manifest.
 */
#include "lod/lod.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    static const char vocab[] = "[{\"key\":\"song\",\"zh\":\"宋\",\"en\":\"Song\"}]";
    dq_lod_ctx_t ctx = {.dynasties_json = vocab, .object_types_json = vocab,
                        .subjects_json = vocab};
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_lod_manifest_to_relic((const char *)data, size, "http://h/m", "http://h/c", &ctx, &out,
                                 &err) < 0) {
        CHECK(out.len == 0 && err.msg[0]);
    } else {
        CHECK(out.len > 1 && out.data[out.len - 1] == '\n');
        json_t *j = json_loadb(out.data, out.len - 1, 0, NULL);
        CHECK(json_is_object(j) && json_is_string(json_object_get(j, "id")) &&
              json_is_object(json_object_get(j, "title")) &&
              json_is_string(json_object_get(json_object_get(j, "remote"), "manifest")));
        json_decref(j);
    }
    dq_buf_free(&out);
    return 0;
}
