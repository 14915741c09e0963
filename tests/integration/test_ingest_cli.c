/*
 * test_ingest_cli.c: `danqing ingest` and `danqing fixity` end to end. Runs the real binary
 * ($DQ_BIN, default build/san/danqing) on small files made with the `vips` command in a fresh
 * temporary directory, then checks exit status, messages, the files in the data dir and the
 * catalog (read through the catalog API). One test kills an ingest with SIGKILL midway.
 */
#define _GNU_SOURCE
#include "dq_test.h"

#include "catalog/catalog.h"

#include <dirent.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <sys/wait.h>

typedef struct {
    char *dir;  /* temporary work dir (inputs, outputs) */
    char *data; /* dir/data */
} env_t;

static const char *bin(void)
{
    const char *b = getenv("DQ_BIN");
    return b && *b ? b : "build/san/danqing";
}

static env_t setup(void)
{
    char *d = dq_test_tmpdir("dq_ingest_cli");
    env_t e = {d, dq_xasprintf("%s/data", d)};
    return e;
}

/* Removes the test's folder and frees e (the runner would remove the folder anyway). */
static void teardown(env_t *e)
{
    dq_test_rm_rf(e->dir);
    free(e->dir);
    free(e->data);
}

/* Runs a shell command (printf-style) in e->dir; returns its exit status. */
static int sh(const env_t *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(const env_t *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *c = NULL;
    DQ_REQUIRE(vasprintf(&c, fmt, ap) >= 0);
    va_end(ap);
    char *full = dq_xasprintf("cd '%s' && %s", e->dir, c);
    int st = system(full);
    free(full);
    free(c);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

/* Runs `danqing --data DATA args` with stdout in dir/out and stderr in dir/err. */
static int dq(const env_t *e, const char *args)
{
    return sh(e, "'%s' --data '%s' %s > out 2> err", bin(), e->data, args);
}

static char *slurp(const env_t *e, const char *name)
{
    char *p = dq_xasprintf("%s/%s", e->dir, name);
    dq_buf_t b = {0};
    dq_err_t err = {0};
    int r = dq_fs_read_file(p, 1 << 20, &b, &err);
    free(p);
    if (r < 0 || b.len == 0) {
        dq_buf_free(&b);
        return dq_xstrdup("");
    }
    return dq_buf_steal(&b, NULL);
}

static int out_has(const env_t *e, const char *name, const char *needle)
{
    char *s = slurp(e, name);
    int r = strstr(s, needle) != NULL;
    if (!r)
        fprintf(stderr, "    %s does not contain '%s': %.300s\n", name, needle, s);
    free(s);
    return r;
}

/* Number of regular files under data/<sub> (recursively). */
static int count_files(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' && (!de->d_name[1] || (de->d_name[1] == '.' && !de->d_name[2])))
            continue;
        char *p = dq_xasprintf("%s/%s", path, de->d_name);
        struct stat st;
        if (stat(p, &st) == 0)
            n += S_ISDIR(st.st_mode) ? count_files(p) : 1;
        free(p);
    }
    closedir(d);
    return n;
}

static int n_in(const env_t *e, const char *sub)
{
    char *p = dq_xasprintf("%s/%s", e->data, sub);
    int n = count_files(p);
    free(p);
    return n;
}

static int get_rec(const env_t *e, const char *id, dq_image_rec_t *rec)
{
    dq_err_t err = {0};
    dq_catalog_t *c = dq_catalog_open(e->data, &err);
    DQ_REQUIRE(c != NULL);
    int r = dq_catalog_image_get(c, id, rec, &err);
    dq_catalog_close(c);
    return r;
}

static int count_cb(void *ud, const dq_image_rec_t *rec)
{
    (void)rec;
    (*(int *)ud)++;
    return 0;
}

static int n_images(const env_t *e)
{
    dq_err_t err = {0};
    dq_catalog_t *c = dq_catalog_open(e->data, &err);
    DQ_REQUIRE(c != NULL);
    int n = 0;
    DQ_CHECK(dq_catalog_image_list(c, count_cb, &n, &err) == 0);
    dq_catalog_close(c);
    return n;
}

/* An RGB noise image of w x h as a .v file named name (texture, so JPEGs are not tiny). */
static void make_rgb(const env_t *e, const char *name, int w, int h)
{
    DQ_REQUIRE(sh(e,
                  "vips gaussnoise n.v %d %d --sigma 40 --mean 128 && vips cast n.v n8.v uchar && "
                  "vips bandjoin 'n8.v n8.v n8.v' j.v && vips copy j.v %s --interpretation srgb",
                  w, h, name) == 0);
}

/* Checks that a refused ingest changed nothing. */
static void check_nothing_changed(const env_t *e, int n_images_before)
{
    DQ_CHECK_INT(n_in(e, "masters"), 0);
    DQ_CHECK_INT(n_in(e, "pyramids"), 0);
    DQ_CHECK_INT(n_in(e, "tmp"), 0);
    DQ_CHECK_INT(n_images(e), n_images_before);
}

/* ---------------------------------------------------------------- formats */

static void ingest_ok(const env_t *e, const char *file, const char *id, int w, int h, int bands,
                      const char *fmt, int icc)
{
    char *args = dq_xasprintf("ingest %s --id %s", file, id);
    int rc = dq(e, args);
    free(args);
    DQ_CHECK_INT(rc, 0);
    if (rc != 0) {
        char *s = slurp(e, "err");
        fprintf(stderr, "    stderr: %s\n", s);
        free(s);
        return;
    }
    DQ_CHECK(out_has(e, "out", "ingested"));
    char *err = slurp(e, "err");
    DQ_CHECK_STR(err, ""); /* not a tty: no progress bar */
    free(err);
    dq_image_rec_t r;
    DQ_REQUIRE(get_rec(e, id, &r) == 0);
    DQ_CHECK_INT(r.width, w);
    DQ_CHECK_INT(r.height, h);
    DQ_CHECK_INT(r.bands, bands);
    DQ_CHECK_STR(r.master_format, fmt);
    DQ_CHECK_INT(r.icc_converted, icc);
    DQ_CHECK_INT(r.tile_size, 256);
    int levels = 1;
    for (int lw = w, lh = h; lw > 256 || lh > 256; lw = (lw + 1) / 2, lh = (lh + 1) / 2)
        levels++;
    DQ_CHECK(r.levels >= levels - 1 && r.levels <= levels);
    /* the master is kept byte for byte, and the pyramid is 8-bit, tiled, JPEG */
    DQ_CHECK(sh(e, "cmp -s %s 'data/%s'", file, r.master_path) == 0);
    char *q = dq_xasprintf("test \"$(vipsheader -f format 'data/%s')\" = uchar && "
                           "test \"$(vipsheader -f bands 'data/%s')\" = %d && "
                           "tiffinfo 'data/%s' 2>/dev/null | grep -q 'Tile Width: 256' || "
                           "test \"$(vipsheader -f n-pages 'data/%s')\" = %d",
                           r.pyramid_path, r.pyramid_path, bands, r.pyramid_path, r.pyramid_path,
                           r.levels);
    DQ_CHECK(sh(e, "%s", q) == 0);
    free(q);
}

DQ_TEST(jpeg_png_webp_jp2_ingest)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 600, 400);
    DQ_REQUIRE(sh(&e, "vips jpegsave rgb.v a.jpg && vips pngsave rgb.v a.png && "
                      "vips webpsave rgb.v a.webp && vips jp2ksave rgb.v a.jp2 && "
                      "cp a.png png-named.jpg") == 0);
    ingest_ok(&e, "a.jpg", "img-jpeg", 600, 400, 3, "jpeg", 0);
    ingest_ok(&e, "a.png", "img_png", 600, 400, 3, "png", 0);
    ingest_ok(&e, "a.webp", "img.webp", 600, 400, 3, "webp", 0);
    ingest_ok(&e, "a.jp2", "JP2", 600, 400, 3, "jp2", 0);
    /* the format comes from the bytes, not the name */
    ingest_ok(&e, "png-named.jpg", "sniffed", 600, 400, 3, "png", 0);
    /* identical masters share one file */
    DQ_CHECK_INT(n_in(&e, "masters"), 4);
    DQ_CHECK_INT(n_in(&e, "tmp"), 0);
    DQ_CHECK(dq(&e, "fixity") == 0);
    DQ_CHECK(out_has(&e, "out", "5 images: 5 ok, 0 mismatch, 0 missing"));
    teardown(&e);
}

DQ_TEST(tiff_16bit_bigtiff_grey_alpha)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 500, 300);
    DQ_REQUIRE(sh(&e, "vips linear rgb.v l.v 257 0 && vips cast l.v u16.v ushort && "
                      "vips copy u16.v rgb16.v --interpretation rgb16 && "
                      "vips tiffsave rgb16.v a16.tif && vips tiffsave rgb.v big.tif --bigtiff && "
                      "vips extract_band rgb.v g.v 0 && vips copy g.v grey.v --interpretation b-w "
                      "&& vips pngsave grey.v grey.png && "
                      "vips bandjoin_const rgb.v rgba.v 128 && vips pngsave rgba.v rgba.png") == 0);
    ingest_ok(&e, "a16.tif", "t16", 500, 300, 3, "tiff", 0);
    ingest_ok(&e, "big.tif", "bigtiff", 500, 300, 3, "tiff", 0);
    ingest_ok(&e, "grey.png", "grey", 500, 300, 1, "png", 0);
    ingest_ok(&e, "rgba.png", "alpha", 500, 300, 3, "png", 0);
    /* 16-bit is scaled, not clipped: the 8-bit pyramid averages like the 8-bit source */
    DQ_CHECK(sh(&e, "a=$(vips avg data/pyramids/t16.*.tif); b=$(vips avg rgb.v); "
                    "awk -v a=$a -v b=$b 'BEGIN { d = a - b; exit !(d < 2 && d > -2) }'") == 0);
    /* alpha 128 over white: brighter than the source */
    DQ_CHECK(sh(&e, "a=$(vips avg data/pyramids/alpha.*.tif); b=$(vips avg rgb.v); "
                    "awk -v a=$a -v b=$b 'BEGIN { exit !(a > b + 20) }'") == 0);
    teardown(&e);
}

DQ_TEST(icc_cmyk_converted_to_srgb)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 300, 200);
    /* a CMYK JPEG with libvips' built-in CMYK profile embedded */
    DQ_REQUIRE(sh(&e, "vips icc_transform rgb.v cmyk.v cmyk --input-profile srgb && "
                      "vips jpegsave cmyk.v cmyk.jpg && "
                      "test \"$(vipsheader -f bands cmyk.jpg)\" = 4") == 0);
    ingest_ok(&e, "cmyk.jpg", "cmyk", 300, 200, 3, "jpeg", 1);
    /* an sRGB JPEG with an embedded profile is converted too (a no-op colour-wise) */
    DQ_REQUIRE(sh(&e, "vips icc_transform rgb.v s.v srgb --input-profile srgb && "
                      "vips jpegsave s.v icc.jpg") == 0);
    ingest_ok(&e, "icc.jpg", "icc", 300, 200, 3, "jpeg", 1);
    /* round trip through CMYK stays close to the source */
    DQ_CHECK(sh(&e, "a=$(vips avg data/pyramids/cmyk.*.tif); b=$(vips avg rgb.v); "
                    "awk -v a=$a -v b=$b 'BEGIN { d = a - b; exit !(d < 12 && d > -12) }'") == 0);
    teardown(&e);
}

/* ---------------------------------------------------------------- refusals */

static void refused(const env_t *e, const char *args, const char *msg)
{
    int before = n_images(e);
    DQ_CHECK_INT(dq(e, args), 1);
    DQ_CHECK(out_has(e, "err", "danqing ingest: "));
    DQ_CHECK(out_has(e, "err", msg));
    check_nothing_changed(e, before);
}

DQ_TEST(bad_inputs_are_refused_and_change_nothing)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 640, 480);
    DQ_REQUIRE(sh(&e, "vips jpegsave rgb.v ok.jpg && : > empty.jpg && echo hello > text.tif && "
                      "head -c $(( $(stat -c %%s ok.jpg) / 2 )) ok.jpg > trunc.jpg && "
                      "vips jp2ksave rgb.v ok.jp2 && head -c 300 ok.jp2 > bad.jp2 && "
                      "head -c 200 /dev/urandom >> bad.jp2") == 0);
    /* A 16x16 JPEG whose SOF0 claims 64250 x 64250: P=8 then height and width, big endian. */
    DQ_REQUIRE(sh(&e, "vips black b.v 16 16 --bands 3 && vips jpegsave b.v small.jpg "
                      "--optimize-coding=false && "
                      "python3 -c \"import sys; d=bytearray(open('small.jpg','rb').read()); "
                      "i=d.index(b'\\xff\\xc0'); d[i+5:i+9]=bytes([0xfa,0xfa,0xfa,0xfa]); "
                      "open('bomb.jpg','wb').write(d)\"") == 0);
    refused(&e, "ingest missing.jpg --id a", "missing.jpg");
    refused(&e, "ingest empty.jpg --id a", "empty");
    refused(&e, "ingest text.tif --id a", "not a known image format");
    refused(&e, "ingest trunc.jpg --id a", "trunc.jpg");
    refused(&e, "ingest bad.jp2 --id a", "bad.jp2");
    refused(&e, "ingest bomb.jpg --id a", "64250 x 64250");
    refused(&e, "ingest ok.jpg --id a --max-pixels 1000", "more than the limit");
    refused(&e, "ingest ok.jpg --id .hidden", "must not start with '.'");
    refused(&e, "ingest ok.jpg --id 'a/b'", "outside [A-Za-z0-9._-]");
    DQ_CHECK_INT(dq(&e, "ingest ok.jpg"), 2);
    DQ_CHECK(out_has(&e, "err", "--id is required"));
    DQ_CHECK_INT(dq(&e, "ingest --help"), 0);
    DQ_CHECK(out_has(&e, "out", "usage: danqing ingest"));
    DQ_CHECK_INT(dq(&e, "fixity --help"), 0);
    DQ_CHECK(out_has(&e, "out", "usage: danqing fixity"));
    teardown(&e);
}

DQ_TEST(duplicate_id_and_replace)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 400, 300);
    DQ_REQUIRE(sh(&e, "vips jpegsave rgb.v one.jpg && vips flip rgb.v f.v horizontal && "
                      "vips resize f.v r.v 0.5 && vips pngsave r.v two.png") == 0);
    ingest_ok(&e, "one.jpg", "x", 400, 300, 3, "jpeg", 0);
    dq_image_rec_t a, b;
    DQ_REQUIRE(get_rec(&e, "x", &a) == 0);
    DQ_CHECK_INT(dq(&e, "ingest two.png --id x"), 1);
    DQ_CHECK(out_has(&e, "err", "already exists"));
    DQ_REQUIRE(get_rec(&e, "x", &b) == 0);
    DQ_CHECK_STR(b.pyramid_sha256, a.pyramid_sha256);
    DQ_CHECK_INT(n_in(&e, "masters"), 1);
    DQ_CHECK_INT(n_in(&e, "tmp"), 0);
    DQ_CHECK_INT(dq(&e, "ingest two.png --id x --replace --quality 70"), 0);
    DQ_REQUIRE(get_rec(&e, "x", &b) == 0);
    DQ_CHECK_INT(b.width, 200);
    DQ_CHECK_STR(b.master_format, "png");
    DQ_CHECK(strcmp(b.pyramid_sha256, a.pyramid_sha256) != 0);
    DQ_CHECK_STR(b.created_at, a.created_at);
    DQ_CHECK_INT(n_in(&e, "pyramids"), 1);
    DQ_CHECK_INT(n_in(&e, "masters"), 2); /* the old master is kept */
    DQ_CHECK(dq(&e, "fixity --id x") == 0);
    teardown(&e);
}

DQ_TEST(fixity_finds_corruption)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 300, 300);
    DQ_REQUIRE(sh(&e, "vips jpegsave rgb.v a.jpg && vips pngsave rgb.v b.png") == 0);
    ingest_ok(&e, "a.jpg", "a", 300, 300, 3, "jpeg", 0);
    ingest_ok(&e, "b.png", "b", 300, 300, 3, "png", 0);
    DQ_CHECK_INT(dq(&e, "fixity"), 0);
    /* flip one byte in the middle of a's pyramid */
    DQ_REQUIRE(sh(&e, "f=$(echo data/pyramids/a.*.tif); n=$(( $(stat -c %%s $f) / 2 )); "
                      "b=$(dd if=$f bs=1 skip=$n count=1 2>/dev/null | od -An -tu1 | tr -d ' '); "
                      "printf \"$(printf '\\\\%%03o' $(( b ^ 1 )))\" | "
                      "dd of=$f bs=1 seek=$n conv=notrunc 2>/dev/null") == 0);
    DQ_CHECK_INT(dq(&e, "fixity"), 1);
    DQ_CHECK(out_has(&e, "out", "a MISMATCH pyramid pyramids/a."));
    DQ_CHECK(out_has(&e, "out", "b ok"));
    DQ_CHECK(out_has(&e, "out", "2 images: 1 ok, 1 mismatch, 0 missing"));
    DQ_CHECK_INT(dq(&e, "fixity --id b"), 0);
    dq_image_rec_t r;
    DQ_REQUIRE(get_rec(&e, "b", &r) == 0);
    DQ_REQUIRE(sh(&e, "rm 'data/%s'", r.master_path) == 0);
    DQ_CHECK_INT(dq(&e, "fixity --id b"), 1);
    DQ_CHECK(out_has(&e, "out", "b MISSING master"));
    DQ_CHECK_INT(dq(&e, "fixity --id nosuch"), 1);
    DQ_CHECK(out_has(&e, "err", "no image 'nosuch'"));
    teardown(&e);
}

/* ---------------------------------------------------------------- crash safety */

/* Starts an ingest, waits (polling the data dir, not the clock) until stage is reached,
 * kills it with SIGKILL, and checks that the data dir holds the old state or the new one. */
static void kill_at(const env_t *e, const char *args, int stage)
{
    pid_t pid = fork();
    DQ_REQUIRE(pid >= 0);
    if (pid == 0) {
        char *c = dq_xasprintf("cd '%s' && exec '%s' --data '%s' %s > /dev/null 2>&1", e->dir,
                               bin(), e->data, args);
        execl("/bin/sh", "sh", "-c", c, (char *)NULL);
        _exit(127);
    }
    char *tmp = dq_xasprintf("%s/tmp", e->data);
    for (int spins = 0; spins < 2000000; spins++) {
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            pid = 0; /* finished before the stage: the "new state" case */
            fprintf(stderr, "    note: ingest finished before stage %d\n", stage);
            break;
        }
        /* stage 0: the work dir exists; 1: its pyramid is being written */
        DIR *d = opendir(tmp);
        int hit = 0;
        struct dirent *de;
        while (d && (de = readdir(d)) != NULL) {
            if (strncmp(de->d_name, "ingest.", 7) != 0)
                continue;
            if (stage == 0) {
                hit = 1;
            } else {
                char *p = dq_xasprintf("%s/%s/pyramid.tif", tmp, de->d_name);
                struct stat sb;
                hit = stat(p, &sb) == 0 && sb.st_size > 0;
                free(p);
            }
        }
        if (d)
            closedir(d);
        if (hit)
            break;
        usleep(200);
    }
    if (pid > 0) {
        fprintf(stderr, "    killed at stage %d\n", stage);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    free(tmp);
}

DQ_TEST(sigkill_midway_leaves_old_or_new_state)
{
    env_t e = setup();
    make_rgb(&e, "rgb.v", 3000, 2000);
    DQ_REQUIRE(sh(&e, "vips jpegsave rgb.v big.jpg && vips flip rgb.v f.v vertical && "
                      "vips jpegsave f.v big2.jpg && vips jpegsave rgb.v small.jpg --Q 50") == 0);
    ingest_ok(&e, "small.jpg", "keep", 3000, 2000, 3, "jpeg", 0);
    dq_image_rec_t old, now;
    DQ_REQUIRE(get_rec(&e, "keep", &old) == 0);
    for (int stage = 0; stage < 2; stage++) {
        /* a new id: after the kill it is absent or complete */
        kill_at(&e, "ingest big.jpg --id fresh", stage);
        int have = get_rec(&e, "fresh", &now) == 0;
        DQ_CHECK_INT(dq(&e, "fixity"), 0); /* cleans tmp, completes or drops the journal */
        DQ_CHECK_INT(n_in(&e, "tmp"), 0);
        /* pyramids are content-addressed (pyramids/<id>.<sha16>.tif): none left without a row */
        if (!have)
            DQ_CHECK(sh(&e, "set -- data/pyramids/fresh.*.tif; test ! -e \"$1\"") == 0 ||
                     get_rec(&e, "fresh", &now) == 0);
        /* a replacement: after the kill the row and the pyramid agree, old or new */
        kill_at(&e, "ingest big2.jpg --id keep --replace", stage);
        DQ_CHECK_INT(dq(&e, "fixity"), 0);
        DQ_REQUIRE(get_rec(&e, "keep", &now) == 0);
        DQ_CHECK(strcmp(now.pyramid_sha256, old.pyramid_sha256) == 0 ||
                 strcmp(now.orig_filename, "big2.jpg") == 0);
        DQ_CHECK_INT(n_in(&e, "tmp"), 0);
        sh(&e, "'%s' --data data ingest small.jpg --id keep --replace > /dev/null 2>&1", bin());
        sh(&e, "'%s' --data data ingest big.jpg --id gone > /dev/null 2>&1 || true", bin());
    }
    /* and a later ingest works normally */
    ingest_ok(&e, "big2.jpg", "after", 3000, 2000, 3, "jpeg", 0);
    teardown(&e);
}
