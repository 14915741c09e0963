/*
 * test_colour.c: core/colour.c, the sRGB -> CIE L*a*b* (D65) conversion the painter's change
 * truth and the change maps share (session 25: it was written three times). Reference values
 * are the published L*a*b* of the sRGB primaries and white (IEC 61966-2-1 matrix, D65
 * white 0.95047/1/1.08883; e.g. red 53.24/80.09/67.20); clipping; and that the 8-bit entry is
 * the linear one after the 8-bit decoding, bit for bit.
 */
#include "dq_test.h"

#include <math.h>
#include <string.h>

#include "core/colour.h"
#include "core/core.h"

static int near(double a, double b, double tol) { return fabs(a - b) <= tol; }

DQ_TEST(primaries_and_white_have_their_published_lab)
{
    static const struct {
        double rgb[3], lab[3];
    } ref[] = {
        {{255, 255, 255}, {100.00, 0.00, 0.00}}, {{0, 0, 0}, {0.00, 0.00, 0.00}},
        {{255, 0, 0}, {53.24, 80.09, 67.20}},    {{0, 255, 0}, {87.73, -86.18, 83.18}},
        {{0, 0, 255}, {32.30, 79.19, -107.86}},  {{128, 128, 128}, {53.59, 0.00, 0.00}},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(ref); i++) {
        double lab[3];
        dq_colour_srgb8_lab(ref[i].rgb, lab);
        for (int k = 0; k < 3; k++)
            DQ_CHECK(near(lab[k], ref[i].lab[k], 0.05)); /* 4-digit matrix */
    }
}

DQ_TEST(channels_are_clipped)
{
    double a[3], b[3];
    dq_colour_srgb8_lab((const double[3]){-40, 300, 128}, a);
    dq_colour_srgb8_lab((const double[3]){0, 255, 128}, b);
    DQ_CHECK(a[0] == b[0] && a[1] == b[1] && a[2] == b[2]);
    dq_colour_lin_lab((const double[3]){-0.5, 2.0, 0.25}, a);
    dq_colour_lin_lab((const double[3]){0, 1, 0.25}, b);
    DQ_CHECK(a[0] == b[0] && a[1] == b[1] && a[2] == b[2]);
}

DQ_TEST(eight_bit_entry_is_the_linear_one_bit_for_bit)
{
    for (int v = 0; v < 256; v += 5) {
        double rgb[3] = {v, 255 - v, (v * 7) % 256}, lin[3], a[3], b[3];
        for (int k = 0; k < 3; k++)
            lin[k] = dq_colour_srgb8_lin(rgb[k]);
        dq_colour_srgb8_lab(rgb, a);
        dq_colour_lin_lab(lin, b);
        DQ_CHECK(memcmp(a, b, sizeof(a)) == 0);
    }
    DQ_CHECK(dq_colour_srgb8_lin(0) == 0 && dq_colour_srgb8_lin(255) == 1);
    DQ_CHECK(near(dq_colour_srgb8_lin(10), 10 / 255.0 / 12.92, 1e-15)); /* the linear toe */
}
