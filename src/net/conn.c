/* Stream connections (TCP and TLS): accept, connect, framing, keepalive,
 * timers and limits, refcounts. */
#include "base/log.h"
#include "net/net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void conn_read_cb(struct bufferevent *bev, void *arg);
static void conn_write_cb(struct bufferevent *bev, void *arg);
static void conn_event_cb(struct bufferevent *bev, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);

static void conn_free(struct net_conn *c)
{
	if (c->timer != NULL) {
		event_free(c->timer);
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
	}
	net_tls_unref(c->tls);
	X509_free(c->peer_cert);
	sk_X509_pop_free(c->peer_chain, X509_free);
	free(c->identity);
	free(c);
}

static bool conn_drained(const struct net_conn *c)
{
	return c->up &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

struct net_conn *net_conn_ref(struct net_conn *c)
{
	if (c != NULL) {
		c->refs++;
	}
	return c;
}

void net_conn_unref(struct net_conn *c)
{
	if (c == NULL || --c->refs > 0) {
		return;
	}
	conn_free(c);
}

static void conn_link(struct net *n, struct net_conn *c)
{
	c->bucket = net_addr_hash_host(&c->peer);
	c->hprev = NULL;
	c->hnext = n->buckets[c->bucket];
	if (c->hnext != NULL) {
		c->hnext->hprev = c;
	}
	n->buckets[c->bucket] = c;
	n->nconns++;
}

static void conn_unlink(struct net *n, struct net_conn *c)
{
	if (c->hprev != NULL) {
		c->hprev->hnext = c->hnext;
	} else {
		n->buckets[c->bucket] = c->hnext;
	}
	if (c->hnext != NULL) {
		c->hnext->hprev = c->hprev;
	}
	c->hnext = c->hprev = NULL;
	n->nconns--;
}

/* Shut the connection down: unlink, free the socket (and SSL) and timer.
 * The object itself lives on while references remain. */
static void conn_shut(struct net_conn *c)
{
	/* RFC 8446 §6.1: close_notify when we close, so the peer sees a
	 * clean close and not a truncation (best effort: the socket is
	 * non-blocking). Not after the peer closed or an error: OpenSSL
	 * forbids SSL_shutdown after a fatal error. */
	if (c->ssl != NULL && c->up && !c->broken &&
	    SSL_is_init_finished(c->ssl)) {
		(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
	}
	c->open = false;
	c->up = false;
	c->ssl = NULL;
	if (c->net != NULL) {
		conn_unlink(c->net, c);
	}
	if (c->bev != NULL) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
}

static void conn_close(struct net_conn *c, int err, const char *why)
{
	struct net *n = c->net;
	char peer[NET_ADDR_STRLEN];

	if (!c->open) {
		return;
	}
	if (why != NULL) {
		if (net_addr_fmt(&c->peer, peer, sizeof(peer)) != 0) {
			peer[0] = '\0';
		}
		log_info("net", "closing %s connection %s %s: %s",
		         net_transport_name(c->tp), c->outgoing ? "to" : "from",
		         peer, why);
	}
	conn_shut(c);
	if (n != NULL) {
		n->stats.closed++;
		if (err == -ETIMEDOUT) {
			n->stats.timeouts++;
		} else if (err == -TL_ELIMIT) {
			n->stats.limits++;
		} else if (err == -TL_ETRUST || err == -TL_EAUTH ||
		           err == -TL_ECRYPTO) {
			n->stats.tls_failures++;
		}
	}
	if (n != NULL && n->h.conn_h != NULL) {
		n->h.conn_h(c, NET_CONN_CLOSED, err, n->h.arg);
	}
	c->net = NULL;
	net_conn_unref(c); /* the net's reference */
}

void net_conn_drop(struct net_conn *c)
{
	conn_shut(c);
	c->net = NULL;
	net_conn_unref(c);
}

void net_conn_close(struct net_conn *c)
{
	if (c != NULL) {
		conn_close(c, 0, NULL);
	}
}

void net_conn_close_flush(struct net_conn *c)
{
	if (c == NULL || !c->open || c->closing) {
		return;
	}
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	if (conn_drained(c)) {
		conn_close(c, 0, NULL);
		return;
	}
	/* libevent calls the write callback when the output buffer has
	 * been written down to its low watermark (0) */
	bufferevent_setcb(c->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	                  c);
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;

	if (c->closing && conn_drained(c)) {
		conn_close(c, 0, NULL);
	}
}

/* The timer runs to the nearest of: connect/handshake deadline, message
 * completion deadline, idle deadline. Activity only moves the idle
 * deadline later, so it does not re-arm: the timer re-arms when it fires
 * early. */
static uint64_t conn_deadline(const struct net_conn *c)
{
	const struct net_conf *cf = &c->net->conf;
	uint64_t d = UINT64_MAX;

	if (!c->up) {
		uint64_t lim = 0;
		if (c->outgoing) {
			lim += cf->connect_timeout_ms;
		}
		if (c->tp == NET_TLS) {
			lim += cf->handshake_timeout_ms;
		}
		if (lim > 0) {
			d = c->created_ms + lim;
		}
	}
	if (c->msg_start_ms != 0 && cf->msg_timeout_ms != 0 &&
	    c->msg_start_ms + cf->msg_timeout_ms < d) {
		d = c->msg_start_ms + cf->msg_timeout_ms;
	}
	if (cf->idle_timeout_ms != 0 &&
	    c->activity_ms + cf->idle_timeout_ms < d) {
		d = c->activity_ms + cf->idle_timeout_ms;
	}
	return d;
}

static void conn_arm(struct net_conn *c, bool force)
{
	uint64_t d = conn_deadline(c), now;
	struct timeval tv;

	if (d == UINT64_MAX) {
		evtimer_del(c->timer);
		c->armed_ms = 0;
		return;
	}
	if (!force && c->armed_ms != 0 && c->armed_ms <= d) {
		return;
	}
	now = net_now_ms();
	d = d > now ? d - now : 0;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)((d % 1000) * 1000);
	evtimer_add(c->timer, &tv);
	c->armed_ms = now + d;
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;
	const struct net_conf *cf = &c->net->conf;
	uint64_t now = net_now_ms();
	char why[96];

	c->armed_ms = 0;
	if (!c->up) {
		uint64_t lim =
		        (c->outgoing ? cf->connect_timeout_ms : 0) +
		        (c->tp == NET_TLS ? cf->handshake_timeout_ms : 0);
		if (lim != 0 && now >= c->created_ms + lim) {
			conn_close(c, -ETIMEDOUT,
			           c->tp == NET_TLS ? "TLS handshake timeout"
			                            : "connect timeout");
			return;
		}
	}
	if (c->msg_start_ms != 0 && cf->msg_timeout_ms != 0 &&
	    now >= c->msg_start_ms + cf->msg_timeout_ms) {
		snprintf(why, sizeof(why),
		         "message incomplete after %u ms (slow sender)",
		         cf->msg_timeout_ms);
		conn_close(c, -ETIMEDOUT, why);
		return;
	}
	if (cf->idle_timeout_ms != 0 &&
	    now >= c->activity_ms + cf->idle_timeout_ms) {
		snprintf(why, sizeof(why), "idle for %u ms",
		         cf->idle_timeout_ms);
		conn_close(c, -ETIMEDOUT, why);
		return;
	}
	conn_arm(c, true);
}

static TL_MUST_CHECK int conn_new(struct net_conn **out, struct net *n,
                                  enum net_transport tp,
                                  const struct net_addr *peer, bool outgoing)
{
	struct net_conn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (c == NULL) {
		return -ENOMEM;
	}
	c->refs = 1;
	c->net = n;
	c->tp = tp;
	c->peer = *peer;
	c->outgoing = outgoing;
	c->created_ms = c->activity_ms = net_now_ms();
	c->timer = evtimer_new(n->base, conn_timer_cb, c);
	if (c->timer == NULL) {
		free(c);
		return -ENOMEM;
	}
	*out = c;
	return 0;
}

static void conn_setup_bev(struct net_conn *c)
{
	const struct net_conf *cf = &c->net->conf;

	bufferevent_setcb(c->bev, conn_read_cb, NULL, conn_event_cb, c);
	/* Bounded input: libevent stops reading at the high watermark, and
	 * a framer that still needs more at that point closes the
	 * connection (conn_read_cb). */
	bufferevent_setwatermark(c->bev, EV_READ, 0, cf->max_input);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void conn_local(struct net_conn *c, int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0 &&
	    net_addr_from_sa(&c->local, (struct sockaddr *)&ss, sl) == 0) {
		return;
	}
	memset(&c->local, 0, sizeof(c->local));
}

static void count_ip(struct net *n, const struct net_addr *a,
                     unsigned *incoming, unsigned *pending)
{
	struct net_conn *c;

	*incoming = *pending = 0;
	for (c = n->buckets[net_addr_hash_host(a)]; c != NULL; c = c->hnext) {
		if (c->outgoing || !net_addr_eq_host(&c->peer, a)) {
			continue;
		}
		(*incoming)++;
		if (!c->up) {
			(*pending)++;
		}
	}
}

static void conn_up(struct net_conn *c)
{
	struct net *n = c->net;

	c->up = true;
	c->activity_ms = net_now_ms();
	conn_arm(c, true);
	net_conn_ref(c);
	if (n->h.conn_h != NULL) {
		n->h.conn_h(c, NET_CONN_UP, 0, n->h.arg);
	}
	if (c->open && c->closing && conn_drained(c)) {
		conn_close(c, 0, NULL);
	}
	net_conn_unref(c);
}

/* One line a second at most, saying how many were not logged: a flood of
 * connections must not become a flood of log lines. */
static void __attribute__((format(printf, 2, 3)))
log_refusal(struct net *n, const char *fmt, ...)
{
	uint64_t now = net_now_ms();
	char line[256];
	va_list ap;

	n->stats.refused++;
	if (n->refuse_log_ms != 0 && now - n->refuse_log_ms < 1000) {
		n->refuse_quiet++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n->refuse_quiet != 0) {
		log_info("net", "%s (and %u refusals not logged)", line,
		         n->refuse_quiet);
	} else {
		log_info("net", "%s", line);
	}
	n->refuse_log_ms = now;
	n->refuse_quiet = 0;
}

int net_conn_accept(struct net *n, struct net_lst *l, int fd,
                    const struct sockaddr *sa, int salen)
{
	struct net_conn *c = NULL;
	struct net_addr peer;
	char ps[NET_ADDR_STRLEN];
	unsigned inc, pend, max_pend;
	SSL *ssl = NULL;
	int err;

	err = net_addr_from_sa(&peer, sa, (socklen_t)salen);
	if (err) {
		close(fd);
		return err;
	}
	if (net_addr_fmt(&peer, ps, sizeof(ps)) != 0) {
		ps[0] = '\0';
	}
	if (n->conf.max_conns != 0 && n->nconns >= n->conf.max_conns) {
		log_refusal(n,
		            "refusing %s connection from %s: %u connections"
		            " open (max_conns)",
		            net_transport_name(l->tp), ps, n->nconns);
		close(fd);
		return -TL_ELIMIT;
	}
	count_ip(n, &peer, &inc, &pend);
	max_pend = n->conf.max_pending_per_ip != 0 ? n->conf.max_pending_per_ip
	                                           : n->conf.max_conns_per_ip;
	if (n->conf.max_conns_per_ip != 0 && inc >= n->conf.max_conns_per_ip) {
		log_refusal(n,
		            "refusing %s connection from %s: %u open from"
		            " that address (max_conns_per_ip)",
		            net_transport_name(l->tp), ps, inc);
		close(fd);
		return -TL_ELIMIT;
	}
	if (l->tp == NET_TLS && max_pend != 0 && pend >= max_pend) {
		log_refusal(n,
		            "refusing TLS connection from %s: %u handshakes"
		            " pending from that address",
		            ps, pend);
		close(fd);
		return -TL_ELIMIT;
	}
	err = conn_new(&c, n, l->tp, &peer, false);
	if (err) {
		close(fd);
		return err;
	}
	conn_local(c, fd);
	if (l->tp == NET_TLS) {
		err = net_tls_ssl_new(l->tls, &ssl);
		if (err) {
			close(fd);
			goto out;
		}
		c->tls = net_tls_ref(l->tls);
		c->ssl = ssl;
		SSL_set_app_data(ssl, c);
		c->bev = bufferevent_openssl_socket_new(
		        n->base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		        BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			SSL_free(ssl);
			c->ssl = NULL;
			close(fd);
			err = -ENOMEM;
			goto out;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(n->base, fd,
		                                BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			close(fd);
			err = -ENOMEM;
			goto out;
		}
	}
	c->open = true;
	conn_link(n, c);
	conn_setup_bev(c);
	conn_arm(c, true);
	log_debug("net", "%s connection from %s", net_transport_name(l->tp),
	          ps);
	n->stats.accepted++;
	if (l->tp == NET_TCP) {
		conn_up(c);
	}
	return 0;
out:
	net_conn_unref(c);
	return err;
}

static bool is_ip_literal(const char *s)
{
	uint8_t tmp[16];

	return inet_pton(AF_INET, s, tmp) == 1 ||
	       inet_pton(AF_INET6, s, tmp) == 1;
}

int net_conn_open(struct net_conn **out, struct net *n, enum net_transport tp,
                  const struct net_addr *dst, struct net_tls *tls,
                  const char *server_name)
{
	struct net_conn *c = NULL;
	char ps[NET_ADDR_STRLEN];
	SSL *ssl = NULL;
	int err;

	*out = NULL;
	if (tp == NET_TLS) {
		if (tls == NULL) {
			tls = n->tls_client;
		}
		if (tls == NULL || net_tls_role(tls) != NET_TLS_CLIENT) {
			return -TL_ESTATE;
		}
	}
	if (n->conf.max_conns != 0 && n->nconns >= n->conf.max_conns) {
		if (net_addr_fmt(dst, ps, sizeof(ps)) != 0) {
			ps[0] = '\0';
		}
		log_info("net",
		         "not connecting to %s: %u connections open"
		         " (max_conns)",
		         ps, n->nconns);
		return -TL_ELIMIT;
	}
	err = conn_new(&c, n, tp, dst, true);
	if (err) {
		return err;
	}
	if (tp == NET_TLS) {
		err = net_tls_ssl_new(tls, &ssl);
		if (err) {
			goto out;
		}
		c->tls = net_tls_ref(tls);
		c->ssl = ssl;
		SSL_set_app_data(ssl, c);
		if (server_name != NULL && server_name[0] != '\0') {
			int ok;
			if (is_ip_literal(server_name)) {
				ok = X509_VERIFY_PARAM_set1_ip_asc(
				        SSL_get0_param(ssl), server_name);
			} else {
				/* RFC 6066 §3: SNI carries DNS names only */
				ok = SSL_set_tlsext_host_name(ssl,
				                              server_name) &&
				     SSL_set1_host(ssl, server_name);
			}
			if (ok != 1) {
				SSL_free(ssl);
				c->ssl = NULL;
				err = -EINVAL;
				goto out;
			}
		}
		c->bev = bufferevent_openssl_socket_new(
		        n->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		        BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			SSL_free(ssl);
			c->ssl = NULL;
			err = -ENOMEM;
			goto out;
		}
		bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(n->base, -1,
		                                BEV_OPT_CLOSE_ON_FREE);
		if (c->bev == NULL) {
			err = -ENOMEM;
			goto out;
		}
	}
	c->open = true;
	conn_link(n, c);
	conn_setup_bev(c);
	if (bufferevent_socket_connect(c->bev,
	                               (const struct sockaddr *)&dst->ss,
	                               (int)dst->len) < 0) {
		err = EVUTIL_SOCKET_ERROR() != 0 ? -EVUTIL_SOCKET_ERROR()
		                                 : -ECONNREFUSED;
		conn_shut(c);
		c->net = NULL;
		goto out;
	}
	conn_local(c, bufferevent_getfd(c->bev));
	conn_arm(c, true);
	/* the caller's reference; the net keeps its own */
	n->stats.connects++;
	*out = net_conn_ref(c);
	return 0;
out:
	net_conn_unref(c);
	return err;
}

int net_connect(struct net_conn **out, struct net *n, enum net_transport tp,
                const struct net_addr *dst, struct net_tls *tls,
                const char *server_name)
{
	*out = NULL;
	if (tp != NET_TCP && tp != NET_TLS) {
		return -EINVAL;
	}
	if (dst == NULL || (net_addr_family(dst) != AF_INET &&
	                    net_addr_family(dst) != AF_INET6)) {
		return -EINVAL;
	}
	if (tls == NULL && server_name == NULL) {
		*out = net_conn_find(n, tp, dst);
		if (*out != NULL) {
			return 0;
		}
	}
	return net_conn_open(out, n, tp, dst, tls, server_name);
}

struct net_conn *net_conn_find(struct net *n, enum net_transport tp,
                               const struct net_addr *dst)
{
	struct net_conn *c, *best = NULL;

	for (c = n->buckets[net_addr_hash_host(dst)]; c != NULL; c = c->hnext) {
		if (c->tp != tp || !c->open || c->closing ||
		    !net_addr_eq(&c->peer, dst)) {
			continue;
		}
		if (c->up) {
			return net_conn_ref(c);
		}
		if (best == NULL) {
			best = c;
		}
	}
	return net_conn_ref(best);
}

/* Take what a completed handshake tells about the peer. */
static void conn_tls_peer(struct net_conn *c)
{
	X509 *leaf = SSL_get0_peer_certificate(c->ssl);
	STACK_OF(X509) *sent = SSL_get_peer_cert_chain(c->ssl);
	int i;

	c->tls_version = SSL_get_version(c->ssl);
	c->tls_cipher = SSL_get_cipher_name(c->ssl);
	if (leaf == NULL) {
		c->verified = false;
		return;
	}
	X509_up_ref(leaf);
	c->peer_cert = leaf;
	c->peer_chain = sk_X509_new_null();
	if (c->peer_chain == NULL) {
		return;
	}
	/* leaf first on both sides (a server's list lacks the leaf) */
	if (!SSL_is_server(c->ssl) && sent != NULL) {
		for (i = 0; i < sk_X509_num(sent); i++) {
			X509 *x = sk_X509_value(sent, i);
			if (sk_X509_push(c->peer_chain, x) > 0) {
				X509_up_ref(x);
			}
		}
	} else {
		if (sk_X509_push(c->peer_chain, leaf) > 0) {
			X509_up_ref(leaf);
		}
		for (i = 0; sent != NULL && i < sk_X509_num(sent); i++) {
			X509 *x = sk_X509_value(sent, i);
			if (sk_X509_push(c->peer_chain, x) > 0) {
				X509_up_ref(x);
			}
		}
	}
	if (c->verified) {
		char cn[256];
		if (net_tls_cert_cn(leaf, cn, sizeof(cn)) == 0) {
			c->identity = strdup(cn);
		}
	}
}

static TL_MUST_CHECK int ssl_error(struct net_conn *c, char *why, size_t len)
{
	unsigned long e = 0, x;
	long vr;

	if (c->bev != NULL) {
		/* libevent queues the SSL_get_error() code too (library
		 * 0): keep the first real OpenSSL error */
		while ((x = bufferevent_get_openssl_error(c->bev)) != 0) {
			if (e == 0 && ERR_GET_LIB(x) != 0) {
				e = x;
			}
		}
	}
	if (c->ssl != NULL) {
		vr = SSL_get_verify_result(c->ssl);
		if (vr != X509_V_OK) {
			snprintf(why, len, "TLS: peer certificate: %s",
			         X509_verify_cert_error_string(vr));
			return -TL_ETRUST;
		}
	}
	if (e != 0) {
		char msg[160];
		ERR_error_string_n(e, msg, sizeof(msg));
		snprintf(why, len, "TLS: %s", msg);
		if (ERR_GET_LIB(e) != ERR_LIB_SSL) {
			return -TL_ECRYPTO;
		}
		switch (ERR_GET_REASON(e)) {
		case SSL_R_UNEXPECTED_EOF_WHILE_READING:
			/* the peer went without close_notify: a reset */
			why[0] = '\0';
			return -ECONNRESET;
		case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
		case SSL_R_CERTIFICATE_VERIFY_FAILED:
			/* we do not trust the peer */
			return -TL_ETRUST;
		case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
		case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
		case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
		case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
		case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
		case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
			/* the peer refused our certificate (RFC 8446
			 * §6.2 alerts) */
			return -TL_EAUTH;
		default:
			return -TL_ECRYPTO;
		}
	}
	return 0;
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct net_conn *c = arg;
	char why[256];
	int err;

	if (what & BEV_EVENT_CONNECTED) {
		if (c->tp == NET_TLS) {
			conn_tls_peer(c);
		}
		conn_local(c, bufferevent_getfd(bev));
		conn_up(c);
		return;
	}
	if (what & BEV_EVENT_EOF) {
		c->broken = true;
		conn_close(c, 0, NULL);
		return;
	}
	if (what & BEV_EVENT_ERROR) {
		int se = EVUTIL_SOCKET_ERROR();
		c->broken = true;
		why[0] = '\0';
		err = c->tp == NET_TLS ? ssl_error(c, why, sizeof(why)) : 0;
		if (err == 0 && c->outgoing && !c->up) {
			err = -ECONNREFUSED;
		} else if (err == 0) {
			err = se != 0 ? -se : -ECONNRESET;
		}
		if (why[0] == '\0') {
			snprintf(why, sizeof(why), "%s", tl_strerror(err));
		}
		/* a refused handshake is worth a line; a reset is not */
		conn_close(c, err,
		           err == -TL_ETRUST || err == -TL_EAUTH ||
		                           err == -TL_ECRYPTO || !c->up
		                   ? why
		                   : NULL);
		return;
	}
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct net_conn *c = arg;
	struct net *n = c->net;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint64_t now = net_now_ms();

	if (c->closing) {
		return;
	}
	c->activity_ms = now;
	net_conn_ref(c);
	while (c->open && !c->closing) {
		size_t len = evbuffer_get_length(in), mlen = 0;
		const uint8_t *p;
		int r;

		if (len == 0) {
			c->msg_start_ms = 0;
			break;
		}
		p = evbuffer_pullup(in, (ssize_t)len);
		if (p == NULL) {
			conn_close(c, -ENOMEM, "out of memory");
			break;
		}
		r = n->h.frame_h(p, len, &mlen, n->h.arg);
		if (r < 0) {
			conn_close(c, r, "framing error");
			break;
		}
		if (r == NET_FRAME_MORE) {
			if (len >= n->conf.max_input) {
				char why[96];
				snprintf(why, sizeof(why),
				         "message over %zu bytes",
				         n->conf.max_input);
				conn_close(c, -TL_ELIMIT, why);
				break;
			}
			if (c->msg_start_ms == 0) {
				c->msg_start_ms = now;
				conn_arm(c, false);
			}
			break;
		}
		if ((r != NET_FRAME_MSG && r != NET_FRAME_KEEPALIVE) ||
		    mlen == 0 || mlen > len) {
			conn_close(c, -TL_EPARSE,
			           "framer returned a bad length");
			break;
		}
		if (r == NET_FRAME_KEEPALIVE) {
			n->stats.keepalives++;
		}
		if (r == NET_FRAME_MSG) {
			n->stats.msgs_in++;
			n->h.recv_h(c, &c->peer, &c->local, c->tp, p, mlen,
			            n->h.arg);
			if (!c->open) {
				break;
			}
		} else if (mlen >= 4) {
			/* RFC 5626 §3.5.1: answer a CRLFCRLF ping with a
			 * CRLF pong */
			bufferevent_write(bev, "\r\n", 2);
		} else if (n->h.conn_h != NULL) {
			n->h.conn_h(c, NET_CONN_PONG, 0, n->h.arg);
			if (!c->open) {
				break;
			}
		}
		evbuffer_drain(in, mlen);
		/* what is left starts the next message now */
		c->msg_start_ms = 0;
	}
	net_conn_unref(c);
}

int net_conn_send(struct net_conn *c, const uint8_t *p, size_t len)
{
	struct evbuffer *out;

	if (c == NULL) {
		return -EINVAL;
	}
	if (!c->open || c->bev == NULL || c->closing) {
		return -ENOTCONN;
	}
	out = bufferevent_get_output(c->bev);
	if (c->net->conf.max_output != 0 &&
	    evbuffer_get_length(out) + len > c->net->conf.max_output) {
		conn_close(c, -TL_ELIMIT, "peer does not read (max_output)");
		return -TL_ELIMIT;
	}
	if (bufferevent_write(c->bev, p, len) < 0) {
		return -ENOMEM;
	}
	c->activity_ms = net_now_ms();
	return 0;
}

int net_conn_ping(struct net_conn *c)
{
	static const uint8_t ping[] = "\r\n\r\n";

	return net_conn_send(c, ping, 4);
}

enum net_transport net_conn_transport(const struct net_conn *c)
{
	return c->tp;
}

const struct net_addr *net_conn_peer(const struct net_conn *c)
{
	return &c->peer;
}

const struct net_addr *net_conn_local(const struct net_conn *c)
{
	return &c->local;
}

bool net_conn_is_open(const struct net_conn *c)
{
	return c->open;
}

bool net_conn_is_up(const struct net_conn *c)
{
	return c->open && c->up;
}

bool net_conn_is_outgoing(const struct net_conn *c)
{
	return c->outgoing;
}

X509 *net_conn_peer_cert(const struct net_conn *c)
{
	return c->peer_cert;
}

STACK_OF(X509) * net_conn_peer_chain(const struct net_conn *c)
{
	return c->peer_chain;
}

const char *net_conn_peer_identity(const struct net_conn *c)
{
	return c->identity;
}

const char *net_conn_tls_version(const struct net_conn *c)
{
	return c->tls_version;
}

const char *net_conn_tls_cipher(const struct net_conn *c)
{
	return c->tls_cipher;
}

void net_conn_set_user(struct net_conn *c, void *user)
{
	c->user = user;
}

void *net_conn_user(const struct net_conn *c)
{
	return c->user;
}
