/* The PKI files of a site directory (see pki_site.h). */
#include "pki/pki_site.h"
#include "pki/pki_token.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PATHLEN 4096

struct ca_files {
	const char *crt, *key, *token;
};

static const struct ca_files ca_files[] = {
        [PKI_SITE_CA] = {"pki/ca.crt", "pki/ca.key", "CA"},
        [PKI_SITE_MFG] = {"pki/mfg-ca.crt", "pki/mfg-ca.key", "MFG"},
};

static int path_of(char *out, const char *dir, const char *rel)
{
	int n = snprintf(out, PATHLEN, "%s/%s", dir, rel);

	return (n < 0 || n >= PATHLEN) ? -TL_ETOOBIG : 0;
}

static int mkdir_p1(const char *dir, const char *rel, mode_t mode)
{
	char p[PATHLEN];
	int err = path_of(p, dir, rel);

	if (err) {
		return err;
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST) {
		return -errno;
	}
	return 0;
}

int pki_site_env(const char *site_dir, bool create)
{
	char p[PATHLEN];
	int err = path_of(p, site_dir, "tokens");

	if (err) {
		return err;
	}
	return pki_token_softhsm_env(p, create);
}

int pki_site_pin_path(const char *site_dir, const char *label, bool so,
                      char *out, size_t outlen)
{
	char low[33];
	size_t n = strlen(label);
	int w;

	if (n == 0 || n >= sizeof(low)) {
		return -TL_ETOOBIG;
	}
	for (size_t i = 0; i <= n; i++) {
		char c = label[i];

		if (c && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		           (c >= '0' && c <= '9') || c == '-' || c == '_')) {
			return -TL_EPARSE; /* the label names a file */
		}
		low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	w = snprintf(out, outlen, "%s/tokens/%s%s", site_dir, low,
	             so ? ".so.pin" : ".pin");
	return (w < 0 || (size_t)w >= outlen) ? -TL_ETOOBIG : 0;
}

int pki_site_pin_read(const char *site_dir, const char *label, char *pin,
                      size_t pinlen)
{
	char p[PATHLEN];
	int err = pki_site_pin_path(site_dir, label, false, p, sizeof(p));

	return err ? err : pki_token_pin_read(p, pin, pinlen);
}

int pki_site_pin_new(const char *site_dir, const char *label, bool so,
                     char *pin, size_t pinlen)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t rnd[8];
	char p[PATHLEN], line[20];
	int err;

	if (pinlen < 17) {
		return -TL_ETOOBIG;
	}
	err = pki_site_pin_path(site_dir, label, so, p, sizeof(p));
	if (err) {
		return err;
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return -TL_ECRYPTO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		pin[2 * i] = hex[rnd[i] >> 4];
		pin[2 * i + 1] = hex[rnd[i] & 15];
	}
	pin[16] = '\0';
	memcpy(line, pin, 16);
	line[16] = '\n';
	err = pki_file_write(p, line, 17, 0600);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(line, sizeof(line));
	return err;
}

/* PINs given by the caller, or fresh ones written to the pin files. */
static int token_pins(const char *site_dir, const char *label,
                      const char *pin_in, const char *so_in, char *pin,
                      char *so, size_t len)
{
	int err;

	if (pin_in) {
		if (strlen(pin_in) >= len) {
			return -TL_ETOOBIG;
		}
		memcpy(pin, pin_in, strlen(pin_in) + 1);
	} else {
		err = pki_site_pin_new(site_dir, label, false, pin, len);
		if (err) {
			return err;
		}
	}
	if (so_in) {
		if (strlen(so_in) >= len) {
			return -TL_ETOOBIG;
		}
		memcpy(so, so_in, strlen(so_in) + 1);
		return 0;
	}
	return pki_site_pin_new(site_dir, label, true, so, len);
}

int pki_site_ca_create(const char *site_dir, enum pki_site_ca which,
                       const struct pki_site_ca_opts *o, X509 **out)
{
	const struct ca_files *cf = &ca_files[which];
	char crt[PATHLEN], keyp[PATHLEN], pin[64] = "", so[64] = "";
	struct pki_issue req = {.profile = PKI_PROFILE_CA,
	                        .cn = o->cn,
	                        .org = o->org,
	                        .days = o->days};
	struct pki_key *key = NULL;
	EVP_PKEY *pk = NULL;
	X509 *x = NULL;
	struct stat sb;
	int err;

	if (out) {
		*out = NULL;
	}
	err = path_of(crt, site_dir, cf->crt);
	if (!err) {
		err = path_of(keyp, site_dir, cf->key);
	}
	if (!err) {
		err = mkdir_p1(site_dir, "pki", 0755);
	}
	if (err) {
		return err;
	}
	if (stat(crt, &sb) == 0) {
		return -TL_EEXIST;
	}
	if (o->token) {
		err = pki_site_env(site_dir, true);
		if (!err) {
			err = token_pins(site_dir, cf->token, o->pin, o->so_pin,
			                 pin, so, sizeof(pin));
		}
		if (!err) {
			err = pki_token_init(o->module, cf->token, so, pin);
		}
		if (!err) {
			err = pki_token_keygen(o->module, cf->token, pin, "ca",
			                       1, o->alg);
		}
		if (!err) {
			err = pki_key_open_p11(&key, o->module, cf->token, "ca",
			                       pin);
		}
	} else {
		err = pki_keygen(&pk, o->alg);
		if (!err) {
			err = pki_key_from_pkey(&key, pk);
		}
	}
	if (err) {
		goto out;
	}
	err = pki_self_issue(&x, key, &req);
	if (err) {
		goto out;
	}
	if (o->token) {
		err = pki_token_put_cert(o->module, cf->token, pin, "ca", 1, x);
	} else {
		err = pki_pkey_write(keyp, pk);
	}
	if (!err) {
		err = pki_cert_write(crt, x);
	}
out:
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(so, sizeof(so));
	pki_key_free(key);
	EVP_PKEY_free(pk);
	if (!err && out) {
		*out = x;
	} else {
		X509_free(x);
	}
	return err;
}

int pki_site_ca_open(struct pki_ca **out, const char *site_dir,
                     enum pki_site_ca which, const char *module,
                     const char *pin, const char *crl_url)
{
	const struct ca_files *cf = &ca_files[which];
	char crt[PATHLEN], keyp[PATHLEN], filepin[64];
	struct pki_key *key = NULL;
	X509 *x = NULL;
	struct stat sb;
	int err;

	err = path_of(crt, site_dir, cf->crt);
	if (!err) {
		err = path_of(keyp, site_dir, cf->key);
	}
	if (err) {
		return err;
	}
	err = pki_cert_read(&x, crt);
	if (err) {
		return err;
	}
	if (stat(keyp, &sb) == 0) {
		err = pki_key_load_file(&key, keyp, NULL);
	} else {
		err = pki_site_env(site_dir, false);
		if (!err && !pin) {
			err = pki_site_pin_read(site_dir, cf->token, filepin,
			                        sizeof(filepin));
			pin = filepin;
		}
		if (!err) {
			err = pki_key_open_p11(&key, module, cf->token, "ca",
			                       pin);
		}
		OPENSSL_cleanse(filepin, sizeof(filepin));
	}
	if (!err) {
		err = pki_ca_new(out, x, key, crl_url);
		if (err) {
			pki_key_free(key);
		}
	}
	X509_free(x);
	return err;
}

int pki_site_token_create(const char *site_dir, const char *label,
                          const char *module, const char *pin_in,
                          const char *so_in, const char *org, X509 **out)
{
	char crt[PATHLEN], rel[64], pin[64] = "", so[64] = "";
	struct pki_issue req = {
	        .profile = PKI_PROFILE_SAST, .cn = label, .org = org};
	struct pki_key *key = NULL;
	X509 *x = NULL;
	int err;

	if (out) {
		*out = NULL;
	}
	/* the pin path check also keeps the label a safe file name */
	err = pki_site_pin_path(site_dir, label, false, crt, sizeof(crt));
	if (err) {
		return err;
	}
	snprintf(rel, sizeof(rel), "pki/%s.crt", label);
	for (char *c = rel; *c; c++) {
		if (*c >= 'A' && *c <= 'Z') {
			*c = (char)(*c - 'A' + 'a');
		}
	}
	err = path_of(crt, site_dir, rel);
	if (!err) {
		err = mkdir_p1(site_dir, "pki", 0755);
	}
	if (!err) {
		err = pki_site_env(site_dir, true);
	}
	if (!err) {
		err = token_pins(site_dir, label, pin_in, so_in, pin, so,
		                 sizeof(pin));
	}
	if (!err) {
		err = pki_token_init(module, label, so, pin);
	}
	/* DESIGN.md "Trust files": SAST keys are RSA-2048, which every
	 * Cisco phone verifies */
	if (!err) {
		err = pki_token_keygen(module, label, pin, "sast", 1,
		                       PKI_ALG_RSA2048);
	}
	if (!err) {
		err = pki_key_open_p11(&key, module, label, "sast", pin);
	}
	if (!err) {
		err = pki_self_issue(&x, key, &req);
	}
	if (!err) {
		err = pki_token_put_cert(module, label, pin, "sast", 1, x);
	}
	if (!err) {
		err = pki_cert_write(crt, x);
	}
	OPENSSL_cleanse(pin, sizeof(pin));
	OPENSSL_cleanse(so, sizeof(so));
	pki_key_free(key);
	if (!err && out) {
		*out = x;
	} else {
		X509_free(x);
	}
	return err;
}

static int64_t asn1_unix(const ASN1_TIME *t)
{
	struct tm tm;

	if (ASN1_TIME_to_tm(t, &tm) != 1) {
		return 0;
	}
	return (int64_t)timegm(&tm);
}

int pki_site_record(struct store *st, X509 *cert, enum pki_profile profile)
{
	struct store_cert c;
	BIO *b;
	char *data;
	long len;
	int err;

	memset(&c, 0, sizeof(c));
	err = pki_serial_hex(cert, c.serial, sizeof(c.serial));
	if (!err) {
		err = pki_name_str(X509_get_subject_name(cert), c.subject,
		                   sizeof(c.subject));
	}
	if (!err) {
		err = pki_name_str(X509_get_issuer_name(cert), c.issuer,
		                   sizeof(c.issuer));
	}
	if (err) {
		return err;
	}
	snprintf(c.profile, sizeof(c.profile), "%s", pki_profile_name(profile));
	c.not_before = asn1_unix(X509_get0_notBefore(cert));
	c.not_after = asn1_unix(X509_get0_notAfter(cert));
	b = BIO_new(BIO_s_mem());
	if (!b) {
		return -ENOMEM;
	}
	if (!PEM_write_bio_X509(b, cert)) {
		BIO_free(b);
		return -TL_ECRYPTO;
	}
	len = BIO_get_mem_data(b, &data);
	c.pem = malloc((size_t)len + 1);
	if (!c.pem) {
		BIO_free(b);
		return -ENOMEM;
	}
	memcpy(c.pem, data, (size_t)len);
	c.pem[len] = '\0';
	BIO_free(b);
	err = store_cert_add(st, &c);
	free(c.pem);
	return err;
}

int pki_site_issue(struct pki_ca *ca, struct store *st,
                   const struct pki_issue *req, EVP_PKEY *key,
                   const char *cert_path, const char *key_path, X509 **out)
{
	X509 *x = NULL;
	bool wrote_key = false, wrote_cert = false;
	int err;

	if (out) {
		*out = NULL;
	}
	err = pki_ca_issue(ca, req, &x);
	if (err) {
		return err;
	}
	if (key && key_path) {
		err = pki_pkey_write(key_path, key);
		wrote_key = !err;
	}
	if (!err && cert_path) {
		err = pki_cert_write(cert_path, x);
		wrote_cert = !err;
	}
	if (!err && st) {
		err = pki_site_record(st, x, req->profile);
	}
	if (err) {
		if (wrote_key) {
			unlink(key_path);
		}
		if (wrote_cert) {
			unlink(cert_path);
		}
		X509_free(x);
		return err;
	}
	if (out) {
		*out = x;
	} else {
		X509_free(x);
	}
	return 0;
}

struct revoked_list {
	const char *issuer;
	struct pki_revoked *v;
	char (*serials)[80];
	size_t n, cap;
	int err;
};

static int collect(const struct store_cert *c, void *arg)
{
	struct revoked_list *l = arg;

	if (!c->revoked_at || strcmp(c->issuer, l->issuer)) {
		return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct pki_revoked *v = realloc(l->v, cap * sizeof(*v));
		char(*s)[80];

		if (v) {
			l->v = v;
		}
		s = realloc(l->serials, cap * sizeof(*s));
		if (!v || !s) {
			l->err = -ENOMEM;
			return 1;
		}
		l->serials = s;
		l->cap = cap;
	}
	memcpy(l->serials[l->n], c->serial, sizeof(l->serials[0]));
	l->serials[l->n][79] = '\0';
	l->v[l->n].when = c->revoked_at;
	l->v[l->n].reason = c->revoke_reason;
	l->n++;
	return 0;
}

int pki_site_crl_update(const char *site_dir, struct pki_ca *ca,
                        struct store *st, uint32_t days, uint64_t *number)
{
	char issuer[256], val[32], pem[PATHLEN], der[PATHLEN];
	struct revoked_list l = {.issuer = issuer};
	uint64_t num = 0;
	X509_CRL *crl = NULL;
	int err;

	err = pki_name_str(X509_get_subject_name(pki_ca_cert(ca)), issuer,
	                   sizeof(issuer));
	if (!err) {
		err = path_of(pem, site_dir, "pki/crl.pem");
	}
	if (!err) {
		err = path_of(der, site_dir, "pki/crl.der");
	}
	if (err) {
		return err;
	}
	err = store_cert_list(st, NULL, collect, &l);
	if (!err) {
		err = l.err;
	}
	if (err) {
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		l.v[i].serial = l.serials[i];
	}
	err = store_setting_get(st, "pki.crl_number", val, sizeof(val));
	if (!err) {
		char *end;

		errno = 0;
		num = strtoull(val, &end, 10);
		if (errno || *end || end == val) {
			num = 0;
		}
	} else if (err != -TL_ENOTFOUND) {
		goto out;
	}
	num++;
	snprintf(val, sizeof(val), "%" PRIu64, num);
	err = store_setting_set(st, "pki.crl_number", val);
	if (!err) {
		err = pki_ca_crl(ca, l.v, l.n, num, 0, days ? days : 30, &crl);
	}
	if (!err) {
		err = pki_crl_write(pem, der, crl);
	}
	if (!err && number) {
		*number = num;
	}
out:
	X509_CRL_free(crl);
	free(l.v);
	free(l.serials);
	return err;
}

int pki_site_crl_url(char *out, size_t outlen, const char *host,
                     uint16_t http_port)
{
	bool v6 = strchr(host, ':') != NULL;
	int n;

	if (!*host || strpbrk(host, "/?#@[] ")) {
		return -TL_EPARSE;
	}
	n = snprintf(out, outlen, "http://%s%s%s:%u/crl.der", v6 ? "[" : "",
	             host, v6 ? "]" : "", (unsigned)http_port);
	return (n < 0 || (size_t)n >= outlen) ? -TL_ETOOBIG : 0;
}
