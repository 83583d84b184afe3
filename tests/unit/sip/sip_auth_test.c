#include "base/buf.h"
#include "base/slice.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"
#include "sip/sip_auth.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

/* RFC 7616 §3.9.1 */
#define RFC_USER   "Mufasa"
#define RFC_REALM  "http-auth@example.org"
#define RFC_PASS   "Circle of Life"
#define RFC_NONCE  "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define RFC_CNONCE "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define RFC_URI    "/dir/index.html"

static void test_rfc7616_vectors(void **state)
{
	static const struct {
		enum sip_auth_alg alg;
		const char *response;
	} cases[] = {
		/* RFC 7616 §3.9.1, both responses as printed there */
		{SIP_AUTH_SHA256, "753927fa0e85d155564e2e272a28d180"
				  "2ca10daf4496794697cf8db5856cb6c1"},
		{SIP_AUTH_MD5, "8ca523f5e9506fed4657c9700eebdbec"},
		/* the -sess forms of the same inputs (RFC 7616 §3.4.2) */
		{SIP_AUTH_SHA256_SESS, "2fd51b3a77ad75bad6afad6003e818d7"
				       "67133c46d9e2749e7f5232ae1ea3efd7"},
		{SIP_AUTH_MD5_SESS, "e783283f46242139c486a698fec7211d"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t ha1[SIP_AUTH_HA1_MAX];
		size_t len = 0;
		char hex[SIP_AUTH_HEX_MAX];

		assert_int_equal(sip_auth_ha1(cases[i].alg, SLICE_LIT(RFC_USER),
					      SLICE_LIT(RFC_REALM),
					      SLICE_LIT(RFC_PASS), ha1, &len),
				 0);
		assert_int_equal(len, sip_auth_alg_len(cases[i].alg));
		struct sip_auth_digest_in in = {
			.alg = cases[i].alg,
			.ha1 = ha1,
			.ha1_len = len,
			.nonce = SLICE_LIT(RFC_NONCE),
			.cnonce = SLICE_LIT(RFC_CNONCE),
			.nc = SLICE_LIT("00000001"),
			.qop = SLICE_LIT("auth"),
			.method = SLICE_LIT("GET"),
			.uri = SLICE_LIT(RFC_URI),
		};
		assert_int_equal(sip_auth_response(&in, hex), 0);
		assert_string_equal(hex, cases[i].response);
	}
}

/* The RFC's Authorization header parses to the same response. */
static void test_rfc7616_header(void **state)
{
	static const char hdr[] =
		"Digest username=\"Mufasa\",\r\n"
		"    realm=\"http-auth@example.org\",\r\n"
		"    uri=\"/dir/index.html\",\r\n"
		"    algorithm=SHA-256,\r\n"
		"    "
		"nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\",\r\n"
		"    nc=00000001,\r\n"
		"    "
		"cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\",\r\n"
		"    qop=auth,\r\n"
		"    "
		"response=\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697"
		"cf8db5856cb6c1\",\r\n"
		"    opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
	struct sip_auth_creds c;

	assert_int_equal(sip_auth_parse_creds(SLICE_LIT(hdr), &c), 0);
	assert_true(slice_eq_str(c.username, "Mufasa"));
	assert_true(slice_eq_str(c.realm, RFC_REALM));
	assert_true(slice_eq_str(c.uri, RFC_URI));
	assert_true(slice_eq_str(c.cnonce, RFC_CNONCE));
	assert_int_equal(c.alg, SIP_AUTH_SHA256);
	assert_int_equal(c.nc, 1);
	assert_true(slice_eq_str(c.qop, "auth"));
	assert_true(slice_eq_str(
		c.opaque, "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"));
}

static void test_alg_names(void **state)
{
	static const struct {
		const char *in;
		int rc;
		enum sip_auth_alg alg;
	} t[] = {
		{"MD5", 0, SIP_AUTH_MD5},
		{"md5", 0, SIP_AUTH_MD5},
		{"MD5-sess", 0, SIP_AUTH_MD5_SESS},
		{"SHA-256", 0, SIP_AUTH_SHA256},
		{"sha-256-SESS", 0, SIP_AUTH_SHA256_SESS},
		{"SHA-512-256", -TL_EUNKNOWN, 0},
		{"SHA256", -TL_EUNKNOWN, 0},
		{"", -TL_EUNKNOWN, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		enum sip_auth_alg a = SIP_AUTH_MD5;
		assert_int_equal(
			sip_auth_alg_parse(slice_from_str(t[i].in), &a),
			t[i].rc);
		if (t[i].rc == 0) {
			assert_int_equal(a, t[i].alg);
		}
	}
}

#define OK_PARAMS                                                              \
	"realm=\"r\", nonce=\"n\", uri=\"sip:a@b\", "                          \
	"response=\"0123456789abcdef0123456789abcdef\""

/* must reject: parameter edge cases of Authorization values */
static void test_creds_reject(void **state)
{
	char big[SIP_AUTH_PARAM_MAX + 256];
	char many[2048];
	size_t o = 0;

	snprintf(big, sizeof(big), "Digest username=\"%0*d\", " OK_PARAMS,
		 SIP_AUTH_PARAM_MAX + 1, 0);
	o += (size_t)snprintf(many, sizeof(many),
			      "Digest username=\"u\", " OK_PARAMS);
	for (int i = 0; i < SIP_AUTH_PARAMS_MAX; i++) {
		o += (size_t)snprintf(many + o, sizeof(many) - o, ", x%d=1", i);
	}
	static const char nul_inside[] = "Digest username=\"u\0x\", " OK_PARAMS;
	const struct {
		const char *name;
		const char *v;
		size_t len; /* 0: strlen */
		int rc;
	} t[] = {
		{"valid", "Digest username=\"u\", " OK_PARAMS, 0, 0},
		{"valid token values",
		 "Digest username=u, realm=r, nonce=n, "
		 "uri=x, response="
		 "0123456789ABCDEF0123456789abcdef",
		 0, 0},
		{"empty", "", 0, -TL_EPARSE},
		{"scheme only", "Digest", 0, -TL_EPARSE},
		{"scheme and space", "Digest ", 0, -TL_EPARSE},
		{"other scheme", "Basic username=\"u\", " OK_PARAMS, 0,
		 -TL_EUNKNOWN},
		{"duplicate username",
		 "Digest username=\"u\", username=\"v\", " OK_PARAMS, 0,
		 -TL_EDUP},
		{"duplicate nonce case",
		 "Digest username=\"u\", NONCE=\"x\", " OK_PARAMS, 0, -TL_EDUP},
		{"missing username", "Digest " OK_PARAMS, 0, -TL_EPARSE},
		{"missing response",
		 "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"x\"",
		 0, -TL_EPARSE},
		{"missing uri",
		 "Digest username=\"u\", realm=\"r\", nonce=\"n\", "
		 "response=\"0123456789abcdef0123456789abcdef\"",
		 0, -TL_EPARSE},
		{"empty username", "Digest username=\"\", " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"qop without nc",
		 "Digest username=\"u\", qop=auth, "
		 "cnonce=\"c\", " OK_PARAMS,
		 0, -TL_EPARSE},
		{"qop without cnonce",
		 "Digest username=\"u\", qop=auth, "
		 "nc=00000001, " OK_PARAMS,
		 0, -TL_EPARSE},
		{"nc without qop",
		 "Digest username=\"u\", cnonce=\"c\", "
		 "nc=00000001, " OK_PARAMS,
		 0, -TL_EPARSE},
		{"nc short",
		 "Digest username=\"u\", qop=auth, cnonce=\"c\", "
		 "nc=0001, " OK_PARAMS,
		 0, -TL_EPARSE},
		{"nc overflow",
		 "Digest username=\"u\", qop=auth, cnonce=\"c\", "
		 "nc=100000000, " OK_PARAMS,
		 0, -TL_EPARSE},
		{"nc not hex",
		 "Digest username=\"u\", qop=auth, cnonce=\"c\", "
		 "nc=0000000g, " OK_PARAMS,
		 0, -TL_EPARSE},
		{"unknown algorithm",
		 "Digest username=\"u\", algorithm=SHA-1, " OK_PARAMS, 0,
		 -TL_EUNKNOWN},
		{"response wrong length for sha-256",
		 "Digest username=\"u\", algorithm=SHA-256, " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"response not hex",
		 "Digest username=\"u\", realm=\"r\", nonce=\"n\", uri=\"x\", "
		 "response=\"0123456789abcdef0123456789abcdez\"",
		 0, -TL_EPARSE},
		{"userhash", "Digest username=\"u\", userhash=true, " OK_PARAMS,
		 0, -TL_EUNKNOWN},
		{"unterminated quote", "Digest username=\"u, " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"truncated at end",
		 "Digest username=\"u\", " OK_PARAMS ", x=", 0, -TL_EPARSE},
		{"truncated quote", "Digest username=\"u\", realm=\"r", 0,
		 -TL_ETRUNC},
		{"escape inside quotes",
		 "Digest username=\"u\\\"x\", " OK_PARAMS, 0, -TL_EPARSE},
		{"control byte", "Digest username=\"u\x01\", " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"NUL inside", nul_inside, sizeof(nul_inside) - 1, -TL_EPARSE},
		{"trailing garbage", "Digest username=\"u\", " OK_PARAMS " x",
		 0, -TL_EPARSE},
		{"trailing comma", "Digest username=\"u\", " OK_PARAMS ",", 0,
		 -TL_EPARSE},
		{"missing equals", "Digest username \"u\", " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"double comma", "Digest username=\"u\",, " OK_PARAMS, 0,
		 -TL_EPARSE},
		{"overlong value", big, 0, -TL_ETOOBIG},
		{"too many params", many, 0, -TL_ETOOBIG},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_auth_creds c;
		size_t len = t[i].len ? t[i].len : strlen(t[i].v);
		int rc = sip_auth_parse_creds(slice_make(t[i].v, len), &c);
		if (rc != t[i].rc) {
			fail_msg("case '%s': got %d want %d", t[i].name, rc,
				 t[i].rc);
		}
	}
}

/* must reject: challenge values */
static void test_chal_parse(void **state)
{
	static const struct {
		const char *v;
		int rc;
		bool qop_auth;
		bool stale;
		enum sip_auth_alg alg;
	} t[] = {
		{"Digest realm=\"r\", nonce=\"n\", qop=\"auth,auth-int\", "
		 "algorithm=SHA-256, stale=TRUE",
		 0, true, true, SIP_AUTH_SHA256},
		{"Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"", 0, false,
		 false, SIP_AUTH_MD5},
		{"Digest realm=\"r\", nonce=\"n\", qop=\" auth \", stale=false",
		 0, true, false, SIP_AUTH_MD5},
		{"Digest realm=\"r\"", -TL_EPARSE, false, false, 0},
		{"Digest realm=\"r\", nonce=\"\"", -TL_EPARSE, false, false, 0},
		{"Digest realm=\"r\", nonce=\"n\", nonce=\"m\"", -TL_EDUP,
		 false, false, 0},
		{"Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512",
		 -TL_EUNKNOWN, false, false, 0},
		{"Bearer realm=\"r\", nonce=\"n\"", -TL_EUNKNOWN, false, false,
		 0},
		{"Digest realm=\"r\", nonce=\"n\" junk", -TL_EPARSE, false,
		 false, 0},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sip_auth_chal ch;
		int rc = sip_auth_parse_chal(slice_from_str(t[i].v), &ch);
		assert_int_equal(rc, t[i].rc);
		if (rc == 0) {
			assert_int_equal(ch.qop_auth, t[i].qop_auth);
			assert_int_equal(ch.stale, t[i].stale);
			assert_int_equal(ch.alg, t[i].alg);
		}
	}
}

/* ------------------------------------------------------------- server */

#define REALM  "trustline.test"
#define URI    "sip:trustline.test"
#define SECRET "0123456789abcdef0123456789abcdef"

struct fx {
	uint64_t now_ms;
	int lookups;
	int store_err;
};

static uint64_t fx_clock(void *arg)
{
	return ((struct fx *)arg)->now_ms;
}

/* One user, alice / "wonderland", in the realm. */
static int fx_lookup(void *arg, struct slice user, struct slice realm,
		     enum sip_auth_alg alg, uint8_t ha1[SIP_AUTH_HA1_MAX],
		     size_t *len)
{
	struct fx *f = arg;

	f->lookups++;
	if (f->store_err) {
		return f->store_err;
	}
	if (!slice_eq_str(user, "alice")) {
		return -TL_ENOTFOUND;
	}
	return sip_auth_ha1(alg, user, realm, SLICE_LIT("wonderland"), ha1,
			    len);
}

static struct sip_auth_srv *mk_server(struct fx *f, size_t nc_slots,
				      uint32_t burst, bool bind)
{
	struct sip_auth_cfg cfg = {
		.secret = SLICE_LIT(SECRET),
		.nc_slots = nc_slots,
		.fail_burst = burst,
		.fail_per_min = 60,
		.bind_addr = bind,
		.clock_ms = fx_clock,
		.clock_arg = f,
	};
	struct sip_auth_srv *a = NULL;

	f->now_ms = 1700000000000ull;
	assert_int_equal(sip_auth_new(&a, &cfg), 0);
	return a;
}

static const uint8_t addr1[4] = {127, 0, 0, 1};
static const uint8_t addr2[4] = {127, 0, 0, 2};

/* Splits challenge header lines into values (into one buffer). */
static size_t split_chals(struct buf *b, struct slice *vals, size_t max,
			  const char *name)
{
	size_t n = 0, i = 0, nl = strlen(name);

	while (i < b->len && n < max) {
		const uint8_t *e = memchr(b->p + i, '\r', b->len - i);
		assert_non_null(e);
		size_t l = (size_t)(e - (b->p + i));
		assert_true(l > nl);
		assert_memory_equal(b->p + i, name, nl);
		vals[n++] = slice_make(b->p + i + nl, l - nl);
		i += l + 2;
	}
	return n;
}

/* Challenge + client answer; the Authorization value goes into authz. */
static void answer(struct sip_auth_srv *a, struct sip_auth_client *cl,
		   const struct sip_auth_cred *cred, struct slice addr,
		   const char *uri, struct buf *authz)
{
	struct buf ch;
	struct slice vals[4];

	buf_init(&ch, 0);
	assert_int_equal(sip_auth_challenge(a, SLICE_LIT(REALM), addr, false,
					    false, &ch),
			 0);
	size_t n = split_chals(&ch, vals, 4, "WWW-Authenticate: ");
	assert_int_equal(n, 2);
	buf_reset(authz);
	assert_int_equal(sip_auth_client_answer(cl, vals, n, cred,
						SLICE_LIT("REGISTER"),
						slice_from_str(uri), authz),
			 0);
	buf_free(&ch);
}

static enum sip_auth_verdict check(struct sip_auth_srv *a, struct fx *f,
				   struct buf *authz, struct slice addr,
				   const char *uri)
{
	struct slice v = buf_slice(authz);
	struct sip_auth_req req = {
		.method = SLICE_LIT("REGISTER"),
		.uri = slice_from_str(uri),
		.realm = SLICE_LIT(REALM),
		.authz = &v,
		.n_authz = authz->len ? 1 : 0,
		.addr = addr,
	};
	struct sip_auth_outcome o;

	assert_int_equal(sip_auth_check(a, &req, fx_lookup, f, &o), 0);
	if (o.verdict == SIP_AUTH_OK) {
		assert_true(slice_eq_str(o.user, "alice"));
	}
	return o.verdict;
}

static const struct sip_auth_cred alice = {
	.user = SLICE_LIT("alice"),
	.password = SLICE_LIT("wonderland"),
};

static void test_challenge_shape(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 0, false);
	struct buf b;
	struct slice vals[4];
	struct sip_auth_chal ch;

	buf_init(&b, 0);
	assert_int_equal(sip_auth_challenge(a, SLICE_LIT(REALM),
					    slice_make(addr1, 4), true, true,
					    &b),
			 0);
	assert_int_equal(split_chals(&b, vals, 4, "Proxy-Authenticate: "), 2);
	/* RFC 8760 §2.4: SHA-256 first, then MD5 */
	assert_int_equal(sip_auth_parse_chal(vals[0], &ch), 0);
	assert_int_equal(ch.alg, SIP_AUTH_SHA256);
	assert_true(ch.qop_auth && ch.stale);
	assert_true(slice_eq_str(ch.realm, REALM));
	assert_int_equal(ch.nonce.len, 64);
	assert_int_equal(ch.opaque.len, 16);
	struct slice nonce0 = ch.nonce;
	assert_int_equal(sip_auth_parse_chal(vals[1], &ch), 0);
	assert_int_equal(ch.alg, SIP_AUTH_MD5);
	/* RFC 7616 §3.9.1: one nonce for the challenges of one response */
	assert_true(slice_eq(ch.nonce, nonce0));
	assert_int_equal(sip_auth_status(SIP_AUTH_CHALLENGE, false), 401);
	assert_int_equal(sip_auth_status(SIP_AUTH_STALE, true), 407);
	assert_int_equal(sip_auth_status(SIP_AUTH_FORBIDDEN, false), 403);
	/* a realm that cannot be quoted is refused */
	buf_reset(&b);
	assert_int_equal(sip_auth_challenge(a, SLICE_LIT("a\"b"),
					    slice_make(addr1, 4), false, false,
					    &b),
			 -TL_EPARSE);
	buf_free(&b);
	sip_auth_free(a);
}

static void test_roundtrip(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 0, true);
	struct sip_auth_client *cl = NULL;
	struct buf authz;
	uint8_t md5[SIP_AUTH_HA1_MAX], sha[SIP_AUTH_HA1_MAX];
	size_t l;
	struct sip_auth_creds c;
	struct slice ad = slice_make(addr1, 4);

	assert_int_equal(sip_auth_client_new(&cl), 0);
	buf_init(&authz, 0);
	/* no credentials: a challenge, no lookup */
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	assert_int_equal(f.lookups, 0);

	/* password: the client takes the first (SHA-256) challenge */
	answer(a, cl, &alice, ad, URI, &authz);
	assert_int_equal(sip_auth_parse_creds(buf_slice(&authz), &c), 0);
	assert_int_equal(c.alg, SIP_AUTH_SHA256);
	assert_int_equal(c.nc, 1);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);

	/* the same nonce again with the next nc */
	buf_reset(&authz);
	assert_int_equal(sip_auth_client_again(cl, SLICE_LIT(REALM), &alice,
					       SLICE_LIT("REGISTER"),
					       SLICE_LIT(URI), &authz),
			 0);
	assert_int_equal(sip_auth_parse_creds(buf_slice(&authz), &c), 0);
	assert_int_equal(c.nc, 2);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);

	/* HA1 only for MD5: RFC 8760 §2.4, the UAC skips SHA-256 */
	assert_int_equal(sip_auth_ha1(SIP_AUTH_MD5, SLICE_LIT("alice"),
				      SLICE_LIT(REALM), SLICE_LIT("wonderland"),
				      md5, &l),
			 0);
	struct sip_auth_cred md5only = {.user = SLICE_LIT("alice"),
					.ha1_md5 = md5};
	answer(a, cl, &md5only, ad, URI, &authz);
	assert_int_equal(sip_auth_parse_creds(buf_slice(&authz), &c), 0);
	assert_int_equal(c.alg, SIP_AUTH_MD5);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);

	assert_int_equal(sip_auth_ha1(SIP_AUTH_SHA256, SLICE_LIT("alice"),
				      SLICE_LIT(REALM), SLICE_LIT("wonderland"),
				      sha, &l),
			 0);
	struct sip_auth_cred shaonly = {.user = SLICE_LIT("alice"),
					.ha1_sha256 = sha};
	answer(a, cl, &shaonly, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);

	/* the nonce is bound to the source address */
	answer(a, cl, &alice, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, slice_make(addr2, 4), URI),
			 SIP_AUTH_CHALLENGE);

	/* no usable challenge */
	struct sip_auth_cred none = {.user = SLICE_LIT("alice")};
	struct slice junk = SLICE_LIT("Basic realm=\"x\"");
	buf_reset(&authz);
	assert_int_equal(sip_auth_client_answer(cl, &junk, 1, &alice,
						SLICE_LIT("REGISTER"),
						SLICE_LIT(URI), &authz),
			 -TL_EUNKNOWN);
	struct buf ch;
	struct slice vals[4];
	buf_init(&ch, 0);
	assert_int_equal(
		sip_auth_challenge(a, SLICE_LIT(REALM), ad, false, false, &ch),
		0);
	size_t n = split_chals(&ch, vals, 4, "WWW-Authenticate: ");
	assert_int_equal(sip_auth_client_answer(cl, vals, n, &none,
						SLICE_LIT("REGISTER"),
						SLICE_LIT(URI), &authz),
			 -TL_EUNKNOWN);
	assert_int_equal(sip_auth_client_again(cl, SLICE_LIT("other"), &alice,
					       SLICE_LIT("REGISTER"),
					       SLICE_LIT(URI), &authz),
			 -TL_ENOTFOUND);
	buf_free(&ch);
	buf_free(&authz);
	sip_auth_client_free(cl);
	sip_auth_free(a);
}

/* base64url, unpadded (RFC 4648 §5), for the known answers below */
static const char b64u_tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
			       "opqrstuvwxyz0123456789-_";

static void t_b64u_enc(const uint8_t *p, size_t n, char *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < n; i++) {
		acc = acc << 8 | p[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = b64u_tab[(acc >> bits) & 63];
		}
	}
	if (bits > 0) {
		out[o++] = b64u_tab[(acc << (6 - bits)) & 63];
	}
	out[o] = '\0';
}

static size_t t_b64u_dec(struct slice s, uint8_t *out)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;

	for (size_t i = 0; i < s.len; i++) {
		const char *q = memchr(b64u_tab, s.p[i], 64);
		assert_non_null(q);
		acc = acc << 6 | (uint32_t)(q - b64u_tab);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* The server keeps one keyed HMAC, one hash context and the last realm's
 * opaque: across many calls, realms and algorithms, every nonce and
 * opaque is exactly what a fresh one-shot HMAC-SHA-256 gives (the layout
 * of docs/sip-auth.md), and every answer checks. */
static void test_context_reuse(void **state)
{
	static const char *const realms[] = {REALM, "other.test", REALM, "",
					     "other.test"};
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 0, false);
	struct sip_auth_client *cl = NULL;
	struct buf authz;

	for (size_t r = 0; r < sizeof(realms) / sizeof(realms[0]); r++) {
		struct slice realm = slice_from_str(realms[r]);
		for (int k = 0; k < 4; k++) {
			enum sip_auth_alg alg =
				k % 2 ? SIP_AUTH_MD5 : SIP_AUTH_SHA256;
			uint8_t in[16 + 16 + 2 + 64], mac[32], raw[48];
			struct sip_auth_chal ch;
			unsigned ml = 0;
			char want[80];
			struct buf b;
			size_t n;

			buf_init(&b, 0);
			assert_int_equal(sip_auth_challenge_value(
						 a, alg, realm,
						 slice_make(addr1, 4), false,
						 &b),
					 0);
			assert_int_equal(sip_auth_parse_chal(buf_slice(&b), &ch),
					 0);
			assert_int_equal(ch.alg, alg);
			/* opaque: the first 12 bytes of HMAC(secret,
			 * "trustline-opaque" realm) */
			memcpy(in, "trustline-opaque", 16);
			memcpy(in + 16, realm.p, realm.len);
			assert_non_null(HMAC(EVP_sha256(), SECRET, 32, in,
					     16 + realm.len, mac, &ml));
			t_b64u_enc(mac, 12, want);
			assert_true(slice_eq_str(ch.opaque, want));
			/* nonce: ts(8) rnd(8) HMAC(secret, "trustline-nonce1"
			 * ts rnd len16 realm) */
			assert_int_equal(ch.nonce.len, 64);
			assert_int_equal(t_b64u_dec(ch.nonce, raw), 48);
			memcpy(in, "trustline-nonce1", 16);
			memcpy(in + 16, raw, 16);
			n = 32;
			in[n++] = (uint8_t)(realm.len >> 8);
			in[n++] = (uint8_t)realm.len;
			memcpy(in + n, realm.p, realm.len);
			n += realm.len;
			assert_non_null(HMAC(EVP_sha256(), SECRET, 32, in, n,
					     mac, &ml));
			assert_memory_equal(raw + 16, mac, 32);
			buf_free(&b);
		}
	}
	/* answers with alternating algorithms all check (the hash context
	 * starts over each time) */
	assert_int_equal(sip_auth_client_new(&cl), 0);
	buf_init(&authz, 0);
	uint8_t md5[SIP_AUTH_HA1_MAX], sha[SIP_AUTH_HA1_MAX];
	size_t l;
	assert_int_equal(sip_auth_ha1(SIP_AUTH_MD5, SLICE_LIT("alice"),
				      SLICE_LIT(REALM), SLICE_LIT("wonderland"),
				      md5, &l),
			 0);
	assert_int_equal(sip_auth_ha1(SIP_AUTH_SHA256, SLICE_LIT("alice"),
				      SLICE_LIT(REALM), SLICE_LIT("wonderland"),
				      sha, &l),
			 0);
	struct sip_auth_cred md5only = {.user = SLICE_LIT("alice"),
					.ha1_md5 = md5};
	struct sip_auth_cred shaonly = {.user = SLICE_LIT("alice"),
					.ha1_sha256 = sha};
	for (int i = 0; i < 50; i++) {
		answer(a, cl, i % 2 ? &md5only : &shaonly,
		       slice_make(addr1, 4), URI, &authz);
		assert_int_equal(check(a, &f, &authz, slice_make(addr1, 4),
				       URI),
				 SIP_AUTH_OK);
		/* and a wrong password between them does not */
		struct sip_auth_cred bad = {.user = SLICE_LIT("alice"),
					    .password = SLICE_LIT("x")};
		answer(a, cl, &bad, slice_make(addr1, 4), URI, &authz);
		assert_int_equal(check(a, &f, &authz, slice_make(addr1, 4),
				       URI),
				 SIP_AUTH_CHALLENGE);
		f.now_ms += 7000; /* stay under the failure limit */
	}
	buf_free(&authz);
	sip_auth_client_free(cl);
	sip_auth_free(a);
}

/* Flip one character of the nonce in an Authorization value. */
static void tamper_nonce(struct buf *authz)
{
	const char *p = memmem(authz->p, authz->len, "nonce=\"", 7);

	assert_non_null(p);
	size_t off = (size_t)(p - (const char *)authz->p) + 7 + 10;
	authz->p[off] = authz->p[off] == 'A' ? 'B' : 'A';
}

static void test_failures(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 100, false);
	struct sip_auth_client *cl = NULL;
	struct buf authz;
	struct slice ad = slice_make(addr1, 4);
	struct sip_auth_cred wrong = {.user = SLICE_LIT("alice"),
				      .password = SLICE_LIT("looking-glass")};
	struct sip_auth_cred ghost = {.user = SLICE_LIT("ghost"),
				      .password = SLICE_LIT("wonderland")};

	assert_int_equal(sip_auth_client_new(&cl), 0);
	buf_init(&authz, 0);

	/* tampered nonce: refused before any lookup */
	answer(a, cl, &alice, ad, URI, &authz);
	tamper_nonce(&authz);
	f.lookups = 0;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	assert_int_equal(f.lookups, 0);

	/* expired nonce, right credentials: stale (RFC 7616 §3.3) */
	answer(a, cl, &alice, ad, URI, &authz);
	f.now_ms += 301 * 1000;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_STALE);
	/* expired nonce, wrong password: a plain challenge */
	answer(a, cl, &wrong, ad, URI, &authz);
	f.now_ms += 301 * 1000;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	/* just inside the expiry */
	answer(a, cl, &alice, ad, URI, &authz);
	f.now_ms += 299 * 1000;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);

	/* replayed nc */
	answer(a, cl, &alice, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);

	/* wrong uri: the credentials do not move to another request */
	answer(a, cl, &alice, ad, "sip:other.test", &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);

	/* wrong realm: as if no credentials were sent */
	answer(a, cl, &alice, ad, URI, &authz);
	struct slice v = buf_slice(&authz);
	struct sip_auth_req req = {
		.method = SLICE_LIT("REGISTER"),
		.uri = SLICE_LIT(URI),
		.realm = SLICE_LIT("elsewhere.test"),
		.authz = &v,
		.n_authz = 1,
		.addr = ad,
	};
	struct sip_auth_outcome o;
	f.lookups = 0;
	assert_int_equal(sip_auth_check(a, &req, fx_lookup, &f, &o), 0);
	assert_int_equal(o.verdict, SIP_AUTH_CHALLENGE);
	assert_int_equal(f.lookups, 0);

	/* wrong method: the response covers it */
	answer(a, cl, &alice, ad, URI, &authz);
	v = buf_slice(&authz);
	req.realm = SLICE_LIT(REALM);
	req.method = SLICE_LIT("INVITE");
	assert_int_equal(sip_auth_check(a, &req, fx_lookup, &f, &o), 0);
	assert_int_equal(o.verdict, SIP_AUTH_CHALLENGE);

	/* unknown user and wrong password: the same answer, same work */
	answer(a, cl, &ghost, ad, URI, &authz);
	f.lookups = 0;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	assert_int_equal(f.lookups, 1);
	answer(a, cl, &wrong, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	assert_int_equal(f.lookups, 2);

	/* a store failure is reported, not mistaken for a bad password */
	answer(a, cl, &alice, ad, URI, &authz);
	f.store_err = -TL_ESTORE;
	v = buf_slice(&authz);
	req.method = SLICE_LIT("REGISTER");
	assert_int_equal(sip_auth_check(a, &req, fx_lookup, &f, &o),
			 -TL_ESTORE);
	f.store_err = 0;

	buf_free(&authz);
	sip_auth_client_free(cl);
	sip_auth_free(a);
}

static void test_rate_limit(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 3, false);
	struct sip_auth_client *cl = NULL;
	struct buf authz;
	struct slice ad = slice_make(addr1, 4);
	struct sip_auth_cred wrong = {.user = SLICE_LIT("alice"),
				      .password = SLICE_LIT("looking-glass")};

	assert_int_equal(sip_auth_client_new(&cl), 0);
	buf_init(&authz, 0);
	for (int i = 0; i < 3; i++) {
		answer(a, cl, &wrong, ad, URI, &authz);
		assert_int_equal(check(a, &f, &authz, ad, URI),
				 SIP_AUTH_CHALLENGE);
	}
	/* over the limit: 403 even with the right password, no digest */
	answer(a, cl, &alice, ad, URI, &authz);
	f.lookups = 0;
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_FORBIDDEN);
	assert_int_equal(f.lookups, 0);
	/* another source is not affected */
	answer(a, cl, &alice, slice_make(addr2, 4), URI, &authz);
	assert_int_equal(check(a, &f, &authz, slice_make(addr2, 4), URI),
			 SIP_AUTH_OK);
	/* one token back after a second at 60 per minute */
	f.now_ms += 1000;
	answer(a, cl, &alice, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);
	answer(a, cl, &wrong, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_CHALLENGE);
	answer(a, cl, &alice, ad, URI, &authz);
	assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_FORBIDDEN);
	buf_free(&authz);
	sip_auth_client_free(cl);
	sip_auth_free(a);
}

/* A nonce whose replay entry was evicted must be refreshed, not trusted. */
static void test_nc_eviction(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 4, 0, false);
	struct sip_auth_client *cl[6];
	struct buf authz;
	struct slice ad = slice_make(addr1, 4);

	buf_init(&authz, 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sip_auth_client_new(&cl[i]), 0);
		answer(a, cl[i], &alice, ad, URI, &authz);
		assert_int_equal(check(a, &f, &authz, ad, URI), SIP_AUTH_OK);
		f.now_ms += 1000;
	}
	/* the table has 4 slots: the first two nonces were evicted */
	for (int i = 0; i < 6; i++) {
		buf_reset(&authz);
		assert_int_equal(sip_auth_client_again(cl[i], SLICE_LIT(REALM),
						       &alice,
						       SLICE_LIT("REGISTER"),
						       SLICE_LIT(URI), &authz),
				 0);
		assert_int_equal(check(a, &f, &authz, ad, URI),
				 i < 2 ? SIP_AUTH_STALE : SIP_AUTH_OK);
		sip_auth_client_free(cl[i]);
	}
	buf_free(&authz);
	sip_auth_free(a);
}

/* The message-level check: REGISTER with two Authorization lines, the
 * one for another realm is skipped. */
static void test_check_msg(void **state)
{
	struct fx f = {0};
	struct sip_auth_srv *a = mk_server(&f, 0, 0, true);
	struct sip_auth_client *cl = NULL;
	struct buf authz, msg;
	struct net_addr src, src6;
	struct sip_msg *m = NULL;
	struct sip_auth_outcome o;

	assert_int_equal(net_addr_set(&src, "127.0.0.1", 5062), 0);
	assert_int_equal(net_addr_set(&src6, "::1", 5062), 0);
	assert_int_equal(sip_auth_addr(&src).len, 4);
	assert_memory_equal(sip_auth_addr(&src).p, addr1, 4);
	assert_int_equal(sip_auth_addr(&src6).len, 16);
	assert_int_equal(sip_auth_client_new(&cl), 0);
	buf_init(&authz, 0);
	buf_init(&msg, 0);
	answer(a, cl, &alice, sip_auth_addr(&src), URI, &authz);
	buf_printf(&msg,
		   "REGISTER " URI " SIP/2.0\r\n"
		   "Via: SIP/2.0/UDP 127.0.0.1:5062;branch=z9hG4bKreg1\r\n"
		   "From: <sip:alice@" REALM ">;tag=1\r\n"
		   "To: <sip:alice@" REALM ">\r\n"
		   "Call-ID: reg-1\r\n"
		   "CSeq: 1 REGISTER\r\n"
		   "Authorization: Digest username=\"alice\", "
		   "realm=\"other\", nonce=\"x\", uri=\"" URI "\", "
		   "response=\"0123456789abcdef0123456789abcdef\"\r\n"
		   "Authorization: %.*s\r\n"
		   "Content-Length: 0\r\n\r\n",
		   (int)authz.len, (const char *)authz.p);
	assert_int_equal(sip_msg_new(&m), 0);
	assert_int_equal(sip_msg_parse(m, msg.p, msg.len, SIP_MODE_DGRAM), 0);
	assert_int_equal(sip_auth_check_msg(a, m, SLICE_LIT(REALM), &src, false,
					    fx_lookup, &f, &o),
			 0);
	assert_int_equal(o.verdict, SIP_AUTH_OK);
	assert_true(slice_eq_str(o.user, "alice"));
	/* the same again: nc replay */
	assert_int_equal(sip_auth_check_msg(a, m, SLICE_LIT(REALM), &src, false,
					    fx_lookup, &f, &o),
			 0);
	assert_int_equal(o.verdict, SIP_AUTH_CHALLENGE);
	/* no Proxy-Authorization at all */
	assert_int_equal(sip_auth_check_msg(a, m, SLICE_LIT(REALM), &src, true,
					    fx_lookup, &f, &o),
			 0);
	assert_int_equal(o.verdict, SIP_AUTH_CHALLENGE);
	sip_msg_free(m);
	buf_free(&msg);
	buf_free(&authz);
	sip_auth_client_free(cl);
	sip_auth_free(a);
}

static void test_cfg(void **state)
{
	struct sip_auth_srv *a = (struct sip_auth_srv *)1;
	struct sip_auth_cfg bad = {.secret = SLICE_LIT("short")};

	assert_int_equal(sip_auth_new(&a, &bad), -TL_ECONFIG);
	assert_null(a);
	struct sip_auth_cfg rnd = {0};
	assert_int_equal(sip_auth_new(&a, &rnd), 0);
	sip_auth_free(a);
	sip_auth_free(NULL);
	sip_auth_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7616_vectors),
		cmocka_unit_test(test_rfc7616_header),
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_creds_reject),
		cmocka_unit_test(test_chal_parse),
		cmocka_unit_test(test_challenge_shape),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_context_reuse),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_nc_eviction),
		cmocka_unit_test(test_check_msg),
		cmocka_unit_test(test_cfg),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
