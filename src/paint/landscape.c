/*
 * paint/landscape.c: shan shui (山水). Mountains are layers of ridges, nearest first; each is
 * outlined, washed darkest under the ridge and dissolved downwards into mist, and textured
 * with the school's cun (hemp-fibre, axe-cut, raindrop or Mi dots). Far layers are paler
 * (atmospheric perspective). On top come strokes: pines, bare and leafy trees, moss dots,
 * water ripples, boats, small figures and pavilions. Composition (handscroll, hanging scroll
 * in the three distances, album leaf, fan) decides where massifs, water and empty space go.
 * It draws; texture.c makes the support and render.c turns the scene into pixels.
 */
#include <math.h>

#include "paint/paint.h"

#define PI_F 3.14159265f

/* ================================================================ per-pixel fields */

static float ridge_v(const dq_paint_scene_t *sc, int k, float u)
{
    const dq_paint_layer_t *L = &sc->layers[k];
    float h = 0;
    for (int j = 0; j < L->n_peaks; j++) {
        float t = fabsf(u - L->peaks[j][0]) / L->peaks[j][2];
        if (t < 4.0f)
            h = DQ_MAX(h, L->peaks[j][1] * expf(-powf(t, 1.7f)));
    }
    uint32_t s = sc->seed + 1000u * (uint32_t)(k + 1);
    /* Secondary summits and crags: a ridged fbm scaled by how tall the mountain is here. */
    float n = dq_paint_fbm1(s, u * 7.0f, 4);
    float rough = L->rough * (0.35f + h * 2.0f) * (1.0f - fabsf(n) * 2.0f);
    /* Rolling foothills everywhere, so that no range ends in a flat table. */
    float base =
        k == 0 ? 0.0f : L->rough * 2.5f * (0.6f + 0.6f * dq_paint_fbm1(s + 3u, u * 1.6f, 3));
    float r = L->horizon - h - base - rough * 0.35f -
              L->rough * 0.3f * dq_paint_fbm1(s + 9u, u * 40.0f, 2);
    if (sc->zone[1] > sc->zone[0]) {
        /* Outside the painted stretch the ranges sink away, leaving the ends blank. */
        float z = dq_paint_smooth(sc->zone[0] - 0.7f, sc->zone[0] + 0.5f, u) *
                  (1.0f - dq_paint_smooth(sc->zone[1] - 0.5f, sc->zone[1] + 0.7f, u));
        r += (1.0f - z) * 0.7f;
    }
    return r;
}

void dq_paint_landscape_columns(const dq_paint_scene_t *sc, float u, float *col)
{
    for (int k = 0; k < sc->n_layers; k++)
        col[k] = ridge_v(sc, k, u);
    col[sc->n_layers] = 0.05f * dq_paint_fbm1(sc->seed + 31u, u * 2.5f, 3);
    col[sc->n_layers + 1] = dq_paint_fbm1(sc->seed + 37u, u * 6.0f, 2);
}

static float cun(const dq_paint_scene_t *sc, int k, float u, float v, float s, float px)
{
    uint32_t seed = sc->seed + 50u + (uint32_t)k;
    switch (sc->cun) {
    case DQ_CUN_HEMP: {
        /* Long wavy strands running down the slopes: the zero set of noise stretched
         * vertically, sheared so the strands follow the fall line. */
        float n = dq_paint_fbm2(seed, (u + 0.35f * s) * 55.0f, v * 6.0f, 3);
        float w = 0.035f + 0.6f * px * 55.0f;
        return 1.0f - dq_paint_smooth(w * 0.4f, w, fabsf(n));
    }
    case DQ_CUN_AXE: {
        /* Axe-cut: slanted angular planes with a hard upper edge. */
        float n = dq_paint_fbm2(seed, (u * 0.8f + v * 0.6f) * 18.0f, (v - u * 0.3f) * 30.0f, 3);
        float m = dq_paint_noise2(seed + 3u, u * 300.0f, v * 60.0f);
        return dq_paint_smooth(0.05f, 0.12f, n) * (0.65f + 0.35f * m);
    }
    case DQ_CUN_RAIN: {
        /* Raindrop: dense short vertical dabs. */
        float n = dq_paint_noise2(seed, u * 420.0f, v * 160.0f);
        return dq_paint_smooth(0.35f, 0.55f, n);
    }
    default: {
        /* Mi dots: wet horizontal dabs laid in rows, overlapping into soft masses. */
        float n = dq_paint_noise2(seed, u * 230.0f, v * 520.0f);
        float m = dq_paint_fbm2(seed + 5u, u * 10.0f, v * 10.0f, 2);
        return 0.8f * dq_paint_smooth(0.0f, 0.5f, n + 0.5f * m - 0.15f * s / (s + 0.05f));
    }
    }
}

float dq_paint_landscape_mist(const dq_paint_scene_t *sc, const float *col, float v)
{
    float mist = 0;
    for (int i = 0; i < sc->n_mist; i++) {
        float d = fabsf(v - sc->mist[i][0] + col[sc->n_layers]);
        mist = DQ_MAX(mist, sc->mist[i][2] *
                                (1.0f - dq_paint_smooth(sc->mist[i][1] * 0.4f, sc->mist[i][1], d)));
    }
    return mist;
}

void dq_paint_landscape_pixel(const dq_paint_scene_t *sc, const float *col, float u, float v,
                              float px, float *ink, int *mat, float *cov)
{
    int nl = sc->n_layers;
    float mist = dq_paint_landscape_mist(sc, col, v);
    for (int k = 0; k < nl; k++) {
        if (v < col[k])
            continue;
        const dq_paint_layer_t *L = &sc->layers[k];
        float s = v - col[k];
        float f = expf(-s / L->fade);
        if (f < 0.01f)
            return; /* this layer's mist foot hides everything behind it */
        uint32_t seed = sc->seed + 200u + (uint32_t)k;
        float wash = L->ink * f * (0.55f + 0.45f * dq_paint_fbm2(seed, u * 9.0f, v * 9.0f, 2));
        /* Outline: a few pixels wide, pressed and lifted along its run. */
        float lw = px * (1.6f + 2.2f * (1.0f - L->depth)) * (0.7f + 0.6f * col[nl + 1]);
        float line = L->line * (1.0f - dq_paint_smooth(lw * 0.5f, lw * 1.3f, s));
        /* Folds: inner contours that echo the ridge, the way painters build a mountain from
         * overlapping masses; the texture strokes gather along them. */
        float g = s / L->fade * 1.6f + 0.9f * dq_paint_fbm2(seed + 3u, u * 5.0f, v * 3.0f, 2);
        float gf = g - floorf(g);
        float fold = (1.0f - dq_paint_smooth(0.0f, 0.06f + px * 30.0f, gf)) * expf(-s / L->fade);
        float tex = L->texture * cun(sc, k, u, v, s, px) * expf(-s / (L->fade * 1.2f)) *
                    (0.35f + 0.65f * (1.0f - gf));
        float m = 1.0f - mist;
        float a =
            1.0f - (1.0f - wash) * (1.0f - line) * (1.0f - tex) * (1.0f - L->line * 0.55f * fold);
        *ink = a * m;
        if (L->pigment) {
            float c = L->pig_cov * expf(-s / (L->fade * 1.6f)) *
                      (0.75f + 0.25f * dq_paint_fbm2(seed + 7u, u * 5.0f, v * 5.0f, 2));
            float split = L->fade * (0.6f + 0.5f * dq_paint_fbm1(seed + 8u, u * 4.0f, 2));
            *mat = (L->pigment2 && s > split) ? L->pigment2 : L->pigment;
            *cov = DQ_MIN(1.0f, c) * m;
        }
        if (sc->waterfall && k == 2) {
            /* The fall: paper left blank in a narrow ribbon down the main peak. */
            float wu = sc->wf[0] + 0.004f * sinf(v * 40.0f),
                  half = 0.006f + 0.01f * (v - sc->wf[1]);
            if (v > sc->wf[1] && v < sc->wf[2]) {
                float e = 1.0f - dq_paint_smooth(half * 0.6f, half, fabsf(u - wu));
                *ink *= 1.0f - e;
                *cov *= 1.0f - e;
            }
        }
        return;
    }
}

/* ================================================================ strokes */

typedef struct {
    dq_paint_scene_t *sc;
    dq_paint_rng_t *rng;
    const dq_paint_style_t *st;
    float px; /* nominal pixel at the default scale, for minimum stroke widths */
} ctx_t;

static float R(ctx_t *c, float a, float b)
{
    return (float)dq_paint_rng_range(c->rng, a, b);
}

static void moss_dots(ctx_t *c, float u, float v, float spread, int n, float alpha)
{
    for (int i = 0; i < n; i++) {
        float r = R(c, 1.2f, 2.6f) * c->px;
        dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u + R(c, -spread, spread),
                             v + R(c, -spread * 0.15f, spread * 0.1f), r * 1.5f, r,
                             R(c, -0.3f, 0.3f), alpha);
    }
}

static void branch(ctx_t *c, float x, float y, float ang, float len, float r, int depth,
                   float alpha)
{
    float x1 = x + cosf(ang) * len, y1 = y + sinf(ang) * len;
    float r1 = DQ_MAX(r * 0.65f, 0.5f * c->px);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, x, y, x1, y1, r, r1, alpha, 0.3f * c->st->dry);
    if (depth <= 0)
        return;
    int n = depth > 2 ? 2 : 3;
    for (int i = 0; i < n; i++) {
        /* Crab-claw branching: children bend upward and sideways with a sharp elbow. */
        float na = ang + R(c, -0.75f, 0.75f);
        if (na > -0.2f)
            na -= 0.6f;
        branch(c, x1, y1, na, len * R(c, 0.55f, 0.78f), r1, depth - 1, alpha);
    }
}

static void pine(ctx_t *c, float u, float v, float h, float alpha)
{
    size_t m0 = c->sc->n_prims;
    float lean = R(c, -0.25f, 0.25f);
    float x = u, y = v, r = DQ_MAX(0.018f * h, 1.2f * c->px);
    int segs = 6;
    float tops[8][2];
    for (int i = 0; i < segs; i++) {
        float ang = -PI_F / 2 + lean + R(c, -0.18f, 0.18f);
        float l = h / (float)segs;
        float x1 = x + cosf(ang) * l, y1 = y + sinf(ang) * l;
        dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, x, y, x1, y1, r, r * 0.88f, alpha * 0.8f, 0.55f);
        r *= 0.88f;
        x = x1;
        y = y1;
        tops[i][0] = x;
        tops[i][1] = y;
    }
    /* Branches from the upper trunk, drooping, each ending in needle fans. */
    for (int i = 2; i < segs; i++) {
        for (int side = -1; side <= 1; side += 2) {
            if (dq_paint_rng_unif(c->rng) < 0.3)
                continue;
            float bl = h * R(c, 0.15f, 0.35f) * (1.2f - (float)i / (float)segs);
            float bx = tops[i][0] + (float)side * bl, by = tops[i][1] + R(c, -0.02f, 0.05f) * h;
            dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, tops[i][0], tops[i][1], bx, by, r * 0.6f,
                                 r * 0.3f, alpha * 0.85f, 0.3f);
            int nn = 2 + (int)(bl / (0.06f * h));
            for (int k = 0; k < nn; k++) {
                float t = (float)(k + 1) / (float)nn;
                float cx = tops[i][0] + (bx - tops[i][0]) * t,
                      cy = tops[i][1] + (by - tops[i][1]) * t;
                float rx = h * R(c, 0.05f, 0.08f);
                dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, cx, cy - rx * 0.1f, rx,
                                     rx * 0.38f, 0, alpha * 0.28f);
                dq_paint_add_ellipse(c->sc, DQ_PRIM_NEEDLES, DQ_TGT_INK, 0, cx, cy - rx * 0.15f, rx,
                                     rx * 0.5f, R(c, -0.15f, 0.15f), alpha * 0.9f);
            }
        }
    }
    dq_paint_add_ellipse(c->sc, DQ_PRIM_NEEDLES, DQ_TGT_INK, 0, x, y, h * 0.07f, h * 0.04f, 0,
                         alpha * 0.9f);
    dq_paint_motif_mark(c->sc, DQ_MOTIF_PINE, m0, NULL);
}

static void bare_tree(ctx_t *c, float u, float v, float h, float alpha)
{
    float ang = -PI_F / 2 + R(c, -0.2f, 0.2f);
    branch(c, u, v, ang, h * 0.45f, DQ_MAX(0.02f * h, 1.0f * c->px), 4, alpha);
}

static void leafy_tree(ctx_t *c, float u, float v, float h, float alpha, int mat)
{
    float tx = u + R(c, -0.05f, 0.05f) * h, ty = v - h * 0.55f;
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u, v, tx, ty, 0.025f * h, 0.015f * h, alpha * 0.8f,
                         0.4f);
    for (int k = 0; k < 3; k++) {
        float cx = tx + R(c, -0.25f, 0.25f) * h, cy = ty - R(c, 0.05f, 0.4f) * h;
        float cr = h * R(c, 0.16f, 0.26f);
        dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, tx, ty, cx, cy, 0.012f * h, 0.006f * h,
                             alpha * 0.7f, 0.3f);
        if (mat)
            dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, mat, cx, cy, cr, cr * 0.7f,
                                 0, 0.55f);
        /* Leaf dots (介字点 / 个字点): many small dabs, denser at the cluster's heart. */
        int n = 26 + (int)(cr / c->px / 4.0f);
        if (n > 70)
            n = 70;
        for (int i = 0; i < n; i++) {
            float a = R(c, 0, 2 * PI_F), d = cr * sqrtf(R(c, 0, 1));
            float rr = DQ_MAX(h * 0.025f, 1.3f * c->px);
            dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, cx + cosf(a) * d,
                                 cy + sinf(a) * d * 0.7f, rr * 1.4f, rr * 0.7f, R(c, -0.8f, 0.8f),
                                 alpha * R(c, 0.5f, 0.95f));
        }
    }
}

static void figure(ctx_t *c, float u, float v, float h, int robe)
{
    dq_paint_add_capsule(c->sc, DQ_TGT_PIGMENT, robe, u, v - h * 0.75f, u + h * 0.05f, v - h * 0.1f,
                         h * 0.09f, h * 0.2f, 0.9f, 0);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - h * 0.1f, v - h * 0.7f, u - h * 0.14f,
                         v - h * 0.05f, 0.8f * c->px, 0.8f * c->px, 0.8f, 0);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u + h * 0.12f, v - h * 0.7f, u + h * 0.2f,
                         v - h * 0.05f, 0.8f * c->px, 0.8f * c->px, 0.8f, 0);
    dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u, v - h * 0.87f, h * 0.08f,
                         h * 0.1f, 0, 0.85f);
}

static void boat(ctx_t *c, float u, float v, float L)
{
    size_t m0 = c->sc->n_prims;
    float r = DQ_MAX(0.06f * L, 1.5f * c->px);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - 0.38f * L, v, u + 0.38f * L, v, r, r, 0.8f, 0);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u + 0.38f * L, v, u + 0.55f * L, v - 0.09f * L, r,
                         r * 0.5f, 0.8f, 0);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - 0.38f * L, v, u - 0.52f * L, v - 0.07f * L, r,
                         r * 0.5f, 0.8f, 0);
    /* Mat awning, then the fisherman in a straw hat with his pole. */
    dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u + 0.08f * L, v - 0.09f * L,
                         0.17f * L, 0.08f * L, 0, 0.45f);
    figure(c, u - 0.25f * L, v - 0.04f * L, 0.22f * L, DQ_MAT_LEAD_WHITE);
    dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u - 0.25f * L, v - 0.245f * L,
                         0.06f * L, 0.018f * L, 0, 0.85f);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - 0.3f * L, v - 0.15f * L, u - 0.85f * L,
                         v - 0.5f * L, 0.7f * c->px, 0.5f * c->px, 0.75f, 0);
    for (int i = 0; i < 4; i++) {
        float y = v + r * 2 + (float)i * 0.05f * L;
        float w = L * R(c, 0.2f, 0.45f);
        dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - w, y, u + w, y, 0.6f * c->px, 0.6f * c->px,
                             0.3f, 0.5f);
    }
    dq_paint_motif_mark(c->sc, DQ_MOTIF_BOAT, m0, NULL);
}

static void pavilion(ctx_t *c, float u, float v, float s, int mat)
{
    float w = s * 0.5f, ph = s * 0.45f;
    float lw = DQ_MAX(0.012f * s, 0.8f * c->px);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - w * 1.1f, v, u + w * 1.1f, v, lw * 1.5f,
                         lw * 1.5f, 0.8f, 0);
    for (int i = -1; i <= 1; i += 2)
        dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u + (float)i * w * 0.8f, v,
                             u + (float)i * w * 0.8f, v - ph, lw, lw, 0.8f, 0);
    /* Roof: a dark wash under flared eaves. */
    dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_INK, 0, u, v - ph - s * 0.12f, w * 1.05f,
                         s * 0.13f, 0, 0.55f);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u - w * 1.35f, v - ph - s * 0.02f, u,
                         v - ph - s * 0.28f, lw * 1.3f, lw, 0.85f, 0);
    dq_paint_add_capsule(c->sc, DQ_TGT_INK, 0, u + w * 1.35f, v - ph - s * 0.02f, u,
                         v - ph - s * 0.28f, lw * 1.3f, lw, 0.85f, 0);
    if (mat)
        dq_paint_add_ellipse(c->sc, DQ_PRIM_ELLIPSE, DQ_TGT_PIGMENT, mat, u, v - ph * 0.5f,
                             w * 0.7f, ph * 0.45f, 0, 0.7f);
}

/* ================================================================ composition */

static int covered(const dq_paint_scene_t *sc, float u, float v, float *col)
{
    dq_paint_landscape_columns(sc, u, col);
    for (int k = 0; k < sc->n_layers; k++)
        if (v >= col[k])
            return v - col[k] < 2.5f * sc->layers[k].fade ? k + 1 : -1;
    return 0;
}

/* The nearest ridge layer whose silhouette covers (u, v), n_layers above every ridge. col
 * receives the columns at u. */
static int base_layer(const dq_paint_scene_t *sc, float u, float v, float *col)
{
    dq_paint_landscape_columns(sc, u, col);
    for (int k = 0; k < sc->n_layers; k++)
        if (v >= col[k])
            return k;
    return sc->n_layers;
}

static void add_layer(dq_paint_scene_t *sc, float horizon, float depth, float ink, float fade,
                      float texture, float rough)
{
    dq_paint_layer_t *L = &sc->layers[sc->n_layers++];
    L->horizon = horizon;
    L->depth = depth;
    /* Atmospheric perspective: further is paler and less detailed. */
    float pale = 1.0f - 0.78f * depth;
    L->ink = ink * 0.45f * pale;
    L->line = DQ_MIN(0.95f, ink * 1.1f * (1.0f - 0.7f * depth));
    L->fade = fade;
    L->texture = texture * ink * (1.0f - 0.85f * depth);
    L->rough = rough;
}

static void peak(dq_paint_layer_t *L, float u, float h, float w)
{
    if (L->n_peaks >= 12)
        return;
    L->peaks[L->n_peaks][0] = u;
    L->peaks[L->n_peaks][1] = h;
    L->peaks[L->n_peaks][2] = w;
    L->n_peaks++;
}

static void palette(dq_paint_scene_t *sc, int pal)
{
    for (int k = 0; k < sc->n_layers; k++) {
        dq_paint_layer_t *L = &sc->layers[k];
        float d = L->depth;
        if (pal == DQ_PAL_LIGHT) {
            /* Qianjiang (浅绛): ochre on the near slopes, indigo on the far ranges. */
            L->pigment = d > 0.6f ? DQ_MAT_INDIGO : DQ_MAT_RED_OCHRE;
            L->pig_cov = d > 0.6f ? 0.25f : 0.32f;
        } else if (pal == DQ_PAL_BLUEGREEN) {
            /* Qinglü (青绿): azurite on the upper slopes, malachite lower, ochre at the
             * foot of the nearest bank. */
            L->pigment = k == 0 ? DQ_MAT_MALACHITE : DQ_MAT_AZURITE;
            L->pigment2 = k == 0 ? DQ_MAT_YELLOW_OCHRE : DQ_MAT_MALACHITE;
            L->pig_cov = d > 0.6f ? 0.45f : 0.85f;
            L->ink *= 0.6f;
            L->texture *= 0.7f;
        }
    }
}

void dq_paint_landscape_build(dq_paint_scene_t *sc, const dq_paint_style_t *st, dq_paint_rng_t *rng)
{
    ctx_t c = {sc, rng, st, 1.0f / 2000.0f};
    float A = sc->aspect;
    float ink = st->ink;
    sc->kind = DQ_SCENE_LANDSCAPE;
    sc->cun = st->cun;
    sc->dry = st->dry;
    float tex = 0.8f;
    int fmt = st->format;
    c.px = fmt == DQ_FMT_HANGING      ? 1.0f / 4400.0f
           : fmt == DQ_FMT_HANDSCROLL ? 1.0f / 2000.0f
                                      : 1.0f / 1800.0f;
    int pig_figure = st->palette == DQ_PAL_INK ? DQ_MAT_LEAD_WHITE : DQ_MAT_VERMILION;
    float col[DQ_PAINT_MAX_LAYERS + DQ_PAINT_COL_EXTRA];

    if (fmt == DQ_FMT_HANGING) {
        /* Three distances (三远): a near bank with big trees (deep), the main peak towering
         * to the top (high), and low far ranges seen across water at the side (level). */
        add_layer(sc, 1.04f, 0.0f, ink, 0.05f, tex, 0.03f);
        add_layer(sc, 0.80f, 0.3f, ink, 0.06f, tex, 0.03f);
        add_layer(sc, 0.62f, 0.5f, ink, 0.10f, tex, 0.05f);
        add_layer(sc, 0.56f, 0.9f, ink, 0.03f, tex, 0.01f);
        int side = dq_paint_rng_unif(rng) < 0.5 ? 1 : -1;
        float near_u = side > 0 ? A * 0.3f : A * 0.7f;
        peak(&sc->layers[0], near_u, R(&c, 0.22f, 0.3f), A * 0.35f);
        peak(&sc->layers[1], A - near_u, R(&c, 0.12f, 0.2f), A * 0.3f);
        float cu = A * R(&c, 0.42f, 0.58f);
        peak(&sc->layers[2], cu, 0.38f + 0.06f * (1.0f - st->blank), A * 0.22f);
        peak(&sc->layers[2], cu + A * 0.22f * (float)side, 0.28f, A * 0.16f);
        peak(&sc->layers[2], cu - A * 0.25f * (float)side, 0.2f, A * 0.14f);
        peak(&sc->layers[3], A - near_u, 0.04f, A * 0.4f);
        sc->n_mist = 2;
        sc->mist[0][0] = 0.62f;
        sc->mist[0][1] = 0.035f + 0.03f * st->mist;
        sc->mist[0][2] = 0.9f;
        sc->mist[1][0] = R(&c, 0.32f, 0.4f);
        sc->mist[1][1] = 0.015f + 0.02f * st->mist;
        sc->mist[1][2] = 0.7f * st->mist;
        if (st->cun != DQ_CUN_MIDOT) {
            sc->waterfall = 1;
            sc->wf[0] = cu + A * 0.06f * (float)side;
            sc->wf[1] = 0.36f;
            sc->wf[2] = 0.6f;
        }
    } else {
        /* Handscroll, album leaf, fan: massifs along the width with water between. */
        float top = fmt == DQ_FMT_FAN ? 0.25f : 0.0f;
        add_layer(sc, 1.05f, 0.0f, ink, 0.045f, tex, 0.025f);
        add_layer(sc, 0.86f, 0.3f, ink, 0.07f, tex, 0.03f);
        add_layer(sc, 0.74f, 0.5f, ink, 0.11f, tex, 0.045f);
        add_layer(sc, 0.62f, 0.85f, ink, 0.05f, tex, 0.015f);
        float step = fmt == DQ_FMT_HANDSCROLL ? 1.6f + 1.6f * st->blank : A * 0.9f;
        float u = fmt == DQ_FMT_HANDSCROLL ? R(&c, 0.8f, 1.4f) : A * R(&c, 0.25f, 0.45f);
        int flip = dq_paint_rng_unif(rng) < 0.5;
        if (fmt != DQ_FMT_HANDSCROLL && flip)
            u = A - u;
        float hmax = (0.62f - top) * (1.0f - 0.35f * st->blank);
        while (u < A - 0.4f) {
            float hh = hmax * R(&c, 0.65f, 1.0f);
            float w = R(&c, 0.25f, 0.45f);
            peak(&sc->layers[2], u, hh, w);
            peak(&sc->layers[2], u + R(&c, 0.2f, 0.4f), hh * R(&c, 0.5f, 0.8f), w * 0.7f);
            peak(&sc->layers[2], u - R(&c, 0.15f, 0.3f), hh * R(&c, 0.4f, 0.7f), w * 0.5f);
            peak(&sc->layers[0], u + R(&c, 0.8f, 1.4f), R(&c, 0.15f, 0.25f), R(&c, 0.2f, 0.4f));
            peak(&sc->layers[1], u - R(&c, 0.3f, 0.6f), hh * 0.45f, w * 0.9f);
            peak(&sc->layers[1], u + R(&c, 0.4f, 0.7f), hh * 0.35f, w * 0.7f);
            peak(&sc->layers[0], u + R(&c, -0.6f, 0.6f), R(&c, 0.16f, 0.3f), R(&c, 0.3f, 0.55f));
            if (fmt != DQ_FMT_HANDSCROLL)
                break;
            u += step * R(&c, 0.7f, 1.3f);
        }
        for (float fu = R(&c, 0.0f, 1.5f); fu < A; fu += R(&c, 1.2f, 2.6f))
            peak(&sc->layers[3], fu, R(&c, 0.05f, 0.14f), R(&c, 0.3f, 0.7f));
        if (fmt == DQ_FMT_HANDSCROLL)
            peak(&sc->layers[0], A - R(&c, 0.3f, 0.6f), R(&c, 0.2f, 0.3f), 0.5f);
        sc->n_mist = 2;
        sc->mist[0][0] = R(&c, 0.6f, 0.7f);
        sc->mist[0][1] = 0.02f + 0.04f * st->mist;
        sc->mist[0][2] = 0.5f + 0.45f * st->mist;
        sc->mist[1][0] = R(&c, 0.4f, 0.5f);
        sc->mist[1][1] = 0.01f + 0.03f * st->mist;
        sc->mist[1][2] = 0.6f * st->mist;
    }
    palette(sc, st->palette);

    /* Trees along the near banks and ridges, moss dots on the crests. */
    float sp = fmt == DQ_FMT_HANGING ? 0.03f : 0.06f;
    for (float u = R(&c, 0, sp); u < A; u += sp * R(&c, 0.6f, 1.6f)) {
        dq_paint_landscape_columns(sc, u, col);
        float r0 = col[0];
        /* Groves with clearings between them, not a fence of trees. */
        float grove = dq_paint_fbm1(sc->seed + 71u, u * 1.2f, 2);
        if (r0 < 0.97f && r0 > 0.3f && grove > -0.05f && dq_paint_rng_unif(rng) < 0.6) {
            float v = r0 + R(&c, 0.005f, 0.03f);
            float h = R(&c, 0.16f, 0.36f) * (fmt == DQ_FMT_HANGING ? 0.7f : 1.0f);
            double pick = dq_paint_rng_unif(rng);
            int leaf_mat = st->palette == DQ_PAL_BLUEGREEN ? DQ_MAT_MALACHITE
                           : st->palette == DQ_PAL_LIGHT   ? DQ_MAT_INDIGO
                                                           : 0;
            size_t first = sc->n_prims;
            if (pick < 0.4)
                pine(&c, u, v, h, 0.9f);
            else if (pick < 0.7)
                bare_tree(&c, u, v, h * 0.9f, 0.85f);
            else
                leafy_tree(&c, u, v, h * 0.8f, 0.85f, leaf_mat);
            dq_paint_tag(sc, first, DQ_SPAN_FOLIAGE, 0);
        }
        for (int k = 1; k < 3 && k < sc->n_layers; k++)
            if (col[k] < 0.9f && dq_paint_rng_unif(rng) < 0.35) {
                float a = 0.75f * (1.0f - sc->layers[k].depth * 0.6f);
                size_t first = sc->n_prims;
                if (dq_paint_rng_unif(rng) < 0.3)
                    pine(&c, u, col[k] + 0.004f, R(&c, 0.04f, 0.07f), a);
                else
                    moss_dots(&c, u, col[k] + 0.003f, 0.02f, 6, a);
                dq_paint_tag(sc, first, DQ_SPAN_FOLIAGE, k);
            }
    }

    /* Water: ripples where nothing stands, boats, and people on the banks. */
    int n_boats = 0, max_boats = fmt == DQ_FMT_HANDSCROLL ? 1 + (int)(A / 5.0f) : 1;
    for (int tries = 0; tries < 4000; tries++) {
        float u = R(&c, 0.05f, A - 0.05f), v = R(&c, 0.72f, 0.97f);
        if (covered(sc, u, v, col) > 0)
            continue;
        float w = R(&c, 0.01f, 0.05f);
        if (covered(sc, u - w, v, col) > 0 || covered(sc, u + w, v, col) > 0)
            continue;
        if (n_boats < max_boats && v > 0.8f && v < 0.92f && dq_paint_rng_unif(rng) < 0.05) {
            float bl = fmt == DQ_FMT_HANGING ? 0.05f : 0.08f;
            if (covered(sc, u - bl, v, col) == 0 && covered(sc, u + bl, v, col) == 0) {
                size_t first = sc->n_prims;
                boat(&c, u, v, bl);
                dq_paint_tag(sc, first, DQ_SPAN_BOAT, base_layer(sc, u, v, col));
                n_boats++;
                continue;
            }
        }
        if (dq_paint_rng_unif(rng) < 0.25) {
            size_t first = sc->n_prims;
            dq_paint_add_capsule(sc, DQ_TGT_INK, 0, u - w, v, u + w, v + R(&c, -0.002f, 0.002f),
                                 0.7f * c.px, 0.5f * c.px, 0.35f * ink, 0.4f);
            dq_paint_tag(sc, first, DQ_SPAN_WATER, base_layer(sc, u, v, col));
        }
    }
    int n_fig = fmt == DQ_FMT_HANDSCROLL ? (int)(A / 3.0f) + 1 : 1;
    for (int i = 0, tries = 0; i < n_fig && tries < 400; tries++) {
        float u = R(&c, 0.1f, A - 0.1f);
        dq_paint_landscape_columns(sc, u, col);
        if (col[0] > 0.95f || col[0] < 0.5f)
            continue;
        float v = col[0] + 0.03f;
        size_t m0 = sc->n_prims, first = m0;
        if (dq_paint_rng_unif(rng) < 0.5) {
            pavilion(&c, u, v, fmt == DQ_FMT_HANGING ? 0.05f : 0.07f,
                     st->palette == DQ_PAL_BLUEGREEN ? DQ_MAT_VERMILION : 0);
            dq_paint_tag(sc, first, DQ_SPAN_BUILDING, 0);
            first = sc->n_prims;
            figure(&c, u + 0.02f, v, 0.025f, pig_figure);
            dq_paint_motif_mark(sc, DQ_MOTIF_PAVILION, m0, NULL);
        } else {
            figure(&c, u, v, 0.035f, pig_figure);
            figure(&c, u + 0.022f, v + 0.002f, 0.025f, DQ_MAT_INDIGO);
            dq_paint_motif_mark(sc, DQ_MOTIF_FIGURES, m0, NULL);
        }
        dq_paint_tag(sc, first, DQ_SPAN_FIGURE, 0);
        i++;
    }
}
