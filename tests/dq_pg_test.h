/*
 * dq_pg_test.h: PostgreSQL for tests (issue 15). Two uses:
 *
 * 1. The catalog tests run against either backend: they open dq_test_catalog(dir) instead of
 *    dir. Without DQ_TEST_CATALOG that is dir itself (SQLite); with DQ_TEST_CATALOG set to a
 *    postgres:// URL (scripts/run-tests.sh does this in its second pass over the catalog
 *    tests, against a private cluster it made) it is a URL naming a schema of its own, made
 *    here and derived from dir, so every test gets an empty catalog and a test that re-opens
 *    the same dir re-opens the same catalog.
 *
 * 2. A test program that needs PostgreSQL whatever the pass (the cross-backend comparison,
 *    two servers on one catalog) defines DQ_PG_TEST_CLUSTER before including this header. It
 *    then uses the cluster named by DQ_TEST_PG_URL when the runner gives one, else makes its
 *    own: tests/pg-cluster.sh starts it before main() (in the runner process, so that it
 *    outlives each forked test) under build/ and stops and removes it after main() returns.
 *    dq_pg_test_url() is NULL when PostgreSQL is not installed: such tests skip, saying so.
 *
 * The cluster runs as a dedicated system user (PostgreSQL refuses root); see
 * tests/pg-cluster.sh.
 */
#ifndef DQ_PG_TEST_H
#define DQ_PG_TEST_H

#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "core/core.h"

/* The base URL of the runner's or this program's cluster, or NULL. */
static char dq_pg_test_url_[512];
#ifdef DQ_PG_TEST_CLUSTER
static char dq_pg_test_dir_[1024]; /* the cluster this program made ("" when none) */
#endif

__attribute__((unused)) static const char *dq_pg_test_url(void)
{
    const char *u = getenv("DQ_TEST_PG_URL");
    if (u && *u)
        return u;
    return dq_pg_test_url_[0] ? dq_pg_test_url_ : NULL;
}

/* Runs sql on the database of url (autocommit); 0 or -1 (message on stderr). */
__attribute__((unused)) static int dq_pg_test_exec(const char *url, const char *sql)
{
    PGconn *c = PQconnectdb(url);
    int rc = -1;
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "    pg: cannot connect to %s: %s", url, PQerrorMessage(c));
    } else {
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
            rc = 0;
        else
            fprintf(stderr, "    pg: %s: %s", sql, PQerrorMessage(c));
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

/* A catalog URL on base naming schema `name` (made when missing). New string, or NULL. */
__attribute__((unused)) static char *dq_pg_test_schema_url(const char *base, const char *name)
{
    char sql[200];
    snprintf(sql, sizeof(sql),
             "SET client_min_messages = warning;"
             " CREATE SCHEMA IF NOT EXISTS %s",
             name);
    if (dq_pg_test_exec(base, sql) < 0)
        return NULL;
    return dq_xasprintf("%s%soptions=-csearch_path%%3D%s", base, strchr(base, '?') ? "&" : "?",
                        name);
}

/* What a catalog test opens for its data directory dir: dir itself, or (DQ_TEST_CATALOG set
 * to a postgres:// URL) a schema of that cluster named after dir. New string, free with
 * free(); a failure to make the schema stops the test. */
__attribute__((unused)) static char *dq_test_catalog(const char *dir)
{
    const char *base = getenv("DQ_TEST_CATALOG");
    if (!base || strncmp(base, "postgres", 8) != 0 || strchr(dir, ':'))
        return dq_xstrdup(dir); /* an explicit URL (sqlite:...) stays what it says */
    /* FNV-1a of the directory: the same dir, the same schema (re-opening tests) */
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *p = (const unsigned char *)dir; *p; p++)
        h = (h ^ *p) * 1099511628211ULL;
    char name[40];
    snprintf(name, sizeof(name), "t_%016llx", (unsigned long long)h);
    char *url = dq_pg_test_schema_url(base, name);
    if (!url) {
        fprintf(stderr, "    FAIL cannot make schema %s on %s\n", name, base);
        fflush(NULL);
        _exit(1);
    }
    return url;
}

/* 1 when this pass runs the catalog tests against PostgreSQL (DQ_TEST_CATALOG). */
__attribute__((unused)) static int dq_test_on_pg(void)
{
    const char *b = getenv("DQ_TEST_CATALOG");
    return b && strncmp(b, "postgres", 8) == 0;
}

/* PostgreSQL pass: the first column of the first row of sql run on dir's catalog, as a new
 * string ("" when no row or NULL); a failed query stops the test. */
__attribute__((unused)) static char *dq_pg_test_sql1(const char *dir, const char *sql)
{
    char *url = dq_test_catalog(dir);
    PGconn *c = PQconnectdb(url);
    char *out = NULL;
    PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "    FAIL %s: %s\n", sql, PQerrorMessage(c));
        fflush(NULL);
        _exit(1);
    }
    out = dq_xstrdup(PQntuples(r) && !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(c);
    free(url);
    return out;
}

/* PostgreSQL pass: takes the catalog writers' lock of dir's catalog (store_pg.c: a
 * transaction-scoped advisory lock) on a connection of its own, as another process's import
 * would hold it; PQfinish the result to let it go. A failure stops the test. */
__attribute__((unused)) static PGconn *dq_pg_test_hold_writers(const char *dir)
{
    char *url = dq_test_catalog(dir);
    PGconn *c = PQconnectdb(url);
    PGresult *r = PQexec(c, "BEGIN; SELECT pg_advisory_xact_lock(25713,"
                            " hashtext(coalesce(current_schema(), 'public')))");
    free(url);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "    FAIL cannot take the writers' lock: %s\n", PQerrorMessage(c));
        fflush(NULL);
        _exit(1);
    }
    PQclear(r);
    return c;
}

/* dq_catalog_open of dq_test_catalog(dir). */
__attribute__((unused)) static dq_catalog_t *dq_test_catalog_open(const char *dir, dq_err_t *err)
{
    char *u = dq_test_catalog(dir);
    dq_catalog_t *c = dq_catalog_open(u, err);
    free(u);
    return c;
}

#ifdef DQ_PG_TEST_CLUSTER
/* The repository root: tests run from it (scripts/run-tests.sh) or name it in DQ_ROOT. */
static const char *dq_pg_test_root_(void)
{
    const char *r = getenv("DQ_ROOT");
    return r && *r ? r : ".";
}

__attribute__((constructor)) static void dq_pg_test_start_(void)
{
    if (getenv("DQ_TEST_PG_URL") && *getenv("DQ_TEST_PG_URL"))
        return;
    char cmd[2400];
    snprintf(cmd, sizeof(cmd), "%s/tests/pg-cluster.sh available", dq_pg_test_root_());
    if (system(cmd) != 0)
        return; /* no PostgreSQL here: dq_pg_test_url() stays NULL */
    snprintf(dq_pg_test_dir_, sizeof(dq_pg_test_dir_), "%s/build/pgtest.%d", dq_pg_test_root_(),
             (int)getpid());
    snprintf(cmd, sizeof(cmd), "%s/tests/pg-cluster.sh start %s", dq_pg_test_root_(),
             dq_pg_test_dir_);
    FILE *f = popen(cmd, "r");
    if (!f || !fgets(dq_pg_test_url_, sizeof(dq_pg_test_url_), f))
        dq_pg_test_url_[0] = '\0';
    if (f)
        pclose(f);
    dq_pg_test_url_[strcspn(dq_pg_test_url_, "\n")] = '\0';
    if (!dq_pg_test_url_[0])
        fprintf(stderr, "pg: the test cluster did not start (%s)\n", cmd);
}

__attribute__((destructor)) static void dq_pg_test_stop_(void)
{
    if (!dq_pg_test_dir_[0])
        return;
    char cmd[2400];
    snprintf(cmd, sizeof(cmd), "%s/tests/pg-cluster.sh stop %s", dq_pg_test_root_(),
             dq_pg_test_dir_);
    if (system(cmd) != 0)
        fprintf(stderr, "pg: could not stop %s\n", dq_pg_test_dir_);
    dq_pg_test_dir_[0] = '\0';
}
#endif

#endif
