/* MWI notifier (RFC 3842, RFC 6665), see cm_mwi.h. */
#include "callmgr/cm_mwi.h"

#include "base/log.h"
#include "callmgr/cm_int.h"
#include "sip/sip_auth.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MWI_CTYPE "application/simple-message-summary"

struct cm_sub {
	struct cm_sub *next;
	struct cm_leg leg;
	uint64_t expires_at;
	int new_msgs, old_msgs; /* last notified, -1: none yet */
	struct sip_tsx *notify; /* pending NOTIFY */
	bool auth_tried;
	bool ending;
};

struct cm_mwi {
	struct sip_stack *stack;
	struct cm_reg *reg;
	struct store *st;
	struct cm_mwi_conf conf;
	struct cm_host h;
	struct cm_sub *subs;
	unsigned n;
	struct sip_auth_client *authc;
	uint64_t now_ms;
	bool dirty; /* a change not yet compared with every subscription */
};

int cm_mwi_body(struct buf *b, const char *account, int new_msgs, int old_msgs)
{
	if (new_msgs < 0 || old_msgs < 0) {
		return -TL_EPARSE;
	}
	/* RFC 3842 §5.2: msg-status-line, msg-account, msg-summary-line
	 * "Voice-Message: new/old (urgent new/urgent old)". */
	buf_printf(b,
	           "Messages-Waiting: %s\r\n"
	           "Message-Account: %s\r\n"
	           "Voice-Message: %d/%d (0/0)\r\n",
	           new_msgs > 0 ? "yes" : "no", account, new_msgs, old_msgs);
	return buf_err(b);
}

static void sub_free(struct cm_sub *s)
{
	sip_tsx_unref(s->notify);
	OPENSSL_cleanse(&s->leg.line, sizeof(s->leg.line));
	free(s);
}

static void sub_remove(struct cm_mwi *m, struct cm_sub *s)
{
	for (struct cm_sub **pp = &m->subs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			m->n--;
			sub_free(s);
			return;
		}
	}
}

static struct cm_sub *find_tsx(struct cm_mwi *m, struct sip_tsx *t)
{
	for (struct cm_sub *s = m->subs; s; s = s->next) {
		if (s->notify == t) {
			return s;
		}
	}
	return NULL;
}

static void on_notify_resp(struct sip_tsx *t, struct sip_msg *resp,
                           uint16_t code, void *arg);

static int send_notify(struct cm_mwi *m, struct cm_sub *s, const char *authz)
{
	struct store_line line;
	struct buf b, hdrs, body;
	char account[CM_STR];
	uint32_t left;
	int err;

	err = store_line_get(m->st, s->leg.line.dn, &line);
	if (err) {
		return err;
	}
	buf_init(&b, SIP_MSG_MAX_SIZE);
	buf_init(&hdrs, 4096);
	buf_init(&body, 1024);
	snprintf(account, sizeof(account), "sip:%s@%s", s->leg.line.dn,
	         m->h.host);
	err = cm_mwi_body(&body, account, line.mwi_new, line.mwi_old);
	if (err) {
		goto out;
	}
	left = s->expires_at > m->now_ms
	               ? (uint32_t)((s->expires_at - m->now_ms) / 1000)
	               : 0;
	buf_put_str(&hdrs, "Event: message-summary\r\n");
	/* RFC 6665 §4.2.2: Subscription-State with the time left, or
	 * terminated with a reason. */
	if (s->ending || !left) {
		buf_put_str(
		        &hdrs,
		        "Subscription-State: terminated;reason=timeout\r\n");
	} else {
		buf_printf(&hdrs, "Subscription-State: active;expires=%u\r\n",
		           left);
	}
	cm_contact_hdr(&m->h, &hdrs, s->leg.tp, "mwi");
	if (authz) {
		buf_put_str(&hdrs, authz);
	}
	buf_put(&hdrs, "", 1);
	err = buf_err(&hdrs);
	if (err) {
		goto out;
	}
	s->leg.cseq++;
	err = cm_build_req(&m->h, &b, "NOTIFY", &s->leg, s->leg.cseq,
	                   (const char *)hdrs.p, SLICE_LIT(MWI_CTYPE),
	                   buf_slice(&body));
	if (err) {
		goto out;
	}
	sip_tsx_unref(s->notify);
	s->notify = NULL;
	err = sip_stack_request(m->stack, &s->notify, b.p, b.len, s->leg.tp,
	                        &s->leg.dst, on_notify_resp, m);
	if (!err) {
		s->new_msgs = line.mwi_new;
		s->old_msgs = line.mwi_old;
	}
out:
	buf_free(&b);
	buf_free_secret(&hdrs);
	buf_free(&body);
	return err;
}

/* seed 001: a device with Auth INVITE challenges our NOTIFY. */
static bool answer_challenge(struct cm_mwi *m, struct cm_sub *s,
                             struct sip_msg *resp, uint16_t code)
{
	struct slice chals[8];
	size_t n = 0;
	enum sip_hdr_id want = code == 401 ? SIP_HDR_WWW_AUTHENTICATE
	                                   : SIP_HDR_PROXY_AUTHENTICATE;
	const struct cm_line_info *l = &s->leg.line;
	struct sip_auth_cred cred = {
	        .user = slice_from_str(l->user),
	        .ha1_md5 = l->has_md5 ? l->ha1_md5 : NULL,
	        .ha1_sha256 = l->has_sha256 ? l->ha1_sha256 : NULL,
	};
	struct buf v;
	bool ok = false;

	if (s->auth_tried || !resp) {
		return false;
	}
	s->auth_tried = true;
	for (size_t i = 0; i < sip_msg_hdr_count(resp) && n < 8; i++) {
		struct sip_hdr h;
		if (sip_msg_hdr(resp, i, &h) == 0 && h.id == want) {
			chals[n++] = h.value;
		}
	}
	buf_init(&v, 4096);
	buf_put_str(&v,
	            code == 401 ? "Authorization: " : "Proxy-Authorization: ");
	if (n && sip_auth_client_answer(
	                 m->authc, chals, n, &cred, SLICE_LIT("NOTIFY"),
	                 slice_from_str(s->leg.target), &v) == 0) {
		buf_put_str(&v, "\r\n");
		buf_put(&v, "", 1);
		ok = buf_err(&v) == 0 &&
		     send_notify(m, s, (const char *)v.p) == 0;
	}
	buf_free_secret(&v);
	return ok;
}

static void on_notify_resp(struct sip_tsx *t, struct sip_msg *resp,
                           uint16_t code, void *arg)
{
	struct cm_mwi *m = arg;
	struct cm_sub *s = find_tsx(m, t);

	if (!s || code < 200) {
		return;
	}
	if ((code == 401 || code == 407) &&
	    answer_challenge(m, s, resp, code)) {
		return;
	}
	if (code < 300) {
		s->auth_tried = false;
		if (s->ending) {
			sub_remove(m, s);
		}
		return;
	}
	/* RFC 6665 §4.1.2.4 (notifier side): a 481 or a failure ends the
	 * subscription. */
	log_info("mwi", "NOTIFY to %s failed (%u): subscription ended",
	         s->leg.line.dn, code);
	sub_remove(m, s);
}

static void reply(const struct sip_stack_req *r, uint16_t code,
                  const char *reason, const char *hdrs)
{
	int err = sip_tsx_reply(r->tsx, code, reason, slice_from_str(hdrs),
	                        SLICE_NULL, SLICE_NULL);

	if (err) {
		log_debug("mwi", "reply %u: %s", code, tl_strerror(err));
	}
}

static struct cm_sub *find_dialog(struct cm_mwi *m, struct sip_msg *msg)
{
	struct slice cid = sip_msg_call_id(msg);
	struct slice tag = sip_msg_to(msg)->tag;

	for (struct cm_sub *s = m->subs; s; s = s->next) {
		if (cm_str_is(s->leg.call_id, cid) &&
		    cm_str_is(s->leg.ltag, tag)) {
			return s;
		}
	}
	return NULL;
}

static struct cm_sub *new_sub(struct cm_mwi *m, const struct sip_stack_req *r,
                              uint16_t *code, const char **why)
{
	struct sip_msg *msg = r->msg;
	const struct sip_addr *from = sip_msg_from(msg);
	struct cm_req_info info = {
	        .tp = r->tp,
	        .src = *r->src,
	        .peer_cn = r->peer_identity,
	        .now_ms = m->now_ms,
	};
	struct sip_iter it;
	struct sip_contact ct;
	struct cm_sub *s;
	int err;

	*code = 403;
	if (m->n >= m->conf.max_subs) {
		*code = 503;
		*why = "Too many subscriptions";
		return NULL;
	}
	/* A phone watches its own mailbox only. */
	if (!slice_eq(from->uri.user, sip_msg_ruri(msg)->user)) {
		*why = "Not your mailbox";
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		*code = 503;
		*why = NULL;
		return NULL;
	}
	err = cm_reg_identify(m->reg, from->uri.user, &info, &s->leg.line);
	if (err) {
		*why = err == -TL_EPOLICY ? "Transport not allowed by security "
		                            "profile"
		                          : "Subscriber not registered here";
		goto fail;
	}
	sip_msg_iter(&it, msg, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) != 1 || ct.star ||
	    cm_copy(s->leg.target, sizeof(s->leg.target), ct.addr.uri_raw) ||
	    cm_copy(s->leg.call_id, sizeof(s->leg.call_id),
	            sip_msg_call_id(msg)) ||
	    cm_copy(s->leg.remote, sizeof(s->leg.remote), from->raw)) {
		*code = 400;
		*why = "Bad Contact, Call-ID or From";
		goto fail;
	}
	snprintf(s->leg.ltag, sizeof(s->leg.ltag), "%.*s",
	         (int)sip_tsx_to_tag(r->tsx).len,
	         (const char *)sip_tsx_to_tag(r->tsx).p);
	snprintf(s->leg.local, sizeof(s->leg.local), "%.*s;tag=%s",
	         (int)sip_msg_to(msg)->raw.len,
	         (const char *)sip_msg_to(msg)->raw.p, s->leg.ltag);
	s->leg.tp = r->tp;
	s->leg.dst = *r->src;
	s->new_msgs = s->old_msgs = -1;
	s->next = m->subs;
	m->subs = s;
	m->n++;
	return s;
fail:
	sub_free(s);
	return NULL;
}

void cm_mwi_request(struct cm_mwi *m, const struct sip_stack_req *r)
{
	struct sip_msg *msg = r->msg;
	struct sip_event ev;
	uint32_t expires = 3600;
	struct cm_sub *s;
	uint16_t code = 0;
	const char *why = NULL;
	char hdrs[256];

	m->now_ms = cm_now_ms();
	/* RFC 6665 §4.2.1: an event package we do not serve is 489. */
	if (sip_msg_event(msg, &ev) != 0 ||
	    !slice_eq_str(ev.package, "message-summary")) {
		reply(r, 489, NULL, "Allow-Events: message-summary\r\n");
		return;
	}
	if (sip_msg_expires(msg, &expires) == -TL_EPARSE) {
		reply(r, 400, "Bad Expires", "");
		return;
	}
	if (expires && expires < m->conf.min_expires) {
		snprintf(hdrs, sizeof(hdrs), "Min-Expires: %u\r\n",
		         m->conf.min_expires);
		reply(r, 423, NULL, hdrs);
		return;
	}
	if (expires > m->conf.max_expires) {
		expires = m->conf.max_expires;
	}
	if (sip_msg_to(msg)->tag.p) {
		s = find_dialog(m, msg);
		if (!s) {
			reply(r, 481, NULL, "");
			return;
		}
	} else {
		s = new_sub(m, r, &code, &why);
		if (!s) {
			reply(r, code, why, "");
			return;
		}
	}
	s->expires_at = m->now_ms + (uint64_t)expires * 1000;
	s->ending = expires == 0;
	snprintf(hdrs, sizeof(hdrs), "Expires: %u\r\n", expires);
	{
		struct buf h;
		buf_init(&h, 1024);
		buf_put_str(&h, hdrs);
		cm_contact_hdr(&m->h, &h, r->tp, "mwi");
		buf_put(&h, "", 1);
		if (buf_err(&h) == 0) {
			reply(r, 200, NULL, (const char *)h.p);
		}
		buf_free(&h);
	}
	/* RFC 6665 §4.2.1.2: a NOTIFY at once, also for a refresh. */
	if (send_notify(m, s, NULL) != 0) {
		log_warn("mwi", "no NOTIFY for %s", s->leg.line.dn);
		sub_remove(m, s);
	}
}

void cm_mwi_tick(struct cm_mwi *m, uint64_t now_ms, bool changed)
{
	struct cm_sub *s = m->subs, *next;

	bool pending = false;

	m->now_ms = now_ms;
	changed = changed || m->dirty;
	for (; s; s = next) {
		next = s->next;
		if (s->ending) {
			continue; /* waiting for the final NOTIFY's answer */
		}
		if (s->expires_at <= now_ms) {
			s->ending = true;
			if (send_notify(m, s, NULL) != 0) {
				sub_remove(m, s);
			}
			continue;
		}
		if (!changed) {
			continue;
		}
		if (s->notify && sip_tsx_final(s->notify) == 0) {
			pending = true; /* compare again at the next tick */
			continue;
		}
		struct store_line line;
		if (store_line_get(m->st, s->leg.line.dn, &line) != 0) {
			continue;
		}
		if (line.mwi_new != s->new_msgs ||
		    line.mwi_old != s->old_msgs) {
			s->auth_tried = false;
			if (send_notify(m, s, NULL) != 0) {
				log_warn("mwi", "NOTIFY to %s not sent",
				         s->leg.line.dn);
			}
		}
	}
	m->dirty = pending;
}

unsigned cm_mwi_count(const struct cm_mwi *m)
{
	return m->n;
}

int cm_mwi_new(struct cm_mwi **out, struct sip_stack *stack, struct cm_reg *reg,
               struct store *st, const struct cm_mwi_conf *conf)
{
	struct cm_mwi *m = calloc(1, sizeof(*m));
	int err;

	if (!m) {
		return -ENOMEM;
	}
	m->stack = stack;
	m->reg = reg;
	m->st = st;
	m->conf = *conf;
	if (!m->conf.max_expires) {
		m->conf.max_expires = 7200;
	}
	if (!m->conf.min_expires) {
		m->conf.min_expires = 60;
	}
	if (!m->conf.max_subs) {
		m->conf.max_subs = 100000;
	}
	cm_host_set(&m->h, conf->host, conf->port, conf->tls_port);
	err = sip_auth_client_new(&m->authc);
	if (err) {
		free(m);
		return err;
	}
	*out = m;
	return 0;
}

void cm_mwi_free(struct cm_mwi *m)
{
	if (!m) {
		return;
	}
	while (m->subs) {
		struct cm_sub *s = m->subs;
		m->subs = s->next;
		sub_free(s);
	}
	sip_auth_client_free(m->authc);
	free(m);
}
