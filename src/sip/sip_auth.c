/* SIP digest authentication (RFC 7616, RFC 8760, RFC 3261 §22).
 * See docs/sip-auth.md for the nonce format and the replay and rate-limit
 * behaviour. */
#include "sip/sip_auth.h"

#include "base/rnd.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NONCE_TS_LEN   8
#define NONCE_RND_LEN  8
#define NONCE_MAC_LEN  32
#define NONCE_RAW_LEN  (NONCE_TS_LEN + NONCE_RND_LEN + NONCE_MAC_LEN)
#define NONCE_TXT_LEN  64 /* base64url of 48 bytes, no padding */
#define NC_KEY_LEN     16
#define OPAQUE_RAW_LEN 12
#define WAYS           4
#define REALM_MAX      256
#define ADDR_MAX       16
#define CLIENT_SLOTS   8
#define CLIENT_STR_MAX 256

/* ---------------------------------------------------------------- hashes */

const char *sip_auth_alg_name(enum sip_auth_alg alg)
{
	switch (alg) {
	case SIP_AUTH_MD5:
		return "MD5";
	case SIP_AUTH_MD5_SESS:
		return "MD5-sess";
	case SIP_AUTH_SHA256:
		return "SHA-256";
	case SIP_AUTH_SHA256_SESS:
		return "SHA-256-sess";
	}
	return "?";
}

int sip_auth_alg_parse(struct slice s, enum sip_auth_alg *out)
{
	static const enum sip_auth_alg all[] = {SIP_AUTH_MD5, SIP_AUTH_MD5_SESS,
						SIP_AUTH_SHA256,
						SIP_AUTH_SHA256_SESS};

	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (slice_eq_str_nocase(s, sip_auth_alg_name(all[i]))) {
			*out = all[i];
			return 0;
		}
	}
	return -TL_EUNKNOWN;
}

static bool alg_is_sha256(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_SHA256 || alg == SIP_AUTH_SHA256_SESS;
}

static bool alg_is_sess(enum sip_auth_alg alg)
{
	return alg == SIP_AUTH_MD5_SESS || alg == SIP_AUTH_SHA256_SESS;
}

size_t sip_auth_alg_len(enum sip_auth_alg alg)
{
	return alg_is_sha256(alg) ? 32 : 16;
}

/* Hashing state reused across calls: OpenSSL 3 looks an algorithm up in
 * its provider tables on every implicit fetch (EVP_md5() and friends) and
 * allocates a context per EVP_MD_CTX_new, which costs more than hashing a
 * digest-auth string. The server fetches once and keeps one context. */
struct hasher {
	EVP_MD_CTX *ctx;
	EVP_MD *md5;
	EVP_MD *sha256;
};

static const EVP_MD *alg_md(const struct hasher *h, enum sip_auth_alg alg)
{
	if (alg_is_sha256(alg)) {
		return h && h->sha256 ? h->sha256 : EVP_sha256();
	}
	return h && h->md5 ? h->md5 : EVP_md5();
}

static void to_hex(const uint8_t *p, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[p[i] >> 4];
		out[2 * i + 1] = hx[p[i] & 15];
	}
	out[2 * n] = '\0';
}

/* H(p0 ":" p1 ":" ... ) over n slices, raw digest into md_out. h: the
 * caller's reusable state, or NULL for a context of this call's own. */
static int hash_join(const struct hasher *h, enum sip_auth_alg alg,
		     const struct slice *parts, size_t n, uint8_t *md_out)
{
	EVP_MD_CTX *ctx = h && h->ctx ? h->ctx : EVP_MD_CTX_new();
	unsigned int mdlen = 0;
	int rc = -TL_ECRYPTO;

	if (!ctx) {
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex2(ctx, alg_md(h, alg), NULL) != 1) {
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && EVP_DigestUpdate(ctx, ":", 1) != 1) {
			goto out;
		}
		if (parts[i].len &&
		    EVP_DigestUpdate(ctx, parts[i].p, parts[i].len) != 1) {
			goto out;
		}
	}
	if (EVP_DigestFinal_ex(ctx, md_out, &mdlen) != 1 ||
	    mdlen != sip_auth_alg_len(alg)) {
		goto out;
	}
	rc = 0;
out:
	if (!h || ctx != h->ctx) {
		EVP_MD_CTX_free(ctx);
	}
	return rc;
}

int sip_auth_ha1(enum sip_auth_alg alg, struct slice user, struct slice realm,
		 struct slice password, uint8_t ha1[SIP_AUTH_HA1_MAX],
		 size_t *len)
{
	struct slice parts[3] = {user, realm, password};
	int rc = hash_join(NULL, alg, parts, 3, ha1);

	if (rc == 0) {
		*len = sip_auth_alg_len(alg);
	}
	return rc;
}

static int response_with(const struct hasher *h,
			 const struct sip_auth_digest_in *in,
			 char hex[SIP_AUTH_HEX_MAX])
{
	size_t dlen = sip_auth_alg_len(in->alg);
	uint8_t md[SIP_AUTH_HA1_MAX];
	char ha1hex[SIP_AUTH_HEX_MAX];
	char ha2hex[SIP_AUTH_HEX_MAX];
	int rc;

	if (!in->ha1 || in->ha1_len != dlen) {
		return -EINVAL;
	}
	to_hex(in->ha1, dlen, ha1hex);
	if (alg_is_sess(in->alg)) {
		/* RFC 7616 §3.4.2: HA1 = H(H(user:realm:pw) ":" nonce ":"
		 * cnonce) for the -sess variants. */
		struct slice sp[3] = {slice_make(ha1hex, 2 * dlen), in->nonce,
				      in->cnonce};

		rc = hash_join(h, in->alg, sp, 3, md);
		if (rc) {
			goto out;
		}
		to_hex(md, dlen, ha1hex);
	}
	struct slice a2[2] = {in->method, in->uri};
	rc = hash_join(h, in->alg, a2, 2, md);
	if (rc) {
		goto out;
	}
	to_hex(md, dlen, ha2hex);
	if (in->qop.len) {
		struct slice rp[6] = {slice_make(ha1hex, 2 * dlen),
				      in->nonce,
				      in->nc,
				      in->cnonce,
				      in->qop,
				      slice_make(ha2hex, 2 * dlen)};
		rc = hash_join(h, in->alg, rp, 6, md);
	} else {
		/* RFC 2069 compatibility form (RFC 7616 §3.4.1 note). */
		struct slice rp[3] = {slice_make(ha1hex, 2 * dlen), in->nonce,
				      slice_make(ha2hex, 2 * dlen)};
		rc = hash_join(h, in->alg, rp, 3, md);
	}
	if (rc) {
		goto out;
	}
	to_hex(md, dlen, hex);
out:
	OPENSSL_cleanse(ha1hex, sizeof(ha1hex));
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

int sip_auth_response(const struct sip_auth_digest_in *in,
		      char hex[SIP_AUTH_HEX_MAX])
{
	return response_with(NULL, in, hex);
}

/* ------------------------------------------------------------- base64url */

static const char b64u[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url (RFC 4648 §5); out must hold 4*ceil(n/3)+1. */
static size_t b64u_enc(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0, i = 0;

	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 |
			     p[i + 2];
		out[o++] = b64u[v >> 18];
		out[o++] = b64u[(v >> 12) & 63];
		out[o++] = b64u[(v >> 6) & 63];
		out[o++] = b64u[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)p[i] << 16;
		out[o++] = b64u[v >> 18];
		out[o++] = b64u[(v >> 12) & 63];
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64u[v >> 18];
		out[o++] = b64u[(v >> 12) & 63];
		out[o++] = b64u[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64u_val(uint8_t c)
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
	if (c == '-') {
		return 62;
	}
	if (c == '_') {
		return 63;
	}
	return -1;
}

/* Decodes exactly a multiple of 4 characters (our nonces are). */
static int b64u_dec4(struct slice s, uint8_t *out, size_t outlen)
{
	if (s.len % 4 || s.len / 4 * 3 != outlen) {
		return -TL_EPARSE;
	}
	for (size_t i = 0, o = 0; i < s.len; i += 4, o += 3) {
		uint32_t v = 0;
		for (size_t j = 0; j < 4; j++) {
			int d = b64u_val(s.p[i + j]);
			if (d < 0) {
				return -TL_EPARSE;
			}
			v = v << 6 | (uint32_t)d;
		}
		out[o] = (uint8_t)(v >> 16);
		out[o + 1] = (uint8_t)(v >> 8);
		out[o + 2] = (uint8_t)v;
	}
	return 0;
}

/* ----------------------------------------------------- parameter scanner */

struct kv {
	struct slice k;
	struct slice v;
};

static bool is_tchar(uint8_t c)
{
	/* RFC 7230 §3.2.6 tchar */
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9')) {
		return true;
	}
	return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool is_lws(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static size_t skip_lws(struct slice s, size_t i)
{
	while (i < s.len && is_lws(s.p[i])) {
		i++;
	}
	return i;
}

/* "Scheme k=v, k="v" ..." into kvs. Quoted strings may not hold escapes
 * (we hand out slices, never copies) nor control bytes. */
static int scan_params(struct slice s, struct slice *scheme, struct kv *kvs,
		       size_t *n)
{
	size_t i, cnt = 0;

	if (s.len > SIP_AUTH_VALUE_MAX) {
		return -TL_ETOOBIG;
	}
	i = skip_lws(s, 0);
	size_t st = i;
	while (i < s.len && is_tchar(s.p[i])) {
		i++;
	}
	if (i == st || i >= s.len || !is_lws(s.p[i])) {
		return -TL_EPARSE;
	}
	*scheme = slice_make(s.p + st, i - st);
	for (;;) {
		struct kv kv;

		i = skip_lws(s, i);
		st = i;
		while (i < s.len && is_tchar(s.p[i])) {
			i++;
		}
		if (i == st) {
			return -TL_EPARSE;
		}
		kv.k = slice_make(s.p + st, i - st);
		i = skip_lws(s, i);
		if (i >= s.len || s.p[i] != '=') {
			return -TL_EPARSE;
		}
		i = skip_lws(s, i + 1);
		if (i < s.len && s.p[i] == '"') {
			st = ++i;
			while (i < s.len && s.p[i] != '"') {
				uint8_t c = s.p[i];
				if (c == '\\' || (c < 0x20 && c != '\t') ||
				    c == 0x7f) {
					return -TL_EPARSE;
				}
				i++;
			}
			if (i >= s.len) {
				return -TL_ETRUNC;
			}
			kv.v = slice_make(s.p + st, i - st);
			i++;
		} else {
			st = i;
			while (i < s.len && is_tchar(s.p[i])) {
				i++;
			}
			if (i == st) {
				return -TL_EPARSE;
			}
			kv.v = slice_make(s.p + st, i - st);
		}
		if (kv.v.len > SIP_AUTH_PARAM_MAX) {
			return -TL_ETOOBIG;
		}
		if (cnt >= SIP_AUTH_PARAMS_MAX) {
			return -TL_ETOOBIG;
		}
		kvs[cnt++] = kv;
		i = skip_lws(s, i);
		if (i >= s.len) {
			break;
		}
		if (s.p[i] != ',') {
			return -TL_EPARSE;
		}
		i++;
	}
	*n = cnt;
	return 0;
}

/* Maps known names to slots; a known name twice is refused. */
static int pick_params(const struct kv *kvs, size_t n, const char *const *names,
		       struct slice *vals, bool *seen, size_t nnames)
{
	for (size_t i = 0; i < nnames; i++) {
		seen[i] = false;
		vals[i] = SLICE_NULL;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < nnames; j++) {
			if (!slice_eq_str_nocase(kvs[i].k, names[j])) {
				continue;
			}
			if (seen[j]) {
				return -TL_EDUP;
			}
			seen[j] = true;
			vals[j] = kvs[i].v;
		}
	}
	return 0;
}

static bool is_hex(struct slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		      (c >= 'A' && c <= 'F'))) {
			return false;
		}
	}
	return true;
}

static uint32_t hex_u32(struct slice s)
{
	uint32_t v = 0;

	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		uint32_t d = c <= '9' ? (uint32_t)(c - '0')
				      : (uint32_t)((c | 0x20) - 'a' + 10);
		v = v << 4 | d;
	}
	return v;
}

enum {
	CP_USERNAME,
	CP_REALM,
	CP_NONCE,
	CP_URI,
	CP_RESPONSE,
	CP_ALGORITHM,
	CP_CNONCE,
	CP_OPAQUE,
	CP_QOP,
	CP_NC,
	CP_USERHASH,
	CP_COUNT
};

static const char *const cred_names[CP_COUNT] = {
	"username", "realm",  "nonce", "uri", "response", "algorithm",
	"cnonce",   "opaque", "qop",   "nc",  "userhash"};

int sip_auth_parse_creds(struct slice value, struct sip_auth_creds *out)
{
	struct kv kvs[SIP_AUTH_PARAMS_MAX];
	struct slice scheme, v[CP_COUNT];
	bool seen[CP_COUNT];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = scan_params(value, &scheme, kvs, &n);
	if (rc) {
		return rc;
	}
	if (!slice_eq_str_nocase(scheme, "Digest")) {
		return -TL_EUNKNOWN;
	}
	rc = pick_params(kvs, n, cred_names, v, seen, CP_COUNT);
	if (rc) {
		return rc;
	}
	if (!seen[CP_USERNAME] || !seen[CP_REALM] || !seen[CP_NONCE] ||
	    !seen[CP_URI] || !seen[CP_RESPONSE]) {
		return -TL_EPARSE;
	}
	/* RFC 7616 §3.4.4: we never ask for userhash, so cannot map one. */
	if (seen[CP_USERHASH] &&
	    !slice_eq_str_nocase(v[CP_USERHASH], "false")) {
		return -TL_EUNKNOWN;
	}
	out->alg = SIP_AUTH_MD5;
	if (seen[CP_ALGORITHM]) {
		rc = sip_auth_alg_parse(v[CP_ALGORITHM], &out->alg);
		if (rc) {
			return rc;
		}
	}
	if (v[CP_RESPONSE].len != 2 * sip_auth_alg_len(out->alg) ||
	    !is_hex(v[CP_RESPONSE])) {
		return -TL_EPARSE;
	}
	if (seen[CP_QOP]) {
		if (!seen[CP_CNONCE] || !seen[CP_NC] || v[CP_CNONCE].len == 0) {
			return -TL_EPARSE;
		}
		/* RFC 7616 §3.4: nc is exactly 8 hex digits. */
		if (v[CP_NC].len != 8 || !is_hex(v[CP_NC])) {
			return -TL_EPARSE;
		}
		out->nc = hex_u32(v[CP_NC]);
	} else if (seen[CP_CNONCE] || seen[CP_NC]) {
		return -TL_EPARSE;
	}
	if (v[CP_USERNAME].len == 0 || v[CP_NONCE].len == 0 ||
	    v[CP_URI].len == 0) {
		return -TL_EPARSE;
	}
	out->username = v[CP_USERNAME];
	out->realm = v[CP_REALM];
	out->nonce = v[CP_NONCE];
	out->uri = v[CP_URI];
	out->response = v[CP_RESPONSE];
	out->cnonce = v[CP_CNONCE];
	out->opaque = v[CP_OPAQUE];
	out->qop = v[CP_QOP];
	out->nc_text = v[CP_NC];
	return 0;
}

enum {
	CH_REALM,
	CH_NONCE,
	CH_OPAQUE,
	CH_ALGORITHM,
	CH_STALE,
	CH_QOP,
	CH_DOMAIN,
	CH_COUNT
};

static const char *const chal_names[CH_COUNT] = {
	"realm", "nonce", "opaque", "algorithm", "stale", "qop", "domain"};

/* Does the comma-separated list hold "auth" (not "auth-int")? */
static bool qop_list_has_auth(struct slice l)
{
	size_t i = 0;

	while (i < l.len) {
		i = skip_lws(l, i);
		size_t st = i;
		while (i < l.len && l.p[i] != ',') {
			i++;
		}
		struct slice item = slice_trim(slice_make(l.p + st, i - st));
		if (slice_eq_str_nocase(item, "auth")) {
			return true;
		}
		i++;
	}
	return false;
}

int sip_auth_parse_chal(struct slice value, struct sip_auth_chal *out)
{
	struct kv kvs[SIP_AUTH_PARAMS_MAX];
	struct slice scheme, v[CH_COUNT];
	bool seen[CH_COUNT];
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = scan_params(value, &scheme, kvs, &n);
	if (rc) {
		return rc;
	}
	if (!slice_eq_str_nocase(scheme, "Digest")) {
		return -TL_EUNKNOWN;
	}
	rc = pick_params(kvs, n, chal_names, v, seen, CH_COUNT);
	if (rc) {
		return rc;
	}
	if (!seen[CH_REALM] || !seen[CH_NONCE] || v[CH_NONCE].len == 0) {
		return -TL_EPARSE;
	}
	out->alg = SIP_AUTH_MD5;
	if (seen[CH_ALGORITHM]) {
		rc = sip_auth_alg_parse(v[CH_ALGORITHM], &out->alg);
		if (rc) {
			return rc;
		}
	}
	out->realm = v[CH_REALM];
	out->nonce = v[CH_NONCE];
	out->opaque = v[CH_OPAQUE];
	out->stale = seen[CH_STALE] && slice_eq_str_nocase(v[CH_STALE], "true");
	out->qop_present = seen[CH_QOP];
	out->qop_auth = seen[CH_QOP] && qop_list_has_auth(v[CH_QOP]);
	return 0;
}

/* Characters we put between quotes without escaping. */
static bool quotable(struct slice s)
{
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (c == '"' || c == '\\' || c < 0x20 || c == 0x7f) {
			return false;
		}
	}
	return true;
}

/* ---------------------------------------------------------------- server */

struct nc_ent {
	uint8_t key[NC_KEY_LEN];
	uint64_t ts; /* nonce issue time, s */
	uint32_t nc;
	bool used;
};

struct nc_set {
	struct nc_ent e[WAYS];
	uint64_t evicted_ts; /* newest issue time of an evicted live entry */
};

struct rl_ent {
	uint8_t addr[ADDR_MAX];
	uint8_t alen;
	bool used;
	uint64_t milli_tokens;
	uint64_t last_ms;
};

struct sip_auth_srv {
	uint8_t secret[32];
	size_t secret_len;
	/* HMAC-SHA-256 (RFC 2104) over the server's SHA-256 context: the
	 * key XOR ipad / opad blocks, made once. EVP_MAC costs several
	 * times the hashing for inputs this short (it copies its keyed
	 * state through the provider on every MAC). */
	uint8_t ipad[64];
	uint8_t opad[64];
	struct hasher hash;
	struct rnd_pool rnd;
	/* The opaque depends on the realm only: the last one is kept. */
	uint8_t opq_realm[REALM_MAX];
	size_t opq_realm_len;
	char opq[32];
	bool opq_set;
	uint8_t dummy_ha1[SIP_AUTH_HA1_MAX];
	uint64_t hash_seed;
	uint32_t ttl;
	uint32_t burst;
	uint32_t per_min;
	bool bind_addr;
	uint64_t (*clock_ms)(void *arg);
	void *clock_arg;
	struct nc_set *nc;
	size_t nc_nsets;
	struct rl_ent *rl;
	size_t rl_nsets;
};

static uint64_t realtime_ms(void *arg)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The tables are written at random from the first request on: their
 * pages are faulted in here, not one per request under load. */
static void prefault(void *p, size_t n)
{
	volatile uint8_t *b = p;

	for (size_t i = 0; i < n; i += 4096) {
		b[i] = 0;
	}
}

static size_t sets_for(size_t slots)
{
	size_t s = (slots + WAYS - 1) / WAYS;

	return s ? s : 1;
}

int sip_auth_new(struct sip_auth_srv **out, const struct sip_auth_cfg *cfg)
{
	struct sip_auth_srv *a;
	int rc = -ENOMEM;

	*out = NULL;
	if (cfg->secret.len && cfg->secret.len < 16) {
		return -TL_ECONFIG;
	}
	if ((cfg->nc_slots && cfg->nc_slots > (1u << 24)) ||
	    (cfg->rl_slots && cfg->rl_slots > (1u << 24))) {
		return -TL_ECONFIG;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		return -ENOMEM;
	}
	a->ttl = cfg->nonce_ttl_s ? cfg->nonce_ttl_s : 300;
	a->burst = cfg->fail_burst ? cfg->fail_burst : 10;
	a->per_min = cfg->fail_per_min ? cfg->fail_per_min : 6;
	a->bind_addr = cfg->bind_addr;
	a->clock_ms = cfg->clock_ms ? cfg->clock_ms : realtime_ms;
	a->clock_arg = cfg->clock_arg;
	a->nc_nsets = sets_for(cfg->nc_slots ? cfg->nc_slots : 4096);
	a->rl_nsets = sets_for(cfg->rl_slots ? cfg->rl_slots : 4096);
	a->nc = calloc(a->nc_nsets, sizeof(*a->nc));
	a->rl = calloc(a->rl_nsets * WAYS, sizeof(*a->rl));
	if (!a->nc || !a->rl) {
		goto out;
	}
	prefault(a->nc, a->nc_nsets * sizeof(*a->nc));
	prefault(a->rl, a->rl_nsets * WAYS * sizeof(*a->rl));
	rc = -TL_ECRYPTO;
	if (cfg->secret.len) {
		/* Long secrets are folded into 32 bytes (RFC 2104 §3 would
		 * hash them anyway). */
		if (cfg->secret.len > sizeof(a->secret)) {
			if (EVP_Digest(cfg->secret.p, cfg->secret.len,
				       a->secret, NULL, EVP_sha256(),
				       NULL) != 1) {
				goto out;
			}
			a->secret_len = sizeof(a->secret);
		} else {
			memcpy(a->secret, cfg->secret.p, cfg->secret.len);
			a->secret_len = cfg->secret.len;
		}
	} else {
		if (RAND_bytes(a->secret, sizeof(a->secret)) != 1) {
			goto out;
		}
		a->secret_len = sizeof(a->secret);
	}
	if (RAND_bytes(a->dummy_ha1, sizeof(a->dummy_ha1)) != 1 ||
	    RAND_bytes((uint8_t *)&a->hash_seed, sizeof(a->hash_seed)) != 1) {
		goto out;
	}
	rnd_pool_init(&a->rnd);
	/* RFC 2104 §2: a key up to the block size is padded with zeros */
	memset(a->ipad, 0x36, sizeof(a->ipad));
	memset(a->opad, 0x5c, sizeof(a->opad));
	for (size_t i = 0; i < a->secret_len; i++) {
		a->ipad[i] ^= a->secret[i];
		a->opad[i] ^= a->secret[i];
	}
	a->hash.ctx = EVP_MD_CTX_new();
	a->hash.md5 = EVP_MD_fetch(NULL, "MD5", NULL);
	a->hash.sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
	if (!a->hash.ctx || !a->hash.sha256) {
		goto out;
	}
	/* without MD5 (a FIPS provider) only SHA-256 answers can match */
	*out = a;
	a = NULL;
	rc = 0;
out:
	sip_auth_free(a);
	return rc;
}

void sip_auth_free(struct sip_auth_srv *a)
{
	if (!a) {
		return;
	}
	free(a->nc);
	free(a->rl);
	EVP_MD_CTX_free(a->hash.ctx);
	EVP_MD_free(a->hash.md5);
	EVP_MD_free(a->hash.sha256);
	rnd_pool_wipe(&a->rnd);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
}

/* HMAC-SHA-256 of p under the server secret, 32 bytes into mac. */
static int srv_hmac(struct sip_auth_srv *a, const uint8_t *p, size_t n,
		    uint8_t *mac)
{
	EVP_MD_CTX *ctx = a->hash.ctx;
	uint8_t inner[32];
	unsigned int l1 = 0, l2 = 0;
	int rc = -TL_ECRYPTO;

	/* H(K ^ opad || H(K ^ ipad || text)) */
	if (EVP_DigestInit_ex2(ctx, a->hash.sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a->ipad, sizeof(a->ipad)) == 1 &&
	    EVP_DigestUpdate(ctx, p, n) == 1 &&
	    EVP_DigestFinal_ex(ctx, inner, &l1) == 1 && l1 == 32 &&
	    EVP_DigestInit_ex2(ctx, a->hash.sha256, NULL) == 1 &&
	    EVP_DigestUpdate(ctx, a->opad, sizeof(a->opad)) == 1 &&
	    EVP_DigestUpdate(ctx, inner, sizeof(inner)) == 1 &&
	    EVP_DigestFinal_ex(ctx, mac, &l2) == 1 && l2 == NONCE_MAC_LEN) {
		rc = 0;
	}
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}

static int nonce_mac(struct sip_auth_srv *a, const uint8_t *ts_rnd,
		     struct slice realm, struct slice addr, uint8_t *mac)
{
	uint8_t in[16 + NONCE_TS_LEN + NONCE_RND_LEN + 2 + REALM_MAX + 1 +
		   ADDR_MAX];
	size_t n = 0;

	if (realm.len > REALM_MAX || addr.len > ADDR_MAX) {
		return -TL_ETOOBIG;
	}
	memcpy(in, "trustline-nonce1", 16);
	n = 16;
	memcpy(in + n, ts_rnd, NONCE_TS_LEN + NONCE_RND_LEN);
	n += NONCE_TS_LEN + NONCE_RND_LEN;
	in[n++] = (uint8_t)(realm.len >> 8);
	in[n++] = (uint8_t)realm.len;
	if (realm.len) {
		memcpy(in + n, realm.p, realm.len);
		n += realm.len;
	}
	if (a->bind_addr) {
		in[n++] = (uint8_t)addr.len;
		if (addr.len) {
			memcpy(in + n, addr.p, addr.len);
			n += addr.len;
		}
	}
	return srv_hmac(a, in, n, mac);
}

static int make_opaque(struct sip_auth_srv *a, struct slice realm,
		       char out[32])
{
	uint8_t in[16 + REALM_MAX];
	uint8_t mac[32];
	int rc;

	if (realm.len > REALM_MAX) {
		return -TL_ETOOBIG;
	}
	if (a->opq_set && slice_eq(realm, slice_make(a->opq_realm,
						     a->opq_realm_len))) {
		memcpy(out, a->opq, sizeof(a->opq));
		return 0;
	}
	memcpy(in, "trustline-opaque", 16);
	if (realm.len) {
		memcpy(in + 16, realm.p, realm.len);
	}
	rc = srv_hmac(a, in, 16 + realm.len, mac);
	if (rc) {
		return rc;
	}
	b64u_enc(mac, OPAQUE_RAW_LEN, out);
	if (realm.len) {
		memcpy(a->opq_realm, realm.p, realm.len);
	}
	a->opq_realm_len = realm.len;
	memcpy(a->opq, out, sizeof(a->opq));
	a->opq_set = true;
	return 0;
}

static int make_nonce(struct sip_auth_srv *a, struct slice realm,
		      struct slice addr, char out[NONCE_TXT_LEN + 1])
{
	uint8_t raw[NONCE_RAW_LEN];
	uint64_t ts = a->clock_ms(a->clock_arg) / 1000u;
	int rc;

	for (int i = 0; i < NONCE_TS_LEN; i++) {
		raw[i] = (uint8_t)(ts >> (56 - 8 * i));
	}
	rc = rnd_pool_bytes(&a->rnd, raw + NONCE_TS_LEN, NONCE_RND_LEN);
	if (rc) {
		return rc;
	}
	rc = nonce_mac(a, raw, realm, addr, raw + NONCE_TS_LEN + NONCE_RND_LEN);
	if (rc) {
		return rc;
	}
	b64u_enc(raw, sizeof(raw), out);
	return 0;
}

static void put_challenge(struct buf *out, enum sip_auth_alg alg,
			  struct slice realm, const char *nonce,
			  const char *opaque, bool stale)
{
	buf_put_str(out, "Digest realm=\"");
	buf_put_slice(out, realm);
	buf_put_str(out, "\", nonce=\"");
	buf_put_str(out, nonce);
	buf_put_str(out, "\", opaque=\"");
	buf_put_str(out, opaque);
	buf_put_str(out, "\", algorithm=");
	buf_put_str(out, sip_auth_alg_name(alg));
	buf_put_str(out, ", qop=\"auth\"");
	if (stale) {
		buf_put_str(out, ", stale=true");
	}
}

/* The realm checked, a fresh nonce and the realm's opaque: what every
 * challenge of one response carries. */
static int challenge_tokens(struct sip_auth_srv *a, struct slice realm,
			    struct slice addr, char nonce[NONCE_TXT_LEN + 1],
			    char opaque[32])
{
	int rc;

	if (!quotable(realm) || realm.len > REALM_MAX) {
		return -TL_EPARSE;
	}
	rc = make_nonce(a, realm, addr, nonce);
	if (rc) {
		return rc;
	}
	return make_opaque(a, realm, opaque);
}

int sip_auth_challenge_value(struct sip_auth_srv *a, enum sip_auth_alg alg,
			     struct slice realm, struct slice addr, bool stale,
			     struct buf *out)
{
	char nonce[NONCE_TXT_LEN + 1];
	char opaque[32];
	int rc = challenge_tokens(a, realm, addr, nonce, opaque);

	if (rc) {
		return rc;
	}
	put_challenge(out, alg, realm, nonce, opaque, stale);
	return buf_err(out);
}

int sip_auth_challenge_algs(struct sip_auth_srv *a,
			    const enum sip_auth_alg *algs, size_t n,
			    struct slice realm, struct slice addr, bool stale,
			    bool proxy, struct buf *out)
{
	const char *name =
		proxy ? "Proxy-Authenticate: " : "WWW-Authenticate: ";
	char nonce[NONCE_TXT_LEN + 1];
	char opaque[32];
	/* RFC 7616 §3.9.1: the challenges of one response may share their
	 * nonce (its example offers SHA-256 and MD5 with one); the nonce
	 * binds time, realm and address, not the algorithm, and its nonce
	 * counts are kept per nonce whichever algorithm answers. */
	int rc = challenge_tokens(a, realm, addr, nonce, opaque);

	if (rc) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		buf_put_str(out, name);
		put_challenge(out, algs[i], realm, nonce, opaque, stale);
		buf_put_str(out, "\r\n");
	}
	return buf_err(out);
}

int sip_auth_challenge(struct sip_auth_srv *a, struct slice realm,
		       struct slice addr, bool stale, bool proxy,
		       struct buf *out)
{
	/* RFC 8760 §2.4: the UAC uses the first challenge it supports, so
	 * the stronger algorithm goes first. */
	static const enum sip_auth_alg offer[] = {SIP_AUTH_SHA256,
						  SIP_AUTH_MD5};

	return sip_auth_challenge_algs(a, offer, 2, realm, addr, stale, proxy,
				       out);
}

int sip_auth_status(enum sip_auth_verdict v, bool proxy)
{
	switch (v) {
	case SIP_AUTH_OK:
		return 200;
	case SIP_AUTH_FORBIDDEN:
		return 403;
	case SIP_AUTH_CHALLENGE:
	case SIP_AUTH_STALE:
		break;
	}
	return proxy ? 407 : 401;
}

/* A keyed hash for table indices, so sources cannot aim at one set. */
static uint64_t mix(uint64_t seed, const uint8_t *p, size_t n)
{
	uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;

	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static void rl_refill(const struct sip_auth_srv *a, struct rl_ent *e,
		      uint64_t now)
{
	uint64_t cap = (uint64_t)a->burst * 1000u;

	if (now > e->last_ms) {
		uint64_t el = now - e->last_ms;
		/* per_min tokens per 60000 ms = per_min milli-tokens/60 ms */
		uint64_t add = el > cap * 60u ? cap : el * a->per_min / 60u;
		e->milli_tokens = e->milli_tokens + add > cap
					  ? cap
					  : e->milli_tokens + add;
	}
	e->last_ms = now;
}

static struct rl_ent *rl_find(struct sip_auth_srv *a, struct slice addr,
			      bool create, uint64_t now)
{
	size_t set = mix(a->hash_seed, addr.p, addr.len) % a->rl_nsets;
	struct rl_ent *w = a->rl + set * WAYS;
	struct rl_ent *victim = NULL;

	for (size_t i = 0; i < WAYS; i++) {
		if (w[i].used && w[i].alen == addr.len &&
		    memcmp(w[i].addr, addr.p, addr.len) == 0) {
			rl_refill(a, &w[i], now);
			return &w[i];
		}
	}
	if (!create) {
		return NULL;
	}
	/* Free slot, else the entry with the most tokens (least suspect). */
	for (size_t i = 0; i < WAYS; i++) {
		if (!w[i].used) {
			victim = &w[i];
			break;
		}
		rl_refill(a, &w[i], now);
		if (!victim || w[i].milli_tokens > victim->milli_tokens) {
			victim = &w[i];
		}
	}
	memset(victim, 0, sizeof(*victim));
	victim->used = true;
	victim->alen = (uint8_t)addr.len;
	memcpy(victim->addr, addr.p, addr.len);
	victim->milli_tokens = (uint64_t)a->burst * 1000u;
	victim->last_ms = now;
	return victim;
}

static bool rl_over(struct sip_auth_srv *a, struct slice addr, uint64_t now)
{
	if (addr.len == 0 || addr.len > ADDR_MAX) {
		return false;
	}
	struct rl_ent *e = rl_find(a, addr, false, now);
	return e && e->milli_tokens < 1000u;
}

static void rl_fail(struct sip_auth_srv *a, struct slice addr, uint64_t now)
{
	if (addr.len == 0 || addr.len > ADDR_MAX) {
		return;
	}
	struct rl_ent *e = rl_find(a, addr, true, now);
	e->milli_tokens =
		e->milli_tokens >= 1000u ? e->milli_tokens - 1000u : 0;
}

static struct nc_set *nc_set_of(struct sip_auth_srv *a, const uint8_t *key)
{
	uint64_t h = 0;

	/* The key is MAC output: already uniform. */
	memcpy(&h, key, sizeof(h));
	return &a->nc[h % a->nc_nsets];
}

static struct nc_ent *nc_find(struct nc_set *s, const uint8_t *key)
{
	for (size_t i = 0; i < WAYS; i++) {
		if (s->e[i].used && memcmp(s->e[i].key, key, NC_KEY_LEN) == 0) {
			return &s->e[i];
		}
	}
	return NULL;
}

static void nc_store(struct sip_auth_srv *a, struct nc_set *s,
		     const uint8_t *key, uint64_t ts, uint32_t nc,
		     uint64_t now_s)
{
	struct nc_ent *e = nc_find(s, key);

	if (!e) {
		/* A free or expired slot, else the oldest nonce; remember
		 * its age so that it cannot be replayed once forgotten. */
		for (size_t i = 0; i < WAYS; i++) {
			struct nc_ent *c = &s->e[i];
			if (!c->used || c->ts + a->ttl < now_s) {
				e = c;
				break;
			}
			if (!e || c->ts < e->ts) {
				e = c;
			}
		}
		if (e->used && e->ts + a->ttl >= now_s &&
		    e->ts > s->evicted_ts) {
			s->evicted_ts = e->ts;
		}
		memcpy(e->key, key, NC_KEY_LEN);
		e->ts = ts;
		e->used = true;
	}
	e->nc = nc;
}

/* Uses the first credentials for our realm with a known scheme and
 * algorithm; anything unparsable counts as no credentials. */
static bool find_creds(const struct sip_auth_req *req, struct sip_auth_creds *c)
{
	for (size_t i = 0; i < req->n_authz; i++) {
		if (sip_auth_parse_creds(req->authz[i], c) == 0 &&
		    slice_eq(c->realm, req->realm)) {
			return true;
		}
	}
	return false;
}

int sip_auth_check(struct sip_auth_srv *a, const struct sip_auth_req *req,
		   sip_auth_ha1_h lookup, void *arg,
		   struct sip_auth_outcome *out)
{
	uint64_t now_ms = a->clock_ms(a->clock_arg);
	uint64_t now_s = now_ms / 1000u;
	struct sip_auth_creds c;
	uint8_t raw[NONCE_RAW_LEN];
	uint8_t mac[NONCE_MAC_LEN];
	uint8_t ha1[SIP_AUTH_HA1_MAX];
	char want[SIP_AUTH_HEX_MAX];
	char got[SIP_AUTH_HEX_MAX];
	size_t ha1_len = 0;
	bool known = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->verdict = SIP_AUTH_CHALLENGE;
	/* Over the limit: no digest is computed at all. */
	if (rl_over(a, req->addr, now_ms)) {
		out->verdict = SIP_AUTH_FORBIDDEN;
		return 0;
	}
	if (!find_creds(req, &c)) {
		return 0;
	}
	out->alg = c.alg;
	/* Authenticity of the nonce first: nothing else is looked at (nor
	 * any state touched) for a nonce we did not issue. */
	if (c.nonce.len != NONCE_TXT_LEN ||
	    b64u_dec4(c.nonce, raw, sizeof(raw)) != 0) {
		goto fail;
	}
	rc = nonce_mac(a, raw, req->realm, req->addr, mac);
	if (rc) {
		goto out;
	}
	if (CRYPTO_memcmp(mac, raw + NONCE_TS_LEN + NONCE_RND_LEN,
			  NONCE_MAC_LEN) != 0) {
		goto fail;
	}
	uint64_t ts = 0;
	for (int i = 0; i < NONCE_TS_LEN; i++) {
		ts = ts << 8 | raw[i];
	}
	if (c.opaque.len) {
		char opq[32];
		rc = make_opaque(a, req->realm, opq);
		if (rc) {
			goto out;
		}
		if (!slice_eq_str(c.opaque, opq)) {
			goto fail;
		}
	}
	/* RFC 7616 §3.4.6 / RFC 3261 §22.4: the digest-uri must be the
	 * Request-URI, so credentials cannot be moved to another request. */
	if (!slice_eq(c.uri, req->uri)) {
		goto fail;
	}
	/* We offer qop=auth only; without it nc gives no replay defence. */
	if (!slice_eq_str_nocase(c.qop, "auth") || c.nc == 0) {
		goto fail;
	}
	enum sip_auth_alg base =
		alg_is_sha256(c.alg) ? SIP_AUTH_SHA256 : SIP_AUTH_MD5;
	rc = lookup(arg, c.username, req->realm, base, ha1, &ha1_len);
	if (rc == 0 && ha1_len == sip_auth_alg_len(c.alg)) {
		known = true;
	} else if (rc == 0 || rc == -TL_ENOTFOUND) {
		/* Same work for unknown users: a dummy HA1. */
		memcpy(ha1, a->dummy_ha1, sizeof(ha1));
		ha1_len = sip_auth_alg_len(c.alg);
		rc = 0;
	} else {
		goto out;
	}
	struct sip_auth_digest_in din = {
		.alg = c.alg,
		.ha1 = ha1,
		.ha1_len = ha1_len,
		.nonce = c.nonce,
		.cnonce = c.cnonce,
		.nc = c.nc_text,
		.qop = c.qop,
		.method = req->method,
		.uri = c.uri,
	};
	rc = response_with(&a->hash, &din, want);
	if (rc) {
		goto out;
	}
	for (size_t i = 0; i < c.response.len; i++) {
		got[i] = (char)(c.response.p[i] | 0x20);
	}
	bool match = CRYPTO_memcmp(want, got, c.response.len) == 0;
	if (!(match && known)) {
		goto fail;
	}
	/* RFC 7616 §3.3: right credentials on an expired nonce: stale. */
	if (now_s > ts + a->ttl) {
		out->verdict = SIP_AUTH_STALE;
		goto out;
	}
	struct nc_set *set = nc_set_of(a, mac);
	struct nc_ent *e = nc_find(set, mac);
	if (e && c.nc <= e->nc) {
		/* RFC 7616 §3.4: a repeated nonce-count is a replay. */
		goto fail;
	}
	if (!e && ts <= set->evicted_ts) {
		/* Its entry may have been evicted: ask for a fresh nonce. */
		out->verdict = SIP_AUTH_STALE;
		goto out;
	}
	nc_store(a, set, mac, ts, c.nc, now_s);
	out->verdict = SIP_AUTH_OK;
	out->user = c.username;
	goto out;
fail:
	rl_fail(a, req->addr, now_ms);
	out->verdict = SIP_AUTH_CHALLENGE;
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	OPENSSL_cleanse(want, sizeof(want));
	return rc;
}

struct slice sip_auth_addr(const struct net_addr *a)
{
	if (a->len && a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&a->ss;
		return slice_make(&s4->sin_addr, 4);
	}
	if (a->len && a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&a->ss;
		return slice_make(&s6->sin6_addr, 16);
	}
	return SLICE_NULL;
}

#define AUTHZ_MAX 8

int sip_auth_check_msg(struct sip_auth_srv *a, struct sip_msg *m,
		       struct slice realm, const struct net_addr *src,
		       bool proxy, sip_auth_ha1_h lookup, void *arg,
		       struct sip_auth_outcome *out)
{
	struct slice vals[AUTHZ_MAX];
	const struct sip_uri *ru = sip_msg_ruri(m);
	struct sip_iter it;
	size_t n = 0;
	int rc;

	if (!ru) {
		return -EINVAL;
	}
	/* RFC 3261 §22.4: one Authorization line per realm; we look at the
	 * first few only (a malformed line counts as none). */
	sip_msg_iter(&it, m,
		     proxy ? SIP_HDR_PROXY_AUTHORIZATION
			   : SIP_HDR_AUTHORIZATION);
	while (n < AUTHZ_MAX && (rc = sip_iter_next(&it, &vals[n])) == 1) {
		n++;
	}
	struct sip_auth_req req = {
		.method = sip_msg_method_name(m),
		.uri = ru->raw,
		.realm = realm,
		.authz = vals,
		.n_authz = n,
		.addr = sip_auth_addr(src),
	};
	return sip_auth_check(a, &req, lookup, arg, out);
}

/* ---------------------------------------------------------------- client */

struct cl_ent {
	char realm[CLIENT_STR_MAX];
	char nonce[CLIENT_STR_MAX];
	char opaque[CLIENT_STR_MAX];
	enum sip_auth_alg alg;
	uint32_t nc;
	uint64_t lru;
	bool used;
};

struct sip_auth_client {
	struct cl_ent e[CLIENT_SLOTS];
	uint64_t tick;
};

int sip_auth_client_new(struct sip_auth_client **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void sip_auth_client_free(struct sip_auth_client *c)
{
	free(c);
}

static bool cred_usable(const struct sip_auth_cred *cred, enum sip_auth_alg alg)
{
	if (cred->password.len) {
		return true;
	}
	return alg_is_sha256(alg) ? cred->ha1_sha256 != NULL
				  : cred->ha1_md5 != NULL;
}

static struct cl_ent *cl_find(struct sip_auth_client *c, struct slice realm)
{
	for (size_t i = 0; i < CLIENT_SLOTS; i++) {
		if (c->e[i].used && slice_eq_str(realm, c->e[i].realm)) {
			return &c->e[i];
		}
	}
	return NULL;
}

static int cl_build(struct sip_auth_client *c, struct cl_ent *e,
		    const struct sip_auth_cred *cred, struct slice method,
		    struct slice uri, struct buf *out)
{
	uint8_t ha1[SIP_AUTH_HA1_MAX];
	size_t ha1_len = sip_auth_alg_len(e->alg);
	uint8_t rnd[16];
	char cnonce[32];
	char nc[9];
	char resp[SIP_AUTH_HEX_MAX];
	int rc;

	if (!quotable(cred->user) || !quotable(uri) || uri.len == 0 ||
	    cred->user.len == 0 || cred->user.len > SIP_AUTH_PARAM_MAX ||
	    uri.len > SIP_AUTH_PARAM_MAX) {
		return -TL_EPARSE;
	}
	if (e->nc == UINT32_MAX) {
		return -TL_ELIMIT;
	}
	if (cred->password.len) {
		rc = sip_auth_ha1(e->alg, cred->user, slice_from_str(e->realm),
				  cred->password, ha1, &ha1_len);
		if (rc) {
			goto out;
		}
	} else {
		memcpy(ha1,
		       alg_is_sha256(e->alg) ? cred->ha1_sha256 : cred->ha1_md5,
		       ha1_len);
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		rc = -TL_ECRYPTO;
		goto out;
	}
	b64u_enc(rnd, sizeof(rnd), cnonce);
	e->nc++;
	snprintf(nc, sizeof(nc), "%08x", e->nc);
	e->lru = ++c->tick;
	struct sip_auth_digest_in din = {
		.alg = e->alg,
		.ha1 = ha1,
		.ha1_len = ha1_len,
		.nonce = slice_from_str(e->nonce),
		.cnonce = slice_from_str(cnonce),
		.nc = slice_from_str(nc),
		.qop = SLICE_LIT("auth"),
		.method = method,
		.uri = uri,
	};
	rc = sip_auth_response(&din, resp);
	if (rc) {
		goto out;
	}
	buf_printf(out,
		   "Digest username=\"%.*s\", realm=\"%s\", nonce=\"%s\", "
		   "uri=\"%.*s\", response=\"%s\", algorithm=%s, "
		   "cnonce=\"%s\", ",
		   (int)cred->user.len, (const char *)cred->user.p, e->realm,
		   e->nonce, (int)uri.len, (const char *)uri.p, resp,
		   sip_auth_alg_name(e->alg), cnonce);
	if (e->opaque[0]) {
		buf_printf(out, "opaque=\"%s\", ", e->opaque);
	}
	buf_printf(out, "qop=auth, nc=%s", nc);
	rc = buf_err(out);
out:
	OPENSSL_cleanse(ha1, sizeof(ha1));
	return rc;
}

int sip_auth_client_answer(struct sip_auth_client *c, const struct slice *chals,
			   size_t n_chals, const struct sip_auth_cred *cred,
			   struct slice method, struct slice uri,
			   struct buf *out)
{
	struct sip_auth_chal ch;
	bool found = false;

	for (size_t i = 0; i < n_chals && !found; i++) {
		if (sip_auth_parse_chal(chals[i], &ch) != 0) {
			continue;
		}
		/* qop=auth only: without nc there is no replay defence. */
		if (!ch.qop_auth || !cred_usable(cred, ch.alg)) {
			continue;
		}
		if (ch.realm.len >= CLIENT_STR_MAX ||
		    ch.nonce.len >= CLIENT_STR_MAX ||
		    ch.opaque.len >= CLIENT_STR_MAX || !quotable(ch.realm) ||
		    !quotable(ch.nonce) || !quotable(ch.opaque)) {
			continue;
		}
		found = true;
	}
	if (!found) {
		return -TL_EUNKNOWN;
	}
	struct cl_ent *e = cl_find(c, ch.realm);
	if (!e || !slice_eq_str(ch.nonce, e->nonce) || e->alg != ch.alg) {
		if (!e) {
			/* A free slot, else the least recently used. */
			e = &c->e[0];
			for (size_t i = 0; i < CLIENT_SLOTS && e->used; i++) {
				if (!c->e[i].used || c->e[i].lru < e->lru) {
					e = &c->e[i];
				}
			}
		}
		memset(e, 0, sizeof(*e));
		e->used = true;
		e->alg = ch.alg;
		/* Sizes and characters were checked above. */
		if (slice_to_cstr(ch.realm, e->realm, sizeof(e->realm)) ||
		    slice_to_cstr(ch.nonce, e->nonce, sizeof(e->nonce)) ||
		    slice_to_cstr(ch.opaque, e->opaque, sizeof(e->opaque))) {
			e->used = false;
			return -TL_EPARSE;
		}
	}
	return cl_build(c, e, cred, method, uri, out);
}

int sip_auth_client_again(struct sip_auth_client *c, struct slice realm,
			  const struct sip_auth_cred *cred, struct slice method,
			  struct slice uri, struct buf *out)
{
	struct cl_ent *e = cl_find(c, realm);

	if (!e) {
		return -TL_ENOTFOUND;
	}
	if (!cred_usable(cred, e->alg)) {
		return -TL_EUNKNOWN;
	}
	return cl_build(c, e, cred, method, uri, out);
}
