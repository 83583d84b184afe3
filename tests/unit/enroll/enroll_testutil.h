/* Shared fixture of the enrolment tests: a site in a scratch directory
 * (store, site CA, manufacturer CA, CAPF server certificate) and an event
 * loop run while a blocking client works in a thread. */
#ifndef TL_ENROLL_TESTUTIL_H
#define TL_ENROLL_TESTUTIL_H

#include "enroll/enroll.h"
#include "pki/pki.h"
#include "pki/pki_key.h"
#include "store/store.h"

#include <event2/event.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct etest {
	char dir[256];
	char ca_file[300], srv_cert[300], srv_key[300];
	struct store *st;
	struct pki_ca *ca;
	X509 *ca_cert;
	struct pki_ca *mfg;
	X509 *mfg_cert;
	struct pki_ca *other; /* an unknown manufacturer */
	X509 *other_cert;
	struct enroll *e;
	struct event_base *base;
};

static inline int etest_make_ca(const char *cn, struct pki_ca **ca, X509 **x)
{
	EVP_PKEY *k = NULL;
	struct pki_key *key = NULL;
	struct pki_issue req = {
	        .profile = PKI_PROFILE_CA, .cn = cn, .org = "Example Site"};
	int err = pki_keygen(&k, PKI_ALG_P256);

	if (!err) {
		err = pki_key_from_pkey(&key, k);
	}
	EVP_PKEY_free(k);
	if (!err) {
		err = pki_self_issue(x, key, &req);
	}
	if (!err) {
		err = pki_ca_new(ca, *x, key, NULL);
	}
	if (err) {
		pki_key_free(key);
	}
	return err;
}

/* A certificate of profile p for cn from ca, with a new P-256 key. */
static inline int etest_issue(struct pki_ca *ca, enum pki_profile p,
                              const char *cn, X509 **x, EVP_PKEY **k)
{
	const char *ip[] = {"127.0.0.1"};
	struct pki_issue req = {.profile = p, .cn = cn};
	int err = pki_keygen(k, PKI_ALG_P256);

	if (p == PKI_PROFILE_SERVER) {
		req.ip = ip;
		req.n_ip = 1;
		req.dns = ip;
		req.n_dns = 1;
	}
	req.pub = *k;
	if (!err) {
		err = pki_ca_issue(ca, &req, x);
	}
	return err;
}

static inline int etest_setup(struct etest *t)
{
	char p[300];
	X509 *sx = NULL;
	EVP_PKEY *sk = NULL;
	int err;

	memset(t, 0, sizeof(*t));
	snprintf(t->dir, sizeof(t->dir), "%s/tl-enroll.XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(t->dir)) {
		return -1;
	}
	snprintf(p, sizeof(p), "%s/pki", t->dir);
	if (mkdir(p, 0700) != 0) {
		return -1;
	}
	snprintf(p, sizeof(p), "%s/trustline.db", t->dir);
	err = store_open(&t->st, p);
	if (!err) {
		err = etest_make_ca("Site CA", &t->ca, &t->ca_cert);
	}
	if (!err) {
		err = etest_make_ca("Manufacturer CA", &t->mfg, &t->mfg_cert);
	}
	if (!err) {
		err = etest_make_ca("Unknown CA", &t->other, &t->other_cert);
	}
	if (!err) {
		err = etest_issue(t->ca, PKI_PROFILE_SERVER, "capf", &sx, &sk);
	}
	snprintf(t->ca_file, sizeof(t->ca_file), "%s/pki/ca.crt", t->dir);
	snprintf(t->srv_cert, sizeof(t->srv_cert), "%s/pki/capf.crt", t->dir);
	snprintf(t->srv_key, sizeof(t->srv_key), "%s/pki/capf.key", t->dir);
	if (!err) {
		err = pki_cert_write(t->ca_file, t->ca_cert);
	}
	if (!err) {
		err = pki_cert_write(t->srv_cert, sx);
	}
	if (!err) {
		err = pki_pkey_write(t->srv_key, sk);
	}
	X509_free(sx);
	EVP_PKEY_free(sk);
	struct enroll_conf ec = {.st = t->st,
	                         .ca = t->ca,
	                         .mfg_ca = t->mfg_cert,
	                         .site_dir = t->dir};
	if (!err) {
		err = enroll_new(&t->e, &ec);
	}
	t->base = event_base_new();
	return err || !t->base ? -1 : 0;
}

static inline void etest_teardown(struct etest *t)
{
	char cmd[400];

	enroll_free(t->e);
	if (t->base) {
		event_base_free(t->base);
	}
	store_close(t->st);
	pki_ca_free(t->ca);
	pki_ca_free(t->mfg);
	pki_ca_free(t->other);
	X509_free(t->ca_cert);
	X509_free(t->mfg_cert);
	X509_free(t->other_cert);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->dir);
	if (system(cmd) != 0) {
		fprintf(stderr, "cannot remove %s\n", t->dir);
	}
}

/* A device SEP<mac> with auth mode, operation, optional auth string and
 * deadline (0: none). */
static inline int etest_device(struct etest *t, const char *mac, int mode,
                               enum store_capf_op op, const char *string,
                               int64_t deadline)
{
	struct store_device d;
	int err = store_device_get(t->st, mac, &d);

	if (err == -TL_ENOTFOUND) {
		memset(&d, 0, sizeof(d));
		snprintf(d.mac, sizeof(d.mac), "%s", mac);
		err = store_device_add(t->st, &d);
		if (!err) {
			err = store_device_get(t->st, mac, &d);
		}
	}
	if (err) {
		return err;
	}
	d.capf_auth_mode = mode;
	d.capf_op = op;
	d.capf_deadline = deadline;
	err = store_device_update(t->st, &d);
	if (!err && string) {
		err = store_device_capf_auth_set(t->st, mac, string);
	}
	return err;
}

static inline int etest_count_cb(const struct store_cert *c, void *arg)
{
	(*(int *)arg)++;
	return 0;
}

static inline int etest_count(struct etest *t, const char *profile)
{
	int n = 0;

	if (store_cert_list(t->st, profile, etest_count_cb, &n) != 0) {
		return -1;
	}
	return n;
}

struct etest_thread {
	pthread_t th;
	atomic_bool done;
	void *(*fn)(void *);
	void *arg;
};

static inline void *etest_thread_main(void *arg)
{
	struct etest_thread *th = arg;
	void *r = th->fn(th->arg);

	atomic_store(&th->done, true);
	return r;
}

/* Run fn(arg) in a thread while the loop runs; at most secs seconds. */
static inline int etest_run(struct etest *t, void *(*fn)(void *), void *arg,
                            int secs)
{
	struct etest_thread th = {.fn = fn, .arg = arg};
	time_t end = time(NULL) + secs;

	atomic_init(&th.done, false);
	if (pthread_create(&th.th, NULL, etest_thread_main, &th) != 0) {
		return -1;
	}
	while (!atomic_load(&th.done) && time(NULL) < end) {
		event_base_loop(t->base, EVLOOP_NONBLOCK);
		usleep(500);
	}
	/* let the server see the last bytes and closes */
	for (int i = 0; i < 20; i++) {
		event_base_loop(t->base, EVLOOP_NONBLOCK);
		usleep(500);
	}
	if (!atomic_load(&th.done)) {
		return -1; /* the thread is stuck: the test fails */
	}
	pthread_join(th.th, NULL);
	return 0;
}

#endif
