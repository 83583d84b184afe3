/* The enrolment engine (docs/capf.md): one set of checks and one way to
 * issue, revoke and fetch phone certificates (LSCs) behind both front
 * doors, Cisco's CAPF protocol (capf_srv.h) and EST, RFC 7030
 * (est_srv.h). reference/cisco-formats.md §4.1.
 *
 * A request is first authorised (enroll_authorize): the device exists,
 * the identity is the one its credentials prove, the credentials satisfy
 * the device's CAPF auth mode, and an operation is pending and not past
 * its deadline. Only then does an operation change anything, in one store
 * transaction with an audit line.
 *
 * Ownership: enroll_new borrows the store and the CA (they must outlive
 * the engine) and copies what it needs of the configuration. Not
 * thread-safe: one engine per event loop. */
#ifndef TL_ENROLL_H
#define TL_ENROLL_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "pki/pki.h"
#include "store/store.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct enroll;

struct enroll_conf {
	struct store *st;     /* borrowed */
	struct pki_ca *ca;    /* borrowed: issues the LSCs (site CA) */
	X509 *mfg_ca;         /* manufacturer CA for MICs; NULL: none */
	const char *site_dir; /* for pki/crl.*; NULL: no CRL files */
	uint32_t lsc_days;    /* 0: the LSC profile default */
	uint32_t crl_days;    /* next update of a new CRL; 0: 7 */
};

int enroll_new(struct enroll **out, const struct enroll_conf *c) TL_MUST_CHECK;
void enroll_free(struct enroll *e);

/* What a request proves. */
struct enroll_cred {
	const char *device;      /* the identity asked for: SEP<MAC> */
	const char *auth_string; /* an auth string offered; NULL: none */
	/* A certificate the peer proved it holds (TLS client certificate,
	 * or CAPF AUTH_RESP certificate with its signature checked by the
	 * caller) and the chain it sent; NULL: none. Borrowed. */
	X509 *cert;
	STACK_OF(X509) * chain;
	/* EST simplereenroll: the certificate must be the device's own
	 * valid LSC, whatever the auth mode. */
	bool reenroll;
};

/* Authorise a request; dev receives the device. Errors:
 *  -TL_EPARSE     device is not SEP + 12 hex digits
 *  -TL_ENOTFOUND  no such device
 *  -TL_EPOLICY    the certificate names another device, or the device's
 *                 auth mode is none
 *  -TL_EAUTH      auth string missing or wrong (mode 1)
 *  -TL_ETRUST     certificate missing or not trusted for the mode
 *  -TL_EREVOKED   certificate revoked
 *  -TL_EEXPIRED   certificate expired, or the operation's deadline passed
 *  -TL_ESTATE     no operation pending */
int enroll_authorize(struct enroll *e, const struct enroll_cred *cred,
                     struct store_device *dev) TL_MUST_CHECK;

/* Install or upgrade: pub (with its DER SubjectPublicKeyInfo, optional)
 * must pass the key policy (-TL_EPOLICY); issues an LSC for the device,
 * records it, makes it the device certificate, revokes the LSC it
 * replaces (superseded; new CRL), clears the operation and the auth
 * string, and audits. The certificate's DER is appended to der. actor:
 * "capf" or "est". */
int enroll_install(struct enroll *e, const struct store_device *dev,
                   EVP_PKEY *pub, const uint8_t *spki, size_t spki_len,
                   const char *actor, struct buf *der) TL_MUST_CHECK;

/* Delete: revokes the device's LSC (cessationOfOperation), writes the new
 * CRL, clears the device certificate and the operation, audits. */
int enroll_delete(struct enroll *e, const struct store_device *dev,
                  const char *actor) TL_MUST_CHECK;

/* Fetch: the device's current certificate (appended to der;
 * -TL_ENOTFOUND when it has none). phone (optional) is what the phone
 * reported holding: the audit line says whether it matches. Clears the
 * operation. */
int enroll_fetch(struct enroll *e, const struct store_device *dev,
                 struct slice phone, const char *actor,
                 struct buf *der) TL_MUST_CHECK;

/* The site CA certificate (borrowed). */
X509 *enroll_ca_cert(const struct enroll *e);

/* "SEP" + 12 hex digits (any case) -> 12 upper-case hex digits. */
int enroll_device_mac(const char *name, char mac[13]) TL_MUST_CHECK;

/* A degenerate CMS SignedData holding certs (RFC 5652 §5, "certs-only",
 * RFC 7030 §4.1.3), DER, appended to out. */
int enroll_p7_certs(struct buf *out, const struct slice *certs,
                    size_t n) TL_MUST_CHECK;

#endif
