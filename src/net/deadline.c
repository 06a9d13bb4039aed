/*
 * deadline.c - absolute deadlines on the monotonic clock.
 *
 * Every remote call in FootAnalytics carries a deadline, never an
 * open-ended wait: a slow dependency must cost a bounded, known amount of
 * latency. A deadline is an absolute point in time rather than a duration
 * so that one budget can be handed down through several steps (resolve,
 * connect, send, receive) without each step re-arming its own timeout and
 * the sum silently exceeding what the caller allowed.
 *
 * The clock is fa_clock_now's CLOCK_MONOTONIC, so wall-clock jumps (NTP,
 * an operator setting the date) neither fire nor stretch deadlines.
 * INFINITY means "none"; it survives the arithmetic below unchanged.
 */
#include <limits.h>
#include <math.h>

#include "net/net.h"

fa_deadline fa_deadline_in(double seconds) {
    fa_deadline d;
    if (isnan(seconds) || seconds <= 0) {
        d.at = fa_clock_now(); /* already passed */
    } else if (isinf(seconds)) {
        d.at = INFINITY;
    } else {
        d.at = fa_clock_now() + seconds;
    }
    return d;
}

double fa_deadline_left(fa_deadline d) {
    if (isinf(d.at)) return INFINITY;
    double left = d.at - fa_clock_now();
    return left > 0 ? left : 0; /* a NaN deadline counts as passed */
}

int fa_deadline_left_ms(fa_deadline d) {
    if (isinf(d.at)) return -1;
    double ms = ceil(fa_deadline_left(d) * 1000.0);
    if (ms >= (double)INT_MAX) return INT_MAX;
    return ms > 0 ? (int)ms : 0;
}

int fa_deadline_passed(fa_deadline d) {
    if (isinf(d.at)) return 0;
    return !(fa_clock_now() < d.at); /* NaN: passed, like fa_deadline_left */
}
