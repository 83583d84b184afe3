/* Certificates of a site: key generation, the issuing CA, certificate
 * profiles (DESIGN.md "Security model", reference/cisco-formats.md §4.1),
 * CRLs, and the verification helper the CAPF, SIP and SRST layers use.
 *
 * Certificates are OpenSSL X509 objects: the caller owns what an _out
 * pointer returns (X509_free, X509_CRL_free, EVP_PKEY_free). Signing goes
 * through struct pki_key (pki_key.h), so a CA whose key lives in a token
 * signs the to-be-signed bytes there and never holds the private key. */
#ifndef TL_PKI_H
#define TL_PKI_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "pki/pki_key.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Call first, before anything else in the process uses OpenSSL: the
 * default library context then offers the default provider's algorithms
 * with only the key types we use (src/pki/ossl.c: certificate decoding
 * and key encoding are much faster in OpenSSL 3.0). Idempotent; an
 * error leaves OpenSSL's defaults in place. */
int pki_ossl_init(void) TL_MUST_CHECK;

enum pki_alg {
	PKI_ALG_P256,
	PKI_ALG_P384,
	PKI_ALG_RSA2048,
	PKI_ALG_RSA3072,
	PKI_ALG_RSA4096,
};

/* "p256" (also "ec", "ec-p256", "prime256v1"), "p384", "rsa2048",
 * "rsa3072", "rsa4096" (also "rsa"). -TL_EUNKNOWN otherwise. */
int pki_alg_parse(const char *s, enum pki_alg *out) TL_MUST_CHECK;
const char *pki_alg_name(enum pki_alg alg);
int pki_keygen(EVP_PKEY **out, enum pki_alg alg) TL_MUST_CHECK;
/* Keys we accept from others (CSRs, phones): RSA 2048..4096 bits, EC
 * P-256 or P-384. -TL_EPOLICY otherwise. */
int pki_key_policy(EVP_PKEY *pub) TL_MUST_CHECK;

enum pki_profile {
	PKI_PROFILE_CA,     /* site or manufacturer CA (self-signed) */
	PKI_PROFILE_SERVER, /* TLS server: CCM, TFTP, CAPF, SRST */
	PKI_PROFILE_CLIENT, /* TLS client */
	PKI_PROFILE_LSC,    /* phone LSC, reference §4.1 */
	PKI_PROFILE_MIC,    /* phone MIC from the manufacturer CA */
	PKI_PROFILE_SAST,   /* self-signed SAST token certificate */
};

/* Names as recorded in the store: "ca", "server", "client", "lsc",
 * "mic", "sast". */
int pki_profile_parse(const char *s, enum pki_profile *out) TL_MUST_CHECK;
const char *pki_profile_name(enum pki_profile p);
/* Default validity in days: CA 3650, MIC 3650, SAST 3650, LSC 365,
 * server and client 730. */
uint32_t pki_profile_days(enum pki_profile p);

/* What to put in a certificate. Strings are NUL-terminated; arrays may be
 * NULL when their count is 0. */
struct pki_issue {
	enum pki_profile profile;
	const char *cn;  /* subject CN (device name for LSC and MIC) */
	const char *org; /* subject O (not for LSC and MIC: see profile) */
	const char *ou;  /* subject OU (likewise) */
	const char *const *dns;
	size_t n_dns;
	const char *const *ip; /* IPv4 or IPv6 literals */
	size_t n_ip;
	const char *uri; /* SAN URI; LSC default: the device name */
	uint32_t days;   /* 0: pki_profile_days() */
	int64_t now;     /* Unix seconds; 0: the current time */
	EVP_PKEY *pub;   /* the subject's public key */
	/* Optional: pub's DER SubjectPublicKeyInfo as received (from a CSR,
	 * i2d_X509_PUBKEY). pki_ca_issue_der copies an EC P-256/P-384 one
	 * as is instead of encoding pub again, which costs a quarter of a
	 * signature in OpenSSL 3.0. It must be pub's key. */
	const uint8_t *spki;
	size_t spki_len;
};

/* Self-signed certificate (CA or SAST) for key; req->pub is ignored. */
int pki_self_issue(X509 **out, struct pki_key *key,
                   const struct pki_issue *req) TL_MUST_CHECK;

/* An issuing CA: its certificate, its key (owned by the CA from a
 * successful pki_ca_new on), and the CRL distribution point put in every
 * certificate it issues (NULL: none). Not thread-safe. */
struct pki_ca;
int pki_ca_new(struct pki_ca **out, X509 *cert, struct pki_key *key,
               const char *crl_url) TL_MUST_CHECK;
void pki_ca_free(struct pki_ca *ca);
X509 *pki_ca_cert(const struct pki_ca *ca);
int pki_ca_issue(struct pki_ca *ca, const struct pki_issue *req,
                 X509 **out) TL_MUST_CHECK;

/* The same certificate as pki_ca_issue, appended to der as DER, without
 * building an OpenSSL X509 (several times faster: the enrolment hot path).
 * Profiles server, client, lsc and mic. serial (at least 33 bytes, may be
 * NULL) receives the lower-case hex serial. */
int pki_ca_issue_der(struct pki_ca *ca, const struct pki_issue *req,
                     struct buf *der, char *serial,
                     size_t serlen) TL_MUST_CHECK;

/* A revoked certificate for a CRL: serial as lower-case hex. */
struct pki_revoked {
	const char *serial;
	int64_t when;
	int reason; /* RFC 5280 §5.3.1 CRLReason; 0 = unspecified */
};

/* A v2 CRL (RFC 5280 §5) with the CRL number and authority key
 * identifier extensions, valid from now for next_days. */
int pki_ca_crl(struct pki_ca *ca, const struct pki_revoked *rev, size_t n,
               uint64_t crl_number, int64_t now, uint32_t next_days,
               X509_CRL **out) TL_MUST_CHECK;

/* Sign x (or crl) with key, SHA-256, whatever the key's back-end. */
int pki_x509_sign(X509 *x, struct pki_key *key) TL_MUST_CHECK;
int pki_crl_sign(X509_CRL *crl, struct pki_key *key) TL_MUST_CHECK;

/* Trust anchors and CRLs for pki_cert_check. */
struct pki_trust;
int pki_trust_new(struct pki_trust **out) TL_MUST_CHECK;
void pki_trust_free(struct pki_trust *t);
int pki_trust_add_cert(struct pki_trust *t, X509 *ca) TL_MUST_CHECK;
/* With at least one CRL added, every checked leaf must be covered by a
 * current CRL of its issuer. */
int pki_trust_add_crl(struct pki_trust *t, X509_CRL *crl) TL_MUST_CHECK;
/* Add every certificate and CRL of a PEM file. */
int pki_trust_load(struct pki_trust *t, const char *path) TL_MUST_CHECK;

enum pki_eku {
	PKI_EKU_ANY,
	PKI_EKU_SERVER, /* id-kp-serverAuth */
	PKI_EKU_CLIENT, /* id-kp-clientAuth */
};

/* Verify cert against t at time now (0: current time): the chain
 * (untrusted intermediates may be NULL), signatures, validity, the CRL
 * and the expected extended key usage. 0, or -TL_EREVOKED, -TL_EEXPIRED
 * (expired or not yet valid), -TL_EPOLICY (wrong key usage), -TL_ETRUST
 * (anything else, including a missing or outdated CRL). */
int pki_cert_check(struct pki_trust *t, X509 *cert, STACK_OF(X509) * untrusted,
                   int64_t now, enum pki_eku eku) TL_MUST_CHECK;

/* Parse one DER certificate from attacker bytes: strict DER, no trailing
 * bytes. */
int pki_cert_parse(X509 **out, const uint8_t *p, size_t len) TL_MUST_CHECK;
/* Parse a PKCS#10 request (DER, or PEM when it starts with "-----"; at
 * most 64 KiB; no trailing bytes, after a PEM block only white space),
 * check its self-signature (RFC 2986 §3) and its key against
 * pki_key_policy. */
int pki_csr_parse(X509_REQ **out, const uint8_t *p, size_t len) TL_MUST_CHECK;

/* Lower-case hex serial; RFC 4514 one-line names. */
/* SubjectPublicKeyInfo DER to a public key and back. EC P-256/P-384 keys
 * with uncompressed points and RSA keys skip OpenSSL 3.0's decoder and
 * encoder chains (several signatures' worth of CPU each); any other key
 * takes d2i_PUBKEY/i2d_PUBKEY. decode: the whole input must be the one
 * SPKI (-TL_EPARSE, -TL_ETRAIL, -TL_ETOOBIG otherwise). encode appends to
 * out. */
int pki_spki_decode(EVP_PKEY **out, const uint8_t *p, size_t len) TL_MUST_CHECK;
int pki_spki_encode(EVP_PKEY *key, struct buf *out) TL_MUST_CHECK;
/* One DER certificate (nothing after it) decoded, or NULL. The result is
 * a new reference (X509_free it) to an object that may be shared with
 * other callers and threads that decoded the same bytes: treat it as read
 * only. OpenSSL 3.0 makes each d2i_X509 cost several signatures; the
 * process keeps the last decoded certificates (a small table, exact DER
 * match) so that the same CTL or LSC is decoded once. Not strict DER: use
 * pki_cert_parse for input that must be. pki_cert_shared_clear empties
 * the table (tests, shutdown). */
X509 *pki_cert_shared(const uint8_t *der, size_t len);
/* The subject Name (if subject is not NULL) and SubjectPublicKeyInfo of
 * a DER certificate as slices of der, found by walking the certificate's
 * outer structure only (no signature or field check): for the key of a
 * certificate the caller already trusts (one the site issued and
 * recorded), or to compare a new certificate with what was asked for
 * before decoding it. -TL_EPARSE, -TL_ETRAIL. */
int pki_cert_spki(const uint8_t *der, size_t len, struct slice *subject,
                  struct slice *spki) TL_MUST_CHECK;
void pki_cert_shared_clear(void);
int pki_serial_hex(const X509 *x, char *out, size_t outlen) TL_MUST_CHECK;
int pki_name_str(const X509_NAME *n, char *out, size_t outlen) TL_MUST_CHECK;

/* Files: every write is atomic (temporary file in the same directory,
 * fsync, rename); key files are 0600, the rest 0644. */
int pki_file_write(const char *path, const void *p, size_t len,
                   unsigned mode) TL_MUST_CHECK;
int pki_cert_write(const char *path, X509 *x) TL_MUST_CHECK;
int pki_pkey_write(const char *path, EVP_PKEY *key) TL_MUST_CHECK;
/* Writes pem_path and der_path (either may be NULL). */
int pki_crl_write(const char *pem_path, const char *der_path,
                  X509_CRL *crl) TL_MUST_CHECK;
int pki_cert_read(X509 **out, const char *path) TL_MUST_CHECK;
int pki_crl_read(X509_CRL **out, const char *path) TL_MUST_CHECK;

#endif
