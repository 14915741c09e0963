/*
 * search/search.c: the life of a dq_search_t: load the tables (tables.c), open OpenCC
 * (variant.c), start the dictionary (dict.c), report statistics, free. The work itself is in
 * tokenize.c (index side) and query.c (query side).
 */
#include "search/search_internal.h"

#include <stdlib.h>

dq_search_t *dq_search_new(const dq_search_config_t *cfg, dq_err_t *err)
{
    dq_search_t *ret = NULL, *s = dq_xcalloc(1, sizeof(*s));
    int64_t t0 = dq_now_us();
    s->tab = dq_xcalloc(1, sizeof(*s->tab));
    s->dict = dict_new();
    /* OpenCC first: the table build asks it for its character map. */
    if (variant_open(cfg ? cfg->opencc_config : NULL, &s->cc, err) < 0)
        goto out;
    if (tables_load(s->tab, cfg, s->cc, &s->from_cache, err) < 0)
        goto out;
    s->load_us = dq_now_us() - t0;
    ret = s;
    s = NULL;
out:
    dq_search_free(s);
    return ret;
}

void dq_search_free(dq_search_t *s)
{
    if (!s)
        return;
    dict_free(s->dict);
    variant_close(s->cc);
    tables_free(s->tab);
    free(s->tab);
    free(s);
}

void dq_search_stats(const dq_search_t *s, dq_search_stats_t *st)
{
    st->load_us = s->load_us;
    st->from_cache = s->from_cache;
    st->n_readings = s->tab->n_readings;
    st->n_variants = s->tab->n_variants;
    st->n_syllables = s->tab->n_syl ? s->tab->n_syl - 1 : 0;
    st->n_pages = s->tab->n_pages;
    st->n_dict = dict_count(s);
    st->opencc = s->cc != NULL;
}
