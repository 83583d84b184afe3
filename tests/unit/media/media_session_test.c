/* Media sessions on loopback: two sessions exchange tones through a small
 * UDP relay that captures (and for some cases tampers with or replays)
 * the packets on the wire. Checks that each side's WAV recording holds the
 * other's tone (Goertzel), that with SRTP no plain G.711 byte run of the
 * tone is ever on the wire (and that with plain RTP it is, so the check
 * means something), the counters, RFC 4733 digits, refusals.
 * Ports: 127.0.0.1, 39000-39499. */
#include "media/media.h"

#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define PORT_LO 39000
#define PORT_HI 39499
#define AMP     12000

static char dir[256];
static unsigned next_port;

static uint16_t take_port(void)
{
	if (next_port == 0) {
		next_port = PORT_LO + (unsigned)getpid() % 400;
	}
	if (next_port > PORT_HI) {
		next_port = PORT_LO;
	}
	return (uint16_t)next_port++;
}

/* A session on the next free port of our range. */
static int session_new(struct media_session **s, struct event_base *base,
                       struct media_session_conf *conf)
{
	int err = -EADDRINUSE;

	for (int i = 0; i < 50 && err == -EADDRINUSE; i++) {
		assert_int_equal(
		        net_addr_set(&conf->local, "127.0.0.1", take_port()),
		        0);
		err = media_session_new(s, base, conf);
	}
	return err;
}

static int udp_socket(const char *host, struct net_addr *a)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(net_addr_set(a, host, take_port()), 0);
		if (bind(fd, (struct sockaddr *)&a->ss, a->len) == 0) {
			return fd;
		}
	}
	fail_msg("no free port");
	return -1;
}

static void run_ms(struct event_base *base, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* ---- the relay ---- */

#define CAP_MAX 128

struct relay {
	int fd;
	struct event *ev;
	struct net_addr self, a, b;
	size_t from_a, from_b;
	uint8_t cap[CAP_MAX][300];
	size_t caplen[CAP_MAX];
	long tamper_at; /* index of A's packet to flip a byte of, or -1 */
	long dup_at;    /* index of A's packet to send twice, or -1 */
};

static void relay_read(evutil_socket_t fd, short what, void *arg)
{
	struct relay *r = arg;
	uint8_t buf[2048];
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_addr src;
	ssize_t n;

	while ((n = recvfrom(r->fd, buf, sizeof(buf), 0, (struct sockaddr *)&ss,
	                     &sl)) > 0) {
		const struct net_addr *to;

		assert_int_equal(
		        net_addr_from_sa(&src, (struct sockaddr *)&ss, sl), 0);
		sl = sizeof(ss);
		if (net_addr_eq(&src, &r->a)) {
			size_t i = r->from_a++;

			if (i < CAP_MAX && (size_t)n <= sizeof(r->cap[0])) {
				memcpy(r->cap[i], buf, (size_t)n);
				r->caplen[i] = (size_t)n;
			}
			if ((long)i == r->tamper_at) {
				buf[20] ^= 0x40;
			}
			to = &r->b;
			if ((long)i == r->dup_at) {
				(void)!sendto(r->fd, buf, (size_t)n, 0,
				              (struct sockaddr *)&to->ss,
				              to->len);
			}
		} else if (net_addr_eq(&src, &r->b)) {
			r->from_b++;
			to = &r->a;
		} else {
			continue;
		}
		(void)!sendto(r->fd, buf, (size_t)n, 0,
		              (struct sockaddr *)&to->ss, to->len);
	}
}

static void relay_start(struct relay *r, struct event_base *base)
{
	r->fd = udp_socket("127.0.0.1", &r->self);
	r->ev = event_new(base, r->fd, EV_READ | EV_PERSIST, relay_read, r);
	assert_non_null(r->ev);
	assert_int_equal(event_add(r->ev, NULL), 0);
}

static void relay_stop(struct relay *r)
{
	event_free(r->ev);
	close(r->fd);
}

/* ---- fixtures ---- */

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/media_sess_XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	if (d) {
		closedir(d);
	}
	return rmdir(dir);
}

static void path_of(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

/* The µ-law bytes a tone of f Hz produces from its start, n frames. */
static uint8_t *plain_stream(unsigned f, size_t frames, size_t *len)
{
	struct media_tone *t;
	size_t n = frames * MEDIA_FRAME_SAMPLES;
	int16_t *pcm = malloc(n * sizeof(*pcm));
	uint8_t *enc = malloc(n);

	assert_non_null(pcm);
	assert_non_null(enc);
	assert_int_equal(media_tone_new(&t, f, 0, AMP), 0);
	media_tone_fill(t, pcm, n);
	media_tone_free(t);
	media_g711_encode(MEDIA_PCMU, pcm, n, enc);
	free(pcm);
	*len = n;
	return enc;
}

static void check_tone(const char *path, unsigned want, unsigned not,
                       size_t min_samples)
{
	int16_t *pcm;
	size_t n;

	bool enough, tone, other;
	double share;

	/* judged first, then freed: a failing check must not leak */
	assert_int_equal(media_wav_load(path, &pcm, &n), 0);
	enough = n >= min_samples;
	tone = enough && media_tone_detect(pcm, n, want);
	share = enough ? media_tone_power(pcm, n, want) : 0;
	other = enough && media_tone_detect(pcm, n, not );
	free(pcm);
	if (!enough) {
		fail_msg("%s: %zu samples, want at least %zu", path, n,
		         min_samples);
	}
	if (!tone) {
		fail_msg("%s: no %u Hz tone (share %.3f)", path, want, share);
	}
	assert_false(other);
}

/* ---- two sessions through the relay ---- */

static void call_through_relay(enum media_srtp_suite suite)
{
	struct event_base *base = event_base_new();
	struct media_srtp_key ka, kb;
	struct media_session_conf ca, cb;
	struct media_session *a, *b;
	struct media_stats sa, sb;
	struct relay *r = calloc(1, sizeof(*r));
	char wa[512], wb[512];
	bool srtp = suite != MEDIA_SRTP_NONE;

	assert_non_null(base);
	assert_non_null(r);
	r->tamper_at = srtp ? 10 : -1;
	r->dup_at = srtp ? 20 : -1;
	relay_start(r, base);

	memset(&ca, 0, sizeof(ca));
	ca.codec = MEDIA_PCMU;
	ca.dtmf_pt = MEDIA_DTMF_PT_DEFAULT;
	ca.remote = r->self;
	cb = ca;
	if (srtp) {
		/* each side's outbound key is the other's inbound key, as
		 * the two a=crypto lines of an SDP offer and answer */
		assert_int_equal(media_srtp_key_generate(&ka, suite), 0);
		assert_int_equal(media_srtp_key_generate(&kb, suite), 0);
		ca.srtp_tx = &ka;
		ca.srtp_rx = &kb;
		cb.srtp_tx = &kb;
		cb.srtp_rx = &ka;
	}
	assert_int_equal(session_new(&a, base, &ca), 0);
	assert_int_equal(session_new(&b, base, &cb), 0);
	if (srtp) {
		media_srtp_key_wipe(&ka);
		media_srtp_key_wipe(&kb);
	}
	assert_int_equal(media_session_is_srtp(a), srtp);
	media_session_local(a, &r->a);
	media_session_local(b, &r->b);
	assert_int_equal(net_addr_port(&r->a), net_addr_port(&ca.local));

	path_of(wa, sizeof(wa), "a.wav");
	path_of(wb, sizeof(wb), "b.wav");
	assert_int_equal(media_session_send_tone(a, 1000, 0, AMP), 0);
	assert_int_equal(media_session_send_tone(b, 1500, 0, AMP), 0);
	assert_int_equal(media_session_record_wav(a, wa), 0);
	assert_int_equal(media_session_record_wav(b, wb), 0);
	assert_int_equal(media_session_start(a), 0);
	assert_int_equal(media_session_start(b), 0);
	assert_int_equal(media_session_start(a), -TL_ESTATE);

	run_ms(base, 1000);
	/* stop sending, let the last packets arrive */
	media_session_set_direction(a, false, true);
	media_session_set_direction(b, false, true);
	run_ms(base, 150);
	media_session_stats(a, &sa);
	media_session_stats(b, &sb);
	assert_int_equal(media_session_stop(a), 0);
	assert_int_equal(media_session_stop(b), 0);
	assert_int_equal(media_session_stop(b), 0);

	/* about 50 packets each way in one second */
	if (sa.sent < 35 || sa.sent > 60 || sb.sent < 35 || sb.sent > 60) {
		fail_msg("sent %llu / %llu", (unsigned long long)sa.sent,
		         (unsigned long long)sb.sent);
	}
	assert_int_equal(r->from_a, sa.sent);
	assert_int_equal(r->from_b, sb.sent);
	assert_int_equal(sa.received, sb.sent);
	assert_int_equal(sa.lost, 0);
	assert_int_equal(sa.srtp_auth_fail, 0);
	assert_int_equal(sa.remote_ssrc, sb.local_ssrc);
	assert_int_equal(sb.remote_ssrc, sa.local_ssrc);
	if (srtp) {
		/* the tampered packet fails, the replayed one is refused, and
		 * the tampered one's sequence number counts as lost */
		assert_int_equal(sb.srtp_auth_fail, 1);
		assert_int_equal(sb.srtp_replay, 1);
		assert_int_equal(sb.received, sa.sent - 1);
		assert_int_equal(sb.lost, 1);
	} else {
		assert_int_equal(sb.received, sa.sent);
		assert_int_equal(sb.lost, 0);
	}
	assert_int_equal(sb.bad, 0);
	assert_int_equal(sa.bad, 0);

	/* what each side heard */
	check_tone(wb, 1000, 1500, 30 * MEDIA_FRAME_SAMPLES);
	check_tone(wa, 1500, 1000, 30 * MEDIA_FRAME_SAMPLES);

	/* what was on the wire */
	size_t plen;
	uint8_t *plain = plain_stream(1000, r->from_a + 10, &plen);
	size_t tag = srtp ? media_srtp_tag_len(suite) : 0;
	size_t found = 0;
	for (size_t i = 0; i < r->from_a && i < CAP_MAX; i++) {
		struct media_rtp_hdr h;

		assert_int_equal(r->caplen[i], 12 + 160 + tag);
		/* the header stays readable (RFC 3711 §3.1) */
		assert_int_equal(media_rtp_parse(&h, r->cap[i], r->caplen[i]),
		                 0);
		assert_int_equal(h.pt, 0);
		assert_int_equal(h.marker, i == 0);
		for (size_t off = 0; off + 8 <= 160; off += 8) {
			if (memmem(plain, plen, r->cap[i] + 12 + off, 8)) {
				found++;
			}
		}
	}
	if (srtp) {
		assert_int_equal(found, 0);
	} else {
		/* the plain tone is there, byte for byte */
		assert_int_equal(found, r->from_a * 20);
	}
	free(plain);

	media_session_free(a);
	media_session_free(b);
	relay_stop(r);
	free(r);
	event_base_free(base);
}

static void test_plain_rtp(void **state)
{
	call_through_relay(MEDIA_SRTP_NONE);
}

static void test_srtp_aes_cm_80(void **state)
{
	call_through_relay(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
}

static void test_srtp_aes_cm_32(void **state)
{
	call_through_relay(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
}

static void test_srtp_gcm(void **state)
{
	call_through_relay(MEDIA_SRTP_AEAD_AES_128_GCM);
}

/* ---- DTMF ---- */

struct digits {
	char s[16];
	size_t n;
	unsigned ms[16];
};

static void on_digit(char d, unsigned ms, void *arg)
{
	struct digits *g = arg;

	if (g->n < sizeof(g->s) - 1) {
		g->ms[g->n] = ms;
		g->s[g->n++] = d;
	}
}

static void test_dtmf(void **state)
{
	struct event_base *base = event_base_new();
	struct media_srtp_key ka, kb;
	struct media_session_conf ca, cb;
	struct media_session *a, *b;
	struct media_stats sb;
	struct digits got = {0};
	char recv[8], wb[512];

	assert_int_equal(
	        media_srtp_key_generate(&ka, MEDIA_SRTP_AEAD_AES_128_GCM), 0);
	assert_int_equal(
	        media_srtp_key_generate(&kb, MEDIA_SRTP_AEAD_AES_128_GCM), 0);
	memset(&ca, 0, sizeof(ca));
	ca.codec = MEDIA_PCMA;
	ca.dtmf_pt = 96;
	ca.srtp_tx = &ka;
	ca.srtp_rx = &kb;
	cb = ca;
	cb.srtp_tx = &kb;
	cb.srtp_rx = &ka;
	cb.on_dtmf = on_digit;
	cb.arg = &got;
	assert_int_equal(session_new(&a, base, &ca), 0);
	assert_int_equal(session_new(&b, base, &cb), 0);
	struct net_addr la, lb;
	media_session_local(a, &la);
	media_session_local(b, &lb);
	assert_int_equal(media_session_set_remote(a, &lb), 0);
	assert_int_equal(media_session_set_remote(b, &la), 0);
	assert_int_equal(media_session_send_tone(a, 1000, 0, AMP), 0);
	path_of(wb, sizeof(wb), "dtmf.wav");
	assert_int_equal(media_session_record_wav(b, wb), 0);

	assert_int_equal(media_session_send_dtmf(a, '1', 100), 0);
	assert_int_equal(media_session_send_dtmf(a, '#', 60), 0);
	assert_int_equal(media_session_send_dtmf(a, 'd', 40), 0);
	assert_int_equal(media_session_send_dtmf(a, 'x', 100), -EINVAL);
	assert_int_equal(media_session_send_dtmf(a, '1', 39), -EINVAL);
	assert_int_equal(media_session_send_dtmf(a, '1', 5001), -EINVAL);
	assert_int_equal(media_session_start(a), 0);
	assert_int_equal(media_session_start(b), 0);
	/* 30 ticks (600 ms) counted in packets sent, not in wall time: a
	 * loaded machine fires fewer 20 ms timers in 600 ms, and the
	 * recording below is only as long as the ticks that ran. Each
	 * digit's end packet goes out three times in one tick: 30 ticks
	 * send 36 packets. */
	for (int i = 0; i < 250; i++) {
		struct media_stats sa;

		media_session_stats(a, &sa);
		if (sa.sent >= 36) {
			break;
		}
		run_ms(base, 20);
	}
	media_session_set_direction(a, false, true);
	run_ms(base, 100);

	assert_string_equal(got.s, "1#D");
	assert_int_equal(got.ms[0], 100);
	assert_int_equal(got.ms[1], 60);
	assert_int_equal(got.ms[2], 40);
	media_session_dtmf_received(b, recv, sizeof(recv));
	assert_string_equal(recv, "1#D");
	media_session_dtmf_received(b, recv, 2);
	assert_string_equal(recv, "D");
	media_session_stats(b, &sb);
	assert_int_equal(sb.dtmf_received, 3);
	assert_int_equal(sb.lost, 0);
	assert_int_equal(sb.srtp_auth_fail, 0);
	/* 5 + 3 + 2 event packets, the end ones three times: 16 */
	assert_true(sb.received >= 16);
	assert_int_equal(media_session_stop(b), 0);
	/* the gap the digits left is silence: the tone is still there,
	 * and the recording is as long as the time that passed */
	check_tone(wb, 1000, 1500, 20 * MEDIA_FRAME_SAMPLES);

	/* DTMF off */
	media_session_free(a);
	ca.dtmf_pt = 0;
	assert_int_equal(session_new(&a, base, &ca), 0);
	assert_int_equal(media_session_send_dtmf(a, '1', 100), -TL_ESTATE);
	/* the queue holds 32 digits */
	media_session_free(b);
	assert_int_equal(session_new(&b, base, &cb), 0);
	for (int i = 0; i < 32; i++) {
		assert_int_equal(media_session_send_dtmf(b, '5', 40), 0);
	}
	assert_int_equal(media_session_send_dtmf(b, '5', 40), -TL_ELIMIT);
	media_session_free(a);
	media_session_free(b);
	media_srtp_key_wipe(&ka);
	media_srtp_key_wipe(&kb);
	event_base_free(base);
}

/* ---- refusals ---- */

static void test_wrong_key_and_stranger(void **state)
{
	struct event_base *base = event_base_new();
	struct media_srtp_key k1, k2, k3;
	struct media_session_conf ca, cb;
	struct media_session *a, *b;
	struct media_stats sb;
	struct net_addr la, lb, other;
	char wb[512];
	int16_t *pcm;
	size_t n;

	assert_int_equal(media_srtp_key_generate(
	                         &k1, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80),
	                 0);
	assert_int_equal(media_srtp_key_generate(
	                         &k2, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80),
	                 0);
	assert_int_equal(media_srtp_key_generate(
	                         &k3, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80),
	                 0);
	memset(&ca, 0, sizeof(ca));
	ca.codec = MEDIA_PCMU;
	ca.srtp_tx = &k1;
	ca.srtp_rx = &k2;
	cb = ca;
	cb.srtp_tx = &k2;
	cb.srtp_rx = &k3; /* not what a sends with */
	assert_int_equal(session_new(&a, base, &ca), 0);
	assert_int_equal(session_new(&b, base, &cb), 0);
	media_session_local(a, &la);
	media_session_local(b, &lb);
	assert_int_equal(media_session_set_remote(a, &lb), 0);
	assert_int_equal(media_session_set_remote(b, &la), 0);
	assert_int_equal(media_session_send_tone(a, 1000, 0, AMP), 0);
	path_of(wb, sizeof(wb), "wrong.wav");
	assert_int_equal(media_session_record_wav(b, wb), 0);
	media_session_set_direction(b, false, true);
	assert_int_equal(media_session_start(a), 0);
	assert_int_equal(media_session_start(b), 0);

	/* a stranger on another loopback address sends plain RTP to b */
	int fd = udp_socket("127.0.0.2", &other);
	uint8_t junk[172] = {0x80, 0x00, 0x00, 0x01};
	assert_int_equal(sendto(fd, junk, sizeof(junk), 0,
	                        (struct sockaddr *)&lb.ss, lb.len),
	                 (ssize_t)sizeof(junk));
	run_ms(base, 500);
	media_session_stats(b, &sb);
	assert_true(sb.srtp_auth_fail >= 10);
	assert_int_equal(sb.received, 0);
	assert_int_equal(sb.bad, 1);
	assert_int_equal(sb.remote_ssrc, 0);
	assert_int_equal(media_session_stop(b), 0);
	/* nothing was heard */
	assert_int_equal(media_wav_load(wb, &pcm, &n), 0);
	assert_int_equal(n, 0);
	free(pcm);

	/* re-keyed with the right key, b hears a */
	assert_int_equal(media_session_set_srtp(b, &k2, &k1), 0);
	assert_int_equal(media_session_record_wav(b, wb), 0);
	assert_int_equal(media_session_start(b), 0);
	run_ms(base, 500);
	media_session_stats(b, &sb);
	assert_true(sb.received >= 10);
	assert_int_equal(media_session_stop(b), 0);
	check_tone(wb, 1000, 1500, 10 * MEDIA_FRAME_SAMPLES);
	close(fd);

	/* bad configurations */
	struct media_session *x = (struct media_session *)1;
	struct media_session_conf bad = ca;
	memset(&bad.local, 0, sizeof(bad.local));
	assert_int_equal(media_session_new(&x, base, &bad), -EINVAL);
	assert_null(x);
	bad = ca;
	bad.codec = 9;
	assert_int_equal(session_new(&x, base, &bad), -EINVAL);
	bad = ca;
	bad.srtp_rx = NULL;
	assert_int_equal(session_new(&x, base, &bad), -EINVAL);
	bad = ca;
	bad.codec = MEDIA_PCMA;
	bad.dtmf_pt = 8;
	assert_int_equal(session_new(&x, base, &bad), -EINVAL);
	/* the port a already holds */
	bad = ca;
	bad.local = la;
	assert_int_equal(media_session_new(&x, base, &bad), -EADDRINUSE);
	assert_int_equal(media_session_set_srtp(a, &k1, NULL), -EINVAL);
	assert_int_equal(media_session_set_codec(a, 3), -EINVAL);
	assert_int_equal(media_session_send_tone(a, 0, 0, AMP), -EINVAL);
	path_of(wb, sizeof(wb), "missing.wav");
	assert_int_equal(media_session_send_wav(a, wb, false), -ENOENT);
	path_of(wb, sizeof(wb), "no/dir.wav");
	assert_int_equal(media_session_record_wav(a, wb), -ENOENT);

	media_session_free(a);
	media_session_free(b);
	media_session_free(NULL);
	media_srtp_key_wipe(&k1);
	media_srtp_key_wipe(&k2);
	media_srtp_key_wipe(&k3);
	event_base_free(base);
}

/* A WAV file as the source (played once, then silence), A-law, a sink
 * callback instead of a recording. */
struct sink_acc {
	size_t n;
	int16_t pcm[16000];
};

static void sink(const int16_t *pcm, size_t n, void *arg)
{
	struct sink_acc *s = arg;

	for (size_t i = 0; i < n && s->n < 16000; i++) {
		s->pcm[s->n++] = pcm[i];
	}
}

static void test_wav_source(void **state)
{
	struct event_base *base = event_base_new();
	struct media_session_conf ca, cb;
	struct media_session *a, *b;
	struct media_stats sa;
	struct net_addr la, lb;
	struct media_tone *t;
	struct sink_acc *acc = calloc(1, sizeof(*acc));
	int16_t pcm[1600];
	char src[512];

	assert_non_null(acc);
	assert_int_equal(media_tone_new(&t, 697, 1209, AMP), 0);
	media_tone_fill(t, pcm, 1600);
	media_tone_free(t);
	path_of(src, sizeof(src), "src.wav");
	assert_int_equal(media_wav_save(src, pcm, 1600), 0);

	memset(&ca, 0, sizeof(ca));
	ca.codec = MEDIA_PCMA;
	cb = ca;
	assert_int_equal(session_new(&a, base, &ca), 0);
	assert_int_equal(session_new(&b, base, &cb), 0);
	media_session_local(a, &la);
	media_session_local(b, &lb);
	assert_int_equal(media_session_set_remote(a, &lb), 0);
	assert_int_equal(media_session_set_remote(b, &la), 0);
	media_session_set_direction(b, false, true);
	media_session_set_sink(b, sink, acc);
	/* 10 frames, once: then silence, which still is sent */
	assert_int_equal(media_session_send_wav(a, src, false), 0);
	assert_int_equal(media_session_start(a), 0);
	assert_int_equal(media_session_start(b), 0);
	run_ms(base, 500);
	media_session_stats(a, &sa);
	assert_true(sa.sent >= 15);
	assert_true(acc->n >= 1600);
	assert_true(media_tone_detect(acc->pcm, 1600, 697));
	assert_true(media_tone_detect(acc->pcm, 1600, 1209));
	/* afterwards: silence */
	assert_false(media_tone_detect(acc->pcm + 1600, acc->n - 1600, 697));
	media_session_free(a);
	media_session_free(b);
	free(acc);
	event_base_free(base);
}

/* ---- the per-packet steps without sockets: RFC 3550 accounting ---- */

struct count_sink {
	size_t samples;
	size_t nonzero;
};

static void count(const int16_t *pcm, size_t n, void *arg)
{
	struct count_sink *c = arg;

	c->samples += n;
	for (size_t i = 0; i < n; i++) {
		c->nonzero += pcm[i] != 0;
	}
}

struct pkt {
	uint8_t b[200];
	size_t len;
};

static void pack_n(struct media_session *a, struct pkt *p, size_t n,
                   uint32_t *ts)
{
	uint8_t pl[MEDIA_FRAME_SAMPLES];

	memset(pl, 0x80, sizeof(pl)); /* µ-law 0x80: a loud sample */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(media_session_pack(a, 0, false, *ts,
		                                    slice_make(pl, sizeof(pl)),
		                                    p[i].b, sizeof(p[i].b),
		                                    &p[i].len),
		                 0);
		*ts += MEDIA_FRAME_SAMPLES;
	}
}

static void test_accounting(void **state)
{
	struct event_base *base = event_base_new();
	struct media_session_conf c;
	struct media_session *a, *b;
	struct media_stats st;
	struct count_sink cs = {0};
	struct pkt p[12];
	uint32_t ts = 1000;

	memset(&c, 0, sizeof(c));
	c.codec = MEDIA_PCMU;
	c.dtmf_pt = 101;
	assert_int_equal(session_new(&a, base, &c), 0);
	assert_int_equal(session_new(&b, base, &c), 0);
	media_session_set_sink(b, count, &cs);

	/* 12 packets: 0-4 in order, 5 and 6 lost for now, 7-9, then 6 late
	 * and 9 again (a duplicate of plain RTP is accepted, it cannot be
	 * told from a retransmission) */
	pack_n(a, p, 12, &ts);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(media_session_input(b, p[i].b, p[i].len), 0);
	}
	media_session_stats(b, &st);
	assert_int_equal(st.received, 5);
	assert_int_equal(st.lost, 0);
	assert_int_equal(cs.samples, 5 * 160);
	for (int i = 7; i < 10; i++) {
		assert_int_equal(media_session_input(b, p[i].b, p[i].len), 0);
	}
	media_session_stats(b, &st);
	assert_int_equal(st.lost, 2);
	/* the gap became 320 samples of silence */
	assert_int_equal(cs.samples, 10 * 160);
	assert_int_equal(cs.nonzero, 8 * 160);
	assert_int_equal(media_session_input(b, p[6].b, p[6].len), 0);
	media_session_stats(b, &st);
	assert_int_equal(st.lost, 1);
	/* too late to be heard */
	assert_int_equal(cs.samples, 10 * 160);
	assert_int_equal(media_session_input(b, p[9].b, p[9].len), 0);
	media_session_stats(b, &st);
	assert_int_equal(st.received, 10);
	assert_int_equal(st.lost, 0);

	/* refusals are counted, not fatal */
	uint8_t junk[20] = {0x80, 0x09}; /* payload type 9 (G.722) */
	assert_int_equal(media_session_input(b, junk, sizeof(junk)),
	                 -TL_EUNKNOWN);
	junk[0] = 0x40; /* version 1 */
	assert_int_equal(media_session_input(b, junk, sizeof(junk)),
	                 -TL_EPARSE);
	assert_int_equal(media_session_input(b, junk, 5), -TL_ETRUNC);
	/* telephone-event (101): a malformed payload is refused; a flash
	 * (event 16, RFC 4733 §3.2) is accepted and ignored */
	uint8_t ev[16];
	memcpy(ev, p[11].b, 12);
	ev[1] = 101;
	memcpy(ev + 12, "\x01\x0a\x00", 3);
	assert_int_equal(media_session_input(b, ev, 15), -TL_ETRUNC);
	memcpy(ev + 12, "\x01\x4a\x00\xa0", 4);
	assert_int_equal(media_session_input(b, ev, 16), -TL_EPARSE);
	media_session_stats(b, &st);
	assert_int_equal(st.bad, 5);
	assert_int_equal(st.received, 10);
	memcpy(ev + 12, "\x10\x8a\x00\xa0", 4);
	assert_int_equal(media_session_input(b, ev, 16), 0);
	media_session_stats(b, &st);
	assert_int_equal(st.received, 11);
	assert_int_equal(st.dtmf_received, 0);
	assert_int_equal(st.lost, 1); /* p[10] */

	/* the sequence number wraps (RFC 3550 A.1): 70000 packets, none
	 * lost, one every other packet */
	memset(&cs, 0, sizeof(cs));
	for (int i = 0; i < 70000; i++) {
		pack_n(a, p, 1, &ts);
		if (i % 2 == 0) {
			assert_int_equal(
			        media_session_input(b, p[0].b, p[0].len), 0);
		}
	}
	media_session_stats(b, &st);
	assert_int_equal(st.received, 11 + 35000);
	/* packet 10 of the first batch, then every odd one */
	assert_int_equal(st.lost, 1 + 35000 - 1);
	/* a pause longer than 2 s is not filled with silence */
	ts += 3 * MEDIA_RATE;
	size_t before = cs.samples;
	pack_n(a, p, 1, &ts);
	assert_int_equal(media_session_input(b, p[0].b, p[0].len), 0);
	assert_int_equal(cs.samples, before + 160);

	/* a new SSRC (the peer restarted) starts the counts afresh */
	media_session_free(a);
	assert_int_equal(session_new(&a, base, &c), 0);
	pack_n(a, p, 3, &ts);
	assert_int_equal(media_session_input(b, p[2].b, p[2].len), 0);
	media_session_stats(b, &st);
	assert_int_equal(st.lost, 0);
	struct media_stats sa;
	media_session_stats(a, &sa);
	assert_int_equal(st.remote_ssrc, sa.local_ssrc);
	/* nothing was sent on a socket */
	assert_int_equal(sa.sent, 0);

	/* the room for the tag is required */
	uint8_t small[12 + 160 + 15];
	size_t len;
	uint8_t pl[160] = {0};
	assert_int_equal(media_session_pack(a, 0, false, 0,
	                                    slice_make(pl, sizeof(pl)), small,
	                                    sizeof(small), &len),
	                 -TL_ETOOBIG);
	media_session_free(a);
	media_session_free(b);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_plain_rtp, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_srtp_aes_cm_80, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_srtp_aes_cm_32, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_srtp_gcm, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_dtmf, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_wrong_key_and_stranger,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_accounting, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_wav_source, setup,
	                                        teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
