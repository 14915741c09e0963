/*
 * dq_test.h: the in-house test runner. DQ_TEST(name) registers a test at load time; main()
 * (defined here, so a test file is a whole program) runs each test in a forked child, so that
 * a crash or a sanitizer abort fails one test and not the file. DQ_CHECK reports file:line and
 * keeps going; DQ_REQUIRE stops the test. The last line is "N passed, N failed".
 * Usage: ./test_x [substring]   runs only tests whose name contains substring.
 *
 * What a child leaves behind is the runner's to clean, whatever way the test ends:
 * - leaks: under AddressSanitizer the child runs LeakSanitizer after the test returns, and a
 *   leak fails the test (tests/lsan.supp may name third-party caches only);
 * - files: each child gets its own empty $TMPDIR (dq_test_tmpdir() makes folders in it),
 *   removed after the child ends, also when it crashed or failed a DQ_REQUIRE; all of them sit
 *   in one folder per program under the caller's $TMPDIR, removed at the end and on
 *   SIGINT/SIGTERM/SIGHUP;
 * - processes: each child leads its own process group, killed when the child ends, so a
 *   server a failing test started does not outlive it.
 * DQ_VICTIM(name) registers a test that is expected to fail: it runs only when its exact name
 * is the argument, and tests/unit/core/test_dq_test.c checks that the runner reports it.
 */
#ifndef DQ_TEST_H
#define DQ_TEST_H

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#define DQ_TEST_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define DQ_TEST_LSAN 1
#endif
#endif
#ifdef DQ_TEST_LSAN
#include <sanitizer/lsan_interface.h>
#endif

typedef void (*dq_test_fn)(void);
struct dq_test_entry {
    const char *name;
    dq_test_fn fn;
    int victim; /* DQ_VICTIM: runs only when named exactly */
};
static struct dq_test_entry dq_tests_[512];
static int dq_n_tests_;
static int dq_test_failures_; /* per child process */

/* The parameter is not called `name`: that would also rewrite the `.name` field below. */
#define DQ_TEST_REGISTER_(tname, is_victim)                                                        \
    static void dq_test_##tname(void);                                                             \
    __attribute__((constructor)) static void dq_register_##tname(void)                             \
    {                                                                                              \
        dq_tests_[dq_n_tests_].name = #tname;                                                      \
        dq_tests_[dq_n_tests_].victim = is_victim;                                                 \
        dq_tests_[dq_n_tests_++].fn = dq_test_##tname;                                             \
    }                                                                                              \
    static void dq_test_##tname(void)
#define DQ_TEST(tname) DQ_TEST_REGISTER_(tname, 0)
#define DQ_VICTIM(tname) DQ_TEST_REGISTER_(tname, 1)

#define DQ_CHECK(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);                    \
            dq_test_failures_++;                                                                   \
        }                                                                                          \
    } while (0)

#define DQ_REQUIRE(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "    FAIL %s:%d: %s (required)\n", __FILE__, __LINE__, #cond);         \
            fflush(NULL);                                                                          \
            _exit(1); /* no leak report for what the abandoned test still holds */                 \
        }                                                                                          \
    } while (0)

#define DQ_CHECK_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *dq_a_ = (a), *dq_b_ = (b);                                                     \
        if (!dq_a_ || !dq_b_ || strcmp(dq_a_, dq_b_) != 0) {                                       \
            fprintf(stderr, "    FAIL %s:%d: %s == %s (\"%s\" vs \"%s\")\n", __FILE__, __LINE__,   \
                    #a, #b, dq_a_ ? dq_a_ : "(null)", dq_b_ ? dq_b_ : "(null)");                   \
            dq_test_failures_++;                                                                   \
        }                                                                                          \
    } while (0)

#define DQ_CHECK_INT(a, b)                                                                         \
    do {                                                                                           \
        long long dq_a_ = (long long)(a), dq_b_ = (long long)(b);                                  \
        if (dq_a_ != dq_b_) {                                                                      \
            fprintf(stderr, "    FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a,   \
                    #b, dq_a_, dq_b_);                                                             \
            dq_test_failures_++;                                                                   \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- temporary files */

static char dq_test_root_[1024];             /* this program's folder under the caller's $TMPDIR */
static volatile sig_atomic_t dq_test_child_; /* pid (and process group) of the running test */
static volatile sig_atomic_t dq_test_stop_;  /* the signal that interrupted the run, or 0 */

/* Removes path and everything under it (symlinks are removed, not followed). */
__attribute__((unused)) static void dq_test_rm_rf(const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) < 0)
        return;
    if (!S_ISDIR(sb.st_mode)) {
        unlink(path);
        return;
    }
    DIR *d = opendir(path);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        size_t n = strlen(path) + strlen(e->d_name) + 2;
        char *child = malloc(n);
        if (!child)
            abort();
        snprintf(child, n, "%s/%s", path, e->d_name);
        dq_test_rm_rf(child);
        free(child);
    }
    if (d)
        closedir(d);
    rmdir(path);
}

/* A new empty folder for the running test, under its private $TMPDIR (removed by the runner
 * when the test ends, however it ends). prefix names it for a human reading a failure.
 * Returns a new string, free with free(); a failure to create it stops the test. */
__attribute__((unused)) static char *dq_test_tmpdir(const char *prefix)
{
    const char *base = getenv("TMPDIR");
    size_t n = strlen(base && *base ? base : "/tmp") + strlen(prefix) + 16;
    char *d = malloc(n);
    if (!d)
        abort();
    snprintf(d, n, "%s/%s.XXXXXX", base && *base ? base : "/tmp", prefix);
    if (!mkdtemp(d)) {
        fprintf(stderr, "    FAIL cannot create a temporary folder %s: %s\n", d, strerror(errno));
        fflush(NULL);
        _exit(1);
    }
    return d;
}

static void dq_test_on_signal_(int sig)
{
    dq_test_stop_ = sig;
    if (dq_test_child_ > 0)
        kill(-(pid_t)dq_test_child_, SIGKILL);
}

/* Makes this program's folder: $TMPDIR/<program>.XXXXXX. */
static void dq_test_make_root_(const char *argv0)
{
    const char *base = getenv("TMPDIR"), *prog = strrchr(argv0, '/');
    prog = prog ? prog + 1 : argv0;
    snprintf(dq_test_root_, sizeof(dq_test_root_), "%s/%s.XXXXXX", base && *base ? base : "/tmp",
             prog);
    if (!mkdtemp(dq_test_root_)) {
        fprintf(stderr, "cannot create a temporary folder %s: %s\n", dq_test_root_,
                strerror(errno));
        exit(2);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = dq_test_on_signal_; /* no SA_RESTART: waitpid returns, the run stops */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* ---------------------------------------------------------------- the runner */

/* The forked child: a fresh $TMPDIR and process group, the test, then the leak check. */
static void dq_test_child_run_(const struct dq_test_entry *t, const char *dir)
{
    setpgid(0, 0);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    setenv("TMPDIR", dir, 1);
    t->fn();
    int leaked = 0;
#ifdef DQ_TEST_LSAN
    /* 0 when ASAN_OPTIONS has detect_leaks=0; the report itself goes to stderr */
    leaked = __lsan_do_recoverable_leak_check();
    if (leaked)
        fprintf(stderr, "    FAIL %s: memory leaked (LeakSanitizer report above)\n", t->name);
#endif
    fflush(NULL);
    _exit(dq_test_failures_ || leaked ? 1 : 0);
}

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    dq_test_make_root_(argv[0]);
    for (int i = 0; i < dq_n_tests_ && !dq_test_stop_; i++) {
        const struct dq_test_entry *t = &dq_tests_[i];
        if (t->victim ? !filter || strcmp(t->name, filter) != 0
                      : filter && !strstr(t->name, filter))
            continue;
        char dir[1200];
        snprintf(dir, sizeof(dir), "%s/%d", dq_test_root_, i);
        if (mkdir(dir, 0700) < 0) {
            fprintf(stderr, "cannot create %s: %s\n", dir, strerror(errno));
            failed++;
            break;
        }
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0)
            dq_test_child_run_(t, dir);
        int status = 0;
        if (pid > 0) {
            setpgid(pid, pid); /* also here: no window where a kill(-pid) misses */
            dq_test_child_ = pid;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            dq_test_child_ = 0;
            kill(-pid, SIGKILL); /* whatever the test started and left running */
        }
        dq_test_rm_rf(dir);
        int ok = pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            passed++;
            printf("  ok   %s\n", t->name);
        } else {
            failed++;
            if (pid < 0)
                printf("  FAIL %s (fork: %s)\n", t->name, strerror(errno));
            else if (WIFSIGNALED(status))
                printf("  FAIL %s (signal %d)\n", t->name, WTERMSIG(status));
            else
                printf("  FAIL %s\n", t->name);
        }
    }
    dq_test_rm_rf(dq_test_root_);
    if (dq_test_stop_) {
        printf("interrupted by signal %d\n", (int)dq_test_stop_);
        fflush(stdout);
        signal(dq_test_stop_, SIG_DFL);
        raise(dq_test_stop_);
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
