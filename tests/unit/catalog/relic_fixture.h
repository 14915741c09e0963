/*
 * relic_fixture.h: shared set-up of the relic tests: a fresh data dir, a catalog, actors of
 * each role and a helper that creates a relic from JSON text and returns its id.
 */
#ifndef DQ_RELIC_FIXTURE_H
#define DQ_RELIC_FIXTURE_H

#include "dq_test.h"
#include "dq_pg_test.h"

#include "catalog/catalog.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const dq_actor_t anon = {"", DQ_ROLE_ANON};
static const dq_actor_t viewer = {"vera", DQ_ROLE_VIEWER};
static const dq_actor_t curator = {"cora", DQ_ROLE_CURATOR};

static dq_catalog_t *fx_open(void)
{
    char *d = dq_test_tmpdir("dq_relic");
    char *dir = dq_xasprintf("%s/data", d);
    free(d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    if (!c)
        fprintf(stderr, "open: %s\n", err.msg);
    DQ_REQUIRE(c != NULL);
    free(dir);
    return c;
}

/* Creates a relic; returns its id (new string). */
__attribute__((unused)) static char *fx_create(dq_catalog_t *c, const char *json)
{
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int r = dq_catalog_relic_create(c, json, strlen(json), &curator, &out, &fe, &err);
    if (r < 0)
        fprintf(stderr, "create failed: %s %s\n", err.msg, fe.data ? fe.data : "");
    DQ_REQUIRE(r == 0);
    const char *p = strstr(out.data, "\"id\":\"");
    DQ_REQUIRE(p);
    p += 6;
    char *id = dq_xstrndup(p, (size_t)(strchr(p, '"') - p));
    dq_buf_free(&out);
    dq_buf_free(&fe);
    return id;
}

/* A fresh catalog holding one relic per document of docs (a test's small collection). */
__attribute__((unused)) static dq_catalog_t *fx_collection(const char *const *docs, size_t n)
{
    dq_catalog_t *c = fx_open();
    for (size_t i = 0; i < n; i++)
        free(fx_create(c, docs[i]));
    return c;
}

__attribute__((unused)) static dq_relic_query_t fx_query(const char *q)
{
    dq_relic_query_t x = {0};
    x.q = q;
    x.has_images = -1;
    x.year_from = INT_MIN;
    x.year_to = INT_MAX;
    return x;
}

/* Runs a search and returns the response (new string; NULL on error, err filled). */
__attribute__((unused)) static char *fx_search(dq_catalog_t *c, const dq_relic_query_t *q, const dq_actor_t *who,
                       dq_err_t *err)
{
    dq_buf_t out = {0};
    if (dq_catalog_relic_search(c, q, who, &out, err) < 0) {
        dq_buf_free(&out);
        return NULL;
    }
    return dq_buf_steal(&out, NULL);
}

/* The accessions of a search response's items, space-separated, in order (new string). */
__attribute__((unused)) static char *fx_accessions(json_t *j)
{
    dq_buf_t b = {0};
    size_t i;
    json_t *x;
    json_array_foreach(json_object_get(j, "items"), i, x)
    {
        if (b.len)
            dq_buf_putc(&b, ' ');
        dq_buf_puts(&b, json_string_value(json_object_get(x, "accession")));
    }
    return b.data ? dq_buf_steal(&b, NULL) : dq_xstrdup("");
}

/* The parsed response of an anonymous search q (for text), which must succeed; with raw, also
 * its text (new string), else that is freed. */
__attribute__((unused)) static json_t *fx_search_parsed(dq_catalog_t *c, const dq_relic_query_t *q,
                                                        const char *text, char **raw)
{
    dq_err_t err = {0};
    char *r = fx_search(c, q, &anon, &err);
    if (!r)
        fprintf(stderr, "search %s: %s\n", text, err.msg);
    DQ_REQUIRE(r);
    json_t *j = json_loads(r, 0, NULL);
    DQ_REQUIRE(j);
    if (raw)
        *raw = r;
    else
        free(r);
    return j;
}

/* The accessions a search for text finds, sorted, space-separated (new string). */
__attribute__((unused)) static char *fx_find_accessions(dq_catalog_t *c, const char *text)
{
    dq_relic_query_t q = fx_query(text);
    q.sort = "accession";
    json_t *j = fx_search_parsed(c, &q, text, NULL);
    char *a = fx_accessions(j);
    json_decref(j);
    return a;
}

/* Checks that a search for text finds exactly the accessions want, naming the query if not. */
#define FX_EXPECT_FOUND(c, text, want)                                                             \
    do {                                                                                           \
        char *got_ = fx_find_accessions((c), (text));                                              \
        if (strcmp(got_, (want)) != 0)                                                             \
            fprintf(stderr, "    query %s: got [%s], want [%s]\n", (text), got_, (want));          \
        DQ_CHECK_STR(got_, (want));                                                                \
        free(got_);                                                                                \
    } while (0)

#endif
