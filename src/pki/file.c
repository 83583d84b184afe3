/* Atomic files and printable names. */
#include "pki/pki.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int pki_file_write(const char *path, const void *p, size_t len, unsigned mode)
{
	char tmp[4096 + 16];
	const uint8_t *q = p;
	int fd, n, err = 0;

	n = snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		return -TL_ETOOBIG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		return -errno;
	}
	if (fchmod(fd, (mode_t)mode) < 0) {
		err = -errno;
		goto out;
	}
	while (len > 0) {
		ssize_t w = write(fd, q, len);

		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			err = -errno;
			goto out;
		}
		q += w;
		len -= (size_t)w;
	}
	if (fsync(fd) < 0) {
		err = -errno;
	}
out:
	if (close(fd) < 0 && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, path) < 0) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}

typedef int (*pem_writer)(BIO *b, void *obj);

static int write_pem(const char *path, pem_writer w, void *obj, unsigned mode,
                     bool secret)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int err;

	if (!b) {
		return -ENOMEM;
	}
	if (!w(b, obj)) {
		BIO_free(b);
		return -TL_ECRYPTO;
	}
	len = BIO_get_mem_data(b, &data);
	err = pki_file_write(path, data, (size_t)len, mode);
	if (secret) {
		OPENSSL_cleanse(data, (size_t)len);
	}
	BIO_free(b);
	return err;
}

static int w_cert(BIO *b, void *x)
{
	return PEM_write_bio_X509(b, x);
}

static int w_key(BIO *b, void *k)
{
	return PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
}

static int w_crl(BIO *b, void *c)
{
	return PEM_write_bio_X509_CRL(b, c);
}

int pki_cert_write(const char *path, X509 *x)
{
	return write_pem(path, w_cert, x, 0644, false);
}

int pki_pkey_write(const char *path, EVP_PKEY *key)
{
	return write_pem(path, w_key, key, 0600, true);
}

int pki_crl_write(const char *pem_path, const char *der_path, X509_CRL *crl)
{
	unsigned char *der = NULL;
	int len, err = 0;

	if (der_path) {
		len = i2d_X509_CRL(crl, &der);
		if (len <= 0) {
			return -TL_ECRYPTO;
		}
		err = pki_file_write(der_path, der, (size_t)len, 0644);
		OPENSSL_free(der);
	}
	if (!err && pem_path) {
		err = write_pem(pem_path, w_crl, crl, 0644, false);
	}
	return err;
}

int pki_cert_read(X509 **out, const char *path)
{
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (!f) {
		return -errno;
	}
	*out = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -TL_EPARSE;
}

int pki_crl_read(X509_CRL **out, const char *path)
{
	FILE *f = fopen(path, "r");

	*out = NULL;
	if (!f) {
		return -errno;
	}
	*out = PEM_read_X509_CRL(f, NULL, NULL, NULL);
	fclose(f);
	return *out ? 0 : -TL_EPARSE;
}

int pki_serial_hex(const X509 *x, char *out, size_t outlen)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	char *hex;
	size_t n;
	int err = 0;

	if (!bn) {
		return -TL_ECRYPTO;
	}
	hex = BN_bn2hex(bn);
	BN_free(bn);
	if (!hex) {
		return -ENOMEM;
	}
	n = strlen(hex);
	if (n >= outlen) {
		err = -TL_ETOOBIG;
	} else {
		for (size_t i = 0; i <= n; i++) {
			char c = hex[i];

			out[i] = (c >= 'A' && c <= 'F') ? (char)(c - 'A' + 'a')
			                                : c;
		}
	}
	OPENSSL_free(hex);
	return err;
}

int pki_name_str(const X509_NAME *n, char *out, size_t outlen)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data;
	long len;
	int err = 0;

	if (!b) {
		return -ENOMEM;
	}
	/* RFC 4514 order: most significant RDN last */
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		return -TL_ECRYPTO;
	}
	len = BIO_get_mem_data(b, &data);
	if ((size_t)len >= outlen) {
		err = -TL_ETOOBIG;
	} else {
		memcpy(out, data, (size_t)len);
		out[len] = '\0';
	}
	BIO_free(b);
	return err;
}
