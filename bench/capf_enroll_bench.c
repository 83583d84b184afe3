/* Enrolment rate, null auth mode, end to end over real TLS on loopback:
 * CAPF protocol sessions (our CAPF client against capf_srv) or EST
 * simpleenroll requests (our EST client against est_srv). Each enrolment
 * is a new TLS connection, a new P-256 phone key, an LSC from the site CA
 * (P-256, file key), recorded in the store (SQLite, WAL), the operation
 * cleared and audited: what a phone costs.
 *
 *   capf_enroll_bench capf|est|engine SECONDS CLIENTS SERVERS [rsa|ec [der]]
 *
 * engine: the enrolment engine alone (authorise + install, no TLS).
 *
 * SERVERS event-loop processes (each its own listening port; one store)
 * serve CLIENTS client threads in this process on the same machine, so
 * the clients' key generation and handshakes share its cores. rsa|ec:
 * the TLS server key (default rsa: the RSA-2048 CAPF certificate Cisco
 * phones need). der: the EST clients keep the LSC as checked DER
 * (est_cli_conf.lsc_der_only) instead of decoding it. Prints one line:
 *   enroll <mode> <ok> <failed> <seconds> <per-second>
 *          server_cpu <s> client_cpu <s> per_server_cpu_s <n>
 * (the last: enrolments per CPU-second of the server processes, the
 * capacity of one core whatever else runs on the machine; the site's own
 * setup before the clients start is in server_cpu too, a few ms). */
#include "base/log.h"
#include "enroll/capf_srv.h"
#include "enroll/enroll.h"
#include "enroll/enroll_cli.h"
#include "enroll/est_srv.h"
#include "pki/pki.h"
#include "pki/pki_site.h"
#include "store/store.h"

#include <event2/event.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_SERVERS 8

static char dir[256], ca_file[300], srv_cert[300], srv_key[300], db[300];
static bool est_mode, der_only;
static uint16_t ports[MAX_SERVERS];
static int nservers;
static atomic_uint next_dev;
static atomic_uint ok_count, fail_count;
static atomic_bool stop;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int make_site(unsigned ndev, bool rsa)
{
	struct pki_site_ca_opts o = {.token = false,
	                             .alg = PKI_ALG_P256,
	                             .cn = "Bench CA",
	                             .org = "Bench"};
	struct pki_ca *ca = NULL;
	struct store *st = NULL;
	EVP_PKEY *k = NULL;
	const char *ip[] = {"127.0.0.1"};
	int err;

	snprintf(dir, sizeof(dir), "%s/tl-enroll-bench-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		return -1;
	}
	snprintf(ca_file, sizeof(ca_file), "%s/pki/ca.crt", dir);
	snprintf(srv_cert, sizeof(srv_cert), "%s/pki/capf.crt", dir);
	snprintf(srv_key, sizeof(srv_key), "%s/pki/capf.key", dir);
	snprintf(db, sizeof(db), "%s/trustline.db", dir);
	char p[300];
	snprintf(p, sizeof(p), "%s/pki", dir);
	mkdir(p, 0700);
	err = pki_site_ca_create(dir, PKI_SITE_CA, &o, NULL);
	if (!err) {
		err = pki_site_ca_open(&ca, dir, PKI_SITE_CA, NULL, NULL, NULL);
	}
	if (!err) {
		err = store_open(&st, db);
	}
	if (!err) {
		err = pki_keygen(&k, rsa ? PKI_ALG_RSA2048 : PKI_ALG_P256);
	}
	struct pki_issue req = {.profile = PKI_PROFILE_SERVER,
	                        .cn = "capf",
	                        .ip = ip,
	                        .n_ip = 1,
	                        .dns = ip,
	                        .n_dns = 1,
	                        .pub = k};
	if (!err) {
		err = pki_site_issue(ca, st, &req, k, srv_cert, srv_key, NULL);
	}
	if (!err) {
		err = store_tx_begin(st);
	}
	for (unsigned i = 0; !err && i < ndev; i++) {
		struct store_device d;
		memset(&d, 0, sizeof(d));
		snprintf(d.mac, sizeof(d.mac), "%012X", i + 1);
		d.capf_auth_mode = 2;
		d.capf_op = STORE_CAPF_INSTALL;
		err = store_device_add(st, &d);
		if (!err) {
			err = store_device_update(st, &d);
		}
	}
	if (!err) {
		err = store_tx_commit(st);
	}
	EVP_PKEY_free(k);
	pki_ca_free(ca);
	store_close(st);
	return err;
}

static void on_term(evutil_socket_t s, short w, void *arg)
{
	event_base_loopexit(arg, NULL);
}

/* One server process: its own store handle, CA and event loop. */
static int serve(int idx, int ready_fd)
{
	struct event_base *base = event_base_new();
	struct store *st = NULL;
	struct pki_ca *ca = NULL;
	struct enroll *e = NULL;
	struct capf_srv *cs = NULL;
	struct est_srv *es = NULL;
	uint16_t port = 0;
	int err;

	err = store_open(&st, db);
	if (!err) {
		err = pki_site_ca_open(&ca, dir, PKI_SITE_CA, NULL, NULL, NULL);
	}
	struct enroll_conf ec = {.st = st, .ca = ca};
	if (!err) {
		err = enroll_new(&e, &ec);
	}
	if (!err && !est_mode) {
		struct capf_srv_conf c = {.cert_file = srv_cert,
		                          .key_file = srv_key,
		                          .max_conns = 4096};
		err = capf_srv_new(&cs, base, e, &c);
		port = err ? 0 : capf_srv_port(cs);
	} else if (!err) {
		struct est_srv_conf c = {.cert_file = srv_cert,
		                         .key_file = srv_key};
		err = est_srv_new(&es, base, e, &c);
		port = err ? 0 : est_srv_port(es);
	}
	if (write(ready_fd, &port, sizeof(port)) != sizeof(port)) {
		err = -1;
	}
	close(ready_fd);
	struct event *sig = evsignal_new(base, SIGTERM, on_term, base);
	if (!err && sig && evsignal_add(sig, NULL) == 0) {
		event_base_dispatch(base);
	}
	if (sig) {
		event_free(sig);
	}
	capf_srv_free(cs);
	est_srv_free(es);
	enroll_free(e);
	pki_ca_free(ca);
	store_close(st);
	event_base_free(base);
	(void)idx;
	return err ? 1 : 0;
}

/* The engine alone, in this process: authorise and install for one device
 * after another, the phone's key decoded from its SubjectPublicKeyInfo as
 * KEYGEN_RESP carries it. No TLS, no network. */
static int engine_only(int secs)
{
	struct store *st = NULL;
	struct pki_ca *ca = NULL;
	struct enroll *e = NULL;
	EVP_PKEY *k = NULL;
	uint8_t *spki = NULL;
	unsigned n = 0;
	int len, err;

	err = store_open(&st, db);
	if (!err) {
		err = pki_site_ca_open(&ca, dir, PKI_SITE_CA, NULL, NULL, NULL);
	}
	struct enroll_conf ec = {.st = st, .ca = ca};
	if (!err) {
		err = enroll_new(&e, &ec);
	}
	if (!err) {
		err = pki_keygen(&k, PKI_ALG_P256);
	}
	len = err ? 0 : i2d_PUBKEY(k, &spki);
	struct rusage ru0;
	getrusage(RUSAGE_SELF, &ru0);
	double t0 = now_s(), dt = 0;
	while (!err && len > 0 && (dt = now_s() - t0) < secs) {
		char name[16];
		struct store_device d;
		struct enroll_cred cred = {.device = name};
		struct buf der;
		const uint8_t *p = spki;
		EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, len);

		snprintf(name, sizeof(name), "SEP%012X", ++n);
		buf_init(&der, 0);
		err = enroll_authorize(e, &cred, &d);
		if (!err) {
			err = enroll_install(e, &d, pub, spki, (size_t)len,
			                     "bench", &der);
		}
		buf_free(&der);
		EVP_PKEY_free(pub);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)(ru.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	             (ru.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	             (double)(ru.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	             (ru.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	if (err) {
		fprintf(stderr, "engine: %s\n", tl_strerror(err));
	} else {
		printf("enroll engine %u 0 %.2f %.1f cpu %.2f per_cpu_s %.1f\n",
		       n, dt, n / dt, cpu, n / cpu);
	}
	OPENSSL_free(spki);
	EVP_PKEY_free(k);
	enroll_free(e);
	pki_ca_free(ca);
	store_close(st);
	return err ? 1 : 0;
}

static void *client(void *arg)
{
	struct net_tls *tls = arg;
	char name[16];

	while (!atomic_load(&stop)) {
		unsigned i = atomic_fetch_add(&next_dev, 1);
		uint16_t port = ports[i % (unsigned)nservers];
		int err;

		snprintf(name, sizeof(name), "SEP%012X", i + 1);
		if (!est_mode) {
			struct capf_cli_conf c = {.host = "127.0.0.1",
			                          .port = port,
			                          .ca_file = ca_file,
			                          .device = name,
			                          .tls = tls};
			struct capf_cli_result r;
			err = capf_cli_run(&c, &r);
			if (!err && r.done != CAPF_CLI_INSTALLED) {
				err = -1;
			}
			capf_cli_result_clear(&r);
		} else {
			struct est_cli_conf c = {.host = "127.0.0.1",
			                         .port = port,
			                         .ca_file = ca_file,
			                         .device = name,
			                         .tls = tls,
			                         .lsc_der_only = der_only};
			struct est_cli_result r;
			err = est_cli_enroll(&c, &r);
			if (err && atomic_load(&fail_count) == 0) {
				fprintf(stderr, "est: %d %s (status %d)\n", err,
				        tl_strerror(err), r.status);
			}
			est_cli_result_clear(&r);
		}
		atomic_fetch_add(err ? &fail_count : &ok_count, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pid_t pids[MAX_SERVERS];
	pthread_t th[256];
	int secs, nclients, rc = 0;
	char cmd[300];

	if (argc < 5 || (strcmp(argv[1], "capf") && strcmp(argv[1], "est") &&
	                 strcmp(argv[1], "engine"))) {
		fprintf(stderr,
		        "usage: capf_enroll_bench capf|est|engine SECONDS "
		        "CLIENTS SERVERS [rsa|ec [der]]\n");
		return 2;
	}
	est_mode = !strcmp(argv[1], "est");
	secs = (int)strtol(argv[2], NULL, 10);
	nclients = (int)strtol(argv[3], NULL, 10);
	nservers = (int)strtol(argv[4], NULL, 10);
	bool rsa = argc < 6 || strcmp(argv[5], "ec") != 0;
	der_only = argc > 6 && strcmp(argv[6], "der") == 0;
	if (secs < 1 || nclients < 1 || nclients > 256 || nservers < 1 ||
	    nservers > MAX_SERVERS) {
		fprintf(stderr, "capf_enroll_bench: bad arguments\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_WARN);
	/* OpenSSL as the trustline binary sets it up (src/pki/ossl.c) */
	if (pki_ossl_init() != 0) {
		fprintf(stderr, "capf_enroll_bench: OpenSSL's defaults\n");
	}
	if (make_site((unsigned)(secs * 4000 + 1000), rsa) != 0) {
		fprintf(stderr, "capf_enroll_bench: cannot make the site\n");
		return 1;
	}
	if (!strcmp(argv[1], "engine")) {
		rc = engine_only(secs);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		return system(cmd) != 0 ? 1 : rc;
	}
	for (int i = 0; i < nservers; i++) {
		int fds[2];
		if (pipe(fds) != 0) {
			return 1;
		}
		pids[i] = fork();
		if (pids[i] == 0) {
			close(fds[0]);
			_exit(serve(i, fds[1]));
		}
		close(fds[1]);
		if (read(fds[0], &ports[i], sizeof(ports[i])) !=
		            sizeof(ports[i]) ||
		    ports[i] == 0) {
			fprintf(stderr, "capf_enroll_bench: server failed\n");
			return 1;
		}
		close(fds[0]);
	}
	atomic_init(&next_dev, 0);
	/* one client context, as a phone has one */
	struct net_tls *tls = NULL;
	struct net_tls_conf tc = {.role = NET_TLS_CLIENT, .ca_file = ca_file};
	if (net_tls_new(&tls, &tc) != 0) {
		fprintf(stderr, "capf_enroll_bench: client TLS context\n");
		return 1;
	}
	/* the clients' CPU from here: making the site (thousands of device
	 * rows) is not theirs */
	struct rusage rc0;
	getrusage(RUSAGE_SELF, &rc0);
	double t0 = now_s();
	for (int i = 0; i < nclients; i++) {
		pthread_create(&th[i], NULL, client, tls);
	}
	sleep((unsigned)secs);
	atomic_store(&stop, true);
	for (int i = 0; i < nclients; i++) {
		pthread_join(th[i], NULL);
	}
	double dt = now_s() - t0;
	net_tls_unref(tls);
	for (int i = 0; i < nservers; i++) {
		int ws;
		kill(pids[i], SIGTERM);
		waitpid(pids[i], &ws, 0);
		if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
			rc = 1;
		}
	}
	unsigned ok = atomic_load(&ok_count), bad = atomic_load(&fail_count);
	/* CPU of the servers (waited children) and of the clients (us):
	 * enrolments per server CPU-second is the capacity of one core
	 * whatever else shares the machine */
	struct rusage rs, rc2;
	getrusage(RUSAGE_CHILDREN, &rs);
	getrusage(RUSAGE_SELF, &rc2);
	double scpu = (double)rs.ru_utime.tv_sec + rs.ru_utime.tv_usec / 1e6 +
	              (double)rs.ru_stime.tv_sec + rs.ru_stime.tv_usec / 1e6;
	double ccpu = (double)(rc2.ru_utime.tv_sec - rc0.ru_utime.tv_sec) +
	              (rc2.ru_utime.tv_usec - rc0.ru_utime.tv_usec) / 1e6 +
	              (double)(rc2.ru_stime.tv_sec - rc0.ru_stime.tv_sec) +
	              (rc2.ru_stime.tv_usec - rc0.ru_stime.tv_usec) / 1e6;
	printf("enroll %s %u %u %.2f %.1f server_cpu %.2f client_cpu %.2f "
	       "per_server_cpu_s %.1f\n",
	       argv[1], ok, bad, dt, (double)ok / dt, scpu, ccpu,
	       scpu > 0 ? (double)ok / scpu : 0.0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		rc = 1;
	}
	return rc;
}
