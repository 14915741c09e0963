/*
 * cmd_style.c: `danqing style index|train|classify` (issue 13). index computes the style
 * embedding and palette of every image whose pyramid changed since it was last embedded (or
 * was never embedded), one transaction per image, so a killed run resumes where it stopped;
 * train fits an attribution model on the catalog's labelled works with k-fold
 * cross-validation and stores it; classify answers calibrated label probabilities and the
 * nearest labelled works for a file or an image. The science is in src/style/, storage and
 * policy in src/catalog/style.c; this file parses flags, loads pixels and prints.
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
#include "style/style.h"

static const dq_actor_t cli_actor = {"cli", DQ_ROLE_ADMIN};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing style index [--relic ID] [--force] [--quiet]\n"
            "       danqing style train --label school|dynasty [--folds K] [--json]\n"
            "       danqing style classify FILE_OR_IMAGE_ID [--label school|dynasty] [--top N]\n"
            "                              [--nearest N] [--json]\n"
            "       danqing style evaluate --train DATA_DIR --test DATA_DIR [--label L]\n"
            "                              [--parts palette,ink,brushwork,composition] [--json]\n\n"
            "index     embeds every image whose pyramid changed since its last embedding (or\n"
            "          one relic's images): palette, ink tones, brushwork, composition. One\n"
            "          transaction per image: a killed run resumes where it stopped.\n"
            "train     fits an attribution model (multinomial logistic regression, calibrated)\n"
            "          on the catalog's labelled works; prints k-fold cross-validated accuracy\n"
            "          and the confusion matrix; stores the model for classify and the API.\n"
            "classify  the top labels with calibrated probabilities and the nearest labelled\n"
            "          works; --json prints {\"labels\": [{\"label\", \"p\"}], \"nearest\": [...]}.\n"
            "          Suggestions only: no catalog record is changed.\n"
            "evaluate  fits on one catalog's labelled works (optionally only some parts of the\n"
            "          embedding: the ablation) and tests on another's: accuracy, confusion,\n"
            "          and retrieval mAP of same-label neighbours. Stores nothing.\n");
}

/* ================================================================ pixels -> embedding */

/* Embeds and palettes the picture in px into row (vec and palette strings owned by the
 * caller: free vec, dq_buf_free the buffers). */
static int embed_pixels(const dq_pixels_t *px, float *vec, dq_buf_t *pal, dq_buf_t *named,
                        dq_err_t *err)
{
    const dq_style_embedder_t *e = dq_style_default();
    dq_style_image_t im = {px->rgb, px->width, px->height, px->stride};
    if (e->embed(e, &im, vec, err) < 0)
        return -1;
    if (pal && dq_style_palette(&im, pal, named, err) < 0)
        return -1;
    return 0;
}

/* ================================================================ index */

typedef struct {
    char sha[65], model[64];
} have_t;

static int have_row(void *ud, const dq_style_row_t *row)
{
    have_t *h = ud;
    snprintf(h->sha, sizeof(h->sha), "%s", row->pyramid_sha256);
    snprintf(h->model, sizeof(h->model), "%s", row->model);
    return 0;
}

/* Embeds one pyramid and stores it (one transaction). */
static int embed_store(dq_catalog_t *cat, dq_blob_t *store, const char *id, const char *sha,
                       const char *rel_path, float *vec, dq_err_t *err)
{
    const dq_style_embedder_t *e = dq_style_default();
    dq_blob_pin(store, rel_path, sha); /* the row's version: asked once per pin */
    char *path = dq_blob_local_path(store, rel_path, err); /* the file, or a local copy */
    dq_pixels_t px = {0};
    dq_buf_t pal = {0}, named = {0};
    int r = path ? dq_image_pixels_file(path, e->side, &px, err) : -1;
    if (r == 0)
        r = embed_pixels(&px, vec, &pal, &named, err);
    if (r == 0) {
        dq_style_row_t row = {.image_id = id,
                              .pyramid_sha256 = sha,
                              .model = e->name,
                              .dim = e->dim,
                              .vec = vec,
                              .palette = pal.data,
                              .named = named.data};
        r = dq_catalog_style_put(cat, &row, "cli", err);
    }
    dq_pixels_free(&px);
    dq_buf_free(&pal);
    dq_buf_free(&named);
    free(path);
    return r;
}

int dq_cli_style_refresh(dq_catalog_t *cat, dq_blob_t *store, const char *image_id,
                         const char *pyramid_sha256, const char *pyramid_path, dq_err_t *err)
{
    have_t h = {0};
    int r = dq_catalog_style_get(cat, image_id, have_row, &h, err);
    if (r != 0)
        return r < 0 ? -1 : 0; /* never embedded: `style index` does it */
    if (strcmp(h.sha, pyramid_sha256) == 0)
        return 0;
    float *vec = dq_xmalloc((size_t)dq_style_default()->dim * sizeof(float));
    r = embed_store(cat, store, image_id, pyramid_sha256, pyramid_path, vec, err);
    free(vec);
    return r;
}

typedef struct {
    char id[DQ_IMAGE_ID_MAX + 1];
    char sha[65];
    char path[160];
    int done; /* 1: its stored embedding is current */
} img_t;

typedef struct {
    img_t *v;
    int n, cap;
} imgs_t;

static int collect_image(void *ud, const dq_image_rec_t *rec)
{
    imgs_t *a = ud;
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 64;
        a->v = dq_xrealloc(a->v, (size_t)a->cap * sizeof(img_t));
    }
    img_t *m = &a->v[a->n++];
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", rec->id);
    snprintf(m->sha, sizeof(m->sha), "%s", rec->pyramid_sha256);
    snprintf(m->path, sizeof(m->path), "%s", rec->pyramid_path);
    return 0;
}

typedef struct {
    imgs_t *imgs;
    const char *model;
    char **stale; /* stored rows whose image is gone */
    int n_stale, cap_stale;
} mark_t;

static int cmp_img(const void *a, const void *b)
{
    return strcmp(((const img_t *)a)->id, ((const img_t *)b)->id);
}

static int mark_row(void *ud, const dq_style_row_t *row)
{
    mark_t *m = ud;
    img_t key;
    snprintf(key.id, sizeof(key.id), "%s", row->image_id);
    img_t *hit = bsearch(&key, m->imgs->v, (size_t)m->imgs->n, sizeof(img_t), cmp_img);
    if (!hit) {
        if (m->n_stale == m->cap_stale) {
            m->cap_stale = m->cap_stale ? m->cap_stale * 2 : 16;
            m->stale = dq_xrealloc(m->stale, (size_t)m->cap_stale * sizeof(char *));
        }
        m->stale[m->n_stale++] = dq_xstrdup(row->image_id);
        return 0;
    }
    hit->done = strcmp(hit->sha, row->pyramid_sha256) == 0 && strcmp(row->model, m->model) == 0;
    return 0;
}

static void progress(int tty, int done, int total, int64_t t0)
{
    double el = (double)(dq_now_us() - t0) / 1e6, rate = el > 0 ? done / el : 0;
    if (tty) {
        int w = 30, fill = total ? done * w / total : w;
        fprintf(stderr, "\r[%.*s%*s] %d/%d  %.1f img/s  ", fill,
                "##############################", w - fill, "", done, total, rate);
    } else if (total && (done == total || done % (total / 10 > 0 ? total / 10 : 1) == 0)) {
        fprintf(stderr, "style index: %d/%d (%.1f img/s)\n", done, total, rate);
    }
}

static int relic_images(dq_catalog_t *cat, const char *relic, imgs_t *all, dq_err_t *err)
{
    dq_buf_t doc = {0};
    if (dq_catalog_relic_get(cat, relic, &cli_actor, &doc, NULL, err) < 0) {
        dq_buf_free(&doc);
        return -1;
    }
    json_t *d = json_loadb(doc.data, doc.len, 0, NULL);
    dq_buf_free(&doc);
    json_t *ims = json_object_get(d, "images");
    /* Keep only the relic's images: mark the others done. */
    for (int i = 0; i < all->n; i++) {
        int mine = 0;
        size_t k;
        json_t *im;
        json_array_foreach(ims, k, im)
        {
            const char *iid = json_string_value(json_object_get(im, "image_id"));
            if (iid && strcmp(iid, all->v[i].id) == 0)
                mine = 1;
        }
        if (!mine)
            all->v[i].done = 1;
    }
    json_decref(d);
    return 0;
}

static int style_index(dq_config_t *cfg, int argc, char **argv)
{
    const char *relic = NULL;
    int force = 0, quiet = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--relic") == 0 && i + 1 < argc)
            relic = argv[++i];
        else if (strcmp(argv[i], "--force") == 0)
            force = 1;
        else if (strcmp(argv[i], "--quiet") == 0)
            quiet = 1;
        else {
            fprintf(stderr, "danqing style index: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    imgs_t imgs = {0};
    dq_blob_t *store = NULL;
    mark_t mk = {.imgs = &imgs, .model = dq_style_default()->name};
    const dq_style_embedder_t *e = dq_style_default();
    float *vec = dq_xmalloc((size_t)e->dim * sizeof(float));
    int vips_up = 0, n_done = 0, n_todo = 0, n_removed = 0, tty = !quiet && isatty(2);
    if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0)
        goto out;
    vips_up = 1;
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) || !(store = dq_blob_open(cfg, &err)))
        goto out;
    if (dq_catalog_image_list(cat, collect_image, &imgs, &err) < 0)
        goto out;
    qsort(imgs.v, (size_t)imgs.n, sizeof(img_t), cmp_img);
    if (dq_catalog_style_list(cat, 0, mark_row, &mk, &err) < 0)
        goto out;
    if (force)
        for (int i = 0; i < imgs.n; i++)
            imgs.v[i].done = 0;
    if (relic && relic_images(cat, relic, &imgs, &err) < 0)
        goto out;
    if (!relic)
        for (int i = 0; i < mk.n_stale; i++) {
            if (dq_catalog_style_remove(cat, mk.stale[i], "cli", &err) < 0)
                goto out;
            n_removed++;
        }
    for (int i = 0; i < imgs.n; i++)
        n_todo += !imgs.v[i].done;
    int64_t t0 = dq_now_us();
    for (int i = 0; i < imgs.n; i++) {
        img_t *m = &imgs.v[i];
        if (m->done)
            continue;
        int r = embed_store(cat, store, m->id, m->sha, m->path, vec, &err);
        if (r < 0) {
            if (tty)
                fputc('\n', stderr);
            fprintf(stderr, "danqing style index: %s: %s\n", m->id, err.msg);
            goto out;
        }
        n_done++;
        if (!quiet)
            progress(tty, n_done, n_todo, t0);
    }
    if (tty && n_todo)
        fputc('\n', stderr);
    double el = (double)(dq_now_us() - t0) / 1e6;
    printf("style index: %d embedded, %d already current, %d removed (%s, %d floats) in %.2f s "
           "(%.1f images/s)\n",
           n_done, imgs.n - n_todo, n_removed, e->name, e->dim, el, el > 0 ? n_done / el : 0.0);
    rc = 0;
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing style index: %s\n", err.msg);
    for (int i = 0; i < mk.n_stale; i++)
        free(mk.stale[i]);
    free(mk.stale);
    free(imgs.v);
    free(vec);
    dq_catalog_close(cat);
    dq_blob_close(store);
    if (vips_up)
        dq_image_shutdown();
    return rc;
}

/* ================================================================ train */

typedef struct {
    const char *label;
    float *X;
    int *y;
    char **lab; /* per row, borrowed from classes */
    char **classes;
    int n, cap, n_classes, dim;
    char model[64];
} train_t;

static int class_of(train_t *t, const char *v)
{
    for (int c = 0; c < t->n_classes; c++)
        if (strcmp(t->classes[c], v) == 0)
            return c;
    t->classes = dq_xrealloc(t->classes, (size_t)(t->n_classes + 1) * sizeof(char *));
    t->classes[t->n_classes] = dq_xstrdup(v);
    return t->n_classes++;
}

static int collect_work(void *ud, const dq_style_work_t *w)
{
    train_t *t = ud;
    const char *v = strcmp(t->label, "school") == 0 ? w->school : w->dynasty;
    if (!v || !*v)
        return 0;
    if (!t->dim) {
        t->dim = w->dim;
        snprintf(t->model, sizeof(t->model), "%s", w->model);
    }
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 256;
        t->X = dq_xrealloc(t->X, (size_t)t->cap * t->dim * sizeof(float));
        t->y = dq_xrealloc(t->y, (size_t)t->cap * sizeof(int));
    }
    memcpy(t->X + (size_t)t->n * t->dim, w->vec, (size_t)t->dim * sizeof(float));
    t->y[t->n++] = class_of(t, v);
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int style_train(dq_config_t *cfg, int argc, char **argv)
{
    const char *label = NULL;
    int json = 0, folds = 5, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(argv[i], "--folds") == 0 && i + 1 < argc)
            folds = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf(stderr, "danqing style train: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!label || (strcmp(label, "school") != 0 && strcmp(label, "dynasty") != 0)) {
        fprintf(stderr, "danqing style train: --label school|dynasty is required\n");
        return 2;
    }
    if (folds < 2 || folds > 20) {
        fprintf(stderr, "danqing style train: --folds must be 2..20\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    train_t t = {.label = label};
    dq_style_model_t *m = NULL;
    dq_style_cv_t cv = {0};
    dq_buf_t doc = {0};
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)))
        goto out;
    if (dq_catalog_style_works(cat, &cli_actor, collect_work, &t, &err) < 0)
        goto out;
    if (t.n_classes < 2) {
        dq_err_set(&err, DQ_EINVAL, 0,
                   "%d labelled works with %d distinct %s values: need 2 (index first: danqing "
                   "style index)",
                   t.n, t.n_classes, label);
        goto out;
    }
    /* Classes in name order, so that a model and its report do not depend on row order. */
    char **sorted = dq_xmalloc((size_t)t.n_classes * sizeof(char *));
    memcpy(sorted, t.classes, (size_t)t.n_classes * sizeof(char *));
    qsort(sorted, (size_t)t.n_classes, sizeof(char *), cmp_str);
    int *remap = dq_xmalloc((size_t)t.n_classes * sizeof(int));
    for (int c = 0; c < t.n_classes; c++)
        for (int s = 0; s < t.n_classes; s++)
            if (sorted[s] == t.classes[c])
                remap[c] = s;
    for (int i = 0; i < t.n; i++)
        t.y[i] = remap[t.y[i]];
    free(remap);
    free(t.classes);
    t.classes = sorted;
    /* Folds: at most the smallest class's size. */
    int *cnt = dq_xcalloc((size_t)t.n_classes, sizeof(int)), minc = t.n;
    for (int i = 0; i < t.n; i++)
        cnt[t.y[i]]++;
    for (int c = 0; c < t.n_classes; c++)
        minc = cnt[c] < minc ? cnt[c] : minc;
    if (folds > minc)
        folds = minc;
    int64_t t0 = dq_now_us();
    m = dq_style_model_fit(t.X, t.n, t.dim, t.y, t.n_classes, (const char *const *)t.classes, 0,
                           folds >= 2 ? folds : 0, 1, folds >= 2 ? &cv : NULL, &err);
    if (!m) {
        free(cnt);
        goto out;
    }
    double fit_s = (double)(dq_now_us() - t0) / 1e6;
    snprintf(m->model_name, sizeof(m->model_name), "%s", t.model);
    snprintf(m->label, sizeof(m->label), "%s", label);
    dq_style_model_to_json(m, &doc);
    /* The stored document carries its cross-validation, for the API and the UI. */
    json_t *j = json_loadb(doc.data, doc.len, 0, NULL), *conf = json_array();
    for (int a = 0; a < t.n_classes && cv.confusion; a++) {
        json_t *row = json_array();
        for (int b = 0; b < t.n_classes; b++)
            json_array_append_new(row, json_integer(cv.confusion[a * t.n_classes + b]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(j, "cv",
                        json_pack("{s:i, s:i, s:f, s:f, s:f, s:o}", "n", t.n, "folds", folds,
                                  "accuracy", cv.accuracy, "nll", cv.nll, "ece", cv.ece,
                                  "confusion", conf));
    char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(j);
    int pr = dq_catalog_style_model_put(cat, label, text, "cli", &err);
    free(text);
    if (pr < 0) {
        free(cnt);
        goto out;
    }
    if (json) {
        printf("{\"label\":\"%s\",\"model\":\"%s\",\"n\":%d,\"folds\":%d,\"accuracy\":%.4f,"
               "\"nll\":%.4f,\"nll_uncalibrated\":%.4f,\"ece\":%.4f,\"temperature\":%.4f,"
               "\"classes\":[",
               label, t.model, t.n, folds, cv.accuracy, cv.nll, cv.nll_raw, cv.ece,
               m->temperature);
        for (int c = 0; c < t.n_classes; c++)
            printf("%s\"%s\"", c ? "," : "", t.classes[c]);
        printf("],\"counts\":[");
        for (int c = 0; c < t.n_classes; c++)
            printf("%s%d", c ? "," : "", cnt[c]);
        printf("],\"confusion\":[");
        for (int a = 0; a < t.n_classes; a++) {
            printf("%s[", a ? "," : "");
            for (int b = 0; b < t.n_classes; b++)
                printf("%s%d", b ? "," : "", cv.confusion ? cv.confusion[a * t.n_classes + b] : 0);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("style train --label %s: %d labelled works, %d classes, %s\n", label, t.n,
               t.n_classes, t.model);
        if (folds >= 2) {
            printf("%d-fold cross-validated accuracy %.3f; log-loss %.3f (uncalibrated %.3f), "
                   "calibration error %.3f, temperature %.2f\n",
                   folds, cv.accuracy, cv.nll, cv.nll_raw, cv.ece, m->temperature);
            printf("confusion (rows: catalog label, columns: predicted)\n%16s", "");
            for (int b = 0; b < t.n_classes; b++)
                printf(" %7.7s", t.classes[b]);
            printf("\n");
            for (int a = 0; a < t.n_classes; a++) {
                printf("%16.16s", t.classes[a]);
                for (int b = 0; b < t.n_classes; b++)
                    printf(" %7d", cv.confusion[a * t.n_classes + b]);
                printf("\n");
            }
        } else {
            printf("too few works per class for cross-validation\n");
        }
        printf("model stored (fitted in %.2f s); danqing style classify uses it\n", fit_s);
    }
    free(cnt);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing style train: %s\n", err.msg);
    for (int c = 0; c < t.n_classes; c++)
        free(t.classes[c]);
    free(t.classes);
    free(t.X);
    free(t.y);
    dq_style_model_free(m);
    dq_style_cv_free(&cv);
    dq_buf_free(&doc);
    dq_catalog_close(cat);
    return rc;
}

/* ================================================================ classify */

typedef struct {
    float *vec;
    int dim;
    char model[64];
} got_t;

static int got_row(void *ud, const dq_style_row_t *row)
{
    got_t *g = ud;
    g->dim = row->dim;
    g->vec = dq_xmalloc((size_t)row->dim * sizeof(float));
    memcpy(g->vec, row->vec, (size_t)row->dim * sizeof(float));
    snprintf(g->model, sizeof(g->model), "%s", row->model);
    return 0;
}

static int style_classify(dq_config_t *cfg, int argc, char **argv)
{
    const char *what = NULL, *label = "school";
    int json = 0, top = 3, nearest = 5, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(argv[i], "--top") == 0 && i + 1 < argc)
            top = atoi(argv[++i]);
        else if (strcmp(argv[i], "--nearest") == 0 && i + 1 < argc)
            nearest = atoi(argv[++i]);
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else if (argv[i][0] != '-' && !what)
            what = argv[i];
        else {
            fprintf(stderr, "danqing style classify: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!what || top < 1 || top > 100 || nearest < 0 || nearest > 100) {
        fprintf(stderr, "danqing style classify: FILE_OR_IMAGE_ID needed (--top 1..100, "
                        "--nearest 0..100)\n");
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *cat = NULL;
    got_t g = {0};
    dq_buf_t labels = {0}, near = {0};
    int vips_up = 0, by_image = 0;
    const dq_style_embedder_t *e = dq_style_default();
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)))
        goto out;
    if (access(what, R_OK) != 0) {
        /* An image id: its stored embedding. */
        int r = dq_catalog_style_get(cat, what, got_row, &g, &err);
        if (r < 0)
            goto out;
        if (r == 1) {
            dq_err_set(&err, DQ_ENOTFOUND, 0,
                       "'%s' is neither a readable file nor an indexed image (danqing style index)",
                       what);
            goto out;
        }
        by_image = 1;
    } else {
        if (dq_image_init("danqing", cfg->vips_cache_mb, 0, &err) < 0)
            goto out;
        vips_up = 1;
        dq_pixels_t px = {0};
        g.dim = e->dim;
        g.vec = dq_xmalloc((size_t)e->dim * sizeof(float));
        snprintf(g.model, sizeof(g.model), "%s", e->name);
        int r = dq_image_pixels_file(what, e->side, &px, &err);
        if (r == 0)
            r = embed_pixels(&px, g.vec, NULL, NULL, &err);
        dq_pixels_free(&px);
        if (r < 0)
            goto out;
    }
    int r = dq_catalog_style_classify(cat, label, g.vec, g.dim, g.model, top, &labels, &err);
    if (r < 0)
        goto out;
    if (r == 1) {
        dq_err_set(&err, DQ_ENOTFOUND, 0, "no %s model yet (danqing style train --label %s)",
                   label, label);
        goto out;
    }
    if (nearest > 0) {
        dq_style_query_t q = {.image_id = by_image ? what : NULL,
                              .vec = by_image ? NULL : g.vec,
                              .dim = g.dim,
                              .model = g.model,
                              .limit = nearest,
                              .labelled_only = 1};
        if (dq_catalog_style_similar(cat, &q, &cli_actor, &near, &err) < 0)
            goto out;
    }
    json_t *lj = json_loadb(labels.data, labels.len, 0, NULL);
    json_t *nj = near.len ? json_loadb(near.data, near.len, 0, NULL) : NULL;
    json_t *items = nj ? json_object_get(nj, "items") : NULL;
    if (json) {
        json_t *o = json_pack("{s:O, s:O, s:s, s:s}", "labels", json_object_get(lj, "labels"),
                              "nearest", items ? items : json_array(), "label", label, "note",
                              "suggestions with calibrated probabilities; no catalog record was "
                              "changed");
        char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(6));
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%s (suggestions; the catalog record is not changed):\n", label);
        size_t i;
        json_t *x;
        json_array_foreach(json_object_get(lj, "labels"), i, x)
        printf("  %-16s p = %.3f\n", json_string_value(json_object_get(x, "label")),
               json_number_value(json_object_get(x, "p")));
        if (items && json_array_size(items)) {
            printf("nearest labelled works:\n");
            json_array_foreach(items, i, x)
            {
                const char *rid = json_string_value(json_object_get(x, "relic_id"));
                const char *sch = json_string_value(json_object_get(x, "school"));
                const char *dyn = json_string_value(json_object_get(x, "dynasty"));
                printf("  %.3f  %-24s %-10s %-14s (%s)\n",
                       json_number_value(json_object_get(x, "score")), rid ? rid : "-",
                       sch ? sch : "-", dyn ? dyn : "-",
                       json_string_value(json_object_get(json_object_get(x, "reason"), "en")));
            }
        }
    }
    json_decref(lj);
    json_decref(nj);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing style classify: %s\n", err.msg);
    free(g.vec);
    dq_buf_free(&labels);
    dq_buf_free(&near);
    dq_catalog_close(cat);
    if (vips_up)
        dq_image_shutdown();
    return rc;
}

/* ================================================================ evaluate */

/* Average precision of same-label neighbours for every work of B (the work itself left out),
 * ranked by the index's cosine. */
static double mean_ap(const dq_style_index_t *ix, const int *y, int n)
{
    float *sc = dq_xmalloc((size_t)n * sizeof(float));
    int *ord = dq_xmalloc((size_t)n * sizeof(int));
    double sum = 0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
        dq_style_index_scores(ix, dq_style_index_row(ix, i), sc);
        int m = 0, tot = 0;
        for (int j = 0; j < n; j++)
            if (j != i) {
                ord[m++] = j;
                tot += y[j] == y[i];
            }
        if (!tot)
            continue;
        /* Insertion sort by score, descending (n is a few hundred). */
        for (int a = 1; a < m; a++)
            for (int b = a; b > 0 && sc[ord[b]] > sc[ord[b - 1]]; b--) {
                int t = ord[b];
                ord[b] = ord[b - 1];
                ord[b - 1] = t;
            }
        double ap = 0;
        int rel = 0;
        for (int r = 0; r < m; r++)
            if (y[ord[r]] == y[i]) {
                rel++;
                ap += (double)rel / (r + 1);
            }
        sum += ap / tot;
        counted++;
    }
    free(sc);
    free(ord);
    return counted ? sum / counted : 0;
}

/* Keeps only the columns of the named parts (comma-separated keys; NULL: all). Returns the
 * number kept, or -1 for an unknown part. cols gets the kept column indices. */
static int part_columns(const dq_style_embedder_t *e, const char *list, int *cols)
{
    int n = 0;
    for (int p = 0; p < e->n_parts; p++) {
        int want = !list;
        if (list) {
            const char *k = e->parts[p].key;
            size_t kl = strlen(k);
            for (const char *q = list; *q;) {
                const char *c = strchr(q, ',');
                size_t l = c ? (size_t)(c - q) : strlen(q);
                if (l == kl && strncmp(q, k, l) == 0)
                    want = 1;
                q += l + (c ? 1 : 0);
            }
        }
        for (int j = 0; want && j < e->parts[p].len; j++)
            cols[n++] = e->parts[p].offset + j;
    }
    if (list) { /* every name must be a part */
        for (const char *q = list; *q;) {
            const char *c = strchr(q, ',');
            size_t l = c ? (size_t)(c - q) : strlen(q);
            int ok = 0;
            for (int p = 0; p < e->n_parts; p++)
                ok |= strlen(e->parts[p].key) == l && strncmp(q, e->parts[p].key, l) == 0;
            if (!ok)
                return -1;
            q += l + (c ? 1 : 0);
        }
    }
    return n;
}

static int style_evaluate(dq_config_t *cfg, int argc, char **argv)
{
    (void)cfg;
    const char *train_dir = NULL, *test_dir = NULL, *label = "school", *parts = NULL;
    int json = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--train") == 0 && i + 1 < argc)
            train_dir = argv[++i];
        else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc)
            test_dir = argv[++i];
        else if (strcmp(argv[i], "--label") == 0 && i + 1 < argc)
            label = argv[++i];
        else if (strcmp(argv[i], "--parts") == 0 && i + 1 < argc)
            parts = argv[++i];
        else if (strcmp(argv[i], "--json") == 0)
            json = 1;
        else {
            fprintf(stderr, "danqing style evaluate: unknown argument '%s'\n", argv[i]);
            return 2;
        }
    }
    const dq_style_embedder_t *e = dq_style_default();
    int *cols = dq_xmalloc((size_t)e->dim * sizeof(int));
    int nc = part_columns(e, parts, cols);
    if (!train_dir || !test_dir || nc <= 0 ||
        (strcmp(label, "school") != 0 && strcmp(label, "dynasty") != 0)) {
        fprintf(stderr, "danqing style evaluate: --train DIR --test DIR [--label school|dynasty] "
                        "[--parts palette,ink,brushwork,composition]\n");
        free(cols);
        return 2;
    }
    dq_err_t err = {0};
    dq_catalog_t *ca = NULL, *cb = NULL;
    train_t A = {.label = label}, B = {.label = label};
    dq_style_model_t *m = NULL, *mfull = NULL;
    dq_style_cv_t cv = {0};
    float *XA = NULL, *XB = NULL;
    int *yb = NULL, *conf = NULL;
    dq_style_index_t *ix = NULL, *ix0 = NULL;
    if (!(ca = dq_catalog_open(train_dir, &err)) || !(cb = dq_catalog_open(test_dir, &err)) ||
        dq_catalog_style_works(ca, &cli_actor, collect_work, &A, &err) < 0 ||
        dq_catalog_style_works(cb, &cli_actor, collect_work, &B, &err) < 0)
        goto out;
    if (A.n_classes < 2 || B.n == 0 || A.dim != e->dim || B.dim != e->dim) {
        dq_err_set(&err, DQ_EINVAL, 0, "need labelled, indexed works in both catalogs (%d, %d)",
                   A.n, B.n);
        goto out;
    }
    /* Class ids of A in name order; B's labels mapped onto them (-1: unseen in training). */
    char **cls = dq_xmalloc((size_t)A.n_classes * sizeof(char *));
    memcpy(cls, A.classes, (size_t)A.n_classes * sizeof(char *));
    qsort(cls, (size_t)A.n_classes, sizeof(char *), cmp_str);
    int K = A.n_classes;
    int *ya = dq_xmalloc((size_t)A.n * sizeof(int));
    for (int i = 0; i < A.n; i++)
        for (int c = 0; c < K; c++)
            if (cls[c] == A.classes[A.y[i]])
                ya[i] = c;
    yb = dq_xmalloc((size_t)B.n * sizeof(int));
    for (int i = 0; i < B.n; i++) {
        yb[i] = -1;
        for (int c = 0; c < K; c++)
            if (strcmp(cls[c], B.classes[B.y[i]]) == 0)
                yb[i] = c;
    }
    XA = dq_xmalloc((size_t)A.n * nc * sizeof(float));
    XB = dq_xmalloc((size_t)B.n * nc * sizeof(float));
    for (int i = 0; i < A.n; i++)
        for (int j = 0; j < nc; j++)
            XA[(size_t)i * nc + j] = A.X[(size_t)i * e->dim + cols[j]];
    for (int i = 0; i < B.n; i++)
        for (int j = 0; j < nc; j++)
            XB[(size_t)i * nc + j] = B.X[(size_t)i * e->dim + cols[j]];
    int64_t t0 = dq_now_us();
    m = dq_style_model_fit(XA, A.n, nc, ya, K, (const char *const *)cls, 0, 5, 1, &cv, &err);
    if (!m) {
        free(cls);
        free(ya);
        goto out;
    }
    double fit_s = (double)(dq_now_us() - t0) / 1e6;
    conf = dq_xcalloc((size_t)K * K, sizeof(int));
    int right = 0, unseen = 0;
    double nll = 0, *p = dq_xmalloc((size_t)K * sizeof(double));
    for (int i = 0; i < B.n; i++) {
        dq_style_model_predict(m, XB + (size_t)i * nc, p);
        int best = 0;
        for (int c = 1; c < K; c++)
            if (p[c] > p[best])
                best = c;
        if (yb[i] < 0) {
            unseen++;
            continue;
        }
        conf[yb[i] * K + best]++;
        right += best == yb[i];
        nll -= log(p[yb[i]] + 1e-12);
    }
    free(p);
    int nt = B.n - unseen;
    double acc = nt ? (double)right / B.n : 0;
    nll = nt ? nll / nt : 0;
    /* Retrieval on the test set, with all parts: the hand-built index alone, and with the
     * metric learned on the training catalog (what the server uses). */
    double map = -1, map0 = -1;
    if (!parts) {
        mfull = m;
        ix0 = dq_style_index_build(e, B.X, B.n, NULL);
        ix = dq_style_index_build(e, B.X, B.n, m);
        map0 = mean_ap(ix0, yb, B.n);
        map = mean_ap(ix, yb, B.n);
    }
    if (json) {
        printf("{\"label\":\"%s\",\"parts\":\"%s\",\"dims\":%d,\"n_train\":%d,\"n_test\":%d,"
               "\"cv_accuracy\":%.4f,\"accuracy\":%.4f,\"test_nll\":%.4f,\"temperature\":%.4f,"
               "\"fit_s\":%.3f,\"map\":%.4f,\"map_unsupervised\":%.4f,\"classes\":[",
               label, parts ? parts : "all", nc, A.n, B.n, cv.accuracy, acc, nll,
               m->temperature, fit_s, map, map0);
        for (int c = 0; c < K; c++)
            printf("%s\"%s\"", c ? "," : "", cls[c]);
        printf("],\"confusion\":[");
        for (int a = 0; a < K; a++) {
            printf("%s[", a ? "," : "");
            for (int b = 0; b < K; b++)
                printf("%s%d", b ? "," : "", conf[a * K + b]);
            printf("]");
        }
        printf("]}\n");
    } else {
        printf("style evaluate --label %s (%s, %d floats): trained on %d works, tested on %d "
               "unseen works: accuracy %.3f (training CV %.3f), test log-loss %.3f\n",
               label, parts ? parts : "all parts", nc, A.n, B.n, acc, cv.accuracy, nll);
        if (map >= 0)
            printf("retrieval mAP (same %s) %.3f with the learned metric, %.3f without\n", label,
                   map, map0);
        printf("%16s", "");
        for (int b = 0; b < K; b++)
            printf(" %7.7s", cls[b]);
        printf("\n");
        for (int a = 0; a < K; a++) {
            printf("%16.16s", cls[a]);
            for (int b = 0; b < K; b++)
                printf(" %7d", conf[a * K + b]);
            printf("\n");
        }
    }
    free(cls);
    free(ya);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "danqing style evaluate: %s\n", err.msg);
    for (int c = 0; c < A.n_classes; c++)
        free(A.classes[c]);
    for (int c = 0; c < B.n_classes; c++)
        free(B.classes[c]);
    free(A.classes);
    free(B.classes);
    free(A.X);
    free(A.y);
    free(B.X);
    free(B.y);
    free(XA);
    free(XB);
    free(yb);
    free(conf);
    free(cols);
    (void)mfull;
    dq_style_model_free(m);
    dq_style_cv_free(&cv);
    dq_style_index_free(ix);
    dq_style_index_free(ix0);
    dq_catalog_close(ca);
    dq_catalog_close(cb);
    return rc;
}

int dq_cmd_style(dq_config_t *cfg, int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "index") == 0)
        return style_index(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "train") == 0)
        return style_train(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "classify") == 0)
        return style_classify(cfg, argc - 1, argv + 1);
    if (strcmp(argv[1], "evaluate") == 0)
        return style_evaluate(cfg, argc - 1, argv + 1);
    fprintf(stderr, "danqing style: unknown sub-command '%s' (index, train, classify, evaluate)\n", argv[1]);
    return 2;
}
