/* The transport binding end to end: two stacks (and plain sockets playing
 * a peer) on loopback, real UDP and TCP sockets, one event loop. */
#include "base/buf.h"
#include "base/slice.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"
#include "net/net_tls.h"
#include "sip/sip_stack.h"
#include "sip/sip_tsx.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

struct tu {
	int requests;
	int acks;
	int cancels;
	uint16_t answer;
	uint16_t stateless; /* answer with sip_stack_reply_stateless */
	bool hold;
	struct sip_tsx *held;
	enum net_transport tp;
	struct net_addr src;
	bool had_conn;
	char ident[64];
	/* client side */
	uint16_t codes[16];
	size_t ncodes;
};

struct fx {
	struct event_base *base;
	struct sip_stack *srv;
	struct sip_stack *cli;
	struct net_addr srv_udp;
	struct net_addr srv_tcp;
	struct net_addr cli_udp;
	struct tu stu;
	struct tu ctu;
};

static void on_request(struct sip_stack *s, const struct sip_stack_req *r,
		       void *arg)
{
	struct tu *u = arg;

	if (!r->tsx) {
		u->acks++;
		return;
	}
	u->requests++;
	u->tp = r->tp;
	u->src = *r->src;
	u->had_conn = r->conn != NULL;
	if (r->peer_identity) {
		snprintf(u->ident, sizeof(u->ident), "%s", r->peer_identity);
	}
	if (u->hold) {
		u->held = sip_tsx_ref(r->tsx);
	}
	if (u->stateless) {
		assert_int_equal(
			sip_stack_reply_stateless(s, r, u->stateless, "Nope"),
			0);
	}
	if (u->answer) {
		assert_int_equal(sip_tsx_reply(r->tsx, u->answer, NULL,
					       SLICE_LIT("Allow: INVITE, ACK, "
							 "CANCEL, OPTIONS\r\n"),
					       SLICE_NULL, SLICE_NULL),
				 0);
	}
}

static void on_cancel(struct sip_tsx *t, void *arg)
{
	((struct tu *)arg)->cancels++;
}

static void on_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
		    void *arg)
{
	struct tu *u = arg;

	assert_true(u->ncodes < 16);
	u->codes[u->ncodes++] = code;
}

static struct sip_stack *mk_stack(struct event_base *base, struct tu *u)
{
	struct sip_stack_cfg cfg = {
		.base = base,
		.t1_ms = 50,
		.t2_ms = 200,
		.t4_ms = 100,
		.d_ms = 100,
		.request_h = on_request,
		.cancel_h = on_cancel,
		.arg = u,
	};
	struct sip_stack *s = NULL;

	assert_int_equal(sip_stack_new(&s, &cfg), 0);
	return s;
}

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct net_addr any;

	assert_non_null(f);
	f->base = event_base_new();
	assert_non_null(f->base);
	f->srv = mk_stack(f->base, &f->stu);
	f->cli = mk_stack(f->base, &f->ctu);
	assert_int_equal(net_addr_set(&any, "127.0.0.1", 0), 0);
	assert_int_equal(
		sip_stack_listen(f->srv, NET_UDP, &any, NULL, &f->srv_udp), 0);
	assert_int_equal(
		sip_stack_listen(f->srv, NET_TCP, &any, NULL, &f->srv_tcp), 0);
	assert_int_equal(
		sip_stack_listen(f->cli, NET_UDP, &any, NULL, &f->cli_udp), 0);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	sip_tsx_unref(f->stu.held);
	sip_tsx_unref(f->ctu.held);
	sip_stack_free(f->cli);
	sip_stack_free(f->srv);
	event_base_free(f->base);
	free(f);
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Runs the loop in small steps until *n reaches want (or 3 s pass). */
static void run_until(struct fx *f, const size_t *n, size_t want)
{
	uint64_t st = now_ms();
	struct timeval tv = {0, 10000};

	while (*n < want && now_ms() - st < 3000) {
		event_base_loopexit(f->base, &tv);
		event_base_dispatch(f->base);
	}
}

static void run_ms(struct fx *f, unsigned ms)
{
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};

	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static void mk_request(struct buf *b, const char *method, const char *tp,
		       const struct net_addr *via, const char *callid,
		       const char *extra_via_params)
{
	char host[NET_ADDR_STRLEN];
	char br[SIP_TSX_BRANCH_LEN];

	assert_int_equal(net_addr_fmt(via, host, sizeof(host)), 0);
	assert_int_equal(sip_tsx_branch(br), 0);
	buf_printf(b,
		   "%s sip:bob@127.0.0.1 SIP/2.0\r\n"
		   "Via: SIP/2.0/%s %s;branch=%s%s\r\n"
		   "Max-Forwards: 70\r\n"
		   "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		   "To: <sip:bob@127.0.0.1>\r\n"
		   "Call-ID: %s\r\n"
		   "CSeq: 1 %s\r\n"
		   "Content-Length: 0\r\n\r\n",
		   method, tp, host, br, extra_via_params, callid, method);
}

static void test_udp_options(void **state)
{
	struct fx *f = *state;
	struct buf b;

	f->stu.answer = 200;
	buf_init(&b, 0);
	mk_request(&b, "OPTIONS", "UDP", &f->cli_udp, "udp-1@test", ";rport");
	assert_int_equal(sip_stack_request(f->cli, NULL, b.p, b.len, NET_UDP,
					   &f->srv_udp, on_resp, &f->ctu),
			 0);
	run_until(f, &f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.codes[0], 200);
	assert_int_equal(f->stu.requests, 1);
	assert_int_equal(f->stu.tp, NET_UDP);
	assert_false(f->stu.had_conn);
	assert_true(net_addr_eq(&f->stu.src, &f->cli_udp));
	struct sip_stack_stats st;
	sip_stack_stats(f->srv, &st);
	assert_int_equal(st.rx_requests, 1);
	sip_stack_stats(f->cli, &st);
	assert_int_equal(st.rx_responses, 1);
	buf_free(&b);
}

static void test_tcp_options(void **state)
{
	struct fx *f = *state;
	struct buf b;

	f->stu.answer = 200;
	buf_init(&b, 0);
	mk_request(&b, "OPTIONS", "TCP", &f->cli_udp, "tcp-1@test", "");
	assert_int_equal(sip_stack_request(f->cli, NULL, b.p, b.len, NET_TCP,
					   &f->srv_tcp, on_resp, &f->ctu),
			 0);
	run_until(f, &f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.codes[0], 200);
	assert_int_equal(f->stu.tp, NET_TCP);
	assert_true(f->stu.had_conn);
	/* reliable: both transactions end at once (Timers J, K = 0) */
	assert_int_equal(sip_tsx_layer_count(sip_stack_tsx(f->srv)), 0);
	assert_int_equal(sip_tsx_layer_count(sip_stack_tsx(f->cli)), 0);
	buf_free(&b);
}

/* INVITE, 100 Trying, CANCEL: 200 to the CANCEL, 487 to the INVITE, the
 * ACK from the client transaction ends the server one. */
static void test_invite_cancel(void **state)
{
	struct fx *f = *state;
	struct sip_tsx *t = NULL;
	struct buf b;

	f->stu.hold = true;
	buf_init(&b, 0);
	mk_request(&b, "INVITE", "UDP", &f->cli_udp, "inv-1@test", ";rport");
	assert_int_equal(sip_stack_request(f->cli, &t, b.p, b.len, NET_UDP,
					   &f->srv_udp, on_resp, &f->ctu),
			 0);
	run_until(f, &f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.codes[0], 100);
	assert_non_null(f->stu.held);
	assert_int_equal(sip_tsx_cancel(t), 0);
	run_until(f, &f->ctu.ncodes, 2);
	assert_int_equal(f->ctu.ncodes, 2);
	assert_int_equal(f->ctu.codes[1], 487);
	assert_int_equal(f->stu.cancels, 1);
	assert_int_equal(sip_tsx_final(f->stu.held), 487);
	/* the ACK reaches the server transaction: Confirmed, then Timer I */
	uint64_t st = now_ms();
	while (sip_tsx_state(f->stu.held) != SIP_TSX_TERMINATED &&
	       now_ms() - st < 3000) {
		run_ms(f, 10);
	}
	assert_int_equal(sip_tsx_state(f->stu.held), SIP_TSX_TERMINATED);
	assert_int_equal(f->stu.acks, 0);
	sip_tsx_unref(t);
	buf_free(&b);
}

static int raw_socket(struct net_addr *bound)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	assert_int_equal(net_addr_from_sa(bound, (struct sockaddr *)&sin, len),
			 0);
	return fd;
}

static void raw_send(int fd, const struct net_addr *to, const char *p,
		     size_t len)
{
	assert_int_equal(sendto(fd, p, len, 0, (const struct sockaddr *)&to->ss,
				to->len),
			 (ssize_t)len);
}

/* Runs the loop until a datagram is waiting on fd (or 2 s), reads it. */
static ssize_t raw_recv(struct fx *f, int fd, char *buf, size_t n)
{
	uint64_t st = now_ms();

	while (now_ms() - st < 2000) {
		run_ms(f, 10);
		ssize_t r = recv(fd, buf, n - 1, MSG_DONTWAIT);
		if (r >= 0) {
			buf[r] = '\0';
			return r;
		}
	}
	return -1;
}

/* RFC 3581: the response goes to the source port, not the Via port, and
 * its top Via says where the request came from. */
static void test_rport_routing(void **state)
{
	struct fx *f = *state;
	struct net_addr me, fake;
	char buf[4096], want[256];
	struct buf b;
	int fd = raw_socket(&me);

	f->stu.answer = 200;
	/* the Via names port 9, where nobody listens */
	assert_int_equal(net_addr_set(&fake, "127.0.0.1", 9), 0);
	buf_init(&b, 0);
	mk_request(&b, "OPTIONS", "UDP", &fake, "rport-1@test", ";rport");
	raw_send(fd, &f->srv_udp, (const char *)b.p, b.len);
	assert_true(raw_recv(f, fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 200 OK\r\n", 16) == 0);
	snprintf(want, sizeof(want), ";rport=%u;", net_addr_port(&me));
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, ";received=127.0.0.1\r\n"));
	assert_non_null(strstr(buf, "\r\nAllow: INVITE, ACK, CANCEL, "
				    "OPTIONS\r\n"));
	/* a stateless answer is routed and tagged the same way */
	f->stu.answer = 0;
	f->stu.stateless = 403;
	buf_reset(&b);
	mk_request(&b, "OPTIONS", "UDP", &fake, "rport-2@test", ";rport");
	raw_send(fd, &f->srv_udp, (const char *)b.p, b.len);
	assert_true(raw_recv(f, fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 403 Nope\r\n", 18) == 0);
	assert_non_null(strstr(buf, want));
	assert_non_null(strstr(buf, ";received=127.0.0.1\r\n"));
	assert_non_null(strstr(buf, "\r\nTo: <sip:bob@127.0.0.1>;tag="));
	close(fd);
	buf_free(&b);
}

/* A request the codec refuses but can answer gets "400 <reason>"; bytes
 * that are no request, and broken responses, are dropped. */
static void test_bad_input(void **state)
{
	struct fx *f = *state;
	struct net_addr me;
	char buf[4096];
	struct sip_stack_stats st;
	int fd = raw_socket(&me);
	char host[NET_ADDR_STRLEN];
	char req[1024];

	assert_int_equal(net_addr_fmt(&me, host, sizeof(host)), 0);
	/* Content-Length larger than the datagram (RFC 3261 §18.3) */
	snprintf(req, sizeof(req),
		 "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP %s;rport;branch=z9hG4bKbad1\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@127.0.0.1>\r\n"
		 "Call-ID: bad-1@test\r\n"
		 "CSeq: 1 OPTIONS\r\n"
		 "Content-Length: 500\r\n\r\n",
		 host);
	raw_send(fd, &f->srv_udp, req, strlen(req));
	assert_true(raw_recv(f, fd, buf, sizeof(buf)) > 0);
	assert_true(strncmp(buf, "SIP/2.0 400 ", 12) == 0);
	assert_non_null(strstr(buf, "\r\nCall-ID: bad-1@test\r\n"));
	/* the reason is the codec's, not the default phrase */
	assert_null(strstr(buf, "SIP/2.0 400 Bad Request\r\n"));
	assert_int_equal(f->stu.requests, 0);

	static const char *const junk[] = {
		"hello",
		"SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"\x00\x01\x02\x03",
		"ACK sip:bob@127.0.0.1 SIP/2.0\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		raw_send(fd, &f->srv_udp, junk[i],
			 i == 2 ? 4 : strlen(junk[i]));
	}
	assert_true(raw_recv(f, fd, buf, sizeof(buf)) < 0);
	sip_stack_stats(f->srv, &st);
	assert_int_equal(st.rx_bad_requests, 1);
	assert_int_equal(st.rx_dropped, 4);
	assert_int_equal(st.rx_requests, 0);
	close(fd);
}

/* RFC 3261 §18.2.2: when the connection a request came on has closed,
 * the response goes over a new connection to the source IP and the Via
 * sent-by port. */
static void test_tcp_closed_fallback(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t sl = sizeof(sin);
	struct net_addr lst;
	struct buf b;
	char buf[4096] = "";
	size_t got = 0;

	/* where the "phone" listens (its Via sent-by) */
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(lfd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(net_addr_from_sa(&lst, (struct sockaddr *)&sin, sl),
			 0);

	f->stu.hold = true;
	buf_init(&b, 0);
	mk_request(&b, "OPTIONS", "TCP", &lst, "tcp-2@test", "");
	int cfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(cfd >= 0);
	assert_int_equal(connect(cfd, (const struct sockaddr *)&f->srv_tcp.ss,
				 f->srv_tcp.len),
			 0);
	assert_int_equal(write(cfd, b.p, b.len), (ssize_t)b.len);
	uint64_t st = now_ms();
	while (f->stu.requests == 0 && now_ms() - st < 3000) {
		run_ms(f, 10);
	}
	assert_int_equal(f->stu.requests, 1);
	assert_non_null(f->stu.held);
	close(cfd);
	run_ms(f, 100);
	assert_int_equal(sip_tsx_reply(f->stu.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	int afd = -1;
	st = now_ms();
	while (afd < 0 && now_ms() - st < 3000) {
		run_ms(f, 10);
		afd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	}
	assert_true(afd >= 0);
	st = now_ms();
	while (!strstr(buf, "\r\n\r\n") && now_ms() - st < 3000) {
		run_ms(f, 10);
		ssize_t r = read(afd, buf + got, sizeof(buf) - 1 - got);
		if (r > 0) {
			got += (size_t)r;
		}
		buf[got] = '\0';
	}
	assert_true(strncmp(buf, "SIP/2.0 200 OK\r\n", 16) == 0);
	assert_non_null(strstr(buf, "\r\nCall-ID: tcp-2@test\r\n"));
	close(afd);
	close(lfd);
	buf_free(&b);
}

/* ---- TLS: the verified peer identity reaches the TU ---- */

static void add_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
	assert_non_null(e);
	assert_int_equal(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/* A P-256 certificate for CN cn, signed by ca/cakey (self-signed when ca
 * is NULL). */
static X509 *mk_cert(EVP_PKEY *key, const char *cn, X509 *ca, EVP_PKEY *cakey,
		     long serial, const char *san)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();

	assert_non_null(x);
	assert_non_null(nm);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
				   (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, ca ? X509_get_subject_name(ca) : nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	add_ext(x, ca ? ca : x, NID_basic_constraints,
		ca ? "critical,CA:FALSE" : "critical,CA:TRUE");
	if (ca) {
		add_ext(x, ca, NID_ext_key_usage, "serverAuth,clientAuth");
	} else {
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	if (san) {
		add_ext(x, ca ? ca : x, NID_subject_alt_name, san);
	}
	assert_true(X509_sign(x, cakey ? cakey : key, EVP_sha256()) > 0);
	X509_NAME_free(nm);
	return x;
}

static void test_tls_identity(void **state)
{
	struct fx *f = *state;
	EVP_PKEY *cak = EVP_EC_gen("P-256");
	EVP_PKEY *sk = EVP_EC_gen("P-256");
	EVP_PKEY *pk = EVP_EC_gen("P-256");
	char dir[] = "/tmp/tl-sip-tls-XXXXXX";
	char ca_path[64];
	struct net_tls *stls = NULL, *ctls = NULL;
	struct net_addr any, srv_tls;
	struct buf b;

	assert_non_null(cak);
	assert_non_null(sk);
	assert_non_null(pk);
	X509 *ca = mk_cert(cak, "Trustline Test CA", NULL, NULL, 1, NULL);
	X509 *sc = mk_cert(sk, "ccm.test", ca, cak, 2,
			   "DNS:ccm.test,IP:127.0.0.1");
	X509 *pc = mk_cert(pk, "SEP001122AABBCC", ca, cak, 3, NULL);
	/* the CA goes in a file: the net layer reads trust anchors so */
	assert_non_null(mkdtemp(dir));
	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", dir);
	FILE *fp = fopen(ca_path, "w");
	assert_non_null(fp);
	assert_int_equal(PEM_write_X509(fp, ca), 1);
	fclose(fp);

	struct net_tls_conf sconf = {
		.role = NET_TLS_SERVER,
		.cert = sc,
		.key = sk,
		.ca_file = ca_path,
		.client_auth = NET_TLS_CLIENT_CERT_REQUIRED,
	};
	struct net_tls_conf cconf = {
		.role = NET_TLS_CLIENT,
		.cert = pc,
		.key = pk,
		.ca_file = ca_path,
	};
	assert_int_equal(net_tls_new(&stls, &sconf), 0);
	assert_int_equal(net_tls_new(&ctls, &cconf), 0);
	assert_int_equal(net_addr_set(&any, "127.0.0.1", 0), 0);
	assert_int_equal(
		sip_stack_listen(f->srv, NET_TLS, &any, stls, &srv_tls), 0);
	sip_stack_set_tls_client(f->cli, ctls);

	f->stu.answer = 200;
	buf_init(&b, 0);
	mk_request(&b, "OPTIONS", "TLS", &f->cli_udp, "tls-1@test", "");
	assert_int_equal(sip_stack_request(f->cli, NULL, b.p, b.len, NET_TLS,
					   &srv_tls, on_resp, &f->ctu),
			 0);
	run_until(f, &f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.ncodes, 1);
	assert_int_equal(f->ctu.codes[0], 200);
	assert_int_equal(f->stu.tp, NET_TLS);
	assert_true(f->stu.had_conn);
	assert_string_equal(f->stu.ident, "SEP001122AABBCC");

	buf_free(&b);
	net_tls_unref(stls);
	net_tls_unref(ctls);
	unlink(ca_path);
	rmdir(dir);
	X509_free(ca);
	X509_free(sc);
	X509_free(pc);
	EVP_PKEY_free(cak);
	EVP_PKEY_free(sk);
	EVP_PKEY_free(pk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_udp_options, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_options, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_invite_cancel, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_rport_routing, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_bad_input, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(test_tcp_closed_fallback,
						fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(test_tls_identity, fx_setup,
						fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
