/*
 * scene/store.c: stores one version of an image's scene layers. Each layer file becomes a
 * derived image beside the master (its own master copy and pyramid, id
 * "<image>.scene-v<N>-<kind>", so the IIIF endpoints serve it and the master is never
 * touched), then the set naming them is saved in the catalog with its audit row. Used by
 * `danqing scene import|estimate` and by the curator's save (http/api_scene.c).
 */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "scene/scene.h"

int dq_scene_store(dq_catalog_t *cat, const char *image_id, const dq_scene_store_opts_t *o,
                   const dq_actor_t *who, dq_buf_t *out, dq_buf_t *field_errors, dq_err_t *err)
{
    int64_t version = 0;
    dq_image_rec_t base;
    json_t *doc = NULL, *layers = NULL;
    char *text = NULL;
    int rc = -1;
    if (!o->paths[DQ_SCENE_DEPTH])
        return dq_err_set(err, DQ_EINVAL, 400, "scene layers: a depth layer is required");
    if (dq_catalog_scene_next_version(cat, image_id, who, &version, err) < 0 ||
        dq_catalog_image_get(cat, image_id, &base, err) < 0)
        return -1;
    double aspect = (double)base.width / (double)base.height;
    doc = json_pack("{s:s, s:s}", "source", o->source ? o->source : "", "method",
                    o->method ? o->method : "");
    if (o->note)
        json_object_set_new(doc, "note", json_string(o->note));
    if (o->metrics_json) {
        json_t *m = json_loads(o->metrics_json, 0, NULL);
        if (!json_is_object(m)) {
            json_decref(m);
            dq_err_set(err, DQ_EINVAL, 400, "scene layers: metrics must be a JSON object");
            goto out;
        }
        json_object_set_new(doc, "metrics", m);
    }
    layers = json_array();
    json_object_set(doc, "layers", layers);
    for (int k = 0; k < DQ_SCENE_N; k++) {
        if (!o->paths[k])
            continue;
        char lid[DQ_IMAGE_ID_MAX + 64];
        if (dq_catalog_scene_layer_id(image_id, version, dq_scene_kind_name(k), lid, sizeof(lid),
                                      err) < 0)
            goto out;
        dq_ingest_opts_t io = {.src_path = o->paths[k],
                               .id = lid,
                               .data_dir = o->data_dir,
                               .who = who->user,
                               .replace = 1,
                               .quality = o->quality > 0 ? o->quality : 92,
                               .max_pixels = o->max_pixels ? o->max_pixels : 1ull << 31,
                               .store = o->store};
        dq_image_rec_t rec;
        if (dq_image_ingest(cat, &io, &rec, err) < 0)
            goto out;
        double a = (double)rec.width / (double)rec.height;
        if (fabs(a / aspect - 1.0) > 0.02) {
            dq_err_set(err, DQ_EINVAL, 422,
                       "scene layer %s is %dx%d: its aspect differs from the image's %dx%d",
                       dq_scene_kind_name(k), rec.width, rec.height, base.width, base.height);
            goto out;
        }
        json_array_append_new(
            layers, json_pack("{s:s, s:s}", "kind", dq_scene_kind_name(k), "image_id", lid));
    }
    if (!(text = json_dumps(doc, JSON_COMPACT))) {
        dq_err_set(err, DQ_EINTERNAL, 500, "scene layers: json");
        goto out;
    }
    rc = dq_catalog_scene_save(cat, image_id, version, text, strlen(text), who, out, field_errors,
                               err);
out:
    free(text);
    json_decref(layers);
    json_decref(doc);
    return rc;
}
