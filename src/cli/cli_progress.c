/*
 * cli_progress.c - progress of long work for the commands that transcode
 * (transcode, analyze): a one-line bar redrawn on stderr when it is a
 * terminal, one JSON object per line on stdout for job runners
 * (--progress json), or nothing. One implementation so every command's
 * progress reads the same.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "video/transcode.h"

int fa_cli_progress_parse(const char *cmd, const char *s, fa_cli_progress *p) {
    if (!strcmp(s, "bar"))
        p->mode = FA_PROGRESS_BAR;
    else if (!strcmp(s, "json"))
        p->mode = FA_PROGRESS_JSON;
    else if (!strcmp(s, "none"))
        p->mode = FA_PROGRESS_NONE;
    else
        return fa_cli_usage(cmd, "--progress: '%s': expected bar, json or none", s);
    return 0;
}

void fa_cli_progress_resolve(fa_cli_progress *p) {
    if (p->mode == FA_PROGRESS_AUTO) p->mode = isatty(STDERR_FILENO) ? FA_PROGRESS_BAR : FA_PROGRESS_NONE;
}

static void draw_bar(const fa_transcode_progress *p, fa_cli_progress *s) {
    char eta[16], pos[16];
    int width = 30, fill = (int)(p->percent * width / 100.0);
    fprintf(stderr, "\r[");
    for (int i = 0; i < width; i++)
        fputc(i < fill ? '#' : '.', stderr);
    fprintf(stderr, "] %5.1f%% %s %6.1f fps ETA %s ", p->percent, fa_cli_clock(p->position_s, pos), p->fps,
            p->eta_s >= 0 ? fa_cli_clock(p->eta_s, eta) : "--:--.-");
    if (p->done) fputc('\n', stderr);
    fflush(stderr);
    s->bar_drawn = !p->done;
}

void fa_cli_on_progress(const struct fa_transcode_progress *p, void *user) {
    fa_cli_progress *s = user;
    if (s->mode == FA_PROGRESS_BAR)
        draw_bar(p, s);
    else if (s->mode == FA_PROGRESS_JSON) {
        printf("{\"event\":\"progress\",\"percent\":%.1f,\"fps\":%.1f,\"eta_s\":%.1f,\"elapsed_s\":%.2f,"
               "\"position_s\":%.3f,\"duration_s\":%.3f,\"frames\":%lld,\"done\":%s}\n",
               p->percent, p->fps, p->eta_s, p->elapsed_s, p->position_s, p->duration_s, (long long)p->frames,
               p->done ? "true" : "false");
        fflush(stdout);
    }
}

void fa_cli_progress_stage(fa_cli_progress *p, const char *stage, double seconds) {
    if (p->mode != FA_PROGRESS_JSON) return;
    if (seconds < 0)
        printf("{\"event\":\"stage\",\"stage\":\"%s\",\"done\":false}\n", stage);
    else
        printf("{\"event\":\"stage\",\"stage\":\"%s\",\"done\":true,\"seconds\":%.3f}\n", stage, seconds);
    fflush(stdout);
}
