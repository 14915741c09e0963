/*
 * fuzz_iiif_auth.c: libFuzzer entry for the IIIF Authorization Flow 2.0 token service's
 * query parser and page (iiif/auth.c, issue 16): the messageId and origin any web page can
 * put in the token service's URL. The input is split at its first NUL byte (no NUL: all of
 * it is the messageId, with a fixed origin). Invariants, checked with abort(): the parser
 * accepts only an origin that dq_iiif_auth_origin_check accepts again; a valid messageId is
 * at most 255 bytes; and the page built from whatever was accepted has exactly the two
 * script elements we write, its data block parses as JSON, and the messageId read back from
 * it is the one decoded.
 */
#include "iiif/iiif.h"

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
    char *in = malloc(size + 1);
    memcpy(in, data, size);
    in[size] = '\0';
    const char *mid = in;
    const char *origin = memchr(data, 0, size) ? in + strlen(in) + 1 : "http%3A%2F%2Fa.example";
    dq_iiif_auth_query_t q;
    dq_err_t err = {0};
    int rc = dq_iiif_auth_query_parse(mid, origin, &q, &err);
    CHECK(rc == 0 ? q.has_message_id && q.has_origin : err.http_status == 400);
    if (q.has_origin)
        CHECK(dq_iiif_auth_origin_check(q.origin, strlen(q.origin), NULL));
    if (q.has_message_id)
        CHECK(strlen(q.message_id) >= 1 && strlen(q.message_id) <= DQ_IIIF_AUTH_MESSAGE_ID_MAX);
    dq_buf_t msg = {0}, page = {0};
    dq_iiif_auth_token_error(q.has_message_id ? q.message_id : "", "invalidRequest", &msg);
    dq_iiif_auth_token_page(msg.data, q.has_origin ? q.origin : NULL, &page);
    if (q.has_origin) {
        int n = 0;
        for (const char *p = page.data; (p = strstr(p, "</script")); p++)
            n++;
        CHECK(n == 2);
        const char *open = "<script type=\"application/json\" id=\"m\">";
        const char *a = strstr(page.data, open);
        CHECK(a);
        a += strlen(open);
        const char *e = strstr(a, "</script>");
        json_t *j = json_loadb(a, (size_t)(e - a), 0, NULL);
        CHECK(json_is_object(j));
        const char *got =
            json_string_value(json_object_get(json_object_get(j, "message"), "messageId"));
        CHECK(got && strcmp(got, q.has_message_id ? q.message_id : "") == 0);
        json_decref(j);
    }
    dq_buf_free(&msg);
    dq_buf_free(&page);
    free(in);
    return 0;
}
