#include "base/buf.h"
#include "codec/tftp/tftp_pkt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

/* A packet from a string literal: its bytes without the compiler's NUL. */
#define PKT(s) (const uint8_t *)(s), sizeof(s) - 1

struct accept_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	enum tftp_op op;
	const char *file; /* RRQ/WRQ */
	const char *mode;
	size_t nopts;
	uint16_t block; /* DATA/ACK, or the ERROR code */
	size_t datalen; /* DATA, or the ERROR message length */
};

static const struct accept_case accepts[] = {
        {"plain RRQ", PKT("\0\1CTLFile.tlv\0octet\0"), TFTP_RRQ, "CTLFile.tlv",
         "octet", 0, 0, 0},
        {"WRQ netascii", PKT("\0\2a/b.txt\0NetASCII\0"), TFTP_WRQ, "a/b.txt",
         "NetASCII", 0, 0, 0},
        {"RRQ with 4 options",
         PKT("\0\1f\0octet\0blksize\0001428\0tsize\0000\0"
             "timeout\0003\0windowsize\0004\0"),
         TFTP_RRQ, "f", "octet", 4, 0, 0},
        {"RRQ, option with empty value", PKT("\0\1f\0octet\0x\0\0"), TFTP_RRQ,
         "f", "octet", 1, 0, 0},
        {"DATA empty (last block)", PKT("\0\3\0\1"), TFTP_DATA, NULL, NULL, 0,
         1, 0},
        {"DATA with NUL bytes", PKT("\0\3\xff\xff\0\0\0"), TFTP_DATA, NULL,
         NULL, 0, 65535, 3},
        {"ACK 0", PKT("\0\4\0\0"), TFTP_ACK, NULL, NULL, 0, 0, 0},
        {"ACK 65535", PKT("\0\4\xff\xff"), TFTP_ACK, NULL, NULL, 0, 65535, 0},
        {"ERROR not found", PKT("\0\5\0\1File not found\0"), TFTP_ERROR, NULL,
         NULL, 0, 1, 14},
        {"ERROR empty message", PKT("\0\5\0\10\0"), TFTP_ERROR, NULL, NULL, 0,
         8, 0},
        {"OACK", PKT("\0\6blksize\0001428\0tsize\0005000\0"), TFTP_OACK, NULL,
         NULL, 2, 0, 0},
};

static void test_accept(void **state)
{
	for (size_t i = 0; i < sizeof(accepts) / sizeof(accepts[0]); i++) {
		const struct accept_case *t = &accepts[i];
		struct tftp_pkt pkt;
		int err = tftp_pkt_parse(&pkt, t->p, t->len);

		if (err) {
			fail_msg("%s: %d", t->what, err);
		}
		assert_int_equal(pkt.op, t->op);
		if (t->file) {
			assert_true(slice_eq_str(pkt.file, t->file));
			assert_true(slice_eq_str(pkt.mode, t->mode));
		}
		assert_int_equal(pkt.nopts, t->nopts);
		if (t->op == TFTP_DATA || t->op == TFTP_ACK) {
			assert_int_equal(pkt.block, t->block);
			assert_int_equal(pkt.data.len, t->datalen);
		}
		if (t->op == TFTP_ERROR) {
			assert_int_equal(pkt.code, t->block);
			assert_int_equal(pkt.msg.len, t->datalen);
		}
	}
}

struct reject_case {
	const char *what;
	const uint8_t *p;
	size_t len;
	int err;
};

static const struct reject_case rejects[] = {
        /* truncated */
        {"empty", PKT(""), -TL_ETRUNC},
        {"one byte", PKT("\0"), -TL_ETRUNC},
        {"RRQ without file NUL", PKT("\0\1CTLFile.tlv"), -TL_ETRUNC},
        {"RRQ without mode", PKT("\0\1f\0"), -TL_ETRUNC},
        {"RRQ mode without NUL", PKT("\0\1f\0octet"), -TL_ETRUNC},
        {"RRQ option without value", PKT("\0\1f\0octet\0blksize\0"),
         -TL_ETRUNC},
        {"RRQ value without NUL", PKT("\0\1f\0octet\0blksize\0001428"),
         -TL_ETRUNC},
        {"DATA without block", PKT("\0\3\0"), -TL_ETRUNC},
        {"ACK short", PKT("\0\4\1"), -TL_ETRUNC},
        {"ERROR without code", PKT("\0\5"), -TL_ETRUNC},
        {"ERROR without NUL", PKT("\0\5\0\1oops"), -TL_ETRUNC},
        {"OACK value cut", PKT("\0\6blksize\0"), -TL_ETRUNC},
        /* trailing bytes, NUL inside */
        {"ACK with trailing byte", PKT("\0\4\0\1\0"), -TL_ETRAIL},
        {"ERROR, NUL inside the message", PKT("\0\5\0\1ab\0cd\0"), -TL_ETRAIL},
        {"ERROR, trailing bytes", PKT("\0\5\0\1ab\0x"), -TL_ETRAIL},
        /* empty fields */
        {"RRQ empty file", PKT("\0\1\0octet\0"), -TL_EPARSE},
        {"RRQ empty mode", PKT("\0\1f\0\0"), -TL_EPARSE},
        {"RRQ empty option name", PKT("\0\1f\0octet\0\0001\0"), -TL_EPARSE},
        {"empty OACK", PKT("\0\6"), -TL_EPARSE},
        /* duplicate critical field */
        {"RRQ blksize twice",
         PKT("\0\1f\0octet\0blksize\0"
             "512\0blksize\0"
             "1024\0"),
         -TL_EDUP},
        {"RRQ blksize twice, other case",
         PKT("\0\1f\0octet\0BlkSize\0"
             "512\0blksize\0"
             "512\0"),
         -TL_EDUP},
        {"OACK tsize twice", PKT("\0\6tsize\0001\0TSIZE\0002\0"), -TL_EDUP},
        /* unknown opcode */
        {"opcode 0", PKT("\0\0\0\1"), -TL_EUNKNOWN},
        {"opcode 7", PKT("\0\7\0\1"), -TL_EUNKNOWN},
        {"opcode 0x0301", PKT("\3\1\0\1"), -TL_EUNKNOWN},
};

static void test_reject(void **state)
{
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject_case *t = &rejects[i];
		struct tftp_pkt pkt;
		int err = tftp_pkt_parse(&pkt, t->p, t->len);

		if (err != t->err) {
			fail_msg("%s: got %d, want %d", t->what, err, t->err);
		}
	}
}

/* must reject: overlong packets and too many options */
static void test_reject_overlong(void **state)
{
	uint8_t *p = calloc(1, 70000);
	struct tftp_pkt pkt;
	struct buf b;
	size_t n;

	assert_non_null(p);
	/* A request of 513 bytes (RFC 2347 caps requests at 512). */
	p[1] = TFTP_RRQ;
	memset(p + 2, 'a', 504);
	memcpy(p + 507, "octet", 6);
	n = 513;
	assert_int_equal(tftp_pkt_parse(&pkt, p, n), -TL_ETOOBIG);
	/* Exactly 512 is fine. */
	p[505] = 0;
	memcpy(p + 506, "octet", 6);
	assert_int_equal(tftp_pkt_parse(&pkt, p, 512), 0);
	assert_int_equal(pkt.file.len, 503);
	/* An OACK of 513 bytes, and one of exactly 512 (RFC 2347). */
	memset(p, 0, 70000);
	p[1] = TFTP_OACK;
	memset(p + 2, 'o', 508);
	memcpy(p + 511, "1", 2);
	assert_int_equal(tftp_pkt_parse(&pkt, p, 513), -TL_ETOOBIG);
	p[509] = 0;
	memcpy(p + 510, "1", 2);
	assert_int_equal(tftp_pkt_parse(&pkt, p, 512), 0);
	assert_int_equal(pkt.opts[0].name.len, 507);
	/* DATA one byte over the largest block. */
	memset(p, 0, 70000);
	p[1] = TFTP_DATA;
	assert_int_equal(tftp_pkt_parse(&pkt, p, 4 + TFTP_DATA_MAX), 0);
	assert_int_equal(tftp_pkt_parse(&pkt, p, 4 + TFTP_DATA_MAX + 1),
	                 -TL_ETOOBIG);
	/* An error message over TFTP_ERRMSG_MAX. */
	memset(p, 'e', 70000);
	p[0] = 0;
	p[1] = TFTP_ERROR;
	p[2] = 0;
	p[3] = 1;
	p[4 + TFTP_ERRMSG_MAX + 1] = 0;
	assert_int_equal(tftp_pkt_parse(&pkt, p, 4 + TFTP_ERRMSG_MAX + 2),
	                 -TL_ETOOBIG);
	p[4 + TFTP_ERRMSG_MAX] = 0;
	assert_int_equal(tftp_pkt_parse(&pkt, p, 4 + TFTP_ERRMSG_MAX + 1), 0);
	free(p);

	/* 17 options. */
	buf_init(&b, 0);
	tftp_put_req(&b, TFTP_RRQ, "f", "octet", NULL, 0);
	for (int i = 0; i < TFTP_OPTS_MAX + 1; i++) {
		buf_printf(&b, "o%d", i);
		buf_put_u8(&b, 0);
		buf_put_str(&b, "1");
		buf_put_u8(&b, 0);
	}
	assert_int_equal(buf_err(&b), 0);
	assert_int_equal(tftp_pkt_parse(&pkt, b.p, b.len), -TL_ETOOBIG);
	buf_free(&b);
}

struct num_case {
	const char *v;
	uint64_t min, max;
	int err;
	uint64_t want;
};

static const struct num_case nums[] = {
        {"512", 8, 65464, 0, 512},
        {"8", 8, 65464, 0, 8},
        {"65464", 8, 65464, 0, 65464},
        {"0", 0, UINT64_MAX, 0, 0},
        {"18446744073709551615", 0, UINT64_MAX, 0, UINT64_MAX},
        /* must reject */
        {"", 8, 65464, -TL_EPARSE, 0},
        {"7", 8, 65464, -TL_EPOLICY, 0},
        {"65465", 8, 65464, -TL_ETOOBIG, 0},
        {"-1", 8, 65464, -TL_EPARSE, 0},
        {"+5", 0, 100, -TL_EPARSE, 0},
        {" 5", 0, 100, -TL_EPARSE, 0},
        {"5x", 0, 100, -TL_EPARSE, 0},
        {"0x10", 0, 100, -TL_EPARSE, 0},
        /* integer overflow */
        {"18446744073709551616", 0, UINT64_MAX, -TL_ETOOBIG, 0},
        {"99999999999999999999", 0, UINT64_MAX, -TL_ETOOBIG, 0},
        {"000000000000000000001", 0, UINT64_MAX, -TL_ETOOBIG, 0},
};

static void test_opt_num(void **state)
{
	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
		const struct num_case *t = &nums[i];
		uint64_t v = 12345;
		int err =
		        tftp_opt_num(slice_from_str(t->v), t->min, t->max, &v);

		if (err != t->err) {
			fail_msg("'%s': got %d, want %d", t->v, err, t->err);
		}
		if (!err) {
			assert_true(v == t->want);
		}
	}
	/* NUL inside a value (a slice may hold one). */
	uint64_t v;

	assert_int_equal(tftp_opt_num(slice_make("1\0002", 3), 0, 100, &v),
	                 -TL_EPARSE);
}

static void test_modes_and_opts(void **state)
{
	struct tftp_pkt pkt;

	assert_int_equal(tftp_mode_of(SLICE_LIT("OCTET")), TFTP_MODE_OCTET);
	assert_int_equal(tftp_mode_of(SLICE_LIT("netascii")),
	                 TFTP_MODE_NETASCII);
	assert_int_equal(tftp_mode_of(SLICE_LIT("mail")), TFTP_MODE_MAIL);
	assert_int_equal(tftp_mode_of(SLICE_LIT("binary")), TFTP_MODE_UNKNOWN);
	assert_int_equal(tftp_mode_of(SLICE_LIT("octet ")), TFTP_MODE_UNKNOWN);
	assert_int_equal(tftp_pkt_parse(&pkt, PKT("\0\1f\0octet\0BLKSIZE\0"
	                                          "1024\0WindowSize\0004\0")),
	                 0);
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "blksize"), "1024"));
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "windowsize"), "4"));
	assert_null(tftp_pkt_opt(&pkt, "tsize").p);
}

/* Printers produce what the parser reads back, byte for byte. */
static void test_print_roundtrip(void **state)
{
	struct tftp_opt o[2] = {{SLICE_LIT("blksize"), SLICE_LIT("1428")},
	                        {SLICE_LIT("tsize"), SLICE_LIT("0")}};
	struct tftp_pkt pkt;
	uint8_t hdr[4];
	struct buf b;

	buf_init(&b, 0);
	tftp_put_req(&b, TFTP_RRQ, "SEP001122334455.cnf.xml.sgn", "octet", o,
	             2);
	assert_int_equal(buf_err(&b), 0);
	assert_int_equal(b.len, 2 + 28 + 6 + 13 + 8);
	assert_int_equal(tftp_pkt_parse(&pkt, b.p, b.len), 0);
	assert_int_equal(pkt.op, TFTP_RRQ);
	assert_true(slice_eq_str(pkt.file, "SEP001122334455.cnf.xml.sgn"));
	assert_int_equal(pkt.nopts, 2);
	assert_true(slice_eq_str(pkt.opts[1].value, "0"));

	buf_reset(&b);
	tftp_put_data(&b, 0x1234, "xyz", 3);
	assert_memory_equal(b.p, "\0\3\x12\x34xyz", 7);
	tftp_hdr_data(hdr, 0x1234);
	assert_memory_equal(hdr, b.p, 4);

	buf_reset(&b);
	tftp_put_ack(&b, 0xfffe);
	tftp_hdr_ack(hdr, 0xfffe);
	assert_memory_equal(b.p, hdr, 4);
	assert_memory_equal(b.p, "\0\4\xff\xfe", 4);

	buf_reset(&b);
	tftp_put_error(&b, TFTP_EOPTNEG, "no");
	assert_int_equal(b.len, 7);
	assert_memory_equal(b.p, "\0\5\0\10no\0", 7);

	buf_reset(&b);
	tftp_put_oack(&b, o, 1);
	assert_int_equal(tftp_pkt_parse(&pkt, b.p, b.len), 0);
	assert_int_equal(pkt.op, TFTP_OACK);
	assert_true(slice_eq_str(tftp_pkt_opt(&pkt, "BLKSIZE"), "1428"));
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_accept),
	        cmocka_unit_test(test_reject),
	        cmocka_unit_test(test_reject_overlong),
	        cmocka_unit_test(test_opt_num),
	        cmocka_unit_test(test_modes_and_opts),
	        cmocka_unit_test(test_print_roundtrip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
