/*
 * cli/spectral_stack.h: a band stack on disk, read and turned into calibrated, registered
 * reflectance (spectral_stack.c), and the stored form of a capture's bands. Shared by
 * `danqing spectral` (cmd_spectral.c) and the HTTP handlers that read stored bands; it is
 * the glue between image/ (files) and spectral/ (science), which do not know each other.
 */
#ifndef DQ_SPECTRAL_STACK_H
#define DQ_SPECTRAL_STACK_H

#include <limits.h>
#include <stdint.h>

#include "core/core.h"
#include "spectral/spectral.h"

/* Stored bands are uint16: value = round(reflectance * DQ_STACK_SCALE), so reflectance up
 * to 1.31 (and UV emission in the same units) fits, with 2e-5 steps. */
#define DQ_STACK_SCALE 50000.0
#define DQ_STACK_MAX 24

/* A band's frame in memory (spectral_stack.c). */
typedef struct dq_stack_frame dq_stack_frame_t;

typedef struct {
    char name[32];
    char kind[24]; /* "reflectance", "uv_fluorescence", "visible" */
    double nm;     /* reflectance wavelength, UV excitation, 0 for visible */
    char file[256], white[256];
    double white_value; /* of the white frame (UV: the fluorescence standard) */
    int channels;       /* 1 or 3 (from the file) */
} dq_stack_spec_t;

typedef struct {
    char dir[PATH_MAX];
    int raw;          /* 1: raw frames (a dark frame or targets): calibrate */
    char dark[256];   /* "" when none */
    int reference;    /* index of the registration reference */
    dq_spec_rect_t work; /* the object in the frame; w 0 = whole frame */
    dq_spec_rect_t white_rects[16];
    int n_white;
    double white_refl;
    dq_spec_step_t steps[32];
    int n_steps;
    int n;
    dq_stack_spec_t b[DQ_STACK_MAX];
    uint64_t max_pixels;
    /* Filled by dq_stack_prepare, read-only afterwards: */
    int fw, fh;        /* frame size */
    float *dark_px;    /* fw*fh or NULL (owned) */
    dq_stack_frame_t *ref_frame; /* the reference band, loaded and fitted (owned) */
    dq_spec_cal_t ref_cal[3];
    dq_spec_rect_t wins[15]; /* registration windows (dq_spec_reg_windows) */
    int n_win, side;
    float **ref_win;   /* the reference's n_win windows, side*side each (owned) */
} dq_stack_t;

typedef struct {
    int w, h, channels, bits;
    uint16_t *px; /* w*h*channels interleaved, calibrated, registered and cropped, in the stored
                   * encoding: dq_stack_encode(reflectance) (owned) */
    double dx, dy, peak;
    dq_spec_cal_t cal[3];
} dq_stack_band_t;

/* Reads DIR's description: bands.json when present (see docs/spectral.md), else the file
 * names (r<nm>.*, ir<nm>.*, uv<nm>.*, vis.*; png, tif, jpg). Checks names, kinds and that
 * every file exists. Errors: DQ_ENOTFOUND (no dir, no bands), DQ_EINVAL (bad bands.json). */
int dq_stack_open(const char *dir, uint64_t max_pixels, dq_stack_t *st, dq_err_t *err);
/* Loads the dark frame and the reference band (fits its calibration, keeps its registration
 * windows) and checks frame sizes. */
int dq_stack_prepare(dq_stack_t *st, dq_err_t *err);
/* Band i: loaded, calibrated (raw stacks), registered to the reference at subpixel accuracy
 * (the reference itself gets shift 0), cropped to the work rectangle and encoded for storage,
 * row by row: memory holds the band's 16-bit frame and its 16-bit output, no float plane.
 * Reads st only, so distinct bands may run on several threads at once after
 * dq_stack_prepare. out owned by the caller (dq_stack_band_free). */
int dq_stack_band(const dq_stack_t *st, int i, dq_stack_band_t *out, dq_err_t *err);
/* Band i as dq_stack_band makes it, written straight to path as the stored pyramid
 * (dq_image_save_u16_pyramid's file, byte for byte) without ever holding the whole band: vips
 * pulls strips, each resampled from the frame on demand, on several threads. out gets the
 * record (size, channels, shift, calibration) and no pixels (out->px NULL). Same threading
 * rules as dq_stack_band. */
int dq_stack_band_save(const dq_stack_t *st, int i, const char *path, dq_stack_band_t *out,
                       dq_err_t *err);
/* The stored encoding of a reflectance: round(v * DQ_STACK_SCALE), clamped to 0..65535. */
uint16_t dq_stack_encode(float v);
/* Bytes dq_stack_band_save needs for band i at its peak (frame and white frame; the output is
 * made in strips), for callers that decide how many bands to run at once. */
size_t dq_stack_band_bytes(const dq_stack_t *st, int i);
void dq_stack_band_free(dq_stack_band_t *b);
void dq_stack_close(dq_stack_t *st);

/* ---- stored captures, in the blob store (src/blob: the data directory, a POSIX mount, S3) */
struct dq_blob;
/* The store key of file `file` ("r550.tif", "pigments.png") of capture id:
 * "layers/spectral/<id>/<file>" (new string). */
char *dq_stack_key(const char *capture_id, const char *file);
/* The key of band `name`: dq_stack_key(id, "<name>.tif") (new string). */
char *dq_stack_band_key(const char *capture_id, const char *name);
/* Loads the stored reflectance bands named in names[0..n) of a capture from store as planes
 * (each w*h floats in reflectance units, owned by the caller: free each and the array). */
int dq_stack_load_stored(struct dq_blob *store, const char *capture_id, const char *const *names,
                         int n, float ***planes, int *w, int *h, dq_err_t *err);
/* The keys of every file of a capture: its bands (doc: the capture record, bands[].name) and
 * its derived layers (layers: the JSON array dq_catalog_capture_layers gives, doc.file). Calls
 * cb(ud, key, sha256 or NULL, size) for each (key borrowed for the call; sha256 is the
 * record's, NULL for captures stored before checksums were kept). Stops at the first cb != 0
 * and returns it. */
int dq_stack_each_file(const char *capture_id, const char *doc, const char *layers,
                       int (*cb)(void *ud, const char *key, const char *sha256, uint64_t size),
                       void *ud);
/* Removes every file of a capture (dq_stack_each_file's keys) from store, and for a file store
 * the capture's directory once empty. Missing files are fine. 0, or -1 with err (the first
 * failure; the others are still tried). */
int dq_stack_remove_files(struct dq_blob *store, const char *capture_id, const char *doc,
                          const char *layers, dq_err_t *err);

#endif
