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

int pki_key_load_file(struct pki_key **out, const char *path, const char *pass)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pkey;
	int err;

	if (!f) {
		return -errno;
	}
	/* STYLE 12: unbuffered, so that no stdio buffer holding the key's
	 * PEM is freed unwiped; OpenSSL reads private keys into secure,
	 * cleansed memory. */
	setvbuf(f, NULL, _IONBF, 0);
	pkey = PEM_read_PrivateKey(f, NULL, NULL, (void *)pass);
	fclose(f);
	if (!pkey) {
		return -TL_EPARSE;
	}
	err = pki_key_from_pkey(out, pkey);
	EVP_PKEY_free(pkey);
	return err;
}

/* The signing context is kept between calls (a pki_key is not shared
 * between threads): setting one up costs a tenth of an ECDSA signature in
 * OpenSSL 3.0. We hash, then sign the digest: for RSA the context adds
 * the DigestInfo (RFC 8017 §9.2), for ECDSA the result is the DER
 * ECDSA-Sig-Value. */
struct file_ctx {
	EVP_PKEY_CTX *ctx;
	EVP_MD *md; /* fetched once: EVP_sha256() is fetched per use */
	int md_type;
};

static int file_sign(struct pki_key *k, const EVP_MD *md, const uint8_t *data,
                     size_t len, struct buf *sig)
{
	struct file_ctx *fc = k->backend;
	uint8_t dgst[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	size_t siglen = 0;
	int err;

	if (!fc) {
		fc = calloc(1, sizeof(*fc));
		if (!fc) {
			return -ENOMEM;
		}
		k->backend = fc;
	}
	if (!fc->ctx || fc->md_type != EVP_MD_get_type(md)) {
		EVP_PKEY_CTX_free(fc->ctx);
		EVP_MD_free(fc->md);
		fc->md = EVP_MD_fetch(NULL, EVP_MD_get0_name(md), NULL);
		fc->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->priv, NULL);
		if (!fc->md || !fc->ctx || EVP_PKEY_sign_init(fc->ctx) != 1 ||
		    EVP_PKEY_CTX_set_signature_md(fc->ctx, md) != 1) {
			EVP_PKEY_CTX_free(fc->ctx);
			EVP_MD_free(fc->md);
			fc->ctx = NULL;
			fc->md = NULL;
			return -TL_ECRYPTO;
		}
		fc->md_type = EVP_MD_get_type(md);
	}
	/* the key's maximum signature size, without a sizing call */
	siglen = (size_t)EVP_PKEY_get_size(k->priv);
	if (EVP_Digest(data, len, dgst, &dlen, fc->md, NULL) != 1 ||
	    siglen == 0) {
		return -TL_ECRYPTO;
	}
	err = buf_reserve(sig, siglen);
	if (err) {
		return err;
	}
	if (EVP_PKEY_sign(fc->ctx, sig->p + sig->len, &siglen, dgst, dlen) !=
	    1) {
		return -TL_ECRYPTO;
	}
	sig->len += siglen;
	return 0;
}

static void file_free(struct pki_key *k)
{
	struct file_ctx *fc = k->backend;

	if (fc) {
		EVP_PKEY_CTX_free(fc->ctx);
		EVP_MD_free(fc->md);
		free(fc);
	}
	EVP_PKEY_free(k->priv);
}

const struct pki_key_ops pki_key_file_ops = {
        .sign = file_sign,
        .free = file_free,
};
