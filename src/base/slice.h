/* Slices: a pointer and a length into someone else's buffer.
 * A slice never owns its bytes and is never NUL-terminated. */
#ifndef TL_SLICE_H
#define TL_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct slice {
	const uint8_t *p;
	size_t len;
};

#define SLICE_LIT(s) ((struct slice){(const uint8_t *)(s), sizeof(s) - 1})
#define SLICE_NULL ((struct slice){NULL, 0})

struct slice slice_from_str(const char *s);
struct slice slice_make(const void *p, size_t len);
bool slice_eq(struct slice a, struct slice b);
/* ASCII case-insensitive comparison, as SIP tokens and header names are. */
bool slice_eq_nocase(struct slice a, struct slice b);
bool slice_eq_str(struct slice a, const char *s);
bool slice_eq_str_nocase(struct slice a, const char *s);
/* Strip SP/HTAB/CR/LF from both ends. */
struct slice slice_trim(struct slice s);
/* First index of byte c, or -1. */
long slice_find(struct slice s, uint8_t c);
/* Parse an unsigned decimal of at most max_digits digits, whole slice. */
int slice_to_u64(struct slice s, unsigned max_digits, uint64_t *out)
	__attribute__((warn_unused_result));
/* Copy into dst as a NUL-terminated string; fails if it does not fit or
 * the slice holds a NUL byte. */
int slice_to_cstr(struct slice s, char *dst, size_t dstlen)
	__attribute__((warn_unused_result));

#endif
