/*
 * test_record.c: one-step condition records (src/condrec/record.c) taken back by another
 * server from the work note alone (dq_condrec_undo), on a real catalog (SQLite; PostgreSQL
 * when DQ_TEST_CATALOG names one) and a real ingested image. Session 24: a baseline record of
 * an image already catalogued has no change map and no capture of its own, so a job that died
 * after creating it left a record that the other server's undo could not find; the work note
 * now names the record once it exists. The build runs in a child process that dies (_exit, as
 * a killed server) right after the note that names its record; the parent, as the other
 * server, undoes from the last note it kept. On the old code no note named the record (the
 * child ran to its end) and the record stayed.
 */
#include "dq_test.h"
#include "dq_pg_test.h"

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "condrec/condrec.h"
#include "image/image.h"

static const dq_actor_t conny = {"connie", DQ_ROLE_CONSERVATOR};
static const dq_actor_t cora = {"cora", DQ_ROLE_CURATOR};

typedef struct {
    const char *path, *dir; /* where the notes are kept, as condition_jobs.work keeps them */
} notes_t;

/* The job server's part (api_condition_job.c keeps the note in the catalog): keeps each note,
 * the last one wins; and dies, as a killed server, right after one that names the record. */
static int keep_note(void *ud, const char *json, dq_err_t *err)
{
    notes_t *n = ud;
    if (dq_fs_write_atomic(n->path, n->dir, json, strlen(json), err) < 0)
        return -1;
    if (strstr(json, "\"record\""))
        _exit(0);
    return 0;
}

static int n_records(dq_catalog_t *cat, const char *relic)
{
    dq_buf_t out = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_condition_list(cat, relic, &conny, &out, &err) == 0);
    json_t *j = json_loadb(out.data, out.len, 0, NULL);
    int n = (int)json_array_size(json_object_get(j, "items"));
    json_decref(j);
    dq_buf_free(&out);
    return n;
}

/* The relic's links as "image:role,..." (new string). */
static char *links_of(dq_catalog_t *cat, const char *relic)
{
    dq_buf_t out = {0}, s = {0};
    dq_err_t err = {0};
    DQ_REQUIRE(dq_catalog_relic_get(cat, relic, &cora, &out, NULL, &err) == 0);
    json_t *j = json_loadb(out.data, out.len, 0, NULL), *x;
    size_t i;
    json_array_foreach(json_object_get(j, "images"), i, x)
        dq_buf_printf(&s, "%s:%s,", json_string_value(json_object_get(x, "image_id")),
                      json_string_value(json_object_get(x, "role")));
    json_decref(j);
    dq_buf_free(&out);
    char *r = dq_xstrdup(s.data ? s.data : "");
    dq_buf_free(&s);
    return r;
}

DQ_TEST(baseline_of_a_catalogued_image_undone_by_its_note)
{
    dq_err_t err = {0};
    char *root = dq_test_tmpdir("dq_condrec");
    char *data = dq_xasprintf("%s/data", root);
    char *png = dq_xasprintf("%s/cap.png", root);
    dq_image_rec_t rec;
    /* a capture already catalogued (ingested for real: the build loads its master). libvips
     * runs only in children: a fork after its threads started could deadlock the child */
    pid_t pid = fork();
    DQ_REQUIRE(pid >= 0);
    if (pid == 0) {
        enum { W = 96, H = 64 };
        dq_raster_t r = {W, H, 3, dq_xmalloc((size_t)W * H * 3)};
        for (int i = 0; i < W * H * 3; i++)
            r.px[i] = (uint8_t)(i * 7 % 251);
        dq_catalog_t *c = NULL;
        dq_ingest_opts_t io = {.src_path = png, .id = "cap-1", .data_dir = data, .who = "cli",
                               .quality = 90, .max_pixels = 1u << 24};
        int ok = dq_image_init("test_record", 16, 1, &err) == 0 &&
                 dq_raster_save_png(png, &r, &err) == 0 &&
                 (c = dq_test_catalog_open(data, &err)) != NULL &&
                 dq_image_ingest(c, &io, &rec, &err) == 0;
        if (!ok)
            fprintf(stderr, "setup: %s\n", err.msg);
        dq_catalog_close(c);
        _exit(ok ? 0 : 1);
    }
    int status = 0;
    DQ_REQUIRE(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
               WEXITSTATUS(status) == 0);
    dq_catalog_t *cat = dq_test_catalog_open(data, &err);
    DQ_REQUIRE(cat != NULL);
    const char *doc = "{\"accession\":\"U-1\",\"title\":{\"en\":\"Undo\"}}";
    dq_buf_t out = {0}, fe = {0};
    DQ_REQUIRE(dq_catalog_relic_create(cat, doc, strlen(doc), &cora, &out, &fe, &err) == 0);
    json_t *rj = json_loadb(out.data, out.len, 0, NULL);
    char *relic = dq_xstrdup(json_string_value(json_object_get(rj, "id")));
    json_decref(rj);
    dq_buf_free(&out);
    dq_buf_free(&fe);
    char *links0 = links_of(cat, relic);
    DQ_CHECK_INT(n_records(cat, relic), 0);

    /* the job, on "the other server": its own catalog handle, in a child that dies */
    notes_t notes = {.path = dq_xasprintf("%s/note.json", root), .dir = root};
    dq_catalog_close(cat);
    pid = fork();
    DQ_REQUIRE(pid >= 0);
    if (pid == 0) {
        dq_err_t e = {0};
        dq_catalog_t *c = dq_test_catalog_open(data, &e);
        if (!c || dq_image_init("test_record", 16, 1, &e) < 0)
            _exit(3);
        dq_condrec_opts_t o = {.relic_id = relic, .capture_image = "cap-1", .date = "2016-05-17",
                               .examiner = "Li Na", .data_dir = data, .who = &conny,
                               .work = keep_note, .work_ud = &notes};
        dq_buf_t rec_out = {0};
        int rc = dq_condrec_build(c, &o, &rec_out, &e);
        _exit(rc == 0 ? 2 : 4); /* 2: the build ran to its end without a note naming it */
    }
    DQ_REQUIRE(waitpid(pid, &status, 0) == pid);
    DQ_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* died after naming the record */
    cat = dq_test_catalog_open(data, &err);
    DQ_REQUIRE(cat != NULL);
    DQ_CHECK_INT(n_records(cat, relic), 1); /* what the dead job left */
    char *linked = links_of(cat, relic);
    DQ_CHECK(strstr(linked, "cap-1:condition,") != NULL);

    /* the other server undoes from the last note it kept */
    dq_buf_t note = {0};
    DQ_REQUIRE(dq_fs_read_file(notes.path, 1 << 20, &note, &err) == 0);
    dq_blob_t *store = dq_blob_open_local(data);
    DQ_CHECK(dq_condrec_undo(cat, store, &conny, note.data, &err) == 0);
    DQ_CHECK_INT(n_records(cat, relic), 0);
    char *links1 = links_of(cat, relic);
    DQ_CHECK_STR(links1, links0);
    DQ_CHECK(dq_catalog_image_get(cat, "cap-1", &rec, &err) == 0); /* not the job's image */

    dq_blob_close(store);
    dq_buf_free(&note);
    free(links0);
    free(links1);
    free(linked);
    free((char *)notes.path);
    free(relic);
    free(png);
    free(data);
    free(root);
    dq_catalog_close(cat);
}
