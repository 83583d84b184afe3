/* pki_csr_decode: what OpenSSL's X509_REQ parser and X509_REQ_verify
 * accept, it accepts with the same subject and key (for DER in its
 * minimal form); requests that are signed correctly but malformed, and
 * hostile bytes, are refused before anything is decoded from them. */
#include "pki/pki.h"
#include "pki/pki_csr.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <string.h>

/* ---- requests made by OpenSSL ---- */

static int ossl_csr(EVP_PKEY *k, const char *cn, const char *pw, bool pss,
                    unsigned char **der)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *n = X509_NAME_new();
	int len;

	assert_true(X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	                                       (const unsigned char *)cn, -1,
	                                       -1, 0));
	assert_true(X509_REQ_set_subject_name(req, n));
	assert_true(X509_REQ_set_pubkey(req, k));
	if (pw) {
		assert_true(X509_REQ_add1_attr_by_NID(
		        req, NID_pkcs9_challengePassword, MBSTRING_UTF8,
		        (const unsigned char *)pw, -1));
	}
	if (pss) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		EVP_PKEY_CTX *pc = NULL;
		assert_int_equal(
		        EVP_DigestSignInit(m, &pc, EVP_sha256(), NULL, k), 1);
		assert_true(EVP_PKEY_CTX_set_rsa_padding(
		                    pc, RSA_PKCS1_PSS_PADDING) > 0);
		assert_true(X509_REQ_sign_ctx(req, m) > 0);
		EVP_MD_CTX_free(m);
	} else {
		assert_true(X509_REQ_sign(req, k, EVP_sha256()) > 0);
	}
	*der = NULL;
	len = i2d_X509_REQ(req, der);
	assert_true(len > 0);
	X509_NAME_free(n);
	X509_REQ_free(req);
	return len;
}

/* decoded as OpenSSL decodes it */
static void agree(const unsigned char *der, int len)
{
	struct pki_csr c;
	X509_REQ *ref = NULL;
	unsigned char *spki = NULL;

	assert_int_equal(pki_csr_decode(&c, der, (size_t)len), 0);
	assert_int_equal(pki_csr_parse(&ref, der, (size_t)len), 0);
	assert_int_equal(
	        X509_NAME_cmp(c.subject, X509_REQ_get_subject_name(ref)), 0);
	assert_int_equal(EVP_PKEY_eq(c.pub, X509_REQ_get0_pubkey(ref)), 1);
	int n = i2d_X509_PUBKEY(X509_REQ_get_X509_PUBKEY(ref), &spki);
	assert_int_equal(c.spki.len, (size_t)n);
	assert_memory_equal(c.spki.p, spki, (size_t)n);
	assert_int_equal(sk_X509_ATTRIBUTE_num(c.attrs),
	                 X509_REQ_get_attr_count(ref));
	OPENSSL_free(spki);
	X509_REQ_free(ref);
	pki_csr_clear(&c);
	pki_csr_clear(&c); /* twice: a cleared one is a no-op */
}

static void test_agree(void **state)
{
	static const enum pki_alg algs[] = {PKI_ALG_P256, PKI_ALG_P384,
	                                    PKI_ALG_RSA2048};
	(void)state;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *k = NULL;
		unsigned char *der = NULL;
		int len;

		assert_int_equal(pki_keygen(&k, algs[i]), 0);
		len = ossl_csr(k, "SEP001122334455", NULL, false, &der);
		agree(der, len);
		OPENSSL_free(der);
		len = ossl_csr(k, "SEP001122334455", "secret", false, &der);
		agree(der, len);
		OPENSSL_free(der);
		if (algs[i] == PKI_ALG_RSA2048) {
			/* RSASSA-PSS (RFC 4055): checked as X509_REQ_verify
			 * checks it */
			len = ossl_csr(k, "SEP001122334455", NULL, true, &der);
			agree(der, len);
			OPENSSL_free(der);
		}
		EVP_PKEY_free(k);
	}
}

/* ---- requests built here, signed correctly, shaped as a spec says ---- */

static void put_len(struct buf *b, size_t n)
{
	if (n < 0x80) {
		buf_put_u8(b, (uint8_t)n);
	} else if (n < 0x100) {
		buf_put_u8(b, 0x81);
		buf_put_u8(b, (uint8_t)n);
	} else {
		buf_put_u8(b, 0x82);
		buf_put_u16be(b, (uint16_t)n);
	}
}

static void put_tlv(struct buf *b, uint8_t tag, const void *p, size_t n)
{
	buf_put_u8(b, tag);
	put_len(b, n);
	buf_put(b, p, n);
}

struct spec {
	const char *what;
	uint8_t version;    /* INTEGER value */
	bool no_attrs;      /* attributes [0] left out */
	bool long_form;     /* CRI length in a non-minimal long form */
	bool extra_in_info; /* a NULL after the attributes */
	bool extra_in_req;  /* a NULL after the signature */
	bool bad_name;      /* subject: SEQUENCE { INTEGER } */
	bool bad_attr;      /* attributes: SET { NULL } */
	bool bad_spki;      /* the SPKI's BIT STRING is empty */
	bool unused_bits;   /* signature BIT STRING with 1 unused bit */
	bool sig_as_octets; /* signature an OCTET STRING */
	bool flip_sig;      /* one bit of the signature */
	const uint8_t *alg; /* NULL: ecdsa-with-SHA256 */
	size_t alg_len;
	int err;
};

static const uint8_t ecdsa_sha256[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                       0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
static const uint8_t ecdsa_sha384[] = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                       0x48, 0xce, 0x3d, 0x04, 0x03, 0x03};
static const uint8_t rsa_sha256[] = {0x30, 0x0d, 0x06, 0x09, 0x2a,
                                     0x86, 0x48, 0x86, 0xf7, 0x0d,
                                     0x01, 0x01, 0x0b, 0x05, 0x00};
/* SEQUENCE { SET { SEQUENCE { id-at-commonName, UTF8String "SEP1" } } } */
static const uint8_t name_der[] = {0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b,
                                   0x06, 0x03, 0x55, 0x04, 0x03, 0x0c,
                                   0x04, 'S',  'E',  'P',  '1'};

static void build(const struct spec *s, EVP_PKEY *k, struct buf *out)
{
	struct buf info, cri, req, spki, sig;
	unsigned char raw[600];
	size_t rl = sizeof(raw);
	EVP_MD_CTX *m = EVP_MD_CTX_new();

	buf_init(&info, 0);
	buf_init(&cri, 0);
	buf_init(&req, 0);
	buf_init(&spki, 0);
	buf_init(&sig, 0);
	put_tlv(&info, 0x02, &s->version, 1);
	if (s->bad_name) {
		put_tlv(&info, 0x30, (const uint8_t[]){0x02, 0x01, 0x05}, 3);
	} else {
		buf_put(&info, name_der, sizeof(name_der));
	}
	assert_int_equal(pki_spki_encode(k, &spki), 0);
	if (s->bad_spki) {
		/* SEQUENCE { AlgorithmIdentifier, BIT STRING { } }: the
		 * P-256 point cut off */
		spki.len = 26;
		spki.p[1] = 24;
		spki.p[23] = 0x03;
		spki.p[24] = 0x01;
		spki.p[25] = 0x00;
	}
	buf_put(&info, spki.p, spki.len);
	if (s->bad_attr) {
		put_tlv(&info, 0xa0, (const uint8_t[]){0x31, 0x02, 0x05, 0x00},
		        4);
	} else if (!s->no_attrs) {
		put_tlv(&info, 0xa0, NULL, 0);
	}
	if (s->extra_in_info) {
		put_tlv(&info, 0x05, NULL, 0);
	}
	buf_put_u8(&cri, 0x30);
	if (s->long_form) {
		buf_put_u8(&cri, 0x82);
		buf_put_u16be(&cri, (uint16_t)info.len);
	} else {
		put_len(&cri, info.len);
	}
	buf_put(&cri, info.p, info.len);
	assert_int_equal(buf_err(&cri), 0);
	assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(), NULL, k), 1);
	assert_int_equal(EVP_DigestSign(m, raw, &rl, cri.p, cri.len), 1);
	if (s->flip_sig) {
		raw[rl / 2] ^= 0x10;
	}
	buf_put_u8(&sig, s->unused_bits ? 1 : 0);
	buf_put(&sig, raw, rl);
	buf_put(&req, cri.p, cri.len);
	if (s->alg) {
		buf_put(&req, s->alg, s->alg_len);
	} else {
		buf_put(&req, ecdsa_sha256, sizeof(ecdsa_sha256));
	}
	if (s->sig_as_octets) {
		put_tlv(&req, 0x04, raw, rl);
	} else {
		put_tlv(&req, 0x03, sig.p, sig.len);
	}
	if (s->extra_in_req) {
		put_tlv(&req, 0x05, NULL, 0);
	}
	put_tlv(out, 0x30, req.p, req.len);
	assert_int_equal(buf_err(out), 0);
	EVP_MD_CTX_free(m);
	buf_free(&info);
	buf_free(&cri);
	buf_free(&req);
	buf_free(&spki);
	buf_free(&sig);
}

static void test_built(void **state)
{
	const struct spec cases[] = {
	        {"well formed", .err = 0},
	        {"version 1", .version = 1, .err = -TL_EPARSE},
	        {"no attributes", .no_attrs = true, .err = -TL_EPARSE},
	        {"non-minimal length", .long_form = true, .err = -TL_EPARSE},
	        {"element after the attributes", .extra_in_info = true,
	         .err = -TL_EPARSE},
	        {"element after the signature", .extra_in_req = true,
	         .err = -TL_EPARSE},
	        {"subject not a Name", .bad_name = true, .err = -TL_EPARSE},
	        {"attribute not an Attribute", .bad_attr = true,
	         .err = -TL_EPARSE},
	        {"SPKI without a key", .bad_spki = true, .err = -TL_EPARSE},
	        {"signature not a BIT STRING", .sig_as_octets = true,
	         .err = -TL_EPARSE},
	        {"signature with unused bits", .unused_bits = true,
	         .err = -TL_ESIG},
	        {"signature altered", .flip_sig = true, .err = -TL_ESIG},
	        {"algorithm says SHA-384", .alg = ecdsa_sha384,
	         .alg_len = sizeof(ecdsa_sha384), .err = -TL_ESIG},
	        {"algorithm says RSA", .alg = rsa_sha256,
	         .alg_len = sizeof(rsa_sha256), .err = -TL_ESIG},
	};
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pki_csr c;
		struct buf b;
		buf_init(&b, 0);
		build(&cases[i], k, &b);
		int err = pki_csr_decode(&c, b.p, b.len);
		if (err != cases[i].err) {
			fail_msg("%s: %d, wanted %d", cases[i].what, err,
			         cases[i].err);
		}
		if (err == 0) {
			assert_non_null(c.subject);
			assert_non_null(c.pub);
			assert_int_equal(sk_X509_ATTRIBUTE_num(c.attrs), 0);
		} else {
			assert_null(c.pub);
			assert_null(c.subject);
			assert_null(c.attrs);
		}
		pki_csr_clear(&c);
		buf_free(&b);
	}
	EVP_PKEY_free(k);
}

/* ---- hostile bytes ---- */

static void test_bytes(void **state)
{
	static const struct {
		const char *what;
		const char *der;
		size_t len;
		int err;
	} raw[] = {
	        {"empty", "", 0, -TL_ETRUNC},
	        {"one byte", "\x30", 1, -TL_EPARSE},
	        {"not a SEQUENCE", "\x31\x00", 2, -TL_EPARSE},
	        {"empty SEQUENCE", "\x30\x00", 2, -TL_EPARSE},
	        {"indefinite length", "\x30\x80\x00\x00", 4, -TL_EPARSE},
	        {"long form for a short length", "\x30\x81\x01\x00", 4,
	         -TL_EPARSE},
	        {"two length bytes, first zero", "\x30\x82\x00\x81", 4,
	         -TL_EPARSE},
	        {"four length bytes", "\x30\x84\x00\x00\x00\x01\x00", 7,
	         -TL_EPARSE},
	        {"length past the end", "\x30\x82\xff\xff\x30\x00", 6,
	         -TL_EPARSE},
	        {"trailing byte", "\x30\x00\x00", 3, -TL_ETRAIL},
	        {"NUL inside", "\x30\x03\x30\x00\x00", 5, -TL_EPARSE},
	};
	struct pki_csr c;

	(void)state;
	for (size_t i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		int err = pki_csr_decode(&c, (const uint8_t *)raw[i].der,
		                         raw[i].len);
		if (err != raw[i].err) {
			fail_msg("%s: %d", raw[i].what, err);
		}
	}
	assert_int_equal(pki_csr_decode(&c, NULL, 5), -TL_ETRUNC);
	uint8_t *big = calloc(1, 65537);
	assert_int_equal(pki_csr_decode(&c, big, 65537), -TL_ETOOBIG);
	free(big);

	/* a good request cut short anywhere, or with a byte more */
	EVP_PKEY *k = NULL;
	unsigned char *der = NULL;
	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	int len = ossl_csr(k, "SEP001122334455", "pw", false, &der);
	for (int n = 1; n < len; n++) {
		assert_int_not_equal(pki_csr_decode(&c, der, (size_t)n), 0);
	}
	uint8_t *more = malloc((size_t)len + 1);
	memcpy(more, der, (size_t)len);
	more[len] = 0;
	assert_int_equal(pki_csr_decode(&c, more, (size_t)len + 1), -TL_ETRAIL);
	/* every single-bit change is refused */
	for (int i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			memcpy(more, der, (size_t)len);
			more[i] ^= (uint8_t)(1u << bit);
			if (pki_csr_decode(&c, more, (size_t)len) == 0) {
				fail_msg("bit %d of byte %d", bit, i);
			}
		}
	}
	free(more);
	OPENSSL_free(der);

	/* weak and unknown keys: refused by policy */
	EVP_PKEY *weak = EVP_RSA_gen(1024);
	len = ossl_csr(weak, "SEP001122334455", NULL, false, &der);
	assert_int_equal(pki_csr_decode(&c, der, (size_t)len), -TL_EPOLICY);
	OPENSSL_free(der);
	EVP_PKEY_free(weak);
	EVP_PKEY *p521 = EVP_EC_gen("P-521");
	len = ossl_csr(p521, "SEP001122334455", NULL, false, &der);
	assert_int_equal(pki_csr_decode(&c, der, (size_t)len), -TL_EPOLICY);
	OPENSSL_free(der);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_agree),
	        cmocka_unit_test(test_built),
	        cmocka_unit_test(test_bytes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
