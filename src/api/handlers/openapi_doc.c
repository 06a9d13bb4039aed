/*
 * openapi_doc.c - GET /v1/openapi.json: the OpenAPI 3 document of the API
 * (src/api/openapi.c holds it). It changes only with the build, so it is
 * cached long (STATIC class) under the surrogate key "openapi".
 */
#include "../app_internal.h"

int fa_api_h_openapi(fa_api_req *r) {
    r->cache = FA_API_CACHE_STATIC;
    fa_api_tag(r, "openapi", NULL, NULL);
    return fa_api_openapi_write(&r->resp->body) ? fa_api_fail(r, FA_ENOMEM, "writing the document") : 0;
}
