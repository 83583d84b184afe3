#include "base/buf.h"
#include "codec/sdp/sdp.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define HEAD                                                                   \
	"v=0\r\n"                                                              \
	"o=- 1 1 IN IP4 127.0.0.1\r\n"                                         \
	"s=-\r\n"                                                              \
	"c=IN IP4 127.0.0.1\r\n"                                               \
	"t=0 0\r\n"
/* 30 bytes (key 16 + salt 14) and 28 bytes (16 + 12) in base64. */
#define KEY30  "WnD7c1ksDGs+dIefCEo8omPg4uO8DYIinNGL5yxQ"
#define KEY28  "aW5saW5laW5saW5laW5saW5laW5saW5l"
#define KEY28P "0123456789abcdef0123456789abcdefghijkl"

static const char plain_audio[] = HEAD "m=audio 20000 RTP/AVP 0 8 101\r\n"
                                       "a=rtpmap:0 PCMU/8000\r\n"
                                       "a=sendrecv\r\n";

static const char srtp_audio[] =
        HEAD "m=audio 20000 RTP/SAVP 0\r\n"
             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
             "a=crypto:2 AEAD_AES_128_GCM inline:" KEY28P "\r\n"
             "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" KEY30 "|2^20|1:4\r\n"
             "a=rtpmap:0 PCMU/8000\r\n";

struct accept_case {
	const char *what;
	const char *sdp;
	size_t media;
	uint16_t port;
	const char *proto;
	size_t n_crypto;
	enum sdp_dir dir;
	bool srtp, hold;
};

static const struct accept_case accepts[] = {
        {"plain audio", plain_audio, 1, 20000, "RTP/AVP", 0, SDP_DIR_SENDRECV,
         false, false},
        {"SRTP audio, three suites", srtp_audio, 1, 20000, "RTP/SAVP", 3,
         SDP_DIR_SENDRECV, true, false},
        {"LF line ends",
         "v=0\no=u 2 3 IN IP6 ::1\ns=x\nc=IN IP6 ::1\nt=0 0\n"
         "m=audio 1/2 RTP/AVP 0\n",
         1, 1, "RTP/AVP", 0, SDP_DIR_SENDRECV, false, false},
        {"hold by sendonly", HEAD "a=sendonly\r\nm=audio 5 RTP/AVP 0\r\n", 1, 5,
         "RTP/AVP", 0, SDP_DIR_SENDONLY, false, true},
        {"hold by 0.0.0.0",
         "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n"
         "m=audio 5 RTP/AVP 0\r\nc=IN IP4 0.0.0.0\r\n",
         1, 5, "RTP/AVP", 0, SDP_DIR_SENDRECV, false, true},
        {"media inactive overrides session",
         HEAD "a=sendrecv\r\nm=audio 5 RTP/AVP 0\r\na=inactive\r\n", 1, 5,
         "RTP/AVP", 0, SDP_DIR_INACTIVE, false, true},
        {"no media", HEAD, 0, 0, NULL, 0, 0, false, false},
        {"session attributes, bandwidth, repeat",
         HEAD "r=7d 1h 0 25h\r\na=tool:x\r\nm=video 0 RTP/AVP 96\r\n"
              "b=AS:64\r\na=rtpmap:96 H264/90000\r\n",
         1, 0, "RTP/AVP", 0, SDP_DIR_SENDRECV, false, false},
        {"key with lifetime and MKI, session params",
         HEAD "m=audio 9 RTP/SAVP 0\r\na=crypto:7 AES_CM_128_HMAC_SHA1_80 "
              "inline:" KEY30 "|2^31|1:1 KDR=0 UNENCRYPTED_SRTCP\r\n",
         1, 9, "RTP/SAVP", 1, SDP_DIR_SENDRECV, true, false},
};

static void test_accept(void **state)
{
	(void)state;
	struct sdp *s;
	assert_int_equal(sdp_new(&s), 0);
	for (size_t i = 0; i < sizeof(accepts) / sizeof(*accepts); i++) {
		const struct accept_case *t = &accepts[i];
		int err = sdp_parse(s, (const uint8_t *)t->sdp, strlen(t->sdp));
		struct sdp_media m;

		if (err) {
			fail_msg("%s: %d", t->what, err);
		}
		assert_int_equal(sdp_media_count(s), t->media);
		assert_int_equal(sdp_is_srtp(s), t->srtp);
		assert_int_equal(sdp_on_hold(s), t->hold);
		if (!t->media) {
			assert_int_equal(sdp_media_get(s, 0, &m),
			                 -TL_ENOTFOUND);
			continue;
		}
		assert_int_equal(sdp_media_get(s, 0, &m), 0);
		assert_int_equal(m.port, t->port);
		assert_true(slice_eq_str(m.proto, t->proto));
		assert_int_equal(m.n_crypto, t->n_crypto);
		assert_int_equal(m.dir, t->dir);
	}
	sdp_free(s);
}

static void test_crypto_fields(void **state)
{
	(void)state;
	struct sdp *s;
	struct sdp_crypto c;

	assert_int_equal(sdp_new(&s), 0);
	assert_int_equal(
	        sdp_parse(s, (const uint8_t *)srtp_audio, strlen(srtp_audio)),
	        0);
	assert_int_equal(sdp_crypto_get(s, 0, 0, &c), 0);
	assert_int_equal(c.tag, 1);
	assert_int_equal(c.suite_id, SDP_SUITE_AES_CM_128_HMAC_SHA1_80);
	assert_true(slice_eq_str(c.key_params, "inline:" KEY30));
	assert_null(c.session_params.p);
	assert_int_equal(sdp_crypto_get(s, 0, 1, &c), 0);
	assert_int_equal(c.suite_id, SDP_SUITE_AEAD_AES_128_GCM);
	assert_int_equal(sdp_crypto_get(s, 0, 3, &c), -TL_ENOTFOUND);
	assert_int_equal(sdp_crypto_get(s, 1, 0, &c), -TL_ENOTFOUND);
	assert_true(sdp_has_crypto(s));
	sdp_free(s);
}

struct reject_case {
	const char *what;
	const char *sdp;
	size_t len; /* 0: strlen */
	int err;
};

static const struct reject_case rejects[] = {
        {"empty", "", 0, -TL_ETRUNC},
        {"truncated: last line without its end", HEAD "m=audio 1 RTP/AVP 0", 0,
         -TL_ETRUNC},
        {"truncated: no t=", "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\n", 0,
         -TL_EPARSE},
        {"missing o=", "v=0\r\ns=-\r\nc=IN IP4 a\r\nt=0 0\r\n", 0, -TL_EPARSE},
        {"v= not first", "o=- 1 1 IN IP4 a\r\nv=0\r\ns=-\r\nt=0 0\r\n", 0,
         -TL_EPARSE},
        {"v=1", "v=1\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\n", 0, -TL_EPARSE},
        {"duplicate v=", "v=0\r\nv=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\n",
         0, -TL_EDUP},
        {"duplicate s=", "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\ns=-\r\nt=0 0\r\n",
         0, -TL_EDUP},
        {"s= before o=", "v=0\r\ns=-\r\no=- 1 1 IN IP4 a\r\nt=0 0\r\n", 0,
         -TL_EPARSE},
        {"unknown type letter", HEAD "y=1\r\n", 0, -TL_EPARSE},
        {"upper-case type", HEAD "A=x\r\n", 0, -TL_EPARSE},
        {"line without =", HEAD "a\r\n", 0, -TL_EPARSE},
        {"NUL inside", HEAD "a=to\0ol\r\n", sizeof(HEAD "a=to\0ol\r\n") - 1,
         -TL_EPARSE},
        {"bare CR inside", HEAD "a=to\rol\r\n", 0, -TL_EPARSE},
        {"trailing bytes after the last line", HEAD "garbage", 0, -TL_ETRUNC},
        {"port over 65535", HEAD "m=audio 65536 RTP/AVP 0\r\n", 0, -TL_ETOOBIG},
        {"port of 6 digits", HEAD "m=audio 000001 RTP/AVP 0\r\n", 0,
         -TL_ETOOBIG},
        {"port count 0", HEAD "m=audio 1/0 RTP/AVP 0\r\n", 0, -TL_EPARSE},
        {"sess-id integer overflow",
         "v=0\r\no=- 99999999999999999999999 1 IN IP4 a\r\ns=-\r\nt=0 0\r\n", 0,
         -TL_ETOOBIG},
        {"t= overflow", HEAD "t=0 184467440737095516160\r\n", 0, -TL_ETOOBIG},
        {"m= without formats", HEAD "m=audio 1 RTP/AVP\r\n", 0, -TL_EPARSE},
        {"m= with double space", HEAD "m=audio 1  RTP/AVP 0\r\n", 0,
         -TL_EPARSE},
        {"media without any c=",
         "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n",
         0, -TL_EPARSE},
        {"c= bad network type",
         "v=0\r\no=- 1 1 IN IP4 a\r\ns=-\r\n"
         "c=XX IP4 a\r\nt=0 0\r\n",
         0, -TL_EPARSE},
        {"duplicate c= in a section",
         HEAD "m=audio 1 RTP/AVP 0\r\nc=IN IP4 a\r\nc=IN IP4 b\r\n", 0,
         -TL_EDUP},
        {"c= after a= in a section",
         HEAD "m=audio 1 RTP/AVP 0\r\na=x\r\nc=IN IP4 a\r\n", 0, -TL_EPARSE},
        {"two directions in a section",
         HEAD "m=audio 1 RTP/AVP 0\r\na=sendonly\r\na=recvonly\r\n", 0,
         -TL_EDUP},
        {"crypto at session level",
         HEAD "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n", 0,
         -TL_EPARSE},
        {"duplicate crypto tag",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
              "a=crypto:1 AEAD_AES_128_GCM inline:" KEY28P "\r\n",
         0, -TL_EDUP},
        {"crypto tag of 10 digits",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1234567890 AES_CM_128_HMAC_SHA1_80 inline:" KEY30
              "\r\n",
         0, -TL_ETOOBIG},
        {"crypto key too short for the suite",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY28 "\r\n",
         0, -TL_EPARSE},
        {"crypto key not base64",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:****\r\n",
         0, -TL_EPARSE},
        {"crypto without key",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80\r\n",
         0, -TL_EPARSE},
        {"crypto key method not inline",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 uri:" KEY30 "\r\n",
         0, -TL_EPARSE},
        {"crypto bad lifetime",
         HEAD "m=audio 1 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "|x\r\n",
         0, -TL_EPARSE},
};

static void test_reject(void **state)
{
	(void)state;
	struct sdp *s;

	assert_int_equal(sdp_new(&s), 0);
	for (size_t i = 0; i < sizeof(rejects) / sizeof(*rejects); i++) {
		const struct reject_case *t = &rejects[i];
		size_t len = t->len ? t->len : strlen(t->sdp);
		int err = sdp_parse(s, (const uint8_t *)t->sdp, len);
		if (err != t->err) {
			fail_msg("%s: got %d, want %d", t->what, err, t->err);
		}
	}
	sdp_free(s);
}

static void test_reject_overlong(void **state)
{
	(void)state;
	struct sdp *s;
	struct buf b;

	assert_int_equal(sdp_new(&s), 0);
	/* A line over SDP_MAX_LINE. */
	buf_init(&b, 0);
	buf_put_str(&b, HEAD "a=x:");
	for (size_t i = 0; i < SDP_MAX_LINE; i++) {
		buf_put_u8(&b, 'y');
	}
	buf_put_str(&b, "\r\n");
	assert_int_equal(buf_err(&b), 0);
	assert_int_equal(sdp_parse(s, b.p, b.len), -TL_ETOOBIG);
	/* Too many lines. */
	buf_reset(&b);
	buf_put_str(&b, HEAD);
	for (size_t i = 0; i < SDP_MAX_LINES; i++) {
		buf_put_str(&b, "a=x\r\n");
	}
	assert_int_equal(sdp_parse(s, b.p, b.len), -TL_ETOOBIG);
	/* Too many media sections. */
	buf_reset(&b);
	buf_put_str(&b, HEAD);
	for (size_t i = 0; i <= SDP_MAX_MEDIA; i++) {
		buf_put_str(&b, "m=audio 0 RTP/AVP 0\r\n");
	}
	assert_int_equal(sdp_parse(s, b.p, b.len), -TL_ETOOBIG);
	/* Too many crypto attributes in one section. */
	buf_reset(&b);
	buf_put_str(&b, HEAD "m=audio 1 RTP/SAVP 0\r\n");
	for (size_t i = 0; i <= SDP_MAX_CRYPTO; i++) {
		buf_printf(&b,
		           "a=crypto:%zu AES_CM_128_HMAC_SHA1_80 inline:" KEY30
		           "\r\n",
		           i + 1);
	}
	assert_int_equal(sdp_parse(s, b.p, b.len), -TL_ETOOBIG);
	/* Over the size limit. */
	buf_reset(&b);
	buf_put_str(&b, HEAD);
	while (b.len <= SDP_MAX_SIZE) {
		buf_put_str(&b, "b=AS:1\r\n");
	}
	assert_int_equal(sdp_parse(s, b.p, b.len), -TL_ETOOBIG);
	buf_free(&b);
	sdp_free(s);
}

struct print_case {
	const char *what;
	struct sdp_out out;
	const char *want;
};

static const struct print_case prints[] = {
        {"kept as is", {false, 0}, srtp_audio},
        {"not a TLS leg: no crypto, RTP/AVP",
         {true, 0},
         HEAD "m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"},
        {"encrypted both ends: the two suites",
         {false,
          SDP_SUITE_AES_CM_128_HMAC_SHA1_80 | SDP_SUITE_AEAD_AES_128_GCM},
         HEAD "m=audio 20000 RTP/SAVP 0\r\n"
              "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:" KEY30 "\r\n"
              "a=crypto:2 AEAD_AES_128_GCM inline:" KEY28P "\r\n"
              "a=rtpmap:0 PCMU/8000\r\n"},
        {"no allowed suite left: RTP/AVP",
         {false, SDP_SUITE_AEAD_AES_256_GCM},
         HEAD "m=audio 20000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"},
};

static void test_print(void **state)
{
	(void)state;
	struct sdp *s, *back;
	struct buf b;

	assert_int_equal(sdp_new(&s), 0);
	assert_int_equal(sdp_new(&back), 0);
	assert_int_equal(
	        sdp_parse(s, (const uint8_t *)srtp_audio, strlen(srtp_audio)),
	        0);
	for (size_t i = 0; i < sizeof(prints) / sizeof(*prints); i++) {
		buf_init(&b, 0);
		assert_int_equal(sdp_print(&b, s, &prints[i].out), 0);
		if (b.len != strlen(prints[i].want) ||
		    memcmp(b.p, prints[i].want, b.len) != 0) {
			fail_msg("%s: got %.*s", prints[i].what, (int)b.len,
			         (const char *)b.p);
		}
		/* What we print parses again. */
		assert_int_equal(sdp_parse(back, b.p, b.len), 0);
		if (prints[i].out.strip_crypto) {
			assert_false(sdp_has_crypto(back));
		}
		buf_free(&b);
	}
	/* LF input is printed with CRLF. */
	static const char lf[] = "v=0\no=- 1 1 IN IP4 a\ns=-\nt=0 0\n";
	assert_int_equal(sdp_parse(s, (const uint8_t *)lf, strlen(lf)), 0);
	buf_init(&b, 0);
	assert_int_equal(sdp_print(&b, s, &(struct sdp_out){0}), 0);
	assert_int_equal(b.len, strlen(lf) + 4);
	buf_free(&b);
	sdp_free(back);
	sdp_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_crypto_fields),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_reject_overlong),
	        cmocka_unit_test(test_print),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
