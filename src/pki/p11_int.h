/* Private to src/pki: the PKCS#11 plumbing shared by the token key
 * back-end (key_p11.c) and token administration (token.c). Modules are
 * loaded through p11-kit in managed mode, so several users in one process
 * each get their own initialisation (PKCS#11 v2.40 §5.4 C_Initialize). */
#ifndef TL_PKI_P11_INT_H
#define TL_PKI_P11_INT_H

#include "base/buf.h"
#include "base/tl_err.h"

#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>
#include <stdbool.h>

struct p11 {
	CK_FUNCTION_LIST *f;
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	bool has_session;
	bool logged_in;
};

/* The module to use when the caller gives none: $TL_PKCS11_MODULE, else
 * SoftHSM2's. */
const char *p11_module_path(const char *module);
/* Map a Cryptoki return value to our error catalogue. */
int p11_err(CK_RV rv);

int p11_load(struct p11 *p, const char *module) TL_MUST_CHECK;
/* Logs out, closes the session and releases the module. */
void p11_close(struct p11 *p);

/* The slot whose initialised token has this label (-TL_ENOTFOUND). */
int p11_find_token(struct p11 *p, const char *label,
                   CK_SLOT_ID *slot) TL_MUST_CHECK;
/* Open a read/write session on p->slot; log in when pin is not NULL. */
int p11_open(struct p11 *p, const char *pin) TL_MUST_CHECK;
/* Find one object of class cls and label (NULL: any label). */
int p11_find_obj(struct p11 *p, CK_OBJECT_CLASS cls, const char *label,
                 CK_OBJECT_HANDLE *obj) TL_MUST_CHECK;
/* Read one attribute into out (appended). */
int p11_attr(struct p11 *p, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type,
             struct buf *out) TL_MUST_CHECK;
/* The public key of the pair labelled label: from its public key object,
 * else from a certificate with the same label. */
int p11_public(struct p11 *p, const char *label, EVP_PKEY **out) TL_MUST_CHECK;
/* Copy a blank-padded Cryptoki string into a C string. */
void p11_str(char *dst, size_t dstlen, const CK_UTF8CHAR *src, size_t srclen);
/* Fill a blank-padded 32-byte label. */
int p11_label(CK_UTF8CHAR dst[32], const char *label) TL_MUST_CHECK;

#endif
