/*
 * relic_write.c: relic writes and reads, backend-neutral: role checks, the read-check-write-
 * audit of every change in one write transaction (create, replace, merge patch, delete, image
 * links), the upsert of import batches (relic_import.c reads the files), and the single-record
 * read with restricted visibility. Documents are validated and shaped by relic_doc.c; rows are
 * stored through the backend's relic primitives (store.h); search is relic_search.c.
 */
#include "catalog/relic_internal.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define DOC_MAX (1024 * 1024)

static int need_curator(const dq_actor_t *who, dq_err_t *err)
{
    if (!who || who->role < DQ_ROLE_CURATOR)
        return dq_err_set(err, DQ_EINVAL, 403, "editing records needs the curator role");
    return 0;
}

static const char *who_name(const dq_actor_t *who)
{
    return who && who->user[0] ? who->user : "anonymous";
}

/* ---------------------------------------------------------------- writes */

enum { W_CREATE, W_REPLACE, W_PATCH, W_DELETE, W_IMAGES };

typedef struct {
    dq_catalog_t *cat;
    int kind;
    const char *id;
    int64_t if_version;
    const dq_actor_t *who;
    json_t *input;   /* parsed body (owned by the caller) */
    json_t *fe;      /* field errors */
    dq_buf_t *out;   /* stored document */
    json_t *written; /* the canonical doc that was written (for the dictionary) */
    int lenient_images;
} write_t;

/* Checks that every linked image exists (inside the transaction, so that a concurrent image
 * delete cannot slip between check and write). Lenient: drops unknown links instead. */
static int check_links(write_t *w, dq_store_txn_t *txn, json_t *d, dq_err_t *err)
{
    json_t *imgs = json_object_get(d, "images");
    for (size_t i = 0; i < json_array_size(imgs);) {
        const char *iid = json_string_value(json_object_get(json_array_get(imgs, i), "image_id"));
        int r = dq_catalog_backend(w->cat)->relics->image_exists(txn, iid, err);
        if (r < 0)
            return -1;
        if (r == 0 && w->lenient_images) {
            json_array_remove(imgs, i);
            continue;
        }
        if (r == 0)
            relic_fe_addf(w->fe, "unknown image", "images[%zu].image_id", i);
        i++;
    }
    if (imgs && json_array_size(imgs) == 0 && w->lenient_images)
        json_object_del(d, "images");
    return 0;
}

static int fail_invalid(write_t *w, dq_err_t *err)
{
    void *it = json_object_iter(w->fe);
    const char *first = it ? json_object_iter_key(it) : "";
    json_t *v = it ? json_object_iter_value(it) : NULL;
    return dq_err_set(err, DQ_EINVAL, 422, "invalid document (%s: %s)", first,
                      json_string_value(v) ? json_string_value(v) : "");
}

static int write_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_backend_t *b = dq_catalog_backend(w->cat);
    dq_relic_stored_t cur = {0};
    json_t *old = NULL, *next = NULL;
    relic_row_build_t rb = {0};
    char *detail = NULL, *old_text = NULL;
    char newid[64];
    int rc = -1;
    int exists = 0;

    if (w->kind != W_CREATE) {
        int r = b->relics->load(txn, w->id, NULL, &cur, err);
        if (r < 0)
            goto out;
        if (r == 1) {
            dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", w->id);
            goto out;
        }
        exists = 1;
        old = json_loadb(cur.doc, cur.doc_len, 0, NULL);
        if (!old) {
            dq_err_set(err, DQ_EINTERNAL, 500, "relic '%s': stored document is not JSON", w->id);
            goto out;
        }
        if (w->if_version >= 0 && w->if_version != cur.version) {
            dq_err_set(err, DQ_EEXIST, 412, "relic '%s' is at version %lld, not %lld", w->id,
                       (long long)cur.version, (long long)w->if_version);
            goto out;
        }
    }
    if (w->kind == W_DELETE) {
        char *det = dq_xasprintf("{\"version\":%lld,\"accession\":", (long long)cur.version);
        dq_buf_t db = {0};
        dq_buf_puts(&db, det);
        free(det);
        json_t *acc = json_object_get(old, "accession");
        char *a = json_dumps(acc, JSON_ENCODE_ANY);
        dq_buf_puts(&db, a ? a : "null");
        free(a);
        dq_buf_putc(&db, '}');
        rc =
            b->relics->remove(txn, w->id, err) < 0 ||
                    b->audit->append(txn, who_name(w->who), "relic.delete", w->id, db.data, err) < 0
                ? -1
                : 0;
        dq_buf_free(&db);
        goto out;
    }

    /* The candidate document. */
    json_t *cand = NULL;
    if (w->kind == W_CREATE || w->kind == W_REPLACE) {
        cand = json_incref(w->input);
        if (w->kind == W_REPLACE) {
            json_t *iid = json_object_get(cand, "id");
            if (iid && !(json_is_string(iid) && strcmp(json_string_value(iid), w->id) == 0))
                relic_fe_add(w->fe, "id", "does not match the URL");
            /* A replace that says nothing about images keeps the links (they have their own
             * endpoint); deep copy so that the caller's document is not modified. */
            if (!json_object_get(cand, "images") && json_object_get(old, "images")) {
                json_t *c2 = json_deep_copy(cand);
                json_decref(cand);
                cand = c2;
                json_object_set(cand, "images", json_object_get(old, "images"));
            }
        }
    } else if (w->kind == W_PATCH) {
        if (!json_is_object(w->input)) {
            relic_fe_add(w->fe, "", "a merge patch must be a JSON object");
        } else {
            json_t *iid = json_object_get(w->input, "id");
            if (iid && !(json_is_string(iid) && strcmp(json_string_value(iid), w->id) == 0))
                relic_fe_add(w->fe, "id", "read-only");
            cand = relic_merge_patch(old, w->input);
        }
    } else { /* W_IMAGES */
        cand = json_deep_copy(old);
        json_object_set(cand, "images", w->input);
        if (json_is_array(w->input) && json_array_size(w->input) == 0)
            json_object_del(cand, "images");
    }
    if (json_object_size(w->fe) == 0) {
        next = relic_normalize(cand, w->fe);
        if (next && check_links(w, txn, next, err) < 0) {
            json_decref(cand);
            goto out;
        }
    }
    json_decref(cand);
    if (json_object_size(w->fe) > 0) {
        fail_invalid(w, err);
        goto out;
    }

    if (w->kind == W_CREATE) {
        json_t *iid = json_object_get(w->input, "id");
        if (iid) {
            if (!json_is_string(iid) || !relic_id_ok(json_string_value(iid), err)) {
                relic_fe_add(w->fe, "id", "must match [A-Za-z0-9._-]{1,63}");
                fail_invalid(w, err);
                goto out;
            }
            snprintf(newid, sizeof(newid), "%s", json_string_value(iid));
        } else {
            char nid[32];
            if (b->relics->new_id(txn, nid, err) < 0)
                goto out;
            snprintf(newid, sizeof(newid), "%s", nid);
        }
        relic_row_build(&rb, next, newid, 1);
    } else {
        relic_row_build(&rb, next, w->id, cur.version + 1);
        old_text = dq_xstrndup(cur.doc, cur.doc_len);
        if (strcmp(old_text, rb.doc) == 0) { /* nothing changed: no new version, no audit */
            relic_doc_out(w->out, &cur);
            rc = 0;
            goto out;
        }
    }
    if (b->relics->save(txn, &rb.row, err) < 0)
        goto out;
    if (w->kind == W_CREATE) {
        detail = dq_xasprintf("{\"accession\":%s}", "null");
        json_t *det = json_pack("{s:O}", "accession", json_object_get(next, "accession"));
        free(detail);
        detail = json_dumps(det, JSON_COMPACT);
        json_decref(det);
    } else {
        detail = relic_diff_detail(old, next, cur.version + 1);
    }
    static const char *const actions[] = {"relic.create", "relic.replace", "relic.patch", "",
                                          "relic.images"};
    if (b->audit->append(txn, who_name(w->who), actions[w->kind], rb.row.id, detail, err) < 0)
        goto out;
    dq_relic_stored_t st = {0};
    int r = b->relics->load(txn, rb.row.id, NULL, &st, err);
    if (r != 0) {
        if (r == 1)
            dq_err_set(err, DQ_EINTERNAL, 500, "relic vanished after save");
        goto out;
    }
    relic_doc_out(w->out, &st);
    w->written = json_incref(next);
    (void)exists;
    rc = 0;
out:
    json_decref(old);
    json_decref(next);
    relic_row_free(&rb);
    free(detail);
    free(old_text);
    return rc;
}

static int run_write(dq_catalog_t *cat, int kind, const char *id, const char *json, size_t len,
                     int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                     dq_buf_t *field_errors, dq_err_t *err)
{
    write_t w = {.cat = cat, .kind = kind, .id = id, .if_version = if_version, .who = who};
    dq_buf_t sink = {0};
    int rc = -1;
    w.fe = json_object();
    w.out = out ? out : &sink;
    if (need_curator(who, err) < 0)
        goto out;
    if (kind != W_CREATE && !relic_id_ok(id, err)) {
        err->code = DQ_ENOTFOUND; /* an id that cannot exist does not exist */
        err->http_status = 404;
        goto out;
    }
    if (kind != W_DELETE) {
        if (len > DOC_MAX) {
            dq_err_set(err, DQ_ELIMIT, 413, "document larger than %d bytes", DOC_MAX);
            goto out;
        }
        json_error_t je;
        w.input = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je);
        if (!w.input) {
            dq_err_set(err, DQ_EINVAL, 400, "not JSON: %s (line %d)", je.text, je.line);
            goto out;
        }
    }
    rc = dq_catalog_write(cat, write_txn, &w, err);
    if (rc == 0 && w.written)
        relic_dict_add(cat, w.written);
out:
    if (rc < 0 && field_errors && json_object_size(w.fe) > 0) {
        char *s = json_dumps(w.fe, JSON_COMPACT);
        dq_buf_puts(field_errors, s);
        free(s);
    }
    json_decref(w.fe);
    json_decref(w.input);
    json_decref(w.written);
    dq_buf_free(&sink);
    return rc;
}

int dq_catalog_relic_create(dq_catalog_t *cat, const char *json, size_t len, const dq_actor_t *who,
                            dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_CREATE, NULL, json, len, -1, who, out, field_errors, err);
}

int dq_catalog_relic_replace(dq_catalog_t *cat, const char *id, const char *json, size_t len,
                             int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                             dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_REPLACE, id, json, len, if_version, who, out, field_errors, err);
}

int dq_catalog_relic_patch(dq_catalog_t *cat, const char *id, const char *merge_patch_text,
                           size_t len, int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                           dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_PATCH, id, merge_patch_text, len, if_version, who, out, field_errors,
                     err);
}

int dq_catalog_relic_delete(dq_catalog_t *cat, const char *id, int64_t if_version,
                            const dq_actor_t *who, dq_err_t *err)
{
    return run_write(cat, W_DELETE, id, NULL, 0, if_version, who, NULL, NULL, err);
}

int dq_catalog_relic_set_images(dq_catalog_t *cat, const char *id, const char *json_array,
                                size_t len, int64_t if_version, const dq_actor_t *who,
                                dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    return run_write(cat, W_IMAGES, id, json_array, len, if_version, who, out, field_errors, err);
}

/* ---------------------------------------------------------------- reads */

typedef struct {
    const dq_store_backend_t *b;
    const char *id;
    dq_relic_stored_t st;
    dq_buf_t doc; /* st.doc points here */
} get_t;

static int get_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    get_t *g = ud;
    int r = g->b->relics->load(txn, g->id, NULL, &g->st, err);
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", g->id);
    if (r < 0)
        return -1;
    dq_buf_append(&g->doc, g->st.doc, g->st.doc_len);
    g->st.doc = g->doc.data;
    return 0;
}

int dq_catalog_relic_get(dq_catalog_t *cat, const char *id, const dq_actor_t *who, dq_buf_t *out,
                         int64_t *version, dq_err_t *err)
{
    get_t g = {.b = dq_catalog_backend(cat), .id = id};
    int rc = -1;
    if (!relic_id_ok(id, err)) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%.64s'", id ? id : "");
        goto out;
    }
    if (dq_catalog_read(cat, get_txn, &g, err) < 0)
        goto out;
    if (!relic_show_restricted(who)) {
        json_t *d = json_loadb(g.doc.data, g.doc.len, 0, NULL);
        int hidden = json_is_true(json_object_get(d, "restricted"));
        json_decref(d);
        if (hidden) { /* indistinguishable from a missing record (docs/api.md "Roles") */
            dq_err_set(err, DQ_ENOTFOUND, 404, "no relic '%s'", id);
            goto out;
        }
    }
    if (out)
        relic_doc_out(out, &g.st);
    if (version)
        *version = g.st.version;
    rc = 0;
out:
    dq_buf_free(&g.doc);
    return rc;
}

/* ---------------------------------------------------------------- import batches */

/* An import batch is one write transaction. Its reads and its new relics go to the backend
 * in bulk (store.h load_accessions, insert_many: PostgreSQL would otherwise pay several round
 * trips per record), while the outcome stays that of writing the rows one by one in file
 * order: the same ids, versions, audit rows in the same order and the same errors. So a row
 * whose accession an earlier row of the batch already wrote sends what is pending first and
 * reads the stored relic again, and audit rows wait for the pending inserts that give them
 * their ids. */

#define PEND_MAX 1000 /* new relics sent to the backend at once (bounds the rows held) */
/* The first send of a batch: smaller, then doubling up to PEND_MAX. The server backends wait
 * from the last batch's commit until this batch's first rows arrive: with 1,000 rows first,
 * ~100 ms of client work per batch (rows built, tokenized) in which the server did nothing,
 * ~5 % of a quiet import (issue 15). Each later send is built while the server writes the
 * one before, which takes it longer (the server's time per row is above the client's). */
#define PEND_FIRST 125

/* The stored relic of a row's accession as the batch found it (doc NULL: none). */
typedef struct {
    char id[64];
    int64_t version;
    char *doc; /* owned */
    size_t doc_len;
} prior_t;

/* An audit row waiting for the end of the batch (or the next flush). */
typedef struct {
    const char *action; /* static */
    char id[64];        /* "" while pend >= 0 */
    char *detail;       /* owned */
    int pend;           /* >= 0: the pending insert whose id this row takes */
} pend_audit_t;

typedef struct {
    dq_catalog_t *cat;
    relic_import_row_t *rows;
    json_t **norm; /* canonical docs of the rows that passed validation (NULL: failed) */
    int n;
    const dq_actor_t *who;
    int dry_run;
    dq_import_error_fn on_error;
    void *ud;
    dq_import_stats_t *st;
    int *written;   /* 1 per row that was inserted or updated (dictionary) */
    prior_t *prior; /* per row, for the first row of each accession */
    /* New relics not yet sent: their rows, the batch row each came from, and the outcome. */
    relic_row_build_t *pend;
    int *pend_row, n_pend, n_built;
    int pend_cap; /* rows in the next send: PEND_FIRST, doubling up to PEND_MAX */
    char (*ids)[64];
    dq_err_t *errs;
    pend_audit_t *audits;
    int n_audits, cap_audits;
} batch_t;

/* The field errors fe as one line (new string). */
static char *fe_text(json_t *fe)
{
    dq_buf_t msg = {0};
    const char *k;
    json_t *v;
    json_object_foreach(fe, k, v)
    {
        if (msg.len)
            dq_buf_puts(&msg, "; ");
        dq_buf_printf(&msg, "%s: %s", *k ? k : "document", json_string_value(v));
    }
    if (!msg.len)
        dq_buf_puts(&msg, "invalid");
    return dq_buf_steal(&msg, NULL);
}

static void report_fe(batch_t *b, long line, json_t *fe)
{
    char *msg = fe_text(fe);
    if (b->on_error)
        b->on_error(b->ud, line, msg);
    b->st->failed++;
    free(msg);
}

json_t *relic_import_norm(json_t *doc, char **why)
{
    json_t *fe = json_object();
    json_t *d = relic_normalize(doc, fe);
    *why = d ? NULL : fe_text(fe);
    json_decref(fe);
    return d;
}

static void audit_push(batch_t *b, const char *action, const char *id, char *detail, int pend)
{
    if (b->n_audits == b->cap_audits) {
        b->cap_audits = b->cap_audits ? 2 * b->cap_audits : 64;
        b->audits = dq_xrealloc(b->audits, (size_t)b->cap_audits * sizeof(*b->audits));
    }
    pend_audit_t *a = &b->audits[b->n_audits++];
    a->action = action;
    snprintf(a->id, sizeof(a->id), "%s", id ? id : "");
    a->detail = detail;
    a->pend = pend;
}

/* Sends the pending new relics, then the audit rows so far, in row order. */
static int batch_flush(batch_t *b, dq_store_txn_t *txn, dq_err_t *err)
{
    const dq_store_backend_t *be = dq_catalog_backend(b->cat);
    int rc = -1;
    if (b->n_pend > 0) {
        dq_relic_row_t *rows = dq_xmalloc((size_t)b->n_pend * sizeof(*rows));
        for (int k = 0; k < b->n_pend; k++)
            rows[k] = b->pend[k].row;
        int r = be->relics->insert_many(txn, rows, b->n_pend, b->ids, b->errs, err);
        b->pend_cap = DQ_MIN(2 * b->pend_cap, PEND_MAX);
        free(rows);
        if (r < 0)
            goto out;
        for (int k = 0; k < b->n_pend; k++) {
            int i = b->pend_row[k];
            if (b->errs[k].code == DQ_OK) {
                b->st->inserted++;
                b->written[i] = 1;
                continue;
            }
            if (b->on_error)
                b->on_error(b->ud, b->rows[i].line, b->errs[k].msg);
            b->st->failed++;
        }
    }
    for (int k = 0; k < b->n_audits; k++) {
        pend_audit_t *a = &b->audits[k];
        if (a->pend >= 0) {
            if (b->errs[a->pend].code != DQ_OK)
                continue;
            snprintf(a->id, sizeof(a->id), "%s", b->ids[a->pend]);
        }
        if (be->audit->append(txn, who_name(b->who), a->action, a->id, a->detail, err) < 0)
            goto out;
    }
    rc = 0;
out:
    for (int k = 0; k < b->n_audits; k++)
        free(b->audits[k].detail);
    b->n_audits = 0;
    b->n_pend = 0;
    return rc;
}

static int prior_row(void *ud, int i, const dq_relic_stored_t *row)
{
    prior_t *p = &((prior_t *)((void **)ud)[0])[((int *)((void **)ud)[1])[i]];
    snprintf(p->id, sizeof(p->id), "%s", row->id);
    p->version = row->version;
    p->doc = dq_xstrndup(row->doc, row->doc_len);
    p->doc_len = row->doc_len;
    return 0;
}

/* The stored relics of the batch's accessions, one request: prior[i] for the first row i of
 * each accession. */
static int batch_priors(batch_t *b, dq_store_txn_t *txn, dq_err_t *err)
{
    const char **accs = dq_xcalloc((size_t)b->n + 1, sizeof(*accs));
    int *row_of = dq_xcalloc((size_t)b->n + 1, sizeof(*row_of));
    json_t *first = json_object();
    int n = 0;
    for (int i = 0; i < b->n; i++) {
        const char *acc = json_string_value(json_object_get(b->norm[i], "accession"));
        if (!acc || json_object_get(first, acc))
            continue;
        json_object_set_new(first, acc, json_true());
        accs[n] = acc;
        row_of[n++] = i;
    }
    void *ud[2] = {b->prior, row_of};
    int rc = n ? dq_catalog_backend(b->cat)->relics->load_accessions(txn, accs, n, prior_row, ud,
                                                                      err)
               : 0;
    json_decref(first);
    free(accs);
    free(row_of);
    return rc;
}

static int batch_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    batch_t *b = ud;
    const dq_store_backend_t *be = dq_catalog_backend(b->cat);
    relic_row_build_t rb = {0};
    json_t *old = NULL;
    json_t *seen = json_object(); /* accessions handled so far in this batch */
    int rc = -1;
    if (batch_priors(b, txn, err) < 0)
        goto out;
    for (int i = 0; i < b->n; i++) {
        json_t *d = b->norm[i];
        if (!d)
            continue;
        json_t *fe = json_object();
        write_t w = {.cat = b->cat, .fe = fe, .lenient_images = b->rows[i].lenient_images};
        if (check_links(&w, txn, d, err) < 0) {
            json_decref(fe);
            goto out;
        }
        if (json_object_size(fe) > 0) {
            report_fe(b, b->rows[i].line, fe);
            json_decref(fe);
            continue;
        }
        json_decref(fe);
        const char *acc = json_string_value(json_object_get(d, "accession"));
        dq_relic_stored_t cur = {0};
        int r = 1;
        if (json_object_get(seen, acc)) { /* written earlier in this batch: read it again */
            if (batch_flush(b, txn, err) < 0)
                goto out;
            r = be->relics->load(txn, NULL, acc, &cur, err);
            if (r < 0)
                goto out;
        } else if (b->prior[i].doc) {
            snprintf(cur.id, sizeof(cur.id), "%s", b->prior[i].id);
            cur.version = b->prior[i].version;
            cur.doc = b->prior[i].doc;
            cur.doc_len = b->prior[i].doc_len;
            r = 0;
        }
        json_object_set_new(seen, acc, json_true());
        dq_err_t rerr = {0};
        if (r == 0) {
            json_decref(old);
            old = json_loadb(cur.doc, cur.doc_len, 0, NULL);
            /* Rows without images keep the links made since (by the API or an earlier
             * import), so that re-importing the same metadata is a no-op. */
            if (!json_object_get(d, "images") && json_object_get(old, "images"))
                json_object_set(d, "images", json_object_get(old, "images"));
            json_t *iid = json_object_get(b->rows[i].doc, "id");
            if (iid && strcmp(json_string_value(iid) ? json_string_value(iid) : "", cur.id)) {
                if (b->on_error)
                    b->on_error(b->ud, b->rows[i].line, "id: accession belongs to another id");
                b->st->failed++;
                continue;
            }
            char id[64];
            snprintf(id, sizeof(id), "%s", cur.id);
            int64_t v = cur.version;
            char *txt = relic_doc_text(d);
            int same = strlen(txt) == cur.doc_len && memcmp(txt, cur.doc, cur.doc_len) == 0;
            free(txt);
            if (same) {
                b->st->unchanged++;
                continue;
            }
            relic_row_build(&rb, d, id, v + 1);
            if (!b->dry_run) {
                if (be->relics->save(txn, &rb.row, &rerr) < 0)
                    goto row_failed;
                audit_push(b, "relic.import", id, relic_diff_detail(old, d, v + 1), -1);
            }
            b->st->updated++;
            b->written[i] = 1;
            continue;
        }
        const char *explicit_id = NULL;
        json_t *iid = json_object_get(b->rows[i].doc, "id");
        if (iid) {
            if (!json_is_string(iid) || !relic_id_ok(json_string_value(iid), &rerr)) {
                dq_err_set(&rerr, DQ_EINVAL, 422, "id: must match [A-Za-z0-9._-]{1,63}");
                goto row_failed;
            }
            explicit_id = json_string_value(iid);
        }
        if (b->dry_run) {
            b->st->inserted++;
            continue;
        }
        /* Sent with the others at the next flush, which counts it and fills its id. */
        relic_row_build(&b->pend[b->n_pend], d, explicit_id, 1);
        b->n_built = DQ_MAX(b->n_built, b->n_pend + 1);
        b->pend_row[b->n_pend] = i;
        json_t *det = json_pack("{s:s, s:b}", "accession", acc, "import", 1);
        audit_push(b, "relic.create", NULL, json_dumps(det, JSON_COMPACT), b->n_pend);
        json_decref(det);
        if (++b->n_pend >= b->pend_cap && batch_flush(b, txn, err) < 0)
            goto out;
        continue;
    row_failed:
        if (rerr.code == DQ_EIO || rerr.code == DQ_EINTERNAL) {
            *err = rerr;
            goto out;
        }
        if (b->on_error)
            b->on_error(b->ud, b->rows[i].line, rerr.msg);
        b->st->failed++;
    }
    if (batch_flush(b, txn, err) < 0)
        goto out;
    rc = 0;
    if (b->dry_run) { /* roll back whatever the reads touched */
        dq_err_set(err, DQ_OK, 0, "dry run");
        rc = -1;
    }
out:
    for (int k = 0; k < b->n_audits; k++)
        free(b->audits[k].detail);
    b->n_audits = 0;
    b->n_pend = 0;
    json_decref(seen);
    json_decref(old);
    relic_row_free(&rb);
    return rc;
}

int relic_import_batch(dq_catalog_t *cat, relic_import_row_t *rows, json_t **norm, int *written,
                       int n, const dq_actor_t *who, int dry_run, dq_import_error_fn on_error,
                       void *ud, dq_import_stats_t *st, dq_err_t *err)
{
    batch_t b = {.cat = cat,
                 .rows = rows,
                 .n = n,
                 .who = who,
                 .dry_run = dry_run,
                 .on_error = on_error,
                 .ud = ud,
                 .st = st,
                 .pend_cap = PEND_FIRST};
    int rc = -1;
    dq_import_stats_t saved = *st;
    b.norm = dq_xcalloc((size_t)n ? (size_t)n : 1, sizeof(*b.norm));
    b.written = written ? written : dq_xcalloc((size_t)n ? (size_t)n : 1, sizeof(*b.written));
    b.prior = dq_xcalloc((size_t)n ? (size_t)n : 1, sizeof(*b.prior));
    b.pend = dq_xcalloc(PEND_MAX, sizeof(*b.pend));
    b.pend_row = dq_xcalloc(PEND_MAX, sizeof(*b.pend_row));
    b.ids = dq_xcalloc(PEND_MAX, sizeof(*b.ids));
    b.errs = dq_xcalloc(PEND_MAX, sizeof(*b.errs));
    for (int i = 0; i < n; i++) {
        if (norm) { /* validated and reported by the caller */
            b.norm[i] = norm[i];
            continue;
        }
        json_t *fe = json_object();
        b.norm[i] = relic_normalize(rows[i].doc, fe);
        if (!b.norm[i])
            report_fe(&b, rows[i].line, fe);
        json_decref(fe);
    }
    saved.failed = st->failed;
    if (dq_catalog_write(cat, batch_txn, &b, err) < 0 && !(dry_run && err->code == DQ_OK)) {
        /* The whole batch rolled back: its counts must not claim otherwise. */
        *st = saved;
        goto out;
    }
    dq_err_clear(err);
    if (!dry_run && !written) /* else the caller's (relic_import_batch's header) */
        for (int i = 0; i < n; i++)
            if (b.written[i])
                relic_dict_add(cat, b.norm[i]);
    rc = 0;
out:
    for (int i = 0; i < n && !norm; i++) {
        json_decref(b.norm[i]);
        json_decref(rows[i].doc);
        rows[i].doc = NULL;
    }
    for (int i = 0; i < n; i++)
        free(b.prior[i].doc);
    for (int k = 0; k < b.n_built; k++)
        relic_row_free(&b.pend[k]);
    free(b.norm);
    if (!written)
        free(b.written);
    free(b.prior);
    free(b.pend);
    free(b.pend_row);
    free(b.ids);
    free(b.errs);
    free(b.audits);
    return rc;
}
