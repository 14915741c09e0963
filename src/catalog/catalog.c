/*
 * catalog.c: the backend-neutral half of the catalog. It checks what every backend would
 * otherwise check again (id syntax, relative paths that stay inside the data directory,
 * hex digests) and then dispatches through dq_store_ops. It never includes a database
 * header: store_sqlite.c (and later store_pg.c) do.
 */
#include "catalog.h"

#include <stdlib.h>
#include <string.h>

struct dq_catalog {
    const dq_store_ops *ops; /* read-only after open */
    void *impl;              /* owned; the backend guards its own state */
};

int dq_image_id_valid(const char *id, dq_err_t *err)
{
    if (!id || !*id)
        return dq_err_set(err, DQ_EINVAL, 0, "an image id must not be empty"), 0;
    size_t n = strlen(id);
    if (n > DQ_IMAGE_ID_MAX)
        return dq_err_set(err, DQ_EINVAL, 0, "image id is longer than %d characters",
                          DQ_IMAGE_ID_MAX),
               0;
    if (id[0] == '.')
        return dq_err_set(err, DQ_EINVAL, 0, "image id '%s' must not start with '.'", id), 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)id[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '.' || c == '_' || c == '-';
        if (!ok)
            return dq_err_set(err, DQ_EINVAL, 0,
                              "image id '%.*s' has a character outside [A-Za-z0-9._-]",
                              (int)DQ_MIN(n, 200), id),
                   0;
    }
    return 1;
}

static int is_hex64(const char *s)
{
    for (int i = 0; i < 64; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[64] == '\0';
}

/* A stored path is relative, has no "..", no empty component and no NUL trickery: the
 * catalog is trusted by the server, so a row must never point outside the data dir. */
static int rel_path_ok(const char *p)
{
    if (!*p || p[0] == '/')
        return 0;
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
            return 0;
        s += n + (e ? 1 : 0);
        if (e && !*s)
            return 0;
    }
    return 1;
}

static int check_rec(const dq_image_rec_t *r, dq_err_t *err)
{
    if (!dq_image_id_valid(r->id, err))
        return -1;
    if (!is_hex64(r->master_sha256) || !is_hex64(r->pyramid_sha256))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: checksums must be 64 hex digits", r->id);
    if (!rel_path_ok(r->master_path) || !rel_path_ok(r->pyramid_path))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: paths must be relative to the data dir",
                          r->id);
    if (r->width <= 0 || r->height <= 0 || r->levels <= 0 || r->tile_size <= 0 ||
        (r->bands != 1 && r->bands != 3))
        return dq_err_set(err, DQ_EINVAL, 0, "image %s: bad geometry", r->id);
    return 0;
}

dq_catalog_t *dq_catalog_wrap(const dq_store_ops *ops, void *impl)
{
    DQ_ASSERT(ops && impl);
    dq_catalog_t *cat = dq_xcalloc(1, sizeof(*cat));
    cat->ops = ops;
    cat->impl = impl;
    return cat;
}

dq_catalog_t *dq_catalog_open(const char *data_dir, dq_err_t *err)
{
    void *impl = dq_store_sqlite_open(data_dir, err);
    return impl ? dq_catalog_wrap(&dq_store_sqlite_ops, impl) : NULL;
}

void dq_catalog_close(dq_catalog_t *cat)
{
    if (!cat)
        return;
    cat->ops->close(cat->impl);
    free(cat);
}

void *dq_catalog_impl(dq_catalog_t *cat) { return cat->impl; }
const dq_store_ops *dq_catalog_ops(dq_catalog_t *cat) { return cat->ops; }

int dq_catalog_image_put(dq_catalog_t *cat, const dq_image_rec_t *rec, unsigned flags,
                         const char *who, dq_err_t *err)
{
    if (check_rec(rec, err) < 0)
        return -1;
    return cat->ops->image_put(cat->impl, rec, flags, who ? who : "unknown", err);
}

int dq_catalog_image_get(dq_catalog_t *cat, const char *id, dq_image_rec_t *out, dq_err_t *err)
{
    if (!dq_image_id_valid(id, err))
        return -1;
    return cat->ops->image_get(cat->impl, id, out, err);
}

int dq_catalog_image_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err)
{
    return cat->ops->image_list(cat->impl, cb, ud, err);
}

int dq_catalog_image_delete(dq_catalog_t *cat, const char *id, const char *who, dq_err_t *err)
{
    if (!dq_image_id_valid(id, err))
        return -1;
    return cat->ops->image_delete(cat->impl, id, who ? who : "unknown", err);
}

int dq_catalog_pending_put(dq_catalog_t *cat, const dq_image_rec_t *rec, dq_err_t *err)
{
    if (check_rec(rec, err) < 0)
        return -1;
    return cat->ops->pending_put(cat->impl, rec, err);
}

int dq_catalog_pending_list(dq_catalog_t *cat, dq_image_cb cb, void *ud, dq_err_t *err)
{
    return cat->ops->pending_list(cat->impl, cb, ud, err);
}

int dq_catalog_pending_drop(dq_catalog_t *cat, const char *id, dq_err_t *err)
{
    if (!dq_image_id_valid(id, err))
        return -1;
    return cat->ops->pending_drop(cat->impl, id, err);
}

int dq_catalog_audit_count(dq_catalog_t *cat, int64_t *n, dq_err_t *err)
{
    return cat->ops->audit_count(cat->impl, n, err);
}
