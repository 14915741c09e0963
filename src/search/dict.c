/*
 * search/dict.c: the user dictionary of artist and title names. Each name is stored under up
 * to four keys, so that a query can name it in any of the ways people type it: 'H' the
 * normalised characters (张择端), 'P' the toneless pinyin run together (zhangzeduan), 'I' the
 * initials (zzd) and 'L' the Latin words (zhang zeduan). The query builder (query.c) uses it
 * to split a Han run at names and to say which whole-name phrases deserve a rank bonus.
 * The index never sees the dictionary: adding a name needs no re-indexing.
 * Locking: one rwlock per dictionary guards every field below it; queries read, adds write.
 */
#include "search/search_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *han;   /* normalised Han name, or NULL */
    char *py;    /* its syllables separated by spaces ("zhang ze duan"), or NULL */
    char *latin; /* folded Latin words joined by one space, or NULL */
} entry_t;

typedef struct {
    char *key; /* kind byte + key text; owned */
    size_t key_len;
    int idx;
} slot_t;

struct dq_dict {
    pthread_rwlock_t lock; /* guards everything below */
    entry_t *e;
    size_t n, cap;
    slot_t *slots; /* open addressing, linear probing, power-of-two size, at most half full */
    size_t n_slots, used;
    size_t max_han; /* longest 'H' key in characters */
};

struct dq_dict *dict_new(void)
{
    struct dq_dict *d = dq_xcalloc(1, sizeof(*d));
    DQ_ASSERT(pthread_rwlock_init(&d->lock, NULL) == 0);
    d->n_slots = 64;
    d->slots = dq_xcalloc(d->n_slots, sizeof(*d->slots));
    return d;
}

void dict_free(struct dq_dict *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n; i++) {
        free(d->e[i].han);
        free(d->e[i].py);
        free(d->e[i].latin);
    }
    for (size_t i = 0; i < d->n_slots; i++)
        free(d->slots[i].key);
    free(d->e);
    free(d->slots);
    pthread_rwlock_destroy(&d->lock);
    free(d);
}

size_t dict_count(const dq_search_t *s)
{
    dict_rdlock(s);
    size_t n = s->dict->n;
    dict_unlock(s);
    return n;
}

void dict_rdlock(const dq_search_t *s)
{
    DQ_ASSERT(pthread_rwlock_rdlock(&s->dict->lock) == 0);
}

void dict_unlock(const dq_search_t *s)
{
    DQ_ASSERT(pthread_rwlock_unlock(&s->dict->lock) == 0);
}

static size_t slot_find(const struct dq_dict *d, const char *key, size_t len)
{
    size_t m = d->n_slots - 1, h = (size_t)dq_hash64(key, len) & m;
    while (d->slots[h].key &&
           (d->slots[h].key_len != len || memcmp(d->slots[h].key, key, len) != 0))
        h = (h + 1) & m;
    return h;
}

int dict_find(const dq_search_t *s, char kind, const char *key, size_t len)
{
    char buf[DQ_SEARCH_QUERY_MAX_BYTES + 2];
    if (len + 1 > sizeof(buf))
        return -1;
    buf[0] = kind;
    memcpy(buf + 1, key, len);
    const struct dq_dict *d = s->dict;
    size_t h = slot_find(d, buf, len + 1);
    return d->slots[h].key ? d->slots[h].idx : -1;
}

size_t dict_max_han(const dq_search_t *s)
{
    return s->dict->max_han;
}

/* Adds key -> idx unless the key is taken (the first name keeps it). Returns 1 when added. */
static int slot_add(struct dq_dict *d, char kind, const char *key, size_t len, int idx)
{
    if (len == 0)
        return 0;
    if ((d->used + 1) * 2 > d->n_slots) {
        slot_t *old = d->slots;
        size_t n_old = d->n_slots;
        d->n_slots *= 2;
        d->slots = dq_xcalloc(d->n_slots, sizeof(*d->slots));
        for (size_t i = 0; i < n_old; i++)
            if (old[i].key)
                d->slots[slot_find(d, old[i].key, old[i].key_len)] = old[i];
        free(old);
    }
    char *k = dq_xmalloc(len + 2);
    k[0] = kind;
    memcpy(k + 1, key, len);
    k[len + 1] = '\0';
    size_t h = slot_find(d, k, len + 1);
    if (d->slots[h].key) {
        free(k);
        return 0;
    }
    d->slots[h] = (slot_t){k, len + 1, idx};
    d->used++;
    return 1;
}

int dq_search_dict_add(dq_search_t *s, const char *name, dq_err_t *err)
{
    int rc = -1;
    dq_buf_t norm = {0}, han = {0}, py = {0}, pyc = {0}, ini = {0}, latin = {0};
    if (!name || strlen(name) > DQ_SEARCH_QUERY_MAX_BYTES) {
        dq_err_set(err, DQ_EINVAL, 400, "search: dictionary name missing or too long");
        goto out;
    }
    dq_search_normalize(s, name, strlen(name), &norm);
    const unsigned char *u = (const unsigned char *)norm.data;
    size_t i = 0, n_han = 0;
    int all_read = 1, in_word = 0;
    while (i < norm.len) {
        size_t at = i;
        uint32_t cp = utf8_next(u, norm.len, &i);
        int cls = char_class(cp);
        if (cls == CC_HAN || cls == CC_CJK) {
            dq_buf_append(&han, norm.data + at, i - at);
            n_han++;
            const cp_info_t *e = cp_info(s->tab, cp);
            if (cls != CC_HAN || !e->py[0]) {
                all_read = 0;
                continue;
            }
            const char *syl = s->tab->syl[e->py[0]] + 1;
            if (py.len)
                dq_buf_putc(&py, ' ');
            dq_buf_puts(&py, syl);
            dq_buf_puts(&pyc, syl);
            dq_buf_putc(&ini, syl[0]);
            in_word = 0;
        } else if (cls == CC_WORD) {
            if (!in_word && latin.len)
                dq_buf_putc(&latin, ' ');
            dq_buf_append(&latin, norm.data + at, i - at);
            in_word = 1;
        } else if (cls != CC_MARK) {
            in_word = 0;
        }
    }
    if (n_han > DQ_SEARCH_QUERY_MAX_HAN || (n_han == 0 && latin.len == 0)) {
        dq_err_set(err, DQ_EINVAL, 400, "search: dictionary name \"%.64s\" has %s", name,
                   n_han ? "too many characters" : "no searchable text");
        goto out;
    }
    if (!all_read || n_han < 2)
        dq_buf_reset(&py), dq_buf_reset(&pyc), dq_buf_reset(&ini);

    struct dq_dict *d = s->dict;
    DQ_ASSERT(pthread_rwlock_wrlock(&d->lock) == 0);
    int idx = (int)d->n, added = 0;
    added += slot_add(d, 'H', han.data, han.len, idx);
    added += slot_add(d, 'P', pyc.data, pyc.len, idx);
    added += slot_add(d, 'I', ini.data, ini.len, idx);
    added += slot_add(d, 'L', latin.data, latin.len, idx);
    if (added) {
        if (d->n == d->cap) {
            d->cap = d->cap ? d->cap * 2 : 16;
            d->e = dq_xrealloc(d->e, d->cap * sizeof(*d->e));
        }
        d->e[d->n++] = (entry_t){han.len ? dq_buf_steal(&han, NULL) : NULL,
                                 py.len ? dq_buf_steal(&py, NULL) : NULL,
                                 latin.len ? dq_buf_steal(&latin, NULL) : NULL};
        d->max_han = DQ_MAX(d->max_han, n_han);
    }
    DQ_ASSERT(pthread_rwlock_unlock(&d->lock) == 0);
    rc = 0;
out:
    dq_buf_free(&norm);
    dq_buf_free(&han);
    dq_buf_free(&py);
    dq_buf_free(&pyc);
    dq_buf_free(&ini);
    dq_buf_free(&latin);
    return rc;
}

void dict_boost(const dq_search_t *s, int idx, dq_search_plan_t *p)
{
    const entry_t *e = &s->dict->e[idx];
    if (e->han)
        plan_add(p, DQ_SEARCH_PHRASE_TEXT, -1, e->han, strlen(e->han));
    if (e->py)
        plan_add(p, DQ_SEARCH_PHRASE_PINYIN, -1, e->py, strlen(e->py));
    if (e->latin)
        plan_add(p, DQ_SEARCH_PHRASE_TEXT, -1, e->latin, strlen(e->latin));
}
