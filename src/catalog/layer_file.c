/*
 * layer_file.c: the checksums of derived-layer files (catalog.h "layer file checksums";
 * issues 12 and 15): the policy above store.h's dq_store_layerfile_ops. Only keys under
 * layers/ that are well formed are recorded, with a SHA-256 in lower-case hex, so that
 * `danqing fixity` can read each one back from the store and compare it, as it does for
 * masters and pyramids. Not here: hashing or storing the bytes (condrec/, cli/), reading
 * them back (blob/).
 */
#include <ctype.h>
#include <string.h>

#include "catalog/catalog.h"
#include "catalog/store.h"

/* A store key as blob.h defines one (letters, digits, . _ - /; no "..", no leading slash),
 * under layers/. Checked here too: a backend stores what it is given. */
static int key_ok(const char *k)
{
    if (!k || strncmp(k, "layers/", 7) != 0 || strlen(k) > 1000 || strstr(k, ".."))
        return 0;
    for (const char *p = k; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("._-/", *p))
            return 0;
    return k[strlen(k) - 1] != '/';
}

static int sha_ok(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
            return 0;
    return 1;
}

typedef struct {
    const dq_store_backend_t *be;
    const dq_layer_file_row_t *row;
    const char *key;
    dq_layer_file_cb cb;
    void *ud;
} lf_t;

static int put_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    lf_t *l = ud;
    return l->be->layer_files->put(t, l->row, err);
}

static int remove_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    lf_t *l = ud;
    return l->be->layer_files->remove(t, l->key, err);
}

static int list_txn(void *ud, dq_store_txn_t *t, dq_err_t *err)
{
    lf_t *l = ud;
    return l->be->layer_files->list(t, l->key, l->cb, l->ud, err);
}

int dq_catalog_layer_file_put(dq_catalog_t *cat, const char *key, const char *sha256,
                              uint64_t size, dq_err_t *err)
{
    if (!key_ok(key))
        return dq_err_set(err, DQ_EINVAL, 400, "layer file: '%.200s' is not a key under layers/",
                          key ? key : "");
    if (!sha_ok(sha256))
        return dq_err_set(err, DQ_EINVAL, 400, "layer file: the SHA-256 of %s is not 64 hex digits",
                          key);
    dq_layer_file_row_t row = {.key = key, .size = size};
    memcpy(row.sha256, sha256, 65);
    lf_t l = {.be = dq_catalog_backend(cat), .row = &row};
    return dq_catalog_write(cat, put_txn, &l, err);
}

int dq_catalog_layer_file_remove(dq_catalog_t *cat, const char *key, dq_err_t *err)
{
    if (!key_ok(key))
        return 0; /* never recorded */
    lf_t l = {.be = dq_catalog_backend(cat), .key = key};
    return dq_catalog_write(cat, remove_txn, &l, err);
}

int dq_catalog_layer_file_list(dq_catalog_t *cat, dq_layer_file_cb cb, void *ud, dq_err_t *err)
{
    lf_t l = {.be = dq_catalog_backend(cat), .cb = cb, .ud = ud};
    return dq_catalog_read(cat, list_txn, &l, err);
}

static int got_row(void *ud, const dq_layer_file_row_t *row)
{
    memcpy(ud, row->sha256, 65);
    return 1;
}

int dq_catalog_layer_file_get(dq_catalog_t *cat, const char *key, char sha256[65], dq_err_t *err)
{
    sha256[0] = '\0';
    if (!key_ok(key))
        return 1; /* never recorded */
    lf_t l = {.be = dq_catalog_backend(cat), .key = key, .cb = got_row, .ud = sha256};
    if (dq_catalog_read(cat, list_txn, &l, err) < 0)
        return -1;
    return sha256[0] ? 0 : 1;
}
