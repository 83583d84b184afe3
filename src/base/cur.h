/* Bounded cursor: every binary read goes through one. A failed read leaves
 * the cursor marked failed; later reads fail too, so a parser may check
 * once at the end (cur_ok) or after each read. */
#ifndef TL_CUR_H
#define TL_CUR_H

#include "base/slice.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cur {
	const uint8_t *p;
	size_t len;
	size_t off;
	bool failed;
};

void cur_init(struct cur *c, const uint8_t *p, size_t len);
size_t cur_left(const struct cur *c);
bool cur_ok(const struct cur *c);
int cur_u8(struct cur *c, uint8_t *v) TL_MUST_CHECK;
int cur_u16be(struct cur *c, uint16_t *v) TL_MUST_CHECK;
int cur_u32be(struct cur *c, uint32_t *v) TL_MUST_CHECK;
int cur_u32le(struct cur *c, uint32_t *v) TL_MUST_CHECK;
/* A slice of n bytes from the input (no copy). */
int cur_bytes(struct cur *c, size_t n, struct slice *out) TL_MUST_CHECK;
int cur_copy(struct cur *c, void *dst, size_t n) TL_MUST_CHECK;
int cur_skip(struct cur *c, size_t n) TL_MUST_CHECK;
/* A sub-cursor over the next n bytes; the parent moves past them. */
int cur_sub(struct cur *c, size_t n, struct cur *sub) TL_MUST_CHECK;
/* 0 if every byte was consumed and no read failed, else -TL_ETRAIL or the
 * first failure. */
int cur_end(const struct cur *c) TL_MUST_CHECK;

#endif
