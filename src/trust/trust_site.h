/* The trust files of a site directory (DESIGN.md "Command line"): the
 * site's service certificates under pki/, the SAST tokens under tokens/,
 * the served files under tftp/. Also the small file helpers the trust
 * commands share (atomic writes: temporary file, fsync, rename). */
#ifndef TL_TRUST_SITE_H
#define TL_TRUST_SITE_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "pki/pki_key.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Build tftp/CTLFile.tlv (SAST1, SAST2, CCM, TFTP, CAPF and the optional
 * EC CCM certificate) and tftp/ITLFile.tlv (SAST1, CCM, TFTP, CAPF) for a
 * freshly initialised site, both signed with the SAST1 token. */
int trust_site_init(const char *site_dir) TL_MUST_CHECK;

/* The records a site's CTL lists (itl: the ITL's). Arrays are malloc'd;
 * free with trust_site_records_free. */
int trust_site_records(const char *site_dir, bool itl, X509 ***certs,
                       uint16_t **roles, size_t *n) TL_MUST_CHECK;
void trust_site_records_free(X509 **certs, uint16_t *roles, size_t n);

/* Open SAST token n (1 or 2): token label "SASTn", key label "sast". pin
 * NULL reads tokens/sastN.pin. module NULL: the default PKCS#11 module.
 * Sets SOFTHSM2_CONF to the site's tokens/softhsm2.conf when unset. The
 * certificate is pki/sastN.crt. */
int trust_site_sast(const char *site_dir, int n, const char *module,
                    const char *pin, struct pki_key **key,
                    X509 **cert) TL_MUST_CHECK;

/* Where a signing key comes from: SAST token `token` of the site (with
 * pin, or pin_file, or the token's pin file), or key_file + cert_file. */
struct trust_signer_spec {
	const char *site;
	int token; /* 0: use key_file and cert_file */
	const char *module;
	const char *pin;
	const char *pin_file;
	const char *key_file;
	const char *cert_file;
};
int trust_site_signer(const struct trust_signer_spec *sp, struct pki_key **key,
                      X509 **cert) TL_MUST_CHECK;

/* Read a whole file (at most max bytes). */
int trust_file_read(const char *path, size_t max,
                    struct buf *out) TL_MUST_CHECK;
/* Write a whole file atomically with the given mode. */
int trust_file_write(const char *path, const void *p, size_t len,
                     mode_t mode) TL_MUST_CHECK;
/* A certificate from a PEM or DER file. */
int trust_cert_read(X509 **out, const char *path) TL_MUST_CHECK;
/* A PIN from a file: the first line, at most outlen - 1 bytes. */
int trust_pin_read(const char *path, char *out, size_t outlen) TL_MUST_CHECK;

#endif
