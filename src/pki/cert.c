/* Certificate profiles and issuance (RFC 5280 §4). Extensions are built
 * as ASN.1 structures, not parsed from configuration strings: issuing an
 * LSC is on the enrolment hot path. */
#include "pki/pki_int.h"
#include "pki/pki_key_int.h"

#include <errno.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

/* Backdating absorbs phones whose clocks run a little behind ours. */
#define PKI_BACKDATE 300

struct profile_name {
	const char *name;
	enum pki_profile p;
	uint32_t days;
};

static const struct profile_name profiles[] = {
        {"ca", PKI_PROFILE_CA, 3650},
        {"server", PKI_PROFILE_SERVER, 730},
        {"client", PKI_PROFILE_CLIENT, 730},
        {"lsc", PKI_PROFILE_LSC, 365},
        {"mic", PKI_PROFILE_MIC, 3650},
        {"sast", PKI_PROFILE_SAST, 3650},
};

int pki_profile_parse(const char *s, enum pki_profile *out)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (!strcmp(s, profiles[i].name)) {
			*out = profiles[i].p;
			return 0;
		}
	}
	return -TL_EUNKNOWN;
}

const char *pki_profile_name(enum pki_profile p)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (profiles[i].p == p) {
			return profiles[i].name;
		}
	}
	return "?";
}

uint32_t pki_profile_days(enum pki_profile p)
{
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (profiles[i].p == p) {
			return profiles[i].days;
		}
	}
	return 365;
}

/* RFC 5280 §4.1.2.2: positive, at most 20 octets; CA/B Forum BR §7.1
 * asks for at least 64 bits of randomness: we use 128. */
static int set_serial(X509 *x)
{
	uint8_t rnd[16];
	BIGNUM *bn;
	ASN1_INTEGER *ai = NULL;
	int err = -TL_ECRYPTO;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return -TL_ECRYPTO;
	}
	rnd[0] |= 0x01; /* never zero, and always 16 octets of value */
	bn = BN_bin2bn(rnd, sizeof(rnd), NULL);
	if (bn && (ai = BN_to_ASN1_INTEGER(bn, NULL)) &&
	    X509_set_serialNumber(x, ai) == 1) {
		err = 0;
	}
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return err;
}

static int set_validity(X509 *x, const struct pki_issue *req)
{
	int64_t now = req->now ? req->now : (int64_t)time(NULL);
	uint32_t days = req->days ? req->days : pki_profile_days(req->profile);

	if (days > 36500) {
		return -TL_ETOOBIG;
	}
	if (!ASN1_TIME_adj(X509_getm_notBefore(x), (time_t)now, 0,
	                   -PKI_BACKDATE) ||
	    !ASN1_TIME_adj(X509_getm_notAfter(x), (time_t)now, (int)days, 0)) {
		return -TL_ECRYPTO;
	}
	return 0;
}

static int add_ext(X509 *x, int nid, void *value, int crit)
{
	return X509_add1_ext_i2d(x, nid, value, crit, X509V3_ADD_APPEND) == 1
	               ? 0
	               : -TL_ECRYPTO;
}

static int add_bc(X509 *x, bool ca)
{
	BASIC_CONSTRAINTS bc = {.ca = ca ? 0xff : 0, .pathlen = NULL};

	/* RFC 5280 §4.2.1.9: critical in CA certificates; reference §4.1
	 * makes it critical in LSCs too, and we do so everywhere. */
	return add_ext(x, NID_basic_constraints, &bc, 1);
}

/* RFC 5280 §4.2.1.3 bit numbers */
enum {
	KUB_DIGITAL_SIGNATURE = 0,
	KUB_NON_REPUDIATION = 1,
	KUB_KEY_ENCIPHERMENT = 2,
	KUB_KEY_CERT_SIGN = 5,
	KUB_CRL_SIGN = 6,
};

static int add_ku(X509 *x, const int *bits, size_t n)
{
	ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
	int err = -TL_ECRYPTO;

	if (!ku) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (!ASN1_BIT_STRING_set_bit(ku, bits[i], 1)) {
			goto out;
		}
	}
	err = add_ext(x, NID_key_usage, ku, 1);
out:
	ASN1_BIT_STRING_free(ku);
	return err;
}

static int add_eku(X509 *x, const int *nids, size_t n)
{
	EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
	int err = -TL_ECRYPTO;

	if (!eku) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		/* OBJ_nid2obj returns static objects: nothing to free */
		if (!sk_ASN1_OBJECT_push(eku, OBJ_nid2obj(nids[i]))) {
			goto out;
		}
	}
	err = add_ext(x, NID_ext_key_usage, eku, 0);
out:
	sk_ASN1_OBJECT_free(eku);
	return err;
}

static int push_gen(GENERAL_NAMES *gens, int type, const char *s)
{
	GENERAL_NAME *g = GENERAL_NAME_new();
	ASN1_STRING *v = NULL;

	if (!g) {
		return -ENOMEM;
	}
	if (type == GEN_IPADD) {
		v = a2i_IPADDRESS(s);
		if (!v) {
			GENERAL_NAME_free(g);
			return -TL_EPARSE;
		}
	} else {
		v = ASN1_IA5STRING_new();
		if (!v || !ASN1_STRING_set(v, s, (int)strlen(s))) {
			ASN1_STRING_free(v);
			GENERAL_NAME_free(g);
			return -ENOMEM;
		}
	}
	GENERAL_NAME_set0_value(g, type, v);
	if (!sk_GENERAL_NAME_push(gens, g)) {
		GENERAL_NAME_free(g);
		return -ENOMEM;
	}
	return 0;
}

static int add_san(X509 *x, const struct pki_issue *req, const char *uri)
{
	GENERAL_NAMES *gens;
	int err = 0;

	if (!req->n_dns && !req->n_ip && !uri) {
		return 0;
	}
	gens = sk_GENERAL_NAME_new_null();
	if (!gens) {
		return -ENOMEM;
	}
	for (size_t i = 0; !err && i < req->n_dns; i++) {
		err = push_gen(gens, GEN_DNS, req->dns[i]);
	}
	for (size_t i = 0; !err && i < req->n_ip; i++) {
		err = push_gen(gens, GEN_IPADD, req->ip[i]);
	}
	if (!err && uri) {
		err = push_gen(gens, GEN_URI, uri);
	}
	if (!err) {
		err = add_ext(x, NID_subject_alt_name, gens, 0);
	}
	GENERAL_NAMES_free(gens);
	return err;
}

/* RFC 5280 §4.2.1.2 method (1): SHA-1 of the subjectPublicKey bits. */
static ASN1_OCTET_STRING *key_id(X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();

	if (!ski || X509_pubkey_digest(x, EVP_sha1(), md, &len) != 1 ||
	    ASN1_OCTET_STRING_set(ski, md, (int)len) != 1) {
		ASN1_OCTET_STRING_free(ski);
		return NULL;
	}
	return ski;
}

static int add_ski(X509 *x)
{
	ASN1_OCTET_STRING *ski = key_id(x);
	int err;

	if (!ski) {
		return -TL_ECRYPTO;
	}
	err = add_ext(x, NID_subject_key_identifier, ski, 0);
	ASN1_OCTET_STRING_free(ski);
	return err;
}

static X509_EXTENSION *make_aki(const ASN1_OCTET_STRING *keyid)
{
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	X509_EXTENSION *ext = NULL;

	if (!aki) {
		return NULL;
	}
	aki->keyid = ASN1_OCTET_STRING_dup(keyid);
	if (aki->keyid) {
		ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, aki);
	}
	AUTHORITY_KEYID_free(aki);
	return ext;
}

static X509_EXTENSION *make_cdp(const char *url)
{
	CRL_DIST_POINTS *cdp = sk_DIST_POINT_new_null();
	DIST_POINT *dp = DIST_POINT_new();
	X509_EXTENSION *ext = NULL;

	if (!cdp || !dp || !sk_DIST_POINT_push(cdp, dp)) {
		DIST_POINT_free(dp);
		goto out;
	}
	dp->distpoint = DIST_POINT_NAME_new();
	if (!dp->distpoint) {
		goto out;
	}
	dp->distpoint->type = 0; /* fullName */
	dp->distpoint->name.fullname = sk_GENERAL_NAME_new_null();
	if (!dp->distpoint->name.fullname ||
	    push_gen(dp->distpoint->name.fullname, GEN_URI, url)) {
		goto out;
	}
	ext = X509V3_EXT_i2d(NID_crl_distribution_points, 0, cdp);
out:
	CRL_DIST_POINTS_free(cdp);
	return ext;
}

static int set_subject(X509 *x, const struct pki_issue *req,
                       const X509_NAME *inherit)
{
	X509_NAME *n = X509_get_subject_name(x);

	if (!req->cn || !*req->cn || strlen(req->cn) > 64) {
		return -TL_EPARSE;
	}
	/* reference §4.1: an LSC names the device in CN and copies O, OU,
	 * L, ST and C from its issuer. */
	if (inherit) {
		for (int i = 0; i < X509_NAME_entry_count(inherit); i++) {
			if (!X509_NAME_add_entry(
			            n, X509_NAME_get_entry(inherit, i), -1,
			            0)) {
				return -TL_ECRYPTO;
			}
		}
	} else {
		if (req->org && *req->org &&
		    !X509_NAME_add_entry_by_NID(
		            n, NID_organizationName, MBSTRING_UTF8,
		            (const unsigned char *)req->org, -1, -1, 0)) {
			return -TL_EPARSE;
		}
		if (req->ou && *req->ou &&
		    !X509_NAME_add_entry_by_NID(
		            n, NID_organizationalUnitName, MBSTRING_UTF8,
		            (const unsigned char *)req->ou, -1, -1, 0)) {
			return -TL_EPARSE;
		}
	}
	if (!X509_NAME_add_entry_by_NID(n, NID_commonName, MBSTRING_UTF8,
	                                (const unsigned char *)req->cn, -1, -1,
	                                0)) {
		return -TL_EPARSE;
	}
	return 0;
}

static bool is_rsa(EVP_PKEY *k)
{
	return EVP_PKEY_get_base_id(k) == EVP_PKEY_RSA;
}

/* The extensions a profile fixes (basicConstraints, keyUsage,
 * extendedKeyUsage), in this order; rsa: the subject key is RSA. */
static int add_const_exts(X509 *x, enum pki_profile profile, bool rsa)
{
	static const int ku_ca[] = {KUB_KEY_CERT_SIGN, KUB_CRL_SIGN};
	static const int ku_rsa[] = {KUB_DIGITAL_SIGNATURE,
	                             KUB_KEY_ENCIPHERMENT};
	static const int ku_ec[] = {KUB_DIGITAL_SIGNATURE};
	static const int ku_sast[] = {KUB_DIGITAL_SIGNATURE,
	                              KUB_NON_REPUDIATION};
	static const int eku_server[] = {NID_server_auth, NID_client_auth};
	static const int eku_client[] = {NID_client_auth};
	static const int eku_lsc[] = {NID_server_auth, NID_client_auth,
	                              NID_ipsecEndSystem};
	/* RFC 5480 §3: keyEncipherment is for RSA keys; reference §4.1:
	 * Cisco's LSC carries it whatever the key, and so do we. */
	const int *ku = rsa ? ku_rsa : ku_ec;
	size_t nku = rsa ? 2 : 1;
	int err;

	switch (profile) {
	case PKI_PROFILE_CA:
		err = add_bc(x, true);
		if (!err) {
			err = add_ku(x, ku_ca, 2);
		}
		return err;
	case PKI_PROFILE_SAST:
		err = add_bc(x, false);
		if (!err) {
			err = add_ku(x, ku_sast, 2);
		}
		return err;
	case PKI_PROFILE_SERVER:
		err = add_bc(x, false);
		if (!err) {
			err = add_ku(x, ku, nku);
		}
		if (!err) {
			err = add_eku(x, eku_server, 2);
		}
		return err;
	case PKI_PROFILE_CLIENT:
		err = add_bc(x, false);
		if (!err) {
			err = add_ku(x, ku, nku);
		}
		if (!err) {
			err = add_eku(x, eku_client, 1);
		}
		return err;
	case PKI_PROFILE_LSC:
	case PKI_PROFILE_MIC:
		err = add_bc(x, false);
		if (!err) {
			err = add_ku(x, ku_rsa, 2);
		}
		if (!err) {
			err = add_eku(x, eku_lsc, 3);
		}
		return err;
	default:
		return -TL_EUNKNOWN;
	}
}

int pki_profile_exts_der(enum pki_profile profile, bool rsa, struct buf *out)
{
	X509 *x = X509_new();
	int err;

	if (!x) {
		return -ENOMEM;
	}
	err = add_const_exts(x, profile, rsa);
	for (int i = 0; !err && i < X509_get_ext_count(x); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509_EXTENSION(X509_get_ext(x, i), &der);

		if (len <= 0) {
			err = -TL_ECRYPTO;
			break;
		}
		buf_put(out, der, (size_t)len);
		OPENSSL_free(der);
		err = buf_err(out);
	}
	X509_free(x);
	return err;
}

const char *pki_profile_uri(const struct pki_issue *req)
{
	if (req->profile == PKI_PROFILE_LSC ||
	    req->profile == PKI_PROFILE_MIC) {
		/* reference §4.1: SAN URI = device name */
		return req->uri ? req->uri : req->cn;
	}
	return req->uri;
}

/* The profile's extensions other than AKI and CDP. */
static int add_profile(X509 *x, const struct pki_issue *req, EVP_PKEY *pub)
{
	int err = add_const_exts(x, req->profile, is_rsa(pub));

	if (!err) {
		err = add_san(x, req, pki_profile_uri(req));
	}
	if (!err) {
		err = add_ski(x);
	}
	return err;
}

static int sig_algor(X509_ALGOR *a, EVP_PKEY *pub, const EVP_MD *md)
{
	int nid = NID_undef;

	if (!OBJ_find_sigid_by_algs(&nid, EVP_MD_get_type(md),
	                            EVP_PKEY_get_base_id(pub))) {
		return -TL_EUNKNOWN;
	}
	/* RFC 4055 §5: NULL parameters for RSA; RFC 5758 §3.2: absent for
	 * ECDSA. */
	return X509_ALGOR_set0(a, OBJ_nid2obj(nid),
	                       is_rsa(pub) ? V_ASN1_NULL : V_ASN1_UNDEF,
	                       NULL) == 1
	               ? 0
	               : -TL_ECRYPTO;
}

static int set_sig_bits(ASN1_BIT_STRING *bs, const struct buf *sig)
{
	if (ASN1_BIT_STRING_set(bs, sig->p, (int)sig->len) != 1) {
		return -ENOMEM;
	}
	bs->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
	bs->flags |= ASN1_STRING_FLAG_BITS_LEFT;
	return 0;
}

int pki_x509_sign(X509 *x, struct pki_key *key)
{
	const EVP_MD *md = EVP_sha256();
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL;
	struct buf sig;
	int len, err;

	if (key->priv) {
		return X509_sign(x, key->priv, md) > 0 ? 0 : -TL_ECRYPTO;
	}
	/* A token key: encode the TBSCertificate (RFC 5280 §4.1.1.1) with
	 * both signature algorithm fields set, sign those bytes in the
	 * token, and put the signature in place. */
	X509_get0_signature(&csig, &calg, x);
	err = sig_algor((X509_ALGOR *)X509_get0_tbs_sigalg(x), key->pub, md);
	if (!err) {
		err = sig_algor((X509_ALGOR *)calg, key->pub, md);
	}
	if (err) {
		return err;
	}
	len = i2d_re_X509_tbs(x, &tbs);
	if (len <= 0) {
		return -TL_ECRYPTO;
	}
	buf_init(&sig, 0);
	err = pki_key_sign(key, md, tbs, (size_t)len, &sig);
	if (!err) {
		err = set_sig_bits((ASN1_BIT_STRING *)csig, &sig);
	}
	buf_free(&sig);
	OPENSSL_free(tbs);
	return err;
}

int pki_crl_sign(X509_CRL *crl, struct pki_key *key)
{
	const EVP_MD *md = EVP_sha256();
	const ASN1_BIT_STRING *csig;
	const X509_ALGOR *calg;
	unsigned char *tbs = NULL;
	EVP_PKEY *tmp = NULL;
	struct buf sig;
	int len, err;

	if (key->priv) {
		return X509_CRL_sign(crl, key->priv, md) > 0 ? 0 : -TL_ECRYPTO;
	}
	/* OpenSSL 3.0 gives no handle on the TBSCertList's signature field:
	 * a throw-away key of the same type sets both algorithm fields,
	 * then the token signs the real TBS bytes. */
	err = pki_keygen(&tmp,
	                 is_rsa(key->pub) ? PKI_ALG_RSA2048 : PKI_ALG_P256);
	if (err) {
		return err;
	}
	if (X509_CRL_sign(crl, tmp, md) <= 0) {
		EVP_PKEY_free(tmp);
		return -TL_ECRYPTO;
	}
	EVP_PKEY_free(tmp);
	X509_CRL_get0_signature(crl, &csig, &calg);
	len = i2d_re_X509_CRL_tbs(crl, &tbs);
	if (len <= 0) {
		return -TL_ECRYPTO;
	}
	buf_init(&sig, 0);
	err = pki_key_sign(key, md, tbs, (size_t)len, &sig);
	if (!err) {
		err = set_sig_bits((ASN1_BIT_STRING *)csig, &sig);
	}
	buf_free(&sig);
	OPENSSL_free(tbs);
	return err;
}

/* Re-read what we signed so the caller holds a clean object whose cached
 * encoding and digests match the final bytes. */
static int reparse(X509 **x)
{
	unsigned char *der = NULL;
	const unsigned char *q;
	int len = i2d_X509(*x, &der);
	X509 *y;

	if (len <= 0) {
		return -TL_ECRYPTO;
	}
	q = der;
	y = d2i_X509(NULL, &q, len);
	OPENSSL_free(der);
	if (!y) {
		return -TL_ECRYPTO;
	}
	X509_free(*x);
	*x = y;
	return 0;
}

static int new_cert(X509 **out, const struct pki_issue *req, EVP_PKEY *pub,
                    const X509_NAME *inherit)
{
	X509 *x = X509_new();
	int err;

	*out = NULL;
	if (!x) {
		return -ENOMEM;
	}
	err = -TL_ECRYPTO;
	if (X509_set_version(x, X509_VERSION_3) != 1) {
		goto out;
	}
	/* (X509_set_pubkey also keeps pub in the certificate object, which
	 * X509_get0_pubkey needs; pki_ca_issue_der avoids its cost) */
	err = X509_set_pubkey(x, pub) == 1 ? 0 : -TL_ECRYPTO;
	if (!err) {
		err = set_serial(x);
	}
	if (!err) {
		err = set_validity(x, req);
	}
	if (!err) {
		err = set_subject(x, req, inherit);
	}
	if (!err) {
		err = add_profile(x, req, pub);
	}
out:
	if (err) {
		X509_free(x);
		return err;
	}
	*out = x;
	return 0;
}

int pki_self_issue(X509 **out, struct pki_key *key, const struct pki_issue *req)
{
	X509 *x = NULL;
	X509_EXTENSION *aki = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	int err;

	*out = NULL;
	if (req->profile != PKI_PROFILE_CA &&
	    req->profile != PKI_PROFILE_SAST) {
		return -TL_EPOLICY;
	}
	err = new_cert(&x, req, key->pub, NULL);
	if (err) {
		return err;
	}
	err = -TL_ECRYPTO;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1) {
		goto out;
	}
	/* RFC 5280 §4.2.1.1: a self-signed certificate may carry an AKI
	 * naming its own key; we always do, so chains built by key id
	 * work. */
	ski = key_id(x);
	aki = ski ? make_aki(ski) : NULL;
	if (!aki || X509_add_ext(x, aki, -1) != 1) {
		goto out;
	}
	err = pki_x509_sign(x, key);
	if (!err) {
		err = reparse(&x);
	}
out:
	ASN1_OCTET_STRING_free(ski);
	X509_EXTENSION_free(aki);
	if (err) {
		X509_free(x);
		return err;
	}
	*out = x;
	return 0;
}

static int inherit_name(X509_NAME **out, const X509_NAME *ca)
{
	static const int keep[] = {NID_countryName, NID_stateOrProvinceName,
	                           NID_localityName, NID_organizationName,
	                           NID_organizationalUnitName};
	X509_NAME *n = X509_NAME_new();

	if (!n) {
		return -ENOMEM;
	}
	for (int i = 0; i < X509_NAME_entry_count(ca); i++) {
		X509_NAME_ENTRY *e = X509_NAME_get_entry(ca, i);
		int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));

		for (size_t j = 0; j < sizeof(keep) / sizeof(keep[0]); j++) {
			if (nid == keep[j] &&
			    !X509_NAME_add_entry(n, e, -1, 0)) {
				X509_NAME_free(n);
				return -ENOMEM;
			}
		}
	}
	*out = n;
	return 0;
}

int pki_ca_new(struct pki_ca **out, X509 *cert, struct pki_key *key,
               const char *crl_url)
{
	struct pki_ca *ca;
	const ASN1_OCTET_STRING *ski;
	int err;

	if (!cert || !key) {
		return -EINVAL;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(cert), key->pub) != 1) {
		return -TL_EPOLICY;
	}
	if (X509_check_ca(cert) < 1) {
		return -TL_EPOLICY;
	}
	ski = X509_get0_subject_key_id(cert);
	if (!ski) {
		return -TL_EPOLICY;
	}
	ca = calloc(1, sizeof(*ca));
	if (!ca) {
		return -ENOMEM;
	}
	if (!X509_up_ref(cert)) {
		free(ca);
		return -TL_ECRYPTO;
	}
	ca->cert = cert;
	ca->name = X509_get_subject_name(cert);
	err = -ENOMEM;
	ca->aki = make_aki(ski);
	if (!ca->aki) {
		goto out;
	}
	if (crl_url && *crl_url) {
		ca->cdp = make_cdp(crl_url);
		if (!ca->cdp) {
			goto out;
		}
	}
	err = inherit_name(&ca->inherit, ca->name);
out:
	if (err) {
		pki_ca_free(ca);
		return err;
	}
	ca->key = key;
	*out = ca;
	return 0;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca) {
		return;
	}
	X509_free(ca->cert);
	X509_EXTENSION_free(ca->aki);
	X509_EXTENSION_free(ca->cdp);
	X509_NAME_free(ca->inherit);
	pki_ca_der_free(ca);
	pki_key_free(ca->key);
	free(ca);
}

X509 *pki_ca_cert(const struct pki_ca *ca)
{
	return ca->cert;
}

int pki_ca_issue(struct pki_ca *ca, const struct pki_issue *req, X509 **out)
{
	X509 *x = NULL;
	bool device;
	int err;

	*out = NULL;
	if (!req->pub) {
		return -EINVAL;
	}
	if (req->profile == PKI_PROFILE_CA ||
	    req->profile == PKI_PROFILE_SAST) {
		return -TL_EPOLICY;
	}
	err = pki_key_policy(req->pub);
	if (err) {
		return err;
	}
	device = req->profile == PKI_PROFILE_LSC ||
	         req->profile == PKI_PROFILE_MIC;
	err = new_cert(&x, req, req->pub, device ? ca->inherit : NULL);
	if (err) {
		return err;
	}
	err = -TL_ECRYPTO;
	if (X509_set_issuer_name(x, ca->name) != 1 ||
	    X509_add_ext(x, ca->aki, -1) != 1 ||
	    (ca->cdp && X509_add_ext(x, ca->cdp, -1) != 1)) {
		goto out;
	}
	/* no re-parse here (unlike pki_self_issue): decoding the key back
	 * costs more than the signature, and nothing was cached from the
	 * unsigned certificate */
	err = pki_x509_sign(x, ca->key);
out:
	if (err) {
		X509_free(x);
		return err;
	}
	*out = x;
	return 0;
}

struct pki_key *pki_ca_key_int(struct pki_ca *ca)
{
	return ca->key;
}
