/*
 * cmd_migrate.c: `danqing migrate --catalog URL [--store STORE] [--dry-run] [--json]` (issue
 * 15, "moving up"): copies a data directory's SQLite catalog into another catalog (a
 * PostgreSQL database) and its files (masters, pyramids, every derived layer and spectral
 * file under masters/, pyramids/ and layers/) into another store (a shared mount or S3), under
 * the same keys.
 *
 * Order: everything is checked before anything is written (the target catalog holds nothing
 * or a prefix of this one; no target object under one of our keys holds other bytes), then
 * the files, then the catalog: a catalog that names a file only ever appears after the file.
 * Each file is verified by the target's own fixity (its SHA-256 read back end to end from the
 * store, dq_blob_sha256) against the local file's; one already there is verified the same way
 * and not copied again. The catalog copy is dq_catalog_copy (catalog/copy.c): resumable after
 * a kill, a rerun copies nothing twice. The source is only read (opening it applies missing
 * schema migrations, as every command does).
 * Not here: rows (catalog/), how keys are stored (blob/).
 */
#define _GNU_SOURCE
#include "cli.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blob/blob.h"
#include "catalog/catalog.h"

/* ---------------------------------------------------------------- the files */

typedef struct {
    char *key;
    uint64_t size;
    int state; /* 0 to copy, 1 present and equal */
} mfile_t;

typedef struct {
    mfile_t *v;
    size_t n, cap;
} mfiles_t;

/* Adds every regular file under DATA/rel (recursively) as a key. */
static int walk(const char *data, const char *rel, mfiles_t *out, dq_err_t *err)
{
    char *dir = dq_xasprintf("%s/%s", data, rel);
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d) {
        free(dir);
        return 0; /* a data directory without layers/ */
    }
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *key = dq_xasprintf("%s/%s", rel, e->d_name);
        char *path = dq_xasprintf("%s/%s", data, key);
        struct stat st;
        if (lstat(path, &st) < 0) {
            rc = dq_err_set(err, DQ_EIO, 0, "cannot stat %s", path);
        } else if (S_ISDIR(st.st_mode)) {
            rc = walk(data, key, out, err);
        } else if (S_ISREG(st.st_mode)) {
            if (!dq_blob_key_ok(key)) {
                rc = dq_err_set(err, DQ_EINVAL, 0,
                                "%s: a file name the store cannot keep (letters, digits and "
                                ". _ - / only)",
                                path);
            } else {
                if (out->n == out->cap) {
                    out->cap = out->cap ? out->cap * 2 : 256;
                    out->v = dq_xrealloc(out->v, out->cap * sizeof(*out->v));
                }
                out->v[out->n++] = (mfile_t){.key = key, .size = (uint64_t)st.st_size};
                key = NULL;
            }
        }
        free(key);
        free(path);
    }
    closedir(d);
    free(dir);
    return rc;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(((const mfile_t *)a)->key, ((const mfile_t *)b)->key);
}

static void mfiles_free(mfiles_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i].key);
    free(f->v);
}

/* ---------------------------------------------------------------- progress */

typedef struct {
    int tty, json;
    int64_t t0;
    uint64_t total_bytes, done_bytes;
    size_t n_files, done_files;
} prog_t;

static void bar(prog_t *p, const char *what, double frac, const char *detail)
{
    if (!p->tty)
        return;
    int w = 30, k = (int)(frac * w + 0.5);
    char b[64];
    for (int i = 0; i < w; i++)
        b[i] = i < k ? '#' : '.';
    b[w] = '\0';
    fprintf(stderr, "\r%-8s [%s] %3d%% %-40.40s", what, b, (int)(frac * 100 + 0.5), detail);
    fflush(stderr);
}

static void bar_end(prog_t *p)
{
    if (p->tty)
        fprintf(stderr, "\n");
}

static int catalog_progress(void *ud, const dq_catalog_copy_stat_t *st, int n, int table)
{
    prog_t *p = ud;
    int64_t todo = 0, done = 0;
    for (int i = 0; i < n; i++) {
        todo += st[i].todo;
        done += st[i].done - (st[i].source - st[i].todo);
    }
    if (table >= 0) {
        char d[80];
        snprintf(d, sizeof(d), "%s %lld/%lld", st[table].table, (long long)(st[table].done),
                 (long long)st[table].source);
        bar(p, "catalog", todo ? (double)done / (double)todo : 1.0, d);
    }
    return 0;
}

/* ---------------------------------------------------------------- the command */

static void usage(void)
{
    printf("usage: danqing migrate --catalog postgres://... [--store s3://BUCKET/PREFIX | /MOUNT]\n"
           "                       [--dry-run] [--json] [--batch N]\n\n"
           "Copies this data directory (--data) to a shared deployment: its SQLite catalog into\n"
           "the catalog --catalog names (every table, with ids, times, versions, accounts and\n"
           "their password hashes, sessions, tokens and the audit trail as they are), and with\n"
           "--store its files (masters, pyramids, derived layers, spectral bands) into that store\n"
           "under the same keys, each verified by its SHA-256 read back from the store.\n"
           "Without --store the files stay in the data directory.\n\n"
           "Everything is checked before anything is written: a target catalog holding other\n"
           "data, or a target object holding other bytes under one of these keys, is refused.\n"
           "Killed, it goes on where it stopped when run again; run again after it finished, it\n"
           "copies nothing. The source is only read. Stop writes to it while it is copied.\n\n"
           "  --dry-run   say what would be copied (rows per table, files, bytes); write no row\n"
           "              and no object (opening the target database makes its empty schema)\n"
           "  --json      one JSON object on stdout instead of the text summary\n"
           "  --batch N   rows per write transaction (default 1000)\n\n"
           "Then serve with: danqing --data NEW_DIR --catalog URL --store STORE serve\n"
           "(docs/deploy.md \"Moving up\").\n\n");
    dq_config_help(stdout);
}

static void json_str(dq_buf_t *b, const char *s)
{
    dq_buf_putc(b, '"');
    dq_buf_json_str(b, s, strlen(s));
    dq_buf_putc(b, '"');
}

/* 1 when a and b name the same existing directory. */
static int same_dir(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* err->msg = "what: " + err->msg (cut to fit). */
static void prefix(dq_err_t *err, const char *what)
{
    dq_buf_t b = {0};
    dq_buf_printf(&b, "%s: %s", what, err->msg);
    size_t n = DQ_MIN(b.len, sizeof(err->msg) - 1);
    memcpy(err->msg, b.data, n);
    err->msg[n] = '\0';
    dq_buf_free(&b);
}

static int rm_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d)
        return unlink(path);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = dq_xasprintf("%s/%s", path, e->d_name);
        rm_tree(p);
        free(p);
    }
    closedir(d);
    return rmdir(path);
}

int dq_cmd_migrate(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    int dry = 0, json = 0, batch = 1000;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry = 1;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--batch") == 0 && i + 1 < argc) {
            batch = atoi(argv[++i]);
            if (batch < 1 || batch > 100000) {
                fprintf(stderr, "danqing migrate: --batch wants 1..100000\n");
                return 2;
            }
        } else {
            fprintf(stderr, "danqing migrate: unexpected argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    dq_err_t err = {0};
    int rc = 1;
    char *src_db = dq_xasprintf("%s/catalog.sqlite", cfg->data_dir);
    char *conf = dq_xasprintf("%s/store.conf", cfg->data_dir);
    char *cache = NULL;
    dq_catalog_t *src = NULL, *dst = NULL;
    dq_blob_t *local = NULL, *target = NULL;
    dq_config_t *tcfg = NULL;
    mfiles_t files = {0};
    dq_catalog_copy_stat_t *st = NULL;
    int n_st = 0;
    prog_t prog = {.tty = isatty(2) && !json, .json = json, .t0 = dq_now_us()};
    uint64_t files_copied = 0, bytes_copied = 0, files_present = 0, bytes_todo = 0;
    double t_files = 0, t_catalog = 0;

    if (!cfg->catalog[0]) {
        fprintf(stderr, "danqing migrate: --catalog URL is required (the target, e.g. "
                        "postgres://user@host/db)\n");
        free(src_db);
        free(conf);
        return 2;
    }
    if (!dq_fs_exists(src_db)) {
        dq_err_set(&err, DQ_ENOTFOUND, 0, "no catalog at %s (give the source with --data)", src_db);
        goto out;
    }
    if (cfg->store[0] && dq_fs_exists(conf)) {
        dq_err_set(&err, DQ_EINVAL, 0,
                   "%s keeps its files in a store already (%s): migrate copies a data "
                   "directory's own files; run it without --store to move only the catalog",
                   cfg->data_dir, conf);
        goto out;
    }
    if (cfg->store[0] && strncmp(cfg->store, "s3://", 5) != 0 &&
        same_dir(strncmp(cfg->store, "file://", 7) == 0 ? cfg->store + 7 : cfg->store,
                 cfg->data_dir)) {
        dq_err_set(&err, DQ_EINVAL, 0, "--store names the data directory itself");
        goto out;
    }
    if (strncmp(cfg->catalog, "sqlite:", 7) == 0 || cfg->catalog[0] == '/') {
        const char *p = cfg->catalog[0] == '/' ? cfg->catalog : cfg->catalog + 7;
        struct stat sd;
        char *file = stat(p, &sd) == 0 && S_ISDIR(sd.st_mode)
                         ? dq_xasprintf("%s/catalog.sqlite", p)
                         : dq_xstrdup(p); /* a directory names DIR/catalog.sqlite */
        char *a = realpath(file, NULL), *b = realpath(src_db, NULL);
        free(file);
        int same = a && b && strcmp(a, b) == 0;
        free(a);
        free(b);
        if (same) {
            dq_err_set(&err, DQ_EINVAL, 0, "--catalog names this data directory's own catalog");
            goto out;
        }
    }
    /* the source: its own SQLite file, whatever DANQING_CATALOG says */
    char *src_url = dq_xasprintf("sqlite:%s", src_db);
    src = dq_catalog_open(src_url, &err);
    free(src_url);
    if (!src)
        goto out;
    /* A dry run writes nothing anywhere: opening a catalog creates its schema (or applies
     * missing migrations), so the target is probed first and opened only when opening would
     * change nothing; a target with no catalog yet is counted as empty. */
    int n_applied = 0, n_known = 0;
    if (dry && dq_catalog_probe(cfg->catalog, &n_applied, &n_known, &err) < 0) {
        prefix(&err, "the target catalog");
        goto out;
    }
    if (dry && n_applied && n_applied != n_known) {
        dq_err_set(&err, DQ_EINVAL, 0,
                   "the target catalog has %d of this danqing's %d schema migrations: a real "
                   "run would upgrade its schema first, which a dry run does not do",
                   n_applied, n_known);
        prefix(&err, "the target catalog");
        goto out;
    }
    if ((!dry || n_applied) && !(dst = dq_catalog_open(cfg->catalog, &err))) {
        prefix(&err, "the target catalog");
        goto out;
    }
    if (dst)
        dq_catalog_set_write_wait(dst, 30000);
    /* the files and the target store: an unreachable store or wrong credentials fail here */
    if (cfg->store[0]) {
        local = dq_blob_open_local(cfg->data_dir);
        tcfg = dq_xmalloc(sizeof(*tcfg));
        *tcfg = *cfg;
        /* the read-through cache is not used (fixity reads the store itself), and never in
         * the source's data directory */
        const char *tmpdir = getenv("TMPDIR");
        cache = dq_xasprintf("%s/dq-migrate.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/tmp");
        if (!mkdtemp(cache)) {
            dq_err_set(&err, DQ_EIO, 0, "cannot make a temporary directory %s", cache);
            goto out;
        }
        snprintf(tcfg->store_cache, sizeof(tcfg->store_cache), "%s", cache);
        if (!(target = dq_blob_open_named(tcfg, &err)))
            goto out;
        if (dq_blob_exists(target, "masters/dq-migrate-probe", &err) < 0) {
            prefix(&err, dq_blob_describe(target));
            goto out;
        }
        static const char *const roots[] = {"masters", "pyramids", "layers"};
        for (size_t i = 0; i < DQ_ARRAY_LEN(roots); i++)
            if (walk(cfg->data_dir, roots[i], &files, &err) < 0)
                goto out;
        qsort(files.v, files.n, sizeof(*files.v), by_key);
        prog.n_files = files.n;
        for (size_t i = 0; i < files.n; i++) {
            uint64_t size = 0;
            dq_err_t e = {0};
            if (dq_blob_stat(target, files.v[i].key, &size, NULL, &e) < 0) {
                if (e.code != DQ_ENOTFOUND) {
                    err = e;
                    goto out;
                }
                bytes_todo += files.v[i].size;
                continue;
            }
            /* there already: the same bytes (from an interrupted run) or refused */
            char a[65], b[65];
            uint64_t sa = 0, sb = 0;
            if (dq_blob_sha256(local, files.v[i].key, a, &sa, &err) < 0 ||
                dq_blob_sha256(target, files.v[i].key, b, &sb, &err) < 0)
                goto out;
            if (sa != sb || strcmp(a, b) != 0) {
                dq_err_set(&err, DQ_EEXIST, 409,
                           "the target store already holds other bytes under %s; migrate "
                           "copies into an empty store or finishes its own interrupted copy",
                           files.v[i].key);
                goto out;
            }
            files.v[i].state = 1;
            files_present++;
            char d[80];
            snprintf(d, sizeof(d), "checking %zu/%zu", i + 1, files.n);
            bar(&prog, "files", (double)(i + 1) / (double)files.n, d);
        }
    }
    /* the catalog: checked (and with --dry-run only counted) before any write */
    dq_catalog_copy_opts_t o = {.dry_run = 1, .batch = batch};
    if (dq_catalog_copy(src, dst, &o, &st, &n_st, &err) < 0)
        goto out;
    if (!dry) {
        int64_t t = dq_now_us();
        for (size_t i = 0; i < files.n; i++) {
            mfile_t *f = &files.v[i];
            if (f->state)
                continue;
            char a[65], b[65];
            uint64_t sa = 0, sb = 0;
            char *path = dq_xasprintf("%s/%s", cfg->data_dir, f->key);
            int r = dq_blob_sha256(local, f->key, a, &sa, &err) < 0 ||
                    dq_blob_put_file(target, f->key, path, &err) < 0 ||
                    dq_blob_sha256(target, f->key, b, &sb, &err) < 0;
            free(path);
            if (r)
                goto out;
            if (sa != sb || strcmp(a, b) != 0) {
                dq_err_set(&err, DQ_EIO, 0,
                           "%s: the store gave back other bytes than were sent (sha256 %s, "
                           "sent %s); nothing was removed, run migrate again",
                           f->key, b, a);
                goto out;
            }
            files_copied++;
            bytes_copied += sa;
            char d[80];
            snprintf(d, sizeof(d), "%llu/%llu MB %s", (unsigned long long)(bytes_copied >> 20),
                     (unsigned long long)(bytes_todo >> 20), f->key);
            bar(&prog, "files", bytes_todo ? (double)bytes_copied / (double)bytes_todo : 1.0, d);
        }
        if (files.n)
            bar_end(&prog);
        t_files = (double)(dq_now_us() - t) / 1e6;
        t = dq_now_us();
        free(st);
        st = NULL;
        o = (dq_catalog_copy_opts_t){.batch = batch, .progress = catalog_progress, .ud = &prog};
        int r = dq_catalog_copy(src, dst, &o, &st, &n_st, &err);
        bar_end(&prog);
        t_catalog = (double)(dq_now_us() - t) / 1e6;
        if (r < 0)
            goto out;
    }
    int64_t rows_src = 0, rows_todo = 0, rows_copied = 0;
    for (int i = 0; i < n_st; i++) {
        rows_src += st[i].source;
        rows_todo += st[i].todo;
        rows_copied += st[i].copied;
    }
    double secs = (double)(dq_now_us() - prog.t0) / 1e6;
    if (json) {
        dq_buf_t b = {0};
        dq_buf_printf(&b, "{\"dry_run\": %s, \"catalog\": {\"target\": ", dry ? "true" : "false");
        json_str(&b, cfg->catalog);
        dq_buf_printf(&b,
                      ", \"rows\": %lld, \"rows_to_copy\": %lld, \"rows_copied\": %lld,"
                      " \"seconds\": %.3f, \"tables\": [",
                      (long long)rows_src, (long long)rows_todo, (long long)rows_copied, t_catalog);
        for (int i = 0; i < n_st; i++) {
            dq_buf_printf(&b, "%s{\"table\": ", i ? ", " : "");
            json_str(&b, st[i].table);
            dq_buf_printf(&b,
                          ", \"source\": %lld, \"target_before\": %lld, \"to_copy\": %lld,"
                          " \"copied\": %lld, \"seconds\": %.3f}",
                          (long long)st[i].source, (long long)st[i].target, (long long)st[i].todo,
                          (long long)st[i].copied, st[i].seconds);
        }
        dq_buf_puts(&b, "]}, \"files\": ");
        if (target) {
            uint64_t total = 0;
            for (size_t i = 0; i < files.n; i++)
                total += files.v[i].size;
            dq_buf_puts(&b, "{\"store\": ");
            json_str(&b, dq_blob_describe(target));
            dq_buf_printf(&b,
                          ", \"files\": %zu, \"bytes\": %llu, \"present\": %llu,"
                          " \"to_copy\": %llu, \"bytes_to_copy\": %llu, \"copied\": %llu,"
                          " \"bytes_copied\": %llu, \"seconds\": %.3f}",
                          files.n, (unsigned long long)total, (unsigned long long)files_present,
                          (unsigned long long)(files.n - files_present),
                          (unsigned long long)bytes_todo, (unsigned long long)files_copied,
                          (unsigned long long)bytes_copied, t_files);
        } else {
            dq_buf_puts(&b, "null");
        }
        dq_buf_printf(&b, ", \"seconds\": %.3f}\n", secs);
        fwrite(b.data, 1, b.len, stdout);
        dq_buf_free(&b);
    } else {
        printf("%s %s\n", dry ? "would copy into" : "copied into", cfg->catalog);
        for (int i = 0; i < n_st; i++)
            if (st[i].source || st[i].target)
                printf("  %-18s %8lld rows, %8lld %s\n", st[i].table, (long long)st[i].source,
                       (long long)(dry ? st[i].todo : st[i].copied),
                       dry ? "to copy" : "copied now");
        printf("catalog: %lld rows, %lld %s\n", (long long)rows_src,
               (long long)(dry ? rows_todo : rows_copied), dry ? "to copy" : "copied now");
        if (target)
            printf("files: %zu in %s, %llu already there (verified), %llu %s (%.1f MB)\n", files.n,
                   dq_blob_describe(target), (unsigned long long)files_present,
                   (unsigned long long)(dry ? files.n - files_present : files_copied),
                   dry ? "to copy" : "copied and verified",
                   (double)(dry ? bytes_todo : bytes_copied) / 1048576.0);
        else
            printf("files: not copied (no --store: they stay in %s)\n",
                   dq_fs_exists(conf) ? "the store its store.conf names" : cfg->data_dir);
        printf("%.1f s\n", secs);
    }
    rc = 0;
out:
    if (rc && err.msg[0])
        fprintf(stderr, "danqing migrate: %s\n", err.msg);
    free(st);
    mfiles_free(&files);
    dq_blob_close(target);
    dq_blob_close(local);
    dq_catalog_close(dst);
    dq_catalog_close(src);
    if (cache)
        rm_tree(cache);
    free(cache);
    free(tcfg);
    free(src_db);
    free(conf);
    return rc;
}
