/*
 * test_scene.c: the scene module (src/scene/, issue 14). The metrics on cases worked out by
 * hand; the estimator on a synthetic two-range landscape whose answer is known by
 * construction; and the estimator against `danqing generate`'s truth (src/paint/scene.c) on
 * two seeds, a handscroll and a hanging scroll each, with modest thresholds: depth must rank
 * like the truth and better than the height-only prior on the handscroll, and the masks must
 * overlap the truth clearly more than chance. Also the truth's own consistency: mist and
 * water are blank in the picture, foliage is inked.
 */
#include "dq_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "image/image.h"
#include "paint/paint.h"
#include "scene/scene.h"

/* ---------------------------------------------------------------- metrics */

DQ_TEST(rank_correlation_by_hand)
{
    const uint8_t a[] = {1, 2, 3, 4, 5}, b[] = {10, 20, 30, 40, 50}, r[] = {5, 4, 3, 2, 1};
    DQ_CHECK(fabs(dq_scene_rank_corr(a, b, NULL, 5) - 1.0) < 1e-12);
    DQ_CHECK(fabs(dq_scene_rank_corr(a, r, NULL, 5) + 1.0) < 1e-12);
    /* ties: ranks of {1,2,2,3} are {1, 2.5, 2.5, 4}; rho with {1,2,3,4} = 4.5/sqrt(4.5*5) */
    const uint8_t t[] = {1, 2, 2, 3}, u[] = {1, 2, 3, 4};
    DQ_CHECK(fabs(dq_scene_rank_corr(t, u, NULL, 4) - 4.5 / sqrt(22.5)) < 1e-12);
    const uint8_t k[] = {7, 7, 7, 7};
    DQ_CHECK(isnan(dq_scene_rank_corr(k, u, NULL, 4)));
    const uint8_t m[] = {255, 255, 0, 255, 255};
    const uint8_t c[] = {1, 2, 9, 3, 4};
    DQ_CHECK(fabs(dq_scene_rank_corr(a, c, m, 5) - 1.0) < 1e-12);
    DQ_CHECK(dq_scene_rank_corr(a, c, NULL, 5) < 0.9);
}

DQ_TEST(iou_by_hand)
{
    const uint8_t a[] = {255, 255, 0, 0}, b[] = {255, 0, 255, 0}, z[] = {0, 0, 0, 0};
    DQ_CHECK(fabs(dq_scene_iou(a, b, 4) - 1.0 / 3.0) < 1e-12);
    DQ_CHECK(fabs(dq_scene_iou(a, a, 4) - 1.0) < 1e-12);
    DQ_CHECK(isnan(dq_scene_iou(z, z, 4)));
    const uint8_t g[] = {128, 127, 0, 0};
    DQ_CHECK(fabs(dq_scene_iou(a, g, 4) - 0.5) < 1e-12);
}

DQ_TEST(names_and_bad_input)
{
    DQ_CHECK_STR(dq_scene_kind_name(DQ_SCENE_BOAT), "boat");
    DQ_CHECK_STR(dq_scene_kind_file(DQ_SCENE_FIGURE), "figures.png");
    DQ_CHECK_INT(dq_scene_kind_parse("water"), DQ_SCENE_WATER);
    DQ_CHECK_INT(dq_scene_kind_parse("sky"), -1);
    DQ_CHECK_INT(dq_scene_method_parse("prior"), DQ_SCENE_METHOD_PRIOR);
    DQ_CHECK_INT(dq_scene_method_parse("magic"), -1);
    uint8_t px[8 * 8 * 3] = {0};
    dq_scene_layers_t l = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_scene_estimate(px, 8, 8, 3, 0, &l, &err) < 0);
    DQ_CHECK_INT(err.http_status, 400);
    DQ_CHECK(dq_scene_estimate(px, 16, 16, 2, 0, &l, &err) < 0);
    DQ_CHECK(dq_scene_estimate(px, 16, 16, 3, 9, &l, &err) < 0);
    DQ_CHECK(l.plane[0] == NULL);
    uint8_t s[] = {1, 2, 3, 4};
    uint8_t *r = dq_scene_resample(s, 2, 2, 4, 4);
    DQ_CHECK_INT(r[0], 1);
    DQ_CHECK_INT(r[3], 2);
    DQ_CHECK_INT(r[15], 4);
    free(r);
}

/* ---------------------------------------------------------------- a synthetic landscape */

/* Paper (grey 235), a pale far range with its ridge at 30% of the height, a dark near range
 * with its ridge at 60%, each washed darkest under the ridge and fading downwards, and a blank
 * band at the bottom. */
static uint8_t *two_ranges(int w, int h)
{
    uint8_t *px = dq_xmalloc((size_t)w * (size_t)h);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            float v = (float)y / (float)h, u = (float)x / (float)w;
            float far_r = 0.30f + 0.05f * sinf(u * 6.0f), near_r = 0.60f + 0.04f * cosf(u * 5.0f);
            float ink = 0;
            if (v >= far_r)
                ink = 0.35f * expf(-(v - far_r) / 0.08f);
            if (v >= near_r)
                ink = 0.8f * expf(-(v - near_r) / 0.06f);
            px[(size_t)y * (size_t)w + (size_t)x] = (uint8_t)lroundf(235.0f * (1.0f - ink));
        }
    return px;
}

DQ_TEST(synthetic_ranges_are_ordered)
{
    int w = 600, h = 200;
    uint8_t *px = two_ranges(w, h);
    dq_scene_layers_t l = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_scene_estimate(px, w, h, 1, DQ_SCENE_METHOD_STRUCTURE, &l, &err) == 0);
    const uint8_t *d = l.plane[DQ_SCENE_DEPTH];
    int x = w / 2;
    /* the sky, the far range (just under its ridge), the near range (just under its ridge) */
    uint8_t sky = d[(size_t)(h / 10) * (size_t)w + (size_t)x];
    uint8_t far = d[(size_t)(0.40f * (float)h) * (size_t)w + (size_t)x];
    uint8_t near = d[(size_t)(0.66f * (float)h) * (size_t)w + (size_t)x];
    DQ_CHECK(sky > far);
    DQ_CHECK(far > near);
    /* the blank foot of the near range near the bottom is water, not mist; the sky neither */
    size_t bottom = (size_t)(0.93f * (float)h) * (size_t)w + (size_t)x;
    DQ_CHECK_INT(l.plane[DQ_SCENE_WATER][bottom], 255);
    DQ_CHECK_INT(l.plane[DQ_SCENE_MIST][bottom], 0);
    DQ_CHECK_INT(l.plane[DQ_SCENE_MIST][(size_t)(h / 10) * (size_t)w + (size_t)x], 0);
    dq_scene_layers_free(&l);
    dq_scene_layers_free(&l); /* twice is harmless */
    free(px);
}

/* ---------------------------------------------------------------- against the generator */

static const char *root(void)
{
    const char *r = getenv("DQ_ROOT");
    return r ? r : ".";
}

typedef struct {
    double rho, rho_prior, iou_mist, iou_water, iou_foliage;
} result_t;

/* Loads DIR/name (grey) resampled to w x h. */
static uint8_t *load_at(const char *dir, const char *name, int w, int h)
{
    char *p = dq_xasprintf("%s/%s", dir, name);
    dq_raster_t in;
    dq_err_t err = {0};
    if (dq_raster_load_fit(p, 1, w, h, &in, &err) < 0)
        fprintf(stderr, "    %s: %s\n", p, err.msg);
    DQ_REQUIRE(in.px);
    free(p);
    uint8_t *r = dq_scene_resample(in.px, in.w, in.h, w, h);
    dq_raster_free(&in);
    return r;
}

static result_t paint_and_score(uint64_t seed, const char *id, double scale)
{
    char *out = dq_test_tmpdir("scene_truth");
    char *pig = dq_xasprintf("%s/data-src/pigments", root());
    dq_paint_opts_t o = {
        .out_dir = out, .pigments_dir = pig, .seed = seed, .scale = scale, .only = id, .quiet = 1};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_paint_collection(&o, &err) == 0);
    char *main_tif = dq_xasprintf("%s/%s/main.tif", out, id);
    char *tdir = dq_xasprintf("%s/%s/truth/scene", out, id);
    dq_raster_t pic;
    DQ_REQUIRE(dq_raster_load_fit(main_tif, 3, 400 * 40, 400, &pic, &err) == 0);
    int w = pic.w, h = pic.h;
    uint8_t *px = pic.px;
    dq_scene_layers_t s = {0}, p = {0};
    DQ_REQUIRE(dq_scene_estimate(px, w, h, 3, DQ_SCENE_METHOD_STRUCTURE, &s, &err) == 0);
    DQ_REQUIRE(dq_scene_estimate(px, w, h, 3, DQ_SCENE_METHOD_PRIOR, &p, &err) == 0);
    size_t n = (size_t)w * (size_t)h;
    uint8_t *depth = load_at(tdir, "depth.png", w, h), *mist = load_at(tdir, "mist.png", w, h),
            *water = load_at(tdir, "water.png", w, h), *fol = load_at(tdir, "foliage.png", w, h);
    result_t r = {
        .rho = dq_scene_rank_corr(depth, s.plane[DQ_SCENE_DEPTH], NULL, n),
        .rho_prior = dq_scene_rank_corr(depth, p.plane[DQ_SCENE_DEPTH], NULL, n),
        .iou_mist = dq_scene_iou(mist, s.plane[DQ_SCENE_MIST], n),
        .iou_water = dq_scene_iou(water, s.plane[DQ_SCENE_WATER], n),
        .iou_foliage = dq_scene_iou(fol, s.plane[DQ_SCENE_FOLIAGE], n),
    };
    /* The truth agrees with the picture: mist and water are nearly blank, foliage inked. */
    double ink[3] = {0}, cnt[3] = {0};
    const uint8_t *masks[3] = {mist, water, fol};
    for (size_t i = 0; i < n; i++) {
        double lum = (0.2126 * px[3 * i] + 0.7152 * px[3 * i + 1] + 0.0722 * px[3 * i + 2]);
        for (int k = 0; k < 3; k++)
            if (masks[k][i] >= 128) {
                ink[k] += lum;
                cnt[k]++;
            }
    }
    DQ_CHECK(cnt[0] > 0 && cnt[1] > 0 && cnt[2] > 0);
    DQ_CHECK(ink[2] / cnt[2] < ink[0] / cnt[0] - 20.0); /* foliage darker than mist */
    DQ_CHECK(ink[2] / cnt[2] < ink[1] / cnt[1] - 20.0); /* and than water */
    fprintf(stderr,
            "    %s seed %llu %dx%d: rho %.3f (prior %.3f), IoU mist %.3f water %.3f "
            "foliage %.3f\n",
            id, (unsigned long long)seed, w, h, r.rho, r.rho_prior, r.iou_mist, r.iou_water,
            r.iou_foliage);
    free(depth);
    free(mist);
    free(water);
    free(fol);
    dq_scene_layers_free(&s);
    dq_scene_layers_free(&p);
    free(px);
    free(tdir);
    free(main_tif);
    free(pig);
    dq_test_rm_rf(out);
    free(out);
    return r;
}

static void start_vips(void)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test_scene", 64, 2, &err) == 0);
}

DQ_TEST(estimate_against_truth_handscroll_two_seeds)
{
    start_vips();
    for (uint64_t seed = 1; seed <= 2; seed++) {
        result_t r = paint_and_score(seed, "DQ-2026-0002", 0.25);
        DQ_CHECK(r.rho > 0.7);
        DQ_CHECK(r.rho > r.rho_prior + 0.05);
        DQ_CHECK(r.iou_mist > 0.15);
        DQ_CHECK(r.iou_water > 0.2);
        DQ_CHECK(r.iou_foliage > 0.15);
    }
}

DQ_TEST(estimate_against_truth_hanging_scroll_two_seeds)
{
    start_vips();
    for (uint64_t seed = 1; seed <= 2; seed++) {
        result_t r = paint_and_score(seed, "DQ-2026-0005", 0.25);
        DQ_CHECK(r.rho > 0.7);
        DQ_CHECK(r.iou_mist > 0.15);
        DQ_CHECK(r.iou_water > 0.15);
    }
}
