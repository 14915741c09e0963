/*
 * cmd_restore.c: virtual restoration (inpainting, src/conserve/inpaint.c).
 *   danqing restore IMAGE --mask MASK.png --out FILE.png         on files
 *   danqing restore --relic ID [--mask FILE | --from-changes]    on a catalogued relic
 * The input is never written. On a relic the restoration becomes a derived layer beside the
 * master: layers/<image>/restoration.{png,json} and mask.png in the store (written in DATA/tmp
 * first, then put under those keys, so every server of a cluster reads them), ingested
 * as image "<image>.restoration" (a pyramid, so IIIF serves it) and linked to the relic with
 * role "restoration"; the master file and its checksum are untouched (`danqing fixity`).
 * Exit 0 on success, 1 on failure, 2 on a usage error.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "catalog/catalog.h"

#include "condrec/condrec.h"
#include "conserve/conserve.h"
#include "image/image.h"

#define MAX_RESTORE_PIXELS (400ull * 1000 * 1000)

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing restore IMAGE --mask MASK.png --out FILE.png\n"
            "       danqing restore --relic ID [--mask MASK.png | --from-changes]\n\n"
            "Virtual restoration: fills the areas where MASK is non-zero (same size as IMAGE)\n"
            "with a structure + texture inpainting (harmonic fill of the surrounding colours\n"
            "plus the texture of the best-matching nearby exemplar) and writes the result as a\n"
            "new PNG. IMAGE is never modified. The result is a proposal, not the object's\n"
            "state (docs/conservation.md).\n\n"
            "--relic ID       restore the relic's main image (role \"main\", else its first);\n"
            "                 the result is a derived layer beside the master, ingested as\n"
            "                 image <image>.restoration and linked with role \"restoration\"\n"
            "--mask FILE      the areas to fill, same size as the image\n"
            "--from-changes   the change map (loss, flaking, fading) between the relic's first\n"
            "                 and last images whose role begins with \"condition\", carried into\n"
            "                 the master's frame by registration\n");
}

/* ---------------------------------------------------------------- on a relic */

typedef struct {
    dq_catalog_t *cat;
    const char *data_dir;
    dq_blob_t *store; /* where masters are read and the layer's pyramid goes */
    json_t *doc;       /* the relic document */
    const char *main;  /* borrowed from doc */
    const char *cond[2]; /* first and last condition captures, borrowed from doc */
} relic_t;

static int relic_load(relic_t *r, const char *id, dq_err_t *err)
{
    dq_actor_t who = {"cli", DQ_ROLE_ADMIN};
    dq_buf_t b = {0};
    int rc = -1;
    if (dq_catalog_relic_get(r->cat, id, &who, &b, NULL, err) < 0)
        goto out;
    json_error_t je;
    if (!(r->doc = json_loadb(b.data, b.len, 0, &je))) {
        dq_err_set(err, DQ_EINTERNAL, 500, "relic %s: %s", id, je.text);
        goto out;
    }
    json_t *ims = json_object_get(r->doc, "images"), *im;
    size_t i;
    json_array_foreach(ims, i, im)
    {
        const char *iid = json_string_value(json_object_get(im, "image_id"));
        const char *role = json_string_value(json_object_get(im, "role"));
        if (!iid)
            continue;
        if ((role && strcmp(role, "main") == 0) || (!r->main && (!role || !*role)))
            r->main = iid;
        if (role && strncmp(role, "condition", 9) == 0) {
            if (!r->cond[0])
                r->cond[0] = iid;
            r->cond[1] = iid;
        }
    }
    if (!r->main && json_array_size(ims))
        r->main = json_string_value(json_object_get(json_array_get(ims, 0), "image_id"));
    if (!r->main) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "relic %s has no image", id);
        goto out;
    }
    rc = 0;
out:
    dq_buf_free(&b);
    return rc;
}

static int load_image(relic_t *r, const char *image_id, dq_raster_t *out, dq_image_rec_t *rec,
                      dq_err_t *err)
{
    dq_image_rec_t tmp;
    rec = rec ? rec : &tmp;
    if (dq_catalog_image_get(r->cat, image_id, rec, err) < 0)
        return -1;
    dq_blob_pin(r->store, rec->master_path, rec->master_sha256); /* named by its SHA-256 */
    char *p = dq_blob_local_path(r->store, rec->master_path, err);
    if (!p)
        return -1;
    int rc = dq_raster_load(p, 3, MAX_RESTORE_PIXELS, out, err);
    free(p);
    return rc;
}

/* The change map of the relic's condition captures, carried into the master's frame. */
static int mask_from_changes(relic_t *r, const dq_raster_t *master, uint8_t **mask, dq_err_t *err)
{
    dq_raster_t a = {0}, b = {0}, u = {0}, warped = {0};
    dq_conserve_changes_t ch = {0};
    dq_conserve_reg_t reg;
    int rc = -1;
    *mask = NULL;
    if (!r->cond[0] || r->cond[0] == r->cond[1]) {
        dq_err_set(err, DQ_ENOTFOUND, 404,
                   "--from-changes needs two images whose role begins with \"condition\"");
        goto out;
    }
    if (load_image(r, r->cond[0], &a, NULL, err) < 0 ||
        load_image(r, r->cond[1], &b, NULL, err) < 0 || dq_conserve_changes(&a, &b, &ch, err) < 0)
        goto out;
    u = (dq_raster_t){ch.w, ch.h, 1, dq_xcalloc((size_t)ch.w * ch.h, 1)};
    for (size_t i = 0; i < (size_t)ch.w * ch.h; i++)
        u.px[i] = ch.mask[0][i] | ch.mask[1][i] | ch.mask[2][i];
    /* master pixel -> earlier capture pixel, then the mask resampled onto the master */
    if (dq_conserve_register(master, &a, &reg, err) < 0 ||
        dq_conserve_warp(&u, reg.m, master->w, master->h, &warped, NULL, err) < 0)
        goto out;
    for (size_t i = 0; i < (size_t)master->w * master->h; i++)
        warped.px[i] = warped.px[i] >= 128 ? 255 : 0;
    *mask = warped.px;
    warped.px = NULL;
    rc = 0;
out:
    dq_conserve_changes_free(&ch);
    dq_raster_free(&a);
    dq_raster_free(&b);
    dq_raster_free(&u);
    dq_raster_free(&warped);
    return rc;
}

/* Links image_id to the relic with role "restoration" unless it already is. */
static int link_layer(relic_t *r, const char *relic_id, const char *image_id, dq_err_t *err)
{
    json_t *ims = json_object_get(r->doc, "images"), *im, *a = json_array();
    size_t i;
    int have = 0, rc = 0;
    json_array_foreach(ims, i, im)
    {
        const char *iid = json_string_value(json_object_get(im, "image_id"));
        if (iid && strcmp(iid, image_id) == 0)
            have = 1;
        json_array_append(a, im);
    }
    if (!have) {
        json_array_append_new(a, json_pack("{s:s, s:s, s:{s:s, s:s}}", "image_id", image_id,
                                           "role", "restoration", "label", "zh",
                                           "虚拟修复（建议，非文物现状）", "en",
                                           "Virtual restoration (a proposal, not the object's state)"));
        char *text = json_dumps(a, JSON_COMPACT);
        dq_actor_t who = {"cli", DQ_ROLE_ADMIN};
        dq_buf_t out = {0}, fe = {0};
        rc = dq_catalog_relic_set_images(r->cat, relic_id, text, strlen(text), -1, &who, &out,
                                         &fe, err);
        if (rc < 0 && fe.len)
            fprintf(stderr, "danqing restore: %.*s\n", (int)fe.len, fe.data);
        dq_buf_free(&out);
        dq_buf_free(&fe);
        free(text);
    }
    json_decref(a);
    return rc;
}

static int restore_relic(dq_config_t *cfg, const char *relic_id, const char *mask_path,
                         int from_changes)
{
    dq_err_t err = {0};
    relic_t r = {.data_dir = cfg->data_dir};
    dq_raster_t img = {0}, m = {0};
    dq_image_rec_t rec;
    uint8_t *mask = NULL;
    char *dir = NULL, *tmp = NULL, *png = NULL, *mpng = NULL, *js = NULL, *lid = NULL, *text = NULL;
    int rc = 1;
    char *db = dq_xasprintf("%s/catalog.sqlite", cfg->data_dir);
    if (!cfg->catalog[0] && !dq_fs_exists(db)) {
        dq_err_set(&err, DQ_ENOTFOUND, 404, "no catalog at %s", db);
        goto out;
    }
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        !(r.cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(r.store = dq_blob_open(cfg, &err)) || relic_load(&r, relic_id, &err) < 0 ||
        load_image(&r, r.main, &img, &rec, &err) < 0)
        goto out;
    if (mask_path) {
        if (dq_raster_load(mask_path, 1, MAX_RESTORE_PIXELS, &m, &err) < 0)
            goto out;
        if (m.w != img.w || m.h != img.h) {
            dq_err_set(&err, DQ_EINVAL, 400, "the mask is %dx%d but image %s is %dx%d", m.w, m.h,
                       r.main, img.w, img.h);
            goto out;
        }
        mask = m.px;
        m.px = NULL;
    } else if (from_changes && mask_from_changes(&r, &img, &mask, &err) < 0) {
        goto out;
    }
    dq_conserve_inpaint_stats_t st;
    if (dq_conserve_inpaint(&img, mask, img.w, img.h, &st, &err) < 0)
        goto out;
    /* The layer: files in DATA/tmp, a pyramid through ingest, then the files into the store
     * under layers/<image>/ (the outline of GET /api/images/{id}/outline reads mask.png
     * there). */
    lid = dq_xasprintf("%s.restoration", r.main);
    tmp = dq_xasprintf("%s/tmp", cfg->data_dir);
    if (dq_image_id_valid(lid, &err) != 1 || dq_fs_mkdirs(tmp, &err) < 0)
        goto out;
    dir = dq_xasprintf("%s/restore-XXXXXX", tmp);
    if (!mkdtemp(dir)) {
        dq_err_set(&err, DQ_EIO, 500, "%s: %s", dir, strerror(errno));
        dir[0] = '\0'; /* nothing to clean up */
        goto out;
    }
    png = dq_xasprintf("%s/restoration.png", dir);
    mpng = dq_xasprintf("%s/mask.png", dir);
    js = dq_xasprintf("%s/restoration.json", dir);
    dq_raster_t mr = {img.w, img.h, 1, mask};
    if (dq_raster_save_png(png, &img, &err) < 0 || dq_raster_save_png(mpng, &mr, &err) < 0)
        goto out;
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:i, s:i, s:s}", "kind", "virtual restoration",
        "label", "a proposal, not the object's state", "derived_from_image", r.main,
        "derived_from_sha256", rec.master_sha256, "mask",
        mask_path ? "given (--mask)" : "change map (--from-changes)", "method",
        "structure (harmonic fill, push-pull + SOR) + texture (best nearby exemplar's high-pass, "
        "least-squares weight); Bertalmio et al. 2003; docs/conservation.md",
        "masked_px", (json_int_t)st.n_masked, "regions", st.n_regions, "textured_regions",
        st.n_textured, "layer_image", lid);
    text = json_dumps(j, JSON_INDENT(2));
    json_decref(j);
    if (dq_fs_write_atomic(js, dir, text, strlen(text), &err) < 0)
        goto out;
    dq_ingest_opts_t o = {.src_path = png, .id = lid, .data_dir = cfg->data_dir, .who = "cli",
                          .replace = 1, .quality = 92, .max_pixels = MAX_RESTORE_PIXELS,
                          .store = r.store};
    dq_image_rec_t lrec;
    if (dq_image_ingest(r.cat, &o, &lrec, &err) < 0)
        goto out;
    const char *f;
    for (size_t i = 0; (f = dq_condrec_restoration_file_name(i)) != NULL; i++) {
        char *src = dq_xasprintf("%s/%s", dir, f);
        char *key = dq_xasprintf("layers/%s/%s", r.main, f);
        int prc = dq_condrec_put_layer_file(r.cat, r.store, key, src, &err);
        free(src);
        free(key);
        if (prc < 0)
            goto out;
    }
    if (link_layer(&r, relic_id, lid, &err) < 0)
        goto out;
    printf("restored %llu px of %s in %d regions -> image %s (layers/%s/restoration.png); "
           "master unchanged\n",
           (unsigned long long)st.n_masked, r.main, st.n_regions, lid, r.main);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing restore: %s\n", err.msg);
    json_decref(r.doc);
    dq_catalog_close(r.cat);
    dq_blob_close(r.store);
    dq_raster_free(&img);
    dq_raster_free(&m);
    free(mask);
    free(db);
    if (dir && dir[0]) { /* the work copies the store did not take (a local one renames) */
        const char *work[] = {png, mpng, js};
        for (size_t i = 0; i < DQ_ARRAY_LEN(work); i++)
            if (work[i])
                unlink(work[i]);
        rmdir(dir);
    }
    free(dir);
    free(tmp);
    free(png);
    free(mpng);
    free(js);
    free(lid);
    free(text);
    return rc;
}

int dq_cmd_restore(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *in = NULL, *mask_path = NULL, *out_path = NULL, *relic = NULL;
    int from_changes = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--relic") == 0 && i + 1 < argc)
            relic = argv[++i];
        else if (strcmp(argv[i], "--from-changes") == 0)
            from_changes = 1;
        else if (strcmp(argv[i], "--mask") == 0 && i + 1 < argc)
            mask_path = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            out_path = argv[++i];
        else if (argv[i][0] == '-' || in) {
            fprintf(stderr, "danqing restore: unexpected argument '%s'\n", argv[i]);
            return 2;
        } else
            in = argv[i];
    }
    if (relic) {
        if (in || out_path || !!mask_path == from_changes) {
            fprintf(stderr, "danqing restore: --relic takes exactly one of --mask and "
                            "--from-changes, and no IMAGE or --out\n");
            return 2;
        }
        return restore_relic(cfg, relic, mask_path, from_changes);
    }
    if (!in || !mask_path || !out_path || from_changes) {
        usage(stderr);
        return 2;
    }
    dq_err_t err = {0};
    dq_raster_t img = {0}, mask = {0};
    dq_conserve_inpaint_stats_t st;
    int rc = 1;
    if (strcmp(in, out_path) == 0) {
        dq_err_set(&err, DQ_EINVAL, 400, "--out must not be the input: a restoration never "
                                         "replaces the original");
        goto out;
    }
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0 ||
        dq_raster_load(in, 3, MAX_RESTORE_PIXELS, &img, &err) < 0 ||
        dq_raster_load(mask_path, 1, MAX_RESTORE_PIXELS, &mask, &err) < 0)
        goto out;
    if (mask.w != img.w || mask.h != img.h) {
        dq_err_set(&err, DQ_EINVAL, 400, "the mask is %dx%d but the image is %dx%d", mask.w,
                   mask.h, img.w, img.h);
        goto out;
    }
    if (dq_conserve_inpaint(&img, mask.px, mask.w, mask.h, &st, &err) < 0 ||
        dq_raster_save_png(out_path, &img, &err) < 0)
        goto out;
    printf("restored %llu px in %d regions (%d with exemplar texture) -> %s\n",
           (unsigned long long)st.n_masked, st.n_regions, st.n_textured, out_path);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing restore: %s\n", err.msg);
    dq_raster_free(&img);
    dq_raster_free(&mask);
    return rc;
}
