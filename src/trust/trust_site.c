/* Trust files of a site directory, and file helpers for the trust
 * commands. */
#include "trust/trust_site.h"
#include "trust/trust.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATHLEN  4096
#define MAX_CERT (64 * 1024)

int trust_file_read(const char *path, size_t max, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0) {
		return -errno;
	}
	for (;;) {
		ssize_t n;

		err = buf_reserve(out, 65536);
		if (err) {
			break;
		}
		n = read(fd, out->p + out->len, 65536);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			err = -errno;
			break;
		}
		if (n == 0) {
			break;
		}
		out->len += (size_t)n;
		if (max && out->len > max) {
			err = -TL_ETOOBIG;
			break;
		}
	}
	close(fd);
	return err;
}

int trust_file_write(const char *path, const void *p, size_t len, mode_t mode)
{
	char tmp[PATHLEN];
	const uint8_t *q = p;
	int fd, n, err = 0;

	/* a unique name beside the target (mkstemp: 0600 until the fchmod
	 * below), so that a temporary file left by a crashed writer never
	 * blocks the next write */
	n = snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		return -ENAMETOOLONG;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		return -errno;
	}
	while (len) {
		ssize_t w = write(fd, q, len);

		if (w < 0) {
			if (errno == EINTR) {
				continue;
			}
			err = -errno;
			break;
		}
		q += w;
		len -= (size_t)w;
	}
	if (!err && fchmod(fd, mode)) {
		err = -errno;
	}
	if (!err && fsync(fd)) {
		err = -errno;
	}
	if (close(fd) && !err) {
		err = -errno;
	}
	if (!err && rename(tmp, path)) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}

int trust_cert_read(X509 **out, const char *path)
{
	struct buf b;
	X509 *x = NULL;
	BIO *bio;
	int err;

	buf_init(&b, 0);
	err = trust_file_read(path, MAX_CERT, &b);
	if (err) {
		goto out;
	}
	bio = BIO_new_mem_buf(b.p, (int)b.len);
	if (!bio) {
		err = -ENOMEM;
		goto out;
	}
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (!x) {
		const unsigned char *d = b.p;

		x = d2i_X509(NULL, &d, (long)b.len);
		if (x && d != b.p + b.len) {
			X509_free(x);
			x = NULL;
		}
	}
	if (!x) {
		err = -TL_EPARSE;
		goto out;
	}
	*out = x;
out:
	buf_free(&b);
	return err;
}

int trust_pin_read(const char *path, char *out, size_t outlen)
{
	struct buf b;
	size_t n = 0;
	int err;

	buf_init(&b, 0);
	err = trust_file_read(path, 4096, &b);
	if (!err) {
		while (n < b.len && b.p[n] != '\n' && b.p[n] != '\r') {
			n++;
		}
		if (n == 0 || n >= outlen || memchr(b.p, 0, n)) {
			err = -TL_EPARSE;
		} else {
			memcpy(out, b.p, n);
			out[n] = 0;
		}
	}
	buf_free_secret(&b);
	return err;
}

static int path_of(char *out, const char *dir, const char *rel)
{
	int n = snprintf(out, PATHLEN, "%s/%s", dir, rel);

	return (n < 0 || n >= PATHLEN) ? -ENAMETOOLONG : 0;
}

void trust_site_records_free(X509 **certs, uint16_t *roles, size_t n)
{
	if (certs) {
		for (size_t i = 0; i < n; i++) {
			X509_free(certs[i]);
		}
	}
	free(certs);
	free(roles);
}

int trust_site_records(const char *site_dir, bool itl, X509 ***certs,
                       uint16_t **roles, size_t *n)
{
	static const struct {
		const char *file;
		uint16_t role;
		bool optional, in_ctl, in_itl;
	} want[] = {
	        {"pki/sast1.crt", TLV_ROLE_SAST, false, true, true},
	        {"pki/sast2.crt", TLV_ROLE_SAST, false, true, false},
	        {"pki/ccm.crt", TLV_ROLE_CCM, false, true, true},
	        {"pki/tftp.crt", TLV_ROLE_TFTP, false, true, true},
	        {"pki/capf.crt", TLV_ROLE_CAPF, false, true, true},
	        {"pki/ccm-ec.crt", TLV_ROLE_CCM, true, true, false},
	        {"pki/capf-ec.crt", TLV_ROLE_CAPF, true, true, false},
	};
	const size_t max = sizeof(want) / sizeof(want[0]);
	X509 **c = calloc(max, sizeof(*c));
	uint16_t *r = calloc(max, sizeof(*r));
	char path[PATHLEN];
	size_t k = 0;
	int err = 0;

	if (!c || !r) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < max; i++) {
		if (itl ? !want[i].in_itl : !want[i].in_ctl) {
			continue;
		}
		err = path_of(path, site_dir, want[i].file);
		if (err) {
			goto out;
		}
		if (want[i].optional && access(path, F_OK)) {
			continue;
		}
		err = trust_cert_read(&c[k], path);
		if (err) {
			goto out;
		}
		r[k++] = want[i].role;
	}
out:
	if (err) {
		trust_site_records_free(c, r, k);
		return err;
	}
	*certs = c;
	*roles = r;
	*n = k;
	return 0;
}

int trust_site_sast(const char *site_dir, int n, const char *module,
                    const char *pin, struct pki_key **key, X509 **cert)
{
	char path[PATHLEN], rel[64], label[16], pinbuf[256];
	struct pki_key *k = NULL;
	X509 *x = NULL;
	int err;

	if (n < 1 || n > 9) {
		return -EINVAL;
	}
	err = path_of(path, site_dir, "tokens/softhsm2.conf");
	if (err) {
		return err;
	}
	/* Shared contract: our code points SoftHSM2 at the site's token
	 * store unless the environment already chose one. */
	if (!getenv("SOFTHSM2_CONF") && setenv("SOFTHSM2_CONF", path, 0)) {
		return -errno;
	}
	if (!pin) {
		snprintf(rel, sizeof(rel), "tokens/sast%d.pin", n);
		err = path_of(path, site_dir, rel);
		if (!err) {
			err = trust_pin_read(path, pinbuf, sizeof(pinbuf));
		}
		if (err) {
			goto out;
		}
		pin = pinbuf;
	}
	snprintf(rel, sizeof(rel), "pki/sast%d.crt", n);
	err = path_of(path, site_dir, rel);
	if (!err) {
		err = trust_cert_read(&x, path);
	}
	if (err) {
		goto out;
	}
	snprintf(label, sizeof(label), "SAST%d", n);
	err = pki_key_open_p11(&k, module, label, "sast", pin);
	if (err) {
		goto out;
	}
	*key = k;
	*cert = x;
	k = NULL;
	x = NULL;
out:
	OPENSSL_cleanse(pinbuf, sizeof(pinbuf));
	pki_key_free(k);
	X509_free(x);
	return err;
}

int trust_site_signer(const struct trust_signer_spec *sp, struct pki_key **key,
                      X509 **cert)
{
	char pin[256];
	const char *use = sp->pin;
	struct pki_key *k = NULL;
	X509 *x = NULL;
	int err;

	if (sp->token) {
		if (!use && sp->pin_file) {
			err = trust_pin_read(sp->pin_file, pin, sizeof(pin));
			if (err) {
				return err;
			}
			use = pin;
		}
		err = trust_site_sast(sp->site, sp->token, sp->module, use, key,
		                      cert);
		OPENSSL_cleanse(pin, sizeof(pin));
		return err;
	}
	if (!sp->key_file || !sp->cert_file) {
		return -EINVAL;
	}
	err = pki_key_load_file(&k, sp->key_file, NULL);
	if (!err) {
		err = trust_cert_read(&x, sp->cert_file);
	}
	if (err) {
		pki_key_free(k);
		return err;
	}
	*key = k;
	*cert = x;
	return 0;
}

static int build_one(const char *site_dir, struct pki_key *key, X509 *cert,
                     bool itl)
{
	struct trust_sign s = {
	        .key = key,
	        .cert = cert,
	        .filename = itl ? "ITLFile.tlv" : "CTLFile.tlv",
	};
	char path[PATHLEN];
	X509 **certs = NULL;
	uint16_t *roles = NULL;
	size_t n = 0;
	struct buf out;
	int err;

	buf_init(&out, 0);
	err = trust_site_records(site_dir, itl, &certs, &roles, &n);
	if (!err) {
		err = trust_ctl_build(&out, &s, certs, roles, n,
		                      itl ? 0 : TRUST_BUILD_MIXED);
	}
	if (!err) {
		err = path_of(path, site_dir,
		              itl ? "tftp/ITLFile.tlv" : "tftp/CTLFile.tlv");
	}
	if (!err) {
		err = trust_file_write(path, out.p, out.len, 0644);
	}
	trust_site_records_free(certs, roles, n);
	buf_free(&out);
	return err;
}

int trust_site_init(const char *site_dir)
{
	struct pki_key *key = NULL;
	X509 *cert = NULL;
	int err;

	err = trust_site_sast(site_dir, 1, NULL, NULL, &key, &cert);
	if (!err) {
		err = build_one(site_dir, key, cert, false);
	}
	if (!err) {
		err = build_one(site_dir, key, cert, true);
	}
	pki_key_free(key);
	X509_free(cert);
	return err;
}
