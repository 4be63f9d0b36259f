/* redact-email: a Switchyard redaction plugin in C. It replaces e-mail
 * addresses in the request body by <EMAIL_1>, <EMAIL_2>, … (the same address
 * keeps its placeholder); the router restores them in the answer. The matcher
 * is the one of examples/plugins/go/redact-email, byte for byte, so both pass
 * the same conformance vectors. */
#define SWITCHYARD_IMPLEMENTATION
#include "switchyard.h"

static int is_alnum(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'); }
static int is_local(uint8_t c) { return is_alnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'; }
static int is_domain(uint8_t c) { return is_alnum(c) || c == '.' || c == '-'; }

/* email finds the address around the '@' at `at`: [*start, *end), or 0. It
 * works on JSON text: a backslash escape glued to the local part (\n, \u00e9)
 * is not part of the address. */
static int email(const uint8_t *b, uint32_t n, uint32_t at, uint32_t *start, uint32_t *end) {
    uint32_t s = at, e, bs = 0;
    int64_t dot = -1;
    while (s > 0 && is_local(b[s - 1])) s--;
    while (s > bs && b[s - bs - 1] == '\\') bs++;
    if (bs % 2 == 1) s += b[s] == 'u' ? 5 : 1;
    if (s >= at) return 0;
    for (e = at + 1; e < n && is_domain(b[e]); e++)
        if (b[e] == '.') dot = e;
    while (e > at + 1 && (b[e - 1] == '.' || b[e - 1] == '-')) {
        e--;
        if (dot == (int64_t)e) {
            dot = -1;
            for (uint32_t j = at + 1; j < e; j++)
                if (b[j] == '.') dot = j;
        }
    }
    if (dot <= (int64_t)at + 1 || (int64_t)e - dot < 3) return 0;
    for (uint32_t j = (uint32_t)dot + 1; j < e; j++) {
        uint8_t c = b[j] | 0x20;
        if (c < 'a' || c > 'z') return 0;
    }
    *start = s;
    *end = e;
    return 1;
}

static void redact(sy_str body, sy_redaction *out) {
    uint32_t last = 0, i = 0, s, e;
    while (i < body.n) {
        const uint8_t *p = memchr(body.p + i, '@', body.n - i);
        if (!p) break;
        uint32_t at = (uint32_t)(p - body.p);
        if (!email(body.p, body.n, at, &s, &e)) {
            i = at + 1;
            continue;
        }
        sy_redaction_copy(out, body.p + last, s - last);
        sy_redaction_replace(out, "EMAIL", body.p + s, e - s);
        last = i = e;
    }
    sy_redaction_copy(out, body.p + last, body.n - last);
}

SY_PLUGIN("redact-email", "1.0.0")
SY_REDACT(redact)
