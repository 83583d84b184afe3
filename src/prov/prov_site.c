#include "prov/prov_site.h"

#include "base/log.h"
#include "pki/pki.h"
#include "pki/pki_key.h"
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
	struct cnf_cache *cache;
};

/* seed 002 / cisco-formats.md §2: configs are signed by the TFTP role;
 * the encrypted full config is encrypted to the device certificate. */
static int transform(enum cnf_file f, const char *mac, struct slice body,
		     const uint8_t *cert_der, size_t cert_len, struct buf *out,
		     void *arg)
{
	struct prov_site *ps = arg;
	char name[64];
	X509 *dev = NULL;
	int err;

	if (f == CNF_FILE_XML) {
		buf_put_slice(out, body);
		return buf_err(out);
	}
	err = cnf_file_name(f, mac, name, sizeof(name));
	if (err) {
		return err;
	}
	struct trust_sign s = {
		.key = ps->key,
		.cert = ps->cert,
		.filename = name,
	};
	if (f == CNF_FILE_SGN) {
		return trust_sgn_build(out, &s, body);
	}
	err = pki_cert_parse(&dev, cert_der, cert_len);
	if (err) {
		log_warn("prov", "device %s: its certificate does not parse",
			 mac);
		return err;
	}
	err = trust_enc_build(out, &s, dev, body);
	X509_free(dev);
	return err;
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
	err = cnf_cache_new(&ps->cache, st, &ps->site, NULL, transform, ps);
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
	enum cnf_file f;
	char mac[13];
	struct slice bytes;
	int err;

	if (cnf_file_parse(slice_from_str(name), mac, &f) != 0) {
		return -TL_ENOTFOUND;
	}
	err = cnf_cache_get(ps->cache, mac, f, &bytes);
	if (err) {
		return err;
	}
	buf_put_slice(out, bytes);
	return buf_err(out);
}
