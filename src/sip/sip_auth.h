/* SIP digest authentication: RFC 7616 (HTTP Digest), RFC 8760 (SHA-256 in
 * SIP), RFC 3261 §22. Server side (stateless HMAC nonces, nonce-count replay
 * table, per-source failure rate limit) and client side (answer a challenge,
 * track nc per nonce).
 *
 * HA1 = H(username ":" realm ":" password) is what a store keeps, as raw
 * digest bytes (16 for MD5, 32 for SHA-256); the server never sees a
 * password. Header values are parsed into slices of the caller's buffer.
 *
 * Ownership: sip_auth_new / sip_auth_client_new return objects freed with
 * the matching _free (NULL is a no-op). Slices in parsed results point into
 * the input value and live as long as it does. Not thread-safe: one object
 * per event loop. */
#ifndef TL_SIP_AUTH_H
#define TL_SIP_AUTH_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sip_auth_alg {
	SIP_AUTH_MD5,
	SIP_AUTH_MD5_SESS,
	SIP_AUTH_SHA256,
	SIP_AUTH_SHA256_SESS,
};

#define SIP_AUTH_HA1_MAX 32 /* raw digest bytes, SHA-256 */
#define SIP_AUTH_HEX_MAX 65 /* lower-case hex digest + NUL */

/* Limits on what a header value may hold (longer input is refused). */
#define SIP_AUTH_VALUE_MAX  4096
#define SIP_AUTH_PARAM_MAX  512
#define SIP_AUTH_PARAMS_MAX 32

/* "MD5", "MD5-sess", "SHA-256", "SHA-256-sess". */
const char *sip_auth_alg_name(enum sip_auth_alg alg);
/* Case-insensitive; -TL_EUNKNOWN for anything else. */
int sip_auth_alg_parse(struct slice s, enum sip_auth_alg *out) TL_MUST_CHECK;
/* Digest length in bytes: 16 or 32. */
size_t sip_auth_alg_len(enum sip_auth_alg alg);

/* HA1 = H(user:realm:password) for alg's hash (the -sess variants use the
 * same stored HA1). Writes sip_auth_alg_len(alg) bytes. */
int sip_auth_ha1(enum sip_auth_alg alg, struct slice user, struct slice realm,
		 struct slice password, uint8_t ha1[SIP_AUTH_HA1_MAX],
		 size_t *len) TL_MUST_CHECK;

/* The inputs of one response computation (RFC 7616 §3.4.1, qop=auth). */
struct sip_auth_digest_in {
	enum sip_auth_alg alg;
	const uint8_t *ha1; /* raw, sip_auth_alg_len(alg) bytes */
	size_t ha1_len;
	struct slice nonce;
	struct slice cnonce;
	struct slice nc;  /* 8 hex digits as sent */
	struct slice qop; /* "auth"; empty: RFC 2069 form */
	struct slice method;
	struct slice uri;
};

/* response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":"
 * uri)) in lower-case hex, NUL-terminated. */
int sip_auth_response(const struct sip_auth_digest_in *in,
		      char hex[SIP_AUTH_HEX_MAX]) TL_MUST_CHECK;

/* A parsed Authorization / Proxy-Authorization value (RFC 7616 §3.4). */
struct sip_auth_creds {
	struct slice username;
	struct slice realm;
	struct slice nonce;
	struct slice uri;
	struct slice response;
	struct slice cnonce;
	struct slice opaque;
	struct slice qop;
	struct slice nc_text;
	uint32_t nc;
	enum sip_auth_alg alg; /* MD5 when absent (RFC 7616 §3.3) */
};

/* Parses "Digest k=v, ...". Fails on: another scheme, duplicate known
 * parameters, a missing username/realm/nonce/uri/response, qop without
 * cnonce and nc, nc not exactly 8 hex digits, a response of the wrong
 * length or not hex, an unknown algorithm (-TL_EUNKNOWN), userhash=true,
 * escapes inside quoted strings, NUL or control bytes, values over
 * SIP_AUTH_PARAM_MAX, more than SIP_AUTH_PARAMS_MAX parameters, trailing
 * garbage. Unknown parameters are ignored (RFC 7616 §3.4). */
int sip_auth_parse_creds(struct slice value,
			 struct sip_auth_creds *out) TL_MUST_CHECK;

/* A parsed WWW-Authenticate / Proxy-Authenticate value (RFC 7616 §3.3). */
struct sip_auth_chal {
	struct slice realm;
	struct slice nonce;
	struct slice opaque;
	enum sip_auth_alg alg;
	bool stale;
	bool qop_auth; /* qop list offers "auth" */
	bool qop_present;
};

int sip_auth_parse_chal(struct slice value,
			struct sip_auth_chal *out) TL_MUST_CHECK;

/* ---- server ---- */

struct sip_auth_cfg {
	/* HMAC key for nonces; at least 16 bytes. Empty: a random key for
	 * the life of the object (nonces do not survive a restart). */
	struct slice secret;
	uint32_t nonce_ttl_s;  /* 0: 300 */
	size_t nc_slots;       /* replay table entries, 0: 4096 */
	uint32_t fail_burst;   /* failures allowed at once per source, 0: 10 */
	uint32_t fail_per_min; /* sustained failures per minute, 0: 6 */
	size_t rl_slots;       /* rate-limit table entries, 0: 4096 */
	bool bind_addr;        /* put the source address into the nonce MAC */
	/* Wall clock in milliseconds; NULL: CLOCK_REALTIME. */
	uint64_t (*clock_ms)(void *arg);
	void *clock_arg;
};

struct sip_auth_srv;

int sip_auth_new(struct sip_auth_srv **out,
		 const struct sip_auth_cfg *cfg) TL_MUST_CHECK;
void sip_auth_free(struct sip_auth_srv *a);

/* Looks up a user's stored HA1 for the hash of alg (MD5 or SHA-256).
 * Returns 0, -TL_ENOTFOUND for an unknown user, or another error. */
typedef int (*sip_auth_ha1_h)(void *arg, struct slice user, struct slice realm,
			      enum sip_auth_alg alg,
			      uint8_t ha1[SIP_AUTH_HA1_MAX], size_t *len);

struct sip_auth_req {
	struct slice method; /* request method */
	struct slice uri;    /* Request-URI as text; digest uri must equal it */
	struct slice realm;  /* the realm this server authenticates for */
	/* Authorization (or Proxy-Authorization) values; the first for our
	 * realm is used. */
	const struct slice *authz;
	size_t n_authz;
	struct slice addr; /* source IP address bytes (4 or 16) */
};

enum sip_auth_verdict {
	SIP_AUTH_OK,        /* authenticated */
	SIP_AUTH_CHALLENGE, /* answer 401/407 with a fresh challenge */
	SIP_AUTH_STALE,     /* answer 401/407 with stale=true */
	SIP_AUTH_FORBIDDEN, /* source over its failure limit: answer 403 */
};

struct sip_auth_outcome {
	enum sip_auth_verdict verdict;
	struct slice user; /* on SIP_AUTH_OK: the username (into authz) */
	enum sip_auth_alg alg;
};

/* Checks a request's credentials. Returns 0 with out->verdict set, or an
 * error from the lookup (e.g. -TL_ESTORE: answer 500). Unknown users and
 * wrong passwords take the same path and give the same verdict. */
int sip_auth_check(struct sip_auth_srv *a, const struct sip_auth_req *req,
		   sip_auth_ha1_h lookup, void *arg,
		   struct sip_auth_outcome *out) TL_MUST_CHECK;

/* Appends the challenge header lines, SHA-256 first then MD5 (RFC 8760
 * §2.4), each "WWW-Authenticate: Digest ...\r\n" (Proxy-Authenticate when
 * proxy is true) with realm, nonce, opaque, qop="auth", algorithm and
 * stale=true when asked. */
int sip_auth_challenge(struct sip_auth_srv *a, struct slice realm,
		       struct slice addr, bool stale, bool proxy,
		       struct buf *out) TL_MUST_CHECK;
/* The same for the n algorithms in algs, in that order, all with one
 * nonce (one MAC for the lot). */
int sip_auth_challenge_algs(struct sip_auth_srv *a,
			    const enum sip_auth_alg *algs, size_t n,
			    struct slice realm, struct slice addr, bool stale,
			    bool proxy, struct buf *out) TL_MUST_CHECK;
/* One challenge value (no header name, no CRLF) for one algorithm. */
int sip_auth_challenge_value(struct sip_auth_srv *a, enum sip_auth_alg alg,
			     struct slice realm, struct slice addr, bool stale,
			     struct buf *out) TL_MUST_CHECK;
/* 401, 407 or 403 for a verdict other than OK. */
int sip_auth_status(enum sip_auth_verdict v, bool proxy);

/* The IP address bytes of a (4 or 16 bytes, into *a; empty when unset),
 * as sip_auth_req.addr wants them. */
struct slice sip_auth_addr(const struct net_addr *a);

/* sip_auth_check for a parsed request: method, Request-URI as written and
 * every Authorization (Proxy-Authorization when proxy) value of m, the
 * source address src. */
int sip_auth_check_msg(struct sip_auth_srv *a, struct sip_msg *m,
		       struct slice realm, const struct net_addr *src,
		       bool proxy, sip_auth_ha1_h lookup, void *arg,
		       struct sip_auth_outcome *out) TL_MUST_CHECK;

/* ---- client ---- */

struct sip_auth_client;

int sip_auth_client_new(struct sip_auth_client **out) TL_MUST_CHECK;
void sip_auth_client_free(struct sip_auth_client *c);

/* Credentials: a password, or the HA1s the client holds (either may be
 * NULL; an algorithm without its HA1 is not chosen). */
struct sip_auth_cred {
	struct slice user;
	struct slice password;     /* empty: use the HA1s */
	const uint8_t *ha1_md5;    /* 16 bytes */
	const uint8_t *ha1_sha256; /* 32 bytes */
};

/* Answers the challenges of a 401/407 (values in header order): picks the
 * first whose algorithm is supported and usable with cred (RFC 8760 §2.4),
 * remembers its nonce, and appends the Authorization value (no header
 * name) with a fresh cnonce and nc=00000001 (or the next nc when the nonce
 * is already known). -TL_EUNKNOWN when no challenge is usable. */
int sip_auth_client_answer(struct sip_auth_client *c, const struct slice *chals,
			   size_t n_chals, const struct sip_auth_cred *cred,
			   struct slice method, struct slice uri,
			   struct buf *out) TL_MUST_CHECK;
/* Authorizes another request with the nonce last used for realm, with the
 * next nc. -TL_ENOTFOUND when no nonce is remembered for realm. */
int sip_auth_client_again(struct sip_auth_client *c, struct slice realm,
			  const struct sip_auth_cred *cred, struct slice method,
			  struct slice uri, struct buf *out) TL_MUST_CHECK;

#endif
