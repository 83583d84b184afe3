/* Signed and encrypted configs: the glue between cnf_xml and src/trust. */
#include "prov/cnf_sign.h"

#include "pki/pki.h"

#include <errno.h>
#include <openssl/x509.h>

int cnf_sign_transform(enum cnf_file f, const char *mac, struct slice body,
                       const uint8_t *cert_der, size_t cert_len,
                       struct buf *out, void *arg)
{
	const struct trust_sign *tmpl = arg;
	struct trust_sign s;
	char name[64];
	struct slice spki;
	EVP_PKEY *dev = NULL;
	int err;

	if (f == CNF_FILE_XML) {
		buf_put_slice(out, body);
		return buf_err(out);
	}
	if (!tmpl || !tmpl->key || !tmpl->cert) {
		return -EINVAL;
	}
	/* cisco-formats.md §2.1: FILENAME holds the name of the signed file
	 * itself, as the phone requested it */
	err = cnf_file_name(f, mac, name, sizeof(name));
	if (err) {
		return err;
	}
	s = *tmpl;
	s.filename = name;
	if (f == CNF_FILE_SGN) {
		return trust_sgn_build(out, &s, body);
	}
	if (f != CNF_FILE_ENC) {
		return -EINVAL;
	}
	if (!cert_der || cert_len == 0 || cert_len > 65536) {
		return -TL_ESTATE; /* no certificate: nothing to encrypt to */
	}
	/* the certificate the store recorded for the device: only its key
	 * is needed (a full decode costs several signatures) */
	err = pki_cert_spki(cert_der, cert_len, NULL, &spki);
	if (!err) {
		err = pki_spki_decode(&dev, spki.p, spki.len);
	}
	if (err) {
		return -TL_EPARSE;
	}
	err = trust_enc_build_key(out, &s, dev, body);
	EVP_PKEY_free(dev);
	return err;
}
