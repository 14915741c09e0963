/*
 * cmd_fixity.c: `danqing fixity [--id ID]`. Re-hashes every stored master and pyramid (or
 * those of one image) and compares them with the SHA-256 in the catalog: one line per image,
 * "ok", "MISMATCH <what>" or "MISSING <what>", then a summary. Exit 0 when all are ok, 1 when
 * any is not (or on an error). It first completes or drops journaled ingests left by a crash
 * (dq_image_ingest_recover) and takes back a `spectral add` that died mid-way
 * (dq_cli_spectral_recover), so that it reports the committed state. It never repairs files.
 * The files are read from the configured store (--store): the data directory, a shared mount
 * or an object store, where every byte is read back from the store itself, never the cache.
 * With no --id it also checks every spectral capture's band and derived-layer files (issue 11)
 * against the SHA-256 in their records (one line per capture; captures stored before checksums
 * were kept are checked for presence only), and every derived-layer file whose SHA-256 the
 * catalog keeps (migration 29: a condition record's change files, a restoration's files),
 * one line per folder.
 * `--adopt-layers` first records the checksums of the layer files that were written before the
 * catalog kept them (before migration 29): only files that an existing condition record
 * (changes.layers) or restoration link (role "restoration") names, never what a listing of
 * the store finds, hashed as they are now (adoption trusts the bytes present at adoption
 * time: docs/deploy.md).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "blob/blob.h"
#include "catalog/catalog.h"
#include "cli/spectral_stack.h"
#include "condrec/condrec.h"
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

/* ---------------------------------------------------------------- spectral captures */

typedef struct {
    dq_blob_t *store;
    int n_bad, n_missing;
    dq_buf_t line; /* " MISMATCH key" / " MISSING key" for this capture */
} cap_check_t;

static int check_cap_file(void *ud, const char *key, const char *sha256, uint64_t size)
{
    cap_check_t *c = ud;
    int r;
    if (sha256) {
        r = check_file(c->store, key, sha256, size);
    } else { /* recorded before checksums: presence only */
        dq_err_t e = {0};
        int ex = dq_blob_exists(c->store, key, &e);
        r = ex == 1 ? 0 : ex == 0 ? 2 : 1;
    }
    if (r) {
        dq_buf_printf(&c->line, " %s %s", r == 2 ? "MISSING" : "MISMATCH", key);
        if (r == 2)
            c->n_missing++;
        else
            c->n_bad++;
    }
    return 0;
}

/* Checks every capture's files: one line per capture, counted in f like images. */
static int check_captures(dq_catalog_t *cat, fixity_t *f, dq_err_t *err)
{
    const dq_actor_t admin = {.user = "cli", .role = DQ_ROLE_ADMIN};
    dq_buf_t lb = {0};
    json_t *caps = NULL;
    int rc = -1;
    if (dq_catalog_capture_list(cat, NULL, &admin, &lb, err) < 0)
        goto out;
    caps = json_loadb(lb.data, lb.len, 0, NULL);
    for (size_t i = 0; i < json_array_size(caps); i++) {
        json_t *cap = json_array_get(caps, i);
        const char *id = json_string_value(json_object_get(cap, "id"));
        dq_buf_t layers = {0};
        if (!id || dq_catalog_capture_layers(cat, id, &admin, &layers, err) < 0) {
            dq_buf_free(&layers);
            goto out;
        }
        char *doc = json_dumps(cap, JSON_COMPACT);
        cap_check_t c = {.store = f->store};
        dq_stack_each_file(id, doc, layers.data, check_cap_file, &c);
        free(doc);
        dq_buf_free(&layers);
        f->n++;
        if (c.n_bad == 0 && c.n_missing == 0) {
            f->n_ok++;
            printf("capture %s ok\n", id);
        } else {
            if (c.n_missing)
                f->n_missing++;
            else
                f->n_bad++;
            printf("capture %s%s\n", id, c.line.data);
        }
        dq_buf_free(&c.line);
        fflush(stdout);
    }
    rc = 0;
out:
    json_decref(caps);
    dq_buf_free(&lb);
    return rc;
}

/* ---------------------------------------------------------------- layer files */

/* The derived-layer files that are not images (a condition record's change files, a
 * restoration's files), one line per folder: "layers <dir> ok" or the keys that are MISSING
 * or MISMATCH. Rows are copied out first: the store is read outside the catalog's read
 * transaction. */
typedef struct {
    dq_layer_file_row_t *v;
    char **keys;
    size_t n, cap;
} lf_vec_t;

static int lf_collect(void *ud, const dq_layer_file_row_t *row)
{
    lf_vec_t *l = ud;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 16;
        l->v = dq_xrealloc(l->v, l->cap * sizeof(*l->v));
        l->keys = dq_xrealloc(l->keys, l->cap * sizeof(*l->keys));
    }
    l->v[l->n] = *row;
    l->keys[l->n] = dq_xstrdup(row->key);
    l->v[l->n].key = l->keys[l->n];
    l->n++;
    return 0;
}

static int check_layer_files(dq_catalog_t *cat, fixity_t *f, dq_err_t *err)
{
    lf_vec_t l = {0};
    dq_buf_t line = {0};
    int rc = dq_catalog_layer_file_list(cat, lf_collect, &l, err);
    for (size_t i = 0; rc == 0 && i < l.n;) {
        const char *slash = strrchr(l.v[i].key, '/');
        size_t dl = (size_t)(slash - l.v[i].key);
        int n_bad = 0, n_missing = 0;
        dq_buf_reset(&line);
        size_t j = i;
        /* keys are sorted bytewise, so one folder's files are consecutive */
        for (; j < l.n && strncmp(l.v[j].key, l.v[i].key, dl) == 0 && l.v[j].key[dl] == '/' &&
               !strchr(l.v[j].key + dl + 1, '/');
             j++) {
            /* under its content's key (dq_condrec_put_layer_file), or its own when it was put
             * before those */
            char *ck = dq_condrec_layer_stored_key(l.v[j].key, l.v[j].sha256);
            int r = check_file(f->store, ck, l.v[j].sha256, l.v[j].size);
            if (r == 2)
                r = check_file(f->store, l.v[j].key, l.v[j].sha256, l.v[j].size);
            free(ck);
            if (r) {
                dq_buf_printf(&line, " %s %s", r == 2 ? "MISSING" : "MISMATCH", l.v[j].key);
                if (r == 2)
                    n_missing++;
                else
                    n_bad++;
            }
        }
        f->n++;
        if (!n_bad && !n_missing) {
            f->n_ok++;
            printf("layers %.*s ok\n", (int)dl, l.v[i].key);
        } else {
            if (n_missing)
                f->n_missing++;
            else
                f->n_bad++;
            printf("layers %.*s%s\n", (int)dl, l.v[i].key, line.data);
        }
        fflush(stdout);
        i = j;
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.keys[i]);
    free(l.keys);
    free(l.v);
    dq_buf_free(&line);
    return rc;
}

/* ---------------------------------------------------------------- adopting older layers */

typedef struct {
    char **v;
    size_t n, cap;
} keys_t;

static void keys_add(keys_t *k, char *key)
{
    if (k->n == k->cap) {
        k->cap = k->cap ? 2 * k->cap : 16;
        k->v = dq_xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n++] = key;
}

static int key_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A record's change files: the layers key its changes name, when it is the key such a record
 * may name for its capture (the JSON is writable by conservators: nothing else is trusted). */
static int named_by_record(void *ud, const dq_condition_row_t *row)
{
    json_t *doc = json_loads(row->doc, 0, NULL);
    json_t *ch = json_object_get(doc, "changes");
    const char *key = json_string_value(json_object_get(ch, "layers"));
    const char *f;
    if (dq_condrec_changes_key_ok(key, json_string_value(json_object_get(ch, "capture_image"))))
        for (size_t i = 0; (f = dq_condrec_changes_file_name(i)) != NULL; i++)
            keys_add(ud, dq_xasprintf("%s/%s", key, f));
    json_decref(doc);
    return 0;
}

/* A restoration link names image "<image>.restoration", whose files are layers/<image>/. */
static int named_by_link(void *ud, const char *relic_id, const char *image_id)
{
    (void)relic_id;
    size_t n = strlen(image_id), sl = strlen(".restoration");
    const char *f;
    if (n <= sl || strcmp(image_id + n - sl, ".restoration") != 0)
        return 0;
    for (size_t i = 0; (f = dq_condrec_restoration_file_name(i)) != NULL; i++) {
        char *key = dq_xasprintf("layers/%.*s/%s", (int)(n - sl), image_id, f);
        if (dq_blob_key_ok(key))
            keys_add(ud, key);
        else
            free(key);
    }
    return 0;
}

/* Records the SHA-256 of every named layer file that has no checksum row yet, read from the
 * store as it is now. Prints one line per file adopted or missing, and a summary. */
static int adopt_layers(dq_catalog_t *cat, dq_blob_t *store, dq_err_t *err)
{
    keys_t named = {0};
    lf_vec_t have = {0};
    int rc = -1, n_adopted = 0, n_missing = 0, n_kept = 0;
    if (dq_catalog_condition_each(cat, named_by_record, &named, err) < 0 ||
        dq_catalog_role_links(cat, "restoration", named_by_link, &named, err) < 0 ||
        dq_catalog_layer_file_list(cat, lf_collect, &have, err) < 0)
        goto out;
    if (named.n > 1) /* (qsort and bsearch want a non-NULL array even when empty) */
        qsort(named.v, named.n, sizeof(*named.v), key_cmp);
    if (have.n > 1)
        qsort(have.keys, have.n, sizeof(*have.keys), key_cmp);
    for (size_t i = 0; i < named.n; i++) {
        if (i > 0 && strcmp(named.v[i], named.v[i - 1]) == 0)
            continue; /* named twice (two records of one capture) */
        if (have.n && bsearch(&named.v[i], have.keys, have.n, sizeof(*have.keys), key_cmp)) {
            n_kept++; /* checked against the checksum taken when it was put */
            continue;
        }
        char hex[65];
        uint64_t size = 0;
        dq_err_t e = {0};
        if (dq_blob_sha256(store, named.v[i], hex, &size, &e) < 0) {
            if (e.code != DQ_ENOTFOUND) {
                *err = e;
                goto out;
            }
            printf("adopt MISSING %s (named, not in the store: nothing recorded)\n", named.v[i]);
            n_missing++;
            continue;
        }
        if (dq_catalog_layer_file_put(cat, named.v[i], hex, size, err) < 0)
            goto out;
        printf("adopt %s %s %llu\n", named.v[i], hex, (unsigned long long)size);
        n_adopted++;
    }
    printf("adopted %d layer file%s (%d already recorded, %d named but missing)\n", n_adopted,
           n_adopted == 1 ? "" : "s", n_kept, n_missing);
    fflush(stdout);
    rc = 0;
out:
    for (size_t i = 0; i < named.n; i++)
        free(named.v[i]);
    free(named.v);
    for (size_t i = 0; i < have.n; i++)
        free(have.keys[i]);
    free(have.keys);
    free(have.v);
    return rc;
}

int dq_cmd_fixity(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        printf("usage: danqing fixity [--id IMAGE_ID | --adopt-layers]\n\n"
               "Re-computes the SHA-256 of every stored master and pyramid (or of one image)\n"
               "and of every spectral capture's bands and derived layers, and of condition\n"
               "change files and restorations (layers/), and compares them with the catalog.\n"
               "Prints one line per image, capture and layer folder (ok, MISMATCH or\n"
               "MISSING) and a summary; exits 1 when anything does not match.\n\n"
               "--adopt-layers  first record the SHA-256 of change files and restorations\n"
               "                written before the catalog kept them (migration 29): only\n"
               "                files a condition record or restoration link names, hashed\n"
               "                as they are now (it trusts the bytes present at adoption).\n\n");
        dq_config_help(stdout);
        return 0;
    }
    const char *id = NULL;
    int adopt = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--adopt-layers") == 0) {
            adopt = 1;
        } else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
            id = argv[++i];
        } else if (strncmp(argv[i], "--id=", 5) == 0) {
            id = argv[i] + 5;
        } else {
            fprintf(stderr, "danqing fixity: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (adopt && id) {
        fprintf(stderr, "danqing fixity: --adopt-layers checks the whole catalog: no --id\n");
        return 2;
    }
    dq_err_t err = {0};
    int rc = 1, n_rec = 0, n_dead = 0;
    fixity_t f = {.store = NULL}, fc = {.store = NULL}, fl = {.store = NULL};
    char *db = dq_xasprintf("%s/catalog.sqlite", cfg->data_dir);
    dq_catalog_t *cat = NULL;
    /* Fixity must not create a data directory by accident. */
    if (!cfg->catalog[0] && !dq_fs_exists(db)) { /* (a --catalog URL names its own) */
        dq_err_set(&err, DQ_ENOTFOUND, 0, "no catalog at %s", db);
        goto out;
    }
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)) ||
        !(f.store = dq_blob_open(cfg, &err)) ||
        dq_image_ingest_recover_store(cat, cfg->data_dir, f.store, &n_rec, &n_dead, &err) < 0)
        goto out;
    if (n_dead)
        fprintf(stderr, "danqing fixity: removed %d upload%s of ingests that died before their "
                "commit\n", n_dead, n_dead == 1 ? "" : "s");
    fc.store = fl.store = f.store;
    if (n_rec)
        fprintf(stderr, "danqing fixity: completed %d interrupted ingest%s\n", n_rec,
                n_rec == 1 ? "" : "s");
    /* and what a `spectral add` that died left, so that fixity reports the committed state */
    if (dq_cli_spectral_recover(cfg, cat, f.store, &n_rec, &err) < 0)
        goto out;
    if (n_rec)
        fprintf(stderr, "danqing fixity: took back %d interrupted spectral add%s\n", n_rec,
                n_rec == 1 ? "" : "s");
    if (adopt && adopt_layers(cat, f.store, &err) < 0)
        goto out;
    if (id) {
        dq_image_rec_t rec;
        if (dq_catalog_image_get(cat, id, &rec, &err) < 0)
            goto out;
        check_image(&f, &rec);
    } else if (dq_catalog_image_list(cat, check_image, &f, &err) < 0 ||
               check_captures(cat, &fc, &err) < 0 || check_layer_files(cat, &fl, &err) < 0) {
        goto out;
    }
    printf("%d image%s: %d ok, %d mismatch, %d missing\n", f.n, f.n == 1 ? "" : "s", f.n_ok,
           f.n_bad, f.n_missing);
    if (fc.n) /* a second line only where captures exist: the first stays what scripts read */
        printf("%d capture%s: %d ok, %d mismatch, %d missing\n", fc.n, fc.n == 1 ? "" : "s",
               fc.n_ok, fc.n_bad, fc.n_missing);
    if (fl.n) /* likewise: the change files and restorations, one line per folder */
        printf("%d layer folder%s: %d ok, %d mismatch, %d missing\n", fl.n, fl.n == 1 ? "" : "s",
               fl.n_ok, fl.n_bad, fl.n_missing);
    rc = f.n_ok == f.n && fc.n_ok == fc.n && fl.n_ok == fl.n ? 0 : 1;
    err.msg[0] = '\0';
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing fixity: %s\n", err.msg);
    dq_catalog_close(cat);
    dq_blob_close(f.store);
    free(db);
    return rc;
}
