/* Certificate revocation lists (RFC 5280 §5). */
#include "pki/pki_int.h"

#include <errno.h>
#include <openssl/x509v3.h>
#include <string.h>

/* RFC 5280 §5.2.1: a CRL names its signing key like a certificate. */
static int add_aki(X509_CRL *crl, X509 *ca)
{
	AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
	const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(ca);
	int err = -TL_ECRYPTO;

	if (!aki) {
		return -ENOMEM;
	}
	if (ski && (aki->keyid = ASN1_OCTET_STRING_dup(ski)) &&
	    X509_CRL_add1_ext_i2d(crl, NID_authority_key_identifier, aki, 0,
	                          X509V3_ADD_APPEND) == 1) {
		err = 0;
	}
	AUTHORITY_KEYID_free(aki);
	return err;
}

static int serial_from_hex(const char *hex, ASN1_INTEGER **out)
{
	BIGNUM *bn = NULL;
	size_t n = strlen(hex);

	/* RFC 5280 §4.1.2.2: at most 20 octets */
	if (n == 0 || n > 40 || strspn(hex, "0123456789abcdefABCDEF") != n) {
		return -TL_EPARSE;
	}
	if (!BN_hex2bn(&bn, hex)) {
		return -TL_EPARSE;
	}
	*out = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	return *out ? 0 : -ENOMEM;
}

static int add_revoked(X509_CRL *crl, const struct pki_revoked *r)
{
	X509_REVOKED *rv = X509_REVOKED_new();
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	int err;

	if (!rv) {
		return -ENOMEM;
	}
	err = serial_from_hex(r->serial, &serial);
	if (err) {
		goto out;
	}
	err = -TL_ECRYPTO;
	when = ASN1_TIME_set(NULL, (time_t)r->when);
	if (!when || X509_REVOKED_set_serialNumber(rv, serial) != 1 ||
	    X509_REVOKED_set_revocationDate(rv, when) != 1) {
		goto out;
	}
	/* RFC 5280 §5.3.1: reasonCode 0 (unspecified) SHOULD be absent;
	 * 7 is unused and 11 is the last defined. */
	if (r->reason < 0 || r->reason == 7 || r->reason > 10) {
		err = -TL_EPARSE;
		goto out;
	}
	if (r->reason) {
		reason = ASN1_ENUMERATED_new();
		if (!reason || ASN1_ENUMERATED_set(reason, r->reason) != 1 ||
		    X509_REVOKED_add1_ext_i2d(rv, NID_crl_reason, reason, 0,
		                              0) != 1) {
			goto out;
		}
	}
	if (X509_CRL_add0_revoked(crl, rv) != 1) {
		goto out;
	}
	rv = NULL;
	err = 0;
out:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	X509_REVOKED_free(rv);
	return err;
}

int pki_ca_crl(struct pki_ca *ca, const struct pki_revoked *rev, size_t n,
               uint64_t crl_number, int64_t now, uint32_t next_days,
               X509_CRL **out)
{
	X509 *cert = pki_ca_cert(ca);
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	int err = -TL_ECRYPTO;

	*out = NULL;
	if (!crl) {
		return -ENOMEM;
	}
	if (!now) {
		now = (int64_t)time(NULL);
	}
	if (next_days == 0 || next_days > 3650) {
		err = -TL_ETOOBIG;
		goto out;
	}
	if (X509_CRL_set_version(crl, X509_CRL_VERSION_2) != 1 ||
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(cert)) != 1) {
		goto out;
	}
	t = ASN1_TIME_set(NULL, (time_t)now);
	if (!t || X509_CRL_set1_lastUpdate(crl, t) != 1 ||
	    !ASN1_TIME_adj(t, (time_t)now, (int)next_days, 0) ||
	    X509_CRL_set1_nextUpdate(crl, t) != 1) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		err = add_revoked(crl, &rev[i]);
		if (err) {
			goto out;
		}
	}
	err = -TL_ECRYPTO;
	if (X509_CRL_sort(crl) != 1) {
		goto out;
	}
	err = add_aki(crl, cert);
	if (err) {
		goto out;
	}
	/* RFC 5280 §5.2.3: the CRL number is non-critical and increasing */
	num = ASN1_INTEGER_new();
	if (!num || ASN1_INTEGER_set_uint64(num, crl_number) != 1 ||
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0,
	                          X509V3_ADD_APPEND) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	err = pki_crl_sign(crl, pki_ca_key_int(ca));
	if (!err && X509_CRL_verify(crl, X509_get0_pubkey(cert)) != 1) {
		err = -TL_ESIG;
	}
out:
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	if (err) {
		X509_CRL_free(crl);
		return err;
	}
	*out = crl;
	return 0;
}
