/*
 * paint: danqing's procedural painter. It paints a sample collection of Chinese paintings
 * (ink and blue-green landscapes, hanging scrolls, album leaves, fans, calligraphy) with
 * their ground truth: a per-pixel pigment map, multispectral bands computed from measured
 * pigment spectra, hidden underdrawing and retouching, condition captures at two dates with
 * change masks, a damaged copy, and catalog metadata. It does not ingest or serve anything.
 *
 * paint/ is the second module allowed to include vips (house style 3 and the design say only
 * image/ does). This is a deliberate, documented exception: the painter renders pictures, and
 * its per-pixel generators must be vips pipelines so that a gigapixel scroll streams through
 * bounded memory. It uses vips only for that and for encoding; it never reads untrusted files.
 *
 * Determinism: every pixel is a pure function of (scene, pixel position); scenes come from
 * a seeded xoshiro256** PRNG; files carry no time stamps or metadata. Same seed and scale,
 * same bytes, whatever the thread count.
 */
#ifndef DQ_PAINT_H
#define DQ_PAINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* ================================================================ public interface */

typedef struct {
    const char *out_dir;      /* created if missing; borrowed */
    const char *pigments_dir; /* holds hyppigments_selected_mean.csv; borrowed */
    uint64_t seed;
    double scale;     /* multiplies linear dimensions of the large handscroll(s) */
    const char *only; /* paint only this work id (e.g. "DQ-2026-0001"), or NULL for all */
    int no_truth;     /* 1: main images and metadata only */
    int quiet;        /* 1: no progress lines on stderr */
    int study;        /* > 0: paint the labelled study set instead (N works per school) */
    int composition_only; /* 1: build the scenes and write only composition.json (issue 17) */
} dq_paint_opts_t;

/* Paints the collection into o->out_dir: one folder per work (main.tif + truth/), plus
 * metadata.jsonl and manifest.json. vips must already be started (dq_image_init). Returns 0,
 * or -1 with err filled (DQ_EINVAL for bad options, DQ_EIO for files or vips). Not thread-safe
 * for the same out_dir. */
int dq_paint_collection(const dq_paint_opts_t *o, dq_err_t *err);

/* The study set (study.c, issue 13): o->study works per school, at most 1,200 px (times
 * min(scale, 1)) on the long side, in the collection's layout (DIR/<id>/main.tif,
 * metadata.jsonl, manifest.json with each work's id, school and dynasty); ids carry the seed.
 * dq_paint_collection calls it when o->study > 0. Returns 0 or -1 with err. */
int dq_paint_study(const dq_paint_opts_t *o, dq_err_t *err);

/* The generator version written into manifest.json. */
#define DQ_PAINT_VERSION "danqing-paint 1.0"

/* ================================================================ internals shared by the files of
 * paint/ */
/* Not a contract for other modules: these exist only so that paint's files can share types.
 * Scene units: v runs 0..1 from the top to the bottom of the work, u runs 0..aspect. */

/* ---- PRNG and noise (texture.c) */
typedef struct {
    uint64_t s[4];
} dq_paint_rng_t;
void dq_paint_rng_seed(dq_paint_rng_t *r, uint64_t seed);
uint64_t dq_paint_rng_next(dq_paint_rng_t *r);
double dq_paint_rng_unif(dq_paint_rng_t *r);
double dq_paint_rng_range(dq_paint_rng_t *r, double a, double b);
double dq_paint_rng_normal(dq_paint_rng_t *r, double mean, double sd);
int dq_paint_rng_int(dq_paint_rng_t *r, int lo, int hi); /* lo..hi inclusive */
uint32_t dq_paint_hash3(uint32_t a, uint32_t b, uint32_t c);
float dq_paint_noise2(uint32_t seed, float x, float y); /* -1..1 */
float dq_paint_fbm2(uint32_t seed, float x, float y, int octaves);
float dq_paint_noise1(uint32_t seed, float x);
float dq_paint_fbm1(uint32_t seed, float x, int octaves);
float dq_paint_smooth(float e0, float e1, float x);

/* ---- materials (spectral.c). The ids are the values of pigment_map.png. */
enum {
    DQ_MAT_NONE = 0, /* bare support */
    DQ_MAT_INK,      /* carbon ink: ink_density.png, never in pigment_map.png */
    DQ_MAT_LEAD_WHITE,
    DQ_MAT_CINNABAR,
    DQ_MAT_VERMILION,
    DQ_MAT_AZURITE,
    DQ_MAT_MALACHITE,
    DQ_MAT_INDIGO,
    DQ_MAT_YELLOW_OCHRE,
    DQ_MAT_RED_OCHRE,
    DQ_MAT_ORPIMENT,
    DQ_MAT_MOUNT,  /* the mounting around a fan leaf (modelled) */
    DQ_MAT_LINING, /* lining paper seen through losses (modelled) */
    DQ_MAT_N
};

enum { DQ_PAINT_PAPER = 0, DQ_PAINT_SILK = 1 };

#define DQ_PAINT_MAX_WL 256
typedef struct {
    int n_wl;
    double wl[DQ_PAINT_MAX_WL];
    double refl[DQ_MAT_N][DQ_PAINT_MAX_WL]; /* measured (CSV) or modelled, per wavelength */
} dq_paint_spectra_t;

typedef struct {
    const char *name;   /* e.g. "azurite" */
    const char *column; /* CSV column, or NULL when modelled */
    const char *zh;
} dq_paint_material_t;
extern const dq_paint_material_t dq_paint_materials[DQ_MAT_N]; /* read-only table */

/* Reads <dir>/hyppigments_selected_mean.csv and fills s (measured materials from their
 * columns, modelled ones from docs/generate.md's formulas). Returns 0 or -1 with err. */
int dq_paint_spectra_load(dq_paint_spectra_t *s, const char *dir, dq_err_t *err);
/* Reflectance of a material at nm, linearly interpolated (clamped at the ends). */
double dq_paint_spectra_at(const dq_paint_spectra_t *s, int mat, double nm);
/* Reflectance of the bare support (paper or silk) at nm for tone 0..1. */
double dq_paint_support_refl(int support, double tone, double nm);
/* Linear RGB (white = 1) of a reflectance spectrum under an equal-energy illuminant. */
void dq_paint_spectrum_rgb(const dq_paint_spectra_t *s, const double *refl, float rgb[3]);

/* ---- scenes */
enum { DQ_PRIM_CAPSULE = 0, DQ_PRIM_ELLIPSE, DQ_PRIM_NEEDLES, DQ_PRIM_STAMP };
/* DQ_TGT_GLAZE: a colour laid over colour (glaze.c); it acts only where colour lies already. */
enum { DQ_TGT_INK = 0, DQ_TGT_PIGMENT, DQ_TGT_UNDER, DQ_TGT_RETOUCH, DQ_TGT_ERASE, DQ_TGT_GLAZE };

typedef struct {
    uint8_t kind, target, mat;
    float alpha; /* peak density / coverage 0..1 */
    float dry;   /* 0..1: dry-brush streaks (flying white) */
    float soft;  /* edge softness in scene units, added to one pixel */
    float a[8];  /* capsule: x0 y0 x1 y1 r0 r1; ellipse/needles: cx cy rx ry cos sin; stamp: x y
                    size-of-one-stamp-pixel */
    float bx0, by0, bx1, by1; /* bounding box */
    uint32_t seed;
    int stamp; /* index into scene stamps */
} dq_paint_prim_t;

typedef struct {
    uint8_t *mask; /* owned by the scene */
    int w, h;
} dq_paint_stamp_t;

#define DQ_PAINT_MAX_LAYERS 8
typedef struct {
    float horizon; /* v of the layer's base line */
    float depth;   /* 0 near .. 1 far */
    float rough;   /* amplitude of small ridges */
    float ink;     /* wash density near the ridge */
    float line;    /* outline density */
    float fade;    /* how far below the ridge the wash dissolves into mist */
    float texture; /* cun density */
    int pigment;   /* colour wash on this layer (0: none) */
    int pigment2;  /* second colour, lower on the slope */
    float pig_cov; /* colour coverage */
    int n_peaks;
    float peaks[12][3]; /* centre u, height, half width */
} dq_paint_layer_t;

enum { DQ_CUN_HEMP = 0, DQ_CUN_AXE, DQ_CUN_RAIN, DQ_CUN_MIDOT };
enum { DQ_SCENE_LANDSCAPE = 0, DQ_SCENE_FLOWER, DQ_SCENE_CALLIGRAPHY };

typedef struct {
    int kind, support, cun;
    uint32_t seed;
    float aspect; /* width / height */
    float age;    /* base toning 0..1 */
    float weave;  /* silk thread period in scene units */
    int n_stains;
    float stains[4][3]; /* u, v, radius */
    dq_paint_layer_t layers[DQ_PAINT_MAX_LAYERS];
    int n_layers; /* layers[0] nearest */
    int n_mist;
    float mist[6][3];  /* v centre, half thickness, strength */
    float dry;         /* school's brush dryness */
    int fan;           /* 1: only the arc-shaped leaf is painted */
    float fan_geom[4]; /* centre u, centre v, inner radius, outer radius; half angle in fan_half */
    float fan_half;
    int waterfall;
    float wf[3]; /* u, v top, v bottom */
    dq_paint_prim_t *prims;
    size_t n_prims, cap_prims;
    dq_paint_stamp_t *stamps;
    size_t n_stamps, cap_stamps;
    float zone[2];     /* landscape only between these u (handscroll ends stay blank); 0,0: all */
    float hidden[8];   /* bounding boxes (u0 v0 u1 v1) of the underdrawing and the retouching */
    float perch[4][2]; /* where birds sit (flora.c), for truth.json */
    int n_perch;
    /* Condition model (condition.c): where losses, flaking and fading fall. */
    float damage; /* 0..1 overall severity */
    int n_tears;
    float tears[4][3]; /* u, v, length */
    /* Where the painter put what a lesson points at (composition.c, issue 17): filled as the
     * scene is built, read by dq_paint_composition_write; never drawn. Owned by the scene. */
    struct dq_paint_motif *motifs;
    size_t n_motifs, cap_motifs;
    /* What each run of strokes depicts (scene.c's ground truth): recorded by landscape.c as
     * it draws, consuming no randomness, so the pictures do not depend on it. */
    struct dq_paint_span *spans;
    size_t n_spans, cap_spans;
} dq_paint_scene_t;

/* ---- scene ground truth (scene.c): depth, mist, foliage, water, figures, boats */
enum {
    DQ_SPAN_FOLIAGE = 0, /* trees, pines, moss dots */
    DQ_SPAN_WATER,       /* ripples */
    DQ_SPAN_FIGURE,      /* people on the banks */
    DQ_SPAN_BOAT,        /* a boat with its fisherman */
    DQ_SPAN_BUILDING,    /* pavilions */
    DQ_SPAN_N
};
typedef struct dq_paint_span {
    size_t first, end; /* prims[first, end) */
    int cls;           /* DQ_SPAN_* */
    int layer;         /* the ridge layer it stands on (its depth) */
} dq_paint_span_t;
/* Records that the strokes added since prims[first] depict cls standing on layer. */
void dq_paint_tag(dq_paint_scene_t *sc, size_t first, int cls, int layer);
/* Writes tdir/scene/ (depth.png, the masks and scene.json) for a landscape scene at w x h,
 * the truth resolution (docs/generate.md "Scene layers"). Returns 0 or -1 with err. */
int dq_paint_scene_truth(const dq_paint_scene_t *sc, int w, int h, const char *tdir,
                         dq_err_t *err);
/* Coverage 0..1 of one stroke at scene point (u, v), px scene units per pixel (render.c). */
float dq_paint_prim_cover(const dq_paint_scene_t *sc, const dq_paint_prim_t *p, float u, float v,
                          float px);
/* The pixels of a tile (left, top, width, height) that stroke p may touch: [xa, xb) x
 * [ya, yb) relative to the tile; 0 when it misses the tile (render.c). */
int dq_paint_prim_box(const dq_paint_prim_t *p, int left, int top, int width, int height,
                      float px, int *xa, int *xb, int *ya, int *yb);
/* Band mist strength 0..1 at v for the column values col (landscape.c). */
float dq_paint_landscape_mist(const dq_paint_scene_t *sc, const float *col, float v);

void dq_paint_scene_free(dq_paint_scene_t *sc);

/* ---- motifs (composition.c): a named region the builder just drew */
enum {
    DQ_MOTIF_PINE = 0,
    DQ_MOTIF_BOAT, /* with the fisherman in it */
    DQ_MOTIF_PAVILION,
    DQ_MOTIF_FIGURES,
    DQ_MOTIF_BIRD,
    DQ_MOTIF_PLUM,
    DQ_MOTIF_SEAL,
    DQ_MOTIF_INSCRIPTION,
    DQ_MOTIF_COLOPHON,
    DQ_MOTIF_N
};
typedef struct dq_paint_motif {
    int kind;
    float u0, v0, u1, v1; /* scene units */
    char text[96];        /* a seal's reading or an inscription's first characters, or "" */
} dq_paint_motif_t;
/* Records motif kind covering the primitives sc->prims[first..n_prims) (their bounding
 * boxes); text (may be NULL) is copied. No-op when nothing was added. */
void dq_paint_motif_mark(dq_paint_scene_t *sc, int kind, size_t first, const char *text);
/* Composition overlays (composition.c, issue 17): writes DIR/<id>/composition.json for a
 * work whose scene is built: the three distances (hanging scrolls in the three distances),
 * the main masses (host and guest mountains, near bank, far ranges) and the motifs the
 * painter placed (pines, the fisherman's boat, pavilions, figures, waterfall, plum branch,
 * birds, seals, inscriptions), as canvas-pixel regions with bilingual notes that name their
 * glossary entries. Derived from the scene alone: it draws no random numbers, so every other
 * output stays byte-identical. docs/generate.md "Composition overlays". w, h: the master's
 * size. Returns 0 or -1 with err. */
int dq_paint_composition_write(const dq_paint_scene_t *sc, const char *work_id, int format,
                               int w, int h, const char *dir, dq_err_t *err);

/* Appends a primitive and computes its bounding box; returns it for further tweaks. */
dq_paint_prim_t *dq_paint_add_capsule(dq_paint_scene_t *sc, int target, int mat, float x0, float y0,
                                      float x1, float y1, float r0, float r1, float alpha,
                                      float dry);
dq_paint_prim_t *dq_paint_add_ellipse(dq_paint_scene_t *sc, int kind, int target, int mat, float cx,
                                      float cy, float rx, float ry, float angle, float alpha);
/* Takes mask (malloc'd, w*h bytes); places its top-left at (x, y), px scene units per pixel. */
dq_paint_prim_t *dq_paint_add_stamp(dq_paint_scene_t *sc, int target, int mat, uint8_t *mask, int w,
                                    int h, float x, float y, float px, float alpha);

/* Texture (texture.c): tone 0..1 and reflectance multiplier of the bare support. */
void dq_paint_substrate(const dq_paint_scene_t *sc, float u, float v, float px, float *tone,
                        float *tex);

/* Landscape fields (landscape.c). ridge[] receives each layer's ridge v at column u, then
 * DQ_PAINT_COL_EXTRA more per-column values the pixel function uses. */
#define DQ_PAINT_COL_EXTRA 2
void dq_paint_landscape_columns(const dq_paint_scene_t *sc, float u, float *ridge);
/* Ink density, colour id and coverage of the mountains at (u, v). */
void dq_paint_landscape_pixel(const dq_paint_scene_t *sc, const float *ridge, float u, float v,
                              float px, float *ink, int *mat, float *cov);
/* Builds a landscape scene: layers and trees, water, boats, figures, buildings. */
typedef struct {
    int format; /* DQ_FMT_* below */
    int cun;
    float ink;   /* overall ink density */
    float blank; /* 0..1: how much is left empty */
    float mist;
    float dry;
    int palette; /* DQ_PAL_* */
} dq_paint_style_t;
enum { DQ_FMT_HANDSCROLL = 0, DQ_FMT_HANGING, DQ_FMT_ALBUM, DQ_FMT_FAN };
enum { DQ_PAL_INK = 0, DQ_PAL_LIGHT, DQ_PAL_BLUEGREEN, DQ_PAL_FLOWER };
void dq_paint_landscape_build(dq_paint_scene_t *sc, const dq_paint_style_t *st,
                              dq_paint_rng_t *rng);
/* Flora (flora.c): a plum branch with blossoms, and optionally birds. */
void dq_paint_flower_build(dq_paint_scene_t *sc, const dq_paint_style_t *st, int n_birds,
                           dq_paint_rng_t *rng);

/* Text and seals (seal.c). Renders text in the Kai font as one vertical column per element
 * of cols, right to left, top-left at (u, v); height of one character in scene units. */
int dq_paint_add_text(dq_paint_scene_t *sc, const char *const *cols, int n_cols, float u, float v,
                      float char_h, float unit_px, float alpha, float *width_out, dq_err_t *err);
/* A seal: square, 2 or 4 characters, relief (zhu wen, red characters) or intaglio (bai wen,
 * white characters on red). */
int dq_paint_add_seal(dq_paint_scene_t *sc, const char *text, int relief, float u, float v,
                      float size, float unit_px, uint32_t seed, dq_err_t *err);

/* Hidden layers (condition.c): an abandoned underdrawing and a retouched patch. */
void dq_paint_add_hidden(dq_paint_scene_t *sc, dq_paint_rng_t *rng);

/* ---- the collection as data (works.c); read-only tables */
typedef struct {
    const char *id, *zh, *en, *desc_en, *desc_zh;
    int cun;
    float ink, ink_sd, blank, blank_sd, mist, dry;
    int palette;
} dq_paint_school_t;
typedef struct {
    const char *zh, *en, *dates, *seal;
} dq_paint_creator_t;
typedef struct {
    const char *object_type;
    int format;
    const char *subject;
    int school, creator;
    int width, height, support;
    const char *dynasty, *date_zh, *date_en;
    int year_from, year_to;
    const char *title_zh, *title_en, *title_pinyin, *medium_zh, *medium_en;
    double height_cm, width_cm;
    const char *poem[4];
    int n_birds;
    int big; /* 1: --scale above 1 enlarges it (the benchmark handscrolls) */
} dq_paint_work_t;
typedef struct {
    const char *reading, *owner;
} dq_paint_collector_t;
extern const dq_paint_school_t dq_paint_schools[];
extern const int dq_paint_n_schools;
extern const dq_paint_creator_t dq_paint_creators[];
extern const dq_paint_work_t dq_paint_works[];
extern const int dq_paint_n_works;
extern const dq_paint_collector_t dq_paint_collectors[];
extern const int dq_paint_n_collectors;

/* ---- rendering (render.c) */
/* Band layout of the state image (uchar): */
enum {
    DQ_ST_INK = 0,
    DQ_ST_MAT,
    DQ_ST_COV,
    DQ_ST_UNDER,
    DQ_ST_RETOUCH,
    DQ_ST_TONE,
    DQ_ST_TEX,
    DQ_ST_DAMAGE, /* dq_paint_damage_t flags as bits (truth-resolution states only) */
    DQ_ST_MAT2,   /* pigment over pigment: the other colour (0: none) ... */
    DQ_ST_COV2,   /* ... and its share of the pixel (part of DQ_ST_COV, never the larger part) */
    DQ_ST_N
};
/* Output modes of dq_paint_shade. */
enum {
    DQ_OUT_RGB = 0,  /* as painted, aged, undamaged */
    DQ_OUT_DAMAGED,  /* with the 2016 damage */
    DQ_OUT_COND2026, /* with 2016 + 2026 damage and fading, before camera changes */
    DQ_OUT_BAND,     /* reflectance at nm * 255 */
    DQ_OUT_UV,       /* UV-induced visible fluorescence, RGB */
    DQ_OUT_MAT,      /* one state band as is (band index in nm) */
    DQ_OUT_DAMAGE_MASK,
    DQ_OUT_CHANGE_LOSS,
    DQ_OUT_CHANGE_FLAKE,
    DQ_OUT_CHANGE_FADE,
    DQ_OUT_CHANGE_ANY,
};
/* The change masks (DQ_OUT_CHANGE_*) mark a pixel only where its noise-free 2016 and 2026
 * colours differ by at least this CIE 1976 colour difference (Delta E*ab): 2.3 is the just
 * noticeable difference (Sharma 2003, Digital Color Imaging Handbook, after Mahy et al. 1994).
 * The same rule for loss, flaking and fading: a change no photograph shows is no change. */
#define DQ_PAINT_CHANGE_JND 2.3

/* A state image (DQ_ST_N uchar bands) of sc at width x height; scene units are height pixels.
 * New reference (g_object_unref); sc must outlive it. NULL with err on failure. */
struct _VipsImage *dq_paint_render_state(const dq_paint_scene_t *sc, int width, int height,
                                         int with_damage, dq_err_t *err);
/* An output (DQ_OUT_*) computed from a state image; nm is the wavelength for DQ_OUT_BAND or
 * the state band for DQ_OUT_MAT. New reference; state, sc and sp must outlive it. */
struct _VipsImage *dq_paint_shade(struct _VipsImage *state, const dq_paint_scene_t *sc,
                                  const dq_paint_spectra_t *sp, int mode, double nm, dq_err_t *err);

/* The realistic capture (capture.c): raw 16-bit frames of every band with targets, uneven
 * light, misregistration and noise into tdir/capture/ (bands.json describes them), and what
 * only the painter knows into tdir/capture_truth.json. state is the truth-resolution state
 * image (in memory); randomness comes from (seed, work_idx) only. Returns 0 or -1 with err. */
int dq_paint_capture(struct _VipsImage *state, const dq_paint_scene_t *sc,
                     const dq_paint_spectra_t *sp, uint64_t seed, int work_idx, const char *tdir,
                     dq_err_t *err);

/* Glazes (glaze.c): adds pigment-over-pigment strokes to a blue-green landscape (palette
 * DQ_PAL_BLUEGREEN; other scenes are left alone) from the stream of (seed, work_seed). Returns
 * how many strokes it added. */
int dq_paint_glaze_build(dq_paint_scene_t *sc, int palette, uint64_t seed, uint32_t work_seed);

/* Damage flags at (u, v) (condition.c). */
typedef struct {
    uint8_t loss16, stain16, loss26, flake26, fade26, abrasion16;
} dq_paint_damage_t;
void dq_paint_damage_at(const dq_paint_scene_t *sc, float u, float v, float px,
                        dq_paint_damage_t *d);

/* ---- control pair (control.c, issue 12) */
/* Writes tdir/control_2026.jpg (state2016 seen through another camera pose, exposure and
 * white balance, drawn from its own stream keyed by seed and work_seed; the object unchanged)
 * and tdir/control_transform.json. state2016 is borrowed. Returns 0 or -1 with err. */
int dq_paint_control_pair(struct _VipsImage *state2016, uint64_t seed, uint32_t work_seed,
                          const char *tdir, dq_err_t *err);

#endif
