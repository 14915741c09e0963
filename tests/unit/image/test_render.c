/*
 * test_render.c: the renderer against a direct libvips crop + resize of the master. Output
 * sizes for every rotation and format, pixels for scaling (DCT-scaled decode included),
 * upscaling, mirror, right-angle and arbitrary rotation, gray, bitonal, the deflate fallback
 * and bad specs.
 */
#include <math.h>

#include "image_fixture.h"

typedef struct {
    fx_t f;
    dq_pyramid_t *p;
} rt_t;

static void rt_setup(rt_t *t)
{
    fx_setup(&t->f);
    dq_err_t err = {0};
    t->p = dq_pyramid_open(t->f.tif, &err);
    DQ_REQUIRE(t->p != NULL);
}

static void rt_teardown(rt_t *t)
{
    dq_pyramid_unref(t->p);
    fx_teardown(&t->f);
}

/* Renders s and decodes the result; NULL on failure (with the error printed). */
static VipsImage *render(dq_pyramid_t *p, const dq_render_spec_t *s)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    VipsImage *img = NULL;
    if (dq_image_render(p, s, &b, &err) == 0)
        img = fx_decode(&b);
    else
        fprintf(stderr, "    render: %s\n", err.msg);
    dq_buf_free(&b);
    return img;
}

/* The master's pixels for a region of `level` (scaled by the level factor), resized to w x h. */
static VipsImage *reference(rt_t *t, const dq_render_spec_t *s, int w, int h)
{
    const dq_pyramid_info_t *in = dq_pyramid_info(t->p);
    double fx = (double)in->width / in->levels[s->level].width;
    double fy = (double)in->height / in->levels[s->level].height;
    int x = (int)lround(s->lx * fx), y = (int)lround(s->ly * fy);
    int rw = DQ_MIN((int)lround(s->lw * fx), (int)in->width - x);
    int rh = DQ_MIN((int)lround(s->lh * fy), (int)in->height - y);
    VipsImage *a = NULL, *b = NULL;
    DQ_REQUIRE(vips_extract_area(t->f.img, &a, x, y, rw, rh, NULL) == 0);
    DQ_REQUIRE(vips_resize(a, &b, (double)w / rw, "vscale", (double)h / rh, NULL) == 0);
    g_object_unref(a);
    return b;
}

static void check_close(VipsImage *got, VipsImage *want, double tol, const char *what)
{
    double d = fx_mean_diff(got, want);
    if (d > tol)
        fprintf(stderr, "    %s: mean diff %.2f > %.2f\n", what, d, tol);
    DQ_CHECK(d <= tol);
}

/* A region of level 0 and the size it is scaled to. */
typedef struct {
    uint32_t x, y, w, h, ow, oh;
} box_t;

static dq_render_spec_t spec_of(box_t b, int format)
{
    return (dq_render_spec_t){.level = 0,
                              .lx = b.x,
                              .ly = b.y,
                              .lw = b.w,
                              .lh = b.h,
                              .out_w = b.ow,
                              .out_h = b.oh,
                              .format = format};
}

DQ_TEST(render_scales_match_master)
{
    rt_t t;
    rt_setup(&t);
    /* Region sizes from 1x to 8x the output: DCT scales 1, 2, 4 and 8 all get used. */
    box_t c[] = {
        {0, 0, 256, 256, 256, 256},      {100, 70, 300, 200, 300, 200},
        {37, 411, 1000, 500, 500, 250},  {3, 5, 1497, 995, 300, 199},
        {700, 300, 800, 700, 100, 88},   {1299, 799, 201, 201, 100, 100},
        {1000, 100, 333, 777, 101, 233}, {0, 0, 1500, 1000, 187, 125},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(c); i++) {
        dq_render_spec_t s = spec_of(c[i], DQ_RF_PNG);
        VipsImage *got = render(t.p, &s);
        DQ_REQUIRE(got != NULL);
        DQ_CHECK_INT(got->Xsize, c[i].ow);
        DQ_CHECK_INT(got->Ysize, c[i].oh);
        DQ_CHECK_INT(got->Bands, 3);
        VipsImage *want = reference(&t, &s, (int)c[i].ow, (int)c[i].oh);
        char what[64];
        snprintf(what, sizeof what, "case %zu", i);
        check_close(got, want, 4.0, what);
        g_object_unref(want);
        g_object_unref(got);
    }
    rt_teardown(&t);
}

DQ_TEST(render_lower_level_and_upscale)
{
    rt_t t;
    rt_setup(&t);
    const dq_pyramid_info_t *in = dq_pyramid_info(t.p);
    /* Level 1 (750x500): a region of it, shrunk, and the whole level, enlarged 1.5x. */
    dq_render_spec_t s = {.level = 1,
                          .lx = 100,
                          .ly = 50,
                          .lw = 400,
                          .lh = 300,
                          .out_w = 200,
                          .out_h = 150,
                          .format = DQ_RF_PNG};
    VipsImage *got = render(t.p, &s), *want = reference(&t, &s, 200, 150);
    DQ_REQUIRE(got && want);
    DQ_CHECK_INT(got->Xsize, 200);
    DQ_CHECK_INT(got->Ysize, 150);
    check_close(got, want, 4.0, "level 1");
    g_object_unref(got);
    g_object_unref(want);

    s = (dq_render_spec_t){.level = 1,
                           .lw = in->levels[1].width,
                           .lh = in->levels[1].height,
                           .out_w = 1125,
                           .out_h = 750,
                           .format = DQ_RF_PNG};
    got = render(t.p, &s);
    want = reference(&t, &s, 1125, 750);
    DQ_REQUIRE(got && want);
    DQ_CHECK_INT(got->Xsize, 1125);
    DQ_CHECK_INT(got->Ysize, 750);
    check_close(got, want, 4.0, "upscale");
    g_object_unref(got);
    g_object_unref(want);
    rt_teardown(&t);
}

DQ_TEST(render_mirror_and_right_angles)
{
    rt_t t;
    rt_setup(&t);
    dq_render_spec_t s = {.level = 0,
                          .lx = 210,
                          .ly = 120,
                          .lw = 600,
                          .lh = 400,
                          .out_w = 300,
                          .out_h = 200,
                          .format = DQ_RF_PNG};
    VipsImage *base = reference(&t, &s, 300, 200);
    DQ_REQUIRE(base != NULL);
    for (int mirror = 0; mirror <= 1; mirror++)
        for (int r = 0; r <= 360; r += 90) {
            s.mirror = mirror;
            s.rotation = r;
            VipsImage *got = render(t.p, &s), *m = NULL, *want = NULL;
            DQ_REQUIRE(got != NULL);
            int swap = r == 90 || r == 270;
            DQ_CHECK_INT(got->Xsize, swap ? 200 : 300);
            DQ_CHECK_INT(got->Ysize, swap ? 300 : 200);
            if (mirror)
                DQ_REQUIRE(vips_flip(base, &m, VIPS_DIRECTION_HORIZONTAL, NULL) == 0);
            else
                m = g_object_ref(base);
            VipsAngle a = r == 90    ? VIPS_ANGLE_D90
                          : r == 180 ? VIPS_ANGLE_D180
                          : r == 270 ? VIPS_ANGLE_D270
                                     : VIPS_ANGLE_D0;
            DQ_REQUIRE(vips_rot(m, &want, a, NULL) == 0);
            char what[64];
            snprintf(what, sizeof what, "mirror %d rotation %d", mirror, r);
            check_close(got, want, 4.0, what);
            g_object_unref(got);
            g_object_unref(m);
            g_object_unref(want);
        }
    g_object_unref(base);
    rt_teardown(&t);
}

/* Reads pixel (x, y) of img into px[bands]. */
static void pixel(VipsImage *img, int x, int y, double *px)
{
    double *v = NULL;
    int n = 0;
    DQ_REQUIRE(vips_getpoint(img, &v, &n, x, y, NULL) == 0);
    for (int i = 0; i < n; i++)
        px[i] = v[i];
    g_free(v);
}

DQ_TEST(render_arbitrary_rotation)
{
    rt_t t;
    rt_setup(&t);
    dq_render_spec_t s = {.level = 0,
                          .lx = 0,
                          .ly = 0,
                          .lw = 400,
                          .lh = 200,
                          .out_w = 400,
                          .out_h = 200,
                          .rotation = 22.5,
                          .format = DQ_RF_JPG};
    /* The bounding box of a w x h rectangle turned by a: w|cos a| + h|sin a| by ... */
    double a = 22.5 * M_PI / 180;
    int bw = (int)lround(400 * cos(a) + 200 * sin(a)),
        bh = (int)lround(400 * sin(a) + 200 * cos(a));
    VipsImage *got = render(t.p, &s);
    DQ_REQUIRE(got != NULL);
    DQ_CHECK(abs(got->Xsize - bw) <= 2 && abs(got->Ysize - bh) <= 2);
    DQ_CHECK_INT(got->Bands, 3);
    double px[4];
    pixel(got, 1, 1, px); /* an uncovered corner: white for jpg */
    DQ_CHECK(px[0] > 245 && px[1] > 245 && px[2] > 245);
    g_object_unref(got);

    /* png: transparent corners, opaque middle. */
    for (int f = DQ_RF_PNG; f <= DQ_RF_TIF; f++) {
        s.format = f;
        got = render(t.p, &s);
        DQ_REQUIRE(got != NULL);
        DQ_CHECK_INT(got->Bands, 4);
        pixel(got, 1, 1, px);
        DQ_CHECK(px[3] < 10);
        pixel(got, got->Xsize / 2, got->Ysize / 2, px);
        DQ_CHECK(px[3] > 245);
        g_object_unref(got);
    }

    /* Direction: turned 45 degrees clockwise, the top-left square (colour of the master at
     * 10,10) ends up at the top middle of the canvas, and the bottom-left one (10,190) at the
     * left middle; counter-clockwise would swap them. */
    s = (dq_render_spec_t){.level = 0,
                           .lw = 200,
                           .lh = 200,
                           .out_w = 200,
                           .out_h = 200,
                           .rotation = 45,
                           .format = DQ_RF_PNG};
    got = render(t.p, &s);
    DQ_REQUIRE(got != NULL);
    double want[4], top[4], left[4];
    pixel(t.f.img, 10, 10, want);
    pixel(got, got->Xsize / 2, 12, top);
    pixel(got, 12, got->Ysize / 2, left);
    DQ_CHECK(fabs(top[0] - want[0]) < 8 && fabs(top[1] - want[1]) < 8);
    DQ_CHECK(top[3] > 200);
    pixel(t.f.img, 10, 190, want);
    DQ_CHECK(fabs(left[0] - want[0]) < 8 && fabs(left[1] - want[1]) < 8);
    g_object_unref(got);
    rt_teardown(&t);
}

DQ_TEST(render_formats_and_qualities)
{
    rt_t t;
    rt_setup(&t);
    dq_render_spec_t s = {
        .level = 0, .lx = 333, .ly = 222, .lw = 640, .lh = 480, .out_w = 320, .out_h = 240};
    VipsImage *ref = reference(&t, &s, 320, 240), *gref = NULL;
    DQ_REQUIRE(vips_colourspace(ref, &gref, VIPS_INTERPRETATION_B_W, NULL) == 0);
    for (int f = DQ_RF_JPG; f <= DQ_RF_TIF; f++)
        for (int q = DQ_RQ_DEFAULT; q <= DQ_RQ_BITONAL; q++) {
            s.format = f;
            s.quality = q;
            s.jpeg_quality = f == DQ_RF_WEBP ? 90 : 0;
            VipsImage *got = render(t.p, &s);
            DQ_REQUIRE(got != NULL);
            DQ_CHECK_INT(got->Xsize, 320);
            DQ_CHECK_INT(got->Ysize, 240);
            char what[64];
            snprintf(what, sizeof what, "format %d quality %d", f, q);
            if (q <= DQ_RQ_COLOR) {
                DQ_CHECK_INT(got->Bands, 3);
                check_close(got, ref, f == DQ_RF_WEBP ? 5.0 : 4.0, what);
            } else {
                /* WebP has no gray mode: it stores gray as three equal bands. */
                DQ_CHECK_INT(got->Bands, f == DQ_RF_WEBP ? 3 : 1);
            }
            if (q == DQ_RQ_GRAY)
                check_close(got, gref, 4.0, what);
            if (q == DQ_RQ_BITONAL && f != DQ_RF_JPG && f != DQ_RF_WEBP) {
                /* Lossless formats: only 0 and 255, and both present. */
                VipsImage *hist = NULL;
                DQ_REQUIRE(vips_hist_find(got, &hist, NULL) == 0);
                VipsImage *hm = vips_image_copy_memory(hist);
                const unsigned *h = (const unsigned *)VIPS_IMAGE_ADDR(hm, 0, 0);
                unsigned other = 0;
                for (int v = 1; v < 255; v++)
                    other += h[v];
                DQ_CHECK_INT(other, 0);
                DQ_CHECK(h[0] > 0 && h[255] > 0);
                g_object_unref(hm);
                g_object_unref(hist);
            }
            g_object_unref(got);
        }
    g_object_unref(ref);
    g_object_unref(gref);
    rt_teardown(&t);
}

DQ_TEST(render_gray_pyramid_and_deflate_fallback)
{
    rt_t t;
    rt_setup(&t);
    dq_err_t err = {0};
    dq_render_spec_t s = {.level = 0,
                          .lx = 50,
                          .ly = 60,
                          .lw = 900,
                          .lh = 600,
                          .out_w = 300,
                          .out_h = 200,
                          .format = DQ_RF_PNG};
    VipsImage *ref = reference(&t, &s, 300, 200);

    dq_pyramid_t *z = dq_pyramid_open(t.f.tif_zip, &err);
    DQ_REQUIRE(z != NULL);
    VipsImage *got = render(z, &s);
    DQ_REQUIRE(got != NULL);
    DQ_CHECK_INT(got->Xsize, 300);
    check_close(got, ref, 4.0, "deflate");
    g_object_unref(got);
    s.level = 1;
    s.lx /= 2, s.ly /= 2, s.lw /= 2, s.lh /= 2;
    got = render(z, &s);
    DQ_REQUIRE(got != NULL);
    check_close(got, ref, 4.0, "deflate level 1");
    g_object_unref(got);
    dq_pyramid_unref(z);

    dq_pyramid_t *g = dq_pyramid_open(t.f.tif_gray, &err);
    DQ_REQUIRE(g != NULL);
    VipsImage *gref = NULL;
    DQ_REQUIRE(vips_colourspace(ref, &gref, VIPS_INTERPRETATION_B_W, NULL) == 0);
    s = (dq_render_spec_t){.level = 0,
                           .lx = 50,
                           .ly = 60,
                           .lw = 900,
                           .lh = 600,
                           .out_w = 300,
                           .out_h = 200,
                           .format = DQ_RF_PNG,
                           .rotation = 90};
    got = render(g, &s);
    DQ_REQUIRE(got != NULL);
    DQ_CHECK_INT(got->Bands, 1);
    DQ_CHECK_INT(got->Xsize, 200);
    VipsImage *grot = NULL;
    DQ_REQUIRE(vips_rot(gref, &grot, VIPS_ANGLE_D90, NULL) == 0);
    check_close(got, grot, 4.0, "gray pyramid");
    g_object_unref(got);
    g_object_unref(grot);
    g_object_unref(gref);
    dq_pyramid_unref(g);
    g_object_unref(ref);
    rt_teardown(&t);
}

DQ_TEST(render_bad_specs)
{
    rt_t t;
    rt_setup(&t);
    const dq_render_spec_t ok = {.level = 0, .lw = 100, .lh = 100, .out_w = 50, .out_h = 50};
    dq_render_spec_t bad[12];
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++)
        bad[i] = ok;
    bad[0].level = -1;
    bad[1].level = 99;
    bad[2].lw = 0;
    bad[3].lx = 1500;
    bad[4].lw = 1501;
    bad[5].ly = 900, bad[5].lh = 101;
    bad[6].out_w = 0;
    bad[7].out_h = 1000000;
    bad[8].rotation = 361;
    bad[9].rotation = NAN;
    bad[10].format = 7;
    bad[11].quality = -1;
    dq_buf_t b = {0};
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_err_t err = {0};
        DQ_CHECK(dq_image_render(t.p, &bad[i], &b, &err) < 0);
        DQ_CHECK_INT(err.code, DQ_EINVAL);
        DQ_CHECK_INT(b.len, 0);
    }
    dq_err_t err = {0};
    DQ_CHECK(dq_image_render(t.p, &ok, &b, &err) == 0);
    DQ_CHECK(b.len > 100);
    dq_buf_free(&b);
    rt_teardown(&t);
}

/* The JPEG fast path (DCT-scaled decode, own resample, turbojpeg) against the vips path (PNG)
 * of the same spec and against the master: 4:2:0 tiles (which libjpeg decodes two rows at a
 * time), 4:4:4 tiles and gray tiles; odd offsets, every DCT scale, mirrored and not. */
DQ_TEST(render_fast_path_matches_vips_path)
{
    rt_t t;
    rt_setup(&t);
    char tif420[sizeof t.f.tif + 16];
    snprintf(tif420, sizeof tif420, "%s/pyr420.tif", t.f.dir);
    /* Q85: vips subsamples chroma below Q90, as danqing's own pyramids at Q88 are. */
    DQ_REQUIRE(vips_tiffsave(t.f.img, tif420, "tile", TRUE, "pyramid", TRUE, "compression",
                             VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 85, "tile_width", 256,
                             "tile_height", 256, NULL) == 0);
    dq_err_t err = {0};
    dq_pyramid_t *pyrs[3] = {dq_pyramid_open(tif420, &err), t.p,
                             dq_pyramid_open(t.f.tif_gray, &err)};
    DQ_REQUIRE(pyrs[0] && pyrs[2]);
    box_t c[] = {
        {37, 411, 1000, 500, 500, 250}, {3, 5, 1497, 995, 300, 199},
        {1, 1, 611, 407, 512, 341},     {700, 301, 800, 699, 100, 88},
        {255, 257, 258, 254, 129, 127}, {0, 0, 1500, 1000, 187, 125},
    };
    for (int pi = 0; pi < 3; pi++)
        for (size_t i = 0; i < DQ_ARRAY_LEN(c); i++)
            for (int mirror = 0; mirror <= 1; mirror++) {
                dq_render_spec_t s = spec_of(c[i], DQ_RF_JPG);
                s.mirror = mirror;
                s.jpeg_quality = 100;
                VipsImage *fast = render(pyrs[pi], &s);
                s.format = DQ_RF_PNG;
                VipsImage *slow = render(pyrs[pi], &s);
                DQ_REQUIRE(fast && slow);
                DQ_CHECK_INT(fast->Xsize, c[i].ow);
                DQ_CHECK_INT(fast->Ysize, c[i].oh);
                DQ_CHECK_INT(fast->Bands, pi == 2 ? 1 : 3);
                char what[64];
                snprintf(what, sizeof what, "pyramid %d case %zu mirror %d", pi, i, mirror);
                /* Gray isolates the resampler: within 1 of vips. In colour the fast path's
                 * 4:2:0 output costs up to ~5.7 (mean) on this fixture's fine colour
                 * texture, and the DCT's 1/8 scale a little more against the master. */
                check_close(fast, slow, pi == 2 ? 1.0 : 6.5, what);
                if (pi < 2 && !mirror) {
                    VipsImage *want = reference(&t, &s, (int)c[i].ow, (int)c[i].oh);
                    check_close(fast, want, 8.0, what);
                    g_object_unref(want);
                }
                g_object_unref(fast);
                g_object_unref(slow);
            }
    dq_pyramid_unref(pyrs[0]);
    dq_pyramid_unref(pyrs[2]);
    rt_teardown(&t);
}

/* Rows in order and in place: a master whose rows are a triangle wave of grey (3 levels per
 * row), stored with 4:2:0 chroma (vips subsamples below Q90; libjpeg decodes two rows per call) and
 * read from odd offsets at scale 1 (no resampling) and at 1/2 (two rows averaged; even offsets,
 * which the DCT scale keeps exact). Each output row's mean must be the master's; a row swapped with
 * its neighbour is 3 levels off. */
static double wave(double y)
{
    int v = ((int)y * 3) % 512;
    return v < 256 ? v : 511 - v;
}

DQ_TEST(render_fast_path_rows_in_order)
{
    rt_t t;
    rt_setup(&t);
    enum { W = 640, H = 640 };
    uint8_t *px = dq_xmalloc((size_t)W * H * 3);
    for (int y = 0; y < H; y++)
        memset(px + (size_t)y * W * 3, (int)wave(y), (size_t)W * 3);
    VipsImage *m = vips_image_new_from_memory(px, (size_t)W * H * 3, W, H, 3, VIPS_FORMAT_UCHAR);
    DQ_REQUIRE(m != NULL);
    m->Type = VIPS_INTERPRETATION_sRGB;
    char tif[sizeof t.f.tif + 16];
    snprintf(tif, sizeof tif, "%s/rows.tif", t.f.dir);
    DQ_REQUIRE(vips_tiffsave(m, tif, "tile", TRUE, "pyramid", TRUE, "compression",
                             VIPS_FOREIGN_TIFF_COMPRESSION_JPEG, "Q", 89, "tile_width", 256,
                             "tile_height", 256, NULL) == 0);
    g_object_unref(m);
    free(px);
    dq_err_t err = {0};
    dq_pyramid_t *p = dq_pyramid_open(tif, &err);
    DQ_REQUIRE(p != NULL);
    box_t c[] = {{101, 77, 300, 301, 300, 301},
                 {0, 3, 640, 301, 640, 301},
                 {4, 2, 600, 602, 300, 301},
                 {250, 255, 20, 9, 20, 9}};
    for (size_t i = 0; i < DQ_ARRAY_LEN(c); i++) {
        dq_render_spec_t s = spec_of(c[i], DQ_RF_JPG);
        s.jpeg_quality = 100;
        VipsImage *got = render(p, &s);
        DQ_REQUIRE(got != NULL);
        DQ_CHECK_INT(got->Ysize, c[i].oh);
        int bad = 0;
        double f = (double)c[i].h / c[i].oh;
        for (uint32_t y = 0; y < c[i].oh; y++) {
            VipsImage *row = NULL;
            double mean = 0;
            DQ_REQUIRE(vips_extract_area(got, &row, 0, (int)y, (int)c[i].ow, 1, NULL) == 0);
            DQ_REQUIRE(vips_avg(row, &mean, NULL) == 0);
            g_object_unref(row);
            double want = 0;
            for (int k = 0; k < (int)f; k++)
                want += wave(c[i].y + y * f + k) / (int)f;
            if (fabs(mean - want) > 1.5 && bad++ < 3)
                fprintf(stderr, "    case %zu row %u: mean %.2f, want %.2f\n", i, y, mean, want);
        }
        DQ_CHECK_INT(bad, 0);
        g_object_unref(got);
    }
    dq_pyramid_unref(p);
    rt_teardown(&t);
}
