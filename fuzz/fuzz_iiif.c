/*
 * fuzz_iiif.c: libFuzzer entry for the IIIF request path. The input is a request path after
 * the version prefix ("{id}/{region}/{size}/{rotation}/{quality}.{format}"); its first byte
 * picks the version and one of a few fixed image geometries and limits. Each path goes through
 * dq_iiif_split_path, dq_iiif_parse, dq_iiif_plan, dq_iiif_canonical and dq_iiif_info_json,
 * and the invariants below are checked with abort() so that libFuzzer reports them:
 *   - every failure carries an HTTP status in 400..599 and a message;
 *   - a plan has a non-empty region inside the image, an output of at least 1 x 1 within the
 *     limits, a level rectangle inside its level, and an exact tile only at scale 1 : 2^k;
 *   - the canonical form parses and plans to the same output (and is a fixed point).
 */
#include "iiif/iiif.h"

#include <stdlib.h>
#include <string.h>

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c))                                                                                  \
            abort();                                                                               \
    } while (0)

static void check_err(const dq_err_t *err)
{
    CHECK(err->http_status >= 400 && err->http_status <= 599);
    CHECK(err->msg[0] != '\0');
}

static dq_iiif_image_t make_image(int which)
{
    static const uint32_t dims[4][2] = {{1000, 700}, {6300, 224490}, {1, 1}, {2457600, 1200}};
    dq_iiif_image_t img;
    memset(&img, 0, sizeof(img));
    uint32_t w = dims[which & 3][0], h = dims[which & 3][1];
    img.width = w;
    img.height = h;
    img.tile_w = img.tile_h = 256;
    img.levels[0].width = w;
    img.levels[0].height = h;
    img.n_levels = 1;
    int floor_halves = which & 4;
    while ((w > 256 || h > 256) && img.n_levels < 32) {
        w = floor_halves ? DQ_MAX(w / 2, 1) : (w + 1) / 2;
        h = floor_halves ? DQ_MAX(h / 2, 1) : (h + 1) / 2;
        img.levels[img.n_levels].width = w;
        img.levels[img.n_levels].height = h;
        img.n_levels++;
    }
    if (which & 8) {
        img.max_width = 5000;
        img.max_area = 20000000;
    }
    return img;
}

static void check_plan(const dq_iiif_plan_t *p, const dq_iiif_image_t *img)
{
    uint64_t mw = img->max_width ? img->max_width : UINT32_MAX;
    uint64_t mh = img->max_height ? img->max_height : mw;
    uint64_t ma = img->max_area ? img->max_area : UINT64_MAX;
    CHECK(p->w >= 1 && p->h >= 1);
    CHECK((uint64_t)p->x + p->w <= img->width && (uint64_t)p->y + p->h <= img->height);
    CHECK(p->out_w >= 1 && p->out_h >= 1);
    CHECK(p->out_w <= mw && p->out_h <= mh && (uint64_t)p->out_w * p->out_h <= ma);
    CHECK(p->out_w <= 65535 || p->format != DQ_FMT_JPG);
    CHECK(p->level >= 0 && p->level < img->n_levels);
    const dq_iiif_level_t *lv = &img->levels[p->level];
    CHECK(p->lw >= 1 && p->lh >= 1);
    CHECK((uint64_t)p->lx + p->lw <= lv->width && (uint64_t)p->ly + p->lh <= lv->height);
    if (p->exact_tile) {
        CHECK(p->rotation == 0.0 && !p->mirror && p->format == DQ_FMT_JPG);
        CHECK(p->lw <= img->tile_w && p->lh <= img->tile_h);
        CHECK(p->lx == p->tile_col * img->tile_w && p->ly == p->tile_row * img->tile_h);
        CHECK(p->out_w == p->lw && p->out_h == p->lh);
    } else if (!p->upscale) {
        /* never read a level smaller than the output */
        uint64_t s = (uint64_t)1 << p->level;
        CHECK((uint64_t)p->w >= (uint64_t)p->out_w * s && (uint64_t)p->h >= (uint64_t)p->out_h * s);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int sel = data[0];
    int version = (sel & 16) ? DQ_IIIF_V2 : DQ_IIIF_V3;
    dq_iiif_image_t img = make_image(sel);
    const char *path = (const char *)data + 1;
    size_t len = size - 1;

    char id[DQ_IIIF_ID_MAX + 1];
    int kind = 0;
    const char *params = NULL;
    size_t params_len = 0;
    dq_err_t err = {0};

    if (dq_iiif_split_path(path, len, id, &kind, &params, &params_len, &err) < 0) {
        check_err(&err);
        /* parse the whole input as parameters too, so the parser sees every byte */
        params = path;
        params_len = len;
    } else {
        size_t n = strlen(id);
        CHECK(n >= 1 && n <= DQ_IIIF_ID_MAX && id[0] != '.');
        for (size_t i = 0; i < n; i++)
            CHECK(id[i] != '/' && id[i] > ' ' && id[i] < 127);
        if (kind != DQ_IIIF_PATH_IMAGE) {
            CHECK(kind == DQ_IIIF_PATH_BASE || kind == DQ_IIIF_PATH_INFO);
            dq_buf_t b = {0};
            dq_iiif_info_json(&img, "http://127.0.0.1:8080/iiif/3/x", version, &b);
            CHECK(b.len > 0 && b.data[0] == '{');
            dq_buf_free(&b);
            return 0;
        }
        CHECK(params >= path && params + params_len <= path + len);
    }

    dq_iiif_req_t req;
    dq_iiif_plan_t plan;
    if (dq_iiif_parse(params, params_len, version, &req, &err) < 0) {
        check_err(&err);
        return 0;
    }
    if (dq_iiif_plan(&req, &img, &plan, &err) < 0) {
        check_err(&err);
        return 0;
    }
    check_plan(&plan, &img);

    dq_buf_t c1 = {0}, c2 = {0};
    dq_iiif_canonical(&plan, &img, version, &c1);
    dq_iiif_req_t req2;
    dq_iiif_plan_t plan2;
    CHECK(dq_iiif_parse(c1.data, c1.len, version, &req2, &err) == 0);
    CHECK(dq_iiif_plan(&req2, &img, &plan2, &err) == 0);
    CHECK(plan2.x == plan.x && plan2.y == plan.y && plan2.w == plan.w && plan2.h == plan.h);
    CHECK(plan2.out_w == plan.out_w && plan2.out_h == plan.out_h);
    CHECK(plan2.mirror == plan.mirror && plan2.quality == plan.quality &&
          plan2.format == plan.format);
    dq_iiif_canonical(&plan2, &img, version, &c2);
    CHECK(strcmp(c1.data, c2.data) == 0);
    dq_buf_free(&c1);
    dq_buf_free(&c2);
    return 0;
}
