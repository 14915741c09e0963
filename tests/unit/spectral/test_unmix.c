/*
 * test_unmix.c: pigment over pigment in dq_spec_pigments (src/spectral/unmix.c) on small
 * synthetic stacks made from the library's own spectra by the linear (area) mixing that the
 * painter uses: bare support, pure azurite and pure malachite washes, glazes of one over the
 * other in both orders, ink. The model must name both pigments of a glaze, the larger share
 * first, keep pure pixels one-pigment, and not answer with a library look-alike of the mixture
 * (verdigris, blue verditer). A stack with one pigment only must get no pairs at all.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dq_test.h"
#include "spectral/spectral.h"
#include "spectral_lib.h"

#define W 200
#define H 100

/* What one column of the test image holds: shares of the two pigments and of ink; the rest
 * is support. */
typedef struct {
    double a1, a2, ink;
} mix_t;

/* Deterministic noise, uniform with standard deviation sigma (an LCG: no global state). */
static double noise(uint64_t *s, double sigma)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    double u = (double)(*s >> 11) / 9007199254740992.0;
    return (2 * u - 1) * sqrt(3.0) * sigma;
}

/* Paints W x H: column x gets mix(x); P1 and P2 are library entries. */
static float **paint(const dq_spec_lib_t *lib, int p1, int p2, mix_t (*mix)(int x), double sigma)
{
    /* An aged paper: yellowish (darker in the blue), bright into the NIR; the brightest
     * thing in the picture, as the support endmember expects. */
    static const double S[6] = {0.62, 0.75, 0.80, 0.83, 0.85, 0.86};
    float **planes = dq_xcalloc(6, sizeof(float *));
    uint64_t seed = 12345;
    for (int b = 0; b < 6; b++)
        planes[b] = dq_xmalloc((size_t)W * H * sizeof(float));
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            mix_t m = mix(x);
            double as = 1 - m.a1 - m.a2 - m.ink;
            for (int b = 0; b < 6; b++) {
                double r = as * S[b] + m.a1 * lib->refl[(size_t)p1 * 6 + b] +
                           m.a2 * lib->refl[(size_t)p2 * 6 + b] + m.ink * lib->ink[b];
                planes[b][(size_t)y * W + x] = (float)(r + noise(&seed, sigma));
            }
        }
    return planes;
}

static void planes_free(float **p)
{
    for (int b = 0; b < 6; b++)
        free(p[b]);
    free(p);
}

/* Support half, pure P1, pure P2, P1 glazed over by P2 (P2 larger), P2 under P1 (P1
 * larger), ink. */
static mix_t glazes(int x)
{
    if (x < 100)
        return (mix_t){0, 0, 0};
    if (x < 120)
        return (mix_t){0.8, 0, 0};
    if (x < 140)
        return (mix_t){0, 0.8, 0};
    if (x < 160)
        return (mix_t){0.25, 0.45, 0};
    if (x < 180)
        return (mix_t){0.5, 0.2, 0};
    return (mix_t){0, 0, 0.8};
}

static void family(const dq_spec_lib_t *lib, int k, char *out)
{
    dq_spec_family(lib->names[k], out, DQ_SPEC_NAME);
}

/* Counts over columns x0..x1 of the map: pixels labelled with family f1 (best) and, when f2
 * is not NULL, with f2 as best2; or with no second pigment when f2 is NULL. */
static double share_right(const dq_spec_lib_t *lib, const dq_spec_map_t *map, int x0, int x1,
                          const char *f1, const char *f2)
{
    int ok = 0, n = 0;
    for (int y = 0; y < H; y++)
        for (int x = x0; x < x1; x++) {
            size_t i = (size_t)y * W + x;
            n++;
            if (map->label[i] < DQ_SPEC_LABEL_PIGMENT0)
                continue;
            char a[DQ_SPEC_NAME], b[DQ_SPEC_NAME] = "";
            family(lib, map->best[i], a);
            if (map->best2[i] >= 0)
                family(lib, map->best2[i], b);
            ok += strcmp(a, f1) == 0 && (f2 ? strcmp(b, f2) == 0 : map->best2[i] < 0);
        }
    return (double)ok / n;
}

static void glaze_case(const char *n1, const char *n2, double sigma)
{
    dq_spec_lib_t lib;
    load_lib(&lib);
    int p1 = entry(&lib, n1), p2 = entry(&lib, n2);
    char f1[DQ_SPEC_NAME], f2[DQ_SPEC_NAME];
    family(&lib, p1, f1);
    family(&lib, p2, f2);
    float **planes = paint(&lib, p1, p2, glazes, sigma);
    dq_spec_map_t map;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_spec_pigments((const float *const *)planes, W, H, &lib, 0.3, NULL, NULL, &map,
                                &err) == 0);
    double sup = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < 100; x++)
            sup += map.label[(size_t)y * W + x] == DQ_SPEC_LABEL_SUPPORT;
    sup /= 100.0 * H;
    double pure1 = share_right(&lib, &map, 100, 120, f1, NULL);
    double pure2 = share_right(&lib, &map, 120, 140, f2, NULL);
    double over = share_right(&lib, &map, 140, 160, f2, f1);
    double under = share_right(&lib, &map, 160, 180, f1, f2);
    int ink = 0;
    for (int y = 0; y < H; y++)
        for (int x = 180; x < W; x++)
            ink += map.label[(size_t)y * W + x] == DQ_SPEC_LABEL_INK;
    fprintf(stderr,
            "    %s / %s, noise %.3f: support %.3f, pure %.3f %.3f, glazes %.3f %.3f, ink %d\n", f1,
            f2, sigma, sup, pure1, pure2, over, under, ink);
    DQ_CHECK(sup >= 0.99);
    DQ_CHECK(pure1 >= 0.98);
    DQ_CHECK(pure2 >= 0.98);
    DQ_CHECK(over >= 0.95);
    DQ_CHECK(under >= 0.95);
    DQ_CHECK_INT(ink, 20 * H);
    dq_spec_map_free(&map);
    planes_free(planes);
    dq_spec_lib_free(&lib);
}

/* Malachite over azurite and the reverse (the blue-green painters' glazes), without noise
 * but for 16-bit rounding and with the noise of a raw capture. */
DQ_TEST(glaze_recovers_both_pigments)
{
    glaze_case("azurite_natural_standard_sh4", "malachite_natural_xfine_sh3", 0.0005);
    glaze_case("azurite_natural_standard_sh4", "malachite_natural_xfine_sh3", 0.003);
}

/* Another pair of other hues: red and blue. */
DQ_TEST(glaze_other_pigments)
{
    glaze_case("cinnabar_fine_sh4", "indigo_genuine_sh3", 0.002);
}

static mix_t one_pigment(int x)
{
    if (x < 100)
        return (mix_t){0, 0, 0};
    if (x < 190)
        return (mix_t){0.4 + 0.5 * (x - 100) / 90.0, 0, 0};
    return (mix_t){0, 0, 0.8};
}

/* One pigment at many coverages: the pair models must never be chosen (nothing to pair it
 * with in the scene, and noise is not a second pigment). */
DQ_TEST(pure_pixels_stay_one_pigment)
{
    dq_spec_lib_t lib;
    load_lib(&lib);
    int p = entry(&lib, "malachite_natural_xfine_sh3");
    float **planes = paint(&lib, p, p, one_pigment, 0.003);
    dq_spec_map_t map;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_spec_pigments((const float *const *)planes, W, H, &lib, 0.3, NULL, NULL, &map,
                                &err) == 0);
    int pairs = 0, right = 0, n = 0;
    for (int y = 0; y < H; y++)
        for (int x = 100; x < 190; x++) {
            size_t i = (size_t)y * W + x;
            pairs += map.best2[i] >= 0;
            if (map.best2[i] >= 0 && pairs < 4)
                fprintf(stderr, "    pair at x %d: %s + %s\n", x, lib.names[map.best[i]],
                        lib.names[map.best2[i]]);
            char f[DQ_SPEC_NAME];
            family(&lib, map.best[i], f);
            /* Malachite of either mine of the library (near-duplicate spectra). */
            right += map.label[i] >= DQ_SPEC_LABEL_PIGMENT0 && strncmp(f, "malachite", 9) == 0;
            n++;
        }
    fprintf(stderr, "    pure malachite: %d of %d right, %d pairs\n", right, n, pairs);
    DQ_CHECK_INT(pairs, 0);
    DQ_CHECK((double)right / n >= 0.95);
    dq_spec_map_free(&map);
    planes_free(planes);
    dq_spec_lib_free(&lib);
}
