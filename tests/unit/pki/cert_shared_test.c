/* pki_cert_shared: the same bytes give the same (shared) certificate,
 * different bytes never do, bad input gives nothing; and it holds under
 * concurrent use from several threads. */
#include "pki/pki.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/x509v3.h>
#include <pthread.h>
#include <string.h>

#define NCERTS 100

static uint8_t *ders[NCERTS];
static int lens[NCERTS];

static X509 *make_cert(int serial)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509 *x = X509_new();

	assert_non_null(k);
	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)"SEP001122334455",
	                           -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	EVP_PKEY_free(k);
	return x;
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < NCERTS; i++) {
		X509 *x = make_cert(i + 1);
		ders[i] = NULL;
		lens[i] = i2d_X509(x, &ders[i]);
		X509_free(x);
		if (lens[i] <= 0) {
			return -1;
		}
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NCERTS; i++) {
		OPENSSL_free(ders[i]);
	}
	pki_cert_shared_clear();
	return 0;
}

static long serial_of(X509 *x)
{
	return ASN1_INTEGER_get(X509_get0_serialNumber(x));
}

static void test_same_and_different(void **state)
{
	X509 *a, *b, *c;

	(void)state;
	a = pki_cert_shared(ders[0], (size_t)lens[0]);
	b = pki_cert_shared(ders[0], (size_t)lens[0]);
	c = pki_cert_shared(ders[1], (size_t)lens[1]);
	assert_non_null(a);
	assert_ptr_equal(a, b); /* decoded once */
	assert_non_null(c);
	assert_ptr_not_equal(a, c);
	assert_int_equal(serial_of(a), 1);
	assert_int_equal(serial_of(c), 2);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	/* a copy of the bytes elsewhere is the same certificate */
	uint8_t *copy = malloc((size_t)lens[0]);
	assert_non_null(copy);
	memcpy(copy, ders[0], (size_t)lens[0]);
	a = pki_cert_shared(copy, (size_t)lens[0]);
	assert_non_null(a);
	assert_int_equal(serial_of(a), 1);
	/* one byte changed in the signature: not the cached certificate */
	copy[lens[0] - 1] ^= 1;
	b = pki_cert_shared(copy, (size_t)lens[0]);
	if (b) {
		assert_ptr_not_equal(a, b);
		assert_int_not_equal(X509_cmp(a, b), 0);
	}
	X509_free(a);
	X509_free(b);
	free(copy);
}

static void test_bad_input(void **state)
{
	uint8_t junk[64] = {0x30, 0x03, 0x02, 0x01, 0x01};
	uint8_t *longer = malloc((size_t)lens[2] + 1);

	(void)state;
	assert_null(pki_cert_shared(NULL, 10));
	assert_null(pki_cert_shared(ders[2], 0));
	assert_null(pki_cert_shared(junk, sizeof(junk)));
	assert_null(pki_cert_shared(ders[2], (size_t)lens[2] - 1));
	assert_non_null(longer);
	memcpy(longer, ders[2], (size_t)lens[2]);
	longer[lens[2]] = 0;
	/* trailing bytes: refused even after the exact DER was cached */
	X509 *x = pki_cert_shared(ders[2], (size_t)lens[2]);
	assert_non_null(x);
	X509_free(x);
	assert_null(pki_cert_shared(longer, (size_t)lens[2] + 1));
	free(longer);
}

static void *worker(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	long bad = 0;

	for (int n = 0; n < 3000; n++) {
		int i = (int)(rand_r(&seed) % NCERTS);
		X509 *x = pki_cert_shared(ders[i], (size_t)lens[i]);
		if (!x || serial_of(x) != i + 1) {
			bad++;
		}
		X509_free(x);
	}
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[4];

	(void)state;
	for (uintptr_t i = 0; i < 4; i++) {
		assert_int_equal(pthread_create(&t[i], NULL, worker,
		                                (void *)(i + 1)),
		                 0);
	}
	for (int i = 0; i < 4; i++) {
		void *bad = NULL;
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_same_and_different),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
