/* SIP transport binding (RFC 3261 §18, RFC 3581). */
#include "sip/sip_stack.h"

#include "base/buf.h"
#include "base/log.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

struct sip_stack {
	struct sip_stack_cfg cfg;
	struct net *net;
	struct sip_tsx_layer *tsx;
	struct sip_msg *rx; /* parse arena for received messages */
	struct sip_stack_stats st;
	/* what the message being handled came from (valid during recv) */
	const struct net_addr *cur_src;
	const struct net_addr *cur_local;
};

/* RFC 3261 §18.2.2 with RFC 3581 §4: streams answer on the connection;
 * UDP to the source IP (the "received" address) and the source port when
 * rport was asked for, else the Via sent-by port (5060 by default). */
static void reply_peer(struct sip_tsx_peer *p, const struct sip_msg *m,
		       struct net_conn *c, const struct net_addr *src,
		       const struct net_addr *local, enum net_transport tp)
{
	const struct sip_via *v = sip_msg_via(m);

	memset(p, 0, sizeof(*p));
	p->tp = tp;
	p->addr = *src;
	p->conn = c;
	if (local) {
		p->local = *local;
	}
	uint16_t port = tp == NET_TLS ? 5061 : 5060;
	if (v && v->has_port) {
		port = v->port;
	}
	if (tp == NET_UDP && v && !v->has_rport) {
		net_addr_set_port(&p->addr, port);
	} else if (tp != NET_UDP) {
		p->alt = *src;
		net_addr_set_port(&p->alt, port);
	}
}

static int st_send(const struct sip_tsx_peer *to, const uint8_t *p, size_t len,
		   void *arg)
{
	struct sip_stack *s = arg;

	if (to->conn && net_conn_is_open(to->conn)) {
		return net_conn_send(to->conn, p, len);
	}
	if (to->tp != NET_UDP && to->alt.len) {
		return net_send(s->net, to->tp, &to->alt, NULL, p, len);
	}
	return net_send(s->net, to->tp, &to->addr,
			to->local.len ? &to->local : NULL, p, len);
}

static void st_request(struct sip_tsx *t, struct sip_msg *req,
		       const struct sip_tsx_peer *src, void *arg)
{
	struct sip_stack *s = arg;
	struct sip_stack_req r = {
		.tsx = t,
		.msg = req,
		.tp = src->tp,
		.src = s->cur_src ? s->cur_src : &src->addr,
		.local = s->cur_local ? s->cur_local : &src->local,
		.conn = src->conn,
		.peer_identity =
			src->conn ? net_conn_peer_identity(src->conn) : NULL,
	};

	s->cfg.request_h(s, &r, s->cfg.arg);
}

static void st_cancel(struct sip_tsx *t, void *arg)
{
	struct sip_stack *s = arg;

	if (s->cfg.cancel_h) {
		s->cfg.cancel_h(t, s->cfg.arg);
	}
}

static void st_stray(struct sip_msg *resp, const struct sip_tsx_peer *src,
		     void *arg)
{
	struct sip_stack *s = arg;

	if (s->cfg.stray_h) {
		s->cfg.stray_h(resp, src, s->cfg.arg);
	}
}

static void st_error(struct sip_tsx *t, int err, void *arg)
{
	struct sip_stack *s = arg;

	if (s->cfg.error_h) {
		s->cfg.error_h(t, err, s->cfg.arg);
	}
}

/* A stateless response (RFC 3261 §8.2.6) with a fresh To tag. */
static int send_stateless(struct sip_stack *s, struct sip_msg *req, bool parsed,
			  const struct net_addr *src,
			  const struct sip_tsx_peer *to, uint16_t code,
			  const char *reason)
{
	static const char hx[] = "0123456789abcdef";
	uint8_t rnd[8];
	char tag[17];
	struct buf b;
	int rc;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		return -TL_ECRYPTO;
	}
	for (size_t i = 0; i < sizeof(rnd); i++) {
		tag[2 * i] = hx[rnd[i] >> 4];
		tag[2 * i + 1] = hx[rnd[i] & 15];
	}
	tag[16] = '\0';
	buf_init(&b, SIP_MSG_MAX_SIZE);
	if (parsed) {
		/* with received/rport in the top Via (RFC 3581 §4) */
		rc = sip_tsx_build_response(&b, req, src, code, reason,
					    slice_from_str(tag), SLICE_NULL,
					    SLICE_NULL, SLICE_NULL);
	} else {
		/* what the codec could read of a malformed request */
		rc = sip_build_response(&b, req, code, reason,
					code > 100 ? slice_from_str(tag)
						   : SLICE_NULL);
		if (!rc) {
			rc = sip_build_end(&b, SLICE_NULL, SLICE_NULL);
		}
	}
	if (!rc) {
		rc = st_send(to, b.p, b.len, s);
	}
	buf_free(&b);
	return rc;
}

static void on_recv(struct net_conn *c, const struct net_addr *src,
		    const struct net_addr *local, enum net_transport tp,
		    const uint8_t *msg, size_t len, void *arg)
{
	struct sip_stack *s = arg;
	enum sip_mode mode = tp == NET_UDP ? SIP_MODE_DGRAM : SIP_MODE_STREAM;
	struct sip_msg *m = s->rx;
	struct sip_tsx_peer peer;
	int rc;

	rc = sip_msg_parse(m, msg, len, mode);
	if (rc) {
		/* RFC 3261 §21.4.1: a request we can read enough of gets
		 * "400 <what is wrong>" (or 505/513); never an ACK (§17),
		 * never a response (dropped). */
		uint16_t code = sip_msg_error_status(m);
		if (sip_msg_can_answer(m) && code &&
		    sip_msg_method(m) != SIP_M_ACK) {
			reply_peer(&peer, m, c, src, local, tp);
			rc = send_stateless(s, m, false, src, &peer, code,
					    sip_msg_error(m));
			if (rc) {
				log_debug("sip", "error response not sent: %s",
					  tl_strerror(rc));
			}
			s->st.rx_bad_requests++;
			return;
		}
		s->st.rx_dropped++;
		return;
	}
	if (sip_msg_is_request(m)) {
		s->st.rx_requests++;
		reply_peer(&peer, m, c, src, local, tp);
	} else {
		s->st.rx_responses++;
		memset(&peer, 0, sizeof(peer));
		peer.tp = tp;
		peer.addr = *src;
		peer.local = *local;
		peer.conn = c;
	}
	s->cur_src = src;
	s->cur_local = local;
	rc = sip_tsx_recv(s->tsx, m, mode, &peer);
	s->cur_src = NULL;
	s->cur_local = NULL;
	if (rc && sip_msg_is_request(m) && sip_msg_method(m) != SIP_M_ACK) {
		/* out of transactions or memory: RFC 3261 §21.5.4 */
		rc = send_stateless(s, m, true, src, &peer, 503, NULL);
		if (rc) {
			log_debug("sip", "503 not sent: %s", tl_strerror(rc));
		}
	}
}

int sip_stack_new(struct sip_stack **out, const struct sip_stack_cfg *cfg)
{
	struct sip_stack *s;
	int rc;

	*out = NULL;
	if (!cfg->base || !cfg->request_h) {
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->cfg = *cfg;
	rc = sip_msg_new(&s->rx);
	if (rc) {
		goto out;
	}
	struct net_handlers h = {
		.frame_h = sip_frame,
		.recv_h = on_recv,
		.arg = s,
	};
	rc = net_new(&s->net, cfg->base, cfg->net_conf, &h);
	if (rc) {
		goto out;
	}
	struct sip_tsx_cfg tc = {
		.base = cfg->base,
		.t1_ms = cfg->t1_ms,
		.t2_ms = cfg->t2_ms,
		.t4_ms = cfg->t4_ms,
		.d_ms = cfg->d_ms,
		.max_tsx = cfg->max_tsx,
		.send_h = st_send,
		.request_h = st_request,
		.cancel_h = st_cancel,
		.stray_h = st_stray,
		.error_h = st_error,
		.arg = s,
	};
	rc = sip_tsx_layer_new(&s->tsx, &tc);
	if (rc) {
		goto out;
	}
	*out = s;
	s = NULL;
out:
	sip_stack_free(s);
	return rc;
}

void sip_stack_free(struct sip_stack *s)
{
	if (!s) {
		return;
	}
	/* transactions first: they hold connection references */
	sip_tsx_layer_free(s->tsx);
	net_free(s->net);
	sip_msg_free(s->rx);
	free(s);
}

int sip_stack_listen(struct sip_stack *s, enum net_transport tp,
		     const struct net_addr *addr, struct net_tls *tls,
		     struct net_addr *bound)
{
	return net_listen(s->net, tp, addr, tls, bound);
}

void sip_stack_set_tls_client(struct sip_stack *s, struct net_tls *tls)
{
	net_set_tls_client(s->net, tls);
}

struct net *sip_stack_net(struct sip_stack *s)
{
	return s->net;
}

struct sip_tsx_layer *sip_stack_tsx(struct sip_stack *s)
{
	return s->tsx;
}

int sip_stack_request(struct sip_stack *s, struct sip_tsx **out,
		      const uint8_t *p, size_t len, enum net_transport tp,
		      const struct net_addr *dst, sip_tsx_resp_h h, void *arg)
{
	struct sip_tsx_peer peer = {.tp = tp, .addr = *dst};

	return sip_tsx_request(out, s->tsx, p, len, &peer, h, arg);
}

int sip_stack_send(struct sip_stack *s, enum net_transport tp,
		   const struct net_addr *dst, const uint8_t *p, size_t len)
{
	return net_send(s->net, tp, dst, NULL, p, len);
}

int sip_stack_reply_stateless(struct sip_stack *s,
			      const struct sip_stack_req *r, uint16_t code,
			      const char *reason)
{
	struct sip_tsx_peer peer;

	reply_peer(&peer, r->msg, r->conn, r->src, r->local, r->tp);
	return send_stateless(s, r->msg, true, r->src, &peer, code, reason);
}

void sip_stack_stats(const struct sip_stack *s, struct sip_stack_stats *out)
{
	*out = s->st;
}
