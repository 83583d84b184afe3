/* The B2BUA of the call manager (see cm_call.h). */
#include "callmgr/cm_call.h"

#include "callmgr/cm_int.h"

#include "base/buf.h"
#include "base/log.h"
#include "sip/sip_auth.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CM_MAX_HOPS 5 /* forwards followed for one call */

enum cm_state {
	CM_CALLING,   /* INVITE sent on leg B, no final response yet */
	CM_CONNECTED, /* 2xx relayed to A */
};

struct cm_call {
	struct cm_call *next;
	struct cm_calls *cs;
	enum cm_state state;
	struct cm_leg a, b;
	struct sip_tsx *a_tsx; /* A's INVITE (server) */
	struct sip_tsx *b_tsx; /* our INVITE to B (client) */
	struct event *timer;   /* no answer, then 2xx retransmission */
	struct buf offer;      /* A's SDP offer, for forwards and retries */
	struct buf ok_hdrs, ok_body; /* the 2xx to A, for retransmission */
	unsigned ok_sent;
	bool a_acked;
	bool cancelled, no_answer, auth_tried;
	unsigned hops;
	char dialled[64];
	int64_t t_start, t_answer;
	enum cm_sec sec;
	bool srtp_a, srtp_b;
	/* The SDP each party last sent (0: leg A, 1: leg B), as received. */
	struct buf last_sdp[2];
	/* Blind transfer in progress (RFC 3515, RFC 5589): leg A is the
	 * transferee, leg B the target being called, xfer_leg the
	 * transferor's dialog (for NOTIFY and the final BYE). */
	bool xfer;
	struct cm_leg xfer_leg;
	/* A re-INVITE being relayed (hold, resume). */
	struct sip_tsx *re_srv, *re_cli;
	int re_from; /* 0: from A, 1: from B */
	/* A new pair after a transfer negotiates its media afresh (RFC 3725
	 * §5, RFC 3261 §14.2): a re-INVITE without an offer to leg A, the
	 * offer of A's 2xx in a re-INVITE to leg B, B's answer in the ACK to
	 * A. The old SDP of either party holds keys that the transferor
	 * knows, and the answer A gave to it is for someone else. */
	enum { RK_NONE, RK_OFFER, RK_ANSWER } rk;
	struct sip_tsx *rk_a, *rk_b;
	uint32_t rk_cseq_a, rk_cseq_b;
	struct buf rk_ack; /* the answer in the ACK to A, for resending */
};

struct cm_calls {
	struct event_base *base;
	struct sip_stack *stack;
	struct cm_reg *reg;
	struct store *st;
	struct cm_calls_conf conf;
	unsigned default_no_answer_ms;
	struct cm_host h;
	struct cm_call *calls;
	unsigned n;
	struct sdp *sdp, *sdp2;
	struct sip_auth_client *authc;
};

/* ---- policy ---- */

enum cm_sec cm_sec_party(enum store_sec_mode mode, enum net_transport tp)
{
	if (tp != NET_TLS) {
		return CM_SEC_NOT_AUTHENTICATED;
	}
	switch (mode) {
	case STORE_SEC_ENCRYPTED:
		return CM_SEC_ENCRYPTED;
	case STORE_SEC_AUTHENTICATED:
		return CM_SEC_AUTHENTICATED;
	default:
		return CM_SEC_NOT_AUTHENTICATED;
	}
}

enum cm_sec cm_sec_call(enum cm_sec a, enum cm_sec b, bool srtp)
{
	enum cm_sec s = a < b ? a : b;

	if (s == CM_SEC_ENCRYPTED && !srtp) {
		s = CM_SEC_AUTHENTICATED;
	}
	return s;
}

const char *cm_sec_name(enum cm_sec s)
{
	switch (s) {
	case CM_SEC_NOT_AUTHENTICATED:
		return "NotAuthenticated";
	case CM_SEC_AUTHENTICATED:
		return "Authenticated";
	case CM_SEC_ENCRYPTED:
		return "Encrypted";
	default:
		return "Unknown";
	}
}

const char *cm_sec_cdr_name(enum cm_sec s)
{
	switch (s) {
	case CM_SEC_NOT_AUTHENTICATED:
		return "nonsecure";
	case CM_SEC_AUTHENTICATED:
		return "authenticated";
	case CM_SEC_ENCRYPTED:
		return "encrypted";
	default:
		return "unknown";
	}
}

struct sdp_out cm_sdp_policy(enum store_sec_mode a, enum net_transport a_tp,
                             enum store_sec_mode b, enum net_transport b_tp,
                             enum net_transport to_tp)
{
	/* RFC 4568 §8.3: SDES keys travel in the clear inside SIP, so only
	 * over TLS; seed 002: SRTP only between encrypted devices. */
	bool keep = to_tp == NET_TLS && a_tp == NET_TLS && b_tp == NET_TLS &&
	            a == STORE_SEC_ENCRYPTED && b == STORE_SEC_ENCRYPTED;

	return (struct sdp_out){
	        .strip_crypto = !keep,
	        .suites = SDP_SUITE_AES_CM_128_HMAC_SHA1_80 |
	                  SDP_SUITE_AEAD_AES_128_GCM,
	};
}

/* ---- small helpers ---- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Call-Info with the call security status (cisco-formats.md §7).
 * orientation: "to" on the caller's side, "from" on the callee's. */
static void callinfo_hdr(struct buf *b, enum cm_sec s, const char *orient)
{
	buf_printf(b,
	           "Call-Info: <urn:x-cisco-remotecc:callinfo>; security=%s; "
	           "orientation=%s\r\n",
	           cm_sec_name(s), orient);
}

static void send_in_dialog(struct cm_calls *cs, struct cm_leg *l,
                           const char *method, const char *extra,
                           struct slice body)
{
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	l->cseq++;
	err = cm_build_req(&cs->h, &b, method, l, l->cseq, extra,
	                   body.len ? SLICE_LIT("application/sdp") : SLICE_NULL,
	                   body);
	if (!err) {
		err = sip_stack_request(cs->stack, NULL, b.p, b.len, l->tp,
		                        &l->dst, NULL, NULL);
	}
	if (err) {
		log_warn("call", "%s not sent: %s", method, tl_strerror(err));
	}
	buf_free(&b);
}

/* RFC 3261 §13.2.2.4: the ACK for a 2xx, outside any transaction; with
 * the answer when the 2xx carried an offer (RFC 3261 §14.2). */
static void send_ack_sdp(struct cm_calls *cs, struct cm_leg *l, uint32_t cseq,
                         struct slice sdp)
{
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = cm_build_req(&cs->h, &b, "ACK", l, cseq, "",
	                   sdp.len ? SLICE_LIT("application/sdp") : SLICE_NULL,
	                   sdp);
	if (!err) {
		err = sip_stack_send(cs->stack, l->tp, &l->dst, b.p, b.len);
	}
	if (err) {
		log_warn("call", "ACK not sent: %s", tl_strerror(err));
	}
	buf_free_secret(&b); /* an answer holds an SRTP key */
}

static void send_ack(struct cm_calls *cs, struct cm_leg *l, uint32_t cseq)
{
	send_ack_sdp(cs, l, cseq, SLICE_NULL);
}

/* Print body (an SDP) for the leg towards `to`. srtp: what was printed
 * is SRTP on every active stream. Empty body: nothing. */
static int rewrite_sdp(struct cm_call *c, const struct cm_leg *to,
                       struct slice body, struct buf *out, bool *srtp)
{
	struct cm_calls *cs = c->cs;
	struct sdp_out o = cm_sdp_policy(c->a.line.mode, c->a.tp,
	                                 c->b.line.mode, c->b.tp, to->tp);
	int err;

	*srtp = false;
	if (!body.len) {
		return 0;
	}
	err = sdp_parse(cs->sdp, body.p, body.len);
	if (err) {
		return err;
	}
	err = sdp_print(out, cs->sdp, &o);
	if (!err && sdp_parse(cs->sdp2, out->p, out->len) == 0) {
		*srtp = sdp_is_srtp(cs->sdp2);
	}
	return err;
}

/* ---- call lifetime ---- */

static void call_reply(struct cm_call *c, uint16_t code, const char *reason)
{
	if (c->a_tsx && !sip_tsx_final(c->a_tsx)) {
		int err = sip_tsx_reply(c->a_tsx, code, reason, SLICE_NULL,
		                        SLICE_NULL, SLICE_NULL);
		if (err) {
			log_debug("call", "reply %u: %s", code,
			          tl_strerror(err));
		}
	}
}

static void write_cdr(struct cm_call *c, const char *cause)
{
	struct store_cdr cdr = {0};
	int64_t now = (int64_t)time(NULL);

	snprintf(cdr.call_id, sizeof(cdr.call_id), "%.*s",
	         (int)sizeof(cdr.call_id) - 1, c->a.call_id);
	snprintf(cdr.from_dn, sizeof(cdr.from_dn), "%.*s",
	         (int)sizeof(cdr.from_dn) - 1, c->a.line.dn);
	snprintf(cdr.to_dn, sizeof(cdr.to_dn), "%.*s",
	         (int)sizeof(cdr.to_dn) - 1,
	         c->b.line.dn[0] ? c->b.line.dn : c->dialled);
	cdr.start = c->t_start;
	cdr.answer = c->t_answer;
	cdr.end = now;
	snprintf(cdr.security, sizeof(cdr.security), "%s",
	         c->t_answer ? cm_sec_cdr_name(c->sec) : "unknown");
	snprintf(cdr.cause, sizeof(cdr.cause), "%s", cause);
	if (store_cdr_add(c->cs->st, &cdr) != 0) {
		log_warn("call", "CDR not written for %s", cdr.call_id);
	} else if (c->cs->conf.store_gen) {
		uint64_t g;
		if (store_generation(c->cs->st, &g) == 0 &&
		    g == *c->cs->conf.store_gen + 1) {
			*c->cs->conf.store_gen = g;
		}
	}
}

static void call_free(struct cm_call *c)
{
	struct cm_calls *cs = c->cs;

	for (struct cm_call **pp = &cs->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			cs->n--;
			break;
		}
	}
	if (c->timer) {
		event_free(c->timer);
	}
	sip_tsx_unref(c->a_tsx);
	sip_tsx_unref(c->b_tsx);
	sip_tsx_unref(c->re_srv);
	sip_tsx_unref(c->re_cli);
	sip_tsx_unref(c->rk_a);
	sip_tsx_unref(c->rk_b);
	buf_free_secret(&c->rk_ack);
	buf_free(&c->offer);
	buf_free(&c->ok_hdrs);
	buf_free(&c->ok_body);
	buf_free(&c->last_sdp[0]);
	buf_free(&c->last_sdp[1]);
	OPENSSL_cleanse(&c->xfer_leg.line, sizeof(c->xfer_leg.line));
	OPENSSL_cleanse(&c->a.line, sizeof(c->a.line));
	OPENSSL_cleanse(&c->b.line, sizeof(c->b.line));
	free(c);
}

static void set_sdp(struct buf *b, struct slice body)
{
	if (body.len) {
		buf_reset(b);
		buf_put_slice(b, body);
	}
}

/* RFC 3515 §2.4.5: the transferor learns how the transfer goes from
 * NOTIFYs of the implicit "refer" subscription with a message/sipfrag
 * body (RFC 3420) holding the status line. */
static void notify_refer(struct cm_calls *cs, struct cm_leg *l,
                         const char *frag, bool final)
{
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	l->cseq++;
	err = cm_build_req(&cs->h, &b, "NOTIFY", l, l->cseq,
	                   final ? "Event: refer\r\nSubscription-State: "
	                           "terminated;reason=noresource\r\n"
	                         : "Event: refer\r\nSubscription-State: "
	                           "active;expires=60\r\n",
	                   SLICE_LIT("message/sipfrag;version=2.0"),
	                   slice_from_str(frag));
	if (!err) {
		err = sip_stack_request(cs->stack, NULL, b.p, b.len, l->tp,
		                        &l->dst, NULL, NULL);
	}
	if (err) {
		log_warn("call", "NOTIFY (refer) not sent: %s",
		         tl_strerror(err));
	}
	buf_free(&b);
}

static void send_in_dialog(struct cm_calls *cs, struct cm_leg *l,
                           const char *method, const char *extra,
                           struct slice body);

static void call_end(struct cm_call *c, const char *cause)
{
	if (c->xfer) {
		/* The transfer target never answered: tell the transferor,
		 * end both remaining dialogs. */
		notify_refer(c->cs, &c->xfer_leg,
		             "SIP/2.0 480 Temporarily "
		             "Unavailable\r\n",
		             true);
		send_in_dialog(c->cs, &c->xfer_leg, "BYE", "", SLICE_NULL);
		send_in_dialog(c->cs, &c->a, "BYE", "", SLICE_NULL);
	}
	log_debug("call", "%s -> %s ended: %s (%s)", c->a.line.dn,
	          c->b.line.dn[0] ? c->b.line.dn : c->dialled, cause,
	          cm_sec_name(c->t_answer ? c->sec : CM_SEC_UNKNOWN));
	write_cdr(c, cause);
	call_free(c);
}

static struct cm_call *find_b_tsx(struct cm_calls *cs, struct sip_tsx *t)
{
	for (struct cm_call *c = cs->calls; c; c = c->next) {
		if (c->b_tsx == t) {
			return c;
		}
	}
	return NULL;
}

static struct cm_call *find_re_cli(struct cm_calls *cs, struct sip_tsx *t)
{
	for (struct cm_call *c = cs->calls; c; c = c->next) {
		if (c->re_cli == t) {
			return c;
		}
	}
	return NULL;
}

/* The call and leg (0: A, 1: B) of an in-dialog request. */
static struct cm_call *find_dialog(struct cm_calls *cs, struct sip_msg *m,
                                   int *leg)
{
	struct slice cid = sip_msg_call_id(m);
	struct slice tag = sip_msg_to(m)->tag;

	for (struct cm_call *c = cs->calls; c; c = c->next) {
		if (cm_str_is(c->a.call_id, cid) && cm_str_is(c->a.ltag, tag)) {
			*leg = 0;
			return c;
		}
		if (cm_str_is(c->b.call_id, cid) && cm_str_is(c->b.ltag, tag)) {
			*leg = 1;
			return c;
		}
	}
	return NULL;
}

/* ---- leg B ---- */

struct first_binding {
	char contact[CM_STR];
	enum net_transport tp;
	struct net_addr src;
	bool found;
};

static int take_first(const struct cm_binding *b, void *arg)
{
	struct first_binding *f = arg;

	snprintf(f->contact, sizeof(f->contact), "%s", b->contact);
	f->tp = b->tp;
	f->src = b->src;
	f->found = strlen(b->contact) < sizeof(f->contact);
	return 1;
}

static void on_b_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                      void *arg);
static void on_timer(evutil_socket_t fd, short what, void *arg);

/* Send the INVITE to B (again: after a challenge, with Authorization). */
static int send_b_invite(struct cm_call *c, const char *authz)
{
	struct cm_calls *cs = c->cs;
	struct buf b, hdrs, body;
	bool srtp;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	buf_init(&hdrs, 8192);
	buf_init(&body, SDP_MAX_SIZE * 2);
	err = rewrite_sdp(c, &c->b, buf_slice(&c->offer), &body, &srtp);
	if (err) {
		goto out;
	}
	cm_contact_hdr(&cs->h, &hdrs, c->b.tp, c->a.line.dn);
	buf_put_str(&hdrs, "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, "
	                   "OPTIONS, NOTIFY\r\n");
	if (authz) {
		buf_put_str(&hdrs, authz);
	}
	buf_put(&hdrs, "", 1);
	err = buf_err(&hdrs);
	if (err) {
		goto out;
	}
	c->b.cseq++;
	err = cm_build_req(&cs->h, &b, "INVITE", &c->b, c->b.cseq,
	                   (const char *)hdrs.p,
	                   body.len ? SLICE_LIT("application/sdp") : SLICE_NULL,
	                   buf_slice(&body));
	if (err) {
		goto out;
	}
	sip_tsx_unref(c->b_tsx);
	c->b_tsx = NULL;
	err = sip_stack_request(cs->stack, &c->b_tsx, b.p, b.len, c->b.tp,
	                        &c->b.dst, on_b_resp, cs);
out:
	buf_free(&b);
	buf_free_secret(&hdrs);
	buf_free(&body);
	return err;
}

/* Route the call to directory number dn: forward all, then the first
 * live binding. Returns 0 (INVITE sent) or the status for A. */
static uint16_t start_b(struct cm_call *c, const char *dn)
{
	struct cm_calls *cs = c->cs;
	char cur[64];
	struct first_binding fb = {0};
	struct timeval tv;

	snprintf(cur, sizeof(cur), "%s", dn);
	for (;;) {
		OPENSSL_cleanse(&c->b.line, sizeof(c->b.line));
		if (cm_reg_line(cs->reg, slice_from_str(cur), &c->b.line) !=
		    0) {
			return 404;
		}
		if (c->b.line.fwd_all[0] && c->hops < CM_MAX_HOPS) {
			c->hops++;
			snprintf(cur, sizeof(cur), "%s", c->b.line.fwd_all);
			continue;
		}
		fb.found = false;
		if (cm_reg_lookup(cs->reg, cur, mono_ms(), take_first, &fb) <
		            0 ||
		    !fb.found) {
			/* Not registered: forward on no answer if set. */
			if (c->b.line.fwd_noans[0] && c->hops < CM_MAX_HOPS) {
				c->hops++;
				snprintf(cur, sizeof(cur), "%s",
				         c->b.line.fwd_noans);
				continue;
			}
			return 480;
		}
		break;
	}
	if (strcmp(c->b.line.dn, c->a.line.dn) == 0) {
		return 482; /* RFC 3261 §21.4.20: a call to oneself */
	}
	if (cm_rand_token(c->b.call_id, sizeof(c->b.call_id)) != 0 ||
	    cm_rand_token(c->b.ltag, sizeof(c->b.ltag)) != 0) {
		return 500;
	}
	snprintf(c->b.local, sizeof(c->b.local), "<sip:%s@%s>;tag=%s",
	         c->a.line.dn, cs->h.host, c->b.ltag);
	snprintf(c->b.remote, sizeof(c->b.remote), "<sip:%s@%s>", c->b.line.dn,
	         cs->h.host);
	snprintf(c->b.target, sizeof(c->b.target), "%s", fb.contact);
	c->b.tp = fb.tp;
	c->b.dst = fb.src;
	c->b.cseq = 0;
	c->auth_tried = false;
	c->no_answer = false;
	{
		char where[NET_ADDR_STRLEN];
		if (net_addr_fmt(&c->b.dst, where, sizeof(where)) != 0) {
			snprintf(where, sizeof(where), "?");
		}
		log_debug("call", "%s -> %s: INVITE %s via %s %s", c->a.line.dn,
		          c->b.line.dn, c->b.target,
		          net_transport_name(c->b.tp), where);
	}
	if (send_b_invite(c, NULL) != 0) {
		return 500;
	}
	tv.tv_sec = cs->conf.no_answer_ms / 1000;
	tv.tv_usec = (cs->conf.no_answer_ms % 1000) * 1000;
	if (event_add(c->timer, &tv) != 0) {
		return 500;
	}
	return 0;
}

/* Re-route after a busy or no answer; false when there is nowhere to
 * go. */
static bool forward_to(struct cm_call *c, const char *dn)
{
	uint16_t code;

	if (!dn[0] || c->hops >= CM_MAX_HOPS) {
		return false;
	}
	c->hops++;
	log_info("call", "%s: forwarded to %s", c->dialled, dn);
	code = start_b(c, dn);
	if (code) {
		call_reply(c, code, NULL);
		call_end(c, "forward failed");
	}
	return true;
}

/* seed 001: the callee's device challenges our INVITE: answer with its
 * line's credentials (the HA1 the registrar holds). */
static bool answer_challenge(struct cm_call *c, struct sip_msg *resp,
                             uint16_t code)
{
	struct slice chals[8];
	size_t n = 0;
	enum sip_hdr_id want = code == 401 ? SIP_HDR_WWW_AUTHENTICATE
	                                   : SIP_HDR_PROXY_AUTHENTICATE;
	struct sip_auth_cred cred = {
	        .user = slice_from_str(c->b.line.user),
	        .ha1_md5 = c->b.line.has_md5 ? c->b.line.ha1_md5 : NULL,
	        .ha1_sha256 =
	                c->b.line.has_sha256 ? c->b.line.ha1_sha256 : NULL,
	};
	struct buf v;
	bool ok = false;

	if (c->auth_tried || !resp) {
		return false;
	}
	c->auth_tried = true;
	for (size_t i = 0; i < sip_msg_hdr_count(resp) && n < 8; i++) {
		struct sip_hdr h;
		if (sip_msg_hdr(resp, i, &h) == 0 && h.id == want) {
			chals[n++] = h.value;
		}
	}
	buf_init(&v, 4096);
	buf_put_str(&v,
	            code == 401 ? "Authorization: " : "Proxy-Authorization: ");
	if (n && sip_auth_client_answer(c->cs->authc, chals, n, &cred,
	                                SLICE_LIT("INVITE"),
	                                slice_from_str(c->b.target), &v) == 0) {
		buf_put_str(&v, "\r\n");
		buf_put(&v, "", 1);
		ok = buf_err(&v) == 0 &&
		     send_b_invite(c, (const char *)v.p) == 0;
	}
	buf_free_secret(&v);
	if (!ok) {
		log_warn("call",
		         "%s challenged our INVITE and we cannot answer",
		         c->b.line.dn);
	}
	return ok;
}

static void relay_provisional(struct cm_call *c, struct sip_msg *resp,
                              uint16_t code)
{
	struct buf hdrs, body;
	bool srtp;
	const struct sip_addr *to = sip_msg_to(resp);

	if (code == 100 || c->cancelled || !c->a_tsx) {
		return;
	}
	if (to->tag.p) {
		if (cm_copy(c->b.remote, sizeof(c->b.remote), to->raw) != 0) {
			log_warn("call",
			         "header value too long, kept the old one");
		}
	}
	buf_init(&hdrs, 4096);
	buf_init(&body, SDP_MAX_SIZE * 2);
	cm_contact_hdr(&c->cs->h, &hdrs, c->a.tp, c->b.line.dn);
	/* RFC 3960: early media is the answer in a 18x. */
	if (rewrite_sdp(c, &c->a, sip_msg_body(resp), &body, &srtp) != 0) {
		buf_reset(&body);
	}
	if (buf_err(&hdrs) == 0 && buf_err(&body) == 0) {
		int err = sip_tsx_reply(c->a_tsx, code, NULL, buf_slice(&hdrs),
		                        body.len ? SLICE_LIT("application/sdp")
		                                 : SLICE_NULL,
		                        buf_slice(&body));
		if (err) {
			log_debug("call", "%u not relayed: %s", code,
			          tl_strerror(err));
		}
	}
	buf_free(&hdrs);
	buf_free(&body);
}

static void send_ok_to_a(struct cm_call *c)
{
	int err = sip_tsx_reply(c->a_tsx, 200, NULL, buf_slice(&c->ok_hdrs),
	                        c->ok_body.len ? SLICE_LIT("application/sdp")
	                                       : SLICE_NULL,
	                        buf_slice(&c->ok_body));

	c->ok_sent++;
	if (err) {
		log_debug("call", "200 not sent: %s", tl_strerror(err));
	}
}

static void on_b_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                      void *arg);
static void rk_start(struct cm_call *c);
static void rk_a_resp(struct cm_call *c, struct sip_msg *resp, uint16_t code);
static void rk_b_resp(struct cm_call *c, struct sip_msg *resp, uint16_t code);

/* The transfer target answered (its offer was the transferee's last
 * SDP, so that it could ring): the transferee and the target now
 * negotiate their media afresh (rk_start, RFC 3725 §5), then the
 * transferor is told and its dialog ended. */
static void xfer_connected(struct cm_call *c)
{
	struct cm_calls *cs = c->cs;

	rk_start(c);
	notify_refer(cs, &c->xfer_leg, "SIP/2.0 200 OK\r\n", true);
	send_in_dialog(cs, &c->xfer_leg, "BYE", "", SLICE_NULL);
	log_info("call", "%s transferred to %s", c->a.line.dn, c->b.line.dn);
	c->xfer = false;
	OPENSSL_cleanse(&c->xfer_leg.line, sizeof(c->xfer_leg.line));
}

static void on_answer(struct cm_call *c, struct sip_msg *resp)
{
	struct cm_calls *cs = c->cs;
	const struct sip_addr *to = sip_msg_to(resp);
	struct sip_iter it;
	struct sip_contact ct;
	struct buf ci;
	bool srtp_b_in;

	if (c->state == CM_CONNECTED) {
		/* RFC 6026 §7.2: a 2xx retransmission: ACK it again. */
		send_ack(cs, &c->b, c->b.cseq);
		return;
	}
	if (cm_copy(c->b.remote, sizeof(c->b.remote), to->raw) != 0) {
		log_warn("call", "header value too long, kept the old one");
	}
	sip_msg_iter(&it, resp, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) == 1 && !ct.star) {
		if (cm_copy(c->b.target, sizeof(c->b.target),
		            ct.addr.uri_raw) != 0) {
			log_warn("call",
			         "header value too long, kept the old one");
		}
	}
	event_del(c->timer);
	send_ack(cs, &c->b, c->b.cseq);
	if (c->cancelled) {
		/* RFC 3261 §9.1: the 2xx crossed our CANCEL: end leg B. */
		send_in_dialog(cs, &c->b, "BYE", "", SLICE_NULL);
		call_end(c, "cancelled");
		return;
	}
	c->state = CM_CONNECTED;
	c->t_answer = (int64_t)time(NULL);
	set_sdp(&c->last_sdp[1], sip_msg_body(resp));
	/* Leg B's media is SRTP when its answer (as received) is. */
	srtp_b_in = sdp_parse(cs->sdp, sip_msg_body(resp).p,
	                      sip_msg_body(resp).len) == 0 &&
	            sdp_is_srtp(cs->sdp);
	buf_reset(&c->ok_body);
	if (rewrite_sdp(c, &c->a, sip_msg_body(resp), &c->ok_body,
	                &c->srtp_a) != 0) {
		buf_reset(&c->ok_body);
	}
	c->srtp_b = srtp_b_in;
	c->sec = cm_sec_call(cm_sec_party(c->a.line.mode, c->a.tp),
	                     cm_sec_party(c->b.line.mode, c->b.tp),
	                     c->srtp_a && c->srtp_b);
	buf_reset(&c->ok_hdrs);
	cm_contact_hdr(&cs->h, &c->ok_hdrs, c->a.tp, c->b.line.dn);
	callinfo_hdr(&c->ok_hdrs, c->sec, "to");
	if (c->xfer) {
		xfer_connected(c);
	} else {
		send_ok_to_a(c);
	}
	/* cisco-formats.md §7: the callee learns the status in an UPDATE,
	 * as an ACK cannot carry Call-Info. */
	buf_init(&ci, 512);
	callinfo_hdr(&ci, c->sec, "from");
	buf_put(&ci, "", 1);
	if (buf_err(&ci) == 0) {
		send_in_dialog(cs, &c->b, "UPDATE", (const char *)ci.p,
		               SLICE_NULL);
	}
	buf_free(&ci);
	if (c->a.tp == NET_UDP && !c->a_acked) {
		/* RFC 3261 §13.3.1.4: retransmit the 2xx until the ACK. */
		struct timeval tv = {0, 500 * 1000};
		if (event_add(c->timer, &tv) != 0) {
			log_warn("call", "no 2xx retransmission timer");
		}
	}
}

static void on_b_final_error(struct cm_call *c, struct sip_msg *resp,
                             uint16_t code)
{
	if (c->cancelled) {
		call_end(c, "cancelled");
		return;
	}
	if ((code == 401 || code == 407) && answer_challenge(c, resp, code)) {
		return;
	}
	if ((code == 486 || code == 600) && forward_to(c, c->b.line.fwd_busy)) {
		return;
	}
	if ((c->no_answer || code == 408 || code == 480) &&
	    forward_to(c, c->b.line.fwd_noans)) {
		return;
	}
	if (c->no_answer) {
		call_reply(c, 480, "No Answer");
		call_end(c, "no answer");
		return;
	}
	switch (code) {
	case 401:
	case 407:
		/* seed 001: without credentials the device's challenge is
		 * not met: the call fails. */
		call_reply(c, 403, "Callee authentication failed");
		call_end(c, "callee challenge failed");
		return;
	case 486:
	case 600:
		call_reply(c, code, NULL);
		call_end(c, "busy");
		return;
	default:
		call_reply(c, code >= 300 && code < 400 ? 480 : code, NULL);
		call_end(c, "rejected");
		return;
	}
}

static void on_reinvite_resp(struct cm_call *c, struct sip_msg *resp,
                             uint16_t code);

static void on_b_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                      void *arg)
{
	struct cm_calls *cs = arg;
	struct cm_call *c = find_b_tsx(cs, t);

	if (!c) {
		for (c = cs->calls; c; c = c->next) {
			if (c->rk_a == t) {
				rk_a_resp(c, resp, code);
				return;
			}
			if (c->rk_b == t) {
				rk_b_resp(c, resp, code);
				return;
			}
		}
		c = find_re_cli(cs, t);
		if (c) {
			on_reinvite_resp(c, resp, code);
			return;
		}
		return;
	}
	if (code < 200) {
		if (resp) {
			relay_provisional(c, resp, code);
		}
	} else if (code < 300) {
		if (resp) {
			on_answer(c, resp);
		}
	} else if (c->state == CM_CALLING) {
		on_b_final_error(c, resp, code);
	}
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct cm_call *c = arg;

	(void)fd;
	(void)what;
	if (c->state == CM_CONNECTED) {
		/* 2xx retransmission: T1 doubling to T2, until 64*T1. */
		if (!c->a_acked && c->ok_sent >= 11) {
			/* RFC 3261 §13.3.1.4: no ACK after 64*T1: the
			 * session is ended with a BYE. */
			send_in_dialog(c->cs, &c->a, "BYE", "", SLICE_NULL);
			send_in_dialog(c->cs, &c->b, "BYE", "", SLICE_NULL);
			call_end(c, "no ACK from the caller");
			return;
		}
		if (!c->a_acked) {
			unsigned ms = 500u << (c->ok_sent < 4 ? c->ok_sent : 4);
			struct timeval tv = {0, 0};
			send_ok_to_a(c);
			ms = ms > 4000 ? 4000 : ms;
			tv.tv_sec = ms / 1000;
			tv.tv_usec = (ms % 1000) * 1000;
			if (event_add(c->timer, &tv) != 0) {
				log_warn("call", "timer");
			}
		}
		return;
	}
	c->no_answer = true;
	if (sip_tsx_cancel(c->b_tsx) != 0) {
		call_reply(c, 480, "No Answer");
		call_end(c, "no answer");
	}
}

/* ---- requests from the phones ---- */

static void reply(const struct sip_stack_req *r, uint16_t code,
                  const char *reason)
{
	int err = sip_tsx_reply(r->tsx, code, reason, SLICE_NULL, SLICE_NULL,
	                        SLICE_NULL);

	if (err) {
		log_debug("call", "reply %u: %s", code, tl_strerror(err));
	}
}

static void new_call(struct cm_calls *cs, const struct sip_stack_req *r)
{
	struct sip_msg *m = r->msg;
	const struct sip_addr *from = sip_msg_from(m);
	const struct sip_uri *ruri = sip_msg_ruri(m);
	struct cm_req_info info = {
	        .tp = r->tp,
	        .src = *r->src,
	        .peer_cn = r->peer_identity,
	        .now_ms = mono_ms(),
	};
	struct sip_iter it;
	struct sip_contact ct;
	struct slice body = sip_msg_body(m);
	struct cm_call *c;
	uint16_t code;
	int err;

	if (cs->n >= cs->conf.max_calls) {
		reply(r, 503, "Too many calls");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		reply(r, 503, NULL);
		return;
	}
	c->cs = cs;
	buf_init(&c->offer, SDP_MAX_SIZE);
	buf_init(&c->ok_hdrs, 4096);
	buf_init(&c->ok_body, SDP_MAX_SIZE * 2);
	buf_init(&c->last_sdp[0], SDP_MAX_SIZE);
	buf_init(&c->last_sdp[1], SDP_MAX_SIZE);
	buf_init(&c->rk_ack, SDP_MAX_SIZE * 2);
	c->t_start = (int64_t)time(NULL);
	c->a_tsx = sip_tsx_ref(r->tsx);
	c->next = cs->calls;
	cs->calls = c;
	cs->n++;
	if (cm_copy(c->dialled, sizeof(c->dialled), ruri->user) != 0) {
		log_warn("call", "header value too long, kept the old one");
	}
	c->timer = event_new(cs->base, -1, 0, on_timer, c);
	if (!c->timer) {
		reply(r, 503, NULL);
		goto fail;
	}
	/* The caller is who its binding and certificate say it is. */
	err = cm_reg_identify(cs->reg, from->uri.user, &info, &c->a.line);
	if (err) {
		reply(r, 403,
		      err == -TL_EPOLICY ? "Transport not allowed by security "
		                           "profile"
		                         : "Caller not registered here");
		goto fail;
	}
	/* We do not anchor media and need the offer in the INVITE: the ACK
	 * to leg B is sent before A's ACK could carry an answer. */
	if (!body.len) {
		reply(r, 488, "SDP offer required");
		goto fail;
	}
	if (sdp_parse(cs->sdp, body.p, body.len) != 0) {
		reply(r, 400, "Bad SDP");
		goto fail;
	}
	buf_put_slice(&c->offer, body);
	set_sdp(&c->last_sdp[0], body);
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) != 1 || ct.star ||
	    cm_copy(c->a.target, sizeof(c->a.target), ct.addr.uri_raw) ||
	    cm_copy(c->a.call_id, sizeof(c->a.call_id), sip_msg_call_id(m)) ||
	    cm_copy(c->a.remote, sizeof(c->a.remote), from->raw) ||
	    buf_err(&c->offer)) {
		reply(r, 400, "Bad Contact, Call-ID or From");
		goto fail;
	}
	snprintf(c->a.ltag, sizeof(c->a.ltag), "%.*s",
	         (int)sip_tsx_to_tag(r->tsx).len,
	         (const char *)sip_tsx_to_tag(r->tsx).p);
	snprintf(c->a.local, sizeof(c->a.local), "%.*s;tag=%s",
	         (int)sip_msg_to(m)->raw.len,
	         (const char *)sip_msg_to(m)->raw.p, c->a.ltag);
	c->a.tp = r->tp;
	c->a.dst = *r->src;
	c->a.cseq = 0;
	code = start_b(c, c->dialled);
	if (code) {
		reply(r, code, NULL);
		call_end(c, code == 404 ? "unknown number" : "unavailable");
		return;
	}
	return;
fail:
	call_free(c);
}

/* Hold and resume (RFC 3264 §8.4): relay a re-INVITE to the other leg
 * with the SDP printed for it. While on hold the call's status is
 * reported as NotAuthenticated (seed 002: unknown until media is up
 * again), and recomputed on resume. */
static void reinvite(struct cm_call *c, int leg, const struct sip_stack_req *r)
{
	struct cm_calls *cs = c->cs;
	struct cm_leg *to = leg ? &c->a : &c->b;
	struct slice body = sip_msg_body(r->msg);
	struct buf b, hdrs, sdp;
	bool srtp, hold = false;
	int err;

	if (c->state != CM_CONNECTED || c->re_srv || c->rk != RK_NONE) {
		reply(r, 491, NULL); /* RFC 3261 §14.2 */
		return;
	}
	if (body.len) {
		if (sdp_parse(cs->sdp, body.p, body.len) != 0) {
			reply(r, 400, "Bad SDP");
			return;
		}
		hold = sdp_on_hold(cs->sdp);
		set_sdp(&c->last_sdp[leg], body);
	}
	buf_init(&b, SIP_MSG_MAX_SIZE);
	buf_init(&hdrs, 4096);
	buf_init(&sdp, SDP_MAX_SIZE * 2);
	err = rewrite_sdp(c, to, body, &sdp, &srtp);
	cm_contact_hdr(&cs->h, &hdrs, to->tp,
	               leg ? c->b.line.dn : c->a.line.dn);
	callinfo_hdr(&hdrs, hold ? CM_SEC_NOT_AUTHENTICATED : c->sec,
	             leg ? "to" : "from");
	buf_put(&hdrs, "", 1);
	if (!err) {
		err = buf_err(&hdrs);
	}
	if (!err) {
		to->cseq++;
		err = cm_build_req(&cs->h, &b, "INVITE", to, to->cseq,
		                   (const char *)hdrs.p,
		                   sdp.len ? SLICE_LIT("application/sdp")
		                           : SLICE_NULL,
		                   buf_slice(&sdp));
	}
	if (!err) {
		sip_tsx_unref(c->re_cli);
		c->re_cli = NULL;
		err = sip_stack_request(cs->stack, &c->re_cli, b.p, b.len,
		                        to->tp, &to->dst, on_b_resp, cs);
	}
	if (err) {
		reply(r, 500, NULL);
	} else {
		c->re_srv = sip_tsx_ref(r->tsx);
		c->re_from = leg;
		log_info("call", "%s: %s by %s", c->a.line.dn,
		         hold ? "hold" : "re-INVITE",
		         leg ? c->b.line.dn : c->a.line.dn);
	}
	buf_free(&b);
	buf_free(&hdrs);
	buf_free(&sdp);
}

static void on_reinvite_resp(struct cm_call *c, struct sip_msg *resp,
                             uint16_t code)
{
	struct cm_leg *from = c->re_from ? &c->b : &c->a;
	struct cm_leg *to = c->re_from ? &c->a : &c->b;
	struct buf hdrs, sdp;
	bool srtp = false, hold = false;

	if (code < 200 || !c->re_srv) {
		if (code >= 200 && code < 300 && resp) {
			send_ack(c->cs, to, to->cseq); /* retransmission */
		}
		return;
	}
	buf_init(&hdrs, 4096);
	buf_init(&sdp, SDP_MAX_SIZE * 2);
	if (code < 300 && resp) {
		struct slice body = sip_msg_body(resp);
		send_ack(c->cs, to, to->cseq);
		if (body.len && sdp_parse(c->cs->sdp, body.p, body.len) == 0) {
			hold = sdp_on_hold(c->cs->sdp);
			set_sdp(&c->last_sdp[c->re_from ? 0 : 1], body);
		}
		if (rewrite_sdp(c, from, body, &sdp, &srtp) != 0) {
			buf_reset(&sdp);
		}
		if (!hold) {
			c->sec = cm_sec_call(
			        cm_sec_party(c->a.line.mode, c->a.tp),
			        cm_sec_party(c->b.line.mode, c->b.tp),
			        srtp && c->srtp_b);
		}
		cm_contact_hdr(&c->cs->h, &hdrs, from->tp,
		               c->re_from ? c->b.line.dn : c->a.line.dn);
		callinfo_hdr(&hdrs, hold ? CM_SEC_NOT_AUTHENTICATED : c->sec,
		             c->re_from ? "from" : "to");
	}
	if (buf_err(&hdrs) == 0 && buf_err(&sdp) == 0) {
		int err = sip_tsx_reply(c->re_srv, code, NULL, buf_slice(&hdrs),
		                        sdp.len ? SLICE_LIT("application/sdp")
		                                : SLICE_NULL,
		                        buf_slice(&sdp));
		if (err) {
			log_debug("call", "re-INVITE answer: %s",
			          tl_strerror(err));
		}
	}
	buf_free(&hdrs);
	buf_free(&sdp);
	sip_tsx_unref(c->re_srv);
	c->re_srv = NULL;
}

static void on_bye(struct cm_call *c, int leg, const struct sip_stack_req *r)
{
	reply(r, 200, NULL);
	if (c->state == CM_CALLING) {
		/* The transferee hung up while the transfer target rings:
		 * cancel that leg; its 487 ends the call (call_end tells the
		 * transferor). */
		c->cancelled = true;
		event_del(c->timer);
		if (sip_tsx_cancel(c->b_tsx) != 0) {
			call_end(c, "cancelled");
		}
		return;
	}
	send_in_dialog(c->cs, leg ? &c->a : &c->b, "BYE", "", SLICE_NULL);
	call_end(c,
	         leg ? "normal (callee hung up)" : "normal (caller hung up)");
}

/* RFC 3891 §6.1: Replaces = callid *(";" (to-tag | from-tag | ...)),
 * as a URI header of Refer-To (escaped). */
struct replaces {
	char call_id[160];
	char to_tag[64];
	char from_tag[64];
};

static int parse_replaces(struct slice headers, struct replaces *out)
{
	struct slice st = headers, name, val;
	uint8_t raw[512];
	size_t n;
	int rc;

	memset(out, 0, sizeof(*out));
	while ((rc = sip_uri_header_next(&st, &name, &val)) == 1) {
		if (!slice_eq_str_nocase(name, "Replaces")) {
			continue;
		}
		if (sip_uri_unescape(val, raw, sizeof(raw), &n) != 0 ||
		    memchr(raw, 0, n)) {
			return -TL_EPARSE;
		}
		struct slice v = slice_make(raw, n), params = SLICE_NULL;
		long semi = slice_find(v, ';');
		if (semi >= 0) {
			params = slice_make(raw + semi + 1,
			                    n - (size_t)semi - 1);
			v.len = (size_t)semi;
		}
		struct slice t = SLICE_NULL, f = SLICE_NULL;
		if (cm_copy(out->call_id, sizeof(out->call_id),
		            slice_trim(v)) ||
		    !out->call_id[0] ||
		    (params.len &&
		     sip_param_get(params, "to-tag", &t) == -TL_EPARSE)) {
			return -TL_EPARSE;
		}
		if (params.len && sip_param_get(params, "from-tag", &f) == 0 &&
		    cm_copy(out->from_tag, sizeof(out->from_tag), f) != 0) {
			return -TL_EPARSE;
		}
		if (t.p && cm_copy(out->to_tag, sizeof(out->to_tag), t) != 0) {
			return -TL_EPARSE;
		}
		return out->from_tag[0] ? 0 : -TL_EPARSE;
	}
	return rc < 0 ? -TL_EPARSE : -TL_ENOTFOUND;
}

/* The transferor's dialog named by Replaces: call-id and the
 * transferor's own tag (from-tag, in our copy of its From/To), and our tag
 * (to-tag) when given. Returns the call and the leg index. */
static struct cm_call *find_replaced(struct cm_calls *cs,
                                     const struct replaces *rp, int *leg)
{
	char want[80];

	snprintf(want, sizeof(want), "tag=%s", rp->from_tag);
	for (struct cm_call *c = cs->calls; c; c = c->next) {
		for (int i = 0; i < 2; i++) {
			struct cm_leg *l = i ? &c->b : &c->a;
			if (strcmp(l->call_id, rp->call_id) != 0 ||
			    (rp->to_tag[0] && strcmp(l->ltag, rp->to_tag)) ||
			    !strstr(l->remote, want)) {
				continue;
			}
			*leg = i;
			return c;
		}
	}
	return NULL;
}

/* ---- a new pair's media after a transfer ---- */

static void rk_update_status(struct cm_call *c, bool srtp_a)
{
	struct buf ci;
	enum cm_sec sec = cm_sec_call(cm_sec_party(c->a.line.mode, c->a.tp),
	                              cm_sec_party(c->b.line.mode, c->b.tp),
	                              srtp_a && c->srtp_b);

	c->srtp_a = srtp_a;
	if (sec == c->sec) {
		return;
	}
	/* The re-INVITEs said c->sec; what was negotiated says otherwise:
	 * cisco-formats.md §7, a status change goes in an UPDATE. */
	c->sec = sec;
	for (int i = 0; i < 2; i++) {
		buf_init(&ci, 512);
		callinfo_hdr(&ci, sec, i ? "from" : "to");
		buf_put(&ci, "", 1);
		if (buf_err(&ci) == 0) {
			send_in_dialog(c->cs, i ? &c->b : &c->a, "UPDATE",
			               (const char *)ci.p, SLICE_NULL);
		}
		buf_free(&ci);
	}
}

/* Last step: the answer (B's, printed for A) in the ACK to A's 2xx. */
static void rk_finish(struct cm_call *c, struct slice answer)
{
	bool srtp_a = false;

	buf_reset(&c->rk_ack);
	if (rewrite_sdp(c, &c->a, answer, &c->rk_ack, &srtp_a) != 0 ||
	    buf_err(&c->rk_ack)) {
		buf_reset(&c->rk_ack);
		srtp_a = false;
	}
	send_ack_sdp(c->cs, &c->a, c->rk_cseq_a, buf_slice(&c->rk_ack));
	c->rk = RK_NONE;
	rk_update_status(c, srtp_a);
}

/* Send leg `to` a re-INVITE with body (printed for it; empty: none),
 * Call-Info with the pair's status. */
static int rk_invite(struct cm_call *c, struct cm_leg *to, struct slice body,
                     struct sip_tsx **tsx, uint32_t *cseq)
{
	struct cm_calls *cs = c->cs;
	struct buf b, hdrs, sdp;
	bool srtp;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	buf_init(&hdrs, 4096);
	buf_init(&sdp, SDP_MAX_SIZE * 2);
	err = rewrite_sdp(c, to, body, &sdp, &srtp);
	cm_contact_hdr(&cs->h, &hdrs, to->tp,
	               to == &c->a ? c->b.line.dn : c->a.line.dn);
	callinfo_hdr(&hdrs, c->sec, to == &c->a ? "to" : "from");
	buf_put(&hdrs, "", 1);
	if (!err) {
		err = buf_err(&hdrs) ? buf_err(&hdrs) : buf_err(&sdp);
	}
	if (!err) {
		to->cseq++;
		*cseq = to->cseq;
		err = cm_build_req(&cs->h, &b, "INVITE", to, to->cseq,
		                   (const char *)hdrs.p,
		                   sdp.len ? SLICE_LIT("application/sdp")
		                           : SLICE_NULL,
		                   buf_slice(&sdp));
	}
	if (!err) {
		sip_tsx_unref(*tsx);
		*tsx = NULL;
		err = sip_stack_request(cs->stack, tsx, b.p, b.len, to->tp,
		                        &to->dst, on_b_resp, cs);
	}
	buf_free_secret(&b);
	buf_free(&hdrs);
	buf_free_secret(&sdp);
	return err;
}

/* Start: A (the transferee, or Y of an attended transfer) is asked for
 * a new offer. */
static void rk_start(struct cm_call *c)
{
	int err = rk_invite(c, &c->a, SLICE_NULL, &c->rk_a, &c->rk_cseq_a);

	if (err) {
		log_warn("call", "transfer: re-INVITE not sent: %s",
		         tl_strerror(err));
		return;
	}
	buf_reset(&c->rk_ack);
	c->rk = RK_OFFER;
}

static void rk_a_resp(struct cm_call *c, struct sip_msg *resp, uint16_t code)
{
	struct slice body = resp ? sip_msg_body(resp) : SLICE_NULL;

	if (code < 200) {
		return;
	}
	if (c->rk != RK_OFFER) {
		/* A 2xx again: once B answered, the same ACK again; before,
		 * the ACK waits for B's answer. */
		if (c->rk == RK_NONE && code < 300 && resp) {
			send_ack_sdp(c->cs, &c->a, c->rk_cseq_a,
			             buf_slice(&c->rk_ack));
		}
		return;
	}
	if (code >= 300 || !resp) {
		/* A cannot make a new offer: point it at B with B's last SDP
		 * (the media moves; its keys stay as they were). */
		log_warn("call",
		         "transfer: %s answered %u to an offerless re-INVITE",
		         c->a.line.dn, code);
		uint32_t cseq;
		c->rk = RK_NONE;
		if (rk_invite(c, &c->a, buf_slice(&c->last_sdp[1]), &c->re_cli,
		              &cseq) != 0) {
			log_warn("call", "transfer: re-INVITE not sent");
		}
		c->re_from = 1; /* its 2xx is ACKed on leg A */
		return;
	}
	if (!body.len || sdp_parse(c->cs->sdp, body.p, body.len) != 0) {
		/* RFC 3261 §14.2 wants an offer here; answer with what B
		 * said last so that A at least sends to B. */
		log_warn("call", "transfer: %s sent no usable offer",
		         c->a.line.dn);
		rk_finish(c, buf_slice(&c->last_sdp[1]));
		return;
	}
	set_sdp(&c->last_sdp[0], body);
	if (rk_invite(c, &c->b, body, &c->rk_b, &c->rk_cseq_b) != 0) {
		log_warn("call", "transfer: re-INVITE to %s not sent",
		         c->b.line.dn);
		rk_finish(c, buf_slice(&c->last_sdp[1]));
		return;
	}
	c->rk = RK_ANSWER;
}

static void rk_b_resp(struct cm_call *c, struct sip_msg *resp, uint16_t code)
{
	struct slice body = resp ? sip_msg_body(resp) : SLICE_NULL;

	if (code < 200) {
		return;
	}
	if (code < 300 && resp) {
		send_ack(c->cs, &c->b, c->rk_cseq_b);
	}
	if (c->rk != RK_ANSWER) {
		return; /* a 2xx retransmission, ACKed again */
	}
	if (code < 300 && resp && body.len &&
	    sdp_parse(c->cs->sdp, body.p, body.len) == 0) {
		set_sdp(&c->last_sdp[1], body);
		c->srtp_b = sdp_is_srtp(c->cs->sdp);
	} else {
		log_warn("call", "transfer: %s did not answer the offer (%u)",
		         c->b.line.dn, code);
	}
	rk_finish(c, buf_slice(&c->last_sdp[1]));
}

/* Attended transfer (RFC 5589 §7, RFC 3891): X, in call c (leg xl) and in
 * call c2 (leg xl2), refers the other party of c (Y) to the other party
 * of c2 (Z), naming its dialog of c2 in Replaces. Y and Z are joined in
 * c; X's two dialogs end. */
static void attended(struct cm_call *c, int xl, const struct sip_stack_req *r,
                     const struct replaces *rp)
{
	struct cm_calls *cs = c->cs;
	struct cm_call *c2;
	int xl2 = 0;
	struct cm_leg x1, x2;

	c2 = find_replaced(cs, rp, &xl2);
	if (!c2 || c2 == c || c2->state != CM_CONNECTED || c2->re_srv ||
	    c2->xfer || c2->rk != RK_NONE) {
		reply(r, c2 ? 491 : 481, NULL);
		return;
	}
	reply(r, 202, NULL);
	x1 = xl ? c->b : c->a;
	x2 = xl2 ? c2->b : c2->a;
	notify_refer(cs, &x1, "SIP/2.0 100 Trying\r\n", false);
	write_cdr(c, "transferred");
	write_cdr(c2, "transferred");
	/* c becomes Y (leg A) with Z (leg B). */
	if (xl == 0) {
		struct buf t = c->last_sdp[0];
		c->a = c->b;
		c->last_sdp[0] = c->last_sdp[1];
		c->last_sdp[1] = t;
	}
	c->b = xl2 ? c2->a : c2->b;
	buf_reset(&c->last_sdp[1]);
	buf_put_slice(&c->last_sdp[1], buf_slice(&c2->last_sdp[xl2 ? 0 : 1]));
	sip_tsx_unref(c->b_tsx);
	c->b_tsx = NULL;
	c->t_start = (int64_t)time(NULL);
	c->t_answer = c->t_start;
	c->sec =
	        cm_sec_call(cm_sec_party(c->a.line.mode, c->a.tp),
	                    cm_sec_party(c->b.line.mode, c->b.tp),
	                    c->srtp_a && c->srtp_b && c2->srtp_a && c2->srtp_b);
	/* Y and Z negotiate afresh: Y's new offer to Z, Z's answer in the
	 * ACK to Y (RFC 3725 §5). Either one's last SDP holds keys that X
	 * knows. */
	rk_start(c);
	notify_refer(cs, &x1, "SIP/2.0 200 OK\r\n", true);
	send_in_dialog(cs, &x1, "BYE", "", SLICE_NULL);
	send_in_dialog(cs, &x2, "BYE", "", SLICE_NULL);
	log_info("call", "%s: attended transfer of %s to %s", x1.line.dn,
	         c->a.line.dn, c->b.line.dn);
	OPENSSL_cleanse(&x1, sizeof(x1));
	OPENSSL_cleanse(&x2, sizeof(x2));
	call_free(c2); /* its dialogs live on in c, or were ended */
}

/* Blind transfer (RFC 3515, RFC 5589 §6): the party on leg `leg` refers
 * the other one to a directory number. */
static void on_refer(struct cm_call *c, int leg, const struct sip_stack_req *r)
{
	struct cm_calls *cs = c->cs;
	struct sip_addr to;
	struct cm_line_info li;
	char target[64];
	uint16_t code;
	struct buf ci;

	if (c->state != CM_CONNECTED || c->re_srv || c->xfer ||
	    c->rk != RK_NONE) {
		reply(r, 491, NULL);
		return;
	}
	if (sip_msg_addr(r->msg, SIP_HDR_REFER_TO, &to) != 0 ||
	    (to.uri.scheme != SIP_URI_SIP && to.uri.scheme != SIP_URI_SIPS) ||
	    cm_copy(target, sizeof(target), to.uri.user) != 0 || !target[0]) {
		reply(r, 400, "Bad Refer-To");
		return;
	}
	/* RFC 3891: Refer-To with Replaces is an attended transfer. */
	if (to.uri.headers.len) {
		struct replaces rp;
		int err = parse_replaces(to.uri.headers, &rp);
		if (err == 0) {
			attended(c, leg, r, &rp);
			return;
		}
		if (err != -TL_ENOTFOUND) {
			reply(r, 400, "Bad Replaces");
			return;
		}
	}
	if (cm_reg_line(cs->reg, slice_from_str(target), &li) != 0) {
		reply(r, 404, NULL);
		return;
	}
	OPENSSL_cleanse(&li, sizeof(li));
	reply(r, 202, NULL);
	write_cdr(c, "transferred");
	c->xfer_leg = leg ? c->b : c->a;
	notify_refer(cs, &c->xfer_leg, "SIP/2.0 100 Trying\r\n", false);
	if (leg == 0) {
		/* The caller transfers: the callee becomes leg A. */
		struct buf t = c->last_sdp[0];
		c->a = c->b;
		c->last_sdp[0] = c->last_sdp[1];
		c->last_sdp[1] = t;
	}
	OPENSSL_cleanse(&c->b, sizeof(c->b));
	memset(&c->b, 0, sizeof(c->b));
	buf_reset(&c->last_sdp[1]);
	sip_tsx_unref(c->a_tsx);
	c->a_tsx = NULL;
	c->a_acked = true;
	c->xfer = true;
	c->state = CM_CALLING;
	c->hops = 0;
	c->cancelled = false;
	c->t_start = (int64_t)time(NULL);
	c->t_answer = 0;
	c->sec = CM_SEC_UNKNOWN;
	snprintf(c->dialled, sizeof(c->dialled), "%s", target);
	buf_reset(&c->offer);
	buf_put_slice(&c->offer, buf_slice(&c->last_sdp[0]));
	/* seed 002: not vouched for until the new leg is up. */
	buf_init(&ci, 512);
	callinfo_hdr(&ci, CM_SEC_NOT_AUTHENTICATED, "to");
	buf_put(&ci, "", 1);
	if (buf_err(&ci) == 0) {
		send_in_dialog(cs, &c->a, "UPDATE", (const char *)ci.p,
		               SLICE_NULL);
	}
	buf_free(&ci);
	log_info("call", "%s: blind transfer of %s to %s", c->xfer_leg.line.dn,
	         c->a.line.dn, target);
	code = start_b(c, target);
	if (code) {
		call_end(c, "transfer failed");
	}
}

void cm_calls_request(struct cm_calls *cs, const struct sip_stack_req *r)
{
	struct sip_msg *m = r->msg;
	enum sip_method meth = sip_msg_method(m);
	struct cm_call *c;
	int leg = 0;

	if (meth == SIP_M_INVITE && !sip_msg_to(m)->tag.p) {
		new_call(cs, r);
		return;
	}
	c = find_dialog(cs, m, &leg);
	if (meth == SIP_M_ACK) {
		/* The ACK to our 2xx: absorbed (leg B was ACKed already). */
		if (c && leg == 0 && c->state == CM_CONNECTED && !c->a_acked) {
			c->a_acked = true;
			event_del(c->timer);
		}
		return;
	}
	if (!c) {
		reply(r, 481, NULL); /* RFC 3261 §12.2.2 */
		return;
	}
	switch (meth) {
	case SIP_M_BYE:
		on_bye(c, leg, r);
		break;
	case SIP_M_INVITE:
		reinvite(c, leg, r);
		break;
	case SIP_M_REFER:
		on_refer(c, leg, r);
		break;
	case SIP_M_UPDATE:
		/* RFC 3311: a target refresh without SDP is all we accept;
		 * session changes go through re-INVITE. */
		reply(r, sip_msg_body(m).len ? 488 : 200, NULL);
		break;
	default:
		reply(r, 405, NULL);
		break;
	}
}

void cm_calls_cancel(struct cm_calls *cs, struct sip_tsx *t)
{
	for (struct cm_call *c = cs->calls; c; c = c->next) {
		if (c->a_tsx == t && c->state == CM_CALLING) {
			c->cancelled = true;
			event_del(c->timer);
			if (sip_tsx_cancel(c->b_tsx) != 0) {
				call_end(c, "cancelled");
			}
			return;
		}
	}
}

void cm_calls_set_no_answer(struct cm_calls *cs, unsigned ms)
{
	cs->conf.no_answer_ms = ms ? ms : cs->default_no_answer_ms;
}

unsigned cm_calls_active(const struct cm_calls *cs)
{
	return cs->n;
}

int cm_calls_new(struct cm_calls **out, struct event_base *base,
                 struct sip_stack *stack, struct cm_reg *reg, struct store *st,
                 const struct cm_calls_conf *conf)
{
	struct cm_calls *cs = calloc(1, sizeof(*cs));
	int err;

	if (!cs) {
		return -ENOMEM;
	}
	cs->base = base;
	cs->stack = stack;
	cs->reg = reg;
	cs->st = st;
	cs->conf = *conf;
	if (!cs->conf.no_answer_ms) {
		cs->conf.no_answer_ms = 20000;
	}
	cs->default_no_answer_ms = cs->conf.no_answer_ms;
	if (!cs->conf.max_calls) {
		cs->conf.max_calls = 50000;
	}
	cm_host_set(&cs->h, conf->host, conf->port, conf->tls_port);
	err = sdp_new(&cs->sdp);
	if (!err) {
		err = sdp_new(&cs->sdp2);
	}
	if (!err) {
		err = sip_auth_client_new(&cs->authc);
	}
	if (err) {
		cm_calls_free(cs);
		return err;
	}
	*out = cs;
	return 0;
}

void cm_calls_free(struct cm_calls *cs)
{
	if (!cs) {
		return;
	}
	while (cs->calls) {
		call_free(cs->calls);
	}
	sdp_free(cs->sdp);
	sdp_free(cs->sdp2);
	sip_auth_client_free(cs->authc);
	free(cs);
}
