/* RTP header codec (RFC 3550 §5.1) and RFC 4733 telephone-event payload. */
#include "media/media.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1
#define N(a)   (sizeof(a) / sizeof((a)[0]))

struct accept_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	bool marker, padding, extension;
	uint8_t pt, cc;
	uint16_t seq;
	uint32_t ts, ssrc;
	size_t hdr_len, payload_len;
	uint8_t pad_len;
};

static const struct accept_case accepts[] = {
        {"PCMU, 4-byte payload",
         PKT("\x80\x00\x12\x34\x00\x00\x01\x00\xde\xad\xbe\xef"
             "\xff\xfe\x7f\x00"),
         false, false, false, 0, 0, 0x1234, 0x100, 0xdeadbeef, 12, 4, 0},
        {"marker, PT 101, empty payload",
         PKT("\x80\xe5\xff\xff\xff\xff\xff\xff\x00\x00\x00\x01"), true, false,
         false, 101, 0, 0xffff, 0xffffffff, 1, 12, 0, 0},
        {"two CSRCs",
         PKT("\x82\x08\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\x00\x00\x00\x0a\x00\x00\x00\x0b\xd5"),
         false, false, false, 8, 2, 1, 2, 3, 20, 1, 0},
        {"extension of one word",
         PKT("\x90\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\xbe\xde\x00\x01\x10\xaa\x00\x00\x55\x55"),
         false, false, true, 0, 0, 1, 2, 3, 20, 2, 0},
        {"extension of zero words",
         PKT("\x90\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\xbe\xde\x00\x00\x55"),
         false, false, true, 0, 0, 1, 2, 3, 16, 1, 0},
        {"padding of 3",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\x11\x22\x00\x00\x03"),
         false, true, false, 0, 0, 1, 2, 3, 12, 2, 3},
        {"padding is the whole body",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\x00\x02"),
         false, true, false, 0, 0, 1, 2, 3, 12, 0, 2},
        {"NUL bytes in payload",
         PKT("\x80\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00"),
         false, false, false, 0, 0, 1, 2, 3, 12, 3, 0},
};

static void test_accept(void **state)
{
	for (size_t i = 0; i < N(accepts); i++) {
		const struct accept_case *t = &accepts[i];
		struct media_rtp_hdr h;
		int err = media_rtp_parse(&h, t->p, t->len);

		if (err) {
			fail_msg("%s: %d", t->what, err);
		}
		assert_int_equal(h.version, 2);
		assert_int_equal(h.marker, t->marker);
		assert_int_equal(h.padding, t->padding);
		assert_int_equal(h.extension, t->extension);
		assert_int_equal(h.pt, t->pt);
		assert_int_equal(h.cc, t->cc);
		assert_int_equal(h.seq, t->seq);
		assert_int_equal(h.ts, t->ts);
		assert_int_equal(h.ssrc, t->ssrc);
		assert_int_equal(h.hdr_len, t->hdr_len);
		assert_int_equal(h.payload.len, t->payload_len);
		assert_int_equal(h.pad_len, t->pad_len);
		assert_ptr_equal(h.payload.p, t->p + t->hdr_len);
	}
}

static void test_fields(void **state)
{
	struct media_rtp_hdr h;

	assert_int_equal(media_rtp_parse(&h, accepts[2].p, accepts[2].len), 0);
	assert_int_equal(h.csrc[0], 10);
	assert_int_equal(h.csrc[1], 11);
	assert_int_equal(media_rtp_parse(&h, accepts[3].p, accepts[3].len), 0);
	assert_int_equal(h.ext_profile, 0xbede);
	assert_int_equal(h.ext.len, 4);
	assert_memory_equal(h.ext.p, "\x10\xaa\x00\x00", 4);
}

struct reject_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	int err;
};

static const struct reject_case rejects[] = {
        {"empty", PKT(""), -TL_ETRUNC},
        {"truncated header (11 bytes)",
         PKT("\x80\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00"), -TL_ETRUNC},
        {"version 0", PKT("\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"),
         -TL_EPARSE},
        {"version 1", PKT("\x40\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"),
         -TL_EPARSE},
        {"version 3 (STUN/DTLS-like)",
         PKT("\xc0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"), -TL_EPARSE},
        {"CSRC count past the end",
         PKT("\x82\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\x00\x00\x00\x0a"),
         -TL_ETRUNC},
        {"CSRC count 15, no CSRCs",
         PKT("\x8f\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"), -TL_ETRUNC},
        {"extension header truncated",
         PKT("\x90\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\xbe\xde\x00"),
         -TL_ETRUNC},
        {"extension length overlong",
         PKT("\x90\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\xbe\xde\x00\x02\x00\x00\x00\x00"),
         -TL_ETRUNC},
        {"extension length 0xffff (integer overflow bait)",
         PKT("\x90\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\xbe\xde\xff\xff\x00\x00\x00\x00"),
         -TL_ETRUNC},
        {"padding bit, nothing after the header",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"), -TL_EPARSE},
        {"padding count zero",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x11\x00"),
         -TL_EPARSE},
        {"padding count beyond the body (trailing-length lie)",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x11\x03"),
         -TL_EPARSE},
        {"padding reaching into the extension",
         PKT("\xb0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03"
             "\xbe\xde\x00\x01\x00\x00\x00\x05"),
         -TL_EPARSE},
        {"padding count 255 in a short packet",
         PKT("\xa0\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\xff"),
         -TL_EPARSE},
};

static void test_reject(void **state)
{
	for (size_t i = 0; i < N(rejects); i++) {
		const struct reject_case *t = &rejects[i];
		struct media_rtp_hdr h;
		int err = media_rtp_parse(&h, t->p, t->len);

		if (err != t->err) {
			fail_msg("%s: got %d want %d", t->what, err, t->err);
		}
	}
}

/* Every prefix of a valid packet shorter than its header must fail. */
static void test_truncations(void **state)
{
	const struct accept_case *t = &accepts[3];

	for (size_t n = 0; n < t->hdr_len; n++) {
		struct media_rtp_hdr h;

		assert_int_equal(media_rtp_parse(&h, t->p, n), -TL_ETRUNC);
	}
}

static void test_build_roundtrip(void **state)
{
	uint8_t out[64];
	uint8_t payload[7] = {1, 2, 3, 0, 5, 6, 7};
	struct media_rtp_hdr h, g;
	size_t len;

	memset(&h, 0, sizeof(h));
	h.marker = true;
	h.pt = 101;
	h.seq = 0xfffe;
	h.ts = 0x80000001;
	h.ssrc = 0x01020304;
	h.cc = 2;
	h.csrc[0] = 0xaabbccdd;
	h.csrc[1] = 7;
	assert_int_equal(media_rtp_build(&h, slice_make(payload, 7), out,
	                                 sizeof(out), &len),
	                 0);
	assert_int_equal(len, 12 + 8 + 7);
	assert_memory_equal(out,
	                    "\x82\xe5\xff\xfe\x80\x00\x00\x01\x01\x02\x03\x04"
	                    "\xaa\xbb\xcc\xdd\x00\x00\x00\x07",
	                    20);
	assert_int_equal(media_rtp_parse(&g, out, len), 0);
	assert_int_equal(g.marker, true);
	assert_int_equal(g.pt, 101);
	assert_int_equal(g.seq, 0xfffe);
	assert_int_equal(g.ts, 0x80000001);
	assert_int_equal(g.ssrc, 0x01020304);
	assert_int_equal(g.cc, 2);
	assert_int_equal(g.csrc[0], 0xaabbccdd);
	assert_int_equal(g.payload.len, 7);
	assert_memory_equal(g.payload.p, payload, 7);

	/* exact fit, one byte short, bad payload type, too many CSRCs */
	assert_int_equal(
	        media_rtp_build(&h, slice_make(payload, 7), out, 27, &len), 0);
	assert_int_equal(
	        media_rtp_build(&h, slice_make(payload, 7), out, 26, &len),
	        -TL_ETOOBIG);
	assert_int_equal(
	        media_rtp_build(&h, slice_make(payload, 7), out, 3, &len),
	        -TL_ETOOBIG);
	h.pt = 128;
	assert_int_equal(media_rtp_build(&h, slice_make(payload, 7), out,
	                                 sizeof(out), &len),
	                 -EINVAL);
	h.pt = 0;
	h.cc = 16;
	assert_int_equal(media_rtp_build(&h, slice_make(payload, 7), out,
	                                 sizeof(out), &len),
	                 -EINVAL);
}

/* ---- RFC 4733 ---- */

static void test_dtmf(void **state)
{
	struct media_dtmf d, e;
	uint8_t b[4];

	/* RFC 4733 §2.3: '#' (11), end, volume 10, duration 800 */
	assert_int_equal(media_dtmf_parse(&d, PKT("\x0b\x8a\x03\x20")), 0);
	assert_int_equal(d.event, 11);
	assert_true(d.end);
	assert_int_equal(d.volume, 10);
	assert_int_equal(d.duration, 800);
	media_dtmf_build(&d, b);
	assert_memory_equal(b, "\x0b\x8a\x03\x20", 4);
	memset(&e, 0, sizeof(e));
	e.event = 5;
	e.volume = 63;
	e.duration = 0xffff;
	media_dtmf_build(&e, b);
	assert_int_equal(media_dtmf_parse(&d, b, 4), 0);
	assert_int_equal(d.event, 5);
	assert_false(d.end);
	assert_int_equal(d.volume, 63);
	assert_int_equal(d.duration, 0xffff);

	static const struct reject_case dr[] = {
	        {"truncated", PKT("\x01\x0a\x00"), -TL_ETRUNC},
	        {"empty", PKT(""), -TL_ETRUNC},
	        {"trailing bytes", PKT("\x01\x0a\x00\xa0\x00"), -TL_ETRAIL},
	        {"two events in one packet",
	         PKT("\x01\x0a\x00\xa0\x02\x0a\x00\xa0"), -TL_ETRAIL},
	        {"R bit set", PKT("\x01\x4a\x00\xa0"), -TL_EPARSE},
	        {"event 16 (not DTMF)", PKT("\x10\x0a\x00\xa0"), -TL_EUNKNOWN},
	        {"event 255", PKT("\xff\x0a\x00\xa0"), -TL_EUNKNOWN},
	};
	for (size_t i = 0; i < N(dr); i++) {
		int err = media_dtmf_parse(&d, dr[i].p, dr[i].len);

		if (err != dr[i].err) {
			fail_msg("%s: got %d", dr[i].what, err);
		}
	}
}

static void test_dtmf_chars(void **state)
{
	static const char all[] = "0123456789*#ABCD";

	for (int i = 0; i < 16; i++) {
		assert_int_equal(media_dtmf_event(all[i]), i);
		assert_int_equal(media_dtmf_char((uint8_t)i), all[i]);
	}
	assert_int_equal(media_dtmf_event('a'), 12);
	assert_int_equal(media_dtmf_event('d'), 15);
	assert_int_equal(media_dtmf_event('E'), -EINVAL);
	assert_int_equal(media_dtmf_event('\0'), -EINVAL);
	assert_int_equal(media_dtmf_event(' '), -EINVAL);
	assert_int_equal(media_dtmf_char(16), '?');
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_fields),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_truncations),
	        cmocka_unit_test(test_build_roundtrip),
	        cmocka_unit_test(test_dtmf),
	        cmocka_unit_test(test_dtmf_chars),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
