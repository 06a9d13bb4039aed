/*
 * fuzz_json.c - libFuzzer target for the streaming JSON reader.
 *
 * Each input is read three ways, because each takes a different path through
 * the reader: from memory as one document, from an in-memory file as JSON
 * Lines (multi mode), both value by value into an arena reset per value, and
 * as a bare token stream with peeks and skips. Configure with
 * -DFA_SOURCE_BUF=16 in CFLAGS so that tokens cross the file window. Every
 * string handed out is touched so the sanitizers see it.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "fuzz_util.h"

static size_t touch(const fa_json_value *v) {
    size_t n = v->line + v->col;
    switch (v->type) {
    case FA_JSON_STRING: return n + strlen(v->u.str.ptr) + v->u.str.len;
    case FA_JSON_ARRAY:
        for (size_t i = 0; i < v->u.arr.n; i++) n += touch(v->u.arr.items[i]);
        return n;
    case FA_JSON_OBJECT:
        for (size_t i = 0; i < v->u.obj.n; i++) n += strlen(v->u.obj.keys[i]) + touch(v->u.obj.vals[i]);
        if (v->u.obj.n) {
            const char *s;
            double d;
            int64_t k;
            fa_json_opt_str(NULL, v, v->u.obj.keys[0], &s);
            fa_json_opt_num(NULL, v, v->u.obj.keys[0], &d);
            fa_json_opt_int(NULL, v, v->u.obj.keys[0], -5, 5, &k);
        }
        return n;
    default: return n;
    }
}

static void read_values(fa_json_reader *r, fa_arena *a) {
    if (!r) return;
    fa_json_value *v;
    volatile size_t sink = 0;
    while (fa_json_read_value(r, a, &v) == 0 && v) {
        sink += touch(v);
        fa_buf b = {0};
        if (v->type == FA_JSON_STRING) fa_json_write_str(&b, v->u.str.ptr);
        if (v->type == FA_JSON_NUMBER) fa_json_write_num(&b, v->u.num);
        fa_buf_free(&b);
        fa_arena_reset(a);
    }
    (void)sink;
    fa_json_close(r);
}

static void read_tokens(const uint8_t *data, size_t size) {
    fa_json_reader *r = fa_json_open_mem("fuzz.json", (const char *)data, size, 1);
    if (!r) return;
    fa_json_token t;
    fa_json_tok_type type;
    volatile size_t sink = 0;
    for (int i = 0; i < 100000; i++) {
        if (fa_json_peek(r, &type)) break;
        if (type == FA_JSON_TOK_BEGIN_ARRAY && (i & 1)) {
            if (fa_json_skip_value(r)) break;
            continue;
        }
        if (fa_json_next(r, &t) || t.type == FA_JSON_TOK_EOF) break;
        if (t.str) sink += strlen(t.str) + t.len;
    }
    (void)sink;
    fa_json_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fa_arena *a = fa_arena_new(4096);
    if (!a) return 0;
    read_values(fa_json_open_mem("fuzz.json", (const char *)data, size, 0), a);
    const char *path = fuzz_memfile(0, data, size);
    if (path) read_values(fa_json_open_file(path, 1), a);
    read_tokens(data, size);
    fa_arena_free(a);
    return 0;
}
