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
#include <libpq-fe.h>
#include <sqlite3.h>

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

/* ---------------------------------------------------------------- migration 19 */

/* Runs sql on dir's catalog, either backend, outside the catalog (which is closed): rows as
 * "a|b|c\n" lines (new string; "" for none). A failure stops the test. */
static char *raw_sql(const char *dir, const char *sql)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, "");
    if (dq_test_on_pg()) {
        char *url = dq_test_catalog(dir);
        PGconn *pc = PQconnectdb(url);
        PGresult *r = PQexec(pc, sql);
        int st = PQresultStatus(r);
        if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
            fprintf(stderr, "    pg: %s: %s", sql, PQerrorMessage(pc));
        DQ_REQUIRE(st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK);
        for (int i = 0; st == PGRES_TUPLES_OK && i < PQntuples(r); i++) {
            for (int k = 0; k < PQnfields(r); k++)
                dq_buf_printf(&b, "%s%s", k ? "|" : "", PQgetvalue(r, i, k));
            dq_buf_putc(&b, '\n');
        }
        PQclear(r);
        PQfinish(pc);
        free(url);
        return dq_buf_steal(&b, NULL);
    }
    char *path = dq_xasprintf("%s/catalog.sqlite", dir);
    sqlite3 *db = NULL;
    DQ_REQUIRE(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK);
    const char *tail = sql;
    while (tail && *tail) {
        sqlite3_stmt *st = NULL;
        int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
        if (rc != SQLITE_OK)
            fprintf(stderr, "    sqlite: %s: %s\n", sql, sqlite3_errmsg(db));
        DQ_REQUIRE(rc == SQLITE_OK);
        if (!st)
            break;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            for (int k = 0; k < sqlite3_column_count(st); k++) {
                const unsigned char *v = sqlite3_column_text(st, k);
                dq_buf_printf(&b, "%s%s", k ? "|" : "", v ? (const char *)v : "");
            }
            dq_buf_putc(&b, '\n');
        }
        DQ_REQUIRE(rc == SQLITE_DONE);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    free(path);
    return dq_buf_steal(&b, NULL);
}

/* rows ("a|b|c\n" lines) without their last column (new string). */
static char *but_last(const char *rows)
{
    dq_buf_t b = {0};
    dq_buf_puts(&b, "");
    for (const char *s = rows; *s;) {
        const char *nl = strchr(s, '\n'), *bar = nl;
        while (bar > s && *bar != '|')
            bar--;
        dq_buf_printf(&b, "%.*s\n", (int)(bar - s), s);
        s = nl + 1;
    }
    return dq_buf_steal(&b, NULL);
}

/* Issue 16: relics restricted before migration 15 existed had no withdrawal row. A catalog
 * is brought to that state the old way (its history written through the API, then the rows
 * migration 15's triggers made removed and migration 19 marked as not applied), reopened, and
 * migration 19 must give back what the triggers had written from the audit trail alone: the
 * same relics, audit positions, dynasties and types (those while public), dated at the
 * restricting write; nothing for a relic never public or public again. */
DQ_TEST(migration_19_backfills_withdrawals_from_the_audit_trail)
{
    char *d = dq_test_tmpdir("dq_m19");
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    /* a: public in song; restricted and moved to ming in one edit; moved to tang since */
    char *a = fx_scroll(c, 0);
    patch(c, a, "{\"dynasty\":\"song\",\"object_type\":\"handscroll\"}");
    patch(c, a, "{\"restricted\":true,\"dynasty\":\"ming\"}");
    patch(c, a, "{\"dynasty\":\"tang\",\"object_type\":\"album_leaf\"}");
    char *never = fx_scroll(c, 1); /* never public: no row */
    patch(c, never, "{\"dynasty\":\"song\"}");
    char *back = fx_scroll(c, 0); /* restricted, then public again: no row */
    patch(c, back, "{\"restricted\":true}");
    patch(c, back, "{\"restricted\":false}");
    char *gone = fx_scroll(c, 0); /* restricted, then deleted: a row */
    patch(c, gone, "{\"dynasty\":\"yuan\"}");
    patch(c, gone, "{\"restricted\":true}");
    DQ_REQUIRE(dq_catalog_relic_delete(c, gone, -1, &curator, &err) == 0);
    char *twice = fx_scroll(c, 0); /* restricted twice: dated at the second */
    patch(c, twice, "{\"restricted\":true}");
    patch(c, twice, "{\"restricted\":false,\"dynasty\":\"qing\"}");
    patch(c, twice, "{\"restricted\":true,\"object_type\":\"fan\"}");
    dq_catalog_close(c);

    const char *rows_sql = "SELECT w.id, w.audit_seq, coalesce(w.dynasty, '-'),"
                           " coalesce(w.object_type, '-'), w.withdrawn_at = a.at"
                           " FROM relic_withdrawals w LEFT JOIN audit a ON a.seq = w.audit_seq + 1"
                           " ORDER BY w.id";
    char *by_trigger = raw_sql(dir, rows_sql);
    char *want = dq_xasprintf("%s|song|handscroll|\n%s|yuan|-|\n%s|qing|-|\n", a, gone, twice);
    /* The triggers' rows, without their seq and time, are what the history says. */
    {
        dq_buf_t b = {0};
        for (char *line = by_trigger; *line;) {
            char *nl = strchr(line, '\n');
            char *f[5] = {0};
            int k = 0;
            for (char *p = line; p < nl && k < 5; k++) {
                f[k] = p;
                p = memchr(p, '|', (size_t)(nl - p));
                p = p ? p + 1 : nl;
            }
            DQ_REQUIRE(k == 5);
            dq_buf_printf(&b, "%.*s|%.*s|%.*s|\n", (int)(f[1] - f[0] - 1), f[0],
                          (int)(f[3] - f[2] - 1), f[2], (int)(f[4] - f[3] - 1), f[3]);
            line = nl + 1;
        }
        DQ_CHECK_STR(b.data ? b.data : "", want);
        dq_buf_free(&b);
    }
    /* The old catalog: no rows, migration 19 not applied. */
    free(raw_sql(dir, "DELETE FROM relic_withdrawals;"
                      " DELETE FROM schema_version WHERE version = 19"));
    char *none = raw_sql(dir, "SELECT count(*) FROM relic_withdrawals");
    DQ_CHECK_STR(none, "0\n");
    free(none);

    c = dq_test_catalog_open(dir, &err); /* migration 19 runs */
    DQ_REQUIRE(c != NULL);
    char *by_migration = raw_sql(dir, rows_sql);
    /* The same relics, audit positions, dynasties and types, dated at the restricting write
     * (the last column: withdrawn_at = the time of the audit row after audit_seq). */
    const char *p = by_migration;
    int n = 0;
    for (; *p; n++)
        p = strchr(p, '\n') + 1;
    DQ_CHECK_INT(n, 3);
    DQ_CHECK(strstr(by_migration, "|1\n") || strstr(by_migration, "|t\n"));
    DQ_CHECK(strstr(by_migration, "|0\n") == NULL && strstr(by_migration, "|f\n") == NULL);
    {
        /* Compare all but the last column with the triggers' rows. */
        char *x = but_last(by_trigger), *y = but_last(by_migration);
        DQ_CHECK_STR(y, x);
        free(x);
        free(y);
    }
    char *ver = raw_sql(dir, "SELECT count(*) FROM schema_version WHERE version = 19");
    DQ_CHECK_STR(ver, "1\n");
    free(ver);

    /* What harvesters are told: a, gone and twice are deleted records for the anonymous
     * caller, a in its public set (song), never and back as before. */
    list_t l = list(c, &anon, NULL);
    DQ_CHECK(find(&l, a) && find(&l, a)->deleted && !find(&l, a)->has_doc);
    DQ_CHECK(find(&l, gone) && find(&l, gone)->deleted);
    DQ_CHECK(find(&l, twice) && find(&l, twice)->deleted);
    DQ_CHECK(find(&l, never) == NULL);
    DQ_CHECK(find(&l, back) && !find(&l, back)->deleted);
    l = list(c, &anon, "song");
    DQ_CHECK(find(&l, a) && find(&l, a)->deleted);
    l = list(c, &anon, "tang");
    DQ_CHECK(find(&l, a) == NULL);
    /* The change feed ends a's public life with a Delete. */
    char *got = feed(c, &anon);
    char *del = dq_xasprintf("Delete %s\n", a);
    DQ_CHECK(strstr(got, del) != NULL);
    free(del);
    free(got);
    dq_catalog_close(c);

    /* Opened again, nothing changes (the migration ran once). */
    c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    dq_catalog_close(c);
    char *again = raw_sql(dir, rows_sql);
    DQ_CHECK_STR(again, by_migration);
    free(again);

    free(by_trigger);
    free(by_migration);
    free(want);
    free(a);
    free(never);
    free(back);
    free(gone);
    free(twice);
    free(dir);
    free(d);
}

/* ---------------------------------------------------------------- issue 15, migration 26 */

/* An import batch re-creating deleted relics keeps tombstones and withdrawals as creating them
 * one by one does (on PostgreSQL since migration 26 a statement-level trigger over the COPY's
 * rows instead of two row triggers): restricted over a public tombstone stays deleted for the
 * anonymous harvester, public comes back live, a fresh restricted id leaves no trace. And a
 * deleted relic leaves no child rows behind (PostgreSQL deletes them in relic_remove's
 * statement since the children lost their foreign keys). */
DQ_TEST(import_over_tombstones_and_delete_leave_what_one_by_one_does)
{
    char *d = dq_test_tmpdir("dq_m26");
    char *dir = dq_xasprintf("%s/data", d);
    dq_err_t err = {0};
    dq_catalog_t *c = dq_test_catalog_open(dir, &err);
    DQ_REQUIRE(c != NULL);
    free(fx_create(c, "{\"id\":\"im-1\",\"accession\":\"IM-1\",\"subject\":[\"landscape\"],"
                      "\"creators\":[{\"name\":{\"zh\":\"王蒙\",\"en\":\"Wang Meng\"}}],"
                      "\"title\":{\"zh\":\"山\",\"en\":\"One\"}}"));
    free(fx_create(c, "{\"id\":\"im-2\",\"accession\":\"IM-2\",\"title\":{\"zh\":\"水\"}}"));
    DQ_REQUIRE(dq_catalog_relic_delete(c, "im-1", -1, &curator, &err) == 0);
    DQ_REQUIRE(dq_catalog_relic_delete(c, "im-2", -1, &curator, &err) == 0);
    /* (SQLite's relic_fts needs danqing's tokenizer to be read: PostgreSQL's only) */
    char *orphans = raw_sql(dir, dq_test_on_pg() ? "SELECT (SELECT count(*) FROM relic_subjects)"
                                                   " + (SELECT count(*) FROM relic_creators)"
                                                   " + (SELECT count(*) FROM relic_images)"
                                                   " + (SELECT count(*) FROM relic_fts)"
                                                 : "SELECT (SELECT count(*) FROM relic_subjects)"
                                                   " + (SELECT count(*) FROM relic_creators)"
                                                   " + (SELECT count(*) FROM relic_images)");
    DQ_CHECK_STR(orphans, "0\n");
    free(orphans);
    const char *text =
        "{\"id\":\"im-1\",\"accession\":\"IM-1\",\"restricted\":true,\"title\":{\"zh\":\"山\"}}\n"
        "{\"id\":\"im-2\",\"accession\":\"IM-2\",\"title\":{\"zh\":\"水\"}}\n"
        "{\"id\":\"im-3\",\"accession\":\"IM-3\",\"restricted\":true,\"title\":{\"zh\":\"画\"}}\n";
    FILE *f = fmemopen((void *)text, strlen(text), "r");
    DQ_REQUIRE(f);
    dq_import_opts_t o = {.format = DQ_IMPORT_JSONL, .batch_rows = 100};
    dq_import_stats_t st;
    DQ_REQUIRE(dq_catalog_import(c, f, &o, &curator, &st, &err) == 0);
    fclose(f);
    DQ_CHECK_INT(st.inserted, 3);
    list_t l = list(c, &anon, NULL);
    DQ_CHECK_INT(l.n, 2);
    DQ_CHECK(find(&l, "im-1") && find(&l, "im-1")->deleted && !find(&l, "im-1")->has_doc);
    DQ_CHECK(find(&l, "im-2") && !find(&l, "im-2")->deleted && find(&l, "im-2")->has_doc);
    DQ_CHECK(find(&l, "im-3") == NULL);
    l = list(c, &viewer, NULL);
    DQ_CHECK_INT(l.n, 3);
    char *left = raw_sql(dir, "SELECT id FROM relic_tombstones ORDER BY id");
    DQ_CHECK_STR(left, "");
    free(left);
    char *wd = raw_sql(dir, "SELECT id FROM relic_withdrawals ORDER BY id");
    DQ_CHECK_STR(wd, "im-1\n");
    free(wd);
    /* the deleted relic's index entry goes with it, the others' stay */
    DQ_REQUIRE(dq_catalog_relic_delete(c, "im-3", -1, &curator, &err) == 0);
    char *kept = raw_sql(dir, dq_test_on_pg() ? "SELECT count(*) FROM relic_fts"
                                              : "SELECT count(*) FROM relics");
    DQ_CHECK_STR(kept, "2\n");
    free(kept);
    dq_catalog_close(c);
    free(dir);
    free(d);
}
