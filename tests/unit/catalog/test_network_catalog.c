/*
 * test_network_catalog.c: what harvesters are told about relics that change visibility
 * (src/catalog/network.c over store_*_network / migration 15), through the public catalog
 * API, on SQLite and (under scripts/run-tests.sh) PostgreSQL: a relic that was public and is
 * restricted later is a deleted record to the anonymous harvester (datestamp = the
 * restriction, sets as it was while public) and a Delete in the change feed, while signed-in
 * readers see the live record; a relic that was always restricted leaves no trace for the
 * anonymous caller; made public again, it is a live record once more; a restricted relic
 * re-created under the id of a deleted public one is still deleted to the anonymous caller.
 */
#include "relic_fixture.h"
#include "canvas_fixture.h"

#include <jansson.h>

/* One listed record, as the test remembers it. */
typedef struct {
    char id[64], datestamp[32], dynasty[32];
    int deleted, has_doc;
} seen_t;

typedef struct {
    seen_t rows[16];
    int n;
} list_t;

static int keep(void *ud, const dq_net_record_t *rec)
{
    list_t *l = ud;
    DQ_REQUIRE(l->n < 16);
    seen_t *s = &l->rows[l->n++];
    snprintf(s->id, sizeof(s->id), "%s", rec->id);
    snprintf(s->datestamp, sizeof(s->datestamp), "%s", rec->datestamp);
    snprintf(s->dynasty, sizeof(s->dynasty), "%s", rec->dynasty ? rec->dynasty : "");
    s->deleted = rec->deleted;
    s->has_doc = rec->doc != NULL;
    return 0;
}

/* The records who may see (with docs), optionally in one dynasty set. */
static list_t list(dq_catalog_t *c, const dq_actor_t *who, const char *dynasty)
{
    list_t l = {0};
    dq_err_t err = {0};
    dq_net_query_t q = {.limit = 100, .with_docs = 1, .dynasty = dynasty};
    DQ_REQUIRE(dq_catalog_net_records(c, &q, who, keep, &l, &err) == 0);
    return l;
}

static const seen_t *find(const list_t *l, const char *id)
{
    for (int i = 0; i < l->n; i++)
        if (strcmp(l->rows[i].id, id) == 0)
            return &l->rows[i];
    return NULL;
}

/* The relic's updated_at as a curator reads it (new string). */
static char *updated_at(dq_catalog_t *c, const char *id)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_get(c, id, &curator, &out, NULL, &err) == 0);
    json_t *j = json_loads(out.data, 0, NULL);
    DQ_REQUIRE(j);
    char *at = dq_xstrdup(json_string_value(json_object_get(j, "updated_at")));
    json_decref(j);
    dq_buf_free(&out);
    return at;
}

static void patch(dq_catalog_t *c, const char *id, const char *json)
{
    dq_buf_t out = {0}, fe = {0};
    dq_err_t err = {0};
    int r = dq_catalog_relic_patch(c, id, json, strlen(json), -1, &curator, &out, &fe, &err);
    if (r < 0)
        fprintf(stderr, "patch: %s %s\n", err.msg, fe.data ? fe.data : "");
    DQ_REQUIRE(r == 0);
    dq_buf_free(&out);
    dq_buf_free(&fe);
}

/* The change feed as who sees it: "Kind id" lines, in order (new string). */
static int feed_line(void *ud, const char *kind, const char *id, const char *at)
{
    (void)at;
    dq_buf_t *b = ud;
    dq_buf_puts(b, kind);
    dq_buf_putc(b, ' ');
    dq_buf_puts(b, id);
    dq_buf_putc(b, '\n');
    return 0;
}

static char *feed(dq_catalog_t *c, const dq_actor_t *who)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    int64_t total = 0;
    DQ_REQUIRE(dq_catalog_net_changes(c, 0, 1000, who, feed_line, &b, &total, &err) == 0);
    dq_buf_putc(&b, '\0');
    return dq_buf_steal(&b, NULL);
}

DQ_TEST(public_then_restricted_is_deleted_for_anonymous)
{
    dq_catalog_t *c = fx_open();
    char *pub = fx_scroll(c, 0);    /* stays public */
    char *later = fx_scroll(c, 0);  /* public, then restricted */
    char *always = fx_scroll(c, 1); /* never public */
    patch(c, later, "{\"dynasty\":\"song\"}");
    patch(c, always, "{\"dynasty\":\"song\"}");

    list_t l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 2);
    DQ_CHECK(find(&l, later) && !find(&l, later)->deleted && find(&l, later)->has_doc);

    /* Restricted (and moved to another dynasty in the same edit). */
    patch(c, later, "{\"restricted\":true,\"dynasty\":\"ming\"}");
    char *w_at = updated_at(c, later);
    l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 2);
    const seen_t *s = find(&l, later);
    DQ_REQUIRE(s);
    DQ_CHECK_INT(s->deleted, 1);
    DQ_CHECK_INT(s->has_doc, 0);
    DQ_CHECK_STR(s->datestamp, w_at);
    DQ_CHECK(find(&l, always) == NULL);
    /* Its set is the one it was in while public: song, not ming (which would tell a secret). */
    l = list(c, &anon, "song");
    DQ_CHECK_INT(l.n, 1);
    DQ_CHECK(find(&l, later) && find(&l, later)->deleted);
    l = list(c, &anon, "ming");
    DQ_CHECK_INT(l.n, 0);
    /* Selective harvesting: from the restriction on, it is there; after it, not. */
    {
        list_t f = {0};
        dq_err_t err = {0};
        dq_net_query_t q = {.limit = 100, .from = w_at};
        DQ_REQUIRE(dq_catalog_net_records(c, &q, &anon, keep, &f, &err) == 0);
        DQ_CHECK(find(&f, later) && find(&f, later)->deleted);
        DQ_CHECK(find(&f, always) == NULL);
    }
    /* Signed-in readers see the live, restricted record; the one-record query agrees. */
    l = list(c, &viewer, NULL);
    DQ_CHECK_INT(l.n, 3);
    DQ_CHECK(find(&l, later) && !find(&l, later)->deleted && find(&l, later)->has_doc);
    {
        list_t one = {0};
        dq_err_t err = {0};
        dq_net_query_t q = {.limit = 1, .id = later};
        DQ_REQUIRE(dq_catalog_net_records(c, &q, &anon, keep, &one, &err) == 0);
        DQ_CHECK_INT(one.n, 1);
        DQ_CHECK_INT(one.rows[0].deleted, 1);
        one.n = 0;
        q.id = always;
        DQ_REQUIRE(dq_catalog_net_records(c, &q, &anon, keep, &one, &err) == 0);
        DQ_CHECK_INT(one.n, 0);
    }

    /* The change feed: creates and the early patch as they were, the restricting patch as a
     * Delete for the anonymous caller; nothing of the always-restricted relic. */
    char *want_anon = dq_xasprintf("Create %s\nCreate %s\nUpdate %s\nDelete %s\n", pub, later,
                                   later, later);
    char *got = feed(c, &anon);
    DQ_CHECK_STR(got, want_anon);
    free(got);
    char *want_cura = dq_xasprintf("Create %s\nCreate %s\nCreate %s\nUpdate %s\nUpdate %s\n"
                                   "Update %s\n",
                                   pub, later, always, later, always, later);
    got = feed(c, &curator);
    DQ_CHECK_STR(got, want_cura);
    free(got);
    /* An edit while restricted is not shown to the anonymous caller. */
    patch(c, later, "{\"date_text\":\"c. 1100\"}");
    got = feed(c, &anon);
    DQ_CHECK_STR(got, want_anon);
    free(got);
    free(want_anon);
    free(want_cura);

    /* Public again: a live record with a datestamp no older than the restriction. */
    patch(c, later, "{\"restricted\":false}");
    char *p_at = updated_at(c, later);
    l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 2);
    s = find(&l, later);
    DQ_REQUIRE(s);
    DQ_CHECK_INT(s->deleted, 0);
    DQ_CHECK_INT(s->has_doc, 1);
    DQ_CHECK_STR(s->datestamp, p_at);
    DQ_CHECK(strcmp(p_at, w_at) >= 0);
    got = feed(c, &anon);
    DQ_CHECK(strstr(got, "Delete") == NULL); /* visible again: its history as it is */
    free(got);

    /* Restricted again, then deleted: still one deleted record for the anonymous caller. */
    patch(c, later, "{\"restricted\":true}");
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_delete(c, later, -1, &curator, &err) == 0);
    l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 2);
    DQ_CHECK(find(&l, later) && find(&l, later)->deleted);
    got = feed(c, &anon);
    DQ_CHECK_INT((int)(strstr(got, "Delete") != NULL), 1);
    DQ_CHECK(strstr(strstr(got, "Delete") + 1, "Delete") == NULL); /* one Delete only */
    free(got);
    /* The always-restricted relic deleted: no trace for the anonymous caller. */
    DQ_REQUIRE(dq_catalog_relic_delete(c, always, -1, &curator, &err) == 0);
    l = list(c, &anon, NULL);
    DQ_CHECK(find(&l, always) == NULL);
    l = list(c, &viewer, NULL);
    DQ_CHECK(find(&l, always) && find(&l, always)->deleted);

    free(w_at);
    free(p_at);
    free(pub);
    free(later);
    free(always);
    dq_catalog_close(c);
}

DQ_TEST(public_deleted_then_recreated_restricted_stays_deleted)
{
    dq_catalog_t *c = fx_open();
    char *pub = fx_create(c, "{\"id\":\"re-1\",\"accession\":\"RE-1\","
                             "\"title\":{\"zh\":\"画\",\"en\":\"Once public\"}}");
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_delete(c, pub, -1, &curator, &err) == 0);
    list_t l = list(c, &anon, NULL);
    DQ_CHECK(l.n == 1 && l.rows[0].deleted);
    char *again = fx_create(c, "{\"id\":\"re-1\",\"accession\":\"RE-1\",\"restricted\":true,"
                               "\"title\":{\"zh\":\"画\",\"en\":\"Now restricted\"}}");
    l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 1);
    DQ_CHECK(l.n == 1 && l.rows[0].deleted && !l.rows[0].has_doc);
    l = list(c, &viewer, NULL);
    DQ_CHECK(l.n == 1 && !l.rows[0].deleted && l.rows[0].has_doc);
    /* Re-created public: a live record for everyone. */
    DQ_REQUIRE(dq_catalog_relic_delete(c, again, -1, &curator, &err) == 0);
    free(fx_create(c, "{\"id\":\"re-1\",\"accession\":\"RE-1\",\"title\":{\"zh\":\"画\",\"en\":\"Back\"}}"));
    l = list(c, &anon, NULL);
    DQ_CHECK(l.n == 1 && !l.rows[0].deleted && l.rows[0].has_doc);
    /* And a relic created restricted under a fresh id is not listed at all. */
    free(fx_create(c, "{\"id\":\"re-2\",\"accession\":\"RE-2\",\"restricted\":true,\"title\":{\"zh\":\"画\"}}"));
    l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 1);
    free(pub);
    free(again);
    dq_catalog_close(c);
}

