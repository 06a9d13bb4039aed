/*
 * ladder.c - which renditions to encode: parsing --ladder and fitting the
 * source into each rung.
 *
 * Why boxes: a rung is named by the height of a 16:9 box (720 = 1280x720)
 * and the source is fitted into the box with its display aspect kept. A
 * 16:9 source gets the usual 1280x720 / 854x480 / 640x360; the 1280x338
 * panorama gets 1280x338 / 854x226 / 640x168 instead of one rung (its height
 * is under every class) or black bars (pixels spent on nothing).
 *
 * Why one display aspect: the dash muxer refuses an adaptation set whose
 * streams differ in picture aspect (width x SAR / height), and players only
 * switch quality inside one adaptation set. 480 lines of 16:9 are 853.33
 * pixels, so no even width is exactly 16:9 with square pixels; we encode
 * 854x480 and let the SAR (1280:1281, the value FFmpeg's scale filter
 * computes by default) carry the exact aspect, rather than 848x480 or
 * 856x480 that would change the aspect. Every rung therefore shows exactly
 * the source's display aspect and all rungs share one adaptation set.
 *
 * Bitrates are capped CRF: x264 keeps its constant-quality decisions but
 * never exceeds the rung's maxrate over a buffer of twice that (the
 * table is in transcode.h), so a player's bandwidth estimate holds.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "transcode.h"

static int even_round(double x) {
    int v = 2 * (int)(x / 2 + 0.5);
    return v < 2 ? 2 : v;
}

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static int cmp_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

static int parse_one(const char *tok, size_t len, int *out) {
    char buf[16];
    int64_t v;
    if (len == 0 || len >= sizeof buf)
        return fa_err_set(FA_EUSAGE, "--ladder: '%.*s': expected a height such as 720", (int)len, tok);
    memcpy(buf, tok, len);
    buf[len] = '\0';
    if (fa_parse_int(buf, FA_LADDER_MIN_HEIGHT, FA_LADDER_MAX_HEIGHT, &v) != 0)
        return fa_err_set(FA_EUSAGE, "--ladder: '%s': expected a height in %d..%d", buf, FA_LADDER_MIN_HEIGHT,
                          FA_LADDER_MAX_HEIGHT);
    if (v % 2) return fa_err_set(FA_EUSAGE, "--ladder: '%s': height must be even", buf);
    *out = (int)v;
    return 0;
}

int fa_ladder_parse(const char *spec, int *heights, int max, int *n) {
    int count = 0;
    if (max > FA_LADDER_MAX) max = FA_LADDER_MAX;
    if (!spec || !*spec)
        return fa_err_set(FA_EUSAGE, "--ladder: empty, expected heights such as 720,480,360");
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (count == max) return fa_err_set(FA_EUSAGE, "--ladder: more than %d rungs in '%s'", max, spec);
        int rc = parse_one(p, len, &heights[count]);
        if (rc) return rc;
        count++;
        if (!comma) break;
        p = comma + 1;
    }
    qsort(heights, (size_t)count, sizeof *heights, cmp_desc);
    for (int i = 1; i < count; i++)
        if (heights[i] == heights[i - 1])
            return fa_err_set(FA_EUSAGE, "--ladder: height %d given twice in '%s'", heights[i], spec);
    *n = count;
    return 0;
}

/* The picture as stored, turned upright (rotation swaps the sides). */
static void upright_size(const fa_video_info *s, int *w, int *h) {
    *w = s->rotation % 180 ? s->height : s->width;
    *h = s->rotation % 180 ? s->width : s->height;
}

int fa_ladder_default(const fa_video_info *src, int heights[3]) {
    int w, h;
    upright_size(src, &w, &h);
    static const int low[3] = {720, 480, 360}, high[3] = {1080, 720, 480};
    memcpy(heights, w <= 1280 && h <= 720 ? low : high, sizeof low);
    return 3;
}

int fa_ladder_maxrate_kbps(int box_height) {
    static const int tab[][2] = {{144, 200},  {240, 400},   {360, 800},   {480, 1500},  {540, 2000},
                                 {720, 3000}, {1080, 5000}, {1440, 9000}, {2160, 16000}};
    const int n = (int)(sizeof tab / sizeof *tab);
    if (box_height <= tab[0][0]) return tab[0][1];
    for (int i = 1; i < n; i++)
        if (box_height <= tab[i][0]) {
            double f = (double)(box_height - tab[i - 1][0]) / (tab[i][0] - tab[i - 1][0]);
            return (int)(tab[i - 1][1] + f * (tab[i][1] - tab[i - 1][1]) + 0.5);
        }
    return tab[n - 1][1] * box_height / tab[n - 1][0];
}

/* Fits display aspect dw:dh into bw x bh, both sides even. */
static void fit(double dw, double dh, int bw, int bh, int *w, int *h) {
    double aspect = dw / dh;
    if (aspect >= (double)bw / bh) {
        *w = bw & ~1;
        *h = even_round(bw / aspect);
    } else {
        *h = bh & ~1;
        *w = even_round(bh * aspect);
    }
}

/* The rung for box bw x bh, its SAR set as the scale filter would. */
static void make_rung(const fa_video_info *s, int box_height, int bw, int bh, fa_rung *r) {
    int uw, uh;
    upright_size(s, &uw, &uh);
    int sn = s->sar_num > 0 ? s->sar_num : 1, sd = s->sar_den > 0 ? s->sar_den : 1;
    if (s->rotation % 180) {
        int t = sn;
        sn = sd;
        sd = t;
    }
    fit((double)uw * sn / sd, uh, bw, bh, &r->width, &r->height);
    int64_t num = (int64_t)r->height * uw * sn, den = (int64_t)r->width * uh * sd, g = gcd64(num, den);
    r->sar_num = (int)(num / g);
    r->sar_den = (int)(den / g);
    r->box_height = box_height;
    r->maxrate_kbps = fa_ladder_maxrate_kbps(box_height);
    r->bufsize_kbits = 2 * r->maxrate_kbps;
}

static int upscales(const fa_video_info *s, const fa_rung *r) {
    int uw, uh;
    upright_size(s, &uw, &uh);
    int sn = s->sar_num > 0 ? s->sar_num : 1, sd = s->sar_den > 0 ? s->sar_den : 1;
    if (s->rotation % 180) {
        int t = sn;
        sn = sd;
        sd = t;
    }
    int display_w = even_round((double)uw * sn / sd + 1);
    return r->height > uh || r->width > display_w;
}

static void add_unique(fa_ladder *out, const fa_rung *r) {
    for (int i = 0; i < out->n; i++)
        if (out->rung[i].width == r->width && out->rung[i].height == r->height) return;
    if (out->n < FA_LADDER_MAX) out->rung[out->n++] = *r;
}

int fa_ladder_plan(const fa_video_info *src, const int *heights, int n, fa_ladder *out) {
    memset(out, 0, sizeof *out);
    int uw, uh;
    upright_size(src, &uw, &uh);
    if (uw < 16 || uh < 16 || n <= 0)
        return fa_err_set(FA_EINVAL, "ladder: source %dx%d too small for any rung", uw, uh);
    fa_rung kept[FA_LADDER_MAX];
    int nkept = 0, dropped_top = 0;
    for (int i = 0; i < n && i < FA_LADDER_MAX; i++) {
        fa_rung r;
        make_rung(src, heights[i], even_round(heights[i] * 16.0 / 9.0), heights[i], &r);
        if (upscales(src, &r))
            dropped_top = 1;
        else
            kept[nkept++] = r;
    }
    if (dropped_top) {
        fa_rung top;
        make_rung(src, uh & ~1, uw & ~1, uh & ~1, &top);
        top.box_height = heights[0] < top.height ? heights[0] : top.height;
        top.maxrate_kbps = fa_ladder_maxrate_kbps(top.box_height);
        top.bufsize_kbits = 2 * top.maxrate_kbps;
        if (nkept == 0 || top.height > kept[0].height) add_unique(out, &top);
    }
    for (int i = 0; i < nkept; i++)
        add_unique(out, &kept[i]);
    return 0;
}
