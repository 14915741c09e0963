/*
 * test_pyramid.c: the pyramid reader against vips' own TIFF reader. Geometry of every level,
 * every raw tile's pixels, edge-tile crops of the exact size, both level layouts (directories
 * and SubIFDs), 1-band pyramids, bad arguments, and truncated or corrupt files.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image/pyramid_internal.h"
#include "image_fixture.h"

/* Compares every level's geometry with vips' reader, and every stored tile's spliced JPEG with
 * the same area of that level as vips decodes it. */
static void check_pyramid(const char *path, int subifd, int bands)
{
    dq_err_t err = {0};
    dq_pyramid_t *p = dq_pyramid_open(path, &err);
    DQ_REQUIRE(p != NULL);
    const dq_pyramid_info_t *in = dq_pyramid_info(p);
    DQ_CHECK_INT(in->width, FX_W);
    DQ_CHECK_INT(in->height, FX_H);
    DQ_CHECK_INT(in->tile_w, 256);
    DQ_CHECK_INT(in->tile_h, 256);
    DQ_CHECK_INT(in->bands, bands);
    DQ_CHECK_INT(in->jpeg_tiles, 1);
    DQ_CHECK_STR(dq_pyramid_path(p), path);
    DQ_CHECK(in->n_levels >= 3);

    /* vips stops adding levels when one fits in a tile: 1500x1000 -> ... -> 187x125. */
    int n_vips = 0;
    for (int l = 0; l < 32; l++) {
        VipsImage *ref = fx_load_level(path, l, subifd);
        vips_error_clear();
        if (!ref)
            break;
        n_vips++;
        DQ_REQUIRE(l < in->n_levels);
        DQ_CHECK_INT(in->levels[l].width, ref->Xsize);
        DQ_CHECK_INT(in->levels[l].height, ref->Ysize);

        uint32_t across = (in->levels[l].width + 255) / 256,
                 down = (in->levels[l].height + 255) / 256;
        dq_buf_t b = {0};
        for (uint32_t r = 0; r < down; r++)
            for (uint32_t c = 0; c < across; c++) {
                b.len = 0;
                DQ_REQUIRE(dq_pyramid_tile_jpeg(p, l, c, r, 0, 0, &b, &err) == 0);
                const uint8_t *u = (const uint8_t *)b.data;
                DQ_CHECK(u[0] == 0xFF && u[1] == 0xD8 && u[b.len - 2] == 0xFF &&
                         u[b.len - 1] == 0xD9);
                VipsImage *t = fx_decode(&b);
                DQ_REQUIRE(t != NULL);
                DQ_CHECK_INT(t->Xsize, 256);
                DQ_CHECK_INT(t->Ysize, 256);
                DQ_CHECK_INT(t->Bands, bands);
                uint32_t w = DQ_MIN(256u, in->levels[l].width - c * 256);
                uint32_t h = DQ_MIN(256u, in->levels[l].height - r * 256);
                VipsImage *crop = NULL;
                DQ_REQUIRE(vips_extract_area(ref, &crop, (int)(c * 256), (int)(r * 256), (int)w,
                                             (int)h, NULL) == 0);
                double d = fx_mean_diff(t, crop);
                if (d > 1.0)
                    fprintf(stderr, "    level %d tile %u,%u diff %.2f\n", l, c, r, d);
                DQ_CHECK(d <= 1.0); /* the same JPEG data, decoded twice */

                /* Edge tiles cropped to the image: exactly w x h, same pixels. */
                if (w < 256 || h < 256) {
                    dq_buf_t cb = {0};
                    DQ_REQUIRE(dq_pyramid_tile_jpeg(p, l, c, r, w, h, &cb, &err) == 0);
                    VipsImage *ct = fx_decode(&cb);
                    DQ_REQUIRE(ct != NULL);
                    DQ_CHECK_INT(ct->Xsize, w);
                    DQ_CHECK_INT(ct->Ysize, h);
                    DQ_CHECK(fx_mean_diff(ct, crop) <= 1.0);
                    g_object_unref(ct);
                    dq_buf_free(&cb);
                }
                g_object_unref(crop);
                g_object_unref(t);
            }
        dq_buf_free(&b);
        g_object_unref(ref);
    }
    DQ_CHECK_INT(in->n_levels, n_vips);
    dq_pyramid_unref(p);
}

DQ_TEST(pyramid_directories)
{
    fx_t f;
    fx_setup(&f);
    check_pyramid(f.tif, 0, 3);
    fx_teardown(&f);
}

DQ_TEST(pyramid_subifds)
{
    fx_t f;
    fx_setup(&f);
    check_pyramid(f.tif_sub, 1, 3);
    fx_teardown(&f);
}

DQ_TEST(pyramid_gray)
{
    fx_t f;
    fx_setup(&f);
    check_pyramid(f.tif_gray, 0, 1);
    fx_teardown(&f);
}

DQ_TEST(pyramid_deflate_is_not_jpeg)
{
    fx_t f;
    fx_setup(&f);
    dq_err_t err = {0};
    dq_pyramid_t *p = dq_pyramid_open(f.tif_zip, &err);
    DQ_REQUIRE(p != NULL);
    DQ_CHECK_INT(dq_pyramid_info(p)->jpeg_tiles, 0);
    dq_buf_t b = {0};
    DQ_CHECK(dq_pyramid_tile_jpeg(p, 0, 0, 0, 0, 0, &b, &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EUNSUP);
    dq_buf_free(&b);
    dq_pyramid_unref(p);
    fx_teardown(&f);
}

DQ_TEST(pyramid_refcount)
{
    fx_t f;
    fx_setup(&f);
    dq_err_t err = {0};
    dq_pyramid_t *p = dq_pyramid_open(f.tif, &err);
    DQ_REQUIRE(p != NULL);
    dq_pyramid_ref(p);
    dq_pyramid_unref(p);
    DQ_CHECK_INT(dq_pyramid_info(p)->width, FX_W); /* still alive */
    dq_pyramid_unref(p);
    dq_pyramid_unref(NULL);
    fx_teardown(&f);
}

DQ_TEST(pyramid_bad_arguments)
{
    fx_t f;
    fx_setup(&f);
    dq_err_t err = {0};
    dq_pyramid_t *p = dq_pyramid_open(f.tif, &err);
    DQ_REQUIRE(p != NULL);
    const dq_pyramid_info_t *in = dq_pyramid_info(p);
    dq_buf_t b = {0};
    struct {
        int level;
        uint32_t col, row, cw, ch;
    } bad[] = {
        {-1, 0, 0, 0, 0},        {in->n_levels, 0, 0, 0, 0}, {0, 6, 0, 0, 0},   {0, 0, 4, 0, 0},
        {0, 99999, 99999, 0, 0}, {0, 0, 0, 257, 0},          {0, 0, 0, 0, 300}, {1, 3, 0, 0, 0},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(bad); i++) {
        dq_err_clear(&err);
        DQ_CHECK(dq_pyramid_tile_jpeg(p, bad[i].level, bad[i].col, bad[i].row, bad[i].cw, bad[i].ch,
                                      &b, &err) < 0);
        DQ_CHECK_INT(err.code, DQ_EINVAL);
        DQ_CHECK_INT(b.len, 0);
    }
    dq_buf_free(&b);
    dq_pyramid_unref(p);

    DQ_CHECK(dq_pyramid_open("/nonexistent/x.tif", &err) == NULL);
    DQ_CHECK_INT(err.code, DQ_ENOTFOUND);
    DQ_CHECK(dq_pyramid_open(f.master, &err) == NULL); /* a .v file is not a TIFF */
    DQ_CHECK_INT(err.code, DQ_EIO);
    DQ_CHECK(dq_pyramid_open(f.dir, &err) == NULL); /* a directory */
    fx_teardown(&f);
}

/* Every edge tile of the pyramid at a and b, asked for at its exact crop, must answer the very
 * same bytes; returns how many edge tiles there were. */
static int same_edges(const char *a, const char *b)
{
    dq_err_t err = {0};
    dq_pyramid_t *pa = dq_pyramid_open(a, &err), *pb = dq_pyramid_open(b, &err);
    DQ_REQUIRE(pa != NULL && pb != NULL);
    const dq_pyramid_info_t *in = dq_pyramid_info(pa);
    int n = 0;
    dq_buf_t ba = {0}, bb = {0};
    for (int l = 0; l < in->n_levels; l++) {
        uint32_t w = in->levels[l].width, h = in->levels[l].height;
        for (uint32_t r = 0; r * 256 < h; r++)
            for (uint32_t c = 0; c * 256 < w; c++) {
                uint32_t cw = DQ_MIN(256u, w - c * 256), ch = DQ_MIN(256u, h - r * 256);
                if (cw == 256 && ch == 256)
                    continue;
                ba.len = bb.len = 0;
                DQ_REQUIRE(dq_pyramid_tile_jpeg(pa, l, c, r, cw, ch, &ba, &err) == 0);
                DQ_REQUIRE(dq_pyramid_tile_jpeg(pb, l, c, r, cw, ch, &bb, &err) == 0);
                DQ_CHECK(ba.len == bb.len && memcmp(ba.data, bb.data, ba.len) == 0);
                n++;
            }
    }
    dq_buf_free(&ba);
    dq_buf_free(&bb);
    dq_pyramid_unref(pa);
    dq_pyramid_unref(pb);
    return n;
}

static off_t file_size(const char *path)
{
    struct stat st;
    DQ_REQUIRE(stat(path, &st) == 0);
    return st.st_size;
}

static void copy_prefix(const char *src, const char *dst, off_t n);

/* Ingest appends pre-cropped edge tiles to the pyramid (dq_pyramid_write_edges): they must be
 * byte for byte what the per-request crop answers, every TIFF reader must still read the file
 * (check_pyramid compares it with vips, edge crops included), a second call adds nothing, and a
 * damaged trailer is ignored (crops per request again) rather than served. */
DQ_TEST(pyramid_edge_trailer)
{
    fx_t f;
    fx_setup(&f);
    dq_err_t err = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/edges.tif", f.dir);
    off_t plain = file_size(f.tif);
    copy_prefix(f.tif, path, plain);
    DQ_REQUIRE(dq_pyramid_write_edges(path, &err) == 0);
    off_t with = file_size(path);
    DQ_CHECK(with > plain);
    dq_pyramid_t *p = dq_pyramid_open(path, &err);
    DQ_REQUIRE(p != NULL);
    int n_slots = 0;
    for (int l = 0; l < p->n_levels; l++)
        if (p->levels[l].edge_len)
            for (uint32_t i = 0; i < p->levels[l].across + p->levels[l].down; i++)
                n_slots += p->levels[l].edge_len[i] > 0;
    dq_pyramid_unref(p);
    int n_edges = same_edges(f.tif, path);
    DQ_CHECK(n_edges > 0);
    DQ_CHECK_INT(n_slots, n_edges); /* every edge tile answered from the trailer */
    check_pyramid(path, 0, 3);

    DQ_REQUIRE(dq_pyramid_write_edges(path, &err) == 0);
    DQ_CHECK_INT(file_size(path), with);

    /* Gray and SubIFD layouts too. */
    char gpath[700];
    snprintf(gpath, sizeof gpath, "%s/edges_gray.tif", f.dir);
    copy_prefix(f.tif_gray, gpath, file_size(f.tif_gray));
    DQ_REQUIRE(dq_pyramid_write_edges(gpath, &err) == 0);
    DQ_CHECK(same_edges(f.tif_gray, gpath) > 0);
    check_pyramid(gpath, 0, 1);
    snprintf(gpath, sizeof gpath, "%s/edges_sub.tif", f.dir);
    copy_prefix(f.tif_sub, gpath, file_size(f.tif_sub));
    DQ_REQUIRE(dq_pyramid_write_edges(gpath, &err) == 0);
    DQ_CHECK(same_edges(f.tif_sub, gpath) > 0);

    /* Damage: one byte of the index, then one byte of the footer's tile hash. */
    off_t spots[] = {with - 40 - 10, with - 3};
    for (size_t i = 0; i < DQ_ARRAY_LEN(spots); i++) {
        copy_prefix(f.tif, path, plain);
        DQ_REQUIRE(dq_pyramid_write_edges(path, &err) == 0);
        int fd = open(path, O_RDWR);
        DQ_REQUIRE(fd >= 0);
        unsigned char c;
        DQ_REQUIRE(pread(fd, &c, 1, spots[i]) == 1);
        c ^= 0x5A;
        DQ_REQUIRE(pwrite(fd, &c, 1, spots[i]) == 1);
        close(fd);
        p = dq_pyramid_open(path, &err);
        DQ_REQUIRE(p != NULL);
        for (int l = 0; l < p->n_levels; l++)
            DQ_CHECK(p->levels[l].edge_len == NULL);
        dq_pyramid_unref(p);
        DQ_CHECK_INT(same_edges(f.tif, path), n_edges);
    }

    /* A non-JPEG pyramid has nothing to crop: unchanged. */
    off_t zip = file_size(f.tif_zip);
    DQ_REQUIRE(dq_pyramid_write_edges(f.tif_zip, &err) == 0);
    DQ_CHECK_INT(file_size(f.tif_zip), zip);
    fx_teardown(&f);
}

/* Writes the first n bytes of src to dst. */
static void copy_prefix(const char *src, const char *dst, off_t n)
{
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_fs_read_file(src, 1u << 30, &b, &err) == 0);
    DQ_REQUIRE((size_t)n <= b.len);
    FILE *fp = fopen(dst, "wb");
    DQ_REQUIRE(fp != NULL);
    DQ_REQUIRE(fwrite(b.data, 1, (size_t)n, fp) == (size_t)n);
    fclose(fp);
    dq_buf_free(&b);
}

DQ_TEST(pyramid_truncated_and_corrupt)
{
    fx_t f;
    fx_setup(&f);
    dq_err_t err = {0};
    char path[700];
    snprintf(path, sizeof path, "%s/cut.tif", f.dir);
    struct stat st;
    DQ_REQUIRE(stat(f.tif, &st) == 0);

    /* Cut at many points: open must fail cleanly, or every tile read must fail or succeed
     * cleanly (never crash, never read past what is there). */
    off_t cuts[] = {0, 4, 8, 100, 4000, st.st_size / 3, st.st_size / 2, st.st_size - 10};
    for (size_t i = 0; i < DQ_ARRAY_LEN(cuts); i++) {
        copy_prefix(f.tif, path, cuts[i]);
        dq_err_clear(&err);
        dq_pyramid_t *p = dq_pyramid_open(path, &err);
        if (!p) {
            DQ_CHECK(err.code == DQ_EIO || err.code == DQ_EUNSUP);
            DQ_CHECK(err.msg[0] != '\0');
            continue;
        }
        /* vips writes directories after the pixel data, so a cut file loses its directories
         * and open fails; if it ever opens, tiles must still be readable or refused. */
        dq_buf_t b = {0};
        (void)dq_pyramid_tile_jpeg(p, 0, 0, 0, 0, 0, &b, &err);
        dq_buf_free(&b);
        dq_pyramid_unref(p);
    }

    /* Garbage over the first tile's data: open succeeds (the directory is intact), the read
     * reports a corrupt tile, and rendering it fails cleanly too. */
    dq_pyramid_t *p = dq_pyramid_open(f.tif, &err);
    DQ_REQUIRE(p != NULL);
    uint64_t off = p->levels[0].offsets[0];
    dq_pyramid_unref(p);
    int fd = open(f.tif, O_WRONLY);
    DQ_REQUIRE(fd >= 0);
    char junk[64];
    memset(junk, 0x5A, sizeof junk);
    DQ_REQUIRE(pwrite(fd, junk, sizeof junk, (off_t)off) == (ssize_t)sizeof junk);
    close(fd);
    p = dq_pyramid_open(f.tif, &err);
    DQ_REQUIRE(p != NULL);
    dq_buf_t b = {0};
    dq_err_clear(&err);
    DQ_CHECK(dq_pyramid_tile_jpeg(p, 0, 0, 0, 0, 0, &b, &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EIO);
    dq_render_spec_t s = {
        .level = 0, .lx = 0, .ly = 0, .lw = 300, .lh = 300, .out_w = 100, .out_h = 100};
    dq_err_clear(&err);
    DQ_CHECK(dq_image_render(p, &s, &b, &err) < 0);
    DQ_CHECK_INT(err.code, DQ_EIO);
    /* A tile elsewhere still reads. */
    DQ_CHECK(dq_pyramid_tile_jpeg(p, 0, 1, 1, 0, 0, &b, &err) == 0);
    dq_buf_free(&b);
    dq_pyramid_unref(p);
    fx_teardown(&f);
}
