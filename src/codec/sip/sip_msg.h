/* SIP messages (RFC 3261 §7, §20, §25): a zero-copy, length-bounded parser,
 * typed header access, stream framing and a message builder.
 *
 * Ownership: a struct sip_msg is a reusable per-message arena (one malloc
 * in sip_msg_new, none while parsing). sip_msg_parse() points it at the
 * caller's bytes; every slice and struct it hands out points into those
 * bytes (or into the sip_msg) and stays valid until the bytes are freed, the
 * sip_msg is parsed again or freed. The input is never written.
 *
 * Parsing is two-stage (STYLE.md 6): sip_msg_parse() reads the start line,
 * locates every header (name + raw value) and parses the framing headers
 * (Via top value, From, To, Call-ID, CSeq, Max-Forwards, Content-Length,
 * Content-Type). Other headers are parsed on first use by the accessors
 * below, which is why those take a non-const struct sip_msg.
 *
 * Absent vs empty slices: see sip_uri.h (.p == NULL means absent).
 *
 * Accessors that can fail return 0, -TL_ENOTFOUND when the header is
 * absent, or -TL_EPARSE (-TL_ETOOBIG, -TL_EDUP) when it is malformed: a
 * server then answers 400 (a malformed header it needs) or ignores it.
 * Iterators return 1 (got one), 0 (end) or a negative error (malformed
 * value; the iteration cannot continue).
 */
#ifndef TL_SIP_MSG_H
#define TL_SIP_MSG_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "codec/sip/sip_uri.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Hard limits (docs/formats/sip-limits.md). */
#define SIP_MSG_MAX_SIZE   65535 /* whole message, headers + body */
#define SIP_MSG_MAX_HDRS   128   /* header fields (lines after unfolding) */
#define SIP_MSG_MAX_LINE   8192  /* one start line or header field */
#define SIP_MSG_MAX_HEAD   32768 /* start line + headers + empty line */
#define SIP_MSG_MAX_VALUES 256   /* values in one iteration (Via, Contact) */

/* Well-known methods; SIP_M_OTHER for extension methods (see the slice). */
enum sip_method {
	SIP_M_OTHER = 0,
	SIP_M_INVITE,
	SIP_M_ACK,
	SIP_M_BYE,
	SIP_M_CANCEL,
	SIP_M_REGISTER,
	SIP_M_OPTIONS,
	SIP_M_INFO,
	SIP_M_UPDATE,
	SIP_M_PRACK,
	SIP_M_SUBSCRIBE,
	SIP_M_NOTIFY,
	SIP_M_REFER,
	SIP_M_MESSAGE,
	SIP_M_PUBLISH,
};

/* Known header names. Compact forms (RFC 3261 §7.3.3, RFC 3265, RFC 3515,
 * RFC 3841, RFC 3892, RFC 4028, RFC 8224) map to the same id. */
enum sip_hdr_id {
	SIP_HDR_OTHER = 0, /* unknown: matched by name */
	SIP_HDR_VIA,       /* v */
	SIP_HDR_FROM,      /* f */
	SIP_HDR_TO,        /* t */
	SIP_HDR_CALL_ID,   /* i */
	SIP_HDR_CSEQ,
	SIP_HDR_MAX_FORWARDS,
	SIP_HDR_CONTENT_LENGTH, /* l */
	SIP_HDR_CONTENT_TYPE,   /* c */
	SIP_HDR_CONTACT,        /* m */
	SIP_HDR_ROUTE,
	SIP_HDR_RECORD_ROUTE,
	SIP_HDR_EXPIRES,
	SIP_HDR_MIN_EXPIRES,
	SIP_HDR_AUTHORIZATION,
	SIP_HDR_PROXY_AUTHORIZATION,
	SIP_HDR_WWW_AUTHENTICATE,
	SIP_HDR_PROXY_AUTHENTICATE,
	SIP_HDR_AUTHENTICATION_INFO,
	SIP_HDR_SUPPORTED, /* k */
	SIP_HDR_REQUIRE,
	SIP_HDR_PROXY_REQUIRE,
	SIP_HDR_UNSUPPORTED,
	SIP_HDR_ALLOW,
	SIP_HDR_ALLOW_EVENTS, /* u */
	SIP_HDR_EVENT,        /* o */
	SIP_HDR_SUBSCRIPTION_STATE,
	SIP_HDR_ACCEPT,
	SIP_HDR_ACCEPT_ENCODING,
	SIP_HDR_ACCEPT_LANGUAGE,
	SIP_HDR_CONTENT_ENCODING, /* e */
	SIP_HDR_CONTENT_DISPOSITION,
	SIP_HDR_CALL_INFO,
	SIP_HDR_SUBJECT,         /* s */
	SIP_HDR_SESSION_EXPIRES, /* x */
	SIP_HDR_MIN_SE,
	SIP_HDR_REFER_TO,            /* r */
	SIP_HDR_REFERRED_BY,         /* b */
	SIP_HDR_IDENTITY,            /* y */
	SIP_HDR_REJECT_CONTACT,      /* j */
	SIP_HDR_ACCEPT_CONTACT,      /* a */
	SIP_HDR_REQUEST_DISPOSITION, /* d */
	SIP_HDR_USER_AGENT,
	SIP_HDR_SERVER,
	SIP_HDR_DATE,
	SIP_HDR_TIMESTAMP,
	SIP_HDR_WARNING,
	SIP_HDR_RETRY_AFTER,
	SIP_HDR_REPLY_TO,
	SIP_HDR_RSEQ,
	SIP_HDR_RACK,
	SIP_HDR_PATH,
	SIP_HDR_SERVICE_ROUTE,
	SIP_HDR_REPLACES,
	SIP_HDR_PRIVACY,
	SIP_HDR_P_ASSERTED_IDENTITY,
	SIP_HDR_ORGANIZATION,
	SIP_HDR_MIME_VERSION,
	SIP_HDR__COUNT
};

/* How the bytes arrived (RFC 3261 §18.3). */
enum sip_mode {
	/* UDP: the datagram is the message. A Content-Length larger than the
	 * bytes left is an error (400); a smaller one truncates the body and
	 * the rest is ignored; without Content-Length the body is the rest. */
	SIP_MODE_DGRAM = 0,
	/* TCP/TLS: one message as cut by sip_framer; Content-Length is
	 * mandatory and must match the bytes left exactly. */
	SIP_MODE_STREAM = 1,
};

struct sip_msg;

/* Value types handed out by the accessors. */

struct sip_via {
	struct slice raw;           /* the whole via-parm */
	struct slice proto_name;    /* "SIP" */
	struct slice proto_version; /* "2.0" */
	struct slice transport;     /* as written: "UDP", "TLS", "FOO" */
	enum sip_transport tp;
	struct slice host; /* sent-by host, IPv6 without [] */
	enum sip_host_type host_type;
	bool has_port;
	uint16_t port;
	struct slice params;   /* after the first ';', without it */
	struct slice branch;   /* branch=..., absent if none */
	struct slice received; /* received=... */
	struct slice maddr;    /* maddr=... */
	bool has_ttl;
	uint8_t ttl;
	/* RFC 3581 §3: "rport" alone (a request asking for it) or with the
	 * port the server filled in. */
	bool has_rport;
	bool rport_has_value;
	uint16_t rport;
};

/* A name-addr or addr-spec with header parameters (From, To, Contact,
 * Route, Record-Route, Refer-To, Referred-By, Reply-To, Path...).
 * RFC 3261 §20.10: without <>, the ;params after the URI belong to the
 * header, not to the URI. */
struct sip_addr {
	struct slice raw;     /* the whole value */
	struct slice display; /* without the quotes; escapes kept (see
	                       * sip_unquote); absent if none */
	bool display_quoted;
	bool name_addr; /* the URI was in <> */
	struct slice uri_raw;
	struct sip_uri uri;
	struct slice params; /* header params, without the leading ';' */
	struct slice tag;    /* tag=... (From/To), absent if none */
};

struct sip_contact {
	struct sip_addr addr; /* unset when star */
	bool star;            /* "Contact: *" (RFC 3261 §10.2.2) */
	bool has_expires;
	uint32_t expires; /* expires=... delta-seconds */
	bool has_q;
	uint16_t q; /* q=0.000..1 as 0..1000 */
	/* RFC 5626 §4.2: +sip.instance (quotes removed, <urn:...> kept) and
	 * reg-id. */
	struct slice instance;
	bool has_reg_id;
	uint32_t reg_id;
};

struct sip_cseq {
	uint32_t num; /* RFC 3261 §8.1.1.5: < 2^31 on send, <= 2^32-1 read */
	struct slice method_s;
	enum sip_method method;
};

/* Content-Type (RFC 3261 §20.15): type/subtype *(; param). */
struct sip_ctype {
	struct slice raw;
	struct slice type;
	struct slice subtype;
	struct slice params; /* without the leading ';' */
};

/* Authorization, Proxy-Authorization, WWW-Authenticate,
 * Proxy-Authenticate (RFC 3261 §20.7, §20.27, §20.28, §20.44; RFC 7616). */
struct sip_auth {
	struct slice scheme; /* "Digest", as written */
	struct slice params; /* raw auth-params after the scheme */
};

struct sip_event {            /* RFC 6665 §8.2.1 */
	struct slice package; /* event-type, e.g. "message-summary" */
	struct slice id;      /* id=..., absent if none */
	struct slice params;
};

struct sip_substate {       /* RFC 6665 §8.2.3 */
	struct slice state; /* active, pending, terminated, or other */
	struct slice reason;
	bool has_expires;
	uint32_t expires;
	bool has_retry_after;
	uint32_t retry_after;
	struct slice params;
};

/* Call-Info (RFC 3261 §20.9); Cisco's
 * "Call-Info: <urn:x-cisco-remotecc:callinfo>; security=Encrypted". */
struct sip_callinfo {
	struct slice uri;      /* inside <>, as written */
	struct slice params;   /* without the leading ';' */
	struct slice purpose;  /* purpose=..., absent if none */
	struct slice security; /* security=... (Cisco), absent if none */
};

/* One header field in message order (unknown ones included). */
struct sip_hdr {
	enum sip_hdr_id id;
	struct slice name;  /* as written ("v", "VIA") */
	struct slice value; /* raw value, trimmed, folds still inside */
};

/* Iterator over every value of a header: across all its lines and, for
 * list headers (Via, Contact, Route, Supported, Allow...), across the
 * comma-separated values of each line (commas inside quoted strings and
 * <> do not split). Initialise with sip_msg_iter/sip_msg_iter_name; the
 * fields are private. */
struct sip_iter {
	struct sip_msg *m;
	enum sip_hdr_id id;
	struct slice name;
	bool split;
	size_t hdr;        /* next header index to look at */
	struct slice rest; /* what is left of the current header */
	size_t count;
};

/* Result of stream framing (sip_framer_feed / sip_frame); the values are
 * those of the net layer's framer callback (MORE, MSG, KEEPALIVE). */
enum sip_frame_kind {
	SIP_FRAME_NEED_MORE = 0, /* keep the bytes, call again with more */
	SIP_FRAME_MESSAGE = 1,   /* *n bytes are one message: parse them */
	/* *n bytes of keepalive, to consume. RFC 5626 §3.5.1: *n == 4 is a
	 * CRLFCRLF "ping", answered with one CRLF "pong"; *n == 2 is a lone
	 * CRLF (a pong, or a stray line end between messages, RFC 3261
	 * §7.5): nothing to answer. */
	SIP_FRAME_KEEPALIVE = 2,
};

/* Resumable stream framer for TCP/TLS. Embed it per connection; the fields
 * are private. */
struct sip_framer {
	size_t max;      /* largest message accepted */
	size_t scanned;  /* bytes already searched for the end of head */
	size_t head_len; /* 0 until the empty line was found */
	size_t body_len;
};

/* ---- parsing ---- */

int sip_msg_new(struct sip_msg **out) TL_MUST_CHECK;
void sip_msg_free(struct sip_msg *m);

/* Parse len bytes at p (at most SIP_MSG_MAX_SIZE). Leading CRLFs are
 * skipped (RFC 3261 §7.5). Returns 0, or -TL_EPARSE / -TL_ETOOBIG /
 * -TL_EDUP / -TL_ETRUNC (header block without its empty line) / -TL_ETRAIL
 * (stream mode: bytes after the body) with sip_msg_error() naming the
 * problem. What was parsed before the error stays readable, see
 * sip_msg_can_answer().
 *
 * Checks made here: start line (RFC 3261 §7.1, §7.2: one SP between the
 * elements, SIP/2.0, 3-digit status), header syntax and limits, a single
 * Call-ID/CSeq/From/To/Max-Forwards/Content-Length/Content-Type (RFC 4475
 * §3.3.8, §3.3.9), requests need Via, From, To, Call-ID, CSeq and a CSeq
 * method equal to the request method (RFC 3261 §8.1.1, §8.2.2.3);
 * responses need Via, From, To, Call-ID, CSeq. Max-Forwards is optional
 * (RFC 2543 peers, RFC 4475 §3.4.1) but must be <= 255 when present. */
int sip_msg_parse(struct sip_msg *m, const uint8_t *p, size_t len,
                  enum sip_mode mode) TL_MUST_CHECK;

/* After a failed parse: a short static reason for "400 <reason>" (e.g.
 * "Bad CSeq", "Missing Call-ID", "Content-Length mismatch"), or NULL after
 * a successful parse. */
const char *sip_msg_error(const struct sip_msg *m);
/* After a failed parse: the status to answer with (400, 505 for a SIP
 * version other than 2.0, 513 for a message over the size limits, 0 when
 * the message cannot be answered). */
uint16_t sip_msg_error_status(const struct sip_msg *m);
/* True when the message is a request and the request line, the top Via,
 * From, To, Call-ID and CSeq parsed, so that sip_build_response() can
 * answer it (with sip_msg_error_status() and sip_msg_error()) even though
 * sip_msg_parse() failed. False for responses: malformed responses are
 * dropped. */
bool sip_msg_can_answer(const struct sip_msg *m);

/* ---- start line ---- */

bool sip_msg_is_request(const struct sip_msg *m);
/* The exact bytes parsed (after skipped leading CRLFs). */
struct slice sip_msg_raw(const struct sip_msg *m);
enum sip_method sip_msg_method(const struct sip_msg *m);
struct slice sip_msg_method_name(const struct sip_msg *m);
/* Request-URI (requests only; NULL otherwise). */
const struct sip_uri *sip_msg_ruri(const struct sip_msg *m);
uint16_t sip_msg_status(const struct sip_msg *m);     /* responses; else 0 */
struct slice sip_msg_reason(const struct sip_msg *m); /* may be empty */

/* ---- framing headers (parsed at once) ---- */

const struct sip_via *sip_msg_via(const struct sip_msg *m); /* top Via */
const struct sip_addr *sip_msg_from(const struct sip_msg *m);
const struct sip_addr *sip_msg_to(const struct sip_msg *m);
struct slice sip_msg_call_id(const struct sip_msg *m);
const struct sip_cseq *sip_msg_cseq(const struct sip_msg *m);
/* 0..255, or -TL_ENOTFOUND when absent. */
int sip_msg_max_forwards(const struct sip_msg *m);
/* Content-Type, NULL when absent. */
const struct sip_ctype *sip_msg_ctype(const struct sip_msg *m);
/* The body (empty, never absent, after a successful parse). Its length is
 * the Content-Length (or the rest of the datagram without one). */
struct slice sip_msg_body(const struct sip_msg *m);
bool sip_msg_has_content_length(const struct sip_msg *m);

/* ---- generic header access ---- */

size_t sip_msg_hdr_count(const struct sip_msg *m);
/* i < sip_msg_hdr_count(); returns 0 or -TL_ENOTFOUND. */
int sip_msg_hdr(const struct sip_msg *m, size_t i,
                struct sip_hdr *out) TL_MUST_CHECK;
/* Number of header lines with this id (for SIP_HDR_OTHER use
 * sip_msg_hdr_lines_name). */
size_t sip_msg_hdr_lines(const struct sip_msg *m, enum sip_hdr_id id);
size_t sip_msg_hdr_lines_name(const struct sip_msg *m, struct slice name);
/* Raw value of the first line with this id / name. */
int sip_msg_hdr_first(const struct sip_msg *m, enum sip_hdr_id id,
                      struct slice *value) TL_MUST_CHECK;
int sip_msg_hdr_first_name(const struct sip_msg *m, struct slice name,
                           struct slice *value) TL_MUST_CHECK;

/* Iterate every value of a known header (list headers split at commas). */
void sip_msg_iter(struct sip_iter *it, struct sip_msg *m, enum sip_hdr_id id);
/* The same by name (compact forms of known names work too); split chooses
 * whether commas separate values for an unknown header. */
void sip_msg_iter_name(struct sip_iter *it, struct sip_msg *m,
                       struct slice name, bool split);
/* Next raw value, trimmed. 1, 0 at the end, or a negative error (an empty
 * element "a,,b", an unbalanced quote or <>, over SIP_MSG_MAX_VALUES). */
int sip_iter_next(struct sip_iter *it, struct slice *value) TL_MUST_CHECK;

/* ---- typed iterators (init with sip_msg_iter and the matching id) ---- */

/* Via values, top first. */
int sip_iter_via(struct sip_iter *it, struct sip_via *v) TL_MUST_CHECK;
/* Contact (SIP_HDR_CONTACT), including "*". */
int sip_iter_contact(struct sip_iter *it, struct sip_contact *c) TL_MUST_CHECK;
/* Any name-addr list header: Route, Record-Route, Path, Service-Route,
 * Reply-To, Refer-To, Referred-By, P-Asserted-Identity... */
int sip_iter_addr(struct sip_iter *it, struct sip_addr *a) TL_MUST_CHECK;
/* Authorization and friends: one value per header line. The scheme is
 * checked here, the auth-params as they are read. */
int sip_iter_auth(struct sip_iter *it, struct sip_auth *a) TL_MUST_CHECK;
/* Call-Info values. */
int sip_iter_callinfo(struct sip_iter *it,
                      struct sip_callinfo *ci) TL_MUST_CHECK;
/* Option tags (Supported, Require, Proxy-Require, Unsupported), methods
 * (Allow), event types (Allow-Events): one token per value; -TL_EPARSE if
 * a value is not a token. */
int sip_iter_token(struct sip_iter *it, struct slice *tok) TL_MUST_CHECK;

/* ---- lazily parsed single headers ---- */

/* Expires (RFC 3261 §20.19): delta-seconds of at most 10 digits and
 * <= 2^32-1; -TL_ENOTFOUND, -TL_EPARSE (too big or not a number). */
int sip_msg_expires(struct sip_msg *m, uint32_t *out) TL_MUST_CHECK;
/* Min-Expires, Session-Expires (without its refresher param), Min-SE,
 * RSeq: any header whose value starts with delta-seconds. */
int sip_msg_hdr_u32(struct sip_msg *m, enum sip_hdr_id id,
                    uint32_t *out) TL_MUST_CHECK;
int sip_msg_event(struct sip_msg *m, struct sip_event *out) TL_MUST_CHECK;
int sip_msg_substate(struct sip_msg *m, struct sip_substate *out) TL_MUST_CHECK;
/* true when the list header id (Supported, Require, Allow...) names tok
 * (case-insensitive). Malformed headers count as not naming it. */
bool sip_msg_has_token(struct sip_msg *m, enum sip_hdr_id id, const char *tok);
/* The first value of id parsed as a name-addr (Refer-To, Referred-By,
 * P-Asserted-Identity...). */
int sip_msg_addr(struct sip_msg *m, enum sip_hdr_id id,
                 struct sip_addr *out) TL_MUST_CHECK;

/* ---- values parsed on their own ---- */

int sip_via_parse(struct sip_via *v, struct slice s) TL_MUST_CHECK;
/* name-addr / addr-spec with params (RFC 3261 §20.10). */
int sip_addr_parse(struct sip_addr *a, struct slice s) TL_MUST_CHECK;
int sip_contact_parse(struct sip_contact *c, struct slice s) TL_MUST_CHECK;
int sip_auth_parse(struct sip_auth *a, struct slice s) TL_MUST_CHECK;
int sip_ctype_parse(struct sip_ctype *c, struct slice s) TL_MUST_CHECK;

/* Generic ;name[=value] parameter lists (header params, URI params, Via
 * params, Content-Type params). *state starts as the params slice (without
 * the leading ';'); each call returns 1 with name and value (value.p ==
 * NULL when there is no '='; quoted values keep their quotes), 0 at the
 * end, -TL_EPARSE on an empty name or bad quoting. */
int sip_param_next(struct slice *state, struct slice *name,
                   struct slice *value) TL_MUST_CHECK;
/* Find a parameter by name (case-insensitive): 0 or -TL_ENOTFOUND (or
 * -TL_EPARSE for a malformed list). */
int sip_param_get(struct slice params, const char *name,
                  struct slice *value) TL_MUST_CHECK;

/* Auth-params (RFC 7616 §3.3, RFC 3261 §25.1 "auth-param"): comma-
 * separated name=value pairs. *state starts as sip_auth.params. Each call
 * returns 1 with the name and the value: quotes removed when quoted (set
 * *quoted; escapes kept, see sip_unquote), 0 at the end, -TL_EPARSE. */
int sip_auth_param_next(struct slice *state, struct slice *name,
                        struct slice *value, bool *quoted) TL_MUST_CHECK;
int sip_auth_param_get(const struct sip_auth *a, const char *name,
                       struct slice *value, bool *quoted) TL_MUST_CHECK;

/* Resolve quoted-pair escapes (RFC 3261 §25.1: "\" followed by any byte
 * but CR/LF) of a quoted string's inside into dst. -TL_ETOOBIG when dst is
 * too small, -TL_EPARSE on a trailing lone backslash. */
int sip_unquote(struct slice in, uint8_t *dst, size_t dstlen,
                size_t *outlen) TL_MUST_CHECK;

/* ---- names ---- */

enum sip_method sip_method_from(struct slice s); /* case-sensitive */
const char *sip_method_name(enum sip_method m);  /* NULL for OTHER */
enum sip_hdr_id sip_hdr_from(struct slice name); /* long or compact */
const char *sip_hdr_name(enum sip_hdr_id id);    /* long form; NULL: OTHER */
/* Default reason phrase for a status code ("Not Found"), never NULL. */
const char *sip_reason_phrase(uint16_t code);

/* ---- stream framing (TCP/TLS) ---- */

/* max: largest message accepted (0: SIP_MSG_MAX_SIZE). */
void sip_framer_init(struct sip_framer *f, size_t max);
/* p/len: every byte buffered since the start of the current message (the
 * net layer keeps them; it passes the same prefix plus new bytes each
 * time). Returns a sip_frame_kind (>= 0) with *n set for MESSAGE and
 * KEEPALIVE - the caller consumes *n bytes and calls again with what is left,
 * as more than one message may be buffered - or a negative error:
 * -TL_ETOOBIG (header block over SIP_MSG_MAX_HEAD or a message over max),
 * -TL_EPARSE (Content-Length not a number, negative, or two different
 * values: RFC 4475 §3.1.2.3, §3.3.9), after which the connection should be
 * closed. A head without Content-Length is framed alone (no body), so that
 * sip_msg_parse() in stream mode answers it 400 "Missing Content-Length"
 * (RFC 3261 §18.3). Resumes where it stopped: each byte is scanned once. */
int sip_framer_feed(struct sip_framer *f, const uint8_t *p, size_t len,
                    size_t *n) TL_MUST_CHECK;
/* Stateless form of the same (scans from the start every time), shaped as
 * a net-layer "how long is the next frame" callback: returns a
 * sip_frame_kind or a negative error; arg is unused. */
int sip_frame(const uint8_t *p, size_t len, size_t *n, void *arg) TL_MUST_CHECK;

/* ---- building (into a struct buf; errors surface in buf_err) ---- */

/* RFC 3261 §8.2.6: status line, then every Via of req in order, From, To
 * (with ";tag=<to_tag>" appended when the request's To has no tag and
 * to_tag is not empty: leave it empty for 100 Trying, §8.2.6.1), Call-ID,
 * CSeq, all copied as received. reason NULL means sip_reason_phrase(code).
 * req must satisfy sip_msg_can_answer() (returns -TL_ESTATE otherwise)
 * and code must be 100..699 (-TL_EPARSE). Add more headers with
 * sip_build_hdr*, then end with sip_build_end. */
int sip_build_response(struct buf *b, const struct sip_msg *req, uint16_t code,
                       const char *reason, struct slice to_tag) TL_MUST_CHECK;
/* "METHOD request-uri SIP/2.0" start line; the method must be a token and
 * the URI free of whitespace (-TL_EPARSE). */
int sip_build_request(struct buf *b, struct slice method,
                      struct slice ruri) TL_MUST_CHECK;
/* "Name: value" CRLF. -TL_EPARSE if the name is not a token or the value
 * holds CR, LF or NUL (no header injection). */
int sip_build_hdr(struct buf *b, const char *name,
                  struct slice value) TL_MUST_CHECK;
int sip_build_hdrf(struct buf *b, const char *name, const char *fmt,
                   ...) TL_MUST_CHECK __attribute__((format(printf, 3, 4)));
/* Content-Type (when ctype is not empty), Content-Length, the empty line
 * and the body. Returns buf_err(b). */
int sip_build_end(struct buf *b, struct slice ctype,
                  struct slice body) TL_MUST_CHECK;

/* Print a name-addr: ["display" ]<uri>[;params]. */
void sip_addr_print(struct buf *b, const struct sip_addr *a);

#endif
