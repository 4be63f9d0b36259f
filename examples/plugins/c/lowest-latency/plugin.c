/* lowest-latency: a Switchyard routing plugin in C. It answers with the
 * healthy upstreams ordered by EWMA time to first byte (ties: fewer attempts
 * in flight), or no opinion when none is healthy. */
#include "switchyard.h"

SY_PLUGIN("lowest-latency", "1.0.0")

#define MAX_UPS 256

static sy_upstream ups[MAX_UPS];
static uint32_t order[MAX_UPS];

static int faster(const sy_upstream *a, const sy_upstream *b) {
    if (a->ttfb_us != b->ttfb_us) return a->ttfb_us < b->ttfb_us;
    return a->in_flight < b->in_flight;
}

SY_EXPORT("route") int64_t route(const uint8_t *rec, int32_t len) {
    sy_request req;
    uint32_t n = 0, k = 0;
    if (sy_decode_route(rec, (uint32_t)len, &req, ups, MAX_UPS, &n) != 0) return SY_ERROR(SY_ERR_BAD_INPUT);
    for (uint32_t i = 0; i < n; i++) {
        if (!(ups[i].flags & SY_UPSTREAM_HEALTHY)) continue;
        /* insertion sort: tables are small */
        uint32_t j = k++;
        while (j > 0 && faster(&ups[i], &ups[order[j - 1]])) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return k == 0 ? 0 : SY_PACK(order, k * 4);
}
