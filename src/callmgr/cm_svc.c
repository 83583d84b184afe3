/* The transaction user of `trustline serve`: OPTIONS, REGISTER (cm_reg),
 * calls (cm_call), message-waiting subscriptions (cm_mwi); everything
 * else is refused with the status RFC 3261 §8.2 asks for. */
#include "callmgr/cm_svc.h"

#include "base/log.h"
#include "callmgr/cm_call.h"
#include "callmgr/cm_int.h"
#include "callmgr/cm_mwi.h"
#include "callmgr/cm_reg.h"
#include "net/net_tls.h"
#include "sip/sip_auth.h"
#include "sip/sip_stack.h"

#include <errno.h>
#include <event2/event.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CM_ALLOW                                                               \
	"INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, UPDATE, SUBSCRIBE, "     \
	"REFER"
/* Option tags we implement (RFC 3261 §8.2.2.3: anything else in Require
 * is answered 420). */
static const char *const cm_supported[] = {"path", "outbound", "gruu", NULL};

struct cm_svc {
	struct event_base *base;
	struct store *st;
	struct sip_auth_srv *auth;
	struct cm_reg *reg;
	struct cm_calls *calls;
	struct cm_mwi *mwi;
	struct sip_stack *stack;
	struct net_tls *tls;
	struct event *tick;
	uint64_t generation;
	enum store_cluster_mode cluster_mode;
	struct cm_host h;
	/* the CRL file the TLS listener checks peers against, and what
	 * it looked like when last loaded (all 0: absent) */
	char *crl_file;
	struct crl_stamp {
		dev_t dev;
		ino_t ino;
		off_t size;
		struct timespec mtime;
	} crl_seen;
	char server[64];
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void reply(const struct sip_stack_req *r, uint16_t code,
                  const char *reason, const char *hdrs)
{
	int err = sip_tsx_reply(r->tsx, code, reason, slice_from_str(hdrs),
	                        SLICE_NULL, SLICE_NULL);

	if (err) {
		log_debug("sip", "reply %u failed: %s", code, tl_strerror(err));
	}
}

/* RFC 3261 §8.2.2.3: the first option tag in Require that we do not
 * support, or an empty slice. */
static int unsupported_tags(struct sip_msg *m, struct buf *hdrs)
{
	struct sip_iter it;
	struct slice tok;
	int n = 0;

	sip_msg_iter(&it, m, SIP_HDR_REQUIRE);
	while (sip_iter_token(&it, &tok) == 1) {
		bool known = false;
		for (const char *const *s = cm_supported; *s; s++) {
			known = known || slice_eq_str_nocase(tok, *s);
		}
		if (!known) {
			buf_put_str(hdrs, n++ ? ", " : "Unsupported: ");
			buf_put_slice(hdrs, tok);
		}
	}
	if (n) {
		buf_put_str(hdrs, "\r\n");
	}
	return n;
}

static bool accepts_sdp(struct sip_msg *m)
{
	struct sip_iter it;
	struct slice v;
	bool any = false;

	sip_msg_iter(&it, m, SIP_HDR_ACCEPT);
	while (sip_iter_next(&it, &v) == 1) {
		any = true;
		long semi = slice_find(v, ';');
		if (semi >= 0) {
			v.len = (size_t)semi;
		}
		v = slice_trim(v);
		if (slice_eq_str_nocase(v, "application/sdp") ||
		    slice_eq_str_nocase(v, "application/*") ||
		    slice_eq_str(v, "*/*")) {
			return true;
		}
	}
	return !any;
}

static void on_register(struct cm_svc *s, const struct sip_stack_req *r)
{
	struct cm_req_info info = {
	        .tp = r->tp,
	        .src = *r->src,
	        .peer_cn = r->peer_identity,
	        .now_ms = now_ms(),
	};
	struct cm_reg_answer ans = {0};
	int err;

	buf_init(&ans.hdrs, 16384);
	err = cm_reg_handle(s->reg, r->msg, &info, &ans);
	if (!err) {
		err = sip_tsx_reply(r->tsx, ans.code, ans.reason,
		                    buf_slice(&ans.hdrs), SLICE_NULL,
		                    SLICE_NULL);
	}
	if (err) {
		log_warn("registrar", "REGISTER not answered: %s",
		         tl_strerror(err));
		reply(r, 500, "Server Internal Error", "");
	}
	buf_free(&ans.hdrs);
}

static void on_request(struct sip_stack *stack, const struct sip_stack_req *r,
                       void *arg)
{
	struct cm_svc *s = arg;
	struct sip_msg *m = r->msg;
	enum sip_method meth = sip_msg_method(m);
	const struct sip_uri *ruri = sip_msg_ruri(m);
	const struct sip_ctype *ct;
	struct buf hdrs;

	if (!r->tsx) {
		/* An ACK to a 2xx: the call's business. */
		if (meth == SIP_M_ACK) {
			cm_calls_request(s->calls, r);
		}
		return;
	}
	buf_init(&hdrs, 4096);
	/* §8.2.1: methods we do not know at all. */
	switch (meth) {
	case SIP_M_REGISTER:
	case SIP_M_OPTIONS:
	case SIP_M_INVITE:
	case SIP_M_BYE:
	case SIP_M_CANCEL:
	case SIP_M_UPDATE:
	case SIP_M_SUBSCRIBE:
	case SIP_M_REFER:
		break;
	default:
		reply(r, 501, NULL, "Allow: " CM_ALLOW "\r\n");
		goto out;
	}
	/* §8.2.2.1: Request-URI schemes we do not serve. */
	if (ruri->scheme != SIP_URI_SIP && ruri->scheme != SIP_URI_SIPS) {
		reply(r, 416, NULL, "");
		goto out;
	}
	/* §8.2.2.3 */
	if (unsupported_tags(m, &hdrs) && meth != SIP_M_CANCEL) {
		buf_put(&hdrs, "", 1);
		if (buf_err(&hdrs) == 0) {
			reply(r, 420, NULL, (const char *)hdrs.p);
		}
		goto out;
	}
	switch (meth) {
	case SIP_M_REGISTER:
		on_register(s, r);
		break;
	case SIP_M_OPTIONS:
		reply(r, 200, NULL,
		      "Allow: " CM_ALLOW "\r\nAccept: application/sdp\r\n"
		      "Supported: path, outbound, gruu\r\n");
		break;
	case SIP_M_INVITE:
		/* §8.2.3: only SDP bodies; §8.2.2 Accept. */
		ct = sip_msg_ctype(m);
		if (sip_msg_body(m).len &&
		    (!ct || !slice_eq_str_nocase(ct->type, "application") ||
		     !slice_eq_str_nocase(ct->subtype, "sdp"))) {
			reply(r, 415, NULL, "Accept: application/sdp\r\n");
		} else if (!accepts_sdp(m)) {
			reply(r, 406, NULL, "");
		} else {
			cm_calls_request(s->calls, r);
		}
		break;
	case SIP_M_BYE:
	case SIP_M_UPDATE:
	case SIP_M_REFER:
		cm_calls_request(s->calls, r);
		break;
	case SIP_M_SUBSCRIBE:
		cm_mwi_request(s->mwi, r);
		break;
	default:
		reply(r, 501, NULL, "Allow: " CM_ALLOW "\r\n");
		break;
	}
out:
	buf_free(&hdrs);
}

static void on_cancel(struct sip_tsx *t, void *arg)
{
	struct cm_svc *s = arg;

	cm_calls_cancel(s->calls, t);
}

/* Cisco's unsolicited NOTIFY "Event: check-sync": the phone fetches its
 * configuration files again (new CTL/ITL, new security mode). */
static int notify_check_sync(const char *dn, const struct cm_binding *b,
                             void *arg)
{
	struct cm_svc *s = arg;
	struct cm_leg l = {.tp = b->tp, .dst = b->src};
	char tag[40];
	struct buf m;
	int err;

	buf_init(&m, 8192);
	if (cm_rand_token(tag, sizeof(tag)) != 0 ||
	    cm_rand_token(l.call_id, sizeof(l.call_id)) != 0) {
		buf_free(&m);
		return 0;
	}
	snprintf(l.target, sizeof(l.target), "%s", b->contact);
	snprintf(l.local, sizeof(l.local), "<sip:cm@%s>;tag=%s", s->h.host,
	         tag);
	snprintf(l.remote, sizeof(l.remote), "<%s>", b->contact);
	err = cm_build_req(&s->h, &m, "NOTIFY", &l, 1,
	                   "Event: check-sync\r\n"
	                   "Subscription-State: terminated\r\n",
	                   SLICE_NULL, SLICE_NULL);
	if (!err) {
		err = sip_stack_request(s->stack, NULL, m.p, m.len, l.tp,
		                        &l.dst, NULL, NULL);
	}
	if (err) {
		log_warn("sip", "check-sync to %s not sent: %s", dn,
		         tl_strerror(err));
	}
	buf_free(&m);
	return 0;
}

/* seed 002: a change of cluster security mode makes every registered
 * phone reset and fetch its files again. */
static void check_cluster_mode(struct cm_svc *s)
{
	enum store_cluster_mode mode;

	if (store_cluster_mode_get(s->st, &mode) != 0 ||
	    mode == s->cluster_mode) {
		return;
	}
	log_info("sip",
	         "cluster mode now %s: NOTIFY check-sync to %u "
	         "registrations",
	         store_cluster_mode_name(mode), cm_reg_count(s->reg));
	s->cluster_mode = mode;
	cm_reg_each(s->reg, now_ms(), notify_check_sync, s);
}

/* The ring time from the site settings (`trustline calls ring-time`). */
static void load_settings(struct cm_svc *s)
{
	char v[32];
	unsigned ms = 0;

	if (store_setting_get(s->st, CM_RING_SETTING, v, sizeof(v)) == 0) {
		long secs = strtol(v, NULL, 10);
		ms = secs >= 1 && secs <= 3600 ? (unsigned)secs * 1000 : 0;
	}
	cm_calls_set_no_answer(s->calls, ms);
}

static void crl_stat(const char *path, struct crl_stamp *out)
{
	struct stat sb;

	memset(out, 0, sizeof(*out));
	if (path != NULL && stat(path, &sb) == 0) {
		out->dev = sb.st_dev;
		out->ino = sb.st_ino;
		out->size = sb.st_size;
		out->mtime = sb.st_mtim;
	}
}

/* `trustline ca revoke` rewrites pki/crl.pem (temporary file and rename)
 * in another process: a new inode, size or mtime means a new CRL, which
 * the next TLS handshake must see (DESIGN: revoked certificates are
 * refused) without a restart. */
static void check_crl(struct cm_svc *s)
{
	struct crl_stamp now;
	int err;

	if (s->tls == NULL || s->crl_file == NULL) {
		return;
	}
	crl_stat(s->crl_file, &now);
	if (now.ino == 0 ||
	    (now.dev == s->crl_seen.dev && now.ino == s->crl_seen.ino &&
	     now.size == s->crl_seen.size &&
	     now.mtime.tv_sec == s->crl_seen.mtime.tv_sec &&
	     now.mtime.tv_nsec == s->crl_seen.mtime.tv_nsec)) {
		return;
	}
	err = net_tls_reload_crl(s->tls, s->crl_file);
	if (err) {
		/* keep the old CRL; try again when the file changes */
		log_warn("sip", "CRL %s not reloaded: %s", s->crl_file,
		         tl_strerror(err));
	} else {
		log_info("sip", "CRL %s reloaded", s->crl_file);
	}
	s->crl_seen = now;
}

/* Once a second: drop expired bindings, bring the lines up to date when
 * the database changed, reload the CRL when its file changed. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct cm_svc *s = arg;
	uint64_t gen;
	unsigned lines = 0;

	cm_reg_expire(s->reg, now_ms());
	if (store_generation(s->st, &gen) == 0 && gen != s->generation) {
		/* Only what changed since the last tick is read again: a
		 * boot storm's enrolments change a device each, not the
		 * site, and a full reload is O(devices) every second. */
		if (cm_reg_refresh(s->reg, &lines) == 0) {
			s->generation = gen;
			load_settings(s);
			check_cluster_mode(s);
		}
	}
	/* `trustline mwi set` runs in another process: a changed line (its
	 * MWI state is the line's) is how we learn of it. */
	cm_mwi_tick(s->mwi, now_ms(), lines != 0);
	check_crl(s);
}

/* TLS clients are verified against the site CA and the manufacturer CA;
 * a client without a certificate is let through here and refused by the
 * registrar when its profile needs one. */
static int listen_all(struct cm_svc *s, const struct cm_svc_conf *conf)
{
	struct net_addr a;
	int err;

	err = net_addr_set(&a, conf->listen, conf->port);
	if (err) {
		log_err("sip", "bad listen address %s", conf->listen);
		return err;
	}
	err = sip_stack_listen(s->stack, NET_UDP, &a, NULL, NULL);
	if (!err) {
		err = sip_stack_listen(s->stack, NET_TCP, &a, NULL, NULL);
	}
	if (err) {
		log_err("sip", "cannot listen on %s port %u: %s", conf->listen,
		        conf->port, tl_strerror(err));
		return err;
	}
	if (!conf->tls_port) {
		return 0;
	}
	/* a CRL that appears after the start is picked up by the tick */
	crl_stat(conf->crl_file, &s->crl_seen);
	struct net_tls_conf tc = {
	        .role = NET_TLS_SERVER,
	        .cert_file = conf->cert_file,
	        .key_file = conf->key_file,
	        .cert2_file = conf->cert2_file,
	        .key2_file = conf->key2_file,
	        .ca_file = conf->client_ca_file,
	        .crl_file = s->crl_seen.ino != 0 ? conf->crl_file : NULL,
	        /* The manufacturer's CA publishes no CRL to us: MICs are
	         * checked by chain and time; LSCs against the site CRL. */
	        .crl_missing_ok = true,
	        .client_auth = conf->client_ca_file
	                               ? NET_TLS_CLIENT_CERT_OPTIONAL
	                               : NET_TLS_CLIENT_CERT_NONE,
	        .keylog_file = conf->keylog_file,
	};
	err = net_tls_new(&s->tls, &tc);
	if (err) {
		log_err("sip", "TLS setup failed (%s): %s", conf->cert_file,
		        tl_strerror(err));
		return err;
	}
	net_addr_set_port(&a, conf->tls_port);
	err = sip_stack_listen(s->stack, NET_TLS, &a, s->tls, NULL);
	if (err) {
		log_err("sip", "cannot listen on %s port %u (TLS): %s",
		        conf->listen, conf->tls_port, tl_strerror(err));
	}
	return err;
}

int cm_svc_new(struct cm_svc **out, struct event_base *base, struct store *st,
               const struct cm_svc_conf *conf)
{
	struct cm_svc *s = calloc(1, sizeof(*s));
	/* Room to remember nonce counts of ~2,000 registrations per second
	 * over a whole nonce lifetime before evicting (8 MiB). */
	struct sip_auth_cfg acfg = {.nc_slots = 1u << 18};
	struct cm_reg_conf rconf = {
	        .realm = conf->realm,
	        .md5_first = conf->digest_md5_first,
	        .md5_only = conf->digest_md5_only,
	};
	struct timeval one = {1, 0};
	int err;

	if (!s) {
		return -ENOMEM;
	}
	s->base = base;
	s->st = st;
	if (conf->crl_file != NULL) {
		s->crl_file = strdup(conf->crl_file);
		if (s->crl_file == NULL) {
			err = -ENOMEM;
			goto fail;
		}
	}
	err = sip_auth_new(&s->auth, &acfg);
	if (err) {
		goto fail;
	}
	err = cm_reg_new(&s->reg, st, s->auth, &rconf);
	if (err) {
		log_err("registrar", "cannot load lines: %s", tl_strerror(err));
		goto fail;
	}
	if (store_generation(st, &s->generation) != 0) {
		s->generation = 0;
	}
	struct sip_stack_cfg scfg = {
	        .base = base,
	        .request_h = on_request,
	        .cancel_h = on_cancel,
	        .arg = s,
	        .t1_ms = conf->t1_ms,
	        .net_conf = conf->net_conf,
	};
	err = sip_stack_new(&s->stack, &scfg);
	if (err) {
		goto fail;
	}
	err = listen_all(s, conf);
	if (err) {
		goto fail;
	}
	struct cm_calls_conf cconf = {
	        .host = conf->listen,
	        .port = conf->port,
	        .tls_port = conf->tls_port,
	        .no_answer_ms = conf->no_answer_ms,
	        .store_gen = &s->generation,
	};
	err = cm_calls_new(&s->calls, base, s->stack, s->reg, st, &cconf);
	if (err) {
		goto fail;
	}
	load_settings(s);
	cm_host_set(&s->h, conf->listen, conf->port, conf->tls_port);
	if (store_cluster_mode_get(st, &s->cluster_mode) != 0) {
		s->cluster_mode = STORE_CLUSTER_NONSECURE;
	}
	struct cm_mwi_conf mconf = {
	        .host = conf->listen,
	        .port = conf->port,
	        .tls_port = conf->tls_port,
	};
	err = cm_mwi_new(&s->mwi, s->stack, s->reg, st, &mconf);
	if (err) {
		goto fail;
	}
	s->tick = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (!s->tick || event_add(s->tick, &one) != 0) {
		err = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	cm_svc_free(s);
	return err;
}

void cm_svc_free(struct cm_svc *s)
{
	if (!s) {
		return;
	}
	if (s->tick) {
		event_free(s->tick);
	}
	cm_calls_free(s->calls);
	cm_mwi_free(s->mwi);
	sip_stack_free(s->stack);
	net_tls_unref(s->tls);
	cm_reg_free(s->reg);
	sip_auth_free(s->auth);
	free(s->crl_file);
	free(s);
}
