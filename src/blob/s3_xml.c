/*
 * blob/s3_xml.c: reads the few fields danqing needs out of S3's XML answers (UploadId of
 * CreateMultipartUpload, ETag of CompleteMultipartUpload, Code and Message of an <Error>). The
 * answers come from the network, so this is a bounded text search, not an XML parser: the
 * first <tag>...</tag>, with the five predefined entities (XML 1.0 section 4.6) decoded. Pure,
 * no I/O, no allocation; fuzzed by fuzz/fuzz_s3xml.c.
 */
#define _GNU_SOURCE
#include "blob/blob_internal.h"

#include <string.h>

int dq_s3_xml_text(const char *xml, size_t xml_len, const char *tag, char *out, size_t cap)
{
    char open[80], close[80];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *p = memmem(xml, xml_len, open, strlen(open));
    if (!p || cap == 0)
        return -1;
    p += strlen(open);
    const char *e = memmem(p, xml_len - (size_t)(p - xml), close, strlen(close));
    if (!e)
        return -1;
    static const struct {
        const char *ent;
        char c;
    } ents[] = {{"&quot;", '"'}, {"&amp;", '&'},   {"&lt;", '<'},
                {"&gt;", '>'},   {"&apos;", '\''}, {"&#34;", '"'}};
    size_t o = 0;
    while (p < e && o + 1 < cap) {
        char c = *p++;
        if (c == '&') {
            for (size_t i = 0; i < DQ_ARRAY_LEN(ents); i++) {
                size_t n = strlen(ents[i].ent);
                if ((size_t)(e - (p - 1)) >= n && memcmp(p - 1, ents[i].ent, n) == 0) {
                    c = ents[i].c;
                    p += n - 1;
                    break;
                }
            }
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return 0;
}
