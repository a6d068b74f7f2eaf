/* longest.c: the longest live value wins; ties go to the greatest bytes, so
 * the result does not depend on sibling order. Only tombstones: DELETE. */
#include "concord.h"

static concord_status longest(const concord_input *in) {
	const concord_sibling *best = NULL;
	for (uint32_t i = 0; i < in->count; i++) {
		const concord_sibling *s = &in->siblings[i];
		if (!s->tombstone && (best == NULL || s->value.len > best->value.len ||
		    (s->value.len == best->value.len && concord_compare(s->value, best->value) > 0)))
			best = s;
	}
	if (in->count == 0)
		return CONCORD_DEFER;
	return best ? concord_output(best->value.ptr, best->value.len) : CONCORD_DELETE;
}
CONCORD_RESOLVER(longest)
