/* pki_spki_decode / pki_spki_encode: the fast forms give the same DER and
 * the same keys as OpenSSL's own d2i_PUBKEY / i2d_PUBKEY, and anything
 * malformed is refused without a key. */
#include "pki/pki.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <string.h>

static const enum pki_alg algs[] = {PKI_ALG_P256, PKI_ALG_P384,
                                    PKI_ALG_RSA2048, PKI_ALG_RSA3072};

/* OpenSSL's own encoding of key */
static int ref_der(EVP_PKEY *key, unsigned char **der)
{
	*der = NULL;
	return i2d_PUBKEY(key, der);
}

static void test_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *k = NULL, *back = NULL;
		unsigned char *der = NULL;
		struct buf b;
		int n;

		assert_int_equal(pki_keygen(&k, algs[i]), 0);
		n = ref_der(k, &der);
		assert_true(n > 0);
		buf_init(&b, 0);
		assert_int_equal(pki_spki_encode(k, &b), 0);
		assert_int_equal(b.len, (size_t)n);
		assert_memory_equal(b.p, der, (size_t)n);
		assert_int_equal(pki_spki_decode(&back, der, (size_t)n), 0);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(k, back), 1);
		/* the decoded key verifies what the private key signs */
		{
			unsigned char sig[600];
			size_t sl = sizeof(sig);
			EVP_MD_CTX *m = EVP_MD_CTX_new();
			assert_int_equal(EVP_DigestSignInit(m, NULL, EVP_sha256(),
			                                    NULL, k),
			                 1);
			assert_int_equal(EVP_DigestSign(m, sig, &sl,
			                                (const unsigned char *)"x",
			                                1),
			                 1);
			EVP_MD_CTX_reset(m);
			assert_int_equal(EVP_DigestVerifyInit(m, NULL, EVP_sha256(),
			                                      NULL, back),
			                 1);
			assert_int_equal(
			        EVP_DigestVerify(m, sig, sl,
			                         (const unsigned char *)"x", 1),
			        1);
			EVP_MD_CTX_free(m);
		}
		OPENSSL_free(der);
		buf_free(&b);
		EVP_PKEY_free(back);
		EVP_PKEY_free(k);
	}
}

/* Every truncation and every single-byte change of a P-256 and an RSA SPKI
 * either fails or gives exactly the key d2i_PUBKEY gives for those bytes:
 * the fast path never accepts what OpenSSL would read differently. */
static void mutate(EVP_PKEY *k)
{
	unsigned char *der = NULL;
	int n = ref_der(k, &der);
	uint8_t *m = malloc((size_t)n + 1);

	assert_true(n > 0);
	assert_non_null(m);
	for (int len = 0; len <= n + 1; len++) {
		EVP_PKEY *a = NULL;
		memcpy(m, der, (size_t)(len < n ? len : n));
		if (len > n) {
			m[n] = 0; /* trailing byte */
		}
		int err = pki_spki_decode(&a, m, (size_t)len);
		if (len == n) {
			assert_int_equal(err, 0);
		} else {
			assert_true(err < 0);
			assert_null(a);
		}
		EVP_PKEY_free(a);
	}
	for (int i = 0; i < n; i++) {
		static const uint8_t flips[] = {0x01, 0x80, 0xff};
		for (size_t f = 0; f < sizeof(flips); f++) {
			EVP_PKEY *a = NULL, *ref = NULL;
			const unsigned char *q = m;
			memcpy(m, der, (size_t)n);
			m[i] ^= flips[f];
			int err = pki_spki_decode(&a, m, (size_t)n);
			ref = d2i_PUBKEY(NULL, &q, n);
			if (err == 0) {
				assert_non_null(a);
				/* accepted: OpenSSL reads the same key */
				assert_non_null(ref);
				assert_true(q == m + n);
				assert_int_equal(EVP_PKEY_eq(a, ref), 1);
			} else {
				assert_null(a);
			}
			EVP_PKEY_free(a);
			EVP_PKEY_free(ref);
		}
	}
	free(m);
	OPENSSL_free(der);
}

static void test_mutations(void **state)
{
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	mutate(k);
	EVP_PKEY_free(k);
	assert_int_equal(pki_keygen(&k, PKI_ALG_RSA2048), 0);
	mutate(k);
	EVP_PKEY_free(k);
}

/* A point not on the curve, behind a correct header, is refused. */
static void test_off_curve(void **state)
{
	EVP_PKEY *k = NULL, *a = NULL;
	unsigned char *der = NULL;
	int n;

	(void)state;
	assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
	n = ref_der(k, &der);
	assert_int_equal(n, 91);
	der[n - 1] ^= 0x01; /* Y no longer matches X */
	assert_true(pki_spki_decode(&a, der, (size_t)n) < 0);
	assert_null(a);
	OPENSSL_free(der);
	EVP_PKEY_free(k);
}

/* Keys outside the fast forms still work (through OpenSSL's decoder). */
static void test_other_keys(void **state)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"), *a = NULL;
	unsigned char *der = NULL;
	struct buf b;
	int n;

	(void)state;
	assert_non_null(k);
	n = ref_der(k, &der);
	assert_true(n > 0);
	assert_int_equal(pki_spki_decode(&a, der, (size_t)n), 0);
	assert_int_equal(EVP_PKEY_eq(k, a), 1);
	buf_init(&b, 0);
	assert_int_equal(pki_spki_encode(k, &b), 0);
	assert_int_equal(b.len, (size_t)n);
	assert_memory_equal(b.p, der, (size_t)n);
	buf_free(&b);
	EVP_PKEY_free(a);
	assert_int_equal(pki_spki_decode(&a, NULL, 0), -TL_ETRUNC);
	assert_int_equal(pki_spki_decode(&a, der, 100000), -TL_ETOOBIG);
	OPENSSL_free(der);
	EVP_PKEY_free(a);
	EVP_PKEY_free(k);
}

/* pki_cert_spki finds the same SPKI bytes OpenSSL encodes for the
 * certificate's key, for v3 and v1 (no version field) certificates. */
static void test_cert_spki(void **state)
{
	(void)state;
	for (int version = 0; version <= 2; version += 2) {
		EVP_PKEY *k = NULL;
		X509 *x = X509_new();
		unsigned char *der = NULL, *want = NULL;
		struct slice spki;
		int n, wn;

		assert_int_equal(pki_keygen(&k, PKI_ALG_P256), 0);
		assert_int_equal(X509_set_version(x, version), 1);
		ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
		X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
		                           MBSTRING_ASC,
		                           (const unsigned char *)"SEP001122334455",
		                           -1, -1, 0);
		X509_set_issuer_name(x, X509_get_subject_name(x));
		X509_gmtime_adj(X509_getm_notBefore(x), 0);
		X509_gmtime_adj(X509_getm_notAfter(x), 60);
		X509_set_pubkey(x, k);
		assert_true(X509_sign(x, k, EVP_sha256()) > 0);
		n = i2d_X509(x, &der);
		wn = i2d_PUBKEY(k, &want);
		assert_true(n > 0 && wn > 0);
		assert_int_equal(pki_cert_spki(der, (size_t)n, NULL, &spki), 0);
		assert_int_equal(spki.len, (size_t)wn);
		assert_memory_equal(spki.p, want, (size_t)wn);
		{
			struct slice subj;
			unsigned char *name = NULL;
			int nl = i2d_X509_NAME(X509_get_subject_name(x), &name);
			assert_int_equal(
			        pki_cert_spki(der, (size_t)n, &subj, &spki), 0);
			assert_int_equal(subj.len, (size_t)nl);
			assert_memory_equal(subj.p, name, (size_t)nl);
			OPENSSL_free(name);
		}
		/* trailing bytes, truncation */
		assert_int_equal(pki_cert_spki(der, (size_t)n - 1, NULL, &spki),
		                 -TL_EPARSE);
		assert_null(spki.p);
		{
			uint8_t *longer = malloc((size_t)n + 1);
			assert_non_null(longer);
			memcpy(longer, der, (size_t)n);
			longer[n] = 0;
			assert_int_equal(
			        pki_cert_spki(longer, (size_t)n + 1, NULL, &spki),
			        -TL_ETRAIL);
			free(longer);
		}
		OPENSSL_free(der);
		OPENSSL_free(want);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_round_trip),
	        cmocka_unit_test(test_mutations),
	        cmocka_unit_test(test_off_curve),
	        cmocka_unit_test(test_other_keys),
	        cmocka_unit_test(test_cert_spki),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
