/* Back-end independent key operations. */
#include "pki/pki_key_int.h"

#include <stdlib.h>

void pki_key_free(struct pki_key *k)
{
	if (!k) {
		return;
	}
	k->ops->free(k);
	if (k->pub != k->priv) {
		EVP_PKEY_free(k->pub);
	}
	free(k);
}

EVP_PKEY *pki_key_public(const struct pki_key *k)
{
	return k->pub;
}

int pki_key_sign(struct pki_key *k, const EVP_MD *md, const uint8_t *data,
                 size_t len, struct buf *sig)
{
	return k->ops->sign(k, md, data, len, sig);
}

int pki_verify(EVP_PKEY *pub, const EVP_MD *md, const uint8_t *data, size_t len,
               const uint8_t *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc;

	if (!ctx) {
		return -ENOMEM;
	}
	if (EVP_DigestVerifyInit(ctx, NULL, md, NULL, pub) != 1) {
		EVP_MD_CTX_free(ctx);
		return -TL_ECRYPTO;
	}
	rc = EVP_DigestVerify(ctx, sig, siglen, data, len);
	EVP_MD_CTX_free(ctx);
	return rc == 1 ? 0 : -TL_ESIG;
}
