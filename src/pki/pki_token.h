/* Security tokens (PKCS#11 v2.40): initialise a token, generate a key
 * pair that never leaves it, store a certificate beside the key, list
 * tokens. Signing with a token key is pki_key_open_p11 (pki_key.h).
 *
 * module: the PKCS#11 module path; NULL means $TL_PKCS11_MODULE, else
 * SoftHSM2's module. Each call loads the module, does its work and
 * releases it. PINs are secrets: never logged, wiped by the caller. */
#ifndef TL_PKI_TOKEN_H
#define TL_PKI_TOKEN_H

#include "base/tl_err.h"
#include "pki/pki.h"

#include <stdbool.h>
#include <stdint.h>

/* SoftHSM2 keeps its tokens where SOFTHSM2_CONF says. Make tokens_dir
 * hold a store/ directory and a softhsm2.conf naming it (when create is
 * true and they are missing), and point SOFTHSM2_CONF at that file
 * unless the environment already sets it. */
int pki_token_softhsm_env(const char *tokens_dir, bool create) TL_MUST_CHECK;

/* Read a PIN file (first line, at most pinlen - 1 bytes). */
int pki_token_pin_read(const char *path, char *pin,
                       size_t pinlen) TL_MUST_CHECK;

/* Initialise a free slot's token (C_InitToken), then set the user PIN
 * (C_InitPIN). -TL_EEXIST when a token with this label exists,
 * -TL_ENOTFOUND when no free slot is left. */
int pki_token_init(const char *module, const char *label, const char *so_pin,
                   const char *pin) TL_MUST_CHECK;

/* Generate a key pair in the token: private half CKA_TOKEN,
 * CKA_PRIVATE, CKA_SENSITIVE, not CKA_EXTRACTABLE; both halves labelled
 * key_label with CKA_ID id. -TL_EEXIST if such a key exists. */
int pki_token_keygen(const char *module, const char *label, const char *pin,
                     const char *key_label, uint8_t id,
                     enum pki_alg alg) TL_MUST_CHECK;

/* Store cert as a public CKO_CERTIFICATE object (replacing one with the
 * same label). */
int pki_token_put_cert(const char *module, const char *label, const char *pin,
                       const char *obj_label, uint8_t id,
                       X509 *cert) TL_MUST_CHECK;

/* 0 when the private key is sensitive, not extractable and its secret
 * attributes cannot be read; -TL_EPOLICY otherwise. */
int pki_token_key_protected(const char *module, const char *label,
                            const char *pin,
                            const char *key_label) TL_MUST_CHECK;

struct pki_token_info {
	unsigned long slot;
	char label[33];
	char serial[17];
	char model[17];
	char manufacturer[33];
	bool initialized;
	bool has_key;     /* a public key object is visible */
	char key_alg[16]; /* "rsa2048", "p256", ... */
	bool has_cert;
	char cert_serial[80];   /* lower-case hex */
	char cert_subject[256]; /* RFC 4514 */
	int64_t cert_not_after;
};

/* Calls h for every slot holding a token; h returning non-zero stops. */
typedef int (*pki_token_h)(const struct pki_token_info *t, void *arg);
int pki_token_list(const char *module, pki_token_h h, void *arg) TL_MUST_CHECK;

#endif
