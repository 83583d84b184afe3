/* Helpers shared by the net unit tests: a recording handler set, bounded
 * loop runners, raw loopback sockets, and certificates made with OpenSSL
 * into a temporary directory. Header-only: each test executable includes
 * it once. */
#ifndef TL_NET_TESTUTIL_H
#define TL_NET_TESTUTIL_H

#include "net/net.h"
#include "net/net_tls.h"

#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define T_MAXMSG 32
#define T_UNUSED __attribute__((unused))

struct tstate {
	struct event_base *base;
	struct net *n;
	/* received messages */
	int nmsg;
	char msg[T_MAXMSG][256];
	size_t len[T_MAXMSG];
	enum net_transport tp[T_MAXMSG];
	struct net_addr src[T_MAXMSG];
	struct net_addr local[T_MAXMSG];
	/* connection events */
	int ups, closes, pongs;
	int close_err;
	struct net_conn *last_up; /* referenced */
	/* echo: answer "ok:<msg>" with net_send to the source */
	bool echo;
	int echo_err;
};

static T_UNUSED uint64_t t_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Test framing: a message is a line ending in '\n'; "\r\n\r\n" is a ping,
 * a lone "\r\n" a pong; a NUL byte is a framing error. */
static T_UNUSED int t_frame(const uint8_t *p, size_t len, size_t *msg_len,
                            void *arg)
{
	size_t i;

	(void)arg;
	if (len >= 2 && p[0] == '\r' && p[1] == '\n') {
		if (len >= 4 && p[2] == '\r' && p[3] == '\n') {
			*msg_len = 4;
			return NET_FRAME_KEEPALIVE;
		}
		if (len == 2 || p[2] != '\r') {
			*msg_len = 2;
			return NET_FRAME_KEEPALIVE;
		}
		return NET_FRAME_MORE;
	}
	for (i = 0; i < len; i++) {
		if (p[i] == 0) {
			return -TL_EPARSE;
		}
		if (p[i] == '\n') {
			*msg_len = i + 1;
			return NET_FRAME_MSG;
		}
	}
	return NET_FRAME_MORE;
}

static T_UNUSED void t_recv(struct net_conn *c, const struct net_addr *src,
                            const struct net_addr *local, enum net_transport tp,
                            const uint8_t *msg, size_t len, void *arg)
{
	struct tstate *t = arg;
	int i = t->nmsg;

	if (i < T_MAXMSG) {
		size_t n = len < 255 ? len : 255;
		memcpy(t->msg[i], msg, n);
		t->msg[i][n] = '\0';
		t->len[i] = len;
		t->tp[i] = tp;
		t->src[i] = *src;
		t->local[i] = *local;
		t->nmsg++;
	}
	if (t->echo) {
		char out[300];
		int n = snprintf(out, sizeof(out), "ok:%.*s", (int)len,
		                 (const char *)msg);
		if (n > 0 && (size_t)n < sizeof(out)) {
			t->echo_err = net_send(t->n, tp, src, local,
			                       (const uint8_t *)out, (size_t)n);
		}
	}
	(void)c;
}

static T_UNUSED void t_conn(struct net_conn *c, enum net_conn_event ev, int err,
                            void *arg)
{
	struct tstate *t = arg;

	switch (ev) {
	case NET_CONN_UP:
		t->ups++;
		net_conn_unref(t->last_up);
		t->last_up = net_conn_ref(c);
		break;
	case NET_CONN_CLOSED:
		t->closes++;
		t->close_err = err;
		break;
	case NET_CONN_PONG:
		t->pongs++;
		break;
	}
}

static T_UNUSED void t_init(struct tstate *t, struct event_base *base,
                            const struct net_conf *conf)
{
	struct net_handlers h = {t_frame, t_recv, t_conn, t};

	memset(t, 0, sizeof(*t));
	t->base = base;
	if (net_new(&t->n, base, conf, &h) != 0) {
		fprintf(stderr, "net_new failed\n");
		abort();
	}
}

static T_UNUSED void t_fini(struct tstate *t)
{
	net_conn_unref(t->last_up);
	t->last_up = NULL;
	net_free(t->n);
	t->n = NULL;
}

/* Run the loop for ms milliseconds. */
static T_UNUSED void run_for(struct event_base *b, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(b, &tv);
	event_base_dispatch(b);
}

/* Run the loop until cond() holds, at most ms milliseconds. */
static T_UNUSED bool run_until(struct event_base *b, bool (*cond)(void *),
                               void *arg, unsigned ms)
{
	uint64_t end = t_now_ms() + ms;

	while (!cond(arg) && t_now_ms() < end) {
		run_for(b, 5);
	}
	return cond(arg);
}

struct t_wait {
	const int *v;
	int want;
};

static T_UNUSED bool t_wait_cond(void *arg)
{
	const struct t_wait *w = arg;
	return *w->v >= w->want;
}

/* Run the loop until *v >= want, at most ms milliseconds. */
static T_UNUSED bool wait_ge(struct event_base *b, const int *v, int want,
                             unsigned ms)
{
	struct t_wait w = {v, want};
	return run_until(b, t_wait_cond, &w, ms);
}

static T_UNUSED struct net_addr t_addr(const char *host, uint16_t port)
{
	struct net_addr a;

	if (net_addr_set(&a, host, port) != 0) {
		abort();
	}
	return a;
}

/* A blocking TCP socket connected to a, with receive timeouts. */
static T_UNUSED int raw_connect(const struct net_addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0) {
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static T_UNUSED void raw_write(int fd, const char *s)
{
	size_t n = strlen(s);

	if (write(fd, s, n) != (ssize_t)n) {
		abort();
	}
}

/* Read what fd has while running the loop, at most ms: returns bytes
 * read (>0), 0 on EOF, -1 on timeout or error. */
static T_UNUSED ssize_t raw_read(struct event_base *b, int fd, char *dst,
                                 size_t len, unsigned ms)
{
	uint64_t end = t_now_ms() + ms;

	while (t_now_ms() < end) {
		ssize_t r;

		run_for(b, 5);
		r = recv(fd, dst, len, MSG_DONTWAIT);
		if (r >= 0) {
			return r;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK) {
			return errno == ECONNRESET ? 0 : -1;
		}
	}
	return -1;
}

/* Certificates. */
static T_UNUSED EVP_PKEY *t_key_ec(void)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");

	if (k == NULL) {
		abort();
	}
	return k;
}

static T_UNUSED EVP_PKEY *t_key_rsa(void)
{
	EVP_PKEY *k = EVP_RSA_gen(2048);

	if (k == NULL) {
		abort();
	}
	return k;
}

static T_UNUSED void t_ext(X509 *x, X509 *issuer, int nid, const char *val)
{
	X509V3_CTX ctx;
	X509_EXTENSION *e;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &ctx, nid, val);
	if (e == NULL || X509_add_ext(x, e, -1) != 1) {
		abort();
	}
	X509_EXTENSION_free(e);
}

/* A certificate for key with subject CN cn, signed by issuer/ikey (self
 * signed when issuer is NULL). */
static T_UNUSED X509 *t_cert(EVP_PKEY *key, const char *cn, X509 *issuer,
                             EVP_PKEY *ikey, bool ca, long serial,
                             const char *san)
{
	X509 *x = X509_new();
	X509_NAME *nm = X509_NAME_new();

	if (x == NULL || nm == NULL) {
		abort();
	}
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_NAME_add_entry_by_txt(nm, "CN", MBSTRING_ASC,
	                           (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(x, nm);
	X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer)
	                                       : nm);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	if (ca) {
		t_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
		      "critical,CA:TRUE");
		t_ext(x, issuer != NULL ? issuer : x, NID_key_usage,
		      "critical,keyCertSign,cRLSign");
	} else {
		t_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
		      "critical,CA:FALSE");
		t_ext(x, issuer != NULL ? issuer : x, NID_ext_key_usage,
		      "serverAuth,clientAuth");
	}
	if (san != NULL) {
		t_ext(x, issuer != NULL ? issuer : x, NID_subject_alt_name,
		      san);
	}
	if (X509_sign(x, ikey != NULL ? ikey : key, EVP_sha256()) <= 0) {
		abort();
	}
	X509_NAME_free(nm);
	return x;
}

static T_UNUSED void t_write_cert(const char *path, X509 *x)
{
	FILE *f = fopen(path, "w");

	if (f == NULL || PEM_write_X509(f, x) != 1) {
		abort();
	}
	fclose(f);
}

static T_UNUSED void t_write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "w");

	if (f == NULL ||
	    PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) != 1) {
		abort();
	}
	fclose(f);
}

/* A CRL from ca revoking serial (0: none). */
static T_UNUSED void t_write_crl(const char *path, X509 *ca, EVP_PKEY *cakey,
                                 long serial)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *t = ASN1_TIME_new();
	FILE *f;

	if (crl == NULL || t == NULL) {
		abort();
	}
	X509_CRL_set_version(crl, 1);
	X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca));
	X509_gmtime_adj(t, -60);
	X509_CRL_set1_lastUpdate(crl, t);
	X509_gmtime_adj(t, 86400);
	X509_CRL_set1_nextUpdate(crl, t);
	if (serial != 0) {
		X509_REVOKED *r = X509_REVOKED_new();
		ASN1_INTEGER *s = ASN1_INTEGER_new();
		ASN1_INTEGER_set(s, serial);
		X509_REVOKED_set_serialNumber(r, s);
		X509_gmtime_adj(t, -30);
		X509_REVOKED_set_revocationDate(r, t);
		X509_CRL_add0_revoked(crl, r);
		ASN1_INTEGER_free(s);
	}
	X509_CRL_sort(crl);
	if (X509_CRL_sign(crl, cakey, EVP_sha256()) <= 0) {
		abort();
	}
	f = fopen(path, "w");
	if (f == NULL || PEM_write_X509_CRL(f, crl) != 1) {
		abort();
	}
	fclose(f);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
}

#endif
