/*
 * test_unmix.c: pigment over pigment in dq_spec_pigments (src/spectral/unmix.c) on small
 * synthetic stacks made from the library's own spectra by the linear (area) mixing that the
 * painter uses: bare support, pure azurite and pure malachite washes, glazes of one over the
 * other in both orders, ink. The model must name both pigments of a glaze, the larger share
 * first, keep pure pixels one-pigment, and not answer with a library look-alike of the mixture
 * (verdigris, blue verditer). A stack with one pigment only must get no pairs at all. An aged
 * sheet whose tone varies (mottled, yellower and darker at the edges) must stay support, while
 * thin washes on it (yellow on the middle and on a toned edge, green, lead white) stay pigment.
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

/* An aged sheet of tone t: a bright base that darkens and loses blue with age (a different
 * curve from the generator's), times the sheet's texture. */
static double toned(int b, double t, double tex)
{
    static const double base[6] = {0.74, 0.78, 0.81, 0.84, 0.86, 0.87};
    static const double blue[6] = {1.0, 0.5, 0.12, 0.02, 0, 0};
    return tex * base[b] * (1 - 0.2 * t) * (1 - (0.1 + 0.7 * t) * blue[b]);
}

/* Distance in pixels to the nearest border. */
static int edge_dist(int x, int y)
{
    int d = x < W - 1 - x ? x : W - 1 - x, e = y < H - 1 - y ? y : H - 1 - y;
    return d < e ? d : e;
}

/* The regions of tone_case's picture: 0 bare, 1 a thin orpiment wash in the middle, 2 the
 * same wash over the toned top edge, 3 malachite with a little ink, 4 lead white, 5 ink. */
static int region(int x, int y)
{
    if (x >= 40 && x < 70 && y >= 30 && y < 70)
        return 1;
    if (x >= 90 && x < 120 && y < 10)
        return 2;
    if (x >= 130 && x < 150 && y >= 30 && y < 70)
        return 3;
    if (x >= 160 && x < 170 && y >= 30 && y < 70)
        return 4;
    if (x >= 180 && x < 186 && y >= 30 && y < 70)
        return 5;
    return 0;
}

/* Bare sheet whose tone is mottled over the middle and rises by 0.3 in the 12 pixels at the
 * edges (yellower than anything bare in the middle, and nearer orpiment than the middle is);
 * thin washes (a third of the pixel) of orpiment on the middle and on the toned edge,
 * malachite with a little ink, lead white, ink. Returns the shares right: bare edges and middle as
 * support, each wash as its pigment. */
static void tone_case(double sigma, double out[6])
{
    dq_spec_lib_t lib;
    load_lib(&lib);
    int mal = entry(&lib, "malachite_natural_xfine_sh3");
    int pk[6] = {-1,  entry(&lib, "orpiment_sh4"), entry(&lib, "orpiment_sh4"),
                 mal, entry(&lib, "lead_white"),   -1};
    static const double share[6] = {0, 0.35, 0.35, 0.5, 0.7, 0.8};
    static const char *const fam[6] = {NULL,        "orpiment",   "orpiment",
                                       "malachite", "lead_white", NULL};
    float **planes = dq_xcalloc(6, sizeof(float *));
    for (int b = 0; b < 6; b++)
        planes[b] = dq_xmalloc((size_t)W * H * sizeof(float));
    uint64_t seed = 777;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int d = edge_dist(x, y), g = region(x, y);
            double t =
                0.5 + 0.05 * sin(x / 7.0) * cos(y / 5.0) + (d < 12 ? 0.3 * (1 - d / 12.0) : 0);
            double tex = 1 + 0.02 * sin(x * 2.1) * sin(y * 1.7);
            for (int b = 0; b < 6; b++) {
                double p = g == 5 ? lib.ink[b] : g ? lib.refl[(size_t)pk[g] * 6 + b] : 0;
                double k = g == 3 ? 0.1 : 0; /* ink under the malachite */
                double r = (1 - share[g] - k) * toned(b, t, tex) + share[g] * p + k * lib.ink[b];
                planes[b][(size_t)y * W + x] = (float)(r + noise(&seed, sigma));
            }
        }
    dq_spec_map_t map;
    dq_err_t err = {0};
    DQ_REQUIRE(dq_spec_pigments((const float *const *)planes, W, H, &lib, 0.3, NULL, NULL, &map,
                                &err) == 0);
    int ok[6] = {0}, n[6] = {0};
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            int g = region(x, y), k = g ? g : edge_dist(x, y) < 12 ? 0 : 5;
            if (g == 5)
                continue;
            n[k]++;
            if (!g) {
                ok[k] += map.label[i] == DQ_SPEC_LABEL_SUPPORT;
                continue;
            }
            char f[DQ_SPEC_NAME];
            family(&lib, map.best[i], f);
            ok[k] +=
                map.label[i] >= DQ_SPEC_LABEL_PIGMENT0 && strncmp(f, fam[g], strlen(fam[g])) == 0;
        }
    for (int k = 0; k < 6; k++)
        out[k] = n[k] ? (double)ok[k] / n[k] : 0;
    fprintf(stderr,
            "    noise %.3f: support edges %.3f middle %.3f; orpiment %.3f, on the edge %.3f; "
            "malachite %.3f; lead white %.3f\n",
            sigma, out[0], out[5], out[1], out[2], out[3], out[4]);
    dq_spec_map_free(&map);
    planes_free(planes);
    dq_spec_lib_free(&lib);
}

/* The support's own family: toned edges stay support, and it takes no wash with it. */
DQ_TEST(toned_support_stays_support)
{
    double r[6];
    for (int q = 0; q < 2; q++) {
        tone_case(q ? 0.004 : 0.001, r);
        DQ_CHECK(r[0] >= 0.95); /* toned edges */
        DQ_CHECK(r[5] >= 0.99); /* the mottled middle */
        DQ_CHECK(r[1] >= 0.95); /* thin orpiment on the middle */
        DQ_CHECK(r[2] >= 0.90); /* thin orpiment on the toned edge */
        DQ_CHECK(r[3] >= 0.95); /* thin malachite */
        DQ_CHECK(r[4] >= 0.95); /* lead white */
    }
}

/* Lead white on 15 % of the picture (brighter than the paper, so the brightest tenth is all
 * lead white), a little azurite, the rest bare paper. */
static mix_t white_share(int x)
{
    if (x < 30)
        return (mix_t){1, 0, 0};
    if (x < 50)
        return (mix_t){0, 0.8, 0};
    return (mix_t){0, 0, 0};
}

/* The support endmember is the paper, not lead white that covers a large share: bare paper
 * stays support and the lead white stays lead white. A picture without lead white (azurite
 * only) keeps the brightest tenth's median (support_moved 0). */
DQ_TEST(lead_white_is_not_the_support)
{
    static const double paper[6] = {0.62, 0.75, 0.80, 0.83, 0.85, 0.86};
    dq_spec_lib_t lib;
    load_lib(&lib);
    int lw = entry(&lib, "lead_white"), az = entry(&lib, "azurite_natural_standard_sh4");
    for (int q = 0; q < 2; q++) {
        float **planes = paint(&lib, q ? az : lw, az, q ? glazes : white_share, 0.003);
        dq_spec_map_t map;
        dq_err_t err = {0};
        DQ_REQUIRE(dq_spec_pigments((const float *const *)planes, W, H, &lib, 0.3, NULL, NULL,
                                    &map, &err) == 0);
        double dmax = 0;
        for (int b = 0; b < 6; b++)
            dmax = fmax(dmax, fabs(map.support[b] - paper[b]));
        int x0 = q ? 0 : 50, x1 = q ? 100 : W;
        double sup = 0, white = 0;
        for (int y = 0; y < H; y++) {
            for (int x = x0; x < x1; x++)
                sup += map.label[(size_t)y * W + x] == DQ_SPEC_LABEL_SUPPORT;
            for (int x = 0; x < 30 && !q; x++)
                white += map.label[(size_t)y * W + x] == DQ_SPEC_LABEL_PIGMENT0 + lw;
        }
        sup /= (double)(x1 - x0) * H;
        white /= 30.0 * H;
        fprintf(stderr,
                "    %s: S off the paper by %.4f at most, lead white angle %.2f deg, moved %d; "
                "bare paper support %.3f, lead white %.3f\n",
                q ? "no lead white" : "15 % lead white", dmax, map.support_lw_angle,
                map.support_moved, sup, white);
        DQ_CHECK(dmax < 0.01);
        DQ_CHECK(map.support_lw_angle >= 0);
        DQ_CHECK_INT(map.support_moved, !q);
        DQ_CHECK(sup >= 0.99);
        if (!q)
            DQ_CHECK(white >= 0.95);
        dq_spec_map_free(&map);
        planes_free(planes);
    }
    dq_spec_lib_free(&lib);
}
