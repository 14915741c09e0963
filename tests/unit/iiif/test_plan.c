/*
 * test_plan.c: dq_iiif_plan. Region resolution and cropping (3.0 §4.1 examples), sizes (3.0
 * §4.2 examples and the validator's size_* expectations), upscaling rules per version, the
 * served limits (403, fitted max / ^max / !w,h), overflow-sized requests, pyramid level choice
 * and exact stored tile detection, edge tiles included.
 */
#include "dq_test.h"
#include "iiif/iiif.h"

#include <string.h>

/* A pyramid as vips tiffsave --pyramid makes it: halve (rounding up when ceil, else down)
 * until the level fits in one tile. */
static dq_iiif_image_t mk(uint32_t w, uint32_t h, int ceil_halves)
{
    dq_iiif_image_t img;
    memset(&img, 0, sizeof(img));
    img.width = w;
    img.height = h;
    img.tile_w = img.tile_h = 256;
    img.levels[0].width = w;
    img.levels[0].height = h;
    img.n_levels = 1;
    while ((w > 256 || h > 256) && img.n_levels < 32) {
        w = ceil_halves ? (w + 1) / 2 : w / 2;
        h = ceil_halves ? (h + 1) / 2 : h / 2;
        if (w < 1)
            w = 1;
        if (h < 1)
            h = 1;
        img.levels[img.n_levels].width = w;
        img.levels[img.n_levels].height = h;
        img.n_levels++;
    }
    return img;
}

/* Parses and plans; returns 0 or the error's HTTP status. */
static int PL(const char *s, int v, const dq_iiif_image_t *img, dq_iiif_plan_t *plan)
{
    dq_err_t err = {0};
    dq_iiif_req_t req;
    dq_iiif_plan_t tmp;
    if (!plan)
        plan = &tmp;
    if (dq_iiif_parse(s, strlen(s), v, &req, &err) < 0)
        return 1000 + err.http_status; /* a parse error, told apart from a plan error */
    if (dq_iiif_plan(&req, img, plan, &err) < 0) {
        if (err.msg[0] == '\0')
            return -1;
        return err.http_status;
    }
    return 0;
}

#define OUT(p, w_, h_) DQ_CHECK((p).out_w == (w_) && (p).out_h == (h_))
#define REG(p, x_, y_, w_, h_)                                                                     \
    DQ_CHECK((p).x == (x_) && (p).y == (y_) && (p).w == (w_) && (p).h == (h_))

/* ---------------------------------------------------------------- region */

DQ_TEST(spec30_region_examples_300x200)
{
    /* The spec's example image is 300 x 200. */
    dq_iiif_image_t img = mk(300, 200, 1);
    dq_iiif_plan_t p;
    for (int v = 2; v <= 3; v++) {
        const char *mx = v == 3 ? "max" : "full";
        char buf[128];
        snprintf(buf, sizeof(buf), "full/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 0, 0, 300, 200);
        OUT(p, 300, 200);
        snprintf(buf, sizeof(buf), "square/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 50, 0, 200, 200);
        OUT(p, 200, 200);
        snprintf(buf, sizeof(buf), "125,15,120,140/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 125, 15, 120, 140);
        OUT(p, 120, 140);
        snprintf(buf, sizeof(buf), "pct:41.6,7.5,40,70/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 125, 15, 120, 140);
        /* "N.B. Returned image is 175,185 px" for both of these */
        snprintf(buf, sizeof(buf), "125,15,200,200/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 125, 15, 175, 185);
        OUT(p, 175, 185);
        snprintf(buf, sizeof(buf), "pct:41.6,7.5,66.6,100/%s/0/default.jpg", mx);
        DQ_CHECK_INT(PL(buf, v, &img, &p), 0);
        REG(p, 125, 15, 175, 185);
        OUT(p, 175, 185);
    }
    /* a tall image: square is centred vertically */
    dq_iiif_image_t tall = mk(200, 301, 1);
    DQ_CHECK_INT(PL("square/max/0/default.jpg", 3, &tall, &p), 0);
    REG(p, 0, 50, 200, 200);
}

DQ_TEST(region_outside_and_empty)
{
    dq_iiif_image_t img = mk(1000, 700, 1);
    dq_iiif_plan_t p;
    DQ_CHECK_INT(PL("1000,0,10,10/max/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("0,700,10,10/max/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("99999999999,0,10,10/max/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("0,9999999999999999999,10,10/max/0/default.jpg", 2, &img, &p), 400);
    DQ_CHECK_INT(PL("999,699,10,10/max/0/default.jpg", 3, &img, &p), 0);
    REG(p, 999, 699, 1, 1);
    DQ_CHECK_INT(PL("0,0,9999999999999999999,9999999999999999999/max/0/default.jpg", 3, &img, &p),
                 0);
    REG(p, 0, 0, 1000, 700);
    DQ_CHECK_INT(PL("pct:99.99,0,10,10/max/0/default.jpg", 3, &img, &p),
                 400); /* x rounds to 1000 */
    DQ_CHECK_INT(PL("pct:99.9,0,10,10/max/0/default.jpg", 3, &img, &p), 0);
    REG(p, 999, 0, 1, 70);
    DQ_CHECK_INT(PL("pct:0,0,0.01,10/max/0/default.jpg", 3, &img, &p), 400); /* 0.1 px wide */
    DQ_CHECK_INT(PL("pct:0,0,0.05,10/max/0/default.jpg", 3, &img, &p), 0);
    REG(p, 0, 0, 1, 70);
    /* a request made by hand, not by the parser, is checked too */
    dq_iiif_req_t req;
    dq_err_t err = {0};
    memset(&req, 0, sizeof(req));
    req.version = 3;
    req.region_kind = DQ_REGION_PIXELS;
    req.rx = -5;
    req.rw = req.rh = 10;
    DQ_CHECK(dq_iiif_plan(&req, &img, &p, &err) < 0 && err.http_status == 400);
    req.rx = 0;
    req.rotation = 400;
    DQ_CHECK(dq_iiif_plan(&req, &img, &p, &err) < 0 && err.http_status == 400);
    req.rotation = 0;
    req.quality = 9;
    DQ_CHECK(dq_iiif_plan(&req, &img, &p, &err) < 0 && err.http_status == 400);
    req.quality = 0;
    req.version = 1;
    DQ_CHECK(dq_iiif_plan(&req, &img, &p, &err) < 0 && err.http_status == 500);
    req.version = 3;
    DQ_CHECK_INT(dq_iiif_plan(&req, &img, &p, &err), 0);
}

DQ_TEST(validator_region_checks_1000)
{
    /* The validator's test image: 1000 x 1000, 10 x 10 squares of 100 px. */
    dq_iiif_image_t img = mk(1000, 1000, 1);
    dq_iiif_plan_t p;
    char buf[128];
    for (int x = 0; x < 10; x++) {
        int y = 9 - x;
        snprintf(buf, sizeof(buf), "pct:%d,%d,9,9/max/0/default.jpg", x * 10 + 1, y * 10 + 1);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        REG(p, (uint32_t)(x * 100 + 10), (uint32_t)(y * 100 + 10), 90, 90);
        snprintf(buf, sizeof(buf), "%d,%d,74,74/full/0/default.jpg", x * 100 + 13, y * 100 + 13);
        DQ_CHECK_INT(PL(buf, 2, &img, &p), 0);
        REG(p, (uint32_t)(x * 100 + 13), (uint32_t)(y * 100 + 13), 74, 74);
        OUT(p, 74, 74);
        /* size_region: 100 px region at s,s */
        snprintf(buf, sizeof(buf), "%d,%d,100,100/%d,%d/0/default.jpg", x * 100, y * 100, 35 + x,
                 35 + x);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        OUT(p, (uint32_t)(35 + x), (uint32_t)(35 + x));
    }
    DQ_CHECK_INT(PL("square/max/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.out_w == p.out_h);
}

/* ---------------------------------------------------------------- size */

DQ_TEST(spec30_size_examples_300x200)
{
    dq_iiif_image_t img = mk(300, 200, 1);
    dq_iiif_plan_t p;
    DQ_CHECK_INT(PL("full/150,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 150, 100);
    DQ_CHECK_INT(PL("full/,150/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 225, 150);
    DQ_CHECK_INT(PL("full/pct:50/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 150, 100);
    DQ_CHECK_INT(PL("full/225,100/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 225, 100);
    DQ_CHECK_INT(PL("full/!225,100/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 150, 100); /* "N.B. Returned image is 150,100 px" */
    DQ_CHECK(!p.upscale);
    DQ_CHECK_INT(PL("full/^!360,360/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 360, 240); /* "N.B. Returned image is 360,240 px" */
    DQ_CHECK(p.upscale);
    DQ_CHECK_INT(PL("full/^360,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 360, 240);
    DQ_CHECK_INT(PL("full/^,240/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 360, 240);
    DQ_CHECK_INT(PL("full/^360,360/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 360, 360);
    DQ_CHECK_INT(PL("full/^pct:120/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 360, 240);
    /* "^" that does not upscale is fine */
    DQ_CHECK_INT(PL("full/^150,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 150, 100);
    DQ_CHECK(!p.upscale);
    /* 3.0 §4.2 example: max with maxWidth 200. The spec's ^max example (maxWidth 360 ->
     * 360x240) conflicts with the official validator (size_up: ^max of a 1000 px image is
     * 1000 px while maxWidth is larger); we follow the validator: ^max is max. */
    img.max_width = 200;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 200, 133);
    img.max_width = 360;
    DQ_CHECK_INT(PL("full/^max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 300, 200);
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 300, 200);
}

DQ_TEST(upscaling_rules)
{
    dq_iiif_image_t img = mk(1000, 1000, 1);
    dq_iiif_plan_t p;
    /* validator size_noup (3.0): every form without '^' that would upscale is refused */
    DQ_CHECK_INT(PL("full/1500,1500/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/,1500/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/1500,/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/1001,1000/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/pct:200/0/default.jpg", 3, &img, &p), 1400);
    DQ_CHECK_INT(PL("full/!2000,3000/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("0,0,100,100/101,/0/default.jpg", 3, &img, &p), 400);
    /* a box larger than the region one way only still fits inside the region */
    DQ_CHECK_INT(PL("full/!2000,500/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 500, 500);
    DQ_CHECK_INT(PL("full/!1000,1000/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1000, 1000);
    /* validator size_up (3.0, no limits configured) */
    DQ_CHECK_INT(PL("full/^1500,1500/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1500, 1500);
    DQ_CHECK_INT(PL("full/^,1500/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1500, 1500);
    DQ_CHECK_INT(PL("full/^1500,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1500, 1500);
    DQ_CHECK_INT(PL("full/^max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1000, 1000);
    DQ_CHECK_INT(PL("full/^pct:200/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 2000, 2000);
    DQ_CHECK_INT(PL("full/^!2000,500/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 500, 500);
    DQ_CHECK_INT(PL("full/^!2000,3000/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 2000, 2000);
    DQ_CHECK(p.upscale && p.level == 0);
    /* 2.1 allows scaling above full size with no marker (validator size_up for 2.0) */
    DQ_CHECK_INT(PL("full/,1500/0/default.jpg", 2, &img, &p), 0);
    OUT(p, 1500, 1500);
    DQ_CHECK_INT(PL("full/pct:150/0/default.jpg", 2, &img, &p), 0);
    OUT(p, 1500, 1500);
    DQ_CHECK_INT(PL("full/!2000,3000/0/default.jpg", 2, &img, &p), 0);
    OUT(p, 2000, 2000);
    /* validator size_wc / size_ch / size_bwh / size_percent / size_wh */
    for (int s = 450; s <= 750; s += 37) {
        char buf[128];
        snprintf(buf, sizeof(buf), "full/%d,/0/default.jpg", s);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        OUT(p, (uint32_t)s, (uint32_t)s);
        snprintf(buf, sizeof(buf), "full/,%d/0/default.jpg", s);
        DQ_CHECK_INT(PL(buf, 2, &img, &p), 0);
        OUT(p, (uint32_t)s, (uint32_t)s);
        snprintf(buf, sizeof(buf), "full/!%d,%d/0/default.jpg", s, s - 100);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        OUT(p, (uint32_t)(s - 100), (uint32_t)(s - 100));
        snprintf(buf, sizeof(buf), "full/pct:%d/0/default.jpg", s / 10);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        OUT(p, (uint32_t)(s / 10 * 10), (uint32_t)(s / 10 * 10));
        snprintf(buf, sizeof(buf), "full/%d,%d/0/default.jpg", s, s - 100);
        DQ_CHECK_INT(PL(buf, 3, &img, &p), 0);
        OUT(p, (uint32_t)s, (uint32_t)(s - 100));
    }
}

DQ_TEST(size_rounding_and_tiny)
{
    dq_iiif_image_t img = mk(1000, 3, 1);
    dq_iiif_plan_t p;
    /* 1000 x 3 at 100 wide: 0.3 px high rounds to 0: 3.0 §4.2 "MUST NOT be less than 1" */
    DQ_CHECK_INT(PL("full/100,/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/pct:1/0/default.jpg", 3, &img, &p), 400);
    DQ_CHECK_INT(PL("full/200,/0/default.jpg", 3, &img, &p), 0); /* 0.6 rounds to 1 */
    OUT(p, 200, 1);
    /* the server-chosen sizes never collapse below a pixel */
    DQ_CHECK_INT(PL("full/!100,100/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 100, 1);
    img.max_width = 10;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 10, 1);
    /* rounding to nearest: 300 x 200 at 101 wide is 67.33 high */
    dq_iiif_image_t i2 = mk(300, 200, 1);
    DQ_CHECK_INT(PL("full/101,/0/default.jpg", 3, &i2, &p), 0);
    OUT(p, 101, 67);
    DQ_CHECK_INT(PL("full/,101/0/default.jpg", 3, &i2, &p), 0);
    OUT(p, 152, 101); /* 151.5 rounds up */
    DQ_CHECK_INT(PL("full/pct:33.3/0/default.jpg", 3, &i2, &p), 0);
    OUT(p, 100, 67);
}

/* ---------------------------------------------------------------- limits */

DQ_TEST(limits_explicit_sizes_are_403)
{
    dq_iiif_image_t img = mk(3000, 2000, 1);
    img.max_width = 2000;
    img.max_area = 2000000;
    dq_iiif_plan_t p;
    DQ_CHECK_INT(PL("full/2001,/0/default.jpg", 3, &img, &p), 403);
    DQ_CHECK_INT(PL("full/2000,/0/default.jpg", 3, &img, &p), 403); /* 2000 x 1333: area */
    DQ_CHECK_INT(PL("full/1700,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 1700, 1133);
    /* maxHeight defaults to maxWidth (3.0 §5.2) */
    dq_iiif_image_t i15 = img;
    i15.max_width = 1500;
    DQ_CHECK_INT(PL("full/100,1501/0/default.jpg", 3, &i15, &p), 403);
    DQ_CHECK_INT(PL("full/100,1500/0/default.jpg", 3, &i15, &p), 0);
    DQ_CHECK_INT(PL("full/full/0/default.jpg", 2, &img, &p), 403);
    DQ_CHECK_INT(PL("full/pct:100/0/default.jpg", 3, &img, &p), 403);
    DQ_CHECK_INT(PL("0,0,1000,1000/full/0/default.jpg", 2, &img, &p), 0);
    /* the 2,457,600 x 1,200 request: no overflow, a clean 403 */
    DQ_CHECK_INT(PL("full/2457600,1200/0/default.jpg", 2, &img, &p), 403);
    DQ_CHECK_INT(PL("full/^2457600,1200/0/default.jpg", 3, &img, &p), 403);
    DQ_CHECK_INT(PL("full/2457600,1200/0/default.jpg", 3, &img, &p), 400); /* upscale first */
    dq_iiif_image_t scroll = mk(2457600, 1200, 1);
    scroll.max_area = 100000000;
    DQ_CHECK_INT(PL("full/2457600,1200/0/default.jpg", 3, &scroll, &p), 403);
    DQ_CHECK_INT(PL("full/max/0/default.png", 3, &scroll, &p), 0);
    DQ_CHECK((uint64_t)p.out_w * p.out_h <= 100000000);
    DQ_CHECK(p.out_w > 450000 && p.out_h >= 220); /* aspect kept */
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &scroll, &p), 0);
    OUT(p, 65535, 32); /* and JPEG's 16-bit sides */
    /* numbers past 32 bits, with and without limits */
    dq_iiif_image_t open = mk(1000, 1000, 1);
    DQ_CHECK_INT(PL("full/^9999999999999999999,/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^,4294967296/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^4294967296,1/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^pct:999999999999999/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/pct:99999999999999999/0/default.jpg", 2, &open, &p), 403);
    DQ_CHECK_INT(PL("full/9999999999999999999,/0/default.jpg", 2, &open, &p), 403);
    /* with no configured limit the format still bounds the size: JPEG sides are 16 bits */
    DQ_CHECK_INT(PL("full/^4294967295,/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^65536,/0/default.jpg", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^65535,/0/default.jpg", 3, &open, &p), 0);
    DQ_CHECK_INT(PL("full/^16384,/0/default.webp", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^16383,/0/default.webp", 3, &open, &p), 0);
    DQ_CHECK_INT(PL("full/^65536,/0/default.png", 3, &open, &p), 0);
    DQ_CHECK_INT(PL("full/^!9999999999999999999,9999999999999999999/0/default.jpg", 3, &open, &p),
                 0);
    OUT(p, 65535, 65535); /* fitted, not refused */
    /* the rotated bounding box counts: 16383 x 16383 at 45 degrees is 23169 wide */
    DQ_CHECK_INT(PL("full/^16383,/45/default.webp", 3, &open, &p), 403);
    DQ_CHECK_INT(PL("full/^16383,/90/default.webp", 3, &open, &p), 0);
    DQ_CHECK_INT(PL("full/^11000,/45/default.webp", 3, &open, &p), 0);
    dq_iiif_image_t tall = mk(6300, 224490, 1);
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &tall, &p), 0);
    OUT(p, 1839, 65535);
    DQ_CHECK_INT(PL("full/max/0/default.png", 3, &tall, &p), 0);
    OUT(p, 6300, 224490);
    DQ_CHECK_INT(PL("full/max/90/default.jpg", 3, &tall, &p), 0);
    DQ_CHECK_INT(PL("full/full/0/default.jpg", 2, &tall, &p), 403);
    DQ_CHECK_INT(PL("full/!9999999999999999999,500/0/default.jpg", 3, &open, &p), 0);
    OUT(p, 500, 500);
}

DQ_TEST(limits_fit_max_and_best)
{
    dq_iiif_image_t img = mk(1000, 700, 1);
    dq_iiif_plan_t p;
    img.max_width = 500;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 500, 350);
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 2, &img, &p), 0);
    OUT(p, 500, 350);
    DQ_CHECK_INT(PL("full/!800,800/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 500, 350);
    DQ_CHECK_INT(PL("full/^max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 500, 350);
    /* region smaller than the limits: max and ^max are the region */
    DQ_CHECK_INT(PL("0,0,100,50/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 100, 50);
    DQ_CHECK_INT(PL("0,0,100,50/^max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 100, 50);
    img.max_width = 0;
    img.max_height = 300;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 429, 300);
    img.max_height = 0;
    img.max_area = 350000;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK((uint64_t)p.out_w * p.out_h <= 350000);
    DQ_CHECK(p.out_w >= 700 && p.out_h >= 490);
    DQ_CHECK_INT(PL("0,0,100,100/^max/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 100, 100);
    DQ_CHECK_INT(PL("full/^!5000,5000/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK((uint64_t)p.out_w * p.out_h <= 350000);
    /* a 1 x huge region with an area limit: fitted quickly and within bounds */
    dq_iiif_image_t line = mk(4000000000u, 1, 1);
    line.max_area = 100;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &line, &p), 0);
    DQ_CHECK(p.out_w >= 1 && p.out_h == 1 && (uint64_t)p.out_w * p.out_h <= 100);
    dq_iiif_image_t col = mk(1, 4000000000u, 1);
    col.max_area = 100;
    DQ_CHECK_INT(PL("full/^max/0/default.jpg", 3, &col, &p), 0);
    DQ_CHECK(p.out_w == 1 && p.out_h >= 1 && p.out_h <= 100);
}

DQ_TEST(bad_geometry_is_500)
{
    dq_iiif_image_t img = mk(1000, 700, 1);
    dq_iiif_plan_t p;
    dq_iiif_image_t b = img;
    b.n_levels = 0;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
    b = img;
    b.n_levels = 33;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
    b = img;
    b.tile_w = 0;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
    b = img;
    b.levels[1].width = 0;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
    b = img;
    b.levels[0].width = 999;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
    b = img;
    b.width = 0;
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &b, &p), 500);
}

/* ---------------------------------------------------------------- levels and tiles */

DQ_TEST(level_choice)
{
    dq_iiif_image_t img = mk(1000, 700, 1); /* 1000x700, 500x350, 250x175 */
    dq_iiif_plan_t p;
    DQ_CHECK_INT(img.n_levels, 3);
    DQ_CHECK_INT(PL("full/max/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 0);
    DQ_CHECK(p.lx == 0 && p.ly == 0 && p.lw == 1000 && p.lh == 700);
    DQ_CHECK_INT(PL("full/500,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 1);
    DQ_CHECK(p.lw == 500 && p.lh == 350);
    DQ_CHECK_INT(PL("full/501,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 0);
    DQ_CHECK_INT(PL("full/499,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 1);
    DQ_CHECK_INT(PL("full/100,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 2);
    DQ_CHECK(p.lw == 250 && p.lh == 175);
    /* a distorted size needs both directions: 250 wide but 400 high wants level 0 */
    DQ_CHECK_INT(PL("full/250,400/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 0);
    /* a region: rounded outward in the level's pixels */
    DQ_CHECK_INT(PL("101,101,301,301/75,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 2);
    DQ_CHECK(p.lx == 25 && p.ly == 25 && p.lw == 76 && p.lh == 76);
    /* upscaling reads the full resolution */
    DQ_CHECK_INT(PL("0,0,10,10/^100,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK_INT(p.level, 0);
    DQ_CHECK(p.lw == 10 && p.lh == 10);
}

DQ_TEST(level_choice_long_scroll)
{
    /* 6,300 x 224,490: a handscroll stored as a pyramid; a 200 px thumbnail must come from
     * the smallest level still at least 200 px wide (394 px at scale factor 16). */
    dq_iiif_image_t img = mk(6300, 224490, 1);
    dq_iiif_plan_t p;
    DQ_CHECK(img.n_levels >= 10);
    DQ_CHECK_INT(PL("full/200,/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 200, 7127);
    DQ_CHECK_INT(p.level, 4);
    DQ_CHECK_INT(img.levels[4].width, 394);
    DQ_CHECK(img.levels[5].width < 200);
    DQ_CHECK(p.lw == 394 && p.lh == img.levels[4].height);
    DQ_CHECK_INT(PL("full/!200,200/0/default.jpg", 3, &img, &p), 0);
    OUT(p, 6, 200);
    DQ_CHECK(img.levels[p.level].height >= 200 && img.levels[p.level + 1].height < 200);
    DQ_CHECK_INT(PL("full/,200/0/default.jpg", 2, &img, &p), 0);
    DQ_CHECK(img.levels[p.level].height >= 200 && img.levels[p.level + 1].height < 200);
    /* the same with the floor-halved pyramid */
    dq_iiif_image_t f = mk(6300, 224490, 0);
    DQ_CHECK_INT(PL("full/200,/0/default.jpg", 3, &f, &p), 0);
    DQ_CHECK(f.levels[p.level].width >= 200 && f.levels[p.level + 1].width < 200);
}

DQ_TEST(exact_tiles)
{
    dq_iiif_image_t img = mk(1000, 700, 1); /* 1000x700, 500x350, 250x175 */
    dq_iiif_plan_t p;
    DQ_CHECK_INT(PL("0,0,256,256/256,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 0 && p.tile_col == 0 && p.tile_row == 0);
    DQ_CHECK(p.lx == 0 && p.ly == 0 && p.lw == 256 && p.lh == 256);
    DQ_CHECK_INT(PL("256,256,256,256/256,256/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.tile_col == 1 && p.tile_row == 1);
    /* the right-bottom edge tile at full resolution: 232 x 188 */
    DQ_CHECK_INT(PL("768,512,232,188/232,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 0 && p.tile_col == 3 && p.tile_row == 2);
    DQ_CHECK(p.lx == 768 && p.ly == 512 && p.lw == 232 && p.lh == 188);
    DQ_CHECK_INT(PL("768,512,232,188/full/0/default.jpg", 2, &img, &p), 0);
    DQ_CHECK(p.exact_tile);
    DQ_CHECK_INT(PL("768,512,232,188/max/0/color.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile);
    /* scale factor 2: an edge tile of level 1 (500 x 350): 244 x 256 */
    DQ_CHECK_INT(PL("512,0,488,512/244,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 1 && p.tile_col == 1 && p.tile_row == 0);
    DQ_CHECK(p.lx == 256 && p.ly == 0 && p.lw == 244 && p.lh == 256);
    DQ_CHECK_INT(PL("512,512,488,188/244,/0/default.jpg", 2, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 1 && p.tile_col == 1 && p.tile_row == 1);
    DQ_CHECK(p.lw == 244 && p.lh == 94);
    DQ_CHECK_INT(PL("0,0,512,512/256,256/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 1);
    /* scale factor 4: the whole image is one tile of level 2 (250 x 175) */
    DQ_CHECK_INT(PL("full/250,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 2 && p.tile_col == 0 && p.tile_row == 0);
    DQ_CHECK_INT(PL("0,0,1000,700/250,175/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 2);
    /* not exact: scaled, moved, cut, rotated, mirrored, gray, png, wrong size */
    const char *no[] = {"0,0,256,256/128,/0/default.jpg",
                        "1,0,256,256/256,/0/default.jpg",
                        "0,0,255,256/255,/0/default.jpg",
                        "0,0,256,256/256,/90/default.jpg",
                        "0,0,256,256/256,/!0/default.jpg",
                        "0,0,256,256/256,/0/gray.jpg",
                        "0,0,256,256/256,/0/bitonal.jpg",
                        "0,0,256,256/256,/0/default.png",
                        "0,0,256,256/256,/0/default.webp",
                        "512,0,488,512/245,/0/default.jpg",
                        "0,0,256,256/^257,/0/default.jpg",
                        "768,512,232,188/231,/0/default.jpg",
                        "256,0,512,512/256,/0/default.jpg",
                        "0,0,512,512/256,255/0/default.jpg",
                        "full/max/0/default.jpg"};
    for (size_t i = 0; i < DQ_ARRAY_LEN(no); i++) {
        int rc = PL(no[i], 3, &img, &p);
        DQ_CHECK_INT(rc, 0);
        if (p.exact_tile)
            fprintf(stderr, "    [%s] marked exact\n", no[i]);
        DQ_CHECK(!p.exact_tile);
    }
    /* a region past the edge is clipped first, then it is the edge tile */
    DQ_CHECK_INT(PL("768,512,256,256/232,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.tile_col == 3);
    /* 5000 x 3000 at scale 16: "57," derives round(3000 * 57 / 904) = 189 high, the stored
     * tile is 188: not exact, read through the general path from a finer level */
    dq_iiif_image_t big = mk(5000, 3000, 1);
    DQ_CHECK_INT(PL("4096,0,904,3000/57,/0/default.jpg", 2, &big, &p), 0);
    DQ_CHECK(!p.exact_tile && p.out_h == 189 && p.level == 3);
    DQ_CHECK_INT(PL("4096,0,904,3000/57,188/0/default.jpg", 3, &big, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 4 && p.tile_col == 1 && p.lw == 57 && p.lh == 188);
}

DQ_TEST(exact_tiles_floor_pyramid)
{
    /* 1001 wide halved down: 1001, 500, 250. A client computes the level-1 edge tile as
     * ceil(489 / 2) = 245 px, but 244 are stored: not the stored tile. */
    dq_iiif_image_t img = mk(1001, 700, 0);
    dq_iiif_plan_t p;
    DQ_CHECK_INT(PL("512,0,489,512/245,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(!p.exact_tile);
    DQ_CHECK_INT(p.level, 0);
    DQ_CHECK_INT(PL("0,0,512,512/256,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 1);
    /* the level-2 edge tile of the floor pyramid is exact when asked at its stored size */
    DQ_CHECK_INT(PL("0,0,1001,700/250,/0/default.jpg", 3, &img, &p), 0);
    DQ_CHECK(p.exact_tile && p.level == 2); /* "250," gives round(174.8) = 175 = stored */
    /* every tile, edges included, of every level of a big ceil pyramid is exact */
    dq_iiif_image_t big = mk(5000, 3000, 1);
    for (int k = 0; k < big.n_levels; k++) {
        uint32_t s = 1u << k, t = 256 * s;
        for (uint32_t y = 0; y < big.height; y += t) {
            for (uint32_t x = 0; x < big.width; x += t) {
                uint32_t w = DQ_MIN(t, big.width - x), h = DQ_MIN(t, big.height - y);
                char buf[128];
                /* the 3.0 tile form w,h: "w," derives h by rounding, which at an edge can
                 * differ by a pixel from the stored tile (then it is rightly not exact) */
                snprintf(buf, sizeof(buf), "%u,%u,%u,%u/%u,%u/0/default.jpg", x, y, w, h,
                         (w + s - 1) / s, (h + s - 1) / s);
                DQ_CHECK_INT(PL(buf, 3, &big, &p), 0);
                if (!p.exact_tile || p.level != k)
                    fprintf(stderr, "    [%s] level %d exact %d\n", buf, p.level, p.exact_tile);
                DQ_CHECK(p.exact_tile && p.level == k && p.tile_col == x / t &&
                         p.tile_row == y / t);
            }
        }
    }
}
