/* Encrypted configs (*.enc.sgn, format 2.0; docs/formats/enc-sgn.md):
 * AES-128-CBC of the config padded with CR bytes, the content key carried
 * to the device's certificate key, the whole file signed like a .sgn. */
#include "trust/trust_int.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#define AES_KEY_LEN  16
#define AES_BLOCK    16
#define P256_POINT   65                /* X9.62 uncompressed */
#define WRAPPED_LEN  (AES_KEY_LEN + 8) /* RFC 3394 §2.2.1 */
#define EC_KEY_FIELD (P256_POINT + WRAPPED_LEN)
#define MAX_CONFIG   (16u * 1024 * 1024)

static const char hkdf_label[] = "trustline enc.sgn key wrap v1";

static bool is_p256(EVP_PKEY *k)
{
	char group[64];
	size_t n = 0;

	return EVP_PKEY_get_base_id(k) == EVP_PKEY_EC &&
	       EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME,
	                                      group, sizeof(group), &n) &&
	       !strcmp(group, "prime256v1");
}

/* KEK = HKDF-SHA256(IKM = Z, salt = none, info = label || Q_e || Q_r),
 * RFC 5869; both points X9.62 uncompressed. */
static int ecdh_kek(EVP_PKEY *priv, EVP_PKEY *peer, const uint8_t *qe,
                    const uint8_t *qr, uint8_t kek[AES_KEY_LEN])
{
	EVP_PKEY_CTX *dctx = EVP_PKEY_CTX_new(priv, NULL);
	EVP_PKEY_CTX *kctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	uint8_t z[32], info[sizeof(hkdf_label) - 1 + 2 * P256_POINT];
	size_t zlen = sizeof(z), klen = AES_KEY_LEN;
	int err = -TL_ECRYPTO;

	if (!dctx || !kctx) {
		err = -ENOMEM;
		goto out;
	}
	/* No public-key validation in set_peer: it would multiply the
	 * point by the group order, as costly as the ECDH itself. Both
	 * callers' points were decoded by OpenSSL, which checks that they
	 * lie on P-256, and P-256 has cofactor 1: a point on the curve is
	 * in the group (SP 800-56A 5.6.2.3.4, partial validation). */
	if (EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(dctx, peer, 0) != 1 ||
	    EVP_PKEY_derive(dctx, z, &zlen) != 1 || zlen != sizeof(z)) {
		goto out;
	}
	memcpy(info, hkdf_label, sizeof(hkdf_label) - 1);
	memcpy(info + sizeof(hkdf_label) - 1, qe, P256_POINT);
	memcpy(info + sizeof(hkdf_label) - 1 + P256_POINT, qr, P256_POINT);
	if (EVP_PKEY_derive_init(kctx) != 1 ||
	    EVP_PKEY_CTX_set_hkdf_md(kctx, EVP_sha256()) != 1 ||
	    EVP_PKEY_CTX_set1_hkdf_key(kctx, z, (int)zlen) != 1 ||
	    EVP_PKEY_CTX_add1_hkdf_info(kctx, info, (int)sizeof(info)) != 1 ||
	    EVP_PKEY_derive(kctx, kek, &klen) != 1 || klen != AES_KEY_LEN) {
		goto out;
	}
	err = 0;
out:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(kctx);
	return err;
}

/* AES key wrap, RFC 3394 (the key is a multiple of 8 bytes, so the
 * RFC 5649 padded variant is not needed). */
static int aes_wrap(bool wrap, const uint8_t kek[AES_KEY_LEN],
                    const uint8_t *in, size_t inlen, uint8_t *out,
                    size_t *outlen)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, ok;

	if (!c) {
		return -ENOMEM;
	}
	EVP_CIPHER_CTX_set_flags(c, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	ok = EVP_CipherInit_ex(c, EVP_aes_128_wrap(), NULL, kek, NULL,
	                       wrap ? 1 : 0) == 1 &&
	     EVP_CipherUpdate(c, out, &n, in, (int)inlen) == 1 &&
	     EVP_CipherFinal_ex(c, out + n, &f) == 1;
	EVP_CIPHER_CTX_free(c);
	*outlen = (size_t)(n + f);
	return ok ? 0 : -TL_ECRYPTO;
}

static int point_of(EVP_PKEY *k, uint8_t out[P256_POINT])
{
	unsigned char *pt = NULL;
	size_t n = EVP_PKEY_get1_encoded_public_key(k, &pt);
	int err = 0;

	if (n != P256_POINT || !pt || pt[0] != 4) {
		err = -TL_ECRYPTO;
	} else {
		memcpy(out, pt, P256_POINT);
	}
	OPENSSL_free(pt);
	return err;
}

static int wrap_key_ec(EVP_PKEY *dev, const uint8_t key[AES_KEY_LEN],
                       uint8_t out[EC_KEY_FIELD])
{
	EVP_PKEY *eph = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	uint8_t qr[P256_POINT], kek[AES_KEY_LEN];
	size_t wlen = 0;
	int err;

	if (!eph) {
		return -TL_ECRYPTO;
	}
	err = point_of(eph, out);
	if (!err) {
		err = point_of(dev, qr);
	}
	if (!err) {
		err = ecdh_kek(eph, dev, out, qr, kek);
	}
	if (!err) {
		err = aes_wrap(true, kek, key, AES_KEY_LEN, out + P256_POINT,
		               &wlen);
	}
	if (!err && wlen != WRAPPED_LEN) {
		err = -TL_ECRYPTO;
	}
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_PKEY_free(eph);
	return err;
}

static int unwrap_key_ec(EVP_PKEY *dev, struct slice field,
                         uint8_t key[AES_KEY_LEN])
{
	uint8_t qr[P256_POINT], kek[AES_KEY_LEN], tmp[WRAPPED_LEN];
	EVP_PKEY *peer = EVP_PKEY_new();
	size_t n = 0;
	int err = -TL_EAUTH;

	if (!peer) {
		return -ENOMEM;
	}
	if (field.len != EC_KEY_FIELD || !is_p256(dev) ||
	    EVP_PKEY_copy_parameters(peer, dev) != 1 ||
	    EVP_PKEY_set1_encoded_public_key(peer, field.p, P256_POINT) != 1) {
		goto out;
	}
	err = point_of(dev, qr);
	if (!err) {
		err = ecdh_kek(dev, peer, field.p, qr, kek);
	}
	if (!err) {
		err = aes_wrap(false, kek, field.p + P256_POINT, WRAPPED_LEN,
		               tmp, &n);
	}
	if (!err && n != AES_KEY_LEN) {
		err = -TL_EAUTH;
	}
	if (!err) {
		memcpy(key, tmp, AES_KEY_LEN);
	} else {
		err = -TL_EAUTH;
	}
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	OPENSSL_cleanse(kek, sizeof(kek));
	EVP_PKEY_free(peer);
	return err;
}

static int rsa_crypt(bool enc, EVP_PKEY *k, const uint8_t *in, size_t inlen,
                     struct buf *out)
{
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(k, NULL);
	size_t n = 0;
	int ok, err;

	if (!c) {
		return -ENOMEM;
	}
	ok = (enc ? EVP_PKEY_encrypt_init(c) : EVP_PKEY_decrypt_init(c)) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) == 1 &&
	     (enc ? EVP_PKEY_encrypt(c, NULL, &n, in, inlen)
	          : EVP_PKEY_decrypt(c, NULL, &n, in, inlen)) == 1;
	if (!ok || (err = buf_reserve(out, n))) {
		EVP_PKEY_CTX_free(c);
		return ok ? -ENOMEM : -TL_ECRYPTO;
	}
	ok = (enc ? EVP_PKEY_encrypt(c, out->p + out->len, &n, in, inlen)
	          : EVP_PKEY_decrypt(c, out->p + out->len, &n, in, inlen)) == 1;
	EVP_PKEY_CTX_free(c);
	if (!ok) {
		return enc ? -TL_ECRYPTO : -TL_EAUTH;
	}
	out->len += n;
	return 0;
}

static int aes_cbc(bool enc, const uint8_t key[AES_KEY_LEN],
                   const uint8_t iv[AES_BLOCK], const uint8_t *in, size_t len,
                   uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, f = 0, ok;

	if (!c) {
		return -ENOMEM;
	}
	ok = EVP_CipherInit_ex(c, EVP_aes_128_cbc(), NULL, key, iv,
	                       enc ? 1 : 0) == 1 &&
	     EVP_CIPHER_CTX_set_padding(c, 0) == 1 &&
	     EVP_CipherUpdate(c, out, &n, in, (int)len) == 1 &&
	     EVP_CipherFinal_ex(c, out + n, &f) == 1 && (size_t)(n + f) == len;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -TL_ECRYPTO;
}

int trust_enc_build(struct buf *out, const struct trust_sign *s,
                    X509 *device_cert, struct slice plain)
{
	return trust_enc_build_key(
	        out, s, device_cert ? X509_get0_pubkey(device_cert) : NULL,
	        plain);
}

int trust_enc_build_key(struct buf *out, const struct trust_sign *s,
                        EVP_PKEY *dev, struct slice plain)
{
	uint8_t key[AES_KEY_LEN], iv[AES_BLOCK], ec_field[EC_KEY_FIELD];
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;
	struct trust_signer_buf sb;
	struct tlv_hdr h = {0};
	struct buf wrapped, body;
	size_t siglen, pad;
	int err;

	buf_init(&wrapped, 0);
	buf_init(&body, 0);
	if (!dev || plain.len > MAX_CONFIG) {
		return -EINVAL;
	}
	err = trust_fill_signer(&h, s, &sb, &siglen);
	if (err) {
		return err;
	}
	if (RAND_bytes(key, sizeof(key)) != 1 ||
	    RAND_bytes(iv, sizeof(iv)) != 1) {
		return -TL_ECRYPTO;
	}
	if (EVP_PKEY_get_base_id(dev) == EVP_PKEY_RSA) {
		h.enc_keywrap = TLV_KEYWRAP_RSA;
		err = rsa_crypt(true, dev, key, sizeof(key), &wrapped);
		h.enc_key = buf_slice(&wrapped);
	} else if (is_p256(dev)) {
		h.enc_keywrap = TLV_KEYWRAP_ECDH_P256;
		err = wrap_key_ec(dev, key, ec_field);
		h.enc_key = slice_make(ec_field, sizeof(ec_field));
	} else {
		err = -TL_EPOLICY; /* neither RSA nor P-256 */
	}
	if (err) {
		goto out;
	}
	/* enc-sgn.md §3: hash of the plaintext, with the signature's hash. */
	if (!EVP_Digest(plain.p, plain.len, digest, &dlen,
	                trust_hash_md(h.hash_alg), NULL)) {
		err = -TL_ECRYPTO;
		goto out;
	}
	/* Pad with CR to the block size: always 1..16 bytes. */
	pad = AES_BLOCK - plain.len % AES_BLOCK;
	buf_put_slice(&body, plain);
	for (size_t i = 0; i < pad; i++) {
		buf_put_u8(&body, '\r');
	}
	err = buf_err(&body);
	if (!err) {
		err = aes_cbc(true, key, iv, body.p, body.len, body.p);
	}
	if (err) {
		goto out;
	}
	h.ver_major = 2;
	h.ver_minor = 0;
	h.enc_iv_alg = 0;
	h.enc_iv = slice_make(iv, sizeof(iv));
	h.enc_pad = (uint16_t)pad;
	h.enc_key_bits = AES_KEY_LEN * 8;
	h.enc_key_alg = 1;
	h.enc_hash_alg = h.hash_alg;
	h.enc_hash = slice_make(digest, dlen);
	err = trust_write_signed(out, TLV_KIND_ENC, &h, NULL, 0,
	                         buf_slice(&body), siglen, s);
out:
	OPENSSL_cleanse(key, sizeof(key));
	buf_free_secret(&body);
	buf_free(&wrapped);
	return err;
}

int trust_enc_open(struct slice file, const struct trust_ctl *ctl,
                   const struct trust_opts *o, EVP_PKEY *device_key,
                   struct buf *plain, const char **why)
{
	uint8_t key[AES_KEY_LEN], digest[EVP_MAX_MD_SIZE];
	const char *dummy = NULL;
	const struct tlv_hdr *h;
	unsigned int dlen = 0;
	struct buf kb, dec;
	struct tlv_file f;
	const EVP_MD *md;
	size_t n;
	int err;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	buf_init(&kb, 0);
	buf_init(&dec, 0);
	err = tlv_parse(&f, TLV_KIND_ENC, file.p, file.len, why);
	if (err) {
		return err;
	}
	h = &f.hdr;
	if (ctl) {
		err = trust_check_file_signer(&f, file.p, file.len, ctl, o,
		                              why);
		if (err) {
			goto out;
		}
	}
	n = f.content.len;
	md = trust_hash_md(h->enc_hash_alg);
	if (h->enc_iv_alg != 0 || h->enc_key_alg != 1 ||
	    h->enc_key_bits != AES_KEY_LEN * 8) {
		*why = "unsupported encryption algorithm";
		err = -TL_EUNKNOWN;
		goto out;
	}
	if (n == 0 || n % AES_BLOCK || h->enc_pad < 1 ||
	    h->enc_pad > AES_BLOCK || !md ||
	    h->enc_hash.len != (size_t)EVP_MD_get_size(md)) {
		*why = "encrypted body, padding or content hash malformed";
		err = -TL_EPARSE;
		goto out;
	}
	if (h->enc_keywrap == TLV_KEYWRAP_RSA) {
		if (EVP_PKEY_get_base_id(device_key) != EVP_PKEY_RSA) {
			*why = "file is encrypted to an RSA key";
			err = -TL_EAUTH;
			goto out;
		}
		err = rsa_crypt(false, device_key, h->enc_key.p, h->enc_key.len,
		                &kb);
		if (!err && kb.len != AES_KEY_LEN) {
			err = -TL_EAUTH;
		}
		if (!err) {
			memcpy(key, kb.p, AES_KEY_LEN);
		}
	} else if (h->enc_keywrap == TLV_KEYWRAP_ECDH_P256) {
		err = unwrap_key_ec(device_key, h->enc_key, key);
	} else {
		*why = "unknown key transport";
		err = -TL_EUNKNOWN;
		goto out;
	}
	if (err) {
		*why = "content key does not decrypt with this device key";
		err = -TL_EAUTH;
		goto out;
	}
	err = buf_reserve(&dec, n);
	if (!err) {
		err = aes_cbc(false, key, h->enc_iv.p, f.content.p, n, dec.p);
	}
	if (err) {
		goto out;
	}
	dec.len = n - h->enc_pad;
	/* The padding is CR bytes; anything else is a damaged body. */
	for (size_t i = dec.len; i < n; i++) {
		if (dec.p[i] != '\r') {
			*why = "encrypted body padding is damaged";
			err = -TL_EAUTH;
			goto out;
		}
	}
	if (!EVP_Digest(dec.p, dec.len, digest, &dlen, md, NULL)) {
		err = -TL_ECRYPTO;
		goto out;
	}
	if (CRYPTO_memcmp(digest, h->enc_hash.p, dlen) != 0) {
		*why = "decrypted content does not match its hash";
		err = -TL_EAUTH;
		goto out;
	}
	buf_put(plain, dec.p, dec.len);
	err = buf_err(plain);
out:
	OPENSSL_cleanse(key, sizeof(key));
	buf_free_secret(&kb);
	buf_free_secret(&dec);
	tlv_file_clear(&f);
	return err;
}

int trust_enc_verify(struct slice file, const struct trust_ctl *ctl,
                     const struct trust_opts *o, const char **why)
{
	const char *dummy = NULL;
	struct tlv_file f;
	int err;

	if (!why) {
		why = &dummy;
	}
	*why = NULL;
	err = tlv_parse(&f, TLV_KIND_ENC, file.p, file.len, why);
	if (err) {
		return err;
	}
	err = trust_check_file_signer(&f, file.p, file.len, ctl, o, why);
	tlv_file_clear(&f);
	return err;
}
