/*
 * health.c - GET /healthz (liveness) and GET /readyz (readiness), for
 * load balancers and orchestrators.
 *
 * /healthz answers 200 whenever the process can answer at all: it touches
 * nothing, so a slow or missing database never gets a healthy process
 * restarted. /readyz answers 200 only when this loop's store handle opens
 * and answers a trivial query (the schema version), else 503 with the
 * reason, so traffic is sent only to nodes that can serve data. Neither is
 * ever cached.
 */
#include "../app_internal.h"

int fa_api_h_healthz(fa_api_req *r) {
    r->cache = FA_API_CACHE_NONE;
    return fa_buf_puts(&r->resp->body, "{\"status\":\"ok\"}") ? fa_api_fail(r, FA_ENOMEM, "answering") : 0;
}

int fa_api_h_readyz(fa_api_req *r) {
    int version = 0;
    r->cache = FA_API_CACHE_NONE;
    fa_store *s = fa_api_store(r);
    if (!s) return FA_EIO;
    if (fa_store_schema_version(s, &version)) {
        fa_log(FA_LOG_WARN, "api: store not ready", "request_id=%llu error=\"%s\"",
               (unsigned long long)r->http->id, fa_err_msg());
        fa_store_close(r->t->store);
        r->t->store = NULL;
        return fa_api_problem(r, 503, "unavailable", "the store does not answer (request %llu)",
                              (unsigned long long)r->http->id);
    }
    fa_jw w;
    fa_jw_init(&w, &r->resp->body);
    fa_jw_obj(&w);
    fa_jw_key(&w, "status");
    fa_jw_str(&w, "ready");
    fa_jw_key(&w, "schema_version");
    fa_jw_int(&w, version);
    fa_jw_end_obj(&w);
    return fa_api_jw_done(r, &w);
}
