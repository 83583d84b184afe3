/* The PKI of a site directory (DESIGN.md "Command line"; docs/pki.md):
 *   pki/ca.crt          site CA; key in token "CA" (key label "ca") or
 *                       pki/ca.key (0600)
 *   pki/mfg-ca.crt      manufacturer CA for MICs; token "MFG" or
 *                       pki/mfg-ca.key
 *   pki/crl.pem, .der   the site CA's current CRL
 *   pki/sastN.crt       SAST certificates; keys in tokens "SASTn"
 *   tokens/             SoftHSM2 store/, softhsm2.conf, <label>.pin
 * The database records every certificate issued (store_cert_*). */
#ifndef TL_PKI_SITE_H
#define TL_PKI_SITE_H

#include "base/tl_err.h"
#include "pki/pki.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

enum pki_site_ca {
	PKI_SITE_CA,  /* the site CA */
	PKI_SITE_MFG, /* the manufacturer CA */
};

/* Point SOFTHSM2_CONF at the site's tokens/softhsm2.conf (unless the
 * environment sets it), creating the token store when create is true. */
int pki_site_env(const char *site_dir, bool create) TL_MUST_CHECK;

/* tokens/<lower-case label>.pin (so: .so.pin) */
int pki_site_pin_path(const char *site_dir, const char *label, bool so,
                      char *out, size_t outlen) TL_MUST_CHECK;
int pki_site_pin_read(const char *site_dir, const char *label, char *pin,
                      size_t pinlen) TL_MUST_CHECK;
/* A new random PIN (16 hex digits) written to its pin file (0600). */
int pki_site_pin_new(const char *site_dir, const char *label, bool so,
                     char *pin, size_t pinlen) TL_MUST_CHECK;

struct pki_site_ca_opts {
	bool token;         /* key in a token, else in a 0600 file */
	enum pki_alg alg;   /* key algorithm */
	const char *cn;     /* subject CN */
	const char *org;    /* subject O */
	uint32_t days;      /* 0: profile default */
	const char *module; /* PKCS#11 module; NULL: default */
	const char *pin;    /* token PINs; NULL: new random PINs */
	const char *so_pin;
};

/* Create the CA's key and self-signed certificate. -TL_EEXIST if the
 * certificate exists. The certificate is returned when out is not NULL. */
int pki_site_ca_create(const char *site_dir, enum pki_site_ca which,
                       const struct pki_site_ca_opts *o,
                       X509 **out) TL_MUST_CHECK;
/* Open the CA for issuing: the file key when its key file exists, else
 * the token (pin NULL: the token's pin file). */
int pki_site_ca_open(struct pki_ca **out, const char *site_dir,
                     enum pki_site_ca which, const char *module,
                     const char *pin, const char *crl_url) TL_MUST_CHECK;

/* A SAST-style token: initialise token label, generate an RSA-2048 key
 * (label "sast", CKA_ID 01) in it, self-sign its certificate through the
 * token, store it in the token and as pki/<lower-case label>.crt. */
int pki_site_token_create(const char *site_dir, const char *label,
                          const char *module, const char *pin,
                          const char *so_pin, const char *org,
                          X509 **out) TL_MUST_CHECK;

/* The CRL distribution point of a site: http://HOST:PORT/crl.der
 * (IPv6 literals in brackets, RFC 3986 §3.2.2). */
int pki_site_crl_url(char *out, size_t outlen, const char *host,
                     uint16_t http_port) TL_MUST_CHECK;

/* Record cert in the store under profile. */
int pki_site_record(struct store *st, X509 *cert,
                    enum pki_profile profile) TL_MUST_CHECK;

/* Issue req, write the key (when key is not NULL; 0600) and the
 * certificate, record it (when st is not NULL). Files are removed again
 * if recording fails. */
int pki_site_issue(struct pki_ca *ca, struct store *st,
                   const struct pki_issue *req, EVP_PKEY *key,
                   const char *cert_path, const char *key_path,
                   X509 **out) TL_MUST_CHECK;

/* Regenerate pki/crl.pem and pki/crl.der from the store's revoked
 * certificates of this CA (CRL number: store setting pki.crl_number,
 * incremented). */
int pki_site_crl_update(const char *site_dir, struct pki_ca *ca,
                        struct store *st, uint32_t days,
                        uint64_t *number) TL_MUST_CHECK;

#endif
