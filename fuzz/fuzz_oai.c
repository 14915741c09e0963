/*
 * fuzz_oai.c: libFuzzer entry for the OAI-PMH request parser (lod/oai.c), the code that
 * reads what a harvester sends to /oai as a query string or form body. Each input is parsed;
 * the invariants below are checked with abort() so that libFuzzer reports them:
 *   - the result is one of the §3.6 codes, with a message when it is an error;
 *   - a request that parsed has a verb, and a list or GetRecord request has a format;
 *   - the resumption token of a parsed list request parses back to the same request
 *     (prefix, set, from, until, cursor, last id), and writing the envelope and a header
 *     for it does not fault.
 */
#include "lod/lod.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    dq_oai_req_t r, back;
    char msg[256];
    int code = dq_oai_parse((const char *)data, size, &r, msg, sizeof(msg));
    CHECK(code >= DQ_OAI_OK && code <= DQ_OAI_NO_SET_HIERARCHY);
    if (code != DQ_OAI_OK) {
        CHECK(msg[0] != '\0');
        return 0;
    }
    CHECK(r.verb >= DQ_OAI_IDENTIFY && r.verb <= DQ_OAI_GET_RECORD);
    if (r.verb == DQ_OAI_LIST_RECORDS || r.verb == DQ_OAI_LIST_IDENTIFIERS ||
        r.verb == DQ_OAI_GET_RECORD)
        CHECK(r.prefix == DQ_OAI_DC || r.prefix == DQ_OAI_LIDO);
    dq_buf_t b = {0};
    dq_oai_open(&b, "http://h", "2026-01-01T00:00:00Z", &r, DQ_OAI_OK);
    dq_oai_close(&b);
    if ((r.verb == DQ_OAI_LIST_RECORDS || r.verb == DQ_OAI_LIST_IDENTIFIERS) && r.set_kind >= 0) {
        dq_buf_t q = {0};
        dq_buf_printf(&q, "verb=%s&resumptionToken=", r.echo_verb);
        dq_oai_token(&r, "dq-2026-0001", r.cursor + 1, &q);
        CHECK(dq_oai_parse(q.data, q.len, &back, msg, sizeof(msg)) == DQ_OAI_OK);
        CHECK(back.prefix == r.prefix && back.set_kind == r.set_kind);
        CHECK(strcmp(back.set_key, r.set_key) == 0 && strcmp(back.from, r.from) == 0 &&
              strcmp(back.until, r.until) == 0 && back.cursor == r.cursor + 1);
        CHECK(strcmp(back.after, "dq-2026-0001") == 0);
        dq_buf_free(&q);
    }
    dq_buf_free(&b);
    return 0;
}
