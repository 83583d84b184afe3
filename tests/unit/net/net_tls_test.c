/* net TLS: handshakes (1.3, 1.2), refused versions, client certificates,
 * verify hook, CRL, pinning, peer identity, key log, handshake timeout,
 * second certificate. Certificates are made with OpenSSL into a temporary
 * directory; real sockets on loopback (ports 31100-31199). */
#include "net/net.h"
#include "net/net_tls.h"
#include "unit/net/net_testutil.h"

#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
/* cmocka needs the headers above */
#include <cmocka.h>

#define PORT_BASE 31100

extern char **environ;

static char dir[256];
static X509 *ca_cert, *srv_cert, *phone_cert, *rogue_cert;
static EVP_PKEY *srv_key;

static const char *path(const char *name)
{
	static char buf[8][512];
	static int i;

	i = (i + 1) % 8;
	snprintf(buf[i], sizeof(buf[i]), "%s/%s", dir, name);
	return buf[i];
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	EVP_PKEY *ca_key, *k;
	X509 *x;

	snprintf(dir, sizeof(dir), "%s/tl-net-tls-XXXXXX",
	         tmp != NULL ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		return -1;
	}
	ca_key = t_key_ec();
	ca_cert =
	        t_cert(ca_key, "Trustline Test CA", NULL, NULL, true, 1, NULL);
	t_write_cert(path("ca.pem"), ca_cert);

	srv_key = t_key_ec();
	srv_cert = t_cert(srv_key, "ccm.test", ca_cert, ca_key, false, 2,
	                  "DNS:ccm.test,IP:127.0.0.1,IP:::1");
	t_write_cert(path("srv.pem"), srv_cert);
	t_write_key(path("srv.key"), srv_key);

	k = t_key_rsa();
	x = t_cert(k, "ccm.test", ca_cert, ca_key, false, 3,
	           "DNS:ccm.test,IP:127.0.0.1");
	t_write_cert(path("srv_rsa.pem"), x);
	t_write_key(path("srv_rsa.key"), k);
	X509_free(x);
	EVP_PKEY_free(k);

	k = t_key_ec();
	phone_cert =
	        t_cert(k, "SEP001122AABBCC", ca_cert, ca_key, false, 4, NULL);
	t_write_cert(path("phone.pem"), phone_cert);
	t_write_key(path("phone.key"), k);
	EVP_PKEY_free(k);

	k = t_key_ec();
	x = t_cert(k, "SEP0011223344FF", ca_cert, ca_key, false, 5, NULL);
	t_write_cert(path("revoked.pem"), x);
	t_write_key(path("revoked.key"), k);
	X509_free(x);
	EVP_PKEY_free(k);

	k = t_key_ec();
	rogue_cert = t_cert(k, "SEP00000000DEAD", NULL, NULL, false, 6, NULL);
	t_write_cert(path("rogue.pem"), rogue_cert);
	t_write_key(path("rogue.key"), k);
	EVP_PKEY_free(k);

	t_write_crl(path("crl.pem"), ca_cert, ca_key, 5);

	/* a second CA (a manufacturer's) that publishes no CRL to us */
	{
		EVP_PKEY *ca2_key = t_key_ec();
		X509 *ca2 = t_cert(ca2_key, "Trustline Test MFG CA", NULL, NULL,
		                   true, 11, NULL);
		FILE *f = fopen(path("ca_both.pem"), "w");

		if (f == NULL) {
			return -1;
		}
		PEM_write_X509(f, ca_cert);
		PEM_write_X509(f, ca2);
		fclose(f);
		k = t_key_ec();
		x = t_cert(k, "SEP00AABBCCDDEE", ca2, ca2_key, false, 12, NULL);
		t_write_cert(path("mic.pem"), x);
		t_write_key(path("mic.key"), k);
		X509_free(x);
		EVP_PKEY_free(k);
		X509_free(ca2);
		EVP_PKEY_free(ca2_key);
	}
	EVP_PKEY_free(ca_key);
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = {
	        "ca.pem",      "srv.pem",      "srv.key",      "srv_rsa.pem",
	        "srv_rsa.key", "phone.pem",    "phone.key",    "revoked.pem",
	        "revoked.key", "rogue.pem",    "rogue.key",    "crl.pem",
	        "keylog.txt",  "nokeylog.txt", "s_client.out", "ca_both.pem",
	        "mic.pem",     "mic.key",
	};
	size_t i;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		unlink(path(files[i]));
	}
	rmdir(dir);
	X509_free(ca_cert);
	X509_free(srv_cert);
	X509_free(phone_cert);
	X509_free(rogue_cert);
	EVP_PKEY_free(srv_key);
	return 0;
}

/* --- helpers --- */

static struct net_tls *server_ctx(enum net_tls_client_auth auth,
                                  net_tls_verify_h *vh, const char *crl,
                                  const char *keylog)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;

	c.role = NET_TLS_SERVER;
	c.cert_file = path("srv.pem");
	c.key_file = path("srv.key");
	c.ca_file = path("ca.pem");
	c.crl_file = crl;
	c.client_auth = auth;
	c.verify_h = vh;
	c.keylog_file = keylog;
	assert_int_equal(net_tls_new(&t, &c), 0);
	return t;
}

static struct net_tls *client_ctx(const char *cert, const char *key,
                                  bool use_ca, net_tls_verify_h *vh,
                                  int max_version)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;

	c.role = NET_TLS_CLIENT;
	c.cert_file = cert;
	c.key_file = key;
	c.ca_file = use_ca ? path("ca.pem") : NULL;
	c.verify_h = vh;
	c.max_version = max_version;
	assert_int_equal(net_tls_new(&t, &c), 0);
	return t;
}

struct pair {
	struct event_base *base;
	struct tstate srv, cli;
	struct net_addr sa;
};

static void pair_init(struct pair *p, const char *host, uint16_t port,
                      struct net_tls *stls, struct net_tls *ctls,
                      const struct net_conf *scf)
{
	p->base = event_base_new();
	assert_non_null(p->base);
	t_init(&p->srv, p->base, scf);
	t_init(&p->cli, p->base, NULL);
	p->srv.echo = true;
	p->sa = t_addr(host, port);
	assert_int_equal(net_listen(p->srv.n, NET_TLS, &p->sa, stls, NULL), 0);
	if (ctls != NULL) {
		net_set_tls_client(p->cli.n, ctls);
	}
	/* the listener and the net hold their own references */
	net_tls_unref(stls);
	net_tls_unref(ctls);
}

static void pair_fini(struct pair *p)
{
	t_fini(&p->cli);
	t_fini(&p->srv);
	event_base_free(p->base);
}

static bool cli_got1(void *arg)
{
	return ((struct pair *)arg)->cli.nmsg >= 1;
}

static bool both_closed(void *arg)
{
	struct pair *p = arg;
	return p->srv.closes >= 1 && p->cli.closes >= 1;
}

static bool srv_closed(void *arg)
{
	return ((struct pair *)arg)->srv.closes >= 1;
}

/* Send "hi\n" from client to server and wait for the echo. */
static bool exchange(struct pair *p)
{
	assert_int_equal(net_send(p->cli.n, NET_TLS, &p->sa, NULL,
	                          (const uint8_t *)"hi\n", 3),
	                 0);
	return run_until(p->base, cli_got1, p, 5000);
}

/* Send and expect refusal: nothing delivered, both sides closed. */
static void refused(struct pair *p)
{
	assert_int_equal(net_send(p->cli.n, NET_TLS, &p->sa, NULL,
	                          (const uint8_t *)"hi\n", 3),
	                 0);
	assert_true(run_until(p->base, both_closed, p, 5000));
	assert_int_equal(p->srv.nmsg, 0);
	assert_int_equal(p->srv.ups, 0);
	assert_int_equal(p->cli.nmsg, 0);
	assert_int_equal(net_conn_count(p->srv.n), 0);
	assert_int_equal(net_conn_count(p->cli.n), 0);
}

/* --- handshakes --- */

static void mutual(const char *host, uint16_t port, int max_version,
                   const char *want_version)
{
	struct pair p;
	struct net_conn *sc, *cc;
	STACK_OF(X509) * chain;

	pair_init(&p, host, port,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	          client_ctx(path("phone.pem"), path("phone.key"), true, NULL,
	                     max_version),
	          NULL);
	assert_true(exchange(&p));
	assert_string_equal(p.srv.msg[0], "hi\n");
	assert_int_equal(p.srv.tp[0], NET_TLS);
	assert_string_equal(p.cli.msg[0], "ok:hi\n");
	/* the server sees the phone, the phone sees the server */
	sc = p.srv.last_up;
	cc = p.cli.last_up;
	assert_non_null(sc);
	assert_non_null(cc);
	assert_int_equal(net_conn_transport(sc), NET_TLS);
	assert_string_equal(net_conn_peer_identity(sc), "SEP001122AABBCC");
	assert_string_equal(net_conn_peer_identity(cc), "ccm.test");
	assert_int_equal(X509_cmp(net_conn_peer_cert(sc), phone_cert), 0);
	assert_int_equal(X509_cmp(net_conn_peer_cert(cc), srv_cert), 0);
	chain = net_conn_peer_chain(sc);
	assert_non_null(chain);
	assert_true(sk_X509_num(chain) >= 1);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), phone_cert), 0);
	chain = net_conn_peer_chain(cc);
	assert_non_null(chain);
	assert_int_equal(X509_cmp(sk_X509_value(chain, 0), srv_cert), 0);
	assert_string_equal(net_conn_tls_version(sc), want_version);
	assert_string_equal(net_conn_tls_version(cc), want_version);
	assert_non_null(strstr(net_conn_tls_cipher(cc), "GCM") != NULL
	                        ? "GCM"
	                        : strstr(net_conn_tls_cipher(cc), "CHACHA"));
	if (max_version == TLS1_2_VERSION) {
		assert_memory_equal(net_conn_tls_cipher(cc), "ECDHE-", 6);
	}
	/* a second send reuses the connection */
	assert_int_equal(net_send(p.cli.n, NET_TLS, &p.sa, NULL,
	                          (const uint8_t *)"again\n", 6),
	                 0);
	assert_true(wait_ge(p.base, &p.srv.nmsg, 2, 3000));
	assert_int_equal(p.srv.ups, 1);
	assert_int_equal(net_conn_count(p.cli.n), 1);
	pair_fini(&p);
}

/* Many messages queued before the handshake ends and sent in a burst:
 * records read ahead and framed, every one answered, in order. */
static bool cli_got_all(void *arg)
{
	struct pair *p = arg;
	struct net_stats st;

	net_get_stats(p->cli.n, &st);
	return st.msgs_in >= 200;
}

static void test_tls_burst(void **state)
{
	struct pair p;
	struct net_stats st;
	int i;

	pair_init(
	        &p, "127.0.0.1", 31503,
	        server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	        client_ctx(path("phone.pem"), path("phone.key"), true, NULL, 0),
	        NULL);
	for (i = 0; i < 200; i++) {
		char m[32];
		int n = snprintf(m, sizeof(m), "m%d\n", i);
		assert_int_equal(net_send(p.cli.n, NET_TLS, &p.sa, NULL,
		                          (const uint8_t *)m, (size_t)n),
		                 0);
	}
	assert_true(run_until(p.base, cli_got_all, &p, 5000));
	net_get_stats(p.srv.n, &st);
	assert_int_equal(st.msgs_in, 200);
	assert_int_equal(p.srv.echo_err, 0);
	for (i = 0; i < T_MAXMSG; i++) {
		char want[32];
		snprintf(want, sizeof(want), "ok:m%d\n", i);
		assert_string_equal(p.cli.msg[i], want);
	}
	assert_int_equal(p.srv.ups, 1);
	pair_fini(&p);
}

static void test_tls13_v4(void **state)
{
	mutual("127.0.0.1", PORT_BASE + 0, 0, "TLSv1.3");
}

static void test_tls13_v6(void **state)
{
	mutual("::1", PORT_BASE + 1, 0, "TLSv1.3");
}

static void test_tls12(void **state)
{
	mutual("127.0.0.1", PORT_BASE + 2, TLS1_2_VERSION, "TLSv1.2");
}

/* --- openssl s_client --- */

/* Run argv with stdin from /dev/null and output to s_client.out, the loop
 * running meanwhile; at most ms. Returns the exit status, or -1. */
static int spawn_run(struct event_base *b, char *const argv[], unsigned ms)
{
	posix_spawn_file_actions_t fa;
	uint64_t end = t_now_ms() + ms;
	pid_t pid;
	int st;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, path("s_client.out"),
	                                 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return -1;
	}
	posix_spawn_file_actions_destroy(&fa);
	while (t_now_ms() < end) {
		run_for(b, 10);
		if (waitpid(pid, &st, WNOHANG) == pid) {
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		}
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
}

static bool out_has(const char *needle)
{
	static char buf[65536];
	FILE *f = fopen(path("s_client.out"), "r");
	size_t n;

	if (f == NULL) {
		return false;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, needle) != NULL;
}

static void test_tls11_refused(void **state)
{
	struct pair p;
	char port[16], hostport[32];

	snprintf(port, sizeof(port), "%d", PORT_BASE + 10);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%s", port);
	pair_init(&p, "127.0.0.1", PORT_BASE + 10,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL), NULL,
	          NULL);
	{
		/* control: the same client with TLS 1.3 gets in */
		char *const ok[] = {"openssl",
		                    "s_client",
		                    "-tls1_3",
		                    "-connect",
		                    hostport,
		                    "-CAfile",
		                    (char *)path("ca.pem"),
		                    "-verify_return_error",
		                    NULL};
		assert_int_equal(spawn_run(p.base, ok, 10000), 0);
		assert_true(out_has("TLSv1.3"));
		assert_true(out_has("Verify return code: 0 (ok)"));
	}
	assert_true(wait_ge(p.base, &p.srv.ups, 1, 3000));
	{
		/* TLS 1.1 offered for real (security level 0 lets the client
		 * propose it): the server must refuse */
		char *const bad[] = {"openssl",
		                     "s_client",
		                     "-tls1_1",
		                     "-cipher",
		                     "DEFAULT@SECLEVEL=0",
		                     "-connect",
		                     hostport,
		                     NULL};
		assert_int_not_equal(spawn_run(p.base, bad, 10000), 0);
	}
	{
		char *const bad[] = {"openssl",
		                     "s_client",
		                     "-tls1",
		                     "-cipher",
		                     "DEFAULT@SECLEVEL=0",
		                     "-connect",
		                     hostport,
		                     NULL};
		assert_int_not_equal(spawn_run(p.base, bad, 10000), 0);
	}
	assert_true(wait_ge(p.base, &p.srv.closes, 3, 3000));
	assert_int_equal(p.srv.ups, 1);
	assert_int_equal(p.srv.closes, 3);
	assert_int_equal(net_conn_count(p.srv.n), 0);
	pair_fini(&p);
}

/* Two certificates on one context: RSA-2048 and ECDSA P-256. */
static void test_dual_cert(void **state)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;
	struct pair p;
	char hostport[32];

	c.role = NET_TLS_SERVER;
	c.cert_file = path("srv_rsa.pem");
	c.key_file = path("srv_rsa.key");
	/* the second one as objects */
	c.cert2 = srv_cert;
	c.key2 = srv_key;
	assert_int_equal(net_tls_new(&t, &c), 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", PORT_BASE + 11);
	pair_init(&p, "127.0.0.1", PORT_BASE + 11, t, NULL, NULL);
	{
		char *const ec[] = {
		        "openssl",  "s_client", "-sigalgs", "ECDSA+SHA256",
		        "-connect", hostport,   NULL};
		assert_int_equal(spawn_run(p.base, ec, 10000), 0);
		assert_true(out_has("Server public key is 256 bit"));
	}
	{
		char *const rsa[] = {"openssl",  "s_client",
		                     "-sigalgs", "RSA-PSS+SHA256:RSA+SHA256",
		                     "-connect", hostport,
		                     NULL};
		assert_int_equal(spawn_run(p.base, rsa, 10000), 0);
		assert_true(out_has("Server public key is 2048 bit"));
	}
	pair_fini(&p);
}

/* The chain a server sends is built once from its trust store: the
 * intermediate between its certificate and the root goes with it, the
 * root does not (a client holds it as its anchor). */
static void test_chain_sent(void **state)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;
	struct pair p;
	char hostport[32];
	EVP_PKEY *rk = t_key_ec(), *ik = t_key_ec(), *lk = t_key_ec();
	X509 *root = t_cert(rk, "Chain Test Root", NULL, NULL, true, 21, NULL);
	X509 *inter = t_cert(ik, "Chain Test Inter", root, rk, true, 22, NULL);
	X509 *leaf = t_cert(lk, "chain.test", inter, ik, false, 23,
	                    "DNS:chain.test,IP:127.0.0.1");
	FILE *f = fopen(path("chain_ca.pem"), "w");

	(void)state;
	assert_non_null(f);
	assert_int_equal(PEM_write_X509(f, root), 1);
	assert_int_equal(PEM_write_X509(f, inter), 1);
	fclose(f);
	t_write_cert(path("chain_root.pem"), root);
	c.role = NET_TLS_SERVER;
	c.cert = leaf;
	c.key = lk;
	c.ca_file = path("chain_ca.pem");
	assert_int_equal(net_tls_new(&t, &c), 0);
	snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", PORT_BASE + 12);
	pair_init(&p, "127.0.0.1", PORT_BASE + 12, t, NULL, NULL);
	{
		char root_file[512];
		snprintf(root_file, sizeof(root_file), "%s",
		         path("chain_root.pem"));
		char *const argv[] = {"openssl",  "s_client", "-showcerts",
		                      "-CAfile",  root_file,  "-connect",
		                      hostport,   NULL};
		assert_int_equal(spawn_run(p.base, argv, 10000), 0);
		assert_true(out_has(" 0 s:CN = chain.test"));
		assert_true(out_has(" 1 s:CN = Chain Test Inter"));
		assert_false(out_has(" 2 s:"));
		assert_false(out_has("s:CN = Chain Test Root"));
		/* the root alone suffices to verify what was sent */
		assert_true(out_has("Verify return code: 0 (ok)"));
	}
	pair_fini(&p);
	unlink(path("chain_ca.pem"));
	unlink(path("chain_root.pem"));
	X509_free(root);
	X509_free(inter);
	X509_free(leaf);
	EVP_PKEY_free(rk);
	EVP_PKEY_free(ik);
	EVP_PKEY_free(lk);
}

/* --- client certificates --- */

static void test_client_cert_missing(void **state)
{
	struct pair p;

	pair_init(&p, "127.0.0.1", PORT_BASE + 20,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, true, NULL, 0), NULL);
	refused(&p);
	assert_int_equal(p.srv.close_err, -TL_ETRUST);
	assert_int_equal(p.cli.close_err, -TL_EAUTH);
	{
		struct net_stats st;
		net_get_stats(p.srv.n, &st);
		assert_int_equal(st.accepted, 1);
		assert_int_equal(st.closed, 1);
		assert_int_equal(st.tls_failures, 1);
		assert_int_equal(st.msgs_in, 0);
	}
	pair_fini(&p);
}

static void test_client_cert_optional(void **state)
{
	struct pair p;

	/* none sent: accepted, no identity */
	pair_init(&p, "127.0.0.1", PORT_BASE + 21,
	          server_ctx(NET_TLS_CLIENT_CERT_OPTIONAL, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, true, NULL, 0), NULL);
	assert_true(exchange(&p));
	assert_null(net_conn_peer_identity(p.srv.last_up));
	assert_null(net_conn_peer_cert(p.srv.last_up));
	assert_string_equal(net_conn_peer_identity(p.cli.last_up), "ccm.test");
	pair_fini(&p);
	/* one sent that does not verify: refused */
	pair_init(
	        &p, "127.0.0.1", PORT_BASE + 22,
	        server_ctx(NET_TLS_CLIENT_CERT_OPTIONAL, NULL, NULL, NULL),
	        client_ctx(path("rogue.pem"), path("rogue.key"), true, NULL, 0),
	        NULL);
	refused(&p);
	assert_int_equal(p.srv.close_err, -TL_ETRUST);
	pair_fini(&p);
}

static void test_crl(void **state)
{
	struct pair p;

	pair_init(&p, "127.0.0.1", PORT_BASE + 30,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL,
	                     path("crl.pem"), NULL),
	          client_ctx(path("revoked.pem"), path("revoked.key"), true,
	                     NULL, 0),
	          NULL);
	refused(&p);
	assert_int_equal(p.srv.close_err, -TL_ETRUST);
	pair_fini(&p);
	pair_init(
	        &p, "127.0.0.1", PORT_BASE + 31,
	        server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, path("crl.pem"),
	                   NULL),
	        client_ctx(path("phone.pem"), path("phone.key"), true, NULL, 0),
	        NULL);
	assert_true(exchange(&p));
	assert_string_equal(net_conn_peer_identity(p.srv.last_up),
	                    "SEP001122AABBCC");
	pair_fini(&p);
}

/* net_tls_reload_crl: a context started without a CRL accepts a
 * certificate until a CRL revoking it is loaded; then new handshakes are
 * refused and others pass. Files that are not a CRL are refused and leave
 * the CRL in force. */
static void write_file(const char *name, const char *text)
{
	FILE *f = fopen(path(name), "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_crl_reload(void **state)
{
	static const struct {
		const char *name; /* NULL: no file */
		const char *text;
	} bad[] = {
	        {NULL, NULL},
	        {"crl_empty.pem", ""},
	        {"crl_garbage.pem", "-----BEGIN X509 CRL-----\nnot base64\n"
	                            "-----END X509 CRL-----\n"},
	        {"crl_trunc.pem", "-----BEGIN X509 CRL-----\nMIIB\n"},
	        {"crl_text.pem", "no PEM here\n"},
	};
	struct net_tls *stls =
	        server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL);
	struct pair p;
	size_t i;

	(void)state;
	assert_int_equal(net_tls_reload_crl(NULL, path("crl.pem")), -EINVAL);
	assert_int_equal(net_tls_reload_crl(stls, NULL), -EINVAL);
	pair_init(&p, "127.0.0.1", PORT_BASE + 95, net_tls_ref(stls),
	          client_ctx(path("revoked.pem"), path("revoked.key"), true,
	                     NULL, 0),
	          NULL);
	assert_true(exchange(&p));
	pair_fini(&p);

	assert_int_equal(net_tls_reload_crl(stls, path("crl.pem")), 0);
	pair_init(&p, "127.0.0.1", PORT_BASE + 96, net_tls_ref(stls),
	          client_ctx(path("revoked.pem"), path("revoked.key"), true,
	                     NULL, 0),
	          NULL);
	refused(&p);
	assert_int_equal(p.srv.close_err, -TL_ETRUST);
	pair_fini(&p);

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *f = bad[i].name != NULL ? path(bad[i].name)
		                                    : path("crl_none.pem");
		if (bad[i].name != NULL) {
			write_file(bad[i].name, bad[i].text);
		}
		assert_int_equal(net_tls_reload_crl(stls, f), -TL_ECONFIG);
		if (bad[i].name != NULL) {
			unlink(f);
		}
	}
	/* the CRL in force stayed */
	pair_init(&p, "127.0.0.1", PORT_BASE + 97, net_tls_ref(stls),
	          client_ctx(path("revoked.pem"), path("revoked.key"), true,
	                     NULL, 0),
	          NULL);
	refused(&p);
	pair_fini(&p);
	/* loading the same CRL twice replaces it (no duplicates) */
	assert_int_equal(net_tls_reload_crl(stls, path("crl.pem")), 0);
	assert_int_equal(net_tls_reload_crl(stls, path("crl.pem")), 0);
	pair_init(
	        &p, "127.0.0.1", PORT_BASE + 98, net_tls_ref(stls),
	        client_ctx(path("phone.pem"), path("phone.key"), true, NULL, 0),
	        NULL);
	assert_true(exchange(&p));
	pair_fini(&p);
	net_tls_unref(stls);
}

/* A CRL for one CA, none for the other: strict by default; with
 * crl_missing_ok the second CA's certificates pass, the first's revoked
 * one still does not. */
static struct net_tls *crl_ctx(bool missing_ok)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;

	c.role = NET_TLS_SERVER;
	c.cert_file = path("srv.pem");
	c.key_file = path("srv.key");
	c.ca_file = path("ca_both.pem");
	c.crl_file = path("crl.pem");
	c.crl_missing_ok = missing_ok;
	c.client_auth = NET_TLS_CLIENT_CERT_REQUIRED;
	assert_int_equal(net_tls_new(&t, &c), 0);
	return t;
}

static void test_crl_missing(void **state)
{
	static const struct {
		bool missing_ok;
		const char *cert, *key;
		bool accepted;
	} cases[] = {
	        {false, "mic.pem", "mic.key", false},
	        {true, "mic.pem", "mic.key", true},
	        {true, "revoked.pem", "revoked.key", false},
	        {true, "phone.pem", "phone.key", true},
	        {false, "phone.pem", "phone.key", true},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pair p;

		pair_init(&p, "127.0.0.1", PORT_BASE + 32 + (uint16_t)i,
		          crl_ctx(cases[i].missing_ok),
		          client_ctx(path(cases[i].cert), path(cases[i].key),
		                     true, NULL, 0),
		          NULL);
		if (cases[i].accepted) {
			assert_true(exchange(&p));
			assert_non_null(net_conn_peer_identity(p.srv.last_up));
		} else {
			refused(&p);
			assert_int_equal(p.srv.close_err, -TL_ETRUST);
		}
		pair_fini(&p);
	}
}

/* --- verify hook --- */

static int hook_calls, hook_pre;

static int hook_reject(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                       void *arg)
{
	hook_calls++;
	hook_pre = preverify_ok;
	return 0;
}

/* Accept exactly the rogue (self-signed) phone certificate: a CTL pin. */
static int hook_pin_rogue(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                          void *arg)
{
	hook_calls++;
	hook_pre = preverify_ok;
	return X509_cmp(peer, rogue_cert) == 0 && sk_X509_num(chain) >= 1 &&
	       X509_cmp(sk_X509_value(chain, 0), peer) == 0;
}

static int hook_pin_srv(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                        void *arg)
{
	hook_calls++;
	hook_pre = preverify_ok;
	return X509_cmp(peer, srv_cert) == 0;
}

static int hook_pin_phone(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                          void *arg)
{
	hook_calls++;
	return X509_cmp(peer, phone_cert) == 0;
}

static void test_verify_hook_reject(void **state)
{
	struct pair p;

	hook_calls = 0;
	pair_init(
	        &p, "127.0.0.1", PORT_BASE + 40,
	        server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, hook_reject, NULL,
	                   NULL),
	        client_ctx(path("phone.pem"), path("phone.key"), true, NULL, 0),
	        NULL);
	refused(&p);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_pre, 1); /* the chain itself was fine */
	assert_int_equal(p.srv.close_err, -TL_ETRUST);
	assert_int_equal(p.cli.close_err, -TL_EAUTH);
	pair_fini(&p);
}

static void test_verify_hook_pin(void **state)
{
	struct pair p;

	/* server pins a self-signed phone certificate the CA never
	 * issued */
	hook_calls = 0;
	pair_init(
	        &p, "127.0.0.1", PORT_BASE + 41,
	        server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, hook_pin_rogue, NULL,
	                   NULL),
	        client_ctx(path("rogue.pem"), path("rogue.key"), true, NULL, 0),
	        NULL);
	assert_true(exchange(&p));
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_pre, 0);
	assert_string_equal(net_conn_peer_identity(p.srv.last_up),
	                    "SEP00000000DEAD");
	pair_fini(&p);
	/* client with no CA file pins the server certificate */
	hook_calls = 0;
	pair_init(&p, "127.0.0.1", PORT_BASE + 42,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, false, hook_pin_srv, 0), NULL);
	assert_true(exchange(&p));
	assert_int_equal(hook_calls, 1);
	assert_int_equal(hook_pre, 0);
	assert_string_equal(net_conn_peer_identity(p.cli.last_up), "ccm.test");
	pair_fini(&p);
	/* ... and refuses a server that is not the pinned one */
	pair_init(&p, "127.0.0.1", PORT_BASE + 43,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, false, hook_pin_phone, 0), NULL);
	refused(&p);
	assert_int_equal(p.cli.close_err, -TL_ETRUST);
	pair_fini(&p);
}

/* Trust anchors given as objects: the CA verifies the server, a
 * certificate that did not issue it does not. */
static struct net_tls *client_anchors(X509 *anchor)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;
	STACK_OF(X509) *sk = sk_X509_new_null();

	assert_non_null(sk);
	assert_true(sk_X509_push(sk, anchor) > 0);
	c.role = NET_TLS_CLIENT;
	c.ca_certs = sk;
	assert_int_equal(net_tls_new(&t, &c), 0);
	sk_X509_free(sk); /* borrowed: the context holds its own */
	return t;
}

static void test_ca_certs(void **state)
{
	struct pair p;

	(void)state;
	pair_init(&p, "127.0.0.1", PORT_BASE + 44,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_anchors(ca_cert), NULL);
	assert_true(exchange(&p));
	assert_string_equal(net_conn_peer_identity(p.cli.last_up), "ccm.test");
	pair_fini(&p);
	pair_init(&p, "127.0.0.1", PORT_BASE + 45,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_anchors(rogue_cert), NULL);
	refused(&p);
	pair_fini(&p);
}

/* Server name: SNI and subject alternative name check. */
static bool up_or_closed(void *arg)
{
	struct tstate *t = arg;
	return t->ups >= 1 || t->closes >= 1;
}

static void test_server_name(void **state)
{
	static const struct {
		const char *name;
		bool ok;
	} cases[] = {
	        {"ccm.test", true},
	        {"127.0.0.1", true},
	        {"other.test", false},
	        {"10.9.9.9", false},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pair p;
		struct net_conn *c = NULL;

		pair_init(
		        &p, "127.0.0.1", PORT_BASE + 50 + (uint16_t)i,
		        server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
		        client_ctx(NULL, NULL, true, NULL, 0), NULL);
		assert_int_equal(net_connect(&c, p.cli.n, NET_TLS, &p.sa, NULL,
		                             cases[i].name),
		                 0);
		assert_false(net_conn_is_up(c));
		assert_true(run_until(p.base, up_or_closed, &p.cli, 5000));
		assert_int_equal(net_conn_is_up(c), cases[i].ok);
		if (!cases[i].ok) {
			assert_int_equal(p.cli.close_err, -TL_ETRUST);
		}
		net_conn_unref(c);
		pair_fini(&p);
	}
}

/* --- key log --- */

static void test_keylog(void **state)
{
	struct pair p;
	struct stat st;
	char line[512];
	bool found = false;
	FILE *f;

	/* not configured: nothing written anywhere we name */
	pair_init(&p, "127.0.0.1", PORT_BASE + 60,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, true, NULL, 0), NULL);
	assert_true(exchange(&p));
	pair_fini(&p);
	assert_int_equal(stat(path("keylog.txt"), &st), -1);
	assert_int_equal(stat(path("nokeylog.txt"), &st), -1);
	/* configured on the server */
	pair_init(&p, "127.0.0.1", PORT_BASE + 61,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL,
	                     path("keylog.txt")),
	          client_ctx(NULL, NULL, true, NULL, 0), NULL);
	assert_true(exchange(&p));
	pair_fini(&p);
	assert_int_equal(stat(path("keylog.txt"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	f = fopen(path("keylog.txt"), "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		/* NSS key log: LABEL <64 hex client random> <hex secret> */
		if (strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24) == 0 &&
		    strlen(line) > 24 + 64 + 1 + 64) {
			found = true;
		}
	}
	fclose(f);
	assert_true(found);
}

/* --- limits --- */

static void test_handshake_timeout(void **state)
{
	struct pair p;
	struct net_conf cf;
	char buf[16];
	uint64_t t0;
	int fd;

	net_conf_default(&cf);
	cf.handshake_timeout_ms = 200;
	pair_init(&p, "127.0.0.1", PORT_BASE + 70,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL), NULL,
	          &cf);
	t0 = t_now_ms();
	fd = raw_connect(&p.sa);
	assert_true(fd >= 0);
	/* a ClientHello that never completes */
	assert_int_equal(write(fd, "\x16\x03\x01\x02\x00\x01", 6), 6);
	assert_true(run_until(p.base, srv_closed, &p, 3000));
	assert_int_equal(p.srv.close_err, -ETIMEDOUT);
	assert_true(t_now_ms() - t0 >= 190);
	assert_int_equal(raw_read(p.base, fd, buf, sizeof(buf), 1000), 0);
	assert_int_equal(p.srv.ups, 0);
	close(fd);
	pair_fini(&p);
}

static bool wait_count(struct event_base *b, struct net *n, unsigned want,
                       unsigned ms)
{
	uint64_t end = t_now_ms() + ms;

	while (net_conn_count(n) != want && t_now_ms() < end) {
		run_for(b, 5);
	}
	return net_conn_count(n) == want;
}

/* Handshakes pending per source address. */
static void test_pending_limit(void **state)
{
	struct pair p;
	struct net_conf cf;
	char buf[16];
	int fd1, fd2;

	net_conf_default(&cf);
	cf.max_pending_per_ip = 1;
	pair_init(&p, "127.0.0.1", PORT_BASE + 71,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, true, NULL, 0), &cf);
	fd1 = raw_connect(&p.sa);
	assert_true(fd1 >= 0);
	assert_true(wait_count(p.base, p.srv.n, 1, 2000));
	fd2 = raw_connect(&p.sa);
	assert_true(fd2 >= 0);
	assert_int_equal(raw_read(p.base, fd2, buf, sizeof(buf), 1000), 0);
	assert_int_equal(net_conn_count(p.srv.n), 1);
	/* a completed handshake does not count as pending */
	close(fd1);
	assert_true(wait_count(p.base, p.srv.n, 0, 2000));
	assert_true(exchange(&p));
	fd1 = raw_connect(&p.sa);
	assert_true(wait_count(p.base, p.srv.n, 2, 2000));
	run_for(p.base, 30);
	assert_int_equal(net_conn_count(p.srv.n), 2);
	close(fd1);
	close(fd2);
	pair_fini(&p);
}

/* The stream limits hold over TLS too: a message over max_input, and a
 * message that never completes. */
static void test_tls_stream_limits(void **state)
{
	struct pair p;
	struct net_conf cf;
	struct net_conn *c;
	char big[400];
	uint64_t t0;
	int i;

	net_conf_default(&cf);
	cf.max_input = 256;
	cf.msg_timeout_ms = 300;
	pair_init(&p, "127.0.0.1", PORT_BASE + 80,
	          server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
	          client_ctx(NULL, NULL, true, NULL, 0), &cf);
	assert_true(exchange(&p));
	c = net_conn_find(p.cli.n, NET_TLS, &p.sa);
	assert_non_null(c);
	memset(big, 'b', sizeof(big));
	assert_int_equal(net_conn_send(c, (const uint8_t *)big, sizeof(big)),
	                 0);
	assert_true(run_until(p.base, both_closed, &p, 3000));
	assert_int_equal(p.srv.close_err, -TL_ELIMIT);
	assert_int_equal(p.srv.nmsg, 1);
	net_conn_unref(c);
	/* slow sender */
	p.srv.closes = p.cli.closes = 0;
	p.cli.nmsg = 0;
	assert_true(exchange(&p));
	c = net_conn_find(p.cli.n, NET_TLS, &p.sa);
	assert_non_null(c);
	t0 = t_now_ms();
	for (i = 0; i < 40 && p.srv.closes == 0; i++) {
		assert_int_equal(net_conn_send(c, (const uint8_t *)"s", 1), 0);
		run_for(p.base, 50);
	}
	assert_int_equal(p.srv.closes, 1);
	assert_int_equal(p.srv.close_err, -ETIMEDOUT);
	assert_true(t_now_ms() - t0 >= 250);
	assert_true(t_now_ms() - t0 < 1500);
	net_conn_unref(c);
	pair_fini(&p);
}

/* The identity string: exactly one subject CN, no NUL inside. */
static X509 *cn_cert(const char *const *cns, const int *lens, int n)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();
	int i;

	assert_non_null(x);
	assert_non_null(nm);
	X509_NAME_add_entry_by_txt(nm, "O", MBSTRING_ASC,
	                           (const unsigned char *)"Trustline", -1, -1,
	                           0);
	for (i = 0; i < n; i++) {
		assert_int_equal(X509_NAME_add_entry_by_txt(
		                         nm, "CN", MBSTRING_ASC,
		                         (const unsigned char *)cns[i], lens[i],
		                         -1, 0),
		                 1);
	}
	X509_set_subject_name(x, nm);
	X509_NAME_free(nm);
	return x;
}

static void test_cert_cn(void **state)
{
	static const char *const one[] = {"SEP001122AABBCC"};
	static const int one_len[] = {15};
	static const char *const two[] = {"SEP001122AABBCC", "ccm.test"};
	static const int two_len[] = {15, 8};
	static const char *const nul[] = {"SEP0011\0ccm.test"};
	static const int nul_len[] = {16};
	char cn[64], small[8];
	X509 *x;

	x = cn_cert(one, one_len, 1);
	assert_int_equal(net_tls_cert_cn(x, cn, sizeof(cn)), 0);
	assert_string_equal(cn, "SEP001122AABBCC");
	/* must reject: does not fit */
	assert_int_equal(net_tls_cert_cn(x, small, sizeof(small)), -TL_ETOOBIG);
	assert_string_equal(small, "");
	X509_free(x);
	/* must reject: no CN, duplicate CN, NUL inside, no certificate */
	x = cn_cert(NULL, NULL, 0);
	assert_int_equal(net_tls_cert_cn(x, cn, sizeof(cn)), -TL_ENOTFOUND);
	X509_free(x);
	x = cn_cert(two, two_len, 2);
	assert_int_equal(net_tls_cert_cn(x, cn, sizeof(cn)), -TL_EDUP);
	X509_free(x);
	x = cn_cert(nul, nul_len, 1);
	assert_int_equal(net_tls_cert_cn(x, cn, sizeof(cn)), -TL_EPARSE);
	assert_string_equal(cn, "");
	X509_free(x);
	assert_int_equal(net_tls_cert_cn(NULL, cn, sizeof(cn)), -EINVAL);
}

/* Bytes that are not TLS: refused with one line, nothing delivered. */
static void test_not_tls(void **state)
{
#define IN(s)                                                                  \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
	static const struct {
		const char *p;
		size_t len;
	} inputs[] = {
	        IN("OPTIONS sip:x SIP/2.0\r\n\r\n"),
	        IN("\x16\x03\x01\xff\xff garbage that claims a huge record"),
	        /* a ClientHello record whose body is truncated nonsense */
	        IN("\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"),
	        /* an alert before any handshake */
	        IN("\x15\x03\x03\x00\x02\x02\x28"),
	};
#undef IN
	size_t i;

	for (i = 0; i < sizeof(inputs) / sizeof(inputs[0]); i++) {
		struct pair p;
		char buf[64];
		int fd;

		pair_init(
		        &p, "127.0.0.1", PORT_BASE + 90 + (uint16_t)i,
		        server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL, NULL, NULL),
		        NULL, NULL);
		fd = raw_connect(&p.sa);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, inputs[i].p, inputs[i].len),
		                 (ssize_t)inputs[i].len);
		assert_true(run_until(p.base, srv_closed, &p, 3000));
		assert_int_equal(p.srv.ups, 0);
		assert_int_equal(p.srv.nmsg, 0);
		assert_int_not_equal(p.srv.close_err, 0);
		/* the server hung up (after an alert, maybe) */
		while (raw_read(p.base, fd, buf, sizeof(buf), 1000) > 0) {
		}
		close(fd);
		pair_fini(&p);
	}
}

/* --- configuration errors --- */

static void test_conf_reject(void **state)
{
	struct net_tls *t = NULL;
	struct net_tls_conf c;

	memset(&c, 0, sizeof(c));
	c.role = NET_TLS_SERVER;
	c.cert_file = path("srv.pem");
	c.key_file = path("srv.key");
	c.min_version = TLS1_1_VERSION;
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.min_version = 0;
	c.max_version = TLS1_1_VERSION;
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.max_version = 0;
	c.key_file = path("phone.key"); /* does not match */
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.key_file = path("missing.key");
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.key_file = NULL;
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.key_file = path("srv.key");
	c.ca_file = path("missing.pem");
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.ca_file = NULL;
	c.crl_file = path("missing.pem");
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	c.crl_file = NULL;
	c.keylog_file = "/nonexistent-dir/keylog";
	assert_int_not_equal(net_tls_new(&t, &c), 0);
	c.keylog_file = NULL;
	/* a server needs a certificate */
	memset(&c, 0, sizeof(c));
	c.role = NET_TLS_SERVER;
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	/* a client must check the server somehow */
	c.role = NET_TLS_CLIENT;
	assert_int_equal(net_tls_new(&t, &c), -TL_ECONFIG);
	assert_null(t);
	/* objects instead of files */
	c.role = NET_TLS_SERVER;
	c.cert = srv_cert;
	c.key = srv_key;
	assert_int_equal(net_tls_new(&t, &c), 0);
	assert_int_equal(net_tls_role(t), NET_TLS_SERVER);
	assert_non_null(net_tls_ssl_ctx(t));
	net_tls_unref(t);
	net_tls_unref(NULL);
}

/* Derived contexts: one shared client SSL_CTX, a certificate, key and
 * verify hook per connection (a fleet of phones in one process). */
static int derived_calls[2];

static int hook_count_pin_srv(X509 *peer, STACK_OF(X509) * chain,
                              int preverify_ok, void *arg)
{
	(void)chain;
	(void)preverify_ok;
	(*(int *)arg)++;
	return X509_cmp(peer, srv_cert) == 0;
}

static X509 *read_cert(const char *file)
{
	FILE *f = fopen(file, "r");
	X509 *x;

	assert_non_null(f);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(x);
	return x;
}

static EVP_PKEY *read_key(const char *file)
{
	FILE *f = fopen(file, "r");
	EVP_PKEY *k;

	assert_non_null(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	assert_non_null(k);
	return k;
}

static struct net_tls *derived(struct net_tls *base, const char *cert,
                               const char *key, int *calls)
{
	struct net_tls_conf c = {0};
	struct net_tls *t = NULL;

	c.cert = read_cert(cert);
	c.key = read_key(key);
	c.verify_h = calls ? hook_count_pin_srv : NULL;
	c.verify_arg = calls;
	assert_int_equal(net_tls_new_derived(&t, base, &c), 0);
	X509_free(c.cert); /* the context keeps its own references */
	EVP_PKEY_free(c.key);
	return t;
}

static void test_derived(void **state)
{
	struct net_tls *base, *d;
	struct net_tls_conf bad = {0};
	struct pair p;

	(void)state;
	base = client_ctx(NULL, NULL, false, hook_reject, 0);
	/* the phone's identity and hook on a derived context */
	hook_calls = 0;
	derived_calls[0] = derived_calls[1] = 0;
	d = derived(base, path("phone.pem"), path("phone.key"),
	            &derived_calls[0]);
	pair_init(&p, "127.0.0.1", PORT_BASE + 99,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	          d, NULL);
	assert_true(exchange(&p));
	assert_string_equal(net_conn_peer_identity(p.srv.last_up),
	                    "SEP001122AABBCC");
	assert_int_equal(derived_calls[0], 1);
	assert_int_equal(hook_calls, 0); /* the base's hook was not asked */
	pair_fini(&p);
	/* another identity on the same base: the server refuses the
	 * certificate its CA did not issue */
	d = derived(base, path("rogue.pem"), path("rogue.key"),
	            &derived_calls[1]);
	pair_init(&p, "127.0.0.1", PORT_BASE + 99,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	          d, NULL);
	refused(&p);
	pair_fini(&p);
	/* without a hook of its own, the base's (refusing) hook decides */
	d = derived(base, path("phone.pem"), path("phone.key"), NULL);
	pair_init(&p, "127.0.0.1", PORT_BASE + 99,
	          server_ctx(NET_TLS_CLIENT_CERT_REQUIRED, NULL, NULL, NULL),
	          d, NULL);
	refused(&p);
	assert_int_equal(hook_calls, 1);
	assert_int_equal(p.cli.close_err, -TL_ETRUST);
	pair_fini(&p);
	/* misuse: a key that is not the certificate's, a server base, a
	 * derived base */
	bad.cert = phone_cert;
	bad.key = srv_key;
	assert_int_equal(net_tls_new_derived(&d, base, &bad), -TL_ECONFIG);
	assert_null(d);
	bad.key = NULL;
	assert_int_equal(net_tls_new_derived(&d, base, &bad), -EINVAL);
	{
		struct net_tls *s = server_ctx(NET_TLS_CLIENT_CERT_NONE, NULL,
		                               NULL, NULL);
		struct net_tls_conf none = {0};
		assert_int_equal(net_tls_new_derived(&d, s, &none), -EINVAL);
		net_tls_unref(s);
		assert_int_equal(net_tls_new_derived(&d, base, &none), 0);
		struct net_tls *dd = NULL;
		assert_int_equal(net_tls_new_derived(&dd, d, &none), -EINVAL);
		net_tls_unref(d);
	}
	net_tls_unref(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_tls13_v4),
	        cmocka_unit_test(test_tls13_v6),
	        cmocka_unit_test(test_tls12),
	        cmocka_unit_test(test_tls_burst),
	        cmocka_unit_test(test_tls11_refused),
	        cmocka_unit_test(test_dual_cert),
	        cmocka_unit_test(test_chain_sent),
	        cmocka_unit_test(test_client_cert_missing),
	        cmocka_unit_test(test_client_cert_optional),
	        cmocka_unit_test(test_crl),
	        cmocka_unit_test(test_crl_missing),
	        cmocka_unit_test(test_crl_reload),
	        cmocka_unit_test(test_verify_hook_reject),
	        cmocka_unit_test(test_verify_hook_pin),
	        cmocka_unit_test(test_ca_certs),
	        cmocka_unit_test(test_server_name),
	        cmocka_unit_test(test_keylog),
	        cmocka_unit_test(test_handshake_timeout),
	        cmocka_unit_test(test_pending_limit),
	        cmocka_unit_test(test_tls_stream_limits),
	        cmocka_unit_test(test_not_tls),
	        cmocka_unit_test(test_cert_cn),
	        cmocka_unit_test(test_conf_reject),
	        cmocka_unit_test(test_derived),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
