/*
 * catalog_dump.c: prints the full answer of a fixed list of searches (items, facets, totals and
 * the next_cursor of every page, three pages deep) through the C API, one JSON response per
 * line, so that two builds of danqing can be compared on the same catalog: search results,
 * facets and cursors must be identical before and after a refactor of the search code
 * (bench/catalog_compare.sh). Usage: catalog_dump DATA_DIR > answers.txt
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"

static dq_relic_query_t base(const char *text)
{
    dq_relic_query_t q = {0};
    q.q = text;
    q.has_images = -1;
    q.year_from = INT_MIN;
    q.year_to = INT_MAX;
    q.facets = 1;
    return q;
}

/* Runs q for who, then follows next_cursor for up to pages - 1 more pages. */
static int dump(dq_catalog_t *c, const char *name, dq_relic_query_t q, const dq_actor_t *who,
                int pages)
{
    char cursor[1024] = "";
    for (int p = 0; p < pages; p++) {
        dq_buf_t out = {0};
        dq_err_t err = {0};
        q.cursor = cursor[0] ? cursor : NULL;
        int rc = dq_catalog_relic_search(c, &q, who, &out, &err);
        printf("%s #%d role=%d: ", name, p, who->role);
        if (rc < 0) {
            printf("error %d %s\n", err.http_status, err.msg);
            dq_buf_free(&out);
            return 0;
        }
        printf("%s\n", out.data);
        const char *nc = strstr(out.data, "\"next_cursor\":\"");
        if (!nc) {
            dq_buf_free(&out);
            return 0;
        }
        nc += strlen("\"next_cursor\":\"");
        size_t n = strcspn(nc, "\"");
        snprintf(cursor, sizeof(cursor), "%.*s", (int)(n < sizeof(cursor) ? n : 0), nc);
        dq_buf_free(&out);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: catalog_dump DATA_DIR\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *c = dq_catalog_open(argv[1], &err);
    if (!c) {
        fprintf(stderr, "open: %s\n", err.msg);
        return 1;
    }
    static const char *const texts[] = {
        "山水",
        "溪山行旅",
        "张择端",
        "qiushan",
        "xsxl",
        "wind in the pines",
        "landscape",
        "秋山",
        "清明上河图",
        "\"Zhang Zeduan\"",
        "zhang zeduan",
        "fan",
        "handscroll",
        "宋",
        "北宋 山水",
        "松风",
        "qm",
        "autumn mountains",
        "Autumn Mountains",
        "horse",
        "horses",
        "蝴蝶",
        "Butterflies",
        "ink on silk",
    };
    static const char *const sorts[] = {NULL, "date", "-date", "accession"};
    dq_actor_t anon = {"", DQ_ROLE_ANON}, viewer = {"v", DQ_ROLE_VIEWER};
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        for (size_t s = 0; s < 4; s++) {
            dq_relic_query_t q = base(texts[i]);
            q.sort = sorts[s];
            char name[256];
            snprintf(name, sizeof(name), "q=%s sort=%s", texts[i], sorts[s] ? sorts[s] : "-");
            dump(c, name, q, &anon, s == 0 ? 3 : 2);
        }
        dq_relic_query_t q = base(texts[i]);
        q.lang = "en";
        q.dynasty = "ming";
        dump(c, "lang=en dynasty=ming", q, &viewer, 2);
    }
    dq_relic_query_t q = base(NULL);
    dump(c, "browse", q, &anon, 3);
    dump(c, "browse viewer", q, &viewer, 2);
    q.dynasty = "northern_song";
    q.object_type = "handscroll";
    dump(c, "northern_song handscroll", q, &anon, 3);
    q = base(NULL);
    q.year_from = 1100;
    q.year_to = 1200;
    q.sort = "date";
    dump(c, "years 1100-1200 date", q, &anon, 3);
    q = base(NULL);
    q.subject = "landscape";
    q.sort = "-date";
    q.has_images = 0;
    dump(c, "landscape -date no images", q, &anon, 3);
    q = base("山水");
    q.creator = "张择端";
    q.medium = "绢本设色";
    dump(c, "山水 creator medium", q, &anon, 2);
    q = base("landscape");
    q.limit = 100;
    q.facets = 0;
    dump(c, "landscape limit 100", q, &anon, 3);
    dq_catalog_close(c);
    return 0;
}
