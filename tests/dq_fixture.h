/*
 * dq_fixture.h: the pieces of a test data directory that the integration and regression tests
 * share: a synthetic master image written with libvips, a command's first output line, and an
 * account's bearer token made with the real CLI. Include after dq_http_test.h (dqt_bin); the
 * test links libvips and calls VIPS_INIT itself. Functions are static inline so that a test
 * that needs only some of them does not warn about the others.
 */
#ifndef DQ_FIXTURE_H
#define DQ_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>

#include "dq_http_test.h"

/* The pixel patterns of dqt_make_master. Tests compare pixels against these, so each keeps
 * the bytes the test it came from used. */
enum {
    DQT_MASTER_RAMP,     /* byte i of the RGB buffer is (i / 3) % 251: a ramp along each row */
    DQT_MASTER_BYTES,    /* byte i is (i * 7) & 0xFF: busy, every band different */
    DQT_MASTER_GRADIENT, /* R from x, G from y, B 90: smooth, position readable from colour */
};

/* Writes a w x h RGB PNG of pattern kind to path. Returns 0, or -1 (vips' error). */
static inline int dqt_make_master(const char *path, int w, int h, int kind)
{
    unsigned char *px = dq_xmalloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int b = 0; b < 3; b++) {
                size_t i = ((size_t)y * w + x) * 3 + b;
                px[i] = kind == DQT_MASTER_RAMP    ? (unsigned char)((i / 3) % 251)
                        : kind == DQT_MASTER_BYTES ? (unsigned char)(i * 7)
                        : b == 0                   ? (unsigned char)(x * 255 / w)
                        : b == 1                   ? (unsigned char)(y * 255 / h)
                                                   : 90;
            }
    VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * 3, w, h, 3, VIPS_FORMAT_UCHAR);
    int rc = vips_pngsave(im, path, "compression", 1, NULL);
    g_object_unref(im);
    free(px);
    return rc;
}

/* Runs cmd (sh) and returns its first stdout line without the newline (new string), or NULL
 * when it fails or prints nothing. */
static inline char *dqt_sh_line(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    char line[256] = "";
    if (!p)
        return NULL;
    char *ok = fgets(line, sizeof(line), p);
    int st = pclose(p);
    if (!ok || st != 0)
        return NULL;
    line[strcspn(line, "\r\n")] = '\0';
    return dq_xstrdup(line);
}

/* A new API token of user in the data directory data (`danqing user token`), as a new string
 * "dq_...", or NULL. */
static inline char *dqt_token(const char *data, const char *user)
{
    char *cmd = dq_xasprintf("%s --data %s user token %s 2>/dev/null", dqt_bin(), data, user);
    char *tok = dqt_sh_line(cmd);
    free(cmd);
    return tok;
}

/* A served data directory with image "img" (a 1000 x 700 ramp) and a curator "cura", whose
 * token is ready as request headers. */
typedef struct {
    char *dir, *data;
    dqt_server_t srv;
    char *cur; /* "Authorization: Bearer ...\r\nContent-Type: application/json\r\n" */
} dqt_cura_t;

/* Makes the directory and starts `danqing serve serve_args` on it, with the catalog's write
 * wait DQ_CATALOG_WRITE_WAIT_MS = write_wait_ms (NULL: the default). */
static inline void dqt_cura_start(dqt_cura_t *f, const char *write_wait_ms, const char *serve_args)
{
    memset(f, 0, sizeof(*f));
    DQ_REQUIRE(VIPS_INIT("test") == 0);
    f->dir = dqt_tmpdir();
    f->data = dq_xasprintf("%s/data", f->dir);
    char *master = dq_xasprintf("%s/m.png", f->dir);
    DQ_REQUIRE(dqt_make_master(master, 1000, 700, DQT_MASTER_RAMP) == 0);
    DQ_REQUIRE(dqt_sh("%s ingest %s --id img --data %s >/dev/null 2>&1 && "
                      "%s --data %s user add cura --role curator --password cura-pass-1 "
                      ">/dev/null 2>&1",
                      dqt_bin(), master, f->data, dqt_bin(), f->data) == 0);
    free(master);
    char *tok = dqt_token(f->data, "cura");
    DQ_REQUIRE(tok != NULL);
    f->cur = dq_xasprintf("Authorization: Bearer %s\r\nContent-Type: application/json\r\n", tok);
    free(tok);
    if (write_wait_ms)
        setenv("DQ_CATALOG_WRITE_WAIT_MS", write_wait_ms, 1); /* inherited by the server */
    DQ_REQUIRE(dqt_server_start(&f->srv, f->data, serve_args) == 0);
    unsetenv("DQ_CATALOG_WRITE_WAIT_MS");
}

/* Stops the server (checking it exits 0) and removes the directory. */
static inline void dqt_cura_stop(dqt_cura_t *f)
{
    DQ_CHECK_INT(dqt_server_stop(&f->srv), 0);
    dqt_sh("rm -rf %s", f->dir);
    free(f->dir);
    free(f->data);
    free(f->cur);
}

#endif
