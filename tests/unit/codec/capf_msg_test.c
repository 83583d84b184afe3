/* CAPF message codec (reference/cisco-formats.md §4.2): accept and
 * must-reject tables, typed element reads, printer round trips. */
#include "base/buf.h"
#include "codec/capf/capf_msg.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MSG(s) (const uint8_t *)(s), sizeof(s) - 1

struct accept_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	uint8_t cmd;
	uint32_t session;
	uint32_t present;
};

static const struct accept_case accepts[] = {
        {"AUTH_REQ",
         MSG("\x55\x01\x12\x34\x56\x78\x00\x08\x07\x00\x01\x03"
             "\x08\x00\x01\x00"),
         CAPF_AUTH_REQ, 0x12345678, (1u << 7) | (1u << 8)},
        {"empty body", MSG("\x55\x0b\x00\x00\x00\x01\x00\x00"),
         CAPF_FETCH_CERT_REQ, 1, 0},
        {"unknown tag skipped",
         MSG("\x55\x0f\xff\xff\xff\xff\x00\x08\x63\x00\x01\x00\x01\x00\x01"
             "\x01"),
         CAPF_END_SESSION, 0xffffffff, 1u << 1},
        {"empty element", MSG("\x55\x02\x00\x00\x00\x00\x00\x03\x0b\x00\x00"),
         CAPF_AUTH_RESP, 0, 1u << 11},
        {"highest command", MSG("\x55\x17\x00\x00\x00\x00\x00\x00"),
         CAPF_SIGN_CERT_RESP, 0, 0},
};

static void test_accept(void **state)
{
	for (size_t i = 0; i < sizeof(accepts) / sizeof(accepts[0]); i++) {
		const struct accept_case *t = &accepts[i];
		struct capf_msg m;
		size_t n = 0;

		if (capf_msg_parse(&m, t->p, t->len) != 0) {
			fail_msg("%s: refused", t->what);
		}
		assert_int_equal(m.cmd, t->cmd);
		assert_int_equal(m.session, t->session);
		assert_int_equal(m.present, t->present);
		assert_int_equal(capf_frame(t->p, t->len, &n), 1);
		assert_int_equal(n, t->len);
	}
}

struct reject_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	int err;
};

static const struct reject_case rejects[] = {
        {"empty", MSG(""), -TL_ETRUNC},
        {"truncated header", MSG("\x55\x01\x00\x00\x00"), -TL_ETRUNC},
        {"truncated body", MSG("\x55\x01\x00\x00\x00\x00\x00\x04\x07\x00"),
         -TL_ETRUNC},
        {"trailing bytes after the body",
         MSG("\x55\x01\x00\x00\x00\x00\x00\x00\x00"), -TL_ETRAIL},
        {"wrong protocol id", MSG("\x56\x01\x00\x00\x00\x00\x00\x00"),
         -TL_EPARSE},
        {"command 0", MSG("\x55\x00\x00\x00\x00\x00\x00\x00"), -TL_EUNKNOWN},
        {"command 24", MSG("\x55\x18\x00\x00\x00\x00\x00\x00"), -TL_EUNKNOWN},
        {"element length past the body (overlong)",
         MSG("\x55\x02\x00\x00\x00\x00\x00\x04\x0d\x00\x05\x41"), -TL_ETRUNC},
        {"element header cut", MSG("\x55\x02\x00\x00\x00\x00\x00\x02\x0d\x00"),
         -TL_ETRUNC},
        {"duplicate critical field",
         MSG("\x55\x02\x00\x00\x00\x00\x00\x08\x07\x00\x01\x03\x07\x00\x01"
             "\x03"),
         -TL_EDUP},
        {"u8 element of 2 bytes",
         MSG("\x55\x02\x00\x00\x00\x00\x00\x05\x08\x00\x02\x00\x01"),
         -TL_EPARSE},
        {"KEY_SIZE of 1 byte (integer too short)",
         MSG("\x55\x03\x00\x00\x00\x00\x00\x04\x0a\x00\x01\x08"), -TL_EPARSE},
        {"KEY_SIZE of 3 bytes (integer overflow)",
         MSG("\x55\x03\x00\x00\x00\x00\x00\x06\x0a\x00\x03\x01\x00\x00"),
         -TL_EPARSE},
};

static void test_reject(void **state)
{
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject_case *t = &rejects[i];
		struct capf_msg m;
		int err = capf_msg_parse(&m, t->p, t->len);

		if (err != t->err) {
			fail_msg("%s: %d, wanted %d", t->what, err, t->err);
		}
	}
}

/* oversize variable elements: one byte over each limit */
static void test_reject_oversize(void **state)
{
	static const struct {
		uint8_t tag;
		size_t max;
	} lim[] = {
	        {CAPF_T_DEVICE_NAME, CAPF_NAME_MAX},
	        {CAPF_T_PASSWORD, CAPF_PASS_MAX},
	        {CAPF_T_CERTIFICATE, CAPF_CERT_MAX},
	        {CAPF_T_PUBLIC_KEY, CAPF_PUBKEY_MAX},
	        {CAPF_T_SIGNED_DATA, CAPF_SIG_MAX},
	        {CAPF_T_SHA2_SIGNED_DATA, CAPF_SIG_MAX + 3},
	        {CAPF_T_SUDI_DATA, CAPF_OTHER_MAX},
	};
	for (size_t i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		for (size_t extra = 0; extra <= 1; extra++) {
			size_t vlen = lim[i].max + extra;
			uint8_t *v = calloc(1, vlen);
			struct buf b;
			struct capf_msg m;

			buf_init(&b, 0);
			size_t s = capf_msg_begin(&b, CAPF_AUTH_RESP, 7);
			capf_put_bytes(&b, lim[i].tag, v, vlen);
			assert_int_equal(capf_msg_end(&b, s), 0);
			assert_int_equal(capf_msg_parse(&m, b.p, b.len),
			                 extra ? -TL_ETOOBIG : 0);
			buf_free(&b);
			free(v);
		}
	}
}

static void test_strings(void **state)
{
	static const struct {
		const char *what;
		const uint8_t *v;
		size_t len;
		int err;
		const char *want;
	} cases[] = {
	        {"plain", MSG("SEP001122334455\0"), 0, "SEP001122334455"},
	        {"empty value", MSG(""), 0, ""},
	        {"just a NUL", MSG("\0"), 0, ""},
	        {"no final NUL", MSG("SEP"), -TL_EPARSE, NULL},
	        {"NUL inside", MSG("SE\0P\0"), -TL_EPARSE, NULL},
	        {"too long for the output", MSG("0123456789abcdef\0"),
	         -TL_ETOOBIG, NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		struct capf_msg m;
		char out[16];

		buf_init(&b, 0);
		size_t s = capf_msg_begin(&b, CAPF_AUTH_RESP, 1);
		capf_put_bytes(&b, CAPF_T_DEVICE_NAME, cases[i].v,
		               cases[i].len);
		assert_int_equal(capf_msg_end(&b, s), 0);
		assert_int_equal(capf_msg_parse(&m, b.p, b.len), 0);
		int err =
		        capf_msg_str(&m, CAPF_T_DEVICE_NAME, out, sizeof(out));
		if (err != cases[i].err) {
			fail_msg("%s: %d", cases[i].what, err);
		}
		if (cases[i].want) {
			assert_string_equal(out, cases[i].want);
		}
		assert_int_equal(
		        capf_msg_str(&m, CAPF_T_PASSWORD, out, sizeof(out)),
		        -TL_ENOTFOUND);
		buf_free(&b);
	}
}

static void test_round_trip(void **state)
{
	static const uint8_t der[] = {0x30, 0x03, 0x02, 0x01, 0x05};
	static const uint8_t sig[] = {1, 2, 3, 4};
	struct capf_msg m;
	struct slice s;
	uint8_t u8;
	uint16_t u16;
	struct buf b;

	buf_init(&b, 0);
	size_t st = capf_msg_begin(&b, CAPF_STORE_CERT_REQ, 0xdeadbeef);
	capf_put_u8(&b, CAPF_T_CERT_TYPE, CAPF_CERT_LSC);
	capf_put_u16(&b, CAPF_T_KEY_SIZE, 2048);
	capf_put_cert(&b, CAPF_CERT_LSC, der, sizeof(der));
	capf_put_sig2(&b, CAPF_HASH_SHA512, sig, sizeof(sig));
	capf_put_str(&b, CAPF_T_DEVICE_NAME, "SEP001122334455");
	assert_int_equal(capf_msg_end(&b, st), 0);
	/* the header carries the body length */
	assert_int_equal((b.p[6] << 8) | b.p[7], b.len - 8);
	assert_int_equal(capf_msg_parse(&m, b.p, b.len), 0);
	assert_int_equal(m.cmd, CAPF_STORE_CERT_REQ);
	assert_int_equal(m.session, 0xdeadbeef);
	assert_int_equal(capf_msg_u8(&m, CAPF_T_CERT_TYPE, &u8), 0);
	assert_int_equal(u8, 1);
	assert_int_equal(capf_msg_u16(&m, CAPF_T_KEY_SIZE, &u16), 0);
	assert_int_equal(u16, 2048);
	assert_int_equal(capf_msg_cert(&m, &u8, &s), 0);
	assert_int_equal(u8, CAPF_CERT_LSC);
	assert_int_equal(s.len, sizeof(der));
	assert_memory_equal(s.p, der, sizeof(der));
	/* the wrapper as Cisco writes it: 01, len+2, 00, type */
	assert_memory_equal(m.el[CAPF_T_CERTIFICATE].p, "\x01\x00\x07\x00\x01",
	                    5);
	assert_int_equal(capf_msg_sig2(&m, &u8, &s), 0);
	assert_int_equal(u8, CAPF_HASH_SHA512);
	assert_int_equal(s.len, sizeof(sig));
	assert_int_equal(capf_msg_u8(&m, CAPF_T_REASON, &u8), -TL_ENOTFOUND);
	/* framing: every prefix needs more, the whole is one message */
	for (size_t i = 0; i < b.len; i++) {
		size_t n;
		assert_int_equal(capf_frame(b.p, i, &n), 0);
	}
	buf_free(&b);
}

static void test_bad_wrappers(void **state)
{
	static const struct {
		const char *what;
		const uint8_t *v;
		size_t len;
		int err;
	} certs[] =
	        {
	                {"too short", MSG("\x01\x00\x02\x00"), -TL_ETRUNC},
	                {"bad marker", MSG("\x02\x00\x03\x00\x01\x30"),
	                 -TL_EPARSE},
	                {"inner length off", MSG("\x01\x00\x04\x00\x01\x30"),
	                 -TL_EPARSE},
	        },
	  sigs[] = {
	          {"no length", MSG("\x03\x00"), -TL_ETRUNC},
	          {"length past the end", MSG("\x03\x00\x05\x01"), -TL_ETRUNC},
	          {"trailing", MSG("\x03\x00\x01\x01\x02"), -TL_ETRAIL},
	          {"empty signature", MSG("\x03\x00\x00"), -TL_ETRUNC},
	  };
	for (size_t i = 0; i < 3; i++) {
		struct buf b;
		struct capf_msg m;
		struct slice s;
		uint8_t t;
		buf_init(&b, 0);
		size_t st = capf_msg_begin(&b, CAPF_AUTH_RESP, 1);
		capf_put_bytes(&b, CAPF_T_CERTIFICATE, certs[i].v,
		               certs[i].len);
		assert_int_equal(capf_msg_end(&b, st), 0);
		assert_int_equal(capf_msg_parse(&m, b.p, b.len), 0);
		if (capf_msg_cert(&m, &t, &s) != certs[i].err) {
			fail_msg("certificate %s", certs[i].what);
		}
		buf_free(&b);
	}
	for (size_t i = 0; i < 4; i++) {
		struct buf b;
		struct capf_msg m;
		struct slice s;
		uint8_t t;
		buf_init(&b, 0);
		size_t st = capf_msg_begin(&b, CAPF_AUTH_RESP, 1);
		capf_put_bytes(&b, CAPF_T_SHA2_SIGNED_DATA, sigs[i].v,
		               sigs[i].len);
		assert_int_equal(capf_msg_end(&b, st), 0);
		assert_int_equal(capf_msg_parse(&m, b.p, b.len), 0);
		if (capf_msg_sig2(&m, &t, &s) != sigs[i].err) {
			fail_msg("sha2 %s", sigs[i].what);
		}
		buf_free(&b);
	}
}

static void test_printer_limits(void **state)
{
	struct buf b;
	uint8_t *big = calloc(1, 70000);

	/* an element over 65535 bytes, and a body over 65535 bytes */
	buf_init(&b, 0);
	size_t s = capf_msg_begin(&b, CAPF_AUTH_RESP, 1);
	capf_put_bytes(&b, CAPF_T_SUDI_DATA, big, 65536);
	assert_int_equal(capf_msg_end(&b, s), -TL_ETOOBIG);
	buf_free(&b);
	buf_init(&b, 0);
	s = capf_msg_begin(&b, CAPF_AUTH_RESP, 1);
	capf_put_bytes(&b, CAPF_T_SUDI_DATA, big, 40000);
	capf_put_bytes(&b, CAPF_T_CERT_ID, big, 40000);
	assert_int_equal(capf_msg_end(&b, s), -TL_ETOOBIG);
	buf_free(&b);
	free(big);
	/* the framer refuses what is not CAPF at the first byte */
	size_t n;
	assert_int_equal(capf_frame((const uint8_t *)"G", 1, &n), -TL_EPARSE);
	assert_string_equal(capf_cmd_name(CAPF_KEYGEN_REQ), "KEYGEN_REQ");
	assert_string_equal(capf_cmd_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_reject_oversize),
	        cmocka_unit_test(test_strings),
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_bad_wrappers),
	        cmocka_unit_test(test_printer_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
