#include "base/cur.h"

#include <string.h>

void cur_init(struct cur *c, const uint8_t *p, size_t len)
{
	c->p = p;
	c->len = p ? len : 0;
	c->off = 0;
	c->failed = false;
}

size_t cur_left(const struct cur *c)
{
	return c->failed ? 0 : c->len - c->off;
}

bool cur_ok(const struct cur *c)
{
	return !c->failed;
}

static int need(struct cur *c, size_t n)
{
	if (c->failed || n > c->len - c->off) {
		c->failed = true;
		return -TL_ETRUNC;
	}
	return 0;
}

int cur_u8(struct cur *c, uint8_t *v)
{
	int err = need(c, 1);

	if (err) {
		return err;
	}
	*v = c->p[c->off++];
	return 0;
}

int cur_u16be(struct cur *c, uint16_t *v)
{
	int err = need(c, 2);

	if (err) {
		return err;
	}
	*v = (uint16_t)((c->p[c->off] << 8) | c->p[c->off + 1]);
	c->off += 2;
	return 0;
}

int cur_u32be(struct cur *c, uint32_t *v)
{
	int err = need(c, 4);
	const uint8_t *q = c->p + c->off;

	if (err) {
		return err;
	}
	*v = ((uint32_t)q[0] << 24) | ((uint32_t)q[1] << 16) |
	     ((uint32_t)q[2] << 8) | q[3];
	c->off += 4;
	return 0;
}

int cur_u32le(struct cur *c, uint32_t *v)
{
	int err = need(c, 4);
	const uint8_t *q = c->p + c->off;

	if (err) {
		return err;
	}
	*v = ((uint32_t)q[3] << 24) | ((uint32_t)q[2] << 16) |
	     ((uint32_t)q[1] << 8) | q[0];
	c->off += 4;
	return 0;
}

int cur_bytes(struct cur *c, size_t n, struct slice *out)
{
	int err = need(c, n);

	if (err) {
		return err;
	}
	out->p = c->p + c->off;
	out->len = n;
	c->off += n;
	return 0;
}

int cur_copy(struct cur *c, void *dst, size_t n)
{
	struct slice s;
	int err = cur_bytes(c, n, &s);

	if (err) {
		return err;
	}
	if (n) {
		memcpy(dst, s.p, n);
	}
	return 0;
}

int cur_skip(struct cur *c, size_t n)
{
	struct slice s;

	return cur_bytes(c, n, &s);
}

int cur_sub(struct cur *c, size_t n, struct cur *sub)
{
	struct slice s;
	int err = cur_bytes(c, n, &s);

	if (err) {
		return err;
	}
	cur_init(sub, s.p, s.len);
	return 0;
}

int cur_end(const struct cur *c)
{
	if (c->failed) {
		return -TL_ETRUNC;
	}
	return c->off == c->len ? 0 : -TL_ETRAIL;
}
