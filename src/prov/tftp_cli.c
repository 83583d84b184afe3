#include "prov/tftp_cli.h"

#include "codec/tftp/tftp_pkt.h"
#include "prov/tftp_int.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RECV_BURST 64
#define RTO_MAX_MS 8000

struct tftp_cli {
	struct event_base *base;
	struct tftp_cli_req req;
	char file[TFTP_REQ_MAX];
	tftp_cli_done_h done;
	void *arg;
	int fd;
	struct event ev;
	bool done_called;
	bool tid_set;
	struct sockaddr_storage peer;
	socklen_t peer_len;
	uint64_t expected; /* next block number wanted (1-based, unwrapped) */
	unsigned inwin;    /* blocks received since the last ACK */
	bool nak_sent;     /* an ACK for a gap went out; wait for a fix */
	unsigned tries;
	unsigned rto_ms;
	int64_t deadline_ms;
	size_t last_len;
	uint8_t last[TFTP_REQ_MAX]; /* the last packet sent, for timeouts */
	struct buf data;
	struct tftp_cli_info info;
	size_t rxcap;
	uint8_t rx[]; /* one byte over the largest packet we accept */
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct tftp_cli *c, bool fresh)
{
	int64_t left;
	struct timeval tv;

	if (fresh) {
		c->deadline_ms = now_ms() + c->rto_ms;
	}
	left = c->deadline_ms - now_ms();
	if (left < 1) {
		left = 1;
	}
	tv.tv_sec = left / 1000;
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	event_add(&c->ev, &tv);
}

static void send_last(struct tftp_cli *c)
{
	const struct sockaddr_storage *to =
	        c->tid_set ? &c->peer : &c->req.server;
	socklen_t tolen = c->tid_set ? c->peer_len : c->req.server_len;

	/* A lost send is a lost packet: the timer recovers. */
	(void)!sendto(c->fd, c->last, c->last_len, 0,
	              (const struct sockaddr *)to, tolen);
}

static void send_ack(struct tftp_cli *c, uint16_t block)
{
	tftp_hdr_ack(c->last, block);
	c->last_len = 4;
	send_last(c);
}

static void send_error(struct tftp_cli *c, const struct sockaddr_storage *to,
                       socklen_t tolen, uint16_t code, const char *msg)
{
	struct buf b;

	buf_init(&b, 600);
	tftp_put_error(&b, code, msg);
	if (buf_err(&b) == 0) {
		(void)!sendto(c->fd, b.p, b.len, 0, (const struct sockaddr *)to,
		              tolen);
	}
	buf_free(&b);
}

static void finish(struct tftp_cli *c, int err)
{
	c->done_called = true;
	event_del(&c->ev);
	c->done(c, err, c->arg);
}

static int err_of_code(uint16_t code)
{
	switch (code) {
	case TFTP_ENOTFOUND:
		return -TL_ENOTFOUND;
	case TFTP_EACCESS:
		return -EACCES;
	case TFTP_EOPTNEG:
		return -TL_EPOLICY;
	default:
		return -EPROTO;
	}
}

/* RFC 2347: the OACK may only hold options we asked for, with values we
 * can accept; otherwise the client answers error 8 and stops. */
static int on_oack(struct tftp_cli *c, const struct tftp_pkt *pkt)
{
	for (size_t i = 0; i < pkt->nopts; i++) {
		struct slice n = pkt->opts[i].name, v = pkt->opts[i].value;
		uint64_t x;

		if (slice_eq_str_nocase(n, "blksize") && c->req.blksize) {
			if (tftp_opt_num(v, TFTP_BLKSIZE_MIN, c->req.blksize,
			                 &x)) {
				return -TL_EPARSE;
			}
			c->info.blksize = (uint16_t)x;
		} else if (slice_eq_str_nocase(n, "windowsize") &&
		           c->req.window) {
			if (tftp_opt_num(v, 1, c->req.window, &x)) {
				return -TL_EPARSE;
			}
			c->info.window = (uint16_t)x;
		} else if (slice_eq_str_nocase(n, "tsize") && c->req.tsize) {
			if (tftp_opt_num(v, 0, UINT64_MAX, &x)) {
				return -TL_EPARSE;
			}
			if (x > c->req.max_size) {
				return -TL_ETOOBIG;
			}
			c->info.tsize = x;
		} else if (slice_eq_str_nocase(n, "timeout") &&
		           c->req.timeout_ms) {
			if (tftp_opt_num(v, TFTP_TIMEOUT_MIN, TFTP_TIMEOUT_MAX,
			                 &x)) {
				return -TL_EPARSE;
			}
		} else {
			return -TL_EPARSE;
		}
	}
	c->info.oack = true;
	return 0;
}

/* One datagram from the server. Returns 1 when the transfer is over (done
 * was called), 0 otherwise; *progress tells whether to restart the
 * retransmission timer. */
static int on_packet(struct tftp_cli *c, const uint8_t *p, size_t len,
                     bool *progress)
{
	struct tftp_pkt pkt;
	int err = tftp_pkt_parse(&pkt, p, len);

	if (err) {
		return 0;
	}
	switch (pkt.op) {
	case TFTP_ERROR: {
		size_t n = pkt.msg.len < sizeof(c->info.errmsg) - 1
		                   ? pkt.msg.len
		                   : sizeof(c->info.errmsg) - 1;

		c->info.errcode = pkt.code;
		for (size_t i = 0; i < n; i++) {
			uint8_t ch = pkt.msg.p[i];

			c->info.errmsg[i] =
			        (char)(ch >= 0x20 && ch < 0x7f ? ch : '?');
		}
		c->info.errmsg[n] = '\0';
		finish(c, err_of_code(pkt.code));
		return 1;
	}
	case TFTP_OACK:
		if (c->expected != 1 || c->info.blocks) {
			return 0;
		}
		if (!c->info.oack) {
			err = on_oack(c, &pkt);
			if (err) {
				send_error(c, &c->peer, c->peer_len,
				           err == -TL_ETOOBIG ? TFTP_EDISKFULL
				                              : TFTP_EOPTNEG,
				           err == -TL_ETOOBIG
				                   ? "file too large"
				                   : "unacceptable option");
				finish(c, err);
				return 1;
			}
		}
		/* RFC 2347: acknowledge the OACK with block 0 (again, if
		 * our first ACK was lost). */
		send_ack(c, 0);
		*progress = true;
		return 0;
	case TFTP_DATA:
		break;
	default:
		send_error(c, &c->peer, c->peer_len, TFTP_EBADOP,
		           "unexpected packet");
		finish(c, -EPROTO);
		return 1;
	}
	if (pkt.block != (uint16_t)c->expected) {
		/* RFC 7440 §4: on a gap (or a repeated window after our
		 * ACK was lost) acknowledge the last block received in
		 * order, once, so the server restarts from there. */
		c->info.dups++;
		if (!c->nak_sent && c->expected > 1) {
			send_ack(c, (uint16_t)(c->expected - 1));
			c->nak_sent = true;
			c->inwin = 0;
		} else if (!c->nak_sent && c->info.oack) {
			send_ack(c, 0);
			c->nak_sent = true;
		}
		return 0;
	}
	if (pkt.data.len > c->info.blksize) {
		send_error(c, &c->peer, c->peer_len, TFTP_EBADOP,
		           "block larger than negotiated");
		finish(c, -EPROTO);
		return 1;
	}
	buf_put_slice(&c->data, pkt.data);
	if (buf_err(&c->data)) {
		send_error(c, &c->peer, c->peer_len, TFTP_EDISKFULL,
		           "file too large");
		finish(c, -TL_ETOOBIG);
		return 1;
	}
	c->info.blocks++;
	c->nak_sent = false;
	*progress = true;
	if (pkt.data.len < c->info.blksize) {
		/* The last block. RFC 1350 §6 suggests dallying to resend
		 * a lost final ACK; the server's retries end cleanly
		 * without it, so we do not hold the socket. */
		send_ack(c, pkt.block);
		finish(c, 0);
		return 1;
	}
	c->expected++;
	if (++c->inwin >= c->info.window) {
		send_ack(c, pkt.block);
		c->inwin = 0;
	}
	return 0;
}

static void cli_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tftp_cli *c = arg;
	bool progress = false;

	if (what & EV_READ) {
		for (int i = 0; i < RECV_BURST; i++) {
			struct sockaddr_storage src;
			socklen_t srclen = sizeof(src);
			ssize_t n = recvfrom(fd, c->rx, c->rxcap, 0,
			                     (struct sockaddr *)&src, &srclen);

			if (n < 0) {
				break;
			}
			if (!c->tid_set) {
				/* RFC 1350 §4: the server answers from a new
				 * port, its TID for this transfer. */
				if (!tftp_addr_eq_host(&src, &c->req.server)) {
					continue;
				}
				c->peer = src;
				c->peer_len = srclen;
				c->tid_set = true;
			} else if (srclen != c->peer_len ||
			           memcmp(&src, &c->peer, srclen) != 0) {
				send_error(c, &src, srclen, TFTP_EBADID,
				           "unknown transfer ID");
				continue;
			}
			if (on_packet(c, c->rx, (size_t)n, &progress)) {
				return;
			}
		}
		if (progress) {
			c->tries = 0;
			c->rto_ms = c->req.timeout_ms;
		}
		arm(c, progress);
		return;
	}
	if (++c->tries > c->req.retries) {
		finish(c, -ETIMEDOUT);
		return;
	}
	c->info.retransmits++;
	c->rto_ms = c->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto_ms * 2;
	c->nak_sent = false;
	send_last(c);
	arm(c, true);
}

static void put_opt_num(struct buf *b, const char *name, uint64_t v)
{
	buf_put_str(b, name);
	buf_put_u8(b, 0);
	buf_printf(b, "%" PRIu64, v);
	buf_put_u8(b, 0);
}

int tftp_cli_start(struct tftp_cli **out, struct event_base *base,
                   const struct tftp_cli_req *req, tftp_cli_done_h done,
                   void *arg)
{
	struct tftp_cli *c;
	struct sockaddr_storage local;
	socklen_t local_len;
	struct buf b;
	int err;

	*out = NULL;
	if (!req->file || strlen(req->file) >= sizeof(c->file) ||
	    (req->blksize && req->blksize < TFTP_BLKSIZE_MIN)) {
		return -TL_EPARSE;
	}
	/* Receive room for the negotiated block (never above what we ask)
	 * or the longest error/OACK, plus one byte to see an oversize one;
	 * thousands of clients then cost kilobytes, not 64 KiB each. */
	size_t blk = req->blksize ? req->blksize : TFTP_BLKSIZE_DEF;
	size_t rxcap =
	        4 + (blk > TFTP_ERRMSG_MAX + 1 ? blk : TFTP_ERRMSG_MAX + 1);

	rxcap = (rxcap > TFTP_REQ_MAX ? rxcap : TFTP_REQ_MAX) + 1;
	c = calloc(1, sizeof(*c) + rxcap);
	if (!c) {
		return -ENOMEM;
	}
	c->rxcap = rxcap;
	c->fd = -1;
	c->base = base;
	c->req = *req;
	memcpy(c->file, req->file, strlen(req->file) + 1);
	c->req.file = c->file;
	if (!c->req.timeout_ms) {
		c->req.timeout_ms = 1000;
	}
	if (!c->req.retries) {
		c->req.retries = 5;
	}
	if (!c->req.max_size) {
		c->req.max_size = 64u << 20;
	}
	c->done = done;
	c->arg = arg;
	c->expected = 1;
	c->rto_ms = c->req.timeout_ms;
	c->info.blksize = TFTP_BLKSIZE_DEF;
	c->info.window = 1;
	buf_init(&c->data, c->req.max_size);

	err = tftp_addr_set(
	        &local, &local_len,
	        req->server.ss_family == AF_INET6 ? "::" : "0.0.0.0", 0);
	if (err) {
		goto out;
	}
	err = tftp_udp_socket(&local, local_len);
	if (err < 0) {
		goto out;
	}
	c->fd = err;
	err = 0;

	buf_init(&b, sizeof(c->last));
	tftp_put_req(&b, TFTP_RRQ, c->file, "octet", NULL, 0);
	if (req->blksize) {
		put_opt_num(&b, "blksize", req->blksize);
	}
	if (req->tsize) {
		put_opt_num(&b, "tsize", 0);
	}
	if (req->window) {
		put_opt_num(&b, "windowsize", req->window);
	}
	err = buf_err(&b);
	if (err) {
		buf_free(&b);
		goto out;
	}
	memcpy(c->last, b.p, b.len);
	c->last_len = b.len;
	buf_free(&b);

	event_assign(&c->ev, base, c->fd, EV_READ, cli_cb, c);
	send_last(c);
	arm(c, true);
	*out = c;
	c = NULL;
out:
	tftp_cli_free(c);
	return err;
}

struct buf *tftp_cli_data(struct tftp_cli *c)
{
	return &c->data;
}

void tftp_cli_info(const struct tftp_cli *c, struct tftp_cli_info *info)
{
	*info = c->info;
}

void tftp_cli_free(struct tftp_cli *c)
{
	if (!c) {
		return;
	}
	if (c->fd >= 0) {
		event_del(&c->ev);
		close(c->fd);
	}
	buf_free(&c->data);
	free(c);
}

struct fetch {
	int err;
	bool done;
};

static void fetch_done(struct tftp_cli *c, int err, void *arg)
{
	struct fetch *f = arg;

	f->err = err;
	f->done = true;
}

/* tftp_cli_fetch's event loop, one per thread and kept: a loop costs an
 * epoll instance, a notification pipe and a round of environment checks,
 * and a booting phone fetches four or five files. A fetch leaves no event
 * behind (tftp_cli_free). Freed when the thread ends. */
static pthread_key_t base_key;
static pthread_once_t base_once = PTHREAD_ONCE_INIT;
static bool base_key_ok;

static void base_drop(void *v)
{
	event_base_free(v);
}

static void base_key_init(void)
{
	base_key_ok = pthread_key_create(&base_key, base_drop) == 0;
}

static struct event_base *thread_base(bool *owned)
{
	struct event_base *base = NULL;

	pthread_once(&base_once, base_key_init);
	*owned = !base_key_ok;
	if (base_key_ok) {
		base = pthread_getspecific(base_key);
	}
	if (!base) {
		base = event_base_new();
		if (base && base_key_ok &&
		    pthread_setspecific(base_key, base) != 0) {
			*owned = true;
		}
	}
	return base;
}

int tftp_cli_fetch(const struct tftp_cli_req *req, struct buf *out,
                   struct tftp_cli_info *info)
{
	bool owned;
	struct event_base *base = thread_base(&owned);
	struct tftp_cli *c = NULL;
	struct fetch f = {0};
	int err;

	if (info) {
		memset(info, 0, sizeof(*info));
	}
	if (!base) {
		return -ENOMEM;
	}
	err = tftp_cli_start(&c, base, req, fetch_done, &f);
	if (err) {
		goto out;
	}
	while (!f.done) {
		if (event_base_loop(base, EVLOOP_ONCE) < 0) {
			err = -EIO;
			goto out;
		}
	}
	err = f.err;
	if (info) {
		tftp_cli_info(c, info);
	}
	if (!err) {
		struct buf *d = tftp_cli_data(c);

		buf_put(out, d->p, d->len);
		err = buf_err(out);
	}
out:
	tftp_cli_free(c);
	if (owned) {
		event_base_free(base);
	}
	return err;
}
