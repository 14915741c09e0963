/*
 * spectral_lib.h: what the spectral unit tests share: the repository's pigment library sampled
 * at six bands of the sample collection's captures, and a library entry by name. Included by
 * one test file each (static functions: no link-time sharing).
 */
#ifndef DQ_TEST_SPECTRAL_LIB_H
#define DQ_TEST_SPECTRAL_LIB_H

#include <stdlib.h>
#include <string.h>

#include "dq_test.h"
#include "spectral/spectral.h"

static const double nm[6] = {450, 550, 650, 750, 850, 940};

static const char *root(void)
{
    const char *r = getenv("DQ_ROOT");
    return r ? r : ".";
}

/* The library at nm[] (DQ_ROOT/data-src/pigments); free with dq_spec_lib_free. */
static void load_lib(dq_spec_lib_t *lib)
{
    char *dir = dq_xasprintf("%s/data-src/pigments", root());
    dq_err_t err = {0};
    DQ_REQUIRE(dq_spec_lib_load(lib, dir, nm, 6, &err) == 0);
    free(dir);
}

/* The index of the entry called name (the test stops when it is missing). */
static int entry(const dq_spec_lib_t *lib, const char *name)
{
    for (int k = 0; k < lib->n_pig; k++)
        if (strcmp(lib->names[k], name) == 0)
            return k;
    DQ_REQUIRE(!"library entry missing");
    return -1;
}

#endif
