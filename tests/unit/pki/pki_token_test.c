/* Real SoftHSM2 tokens in a temporary directory: initialisation, key
 * generation inside the token, signing through pki_key, certificates in
 * the token, and the private key's protection. */
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "pki/pki_token.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char tmpdir[256];

static int setup(void **state)
{
	const char *t = getenv("TMPDIR");
	char cmd[512];

	snprintf(tmpdir, sizeof(tmpdir), "%s/tl-token-XXXXXX",
	         (t && *t) ? t : "/tmp");
	if (!mkdtemp(tmpdir)) {
		return -1;
	}
	/* the test's own store, whatever the environment says */
	unsetenv("SOFTHSM2_CONF");
	if (pki_token_softhsm_env(tmpdir, true)) {
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "%s/softhsm2.conf", tmpdir);
	return strcmp(getenv("SOFTHSM2_CONF"), cmd) ? -1 : 0;
}

static int teardown(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

struct alg_case {
	const char *label;
	enum pki_alg alg;
	int base_id;
};

static const struct alg_case alg_cases[] = {
        {"SAST1", PKI_ALG_RSA2048, EVP_PKEY_RSA},
        {"SAST2", PKI_ALG_RSA2048, EVP_PKEY_RSA},
        {"CA", PKI_ALG_P256, EVP_PKEY_EC},
        {"EC384", PKI_ALG_P384, EVP_PKEY_EC},
};

static void test_token_init_keygen_sign(void **state)
{
	static const uint8_t msg[] = "CTLFile.tlv header bytes";

	for (size_t i = 0; i < sizeof(alg_cases) / sizeof(alg_cases[0]); i++) {
		const struct alg_case *c = &alg_cases[i];
		struct pki_key *k = NULL;
		struct buf sig;

		assert_int_equal(
		        pki_token_init(NULL, c->label, "so-secret", "user-pin"),
		        0);
		/* a second token with the same label is refused */
		assert_int_equal(
		        pki_token_init(NULL, c->label, "so-secret", "user-pin"),
		        -TL_EEXIST);
		assert_int_equal(pki_token_keygen(NULL, c->label, "user-pin",
		                                  "sast", 1, c->alg),
		                 0);
		assert_int_equal(pki_token_keygen(NULL, c->label, "user-pin",
		                                  "sast", 1, c->alg),
		                 -TL_EEXIST);
		assert_int_equal(pki_token_key_protected(NULL, c->label,
		                                         "user-pin", "sast"),
		                 0);
		assert_int_equal(pki_key_open_p11(&k, NULL, c->label, "sast",
		                                  "user-pin"),
		                 0);
		assert_int_equal(EVP_PKEY_get_base_id(pki_key_public(k)),
		                 c->base_id);
		const EVP_MD *mds[] = {EVP_sha256(), EVP_sha512(), EVP_sha1()};
		for (size_t j = 0; j < 3; j++) {
			buf_init(&sig, 0);
			assert_int_equal(
			        pki_key_sign(k, mds[j], msg, sizeof(msg), &sig),
			        0);
			/* verified by OpenSSL with the public half only */
			assert_int_equal(pki_verify(pki_key_public(k), mds[j],
			                            msg, sizeof(msg), sig.p,
			                            sig.len),
			                 0);
			sig.p[sig.len / 2] ^= 1;
			assert_int_equal(pki_verify(pki_key_public(k), mds[j],
			                            msg, sizeof(msg), sig.p,
			                            sig.len),
			                 -TL_ESIG);
			buf_free(&sig);
		}
		pki_key_free(k);
	}
}

/* must reject: wrong PIN, unknown token, unknown key, bad labels */
static void test_token_rejects(void **state)
{
	struct pki_key *k = NULL;

	assert_int_equal(pki_key_open_p11(&k, NULL, "SAST1", "sast", "wrong"),
	                 -TL_EAUTH);
	assert_int_equal(pki_key_open_p11(&k, NULL, "NOPE", "sast", "user-pin"),
	                 -TL_ENOTFOUND);
	assert_int_equal(
	        pki_key_open_p11(&k, NULL, "SAST1", "nokey", "user-pin"),
	        -TL_ENOTFOUND);
	assert_int_equal(pki_token_init(NULL, "", "so-secret", "user-pin"),
	                 -TL_ETOOBIG);
	assert_int_equal(pki_token_init(NULL,
	                                "a-label-that-is-longer-than-32-bytes",
	                                "so-secret", "user-pin"),
	                 -TL_ETOOBIG);
	assert_int_equal(pki_token_init(NULL, "X", "so", "user-pin"),
	                 -TL_EPOLICY);
	assert_int_equal(pki_key_open_p11(&k, "/nonexistent/module.so", "SAST1",
	                                  "sast", "user-pin"),
	                 -ENOENT);
	assert_null(k);
}

/* A self-signed SAST certificate made by the token key, stored in the
 * token, found again by the listing. */
static void test_token_sast_cert(void **state)
{
	struct pki_key *k = NULL;
	X509 *x = NULL;
	struct pki_issue req = {
	        .profile = PKI_PROFILE_SAST, .cn = "SAST1", .org = "Trustline"};

	assert_int_equal(
	        pki_key_open_p11(&k, NULL, "SAST1", "sast", "user-pin"), 0);
	assert_int_equal(pki_self_issue(&x, k, &req), 0);
	assert_int_equal(X509_verify(x, pki_key_public(k)), 1);
	assert_int_equal(X509_NAME_cmp(X509_get_subject_name(x),
	                               X509_get_issuer_name(x)),
	                 0);
	assert_int_equal(
	        pki_token_put_cert(NULL, "SAST1", "user-pin", "sast", 1, x), 0);
	/* replacing keeps one certificate */
	assert_int_equal(
	        pki_token_put_cert(NULL, "SAST1", "user-pin", "sast", 1, x), 0);
	X509_free(x);
	pki_key_free(k);
}

/* A CA whose key lives in the token issues certificates and CRLs: the
 * TBS bytes are signed in the token and OpenSSL verifies the result. */
static void test_token_ca(void **state)
{
	struct pki_key *k = NULL;
	struct pki_ca *ca = NULL;
	X509 *cax = NULL, *lsc = NULL;
	X509_CRL *crl = NULL;
	EVP_PKEY *phone = NULL;
	struct pki_trust *t = NULL;
	char serial[80];
	struct pki_issue careq = {
	        .profile = PKI_PROFILE_CA, .cn = "Token CA", .org = "Example"};
	struct pki_issue req = {.profile = PKI_PROFILE_LSC,
	                        .cn = "SEP00AA00BB00CC"};
	const char *tokens[] = {"CA", "SAST2"}; /* P-256 and RSA-2048 */

	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(pki_key_open_p11(&k, NULL, tokens[i], "sast",
		                                  "user-pin"),
		                 0);
		assert_int_equal(pki_self_issue(&cax, k, &careq), 0);
		assert_int_equal(X509_verify(cax, pki_key_public(k)), 1);
		assert_int_equal(pki_ca_new(&ca, cax, k, "http://h:1/crl.der"),
		                 0);
		assert_int_equal(pki_keygen(&phone, PKI_ALG_P256), 0);
		req.pub = phone;
		assert_int_equal(pki_ca_issue(ca, &req, &lsc), 0);
		assert_int_equal(X509_verify(lsc, X509_get0_pubkey(cax)), 1);
		assert_int_equal(pki_serial_hex(lsc, serial, sizeof(serial)),
		                 0);
		/* the DER path signs in the token too */
		{
			struct buf der;
			X509 *y = NULL;

			buf_init(&der, 0);
			assert_int_equal(
			        pki_ca_issue_der(ca, &req, &der, NULL, 0), 0);
			assert_int_equal(pki_cert_parse(&y, der.p, der.len), 0);
			assert_int_equal(X509_verify(y, X509_get0_pubkey(cax)),
			                 1);
			X509_free(y);
			buf_free(&der);
		}
		{
			struct pki_revoked r = {serial, 0, 4};

			assert_int_equal(pki_ca_crl(ca, &r, 1, 2, 0, 30, &crl),
			                 0);
		}
		assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(cax)),
		                 1);
		assert_int_equal(pki_trust_new(&t), 0);
		assert_int_equal(pki_trust_add_cert(t, cax), 0);
		assert_int_equal(
		        pki_cert_check(t, lsc, NULL, 0, PKI_EKU_CLIENT), 0);
		assert_int_equal(pki_trust_add_crl(t, crl), 0);
		assert_int_equal(
		        pki_cert_check(t, lsc, NULL, 0, PKI_EKU_CLIENT),
		        -TL_EREVOKED);
		pki_trust_free(t);
		X509_CRL_free(crl);
		X509_free(lsc);
		EVP_PKEY_free(phone);
		pki_ca_free(ca);
		X509_free(cax);
	}
}

struct seen {
	int sast1_cert, ca_key, uninit;
};

static int list_h(const struct pki_token_info *t, void *arg)
{
	struct seen *s = arg;

	if (!t->initialized) {
		s->uninit++;
	} else if (!strcmp(t->label, "SAST1")) {
		assert_true(t->has_key);
		assert_string_equal(t->key_alg, "rsa2048");
		assert_true(t->has_cert);
		assert_true(strlen(t->cert_serial) >= 30);
		assert_non_null(strstr(t->cert_subject, "CN=SAST1"));
		s->sast1_cert++;
	} else if (!strcmp(t->label, "CA")) {
		assert_true(t->has_key);
		assert_string_equal(t->key_alg, "p256");
		assert_false(t->has_cert);
		s->ca_key++;
	}
	return 0;
}

static void test_token_list(void **state)
{
	struct seen s = {0};

	assert_int_equal(pki_token_list(NULL, list_h, &s), 0);
	assert_int_equal(s.sast1_cert, 1);
	assert_int_equal(s.ca_key, 1);
	assert_int_equal(s.uninit, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_token_init_keygen_sign),
	        cmocka_unit_test(test_token_rejects),
	        cmocka_unit_test(test_token_sast_cert),
	        cmocka_unit_test(test_token_list),
	        cmocka_unit_test(test_token_ca),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
