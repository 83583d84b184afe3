/* Trust files a Cisco-compatible phone reads: the Certificate Trust List
 * (CTLFile.tlv) and Initial Trust List (ITLFile.tlv), signed files (*.sgn)
 * and encrypted configs (*.enc.sgn). Building, signing, verifying, and the
 * trust rules (docs/formats/ctl.md §5):
 *   - a CTL is signed by a SAST listed in it; a new CTL is accepted only if
 *     its signer is a SAST of the CTL the verifier holds (same serial and
 *     the same certificate), a first CTL only on explicit first use;
 *   - a CTL lists at most two SASTs; one for mixed mode needs two;
 *   - a .sgn or .enc.sgn is accepted only from a certificate holding the
 *     TFTP or CCM+TFTP role in the CTL;
 *   - signers must be within their validity period and not revoked.
 * No network, no files: callers pass bytes (src/cli reads and writes).
 *
 * Ownership: trust_ctl_parse returns an object freed by trust_ctl_free
 * (NULL is a no-op); it keeps its own copy of the bytes. X509 pointers
 * handed out are borrowed from it. Record certificates are decoded on
 * first use and cached in the object, so a trust_ctl shared between
 * threads needs the caller's lock (or one trust_ctl_count/entry pass over
 * every record before sharing). A record whose certificate does not
 * decode, or whose serial differs from its certificate's, is never
 * trusted. */
#ifndef TL_TRUST_H
#define TL_TRUST_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "codec/tlv/tlv.h"
#include "pki/pki_key.h"

#include <openssl/x509.h>
#include <stdbool.h>
#include <stdint.h>

struct trust_ctl;

/* Role codes are the record's tag-4 values (enum tlv_role). */

/* How a signature is made. */
struct trust_sign {
	struct pki_key *key;  /* RSA: phones verify PKCS#1 v1.5 only */
	X509 *cert;           /* the certificate of key */
	const EVP_MD *md;     /* NULL: SHA-512; SHA-1 and SHA-256 allowed */
	const char *filename; /* header tag 14, e.g. "CTLFile.tlv" */
	uint32_t timestamp;   /* 0: now */
};

/* How a signature is checked. */
struct trust_opts {
	int64_t now;    /* 0: the current time */
	X509_CRL *crl;  /* NULL: no revocation check */
	bool first_use; /* accept a CTL without a previous one */
};

/* ---- CTL / ITL ---- */

enum {
	TRUST_BUILD_MIXED = 1, /* mixed mode: two SAST records required */
};

/* Build and sign a CTL or ITL listing certs[i] with roles[i]. The signer
 * must be one of the SAST records. Appends the file to out. */
int trust_ctl_build(struct buf *out, const struct trust_sign *s,
                    X509 *const *certs, const uint16_t *roles, size_t n,
                    unsigned flags) TL_MUST_CHECK;

/* Parse (grammar, certificates; nothing is trusted yet). */
int trust_ctl_parse(struct trust_ctl **out, const uint8_t *p, size_t len,
                    const char **why) TL_MUST_CHECK;
void trust_ctl_free(struct trust_ctl *ctl);

/* Check the signature and the trust rules: the signer is a SAST of ctl and
 * (with prev) a SAST of prev with the same certificate; without prev only
 * when o->first_use. 0, -TL_ESIG, -TL_ETRUST, -TL_EPOLICY, -TL_EEXPIRED,
 * -TL_EREVOKED; *why says which rule failed. */
int trust_ctl_verify(const struct trust_ctl *ctl, const struct trust_ctl *prev,
                     const struct trust_opts *o,
                     const char **why) TL_MUST_CHECK;

struct trust_entry {
	uint16_t role;
	X509 *cert;           /* borrowed */
	struct slice serial;  /* raw bytes, borrowed */
	struct slice subject; /* as written in the record, borrowed */
};

size_t trust_ctl_count(const struct trust_ctl *ctl);
int trust_ctl_entry(const struct trust_ctl *ctl, size_t i,
                    struct trust_entry *e) TL_MUST_CHECK;
/* The parsed header (borrowed view). */
const struct tlv_hdr *trust_ctl_header(const struct trust_ctl *ctl);
struct slice trust_ctl_bytes(const struct trust_ctl *ctl);
/* The record certificate that signed ctl (a SAST of ctl matching the
 * header serial whose key verifies the signature), or NULL. */
X509 *trust_ctl_signer(const struct trust_ctl *ctl);

/* Whether cert (compared whole) holds role in ctl. CCM+TFTP counts as both
 * CCM and TFTP. */
bool trust_ctl_has_role(const struct trust_ctl *ctl, X509 *cert, uint16_t role);
/* The same by raw serial bytes alone. */
bool trust_ctl_serial_has_role(const struct trust_ctl *ctl, struct slice serial,
                               uint16_t role);

/* ---- .sgn ---- */

/* Sign content into a format 1.0 signed file. */
int trust_sgn_build(struct buf *out, const struct trust_sign *s,
                    struct slice content) TL_MUST_CHECK;
/* Verify a signed file against ctl (signer: TFTP or CCM+TFTP role) and
 * return the original bytes as a slice into file. */
int trust_sgn_verify(struct slice file, const struct trust_ctl *ctl,
                     const struct trust_opts *o, struct slice *content,
                     const char **why) TL_MUST_CHECK;

/* ---- .enc.sgn ---- */

/* Encrypt plain to device_cert (RSA: Cisco's PKCS#1 v1.5 key transport;
 * EC P-256: ours, docs/formats/enc-sgn.md) and sign. */
int trust_enc_build(struct buf *out, const struct trust_sign *s,
                    X509 *device_cert, struct slice plain) TL_MUST_CHECK;
/* The same with the device certificate's public key. */
int trust_enc_build_key(struct buf *out, const struct trust_sign *s,
                        EVP_PKEY *dev, struct slice plain) TL_MUST_CHECK;
/* Check only the signature of an encrypted config against ctl (no key
 * needed): what a TFTP server or an administrator can check. */
int trust_enc_verify(struct slice file, const struct trust_ctl *ctl,
                     const struct trust_opts *o,
                     const char **why) TL_MUST_CHECK;
/* Verify against ctl (skipped when ctl is NULL: the content hash is still
 * checked), decrypt with the device's private key, append to plain. */
int trust_enc_open(struct slice file, const struct trust_ctl *ctl,
                   const struct trust_opts *o, EVP_PKEY *device_key,
                   struct buf *plain, const char **why) TL_MUST_CHECK;

/* ---- helpers ---- */

/* certHash of the .cnf.xml.sgn stub: hex MD5 of the DER certificate,
 * lower case, NUL-terminated. */
int trust_cert_hash(X509 *cert, char out[33]) TL_MUST_CHECK;
/* Hex SHA-256 fingerprint of the DER certificate (65 bytes). */
int trust_cert_sha256(X509 *cert, char out[65]) TL_MUST_CHECK;
/* A name as we write it in trust files: "CN=a;OU=b;O=c" in certificate
 * order, RFC 4514 escaping inside values. */
int trust_dn_string(const X509_NAME *name, char *out,
                    size_t outlen) TL_MUST_CHECK;
/* Lower-case hex of raw serial bytes. */
void trust_hex(struct slice s, char *out, size_t outlen);
/* "sha1", "sha256", "sha512" -> EVP_MD, or NULL. */
const EVP_MD *trust_md_by_name(const char *name);

#endif
