/* A media session: one RTP (or SRTP) audio stream over UDP on a libevent
 * loop owned by the caller. Every 20 ms the source gives 160 samples that
 * leave as one G.711 packet (or an RFC 4733 event packet while a digit is
 * being sent); every datagram that arrives is verified (SRTP), parsed,
 * counted (RFC 3550 A.1/A.3) and decoded to the sink. */
#include "media/media.h"

#include "base/log.h"

#include <errno.h>
#include <event2/event.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

/* RFC 3550 A.1 */
#define MAX_DROPOUT  3000
#define MAX_MISORDER 100
#define RTP_SEQ_MOD  (1u << 16)

#define DTMF_QUEUE  32
#define DTMF_MIN_MS 40
#define DTMF_MAX_MS 5000
/* RFC 4733 §2.5.1.4: the final packet is sent three times. */
#define DTMF_END_REPEAT 3
/* A digit volume of -10 dBm0, as a phone sends. */
#define DTMF_VOLUME 10
#define DIGITS_KEPT 64
/* Reading at most this many datagrams per wake-up keeps one busy socket
 * from starving the loop. */
#define RX_BURST 32
/* Gaps longer than this (2 s) are not filled with silence: the peer
 * restarted its timestamps or was on hold. */
#define MAX_FILL (2 * MEDIA_RATE)

enum src_kind { SRC_SILENCE, SRC_TONE, SRC_WAV, SRC_CB };

struct media_session {
	struct event_base *base;
	int fd;
	struct event *rx_ev;
	struct event *tick_ev;
	struct net_addr local;
	struct net_addr remote;
	enum media_codec codec;
	uint8_t dtmf_pt;
	struct media_srtp *srtp;
	bool started;
	bool send;
	bool recv;

	/* sender */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	bool first_sent;
	enum src_kind src;
	struct media_tone *tone;
	struct media_wav *wav_in;
	bool wav_loop;
	media_source_h *src_h;
	void *src_arg;

	/* DTMF sender: a queue of digits, one event active at a time. */
	uint8_t dq_event[DTMF_QUEUE];
	uint16_t dq_samples[DTMF_QUEUE];
	size_t dq_head;
	size_t dq_n;
	bool dtx_active;
	uint8_t dtx_event;
	uint32_t dtx_ts;
	uint32_t dtx_elapsed;
	uint32_t dtx_total;

	/* receiver */
	struct media_wav *wav_out;
	int wav_err;
	media_sink_h *sink_h;
	void *sink_arg;
	bool rx_init;
	uint32_t rx_ssrc;
	uint16_t max_seq;
	uint32_t cycles;
	uint32_t base_seq;
	uint64_t rx_valid; /* packets of the current SSRC */
	bool rx_audio_init;
	uint32_t rx_next_ts;

	/* DTMF receiver */
	bool drx_active;
	bool drx_reported;
	uint8_t drx_event;
	uint32_t drx_ts;
	uint16_t drx_duration;
	char digits[DIGITS_KEPT];
	size_t ndigits;
	media_dtmf_h *on_dtmf;
	void *arg;

	struct media_stats st;
};

static void on_tick(evutil_socket_t fd, short what, void *arg);
static void on_read(evutil_socket_t fd, short what, void *arg);

static uint32_t rand_u32(void)
{
	uint32_t v = 0;

	if (RAND_bytes((uint8_t *)&v, sizeof(v)) != 1) {
		/* Only the unpredictability of SSRC and initial sequence
		 * suffers (RFC 3550 §5.1); SRTP security does not rest on
		 * them. */
		v = (uint32_t)random();
	}
	return v;
}

int media_session_new(struct media_session **out, struct event_base *base,
                      const struct media_session_conf *conf)
{
	struct media_session *s;
	int err;

	*out = NULL;
	if (!base || !conf || conf->local.len == 0 ||
	    (conf->codec != MEDIA_PCMU && conf->codec != MEDIA_PCMA) ||
	    conf->dtmf_pt > 127 ||
	    (conf->dtmf_pt && conf->dtmf_pt == (uint8_t)conf->codec) ||
	    (!conf->srtp_tx) != (!conf->srtp_rx)) {
		return -EINVAL;
	}
	if (conf->remote.len &&
	    net_addr_family(&conf->remote) != net_addr_family(&conf->local)) {
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	s->fd = -1;
	s->base = base;
	s->local = conf->local;
	s->remote = conf->remote;
	s->codec = conf->codec;
	s->dtmf_pt = conf->dtmf_pt;
	s->send = s->recv = true;
	s->on_dtmf = conf->on_dtmf;
	s->arg = conf->arg;
	s->ssrc = conf->ssrc ? conf->ssrc : rand_u32();
	if (s->ssrc == 0) {
		s->ssrc = 1;
	}
	s->seq = (uint16_t)rand_u32();
	s->ts = rand_u32();
	s->st.local_ssrc = s->ssrc;
	if (conf->srtp_tx) {
		err = media_srtp_new(&s->srtp, conf->srtp_tx, conf->srtp_rx);
		if (err) {
			goto fail;
		}
	}
	s->fd = socket(net_addr_family(&s->local),
	               SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		err = -errno;
		goto fail;
	}
	if (bind(s->fd, (const struct sockaddr *)&s->local.ss, s->local.len) !=
	    0) {
		err = -errno;
		goto fail;
	}
	s->local.len = sizeof(s->local.ss);
	if (getsockname(s->fd, (struct sockaddr *)&s->local.ss,
	                &s->local.len) != 0) {
		err = -errno;
		goto fail;
	}
	s->rx_ev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_read, s);
	s->tick_ev = event_new(base, -1, EV_PERSIST, on_tick, s);
	if (!s->rx_ev || !s->tick_ev) {
		err = -ENOMEM;
		goto fail;
	}
	*out = s;
	return 0;
fail:
	media_session_free(s);
	return err;
}

static void src_clear(struct media_session *s)
{
	media_tone_free(s->tone);
	s->tone = NULL;
	media_wav_free(s->wav_in);
	s->wav_in = NULL;
	s->src_h = NULL;
	s->src_arg = NULL;
	s->src = SRC_SILENCE;
}

void media_session_free(struct media_session *s)
{
	if (!s) {
		return;
	}
	int err = media_session_stop(s);

	if (err) {
		log_warn("media", "finishing the recording: %s",
		         tl_strerror(err));
	}
	if (s->rx_ev) {
		event_free(s->rx_ev);
	}
	if (s->tick_ev) {
		event_free(s->tick_ev);
	}
	if (s->fd >= 0) {
		close(s->fd);
	}
	src_clear(s);
	media_wav_free(s->wav_out);
	media_srtp_free(s->srtp);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

void media_session_local(const struct media_session *s, struct net_addr *out)
{
	*out = s->local;
}

int media_session_set_remote(struct media_session *s,
                             const struct net_addr *remote)
{
	if (!remote || remote->len == 0 ||
	    net_addr_family(remote) != net_addr_family(&s->local)) {
		return -EINVAL;
	}
	s->remote = *remote;
	return 0;
}

int media_session_set_codec(struct media_session *s, enum media_codec codec)
{
	if ((codec != MEDIA_PCMU && codec != MEDIA_PCMA) ||
	    (s->dtmf_pt && (uint8_t)codec == s->dtmf_pt)) {
		return -EINVAL;
	}
	s->codec = codec;
	return 0;
}

int media_session_set_srtp(struct media_session *s,
                           const struct media_srtp_key *tx,
                           const struct media_srtp_key *rx)
{
	struct media_srtp *n = NULL;
	int err;

	if ((!tx) != (!rx)) {
		return -EINVAL;
	}
	if (tx) {
		err = media_srtp_new(&n, tx, rx);
		if (err) {
			return err;
		}
	}
	media_srtp_free(s->srtp);
	s->srtp = n;
	return 0;
}

bool media_session_is_srtp(const struct media_session *s)
{
	return s->srtp != NULL;
}

int media_session_send_tone(struct media_session *s, unsigned f1, unsigned f2,
                            int16_t amplitude)
{
	struct media_tone *t;
	int err = media_tone_new(&t, f1, f2, amplitude);

	if (err) {
		return err;
	}
	src_clear(s);
	s->tone = t;
	s->src = SRC_TONE;
	return 0;
}

int media_session_send_wav(struct media_session *s, const char *path, bool loop)
{
	struct media_wav *w;
	int err = media_wav_open_read(&w, path);

	if (err) {
		return err;
	}
	src_clear(s);
	s->wav_in = w;
	s->wav_loop = loop;
	s->src = SRC_WAV;
	return 0;
}

void media_session_send_silence(struct media_session *s)
{
	src_clear(s);
}

void media_session_set_source(struct media_session *s, media_source_h *h,
                              void *arg)
{
	src_clear(s);
	if (h) {
		s->src_h = h;
		s->src_arg = arg;
		s->src = SRC_CB;
	}
}

int media_session_record_wav(struct media_session *s, const char *path)
{
	struct media_wav *w;
	int err = media_wav_open_write(&w, path);

	if (err) {
		return err;
	}
	if (s->wav_out) {
		err = media_wav_close(s->wav_out);
		if (err) {
			log_warn("media", "finishing a recording: %s",
			         tl_strerror(err));
		}
	}
	s->wav_out = w;
	s->wav_err = 0;
	return 0;
}

void media_session_set_sink(struct media_session *s, media_sink_h *h, void *arg)
{
	s->sink_h = h;
	s->sink_arg = arg;
}

void media_session_set_direction(struct media_session *s, bool send, bool recv)
{
	s->send = send;
	s->recv = recv;
}

int media_session_start(struct media_session *s)
{
	const struct timeval ptime = {0, MEDIA_PTIME_MS * 1000};

	if (s->started) {
		return -TL_ESTATE;
	}
	if (event_add(s->rx_ev, NULL) != 0) {
		return -ENOMEM;
	}
	if (event_add(s->tick_ev, &ptime) != 0) {
		event_del(s->rx_ev);
		return -ENOMEM;
	}
	s->started = true;
	return 0;
}

int media_session_stop(struct media_session *s)
{
	int err = 0;

	if (s->started) {
		event_del(s->rx_ev);
		event_del(s->tick_ev);
		s->started = false;
	}
	if (s->wav_out) {
		err = media_wav_close(s->wav_out);
		s->wav_out = NULL;
		if (!err) {
			err = s->wav_err;
		}
	}
	return err;
}

int media_session_send_dtmf(struct media_session *s, char digit,
                            unsigned duration_ms)
{
	int ev = media_dtmf_event(digit);

	if (ev < 0 || duration_ms < DTMF_MIN_MS || duration_ms > DTMF_MAX_MS) {
		return -EINVAL;
	}
	if (s->dtmf_pt == 0) {
		return -TL_ESTATE;
	}
	if (s->dq_n == DTMF_QUEUE) {
		return -TL_ELIMIT;
	}
	size_t i = (s->dq_head + s->dq_n) % DTMF_QUEUE;
	s->dq_event[i] = (uint8_t)ev;
	s->dq_samples[i] = (uint16_t)(duration_ms * (MEDIA_RATE / 1000));
	s->dq_n++;
	return 0;
}

void media_session_dtmf_received(const struct media_session *s, char *out,
                                 size_t cap)
{
	size_t n = s->ndigits;

	if (cap == 0) {
		return;
	}
	if (n > cap - 1) {
		n = cap - 1;
	}
	memcpy(out, s->digits + (s->ndigits - n), n);
	out[n] = '\0';
}

void media_session_stats(const struct media_session *s, struct media_stats *out)
{
	*out = s->st;
}

/* ---- sending ---- */

int media_session_pack(struct media_session *s, uint8_t pt, bool marker,
                       uint32_t ts, struct slice payload, uint8_t *out,
                       size_t cap, size_t *out_len)
{
	struct media_rtp_hdr h;
	size_t len;
	int err;

	if (cap < MEDIA_SRTP_TRAILER_MAX) {
		return -TL_ETOOBIG;
	}
	memset(&h, 0, sizeof(h));
	h.pt = pt;
	h.marker = marker;
	h.seq = s->seq;
	h.ts = ts;
	h.ssrc = s->ssrc;
	err = media_rtp_build(&h, payload, out, cap - MEDIA_SRTP_TRAILER_MAX,
	                      &len);
	if (err) {
		return err;
	}
	/* RFC 3550 §5.1: the sequence number counts packets sent; one that
	 * fails below still used its number (SRTP never reuses an index). */
	s->seq++;
	if (s->srtp) {
		err = media_srtp_protect(s->srtp, out, &len, cap);
		if (err) {
			return err;
		}
	}
	*out_len = len;
	return 0;
}

static void send_rtp(struct media_session *s, uint8_t pt, bool marker,
                     uint32_t ts, const uint8_t *payload, size_t plen)
{
	uint8_t pkt[MEDIA_RTP_HDR_LEN + MEDIA_FRAME_SAMPLES +
	            MEDIA_SRTP_TRAILER_MAX];
	size_t len;
	int err;

	err = media_session_pack(s, pt, marker, ts, slice_make(payload, plen),
	                         pkt, sizeof(pkt), &len);
	if (err) {
		s->st.bad++;
		return;
	}
	ssize_t n =
	        sendto(s->fd, pkt, len, 0,
	               (const struct sockaddr *)&s->remote.ss, s->remote.len);
	if (n != (ssize_t)len) {
		s->st.bad++;
		return;
	}
	s->st.sent++;
	s->st.bytes_sent += len;
}

static void source_fill(struct media_session *s, int16_t *pcm, size_t n,
                        bool *have)
{
	size_t got = 0;
	int err;

	*have = true;
	switch (s->src) {
	case SRC_SILENCE:
		memset(pcm, 0, n * sizeof(*pcm));
		return;
	case SRC_TONE:
		media_tone_fill(s->tone, pcm, n);
		return;
	case SRC_CB:
		*have = s->src_h(pcm, n, s->src_arg);
		return;
	case SRC_WAV:
		break;
	}
	while (got < n) {
		size_t r = 0;

		err = media_wav_read(s->wav_in, pcm + got, n - got, &r);
		if (!err && r == 0 && s->wav_loop && got == 0 &&
		    media_wav_frames(s->wav_in) > 0) {
			err = media_wav_rewind(s->wav_in);
			if (!err) {
				err = media_wav_read(s->wav_in, pcm, n, &r);
			}
		}
		if (err || r == 0) {
			break;
		}
		got += r;
	}
	memset(pcm + got, 0, (n - got) * sizeof(*pcm));
	if (got == 0) {
		/* the file ended (or failed): silence from now on */
		src_clear(s);
	}
}

static void send_dtmf_tick(struct media_session *s)
{
	struct media_dtmf d;
	uint8_t pl[MEDIA_DTMF_LEN];
	bool start = false;

	if (!s->dtx_active) {
		s->dtx_active = true;
		s->dtx_event = s->dq_event[s->dq_head];
		s->dtx_total = s->dq_samples[s->dq_head];
		s->dq_head = (s->dq_head + 1) % DTMF_QUEUE;
		s->dq_n--;
		/* RFC 4733 §2.5.1.2: the event's timestamp is the time it
		 * began; the first packet carries the marker bit. */
		s->dtx_ts = s->ts;
		s->dtx_elapsed = 0;
		start = true;
	}
	s->dtx_elapsed += MEDIA_FRAME_SAMPLES;
	memset(&d, 0, sizeof(d));
	d.event = s->dtx_event;
	d.volume = DTMF_VOLUME;
	if (s->dtx_elapsed >= s->dtx_total) {
		d.end = true;
		d.duration = (uint16_t)s->dtx_total;
		media_dtmf_build(&d, pl);
		for (int i = 0; i < DTMF_END_REPEAT; i++) {
			send_rtp(s, s->dtmf_pt, start && i == 0, s->dtx_ts, pl,
			         sizeof(pl));
		}
		s->dtx_active = false;
		return;
	}
	d.duration = (uint16_t)s->dtx_elapsed;
	media_dtmf_build(&d, pl);
	send_rtp(s, s->dtmf_pt, start, s->dtx_ts, pl, sizeof(pl));
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct media_session *s = arg;
	int16_t pcm[MEDIA_FRAME_SAMPLES];
	uint8_t enc[MEDIA_FRAME_SAMPLES];
	bool have;

	if (s->send && s->remote.len) {
		if (s->dtmf_pt && (s->dtx_active || s->dq_n > 0)) {
			send_dtmf_tick(s);
		} else {
			source_fill(s, pcm, MEDIA_FRAME_SAMPLES, &have);
			if (have) {
				media_g711_encode(s->codec, pcm,
				                  MEDIA_FRAME_SAMPLES, enc);
				/* RFC 3551 §4.1: marker on the first packet
				 * of a talkspurt. */
				send_rtp(s, (uint8_t)s->codec, !s->first_sent,
				         s->ts, enc, sizeof(enc));
				s->first_sent = true;
			}
		}
	}
	/* RFC 3550 §5.1: the timestamp follows the sampling clock, also
	 * while nothing is sent. */
	s->ts += MEDIA_FRAME_SAMPLES;
}

/* ---- receiving ---- */

/* RFC 3550 A.1, without the probation of a new source: SRTP or the
 * address check already vouch for it. */
static void seq_init(struct media_session *s, uint16_t seq)
{
	s->base_seq = seq;
	s->max_seq = seq;
	s->cycles = 0;
}

static void seq_update(struct media_session *s, uint16_t seq)
{
	uint16_t udelta = (uint16_t)(seq - s->max_seq);

	if (udelta < MAX_DROPOUT) {
		if (seq < s->max_seq) {
			s->cycles += RTP_SEQ_MOD;
		}
		s->max_seq = seq;
	} else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
		/* a very large jump: the peer restarted; count afresh */
		seq_init(s, seq);
		s->rx_valid = 0;
		s->st.lost = 0;
	}
	/* else a duplicate or reordered packet */
	s->rx_valid++;
	/* RFC 3550 A.3 */
	uint64_t expected = (uint64_t)s->cycles + s->max_seq - s->base_seq + 1;
	s->st.lost = expected > s->rx_valid ? expected - s->rx_valid : 0;
}

static void sink_put(struct media_session *s, const int16_t *pcm, size_t n)
{
	if (s->wav_out && !s->wav_err) {
		s->wav_err = media_wav_write(s->wav_out, pcm, n);
	}
	if (s->sink_h) {
		s->sink_h(pcm, n, s->sink_arg);
	}
}

static void rx_audio(struct media_session *s, const struct media_rtp_hdr *h)
{
	int16_t pcm[MEDIA_RTP_MAX_PACKET];
	size_t n = h->payload.len;

	if (n > MEDIA_RTP_MAX_PACKET) {
		n = MEDIA_RTP_MAX_PACKET;
	}
	if (s->rx_audio_init) {
		int32_t gap = (int32_t)(h->ts - s->rx_next_ts);

		if (gap < 0) {
			/* late: its time has been played already */
			return;
		}
		if (gap > 0 && gap <= MAX_FILL) {
			int16_t zero[MEDIA_FRAME_SAMPLES];

			memset(zero, 0, sizeof(zero));
			while (gap > 0) {
				size_t k = gap > MEDIA_FRAME_SAMPLES
				                   ? MEDIA_FRAME_SAMPLES
				                   : (size_t)gap;
				sink_put(s, zero, k);
				gap -= (int32_t)k;
			}
		}
	}
	s->rx_audio_init = true;
	s->rx_next_ts = h->ts + (uint32_t)n;
	media_g711_decode(s->codec, h->payload.p, n, pcm);
	sink_put(s, pcm, n);
}

static void dtmf_report(struct media_session *s)
{
	char c = media_dtmf_char(s->drx_event);

	s->drx_reported = true;
	s->st.dtmf_received++;
	if (s->ndigits == DIGITS_KEPT) {
		memmove(s->digits, s->digits + 1, DIGITS_KEPT - 1);
		s->ndigits--;
	}
	s->digits[s->ndigits++] = c;
	if (s->on_dtmf) {
		s->on_dtmf(c, s->drx_duration / (MEDIA_RATE / 1000), s->arg);
	}
}

static void rx_dtmf(struct media_session *s, const struct media_rtp_hdr *h,
                    const struct media_dtmf *d)
{
	/* RFC 4733 §2.5.2: packets of one event share its timestamp. */
	if (!s->drx_active || h->ts != s->drx_ts) {
		if (s->drx_active && !s->drx_reported) {
			dtmf_report(s);
		}
		s->drx_active = true;
		s->drx_reported = false;
		s->drx_ts = h->ts;
		s->drx_event = d->event;
		s->drx_duration = 0;
	}
	if (d->duration > s->drx_duration) {
		s->drx_duration = d->duration;
	}
	if (d->end && !s->drx_reported) {
		dtmf_report(s);
	}
}

int media_session_input(struct media_session *s, uint8_t *p, size_t len)
{
	struct media_rtp_hdr h;
	int err;

	if (s->srtp) {
		err = media_srtp_unprotect(s->srtp, p, &len);
		if (err == -TL_EAUTH) {
			s->st.srtp_auth_fail++;
			return err;
		}
		if (err == -TL_ESTALE) {
			s->st.srtp_replay++;
			return err;
		}
		if (err) {
			s->st.bad++;
			return err;
		}
	}
	err = media_rtp_parse(&h, p, len);
	if (err) {
		s->st.bad++;
		return err;
	}
	bool audio = h.pt == (uint8_t)s->codec;
	bool dtmf = s->dtmf_pt && h.pt == s->dtmf_pt;
	if (!audio && !dtmf) {
		s->st.bad++;
		return -TL_EUNKNOWN;
	}
	struct media_dtmf d;
	bool digit = false;
	if (dtmf) {
		/* A malformed event payload is refused like a malformed
		 * packet; a well-formed event that is not a DTMF digit
		 * (RFC 4733 §3.2 flash, tones of RFC 4734) is accepted and
		 * ignored. */
		err = media_dtmf_parse(&d, h.payload.p, h.payload.len);
		if (err && err != -TL_EUNKNOWN) {
			s->st.bad++;
			return err;
		}
		digit = err == 0;
	}
	if (!s->rx_init || h.ssrc != s->rx_ssrc) {
		/* a new source: start its statistics afresh */
		s->rx_init = true;
		s->rx_ssrc = h.ssrc;
		s->rx_valid = 0;
		s->st.lost = 0;
		s->rx_audio_init = false;
		s->drx_active = false;
		seq_init(s, h.seq);
	}
	seq_update(s, h.seq);
	s->st.received++;
	s->st.remote_ssrc = h.ssrc;
	if (!s->recv) {
		return 0;
	}
	if (audio) {
		rx_audio(s, &h);
	} else if (digit) {
		rx_dtmf(s, &h, &d);
	}
	return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct media_session *s = arg;
	uint8_t buf[MEDIA_RTP_MAX_PACKET + MEDIA_SRTP_TRAILER_MAX];

	for (int i = 0; i < RX_BURST; i++) {
		struct sockaddr_storage src;
		socklen_t slen = sizeof(src);
		ssize_t n = recvfrom(s->fd, buf, sizeof(buf), MSG_TRUNC,
		                     (struct sockaddr *)&src, &slen);
		struct net_addr from;

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK &&
			    errno != EINTR) {
				/* e.g. ICMP port unreachable from the peer */
				s->st.bad++;
			}
			return;
		}
		if ((size_t)n > sizeof(buf)) {
			s->st.bad++;
			continue;
		}
		s->st.bytes_received += (uint64_t)n;
		/* Only the negotiated peer's host may feed this stream:
		 * plain RTP has no other defence against injection. */
		if (s->remote.len &&
		    (net_addr_from_sa(&from, (struct sockaddr *)&src, slen) !=
		             0 ||
		     !net_addr_eq_host(&from, &s->remote))) {
			s->st.bad++;
			continue;
		}
		/* dropped packets are counted by media_session_input */
		(void)!media_session_input(s, buf, (size_t)n);
	}
}
