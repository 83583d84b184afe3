#include "prov/prov_site.h"

#include "base/log.h"
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "prov/cnf_sign.h"
#include "prov/prov_secret.h"
#include "trust/trust.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Devices built per turn of the loop: about 5 ms of signatures, so that
 * TFTP and HTTP requests are answered meanwhile. */
#define PREBUILD_BATCH    16
#define PREBUILD_PROGRESS 10000

/* The next turn of the loop: a zero timeout. */
static const struct timeval next_turn = {0, 0};

/* The build of every device's files at start: the devices as listed then
 * (one added later is built at its first request). */
struct prebuild {
	struct event *ev;
	char (*macs)[13];
	size_t n, cap, next;
	size_t files, failed;
	bool listed;
	struct timespec t0;
};

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
	struct prebuild pre;
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

static int collect(const struct store_device *d, void *arg)
{
	struct prebuild *pre = arg;

	if (pre->n == pre->cap) {
		size_t cap = pre->cap ? 2 * pre->cap : 1024;
		char(*m)[13] = realloc(pre->macs, cap * sizeof(*m));

		if (!m) {
			return -ENOMEM;
		}
		pre->macs = m;
		pre->cap = cap;
	}
	memcpy(pre->macs[pre->n++], d->mac, 13);
	return 0;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void prebuild_done(struct prebuild *pre)
{
	free(pre->macs);
	pre->macs = NULL;
	pre->n = pre->cap = pre->next = 0;
}

static void prebuild_cb(evutil_socket_t fd, short what, void *arg)
{
	struct prov_site *ps = arg;
	struct prebuild *pre = &ps->pre;

	(void)fd;
	(void)what;
	if (!pre->listed) {
		int err;

		pre->listed = true;
		clock_gettime(CLOCK_MONOTONIC, &pre->t0);
		err = store_device_list(ps->st, collect, pre);
		if (err) {
			log_warn("prov", "cannot list the devices to build "
			                 "their configs: %s; they are built "
			                 "when asked for",
			         tl_strerror(err));
			prebuild_done(pre);
			return;
		}
		log_info("prov", "building the config files of %zu devices",
		         pre->n);
	}
	for (int k = 0; k < PREBUILD_BATCH && pre->next < pre->n; k++) {
		unsigned got = 0;
		int err = cnf_cache_warm(ps->cache, pre->macs[pre->next], &got);

		if (err && ++pre->failed <= 10) {
			/* asked for, its files are tried again */
			log_warn("prov", "config files of %s not built: %s%s",
			         pre->macs[pre->next], tl_strerror(err),
			         pre->failed == 10 ? " (no more such lines)"
			                           : "");
		}
		pre->files += got;
		if (++pre->next % PREBUILD_PROGRESS == 0 && pre->next < pre->n) {
			log_info("prov", "config files: %zu/%zu devices built",
			         pre->next, pre->n);
		}
	}
	if (pre->next < pre->n) {
		if (event_add(pre->ev, &next_turn) == 0) {
			return;
		}
		log_warn("prov", "config build stopped after %zu devices",
		         pre->next);
	} else {
		log_info("prov",
		         "config files of %zu devices built in %.2f s: %zu "
		         "files, %zu devices failed",
		         pre->n, since(&pre->t0), pre->files, pre->failed);
	}
	prebuild_done(pre);
}

int prov_site_prebuild(struct prov_site *ps, struct event_base *base)
{

	if (!ps || !base || ps->pre.ev) {
		return -EINVAL;
	}
	ps->pre.ev = evtimer_new(base, prebuild_cb, ps);
	if (!ps->pre.ev) {
		return -ENOMEM;
	}
	if (event_add(ps->pre.ev, &next_turn) != 0) {
		event_free(ps->pre.ev);
		ps->pre.ev = NULL;
		return -ENOMEM;
	}
	return 0;
}

void prov_site_free(struct prov_site *ps)
{
	if (!ps) {
		return;
	}
	if (ps->pre.ev) {
		event_free(ps->pre.ev);
	}
	prebuild_done(&ps->pre);
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
