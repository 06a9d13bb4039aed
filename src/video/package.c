/*
 * package.c - where a transcode writes: the temporary output directory and
 * the DASH + HLS muxer.
 *
 * Why a temporary directory: the dash muxer writes dozens of files over the
 * whole run; a crash, an error or a Ctrl-C in the middle must not leave a
 * half package that a server would happily serve. Everything goes to
 * "OUT.tmp-PID" (same parent, so the final rename is atomic on one file
 * system) and is renamed to OUT only after the trailer is written. --force
 * moves an old OUT aside first and removes it after the rename.
 *
 * Why the dash muxer alone: FFmpeg 5.1's dash muxer with hls_playlist=1
 * writes the HLS master and media playlists for the very fMP4 segments the
 * MPD lists, so one set of segments serves both protocols (the hls muxer
 * would write a second copy). The muxer opens its own files (AVFMT_NOFILE);
 * its options are private and go through the AVDictionary given to
 * avformat_write_header.
 */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "video_internal.h"

static int path_exists(const char *p) {
    struct stat st;
    return lstat(p, &st) == 0;
}

int fa_video_outdir_begin(const char *out, int force, char *tmp, size_t size) {
    size_t len = strlen(out);
    while (len > 1 && out[len - 1] == '/')
        len--;
    if (len == 0) return fa_err_set(FA_EUSAGE, "--out: empty path");
    if (path_exists(out) && !force)
        return fa_err_set(FA_EUSAGE, "--out: %s already exists (use --force to replace it)", out);
    if ((size_t)snprintf(tmp, size, "%.*s.tmp-%ld", (int)len, out, (long)getpid()) >= size)
        return fa_err_set(FA_EUSAGE, "--out: path too long");
    if (path_exists(tmp)) fa_video_rmtree(tmp); /* a leftover of a killed run with our pid */
    if (mkdir(tmp, 0755) != 0)
        return fa_err_set(FA_EIO, "%s: cannot create the output directory: %s", tmp, strerror(errno));
    return 0;
}

int fa_video_outdir_commit(const char *tmp, const char *out, int force) {
    char old[4200];
    int had_old = 0;
    if (path_exists(out)) {
        if (!force) return fa_err_set(FA_EUSAGE, "--out: %s already exists (use --force to replace it)", out);
        snprintf(old, sizeof old, "%s.old-%ld", out, (long)getpid());
        if (rename(out, old) != 0)
            return fa_err_set(FA_EIO, "%s: cannot move the old output aside: %s", out, strerror(errno));
        had_old = 1;
    }
    if (rename(tmp, out) != 0) {
        int e = errno;
        if (had_old && rename(old, out) != 0) fa_log(FA_LOG_WARN, "old output left aside", "path=%s", old);
        return fa_err_set(FA_EIO, "%s: cannot rename to %s: %s", tmp, out, strerror(e));
    }
    if (had_old) fa_video_rmtree(old);
    return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void fa_video_rmtree(const char *dir) {
    if (dir && *dir) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int fa_video_package_alloc(AVFormatContext **oc, const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/manifest.mpd", dir);
    *oc = NULL;
    int err = avformat_alloc_output_context2(oc, NULL, "dash", path);
    if (err < 0 || !*oc) return fa_err_set(FA_ENOMEM, "cannot create the dash muxer (%d)", err);
    return 0;
}

int fa_video_package_start(AVFormatContext *oc, int segment_s, int nvideo, int has_audio) {
    AVDictionary *opt = NULL;
    char sets[256], seg[32];
    int n = nvideo ? snprintf(sets, sizeof sets, "id=0,streams=") : 0; /* nvideo 0: an audio job */
    for (int i = 0; i < nvideo; i++)
        n += snprintf(sets + n, sizeof sets - (size_t)n, "%s%d", i ? "," : "", i);
    if (has_audio)
        snprintf(sets + n, sizeof sets - (size_t)n, "%sid=%d,streams=%d", n ? " " : "", n ? 1 : 0, nvideo);
    snprintf(seg, sizeof seg, "%d", segment_s);
    av_dict_set(&opt, "adaptation_sets", sets, 0);
    av_dict_set(&opt, "seg_duration", seg, 0);
    av_dict_set(&opt, "hls_playlist", "1", 0);
    av_dict_set(&opt, "use_template", "1", 0);
    av_dict_set(&opt, "use_timeline", "1", 0);
    av_dict_set(&opt, "dash_segment_type", "mp4", 0);
    av_dict_set(&opt, "window_size", "0", 0);
    av_dict_set(&opt, "remove_at_exit", "0", 0);
    char eb[128];
    int err = avformat_write_header(oc, &opt);
    av_dict_free(&opt);
    if (err < 0)
        return fa_err_set(FA_EIO, "dash muxer: cannot write the header (%s)",
                          fa_video_averr(err, eb, sizeof eb));
    return 0;
}
