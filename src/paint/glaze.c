/*
 * paint/glaze.c: pigment over pigment (issue 11). Blue-green (qinglü) painters build their
 * mountains in layers: a wash of one mineral colour, then a glaze of another laid over it in
 * broad strokes, so that many pixels hold two pigments at once (plus the support showing
 * through, plus ink). This file adds those glaze strokes to a blue-green landscape's scene;
 * render.c composites them (target DQ_TGT_GLAZE: they act only where colour lies already) and
 * keeps both pigments and their shares in the state. It draws from its own random stream,
 * seeded from (collection seed, work, purpose), so every other stroke, and every work without
 * glazes, keeps its bytes. It does not render or write anything.
 */
#include <math.h>

#include "paint/paint.h"

int dq_paint_glaze_build(dq_paint_scene_t *sc, int palette, uint64_t seed, uint32_t work_seed)
{
    if (sc->kind != DQ_SCENE_LANDSCAPE || palette != DQ_PAL_BLUEGREEN)
        return 0;
    dq_paint_rng_t rng;
    /* (collection seed, work, purpose): nobody else draws from this stream. */
    dq_paint_rng_seed(&rng, seed ^ ((uint64_t)work_seed << 24) ^ 0x676c617a65732121ull);
    /* One glaze colour per work: azurite over the malachite and ochre washes, or malachite
     * over the azurite and ochre ones (over its own colour a glaze only thickens it). */
    int mat = dq_paint_rng_unif(&rng) < 0.5 ? DQ_MAT_AZURITE : DQ_MAT_MALACHITE;
    int n = (int)lround(sc->aspect * 9.0);
    for (int i = 0; i < n; i++) {
        /* Broad, nearly level strokes over the mountain zone (scene units: height 1). */
        float x0 = (float)dq_paint_rng_range(&rng, 0.0, sc->aspect);
        float y0 = (float)dq_paint_rng_range(&rng, 0.25, 0.92);
        float len = (float)dq_paint_rng_range(&rng, 0.12, 0.45);
        float ang = (float)dq_paint_rng_range(&rng, -0.35, 0.35);
        float r0 = (float)dq_paint_rng_range(&rng, 0.02, 0.06);
        float r1 = r0 * (float)dq_paint_rng_range(&rng, 0.6, 1.2);
        float alpha = (float)dq_paint_rng_range(&rng, 0.3, 0.75);
        dq_paint_prim_t *p =
            dq_paint_add_capsule(sc, DQ_TGT_GLAZE, mat, x0, y0, x0 + len * cosf(ang),
                                 y0 + len * sinf(ang), r0, r1, alpha, 0.0f);
        /* A soft edge (the wash thins out), within the primitive's box (1.5 r). */
        p->soft = 0.3f * DQ_MIN(r0, r1);
    }
    return n;
}
