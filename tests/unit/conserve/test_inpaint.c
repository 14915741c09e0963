/*
 * test_inpaint.c: virtual restoration (src/conserve/inpaint.c). The structure layer is the
 * harmonic fill, so a linear ramp with a hole comes back as the ramp; pixels outside the mask
 * never change; a periodic texture (a woven support) is continued into a hole better than
 * the smooth fill alone would; mismatched sizes are refused.
 */
#include <math.h>

#include "conserve_fixture.h"

DQ_TEST(inpaint_restores_a_ramp_and_keeps_the_rest)
{
    enum { W = 64, H = 48 };
    dq_raster_t im = {W, H, 3, dq_xmalloc(W * H * 3)};
    uint8_t *mask = dq_xcalloc(W * H, 1), *orig = dq_xmalloc(W * H * 3);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            for (int c = 0; c < 3; c++)
                im.px[(y * W + x) * 3 + c] = (uint8_t)(40 + 2 * x + y + 10 * c);
    memcpy(orig, im.px, W * H * 3);
    for (int y = 20; y < 30; y++)
        for (int x = 25; x < 40; x++) {
            mask[y * W + x] = 255;
            memset(im.px + (y * W + x) * 3, 250, 3); /* a loss: lining colour */
        }
    dq_conserve_inpaint_stats_t st;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_conserve_inpaint(&im, mask, W, H, &st, &err) == 0);
    DQ_CHECK_INT((int)st.n_masked, 150);
    DQ_CHECK_INT(st.n_regions, 1);
    int worst = 0, changed_outside = 0;
    for (int i = 0; i < W * H * 3; i++) {
        int d = abs(im.px[i] - orig[i]);
        if (mask[i / 3])
            worst = d > worst ? d : worst;
        else
            changed_outside |= d != 0;
    }
    DQ_CHECK(worst <= 1); /* a ramp is harmonic: the fill is exact up to rounding */
    DQ_CHECK(!changed_outside);
    dq_raster_free(&im);
    free(mask);
    free(orig);
}

DQ_TEST(inpaint_continues_a_weave)
{
    /* A plain weave of period 4 on a flat tone; a 6x6 hole. */
    enum { W = 80, H = 80 };
    dq_raster_t im = {W, H, 1, dq_xmalloc(W * H)};
    uint8_t *mask = dq_xcalloc(W * H, 1), *orig = dq_xmalloc(W * H);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            im.px[y * W + x] = (uint8_t)(128 + (((x / 2) + (y / 2)) % 2 ? 12 : -12));
    memcpy(orig, im.px, W * H);
    for (int y = 37; y < 43; y++)
        for (int x = 37; x < 43; x++) {
            mask[y * W + x] = 255;
            im.px[y * W + x] = 255;
        }
    dq_conserve_inpaint_stats_t st;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_conserve_inpaint(&im, mask, W, H, &st, &err) == 0);
    DQ_CHECK_INT(st.n_textured, 1);
    double se = 0;
    for (int i = 0; i < W * H; i++)
        if (mask[i])
            se += (im.px[i] - orig[i]) * (double)(im.px[i] - orig[i]);
    /* The smooth fill alone would be ~128 everywhere: an RMS error of 12. */
    DQ_CHECK(sqrt(se / 36) < 4);
    dq_raster_free(&im);
    free(mask);
    free(orig);
}

DQ_TEST(inpaint_refuses_a_mask_of_another_size)
{
    dq_raster_t im = {10, 10, 3, dq_xcalloc(300, 1)};
    uint8_t mask[90] = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_conserve_inpaint(&im, mask, 9, 10, NULL, &err) == -1);
    DQ_CHECK_INT(err.code, DQ_EINVAL);
    dq_raster_free(&im);
}
