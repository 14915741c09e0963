/*
 * cmd_serve.c: `danqing serve`. Starts libvips and the HTTP server, prints the bound URL
 * (tests start it on port 0 and read the port from that line), then waits for SIGTERM or
 * SIGINT and shuts down gracefully: stop accepting, finish requests in flight, free. SIGHUP
 * reopens the --access-log file (logrotate) and goes on serving.
 */
#define _GNU_SOURCE
#include "cli.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "image/image.h"

/* The thread that waits for the stop and reopen signals. Set once before the handlers are
 * installed, read-only after (house style 18). */
static pthread_t signal_waiter;

/* Threads that libraries start before main() (OpenBLAS starts its pool in a constructor) do
 * not block the signals that the main thread waits for, and the kernel may hand a process
 * signal to any thread that does not block it: with the default action, a SIGHUP arriving
 * while main is not in sigwait ended the process. Such a thread now passes the signal on to
 * the waiter, where it stays pending until sigwait takes it. pthread_kill is
 * async-signal-safe. */
static void forward_signal(int sig)
{
    pthread_kill(signal_waiter, sig);
}

int dq_cmd_serve(dq_config_t *cfg, int argc, char **argv)
{
    if (dq_cli_wants_help(argc, argv)) {
        printf("usage: danqing serve [--listen HOST:PORT] [--data DIR] [--threads N] "
               "[--cache-mb N]\n\n"
               "Serves the data directory over HTTP: IIIF Image API 3.0 at /iiif/3/ and 2.1 at\n"
               "/iiif/2/, health at /health. Prints 'listening on http://HOST:PORT' once ready.\n"
               "SIGTERM or SIGINT stops it gracefully: /health answers 503 \"draining\" for --drain-ms,\n"
               "then new connections are refused and requests in flight finish. SIGHUP reopens the\n"
               "--access-log file (after logrotate renamed it).\n\n");
        dq_config_help(stdout);
        return 0;
    }
    if (argc > 1) {
        fprintf(stderr, "danqing serve: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    dq_err_t err = {0};
    /* Block the stop signals before any thread starts, so every thread inherits the mask and
     * only sigwait below receives them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal_waiter = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = forward_signal;
    sa.sa_flags = SA_RESTART;
    sigfillset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (dq_image_init("danqing", cfg->vips_cache_mb, 1, &err) < 0) {
        fprintf(stderr, "danqing serve: %s\n", err.msg);
        return 1;
    }
    dq_server_t *srv = dq_server_start(cfg, &err);
    if (!srv) {
        fprintf(stderr, "danqing serve: %s\n", err.msg);
        dq_image_shutdown();
        return 1;
    }
    char host[128];
    snprintf(host, sizeof(host), "%s", cfg->listen);
    char *colon = strrchr(host, ':');
    if (colon)
        *colon = '\0';
    printf("listening on http://%s:%d/\n", host, dq_server_port(srv));
    fflush(stdout);
    dq_log(DQ_LOG_INFO, "serve", "data=%s threads=%d cache_mb=%d", cfg->data_dir, cfg->threads,
           cfg->cache_mb);
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP) {
        dq_err_t herr = {0};
        if (dq_alog_reopen(srv->alog, &herr) < 0)
            dq_log(DQ_LOG_ERROR, "serve", "SIGHUP: %s", herr.msg);
        else
            dq_log(DQ_LOG_INFO, "serve", "SIGHUP: access log reopened");
    }
    dq_log(DQ_LOG_INFO, "serve", "signal %d: draining for %d ms, then shutting down", sig,
           cfg->drain_ms);
    dq_server_drain(srv, cfg->drain_ms);
    dq_server_stop(srv);
    dq_image_shutdown();
    return 0;
}
