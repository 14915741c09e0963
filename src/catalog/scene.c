/*
 * catalog/scene.c: scene layer sets, the policy half (issue 14, the living painting). A layer
 * set is one version of an image's scene layers (depth, mist, foliage, water, figure, boat),
 * each layer a derived image of its own, ingested beside the master under the reserved id
 * "<image>.scene-v<N>-<kind>" and served by the IIIF endpoints like any image. This file
 * checks and canonicalises the set's document, enforces roles and visibility, writes the row
 * with its audit entry, and builds the JSON of docs/api.md "Scene layers". The rows are
 * stored through dq_store_scene_ops; the layer images are written by their callers (cli/,
 * http/) through image/ ingest before the set that names them is saved.
 */
#include "catalog.h"
#include "store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kinds[] = {"depth", "mist", "foliage", "water", "figure", "boat"};
#define N_KINDS ((int)DQ_ARRAY_LEN(kinds))
#define LAYER_TAG ".scene-v"

static int kind_index(const char *k)
{
    for (int i = 0; k && i < N_KINDS; i++)
        if (strcmp(k, kinds[i]) == 0)
            return i;
    return -1;
}

/* ---------------------------------------------------------------- layer ids */

int dq_catalog_scene_layer_id(const char *image_id, int64_t version, const char *kind, char *out,
                              size_t cap, dq_err_t *err)
{
    if (kind_index(kind) < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "unknown scene layer kind '%s'", kind ? kind : "");
    if (version < 1 || version > 999999)
        return dq_err_set(err, DQ_EINVAL, 400, "scene version %lld out of range",
                          (long long)version);
    int n = snprintf(out, cap, "%s" LAYER_TAG "%lld-%s", image_id, (long long)version, kind);
    if (n < 0 || (size_t)n >= cap || n > DQ_IMAGE_ID_MAX)
        return dq_err_set(err, DQ_EINVAL, 400,
                          "image id '%s' is too long for its scene layer ids (%d bytes at most)",
                          image_id, DQ_IMAGE_ID_MAX);
    return 0;
}

int dq_catalog_scene_layer_base(const char *layer_id, char *base, size_t cap)
{
    /* "<base>.scene-v<digits>-<kind>", found from the right: a base may itself contain dots. */
    const char *tag = NULL;
    for (const char *p = strstr(layer_id, LAYER_TAG); p; p = strstr(p + 1, LAYER_TAG))
        tag = p;
    if (!tag || tag == layer_id)
        return 0;
    const char *d = tag + strlen(LAYER_TAG), *e = d;
    while (*e >= '0' && *e <= '9')
        e++;
    if (e == d || *e != '-' || kind_index(e + 1) < 0)
        return 0;
    size_t n = (size_t)(tag - layer_id);
    if (n + 1 > cap)
        return 0;
    memcpy(base, layer_id, n);
    base[n] = '\0';
    return 1;
}

/* ---------------------------------------------------------------- reading */

typedef struct {
    dq_buf_t *out;
    int list; /* 1: append "," between rows */
    int n;
} emit_t;

/* The API form of a row: the row's own fields, then the document's. */
static int emit_row(void *ud, const dq_scene_row_t *row)
{
    emit_t *e = ud;
    json_t *doc = json_loads(row->doc ? row->doc : "{}", 0, NULL);
    if (!doc)
        doc = json_object();
    json_t *j = json_pack("{s:s, s:I, s:s, s:s, s:s}", "image_id", row->image_id, "version",
                          (json_int_t)row->version, "source", row->source, "author", row->author,
                          "created_at", row->created_at);
    json_object_update_missing(j, doc);
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (e->list && e->n)
        dq_buf_putc(e->out, ',');
    dq_buf_puts(e->out, s ? s : "{}");
    e->n++;
    free(s);
    json_decref(j);
    json_decref(doc);
    return 0;
}

typedef struct {
    dq_catalog_t *cat;
    const char *image_id;
    int64_t version;
    emit_t emit;
    int64_t *max;
} read_t;

static int get_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    return dq_catalog_backend(r->cat)->scenes->get(t, r->image_id, r->version, emit_row, &r->emit,
                                                   err);
}

static int list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    return dq_catalog_backend(r->cat)->scenes->list(t, r->image_id, emit_row, &r->emit, err);
}

static int max_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    return dq_catalog_backend(r->cat)->scenes->max_version(t, r->image_id, r->max, err);
}

/* 0 when image_id is a known image who may see; -1 with 404 otherwise (hidden looks absent). */
static int image_seen(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who,
                      dq_image_rec_t *rec, dq_err_t *err)
{
    if (!dq_image_id_valid(image_id, err))
        return -1;
    if (dq_catalog_image_get(cat, image_id, rec, err) < 0)
        return -1;
    if (!dq_catalog_image_visible(cat, image_id, who))
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image '%s'", image_id);
    return 0;
}

int dq_catalog_scene_get(dq_catalog_t *cat, const char *image_id, int64_t version,
                         const dq_actor_t *who, dq_buf_t *out, dq_err_t *err)
{
    dq_image_rec_t rec;
    if (version < 0)
        return dq_err_set(err, DQ_EINVAL, 400, "bad scene version %lld", (long long)version);
    if (image_seen(cat, image_id, who, &rec, err) < 0)
        return -1;
    read_t r = {.cat = cat, .image_id = image_id, .version = version, .emit = {.out = out}};
    int rc = dq_catalog_read(cat, get_txn, &r, err);
    if (rc == 1) {
        if (version)
            return dq_err_set(err, DQ_ENOTFOUND, 404, "image '%s' has no scene layers version %lld",
                              image_id, (long long)version);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "image '%s' has no scene layers", image_id);
    }
    return rc;
}

int dq_catalog_scene_list(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who,
                          dq_buf_t *out, dq_err_t *err)
{
    dq_image_rec_t rec;
    if (image_seen(cat, image_id, who, &rec, err) < 0)
        return -1;
    read_t r = {.cat = cat, .image_id = image_id, .emit = {.out = out, .list = 1}};
    dq_buf_puts(out, "{\"image_id\":");
    json_t *id = json_string(image_id);
    char *s = json_dumps(id, JSON_ENCODE_ANY);
    dq_buf_puts(out, s);
    free(s);
    json_decref(id);
    dq_buf_puts(out, ",\"items\":[");
    if (dq_catalog_read(cat, list_txn, &r, err) < 0)
        return -1;
    dq_buf_puts(out, "]}");
    return 0;
}

int dq_catalog_scene_next_version(dq_catalog_t *cat, const char *image_id, const dq_actor_t *who,
                                  int64_t *version, dq_err_t *err)
{
    dq_image_rec_t rec;
    if (!who || who->role < DQ_ROLE_CURATOR)
        return dq_err_set(err, DQ_EINVAL, who && who->role ? 403 : 401,
                          "saving scene layers needs the curator role");
    if (image_seen(cat, image_id, who, &rec, err) < 0)
        return -1;
    char base[DQ_IMAGE_ID_MAX + 1];
    if (dq_catalog_scene_layer_base(image_id, base, sizeof(base)))
        return dq_err_set(err, DQ_EINVAL, 400, "'%s' is itself a scene layer", image_id);
    int64_t max = 0;
    read_t r = {.cat = cat, .image_id = image_id, .max = &max};
    if (dq_catalog_read(cat, max_txn, &r, err) < 0)
        return -1;
    *version = max + 1;
    return 0;
}

/* ---------------------------------------------------------------- saving */

typedef struct {
    dq_catalog_t *cat;
    dq_scene_row_t row;
    char object[DQ_IMAGE_ID_MAX + 32];
    char *detail;
    const char *who;
} save_t;

static int save_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    save_t *s = ud;
    const dq_store_backend_t *be = dq_catalog_backend(s->cat);
    if (be->scenes->insert(t, &s->row, err) < 0) {
        if (err->code == DQ_EEXIST)
            dq_err_set(err, DQ_EEXIST, 409,
                       "scene layers version %lld of '%s' exist already: someone saved first",
                       (long long)s->row.version, s->row.image_id);
        return -1;
    }
    return be->audit->append(t, s->who, "scene.save", s->object, s->detail, err);
}

/* Adds "path": "message" to field_errors (a JSON object kept open in fe). */
static void field_err(json_t *fe, const char *path, const char *msg)
{
    if (!json_object_get(fe, path))
        json_object_set_new(fe, path, json_string(msg));
}

/* Checks the document and builds its canonical form (new reference), or NULL with the reasons
 * in fe. */
static json_t *canonical(dq_catalog_t *cat, const char *image_id, int64_t version, json_t *in,
                         json_t *fe)
{
    json_t *src = json_object_get(in, "source"), *method = json_object_get(in, "method"),
           *note = json_object_get(in, "note"), *layers = json_object_get(in, "layers"),
           *metrics = json_object_get(in, "metrics");
    const char *sv = json_string_value(src);
    if (!sv || (strcmp(sv, "truth") && strcmp(sv, "estimate") && strcmp(sv, "curator")))
        field_err(fe, "source", "must be truth, estimate or curator");
    if (method && (!json_is_string(method) || json_string_length(method) > 200))
        field_err(fe, "method", "must be a string of at most 200 bytes");
    if (note && (!json_is_string(note) || json_string_length(note) > 4000))
        field_err(fe, "note", "must be a string of at most 4000 bytes");
    if (metrics && !json_is_object(metrics))
        field_err(fe, "metrics", "must be an object");
    if (!json_is_array(layers) || json_array_size(layers) < 1 ||
        json_array_size(layers) > (size_t)N_KINDS) {
        field_err(fe, "layers", "must be an array of 1 to 6 layers");
        return NULL;
    }
    json_t *out_layers = json_array();
    int seen[DQ_ARRAY_LEN(kinds)] = {0};
    size_t i;
    json_t *l;
    json_array_foreach(layers, i, l)
    {
        char path[64];
        const char *kind = json_string_value(json_object_get(l, "kind"));
        const char *lid = json_string_value(json_object_get(l, "image_id"));
        int k = kind_index(kind);
        if (k < 0) {
            snprintf(path, sizeof(path), "layers[%zu].kind", i);
            field_err(fe, path, "must be depth, mist, foliage, water, figure or boat");
            continue;
        }
        if (seen[k]++) {
            snprintf(path, sizeof(path), "layers[%zu].kind", i);
            field_err(fe, path, "appears twice");
            continue;
        }
        char want[DQ_IMAGE_ID_MAX + 64];
        dq_err_t e = {0};
        snprintf(path, sizeof(path), "layers[%zu].image_id", i);
        if (dq_catalog_scene_layer_id(image_id, version, kind, want, sizeof(want), &e) < 0) {
            field_err(fe, path, e.msg);
            continue;
        }
        if (!lid || strcmp(lid, want) != 0) {
            field_err(fe, path, "must be the layer's own derived image id");
            continue;
        }
        dq_image_rec_t rec;
        if (dq_catalog_image_get(cat, lid, &rec, &e) < 0) {
            field_err(fe, path, "unknown image");
            continue;
        }
        json_array_append_new(out_layers,
                              json_pack("{s:s, s:s, s:i, s:i}", "kind", kind, "image_id", lid,
                                        "width", rec.width, "height", rec.height));
    }
    if (!seen[0])
        field_err(fe, "layers", "a depth layer is required");
    if (json_object_size(fe)) {
        json_decref(out_layers);
        return NULL;
    }
    json_t *c = json_pack("{s:s}", "method", method ? json_string_value(method) : "");
    if (note)
        json_object_set(c, "note", note);
    if (metrics)
        json_object_set(c, "metrics", metrics);
    json_object_set_new(c, "layers", out_layers);
    return c;
}

int dq_catalog_scene_save(dq_catalog_t *cat, const char *image_id, int64_t version,
                          const char *json, size_t len, const dq_actor_t *who, dq_buf_t *out,
                          dq_buf_t *field_errors, dq_err_t *err)
{
    dq_image_rec_t rec;
    json_t *in = NULL, *fe = json_object(), *doc = NULL;
    char *text = NULL;
    int rc = -1;
    save_t s = {.cat = cat};
    if (!who || who->role < DQ_ROLE_CURATOR) {
        dq_err_set(err, DQ_EINVAL, who && who->role ? 403 : 401,
                   "saving scene layers needs the curator role");
        goto out;
    }
    if (image_seen(cat, image_id, who, &rec, err) < 0)
        goto out;
    if (version < 1 || version > 999999) {
        dq_err_set(err, DQ_EINVAL, 400, "scene version %lld out of range", (long long)version);
        goto out;
    }
    json_error_t je;
    if (!(in = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)) || !json_is_object(in)) {
        dq_err_set(err, DQ_EINVAL, 400, "scene layers: not a JSON object (%s)",
                   in ? "wrong type" : je.text);
        goto out;
    }
    if (!(doc = canonical(cat, image_id, version, in, fe))) {
        if (field_errors) {
            char *f = json_dumps(fe, JSON_COMPACT | JSON_SORT_KEYS);
            dq_buf_puts(field_errors, f ? f : "{}");
            free(f);
        }
        dq_err_set(err, DQ_EINVAL, 422, "scene layers: invalid document");
        goto out;
    }
    if (!(text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
        dq_err_set(err, DQ_EINTERNAL, 500, "scene layers: json");
        goto out;
    }
    snprintf(s.row.image_id, sizeof(s.row.image_id), "%s", image_id);
    s.row.version = version;
    snprintf(s.row.source, sizeof(s.row.source), "%s",
             json_string_value(json_object_get(in, "source")));
    s.row.doc = text;
    snprintf(s.row.author, sizeof(s.row.author), "%s", who->user);
    snprintf(s.object, sizeof(s.object), "%s/scene/v%lld", image_id, (long long)version);
    s.detail = dq_xasprintf("{\"source\":\"%s\",\"layers\":%zu}", s.row.source,
                            json_array_size(json_object_get(doc, "layers")));
    s.who = who->user;
    if (dq_catalog_write(cat, save_txn, &s, err) < 0)
        goto out;
    rc = out ? dq_catalog_scene_get(cat, image_id, version, who, out, err) : 0;
out:
    free(s.detail);
    free(text);
    json_decref(doc);
    json_decref(fe);
    json_decref(in);
    return rc;
}
