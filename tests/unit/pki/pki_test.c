/* Certificates, CRLs and the verification helper, with file keys (the
 * token back-end has its own test). */
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "pki/pki_site.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define NOW ((int64_t)1767225600) /* 2026-01-01T00:00:00Z */

struct fixture {
	struct pki_ca *ca;
	X509 *ca_cert;
	struct pki_trust *trust;
	EVP_PKEY *leaf_key;
};

static int make_ca(struct fixture *f, enum pki_alg alg, const char *url)
{
	EVP_PKEY *k = NULL;
	struct pki_key *key = NULL;
	struct pki_issue req = {.profile = PKI_PROFILE_CA,
	                        .cn = "Trustline Test CA",
	                        .org = "Example Site",
	                        .now = NOW};

	if (pki_keygen(&k, alg) || pki_key_from_pkey(&key, k)) {
		return -1;
	}
	EVP_PKEY_free(k);
	if (pki_self_issue(&f->ca_cert, key, &req) ||
	    pki_ca_new(&f->ca, f->ca_cert, key, url)) {
		return -1;
	}
	if (pki_trust_new(&f->trust) ||
	    pki_trust_add_cert(f->trust, f->ca_cert)) {
		return -1;
	}
	return pki_keygen(&f->leaf_key, PKI_ALG_P256);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	*state = f;
	return f ? make_ca(f, PKI_ALG_P256, "http://127.0.0.1:6970/crl.der")
	         : -1;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	pki_ca_free(f->ca);
	X509_free(f->ca_cert);
	pki_trust_free(f->trust);
	EVP_PKEY_free(f->leaf_key);
	free(f);
	return 0;
}

static void test_alg_profile_names(void **state)
{
	static const struct {
		const char *s;
		int ok;
		enum pki_alg alg;
	} algs[] = {
	        {"p256", 0, PKI_ALG_P256},
	        {"ec", 0, PKI_ALG_P256},
	        {"p384", 0, PKI_ALG_P384},
	        {"rsa2048", 0, PKI_ALG_RSA2048},
	        {"rsa3072", 0, PKI_ALG_RSA3072},
	        {"rsa4096", 0, PKI_ALG_RSA4096},
	        {"rsa1024", -TL_EUNKNOWN, 0},
	        {"", -TL_EUNKNOWN, 0},
	        {"P256 ", -TL_EUNKNOWN, 0},
	};
	static const char *const profiles[] = {"ca",  "server", "client",
	                                       "lsc", "mic",    "sast"};
	enum pki_profile p;

	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		enum pki_alg a;

		assert_int_equal(pki_alg_parse(algs[i].s, &a), algs[i].ok);
		if (!algs[i].ok) {
			assert_int_equal(a, algs[i].alg);
		}
	}
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(pki_profile_parse(profiles[i], &p), 0);
		assert_string_equal(pki_profile_name(p), profiles[i]);
	}
	assert_int_equal(pki_profile_parse("root", &p), -TL_EUNKNOWN);
}

static bool san_has(X509 *x, int type, const char *want)
{
	GENERAL_NAMES *gens =
	        X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	bool found = false;

	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		int t;
		ASN1_STRING *v = GENERAL_NAME_get0_value(g, &t);

		if (t != type) {
			continue;
		}
		if (type == GEN_IPADD) {
			ASN1_OCTET_STRING *w = a2i_IPADDRESS(want);

			found |= w && !ASN1_STRING_cmp(w, v);
			ASN1_OCTET_STRING_free(w);
		} else {
			found |=
			        (size_t)ASN1_STRING_length(v) == strlen(want) &&
			        !memcmp(ASN1_STRING_get0_data(v), want,
			                strlen(want));
		}
	}
	GENERAL_NAMES_free(gens);
	return found;
}

struct profile_case {
	enum pki_profile profile;
	enum pki_alg alg;
	uint32_t ku;  /* X509_get_key_usage flags */
	uint32_t xku; /* X509_get_extended_key_usage flags */
	enum pki_eku ok_eku;
	enum pki_eku bad_eku; /* PKI_EKU_ANY: none refused */
};

static const struct profile_case profile_cases[] = {
        {PKI_PROFILE_SERVER, PKI_ALG_RSA2048,
         KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
         XKU_SSL_SERVER | XKU_SSL_CLIENT, PKI_EKU_SERVER, PKI_EKU_ANY},
        {PKI_PROFILE_SERVER, PKI_ALG_P256, KU_DIGITAL_SIGNATURE,
         XKU_SSL_SERVER | XKU_SSL_CLIENT, PKI_EKU_SERVER, PKI_EKU_ANY},
        {PKI_PROFILE_CLIENT, PKI_ALG_P384, KU_DIGITAL_SIGNATURE, XKU_SSL_CLIENT,
         PKI_EKU_CLIENT, PKI_EKU_SERVER},
        {PKI_PROFILE_LSC, PKI_ALG_P256,
         KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
         XKU_SSL_SERVER | XKU_SSL_CLIENT, PKI_EKU_CLIENT, PKI_EKU_ANY},
        {PKI_PROFILE_LSC, PKI_ALG_RSA2048,
         KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT,
         XKU_SSL_SERVER | XKU_SSL_CLIENT, PKI_EKU_CLIENT, PKI_EKU_ANY},
};

static void test_profiles(void **state)
{
	struct fixture *f = *state;
	static const char *const dns[] = {"ccm.example.net", "localhost"};
	static const char *const ip[] = {"127.0.0.1", "::1"};

	for (size_t i = 0; i < sizeof(profile_cases) / sizeof(profile_cases[0]);
	     i++) {
		const struct profile_case *c = &profile_cases[i];
		bool device = c->profile == PKI_PROFILE_LSC;
		EVP_PKEY *k = NULL;
		X509 *x = NULL;
		char subj[256], serial[80];
		struct pki_issue req = {
		        .profile = c->profile,
		        .cn = device ? "SEP001122334455" : "ccm.example.net",
		        .dns = device ? NULL : dns,
		        .n_dns = device ? 0 : 2,
		        .ip = device ? NULL : ip,
		        .n_ip = device ? 0 : 2,
		        .now = NOW,
		};

		assert_int_equal(pki_keygen(&k, c->alg), 0);
		req.pub = k;
		assert_int_equal(pki_ca_issue(f->ca, &req, &x), 0);
		assert_int_equal(X509_verify(x, X509_get0_pubkey(f->ca_cert)),
		                 1);
		assert_int_equal(X509_get_version(x), X509_VERSION_3);
		assert_int_equal(X509_check_ca(x), 0);
		assert_int_equal(X509_get_key_usage(x), c->ku);
		assert_int_equal(X509_get_extended_key_usage(x) &
		                         (XKU_SSL_SERVER | XKU_SSL_CLIENT),
		                 c->xku);
		/* SKI and AKI: the AKI names the CA's SKI */
		assert_non_null(X509_get0_subject_key_id(x));
		assert_int_equal(ASN1_OCTET_STRING_cmp(
		                         X509_get0_authority_key_id(x),
		                         X509_get0_subject_key_id(f->ca_cert)),
		                 0);
		/* the CRL distribution point */
		{
			CRL_DIST_POINTS *cdp = X509_get_ext_d2i(
			        x, NID_crl_distribution_points, NULL, NULL);
			assert_non_null(cdp);
			assert_int_equal(sk_DIST_POINT_num(cdp), 1);
			CRL_DIST_POINTS_free(cdp);
		}
		/* serial: positive, 128 random bits */
		assert_int_equal(pki_serial_hex(x, serial, sizeof(serial)), 0);
		assert_int_equal(strlen(serial), 32);
		assert_int_equal(
		        ASN1_INTEGER_get_int64(&(int64_t){0},
		                               X509_get0_serialNumber(x)) == 1,
		        0); /* too big for 63 bits: really 128 */
		assert_int_equal(pki_name_str(X509_get_subject_name(x), subj,
		                              sizeof(subj)),
		                 0);
		if (device) {
			/* reference §4.1: CN = device name, O from the
			 * issuer, SAN URI = device name, ipsecEndSystem */
			assert_string_equal(
			        subj, "CN=SEP001122334455,O=Example Site");
			assert_true(san_has(x, GEN_URI, "SEP001122334455"));
			assert_true(X509_get_extended_key_usage(x) &
			            XKU_SSL_CLIENT);
			{
				EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(
				        x, NID_ext_key_usage, NULL, NULL);
				bool ipsec = false;

				for (int j = 0; j < sk_ASN1_OBJECT_num(eku);
				     j++) {
					ipsec |= OBJ_obj2nid(
					                 sk_ASN1_OBJECT_value(
					                         eku, j)) ==
					         NID_ipsecEndSystem;
				}
				assert_true(ipsec);
				EXTENDED_KEY_USAGE_free(eku);
			}
		} else {
			assert_string_equal(subj, "CN=ccm.example.net");
			assert_true(san_has(x, GEN_DNS, "ccm.example.net"));
			assert_true(san_has(x, GEN_IPADD, "127.0.0.1"));
			assert_true(san_has(x, GEN_IPADD, "::1"));
		}
		assert_int_equal(
		        pki_cert_check(f->trust, x, NULL, NOW + 60, c->ok_eku),
		        0);
		if (c->bad_eku != PKI_EKU_ANY) {
			assert_int_equal(pki_cert_check(f->trust, x, NULL,
			                                NOW + 60, c->bad_eku),
			                 -TL_EPOLICY);
		}
		/* expired, not yet valid */
		assert_int_equal(pki_cert_check(f->trust, x, NULL,
		                                NOW + 800 * 86400LL, c->ok_eku),
		                 -TL_EEXPIRED);
		assert_int_equal(pki_cert_check(f->trust, x, NULL, NOW - 3600,
		                                c->ok_eku),
		                 -TL_EEXPIRED);
		X509_free(x);
		EVP_PKEY_free(k);
	}
}

/* pki_ca_issue_der writes the same certificate as pki_ca_issue: compare
 * them field by field and extension by extension, for every profile and
 * key type, with and without the caller's SubjectPublicKeyInfo. */
static void compare_der(struct fixture *f, const struct pki_issue *req)
{
	X509 *a = NULL, *b = NULL;
	struct buf der;
	char serial[80], serial2[80];

	buf_init(&der, 0);
	assert_int_equal(pki_ca_issue(f->ca, req, &a), 0);
	assert_int_equal(
	        pki_ca_issue_der(f->ca, req, &der, serial, sizeof(serial)), 0);
	/* strict DER: OpenSSL re-encodes it to the same bytes */
	assert_int_equal(pki_cert_parse(&b, der.p, der.len), 0);
	assert_int_equal(pki_serial_hex(b, serial2, sizeof(serial2)), 0);
	assert_string_equal(serial, serial2);
	assert_int_equal(X509_verify(b, X509_get0_pubkey(f->ca_cert)), 1);
	assert_int_equal(X509_get_version(b), X509_get_version(a));
	assert_int_equal(X509_get_signature_nid(b), X509_get_signature_nid(a));
	{
		unsigned char *da = NULL, *db = NULL;
		int la = i2d_X509_NAME(X509_get_subject_name(a), &da);
		int lb = i2d_X509_NAME(X509_get_subject_name(b), &db);

		assert_int_equal(la, lb);
		assert_memory_equal(da, db, (size_t)la);
		OPENSSL_free(da);
		OPENSSL_free(db);
	}
	assert_int_equal(
	        X509_NAME_cmp(X509_get_issuer_name(a), X509_get_issuer_name(b)),
	        0);
	assert_int_equal(ASN1_TIME_compare(X509_get0_notBefore(a),
	                                   X509_get0_notBefore(b)),
	                 0);
	assert_int_equal(
	        ASN1_TIME_compare(X509_get0_notAfter(a), X509_get0_notAfter(b)),
	        0);
	assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(a), X509_get0_pubkey(b)),
	                 1);
	assert_int_equal(X509_get_ext_count(a), X509_get_ext_count(b));
	for (int i = 0; i < X509_get_ext_count(a); i++) {
		X509_EXTENSION *ea = X509_get_ext(a, i);
		X509_EXTENSION *eb = X509_get_ext(b, i);

		assert_int_equal(OBJ_cmp(X509_EXTENSION_get_object(ea),
		                         X509_EXTENSION_get_object(eb)),
		                 0);
		assert_int_equal(X509_EXTENSION_get_critical(ea),
		                 X509_EXTENSION_get_critical(eb));
		assert_int_equal(
		        ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(ea),
		                              X509_EXTENSION_get_data(eb)),
		        0);
	}
	/* (the test CA itself is valid 2026..2036) */
	assert_int_equal(
	        pki_cert_check(f->trust, b, NULL, req->now + 60, PKI_EKU_ANY),
	        req->now < NOW + 3000 * 86400LL ? 0 : -TL_EEXPIRED);
	X509_free(a);
	X509_free(b);
	buf_free(&der);
}

static void test_issue_der_matches(void **state)
{
	struct fixture *f = *state;
	static const char *const dns[] = {"ccm.example.net", "localhost"};
	static const char *const ip[] = {"127.0.0.1", "::1"};
	static const struct {
		enum pki_profile p;
		enum pki_alg alg;
		bool names;
	} cases[] = {
	        {PKI_PROFILE_SERVER, PKI_ALG_RSA2048, true},
	        {PKI_PROFILE_SERVER, PKI_ALG_P256, true},
	        {PKI_PROFILE_CLIENT, PKI_ALG_P384, false},
	        {PKI_PROFILE_LSC, PKI_ALG_P256, false},
	        {PKI_PROFILE_LSC, PKI_ALG_RSA2048, false},
	        {PKI_PROFILE_MIC, PKI_ALG_P384, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EVP_PKEY *k = NULL;
		unsigned char *spki = NULL;
		int spki_len;
		struct pki_issue req = {
		        .profile = cases[i].p,
		        .cn = cases[i].names ? "ccm.example.net"
		                             : "SEP0011223344AA",
		        .org = cases[i].names ? "Example" : NULL,
		        .ou = cases[i].names ? "CCM" : NULL,
		        .dns = cases[i].names ? dns : NULL,
		        .n_dns = cases[i].names ? 2 : 0,
		        .ip = cases[i].names ? ip : NULL,
		        .n_ip = cases[i].names ? 2 : 0,
		        .days = 100,
		        .now = NOW,
		};

		assert_int_equal(pki_keygen(&k, cases[i].alg), 0);
		req.pub = k;
		compare_der(f, &req);
		spki_len = i2d_PUBKEY(k, &spki);
		assert_true(spki_len > 0);
		req.spki = spki;
		req.spki_len = (size_t)spki_len;
		compare_der(f, &req);
		/* far future: GeneralizedTime after 2049 */
		req.now = 2556144000LL; /* 2051-01-01 */
		compare_der(f, &req);
		/* non-ASCII names take the X509 path: same result */
		req.now = NOW;
		req.cn = "S\xc3\xa9phone";
		compare_der(f, &req);
		OPENSSL_free(spki);
		EVP_PKEY_free(k);
	}
}

/* must reject: what pki_ca_issue refuses, the DER path refuses too; a
 * foreign or malformed SPKI is never copied */
static void test_issue_der_rejects(void **state)
{
	struct fixture *f = *state;
	static const char *const bad_ip[] = {"1.2.3"};
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	struct buf der;
	uint8_t junk[91];
	struct {
		struct pki_issue req;
		int err;
	} cases[] = {
	        {{.profile = PKI_PROFILE_LSC, .cn = "SEP1", .pub = weak},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_CA, .cn = "x", .pub = f->leaf_key},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_SAST, .cn = "x", .pub = f->leaf_key},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_SERVER,
	          .cn = "h",
	          .ip = bad_ip,
	          .n_ip = 1,
	          .pub = f->leaf_key},
	         -TL_EPARSE},
	        {{.profile = PKI_PROFILE_SERVER,
	          .cn = "h",
	          .days = 40000,
	          .pub = f->leaf_key},
	         -TL_ETOOBIG},
	        {{.profile = PKI_PROFILE_SERVER, .cn = "", .pub = f->leaf_key},
	         -TL_EPARSE},
	        {{.profile = PKI_PROFILE_SERVER, .cn = "h"}, -EINVAL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&der, 0);
		assert_int_equal(
		        pki_ca_issue_der(f->ca, &cases[i].req, &der, NULL, 0),
		        cases[i].err);
		assert_int_equal(der.len, 0);
		buf_free(&der);
	}
	/* an SPKI that is not the P-256 template is not used: the
	 * certificate carries pub */
	memset(junk, 0x41, sizeof(junk));
	{
		struct pki_issue req = {.profile = PKI_PROFILE_LSC,
		                        .cn = "SEP0011223344BB",
		                        .pub = f->leaf_key,
		                        .spki = junk,
		                        .spki_len = sizeof(junk)};
		X509 *x = NULL;

		buf_init(&der, 0);
		assert_int_equal(pki_ca_issue_der(f->ca, &req, &der, NULL, 0),
		                 0);
		assert_int_equal(pki_cert_parse(&x, der.p, der.len), 0);
		assert_int_equal(EVP_PKEY_eq(X509_get0_pubkey(x), f->leaf_key),
		                 1);
		X509_free(x);
		buf_free(&der);
	}
	EVP_PKEY_free(weak);
}

static void test_serials_unique(void **state)
{
	struct fixture *f = *state;
	char seen[64][80];
	struct pki_issue req = {.profile = PKI_PROFILE_LSC,
	                        .cn = "SEPAABBCCDDEEFF",
	                        .pub = f->leaf_key};

	for (size_t i = 0; i < 64; i++) {
		X509 *x = NULL;

		assert_int_equal(pki_ca_issue(f->ca, &req, &x), 0);
		assert_int_equal(pki_serial_hex(x, seen[i], sizeof(seen[i])),
		                 0);
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(seen[i], seen[j]);
		}
		X509_free(x);
	}
}

/* must reject: requests the CA refuses to sign */
static void test_issue_rejects(void **state)
{
	struct fixture *f = *state;
	static const char *const bad_ip[] = {"127.0.0.300"};
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	char longcn[80];
	X509 *x = (X509 *)1;
	struct {
		struct pki_issue req;
		int err;
	} cases[] = {
	        {{.profile = PKI_PROFILE_LSC, .cn = "SEP1", .pub = weak},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_CA, .cn = "x", .pub = f->leaf_key},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_SAST, .cn = "x", .pub = f->leaf_key},
	         -TL_EPOLICY},
	        {{.profile = PKI_PROFILE_SERVER, .cn = "", .pub = f->leaf_key},
	         -TL_EPARSE},
	        {{.profile = PKI_PROFILE_SERVER,
	          .cn = longcn,
	          .pub = f->leaf_key},
	         -TL_EPARSE},
	        {{.profile = PKI_PROFILE_SERVER,
	          .cn = "h",
	          .ip = bad_ip,
	          .n_ip = 1,
	          .pub = f->leaf_key},
	         -TL_EPARSE},
	        {{.profile = PKI_PROFILE_SERVER,
	          .cn = "h",
	          .days = 40000,
	          .pub = f->leaf_key},
	         -TL_ETOOBIG},
	        {{.profile = PKI_PROFILE_SERVER, .cn = "h", .pub = NULL},
	         -EINVAL},
	};

	memset(longcn, 'a', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	assert_non_null(weak);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(pki_ca_issue(f->ca, &cases[i].req, &x),
		                 cases[i].err);
		assert_null(x);
		x = (X509 *)1;
	}
	EVP_PKEY_free(weak);
}

static void test_crl_revocation(void **state)
{
	struct fixture *f = *state;
	struct pki_issue req = {.profile = PKI_PROFILE_LSC,
	                        .cn = "SEP0000000000AA",
	                        .pub = f->leaf_key,
	                        .now = NOW};
	X509 *a = NULL, *b = NULL;
	X509_CRL *crl = NULL;
	struct pki_trust *t = NULL;
	char sa[80];

	assert_int_equal(pki_ca_issue(f->ca, &req, &a), 0);
	assert_int_equal(pki_ca_issue(f->ca, &req, &b), 0);
	assert_int_equal(pki_serial_hex(a, sa, sizeof(sa)), 0);
	{
		struct pki_revoked rev[] = {{sa, NOW + 10, 1},
		                            {"0abc", NOW + 20, 0}};

		assert_int_equal(
		        pki_ca_crl(f->ca, rev, 2, 7, NOW + 30, 30, &crl), 0);
	}
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(f->ca_cert)), 1);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	assert_int_equal(pki_trust_new(&t), 0);
	assert_int_equal(pki_trust_add_cert(t, f->ca_cert), 0);
	assert_int_equal(pki_trust_add_crl(t, crl), 0);
	assert_int_equal(pki_cert_check(t, a, NULL, NOW + 60, PKI_EKU_CLIENT),
	                 -TL_EREVOKED);
	assert_int_equal(pki_cert_check(t, b, NULL, NOW + 60, PKI_EKU_CLIENT),
	                 0);
	/* revoked wins over expired */
	assert_int_equal(
	        pki_cert_check(t, a, NULL, NOW + 400 * 86400LL, PKI_EKU_CLIENT),
	        -TL_EREVOKED);
	/* an outdated CRL is no proof of anything */
	assert_int_equal(
	        pki_cert_check(t, b, NULL, NOW + 40 * 86400LL, PKI_EKU_CLIENT),
	        -TL_ETRUST);
	pki_trust_free(t);
	/* no CRL at all when the trust has CRLs for nobody: refused */
	X509_free(a);
	X509_free(b);
	X509_CRL_free(crl);
}

/* must reject: bad revocation entries */
static void test_crl_rejects(void **state)
{
	struct fixture *f = *state;
	static const struct {
		const char *serial;
		int reason;
		int err;
	} cases[] = {
	        {"", 0, -TL_EPARSE},
	        {"xyz", 0, -TL_EPARSE},
	        {"12 34", 0, -TL_EPARSE},
	        {"0123456789012345678901234567890123456789ab", 0, -TL_EPARSE},
	        {"01", 7, -TL_EPARSE},
	        {"01", 11, -TL_EPARSE},
	        {"01", -1, -TL_EPARSE},
	};
	X509_CRL *crl = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pki_revoked r = {cases[i].serial, NOW, cases[i].reason};

		assert_int_equal(pki_ca_crl(f->ca, &r, 1, 1, NOW, 30, &crl),
		                 cases[i].err);
		assert_null(crl);
	}
	assert_int_equal(pki_ca_crl(f->ca, NULL, 0, 1, NOW, 0, &crl),
	                 -TL_ETOOBIG);
}

static void test_untrusted(void **state)
{
	struct fixture *f = *state;
	struct fixture other = {0};
	struct pki_issue req = {
	        .profile = PKI_PROFILE_SERVER, .cn = "evil", .now = NOW};
	X509 *x = NULL;

	assert_int_equal(make_ca(&other, PKI_ALG_RSA2048, NULL), 0);
	req.pub = other.leaf_key;
	assert_int_equal(pki_ca_issue(other.ca, &req, &x), 0);
	/* same subject DN as our CA, different key: still refused */
	assert_int_equal(
	        pki_cert_check(f->trust, x, NULL, NOW + 60, PKI_EKU_SERVER),
	        -TL_ETRUST);
	assert_int_equal(
	        pki_cert_check(other.trust, x, NULL, NOW + 60, PKI_EKU_SERVER),
	        0);
	/* a CA certificate is not a server certificate */
	assert_int_equal(pki_cert_check(f->trust, f->ca_cert, NULL, NOW + 60,
	                                PKI_EKU_SERVER),
	                 -TL_EPOLICY);
	X509_free(x);
	pki_ca_free(other.ca);
	X509_free(other.ca_cert);
	pki_trust_free(other.trust);
	EVP_PKEY_free(other.leaf_key);
}

/* must reject: DER certificates from the network */
static void test_cert_parse_rejects(void **state)
{
	struct fixture *f = *state;
	unsigned char *der = NULL;
	int len = i2d_X509(f->ca_cert, &der);
	uint8_t *buf = malloc((size_t)len + 8);
	X509 *x = NULL;

	assert_true(len > 100);
	assert_int_equal(pki_cert_parse(&x, der, (size_t)len), 0);
	X509_free(x);
	/* truncated */
	assert_int_equal(pki_cert_parse(&x, der, (size_t)len - 1), -TL_EPARSE);
	assert_int_equal(pki_cert_parse(&x, der, 0), -TL_ETRUNC);
	/* trailing bytes */
	memcpy(buf, der, (size_t)len);
	buf[len] = 0;
	assert_int_equal(pki_cert_parse(&x, buf, (size_t)len + 1), -TL_ETRAIL);
	/* overlong: outer length claims one more byte than there is */
	memcpy(buf, der, (size_t)len);
	buf[3]++;
	assert_int_equal(pki_cert_parse(&x, buf, (size_t)len), -TL_EPARSE);
	/* integer overflow in a length: 0x84 ff ff ff ff */
	{
		static const uint8_t huge[] = {0x30, 0x84, 0xff, 0xff,
		                               0xff, 0xff, 0x30, 0x00};
		assert_int_equal(pki_cert_parse(&x, huge, sizeof(huge)),
		                 -TL_EPARSE);
	}
	/* BER, not DER: non-minimal length of the outer SEQUENCE */
	{
		uint8_t *ber = malloc((size_t)len + 1);
		assert_int_equal(der[1], 0x82);
		ber[0] = 0x30;
		ber[1] = 0x83;
		ber[2] = 0x00;
		memcpy(ber + 3, der + 2, (size_t)len - 2);
		assert_int_equal(pki_cert_parse(&x, ber, (size_t)len + 1),
		                 -TL_EPARSE);
		free(ber);
	}
	/* BER inside the TBSCertificate: the serial's length in long form
	 * (02 81 nn instead of 02 nn); both enclosing lengths grow by one */
	{
		uint8_t *ber = malloc((size_t)len + 1);
		size_t outer = ((size_t)der[2] << 8) | der[3];
		size_t tbs = ((size_t)der[6] << 8) | der[7];
		X509 *y = NULL;

		assert_int_equal(der[4], 0x30);
		assert_int_equal(der[5], 0x82);
		assert_int_equal(der[13], 0x02); /* after a0 03 02 01 02 */
		memcpy(ber, der, 14);
		ber[2] = (uint8_t)((outer + 1) >> 8);
		ber[3] = (uint8_t)(outer + 1);
		ber[6] = (uint8_t)((tbs + 1) >> 8);
		ber[7] = (uint8_t)(tbs + 1);
		ber[14] = 0x81;
		memcpy(ber + 15, der + 14, (size_t)len - 14);
		assert_int_equal(pki_cert_parse(&y, ber, (size_t)len + 1),
		                 -TL_EPARSE);
		assert_null(y);
		free(ber);
	}
	/* a NUL byte inside: the signature bits are changed, parsing
	 * still works, verification does not */
	memcpy(buf, der, (size_t)len);
	buf[len - 5] = 0;
	assert_int_equal(pki_cert_parse(&x, buf, (size_t)len), 0);
	assert_int_equal(
	        pki_cert_check(f->trust, x, NULL, NOW + 60, PKI_EKU_ANY),
	        -TL_ETRUST);
	X509_free(x);
	assert_int_equal(pki_cert_parse(&x, NULL, 10), -TL_ETRUNC);
	free(buf);
	OPENSSL_free(der);
}

static int make_csr(X509_REQ **out, EVP_PKEY *k)
{
	X509_REQ *r = X509_REQ_new();

	X509_NAME_add_entry_by_txt(
	        X509_REQ_get_subject_name(r), "CN", MBSTRING_ASC,
	        (const unsigned char *)"SEP112233445566", -1, -1, 0);
	X509_REQ_set_pubkey(r, k);
	if (X509_REQ_sign(r, k, EVP_sha256()) <= 0) {
		X509_REQ_free(r);
		return -1;
	}
	*out = r;
	return 0;
}

/* must reject: CSRs */
static void test_csr(void **state)
{
	struct fixture *f = *state;
	X509_REQ *r = NULL, *got = NULL;
	EVP_PKEY *weak = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	unsigned char *der = NULL;
	uint8_t *buf;
	int len;
	BIO *b;
	char *pem;
	long pemlen;

	assert_int_equal(make_csr(&r, f->leaf_key), 0);
	len = i2d_X509_REQ(r, &der);
	buf = malloc((size_t)len + 1);
	assert_int_equal(pki_csr_parse(&got, der, (size_t)len), 0);
	X509_REQ_free(got);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509_REQ(b, r);
	pemlen = BIO_get_mem_data(b, &pem);
	assert_int_equal(pki_csr_parse(&got, (uint8_t *)pem, (size_t)pemlen),
	                 0);
	X509_REQ_free(got);
	BIO_free(b);
	/* trailing, truncated, bad signature */
	memcpy(buf, der, (size_t)len);
	buf[len] = 0;
	assert_int_equal(pki_csr_parse(&got, buf, (size_t)len + 1), -TL_ETRAIL);
	assert_int_equal(pki_csr_parse(&got, der, (size_t)len - 3), -TL_EPARSE);
	buf[len - 2] ^= 0x01;
	assert_int_equal(pki_csr_parse(&got, buf, (size_t)len), -TL_ESIG);
	assert_int_equal(pki_csr_parse(&got, (const uint8_t *)"-----junk", 9),
	                 -TL_EPARSE);
	assert_null(got);
	/* PEM: white space may follow the block, nothing else */
	{
		static const char *const tails[] = {"x", "\n\0", "-----",
		                                    "\n-----BEGIN"};
		BIO *b2 = BIO_new(BIO_s_mem());
		size_t n;
		char *p2;

		PEM_write_bio_X509_REQ(b2, r);
		pemlen = BIO_get_mem_data(b2, &pem);
		n = (size_t)pemlen;
		p2 = malloc(2 * n + 16);

		memcpy(p2, pem, n);
		memcpy(p2 + n, "\r\n \t\n", 5);
		assert_int_equal(pki_csr_parse(&got, (uint8_t *)p2, n + 5), 0);
		X509_REQ_free(got);
		for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
			size_t tl = strlen(tails[i]) + (i == 1);

			memcpy(p2 + n, tails[i], tl);
			assert_int_equal(
			        pki_csr_parse(&got, (uint8_t *)p2, n + tl),
			        -TL_ETRAIL);
		}
		/* a second request after the first */
		memcpy(p2 + n, pem, n);
		assert_int_equal(pki_csr_parse(&got, (uint8_t *)p2, 2 * n),
		                 -TL_ETRAIL);
		/* NUL inside the base64 */
		memcpy(p2, pem, n);
		p2[40] = 0;
		assert_int_equal(pki_csr_parse(&got, (uint8_t *)p2, n),
		                 -TL_EPARSE);
		assert_null(got);
		free(p2);
		BIO_free(b2);
	}
	/* overlong input, integer overflow in the outer length */
	{
		static const uint8_t huge[] = {0x30, 0x84, 0xff, 0xff,
		                               0xff, 0xff, 0x30, 0x00};
		uint8_t *big = calloc(1, 65537);

		assert_int_equal(pki_csr_parse(&got, big, 65537), -TL_ETOOBIG);
		assert_int_equal(pki_csr_parse(&got, huge, sizeof(huge)),
		                 -TL_EPARSE);
		assert_int_equal(pki_csr_parse(&got, huge, 0), -TL_ETRUNC);
		assert_null(got);
		free(big);
	}
	X509_REQ_free(r);
	OPENSSL_free(der);
	/* a weak key is refused even when well signed */
	assert_int_equal(make_csr(&r, weak), 0);
	der = NULL;
	len = i2d_X509_REQ(r, &der);
	assert_int_equal(pki_csr_parse(&got, der, (size_t)len), -TL_EPOLICY);
	X509_REQ_free(r);
	OPENSSL_free(der);
	EVP_PKEY_free(weak);
	free(buf);
}

static void test_files(void **state)
{
	struct fixture *f = *state;
	char dir[] = "/tmp/tl-pki-XXXXXX";
	char path[64], path2[64];
	struct stat sb;
	X509 *x = NULL;
	X509_CRL *crl = NULL, *crl2 = NULL;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/k.key", dir);
	assert_int_equal(pki_pkey_write(path, f->leaf_key), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	unlink(path);
	snprintf(path, sizeof(path), "%s/c.crt", dir);
	assert_int_equal(pki_cert_write(path, f->ca_cert), 0);
	assert_int_equal(pki_cert_read(&x, path), 0);
	assert_int_equal(X509_cmp(x, f->ca_cert), 0);
	X509_free(x);
	unlink(path);
	snprintf(path, sizeof(path), "%s/crl.pem", dir);
	snprintf(path2, sizeof(path2), "%s/crl.der", dir);
	assert_int_equal(pki_ca_crl(f->ca, NULL, 0, 1, 0, 7, &crl), 0);
	assert_int_equal(pki_crl_write(path, path2, crl), 0);
	assert_int_equal(pki_crl_read(&crl2, path), 0);
	assert_int_equal(X509_CRL_cmp(crl, crl2), 0);
	unlink(path);
	unlink(path2);
	assert_int_equal(pki_cert_read(&x, path), -ENOENT);
	/* a directory that does not exist: nothing is left behind */
	assert_int_equal(pki_file_write("/nonexistent-dir/x", "a", 1, 0644),
	                 -ENOENT);
	X509_CRL_free(crl);
	X509_CRL_free(crl2);
	assert_int_equal(rmdir(dir), 0);
}

/* must reject: token labels that would escape tokens/, CRL hosts that
 * would break the URL */
static void test_site_names(void **state)
{
	static const struct {
		const char *label;
		int err;
		const char *path;
	} labels[] = {
	        {"SAST1", 0, "S/tokens/sast1.pin"},
	        {"CA", 0, "S/tokens/ca.pin"},
	        {"my-token_2", 0, "S/tokens/my-token_2.pin"},
	        {"", -TL_ETOOBIG, NULL},
	        {"../x", -TL_EPARSE, NULL},
	        {"a/b", -TL_EPARSE, NULL},
	        {"a b", -TL_EPARSE, NULL},
	        {".hidden", -TL_EPARSE, NULL},
	        {"0123456789012345678901234567890123", -TL_ETOOBIG, NULL},
	};
	static const struct {
		const char *host;
		int err;
		const char *url;
	} hosts[] = {
	        {"127.0.0.1", 0, "http://127.0.0.1:6970/crl.der"},
	        {"cm.example.net", 0, "http://cm.example.net:6970/crl.der"},
	        {"::1", 0, "http://[::1]:6970/crl.der"},
	        {"", -TL_EPARSE, NULL},
	        {"a/b", -TL_EPARSE, NULL},
	        {"user@host", -TL_EPARSE, NULL},
	        {"[::1]", -TL_EPARSE, NULL},
	        {"h h", -TL_EPARSE, NULL},
	};
	char out[128];

	for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		assert_int_equal(pki_site_pin_path("S", labels[i].label, false,
		                                   out, sizeof(out)),
		                 labels[i].err);
		if (labels[i].path) {
			assert_string_equal(out, labels[i].path);
		}
	}
	assert_int_equal(
	        pki_site_pin_path("S", "SAST1", true, out, sizeof(out)), 0);
	assert_string_equal(out, "S/tokens/sast1.so.pin");
	assert_int_equal(pki_site_pin_path("S", "SAST1", false, out, 8),
	                 -TL_ETOOBIG);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		assert_int_equal(
		        pki_site_crl_url(out, sizeof(out), hosts[i].host, 6970),
		        hosts[i].err);
		if (hosts[i].url) {
			assert_string_equal(out, hosts[i].url);
		}
	}
}

/* Keys from the same thread (which keeps a generation context per curve)
 * and from another are all different, on the curve asked for, and pass
 * the policy. */
static void *keygen_thread(void *arg)
{
	EVP_PKEY **k = arg;

	return pki_keygen(k, PKI_ALG_P256) == 0 ? k : NULL;
}

static void test_keygen_fresh(void **state)
{
	static const enum pki_alg algs[] = {PKI_ALG_P256, PKI_ALG_P384};
	static const char *const groups[] = {"prime256v1", "secp384r1"};
	(void)state;

	for (size_t a = 0; a < 2; a++) {
		EVP_PKEY *k[4] = {0};
		for (size_t i = 0; i < 3; i++) {
			char g[32];
			assert_int_equal(pki_keygen(&k[i], algs[a]), 0);
			assert_int_equal(EVP_PKEY_get_utf8_string_param(
			                         k[i], "group", g, sizeof(g),
			                         NULL),
			                 1);
			assert_string_equal(g, groups[a]);
			assert_int_equal(pki_key_policy(k[i]), 0);
			for (size_t j = 0; j < i; j++) {
				assert_int_not_equal(EVP_PKEY_eq(k[i], k[j]), 1);
			}
		}
		if (a == 0) {
			pthread_t th;
			void *ret = NULL;
			assert_int_equal(
			        pthread_create(&th, NULL, keygen_thread, &k[3]), 0);
			assert_int_equal(pthread_join(th, &ret), 0);
			assert_non_null(ret);
			for (size_t j = 0; j < 3; j++) {
				assert_int_not_equal(EVP_PKEY_eq(k[3], k[j]), 1);
			}
		}
		for (size_t i = 0; i < 4; i++) {
			EVP_PKEY_free(k[i]);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_alg_profile_names),
	        cmocka_unit_test(test_keygen_fresh),
	        cmocka_unit_test(test_profiles),
	        cmocka_unit_test(test_issue_der_matches),
	        cmocka_unit_test(test_issue_der_rejects),
	        cmocka_unit_test(test_serials_unique),
	        cmocka_unit_test(test_issue_rejects),
	        cmocka_unit_test(test_crl_revocation),
	        cmocka_unit_test(test_crl_rejects),
	        cmocka_unit_test(test_untrusted),
	        cmocka_unit_test(test_cert_parse_rejects),
	        cmocka_unit_test(test_csr),
	        cmocka_unit_test(test_files),
	        cmocka_unit_test(test_site_names),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
