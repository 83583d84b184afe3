/* Private keys by reference. Network-facing code and file signers never
 * hold a CA or SAST key: they hold a struct pki_key, which signs through
 * a PKCS#11 token (key_p11.c) or, for keys that may live in files
 * (phones' own keys, test vectors), an in-process EVP_PKEY (key_file.c).
 *
 * Ownership: pki_key_* constructors return a new object freed with
 * pki_key_free (NULL is a no-op). */
#ifndef TL_PKI_KEY_H
#define TL_PKI_KEY_H

#include "base/buf.h"
#include "base/tl_err.h"

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

struct pki_key;

/* A key held in a PEM file (0600). pass may be NULL. */
int pki_key_load_file(struct pki_key **out, const char *path,
                      const char *pass) TL_MUST_CHECK;
/* Wrap an EVP_PKEY (one reference is taken; the caller keeps its own). */
int pki_key_from_pkey(struct pki_key **out, EVP_PKEY *pkey) TL_MUST_CHECK;
/* A key in a PKCS#11 token, loaded through p11-kit: module path (NULL:
 * $TL_PKCS11_MODULE, else SoftHSM2's module; p11-kit's proxy module works
 * too), token label, key label (CKA_LABEL of the private key), user PIN.
 * The private key never leaves the token: we hash, the token signs (see
 * key_p11.c). The public half comes from the token's public key object or
 * its certificate with the same label. Not thread-safe (one session). */
int pki_key_open_p11(struct pki_key **out, const char *module,
                     const char *token_label, const char *key_label,
                     const char *pin) TL_MUST_CHECK;
void pki_key_free(struct pki_key *k);

/* The public half (borrowed; valid while k lives). */
EVP_PKEY *pki_key_public(const struct pki_key *k);

/* Sign data with hash md (EVP_sha1/sha256/sha512 ...). RSA keys give a
 * PKCS#1 v1.5 signature, EC keys a DER ECDSA-Sig-Value. The signature is
 * appended to sig. */
int pki_key_sign(struct pki_key *k, const EVP_MD *md, const uint8_t *data,
                 size_t len, struct buf *sig) TL_MUST_CHECK;

/* Verify with any public key (no private half needed): 0, -TL_ESIG, or
 * another error. */
int pki_verify(EVP_PKEY *pub, const EVP_MD *md, const uint8_t *data, size_t len,
               const uint8_t *sig, size_t siglen) TL_MUST_CHECK;

#endif
