/*
 * catalog/spectral.c: the policy of spectral captures (issue 11), above the storage interface.
 * A capture belongs to a relic and is visible to whoever may see that relic; only
 * conservators and above (and the command line) add, replace or remove one. Every write
 * adds an audit row ("spectral.add", "spectral.replace", "spectral.layer", "spectral.delete";
 * object "capture/<id>"). The record itself (bands, kinds, wavelengths, residuals, shifts)
 * is JSON written by the caller; this file checks that it is an object and stores it
 * canonically. It does not touch pixels or files.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "catalog/relic_internal.h"
#include "catalog/store.h"

void dq_capture_free(dq_capture_t *c)
{
    if (!c)
        return;
    free(c->doc);
    c->doc = NULL;
}

static int may_write(const dq_actor_t *who, dq_err_t *err)
{
    if (!who || who->role < DQ_ROLE_CONSERVATOR)
        return dq_err_set(err, DQ_EINVAL, who && who->user[0] ? 403 : 401,
                          "spectral captures are written by conservators and above");
    return 0;
}

/* The relic named by id or accession, if who may see it: 0 with its id, 1 when not (404). */
static int find_relic(const dq_store_backend_t *b, dq_store_txn_t *txn, const char *relic,
                      const dq_actor_t *who, char id[64], dq_err_t *err)
{
    dq_relic_stored_t st;
    int r = b->relics->load(txn, relic, NULL, &st, err);
    if (r == 1)
        r = b->relics->load(txn, NULL, relic, &st, err);
    if (r != 0)
        return r;
    if (!relic_show_restricted(who)) {
        json_t *d = json_loadb(st.doc, st.doc_len, 0, NULL);
        int hidden = json_is_true(json_object_get(d, "restricted"));
        json_decref(d);
        if (hidden)
            return 1;
    }
    snprintf(id, 64, "%s", st.id);
    return 0;
}

/* ---------------------------------------------------------------- put */

typedef struct {
    const dq_store_backend_t *be;
    const char *relic, *id, *doc;
    int width, height, replace;
    const dq_actor_t *who;
    dq_capture_t *out;
} put_t;

static int copy_row(void *ud, const dq_spectral_row_t *row)
{
    dq_capture_t *c = ud;
    snprintf(c->id, sizeof(c->id), "%s", row->id);
    snprintf(c->relic_id, sizeof(c->relic_id), "%s", row->relic_id);
    c->width = row->width;
    c->height = row->height;
    free(c->doc);
    c->doc = dq_xstrdup(row->doc ? row->doc : "{}");
    snprintf(c->created, sizeof(c->created), "%s", row->created);
    snprintf(c->modified, sizeof(c->modified), "%s", row->modified);
    return 1;
}

static int put_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    put_t *p = ud;
    const dq_store_backend_t *b = p->be;
    char rid[64];
    int r = find_relic(b, txn, p->relic, p->who, rid, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic %s (id or accession)", p->relic);
    dq_spectral_row_t row = {.width = p->width, .height = p->height, .doc = p->doc};
    snprintf(row.id, sizeof(row.id), "%s", p->id);
    snprintf(row.relic_id, sizeof(row.relic_id), "%s", rid);
    int existed = b->spectral->get(txn, p->id, copy_row, p->out, err);
    if (existed < 0)
        return -1;
    if (existed == 0 && !p->replace)
        return dq_err_set(err, DQ_EEXIST, 409, "capture %s exists (use --replace)", p->id);
    if (b->spectral->put(txn, &row, p->replace, err) < 0)
        return -1;
    char *obj = dq_xasprintf("capture/%s", p->id);
    char *detail = dq_xasprintf("{\"relic\":\"%s\"}", rid);
    r = b->audit->append(txn, p->who->user, existed == 0 ? "spectral.replace" : "spectral.add", obj,
                         detail, err);
    free(obj);
    free(detail);
    if (r < 0)
        return -1;
    return b->spectral->get(txn, p->id, copy_row, p->out, err) == 0
               ? 0
               : dq_err_set(err, DQ_EINTERNAL, 500, "capture %s vanished", p->id);
}

/* Canonical JSON of doc (an object), or NULL with err. */
static char *canonical(const char *doc, dq_err_t *err)
{
    json_error_t je;
    json_t *j = json_loads(doc ? doc : "", 0, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        dq_err_set(err, DQ_EINVAL, 400, "capture record is not a JSON object");
        return NULL;
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(10));
    json_decref(j);
    return s;
}

int dq_capture_id_valid(const char *id, dq_err_t *err)
{
    return dq_image_id_valid(id, err);
}

int dq_catalog_capture_put(dq_catalog_t *cat, const char *relic, const char *id, int width,
                           int height, const char *doc, int replace, const dq_actor_t *who,
                           dq_capture_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (may_write(who, err) < 0 || !dq_capture_id_valid(id, err))
        return -1;
    if (width < 1 || height < 1)
        return dq_err_set(err, DQ_EINVAL, 400, "capture size %dx%d", width, height);
    char *c = canonical(doc, err);
    if (!c)
        return -1;
    put_t p = {dq_catalog_backend(cat), relic, id, c, width, height, replace, who, out};
    int rc = dq_catalog_write(cat, put_txn, &p, err);
    free(c);
    if (rc < 0)
        dq_capture_free(out);
    return rc;
}

/* ---------------------------------------------------------------- reads */

typedef struct {
    const dq_store_backend_t *be;
    const char *id;
    const dq_actor_t *who;
    dq_capture_t *out;
    dq_buf_t *buf;
    int n;
} get_t;

static int get_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    get_t *g = ud;
    const dq_store_backend_t *b = g->be;
    int r = b->spectral->get(txn, g->id, copy_row, g->out, err);
    if (r < 0)
        return -1;
    char rid[64];
    if (r == 0 && (r = find_relic(b, txn, g->out->relic_id, g->who, rid, err)) < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no capture %s", g->id);
    return 0;
}

int dq_catalog_capture_get(dq_catalog_t *cat, const char *id, const dq_actor_t *who,
                           dq_capture_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    get_t g = {.be = dq_catalog_backend(cat), .id = id, .who = who, .out = out};
    int rc = dq_catalog_read(cat, get_txn, &g, err);
    if (rc < 0)
        dq_capture_free(out);
    return rc;
}

static int list_row(void *ud, const dq_spectral_row_t *row)
{
    get_t *g = ud;
    json_t *d = json_loads(row->doc ? row->doc : "{}", 0, NULL);
    json_t *e = json_pack("{s:s, s:s, s:i, s:i, s:s, s:s}", "id", row->id, "relic", row->relic_id,
                          "width", row->width, "height", row->height, "created", row->created,
                          "modified", row->modified);
    json_object_set(e, "bands",
                    json_object_get(d, "bands") ? json_object_get(d, "bands") : json_array());
    char *s = json_dumps(e, JSON_COMPACT | JSON_REAL_PRECISION(10));
    dq_buf_puts(g->buf, g->n++ ? "," : "");
    dq_buf_puts(g->buf, s);
    free(s);
    json_decref(e);
    json_decref(d);
    return 0;
}

static int list_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    get_t *g = ud;
    const dq_store_backend_t *b = g->be;
    char rid[64];
    if (!g->id) { /* every capture: for fixity and maintenance, administrators only */
        if (g->who->role < DQ_ROLE_ADMIN)
            return dq_err_set(err, DQ_EINVAL, 403, "listing every capture needs admin");
        dq_buf_putc(g->buf, '[');
        if (b->spectral->list(txn, NULL, list_row, g, err) < 0)
            return -1;
        dq_buf_putc(g->buf, ']');
        return 0;
    }
    int r = find_relic(b, txn, g->id, g->who, rid, err);
    if (r < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no relic %s", g->id);
    dq_buf_putc(g->buf, '[');
    if (b->spectral->list(txn, rid, list_row, g, err) < 0)
        return -1;
    dq_buf_putc(g->buf, ']');
    return 0;
}

int dq_catalog_capture_list(dq_catalog_t *cat, const char *relic, const dq_actor_t *who,
                            dq_buf_t *out, dq_err_t *err)
{
    get_t g = {.be = dq_catalog_backend(cat), .id = relic, .who = who, .buf = out};
    return dq_catalog_read(cat, list_txn, &g, err);
}

/* ---------------------------------------------------------------- layers */

typedef struct {
    const dq_store_backend_t *be;
    const char *capture, *name, *kind, *doc;
    const dq_actor_t *who;
    dq_buf_t *buf;
    int n;
} layer_t;

static int layer_put_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    layer_t *l = ud;
    const dq_store_backend_t *b = l->be;
    dq_capture_t c = {0};
    int r = b->spectral->get(txn, l->capture, copy_row, &c, err);
    dq_capture_free(&c);
    if (r < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no capture %s", l->capture);
    dq_spectral_layer_row_t row = {.doc = l->doc};
    snprintf(row.capture_id, sizeof(row.capture_id), "%s", l->capture);
    snprintf(row.name, sizeof(row.name), "%s", l->name);
    snprintf(row.kind, sizeof(row.kind), "%s", l->kind);
    if (b->spectral->put_layer(txn, &row, err) < 0)
        return -1;
    char *obj = dq_xasprintf("capture/%s", l->capture);
    json_t *dj = json_pack("{s:s, s:s}", "layer", l->name, "kind", l->kind);
    char *detail = json_dumps(dj, JSON_COMPACT);
    json_decref(dj);
    r = b->audit->append(txn, l->who->user, "spectral.layer", obj, detail, err);
    free(obj);
    free(detail);
    return r;
}

int dq_catalog_capture_layer_put(dq_catalog_t *cat, const char *capture_id, const char *name,
                                 const char *kind, const char *doc, const dq_actor_t *who,
                                 dq_err_t *err)
{
    if (may_write(who, err) < 0 || !dq_capture_id_valid(name, err))
        return -1;
    if (!kind || !*kind || strlen(kind) > 31)
        return dq_err_set(err, DQ_EINVAL, 400, "layer kind must be 1..31 bytes");
    char *c = canonical(doc, err);
    if (!c)
        return -1;
    layer_t l = {dq_catalog_backend(cat), capture_id, name, kind, c, who, NULL, 0};
    int rc = dq_catalog_write(cat, layer_put_txn, &l, err);
    free(c);
    return rc;
}

static int layer_row(void *ud, const dq_spectral_layer_row_t *row)
{
    layer_t *l = ud;
    json_t *d = json_loads(row->doc ? row->doc : "{}", 0, NULL);
    json_t *e = json_pack("{s:s, s:s, s:s, s:O}", "name", row->name, "kind", row->kind, "created",
                          row->created, "doc", d ? d : json_null());
    char *s = json_dumps(e, JSON_COMPACT | JSON_REAL_PRECISION(10));
    dq_buf_puts(l->buf, l->n++ ? "," : "");
    dq_buf_puts(l->buf, s);
    free(s);
    json_decref(e);
    json_decref(d);
    return 0;
}

static int layers_txn(void *ud, dq_store_txn_t *txn, dq_err_t *err)
{
    layer_t *l = ud;
    const dq_store_backend_t *b = l->be;
    dq_capture_t c = {0};
    int r = b->spectral->get(txn, l->capture, copy_row, &c, err);
    char rid[64];
    if (r == 0)
        r = find_relic(b, txn, c.relic_id, l->who, rid, err);
    dq_capture_free(&c);
    if (r < 0)
        return -1;
    if (r == 1)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no capture %s", l->capture);
    dq_buf_putc(l->buf, '[');
    if (b->spectral->layers(txn, l->capture, layer_row, l, err) < 0)
        return -1;
    dq_buf_putc(l->buf, ']');
    return 0;
}

int dq_catalog_capture_layers(dq_catalog_t *cat, const char *capture_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err)
{
    layer_t l = {.be = dq_catalog_backend(cat), .capture = capture_id, .who = who, .buf = out};
    return dq_catalog_read(cat, layers_txn, &l, err);
}
