/* Unit tests of the response cache: hits, LRU eviction under the byte budget, replacement,
 * references that outlive eviction, oversize values, and concurrent use from threads. */
#include "../../../src/http/http.h"
#include "../../dq_test.h"

#include <pthread.h>

static int freed;
static void count_free(void *v)
{
    freed++;
    free(v);
}

static char *val(const char *s) { return dq_xstrdup(s); }

DQ_TEST(hit_and_miss)
{
    dq_cache_t *c = dq_cache_new(1 << 20, count_free);
    DQ_CHECK(dq_cache_get(c, "a", 1) == NULL);
    dq_cache_put(c, "a", 1, val("A"), 10, "\"t1\"");
    dq_cache_entry_t *e = dq_cache_get(c, "a", 1);
    DQ_REQUIRE(e != NULL);
    DQ_CHECK_STR(dq_cache_entry_value(e), "A");
    DQ_CHECK_STR(dq_cache_entry_tag(e), "\"t1\"");
    dq_cache_release(c, e);
    dq_cache_stats_t st;
    dq_cache_stats(c, &st);
    DQ_CHECK_INT(st.hits, 1);
    DQ_CHECK_INT(st.misses, 1);
    DQ_CHECK_INT(st.n_entries, 1);
    dq_cache_free(c);
    DQ_CHECK_INT(freed, 1);
}

DQ_TEST(budget_evicts_least_recent)
{
    freed = 0;
    /* 16 shards: 16 KiB each with a 256 KiB budget; fill far past it. */
    dq_cache_t *c = dq_cache_new(256 << 10, count_free);
    char key[32];
    for (int i = 0; i < 2000; i++) {
        int n = snprintf(key, sizeof(key), "k%d", i);
        dq_cache_put(c, key, (size_t)n, val("v"), 1000, "");
    }
    dq_cache_stats_t st;
    dq_cache_stats(c, &st);
    DQ_CHECK(st.bytes <= st.budget);
    DQ_CHECK(st.evictions > 0);
    DQ_CHECK_INT((long long)st.n_entries + freed, 2000);
    /* the newest key survives, the oldest is gone */
    DQ_CHECK(dq_cache_get(c, "k0", 2) == NULL);
    dq_cache_entry_t *e = dq_cache_get(c, "k1999", 5);
    DQ_CHECK(e != NULL);
    dq_cache_release(c, e);
    dq_cache_free(c);
    DQ_CHECK_INT(freed, 2000);
}

DQ_TEST(reference_outlives_eviction_and_replace)
{
    freed = 0;
    dq_cache_t *c = dq_cache_new(1 << 20, count_free);
    dq_cache_put(c, "k", 1, val("old"), 10, "");
    dq_cache_entry_t *e = dq_cache_get(c, "k", 1);
    dq_cache_put(c, "k", 1, val("new"), 10, ""); /* replaces while e is held */
    DQ_CHECK_INT(freed, 0);
    DQ_CHECK_STR(dq_cache_entry_value(e), "old");
    dq_cache_release(c, e);
    DQ_CHECK_INT(freed, 1);
    e = dq_cache_get(c, "k", 1);
    DQ_CHECK_STR(dq_cache_entry_value(e), "new");
    dq_cache_release(c, e);
    dq_cache_free(c);
    DQ_CHECK_INT(freed, 2);
}

DQ_TEST(oversize_and_disabled)
{
    freed = 0;
    dq_cache_t *c = dq_cache_new(16 << 10, count_free);
    dq_cache_put(c, "big", 3, val("x"), 100000, "");
    DQ_CHECK_INT(freed, 1);
    DQ_CHECK(dq_cache_get(c, "big", 3) == NULL);
    dq_cache_free(c);
    c = dq_cache_new(0, count_free);
    dq_cache_put(c, "a", 1, val("x"), 1, "");
    DQ_CHECK(dq_cache_get(c, "a", 1) == NULL);
    dq_cache_free(c);
    DQ_CHECK_INT(freed, 2);
}

static void *hammer(void *arg)
{
    dq_cache_t *c = arg;
    char key[32];
    for (int i = 0; i < 20000; i++) {
        /* each key is asked four times in a row, so a thread sees hits even when the
         * scheduler runs the threads one after another */
        int n = snprintf(key, sizeof(key), "k%d", (i / 4) % 300);
        dq_cache_entry_t *e = dq_cache_get(c, key, (size_t)n);
        if (e) {
            DQ_ASSERT(strcmp(dq_cache_entry_value(e), key) == 0);
            dq_cache_release(c, e);
        } else {
            dq_cache_put(c, key, (size_t)n, dq_xstrdup(key), 200, "");
        }
    }
    return NULL;
}

static void plain_free(void *v) { free(v); }

DQ_TEST(threads_share_safely)
{
    dq_cache_t *c = dq_cache_new(32 << 10, plain_free);
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, hammer, c);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    dq_cache_stats_t st;
    dq_cache_stats(c, &st);
    DQ_CHECK(st.bytes <= st.budget);
    DQ_CHECK(st.hits > 0 && st.evictions > 0);
    dq_cache_free(c);
}

DQ_TEST(routes_longest_prefix)
{
    const dq_route_t *r = dq_http_route("/iiif/3/abc/info.json", 21);
    DQ_REQUIRE(r != NULL);
    DQ_CHECK(r->fn == dq_http_iiif3);
    r = dq_http_route("/iiif/2/x", 9);
    DQ_CHECK(r && r->fn == dq_http_iiif2);
    DQ_CHECK(dq_http_route("/health", 7) != NULL);
    /* Everything else falls to the web front end's "/" route (the shortest prefix). */
    r = dq_http_route("/healthz", 8);
    DQ_CHECK(r && r->fn == dq_http_static);
    r = dq_http_route("/iiif/4/x", 9);
    DQ_CHECK(r && r->fn == dq_http_static);
}

DQ_TEST(admission_on_second_request)
{
    dq_cache_t *c = dq_cache_new(1 << 20, plain_free);
    DQ_CHECK_INT(dq_cache_seen_before(c, "region-a", 8), 0);
    DQ_CHECK_INT(dq_cache_seen_before(c, "region-b", 8), 0);
    DQ_CHECK_INT(dq_cache_seen_before(c, "region-a", 8), 1);
    DQ_CHECK_INT(dq_cache_seen_before(c, "region-b", 8), 1);
    DQ_CHECK_INT(dq_cache_seen_before(c, "region-c", 8), 0);
    dq_cache_free(c);
}
