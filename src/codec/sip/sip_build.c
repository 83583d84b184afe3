/* Building SIP messages into a struct buf: responses from a request
 * (RFC 3261 §8.2.6), requests, header lines, the body. */
#include "codec/sip/sip_int.h"

#include <stdarg.h>
#include <string.h>

static bool token_ok(struct slice s)
{
	if (s.len == 0) {
		return false;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (!sip_is(s.p[i], C_TOKEN)) {
			return false;
		}
	}
	return true;
}

/* No CR, LF or NUL: a value can never start a new header line. */
static bool value_ok(struct slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '\r' || s.p[i] == '\n' || s.p[i] == 0) {
			return false;
		}
	}
	return true;
}

static void put_hdr(struct buf *b, const char *name, struct slice v)
{
	buf_put_str(b, name);
	buf_put(b, ": ", 2);
	buf_put_slice(b, v);
	buf_put(b, "\r\n", 2);
}

int sip_build_response(struct buf *b, const struct sip_msg *req, uint16_t code,
                       const char *reason, struct slice to_tag)
{
	struct slice r;

	if (req == NULL || !sip_msg_can_answer(req)) {
		return -TL_ESTATE;
	}
	if (code < 100 || code > 699) {
		return -TL_EPARSE;
	}
	r = slice_from_str(reason ? reason : sip_reason_phrase(code));
	if (!value_ok(r) || (to_tag.len > 0 && !token_ok(to_tag))) {
		return -TL_EPARSE;
	}
	buf_put_str(b, "SIP/2.0 ");
	buf_put_dec(b, code);
	buf_put_u8(b, ' ');
	buf_put_slice(b, r);
	buf_put(b, "\r\n", 2);
	/* RFC 3261 §8.2.6.2: every Via, in order, as received */
	for (uint8_t i = req->first[SIP_HDR_VIA]; i != SIP_NO_HDR;
	     i = req->h[i].next) {
		put_hdr(b, "Via", sip_msg_hval(req, i));
	}
	put_hdr(b, "From", sip_msg_hval(req, req->first[SIP_HDR_FROM]));
	buf_put_str(b, "To: ");
	buf_put_slice(b, sip_msg_hval(req, req->first[SIP_HDR_TO]));
	/* RFC 3261 §8.2.6.2: add a To tag when the request had none (not on
	 * 100 Trying, §8.2.6.1: the caller passes no tag then) */
	if (to_tag.len > 0 && (req->ok & SIP_OK_TO) && req->to.tag.p == NULL) {
		buf_put_str(b, ";tag=");
		buf_put_slice(b, to_tag);
	}
	buf_put(b, "\r\n", 2);
	put_hdr(b, "Call-ID", sip_msg_hval(req, req->first[SIP_HDR_CALL_ID]));
	put_hdr(b, "CSeq", sip_msg_hval(req, req->first[SIP_HDR_CSEQ]));
	return buf_err(b);
}

int sip_build_request(struct buf *b, struct slice method, struct slice ruri)
{
	if (!token_ok(method) || ruri.len == 0) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < ruri.len; i++) {
		if (ruri.p[i] <= 0x20 || ruri.p[i] >= 0x7f) {
			return -TL_EPARSE;
		}
	}
	buf_put_slice(b, method);
	buf_put_u8(b, ' ');
	buf_put_slice(b, ruri);
	buf_put_str(b, " SIP/2.0\r\n");
	return buf_err(b);
}

int sip_build_hdr(struct buf *b, const char *name, struct slice value)
{
	if (name == NULL || !token_ok(slice_from_str(name)) ||
	    !value_ok(value)) {
		return -TL_EPARSE;
	}
	put_hdr(b, name, value);
	return buf_err(b);
}

int sip_build_hdrf(struct buf *b, const char *name, const char *fmt, ...)
{
	size_t start = b->len, vstart;
	va_list ap;

	if (name == NULL || !token_ok(slice_from_str(name))) {
		return -TL_EPARSE;
	}
	buf_put_str(b, name);
	buf_put(b, ": ", 2);
	vstart = b->len;
	va_start(ap, fmt);
	buf_vprintf(b, fmt, ap);
	va_end(ap);
	if (buf_err(b) < 0) {
		return buf_err(b);
	}
	if (!value_ok((struct slice){b->p + vstart, b->len - vstart})) {
		b->len = start; /* take back the whole line */
		return -TL_EPARSE;
	}
	buf_put(b, "\r\n", 2);
	return buf_err(b);
}

int sip_build_end(struct buf *b, struct slice ctype, struct slice body)
{
	if (ctype.len > 0) {
		if (!value_ok(ctype)) {
			return -TL_EPARSE;
		}
		put_hdr(b, "Content-Type", ctype);
	}
	buf_put_str(b, "Content-Length: ");
	buf_put_dec(b, body.len);
	buf_put(b, "\r\n\r\n", 4);
	buf_put_slice(b, body);
	return buf_err(b);
}

void sip_addr_print(struct buf *b, const struct sip_addr *a)
{
	if (a->display.p != NULL && a->display.len > 0) {
		if (a->display_quoted) {
			buf_put_u8(b, '"');
			buf_put_slice(b, a->display);
			buf_put_str(b, "\" ");
		} else {
			buf_put_slice(b, a->display);
			buf_put_u8(b, ' ');
		}
	}
	buf_put_u8(b, '<');
	sip_uri_print(b, &a->uri);
	buf_put_u8(b, '>');
	if (a->params.p != NULL) {
		buf_put_u8(b, ';');
		buf_put_slice(b, a->params);
	}
}
