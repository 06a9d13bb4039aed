/*
 * possession.c - GET /v1/matches/{id}/possession: the possession timeline
 * analytics stored: the whole-match shares and windows (default 300 s) of
 * each side's share, measured from events and/or tracking, each with the
 * method used stated in words (the two measure different things and are
 * never mixed).
 */
#include "../app_internal.h"

int fa_api_h_possession(fa_api_req *r) {
    fa_match_row row;
    fa_buf doc = {0};
    int rc = fa_api_load_match(r, &row);
    if (rc) return rc;
    rc = fa_api_load_doc(r, &row, "possession_timeline",
                         "possession timeline (it was imported without analytics)", &doc);
    if (rc) {
        fa_buf_free(&doc);
        return rc;
    }
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_api_jw_match_ref(&w, &row);
    fa_jw_key(&w, "timeline");
    fa_jw_raw(&w, doc.data, doc.len);
    fa_jw_end_obj(&w);
    fa_buf_free(&doc);
    return fa_api_jw_done(r, &w);
}
