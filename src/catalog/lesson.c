/*
 * lesson.c: lessons (issue 17), the logic behind catalog.h "lessons": validation of the lesson
 * document (steps across any number of works: views, tour stops, comparisons of two details,
 * with questions), the access rules (educators and above write; the author or an admin change;
 * private lessons are the author's), what a reader may see (steps on works hidden from the
 * caller become "hidden"; answers only for editors) and the server-side check of a learner's
 * answer. Each write is one transaction of the backend's row primitives (store.h) with its
 * audit row. It keeps nothing about learners: a check is a pure function of the lesson.
 * Also the helpers of teach_internal.h, shared with glossary.c.
 */
#include "catalog.h"
#include "store.h"
#include "teach_internal.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STEPS 100
#define MAX_CHOICES 8

/* ---------------------------------------------------------------- shared helpers */

void dq_teach_fe(json_t *fe, const char *path, const char *msg)
{
    if (!json_object_get(fe, path))
        json_object_set_new(fe, path, json_string(msg));
}

void dq_teach_fef(json_t *fe, const char *msg, const char *fmt, ...)
{
    char path[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    dq_teach_fe(fe, path, msg);
}

int dq_teach_fail_fields(json_t *fe, dq_buf_t *field_errors, dq_err_t *err)
{
    if (field_errors) {
        char *s = json_dumps(fe, JSON_COMPACT | JSON_SORT_KEYS);
        dq_buf_puts(field_errors, s ? s : "{}");
        free(s);
    }
    const char *first = "invalid", *k;
    json_t *v;
    json_object_foreach(fe, k, v)
    {
        first = k;
        break;
    }
    return dq_err_set(err, DQ_EINVAL, 422, "invalid document (%.100s: %.100s)", first,
                      json_string_value(json_object_get(fe, first)));
}

json_t *dq_teach_parse(const char *json, size_t len, dq_err_t *err)
{
    json_t *j = json ? json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_object(j)) {
        json_decref(j);
        dq_err_set(err, DQ_EINVAL, 400, "the body must be a JSON object");
        return NULL;
    }
    return j;
}

int dq_teach_need_role(const dq_actor_t *who, int role, dq_err_t *err)
{
    if (!who || who->role == DQ_ROLE_ANON)
        return dq_err_set(err, DQ_EINVAL, 401, "sign in first");
    if (who->role < role)
        return dq_err_set(err, DQ_EINVAL, 403, "your role may not do this");
    return 0;
}

int dq_teach_text_clean(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f)
            return 0;
    return 1;
}

json_t *dq_teach_lang_map(const json_t *v, const char *path, int need, size_t max, json_t *fe)
{
    if (!v && !need)
        return json_object();
    if (!json_is_object(v)) {
        dq_teach_fe(fe, path, "must be an object {\"zh\": ..., \"en\": ...}");
        return NULL;
    }
    json_t *m = json_object();
    const char *k;
    json_t *e;
    json_object_foreach((json_t *)v, k, e)
    {
        const char *s = json_string_value(e);
        if (strcmp(k, "zh") && strcmp(k, "en"))
            dq_teach_fef(fe, "unknown language (zh, en)", "%s.%.20s", path, k);
        else if (!s || strlen(s) > max || !dq_teach_text_clean(s))
            dq_teach_fef(fe, "must be text without control characters", "%s.%s", path, k);
        else if (*s)
            json_object_set_new(m, k, json_string(s));
    }
    if (need == 1 && json_object_size(m) == 0)
        dq_teach_fe(fe, path, "required (zh or en)");
    if (need == 2) {
        if (!json_object_get(m, "zh"))
            dq_teach_fef(fe, "required", "%s.zh", path);
        if (!json_object_get(m, "en"))
            dq_teach_fef(fe, "required", "%s.en", path);
    }
    return m;
}

void dq_teach_unknown_fields(const json_t *obj, const char *prefix, const char *const *known,
                             size_t n_known, json_t *fe)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        size_t i = 0;
        while (i < n_known && strcmp(k, known[i]))
            i++;
        if (i == n_known)
            dq_teach_fef(fe, "unknown field", "%s%.40s", prefix, k);
    }
}

void dq_teach_dump(dq_buf_t *out, const json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    DQ_ASSERT(s != NULL);
    dq_buf_puts(out, s);
    free(s);
}

/* ---------------------------------------------------------------- works a lesson names */

/* What validation needs of one relic, loaded once per lesson write: whether the author may
 * see it, its canvases' sizes and the image role of each canvas. */
typedef struct {
    char *relic_id;
    int visible;
    int n;
    int *w, *h;
    char **role;
} work_t;

typedef struct {
    dq_catalog_t *cat;
    const dq_actor_t *who;
    work_t *v;
    size_t n, cap;
} works_t;

static void works_free(works_t *ws)
{
    for (size_t i = 0; i < ws->n; i++) {
        work_t *w = &ws->v[i];
        for (int k = 0; k < w->n; k++)
            free(w->role[k]);
        free(w->role);
        free(w->w);
        free(w->h);
        free(w->relic_id);
    }
    free(ws->v);
    memset(ws, 0, sizeof(*ws));
}

/* The relic relic_id as ws->who may see it (visible 0 when hidden or unknown); NULL only when
 * the catalog failed (err). */
static work_t *work_get(works_t *ws, const char *relic_id, dq_err_t *err)
{
    for (size_t i = 0; i < ws->n; i++)
        if (strcmp(ws->v[i].relic_id, relic_id) == 0)
            return &ws->v[i];
    dq_buf_t doc = {0}, cv = {0};
    dq_err_t e = {0};
    json_t *d = NULL, *c = NULL;
    work_t w = {.relic_id = dq_xstrdup(relic_id)};
    if (dq_catalog_relic_get(ws->cat, relic_id, ws->who, &doc, NULL, &e) == 0 &&
        dq_catalog_relic_canvases(ws->cat, relic_id, ws->who, &cv, &e) == 0) {
        w.visible = 1;
        d = json_loadb(doc.data, doc.len, 0, NULL);
        c = json_loadb(cv.data, cv.len, 0, NULL);
        size_t n = json_array_size(c);
        w.w = dq_xcalloc(n + 1, sizeof(int));
        w.h = dq_xcalloc(n + 1, sizeof(int));
        w.role = dq_xcalloc(n + 1, sizeof(char *));
        for (size_t i = 0; i < n; i++) {
            const json_t *ci = json_array_get(c, i);
            const char *iid = json_string_value(json_object_get(ci, "image_id"));
            w.w[i] = (int)json_integer_value(json_object_get(ci, "width"));
            w.h[i] = (int)json_integer_value(json_object_get(ci, "height"));
            const char *role = "";
            size_t k;
            json_t *im;
            json_array_foreach(json_object_get(d, "images"), k, im)
            {
                const char *id2 = json_string_value(json_object_get(im, "image_id"));
                const char *r = json_string_value(json_object_get(im, "role"));
                if (iid && id2 && r && strcmp(iid, id2) == 0) {
                    role = r;
                    break;
                }
            }
            w.role[i] = dq_xstrdup(role);
        }
        w.n = (int)n;
    } else if (e.http_status != 404) {
        free(w.relic_id);
        *err = e;
        return NULL;
    }
    json_decref(d);
    json_decref(c);
    dq_buf_free(&doc);
    dq_buf_free(&cv);
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 8;
        ws->v = dq_xrealloc(ws->v, ws->cap * sizeof(*ws->v));
    }
    ws->v[ws->n] = w;
    return &ws->v[ws->n++];
}

/* ---------------------------------------------------------------- validation */

/* Validates a region reference {relic_id, canvas, xywh} at prefix; xywh_need 0: optional.
 * Returns the canonical object (new reference) or NULL (errors in fe, or err on a catalog
 * failure with *failed set). */
static json_t *check_ref(works_t *ws, const json_t *o, const char *prefix, int xywh_need,
                         const char *default_relic, json_t *fe, int *failed, dq_err_t *err)
{
    char p[160];
    if (!json_is_object(o)) {
        snprintf(p, sizeof(p), "%.*s", (int)strlen(prefix) - 1, prefix);
        dq_teach_fe(fe, p, "must be an object {relic_id, canvas, xywh}");
        return NULL;
    }
    const char *relic = json_string_value(json_object_get(o, "relic_id"));
    if (!relic)
        relic = default_relic;
    snprintf(p, sizeof(p), "%srelic_id", prefix);
    if (!relic || !*relic || strlen(relic) > 63) {
        dq_teach_fe(fe, p, "required: the id of a work");
        return NULL;
    }
    work_t *w = work_get(ws, relic, err);
    if (!w) {
        *failed = 1;
        return NULL;
    }
    if (!w->visible) {
        dq_teach_fe(fe, p, "no such work");
        return NULL;
    }
    const json_t *cv = json_object_get(o, "canvas");
    json_int_t canvas = cv ? (json_is_integer(cv) ? json_integer_value(cv) : -1) : 1;
    snprintf(p, sizeof(p), "%scanvas", prefix);
    if (canvas < 1 || canvas > w->n) {
        dq_teach_fe(fe, p, w->n ? "no such canvas" : "the work has no image");
        return NULL;
    }
    json_t *r = json_pack("{s:s, s:I}", "relic_id", relic, "canvas", canvas);
    const json_t *xy = json_object_get(o, "xywh");
    snprintf(p, sizeof(p), "%sxywh", prefix);
    int v[4];
    if (!xy && !xywh_need) {
        /* No region: the whole canvas, written out so that players and content states need
         * no size lookup. */
        json_object_set_new(r, "xywh", json_pack("[iiii]", 0, 0, w->w[canvas - 1],
                                                 w->h[canvas - 1]));
        return r;
    }
    int ok = json_is_array(xy) && json_array_size(xy) == 4;
    for (int i = 0; ok && i < 4; i++) {
        const json_t *e = json_array_get(xy, (size_t)i);
        json_int_t k = json_is_integer(e) ? json_integer_value(e) : -1;
        ok = k >= (i < 2 ? 0 : 1) && k <= 1000000000;
        v[i] = ok ? (int)k : 0;
    }
    if (!ok) {
        dq_teach_fe(fe, p, "required: [x, y, w, h] in canvas pixels, w and h >= 1");
        json_decref(r);
        return NULL;
    }
    if ((int64_t)v[0] + v[2] > w->w[canvas - 1] || (int64_t)v[1] + v[3] > w->h[canvas - 1]) {
        dq_teach_fe(fe, p, "the region extends beyond the canvas");
        json_decref(r);
        return NULL;
    }
    json_object_set_new(r, "xywh", json_pack("[iiii]", v[0], v[1], v[2], v[3]));
    return r;
}

/* "t12" / "l12" -> 12; 0 for anything else. */
static int64_t num_id(const char *s, char prefix)
{
    uint64_t v = 0;
    if (!s || s[0] != prefix || !s[1] || dq_str_to_u64(s + 1, strlen(s + 1), &v) < 0 ||
        v > INT64_MAX / 2)
        return 0;
    return (int64_t)v;
}

/* Validates the question of a step (q non-NULL) at prefix "steps[i].question"; view is the
 * step's canonical view (for a find question's default work), or NULL. */
static json_t *check_question(works_t *ws, const json_t *q, const char *prefix, const json_t *view,
                              json_t *fe, int *failed, dq_err_t *err)
{
    static const char *const known[] = {"type", "prompt", "choices", "answer", "target"};
    char p[160];
    if (!json_is_object(q)) {
        dq_teach_fe(fe, prefix, "must be an object {type, prompt, ...}");
        return NULL;
    }
    snprintf(p, sizeof(p), "%s.", prefix);
    dq_teach_unknown_fields(q, p, known, DQ_ARRAY_LEN(known), fe);
    const char *type = json_string_value(json_object_get(q, "type"));
    snprintf(p, sizeof(p), "%s.prompt", prefix);
    json_t *prompt =
        dq_teach_lang_map(json_object_get(q, "prompt"), p, 1, DQ_TEACH_MAX_TEXT, fe);
    if (!prompt)
        return NULL;
    json_t *out = json_pack("{s:s, s:o}", "type", type ? type : "", "prompt", prompt);
    if (type && strcmp(type, "choice") == 0) {
        const json_t *ch = json_object_get(q, "choices");
        size_t n = json_array_size(ch);
        snprintf(p, sizeof(p), "%s.choices", prefix);
        if (!json_is_array(ch) || n < 2 || n > MAX_CHOICES) {
            dq_teach_fe(fe, p, "required: 2 to 8 choices");
        } else {
            json_t *arr = json_array();
            for (size_t i = 0; i < n; i++) {
                char cp[176];
                snprintf(cp, sizeof(cp), "%s.choices[%d]", prefix, (int)i);
                json_t *m = dq_teach_lang_map(json_array_get(ch, i), cp, 1, DQ_TEACH_MAX_TITLE, fe);
                json_array_append_new(arr, m ? m : json_object());
            }
            json_object_set_new(out, "choices", arr);
        }
        const json_t *a = json_object_get(q, "answer");
        snprintf(p, sizeof(p), "%s.answer", prefix);
        if (!json_is_integer(a) || json_integer_value(a) < 0 ||
            json_integer_value(a) >= (json_int_t)n)
            dq_teach_fe(fe, p, "required: the index of the right choice (0, 1, ...)");
        else
            json_object_set_new(out, "answer", json_integer(json_integer_value(a)));
    } else if (type && strcmp(type, "find") == 0) {
        const json_t *t = json_object_get(q, "target");
        snprintf(p, sizeof(p), "%s.target.", prefix);
        const char *dr = json_string_value(json_object_get(view, "relic_id"));
        json_t *tgt = NULL;
        if (!t) {
            dq_teach_fef(fe, "required: {relic_id, canvas, xywh} of the right place", "%s.target",
                         prefix);
        } else {
            /* A find question on a view defaults to the view's work and canvas. */
            json_t *tt = json_deep_copy(t);
            if (json_is_object(tt) && view && !json_object_get(tt, "canvas"))
                json_object_set(tt, "canvas", json_object_get(view, "canvas"));
            tgt = check_ref(ws, tt, p, 1, dr, fe, failed, err);
            json_decref(tt);
        }
        if (tgt)
            json_object_set_new(out, "target", tgt);
    } else {
        dq_teach_fef(fe, "must be choice or find", "%s.type", prefix);
    }
    return out;
}

/* ---------------------------------------------------------------- what a view shows */

/* 1 when a band of bands is named name (a (ptr, len) pair: rgb-/ratio- parts are not
 * NUL-terminated). */
static int band_named(const json_t *bands, const char *name, size_t name_len)
{
    size_t i;
    json_t *b;
    json_array_foreach((json_t *)bands, i, b)
    {
        const char *n = json_string_value(json_object_get(b, "name"));
        if (n && strlen(n) == name_len && memcmp(n, name, name_len) == 0)
            return 1;
    }
    return 0;
}

/* 1 when a band of bands is of kind (and, for reflectance, at least min_nm). */
static int band_of_kind(const json_t *bands, const char *kind, double min_nm)
{
    size_t i;
    json_t *b;
    json_array_foreach((json_t *)bands, i, b)
    {
        const char *k = json_string_value(json_object_get(b, "kind"));
        if (k && strcmp(k, kind) == 0 && json_number_value(json_object_get(b, "nm")) >= min_nm)
            return 1;
    }
    return 0;
}

/* 1 when /iiif/3/spectral/{capture}/{name} can be rendered from a capture with these bands
 * (its record's "bands") and derived layers (dq_catalog_capture_layers): the rules of
 * http/spectral_layer.c dq_spectral_recipe() (http/ sits above catalog/, hence this mirror)
 * and docs/api.md "Multispectral captures": a band's name; the presets visible (a visible
 * frame or any reflectance band), irfc (a reflectance band at 780 nm or more), uvf (a UV
 * fluorescence band); rgb-A-B-C and ratio-A-B of band names; a stored layer with its file. */
static int spectral_layer_known(const json_t *bands, const json_t *layers, const char *name)
{
    if (band_named(bands, name, strlen(name)))
        return 1;
    if (strcmp(name, "visible") == 0)
        return band_of_kind(bands, "visible", -1) || band_of_kind(bands, "reflectance", -1);
    if (strcmp(name, "irfc") == 0)
        return band_of_kind(bands, "reflectance", 780);
    if (strcmp(name, "uvf") == 0)
        return band_of_kind(bands, "uv_fluorescence", -1);
    int ratio = strncmp(name, "ratio-", 6) == 0;
    if (ratio || strncmp(name, "rgb-", 4) == 0) {
        const char *p = name + (ratio ? 6 : 4);
        int want = ratio ? 2 : 3, k = 0;
        while (*p) {
            size_t n = strcspn(p, "-");
            if (n == 0 || ++k > want || !band_named(bands, p, n))
                return 0;
            p += n + (p[n] == '-');
        }
        return k == want;
    }
    size_t i;
    json_t *l;
    json_array_foreach((json_t *)layers, i, l)
    {
        const char *n = json_string_value(json_object_get(l, "name"));
        const char *f = json_string_value(json_object_get(json_object_get(l, "doc"), "file"));
        if (n && f && strcmp(n, name) == 0 && !strchr(f, '/'))
            return 1;
    }
    return 0;
}

/* Validates "spectral": {"capture", "layer"} of a view on relic (canvas: the view's) and sets
 * its canonical form in out. A capture is of its work's first canvas (the manifest offers its
 * layers there, as a Choice). */
static void check_spectral(works_t *ws, const json_t *sp, const char *relic, json_int_t canvas,
                           const char *p, json_t *out, json_t *fe, int *failed, dq_err_t *err)
{
    static const char *const known[] = {"capture", "layer"};
    char q[160];
    snprintf(q, sizeof(q), "%sspectral", p);
    if (!json_is_object(sp)) {
        dq_teach_fe(fe, q, "must be an object {\"capture\", \"layer\"}");
        return;
    }
    snprintf(q, sizeof(q), "%sspectral.", p);
    dq_teach_unknown_fields(sp, q, known, DQ_ARRAY_LEN(known), fe);
    const char *cid = json_string_value(json_object_get(sp, "capture"));
    const char *layer = json_string_value(json_object_get(sp, "layer"));
    dq_capture_t cap = {0};
    dq_buf_t lb = {0};
    dq_err_t e = {0};
    json_t *doc = NULL, *layers = NULL;
    snprintf(q, sizeof(q), "%sspectral.capture", p);
    if (!cid || !*cid || strlen(cid) > 63 ||
        dq_catalog_capture_get(ws->cat, cid, ws->who, &cap, &e) < 0) {
        if (e.http_status >= 500) {
            *err = e;
            *failed = 1;
        }
        dq_teach_fe(fe, q, "no such spectral capture");
        goto out;
    }
    if (strcmp(cap.relic_id, relic) != 0) {
        dq_teach_fe(fe, q, "the capture is of another work");
        goto out;
    }
    if (canvas != 1) {
        dq_teach_fe(fe, q, "a spectral capture is of the work's first canvas");
        goto out;
    }
    if (dq_catalog_capture_layers(ws->cat, cid, ws->who, &lb, &e) < 0) {
        *err = e;
        *failed = 1;
        goto out;
    }
    doc = json_loads(cap.doc ? cap.doc : "{}", 0, NULL);
    layers = json_loadb(lb.data ? lb.data : "[]", lb.len, 0, NULL);
    snprintf(q, sizeof(q), "%sspectral.layer", p);
    if (!layer || strlen(layer) > 63 ||
        !spectral_layer_known(json_object_get(doc, "bands"), layers, layer)) {
        dq_teach_fe(fe, q, "the capture has no such layer (a band, visible, irfc, uvf, "
                           "rgb-A-B-C, ratio-A-B or a derived layer such as pigments)");
        goto out;
    }
    json_object_set_new(out, "spectral", json_pack("{s:s, s:s}", "capture", cid, "layer", layer));
out:
    json_decref(doc);
    json_decref(layers);
    dq_buf_free(&lb);
    dq_capture_free(&cap);
}

/* 1 when a record of date rd matches want: the same day, or the same year for "YYYY". */
static int date_matches(const char *rd, const char *want)
{
    return rd && (strlen(want) == 4 ? strncmp(rd, want, 4) == 0 : strcmp(rd, want) == 0);
}

/* The condition record of relic that a step names, as who may see it: by id (cid non-NULL;
 * then date, when given, must match it) or by date (the only record on that day, or in that
 * year). 0: *rec is the record (new reference); 1: none (*why says why, and *field which of
 * the two fields is wrong); -1: the catalog failed (err). */
static int find_record(dq_catalog_t *cat, const char *relic, const char *cid, const char *date,
                       const dq_actor_t *who, json_t **rec, const char **why, const char **field,
                       dq_err_t *err)
{
    dq_buf_t b = {0};
    dq_err_t e = {0};
    int rc = 1;
    *rec = NULL;
    *field = cid ? "condition" : "condition_date";
    if (cid) {
        if (dq_catalog_condition_get(cat, relic, cid, who, &b, NULL, &e) == 0) {
            json_t *r = json_loadb(b.data, b.len, 0, NULL);
            if (date && !date_matches(json_string_value(json_object_get(r, "date")), date)) {
                *why = "the record is of another date";
                *field = "condition_date";
                json_decref(r);
            } else {
                *rec = r;
                rc = 0;
            }
        } else {
            *why = "no such condition record of this work";
        }
    } else if (dq_catalog_condition_list(cat, relic, who, &b, &e) == 0) {
        json_t *l = json_loadb(b.data, b.len, 0, NULL);
        size_t i, n = 0;
        json_t *r;
        json_array_foreach(json_object_get(l, "items"), i, r)
        {
            if (date_matches(json_string_value(json_object_get(r, "date")), date) && n++ == 0)
                *rec = json_incref(r);
        }
        json_decref(l);
        if (n == 1) {
            rc = 0;
        } else {
            json_decref(*rec);
            *rec = NULL;
            *why = n ? "several condition records of the work match: name one with "
                       "\"condition\" (its id, c<n>)"
                     : "the work has no condition record of this date";
        }
    }
    if (rc == 1 && e.http_status >= 500) {
        *err = e;
        rc = -1;
    }
    dq_buf_free(&b);
    return rc;
}

/* Validates "condition" (a record id) and/or "condition_date" (YYYY-MM-DD or YYYY) of a view on
 * relic: they must name one condition record of that work that the author may see; out gets
 * both, the date as the record's. */
static void check_condition(works_t *ws, const json_t *s, const char *relic, const char *p,
                            json_t *out, json_t *fe, int *failed, dq_err_t *err)
{
    const json_t *cv = json_object_get(s, "condition"), *dv = json_object_get(s, "condition_date");
    const char *cid = json_string_value(cv), *date = json_string_value(dv);
    char q[160];
    if (cv && (!cid || strlen(cid) > 31)) {
        snprintf(q, sizeof(q), "%scondition", p);
        dq_teach_fe(fe, q, "must be the id of a condition record of the work (c<n>)");
        return;
    }
    int ok = !dv || (date && (strlen(date) == 4 || strlen(date) == 10));
    for (size_t k = 0; ok && date && date[k]; k++)
        ok = (k == 4 || k == 7) ? date[k] == '-' : (date[k] >= '0' && date[k] <= '9');
    if (!ok) {
        snprintf(q, sizeof(q), "%scondition_date", p);
        dq_teach_fe(fe, q, "must be the date of a condition record of the work: YYYY-MM-DD "
                           "(or YYYY)");
        return;
    }
    json_t *rec = NULL;
    const char *why = NULL, *field = NULL;
    int r = find_record(ws->cat, relic, cid, date, ws->who, &rec, &why, &field, err);
    if (r < 0) {
        *failed = 1;
    } else if (r > 0) {
        snprintf(q, sizeof(q), "%s%s", p, field);
        dq_teach_fe(fe, q, why);
    } else {
        json_object_set(out, "condition", json_object_get(rec, "id"));
        json_object_set(out, "condition_date", json_object_get(rec, "date"));
    }
    json_decref(rec);
}

/* What a view shows besides its canvas: an image role of the work ("layer"), a layer of one of
 * its spectral captures ("spectral") or the photograph of one of its condition records
 * ("condition" / "condition_date"); at most one of the three, since a view has one viewer. */
static void check_view_image(works_t *ws, const json_t *s, const json_t *view, const char *p,
                             json_t *out, json_t *fe, int *failed, dq_err_t *err)
{
    const char *relic = json_string_value(json_object_get(view, "relic_id"));
    json_int_t canvas = json_integer_value(json_object_get(view, "canvas"));
    const json_t *lv = json_object_get(s, "layer"), *sp = json_object_get(s, "spectral");
    int cond = json_object_get(s, "condition") || json_object_get(s, "condition_date");
    char q[160];
    if (!!lv + !!sp + !!cond > 1) {
        snprintf(q, sizeof(q), "%s%s", p, sp ? "spectral" : "layer");
        dq_teach_fe(fe, q, "a view shows one image: an image role (layer), a spectral layer "
                           "or a condition record, not two");
        return;
    }
    if (lv) {
        const char *layer = json_string_value(lv);
        work_t *w = work_get(ws, relic, err);
        int found = 0;
        if (!w) {
            *failed = 1;
            return;
        }
        for (int k = 0; layer && k < w->n && !found; k++)
            found = strcmp(w->role[k], layer) == 0;
        snprintf(q, sizeof(q), "%slayer", p);
        if (!found)
            dq_teach_fe(fe, q, "the work has no image with this role (its layers: the roles of "
                               "its images, e.g. infrared; spectral layers go in \"spectral\")");
        else
            json_object_set_new(out, "layer", json_string(layer));
    }
    if (sp)
        check_spectral(ws, sp, relic, canvas, p, out, fe, failed, err);
    if (cond)
        check_condition(ws, s, relic, p, out, fe, failed, err);
}

/* Validates one step at index i; returns its canonical form or NULL. */
static json_t *check_step(works_t *ws, const json_t *s, int i, json_t *fe, int *failed,
                          dq_err_t *err)
{
    static const char *const known[] = {
        "kind", "relic_id", "canvas", "xywh", "layer", "spectral", "condition", "condition_date",
        "title", "text", "tour_id", "stop", "a", "b", "question", "condition_record"};
    char p[64], q[96];
    snprintf(p, sizeof(p), "steps[%d].", i);
    if (!json_is_object(s)) {
        dq_teach_fef(fe, "must be an object {kind, ...}", "steps[%d]", i);
        return NULL;
    }
    dq_teach_unknown_fields(s, p, known, DQ_ARRAY_LEN(known), fe);
    const char *kind = json_string_value(json_object_get(s, "kind"));
    json_t *out = json_pack("{s:s}", "kind", kind ? kind : "");
    json_t *view = NULL;
    if (kind && strcmp(kind, "view") == 0) {
        view = check_ref(ws, s, p, 0, NULL, fe, failed, err);
        if (view) {
            json_object_update(out, view);
            check_view_image(ws, s, view, p, out, fe, failed, err);
        }
    } else if (kind && strcmp(kind, "tour") == 0) {
        const char *tid = json_string_value(json_object_get(s, "tour_id"));
        const json_t *stop = json_object_get(s, "stop");
        json_int_t k = stop ? (json_is_integer(stop) ? json_integer_value(stop) : -1) : 0;
        dq_buf_t tb = {0};
        dq_err_t te = {0};
        snprintf(q, sizeof(q), "%stour_id", p);
        if (!tid || num_id(tid, 't') <= 0 ||
            dq_catalog_tour_get(ws->cat, tid, ws->who, &tb, NULL, &te) < 0) {
            if (te.http_status >= 500) {
                *err = te;
                *failed = 1;
            }
            dq_teach_fe(fe, q, "no such tour");
        } else {
            json_t *t = json_loadb(tb.data, tb.len, 0, NULL);
            json_t *st = json_array_get(json_object_get(t, "stops"), (size_t)(k < 0 ? 0 : k));
            snprintf(q, sizeof(q), "%sstop", p);
            if (k < 0 || !st) {
                dq_teach_fe(fe, q, "no such stop in the tour (0, 1, ...)");
            } else {
                json_object_set_new(out, "tour_id", json_string(tid));
                json_object_set_new(out, "stop", json_integer(k));
                /* The stop's work and region, so that a player and a find question need not
                 * fetch the tour. */
                json_object_set(out, "relic_id", json_object_get(t, "relic_id"));
                json_object_set(out, "canvas", json_object_get(st, "canvas"));
                json_object_set(out, "xywh", json_object_get(st, "xywh"));
                view = json_pack("{s:O, s:O}", "relic_id", json_object_get(t, "relic_id"),
                                 "canvas", json_object_get(st, "canvas"));
            }
            json_decref(t);
        }
        dq_buf_free(&tb);
    } else if (kind && strcmp(kind, "compare") == 0) {
        snprintf(q, sizeof(q), "%sa.", p);
        json_t *a = check_ref(ws, json_object_get(s, "a"), q, 1, NULL, fe, failed, err);
        snprintf(q, sizeof(q), "%sb.", p);
        json_t *b = check_ref(ws, json_object_get(s, "b"), q, 1, NULL, fe, failed, err);
        if (a && b) {
            json_object_set(out, "a", a);
            json_object_set(out, "b", b);
        }
        json_decref(a);
        json_decref(b);
    } else {
        snprintf(q, sizeof(q), "%skind", p);
        dq_teach_fe(fe, q, "must be view, tour or compare");
    }
    snprintf(q, sizeof(q), "%stitle", p);
    json_t *title = dq_teach_lang_map(json_object_get(s, "title"), q, 0, DQ_TEACH_MAX_TITLE, fe);
    snprintf(q, sizeof(q), "%stext", p);
    json_t *text = dq_teach_lang_map(json_object_get(s, "text"), q, 0, DQ_TEACH_MAX_TEXT, fe);
    if (title && json_object_size(title))
        json_object_set(out, "title", title);
    json_object_set_new(out, "text", text ? text : json_object());
    json_decref(title);
    const json_t *qu = json_object_get(s, "question");
    if (qu) {
        snprintf(q, sizeof(q), "steps[%d].question", i);
        json_t *qq = check_question(ws, qu, q, view, fe, failed, err);
        if (qq)
            json_object_set_new(out, "question", qq);
    }
    json_decref(view);
    return out;
}

/* Validates a lesson doc; *doc_out gets the canonical user part (new reference). */
static int lesson_parse(dq_catalog_t *cat, const dq_actor_t *who, const char *json, size_t len,
                        json_t **doc_out, int *is_public, dq_buf_t *field_errors, dq_err_t *err)
{
    static const char *const known[] = {"title",      "summary",    "steps",   "public",
                                        "id",         "author",     "version", "created_at",
                                        "updated_at", "n_steps",    "works"};
    works_t ws = {.cat = cat, .who = who};
    json_t *j = dq_teach_parse(json, len, err), *fe = NULL, *doc = NULL;
    int rc = -1, failed = 0;
    if (!j)
        goto out;
    fe = json_object();
    doc = json_object();
    dq_teach_unknown_fields(j, "", known, DQ_ARRAY_LEN(known), fe);
    json_t *title = dq_teach_lang_map(json_object_get(j, "title"), "title", 1,
                                      DQ_TEACH_MAX_TITLE, fe);
    if (title)
        json_object_set_new(doc, "title", title);
    json_t *summary = dq_teach_lang_map(json_object_get(j, "summary"), "summary", 0,
                                        DQ_TEACH_MAX_TEXT, fe);
    if (summary)
        json_object_set_new(doc, "summary", summary);
    const json_t *pub = json_object_get(j, "public");
    if (pub && !json_is_boolean(pub))
        dq_teach_fe(fe, "public", "must be true or false");
    *is_public = json_is_true(pub);
    json_object_set_new(doc, "public", json_boolean(*is_public));
    const json_t *steps = json_object_get(j, "steps");
    size_t ns = json_array_size(steps);
    if (!json_is_array(steps) || ns == 0 || ns > MAX_STEPS)
        dq_teach_fe(fe, "steps", "required: 1 to 100 steps");
    json_t *out_steps = json_array();
    for (size_t i = 0; i < ns && ns <= MAX_STEPS && !failed; i++) {
        json_t *st = check_step(&ws, json_array_get(steps, i), (int)i, fe, &failed, err);
        if (st)
            json_array_append_new(out_steps, st);
    }
    json_object_set_new(doc, "steps", out_steps);
    if (failed)
        goto out;
    if (json_object_size(fe)) {
        dq_teach_fail_fields(fe, field_errors, err);
        goto out;
    }
    *doc_out = doc;
    doc = NULL;
    rc = 0;
out:
    works_free(&ws);
    json_decref(doc);
    json_decref(fe);
    json_decref(j);
    return rc;
}

/* ---------------------------------------------------------------- transactions */

enum { W_INSERT, W_UPDATE, W_DELETE };

typedef struct {
    const dq_store_backend_t *be;
    int kind;
    dq_lesson_row_t *row;
    int64_t id, if_version;
    const char *who, *detail;
} write_t;

static int write_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    write_t *w = ud;
    const dq_store_lesson_ops *o = w->be->lessons;
    static const char *const actions[] = {"lesson.create", "lesson.replace", "lesson.delete"};
    int r = w->kind == W_INSERT   ? o->insert(t, w->row, err)
            : w->kind == W_UPDATE ? o->update(t, w->row, w->if_version, err)
                                  : o->remove(t, w->id, w->if_version, err);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such lesson");
    if (r < 0)
        return -1;
    char object[48];
    snprintf(object, sizeof(object), "lesson/l%lld", (long long)(w->row ? w->row->id : w->id));
    return w->be->audit->append(t, w->who, actions[w->kind], object, w->detail, err);
}

typedef struct {
    const dq_store_backend_t *be;
    int64_t id; /* 0: list */
    dq_lesson_cb cb;
    void *ud;
} read_t;

static int read_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    read_t *r = ud;
    if (!r->id)
        return r->be->lessons->list(t, r->cb, r->ud, err);
    int rc = r->be->lessons->get(t, r->id, r->cb, r->ud, err);
    if (rc > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such lesson");
    return rc;
}

/* ---------------------------------------------------------------- reading */

static int lesson_visible(const dq_lesson_row_t *r, const dq_actor_t *who)
{
    return r->is_public || (who && who->role >= DQ_ROLE_ADMIN) ||
           (who && who->role > DQ_ROLE_ANON && strcmp(who->user, r->author) == 0);
}

static int may_edit(const dq_actor_t *who, const dq_lesson_row_t *r)
{
    return who && who->role >= DQ_ROLE_EDUCATOR &&
           (who->role >= DQ_ROLE_ADMIN || strcmp(who->user, r->author) == 0);
}

static int copy_row(void *ud, const dq_lesson_row_t *row)
{
    dq_lesson_row_t *dst = ud;
    *dst = *row;
    dst->doc = dq_xstrdup(row->doc ? row->doc : "{}");
    return 1;
}

/* Loads lesson_id as who may see it (404 otherwise); row->doc is new (free it). */
static int lesson_load(dq_catalog_t *cat, const char *lesson_id, const dq_actor_t *who,
                       dq_lesson_row_t *row, dq_err_t *err)
{
    int64_t n = num_id(lesson_id, 'l');
    memset(row, 0, sizeof(*row));
    if (n <= 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such lesson");
    read_t r = {.be = dq_catalog_backend(cat), .id = n, .cb = copy_row, .ud = row};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        return -1;
    if (!lesson_visible(row, who)) {
        free((char *)row->doc);
        row->doc = NULL;
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such lesson");
    }
    return 0;
}

/* The relic ids a step names, in order (borrowed from s). */
static int step_works(const json_t *s, const char *out[2])
{
    int n = 0;
    const char *r = json_string_value(json_object_get(s, "relic_id"));
    if (r)
        out[n++] = r;
    for (const char *ab = "ab"; *ab; ab++) {
        char k[2] = {*ab, 0};
        r = json_string_value(json_object_get(json_object_get(s, k), "relic_id"));
        if (r && n < 2)
            out[n++] = r;
    }
    return n;
}

/* Adds "condition_record" (what a player shows: the record's id, date, overall state,
 * examiner, note, photograph "image" (its first image) and observations) to a step that names
 * a condition record who may see. A reader who may not see the record (an unpublished one, for
 * an anonymous learner) gets the step without any trace of it; the lesson's editors keep their
 * reference even when it no longer resolves, so that they can mend it. */
static void attach_condition(dq_catalog_t *cat, json_t *s, const dq_actor_t *who, int editor)
{
    static const char *const keep[] = {"id", "date", "overall", "examiner", "note", "published"};
    const char *relic = json_string_value(json_object_get(s, "relic_id"));
    const char *cid = json_string_value(json_object_get(s, "condition"));
    const char *date = json_string_value(json_object_get(s, "condition_date"));
    const char *why, *field;
    json_t *rec = NULL;
    dq_err_t e = {0};
    if ((!cid && !date) || !relic ||
        find_record(cat, relic, cid, date, who, &rec, &why, &field, &e) != 0) {
        if (!editor) {
            json_object_del(s, "condition");
            json_object_del(s, "condition_date");
        }
        return;
    }
    json_t *sum = json_object(), *obs = json_array(), *o;
    for (size_t k = 0; k < DQ_ARRAY_LEN(keep); k++)
        if (json_object_get(rec, keep[k]))
            json_object_set(sum, keep[k], json_object_get(rec, keep[k]));
    if (json_array_size(json_object_get(rec, "images")))
        json_object_set(sum, "image", json_array_get(json_object_get(rec, "images"), 0));
    size_t i;
    json_array_foreach(json_object_get(rec, "observations"), i, o)
    {
        if (i >= 20)
            break;
        json_t *x = json_object();
        json_object_set(x, "type", json_object_get(o, "type"));
        json_object_set(x, "severity", json_object_get(o, "severity"));
        if (json_object_get(o, "note"))
            json_object_set(x, "note", json_object_get(o, "note"));
        json_array_append_new(obs, x);
    }
    json_object_set_new(sum, "observations", obs);
    json_object_set_new(s, "condition_record", sum);
    json_decref(rec);
}

/* The doc of r as who may read it: server fields added; hidden steps and answers removed
 * unless who may edit; steps 0: "n_steps" and "works" instead of "steps". New reference. */
static json_t *lesson_json(dq_catalog_t *cat, const dq_lesson_row_t *r, const dq_actor_t *who,
                           int steps)
{
    json_t *d = json_loads(r->doc ? r->doc : "{}", 0, NULL);
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    json_t *out = json_object();
    char id[32];
    snprintf(id, sizeof(id), "l%lld", (long long)r->id);
    json_object_set_new(out, "id", json_string(id));
    json_object_update(out, d);
    json_object_set_new(out, "author", json_string(r->author));
    json_object_set_new(out, "created_at", json_string(r->created));
    json_object_set_new(out, "updated_at", json_string(r->modified));
    json_object_set_new(out, "version", json_integer(r->version));
    json_t *st = json_object_get(out, "steps");
    int editor = may_edit(who, r);
    json_t *works = json_array();
    size_t i;
    json_t *s;
    json_array_foreach(st, i, s)
    {
        const char *ws[2];
        int n = step_works(s, ws), hidden = 0;
        for (int k = 0; k < n; k++) {
            int seen = 0;
            size_t m;
            json_t *e;
            json_array_foreach(works, m, e) seen |= strcmp(json_string_value(e), ws[k]) == 0;
            if (!seen)
                json_array_append_new(works, json_string(ws[k]));
            if (steps && !editor) {
                dq_buf_t b = {0};
                dq_err_t e2 = {0};
                hidden |= dq_catalog_relic_get(cat, ws[k], who, &b, NULL, &e2) < 0;
                dq_buf_free(&b);
            }
        }
        if (hidden) {
            json_array_set_new(st, i, json_pack("{s:s}", "kind", "hidden"));
            continue;
        }
        if (steps)
            attach_condition(cat, s, who, editor);
        json_t *q = json_object_get(s, "question");
        if (q && !editor) {
            json_object_del(q, "answer");
            json_object_del(json_object_get(q, "target"), "xywh");
        }
    }
    if (!steps) {
        json_object_set_new(out, "n_steps", json_integer((json_int_t)json_array_size(st)));
        json_object_del(out, "steps");
        json_object_set_new(out, "works", works);
    } else {
        json_decref(works);
    }
    json_decref(d);
    return out;
}

/* ---------------------------------------------------------------- the API */

static void detail_of(char *d, size_t cap, const json_t *doc)
{
    snprintf(d, cap, "{\"steps\":%d}", (int)json_array_size(json_object_get(doc, "steps")));
}

int dq_catalog_lesson_create(dq_catalog_t *cat, const char *json, size_t len,
                             const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors,
                             dq_err_t *err)
{
    json_t *doc = NULL, *o = NULL;
    char *text = NULL;
    dq_lesson_row_t row = {0};
    int rc = -1;
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        lesson_parse(cat, who, json, len, &doc, &row.is_public, field_errors, err) < 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    snprintf(row.author, sizeof(row.author), "%s", who->user);
    char detail[48];
    detail_of(detail, sizeof(detail), doc);
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_INSERT, .row = &row, .who = who->user,
                 .detail = detail};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out) {
        o = lesson_json(cat, &row, who, 1);
        dq_teach_dump(out, o);
    }
    rc = 0;
out:
    json_decref(o);
    json_decref(doc);
    free(text);
    return rc;
}

int dq_catalog_lesson_get(dq_catalog_t *cat, const char *lesson_id, const dq_actor_t *who,
                          dq_buf_t *out, int64_t *version, dq_err_t *err)
{
    dq_lesson_row_t row;
    if (lesson_load(cat, lesson_id, who, &row, err) < 0)
        return -1;
    if (out) {
        json_t *o = lesson_json(cat, &row, who, 1);
        dq_teach_dump(out, o);
        json_decref(o);
    }
    if (version)
        *version = row.version;
    free((char *)row.doc);
    return 0;
}

/* The author or an admin (the role gate first: an anonymous caller is 401). */
static int need_editor(const dq_actor_t *who, const dq_lesson_row_t *row, dq_err_t *err)
{
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0)
        return -1;
    if (!may_edit(who, row))
        return dq_err_set(err, DQ_EINVAL, 403,
                          "only the lesson's author or an admin may change it");
    return 0;
}

int dq_catalog_lesson_replace(dq_catalog_t *cat, const char *lesson_id, const char *json,
                              size_t len, int64_t if_version, const dq_actor_t *who,
                              dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    json_t *doc = NULL, *o = NULL;
    char *text = NULL;
    dq_lesson_row_t row = {0};
    int rc = -1;
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        lesson_load(cat, lesson_id, who, &row, err) < 0)
        goto out;
    free((char *)row.doc);
    row.doc = NULL;
    if (need_editor(who, &row, err) < 0 ||
        lesson_parse(cat, who, json, len, &doc, &row.is_public, field_errors, err) < 0)
        goto out;
    text = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    row.doc = text;
    char detail[48];
    detail_of(detail, sizeof(detail), doc);
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_UPDATE, .row = &row,
                 .if_version = if_version, .who = who->user, .detail = detail};
    if (dq_catalog_write(cat, write_txn, &w, err) < 0)
        goto out;
    if (out) {
        o = lesson_json(cat, &row, who, 1);
        dq_teach_dump(out, o);
    }
    rc = 0;
out:
    json_decref(o);
    json_decref(doc);
    free(text);
    return rc;
}

int dq_catalog_lesson_delete(dq_catalog_t *cat, const char *lesson_id, int64_t if_version,
                             const dq_actor_t *who, dq_err_t *err)
{
    dq_lesson_row_t row;
    if (dq_teach_need_role(who, DQ_ROLE_EDUCATOR, err) < 0 ||
        lesson_load(cat, lesson_id, who, &row, err) < 0)
        return -1;
    free((char *)row.doc);
    if (need_editor(who, &row, err) < 0)
        return -1;
    write_t w = {.be = dq_catalog_backend(cat), .kind = W_DELETE, .id = row.id,
                 .if_version = if_version, .who = who->user, .detail = "{}"};
    return dq_catalog_write(cat, write_txn, &w, err);
}

/* The list: rows are copied under the read transaction and turned into JSON after it (the
 * visibility of works asks the catalog again, which a callback must not do). */
typedef struct {
    dq_lesson_row_t *v;
    size_t n, cap;
} rows_t;

static int collect_rows(void *ud, const dq_lesson_row_t *row)
{
    rows_t *rs = ud;
    if (rs->n == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 16;
        rs->v = dq_xrealloc(rs->v, rs->cap * sizeof(*rs->v));
    }
    copy_row(&rs->v[rs->n++], row);
    return 0;
}

int dq_catalog_lesson_list(dq_catalog_t *cat, const char *relic_id, const dq_actor_t *who,
                           dq_buf_t *out, dq_err_t *err)
{
    rows_t rs = {0};
    int rc = -1;
    read_t r = {.be = dq_catalog_backend(cat), .cb = collect_rows, .ud = &rs};
    if (dq_catalog_read(cat, read_txn, &r, err) < 0)
        goto out;
    json_t *items = json_array();
    for (size_t i = 0; i < rs.n; i++) {
        if (!lesson_visible(&rs.v[i], who))
            continue;
        json_t *o = lesson_json(cat, &rs.v[i], who, 0);
        int keep = !relic_id || !*relic_id;
        size_t k;
        json_t *e;
        json_array_foreach(json_object_get(o, "works"), k, e) keep |=
            strcmp(json_string_value(e), relic_id ? relic_id : "") == 0;
        if (keep)
            json_array_append(items, o);
        json_decref(o);
    }
    json_t *res = json_pack("{s:o}", "items", items);
    dq_teach_dump(out, res);
    json_decref(res);
    rc = 0;
out:
    for (size_t i = 0; i < rs.n; i++)
        free((char *)rs.v[i].doc);
    free(rs.v);
    return rc;
}

int dq_catalog_lesson_check(dq_catalog_t *cat, const char *lesson_id, int step, const char *json,
                            size_t len, const dq_actor_t *who, dq_buf_t *out, int *correct,
                            dq_err_t *err)
{
    dq_lesson_row_t row;
    json_t *d = NULL, *a = NULL, *res = NULL;
    int rc = -1;
    if (lesson_load(cat, lesson_id, who, &row, err) < 0)
        return -1;
    d = json_loads(row.doc, 0, NULL);
    free((char *)row.doc);
    const json_t *s = step >= 0 ? json_array_get(json_object_get(d, "steps"), (size_t)step) : NULL;
    const json_t *q = json_object_get(s, "question");
    if (!q) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no question at step %d", step);
        goto out;
    }
    /* The learner must be able to see the step's works, as when reading the lesson. */
    const char *ws[2];
    for (int k = 0, n = step_works(s, ws); k < n; k++) {
        dq_buf_t b = {0};
        int hid = dq_catalog_relic_get(cat, ws[k], who, &b, NULL, err) < 0;
        dq_buf_free(&b);
        if (hid)
            goto out;
    }
    if (!(a = dq_teach_parse(json, len, err)))
        goto out;
    const char *type = json_string_value(json_object_get(q, "type"));
    int ok = 0;
    if (strcmp(type ? type : "", "choice") == 0) {
        const json_t *c = json_object_get(a, "choice");
        if (!json_is_integer(c)) {
            dq_err_set(err, DQ_EINVAL, 400, "a choice question takes {\"choice\": k}");
            goto out;
        }
        ok = json_integer_value(c) == json_integer_value(json_object_get(q, "answer"));
        res = json_pack("{s:b, s:{s:O}}", "correct", ok, "answer", "choice",
                        json_object_get(q, "answer"));
    } else {
        const json_t *t = json_object_get(q, "target");
        const json_t *pt = json_object_get(a, "point");
        const json_t *xy = json_object_get(t, "xywh");
        if (!json_is_array(pt) || json_array_size(pt) != 2 ||
            !json_is_number(json_array_get(pt, 0)) || !json_is_number(json_array_get(pt, 1))) {
            dq_err_set(err, DQ_EINVAL, 400, "a find question takes {\"point\": [x, y]}");
            goto out;
        }
        const json_t *cv = json_object_get(a, "canvas"), *rl = json_object_get(a, "relic_id");
        double x = json_number_value(json_array_get(pt, 0)),
               y = json_number_value(json_array_get(pt, 1));
        double rx = (double)json_integer_value(json_array_get(xy, 0)),
               ry = (double)json_integer_value(json_array_get(xy, 1)),
               rw = (double)json_integer_value(json_array_get(xy, 2)),
               rh = (double)json_integer_value(json_array_get(xy, 3));
        /* A point on another canvas or work is simply wrong, not an error. */
        ok = (!cv || json_equal(cv, json_object_get(t, "canvas"))) &&
             (!rl || json_equal(rl, json_object_get(t, "relic_id"))) && x >= rx &&
             x <= rx + rw && y >= ry && y <= ry + rh;
        res = json_pack("{s:b, s:O}", "correct", ok, "answer", t);
    }
    if (correct)
        *correct = ok;
    dq_teach_dump(out, res);
    rc = 0;
out:
    json_decref(res);
    json_decref(a);
    json_decref(d);
    return rc;
}

/* ---------------------------------------------------------------- works by accession */

typedef struct {
    const dq_store_backend_t *be;
    const char *accession;
    char *id;
} by_acc_t;

static int by_accession_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    by_acc_t *b = ud;
    dq_relic_stored_t st;
    int r = b->be->relics->load(t, NULL, b->accession, &st, err);
    if (r > 0)
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no work with accession '%.64s'", b->accession);
    if (r == 0)
        snprintf(b->id, 64, "%s", st.id);
    return r;
}

int dq_catalog_relic_by_accession(dq_catalog_t *cat, const char *accession, const dq_actor_t *who,
                                  char id[64], dq_err_t *err)
{
    if (!accession || !*accession || strlen(accession) > 200)
        return dq_err_set(err, DQ_EINVAL, 400, "an accession number is 1 to 200 bytes");
    by_acc_t b = {dq_catalog_backend(cat), accession, id};
    if (dq_catalog_read(cat, by_accession_txn, &b, err) < 0)
        return -1;
    dq_buf_t doc = {0};
    int rc = dq_catalog_relic_get(cat, id, who, &doc, NULL, err);
    dq_buf_free(&doc);
    return rc;
}
