/* EST, RFC 7030, the standard front door to the enrolment engine
 * (docs/capf.md): HTTPS under /.well-known/est/ on the admin port.
 *
 *   GET  cacerts         200 application/pkcs7-mime (certs-only, base64)
 *   GET  csrattrs        200 application/csrattrs (base64)
 *   POST simpleenroll    application/pkcs10 (base64) ->
 *                        200 application/pkcs7-mime; smime-type=certs-only
 *   POST simplereenroll  the same, authenticated by the current LSC
 *
 * Credentials: the TLS client certificate (LSC or MIC modes), HTTP Basic
 * (user = device name, password = auth string) or the CSR's
 * challengePassword (auth string mode). Status codes: 400 for a request
 * that is not a good CSR, 401 (with WWW-Authenticate) when an auth string
 * is needed or wrong, 403 for every other refusal (unknown device, another
 * device's name, no or expired operation, untrusted or revoked
 * certificate, key refused by policy), 404 for other paths, 405 for other
 * methods, 415 for another content type.
 *
 * Ownership: est_srv_new borrows base and the engine (both must outlive
 * the server); est_srv_free closes every connection (NULL is a no-op). */
#ifndef TL_EST_SRV_H
#define TL_EST_SRV_H

#include "base/tl_err.h"
#include "enroll/enroll.h"
#include "pki/pki_csr.h"

#include <openssl/x509.h>
#include <stdint.h>

struct event_base;
struct est_srv;

struct est_srv_conf {
	const char *addr;      /* numeric; NULL: 127.0.0.1 */
	uint16_t port;         /* 0: ephemeral (est_srv_port) */
	const char *cert_file; /* TLS server certificate chain and key */
	const char *key_file;
	const char *cert2_file; /* optional second (e.g. ECDSA) pair */
	const char *key2_file;
	/* Anchors announced to clients for their certificates (site CA and
	 * manufacturer CA); the engine decides what it accepts. */
	const char *client_ca_file;
	const char *keylog_file; /* debugging only; NULL: off */
	unsigned timeout_s;      /* per connection; 0: 10 */
};

int est_srv_new(struct est_srv **out, struct event_base *base, struct enroll *e,
                const struct est_srv_conf *c) TL_MUST_CHECK;
void est_srv_free(struct est_srv *s);
uint16_t est_srv_port(const struct est_srv *s);

/* ---- the request input path (pure; fuzzed) ---- */

#define EST_BODY_MAX 16384

/* A simpleenroll body: base64 (whitespace allowed) of a DER PKCS#10
 * request whose signature verifies and whose key passes the policy, with
 * a subject CN, and at most one challengePassword. */
struct est_req {
	struct pki_csr csr; /* subject, attributes, key; csr.spki in der */
	char cn[64];
	char challenge[65]; /* "" when absent */
	struct buf der;     /* the request's DER */
};
/* -TL_EPARSE (not base64, not a CSR, no single CN, bad attribute),
 * -TL_ESIG (proof of possession fails), -TL_EPOLICY (key refused),
 * -TL_ETOOBIG (over EST_BODY_MAX). */
int est_req_parse(struct est_req *r, const uint8_t *body,
                  size_t len) TL_MUST_CHECK;
void est_req_clear(struct est_req *r);

/* The one CN of a name as a string: -TL_EPARSE when there is none or
 * more than one, or it holds a NUL; -TL_ETOOBIG when it does not fit. */
int est_name_cn(const X509_NAME *n, char *out, size_t outlen) TL_MUST_CHECK;

/* The DER PKCS#10 request the EST client sends, appended to out: subject
 * CN=device, key's SubjectPublicKeyInfo, the challengePassword if not
 * NULL, signed by key (EC or RSA) with SHA-256. Built directly: OpenSSL
 * 3.0's X509_REQ_set_pubkey encodes the key and decodes it back through
 * its provider chains, several signatures' worth of CPU. */
int est_csr_make(struct buf *out, const char *device, const char *challenge,
                 EVP_PKEY *key) TL_MUST_CHECK;

/* The client's side of a simpleenroll answer: the first certificate of a
 * DER certs-only message (RFC 7030 §4.2.3), which must be ours: subject
 * CN device, and our key (key's SubjectPublicKeyInfo, byte for byte).
 * cert is a slice of der. -TL_EPARSE, -TL_EPOLICY (not ours). The
 * certificate is not decoded: pki_cert_parse it to use it. */
int est_resp_cert(struct slice der, const char *device, EVP_PKEY *key,
                  struct slice *cert) TL_MUST_CHECK;

/* "Basic <base64(user:password)>" (RFC 7617): -TL_EPARSE otherwise,
 * -TL_ETOOBIG when a part does not fit. */
int est_basic_parse(const char *hdr, char *user, size_t userlen, char *pass,
                    size_t passlen) TL_MUST_CHECK;

/* Base64 with whitespace skipped (RFC 2045 bodies), into out. */
int est_b64_decode(const uint8_t *p, size_t len, struct buf *out) TL_MUST_CHECK;

#endif
