/* PKCS#10 requests taken apart without an X509_REQ (csr.c): the
 * enrolment hot path. OpenSSL 3.0 decodes the key of every X509_REQ it
 * parses through its provider decoder chain, several signatures' worth
 * of CPU; here the key is decoded once, by pki_spki_decode. */
#ifndef TL_PKI_CSR_H
#define TL_PKI_CSR_H

#include "base/slice.h"
#include "base/tl_err.h"

#include <openssl/x509.h>
#include <stddef.h>
#include <stdint.h>

/* What a request carries, decoded. The caller owns it (pki_csr_clear;
 * a zeroed one is a no-op); spki is a slice of the input, which must
 * outlive it. */
struct pki_csr {
	X509_NAME *subject;
	STACK_OF(X509_ATTRIBUTE) * attrs;
	EVP_PKEY *pub;
	struct slice spki; /* DER SubjectPublicKeyInfo */
};

/* A DER request (at most 64 KiB) with the checks of pki_csr_parse: its
 * key within pki_key_policy, its self-signature valid (RFC 2986 §3). The
 * DER is held to stricter rules than d2i_X509_REQ's: definite minimal
 * lengths at every level walked, version 0, attributes present, nothing
 * after the request. -TL_ETRUNC (empty), -TL_ETOOBIG, -TL_EPARSE,
 * -TL_ETRAIL, -TL_EPOLICY (key refused), -TL_ESIG (bad signature). */
int pki_csr_decode(struct pki_csr *out, const uint8_t *p,
                   size_t len) TL_MUST_CHECK;
void pki_csr_clear(struct pki_csr *c);

/* One DER TLV read from c (X.690 §8.1, §10.1): the tag must be want,
 * the length definite, in its minimal form and at most 65535. val is the
 * value; whole, if not NULL, the TLV with its header. -TL_EPARSE. */
struct cur;
int pki_der_tlv(struct cur *c, uint8_t want, struct cur *val,
                struct slice *whole) TL_MUST_CHECK;

#endif
