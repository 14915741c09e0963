/*
 * journal.c: work journals (catalog.h "work journals"; issue 15, session 25): validation and
 * transactions over the store's journal rows. What a journal says, and when a run counts as
 * dead, is the writer's (cmd_spectral.c); this file only keeps rows well-formed.
 */
#include <ctype.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/store.h"

static int run_ok(const char *r)
{
    size_t n = r ? strlen(r) : 0;
    if (n == 0 || n > 128)
        return 0;
    for (const char *p = r; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
            return 0;
    return 1;
}

typedef struct {
    const dq_store_backend_t *be;
    const dq_journal_row_t *row;
    const char *run, *kind;
    dq_journal_cb cb;
    void *ud;
} wj_t;

static int put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wj_t *w = ud;
    return w->be->journals->put(t, w->row, err);
}

static int remove_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wj_t *w = ud;
    return w->be->journals->remove(t, w->run, err);
}

static int list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    wj_t *w = ud;
    return w->be->journals->list(t, w->kind, w->cb, w->ud, err);
}

int dq_catalog_journal_put(dq_catalog_t *cat, const char *run, const char *kind, const char *doc,
                           dq_err_t *err)
{
    if (!run_ok(run))
        return dq_err_set(err, DQ_EINVAL, 400, "journal: '%.200s' is not a run name",
                          run ? run : "");
    if (!kind || !*kind || !doc)
        return dq_err_set(err, DQ_EINVAL, 400, "journal %s: no kind or no document", run);
    dq_journal_row_t row = {.run = run, .kind = kind, .doc = doc};
    wj_t w = {.be = dq_catalog_backend(cat), .row = &row};
    return dq_catalog_write(cat, put_txn, &w, err);
}

int dq_catalog_journal_remove(dq_catalog_t *cat, const char *run, dq_err_t *err)
{
    if (!run_ok(run))
        return 0; /* never written */
    wj_t w = {.be = dq_catalog_backend(cat), .run = run};
    return dq_catalog_write(cat, remove_txn, &w, err);
}

int dq_catalog_journal_list(dq_catalog_t *cat, const char *kind, dq_journal_cb cb, void *ud,
                            dq_err_t *err)
{
    wj_t w = {.be = dq_catalog_backend(cat), .kind = kind, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, list_txn, &w, err);
}
