/* The phone's SDP offer/answer for its audio stream (phone_media.c):
 * which crypto line an answer takes, when a re-offer keeps the keys
 * (hold, resume) and when it is answered with a fresh key (a new peer
 * key, a new media address: after a transfer), answers to our full offer
 * and to our re-offer, and the SDP it must refuse. */
#include "phone/phone_int.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

#define AES "AES_CM_128_HMAC_SHA1_80"
#define GCM "AEAD_AES_128_GCM"

/* Keys made once per test: k[0..3] AES_CM, g[0..1] GCM. */
static struct media_srtp_key k[4], g[2];
static char kp[4][MEDIA_SRTP_KEY_PARAMS_MAX], gp[2][MEDIA_SRTP_KEY_PARAMS_MAX];

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < 4; i++) {
		if (media_srtp_key_generate(
		            &k[i], MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80) ||
		    media_srtp_key_format(&k[i], kp[i], sizeof(kp[i]))) {
			return -1;
		}
	}
	for (int i = 0; i < 2; i++) {
		if (media_srtp_key_generate(&g[i],
		                            MEDIA_SRTP_AEAD_AES_128_GCM) ||
		    media_srtp_key_format(&g[i], gp[i], sizeof(gp[i]))) {
			return -1;
		}
	}
	return 0;
}

static bool same(const struct media_srtp_key *a, const struct media_srtp_key *b)
{
	return a->suite == b->suite && a->len == b->len &&
	       memcmp(a->key, b->key, a->len) == 0;
}

/* An SDP with one audio stream; crypto: whole a=crypto lines or "". */
static struct slice sdp(char *buf, size_t cap, const char *addr, int port,
                        const char *proto, const char *fmts, const char *dir,
                        const char *crypto)
{
	int n = snprintf(buf, cap,
	                 "v=0\r\no=- 1 2 IN IP4 %s\r\ns=-\r\nc=IN IP4 %s\r\n"
	                 "t=0 0\r\nm=audio %d %s %s\r\n%sa=%s\r\n",
	                 addr, addr, port, proto, fmts, crypto, dir);
	assert_true(n > 0 && (size_t)n < cap);
	return slice_make((const uint8_t *)buf, (size_t)n);
}

static void test_offer_new_call(void **state)
{
	char b[1024], cr[300];
	struct phone_call c;
	struct phone_sdp t;
	struct phone_neg n;

	(void)state;
	memset(&c, 0, sizeof(c));
	snprintf(cr, sizeof(cr),
	         "a=crypto:1 " GCM " %s\r\na=crypto:2 " AES " %s\r\n", gp[0],
	         kp[0]);
	struct slice s = sdp(b, sizeof(b), "127.0.0.1", 4000, "RTP/SAVP",
	                     "8 0 101", "sendrecv", cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	assert_int_equal(t.n_keys, 2);
	assert_int_equal(t.codec, MEDIA_PCMA);
	assert_true(t.has_remote);
	assert_int_equal(net_addr_port(&t.remote), 4000);
	assert_int_equal(phone_neg_offer(&n, &c, &t), 0);
	assert_true(n.srtp);
	assert_true(n.fresh_tx);
	assert_int_equal(n.tag, 1);
	assert_true(same(&n.rx, &g[0]));
	assert_int_equal(n.tx.suite, MEDIA_SRTP_AEAD_AES_128_GCM);
	assert_false(same(&n.tx, &g[0]));
	assert_int_equal(phone_neg_install(NULL, &c, &n), 0);
	assert_true(c.srtp);
	assert_int_equal(c.crypto_tag, 1);
	assert_int_equal(c.suite, MEDIA_SRTP_AEAD_AES_128_GCM);
	assert_true(same(&c.rx, &g[0]));
	assert_int_equal(c.codec, MEDIA_PCMA);
	assert_int_equal(net_addr_port(&c.remote), 4000);
	phone_sdp_wipe(&t);
	phone_neg_wipe(&n);

	/* Not allowed to do SRTP (not TLS, not an encrypted device): the
	 * keys are not even read, the answer is plain RTP. */
	assert_int_equal(phone_sdp_read(&t, s, false), 0);
	assert_int_equal(t.n_keys, 0);
	memset(&c, 0, sizeof(c));
	assert_int_equal(phone_neg_offer(&n, &c, &t), 0);
	assert_false(n.srtp);

	/* A suite we do not do is passed over (RFC 4568 §7.1.2). */
	snprintf(cr, sizeof(cr),
	         "a=crypto:1 F8_128_HMAC_SHA1_80 %s\r\na=crypto:7 " AES
	         " %s\r\n",
	         kp[1], kp[0]);
	s = sdp(b, sizeof(b), "127.0.0.1", 4000, "RTP/SAVP", "0", "sendrecv",
	        cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	assert_int_equal(t.n_keys, 1);
	assert_int_equal(phone_neg_offer(&n, &c, &t), 0);
	assert_int_equal(n.tag, 7);
	assert_true(same(&n.rx, &k[0]));
	phone_sdp_wipe(&t);
	phone_neg_wipe(&n);
}

/* A call in progress: we receive k[0] (the peer's key, tag 1), send
 * k[1], and the peer's media is at 127.0.0.1:4000. */
static void active_call(struct phone_call *c)
{
	memset(c, 0, sizeof(*c));
	c->st = CALL_ACTIVE;
	c->srtp = true;
	c->rx = k[0];
	c->tx = k[1];
	c->crypto_tag = 1;
	c->suite = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
	c->codec = MEDIA_PCMU;
	assert_int_equal(net_addr_set(&c->remote, "127.0.0.1", 4000), 0);
}

enum want_rx { RX_NONE, RX_K0, RX_K2 };

static void test_reoffer_table(void **state)
{
	static const struct {
		const char *what;
		const char *addr;
		int port;
		const char *proto, *dir;
		int key; /* -1: none; 0 or 2: k[key] under tag 1 */
		bool srtp, fresh, hold;
		enum want_rx rx;
		int remote_port;
	} rows[] = {
	        {"resume: unchanged", "127.0.0.1", 4000, "RTP/SAVP", "sendrecv",
	         0, true, false, false, RX_K0, 4000},
	        {"hold: sendonly, same key", "127.0.0.1", 4000, "RTP/SAVP",
	         "sendonly", 0, true, false, true, RX_K0, 4000},
	        {"hold: c=0.0.0.0 (RFC 2543), same key", "0.0.0.0", 4000,
	         "RTP/SAVP", "sendrecv", 0, true, false, true, RX_K0, 4000},
	        {"the peer's new key", "127.0.0.1", 4000, "RTP/SAVP",
	         "sendrecv", 2, true, true, false, RX_K2, 4000},
	        {"media moved (a transfer), same key", "127.0.0.1", 4002,
	         "RTP/SAVP", "sendrecv", 0, true, true, false, RX_K0, 4002},
	        {"media moved with a new key", "127.0.0.1", 4002, "RTP/SAVP",
	         "sendrecv", 2, true, true, false, RX_K2, 4002},
	        {"plain RTP now", "127.0.0.1", 4002, "RTP/AVP", "sendrecv", -1,
	         false, false, false, RX_NONE, 4002},
	};
	char b[1024], cr[200];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct phone_call c;
		struct phone_sdp t;
		struct phone_neg n;
		active_call(&c);
		cr[0] = 0;
		if (rows[i].key >= 0) {
			snprintf(cr, sizeof(cr), "a=crypto:1 " AES " %s\r\n",
			         kp[rows[i].key]);
		}
		struct slice s = sdp(b, sizeof(b), rows[i].addr, rows[i].port,
		                     rows[i].proto, "0 101", rows[i].dir, cr);
		print_message("%s\n", rows[i].what);
		assert_int_equal(phone_sdp_read(&t, s, true), 0);
		assert_int_equal(t.hold, rows[i].hold);
		assert_int_equal(phone_neg_offer(&n, &c, &t), 0);
		assert_int_equal(n.srtp, rows[i].srtp);
		assert_int_equal(n.fresh_tx, rows[i].fresh);
		if (rows[i].srtp) {
			assert_int_equal(n.tag, 1);
			assert_true(same(&n.rx,
			                 rows[i].rx == RX_K0 ? &k[0] : &k[2]));
			/* a fresh key is new; otherwise ours is kept */
			assert_int_equal(same(&n.tx, &k[1]), !rows[i].fresh);
			assert_int_equal(n.tx.suite, n.rx.suite);
		}
		assert_int_equal(phone_neg_install(NULL, &c, &n), 0);
		assert_int_equal(net_addr_port(&c.remote), rows[i].remote_port);
		assert_int_equal(c.srtp, rows[i].srtp);
		phone_sdp_wipe(&t);
		phone_neg_wipe(&n);
	}
}

static void test_answers(void **state)
{
	char b[1024], cr[300];
	struct phone_call c;
	struct phone_sdp t;
	struct phone_neg n;

	(void)state;
	/* Our full offer: k[0] under tag 1 (AES_CM), g[0] under tag 2. */
	memset(&c, 0, sizeof(c));
	c.offer_keys[0] = k[0];
	c.offer_keys[1] = g[0];
	snprintf(cr, sizeof(cr), "a=crypto:2 " GCM " %s\r\n", gp[1]);
	struct slice s = sdp(b, sizeof(b), "127.0.0.1", 4100, "RTP/SAVP",
	                     "0 101", "sendrecv", cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	phone_neg_answer(&n, &c, &t, true);
	assert_true(n.srtp);
	assert_int_equal(n.tag, 2);
	assert_true(same(&n.tx, &g[0]));
	assert_true(same(&n.rx, &g[1]));
	/* The same tag with another suite than we offered under it. */
	snprintf(cr, sizeof(cr), "a=crypto:1 " GCM " %s\r\n", gp[1]);
	s = sdp(b, sizeof(b), "127.0.0.1", 4100, "RTP/SAVP", "0", "sendrecv",
	        cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	phone_neg_answer(&n, &c, &t, true);
	assert_false(n.srtp);
	/* No crypto line: plain RTP. */
	s = sdp(b, sizeof(b), "127.0.0.1", 4100, "RTP/AVP", "0", "sendrecv",
	        "");
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	phone_neg_answer(&n, &c, &t, true);
	assert_false(n.srtp);

	/* Our re-offer (hold) of k[1] under tag 1: the peer answers with a
	 * new key of its own (RFC 4568 §7.1.4), which we take; ours stays. */
	active_call(&c);
	snprintf(cr, sizeof(cr), "a=crypto:1 " AES " %s\r\n", kp[3]);
	s = sdp(b, sizeof(b), "127.0.0.1", 4000, "RTP/SAVP", "0", "recvonly",
	        cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	phone_neg_answer(&n, &c, &t, false);
	assert_true(n.srtp);
	assert_true(same(&n.tx, &k[1]));
	assert_true(same(&n.rx, &k[3]));
	assert_int_equal(phone_neg_install(NULL, &c, &n), 0);
	assert_true(same(&c.rx, &k[3]));
	assert_true(same(&c.tx, &k[1]));
	/* ... or under a tag we did not offer: not an answer to it. */
	active_call(&c);
	snprintf(cr, sizeof(cr), "a=crypto:2 " AES " %s\r\n", kp[3]);
	s = sdp(b, sizeof(b), "127.0.0.1", 4000, "RTP/SAVP", "0", "sendrecv",
	        cr);
	assert_int_equal(phone_sdp_read(&t, s, true), 0);
	phone_neg_answer(&n, &c, &t, false);
	assert_false(n.srtp);
	phone_sdp_wipe(&t);
	phone_neg_wipe(&n);
}

/* Refused before anything is used: the call stays as it was. */
static void test_must_reject(void **state)
{
	static const struct {
		const char *what;
		const char *text;
	} rows[] = {
	        {"no G.711 format", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	                            "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	                            "m=audio 4000 RTP/AVP 18\r\n"},
	        {"no media", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	                     "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"},
	        {"no connection address", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n"
	                                  "s=-\r\nt=0 0\r\n"
	                                  "m=audio 4000 RTP/AVP 0\r\n"},
	        {"truncated", "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	                      "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	                      "m=audio 4000 RTP/AVP 0"},
	        {"not SDP", "INVITE sip:1002@x SIP/2.0\r\n"},
	        {"empty", ""},
	        {"a crypto key of the wrong length",
	         "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"
	         "c=IN IP4 127.0.0.1\r\nt=0 0\r\n"
	         "m=audio 4000 RTP/SAVP 0\r\n"
	         "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:AAAA\r\n"},
	};
	struct phone_sdp t;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		print_message("%s\n", rows[i].what);
		assert_int_not_equal(
		        phone_sdp_read(&t,
		                       slice_make((const uint8_t *)rows[i].text,
		                                  strlen(rows[i].text)),
		                       true),
		        0);
		phone_sdp_wipe(&t);
	}
	/* With a NUL inside. */
	char b[1024];
	struct slice s = sdp(b, sizeof(b), "127.0.0.1", 4000, "RTP/AVP", "0",
	                     "sendrecv", "");
	b[20] = 0;
	assert_int_not_equal(phone_sdp_read(&t, s, true), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_offer_new_call),
	        cmocka_unit_test(test_reoffer_table),
	        cmocka_unit_test(test_answers),
	        cmocka_unit_test(test_must_reject),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
