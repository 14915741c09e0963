/*
 * cmd_fixity.c: `danqing fixity [--id ID]`. Re-hashes every stored master and pyramid (or
 * those of one image) and compares them with the SHA-256 in the catalog: one line per image,
 * "ok", "MISMATCH <what>" or "MISSING <what>", then a summary. Exit 0 when all are ok, 1 when
 * any is not (or on an error). It first completes or drops journaled ingests left by a crash
 * (dq_image_ingest_recover), so that it reports the committed state. It never repairs files.
 * The files are read from the configured store (--store): the data directory, a shared mount
 * or an object store, where every byte is read back from the store itself, never the cache.
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "image/image.h"

typedef struct {
    dq_blob_t *store;
    int n, n_ok, n_bad, n_missing;
} fixity_t;

/* Checks one stored file: 0 ok, 1 mismatch, 2 missing. */
static int check_file(dq_blob_t *store, const char *rel, const char *want, uint64_t size)
{
    char hex[65];
    uint64_t got_size = 0;
    dq_err_t err = {0};
    int r = 0;
    if (dq_blob_sha256(store, rel, hex, &got_size, &err) < 0) {
        r = err.code == DQ_ENOTFOUND ? 2 : 1;
        if (r == 1) /* say why: a store that does not answer is not a corrupt file */
            fprintf(stderr, "danqing fixity: %s\n", err.msg);
    } else if (strcmp(hex, want) != 0 || got_size != size) {
        r = 1;
    }
    return r;
}

static int check_image(void *ud, const dq_image_rec_t *rec)
{
    fixity_t *f = ud;
    int m = check_file(f->store, rec->master_path, rec->master_sha256, rec->master_size);
    int p = check_file(f->store, rec->pyramid_path, rec->pyramid_sha256, rec->pyramid_size);
    f->n++;
    if (m == 0 && p == 0) {
        f->n_ok++;
        printf("%s ok\n", rec->id);
    } else {
        if (m == 2 || p == 2)
            f->n_missing++;
        else
            f->n_bad++;
        printf("%s", rec->id);
        if (m)
            printf(" %s master %s", m == 2 ? "MISSING" : "MISMATCH", rec->master_path);
        if (p)
            printf(" %s pyramid %s", p == 2 ? "MISSING" : "MISMATCH", rec->pyramid_path);
        printf("\n");
    }
    fflush(stdout);
    return 0;
}

int dq_cmd_fixity(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        printf("usage: danqing fixity [--id IMAGE_ID]\n\n"
               "Re-computes the SHA-256 of every stored master and pyramid (or of one image)\n"
               "and compares it with the catalog. Prints one line per image (ok, MISMATCH or\n"
               "MISSING) and a summary; exits 1 when anything does not match.\n\n");
        dq_config_help(stdout);
        return 0;
    }
    const char *id = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
            id = argv[++i];
        } else if (strncmp(argv[i], "--id=", 5) == 0) {
            id = argv[i] + 5;
        } else {
            fprintf(stderr, "danqing fixity: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    dq_err_t err = {0};
    int rc = 1, n_rec = 0;
    fixity_t f = {.store = NULL};
    char *db = dq_xasprintf("%s/catalog.sqlite", cfg->data_dir);
    dq_catalog_t *cat = NULL;
    /* Fixity must not create a data directory by accident. */
    if (!cfg->catalog[0] && !dq_fs_exists(db)) { /* (a --catalog URL names its own) */
        dq_err_set(&err, DQ_ENOTFOUND, 0, "no catalog at %s", db);
        goto out;
    }
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(f.store = dq_blob_open(cfg, &err)) ||
        dq_image_ingest_recover_store(cat, cfg->data_dir, f.store, &n_rec, &err) < 0)
        goto out;
    if (n_rec)
        fprintf(stderr, "danqing fixity: completed %d interrupted ingest%s\n", n_rec,
                n_rec == 1 ? "" : "s");
    if (id) {
        dq_image_rec_t rec;
        if (dq_catalog_image_get(cat, id, &rec, &err) < 0)
            goto out;
        check_image(&f, &rec);
    } else if (dq_catalog_image_list(cat, check_image, &f, &err) < 0) {
        goto out;
    }
    printf("%d image%s: %d ok, %d mismatch, %d missing\n", f.n, f.n == 1 ? "" : "s", f.n_ok,
           f.n_bad, f.n_missing);
    rc = f.n_ok == f.n ? 0 : 1;
    err.msg[0] = '\0';
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing fixity: %s\n", err.msg);
    dq_catalog_close(cat);
    dq_blob_close(f.store);
    free(db);
    return rc;
}
