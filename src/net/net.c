/* The transport set: listeners (UDP, TCP, TLS), UDP receive and send, and
 * dispatch of sends to stream connections. */
#include "base/log.h"
#include "net/net_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Datagrams drained per readiness event, so one busy socket cannot starve
 * the loop. */
#define NET_UDP_BATCH 64
/* Datagrams taken per recvmmsg(2) call: one system call for what is
 * queued, and none wasted on the EAGAIN that ends a drain. */
#define NET_UDP_MMSG 8
#define NET_UDP_SLOT (NET_UDP_MAX + 1)

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
	conf->max_conns_per_ip = 128;
	conf->max_pending_per_ip = 0;
	conf->rx_batch_us = 4000;
}

/* A write to a peer that has gone must fail with EPIPE, not kill the
 * process: libevent and OpenSSL write with plain write(2). A handler the
 * program installed itself is left alone. */
static void ignore_sigpipe(void)
{
	struct sigaction sa;

	if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = SIG_IGN;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(SIGPIPE, &sa, NULL);
	}
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
	n->rbuf = malloc(n->conf.max_input);
	if (n->rbuf == NULL) {
		free(n);
		return -ENOMEM;
	}
	ignore_sigpipe();
	*out = n;
	return 0;
}

static void lst_free(struct net_lst *l)
{
	if (l->ev != NULL) {
		event_free(l->ev);
	}
	if (l->poll != NULL) {
		event_free(l->poll);
	}
	if (l->fd >= 0) {
		close(l->fd);
	}
	if (l->el != NULL) {
		evconnlistener_free(l->el);
	}
	if (l->retry != NULL) {
		event_free(l->retry);
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
	free(n->txq);
	free(n->rbuf);
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

void net_get_stats(const struct net *n, struct net_stats *out)
{
	*out = n->stats;
}

static bool addr_is_wild(const struct net_addr *a)
{
	if (net_addr_family(a) == AF_INET) {
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
		       htonl(INADDR_ANY);
	}
	if (net_addr_family(a) == AF_INET6) {
		return IN6_IS_ADDR_UNSPECIFIED(
		        &((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
	}
	return false;
}

/* The address a datagram was sent to, from IP_PKTINFO / IPV6_PKTINFO
 * (RFC 3542 §6.1), with the listener's port. */
static void udp_dst(const struct net_lst *l, struct msghdr *mh,
                    struct net_addr *local)
{
	struct cmsghdr *cm;

	*local = l->addr;
	if (!l->wild) {
		return;
	}
	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    net_addr_family(local) == AF_INET) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in *)&local->ss)->sin_addr =
			        pi.ipi_addr;
			return;
		}
		if (cm->cmsg_level == IPPROTO_IPV6 &&
		    cm->cmsg_type == IPV6_PKTINFO &&
		    net_addr_family(local) == AF_INET6) {
			struct in6_pktinfo pi;
			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			((struct sockaddr_in6 *)&local->ss)->sin6_addr =
			        pi.ipi6_addr;
			return;
		}
	}
}

/* Fills mh to send p to dst; on a wildcard socket from local's address
 * (RFC 3581 §4: a response leaves from the address and port the request
 * was received on). ctl must hold an in6_pktinfo control message. */
static void udp_msg(const struct net_lst *l, const struct net_addr *dst,
                    const struct net_addr *local, struct msghdr *mh,
                    struct sockaddr_storage *name, struct iovec *iov,
                    uint8_t *ctl, size_t ctl_len)
{
	struct cmsghdr *cm;

	memset(mh, 0, sizeof(*mh));
	memcpy(name, &dst->ss, dst->len);
	mh->msg_name = name;
	mh->msg_namelen = dst->len;
	mh->msg_iov = iov;
	mh->msg_iovlen = 1;
	if (!l->wild || local == NULL || addr_is_wild(local) ||
	    net_addr_family(local) != net_addr_family(dst)) {
		return;
	}
	memset(ctl, 0, ctl_len);
	mh->msg_control = ctl;
	cm = (struct cmsghdr *)(void *)ctl;
	if (net_addr_family(dst) == AF_INET) {
		struct in_pktinfo pi = {0};
		pi.ipi_spec_dst =
		        ((const struct sockaddr_in *)&local->ss)->sin_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IP;
		cm->cmsg_type = IP_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	} else {
		struct in6_pktinfo pi = {0};
		pi.ipi6_addr =
		        ((const struct sockaddr_in6 *)&local->ss)->sin6_addr;
		mh->msg_controllen = CMSG_SPACE(sizeof(pi));
		cm->cmsg_level = IPPROTO_IPV6;
		cm->cmsg_type = IPV6_PKTINFO;
		cm->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	}
}

static ssize_t udp_sendto(const struct net_lst *l, const struct net_addr *dst,
                          const struct net_addr *local, const uint8_t *p,
                          size_t len)
{
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct sockaddr_storage name;
	struct iovec iov = {(void *)p, len};
	struct msghdr mh;

	udp_msg(l, dst, local, &mh, &name, &iov, ctl.b, sizeof(ctl.b));
	return sendmsg(l->fd, &mh, 0);
}

/* Sends what the batch queued, one sendmmsg(2) for all. A datagram the
 * kernel refuses is skipped (UDP sends are fire and forget: an error
 * here is what a later ICMP error would have been). */
static void txq_flush(struct net *n)
{
	struct net_txq *q = n->txq;
	unsigned done = 0;

	while (done < q->n) {
		int r = sendmmsg(q->lst->fd, q->mm + done, q->n - done, 0);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r > 0) {
			n->stats.udp_out += (unsigned)r;
			done += (unsigned)r;
		} else {
			done++;
		}
	}
	q->n = 0;
	q->used = 0;
	q->lst = NULL;
}

static bool txq_put(struct net *n, struct net_lst *l,
                    const struct net_addr *dst, const struct net_addr *local,
                    const uint8_t *p, size_t len)
{
	struct net_txq *q = n->txq;
	unsigned i;

	if (q == NULL || !q->active || len > NET_TXQ_BYTES) {
		return false;
	}
	if (q->n > 0 && (q->lst != l || q->n == NET_TXQ_MSGS ||
	                 q->used + len > NET_TXQ_BYTES)) {
		txq_flush(n);
	}
	i = q->n;
	memcpy(q->buf + q->used, p, len);
	q->iov[i].iov_base = q->buf + q->used;
	q->iov[i].iov_len = len;
	udp_msg(l, dst, local, &q->mm[i].msg_hdr, &q->dst[i], &q->iov[i],
	        q->ctl[i].b, sizeof(q->ctl[i].b));
	q->mm[i].msg_len = 0;
	q->used += len;
	q->lst = l;
	q->n++;
	return true;
}

/* Reads what is queued (up to NET_UDP_BATCH datagrams) and hands each to
 * recv_h; what recv_h sends over UDP meanwhile goes out at the end.
 * Returns the datagrams read; *more when the batch was cut short. */
static int udp_drain(struct net_lst *l, bool *more)
{
	struct net *n = l->net;
	struct mmsghdr mm[NET_UDP_MMSG];
	struct iovec iov[NET_UDP_MMSG];
	struct sockaddr_storage ss[NET_UDP_MMSG];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl[NET_UDP_MMSG];
	int got = 0;

	*more = false;
	n->txq->active = true;
	while (got < NET_UDP_BATCH) {
		int i, r;

		memset(mm, 0, sizeof(mm));
		for (i = 0; i < NET_UDP_MMSG; i++) {
			iov[i].iov_base = n->udp_buf + (size_t)i * NET_UDP_SLOT;
			iov[i].iov_len = NET_UDP_SLOT;
			mm[i].msg_hdr.msg_name = &ss[i];
			mm[i].msg_hdr.msg_namelen = sizeof(ss[i]);
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
			if (l->wild) {
				mm[i].msg_hdr.msg_control = ctl[i].b;
				mm[i].msg_hdr.msg_controllen = sizeof(ctl[i].b);
			}
		}
		r = recvmmsg(l->fd, mm, NET_UDP_MMSG, MSG_DONTWAIT | MSG_TRUNC,
		             NULL);
		if (r <= 0) {
			/* EAGAIN: drained. Anything else (an ICMP error
			 * queued on the socket) is per-send: the next
			 * readiness event reads on. */
			break;
		}
		for (i = 0; i < r; i++) {
			struct msghdr *mh = &mm[i].msg_hdr;
			size_t len = mm[i].msg_len;
			struct net_addr src, local;

			if (len > NET_UDP_MAX || len == 0 ||
			    (mh->msg_flags & MSG_TRUNC) != 0) {
				continue;
			}
			if (net_addr_from_sa(&src, (struct sockaddr *)&ss[i],
			                     mh->msg_namelen) != 0) {
				continue;
			}
			udp_dst(l, mh, &local);
			n->stats.udp_in++;
			n->h.recv_h(NULL, &src, &local, NET_UDP,
			            iov[i].iov_base, len, n->h.arg);
		}
		got += r;
		if (r < NET_UDP_MMSG) {
			break; /* fewer than asked for: nothing more queued */
		}
		if (got >= NET_UDP_BATCH) {
			*more = true;
		}
	}
	if (n->txq->n > 0) {
		txq_flush(n);
	}
	n->txq->active = false;
	return got;
}

/* Readiness events while idle, a timer while busy: a listener readable
 * again within rx_batch_us of its last read is read every rx_batch_us
 * (what arrived meanwhile in one recvmmsg, the answers in one sendmmsg)
 * until a read finds nothing. Every wakeup costs a context switch and
 * an epoll_wait; at thousands of datagrams a second that is most of the
 * work of answering one. */
static void udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_lst *l = arg;
	struct net *n = l->net;
	uint64_t now;
	bool more;
	int got;

	(void)fd;
	got = udp_drain(l, &more);
	if (n->conf.rx_batch_us == 0 || l->poll == NULL) {
		return;
	}
	now = net_now_us();
	if (l->polling) {
		if (got == 0) {
			event_del(l->poll);
			l->polling = false;
			if (event_add(l->ev, NULL) < 0) {
				log_warn("net",
				         "UDP listener: event_add failed");
			}
		} else if (more) {
			/* more queued than a batch: on at once */
			event_active(l->poll, EV_TIMEOUT, 0);
		}
	} else if (got > 0 && now - l->last_rd_us < n->conf.rx_batch_us) {
		struct timeval tv = {
		        .tv_sec = (time_t)(n->conf.rx_batch_us / 1000000u),
		        .tv_usec =
		                (suseconds_t)(n->conf.rx_batch_us % 1000000u),
		};
		if (event_add(l->poll, &tv) == 0) {
			event_del(l->ev);
			l->polling = true;
		}
	}
	l->last_rd_us = now;
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

static void accept_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct net_lst *l = arg;

	evconnlistener_enable(l->el);
}

/* accept(2) failed (EMFILE, ENFILE, ENOBUFS): the pending connection stays
 * in the queue and the socket stays readable, so pause instead of spinning
 * (one log line per pause). */
static void accept_error_cb(struct evconnlistener *el, void *arg)
{
	struct net_lst *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	struct timeval tv = {0, 100000};
	char a[NET_ADDR_STRLEN];

	if (err == EAGAIN || err == EINTR || err == ECONNABORTED) {
		return;
	}
	if (net_addr_fmt(&l->addr, a, sizeof(a)) != 0) {
		a[0] = '\0';
	}
	log_warn("net", "accept on %s %s: %s; pausing 100 ms",
	         net_transport_name(l->tp), a, tl_strerror(-err));
	evconnlistener_disable(el);
	evtimer_add(l->retry, &tv);
}

static TL_MUST_CHECK int bind_socket(const struct net_addr *addr, int type,
                                     int *fdp)
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
			/* untouched pages of the slots cost nothing */
			n->udp_buf =
			        malloc((size_t)NET_UDP_MMSG * NET_UDP_SLOT);
			if (n->udp_buf == NULL) {
				err = -ENOMEM;
				goto out;
			}
		}
		if (n->txq == NULL) {
			n->txq = calloc(1, sizeof(*n->txq));
			if (n->txq == NULL) {
				err = -ENOMEM;
				goto out;
			}
		}
		l->wild = addr_is_wild(&l->addr);
		if (l->wild) {
			int one = 1;
			if (net_addr_family(&l->addr) == AF_INET
			            ? setsockopt(fd, IPPROTO_IP, IP_PKTINFO,
			                         &one, sizeof(one))
			            : setsockopt(fd, IPPROTO_IPV6,
			                         IPV6_RECVPKTINFO, &one,
			                         sizeof(one))) {
				err = -errno;
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
		if (n->conf.rx_batch_us != 0) {
			l->poll = event_new(n->base, -1, EV_PERSIST,
			                    udp_read_cb, l);
			if (l->poll == NULL) {
				err = -ENOMEM;
				goto out;
			}
		}
	} else {
		l->el = evconnlistener_new(
		        n->base, tcp_accept_cb, l,
		        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
		if (l->el == NULL) {
			err = errno != 0 ? -errno : -ENOMEM;
			goto out;
		}
		fd = -1;
		l->retry = evtimer_new(n->base, accept_retry_cb, l);
		if (l->retry == NULL) {
			err = -ENOMEM;
			goto out;
		}
		evconnlistener_set_error_cb(l->el, accept_error_cb);
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

/* The UDP listener to send from: the one bound to local, else a wildcard
 * one on local's port (it sends from local's address), else the first one
 * listened on of dst's family. */
static struct net_lst *udp_lst_for(struct net *n, const struct net_addr *dst,
                                   const struct net_addr *local)
{
	struct net_lst *l, *port = NULL, *first = NULL;
	bool have_local =
	        local != NULL && net_addr_family(local) == net_addr_family(dst);

	for (l = n->lsts; l != NULL; l = l->next) {
		if (l->tp != NET_UDP ||
		    net_addr_family(&l->addr) != net_addr_family(dst)) {
			continue;
		}
		if (have_local) {
			if (net_addr_eq(&l->addr, local)) {
				return l;
			}
			if (l->wild &&
			    net_addr_port(&l->addr) == net_addr_port(local)) {
				port = l;
			}
		}
		/* the list is newest first: the last seen is the oldest */
		first = l;
	}
	return port != NULL ? port : first;
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
		if (txq_put(n, l, dst, local, p, len)) {
			return 0;
		}
		r = udp_sendto(l, dst, local, p, len);
		if (r < 0) {
			return -errno;
		}
		n->stats.udp_out++;
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
