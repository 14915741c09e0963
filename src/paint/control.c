/*
 * paint/control.c: the control pair of the condition captures (issue 12). The object does
 * not change between the two captures; only the camera (rotation, scale, shift), exposure and
 * white balance do, drawn like those of the 2026 capture but from the control's own random
 * stream, so that the collection's other outputs stay byte-identical. A change detector must
 * flag (almost) nothing on it. Writes truth/control_2026.jpg and truth/control_transform.json
 * beside the 2016 capture, which is the control's reference.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>

#include <vips/vips.h>

#include "paint/paint.h"

int dq_paint_control_pair(VipsImage *state2016, uint64_t seed, uint32_t work_seed,
                          const char *tdir, dq_err_t *err)
{
    VipsImage *t[2] = {NULL};
    int rc = -1;
    dq_paint_rng_t rng;
    /* (collection seed, work, purpose): nobody else draws from this stream. */
    dq_paint_rng_seed(&rng, seed ^ ((uint64_t)work_seed << 20) ^ 0xc0a7701c0a7701ull);
    int tw = state2016->Xsize, th = state2016->Ysize;
    double ang = dq_paint_rng_range(&rng, 0.15, 0.5) * (dq_paint_rng_unif(&rng) < 0.5 ? -1 : 1);
    double scl = 1.0 + dq_paint_rng_range(&rng, -0.006, 0.006);
    double tx = dq_paint_rng_range(&rng, -0.012, 0.012) * th;
    double ty = dq_paint_rng_range(&rng, -0.012, 0.012) * th;
    double gain = dq_paint_rng_range(&rng, 0.9, 1.08);
    double wb[3] = {dq_paint_rng_range(&rng, 0.95, 1.05), 1.0,
                    dq_paint_rng_range(&rng, 0.93, 1.05)};
    double rad = ang * 3.14159265358979 / 180.0;
    double a = scl * cos(rad), b = -scl * sin(rad), c = scl * sin(rad), d = scl * cos(rad);
    double cx = tw / 2.0, cy = th / 2.0;
    double odx = cx + tx - (a * cx + b * cy), ody = cy + ty - (c * cx + d * cy);
    char *jpg = dq_xasprintf("%s/control_2026.jpg", tdir);
    char *js = dq_xasprintf("%s/control_transform.json", tdir);
    char *text = NULL;
    VipsArrayInt *area = vips_array_int_newv(4, 0, 0, tw, th);
    VipsArrayDouble *bg = vips_array_double_newv(3, 40.0, 40.0, 42.0);
    int ar = vips_affine(state2016, &t[0], a, b, c, d, "oarea", area, "odx", odx, "ody", ody,
                         "background", bg, NULL);
    vips_area_unref(VIPS_AREA(area));
    vips_area_unref(VIPS_AREA(bg));
    double lin_a[3] = {gain * wb[0], gain * wb[1], gain * wb[2]}, lin_b[3] = {0, 0, 0};
    if (ar || vips_linear(t[0], &t[1], lin_a, lin_b, 3, "uchar", TRUE, NULL) ||
        vips_jpegsave(t[1], jpg, "Q", 90, "strip", TRUE, NULL)) {
        dq_err_set(err, DQ_EIO, 0, "control pair %s: %s", jpg, vips_error_buffer());
        vips_error_clear();
        goto out;
    }
    json_t *tf = json_pack(
        "{s:s, s:s, s:s, s:[[f,f,f],[f,f,f]], s:f, s:f, s:[f,f], s:f, s:[f,f,f], s:s}", "reference",
        "condition_2016.jpg", "moving", "control_2026.jpg", "model",
        "affine: x_moving = m[0][0]*x + m[0][1]*y + m[0][2], y_moving = m[1][0]*x + "
        "m[1][1]*y + m[1][2], pixel coordinates of the truth rasters",
        "matrix", a, b, odx, c, d, ody, "rotation_deg", ang, "scale", scl, "centre_shift_px", tx,
        ty, "exposure_gain", gain, "white_balance_gains", wb[0], wb[1], wb[2], "note",
        "control pair: the object is unchanged (the 2016 state), only camera, exposure and "
        "white balance differ; a change map should be empty");
    text = json_dumps(tf, JSON_INDENT(2) | JSON_REAL_PRECISION(10));
    json_decref(tf);
    dq_buf_t jb = {0};
    dq_buf_puts(&jb, text);
    dq_buf_putc(&jb, '\n');
    rc = dq_fs_write_atomic(js, tdir, jb.data, jb.len, err);
    dq_buf_free(&jb);
out:
    for (int i = 0; i < 2; i++)
        VIPS_UNREF(t[i]);
    free(text);
    free(jpg);
    free(js);
    return rc;
}
