/*
 * api_scene.c: the living painting's scene layers over HTTP (issue 14, docs/api.md "Scene
 * layers"): read an image's layer sets, save a curator's corrected set as a new version, and
 * list the newest set in the IIIF manifest as supplementing annotations on each canvas. The
 * layers themselves are images, served by the IIIF Image API like any other. Policy (roles,
 * checks, versions) is in catalog/scene.c; storing files in scene/store.c.
 */
#define _GNU_SOURCE
#include "api_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scene/scene.h"

/* A curator's layer set arrives as PNG data URLs inside one JSON body; each decoded layer is
 * at most this big (the web editor sends them at the working size, ~400 px high). */
#define LAYER_MAX_BYTES (4u << 20)
#define LAYER_MAX_PIXELS (16u << 20)

/* ---------------------------------------------------------------- reading */

static int parse_version(const char *s, int64_t *v)
{
    if (strcmp(s, "latest") == 0) {
        *v = 0;
        return 0;
    }
    char *end = NULL;
    const char *d = s[0] == 'v' ? s + 1 : s;
    long long n = strtoll(d, &end, 10);
    if (!*d || *end || n < 1 || n > 999999)
        return -1;
    *v = n;
    return 0;
}

void dq_api_scene_list(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    if (dq_catalog_scene_list(c->srv->catalog, c->seg[1], &c->actor, &out, &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        dq_api_json(c->resp, 200, &out);
    dq_buf_free(&out);
}

void dq_api_scene_get(dq_api_t *c)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    int64_t v = 0;
    if (parse_version(c->seg[3], &v) < 0) {
        dq_api_error(c->resp, 400, "a version is 'latest', N or vN", NULL);
        return;
    }
    if (dq_catalog_scene_get(c->srv->catalog, c->seg[1], v, &c->actor, &out, &err) < 0)
        dq_api_error_err(c->resp, &err);
    else
        dq_api_json(c->resp, 200, &out);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- saving */

void dq_api_scene_save(dq_api_t *c)
{
    dq_err_t err = {0};
    dq_buf_t out = {0}, fields = {0}, png = {0};
    char *dir = NULL, *paths[DQ_SCENE_N] = {0};
    json_t *body = NULL;
    const char *image = c->seg[1];
    if (dq_api_check_body(c) < 0 || !(body = dq_api_body(c, 0)))
        goto out;
    json_t *layers = json_object_get(body, "layers");
    const char *note = json_string_value(json_object_get(body, "note"));
    const char *method = json_string_value(json_object_get(body, "method"));
    if (!json_is_object(layers)) {
        dq_api_error(c->resp, 422, "invalid scene layers",
                     "{\"layers\":\"an object {kind: PNG data URL}\"}");
        goto out;
    }
    dir = dq_xasprintf("%s/tmp/scene-up-%d-%lld", c->srv->cfg->data_dir, (int)getpid(),
                       (long long)dq_now_us());
    if (dq_fs_mkdirs(dir, &err) < 0)
        goto fail;
    const char *kind;
    json_t *v;
    json_object_foreach(layers, kind, v)
    {
        int k = dq_scene_kind_parse(kind);
        const char *s = json_string_value(v);
        static const char prefix[] = "data:image/png;base64,";
        if (k < 0 || !s || strncmp(s, prefix, sizeof(prefix) - 1) != 0) {
            /* the kind is the client's text: jansson escapes it */
            char *key = dq_xasprintf("layers.%s", kind);
            json_t *fj =
                json_pack("{s:s}", key,
                          k < 0 ? "unknown kind (depth, mist, foliage, water, figure, boat)"
                                : "must be a PNG data URL");
            char *f = json_dumps(fj, JSON_COMPACT);
            json_decref(fj);
            free(key);
            dq_api_error(c->resp, 422, "invalid scene layers", f);
            free(f);
            goto out;
        }
        dq_buf_reset(&png);
        const char *b64 = s + sizeof(prefix) - 1;
        if (dq_base64_decode(b64, strlen(b64), &png, LAYER_MAX_BYTES) < 0) {
            dq_api_error(c->resp, 400, "a layer is not valid base64 (or too large)", NULL);
            goto out;
        }
        paths[k] = dq_xasprintf("%s/%s", dir, dq_scene_kind_file(k));
        if (dq_fs_write_atomic(paths[k], dir, png.data ? png.data : "", png.len, &err) < 0)
            goto fail;
    }
    char m[256];
    snprintf(m, sizeof(m), "%s", method ? method : "curator brushes (web)");
    dq_scene_store_opts_t o = {.data_dir = c->srv->cfg->data_dir,
                               .store = c->srv->store,
                               .source = "curator",
                               .method = m,
                               .note = note,
                               .quality = c->srv->cfg->jpeg_quality,
                               .max_pixels = LAYER_MAX_PIXELS};
    memcpy(o.paths, paths, sizeof(o.paths));
    if (dq_scene_store(c->srv->catalog, image, &o, &c->actor, &out, &fields, &err) < 0) {
        dq_api_write_error(c, &err, &fields);
        goto out;
    }
    dq_log(DQ_LOG_INFO, "scene", "%s saved scene layers of %s", c->actor.user, image);
    dq_api_json(c->resp, 201, &out);
    goto out;
fail:
    dq_api_error_err(c->resp, &err);
out:
    for (int k = 0; k < DQ_SCENE_N; k++) {
        if (paths[k])
            unlink(paths[k]);
        free(paths[k]);
    }
    if (dir)
        rmdir(dir);
    free(dir);
    json_decref(body);
    dq_buf_free(&png);
    dq_buf_free(&fields);
    dq_buf_free(&out);
}

/* ---------------------------------------------------------------- the manifest */

/* The image id of a canvas: from its painting body's Image API URL ".../iiif/3/{id}/full/...".
 * new string or NULL. */
static char *canvas_image(const json_t *cv)
{
    const json_t *body = json_object_get(
        json_array_get(json_object_get(json_array_get(json_object_get(cv, "items"), 0), "items"),
                       0),
        "body");
    /* A Choice (a virtual restoration, issue 12): the original is its first item. */
    if (json_is_array(json_object_get(body, "items")))
        body = json_array_get(json_object_get(body, "items"), 0);
    const char *id = json_string_value(json_object_get(body, "id"));
    const char *p = id ? strstr(id, "/iiif/3/") : NULL;
    if (!p)
        return NULL;
    p += strlen("/iiif/3/");
    const char *e = strchr(p, '/');
    if (!e)
        return NULL;
    dq_err_t err = {0};
    return dq_str_pct_decode(p, (size_t)(e - p), &err);
}

void dq_api_scene_manifest_decorate(dq_api_t *c, dq_buf_t *manifest)
{
    json_t *m = json_loadb(manifest->data, manifest->len, 0, NULL);
    if (!json_is_object(m)) {
        json_decref(m);
        return;
    }
    char *base = dq_api_base_url(c);
    size_t i;
    json_t *cv;
    int changed = 0;
    json_array_foreach(json_object_get(m, "items"), i, cv)
    {
        char *image = canvas_image(cv);
        dq_buf_t set = {0};
        dq_err_t err = {0};
        if (!image || dq_catalog_scene_get(c->srv->catalog, image, 0, &c->actor, &set, &err) < 0) {
            free(image);
            dq_buf_free(&set);
            continue;
        }
        json_t *s = json_loadb(set.data, set.len, 0, NULL);
        const char *cid = json_string_value(json_object_get(cv, "id"));
        json_int_t ver = json_integer_value(json_object_get(s, "version"));
        /* Presentation 3.0 §3.4 annotations, §3.3.1 motivation "supplementing": the layers
         * are derived from the canvas's image and cover all of it. */
        dq_buf_t pid = {0};
        dq_buf_printf(&pid, "%s/scene/v%lld", cid ? cid : "", (long long)ver);
        json_t *items = json_array();
        size_t j;
        json_t *l;
        json_array_foreach(json_object_get(s, "layers"), j, l)
        {
            const char *kind = json_string_value(json_object_get(l, "kind"));
            const char *lid = json_string_value(json_object_get(l, "image_id"));
            if (!kind || !lid)
                continue;
            dq_buf_t u = {0}, svc = {0}, aid = {0};
            dq_buf_printf(&svc, "%s/iiif/3/", base);
            dq_buf_url_segment(&svc, lid);
            dq_buf_printf(&u, "%s/full/max/0/default.jpg", svc.data);
            dq_buf_printf(&aid, "%s/%s", pid.data, kind);
            json_t *label = json_pack("{s:[s]}", "en", kind);
            json_array_append_new(
                items,
                json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:s, s:O, s:O, s:o, s:[{s:s, s:s, "
                          "s:s}]}, s:s}",
                          "id", aid.data, "type", "Annotation", "motivation", "supplementing",
                          "body", "id", u.data, "type", "Image", "format", "image/jpeg", "width",
                          json_object_get(l, "width"), "height", json_object_get(l, "height"),
                          "label", label, "service", "id", svc.data, "type", "ImageService3",
                          "profile", "level2", "target", cid ? cid : ""));
            dq_buf_free(&u);
            dq_buf_free(&svc);
            dq_buf_free(&aid);
        }
        json_t *page =
            json_pack("{s:s, s:s, s:{s:[s]}, s:o}", "id", pid.data, "type", "AnnotationPage",
                      "label", "en", "scene layers (living painting)", "items", items);
        json_object_set_new(page, "behavior", json_pack("[s]", "hidden"));
        json_t *annos = json_object_get(cv, "annotations");
        if (!json_is_array(annos)) {
            annos = json_array();
            json_object_set_new(cv, "annotations", annos);
        }
        json_array_append_new(annos, page);
        changed = 1;
        dq_buf_free(&pid);
        json_decref(s);
        dq_buf_free(&set);
        free(image);
    }
    if (changed) {
        char *out = json_dumps(m, JSON_COMPACT);
        DQ_ASSERT(out != NULL);
        dq_buf_reset(manifest);
        dq_buf_puts(manifest, out);
        free(out);
    }
    free(base);
    json_decref(m);
}
