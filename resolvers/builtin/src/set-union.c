/*
 * set-union: values are JSON arrays of strings; the merge is their union,
 * sorted by UTF-8 bytes, without duplicates, as a compact JSON array.
 * Tombstones contribute nothing (all tombstones: DELETE); an empty value is
 * the empty set; anything else is an ERROR.
 */
#include "json.h"

static bool parse(concord_bytes value, uint32_t index, void *state) {
	vec *all = state;
	json_reader r = json_reader_of(value);
	concord_bytes s;
	uint32_t n = 0;
	json_array_begin(&r);
	while (json_array_next(&r, &n))
		if (!json_string(&r, &s) || !vec_push(all, &s, sizeof s))
			return false;
	return json_end(&r);
}

static int compare(const void *a, const void *b) {
	return concord_compare(*(const concord_bytes *)a, *(const concord_bytes *)b);
}

static concord_status set_union(const concord_input *in) {
	vec all = {0};
	concord_status st = parse_live(in, "a JSON array of strings", parse, &all);
	if (st != CONCORD_OK)
		return st;
	concord_bytes *s = all.items;
	if (!concord_sort(s, all.len, sizeof *s, compare))
		return CONCORD_ERROR;
	concord_write_byte('[');
	for (uint32_t i = 0; i < all.len; i++) {
		if (i > 0 && concord_equal(s[i], s[i - 1]))
			continue;
		if (i > 0)
			concord_write_byte(',');
		json_write_string(s[i]);
	}
	concord_write_byte(']');
	return CONCORD_OK;
}
CONCORD_RESOLVER(set_union)
