/*
 * shopping-cart: an add-wins cart with per-item quantities (an
 * observed-remove map). A value is
 *   {"items":{"<sku>":{"<tag>":qty,...},...},"removed":["<tag>",...]}
 * Each add (or quantity change) of an item is a fresh, unique tag carrying
 * the quantity; removing an item moves its tags to "removed". The merge is
 * the union of tags per item (a tag's quantity: the largest seen) and the
 * union of removed tags; an item is present iff it has a tag not in removed,
 * and its quantity is the largest among those tags (the client reads it).
 * The output is canonical: keys and tags sorted by UTF-8 bytes, removed tags
 * dropped from items, dead items dropped, the removed set kept.
 *
 * Every step is a union, a max or a filter by a set that only grows, so the
 * merge is commutative, associative and idempotent. Tombstones are ignored
 * (all tombstones: DELETE); an empty value is the empty cart; a duplicate key
 * is an ERROR. See ../README.md for the client operations.
 */
#include "json.h"

typedef struct {
	concord_bytes sku, tag;
	uint64_t qty;
} tagged;

typedef struct {
	vec tags;        /* tagged: every (sku, tag) of every sibling */
	vec removed;     /* concord_bytes */
	keyset skus, ts; /* of the objects being read */
	uint64_t filter[4]; /* a Bloom filter of removed tags, 1 hash */
} cart;

/* parse_items reads {"<sku>":{"<tag>":qty,...},...}. */
static bool parse_items(json_reader *r, cart *c) {
	tagged t;
	uint32_t n = 0;
	json_object_begin(r);
	while (json_object_next(r, &n, &t.sku)) {
		if (!keyset_add(&c->skus, t.sku))
			return false;
		uint32_t m = 0;
		json_object_begin(r);
		while (json_object_next(r, &m, &t.tag))
			if (!keyset_add(&c->ts, t.tag) || !json_uint(r, &t.qty) || !vec_push(&c->tags, &t, sizeof t))
				return false;
		if (!r->ok || !keyset_unique(&c->ts))
			return false;
	}
	return r->ok && keyset_unique(&c->skus);
}

static bool parse_removed(json_reader *r, cart *c) {
	concord_bytes tag;
	uint32_t n = 0;
	json_array_begin(r);
	while (json_array_next(r, &n))
		if (!json_string(r, &tag) || !vec_push(&c->removed, &tag, sizeof tag))
			return false;
	return r->ok;
}

static bool parse(concord_bytes value, uint32_t index, void *state) {
	cart *c = state;
	json_reader r = json_reader_of(value);
	concord_bytes key;
	bool seen_items = false, seen_removed = false;
	uint32_t n = 0;
	json_object_begin(&r);
	while (json_object_next(&r, &n, &key)) {
		bool *seen = json_key(key, "items") ? &seen_items : json_key(key, "removed") ? &seen_removed : NULL;
		if (seen == NULL || *seen)
			return false; /* an unknown or repeated member */
		*seen = true;
		if (!(seen == &seen_items ? parse_items(&r, c) : parse_removed(&r, c)))
			return false;
	}
	return json_end(&r);
}

static int compare_tagged(const void *a, const void *b) {
	const tagged *x = a, *y = b;
	int c = concord_compare(x->sku, y->sku);
	return c != 0 ? c : concord_compare(x->tag, y->tag);
}

static int compare_bytes(const void *a, const void *b) {
	return concord_compare(*(const concord_bytes *)a, *(const concord_bytes *)b);
}

/* hash picks a filter bit from a tag's first and last 8 bytes and length. */
static uint32_t hash(concord_bytes tag) {
	uint64_t h = concord_load64(tag.ptr, tag.len) ^ tag.len;
	if (tag.len > 8)
		h ^= concord_load64(tag.ptr + tag.len - 8, 8) * 0xff51afd7ed558ccdull;
	return (uint32_t)((h * 0x9e3779b97f4a7c15ull) >> 56);
}

/* is_removed reports whether tag is in the sorted removed set. */
static bool is_removed(const cart *c, concord_bytes tag) {
	uint32_t h = hash(tag);
	if ((c->filter[h >> 6] & (1ull << (h & 63))) == 0)
		return false; /* most tags: no search */
	const concord_bytes *s = c->removed.items;
	uint32_t lo = 0, hi = c->removed.len;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int cmp = concord_compare(s[mid], tag);
		if (cmp == 0)
			return true;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

static void fill_filter(cart *c) {
	const concord_bytes *s = c->removed.items;
	for (uint32_t i = 0; i < c->removed.len; i++) {
		uint32_t h = hash(s[i]);
		c->filter[h >> 6] |= 1ull << (h & 63);
	}
}

/* write_removed prints the sorted removed set without duplicates. */
static void write_removed(const cart *c) {
	const concord_bytes *s = c->removed.items;
	concord_write_byte('[');
	for (uint32_t i = 0; i < c->removed.len; i++) {
		if (i > 0 && concord_equal(s[i], s[i - 1]))
			continue;
		if (i > 0)
			concord_write_byte(',');
		json_write_string(s[i]);
	}
	concord_write_byte(']');
}

/* write_items prints the live tags of the sorted tags, grouped by sku. */
static void write_items(const cart *c) {
	tagged *t = c->tags.items;
	const tagged *open = NULL; /* the item being written */
	concord_write_byte('{');
	for (uint32_t i = 0; i < c->tags.len; i++) {
		if (i + 1 < c->tags.len && compare_tagged(&t[i + 1], &t[i]) == 0) {
			if (t[i].qty > t[i + 1].qty)
				t[i + 1].qty = t[i].qty; /* carried to the last of the run */
			continue;
		}
		if (is_removed(c, t[i].tag))
			continue;
		if (open != NULL && concord_equal(open->sku, t[i].sku))
			concord_write_byte(',');
		else {
			if (open != NULL)
				json_write_raw("},");
			json_write_string(t[i].sku);
			json_write_raw(":{");
			open = &t[i];
		}
		json_write_string(t[i].tag);
		concord_write_byte(':');
		json_write_uint(t[i].qty);
	}
	if (open != NULL)
		concord_write_byte('}');
	concord_write_byte('}');
}

static concord_status shopping_cart(const concord_input *in) {
	cart c = {0};
	concord_status st = parse_live(in, "a cart {\"items\":{...},\"removed\":[...]} (with unique keys)", parse, &c);
	if (st != CONCORD_OK)
		return st;
	if (!concord_sort(c.tags.items, c.tags.len, sizeof(tagged), compare_tagged) ||
	    !concord_sort(c.removed.items, c.removed.len, sizeof(concord_bytes), compare_bytes))
		return CONCORD_ERROR;
	fill_filter(&c);
	json_write_raw("{\"items\":");
	write_items(&c);
	json_write_raw(",\"removed\":");
	write_removed(&c);
	concord_write_byte('}');
	return CONCORD_OK;
}
CONCORD_RESOLVER(shopping_cart)
