/* Unit tests of the login throttle (throttle.c) on a clock the test drives: free failures,
 * growing lockouts, account and address limits apart, attempts in flight, forgetting, the
 * bound on entries under a flood (and that a flood cannot evict a live lockout), and the
 * password-check slots. */
#include "../../../src/http/throttle.c"
#include "../../dq_test.h"

#include <pthread.h>

/* One whole attempt at time now: the wait (ms) begin answered, else 0 after recording outcome. */
static int64_t attempt(dq_throttle_t *t, const char *user, const char *addr, int outcome,
                       int64_t now)
{
    int64_t w = dq_throttle_begin(t, user, addr, now);
    if (w == 0)
        dq_throttle_end(t, user, addr, outcome, now);
    return w;
}

DQ_TEST(account_locks_after_five_failures_and_the_lock_doubles)
{
    dq_throttle_t *t = dq_throttle_new(64, 1);
    int64_t now = 1000000;
    for (int i = 0; i < 5; i++)
        DQ_CHECK_INT(attempt(t, "alice", "10.0.0.1", DQ_THROTTLE_FAILED, now), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "10.0.0.1", now), 1000);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "10.0.0.2", now + 400), 600); /* any address */
    DQ_CHECK_INT(dq_throttle_begin(t, "Alice", "10.0.0.2", now), 1000);      /* folded */
    DQ_CHECK_INT(attempt(t, "bob", "10.0.0.1", DQ_THROTTLE_SUCCEEDED, now), 0);
    now += 1000;
    DQ_CHECK_INT(attempt(t, "alice", "10.0.0.1", DQ_THROTTLE_FAILED, now), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "10.0.0.1", now), 2000);
    now += 2000;
    DQ_CHECK_INT(attempt(t, "alice", "10.0.0.1", DQ_THROTTLE_FAILED, now), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "10.0.0.1", now), 4000);
    /* a success after the lock clears the account */
    now += 4000;
    DQ_CHECK_INT(attempt(t, "alice", "10.0.0.1", DQ_THROTTLE_SUCCEEDED, now), 0);
    DQ_CHECK_INT(attempt(t, "alice", "10.0.0.1", DQ_THROTTLE_FAILED, now), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "10.0.0.1", now), 0);
    dq_throttle_end(t, "alice", "10.0.0.1", DQ_THROTTLE_NOT_CHECKED, now);
    dq_throttle_free(t);
}

DQ_TEST(lockout_is_capped_and_forgotten_after_quiet_time)
{
    dq_throttle_t *t = dq_throttle_new(64, 1);
    int64_t now = 0;
    for (int i = 0; i < 40; i++) {
        int64_t w = dq_throttle_begin(t, "alice", "a", now);
        if (w) {
            now += w;
            i--;
            continue;
        }
        dq_throttle_end(t, "alice", "a", DQ_THROTTLE_FAILED, now);
    }
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "a", now), MAX_MS);
    now += MAX_MS + FORGET_MS;
    DQ_CHECK_INT(attempt(t, "alice", "a", DQ_THROTTLE_FAILED, now), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "a", now), 0); /* started over: 1 failure */
    dq_throttle_free(t);
}

DQ_TEST(address_limit_counts_every_account_and_spares_other_addresses)
{
    dq_throttle_t *t = dq_throttle_new(256, 1);
    char name[32];
    for (int i = 0; i < ADDRESS_FREE; i++) {
        snprintf(name, sizeof(name), "guess%d", i);
        DQ_CHECK_INT(attempt(t, name, "10.0.0.9", DQ_THROTTLE_FAILED, 0), 0);
    }
    DQ_CHECK_INT(dq_throttle_begin(t, "bob", "10.0.0.9", 0), BASE_MS);
    DQ_CHECK_INT(attempt(t, "bob", "10.0.0.8", DQ_THROTTLE_SUCCEEDED, 0), 0);
    /* a success does not clear the address (one valid account would reset it) */
    DQ_CHECK_INT(attempt(t, "bob", "10.0.0.9", DQ_THROTTLE_SUCCEEDED, BASE_MS), 0);
    DQ_CHECK_INT(attempt(t, "carol", "10.0.0.9", DQ_THROTTLE_FAILED, BASE_MS), 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "dave", "10.0.0.9", BASE_MS), 2 * BASE_MS);
    dq_throttle_free(t);
}

DQ_TEST(attempts_in_flight_count_so_parallel_guesses_cannot_pass_the_free_ones)
{
    dq_throttle_t *t = dq_throttle_new(64, 8);
    for (int i = 0; i < 5; i++)
        DQ_CHECK_INT(dq_throttle_begin(t, "alice", "a", 0), 0);
    DQ_CHECK(dq_throttle_begin(t, "alice", "a", 0) > 0);
    for (int i = 0; i < 5; i++)
        dq_throttle_end(t, "alice", "a", DQ_THROTTLE_FAILED, 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "alice", "a", 0), BASE_MS);
    /* not checked (no slot) counts for nothing */
    DQ_CHECK_INT(dq_throttle_begin(t, "bob", "b", 0), 0);
    dq_throttle_end(t, "bob", "b", DQ_THROTTLE_NOT_CHECKED, 0);
    DQ_CHECK_INT(dq_throttle_begin(t, "bob", "b", 0), 0);
    dq_throttle_end(t, "bob", "b", DQ_THROTTLE_NOT_CHECKED, 0);
    dq_throttle_free(t);
}

DQ_TEST(a_flood_of_names_stays_bounded_and_cannot_evict_a_live_lockout)
{
    dq_throttle_t *t = dq_throttle_new(128, 1);
    for (int i = 0; i < 5; i++)
        attempt(t, "alice", "x", DQ_THROTTLE_FAILED, 0);
    DQ_CHECK(dq_throttle_begin(t, "alice", "y", 1) > 0);
    char name[32], addr[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        snprintf(addr, sizeof(addr), "10.%d.%d.%d", i >> 16, (i >> 8) & 255, i & 255);
        attempt(t, name, addr, DQ_THROTTLE_FAILED, 10);
    }
    DQ_CHECK(dq_throttle_count(t) <= 128);
    /* alice's lock (until 1000) outlives entries last seen at 10 with no lock */
    DQ_CHECK(dq_throttle_begin(t, "alice", "z", 20) > 0);
    /* hostile text in a name stays within the key */
    char big[4096];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    DQ_CHECK_INT(attempt(t, big, big, DQ_THROTTLE_FAILED, 30), 0);
    DQ_CHECK_INT(attempt(t, NULL, "", DQ_THROTTLE_FAILED, 30), 0);
    dq_throttle_free(t);
}

typedef struct {
    dq_throttle_t *t;
    _Atomic int *inside, *most;
    int got;
} slot_arg_t;

static void *slot_worker(void *p)
{
    slot_arg_t *a = p;
    for (int i = 0; i < 2000; i++) {
        if (!dq_throttle_hash_acquire(a->t))
            continue;
        a->got++;
        int n = atomic_fetch_add(a->inside, 1) + 1;
        int m = atomic_load(a->most);
        while (n > m && !atomic_compare_exchange_weak(a->most, &m, n))
            ;
        atomic_fetch_sub(a->inside, 1);
        dq_throttle_hash_release(a->t);
    }
    return NULL;
}

DQ_TEST(password_check_slots_never_exceed_the_bound)
{
    dq_throttle_t *t = dq_throttle_new(16, 2);
    DQ_CHECK(dq_throttle_hash_acquire(t));
    DQ_CHECK(dq_throttle_hash_acquire(t));
    DQ_CHECK(!dq_throttle_hash_acquire(t));
    dq_throttle_hash_release(t);
    DQ_CHECK(dq_throttle_hash_acquire(t));
    dq_throttle_hash_release(t);
    dq_throttle_hash_release(t);
    _Atomic int inside = 0, most = 0;
    pthread_t th[8];
    slot_arg_t args[8];
    for (int i = 0; i < 8; i++) {
        args[i] = (slot_arg_t){t, &inside, &most, 0};
        pthread_create(&th[i], NULL, slot_worker, &args[i]);
    }
    int got = 0;
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        got += args[i].got;
    }
    DQ_CHECK(atomic_load(&most) <= 2);
    DQ_CHECK(got > 0);
    DQ_CHECK_INT(atomic_load(&t->hashing), 0);
    dq_throttle_free(t);
}
