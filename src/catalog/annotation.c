/*
 * annotation.c: annotations on a relic's canvases and guided tours, the logic behind
 * catalog.h "annotations and tours": validation of the neutral documents (region inside the
 * canvas, motivations, bodies, tour stops), the access rules (who may write, who may see a
 * restricted relic's or a private tour's data), the Content Search query (through search/'s
 * planner, so Chinese, pinyin and English behave as in relic search) and the JSON the
 * catalog hands out. It does not know W3C or IIIF JSON: http/ maps those onto this form,
 * because their ids are URLs of the server the client addressed. Each write is one
 * transaction of the backend's row primitives (store.h) with its audit row, written here.
 */
#include "catalog.h"
#include "store.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>


#define MAX_BODIES 8
#define MAX_BODY_BYTES 4000
#define MAX_TAG_BYTES 64
#define MAX_STOPS 200
#define MAX_TITLE_BYTES 400
#define HIT_CONTEXT 24 /* characters of prefix/suffix around a Content Search hit */

static const char *const motivations[] = {"commenting", "describing", "identifying", "tagging"};

/* ---------------------------------------------------------------- helpers */

static void fe_add(json_t *fe, const char *path, const char *msg)
{
    if (!json_object_get(fe, path))
        json_object_set_new(fe, path, json_string(msg));
}

static void fe_addf(json_t *fe, const char *msg, const char *fmt, int i)
{
    char path[96];
    snprintf(path, sizeof(path), fmt, i);
    fe_add(fe, path, msg);
}

/* 422 with the field errors into field_errors (when given). Returns -1. */
static int fail_fields(json_t *fe, dq_buf_t *field_errors, dq_err_t *err)
{
    if (field_errors) {
        char *s = json_dumps(fe, JSON_COMPACT | JSON_SORT_KEYS);
        dq_buf_puts(field_errors, s ? s : "{}");
        free(s);
    }
    const char *first = "invalid";
    const char *k;
    json_t *v;
    json_object_foreach(fe, k, v)
    {
        first = k;
        break;
    }
    return dq_err_set(err, DQ_EINVAL, 422, "invalid document (%.100s: %.100s)", first,
                      json_string_value(json_object_get(fe, first)));
}

static void dump_to(dq_buf_t *out, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(out, s);
    free(s);
}

/* 1 when s has no control characters other than tab and newline. */
static int text_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
            return 0;
    return 1;
}

static int motivation_index(const char *m)
{
    for (int i = 0; i < (int)DQ_ARRAY_LEN(motivations); i++)
        if (m && strcmp(m, motivations[i]) == 0)
            return i;
    return -1;
}

static json_t *parse_json(const char *json, size_t len, dq_err_t *err)
{
    json_error_t je;
    json_t *j = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(j)) {
        json_decref(j);
        dq_err_set(err, DQ_EINVAL, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

static int need_role(const dq_actor_t *who, int role, dq_err_t *err)
{
    if (!who || who->role == DQ_ROLE_ANON)
        return dq_err_set(err, DQ_EINVAL, 401, "sign in first");
    if (who->role < role)
        return dq_err_set(err, DQ_EINVAL, 403, "your role may not do this");
    return 0;
}

/* One annotation or tour write: the row, the version to check, the audit row's parts. */
typedef struct {
    const dq_store_backend_t *be;
    int kind; /* W_ANNO_INSERT, ... */
    dq_anno_row_t *anno;
    dq_tour_row_t *tour;
    const char *relic_id;
    int64_t id, if_version;
    const char *who, *detail;
} write_t;

enum { W_ANNO_INSERT, W_ANNO_UPDATE, W_ANNO_DELETE, W_TOUR_INSERT, W_TOUR_UPDATE, W_TOUR_DELETE };

static int write_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_anno_ops *a = w->be->annos;
    const dq_store_tour_ops *to = w->be->tours;
    char object[128];
    const char *action = NULL;
    int r = -1;
    switch (w->kind) {
    case W_ANNO_INSERT:
        r = a->insert(t, w->anno, err), action = "annotation.create";
        break;
    case W_ANNO_UPDATE:
        r = a->update(t, w->anno, w->if_version, err), action = "annotation.replace";
        break;
    case W_ANNO_DELETE:
        r = a->remove(t, w->relic_id, w->id, w->if_version, err), action = "annotation.delete";
        break;
    case W_TOUR_INSERT:
        r = to->insert(t, w->tour, err), action = "tour.create";
        break;
    case W_TOUR_UPDATE:
        r = to->update(t, w->tour, w->if_version, err), action = "tour.replace";
        break;
    case W_TOUR_DELETE:
        r = to->remove(t, w->id, w->if_version, err), action = "tour.delete";
        break;
    }
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such %s",
                          w->kind <= W_ANNO_DELETE ? "annotation" : "tour");
    if (r < 0)
        return -1;
    if (w->kind <= W_ANNO_DELETE)
        snprintf(object, sizeof(object), "%s/annotations/%lld",
                 w->anno ? w->anno->relic_id : w->relic_id,
                 (long long)(w->anno ? w->anno->id : w->id));
    else
        snprintf(object, sizeof(object), "tour/t%lld", (long long)(w->tour ? w->tour->id : w->id));
    return w->be->audit->append(t, w->who, action, object, w->detail, err);
}

/* A read of annotations or tours (one of the callbacks set). */
typedef struct {
    const dq_store_backend_t *be;
    int kind; /* R_ANNO_GET, ... */
    const char *relic_id, *q, *creator;
    int64_t id, offset;
    int canvas, limit;
    unsigned motivations;
    int64_t *total;
    dq_anno_cb acb;
    dq_tour_cb tcb;
    void *ud;
} read_t;

enum { R_ANNO_GET, R_ANNO_LIST, R_ANNO_SEARCH, R_TOUR_GET, R_TOUR_LIST };

static int read_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    int rc = -1;
    switch (r->kind) {
    case R_ANNO_GET:
        rc = r->be->annos->get(t, r->relic_id, r->id, r->acb, r->ud, err);
        if (rc > 0)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no annotation %lld on '%s'",
                              (long long)r->id, r->relic_id);
        break;
    case R_ANNO_LIST:
        rc = r->be->annos->list(t, r->relic_id, r->canvas, r->offset, r->limit, r->acb, r->ud,
                                r->total, err);
        break;
    case R_ANNO_SEARCH:
        rc = r->be->annos->search(t, r->relic_id, r->q, r->motivations, r->creator, r->limit,
                                  r->acb, r->ud, err);
        break;
    case R_TOUR_GET:
        rc = r->be->tours->get(t, r->id, r->tcb, r->ud, err);
        if (rc > 0)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "no such tour");
        break;
    case R_TOUR_LIST:
        rc = r->be->tours->list(t, r->relic_id, r->tcb, r->ud, err);
        break;
    }
    return rc;
}

/* ---------------------------------------------------------------- canvases */

/* The relic's canvas geometry, numbered as the manifest numbers them: the relic's images
 * in order, skipping those without an image record or without a size. */
typedef struct {
    int n;
    int *w, *h;
    char **image_id;
} canvases_t;

static void canvases_free(canvases_t *c)
{
    for (int i = 0; i < c->n; i++)
        free(c->image_id[i]);
    free(c->image_id);
    free(c->w);
    free(c->h);
    memset(c, 0, sizeof(*c));
}

/* Checks that who may see relic_id (404 otherwise) and fills c (caller frees). */
static int canvases_load(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                         canvases_t *c, dq_err_t *err)
{
    dq_buf_t doc = {0};
    json_t *j = NULL;
    int rc = -1;
    memset(c, 0, sizeof(*c));
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0)
        goto out;
    j = json_loadb(doc.data, doc.len, 0, NULL);
    const json_t *links = json_object_get(j, "images");
    size_t n = json_array_size(links);
    c->w = dq_xcalloc(n + 1, sizeof(int));
    c->h = dq_xcalloc(n + 1, sizeof(int));
    c->image_id = dq_xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) {
        const char *iid = json_string_value(json_object_get(json_array_get(links, i), "image_id"));
        dq_image_rec_t rec;
        dq_err_t ierr = {0};
        if (!iid || dq_catalog_image_get(cat, iid, &rec, &ierr) < 0 || !rec.width || !rec.height)
            continue;
        c->w[c->n] = rec.width;
        c->h[c->n] = rec.height;
        c->image_id[c->n] = dq_xstrdup(rec.id);
        c->n++;
    }
    rc = 0;
out:
    json_decref(j);
    dq_buf_free(&doc);
    return rc;
}

int dq_catalog_relic_canvases(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err)
{
    canvases_t c;
    if (canvases_load(cat, relic_id, who, &c, err) < 0)
        return -1;
    dq_buf_putc(out, '[');
    for (int i = 0; i < c.n; i++) {
        dq_buf_printf(out, "%s{\"canvas\":%d,\"image_id\":\"", i ? "," : "", i + 1);
        dq_buf_json_str(out, c.image_id[i], strlen(c.image_id[i]));
        dq_buf_printf(out, "\",\"width\":%d,\"height\":%d}", c.w[i], c.h[i]);
    }
    dq_buf_putc(out, ']');
    canvases_free(&c);
    return 0;
}

/* Validates {canvas, xywh} of obj (path prefix for errors) against c: fills *canvas, r[4]. */
static void check_region(const json_t *obj, const canvases_t *c, const char *prefix, json_t *fe,
                         int *canvas, int r[4])
{
    char p[96];
    const json_t *cv = json_object_get(obj, "canvas");
    snprintf(p, sizeof(p), "%scanvas", prefix);
    *canvas = 0;
    if (!json_is_integer(cv) || json_integer_value(cv) < 1) {
        fe_add(fe, p, "required: a canvas number (1, 2, ...)");
    } else if (json_integer_value(cv) > c->n) {
        fe_add(fe, p, "no such canvas");
    } else {
        *canvas = (int)json_integer_value(cv);
    }
    const json_t *xy = json_object_get(obj, "xywh");
    snprintf(p, sizeof(p), "%sxywh", prefix);
    if (!json_is_array(xy) || json_array_size(xy) != 4) {
        fe_add(fe, p, "required: [x, y, w, h] in canvas pixels");
        return;
    }
    for (int i = 0; i < 4; i++) {
        const json_t *v = json_array_get(xy, (size_t)i);
        json_int_t k = json_is_integer(v) ? json_integer_value(v) : -1;
        if (k < (i < 2 ? 0 : 1) || k > 1000000000) {
            fe_add(fe, p, "x and y must be integers >= 0, w and h integers >= 1");
            return;
        }
        r[i] = (int)k;
    }
    /* The region must lie inside the canvas (the image's full-resolution size). 64-bit sums:
     * x + w may not fit an int. */
    if (*canvas &&
        ((int64_t)r[0] + r[2] > c->w[*canvas - 1] || (int64_t)r[1] + r[3] > c->h[*canvas - 1]))
        fe_add(fe, p, "the region extends beyond the canvas");
}

/* ---------------------------------------------------------------- annotation documents */

/* Parses and validates an anno doc against the relic's canvases; fills row's region and
 * motivation, and bodies/fts (caller-owned buffers row->bodies/fts point into). */
static int anno_parse(const char *json, size_t len, const canvases_t *c, dq_anno_row_t *row,
                      dq_buf_t *bodies, dq_buf_t *fts, dq_buf_t *field_errors, dq_err_t *err)
{
    json_t *j = parse_json(json, len, err), *fe = NULL, *arr = NULL;
    int rc = -1;
    if (!j)
        goto out;
    fe = json_object();
    int r[4] = {0};
    check_region(j, c, "", fe, &row->canvas, r);
    row->x = r[0], row->y = r[1], row->w = r[2], row->h = r[3];
    const char *m = json_string_value(json_object_get(j, "motivation"));
    int mi = motivation_index(m);
    if (mi < 0)
        fe_add(fe, "motivation", "must be commenting, describing, identifying or tagging");
    else
        snprintf(row->motivation, sizeof(row->motivation), "%s", m);
    const json_t *b = json_object_get(j, "bodies");
    size_t nb = json_array_size(b);
    if (!json_is_array(b) || nb == 0 || nb > MAX_BODIES)
        fe_add(fe, "bodies", "required: 1 to 8 text bodies");
    arr = json_array();
    for (size_t i = 0; i < nb && nb <= MAX_BODIES; i++) {
        const json_t *e = json_array_get(b, i);
        const char *v = json_string_value(json_object_get(e, "value"));
        const char *lang = json_string_value(json_object_get(e, "language"));
        size_t vl = v ? strlen(v) : 0;
        if (!json_is_object(e)) {
            fe_addf(fe, "must be an object {value, language}", "bodies[%d]", (int)i);
            continue;
        }
        if (!v || vl == 0 || vl > MAX_BODY_BYTES)
            fe_addf(fe, "required: 1 to 4000 bytes of text", "bodies[%d].value", (int)i);
        else if (!text_clean(v))
            fe_addf(fe, "must not contain control characters", "bodies[%d].value", (int)i);
        else if (mi == 3 && (vl > MAX_TAG_BYTES || strchr(v, '\n')))
            fe_addf(fe, "a tag is one line of at most 64 bytes", "bodies[%d].value", (int)i);
        if (!lang || (strcmp(lang, "zh") && strcmp(lang, "en")))
            fe_addf(fe, "must be zh or en", "bodies[%d].language", (int)i);
        if (json_object_size(fe))
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "value", json_string(v));
        json_object_set_new(o, "language", json_string(lang));
        json_array_append_new(arr, o);
        if (fts->len)
            dq_buf_putc(fts, '\n');
        dq_buf_puts(fts, v);
    }
    if (json_object_size(fe)) {
        fail_fields(fe, field_errors, err);
        goto out;
    }
    dump_to(bodies, arr);
    row->bodies = bodies->data;
    row->fts = fts->data;
    rc = 0;
out:
    json_decref(arr);
    json_decref(fe);
    json_decref(j);
    return rc;
}

/* Appends the anno doc of row. */
static void anno_out(dq_buf_t *out, const dq_anno_row_t *r)
{
    dq_buf_printf(out, "{\"id\":%lld,\"relic_id\":\"", (long long)r->id);
    dq_buf_json_str(out, r->relic_id, strlen(r->relic_id));
    dq_buf_printf(out,
                  "\",\"canvas\":%d,\"xywh\":[%d,%d,%d,%d],\"motivation\":\"%s\",\"bodies\":%s,"
                  "\"creator\":\"",
                  r->canvas, r->x, r->y, r->w, r->h, r->motivation,
                  r->bodies && *r->bodies ? r->bodies : "[]");
    dq_buf_json_str(out, r->creator, strlen(r->creator));
    dq_buf_printf(out, "\",\"created\":\"%s\",\"modified\":\"%s\",\"version\":%lld}", r->created,
                  r->modified, (long long)r->version);
}

/* The detail of an annotation's audit row: where and what, not the text. */
static void anno_detail(dq_buf_t *d, const dq_anno_row_t *r)
{
    dq_buf_printf(d, "{\"canvas\":%d,\"xywh\":[%d,%d,%d,%d],\"motivation\":\"%s\"}", r->canvas,
                  r->x, r->y, r->w, r->h, r->motivation);
}

static int collect_one(void *ud, const dq_anno_row_t *row, const char *hl)
{
    (void)hl;
    dq_buf_t *b = ud;
    anno_out(b, row);
    return 1;
}

/* ---------------------------------------------------------------- annotations */

int dq_catalog_anno_create(dq_catalog_t *cat, const char *relic_id, const char *json, size_t len,
                           const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                           dq_err_t *err)
{
    canvases_t c = {0};
    dq_buf_t bodies = {0}, fts = {0}, detail = {0};
    dq_anno_row_t row = {0};
    int rc = -1;
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        canvases_load(cat, relic_id, who, &c, err) < 0 ||
        anno_parse(json, len, &c, &row, &bodies, &fts, field_errors, err) < 0)
        goto out;
    snprintf(row.relic_id, sizeof(row.relic_id), "%s", relic_id);
    snprintf(row.creator, sizeof(row.creator), "%s", who->user);
    anno_detail(&detail, &row);
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_ANNO_INSERT, .anno = &row,
                 .who = who->user, .detail = detail.data};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        anno_out(out, &row);
    rc = 0;
out:
    canvases_free(&c);
    dq_buf_free(&bodies);
    dq_buf_free(&fts);
    dq_buf_free(&detail);
    return rc;
}

int dq_catalog_anno_get(dq_catalog_t *cat, const char *relic_id, int64_t id, const dq_actor_t *who,
                        dq_buf_t *out, int64_t *version, dq_err_t *err)
{
    dq_buf_t b = {0}, doc = {0};
    int rc = -1;
    /* Visibility first: a restricted relic's annotation is as absent as the relic. */
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0 ||
        dq_catalog_read(cat, read_txn,
                        &(read_t){.be = dq_catalog_backend(cat), .kind = R_ANNO_GET,
                                  .relic_id = relic_id, .id = id, .acb = collect_one, .ud = &b},
                        err) < 0)
        goto out;
    if (version) {
        json_t *j = json_loadb(b.data, b.len, 0, NULL);
        *version = json_integer_value(json_object_get(j, "version"));
        json_decref(j);
    }
    if (out)
        dq_buf_append(out, b.data, b.len);
    rc = 0;
out:
    dq_buf_free(&b);
    dq_buf_free(&doc);
    return rc;
}

/* Loads the stored creator of an annotation (after the visibility check). */
static int anno_creator(dq_catalog_t *cat, const char *relic_id, int64_t id, const dq_actor_t *who,
                        char creator[64], dq_err_t *err)
{
    dq_buf_t b = {0};
    int rc = -1;
    if (dq_catalog_anno_get(cat, relic_id, id, who, &b, NULL, err) < 0)
        goto out;
    json_t *j = json_loadb(b.data, b.len, 0, NULL);
    const char *cr = json_string_value(json_object_get(j, "creator"));
    snprintf(creator, 64, "%s", cr ? cr : "");
    json_decref(j);
    rc = 0;
out:
    dq_buf_free(&b);
    return rc;
}

/* An educator or conservator changes only their own annotations; curator and admin any. */
static int may_edit_anno(const dq_actor_t *who, const char *creator, dq_err_t *err)
{
    if (who->role >= DQ_ROLE_CURATOR || strcmp(creator, who->user) == 0)
        return 0;
    return dq_err_set(err, DQ_EINVAL, 403,
                      "an educator or conservator may change only their own annotations");
}

int dq_catalog_anno_replace(dq_catalog_t *cat, const char *relic_id, int64_t id, const char *json,
                            size_t len, int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                            dq_buf_t *field_errors, dq_err_t *err)
{
    canvases_t c = {0};
    dq_buf_t bodies = {0}, fts = {0}, detail = {0};
    dq_anno_row_t row = {0};
    char creator[64];
    int rc = -1;
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        anno_creator(cat, relic_id, id, who, creator, err) < 0 ||
        may_edit_anno(who, creator, err) < 0 || canvases_load(cat, relic_id, who, &c, err) < 0 ||
        anno_parse(json, len, &c, &row, &bodies, &fts, field_errors, err) < 0)
        goto out;
    row.id = id;
    snprintf(row.relic_id, sizeof(row.relic_id), "%s", relic_id);
    anno_detail(&detail, &row);
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_ANNO_UPDATE, .anno = &row,
                 .if_version = if_version, .who = who->user, .detail = detail.data};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        anno_out(out, &row);
    rc = 0;
out:
    canvases_free(&c);
    dq_buf_free(&bodies);
    dq_buf_free(&fts);
    dq_buf_free(&detail);
    return rc;
}

int dq_catalog_anno_delete(dq_catalog_t *cat, const char *relic_id, int64_t id, int64_t if_version,
                           const dq_actor_t *who, dq_err_t *err)
{
    char creator[64];
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        anno_creator(cat, relic_id, id, who, creator, err) < 0 ||
        may_edit_anno(who, creator, err) < 0)
        return -1;
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_ANNO_DELETE, .relic_id = relic_id,
                 .id = id, .if_version = if_version, .who = who->user, .detail = "{}"};
    return dq_catalog_write(cat, write_txn, &w, err);
}

typedef struct {
    dq_buf_t *out;
    int n;
} list_t;

static int collect_list(void *ud, const dq_anno_row_t *row, const char *hl)
{
    (void)hl;
    list_t *l = ud;
    if (l->n++)
        dq_buf_putc(l->out, ',');
    anno_out(l->out, row);
    return 0;
}

int dq_catalog_anno_list(dq_catalog_t *cat, const char *relic_id, int canvas, int64_t offset,
                         int limit, const dq_actor_t *who, dq_buf_t *out, int64_t *total,
                         dq_err_t *err)
{
    dq_buf_t doc = {0};
    int64_t t = 0;
    int rc = -1;
    if (limit < 1 || limit > 1000 || offset < 0 || canvas < 0) {
        dq_err_set(err, DQ_EINVAL, 400, "bad canvas, offset or limit");
        goto out;
    }
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0)
        goto out;
    list_t l = {.out = out};
    dq_buf_putc(out, '[');
    read_t r = {.be = dq_catalog_backend(cat), .kind = R_ANNO_LIST, .relic_id = relic_id,
                .canvas = canvas, .offset = offset, .limit = limit, .total = &t,
                .acb = collect_list, .ud = &l};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        goto out;
    dq_buf_putc(out, ']');
    if (total)
        *total = t;
    rc = 0;
out:
    dq_buf_free(&doc);
    return rc;
}

/* ---------------------------------------------------------------- Content Search */

/* Appends at most n UTF-8 characters of s[0..len) to b, from the end when from_end; marker
 * bytes \x01 \x02 (other hits) are dropped and a newline (a body boundary) ends the context. */
static void context(dq_buf_t *b, const char *s, size_t len, int n, int from_end)
{
    size_t start = 0, end = len;
    if (from_end) {
        int k = 0;
        start = len;
        while (start > 0 && k < n) {
            size_t i = start - 1;
            while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80)
                i--;
            if (s[i] == '\n')
                break;
            start = i;
            k++;
        }
    } else {
        int k = 0;
        end = 0;
        while (end < len && k < n && s[end] != '\n') {
            end++;
            while (end < len && ((unsigned char)s[end] & 0xc0) == 0x80)
                end++;
            k++;
        }
    }
    for (size_t i = start; i < end; i++)
        if (s[i] != '\x01' && s[i] != '\x02')
            dq_buf_putc(b, s[i]);
}

/* Appends [{"prefix","exact","suffix"}...] for the marked hits of hl. */
static void hits_out(dq_buf_t *out, const char *hl)
{
    dq_buf_putc(out, '[');
    int n = 0;
    size_t len = hl ? strlen(hl) : 0;
    for (size_t i = 0; i < len; i++) {
        if (hl[i] != '\x01')
            continue;
        const char *e = memchr(hl + i + 1, '\x02', len - i - 1);
        if (!e)
            break;
        size_t a = i + 1, z = (size_t)(e - hl);
        dq_buf_t part = {0};
        dq_buf_puts(out, n++ ? ",{\"prefix\":\"" : "{\"prefix\":\"");
        context(&part, hl, i, HIT_CONTEXT, 1);
        dq_buf_json_str(out, part.data ? part.data : "", part.len);
        dq_buf_reset(&part);
        dq_buf_puts(out, "\",\"exact\":\"");
        dq_buf_json_str(out, hl + a, z - a);
        dq_buf_puts(out, "\",\"suffix\":\"");
        context(&part, hl + z + 1, len - z - 1, HIT_CONTEXT, 0);
        dq_buf_json_str(out, part.data ? part.data : "", part.len);
        dq_buf_puts(out, "\"}");
        dq_buf_free(&part);
        i = z;
        if (n >= 20) /* enough to point at; a long body may hold hundreds */
            break;
    }
    dq_buf_putc(out, ']');
}

static int collect_hit(void *ud, const dq_anno_row_t *row, const char *hl)
{
    list_t *l = ud;
    dq_buf_puts(l->out, l->n++ ? ",{\"annotation\":" : "{\"annotation\":");
    anno_out(l->out, row);
    dq_buf_puts(l->out, ",\"hits\":");
    hits_out(l->out, hl);
    dq_buf_putc(l->out, '}');
    return 0;
}

int dq_catalog_anno_search(dq_catalog_t *cat, const char *relic_id, const char *q,
                           const char *motivation, const char *creator, int limit,
                           const dq_actor_t *who, dq_buf_t *out, dq_err_t *err)
{
    dq_buf_t doc = {0};
    unsigned mask = 0;
    int rc = -1;
    if (limit < 1 || limit > 100) {
        dq_err_set(err, DQ_EINVAL, 400, "limit must be 1..100");
        goto out;
    }
    /* Content Search 2.0 §3.2: motivation is a space-separated list. */
    for (const char *p = motivation ? motivation : ""; *p;) {
        size_t n = strcspn(p, " ,");
        if (n) {
            char m[16];
            int k = n < sizeof(m) ? (snprintf(m, sizeof(m), "%.*s", (int)n, p), motivation_index(m))
                                  : -1;
            if (k < 0) {
                dq_err_set(err, DQ_EINVAL, 400,
                           "motivation must be commenting, describing, identifying or tagging");
                goto out;
            }
            mask |= 1u << k;
        }
        p += n;
        p += *p ? 1 : 0;
    }
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0)
        goto out;
    list_t l = {.out = out};
    size_t mark = out->len;
    dq_buf_putc(out, '[');
    read_t r = {.be = dq_catalog_backend(cat), .kind = R_ANNO_SEARCH, .relic_id = relic_id,
                .q = q ? q : "", .motivations = mask, .creator = creator && *creator ? creator : NULL,
                .limit = limit, .acb = collect_hit, .ud = &l};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0) {
        out->len = mark;
        goto out;
    }
    dq_buf_putc(out, ']');
    rc = 0;
out:
    dq_buf_free(&doc);
    return rc;
}

/* ---------------------------------------------------------------- tours */

/* "t12" -> 12; 0 for anything else. */
static int64_t tour_num(const char *tour_id)
{
    uint64_t v = 0;
    if (!tour_id || tour_id[0] != 't' || !tour_id[1] ||
        dq_str_to_u64(tour_id + 1, strlen(tour_id + 1), &v) < 0 || v > INT64_MAX / 2)
        return 0;
    return (int64_t)v;
}

static int tour_visible(const dq_tour_row_t *r, const dq_actor_t *who)
{
    return r->is_public || (who && who->role >= DQ_ROLE_ADMIN) ||
           (who && who->role > DQ_ROLE_ANON && strcmp(who->user, r->author) == 0);
}

/* A language map {"zh","en"} of strings up to max bytes; required: at least one. */
static json_t *lang_map(const json_t *v, const char *path, int required, size_t max, json_t *fe)
{
    if (!v && !required)
        return json_object();
    if (!json_is_object(v)) {
        fe_add(fe, path, "must be an object {\"zh\": ..., \"en\": ...}");
        return NULL;
    }
    json_t *m = json_object();
    const char *k;
    json_t *e;
    char p[96];
    json_object_foreach((json_t *)v, k, e)
    {
        snprintf(p, sizeof(p), "%s.%.20s", path, k);
        const char *s = json_string_value(e);
        if (strcmp(k, "zh") && strcmp(k, "en"))
            fe_add(fe, p, "unknown language (zh, en)");
        else if (!s || strlen(s) > max || !text_clean(s))
            fe_add(fe, p, "must be text without control characters");
        else if (*s)
            json_object_set_new(m, k, json_string(s));
    }
    if (required && json_object_size(m) == 0)
        fe_add(fe, path, "required (zh or en)");
    return m;
}

/* Validates a tour doc against the relic's canvases; *doc_out gets the canonical user part
 * {"title","stops","public"} (new reference). */
static int tour_parse(const char *json, size_t len, const canvases_t *c, json_t **doc_out,
                      int *is_public, dq_buf_t *field_errors, dq_err_t *err)
{
    static const char *const server_fields[] = {"id",         "relic_id",     "author",
                                                "created_at", "updated_at",   "version",
                                                "n_stops",    "content_state"};
    json_t *j = parse_json(json, len, err), *fe = NULL, *doc = NULL;
    int rc = -1;
    if (!j)
        goto out;
    fe = json_object();
    doc = json_object();
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v)
    {
        int known = !strcmp(k, "title") || !strcmp(k, "stops") || !strcmp(k, "public");
        for (size_t i = 0; i < DQ_ARRAY_LEN(server_fields); i++)
            known |= !strcmp(k, server_fields[i]);
        if (!known) {
            char p[64];
            snprintf(p, sizeof(p), "%.40s", k);
            fe_add(fe, p, "unknown field");
        }
    }
    json_t *title = lang_map(json_object_get(j, "title"), "title", 1, MAX_TITLE_BYTES, fe);
    if (title)
        json_object_set_new(doc, "title", title);
    const json_t *pub = json_object_get(j, "public");
    if (pub && !json_is_boolean(pub))
        fe_add(fe, "public", "must be true or false");
    *is_public = json_is_true(pub);
    json_object_set_new(doc, "public", json_boolean(*is_public));
    const json_t *stops = json_object_get(j, "stops");
    size_t ns = json_array_size(stops);
    if (!json_is_array(stops) || ns == 0 || ns > MAX_STOPS)
        fe_add(fe, "stops", "required: 1 to 200 stops");
    json_t *out_stops = json_array();
    for (size_t i = 0; i < ns && ns <= MAX_STOPS; i++) {
        const json_t *s = json_array_get(stops, i);
        char p[24];
        snprintf(p, sizeof(p), "stops[%d].", (int)i % 1000);
        if (!json_is_object(s)) {
            fe_addf(fe, "must be an object", "stops[%d]", (int)i);
            continue;
        }
        json_object_foreach((json_t *)s, k, v)
        {
            if (strcmp(k, "canvas") && strcmp(k, "xywh") && strcmp(k, "text") &&
                strcmp(k, "zoom")) {
                char q[96];
                snprintf(q, sizeof(q), "%s%.40s", p, k);
                fe_add(fe, q, "unknown field");
            }
        }
        int canvas = 0, r[4] = {0};
        check_region(s, c, p, fe, &canvas, r);
        char tp[40];
        snprintf(tp, sizeof(tp), "%stext", p);
        json_t *text = lang_map(json_object_get(s, "text"), tp, 0, MAX_BODY_BYTES, fe);
        const json_t *zoom = json_object_get(s, "zoom");
        if (zoom && !json_is_null(zoom) &&
            (!json_is_number(zoom) || json_number_value(zoom) <= 0 || json_number_value(zoom) > 64))
            fe_addf(fe, "must be a number > 0 and <= 64", "stops[%d].zoom", (int)i);
        json_t *o = json_object();
        json_object_set_new(o, "canvas", json_integer(canvas));
        json_object_set_new(o, "xywh", json_pack("[iiii]", r[0], r[1], r[2], r[3]));
        json_object_set_new(o, "text", text ? text : json_object());
        if (zoom && json_is_number(zoom))
            json_object_set_new(o, "zoom", json_real(json_number_value(zoom)));
        json_array_append_new(out_stops, o);
    }
    json_object_set_new(doc, "stops", out_stops);
    if (json_object_size(fe)) {
        fail_fields(fe, field_errors, err);
        goto out;
    }
    *doc_out = doc;
    doc = NULL;
    rc = 0;
out:
    json_decref(doc);
    json_decref(fe);
    json_decref(j);
    return rc;
}

/* Appends the tour doc of r (with_stops 0: "n_stops" instead of "stops"). */
static void tour_out(dq_buf_t *out, const dq_tour_row_t *r, int with_stops)
{
    json_t *d = json_loads(r->doc ? r->doc : "{}", 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    char id[32];
    snprintf(id, sizeof(id), "t%lld", (long long)r->id);
    json_object_set_new(d, "id", json_string(id));
    json_object_set_new(d, "relic_id", json_string(r->relic_id));
    json_object_set_new(d, "author", json_string(r->author));
    json_object_set_new(d, "created_at", json_string(r->created));
    json_object_set_new(d, "updated_at", json_string(r->modified));
    json_object_set_new(d, "version", json_integer(r->version));
    if (!with_stops) {
        json_object_set_new(d, "n_stops",
                            json_integer((json_int_t)json_array_size(json_object_get(d, "stops"))));
        json_object_del(d, "stops");
    }
    char *s = json_dumps(d, JSON_COMPACT | JSON_PRESERVE_ORDER);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(out, s);
    free(s);
    json_decref(d);
}

static int tour_collect_row(void *ud, const dq_tour_row_t *row)
{
    /* Copy the row with its doc: the caller checks visibility after the lock is released. */
    dq_tour_row_t *dst = ud;
    *dst = *row;
    dst->doc = dq_xstrdup(row->doc ? row->doc : "{}");
    return 1;
}

/* Loads tour_id as who may see it (404 otherwise, and for a relic who may not see);
 * row->doc is a new string (free it). */
static int tour_load(dq_catalog_t *cat, const char *tour_id, const dq_actor_t *who,
                     dq_tour_row_t *row, dq_err_t *err)
{
    int64_t n = tour_num(tour_id);
    memset(row, 0, sizeof(*row));
    if (n <= 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such tour");
    read_t r = {.be = dq_catalog_backend(cat), .kind = R_TOUR_GET, .id = n,
                .tcb = tour_collect_row, .ud = row};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        return -1;
    dq_buf_t doc = {0};
    int vis = dq_catalog_relic_get(cat, row->relic_id, who, &doc, NULL, err);
    dq_buf_free(&doc);
    if (vis < 0 || !tour_visible(row, who)) {
        free((char *)row->doc);
        row->doc = NULL;
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such tour");
    }
    return 0;
}

int dq_catalog_tour_create(dq_catalog_t *cat, const char *relic_id, const char *json, size_t len,
                           const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                           dq_err_t *err)
{
    canvases_t c = {0};
    json_t *doc = NULL;
    char *text = NULL;
    dq_tour_row_t row = {0};
    int rc = -1;
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        canvases_load(cat, relic_id, who, &c, err) < 0 ||
        tour_parse(json, len, &c, &doc, &row.is_public, field_errors, err) < 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    snprintf(row.relic_id, sizeof(row.relic_id), "%s", relic_id);
    snprintf(row.author, sizeof(row.author), "%s", who->user);
    char detail[96];
    snprintf(detail, sizeof(detail), "{\"relic\":\"%.60s\",\"stops\":%d}", relic_id,
             (int)json_array_size(json_object_get(doc, "stops")));
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_TOUR_INSERT, .tour = &row,
                 .who = who->user, .detail = detail};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        tour_out(out, &row, 1);
    rc = 0;
out:
    canvases_free(&c);
    json_decref(doc);
    free(text);
    return rc;
}

int dq_catalog_tour_get(dq_catalog_t *cat, const char *tour_id, const dq_actor_t *who,
                        dq_buf_t *out, int64_t *version, dq_err_t *err)
{
    dq_tour_row_t row;
    if (tour_load(cat, tour_id, who, &row, err) < 0)
        return -1;
    if (out)
        tour_out(out, &row, 1);
    if (version)
        *version = row.version;
    free((char *)row.doc);
    return 0;
}

/* An author changes their own tours; admin any. */
static int may_edit_tour(const dq_actor_t *who, const dq_tour_row_t *row, dq_err_t *err)
{
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0)
        return -1;
    if (who->role >= DQ_ROLE_ADMIN || strcmp(who->user, row->author) == 0)
        return 0;
    return dq_err_set(err, DQ_EINVAL, 403, "only the tour's author or an admin may change it");
}

int dq_catalog_tour_replace(dq_catalog_t *cat, const char *tour_id, const char *json, size_t len,
                            int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                            dq_buf_t *field_errors, dq_err_t *err)
{
    canvases_t c = {0};
    json_t *doc = NULL;
    char *text = NULL;
    dq_tour_row_t row = {0};
    int rc = -1;
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 || tour_load(cat, tour_id, who, &row, err) < 0)
        goto out;
    free((char *)row.doc);
    row.doc = NULL;
    if (may_edit_tour(who, &row, err) < 0 || canvases_load(cat, row.relic_id, who, &c, err) < 0 ||
        tour_parse(json, len, &c, &doc, &row.is_public, field_errors, err) < 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    char detail[64];
    snprintf(detail, sizeof(detail), "{\"stops\":%d}",
             (int)json_array_size(json_object_get(doc, "stops")));
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_TOUR_UPDATE, .tour = &row,
                 .if_version = if_version, .who = who->user, .detail = detail};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out)
        tour_out(out, &row, 1);
    rc = 0;
out:
    canvases_free(&c);
    json_decref(doc);
    free(text);
    return rc;
}

int dq_catalog_tour_delete(dq_catalog_t *cat, const char *tour_id, int64_t if_version,
                           const dq_actor_t *who, dq_err_t *err)
{
    dq_tour_row_t row;
    if (need_role(who, DQ_ROLE_EDUCATOR, err) < 0 || tour_load(cat, tour_id, who, &row, err) < 0)
        return -1;
    free((char *)row.doc);
    if (may_edit_tour(who, &row, err) < 0)
        return -1;
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_TOUR_DELETE, .id = row.id,
                 .if_version = if_version, .who = who->user, .detail = "{}"};
    return dq_catalog_write(cat, write_txn, &w, err);
}

typedef struct {
    dq_buf_t *out;
    const dq_actor_t *who;
    int n;
} tour_list_t;

static int tour_list_row(void *ud, const dq_tour_row_t *row)
{
    tour_list_t *l = ud;
    if (!tour_visible(row, l->who))
        return 0;
    if (l->n++)
        dq_buf_putc(l->out, ',');
    tour_out(l->out, row, 0);
    return 0;
}

int dq_catalog_tour_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                         dq_buf_t *out, dq_err_t *err)
{
    dq_buf_t doc = {0};
    int rc = -1;
    if (dq_catalog_relic_get(cat, relic_id, who, &doc, NULL, err) < 0)
        goto out;
    tour_list_t l = {.out = out, .who = who};
    dq_buf_puts(out, "{\"items\":[");
    read_t r = {.be = dq_catalog_backend(cat), .kind = R_TOUR_LIST, .relic_id = relic_id,
                .tcb = tour_list_row, .ud = &l};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        goto out;
    dq_buf_puts(out, "]}");
    rc = 0;
out:
    dq_buf_free(&doc);
    return rc;
}
