/* CAPF protocol server: sessions as a state x command table over the
 * enrolment engine (reference/cisco-formats.md §4.2, docs/capf.md). */
#include "enroll/capf_srv.h"

#include "base/log.h"
#include "codec/capf/capf_msg.h"
#include "net/net.h"
#include "net/net_tls.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

enum sess_state {
	S_AUTH,   /* AUTH_REQ sent: waiting for AUTH_RESP */
	S_KEYGEN, /* KEYGEN_REQ sent: waiting for KEYGEN_RESP */
	S_STORE,  /* STORE_CERT_REQ sent: waiting for STORE_CERT_RESP */
	S_FETCH,  /* FETCH_CERT_REQ sent: waiting for FETCH_CERT_RESP */
	S_DELETE, /* DELETE_CERT_REQ sent: waiting for DELETE_CERT_RESP */
	S_DONE,   /* END_SESSION sent */
	S_COUNT
};

struct capf_srv {
	struct event_base *base;
	struct enroll *e;
	struct net *net;
	struct net_tls *tls;
	uint16_t port;
	enum pki_alg key_alg;
	unsigned session_timeout_ms;
	struct capf_srv_stats stats;
	struct sess *sessions; /* every open session */
};

struct sess {
	struct capf_srv *srv;
	struct net_conn *c; /* a reference */
	struct event *timer;
	uint32_t id;
	enum sess_state state;
	struct store_device dev;
	struct sess *next, **prevp;
};

typedef int sess_h(struct sess *s, const struct capf_msg *m);

static int send_msg(struct sess *s, struct buf *b, size_t start)
{
	int err = capf_msg_end(b, start);

	/* Cisco phones stall when header and body arrive apart: one
	 * write. */
	if (!err) {
		err = net_conn_send(s->c, b->p, b->len);
	}
	buf_free(b);
	return err;
}

static void end_session(struct sess *s, uint8_t reason)
{
	struct buf b;

	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_END_SESSION, s->id);
	capf_put_u8(&b, CAPF_T_REASON, reason);
	if (send_msg(s, &b, start) != 0) {
		net_conn_close(s->c);
		return;
	}
	s->state = S_DONE;
	net_conn_close_flush(s->c);
}

static int send_auth_req(struct sess *s)
{
	struct buf b;

	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_AUTH_REQ, s->id);
	capf_put_u8(&b, CAPF_T_VERSION, CAPF_VERSION);
	capf_put_u8(&b, CAPF_T_AUTH_TYPE, CAPF_AUTH_NONE);
	return send_msg(s, &b, start);
}

/* The refusals of the engine, for the log and the phone. */
static void refuse(struct sess *s, const char *what, int err)
{
	s->srv->stats.refused++;
	log_warn("capf", "session %08x %s: %s refused: %s", s->id,
	         s->dev.name[0] ? s->dev.name : "?", what, tl_strerror(err));
	end_session(s, err == -TL_ESTATE ? CAPF_R_NONE : CAPF_R_UNKNOWN_DEV);
}

/* AUTH_RESP in a certificate mode: the certificate and the signature over
 * device name || 0x00 || DER(certificate), with SHA-1 in SIGNED_DATA and
 * SHA-512 in SHA2_SIGNED_DATA (reference §4.2); every signature present
 * must verify and one must be there. */
static int auth_cert(const struct capf_msg *m, const char *name, X509 **out)
{
	struct slice der, sig;
	uint8_t type, hash;
	struct buf data;
	bool any = false;
	X509 *x = NULL;
	int err;

	*out = NULL;
	err = capf_msg_cert(m, &type, &der);
	if (err) {
		return err;
	}
	err = pki_cert_parse(&x, der.p, der.len);
	if (err) {
		return err;
	}
	buf_init(&data, 0);
	buf_put_str(&data, name);
	buf_put_u8(&data, 0);
	buf_put_slice(&data, der);
	err = buf_err(&data);
	if (!err && capf_msg_sig2(m, &hash, &sig) == 0) {
		any = true;
		err = hash == CAPF_HASH_SHA512
		              ? pki_verify(X509_get0_pubkey(x), EVP_sha512(),
		                           data.p, data.len, sig.p, sig.len)
		              : -TL_EUNKNOWN;
	}
	if (!err && capf_msg_has(m, CAPF_T_SIGNED_DATA)) {
		any = true;
		sig = m->el[CAPF_T_SIGNED_DATA];
		err = pki_verify(X509_get0_pubkey(x), EVP_sha1(), data.p,
		                 data.len, sig.p, sig.len);
	}
	if (!err && !any) {
		err = -TL_ESIG;
	}
	buf_free(&data);
	if (err) {
		X509_free(x);
		return err;
	}
	*out = x;
	return 0;
}

static int send_keygen_req(struct sess *s)
{
	struct buf b;

	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_KEYGEN_REQ, s->id);
	switch (s->srv->key_alg) {
	case PKI_ALG_P256:
	case PKI_ALG_P384:
		capf_put_u8(&b, CAPF_T_KEY_TYPE, CAPF_KEY_EC);
		capf_put_u8(&b, CAPF_T_CURVE,
		            s->srv->key_alg == PKI_ALG_P256 ? CAPF_CURVE_P256
		                                            : CAPF_CURVE_P384);
		break;
	default:
		capf_put_u8(&b, CAPF_T_KEY_TYPE, CAPF_KEY_RSA);
		capf_put_u16(&b, CAPF_T_KEY_SIZE,
		             s->srv->key_alg == PKI_ALG_RSA4096   ? 4096
		             : s->srv->key_alg == PKI_ALG_RSA3072 ? 3072
		                                                  : 2048);
		break;
	}
	return send_msg(s, &b, start);
}

static int send_empty(struct sess *s, enum capf_cmd cmd)
{
	struct buf b;

	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, cmd, s->id);
	return send_msg(s, &b, start);
}

static int on_auth_resp(struct sess *s, const struct capf_msg *m)
{
	char name[CAPF_NAME_MAX], pass[CAPF_PASS_MAX];
	struct enroll_cred cred = {0};
	X509 *cert = NULL;
	int err;

	err = capf_msg_str(m, CAPF_T_DEVICE_NAME, name, sizeof(name));
	if (err) {
		return err;
	}
	cred.device = name;
	if (capf_msg_has(m, CAPF_T_PASSWORD)) {
		err = capf_msg_str(m, CAPF_T_PASSWORD, pass, sizeof(pass));
		if (err) {
			return err;
		}
		if (pass[0] != '\0') {
			cred.auth_string = pass;
		}
	}
	if (capf_msg_has(m, CAPF_T_CERTIFICATE)) {
		err = auth_cert(m, name, &cert);
		if (err) {
			OPENSSL_cleanse(pass, sizeof(pass));
			snprintf(s->dev.name, sizeof(s->dev.name), "%.15s",
			         name);
			refuse(s, "certificate", err);
			return 0;
		}
		cred.cert = cert;
	}
	err = enroll_authorize(s->srv->e, &cred, &s->dev);
	OPENSSL_cleanse(pass, sizeof(pass));
	X509_free(cert);
	if (err) {
		if (s->dev.name[0] == '\0') {
			snprintf(s->dev.name, sizeof(s->dev.name), "%.15s",
			         name);
		}
		refuse(s, "authentication", err);
		return 0;
	}
	switch (s->dev.capf_op) {
	case STORE_CAPF_INSTALL:
	case STORE_CAPF_UPGRADE:
		s->state = S_KEYGEN;
		return send_keygen_req(s);
	case STORE_CAPF_FETCH:
		s->state = S_FETCH;
		return send_empty(s, CAPF_FETCH_CERT_REQ);
	case STORE_CAPF_DELETE:
		/* Revoke first: the LSC is gone for us whether or not the
		 * phone confirms. */
		err = enroll_delete(s->srv->e, &s->dev, "capf");
		if (err) {
			refuse(s, "delete", err);
			return 0;
		}
		s->srv->stats.deletes++;
		log_info("capf", "session %08x %s: LSC deleted", s->id,
		         s->dev.name);
		s->state = S_DELETE;
		return send_empty(s, CAPF_DELETE_CERT_REQ);
	default:
		refuse(s, "operation", -TL_ESTATE);
		return 0;
	}
}

static int on_in_progress(struct sess *s, const struct capf_msg *m)
{
	return 0; /* the phone is generating its key: keep waiting */
}

static int on_keygen_resp(struct sess *s, const struct capf_msg *m)
{
	struct slice spki;
	EVP_PKEY *pub = NULL;
	struct buf der, b;
	int err;

	if (!capf_msg_has(m, CAPF_T_PUBLIC_KEY)) {
		return -TL_ENOTFOUND;
	}
	spki = m->el[CAPF_T_PUBLIC_KEY];
	if (pki_spki_decode(&pub, spki.p, spki.len) != 0) {
		return -TL_EPARSE;
	}
	buf_init(&der, 0);
	err = enroll_install(s->srv->e, &s->dev, pub, spki.p, spki.len, "capf",
	                     &der);
	EVP_PKEY_free(pub);
	if (err) {
		buf_free(&der);
		refuse(s, "install", err);
		return 0;
	}
	s->srv->stats.installs++;
	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, CAPF_STORE_CERT_REQ, s->id);
	capf_put_u8(&b, CAPF_T_CERT_TYPE, CAPF_CERT_LSC);
	capf_put_cert(&b, CAPF_CERT_LSC, der.p, der.len);
	buf_free(&der);
	s->state = S_STORE;
	return send_msg(s, &b, start);
}

static int on_store_resp(struct sess *s, const struct capf_msg *m)
{
	uint8_t reason = 0;

	if (capf_msg_u8(m, CAPF_T_REASON, &reason) != 0 ||
	    reason != CAPF_R_OK) {
		log_warn("capf",
		         "session %08x %s: phone did not store its "
		         "LSC (reason %u)",
		         s->id, s->dev.name, reason);
	} else {
		log_info("capf", "session %08x %s: LSC installed", s->id,
		         s->dev.name);
	}
	end_session(s, CAPF_R_OK);
	return 0;
}

static int on_fetch_resp(struct sess *s, const struct capf_msg *m)
{
	struct slice der = SLICE_NULL;
	uint8_t type;
	struct buf cur;
	int err;

	if (capf_msg_has(m, CAPF_T_CERTIFICATE)) {
		err = capf_msg_cert(m, &type, &der);
		if (err) {
			return err;
		}
	}
	buf_init(&cur, 0);
	err = enroll_fetch(s->srv->e, &s->dev, der, "capf", &cur);
	buf_free(&cur);
	if (err && err != -TL_ENOTFOUND) {
		refuse(s, "fetch", err);
		return 0;
	}
	s->srv->stats.fetches++;
	end_session(s, CAPF_R_NONE);
	return 0;
}

static int on_delete_resp(struct sess *s, const struct capf_msg *m)
{
	end_session(s, CAPF_R_OK);
	return 0;
}

static int on_end(struct sess *s, const struct capf_msg *m)
{
	s->state = S_DONE;
	net_conn_close_flush(s->c);
	return 0;
}

/* STYLE.md §7: one handler per (state, command) cell; an empty cell is a
 * protocol violation. */
static sess_h *const table[S_COUNT][CAPF_CMD_MAX + 1] = {
        [S_AUTH] = {[CAPF_AUTH_RESP] = on_auth_resp,
                    [CAPF_END_SESSION] = on_end,
                    [CAPF_ABORT_REQ] = on_end},
        [S_KEYGEN] = {[CAPF_REQUEST_IN_PROGRESS] = on_in_progress,
                      [CAPF_KEYGEN_RESP] = on_keygen_resp,
                      [CAPF_END_SESSION] = on_end,
                      [CAPF_ABORT_REQ] = on_end},
        [S_STORE] = {[CAPF_STORE_CERT_RESP] = on_store_resp,
                     [CAPF_REQUEST_IN_PROGRESS] = on_in_progress,
                     [CAPF_END_SESSION] = on_end,
                     [CAPF_ABORT_REQ] = on_end},
        [S_FETCH] = {[CAPF_FETCH_CERT_RESP] = on_fetch_resp,
                     [CAPF_END_SESSION] = on_end,
                     [CAPF_ABORT_REQ] = on_end},
        [S_DELETE] = {[CAPF_DELETE_CERT_RESP] = on_delete_resp,
                      [CAPF_END_SESSION] = on_end,
                      [CAPF_ABORT_REQ] = on_end},
};

static void violation(struct sess *s, const char *what, int err)
{
	s->srv->stats.protocol++;
	log_warn("capf", "session %08x: %s: %s", s->id, what, tl_strerror(err));
	end_session(s, CAPF_R_INVALID);
}

static int frame_h(const uint8_t *p, size_t len, size_t *msg_len, void *arg)
{
	int r = capf_frame(p, len, msg_len);

	if (r < 0) {
		return r;
	}
	return r == 1 ? NET_FRAME_MSG : NET_FRAME_MORE;
}

static void recv_h(struct net_conn *c, const struct net_addr *src,
                   const struct net_addr *local, enum net_transport tp,
                   const uint8_t *msg, size_t len, void *arg)
{
	struct sess *s = net_conn_user(c);
	struct capf_msg m;
	int err;

	if (s == NULL || s->state == S_DONE) {
		return;
	}
	err = capf_msg_parse(&m, msg, len);
	if (err) {
		violation(s, "malformed message", err);
		return;
	}
	if (m.session != s->id) {
		violation(s, "wrong session id", -TL_EPARSE);
		return;
	}
	sess_h *h = table[s->state][m.cmd];
	if (h == NULL) {
		violation(s, capf_cmd_name(m.cmd), -TL_ESTATE);
		return;
	}
	err = h(s, &m);
	if (err) {
		violation(s, capf_cmd_name(m.cmd), err);
	}
}

static void sess_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct sess *s = arg;

	s->srv->stats.timeouts++;
	log_warn("capf", "session %08x: no progress within %u ms, closed",
	         s->id, s->srv->session_timeout_ms);
	net_conn_close(s->c);
}

static void sess_free(struct sess *s)
{
	if (s->timer) {
		event_free(s->timer);
	}
	if (s->prevp) {
		*s->prevp = s->next;
		if (s->next) {
			s->next->prevp = s->prevp;
		}
	}
	net_conn_set_user(s->c, NULL);
	net_conn_unref(s->c);
	OPENSSL_cleanse(&s->dev, sizeof(s->dev));
	free(s);
}

static void conn_h(struct net_conn *c, enum net_conn_event ev, int err,
                   void *arg)
{
	struct capf_srv *srv = arg;
	struct sess *s = net_conn_user(c);

	if (ev == NET_CONN_CLOSED) {
		if (err == -ETIMEDOUT) {
			srv->stats.timeouts++;
		}
		if (s) {
			sess_free(s);
		}
		return;
	}
	if (ev != NET_CONN_UP || s != NULL) {
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		net_conn_close(c);
		return;
	}
	s->srv = srv;
	s->c = net_conn_ref(c);
	if (RAND_bytes((uint8_t *)&s->id, sizeof(s->id)) != 1) {
		s->id = (uint32_t)random();
	}
	s->timer = evtimer_new(srv->base, sess_timeout, s);
	struct timeval tv = {srv->session_timeout_ms / 1000,
	                     (srv->session_timeout_ms % 1000) * 1000};
	if (!s->timer || evtimer_add(s->timer, &tv) != 0) {
		sess_free(s);
		net_conn_close(c);
		return;
	}
	net_conn_set_user(c, s);
	s->next = srv->sessions;
	if (s->next) {
		s->next->prevp = &s->next;
	}
	s->prevp = &srv->sessions;
	srv->sessions = s;
	srv->stats.sessions++;
	/* the server speaks first */
	if (send_auth_req(s) != 0) {
		net_conn_close(c);
	}
}

int capf_srv_new(struct capf_srv **out, struct event_base *base,
                 struct enroll *e, const struct capf_srv_conf *c)
{
	struct capf_srv *s;
	struct net_conf nc;
	struct net_addr a, bound;
	int err;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->base = base;
	s->e = e;
	s->key_alg = c->key_alg;
	s->session_timeout_ms =
	        c->session_timeout_ms ? c->session_timeout_ms : 60000;
	net_conf_default(&nc);
	nc.idle_timeout_ms = c->idle_timeout_ms ? c->idle_timeout_ms : 10000;
	nc.msg_timeout_ms = nc.idle_timeout_ms;
	nc.handshake_timeout_ms = nc.idle_timeout_ms;
	nc.max_input = CAPF_MSG_MAX;
	nc.max_output = 256 * 1024;
	nc.max_conns = c->max_conns ? c->max_conns : 1024;
	nc.max_conns_per_ip = nc.max_conns;
	/* a session is a few messages, each waiting for the last answer:
	 * reading in timed batches would only add latency */
	nc.rx_batch_us = 0;
	struct net_handlers h = {
	        .frame_h = frame_h,
	        .recv_h = recv_h,
	        .conn_h = conn_h,
	        .arg = s,
	};
	struct net_tls_conf tc = {
	        .role = NET_TLS_SERVER,
	        .cert_file = c->cert_file,
	        .key_file = c->key_file,
	        .cert2_file = c->cert2_file,
	        .key2_file = c->key2_file,
	        .client_auth = NET_TLS_CLIENT_CERT_NONE,
	        .keylog_file = c->keylog_file,
	};
	err = net_tls_new(&s->tls, &tc);
	if (!err) {
		err = net_new(&s->net, base, &nc, &h);
	}
	if (!err) {
		/* a phone enrols once: TLS 1.3 session tickets would only
		 * cost a signature-free round of writes per session */
		SSL_CTX_set_num_tickets(net_tls_ssl_ctx(s->tls), 0);
	}
	if (!err) {
		err = net_addr_set(&a, c->addr ? c->addr : "127.0.0.1",
		                   c->port);
	}
	if (!err) {
		err = net_listen(s->net, NET_TLS, &a, s->tls, &bound);
	}
	if (err) {
		capf_srv_free(s);
		return err;
	}
	s->port = net_addr_port(&bound);
	*out = s;
	return 0;
}

void capf_srv_free(struct capf_srv *s)
{
	if (!s) {
		return;
	}
	/* net_free calls no callbacks: close the sessions first (each
	 * close frees its session through conn_h). */
	while (s->sessions != NULL) {
		struct sess *x = s->sessions;
		net_conn_close(x->c);
		if (s->sessions == x) {
			sess_free(x);
		}
	}
	net_free(s->net);
	net_tls_unref(s->tls);
	free(s);
}

uint16_t capf_srv_port(const struct capf_srv *s)
{
	return s->port;
}

void capf_srv_get_stats(const struct capf_srv *s, struct capf_srv_stats *out)
{
	*out = s->stats;
}
