/*
 * counter: a state-based PN-counter. A value is
 *   {"p":{"<client id>":n,...},"n":{"<client id>":n,...}}
 * (either member may be missing; n are integers 0..2^53-1). The merge takes,
 * per client id, the maximum of p and the maximum of n, and prints
 * {"n":{...},"p":{...}} with ids sorted by UTF-8 bytes. The counter's value
 * is sum(p) - sum(n). Tombstones are ignored (all tombstones: DELETE); an
 * empty value is the zero counter; a duplicate key is an ERROR.
 */
#include "json.h"

typedef struct {
	concord_bytes id;
	uint64_t count;
} entry;

typedef struct {
	vec p, n;   /* entry, from every sibling */
	keyset ids; /* of the object being read */
} counters;

/* parse_counts reads {"<id>":n,...} into v. */
static bool parse_counts(json_reader *r, vec *v, keyset *ids) {
	entry e;
	uint32_t n = 0;
	json_object_begin(r);
	while (json_object_next(r, &n, &e.id))
		if (!keyset_add(ids, e.id) || !json_uint(r, &e.count) || !vec_push(v, &e, sizeof e))
			return false;
	return r->ok && keyset_unique(ids);
}

static bool parse(concord_bytes value, uint32_t index, void *state) {
	counters *c = state;
	json_reader r = json_reader_of(value);
	concord_bytes key;
	bool seen_p = false, seen_n = false;
	uint32_t n = 0;
	json_object_begin(&r);
	while (json_object_next(&r, &n, &key)) {
		bool *seen = json_key(key, "p") ? &seen_p : json_key(key, "n") ? &seen_n : NULL;
		if (seen == NULL || *seen)
			return false; /* an unknown or repeated member */
		*seen = true;
		if (!parse_counts(&r, seen == &seen_p ? &c->p : &c->n, &c->ids))
			return false;
	}
	return json_end(&r);
}

static int compare(const void *a, const void *b) {
	return concord_compare(((const entry *)a)->id, ((const entry *)b)->id);
}

/* write_max sorts v and prints, per id, the largest count. */
static bool write_max(vec *v) {
	entry *e = v->items;
	if (!concord_sort(e, v->len, sizeof *e, compare))
		return false;
	concord_write_byte('{');
	bool first = true;
	for (uint32_t i = 0; i < v->len; i++) {
		if (i + 1 < v->len && concord_equal(e[i + 1].id, e[i].id)) {
			if (e[i].count > e[i + 1].count)
				e[i + 1].count = e[i].count; /* carried to the last of the run */
			continue;
		}
		if (!first)
			concord_write_byte(',');
		first = false;
		json_write_string(e[i].id);
		concord_write_byte(':');
		json_write_uint(e[i].count);
	}
	concord_write_byte('}');
	return true;
}

static concord_status counter(const concord_input *in) {
	counters c = {{0}, {0}, {{0}, false}};
	concord_status st = parse_live(in, "a PN-counter {\"p\":{...},\"n\":{...}} (with unique ids)", parse, &c);
	if (st != CONCORD_OK)
		return st;
	json_write_raw("{\"n\":");
	if (!write_max(&c.n))
		return CONCORD_ERROR;
	json_write_raw(",\"p\":");
	if (!write_max(&c.p))
		return CONCORD_ERROR;
	concord_write_byte('}');
	return CONCORD_OK;
}
CONCORD_RESOLVER(counter)
