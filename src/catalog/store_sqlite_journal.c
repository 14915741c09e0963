/*
 * store_sqlite_journal.c: work journals in SQLite (migration 32, issue 15 session 25): one row
 * per run of a multi-step write whose steps are not one catalog transaction (a `spectral add`
 * into an object store uploads its bands before its catalog row), naming what the run is about
 * to change, so that ANY process sharing the catalog can take back a run that died (before,
 * the journal was a file in the data directory of the node that ran it). Row primitives only
 * (store.h); what a journal says and who may take it back is the caller's (journal.c's API,
 * cmd_spectral.c's policy).
 */
#include "store_sqlite_internal.h"

#include <string.h>

const char dq_sqlite_journal_schema[] =
    "CREATE TABLE work_journals ("
    " run TEXT PRIMARY KEY, kind TEXT NOT NULL, doc TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE INDEX work_journals_kind ON work_journals (kind, run);";

static int wj_put(dq_store_txn_t *t, const dq_journal_row_t *row, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "INSERT INTO work_journals (run, kind, doc, created_at)"
                                  " VALUES (?1, ?2, ?3, " DQ_SQ_NOW ") ON CONFLICT (run) DO"
                                  " UPDATE SET kind = excluded.kind, doc = excluded.doc",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, row->run);
    dq_sq_bind_text(st, 2, row->kind);
    dq_sq_bind_text(st, 3, row->doc);
    return dq_sq_step_done(t, st, err);
}

static int wj_remove(dq_store_txn_t *t, const char *run, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, "DELETE FROM work_journals WHERE run = ?1", err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, run);
    return dq_sq_step_done(t, st, err);
}

static int wj_list(dq_store_txn_t *t, const char *kind, dq_journal_cb cb, void *ud,
                   dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT run, kind, doc, created_at FROM work_journals"
                                  " WHERE kind = ?1 ORDER BY run",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, kind);
    int r;
    while ((r = dq_sq_row(t, st, "work_journals", err)) == 0) {
        dq_journal_row_t row = {0};
        row.run = (const char *)sqlite3_column_text(st, 0);
        row.kind = (const char *)sqlite3_column_text(st, 1);
        row.doc = (const char *)sqlite3_column_text(st, 2);
        dq_sq_copy_col(row.created, sizeof(row.created), st, 3);
        if (cb(ud, &row))
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

const dq_store_journal_ops dq_sqlite_journal_ops = {
    .put = wj_put,
    .remove = wj_remove,
    .list = wj_list,
};
