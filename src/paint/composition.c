/*
 * paint/composition.c: composition overlays for teaching (issue 17). The painter knows how it
 * composed each work: which mountain layer is near or far, where the host peak stands, where
 * it put pines, the fisherman's boat, pavilions, birds, seals and inscriptions. This file
 * records those places as the builders draw them (dq_paint_motif_mark) and writes them, with
 * the three distances of Guo Xi (郭熙《林泉高致》: 高远, 深远, 平远) and the main masses, as
 * DIR/<id>/composition.json: canvas-pixel regions with bilingual notes that name their
 * glossary entries, so `danqing teach overlays` can import them as annotations.
 *
 * It reads the finished scene and draws no random numbers, so every other output of
 * `danqing generate` stays byte-identical. It does not paint anything.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "paint/paint.h"

/* ---------------------------------------------------------------- recording */

void dq_paint_motif_mark(dq_paint_scene_t *sc, int kind, size_t first, const char *text)
{
    if (first >= sc->n_prims)
        return;
    dq_paint_motif_t m = {.kind = kind, .u0 = 1e9f, .v0 = 1e9f, .u1 = -1e9f, .v1 = -1e9f};
    for (size_t i = first; i < sc->n_prims; i++) {
        const dq_paint_prim_t *p = &sc->prims[i];
        m.u0 = DQ_MIN(m.u0, p->bx0);
        m.v0 = DQ_MIN(m.v0, p->by0);
        m.u1 = DQ_MAX(m.u1, p->bx1);
        m.v1 = DQ_MAX(m.v1, p->by1);
    }
    if (text)
        snprintf(m.text, sizeof(m.text), "%s", text);
    if (sc->n_motifs == sc->cap_motifs) {
        sc->cap_motifs = sc->cap_motifs ? sc->cap_motifs * 2 : 32;
        sc->motifs = dq_xrealloc(sc->motifs, sc->cap_motifs * sizeof(*sc->motifs));
    }
    sc->motifs[sc->n_motifs++] = m;
}

/* ---------------------------------------------------------------- regions */

typedef struct {
    json_t *regions;
    float H, W; /* master pixels; scene units are H pixels */
} out_t;

/* Appends a region (scene units) with its glossary key and notes; clipped to the canvas.
 * Regions smaller than 4 pixels a side are left out: nothing to point at. */
static void region(out_t *o, const char *kind, const char *glossary, float u0, float v0, float u1,
                   float v1, const char *zh, const char *en)
{
    float x0 = DQ_MAX(0.0f, u0 * o->H), y0 = DQ_MAX(0.0f, v0 * o->H);
    float x1 = DQ_MIN(o->W, u1 * o->H), y1 = DQ_MIN(o->H, v1 * o->H);
    int x = (int)floorf(x0), y = (int)floorf(y0);
    int w = (int)ceilf(x1) - x, h = (int)ceilf(y1) - y;
    if (w < 4 || h < 4)
        return;
    json_array_append_new(o->regions,
                          json_pack("{s:s, s:s, s:[iiii], s:{s:s, s:s}}", "kind", kind, "glossary",
                                    glossary, "xywh", x, y, w, h, "text", "zh", zh, "en", en));
}

/* The peaks-only height of layer k at u (as landscape.c's ridge, without the crags). */
static float peak_height(const dq_paint_layer_t *L, float u)
{
    float h = 0;
    for (int j = 0; j < L->n_peaks; j++) {
        float t = fabsf(u - L->peaks[j][0]) / L->peaks[j][2];
        if (t < 4.0f)
            h = DQ_MAX(h, L->peaks[j][1] * expf(-powf(t, 1.7f)));
    }
    return h;
}

#define N_COLS 512

/* One massif: a run of columns where a layer rises well above its base. */
typedef struct {
    int layer;
    float u0, u1, top, base, height; /* scene units; height: the tallest peak in it */
} mass_t;

/* The massifs of every layer, visible ones only (mostly hidden behind nearer ranges: left
 * out), into m (at most cap); returns how many. */
static int find_masses(const dq_paint_scene_t *sc, mass_t *m, int cap)
{
    float A = sc->aspect, col[DQ_PAINT_MAX_LAYERS + DQ_PAINT_COL_EXTRA];
    float(*ridge)[N_COLS] = dq_xcalloc(DQ_PAINT_MAX_LAYERS, sizeof(*ridge));
    float(*hk)[N_COLS] = dq_xcalloc(DQ_PAINT_MAX_LAYERS, sizeof(*hk));
    int n = 0;
    for (int i = 0; i < N_COLS; i++) {
        float u = A * ((float)i + 0.5f) / N_COLS;
        dq_paint_landscape_columns(sc, u, col);
        for (int k = 0; k < sc->n_layers; k++) {
            ridge[k][i] = col[k];
            hk[k][i] = peak_height(&sc->layers[k], u);
        }
    }
    for (int k = 0; k < sc->n_layers; k++) {
        float hmax = 0;
        for (int i = 0; i < N_COLS; i++)
            hmax = DQ_MAX(hmax, hk[k][i]);
        if (hmax <= 0.01f)
            continue;
        float tau = 0.35f * hmax;
        for (int i = 0; i < N_COLS && n < cap;) {
            if (hk[k][i] <= tau) {
                i++;
                continue;
            }
            int a = i, visible = 0;
            float top = 2.0f, h = 0;
            for (; i < N_COLS && hk[k][i] > tau; i++) {
                top = DQ_MIN(top, ridge[k][i]);
                h = DQ_MAX(h, hk[k][i]);
                float front = 2.0f; /* the highest nearer ridge at this column */
                for (int j = 0; j < k; j++)
                    front = DQ_MIN(front, ridge[j][i]);
                visible += ridge[k][i] < front - 0.01f;
            }
            /* At least a third of its crest shows above nearer ranges, and it has not sunk
             * into the blank ends of a handscroll. */
            if (visible * 3 < i - a || top > sc->layers[k].horizon - 0.02f)
                continue;
            m[n++] = (mass_t){k, A * (float)a / N_COLS, A * (float)i / N_COLS, top,
                              DQ_MIN(sc->layers[k].horizon, 1.0f), h};
        }
    }
    free(ridge);
    free(hk);
    return n;
}

static void masses_and_distances(out_t *o, const dq_paint_scene_t *sc, int format)
{
    mass_t m[64];
    int n = find_masses(sc, m, (int)DQ_ARRAY_LEN(m));
    int host = -1, far = sc->n_layers - 1;
    for (int i = 0; i < n; i++)
        if (m[i].layer > 0 && m[i].layer < far &&
            (host < 0 || m[i].base - m[i].top > m[host].base - m[host].top))
            host = i;
    float fu0 = 1e9f, fu1 = -1e9f, ftop = 2.0f, fbase = 0;
    float nu0 = 1e9f, nu1 = -1e9f, ntop = 2.0f;
    int guests = 0;
    for (int i = 0; i < n; i++) {
        if (i == host) {
            region(o, "mass", "host-and-guest", m[i].u0, m[i].top, m[i].u1, m[i].base,
                   "主山：全幅的主峰，其余山石皆为宾，拱揖相向。",
                   "The host mountain: the main peak of the composition; the other mountains are "
                   "its guests and turn towards it.");
        } else if (m[i].layer == far) {
            fu0 = DQ_MIN(fu0, m[i].u0), fu1 = DQ_MAX(fu1, m[i].u1);
            ftop = DQ_MIN(ftop, m[i].top), fbase = DQ_MAX(fbase, m[i].base);
        } else if (m[i].layer == 0) {
            nu0 = DQ_MIN(nu0, m[i].u0), nu1 = DQ_MAX(nu1, m[i].u1);
            ntop = DQ_MIN(ntop, m[i].top);
            region(o, "mass", "host-and-guest", m[i].u0, m[i].top, m[i].u1,
                   DQ_MIN(m[i].base, 1.0f), "近景坡岸：画面最近的一层山石，墨色最重，树木生于其上。",
                   "The near bank: the nearest layer, inked darkest, where the trees stand.");
        } else if (guests < 6) {
            guests++;
            region(o, "mass", "host-and-guest", m[i].u0, m[i].top, m[i].u1, m[i].base,
                   "客山：陪衬主山的山峦，较小较淡。",
                   "A guest mountain: a smaller, paler range that attends the host.");
        }
    }
    if (fu1 > fu0)
        region(o, "mass", "far-mountains", fu0, ftop, fu1, fbase,
               "远山：淡墨低平，以空气透视退入远方。",
               "The far ranges: low and pale, receding by atmospheric perspective.");
    /* The three distances (Guo Xi): "自山下而仰山巅，谓之高远；自山前而窥山后，谓之深远；
     * 自近山而望远山，谓之平远". The hanging scrolls are built in all three; the other formats
     * open sideways and show the level distance. */
    if (format == DQ_FMT_HANGING && host >= 0) {
        region(o, "distance", "high-distance", m[host].u0, m[host].top, m[host].u1,
               DQ_MIN(1.0f, m[host].base + 0.18f),
               "高远：自山下而仰山巅。目光从山脚一路上移到主峰之顶，山势显得高耸。",
               "High distance (gaoyuan): looking up from the foot of the mountain to its summit. "
               "The eye climbs the host peak from its base to the top, and the mountain towers.");
        float du0 = nu1 > nu0 ? DQ_MIN(nu0, m[host].u0) : m[host].u0;
        float du1 = nu1 > nu0 ? DQ_MAX(nu1, m[host].u1) : m[host].u1;
        region(o, "distance", "deep-distance", du0, m[host].top + 0.5f * (m[host].base - m[host].top),
               du1, 1.0f,
               "深远：自山前而窥山后。从近岸穿过中景的层层山石与云烟，望向主峰背后。",
               "Deep distance (shenyuan): from in front of the mountains peering behind them. "
               "From the near bank the eye passes layer after layer of rock and mist into the "
               "depth behind the host peak.");
    }
    if (fu1 > fu0 && (format == DQ_FMT_HANGING || format == DQ_FMT_HANDSCROLL ||
                      format == DQ_FMT_ALBUM || format == DQ_FMT_FAN)) {
        float lu0 = nu1 > nu0 ? DQ_MIN(fu0, nu0) : fu0, lu1 = nu1 > nu0 ? DQ_MAX(fu1, nu1) : fu1;
        if (format == DQ_FMT_HANDSCROLL) /* a scroll is read an arm's length at a time */
            lu0 = fu0, lu1 = fu1;
        region(o, "distance", "level-distance", lu0, ftop, lu1,
               DQ_MIN(1.0f, DQ_MAX(fbase, ntop) + 0.02f),
               "平远：自近山而望远山。视线越过水面与近岸，平平地伸向天边的远山。",
               "Level distance (pingyuan): from the near mountains looking across to the distant "
               "ones. The eye travels flat across water and banks to the far ranges at the "
               "horizon.");
    }
    /* The texture strokes (皴法) of the school, pointed out on the host mountain, where the
     * painter put most of them. */
    static const char *const cun_key[] = {"hemp-fibre-strokes", "axe-cut-strokes",
                                          "raindrop-strokes", "mi-dots"};
    static const char *const cun_zh[] = {
        "皴法：此作以披麻皴写山，长而微曲的线条顺山势而下，如披散的麻丝。",
        "皴法：此作以斧劈皴写山，侧锋短促，如斧劈木，山石坚硬。",
        "皴法：此作以雨点皴写山，密集的短点如雨落山石，厚重苍润。",
        "皴法：此作以米点写山，横卧的墨点层层积染，山在云烟中。"};
    static const char *const cun_en[] = {
        "Texture strokes (cunfa): hemp-fibre strokes, long and gently curving lines that run "
        "down the slopes like loose hemp.",
        "Texture strokes (cunfa): axe-cut strokes, short slanting strokes of the side of the "
        "brush, like an axe splitting wood: the rock is hard.",
        "Texture strokes (cunfa): raindrop strokes, dense short dots like rain striking rock: "
        "the mountain is massive and moist.",
        "Texture strokes (cunfa): Mi dots, horizontal dabs of ink laid in layers: a mountain in "
        "cloud and rain."};
    if (host >= 0 && sc->cun >= 0 && sc->cun < 4)
        region(o, "technique", cun_key[sc->cun], m[host].u0, m[host].top, m[host].u1,
               m[host].base, cun_zh[sc->cun], cun_en[sc->cun]);
    if (sc->waterfall)
        region(o, "motif", "waterfall", sc->wf[0] - 0.02f, sc->wf[1], sc->wf[0] + 0.02f, sc->wf[2],
               "瀑布：留白成水，自主峰间垂落。", "A waterfall: left as bare silk or paper, it "
               "falls from the host peak.");
}

/* The motifs the builders recorded: every boat, bird, seal and inscription; the largest few
 * pines, pavilions and figure groups. */
static void motifs(out_t *o, const dq_paint_scene_t *sc)
{
    static const int keep[DQ_MOTIF_N] = {3, 8, 2, 2, 8, 1, 12, 12, 4};
    int taken[DQ_MOTIF_N] = {0};
    int *order = dq_xmalloc((sc->n_motifs + 1) * sizeof(int));
    for (size_t i = 0; i < sc->n_motifs; i++)
        order[i] = (int)i;
    /* Largest first (a stable insertion sort: ties keep drawing order, so output is fixed). */
    for (size_t i = 1; i < sc->n_motifs; i++) {
        int x = order[i];
        const dq_paint_motif_t *a = &sc->motifs[x];
        float ax = (a->u1 - a->u0) * (a->v1 - a->v0);
        size_t j = i;
        for (; j > 0; j--) {
            const dq_paint_motif_t *b = &sc->motifs[order[j - 1]];
            if ((b->u1 - b->u0) * (b->v1 - b->v0) >= ax)
                break;
            order[j] = order[j - 1];
        }
        order[j] = x;
    }
    for (size_t i = 0; i < sc->n_motifs; i++) {
        const dq_paint_motif_t *mt = &sc->motifs[order[i]];
        if (mt->kind < 0 || mt->kind >= DQ_MOTIF_N || taken[mt->kind] >= keep[mt->kind])
            continue;
        taken[mt->kind]++;
        char zh[256], en[320];
        const char *key = "";
        switch (mt->kind) {
        case DQ_MOTIF_PINE:
            key = "pine";
            snprintf(zh, sizeof(zh), "松：岁寒不凋，喻君子的坚贞。");
            snprintf(en, sizeof(en), "A pine: green through the winter, the constancy of the "
                                     "gentleman.");
            break;
        case DQ_MOTIF_BOAT:
            key = "fisherman";
            snprintf(zh, sizeof(zh), "渔父：一叶扁舟，戴笠持竿，是隐逸的象征。");
            snprintf(en, sizeof(en), "The fisherman: a small boat, a straw hat and a rod; the "
                                     "recluse who has left office for the rivers.");
            break;
        case DQ_MOTIF_PAVILION:
            key = "pavilion";
            snprintf(zh, sizeof(zh), "亭：山水中供人驻足观景的亭子，旁有高士。");
            snprintf(en, sizeof(en), "A pavilion: a place to stop and look, with a scholar "
                                     "beside it.");
            break;
        case DQ_MOTIF_FIGURES:
            key = "scholar-recluse";
            snprintf(zh, sizeof(zh), "高士：山间行旅或对语的小小人物，衬出山川之大。");
            snprintf(en, sizeof(en), "Scholars in the mountains: tiny figures that walk or talk, "
                                     "and show how large the landscape is.");
            break;
        case DQ_MOTIF_BIRD:
            key = "bird-and-flower";
            snprintf(zh, sizeof(zh), "栖鸟：花鸟画中栖于枝头的小鸟。");
            snprintf(en, sizeof(en), "A bird perched on the branch, as bird-and-flower painting "
                                     "shows it.");
            break;
        case DQ_MOTIF_PLUM:
            key = "plum";
            snprintf(zh, sizeof(zh), "梅：老干新花，凌寒先开，岁寒三友之一。");
            snprintf(en, sizeof(en), "Plum: old branches with new blossom, the first to flower "
                                     "in the cold; one of the three friends of winter.");
            break;
        case DQ_MOTIF_SEAL:
            key = "seal";
            snprintf(zh, sizeof(zh), "印章：「%s」。", mt->text);
            snprintf(en, sizeof(en), "A seal reading \"%s\": the painter's or a collector's "
                                     "mark in cinnabar paste.",
                     mt->text);
            break;
        case DQ_MOTIF_INSCRIPTION:
            key = "inscription";
            snprintf(zh, sizeof(zh), "题款：「%.60s」。", mt->text);
            snprintf(en, sizeof(en), "An inscription by the painter (题款): a poem or the "
                                     "signature, written on the painting.");
            break;
        case DQ_MOTIF_COLOPHON:
            key = "colophon";
            snprintf(zh, sizeof(zh), "题跋：「%.60s」。", mt->text);
            snprintf(en, sizeof(en), "A colophon (题跋): a later owner's words written after the "
                                     "painting.");
            break;
        }
        region(o, "motif", key, mt->u0, mt->v0, mt->u1, mt->v1, zh, en);
    }
    free(order);
}

/* ---------------------------------------------------------------- the file */

int dq_paint_composition_write(const dq_paint_scene_t *sc, const char *work_id, int format,
                               int w, int h, const char *dir, dq_err_t *err)
{
    out_t o = {json_array(), (float)h, (float)w};
    if (sc->kind == DQ_SCENE_LANDSCAPE)
        masses_and_distances(&o, sc, format);
    motifs(&o, sc);
    json_t *doc = json_pack("{s:s, s:s, s:i, s:i, s:i, s:o}", "work", work_id, "generator",
                            DQ_PAINT_VERSION, "canvas", 1, "width", w, "height", h, "regions",
                            o.regions);
    char *text = json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
    json_decref(doc);
    if (!text)
        return dq_err_set(err, DQ_EINTERNAL, 0, "%s: composition json", work_id);
    char *path = dq_xasprintf("%s/composition.json", dir);
    dq_buf_t b = {0};
    dq_buf_puts(&b, text);
    dq_buf_putc(&b, '\n');
    int rc = dq_fs_write_atomic(path, dir, b.data, b.len, err);
    dq_buf_free(&b);
    free(path);
    free(text);
    return rc;
}
