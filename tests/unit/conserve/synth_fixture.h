/*
 * synth_fixture.h: what the conserve tests that paint their own synthetic captures share:
 * deterministic noise (the tests depend on nothing but their own numbers) and the sRGB
 * encoding of a linear-light value (IEC 61966-2-1), as the generator writes its captures.
 */
#ifndef DQ_CONSERVE_SYNTH_FIXTURE_H
#define DQ_CONSERVE_SYNTH_FIXTURE_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conserve/conserve.h"

/* xorshift32: the next value of stream s. */
__attribute__((unused)) static uint32_t rnd(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Uniform in [0, 1) from stream s. */
__attribute__((unused)) static double unif(uint32_t *s)
{
    return (rnd(s) >> 8) / 16777216.0;
}

/* A linear-light value (clipped to [0, 1]) as an 8-bit sRGB level. */
__attribute__((unused)) static uint8_t to_srgb(double l)
{
    l = l < 0 ? 0 : l > 1 ? 1 : l;
    double v = l <= 0.0031308 ? 12.92 * l : 1.055 * pow(l, 1 / 2.4) - 0.055;
    return (uint8_t)(255 * v + 0.5);
}

/* n ink dots of the object (what registration locks on): centre x, y and radius 1.5-4.5,
 * at least `margin` px inside a w x h sheet, from stream `seed`. */
__attribute__((unused)) static void synth_dots(double (*dots)[3], int n, int w, int h, int margin,
                                               uint32_t seed)
{
    for (int i = 0; i < n; i++) {
        dots[i][0] = margin + unif(&seed) * (w - 2 * margin);
        dots[i][1] = margin + unif(&seed) * (h - 2 * margin);
        dots[i][2] = 1.5 + unif(&seed) * 3;
    }
}

/* Whether object point (u, v) lies in one of the n dots. */
__attribute__((unused)) static int synth_in_dot(const double (*dots)[3], int n, double u, double v)
{
    for (int i = 0; i < n; i++) {
        double dx = u - dots[i][0], dy = v - dots[i][1];
        if (dx * dx + dy * dy < dots[i][2] * dots[i][2])
            return 1;
    }
    return 0;
}

/* The paper's texture at object point (u, v): a factor near 1. */
__attribute__((unused)) static double synth_texture(double u, double v)
{
    return 1 + 0.03 * sin(u * 0.7) * cos(v * 0.9) + 0.04 * sin(u * 0.05) * cos(v * 0.043);
}

/* A capture's value (sRGB levels, noise added) as a stored 8-bit level. */
__attribute__((unused)) static uint8_t synth_level(double s)
{
    return (uint8_t)(s < 0 ? 0 : s > 255 ? 255 : s + 0.5);
}

/* Allocates r as a w x h colour capture and fills dots with the object's 60 ink dots (what
 * registration locks on: 8 px margin, stream 12345), as the scenes of the detection and flake
 * tests paint them. */
__attribute__((unused)) static void synth_sheet(dq_raster_t *r, int w, int h, double (*dots)[3])
{
    r->w = w, r->h = h, r->bands = 3;
    r->px = dq_xmalloc((size_t)w * h * 3);
    synth_dots(dots, 60, w, h, 8, 12345);
}

/* Pixels of a region, and how each class of the change map saw them. */
typedef struct {
    uint64_t n, loss, flake, fade, found; /* found: any class */
} synth_tally_t;

/* Maps the changes from ref to mov (w x h; both freed here) and tallies the pixels where
 * in(x, y) holds; gain_out (NULL: not wanted) gets the fitted colour gains. 0, or -1 when
 * changes refused the pair (said on stderr). */
__attribute__((unused)) static int synth_tally(dq_raster_t *ref, dq_raster_t *mov, int w, int h,
                                               int (*in)(int, int), synth_tally_t *t,
                                               double *gain_out)
{
    dq_conserve_changes_t ch;
    dq_err_t err = {0};
    int rc = dq_conserve_changes(ref, mov, &ch, &err);
    memset(t, 0, sizeof(*t));
    if (rc == 0) {
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                if (!in(x, y))
                    continue;
                size_t i = (size_t)y * w + x;
                int l = ch.mask[DQ_CONSERVE_LOSS][i] != 0, f = ch.mask[DQ_CONSERVE_FLAKING][i] != 0,
                    d = ch.mask[DQ_CONSERVE_FADING][i] != 0;
                t->n++;
                t->loss += l, t->flake += f, t->fade += d, t->found += l | f | d;
            }
        for (int k = 0; gain_out && k < 3; k++)
            gain_out[k] = ch.colour_gain[k];
        dq_conserve_changes_free(&ch);
    } else {
        fprintf(stderr, "    changes: %s\n", err.msg);
    }
    dq_raster_free(ref);
    dq_raster_free(mov);
    return rc;
}

/* A scene painter: the capture of scene in state 0 (2016) or 1 (2026), its pixel (0, 0) at
 * object point (ox, oy), with its own noise from seed. */
typedef void (*synth_paint_fn)(dq_raster_t *r, int scene, int state, double ox, double oy,
                               uint32_t seed);

/* Paints scene in 2016 (noise seed 7) and 2026 (0.4, 0.3 px off, seed 11), maps the changes
 * and tallies the pixels where in(x, y) holds (see synth_tally). */
__attribute__((unused)) static int synth_tally_scene(synth_paint_fn paint, int scene, int w, int h,
                                                     int (*in)(int, int), synth_tally_t *t)
{
    dq_raster_t ref = {0}, mov = {0};
    paint(&ref, scene, 0, 0, 0, 7);
    paint(&mov, scene, 1, 0.4, 0.3, 11);
    return synth_tally(&ref, &mov, w, h, in, t, NULL);
}

#endif
