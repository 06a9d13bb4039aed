/*
 * serve.h - internal to `footanalytics serve` (cmd_serve.c and its helpers).
 */
#ifndef FA_CLI_SERVE_H
#define FA_CLI_SERVE_H

struct fa_l1;
struct fa_l2;
struct fa_ratelimit;
struct fa_api_warmer;

/* /metrics families read from the components at scrape time (serve_metrics.c). */
void fa_serve_l1_metrics(struct fa_l1 *l1);
void fa_serve_l2_metrics(struct fa_l2 *l2);
void fa_serve_ratelimit_metrics(struct fa_ratelimit *rl, const char *scope); /* scope "address" | "key" */
void fa_serve_warmer_metrics(struct fa_api_warmer *w);

#endif
