/* libFuzzer target for the SIP message codec. The first byte chooses the
 * mode: even = one UDP datagram, odd = a TCP/TLS stream cut by the framer
 * into messages. Every lazy accessor is touched; an answerable request is
 * answered with the builder, and a response built from a request that
 * parsed must parse again. */
#include "base/buf.h"
#include "codec/sip/sip_msg.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct sip_msg *msg, *resp;

static void touch(struct sip_msg *m)
{
	struct sip_iter it;
	struct sip_via v;
	struct sip_contact c;
	struct sip_addr a;
	struct sip_auth au;
	struct sip_callinfo ci;
	struct sip_event ev;
	struct sip_substate ss;
	struct slice s, st, n, val;
	uint32_t u;
	bool q;
	uint8_t tmp[256];
	size_t len;
	struct buf b;
	static const enum sip_hdr_id addr_ids[] = {
	        SIP_HDR_ROUTE,       SIP_HDR_RECORD_ROUTE,
	        SIP_HDR_PATH,        SIP_HDR_REFER_TO,
	        SIP_HDR_REFERRED_BY, SIP_HDR_P_ASSERTED_IDENTITY};
	static const enum sip_hdr_id auth_ids[] = {
	        SIP_HDR_AUTHORIZATION, SIP_HDR_PROXY_AUTHORIZATION,
	        SIP_HDR_WWW_AUTHENTICATE, SIP_HDR_PROXY_AUTHENTICATE};
	static const enum sip_hdr_id tok_ids[] = {
	        SIP_HDR_SUPPORTED,   SIP_HDR_REQUIRE, SIP_HDR_PROXY_REQUIRE,
	        SIP_HDR_UNSUPPORTED, SIP_HDR_ALLOW,   SIP_HDR_ALLOW_EVENTS};

	buf_init(&b, 1 << 20);
	sip_msg_iter(&it, m, SIP_HDR_VIA);
	while (sip_iter_via(&it, &v) == 1) {
	}
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	while (sip_iter_contact(&it, &c) == 1) {
		if (!c.star) {
			sip_addr_print(&b, &c.addr);
		}
	}
	for (size_t i = 0; i < sizeof(addr_ids) / sizeof(addr_ids[0]); i++) {
		sip_msg_iter(&it, m, addr_ids[i]);
		while (sip_iter_addr(&it, &a) == 1) {
			if (sip_uri_unescape(a.uri.user, tmp, sizeof(tmp),
			                     &len) == 0 &&
			    len > sizeof(tmp)) {
				abort();
			}
		}
	}
	for (size_t i = 0; i < sizeof(auth_ids) / sizeof(auth_ids[0]); i++) {
		sip_msg_iter(&it, m, auth_ids[i]);
		while (sip_iter_auth(&it, &au) == 1) {
			st = au.params;
			while (sip_auth_param_next(&st, &n, &val, &q) == 1) {
				if (q &&
				    sip_unquote(val, tmp, sizeof(tmp), &len) ==
				            0 &&
				    len > val.len) {
					abort();
				}
			}
			if (sip_auth_param_get(&au, "nonce", &val, &q) == 0 &&
			    val.p == NULL) {
				abort();
			}
		}
	}
	for (size_t i = 0; i < sizeof(tok_ids) / sizeof(tok_ids[0]); i++) {
		sip_msg_iter(&it, m, tok_ids[i]);
		while (sip_iter_token(&it, &s) == 1) {
		}
		(void)sip_msg_has_token(m, tok_ids[i], "timer");
	}
	sip_msg_iter(&it, m, SIP_HDR_CALL_INFO);
	while (sip_iter_callinfo(&it, &ci) == 1) {
	}
	if (sip_msg_expires(m, &u) == 0 && sip_msg_expires(m, &u) != 0) {
		abort(); /* the cached answer must not change */
	}
	if (sip_msg_hdr_u32(m, SIP_HDR_SESSION_EXPIRES, &u) == 0) {
		u = 0;
	}
	if (sip_msg_event(m, &ev) == 0 && ev.package.len == 0) {
		abort();
	}
	if (sip_msg_substate(m, &ss) == 0 && ss.state.len == 0) {
		abort();
	}
	if (sip_msg_addr(m, SIP_HDR_REPLY_TO, &a) == 0) {
		sip_addr_print(&b, &a);
	}
	for (size_t i = 0; i < sip_msg_hdr_count(m); i++) {
		struct sip_hdr h;

		if (sip_msg_hdr(m, i, &h) != 0) {
			abort();
		}
		sip_msg_iter_name(&it, m, h.name, (i & 1) != 0);
		while (sip_iter_next(&it, &s) == 1) {
		}
		(void)sip_msg_hdr_lines_name(m, h.name);
		if (sip_msg_hdr_first_name(m, h.name, &s) != 0) {
			abort();
		}
	}
	if (sip_msg_ruri(m) != NULL) {
		sip_uri_print(&b, sip_msg_ruri(m));
	}
	buf_free(&b);
}

static void answer(struct sip_msg *m, int rc)
{
	struct buf b;
	uint16_t code = rc == 0 ? 200 : sip_msg_error_status(m);

	if (!sip_msg_can_answer(m)) {
		return;
	}
	buf_init(&b, 1 << 20);
	if (sip_build_response(&b, m, code ? code : 400,
	                       rc == 0 ? NULL : sip_msg_error(m),
	                       SLICE_LIT("fz1")) != 0 ||
	    sip_build_hdrf(&b, "Server", "fuzz/%d", 1) != 0 ||
	    sip_build_end(&b, SLICE_NULL, SLICE_NULL) != 0) {
		abort();
	}
	if (sip_msg_parse(resp, b.p, b.len, SIP_MODE_STREAM) == 0) {
		touch(resp);
	} else if (rc == 0) {
		abort(); /* a good request must give a good response */
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (msg == NULL &&
	    (sip_msg_new(&msg) != 0 || sip_msg_new(&resp) != 0)) {
		abort();
	}
	if (size < 1) {
		return 0;
	}
	if ((data[0] & 1) == 0) {
		int rc = sip_msg_parse(msg, data + 1, size - 1, SIP_MODE_DGRAM);

		if (rc < 0 && sip_msg_error(msg) == NULL) {
			abort(); /* every failure names its reason */
		}
		touch(msg);
		answer(msg, rc);
		return 0;
	}
	/* stream: frame, then parse each frame */
	{
		const uint8_t *p = data + 1;
		size_t left = size - 1;
		struct sip_framer f;

		sip_framer_init(&f, 0);
		for (int i = 0; i < 64 && left > 0; i++) {
			size_t n = 0;
			int k = sip_framer_feed(&f, p, left, &n);
			int rc;

			if (k <= SIP_FRAME_NEED_MORE) {
				break;
			}
			if (n == 0 || n > left) {
				abort();
			}
			if (k == SIP_FRAME_MESSAGE) {
				rc = sip_msg_parse(msg, p, n, SIP_MODE_STREAM);
				touch(msg);
				answer(msg, rc);
			}
			p += n;
			left -= n;
		}
	}
	return 0;
}
