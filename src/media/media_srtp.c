/* SRTP through libsrtp2 (RFC 3711, RFC 7714) and SDES key-params
 * (RFC 4568 §6.1). The cryptography is libsrtp's; this file only chooses
 * policies, checks lengths and maps errors. */
#include "media/media.h"

#include "base/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <srtp2/srtp.h>

/* Exported by libsrtp2 but declared only in its private crypto_kernel.h:
 * runs the known-answer self-test of every registered cipher and
 * authentication function. */
srtp_err_status_t srtp_crypto_kernel_status(void);

/* RFC 3711 §3.3.2: a 64-packet window is the minimum; a longer one keeps
 * reordered packets over lossy paths. */
#define SRTP_WINDOW 1024

struct media_srtp {
	srtp_t tx;
	srtp_t rx;
};

static const struct {
	enum media_srtp_suite suite;
	const char *name;
	size_t key_len;
	size_t tag_len;
} suites[] = {
        {MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, "AES_CM_128_HMAC_SHA1_80", 30, 10},
        {MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, "AES_CM_128_HMAC_SHA1_32", 30, 4},
        {MEDIA_SRTP_AEAD_AES_128_GCM, "AEAD_AES_128_GCM", 28, 16},
};

#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

const char *media_srtp_suite_name(enum media_srtp_suite suite)
{
	for (size_t i = 0; i < N_SUITES; i++) {
		if (suites[i].suite == suite) {
			return suites[i].name;
		}
	}
	return NULL;
}

int media_srtp_suite_parse(struct slice name, enum media_srtp_suite *out)
{
	for (size_t i = 0; i < N_SUITES; i++) {
		if (slice_eq_str(name, suites[i].name)) {
			*out = suites[i].suite;
			return 0;
		}
	}
	return -TL_EUNKNOWN;
}

size_t media_srtp_key_len(enum media_srtp_suite suite)
{
	for (size_t i = 0; i < N_SUITES; i++) {
		if (suites[i].suite == suite) {
			return suites[i].key_len;
		}
	}
	return 0;
}

size_t media_srtp_tag_len(enum media_srtp_suite suite)
{
	for (size_t i = 0; i < N_SUITES; i++) {
		if (suites[i].suite == suite) {
			return suites[i].tag_len;
		}
	}
	return 0;
}

int media_srtp_key_generate(struct media_srtp_key *k,
                            enum media_srtp_suite suite)
{
	size_t len = media_srtp_key_len(suite);

	memset(k, 0, sizeof(*k));
	if (len == 0) {
		return -EINVAL;
	}
	if (RAND_bytes(k->key, (int)len) != 1) {
		return -TL_ECRYPTO;
	}
	k->suite = suite;
	k->len = len;
	return 0;
}

void media_srtp_key_wipe(struct media_srtp_key *k)
{
	if (k) {
		OPENSSL_cleanse(k, sizeof(*k));
	}
}

static int b64_val(uint8_t c)
{
	if (c >= 'A' && c <= 'Z') {
		return c - 'A';
	}
	if (c >= 'a' && c <= 'z') {
		return c - 'a' + 26;
	}
	if (c >= '0' && c <= '9') {
		return c - '0' + 52;
	}
	if (c == '+') {
		return 62;
	}
	if (c == '/') {
		return 63;
	}
	return -1;
}

/* RFC 4648 §4 base64, strict: padding optional but, when present,
 * correct; the unused low bits of the last character must be zero so that
 * one key has one spelling. */
static TL_MUST_CHECK int b64_decode(struct slice in, uint8_t *out, size_t cap,
                                    size_t *out_len)
{
	size_t n = in.len, o = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if (n >= 1 && in.p[n - 1] == '=') {
		n--;
		if (n >= 1 && in.p[n - 1] == '=') {
			n--;
		}
		if (in.len % 4 != 0) {
			return -TL_EPARSE;
		}
	}
	if (n % 4 == 1) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(in.p[i]);

		if (v < 0) {
			return -TL_EPARSE;
		}
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == cap) {
				return -TL_EPARSE;
			}
			out[o++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc != 0) {
		return -TL_EPARSE;
	}
	*out_len = o;
	return 0;
}

/* RFC 4568 §6.1: lifetime = ["2^"] 1*(DIGIT); the key may protect at most
 * that many packets. RFC 3711 §9.2 caps SRTP at 2^48 packets. */
static TL_MUST_CHECK int parse_lifetime(struct slice s)
{
	uint64_t v;

	if (s.len > 2 && s.p[0] == '2' && s.p[1] == '^') {
		struct slice e = {s.p + 2, s.len - 2};

		if (slice_to_u64(e, 2, &v) != 0) {
			return -TL_EPARSE;
		}
		return v <= 48 ? 0 : -TL_EPARSE;
	}
	if (slice_to_u64(s, 15, &v) != 0) {
		return -TL_EPARSE;
	}
	return v <= (1ull << 48) ? 0 : -TL_EPARSE;
}

int media_srtp_key_parse(struct media_srtp_key *k, enum media_srtp_suite suite,
                         struct slice kp)
{
	static const char inl[] = "inline:";
	size_t want = media_srtp_key_len(suite);
	struct slice key, rest;
	size_t got = 0;
	int lifetimes = 0;
	long bar;
	int err;

	memset(k, 0, sizeof(*k));
	if (want == 0) {
		return -EINVAL;
	}
	if (kp.len == 0) {
		return -TL_EPARSE;
	}
	if (memchr(kp.p, '\0', kp.len)) {
		return -TL_EPARSE;
	}
	/* Several keys (";inline:...") are allowed by RFC 4568 §9.1 but
	 * only with MKIs, which we do not use. */
	if (memchr(kp.p, ';', kp.len)) {
		return -TL_EUNKNOWN;
	}
	if (kp.len < sizeof(inl) - 1 || memcmp(kp.p, inl, sizeof(inl) - 1)) {
		return -TL_EPARSE;
	}
	key = slice_make(kp.p + sizeof(inl) - 1, kp.len - (sizeof(inl) - 1));
	rest = SLICE_NULL;
	bar = slice_find(key, '|');
	if (bar >= 0) {
		rest = slice_make(key.p + bar + 1, key.len - (size_t)bar - 1);
		key.len = (size_t)bar;
	}
	while (rest.p) {
		struct slice f = rest;

		bar = slice_find(rest, '|');
		if (bar >= 0) {
			f.len = (size_t)bar;
			rest = slice_make(rest.p + bar + 1,
			                  rest.len - (size_t)bar - 1);
		} else {
			rest = SLICE_NULL;
		}
		if (slice_find(f, ':') >= 0) {
			/* MKI:length */
			err = -TL_EUNKNOWN;
			goto fail;
		}
		if (lifetimes++ > 0) {
			err = -TL_EDUP;
			goto fail;
		}
		err = parse_lifetime(f);
		if (err) {
			goto fail;
		}
	}
	err = b64_decode(key, k->key, sizeof(k->key), &got);
	if (err) {
		goto fail;
	}
	if (got != want) {
		err = -TL_EPARSE;
		goto fail;
	}
	k->suite = suite;
	k->len = want;
	return 0;
fail:
	media_srtp_key_wipe(k);
	return err;
}

int media_srtp_key_format(const struct media_srtp_key *k, char *out, size_t cap)
{
	static const char inl[] = "inline:";
	uint8_t tmp[((MEDIA_SRTP_KEY_MAX + 2) / 3) * 4 + 1];
	int n;

	if (k->len == 0 || k->len != media_srtp_key_len(k->suite)) {
		return -EINVAL;
	}
	n = EVP_EncodeBlock(tmp, k->key, (int)k->len);
	if (n <= 0) {
		return -TL_ECRYPTO;
	}
	if (cap < sizeof(inl) + (size_t)n) {
		OPENSSL_cleanse(tmp, sizeof(tmp));
		return -TL_ETOOBIG;
	}
	memcpy(out, inl, sizeof(inl) - 1);
	memcpy(out + sizeof(inl) - 1, tmp, (size_t)n + 1);
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

static void srtp_log(srtp_log_level_t level, const char *msg, void *data)
{
	log_debug("srtp", "libsrtp (%d): %s", (int)level, msg);
}

static pthread_once_t srtp_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t srtp_init_status;

static void srtp_do_init(void)
{
	(void)srtp_install_log_handler(srtp_log, NULL);
	srtp_init_status = srtp_init();
}

int media_srtp_init(void)
{
	(void)pthread_once(&srtp_once, srtp_do_init);
	return srtp_init_status == srtp_err_status_ok ? 0 : -TL_ECRYPTO;
}

int media_srtp_selftest(void)
{
	int err = media_srtp_init();

	if (err) {
		return err;
	}
	return srtp_crypto_kernel_status() == srtp_err_status_ok ? 0
	                                                         : -TL_ECRYPTO;
}

static TL_MUST_CHECK int policy_set(srtp_policy_t *p,
                                    const struct media_srtp_key *k,
                                    srtp_ssrc_type_t type, uint8_t *keybuf)
{
	memset(p, 0, sizeof(*p));
	if (k->len == 0 || k->len != media_srtp_key_len(k->suite)) {
		return -EINVAL;
	}
	switch (k->suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		/* RFC 4568 §6.2.2: the 32-bit tag is for SRTP only; SRTCP
		 * keeps the 80-bit tag. */
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case MEDIA_SRTP_AEAD_AES_128_GCM:
		/* RFC 7714 §14.2: 16-byte key, 12-byte salt, 16-byte tag. */
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	default:
		return -EINVAL;
	}
	memcpy(keybuf, k->key, k->len);
	p->ssrc.type = type;
	p->key = keybuf;
	p->window_size = SRTP_WINDOW;
	p->allow_repeat_tx = 0;
	p->next = NULL;
	return 0;
}

static TL_MUST_CHECK int srtp_make(srtp_t *out, const struct media_srtp_key *k,
                                   srtp_ssrc_type_t type)
{
	uint8_t keybuf[MEDIA_SRTP_KEY_MAX];
	srtp_policy_t pol;
	int err;

	*out = NULL;
	err = policy_set(&pol, k, type, keybuf);
	if (!err && srtp_create(out, &pol) != srtp_err_status_ok) {
		*out = NULL;
		err = -TL_ECRYPTO;
	}
	OPENSSL_cleanse(keybuf, sizeof(keybuf));
	OPENSSL_cleanse(&pol, sizeof(pol));
	return err;
}

int media_srtp_new(struct media_srtp **out, const struct media_srtp_key *tx,
                   const struct media_srtp_key *rx)
{
	struct media_srtp *s;
	int err;

	*out = NULL;
	if (!tx || !rx) {
		return -EINVAL;
	}
	err = media_srtp_init();
	if (err) {
		return err;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		return -ENOMEM;
	}
	err = srtp_make(&s->tx, tx, ssrc_any_outbound);
	if (!err) {
		err = srtp_make(&s->rx, rx, ssrc_any_inbound);
	}
	if (err) {
		media_srtp_free(s);
		return err;
	}
	*out = s;
	return 0;
}

int media_srtp_protect(struct media_srtp *s, uint8_t *pkt, size_t *len,
                       size_t cap)
{
	int l;

	if (*len < MEDIA_RTP_HDR_LEN) {
		return -TL_ETRUNC;
	}
	if (*len > MEDIA_RTP_MAX_PACKET || cap < *len ||
	    cap - *len < MEDIA_SRTP_TRAILER_MAX) {
		return -TL_ETOOBIG;
	}
	l = (int)*len;
	if (srtp_protect(s->tx, pkt, &l) != srtp_err_status_ok) {
		return -TL_ECRYPTO;
	}
	*len = (size_t)l;
	return 0;
}

int media_srtp_unprotect(struct media_srtp *s, uint8_t *pkt, size_t *len)
{
	srtp_err_status_t st;
	int l;

	/* The shortest SRTP packet is a header and a 4-byte tag. */
	if (*len < MEDIA_RTP_HDR_LEN + 4) {
		return -TL_ETRUNC;
	}
	if (*len > MEDIA_RTP_MAX_PACKET + MEDIA_SRTP_TRAILER_MAX) {
		return -TL_ETOOBIG;
	}
	l = (int)*len;
	st = srtp_unprotect(s->rx, pkt, &l);
	switch (st) {
	case srtp_err_status_ok:
		*len = (size_t)l;
		return 0;
	case srtp_err_status_auth_fail:
		return -TL_EAUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return -TL_ESTALE;
	case srtp_err_status_bad_param:
	case srtp_err_status_parse_err:
		return -TL_EPARSE;
	default:
		return -TL_ECRYPTO;
	}
}

void media_srtp_free(struct media_srtp *s)
{
	if (!s) {
		return;
	}
	if (s->tx) {
		(void)srtp_dealloc(s->tx);
	}
	if (s->rx) {
		(void)srtp_dealloc(s->rx);
	}
	free(s);
}
