/*
 * cli: the `danqing` sub-commands. Each command lives in its own cmd_<name>.c and has the
 * same shape: it receives the filled configuration and its own arguments (argv[0] is the
 * command name, common flags already removed), prints its own --help, and returns the
 * process exit status (0 ok, 1 failure, 2 usage error). Commands never call exit().
 */
#ifndef DQ_CLI_H
#define DQ_CLI_H

#include "core/config.h"

typedef int (*dq_cmd_fn)(dq_config_t *cfg, int argc, char **argv);

typedef struct {
    const char *name;
    dq_cmd_fn fn;
    const char *summary;
} dq_cmd_t;

int dq_cmd_ingest(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_fixity(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_store(dq_config_t *cfg, int argc, char **argv); /* blob store (issue 15) */
int dq_cmd_serve(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_generate(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_import(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_harvest(dq_config_t *cfg, int argc, char **argv); /* network (issue 16) */
int dq_cmd_user(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_teach(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_scene(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_style(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_condition(dq_config_t *cfg, int argc, char **argv);
/* danqing condition record (cmd_condition_record.c): a condition record in one step. */
int dq_cmd_condition_record(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_restore(dq_config_t *cfg, int argc, char **argv);
int dq_cmd_migrate(dq_config_t *cfg, int argc, char **argv); /* moving up (issue 15) */

int dq_cmd_spectral(dq_config_t *cfg, int argc, char **argv);
/* The pigment spectra directory: ./data-src/pigments, else next to the binary (cmd_generate.c). */
void dq_cli_default_pigments(char *out, size_t len);

/* After an ingest (cmd_style.c, issue 13): when rec's image had a style embedding computed
 * from another pyramid, recomputes it from the new one (so similar works and attribution never
 * answer from a stale picture); nothing when it had none. 0, or -1 with err. */
struct dq_catalog;
struct dq_blob; /* the pyramid is read from the store (a local copy for an object store) */
int dq_cli_style_refresh(struct dq_catalog *cat, struct dq_blob *store, const char *image_id,
                         const char *pyramid_sha256, const char *pyramid_path, dq_err_t *err);

/* Sets the one malloc arena (and the bins) that dq_catalog_import's read-ahead wants
 * (cmd_import.c): call before any thread starts, in a command that imports (import,
 * harvest). Process-wide. */
void dq_cli_import_arena(void);

/* Takes back what a `spectral add` that died left in the store (cmd_spectral.c): on a file
 * store, layers/spectral/.new-<cap>.* directories no live run holds (its flock): the
 * capture's directory is the one the catalog names (the replaced one moved back, or the new
 * one kept when the row committed); on an object store, the journals in the catalog (work
 * journals of kind "spectral-add", seen by every node; DATA/tmp/spectral.XXXXXX/journal.json of adds
 * from before session 25), once no add anywhere holds the spectral lock: a run that committed
 * loses the old capture's leftover objects, one that did not gets the bands the catalog names
 * put back (from their checked copies, kept in the store under tmp/spectral/<run>/) and the
 * keys it alone wrote removed; unlocked DATA/tmp/spectral.* work dirs are removed. *n gets
 * how many runs were taken back. Called by `spectral add` and
 * `fixity`. 0, or -1 with err. */
struct dq_catalog;
int dq_cli_spectral_recover(dq_config_t *cfg, struct dq_catalog *cat, struct dq_blob *store,
                            int *n, dq_err_t *err);

/* 1 when argv holds -h or --help. */
int dq_cli_wants_help(int argc, char **argv);

#endif
