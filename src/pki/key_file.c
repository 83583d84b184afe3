/* In-process keys: EVP_PKEY from a file or from the caller. */
#include "pki/pki_key_int.h"

#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>

int pki_key_from_pkey(struct pki_key **out, EVP_PKEY *pkey)
{
	struct pki_key *k;

	if (!pkey) {
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		return -ENOMEM;
	}
	if (!EVP_PKEY_up_ref(pkey)) {
		free(k);
		return -TL_ECRYPTO;
	}
	k->ops = &pki_key_file_ops;
	k->pub = pkey;
	k->priv = pkey;
	*out = k;
	return 0;
}

int pki_key_load_file(struct pki_key **out, const char *path,
		      const char *pass)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pkey;
	int err;

	if (!f) {
		return -errno;
	}
	pkey = PEM_read_PrivateKey(f, NULL, NULL, (void *)pass);
	fclose(f);
	if (!pkey) {
		return -TL_EPARSE;
	}
	err = pki_key_from_pkey(out, pkey);
	EVP_PKEY_free(pkey);
	return err;
}

static int file_sign(struct pki_key *k, const EVP_MD *md,
		     const uint8_t *data, size_t len, struct buf *sig)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t siglen = 0;
	int err = -TL_ECRYPTO;

	if (!ctx) {
		return -ENOMEM;
	}
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, k->priv) != 1 ||
	    EVP_DigestSign(ctx, NULL, &siglen, data, len) != 1) {
		goto out;
	}
	err = buf_reserve(sig, siglen);
	if (err) {
		goto out;
	}
	if (EVP_DigestSign(ctx, sig->p + sig->len, &siglen, data, len) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	sig->len += siglen;
	err = 0;
out:
	EVP_MD_CTX_free(ctx);
	return err;
}

static void file_free(struct pki_key *k)
{
	EVP_PKEY_free(k->priv);
}

const struct pki_key_ops pki_key_file_ops = {
	.sign = file_sign,
	.free = file_free,
};
