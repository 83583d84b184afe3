/* SRTP wrapper and SDES keys: libsrtp's self-test, known answers computed
 * independently with OpenSSL from RFC 3711 (§4.1.1, §4.2, §4.3; the key
 * derivation checked against Appendix B.3), round trips of every suite,
 * tamper and replay rejection, RFC 4568 key-params parsing. */
#include "media/media.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

static const enum media_srtp_suite all_suites[] = {
        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
        MEDIA_SRTP_AEAD_AES_128_GCM,
};

static void unhex(const char *h, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;

		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void test_suites(void **state)
{
	static const struct {
		const char *name;
		enum media_srtp_suite s;
		size_t key, tag;
	} t[] = {
	        {"AES_CM_128_HMAC_SHA1_80", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	         30, 10},
	        {"AES_CM_128_HMAC_SHA1_32", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	         30, 4},
	        {"AEAD_AES_128_GCM", MEDIA_SRTP_AEAD_AES_128_GCM, 28, 16},
	};
	enum media_srtp_suite s;

	for (size_t i = 0; i < N(t); i++) {
		assert_int_equal(
		        media_srtp_suite_parse(slice_from_str(t[i].name), &s),
		        0);
		assert_int_equal(s, t[i].s);
		assert_string_equal(media_srtp_suite_name(s), t[i].name);
		assert_int_equal(media_srtp_key_len(s), t[i].key);
		assert_int_equal(media_srtp_tag_len(s), t[i].tag);
	}
	static const char *bad[] = {
	        "aes_cm_128_hmac_sha1_80",  "AES_CM_128_HMAC_SHA1_8",
	        "AES_CM_128_HMAC_SHA1_800", "AEAD_AES_256_GCM",
	        "F8_128_HMAC_SHA1_80",      ""};
	for (size_t i = 0; i < N(bad); i++) {
		assert_int_equal(
		        media_srtp_suite_parse(slice_from_str(bad[i]), &s),
		        -TL_EUNKNOWN);
	}
	assert_null(media_srtp_suite_name(MEDIA_SRTP_NONE));
	assert_int_equal(media_srtp_key_len(MEDIA_SRTP_NONE), 0);
}

/* libsrtp's own known-answer tests of AES-ICM, AES-GCM, HMAC-SHA1. */
static void test_selftest(void **state)
{
	assert_int_equal(media_srtp_selftest(), 0);
}

/* ---- RFC 4568 key-params ---- */

static void test_key_params(void **state)
{
	struct media_srtp_key k, g;
	char s[MEDIA_SRTP_KEY_PARAMS_MAX];
	uint8_t want[30];

	/* RFC 4568 §9.2's example key, with and without a lifetime */
	unhex("3d2d6e40255e782142"
	      "6a75667239293f2c23"
	      "35685c603d265d7b71"
	      "695051",
	      want, 30);
	assert_int_equal(
	        media_srtp_key_parse(
	                &k, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	                SLICE_LIT("inline:"
	                          "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	                          "|2^20")),
	        0);
	assert_int_equal(k.len, 30);
	assert_memory_equal(k.key, want, 30);
	assert_int_equal(media_srtp_key_format(&k, s, sizeof(s)), 0);
	assert_string_equal(s,
	                    "inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR");
	assert_int_equal(media_srtp_key_format(&k, s, 47), -TL_ETOOBIG);
	assert_int_equal(
	        media_srtp_key_parse(&g, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	                             slice_from_str(s)),
	        0);
	assert_memory_equal(g.key, want, 30);
	assert_int_equal(g.suite, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32);
	/* decimal lifetime */
	assert_int_equal(
	        media_srtp_key_parse(
	                &g, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	                SLICE_LIT("inline:"
	                          "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
	                          "|1048576")),
	        0);

	/* a GCM key (28 bytes: base64 with two padding characters), also
	 * accepted without its padding */
	assert_int_equal(media_srtp_key_parse(
	                         &g, MEDIA_SRTP_AEAD_AES_128_GCM,
	                         SLICE_LIT("inline:AAECAwQFBgcICQoLDA0ODxAREhMU"
	                                   "FRYXGBkaGw==")),
	                 0);
	for (int i = 0; i < 28; i++) {
		assert_int_equal(g.key[i], i);
	}
	assert_int_equal(media_srtp_key_parse(
	                         &g, MEDIA_SRTP_AEAD_AES_128_GCM,
	                         SLICE_LIT("inline:AAECAwQFBgcICQoLDA0ODxAREhMU"
	                                   "FRYXGBkaGw")),
	                 0);
	assert_int_equal(g.key[27], 27);

	/* generated keys of every suite survive format and parse */
	for (size_t i = 0; i < N(all_suites); i++) {
		assert_int_equal(media_srtp_key_generate(&k, all_suites[i]), 0);
		assert_int_equal(k.len, media_srtp_key_len(all_suites[i]));
		assert_int_equal(media_srtp_key_format(&k, s, sizeof(s)), 0);
		assert_int_equal(strlen(s), 7 + 40);
		assert_int_equal(media_srtp_key_parse(&g, all_suites[i],
		                                      slice_from_str(s)),
		                 0);
		assert_int_equal(g.len, k.len);
		assert_memory_equal(g.key, k.key, k.len);
		media_srtp_key_wipe(&k);
		assert_int_equal(k.len, 0);
	}
	assert_int_equal(media_srtp_key_generate(&k, MEDIA_SRTP_NONE), -EINVAL);
}

struct kp_reject {
	const char *what;
	enum media_srtp_suite suite;
	struct slice kp;
	int err;
};

#define K40 "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"

static const struct kp_reject kp_rejects[] = {
        {"empty", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, SLICE_LIT(""),
         -TL_EPARSE},
        {"no key method", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, SLICE_LIT(K40),
         -TL_EPARSE},
        {"key method in capitals", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("INLINE:" K40), -TL_EPARSE},
        {"truncated key (29 bytes)", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVA="),
         -TL_EPARSE},
        {"overlong key (33 bytes)", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "AAAA"), -TL_EPARSE},
        {"AES_CM key for GCM (30 bytes, want 28)", MEDIA_SRTP_AEAD_AES_128_GCM,
         SLICE_LIT("inline:" K40), -TL_EPARSE},
        {"empty key", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, SLICE_LIT("inline:"),
         -TL_EPARSE},
        {"not base64", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaV!R"),
         -TL_EPARSE},
        {"NUL inside", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:PS1uQCVeeCFCanVmcjkp\0ywjNWhcYD0mXXtxaVBR"),
         -TL_EPARSE},
        {"trailing space", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 " "), -TL_EPARSE},
        {"non-canonical last character (low bits set)",
         MEDIA_SRTP_AEAD_AES_128_GCM,
         SLICE_LIT("inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx=="),
         -TL_EPARSE},
        {"GCM key with its padding cut short", MEDIA_SRTP_AEAD_AES_128_GCM,
         SLICE_LIT("inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw="),
         -TL_EPARSE},
        {"misplaced padding", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mX=txaVBR"),
         -TL_EPARSE},
        {"several keys", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|2^20|1:4;inline:" K40 "|2^20|2:4"),
         -TL_EUNKNOWN},
        {"MKI (RFC 4568 §9.2 example)", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|2^20|1:32"), -TL_EUNKNOWN},
        {"MKI without lifetime", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|1:4"), -TL_EUNKNOWN},
        {"empty lifetime", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|"), -TL_EPARSE},
        {"lifetime 2^49 (over RFC 3711 §9.2)",
         MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, SLICE_LIT("inline:" K40 "|2^49"),
         -TL_EPARSE},
        {"lifetime exponent of 3 digits", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|2^100"), -TL_EPARSE},
        {"lifetime integer overflow", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|99999999999999999999999"), -TL_EPARSE},
        {"lifetime not a number", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|2^x"), -TL_EPARSE},
        {"duplicate lifetime", MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
         SLICE_LIT("inline:" K40 "|2^20|2^20"), -TL_EDUP},
        {"unknown suite", MEDIA_SRTP_NONE, SLICE_LIT("inline:" K40), -EINVAL},
};

static void test_key_params_reject(void **state)
{
	for (size_t i = 0; i < N(kp_rejects); i++) {
		const struct kp_reject *t = &kp_rejects[i];
		struct media_srtp_key k;
		int err = media_srtp_key_parse(&k, t->suite, t->kp);

		if (err != t->err) {
			fail_msg("%s: got %d want %d", t->what, err, t->err);
		}
		/* nothing of a refused key is left behind */
		assert_int_equal(k.len, 0);
	}
}

/* ---- an independent SRTP (RFC 3711) for known answers ---- */

static void aes_ctr(const uint8_t key[16], const uint8_t iv[16],
                    const uint8_t *in, uint8_t *out, size_t n)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l = 0;

	assert_non_null(c);
	assert_int_equal(
	        EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv), 1);
	assert_int_equal(EVP_EncryptUpdate(c, out, &l, in, (int)n), 1);
	assert_int_equal((size_t)l, n);
	EVP_CIPHER_CTX_free(c);
}

/* RFC 3711 §4.3.1 with key_derivation_rate 0: x = label << 48 XOR salt;
 * the PRF is AES-CM keyed by the master key with IV x * 2^16. */
static void kdf(const uint8_t mk[16], const uint8_t ms[14], uint8_t label,
                uint8_t *out, size_t n)
{
	uint8_t iv[16] = {0};
	uint8_t zero[64] = {0};

	memcpy(iv, ms, 14);
	iv[7] ^= label;
	aes_ctr(mk, iv, zero, out, n);
}

static void test_kdf_rfc3711_b3(void **state)
{
	uint8_t mk[16], ms[14], ck[16], cs[14], ak[20];
	uint8_t want_ck[16], want_cs[14], want_ak[20];

	unhex("E1F97A0D3E018BE0D64FA32C06DE4139", mk, 16);
	unhex("0EC675AD498AFEEBB6960B3AABE6", ms, 14);
	unhex("C61E7A93744F39EE10734AFE3FF7A087", want_ck, 16);
	unhex("30CBBC08863D8C85D49DB34A9AE1", want_cs, 14);
	unhex("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4", want_ak, 20);
	kdf(mk, ms, 0, ck, 16);
	kdf(mk, ms, 2, cs, 14);
	kdf(mk, ms, 1, ak, 20);
	assert_memory_equal(ck, want_ck, 16);
	assert_memory_equal(cs, want_cs, 14);
	assert_memory_equal(ak, want_ak, 20);
}

/* RFC 3711 §3.1, §4.1.1, §4.2: the SRTP packet for an RTP packet with
 * ROC 0, computed from the master key alone. */
static void ref_protect(const struct media_srtp_key *k, const uint8_t *rtp,
                        size_t len, size_t tag_len, uint8_t *out,
                        size_t *out_len)
{
	uint8_t ck[16], cs[14], ak[20], iv[16] = {0};
	uint8_t mac[20];
	unsigned mlen = 0;
	uint16_t seq = (uint16_t)(rtp[2] << 8 | rtp[3]);

	kdf(k->key, k->key + 16, 0, ck, 16);
	kdf(k->key, k->key + 16, 1, ak, 20);
	kdf(k->key, k->key + 16, 2, cs, 14);
	/* IV = (k_s * 2^16) XOR (SSRC * 2^64) XOR (i * 2^16) */
	memcpy(iv, cs, 14);
	for (int j = 0; j < 4; j++) {
		iv[4 + j] ^= rtp[8 + j];
	}
	iv[12] ^= (uint8_t)(seq >> 8);
	iv[13] ^= (uint8_t)seq;
	memcpy(out, rtp, 12);
	aes_ctr(ck, iv, rtp + 12, out + 12, len - 12);
	/* the authenticated portion, then the ROC */
	uint8_t m[1600];
	memcpy(m, out, len);
	memset(m + len, 0, 4);
	assert_non_null(HMAC(EVP_sha1(), ak, 20, m, len + 4, mac, &mlen));
	memcpy(out + len, mac, tag_len);
	*out_len = len + tag_len;
}

static void make_rtp(uint8_t *p, uint16_t seq, size_t payload)
{
	struct media_rtp_hdr h;
	uint8_t pl[MEDIA_FRAME_SAMPLES];
	size_t len;

	for (size_t i = 0; i < sizeof(pl); i++) {
		pl[i] = (uint8_t)(0xd5 ^ i);
	}
	memset(&h, 0, sizeof(h));
	h.pt = 0;
	h.seq = seq;
	h.ts = 0x11223344u + seq * 160u;
	h.ssrc = 0xcafebabe;
	assert_int_equal(
	        media_rtp_build(&h, slice_make(pl, payload), p, 1500, &len), 0);
}

static void test_known_answer(void **state)
{
	static const enum media_srtp_suite cm[] = {
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	        MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	};

	for (size_t i = 0; i < N(cm); i++) {
		struct media_srtp_key k;
		struct media_srtp *tx, *rx;
		size_t tag = media_srtp_tag_len(cm[i]);

		assert_int_equal(media_srtp_key_parse(&k, cm[i],
		                                      SLICE_LIT("inline:" K40)),
		                 0);
		assert_int_equal(media_srtp_new(&tx, &k, &k), 0);
		assert_int_equal(media_srtp_new(&rx, &k, &k), 0);
		for (uint16_t seq = 1000; seq < 1005; seq++) {
			uint8_t pkt[1600], ref[1600];
			size_t len = 12 + 160, rlen = 0;

			make_rtp(pkt, seq, 160);
			ref_protect(&k, pkt, len, tag, ref, &rlen);
			assert_int_equal(
			        media_srtp_protect(tx, pkt, &len, sizeof(pkt)),
			        0);
			assert_int_equal(len, rlen);
			assert_memory_equal(pkt, ref, rlen);
			/* and the reference packet is accepted */
			assert_int_equal(media_srtp_unprotect(rx, ref, &rlen),
			                 0);
			assert_int_equal(rlen, 12 + 160);
			make_rtp(pkt, seq, 160);
			assert_memory_equal(ref, pkt, rlen);
		}
		media_srtp_free(tx);
		media_srtp_free(rx);
		media_srtp_key_wipe(&k);
	}
}

/* ---- round trips, tampering, replay ---- */

static void pair(enum media_srtp_suite suite, struct media_srtp **a,
                 struct media_srtp **b)
{
	struct media_srtp_key k1, k2;

	assert_int_equal(media_srtp_key_generate(&k1, suite), 0);
	assert_int_equal(media_srtp_key_generate(&k2, suite), 0);
	/* a sends with k1 and receives with k2; b the other way round */
	assert_int_equal(media_srtp_new(a, &k1, &k2), 0);
	assert_int_equal(media_srtp_new(b, &k2, &k1), 0);
	media_srtp_key_wipe(&k1);
	media_srtp_key_wipe(&k2);
}

static void test_roundtrip(void **state)
{
	static const size_t sizes[] = {0, 1, 4, 160, 1200};

	for (size_t i = 0; i < N(all_suites); i++) {
		struct media_srtp *a, *b;
		size_t tag = media_srtp_tag_len(all_suites[i]);

		pair(all_suites[i], &a, &b);
		for (size_t j = 0; j < N(sizes); j++) {
			for (int dir = 0; dir < 2; dir++) {
				uint8_t pkt[1600], orig[1600];
				size_t len = 12 + sizes[j];

				make_rtp(pkt, (uint16_t)(j * 2 + (size_t)dir),
				         sizes[j] > 160 ? 160 : sizes[j]);
				memset(pkt + 12 + 160 * (sizes[j] > 160), 0x5a,
				       sizes[j] > 160 ? sizes[j] - 160 : 0);
				memcpy(orig, pkt, len);
				struct media_srtp *tx = dir ? b : a;
				struct media_srtp *rx = dir ? a : b;
				assert_int_equal(
				        media_srtp_protect(tx, pkt, &len,
				                           sizeof(pkt)),
				        0);
				assert_int_equal(len, 12 + sizes[j] + tag);
				assert_memory_equal(pkt, orig, 12);
				if (sizes[j] >= 4) {
					assert_memory_not_equal(
					        pkt + 12, orig + 12, sizes[j]);
				}
				assert_int_equal(
				        media_srtp_unprotect(rx, pkt, &len), 0);
				assert_int_equal(len, 12 + sizes[j]);
				assert_memory_equal(pkt, orig, len);
			}
		}
		media_srtp_free(a);
		media_srtp_free(b);
	}
	media_srtp_free(NULL);
}

/* RFC 3711 §3.3: every modified byte is refused (header, payload, tag),
 * and none of the refusals changes state: the genuine packet is still
 * accepted afterwards, once. */
static void test_tamper_replay(void **state)
{
	for (size_t i = 0; i < N(all_suites); i++) {
		struct media_srtp *a, *b;
		uint8_t pkt[1600], t[1600];
		size_t len = 12 + 160, tl;

		pair(all_suites[i], &a, &b);
		make_rtp(pkt, 77, 160);
		assert_int_equal(media_srtp_protect(a, pkt, &len, sizeof(pkt)),
		                 0);
		for (size_t pos = 0; pos < len; pos++) {
			memcpy(t, pkt, len);
			t[pos] ^= 0x01;
			tl = len;
			int err = media_srtp_unprotect(b, t, &tl);
			if (err != -TL_EAUTH) {
				fail_msg("suite %zu byte %zu: %d", i, pos, err);
			}
		}
		/* one byte cut off the tag */
		memcpy(t, pkt, len);
		tl = len - 1;
		assert_int_equal(media_srtp_unprotect(b, t, &tl), -TL_EAUTH);
		memcpy(t, pkt, len);
		tl = len;
		assert_int_equal(media_srtp_unprotect(b, t, &tl), 0);
		/* RFC 3711 §3.3.2: a replay is refused */
		memcpy(t, pkt, len);
		tl = len;
		assert_int_equal(media_srtp_unprotect(b, t, &tl), -TL_ESTALE);
		/* a packet for the other direction's key */
		make_rtp(t, 78, 160);
		tl = 12 + 160;
		assert_int_equal(media_srtp_protect(b, t, &tl, sizeof(t)), 0);
		assert_int_equal(media_srtp_unprotect(b, t, &tl), -TL_EAUTH);
		media_srtp_free(a);
		media_srtp_free(b);
	}
}

static void test_limits(void **state)
{
	struct media_srtp *a, *b;
	struct media_srtp_key k, g;
	uint8_t pkt[1600];
	size_t len;

	pair(MEDIA_SRTP_AEAD_AES_128_GCM, &a, &b);
	make_rtp(pkt, 1, 160);
	len = 172;
	assert_int_equal(media_srtp_protect(a, pkt, &len, 172 + 15),
	                 -TL_ETOOBIG);
	len = 11;
	assert_int_equal(media_srtp_protect(a, pkt, &len, sizeof(pkt)),
	                 -TL_ETRUNC);
	len = 15;
	assert_int_equal(media_srtp_unprotect(b, pkt, &len), -TL_ETRUNC);
	len = 2000;
	assert_int_equal(media_srtp_unprotect(b, pkt, &len), -TL_ETOOBIG);
	/* not RTP at all (version 0) */
	memset(pkt, 0, 40);
	len = 40;
	assert_true(media_srtp_unprotect(b, pkt, &len) < 0);
	media_srtp_free(a);
	media_srtp_free(b);

	/* bad keys */
	memset(&k, 0, sizeof(k));
	assert_int_equal(media_srtp_new(&a, &k, &k), -EINVAL);
	assert_int_equal(
	        media_srtp_key_generate(&k, MEDIA_SRTP_AEAD_AES_128_GCM), 0);
	g = k;
	g.len = 30;
	assert_int_equal(media_srtp_new(&a, &k, &g), -EINVAL);
	assert_null(a);
	assert_int_equal(media_srtp_new(&a, &k, NULL), -EINVAL);
	/* different suites each way are allowed */
	assert_int_equal(
	        media_srtp_key_generate(&g, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32),
	        0);
	assert_int_equal(media_srtp_new(&a, &k, &g), 0);
	media_srtp_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_suites),
	        cmocka_unit_test(test_selftest),
	        cmocka_unit_test(test_key_params),
	        cmocka_unit_test(test_key_params_reject),
	        cmocka_unit_test(test_kdf_rfc3711_b3),
	        cmocka_unit_test(test_known_answer),
	        cmocka_unit_test(test_roundtrip),
	        cmocka_unit_test(test_tamper_replay),
	        cmocka_unit_test(test_limits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
