/*
 * path.c: splits "{id}", "{id}/info.json" and
 * "{id}/{region}/{size}/{rotation}/{quality}.{fmt}" (the path after the version
 * prefix, still percent-encoded) and validates the identifier. Only the
 * identifier is decoded here; the image parameters are left for dq_iiif_parse.
 * Identifiers are a deliberately small alphabet so that they can never name a
 * file outside the pyramid directory, whatever the layers below do with them.
 */
#include "iiif/iiif.h"

#include <stdlib.h>
#include <string.h>

static int id_char_ok(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

/* Decodes and validates an identifier segment into id_out. */
static int decode_id(const char *seg, size_t seg_len, char *id_out, dq_err_t *err)
{
    int rc = -1;
    char *id = NULL;

    if (seg_len == 0) {
        dq_err_set(err, DQ_EINVAL, 400, "empty identifier");
        goto out;
    }
    /* Three bytes per escaped character at most: anything longer cannot decode to
     * 128. */
    if (seg_len > 3 * (size_t)DQ_IIIF_ID_MAX) {
        dq_err_set(err, DQ_EINVAL, 400, "identifier longer than %d bytes", DQ_IIIF_ID_MAX);
        goto out;
    }
    id = dq_str_pct_decode(seg, seg_len, err);
    if (!id)
        goto out;
    size_t n = strlen(id);
    if (n == 0 || n > DQ_IIIF_ID_MAX) {
        dq_err_set(err, DQ_EINVAL, 400, "identifier must be 1 to %d bytes", DQ_IIIF_ID_MAX);
        goto out;
    }
    /* An escaped slash names an identifier that cannot exist here: the
     * validator's id_error_escapedslash asks for 404 rather than 400. */
    if (strchr(id, '/')) {
        dq_err_set(err, DQ_ENOTFOUND, 404, "no image with an identifier containing '/'");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (!id_char_ok(id[i])) {
            dq_err_set(err, DQ_EINVAL, 400, "identifier may hold only A-Z a-z 0-9 . _ -");
            goto out;
        }
    }
    if (id[0] == '.') {
        dq_err_set(err, DQ_EINVAL, 400, "identifier must not start with '.'");
        goto out;
    }
    memcpy(id_out, id, n + 1);
    rc = 0;
out:
    free(id);
    return rc;
}

int dq_iiif_split_path(const char *path, size_t len, char *id_out, int *kind, const char **params,
                       size_t *params_len, dq_err_t *err)
{
    id_out[0] = '\0';
    *kind = 0;
    if (params) {
        *params = NULL;
        *params_len = 0;
    }
    if (memchr(path, '\0', len))
        return dq_err_set(err, DQ_EINVAL, 400, "NUL byte in path");

    /* IIIF Image 3.0 §2: the identifier is one segment (slashes in it must be
     * escaped). */
    const char *slash = memchr(path, '/', len);
    size_t id_len = slash ? (size_t)(slash - path) : len;
    if (decode_id(path, id_len, id_out, err) < 0)
        return -1;
    if (!slash) {
        *kind = DQ_IIIF_PATH_BASE; /* 3.0 §2.2: the base URI redirects to info.json */
        return 0;
    }

    const char *rest = slash + 1;
    size_t rest_len = len - id_len - 1;
    int n_seg = 1;
    for (size_t i = 0; i < rest_len; i++)
        n_seg += rest[i] == '/';
    if (n_seg == 1 && rest_len == 9 && memcmp(rest, "info.json", 9) == 0) {
        *kind = DQ_IIIF_PATH_INFO;
        return 0;
    }
    if (n_seg == 4) {
        *kind = DQ_IIIF_PATH_IMAGE;
        if (params) {
            *params = rest;
            *params_len = rest_len;
        }
        return 0;
    }
    /* A trailing slash, an unescaped '/' in the identifier or a missing
     * parameter: no resource has this path. */
    id_out[0] = '\0';
    return dq_err_set(err, DQ_ENOTFOUND, 404, "no IIIF resource at this path");
}
