/* Signed and encrypted configs end to end: the cache with the trust
 * transform serves SEP<MAC>.cnf.xml.sgn and .enc.sgn that verify against a
 * CTL listing the TFTP signer, decrypt with the device's key to the full
 * config with its passwords, and are refused when tampered with. Real
 * keys, real signatures: nothing is mocked. */
#include "pki/pki_key.h"
#include "prov/cnf_sign.h"
#include "prov/cnf_xml.h"
#include "store/store.h"
#include "trust/trust.h"

#include <errno.h>
#include <libxml/parser.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#define PW "Pw-secret-1001"

static X509 *self_signed(EVP_PKEY *k, const char *cn, long serial)
{
	X509 *x = X509_new();

	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_set_pubkey(x, k);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	return x;
}

static int secret_cb(const char *dn, char *out, size_t outlen, void *arg)
{
	if (strcmp(dn, "1001")) {
		return -TL_ENOTFOUND;
	}
	snprintf(out, outlen, "%s", PW);
	return 0;
}

static void test_signed_and_encrypted(void **state)
{
	char dir[256], path[300], p[400];
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *ks1 = EVP_RSA_gen(2048), *ks2 = EVP_RSA_gen(2048);
	EVP_PKEY *kt = EVP_RSA_gen(2048), *kd = EVP_EC_gen("P-256");
	X509 *s1, *s2, *tf, *dev;
	struct pki_key *sast = NULL, *tftp = NULL;
	struct buf ctlb, plain;
	struct trust_ctl *ctl = NULL;
	struct store *st = NULL;
	struct cnf_cache *c = NULL;
	struct slice file, content;
	struct store_device d = {0};
	struct store_line l = {0};
	struct trust_opts o = {0};
	const char *why = NULL;
	uint8_t *der = NULL;
	int der_len;

	assert_non_null(ks1);
	assert_non_null(ks2);
	assert_non_null(kt);
	assert_non_null(kd);
	s1 = self_signed(ks1, "SAST1", 1);
	s2 = self_signed(ks2, "SAST2", 2);
	tf = self_signed(kt, "TFTP", 3);
	dev = self_signed(kd, "SEPAABBCCDDEEFF", 4);
	assert_int_equal(pki_key_from_pkey(&sast, ks1), 0);
	assert_int_equal(pki_key_from_pkey(&tftp, kt), 0);

	/* the CTL a phone holds: two SASTs and the TFTP signer */
	X509 *certs[] = {s1, s2, tf};
	uint16_t roles[] = {TLV_ROLE_SAST, TLV_ROLE_SAST, TLV_ROLE_TFTP};
	struct trust_sign ss = {
	        .key = sast, .cert = s1, .filename = "CTLFile.tlv"};

	buf_init(&ctlb, 0);
	assert_int_equal(
	        trust_ctl_build(&ctlb, &ss, certs, roles, 3, TRUST_BUILD_MIXED),
	        0);
	assert_int_equal(trust_ctl_parse(&ctl, ctlb.p, ctlb.len, &why), 0);

	/* a site in mixed mode with one encrypted device */
	snprintf(dir, sizeof(dir), "%s/cnf_sign.XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/trustline.db", dir);
	assert_int_equal(store_open(&st, path), 0);
	snprintf(d.mac, sizeof(d.mac), "AABBCCDDEEFF");
	snprintf(d.profile, sizeof(d.profile), "encrypted");
	assert_int_equal(store_device_add(st, &d), 0);
	snprintf(d.mac, sizeof(d.mac), "001122334455");
	assert_int_equal(store_device_add(st, &d), 0);
	snprintf(l.dn, sizeof(l.dn), "1001");
	snprintf(l.device, sizeof(l.device), "AABBCCDDEEFF");
	assert_int_equal(store_line_add(st, &l), 0);
	der_len = i2d_X509(dev, &der);
	assert_true(der_len > 0);
	assert_int_equal(
	        store_device_cert_set(st, "AABBCCDDEEFF", der, (size_t)der_len),
	        0);
	OPENSSL_free(der);
	assert_int_equal(store_cluster_mode_set(st, STORE_CLUSTER_MIXED), 0);

	struct cnf_site site = {.host = "127.0.0.1"};
	struct trust_sign ts = {.key = tftp, .cert = tf};

	assert_int_equal(cnf_cache_new(&c, st, &site, secret_cb,
	                               cnf_sign_transform, &ts),
	                 0);

	/* the stub: signed by TFTP, certHash of the device certificate */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_SGN, &file),
	                 0);
	assert_int_equal(trust_sgn_verify(file, ctl, &o, &content, &why), 0);
	assert_non_null(memmem(content.p, content.len,
	                       "<encrConfig>true</encrConfig>", 29));
	assert_null(memmem(file.p, file.len, PW, strlen(PW)));
	assert_non_null(
	        memmem(file.p, file.len, "SEPAABBCCDDEEFF.cnf.xml.sgn", 27));

	/* tampering is detected */
	uint8_t *bad = malloc(file.len);

	assert_non_null(bad);
	memcpy(bad, file.p, file.len);
	bad[file.len - 10] ^= 1;
	assert_int_not_equal(trust_sgn_verify(slice_make(bad, file.len), ctl,
	                                      &o, &content, &why),
	                     0);
	free(bad);

	/* the encrypted full config: only the device's key opens it */
	assert_int_equal(cnf_cache_get(c, "AABBCCDDEEFF", CNF_FILE_ENC, &file),
	                 0);
	assert_null(memmem(file.p, file.len, PW, strlen(PW)));
	buf_init(&plain, 0);
	assert_int_equal(trust_enc_open(file, ctl, &o, kd, &plain, &why), 0);
	assert_non_null(memmem(plain.p, plain.len,
	                       "<authPassword>" PW "</authPassword>",
	                       strlen(PW) + 29));
	assert_non_null(memmem(plain.p, plain.len,
	                       "<deviceSecurityMode>3</deviceSecurityMode>",
	                       42));
	buf_free_secret(&plain);
	buf_init(&plain, 0);
	assert_int_not_equal(trust_enc_open(file, ctl, &o, ks2, &plain, &why),
	                     0);
	buf_free_secret(&plain);

	/* a device without a certificate: the full config, signed */
	assert_int_equal(cnf_cache_get(c, "001122334455", CNF_FILE_SGN, &file),
	                 0);
	assert_int_equal(trust_sgn_verify(file, ctl, &o, &content, &why), 0);
	assert_non_null(memmem(content.p, content.len,
	                       "<fullConfig>true</fullConfig>", 29));
	assert_int_equal(cnf_cache_get(c, "001122334455", CNF_FILE_ENC, &file),
	                 -TL_ENOTFOUND);

	/* nonsecure cluster: the plain body as it is */
	assert_int_equal(store_cluster_mode_set(st, STORE_CLUSTER_NONSECURE),
	                 0);
	assert_int_equal(cnf_cache_get(c, "001122334455", CNF_FILE_XML, &file),
	                 0);
	assert_true(file.len > 5 && !memcmp(file.p, "<?xml", 5));

	/* direct misuse */
	struct buf out;

	buf_init(&out, 0);
	assert_int_equal(cnf_sign_transform(CNF_FILE_ENC, "AABBCCDDEEFF",
	                                    SLICE_LIT("x"), NULL, 0, &out, &ts),
	                 -TL_ESTATE);
	assert_int_equal(
	        cnf_sign_transform(CNF_FILE_ENC, "AABBCCDDEEFF", SLICE_LIT("x"),
	                           (const uint8_t *)"junk", 4, &out, &ts),
	        -TL_EPARSE);
	assert_int_equal(cnf_sign_transform(CNF_FILE_SGN, "AABBCCDDEEFF",
	                                    SLICE_LIT("x"), NULL, 0, &out,
	                                    NULL),
	                 -EINVAL);
	buf_free(&out);

	cnf_cache_free(c);
	store_close(st);
	unlink(path);
	snprintf(p, sizeof(p), "%s-wal", path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", path);
	unlink(p);
	rmdir(dir);
	trust_ctl_free(ctl);
	buf_free(&ctlb);
	pki_key_free(sast);
	pki_key_free(tftp);
	X509_free(s1);
	X509_free(s2);
	X509_free(tf);
	X509_free(dev);
	EVP_PKEY_free(ks1);
	EVP_PKEY_free(ks2);
	EVP_PKEY_free(kt);
	EVP_PKEY_free(kd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_signed_and_encrypted),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);

	xmlCleanupParser();
	return rc;
}
