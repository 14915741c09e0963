/*
 * paint/flora.c: bird-and-flower (花鸟). A plum branch that enters from an edge with the
 * sharp elbows plum painters prize, in dry-brush ink; straight young shoots; blossoms either
 * outlined and filled with lead white (圈花) or boneless in red (没骨); buds and stamens; and
 * birds perched on the branch. Strokes only: render.c turns them into pixels.
 */
#include <math.h>

#include "paint/paint.h"

#define PI_F 3.14159265f

typedef struct {
    dq_paint_scene_t *sc;
    dq_paint_rng_t *rng;
    float px;
    int red; /* boneless red blossoms instead of outlined white ones */
    float pts[64][2];
    int n_pts;
} fl_t;

static float R(fl_t *f, float a, float b)
{
    return (float)dq_paint_rng_range(f->rng, a, b);
}

static void blossom(fl_t *f, float u, float v, float r)
{
    dq_paint_scene_t *sc = f->sc;
    float rot = R(f, 0, 2 * PI_F);
    float lw = DQ_MAX(0.09f * r, 0.9f * f->px);
    for (int i = 0; i < 5; i++) {
        float a = rot + (float)i * 2 * PI_F / 5;
        float cx = u + cosf(a) * r * 0.62f, cy = v + sinf(a) * r * 0.62f;
        if (f->red) {
            dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, DQ_MAT_CINNABAR, cx, cy,
                                 r * 0.5f, r * 0.45f, a, 0.55f);
        } else {
            dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, cx, cy, r * 0.52f, r * 0.47f,
                                 a, 0.75f);
            dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_ERASE, 0, cx, cy, r * 0.52f - lw,
                                 r * 0.47f - lw, a, 1.0f);
        }
    }
    if (!f->red)
        for (int i = 0; i < 5; i++) {
            float a = rot + (float)i * 2 * PI_F / 5;
            dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, DQ_MAT_LEAD_WHITE,
                                 u + cosf(a) * r * 0.62f, v + sinf(a) * r * 0.62f, r * 0.5f - lw,
                                 r * 0.45f - lw, a, 0.85f);
        }
    /* Stamens: fine lines with anther dots, and the dark calyx at the heart. */
    for (int i = 0; i < 7; i++) {
        float a = R(f, 0, 2 * PI_F), l = r * R(f, 0.35f, 0.6f);
        float x1 = u + cosf(a) * l, y1 = v + sinf(a) * l;
        dq_paint_add_capsule(sc, DQ_TGT_INK, 0, u, v, x1, y1, 0.5f * f->px, 0.4f * f->px, 0.7f, 0);
        dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, x1, y1, 1.4f * f->px, 1.4f * f->px,
                             0, 0.9f);
    }
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, DQ_MAT_ORPIMENT, u, v, r * 0.16f,
                         r * 0.16f, 0, 0.8f);
}

static void bud(fl_t *f, float u, float v, float r)
{
    dq_paint_add_ellipse(f->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u, v, r, r * 0.8f, R(f, 0, 3),
                         0.8f);
    if (f->red)
        dq_paint_add_ellipse(f->sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, DQ_MAT_CINNABAR, u,
                             v - r * 0.3f, r * 0.7f, r * 0.6f, 0, 0.8f);
}

/* A branch from (u, v) heading ang: a few straight runs joined by sharp elbows. */
static void limb(fl_t *f, float u, float v, float ang, float len, float r, int depth, float bl)
{
    int segs = 3 + (depth > 1);
    for (int i = 0; i < segs; i++) {
        float l = len / (float)segs * R(f, 0.7f, 1.3f);
        float u1 = u + cosf(ang) * l, v1 = v + sinf(ang) * l;
        float r1 = DQ_MAX(r * 0.8f, 0.8f * f->px);
        dq_paint_add_capsule(f->sc, DQ_TGT_INK, 0, u, v, u1, v1, r, r1, 0.85f, 0.65f);
        if (depth >= 2 && f->n_pts < 64) {
            f->pts[f->n_pts][0] = u1;
            f->pts[f->n_pts][1] = v1;
            f->n_pts++;
        }
        /* Blossoms and buds along thin branches, set just off the stroke. */
        if (depth <= 1) {
            int nb = (int)(l / (bl * 3.0f)) + 1;
            for (int k = 0; k < nb; k++) {
                float t = R(f, 0.1f, 1.0f);
                float bu = u + (u1 - u) * t + R(f, -1, 1) * bl * 0.8f;
                float bv = v + (v1 - v) * t + R(f, -1, 1) * bl * 0.8f;
                if (dq_paint_rng_unif(f->rng) < 0.65)
                    blossom(f, bu, bv, bl * R(f, 0.8f, 1.15f));
                else
                    bud(f, bu, bv, bl * 0.28f);
            }
        }
        if (depth > 0 && dq_paint_rng_unif(f->rng) < 0.75) {
            float side = dq_paint_rng_unif(f->rng) < 0.5 ? -1.0f : 1.0f;
            limb(f, u1, v1, ang + side * R(f, 0.5f, 1.0f), len * R(f, 0.35f, 0.55f), r1 * 0.7f,
                 depth - 1, bl);
        }
        u = u1;
        v = v1;
        r = r1;
        ang += R(f, -0.55f, 0.55f);
    }
    /* The young shoot at the end: long, straight, thin (a "whip"). */
    if (depth <= 1)
        dq_paint_add_capsule(f->sc, DQ_TGT_INK, 0, u, v, u + cosf(ang) * len * 0.4f,
                             v + sinf(ang) * len * 0.4f, DQ_MAX(r * 0.6f, 0.7f * f->px),
                             0.5f * f->px, 0.8f, 0.3f);
}

static void bird(fl_t *f, float u, float v, float s, int facing)
{
    dq_paint_scene_t *sc = f->sc;
    float fx = (float)facing;
    float bu = u, bv = v - s * 0.55f;
    float tilt = -0.35f * fx;
    /* Tail first (it lies under the body), then legs, body, belly, wing, head. */
    for (int i = 0; i < 3; i++) {
        float a = (fx > 0 ? PI_F : 0) + fx * (0.5f + 0.12f * (float)i);
        dq_paint_add_capsule(sc, DQ_TGT_INK, 0, bu, bv, bu + cosf(a) * s * 1.1f,
                             bv + sinf(a) * s * 1.1f, s * 0.09f, s * 0.05f, 0.8f, 0.2f);
    }
    for (int i = -1; i <= 1; i += 2)
        dq_paint_add_capsule(sc, DQ_TGT_INK, 0, bu + (float)i * s * 0.1f, bv + s * 0.25f,
                             u + (float)i * s * 0.12f, v, 0.9f * f->px, 0.8f * f->px, 0.9f, 0);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, bu, bv, s * 0.55f, s * 0.34f, tilt,
                         0.55f);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_ERASE, 0, bu + fx * s * 0.12f, bv + s * 0.12f,
                         s * 0.36f, s * 0.2f, tilt, 0.9f);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, DQ_MAT_ORPIMENT, bu + fx * s * 0.12f,
                         bv + s * 0.12f, s * 0.36f, s * 0.2f, tilt, 0.7f);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, bu - fx * s * 0.08f, bv - s * 0.06f,
                         s * 0.38f, s * 0.17f, tilt, 0.8f);
    for (int i = 0; i < 4; i++)
        dq_paint_add_capsule(sc, DQ_TGT_INK, 0, bu - fx * s * (0.05f + 0.08f * (float)i),
                             bv - s * 0.05f, bu - fx * s * (0.4f + 0.06f * (float)i),
                             bv + s * 0.06f, 1.0f * f->px, 0.6f * f->px, 0.9f, 0);
    float hu = bu + fx * s * 0.5f, hv = bv - s * 0.3f;
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, hu, hv, s * 0.23f, s * 0.21f, 0,
                         0.85f);
    dq_paint_add_capsule(sc, DQ_TGT_INK, 0, hu + fx * s * 0.18f, hv + s * 0.02f,
                         hu + fx * s * 0.38f, hv + s * 0.06f, s * 0.05f, 0.5f * f->px, 0.95f, 0);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_ERASE, 0, hu + fx * s * 0.08f, hv - s * 0.03f,
                         s * 0.055f, s * 0.055f, 0, 1.0f);
    dq_paint_add_ellipse(sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, hu + fx * s * 0.085f, hv - s * 0.03f,
                         s * 0.03f, s * 0.03f, 0, 1.0f);
}

void dq_paint_flower_build(dq_paint_scene_t *sc, const dq_paint_style_t *st, int n_birds,
                           dq_paint_rng_t *rng)
{
    fl_t f = {.sc = sc, .rng = rng, .px = 1.0f / 1800.0f};
    sc->kind = DQ_SCENE_FLOWER;
    f.red = st->palette == DQ_PAL_LIGHT;
    float A = sc->aspect;
    /* The inscription sits upper right, so album branches come in from the left. */
    int from_left = sc->fan ? dq_paint_rng_unif(rng) < 0.5 : 1;
    float u, v, ang, len;
    if (A < 0.6f) {
        /* Tall scroll: the branch hangs from the top edge and descends. */
        u = A * R(&f, 0.15f, 0.3f);
        v = 0.0f;
        ang = PI_F / 2 - 0.3f;
        len = 0.75f;
    } else if (sc->fan) {
        u = from_left ? A * 0.2f : A * 0.8f;
        v = 0.75f;
        ang = from_left ? -0.35f : PI_F + 0.35f;
        len = A * 0.6f;
    } else {
        u = from_left ? 0.0f : A;
        v = R(&f, 0.55f, 0.85f);
        ang = from_left ? -R(&f, 0.15f, 0.4f) : PI_F + R(&f, 0.15f, 0.4f);
        len = A * 0.8f;
    }
    float r = 0.022f * DQ_MIN(1.0f, A * 1.2f);
    float bl = 0.028f * DQ_MIN(1.0f, A * 1.2f);
    if (A < 0.6f) {
        r = 0.009f;
        bl = 0.012f;
    }
    size_t m0 = sc->n_prims;
    limb(&f, u, v, ang, len, r, 3, bl);
    dq_paint_motif_mark(sc, DQ_MOTIF_PLUM, m0, NULL);
    for (int b = 0; b < n_birds && f.n_pts > 0; b++) {
        int i = (int)(dq_paint_rng_unif(rng) * (float)f.n_pts);
        float s = A < 0.6f ? 0.045f : 0.11f;
        m0 = sc->n_prims;
        bird(&f, f.pts[i][0], f.pts[i][1], s, dq_paint_rng_unif(rng) < 0.5 ? 1 : -1);
        dq_paint_motif_mark(sc, DQ_MOTIF_BIRD, m0, NULL);
        if (sc->n_perch < 4) {
            sc->perch[sc->n_perch][0] = f.pts[i][0];
            sc->perch[sc->n_perch][1] = f.pts[i][1];
            sc->n_perch++;
        }
    }
}
