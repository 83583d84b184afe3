#include "prov/prov_site.h"

#include "base/log.h"
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "prov/cnf_sign.h"
#include "trust/trust.h"

#include <errno.h>
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
};

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
	err = cnf_cache_new(&ps->cache, st, &ps->site, NULL,
			    cnf_sign_transform, &ps->sign);
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
	pki_key_free(ps->key);
	X509_free(ps->cert);
	free(ps);
}

int prov_site_gen(const char *name, struct buf *out, void *arg)
{
	struct prov_site *ps = arg;

	return cnf_cache_gen(name, out, ps->cache);
}
