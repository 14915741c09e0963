/*
 * store_pg_journal.c: work journals in PostgreSQL (migration 32), the twin of
 * store_sqlite_journal.c: one row per run of a multi-step write (a `spectral add` into an
 * object store), so that any node sharing the catalog can take back a run that died. Row
 * primitives only.
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

const char dq_pg_journal_schema[] =
    "CREATE TABLE work_journals ("
    " run text COLLATE \"C\" PRIMARY KEY, kind text NOT NULL, doc text NOT NULL,"
    " created_at text NOT NULL);"
    "CREATE INDEX work_journals_kind ON work_journals (kind, run);";

static int wj_put(dq_store_txn_t *t, const dq_journal_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->run);
    dq_pg_p_text(&p, row->kind);
    dq_pg_p_text(&p, row->doc);
    return dq_pg_run(t,
                     "INSERT INTO work_journals (run, kind, doc, created_at)"
                     " VALUES ($1, $2, $3, " DQ_PG_NOW ") ON CONFLICT (run) DO UPDATE SET"
                     " kind = excluded.kind, doc = excluded.doc",
                     &p, NULL, err);
}

static int wj_remove(dq_store_txn_t *t, const char *run, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, run);
    return dq_pg_run(t, "DELETE FROM work_journals WHERE run = $1", &p, NULL, err);
}

typedef struct {
    dq_journal_cb cb;
    void *ud;
} walk_t;

static int wj_row(void *ud, PGresult *r)
{
    walk_t *w = ud;
    dq_journal_row_t row = {0};
    row.run = dq_pg_col(r, 0, 0);
    row.kind = dq_pg_col(r, 0, 1);
    row.doc = dq_pg_col(r, 0, 2);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 3);
    return w->cb(w->ud, &row);
}

static int wj_list(dq_store_txn_t *t, const char *kind, dq_journal_cb cb, void *ud,
                   dq_err_t *err)
{
    walk_t w = {cb, ud};
    pg_params_t p = {0};
    dq_pg_p_text(&p, kind);
    return dq_pg_walk(t,
                      "SELECT run, kind, doc, created_at FROM work_journals WHERE kind = $1"
                      " ORDER BY run",
                      &p, wj_row, &w, err);
}

const dq_store_journal_ops dq_pg_journal_ops = {
    .put = wj_put,
    .remove = wj_remove,
    .list = wj_list,
};
