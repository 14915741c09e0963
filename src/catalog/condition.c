/*
 * condition.c: condition records of relics (issue 12), the backend-neutral policy above
 * store.h's dq_store_condition_ops: validation of the condition doc against its controlled
 * vocabularies, roles (conservators and above write), visibility (anonymous callers see only
 * published records of public relics; the same for the condition images, through the image
 * map's condition gates), the audit rows and the API's JSON. It stores nothing
 * itself and computes no image analysis (src/conserve/ does, the CLI feeds its results in).
 */
#include <ctype.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/image_map.h"
#include "catalog/store.h"
#include "catalog/teach_internal.h"

static const char *const overall_scale[] = {"excellent", "good", "fair", "poor", "critical"};
static const char *const obs_types[] = {"loss",  "flaking", "tear",  "crease",    "fading",
                                        "stain", "insect_damage", "mould", "old_repair"};
static const char *const severities[] = {"minor", "moderate", "severe"};
static const char *const treat_status[] = {"proposed", "done"};

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; s && i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

int dq_catalog_condition_date_ok(const char *s)
{
    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return 0;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
            return 0;
    int m = atoi(s + 5), d = atoi(s + 8);
    return m >= 1 && m <= 12 && d >= 1 && d <= 31;
}

int dq_catalog_condition_object_relic(const char *object, char *relic, size_t cap)
{
    const char *end = object ? strstr(object, "/condition/") : NULL;
    size_t n = end ? (size_t)(end - object) : 0;
    if (strncmp(object ? object : "", "relic/", 6) != 0 || n <= 6 || n - 6 >= cap)
        return 0;
    memcpy(relic, object + 6, n - 6);
    relic[n - 6] = '\0';
    return 1;
}

static int num_in(const json_t *v, double lo, double hi)
{
    return json_is_number(v) && json_number_value(v) >= lo && json_number_value(v) <= hi;
}

static void check_text(const json_t *v, const char *path, int required, size_t max, json_t *fe)
{
    if (!v) {
        if (required)
            dq_teach_fe(fe, path, "required");
        return;
    }
    const char *s = json_string_value(v);
    if (!s || (required && !*s))
        dq_teach_fe(fe, path, required ? "required: a non-empty string" : "must be a string");
    else if (strlen(s) > max)
        dq_teach_fe(fe, path, "too long");
    else if (!dq_teach_text_clean(s))
        dq_teach_fe(fe, path, "control characters are not allowed");
}

/* ---------------------------------------------------------------- validation */

/* Validates the document; returns a new canonical copy (known fields only) or NULL with a
 * 400/422. *published and date (11 bytes) are filled. */
static json_t *cond_parse(dq_catalog_t *cat, const char *json, size_t len, int *published,
                          char date[16], dq_buf_t *field_errors, dq_err_t *err)
{
    /* The document's fields first (N_DOC_FIELDS of them, the canonical order), then the
     * server's. */
    enum { N_DOC_FIELDS = 12 };
    static const char *const known[] = {"date",       "examiner",    "overall",
                                        "images",     "observations", "environment",
                                        "treatments", "dimensions_cm", "changes",
                                        "published",  "note",        "draft",
                                        "id",         "relic_id",    "version",
                                        "created",    "modified",    "author"};
    json_t *in = dq_teach_parse(json, len, err), *fe = json_object(), *v;
    if (!in) {
        json_decref(fe);
        return NULL;
    }
    /* Server fields (id, version, times, author) are accepted and ignored, so that a GET
     * answer can be edited and PUT back. */
    dq_teach_unknown_fields(in, "", known, DQ_ARRAY_LEN(known), fe);
    const char *d = json_string_value(json_object_get(in, "date"));
    if (!dq_catalog_condition_date_ok(d))
        dq_teach_fe(fe, "date", "required: YYYY-MM-DD");
    check_text(json_object_get(in, "examiner"), "examiner", 1, 200, fe);
    if (!in_list(json_string_value(json_object_get(in, "overall")), overall_scale,
                 DQ_ARRAY_LEN(overall_scale)))
        dq_teach_fe(fe, "overall", "required: excellent, good, fair, poor or critical");
    check_text(json_object_get(in, "note"), "note", 0, DQ_TEACH_MAX_TEXT, fe);
    v = json_object_get(in, "published");
    if (v && !json_is_boolean(v))
        dq_teach_fe(fe, "published", "must be true or false");
    *published = json_is_true(v);
    v = json_object_get(in, "draft");
    if (v && !json_is_boolean(v))
        dq_teach_fe(fe, "draft", "must be true or false");
    size_t i;
    json_t *x;
    /* images: catalogued captures */
    v = json_object_get(in, "images");
    if (v && (!json_is_array(v) || json_array_size(v) > 64))
        dq_teach_fe(fe, "images", "must be an array of at most 64 image ids");
    else if (v)
        json_array_foreach(v, i, x)
        {
            dq_image_rec_t rec;
            dq_err_t e2 = {0};
            const char *iid = json_string_value(x);
            if (!iid || dq_catalog_image_get(cat, iid, &rec, &e2) < 0)
                dq_teach_fef(fe, "unknown image", "images[%zu]", i);
        }
    /* observations */
    v = json_object_get(in, "observations");
    if (v && (!json_is_array(v) || json_array_size(v) > 500))
        dq_teach_fe(fe, "observations", "must be an array of at most 500 observations");
    else if (v)
        json_array_foreach(v, i, x)
        {
            /* area_px, area_cm2 and auto: what a one-step record (condrec/) drafted from
             * the change map; kept when the conservator edits the observation. */
            static const char *const ok[] = {"type", "severity", "region", "note",
                                             "area_px", "area_cm2", "auto"};
            char pre[48];
            snprintf(pre, sizeof(pre), "observations[%zu].", i);
            if (!json_is_object(x)) {
                dq_teach_fef(fe, "must be an object", "observations[%zu]", i);
                continue;
            }
            dq_teach_unknown_fields(x, pre, ok, DQ_ARRAY_LEN(ok), fe);
            if (!in_list(json_string_value(json_object_get(x, "type")), obs_types,
                         DQ_ARRAY_LEN(obs_types)))
                dq_teach_fef(fe,
                             "required: loss, flaking, tear, crease, fading, stain, "
                             "insect_damage, mould or old_repair",
                             "observations[%zu].type", i);
            if (!in_list(json_string_value(json_object_get(x, "severity")), severities,
                         DQ_ARRAY_LEN(severities)))
                dq_teach_fef(fe, "required: minor, moderate or severe",
                             "observations[%zu].severity", i);
            json_t *r = json_object_get(x, "region");
            if (r) {
                json_t *xywh = json_object_get(r, "xywh");
                int good = json_is_object(r) && json_is_array(xywh) && json_array_size(xywh) == 4;
                for (size_t k = 0; good && k < 4; k++)
                    good = num_in(json_array_get(xywh, k), 0, 1e7) &&
                           (k < 2 || json_number_value(json_array_get(xywh, k)) > 0);
                const char *iid = json_string_value(json_object_get(r, "image_id"));
                dq_image_rec_t rec;
                dq_err_t e2 = {0};
                if (!good)
                    dq_teach_fef(fe, "must be {\"image_id\", \"xywh\": [x, y, w, h]} in pixels",
                                 "observations[%zu].region", i);
                else if (iid && dq_catalog_image_get(cat, iid, &rec, &e2) < 0)
                    dq_teach_fef(fe, "unknown image", "observations[%zu].region.image_id", i);
            }
            static const char *const areas[] = {"area_px", "area_cm2"};
            for (size_t k = 0; k < 2; k++) {
                json_t *a = json_object_get(x, areas[k]);
                if (a && !num_in(a, 0, 1e12))
                    dq_teach_fef(fe, "must be a number >= 0", "observations[%zu].%s", i,
                                 areas[k]);
            }
            json_t *au = json_object_get(x, "auto");
            if (au && !json_is_boolean(au))
                dq_teach_fef(fe, "must be true or false", "observations[%zu].auto", i);
            char path[64];
            snprintf(path, sizeof(path), "observations[%zu].note", i);
            check_text(json_object_get(x, "note"), path, 0, DQ_TEACH_MAX_TEXT, fe);
        }
    /* environment */
    v = json_object_get(in, "environment");
    if (v) {
        static const char *const ok[] = {"rh_percent", "temperature_c", "lux"};
        if (!json_is_object(v))
            dq_teach_fe(fe, "environment", "must be an object");
        else {
            dq_teach_unknown_fields(v, "environment.", ok, DQ_ARRAY_LEN(ok), fe);
            json_t *rh = json_object_get(v, "rh_percent"), *tc = json_object_get(v, "temperature_c"),
                   *lx = json_object_get(v, "lux");
            if (rh && !num_in(rh, 0, 100))
                dq_teach_fe(fe, "environment.rh_percent", "must be a number from 0 to 100");
            if (tc && !num_in(tc, -50, 80))
                dq_teach_fe(fe, "environment.temperature_c", "must be a number from -50 to 80");
            if (lx && !num_in(lx, 0, 200000))
                dq_teach_fe(fe, "environment.lux", "must be a number from 0 to 200000");
        }
    }
    /* treatments */
    v = json_object_get(in, "treatments");
    if (v && (!json_is_array(v) || json_array_size(v) > 100))
        dq_teach_fe(fe, "treatments", "must be an array of at most 100 treatments");
    else if (v)
        json_array_foreach(v, i, x)
        {
            static const char *const ok[] = {"status", "description", "date"};
            char pre[48], path[64];
            snprintf(pre, sizeof(pre), "treatments[%zu].", i);
            if (!json_is_object(x)) {
                dq_teach_fef(fe, "must be an object", "treatments[%zu]", i);
                continue;
            }
            dq_teach_unknown_fields(x, pre, ok, DQ_ARRAY_LEN(ok), fe);
            if (!in_list(json_string_value(json_object_get(x, "status")), treat_status, 2))
                dq_teach_fef(fe, "required: proposed or done", "treatments[%zu].status", i);
            snprintf(path, sizeof(path), "treatments[%zu].description", i);
            check_text(json_object_get(x, "description"), path, 1, DQ_TEACH_MAX_TEXT, fe);
            json_t *td = json_object_get(x, "date");
            if (td && !dq_catalog_condition_date_ok(json_string_value(td)))
                dq_teach_fef(fe, "must be YYYY-MM-DD", "treatments[%zu].date", i);
        }
    v = json_object_get(in, "dimensions_cm");
    if (v && (!json_is_object(v) || !num_in(json_object_get(v, "width"), 0.01, 1e5) ||
              !num_in(json_object_get(v, "height"), 0.01, 1e5) || json_object_size(v) != 2))
        dq_teach_fe(fe, "dimensions_cm", "must be {\"width\", \"height\"} in cm, both > 0");
    v = json_object_get(in, "changes");
    if (v) {
        char *t = json_is_object(v) ? json_dumps(v, JSON_COMPACT) : NULL;
        if (!t || strlen(t) > 256 * 1024)
            dq_teach_fe(fe, "changes", "must be an object of at most 256 KiB");
        free(t);
    }
    if (json_object_size(fe)) {
        json_decref(in);
        dq_teach_fail_fields(fe, field_errors, err);
        json_decref(fe);
        return NULL;
    }
    json_decref(fe);
    snprintf(date, 16, "%s", d);
    /* The canonical copy: known document fields in a fixed order, server fields dropped. */
    json_t *out = json_object();
    for (size_t k = 0; k < N_DOC_FIELDS; k++) {
        json_t *f = json_object_get(in, known[k]);
        if (f)
            json_object_set(out, known[k], f);
    }
    json_object_set_new(out, "published", json_boolean(*published));
    json_decref(in);
    return out;
}

/* ---------------------------------------------------------------- transactions */

enum { W_INSERT, W_UPDATE, W_DELETE };

typedef struct {
    const dq_store_backend_t *be;
    int kind;
    dq_condition_row_t *row; /* insert, update */
    const char *relic_id;
    int64_t id, if_version;  /* delete */
    const char *who, *detail;
} write_t;

static int write_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_condition_ops *o = w->be->conditions;
    static const char *const actions[] = {"condition.create", "condition.replace",
                                          "condition.delete"};
    int r = w->kind == W_INSERT   ? o->insert(t, w->row, err)
            : w->kind == W_UPDATE ? o->update(t, w->row, w->if_version, err)
                                  : o->remove(t, w->relic_id, w->id, w->if_version, err);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
    if (r < 0)
        return -1;
    char object[128];
    snprintf(object, sizeof(object), "relic/%s/condition/c%lld", w->relic_id,
             (long long)(w->row ? w->row->id : w->id));
    return w->be->audit->append(t, w->who, actions[w->kind], object, w->detail, err);
}

typedef struct {
    const dq_store_backend_t *be;
    const char *relic_id;
    int64_t id; /* 0: list */
    dq_condition_cb cb;
    void *ud;
} read_t;

static int read_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    if (!r->id)
        return r->be->conditions->list(t, r->relic_id, r->cb, r->ud, err);
    int rc = r->be->conditions->get(t, r->relic_id, r->id, r->cb, r->ud, err);
    if (rc > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
    return rc;
}

/* ---------------------------------------------------------------- JSON and visibility */

static int64_t record_num(const char *s)
{
    if (!s || s[0] != 'c' || !s[1])
        return -1;
    uint64_t v;
    if (dq_str_to_u64(s + 1, strlen(s + 1), &v) < 0 || v == 0 || v > INT64_MAX)
        return -1;
    return (int64_t)v;
}

/* The record as the API gives it: server fields first, then the document. */
static json_t *record_json(const dq_condition_row_t *row)
{
    char id[32];
    snprintf(id, sizeof(id), "c%lld", (long long)row->id);
    json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id", id, "relic_id", row->relic_id,
                          "version", (json_int_t)row->version, "created", row->created,
                          "modified", row->modified, "author", row->author);
    json_t *doc = json_loads(row->doc, 0, NULL);
    if (doc)
        json_object_update(o, doc);
    json_decref(doc);
    return o;
}

/* The relic must exist and be visible to who (404 otherwise, as for the relic itself). */
static int relic_check(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                       dq_err_t *err)
{
    dq_buf_t b = {0};
    int r = dq_catalog_relic_get(cat, relic_id, who, &b, NULL, err);
    dq_buf_free(&b);
    return r;
}

static int visible(const dq_condition_row_t *row, const dq_actor_t *who)
{
    return row->published || (who && who->role >= DQ_ROLE_VIEWER);
}

typedef struct {
    dq_condition_row_t row;
    int found;
} one_t;

static int copy_row(void *ud, const dq_condition_row_t *row)
{
    one_t *o = ud;
    o->row = *row;
    o->row.doc = dq_xstrdup(row->doc);
    o->found = 1;
    return 1;
}

static int load(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                const dq_actor_t *who, dq_condition_row_t *row, dq_err_t *err)
{
    int64_t n = record_num(record_id);
    one_t one = {0};
    memset(row, 0, sizeof(*row));
    if (relic_check(cat, relic_id, who, err) < 0)
        return -1;
    if (n <= 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
    read_t r = {.be = dq_catalog_backend(cat), .relic_id = relic_id, .id = n, .cb = copy_row,
                .ud = &one};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        return -1;
    if (!visible(&one.row, who)) {
        free((char *)one.row.doc);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
    }
    *row = one.row;
    return 0;
}

static void detail_of(char *d, size_t cap, const char *date, const json_t *doc)
{
    snprintf(d, cap, "{\"date\":\"%s\",\"overall\":\"%s\"}", date,
             json_string_value(json_object_get(doc, "overall")));
}

/* ---------------------------------------------------------------- the public API */

/* Create (n = 0) or replace record n: validate, store with its audit row, answer. */
static int put_record(dq_catalog_t *cat, const char *relic_id, int64_t n, const char *json,
                      size_t len, int64_t if_version, const dq_actor_t *who, dq_buf_t *out,
                      dq_buf_t *field_errors, dq_err_t *err)
{
    json_t *doc = NULL, *o = NULL;
    char *text = NULL;
    dq_condition_row_t row = {.id = n};
    int rc = -1;
    if (dq_teach_need_role(who, DQ_ROLE_CONSERVATOR, err) < 0 ||
        relic_check(cat, relic_id, who, err) < 0)
        goto out;
    if (n < 0) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
        goto out;
    }
    if (!(doc = cond_parse(cat, json, len, &row.published, row.date, field_errors, err)))
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    snprintf(row.relic_id, sizeof(row.relic_id), "%s", relic_id);
    snprintf(row.author, sizeof(row.author), "%s", who->user);
    char detail[96];
    detail_of(detail, sizeof(detail), row.date, doc);
    write_t w = {.be = dq_catalog_backend(cat), .kind = n ? W_UPDATE : W_INSERT, .row = &row,
                 .relic_id = relic_id, .if_version = if_version, .who = who->user,
                 .detail = detail};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out) {
        o = record_json(&row);
        dq_teach_dump(out, o);
    }
    rc = 0;
out:
    json_decref(o);
    json_decref(doc);
    free(text);
    return rc;
}

int dq_catalog_condition_create(dq_catalog_t *cat, const char *relic_id, const char *json,
                                size_t len, const dq_actor_t *who, dq_buf_t *out,
                                dq_buf_t *field_errors, dq_err_t *err)
{
    return put_record(cat, relic_id, 0, json, len, -1, who, out, field_errors, err);
}

int dq_catalog_condition_get(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                             const dq_actor_t *who, dq_buf_t *out, int64_t *version,
                             dq_err_t *err)
{
    dq_condition_row_t row;
    if (load(cat, relic_id, record_id, who, &row, err) < 0)
        return -1;
    if (out) {
        json_t *o = record_json(&row);
        dq_teach_dump(out, o);
        json_decref(o);
    }
    if (version)
        *version = row.version;
    free((char *)row.doc);
    return 0;
}

int dq_catalog_condition_replace(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                                 const char *json, size_t len, int64_t if_version,
                                 const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                                 dq_err_t *err)
{
    int64_t n = record_num(record_id);
    return put_record(cat, relic_id, n > 0 ? n : -1, json, len, if_version, who, out,
                      field_errors, err);
}

int dq_catalog_condition_delete(dq_catalog_t *cat, const char *relic_id, const char *record_id,
                                int64_t if_version, const dq_actor_t *who, dq_err_t *err)
{
    int64_t n = record_num(record_id);
    if (dq_teach_need_role(who, DQ_ROLE_CONSERVATOR, err) < 0 ||
        relic_check(cat, relic_id, who, err) < 0)
        return -1;
    if (n <= 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such condition record");
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_DELETE, .relic_id = relic_id,
                 .id = n, .if_version = if_version, .who = who->user, .detail = "{}"};
    return dq_catalog_write(cat, write_txn, &w, err);
}

typedef struct {
    json_t *items;
    const dq_actor_t *who;
} list_t;

static int list_row(void *ud, const dq_condition_row_t *row)
{
    list_t *l = ud;
    if (visible(row, l->who))
        json_array_append_new(l->items, record_json(row));
    return 0;
}

int dq_catalog_condition_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                              dq_buf_t *out, dq_err_t *err)
{
    if (relic_check(cat, relic_id, who, err) < 0)
        return -1;
    list_t l = {json_array(), who};
    read_t r = {.be = dq_catalog_backend(cat), .relic_id = relic_id, .cb = list_row, .ud = &l};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0) {
        json_decref(l.items);
        return -1;
    }
    json_t *o = json_pack("{s:s, s:o}", "relic_id", relic_id, "items", l.items);
    dq_teach_dump(out, o);
    json_decref(o);
    return 0;
}

/* ---------------------------------------------------------------- image gates */

/* The link roles of condition images, the gated ones of catalog.h's derived roles: a
 * record's capture (`condition`) and its change map (`change-map`), as condrec/record.c links
 * them. Such images are shown to anonymous callers only when a published record of the relic
 * refers to them (issue 12: "anonymous users see only what the museum publishes"); before, a
 * draft's capture was as visible as its relic. */

typedef struct {
    dq_image_map_t *build; /* every relic: straight into the map being built */
    char **ids;            /* one relic: collected, then swapped in at once */
    unsigned char *open;
    int n;
} cgate_t;

static int gate_link(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    cgate_t *g = ud;
    (void)restricted;
    if (!image_id)
        return 0;
    if (g->build) {
        dq_image_map_gate_link(g->build, relic_id, image_id);
        return 0;
    }
    g->ids = dq_xrealloc(g->ids, (size_t)(g->n + 1) * sizeof(char *));
    g->open = dq_xrealloc(g->open, (size_t)(g->n + 1));
    g->ids[g->n] = dq_xstrdup(image_id);
    g->open[g->n++] = 0;
    return 0;
}

static void gate_ref(cgate_t *g, const char *relic_id, const char *image_id)
{
    if (!image_id)
        return;
    if (g->build)
        dq_image_map_gate_open(g->build, relic_id, image_id);
    for (int i = 0; i < g->n; i++)
        if (strcmp(g->ids[i], image_id) == 0)
            g->open[i] = 1;
}

/* A published record opens the gates of the images it refers to: its captures (images[]) and
 * its change map and capture (changes). Its reference image (changes.ref_image) is another
 * record's capture and stays as that record decides. */
static int gate_record(void *ud, const dq_condition_row_t *row)
{
    cgate_t *g = ud;
    json_t *doc = json_loads(row->doc, 0, NULL), *x;
    size_t i;
    json_array_foreach(json_object_get(doc, "images"), i, x)
        gate_ref(g, row->relic_id, json_string_value(x));
    json_t *chg = json_object_get(doc, "changes");
    gate_ref(g, row->relic_id, json_string_value(json_object_get(chg, "capture_image")));
    gate_ref(g, row->relic_id, json_string_value(json_object_get(chg, "map_image")));
    json_decref(doc);
    return 0;
}

int dq_condition_gate_load(const dq_store_backend_t *be, dq_store_txn_t *t, dq_image_map_t *m,
                           const char *relic_id, dq_err_t *err)
{
    cgate_t g = {.build = relic_id ? NULL : m};
    int rc = -1;
    const char *role;
    int gated;
    for (int k = 0; (role = dq_catalog_link_derived_at(k, &gated)) != NULL; k++)
        if (gated && be->conditions->role_links(t, relic_id, role, gate_link, &g, err) < 0)
            goto out;
    /* Links first: opening needs them (dq_image_map_gate_open). A relic without gated
     * links has no record to read. */
    if ((relic_id == NULL || g.n > 0) &&
        be->conditions->published(t, relic_id, gate_record, &g, err) < 0)
        goto out;
    if (relic_id)
        dq_image_map_gate_relic(m, relic_id, (const char *const *)g.ids, g.open, g.n);
    rc = 0;
out:
    for (int i = 0; i < g.n; i++)
        free(g.ids[i]);
    free(g.ids);
    free(g.open);
    return rc;
}

/* ---------------------------------------------------------------- maintenance walks */

int dq_catalog_condition_each(dq_catalog_t *cat, dq_condition_cb cb, void *ud, dq_err_t *err)
{
    read_t r = {.be = dq_catalog_backend(cat), .relic_id = NULL, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, read_txn, &r, err);
}

typedef struct {
    const dq_store_backend_t *be;
    const char *role;
    dq_role_link_cb cb;
    void *ud;
} links_t;

static int link_pass(void *ud, const char *relic_id, int restricted, const char *image_id)
{
    links_t *l = ud;
    (void)restricted;
    return l->cb(l->ud, relic_id, image_id);
}

static int links_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    links_t *l = ud;
    return l->be->conditions->role_links(t, NULL, l->role, link_pass, l, err);
}

int dq_catalog_role_links(dq_catalog_t *cat, const char *role, dq_role_link_cb cb, void *ud,
                          dq_err_t *err)
{
    links_t l = {.be = dq_catalog_backend(cat), .role = role, .cb = cb, .ud = ud};
    return dq_catalog_read(cat, links_txn, &l, err);
}
