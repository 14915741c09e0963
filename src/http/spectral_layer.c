/*
 * spectral_layer.c: the parts of the multispectral API (api_spectral.c) that read what a
 * client sends, as pure functions so that a fuzzer can drive them (fuzz/fuzz_spectral.c): the
 * /iiif/3/spectral/{capture}/{layer}/... path, the layer syntax (band names, presets,
 * rgb-A-B-C, ratio-A-B, stored layers) resolved against a capture's record, and the x, y of
 * the spectrum endpoint. No catalog, no files, no rendering here.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "iiif/iiif.h"

static const char *band_kind(json_t *b)
{
    return json_string_value(json_object_get(b, "kind"));
}

static json_t *band_named(json_t *bands, const char *name)
{
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        const char *n = json_string_value(json_object_get(b, "name"));
        if (n && strcmp(n, name) == 0)
            return b;
    }
    return NULL;
}

/* The name of the first band of kind, or NULL. */
static const char *first_of_kind(json_t *bands, const char *kind)
{
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        if (band_kind(b) && strcmp(band_kind(b), kind) == 0)
            return json_string_value(json_object_get(b, "name"));
    }
    return NULL;
}

/* The reflectance band nearest nm (at least min_nm), or NULL. */
static const char *nearest(json_t *bands, double nm, double min_nm)
{
    const char *best = NULL;
    double bd = INFINITY;
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        const char *k = band_kind(b);
        double v = json_number_value(json_object_get(b, "nm"));
        if (!k || strcmp(k, "reflectance") || v < min_nm)
            continue;
        if (fabs(v - nm) < bd) {
            bd = fabs(v - nm);
            best = json_string_value(json_object_get(b, "name"));
        }
    }
    return best;
}

int dq_spectral_recipe(struct json_t *doc, struct json_t *layers, const char *layer,
                       dq_spectral_recipe_t *r)
{
    json_t *bands = json_object_get(doc, "bands");
    const char *names[3] = {NULL, NULL, NULL};
    memset(r, 0, sizeof(*r));
    json_t *b = band_named(bands, layer);
    if (b) {
        r->mode = json_integer_value(json_object_get(b, "channels")) == 3 ? DQ_SPECTRAL_COLOR
                                                                          : DQ_SPECTRAL_GREY;
        names[0] = layer;
        r->n = 1;
    } else if (strcmp(layer, "visible") == 0) {
        names[0] = first_of_kind(bands, "visible");
        if (names[0]) {
            r->mode = DQ_SPECTRAL_COLOR;
            r->n = 1;
        } else {
            r->mode = DQ_SPECTRAL_RGB;
            names[0] = nearest(bands, 650, 0);
            names[1] = nearest(bands, 550, 0);
            names[2] = nearest(bands, 450, 0);
            r->n = 3;
        }
    } else if (strcmp(layer, "irfc") == 0) {
        /* IR false colour: IR -> R, red -> G, green -> B. */
        r->mode = DQ_SPECTRAL_RGB;
        names[0] = nearest(bands, 850, 780);
        names[1] = nearest(bands, 650, 0);
        names[2] = nearest(bands, 550, 0);
        r->n = 3;
    } else if (strcmp(layer, "uvf") == 0) {
        names[0] = first_of_kind(bands, "uv_fluorescence");
        r->mode = DQ_SPECTRAL_COLOR;
        r->n = 1;
    } else if (strncmp(layer, "rgb-", 4) == 0 || strncmp(layer, "ratio-", 6) == 0) {
        int ratio = layer[1] == 'a';
        char tmp[128];
        snprintf(tmp, sizeof(tmp), "%s", layer + (ratio ? 6 : 4));
        int want = ratio ? 2 : 3, k = 0;
        char parts[3][64];
        char *save = NULL;
        for (char *t = strtok_r(tmp, "-", &save); t && k < 3; t = strtok_r(NULL, "-", &save))
            snprintf(parts[k++], sizeof(parts[0]), "%s", t);
        if (k != want || strtok_r(NULL, "-", &save))
            return -1;
        for (int i = 0; i < k; i++) {
            json_t *bb = band_named(bands, parts[i]);
            if (!bb)
                return -1;
            names[i] = json_string_value(json_object_get(bb, "name"));
        }
        r->mode = ratio ? DQ_SPECTRAL_RATIO : DQ_SPECTRAL_RGB;
        r->n = k;
    } else {
        for (size_t i = 0; i < json_array_size(layers); i++) {
            json_t *l = json_array_get(layers, i);
            const char *n = json_string_value(json_object_get(l, "name"));
            const char *f = json_string_value(json_object_get(json_object_get(l, "doc"), "file"));
            if (n && f && strcmp(n, layer) == 0 && !strchr(f, '/') && f[0] != '.' &&
                strlen(f) < sizeof(r->name[0])) {
                r->mode = strcmp(n, "pigments") == 0 ? DQ_SPECTRAL_LABELS : DQ_SPECTRAL_STORED;
                snprintf(r->name[0], sizeof(r->name[0]), "%s", f);
                r->n = 1;
                return 0;
            }
        }
        return -1;
    }
    for (int i = 0; i < r->n; i++) {
        if (!names[i] || strlen(names[i]) >= sizeof(r->name[0]) || strchr(names[i], '/'))
            return -1;
        snprintf(r->name[i], sizeof(r->name[i]), "%s", names[i]);
    }
    return 0;
}

int dq_spectral_split_path(const char *p, size_t len, char *cid, char *layer, int *kind,
                           const char **params, size_t *params_len, dq_err_t *err)
{
    const char *slash = memchr(p, '/', len);
    *params = NULL;
    *params_len = 0;
    if (!slash || slash == p || (size_t)(slash - p) > DQ_IIIF_ID_MAX)
        return dq_err_set(err, DQ_ENOTFOUND, 404,
                          "not found: /iiif/3/spectral/{capture}/{layer}/...");
    /* The capture id, then "{layer}/..." exactly like an image request. */
    if (dq_iiif_split_path(p, (size_t)(slash - p), cid, kind, NULL, NULL, err) < 0 ||
        dq_iiif_split_path(slash + 1, len - (size_t)(slash + 1 - p), layer, kind, params,
                           params_len, err) < 0) {
        if (!err->http_status)
            err->http_status = 400;
        return -1;
    }
    return 0;
}

/* One coordinate: digits only, inside 0 .. max - 1. */
static int coord(const char *s, int max, int *v)
{
    char *end;
    if (!s || !*s || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (*end || errno || x < 0 || x >= max)
        return -1;
    *v = (int)x;
    return 0;
}

int dq_spectral_parse_point(const char *xs, const char *ys, int w, int h, int *x, int *y)
{
    return coord(xs, w, x) < 0 || coord(ys, h, y) < 0 ? -1 : 0;
}
