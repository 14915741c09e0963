/*
 * network.c: what the catalog tells harvesters and aggregators (catalog.h "network"), in
 * backend-neutral policy over store.h's dq_store_network_ops: the records OAI-PMH lists
 * (live relics and tombstones, as the asker may see them) and the relic change feed that
 * IIIF Change Discovery publishes (audit actions mapped to Create / Update / Delete). It
 * writes nothing and builds no protocol XML or JSON-LD: http/ and lod/ do that.
 */
#include "catalog/catalog.h"
#include "catalog/store.h"

#include <stdlib.h>
#include <string.h>

/* A backend without the network primitives (one that predates them) answers 501 rather
 * than calling through a NULL pointer. */
static int have_ops(dq_catalog_t *cat, dq_err_t *err)
{
    if (dq_catalog_backend(cat)->network)
        return 0;
    return dq_err_set(err, DQ_EUNSUP, 501, "this catalog backend (%s) has no harvesting support",
                      dq_catalog_backend(cat)->name);
}

/* ---------------------------------------------------------------- records */

typedef struct {
    const dq_store_backend_t *be;
    dq_store_stamp_query_t sq;
    dq_net_record_cb cb;
    void *ud;
    dq_buf_t doc; /* the current record's whole document */
} records_t;

/* The stored user document with "id" put first: {"id":"...",<the rest>}. */
static void whole_doc(dq_buf_t *out, const char *id, const char *doc, size_t len)
{
    dq_buf_reset(out);
    dq_buf_puts(out, "{\"id\":\"");
    dq_buf_json_str(out, id, strlen(id));
    dq_buf_putc(out, '"');
    /* doc is a canonical JSON object: "{" then members, or "{}". */
    if (len > 2 && doc[0] == '{') {
        dq_buf_putc(out, ',');
        dq_buf_append(out, doc + 1, len - 1);
    } else {
        dq_buf_putc(out, '}');
    }
}

static int record_row(void *ud, const dq_store_stamp_row_t *row)
{
    records_t *r = ud;
    dq_net_record_t rec = {
        .id = row->id,
        .datestamp = row->datestamp,
        .dynasty = row->dynasty,
        .object_type = row->object_type,
        .deleted = row->deleted,
    };
    if (row->doc && !row->deleted) {
        whole_doc(&r->doc, row->id, row->doc, row->doc_len);
        rec.doc = r->doc.data;
        rec.doc_len = r->doc.len;
    }
    return r->cb(r->ud, &rec);
}

static int records_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    records_t *r = ud;
    return r->be->network->stamps(txn, &r->sq, record_row, r, err);
}

int dq_catalog_net_records(dq_catalog_t *cat, const dq_net_query_t *q, const dq_actor_t *who,
                           dq_net_record_cb cb, void *ud, dq_err_t *err)
{
    if (q->limit < 1 || q->limit > 1000)
        return dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..1000");
    if (have_ops(cat, err) < 0)
        return -1;
    records_t r = {
        .be = dq_catalog_backend(cat),
        .sq =
            {
                .from = q->from,
                .until = q->until,
                .dynasty = q->dynasty,
                .object_type = q->object_type,
                .include_restricted = who && who->role > DQ_ROLE_ANON,
                .after = q->after,
                .id = q->id,
                .limit = q->limit,
                .with_docs = q->with_docs,
            },
        .cb = cb,
        .ud = ud,
    };
    int rc = dq_catalog_read(cat, records_txn, &r, err);
    dq_buf_free(&r.doc);
    return rc;
}

static int earliest_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    dq_catalog_t *cat = ((void **)ud)[0];
    char *out = ((void **)ud)[1];
    return dq_catalog_backend(cat)->network->earliest(txn, out, err);
}

int dq_catalog_net_earliest(dq_catalog_t *cat, char *out, dq_err_t *err)
{
    out[0] = '\0';
    if (have_ops(cat, err) < 0)
        return -1;
    void *ud[2] = {cat, out};
    return dq_catalog_read(cat, earliest_txn, ud, err);
}

/* ---------------------------------------------------------------- the change feed */

/* What an audit action is to an aggregator. relic.import writes only updates (a new
 * accession from an import is audited as relic.create). */
static const char *activity_of(const char *action)
{
    if (strcmp(action, "relic.create") == 0)
        return "Create";
    if (strcmp(action, "relic.delete") == 0)
        return "Delete";
    return "Update";
}

typedef struct {
    char *id, *at;
    const char *kind;
    int64_t seq;
} change_t;

typedef struct {
    const dq_store_backend_t *be;
    int64_t offset;
    int limit;
    int show_restricted;
    change_t *rows;
    size_t n_rows;
    int64_t total;
} changes_t;

static int change_row(void *ud, const dq_store_audit_row_t *row)
{
    changes_t *c = ud;
    c->rows = dq_xrealloc(c->rows, (c->n_rows + 1) * sizeof(*c->rows));
    c->rows[c->n_rows++] = (change_t){.id = dq_xstrdup(row->object),
                                      .at = dq_xstrdup(row->at),
                                      .kind = activity_of(row->action),
                                      .seq = row->seq};
    return 0;
}

/* What the change feed needs to know of one relic now. */
typedef struct {
    int restricted, no_manifest;
    int64_t withdrawn; /* public once, restricted now (anonymous view): 1 + the audit seq
                          before the withdrawing write */
} now_t;

static int relic_now(void *ud, const dq_store_stamp_row_t *row)
{
    now_t *n = ud;
    if (row->withdrawn) {
        n->withdrawn = row->withdrawn;
    } else {
        n->restricted = row->restricted;
        n->no_manifest = !row->deleted && !row->has_images;
    }
    return 1;
}

static int changes_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    changes_t *c = ud;
    const dq_store_network_ops *net = c->be->network;
    if (net->relic_change_count(txn, &c->total, err) < 0 ||
        net->relic_changes(txn, c->offset, c->limit, change_row, c, err) < 0)
        return -1;
    /* Leave out what the asker may not see now: a restricted relic (live, or its tombstone);
     * and, for everyone, a live relic without images: the activity's object is its Manifest,
     * which does not exist then. A relic whose deletion left no tombstone (migration 14
     * could not tell its flag) counts as public, as it was listed before.
     * A relic that was public and is restricted now (withdrawn) must not vanish for those
     * who may not see it, or an aggregator keeps its copy for ever: its changes from when it
     * was public stay as they were, the change that withdrew it (its first audit row at or
     * after the withdrawal) is a Delete, and what came after is left out. */
    for (size_t i = 0; i < c->n_rows; i++) {
        now_t n = {0};
        dq_store_stamp_query_t q = {.id = c->rows[i].id, .include_restricted = 1, .limit = 1};
        if (net->stamps(txn, &q, relic_now, &n, err) < 0)
            return -1;
        if (n.restricted && !c->show_restricted) {
            q.include_restricted = 0;
            if (net->stamps(txn, &q, relic_now, &n, err) < 0)
                return -1;
        }
        if (n.withdrawn) {
            int64_t first = 0, before = n.withdrawn - 1;
            if (c->rows[i].seq <= before) {
                if (n.no_manifest)
                    c->rows[i].kind = NULL;
            } else if (net->first_change(txn, c->rows[i].id, before, &first, err) < 0) {
                return -1;
            } else {
                c->rows[i].kind = first == c->rows[i].seq ? "Delete" : NULL;
            }
        } else if ((n.restricted && !c->show_restricted) || n.no_manifest) {
            c->rows[i].kind = NULL;
        }
    }
    return 0;
}

int dq_catalog_net_changes(dq_catalog_t *cat, int64_t offset, int limit, const dq_actor_t *who,
                           dq_net_change_cb cb, void *ud, int64_t *total, dq_err_t *err)
{
    if (limit < 1 || limit > 1000 || offset < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..1000 and offset >= 0");
    if (have_ops(cat, err) < 0) {
        if (total)
            *total = 0;
        return -1;
    }
    changes_t c = {.be = dq_catalog_backend(cat),
                   .offset = offset,
                   .limit = limit,
                   .show_restricted = who && who->role > DQ_ROLE_ANON};
    int rc = dq_catalog_read(cat, changes_txn, &c, err);
    /* The callbacks run after the read transaction ends, so they may call the catalog. */
    for (size_t i = 0; i < c.n_rows; i++) {
        if (rc == 0 && c.rows[i].kind && cb && cb(ud, c.rows[i].kind, c.rows[i].id, c.rows[i].at))
            rc = 1;
        free(c.rows[i].id);
        free(c.rows[i].at);
    }
    free(c.rows);
    if (total)
        *total = c.total;
    return rc < 0 ? -1 : 0;
}
