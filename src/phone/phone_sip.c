/* The phone's SIP side: registration of every line (RFC 3261 §10.2,
 * digest RFC 7616 / RFC 8760), over UDP/TCP or TLS with the server checked
 * against the CTL's CCM role only (DESIGN.md boot step 5); calls through
 * the call manager (RFC 3261 §13-15, offer/answer RFC 3264, SDES RFC 4568
 * only on TLS), the call security status from Call-Info
 * (cisco-formats.md §7), Auth INVITE / Auth MWI (seed 001), MWI NOTIFY
 * (RFC 3842), hold (RFC 3264 §8.4) and blind transfer (RFC 3515). */
#include "phone/phone_int.h"

#include "base/log.h"
#include "codec/sdp/sdp.h"
#include "net/net_tls.h"

#include <errno.h>
#include <event2/event.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define UA    "Trustline-phone/1"
#define ALLOW "Allow: INVITE, ACK, CANCEL, BYE, UPDATE, NOTIFY, OPTIONS\r\n"
/* cisco-formats.md §7: phones advertise the security-status extension. */
#define SUPPORTED "Supported: X-cisco-sis-7.0.0\r\n"

static void rand_hex(char *out, size_t nbytes)
{
	uint8_t r[32];

	if (nbytes > sizeof(r) || RAND_bytes(r, (int)nbytes) != 1) {
		nbytes = nbytes > sizeof(r) ? sizeof(r) : nbytes;
		memset(r, 0x5a, nbytes);
	}
	for (size_t i = 0; i < nbytes; i++) {
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	}
}

static const char *tp_param(enum net_transport tp)
{
	return tp == NET_TLS ? "tls" : tp == NET_TCP ? "tcp" : "udp";
}

static uint16_t cm_port(const struct phone *p)
{
	return net_addr_port(&p->targets[p->active].addr);
}

/* Start line, Via, Max-Forwards, From, To, Call-ID, CSeq, User-Agent. */
static TL_MUST_CHECK int start_req(struct phone *p, struct buf *b,
                                   const char *method, const char *ruri,
                                   const char *from_dn, const char *ftag,
                                   const char *to_uri, const char *ttag,
                                   const char *call_id, uint32_t cseq)
{
	char branch[SIP_TSX_BRANCH_LEN];
	int err = sip_tsx_branch(branch);

	if (!err) {
		err = sip_build_request(b, slice_from_str(method),
		                        slice_from_str(ruri));
	}
	if (err) {
		return err;
	}
	if (net_addr_port(&p->local)) {
		buf_printf(b, "Via: SIP/2.0/%s %s:%u;branch=%s;rport\r\n",
		           net_transport_name(phone_tgt(p)->tp), p->local_host,
		           net_addr_port(&p->local), branch);
	} else {
		buf_printf(b, "Via: SIP/2.0/%s %s;branch=%s;rport\r\n",
		           net_transport_name(phone_tgt(p)->tp), p->local_host,
		           branch);
	}
	buf_printf(b, "Max-Forwards: 70\r\n");
	buf_printf(b, "From: <sip:%s@%s>;tag=%s\r\n", from_dn, p->cnf.host,
	           ftag);
	buf_printf(b, "To: <%s>%s%s\r\n", to_uri, ttag && *ttag ? ";tag=" : "",
	           ttag && *ttag ? ttag : "");
	buf_printf(b, "Call-ID: %s\r\nCSeq: %u %s\r\nUser-Agent: " UA "\r\n",
	           call_id, cseq, method);
	return buf_err(b);
}

static void contact_hdr(struct phone *p, struct buf *b, const char *dn)
{
	if (net_addr_port(&p->local)) {
		buf_printf(b, "Contact: <sip:%s@%s:%u;transport=%s>\r\n", dn,
		           p->local_host, net_addr_port(&p->local),
		           tp_param(phone_tgt(p)->tp));
	} else {
		buf_printf(b, "Contact: <sip:%s@%s;transport=%s>\r\n", dn,
		           p->local_host, tp_param(phone_tgt(p)->tp));
	}
}

/* ---- state ---- */

void phone_update_state(struct phone *p)
{
	size_t ok = 0, failed = 0;

	if (p->state == PHONE_REFUSED) {
		return;
	}
	for (size_t i = 0; i < p->n_lines; i++) {
		ok += p->lines[i].st == REG_OK;
		failed += p->lines[i].st == REG_FAILED;
	}
	enum phone_state old = p->state;
	if (p->n_lines && ok == p->n_lines) {
		p->state = PHONE_REGISTERED;
		p->reason[0] = 0;
		if (old != PHONE_REGISTERED) {
			phone_step(p, STEP_REGISTER, STEP_OK,
			           "%zu line(s) registered over %s", ok,
			           net_transport_name(phone_tgt(p)->tp));
		}
	} else if (failed) {
		p->state = PHONE_UNREGISTERED;
		for (size_t i = 0; i < p->n_lines; i++) {
			if (p->lines[i].st == REG_FAILED) {
				snprintf(p->reason, sizeof(p->reason),
				         "register: line %.31s: %.150s",
				         p->lines[i].dn, p->lines[i].why);
				break;
			}
		}
		if (old != PHONE_UNREGISTERED) {
			phone_step(p, STEP_REGISTER, STEP_FAILED, "%s",
			           p->reason + 10);
		}
	} else {
		p->state = PHONE_REGISTERING;
	}
}

/* ---- registration ---- */

static void reg_send(struct phone_line *l, const char *authz);

static void reg_timer(evutil_socket_t fd, short what, void *arg)
{
	struct phone_line *l = arg;

	(void)fd;
	(void)what;
	l->auth_tries = 0;
	reg_send(l, NULL);
}

/* A REGISTER without a final answer in time: over TLS the server closes a
 * connection whose certificate it refuses, and the transaction would only
 * learn it from Timer F (64 x T1, RFC 3261 §17.1.2.2). */
static void reg_fail(struct phone_line *l, unsigned retry_s, const char *fmt,
                     ...) __attribute__((format(printf, 3, 4)));

static void reg_guard(evutil_socket_t fd, short what, void *arg)
{
	struct phone_line *l = arg;
	struct phone *p = l->p;
	struct net_stats ns;

	(void)fd;
	(void)what;
	if (!l->tsx) {
		return;
	}
	sip_tsx_unref(l->tsx);
	l->tsx = NULL;
	net_get_stats(sip_stack_net(p->sip), &ns);
	if (p->server_refused) {
		reg_fail(l, 30, "%s", p->server_refused_why);
	} else if (phone_tgt(p)->tp == NET_TLS &&
	           (ns.tls_failures || ns.closed)) {
		/* TLS 1.3: the server checks our certificate after our side
		 * of the handshake is done, then closes with an alert. */
		reg_fail(l, 30,
		         "the server refused the TLS connection (our "
		         "certificate revoked or not trusted?)");
	} else {
		reg_fail(l, 30, "no answer from the call manager");
	}
}

static void reg_again(struct phone_line *l, unsigned secs)
{
	struct timeval tv = {secs, 0};

	if (l->timer) {
		evtimer_add(l->timer, &tv);
	}
}

static void reg_fail(struct phone_line *l, unsigned retry_s, const char *fmt,
                     ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
	l->st = REG_FAILED;
	phone_update_state(l->p);
	reg_again(l, retry_s);
}

static size_t challenges(struct sip_msg *resp, uint16_t code,
                         struct slice *chals, size_t max)
{
	enum sip_hdr_id want = code == 401 ? SIP_HDR_WWW_AUTHENTICATE
	                                   : SIP_HDR_PROXY_AUTHENTICATE;
	size_t n = 0;

	for (size_t i = 0; i < sip_msg_hdr_count(resp) && n < max; i++) {
		struct sip_hdr h;
		if (sip_msg_hdr(resp, i, &h) == 0 && h.id == want) {
			chals[n++] = h.value;
		}
	}
	return n;
}

/* Answer a 401/407 into hdr ("Authorization: ...\r\n"). */
static TL_MUST_CHECK int answer_chal(struct phone *p, struct phone_line *l,
                                     struct sip_msg *resp, uint16_t code,
                                     const char *method, const char *uri,
                                     struct buf *hdr)
{
	struct slice chals[8];
	size_t n = challenges(resp, code, chals, 8);
	struct sip_auth_cred cred = {
	        .user = slice_from_str(l->user),
	        .password = slice_from_str(l->password),
	};
	struct sip_auth_chal ch;

	if (n == 0 || l->password[0] == '\0') {
		return -TL_EAUTH;
	}
	if (sip_auth_parse_chal(chals[0], &ch) == 0 && ch.realm.len &&
	    ch.realm.len < sizeof(p->realm)) {
		memcpy(p->realm, ch.realm.p, ch.realm.len);
		p->realm[ch.realm.len] = 0;
	}
	buf_put_str(hdr,
	            code == 401 ? "Authorization: " : "Proxy-Authorization: ");
	int err = sip_auth_client_answer(l->auth, chals, n, &cred,
	                                 slice_from_str(method),
	                                 slice_from_str(uri), hdr);
	buf_put_str(hdr, "\r\n");
	return err ? err : buf_err(hdr);
}

/* ---- MWI subscription (RFC 3842 over RFC 6665) ---- */

uint32_t phone_mwi_refresh_in(uint32_t granted)
{
	return granted >= 2 ? granted / 2 : 1;
}

uint32_t phone_mwi_retry_in(unsigned fails)
{
	if (fails == 0) {
		fails = 1;
	}
	if (fails >= 6) {
		return PHONE_MWI_RETRY_MAX;
	}
	uint32_t d = 1u << fails;
	return d < PHONE_MWI_RETRY_MAX ? d : PHONE_MWI_RETRY_MAX;
}

bool phone_mwi_resubscribe(struct slice reason, bool has_retry_after,
                           uint32_t retry_after, unsigned fails,
                           uint32_t *delay)
{
	/* "Retry immediately" is kept from looping against a notifier that
	 * ends every subscription at once: the first drop goes back at
	 * once, the next ones after the growing pause. */
	uint32_t soon = fails <= 1 ? 0 : phone_mwi_retry_in(fails - 1);
	uint32_t after = retry_after < PHONE_MWI_RETRY_AFTER_MAX
	                         ? retry_after
	                         : PHONE_MWI_RETRY_AFTER_MAX;

	*delay = 0;
	/* §4.1.3: "Clients SHOULD NOT attempt to re-subscribe". */
	if (slice_eq_str_nocase(reason, "rejected") ||
	    slice_eq_str_nocase(reason, "noresource") ||
	    slice_eq_str_nocase(reason, "invariant")) {
		return false;
	}
	if (slice_eq_str_nocase(reason, "probation")) {
		/* "SHOULD retry at some later time", at least retry-after */
		uint32_t later = phone_mwi_retry_in(fails);
		*delay = has_retry_after && after > later ? after : later;
		return true;
	}
	if (slice_eq_str_nocase(reason, "giveup") && has_retry_after) {
		*delay = after > soon ? after : soon;
		return true;
	}
	/* deactivated, timeout ("retry-after has no semantics"), giveup
	 * without retry-after, none or unknown ("MAY attempt to
	 * re-subscribe at any time"). */
	*delay = soon;
	return true;
}

const char *phone_mwi_state_name(enum phone_mwi_state s)
{
	static const char *const n[MWI_STATE_MAX] = {
	        "idle",     "subscribing", "active",       "refreshing",
	        "retrying", "ended",       "unsubscribing"};
	return (unsigned)s < MWI_STATE_MAX ? n[s] : "?";
}

static int64_t mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec;
}

uint32_t phone_mwi_left(const struct phone_line *l)
{
	const struct phone_mwi_sub *m = &l->mwi;
	int64_t left;

	if (m->st != MWI_ACTIVE && m->st != MWI_REFRESHING) {
		return 0;
	}
	left = m->expires_at - mono_s();
	return left > 0 ? (uint32_t)(left < UINT32_MAX ? left : UINT32_MAX) : 0;
}

static void mwi_timer_in(struct phone_line *l, uint32_t secs)
{
	struct timeval tv = {secs, 0};

	if (l->mwi.timer) {
		evtimer_add(l->mwi.timer, &tv);
	}
}

static void mwi_clear_dialog(struct phone_mwi_sub *m)
{
	sip_tsx_unref(m->tsx);
	m->tsx = NULL;
	m->call_id[0] = m->ltag[0] = m->rtag[0] = m->target[0] = 0;
	m->granted = 0;
	m->expires_at = 0;
}

/* The dialog is gone (RFC 6665 §4.1.2.2: a refresh refused with 481 or
 * another failure, a timeout, a transport error): NOTIFYs of it get 481
 * from now on, and a new subscription (new Call-ID, new tag) follows
 * after a pause. */
static void mwi_drop(struct phone_line *l, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void mwi_drop(struct phone_line *l, const char *fmt, ...)
{
	struct phone_mwi_sub *m = &l->mwi;
	va_list ap;
	uint32_t d;

	va_start(ap, fmt);
	vsnprintf(m->why, sizeof(m->why), fmt, ap);
	va_end(ap);
	mwi_clear_dialog(m);
	if (m->st == MWI_UNSUBSCRIBING || m->st == MWI_IDLE) {
		m->st = MWI_IDLE;
		return;
	}
	d = phone_mwi_retry_in(++m->fails);
	m->st = MWI_WAITING;
	log_warn("phone",
	         "%s: line %s: MWI subscription dropped (%s), "
	         "a new one in %us",
	         l->p->name, l->dn, m->why, d);
	mwi_timer_in(l, d);
}

static void mwi_ruri(const struct phone_line *l, char *out, size_t n)
{
	const struct phone_mwi_sub *m = &l->mwi;

	if (m->rtag[0] && m->target[0]) {
		snprintf(out, n, "%s", m->target);
	} else {
		snprintf(out, n, "sip:%.31s@%.200s", l->dn, l->p->cnf.host);
	}
}

static void sub_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                     void *arg);

/* One SUBSCRIBE of the line's subscription: a new one when there is no
 * remote tag yet, else inside the dialog (RFC 6665 §4.1.2.1: to the
 * remote target, with both tags and the next CSeq). */
static void mwi_send(struct phone_line *l, uint32_t expires, const char *authz)
{
	struct phone *p = l->p;
	struct phone_mwi_sub *m = &l->mwi;
	char ruri[300], aor[300];
	struct buf b;
	int err;

	mwi_ruri(l, ruri, sizeof(ruri));
	snprintf(aor, sizeof(aor), "sip:%.31s@%.200s", l->dn, p->cnf.host);
	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = start_req(p, &b, "SUBSCRIBE", ruri, l->dn, m->ltag, aor, m->rtag,
	                m->call_id, ++m->cseq);
	if (!err) {
		contact_hdr(p, &b, l->dn);
		buf_printf(&b,
		           "Event: message-summary\r\n"
		           "Accept: application/simple-message-summary\r\n"
		           "Expires: %u\r\n",
		           expires);
		if (authz) {
			buf_put_str(&b, authz);
		}
		err = sip_build_end(&b, (struct slice){0}, (struct slice){0});
	}
	if (!err) {
		sip_tsx_unref(m->tsx);
		m->tsx = NULL;
		err = sip_stack_request(p->sip, &m->tsx, b.p, b.len,
		                        phone_tgt(p)->tp, &phone_tgt(p)->addr,
		                        sub_resp, l);
	}
	buf_free_secret(&b);
	if (err) {
		mwi_drop(l, "SUBSCRIBE not sent: %s", tl_strerror(err));
	}
}

/* RFC 3842 §4: watch the line's own mailbox (message-summary) in a new
 * dialog; the call manager NOTIFYs at once and on every change. */
static void mwi_start(struct phone_line *l)
{
	struct phone_mwi_sub *m = &l->mwi;

	mwi_clear_dialog(m);
	rand_hex(m->ltag, 8);
	rand_hex(m->call_id, 16);
	m->cseq = 0;
	m->auth_tries = 0;
	m->st = MWI_TRYING;
	m->dialogs++;
	mwi_send(l, m->ask, NULL);
}

static void mwi_timer(evutil_socket_t fd, short what, void *arg)
{
	struct phone_line *l = arg;
	struct phone_mwi_sub *m = &l->mwi;

	(void)fd;
	(void)what;
	if (m->st == MWI_ACTIVE) {
		m->st = MWI_REFRESHING;
		m->auth_tries = 0;
		mwi_send(l, m->ask, NULL);
	} else if (m->st == MWI_WAITING) {
		mwi_start(l);
	}
}

/* Take the remote tag and target of the dialog from a 2xx (To, Contact)
 * or a NOTIFY (From, Contact): the first remote tag stays; the target
 * follows every target refresh (RFC 6665 §4.1.2.1). */
static void mwi_dialog_from(struct phone_mwi_sub *m, struct sip_msg *msg,
                            struct slice rtag)
{
	struct sip_iter it;
	struct sip_contact ct;

	if (!m->rtag[0] && rtag.p && rtag.len && rtag.len < sizeof(m->rtag)) {
		memcpy(m->rtag, rtag.p, rtag.len);
		m->rtag[rtag.len] = 0;
	}
	sip_msg_iter(&it, msg, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) == 1 && !ct.star &&
	    ct.addr.uri_raw.len && ct.addr.uri_raw.len < sizeof(m->target)) {
		memcpy(m->target, ct.addr.uri_raw.p, ct.addr.uri_raw.len);
		m->target[ct.addr.uri_raw.len] = 0;
	}
}

static void sub_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                     void *arg)
{
	struct phone_line *l = arg;
	struct phone *p = l->p;
	struct phone_mwi_sub *m = &l->mwi;
	bool refresh = m->st == MWI_REFRESHING;

	if (t != m->tsx || code < 200) {
		return;
	}
	sip_tsx_unref(m->tsx);
	m->tsx = NULL;
	if ((code == 401 || code == 407) && resp) {
		char ruri[300];
		struct buf h;
		int err = -TL_EAUTH;
		mwi_ruri(l, ruri, sizeof(ruri));
		buf_init(&h, 8192);
		if (m->auth_tries++ < 2) {
			err = answer_chal(p, l, resp, code, "SUBSCRIBE", ruri,
			                  &h);
		}
		if (!err) {
			buf_put(&h, "", 1);
			err = buf_err(&h);
		}
		if (!err) {
			mwi_send(l, m->st == MWI_UNSUBSCRIBING ? 0 : m->ask,
			         (const char *)h.p);
		} else {
			mwi_drop(l, "digest refused (%u)", code);
		}
		buf_free_secret(&h);
		return;
	}
	if (m->st == MWI_UNSUBSCRIBING) {
		/* the final NOTIFY may still come: the dialog stays */
		m->st = MWI_IDLE;
		if (!p->conf.quiet) {
			log_info("phone",
			         "%s: line %s: MWI unsubscribed (%u) in "
			         "dialog %s",
			         p->name, l->dn, code, m->call_id);
		}
		return;
	}
	if (code >= 300) {
		struct slice r =
		        resp ? sip_msg_reason(resp) : (struct slice){0};
		uint32_t min;
		/* RFC 6665 §4.1.2.1: 423 names the shortest expiry taken */
		if (code == 423 && resp &&
		    sip_msg_hdr_u32(resp, SIP_HDR_MIN_EXPIRES, &min) == 0 &&
		    min > m->ask && min <= 86400) {
			m->ask = min;
		}
		if (!resp) {
			mwi_drop(l, "%s %s", refresh ? "refresh" : "SUBSCRIBE",
			         code == 408 ? "timed out" : "not delivered");
		} else {
			mwi_drop(l, "%s refused: %u %.*s",
			         refresh ? "refresh" : "SUBSCRIBE", code,
			         (int)r.len, r.p ? (const char *)r.p : "");
		}
		return;
	}
	/* 2xx: RFC 6665 §4.1.2.1, its Expires is the duration granted. */
	uint32_t granted = m->ask;
	if (sip_msg_expires(resp, &granted) != 0) {
		granted = m->ask;
	}
	mwi_dialog_from(m, resp, sip_msg_to(resp)->tag);
	m->auth_tries = 0;
	if (granted == 0 || !m->rtag[0]) {
		mwi_drop(l, "%s",
		         granted ? "2xx without a To tag"
		                 : "the notifier granted no time");
		return;
	}
	m->granted = granted;
	m->expires_at = mono_s() + granted;
	m->st = MWI_ACTIVE;
	m->why[0] = 0;
	if (refresh) {
		m->refreshes++;
		m->fails = 0;
	}
	if (!p->conf.quiet) {
		log_info("phone",
		         "%s: line %s: MWI subscription %s in dialog %s, "
		         "expires %us",
		         p->name, l->dn, refresh ? "refreshed" : "granted",
		         m->call_id, granted);
	}
	mwi_timer_in(l, phone_mwi_refresh_in(granted));
}

/* A NOTIFY of the subscription (RFC 6665 §4.1.3), already answered: a
 * shorter expires= moves the refresh earlier; "terminated" ends the
 * dialog, and a new subscription follows unless the reason says not to. */
static void mwi_notified(struct phone_line *l, struct sip_msg *msg)
{
	struct phone_mwi_sub *m = &l->mwi;
	struct sip_substate ss;
	uint32_t d;

	if (sip_msg_substate(msg, &ss) != 0) {
		return;
	}
	if (slice_eq_str_nocase(ss.state, "terminated")) {
		if (m->st == MWI_UNSUBSCRIBING || m->st == MWI_IDLE) {
			m->st = MWI_IDLE;
			mwi_clear_dialog(m);
			return;
		}
		if (l->mwi.timer) {
			evtimer_del(l->mwi.timer);
		}
		snprintf(m->why, sizeof(m->why),
		         "terminated by the notifier%s%.*s",
		         ss.reason.len ? ": " : "", (int)ss.reason.len,
		         ss.reason.len ? (const char *)ss.reason.p : "");
		mwi_clear_dialog(m);
		if (!phone_mwi_resubscribe(ss.reason, ss.has_retry_after,
		                           ss.retry_after, ++m->fails, &d)) {
			m->st = MWI_ENDED;
			log_warn("phone", "%s: line %s: MWI subscription %s",
			         l->p->name, l->dn, m->why);
			return;
		}
		m->st = MWI_WAITING;
		if (!l->p->conf.quiet) {
			log_info("phone",
			         "%s: line %s: MWI subscription %s, a new one "
			         "in %us",
			         l->p->name, l->dn, m->why, d);
		}
		mwi_timer_in(l, d);
		return;
	}
	if (m->st == MWI_ACTIVE && ss.has_expires) {
		int64_t now = mono_s();
		if ((int64_t)ss.expires < m->expires_at - now) {
			m->expires_at = now + ss.expires;
			mwi_timer_in(
			        l, ss.expires ? phone_mwi_refresh_in(ss.expires)
			                      : 0);
		}
	}
}

/* The line whose subscription dialog msg (a NOTIFY) belongs to: its
 * Call-ID, our tag in To, and the notifier's tag in From once known. */
static struct phone_line *mwi_match(struct phone *p, struct sip_msg *msg)
{
	struct slice cid = sip_msg_call_id(msg);
	struct slice tt = sip_msg_to(msg)->tag;
	struct slice ft = sip_msg_from(msg)->tag;

	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_mwi_sub *m = &p->lines[i].mwi;
		if (m->call_id[0] && slice_eq_str(cid, m->call_id) &&
		    slice_eq_str(tt, m->ltag) &&
		    (!m->rtag[0] || slice_eq_str(ft, m->rtag))) {
			return &p->lines[i];
		}
	}
	return NULL;
}

static void reg_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                     void *arg)
{
	struct phone_line *l = arg;
	struct phone *p = l->p;
	char ruri[300];

	if (t != l->tsx || code < 200) {
		return;
	}
	evtimer_del(l->guard);
	sip_tsx_unref(l->tsx);
	l->tsx = NULL;
	snprintf(ruri, sizeof(ruri), "sip:%s:%u;transport=%s", p->cnf.host,
	         cm_port(p), tp_param(phone_tgt(p)->tp));
	if (code == 401 || code == 407) {
		struct buf h;
		buf_init(&h, 8192);
		if (l->auth_tries++ < 2 &&
		    answer_chal(p, l, resp, code, "REGISTER", ruri, &h) == 0) {
			buf_put(&h, "", 1);
			reg_send(l, (const char *)h.p);
		} else {
			reg_fail(l, 30, "%s",
			         l->password[0] ? "digest refused (wrong "
			                          "password?)"
			                        : "no password for the "
			                          "line");
		}
		buf_free_secret(&h);
		return;
	}
	if (code >= 200 && code < 300) {
		uint32_t exp = l->expires;
		struct sip_iter it;
		struct sip_contact c;
		uint32_t e;
		sip_msg_iter(&it, resp, SIP_HDR_CONTACT);
		if (sip_iter_contact(&it, &c) == 1 && c.has_expires) {
			exp = c.expires;
		} else if (sip_msg_expires(resp, &e) == 0) {
			exp = e;
		}
		if (l->expires == 0) {
			/* un-REGISTER done */
			l->st = REG_IDLE;
			return;
		}
		l->st = REG_OK;
		l->auth_tries = 0;
		if (!l->subscribed || l->mwi.st == MWI_IDLE) {
			l->subscribed = true;
			mwi_start(l);
		} else if (l->mwi.st == MWI_WAITING) {
			/* registered (again): a notifier that lost the line
			 * (a restart) knows it now */
			mwi_timer_in(l, 0);
		}
		snprintf(l->why, sizeof(l->why), "over %s, expires %us",
		         net_transport_name(phone_tgt(p)->tp), exp);
		phone_update_state(p);
		reg_again(l, exp > 20 ? exp / 2 : 10);
		return;
	}
	if (code == 503 && sip_msg_status(resp) == 0) {
		/* no response at all: the transport failed */
	}
	if (code == 408 || code == 503) {
		if (p->server_refused) {
			reg_fail(l, 30, "%s", p->server_refused_why);
		} else if (phone_tgt(p)->tp == NET_TLS) {
			reg_fail(l, 30,
			         "no answer over TLS: connection "
			         "failed or our certificate was "
			         "refused (%u)",
			         code);
		} else {
			reg_fail(l, 30, "no answer from the call manager (%u)",
			         code);
		}
		return;
	}
	struct slice r = resp ? sip_msg_reason(resp) : (struct slice){0};
	reg_fail(l, 60, "refused: %u %.*s", code, (int)r.len,
	         r.p ? (const char *)r.p : "");
}

static void reg_send(struct phone_line *l, const char *authz)
{
	struct phone *p = l->p;
	char ruri[300], to[200];
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	snprintf(ruri, sizeof(ruri), "sip:%s:%u;transport=%s", p->cnf.host,
	         cm_port(p), tp_param(phone_tgt(p)->tp));
	snprintf(to, sizeof(to), "sip:%.31s@%.160s", l->dn, p->cnf.host);
	err = start_req(p, &b, "REGISTER", ruri, l->dn, l->tag, to, NULL,
	                l->call_id, ++l->cseq);
	if (err) {
		goto out;
	}
	contact_hdr(p, &b, l->dn);
	buf_printf(&b, "Expires: %u\r\n" SUPPORTED, l->expires);
	if (authz) {
		buf_put_str(&b, authz);
	}
	err = sip_build_end(&b, (struct slice){0}, (struct slice){0});
	if (err) {
		goto out;
	}
	sip_tsx_unref(l->tsx);
	l->tsx = NULL;
	if (l->st != REG_OK) {
		l->st = REG_TRYING;
	}
	err = sip_stack_request(p->sip, &l->tsx, b.p, b.len, phone_tgt(p)->tp,
	                        &phone_tgt(p)->addr, reg_resp, l);
	if (!err) {
		struct timeval tv = {8, 0};
		evtimer_add(l->guard, &tv);
	}
out:
	buf_free_secret(&b);
	if (err) {
		reg_fail(l, 30, "REGISTER not sent: %s", tl_strerror(err));
	}
}

/* ---- TLS: the server must hold the CCM role in our CTL ---- */

static int verify_server(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                         void *arg)
{
	struct phone *p = arg;
	char subj[200] = "?";

	(void)chain;
	(void)preverify_ok; /* the CTL decides, not a CA chain */
	if (p->ctl && peer && trust_ctl_has_role(p->ctl, peer, TLV_ROLE_CCM)) {
		return 1;
	}
	if (peer) {
		X509_NAME_oneline(X509_get_subject_name(peer), subj,
		                  sizeof(subj));
	}
	p->server_refused = true;
	snprintf(p->server_refused_why, sizeof(p->server_refused_why),
	         "server certificate %.100s is not in the CTL (CCM role)",
	         subj);
	log_warn("phone", "%s: %s", p->name, p->server_refused_why);
	return 0;
}

/* The OpenSSL context every phone's registration connections share (a
 * fleet holds thousands of phones, and OpenSSL 3 makes a context far more
 * slowly than a handshake): each phone's TLS target is a derived context
 * with its own certificate, key and CTL check (verify_server). The base
 * itself trusts nothing. Made on first use on the loop thread, kept for
 * the life of the process. */
static int refuse_all(X509 *peer, STACK_OF(X509) * chain, int preverify_ok,
                      void *arg)
{
	(void)peer;
	(void)chain;
	(void)preverify_ok;
	(void)arg;
	return 0;
}

static struct net_tls *sip_tls_base(void)
{
	static struct net_tls *base;

	if (!base) {
		struct net_tls_conf tc = {
		        .role = NET_TLS_CLIENT,
		        .verify_h = refuse_all,
		};
		if (net_tls_new(&base, &tc) != 0) {
			base = NULL;
		}
	}
	return base;
}

/* ---- calls ---- */

static struct phone_line *line0(struct phone *p)
{
	return p->n_lines ? &p->lines[0] : NULL;
}

static bool call_srtp_allowed(const struct phone *p)
{
	/* RFC 4568 §8.3 / DESIGN.md: SDES keys only over TLS, and only an
	 * encrypted device negotiates SRTP. */
	return p->targets[p->active].tp == NET_TLS && p->cnf.security_mode == 3;
}

static void callinfo(struct phone *p, struct sip_msg *m)
{
	struct sip_iter it;
	struct sip_callinfo ci;

	sip_msg_iter(&it, m, SIP_HDR_CALL_INFO);
	while (sip_iter_callinfo(&it, &ci) == 1) {
		if (ci.security.p &&
		    ci.security.len < sizeof(p->call.security)) {
			memcpy(p->call.security, ci.security.p,
			       ci.security.len);
			p->call.security[ci.security.len] = 0;
		}
	}
}

enum sdp_kind { SDP_OFFER, SDP_ANSWER, SDP_REOFFER };

static TL_MUST_CHECK int build_sdp(struct phone *p, struct buf *b,
                                   const char *dir, enum sdp_kind k)
{
	struct phone_call *c = &p->call;
	bool srtp = k == SDP_OFFER ? call_srtp_allowed(p) : c->srtp;
	enum media_codec first = c->codec;
	enum media_codec second = first == MEDIA_PCMU ? MEDIA_PCMA : MEDIA_PCMU;
	char kp[MEDIA_SRTP_KEY_PARAMS_MAX];
	int err = 0;

	buf_printf(b,
	           "v=0\r\no=- %u %u IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
	           "t=0 0\r\n",
	           c->sdp_id, ++c->sdp_version, p->local_host, p->local_host);
	if (k == SDP_OFFER) {
		buf_printf(b, "m=audio %u %s %d %d 101\r\n", c->local_port,
		           srtp ? "RTP/SAVP" : "RTP/AVP", (int)first,
		           (int)second);
		buf_printf(b, "a=rtpmap:%d %s/8000\r\n", (int)first,
		           media_codec_name(first));
		buf_printf(b, "a=rtpmap:%d %s/8000\r\n", (int)second,
		           media_codec_name(second));
	} else {
		buf_printf(b, "m=audio %u %s %d 101\r\n", c->local_port,
		           srtp ? "RTP/SAVP" : "RTP/AVP", (int)first);
		buf_printf(b, "a=rtpmap:%d %s/8000\r\n", (int)first,
		           media_codec_name(first));
	}
	buf_put_str(b, "a=rtpmap:101 telephone-event/8000\r\n"
	               "a=fmtp:101 0-15\r\na=ptime:20\r\n");
	if (srtp && k == SDP_OFFER) {
		for (int i = 0; i < 2 && !err; i++) {
			err = media_srtp_key_format(&c->offer_keys[i], kp,
			                            sizeof(kp));
			buf_printf(
			        b, "a=crypto:%d %s %s\r\n", i + 1,
			        media_srtp_suite_name(c->offer_keys[i].suite),
			        kp);
		}
	} else if (srtp) {
		err = media_srtp_key_format(&c->tx, kp, sizeof(kp));
		buf_printf(b, "a=crypto:%d %s %s\r\n", c->crypto_tag,
		           media_srtp_suite_name(c->tx.suite), kp);
	}
	buf_printf(b, "a=%s\r\n", dir);
	OPENSSL_cleanse(kp, sizeof(kp));
	return err ? -TL_ECRYPTO : buf_err(b);
}

/* RFC 4568 §6.1 keys for an offer: both suites, the preferred first. */
static TL_MUST_CHECK int make_offer_keys(struct phone *p)
{
	struct phone_call *c = &p->call;
	enum media_srtp_suite a = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
	enum media_srtp_suite g = MEDIA_SRTP_AEAD_AES_128_GCM;
	int err;

	if (!call_srtp_allowed(p)) {
		return 0;
	}
	err = media_srtp_key_generate(&c->offer_keys[0],
	                              p->conf.prefer_gcm ? g : a);
	if (!err) {
		err = media_srtp_key_generate(&c->offer_keys[1],
		                              p->conf.prefer_gcm ? a : g);
	}
	return err;
}

/* Take an SDP body of the peer: an offer (is_offer) or the answer to our
 * offer (full: the offer of a new call or of a 2xx; else the re-offer of
 * our key), and make it the call's stream; nothing changes on an error
 * (RFC 3261 §14.2). */
static TL_MUST_CHECK int take_sdp(struct phone *p, struct slice body,
                                  bool is_offer, bool full, bool *hold)
{
	struct phone_call *c = &p->call;
	struct phone_sdp t;
	struct phone_neg n;
	int err = phone_sdp_read(&t, body, call_srtp_allowed(p));

	memset(&n, 0, sizeof(n));
	if (!err && is_offer) {
		err = phone_neg_offer(&n, c, &t);
	} else if (!err) {
		phone_neg_answer(&n, c, &t, full);
	}
	if (!err) {
		err = phone_neg_install(p, c, &n);
	}
	if (!err) {
		*hold = t.hold;
	}
	phone_sdp_wipe(&t);
	phone_neg_wipe(&n);
	return err;
}

static void call_reset(struct phone *p)
{
	struct phone_call *c = &p->call;

	phone_media_close(p, c);
	sip_tsx_unref(c->inv);
	OPENSSL_cleanse(c, sizeof(*c));
	c->st = CALL_IDLE;
}

void phone_call_end(struct phone *p, const char *why)
{
	struct phone_call *c = &p->call;

	if (c->st == CALL_IDLE || c->st == CALL_ENDED) {
		return;
	}
	if (!p->conf.quiet) {
		log_info("phone", "%s: call %s %s ended: %s", p->name,
		         c->outgoing ? "to" : "from", c->number, why);
	}
	if (c->ms) {
		media_session_stats(c->ms, &c->last_stats);
	}
	phone_media_close(p, c);
	sip_tsx_unref(c->inv);
	c->inv = NULL;
	snprintf(c->end_reason, sizeof(c->end_reason), "%s", why);
	c->st = CALL_ENDED;
}

static void send_ack(struct phone *p)
{
	struct phone_call *c = &p->call;
	struct phone_line *l = &p->lines[c->line];
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = start_req(p, &b, "ACK", c->remote_target, l->dn, c->ltag,
	                c->remote_uri, c->rtag, c->call_id, c->invite_cseq);
	if (!err) {
		err = sip_build_end(&b, (struct slice){0}, (struct slice){0});
	}
	if (!err) {
		err = sip_stack_send(p->sip, phone_tgt(p)->tp,
		                     &phone_tgt(p)->addr, b.p, b.len);
	}
	if (err) {
		log_warn("phone", "%s: ACK not sent: %s", p->name,
		         tl_strerror(err));
	}
	buf_free(&b);
}

static void inv_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                     void *arg);

static TL_MUST_CHECK int send_invite(struct phone *p, const char *authz,
                                     const char *dir)
{
	struct phone_call *c = &p->call;
	struct phone_line *l = &p->lines[c->line];
	struct buf b, sdp;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	buf_init(&sdp, SDP_MAX_SIZE);
	err = build_sdp(p, &sdp, dir,
	                c->st == CALL_ACTIVE ? SDP_REOFFER : SDP_OFFER);
	if (err) {
		goto out;
	}
	c->invite_cseq = ++c->cseq;
	err = start_req(p, &b, "INVITE",
	                c->st == CALL_ACTIVE ? c->remote_target : c->remote_uri,
	                l->dn, c->ltag, c->remote_uri, c->rtag, c->call_id,
	                c->invite_cseq);
	if (err) {
		goto out;
	}
	contact_hdr(p, &b, l->dn);
	buf_put_str(&b, ALLOW SUPPORTED);
	if (authz) {
		buf_put_str(&b, authz);
	}
	err = sip_build_end(&b, slice_from_str("application/sdp"),
	                    buf_slice(&sdp));
	if (err) {
		goto out;
	}
	sip_tsx_unref(c->inv);
	c->inv = NULL;
	err = sip_stack_request(p->sip, &c->inv, b.p, b.len, phone_tgt(p)->tp,
	                        &phone_tgt(p)->addr, inv_resp, p);
out:
	buf_free_secret(&b);
	buf_free_secret(&sdp);
	return err;
}

static void inv_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                     void *arg)
{
	struct phone *p = arg;
	struct phone_call *c = &p->call;

	if (t != c->inv) {
		/* a 2xx retransmission of an older INVITE: ACK it */
		if (resp && code >= 200 && code < 300 && c->st == CALL_ACTIVE) {
			send_ack(p);
		}
		return;
	}
	if (code < 200) {
		return;
	}
	if ((code == 401 || code == 407) && c->auth_tries++ < 2) {
		struct buf h;
		buf_init(&h, 8192);
		int err = answer_chal(
		        p, &p->lines[c->line], resp, code, "INVITE",
		        c->st == CALL_ACTIVE ? c->remote_target : c->remote_uri,
		        &h);
		buf_put(&h, "", 1);
		if (!err) {
			err = buf_err(&h);
		}
		if (!err) {
			err = send_invite(p, (const char *)h.p,
			                  c->held ? "sendonly" : "sendrecv");
		}
		buf_free_secret(&h);
		if (err) {
			phone_call_end(p, "authentication failed");
		}
		return;
	}
	if (code >= 300) {
		if (c->st == CALL_ACTIVE) {
			/* a refused re-INVITE leaves the call as it was */
			return;
		}
		char why[96];
		struct slice r =
		        resp ? sip_msg_reason(resp) : (struct slice){0};
		snprintf(why, sizeof(why), "%u %.*s", code, (int)r.len,
		         r.p ? (const char *)r.p : "");
		phone_call_end(p, why);
		return;
	}
	/* 2xx (also its retransmissions while Accepted). */
	const struct sip_addr *to = sip_msg_to(resp);
	if (c->rtag[0] == '\0' && to->tag.p && to->tag.len < sizeof(c->rtag)) {
		memcpy(c->rtag, to->tag.p, to->tag.len);
		c->rtag[to->tag.len] = 0;
	}
	struct sip_iter it;
	struct sip_contact ct;
	sip_msg_iter(&it, resp, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) == 1 &&
	    ct.addr.uri_raw.len < sizeof(c->remote_target)) {
		memcpy(c->remote_target, ct.addr.uri_raw.p,
		       ct.addr.uri_raw.len);
		c->remote_target[ct.addr.uri_raw.len] = 0;
	}
	callinfo(p, resp);
	send_ack(p);
	struct slice body = sip_msg_body(resp);
	bool hold;
	if (c->st == CALL_ACTIVE) {
		/* A re-INVITE's 2xx (hold, resume): the peer may answer our
		 * key with a new one of its own (RFC 4568 §7.1.4). */
		if (body.len && take_sdp(p, body, false, false, &hold) != 0) {
			log_warn("phone", "%s: re-INVITE answer not taken",
			         p->name);
		}
		return;
	}
	int err = take_sdp(p, body, false, true, &hold);
	if (!err) {
		err = phone_media_start(p, c, &c->remote);
	}
	c->st = CALL_ACTIVE;
	if (err) {
		log_warn("phone", "%s: media not started: %s", p->name,
		         tl_strerror(err));
	}
	if (!p->conf.quiet) {
		log_info("phone", "%s: call to %s answered, %s, %s %s", p->name,
		         c->number,
		         c->security[0] ? c->security : "no security status",
		         c->srtp ? "SRTP" : "RTP", media_codec_name(c->codec));
	}
}

static TL_MUST_CHECK int new_call(struct phone *p, bool outgoing)
{
	struct phone_call *c = &p->call;
	int err;

	call_reset(p);
	c->outgoing = outgoing;
	c->codec = p->conf.prefer_pcma ? MEDIA_PCMA : MEDIA_PCMU;
	rand_hex(c->ltag, 8);
	if (RAND_bytes((uint8_t *)&c->sdp_id, sizeof(c->sdp_id)) != 1) {
		c->sdp_id = 1;
	}
	c->sdp_id &= 0x7fffffff;
	if (outgoing) {
		rand_hex(c->call_id, 16);
		err = make_offer_keys(p);
		if (err) {
			return err;
		}
	}
	return phone_media_open(p, c);
}

int phone_dial(struct phone *p, const char *number)
{
	struct phone_call *c = &p->call;
	struct phone_line *l = line0(p);
	int err;

	if (!p->sip || !l || l->st != REG_OK) {
		return -TL_ESTATE;
	}
	if (c->st != CALL_IDLE && c->st != CALL_ENDED) {
		return -EBUSY;
	}
	for (const char *s = number; *s; s++) {
		if (!((*s >= '0' && *s <= '9') || *s == '*' || *s == '#' ||
		      *s == '+') ||
		    s - number > 30) {
			return -EINVAL;
		}
	}
	err = new_call(p, true);
	if (err) {
		call_reset(p);
		return err;
	}
	c->st = CALL_DIALING;
	c->line = 0;
	snprintf(c->number, sizeof(c->number), "%s", number);
	snprintf(c->remote_uri, sizeof(c->remote_uri), "sip:%.63s@%.180s",
	         number, p->cnf.host);
	err = send_invite(p, NULL, "sendrecv");
	if (err) {
		call_reset(p);
	}
	return err;
}

int phone_answer(struct phone *p)
{
	struct phone_call *c = &p->call;
	struct buf hdr, sdp;
	int err;

	if (c->st != CALL_RINGING || !c->inv) {
		return -TL_ESTATE;
	}
	buf_init(&hdr, 4096);
	buf_init(&sdp, SDP_MAX_SIZE);
	err = build_sdp(p, &sdp, "sendrecv", SDP_ANSWER);
	contact_hdr(p, &hdr, p->lines[c->line].dn);
	buf_put_str(&hdr, ALLOW SUPPORTED);
	if (!err) {
		err = buf_err(&hdr);
	}
	if (!err) {
		err = sip_tsx_reply(c->inv, 200, NULL, buf_slice(&hdr),
		                    slice_from_str("application/sdp"),
		                    buf_slice(&sdp));
	}
	buf_free(&hdr);
	buf_free_secret(&sdp);
	if (err) {
		return err;
	}
	c->st = CALL_ACTIVE;
	sip_tsx_unref(c->inv);
	c->inv = NULL;
	err = phone_media_start(p, c, &c->remote);
	if (err) {
		log_warn("phone", "%s: media not started: %s", p->name,
		         tl_strerror(err));
	}
	return 0;
}

static void send_in_dialog(struct phone *p, const char *method,
                           const char *extra)
{
	struct phone_call *c = &p->call;
	struct buf b;
	int err;

	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = start_req(p, &b, method, c->remote_target, p->lines[c->line].dn,
	                c->ltag, c->remote_uri, c->rtag, c->call_id, ++c->cseq);
	if (!err && extra) {
		buf_put_str(&b, extra);
	}
	if (!err) {
		err = sip_build_end(&b, (struct slice){0}, (struct slice){0});
	}
	if (!err) {
		err = sip_stack_request(p->sip, NULL, b.p, b.len,
		                        phone_tgt(p)->tp, &phone_tgt(p)->addr,
		                        NULL, NULL);
	}
	if (err) {
		log_warn("phone", "%s: %s not sent: %s", p->name, method,
		         tl_strerror(err));
	}
	buf_free(&b);
}

int phone_hangup(struct phone *p)
{
	struct phone_call *c = &p->call;

	switch (c->st) {
	case CALL_DIALING:
		if (c->inv && sip_tsx_cancel(c->inv) != 0) {
			return -TL_ESTATE;
		}
		phone_call_end(p, "cancelled");
		return 0;
	case CALL_RINGING:
		if (c->inv &&
		    sip_tsx_reply(c->inv, 603, NULL, (struct slice){0},
		                  (struct slice){0}, (struct slice){0}) != 0) {
			return -TL_ESTATE;
		}
		phone_call_end(p, "declined");
		return 0;
	case CALL_ACTIVE:
		send_in_dialog(p, "BYE", NULL);
		phone_call_end(p, "hung up");
		return 0;
	default:
		return -TL_ESTATE;
	}
}

static TL_MUST_CHECK int rehold(struct phone *p, bool hold)
{
	struct phone_call *c = &p->call;

	if (c->st != CALL_ACTIVE || c->held == hold) {
		return -TL_ESTATE;
	}
	c->held = hold;
	c->auth_tries = 0;
	phone_media_hold(c, !hold, !hold);
	/* seed 002: hold makes the status temporarily unknown until the
	 * call manager says again. */
	int err = send_invite(p, NULL, hold ? "sendonly" : "sendrecv");
	if (err) {
		c->held = !hold;
		phone_media_hold(c, hold, hold);
	}
	return err;
}

int phone_hold(struct phone *p)
{
	return rehold(p, true);
}

int phone_resume(struct phone *p)
{
	return rehold(p, false);
}

static void refer_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
                       void *arg)
{
	struct phone *p = arg;
	char why[96];

	(void)t;
	(void)resp;
	if (code < 200 || p->call.st != CALL_ACTIVE) {
		return;
	}
	if (code < 300) {
		/* RFC 3515 §2.4.5 / RFC 5589: a blind transfer leaves the
		 * call once the REFER is accepted. */
		send_in_dialog(p, "BYE", NULL);
		phone_call_end(p, "transferred");
	} else {
		snprintf(why, sizeof(why), "transfer refused (%u)", code);
		log_warn("phone", "%s: %s", p->name, why);
		snprintf(p->call.end_reason, sizeof(p->call.end_reason), "%s",
		         why);
	}
}

int phone_transfer(struct phone *p, const char *number)
{
	struct phone_call *c = &p->call;
	struct buf b;
	int err;

	if (c->st != CALL_ACTIVE) {
		return -TL_ESTATE;
	}
	for (const char *s = number; *s; s++) {
		if (!(*s >= '0' && *s <= '9') || s - number > 30) {
			return -EINVAL;
		}
	}
	buf_init(&b, SIP_MSG_MAX_SIZE);
	err = start_req(p, &b, "REFER", c->remote_target, p->lines[c->line].dn,
	                c->ltag, c->remote_uri, c->rtag, c->call_id, ++c->cseq);
	if (!err) {
		buf_printf(&b, "Refer-To: <sip:%s@%s>\r\n", number,
		           p->cnf.host);
		buf_printf(&b, "Referred-By: <sip:%s@%s>\r\n",
		           p->lines[c->line].dn, p->cnf.host);
		contact_hdr(p, &b, p->lines[c->line].dn);
		err = sip_build_end(&b, (struct slice){0}, (struct slice){0});
	}
	if (!err) {
		err = sip_stack_request(p->sip, NULL, b.p, b.len,
		                        phone_tgt(p)->tp, &phone_tgt(p)->addr,
		                        refer_resp, p);
	}
	buf_free(&b);
	return err;
}

int phone_dtmf(struct phone *p, const char *digits)
{
	struct phone_call *c = &p->call;

	if (c->st != CALL_ACTIVE || !c->ms) {
		return -TL_ESTATE;
	}
	for (const char *d = digits; *d; d++) {
		int err = media_session_send_dtmf(c->ms, *d, 100);
		if (err) {
			return err;
		}
	}
	return 0;
}

/* ---- incoming requests ---- */

static int ha1_lookup(void *arg, struct slice user, struct slice realm,
                      enum sip_auth_alg alg, uint8_t ha1[SIP_AUTH_HA1_MAX],
                      size_t *len)
{
	struct phone *p = arg;

	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_line *l = &p->lines[i];
		if (slice_eq_str(user, l->user) && l->password[0]) {
			return sip_auth_ha1(alg, user, realm,
			                    slice_from_str(l->password), ha1,
			                    len);
		}
	}
	return -TL_ENOTFOUND;
}

static void reply(const struct sip_stack_req *r, uint16_t code,
                  struct slice hdrs)
{
	if (r->tsx && sip_tsx_reply(r->tsx, code, NULL, hdrs, (struct slice){0},
	                            (struct slice){0}) != 0) {
		log_debug("phone", "reply %u not sent", code);
	}
}

/* seed 001: "Auth INVITE" / "Auth MWI": the phone challenges the request
 * and accepts it only with a correct digest for one of its lines, in the
 * realm it registers in. Returns true when the request may proceed. */
static bool authorized(struct phone *p, const struct sip_stack_req *r)
{
	struct sip_auth_outcome oc;
	const char *realm = p->realm[0] ? p->realm : p->cnf.host;
	struct buf h;
	int err;

	if (!p->cnf.auth_invite) {
		return true;
	}
	err = sip_auth_check_msg(p->auth_srv, r->msg, slice_from_str(realm),
	                         r->src, false, ha1_lookup, p, &oc);
	if (err) {
		reply(r, 500, (struct slice){0});
		return false;
	}
	if (oc.verdict == SIP_AUTH_OK) {
		p->auth_accepted++;
		return true;
	}
	p->auth_challenges++;
	buf_init(&h, 8192);
	err = sip_auth_challenge(p->auth_srv, slice_from_str(realm),
	                         sip_auth_addr(r->src),
	                         oc.verdict == SIP_AUTH_STALE, false, &h);
	if (!err) {
		reply(r, (uint16_t)sip_auth_status(oc.verdict, false),
		      buf_slice(&h));
	}
	buf_free(&h);
	return false;
}

static void on_invite(struct phone *p, const struct sip_stack_req *r)
{
	struct phone_call *c = &p->call;
	struct sip_msg *m = r->msg;
	const struct sip_addr *from = sip_msg_from(m);
	const struct sip_uri *ru = sip_msg_ruri(m);
	bool hold;
	int err;

	if (c->st != CALL_IDLE && c->st != CALL_ENDED) {
		reply(r, 486, (struct slice){0});
		return;
	}
	if (!authorized(p, r)) {
		return;
	}
	err = new_call(p, false);
	if (err) {
		reply(r, 500, (struct slice){0});
		call_reset(p);
		return;
	}
	/* Which line is called. */
	c->line = 0;
	for (size_t i = 0; ru && i < p->n_lines; i++) {
		if (slice_eq_str(ru->user, p->lines[i].dn)) {
			c->line = i;
		}
	}
	err = take_sdp(p, sip_msg_body(m), true, true, &hold);
	if (err) {
		reply(r, 488, (struct slice){0});
		call_reset(p);
		return;
	}
	struct slice cid = sip_msg_call_id(m);
	if (cid.len >= sizeof(c->call_id) || from->tag.len >= sizeof(c->rtag) ||
	    from->uri_raw.len >= sizeof(c->remote_uri)) {
		reply(r, 400, (struct slice){0});
		call_reset(p);
		return;
	}
	memcpy(c->call_id, cid.p, cid.len);
	memcpy(c->rtag, from->tag.p, from->tag.len);
	memcpy(c->remote_uri, from->uri_raw.p, from->uri_raw.len);
	memcpy(c->remote_target, from->uri_raw.p, from->uri_raw.len);
	struct sip_iter it;
	struct sip_contact ct;
	sip_msg_iter(&it, m, SIP_HDR_CONTACT);
	if (sip_iter_contact(&it, &ct) == 1 &&
	    ct.addr.uri_raw.len < sizeof(c->remote_target)) {
		memcpy(c->remote_target, ct.addr.uri_raw.p,
		       ct.addr.uri_raw.len);
		c->remote_target[ct.addr.uri_raw.len] = 0;
	}
	if (from->uri.user.len < sizeof(c->number)) {
		memcpy(c->number, from->uri.user.p, from->uri.user.len);
	}
	struct slice tt = sip_tsx_to_tag(r->tsx);
	if (tt.len < sizeof(c->ltag)) {
		memcpy(c->ltag, tt.p, tt.len);
		c->ltag[tt.len] = 0;
	}
	c->cseq = 1;
	(void)hold;
	callinfo(p, m);
	c->inv = sip_tsx_ref(r->tsx);
	c->st = CALL_RINGING;
	if (!p->conf.quiet) {
		log_info("phone", "%s: incoming call from %s%s", p->name,
		         c->number, c->srtp ? " (SRTP offered)" : "");
	}
	bool aa = p->conf.auto_answer;
	for (size_t i = 0; i < p->cnf.n_lines; i++) {
		if (p->cnf.lines[i].auto_answer && i == c->line) {
			aa = true;
		}
	}
	if (aa) {
		err = phone_answer(p);
		if (err) {
			phone_call_end(p, "answer failed");
		}
	} else {
		reply(r, 180, (struct slice){0});
	}
}

static bool in_dialog(struct phone *p, struct sip_msg *m)
{
	struct phone_call *c = &p->call;

	return c->st != CALL_IDLE && c->st != CALL_ENDED &&
	       slice_eq_str(sip_msg_call_id(m), c->call_id);
}

static void on_reinvite(struct phone *p, const struct sip_stack_req *r)
{
	struct phone_call *c = &p->call;
	struct slice body = sip_msg_body(r->msg);
	struct buf hdr, sdp;
	bool hold = false;
	int err = 0;

	if (c->st != CALL_ACTIVE || c->offer_in_2xx) {
		/* RFC 3261 §14.2: our offer is still waiting for its answer */
		reply(r, 491, (struct slice){0});
		return;
	}
	callinfo(p, r->msg);
	buf_init(&hdr, 4096);
	buf_init(&sdp, SDP_MAX_SIZE);
	contact_hdr(p, &hdr, p->lines[c->line].dn);
	if (body.len) {
		/* RFC 3264 §8: a new offer. The media may go elsewhere and
		 * come with new keys (RFC 4568 §7.1.4): see phone_neg_offer. A
		 * refused one leaves the call as it was (RFC 3261 §14.2). */
		if (take_sdp(p, body, true, true, &hold) != 0) {
			reply(r, 488, (struct slice){0});
			goto out;
		}
		c->remote_held = hold;
		err = build_sdp(p, &sdp,
		                c->remote_held
		                        ? "recvonly"
		                        : (c->held ? "sendonly" : "sendrecv"),
		                SDP_ANSWER);
	} else {
		/* RFC 3261 §14.2: no offer in the re-INVITE, so ours goes in
		 * the 2xx and the answer comes in the ACK. The call manager
		 * does this after a transfer (RFC 3725 §5) to let both ends
		 * of the new pair key their streams afresh: new keys of both
		 * suites, as for a new call. */
		err = make_offer_keys(p);
		if (!err) {
			err = build_sdp(p, &sdp,
			                c->held ? "sendonly" : "sendrecv",
			                SDP_OFFER);
		}
	}
	if (!err) {
		err = sip_tsx_reply(r->tsx, 200, NULL, buf_slice(&hdr),
		                    slice_from_str("application/sdp"),
		                    buf_slice(&sdp));
	}
	if (err) {
		reply(r, 500, (struct slice){0});
		goto out;
	}
	c->offer_in_2xx = body.len == 0;
	phone_media_hold(c, !c->held && !c->remote_held, !c->held);
out:
	buf_free(&hdr);
	buf_free_secret(&sdp);
}

/* RFC 3261 §13.2.2.4 / §14.2: the ACK of a 2xx that carried our offer
 * carries the answer. Without one the stream stays as it was. */
static void on_ack(struct phone *p, const struct sip_stack_req *r)
{
	struct phone_call *c = &p->call;
	struct slice body = sip_msg_body(r->msg);
	bool hold = false;

	if (!in_dialog(p, r->msg) || !c->offer_in_2xx) {
		return;
	}
	c->offer_in_2xx = false;
	if (!body.len) {
		log_warn("phone", "%s: ACK without an answer to our offer",
		         p->name);
		return;
	}
	if (take_sdp(p, body, false, true, &hold) != 0) {
		log_warn("phone", "%s: the answer in the ACK was not taken",
		         p->name);
		return;
	}
	c->remote_held = hold;
	phone_media_hold(c, !c->held && !c->remote_held, !c->held);
}

static void on_notify(struct phone *p, const struct sip_stack_req *r)
{
	struct slice body = sip_msg_body(r->msg);
	struct sip_event ev;
	struct phone_line *l = NULL;

	/* RFC 6665 §4.1.3: a NOTIFY of no subscription of ours gets 481,
	 * which ends it at the notifier (an old dialog we dropped). Other
	 * events (check-sync) are taken as before. */
	if (sip_msg_event(r->msg, &ev) == 0 &&
	    slice_eq_str(ev.package, "message-summary")) {
		l = mwi_match(p, r->msg);
		if (!l) {
			reply(r, 481, (struct slice){0});
			return;
		}
	}
	if (!authorized(p, r)) {
		return;
	}
	if (!l) {
		reply(r, 200, (struct slice){0});
		return;
	}
	/* It may come before the 2xx of the SUBSCRIBE (RFC 6665 §4.1.2.4). */
	mwi_dialog_from(&l->mwi, r->msg, sip_msg_from(r->msg)->tag);
	/* RFC 3842 §5.2: "Messages-Waiting: yes|no". */
	for (size_t i = 0; i + 14 <= body.len; i++) {
		if (i + 17 <= body.len &&
		    strncasecmp((const char *)body.p + i,
		                "Messages-Waiting:", 17) == 0) {
			size_t k = i + 17;
			while (k < body.len && body.p[k] == ' ') {
				k++;
			}
			p->mwi = k + 3 <= body.len &&
			         strncasecmp((const char *)body.p + k, "yes",
			                     3) == 0;
		}
		/* RFC 3842 §5.2: "Voice-Message: new/old" */
		if (i + 14 <= body.len &&
		    strncasecmp((const char *)body.p + i,
		                "Voice-Message:", 14) == 0) {
			unsigned nw = 0, od = 0;
			size_t k = i + 14;
			while (k < body.len && body.p[k] == ' ') {
				k++;
			}
			while (k < body.len && body.p[k] >= '0' &&
			       body.p[k] <= '9' && nw < 100000) {
				nw = nw * 10 + (unsigned)(body.p[k++] - '0');
			}
			if (k < body.len && body.p[k] == '/') {
				k++;
			}
			while (k < body.len && body.p[k] >= '0' &&
			       body.p[k] <= '9' && od < 100000) {
				od = od * 10 + (unsigned)(body.p[k++] - '0');
			}
			p->mwi_new = nw;
			p->mwi_old = od;
		}
	}
	reply(r, 200, (struct slice){0});
	mwi_notified(l, r->msg);
}

static void on_request(struct sip_stack *s, const struct sip_stack_req *r,
                       void *arg)
{
	struct phone *p = arg;
	struct sip_msg *m = r->msg;
	enum sip_method meth = sip_msg_method(m);

	(void)s;
	if (meth == SIP_M_ACK) {
		on_ack(p, r); /* the ACK to our 200 */
		return;
	}
	if (meth == SIP_M_NOTIFY) {
		on_notify(p, r);
		return;
	}
	if (meth == SIP_M_OPTIONS) {
		reply(r, 200, slice_from_str(ALLOW));
		return;
	}
	if (meth == SIP_M_INVITE && !sip_msg_to(m)->tag.p) {
		on_invite(p, r);
		return;
	}
	if (!in_dialog(p, m)) {
		reply(r, 481, (struct slice){0});
		return;
	}
	switch (meth) {
	case SIP_M_BYE:
		reply(r, 200, (struct slice){0});
		phone_call_end(p, "remote hung up");
		break;
	case SIP_M_UPDATE:
		/* cisco-formats.md §7: the callee learns the call security
		 * status in an UPDATE. */
		callinfo(p, m);
		reply(r, 200, (struct slice){0});
		break;
	case SIP_M_INVITE:
		on_reinvite(p, r);
		break;
	default:
		reply(r, 405, slice_from_str(ALLOW));
		break;
	}
}

static void on_cancel(struct sip_tsx *t, void *arg)
{
	struct phone *p = arg;

	if (p->call.inv == t && p->call.st == CALL_RINGING) {
		phone_call_end(p, "caller cancelled");
	}
}

/* ---- start / stop ---- */

static TL_MUST_CHECK int resolve(const char *host, uint16_t port,
                                 struct net_addr *out)
{
	struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
	int err;

	if (net_addr_set(out, host, port) == 0) {
		return 0;
	}
	if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai) {
		return -TL_ENOTFOUND;
	}
	err = net_addr_from_sa(out, ai->ai_addr, ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!err) {
		net_addr_set_port(out, port);
	}
	return err;
}

static const char *line_password(const struct phone *p, const char *dn)
{
	const char *bare = NULL;

	for (size_t i = 0; i < p->conf.n_passwords; i++) {
		const char *e = p->conf.passwords[i];
		const char *eq = strchr(e, '=');
		if (!eq) {
			bare = e;
		} else if ((size_t)(eq - e) == strlen(dn) &&
		           strncmp(e, dn, strlen(dn)) == 0) {
			return eq + 1;
		}
	}
	return bare;
}

int phone_sip_start(struct phone *p)
{
	struct net_addr bind;
	int err;

	if (p->sip) {
		return -TL_ESTATE;
	}
	p->active = PHONE_TARGET_PRIMARY;
	phone_tgt(p)->role = "primary";
	if (p->cnf.security_mode >= 2) {
		phone_tgt(p)->tp = NET_TLS;
	} else {
		phone_tgt(p)->tp = p->cnf.transport == 1 ? NET_TCP : NET_UDP;
	}
	err = resolve(p->cnf.host,
	              phone_tgt(p)->tp == NET_TLS ? p->cnf.sip_tls_port
	                                          : p->cnf.sip_port,
	              &phone_tgt(p)->addr);
	if (err) {
		snprintf(p->reason, sizeof(p->reason),
		         "register: call manager %.150s unknown", p->cnf.host);
		phone_step(p, STEP_REGISTER, STEP_FAILED, "%s", p->reason + 10);
		p->state = PHONE_UNREGISTERED;
		return err;
	}
	struct sip_stack_cfg sc = {
	        .base = p->base,
	        .request_h = on_request,
	        .cancel_h = on_cancel,
	        .arg = p,
	};
	err = sip_stack_new(&p->sip, &sc);
	if (err) {
		return err;
	}
	/* Auth INVITE / Auth MWI: one server (the call manager) answers
	 * this phone's challenges; small tables, not a registrar's */
	struct sip_auth_cfg ac = {.nc_slots = 64, .rl_slots = 64};
	err = sip_auth_new(&p->auth_srv, &ac);
	if (err) {
		return err;
	}
	if (phone_tgt(p)->tp == NET_TLS) {
		struct net_tls *base = sip_tls_base();
		struct net_tls_conf tc = {
		        .role = NET_TLS_CLIENT,
		        .cert = p->cert,
		        .key = p->key,
		        .verify_h = verify_server,
		        .verify_arg = p,
		};
		err = base ? net_tls_new_derived(&phone_tgt(p)->tls, base, &tc)
		           : -ENOMEM;
		if (err) {
			return err;
		}
		sip_stack_set_tls_client(p->sip, phone_tgt(p)->tls);
	} else {
		err = net_addr_set(&bind, p->local_host, 0);
		if (!err) {
			err = sip_stack_listen(p->sip, phone_tgt(p)->tp, &bind,
			                       NULL, &p->local);
		}
		if (!err && phone_tgt(p)->tp == NET_TCP) {
			/* UDP too, for what a stateless peer sends back */
			struct net_addr u = bind;
			struct net_addr ub;
			net_addr_set_port(&u, net_addr_port(&p->local));
			if (sip_stack_listen(p->sip, NET_UDP, &u, NULL, &ub) !=
			    0) {
				log_debug("phone", "no UDP beside TCP");
			}
		}
		if (err) {
			return err;
		}
	}
	p->n_lines = p->cnf.n_lines;
	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_line *l = &p->lines[i];
		const struct phone_cnf_line *cl = &p->cnf.lines[i];
		const char *pw;
		l->p = p;
		snprintf(l->dn, sizeof(l->dn), "%s", cl->dn);
		snprintf(l->user, sizeof(l->user), "%s", cl->auth_name);
		pw = cl->has_password ? cl->password : line_password(p, cl->dn);
		if (!pw && p->conf.password_prefix) {
			snprintf(l->password, sizeof(l->password), "%.60s%s",
			         p->conf.password_prefix, cl->dn);
		} else {
			snprintf(l->password, sizeof(l->password), "%s",
			         pw ? pw : "");
		}
		rand_hex(l->tag, 8);
		rand_hex(l->call_id, 16);
		l->expires = p->conf.register_expires ? p->conf.register_expires
		                                      : 3600;
		err = sip_auth_client_new(&l->auth);
		if (err) {
			return err;
		}
		/* The subscription asks for what the registration asks. */
		l->mwi.ask = l->expires;
		l->timer = evtimer_new(p->base, reg_timer, l);
		l->guard = evtimer_new(p->base, reg_guard, l);
		l->mwi.timer = evtimer_new(p->base, mwi_timer, l);
		if (!l->timer || !l->guard || !l->mwi.timer) {
			return -ENOMEM;
		}
	}
	p->state = PHONE_REGISTERING;
	phone_step(p, STEP_REGISTER, STEP_PENDING,
	           "registering %zu line(s) "
	           "over %s",
	           p->n_lines, net_transport_name(phone_tgt(p)->tp));
	for (size_t i = 0; i < p->n_lines; i++) {
		reg_send(&p->lines[i], NULL);
	}
	return 0;
}

void phone_shutdown(struct phone *p)
{
	if (!p->sip) {
		return;
	}
	if (p->call.st == CALL_ACTIVE || p->call.st == CALL_DIALING ||
	    p->call.st == CALL_RINGING) {
		if (phone_hangup(p) != 0) {
			phone_call_end(p, "shutdown");
		}
	}
	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_line *l = &p->lines[i];
		struct phone_mwi_sub *m = &l->mwi;
		if (m->timer) {
			evtimer_del(m->timer);
		}
		/* RFC 6665 §4.1.2.3: unsubscribe inside the dialog (the
		 * notifier answers with a final NOTIFY); a subscription not
		 * granted yet is only forgotten. */
		if ((m->st == MWI_ACTIVE || m->st == MWI_REFRESHING) &&
		    m->rtag[0]) {
			m->st = MWI_UNSUBSCRIBING;
			m->auth_tries = 0;
			mwi_send(l, 0, NULL);
		} else if (m->st != MWI_UNSUBSCRIBING) {
			m->st = MWI_IDLE;
			sip_tsx_unref(m->tsx);
			m->tsx = NULL;
		}
	}
	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_line *l = &p->lines[i];
		if (l->st == REG_OK) {
			l->expires = 0;
			l->auth_tries = 0;
			if (l->timer) {
				evtimer_del(l->timer);
			}
			reg_send(l, NULL);
		}
	}
}

void phone_sip_stop(struct phone *p)
{
	call_reset(p);
	for (size_t i = 0; i < p->n_lines; i++) {
		struct phone_line *l = &p->lines[i];
		sip_tsx_unref(l->tsx);
		l->tsx = NULL;
		if (l->timer) {
			event_free(l->timer);
			l->timer = NULL;
		}
		if (l->guard) {
			event_free(l->guard);
			l->guard = NULL;
		}
		sip_tsx_unref(l->mwi.tsx);
		l->mwi.tsx = NULL;
		if (l->mwi.timer) {
			event_free(l->mwi.timer);
			l->mwi.timer = NULL;
		}
		sip_auth_client_free(l->auth);
		l->auth = NULL;
	}
	sip_stack_free(p->sip);
	p->sip = NULL;
	for (size_t i = 0; i < PHONE_TARGET_MAX; i++) {
		net_tls_unref(p->targets[i].tls);
		p->targets[i].tls = NULL;
	}
	sip_auth_free(p->auth_srv);
	p->auth_srv = NULL;
}
