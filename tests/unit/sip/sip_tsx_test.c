/* Transaction state machines on a real libevent loop with short timers.
 * The "wire" is the send callback: it records what the layer sends; the
 * test plays the peer by feeding parsed messages to sip_tsx_recv. */
#include "base/buf.h"
#include "base/slice.h"
#include "codec/sip/sip_msg.h"
#include "sip/sip_tsx.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#define T1      20
#define T2      80
#define T4      100
#define TD      150
#define MAXSENT 64

struct sent {
	char *p;
	size_t len;
	uint64_t at;
};

struct wire {
	struct event_base *base;
	struct sip_tsx_layer *l;
	uint64_t t0;
	struct sent s[MAXSENT];
	size_t n;
	int fail_send;
	/* client TU */
	uint16_t codes[32];
	size_t ncodes;
	uint64_t code_at[32];
	/* server TU */
	struct sip_tsx *held; /* a server transaction the TU answers later */
	bool hold;
	uint16_t answer; /* answer at once with this code (0: none) */
	int requests;
	int acks_to_tu;
	int cancels;
	int errors;
	int last_err;
	int strays;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int w_send(const struct sip_tsx_peer *to, const uint8_t *p, size_t len,
		  void *arg)
{
	struct wire *w = arg;

	if (w->fail_send) {
		return -EIO;
	}
	assert_true(w->n < MAXSENT);
	w->s[w->n].p = malloc(len + 1);
	assert_non_null(w->s[w->n].p);
	memcpy(w->s[w->n].p, p, len);
	w->s[w->n].p[len] = '\0';
	w->s[w->n].len = len;
	w->s[w->n].at = now_ms() - w->t0;
	w->n++;
	return 0;
}

static void w_request(struct sip_tsx *t, struct sip_msg *req,
		      const struct sip_tsx_peer *src, void *arg)
{
	struct wire *w = arg;

	if (!t) {
		assert_int_equal(sip_msg_method(req), SIP_M_ACK);
		w->acks_to_tu++;
		return;
	}
	w->requests++;
	if (w->hold) {
		w->held = sip_tsx_ref(t);
	}
	if (w->answer) {
		assert_int_equal(sip_tsx_reply(t, w->answer, NULL, SLICE_NULL,
					       SLICE_NULL, SLICE_NULL),
				 0);
	}
}

static void w_cancel(struct sip_tsx *t, void *arg)
{
	struct wire *w = arg;

	w->cancels++;
}

static void w_error(struct sip_tsx *t, int err, void *arg)
{
	struct wire *w = arg;

	w->errors++;
	w->last_err = err;
}

static void w_stray(struct sip_msg *resp, const struct sip_tsx_peer *src,
		    void *arg)
{
	struct wire *w = arg;

	w->strays++;
}

static void w_resp(struct sip_tsx *t, struct sip_msg *resp, uint16_t code,
		   void *arg)
{
	struct wire *w = arg;

	assert_true(w->ncodes < 32);
	if (resp) {
		assert_int_equal(sip_msg_status(resp), code);
	}
	w->code_at[w->ncodes] = now_ms() - w->t0;
	w->codes[w->ncodes++] = code;
}

static struct sip_tsx_peer udp_peer(void)
{
	struct sip_tsx_peer p = {.tp = NET_UDP};

	assert_int_equal(net_addr_set(&p.addr, "127.0.0.1", 5070), 0);
	return p;
}

static struct sip_tsx_peer tcp_peer(void)
{
	struct sip_tsx_peer p = udp_peer();

	p.tp = NET_TCP;
	return p;
}

static void w_init(struct wire *w)
{
	memset(w, 0, sizeof(*w));
	/* Timers are measured against CLOCK_MONOTONIC: let libevent read
	 * the same precise clock, not the coarse one (a tick, 4 ms, per
	 * timer otherwise adds up along a chain of retransmissions). */
	struct event_config *ecfg = event_config_new();
	assert_non_null(ecfg);
	assert_int_equal(
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_PRECISE_TIMER), 0);
	w->base = event_base_new_with_config(ecfg);
	event_config_free(ecfg);
	assert_non_null(w->base);
	struct sip_tsx_cfg cfg = {
		.base = w->base,
		.t1_ms = T1,
		.t2_ms = T2,
		.t4_ms = T4,
		.d_ms = TD,
		.send_h = w_send,
		.request_h = w_request,
		.cancel_h = w_cancel,
		.stray_h = w_stray,
		.error_h = w_error,
		.arg = w,
	};
	assert_int_equal(sip_tsx_layer_new(&w->l, &cfg), 0);
	w->t0 = now_ms();
}

static void w_clear(struct wire *w)
{
	for (size_t i = 0; i < w->n; i++) {
		free(w->s[i].p);
	}
	w->n = 0;
}

static void w_done(struct wire *w)
{
	sip_tsx_unref(w->held);
	w->held = NULL;
	sip_tsx_layer_free(w->l);
	event_base_free(w->base);
	w_clear(w);
}

static void run_for(struct wire *w, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (suseconds_t)(ms % 1000) * 1000};

	event_base_loopexit(w->base, &tv);
	event_base_dispatch(w->base);
}

/* Feed text as if it arrived from the peer. */
static void feed(struct wire *w, const char *text, struct sip_tsx_peer peer)
{
	struct sip_msg *m = NULL;

	assert_int_equal(sip_msg_new(&m), 0);
	assert_int_equal(sip_msg_parse(m, (const uint8_t *)text, strlen(text),
				       SIP_MODE_DGRAM),
			 0);
	assert_int_equal(sip_tsx_recv(w->l, m, SIP_MODE_DGRAM, &peer), 0);
	sip_msg_free(m);
}

static void parse_sent(struct wire *w, size_t i, struct sip_msg **m)
{
	assert_true(i < w->n);
	assert_int_equal(sip_msg_new(m), 0);
	assert_int_equal(sip_msg_parse(*m, (const uint8_t *)w->s[i].p,
				       w->s[i].len, SIP_MODE_DGRAM),
			 0);
}

/* An interval measured on a shared machine: never early, a little late.
 * "Early" allows one tick of the coarse monotonic clock libevent reads
 * (4 ms at HZ=250) against the precise one the test reads. */
static void assert_interval(uint64_t got, uint64_t want)
{
	if (got + 5 < want || got > want + want / 2 + 30) {
		fail_msg("interval %llu ms, want %llu ms",
			 (unsigned long long)got, (unsigned long long)want);
	}
}

#define INVITE_BR "z9hG4bKinv1"
#define INVITE                                                                 \
	"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"                                 \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" INVITE_BR "\r\n"             \
	"Route: <sip:edge.invalid;lr>\r\n"                                     \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:alice@127.0.0.1>;tag=a1\r\n"                               \
	"To: <sip:bob@127.0.0.1>\r\n"                                          \
	"Call-ID: call-1@test\r\n"                                             \
	"CSeq: 7 INVITE\r\n"                                                   \
	"Content-Length: 0\r\n\r\n"

#define OPTIONS                                                                \
	"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"                                \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKopt1\r\n"               \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:alice@127.0.0.1>;tag=a1\r\n"                               \
	"To: <sip:bob@127.0.0.1>\r\n"                                          \
	"Call-ID: call-2@test\r\n"                                             \
	"CSeq: 1 OPTIONS\r\n"                                                  \
	"Content-Length: 0\r\n\r\n"

/* A response to INVITE/OPTIONS above, as the peer would send it. */
static void resp_text(char *out, size_t n, unsigned code, const char *branch,
		      const char *method, unsigned cseq, const char *callid)
{
	snprintf(out, n,
		 "SIP/2.0 %u X\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=%s\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		 "To: <sip:bob@127.0.0.1>%s\r\n"
		 "Call-ID: %s\r\n"
		 "CSeq: %u %s\r\n"
		 "Content-Length: 0\r\n\r\n",
		 code, branch, code > 100 ? ";tag=b2" : "", callid, cseq,
		 method);
}

static struct sip_tsx *start_client(struct wire *w, const char *req,
				    struct sip_tsx_peer peer)
{
	struct sip_tsx *t = NULL;

	assert_int_equal(sip_tsx_request(&t, w->l, (const uint8_t *)req,
					 strlen(req), &peer, w_resp, w),
			 0);
	assert_non_null(t);
	return t;
}

/* Timer E doubles up to T2, Timer F gives 408 at 64*T1 (§17.1.2.2). */
static void test_nc_timer_e_f(void **state)
{
	struct wire w;

	w_init(&w);
	struct sip_tsx *t = start_client(&w, OPTIONS, udp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TRYING);
	run_for(&w, 64 * T1 + 100);
	assert_int_equal(w.ncodes, 1);
	assert_int_equal(w.codes[0], 408);
	assert_interval(w.code_at[0], 64 * T1);
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	/* sends at 0, 20, 60, 140, 220, ... (intervals 20, 40, 80, 80...) */
	assert_true(w.n >= 12 && w.n <= 20);
	unsigned want = T1;
	for (size_t i = 1; i < w.n; i++) {
		assert_interval(w.s[i].at - w.s[i - 1].at, want);
		assert_string_equal(w.s[i].p, OPTIONS);
		want = 2 * want < T2 ? 2 * want : T2;
	}
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	sip_tsx_unref(t);
	w_done(&w);
}

/* Reliable transport: no retransmission, still Timer F. */
static void test_nc_reliable(void **state)
{
	struct wire w;

	w_init(&w);
	sip_tsx_unref(start_client(&w, OPTIONS, tcp_peer()));
	run_for(&w, 64 * T1 + 100);
	assert_int_equal(w.n, 1);
	assert_int_equal(w.ncodes, 1);
	assert_int_equal(w.codes[0], 408);
	w_done(&w);
}

/* Proceeding: Timer E fires every T2; a final response stops it, Timer K
 * (T4) ends the transaction, and retransmitted finals are absorbed. */
static void test_nc_proceeding_and_k(void **state)
{
	struct wire w;
	char r[1024];

	w_init(&w);
	struct sip_tsx *t = start_client(&w, OPTIONS, udp_peer());
	resp_text(r, sizeof(r), 100, "z9hG4bKopt1", "OPTIONS", 1,
		  "call-2@test");
	feed(&w, r, udp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_PROCEEDING);
	size_t n0 = w.n;
	run_for(&w, 3 * T2 + T2 / 2);
	assert_true(w.n - n0 >= 2 && w.n - n0 <= 4);
	for (size_t i = n0 + 1; i < w.n; i++) {
		assert_interval(w.s[i].at - w.s[i - 1].at, T2);
	}
	resp_text(r, sizeof(r), 200, "z9hG4bKopt1", "OPTIONS", 1,
		  "call-2@test");
	feed(&w, r, udp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_COMPLETED);
	feed(&w, r, udp_peer()); /* absorbed */
	assert_int_equal(w.ncodes, 2);
	assert_int_equal(w.codes[0], 100);
	assert_int_equal(w.codes[1], 200);
	size_t n1 = w.n;
	uint64_t done = now_ms();
	while (sip_tsx_state(t) != SIP_TSX_TERMINATED &&
	       now_ms() - done < 10 * T4) {
		run_for(&w, 5);
	}
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - done, T4);
	assert_int_equal(w.n, n1); /* no retransmission after the final */
	sip_tsx_unref(t);
	w_done(&w);
}

/* Timer A doubles without a cap, Timer B gives 408 (§17.1.1.2). */
static void test_ic_timer_a_b(void **state)
{
	struct wire w;

	w_init(&w);
	struct sip_tsx *t = start_client(&w, INVITE, udp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_CALLING);
	run_for(&w, 64 * T1 + 100);
	assert_int_equal(w.ncodes, 1);
	assert_int_equal(w.codes[0], 408);
	/* 0, 20, 60, 140, 300, 620: six sends, the next would be at 1260 */
	assert_true(w.n >= 6 && w.n <= 7);
	unsigned want = T1;
	for (size_t i = 1; i < 6; i++) {
		assert_interval(w.s[i].at - w.s[i - 1].at, want);
		want *= 2;
	}
	sip_tsx_unref(t);
	w_done(&w);
}

static bool has_line(const char *msg, const char *line)
{
	char want[512];

	snprintf(want, sizeof(want), "\r\n%s\r\n", line);
	return strstr(msg, want) != NULL;
}

/* A non-2xx final: the transaction ACKs it (§17.1.1.3), resends the ACK
 * for retransmissions, and Timer D ends it. */
static void test_ic_ack_non2xx(void **state)
{
	struct wire w;
	char r[1024];

	w_init(&w);
	struct sip_tsx *t = start_client(&w, INVITE, udp_peer());
	resp_text(r, sizeof(r), 486, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, udp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_COMPLETED);
	assert_int_equal(sip_tsx_final(t), 486);
	assert_int_equal(w.n, 2);
	const char *ack = w.s[1].p;
	assert_true(strncmp(ack, "ACK sip:bob@127.0.0.1 SIP/2.0\r\n", 31) == 0);
	assert_true(has_line(
		ack, "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" INVITE_BR));
	assert_true(has_line(ack, "Route: <sip:edge.invalid;lr>"));
	assert_true(has_line(ack, "From: <sip:alice@127.0.0.1>;tag=a1"));
	assert_true(has_line(ack, "To: <sip:bob@127.0.0.1>;tag=b2"));
	assert_true(has_line(ack, "Call-ID: call-1@test"));
	assert_true(has_line(ack, "CSeq: 7 ACK"));
	struct sip_msg *m;
	parse_sent(&w, 1, &m);
	assert_int_equal(sip_msg_method(m), SIP_M_ACK);
	assert_int_equal(sip_msg_hdr_lines(m, SIP_HDR_VIA), 1);
	sip_msg_free(m);
	/* retransmitted 486: the ACK again, the TU hears nothing */
	feed(&w, r, udp_peer());
	assert_int_equal(w.n, 3);
	assert_string_equal(w.s[2].p, w.s[1].p);
	assert_int_equal(w.ncodes, 1);
	/* Timer D */
	uint64_t st = now_ms();
	while (sip_tsx_state(t) != SIP_TSX_TERMINATED && now_ms() - st < 2000) {
		run_for(&w, 5);
	}
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - st, TD);
	sip_tsx_unref(t);
	w_done(&w);
}

/* RFC 6026: 2xx puts the INVITE client in Accepted; retransmitted 2xx go
 * to the TU; Timer M ends it. */
static void test_ic_accepted_m(void **state)
{
	struct wire w;
	char r[1024];

	w_init(&w);
	struct sip_tsx *t = start_client(&w, INVITE, tcp_peer());
	resp_text(r, sizeof(r), 180, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_PROCEEDING);
	resp_text(r, sizeof(r), 200, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	assert_int_equal(sip_tsx_state(t), SIP_TSX_ACCEPTED);
	feed(&w, r, tcp_peer());
	assert_int_equal(w.ncodes, 3);
	assert_int_equal(w.codes[2], 200);
	assert_int_equal(w.n, 1); /* no ACK from the transaction for 2xx */
	uint64_t st = now_ms();
	while (sip_tsx_state(t) != SIP_TSX_TERMINATED && now_ms() - st < 5000) {
		run_for(&w, 10);
	}
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - st, 64 * T1);
	/* once gone, a 2xx is a stray for the TU core */
	feed(&w, r, tcp_peer());
	assert_int_equal(w.strays, 1);
	sip_tsx_unref(t);
	w_done(&w);
}

/* INVITE server: 100 Trying at once, Timer G retransmits the final
 * response doubling up to T2, Timer H gives up (§17.2.1). */
static void test_is_timer_g_h(void **state)
{
	struct wire w;

	w_init(&w);
	w.answer = 486;
	feed(&w, INVITE, udp_peer());
	assert_int_equal(w.requests, 1);
	assert_int_equal(w.n, 1);
	assert_true(strncmp(w.s[0].p, "SIP/2.0 486 ", 12) == 0);
	assert_int_equal(sip_tsx_layer_count(w.l), 1);
	/* a retransmitted INVITE gets the 486 again, not a new TU call */
	feed(&w, INVITE, udp_peer());
	assert_int_equal(w.requests, 1);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.s[1].p, w.s[0].p);
	run_for(&w, 64 * T1 + 100);
	assert_int_equal(w.errors, 1);
	assert_int_equal(w.last_err, -ETIMEDOUT);
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	/* G: 20, 40, 80, 80, ... from the first send */
	unsigned want = T1;
	for (size_t i = 2; i < w.n; i++) {
		uint64_t prev = i == 2 ? w.s[0].at : w.s[i - 1].at;
		assert_interval(w.s[i].at - prev, want);
		want = 2 * want < T2 ? 2 * want : T2;
	}
	assert_true(w.n >= 12);
	w_done(&w);
}

/* ACK moves the INVITE server to Confirmed; Timer I (T4) ends it. */
static void test_is_ack_timer_i(void **state)
{
	struct wire w;
	static const char ack[] =
		"ACK sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" INVITE_BR "\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=x\r\n"
		"Call-ID: call-1@test\r\n"
		"CSeq: 7 ACK\r\n"
		"Content-Length: 0\r\n\r\n";

	w_init(&w);
	w.hold = true;
	feed(&w, INVITE, udp_peer());
	assert_non_null(w.held);
	/* no answer from the TU inside the callback: 100 Trying */
	assert_int_equal(w.n, 1);
	assert_true(strncmp(w.s[0].p, "SIP/2.0 100 ", 12) == 0);
	/* 100 carries no To tag (RFC 3261 §8.2.6.1) */
	assert_true(has_line(w.s[0].p, "To: <sip:bob@127.0.0.1>"));
	assert_int_equal(sip_tsx_reply(w.held, 603, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_COMPLETED);
	feed(&w, ack, udp_peer());
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_CONFIRMED);
	assert_int_equal(w.acks_to_tu, 0);
	size_t n = w.n;
	feed(&w, ack, udp_peer()); /* absorbed */
	feed(&w, INVITE, udp_peer());
	assert_int_equal(w.n, n);
	uint64_t st = now_ms();
	while (sip_tsx_state(w.held) != SIP_TSX_TERMINATED &&
	       now_ms() - st < 2000) {
		run_for(&w, 5);
	}
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - st, T4);
	assert_int_equal(w.n, n); /* Timer G stopped by the ACK */
	assert_int_equal(w.errors, 0);
	/* a terminated transaction refuses to send */
	assert_int_equal(sip_tsx_reply(w.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 -TL_ESTATE);
	w_done(&w);
}

/* RFC 6026 §8: 2xx puts the INVITE server in Accepted: INVITE
 * retransmissions are absorbed, the TU's 2xx retransmissions go out, the
 * ACK (new branch) goes to the TU, Timer L ends it. */
static void test_is_accepted_l(void **state)
{
	struct wire w;
	static const char ack2xx[] =
		"ACK sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKack2\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=x\r\n"
		"Call-ID: call-1@test\r\n"
		"CSeq: 7 ACK\r\n"
		"Content-Length: 0\r\n\r\n";

	w_init(&w);
	w.hold = true;
	feed(&w, INVITE, udp_peer());
	assert_int_equal(sip_tsx_reply(w.held, 180, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	/* retransmitted INVITE in Proceeding: the last provisional again */
	feed(&w, INVITE, udp_peer());
	assert_true(strncmp(w.s[w.n - 1].p, "SIP/2.0 180 ", 12) == 0);
	assert_int_equal(sip_tsx_reply(w.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_ACCEPTED);
	size_t n = w.n;
	feed(&w, INVITE, udp_peer());
	assert_int_equal(w.n, n);
	assert_int_equal(sip_tsx_reply(w.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	assert_int_equal(w.n, n + 1);
	/* a 486 after the 200 is refused */
	assert_int_equal(sip_tsx_reply(w.held, 486, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 -TL_ESTATE);
	feed(&w, ack2xx, udp_peer());
	assert_int_equal(w.acks_to_tu, 1);
	uint64_t st = now_ms();
	while (sip_tsx_state(w.held) != SIP_TSX_TERMINATED &&
	       now_ms() - st < 5000) {
		run_for(&w, 10);
	}
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - st, 64 * T1);
	w_done(&w);
}

/* Non-INVITE server: the final response is resent for retransmissions;
 * Timer J (64*T1 on UDP, 0 on TCP). */
static void test_ns_timer_j(void **state)
{
	struct wire w;

	w_init(&w);
	w.answer = 200;
	feed(&w, OPTIONS, udp_peer());
	assert_int_equal(w.n, 1);
	assert_true(strncmp(w.s[0].p, "SIP/2.0 200 OK\r\n", 16) == 0);
	feed(&w, OPTIONS, udp_peer());
	assert_int_equal(w.requests, 1);
	assert_int_equal(w.n, 2);
	assert_string_equal(w.s[0].p, w.s[1].p);
	assert_int_equal(sip_tsx_layer_count(w.l), 1);
	uint64_t st = now_ms();
	while (sip_tsx_layer_count(w.l) && now_ms() - st < 5000) {
		run_for(&w, 10);
	}
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	assert_interval(now_ms() - st, 64 * T1);
	/* TCP: gone at once */
	feed(&w, OPTIONS, tcp_peer());
	assert_int_equal(w.requests, 2);
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	w_done(&w);
}

/* OPTIONS number i, with its own branch (and so its own transaction). */
static void options_n(char *out, size_t n, unsigned i)
{
	snprintf(out, n,
		 "OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKmany%u\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@127.0.0.1>;tag=a%u\r\n"
		 "To: <sip:bob@127.0.0.1>\r\n"
		 "Call-ID: many-%u@test\r\n"
		 "CSeq: %u OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 i, i, i, i + 1);
}

/* Thousands of Completed non-INVITE server transactions (as a registrar
 * holds over UDP): each retransmission, in any order, finds its own and
 * gets its own response again; Timer J ends them all. */
static void test_ns_many(void **state)
{
	enum { N = 3000 };
	static char first[N][40];
	char req[512];
	struct wire w;

	w_init(&w);
	w.answer = 200;
	for (unsigned i = 0; i < N; i++) {
		options_n(req, sizeof(req), i);
		feed(&w, req, udp_peer());
		assert_int_equal(w.n, 1);
		/* the To tag tells the transactions apart */
		const char *tag = strstr(w.s[0].p, ";tag=");
		assert_non_null(tag);
		snprintf(first[i], sizeof(first[i]), "%.21s", tag);
		w_clear(&w);
	}
	assert_int_equal(sip_tsx_layer_count(w.l), N);
	assert_int_equal(w.requests, N);
	/* retransmissions in a scrambled order (7 and N are coprime) */
	for (unsigned k = 0; k < N; k++) {
		unsigned i = (k * 7u) % N;
		options_n(req, sizeof(req), i);
		feed(&w, req, udp_peer());
		assert_int_equal(w.n, 1);
		assert_non_null(strstr(w.s[0].p, first[i]));
		char cseq[32];
		snprintf(cseq, sizeof(cseq), "CSeq: %u OPTIONS\r\n", i + 1);
		assert_non_null(strstr(w.s[0].p, cseq));
		w_clear(&w);
	}
	assert_int_equal(w.requests, N);
	uint64_t st = now_ms();
	while (sip_tsx_layer_count(w.l) && now_ms() - st < 10000) {
		run_for(&w, 10);
	}
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	/* a retransmission after Timer J is a new request */
	options_n(req, sizeof(req), 5);
	feed(&w, req, udp_peer());
	assert_int_equal(w.requests, N + 1);
	w_done(&w);
}

/* The request a TU holds: a non-INVITE transaction answered inside the
 * request callback keeps no copy (sip_tsx_req NULL, no second answer); one
 * answered later keeps its own copy after the received message is gone. */
static void test_ns_request_kept(void **state)
{
	struct wire w;
	struct sip_msg *m = NULL;

	w_init(&w);
	w.answer = 200;
	w.hold = true;
	feed(&w, OPTIONS, udp_peer());
	assert_non_null(w.held);
	assert_null(sip_tsx_req(w.held));
	assert_int_equal(sip_tsx_reply(w.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 -TL_ESTATE);
	assert_int_equal(w.n, 1);
	sip_tsx_unref(w.held);
	w.held = NULL;
	w_clear(&w);

	/* answered later: feed() has freed its message by then */
	w.answer = 0;
	char req[512];
	options_n(req, sizeof(req), 42);
	feed(&w, req, udp_peer());
	assert_non_null(w.held);
	assert_int_equal(w.n, 0);
	assert_non_null(sip_tsx_req(w.held));
	assert_int_equal(sip_msg_cseq(sip_tsx_req(w.held))->num, 43);
	assert_int_equal(sip_tsx_reply(w.held, 202, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 0);
	parse_sent(&w, 0, &m);
	assert_int_equal(sip_msg_status(m), 202);
	assert_true(slice_eq_str(sip_msg_call_id(m), "many-42@test"));
	assert_true(slice_eq_str(sip_msg_via(m)->branch, "z9hG4bKmany42"));
	sip_msg_free(m);
	w_done(&w);
}

#define CANCEL_MSG                                                             \
	"CANCEL sip:bob@127.0.0.1 SIP/2.0\r\n"                                 \
	"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" INVITE_BR "\r\n"             \
	"Max-Forwards: 70\r\n"                                                 \
	"From: <sip:alice@127.0.0.1>;tag=a1\r\n"                               \
	"To: <sip:bob@127.0.0.1>\r\n"                                          \
	"Call-ID: call-1@test\r\n"                                             \
	"CSeq: 7 CANCEL\r\n"                                                   \
	"Content-Length: 0\r\n\r\n"

/* RFC 3261 §9.2: 200 to the CANCEL, 487 to the INVITE. */
static void test_server_cancel(void **state)
{
	struct wire w;

	w_init(&w);
	w.hold = true;
	feed(&w, INVITE, udp_peer());
	assert_int_equal(w.n, 1); /* 100 Trying */
	feed(&w, CANCEL_MSG, udp_peer());
	assert_int_equal(w.cancels, 1);
	assert_int_equal(w.n, 3);
	assert_true(strncmp(w.s[1].p, "SIP/2.0 200 ", 12) == 0);
	assert_true(has_line(w.s[1].p, "CSeq: 7 CANCEL"));
	assert_true(strncmp(w.s[2].p, "SIP/2.0 487 ", 12) == 0);
	assert_true(has_line(w.s[2].p, "CSeq: 7 INVITE"));
	assert_non_null(strstr(w.s[2].p, "To: <sip:bob@127.0.0.1>;tag="));
	assert_int_equal(sip_tsx_state(w.held), SIP_TSX_COMPLETED);
	assert_int_equal(sip_tsx_final(w.held), 487);
	/* the TU's late answer is refused */
	assert_int_equal(sip_tsx_reply(w.held, 200, NULL, SLICE_NULL,
				       SLICE_NULL, SLICE_NULL),
			 -TL_ESTATE);
	/* a retransmitted CANCEL gets its 200 again */
	feed(&w, CANCEL_MSG, udp_peer());
	assert_int_equal(w.cancels, 1);
	assert_string_equal(w.s[3].p, w.s[1].p);
	sip_tsx_unref(w.held);
	w.held = NULL;
	w_done(&w);

	/* a CANCEL for nothing: 481 */
	w_init(&w);
	feed(&w, CANCEL_MSG, udp_peer());
	assert_int_equal(w.n, 1);
	assert_true(strncmp(w.s[0].p, "SIP/2.0 481 ", 12) == 0);
	assert_int_equal(w.cancels, 0);
	w_done(&w);
}

/* RFC 3261 §9.1: the client cancels after a provisional response. */
static void test_client_cancel(void **state)
{
	struct wire w;
	char r[1024];

	w_init(&w);
	struct sip_tsx *t = start_client(&w, INVITE, tcp_peer());
	assert_int_equal(sip_tsx_cancel(t), 0);
	assert_int_equal(w.n, 1); /* not before a provisional */
	resp_text(r, sizeof(r), 180, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	assert_int_equal(w.n, 2);
	const char *c = w.s[1].p;
	assert_true(strncmp(c, "CANCEL sip:bob@127.0.0.1 SIP/2.0\r\n", 34) ==
		    0);
	assert_true(has_line(
		c, "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=" INVITE_BR));
	assert_true(has_line(c, "Route: <sip:edge.invalid;lr>"));
	assert_true(has_line(c, "To: <sip:bob@127.0.0.1>"));
	assert_true(has_line(c, "CSeq: 7 CANCEL"));
	assert_int_equal(sip_tsx_layer_count(w.l), 2);
	resp_text(r, sizeof(r), 200, INVITE_BR, "CANCEL", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	resp_text(r, sizeof(r), 487, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	assert_int_equal(w.codes[w.ncodes - 1], 487);
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	assert_int_equal(sip_tsx_cancel(t), -TL_ESTATE);
	sip_tsx_unref(t);
	w_done(&w);
}

/* RFC 3261 §9.1: no final response 64*T1 after the CANCEL: the INVITE
 * transaction gives up with 408; later provisionals do not stop that. */
static void test_client_cancel_timeout(void **state)
{
	struct wire w;
	char r[1024];

	w_init(&w);
	struct sip_tsx *t = start_client(&w, INVITE, tcp_peer());
	resp_text(r, sizeof(r), 180, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	assert_int_equal(sip_tsx_cancel(t), 0);
	assert_int_equal(w.n, 2);
	uint64_t st = now_ms();
	resp_text(r, sizeof(r), 183, INVITE_BR, "INVITE", 7, "call-1@test");
	feed(&w, r, tcp_peer());
	while (sip_tsx_state(t) != SIP_TSX_TERMINATED && now_ms() - st < 5000) {
		run_for(&w, 10);
	}
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	assert_interval(now_ms() - st, 64 * T1);
	assert_int_equal(w.codes[w.ncodes - 1], 408);
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	sip_tsx_unref(t);
	w_done(&w);
}

/* RFC 3581: rport and received in the response's top Via; the other Vias
 * are copied. */
static void test_rport(void **state)
{
	struct wire w;
	static const char req[] =
		"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP phone.invalid:5070;rport;branch=z9hG4bKr1\r\n"
		"Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKr0\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>\r\n"
		"Call-ID: call-3@test\r\n"
		"CSeq: 1 OPTIONS\r\n"
		"Content-Length: 0\r\n\r\n";
	struct sip_tsx_peer p = udp_peer();

	net_addr_set_port(&p.addr, 40123);
	w_init(&w);
	w.answer = 200;
	feed(&w, req, p);
	assert_int_equal(w.n, 1);
	assert_true(has_line(w.s[0].p,
			     "Via: SIP/2.0/UDP phone.invalid:5070;rport=40123;"
			     "branch=z9hG4bKr1;received=127.0.0.1"));
	assert_true(has_line(w.s[0].p,
			     "Via: SIP/2.0/UDP 10.1.1.1;branch=z9hG4bKr0"));
	w_done(&w);
}

/* A transport error on a retransmission: 503 to the client TU. */
static void test_transport_error(void **state)
{
	struct wire w;

	w_init(&w);
	struct sip_tsx *t = start_client(&w, OPTIONS, udp_peer());
	w.fail_send = 1;
	run_for(&w, 3 * T1);
	assert_int_equal(w.ncodes, 1);
	assert_int_equal(w.codes[0], 503);
	assert_int_equal(sip_tsx_state(t), SIP_TSX_TERMINATED);
	sip_tsx_unref(t);
	/* a send failing at once is reported to the caller */
	struct sip_tsx_peer p = udp_peer();
	assert_int_equal(sip_tsx_request(NULL, w.l, (const uint8_t *)INVITE,
					 strlen(INVITE), &p, w_resp, &w),
			 -EIO);
	assert_int_equal(sip_tsx_layer_count(w.l), 0);
	w_done(&w);
}

/* must reject: requests the client side cannot own */
static void test_request_reject(void **state)
{
	struct wire w;
	struct sip_tsx_peer p = udp_peer();
	static const char *const bad[] = {
		/* ACK: no transaction */
		"ACK sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\n"
		"Call-ID: x\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
		/* branch without the magic cookie */
		"OPTIONS sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=old1\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\n"
		"Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
		/* a response */
		"SIP/2.0 200 OK\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKa\r\n"
		"From: <sip:a@b>;tag=1\r\nTo: <sip:b@b>\r\n"
		"Call-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
	};

	w_init(&w);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(
			sip_tsx_request(NULL, w.l, (const uint8_t *)bad[i],
					strlen(bad[i]), &p, w_resp, &w),
			-EINVAL);
	}
	/* truncated: the codec refuses it */
	assert_true(sip_tsx_request(NULL, w.l, (const uint8_t *)OPTIONS, 40, &p,
				    w_resp, &w) < 0);
	/* the same branch twice */
	sip_tsx_unref(start_client(&w, OPTIONS, p));
	assert_int_equal(sip_tsx_request(NULL, w.l, (const uint8_t *)OPTIONS,
					 strlen(OPTIONS), &p, w_resp, &w),
			 -TL_EEXIST);
	assert_int_equal(w.n, 1);
	char br[SIP_TSX_BRANCH_LEN];
	assert_int_equal(sip_tsx_branch(br), 0);
	assert_int_equal(strlen(br), SIP_TSX_BRANCH_LEN - 1);
	assert_true(strncmp(br, "z9hG4bK", 7) == 0);
	w_done(&w);
}

/* RFC 2543 peers (no magic cookie): retransmissions and the ACK still
 * match. */
static void test_rfc2543_match(void **state)
{
	struct wire w;
	static const char inv[] =
		"INVITE sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=old\r\n"
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>\r\n"
		"Call-ID: call-9@test\r\n"
		"CSeq: 3 INVITE\r\n"
		"Content-Length: 0\r\n\r\n";
	static const char ack[] =
		"ACK sip:bob@127.0.0.1 SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:5070;branch=old\r\n"
		"From: <sip:alice@127.0.0.1>;tag=a1\r\n"
		"To: <sip:bob@127.0.0.1>;tag=zz\r\n"
		"Call-ID: call-9@test\r\n"
		"CSeq: 3 ACK\r\n"
		"Content-Length: 0\r\n\r\n";

	w_init(&w);
	w.answer = 404;
	feed(&w, inv, udp_peer());
	feed(&w, inv, udp_peer());
	assert_int_equal(w.requests, 1);
	assert_int_equal(w.n, 2);
	feed(&w, ack, udp_peer());
	assert_int_equal(w.acks_to_tu, 0);
	w_done(&w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nc_timer_e_f),
		cmocka_unit_test(test_nc_reliable),
		cmocka_unit_test(test_nc_proceeding_and_k),
		cmocka_unit_test(test_ic_timer_a_b),
		cmocka_unit_test(test_ic_ack_non2xx),
		cmocka_unit_test(test_ic_accepted_m),
		cmocka_unit_test(test_is_timer_g_h),
		cmocka_unit_test(test_is_ack_timer_i),
		cmocka_unit_test(test_is_accepted_l),
		cmocka_unit_test(test_ns_timer_j),
		cmocka_unit_test(test_ns_many),
		cmocka_unit_test(test_ns_request_kept),
		cmocka_unit_test(test_server_cancel),
		cmocka_unit_test(test_client_cancel),
		cmocka_unit_test(test_client_cancel_timeout),
		cmocka_unit_test(test_rport),
		cmocka_unit_test(test_transport_error),
		cmocka_unit_test(test_request_reject),
		cmocka_unit_test(test_rfc2543_match),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
