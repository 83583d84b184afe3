/* Token keys: the private key stays in a PKCS#11 token; we hash here and
 * ask the token for the raw signature operation. A pki_key from this file
 * holds one session and is not safe to share between threads. */
#include "pki/p11_int.h"
#include "pki/pki_key_int.h"

#include <openssl/ecdsa.h>
#include <openssl/obj_mac.h>
#include <stdlib.h>
#include <string.h>

struct key_p11 {
	struct p11 p;
	CK_OBJECT_HANDLE priv;
	CK_KEY_TYPE type;
};

/* RFC 8017 §9.2 note 1: DER of DigestInfo up to the digest itself. */
struct digest_info {
	int nid;
	size_t len;
	uint8_t prefix[19];
};

static const struct digest_info digest_infos[] = {
        {NID_sha1,
         15,
         {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a,
          0x05, 0x00, 0x04, 0x14}},
        {NID_sha224,
         19,
         {0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
          0x03, 0x04, 0x02, 0x04, 0x05, 0x00, 0x04, 0x1c}},
        {NID_sha256,
         19,
         {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
          0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}},
        {NID_sha384,
         19,
         {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
          0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}},
        {NID_sha512,
         19,
         {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65,
          0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}},
};

static int raw_sign(struct key_p11 *kp, CK_MECHANISM_TYPE mech,
                    const uint8_t *in, size_t inlen, uint8_t *sig,
                    CK_ULONG *siglen)
{
	CK_MECHANISM m = {mech, NULL, 0};
	CK_RV rv;

	rv = kp->p.f->C_SignInit(kp->p.s, &m, kp->priv);
	if (rv != CKR_OK) {
		return p11_err(rv);
	}
	rv = kp->p.f->C_Sign(kp->p.s, (CK_BYTE_PTR)in, (CK_ULONG)inlen, sig,
	                     siglen);
	return p11_err(rv);
}

static int p11_sign(struct pki_key *k, const EVP_MD *md, const uint8_t *data,
                    size_t len, struct buf *sig)
{
	struct key_p11 *kp = k->backend;
	uint8_t in[19 + EVP_MAX_MD_SIZE];
	uint8_t out[1024];
	CK_ULONG outlen = sizeof(out);
	unsigned int dlen = 0;
	size_t pre = 0;
	int err;

	if (kp->type == CKK_RSA) {
		const struct digest_info *di = NULL;

		for (size_t i = 0;
		     i < sizeof(digest_infos) / sizeof(digest_infos[0]); i++) {
			if (digest_infos[i].nid == EVP_MD_get_type(md)) {
				di = &digest_infos[i];
			}
		}
		if (!di) {
			return -TL_EUNKNOWN;
		}
		memcpy(in, di->prefix, di->len);
		pre = di->len;
	}
	if (EVP_Digest(data, len, in + pre, &dlen, md, NULL) != 1) {
		return -TL_ECRYPTO;
	}
	err = raw_sign(kp, kp->type == CKK_RSA ? CKM_RSA_PKCS : CKM_ECDSA, in,
	               pre + dlen, out, &outlen);
	if (err) {
		return err;
	}
	if (kp->type == CKK_RSA) {
		buf_put(sig, out, outlen);
		return buf_err(sig);
	}
	/* PKCS#11 v2.40 §2.3.1: ECDSA signatures are r || s, each half the
	 * length; X.509 and TLS want the DER ECDSA-Sig-Value (RFC 3279
	 * §2.2.3). */
	{
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r, *s;
		unsigned char *der = NULL;
		int dlen2;

		if (!es || outlen % 2) {
			ECDSA_SIG_free(es);
			return -TL_ECRYPTO;
		}
		r = BN_bin2bn(out, (int)(outlen / 2), NULL);
		s = BN_bin2bn(out + outlen / 2, (int)(outlen / 2), NULL);
		if (!r || !s || !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
			ECDSA_SIG_free(es);
			return -TL_ECRYPTO;
		}
		dlen2 = i2d_ECDSA_SIG(es, &der);
		ECDSA_SIG_free(es);
		if (dlen2 <= 0) {
			return -TL_ECRYPTO;
		}
		buf_put(sig, der, (size_t)dlen2);
		OPENSSL_free(der);
		return buf_err(sig);
	}
}

static void p11_key_free(struct pki_key *k)
{
	struct key_p11 *kp = k->backend;

	if (kp) {
		p11_close(&kp->p);
		free(kp);
	}
}

static const struct pki_key_ops pki_key_p11_ops = {
        .sign = p11_sign,
        .free = p11_key_free,
};

int pki_key_open_p11(struct pki_key **out, const char *module,
                     const char *token_label, const char *key_label,
                     const char *pin)
{
	struct pki_key *k = NULL;
	struct key_p11 *kp = NULL;
	CK_ATTRIBUTE a;
	int err;

	if (!token_label || !key_label) {
		return -EINVAL;
	}
	k = calloc(1, sizeof(*k));
	kp = calloc(1, sizeof(*kp));
	if (!k || !kp) {
		free(k);
		free(kp);
		return -ENOMEM;
	}
	k->ops = &pki_key_p11_ops;
	k->backend = kp;
	err = p11_load(&kp->p, module);
	if (err) {
		goto out;
	}
	err = p11_find_token(&kp->p, token_label, &kp->p.slot);
	if (!err) {
		err = p11_open(&kp->p, pin);
	}
	if (!err) {
		err = p11_find_obj(&kp->p, CKO_PRIVATE_KEY, key_label,
		                   &kp->priv);
	}
	if (err) {
		goto out;
	}
	a = (CK_ATTRIBUTE){CKA_KEY_TYPE, &kp->type, sizeof(kp->type)};
	if (kp->p.f->C_GetAttributeValue(kp->p.s, kp->priv, &a, 1) != CKR_OK) {
		err = -TL_ECRYPTO;
		goto out;
	}
	if (kp->type != CKK_RSA && kp->type != CKK_EC) {
		err = -TL_EUNKNOWN;
		goto out;
	}
	err = p11_public(&kp->p, key_label, &k->pub);
out:
	if (err) {
		pki_key_free(k);
		return err;
	}
	*out = k;
	return 0;
}
