/*
 * fuzz_calib.c - libFuzzer target for the calibration inputs a user types
 * or writes: the --points syntax and the calibration file (JSON). The
 * first byte picks which (even: --points, odd: file); the rest is the text.
 * Every refusal must say why; whatever loads must map points without
 * trouble (the solve validated it) and is dropped again.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "vision/calib.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] % 2 == 0) {
        char *spec = malloc(len + 1);
        if (!spec) return 0;
        memcpy(spec, text, len);
        spec[len] = '\0';
        fa_calib_point pts[FA_CALIB_MAX_POINTS];
        size_t n = 0;
        int rc = fa_calib_parse_points(spec, NULL, pts, FA_CALIB_MAX_POINTS, &n);
        if (rc && fa_err_msg()[0] == '\0') __builtin_trap();
        if (!rc && n >= 4) {
            fa_calib *c = malloc(sizeof *c);
            if (c && fa_calib_solve(pts, n, 3072, 1728, NULL, NULL, c) != 0 && fa_err_msg()[0] == '\0')
                __builtin_trap();
            free(c);
        }
        free(spec);
    } else {
        fa_calib *c = malloc(sizeof *c);
        if (!c) return 0;
        int rc = fa_calib_load_mem("fuzz.json", text, len, c);
        if (rc && fa_err_msg()[0] == '\0') __builtin_trap();
        if (!rc) {
            double x, y, u, v;
            fa_calib_image_to_pitch(c, c->img_w / 2.0, c->img_h * 0.9, &x, &y);
            fa_calib_pitch_to_image(c, 0, 0, &u, &v);
        }
        free(c);
    }
    fa_err_clear();
    return 0;
}
