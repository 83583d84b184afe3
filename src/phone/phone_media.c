/* The phone's media glue: one media_session per call (src/media), keyed
 * by the SDES keys negotiated here for the SDP that phone_sip.c carries;
 * audio from a WAV file or a tone, received audio to a WAV file and
 * through a Goertzel detector. */
#include "phone/phone_int.h"

#include "base/log.h"
#include "codec/sdp/sdp.h"

#include <openssl/crypto.h>
#include <string.h>

static void on_audio(const int16_t *pcm, size_t n, void *arg)
{
	struct phone *p = arg;
	struct phone_call *c = &p->call;
	unsigned hz = p->conf.detect_hz ? p->conf.detect_hz : 1000;

	c->frames++;
	if (media_tone_detect(pcm, n, (double)hz)) {
		c->tone_frames++;
		/* A quarter second of tone is a tone heard. */
		if (c->tone_frames >= 12) {
			c->tone_heard = true;
		}
	}
}

static void on_dtmf(char digit, unsigned ms, void *arg)
{
	struct phone *p = arg;
	struct phone_call *c = &p->call;
	size_t l = strlen(c->dtmf);

	(void)ms;
	if (l + 1 < sizeof(c->dtmf)) {
		c->dtmf[l] = digit;
		c->dtmf[l + 1] = 0;
	}
}

int phone_media_open(struct phone *p, struct phone_call *c)
{
	struct media_session_conf mc = {
	        .codec = c->codec,
	        .dtmf_pt = MEDIA_DTMF_PT_DEFAULT,
	        .on_dtmf = on_dtmf,
	        .arg = p,
	};
	struct net_addr local;
	int err = net_addr_set(&mc.local, p->local_host, 0);

	if (err) {
		return err;
	}
	err = media_session_new(&c->ms, p->base, &mc);
	if (err) {
		return err;
	}
	media_session_local(c->ms, &local);
	c->local_port = net_addr_port(&local);
	return 0;
}

int phone_media_start(struct phone *p, struct phone_call *c,
                      const struct net_addr *remote)
{
	int err;

	if (!c->ms) {
		return -TL_ESTATE;
	}
	err = media_session_set_codec(c->ms, c->codec);
	if (!err && c->srtp) {
		err = media_session_set_srtp(c->ms, &c->tx, &c->rx);
	}
	if (!err) {
		err = media_session_set_remote(c->ms, remote);
	}
	if (!err && p->conf.play_wav) {
		err = media_session_send_wav(c->ms, p->conf.play_wav, true);
	} else if (!err && p->conf.tone_hz) {
		err = media_session_send_tone(c->ms, p->conf.tone_hz, 0, 8000);
	}
	if (!err && p->conf.rec_wav) {
		err = media_session_record_wav(c->ms, p->conf.rec_wav);
	}
	if (!err) {
		media_session_set_sink(c->ms, on_audio, p);
		err = media_session_start(c->ms);
	}
	return err;
}

void phone_media_close(struct phone *p, struct phone_call *c)
{
	if (!c->ms) {
		return;
	}
	media_session_stats(c->ms, &c->last_stats);
	int err = media_session_stop(c->ms);
	if (err) {
		log_warn("phone", "%s: recording not finished: %s", p->name,
		         tl_strerror(err));
	}
	media_session_free(c->ms);
	c->ms = NULL;
	media_srtp_key_wipe(&c->tx);
	media_srtp_key_wipe(&c->rx);
	media_srtp_key_wipe(&c->offer_keys[0]);
	media_srtp_key_wipe(&c->offer_keys[1]);
}

void phone_media_hold(struct phone_call *c, bool send, bool recv)
{
	if (c->ms) {
		media_session_set_direction(c->ms, send, recv);
	}
}

/* ---- SDP offer/answer for the stream (RFC 3264, RFC 4568) ---- */

void phone_sdp_wipe(struct phone_sdp *t)
{
	OPENSSL_cleanse(t, sizeof(*t));
}

void phone_neg_wipe(struct phone_neg *n)
{
	OPENSSL_cleanse(n, sizeof(*n));
}

static bool key_eq(const struct media_srtp_key *a,
                   const struct media_srtp_key *b)
{
	return a->suite == b->suite && a->len == b->len &&
	       a->len <= sizeof(a->key) &&
	       CRYPTO_memcmp(a->key, b->key, a->len) == 0;
}

int phone_sdp_read(struct phone_sdp *t, struct slice body, bool srtp_ok)
{
	struct sdp *s = NULL;
	struct sdp_media m;
	char host[64];
	int err = sdp_new(&s);

	memset(t, 0, sizeof(*t));
	if (!err) {
		err = sdp_parse(s, body.p, body.len);
	}
	if (!err) {
		err = sdp_media_get(s, 0, &m);
	}
	if (err) {
		goto out;
	}
	t->hold = sdp_on_hold(s);
	if (slice_to_cstr(m.conn_addr, host, sizeof(host)) != 0 ||
	    net_addr_set(&t->remote, host, m.port) != 0) {
		err = -TL_EPARSE;
		goto out;
	}
	t->has_remote = m.port != 0 && strcmp(host, "0.0.0.0") != 0;
	/* The first G.711 format listed. */
	bool found = false;
	struct slice f = m.fmts;
	while (f.len && !found) {
		size_t i = 0;
		while (i < f.len && f.p[i] != ' ') {
			i++;
		}
		struct slice tok = slice_make(f.p, i);
		if (slice_eq_str(tok, "0") || slice_eq_str(tok, "8")) {
			t->codec = tok.p[0] == '0' ? MEDIA_PCMU : MEDIA_PCMA;
			found = true;
		}
		f = i < f.len ? slice_make(f.p + i + 1, f.len - i - 1)
		              : slice_make(f.p, 0);
	}
	if (!found) {
		err = -TL_EUNKNOWN;
		goto out;
	}
	if (!srtp_ok || !m.savp) {
		goto out; /* keys only over TLS; plain RTP otherwise */
	}
	for (size_t j = 0; j < m.n_crypto && t->n_keys < PHONE_SDP_KEYS_MAX;
	     j++) {
		struct sdp_crypto cr;
		enum media_srtp_suite suite;
		if (sdp_crypto_get(s, 0, j, &cr) != 0 ||
		    media_srtp_suite_parse(cr.suite, &suite) != 0 ||
		    (suite != MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 &&
		     suite != MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 &&
		     suite != MEDIA_SRTP_AEAD_AES_128_GCM) ||
		    cr.tag < 1 || cr.tag > 999999999 ||
		    media_srtp_key_parse(&t->keys[t->n_keys].key, suite,
		                         cr.key_params) != 0) {
			continue;
		}
		t->keys[t->n_keys++].tag = (int)cr.tag;
	}
out:
	sdp_free(s);
	return err;
}

/* Our answer to an offer: the first crypto line we support (RFC 4568
 * §7.1.2: same tag and suite, our own key). On a re-offer (RFC 4568
 * §7.1.4) the peer may keep its key or send a new one, and the media may
 * now go to another party (the call manager re-points a transferee at
 * the transfer target, RFC 3725). A new peer key is installed; and we
 * answer with a fresh key of our own whenever the peer's key or address
 * changed: the key we sent before is known to whoever held the other end
 * until now (the transferor, after a transfer), and must not protect
 * what goes to someone else. Only an unchanged re-offer (hold, resume)
 * keeps both keys. */
int phone_neg_offer(struct phone_neg *n, const struct phone_call *c,
                    const struct phone_sdp *t)
{
	bool active = c->st == CALL_ACTIVE;
	size_t pick = 0;
	bool same_key = false;

	memset(n, 0, sizeof(*n));
	n->codec = t->codec;
	n->remote = active && !t->has_remote ? c->remote : t->remote;
	n->has_remote = t->has_remote || !active;
	if (t->n_keys == 0) {
		return 0;
	}
	if (active && c->srtp) {
		for (size_t i = 0; i < t->n_keys; i++) {
			if (key_eq(&t->keys[i].key, &c->rx)) {
				pick = i;
				same_key = true;
				break;
			}
		}
	}
	bool moved =
	        active && t->has_remote && !net_addr_eq(&t->remote, &c->remote);
	n->srtp = true;
	n->tag = t->keys[pick].tag;
	n->rx = t->keys[pick].key;
	if (same_key && !moved && c->tx.suite == n->rx.suite) {
		n->tx = c->tx;
		return 0;
	}
	n->fresh_tx = true;
	return media_srtp_key_generate(&n->tx, n->rx.suite);
}

void phone_neg_answer(struct phone_neg *n, const struct phone_call *c,
                      const struct phone_sdp *t, bool full)
{
	memset(n, 0, sizeof(*n));
	n->codec = t->codec;
	n->remote = t->has_remote ? t->remote : c->remote;
	n->has_remote = true;
	for (size_t i = 0; i < t->n_keys; i++) {
		int tag = t->keys[i].tag;
		const struct media_srtp_key *mine = NULL;
		if (full && tag >= 1 && tag <= 2 &&
		    c->offer_keys[tag - 1].suite == t->keys[i].key.suite) {
			mine = &c->offer_keys[tag - 1];
		} else if (!full && c->srtp && tag == c->crypto_tag &&
		           c->tx.suite == t->keys[i].key.suite) {
			mine = &c->tx;
		}
		if (mine) {
			n->srtp = true;
			n->tag = tag;
			n->tx = *mine;
			n->rx = t->keys[i].key;
			return;
		}
	}
}

int phone_neg_install(struct phone *p, struct phone_call *c,
                      const struct phone_neg *n)
{
	bool keys = n->srtp != c->srtp ||
	            (n->srtp &&
	             (!key_eq(&n->tx, &c->tx) || !key_eq(&n->rx, &c->rx)));
	bool moved = n->has_remote && !net_addr_eq(&n->remote, &c->remote);
	int err = 0;

	if (c->st == CALL_ACTIVE && c->ms) {
		if (keys) {
			err = media_session_set_srtp(c->ms,
			                             n->srtp ? &n->tx : NULL,
			                             n->srtp ? &n->rx : NULL);
		}
		if (!err && n->codec != c->codec) {
			err = media_session_set_codec(c->ms, n->codec);
		}
		if (err) {
			return err;
		}
		if (moved && media_session_set_remote(c->ms, &n->remote) != 0) {
			log_warn("phone", "%s: media address refused", p->name);
		}
		if (keys && !p->conf.quiet) {
			log_info("phone", "%s: %s%s", p->name,
			         n->srtp ? "SRTP re-keyed" : "plain RTP",
			         moved ? ", media moved" : "");
		}
	}
	c->codec = n->codec;
	if (n->has_remote) {
		c->remote = n->remote;
	}
	c->srtp = n->srtp;
	if (n->srtp) {
		c->tx = n->tx;
		c->rx = n->rx;
		c->crypto_tag = n->tag;
		c->suite = n->rx.suite;
		c->have_keys = true;
	}
	return 0;
}
