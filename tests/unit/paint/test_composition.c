/*
 * test_composition.c: the composition overlays of `danqing generate` (issue 17). Every work
 * gets composition.json; its regions lie inside the canvas and name entries of the starter
 * glossary; landscapes have a host mountain, the hanging scrolls built in the three distances
 * have high and deep distance around it, handscrolls the level distance; every seal, every
 * inscription and every bird the painter drew is there, and each bird region holds the
 * perch the truth records; --composition-only writes the same file without painting and
 * touches nothing else, twice the same bytes.
 */
#define _GNU_SOURCE
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "dq_test.h"
#include "image/image.h"
#include "paint/paint.h"

static const char *root(void)
{
    const char *r = getenv("DQ_ROOT");
    return r ? r : ".";
}

static char *run(const char *only, double scale, int composition_only, int no_truth)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_composition", 64, 2, &err) == 0);
    char *dir = dq_test_tmpdir("dq_comp");
    char *pig = dq_xasprintf("%s/data-src/pigments", root());
    dq_paint_opts_t o = {.out_dir = dir, .pigments_dir = pig, .seed = 3, .scale = scale,
                         .only = only, .quiet = 1, .no_truth = no_truth,
                         .composition_only = composition_only};
    int rc = dq_paint_collection(&o, &err);
    if (rc < 0)
        fprintf(stderr, "    paint: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    free(pig);
    return dir;
}

static json_t *load(const char *dir, const char *work, const char *file)
{
    char *p = dq_xasprintf("%s/%s/%s", dir, work, file);
    json_t *j = json_load_file(p, 0, NULL);
    if (!j)
        fprintf(stderr, "    cannot read %s\n", p);
    free(p);
    DQ_REQUIRE(j);
    return j;
}

static int count(const json_t *regions, const char *key)
{
    int n = 0;
    size_t i;
    json_t *r;
    json_array_foreach(regions, i, r) n +=
        strcmp(json_string_value(json_object_get(r, "glossary")), key) == 0;
    return n;
}

static const json_t *first(const json_t *regions, const char *key)
{
    size_t i;
    json_t *r;
    json_array_foreach(regions, i, r) if (strcmp(json_string_value(json_object_get(r, "glossary")),
                                                 key) == 0) return r;
    return NULL;
}

static int xywh(const json_t *r, int k)
{
    return (int)json_integer_value(json_array_get(json_object_get(r, "xywh"), (size_t)k));
}

DQ_TEST(every_work_every_region_valid)
{
    char *dir = run(NULL, 1.0, 1, 0);
    char *gp = dq_xasprintf("%s/data-src/glossary/starter.json", root());
    json_t *gloss = json_load_file(gp, 0, NULL);
    DQ_REQUIRE(json_is_array(gloss));
    for (int w = 1; w <= dq_paint_n_works; w++) {
        char id[32];
        snprintf(id, sizeof(id), "DQ-2026-%04d", w);
        const dq_paint_work_t *wk = &dq_paint_works[w - 1];
        json_t *c = load(dir, id, "composition.json");
        int W = (int)json_integer_value(json_object_get(c, "width"));
        int H = (int)json_integer_value(json_object_get(c, "height"));
        DQ_CHECK(W == wk->width && H == wk->height);
        json_t *regions = json_object_get(c, "regions");
        size_t i;
        json_t *r;
        json_array_foreach(regions, i, r)
        {
            DQ_CHECK(xywh(r, 0) >= 0 && xywh(r, 1) >= 0 && xywh(r, 2) >= 4 && xywh(r, 3) >= 4);
            DQ_CHECK(xywh(r, 0) + xywh(r, 2) <= W && xywh(r, 1) + xywh(r, 3) <= H);
            const char *key = json_string_value(json_object_get(r, "glossary"));
            int known = 0;
            size_t k;
            json_t *e;
            json_array_foreach(gloss, k, e) known |=
                strcmp(json_string_value(json_object_get(e, "key")), key) == 0;
            if (!known)
                fprintf(stderr, "    %s: glossary key %s is not in the starter glossary\n", id,
                        key);
            DQ_CHECK(known);
            const json_t *t = json_object_get(r, "text");
            DQ_CHECK(json_string_length(json_object_get(t, "zh")) > 0 &&
                     json_string_length(json_object_get(t, "en")) > 0);
        }
        /* marks: the painter signs and seals every work */
        DQ_CHECK(count(regions, "seal") >= 1);
        DQ_CHECK(count(regions, "inscription") >= 1);
        if (wk->format == DQ_FMT_HANDSCROLL)
            DQ_CHECK(count(regions, "colophon") == 1 && count(regions, "seal") == 4);
        if (strcmp(wk->subject, "landscape") == 0) {
            DQ_CHECK(count(regions, "host-and-guest") >= 2);
            if (wk->format == DQ_FMT_HANGING) {
                const json_t *hi = first(regions, "high-distance"),
                             *de = first(regions, "deep-distance");
                DQ_CHECK(hi && de);
                /* high distance rises above deep distance; it starts at the host's summit */
                if (hi && de)
                    DQ_CHECK(xywh(hi, 1) < xywh(de, 1) && xywh(hi, 1) < H / 3);
            }
            if (wk->format == DQ_FMT_HANDSCROLL)
                DQ_CHECK(count(regions, "level-distance") == 1);
        } else {
            DQ_CHECK(first(regions, "high-distance") == NULL);
        }
        if (strcmp(wk->subject, "bird_and_flower") == 0) {
            DQ_CHECK(count(regions, "plum") == 1);
            /* a bird perched on the branch beyond the edge is not in the picture */
            DQ_CHECK(count(regions, "bird-and-flower") <= wk->n_birds);
        }
        json_decref(c);
    }
    json_decref(gloss);
    free(gp);
    free(dir);
}

DQ_TEST(birds_where_the_truth_perches_them)
{
    /* a small album leaf with birds, painted with its truth (scale 0.25: truth = master) */
    int idx = -1;
    for (int i = 0; i < dq_paint_n_works && idx < 0; i++)
        if (dq_paint_works[i].n_birds >= 2)
            idx = i;
    DQ_REQUIRE(idx >= 0);
    char id[32];
    snprintf(id, sizeof(id), "DQ-2026-%04d", idx + 1);
    char *dir = run(id, 0.25, 0, 0);
    json_t *c = load(dir, id, "composition.json");
    json_t *t = load(dir, id, "truth/truth.json");
    DQ_CHECK_INT(json_integer_value(json_object_get(t, "downsample")), 1);
    json_t *birds = json_object_get(t, "birds_px"), *regions = json_object_get(c, "regions");
    DQ_CHECK(json_array_size(birds) >= 2);
    int W = (int)json_integer_value(json_object_get(c, "width")),
        H = (int)json_integer_value(json_object_get(c, "height")), shown = 0;
    size_t i;
    json_t *b;
    json_array_foreach(birds, i, b)
    {
        int x = (int)json_integer_value(json_array_get(b, 0)),
            y = (int)json_integer_value(json_array_get(b, 1)), inside = 0;
        if (x < 0 || y < 0 || x >= W || y >= H)
            continue; /* perched beyond the edge of the picture */
        shown++;
        size_t k;
        json_t *r;
        json_array_foreach(regions, k, r)
        {
            if (strcmp(json_string_value(json_object_get(r, "glossary")), "bird-and-flower"))
                continue;
            inside |= x >= xywh(r, 0) - 2 && x <= xywh(r, 0) + xywh(r, 2) + 2 &&
                       y >= xywh(r, 1) - 2 && y <= xywh(r, 1) + xywh(r, 3) + 2;
        }
        if (!inside)
            fprintf(stderr, "    perch (%d, %d) is in no bird region\n", x, y);
        DQ_CHECK(inside);
    }
    DQ_CHECK(shown >= 1);
    DQ_CHECK(count(regions, "bird-and-flower") >= shown);
    json_decref(t);
    /* --composition-only computes the same file from the scene alone, and writes nothing else */
    char *dir2 = run(id, 0.25, 1, 0);
    json_t *c2 = load(dir2, id, "composition.json");
    DQ_CHECK(json_equal(c, c2));
    char *mt = dq_xasprintf("%s/%s/main.tif", dir2, id), *md = dq_xasprintf("%s/metadata.jsonl",
                                                                           dir2);
    DQ_CHECK(!dq_fs_exists(mt) && !dq_fs_exists(md));
    free(mt);
    free(md);
    json_decref(c2);
    json_decref(c);
    free(dir);
    free(dir2);
}
