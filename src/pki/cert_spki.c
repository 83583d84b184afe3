/* The subject and SubjectPublicKeyInfo of a DER certificate, found by walking its
 * outer structure (RFC 5280 §4.1): TBSCertificate { [0] version OPTIONAL,
 * serialNumber, signature, issuer, validity, subject,
 * subjectPublicKeyInfo, ... }. For callers that need only the key of a
 * certificate they already trust (one the site issued and recorded):
 * a full d2i_X509 decodes the key through OpenSSL 3.0's decoder chain. */
#include "pki/pki.h"
#include "pki/pki_csr.h"

#include "base/cur.h"

int pki_cert_spki(const uint8_t *der, size_t len, struct slice *subject,
                  struct slice *spki)
{
	struct cur c, x = {0}, tbs = {0}, v = {0};
	struct slice subj = SLICE_NULL;
	int err;

	*spki = SLICE_NULL;
	if (subject) {
		*subject = SLICE_NULL;
	}
	if (!der || len == 0) {
		return -TL_ETRUNC;
	}
	cur_init(&c, der, len);
	err = pki_der_tlv(&c, 0x30, &x, NULL);
	if (!err && cur_left(&c) != 0) {
		err = -TL_ETRAIL;
	}
	if (!err) {
		err = pki_der_tlv(&x, 0x30, &tbs, NULL);
	}
	if (!err && cur_left(&tbs) > 0 && tbs.p[tbs.off] == 0xa0) {
		err = pki_der_tlv(&tbs, 0xa0, &v, NULL); /* version */
	}
	if (!err) {
		err = pki_der_tlv(&tbs, 0x02, &v, NULL); /* serialNumber */
	}
	/* signature, issuer, validity */
	for (int i = 0; !err && i < 3; i++) {
		err = pki_der_tlv(&tbs, 0x30, &v, NULL);
	}
	if (!err) {
		err = pki_der_tlv(&tbs, 0x30, &v, &subj);
	}
	if (!err) {
		err = pki_der_tlv(&tbs, 0x30, &v, spki);
	}
	if (err) {
		*spki = SLICE_NULL;
	} else if (subject) {
		*subject = subj;
	}
	return err;
}
