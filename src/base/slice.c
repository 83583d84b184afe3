#include "base/slice.h"

#include "base/tl_err.h"

#include <string.h>

struct slice slice_from_str(const char *s)
{
	return (struct slice){(const uint8_t *)s, s ? strlen(s) : 0};
}

struct slice slice_make(const void *p, size_t len)
{
	return (struct slice){p, len};
}

bool slice_eq(struct slice a, struct slice b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

bool slice_eq_nocase(struct slice a, struct slice b)
{
	if (a.len != b.len) {
		return false;
	}
	for (size_t i = 0; i < a.len; i++) {
		if (lower(a.p[i]) != lower(b.p[i])) {
			return false;
		}
	}
	return true;
}

/* One pass, no strlen: most comparisons (header and parameter names
 * against a table) fail on the first byte. */
bool slice_eq_str(struct slice a, const char *s)
{
	if (!s) {
		return a.len == 0;
	}
	for (size_t i = 0; i < a.len; i++) {
		if (s[i] == '\0' || (uint8_t)s[i] != a.p[i]) {
			return false;
		}
	}
	return s[a.len] == '\0';
}

bool slice_eq_str_nocase(struct slice a, const char *s)
{
	if (!s) {
		return a.len == 0;
	}
	for (size_t i = 0; i < a.len; i++) {
		if (s[i] == '\0' || lower((uint8_t)s[i]) != lower(a.p[i])) {
			return false;
		}
	}
	return s[a.len] == '\0';
}

static bool is_ws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct slice slice_trim(struct slice s)
{
	while (s.len > 0 && is_ws(s.p[0])) {
		s.p++;
		s.len--;
	}
	while (s.len > 0 && is_ws(s.p[s.len - 1])) {
		s.len--;
	}
	return s;
}

long slice_find(struct slice s, uint8_t c)
{
	const uint8_t *hit = s.len ? memchr(s.p, c, s.len) : NULL;
	return hit ? (long)(hit - s.p) : -1;
}

int slice_to_u64(struct slice s, unsigned max_digits, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0) {
		return -TL_EPARSE;
	}
	if (s.len > max_digits || s.len > 19) {
		return -TL_ETOOBIG;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9') {
			return -TL_EPARSE;
		}
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return 0;
}

int slice_to_cstr(struct slice s, char *dst, size_t dstlen)
{
	if (dstlen == 0 || s.len >= dstlen) {
		return -TL_ETOOBIG;
	}
	if (s.len && memchr(s.p, 0, s.len)) {
		return -TL_EPARSE;
	}
	if (s.len) {
		memcpy(dst, s.p, s.len);
	}
	dst[s.len] = '\0';
	return 0;
}
