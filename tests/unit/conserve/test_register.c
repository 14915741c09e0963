/*
 * test_register.c: registration of condition captures (src/conserve/register.c) against the
 * generator's ground truth. On two seeds the 2026 capture (camera rotated, scaled and shifted,
 * other exposure and white balance, new damage) must be found within 0.2 px at the image
 * corners, as the simplest model; an unrelated pair and inputs too small must be refused.
 */
#include <math.h>

#include "conserve_fixture.h"

static void check_seed(const char *work, uint64_t seed)
{
    fx_start_vips();
    char *truth = fx_paint(work, seed);
    dq_raster_t ref = {0}, mov = {0};
    fx_load(truth, "condition_2016.jpg", 3, &ref);
    fx_load(truth, "condition_2026.jpg", 3, &mov);
    double tm[3][3];
    fx_true_matrix(truth, tm);
    dq_conserve_reg_t reg;
    dq_err_t err = {0};
    int rc = dq_conserve_register(&ref, &mov, &reg, &err);
    if (rc < 0)
        fprintf(stderr, "    register: %s\n", err.msg);
    DQ_REQUIRE(rc == 0);
    double e = fx_corner_error(reg.m, tm, ref.w, ref.h);
    fprintf(stderr, "    %s seed %llu: %s, corner error %.3f px, residual %.3f px\n", work,
            (unsigned long long)seed, dq_conserve_model_name(reg.model), e, reg.residual_px);
    DQ_CHECK(e <= 0.2);
    /* The truth is a similarity; a richer model would only fit noise. */
    DQ_CHECK_INT(reg.model, DQ_CONSERVE_SIMILARITY);
    DQ_CHECK(reg.ncc > 0.9);
    DQ_CHECK(reg.residual_px < 0.5);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    free(truth);
}

DQ_TEST(register_album_leaf_seed_7) { check_seed("DQ-2026-0009", 7); }

DQ_TEST(register_angler_seed_11) { check_seed("DQ-2026-0012", 11); }

DQ_TEST(register_refuses_unrelated_pair)
{
    fx_start_vips();
    char *a = fx_paint("DQ-2026-0009", 7), *b = fx_paint("DQ-2026-0010", 7);
    dq_raster_t ref = {0}, mov = {0};
    fx_load(a, "condition_2016.jpg", 3, &ref);
    fx_load(b, "condition_2026.jpg", 3, &mov);
    dq_conserve_reg_t reg;
    dq_err_t err = {0};
    DQ_CHECK(dq_conserve_register(&ref, &mov, &reg, &err) == -1);
    DQ_CHECK_INT(err.code, DQ_EINVAL);
    DQ_CHECK(strstr(err.msg, "cannot align") != NULL);
    dq_raster_free(&ref);
    dq_raster_free(&mov);
    free(a);
    free(b);
}

DQ_TEST(register_rejects_tiny_and_flat_input)
{
    uint8_t px[16 * 16 * 3];
    memset(px, 128, sizeof(px));
    dq_raster_t tiny = {16, 16, 3, px};
    dq_conserve_reg_t reg;
    dq_err_t err = {0};
    DQ_CHECK(dq_conserve_register(&tiny, &tiny, &reg, &err) == -1);
    DQ_CHECK_INT(err.code, DQ_EINVAL);
    /* A blank sheet has no features: refused, not "aligned" at identity. */
    dq_raster_t flat = {.w = 200, .h = 200, .bands = 3, .px = dq_xmalloc(200 * 200 * 3)};
    memset(flat.px, 200, 200 * 200 * 3);
    err = (dq_err_t){0};
    DQ_CHECK(dq_conserve_register(&flat, &flat, &reg, &err) == -1);
    DQ_CHECK(strstr(err.msg, "cannot align") != NULL);
    dq_raster_free(&flat);
}

DQ_TEST(map_and_warp_follow_the_matrix)
{
    /* A shift by (+2, +1): REF pixel (x, y) shows MOVING pixel (x + 2, y + 1). */
    dq_raster_t mov = {.w = 8, .h = 6, .bands = 1, .px = dq_xmalloc(48)};
    for (int i = 0; i < 48; i++)
        mov.px[i] = (uint8_t)(i * 5);
    double m[3][3] = {{1, 0, 2}, {0, 1, 1}, {0, 0, 1}};
    double x, y;
    dq_conserve_map(m, 3, 4, &x, &y);
    DQ_CHECK(fabs(x - 5) < 1e-12 && fabs(y - 5) < 1e-12);
    dq_raster_t out;
    uint8_t *valid = NULL;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_conserve_warp(&mov, m, 8, 6, &out, &valid, &err) == 0);
    DQ_CHECK_INT(out.px[1 * 8 + 2], mov.px[2 * 8 + 4]);
    DQ_CHECK_INT(valid[1 * 8 + 2], 255);
    DQ_CHECK_INT(valid[0 * 8 + 7], 0); /* (9, 1) is outside */
    dq_raster_free(&out);
    free(valid);
    dq_raster_free(&mov);
}
