/* Signed and encrypted configs: the glue between cnf_xml and src/trust. */
#include "prov/cnf_sign.h"

#include <errno.h>
#include <openssl/x509.h>

int cnf_sign_transform(enum cnf_file f, const char *mac, struct slice body,
                       const uint8_t *cert_der, size_t cert_len,
                       struct buf *out, void *arg)
{
	const struct trust_sign *tmpl = arg;
	struct trust_sign s;
	char name[64];
	const uint8_t *p = cert_der;
	X509 *dev = NULL;
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
	dev = d2i_X509(NULL, &p, (long)cert_len);
	if (!dev || p != cert_der + cert_len) {
		X509_free(dev);
		return -TL_EPARSE;
	}
	err = trust_enc_build(out, &s, dev, body);
	X509_free(dev);
	return err;
}
