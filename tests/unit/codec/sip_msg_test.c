/* SIP message parser, typed accessors, builder: table-driven, with a
 * "must reject" table of malformed and hostile messages. */
#include "base/buf.h"
#include "codec/sip/sip_msg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#define CRLF "\r\n"

static const char reg[] =
        "REGISTER sips:example.com SIP/2.0" CRLF
        "Via: SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bK776asdhds;rport" CRLF
        "Max-Forwards: 70" CRLF "To: \"Line 1001\" <sips:1001@example.com>" CRLF
        "From: \"Line 1001\" <sips:1001@example.com>;tag=a73kszlfl" CRLF
        "Call-ID: 1j9FpLxk3uxtm8tn@192.0.2.10" CRLF "CSeq: 2 REGISTER" CRLF
        "Contact: <sips:1001@192.0.2.10:5061;transport=tls>;expires=3600;"
        "+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000DEADBEEF1>\";"
        "reg-id=1;q=0.7" CRLF
        "Authorization: Digest username=\"1001\", realm=\"trustline\", "
        "nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", "
        "uri=\"sips:example.com\", "
        "response=\"6629fae49393a05397450978507c4ef1\","
        " algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"0a4f113b\", "
        "opaque=\"5ccc\\\"069c\"" CRLF
        "Supported: path, outbound,X-cisco-sis-7.0.0" CRLF "k: gruu" CRLF
        "Expires: 3600" CRLF "User-Agent: Cisco-CP8845/12.8.1" CRLF
        "Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO" CRLF
        "Content-Length: 0" CRLF CRLF;

static const char inv[] =
        "INVITE sip:1002@[2001:db8::1]:5060;transport=udp SIP/2.0" CRLF
        "v: SIP/2.0/UDP [2001:db8::9]:5070;branch=z9hG4bKnashds8;"
        "received=2001:db8::10;rport=5071;ttl=16;maddr=224.2.0.1" CRLF
        "v: SIP/2.0/TCP pc33.example.com;branch=z9hG4bKa, "
        "SIP/2.0/UDP pc34.example.com;branch=z9hG4bKb" CRLF
        "Max-Forwards: 69" CRLF "t: <sip:1002@example.com>" CRLF
        "f: Alice <sip:1001@example.com>;tag=1928301774" CRLF
        "i: a84b4c76e66710@pc33.example.com" CRLF "CSeq: 314159 INVITE" CRLF
        "m: <sip:1001@192.0.2.10>, \"Second, one\" <sip:1001@192.0.2.11>" CRLF
        "Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr>" CRLF
        "Route: <sip:p3.example.com;lr>" CRLF
        "Record-Route: <sip:rr.example.com;lr>" CRLF
        "Call-Info: <urn:x-cisco-remotecc:callinfo>; security=Encrypted; "
        "orientation=to" CRLF "o: dialog;id=42" CRLF
        "Subscription-State: active;expires=600;reason=timeout" CRLF
        "Session-Expires: 1800;refresher=uac" CRLF "X-Unknown: one, two" CRLF
        "x-unknown: three" CRLF "c: application/sdp; charset=utf-8" CRLF
        "l: 30" CRLF CRLF "v=0\r\no=- 1 1 IN IP4 192.0.2.10";

static struct slice S(const char *s) {
	return slice_from_str(s);
}

static int
setup(void **state)
{
	struct sip_msg *m;

	if (sip_msg_new(&m) < 0) {
		return -1;
	}
	*state = m;
	return 0;
}

static int teardown(void **state)
{
	sip_msg_free(*state);
	return 0;
}

static int parse(struct sip_msg *m, const char *s, enum sip_mode mode)
{
	return sip_msg_parse(m, (const uint8_t *)s, strlen(s), mode);
}

static void test_register(void **state)
{
	struct sip_msg *m = *state;
	const struct sip_via *v;
	struct sip_iter it;
	struct sip_contact c;
	struct sip_auth a;
	struct slice s, n, val;
	uint8_t tmp[64];
	size_t len;
	bool q;
	uint32_t u;
	static const char *const want_tags[] = {"path", "outbound",
	                                        "X-cisco-sis-7.0.0", "gruu"};

	assert_int_equal(parse(m, reg, SIP_MODE_STREAM), 0);
	assert_null(sip_msg_error(m));
	assert_true(sip_msg_is_request(m));
	assert_int_equal(sip_msg_method(m), SIP_M_REGISTER);
	assert_int_equal(sip_msg_ruri(m)->scheme, SIP_URI_SIPS);
	v = sip_msg_via(m);
	assert_non_null(v);
	assert_int_equal(v->tp, SIP_TP_TLS);
	assert_true(slice_eq_str(v->host, "192.0.2.10"));
	assert_int_equal(v->host_type, SIP_HOST_IPV4);
	assert_true(v->has_port);
	assert_int_equal(v->port, 5061);
	assert_true(slice_eq_str(v->branch, "z9hG4bK776asdhds"));
	assert_true(v->has_rport);
	assert_false(v->rport_has_value);
	assert_null(v->received.p);
	assert_true(slice_eq_str(sip_msg_to(m)->display, "Line 1001"));
	assert_true(sip_msg_to(m)->display_quoted);
	assert_null(sip_msg_to(m)->tag.p);
	assert_true(slice_eq_str(sip_msg_from(m)->tag, "a73kszlfl"));
	assert_true(slice_eq_str(sip_msg_call_id(m),
	                         "1j9FpLxk3uxtm8tn@192.0.2.10"));
	assert_int_equal(sip_msg_cseq(m)->num, 2);
	assert_int_equal(sip_msg_cseq(m)->method, SIP_M_REGISTER);
	assert_int_equal(sip_msg_max_forwards(m), 70);
	assert_true(sip_msg_has_content_length(m));
	assert_int_equal(sip_msg_body(m).len, 0);
	assert_null(sip_msg_ctype(m));

	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_false(c.star);
	assert_true(c.has_expires);
	assert_int_equal(c.expires, 3600);
	assert_true(c.has_q);
	assert_int_equal(c.q, 700);
	assert_true(c.has_reg_id);
	assert_int_equal(c.reg_id, 1);
	assert_true(slice_eq_str(
	        c.instance, "<urn:uuid:00000000-0000-1000-8000-000DEADBEEF1>"));
	assert_int_equal(c.addr.uri.tp, SIP_TP_TLS);
	assert_int_equal(c.addr.uri.port, 5061);
	assert_int_equal(sip_iter_contact(&it, &c), 0);

	sip_msg_iter(&it, m, SIP_HDR_AUTHORIZATION);
	assert_int_equal(sip_iter_auth(&it, &a), 1);
	assert_true(slice_eq_str(a.scheme, "Digest"));
	assert_int_equal(sip_auth_param_get(&a, "username", &val, &q), 0);
	assert_true(q);
	assert_true(slice_eq_str(val, "1001"));
	assert_int_equal(sip_auth_param_get(&a, "ALGORITHM", &val, &q), 0);
	assert_false(q);
	assert_true(slice_eq_str(val, "SHA-256"));
	assert_int_equal(sip_auth_param_get(&a, "nc", &val, &q), 0);
	assert_true(slice_eq_str(val, "00000001"));
	assert_int_equal(sip_auth_param_get(&a, "opaque", &val, &q), 0);
	assert_true(slice_eq_str(val, "5ccc\\\"069c"));
	assert_int_equal(sip_unquote(val, tmp, sizeof(tmp), &len), 0);
	assert_int_equal(len, 9);
	assert_memory_equal(tmp, "5ccc\"069c", 9);
	assert_int_equal(sip_auth_param_get(&a, "stale", &val, &q),
	                 -TL_ENOTFOUND);
	{
		/* the iterator gives every parameter in order */
		static const char *const names[] = {
		        "username",  "realm", "nonce", "uri",    "response",
		        "algorithm", "qop",   "nc",    "cnonce", "opaque"};
		struct slice st = a.params;
		size_t i = 0;
		int rc;

		while ((rc = sip_auth_param_next(&st, &n, &val, &q)) == 1) {
			assert_true(i < 10);
			assert_true(slice_eq_str(n, names[i]));
			i++;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(i, 10);
	}
	assert_int_equal(sip_iter_auth(&it, &a), 0);

	sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(sip_iter_token(&it, &s), 1);
		assert_true(slice_eq_str(s, want_tags[i]));
	}
	assert_int_equal(sip_iter_token(&it, &s), 0);
	assert_true(sip_msg_has_token(m, SIP_HDR_SUPPORTED, "OUTBOUND"));
	assert_false(sip_msg_has_token(m, SIP_HDR_SUPPORTED, "timer"));
	assert_true(sip_msg_has_token(m, SIP_HDR_ALLOW, "REFER"));
	assert_int_equal(sip_msg_expires(m, &u), 0);
	assert_int_equal(u, 3600);
	assert_int_equal(sip_msg_expires(m, &u), 0); /* cached */
	assert_int_equal(sip_msg_hdr_first(m, SIP_HDR_USER_AGENT, &s), 0);
	assert_true(slice_eq_str(s, "Cisco-CP8845/12.8.1"));
	assert_int_equal(sip_msg_hdr_first(m, SIP_HDR_EVENT, &s),
	                 -TL_ENOTFOUND);
	assert_true(sip_msg_can_answer(m));
	assert_int_equal(sip_msg_error_status(m), 0);
	assert_int_equal(sip_msg_raw(m).len, strlen(reg));
}

static void test_invite(void **state)
{
	struct sip_msg *m = *state;
	const struct sip_via *v;
	struct sip_iter it;
	struct sip_via vv;
	struct sip_contact c;
	struct sip_addr a;
	struct sip_callinfo ci;
	struct sip_event ev;
	struct sip_substate ss;
	struct slice s;
	uint32_t u;
	size_t n;
	int rc;
	static const char *const routes[] = {"sip:p1.example.com;lr",
	                                     "sip:p2.example.com;lr",
	                                     "sip:p3.example.com;lr"};

	assert_int_equal(parse(m, inv, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_msg_ruri(m)->host_type, SIP_HOST_IPV6);
	assert_true(slice_eq_str(sip_msg_ruri(m)->host, "2001:db8::1"));
	assert_int_equal(sip_msg_ruri(m)->tp, SIP_TP_UDP);
	v = sip_msg_via(m);
	assert_int_equal(v->host_type, SIP_HOST_IPV6);
	assert_true(slice_eq_str(v->host, "2001:db8::9"));
	assert_int_equal(v->port, 5070);
	assert_true(slice_eq_str(v->received, "2001:db8::10"));
	assert_true(v->rport_has_value);
	assert_int_equal(v->rport, 5071);
	assert_true(v->has_ttl);
	assert_int_equal(v->ttl, 16);
	assert_true(slice_eq_str(v->maddr, "224.2.0.1"));
	sip_msg_iter(&it, m, SIP_HDR_VIA);
	n = 0;
	while ((rc = sip_iter_via(&it, &vv)) == 1) {
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 3);
	assert_true(slice_eq_str(vv.host, "pc34.example.com"));

	assert_true(slice_eq_str(sip_msg_from(m)->display, "Alice"));
	assert_true(slice_eq_str(sip_msg_call_id(m),
	                         "a84b4c76e66710@pc33.example.com"));
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_int_equal(sip_iter_contact(&it, &c), 1);
	assert_true(slice_eq_str(c.addr.display, "Second, one"));
	assert_int_equal(sip_iter_contact(&it, &c), 0);

	sip_msg_iter(&it, m, SIP_HDR_ROUTE);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(sip_iter_addr(&it, &a), 1);
		assert_true(slice_eq_str(a.uri_raw, routes[i]));
		assert_true(a.uri.lr);
	}
	assert_int_equal(sip_iter_addr(&it, &a), 0);
	assert_int_equal(sip_msg_addr(m, SIP_HDR_RECORD_ROUTE, &a), 0);
	assert_true(slice_eq_str(a.uri.host, "rr.example.com"));
	assert_int_equal(sip_msg_addr(m, SIP_HDR_REFER_TO, &a), -TL_ENOTFOUND);

	sip_msg_iter(&it, m, SIP_HDR_CALL_INFO);
	assert_int_equal(sip_iter_callinfo(&it, &ci), 1);
	assert_true(slice_eq_str(ci.uri, "urn:x-cisco-remotecc:callinfo"));
	assert_true(slice_eq_str(ci.security, "Encrypted"));
	assert_null(ci.purpose.p);
	assert_int_equal(sip_iter_callinfo(&it, &ci), 0);

	assert_int_equal(sip_msg_event(m, &ev), 0);
	assert_true(slice_eq_str(ev.package, "dialog"));
	assert_true(slice_eq_str(ev.id, "42"));
	assert_int_equal(sip_msg_substate(m, &ss), 0);
	assert_true(slice_eq_str(ss.state, "active"));
	assert_true(ss.has_expires);
	assert_int_equal(ss.expires, 600);
	assert_true(slice_eq_str(ss.reason, "timeout"));
	assert_int_equal(sip_msg_hdr_u32(m, SIP_HDR_SESSION_EXPIRES, &u), 0);
	assert_int_equal(u, 1800);

	/* unknown headers: in order, by name, split on request */
	sip_msg_iter_name(&it, m, S("X-UNKNOWN"), true);
	n = 0;
	while ((rc = sip_iter_next(&it, &s)) == 1) {
		n++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(n, 3);
	sip_msg_iter_name(&it, m, S("x-unknown"), false);
	assert_int_equal(sip_iter_next(&it, &s), 1);
	assert_true(slice_eq_str(s, "one, two"));
	assert_int_equal(sip_msg_hdr_lines_name(m, S("X-Unknown")), 2);
	assert_int_equal(sip_msg_hdr_lines_name(m, S("Via")), 2);
	{
		struct sip_hdr h;

		assert_int_equal(sip_msg_hdr(m, 0, &h), 0);
		assert_int_equal(h.id, SIP_HDR_VIA);
		assert_true(slice_eq_str(h.name, "v"));
		assert_int_equal(sip_msg_hdr(m, sip_msg_hdr_count(m), &h),
		                 -TL_ENOTFOUND);
	}

	assert_true(slice_eq_str(sip_msg_ctype(m)->type, "application"));
	assert_true(slice_eq_str(sip_msg_ctype(m)->subtype, "sdp"));
	assert_true(slice_eq_str(sip_msg_ctype(m)->params, "charset=utf-8"));
	assert_int_equal(sip_msg_body(m).len, 30);
	assert_memory_equal(sip_msg_body(m).p, "v=0\r\n", 5);
}

/* Compact forms (RFC 3261 §7.3.3 and later RFCs) map to the long ids. */
static void test_names(void **state)
{
	static const struct {
		const char *name;
		enum sip_hdr_id id;
	} t[] = {
	        {"i", SIP_HDR_CALL_ID},
	        {"m", SIP_HDR_CONTACT},
	        {"e", SIP_HDR_CONTENT_ENCODING},
	        {"l", SIP_HDR_CONTENT_LENGTH},
	        {"c", SIP_HDR_CONTENT_TYPE},
	        {"f", SIP_HDR_FROM},
	        {"s", SIP_HDR_SUBJECT},
	        {"k", SIP_HDR_SUPPORTED},
	        {"t", SIP_HDR_TO},
	        {"v", SIP_HDR_VIA},
	        {"o", SIP_HDR_EVENT},
	        {"u", SIP_HDR_ALLOW_EVENTS},
	        {"x", SIP_HDR_SESSION_EXPIRES},
	        {"y", SIP_HDR_IDENTITY},
	        {"r", SIP_HDR_REFER_TO},
	        {"b", SIP_HDR_REFERRED_BY},
	        {"j", SIP_HDR_REJECT_CONTACT},
	        {"a", SIP_HDR_ACCEPT_CONTACT},
	        {"d", SIP_HDR_REQUEST_DISPOSITION},
	        {"V", SIP_HDR_VIA},
	        {"cSeQ", SIP_HDR_CSEQ},
	        {"WWW-AUTHENTICATE", SIP_HDR_WWW_AUTHENTICATE},
	        {"proxy-authorization", SIP_HDR_PROXY_AUTHORIZATION},
	        {"Call-Info", SIP_HDR_CALL_INFO},
	        {"Subscription-State", SIP_HDR_SUBSCRIPTION_STATE},
	        {"q", SIP_HDR_OTHER},
	        {"Vias", SIP_HDR_OTHER},
	        {"C%6Fntact", SIP_HDR_OTHER},
	        {"", SIP_HDR_OTHER},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(sip_hdr_from(S(t[i].name)), t[i].id);
	}
	for (int id = 1; id < SIP_HDR__COUNT; id++) {
		const char *name = sip_hdr_name((enum sip_hdr_id)id);

		assert_non_null(name);
		assert_int_equal(sip_hdr_from(S(name)), id);
	}
	assert_int_equal(sip_method_from(S("INVITE")), SIP_M_INVITE);
	assert_int_equal(sip_method_from(S("invite")), SIP_M_OTHER);
	assert_string_equal(sip_method_name(SIP_M_PUBLISH), "PUBLISH");
	assert_string_equal(sip_reason_phrase(404), "Not Found");
	assert_string_equal(sip_reason_phrase(499), "Bad Request");
}

static void test_build_response(void **state)
{
	struct sip_msg *m = *state, *r;
	struct buf b;
	struct slice s;

	assert_int_equal(sip_msg_new(&r), 0);
	buf_init(&b, 0);
	assert_int_equal(parse(m, inv, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_build_response(&b, m, 180, NULL, S("as8d7f")), 0);
	assert_int_equal(
	        sip_build_hdr(&b, "Contact", S("<sip:1002@192.0.2.20>")), 0);
	assert_int_equal(sip_build_hdrf(&b, "Call-Info",
	                                "<urn:x-cisco-remotecc:callinfo>; "
	                                "security=%s",
	                                "Encrypted"),
	                 0);
	assert_int_equal(sip_build_end(&b, SLICE_NULL, SLICE_NULL), 0);
	assert_int_equal(sip_msg_parse(r, b.p, b.len, SIP_MODE_STREAM), 0);
	assert_false(sip_msg_is_request(r));
	assert_int_equal(sip_msg_status(r), 180);
	assert_true(slice_eq_str(sip_msg_reason(r), "Ringing"));
	assert_int_equal(sip_msg_hdr_lines(r, SIP_HDR_VIA), 2);
	assert_true(slice_eq_str(sip_msg_via(r)->branch, "z9hG4bKnashds8"));
	assert_true(slice_eq_str(sip_msg_to(r)->tag, "as8d7f"));
	assert_true(slice_eq_str(sip_msg_from(r)->tag, "1928301774"));
	assert_true(slice_eq(sip_msg_call_id(r), sip_msg_call_id(m)));
	assert_int_equal(sip_msg_cseq(r)->num, 314159);
	assert_int_equal(sip_msg_body(r).len, 0);
	{
		struct sip_iter it;
		struct sip_via v;
		int n = 0, rc;

		sip_msg_iter(&it, r, SIP_HDR_VIA);
		while ((rc = sip_iter_via(&it, &v)) == 1) {
			n++;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(n, 3);
	}

	/* 100 Trying: no To tag (RFC 3261 §8.2.6.1) */
	buf_reset(&b);
	assert_int_equal(sip_build_response(&b, m, 100, NULL, SLICE_NULL), 0);
	assert_int_equal(sip_build_end(&b, SLICE_NULL, SLICE_NULL), 0);
	assert_int_equal(sip_msg_parse(r, b.p, b.len, SIP_MODE_STREAM), 0);
	assert_null(sip_msg_to(r)->tag.p);

	/* a To that has a tag keeps it */
	buf_reset(&b);
	assert_int_equal(parse(m, reg, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_build_response(&b, m, 200, "OK", S("x")), 0);
	assert_int_equal(sip_build_end(&b, S("text/plain"), S("hi")), 0);
	assert_int_equal(sip_msg_parse(r, b.p, b.len, SIP_MODE_STREAM), 0);
	assert_true(slice_eq_str(sip_msg_to(r)->tag, "x"));
	assert_true(slice_eq_str(sip_msg_body(r), "hi"));
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_STREAM), 0);
	buf_reset(&b);
	assert_int_equal(sip_build_response(&b, m, 200, NULL, S("y")),
	                 -TL_ESTATE); /* a response cannot be answered */

	/* header injection and bad input are refused */
	assert_int_equal(sip_build_hdr(&b, "X-A", S("a\r\nVia: evil")),
	                 -TL_EPARSE);
	assert_int_equal(sip_build_hdr(&b, "X A", S("a")), -TL_EPARSE);
	assert_int_equal(sip_build_hdrf(&b, "X-A", "%s", "a\nb"), -TL_EPARSE);
	assert_int_equal(b.len, 0);
	assert_int_equal(sip_build_request(&b, S("INV ITE"), S("sip:a")),
	                 -TL_EPARSE);
	assert_int_equal(sip_build_request(&b, S("INVITE"), S("sip:a b")),
	                 -TL_EPARSE);
	assert_int_equal(parse(m, inv, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_build_response(&b, m, 99, NULL, SLICE_NULL),
	                 -TL_EPARSE);
	assert_int_equal(sip_build_response(&b, m, 200, NULL, S("a b")),
	                 -TL_EPARSE);

	/* request construction */
	buf_reset(&b);
	assert_int_equal(
	        sip_build_request(&b, S("OPTIONS"), S("sip:1002@example.com")),
	        0);
	assert_int_equal(
	        sip_build_hdr(&b, "Via",
	                      S("SIP/2.0/TCP 192.0.2.1;branch=z9hG4bK1")),
	        0);
	assert_int_equal(
	        sip_build_hdr(&b, "From", S("<sip:a@example.com>;tag=1")), 0);
	assert_int_equal(sip_build_hdr(&b, "To", S("<sip:1002@example.com>")),
	                 0);
	assert_int_equal(sip_build_hdr(&b, "Call-ID", S("abc")), 0);
	assert_int_equal(sip_build_hdrf(&b, "CSeq", "%u OPTIONS", 7u), 0);
	assert_int_equal(sip_build_end(&b, S("application/sdp"), S("v=0\r\n")),
	                 0);
	assert_int_equal(sip_msg_parse(r, b.p, b.len, SIP_MODE_STREAM), 0);
	assert_int_equal(sip_msg_method(r), SIP_M_OPTIONS);
	assert_int_equal(sip_msg_cseq(r)->num, 7);
	assert_int_equal(sip_msg_body(r).len, 5);

	/* a failed request that can still be answered */
	assert_true(parse(m,
	                  "OPTIONS sip:a@b SIP/2.0" CRLF
	                  "Via: SIP/2.0/UDP h;branch=z9hG4bK1" CRLF
	                  "From: <sip:a@b>;tag=1" CRLF "To: <sip:a@b>" CRLF
	                  "Call-ID: x" CRLF "CSeq: 99999999999 OPTIONS" CRLF
	                  "Content-Length: 0" CRLF CRLF,
	                  SIP_MODE_DGRAM) < 0);
	assert_string_equal(sip_msg_error(m), "Bad CSeq");
	assert_true(sip_msg_can_answer(m));
	buf_reset(&b);
	assert_int_equal(sip_build_response(&b, m, sip_msg_error_status(m),
	                                    sip_msg_error(m), S("t1")),
	                 0);
	assert_int_equal(sip_build_end(&b, SLICE_NULL, SLICE_NULL), 0);
	s = buf_slice(&b);
	assert_true(s.len > 20);
	assert_memory_equal(s.p, "SIP/2.0 400 Bad CSeq\r\n", 22);
	assert_int_equal(sip_msg_parse(r, b.p, b.len, SIP_MODE_STREAM),
	                 -TL_EPARSE); /* the copied CSeq is still bad */

	buf_free(&b);
	sip_msg_free(r);
}

static void test_addr_print(void **state)
{
	struct sip_addr a;
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(sip_addr_parse(&a, S("\"A \\\"B\\\"\" <sip:a@"
	                                      "[2001:db8::1]:5060;lr>;tag=9")),
	                 0);
	sip_addr_print(&b, &a);
	assert_int_equal(buf_err(&b), 0);
	assert_true(slice_eq_str(buf_slice(&b),
	                         "\"A \\\"B\\\"\" <sip:a@[2001:db8::1]:5060;lr>"
	                         ";tag=9"));
	buf_free(&b);
}

static void test_params(void **state)
{
	static const struct {
		const char *in;
		int n; /* parameters, -1: error */
	} t[] = {
	        {"a", 1},           {"a=1;b;c=\"x;y\"", 3},
	        {" a = 1 ; b ", 2}, {"a;", -1},
	        {";a", -1},         {"a=", -1},
	        {"a=\"x", -1},      {"a;;b", -1},
	        {"a=b c", -1},
	};
	struct slice n, v;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct slice st = S(t[i].in);
		int rc, k = 0;

		while ((rc = sip_param_next(&st, &n, &v)) == 1) {
			k++;
		}
		if (t[i].n < 0) {
			assert_true(rc < 0);
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal(k, t[i].n);
		}
	}
	assert_int_equal(sip_param_get(S("a=1;B=\"q\""), "b", &v), 0);
	assert_true(slice_eq_str(v, "\"q\""));
	assert_int_equal(sip_param_get(S("a=1;lr"), "lr", &v), 0);
	assert_non_null(v.p);
	assert_int_equal(v.len, 0);
	assert_int_equal(sip_param_get(S("a=1"), "b", &v), -TL_ENOTFOUND);
}

/* Values, each parsed on its own: accepted and refused. */
static void test_values(void **state)
{
	static const struct {
		int kind; /* 0 via, 1 addr, 2 contact, 3 auth, 4 ctype */
		const char *in;
		int ok;
	} t[] = {
	        {0, "SIP/2.0/UDP h", 1},
	        {0, "SIP / 2.0 / UDP h : 5060 ; branch = z9hG4bK1", 1},
	        {0, "SIP/2.0/UDP [::1]:5060;rport=1", 1},
	        {0, "SIP/2.0/UDP h;branch=a;branch=b", 0},
	        {0, "SIP/2.0/UDP h;rport=65536", 0},
	        {0, "SIP/2.0/UDP h:65536", 0},
	        {0, "SIP/2.0/UDP h:000005060", 0},
	        {0, "SIP/2.0/UDP h;ttl=256", 0},
	        {0, "SIP/2.0/UDP", 0},
	        {0, "SIP/2.0 h", 0},
	        {0, "SIP/2.0/UDP h junk", 0},
	        {0, "SIP/2.0/UDP [::1", 0},
	        {0, "SIP/2.0/UDP 1.2.3.256x", 0},
	        {0, "SIP/2.0/UDP h;branch=\"q\"", 0},
	        {1, "sip:a@b", 1},
	        {1, "<sip:a@b>", 1},
	        {1, "A B <sip:a@b>;tag=1", 1},
	        {1, "\"\" <sip:a@b>", 1},
	        {1, "<sip:a@b>;tag=1;tag=2", 0},
	        {1, "<sip:a@b>;tag=", 0},
	        {1, "<sip:a@b", 0},
	        {1, "\"a <sip:a@b>", 0},
	        {1, "a, b <sip:a@b>", 0},
	        {1, "< sip:a@b>", 0},
	        {1, "sip:a@b?x=y", 0},
	        {1, "<sip:a@b?x=y>", 1},
	        {1, "", 0},
	        {1, "<sip:a@b> x", 0},
	        {2, "*", 1},
	        {2, "<sip:a@b>;expires=4294967295", 1},
	        {2, "<sip:a@b>;expires=4294967296", 0},
	        {2, "<sip:a@b>;q=1.0", 1},
	        {2, "<sip:a@b>;q=1.5", 0},
	        {2, "<sip:a@b>;q=0.1234", 0},
	        {2, "<sip:a@b>;reg-id=0", 0},
	        {2, "<sip:a@b>;+sip.instance=urn", 0},
	        {3, "Digest realm=\"a\", nonce=\"b\"", 1},
	        {3, "Digest", 1},
	        {3, "Digest realm", 0},
	        {3, "Digest realm=\"a\",", 0},
	        {3, "Digest realm=\"a", 0},
	        {3, "Digest realm=\"a\" nonce=\"b\"", 0},
	        {3, "Digest realm=\"a\",,nonce=b", 0},
	        {4, "application/sdp", 1},
	        {4, "multipart/mixed;boundary=\"x y\"", 1},
	        {4, "application", 0},
	        {4, "application/", 0},
	        {4, "a/b c", 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_via v;
		struct sip_addr a;
		struct sip_contact c;
		struct sip_auth au;
		struct sip_ctype ct;
		int rc = -1;

		switch (t[i].kind) {
		case 0:
			rc = sip_via_parse(&v, S(t[i].in));
			break;
		case 1:
			rc = sip_addr_parse(&a, S(t[i].in));
			break;
		case 2:
			rc = sip_contact_parse(&c, S(t[i].in));
			break;
		case 3:
			/* auth-params are checked as they are read */
			rc = sip_auth_parse(&au, S(t[i].in));
			if (rc == 0) {
				struct slice st = au.params, an, av;
				bool q;

				while ((rc = sip_auth_param_next(&st, &an, &av,
				                                 &q)) == 1) {
				}
			}
			break;
		default:
			rc = sip_ctype_parse(&ct, S(t[i].in));
			break;
		}
		if ((rc == 0) != (t[i].ok == 1)) {
			fail_msg("value %zu \"%s\": rc %d", i, t[i].in, rc);
		}
	}
}

/* Message skeleton for the reject table: %s are replaced in order. */
#define GOOD_HEAD                                                              \
	"OPTIONS sip:a@example.com SIP/2.0\r\n"                                \
	"Via: SIP/2.0/UDP h.example.com;branch=z9hG4bK1\r\n"                   \
	"From: <sip:b@example.com>;tag=1\r\n"                                  \
	"To: <sip:a@example.com>\r\n"                                          \
	"Call-ID: abc@h\r\n"                                                   \
	"CSeq: 1 OPTIONS\r\n"

/* must reject: truncated, overlong, trailing bytes, NUL inside,
 * duplicate critical field, integer overflow, bad syntax */
static const struct {
	const char *msg;
	size_t len; /* 0: strlen */
	int mode;
	const char *reason;
	uint16_t status;
} reject[] = {
        /* truncated */
        {"", 0, 0, "Empty message", 0},
        {"OPTIONS sip:a@example.com SIP/2.0", 0, 0, "Bad start line", 0},
        {"OPTIONS sip:a@example.com SIP/2.0\r", 0, 0, "Bad start line", 0},
        {GOOD_HEAD "Content-Length: 0\r\n", 0, 0, "Missing empty line", 400},
        {GOOD_HEAD "Content-Length: 0\r\n\r", 0, 0, "Bad line ending", 400},
        {GOOD_HEAD "Content-Length: 0", 0, 0, "Truncated header", 400},
        {GOOD_HEAD "Content-Length", 0, 0, "Truncated header", 400},
        {GOOD_HEAD "Content-Length: 5\r\n\r\nab", 0, 0,
         "Content-Length mismatch", 400},
        {GOOD_HEAD "Content-Length: 5\r\n\r\nab", 0, 1,
         "Content-Length mismatch", 400},
        /* trailing bytes on a stream */
        {GOOD_HEAD "Content-Length: 1\r\n\r\nabc", 0, 1,
         "Content-Length mismatch", 400},
        {GOOD_HEAD "\r\n", 0, 1, "Missing Content-Length", 400},
        /* NUL inside */
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: ab\0c@h\r\nCSeq: 1 OPTIONS\r\n\r\n",
         sizeof("OPTIONS sip:a@example.com SIP/2.0\r\n"
                "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
                "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
                "Call-ID: ab\0c@h\r\nCSeq: 1 OPTIONS\r\n\r\n") -
                 1,
         0, "NUL in header", 400},
        {"OPTIONS sip:a\0@example.com SIP/2.0\r\n\r\n",
         sizeof("OPTIONS sip:a\0@example.com SIP/2.0\r\n\r\n") - 1, 0,
         "Bad start line", 0},
        {GOOD_HEAD "X\0: 1\r\n\r\n", sizeof(GOOD_HEAD "X\0: 1\r\n\r\n") - 1, 0,
         "Bad header", 400},
        /* duplicate critical fields */
        {GOOD_HEAD "Call-ID: other@h\r\n\r\n", 0, 0, "Duplicate Call-ID", 400},
        {GOOD_HEAD "CSeq: 2 OPTIONS\r\n\r\n", 0, 0, "Duplicate CSeq", 400},
        {GOOD_HEAD "f: <sip:c@example.com>;tag=2\r\n\r\n", 0, 0,
         "Duplicate From", 400},
        {GOOD_HEAD "t: <sip:c@example.com>\r\n\r\n", 0, 0, "Duplicate To", 400},
        {GOOD_HEAD "Max-Forwards: 1\r\nMax-Forwards: 2\r\n\r\n", 0, 0,
         "Duplicate Max-Forwards", 400},
        {GOOD_HEAD "l: 0\r\nContent-Length: 1\r\n\r\nx", 0, 0,
         "Conflicting Content-Length", 400},
        {GOOD_HEAD "c: a/b\r\nContent-Type: a/c\r\n\r\n", 0, 0,
         "Duplicate Content-Type", 400},
        /* integer overflow and limits of numbers */
        {GOOD_HEAD "Content-Length: 18446744073709551617\r\n\r\n", 0, 0,
         "Bad Content-Length", 400},
        {GOOD_HEAD "Content-Length: -1\r\n\r\n", 0, 0, "Bad Content-Length",
         400},
        {GOOD_HEAD "Content-Length: 4294967296\r\n\r\n", 0, 0,
         "Bad Content-Length", 400},
        {GOOD_HEAD "Max-Forwards: 256\r\n\r\n", 0, 0, "Bad Max-Forwards", 400},
        {GOOD_HEAD "Max-Forwards: -1\r\n\r\n", 0, 0, "Bad Max-Forwards", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: 4294967296 OPTIONS\r\n\r\n",
         0, 0, "Bad CSeq", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: 123456789012345678901 OPTIONS\r\n\r\n",
         0, 0, "Bad CSeq", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: OPTIONS\r\n\r\n",
         0, 0, "Bad CSeq", 400},
        {"SIP/2.0 4294967301 OK\r\n\r\n", 0, 0, "Bad Status-Code", 0},
        {"SIP/2.0 099 OK\r\n\r\n", 0, 0, "Bad Status-Code", 0},
        {"SIP/2.0 700 OK\r\n\r\n", 0, 0, "Bad Status-Code", 0},
        {"SIP/2.0 20 OK\r\n\r\n", 0, 0, "Bad Status-Code", 0},
        {"SIP/2.0 200OK\r\n\r\n", 0, 0, "Bad Status-Code", 0},
        {"SIP/3.0 200 OK\r\n\r\n", 0, 0, "Version Not Supported", 0},
        /* bad start lines */
        {"OPTIONS sip:a@example.com SIP/2.1\r\n\r\n", 0, 0,
         "Version Not Supported", 0},
        {"OPTIONS sip:a@example.com HTTP/1.1\r\n\r\n", 0, 0, "Bad Request-Line",
         0},
        {"OPTIONS  sip:a@example.com SIP/2.0\r\n\r\n", 0, 0, "Bad Request-Line",
         0},
        {" OPTIONS sip:a@example.com SIP/2.0\r\n\r\n", 0, 0, "Bad Request-Line",
         0},
        {"OPT(IONS sip:a@example.com SIP/2.0\r\n\r\n", 0, 0, "Bad Request-Line",
         0},
        {"OPTIONS sip:a@example.com\r\n\r\n", 0, 0, "Bad Request-Line", 0},
        {"OPTIONS sip:a@exa\nmple.com SIP/2.0\r\n\r\n", 0, 0, "Bad start line",
         0},
        {"OPTIONS sip:a@example.com?Route=x SIP/2.0\r\n\r\n", 0, 0,
         "Bad Request-URI", 0},
        {"OPTIONS sip:a@ SIP/2.0\r\n\r\n", 0, 0, "Bad Request-URI", 0},
        /* header syntax */
        {GOOD_HEAD "NoColon\r\n\r\n", 0, 0, "Bad header", 400},
        {GOOD_HEAD ": x\r\n\r\n", 0, 0, "Bad header", 400},
        {GOOD_HEAD " folded-into-cseq: x\r\n\r\n", 0, 0, "Bad CSeq", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n folded: x\r\n\r\n", 0, 0,
         "Bad header", 0},
        {GOOD_HEAD "X: a\nY: b\r\n\r\n", 0, 0, "Bad line ending", 400},
        {GOOD_HEAD "X: a\rY: b\r\n\r\n", 0, 0, "Bad line ending", 400},
        {GOOD_HEAD "X: a\r\n\n\r\n", 0, 0, "Bad header", 400},
        /* missing and malformed framing headers */
        {"OPTIONS sip:a@example.com SIP/2.0\r\n\r\n", 0, 0, "Missing Via", 0},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\r\n",
         0, 0, "Missing From", 0},
        {"OPTIONS sip:a@example.com SIP/2.0\r\nVia: bogus\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: 1 OPTIONS\r\n\r\n",
         0, 0, "Bad Via", 0},
        {"OPTIONS sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h,,\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: 1 OPTIONS\r\n\r\n",
         0, 0, NULL, 0}, /* top Via fine; the list is checked lazily */
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h@i\r\nCSeq: 1 OPTIONS\r\n\r\n",
         0, 0, "Bad Call-ID", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c h\r\nCSeq: 1 OPTIONS\r\n\r\n",
         0, 0, "Bad Call-ID", 400},
        {"OPTIONS sip:a@example.com SIP/2.0\r\n"
         "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
         "From: <sip:b@example.com>;tag=1\r\nTo: <sip:a@example.com>\r\n"
         "Call-ID: c@h\r\nCSeq: 1 INVITE\r\n\r\n",
         0, 0, "CSeq method mismatch", 400},
        {GOOD_HEAD "Content-Type: text\r\n\r\n", 0, 0, "Bad Content-Type", 400},
};

static void test_reject(void **state)
{
	struct sip_msg *m = *state;

	for (size_t i = 0; i < sizeof(reject) / sizeof(reject[0]); i++) {
		size_t len =
		        reject[i].len ? reject[i].len : strlen(reject[i].msg);
		int rc = sip_msg_parse(m, (const uint8_t *)reject[i].msg, len,
		                       reject[i].mode ? SIP_MODE_STREAM
		                                      : SIP_MODE_DGRAM);

		if (reject[i].reason == NULL) {
			assert_int_equal(rc, 0);
			continue;
		}
		if (rc >= 0 || sip_msg_error(m) == NULL ||
		    strcmp(sip_msg_error(m), reject[i].reason) != 0 ||
		    sip_msg_error_status(m) != reject[i].status) {
			fail_msg("reject %zu (%s): rc %d reason \"%s\" status "
			         "%u",
			         i, reject[i].reason, rc,
			         sip_msg_error(m) ? sip_msg_error(m) : "",
			         sip_msg_error_status(m));
		}
	}
}

/* Every prefix of a valid message is refused (none reads past it: the
 * copy lives in a heap block of exactly that size, ASan checks). */
static void test_truncations(void **state)
{
	struct sip_msg *m = *state;
	size_t full = strlen(inv);

	for (size_t n = 0; n < full; n++) {
		uint8_t *p = malloc(n ? n : 1);

		assert_non_null(p);
		memcpy(p, inv, n);
		assert_true(sip_msg_parse(m, p, n, SIP_MODE_DGRAM) < 0);
		assert_true(sip_msg_parse(m, p, n, SIP_MODE_STREAM) < 0);
		free(p);
	}
	assert_int_equal(parse(m, inv, SIP_MODE_STREAM), 0);
}

/* A bare CR or LF anywhere in a header value is refused, whatever its
 * place (the scan for line ends reads 8 bytes at a time). */
static void test_bare_eol(void **state)
{
	struct sip_msg *m = *state;
	struct buf b;

	buf_init(&b, 0);
	for (int bad = 0; bad < 3; bad++) {
		for (int pos = 0; pos < 40; pos++) {
			buf_reset(&b);
			buf_put_str(&b, GOOD_HEAD "X-Pad: ");
			for (int i = 0; i < pos; i++) {
				buf_put_u8(&b, 'a');
			}
			buf_put_str(&b, bad == 0   ? "\n"
			                : bad == 1 ? "\r"
			                           : "\rx");
			buf_put_str(&b, "b\r\n\r\n");
			assert_true(sip_msg_parse(m, b.p, b.len,
			                          SIP_MODE_DGRAM) < 0);
			assert_string_equal(sip_msg_error(m),
			                    "Bad line ending");
		}
	}
	/* and a value of any length is accepted up to its CRLF */
	for (int pos = 0; pos < 40; pos++) {
		buf_reset(&b);
		buf_put_str(&b, GOOD_HEAD "X-Pad: ");
		for (int i = 0; i < pos; i++) {
			buf_put_u8(&b, 'a' + (i % 26));
		}
		buf_put_str(&b, "\r\n\r\n");
		assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM),
		                 0);
		assert_int_equal(sip_msg_hdr_lines_name(m, SLICE_LIT("x-pad")),
		                 1);
	}
	buf_free(&b);
}

/* Hard limits: size, header count, line length, values per header. */
static void test_limits(void **state)
{
	struct sip_msg *m = *state;
	struct buf b;
	struct sip_iter it;
	struct slice s;
	int rc;

	buf_init(&b, 0);
	/* SIP_MSG_MAX_HDRS headers in all */
	buf_put_str(&b, GOOD_HEAD);
	for (int i = 0; i < SIP_MSG_MAX_HDRS - 5; i++) {
		buf_printf(&b, "X-%d: v\r\n", i);
	}
	buf_put_str(&b, "\r\n");
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_msg_hdr_count(m), SIP_MSG_MAX_HDRS);
	/* one more */
	b.len -= 2;
	buf_put_str(&b, "X-last: v\r\n\r\n");
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM),
	                 -TL_ETOOBIG);
	assert_string_equal(sip_msg_error(m), "Too many headers");
	assert_int_equal(sip_msg_error_status(m), 513);

	/* one header line over SIP_MSG_MAX_LINE */
	buf_reset(&b);
	buf_put_str(&b, GOOD_HEAD "X-Long: ");
	for (int i = 0; i < SIP_MSG_MAX_LINE; i++) {
		buf_put_u8(&b, 'a');
	}
	buf_put_str(&b, "\r\n\r\n");
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM),
	                 -TL_ETOOBIG);
	assert_string_equal(sip_msg_error(m), "Header too long");

	/* a message over SIP_MSG_MAX_SIZE */
	buf_reset(&b);
	buf_put_str(&b, GOOD_HEAD "Content-Length: 65536\r\n\r\n");
	for (int i = 0; i < 65536; i++) {
		buf_put_u8(&b, 'b');
	}
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM),
	                 -TL_ETOOBIG);
	assert_string_equal(sip_msg_error(m), "Message too large");

	/* more than SIP_MSG_MAX_VALUES values in one iteration */
	buf_reset(&b);
	buf_put_str(&b, GOOD_HEAD "Supported: a");
	for (int i = 0; i < SIP_MSG_MAX_VALUES; i++) {
		buf_put_str(&b, ",a");
	}
	buf_put_str(&b, "\r\n\r\n");
	assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM), 0);
	sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
	while ((rc = sip_iter_token(&it, &s)) == 1) {
	}
	assert_int_equal(rc, -TL_ETOOBIG);
	buf_free(&b);
}

/* Lazy values: malformed ones fail on use, not at parse. */
static void test_lazy_reject(void **state)
{
	static const struct {
		const char *hdrs;
		int which; /* 0 contact, 1 via list, 2 token, 3 expires,
		            * 4 route, 5 auth, 6 event, 7 callinfo */
	} t[] = {
	        {"Contact: *, <sip:a@b>\r\n", 0},
	        {"Contact: *\r\nContact: *\r\n", 0},
	        {"Contact: <sip:a@b>,,<sip:c@d>\r\n", 0},
	        {"Contact: <sip:a@b>,\r\n", 0},
	        {"Contact: \"Joe\" <sip:joe@example.org>;;;;\r\n", 0},
	        {"Contact: <sip:a@b\r\n", 0},
	        {"Contact: \"a, <sip:a@b>\r\n", 0},
	        {"Contact: <sip:a@b>>\r\n", 0},
	        {"Via: SIP/2.0/UDP h2;;,;,,\r\n", 1},
	        {"Supported: a b\r\n", 2},
	        {"Supported: a,\"b\"\r\n", 2},
	        {"Expires: 4294967296\r\n", 3},
	        {"Expires: 10000000000000000000000000000\r\n", 3},
	        {"Expires: -1\r\n", 3},
	        {"Expires: 1 2\r\n", 3},
	        {"Route: sip:a@b;lr\r\n", -1}, /* fine: addr-spec */
	        {"Route: <sip:a@b;lr;lr>\r\n", 4},
	        {"Authorization: Digest a=\"b\r\n", 5},
	        {"Authorization: \"Digest\"\r\n", 5},
	        {"Event: \r\n", 6},
	        {"Event: a b\r\n", 6},
	        {"Call-Info: urn:x\r\n", 7},
	        {"Call-Info: <urn:x>;security\"\r\n", 7},
	};
	struct sip_msg *m = *state;
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_iter it;
		struct sip_contact c;
		struct sip_via v;
		struct sip_addr a;
		struct sip_auth au;
		struct sip_event ev;
		struct sip_callinfo ci;
		struct slice s;
		uint32_t u;
		int rc = 0;

		buf_reset(&b);
		buf_put_str(&b, GOOD_HEAD);
		buf_put_str(&b, t[i].hdrs);
		buf_put_str(&b, "\r\n");
		assert_int_equal(sip_msg_parse(m, b.p, b.len, SIP_MODE_DGRAM),
		                 0);
		switch (t[i].which) {
		case 0:
			sip_msg_iter(&it, m, SIP_HDR_CONTACT);
			while ((rc = sip_iter_contact(&it, &c)) == 1) {
			}
			break;
		case 1:
			sip_msg_iter(&it, m, SIP_HDR_VIA);
			while ((rc = sip_iter_via(&it, &v)) == 1) {
			}
			break;
		case 2:
			sip_msg_iter(&it, m, SIP_HDR_SUPPORTED);
			while ((rc = sip_iter_token(&it, &s)) == 1) {
			}
			break;
		case 3:
			rc = sip_msg_expires(m, &u);
			break;
		case -1:
		case 4:
			sip_msg_iter(&it, m, SIP_HDR_ROUTE);
			while ((rc = sip_iter_addr(&it, &a)) == 1) {
			}
			break;
		case 5:
			sip_msg_iter(&it, m, SIP_HDR_AUTHORIZATION);
			while ((rc = sip_iter_auth(&it, &au)) == 1) {
				struct slice st = au.params, an, av;
				bool q;

				while ((rc = sip_auth_param_next(&st, &an, &av,
				                                 &q)) == 1) {
				}
				if (rc < 0) {
					break;
				}
			}
			break;
		case 6:
			rc = sip_msg_event(m, &ev);
			break;
		default:
			sip_msg_iter(&it, m, SIP_HDR_CALL_INFO);
			while ((rc = sip_iter_callinfo(&it, &ci)) == 1) {
			}
			break;
		}
		if (t[i].which < 0 ? rc != 0 : rc >= 0) {
			fail_msg("lazy %zu (%s): rc %d", i, t[i].hdrs, rc);
		}
	}
	buf_free(&b);
}

/* The parser never writes into its input. */
static void test_const_input(void **state)
{
	struct sip_msg *m = *state;
	uint8_t copy[sizeof(inv)];

	memcpy(copy, inv, sizeof(inv));
	assert_int_equal(
	        sip_msg_parse(m, copy, sizeof(inv) - 1, SIP_MODE_DGRAM), 0);
	assert_memory_equal(copy, inv, sizeof(inv));
	/* leading CRLFs are skipped (RFC 3261 §7.5) */
	{
		static const char lead[] = "\r\n\r\n" GOOD_HEAD "\r\n";

		assert_int_equal(parse(m, lead, SIP_MODE_DGRAM), 0);
		assert_memory_equal(sip_msg_raw(m).p, "OPTIONS", 7);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_register, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_invite, setup, teardown),
	        cmocka_unit_test(test_names),
	        cmocka_unit_test_setup_teardown(test_build_response, setup,
	                                        teardown),
	        cmocka_unit_test(test_addr_print),
	        cmocka_unit_test(test_params),
	        cmocka_unit_test(test_values),
	        cmocka_unit_test_setup_teardown(test_reject, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_truncations, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_bare_eol, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_lazy_reject, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_const_input, setup,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
