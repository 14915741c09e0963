/*
 * test_dq_test.c: the test runner tested (tests/dq_test.h and scripts/run-tests.sh), so that
 * the tests can be trusted to fail. The DQ_VICTIM tests below leak, fail a check, crash,
 * leave files and processes behind; each DQ_TEST runs this same program on one victim (as a
 * separate process, the way run-tests.sh runs a test program) and checks what the runner
 * reported and what it cleaned up. The last tests feed run-tests.sh programs that exit
 * non-zero after a passing summary or leave files in their temporary folder.
 */
#include "dq_test.h"

#include "core/core.h"

#include <dirent.h>
#include <sys/stat.h>

/* ---------------------------------------------------------------- the victims */

static void *volatile sink; /* the only reference to each block, overwritten: a leak */

DQ_VICTIM(victim_leak)
{
    for (int i = 0; i < 4; i++) {
        sink = malloc(100);
        memset(sink, i, 100);
    }
    sink = NULL;
}

DQ_VICTIM(victim_check)
{
    DQ_CHECK(1 + 1 == 3);
}

DQ_VICTIM(victim_crash)
{
    kill(getpid(), SIGKILL);
}

/* Prints its temporary folder, puts a file in it, then fails a DQ_REQUIRE. */
DQ_VICTIM(victim_leaves_files)
{
    char *d = dq_test_tmpdir("victim");
    char *f = dq_xasprintf("%s/big", d);
    FILE *fp = fopen(f, "w");
    DQ_REQUIRE(fp);
    fputs("data", fp);
    fclose(fp);
    printf("dir=%s\n", d);
    fflush(stdout);
    free(f);
    free(d);
    DQ_REQUIRE(!"stops here");
}

/* Starts a process that would run for ever and passes. */
DQ_VICTIM(victim_leaves_process)
{
    pid_t pid = fork();
    if (pid == 0) {
        for (;;)
            pause();
    }
    printf("pid=%d\n", (int)pid);
    fflush(stdout);
}

/* ---------------------------------------------------------------- running a victim */

typedef struct {
    int status; /* exit status, or 128 + signal */
    char *out;  /* stdout and stderr */
} ran_t;

/* Runs cmd (a shell command line) with its output in a file of this test's folder. */
static ran_t run(const char *cmd)
{
    char *dir = dq_test_tmpdir("out");
    char *file = dq_xasprintf("%s/out", dir);
    char *full = dq_xasprintf("%s > '%s' 2>&1", cmd, file);
    int st = system(full);
    ran_t r = {WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st), NULL};
    dq_buf_t b = {0};
    dq_err_t err = {0};
    DQ_CHECK(dq_fs_read_file(file, 1 << 20, &b, &err) == 0);
    r.out = b.data ? dq_buf_steal(&b, NULL) : dq_xstrdup("");
    dq_test_rm_rf(dir);
    free(full);
    free(file);
    free(dir);
    return r;
}

/* This program on one victim, with leak detection on whatever the caller's options were. */
static ran_t run_victim(const char *name)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    DQ_REQUIRE(n > 0);
    self[n] = '\0';
    const char *asan = getenv("ASAN_OPTIONS");
    char *cmd = dq_xasprintf("ASAN_OPTIONS='%s%sdetect_leaks=1' '%s' %s", asan ? asan : "",
                             asan && *asan ? ":" : "", self, name);
    ran_t r = run(cmd);
    free(cmd);
    return r;
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* ---------------------------------------------------------------- dq_test.h */

DQ_TEST(runner_fails_a_test_that_leaks)
{
#ifndef DQ_TEST_LSAN
    DQ_CHECK(!"test programs are built with -fsanitize=address (make SAN_FLAGS)");
#endif
    ran_t r = run_victim("victim_leak");
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "0 passed, 1 failed") != NULL);
    DQ_CHECK(strstr(r.out, "LeakSanitizer") != NULL);
    DQ_CHECK(strstr(r.out, "FAIL victim_leak: memory leaked") != NULL);
    free(r.out);
}

DQ_TEST(runner_fails_a_failed_check_and_a_crash)
{
    ran_t r = run_victim("victim_check");
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "FAIL tests/unit/core/test_dq_test.c") != NULL);
    DQ_CHECK(strstr(r.out, "0 passed, 1 failed") != NULL);
    free(r.out);
    r = run_victim("victim_crash");
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "FAIL victim_crash (signal 9)") != NULL);
    DQ_CHECK(strstr(r.out, "0 passed, 1 failed") != NULL);
    free(r.out);
}

DQ_TEST(runner_skips_victims_unless_named)
{
    ran_t r = run_victim("victim_"); /* a substring of every victim's name */
    DQ_CHECK_INT(r.status, 0);
    DQ_CHECK(strstr(r.out, "0 passed, 0 failed") != NULL);
    free(r.out);
}

DQ_TEST(runner_removes_the_files_of_a_failed_test)
{
    ran_t r = run_victim("victim_leaves_files");
    DQ_CHECK_INT(r.status, 1);
    const char *p = strstr(r.out, "dir=");
    DQ_REQUIRE(p);
    char *dir = dq_xstrndup(p + 4, strcspn(p + 4, "\n"));
    const char *tmp = getenv("TMPDIR");
    DQ_CHECK(tmp && strncmp(dir, tmp, strlen(tmp)) == 0); /* under the caller's TMPDIR */
    DQ_CHECK(!exists(dir));
    /* and the program's own folder is gone too: nothing is left in ours */
    DIR *d = opendir(tmp);
    DQ_REQUIRE(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    DQ_CHECK_INT(n, 0);
    free(dir);
    free(r.out);
}

/* A process is gone once it is reaped or a zombie waiting for init. */
static int gone(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *rp = strrchr(buf, ')'); /* "pid (comm) S ..." */
    return rp && rp[1] == ' ' && (rp[2] == 'Z' || rp[2] == 'X');
}

DQ_TEST(runner_kills_processes_a_test_left)
{
    ran_t r = run_victim("victim_leaves_process");
    DQ_CHECK_INT(r.status, 0);
    const char *p = strstr(r.out, "pid=");
    DQ_REQUIRE(p);
    pid_t pid = (pid_t)atoi(p + 4);
    DQ_REQUIRE(pid > 0);
    /* SIGKILL was sent before the runner printed its summary; the kernel finishes it soon.
     * Bounded polling, not a timing assertion: 10 s is far beyond any scheduling delay. */
    int dead = 0;
    for (int i = 0; i < 1000 && !(dead = gone(pid)); i++)
        usleep(10000);
    DQ_CHECK(dead);
    if (!dead)
        kill(pid, SIGKILL);
    free(r.out);
}

/* ---------------------------------------------------------------- scripts/run-tests.sh */

/* Writes an executable shell script into a new folder; returns its path (free()). */
static char *script(const char *body)
{
    char *dir = dq_test_tmpdir("prog");
    char *path = dq_xasprintf("%s/prog.sh", dir);
    FILE *f = fopen(path, "w");
    DQ_REQUIRE(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    DQ_REQUIRE(chmod(path, 0755) == 0);
    free(dir);
    return path;
}

static ran_t run_tests_sh(const char *program)
{
    const char *root = getenv("DQ_ROOT");
    char *cmd =
        dq_xasprintf("'%s/scripts/run-tests.sh' --program '%s'", root ? root : ".", program);
    ran_t r = run(cmd);
    free(cmd);
    return r;
}

DQ_TEST(run_tests_sh_counts_a_nonzero_exit_after_the_summary)
{
    char *ok = script("echo '  ok   a'; echo '1 passed, 0 failed'; exit 0");
    char *bad = script("echo '  ok   a'; echo '1 passed, 0 failed'; exit 23");
    ran_t r = run_tests_sh(ok);
    DQ_CHECK_INT(r.status, 0);
    DQ_CHECK(strstr(r.out, "\n1 passed, 0 failed\n") != NULL);
    free(r.out);
    r = run_tests_sh(bad);
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "exited with status 23 after its summary") != NULL);
    DQ_CHECK(strstr(r.out, "\n1 passed, 1 failed\n") != NULL);
    free(r.out);
    free(ok);
    free(bad);
}

DQ_TEST(run_tests_sh_fails_a_program_that_leaves_temporary_files)
{
    char *prog = script("mkdir \"$TMPDIR/left\"; echo '0 passed, 0 failed'");
    ran_t r = run_tests_sh(prog);
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "left files in its temporary folder") != NULL);
    free(r.out);
    free(prog);
}

DQ_TEST(run_tests_sh_fails_a_leaking_test_program)
{
    char self[1024];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    DQ_REQUIRE(n > 0);
    self[n] = '\0';
    char *prog = script("");
    FILE *f = fopen(prog, "a");
    DQ_REQUIRE(f);
    fprintf(f, "ASAN_OPTIONS=\"${ASAN_OPTIONS:-}:detect_leaks=1\" exec '%s' victim_leak\n", self);
    fclose(f);
    ran_t r = run_tests_sh(prog);
    DQ_CHECK_INT(r.status, 1);
    DQ_CHECK(strstr(r.out, "\n0 passed, 1 failed\n") != NULL);
    free(r.out);
    free(prog);
}
