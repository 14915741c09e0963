/*
 * main.c: the danqing binary. Parses the common flags (see core/config.h), picks the
 * sub-command from a static table, and leaves everything else to it. Process-wide state
 * (log level, libvips start-up) is set here and only here.
 */
#include "cli.h"

#include <string.h>

/* The command table: data, not an if/else chain (house style 5). */
static const dq_cmd_t commands[] = {
    {"ingest", dq_cmd_ingest, "add a master image: keep it, build its tiled pyramid, catalog it"},
    {"serve", dq_cmd_serve, "serve IIIF Image API 3.0/2.1 (and the web front end) over HTTP"},
    {"import", dq_cmd_import, "add or update relic records from JSON Lines, CSV or MetObjects.csv"},
    {"harvest", dq_cmd_harvest,
     "add another institution's works as linked records (IIIF Change Discovery, Collection)"},
    {"user", dq_cmd_user, "accounts: add, list, passwd, role, del, token, revoke"},
    {"fixity", dq_cmd_fixity, "re-verify the SHA-256 of every stored master and pyramid"},
    {"store", dq_cmd_store, "the blob store by hand: info, stat, sha256, get, put, rm, read"},
    {"migrate", dq_cmd_migrate,
     "copy this data directory into PostgreSQL and a shared store (ids, files verified)"},
    {"generate", dq_cmd_generate,
     "paint the sample collection (procedural ink paintings with ground truth)"},
    {"teach", dq_cmd_teach, "teaching material: import a glossary file or composition overlays"},
    {"spectral", dq_cmd_spectral,
     "multispectral captures: add a band stack, pigment maps, reveal, decompose"},
    {"scene", dq_cmd_scene, "scene layers of the living painting: import, estimate, score"},
    {"style", dq_cmd_style, "style embeddings, attribution (train/classify), similar works"},
    {"condition", dq_cmd_condition, "condition captures: register two dates, map what changed"},
    {"restore", dq_cmd_restore, "virtual restoration (inpainting) of masked damage, as a new layer"},
};

int dq_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "danqing: a digital cultural-relics database (丹青)\n\n"
               "usage: danqing [options] COMMAND [args]   (danqing COMMAND --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < DQ_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "  %-10s %s\n\n", "help", "this list");
    dq_config_help(f);
}

int main(int argc, char **argv)
{
    dq_config_t cfg;
    dq_err_t err = {0};
    dq_config_defaults(&cfg);
    if (dq_config_from_env(&cfg, &err) < 0) {
        fprintf(stderr, "danqing: %s\n", err.msg);
        return 2;
    }
    /* Common flags may appear before or after the command; strip them out in place. */
    int n = 0;
    for (int i = 1; i < argc; i++) {
        int r = dq_config_flag(&cfg, argc, argv, &i, &err);
        if (r < 0) {
            fprintf(stderr, "danqing: %s\n", err.msg);
            return 2;
        }
        if (r == 0)
            argv[++n] = argv[i];
    }
    argc = n + 1;
    argv[argc] = NULL;
    dq_log_set_level(cfg.log_level);

    if (argc < 2 || strcmp(argv[1], "help") == 0 || strcmp(argv[1], "--help") == 0 ||
        strcmp(argv[1], "-h") == 0) {
        if (argc >= 3 && strcmp(argv[1], "help") == 0) {
            for (size_t i = 0; i < DQ_ARRAY_LEN(commands); i++)
                if (strcmp(commands[i].name, argv[2]) == 0) {
                    char *hargv[] = {argv[2], "--help", NULL};
                    return commands[i].fn(&cfg, 2, hargv);
                }
        }
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < DQ_ARRAY_LEN(commands); i++)
        if (strcmp(commands[i].name, argv[1]) == 0)
            return commands[i].fn(&cfg, argc - 1, argv + 1);
    fprintf(stderr, "danqing: unknown command '%s' (try: danqing help)\n", argv[1]);
    return 2;
}
