/* SIP, SIPS and TEL URIs (RFC 3261 §19.1, §25.1; RFC 3966), zero-copy.
 *
 * A parsed URI is a set of slices into the caller's bytes: nothing is
 * copied, nothing is NUL-terminated, the input is never written. Every
 * slice stays valid as long as those bytes do.
 *
 * Slice convention used throughout this module and sip_msg.h: an absent
 * element has .p == NULL; an element present but empty ("rport",
 * "sip:host;lr") has .p != NULL and .len == 0.
 *
 * Escapes (%HH) are kept as written in every slice: comparing or storing a
 * user part the way RFC 3261 §19.1.4 wants needs sip_uri_unescape(), which
 * decodes exactly one level (never recursively: RFC 4475 §3.1.1.3).
 */
#ifndef TL_SIP_URI_H
#define TL_SIP_URI_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Longest URI accepted (bytes as written). */
#define SIP_URI_MAX_LEN 4096

enum sip_uri_scheme {
	SIP_URI_OTHER = 0, /* any other absoluteURI (RFC 3261 §25.1) */
	SIP_URI_SIP,
	SIP_URI_SIPS,
	SIP_URI_TEL, /* RFC 3966 */
};

enum sip_host_type {
	SIP_HOST_NONE = 0, /* tel: and other schemes */
	SIP_HOST_NAME,     /* hostname (RFC 3261 §25.1) */
	SIP_HOST_IPV4,     /* dotted quad */
	SIP_HOST_IPV6,     /* IPv6reference: host holds the text inside [] */
};

/* Transport named by a transport= URI parameter or a Via sent-protocol. */
enum sip_transport {
	SIP_TP_OTHER = 0, /* unknown token: see the slice next to it */
	SIP_TP_UDP,
	SIP_TP_TCP,
	SIP_TP_TLS,
	SIP_TP_SCTP,
	SIP_TP_TLS_SCTP,
	SIP_TP_WS,
	SIP_TP_WSS,
};

struct sip_uri {
	enum sip_uri_scheme scheme;
	struct slice raw;      /* the whole URI as written */
	struct slice scheme_s; /* "sip", "SIPS", "tel", "urn"... as written */
	/* sip/sips: userinfo parts, escapes kept. tel: the telephone-subscriber
	 * number (global "+1-201..." or local). Other schemes: absent. */
	struct slice user;
	struct slice password;
	/* sip/sips: host (IPv6 without the brackets). Absent otherwise. */
	struct slice host;
	enum sip_host_type host_type;
	bool has_port;
	uint16_t port; /* 0 when !has_port */
	/* Everything after the first ';' up to '?' (or the end), without the
	 * leading ';'. For tel: the par list (RFC 3966 §3). */
	struct slice params;
	/* After '?', without it: hname=hvalue&... (RFC 3261 §19.1.1). */
	struct slice headers;
	/* Other schemes: everything after "scheme:". */
	struct slice opaque;

	/* Well-known parameters (RFC 3261 §19.1.1), values as written. */
	struct slice transport;  /* transport=..., see tp */
	enum sip_transport tp;   /* SIP_TP_OTHER also when absent */
	struct slice user_param; /* user=phone|ip|... */
	struct slice method;     /* method=... */
	struct slice maddr;      /* maddr=... */
	bool has_ttl;
	uint8_t ttl; /* ttl=0..255 */
	bool lr;     /* ;lr present (loose routing, RFC 3261 §16.12) */
};

/* Parse a whole URI. The scheme decides the grammar: sip/sips per
 * RFC 3261 §25.1, tel per RFC 3966 §3, any other scheme is accepted as an
 * absoluteURI (scheme ":" then no whitespace, no control characters, no
 * '<' '>' '"') with only raw/scheme_s/opaque set. Rejects (-TL_EPARSE):
 * whitespace or control bytes anywhere, a bad host, a port over 65535 or of
 * more than 5 digits, a ttl over 255, a duplicate transport/user/method/
 * maddr/ttl/lr parameter, a bad %HH escape. -TL_ETOOBIG over
 * SIP_URI_MAX_LEN. */
int sip_uri_parse(struct sip_uri *u, const uint8_t *p,
                  size_t len) TL_MUST_CHECK;

/* Find a URI parameter by name (case-insensitive). Returns 0 and sets *val
 * (val.p != NULL; len 0 for a parameter without '='), or -TL_ENOTFOUND. */
int sip_uri_param(const struct sip_uri *u, const char *name,
                  struct slice *val) TL_MUST_CHECK;

/* Iterate the ?name=value&... headers of a URI. *state starts as
 * u->headers; each call returns 1 with name/value (escapes kept), 0 at the
 * end, -TL_EPARSE on an empty or malformed element. */
int sip_uri_header_next(struct slice *state, struct slice *name,
                        struct slice *value) TL_MUST_CHECK;

/* Decode one level of %HH escapes from in into dst (dstlen bytes). The
 * output may hold NUL bytes (RFC 4475 §3.1.1.4): use *outlen, never
 * strlen. -TL_EPARSE on a bad escape, -TL_ETOOBIG when dst is too small. */
int sip_uri_unescape(struct slice in, uint8_t *dst, size_t dstlen,
                     size_t *outlen) TL_MUST_CHECK;

/* URI equality per RFC 3261 §19.1.4 for sip/sips (scheme, unescaped user
 * and password case-sensitive, host case-insensitive, port, the
 * user/ttl/method/maddr/transport parameters, other parameters present in
 * both, headers); tel: by unescaped number ignoring visual separators
 * (RFC 3966 §5.4, simplified: parameters must match as text); other
 * schemes byte-for-byte. */
bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b);

/* Print a parsed URI in canonical order: scheme (lower case), userinfo,
 * host (IPv6 in brackets), port, ;params, ?headers, all as written. Errors
 * are reported through buf_err(b). */
void sip_uri_print(struct buf *b, const struct sip_uri *u);

/* Name of a transport for a Via header ("UDP", "TLS"...) or NULL for
 * SIP_TP_OTHER. */
const char *sip_transport_name(enum sip_transport tp);
/* Case-insensitive lookup of a transport token; SIP_TP_OTHER if unknown. */
enum sip_transport sip_transport_from(struct slice s);

#endif
