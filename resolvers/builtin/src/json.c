/* json.c: see json.h. */
#include "json.h"

json_reader json_reader_of(concord_bytes b) {
	json_reader r = {b.ptr, b.ptr + b.len, true};
	return r;
}

static bool fail(json_reader *r) {
	r->ok = false;
	return false;
}

static inline bool is_ws(const json_reader *r) {
	return r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r');
}

__attribute__((noinline)) static void skip_ws_loop(json_reader *r) {
	while (is_ws(r))
		r->p++;
}

/* skip_ws enters no loop on compact JSON: a loop iteration is not free
 * (wazero checks for a deadline at every loop header; see the C guest
 * README), and the compiler would test the first byte inside the loop. */
static inline void skip_ws(json_reader *r) {
	if (is_ws(r))
		skip_ws_loop(r);
}

/* peek skips whitespace and returns the next byte, or -1 at the end. */
static int peek(json_reader *r) {
	skip_ws(r);
	return r->p < r->end ? *r->p : -1;
}

static bool expect(json_reader *r, uint8_t c) {
	if (!r->ok || peek(r) != c)
		return fail(r);
	r->p++;
	return true;
}

bool json_object_begin(json_reader *r) { return expect(r, '{'); }
bool json_array_begin(json_reader *r) { return expect(r, '['); }

/* next handles what comes before a member or element: the closing bracket,
 * or (after the first) a comma. */
static bool next(json_reader *r, uint32_t *n, uint8_t close) {
	if (!r->ok)
		return false;
	int c = peek(r);
	if (c == close) {
		r->p++;
		return false;
	}
	if (*n > 0 && !expect(r, ','))
		return false;
	if (*n == 0 && c == ',')
		return fail(r);
	(*n)++;
	return true;
}

bool json_object_next(json_reader *r, uint32_t *n, concord_bytes *key) {
	return next(r, n, '}') && json_string(r, key) && expect(r, ':');
}

bool json_array_next(json_reader *r, uint32_t *n) { return next(r, n, ']'); }

bool json_end(json_reader *r) {
	skip_ws(r);
	return r->ok && r->p == r->end;
}

/* utf8_len returns the length of the well-formed UTF-8 sequence at p
 * (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF), or 0. */
static uint32_t utf8_len(const uint8_t *p, const uint8_t *end) {
	uint8_t c = p[0];
	uint32_t n;
	uint8_t lo = 0x80, hi = 0xBF; /* range of the second byte */
	if (c < 0x80)
		return 1;
	else if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if ((uint32_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	if (n >= 3 && (p[2] & 0xC0) != 0x80)
		return 0;
	if (n == 4 && (p[3] & 0xC0) != 0x80)
		return 0;
	return n;
}

/* SWAR: test eight bytes per loop iteration (a loop iteration costs a call
 * into the host under wazero's deadline checks; see the C guest README).
 * word loads up to eight bytes at p, never past end; missing bytes are 0. */
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

static inline uint64_t word(const uint8_t *p, const uint8_t *end) {
	return concord_load64(p, (uint32_t)(end - p));
}

/* below flags the bytes of v below c (c <= 0x80); eq, those equal to c.
 * Only the lowest flag is exact (borrows may flag bytes above it), which is
 * all the callers use. */
static inline uint64_t below(uint64_t v, uint8_t c) { return (v - ONES * c) & ~v & HIGHS; }
static inline uint64_t eq(uint64_t v, uint8_t c) { return below(v ^ (ONES * c), 1); }

/* first_flag returns the index of the lowest flagged byte (flags != 0). */
static inline uint32_t first_flag(uint64_t flags) { return (uint32_t)__builtin_ctzll(flags) / 8; }

static int hex4(const uint8_t *p, const uint8_t *end) {
	if (end - p < 4)
		return -1;
	int v = 0;
	for (int i = 0; i < 4; i++) {
		uint8_t c = p[i];
		int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
		if (d < 0)
			return -1;
		v = v << 4 | d;
	}
	return v;
}

/* put_utf8 encodes code point cp at q and returns the byte count. */
static uint32_t put_utf8(uint8_t *q, uint32_t cp) {
	if (cp < 0x80) {
		q[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		q[0] = (uint8_t)(0xC0 | cp >> 6);
		q[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		q[0] = (uint8_t)(0xE0 | cp >> 12);
		q[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		q[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	q[0] = (uint8_t)(0xF0 | cp >> 18);
	q[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
	q[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
	q[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* decode_escape reads the escape after a backslash at *pp, writes its bytes
 * at q and returns their count, or 0 for an invalid escape. */
static uint32_t decode_escape(const uint8_t **pp, const uint8_t *end, uint8_t *q) {
	const uint8_t *p = *pp;
	if (p >= end)
		return 0;
	uint8_t c = *p++;
	*pp = p;
	switch (c) {
	case '"': case '\\': case '/': *q = c; return 1;
	case 'b': *q = '\b'; return 1;
	case 'f': *q = '\f'; return 1;
	case 'n': *q = '\n'; return 1;
	case 'r': *q = '\r'; return 1;
	case 't': *q = '\t'; return 1;
	case 'u': break;
	default: return 0;
	}
	int cp = hex4(p, end);
	if (cp < 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
		return 0; /* a lone low surrogate */
	p += 4;
	if (cp >= 0xD800 && cp <= 0xDBFF) { /* a high surrogate: \uDC00-\uDFFF must follow */
		if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
			return 0;
		int lo = hex4(p + 2, end);
		if (lo < 0xDC00 || lo > 0xDFFF)
			return 0;
		p += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	*pp = p;
	return put_utf8(q, (uint32_t)cp);
}

/* string_slow reads the rest of a string whose opening quote is consumed:
 * validation, escapes, long strings. */
__attribute__((noinline)) static bool string_slow(json_reader *r, concord_bytes *out) {
	/* First pass: validate and find the end; note whether there are escapes.
	 * Plain ASCII is skipped eight bytes at a time. */
	const uint8_t *start = r->p, *p = r->p;
	bool escaped = false;
	for (;;) {
		if (p >= r->end)
			return fail(r); /* unterminated */
		uint64_t v = word(p, r->end);
		uint64_t flags = eq(v, '"') | eq(v, '\\') | below(v, 0x20) | (v & HIGHS);
		if (flags == 0) {
			p += 8;
			continue;
		}
		p += first_flag(flags);
		if (p >= r->end || *p < 0x20)
			return fail(r); /* unterminated (the padding), or a raw control character */
		if (*p == '"')
			break;
		if (*p == '\\') {
			escaped = true;
			p += 2; /* the escape is checked by the second pass */
			continue;
		}
		uint32_t n = utf8_len(p, r->end);
		if (n == 0)
			return fail(r);
		p += n;
	}
	if (p > r->end) /* a backslash was the last byte */
		return fail(r);
	r->p = p + 1;
	if (!escaped) {
		out->ptr = start;
		out->len = (uint32_t)(p - start);
		return true;
	}
	/* Second pass: decode. Escapes never grow: the raw length is enough. */
	uint8_t *buf = concord_alloc((size_t)(p - start));
	if (buf == NULL)
		return fail(r);
	uint32_t len = 0;
	for (const uint8_t *s = start; s < p;) {
		if (*s == '\\') {
			s++;
			uint32_t n = decode_escape(&s, p, buf + len);
			if (n == 0)
				return fail(r);
			len += n;
		} else {
			buf[len++] = *s++;
		}
	}
	out->ptr = buf;
	out->len = len;
	return true;
}

bool json_string(json_reader *r, concord_bytes *out) {
	if (!expect(r, '"'))
		return false;
	/* Fast path, no loop: plain ASCII closed within 16 bytes. */
	const uint8_t *p = r->p;
#pragma clang loop unroll(full)
	for (uint32_t i = 0; i < 2; i++) {
		uint64_t v = word(p + 8 * i, r->end);
		uint64_t flags = eq(v, '"') | eq(v, '\\') | below(v, 0x20) | (v & HIGHS);
		if (flags == 0)
			continue;
		const uint8_t *q = p + 8 * i + first_flag(flags);
		if (q >= r->end || *q != '"')
			break;
		out->ptr = p;
		out->len = (uint32_t)(q - p);
		r->p = q + 1;
		return true;
	}
	return string_slow(r, out);
}

static inline bool is_digit(const json_reader *r, const uint8_t *p) {
	return p < r->end && *p >= '0' && *p <= '9';
}

bool json_uint(json_reader *r, uint64_t *out) {
	if (!r->ok)
		return false;
	if (peek(r) < '0' || peek(r) > '9')
		return fail(r); /* also refuses '-': counts are non-negative */
	/* Up to 8 digits without a loop (the unrolled ones are straight code). */
	const uint8_t *start = r->p;
	uint32_t k = 0;
#pragma clang loop unroll(full)
	for (uint32_t i = 0; i < 8; i++)
		if (k == i && is_digit(r, start + i))
			k = i + 1;
	uint64_t v = 0;
#pragma clang loop unroll(full)
	for (uint32_t i = 0; i < 8; i++)
		if (i < k)
			v = v * 10 + (uint64_t)(start[i] - '0');
	r->p = start + k;
	while (is_digit(r, r->p)) { /* 9 digits or more */
		v = v * 10 + (uint64_t)(*r->p++ - '0');
		if (v > JSON_MAX_INT)
			return fail(r);
	}
	if (*start == '0' && r->p - start > 1)
		return fail(r); /* a leading zero */
	if (r->p < r->end && (*r->p == '.' || *r->p == 'e' || *r->p == 'E'))
		return fail(r); /* not an integer */
	*out = v;
	return true;
}

static inline uint64_t needs_escape(uint64_t v) {
	return eq(v, '"') | eq(v, '\\') | below(v, 0x20);
}

__attribute__((noinline)) static void write_string_slow(concord_bytes s) {
	static const char hex[] = "0123456789abcdef";
	const uint8_t *p = s.ptr, *end = s.ptr + s.len;
	while (p < end) {
		/* Find the next byte to escape, eight bytes at a time. */
		uint64_t v = word(p, end);
		uint64_t flags = needs_escape(v);
		uint32_t run = flags == 0 ? 8 : first_flag(flags);
		if (run > (uint32_t)(end - p))
			run = (uint32_t)(end - p); /* a flag on the padding */
		concord_write(p, run);
		p += run;
		if (flags == 0 || p == end)
			continue;
		uint8_t c = *p++;
		char esc[6] = {'\\', 0, 0, 0, 0, 0};
		size_t n = 2;
		switch (c) {
		case '"': esc[1] = '"'; break;
		case '\\': esc[1] = '\\'; break;
		case '\b': esc[1] = 'b'; break;
		case '\f': esc[1] = 'f'; break;
		case '\n': esc[1] = 'n'; break;
		case '\r': esc[1] = 'r'; break;
		case '\t': esc[1] = 't'; break;
		default:
			esc[1] = 'u';
			esc[2] = '0';
			esc[3] = '0';
			esc[4] = hex[c >> 4];
			esc[5] = hex[c & 15];
			n = 6;
		}
		concord_write(esc, n);
	}
}

void json_write_string(concord_bytes s) {
	concord_write_byte('"');
	/* Fast path, no loop: up to 16 bytes with nothing to escape. The flags
	 * on the zero padding past the end do not count. */
	uint64_t mask = s.len >= 16 ? ~0ull : s.len > 8 ? ~0ull >> (64 - 8 * (s.len - 8)) : 0;
	uint64_t mask0 = s.len >= 8 ? ~0ull : s.len == 0 ? 0 : ~0ull >> (64 - 8 * s.len);
	if (s.len <= 16 &&
	    (needs_escape(concord_load64(s.ptr, s.len)) & mask0 & HIGHS) == 0 &&
	    (s.len <= 8 || (needs_escape(concord_load64(s.ptr + 8, s.len - 8)) & mask & HIGHS) == 0))
		concord_write(s.ptr, s.len);
	else
		write_string_slow(s);
	concord_write_byte('"');
}

void json_write_uint(uint64_t v) {
	if (v < 10) {
		concord_write_byte((uint8_t)('0' + v));
		return;
	}
	char buf[20];
	size_t i = sizeof buf;
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	concord_write(buf + i, sizeof buf - i);
}

bool vec_push(vec *v, const void *elem, size_t size) {
	if (v->len == v->cap) {
		uint32_t cap = v->cap == 0 ? 16 : v->cap * 2;
		if (cap < v->cap || (size_t)cap > SIZE_MAX / size)
			return false;
		void *items = concord_realloc(v->items, (size_t)v->cap * size, (size_t)cap * size);
		if (items == NULL)
			return false;
		v->items = items;
		v->cap = cap;
	}
	__builtin_memcpy((uint8_t *)v->items + (size_t)v->len * size, elem, size);
	v->len++;
	return true;
}

bool keyset_add(keyset *k, concord_bytes key) {
	if (k->keys.len > 0 && concord_compare(((const concord_bytes *)k->keys.items)[k->keys.len - 1], key) >= 0)
		k->unsorted = true;
	return vec_push(&k->keys, &key, sizeof key);
}

static int compare_bytes(const void *a, const void *b) {
	return concord_compare(*(const concord_bytes *)a, *(const concord_bytes *)b);
}

bool keyset_unique(keyset *k) {
	bool unique = true;
	if (k->unsorted) {
		const concord_bytes *s = k->keys.items;
		unique = concord_sort(k->keys.items, k->keys.len, sizeof *s, compare_bytes);
		for (uint32_t i = 1; unique && i < k->keys.len; i++)
			unique = !concord_equal(s[i - 1], s[i]);
	}
	k->keys.len = 0;
	k->unsorted = false;
	return unique;
}

/* A log line under construction. */
typedef struct {
	char b[160];
	size_t n;
} line;

static void line_str(line *l, const char *s) {
	while (*s != 0 && l->n < sizeof l->b)
		l->b[l->n++] = *s++;
}

static void line_uint(line *l, uint32_t v) {
	char d[10];
	size_t k = sizeof d;
	do {
		d[--k] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (k < sizeof d && l->n < sizeof l->b)
		l->b[l->n++] = d[k++];
}

concord_status parse_live(const concord_input *in, const char *format, parse_fn parse, void *state) {
	if (in->count == 0)
		return CONCORD_DEFER;
	bool live = false;
	for (uint32_t i = 0; i < in->count; i++) {
		const concord_sibling *s = &in->siblings[i];
		if (s->tombstone)
			continue;
		live = true;
		if (s->value.len > 0 && !parse(s->value, i, state)) {
			line l = {.n = 0};
			line_str(&l, "sibling ");
			line_uint(&l, i);
			line_str(&l, " is not ");
			line_str(&l, format);
			concord_log(CONCORD_WARN, l.b, l.n);
			return CONCORD_ERROR;
		}
	}
	return live ? CONCORD_OK : CONCORD_DELETE;
}

void json_log_error(const char *msg) {
	line l = {.n = 0};
	line_str(&l, msg);
	concord_log(CONCORD_WARN, l.b, l.n);
}
