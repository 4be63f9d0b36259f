/* lowest-latency: a Switchyard routing plugin in C. It answers with the
 * healthy upstreams ordered by EWMA time to first byte (ties: fewer attempts
 * in flight, then table order), or no opinion when none is healthy. */
#define SWITCHYARD_IMPLEMENTATION
#include "switchyard.h"

static int faster(const sy_upstream *a, const sy_upstream *b) {
    if (a->ttfb_us != b->ttfb_us) return a->ttfb_us < b->ttfb_us;
    return a->in_flight < b->in_flight;
}

static void route(const sy_request *req, const sy_upstream *ups, uint32_t n, sy_decision *out) {
    (void)req;
    for (uint32_t i = 0; i < n; i++)
        if (ups[i].healthy) sy_decision_push(out, i);
    sy_decision_sort(out, ups, faster);
}

SY_PLUGIN("lowest-latency", "1.0.0")
SY_ROUTE(route)
