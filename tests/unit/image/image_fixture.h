/*
 * image_fixture.h: test pyramids for the image tests. Builds a synthetic master (a grid of
 * 50-px squares, each its own colour, plus a diagonal ramp) with libvips, saves it as .v and as
 * JPEG pyramids the way ingest does (directory levels and SubIFD levels), a 1-band pyramid and
 * a deflate pyramid, all in a mkdtemp() folder that fx_teardown removes. Included by
 * test_pyramid.c and test_render.c only.
 */
#ifndef DQ_IMAGE_FIXTURE_H
#define DQ_IMAGE_FIXTURE_H

#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "dq_test.h"
#include "image/image.h"

/* 1500 = 5 * 256 + 220 and 1000 = 3 * 256 + 232: every level has partial edge tiles. */
#define FX_W 1500
#define FX_H 1000

typedef struct {
    char dir[512];
    char master[640];   /* .v, the exact pixels */
    char tif[640];      /* JPEG Q90 pyramid, levels as directories */
    char tif_sub[640];  /* JPEG Q90 pyramid, levels as SubIFDs */
    char tif_gray[640]; /* 1-band JPEG pyramid */
    char tif_zip[640];  /* deflate pyramid (not JPEG tiles) */
    VipsImage *img;     /* the master, in memory */
} fx_t;

static inline VipsImage *fx_make_master(int w, int h)
{
    uint8_t *pix = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            uint8_t *p = pix + ((size_t)y * w + x) * 3;
            int i = x / 50, j = y / 50;
            p[0] = (uint8_t)(40 + (i * 37) % 180);
            p[1] = (uint8_t)(40 + (j * 59) % 180);
            p[2] = (uint8_t)(40 + ((i + j) * 23 + (x + y) / 40) % 180);
        }
    VipsImage *img =
        vips_image_new_from_memory_copy(pix, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    free(pix);
    img->Type = VIPS_INTERPRETATION_sRGB;
    return img;
}

static inline void fx_setup(fx_t *f)
{
    dq_err_t err = {0};
    DQ_REQUIRE(dq_image_init("test", 50, 1, &err) == 0);
    memset(f, 0, sizeof *f);
    char *d = dq_test_tmpdir("dq_image");
    snprintf(f->dir, sizeof f->dir, "%s", d);
    free(d);
    snprintf(f->master, sizeof f->master, "%s/master.v", f->dir);
    snprintf(f->tif, sizeof f->tif, "%s/pyr.tif", f->dir);
    snprintf(f->tif_sub, sizeof f->tif_sub, "%s/pyr_sub.tif", f->dir);
    snprintf(f->tif_gray, sizeof f->tif_gray, "%s/pyr_gray.tif", f->dir);
    snprintf(f->tif_zip, sizeof f->tif_zip, "%s/pyr_zip.tif", f->dir);
    f->img = fx_make_master(FX_W, FX_H);
    DQ_REQUIRE(vips_image_write_to_file(f->img, f->master, NULL) == 0);
    DQ_REQUIRE(vips_tiffsave(f->img, f->tif, "tile", TRUE, "pyramid", TRUE, "compression",
                             VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 90, "tile_width", 256,
                             "tile_height", 256, NULL) == 0);
    DQ_REQUIRE(vips_tiffsave(f->img, f->tif_sub, "tile", TRUE, "pyramid", TRUE, "subifd", TRUE,
                             "compression", VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 90,
                             "tile_width", 256, "tile_height", 256, NULL) == 0);
    VipsImage *g = NULL;
    DQ_REQUIRE(vips_colourspace(f->img, &g, VIPS_INTERPRETATION_B_W, NULL) == 0);
    DQ_REQUIRE(vips_tiffsave(g, f->tif_gray, "tile", TRUE, "pyramid", TRUE, "compression",
                             VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 90, "tile_width", 256,
                             "tile_height", 256, NULL) == 0);
    g_object_unref(g);
    DQ_REQUIRE(vips_tiffsave(f->img, f->tif_zip, "tile", TRUE, "pyramid", TRUE, "compression",
                             VIPS_FOREIGN_TIFF_COMPRESSION_DEFLATE, "tile_width", 256,
                             "tile_height", 256, NULL) == 0);
}

static inline void fx_teardown(fx_t *f)
{
    VIPS_UNREF(f->img);
    dq_test_rm_rf(f->dir);
}

/* Loads level `level` of a pyramid with vips' own reader, for reference pixels. */
static inline VipsImage *fx_load_level(const char *path, int level, int subifd)
{
    VipsImage *out = NULL;
    int rc = subifd && level > 0 ? vips_tiffload(path, &out, "subifd", level - 1, NULL)
                                 : vips_tiffload(path, &out, "page", level, NULL);
    return rc ? NULL : out;
}

/* Decodes an encoded image (jpg/png/webp/tif) into memory. */
static inline VipsImage *fx_decode(const dq_buf_t *b)
{
    VipsImage *t = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    if (!t)
        return NULL;
    VipsImage *m = vips_image_copy_memory(t);
    g_object_unref(t);
    return m;
}

/* Mean absolute difference over the common top-left area and the common bands of a and b.
 * Returns 999 when the images cannot be compared. */
static inline double fx_mean_diff(VipsImage *a, VipsImage *b)
{
    int w = DQ_MIN(a->Xsize, b->Xsize), h = DQ_MIN(a->Ysize, b->Ysize);
    int n = DQ_MIN(a->Bands, b->Bands);
    VipsImage *t[5] = {0};
    double mean = 999;
    if (!vips_extract_area(a, &t[0], 0, 0, w, h, NULL) &&
        !vips_extract_area(b, &t[1], 0, 0, w, h, NULL) &&
        !vips_extract_band(t[0], &t[2], 0, "n", n, NULL) &&
        !vips_extract_band(t[1], &t[3], 0, "n", n, NULL) &&
        !vips_subtract(t[2], t[3], &t[4], NULL)) {
        VipsImage *ab = NULL;
        if (!vips_abs(t[4], &ab, NULL)) {
            vips_avg(ab, &mean, NULL);
            g_object_unref(ab);
        }
    }
    for (int i = 0; i < 5; i++)
        VIPS_UNREF(t[i]);
    return mean;
}

#endif
