/*
 * cli/spectral_stack.c: from a directory of band files to calibrated, registered reflectance
 * (spectral_stack.h). Reads bands.json (or infers the stack from file names), loads frames
 * through image/ (dq_image_load_float), calibrates raw frames and registers each band to the
 * reference with spectral/, and crops to the object. One band at a time, so that memory
 * holds the reference plane, the dark frame and one band, never the whole stack.
 */
#define _GNU_SOURCE
#include "cli/spectral_stack.h"

#include <ctype.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "blob/blob.h"
#include "image/image.h"

/* ================================================================ description */

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 31)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
            return 0;
    return 1;
}

static int file_ok(const char *s)
{
    return s && *s && strlen(s) < 255 && !strchr(s, '/') && s[0] != '.';
}

static int rect_from(json_t *a, dq_spec_rect_t *r)
{
    if (!json_is_array(a) || json_array_size(a) != 4)
        return -1;
    int v[4];
    for (int i = 0; i < 4; i++) {
        json_t *e = json_array_get(a, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > 1 << 28)
            return -1;
        v[i] = (int)json_integer_value(e);
    }
    *r = (dq_spec_rect_t){v[0], v[1], v[2], v[3]};
    return 0;
}

/* Kind and wavelength from a file name stem: r450, ir850, uv365, vis. */
static int infer(const char *stem, dq_stack_spec_t *b)
{
    const char *d = NULL;
    if (strcmp(stem, "vis") == 0) {
        snprintf(b->kind, sizeof(b->kind), "visible");
        b->nm = 0;
        return 0;
    }
    if (stem[0] == 'r' && isdigit((unsigned char)stem[1])) {
        d = stem + 1;
        snprintf(b->kind, sizeof(b->kind), "reflectance");
    } else if (stem[0] == 'i' && stem[1] == 'r' && isdigit((unsigned char)stem[2])) {
        d = stem + 2;
        snprintf(b->kind, sizeof(b->kind), "reflectance");
    } else if (stem[0] == 'u' && stem[1] == 'v' && isdigit((unsigned char)stem[2])) {
        d = stem + 2;
        snprintf(b->kind, sizeof(b->kind), "uv_fluorescence");
    } else {
        return -1;
    }
    for (const char *p = d; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    b->nm = atof(d);
    return b->nm >= 200 && b->nm <= 2600 ? 0 : -1;
}

static int by_nm(const void *a, const void *b)
{
    const dq_stack_spec_t *x = a, *y = b;
    int kx = strcmp(x->kind, "reflectance") == 0 ? 1 : strcmp(x->kind, "visible") == 0 ? 0 : 2;
    int ky = strcmp(y->kind, "reflectance") == 0 ? 1 : strcmp(y->kind, "visible") == 0 ? 0 : 2;
    if (kx != ky)
        return kx - ky;
    return x->nm < y->nm ? -1 : x->nm > y->nm;
}

static int scan_dir(dq_stack_t *st, dq_err_t *err)
{
    DIR *d = opendir(st->dir);
    if (!d)
        return dq_err_set(err, DQ_ENOTFOUND, 0, "%s: no such directory", st->dir);
    struct dirent *e;
    int has_dark = 0;
    while ((e = readdir(d))) {
        const char *dot = strrchr(e->d_name, '.');
        if (!dot || e->d_name[0] == '.')
            continue;
        if (strcmp(dot, ".png") && strcmp(dot, ".tif") && strcmp(dot, ".tiff") &&
            strcmp(dot, ".jpg") && strcmp(dot, ".jpeg"))
            continue;
        char stem[32];
        size_t sl = (size_t)(dot - e->d_name);
        if (sl >= sizeof(stem))
            continue;
        memcpy(stem, e->d_name, sl);
        stem[sl] = '\0';
        if (strcmp(stem, "dark") == 0) {
            has_dark = 1;
            continue;
        }
        dq_stack_spec_t b = {0};
        if (infer(stem, &b) < 0)
            continue;
        if (st->n >= DQ_STACK_MAX) {
            closedir(d);
            return dq_err_set(err, DQ_ELIMIT, 0, "%s: more than %d bands", st->dir, DQ_STACK_MAX);
        }
        snprintf(b.name, sizeof(b.name), "%s", stem);
        snprintf(b.file, sizeof(b.file), "%s", e->d_name);
        st->b[st->n++] = b;
    }
    closedir(d);
    if (has_dark)
        return dq_err_set(err, DQ_EINVAL, 0,
                          "%s has a dark frame: raw frames need a bands.json that marks the "
                          "targets (see docs/spectral.md)",
                          st->dir);
    qsort(st->b, (size_t)st->n, sizeof(st->b[0]), by_nm);
    return 0;
}

static int parse_json(dq_stack_t *st, const char *path, dq_err_t *err)
{
    json_error_t je;
    json_t *j = json_load_file(path, 0, &je);
    int rc = -1;
    if (!json_is_object(j)) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: %s (line %d)", path, j ? "not an object" : je.text,
                   je.line);
        goto out;
    }
    json_t *bands = json_object_get(j, "bands");
    if (!json_is_array(bands) || json_array_size(bands) < 1 ||
        json_array_size(bands) > DQ_STACK_MAX) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: \"bands\" must be an array of 1..%d bands", path,
                   DQ_STACK_MAX);
        goto out;
    }
    const char *dark = json_string_value(json_object_get(j, "dark"));
    if (dark) {
        if (!file_ok(dark)) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: bad \"dark\" file name", path);
            goto out;
        }
        snprintf(st->dark, sizeof(st->dark), "%s", dark);
    }
    json_t *wr = json_object_get(j, "work_rect");
    if (wr && rect_from(wr, &st->work) < 0) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: \"work_rect\" must be [x, y, w, h]", path);
        goto out;
    }
    json_t *tgt = json_object_get(j, "target");
    if (tgt) {
        json_t *wh = json_object_get(tgt, "white"), *rects = json_object_get(wh, "rects");
        json_t *refl = json_object_get(wh, "reflectance");
        st->white_refl = json_is_number(refl) ? json_number_value(refl) : 0;
        if (!json_is_array(rects) || json_array_size(rects) > 16 ||
            !(st->white_refl > 0 && st->white_refl <= 1.5)) {
            dq_err_set(err, DQ_EINVAL, 0,
                       "%s: target.white needs \"rects\" (1..16 [x, y, w, h]) and a "
                       "\"reflectance\" in (0, 1.5]",
                       path);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(rects); i++)
            if (rect_from(json_array_get(rects, i), &st->white_rects[st->n_white++]) < 0) {
                dq_err_set(err, DQ_EINVAL, 0, "%s: target.white.rects[%zu] must be [x, y, w, h]",
                           path, i);
                goto out;
            }
        json_t *grey = json_object_get(tgt, "grey");
        if (grey && (!json_is_array(grey) || json_array_size(grey) > 32)) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: target.grey must be an array (at most 32)", path);
            goto out;
        }
        for (size_t i = 0; i < json_array_size(grey); i++) {
            json_t *g = json_array_get(grey, i);
            dq_spec_step_t *s = &st->steps[st->n_steps++];
            json_t *r = json_object_get(g, "reflectance");
            if (rect_from(json_object_get(g, "rect"), &s->rect) < 0 || !json_is_number(r) ||
                json_number_value(r) < 0 || json_number_value(r) > 1.5) {
                dq_err_set(err, DQ_EINVAL, 0,
                           "%s: target.grey[%zu] needs \"rect\" and \"reflectance\" (0..1.5)", path,
                           i);
                goto out;
            }
            s->refl = json_number_value(r);
        }
    }
    st->raw = st->dark[0] || st->n_white > 0;
    const char *ref = json_string_value(json_object_get(j, "reference"));
    st->reference = -1;
    for (size_t i = 0; i < json_array_size(bands); i++) {
        json_t *e = json_array_get(bands, i);
        dq_stack_spec_t *b = &st->b[st->n];
        memset(b, 0, sizeof(*b));
        const char *name = json_string_value(json_object_get(e, "name"));
        const char *file = json_string_value(json_object_get(e, "file"));
        const char *kind = json_string_value(json_object_get(e, "kind"));
        if (!file_ok(file)) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: bands[%zu] needs a \"file\" in the directory", path,
                       i);
            goto out;
        }
        if (!name) {
            /* The stem of the file. */
            char stem[32];
            snprintf(stem, sizeof(stem), "%.31s", file);
            char *dot = strrchr(stem, '.');
            if (dot)
                *dot = '\0';
            snprintf(b->name, sizeof(b->name), "%s", stem);
        } else {
            snprintf(b->name, sizeof(b->name), "%s", name);
        }
        if (!name_ok(b->name)) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: bands[%zu] name must be [A-Za-z0-9_-]{1,31}", path,
                       i);
            goto out;
        }
        snprintf(b->file, sizeof(b->file), "%s", file);
        if (kind) {
            if (strcmp(kind, "reflectance") && strcmp(kind, "uv_fluorescence") &&
                strcmp(kind, "visible")) {
                dq_err_set(err, DQ_EINVAL, 0,
                           "%s: bands[%zu] kind '%s' (reflectance, uv_fluorescence, visible)", path,
                           i, kind);
                goto out;
            }
            snprintf(b->kind, sizeof(b->kind), "%s", kind);
            json_t *nm =
                json_object_get(e, strcmp(kind, "uv_fluorescence") == 0 ? "excitation_nm" : "nm");
            b->nm = json_is_number(nm) ? json_number_value(nm) : 0;
            if (strcmp(kind, "visible") && !(b->nm >= 200 && b->nm <= 2600)) {
                dq_err_set(err, DQ_EINVAL, 0, "%s: bands[%zu] needs a wavelength (200..2600 nm)",
                           path, i);
                goto out;
            }
        } else if (infer(b->name, b) < 0) {
            dq_err_set(err, DQ_EINVAL, 0, "%s: bands[%zu] has no kind and its name says none", path,
                       i);
            goto out;
        }
        const char *white = json_string_value(json_object_get(e, "white"));
        if (white) {
            json_t *wv = json_object_get(e, "white_value");
            if (!file_ok(white) || !json_is_number(wv) || !(json_number_value(wv) > 0)) {
                dq_err_set(err, DQ_EINVAL, 0,
                           "%s: bands[%zu] \"white\" needs a file and a \"white_value\" > 0", path,
                           i);
                goto out;
            }
            snprintf(b->white, sizeof(b->white), "%s", white);
            b->white_value = json_number_value(wv);
        }
        for (int k = 0; k < st->n; k++)
            if (strcmp(st->b[k].name, b->name) == 0) {
                dq_err_set(err, DQ_EINVAL, 0, "%s: band name %s twice", path, b->name);
                goto out;
            }
        if (ref && strcmp(ref, b->name) == 0)
            st->reference = st->n;
        st->n++;
    }
    if (ref && st->reference < 0) {
        dq_err_set(err, DQ_EINVAL, 0, "%s: reference '%s' is not a band", path, ref);
        goto out;
    }
    if (st->raw && st->n_white == 0) {
        for (int k = 0; k < st->n; k++)
            if (!st->b[k].white[0]) {
                dq_err_set(err, DQ_EINVAL, 0,
                           "%s: raw band %s has neither a white target nor a white frame", path,
                           st->b[k].name);
                goto out;
            }
    }
    rc = 0;
out:
    json_decref(j);
    return rc;
}

int dq_stack_open(const char *dir, uint64_t max_pixels, dq_stack_t *st, dq_err_t *err)
{
    memset(st, 0, sizeof(*st));
    st->reference = -1;
    st->max_pixels = max_pixels;
    if (strlen(dir) >= sizeof(st->dir))
        return dq_err_set(err, DQ_EINVAL, 0, "directory name too long");
    snprintf(st->dir, sizeof(st->dir), "%s", dir);
    char *bj = dq_xasprintf("%s/bands.json", dir);
    int rc = dq_fs_exists(bj) ? parse_json(st, bj, err) : scan_dir(st, err);
    free(bj);
    if (rc < 0)
        return -1;
    if (st->n < 1)
        return dq_err_set(err, DQ_ENOTFOUND, 0,
                          "%s: no bands (bands.json, or files named r450.png, uv365.tif, vis.tif, "
                          "...)",
                          dir);
    for (int i = 0; i < st->n; i++) {
        char *p = dq_xasprintf("%s/%s", dir, st->b[i].file);
        int ok = dq_fs_exists(p);
        free(p);
        if (!ok)
            return dq_err_set(err, DQ_ENOTFOUND, 0, "%s/%s: no such file", dir, st->b[i].file);
    }
    if (st->reference < 0) {
        /* The visible frame, else the reflectance band nearest 550 nm. */
        double best = INFINITY;
        for (int i = 0; i < st->n; i++) {
            double d = strcmp(st->b[i].kind, "visible") == 0       ? -1
                       : strcmp(st->b[i].kind, "reflectance") == 0 ? fabs(st->b[i].nm - 550)
                                                                   : 1e9;
            if (d < best) {
                best = d;
                st->reference = i;
            }
        }
    }
    return 0;
}

/* ================================================================ pixels */

/* A band's frame in memory as the file held it (16-bit integers, interleaved), with what turns
 * a row of it into reflectance: per channel the fitted calibration (raw stacks) or the scale
 * (ideal bands). Rows are calibrated on demand, so no float plane of the frame ever exists. */
struct dq_stack_frame {
    dq_raster16_t raw, white;
    int raw_stack; /* calibrate (else scale) */
    dq_spec_src_t src[3];
    dq_spec_calmodel_t m[3];
    float lut[256]; /* ideal 8-bit sRGB colour frames: value -> linear */
    int srgb;
    float full;
};

static void frame_free(dq_stack_frame_t *f)
{
    if (!f)
        return;
    dq_raster16_free(&f->raw);
    dq_raster16_free(&f->white);
    free(f);
}

static float srgb_to_linear(float v)
{
    return v <= 0.04045f ? v / 12.92f : powf((v + 0.055f) / 1.055f, 2.4f);
}

/* Reflectance of channel c along row y, columns x0 .. x0 + n, into out. */
static void frame_row(const dq_stack_frame_t *f, int c, int y, int x0, int n, float *out)
{
    if (f->raw_stack) {
        dq_spec_cal_row(&f->m[c], &f->src[c], y, x0, n, out);
        return;
    }
    const uint16_t *p = f->raw.px + ((size_t)y * f->raw.w + x0) * f->raw.bands + c;
    for (int i = 0; i < n; i++, p += f->raw.bands)
        out[i] = f->srgb ? f->lut[*p & 255] : *p / f->full;
}

/* Loads band i's frame and fits its calibration (read-only on st: bands load in parallel). */
static int frame_load(const dq_stack_t *st, int i, dq_stack_frame_t **out, int *channels, int *bits,
                      dq_spec_cal_t *cal, dq_err_t *err)
{
    const dq_stack_spec_t *b = &st->b[i];
    char *p = dq_xasprintf("%s/%s", st->dir, b->file);
    dq_stack_frame_t *f = dq_xcalloc(1, sizeof(*f));
    int rc = -1;
    if (dq_image_load_u16(p, st->max_pixels, &f->raw, err) < 0)
        goto out;
    if (st->fw && (f->raw.w != st->fw || f->raw.h != st->fh)) {
        dq_err_set(err, DQ_EINVAL, 0, "%s is %dx%d, the stack's frames are %dx%d", b->file,
                   f->raw.w, f->raw.h, st->fw, st->fh);
        goto out;
    }
    int w = f->raw.w, h = f->raw.h;
    *channels = f->raw.bands;
    *bits = f->raw.bits;
    if (b->white[0]) {
        char *wp = dq_xasprintf("%s/%s", st->dir, b->white);
        int wrc = dq_image_load_u16(wp, st->max_pixels, &f->white, err);
        free(wp);
        if (wrc < 0)
            goto out;
        if (f->white.w != w || f->white.h != h || f->white.bands != f->raw.bands) {
            dq_err_set(err, DQ_EINVAL, 0, "white frame %s does not match %s", b->white, b->file);
            goto out;
        }
    }
    f->raw_stack = st->raw;
    for (int c = 0; c < f->raw.bands; c++) {
        f->src[c] = (dq_spec_src_t){.u = f->raw.px,
                                    .channels = f->raw.bands,
                                    .channel = c,
                                    .dark = st->dark_px,
                                    .w = w,
                                    .h = h};
        if (st->raw) {
            dq_spec_src_t ws = f->src[c];
            ws.u = f->white.px;
            /* Grey steps calibrate reflectance, not fluorescence: UV uses its white frame. */
            int steps = strcmp(b->kind, "uv_fluorescence") == 0 ? 0 : st->n_steps;
            if (dq_spec_cal_fit(&f->src[c], f->white.px ? &ws : NULL,
                                f->white.px ? b->white_value : st->white_refl, st->white_rects,
                                f->white.px ? 0 : st->n_white, st->steps, steps, 3, &f->m[c],
                                &cal[c], err) < 0) {
                char m[sizeof(err->msg)];
                snprintf(m, sizeof(m), "%s", err->msg);
                dq_err_set(err, err->code, 0, "%s: %s", b->name, m);
                goto out;
            }
        } else {
            memset(&cal[c], 0, sizeof(cal[c]));
            cal[c].gain = 1;
        }
    }
    /* Ideal bands: values are reflectance at full scale; 8-bit colour photographs (visible,
     * UV fluorescence) are sRGB-encoded. */
    f->full = f->raw.bits == 16 ? 65535.0f : 255.0f;
    f->srgb = !st->raw && f->raw.bits == 8 && strcmp(b->kind, "reflectance") != 0;
    for (int v = 0; v < 256; v++)
        f->lut[v] = srgb_to_linear(v / 255.0f);
    /* The white frame served the fit only. */
    dq_raster16_free(&f->white);
    rc = 0;
out:
    if (rc < 0)
        frame_free(f);
    else
        *out = f;
    free(p);
    return rc;
}

/* The registration windows of a frame: per window the channel mean of the reflectance. */
static float **frame_windows(const dq_stack_t *st, const dq_stack_frame_t *f)
{
    int s = st->side, ch = f->raw.bands;
    float **win = dq_xcalloc((size_t)st->n_win, sizeof(float *));
    float *row = dq_xmalloc((size_t)s * sizeof(float));
    for (int k = 0; k < st->n_win; k++) {
        const dq_spec_rect_t *r = &st->wins[k];
        win[k] = dq_xcalloc((size_t)s * s, sizeof(float));
        for (int y = 0; y < s; y++) {
            float *o = win[k] + (size_t)y * s;
            for (int c = 0; c < ch; c++) {
                frame_row(f, c, r->y + y, r->x, s, row);
                for (int x = 0; x < s; x++)
                    o[x] += row[x];
            }
            for (int x = 0; x < s; x++)
                o[x] /= ch;
        }
    }
    free(row);
    return win;
}

static void windows_free(float **win, int n)
{
    if (!win)
        return;
    for (int k = 0; k < n; k++)
        free(win[k]);
    free(win);
}

void dq_stack_band_free(dq_stack_band_t *b)
{
    if (!b)
        return;
    free(b->px);
    b->px = NULL;
}

void dq_stack_close(dq_stack_t *st)
{
    if (!st)
        return;
    free(st->dark_px);
    st->dark_px = NULL;
    windows_free(st->ref_win, st->n_win);
    st->ref_win = NULL;
    frame_free(st->ref_frame);
    st->ref_frame = NULL;
}

int dq_stack_prepare(dq_stack_t *st, dq_err_t *err)
{
    if (st->dark[0]) {
        char *p = dq_xasprintf("%s/%s", st->dir, st->dark);
        dq_raster16_t r = {0};
        int rc = dq_image_load_u16(p, st->max_pixels, &r, err);
        free(p);
        if (rc < 0)
            return -1;
        st->fw = r.w;
        st->fh = r.h;
        size_t n = (size_t)r.w * r.h;
        st->dark_px = dq_xmalloc(n * sizeof(float));
        for (size_t k = 0; k < n; k++)
            st->dark_px[k] = r.px[k * r.bands];
        dq_raster16_free(&r);
    }
    int ch, bits;
    if (frame_load(st, st->reference, &st->ref_frame, &ch, &bits, st->ref_cal, err) < 0)
        return -1;
    st->fw = st->ref_frame->raw.w;
    st->fh = st->ref_frame->raw.h;
    if (st->work.w > 0 && (st->work.x + st->work.w > st->fw || st->work.y + st->work.h > st->fh))
        return dq_err_set(err, DQ_EINVAL, 0, "work_rect is outside the %dx%d frame", st->fw,
                          st->fh);
    st->n_win = dq_spec_reg_windows(st->fw, st->fh, 3, st->wins, &st->side, err);
    if (st->n_win < 0) {
        st->n_win = 0;
        return -1;
    }
    st->ref_win = frame_windows(st, st->ref_frame);
    return 0;
}

uint16_t dq_stack_encode(float v)
{
    double x = v * DQ_STACK_SCALE + 0.5;
    return (uint16_t)(x < 0 ? 0 : x > 65535 ? 65535 : x);
}

size_t dq_stack_band_bytes(const dq_stack_t *st, int i)
{
    /* Colour frames (visible, UV fluorescence) are the 3-channel ones in practice; assume so
     * before the file is read. */
    size_t ch = strcmp(st->b[i].kind, "reflectance") == 0 ? 1 : 3;
    size_t frame = (size_t)st->fw * st->fh * ch * sizeof(uint16_t);
    return frame * (st->b[i].white[0] ? 2 : 1);
}

/* Band i's frame, calibration and shift: everything but its pixels. *own is the loaded frame
 * (NULL for the reference), *f the one to read. */
static int band_begin(const dq_stack_t *st, int i, dq_stack_frame_t **own,
                      const dq_stack_frame_t **f, dq_stack_band_t *out, dq_err_t *err)
{
    float **win = NULL;
    memset(out, 0, sizeof(*out));
    *own = NULL;
    *f = st->ref_frame;
    if (i != st->reference) {
        if (frame_load(st, i, own, &out->channels, &out->bits, out->cal, err) < 0)
            return -1;
        *f = *own;
        win = frame_windows(st, *f);
        dq_spec_register_windows((const float *const *)st->ref_win, (const float *const *)win,
                                 st->n_win, st->side, 50, &out->dx, &out->dy, &out->peak);
        windows_free(win, st->n_win);
        /* The calibration again, now reading the targets where this band shows them (the
         * first fit, on the targets as marked, served the registration windows). A band
         * flat-fielded by its own white frame has no targets to move. */
        const dq_stack_spec_t *b = &st->b[i];
        if (st->raw && !b->white[0]) {
            int steps = strcmp(b->kind, "uv_fluorescence") == 0 ? 0 : st->n_steps;
            for (int c = 0; c < (*own)->raw.bands; c++) {
                dq_spec_src_t moved = (*own)->src[c];
                moved.dx = out->dx;
                moved.dy = out->dy;
                if (dq_spec_cal_fit(&moved, NULL, st->white_refl, st->white_rects, st->n_white,
                                    st->steps, steps, 3, &(*own)->m[c], &out->cal[c], err) < 0) {
                    char m[sizeof(err->msg)];
                    snprintf(m, sizeof(m), "%s", err->msg);
                    dq_err_set(err, err->code, 0, "%s: %s", b->name, m);
                    frame_free(*own);
                    *own = NULL;
                    return -1;
                }
            }
        }
    } else {
        /* The reference was loaded and fitted by dq_stack_prepare. */
        out->channels = (*f)->raw.bands;
        out->bits = (*f)->raw.bits;
        memcpy(out->cal, st->ref_cal, sizeof(out->cal));
        out->peak = 1;
    }
    dq_spec_rect_t wr = st->work.w > 0 ? st->work : (dq_spec_rect_t){0, 0, st->fw, st->fh};
    out->w = wr.w;
    out->h = wr.h;
    return 0;
}

/* Rows of the stored band made on demand for dq_image_save_u16_pyramid_gen: each call
 * resamples its own rows (plus the kernel's rows around them) from the frame, so calls are
 * independent and may run on vips' threads at once. */
typedef struct {
    const dq_stack_t *st;
    const dq_stack_frame_t *f;
    const dq_stack_band_t *b;
} band_gen_t;

typedef struct {
    const dq_stack_frame_t *f;
    int c, channels, w;
    uint16_t *px;
    size_t stride;
} strip_io_t;

static void strip_row(void *ud, int y, float *buf)
{
    strip_io_t *io = ud;
    frame_row(io->f, io->c, y, 0, io->f->raw.w, buf);
}

DQ_SPEC_AVX2
static void strip_emit(void *ud, int y, const float *row)
{
    strip_io_t *io = ud;
    uint16_t *o = io->px + (size_t)y * io->stride + io->c;
    for (int x = 0; x < io->w; x++, o += io->channels)
        *o = dq_stack_encode(row[x]);
}

static void band_fill(void *ud, int y0, int n, uint16_t *px, size_t stride)
{
    const band_gen_t *g = ud;
    const dq_stack_t *st = g->st;
    dq_spec_rect_t wr = st->work.w > 0 ? st->work : (dq_spec_rect_t){0, 0, st->fw, st->fh};
    /* The strip's rows of the crop: the resampler gives each row the same value whatever
     * rows it is asked for alongside (its ring only caches source rows). */
    dq_spec_rect_t part = {wr.x, wr.y + y0, wr.w, n};
    for (int c = 0; c < g->b->channels; c++) {
        strip_io_t io = {g->f, c, g->b->channels, wr.w, px, stride};
        dq_spec_unshift_rows(strip_row, strip_emit, &io, st->fw, st->fh, g->b->dx, g->b->dy, part);
    }
}

int dq_stack_band_save(const dq_stack_t *st, int i, const char *path, dq_stack_band_t *out,
                       dq_err_t *err)
{
    dq_stack_frame_t *own = NULL;
    const dq_stack_frame_t *f = NULL;
    if (band_begin(st, i, &own, &f, out, err) < 0)
        return -1;
    band_gen_t g = {st, f, out};
    int rc = dq_image_save_u16_pyramid_gen(path, out->w, out->h, out->channels, band_fill, &g, err);
    frame_free(own);
    return rc;
}

int dq_stack_band(const dq_stack_t *st, int i, dq_stack_band_t *out, dq_err_t *err)
{
    dq_stack_frame_t *own = NULL;
    const dq_stack_frame_t *f = NULL;
    if (band_begin(st, i, &own, &f, out, err) < 0)
        return -1;
    size_t row = (size_t)out->w * out->channels;
    out->px = dq_xmalloc(row * out->h * sizeof(uint16_t));
    band_gen_t g = {st, f, out};
    band_fill(&g, 0, out->h, out->px, row);
    frame_free(own);
    return 0;
}

/* ================================================================ stored bands */

char *dq_stack_key(const char *capture_id, const char *file)
{
    return dq_xasprintf("layers/spectral/%s/%s", capture_id, file);
}

char *dq_stack_band_key(const char *capture_id, const char *name)
{
    return dq_xasprintf("layers/spectral/%s/%s.tif", capture_id, name);
}

int dq_stack_load_stored(struct dq_blob *store, const char *capture_id, const char *const *names,
                         int n, float ***planes, int *w, int *h, dq_err_t *err)
{
    *planes = dq_xcalloc((size_t)n, sizeof(float *));
    for (int i = 0; i < n; i++) {
        char *key = dq_stack_band_key(capture_id, names[i]);
        dq_rasterf_t r = {0};
        int rc = dq_image_load_float_blob(store, key, UINT64_MAX, &r, err);
        free(key);
        if (rc < 0)
            goto fail;
        if (i > 0 && (r.w != *w || r.h != *h)) {
            dq_rasterf_free(&r);
            dq_err_set(err, DQ_EINTERNAL, 500, "stored band %s has another size", names[i]);
            goto fail;
        }
        *w = r.w;
        *h = r.h;
        size_t m = (size_t)r.w * r.h;
        (*planes)[i] = dq_xmalloc(m * sizeof(float));
        /* Colour bands (UV fluorescence, visible) are read as their channel mean. */
        for (size_t k = 0; k < m; k++) {
            float s = 0;
            for (int c = 0; c < r.bands; c++)
                s += r.px[k * r.bands + c];
            (*planes)[i][k] = (float)(s / r.bands / DQ_STACK_SCALE);
        }
        dq_rasterf_free(&r);
    }
    return 0;
fail:
    for (int i = 0; i < n; i++)
        free((*planes)[i]);
    free(*planes);
    *planes = NULL;
    return -1;
}

int dq_stack_each_file(const char *capture_id, const char *doc, const char *layers,
                       int (*cb)(void *ud, const char *key, const char *sha256, uint64_t size),
                       void *ud)
{
    json_t *d = doc ? json_loads(doc, 0, NULL) : NULL,
           *l = layers ? json_loads(layers, 0, NULL) : NULL;
    int r = 0;
    json_t *bands = json_object_get(d, "bands");
    for (size_t i = 0; r == 0 && i < json_array_size(bands); i++) {
        json_t *b = json_array_get(bands, i);
        const char *name = json_string_value(json_object_get(b, "name"));
        if (!name)
            continue;
        char *key = dq_stack_band_key(capture_id, name);
        r = cb(ud, key, json_string_value(json_object_get(b, "sha256")),
               (uint64_t)json_integer_value(json_object_get(b, "size")));
        free(key);
    }
    for (size_t i = 0; r == 0 && i < json_array_size(l); i++) {
        json_t *ld = json_object_get(json_array_get(l, i), "doc");
        const char *file = json_string_value(json_object_get(ld, "file"));
        if (!file)
            continue;
        char *key = dq_stack_key(capture_id, file);
        r = cb(ud, key, json_string_value(json_object_get(ld, "sha256")),
               (uint64_t)json_integer_value(json_object_get(ld, "size")));
        free(key);
    }
    json_decref(d);
    json_decref(l);
    return r;
}

typedef struct {
    dq_blob_t *store;
    dq_err_t *err;
    int failed;
} remove_t;

static int remove_one(void *ud, const char *key, const char *sha256, uint64_t size)
{
    (void)sha256;
    (void)size;
    remove_t *r = ud;
    dq_err_t e = {0};
    if (dq_blob_remove(r->store, key, &e) < 0 && !r->failed++)
        *r->err = e;
    return 0; /* go on: remove as much as can be */
}

int dq_stack_remove_files(dq_blob_t *store, const char *capture_id, const char *doc,
                          const char *layers, dq_err_t *err)
{
    remove_t r = {store, err, 0};
    dq_stack_each_file(capture_id, doc, layers, remove_one, &r);
    /* A file store keeps a directory per capture: drop it when nothing else is in it. */
    char *key = dq_xasprintf("layers/spectral/%s", capture_id);
    char *dir = dq_blob_file_path(store, key);
    if (dir)
        rmdir(dir);
    free(dir);
    free(key);
    return r.failed ? -1 : 0;
}
