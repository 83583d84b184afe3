/* The transport set: listeners (UDP, TCP, TLS), UDP receive and send, and
 * dispatch of sends to stream connections. */
#include "base/log.h"
#include "net/net_int.h"

#include <errno.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams drained per readiness event, so one busy socket cannot starve
 * the loop. */
#define NET_UDP_BATCH 64

void net_conf_default(struct net_conf *conf)
{
	memset(conf, 0, sizeof(*conf));
	conf->idle_timeout_ms = 300000;
	conf->connect_timeout_ms = 5000;
	conf->handshake_timeout_ms = 10000;
	conf->msg_timeout_ms = 10000;
	conf->max_input = 65536;
	conf->max_output = 1048576;
	conf->max_conns = 4096;
	conf->max_conns_per_ip = 32;
	conf->max_pending_per_ip = 0;
}

int net_new(struct net **out, struct event_base *base,
            const struct net_conf *conf, const struct net_handlers *h)
{
	struct net *n;

	*out = NULL;
	if (base == NULL || h == NULL || h->recv_h == NULL) {
		return -EINVAL;
	}
	n = calloc(1, sizeof(*n));
	if (n == NULL) {
		return -ENOMEM;
	}
	n->base = base;
	if (conf != NULL) {
		n->conf = *conf;
	} else {
		net_conf_default(&n->conf);
	}
	if (n->conf.max_input < 64) {
		n->conf.max_input = 64;
	}
	n->h = *h;
	*out = n;
	return 0;
}

static void lst_free(struct net_lst *l)
{
	if (l->ev != NULL) {
		event_free(l->ev);
	}
	if (l->fd >= 0) {
		close(l->fd);
	}
	if (l->el != NULL) {
		evconnlistener_free(l->el);
	}
	net_tls_unref(l->tls);
	free(l);
}

void net_free(struct net *n)
{
	unsigned i;

	if (n == NULL) {
		return;
	}
	for (i = 0; i < NET_HASH_SIZE; i++) {
		while (n->buckets[i] != NULL) {
			net_conn_drop(n->buckets[i]);
		}
	}
	while (n->lsts != NULL) {
		struct net_lst *l = n->lsts;
		n->lsts = l->next;
		lst_free(l);
	}
	net_tls_unref(n->tls_client);
	free(n->udp_buf);
	free(n);
}

void net_set_tls_client(struct net *n, struct net_tls *tls)
{
	net_tls_ref(tls);
	net_tls_unref(n->tls_client);
	n->tls_client = tls;
}

unsigned net_conn_count(const struct net *n)
{
	return n->nconns;
}

static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_lst *l = arg;
	struct net *n = l->net;
	int i;

	for (i = 0; i < NET_UDP_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct net_addr src;
		ssize_t r;

		r = recvfrom(fd, n->udp_buf, NET_UDP_MAX + 1, MSG_TRUNC,
		             (struct sockaddr *)&ss, &sl);
		if (r < 0) {
			/* EAGAIN: drained; ICMP errors (ECONNREFUSED)
			 * are per-send, not per-socket: ignore. */
			return;
		}
		if ((size_t)r > NET_UDP_MAX || r == 0) {
			continue;
		}
		if (net_addr_from_sa(&src, (struct sockaddr *)&ss, sl) != 0) {
			continue;
		}
		n->h.recv_h(NULL, &src, &l->addr, NET_UDP, n->udp_buf,
		            (size_t)r, n->h.arg);
	}
}

static void tcp_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
                          struct sockaddr *sa, int salen, void *arg)
{
	struct net_lst *l = arg;
	int err;

	err = net_conn_accept(l->net, l, fd, sa, salen);
	if (err) {
		/* net_conn_accept closed fd and logged the reason */
		return;
	}
}

static int bind_socket(const struct net_addr *addr, int type, int *fdp)
{
	int fd, one = 1, err;

	*fdp = -1;
	fd = socket(addr->ss.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		return -errno;
	}
	if (type == SOCK_STREAM &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0) {
		err = -errno;
		goto fail;
	}
	/* One listener per family: "::" must not also take IPv4. */
	if (addr->ss.ss_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		err = -errno;
		goto fail;
	}
	*fdp = fd;
	return 0;
fail:
	close(fd);
	return err;
}

int net_listen(struct net *n, enum net_transport tp,
               const struct net_addr *addr, struct net_tls *tls,
               struct net_addr *bound)
{
	struct net_lst *l = NULL;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd = -1, err;

	if (bound != NULL) {
		memset(bound, 0, sizeof(*bound));
	}
	if (addr == NULL || (net_addr_family(addr) != AF_INET &&
	                     net_addr_family(addr) != AF_INET6)) {
		return -EINVAL;
	}
	if (tp == NET_TLS &&
	    (tls == NULL || net_tls_role(tls) != NET_TLS_SERVER)) {
		return -EINVAL;
	}
	if (tp != NET_UDP && n->h.frame_h == NULL) {
		return -EINVAL;
	}
	if (tp != NET_UDP && tp != NET_TCP && tp != NET_TLS) {
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (l == NULL) {
		return -ENOMEM;
	}
	l->fd = -1;
	l->net = n;
	l->tp = tp;
	err = bind_socket(addr, tp == NET_UDP ? SOCK_DGRAM : SOCK_STREAM, &fd);
	if (err) {
		goto out;
	}
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		err = -errno;
		goto out;
	}
	err = net_addr_from_sa(&l->addr, (struct sockaddr *)&ss, sl);
	if (err) {
		goto out;
	}
	if (tp == NET_UDP) {
		if (n->udp_buf == NULL) {
			n->udp_buf = malloc(NET_UDP_MAX + 1);
			if (n->udp_buf == NULL) {
				err = -ENOMEM;
				goto out;
			}
		}
		l->fd = fd;
		fd = -1;
		l->ev = event_new(n->base, l->fd, EV_READ | EV_PERSIST,
		                  udp_read_cb, l);
		if (l->ev == NULL || event_add(l->ev, NULL) < 0) {
			err = -ENOMEM;
			goto out;
		}
	} else {
		l->el = evconnlistener_new(
		        n->base, tcp_accept_cb, l,
		        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
		if (l->el == NULL) {
			err = -errno != 0 ? -errno : -ENOMEM;
			goto out;
		}
		fd = -1;
		l->tls = net_tls_ref(tp == NET_TLS ? tls : NULL);
	}
	if (bound != NULL) {
		*bound = l->addr;
	}
	l->next = n->lsts;
	n->lsts = l;
	l = NULL;
	err = 0;
out:
	if (fd >= 0) {
		close(fd);
	}
	if (l != NULL) {
		lst_free(l);
	}
	return err;
}

static struct net_lst *udp_lst_for(struct net *n, const struct net_addr *dst,
                                   const struct net_addr *local)
{
	struct net_lst *l, *best = NULL;

	for (l = n->lsts; l != NULL; l = l->next) {
		if (l->tp != NET_UDP ||
		    net_addr_family(&l->addr) != net_addr_family(dst)) {
			continue;
		}
		if (local != NULL && net_addr_family(local) != AF_UNSPEC) {
			if (net_addr_eq(&l->addr, local)) {
				return l;
			}
			if (net_addr_port(&l->addr) == net_addr_port(local) &&
			    best == NULL) {
				best = l;
			}
			continue;
		}
		/* the first one listened on (the list is newest first) */
		best = l;
	}
	return best;
}

int net_send(struct net *n, enum net_transport tp, const struct net_addr *dst,
             const struct net_addr *local, const uint8_t *p, size_t len)
{
	struct net_conn *c = NULL;
	int err;

	if (dst == NULL || (net_addr_family(dst) != AF_INET &&
	                    net_addr_family(dst) != AF_INET6)) {
		return -EINVAL;
	}
	if (tp == NET_UDP) {
		struct net_lst *l = udp_lst_for(n, dst, local);
		ssize_t r;

		if (l == NULL) {
			return -TL_ESTATE;
		}
		if (len > NET_UDP_MAX) {
			return -EMSGSIZE;
		}
		r = sendto(l->fd, p, len, 0, (const struct sockaddr *)&dst->ss,
		           dst->len);
		if (r < 0) {
			return -errno;
		}
		return (size_t)r == len ? 0 : -EMSGSIZE;
	}
	if (tp != NET_TCP && tp != NET_TLS) {
		return -EINVAL;
	}
	c = net_conn_find(n, tp, dst);
	if (c == NULL) {
		err = net_conn_open(&c, n, tp, dst, NULL, NULL);
		if (err) {
			return err;
		}
	}
	err = net_conn_send(c, p, len);
	net_conn_unref(c);
	return err;
}
