/*
 * dq_test.h: the in-house test runner. DQ_TEST(name) registers a test at load time; main()
 * (defined here, so a test file is a whole program) runs each test in a forked child, so that
 * a crash or a sanitizer abort fails one test and not the file. DQ_CHECK reports file:line and
 * keeps going; DQ_REQUIRE stops the test. The last line is "N passed, N failed".
 * Usage: ./test_x [substring]   runs only tests whose name contains substring.
 */
#ifndef DQ_TEST_H
#define DQ_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef void (*dq_test_fn)(void);
struct dq_test_entry {
    const char *name;
    dq_test_fn fn;
};
static struct dq_test_entry dq_tests_[512];
static int dq_n_tests_;
static int dq_test_failures_; /* per child process */

/* The parameter is not called `name`: that would also rewrite the `.name` field below. */
#define DQ_TEST(tname)                                                                             \
    static void dq_test_##tname(void);                                                            \
    __attribute__((constructor)) static void dq_register_##tname(void)                             \
    {                                                                                              \
        dq_tests_[dq_n_tests_].name = #tname;                                                      \
        dq_tests_[dq_n_tests_++].fn = dq_test_##tname;                                             \
    }                                                                                              \
    static void dq_test_##tname(void)

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
            exit(1);                                                                               \
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
            fprintf(stderr, "    FAIL %s:%d: %s == %s (%lld vs %lld)\n", __FILE__, __LINE__, #a,  \
                    #b, dq_a_, dq_b_);                                                             \
            dq_test_failures_++;                                                                   \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    int passed = 0, failed = 0;
    const char *filter = argc > 1 ? argv[1] : NULL;
    for (int i = 0; i < dq_n_tests_; i++) {
        if (filter && !strstr(dq_tests_[i].name, filter))
            continue;
        fflush(stdout);
        fflush(stderr);
        pid_t pid = fork();
        if (pid == 0) {
            dq_tests_[i].fn();
            fflush(stdout);
            fflush(stderr);
            _exit(dq_test_failures_ ? 1 : 0);
        }
        int status = 0;
        waitpid(pid, &status, 0);
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            passed++;
            printf("  ok   %s\n", dq_tests_[i].name);
        } else {
            failed++;
            if (WIFSIGNALED(status))
                printf("  FAIL %s (signal %d)\n", dq_tests_[i].name, WTERMSIG(status));
            else
                printf("  FAIL %s\n", dq_tests_[i].name);
        }
    }
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

#endif
