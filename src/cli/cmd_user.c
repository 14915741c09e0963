/*
 * cmd_user.c: `danqing user`, account management from the command line (the first admin
 * comes from here). The command line acts as the admin "cli" (that name is what the audit
 * trail records). Passwords come from --password, from the terminal with echo off, or, when
 * there is no terminal, are generated and printed once; API tokens are printed once. Neither
 * is ever logged.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "catalog/catalog.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: danqing user add NAME --role ROLE [--password P]\n"
               "       danqing user list\n"
               "       danqing user passwd NAME [--password P]\n"
               "       danqing user role NAME ROLE\n"
               "       danqing user del NAME\n"
               "       danqing user token NAME [--ttl-days N]\n"
               "       danqing user revoke NAME\n\n"
               "Accounts of the web interface and the JSON API. ROLE is viewer, educator,\n"
               "conservator, curator or admin (docs/api.md \"Roles\"). Without --password, add and passwd ask\n"
               "on the terminal (no echo); without a terminal they generate a password and print\n"
               "it once. --password is visible to other local users (ps): prefer the prompt.\n"
               "passwd revokes the account's sessions and tokens. token prints a new API token\n"
               "(Authorization: Bearer ...) once; it lasts --ttl-days days (default 90, 0 =\n"
               "until revoked). revoke ends every session and token of the account.\n");
}

/* Reads one line from the terminal with echo off; 0 or -1. */
static int read_hidden(const char *prompt, char *out, size_t cap)
{
    struct termios old, quiet;
    int rc = -1;
    if (tcgetattr(STDIN_FILENO, &old) < 0)
        return -1;
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    fprintf(stderr, "%s", prompt);
    fflush(stderr);
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) < 0)
        return -1;
    if (fgets(out, (int)cap, stdin)) {
        out[strcspn(out, "\r\n")] = '\0';
        rc = 0;
    }
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    fprintf(stderr, "\n");
    return rc;
}

/* Fills pw from --password, the terminal, or a generated one (*generated = 1). 0 or -1. */
static int get_password(const char *given, char *pw, size_t cap, int *generated)
{
    *generated = 0;
    if (given) {
        snprintf(pw, cap, "%s", given);
        return 0;
    }
    if (isatty(STDIN_FILENO)) {
        char again[1100];
        int rc = -1;
        if (read_hidden("password: ", pw, cap) == 0 &&
            read_hidden("password again: ", again, sizeof(again)) == 0) {
            if (strcmp(pw, again) == 0)
                rc = 0;
            else
                fprintf(stderr, "danqing user: the passwords differ\n");
        }
        memset(again, 0, sizeof(again));
        return rc;
    }
    dq_catalog_password_generate(pw, 20);
    *generated = 1;
    return 0;
}

static int print_user(void *ud, const dq_user_t *u)
{
    (void)ud;
    printf("%-24s %-12s created %s  sessions %lld  tokens %lld\n", u->name,
           dq_catalog_role_name(u->role), u->created_at, (long long)u->n_sessions,
           (long long)u->n_tokens);
    return 0;
}

/* Takes "--name VALUE" out of argv (in place); returns VALUE or NULL. *bad on a missing
 * value. */
static const char *take_opt(int *argc, char **argv, const char *name, int *bad)
{
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        if (i + 1 >= *argc) {
            fprintf(stderr, "danqing user: %s needs a value\n", name);
            *bad = 1;
            return NULL;
        }
        const char *v = argv[i + 1];
        for (int j = i; j + 2 <= *argc; j++)
            argv[j] = argv[j + 2];
        *argc -= 2;
        return v;
    }
    return NULL;
}

int dq_cmd_user(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        usage(stdout);
        return 0;
    }
    int bad = 0;
    const char *role_s = take_opt(&argc, argv, "--role", &bad);
    const char *pw_given = take_opt(&argc, argv, "--password", &bad);
    const char *ttl_s = take_opt(&argc, argv, "--ttl-days", &bad);
    if (bad)
        return 2;
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *sub = argv[1];
    const char *name = argc > 2 ? argv[2] : NULL;
    static const struct {
        const char *name;
        int n_args; /* positional arguments after the sub-command */
    } subs[] = {{"add", 1}, {"list", 0},  {"passwd", 1}, {"role", 2},
                {"del", 1}, {"token", 1}, {"revoke", 1}};
    int known = 0;
    for (size_t i = 0; i < DQ_ARRAY_LEN(subs); i++)
        if (strcmp(sub, subs[i].name) == 0) {
            known = 1;
            if (argc - 2 != subs[i].n_args) {
                fprintf(stderr, "danqing user %s: expected %d argument(s)\n", sub, subs[i].n_args);
                return 2;
            }
        }
    if (!known) {
        fprintf(stderr, "danqing user: unknown sub-command '%s'\n", sub);
        usage(stderr);
        return 2;
    }
    int role = -1;
    if (strcmp(sub, "add") == 0 || strcmp(sub, "role") == 0) {
        const char *r = strcmp(sub, "role") == 0 ? argv[3] : role_s;
        role = r ? dq_catalog_role_parse(r) : -1;
        if (role < 0) {
            fprintf(stderr,
                    "danqing user %s: --role must be viewer, educator, conservator, "
                    "curator or admin\n",
                    sub);
            return 2;
        }
    }
    long ttl_days = 90;
    if (ttl_s) {
        char *end = NULL;
        ttl_days = strtol(ttl_s, &end, 10);
        if (!*ttl_s || *end || ttl_days < 0 || ttl_days > 36500) {
            fprintf(stderr, "danqing user token: --ttl-days must be 0..36500\n");
            return 2;
        }
    }

    dq_err_t err = {0};
    const dq_actor_t cli = {.user = "cli", .role = DQ_ROLE_ADMIN};
    char pw[1100] = "";
    char token[DQ_TOKEN_MAX] = "";
    int generated = 0, status = 1;
    dq_catalog_t *cat = dq_catalog_open(dq_config_catalog(cfg), &err);
    if (!cat)
        goto out;
    if (strcmp(sub, "list") == 0) {
        if (dq_catalog_user_list(cat, print_user, NULL, &err) < 0)
            goto out;
    } else if (strcmp(sub, "add") == 0) {
        if (get_password(pw_given, pw, sizeof(pw), &generated) < 0) {
            snprintf(err.msg, sizeof(err.msg), "no password given");
            goto out;
        }
        if (dq_catalog_user_add(cat, name, role, pw, &cli, &err) < 0)
            goto out;
        printf("added %s (%s)\n", name, dq_catalog_role_name(role));
        if (generated)
            printf("one-time password: %s\n", pw);
    } else if (strcmp(sub, "passwd") == 0) {
        if (get_password(pw_given, pw, sizeof(pw), &generated) < 0) {
            snprintf(err.msg, sizeof(err.msg), "no password given");
            goto out;
        }
        if (dq_catalog_user_set_password(cat, name, pw, &cli, &err) < 0)
            goto out;
        printf("password of %s changed; its sessions and tokens are revoked\n", name);
        if (generated)
            printf("one-time password: %s\n", pw);
    } else if (strcmp(sub, "role") == 0) {
        if (dq_catalog_user_set_role(cat, name, role, &cli, &err) < 0)
            goto out;
        printf("%s is now %s\n", name, dq_catalog_role_name(role));
    } else if (strcmp(sub, "del") == 0) {
        if (dq_catalog_user_delete(cat, name, &cli, &err) < 0)
            goto out;
        printf("deleted %s\n", name);
    } else if (strcmp(sub, "token") == 0) {
        if (dq_catalog_token_create(cat, name, (int64_t)ttl_days * 86400, &cli, token, &err) < 0)
            goto out;
        /* The token alone on stdout, so that `T=$(danqing user token x)` works; the rest on
         * stderr. */
        printf("%s\n", token);
        if (ttl_days)
            fprintf(stderr, "API token for %s, valid %ld days; shown once\n", name, ttl_days);
        else
            fprintf(stderr, "API token for %s, valid until revoked; shown once\n", name);
    } else if (strcmp(sub, "revoke") == 0) {
        if (dq_catalog_user_revoke(cat, name, &cli, &err) < 0)
            goto out;
        printf("sessions and tokens of %s revoked\n", name);
    }
    status = 0;
out:
    if (status)
        fprintf(stderr, "danqing user %s: %s\n", sub, err.msg);
    memset(pw, 0, sizeof(pw));
    memset(token, 0, sizeof(token));
    dq_catalog_close(cat);
    return status;
}
