#include "prov/tftp_srv.h"

#include "base/log.h"
#include "codec/tftp/tftp_pkt.h"
#include "prov/tftp_int.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LOGC "tftp"
/* Datagrams read per wake-up, so one busy socket cannot starve others. */
#define RECV_BURST 64
/* The per-source rate table: open addressing, short probes. */
#define RL_SLOTS 4096
#define RL_PROBE 8
/* A retransmission timeout never grows past this (backoff cap). */
#define RTO_MAX_MS 8000
#define OACK_MAX   160

struct rl_slot {
	struct sockaddr_storage addr;
	int64_t sec;
	unsigned count;
};

struct xfer {
	struct tftp_srv *srv;
	struct xfer *prev, *next;
	int fd;
	struct event ev;
	struct prov_file *file;
	char name[PROV_NAME_MAX + 1];
	uint64_t size;
	uint64_t nblocks; /* DATA packets: the last one is short */
	uint64_t acked;   /* highest block acknowledged */
	uint64_t sent;    /* highest block sent */
	uint16_t blksize;
	uint16_t window;
	bool oack_pending;
	unsigned tries;
	unsigned rto_ms;
	unsigned rto_base_ms;
	int64_t deadline_ms;
	size_t oack_len;
	uint8_t oack[OACK_MAX];
};

struct tftp_srv {
	struct event_base *base;
	struct prov_fs *fs;
	struct tftp_srv_cfg cfg;
	int fd;
	struct event ev;
	struct sockaddr_storage local; /* port 0: for transfer sockets */
	socklen_t local_len;
	struct sockaddr_storage cur_dst; /* where the current request went */
	bool cur_dst_set;
	uint16_t port;
	struct xfer *xfers;
	struct tftp_srv_stats st;
	struct rl_slot *rl;
	uint8_t pkt[4 + TFTP_BLKSIZE_MAX]; /* one send buffer: one thread */
	uint8_t rx[TFTP_REQ_MAX + 1 + 4 + TFTP_BLKSIZE_MAX];
};

static void xfer_cb(evutil_socket_t fd, short what, void *arg);

static void send_error_to(int fd, const struct sockaddr_storage *to,
                          socklen_t tolen, uint16_t code, const char *msg)
{
	struct buf b;

	buf_init(&b, 600);
	tftp_put_error(&b, code, msg);
	if (buf_err(&b) == 0) {
		/* Best effort: an error packet is never retransmitted
		 * (RFC 1350 §7). */
		(void)!sendto(fd, b.p, b.len, 0, (const struct sockaddr *)to,
		              tolen);
	}
	buf_free(&b);
}

static void xfer_free(struct xfer *x, bool ok)
{
	struct tftp_srv *srv = x->srv;

	if (x->prev) {
		x->prev->next = x->next;
	} else {
		srv->xfers = x->next;
	}
	if (x->next) {
		x->next->prev = x->prev;
	}
	srv->st.active--;
	if (ok) {
		srv->st.completed++;
	} else {
		srv->st.failed++;
	}
	if (x->nblocks > 65535) {
		srv->st.rollovers++;
	}
	event_del(&x->ev);
	close(x->fd);
	prov_file_close(x->file);
	free(x);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Start the retransmission timer afresh, or (fresh false: a packet that
 * moved nothing forward) keep the running deadline, so that a client
 * repeating stale ACKs cannot hold a transfer open for ever. */
static void xfer_arm(struct xfer *x, bool fresh)
{
	int64_t left;
	struct timeval tv;

	if (fresh) {
		x->deadline_ms = now_ms() + x->rto_ms;
	}
	left = x->deadline_ms - now_ms();
	if (left < 1) {
		left = 1;
	}
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	event_add(&x->ev, &tv);
}

/* Send blocks acked+1 .. acked+window (RFC 7440 §4: a window is sent
 * back to back, then the sender waits for the ACK of its last block). */
static int xfer_send_window(struct xfer *x)
{
	struct tftp_srv *srv = x->srv;
	uint64_t blk, last = x->acked + x->window;

	if (last > x->nblocks) {
		last = x->nblocks;
	}
	for (blk = x->acked + 1; blk <= last; blk++) {
		uint64_t off = (blk - 1) * x->blksize;
		size_t got = 0;
		int err;

		/* RFC 1350 numbers blocks with 16 bits; past 65535 the
		 * number wraps to 0, as most clients expect (RFC 7440 is
		 * silent, tftp-hpa and curl do the same). */
		tftp_hdr_data(srv->pkt, (uint16_t)blk);
		err = prov_file_read(x->file, off, srv->pkt + 4, x->blksize,
		                     &got);
		if (err) {
			return err;
		}
		if (send(x->fd, srv->pkt, 4 + got, 0) < 0) {
			if (errno == ECONNREFUSED) {
				return -ECONNREFUSED;
			}
			/* EAGAIN, ENOBUFS: the packet is lost; the timer
			 * sends it again. */
			break;
		}
	}
	if (blk - 1 > x->sent) {
		x->sent = blk - 1;
	}
	return 0;
}

static int xfer_send_current(struct xfer *x)
{
	if (x->oack_pending) {
		if (send(x->fd, x->oack, x->oack_len, 0) < 0 &&
		    errno == ECONNREFUSED) {
			return -ECONNREFUSED;
		}
		return 0;
	}
	return xfer_send_window(x);
}

/* One datagram from the client on the transfer's socket. Returns 1 when
 * the transfer is over (completed or aborted), 0 to continue. */
static int xfer_on_packet(struct xfer *x, const uint8_t *p, size_t len,
                          bool *ok, bool *progress)
{
	struct tftp_pkt pkt;
	int err = tftp_pkt_parse(&pkt, p, len);

	if (err) {
		return 0; /* garbage: ignore, the timer keeps us alive */
	}
	if (pkt.op == TFTP_ERROR) {
		log_debug(LOGC, "%s: client aborted (%u)", x->name, pkt.code);
		return 1;
	}
	if (pkt.op != TFTP_ACK) {
		send_error_to(x->fd, NULL, 0, TFTP_EBADOP,
		              "only ACK is expected here");
		return 1;
	}
	if (x->oack_pending) {
		/* RFC 2347: the client acknowledges the OACK with block 0. */
		if (pkt.block != 0) {
			return 0;
		}
		x->oack_pending = false;
	} else {
		uint16_t diff = (uint16_t)(pkt.block - (uint16_t)x->acked);

		/* An ACK of an already acknowledged block is ignored: never
		 * answer a duplicate ACK (RFC 1350 §4, the "Sorcerer's
		 * Apprentice" bug). */
		if (diff == 0 || diff > x->sent - x->acked) {
			return 0;
		}
		x->acked += diff;
		if (x->acked == x->nblocks) {
			*ok = true;
			return 1;
		}
	}
	x->tries = 0;
	x->rto_ms = x->rto_base_ms;
	*progress = true;
	err = xfer_send_window(x);
	if (err) {
		return 1;
	}
	return 0;
}

static void xfer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer *x = arg;
	struct tftp_srv *srv = x->srv;
	bool ok = false, progress = false;

	if (what & EV_READ) {
		for (int i = 0; i < RECV_BURST; i++) {
			ssize_t n = recv(fd, srv->rx, sizeof(srv->rx), 0);

			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK ||
				    errno == EINTR) {
					break;
				}
				/* ICMP port unreachable: the client left. */
				xfer_free(x, false);
				return;
			}
			if (xfer_on_packet(x, srv->rx, (size_t)n, &ok,
			                   &progress)) {
				xfer_free(x, ok);
				return;
			}
		}
		xfer_arm(x, progress);
		return;
	}
	/* Timeout: send the OACK or the window again, with backoff. */
	if (++x->tries > srv->cfg.retries) {
		log_debug(LOGC, "%s: no answer after %u tries", x->name,
		          x->tries);
		xfer_free(x, false);
		return;
	}
	srv->st.retransmits++;
	x->rto_ms = x->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : x->rto_ms * 2;
	if (x->rto_ms < x->rto_base_ms) {
		x->rto_ms = x->rto_base_ms;
	}
	if (xfer_send_current(x)) {
		xfer_free(x, false);
		return;
	}
	xfer_arm(x, true);
}

/* RFC 2347 §Negotiation: a bad value of an option we know refuses the
 * request with error 8; an option we do not know is ignored. */
struct negot {
	uint16_t blksize;
	uint16_t window;
	unsigned timeout_s;
	bool has_blksize, has_window, has_timeout, has_tsize;
};

static int negotiate(struct tftp_srv *srv, const struct tftp_pkt *pkt,
                     struct negot *n, const char **why)
{
	uint64_t v;
	struct slice s;

	memset(n, 0, sizeof(*n));
	n->blksize = TFTP_BLKSIZE_DEF;
	n->window = 1;
	s = tftp_pkt_opt(pkt, "blksize");
	if (s.p) {
		if (tftp_opt_num(s, TFTP_BLKSIZE_MIN, TFTP_BLKSIZE_MAX, &v)) {
			*why = "blksize must be 8..65464 (RFC 2348)";
			return -TL_EPOLICY;
		}
		/* RFC 2348: the server may answer a smaller size. */
		n->blksize = (uint16_t)(v > srv->cfg.max_blksize
		                                ? srv->cfg.max_blksize
		                                : v);
		n->has_blksize = true;
	}
	s = tftp_pkt_opt(pkt, "windowsize");
	if (s.p) {
		if (tftp_opt_num(s, 1, TFTP_WINDOW_MAX, &v)) {
			*why = "windowsize must be 1..65535 (RFC 7440)";
			return -TL_EPOLICY;
		}
		n->window =
		        (uint16_t)(v > srv->cfg.max_window ? srv->cfg.max_window
		                                           : v);
		n->has_window = true;
	}
	s = tftp_pkt_opt(pkt, "timeout");
	if (s.p) {
		if (tftp_opt_num(s, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX, &v)) {
			*why = "timeout must be 1..255 (RFC 2349)";
			return -TL_EPOLICY;
		}
		n->timeout_s = (unsigned)v;
		n->has_timeout = true;
	}
	s = tftp_pkt_opt(pkt, "tsize");
	if (s.p) {
		if (tftp_opt_num(s, 0, UINT64_MAX, &v)) {
			*why = "tsize must be a number (RFC 2349)";
			return -TL_EPOLICY;
		}
		n->has_tsize = true;
	}
	return 0;
}

static void put_opt_num(struct buf *b, const char *name, uint64_t v)
{
	buf_put_str(b, name);
	buf_put_u8(b, 0);
	buf_printf(b, "%" PRIu64, v);
	buf_put_u8(b, 0);
}

/* true: allowed. A fixed table keyed by the source address; entries of a
 * past second are free for reuse. A full probe sequence fails open: an
 * attacker spraying spoofed sources must not lock out real phones. */
static bool rate_ok(struct tftp_srv *srv, const struct sockaddr_storage *src)
{
	struct timeval now;
	uint32_t h = 2166136261u;
	const uint8_t *a;
	size_t alen;

	if (srv->cfg.rate == 0) {
		return true;
	}
	event_base_gettimeofday_cached(srv->base, &now);
	if (src->ss_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)src)
		            ->sin_addr;
		alen = 4;
	} else {
		a = (const uint8_t *)&((const struct sockaddr_in6 *)src)
		            ->sin6_addr;
		alen = 16;
	}
	for (size_t i = 0; i < alen; i++) {
		h = (h ^ a[i]) * 16777619u;
	}
	for (unsigned k = 0; k < RL_PROBE; k++) {
		struct rl_slot *s = &srv->rl[(h + k) % RL_SLOTS];

		if (s->sec == now.tv_sec && tftp_addr_eq_host(&s->addr, src)) {
			return ++s->count <= srv->cfg.rate;
		}
	}
	for (unsigned k = 0; k < RL_PROBE; k++) {
		struct rl_slot *s = &srv->rl[(h + k) % RL_SLOTS];

		if (s->sec != now.tv_sec) {
			s->addr = *src;
			s->sec = now.tv_sec;
			s->count = 1;
			return true;
		}
	}
	return true;
}

/* An error from the server port, sent from the address the request was
 * sent to (so that a client behind a multi-homed wildcard listener sees
 * it come from the server it asked). */
static void refuse(struct tftp_srv *srv, const struct sockaddr_storage *src,
                   socklen_t srclen, uint16_t code, const char *msg)
{
	const struct sockaddr_storage *dst = &srv->cur_dst;
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	} ctl;
	struct buf b;

	srv->st.refused++;
	buf_init(&b, 600);
	tftp_put_error(&b, code, msg);
	if (buf_err(&b) == 0) {
		struct iovec iov = {.iov_base = b.p, .iov_len = b.len};
		struct msghdr mh = {
		        .msg_name = (void *)src,
		        .msg_namelen = srclen,
		        .msg_iov = &iov,
		        .msg_iovlen = 1,
		};
		struct cmsghdr *cm;

		memset(&ctl, 0, sizeof(ctl));
		if (srv->cur_dst_set && dst->ss_family == AF_INET) {
			struct in_pktinfo pi = {
			        .ipi_spec_dst =
			                ((const struct sockaddr_in *)dst)
			                        ->sin_addr,
			};

			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else if (srv->cur_dst_set && dst->ss_family == AF_INET6) {
			struct in6_pktinfo pi = {
			        .ipi6_addr = ((const struct sockaddr_in6 *)dst)
			                             ->sin6_addr,
			};

			mh.msg_control = ctl.b;
			mh.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
		/* Best effort: an error packet is never retransmitted
		 * (RFC 1350 §7). */
		(void)!sendmsg(srv->fd, &mh, 0);
	}
	buf_free(&b);
}

static uint16_t code_of(int err, const char **msg)
{
	switch (err) {
	case -TL_ENOTFOUND:
	case -ENOENT:
		*msg = "file not found";
		return TFTP_ENOTFOUND;
	case -TL_EPOLICY:
	case -TL_EPARSE:
	case -TL_ETOOBIG:
	case -EACCES:
	case -EPERM:
		*msg = "access violation";
		return TFTP_EACCESS;
	default:
		*msg = "cannot read the file";
		return TFTP_EACCESS;
	}
}

static void on_request(struct tftp_srv *srv, const uint8_t *p, size_t len,
                       const struct sockaddr_storage *src, socklen_t srclen,
                       const struct sockaddr_storage *dst, socklen_t dstlen)
{
	struct tftp_pkt pkt;
	struct negot n;
	struct xfer *x = NULL;
	const char *why = NULL;
	enum tftp_mode mode;
	struct buf ob;
	int err;

	err = tftp_pkt_parse(&pkt, p, len);
	if (err) {
		/* Only a request is valid on the server port; an ACK or
		 * DATA here belongs to no transfer (RFC 1350 §4: error 5
		 * would need a TID; a malformed request gets 4). */
		if (err == -TL_EDUP) {
			refuse(srv, src, srclen, TFTP_EOPTNEG,
			       "an option appears twice");
		} else if (len >= 2 && p[0] == 0 && (p[1] == 1 || p[1] == 2)) {
			refuse(srv, src, srclen, TFTP_EBADOP,
			       "malformed request");
		}
		return;
	}
	if (pkt.op == TFTP_WRQ) {
		refuse(srv, src, srclen, TFTP_EACCESS,
		       "write requests are refused: read-only server");
		return;
	}
	if (pkt.op != TFTP_RRQ) {
		if (pkt.op != TFTP_ERROR) {
			refuse(srv, src, srclen, TFTP_EBADOP,
			       "only read requests are accepted here");
		}
		return;
	}
	if (!rate_ok(srv, src)) {
		/* Silently dropped: answering would make us an amplifier
		 * for a spoofed source. */
		srv->st.rate_limited++;
		return;
	}
	mode = tftp_mode_of(pkt.mode);
	if (mode == TFTP_MODE_UNKNOWN || mode == TFTP_MODE_MAIL ||
	    (mode == TFTP_MODE_NETASCII && !srv->cfg.netascii)) {
		refuse(srv, src, srclen, TFTP_EBADOP,
		       mode == TFTP_MODE_NETASCII
		               ? "netascii mode is disabled; use octet"
		               : "unsupported mode; use octet");
		return;
	}
	if (srv->st.active >= srv->cfg.max_xfers) {
		refuse(srv, src, srclen, TFTP_EUNDEF, "server busy");
		return;
	}
	if (negotiate(srv, &pkt, &n, &why)) {
		refuse(srv, src, srclen, TFTP_EOPTNEG, why);
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		refuse(srv, src, srclen, TFTP_EUNDEF, "out of memory");
		return;
	}
	x->fd = -1;
	if (prov_fs_name_check((const char *)pkt.file.p, pkt.file.len) ||
	    slice_to_cstr(pkt.file, x->name, sizeof(x->name))) {
		refuse(srv, src, srclen, TFTP_EACCESS,
		       "access violation: bad file name");
		goto fail;
	}
	err = prov_fs_open(srv->fs, x->name, &x->file);
	if (!err && mode == TFTP_MODE_NETASCII) {
		err = prov_file_netascii(x->file, srv->cfg.netascii_max);
	}
	if (err) {
		const char *msg;
		uint16_t code = code_of(err, &msg);

		log_debug(LOGC, "refused %s: %s", x->name, tl_strerror(err));
		refuse(srv, src, srclen, code, msg);
		goto fail;
	}
	x->srv = srv;
	x->size = prov_file_size(x->file);
	x->blksize = n.blksize;
	x->window = n.window;
	x->nblocks = x->size / x->blksize + 1;
	x->rto_base_ms =
	        n.has_timeout ? n.timeout_s * 1000 : srv->cfg.timeout_ms;
	x->rto_ms = x->rto_base_ms;
	/* RFC 1350 §4: a fresh TID (port) for every transfer, on the
	 * address the request came to. */
	err = tftp_udp_socket(dst, dstlen);
	if (err < 0) {
		refuse(srv, src, srclen, TFTP_EUNDEF, "server busy");
		goto fail;
	}
	x->fd = err;
	if (connect(x->fd, (const struct sockaddr *)src, srclen) != 0) {
		goto fail;
	}
	if (n.has_blksize || n.has_window || n.has_timeout || n.has_tsize) {
		buf_init(&ob, sizeof(x->oack));
		buf_put_u16be(&ob, TFTP_OACK);
		if (n.has_blksize) {
			put_opt_num(&ob, "blksize", n.blksize);
		}
		if (n.has_tsize) {
			put_opt_num(&ob, "tsize", x->size);
		}
		if (n.has_timeout) {
			put_opt_num(&ob, "timeout", n.timeout_s);
		}
		if (n.has_window) {
			put_opt_num(&ob, "windowsize", n.window);
		}
		if (buf_err(&ob)) {
			buf_free(&ob);
			goto fail;
		}
		memcpy(x->oack, ob.p, ob.len);
		x->oack_len = ob.len;
		buf_free(&ob);
		x->oack_pending = true;
	}
	event_assign(&x->ev, srv->base, x->fd, EV_READ, xfer_cb, x);
	x->next = srv->xfers;
	if (srv->xfers) {
		srv->xfers->prev = x;
	}
	srv->xfers = x;
	srv->st.active++;
	srv->st.started++;
	if (x->nblocks > 65535) {
		/* RFC 1350 block numbers are 16 bits: this transfer wraps to
		 * block 0 after 65535 (tftp-hpa, curl and our client follow;
		 * some clients need a larger blksize instead). */
		log_info(LOGC,
		         "%s: %" PRIu64 " blocks of %u bytes: block numbers "
		         "will roll over to 0",
		         x->name, x->nblocks, x->blksize);
	}
	log_debug(LOGC, "RRQ %s: %" PRIu64 " bytes, blksize %u window %u",
	          x->name, x->size, x->blksize, x->window);
	if (xfer_send_current(x)) {
		xfer_free(x, false);
		return;
	}
	xfer_arm(x, true);
	return;
fail:
	if (x->fd >= 0) {
		close(x->fd);
	}
	prov_file_close(x->file);
	free(x);
}

/* The address a request was sent to (IP_PKTINFO / IPV6_PKTINFO), so that
 * the transfer answers from it even when the server listens on a wildcard
 * address of a multi-homed host: clients check the server's address. A
 * broadcast or multicast destination keeps the listening address. */
static void dst_of(struct tftp_srv *srv, struct msghdr *mh,
                   struct sockaddr_storage *dst, socklen_t *dstlen)
{
	*dst = srv->local;
	*dstlen = srv->local_len;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm;
	     cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP &&
		    cm->cmsg_type == IP_PKTINFO &&
		    srv->local.ss_family == AF_INET) {
			struct in_pktinfo pi;
			struct sockaddr_in *d = (struct sockaddr_in *)dst;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			if (IN_MULTICAST(ntohl(pi.ipi_addr.s_addr)) ||
			    pi.ipi_addr.s_addr == htonl(INADDR_BROADCAST)) {
				return;
			}
			d->sin_addr = pi.ipi_addr;
			d->sin_port = 0;
		} else if (cm->cmsg_level == IPPROTO_IPV6 &&
		           cm->cmsg_type == IPV6_PKTINFO &&
		           srv->local.ss_family == AF_INET6) {
			struct in6_pktinfo pi;
			struct sockaddr_in6 *d = (struct sockaddr_in6 *)dst;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr)) {
				return;
			}
			d->sin6_addr = pi.ipi6_addr;
			d->sin6_port = 0;
			if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr)) {
				d->sin6_scope_id = (uint32_t)pi.ipi6_ifindex;
			}
		}
	}
}

static void srv_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_srv *srv = arg;

	for (int i = 0; i < RECV_BURST; i++) {
		struct sockaddr_storage src, dst;
		socklen_t dstlen;
		union {
			struct cmsghdr align;
			uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
			          CMSG_SPACE(sizeof(struct in_pktinfo))];
		} ctl;
		struct iovec iov = {.iov_base = srv->rx,
		                    .iov_len = sizeof(srv->rx)};
		struct msghdr mh = {
		        .msg_name = &src,
		        .msg_namelen = sizeof(src),
		        .msg_iov = &iov,
		        .msg_iovlen = 1,
		        .msg_control = ctl.b,
		        .msg_controllen = sizeof(ctl.b),
		};
		ssize_t n = recvmsg(fd, &mh, 0);

		if (n < 0) {
			break;
		}
		if (src.ss_family != AF_INET && src.ss_family != AF_INET6) {
			continue;
		}
		dst_of(srv, &mh, &dst, &dstlen);
		srv->cur_dst = dst;
		srv->cur_dst_set = true;
		on_request(srv, srv->rx, (size_t)n, &src, mh.msg_namelen, &dst,
		           dstlen);
	}
}

int tftp_srv_new(struct tftp_srv **out, struct event_base *base,
                 struct prov_fs *fs, const struct tftp_srv_cfg *cfg)
{
	struct tftp_srv *srv;
	int err, sz = 4 << 20, one = 1;

	*out = NULL;
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		return -ENOMEM;
	}
	srv->fd = -1;
	srv->base = base;
	srv->fs = fs;
	srv->cfg = *cfg;
	if (!srv->cfg.max_xfers) {
		srv->cfg.max_xfers = 10000;
	}
	if (!srv->cfg.timeout_ms) {
		srv->cfg.timeout_ms = 1000;
	}
	if (!srv->cfg.retries) {
		srv->cfg.retries = 5;
	}
	if (!srv->cfg.max_blksize) {
		srv->cfg.max_blksize = TFTP_BLKSIZE_MAX;
	}
	if (srv->cfg.max_blksize < TFTP_BLKSIZE_DEF) {
		srv->cfg.max_blksize = TFTP_BLKSIZE_DEF;
	}
	if (!srv->cfg.max_window) {
		srv->cfg.max_window = 64;
	}
	if (!srv->cfg.netascii_max) {
		srv->cfg.netascii_max = 16u << 20;
	}
	srv->cfg.addr = NULL; /* not kept: the caller's string */
	srv->rl = calloc(RL_SLOTS, sizeof(*srv->rl));
	if (!srv->rl) {
		err = -ENOMEM;
		goto out;
	}
	err = tftp_addr_set(&srv->local, &srv->local_len,
	                    cfg->addr ? cfg->addr : "0.0.0.0", cfg->port);
	if (err) {
		goto out;
	}
	err = tftp_udp_socket(&srv->local, srv->local_len);
	if (err < 0) {
		goto out;
	}
	srv->fd = err;
	err = 0;
	/* A burst of phones booting at once must not overflow the queue. */
	(void)setsockopt(srv->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (srv->local.ss_family == AF_INET) {
		err = setsockopt(srv->fd, IPPROTO_IP, IP_PKTINFO, &one,
		                 sizeof(one));
	} else {
		err = setsockopt(srv->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		                 sizeof(one));
	}
	if (err != 0) {
		err = -errno;
		goto out;
	}
	{
		struct sockaddr_storage b;
		socklen_t blen = sizeof(b);

		if (getsockname(srv->fd, (struct sockaddr *)&b, &blen) != 0) {
			err = -errno;
			goto out;
		}
		srv->port = tftp_addr_port(&b);
	}
	/* Transfer sockets bind to the same address, port 0. */
	err = tftp_addr_set(&srv->local, &srv->local_len,
	                    cfg->addr ? cfg->addr : "0.0.0.0", 0);
	if (err) {
		goto out;
	}
	event_assign(&srv->ev, base, srv->fd, EV_READ | EV_PERSIST, srv_cb,
	             srv);
	if (event_add(&srv->ev, NULL) != 0) {
		err = -ENOMEM;
		goto out;
	}
	*out = srv;
	srv = NULL;
out:
	if (srv) {
		if (srv->fd >= 0) {
			close(srv->fd);
		}
		free(srv->rl);
		free(srv);
	}
	return err;
}

uint16_t tftp_srv_port(const struct tftp_srv *srv)
{
	return srv->port;
}

void tftp_srv_stats(const struct tftp_srv *srv, struct tftp_srv_stats *st)
{
	*st = srv->st;
}

void tftp_srv_free(struct tftp_srv *srv)
{
	if (!srv) {
		return;
	}
	while (srv->xfers) {
		xfer_free(srv->xfers, false);
	}
	event_del(&srv->ev);
	close(srv->fd);
	free(srv->rl);
	free(srv);
}
