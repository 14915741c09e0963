/*
 * test_import_cli.c: `danqing import` end to end. Runs the real binary ($DQ_BIN, default
 * build/san/danqing) on files written into a fresh temporary directory (and the Met and
 * mapping fixtures of tests/unit/catalog/fixtures), then checks the exit status, the
 * "line N: reason" messages on stderr, the summary on stdout and the catalog itself.
 */
#define _GNU_SOURCE
#include "dq_test.h"

#include "catalog/catalog.h"

#include <stdarg.h>
#include <sys/wait.h>

typedef struct {
    char *dir, *data;
} env_t;

static const char *bin(void)
{
    const char *b = getenv("DQ_BIN");
    return b && *b ? b : "build/san/danqing";
}

static env_t setup(void)
{
    char *d = dq_test_tmpdir("dq_import_cli");
    env_t e = {d, dq_xasprintf("%s/data", d)};
    return e;
}

/* Removes the test's folder and frees e (the runner would remove the folder anyway). */
static void teardown(env_t *e)
{
    dq_test_rm_rf(e->dir);
    free(e->dir);
    free(e->data);
}

static void put(const env_t *e, const char *name, const char *text)
{
    char *p = dq_xasprintf("%s/%s", e->dir, name);
    FILE *f = fopen(p, "w");
    DQ_REQUIRE(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static char *slurp(const env_t *e, const char *name)
{
    char *p = dq_xasprintf("%s/%s", e->dir, name);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    dq_fs_read_file(p, 1 << 20, &b, &err);
    free(p);
    return b.data ? dq_buf_steal(&b, NULL) : dq_xstrdup("");
}

/* `danqing --data DATA import ARGS` run in the repository root (fixture paths), output to
 * e->dir/out and e->dir/err; returns the exit status. */
static int dq_import(const env_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int dq_import(const env_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *args = NULL;
    DQ_REQUIRE(vasprintf(&args, fmt, ap) >= 0);
    va_end(ap);
    char *cmd = dq_xasprintf("'%s' --data '%s' import %s > '%s/out' 2> '%s/err'", bin(), e->data,
                             args, e->dir, e->dir);
    int st = system(cmd);
    free(cmd);
    free(args);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

DQ_TEST(jsonl_bad_rows_reported_rest_imported_exit_1)
{
    env_t e = setup();
    put(&e, "r.jsonl",
        "{\"accession\":\"A1\",\"title\":{\"zh\":\"山水\"}}\n"
        "{\"accession\":\"A2\",\"title\":{\"zh\":\"花鸟\"},\"dynasty\":\"atlantis\"}\n"
        "{broken\n"
        "{\"accession\":\"A3\",\"title\":{\"en\":\"Birds\"},\"colour\":\"red\"}\n"
        "{\"accession\":\"A4\",\"title\":{\"en\":\"Last\"}}\n");
    DQ_CHECK_INT(dq_import(&e, "'%s/r.jsonl'", e.dir), 1);
    char *err = slurp(&e, "err"), *out = slurp(&e, "out");
    DQ_CHECK(strstr(err, "line 2: dynasty: unknown dynasty") != NULL);
    DQ_CHECK(strstr(err, "line 3: not a JSON object") != NULL);
    DQ_CHECK(strstr(err, "line 4: colour: unknown field") != NULL);
    DQ_CHECK(strstr(out, "2 inserted, 0 updated, 0 unchanged, 3 failed") != NULL);
    free(err);
    free(out);
    /* again: the good rows are unchanged */
    DQ_CHECK_INT(dq_import(&e, "'%s/r.jsonl'", e.dir), 1);
    out = slurp(&e, "out");
    DQ_CHECK(strstr(out, "0 inserted, 0 updated, 2 unchanged, 3 failed") != NULL);
    free(out);
    dq_err_t derr = {0};
    dq_catalog_t *c = dq_catalog_open(e.data, &derr);
    DQ_REQUIRE(c);
    int64_t n = 0;
    DQ_CHECK(dq_catalog_counts(c, NULL, &n, NULL, &derr) == 0);
    DQ_CHECK_INT(n, 2);
    dq_catalog_close(c);
    teardown(&e);
}

DQ_TEST(met_and_mapping_and_dry_run)
{
    env_t e = setup();
    DQ_CHECK_INT(
        dq_import(&e, "--format met --dry-run tests/unit/catalog/fixtures/met_objects.csv"), 1);
    char *out = slurp(&e, "out");
    DQ_CHECK(strstr(out, "dry run: 10 inserted") != NULL);
    free(out);
    DQ_CHECK_INT(dq_import(&e, "--format met tests/unit/catalog/fixtures/met_objects.csv"), 1);
    out = slurp(&e, "out");
    DQ_CHECK(strstr(out, "10 inserted, 0 updated, 0 unchanged, 2 failed") != NULL);
    free(out);
    char *err = slurp(&e, "err");
    DQ_CHECK(strstr(err, "line 11: Object Number is empty") != NULL);
    free(err);
    DQ_CHECK_INT(dq_import(&e, "--mapping tests/unit/catalog/fixtures/mapping.json "
                               "tests/unit/catalog/fixtures/mapped.csv"),
                 1);
    out = slurp(&e, "out");
    DQ_CHECK(strstr(out, "3 inserted, 0 updated, 0 unchanged, 1 failed") != NULL);
    free(out);
    /* a clean file exits 0 */
    put(&e, "ok.jsonl", "{\"accession\":\"OK1\",\"title\":{\"en\":\"fine\"}}\n");
    DQ_CHECK_INT(dq_import(&e, "'%s/ok.jsonl'", e.dir), 0);
    /* usage errors exit 2 */
    DQ_CHECK_INT(dq_import(&e, "--format xml '%s/ok.jsonl'", e.dir), 2);
    DQ_CHECK_INT(dq_import(&e, "%s", ""), 2);
    /* a missing file is a failure of the whole import */
    DQ_CHECK_INT(dq_import(&e, "'%s/none.jsonl'", e.dir), 1);
    teardown(&e);
}
