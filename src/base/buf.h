/* Growable output buffer for printers and file writers. Writes after an
 * allocation failure are ignored and remembered: check buf_err once. */
#ifndef TL_BUF_H
#define TL_BUF_H

#include "base/slice.h"
#include "base/tl_err.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct buf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max; /* 0: no limit */
	int err;
	bool ext; /* p is the caller's storage (buf_init_ext), not ours */
};

void buf_init(struct buf *b, size_t max);
/* Starts on the caller's storage mem (cap bytes, which must outlive the
 * buffer) and moves to the heap only when that is too small: a message
 * built on the stack costs no allocation. buf_free is still required. */
void buf_init_ext(struct buf *b, void *mem, size_t cap, size_t max);
/* Frees the bytes (wiping them first when secret is true). */
void buf_free(struct buf *b);
void buf_free_secret(struct buf *b);
void buf_reset(struct buf *b);
int buf_reserve(struct buf *b, size_t extra) TL_MUST_CHECK;
void buf_put(struct buf *b, const void *p, size_t n);
void buf_put_slice(struct buf *b, struct slice s);
/* Inline, so that the length of a literal is known at compile time. */
static inline void buf_put_str(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}
void buf_put_u8(struct buf *b, uint8_t v);
void buf_put_u16be(struct buf *b, uint16_t v);
void buf_put_u32be(struct buf *b, uint32_t v);
/* v in decimal ASCII, without printf. */
void buf_put_dec(struct buf *b, uint64_t v);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
/* Overwrite 2 bytes at off (for lengths patched in after the fact). */
void buf_set_u16be(struct buf *b, size_t off, uint16_t v);
int buf_err(const struct buf *b) TL_MUST_CHECK;
struct slice buf_slice(const struct buf *b);

#endif
