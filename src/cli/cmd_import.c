/*
 * cmd_import.c: `danqing import FILE [--format jsonl|csv|met|auto] [--mapping MAP.json]
 * [--dry-run] [--batch N]`. Opens the file ("-" is stdin) and the catalog and hands the rows
 * to dq_catalog_import (catalog/relic_import.c), which upserts them by accession. Each bad
 * row is one "line N: reason" on stderr; the rest are imported. One summary line on stdout
 * (inserted, updated, unchanged, failed, rows/s); a progress line on stderr only when stderr
 * is a terminal. Exit 0 when every row was imported, 1 when any row failed or the import
 * could not run, 2 for usage errors (docs/import.md).
 */
#include "cli.h"

#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog/catalog.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: danqing import FILE [--format jsonl|csv|met|auto] [--mapping MAP.json] "
            "[--dry-run] [--batch N]\n\n"
            "Adds or updates relic records, matched by accession number: a new accession is\n"
            "inserted, a changed record updated (new version, audit row), an identical one left\n"
            "alone, so importing the same file twice changes nothing. FILE \"-\" reads stdin.\n\n"
            "  --format jsonl    one relic document per line (docs/api.md), or the flat form of\n"
            "                    the sample collection's metadata.jsonl (default for *.jsonl)\n"
            "  --format csv      RFC 4180 CSV; columns named by --mapping, or a header of field\n"
            "                    paths; a header that is MetObjects.csv's is read as --format met\n"
            "  --format met      The Met's MetObjects.csv layout, built-in mapping\n"
            "  --format auto     jsonl when the first byte that is not blank is '{', else csv\n"
            "                    (the default, except for *.jsonl files)\n"
            "  --mapping FILE    column -> field mapping for csv (docs/import.md)\n"
            "  --dry-run         validate and count only; write nothing\n"
            "  --batch N         rows per transaction (default 10000)\n\n"
            "Bad rows are reported as \"line N: reason\" on stderr and skipped. Exit status: 0\n"
            "when every row was imported, 1 when any row failed, 2 for usage errors.\n\n");
    dq_config_help(f);
}

typedef struct {
    int tty;
    int64_t t0;
    long errors_shown;
} ui_t;

static void on_error(void *ud, long line, const char *reason)
{
    ui_t *u = ud;
    if (u->tty)
        fputs("\r\033[K", stderr);
    fprintf(stderr, "line %ld: %s\n", line, reason);
    u->errors_shown++;
}

static void on_progress(void *ud, int64_t rows, int64_t bytes)
{
    ui_t *u = ud;
    if (!u->tty)
        return;
    double s = (double)(dq_now_us() - u->t0) / 1e6;
    fprintf(stderr, "\r\033[K%lld rows  %.1f MB  %.0f rows/s", (long long)rows, (double)bytes / 1e6,
            s > 0 ? (double)rows / s : 0.0);
    fflush(stderr);
}

static int ends_with(const char *s, const char *suf)
{
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

/* One malloc arena for this process (glibc; call before the import's threads start): the
 * import parses on one thread and writes on another (relic_import.c), and with an arena per
 * thread the parsing thread's allocations went through glibc's slow path, +20-25 % of the
 * client's CPU per record (issue 15, 50,000 records); with one arena it is as before. Three
 * threads at most contend for its lock. Then no fast bins, and big blocks kept in the heap:
 * every 1,000 rows the writer frees buffers of 100 KB-2 MB (COPY data, tokens), and each such
 * free merged every fast-bin chunk the JSON had left (malloc_consolidate) or gave pages back
 * to the kernel to fault in again; -9 % of the client's CPU per record (issue 15, 20,000
 * records, four interleaved runs each). Shared by import and harvest, which both read ahead
 * through dq_catalog_import. */
void dq_cli_import_arena(void)
{
    mallopt(M_ARENA_MAX, 1);
    mallopt(M_MXFAST, 0);
    mallopt(M_MMAP_THRESHOLD, 32 << 20);
    mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int dq_cmd_import(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    const char *file = NULL, *format = NULL, *mapping = NULL;
    int dry_run = 0, batch = 0, rc = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--format") == 0 && i + 1 < argc) {
            format = argv[++i];
        } else if (strcmp(a, "--mapping") == 0 && i + 1 < argc) {
            mapping = argv[++i];
        } else if (strcmp(a, "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(a, "--batch") == 0 && i + 1 < argc) {
            batch = atoi(argv[++i]);
            if (batch < 1 || batch > 100000) {
                fprintf(stderr, "danqing import: --batch must be 1..100000\n");
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "danqing import: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else if (!file) {
            file = a;
        } else {
            fprintf(stderr, "danqing import: one FILE only\n");
            return 2;
        }
    }
    if (!file) {
        usage(stderr);
        return 2;
    }
    int fmt;
    if (!format) /* a .jsonl name is trusted; anything else is told by its first bytes */
        format = ends_with(file, ".jsonl") || ends_with(file, ".ndjson") ? "jsonl" : "auto";
    if (strcmp(format, "auto") == 0)
        fmt = DQ_IMPORT_AUTO;
    else if (strcmp(format, "jsonl") == 0)
        fmt = DQ_IMPORT_JSONL;
    else if (strcmp(format, "csv") == 0)
        fmt = DQ_IMPORT_CSV;
    else if (strcmp(format, "met") == 0)
        fmt = DQ_IMPORT_MET;
    else {
        fprintf(stderr, "danqing import: --format must be jsonl, csv, met or auto\n");
        return 2;
    }

    dq_err_t err = {0};
    dq_buf_t map = {0};
    dq_catalog_t *cat = NULL;
    FILE *in = NULL;
    ui_t ui = {.tty = isatty(2), .t0 = dq_now_us()};
    dq_import_stats_t st = {0};
    if (mapping && dq_fs_read_file(mapping, 1 << 20, &map, &err) < 0)
        goto out;
    in = strcmp(file, "-") == 0 ? stdin : fopen(file, "rb");
    if (!in) {
        dq_err_set(&err, DQ_EIO, 0, "cannot open %s", file);
        goto out;
    }
    dq_cli_import_arena();
    if (!(cat = dq_catalog_open(dq_config_catalog(cfg), &err)))
        goto out;
    dq_actor_t who = {.user = "cli", .role = DQ_ROLE_ADMIN};
    dq_import_opts_t o = {.format = fmt,
                          .mapping_json = mapping ? map.data : NULL,
                          .mapping_len = map.len,
                          .dry_run = dry_run,
                          .batch_rows = batch,
                          .on_error = on_error,
                          .on_progress = on_progress,
                          .ud = &ui};
    int r = dq_catalog_import(cat, in, &o, &who, &st, &err);
    if (ui.tty)
        fputs("\r\033[K", stderr);
    double secs = (double)(dq_now_us() - ui.t0) / 1e6;
    int64_t rows = st.inserted + st.updated + st.unchanged + st.failed;
    printf("%s%lld inserted, %lld updated, %lld unchanged, %lld failed; %lld rows in %.2f s "
           "(%.0f rows/s)\n",
           dry_run ? "dry run: " : "", (long long)st.inserted, (long long)st.updated,
           (long long)st.unchanged, (long long)st.failed, (long long)rows, secs,
           secs > 0 ? (double)rows / secs : 0.0);
    if (st.settled_pages > 0)
        fprintf(stderr, "search index: %lld pending pages folded in %.2f s\n",
                (long long)st.settled_pages, (double)st.settle_us / 1e6);
    if (r < 0)
        goto out;
    rc = st.failed ? 1 : 0;
out:
    if (err.msg[0] && rc != 0 && !(st.failed && err.code == DQ_OK))
        fprintf(stderr, "danqing import: %s\n", err.msg);
    if (in && in != stdin)
        fclose(in);
    dq_catalog_close(cat);
    dq_buf_free(&map);
    return rc;
}
