/*
 * Issue 3: requests and masters that crashed, hung or exhausted other IIIF servers. Each
 * must get a correct answer or a clear 4xx, never a crash, a hang or unbounded memory.
 * - a 200-px thumbnail of a 6,300 x 224,490 px scroll (tested here at the same aspect,
 *   630 x 22,449, to keep `make check` fast; the planner test covers the full size);
 * - a 2,457,600 x 1,200 size request;
 * - a malformed JPEG 2000 master;
 * - a JPEG that claims 64,250 x 64,250 px.
 */
#include <sys/resource.h>

#include "../dq_http_test.h"

DQ_TEST(tall_scroll_thumbnail_and_huge_sizes)
{
    char *dir = dqt_tmpdir();
    char *data = dq_xasprintf("%s/data", dir);
    /* a narrow, very tall scroll: stripes so the thumbnail has content */
    DQ_REQUIRE(dqt_sh("vips xyz %s/xy.v 630 22449 && vips extract_band %s/xy.v %s/y.v 1 && "
                      "vips boolean_const %s/y.v %s/b.v and 64 && vips cast %s/b.v %s/c.v uchar && "
                      "vips bandjoin '%s/c.v %s/c.v %s/c.v' %s/scroll.png",
                      dir, dir, dir, dir, dir, dir, dir, dir, dir, dir, dir) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s/scroll.png --id tall-scroll --data %s >/dev/null 2>&1",
                      dqt_bin(), dir, data) == 0);
    dqt_server_t srv;
    DQ_REQUIRE(dqt_server_start(&srv, data, NULL) == 0);
    static const struct {
        const char *path;
        int status;
    } cases[] = {
        {"/iiif/3/tall-scroll/full/200,/0/default.jpg", 200},
        {"/iiif/3/tall-scroll/full/,200/0/default.jpg", 200},
        {"/iiif/3/tall-scroll/full/!200,200/0/default.jpg", 200},
        {"/iiif/2/tall-scroll/full/200,/0/default.jpg", 200},
        {"/iiif/3/tall-scroll/full/max/0/default.jpg", 200},
        {"/iiif/3/tall-scroll/full/^2457600,1200/0/default.jpg", 403},
        {"/iiif/3/tall-scroll/full/2457600,1200/0/default.jpg", 400},
        {"/iiif/2/tall-scroll/full/2457600,1200/0/default.jpg", 403},
        {"/iiif/3/tall-scroll/full/^pct:100000/0/default.jpg", 403},
        {"/iiif/3/tall-scroll/0,0,1,1/^2000,2000/0/default.jpg", 200},
        {"/iiif/3/tall-scroll/0,0,1,1/^12000,12000/0/default.jpg", 403}, /* > maxArea */
        {"/iiif/3/tall-scroll/0,0,1,1/^99999999999999999999,/0/default.jpg", 400},
    };
    for (size_t i = 0; i < DQ_ARRAY_LEN(cases); i++) {
        dqt_resp_t r;
        DQ_REQUIRE(dqt_http(srv.port, "GET", cases[i].path, NULL, &r) == 0);
        if (r.status != cases[i].status)
            fprintf(stderr, "    %s: %d, want %d\n", cases[i].path, r.status, cases[i].status);
        DQ_CHECK_INT(r.status, cases[i].status);
        dqt_resp_free(&r);
    }
    /* the thumbnail has the asked width and the scroll's aspect */
    dqt_resp_t r;
    DQ_REQUIRE(dqt_http(srv.port, "GET", "/iiif/3/tall-scroll/full/,200/0/default.jpg", NULL, &r) == 0);
    DQ_CHECK(r.body.len > 100);
    dqt_resp_free(&r);
    DQ_CHECK_INT(dqt_server_stop(&srv), 0);
    dqt_sh("rm -rf %s", dir);
    free(data);
    free(dir);
}

DQ_TEST(bad_masters_are_refused_cleanly)
{
    char *dir = dqt_tmpdir();
    char *data = dq_xasprintf("%s/data", dir);
    /* A real, tiny JPEG whose frame header (SOF0) is patched to claim 64,250 x 64,250:
     * refused from the header, before any decode, in bounded memory and time. */
    char *bomb = dq_xasprintf("%s/bomb.jpg", dir);
    DQ_REQUIRE(dqt_sh("vips black %s 16 16 --bands 3", bomb) == 0);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_fs_read_file(bomb, 1 << 20, &b, &err) == 0);
    int patched = 0;
    for (size_t i = 0; i + 9 < b.len && !patched; i++)
        if ((unsigned char)b.data[i] == 0xFF && (unsigned char)b.data[i + 1] == 0xC0) {
            b.data[i + 5] = (char)0xFA, b.data[i + 6] = (char)0xFA; /* height 64250 */
            b.data[i + 7] = (char)0xFA, b.data[i + 8] = (char)0xFA; /* width 64250 */
            patched = 1;
        }
    DQ_REQUIRE(patched);
    FILE *f = fopen(bomb, "wb");
    DQ_REQUIRE(f);
    fwrite(b.data, 1, b.len, f);
    fclose(f);
    dq_buf_free(&b);
    /* A JPEG 2000 codestream signature followed by garbage. */
    char *jp2 = dq_xasprintf("%s/broken.jp2", dir);
    f = fopen(jp2, "wb");
    DQ_REQUIRE(f);
    static const unsigned char sig[] = {0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20,
                                        0x0D, 0x0A, 0x87, 0x0A, 0x00, 0x00, 0x00, 0x14,
                                        0x66, 0x74, 0x79, 0x70, 0x6A, 0x70, 0x32, 0x20};
    fwrite(sig, 1, sizeof(sig), f);
    for (int i = 0; i < 4000; i++)
        fputc((i * 7919) & 0xFF, f);
    fclose(f);
    /* Believing the header would need 12 GB for the pixels; the message must say why. */
    int rc = dqt_sh("%s ingest %s --id bomb --data %s > %s/out 2>&1", dqt_bin(), bomb, data, dir);
    DQ_CHECK(rc != 0 && rc < 128);
    DQ_CHECK_INT(dqt_sh("grep -qi 'pixel\\|limit\\|large' %s/out", dir), 0);
    rc = dqt_sh("%s ingest %s --id broken --data %s > %s/out 2>&1", dqt_bin(), jp2, data, dir);
    DQ_CHECK(rc != 0 && rc < 128);
    /* nothing was added */
    DQ_CHECK_INT(dqt_sh("test -z \"$(ls -A %s/pyramids 2>/dev/null)\"", data), 0);
    dqt_sh("rm -rf %s", dir);
    free(bomb);
    free(jp2);
    free(data);
    free(dir);
}
