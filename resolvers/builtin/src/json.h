/*
 * json.h: a small, strict JSON reader and writer for the built-in
 * resolvers' value formats — objects, arrays, strings and non-negative
 * integers, nothing else (no floats, negatives, true/false/null).
 *
 * The reader never recurses: each built-in walks its fixed shape with
 * json_object_next / json_array_next loops. Strings are validated as UTF-8
 * and decoded (escapes resolved); they alias the input when they contain no
 * escape, otherwise they live in the concord heap. Integers are limited to
 * 2^53-1, the largest every JSON implementation reads exactly.
 *
 * The writer prints compact JSON through concord_write: no whitespace,
 * strings with the shortest escapes ("\"", "\\", \b \f \n \r \t, \u00XX for
 * other control characters) and every other byte as is.
 */
#ifndef CONCORD_BUILTIN_JSON_H
#define CONCORD_BUILTIN_JSON_H

#include "concord.h"

#define JSON_MAX_INT 9007199254740991ull /* 2^53 - 1 */

typedef struct {
	const uint8_t *p, *end;
	bool ok; /* false after the first error; every call then fails */
} json_reader;

json_reader json_reader_of(concord_bytes b);

/* json_object_begin consumes '{'. json_object_next then returns true with
 * the next member's key, having consumed the key and ':' (the caller reads
 * the value), or false at the closing '}' (consumed) or on an error
 * (r->ok is false). *n counts members: start it at 0. */
bool json_object_begin(json_reader *r);
bool json_object_next(json_reader *r, uint32_t *n, concord_bytes *key);

/* Likewise for arrays: json_array_next returns true when an element follows. */
bool json_array_begin(json_reader *r);
bool json_array_next(json_reader *r, uint32_t *n);

bool json_string(json_reader *r, concord_bytes *out);
bool json_uint(json_reader *r, uint64_t *out);

/* json_end reports whether the whole input was read without error (only
 * whitespace may follow the value). */
bool json_end(json_reader *r);

/* Writers. Failures surface when resolve returns (concord_run). */
#define json_write_raw(lit) concord_write((lit), sizeof(lit) - 1) /* a string literal */
void json_write_string(concord_bytes s);
void json_write_uint(uint64_t v);

/* json_key reports whether key equals the string literal name. */
#define json_key(key, name) \
	concord_equal((key), (concord_bytes){(const uint8_t *)(name), sizeof(name) - 1})

/* A growable array in the concord heap. */
typedef struct {
	void *items;
	uint32_t len, cap;
} vec;

/* vec_push appends one element of the given size; false if out of memory. */
bool vec_push(vec *v, const void *elem, size_t size);

/* A keyset checks that an object has no duplicate keys: add each key, then
 * ask keyset_unique at the end of the object. Keys in strictly increasing
 * order (canonical values: every merge output) cost no more; others are
 * sorted and compared once. keyset_unique leaves the set empty for reuse. */
typedef struct {
	vec keys;
	bool unsorted;
} keyset;

bool keyset_add(keyset *k, concord_bytes key);
bool keyset_unique(keyset *k);

/* parse_live runs parse on the value of every live sibling that is not
 * empty (an empty value is the initial state: it contributes nothing) and
 * returns:
 *   CONCORD_DEFER  when there are no siblings,
 *   CONCORD_DELETE when every sibling is a tombstone,
 *   CONCORD_ERROR  when parse fails (a line naming the sibling and format is
 *                  logged),
 *   CONCORD_OK     otherwise: the caller writes the merge.
 * index is the sibling's position, for the caller's duplicate checks. */
typedef bool (*parse_fn)(concord_bytes value, uint32_t index, void *state);
concord_status parse_live(const concord_input *in, const char *format, parse_fn parse, void *state);

/* json_log_error logs a warning line explaining an ERROR status. */
void json_log_error(const char *msg);

#endif /* CONCORD_BUILTIN_JSON_H */
