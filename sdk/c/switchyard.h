/* switchyard.h — single-header C SDK for Switchyard plugins (ABI v1, docs/abi.md).
 *
 * In exactly one .c file of the plugin:
 *
 *   #define SWITCHYARD_IMPLEMENTATION
 *   #include "switchyard.h"
 *
 *   static void pick(const sy_request *req, const sy_upstream *ups, uint32_t n, sy_decision *out) {
 *       for (uint32_t i = 0; i < n; i++)
 *           if (ups[i].healthy) sy_decision_push(out, i);
 *   }
 *
 *   SY_PLUGIN("healthy-first", "1.0.0")
 *   SY_ROUTE(pick)
 *
 * and build it as a WASI reactor:
 *
 *   clang --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--strip-all -I sdk/c -o plugin.wasm plugin.c
 *
 * The SDK owns the ABI: SY_PLUGIN exports the version marker, name, version,
 * alloc and init; SY_ROUTE / SY_REDACT export the hooks, decode the host's
 * input record into sy_request / sy_upstream views and encode your
 * sy_decision / sy_redaction. Every sy_str a hook receives points into the
 * input record and is valid until the hook returns: copy what you keep. The
 * SDK's buffers grow to the largest record seen and are then reused, so a
 * call allocates nothing once the instance is warm. Every length is checked
 * against the record: a malformed record is an error, never an overrun.
 */
#ifndef SWITCHYARD_H
#define SWITCHYARD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ABI constants (docs/abi.md). */
#define SY_ABI_VERSION 1
#define SY_FLAG_STREAM 1u
#define SY_FLAG_DETERMINISTIC 2u
#define SY_UPSTREAM_HEALTHY 1u
#define SY_KIND_ROUTE 1
#define SY_KIND_REDACT 2

/* Error codes: a hook returns one negated, init returns one as is. */
#define SY_ERR_FAILED 1
#define SY_ERR_BAD_INPUT 2
#define SY_ERR_NOT_HANDLED 3
#define SY_ERR_BAD_CONFIG 4

/* Log levels, the same numbers as Go's log/slog. */
#define SY_LEVEL_DEBUG (-4)
#define SY_LEVEL_INFO 0
#define SY_LEVEL_WARN 4
#define SY_LEVEL_ERROR 8

/* SY_EXPORT marks a function as a Wasm export under the given name. */
#define SY_EXPORT(name) __attribute__((export_name(name)))

/* A byte string inside the input record (not NUL-terminated). */
typedef struct {
    const uint8_t *p;
    uint32_t n;
} sy_str;

/* The routing view of one request. */
typedef struct {
    int stream;            /* the client asked for a streamed answer */
    int deterministic;     /* the answer may be cached */
    int32_t prompt_tokens; /* estimate: body bytes / 4 */
    sy_str model;          /* public model name the client asked for */
    sy_str tenant;
    sy_str path;           /* e.g. "/v1/chat/completions" */
    sy_str pop;            /* name of the PoP routing the request */
    sy_str region;         /* the PoP's region */
    uint32_t n_headers;    /* selected request headers; read them with sy_request_header */
    const uint8_t *headers_;
    const uint8_t *headers_end_;
} sy_request;

/* One row of the live upstream table. */
typedef struct {
    sy_str name;
    sy_str provider;      /* openai, azure, bedrock, vertex */
    sy_str region;
    int healthy;
    uint32_t latency_us;  /* EWMA of whole-answer latency, µs */
    uint32_t ttfb_us;     /* EWMA of time to first byte, µs */
    uint32_t in_flight;   /* attempts in flight now */
    float error_rate;     /* EWMA of failed attempts, 0..1 */
    float price_in;       /* per million input tokens */
    float price_out;      /* per million output tokens */
    uint32_t weight;      /* configured weight */
} sy_upstream;

/* The ordered candidate list a route hook fills: indices into the table,
 * best first. Empty = no opinion (the router's configured order applies). */
typedef struct {
    uint32_t *idx;
    uint32_t len, cap, table_len;
    int bad;
} sy_decision;

/* The rewritten body of one redact call and its placeholder pairs. */
typedef struct sy_redaction sy_redaction;

/* A route hook: read req and the n rows of ups, push candidates into out. */
typedef void (*sy_route_fn)(const sy_request *req, const sy_upstream *ups, uint32_t n, sy_decision *out);
/* A redact hook: copy kept text with sy_redaction_copy and put placeholders
 * with sy_redaction_replace. A call that replaces nothing leaves the body as is. */
typedef void (*sy_redact_fn)(sy_str body, sy_redaction *out);
/* Receives the plugin's config (JSON) once per instance: 0 = ok, else
 * SY_ERR_BAD_CONFIG to refuse the module. */
typedef int32_t (*sy_init_fn)(sy_str config);

/* sy_str_eq reports whether s equals the C string c. */
static inline int sy_str_eq(sy_str s, const char *c) {
    size_t n = strlen(c);
    return s.n == n && memcmp(s.p, c, n) == 0;
}

/* sy_request_header returns the value of the first header named name (lower
 * case); .p is NULL when there is none. */
sy_str sy_request_header(const sy_request *req, const char *name);

/* sy_decision_push appends upstream index i as the next candidate; an index
 * outside the table fails the call. */
void sy_decision_push(sy_decision *d, uint32_t i);

/* sy_decision_sort orders the candidates so that better(a, b) != 0 puts a
 * first; equal candidates keep their order (a stable insertion sort: tables are small). */
void sy_decision_sort(sy_decision *d, const sy_upstream *ups,
                      int (*better)(const sy_upstream *a, const sy_upstream *b));

/* sy_redaction_copy appends n bytes of kept text to the body. */
void sy_redaction_copy(sy_redaction *r, const uint8_t *p, uint32_t n);

/* sy_redaction_replace appends the placeholder of original (its text as it
 * appears inside the JSON string) to the body and records the pair. kind is
 * upper case by convention (EMAIL, PHONE, CARD); placeholders are <KIND_n>,
 * numbered per kind from 1 in order of first appearance, skipping the numbers
 * earlier redactors took; the same original keeps its placeholder. */
void sy_redaction_replace(sy_redaction *r, const char *kind, const uint8_t *original, uint32_t n);

/* sy_redaction_count returns the number of placeholders handed out so far. */
uint32_t sy_redaction_count(const sy_redaction *r);

/* sy_log writes one line to the host log. Never log request content. */
__attribute__((import_module("switchyard"), import_name("log"))) void sy_log_raw(int32_t level, const char *msg,
                                                                               uint32_t len);
static inline void sy_log(int32_t level, const char *msg) { sy_log_raw(level, msg, (uint32_t)strlen(msg)); }

/* Entry points SY_ROUTE / SY_REDACT / SY_PLUGIN expand to (defined by
 * SWITCHYARD_IMPLEMENTATION). */
int64_t sy__route(sy_route_fn f, const uint8_t *rec, int32_t len);
int64_t sy__redact(sy_redact_fn f, const uint8_t *rec, int32_t len);
int32_t sy__init(sy_init_fn f, const uint8_t *cfg, int32_t len);
void *sy__alloc(int32_t n);

#define SY__PACK(ptr, len) ((int64_t)(((uint64_t)(uintptr_t)(ptr) << 32) | (uint32_t)(len)))

#define SY__PLUGIN_INFO(NAME, VERSION)                                                          \
    static const char sy__name[] = NAME;                                                         \
    static const char sy__version[] = VERSION;                                                   \
    SY_EXPORT("switchyard_abi_version") int32_t sy__abi_version(void) { return SY_ABI_VERSION; } \
    SY_EXPORT("plugin_name") int64_t sy__plugin_name(void) { return SY__PACK(sy__name, sizeof sy__name - 1); } \
    SY_EXPORT("plugin_version") int64_t sy__plugin_version(void) {                               \
        return SY__PACK(sy__version, sizeof sy__version - 1);                                    \
    }                                                                                            \
    SY_EXPORT("alloc") void *sy__alloc_export(int32_t n) { return sy__alloc(n); }

/* SY_PLUGIN declares the plugin's name and version; its config is accepted as is. */
#define SY_PLUGIN(NAME, VERSION)     \
    SY__PLUGIN_INFO(NAME, VERSION)   \
    SY_EXPORT("init") int32_t sy__init_export(const uint8_t *c, int32_t n) { return sy__init(0, c, n); }

/* SY_PLUGIN_WITH_CONFIG is SY_PLUGIN with an sy_init_fn that reads the config. */
#define SY_PLUGIN_WITH_CONFIG(NAME, VERSION, INIT) \
    SY__PLUGIN_INFO(NAME, VERSION)                 \
    SY_EXPORT("init") int32_t sy__init_export(const uint8_t *c, int32_t n) { return sy__init(INIT, c, n); }

/* SY_ROUTE exports the route hook, served by f (an sy_route_fn). */
#define SY_ROUTE(f) \
    SY_EXPORT("route") int64_t sy__route_export(const uint8_t *rec, int32_t len) { return sy__route(f, rec, len); }

/* SY_REDACT exports the redact hook, served by f (an sy_redact_fn). */
#define SY_REDACT(f) \
    SY_EXPORT("redact") int64_t sy__redact_export(const uint8_t *rec, int32_t len) { return sy__redact(f, rec, len); }

#endif /* SWITCHYARD_H */

#ifdef SWITCHYARD_IMPLEMENTATION
#ifndef SWITCHYARD_IMPLEMENTED
#define SWITCHYARD_IMPLEMENTED

/* Bounds-checked little-endian reader; a read past the end sets bad. */
typedef struct {
    const uint8_t *p, *end;
    int bad;
} sy__reader;

static uint32_t sy__u32(sy__reader *r) {
    if (r->bad || r->end - r->p < 4) {
        r->bad = 1;
        return 0;
    }
    uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 | (uint32_t)r->p[3] << 24;
    r->p += 4;
    return v;
}

static float sy__f32(sy__reader *r) {
    uint32_t v = sy__u32(r);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

static sy_str sy__bytes(sy__reader *r) {
    sy_str s = {0, 0};
    uint32_t n = sy__u32(r);
    if (r->bad || (uint32_t)(r->end - r->p) < n) {
        r->bad = 1;
        return s;
    }
    s.p = r->p;
    s.n = n;
    r->p += n;
    return s;
}

/* sy__grow makes room for want elements of size sz in *buf (capacity *cap). */
static int sy__grow(void **buf, uint32_t *cap, uint32_t want, uint32_t sz) {
    if (want <= *cap) return 1;
    uint32_t c = *cap ? *cap : 16;
    while (c < want) {
        if (c > 0x7fffffffu / 2) return 0;
        c *= 2;
    }
    void *p = realloc(*buf, (size_t)c * sz);
    if (!p) return 0;
    *buf = p;
    *cap = c;
    return 1;
}

void *sy__alloc(int32_t n) { return n < 0 ? 0 : malloc(n ? (size_t)n : 1); }

int32_t sy__init(sy_init_fn f, const uint8_t *cfg, int32_t len) {
    if (!f) return 0;
    sy_str c = {cfg, len < 0 ? 0 : (uint32_t)len};
    return f(c);
}

sy_str sy_request_header(const sy_request *req, const char *name) {
    sy__reader r = {req->headers_, req->headers_end_, 0};
    for (uint32_t i = 0; i < req->n_headers; i++) {
        sy_str k = sy__bytes(&r), v = sy__bytes(&r);
        if (r.bad) break;
        if (sy_str_eq(k, name)) return v;
    }
    sy_str none = {0, 0};
    return none;
}

void sy_decision_push(sy_decision *d, uint32_t i) {
    if (i >= d->table_len || d->len >= d->cap) {
        d->bad = 1;
        return;
    }
    d->idx[d->len++] = i;
}

void sy_decision_sort(sy_decision *d, const sy_upstream *ups,
                      int (*better)(const sy_upstream *a, const sy_upstream *b)) {
    for (uint32_t i = 1; i < d->len; i++) {
        uint32_t v = d->idx[i], j = i;
        while (j > 0 && better(&ups[v], &ups[d->idx[j - 1]])) {
            d->idx[j] = d->idx[j - 1];
            j--;
        }
        d->idx[j] = v;
    }
}

static struct {
    sy_upstream *ups;
    uint32_t ups_cap;
    uint32_t *idx;
    uint32_t idx_cap;
} sy__route_state;

int64_t sy__route(sy_route_fn f, const uint8_t *rec, int32_t len) {
    sy__reader r = {rec, rec + (len < 0 ? 0 : len), 0};
    sy_request req;
    uint32_t flags = sy__u32(&r);
    req.stream = (flags & SY_FLAG_STREAM) != 0;
    req.deterministic = (flags & SY_FLAG_DETERMINISTIC) != 0;
    req.prompt_tokens = (int32_t)sy__u32(&r);
    req.model = sy__bytes(&r);
    req.tenant = sy__bytes(&r);
    req.path = sy__bytes(&r);
    req.pop = sy__bytes(&r);
    req.region = sy__bytes(&r);
    req.n_headers = sy__u32(&r);
    req.headers_ = r.p;
    for (uint32_t i = 0; i < req.n_headers && !r.bad; i++) {
        sy__bytes(&r);
        sy__bytes(&r);
    }
    req.headers_end_ = r.p;
    uint32_t n = sy__u32(&r);
    /* a row is at least 44 bytes: refuse counts the record cannot hold */
    if (r.bad || n > (uint32_t)(r.end - r.p) / 44) return -SY_ERR_BAD_INPUT;
    if (!sy__grow((void **)&sy__route_state.ups, &sy__route_state.ups_cap, n, sizeof(sy_upstream)) ||
        !sy__grow((void **)&sy__route_state.idx, &sy__route_state.idx_cap, n, sizeof(uint32_t)))
        return -SY_ERR_FAILED;
    sy_upstream *ups = sy__route_state.ups;
    for (uint32_t i = 0; i < n; i++) {
        sy_upstream *u = &ups[i];
        u->name = sy__bytes(&r);
        u->provider = sy__bytes(&r);
        u->region = sy__bytes(&r);
        u->healthy = (sy__u32(&r) & SY_UPSTREAM_HEALTHY) != 0;
        u->latency_us = sy__u32(&r);
        u->ttfb_us = sy__u32(&r);
        u->in_flight = sy__u32(&r);
        u->error_rate = sy__f32(&r);
        u->price_in = sy__f32(&r);
        u->price_out = sy__f32(&r);
        u->weight = sy__u32(&r);
    }
    if (r.bad || r.p != r.end) return -SY_ERR_BAD_INPUT;
    sy_decision d = {sy__route_state.idx, 0, n, n, 0};
    f(&req, ups, n, &d);
    if (d.bad) {
        sy_log(SY_LEVEL_ERROR, "route: candidate index out of range");
        return -SY_ERR_FAILED;
    }
    return d.len == 0 ? 0 : SY__PACK(d.idx, d.len * 4);
}

typedef struct {
    uint32_t kind0, kind1, ph0, ph1, or0, or1; /* spans in the store */
} sy__pair;

typedef struct {
    uint32_t kind0, kind1, n;
} sy__count;

struct sy_redaction {
    uint8_t *out; /* u32 body length, body, then the pairs at the end */
    uint32_t out_len, out_cap;
    uint8_t *store; /* kinds, placeholders and originals */
    uint32_t store_len, store_cap;
    sy__pair *pairs;
    uint32_t n_pairs, pairs_cap;
    sy__count *counts;
    uint32_t n_counts, counts_cap;
    const uint8_t *taken, *taken_end;
    uint32_t n_taken;
    int bad;
};

static sy_redaction sy__redaction;

static void sy__append(uint8_t **buf, uint32_t *len, uint32_t *cap, int *bad, const void *p, uint32_t n) {
    if (*bad) return;
    if (*len + n < *len || !sy__grow((void **)buf, cap, *len + n, 1)) {
        *bad = 1;
        return;
    }
    memcpy(*buf + *len, p, n);
    *len += n;
}

static void sy__append_u32(sy_redaction *r, uint32_t v) {
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sy__append(&r->out, &r->out_len, &r->out_cap, &r->bad, b, 4);
}

void sy_redaction_copy(sy_redaction *r, const uint8_t *p, uint32_t n) {
    sy__append(&r->out, &r->out_len, &r->out_cap, &r->bad, p, n);
}

uint32_t sy_redaction_count(const sy_redaction *r) { return r->n_pairs; }

static int sy__span_eq(const sy_redaction *r, uint32_t a, uint32_t b, const uint8_t *p, uint32_t n) {
    return b - a == n && memcmp(r->store + a, p, n) == 0;
}

static int sy__taken(const sy_redaction *r, const uint8_t *p, uint32_t n) {
    sy__reader t = {r->taken, r->taken_end, 0};
    for (uint32_t i = 0; i < r->n_taken; i++) {
        sy_str s = sy__bytes(&t);
        if (t.bad) return 0;
        if (s.n == n && memcmp(s.p, p, n) == 0) return 1;
    }
    return 0;
}

void sy_redaction_replace(sy_redaction *r, const char *kind, const uint8_t *original, uint32_t n) {
    uint32_t kn = (uint32_t)strlen(kind);
    for (uint32_t i = 0; i < r->n_pairs; i++) {
        sy__pair *p = &r->pairs[i];
        if (sy__span_eq(r, p->kind0, p->kind1, (const uint8_t *)kind, kn) &&
            sy__span_eq(r, p->or0, p->or1, original, n)) {
            sy_redaction_copy(r, r->store + p->ph0, p->ph1 - p->ph0);
            return;
        }
    }
    uint32_t c = 0;
    while (c < r->n_counts && !sy__span_eq(r, r->counts[c].kind0, r->counts[c].kind1, (const uint8_t *)kind, kn)) c++;
    if (c == r->n_counts) {
        if (!sy__grow((void **)&r->counts, &r->counts_cap, c + 1, sizeof(sy__count))) {
            r->bad = 1;
            return;
        }
        r->counts[c].kind0 = r->store_len;
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, kind, kn);
        r->counts[c].kind1 = r->store_len;
        r->counts[c].n = 0;
        r->n_counts++;
    }
    if (!sy__grow((void **)&r->pairs, &r->pairs_cap, r->n_pairs + 1, sizeof(sy__pair))) r->bad = 1;
    if (r->bad) return;
    uint32_t start = r->store_len;
    do {
        char num[10];
        uint32_t k = sizeof num, v = ++r->counts[c].n;
        do {
            num[--k] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        r->store_len = start;
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, "<", 1);
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, kind, kn);
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, "_", 1);
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, num + k, sizeof num - k);
        sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, ">", 1);
        if (r->bad) return;
    } while (sy__taken(r, r->store + start, r->store_len - start));
    sy__pair *p = &r->pairs[r->n_pairs++];
    p->kind0 = r->counts[c].kind0;
    p->kind1 = r->counts[c].kind1;
    p->ph0 = start;
    p->ph1 = r->store_len;
    p->or0 = r->store_len;
    sy__append(&r->store, &r->store_len, &r->store_cap, &r->bad, original, n);
    p->or1 = r->store_len;
    sy_redaction_copy(r, r->store + p->ph0, p->ph1 - p->ph0);
}

int64_t sy__redact(sy_redact_fn f, const uint8_t *rec, int32_t len) {
    sy__reader in = {rec, rec + (len < 0 ? 0 : len), 0};
    sy__u32(&in); /* flags, reserved */
    sy_str body = sy__bytes(&in);
    uint32_t taken = sy__u32(&in);
    if (in.bad || taken > (uint32_t)(in.end - in.p) / 4) return -SY_ERR_BAD_INPUT;
    sy_redaction *r = &sy__redaction;
    r->taken = in.p;
    r->n_taken = taken;
    for (uint32_t i = 0; i < taken && !in.bad; i++) sy__bytes(&in);
    if (in.bad || in.p != in.end) return -SY_ERR_BAD_INPUT;
    r->taken_end = in.p;
    r->out_len = r->store_len = r->n_pairs = r->n_counts = 0;
    r->bad = 0;
    sy__append_u32(r, 0);
    f(body, r);
    if (r->bad) return -SY_ERR_FAILED;
    if (r->n_pairs == 0) return 0;
    uint32_t body_len = r->out_len - 4;
    memcpy(r->out, &body_len, 4); /* wasm is little-endian */
    sy__append_u32(r, r->n_pairs);
    for (uint32_t i = 0; i < r->n_pairs; i++) {
        sy__pair *p = &r->pairs[i];
        sy__append_u32(r, p->ph1 - p->ph0);
        sy__append(&r->out, &r->out_len, &r->out_cap, &r->bad, r->store + p->ph0, p->ph1 - p->ph0);
        sy__append_u32(r, p->or1 - p->or0);
        sy__append(&r->out, &r->out_len, &r->out_cap, &r->bad, r->store + p->or0, p->or1 - p->or0);
    }
    if (r->bad) return -SY_ERR_FAILED;
    return SY__PACK(r->out, r->out_len);
}

#endif /* SWITCHYARD_IMPLEMENTED */
#endif /* SWITCHYARD_IMPLEMENTATION */
