/* SRTP cost per packet in the phone's media path against libsrtp2's raw
 * srtp_protect + srtp_unprotect, measured in the same run.
 *
 * A packet is a 12-byte RTP header and a 160-byte G.711 payload (20 ms at
 * 8 kHz), each one a new sequence number and timestamp. For each suite,
 * three loops do one protect and one unprotect per packet:
 *   raw      the RTP header written by hand, srtp_protect, srtp_unprotect
 *            (libsrtp2 alone, ssrc_any_outbound / ssrc_any_inbound);
 *   wrapper  media_rtp_build, media_srtp_protect, media_srtp_unprotect;
 *   session  media_session_pack on one session (header, sequence number,
 *            protect) and media_session_input on its peer (unprotect,
 *            parse, RFC 3550 sequence and loss accounting, G.711 decode),
 *            exactly what the session does per packet minus the socket.
 * Each loop runs in rounds, interleaved, and the best round counts (other
 * processes share the CPU). Times are per packet, thread CPU time.
 *
 *   srtp_bench [SECONDS_PER_SUITE]
 * Output: one line per suite and loop, then the ratios. */
#include "media/media.h"

#include <event2/event.h>
#include <srtp2/srtp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUND_PACKETS 20000
#define PAYLOAD       MEDIA_FRAME_SAMPLES

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "srtp_bench: %s: %d\n", what, err);
	exit(1);
}

static uint8_t payload[PAYLOAD];
static volatile uint64_t sink_bytes; /* keeps the loops' work observable */

/* ---- raw libsrtp2 ---- */

struct raw {
	srtp_t tx, rx;
	uint16_t seq;
	uint32_t ts;
};

static void raw_policy(srtp_policy_t *p, enum media_srtp_suite suite,
                       uint8_t *key, srtp_ssrc_type_t type)
{
	memset(p, 0, sizeof(*p));
	switch (suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case MEDIA_SRTP_AEAD_AES_128_GCM:
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	default:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	}
	p->ssrc.type = type;
	p->key = key;
	p->window_size = 1024;
}

static void raw_new(struct raw *r, const struct media_srtp_key *k)
{
	srtp_policy_t p;
	uint8_t key[MEDIA_SRTP_KEY_MAX];

	memcpy(key, k->key, k->len);
	raw_policy(&p, k->suite, key, ssrc_any_outbound);
	if (srtp_create(&r->tx, &p) != srtp_err_status_ok) {
		die("srtp_create", 0);
	}
	raw_policy(&p, k->suite, key, ssrc_any_inbound);
	if (srtp_create(&r->rx, &p) != srtp_err_status_ok) {
		die("srtp_create", 0);
	}
	r->seq = 1;
	r->ts = 0;
}

static void raw_round(struct raw *r, size_t n)
{
	uint8_t pkt[MEDIA_RTP_HDR_LEN + PAYLOAD + SRTP_MAX_TRAILER_LEN];

	for (size_t i = 0; i < n; i++) {
		int len = MEDIA_RTP_HDR_LEN + PAYLOAD;

		pkt[0] = 0x80;
		pkt[1] = 0;
		pkt[2] = (uint8_t)(r->seq >> 8);
		pkt[3] = (uint8_t)r->seq;
		pkt[4] = (uint8_t)(r->ts >> 24);
		pkt[5] = (uint8_t)(r->ts >> 16);
		pkt[6] = (uint8_t)(r->ts >> 8);
		pkt[7] = (uint8_t)r->ts;
		memcpy(pkt + 8, "\x12\x34\x56\x78", 4);
		memcpy(pkt + MEDIA_RTP_HDR_LEN, payload, PAYLOAD);
		r->seq++;
		r->ts += PAYLOAD;
		if (srtp_protect(r->tx, pkt, &len) != srtp_err_status_ok) {
			die("srtp_protect", 0);
		}
		if (srtp_unprotect(r->rx, pkt, &len) != srtp_err_status_ok) {
			die("srtp_unprotect", 0);
		}
		sink_bytes += (uint64_t)len;
	}
}

/* ---- the wrapper ---- */

struct wrap {
	struct media_srtp *tx, *rx;
	struct media_rtp_hdr h;
};

static void wrap_new(struct wrap *w, const struct media_srtp_key *k)
{
	int err = media_srtp_new(&w->tx, k, k);

	if (!err) {
		err = media_srtp_new(&w->rx, k, k);
	}
	if (err) {
		die("media_srtp_new", err);
	}
	memset(&w->h, 0, sizeof(w->h));
	w->h.ssrc = 0x12345678;
	w->h.seq = 1;
}

static void wrap_round(struct wrap *w, size_t n)
{
	uint8_t pkt[MEDIA_RTP_HDR_LEN + PAYLOAD + MEDIA_SRTP_TRAILER_MAX];

	for (size_t i = 0; i < n; i++) {
		size_t len;
		int err = media_rtp_build(&w->h, slice_make(payload, PAYLOAD),
		                          pkt, sizeof(pkt), &len);

		w->h.seq++;
		w->h.ts += PAYLOAD;
		if (!err) {
			err = media_srtp_protect(w->tx, pkt, &len, sizeof(pkt));
		}
		if (!err) {
			err = media_srtp_unprotect(w->rx, pkt, &len);
		}
		if (err) {
			die("wrapper", err);
		}
		sink_bytes += len;
	}
}

/* ---- the session path ---- */

struct sess {
	struct media_session *tx, *rx;
	uint32_t ts;
};

static void sess_new(struct sess *s, struct event_base *base,
                     const struct media_srtp_key *k)
{
	struct media_session_conf c;
	int err;

	memset(&c, 0, sizeof(c));
	if (net_addr_set(&c.local, "127.0.0.1", 0) != 0) {
		die("net_addr_set", 0);
	}
	c.codec = MEDIA_PCMU;
	c.dtmf_pt = MEDIA_DTMF_PT_DEFAULT;
	c.srtp_tx = k;
	c.srtp_rx = k;
	err = media_session_new(&s->tx, base, &c);
	if (!err) {
		err = media_session_new(&s->rx, base, &c);
	}
	if (err) {
		die("media_session_new", err);
	}
	s->ts = 0;
}

static void sess_round(struct sess *s, size_t n)
{
	uint8_t pkt[MEDIA_RTP_HDR_LEN + PAYLOAD + MEDIA_SRTP_TRAILER_MAX];

	for (size_t i = 0; i < n; i++) {
		size_t len;
		int err = media_session_pack(s->tx, MEDIA_PCMU, false, s->ts,
		                             slice_make(payload, PAYLOAD), pkt,
		                             sizeof(pkt), &len);

		s->ts += PAYLOAD;
		if (!err) {
			err = media_session_input(s->rx, pkt, len);
		}
		if (err) {
			die("session", err);
		}
		sink_bytes += len;
	}
}

int main(int argc, char **argv)
{
	static const enum media_srtp_suite suites[] = {
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	        MEDIA_SRTP_AEAD_AES_128_GCM,
	};
	double secs = argc > 1 ? strtod(argv[1], NULL) : 2.0;
	struct event_base *base = event_base_new();

	if (secs <= 0) {
		secs = 2.0;
	}
	if (!base || media_srtp_init() != 0) {
		die("init", 0);
	}
	for (size_t i = 0; i < sizeof(payload); i++) {
		payload[i] = (uint8_t)(0xd5 ^ (i * 37));
	}
	printf("# ns per packet (protect + unprotect, %d-byte payload), "
	       "best of rounds of %d packets\n",
	       PAYLOAD, ROUND_PACKETS);
	for (size_t si = 0; si < sizeof(suites) / sizeof(suites[0]); si++) {
		struct media_srtp_key k;
		struct raw r;
		struct wrap w;
		struct sess s;
		double best[3] = {1e9, 1e9, 1e9};
		double start = cpu_now();
		unsigned rounds = 0;

		if (media_srtp_key_generate(&k, suites[si]) != 0) {
			die("key", 0);
		}
		raw_new(&r, &k);
		wrap_new(&w, &k);
		sess_new(&s, base, &k);
		/* warm up caches and branch predictors */
		raw_round(&r, 2000);
		wrap_round(&w, 2000);
		sess_round(&s, 2000);
		while (cpu_now() - start < secs || rounds < 3) {
			/* rotate the order so no loop always runs first */
			for (unsigned j = 0; j < 3; j++) {
				unsigned which = (j + rounds) % 3;
				double t0 = cpu_now(), dt;

				if (which == 0) {
					raw_round(&r, ROUND_PACKETS);
				} else if (which == 1) {
					wrap_round(&w, ROUND_PACKETS);
				} else {
					sess_round(&s, ROUND_PACKETS);
				}
				dt = (cpu_now() - t0) / ROUND_PACKETS;
				if (dt < best[which]) {
					best[which] = dt;
				}
			}
			rounds++;
		}
		struct media_stats st;
		media_session_stats(s.rx, &st);
		if (st.received == 0 || st.lost != 0 || st.srtp_auth_fail) {
			die("session counters", (int)st.lost);
		}
		const char *name = media_srtp_suite_name(suites[si]);
		printf("%s raw_ns %.1f\n", name, best[0] * 1e9);
		printf("%s wrapper_ns %.1f\n", name, best[1] * 1e9);
		printf("%s session_ns %.1f\n", name, best[2] * 1e9);
		printf("%s ratio_wrapper_raw %.3f\n", name, best[1] / best[0]);
		printf("%s ratio_session_raw %.3f\n", name, best[2] / best[0]);
		printf("%s packets_per_cpu_s_session %.0f\n", name,
		       1.0 / best[2]);
		fflush(stdout);
		media_session_free(s.tx);
		media_session_free(s.rx);
		media_srtp_free(w.tx);
		media_srtp_free(w.rx);
		srtp_dealloc(r.tx);
		srtp_dealloc(r.rx);
		media_srtp_key_wipe(&k);
	}
	event_base_free(base);
	return sink_bytes == 0;
}
