/*
 * fuzz_l2_entry.c - libFuzzer target for the L2 entry codec (l2.h).
 *
 * Each input is decoded twice: as it is, and as a copy whose total-length
 * field and checksum trailer were rewritten to match, because random bytes
 * almost never carry a valid checksum and the structural checks behind it
 * would otherwise go unexplored. Whenever a decode succeeds, what the
 * decoder promises is checked (bounded, terminated, allowed text; at most
 * FA_CACHE_MAX_TAGS tags; precoded set; non-empty compressed variants) and
 * the fill is encoded again: the codec is canonical, so the new blob must
 * be byte for byte the input. A broken promise traps.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache/l2.h"
#include "fuzz_util.h"

static void check_text(const char *s, size_t cap, int allow_newline, int allow_space) {
    size_t n = strnlen(s, cap);
    fuzz_check(n < cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        int ok = (ch > 0x20 && ch < 0x7f) || (ch == ' ' && allow_space) ||
                 (allow_newline && (ch == '\n' || ch == '\t'));
        fuzz_check(ok);
    }
}

static void check_fill(const fa_cache_fill *f) {
    fuzz_check(f->precoded == 1 && f->ntags <= FA_CACHE_MAX_TAGS);
    check_text(f->content_type, sizeof f->content_type, 0, 1);
    check_text(f->headers, sizeof f->headers, 1, 1);
    for (size_t i = 0; i < f->ntags; i++) {
        check_text(f->tags[i], FA_CACHE_TAG_MAX, 0, 0);
        fuzz_check(f->tags[i][0] != '\0');
    }
    volatile size_t sink = 0;
    for (size_t i = 0; i < f->body.len; i++) sink += (unsigned char)f->body.data[i];
    for (int c = FA_CODING_GZIP; c < FA_CODING_COUNT; c++)
        if (f->coded[c].len) sink += (unsigned char)f->coded[c].data[f->coded[c].len - 1];
    (void)sink;
}

static void decode_and_check(const uint8_t *data, size_t size) {
    fa_cache_fill f;
    memset(&f, 0, sizeof f);
    uint64_t expires = 0;
    if (fa_l2_decode(data, size, "fuzz", &f, &expires) == 0) {
        check_fill(&f);
        fa_buf again = {0};
        fuzz_check(fa_l2_encode_fill(&f, expires, &again) == 0);
        fuzz_check(again.len == size && memcmp(again.data, data, size) == 0);
        fa_buf_free(&again);
    } else {
        fuzz_check(fa_err_code() < 0 && fa_err_msg()[0] != '\0');
    }
    fa_buf_free(&f.body);
    for (int c = 0; c < FA_CODING_COUNT; c++) fa_buf_free(&f.coded[c]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    decode_and_check(data, size);
    if (size < FA_L2_MIN_BLOB || size > FA_L2_MAX_BLOB) return 0;
    uint8_t *sealed = malloc(size);
    if (!sealed) return 0;
    memcpy(sealed, data, size);
    for (int i = 0; i < 4; i++) sealed[8 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint64_t sum = fa_l2_checksum(sealed, size - FA_L2_TRAILER_BYTES);
    for (int i = 0; i < 8; i++) sealed[size - FA_L2_TRAILER_BYTES + i] = (uint8_t)(sum >> (8 * i));
    decode_and_check(sealed, size);
    free(sealed);
    return 0;
}
