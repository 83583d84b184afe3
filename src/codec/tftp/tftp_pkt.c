#include "codec/tftp/tftp_pkt.h"

#include "base/cur.h"

#include <string.h>

/* A NUL-terminated string: the slice excludes the NUL. */
static int cur_cstr(struct cur *c, struct slice *out)
{
	size_t left = cur_left(c);
	const uint8_t *start = c->p + c->off;
	const uint8_t *nul;
	int err;

	if (!cur_ok(c)) {
		return -TL_ETRUNC;
	}
	nul = left ? memchr(start, 0, left) : NULL;
	if (!nul) {
		c->failed = true;
		return -TL_ETRUNC;
	}
	err = cur_bytes(c, (size_t)(nul - start), out);
	if (err) {
		return err;
	}
	return cur_skip(c, 1);
}

/* RFC 2347: option pairs follow until the end of the packet. */
static int parse_opts(struct cur *c, struct tftp_pkt *pkt)
{
	int err;

	while (cur_left(c) > 0) {
		struct tftp_opt o;

		if (pkt->nopts == TFTP_OPTS_MAX) {
			return -TL_ETOOBIG;
		}
		err = cur_cstr(c, &o.name);
		if (err) {
			return err;
		}
		err = cur_cstr(c, &o.value);
		if (err) {
			return err;
		}
		if (o.name.len == 0) {
			return -TL_EPARSE;
		}
		for (size_t i = 0; i < pkt->nopts; i++) {
			if (slice_eq_nocase(pkt->opts[i].name, o.name)) {
				return -TL_EDUP;
			}
		}
		pkt->opts[pkt->nopts++] = o;
	}
	return 0;
}

int tftp_pkt_parse(struct tftp_pkt *out, const uint8_t *p, size_t len)
{
	struct cur c;
	uint16_t op;
	int err;

	memset(out, 0, sizeof(*out));
	cur_init(&c, p, len);
	err = cur_u16be(&c, &op);
	if (err) {
		return err;
	}
	switch (op) {
	case TFTP_RRQ:
	case TFTP_WRQ:
		if (len > TFTP_REQ_MAX) {
			return -TL_ETOOBIG;
		}
		err = cur_cstr(&c, &out->file);
		if (err) {
			return err;
		}
		err = cur_cstr(&c, &out->mode);
		if (err) {
			return err;
		}
		if (out->file.len == 0 || out->mode.len == 0) {
			return -TL_EPARSE;
		}
		err = parse_opts(&c, out);
		break;
	case TFTP_DATA:
		err = cur_u16be(&c, &out->block);
		if (err) {
			return err;
		}
		if (cur_left(&c) > TFTP_DATA_MAX) {
			return -TL_ETOOBIG;
		}
		err = cur_bytes(&c, cur_left(&c), &out->data);
		break;
	case TFTP_ACK:
		err = cur_u16be(&c, &out->block);
		break;
	case TFTP_ERROR:
		err = cur_u16be(&c, &out->code);
		if (err) {
			return err;
		}
		err = cur_cstr(&c, &out->msg);
		if (err) {
			return err;
		}
		if (out->msg.len > TFTP_ERRMSG_MAX) {
			return -TL_ETOOBIG;
		}
		break;
	case TFTP_OACK:
		if (len > TFTP_REQ_MAX) {
			return -TL_ETOOBIG;
		}
		err = parse_opts(&c, out);
		if (!err && out->nopts == 0) {
			return -TL_EPARSE;
		}
		break;
	default:
		return -TL_EUNKNOWN;
	}
	if (err) {
		return err;
	}
	out->op = (enum tftp_op)op;
	return cur_end(&c);
}

enum tftp_mode tftp_mode_of(struct slice mode)
{
	if (slice_eq_str_nocase(mode, "octet")) {
		return TFTP_MODE_OCTET;
	}
	if (slice_eq_str_nocase(mode, "netascii")) {
		return TFTP_MODE_NETASCII;
	}
	if (slice_eq_str_nocase(mode, "mail")) {
		return TFTP_MODE_MAIL;
	}
	return TFTP_MODE_UNKNOWN;
}

struct slice tftp_pkt_opt(const struct tftp_pkt *pkt, const char *name)
{
	for (size_t i = 0; i < pkt->nopts; i++) {
		if (slice_eq_str_nocase(pkt->opts[i].name, name)) {
			return pkt->opts[i].value;
		}
	}
	return SLICE_NULL;
}

int tftp_opt_num(struct slice v, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t n = 0;

	if (v.len == 0) {
		return -TL_EPARSE;
	}
	if (v.len > 20) {
		return -TL_ETOOBIG;
	}
	for (size_t i = 0; i < v.len; i++) {
		unsigned d;

		if (v.p[i] < '0' || v.p[i] > '9') {
			return -TL_EPARSE;
		}
		d = (unsigned)(v.p[i] - '0');
		if (n > (UINT64_MAX - d) / 10) {
			return -TL_ETOOBIG;
		}
		n = n * 10 + d;
	}
	if (n > max) {
		return -TL_ETOOBIG;
	}
	if (n < min) {
		return -TL_EPOLICY;
	}
	*out = n;
	return 0;
}

static void put_opts(struct buf *b, const struct tftp_opt *opts, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		buf_put_slice(b, opts[i].name);
		buf_put_u8(b, 0);
		buf_put_slice(b, opts[i].value);
		buf_put_u8(b, 0);
	}
}

void tftp_put_req(struct buf *b, enum tftp_op op, const char *file,
                  const char *mode, const struct tftp_opt *opts, size_t nopts)
{
	buf_put_u16be(b, (uint16_t)op);
	buf_put_str(b, file);
	buf_put_u8(b, 0);
	buf_put_str(b, mode);
	buf_put_u8(b, 0);
	put_opts(b, opts, nopts);
}

void tftp_put_data(struct buf *b, uint16_t block, const void *data, size_t len)
{
	buf_put_u16be(b, TFTP_DATA);
	buf_put_u16be(b, block);
	buf_put(b, data, len);
}

void tftp_put_ack(struct buf *b, uint16_t block)
{
	buf_put_u16be(b, TFTP_ACK);
	buf_put_u16be(b, block);
}

void tftp_put_error(struct buf *b, uint16_t code, const char *msg)
{
	buf_put_u16be(b, TFTP_ERROR);
	buf_put_u16be(b, code);
	buf_put_str(b, msg);
	buf_put_u8(b, 0);
}

void tftp_put_oack(struct buf *b, const struct tftp_opt *opts, size_t nopts)
{
	buf_put_u16be(b, TFTP_OACK);
	put_opts(b, opts, nopts);
}

void tftp_hdr_data(uint8_t hdr[4], uint16_t block)
{
	hdr[0] = 0;
	hdr[1] = TFTP_DATA;
	hdr[2] = (uint8_t)(block >> 8);
	hdr[3] = (uint8_t)block;
}

void tftp_hdr_ack(uint8_t pkt[4], uint16_t block)
{
	pkt[0] = 0;
	pkt[1] = TFTP_ACK;
	pkt[2] = (uint8_t)(block >> 8);
	pkt[3] = (uint8_t)block;
}
