/*
 * fuzz_spectral.c: libFuzzer entry for what a client sends to the multispectral API
 * (http/spectral_layer.c): the /iiif/3/spectral/{capture}/{layer}/... path, the layer syntax
 * (band names, presets, rgb-A-B-C, ratio-A-B, stored layers) resolved against a capture's
 * record, and the x, y of /api/captures/{id}/spectrum. Every input is tried as all three; the
 * invariants below are checked with abort() so that libFuzzer reports them:
 *   - a path that splits has a capture id and a layer of valid identifier characters, a kind
 *     of DQ_IIIF_PATH_*, and image parameters inside the input; a refused one has a 4xx
 *     status and a message;
 *   - a layer that resolves names as many existing bands as its mode needs (or a stored
 *     layer's file), none with '/';
 *   - a point that parses lies inside the capture and is the decimal the client wrote.
 */
#include "http/api_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "iiif/iiif.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

/* A capture's record and derived layers as spectral add and the analysis commands write
 * them; parsed once, read-only afterwards. */
static json_t *doc, *layers;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    doc = json_loads(
        "{\"bands\":[{\"name\":\"vis\",\"kind\":\"visible\",\"channels\":3},"
        "{\"name\":\"r450\",\"kind\":\"reflectance\",\"nm\":450,\"channels\":1},"
        "{\"name\":\"r550\",\"kind\":\"reflectance\",\"nm\":550,\"channels\":1},"
        "{\"name\":\"r650\",\"kind\":\"reflectance\",\"nm\":650,\"channels\":1},"
        "{\"name\":\"r850\",\"kind\":\"reflectance\",\"nm\":850,\"channels\":1},"
        "{\"name\":\"uv365\",\"kind\":\"uv_fluorescence\",\"excitation_nm\":365,"
        "\"channels\":3}]}",
        0, NULL);
    layers = json_loads("[{\"name\":\"pigments\",\"doc\":{\"file\":\"pigments.png\"}},"
                        "{\"name\":\"pca-1\",\"doc\":{\"file\":\"pca-1.png\"}},"
                        "{\"name\":\"evil\",\"doc\":{\"file\":\"../x.png\"}}]",
                        0, NULL);
    CHECK(doc && layers);
    return 0;
}

static int is_band(const char *name)
{
    json_t *bands = json_object_get(doc, "bands");
    for (size_t i = 0; i < json_array_size(bands); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(bands, i), "name")), name) ==
            0)
            return 1;
    return 0;
}

static void try_path(const char *p, size_t len)
{
    char cid[DQ_IIIF_ID_MAX + 1], layer[DQ_IIIF_ID_MAX + 1];
    int kind = 0;
    const char *params = NULL;
    size_t params_len = 0;
    dq_err_t err = {0};
    if (dq_spectral_split_path(p, len, cid, layer, &kind, &params, &params_len, &err) < 0) {
        CHECK(err.http_status >= 400 && err.http_status < 500 && err.msg[0]);
        return;
    }
    CHECK(cid[0] && layer[0] && strlen(cid) <= DQ_IIIF_ID_MAX && strlen(layer) <= DQ_IIIF_ID_MAX);
    CHECK(!strchr(cid, '/') && !strchr(layer, '/'));
    CHECK(kind == DQ_IIIF_PATH_BASE || kind == DQ_IIIF_PATH_INFO || kind == DQ_IIIF_PATH_IMAGE);
    if (kind == DQ_IIIF_PATH_IMAGE) {
        CHECK(params >= p && params + params_len <= p + len);
        dq_iiif_req_t ir;
        dq_err_t e2 = {0};
        if (dq_iiif_parse(params, params_len, DQ_IIIF_V3, &ir, &e2) < 0)
            CHECK(e2.http_status >= 400 && e2.http_status < 600);
    }
    /* The layer as the handler then resolves it. */
    dq_spectral_recipe_t r;
    if (dq_spectral_recipe(doc, layers, layer, &r) == 0)
        CHECK(r.n >= 1 && r.n <= 3);
}

static void try_layer(const char *s)
{
    dq_spectral_recipe_t r;
    if (dq_spectral_recipe(doc, layers, s, &r) < 0)
        return;
    int want = r.mode == DQ_SPECTRAL_RGB ? 3 : r.mode == DQ_SPECTRAL_RATIO ? 2 : 1;
    CHECK(r.n == want);
    for (int i = 0; i < r.n; i++) {
        CHECK(r.name[i][0] && !strchr(r.name[i], '/'));
        if (r.mode == DQ_SPECTRAL_STORED || r.mode == DQ_SPECTRAL_LABELS)
            CHECK(strcmp(r.name[i], "pigments.png") == 0 || strcmp(r.name[i], "pca-1.png") == 0);
        else
            CHECK(is_band(r.name[i]));
    }
}

static void try_point(const char *s)
{
    /* "x&y": the two query values. */
    const char *amp = strchr(s, '&');
    char xs[64] = "", ys[64] = "";
    if (amp) {
        snprintf(xs, sizeof(xs), "%.*s", (int)DQ_MIN((size_t)(amp - s), sizeof(xs) - 1), s);
        snprintf(ys, sizeof(ys), "%s", amp + 1);
    } else {
        snprintf(xs, sizeof(xs), "%s", s);
    }
    int x = -1, y = -1;
    if (dq_spectral_parse_point(xs, ys, 12000, 1000, &x, &y) < 0)
        return;
    CHECK(x >= 0 && x < 12000 && y >= 0 && y < 1000);
    /* What was written is that number (leading zeros aside). */
    CHECK(atoi(xs) == x && atoi(ys) == y);
    for (const char *p = xs; *p; p++)
        CHECK(*p >= '0' && *p <= '9');
    for (const char *p = ys; *p; p++)
        CHECK(*p >= '0' && *p <= '9');
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    try_path((const char *)data, size);
    /* The other two take C strings, as the router and dq_api_arg hand them over. */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    try_layer(s);
    try_point(s);
    free(s);
    return 0;
}
