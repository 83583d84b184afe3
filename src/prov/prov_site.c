#include "prov/prov_site.h"

#include "base/log.h"
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "prov/cnf_sign.h"
#include "prov/prov_secret.h"
#include "trust/trust.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct prov_site {
	struct store *st;
	struct cnf_site site;
	char host[256];
	struct pki_key *key;
	X509 *cert;
	/* seed 002 / cisco-formats.md §2: configs are signed by the TFTP
	 * role; the encrypted full config goes to the device certificate. */
	struct trust_sign sign;
	struct cnf_cache *cache;
	/* pki/secrets.key: line passwords for the encrypted config */
	bool have_skey;
	uint8_t skey[PROV_SECRET_KEY_LEN];
	char pki_dir[4096];
};

/* cnf_secret_h: the sealed copy of a line's password (prov_secret.h). */
static int line_secret(const char *dn, char *out, size_t outlen, void *arg)
{
	struct prov_site *ps = arg;

	if (!ps->have_skey) {
		/* made by the first `line add --password` after start */
		ps->have_skey = prov_secret_key_load(ps->pki_dir, false,
						     ps->skey) == 0;
	}
	if (!ps->have_skey) {
		return -TL_ENOTFOUND;
	}
	int err = prov_secret_get(ps->st, ps->skey, dn, out, outlen);
	if (err && err != -TL_ENOTFOUND) {
		log_warn("prov", "line %s: sealed password unusable: %s", dn,
			 tl_strerror(err));
	}
	return err ? -TL_ENOTFOUND : 0;
}

static int sign_transform(enum cnf_file f, const char *mac, struct slice body,
			  const uint8_t *cert_der, size_t cert_len,
			  struct buf *out, void *arg)
{
	struct prov_site *ps = arg;

	return cnf_sign_transform(f, mac, body, cert_der, cert_len, out,
				  &ps->sign);
}

int prov_site_new(struct prov_site **out, struct store *st,
		  const char *pki_dir, const struct cnf_site *site)
{
	struct prov_site *ps = calloc(1, sizeof(*ps));
	char path[4096];
	int err;

	if (!ps) {
		return -ENOMEM;
	}
	ps->st = st;
	ps->site = *site;
	snprintf(ps->host, sizeof(ps->host), "%s",
		 site->host ? site->host : "localhost");
	ps->site.host = ps->host;
	ps->site.voicemail = NULL;
	ps->site.device_pool = NULL;
	snprintf(path, sizeof(path), "%s/tftp.key", pki_dir);
	err = pki_key_load_file(&ps->key, path, NULL);
	if (err) {
		log_err("prov", "cannot load %s: %s", path, tl_strerror(err));
		goto fail;
	}
	snprintf(path, sizeof(path), "%s/tftp.crt", pki_dir);
	err = pki_cert_read(&ps->cert, path);
	if (err) {
		log_err("prov", "cannot load %s: %s", path, tl_strerror(err));
		goto fail;
	}
	ps->sign = (struct trust_sign){.key = ps->key, .cert = ps->cert};
	snprintf(ps->pki_dir, sizeof(ps->pki_dir), "%s", pki_dir);
	ps->have_skey = prov_secret_key_load(pki_dir, false, ps->skey) == 0;
	err = cnf_cache_new(&ps->cache, st, &ps->site, line_secret,
			    sign_transform, ps);
	if (err) {
		goto fail;
	}
	*out = ps;
	return 0;
fail:
	prov_site_free(ps);
	return err;
}

void prov_site_free(struct prov_site *ps)
{
	if (!ps) {
		return;
	}
	cnf_cache_free(ps->cache);
	OPENSSL_cleanse(ps->skey, sizeof(ps->skey));
	pki_key_free(ps->key);
	X509_free(ps->cert);
	free(ps);
}

int prov_site_gen(const char *name, struct buf *out, void *arg)
{
	struct prov_site *ps = arg;

	return cnf_cache_gen(name, out, ps->cache);
}
