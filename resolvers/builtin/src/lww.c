/*
 * lww: last writer wins. The sibling with the greatest timestamp wins; at
 * equal timestamps the greater value bytes win, and a tombstone beats an
 * empty value, so the winner does not depend on sibling order. A winning
 * tombstone yields DELETE; no siblings, DEFER. Values are opaque bytes.
 */
#include "concord.h"

/* beats reports whether a wins over b. */
static bool beats(const concord_sibling *a, const concord_sibling *b) {
	if (a->timestamp != b->timestamp)
		return a->timestamp > b->timestamp;
	int c = concord_compare(a->value, b->value);
	if (c != 0)
		return c > 0;
	return a->tombstone && !b->tombstone;
}

static concord_status lww(const concord_input *in) {
	if (in->count == 0)
		return CONCORD_DEFER;
	const concord_sibling *w = &in->siblings[0];
	for (uint32_t i = 1; i < in->count; i++)
		if (beats(&in->siblings[i], w))
			w = &in->siblings[i];
	if (w->tombstone)
		return CONCORD_DELETE;
	return concord_output(w->value.ptr, w->value.len);
}
CONCORD_RESOLVER(lww)
