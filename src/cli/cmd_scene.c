/*
 * cmd_scene.c: `danqing scene`, the layers of the living painting (issue 14, docs/living.md).
 *   import ID DIR          store the generator's truth (DIR = <work>/truth/scene) as a new
 *                          version of the image's layers (ID: an image, or a relic's first)
 *   estimate IMAGE_ID      propose layers from the painting's structure (scene/estimate.c)
 *                          and store them as a new version (or only write them: --out/--dry-run)
 *   estimate --file PATH   the same for a file, no catalog (--out DIR)
 *   score --truth DIR --estimate DIR   depth rank correlation and mask IoU, as JSON
 *   list ID, show ID [--version N]     the stored sets
 * Parses flags, moves files and prints; the science is in scene/, the policy in catalog/.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"
#include "scene/scene.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing scene import ID DIR [--note TEXT]\n"
            "       danqing scene estimate IMAGE_ID [--method structure|prior] [--height N]\n"
            "                              [--out DIR] [--dry-run] [--note TEXT]\n"
            "       danqing scene estimate --file PATH --out DIR [--method M] [--height N]\n"
            "       danqing scene score --truth DIR --estimate DIR\n"
            "       danqing scene list ID\n"
            "       danqing scene show ID [--version N]\n\n"
            "Scene layers of a painting (depth, mist, foliage, water, figure, boat masks), stored\n"
            "as derived images beside the master, versioned, served by IIIF (docs/living.md).\n"
            "ID is an image id or a relic id (its first image).\n\n"
            "  import     store DIR/{depth,mist,foliage,water,figures,boats}.png (as `danqing\n"
            "             generate` writes them in <work>/truth/scene/) as a new version\n"
            "  estimate   propose depth, mist, foliage and water from ink density, the height of\n"
            "             ridges (the three distances) and large blank areas; stores a new\n"
            "             version unless --dry-run. --height: working height (default 400);\n"
            "             --out DIR: also write the PNGs there; --method prior: the baseline\n"
            "  score      compare an estimate with the truth: Spearman rank correlation of\n"
            "             depth, IoU of each mask present in both (JSON on stdout)\n"
            "  list/show  the stored versions / one version (newest by default) as JSON\n");
}

/* ---------------------------------------------------------------- helpers */

typedef struct {
    const char *sub, *id, *dir, *file, *out, *truth, *estimate, *note;
    int method, height, dry_run;
    int64_t version;
} args_t;

static int parse(int argc, char **argv, args_t *a)
{
    memset(a, 0, sizeof(*a));
    a->height = 400;
    a->method = DQ_SCENE_METHOD_STRUCTURE;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(s, "--dry-run") == 0) {
            a->dry_run = 1;
            continue;
        }
        if (s[0] == '-' && s[1] == '-') {
            if (!v) {
                fprintf(stderr, "danqing scene: %s needs a value\n", s);
                return -1;
            }
            i++;
            char *end = NULL;
            if (strcmp(s, "--file") == 0)
                a->file = v;
            else if (strcmp(s, "--out") == 0)
                a->out = v;
            else if (strcmp(s, "--truth") == 0)
                a->truth = v;
            else if (strcmp(s, "--estimate") == 0)
                a->estimate = v;
            else if (strcmp(s, "--note") == 0)
                a->note = v;
            else if (strcmp(s, "--method") == 0) {
                if ((a->method = dq_scene_method_parse(v)) < 0) {
                    fprintf(stderr, "danqing scene: --method structure or prior, not '%s'\n", v);
                    return -1;
                }
            } else if (strcmp(s, "--height") == 0) {
                long h = strtol(v, &end, 10);
                if (!*v || *end || h < 32 || h > 4096) {
                    fprintf(stderr, "danqing scene: --height 32..4096, not '%s'\n", v);
                    return -1;
                }
                a->height = (int)h;
            } else if (strcmp(s, "--version") == 0) {
                long long n = strtoll(v, &end, 10);
                if (!*v || *end || n < 1) {
                    fprintf(stderr, "danqing scene: --version must be a positive number\n");
                    return -1;
                }
                a->version = n;
            } else {
                fprintf(stderr, "danqing scene: unknown option %s\n", s);
                return -1;
            }
            continue;
        }
        if (pos == 0)
            a->sub = s;
        else if (pos == 1)
            a->id = s;
        else if (pos == 2)
            a->dir = s;
        else {
            fprintf(stderr, "danqing scene: unexpected argument '%s'\n", s);
            return -1;
        }
        pos++;
    }
    return 0;
}

/* path shrunk to fit max_w x max_h as bands-band pixels (new, free()), or NULL with err. */
static uint8_t *load_fit(const char *path, int bands, int max_w, int max_h, int *w, int *h,
                         dq_err_t *err)
{
    dq_raster_t r;
    if (dq_raster_load_fit(path, bands, max_w, max_h, &r, err) < 0)
        return NULL;
    *w = r.w;
    *h = r.h;
    return r.px;
}

/* Resolves ID (image, or relic -> its first image) into image (DQ_IMAGE_ID_MAX + 1). */
static int resolve_image(dq_catalog_t *cat, const char *id, const dq_actor_t *who, char *image,
                         dq_err_t *err)
{
    dq_image_rec_t rec;
    dq_err_t e = {0};
    if (dq_image_id_valid(id, &e) && dq_catalog_image_get(cat, id, &rec, &e) == 0) {
        snprintf(image, DQ_IMAGE_ID_MAX + 1, "%s", id);
        return 0;
    }
    dq_buf_t b = {0};
    if (dq_catalog_relic_canvases(cat, id, who, &b, err) < 0) {
        dq_buf_free(&b);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no image or relic '%s'", id);
    }
    json_t *j = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
    const char *first = json_string_value(json_object_get(json_array_get(j, 0), "image_id"));
    int rc = 0;
    if (first)
        snprintf(image, DQ_IMAGE_ID_MAX + 1, "%s", first);
    else
        rc = dq_err_set(err, DQ_ENOTFOUND, 404, "relic '%s' has no image", id);
    json_decref(j);
    dq_buf_free(&b);
    return rc;
}

/* Loads DIR's layer files (those present) at most box_w x box_h into l; each plane is then
 * brought to exactly the first plane's size (or want_w x want_h when > 0). */
static int load_dir(const char *dir, int want_w, int want_h, dq_scene_layers_t *l, dq_err_t *err)
{
    memset(l, 0, sizeof(*l));
    int n = 0;
    for (int k = 0; k < DQ_SCENE_N; k++) {
        char *p = dq_xasprintf("%s/%s", dir, dq_scene_kind_file(k));
        if (access(p, R_OK) != 0) {
            free(p);
            continue;
        }
        int w = 0, h = 0;
        uint8_t *px =
            load_fit(p, 1, want_w > 0 ? want_w : 65536, want_h > 0 ? want_h : 65536, &w, &h, err);
        free(p);
        if (!px) {
            dq_scene_layers_free(l);
            return -1;
        }
        if (!l->width) {
            l->width = want_w > 0 ? want_w : w;
            l->height = want_h > 0 ? want_h : h;
        }
        if (w != l->width || h != l->height) {
            uint8_t *r = dq_scene_resample(px, w, h, l->width, l->height);
            free(px);
            px = r;
        }
        l->plane[k] = px;
        n++;
    }
    if (!n || !l->plane[DQ_SCENE_DEPTH]) {
        dq_scene_layers_free(l);
        return dq_err_set(err, DQ_ENOTFOUND, 404, "%s: no depth.png", dir);
    }
    return 0;
}

/* Writes l's planes as DIR/<kind file>; paths (may be NULL) receive the written paths (new). */
static int write_dir(const dq_scene_layers_t *l, const char *dir, char *paths[DQ_SCENE_N],
                     dq_err_t *err)
{
    if (dq_fs_mkdirs(dir, err) < 0)
        return -1;
    for (int k = 0; k < DQ_SCENE_N; k++) {
        if (!l->plane[k])
            continue;
        char *p = dq_xasprintf("%s/%s", dir, dq_scene_kind_file(k));
        dq_raster_t r = {.w = l->width, .h = l->height, .bands = 1, .px = l->plane[k]};
        if (dq_raster_save_png(p, &r, err) < 0) {
            free(p);
            return -1;
        }
        if (paths)
            paths[k] = p;
        else
            free(p);
    }
    return 0;
}

/* The metrics of est against truth as a JSON object (new). */
static json_t *score(const dq_scene_layers_t *truth, const dq_scene_layers_t *est)
{
    size_t n = (size_t)est->width * (size_t)est->height;
    json_t *iou = json_object();
    double rho =
        dq_scene_rank_corr(truth->plane[DQ_SCENE_DEPTH], est->plane[DQ_SCENE_DEPTH], NULL, n);
    for (int k = 1; k < DQ_SCENE_N; k++) {
        if (!truth->plane[k] || !est->plane[k])
            continue;
        double v = dq_scene_iou(truth->plane[k], est->plane[k], n);
        json_object_set_new(iou, dq_scene_kind_name(k), isnan(v) ? json_null() : json_real(v));
    }
    return json_pack("{s:o, s:o, s:[i,i]}", "depth_rank_corr",
                     isnan(rho) ? json_null() : json_real(rho), "iou", iou, "size", est->width,
                     est->height);
}

/* Removes the files in paths and the directory dir (a work directory of ours). */
static void remove_work(char *paths[DQ_SCENE_N], const char *dir)
{
    for (int k = 0; k < DQ_SCENE_N; k++) {
        if (paths[k])
            unlink(paths[k]);
        free(paths[k]);
        paths[k] = NULL;
    }
    if (dir)
        rmdir(dir);
}

/* ---------------------------------------------------------------- sub-commands */

static int print_set(const dq_buf_t *b)
{
    printf("%.*s\n", (int)b->len, b->data ? b->data : "");
    return 0;
}

static int cmd_import(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const args_t *a,
                      dq_err_t *err)
{
    const dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    char image[DQ_IMAGE_ID_MAX + 1];
    if (!a->id || !a->dir)
        return dq_err_set(err, DQ_EINVAL, 400, "import needs ID and DIR");
    if (resolve_image(cat, a->id, &who, image, err) < 0)
        return -1;
    dq_scene_store_opts_t o = {.data_dir = cfg->data_dir,
                               .store = store,
                               .source = "truth",
                               .method = "danqing generate: truth/scene",
                               .note = a->note,
                               .quality = cfg->jpeg_quality};
    char *paths[DQ_SCENE_N] = {0};
    for (int k = 0; k < DQ_SCENE_N; k++) {
        char *p = dq_xasprintf("%s/%s", a->dir, dq_scene_kind_file(k));
        if (access(p, R_OK) == 0)
            o.paths[k] = paths[k] = p;
        else
            free(p);
    }
    dq_buf_t out = {0};
    int rc = dq_scene_store(cat, image, &o, &who, &out, NULL, err);
    if (rc == 0)
        print_set(&out);
    dq_buf_free(&out);
    for (int k = 0; k < DQ_SCENE_N; k++)
        free(paths[k]);
    return rc;
}

static int cmd_estimate(dq_config_t *cfg, dq_catalog_t *cat, dq_blob_t *store, const args_t *a,
                        dq_err_t *err)
{
    const dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    char image[DQ_IMAGE_ID_MAX + 1] = "";
    char *src = NULL, *work = NULL, *paths[DQ_SCENE_N] = {0};
    uint8_t *px = NULL;
    dq_scene_layers_t l = {0};
    dq_buf_t out = {0};
    int rc = -1, w = 0, h = 0;
    if (a->file) {
        src = dq_xstrdup(a->file);
    } else {
        dq_image_rec_t rec;
        if (!a->id) {
            dq_err_set(err, DQ_EINVAL, 400, "estimate needs IMAGE_ID or --file");
            goto out;
        }
        if (resolve_image(cat, a->id, &who, image, err) < 0 ||
            dq_catalog_image_get(cat, image, &rec, err) < 0)
            goto out;
        dq_blob_pin(store, rec.pyramid_path, rec.pyramid_sha256);
        if (!(src = dq_blob_local_path(store, rec.pyramid_path, err)))
            goto out;
    }
    int box_w = a->height * 40 > 65536 ? 65536 : a->height * 40;
    if (!(px = load_fit(src, 3, box_w, a->height, &w, &h, err)) ||
        dq_scene_estimate(px, w, h, 3, a->method, &l, err) < 0)
        goto out;
    if (a->out && write_dir(&l, a->out, a->file || a->dry_run ? NULL : paths, err) < 0)
        goto out;
    if (a->file || a->dry_run) {
        printf("{\"estimated\":[%d,%d],\"method\":\"%s\",\"stored\":false}\n", w, h,
               dq_scene_method_name(a->method));
        rc = 0;
        goto out;
    }
    if (!a->out) {
        work = dq_xasprintf("%s/tmp/scene-%d-%lld", cfg->data_dir, (int)getpid(),
                            (long long)dq_now_us());
        if (write_dir(&l, work, paths, err) < 0)
            goto out;
    }
    char method[96];
    snprintf(method, sizeof(method), "danqing scene estimate --method %s --height %d",
             dq_scene_method_name(a->method), a->height);
    dq_scene_store_opts_t o = {.data_dir = cfg->data_dir,
                               .store = store,
                               .source = "estimate",
                               .method = method,
                               .note = a->note,
                               .quality = cfg->jpeg_quality};
    memcpy(o.paths, paths, sizeof(o.paths));
    if (dq_scene_store(cat, image, &o, &who, &out, NULL, err) < 0)
        goto out;
    print_set(&out);
    rc = 0;
out:
    if (work)
        remove_work(paths, work);
    for (int k = 0; k < DQ_SCENE_N; k++)
        free(paths[k]);
    free(work);
    dq_buf_free(&out);
    dq_scene_layers_free(&l);
    free(px);
    free(src);
    return rc;
}

static int cmd_score(const args_t *a, dq_err_t *err)
{
    dq_scene_layers_t est = {0}, truth = {0};
    if (!a->truth || !a->estimate)
        return dq_err_set(err, DQ_EINVAL, 400, "score needs --truth DIR and --estimate DIR");
    if (load_dir(a->estimate, 0, 0, &est, err) < 0)
        return -1;
    if (load_dir(a->truth, est.width, est.height, &truth, err) < 0) {
        dq_scene_layers_free(&est);
        return -1;
    }
    json_t *j = score(&truth, &est);
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(4));
    printf("%s\n", s);
    free(s);
    json_decref(j);
    dq_scene_layers_free(&est);
    dq_scene_layers_free(&truth);
    return 0;
}

static int cmd_read(dq_catalog_t *cat, const args_t *a, int list, dq_err_t *err)
{
    const dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    char image[DQ_IMAGE_ID_MAX + 1];
    if (!a->id)
        return dq_err_set(err, DQ_EINVAL, 400, "%s needs ID", list ? "list" : "show");
    if (resolve_image(cat, a->id, &who, image, err) < 0)
        return -1;
    dq_buf_t out = {0};
    int rc = list ? dq_catalog_scene_list(cat, image, &who, &out, err)
                  : dq_catalog_scene_get(cat, image, a->version, &who, &out, err);
    if (rc == 0)
        print_set(&out);
    dq_buf_free(&out);
    return rc;
}

int dq_cmd_scene(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    args_t a;
    if (parse(argc, argv, &a) < 0)
        return 2;
    static const char *const subs[] = {"import", "estimate", "score", "list", "show"};
    int sub = -1;
    for (size_t i = 0; a.sub && i < DQ_ARRAY_LEN(subs); i++)
        if (strcmp(a.sub, subs[i]) == 0)
            sub = (int)i;
    if (sub < 0) {
        usage(stderr);
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    dq_blob_t *store = NULL;
    int rc = -1, vips_up = 0;
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0)
        goto out;
    vips_up = 1;
    int needs_cat = sub != 2 && !(sub == 1 && a.file);
    if (sub == 1 && a.file && !a.out) {
        dq_err_set(&err, DQ_EINVAL, 400, "estimate --file needs --out DIR");
        goto out;
    }
    if (needs_cat && (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
                      !(store = dq_blob_open(cfg, &err))))
        goto out;
    switch (sub) {
    case 0:
        rc = cmd_import(cfg, cat, store, &a, &err);
        break;
    case 1:
        rc = cmd_estimate(cfg, cat, store, &a, &err);
        break;
    case 2:
        rc = cmd_score(&a, &err);
        break;
    default:
        rc = cmd_read(cat, &a, sub == 3, &err);
        break;
    }
out:
    if (rc)
        fprintf(stderr, "danqing scene %s: %s\n", a.sub, err.msg);
    dq_catalog_close(cat);
    dq_blob_close(store);
    if (vips_up)
        dq_image_shutdown();
    return rc ? 1 : 0;
}
