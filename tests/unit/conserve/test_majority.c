/*
 * test_majority.c: the majority filter that ends the change maps' class steps (src/conserve/
 * changes.c, cv_class_majority; issue 12 session 27). Synthetic masks whose right answer is
 * known: a solid flake with speckle of fading inside and on its rim comes out flaking whole;
 * a faded area with isolated flaking specks comes out fading whole; a small flake (3x3) in an
 * unchanged field keeps its class (its window holds only itself); pixels found by neither
 * mask stay unfound, whatever their neighbours; a border pixel and a 1x1 image are safe.
 */
#include "conserve/conserve_internal.h"
#include "dq_test.h"

#include <stdlib.h>
#include <string.h>

enum { W = 120, H = 80 };

/* A repeatable scatter: about one pixel in `every` (a linear congruential step per pixel). */
static int scatter(int x, int y, int every)
{
    unsigned v = (unsigned)(y * W + x) * 2654435761u;
    return (v >> 16) % (unsigned)every == 0;
}

DQ_TEST(speckle_inside_a_flake_and_a_fade_is_cleaned)
{
    uint8_t *fl = calloc(W * H, 1), *fa = calloc(W * H, 1);
    DQ_REQUIRE(fl && fa);
    size_t n_flake = 0, n_fade = 0, speck_fl = 0, speck_fa = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            int in_flake = x >= 10 && x < 40 && y >= 10 && y < 40; /* a 30x30 flake */
            int in_fade = x >= 60 && x < 110 && y >= 10 && y < 70; /* a 50x60 faded area */
            int hole = (x == 0 && y == 0) ? 0 : scatter(x, y, 6);
            if (in_flake) {
                (hole ? fa : fl)[i] = 255; /* ~1/6 of the flake called fading */
                n_flake++, speck_fa += hole;
            } else if (in_fade) {
                (hole ? fl : fa)[i] = 255; /* ~1/6 of the fade called flaking */
                n_fade++, speck_fl += hole;
            }
        }
    /* a 3x3 flake alone in the unchanged field, and one found pixel in the corner */
    for (int y = 50; y < 53; y++)
        for (int x = 20; x < 23; x++)
            fl[(size_t)y * W + x] = 255;
    fa[0] = 255;
    DQ_REQUIRE(speck_fa > n_flake / 10 && speck_fl > n_fade / 10);
    cv_class_majority(fl, fa, W, H);
    size_t flake_ok = 0, fade_ok = 0, stray = 0, both = 0;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            both += fl[i] && fa[i];
            if (x >= 10 && x < 40 && y >= 10 && y < 40)
                flake_ok += fl[i] != 0;
            else if (x >= 60 && x < 110 && y >= 10 && y < 70)
                fade_ok += fa[i] != 0;
            else if (!(y >= 50 && y < 53 && x >= 20 && x < 23) && i != 0)
                stray += fl[i] || fa[i];
        }
    fprintf(stderr,
            "    flake %zu of %zu flaking (%zu speckled fading before); fade %zu of %zu"
            " fading (%zu specks); stray %zu\n",
            flake_ok, n_flake, speck_fa, fade_ok, n_fade, speck_fl, stray);
    DQ_CHECK(flake_ok == n_flake);
    DQ_CHECK(fade_ok == n_fade);
    DQ_CHECK(stray == 0 && both == 0); /* nothing found that was not, no pixel in both */
    for (int y = 50; y < 53; y++)
        for (int x = 20; x < 23; x++)
            DQ_CHECK(fl[(size_t)y * W + x] && !fa[(size_t)y * W + x]);
    DQ_CHECK(fa[0] && !fl[0]);
    free(fl);
    free(fa);
}

DQ_TEST(tiny_images)
{
    uint8_t fl[1] = {255}, fa[1] = {0};
    cv_class_majority(fl, fa, 1, 1);
    DQ_CHECK(fl[0] && !fa[0]);
    uint8_t gl[6] = {0, 255, 0, 0, 0, 0}, ga[6] = {255, 0, 255, 0, 0, 255};
    cv_class_majority(gl, ga, 3, 2); /* 4 found: 1 flaking of 4 in every window, under 2/5 */
    DQ_CHECK(!gl[1] && ga[1] && ga[0] && ga[2] && ga[5]);
    DQ_CHECK(!gl[3] && !ga[3] && !gl[4] && !ga[4]);
}
