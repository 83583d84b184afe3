/* The process's OpenSSL algorithms through our provider (src/pki/ossl.c):
 * every key type, format and TLS handshake the system uses still works,
 * and the key types left out are gone. pki_ossl_init runs first, as in
 * main(). */
#include "pki/pki.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <string.h>

static void test_providers(void **state)
{
	(void)state;
	assert_int_equal(pki_ossl_init(), 0); /* again: a no-op */
	assert_int_equal(OSSL_PROVIDER_available(NULL, "trustline"), 1);
	assert_int_equal(OSSL_PROVIDER_available(NULL, "default"), 0);
}

/* Key types left out cannot be made. */
static void test_left_out(void **state)
{
	static const char *const gone[] = {"DSA", "DH", "X448", "ED448", "SM2"};
	static const char *const kept[] = {"RSA", "EC", "X25519", "ED25519",
	                                   "HKDF"};

	(void)state;
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		EVP_KEYMGMT *k = EVP_KEYMGMT_fetch(NULL, gone[i], NULL);

		if (k) {
			EVP_KEYMGMT_free(k);
			fail_msg("%s is offered", gone[i]);
		}
	}
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		EVP_KEYMGMT *k = EVP_KEYMGMT_fetch(NULL, kept[i], NULL);

		if (!k) {
			fail_msg("%s is not offered", kept[i]);
		}
		EVP_KEYMGMT_free(k);
	}
}

/* A self-signed certificate for k, as DER. */
static int self_signed(EVP_PKEY *k, unsigned char **der)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	int len = -1;

	if (x && n && X509_set_version(x, 2) == 1 &&
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1 &&
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	                               (const unsigned char *)"t", -1, -1,
	                               0) == 1 &&
	    X509_set_subject_name(x, n) == 1 &&
	    X509_set_issuer_name(x, n) == 1 &&
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) &&
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) &&
	    X509_set_pubkey(x, k) == 1 && X509_sign(x, k, EVP_sha256()) > 0) {
		len = i2d_X509(x, der);
	}
	X509_NAME_free(n);
	X509_free(x);
	return len;
}

/* Keys made, written and read as PEM (PKCS#8), used to sign; their
 * certificates decoded with their public keys. */
static void test_keys_and_certs(void **state)
{
	static const enum pki_alg algs[] = {PKI_ALG_P256, PKI_ALG_P384,
	                                    PKI_ALG_RSA2048};

	(void)state;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		EVP_PKEY *k = NULL, *back = NULL;
		BIO *b = BIO_new(BIO_s_mem());
		unsigned char *der = NULL, sig[600];
		const unsigned char *p;
		size_t siglen = sizeof(sig);
		EVP_MD_CTX *md = EVP_MD_CTX_new();
		X509 *x;
		int len;

		assert_int_equal(pki_keygen(&k, algs[i]), 0);
		assert_non_null(b);
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0,
		                                          NULL, NULL),
		                 1);
		back = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
		assert_non_null(back);
		assert_int_equal(EVP_PKEY_eq(k, back), 1);
		assert_non_null(md);
		assert_int_equal(EVP_DigestSignInit(md, NULL, EVP_sha256(),
		                                    NULL, back),
		                 1);
		assert_int_equal(EVP_DigestSign(md, sig, &siglen,
		                                (const unsigned char *)"m", 1),
		                 1);

		len = self_signed(k, &der);
		assert_true(len > 0);
		p = der;
		x = d2i_X509(NULL, &p, len);
		assert_non_null(x);
		assert_non_null(X509_get0_pubkey(x));
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
		assert_int_equal(X509_verify(x, X509_get0_pubkey(x)), 1);
		X509_free(x);
		OPENSSL_free(der);
		EVP_MD_CTX_free(md);
		EVP_PKEY_free(back);
		EVP_PKEY_free(k);
		BIO_free(b);
	}
}

/* X25519 agreement and HKDF through EVP_PKEY (as trust_enc uses it). */
static void test_derive(void **state)
{
	EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	EVP_PKEY_CTX *ca = a ? EVP_PKEY_CTX_new(a, NULL) : NULL;
	EVP_PKEY_CTX *cb = b ? EVP_PKEY_CTX_new(b, NULL) : NULL;
	EVP_PKEY_CTX *kdf = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	unsigned char za[32], zb[32], okm[16];
	size_t la = sizeof(za), lb = sizeof(zb), lo = sizeof(okm);

	(void)state;
	assert_non_null(ca);
	assert_non_null(cb);
	assert_int_equal(EVP_PKEY_derive_init(ca), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(ca, b), 1);
	assert_int_equal(EVP_PKEY_derive(ca, za, &la), 1);
	assert_int_equal(EVP_PKEY_derive_init(cb), 1);
	assert_int_equal(EVP_PKEY_derive_set_peer(cb, a), 1);
	assert_int_equal(EVP_PKEY_derive(cb, zb, &lb), 1);
	assert_int_equal(la, lb);
	assert_memory_equal(za, zb, la);
	assert_non_null(kdf);
	assert_int_equal(EVP_PKEY_derive_init(kdf), 1);
	assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(kdf, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(kdf, za, (int)la), 1);
	assert_int_equal(EVP_PKEY_derive(kdf, okm, &lo), 1);
	assert_int_equal(lo, sizeof(okm));
	EVP_PKEY_CTX_free(kdf);
	EVP_PKEY_CTX_free(ca);
	EVP_PKEY_CTX_free(cb);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
}

/* A TLS handshake over a BIO pair: version, group and server key. */
static int handshake(EVP_PKEY *k, int version, const char *group)
{
	SSL_CTX *sc = SSL_CTX_new(TLS_server_method());
	SSL_CTX *cc = SSL_CTX_new(TLS_client_method());
	unsigned char *der = NULL;
	const unsigned char *p;
	X509 *x = NULL;
	SSL *s = NULL, *c = NULL;
	BIO *bs = NULL, *bc = NULL;
	int len = self_signed(k, &der), ok = 0;

	p = der;
	if (len > 0) {
		x = d2i_X509(NULL, &p, len);
	}
	if (!sc || !cc || !x || SSL_CTX_use_certificate(sc, x) != 1 ||
	    SSL_CTX_use_PrivateKey(sc, k) != 1 ||
	    SSL_CTX_set_min_proto_version(sc, version) != 1 ||
	    SSL_CTX_set_max_proto_version(sc, version) != 1 ||
	    SSL_CTX_set1_groups_list(sc, group) != 1 ||
	    SSL_CTX_set1_groups_list(cc, group) != 1 ||
	    X509_STORE_add_cert(SSL_CTX_get_cert_store(cc), x) != 1 ||
	    BIO_new_bio_pair(&bs, 0, &bc, 0) != 1) {
		goto out;
	}
	SSL_CTX_set_verify(cc, SSL_VERIFY_PEER, NULL);
	s = SSL_new(sc);
	c = SSL_new(cc);
	if (!s || !c) {
		goto out;
	}
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	bs = bc = NULL;
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	for (int i = 0; i < 20 && !ok; i++) {
		int rc = SSL_do_handshake(c);
		int rs = SSL_do_handshake(s);

		ok = rc == 1 && rs == 1;
	}
	ok = ok && SSL_version(c) == version &&
	     SSL_get_verify_result(c) == X509_V_OK;
out:
	SSL_free(s);
	SSL_free(c);
	BIO_free(bs);
	BIO_free(bc);
	X509_free(x);
	OPENSSL_free(der);
	SSL_CTX_free(sc);
	SSL_CTX_free(cc);
	return ok;
}

static void test_tls(void **state)
{
	EVP_PKEY *ec = NULL, *rsa = NULL;

	(void)state;
	assert_int_equal(pki_keygen(&ec, PKI_ALG_P256), 0);
	assert_int_equal(pki_keygen(&rsa, PKI_ALG_RSA2048), 0);
	assert_true(handshake(ec, TLS1_3_VERSION, "X25519"));
	assert_true(handshake(ec, TLS1_3_VERSION, "P-256"));
	assert_true(handshake(rsa, TLS1_3_VERSION, "P-384"));
	assert_true(handshake(rsa, TLS1_2_VERSION, "X25519"));
	assert_true(handshake(ec, TLS1_2_VERSION, "P-256"));
	/* a group whose key type is left out is not offered */
	assert_false(handshake(ec, TLS1_3_VERSION, "X448"));
	EVP_PKEY_free(ec);
	EVP_PKEY_free(rsa);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_providers),
	        cmocka_unit_test(test_left_out),
	        cmocka_unit_test(test_keys_and_certs),
	        cmocka_unit_test(test_derive),
	        cmocka_unit_test(test_tls),
	};

	if (pki_ossl_init() != 0) {
		fprintf(stderr, "pki_ossl_init failed\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
