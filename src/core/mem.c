/*
 * mem.c - allocation wrappers and the arena.
 *
 * The arena is a list of blocks handed out by bumping a pointer. Parsers
 * materialise one record at a time into it and reset it between records, so
 * an import of any size runs in the memory of its largest record.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"

void *fa_malloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) fa_err_set(FA_ENOMEM, "out of memory allocating %zu bytes", n);
    return p;
}

void *fa_calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) fa_err_set(FA_ENOMEM, "out of memory allocating %zu x %zu bytes", n, size);
    return p;
}

void *fa_realloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) fa_err_set(FA_ENOMEM, "out of memory reallocating %zu bytes", n);
    return q;
}

int fa_grow(void *arrp, size_t *cap, size_t need, size_t elem) {
    if (*cap >= need) return 0;
    size_t c = *cap ? *cap : 16;
    while (c < need) {
        if (c > SIZE_MAX / 2) return fa_err_set(FA_ENOMEM, "out of memory: %zu elements", need);
        c *= 2;
    }
    if (elem && c > SIZE_MAX / elem) return fa_err_set(FA_ENOMEM, "out of memory: %zu x %zu bytes", c, elem);
    void **p = arrp;
    void *q = fa_realloc(*p, c * elem);
    if (!q) return FA_ENOMEM;
    *p = q;
    *cap = c;
    return 0;
}

char *fa_strdup(const char *s) {
    size_t n = strlen(s) + 1;
    char *d = fa_malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

typedef struct arena_block {
    struct arena_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
} arena_block;

struct fa_arena {
    arena_block *head; /* current block; older blocks follow */
    size_t block_size;
    size_t handed_out;
};

static arena_block *block_new(size_t size) {
    arena_block *b = fa_malloc(sizeof *b + size);
    if (!b) return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

fa_arena *fa_arena_new(size_t block_size) {
    fa_arena *a = fa_calloc(1, sizeof *a);
    if (!a) return NULL;
    a->block_size = block_size ? block_size : 64 * 1024;
    a->head = block_new(a->block_size);
    if (!a->head) {
        free(a);
        return NULL;
    }
    return a;
}

void *fa_arena_alloc(fa_arena *a, size_t n) {
    size_t need = (n + 15) & ~(size_t)15;
    if (need < n) return fa_err_set(FA_ENOMEM, "arena request of %zu bytes overflows", n), NULL;
    if (a->head->used + need > a->head->size) {
        size_t size = need > a->block_size ? need : a->block_size;
        arena_block *b = block_new(size);
        if (!b) return NULL;
        b->next = a->head;
        a->head = b;
    }
    void *p = a->head->data + a->head->used;
    a->head->used += need;
    a->handed_out += need;
    return p;
}

char *fa_arena_strndup(fa_arena *a, const char *s, size_t n) {
    char *d = fa_arena_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void fa_arena_reset(fa_arena *a) {
    /* Keep the oldest block (the regular-sized one); drop the rest. */
    arena_block *b = a->head;
    while (b->next) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    b->used = 0;
    a->head = b;
    a->handed_out = 0;
}

size_t fa_arena_bytes(const fa_arena *a) { return a->handed_out; }

void fa_arena_free(fa_arena *a) {
    if (!a) return;
    arena_block *b = a->head;
    while (b) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}
