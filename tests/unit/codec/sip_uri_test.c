/* SIP/SIPS/TEL URIs (RFC 3261 §19.1, RFC 3966): accept table with the
 * expected parts, "must reject" table, unescaping, equality, printing. */
#include "base/buf.h"
#include "codec/sip/sip_uri.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

static struct slice S(const char *s) {
	return slice_from_str(s);
}

/* NULL: absent; "": present and empty */
static void
check(struct slice got, const char *want, const char *what, const char *uri)
{
	if (want == NULL) {
		if (got.p != NULL) {
			fail_msg("%s: %s should be absent", uri, what);
		}
		return;
	}
	if (got.p == NULL || !slice_eq_str(got, want)) {
		fail_msg("%s: %s is \"%.*s\", want \"%s\"", uri, what,
		         (int)got.len, got.p ? (const char *)got.p : "", want);
	}
}

static void test_accept(void **state)
{
	static const struct {
		const char *in;
		enum sip_uri_scheme scheme;
		const char *user, *password, *host;
		enum sip_host_type ht;
		int port; /* -1: none */
		const char *params, *headers;
	} t[] = {
	        {"sip:alice@atlanta.com", SIP_URI_SIP, "alice", NULL,
	         "atlanta.com", SIP_HOST_NAME, -1, NULL, NULL},
	        {"sip:alice:secretword@atlanta.com;transport=tcp", SIP_URI_SIP,
	         "alice", "secretword", "atlanta.com", SIP_HOST_NAME, -1,
	         "transport=tcp", NULL},
	        {"sips:alice@atlanta.com?subject=project%20x&priority=urgent",
	         SIP_URI_SIPS, "alice", NULL, "atlanta.com", SIP_HOST_NAME, -1,
	         NULL, "subject=project%20x&priority=urgent"},
	        {"sip:+1-212-555-1212:1234@gateway.com;user=phone", SIP_URI_SIP,
	         "+1-212-555-1212", "1234", "gateway.com", SIP_HOST_NAME, -1,
	         "user=phone", NULL},
	        {"sips:1212@gateway.com", SIP_URI_SIPS, "1212", NULL,
	         "gateway.com", SIP_HOST_NAME, -1, NULL, NULL},
	        {"sip:alice@192.0.2.4", SIP_URI_SIP, "alice", NULL, "192.0.2.4",
	         SIP_HOST_IPV4, -1, NULL, NULL},
	        {"sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com",
	         SIP_URI_SIP, NULL, NULL, "atlanta.com", SIP_HOST_NAME, -1,
	         "method=REGISTER", "to=alice%40atlanta.com"},
	        {"sip:alice;day=tuesday@atlanta.com", SIP_URI_SIP,
	         "alice;day=tuesday", NULL, "atlanta.com", SIP_HOST_NAME, -1,
	         NULL, NULL},
	        {"SIP:[2001:db8::10]:5070;lr;maddr=239.255.255.1;ttl=15",
	         SIP_URI_SIP, NULL, NULL, "2001:db8::10", SIP_HOST_IPV6, 5070,
	         "lr;maddr=239.255.255.1;ttl=15", NULL},
	        {"sip:[::ffff:192.0.2.1]", SIP_URI_SIP, NULL, NULL,
	         "::ffff:192.0.2.1", SIP_HOST_IPV6, -1, NULL, NULL},
	        {"sip:h:0", SIP_URI_SIP, NULL, NULL, "h", SIP_HOST_NAME, 0,
	         NULL, NULL},
	        {"sip:h.example.com.:65535", SIP_URI_SIP, NULL, NULL,
	         "h.example.com.", SIP_HOST_NAME, 65535, NULL, NULL},
	        {"sip:%61lice@h;x-unknown=%41", SIP_URI_SIP, "%61lice", NULL,
	         "h", SIP_HOST_NAME, -1, "x-unknown=%41", NULL},
	        {"sip:u:@h", SIP_URI_SIP, "u", "", "h", SIP_HOST_NAME, -1, NULL,
	         NULL},
	        {"tel:+1-201-555-0123", SIP_URI_TEL, "+1-201-555-0123", NULL,
	         NULL, SIP_HOST_NONE, -1, NULL, NULL},
	        {"tel:7042;phone-context=example.com", SIP_URI_TEL, "7042",
	         NULL, NULL, SIP_HOST_NONE, -1, "phone-context=example.com",
	         NULL},
	        {"tel:863-1234;phone-context=+1-914-555", SIP_URI_TEL,
	         "863-1234", NULL, NULL, SIP_HOST_NONE, -1,
	         "phone-context=+1-914-555", NULL},
	        {"urn:x-cisco-remotecc:callinfo", SIP_URI_OTHER, NULL, NULL,
	         NULL, SIP_HOST_NONE, -1, NULL, NULL},
	        {"http://www.example.com/a;b?c", SIP_URI_OTHER, NULL, NULL,
	         NULL, SIP_HOST_NONE, -1, NULL, NULL},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_uri u;
		int rc = sip_uri_parse(&u, (const uint8_t *)t[i].in,
		                       strlen(t[i].in));

		if (rc != 0) {
			fail_msg("%s: rc %d", t[i].in, rc);
		}
		assert_int_equal(u.scheme, t[i].scheme);
		assert_true(slice_eq_str(u.raw, t[i].in));
		check(u.user, t[i].user, "user", t[i].in);
		check(u.password, t[i].password, "password", t[i].in);
		check(u.host, t[i].host, "host", t[i].in);
		assert_int_equal(u.host_type, t[i].ht);
		assert_int_equal(u.has_port, t[i].port >= 0);
		if (t[i].port >= 0) {
			assert_int_equal(u.port, t[i].port);
		}
		check(u.params, t[i].params, "params", t[i].in);
		check(u.headers, t[i].headers, "headers", t[i].in);
	}
}

static void test_known_params(void **state)
{
	static const char in[] = "sip:h;transport=TLS;user=phone;method=INVITE;"
	                         "maddr=10.0.0.1;ttl=255;lr;other";
	struct sip_uri u;
	struct slice v, st, n;
	int rc, count = 0;

	assert_int_equal(sip_uri_parse(&u, (const uint8_t *)in, strlen(in)), 0);
	assert_int_equal(u.tp, SIP_TP_TLS);
	assert_true(slice_eq_str(u.transport, "TLS"));
	assert_true(slice_eq_str(u.user_param, "phone"));
	assert_true(slice_eq_str(u.method, "INVITE"));
	assert_true(slice_eq_str(u.maddr, "10.0.0.1"));
	assert_true(u.has_ttl);
	assert_int_equal(u.ttl, 255);
	assert_true(u.lr);
	assert_int_equal(sip_uri_param(&u, "OTHER", &v), 0);
	assert_int_equal(v.len, 0);
	assert_int_equal(sip_uri_param(&u, "ttl", &v), 0);
	assert_true(slice_eq_str(v, "255"));
	assert_int_equal(sip_uri_param(&u, "none", &v), -TL_ENOTFOUND);

	static const char hin[] = "sip:h?a=1&b=&c=%20";
	assert_int_equal(sip_uri_parse(&u, (const uint8_t *)hin, strlen(hin)),
	                 0);
	st = u.headers;
	while ((rc = sip_uri_header_next(&st, &n, &v)) == 1) {
		count++;
	}
	assert_int_equal(rc, 0);
	assert_int_equal(count, 3);
	assert_string_equal(sip_transport_name(SIP_TP_WSS), "WSS");
	assert_null(sip_transport_name(SIP_TP_OTHER));
	assert_int_equal(sip_transport_from(S("tls-sctp")), SIP_TP_TLS_SCTP);
}

/* must reject: truncated, overlong, trailing bytes, NUL inside, duplicate
 * parameters, integer overflow, bad characters */
static void test_reject(void **state)
{
	static const struct {
		const char *in;
		size_t len; /* 0: strlen */
	} t[] = {
	        {"", 0},
	        {"sip", 0},
	        {"sip:", 0},
	        {"sip:@h", 0},
	        {"sip:u@", 0},
	        {"sip:u@h:", 0},
	        {"sip:u@h;", 0},
	        {"sip:u@h?", 0},
	        {"sip:u@h;lr;", 0},
	        {"sip:u@h?a=1&", 0},
	        {"sip:u@h?a", 0},
	        {"sip:u@h:65536", 0},
	        {"sip:u@h:99999999999999999999999", 0},
	        {"sip:u@h:005060", 0},
	        {"sip:u@h;ttl=256", 0},
	        {"sip:u@h;ttl=0001", 0},
	        {"sip:u@h;lr;lr", 0},
	        {"sip:u@h;transport=udp;transport=tcp", 0},
	        {"sip:u@h;maddr=", 0},
	        {"sip:u@h;;lr", 0},
	        {"sip:u@h;=x", 0},
	        {"sip:u%4@h", 0},
	        {"sip:u%@h", 0},
	        {"sip:u%zz@h", 0},
	        {"sip:u@h%41", 0},
	        {"sip:u@[2001:db8::1", 0},
	        {"sip:u@[2001:db8::g]", 0},
	        {"sip:u@[]", 0},
	        {"sip:u@[1.2.3.4]", 0},
	        {"sip:u@1.2.3.256", 0},
	        {"sip:u@1.2.3", 0},
	        {"sip:u@1.2.3.4.5", 0},
	        {"sip:u@-h.com", 0},
	        {"sip:u@h-.com", 0},
	        {"sip:u@h..com", 0},
	        {"sip:u@h.123", 0},
	        {"sip:u@h_x.com", 0},
	        {"sip:u@h x", 0},
	        {"sip:u@h\tx", 0},
	        {"sip:u@h>", 0},
	        {"<sip:u@h>", 0},
	        {"sip:u\"@h", 0},
	        {"sip:u@h\0", 5 + 3},
	        {"sip:u\0@h", 8},
	        {"sip:u@h\r\n", 0},
	        {"sip:u@h junk", 0},
	        {"sip:u@h:5060x", 0},
	        {"sip:u@h]", 0},
	        {"sip:u@h;a=b=c", 0},
	        {"1sip:u@h", 0},
	        {":u@h", 0},
	        {"sip:u@h\x80", 0},
	        {"tel:", 0},
	        {"tel:+", 0},
	        {"tel:+1-x", 0},
	        {"tel:1234", 0}, /* local number without phone-context */
	        {"tel:+123;", 0},
	        {"tel:+123;;a=b", 0},
	        {"foo:", 0},
	        {"foo:a b", 0},
	};
	static uint8_t big[SIP_URI_MAX_LEN + 16];
	struct sip_uri u;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = t[i].len ? t[i].len : strlen(t[i].in);
		int rc = sip_uri_parse(&u, (const uint8_t *)t[i].in, len);

		if (rc >= 0) {
			fail_msg("accepted: %s", t[i].in);
		}
	}
	/* overlong */
	memcpy(big, "sip:", 4);
	memset(big + 4, 'a', sizeof(big) - 4);
	big[10] = '@';
	assert_int_equal(sip_uri_parse(&u, big, sizeof(big)), -TL_ETOOBIG);
	assert_int_equal(sip_uri_parse(&u, NULL, 0), -TL_EPARSE);
}

static void test_unescape(void **state)
{
	static const struct {
		const char *in;
		const char *out;
		size_t outlen;
		int rc;
	} t[] = {
	        {"abc", "abc", 3, 0},
	        {"%41%62", "Ab", 2, 0},
	        {"%2541", "%41", 3, 0}, /* one level, never recursive */
	        {"a%00b", "a\0b", 3, 0},
	        {"%", NULL, 0, -TL_EPARSE},
	        {"%4", NULL, 0, -TL_EPARSE},
	        {"%4g", NULL, 0, -TL_EPARSE},
	        {"0123456789", NULL, 0, -TL_ETOOBIG},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t dst[8];
		size_t n = 99;
		int rc = sip_uri_unescape(S(t[i].in), dst, sizeof(dst), &n);

		assert_int_equal(rc, t[i].rc);
		if (rc == 0) {
			assert_int_equal(n, t[i].outlen);
			assert_memory_equal(dst, t[i].out, n);
		}
	}
}

/* RFC 3261 §19.1.4 examples */
static void test_eq(void **state)
{
	static const struct {
		const char *a, *b;
		bool eq;
	} t[] = {
	        {"sip:%61lice@atlanta.com;transport=TCP",
	         "sip:alice@AtLanTa.CoM;Transport=tcp", true},
	        {"sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5",
	         true},
	        {"sip:carol@chicago.com;security=on",
	         "sip:carol@chicago.com;newparam=5", true},
	        {"sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%"
	         "40biloxi.com",
	         "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%"
	         "40biloxi.com",
	         true},
	        {"sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	         "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
	         true},
	        {"SIP:ALICE@AtLanTa.CoM;Transport=udp",
	         "sip:alice@AtLanTa.CoM;Transport=UDP", false},
	        {"sip:bob@biloxi.com", "sip:bob@biloxi.com:5060", false},
	        {"sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp",
	         false},
	        {"sip:carol@chicago.com;newparam=5",
	         "sip:carol@chicago.com;newparam=6", false},
	        {"sips:a@h", "sip:a@h", false},
	        {"tel:+1-201-555-0123", "tel:+12015550123", true},
	        {"tel:+1-201-555-0123", "tel:+12015550124", false},
	        {"urn:a", "urn:a", true},
	        {"urn:a", "urn:b", false},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_uri a, b;

		assert_int_equal(sip_uri_parse(&a, (const uint8_t *)t[i].a,
		                               strlen(t[i].a)),
		                 0);
		assert_int_equal(sip_uri_parse(&b, (const uint8_t *)t[i].b,
		                               strlen(t[i].b)),
		                 0);
		if (sip_uri_eq(&a, &b) != t[i].eq ||
		    sip_uri_eq(&b, &a) != t[i].eq) {
			fail_msg("%s vs %s", t[i].a, t[i].b);
		}
	}
}

static void test_print(void **state)
{
	static const struct {
		const char *in, *out;
	} t[] = {
	        {"SIP:alice:pw@[2001:db8::1]:5060;lr?a=b",
	         "sip:alice:pw@[2001:db8::1]:5060;lr?a=b"},
	        {"sips:h", "sips:h"},
	        {"TEL:+1-2;ext=3", "tel:+1-2;ext=3"},
	        {"urn:x-cisco-remotecc:callinfo",
	         "urn:x-cisco-remotecc:callinfo"},
	};
	struct buf b;

	buf_init(&b, 0);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_uri u, u2;

		buf_reset(&b);
		assert_int_equal(sip_uri_parse(&u, (const uint8_t *)t[i].in,
		                               strlen(t[i].in)),
		                 0);
		sip_uri_print(&b, &u);
		assert_int_equal(buf_err(&b), 0);
		assert_true(slice_eq_str(buf_slice(&b), t[i].out));
		/* printing is stable: it parses back to an equal URI */
		assert_int_equal(sip_uri_parse(&u2, b.p, b.len), 0);
		assert_true(sip_uri_eq(&u, &u2));
	}
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_known_params),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_unescape),
	        cmocka_unit_test(test_eq),
	        cmocka_unit_test(test_print),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
