/* Stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1): table-driven, fed
 * whole and byte by byte. */
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

#define HEAD                                                                   \
	"OPTIONS sip:a@example.com SIP/2.0\r\n"                                \
	"Via: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"

static const struct {
	const char *in;
	int kind; /* expected result on the whole input */
	size_t n; /* expected *n (0: the whole input) */
} t[] = {
        {HEAD "Content-Length: 0\r\n\r\n", SIP_FRAME_MESSAGE, 0},
        {HEAD "Content-Length: 3\r\n\r\nabc", SIP_FRAME_MESSAGE, 0},
        {HEAD "l:3\r\n\r\nabcNEXT", SIP_FRAME_MESSAGE,
         sizeof(HEAD "l:3\r\n\r\nabc") - 1},
        {HEAD "content-LENGTH  :\r\n 3\r\n\r\nabc", SIP_FRAME_MESSAGE, 0},
        {HEAD "Content-Length: 3\r\nl: 3\r\n\r\nabc", SIP_FRAME_MESSAGE, 0},
        {HEAD "Content-Length: 0003\r\n\r\nabc", SIP_FRAME_MESSAGE, 0},
        {HEAD "Content-Length: 4\r\n\r\nabc", SIP_FRAME_NEED_MORE, 0},
        {HEAD "Content-Length: 0\r\n", SIP_FRAME_NEED_MORE, 0},
        {HEAD "X-Content-Length: 5\r\n\r\n", SIP_FRAME_MESSAGE, 0},
        {HEAD "\r\nbody-without-length", SIP_FRAME_MESSAGE,
         sizeof(HEAD "\r\n") - 1},
        {"\r\n\r\n", SIP_FRAME_KEEPALIVE, 4},
        {"\r\n\r\nOPTIONS", SIP_FRAME_KEEPALIVE, 4},
        {"\r\nOPTIONS", SIP_FRAME_KEEPALIVE, 2},
        {"\r\n", SIP_FRAME_NEED_MORE, 0},
        {"\r\n\r", SIP_FRAME_NEED_MORE, 0},
        {"\r", SIP_FRAME_NEED_MORE, 0},
        {"", SIP_FRAME_NEED_MORE, 0},
        /* must reject */
        {"\rX", -TL_EPARSE, 0},
        {HEAD "Content-Length: -1\r\n\r\n", -TL_EPARSE, 0},
        {HEAD "Content-Length: 1\r\nl: 2\r\n\r\nab", -TL_EPARSE, 0},
        {HEAD "Content-Length: x\r\n\r\n", -TL_EPARSE, 0},
        {HEAD "Content-Length: \r\n\r\n", -TL_EPARSE, 0},
        {HEAD "Content-Length: 1 2\r\n\r\n", -TL_EPARSE, 0},
        {HEAD "Content-Length: 18446744073709551617\r\n\r\n", -TL_EPARSE, 0},
        {HEAD "Content-Length: 123456789012345678901234\r\n\r\n", -TL_EPARSE,
         0},
        {HEAD "Content-Length: 65536\r\n\r\n", -TL_ETOOBIG, 0},
        {HEAD "Content-Length: 4294967295\r\n\r\n", -TL_ETOOBIG, 0},
};

static void test_table(void **state)
{
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].in), n = 0, want;
		int rc = sip_frame((const uint8_t *)t[i].in, len, &n, NULL);

		if (rc != t[i].kind) {
			fail_msg("frame %zu: rc %d want %d", i, rc, t[i].kind);
		}
		want = t[i].n ? t[i].n : len;
		if ((rc == SIP_FRAME_MESSAGE || rc == SIP_FRAME_KEEPALIVE) &&
		    n != want) {
			fail_msg("frame %zu: n %zu want %zu", i, n, want);
		}
	}
}

/* The stateful framer fed one byte more each time finds the same frame
 * (or error) at the same place as the stateless one on the whole input. */
static void test_bytewise(void **state)
{
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		size_t len = strlen(t[i].in), n = 0;
		struct sip_framer f;
		int rc = SIP_FRAME_NEED_MORE;
		size_t k;

		sip_framer_init(&f, 0);
		for (k = 0; k <= len; k++) {
			uint8_t *p = malloc(k ? k : 1);

			assert_non_null(p);
			memcpy(p, t[i].in, k);
			rc = sip_framer_feed(&f, p, k, &n);
			free(p);
			if (rc != SIP_FRAME_NEED_MORE) {
				break;
			}
		}
		if (rc != t[i].kind) {
			fail_msg("bytewise %zu: rc %d want %d", i, rc,
			         t[i].kind);
		}
		if (rc == SIP_FRAME_MESSAGE) {
			/* complete as soon as its last byte arrived */
			assert_int_equal(k, n);
		}
	}
}

/* Several messages and keepalives in one buffer, consumed in turn. */
static void test_pipeline(void **state)
{
	static const char in[] =
	        "\r\n\r\n" HEAD "Content-Length: 2\r\n\r\nab"
	        "\r\n" HEAD "l: 0\r\n\r\n" HEAD "Content-Length: 1\r\n\r\nz";
	static const int want[] = {SIP_FRAME_KEEPALIVE, SIP_FRAME_MESSAGE,
	                           SIP_FRAME_KEEPALIVE, SIP_FRAME_MESSAGE,
	                           SIP_FRAME_MESSAGE};
	struct sip_framer f;
	struct sip_msg *m;
	size_t off = 0, len = sizeof(in) - 1;

	assert_int_equal(sip_msg_new(&m), 0);
	sip_framer_init(&f, 4096);
	for (size_t i = 0; i < 5; i++) {
		size_t n = 0;
		int rc = sip_framer_feed(&f, (const uint8_t *)in + off,
		                         len - off, &n);

		assert_int_equal(rc, want[i]);
		if (rc == SIP_FRAME_MESSAGE) {
			rc = sip_msg_parse(m, (const uint8_t *)in + off, n,
			                   SIP_MODE_STREAM);
			/* From/To/... are missing: the frame is still whole */
			assert_string_equal(sip_msg_error(m), "Missing From");
		}
		off += n;
	}
	assert_int_equal(off, len);
	sip_msg_free(m);
}

/* A header block that never ends is cut at the limits. */
static void test_limits(void **state)
{
	struct buf b;
	struct sip_framer f;
	size_t n;
	int rc = SIP_FRAME_NEED_MORE;

	buf_init(&b, 0);
	buf_put_str(&b, HEAD);
	sip_framer_init(&f, 0);
	while (b.len <= SIP_MSG_MAX_HEAD + 100) {
		buf_put_str(&b, "X-Filler: 0123456789012345678901234567\r\n");
		rc = sip_framer_feed(&f, b.p, b.len, &n);
		if (rc != SIP_FRAME_NEED_MORE) {
			break;
		}
	}
	assert_int_equal(rc, -TL_ETOOBIG);
	assert_true(b.len > SIP_MSG_MAX_HEAD);

	/* a smaller configured maximum */
	buf_reset(&b);
	buf_put_str(&b, HEAD "Content-Length: 100\r\n\r\n");
	sip_framer_init(&f, 64);
	assert_int_equal(sip_framer_feed(&f, b.p, b.len, &n), -TL_ETOOBIG);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_table),
	        cmocka_unit_test(test_bytewise),
	        cmocka_unit_test(test_pipeline),
	        cmocka_unit_test(test_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
