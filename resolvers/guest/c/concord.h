/*
 * concord.h: the C guest library for concord resolvers (ABI v1).
 *
 * A resolver is a function from the parsed input to a status:
 *
 *     #include "concord.h"
 *
 *     static concord_status merge(const concord_input *in) {
 *         ...
 *         return concord_output(value, len);   // CONCORD_OK, or CONCORD_ERROR
 *     }
 *     CONCORD_RESOLVER(merge)
 *
 * CONCORD_RESOLVER defines the module's exports: the ABI marker
 * concord_abi_v1 and resolve(input_len), which resets the heap, reads and
 * parses the input frame and calls the function. The library is freestanding:
 * no libc, no WASI; the module imports only concord.*. See README.md next to
 * this file for the build command, and ../../ABI.md for the contract.
 *
 * Memory: concord_alloc is a bump allocator over linear memory. Everything it
 * returns during a resolve call (including the input view) is freed when the
 * call returns; what CONCORD_INIT's function allocates lives for the instance.
 * There is no free.
 */
#ifndef CONCORD_H
#define CONCORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses a resolver returns (ABI.md §4). */
typedef enum {
	CONCORD_OK = 0,     /* the output is the merged value (may be empty) */
	CONCORD_DELETE = 1, /* the merge is a tombstone; output is ignored */
	CONCORD_DEFER = 2,  /* decline: the siblings are kept */
	CONCORD_ERROR = 3,  /* failure: siblings kept, failure counted and logged */
} concord_status;

/* Log levels of concord_log. */
enum { CONCORD_DEBUG = 0, CONCORD_INFO = 1, CONCORD_WARN = 2, CONCORD_LOG_ERROR = 3 };

/* A byte string. Not NUL-terminated. */
typedef struct {
	const uint8_t *ptr;
	uint32_t len;
} concord_bytes;

/* One sibling: a concurrent version of the key. */
typedef struct {
	bool tombstone;    /* a causal delete; value is empty */
	int64_t timestamp; /* coordinator wall clock at write, Unix ns; not a causal order */
	concord_bytes value;
} concord_sibling;

/* The input of one resolve call. Siblings come in arbitrary order: the result
 * must not depend on it. */
typedef struct {
	concord_bytes ns; /* namespace */
	concord_bytes key;
	uint32_t count; /* number of siblings */
	const concord_sibling *siblings;
} concord_input;

typedef concord_status (*concord_resolve_fn)(const concord_input *in);
typedef concord_status (*concord_init_fn)(void);

/* --- Exports ----------------------------------------------------------- */

/* Runs one resolve call: resets the heap, reads and parses the frame, calls
 * fn, flushes buffered output. A frame that does not parse yields ERROR. */
int32_t concord_run(int32_t input_len, concord_resolve_fn fn);

/* Runs init: calls fn; what it allocated outlives every resolve call. */
int32_t concord_run_init(concord_init_fn fn);

/* CONCORD_ABI_V1 defines the marker export alone (for a hand-written
 * resolve). CONCORD_RESOLVER(fn) defines the marker and resolve. */
#define CONCORD_ABI_V1                                                    \
	__attribute__((export_name("concord_abi_v1"))) void concord_abi_v1(void) {}

#define CONCORD_RESOLVER(fn)                                              \
	CONCORD_ABI_V1                                                        \
	__attribute__((export_name("resolve"))) int32_t concord_resolve_export( \
	    int32_t input_len) {                                              \
		return concord_run(input_len, (fn));                              \
	}

/* CONCORD_INIT(fn) defines the optional init export; fn returns CONCORD_OK
 * when the instance is ready (any other value fails the instance). */
#define CONCORD_INIT(fn)                                                  \
	__attribute__((export_name("init"))) int32_t concord_init_export(void) { \
		return concord_run_init((fn));                                    \
	}

/* --- Memory ------------------------------------------------------------ */

/* concord_alloc returns n bytes aligned to 8, or NULL when memory.grow fails
 * (the namespace's memory cap). The bytes are not zeroed. */
void *concord_alloc(size_t n);

/* concord_realloc grows (or shrinks) a block from concord_alloc to n bytes,
 * in place when it is the latest allocation. NULL on failure (p is intact). */
void *concord_realloc(void *p, size_t old_n, size_t n);

/* --- Output ------------------------------------------------------------ */

/* Append bytes to the output (buffered; flushed when resolve returns).
 * They return false once the host refused output (over the cap); the call
 * then fails whatever the status. */
bool concord_write(const void *p, size_t n);
bool concord_write_byte(uint8_t c);

/* concord_output writes the whole merged value and returns CONCORD_OK, or
 * CONCORD_ERROR if it could not be written. */
concord_status concord_output(const void *p, size_t n);

/* --- Host services ----------------------------------------------------- */

/* The namespace's resolver config (empty if none). Copied once per call (or
 * per init) into the heap. */
concord_bytes concord_config(void);

/* Log a line (truncated by the host to 1 KiB; at most 32 lines per call). */
void concord_log(int level, const char *msg, size_t n);

/* --- Helpers ----------------------------------------------------------- */

/* Every block from concord_alloc (and so the input) is followed by at
 * least CONCORD_SLACK bytes of linear memory, so a word may be loaded from
 * any byte of it. */
#define CONCORD_SLACK 8

/* concord_load64 returns the min(n, 8) bytes at p as a little-endian
 * integer, the missing high bytes 0. It reads 8 bytes: p must be in the
 * input, the heap, static data or the stack (CONCORD_SLACK). One load, no
 * memory.copy: see "Loops are expensive" in README.md. */
static inline uint64_t concord_load64(const void *p, uint32_t n) {
	uint64_t v;
	__builtin_memcpy(&v, p, 8); /* wasm32 is little-endian */
	return n >= 8 ? v : n == 0 ? 0 : v & (~0ull >> (64 - 8 * n));
}

/* Lexicographic byte order, then length: <0, 0 or >0. */
int concord_compare(concord_bytes a, concord_bytes b);
bool concord_equal(concord_bytes a, concord_bytes b);

/* A stable merge sort of n elements of the given size (uses a temporary
 * buffer from the heap). Returns false if the heap is exhausted. */
bool concord_sort(void *base, size_t n, size_t size,
                  int (*cmp)(const void *, const void *));

#ifdef __cplusplus
}
#endif

#endif /* CONCORD_H */
