/*
 * paint/texture.c: the painter's randomness and its ground. A seeded PRNG (xoshiro256**,
 * seeded through splitmix64) for scene building, hash-based value noise and fbm for
 * everything evaluated per pixel, and the support: paper fibres or silk weave, age toning,
 * stains. It draws no strokes; landscape.c and flora.c do.
 * Everything here is a pure function of its arguments, so tiles rendered by any thread in
 * any order give the same bytes (the determinism the generator promises).
 */
#include <math.h>

#include "paint/paint.h"

/* ---------------------------------------------------------------- PRNG */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void dq_paint_rng_seed(dq_paint_rng_t *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t dq_paint_rng_next(dq_paint_rng_t *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double dq_paint_rng_unif(dq_paint_rng_t *r)
{
    return (double)(dq_paint_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

double dq_paint_rng_range(dq_paint_rng_t *r, double a, double b)
{
    return a + (b - a) * dq_paint_rng_unif(r);
}

double dq_paint_rng_normal(dq_paint_rng_t *r, double mean, double sd)
{
    /* Box-Muller; one draw wasted, which keeps the generator stateless beyond s[]. */
    double u1 = dq_paint_rng_unif(r), u2 = dq_paint_rng_unif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return mean + sd * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

int dq_paint_rng_int(dq_paint_rng_t *r, int lo, int hi)
{
    return lo + (int)(dq_paint_rng_unif(r) * (hi - lo + 1));
}

/* ---------------------------------------------------------------- noise */

uint32_t dq_paint_hash3(uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t h = a * 0x8da6b343u ^ b * 0xd8163841u ^ c * 0xcb1ab31fu;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    h *= 0x846ca68bu;
    h ^= h >> 16;
    return h;
}

/* Lattice value in [-1, 1]. */
static float lattice(uint32_t seed, int32_t x, int32_t y)
{
    return (float)(dq_paint_hash3((uint32_t)x, (uint32_t)y, seed) >> 8) * (2.0f / 16777216.0f) -
           1.0f;
}

static float fade(float t)
{
    return t * t * (3.0f - 2.0f * t);
}

float dq_paint_noise2(uint32_t seed, float x, float y)
{
    float fx = floorf(x), fy = floorf(y);
    int32_t ix = (int32_t)fx, iy = (int32_t)fy;
    float tx = fade(x - fx), ty = fade(y - fy);
    float a = lattice(seed, ix, iy), b = lattice(seed, ix + 1, iy);
    float c = lattice(seed, ix, iy + 1), d = lattice(seed, ix + 1, iy + 1);
    float ab = a + (b - a) * tx, cd = c + (d - c) * tx;
    return ab + (cd - ab) * ty;
}

float dq_paint_fbm2(uint32_t seed, float x, float y, int octaves)
{
    float sum = 0, amp = 0.5f, norm = 0;
    for (int o = 0; o < octaves; o++) {
        sum += amp * dq_paint_noise2(seed + (uint32_t)o * 101u, x, y);
        norm += amp;
        /* The rotation-free lacunarity 2.03 keeps octaves from lining up on the lattice. */
        x = x * 2.03f + 17.1f;
        y = y * 2.03f + 5.3f;
        amp *= 0.5f;
    }
    return sum / norm;
}

float dq_paint_noise1(uint32_t seed, float x)
{
    return dq_paint_noise2(seed, x, 0.5f);
}

float dq_paint_fbm1(uint32_t seed, float x, int octaves)
{
    return dq_paint_fbm2(seed, x, 0.37f, octaves);
}

float dq_paint_smooth(float e0, float e1, float x)
{
    float t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3.0f - 2.0f * t);
}

/* ---------------------------------------------------------------- the support */

/* Age toning and surface texture at (u, v) in scene units. tone is 0 (fresh) .. 1 (deep
 * brown); tex multiplies the support's reflectance around 1. px is one pixel in scene units:
 * detail finer than about two pixels is faded out instead of aliasing into moire. */
void dq_paint_substrate(const dq_paint_scene_t *sc, float u, float v, float px, float *tone,
                        float *tex)
{
    uint32_t s = sc->seed ^ 0x5eedu;
    /* Toning: the work's age, mottled at the scale of handling and light exposure, darker
     * towards the edges that were handled and exposed when rolled. */
    float t = sc->age + 0.10f * dq_paint_fbm2(s, u * 3.0f, v * 3.0f, 3);
    float ex = DQ_MIN(u, sc->aspect - u), ey = DQ_MIN(v, 1.0f - v);
    float edge = DQ_MIN(ex, ey);
    t += 0.18f * (1.0f - dq_paint_smooth(0.0f, 0.06f, edge));
    /* Water stains: a paler pool ringed by a darker tide line. */
    for (int i = 0; i < sc->n_stains; i++) {
        const float *st = sc->stains[i];
        float dx = u - st[0], dy = v - st[1];
        float d = sqrtf(dx * dx + dy * dy) + 0.25f * st[2] * dq_paint_fbm2(s + 7u, u * 9, v * 9, 3);
        if (d < st[2] * 1.05f) {
            float ring = 1.0f - dq_paint_smooth(0.0f, st[2] * 0.04f, fabsf(d - st[2]));
            t += 0.07f * ring + 0.03f * (d < st[2]);
        }
    }
    *tone = t < 0 ? 0 : t > 1 ? 1 : t;

    float k = 1.0f;
    if (sc->support == DQ_PAINT_SILK) {
        /* Plain weave: warp and weft threads about 3 px apart at the default scale. */
        float period = sc->weave;
        if (period > 2.5f * px) {
            float wx = sinf(u * 6.2831853f / period), wy = sinf(v * 6.2831853f / period);
            float w = 0.5f * (wx * wx + wy * wy);
            k += 0.035f * (w - 0.5f);
        }
        /* Slubs: threads a little thicker or thinner along their run. */
        k += 0.02f * dq_paint_noise2(s + 3u, u * 2.0f / period * 0.02f, v * 40.0f);
    } else {
        /* Paper: long fibres, here anisotropic noise stretched along random directions. */
        float f1 = dq_paint_noise2(s + 4u, u * 900.0f, v * 140.0f);
        float f2 = dq_paint_noise2(s + 5u, u * 160.0f, v * 950.0f);
        float fib = (1.0f - dq_paint_smooth(0.0012f, 0.004f, px)) * (f1 * f1 + f2 * f2);
        k += 0.03f * fib - 0.015f;
        k += 0.015f * dq_paint_noise2(s + 6u, u * 60.0f, v * 60.0f);
    }
    *tex = k;
}
