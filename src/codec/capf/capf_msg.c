/* CAPF message parser and printer (reference/cisco-formats.md §4.2). */
#include "codec/capf/capf_msg.h"

#include "base/cur.h"

#include <string.h>

int capf_frame(const uint8_t *p, size_t len, size_t *msg_len)
{
	if (len == 0) {
		return 0;
	}
	if (p[0] != CAPF_PROTO_ID) {
		return -TL_EPARSE;
	}
	if (len < CAPF_HDR_LEN) {
		return 0;
	}
	size_t total = CAPF_HDR_LEN + (((size_t)p[6] << 8) | p[7]);
	if (len < total) {
		return 0;
	}
	*msg_len = total;
	return 1;
}

/* Fixed sizes (0: variable) and limits of the elements we know. */
static size_t tag_fixed(unsigned tag)
{
	switch (tag) {
	case CAPF_T_REASON:
	case CAPF_T_CERT_TYPE:
	case CAPF_T_VERSION:
	case CAPF_T_AUTH_TYPE:
	case CAPF_T_KEY_TYPE:
	case CAPF_T_CURVE:
		return 1;
	case CAPF_T_KEY_SIZE:
		return 2;
	default:
		return 0;
	}
}

static size_t tag_max(unsigned tag)
{
	switch (tag) {
	case CAPF_T_DEVICE_NAME:
		return CAPF_NAME_MAX;
	case CAPF_T_PASSWORD:
		return CAPF_PASS_MAX;
	case CAPF_T_CERTIFICATE:
		return CAPF_CERT_MAX;
	case CAPF_T_PUBLIC_KEY:
		return CAPF_PUBKEY_MAX;
	case CAPF_T_SIGNED_DATA:
		return CAPF_SIG_MAX;
	case CAPF_T_SHA2_SIGNED_DATA:
		return CAPF_SIG_MAX + 3;
	default:
		return CAPF_OTHER_MAX;
	}
}

int capf_msg_parse(struct capf_msg *m, const uint8_t *p, size_t len)
{
	struct cur c, body;
	uint8_t proto, cmd;
	uint16_t blen;
	int err;

	memset(m, 0, sizeof(*m));
	cur_init(&c, p, len);
	err = cur_u8(&c, &proto);
	if (!err) {
		err = cur_u8(&c, &cmd);
	}
	if (!err) {
		err = cur_u32be(&c, &m->session);
	}
	if (!err) {
		err = cur_u16be(&c, &blen);
	}
	if (err) {
		return err;
	}
	if (proto != CAPF_PROTO_ID) {
		return -TL_EPARSE;
	}
	if (cmd == 0 || cmd > CAPF_CMD_MAX) {
		return -TL_EUNKNOWN;
	}
	m->cmd = cmd;
	err = cur_sub(&c, blen, &body);
	if (err) {
		return err;
	}
	err = cur_end(&c);
	if (err) {
		return err;
	}
	while (cur_left(&body) > 0) {
		uint8_t tag;
		uint16_t vlen;
		struct slice v;

		err = cur_u8(&body, &tag);
		if (!err) {
			err = cur_u16be(&body, &vlen);
		}
		if (!err) {
			err = cur_bytes(&body, vlen, &v);
		}
		if (err) {
			return err;
		}
		if (tag == 0 || tag > CAPF_TAG_MAX) {
			continue;
		}
		if (m->present & (UINT32_C(1) << tag)) {
			return -TL_EDUP;
		}
		size_t fixed = tag_fixed(tag);
		if (fixed != 0 && vlen != fixed) {
			return -TL_EPARSE;
		}
		if (vlen > tag_max(tag)) {
			return -TL_ETOOBIG;
		}
		m->present |= UINT32_C(1) << tag;
		m->el[tag] = v;
	}
	return cur_end(&body);
}

bool capf_msg_has(const struct capf_msg *m, enum capf_tag tag)
{
	return (unsigned)tag <= CAPF_TAG_MAX &&
	       (m->present & (UINT32_C(1) << tag)) != 0;
}

int capf_msg_u8(const struct capf_msg *m, enum capf_tag tag, uint8_t *v)
{
	if (!capf_msg_has(m, tag)) {
		return -TL_ENOTFOUND;
	}
	if (m->el[tag].len != 1) {
		return -TL_EPARSE;
	}
	*v = m->el[tag].p[0];
	return 0;
}

int capf_msg_u16(const struct capf_msg *m, enum capf_tag tag, uint16_t *v)
{
	if (!capf_msg_has(m, tag)) {
		return -TL_ENOTFOUND;
	}
	if (m->el[tag].len != 2) {
		return -TL_EPARSE;
	}
	*v = (uint16_t)((m->el[tag].p[0] << 8) | m->el[tag].p[1]);
	return 0;
}

int capf_msg_str(const struct capf_msg *m, enum capf_tag tag, char *out,
                 size_t outlen)
{
	if (!capf_msg_has(m, tag)) {
		return -TL_ENOTFOUND;
	}
	struct slice v = m->el[tag];
	if (outlen == 0) {
		return -TL_ETOOBIG;
	}
	if (v.len == 0) {
		out[0] = '\0';
		return 0;
	}
	if (v.p[v.len - 1] != 0 || memchr(v.p, 0, v.len - 1) != NULL) {
		return -TL_EPARSE;
	}
	if (v.len > outlen) {
		return -TL_ETOOBIG;
	}
	memcpy(out, v.p, v.len);
	return 0;
}

int capf_msg_cert(const struct capf_msg *m, uint8_t *type, struct slice *der)
{
	if (!capf_msg_has(m, CAPF_T_CERTIFICATE)) {
		return -TL_ENOTFOUND;
	}
	struct slice v = m->el[CAPF_T_CERTIFICATE];
	/* Cisco's receivers skip the 5-byte wrapper without reading it; we
	 * check its marker and inner length too. */
	if (v.len < 6) {
		return -TL_ETRUNC;
	}
	size_t inner = ((size_t)v.p[1] << 8) | v.p[2];
	if (v.p[0] != 1 || v.p[3] != 0 || inner != v.len - 5 + 2) {
		return -TL_EPARSE;
	}
	*type = v.p[4];
	*der = slice_make(v.p + 5, v.len - 5);
	return 0;
}

int capf_msg_sig2(const struct capf_msg *m, uint8_t *hash, struct slice *sig)
{
	struct cur c;
	uint16_t n;
	int err;

	if (!capf_msg_has(m, CAPF_T_SHA2_SIGNED_DATA)) {
		return -TL_ENOTFOUND;
	}
	cur_init(&c, m->el[CAPF_T_SHA2_SIGNED_DATA].p,
	         m->el[CAPF_T_SHA2_SIGNED_DATA].len);
	err = cur_u8(&c, hash);
	if (!err) {
		err = cur_u16be(&c, &n);
	}
	if (!err) {
		err = cur_bytes(&c, n, sig);
	}
	if (!err) {
		err = cur_end(&c);
	}
	if (!err && n == 0) {
		err = -TL_ETRUNC;
	}
	return err;
}

size_t capf_msg_begin(struct buf *b, enum capf_cmd cmd, uint32_t session)
{
	size_t start = b->len;

	buf_put_u8(b, CAPF_PROTO_ID);
	buf_put_u8(b, (uint8_t)cmd);
	buf_put_u32be(b, session);
	buf_put_u16be(b, 0);
	return start;
}

static bool el_head(struct buf *b, enum capf_tag tag, size_t len)
{
	if (len > 0xffff) {
		if (b->err == 0) {
			b->err = -TL_ETOOBIG;
		}
		return false;
	}
	buf_put_u8(b, (uint8_t)tag);
	buf_put_u16be(b, (uint16_t)len);
	return true;
}

void capf_put_u8(struct buf *b, enum capf_tag tag, uint8_t v)
{
	if (el_head(b, tag, 1)) {
		buf_put_u8(b, v);
	}
}

void capf_put_u16(struct buf *b, enum capf_tag tag, uint16_t v)
{
	if (el_head(b, tag, 2)) {
		buf_put_u16be(b, v);
	}
}

void capf_put_bytes(struct buf *b, enum capf_tag tag, const void *p, size_t len)
{
	if (el_head(b, tag, len)) {
		buf_put(b, p, len);
	}
}

void capf_put_str(struct buf *b, enum capf_tag tag, const char *s)
{
	size_t n = strlen(s);

	if (el_head(b, tag, n + 1)) {
		buf_put(b, s, n);
		buf_put_u8(b, 0);
	}
}

void capf_put_cert(struct buf *b, uint8_t type, const uint8_t *der, size_t len)
{
	if (len > 0xffff - 5 || !el_head(b, CAPF_T_CERTIFICATE, len + 5)) {
		if (b->err == 0) {
			b->err = -TL_ETOOBIG;
		}
		return;
	}
	buf_put_u8(b, 1);
	buf_put_u16be(b, (uint16_t)(len + 2));
	buf_put_u8(b, 0);
	buf_put_u8(b, type);
	buf_put(b, der, len);
}

void capf_put_sig2(struct buf *b, uint8_t hash, const uint8_t *sig, size_t len)
{
	if (len > 0xffff - 3 || !el_head(b, CAPF_T_SHA2_SIGNED_DATA, len + 3)) {
		if (b->err == 0) {
			b->err = -TL_ETOOBIG;
		}
		return;
	}
	buf_put_u8(b, hash);
	buf_put_u16be(b, (uint16_t)len);
	buf_put(b, sig, len);
}

int capf_msg_end(struct buf *b, size_t start)
{
	int err = buf_err(b);

	if (err) {
		return err;
	}
	if (b->len < start + CAPF_HDR_LEN) {
		return -TL_ESTATE;
	}
	size_t body = b->len - start - CAPF_HDR_LEN;
	if (body > CAPF_BODY_MAX) {
		return -TL_ETOOBIG;
	}
	buf_set_u16be(b, start + 6, (uint16_t)body);
	return 0;
}

const char *capf_cmd_name(unsigned cmd)
{
	static const char *const names[] = {
	        "?",
	        "AUTH_REQ",
	        "AUTH_RESP",
	        "KEYGEN_REQ",
	        "KEYGEN_RESP",
	        "ENCRYPT_RESP",
	        "ENCRYPT_REQ",
	        "DECRYPT_REQ",
	        "DECRYPT_RESP",
	        "STORE_CERT_REQ",
	        "STORE_CERT_RESP",
	        "FETCH_CERT_REQ",
	        "FETCH_CERT_RESP",
	        "DELETE_CERT_REQ",
	        "DELETE_CERT_RESP",
	        "END_SESSION",
	        "RETRY_LATER",
	        "REQUEST_IN_PROGRESS",
	        "STATUS_REQ",
	        "STATUS_RESP",
	        "ABORT_REQ",
	        "ABORT_RESP",
	        "SIGN_CERT_REQ",
	        "SIGN_CERT_RESP",
	};
	return cmd <= CAPF_CMD_MAX ? names[cmd] : "?";
}
