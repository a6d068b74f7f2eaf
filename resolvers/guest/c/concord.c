/*
 * concord.c: the C guest library for concord resolvers. See concord.h.
 *
 * Freestanding: no libc, no WASI. Build with -mbulk-memory so that the
 * compiler turns memcpy and memset into memory.copy and memory.fill instead
 * of calls to a libc (build.sh does).
 */
#include "concord.h"

/* --- Host imports (ABI.md §2) ------------------------------------------ */

#define CONCORD_IMPORT(name) \
	__attribute__((import_module("concord"), import_name(name)))

CONCORD_IMPORT("input_read") int32_t concord_host_input_read(void *ptr, int32_t len);
CONCORD_IMPORT("output_write") int32_t concord_host_output_write(const void *ptr, int32_t len);
CONCORD_IMPORT("config_read") int32_t concord_host_config_read(void *ptr, int32_t len);
CONCORD_IMPORT("log") void concord_host_log(int32_t level, const void *ptr, int32_t len);

/* --- Heap: a bump allocator over linear memory ------------------------- */

extern unsigned char __heap_base; /* defined by wasm-ld: the end of data and stack */

#define PAGE 65536u

static uintptr_t heap_top;  /* next free byte; 0 until first use */
static uintptr_t heap_mark; /* where each resolve call starts (after init's allocations) */

static uintptr_t heap_start(void) {
	return ((uintptr_t)&__heap_base + 7u) & ~(uintptr_t)7u;
}

void *concord_alloc(size_t n) {
	if (heap_top == 0)
		heap_top = heap_mark = heap_start();
	uintptr_t p = (heap_top + 7u) & ~(uintptr_t)7u;
	uint64_t end = (uint64_t)p + (uint64_t)n;
	/* Keep CONCORD_SLACK readable bytes past every block (concord_load64). */
	uint64_t need = end + CONCORD_SLACK;
	uint64_t limit = (uint64_t)__builtin_wasm_memory_size(0) * PAGE;
	if (need > limit) {
		uint64_t pages = (need - limit + PAGE - 1) / PAGE;
		if (need > (uint64_t)UINTPTR_MAX + 1 || __builtin_wasm_memory_grow(0, (size_t)pages) == (size_t)-1)
			return NULL;
	}
	heap_top = (uintptr_t)end;
	return (void *)p;
}

void *concord_realloc(void *p, size_t old_n, size_t n) {
	if (p != NULL && (uintptr_t)p + old_n == heap_top) {
		heap_top = (uintptr_t)p; /* the latest block: extend it in place */
		void *q = concord_alloc(n);
		if (q == NULL)
			heap_top = (uintptr_t)p + old_n;
		return q;
	}
	void *q = concord_alloc(n);
	if (q != NULL && p != NULL)
		__builtin_memcpy(q, p, old_n < n ? old_n : n);
	return q;
}

/* heap_release frees p and everything allocated after it, if p is the
 * start of a block of this call. */
static void heap_release(void *p) {
	if (p != NULL && (uintptr_t)p >= heap_mark && (uintptr_t)p <= heap_top)
		heap_top = (uintptr_t)p;
}

/* --- Output: buffered, flushed at the end of the call ------------------ */

static uint8_t out_buf[4096];
static uint32_t out_len;
static bool out_failed;

static bool out_flush(void) {
	if (out_len > 0 && !out_failed &&
	    concord_host_output_write(out_buf, (int32_t)out_len) != (int32_t)out_len)
		out_failed = true;
	out_len = 0;
	return !out_failed;
}

bool concord_write(const void *p, size_t n) {
	const uint8_t *b = p;
	if (out_failed)
		return false;
	if (n >= sizeof out_buf) {
		if (!out_flush())
			return false;
		while (n > 0) { /* large writes go straight to the host */
			int32_t chunk = n > 0x40000000u ? 0x40000000 : (int32_t)n;
			if (concord_host_output_write(b, chunk) != chunk) {
				out_failed = true;
				return false;
			}
			b += chunk;
			n -= (size_t)chunk;
		}
		return true;
	}
	if (n > sizeof out_buf - 8 - out_len && !out_flush())
		return false;
	if (n <= 8) {
		/* Short writes (most of them) store a whole word: memory.copy costs
		 * more than the bytes; the excess is overwritten or never flushed. */
		uint64_t v = concord_load64(b, (uint32_t)n);
		__builtin_memcpy(out_buf + out_len, &v, 8);
	} else
		__builtin_memcpy(out_buf + out_len, b, n);
	out_len += (uint32_t)n;
	return true;
}

bool concord_write_byte(uint8_t c) {
	if (out_len >= sizeof out_buf - 8 && !out_flush())
		return false;
	if (out_failed)
		return false;
	out_buf[out_len++] = c;
	return true;
}

concord_status concord_output(const void *p, size_t n) {
	return concord_write(p, n) ? CONCORD_OK : CONCORD_ERROR;
}

/* --- Host services ----------------------------------------------------- */

static concord_bytes config;
static bool config_loaded;
static bool config_persistent; /* loaded by init: survives resolve calls */

concord_bytes concord_config(void) {
	if (config_loaded)
		return config;
	concord_bytes c = {0};
	int32_t n = concord_host_config_read(NULL, 0);
	if (n > 0) {
		uint8_t *p = concord_alloc((size_t)n);
		if (p != NULL && concord_host_config_read(p, n) == n) {
			c.ptr = p;
			c.len = (uint32_t)n;
		}
	}
	config = c;
	config_loaded = true;
	return c;
}

void concord_log(int level, const char *msg, size_t n) {
	concord_host_log(level, msg, n > 0x7fffffffu ? 0x7fffffff : (int32_t)n);
}

/* --- Helpers ----------------------------------------------------------- */

/* compare_word orders the first differing byte of x and y (x != y), words
 * loaded little-endian: it is the lowest set byte of x ^ y. */
static inline int compare_word(uint64_t x, uint64_t y) {
	uint32_t shift = (uint32_t)__builtin_ctzll(x ^ y) & ~7u;
	return ((x >> shift) & 0xff) < ((y >> shift) & 0xff) ? -1 : 1;
}

__attribute__((noinline)) static int compare_long(const uint8_t *a, const uint8_t *b, uint32_t n) {
	for (uint32_t i = 16; i < n; i += 8) {
		uint64_t x = concord_load64(a + i, n - i), y = concord_load64(b + i, n - i);
		if (x != y)
			return compare_word(x, y);
	}
	return 0;
}

int concord_compare(concord_bytes a, concord_bytes b) {
	uint32_t n = a.len < b.len ? a.len : b.len;
	/* Sixteen bytes without a loop (most keys are shorter), then eight per
	 * iteration. */
	uint64_t x = concord_load64(a.ptr, n), y = concord_load64(b.ptr, n);
	if (x != y)
		return compare_word(x, y);
	if (n > 8) {
		x = concord_load64(a.ptr + 8, n - 8);
		y = concord_load64(b.ptr + 8, n - 8);
		if (x != y)
			return compare_word(x, y);
		if (n > 16) {
			int c = compare_long(a.ptr, b.ptr, n);
			if (c != 0)
				return c;
		}
	}
	return a.len < b.len ? -1 : a.len > b.len;
}

bool concord_equal(concord_bytes a, concord_bytes b) {
	return a.len == b.len && concord_compare(a, b) == 0;
}

/* merge_runs merges the adjacent sorted runs src[lo, mid) and src[mid, hi)
 * of element pointers into dst[lo, hi), taking from the left on ties. */
static void merge_runs(const uint8_t **dst, const uint8_t **src, size_t lo, size_t mid, size_t hi,
                       int (*cmp)(const void *, const void *)) {
	size_t i = lo, j = mid, k = lo;
	if (mid > lo && mid < hi && cmp(src[mid - 1], src[mid]) > 0)
		while (i < mid && j < hi)
			dst[k++] = cmp(src[i], src[j]) <= 0 ? src[i++] : src[j++];
	__builtin_memcpy(dst + k, src + i, (mid - i) * sizeof *dst);
	k += mid - i;
	__builtin_memcpy(dst + k, src + j, (hi - j) * sizeof *dst);
}

bool concord_sort(void *base, size_t n, size_t size,
                  int (*cmp)(const void *, const void *)) {
	if (n < 2 || size == 0)
		return true;
	if (n > SIZE_MAX / size || n > SIZE_MAX / sizeof(void *) / 2 - 1)
		return false;
	/* Pointers are sorted, then the elements gathered once: a loop step is
	 * cheap, memory.copy of a run-time size is not. */
	const uint8_t **ptrs = concord_alloc(2 * n * sizeof *ptrs);
	size_t *runs = concord_alloc((n + 1) * sizeof *runs);
	uint8_t *tmp = concord_alloc(n * size);
	if (ptrs == NULL || runs == NULL || tmp == NULL)
		return false;
	/* A natural merge sort: find the ascending runs (values merged before
	 * are sorted already), then merge neighbours until one run is left. It
	 * is stable, needs no recursion, and takes n log(runs) steps. */
	const uint8_t **src = ptrs, **dst = ptrs + n;
	size_t count = 0;
	runs[count++] = 0;
	src[0] = base;
	for (size_t i = 1; i < n; i++) {
		src[i] = (const uint8_t *)base + i * size;
		if (cmp(src[i - 1], src[i]) > 0)
			runs[count++] = i;
	}
	runs[count] = n;
	while (count > 1) {
		size_t merged = 0;
		for (size_t r = 0; r < count; r += 2) {
			/* runs[count] is n: an odd run out is merged with nothing. */
			size_t lo = runs[r], mid = runs[r + 1], hi = r + 2 <= count ? runs[r + 2] : n;
			merge_runs(dst, src, lo, mid, hi, cmp);
			runs[merged++] = lo;
		}
		runs[merged] = n;
		count = merged;
		const uint8_t **t = src;
		src = dst;
		dst = t;
	}
	for (size_t i = 0; i < n; i++)
		__builtin_memcpy(tmp + i * size, src[i], size);
	__builtin_memcpy(base, tmp, n * size);
	heap_release(ptrs);
	return true;
}

/* --- The input frame (ABI.md §3) --------------------------------------- */

typedef struct {
	const uint8_t *p, *end;
	bool ok;
} frame_reader;

static const uint8_t *take(frame_reader *r, uint32_t n) {
	if (!r->ok || (uint32_t)(r->end - r->p) < n) {
		r->ok = false;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint64_t take_le(frame_reader *r, uint32_t n) {
	const uint8_t *p = take(r, n);
	return p != NULL ? concord_load64(p, n) : 0;
}

static concord_bytes take_bytes(frame_reader *r, uint32_t n) {
	concord_bytes b = {take(r, n), n};
	if (b.ptr == NULL)
		b.len = 0;
	return b;
}

static bool parse_frame(const uint8_t *buf, uint32_t len, concord_input *in) {
	frame_reader r = {buf, buf + len, true};
	if (take_le(&r, 1) != 1)
		return false;
	in->ns = take_bytes(&r, (uint32_t)take_le(&r, 2));
	in->key = take_bytes(&r, (uint32_t)take_le(&r, 4));
	uint32_t count = (uint32_t)take_le(&r, 4);
	/* Each sibling takes at least 13 bytes: bound the count before allocating. */
	if (!r.ok || count > (uint32_t)(r.end - r.p) / 13)
		return false;
	concord_sibling *s = concord_alloc((size_t)count * sizeof *s + 1);
	if (s == NULL)
		return false;
	for (uint32_t i = 0; i < count; i++) {
		uint64_t flags = take_le(&r, 1);
		if (flags & ~(uint64_t)1)
			return false; /* unknown flag bits */
		s[i].tombstone = flags & 1;
		s[i].timestamp = (int64_t)take_le(&r, 8);
		s[i].value = take_bytes(&r, (uint32_t)take_le(&r, 4));
	}
	in->count = count;
	in->siblings = s;
	return r.ok && r.p == r.end;
}

/* --- Entry points ------------------------------------------------------ */

int32_t concord_run(int32_t input_len, concord_resolve_fn fn) {
	if (heap_top == 0)
		heap_top = heap_mark = heap_start();
	heap_top = heap_mark;
	out_len = 0;
	out_failed = false;
	if (!config_persistent)
		config_loaded = false;

	uint32_t len = (uint32_t)input_len;
	uint8_t *buf = concord_alloc(len);
	if (buf == NULL || concord_host_input_read(buf, (int32_t)len) != (int32_t)len)
		return CONCORD_ERROR;
	concord_input in = {0};
	if (!parse_frame(buf, len, &in))
		return CONCORD_ERROR;
	concord_status st = fn(&in);
	if (st == CONCORD_OK && !out_flush())
		return CONCORD_ERROR; /* the host already fails the call (bad_output) */
	return st;
}

int32_t concord_run_init(concord_init_fn fn) {
	if (heap_top == 0)
		heap_top = heap_mark = heap_start();
	concord_status st = fn();
	heap_mark = heap_top; /* init's allocations live for the instance */
	config_persistent = config_loaded;
	return st;
}
