/*
 * paint/condition.c: what time does to a painting, and what the painter hid. Damage is a
 * pure function of position (so masks and pictures agree pixel for pixel): losses that
 * cluster at edges and along roll creases, abrasion, foxing, and between the 2016 and 2026
 * captures new and enlarged losses, flaking of pigment and fading in light-struck areas. The
 * hidden layers are an abandoned underdrawing (seen only in the near infrared) and a
 * later retouching (seen only under UV). It does not render or save files.
 */
#include <math.h>

#include "paint/paint.h"

void dq_paint_damage_at(const dq_paint_scene_t *sc, float u, float v, float px,
                        dq_paint_damage_t *d)
{
    (void)px;
    uint32_t s = sc->seed ^ 0xda3a6eu;
    float sev = sc->damage;
    float ex = DQ_MIN(u, sc->aspect - u), ey = DQ_MIN(v, 1.0f - v);
    float edge = 1.0f - dq_paint_smooth(0.0f, 0.05f, DQ_MIN(ex, ey));
    /* Handscrolls crease across their width where they were rolled tight. */
    float crease = 0;
    if (sc->aspect > 3.0f) {
        float c = u * 2.2f + 0.3f * dq_paint_noise1(s + 9u, v * 3.0f);
        crease = 1.0f - dq_paint_smooth(0.0f, 0.03f, fabsf(c - roundf(c)));
    }
    float n = dq_paint_fbm2(s, u * 9.0f, v * 9.0f, 4);
    float th = 0.6f - 0.1f * sev - 0.25f * edge - 0.1f * crease;
    d->loss16 = n > th;
    for (int i = 0; i < sc->n_tears; i++) {
        const float *t = sc->tears[i];
        float dy = v - t[1], along = u - t[0];
        float wig = 0.004f * dq_paint_fbm1(s + 20u + (uint32_t)i, v * 60.0f, 3);
        if (dy > 0 && dy < t[2] && fabsf(along + wig) < 0.0015f + 0.001f * (1 - dy / t[2]))
            d->loss16 = 1;
    }
    /* By 2026 old losses have grown a little and a few new ones opened. */
    float n2 = dq_paint_fbm2(s + 1u, u * 14.0f, v * 14.0f, 3);
    d->loss26 = n > th - 0.03f || n2 > 0.66f - 0.08f * sev;
    d->abrasion16 = dq_paint_fbm2(s + 2u, u * 15.0f, v * 15.0f, 3) > 0.42f - 0.1f * sev;
    float fox = dq_paint_noise2(s + 3u, u * 160.0f, v * 160.0f);
    d->stain16 = fox > 0.82f && dq_paint_fbm2(s + 4u, u * 3.0f, v * 3.0f, 2) > 0.1f;
    float fl = dq_paint_noise2(s + 5u, u * 90.0f, v * 90.0f);
    d->flake26 = fl > 0.3f && dq_paint_fbm2(s + 6u, u * 4.0f, v * 4.0f, 2) > 0.2f - 0.1f * sev;
    d->fade26 = dq_paint_fbm2(s + 7u, u * 2.0f, v * 2.0f, 2) > 0.12f;
}

void dq_paint_add_hidden(dq_paint_scene_t *sc, dq_paint_rng_t *rng)
{
    /* Underdrawing: the painter first sketched a pavilion and a path in charcoal here, then
     * changed his mind and painted over it. Long, light strokes as a sketch has. */
    float A = sc->aspect;
    float cu = (float)dq_paint_rng_range(rng, 0.25, 0.75) * A, cv = 0.55f;
    float s = DQ_MIN(0.25f, A * 0.2f);
    float px = 1.0f / 2000.0f;
    for (int i = 0; i < 14; i++) {
        float x0 = cu + (float)dq_paint_rng_range(rng, -s, s);
        float y0 = cv + (float)dq_paint_rng_range(rng, -s, s) * 0.6f;
        float ang = (float)dq_paint_rng_range(rng, -0.6, 0.6) + (i & 1 ? 1.5708f : 0);
        float len = (float)dq_paint_rng_range(rng, 0.3, 0.9) * s;
        dq_paint_add_capsule(sc, DQ_TGT_UNDER, 0, x0, y0, x0 + cosf(ang) * len,
                             y0 + sinf(ang) * len, 2.5f * px, 1.5f * px, 0.9f, 0.2f);
    }
    sc->hidden[0] = cu - s * 1.5f;
    sc->hidden[1] = cv - s * 1.2f;
    sc->hidden[2] = cu + s * 1.5f;
    sc->hidden[3] = cv + s * 1.2f;
    /* Retouching: a restorer's patch of in-painting, a cluster of overlapping dabs. */
    float ru = (float)dq_paint_rng_range(rng, 0.2, 0.8) * A,
          rv = (float)dq_paint_rng_range(rng, 0.3, 0.8);
    float rs = DQ_MIN(0.06f, A * 0.05f);
    for (int i = 0; i < 9; i++)
        dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_RETOUCH, 0,
                             ru + (float)dq_paint_rng_range(rng, -rs, rs),
                             rv + (float)dq_paint_rng_range(rng, -rs, rs) * 0.6f,
                             rs * (float)dq_paint_rng_range(rng, 0.3, 0.6),
                             rs * (float)dq_paint_rng_range(rng, 0.2, 0.4),
                             (float)dq_paint_rng_range(rng, 0, 3.1), 1.0f);
    sc->hidden[4] = ru - rs * 1.6f;
    sc->hidden[5] = rv - rs * 1.2f;
    sc->hidden[6] = ru + rs * 1.6f;
    sc->hidden[7] = rv + rs * 1.2f;
}
