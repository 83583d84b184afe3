/* trustline serve: run a site's services in the foreground. */
#include "base/log.h"
#include "callmgr/cm_svc.h"
#include "cli/cli.h"
#include "cli/site.h"
#include "enroll/enroll_svc.h"
#include "pki/pki_site.h"
#include "prov/http_prov.h"
#include "prov/prov_fs.h"
#include "prov/prov_site.h"
#include "prov/tftp_srv.h"
#include "store/store.h"

#include <errno.h>
#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char cmd_serve_summary[] =
	"run the site's services (call manager, TFTP/HTTP provisioning, "
	"CAPF/EST) in the foreground";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: trustline serve [--site DIR] [--keylog FILE] "
		"[--no-tftp] [--no-http] [--no-capf]\n"
		"                       [--no-prebuild]\n\n"
		"Runs the services of the site in the foreground and logs to "
		"stderr (ports\nfrom trustline.conf):\n"
		"  the call manager (registrar, calls, MWI) on SIP UDP/TCP and "
		"TLS,\n"
		"  TFTP and HTTP provisioning: the tftp/ folder, the CRL, and "
		"phones'\n"
		"    configs generated from the database (signed and "
		"encrypted in mixed mode),\n"
		"  CAPF and EST enrolment of phone certificates.\n"
		"Exits 0 after a clean shutdown on SIGTERM or SIGINT, and "
		"non-zero with a\none-line reason when it cannot start.\n\n"
		"  --site DIR     the site directory (default ./site)\n"
		"  --keylog FILE  append TLS secrets in NSS key log format "
		"(debugging only)\n"
		"  --no-tftp      do not start the TFTP server\n"
		"  --no-http      do not start the HTTP provisioning server\n"
		"  --no-capf      do not start CAPF and EST (enrolment)\n"
		"  --no-prebuild  build a phone's config files when it first "
		"asks for them,\n"
		"                 not every device's at start (which is "
		"logged as it goes)\n");
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct event_base *base = arg;

	log_info("serve", "signal %d: shutting down", (int)sig);
	event_base_loopexit(base, NULL);
}

/* Provisioning (TFTP, HTTP and the config generator with its RSA
 * signatures) and enrolment (CAPF and EST: TLS handshakes, the CA's
 * signatures, a database write per certificate) each run on a thread of
 * their own: their own event loop and their own database connection
 * (SQLite WAL: readers do not wait for a writer; writers wait for each
 * other with the busy timeout). They share nothing in memory with the
 * call manager, which keeps the main thread: what they change reaches it
 * through the database and the CRL file. Under a boot storm provisioning
 * is about half of the site's work. The main thread stops a loop by
 * writing to a pipe the loop watches. */
struct loop_thread {
	const char *name;
	struct event_base *base;
	struct store *st; /* the loop's own database connection */
	struct event *stop_ev;
	int stop_fd[2];
	pthread_t tid;
	bool running;
};

static void loop_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopexit(arg, NULL);
}

static void *loop_main(void *arg)
{
	struct loop_thread *t = arg;

	if (event_base_dispatch(t->base) < 0) {
		log_err("serve", "%s event loop failed", t->name);
	}
	return NULL;
}

static int loop_thread_init(struct loop_thread *t, const char *name,
			    const char *db)
{
	*t = (struct loop_thread){.name = name, .stop_fd = {-1, -1}};
	t->base = event_base_new();
	if (!t->base || pipe(t->stop_fd) != 0) {
		return -ENOMEM;
	}
	t->stop_ev = event_new(t->base, t->stop_fd[0], EV_READ, loop_stop_cb,
			       t->base);
	if (!t->stop_ev || event_add(t->stop_ev, NULL) != 0) {
		return -ENOMEM;
	}
	return store_open(&t->st, db);
}

static int loop_thread_start(struct loop_thread *t)
{
	int err = pthread_create(&t->tid, NULL, loop_main, t);

	t->running = err == 0;
	return -err;
}

/* Stop the thread if it runs: nothing runs on its loop afterwards. */
static void loop_thread_stop(struct loop_thread *t)
{
	if (t->running) {
		ssize_t n;
		do {
			n = write(t->stop_fd[1], "x", 1);
		} while (n < 0 && errno == EINTR);
		pthread_join(t->tid, NULL);
		t->running = false;
	}
}

/* Free the loop, after what ran on it was freed. */
static void loop_thread_free(struct loop_thread *t)
{
	loop_thread_stop(t);
	if (t->stop_ev) {
		event_free(t->stop_ev);
	}
	for (int i = 0; i < 2; i++) {
		if (t->stop_fd[i] >= 0) {
			close(t->stop_fd[i]);
		}
	}
	if (t->base) {
		event_base_free(t->base);
	}
	store_close(t->st);
	*t = (struct loop_thread){.stop_fd = {-1, -1}};
}

static bool file_exists(const char *p)
{
	return access(p, R_OK) == 0;
}

/* Phones present an LSC (site CA) or a MIC (manufacturer CA): one bundle
 * of both anchors, rewritten atomically at each start. */
static int write_client_ca(const struct site *s, char *out, size_t outlen)
{
	char ca[SITE_PATH_MAX + 16], mfg[SITE_PATH_MAX + 16];
	char tmp[SITE_PATH_MAX + 64];
	const char *srcs[] = {ca, mfg};
	FILE *f;
	int err = 0, n = 0;

	snprintf(ca, sizeof(ca), "%s/ca.crt", s->pki);
	snprintf(mfg, sizeof(mfg), "%s/mfg-ca.crt", s->pki);
	if (snprintf(out, outlen, "%s/client-ca.pem", s->pki) >= (int)outlen) {
		return -TL_ETOOBIG;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp)) {
		return -TL_ETOOBIG;
	}
	f = fopen(tmp, "w");
	if (!f) {
		return -errno;
	}
	for (size_t i = 0; i < 2; i++) {
		FILE *in = fopen(srcs[i], "r");
		char chunk[4096];
		size_t got;
		if (!in) {
			continue;
		}
		while ((got = fread(chunk, 1, sizeof(chunk), in)) > 0) {
			fwrite(chunk, 1, got, f);
		}
		fclose(in);
		n++;
	}
	if (fclose(f) != 0) {
		err = -errno;
	}
	if (!err && n == 0) {
		err = -ENOENT;
	}
	if (!err && rename(tmp, out) != 0) {
		err = -errno;
	}
	if (err) {
		unlink(tmp);
	}
	return err;
}

int cmd_serve(int argc, char **argv)
{
	const char *dir = cli_site_default();
	const char *keylog = NULL;
	bool no_tftp = false, no_http = false, no_capf = false;
	bool no_prebuild = false;
	struct site site;
	struct store *st = NULL;
	struct event_base *base = NULL;
	struct loop_thread pt = {.stop_fd = {-1, -1}};
	struct loop_thread et = {.stop_fd = {-1, -1}};
	struct event *sigterm = NULL, *sigint = NULL;
	struct cm_svc *svc = NULL;
	struct prov_fs *fs = NULL;
	struct prov_site *gen = NULL;
	struct tftp_srv *tftp = NULL;
	struct http_prov *http = NULL;
	struct enroll_svc *enr = NULL;
	char cert[SITE_PATH_MAX + 16], key[SITE_PATH_MAX + 16];
	char cert2[SITE_PATH_MAX + 16], key2[SITE_PATH_MAX + 16];
	char crl[SITE_PATH_MAX + 16], client_ca[SITE_PATH_MAX + 32];
	char crl_der[SITE_PATH_MAX + 16];
	int rc = CLI_EFAIL;
	int err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--site") && i + 1 < argc) {
			dir = argv[++i];
		} else if (!strcmp(argv[i], "--keylog") && i + 1 < argc) {
			keylog = argv[++i];
		} else if (!strcmp(argv[i], "--no-tftp")) {
			no_tftp = true;
		} else if (!strcmp(argv[i], "--no-http")) {
			no_http = true;
		} else if (!strcmp(argv[i], "--no-capf")) {
			no_capf = true;
		} else if (!strcmp(argv[i], "--no-prebuild")) {
			no_prebuild = true;
		} else {
			usage(stderr);
			return CLI_EUSAGE;
		}
	}
	err = site_load(&site, dir);
	if (err == -ENOENT) {
		return cli_fail("serve", "no site in %s (create one with "
					 "'trustline init --site %s')",
				dir, dir);
	}
	if (err) {
		return cli_fail("serve", "cannot read %s/trustline.conf: %s",
				dir, tl_strerror(err));
	}
	err = store_open(&st, site.db);
	if (err) {
		return cli_fail("serve", "cannot open %s: %s", site.db,
				tl_strerror(err));
	}
	signal(SIGPIPE, SIG_IGN);
	base = event_base_new();
	if (!base) {
		cli_fail("serve", "cannot create the event loop");
		goto out;
	}
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	if (!sigterm || !sigint || evsignal_add(sigterm, NULL) != 0 ||
	    evsignal_add(sigint, NULL) != 0) {
		cli_fail("serve", "cannot install signal handlers");
		goto out;
	}

	snprintf(cert, sizeof(cert), "%s/ccm.crt", site.pki);
	snprintf(key, sizeof(key), "%s/ccm.key", site.pki);
	snprintf(cert2, sizeof(cert2), "%s/ccm-ec.crt", site.pki);
	snprintf(key2, sizeof(key2), "%s/ccm-ec.key", site.pki);
	snprintf(crl, sizeof(crl), "%s/crl.pem", site.pki);
	snprintf(crl_der, sizeof(crl_der), "%s/crl.der", site.pki);
	bool have_tls = file_exists(cert) && file_exists(key);
	bool have_ec = file_exists(cert2) && file_exists(key2);
	bool have_ca = write_client_ca(&site, client_ca, sizeof(client_ca)) == 0;
	if (!have_tls) {
		log_warn("serve", "no %s: SIP over TLS is off", cert);
	}
	struct net_conf nc;
	net_conf_default(&nc);
	if (site.max_conns) {
		nc.max_conns = site.max_conns;
	}
	if (site.max_conns_per_ip) {
		nc.max_conns_per_ip = site.max_conns_per_ip;
	}
	if (site.idle_timeout_s) {
		nc.idle_timeout_ms = site.idle_timeout_s * 1000u;
	}
	struct cm_svc_conf sc = {
		.listen = site.listen,
		.port = site.ports.sip,
		.tls_port = have_tls ? site.ports.sip_tls : 0,
		.realm = site.name,
		.cert_file = cert,
		.key_file = key,
		.cert2_file = have_ec ? cert2 : NULL,
		.key2_file = have_ec ? key2 : NULL,
		.client_ca_file = have_ca ? client_ca : NULL,
		.crl_file = have_ca ? crl : NULL,
		.keylog_file = keylog,
		.digest_md5_first = strncmp(site.digest, "md5", 3) == 0,
		.digest_md5_only = strcmp(site.digest, "md5") == 0,
		.t1_ms = site.t1_ms,
		.net_conf = &nc,
	};
	err = cm_svc_new(&svc, base, st, &sc);
	if (err) {
		cli_fail("serve", "cannot start SIP on %s:%u/%u: %s",
			 site.listen, site.ports.sip, site.ports.sip_tls,
			 tl_strerror(err));
		goto out;
	}

	if (!no_tftp || !no_http) {
		err = loop_thread_init(&pt, "provisioning", site.db);
		if (err) {
			cli_fail("serve", "cannot start provisioning (%s): %s",
				 site.db, tl_strerror(err));
			goto out;
		}
		err = prov_fs_new(&fs, site.tftp);
		if (!err && file_exists(crl_der)) {
			err = prov_fs_map(fs, "crl.der", crl_der);
		}
		if (!err && file_exists(crl)) {
			err = prov_fs_map(fs, "crl.pem", crl);
		}
		if (err) {
			cli_fail("serve", "cannot serve %s: %s", site.tftp,
				 tl_strerror(err));
			goto out;
		}
		/* Phones' configs are generated from the database, signed
		 * and encrypted on the fly, cached until it changes. */
		struct cnf_site cs = {
			.host = site.host,
			.sip_port = site.ports.sip,
			.sip_tls_port = site.ports.sip_tls,
			.capf_port = site.ports.capf,
		};
		err = prov_site_new(&gen, pt.st, site.pki, &cs);
		if (err) {
			cli_fail("serve", "cannot generate phone configs: %s",
				 tl_strerror(err));
			goto out;
		}
		prov_fs_set_gen(fs, prov_site_gen, gen);
		/* Cisco's TFTP service builds every device's files when it
		 * starts: phones booting together then wait for no
		 * signature of their first config. */
		if (!no_prebuild && prov_site_prebuild(gen, pt.base) != 0) {
			log_warn("serve", "config files are built when asked "
					  "for");
		}
	}
	if (!no_tftp) {
		struct tftp_srv_cfg tc = {.addr = site.listen,
					  .port = site.ports.tftp};
		err = tftp_srv_new(&tftp, pt.base, fs, &tc);
		if (err) {
			cli_fail("serve", "cannot start TFTP on %s:%u: %s",
				 site.listen, site.ports.tftp,
				 tl_strerror(err));
			goto out;
		}
	}
	if (!no_http) {
		struct http_prov_cfg hc = {.addr = site.listen,
					   .port = site.ports.http};
		err = http_prov_new(&http, pt.base, fs, &hc);
		if (err) {
			cli_fail("serve", "cannot start HTTP on %s:%u: %s",
				 site.listen, site.ports.http,
				 tl_strerror(err));
			goto out;
		}
	}
	if (!no_capf) {
		/* CAPF on its port, EST on the admin port (DESIGN.md);
		 * without a usable site CA both stay off */
		char crl_url[512];
		struct enroll_svc_conf ec = {
			.site_dir = site.dir,
			.listen = site.listen,
			.capf_port = site.ports.capf,
			.est_port = site.ports.admin,
			.crl_url = pki_site_crl_url(crl_url, sizeof(crl_url),
						    site.host, site.ports.http)
					   ? NULL
					   : crl_url,
			.est_cert_file = cert,
			.est_key_file = key,
			.est_cert2_file = have_ec ? cert2 : NULL,
			.est_key2_file = have_ec ? key2 : NULL,
			.client_ca_file = have_ca ? client_ca : NULL,
			.keylog_file = keylog,
		};
		err = loop_thread_init(&et, "enrolment", site.db);
		if (err) {
			cli_fail("serve", "cannot start enrolment (%s): %s",
				 site.db, tl_strerror(err));
			goto out;
		}
		err = enroll_svc_new(&enr, et.base, et.st, &ec);
		if (err) {
			log_warn("serve", "CAPF and EST are off: %s",
				 tl_strerror(err));
		} else {
			log_info("serve", "CAPF %u, EST %u", site.ports.capf,
				 site.ports.admin);
		}
	}
	if (pt.base) {
		err = loop_thread_start(&pt);
		if (err) {
			cli_fail("serve", "cannot start provisioning: %s",
				 tl_strerror(err));
			goto out;
		}
	}
	if (enr) {
		err = loop_thread_start(&et);
		if (err) {
			cli_fail("serve", "cannot start enrolment: %s",
				 tl_strerror(err));
			goto out;
		}
	}
	log_info("serve",
		 "site %s: SIP %s:%u udp/tcp%s, TFTP %u%s, HTTP %u%s; "
		 "ready",
		 site.name, site.listen, site.ports.sip,
		 have_tls ? ", tls" : " (no tls)", site.ports.tftp,
		 tftp ? "" : " (off)", site.ports.http, http ? "" : " (off)");
	if (event_base_dispatch(base) < 0) {
		cli_fail("serve", "event loop failed");
		goto out;
	}
	log_info("serve", "stopped");
	rc = CLI_OK;
out:
	/* the threads first: nothing runs on their loops after */
	loop_thread_stop(&pt);
	loop_thread_stop(&et);
	enroll_svc_free(enr);
	http_prov_free(http);
	tftp_srv_free(tftp);
	prov_site_free(gen); /* before the loop it has an event on */
	loop_thread_free(&pt);
	loop_thread_free(&et);
	prov_fs_free(fs);
	cm_svc_free(svc);
	if (sigterm) {
		event_free(sigterm);
	}
	if (sigint) {
		event_free(sigint);
	}
	if (base) {
		event_base_free(base);
	}
	store_close(st);
	return rc;
}
