/* switchyard.h — a tiny header for Switchyard ABI v1 plugins in C
 * (docs/abi.md). Build a plugin with:
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -I sdk/c -o plugin.wasm plugin.c
 *
 * A plugin writes SY_PLUGIN("name", "1.0.0") once, then exports `route`
 * and/or `redact` with SY_EXPORT. The decoders check every length against
 * the record, so a malformed record is an error, never an overrun.
 */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define SY_ABI_VERSION 1
#define SY_FLAG_STREAM 1u
#define SY_FLAG_DETERMINISTIC 2u
#define SY_UPSTREAM_HEALTHY 1u
#define SY_KIND_ROUTE 1
#define SY_KIND_REDACT 2
#define SY_ERR_FAILED 1
#define SY_ERR_BAD_INPUT 2
#define SY_ERR_BAD_CONFIG 4
#define SY_LEVEL_DEBUG (-4)
#define SY_LEVEL_INFO 0
#define SY_LEVEL_WARN 4
#define SY_LEVEL_ERROR 8

#define SY_EXPORT(name) __attribute__((export_name(name)))

/* Pack a result: pointer in the high 32 bits, length in the low 32. */
#define SY_PACK(ptr, len) ((int64_t)(((uint64_t)(uintptr_t)(ptr) << 32) | (uint32_t)(len)))
#define SY_ERROR(code) ((int64_t) - (code))

__attribute__((import_module("switchyard"), import_name("log")))
void sy_log_raw(int32_t level, const char *msg, uint32_t len);
static inline void sy_log(int32_t level, const char *msg) { sy_log_raw(level, msg, (uint32_t)strlen(msg)); }

typedef struct { const uint8_t *p; uint32_t n; } sy_str;

static inline int sy_str_eq(sy_str s, const char *c) {
    size_t n = strlen(c);
    return s.n == n && memcmp(s.p, c, n) == 0;
}

typedef struct { const uint8_t *p, *end; int bad; } sy_reader;

static inline uint32_t sy_u32(sy_reader *r) {
    if (r->bad || r->end - r->p < 4) { r->bad = 1; return 0; }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static inline float sy_f32(sy_reader *r) {
    uint32_t v = sy_u32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static inline sy_str sy_bytes(sy_reader *r) {
    sy_str s = {0, 0};
    uint32_t n = sy_u32(r);
    if (r->bad || (uint32_t)(r->end - r->p) < n) { r->bad = 1; return s; }
    s.p = r->p;
    s.n = n;
    r->p += n;
    return s;
}

typedef struct {
    uint32_t flags;
    int32_t prompt_tokens;
    sy_str model, tenant, path, pop, region;
    uint32_t n_headers;
} sy_request;

typedef struct {
    sy_str name, provider, region;
    uint32_t flags, latency_us, ttfb_us, in_flight;
    float error_rate, price_in, price_out;
    uint32_t weight;
} sy_upstream;

/* sy_decode_route decodes a route record. It fills req and up to max_ups
 * rows of ups, sets *n_ups to the table's length, and returns 0, or
 * SY_ERR_BAD_INPUT when the record is malformed or has more than max_ups rows. */
static inline int sy_decode_route(const uint8_t *rec, uint32_t len, sy_request *req,
                                  sy_upstream *ups, uint32_t max_ups, uint32_t *n_ups) {
    sy_reader r = {rec, rec + len, 0};
    req->flags = sy_u32(&r);
    req->prompt_tokens = (int32_t)sy_u32(&r);
    req->model = sy_bytes(&r);
    req->tenant = sy_bytes(&r);
    req->path = sy_bytes(&r);
    req->pop = sy_bytes(&r);
    req->region = sy_bytes(&r);
    req->n_headers = sy_u32(&r);
    for (uint32_t i = 0; i < req->n_headers && !r.bad; i++) {
        sy_bytes(&r);
        sy_bytes(&r);
    }
    uint32_t n = sy_u32(&r);
    if (r.bad || n > max_ups) return SY_ERR_BAD_INPUT;
    for (uint32_t i = 0; i < n; i++) {
        sy_upstream *u = &ups[i];
        u->name = sy_bytes(&r);
        u->provider = sy_bytes(&r);
        u->region = sy_bytes(&r);
        u->flags = sy_u32(&r);
        u->latency_us = sy_u32(&r);
        u->ttfb_us = sy_u32(&r);
        u->in_flight = sy_u32(&r);
        u->error_rate = sy_f32(&r);
        u->price_in = sy_f32(&r);
        u->price_out = sy_f32(&r);
        u->weight = sy_u32(&r);
    }
    if (r.bad || r.p != r.end) return SY_ERR_BAD_INPUT;
    *n_ups = n;
    return 0;
}

/* SY_PLUGIN defines the version marker, name, version and alloc exports,
 * and a default init that accepts any config; define SY_CUSTOM_INIT and
 * export your own `init` to read the config. */
#define SY_PLUGIN(NAME, VERSION)                                                              \
    static const char sy_plugin_name[] = NAME;                                                 \
    static const char sy_plugin_version[] = VERSION;                                           \
    SY_EXPORT("switchyard_abi_version") int32_t sy_abi_version(void) { return SY_ABI_VERSION; } \
    SY_EXPORT("plugin_name") int64_t sy_name(void) {                                           \
        return SY_PACK(sy_plugin_name, sizeof sy_plugin_name - 1);                             \
    }                                                                                          \
    SY_EXPORT("plugin_version") int64_t sy_version(void) {                                     \
        return SY_PACK(sy_plugin_version, sizeof sy_plugin_version - 1);                       \
    }                                                                                          \
    SY_EXPORT("alloc") void *sy_alloc(int32_t n) { return n < 0 ? 0 : malloc(n ? (size_t)n : 1); } \
    SY_DEFAULT_INIT

#ifdef SY_CUSTOM_INIT
#define SY_DEFAULT_INIT
#else
#define SY_DEFAULT_INIT \
    SY_EXPORT("init") int32_t sy_init(const uint8_t *cfg, int32_t len) { (void)cfg; (void)len; return 0; }
#endif

#endif
