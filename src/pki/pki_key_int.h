/* Private to src/pki: the key object and its back-end operations. */
#ifndef TL_PKI_KEY_INT_H
#define TL_PKI_KEY_INT_H

#include "pki/pki_key.h"

#include <errno.h>

struct pki_key_ops {
	int (*sign)(struct pki_key *k, const EVP_MD *md, const uint8_t *data,
	            size_t len, struct buf *sig);
	void (*free)(struct pki_key *k);
};

struct pki_key {
	const struct pki_key_ops *ops;
	EVP_PKEY *pub;  /* public half; for file keys the same object */
	EVP_PKEY *priv; /* file keys only; NULL for token keys */
	void *backend;  /* back-end state (PKCS#11 session, handles) */
};

extern const struct pki_key_ops pki_key_file_ops;

#endif
