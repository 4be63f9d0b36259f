// C guest for the wasmbin round-trip and fuel tests.
// Built with: clang --target=wasm32-wasi -O2 -mexec-model=reactor -o c.wasm guest.c
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint8_t buf[65536];

__attribute__((export_name("buffer"))) uint8_t *buffer(void) { return buf; }

// checksum is an Adler-like sum over buf[0:n]: the fuel overhead benchmark's hot loop.
__attribute__((export_name("checksum"))) uint32_t checksum(uint32_t n) {
	uint32_t a = 1, b = 0;
	if (n > sizeof buf) n = sizeof buf;
	for (uint32_t i = 0; i < n; i++) {
		a += buf[i];
		b += a;
	}
	return a ^ (b << 16);
}

__attribute__((export_name("fib"))) int fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

// sort uses libc (qsort, malloc, memcpy) so the module carries real library code.
static int cmp(const void *x, const void *y) {
	return (int)*(const uint8_t *)x - (int)*(const uint8_t *)y;
}

__attribute__((export_name("sorted_median"))) int sorted_median(uint32_t n) {
	if (n == 0 || n > sizeof buf) return -1;
	uint8_t *tmp = malloc(n);
	if (!tmp) return -1;
	memcpy(tmp, buf, n);
	qsort(tmp, n, 1, cmp);
	int m = tmp[n / 2];
	free(tmp);
	return m;
}
