/*
 * paint/seal.c: writing on the painting. Inscriptions and colophons are set in the Kai font
 * that Debian ships (fonts-arphic-ukai) through vips_text, one vertical column per string,
 * read right to left; seals are carved from the same glyphs, either relief (朱文, red
 * characters and frame) or intaglio (白文, white characters cut out of a red square), with
 * wear. Everything becomes a stamp primitive of the scene; nothing is composited here.
 */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <vips/vips.h>

#include "paint/paint.h"

#define KAI_FILE "/usr/share/fonts/truetype/arphic/ukai.ttc"
#define KAI_FONT "AR PL UKai CN"

/* libvips 8.14's vips_text keys its table of loaded font files by the calling operation's own
 * copy of the path, which is freed with the operation: once the operation cache drops that
 * first operation, every later call with "fontfile" reads freed memory (ASan found it with the
 * hundreds of inscriptions of `generate --study`). So the font file is loaded exactly once per
 * process, by a throw-away call, and later calls name only the font (fontconfig knows it by
 * then). pthread_once is the one-time initialisation; nothing else is global here. */
static pthread_once_t kai_once = PTHREAD_ONCE_INIT;
static void kai_load(void)
{
    VipsImage *t = NULL;
    if (vips_text(&t, " ", "fontfile", KAI_FILE, "font", KAI_FONT " 12", NULL) == 0)
        g_object_unref(t);
    else
        vips_error_clear(); /* the real call below reports a missing font */
}

/* One column of text, top to bottom, as a new w*h mask (free with free()). */
static uint8_t *column_mask(const char *text, int font_px, int *w, int *h, dq_err_t *err)
{
    dq_buf_t col = {0};
    VipsImage *t[1] = {NULL};
    uint8_t *mask = NULL;
    /* A newline after every character stacks the glyphs vertically. */
    for (const unsigned char *p = (const unsigned char *)text; *p;) {
        int len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
        if (col.len)
            dq_buf_putc(&col, '\n');
        dq_buf_append(&col, p, (size_t)len);
        p += len;
    }
    char *font = dq_xasprintf("%s %d", KAI_FONT, font_px < 2 ? 2 : font_px);
    pthread_once(&kai_once, kai_load);
    if (vips_text(&t[0], col.data ? col.data : " ", "font", font, "dpi", 72, "align",
                  VIPS_ALIGN_CENTRE, NULL)) {
        dq_err_set(err, DQ_EIO, 0, "vips_text: %s", vips_error_buffer());
        vips_error_clear();
        goto out;
    }
    size_t size;
    void *mem = vips_image_write_to_memory(t[0], &size);
    if (!mem) {
        dq_err_set(err, DQ_EIO, 0, "vips_text memory: %s", vips_error_buffer());
        vips_error_clear();
        goto out;
    }
    *w = t[0]->Xsize;
    *h = t[0]->Ysize;
    mask = dq_xmalloc(size);
    memcpy(mask, mem, size);
    g_free(mem);
out:
    free(font);
    dq_buf_free(&col);
    VIPS_UNREF(t[0]);
    return mask;
}

int dq_paint_add_text(dq_paint_scene_t *sc, const char *const *cols, int n_cols, float u, float v,
                      float char_h, float unit_px, float alpha, float *width_out, dq_err_t *err)
{
    int font_px = (int)lroundf(char_h * unit_px);
    float px = 1.0f / unit_px;
    float x = u; /* right edge of the next column */
    for (int i = 0; i < n_cols; i++) {
        int w, h;
        uint8_t *m = column_mask(cols[i], font_px, &w, &h, err);
        if (!m)
            return -1;
        float cw = (float)w * px;
        dq_paint_add_stamp(sc, DQ_TGT_INK, 0, m, w, h, x - cw, v, px, alpha);
        x -= DQ_MAX(cw, char_h * 0.9f) + char_h * 0.35f;
    }
    if (width_out)
        *width_out = u - x;
    return 0;
}

int dq_paint_add_seal(dq_paint_scene_t *sc, const char *text, int relief, float u, float v,
                      float size, float unit_px, uint32_t seed, dq_err_t *err)
{
    /* Split the reading into characters: right column first, top to bottom. */
    const char *chars[4];
    size_t lens[4];
    int n = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && n < 4;) {
        int len = *p < 0x80 ? 1 : *p < 0xe0 ? 2 : *p < 0xf0 ? 3 : 4;
        chars[n] = (const char *)p;
        lens[n++] = (size_t)len;
        p += len;
    }
    int S = (int)lroundf(size * unit_px);
    if (S < 12)
        S = 12;
    int W = n <= 2 ? S * 11 / 20 : S, H = S;
    int n_cols = n <= 2 ? 1 : 2;
    uint8_t *mask = dq_xcalloc((size_t)W * (size_t)H, 1);
    int border = DQ_MAX(1, S / 14);
    for (int c = 0; c < n_cols; c++) {
        char colbuf[16] = {0};
        size_t off = 0;
        for (int k = c * 2; k < c * 2 + 2 && k < n; k++) {
            memcpy(colbuf + off, chars[k], lens[k]);
            off += lens[k];
        }
        int w, h;
        uint8_t *g = column_mask(colbuf, S * 9 / 20, &w, &h, err);
        if (!g) {
            free(mask);
            return -1;
        }
        /* Fit the column into its half (or all) of the seal, right column first. */
        int cell_w = (W - 2 * border) / n_cols - border, cell_h = H - 3 * border;
        int x0 = W - border * 2 - (c + 1) * (cell_w + border) + border;
        for (int y = 0; y < cell_h; y++)
            for (int x = 0; x < cell_w; x++) {
                int sx = x * w / cell_w, sy = y * h / cell_h;
                uint8_t gv = g[(size_t)sy * (size_t)w + (size_t)sx];
                size_t di = (size_t)(y + border * 3 / 2) * (size_t)W + (size_t)(x + x0);
                if (gv > mask[di])
                    mask[di] = gv;
            }
        free(g);
    }
    /* Carve: relief keeps glyphs and frame; intaglio keeps the square minus the glyphs. Then
     * wear: the paste misses in small patches and the edges are uneven. */
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * (size_t)W + (size_t)x;
            int edge = x < border || y < border || x >= W - border || y >= H - border;
            float g = mask[i] / 255.0f;
            float m =
                relief ? (edge ? 1.0f : DQ_MIN(1.0f, g * 1.6f)) : 1.0f - DQ_MIN(1.0f, g * 1.4f);
            float wear =
                dq_paint_noise2(seed, (float)x * 12.0f / (float)S, (float)y * 12.0f / (float)S);
            float fine = dq_paint_noise2(seed + 1u, (float)x * 40.0f / (float)S,
                                         (float)y * 40.0f / (float)S);
            if (wear + 0.4f * fine > 0.55f)
                m *= 0.35f;
            mask[i] = (uint8_t)(m * 255.0f + 0.5f);
        }
    float px = 1.0f / unit_px;
    dq_paint_prim_t *p =
        dq_paint_add_stamp(sc, DQ_TGT_PIGMENT, DQ_MAT_CINNABAR, mask, W, H, u, v, px, 1.0f);
    (void)p;
    return 0;
}
