/* SIP transactions (RFC 3261 §17, RFC 6026, RFC 3261 §9 CANCEL). */
#include "sip/sip_tsx.h"

#include "base/log.h"
#include "base/rnd.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/rand.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define MAGIC      "z9hG4bK"
#define MAGIC_LEN  7
#define TO_TAG_LEN 16

enum ev {
	EV_REQ,       /* request retransmission received (server) */
	EV_ACK,       /* ACK received (INVITE server) */
	EV_TU_1XX,    /* TU sends a provisional response (server) */
	EV_TU_2XX,    /* TU sends a 2xx (server) */
	EV_TU_FINAL,  /* TU sends a 300-699 (server) */
	EV_RX_1XX,    /* provisional received (client) */
	EV_RX_2XX,    /* 2xx received (client) */
	EV_RX_FINAL,  /* 300-699 received (client) */
	EV_T_RETX,    /* Timer A, E or G */
	EV_T_TIMEOUT, /* Timer B, F or H */
	EV_T_WAIT,    /* Timer D, I, J, K, L or M */
	EV_TERR,      /* transport error */
	EV_COUNT
};

#define NSTATES (SIP_TSX_TERMINATED + 1)

/* Timer durations shared by most transactions (64*T1, T4, Timer D). */
#define NCOMMON 3

/* Room for a matching key on the stack; longer keys go to the heap. */
#define KEY_STACK 256

struct slot {
	uint64_t h;
	struct sip_tsx *t; /* NULL: empty */
};

/* Non-INVITE server transactions (every REGISTER: over UDP each lives
 * 64*T1 in Completed, thousands a second) take fixed blocks from a free
 * list, with room for their key and last response. Blocks are cut from
 * 2 MiB chunks on huge pages where the kernel gives them: faulting fresh
 * heap pages in one at a time cost more than all the rest of allocating
 * them. The first chunk of a layer is small and faulted in as used: a
 * phone's stack (thousands of them in a fleet) needs a few blocks, not
 * 2 MiB each. Chunks go back when the layer is freed. */
#define BLK_SIZE         1536u
#define CHUNK_SIZE       (2u << 20)
#define FIRST_CHUNK_SIZE (BLK_SIZE * 16)

struct blk_chunk {
	struct blk_chunk *next;
	size_t size;
};

struct blk_free {
	struct blk_free *next;
};

struct sip_tsx_layer {
	struct sip_tsx_cfg cfg;
	/* Open addressing, linear probing: the hash beside each pointer, so
	 * that a lookup reads one cache line of the table and touches only
	 * the transaction that matches (thousands live 32 s over UDP). */
	struct slot *slot;
	size_t nslot; /* a power of two, at least twice count */
	size_t count;
	uint64_t seed;
	/* libevent common timeouts: thousands of transactions waiting the
	 * same time go into one queue instead of the timer heap. */
	unsigned common_ms[NCOMMON];
	const struct timeval *common[NCOMMON];
	struct rnd_pool rnd;
	struct blk_free *blk_free;
	struct blk_chunk *chunks;
};

/* A transaction is one allocation: this struct, its three timer events
 * and its matching key. A non-INVITE server transaction answered at once
 * keeps no copy of its request (RFC 3261 §17.2.2: in Completed it only
 * matches retransmissions, by its key, and resends the last response). */
struct sip_tsx {
	struct sip_tsx_layer *l;
	unsigned refs;
	enum sip_tsx_kind kind;
	enum sip_tsx_state state;
	bool reliable;
	uint64_t hash; /* of key */
	bool in_table;
	bool req_borrowed; /* req is the caller's message (request callback) */
	uint8_t *key;      /* inline, after the events */
	size_t key_len;
	uint8_t *req_raw; /* the layer's copy of the request, or NULL */
	size_t req_len;
	struct sip_msg *req;
	uint8_t *last; /* last response sent (server) */
	size_t last_len;
	uint8_t *inl; /* room in the block for the last response */
	size_t inl_cap;
	bool in_blk; /* t is a block of the layer's free list */
	struct buf ack; /* ACK for a non-2xx final (INVITE client) */
	uint16_t last_code;
	uint16_t final;
	struct sip_tsx_peer peer;
	struct event *t_retx;
	struct event *t_timeout;
	struct event *t_wait;
	unsigned retx_ms;
	char to_tag[TO_TAG_LEN + 1];
	sip_tsx_resp_h resp_h;
	void *resp_arg;
	bool cancel_pending;
	bool cancel_sent;
};

/* What an event carries into its cell handler. */
struct ev_ctx {
	struct sip_msg *m; /* received message, or NULL */
	const struct sip_tsx_peer *src;
	const uint8_t *p; /* bytes the TU sends */
	size_t len;
	uint16_t code;
	int err;
};

typedef int (*cell_h)(struct sip_tsx *t, struct ev_ctx *c);

/* ------------------------------------------------------------ helpers */

static unsigned t1(const struct sip_tsx *t)
{
	return t->l->cfg.t1_ms;
}

static unsigned t2(const struct sip_tsx *t)
{
	return t->l->cfg.t2_ms;
}

static void timer_start(struct sip_tsx *t, struct event *ev, unsigned ms)
{
	const struct sip_tsx_layer *l = t->l;
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	if (!ev) {
		return; /* a timer this kind of transaction never runs */
	}
	for (size_t i = 0; i < NCOMMON; i++) {
		if (l->common[i] && l->common_ms[i] == ms) {
			evtimer_add(ev, l->common[i]);
			return;
		}
	}
	evtimer_add(ev, &tv);
}

static void timers_stop(struct sip_tsx *t)
{
	if (t->t_retx) {
		evtimer_del(t->t_retx);
	}
	if (t->t_timeout) {
		evtimer_del(t->t_timeout);
	}
	if (t->t_wait) {
		evtimer_del(t->t_wait);
	}
}

static uint64_t key_hash(const struct sip_tsx_layer *l, const uint8_t *k,
			 size_t n)
{
	/* eight bytes a step, seeded per layer so that peers cannot aim
	 * branches at one probe sequence */
	uint64_t h = l->seed ^ (0x9e3779b97f4a7c15ull * (n + 1));
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, k + i, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < n) {
		uint64_t w = 0;
		memcpy(&w, k + i, n - i);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 29);
}

static struct sip_tsx *table_find(struct sip_tsx_layer *l, const uint8_t *k,
				  size_t n)
{
	uint64_t h = key_hash(l, k, n);
	size_t mask = l->nslot - 1;

	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &l->slot[i];
		if (!s->t) {
			return NULL;
		}
		if (s->h == h && s->t->key_len == n &&
		    memcmp(s->t->key, k, n) == 0) {
			return s->t;
		}
	}
}

static void slot_put(struct slot *slots, size_t nslot, uint64_t h,
		     struct sip_tsx *t)
{
	size_t i = h & (nslot - 1);

	while (slots[i].t) {
		i = (i + 1) & (nslot - 1);
	}
	slots[i].h = h;
	slots[i].t = t;
}

static int table_grow(struct sip_tsx_layer *l)
{
	size_t nb = l->nslot * 2;
	struct slot *b = calloc(nb, sizeof(*b));

	if (!b) {
		return -ENOMEM;
	}
	for (size_t i = 0; i < l->nslot; i++) {
		if (l->slot[i].t) {
			slot_put(b, nb, l->slot[i].h, l->slot[i].t);
		}
	}
	free(l->slot);
	l->slot = b;
	l->nslot = nb;
	return 0;
}

static int table_add(struct sip_tsx_layer *l, struct sip_tsx *t)
{
	/* at most half full, so that probes stay short and end */
	if (2 * (l->count + 1) > l->nslot && table_grow(l) != 0) {
		return -ENOMEM;
	}
	t->hash = key_hash(l, t->key, t->key_len);
	slot_put(l->slot, l->nslot, t->hash, t);
	t->in_table = true;
	l->count++;
	return 0;
}

static void table_del(struct sip_tsx_layer *l, struct sip_tsx *t)
{
	size_t mask = l->nslot - 1;
	size_t i = t->hash & mask;

	if (!t->in_table) {
		return;
	}
	while (l->slot[i].t != t) {
		i = (i + 1) & mask;
	}
	/* backward shift: close the gap so no probe sequence is cut */
	for (size_t j = (i + 1) & mask; l->slot[j].t; j = (j + 1) & mask) {
		size_t home = l->slot[j].h & mask;
		/* j stays if its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j)
				    : (home > i || home <= j);
		if (!stays) {
			l->slot[i] = l->slot[j];
			i = j;
		}
	}
	l->slot[i].t = NULL;
	l->slot[i].h = 0;
	t->in_table = false;
	l->count--;
}

static void peer_copy(struct sip_tsx_peer *dst, const struct sip_tsx_peer *src)
{
	*dst = *src;
	if (dst->conn) {
		net_conn_ref(dst->conn);
	}
}

static void key_put(struct buf *k, struct slice s)
{
	buf_put_slice(k, s);
	buf_put_u8(k, 0);
}

static bool has_magic(struct slice branch)
{
	return branch.len > MAGIC_LEN &&
	       memcmp(branch.p, MAGIC, MAGIC_LEN) == 0;
}

/* RFC 3261 §17.2.3: branch, sent-by and method (ACK counts as INVITE);
 * the RFC 2543 fallback uses Request-URI, Call-ID, CSeq, From tag and the
 * top Via (the To tag is left out: an ACK's differs from its INVITE's). */
static int server_key(struct buf *k, struct sip_msg *m, const char *method)
{
	const struct sip_via *v = sip_msg_via(m);
	struct slice ms =
		method ? slice_from_str(method) : sip_msg_method_name(m);

	buf_put_u8(k, 'S');
	key_put(k, ms);
	if (has_magic(v->branch)) {
		key_put(k, v->branch);
		for (size_t i = 0; i < v->host.len; i++) {
			uint8_t c = v->host.p[i];
			buf_put_u8(k, (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32)
							     : c);
		}
		buf_put_u8(k, ':');
		buf_put_dec(k, v->has_port ? v->port : 0);
	} else {
		const struct sip_uri *ru = sip_msg_ruri(m);
		buf_put_u8(k, '2');
		key_put(k, ru ? ru->raw : SLICE_NULL);
		key_put(k, sip_msg_call_id(m));
		buf_put_dec(k, sip_msg_cseq(m)->num);
		buf_put_u8(k, 0);
		key_put(k, sip_msg_from(m)->tag);
		key_put(k, v->raw);
	}
	return buf_err(k);
}

/* RFC 3261 §17.1.3: the top Via branch and the CSeq method. */
static int client_key(struct buf *k, struct slice branch, struct slice method)
{
	buf_put_u8(k, 'C');
	key_put(k, method);
	buf_put_slice(k, branch);
	return buf_err(k);
}

static int do_send(struct sip_tsx *t, const uint8_t *p, size_t len)
{
	return t->l->cfg.send_h(&t->peer, p, len, t->l->cfg.arg);
}

/* Ends the transaction: no more timers, out of the table, the layer's
 * reference dropped (the dispatcher holds another during handlers). */
static void terminate(struct sip_tsx *t)
{
	if (t->state == SIP_TSX_TERMINATED) {
		return;
	}
	t->state = SIP_TSX_TERMINATED;
	timers_stop(t);
	table_del(t->l, t);
	sip_tsx_unref(t);
}

static void deliver(struct sip_tsx *t, struct sip_msg *m, uint16_t code)
{
	if (t->resp_h) {
		t->resp_h(t, m, code, t->resp_arg);
	}
}

static void server_error(struct sip_tsx *t, int err)
{
	terminate(t);
	if (t->l->cfg.error_h) {
		t->l->cfg.error_h(t, err, t->l->cfg.arg);
	}
}

/* Keeps a copy of what the TU sends (to answer retransmissions), then
 * sends it. A final response of a non-INVITE transaction on a reliable
 * transport ends the transaction at once (Timer J is 0): no copy. */
static int send_response(struct sip_tsx *t, struct ev_ctx *c)
{
	bool keep = !(t->reliable && t->kind == SIP_TSX_NS && c->code >= 200);
	int rc;

	t->last_code = c->code;
	if (!keep) {
		rc = do_send(t, c->p, c->len);
		c->err = rc;
		return rc;
	}
	uint8_t *np = c->len <= t->inl_cap ? t->inl : malloc(c->len);
	if (!np) {
		c->err = -ENOMEM;
		return -ENOMEM;
	}
	/* a provisional kept inline may be what is being sent again */
	memmove(np, c->p, c->len);
	if (t->last != t->inl) {
		free(t->last);
	}
	t->last = np;
	t->last_len = c->len;
	rc = do_send(t, t->last, t->last_len);
	c->err = rc;
	return rc;
}

static void resend_last(struct sip_tsx *t)
{
	if (t->last_len && do_send(t, t->last, t->last_len) != 0) {
		server_error(t, -EIO);
	}
}

/* ------------------------------------------- INVITE client (§17.1.1) */

static int send_cancel(struct sip_tsx *t);

static int ic_rx_1xx(struct sip_tsx *t, struct ev_ctx *c)
{
	/* RFC 3261 §17.1.1.2: a provisional stops retransmissions; Timer B
	 * only guards the Calling state. */
	if (t->state == SIP_TSX_CALLING) {
		timers_stop(t);
	}
	t->state = SIP_TSX_PROCEEDING;
	deliver(t, c->m, c->code);
	if (t->cancel_pending && !t->cancel_sent &&
	    t->state == SIP_TSX_PROCEEDING) {
		int rc = send_cancel(t);
		if (rc) {
			log_warn("sip", "CANCEL not sent: %s", tl_strerror(rc));
		}
	}
	return 0;
}

static int ic_rx_2xx(struct sip_tsx *t, struct ev_ctx *c)
{
	/* RFC 6026 §7.2: Accepted, Timer M = 64*T1; the TU ACKs 2xx. */
	timers_stop(t);
	t->state = SIP_TSX_ACCEPTED;
	t->final = c->code;
	timer_start(t, t->t_wait, 64 * t1(t));
	deliver(t, c->m, c->code);
	return 0;
}

/* RFC 3261 §17.1.1.3: the ACK for a non-2xx final response. */
static int build_ack(struct sip_tsx *t, struct sip_msg *resp)
{
	struct sip_msg *r = t->req;
	struct buf *b = &t->ack;
	struct sip_iter it;
	struct slice v;
	int rc;

	buf_reset(b);
	rc = sip_build_request(b, SLICE_LIT("ACK"), sip_msg_ruri(r)->raw);
	if (rc) {
		return rc;
	}
	/* one Via: the top Via of the original request */
	rc = sip_build_hdr(b, "Via", sip_msg_via(r)->raw);
	if (rc) {
		return rc;
	}
	sip_msg_iter(&it, r, SIP_HDR_ROUTE);
	while ((rc = sip_iter_next(&it, &v)) == 1) {
		rc = sip_build_hdr(b, "Route", v);
		if (rc) {
			return rc;
		}
	}
	if (rc < 0) {
		return rc;
	}
	rc = sip_build_hdr(b, "From", sip_msg_from(r)->raw);
	if (!rc) {
		/* To: as in the response, with its tag */
		rc = sip_build_hdr(b, "To", sip_msg_to(resp)->raw);
	}
	if (!rc) {
		rc = sip_build_hdr(b, "Call-ID", sip_msg_call_id(r));
	}
	if (!rc) {
		rc = sip_build_hdrf(b, "CSeq", "%u ACK", sip_msg_cseq(r)->num);
	}
	if (!rc) {
		rc = sip_build_hdr(b, "Max-Forwards", SLICE_LIT("70"));
	}
	if (!rc) {
		rc = sip_build_end(b, SLICE_NULL, SLICE_NULL);
	}
	return rc;
}

static int ic_rx_final(struct sip_tsx *t, struct ev_ctx *c)
{
	timers_stop(t);
	t->state = SIP_TSX_COMPLETED;
	t->final = c->code;
	int rc = build_ack(t, c->m);
	if (rc == 0 && do_send(t, t->ack.p, t->ack.len) != 0) {
		rc = -EIO;
	}
	if (rc) {
		log_warn("sip", "ACK not sent: %s", tl_strerror(rc));
	}
	deliver(t, c->m, c->code);
	if (t->state != SIP_TSX_COMPLETED) {
		return 0;
	}
	/* Timer D: 32 s on unreliable transports, 0 on reliable ones. */
	if (t->reliable) {
		terminate(t);
	} else {
		timer_start(t, t->t_wait, t->l->cfg.d_ms);
	}
	return 0;
}

static int ic_completed_final(struct sip_tsx *t, struct ev_ctx *c)
{
	/* retransmitted final response: resend the ACK, tell no one */
	if (t->ack.len && do_send(t, t->ack.p, t->ack.len) != 0) {
		terminate(t);
	}
	return 0;
}

static int ic_accepted_2xx(struct sip_tsx *t, struct ev_ctx *c)
{
	deliver(t, c->m, c->code);
	return 0;
}

static int ic_timer_a(struct sip_tsx *t, struct ev_ctx *c)
{
	/* RFC 3261 §17.1.1.2: retransmit, doubling Timer A (no cap). */
	if (do_send(t, t->req_raw, t->req_len) != 0) {
		terminate(t);
		deliver(t, NULL, 503);
		return 0;
	}
	t->retx_ms *= 2;
	timer_start(t, t->t_retx, t->retx_ms);
	return 0;
}

static int client_timeout(struct sip_tsx *t, struct ev_ctx *c)
{
	/* Timer B / F: 408 to the TU (RFC 3261 §8.1.3.1). */
	terminate(t);
	t->final = 408;
	deliver(t, NULL, 408);
	return 0;
}

static int client_terr(struct sip_tsx *t, struct ev_ctx *c)
{
	terminate(t);
	t->final = 503;
	deliver(t, NULL, 503);
	return 0;
}

static int wait_done(struct sip_tsx *t, struct ev_ctx *c)
{
	terminate(t);
	return 0;
}

static int absorb(struct sip_tsx *t, struct ev_ctx *c)
{
	return 0;
}

/* --------------------------------------- non-INVITE client (§17.1.2) */

static int nc_rx_1xx(struct sip_tsx *t, struct ev_ctx *c)
{
	t->state = SIP_TSX_PROCEEDING;
	deliver(t, c->m, c->code);
	return 0;
}

static int nc_rx_final(struct sip_tsx *t, struct ev_ctx *c)
{
	timers_stop(t);
	t->state = SIP_TSX_COMPLETED;
	t->final = c->code;
	deliver(t, c->m, c->code);
	if (t->state != SIP_TSX_COMPLETED) {
		return 0;
	}
	/* Timer K: T4 on unreliable transports, 0 on reliable ones. */
	if (t->reliable) {
		terminate(t);
	} else {
		timer_start(t, t->t_wait, t->l->cfg.t4_ms);
	}
	return 0;
}

static int nc_timer_e(struct sip_tsx *t, struct ev_ctx *c)
{
	if (do_send(t, t->req_raw, t->req_len) != 0) {
		return client_terr(t, c);
	}
	/* RFC 3261 §17.1.2.2: doubling up to T2 in Trying; T2 in
	 * Proceeding. */
	if (t->state == SIP_TSX_TRYING) {
		t->retx_ms = 2 * t->retx_ms < t2(t) ? 2 * t->retx_ms : t2(t);
	} else {
		t->retx_ms = t2(t);
	}
	timer_start(t, t->t_retx, t->retx_ms);
	return 0;
}

/* ------------------------------------------- INVITE server (§17.2.1) */

static int srv_resend(struct sip_tsx *t, struct ev_ctx *c)
{
	resend_last(t);
	return 0;
}

static int is_tu_1xx(struct sip_tsx *t, struct ev_ctx *c)
{
	if (send_response(t, c) != 0) {
		server_error(t, c->err);
		return c->err;
	}
	return 0;
}

static int is_tu_2xx(struct sip_tsx *t, struct ev_ctx *c)
{
	bool first = t->state == SIP_TSX_PROCEEDING;

	t->final = c->code;
	if (send_response(t, c) != 0) {
		server_error(t, c->err);
		return c->err;
	}
	/* RFC 6026 §8.5: Accepted, Timer L = 64*T1; 2xx retransmissions
	 * come from the TU and pass through. */
	if (first) {
		t->state = SIP_TSX_ACCEPTED;
		timer_start(t, t->t_wait, 64 * t1(t));
	}
	return 0;
}

static int is_tu_final(struct sip_tsx *t, struct ev_ctx *c)
{
	t->final = c->code;
	if (send_response(t, c) != 0) {
		server_error(t, c->err);
		return c->err;
	}
	t->state = SIP_TSX_COMPLETED;
	/* RFC 3261 §17.2.1: Timer G (unreliable only) and Timer H. */
	if (!t->reliable) {
		t->retx_ms = t1(t);
		timer_start(t, t->t_retx, t->retx_ms);
	}
	timer_start(t, t->t_timeout, 64 * t1(t));
	return 0;
}

static int is_ack(struct sip_tsx *t, struct ev_ctx *c)
{
	timers_stop(t);
	t->state = SIP_TSX_CONFIRMED;
	/* Timer I: T4 on unreliable transports, 0 on reliable ones. */
	if (t->reliable) {
		terminate(t);
	} else {
		timer_start(t, t->t_wait, t->l->cfg.t4_ms);
	}
	return 0;
}

static int is_accepted_ack(struct sip_tsx *t, struct ev_ctx *c)
{
	/* RFC 6026 §8.7: an ACK matching in Accepted goes to the TU. */
	t->l->cfg.request_h(NULL, c->m, c->src, t->l->cfg.arg);
	return 0;
}

static int is_timer_g(struct sip_tsx *t, struct ev_ctx *c)
{
	if (do_send(t, t->last, t->last_len) != 0) {
		server_error(t, -EIO);
		return 0;
	}
	t->retx_ms = 2 * t->retx_ms < t2(t) ? 2 * t->retx_ms : t2(t);
	timer_start(t, t->t_retx, t->retx_ms);
	return 0;
}

static int is_timer_h(struct sip_tsx *t, struct ev_ctx *c)
{
	server_error(t, -ETIMEDOUT);
	return 0;
}

/* --------------------------------------- non-INVITE server (§17.2.2) */

static int ns_tu_1xx(struct sip_tsx *t, struct ev_ctx *c)
{
	if (send_response(t, c) != 0) {
		server_error(t, c->err);
		return c->err;
	}
	t->state = SIP_TSX_PROCEEDING;
	return 0;
}

static int ns_tu_final(struct sip_tsx *t, struct ev_ctx *c)
{
	t->final = c->code;
	if (send_response(t, c) != 0) {
		server_error(t, c->err);
		return c->err;
	}
	t->state = SIP_TSX_COMPLETED;
	/* Timer J: 64*T1 on unreliable transports, 0 on reliable ones. */
	if (t->reliable) {
		terminate(t);
	} else {
		timer_start(t, t->t_wait, 64 * t1(t));
	}
	return 0;
}

static int srv_terr(struct sip_tsx *t, struct ev_ctx *c)
{
	server_error(t, c->err ? c->err : -EIO);
	return 0;
}

/* ------------------------------------------------- state x event tables */

static const cell_h ic_tab[NSTATES][EV_COUNT] = {
	[SIP_TSX_CALLING] =
		{
			[EV_RX_1XX] = ic_rx_1xx,
			[EV_RX_2XX] = ic_rx_2xx,
			[EV_RX_FINAL] = ic_rx_final,
			[EV_T_RETX] = ic_timer_a,
			[EV_T_TIMEOUT] = client_timeout,
			[EV_TERR] = client_terr,
		},
	[SIP_TSX_PROCEEDING] =
		{
			[EV_RX_1XX] = ic_rx_1xx,
			[EV_RX_2XX] = ic_rx_2xx,
			[EV_RX_FINAL] = ic_rx_final,
			[EV_T_TIMEOUT] = client_timeout, /* after CANCEL */
			[EV_TERR] = client_terr,
		},
	[SIP_TSX_COMPLETED] =
		{
			[EV_RX_1XX] = absorb,
			[EV_RX_2XX] = absorb,
			[EV_RX_FINAL] = ic_completed_final,
			[EV_T_WAIT] = wait_done, /* Timer D */
			[EV_TERR] = wait_done,
		},
	[SIP_TSX_ACCEPTED] =
		{
			[EV_RX_1XX] = absorb,
			[EV_RX_2XX] = ic_accepted_2xx,
			[EV_RX_FINAL] = absorb,
			[EV_T_WAIT] = wait_done, /* Timer M */
		},
};

static const cell_h nc_tab[NSTATES][EV_COUNT] = {
	[SIP_TSX_TRYING] =
		{
			[EV_RX_1XX] = nc_rx_1xx,
			[EV_RX_2XX] = nc_rx_final,
			[EV_RX_FINAL] = nc_rx_final,
			[EV_T_RETX] = nc_timer_e,
			[EV_T_TIMEOUT] = client_timeout,
			[EV_TERR] = client_terr,
		},
	[SIP_TSX_PROCEEDING] =
		{
			[EV_RX_1XX] = nc_rx_1xx,
			[EV_RX_2XX] = nc_rx_final,
			[EV_RX_FINAL] = nc_rx_final,
			[EV_T_RETX] = nc_timer_e,
			[EV_T_TIMEOUT] = client_timeout,
			[EV_TERR] = client_terr,
		},
	[SIP_TSX_COMPLETED] =
		{
			[EV_RX_1XX] = absorb,
			[EV_RX_2XX] = absorb,
			[EV_RX_FINAL] = absorb,
			[EV_T_WAIT] = wait_done, /* Timer K */
		},
};

static const cell_h is_tab[NSTATES][EV_COUNT] = {
	[SIP_TSX_PROCEEDING] =
		{
			[EV_REQ] = srv_resend,
			[EV_TU_1XX] = is_tu_1xx,
			[EV_TU_2XX] = is_tu_2xx,
			[EV_TU_FINAL] = is_tu_final,
			[EV_TERR] = srv_terr,
		},
	[SIP_TSX_COMPLETED] =
		{
			[EV_REQ] = srv_resend,
			[EV_ACK] = is_ack,
			[EV_T_RETX] = is_timer_g,
			[EV_T_TIMEOUT] = is_timer_h,
			[EV_TERR] = srv_terr,
		},
	[SIP_TSX_CONFIRMED] =
		{
			[EV_REQ] = absorb,
			[EV_ACK] = absorb,
			[EV_T_WAIT] = wait_done, /* Timer I */
		},
	[SIP_TSX_ACCEPTED] =
		{
			[EV_REQ] = absorb, /* RFC 6026 §8.7 */
			[EV_ACK] = is_accepted_ack,
			[EV_TU_2XX] = is_tu_2xx,
			[EV_T_WAIT] = wait_done, /* Timer L */
			[EV_TERR] = srv_terr,
		},
};

static const cell_h ns_tab[NSTATES][EV_COUNT] = {
	[SIP_TSX_TRYING] =
		{
			[EV_REQ] = absorb,
			[EV_TU_1XX] = ns_tu_1xx,
			[EV_TU_2XX] = ns_tu_final,
			[EV_TU_FINAL] = ns_tu_final,
			[EV_TERR] = srv_terr,
		},
	[SIP_TSX_PROCEEDING] =
		{
			[EV_REQ] = srv_resend,
			[EV_TU_1XX] = ns_tu_1xx,
			[EV_TU_2XX] = ns_tu_final,
			[EV_TU_FINAL] = ns_tu_final,
			[EV_TERR] = srv_terr,
		},
	[SIP_TSX_COMPLETED] =
		{
			[EV_REQ] = srv_resend, [EV_T_WAIT] = wait_done, /* Timer
									   J */
		},
};

static const cell_h (*const tabs[4])[EV_COUNT] = {
	[SIP_TSX_IC] = ic_tab,
	[SIP_TSX_NC] = nc_tab,
	[SIP_TSX_IS] = is_tab,
	[SIP_TSX_NS] = ns_tab,
};

/* Runs the cell for (state, ev). A cell without a handler ignores a
 * network or timer event and refuses a TU action with -TL_ESTATE. */
static int dispatch(struct sip_tsx *t, enum ev ev, struct ev_ctx *c)
{
	cell_h h = tabs[t->kind][t->state][ev];
	int rc;

	if (!h) {
		bool tu =
			ev == EV_TU_1XX || ev == EV_TU_2XX || ev == EV_TU_FINAL;
		return tu ? -TL_ESTATE : 0;
	}
	sip_tsx_ref(t);
	rc = h(t, c);
	sip_tsx_unref(t);
	return rc;
}

static void on_timer(struct sip_tsx *t, enum ev ev)
{
	struct ev_ctx c = {0};

	(void)dispatch(t, ev, &c);
}

static void on_retx(evutil_socket_t fd, short what, void *arg)
{
	on_timer(arg, EV_T_RETX);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	on_timer(arg, EV_T_TIMEOUT);
}

static void on_wait(evutil_socket_t fd, short what, void *arg)
{
	on_timer(arg, EV_T_WAIT);
}

/* ------------------------------------------------------------ objects */

static void tsx_mem_free(struct sip_tsx_layer *l, struct sip_tsx *t)
{
	if (t->in_blk) {
		struct blk_free *f = (struct blk_free *)(void *)t;
		f->next = l->blk_free;
		l->blk_free = f;
	} else {
		free(t);
	}
}

static void tsx_destroy(struct sip_tsx *t)
{
	/* the events live inside t: out of the loop before it goes */
	timers_stop(t);
	net_conn_unref(t->peer.conn);
	if (!t->req_borrowed) {
		sip_msg_free(t->req);
	}
	free(t->req_raw);
	if (t->last != t->inl) {
		free(t->last);
	}
	buf_free(&t->ack);
	tsx_mem_free(t->l, t);
}

struct sip_tsx *sip_tsx_ref(struct sip_tsx *t)
{
	t->refs++;
	return t;
}

void sip_tsx_unref(struct sip_tsx *t)
{
	if (!t || --t->refs > 0) {
		return;
	}
	tsx_destroy(t);
}

static size_t align_up(size_t n)
{
	size_t a = alignof(max_align_t);

	return (n + a - 1) / a * a;
}

#if !defined(__SANITIZE_ADDRESS__)
/* Link chunk c of size bytes and put its blocks on the free list (the
 * first block holds the chunk's link). */
static void blk_chunk_add(struct sip_tsx_layer *l, uint8_t *c, size_t size)
{
	struct blk_chunk *ch = (struct blk_chunk *)(void *)c;

	ch->next = l->chunks;
	ch->size = size;
	l->chunks = ch;
	for (size_t off = size - BLK_SIZE; off >= BLK_SIZE; off -= BLK_SIZE) {
		struct blk_free *f = (struct blk_free *)(void *)(c + off);
		f->next = l->blk_free;
		l->blk_free = f;
	}
}
#endif

/* A fixed block, from the free list or a new chunk; NULL without memory.
 * Under AddressSanitizer every block is its own allocation, so that
 * overruns and leaks are still caught. */
static void *blk_get(struct sip_tsx_layer *l)
{
#if defined(__SANITIZE_ADDRESS__)
	(void)l;
	return NULL;
#else
	if (!l->blk_free && !l->chunks) {
		uint8_t *c = mmap(NULL, FIRST_CHUNK_SIZE,
				  PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (c == MAP_FAILED) {
			return NULL;
		}
		blk_chunk_add(l, c, FIRST_CHUNK_SIZE);
	} else if (!l->blk_free) {
		/* twice the size, so that an aligned 2 MiB fits in it */
		uint8_t *m = mmap(NULL, 2 * CHUNK_SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (m == MAP_FAILED) {
			return NULL;
		}
		uintptr_t a = ((uintptr_t)m + CHUNK_SIZE - 1) &
			      ~(uintptr_t)(CHUNK_SIZE - 1);
		uint8_t *c = (uint8_t *)a;
		if (c > m) {
			munmap(m, (size_t)(c - m));
		}
		munmap(c + CHUNK_SIZE,
		       (size_t)(m + 2 * CHUNK_SIZE - (c + CHUNK_SIZE)));
		/* in one go, not a page fault per page */
		(void)madvise(c, CHUNK_SIZE, MADV_POPULATE_WRITE);
		blk_chunk_add(l, c, CHUNK_SIZE);
	}
	struct blk_free *f = l->blk_free;
	l->blk_free = f->next;
	return f;
#endif
}


/* A transaction with one reference, not yet in the table: the struct, its
 * timer events and its key in one allocation. */
static int tsx_alloc(struct sip_tsx **out, struct sip_tsx_layer *l,
		     enum sip_tsx_kind kind, const struct buf *key,
		     const struct sip_tsx_peer *peer)
{
	size_t evsz = align_up(event_get_struct_event_size());
	size_t off = align_up(sizeof(struct sip_tsx));
	/* RFC 3261 §17.2.2: a non-INVITE server transaction runs Timer J
	 * only; the other kinds run three timers */
	size_t nev = kind == SIP_TSX_NS ? 1 : 3;
	struct sip_tsx *t;
	uint8_t *mem;

	*out = NULL;
	if (l->count >= l->cfg.max_tsx) {
		return -TL_ELIMIT;
	}
	if (key->len > SIP_MSG_MAX_SIZE) {
		return -TL_ETOOBIG;
	}
	size_t need = off + nev * evsz + key->len;
	mem = need < BLK_SIZE && kind == SIP_TSX_NS ? blk_get(l) : NULL;
	if (mem) {
		memset(mem, 0, need);
		t = (struct sip_tsx *)(void *)mem;
		t->in_blk = true;
		t->inl = mem + need;
		t->inl_cap = BLK_SIZE - need;
	} else {
		mem = calloc(1, need);
		if (!mem) {
			return -ENOMEM;
		}
		t = (struct sip_tsx *)(void *)mem;
	}
	t->t_wait = (struct event *)(void *)(mem + off);
	if (nev == 3) {
		t->t_retx = (struct event *)(void *)(mem + off + evsz);
		t->t_timeout = (struct event *)(void *)(mem + off + 2 * evsz);
	}
	t->key = mem + off + nev * evsz;
	if (evtimer_assign(t->t_wait, l->cfg.base, on_wait, t) != 0 ||
	    (t->t_retx &&
	     evtimer_assign(t->t_retx, l->cfg.base, on_retx, t) != 0) ||
	    (t->t_timeout &&
	     evtimer_assign(t->t_timeout, l->cfg.base, on_timeout, t) != 0)) {
		tsx_mem_free(l, t);
		return -EINVAL;
	}
	t->l = l;
	t->refs = 1;
	t->kind = kind;
	buf_init(&t->ack, SIP_MSG_MAX_SIZE);
	peer_copy(&t->peer, peer);
	t->reliable = peer->tp != NET_UDP;
	memcpy(t->key, key->p, key->len);
	t->key_len = key->len;
	uint8_t rnd[TO_TAG_LEN / 2];
	if (rnd_pool_bytes(&l->rnd, rnd, sizeof(rnd)) != 0) {
		tsx_destroy(t);
		return -TL_ECRYPTO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		static const char hx[] = "0123456789abcdef";
		t->to_tag[2 * i] = hx[rnd[i] >> 4];
		t->to_tag[2 * i + 1] = hx[rnd[i] & 15];
	}
	switch (kind) {
	case SIP_TSX_IC:
		t->state = SIP_TSX_CALLING;
		break;
	case SIP_TSX_NC:
	case SIP_TSX_NS:
		t->state = SIP_TSX_TRYING;
		break;
	case SIP_TSX_IS:
		t->state = SIP_TSX_PROCEEDING;
		break;
	}
	*out = t;
	return 0;
}

/* The layer's own copy of the request, parsed (mode: how it was framed). */
static int tsx_keep_req(struct sip_tsx *t, const uint8_t *p, size_t len,
			enum sip_mode mode)
{
	int rc;

	t->req_raw = malloc(len ? len : 1);
	if (!t->req_raw) {
		return -ENOMEM;
	}
	memcpy(t->req_raw, p, len);
	t->req_len = len;
	rc = sip_msg_new(&t->req);
	if (rc) {
		return rc;
	}
	return sip_msg_parse(t->req, t->req_raw, t->req_len, mode);
}

/* After the request callback: the borrowed message goes back to the
 * caller. What may still be answered (no final response yet, or an INVITE,
 * whose 2xx the TU may send again) gets the layer's copy; a non-INVITE
 * transaction already answered keeps none. */
static void tsx_settle_req(struct sip_tsx *t, struct sip_msg *m,
			   enum sip_mode mode)
{
	bool need = t->state != SIP_TSX_TERMINATED &&
		    (t->kind == SIP_TSX_IS || t->final == 0);

	if (!t->req_borrowed) {
		return;
	}
	t->req = NULL;
	t->req_borrowed = false;
	if (!need) {
		return;
	}
	struct slice raw = sip_msg_raw(m);
	int rc = tsx_keep_req(t, raw.p, raw.len, mode);
	if (rc) {
		/* cannot answer later: give the transaction up */
		log_warn("sip", "request not kept: %s", tl_strerror(rc));
		server_error(t, rc);
	}
}

int sip_tsx_layer_new(struct sip_tsx_layer **out, const struct sip_tsx_cfg *cfg)
{
	struct sip_tsx_layer *l;

	*out = NULL;
	if (!cfg->base || !cfg->send_h || !cfg->request_h) {
		return -EINVAL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		return -ENOMEM;
	}
	l->cfg = *cfg;
	l->cfg.t1_ms = cfg->t1_ms ? cfg->t1_ms : 500;
	l->cfg.t2_ms = cfg->t2_ms ? cfg->t2_ms : 4000;
	l->cfg.t4_ms = cfg->t4_ms ? cfg->t4_ms : 5000;
	l->cfg.d_ms = cfg->d_ms ? cfg->d_ms : 32000;
	/* RFC 3261 §17.2.2: over UDP every non-INVITE request leaves a
	 * Completed transaction for Timer J (32 s): 3,000 registrations a
	 * second (two transactions each) keep ~192,000 alive, ~1.5 KB each */
	l->cfg.max_tsx = cfg->max_tsx ? cfg->max_tsx : 262144;
	l->nslot = 512;
	l->slot = calloc(l->nslot, sizeof(*l->slot));
	rnd_pool_init(&l->rnd);
	if (!l->slot ||
	    rnd_pool_bytes(&l->rnd, &l->seed, sizeof(l->seed)) != 0) {
		free(l->slot);
		free(l);
		return -ENOMEM;
	}
	l->common_ms[0] = 64 * l->cfg.t1_ms; /* Timers B, F, H, J, L, M */
	l->common_ms[1] = l->cfg.t4_ms;      /* Timers I, K */
	l->common_ms[2] = l->cfg.d_ms;       /* Timer D */
	for (size_t i = 0; i < NCOMMON; i++) {
		struct timeval tv = {
			.tv_sec = l->common_ms[i] / 1000,
			.tv_usec = (suseconds_t)(l->common_ms[i] % 1000) * 1000,
		};
		/* NULL (none left): the plain timer heap */
		l->common[i] = event_base_init_common_timeout(l->cfg.base, &tv);
	}
	*out = l;
	return 0;
}

void sip_tsx_layer_free(struct sip_tsx_layer *l)
{
	if (!l) {
		return;
	}
	for (size_t i = 0; i < l->nslot; i++) {
		/* terminate shifts later entries into slot i */
		while (l->slot[i].t) {
			terminate(l->slot[i].t);
		}
	}
	free(l->slot);
	while (l->chunks) {
		struct blk_chunk *c = l->chunks;
		l->chunks = c->next;
		munmap(c, c->size);
	}
	rnd_pool_wipe(&l->rnd);
	free(l);
}

size_t sip_tsx_layer_count(const struct sip_tsx_layer *l)
{
	return l->count;
}

/* --------------------------------------------------------- responses */

/* RFC 3581 §4 / RFC 3261 §18.2.1: the top Via of a response gets
 * received=<source IP> when the sent-by host differs from it or rport was
 * asked for, and rport=<source port> when asked for. */
static void put_top_via(struct buf *b, const struct net_addr *src,
			const struct sip_via *v)
{
	struct slice raw = v->raw;
	char host[NET_ADDR_STRLEN];
	bool have_src = src && src->len > 0 &&
			net_addr_fmt_host(src, host, sizeof(host)) == 0;

	buf_put_str(b, "Via: ");
	if (!have_src || v->params.p == NULL) {
		buf_put_slice(b, raw);
		if (have_src && !slice_eq_str_nocase(v->host, host)) {
			buf_put_str(b, ";received=");
			buf_put_str(b, host);
		}
		buf_put_str(b, "\r\n");
		return;
	}
	/* up to the params, then each param, rport and received rewritten */
	buf_put(b, raw.p, (size_t)(v->params.p - raw.p));
	struct slice st = v->params, name, val;
	bool first = true;
	while (sip_param_next(&st, &name, &val) == 1) {
		if (slice_eq_str_nocase(name, "received")) {
			continue;
		}
		if (!first) {
			buf_put_u8(b, ';');
		}
		first = false;
		if (slice_eq_str_nocase(name, "rport")) {
			buf_put_str(b, "rport=");
			buf_put_dec(b, net_addr_port(src));
			continue;
		}
		buf_put_slice(b, name);
		if (val.p) {
			buf_put_u8(b, '=');
			buf_put_slice(b, val);
		}
	}
	if (v->has_rport || !slice_eq_str_nocase(v->host, host)) {
		buf_put_str(b, ";received=");
		buf_put_str(b, host);
	}
	buf_put_str(b, "\r\n");
}

int sip_tsx_build_response(struct buf *b, struct sip_msg *r,
			   const struct net_addr *src, uint16_t code,
			   const char *reason, struct slice to_tag,
			   struct slice hdrs, struct slice ctype,
			   struct slice body)
{
	const struct sip_addr *to = sip_msg_to(r);
	const struct sip_cseq *cs = sip_msg_cseq(r);
	struct sip_iter it;
	struct slice v;
	bool top = true;
	int rc;

	if (code < 100 || code > 699) {
		return -EINVAL;
	}
	if (!reason) {
		reason = sip_reason_phrase(code);
	}
	for (const char *q = reason; *q; q++) {
		if (*q == '\r' || *q == '\n') {
			return -TL_EPARSE;
		}
	}
	buf_put_str(b, "SIP/2.0 ");
	buf_put_dec(b, code);
	buf_put_u8(b, ' ');
	buf_put_str(b, reason);
	buf_put_str(b, "\r\n");
	sip_msg_iter(&it, r, SIP_HDR_VIA);
	while ((rc = sip_iter_next(&it, &v)) == 1) {
		if (top) {
			put_top_via(b, src, sip_msg_via(r));
			top = false;
		} else {
			buf_put_str(b, "Via: ");
			buf_put_slice(b, v);
			buf_put_str(b, "\r\n");
		}
	}
	if (rc < 0) {
		return rc;
	}
	buf_put_str(b, "From: ");
	buf_put_slice(b, sip_msg_from(r)->raw);
	buf_put_str(b, "\r\nTo: ");
	buf_put_slice(b, to->raw);
	/* RFC 3261 §8.2.6.2: a tag in every response but 100 (§8.2.6.1) */
	if (to->tag.p == NULL && code != 100 && to_tag.len) {
		buf_put_str(b, ";tag=");
		buf_put_slice(b, to_tag);
	}
	buf_put_str(b, "\r\nCall-ID: ");
	buf_put_slice(b, sip_msg_call_id(r));
	buf_put_str(b, "\r\nCSeq: ");
	buf_put_dec(b, cs->num);
	buf_put_u8(b, ' ');
	buf_put_slice(b, cs->method_s);
	buf_put_str(b, "\r\n");
	buf_put_slice(b, hdrs);
	return sip_build_end(b, ctype, body);
}

static enum ev tu_event(uint16_t code)
{
	if (code < 200) {
		return EV_TU_1XX;
	}
	return code < 300 ? EV_TU_2XX : EV_TU_FINAL;
}

int sip_tsx_respond(struct sip_tsx *t, uint16_t code, const uint8_t *p,
		    size_t len)
{
	struct ev_ctx c = {.p = p, .len = len, .code = code};

	if (t->kind != SIP_TSX_IS && t->kind != SIP_TSX_NS) {
		return -TL_ESTATE;
	}
	if (code < 100 || code > 699 || len == 0) {
		return -EINVAL;
	}
	return dispatch(t, tu_event(code), &c);
}

int sip_tsx_reply(struct sip_tsx *t, uint16_t code, const char *reason,
		  struct slice hdrs, struct slice ctype, struct slice body)
{
	uint8_t mem[2048];
	struct buf b;
	int rc;

	if (t->kind != SIP_TSX_IS && t->kind != SIP_TSX_NS) {
		return -TL_ESTATE;
	}
	if (t->state == SIP_TSX_TERMINATED || !t->req) {
		return -TL_ESTATE;
	}
	buf_init_ext(&b, mem, sizeof(mem), SIP_MSG_MAX_SIZE);
	rc = sip_tsx_build_response(&b, t->req, &t->peer.addr, code, reason,
				    sip_tsx_to_tag(t), hdrs, ctype, body);
	if (rc == 0) {
		rc = sip_tsx_respond(t, code, b.p, b.len);
	}
	buf_free(&b);
	return rc;
}

struct slice sip_tsx_to_tag(const struct sip_tsx *t)
{
	return slice_make(t->to_tag, TO_TAG_LEN);
}

const struct sip_tsx_peer *sip_tsx_peer(const struct sip_tsx *t)
{
	return &t->peer;
}

/* ----------------------------------------------------------- receive */

static int recv_response(struct sip_tsx_layer *l, struct sip_msg *m,
			 const struct sip_tsx_peer *src)
{
	const struct sip_via *v = sip_msg_via(m);
	const struct sip_cseq *cs = sip_msg_cseq(m);
	uint16_t code = sip_msg_status(m);
	uint8_t kmem[KEY_STACK];
	struct buf k;
	int rc;

	buf_init_ext(&k, kmem, sizeof(kmem), 0);
	rc = client_key(&k, v->branch, cs->method_s);
	if (rc) {
		goto out;
	}
	struct sip_tsx *t = table_find(l, k.p, k.len);
	if (!t) {
		if (l->cfg.stray_h) {
			l->cfg.stray_h(m, src, l->cfg.arg);
		}
		goto out;
	}
	struct ev_ctx c = {.m = m, .src = src, .code = code};
	enum ev ev =
		code < 200 ? EV_RX_1XX : (code < 300 ? EV_RX_2XX : EV_RX_FINAL);
	rc = dispatch(t, ev, &c);
out:
	buf_free(&k);
	return rc;
}

static void cancel_answer(struct sip_tsx_layer *l, struct sip_tsx *ct,
			  uint16_t code)
{
	int rc = sip_tsx_reply(ct, code, NULL, SLICE_NULL, SLICE_NULL,
			       SLICE_NULL);

	if (rc) {
		log_warn("sip", "CANCEL answer %u not sent: %s", code,
			 tl_strerror(rc));
	}
}

/* RFC 3261 §9.2: a CANCEL gets its own server transaction; it is matched
 * to the INVITE by the same rules with the method INVITE. */
static int recv_cancel(struct sip_tsx_layer *l, struct sip_tsx *ct)
{
	uint8_t kmem[KEY_STACK];
	struct buf k;
	int rc;

	buf_init_ext(&k, kmem, sizeof(kmem), 0);
	rc = server_key(&k, ct->req, "INVITE");
	if (rc) {
		goto out;
	}
	struct sip_tsx *inv = table_find(l, k.p, k.len);
	if (!inv) {
		cancel_answer(l, ct, 481);
		goto out;
	}
	cancel_answer(l, ct, 200);
	if (inv->state != SIP_TSX_PROCEEDING) {
		goto out; /* a final response went out: no effect */
	}
	sip_tsx_ref(inv);
	if (l->cfg.cancel_h) {
		l->cfg.cancel_h(inv, l->cfg.arg);
	}
	if (inv->state == SIP_TSX_PROCEEDING) {
		rc = sip_tsx_reply(inv, 487, NULL, SLICE_NULL, SLICE_NULL,
				   SLICE_NULL);
		if (rc) {
			log_warn("sip", "487 not sent: %s", tl_strerror(rc));
			rc = 0;
		}
	}
	sip_tsx_unref(inv);
out:
	buf_free(&k);
	return rc;
}

static int recv_request(struct sip_tsx_layer *l, struct sip_msg *m,
			enum sip_mode mode, const struct sip_tsx_peer *src)
{
	enum sip_method meth = sip_msg_method(m);
	struct ev_ctx c = {.m = m, .src = src};
	struct sip_tsx *t;
	uint8_t kmem[KEY_STACK];
	struct buf k;
	int rc;

	buf_init_ext(&k, kmem, sizeof(kmem), 0);
	rc = server_key(&k, m, meth == SIP_M_ACK ? "INVITE" : NULL);
	if (rc) {
		goto out;
	}
	t = table_find(l, k.p, k.len);
	if (meth == SIP_M_ACK) {
		if (t && t->kind == SIP_TSX_IS) {
			rc = dispatch(t, EV_ACK, &c);
		} else {
			/* the ACK to a 2xx: no transaction, to the TU */
			l->cfg.request_h(NULL, m, src, l->cfg.arg);
		}
		goto out;
	}
	if (t) {
		/* a retransmission: absorbed (the last response resent) */
		rc = dispatch(t, EV_REQ, &c);
		goto out;
	}
	enum sip_tsx_kind kind = meth == SIP_M_INVITE ? SIP_TSX_IS : SIP_TSX_NS;
	rc = tsx_alloc(&t, l, kind, &k, src);
	if (rc) {
		goto out;
	}
	/* the TU reads the received message itself; the layer copies it
	 * only if the transaction outlives this call unanswered */
	t->req = m;
	t->req_borrowed = true;
	rc = table_add(l, t);
	if (rc) {
		t->req = NULL;
		t->req_borrowed = false;
		tsx_destroy(t);
		goto out;
	}
	sip_tsx_ref(t);
	if (meth == SIP_M_CANCEL) {
		rc = recv_cancel(l, t);
	} else {
		l->cfg.request_h(t, t->req, &t->peer, l->cfg.arg);
		/* RFC 3261 §17.2.1: 100 Trying unless the TU answered. */
		if (kind == SIP_TSX_IS && t->state == SIP_TSX_PROCEEDING &&
		    t->last_code == 0) {
			int r2 = sip_tsx_reply(t, 100, NULL, SLICE_NULL,
					       SLICE_NULL, SLICE_NULL);
			if (r2) {
				log_debug("sip", "100 not sent: %s",
					  tl_strerror(r2));
			}
		}
	}
	tsx_settle_req(t, m, mode);
	sip_tsx_unref(t);
out:
	buf_free(&k);
	return rc;
}

int sip_tsx_recv(struct sip_tsx_layer *l, struct sip_msg *m, enum sip_mode mode,
		 const struct sip_tsx_peer *src)
{
	if (sip_msg_is_request(m)) {
		return recv_request(l, m, mode, src);
	}
	return recv_response(l, m, src);
}

/* ------------------------------------------------------------ client */

static void cancel_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
			void *arg)
{
	/* the INVITE transaction reports the outcome (487) */
}

/* RFC 3261 §9.1: CANCEL with the INVITE's Request-URI, Call-ID, To,
 * From, CSeq number and top Via (same branch), Route headers. */
static int send_cancel(struct sip_tsx *t)
{
	struct sip_msg *r = t->req;
	struct sip_iter it;
	struct slice v;
	struct buf b;
	int rc;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	rc = sip_build_request(&b, SLICE_LIT("CANCEL"), sip_msg_ruri(r)->raw);
	if (!rc) {
		rc = sip_build_hdr(&b, "Via", sip_msg_via(r)->raw);
	}
	sip_msg_iter(&it, r, SIP_HDR_ROUTE);
	while (!rc && (rc = sip_iter_next(&it, &v)) == 1) {
		rc = sip_build_hdr(&b, "Route", v);
	}
	if (!rc) {
		rc = sip_build_hdr(&b, "From", sip_msg_from(r)->raw);
	}
	if (!rc) {
		rc = sip_build_hdr(&b, "To", sip_msg_to(r)->raw);
	}
	if (!rc) {
		rc = sip_build_hdr(&b, "Call-ID", sip_msg_call_id(r));
	}
	if (!rc) {
		rc = sip_build_hdrf(&b, "CSeq", "%u CANCEL",
				    sip_msg_cseq(r)->num);
	}
	if (!rc) {
		rc = sip_build_hdr(&b, "Max-Forwards", SLICE_LIT("70"));
	}
	if (!rc) {
		rc = sip_build_end(&b, SLICE_NULL, SLICE_NULL);
	}
	if (!rc) {
		rc = sip_tsx_request(NULL, t->l, b.p, b.len, &t->peer,
				     cancel_resp, NULL);
	}
	if (!rc) {
		t->cancel_sent = true;
		/* RFC 3261 §9.1: without a final response 64*T1 after the
		 * CANCEL, the INVITE transaction is given up. */
		timer_start(t, t->t_timeout, 64 * t1(t));
	}
	buf_free(&b);
	return rc;
}

int sip_tsx_cancel(struct sip_tsx *t)
{
	if (t->kind != SIP_TSX_IC ||
	    (t->state != SIP_TSX_CALLING && t->state != SIP_TSX_PROCEEDING)) {
		return -TL_ESTATE;
	}
	if (t->cancel_pending || t->cancel_sent) {
		return 0;
	}
	if (t->state == SIP_TSX_CALLING) {
		/* RFC 3261 §9.1: not before a provisional response */
		t->cancel_pending = true;
		return 0;
	}
	t->cancel_pending = true;
	return send_cancel(t);
}

int sip_tsx_request(struct sip_tsx **out, struct sip_tsx_layer *l,
		    const uint8_t *p, size_t len,
		    const struct sip_tsx_peer *dst, sip_tsx_resp_h h, void *arg)
{
	struct sip_msg *m = NULL;
	struct sip_tsx *t = NULL;
	uint8_t kmem[KEY_STACK];
	struct buf k;
	int rc;

	if (out) {
		*out = NULL;
	}
	buf_init_ext(&k, kmem, sizeof(kmem), 0);
	rc = sip_msg_new(&m);
	if (rc) {
		goto out;
	}
	rc = sip_msg_parse(m, p, len, SIP_MODE_DGRAM);
	if (rc) {
		goto out;
	}
	rc = -EINVAL;
	if (!sip_msg_is_request(m) || sip_msg_method(m) == SIP_M_ACK ||
	    !has_magic(sip_msg_via(m)->branch)) {
		goto out;
	}
	rc = client_key(&k, sip_msg_via(m)->branch, sip_msg_cseq(m)->method_s);
	if (rc) {
		goto out;
	}
	if (table_find(l, k.p, k.len)) {
		rc = -TL_EEXIST;
		goto out;
	}
	enum sip_tsx_kind kind =
		sip_msg_method(m) == SIP_M_INVITE ? SIP_TSX_IC : SIP_TSX_NC;
	rc = tsx_alloc(&t, l, kind, &k, dst);
	if (rc) {
		goto out;
	}
	rc = tsx_keep_req(t, p, len, SIP_MODE_DGRAM);
	if (rc) {
		tsx_destroy(t);
		goto out;
	}
	rc = table_add(l, t);
	if (rc) {
		tsx_destroy(t);
		goto out;
	}
	t->resp_h = h;
	t->resp_arg = arg;
	rc = do_send(t, t->req_raw, t->req_len);
	if (rc) {
		terminate(t);
		goto out;
	}
	/* RFC 3261 §17.1.1.2 / §17.1.2.2: Timer A / E on unreliable
	 * transports, Timer B / F always. */
	if (!t->reliable) {
		t->retx_ms = t1(t);
		timer_start(t, t->t_retx, t->retx_ms);
	}
	timer_start(t, t->t_timeout, 64 * t1(t));
	if (out) {
		*out = sip_tsx_ref(t);
	}
out:
	sip_msg_free(m);
	buf_free(&k);
	return rc;
}

int sip_tsx_branch(char out[SIP_TSX_BRANCH_LEN])
{
	static const char b64u[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
				   "opqrstuvwxyz0123456789-_";
	uint8_t rnd[22];

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return -TL_ECRYPTO;
	}
	memcpy(out, MAGIC, MAGIC_LEN);
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[MAGIC_LEN + i] = b64u[rnd[i] & 63];
	}
	out[MAGIC_LEN + sizeof(rnd)] = '\0';
	return 0;
}

int sip_tsx_send_stateless(struct sip_tsx_layer *l,
			   const struct sip_tsx_peer *to, const uint8_t *p,
			   size_t len)
{
	return l->cfg.send_h(to, p, len, l->cfg.arg);
}

/* ------------------------------------------------------------ access */

enum sip_tsx_state sip_tsx_state(const struct sip_tsx *t)
{
	return t->state;
}

enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *t)
{
	return t->kind;
}

const char *sip_tsx_state_name(enum sip_tsx_state s)
{
	static const char *const names[NSTATES] = {
		[SIP_TSX_CALLING] = "Calling",
		[SIP_TSX_TRYING] = "Trying",
		[SIP_TSX_PROCEEDING] = "Proceeding",
		[SIP_TSX_COMPLETED] = "Completed",
		[SIP_TSX_CONFIRMED] = "Confirmed",
		[SIP_TSX_ACCEPTED] = "Accepted",
		[SIP_TSX_TERMINATED] = "Terminated",
	};

	return (unsigned)s < NSTATES ? names[s] : "?";
}

struct sip_msg *sip_tsx_req(const struct sip_tsx *t)
{
	return t->req;
}

uint16_t sip_tsx_final(const struct sip_tsx *t)
{
	return t->final;
}
