/*
 * image/raster_fit.c: a whole image shrunk to fit a box, as a dq_raster_t (raster.c), for
 * analysis code that must not include vips (scene/, issue 14) and must not decode a gigapixel
 * scroll to look at it: a pyramidal TIFF is read from the smallest level that still covers the
 * box. Not for serving: the tile path is pyramid.c/render.c.
 */
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "image/image.h"

static int fit_fail(dq_err_t *err, const char *what, const char *path)
{
    dq_err_set(err, DQ_EIO, 500, "%s %s: %s", what, path, vips_error_buffer());
    vips_error_clear();
    return -1;
}

int dq_raster_load_fit(const char *path, int bands, int max_w, int max_h, dq_raster_t *out,
                       dq_err_t *err)
{
    VipsImage *t[5] = {NULL};
    uint8_t *px = NULL;
    memset(out, 0, sizeof(*out));
    if (bands != 1 && bands != 3)
        return dq_err_set(err, DQ_EINVAL, 400, "raster: %d bands (1 or 3)", bands);
    if (max_w < 1 || max_h < 1 || max_w > 65536 || max_h > 65536)
        return dq_err_set(err, DQ_EINVAL, 400, "raster: bad box %dx%d", max_w, max_h);
    if (!dq_fs_exists(path))
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such file: %s", path);
    /* A pyramid (ingest writes its levels as TIFF pages): read the smallest level that still
     * covers the box, so a gigapixel scroll costs what its small level costs. vips_thumbnail
     * alone picked too small a page for these files. Then thumbnail keeps the aspect; "size
     * down" never enlarges a small layer. */
    const char *loader = vips_foreign_find_load(path);
    int page = 0;
    if (loader && strstr(loader, "Tiff")) {
        VipsImage *p0 = vips_image_new_from_file(path, NULL);
        int n_pages = p0 ? vips_image_get_n_pages(p0) : 1;
        double fit = p0 ? DQ_MIN((double)max_w / p0->Xsize, (double)max_h / p0->Ysize) : 1;
        int need_w = p0 ? (int)(p0->Xsize * fit) : 0, need_h = p0 ? (int)(p0->Ysize * fit) : 0;
        VIPS_UNREF(p0);
        for (int i = 1; i < n_pages; i++) {
            VipsImage *pi = vips_image_new_from_file(path, "page", i, NULL);
            int ok = pi && pi->Xsize >= need_w && pi->Ysize >= need_h;
            VIPS_UNREF(pi);
            vips_error_clear();
            if (!ok)
                break;
            page = i;
        }
    }
    VipsImage *src = page ? vips_image_new_from_file(path, "page", page, NULL)
                          : vips_image_new_from_file(path, NULL);
    if (!src ||
        vips_thumbnail_image(src, &t[0], max_w, "height", max_h, "size", VIPS_SIZE_DOWN, NULL)) {
        VIPS_UNREF(src);
        fit_fail(err, "raster load", path);
        goto out;
    }
    VIPS_UNREF(src);
    VipsImage *im = t[0];
    if (vips_image_hasalpha(im)) {
        VipsArrayDouble *white = vips_array_double_newv(1, 255.0);
        int bad = vips_flatten(im, &t[1], "background", white, NULL);
        vips_area_unref(VIPS_AREA(white));
        if (bad) {
            fit_fail(err, "raster flatten", path);
            goto out;
        }
        im = t[1];
    }
    if (vips_colourspace(im, &t[2], bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB,
                         NULL) ||
        vips_cast_uchar(t[2], &t[3], NULL)) {
        fit_fail(err, "raster convert", path);
        goto out;
    }
    im = t[3];
    if (im->Bands > bands) {
        if (vips_extract_band(im, &t[4], 0, "n", bands, NULL)) {
            fit_fail(err, "raster bands", path);
            goto out;
        }
        im = t[4];
    }
    size_t size = 0;
    if (!(px = vips_image_write_to_memory(im, &size))) {
        fit_fail(err, "raster read", path);
        goto out;
    }
    out->w = im->Xsize;
    out->h = im->Ysize;
    out->bands = bands;
    out->px = dq_xmalloc(size);
    memcpy(out->px, px, size);
    g_free(px);
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    return out->px ? 0 : -1;
}
