/*
 * purge.c: which images a CDN must forget after catalog writes (issue 15, "a purge hook when
 * a pyramid is replaced or a relic restricted"). It reads the audit trail after a position
 * the caller keeps and names the images whose public answers may have become wrong: an image
 * replaced or deleted, and every image linked to a relic that was written (the write may have
 * restricted it, or linked an image to a restricted relic) or whose condition record was
 * written (an unpublished record's capture and change map are hidden again). It neither calls a CDN nor knows
 * URLs: http/server.c turns the ids into URL prefixes and runs the configured command.
 * Backend-neutral: the audit and image-link primitives of store.h.
 */
#include "catalog.h"
#include "store.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    int64_t last;
    size_t n;
    char **action, **object; /* owned copies, n of each */
} rows_t;

static int keep_row(void *ud, const dq_store_audit_row_t *row)
{
    rows_t *r = ud;
    r->action = dq_xrealloc(r->action, (r->n + 1) * sizeof(char *));
    r->object = dq_xrealloc(r->object, (r->n + 1) * sizeof(char *));
    r->action[r->n] = dq_xstrdup(row->action ? row->action : "");
    r->object[r->n] = dq_xstrdup(row->object ? row->object : "");
    r->n++;
    r->last = row->seq;
    return 0;
}

typedef struct {
    dq_catalog_t *cat;
    int64_t after;
    int limit;
    int (*cb)(void *ud, const char *image_id);
    void *ud;
    rows_t rows;
} scan_t;

static int linked_image(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    scan_t *s = ud;
    (void)relic_id, (void)restricted;
    return image_id ? s->cb(s->ud, image_id) : 0;
}

static int scan_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    scan_t *s = ud;
    const dq_store_backend_t *be = dq_catalog_backend(s->cat);
    if (s->after < 0) { /* start at the end: what was written before needs no purge */
        int64_t end = 0;
        if (be->audit->max_seq(txn, &end, err) < 0)
            return -1;
        s->rows.last = end;
        return 0;
    }
    s->rows.last = s->after;
    if (be->audit->since(txn, s->after, s->limit, keep_row, &s->rows, err) < 0)
        return -1;
    for (size_t i = 0; i < s->rows.n; i++) {
        const char *a = s->rows.action[i], *o = s->rows.object[i];
        if (strcmp(a, "image.replace") == 0 || strcmp(a, "image.delete") == 0) {
            if (s->cb(s->ud, o) != 0)
                return 0;
        } else if (strncmp(a, "relic.", 6) == 0 && strcmp(a, "relic.delete") != 0) {
            /* a deleted relic's images are unlinked, hence public: nothing to take back */
            if (be->images->links(txn, o, linked_image, s, err) < 0)
                return -1;
        } else if (strncmp(a, "condition.", 10) == 0) {
            /* A record unpublished or deleted closes its images' condition gates
             * (condition.c): the relic's images, a superset of them. */
            char relic[64];
            if (dq_catalog_condition_object_relic(o, relic, sizeof(relic)) &&
                be->images->links(txn, relic, linked_image, s, err) < 0)
                return -1;
        }
    }
    return 0;
}

int dq_catalog_purge_scan(dq_catalog_t *cat, int64_t *seq, int limit,
                          int (*cb)(void *ud, const char *image_id), void *ud, dq_err_t *err)
{
    scan_t s = {.cat = cat, .after = *seq, .limit = limit > 0 ? limit : 500, .cb = cb, .ud = ud};
    int rc = dq_catalog_read(cat, scan_txn, &s, err);
    if (rc == 0)
        *seq = s.rows.last;
    for (size_t i = 0; i < s.rows.n; i++) {
        free(s.rows.action[i]);
        free(s.rows.object[i]);
    }
    free(s.rows.action);
    free(s.rows.object);
    return rc;
}
