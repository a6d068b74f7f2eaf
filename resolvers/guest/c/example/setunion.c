/*
 * setunion.c: values are sets of lines; the merge is their union, sorted by
 * bytes, without duplicates or empty lines. A key whose siblings are all
 * tombstones stays deleted. The same merge as the Go, Rust and
 * AssemblyScript examples (resolvers/guest/internal/guesttest).
 */
#include "concord.h"

static int compare_lines(const void *a, const void *b) {
	return concord_compare(*(const concord_bytes *)a, *(const concord_bytes *)b);
}

static concord_status set_union(const concord_input *in) {
	uint32_t live = 0, max_lines = 0;
	for (uint32_t i = 0; i < in->count; i++) {
		const concord_sibling *s = &in->siblings[i];
		if (s->tombstone)
			continue;
		live++;
		max_lines++;
		for (uint32_t j = 0; j < s->value.len; j++)
			max_lines += s->value.ptr[j] == '\n';
	}
	if (live == 0)
		return CONCORD_DELETE;
	concord_bytes *lines = concord_alloc(max_lines * sizeof *lines);
	if (lines == NULL)
		return CONCORD_ERROR;
	uint32_t n = 0;
	for (uint32_t i = 0; i < in->count; i++) {
		const concord_sibling *s = &in->siblings[i];
		if (s->tombstone)
			continue;
		uint32_t start = 0;
		for (uint32_t j = 0; j <= s->value.len; j++) {
			if (j < s->value.len && s->value.ptr[j] != '\n')
				continue;
			if (j > start)
				lines[n++] = (concord_bytes){s->value.ptr + start, j - start};
			start = j + 1;
		}
	}
	if (!concord_sort(lines, n, sizeof *lines, compare_lines))
		return CONCORD_ERROR;
	for (uint32_t i = 0; i < n; i++) {
		if (i > 0 && concord_equal(lines[i], lines[i - 1]))
			continue;
		if ((i > 0 && !concord_write_byte('\n')) || !concord_write(lines[i].ptr, lines[i].len))
			return CONCORD_ERROR;
	}
	return CONCORD_OK;
}
CONCORD_RESOLVER(set_union)
