/* probe.c: a resolver that describes what the guest library gave it, to
 * test the library (not a sensible resolver: it is not a merge).
 *
 * Output: "ns=<namespace> key=<key> config=<config> init=<ok|lost>" then,
 * siblings sorted by value (concord_sort), " <value>@<timestamp>" or
 * " -@<timestamp>" for a tombstone. Keys with a special meaning:
 *   big      allocate 4 MiB (memory grows), output 100000 bytes
 *   defer    return DEFER
 *   error    return ERROR
 *   delete   return DELETE
 */
#include "concord.h"

static uint64_t *magic; /* allocated in init: must survive every call */

static concord_status on_init(void) {
	magic = concord_alloc(sizeof *magic);
	if (magic == NULL)
		return CONCORD_ERROR;
	*magic = 0x636f6e636f7264ull;
	concord_config(); /* loaded in init: cached for the instance */
	return CONCORD_OK;
}
CONCORD_INIT(on_init)

static void put_str(const char *s) {
	size_t n = 0;
	while (s[n] != 0)
		n++;
	concord_write(s, n);
}

static void put_int(int64_t v) {
	char buf[24];
	size_t i = sizeof buf;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		buf[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		buf[--i] = '-';
	concord_write(buf + i, sizeof buf - i);
}

static int by_value(const void *a, const void *b) {
	return concord_compare(((const concord_sibling *)a)->value, ((const concord_sibling *)b)->value);
}

static bool key_is(const concord_input *in, const char *s) {
	concord_bytes k = {(const uint8_t *)s, 0};
	while (s[k.len] != 0)
		k.len++;
	return concord_equal(in->key, k);
}

static concord_status probe(const concord_input *in) {
	if (key_is(in, "defer"))
		return CONCORD_DEFER;
	if (key_is(in, "error"))
		return CONCORD_ERROR;
	if (key_is(in, "delete"))
		return CONCORD_DELETE;
	if (key_is(in, "big")) {
		uint8_t *p = concord_alloc(4 << 20);
		if (p == NULL)
			return CONCORD_ERROR;
		for (uint32_t i = 0; i < 100000; i++)
			p[i] = (uint8_t)('a' + i % 26);
		concord_write(p, 50000);
		for (uint32_t i = 50000; i < 100000; i++)
			concord_write_byte(p[i]);
		return CONCORD_OK;
	}
	/* Allocations here must not reach init's. */
	uint8_t *scratch = concord_alloc(1024);
	if (scratch == NULL)
		return CONCORD_ERROR;
	__builtin_memset(scratch, 0xff, 1024);

	concord_sibling *s = concord_alloc(in->count * sizeof *s + 1);
	if (s == NULL)
		return CONCORD_ERROR;
	__builtin_memcpy(s, in->siblings, in->count * sizeof *s);
	if (!concord_sort(s, in->count, sizeof *s, by_value))
		return CONCORD_ERROR;

	concord_bytes config = concord_config();
	put_str("ns=");
	concord_write(in->ns.ptr, in->ns.len);
	put_str(" key=");
	concord_write(in->key.ptr, in->key.len);
	put_str(" config=");
	concord_write(config.ptr, config.len);
	put_str(*magic == 0x636f6e636f7264ull ? " init=ok" : " init=lost");
	for (uint32_t i = 0; i < in->count; i++) {
		concord_write_byte(' ');
		if (s[i].tombstone)
			concord_write_byte('-');
		else
			concord_write(s[i].value.ptr, s[i].value.len);
		concord_write_byte('@');
		put_int(s[i].timestamp);
	}
	concord_log(CONCORD_INFO, "probe done", 10);
	return CONCORD_OK;
}
CONCORD_RESOLVER(probe)
