/*
 * cmd_store.c: `danqing store VERB ...`, the blob store by hand (issue 15): what an operator
 * needs to look at a store without the catalog (info, stat, sha256, get, put, rm) and ranged
 * reads through the read-through cache (read), which the store tests and the S3 bench use.
 * The store is the one --store names (src/blob/blob.h); nothing here touches the catalog, so a
 * key put here is not an image until ingest records one.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "blob/blob.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing store info\n"
            "       danqing store stat KEY          size and version tag\n"
            "       danqing store sha256 KEY        SHA-256 of the stored bytes (from the store)\n"
            "       danqing store get KEY FILE      copy an object to a local file\n"
            "       danqing store put KEY FILE      store a local file (multipart when large)\n"
            "       danqing store rm KEY\n"
            "       danqing store read KEY OFF LEN [OFF LEN ...]\n"
            "                                       ranged reads through the read-through cache;\n"
            "                                       prints OFF LEN SHA256 per range\n"
            "  --stats  print the cache counters as one JSON line at the end\n\n"
            "KEY is a path in the store (pyramids/ID.tif, masters/ab/SHA256, ...).\n\n");
    dq_config_help(f);
}

static int parse_u64(const char *s, uint64_t *v)
{
    char *end = NULL;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || !end || *end || end == s || s[0] == '-')
        return -1;
    *v = x;
    return 0;
}

static int do_read(dq_blob_t *b, const char *key, int n_args, char **args, dq_err_t *err)
{
    if (n_args < 2 || n_args % 2)
        return dq_err_set(err, DQ_EINVAL, 0, "read wants KEY and pairs of OFF LEN");
    dq_blob_obj_t *o = dq_blob_obj_open(b, key, err);
    if (!o)
        return -1;
    int rc = -1;
    char *buf = NULL;
    for (int i = 0; i < n_args; i += 2) {
        uint64_t off, len;
        if (parse_u64(args[i], &off) < 0 || parse_u64(args[i + 1], &len) < 0 ||
            len > (256u << 20)) {
            dq_err_set(err, DQ_EINVAL, 0, "'%s %s' is not OFF LEN (LEN up to 256 MiB)", args[i],
                       args[i + 1]);
            goto out;
        }
        free(buf);
        buf = dq_xmalloc(len ? (size_t)len : 1);
        if (dq_blob_obj_read(o, buf, (size_t)len, off, err) < 0)
            goto out;
        char hex[65];
        dq_sha256_buf(buf, (size_t)len, hex);
        printf("%llu %llu %s\n", (unsigned long long)off, (unsigned long long)len, hex);
    }
    rc = 0;
out:
    free(buf);
    dq_blob_obj_free(o);
    return rc;
}

int dq_cmd_store(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv) || argc < 2) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    int stats = 0, n = 0;
    char **args = calloc((size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--stats") == 0)
            stats = 1;
        else
            args[n++] = argv[i];
    }
    const char *verb = args[0], *key = n > 1 ? args[1] : NULL;
    dq_err_t err = {0};
    int rc = 1;
    dq_blob_t *b = NULL;
    static const struct {
        const char *verb;
        int n; /* arguments after the verb; -1 = at least 3 */
    } verbs[] = {{"info", 0}, {"stat", 1}, {"sha256", 1}, {"get", 2},
                 {"put", 2},  {"rm", 1},   {"read", -1}};
    int known = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(verbs); i++)
        if (strcmp(verb, verbs[i].verb) == 0)
            known = verbs[i].n < 0 ? n - 1 >= 3 : n - 1 == verbs[i].n;
    if (!known) {
        fprintf(stderr, "danqing store: bad use of '%s'\n", verb);
        usage(stderr);
        free(args);
        return 2;
    }
    if (key && !dq_blob_key_ok(key)) {
        fprintf(stderr, "danqing store: '%s' is not a store key\n", key);
        free(args);
        return 2;
    }
    if (sodium_init() < 0 || !(b = dq_blob_open(cfg, &err)))
        goto out;
    if (strcmp(verb, "info") == 0) {
        printf("%s %s\n", dq_blob_kind(b), dq_blob_describe(b));
    } else if (strcmp(verb, "stat") == 0) {
        uint64_t size;
        char tag[128];
        if (dq_blob_stat(b, key, &size, tag, &err) < 0)
            goto out;
        printf("%llu %s\n", (unsigned long long)size, tag);
    } else if (strcmp(verb, "sha256") == 0) {
        char hex[65];
        uint64_t size;
        if (dq_blob_sha256(b, key, hex, &size, &err) < 0)
            goto out;
        printf("%s %llu\n", hex, (unsigned long long)size);
    } else if (strcmp(verb, "get") == 0) {
        if (dq_blob_fetch_file(b, key, args[2], &err) < 0)
            goto out;
    } else if (strcmp(verb, "put") == 0) {
        if (!dq_fs_exists(args[2])) {
            dq_err_set(&err, DQ_ENOTFOUND, 0, "no file %s", args[2]);
            goto out;
        }
        /* A file store renames a file of the data directory's tmp/ in; from anywhere else,
         * copy: store a copy so that the operator's file stays where it is. */
        if (strcmp(dq_blob_kind(b), "local") == 0) {
            char *tmp_dir = dq_xasprintf("%s/tmp", cfg->data_dir);
            char *tmp = dq_xasprintf("%s/.store-put.%d", tmp_dir, (int)getpid());
            int r = dq_fs_mkdirs(tmp_dir, &err) < 0 || dq_fs_copy(args[2], tmp, &err) < 0 ||
                            dq_blob_put_file(b, key, tmp, &err) < 0
                        ? -1
                        : 0;
            if (r < 0)
                remove(tmp);
            free(tmp);
            free(tmp_dir);
            if (r < 0)
                goto out;
        } else if (dq_blob_put_file(b, key, args[2], &err) < 0) {
            goto out;
        }
    } else if (strcmp(verb, "rm") == 0) {
        if (dq_blob_remove(b, key, &err) < 0)
            goto out;
    } else if (do_read(b, key, n - 2, args + 2, &err) < 0) {
        goto out;
    }
    rc = 0;
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing store: %s\n", err.msg);
    if (stats && b) {
        dq_blob_stats_t s;
        dq_blob_stats(b, &s);
        printf("{\"hits\":%llu,\"misses\":%llu,\"bytes\":%llu,\"evictions\":%llu,\"gets\":%llu,"
               "\"retries\":%llu}\n",
               (unsigned long long)s.hits, (unsigned long long)s.misses,
               (unsigned long long)s.bytes, (unsigned long long)s.evictions,
               (unsigned long long)s.gets, (unsigned long long)s.retries);
    }
    dq_blob_close(b);
    free(args);
    return rc;
}
