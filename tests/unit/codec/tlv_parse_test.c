/* The trust-file TLV codec: write/parse round trips, the exact header
 * layout, and a must-reject table. No crypto here: the signature is a
 * block of bytes to the codec. */
#include "base/buf.h"
#include "codec/tlv/tlv.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

static const uint8_t cert_bytes[] = {0x30, 0x03, 0x02, 0x01, 0x05};

static struct tlv_record rec(uint16_t role, uint8_t serial)
{
	static uint8_t serials[8][1];
	struct tlv_record r = {0};

	serials[serial & 7][0] = serial;
	r.role = role;
	r.subject = SLICE_LIT("CN=a;O=b");
	r.issuer = SLICE_LIT("CN=ca");
	r.serial = slice_make(serials[serial & 7], 1);
	r.pubkey = SLICE_LIT("\x30\x00");
	r.cert_sig = SLICE_LIT("sig");
	r.cert = slice_make(cert_bytes, sizeof(cert_bytes));
	return r;
}

static struct tlv_hdr hdr(enum tlv_kind kind)
{
	static const uint8_t iv[16] = {1, 2, 3};
	static const uint8_t hash[20] = {9};
	struct tlv_hdr h = {0};

	h.ver_major = kind == TLV_KIND_ENC ? 2 : 1;
	h.ver_minor = kind == TLV_KIND_LIST ? 2 : 0;
	h.sv_major = 1;
	h.signer_name = SLICE_LIT("CN=signer");
	h.serial = SLICE_LIT("\x01\x02");
	h.issuer_name = SLICE_LIT("CN=ca");
	h.hash_alg = TLV_HASH_SHA512;
	h.filename = SLICE_LIT("CTLFile.tlv");
	h.timestamp = 0x01020304;
	h.enc_iv = slice_make(iv, sizeof(iv));
	h.enc_pad = 3;
	h.enc_key_bits = 128;
	h.enc_key_alg = 1;
	h.enc_key = SLICE_LIT("wrapped-key");
	h.enc_hash_alg = TLV_HASH_SHA1;
	h.enc_hash = slice_make(hash, sizeof(hash));
	return h;
}

/* A small valid file of each kind, signature bytes 0xAA. */
static void make(struct buf *b, enum tlv_kind kind)
{
	struct tlv_record recs[2] = {rec(TLV_ROLE_SAST, 1),
	                             rec(TLV_ROLE_TFTP, 2)};
	struct tlv_hdr h = hdr(kind);
	size_t off;

	buf_init(b, 0);
	assert_int_equal(tlv_write(b, kind, &h, recs, 2,
	                           SLICE_LIT("<xml/>0123456789"), 64, &off),
	                 0);
	memset(b->p + off, 0xAA, 64);
}

static void test_layout(void **state)
{
	struct buf b;
	struct tlv_file f;
	const char *why = NULL;

	make(&b, TLV_KIND_LIST);
	/* ctl.md §3: version 1.2, header length, signer version 1.0 */
	assert_memory_equal(b.p, "\x01\x00\x02\x01\x02\x02\x00\x02", 8);
	assert_memory_equal(b.p + 10, "\x1c\x00\x02\x01\x00\x03", 6);
	assert_int_equal(tlv_parse(&f, TLV_KIND_LIST, b.p, b.len, &why), 0);
	assert_int_equal(f.hdr.header_len % 4, 0);
	assert_int_equal((b.p[8] << 8) | b.p[9], f.hdr.header_len);
	/* padding is 0x0D bytes right before the first record */
	assert_int_equal(b.p[f.hdr.header_len], 1);
	assert_int_equal(f.nrecs, 2);
	assert_int_equal(f.recs[0].role, TLV_ROLE_SAST);
	assert_int_equal(f.recs[1].role, TLV_ROLE_TFTP);
	assert_true(slice_eq_str(f.recs[0].subject, "CN=a;O=b"));
	assert_true(slice_eq_str(f.hdr.filename, "CTLFile.tlv"));
	assert_int_equal(f.hdr.timestamp, 0x01020304);
	assert_int_equal(f.hdr.signature.len, 64);
	assert_int_equal(b.p[f.hdr.sig_off], 12);
	assert_int_equal(f.hdr.sig_modulus, 0);
	assert_true(f.hdr.has_signer_version);
	tlv_file_clear(&f);
	buf_free(&b);
}

static void test_round_trip_kinds(void **state)
{
	static const enum tlv_kind kinds[] = {TLV_KIND_SGN, TLV_KIND_ENC};

	for (size_t i = 0; i < 2; i++) {
		struct buf b;
		struct tlv_file f;
		struct slice parts[2];

		make(&b, kinds[i]);
		assert_int_equal(tlv_parse(&f, kinds[i], b.p, b.len, NULL), 0);
		assert_true(slice_eq_str(f.content, "<xml/>0123456789"));
		if (kinds[i] == TLV_KIND_ENC) {
			assert_int_equal(f.hdr.enc_pad, 3);
			assert_int_equal(f.hdr.enc_key_bits, 128);
			assert_true(slice_eq_str(f.hdr.enc_key, "wrapped-key"));
		}
		tlv_signed_parts(&f.hdr, b.p, b.len, parts);
		assert_int_equal(parts[0].len + parts[1].len + 3 + 64, b.len);
		/* the wrong kind is refused */
		assert_int_not_equal(tlv_parse(&f,
		                               kinds[i] == TLV_KIND_SGN
		                                       ? TLV_KIND_ENC
		                                       : TLV_KIND_SGN,
		                               b.p, b.len, NULL),
		                     0);
		tlv_file_clear(&f);
		buf_free(&b);
	}
}

/* Edit a valid CTL at byte offset off (relative to a landmark found by
 * search), then expect an error. */
struct reject {
	const char *name;
	enum tlv_kind kind;
	int (*mutate)(struct buf *b); /* returns nothing useful; 0 */
	int want;                     /* expected error, 0: any */
};

static size_t find(const struct buf *b, const void *pat, size_t n)
{
	for (size_t i = 0; i + n <= b->len; i++) {
		if (!memcmp(b->p + i, pat, n)) {
			return i;
		}
	}
	fail_msg("pattern not found");
	return 0;
}

static int m_truncate_header(struct buf *b)
{
	b->len = 20;
	return 0;
}

static int m_truncate_record(struct buf *b)
{
	b->len -= 1;
	return 0;
}

static int m_trailing(struct buf *b)
{
	buf_put_u8(b, 0);
	return 0;
}

static int m_overlong_hdr(struct buf *b)
{
	b->p[8] = 0xff;
	return 0;
}

static int m_overlong_string(struct buf *b)
{
	size_t at = find(b,
	                 "\x04\x00\x0a"
	                 "CN=signer",
	                 12);

	b->p[at + 2] = 0x40; /* runs past signer info */
	return 0;
}

static int m_nul_inside(struct buf *b)
{
	size_t at = find(b, "CN=signer", 9);

	b->p[at + 2] = 0;
	return 0;
}

static int m_no_nul(struct buf *b)
{
	size_t at = find(b, "CTLFile.tlv", 12);

	b->p[at + 11] = 'x';
	return 0;
}

static int m_dup_role(struct buf *b)
{
	/* turn the issuer tag (5) of the first record into a second role
	 * (4) of the right length */
	size_t at = find(b,
	                 "\x05\x00\x06"
	                 "CN=ca",
	                 8);

	b->p[at] = 6; /* serial tag twice */
	return 0;
}

static int m_unknown_hdr(struct buf *b)
{
	size_t at = find(b, "\x0e\x00\x0c", 3);

	b->p[at] = 0x33;
	return 0;
}

static int m_bad_version(struct buf *b)
{
	b->p[3] = 7;
	return 0;
}

static int m_rec_len_overflow(struct buf *b)
{
	struct tlv_file f;

	assert_int_equal(tlv_parse(&f, TLV_KIND_LIST, b->p, b->len, NULL), 0);
	b->p[f.hdr.header_len + 3] = 0xff;
	b->p[f.hdr.header_len + 4] = 0xff;
	tlv_file_clear(&f);
	return 0;
}

static int m_rec_len_small(struct buf *b)
{
	struct tlv_file f;

	assert_int_equal(tlv_parse(&f, TLV_KIND_LIST, b->p, b->len, NULL), 0);
	b->p[f.hdr.header_len + 3] = 0;
	b->p[f.hdr.header_len + 4] = 2;
	tlv_file_clear(&f);
	return 0;
}

static int m_sig_modulus(struct buf *b)
{
	size_t at = find(b, "\x0b\x00\x01\x00", 4);

	b->p[at + 3] = 1; /* 1024-bit claim, 64-byte signature */
	return 0;
}

static int m_hash_alg(struct buf *b)
{
	size_t at = find(b, "\x08\x00\x01\x03", 4);

	b->p[at + 3] = 9;
	return 0;
}

static int m_empty(struct buf *b)
{
	b->len = 0;
	return 0;
}

static int m_dup_hdr(struct buf *b)
{
	/* the timestamp tag becomes a second filename-sized... no: a second
	 * signer version (28) of length 4 is caught as a duplicate */
	size_t at = find(b, "\x0f\x00\x04", 3);

	b->p[at] = 0x1c;
	return 0;
}

static int m_padding_mid(struct buf *b)
{
	size_t at = find(b, "\x0e\x00\x0c", 3);

	b->p[at] = 0x0d;
	return 0;
}

static int m_hdr_len_small(struct buf *b)
{
	/* a header length below the 8 bytes already read: must not wrap */
	b->p[8] = 0;
	b->p[9] = 4;
	return 0;
}

static int m_too_many_records(struct buf *b)
{
	struct tlv_file f;
	uint8_t *one;
	size_t at, n;

	/* integer limit: TLV_MAX_RECORDS + 1 copies of a valid record */
	assert_int_equal(tlv_parse(&f, TLV_KIND_LIST, b->p, b->len, NULL), 0);
	at = f.hdr.header_len;
	n = f.recs[0].length;
	tlv_file_clear(&f);
	one = malloc(n);
	assert_non_null(one);
	memcpy(one, b->p + at, n);
	for (size_t i = 2; i <= TLV_MAX_RECORDS; i++) {
		buf_put(b, one, n);
	}
	free(one);
	assert_int_equal(buf_err(b), 0);
	return 0;
}

static const struct reject rejects[] = {
        {"empty", TLV_KIND_LIST, m_empty, -TL_ETRUNC},
        {"truncated header", TLV_KIND_LIST, m_truncate_header, -TL_ETRUNC},
        {"truncated record", TLV_KIND_LIST, m_truncate_record, -TL_ETRUNC},
        {"trailing bytes", TLV_KIND_LIST, m_trailing, -TL_ETRAIL},
        {"overlong header length", TLV_KIND_LIST, m_overlong_hdr, -TL_ETRUNC},
        {"overlong string", TLV_KIND_LIST, m_overlong_string, -TL_ETRUNC},
        {"NUL inside", TLV_KIND_LIST, m_nul_inside, -TL_EPARSE},
        {"string without NUL", TLV_KIND_LIST, m_no_nul, -TL_EPARSE},
        {"duplicate record field", TLV_KIND_LIST, m_dup_role, -TL_EDUP},
        {"duplicate header field", TLV_KIND_LIST, m_dup_hdr, -TL_EDUP},
        {"unknown header tag", TLV_KIND_LIST, m_unknown_hdr, -TL_EUNKNOWN},
        {"bad version", TLV_KIND_ENC, m_bad_version, -TL_EUNKNOWN},
        {"record length overflow", TLV_KIND_LIST, m_rec_len_overflow,
         -TL_ETRUNC},
        {"record length too small", TLV_KIND_LIST, m_rec_len_small, -TL_EPARSE},
        {"modulus mismatch", TLV_KIND_LIST, m_sig_modulus, -TL_EPARSE},
        {"unknown hash", TLV_KIND_LIST, m_hash_alg, -TL_EUNKNOWN},
        {"padding inside header", TLV_KIND_LIST, m_padding_mid, 0},
        {"truncated .sgn header", TLV_KIND_SGN, m_truncate_header, -TL_ETRUNC},
        {"NUL inside .sgn name", TLV_KIND_SGN, m_nul_inside, -TL_EPARSE},
        {"overlong .sgn header", TLV_KIND_SGN, m_overlong_hdr, -TL_ETRUNC},
        {"duplicate .enc.sgn field", TLV_KIND_ENC, m_dup_hdr, 0},
        {"header length below its own field", TLV_KIND_LIST, m_hdr_len_small,
         -TL_EPARSE},
        {"one record more than TLV_MAX_RECORDS", TLV_KIND_LIST,
         m_too_many_records, -TL_ETOOBIG},
};

static void test_must_reject(void **state)
{
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
		const struct reject *r = &rejects[i];
		struct tlv_file f;
		const char *why = NULL;
		struct buf b;
		int err;

		make(&b, r->kind);
		r->mutate(&b);
		err = tlv_parse(&f, r->kind, b.p, b.len, &why);
		if (err == 0 || (r->want && err != r->want)) {
			fail_msg("%s: got %d (%s)", r->name, err,
			         why ? why : "-");
		}
		assert_non_null(why);
		assert_null(f.recs);
		buf_free(&b);
	}
}

static void test_roles(void **state)
{
	uint16_t r = 99;

	assert_string_equal(tlv_role_name(TLV_ROLE_CCM_TFTP), "CCM+TFTP");
	assert_null(tlv_role_name(5));
	assert_int_equal(tlv_role_parse("tvs", &r), 0);
	assert_int_equal(r, 21);
	assert_int_equal(tlv_role_parse("boss", &r), -TL_EUNKNOWN);
}

static void test_write_rejects(void **state)
{
	struct tlv_record recs[1] = {rec(TLV_ROLE_SAST, 1)};
	struct tlv_hdr h = hdr(TLV_KIND_LIST);
	struct buf b;
	size_t off;

	buf_init(&b, 0);
	assert_int_equal(tlv_write(&b, TLV_KIND_LIST, &h, recs, 1, SLICE_NULL,
	                           100, &off),
	                 -EINVAL);
	h.filename = SLICE_LIT("a\0b");
	assert_int_equal(
	        tlv_write(&b, TLV_KIND_LIST, &h, recs, 1, SLICE_NULL, 64, &off),
	        -EINVAL);
	h = hdr(TLV_KIND_LIST);
	assert_int_equal(
	        tlv_write(&b, TLV_KIND_LIST, &h, recs, 0, SLICE_NULL, 64, &off),
	        -EINVAL);
	buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_layout),
	        cmocka_unit_test(test_round_trip_kinds),
	        cmocka_unit_test(test_must_reject),
	        cmocka_unit_test(test_roles),
	        cmocka_unit_test(test_write_rejects),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
