/*
 * fuzz_oai_read.c: libFuzzer entry for lod/oai_read.c, which reads another repository's
 * OAI-PMH answers for `danqing harvest` (a network peer's bytes, parsed by libxml2 and mapped
 * to relic documents). Invariants, checked with abort(): a failed read leaves the page empty;
 * a read page holds only records with an identifier string, each either deleted (no
 * document), mapped (one JSON object line) or with an error message; and freeing it twice is
 * safe.
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
    dq_lod_ctx_t ctx = {.dynasties_json = vocab, .object_types_json = "[]",
                        .subjects_json = NULL};
    dq_oai_page_t p;
    dq_err_t err = {0};
    const char *prefix = size && (data[0] & 1) ? "lido" : "oai_dc";
    if (dq_lod_oai_read((const char *)data, size, "http://h/oai", prefix, &ctx, &p, &err) < 0) {
        CHECK(p.n_recs == 0 && !p.recs && !p.token && err.msg[0]);
        return 0;
    }
    for (size_t i = 0; i < p.n_recs; i++) {
        const dq_oai_rec_t *r = &p.recs[i];
        CHECK(r->identifier && r->datestamp);
        if (r->deleted) {
            CHECK(!r->doc);
        } else if (r->doc) {
            json_t *j = json_loads(r->doc, 0, NULL);
            CHECK(json_is_object(j) && json_is_object(json_object_get(j, "title")));
            json_decref(j);
        } else {
            CHECK(r->error && r->error[0]);
        }
    }
    dq_lod_oai_page_free(&p);
    dq_lod_oai_page_free(&p);
    return 0;
}
