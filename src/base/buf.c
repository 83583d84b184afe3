#include "base/buf.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void buf_init_ext(struct buf *b, void *mem, size_t cap, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	if (mem && cap) {
		b->p = mem;
		b->cap = max && cap > max ? max : cap;
		b->ext = true;
	}
}

void buf_free(struct buf *b)
{
	if (!b->ext) {
		free(b->p);
	}
	b->p = NULL;
	b->len = b->cap = 0;
	b->ext = false;
}

void buf_free_secret(struct buf *b)
{
	if (b->p) {
		OPENSSL_cleanse(b->p, b->cap);
	}
	buf_free(b);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->err = 0;
}

int buf_reserve(struct buf *b, size_t extra)
{
	size_t want;
	uint8_t *np;

	if (b->err) {
		return b->err;
	}
	if (extra > SIZE_MAX - b->len) {
		return b->err = -TL_ETOOBIG;
	}
	want = b->len + extra;
	if (b->max && want > b->max) {
		return b->err = -TL_ETOOBIG;
	}
	if (want <= b->cap) {
		return 0;
	}
	size_t ncap = b->cap ? b->cap : 256;
	while (ncap < want) {
		ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
	}
	if (b->max && ncap > b->max) {
		ncap = b->max;
	}
	if (b->ext) {
		/* off the caller's storage, which stays as it is */
		np = malloc(ncap);
		if (np && b->len) {
			memcpy(np, b->p, b->len);
		}
	} else {
		np = realloc(b->p, ncap);
	}
	if (!np) {
		return b->err = -ENOMEM;
	}
	b->p = np;
	b->ext = false;
	b->cap = ncap;
	return 0;
}

void buf_put(struct buf *b, const void *p, size_t n)
{
	if (n == 0 || buf_reserve(b, n)) {
		return;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_put_slice(struct buf *b, struct slice s)
{
	buf_put(b, s.p, s.len);
}

void buf_put_u8(struct buf *b, uint8_t v)
{
	buf_put(b, &v, 1);
}

void buf_put_u16be(struct buf *b, uint16_t v)
{
	uint8_t q[2] = {(uint8_t)(v >> 8), (uint8_t)v};

	buf_put(b, q, 2);
}

void buf_put_u32be(struct buf *b, uint32_t v)
{
	uint8_t q[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16),
			(uint8_t)(v >> 8), (uint8_t)v};

	buf_put(b, q, 4);
}

void buf_put_dec(struct buf *b, uint64_t v)
{
	char d[20];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	buf_put(b, d + n, sizeof(d) - n);
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	size_t room = b->cap - b->len;
	va_list ap2;
	int n;

	if (b->err) {
		return;
	}
	/* One pass when it fits in what is already allocated. */
	va_copy(ap2, ap);
	n = vsnprintf(room ? (char *)b->p + b->len : NULL, room, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->err = -TL_EPARSE;
		return;
	}
	if ((size_t)n < room) {
		if (b->max && b->len + (size_t)n > b->max) {
			b->err = -TL_ETOOBIG;
			return;
		}
		b->len += (size_t)n;
		return;
	}
	if (buf_reserve(b, (size_t)n + 1)) {
		return;
	}
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void buf_set_u16be(struct buf *b, size_t off, uint16_t v)
{
	if (b->err || off + 2 > b->len) {
		return;
	}
	b->p[off] = (uint8_t)(v >> 8);
	b->p[off + 1] = (uint8_t)v;
}

int buf_err(const struct buf *b)
{
	return b->err;
}

struct slice buf_slice(const struct buf *b)
{
	return (struct slice){b->p, b->len};
}
