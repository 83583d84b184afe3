/* Stream connections (TCP and TLS): accept, connect, framing, keepalive,
 * timers and limits, refcounts.
 *
 * The socket is read and written here, with read(2)/write(2) or
 * SSL_read/SSL_write straight on it: whole messages are framed in the
 * net's read buffer, only a partial one is copied into the connection,
 * and what is sent while a read is handled goes out in one write (one TLS
 * record) at its end. */
#include "base/log.h"
#include "net/net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/util.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads per wakeup at most, so one busy connection cannot starve the
 * loop (what is left is read on the next turn). */
#define CONN_READS 64

static void conn_io_cb(evutil_socket_t fd, short what, void *arg);
static void conn_timer_cb(evutil_socket_t fd, short what, void *arg);
static void conn_flush(struct net_conn *c);
static void conn_read(struct net_conn *c);

static void conn_events_free(struct net_conn *c)
{
	if (c->rev != NULL) {
		event_free(c->rev);
		c->rev = NULL;
	}
	if (c->wev != NULL) {
		event_free(c->wev);
		c->wev = NULL;
	}
	if (c->poll != NULL) {
		event_free(c->poll);
		c->poll = NULL;
	}
	if (c->timer != NULL) {
		event_free(c->timer);
		c->timer = NULL;
	}
	c->reading = c->writing = c->polling = false;
}

static void conn_free(struct net_conn *c)
{
	conn_events_free(c);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
	}
	if (c->fd >= 0) {
		close(c->fd);
	}
	net_tls_unref(c->tls);
	X509_free(c->peer_cert);
	sk_X509_pop_free(c->peer_chain, X509_free);
	free(c->identity);
	free(c->in);
	free(c->out);
	free(c);
}

static bool conn_drained(const struct net_conn *c)
{
	return c->up && c->out_len == 0;
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

static struct net_host *host_get(struct net *n, const struct net_addr *a,
                                 bool create)
{
	unsigned b = net_addr_hash_host(a);
	struct net_host *h;

	for (h = n->hosts[b]; h != NULL; h = h->next) {
		if (net_addr_eq_host(&h->addr, a)) {
			return h;
		}
	}
	if (!create || (h = calloc(1, sizeof(*h))) == NULL) {
		return NULL;
	}
	h->addr = *a;
	h->next = n->hosts[b];
	n->hosts[b] = h;
	return h;
}

static void host_put(struct net *n, struct net_host *h)
{
	struct net_host **pp = &n->hosts[net_addr_hash_host(&h->addr)];

	if (h->incoming > 0) {
		return;
	}
	while (*pp != h) {
		pp = &(*pp)->next;
	}
	*pp = h->next;
	free(h);
}

/* The handshake is done: no longer pending for the per-address limit. */
static void host_up(struct net_conn *c)
{
	if (c->host != NULL && c->host_pending) {
		c->host->pending--;
		c->host_pending = false;
	}
}

static void conn_link(struct net *n, struct net_conn *c)
{
	if (!c->outgoing) {
		/* without memory for the entry the connection goes
		 * uncounted: the total limit still holds */
		c->host = host_get(n, &c->peer, true);
		if (c->host != NULL) {
			c->host->incoming++;
			c->host_pending = !c->up;
			c->host->pending += c->host_pending ? 1u : 0u;
		}
	}
	c->bucket = net_addr_hash(&c->peer);
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
	if (c->host != NULL) {
		host_up(c);
		c->host->incoming--;
		host_put(n, c->host);
		c->host = NULL;
	}
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
	if (c->net != NULL) {
		conn_unlink(c->net, c);
	}
	conn_events_free(c);
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
	free(c->in);
	c->in = NULL;
	c->in_len = 0;
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
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
	/* a handshake still in progress goes on (it reads) */
	if (c->reading && (c->up || c->connecting)) {
		event_del(c->rev);
		c->reading = false;
	}
	if (c->polling) {
		event_del(c->poll);
		c->polling = false;
	}
	if (conn_drained(c)) {
		conn_close(c, 0, NULL);
	}
	/* else conn_flush closes it once the output is written */
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
	c->fd = -1;
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

/* The connection's socket and its events; reading starts at once (a TLS
 * server reads the ClientHello, a TCP peer may send first). */
static TL_MUST_CHECK int conn_attach(struct net_conn *c, int fd)
{
	struct event_base *base = c->net->base;

	c->fd = fd;
	c->rev = event_new(base, fd, EV_READ | EV_PERSIST, conn_io_cb, c);
	c->wev = event_new(base, fd, EV_WRITE | EV_PERSIST, conn_io_cb, c);
	if (c->rev == NULL || c->wev == NULL) {
		return -ENOMEM;
	}
	return 0;
}

static void conn_want_read(struct net_conn *c, bool on)
{
	/* a closing connection reads only to finish its handshake */
	if (on && !c->reading && !c->polling && (!c->closing || !c->up)) {
		if (event_add(c->rev, NULL) == 0) {
			c->reading = true;
		}
	} else if (!on && c->reading) {
		event_del(c->rev);
		c->reading = false;
	}
}

static void conn_want_write(struct net_conn *c, bool on)
{
	if (on && !c->writing) {
		if (event_add(c->wev, NULL) == 0) {
			c->writing = true;
		}
	} else if (!on && c->writing) {
		event_del(c->wev);
		c->writing = false;
	}
}

/* A failure where the caller cannot take a callback (a send): the
 * connection is closed from the loop, on the next turn. */
static void conn_defer_close(struct net_conn *c, int err)
{
	if (!c->deferred) {
		c->deferred = true;
		c->deferred_err = err;
		c->broken = true;
		event_active(c->wev, EV_WRITE, 1);
	}
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
	struct net_host *h = host_get(n, a, false);

	*incoming = h != NULL ? h->incoming : 0;
	*pending = h != NULL ? h->pending : 0;
}

static void conn_up(struct net_conn *c)
{
	struct net *n = c->net;

	c->up = true;
	host_up(c);
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

/* SSL_write may be given the rest of a partly written buffer, which
 * moves as the output grows; one read(2) takes every record queued. */
static void conn_ssl_modes(SSL *ssl)
{
	SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                          SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_set_read_ahead(ssl, 1);
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
	/* the connection owns fd from here (conn_free closes it) */
	if (conn_attach(c, fd) != 0) {
		err = -ENOMEM;
		goto out;
	}
	if (l->tp == NET_TLS) {
		err = net_tls_ssl_new(l->tls, &ssl);
		if (err) {
			goto out;
		}
		c->tls = net_tls_ref(l->tls);
		c->ssl = ssl;
		SSL_set_app_data(ssl, c);
		if (SSL_set_fd(ssl, fd) != 1) {
			err = -ENOMEM;
			goto out;
		}
		SSL_set_accept_state(ssl);
		conn_ssl_modes(ssl);
	}
	c->open = true;
	conn_link(n, c);
	conn_want_read(c, true);
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
	int fd, err;

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
		conn_ssl_modes(ssl);
	}
	fd = socket(dst->ss.ss_family,
	            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		goto out;
	}
	if (conn_attach(c, fd) != 0) {
		err = -ENOMEM;
		goto out;
	}
	if (connect(fd, (const struct sockaddr *)&dst->ss, dst->len) < 0 &&
	    errno != EINPROGRESS) {
		err = -errno;
		if (err != -ECONNREFUSED) {
			goto out;
		}
		/* refused at once: reported like a refusal that comes
		 * later, as NET_CONN_CLOSED */
		c->open = true;
		conn_link(n, c);
		conn_defer_close(c, -ECONNREFUSED);
	} else {
		c->open = true;
		conn_link(n, c);
		/* writable once connected (or failed) */
		c->connecting = true;
		conn_want_write(c, true);
	}
	conn_local(c, fd);
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

	for (c = n->buckets[net_addr_hash(dst)]; c != NULL; c = c->hnext) {
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

	/* the queue of the call that failed (cleared before each) */
	while ((x = ERR_get_error()) != 0) {
		if (e == 0 && ERR_GET_LIB(x) != 0) {
			e = x;
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

/* The peer closed (FIN, or TLS close_notify). */
static void conn_eof(struct net_conn *c)
{
	c->broken = true;
	conn_close(c, 0, NULL);
}

/* A socket or TLS error; se: errno of the failing call, 0 if none. */
static void conn_fail(struct net_conn *c, int se)
{
	char why[256];
	int err;

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
}

/* A TLS call returned r <= 0: wait for the socket (want read / write),
 * or end the connection. Returns true when the connection goes on. */
static bool conn_ssl_wait(struct net_conn *c, int r, bool *want_rd,
                          bool *want_wr)
{
	int se = errno;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		*want_rd = true;
		return true;
	case SSL_ERROR_WANT_WRITE:
		*want_wr = true;
		return true;
	case SSL_ERROR_ZERO_RETURN:
		conn_eof(c);
		return false;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0 && se == 0) {
			/* EOF without close_notify */
			conn_eof(c);
			return false;
		}
		conn_fail(c, se);
		return false;
	default:
		conn_fail(c, se);
		return false;
	}
}

static void conn_handshake(struct net_conn *c)
{
	bool want_rd = false, want_wr = false;
	int r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		conn_want_write(c, false);
		conn_tls_peer(c);
		conn_local(c, c->fd);
		net_conn_ref(c);
		conn_up(c);
		if (c->open) {
			/* what was queued meanwhile, and records that came
			 * with the handshake's last flight */
			conn_flush(c);
		}
		if (c->open && !c->closing) {
			conn_read(c);
		} else if (c->open) {
			conn_want_read(c, false);
		}
		net_conn_unref(c);
		return;
	}
	if (conn_ssl_wait(c, r, &want_rd, &want_wr)) {
		conn_want_write(c, want_wr);
	}
}

/* The outgoing connect(2) finished, one way or the other. */
static void conn_connected(struct net_conn *c)
{
	int se = 0;
	socklen_t sl = sizeof(se);

	c->connecting = false;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &se, &sl) < 0) {
		se = errno;
	}
	if (se != 0) {
		errno = se;
		conn_fail(c, se);
		return;
	}
	conn_local(c, c->fd);
	conn_want_read(c, true);
	if (c->tp == NET_TLS) {
		if (SSL_set_fd(c->ssl, c->fd) != 1) {
			conn_close(c, -ENOMEM, "out of memory");
			return;
		}
		SSL_set_connect_state(c->ssl);
		conn_handshake(c);
		return;
	}
	conn_want_write(c, false);
	net_conn_ref(c);
	conn_up(c);
	if (c->open) {
		conn_flush(c);
	}
	net_conn_unref(c);
}

/* Writes out what is queued; closes a closing connection once done. */
static void conn_flush(struct net_conn *c)
{
	bool want_rd = false, want_wr = false;

	c->flush_soon = false;
	if (!c->up) {
		return; /* written once up */
	}
	while (c->open && c->out_len > 0) {
		const uint8_t *p = c->out + c->out_off;
		size_t len = c->out_len;
		ssize_t r;

		if (c->ssl != NULL) {
			int n = len > INT32_MAX ? INT32_MAX : (int)len;
			ERR_clear_error();
			errno = 0;
			r = SSL_write(c->ssl, p, n);
			if (r <= 0) {
				if (conn_ssl_wait(c, (int)r, &want_rd,
				                  &want_wr)) {
					c->wr_wants_rd = want_rd;
					conn_want_write(c, want_wr);
				}
				return;
			}
		} else {
			r = send(c->fd, p, len, MSG_NOSIGNAL);
			if (r < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK) {
					conn_want_write(c, true);
				} else if (errno != EINTR) {
					conn_fail(c, errno);
				}
				if (errno != EINTR) {
					return;
				}
				continue;
			}
		}
		c->out_off += (size_t)r;
		c->out_len -= (size_t)r;
	}
	if (!c->open) {
		return;
	}
	c->wr_wants_rd = false;
	c->out_off = 0;
	if (!c->rd_wants_wr) {
		conn_want_write(c, false);
	}
	if (c->out_cap > 65536) {
		/* a big answer went out: do not keep its room */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	if (c->closing) {
		conn_close(c, 0, NULL);
	}
}

/* Frames and delivers the messages in p[0..len); returns the bytes
 * consumed, or SIZE_MAX when the connection closed. */
static size_t conn_deliver(struct net_conn *c, const uint8_t *p, size_t len,
                           uint64_t now)
{
	struct net *n = c->net;
	size_t off = 0;

	while (c->open && !c->closing && off < len) {
		size_t mlen = 0;
		int r = n->h.frame_h(p + off, len - off, &mlen, n->h.arg);

		if (r < 0) {
			conn_close(c, r, "framing error");
			return SIZE_MAX;
		}
		if (r == NET_FRAME_MORE) {
			if (len - off >= n->conf.max_input) {
				char why[96];
				snprintf(why, sizeof(why),
				         "message over %zu bytes",
				         n->conf.max_input);
				conn_close(c, -TL_ELIMIT, why);
				return SIZE_MAX;
			}
			if (c->msg_start_ms == 0) {
				/* what is left starts the next message */
				c->msg_start_ms = now;
				conn_arm(c, false);
			}
			return off;
		}
		if ((r != NET_FRAME_MSG && r != NET_FRAME_KEEPALIVE) ||
		    mlen == 0 || mlen > len - off) {
			conn_close(c, -TL_EPARSE,
			           "framer returned a bad length");
			return SIZE_MAX;
		}
		if (r == NET_FRAME_KEEPALIVE) {
			n->stats.keepalives++;
		}
		if (r == NET_FRAME_MSG) {
			n->stats.msgs_in++;
			n->h.recv_h(c, &c->peer, &c->local, c->tp, p + off,
			            mlen, n->h.arg);
		} else if (mlen >= 4) {
			/* RFC 5626 §3.5.1: answer a CRLFCRLF ping with a
			 * CRLF pong */
			if (net_conn_send(c, (const uint8_t *)"\r\n", 2) != 0 &&
			    !c->open) {
				return SIZE_MAX;
			}
		} else if (n->h.conn_h != NULL) {
			n->h.conn_h(c, NET_CONN_PONG, 0, n->h.arg);
		}
		off += mlen;
		c->msg_start_ms = 0;
	}
	return c->open ? off : SIZE_MAX;
}

/* Reads what the socket has (TLS: every record buffered), frames and
 * delivers it; answers sent meanwhile go out together at the end. */
static void conn_read(struct net_conn *c)
{
	struct net *n = c->net;
	size_t cap = n->conf.max_input;
	uint64_t now = net_now_ms();
	int i;

	if (!c->open || c->closing) {
		return;
	}
	if (c->rd_wants_wr) {
		c->rd_wants_wr = false;
		if (c->out_len == 0) {
			conn_want_write(c, false);
		}
	}
	c->in_rx = true;
	for (i = 0; i < CONN_READS && c->open && !c->closing; i++) {
		uint8_t *b = c->in_len > 0 ? c->in : n->rbuf;
		size_t have = c->in_len, used;
		bool want_rd = false, want_wr = false;
		ssize_t r;

		if (c->ssl != NULL) {
			size_t room = cap - have;
			ERR_clear_error();
			errno = 0;
			r = SSL_read(c->ssl, b + have,
			             room > INT32_MAX ? INT32_MAX : (int)room);
			if (r <= 0) {
				if (conn_ssl_wait(c, (int)r, &want_rd,
				                  &want_wr) &&
				    want_wr) {
					c->rd_wants_wr = true;
					conn_want_write(c, true);
				}
				break;
			}
		} else {
			r = read(c->fd, b + have, cap - have);
			if (r == 0) {
				conn_eof(c);
				break;
			}
			if (r < 0) {
				if (errno == EINTR) {
					continue;
				}
				if (errno != EAGAIN && errno != EWOULDBLOCK) {
					conn_fail(c, errno);
				}
				break;
			}
		}
		c->activity_ms = now;
		have += (size_t)r;
		used = conn_deliver(c, b, have, now);
		if (used == SIZE_MAX || !c->open) {
			break;
		}
		if (used < have) {
			if (c->in == NULL) {
				c->in = malloc(cap);
				if (c->in == NULL) {
					conn_close(c, -ENOMEM, "out of memory");
					break;
				}
			}
			memmove(c->in, b + used, have - used);
			c->in_len = have - used;
		} else {
			c->in_len = 0;
		}
		/* a short read took all there was; the next event says
		 * when there is more (TLS: unless records are buffered) */
		if (c->ssl != NULL ? !SSL_has_pending(c->ssl)
		                   : (size_t)r < cap - (have - (size_t)r)) {
			break;
		}
	}
	c->in_rx = false;
	if (c->open && c->in_len == 0 && c->in != NULL) {
		free(c->in);
		c->in = NULL;
	}
	if (c->open && c->out_len > 0) {
		conn_flush(c);
	}
	if (c->open && !c->closing && c->ssl != NULL &&
	    SSL_has_pending(c->ssl)) {
		/* cut short by CONN_READS: on with the next turn */
		event_active(c->polling ? c->poll : c->rev, EV_READ, 1);
	}
}

/* Readiness events while idle, a timer while busy (conf.rx_batch_us, as
 * for UDP): a connection readable again within rx_batch_us of its last
 * read is read every rx_batch_us until a read finds nothing, so several
 * messages share one wakeup, one read and one write (one TLS record). */
static void conn_batch(struct net_conn *c, bool from_poll, bool got)
{
	unsigned us = c->net != NULL ? c->net->conf.rx_batch_us : 0;
	uint64_t now;

	if (us == 0 || !c->open || c->closing) {
		return;
	}
	now = net_now_us();
	if (from_poll) {
		if (!got) {
			event_del(c->poll);
			c->polling = false;
			conn_want_read(c, true);
		}
	} else if (got && now - c->last_rd_us < us) {
		struct timeval tv = {
		        .tv_sec = (time_t)(us / 1000000u),
		        .tv_usec = (suseconds_t)(us % 1000000u),
		};
		if (c->poll == NULL) {
			c->poll = event_new(c->net->base, -1, EV_PERSIST,
			                    conn_io_cb, c);
		}
		if (c->poll != NULL && event_add(c->poll, &tv) == 0) {
			conn_want_read(c, false);
			c->polling = true;
		}
	}
	c->last_rd_us = now;
}

static void conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_conn *c = arg;
	uint64_t before;

	(void)fd;
	net_conn_ref(c);
	if (c->deferred) {
		if (c->open) {
			ERR_clear_error();
			conn_fail(c, -c->deferred_err);
		}
		goto out;
	}
	if (c->connecting) {
		if (what & EV_WRITE) {
			conn_connected(c);
		}
		goto out;
	}
	if (!c->up) {
		if (c->ssl != NULL) {
			conn_handshake(c);
		}
		goto out;
	}
	if ((what & EV_WRITE) && c->rd_wants_wr) {
		what |= EV_READ;
	}
	if ((what & (EV_READ | EV_TIMEOUT)) && c->wr_wants_rd) {
		what |= EV_WRITE;
	}
	if (what & EV_WRITE) {
		conn_flush(c);
	}
	if (c->open && (what & (EV_READ | EV_TIMEOUT))) {
		before = c->net->stats.msgs_in + c->net->stats.keepalives;
		conn_read(c);
		if (c->open) {
			conn_batch(
			        c, (what & EV_TIMEOUT) != 0,
			        c->net->stats.msgs_in + c->net->stats
			                                        .keepalives !=
			                        before ||
			                c->in_len > 0);
		}
	}
out:
	net_conn_unref(c);
}

int net_conn_send(struct net_conn *c, const uint8_t *p, size_t len)
{
	size_t need;

	if (c == NULL) {
		return -EINVAL;
	}
	if (!c->open || c->fd < 0 || c->closing || c->deferred) {
		return -ENOTCONN;
	}
	if (c->net->conf.max_output != 0 &&
	    c->out_len + len > c->net->conf.max_output) {
		conn_close(c, -TL_ELIMIT, "peer does not read (max_output)");
		return -TL_ELIMIT;
	}
	need = c->out_off + c->out_len + len;
	if (need > c->out_cap) {
		if (c->out_off > 0) {
			memmove(c->out, c->out + c->out_off, c->out_len);
			c->out_off = 0;
			need = c->out_len + len;
		}
		if (need > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 2048;
			while (cap < need) {
				cap *= 2;
			}
			uint8_t *np = realloc(c->out, cap);
			if (np == NULL) {
				return -ENOMEM;
			}
			c->out = np;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_off + c->out_len, p, len);
	c->out_len += len;
	c->activity_ms = net_now_ms();
	/* Answers to what is being read go out together when the read is
	 * done; anything else on the next turn of the loop (never from
	 * inside the caller: a failed write closes the connection, and the
	 * caller gets no callback in the middle of its send). */
	if (c->up && !c->in_rx && !c->writing && !c->flush_soon &&
	    !c->wr_wants_rd) {
		c->flush_soon = true;
		event_active(c->wev, EV_WRITE, 1);
	}
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
