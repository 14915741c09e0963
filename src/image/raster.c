/*
 * image/raster.c: whole images in memory for the analysis modules (conserve/, ...), which work
 * on plain 8-bit pixel arrays and must not include vips (house style 3). Loading goes through
 * the same loader allow-list as ingest (dq_image_init) and converts to sRGB 8-bit with 1 or 3
 * bands; saving writes PNG (lossless: masks and derived layers). It does not tile or stream:
 * callers that must bound memory pass max_pixels.
 */
#include <string.h>

#include <vips/vips.h>

#include "image/image.h"

static int raster_vips_fail(dq_err_t *err, int code, const char *what, const char *path)
{
    char *m = vips_error_buffer_copy();
    size_t n = strlen(m);
    while (n && (m[n - 1] == '\n' || m[n - 1] == ' '))
        m[--n] = '\0';
    dq_err_set(err, code, code == DQ_EINVAL ? 400 : 500, "%s %s: %s", what, path, m);
    g_free(m);
    return -1;
}

int dq_raster_load(const char *path, int bands, uint64_t max_pixels, dq_raster_t *out,
                   dq_err_t *err)
{
    VipsImage *t[4] = {NULL};
    int rc = -1;
    memset(out, 0, sizeof(*out));
    if (bands != 1 && bands != 3)
        return dq_err_set(err, DQ_EINVAL, 400, "raster: bands must be 1 or 3, not %d", bands);
    if (!dq_fs_exists(path))
        return dq_err_set(err, DQ_ENOTFOUND, 404, "no such file: %s", path);
    if (!(t[0] = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL, NULL))) {
        raster_vips_fail(err, DQ_EINVAL, "cannot read", path);
        goto out;
    }
    uint64_t np = (uint64_t)t[0]->Xsize * (uint64_t)t[0]->Ysize;
    if (max_pixels && np > max_pixels) {
        dq_err_set(err, DQ_ELIMIT, 413, "%s: %dx%d is more than %llu pixels", path, t[0]->Xsize,
                   t[0]->Ysize, (unsigned long long)max_pixels);
        goto out;
    }
    /* Drop alpha, go to sRGB (or its luminance), then 8 bits. */
    VipsImage *in = t[0];
    if (vips_image_hasalpha(in)) {
        if (vips_flatten(in, &t[1], NULL))
            goto vfail;
        in = t[1];
    }
    VipsInterpretation want = bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    if (vips_colourspace(in, &t[2], want, NULL))
        goto vfail;
    if (vips_cast_uchar(t[2], &t[3], NULL))
        goto vfail;
    if (t[3]->Bands != bands) {
        dq_err_set(err, DQ_EUNSUP, 415, "%s: %d bands after conversion", path, t[3]->Bands);
        goto out;
    }
    size_t len = 0;
    void *mem = vips_image_write_to_memory(t[3], &len);
    if (!mem)
        goto vfail;
    out->w = t[3]->Xsize;
    out->h = t[3]->Ysize;
    out->bands = bands;
    out->px = dq_xmalloc(len);
    memcpy(out->px, mem, len);
    g_free(mem);
    rc = 0;
    goto out;
vfail:
    raster_vips_fail(err, DQ_EINVAL, "cannot decode", path);
out:
    for (size_t i = 0; i < DQ_ARRAY_LEN(t); i++)
        VIPS_UNREF(t[i]);
    return rc;
}

int dq_raster_save_png(const char *path, const dq_raster_t *r, dq_err_t *err)
{
    if (!r || !r->px || r->w <= 0 || r->h <= 0 || (r->bands != 1 && r->bands != 3))
        return dq_err_set(err, DQ_EINVAL, 400, "raster: nothing to save to %s", path);
    VipsImage *im = vips_image_new_from_memory(r->px, (size_t)r->w * r->h * r->bands, r->w, r->h,
                                               r->bands, VIPS_FORMAT_UCHAR);
    if (!im)
        return raster_vips_fail(err, DQ_EIO, "cannot wrap pixels for", path);
    im->Type = r->bands == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
    /* strip: no time stamps, so the same pixels give the same bytes. Deflate level 1: these
     * are analysis outputs (masks, restorations); on a 24000 x 2000 restoration level 6 spent
     * ~20 % of `danqing restore`'s CPU in zlib, level 1 makes files a little larger. */
    int rc = vips_pngsave(im, path, "strip", TRUE, "compression", 1, NULL);
    g_object_unref(im);
    if (rc)
        return raster_vips_fail(err, DQ_EIO, "cannot write", path);
    return 0;
}

void dq_raster_free(dq_raster_t *r)
{
    if (!r)
        return;
    free(r->px);
    memset(r, 0, sizeof(*r));
}
