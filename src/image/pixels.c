/*
 * image/pixels.c: pictures as plain 8-bit sRGB pixels for analysis (style/, issue 13): a whole
 * file or pyramid shrunk to a long side, an uploaded image held in memory, or a region of a
 * pyramid. Shrinking happens on load (JPEG DCT scaling, the pyramid level nearest above the
 * target), so a gigapixel scroll costs about as much as its thumbnail. It does not analyse
 * anything; it only hands pixels over.
 */
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "image/image.h"

static int vfail(dq_err_t *err, int code, int status, const char *what)
{
    dq_err_set(err, code, status, "%s: %s", what, vips_error_buffer());
    vips_error_clear();
    return -1;
}

/* in (any bands, any format) -> 3-band uchar sRGB in caller memory; flattens alpha on white. */
static int to_rgb(VipsImage *in, dq_pixels_t *out, dq_err_t *err)
{
    VipsImage *t[4] = {NULL};
    int rc = -1;
    VipsImage *x = in;
    if (vips_image_hasalpha(x)) {
        VipsArrayDouble *bg = vips_array_double_newv(1, 255.0);
        int r = vips_flatten(x, &t[0], "background", bg, NULL);
        vips_area_unref(VIPS_AREA(bg));
        if (r)
            goto vf;
        x = t[0];
    }
    if (vips_colourspace(x, &t[1], VIPS_INTERPRETATION_sRGB, NULL) ||
        vips_cast(t[1], &t[2], VIPS_FORMAT_UCHAR, NULL))
        goto vf;
    x = t[2];
    if (x->Bands > 3) {
        if (vips_extract_band(x, &t[3], 0, "n", 3, NULL))
            goto vf;
        x = t[3];
    }
    if (x->Bands != 3) {
        dq_err_set(err, DQ_EUNSUP, 415, "image: cannot make RGB from %d bands", x->Bands);
        goto out;
    }
    size_t size = 0;
    void *mem = vips_image_write_to_memory(x, &size);
    if (!mem)
        goto vf;
    out->rgb = dq_xmalloc(size ? size : 1);
    memcpy(out->rgb, mem, size);
    g_free(mem);
    out->width = x->Xsize;
    out->height = x->Ysize;
    out->stride = (size_t)x->Xsize * 3;
    rc = 0;
    goto out;
vf:
    vfail(err, DQ_EIO, 500, "image: to RGB");
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    return rc;
}

int dq_image_pixels_file(const char *path, int side, dq_pixels_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    /* A pyramid (several pages) is read from the level nearest above the target by
     * dq_image_pixels_region: vips_thumbnail's own choice of page measures the short side and
     * gave 187x15 instead of 512x43 for a 24000x2000 scroll. Other files shrink on load. */
    VipsImage *hd = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!hd)
        return vfail(err, DQ_EIO, 500, path);
    int pages = vips_image_get_n_pages(hd), W = hd->Xsize, H = hd->Ysize;
    g_object_unref(hd);
    if (pages > 1)
        return dq_image_pixels_region(path, 0, 0, W, H, side, out, err);
    VipsImage *t = NULL;
    if (vips_thumbnail(path, &t, side, "size", VIPS_SIZE_DOWN, "height", side, NULL))
        return vfail(err, DQ_EIO, 500, path);
    int rc = to_rgb(t, out, err);
    g_object_unref(t);
    return rc;
}

int dq_image_pixels_buffer(const void *buf, size_t len, int side, uint64_t max_pixels,
                           dq_pixels_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!buf || len < 8)
        return dq_err_set(err, DQ_EINVAL, 400, "image: empty upload");
    /* Validate the header before decoding anything (house rule: cost bounded up front). */
    const char *loader = vips_foreign_find_load_buffer(buf, len);
    if (!loader) {
        vips_error_clear();
        return dq_err_set(err, DQ_EINVAL, 400, "image: not a JPEG, PNG, WebP, TIFF or JP2 image");
    }
    VipsImage *h = vips_image_new_from_buffer(buf, len, "", "access", VIPS_ACCESS_SEQUENTIAL, NULL);
    if (!h)
        return vfail(err, DQ_EINVAL, 400, "image: unreadable upload");
    uint64_t px = (uint64_t)h->Xsize * (uint64_t)h->Ysize;
    g_object_unref(h);
    if (max_pixels && px > max_pixels)
        return dq_err_set(err, DQ_ELIMIT, 413, "image: upload has %llu pixels, limit %llu",
                          (unsigned long long)px, (unsigned long long)max_pixels);
    VipsImage *t = NULL;
    if (vips_thumbnail_buffer((void *)buf, len, &t, side, "size", VIPS_SIZE_DOWN, "height", side,
                              NULL))
        return vfail(err, DQ_EINVAL, 400, "image: cannot decode upload");
    int rc = to_rgb(t, out, err);
    g_object_unref(t);
    return rc;
}

int dq_image_pixels_region(const char *pyramid_path, int x, int y, int w, int h, int side,
                           dq_pixels_t *out, dq_err_t *err)
{
    memset(out, 0, sizeof(*out));
    VipsImage *t[3] = {NULL};
    int rc = -1;
    if (!(t[0] = vips_image_new_from_file(pyramid_path, "access", VIPS_ACCESS_RANDOM, NULL)))
        return vfail(err, DQ_EIO, 500, pyramid_path);
    int W = t[0]->Xsize, H = t[0]->Ysize;
    if (w <= 0 || h <= 0 || x < 0 || y < 0 || x >= W || y >= H) {
        dq_err_set(err, DQ_EINVAL, 400, "image: region %d,%d,%d,%d outside the %dx%d image", x, y,
                   w, h, W, H);
        goto out;
    }
    if (x + w > W)
        w = W - x;
    if (y + h > H)
        h = H - y;
    /* The smallest pyramid page that still has at least side pixels along the region's long
     * side (each page halves the one before). */
    int n_pages = vips_image_get_n_pages(t[0]), page = 0, L = DQ_MAX(w, h);
    while (page + 1 < n_pages && (L >> (page + 1)) >= side)
        page++;
    if (page > 0) {
        VIPS_UNREF(t[0]);
        if (!(t[0] = vips_image_new_from_file(pyramid_path, "page", page, "access",
                                              VIPS_ACCESS_RANDOM, NULL)))
            goto vf;
    }
    double f = (double)t[0]->Xsize / W;
    int lx = (int)(x * f), ly = (int)(y * f);
    int lw = DQ_MAX(1, (int)(w * f)), lh = DQ_MAX(1, (int)(h * f));
    lw = DQ_MIN(lw, t[0]->Xsize - lx);
    lh = DQ_MIN(lh, t[0]->Ysize - ly);
    if (vips_extract_area(t[0], &t[1], lx, ly, lw, lh, NULL))
        goto vf;
    double s = (double)side / DQ_MAX(lw, lh);
    if (s < 1.0) {
        if (vips_resize(t[1], &t[2], s, NULL))
            goto vf;
    } else if (vips_copy(t[1], &t[2], NULL)) {
        goto vf;
    }
    rc = to_rgb(t[2], out, err);
    goto out;
vf:
    vfail(err, DQ_EIO, 500, pyramid_path);
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    return rc;
}

void dq_pixels_free(dq_pixels_t *p)
{
    if (!p)
        return;
    free(p->rgb);
    p->rgb = NULL;
}
