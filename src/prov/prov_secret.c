/* Sealed line passwords (prov_secret.h): AES-256-GCM (NIST SP 800-38D)
 * with a random 96-bit nonce per seal. */
#include "prov/prov_secret.h"

#include "pki/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define NONCE_LEN 12
#define TAG_LEN   16
#define AAD       "trustline line secret v1"

int prov_secret_key_load(const char *pki_dir, bool create,
                         uint8_t key[PROV_SECRET_KEY_LEN])
{
	char path[4200];
	int fd, err = 0;
	ssize_t n;

	if (snprintf(path, sizeof(path), "%s/secrets.key", pki_dir) >=
	    (int)sizeof(path)) {
		return -TL_ETOOBIG;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (RAND_bytes(key, PROV_SECRET_KEY_LEN) != 1) {
			return -TL_ECRYPTO;
		}
		return pki_file_write(path, key, PROV_SECRET_KEY_LEN, 0600);
	}
	if (fd < 0) {
		return -errno;
	}
	n = read(fd, key, PROV_SECRET_KEY_LEN);
	if (n != PROV_SECRET_KEY_LEN) {
		err = n < 0 ? -errno : -TL_EPARSE;
	}
	close(fd);
	if (err) {
		OPENSSL_cleanse(key, PROV_SECRET_KEY_LEN);
	}
	return err;
}

static TL_MUST_CHECK int setting_key(const char *dn, char *out, size_t n)
{
	int l = snprintf(out, n, "line_secret.%s", dn);
	return l < 0 || (size_t)l >= n ? -TL_ETOOBIG : 0;
}

static TL_MUST_CHECK int gcm(bool enc, const uint8_t *key, const uint8_t *nonce,
                             const char *dn, const uint8_t *in, size_t len,
                             uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	if (!c) {
		return -ENOMEM;
	}
	ok = EVP_CipherInit_ex(c, EVP_aes_256_gcm(), NULL, NULL, NULL,
	                       enc ? 1 : 0) == 1 &&
	     EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) ==
	             1 &&
	     EVP_CipherInit_ex(c, NULL, NULL, key, nonce, -1) == 1 &&
	     EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)AAD,
	                      (int)sizeof(AAD)) == 1 &&
	     EVP_CipherUpdate(c, NULL, &n, (const uint8_t *)dn,
	                      (int)strlen(dn)) == 1 &&
	     EVP_CipherUpdate(c, out, &n, in, (int)len) == 1;
	if (ok && !enc) {
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
		                         tag) == 1;
	}
	if (ok) {
		ok = EVP_CipherFinal_ex(c, out + n, &n) == 1;
		if (!ok && !enc) {
			EVP_CIPHER_CTX_free(c);
			return -TL_EAUTH;
		}
	}
	if (ok && enc) {
		ok = EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, TAG_LEN,
		                         tag) == 1;
	}
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -TL_ECRYPTO;
}

int prov_secret_put(struct store *st, const uint8_t key[PROV_SECRET_KEY_LEN],
                    const char *dn, const char *password)
{
	uint8_t blob[NONCE_LEN + PROV_SECRET_PW_MAX + TAG_LEN];
	char text[4 + 4 * ((sizeof(blob) + 2) / 3) + 1];
	char name[STORE_KEY_MAX + 1];
	size_t len = strlen(password);
	int err;

	if (len == 0 || len >= PROV_SECRET_PW_MAX) {
		return -TL_EPARSE;
	}
	err = setting_key(dn, name, sizeof(name));
	if (err) {
		return err;
	}
	if (RAND_bytes(blob, NONCE_LEN) != 1) {
		return -TL_ECRYPTO;
	}
	err = gcm(true, key, blob, dn, (const uint8_t *)password, len,
	          blob + NONCE_LEN, blob + NONCE_LEN + len);
	if (!err) {
		memcpy(text, "v1:", 3);
		EVP_EncodeBlock((unsigned char *)text + 3, blob,
		                (int)(NONCE_LEN + len + TAG_LEN));
		err = store_setting_set(st, name, text);
	}
	OPENSSL_cleanse(blob, sizeof(blob));
	return err;
}

int prov_secret_get(struct store *st, const uint8_t key[PROV_SECRET_KEY_LEN],
                    const char *dn, char *out, size_t outlen)
{
	char text[STORE_VALUE_MAX + 1], name[STORE_KEY_MAX + 1];
	uint8_t blob[NONCE_LEN + PROV_SECRET_PW_MAX + TAG_LEN + 4];
	char pw[PROV_SECRET_PW_MAX + 1];
	char md5[33];
	struct store_line l;
	int n, err = setting_key(dn, name, sizeof(name));

	if (!err) {
		err = store_setting_get(st, name, text, sizeof(text));
	}
	if (err) {
		return err == -TL_ENOTFOUND ? err : err;
	}
	size_t tl = strlen(text);
	if (tl < 4 || memcmp(text, "v1:", 3) != 0 || (tl - 3) % 4 != 0 ||
	    (tl - 3) / 4 * 3 > sizeof(blob)) {
		return -TL_EPARSE;
	}
	n = EVP_DecodeBlock(blob, (const unsigned char *)text + 3,
	                    (int)(tl - 3));
	if (n < 0) {
		return -TL_EPARSE;
	}
	/* EVP_DecodeBlock counts the padding */
	n -= (text[tl - 1] == '=') + (text[tl - 2] == '=');
	if (n <= NONCE_LEN + TAG_LEN ||
	    n - NONCE_LEN - TAG_LEN > PROV_SECRET_PW_MAX) {
		return -TL_EPARSE;
	}
	size_t len = (size_t)n - NONCE_LEN - TAG_LEN;
	err = gcm(false, key, blob, dn, blob + NONCE_LEN, len, (uint8_t *)pw,
	          blob + NONCE_LEN + len);
	if (err) {
		goto out;
	}
	pw[len] = '\0';
	/* Never a stale copy: the password must still be the line's. */
	err = store_line_get(st, dn, &l);
	if (!err) {
		err = store_digest_ha1(STORE_DIGEST_MD5, *l.user ? l.user : dn,
		                       l.realm, pw, md5, sizeof(md5));
	}
	if (!err && (strlen(l.ha1_md5) != 32 ||
	             CRYPTO_memcmp(md5, l.ha1_md5, 32) != 0)) {
		err = -TL_ENOTFOUND;
	}
	if (!err && len + 1 > outlen) {
		err = -TL_ETOOBIG;
	}
	if (!err) {
		memcpy(out, pw, len + 1);
	}
	OPENSSL_cleanse(md5, sizeof(md5));
out:
	OPENSSL_cleanse(pw, sizeof(pw));
	OPENSSL_cleanse(blob, sizeof(blob));
	return err;
}
