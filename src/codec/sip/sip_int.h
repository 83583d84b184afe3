/* Private to src/codec/sip: character classes, scanners and the message
 * structure shared by the files of the SIP codec. */
#ifndef TL_SIP_INT_H
#define TL_SIP_INT_H

#include "codec/sip/sip_msg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	C_TOKEN = 1u << 0,
	C_UNRES = 1u << 1,
	C_USER = 1u << 2,
	C_PASS = 1u << 3,
	C_PARAM = 1u << 4,
	C_HNV = 1u << 5,
	C_WORD = 1u << 6,
	C_DIGIT = 1u << 7,
	C_HEX = 1u << 8,
	C_ALPHA = 1u << 9,
	C_SCHEME = 1u << 10,
	C_LWS = 1u << 11,
	C_HOST = 1u << 12,
	C_QSPEC = 1u << 13,
	C_SPLIT = 1u << 14,
};

/* Character classes of RFC 3261 §25.1, one bit each (sip_lex.c). */
extern const uint16_t sip_cc[256];

static inline bool sip_is(uint8_t c, uint16_t cls)
{
	return (sip_cc[c] & cls) != 0;
}

static inline uint8_t sip_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Largest number of digits read for any number (leading zeros included). */
#define SIP_MAX_DIGITS 20

/* A scanner over one header value: p..end. Folds (CRLF WSP) were checked
 * when the header was located, so CR and LF count as white space here. */
struct sip_scan {
	const uint8_t *p;
	const uint8_t *end;
};

static inline void sip_scan_init(struct sip_scan *s, struct slice v)
{
	s->p = v.p;
	s->end = v.p + v.len;
}

static inline bool sip_scan_eof(const struct sip_scan *s)
{
	return s->p >= s->end;
}

/* Skip linear white space; true if any was skipped. */
static inline bool sip_scan_lws(struct sip_scan *s)
{
	const uint8_t *start = s->p;

	while (s->p < s->end && sip_is(*s->p, C_LWS)) {
		s->p++;
	}
	return s->p != start;
}

/* A run of bytes of class cls (may be empty). */
static inline struct slice sip_scan_run(struct sip_scan *s, uint16_t cls)
{
	const uint8_t *start = s->p;

	/* four at a time first: one bound check for four bytes */
	while (s->end - s->p >= 4 && sip_is(s->p[0], cls) &&
	       sip_is(s->p[1], cls) && sip_is(s->p[2], cls) &&
	       sip_is(s->p[3], cls)) {
		s->p += 4;
	}
	while (s->p < s->end && sip_is(*s->p, cls)) {
		s->p++;
	}
	return (struct slice){start, (size_t)(s->p - start)};
}

/* Consume byte c after optional LWS on both sides (SEMI, EQUAL, COMMA,
 * SLASH, COLON of RFC 3261 §25.1). */
static inline bool sip_scan_sep(struct sip_scan *s, uint8_t c)
{
	const uint8_t *save = s->p;

	sip_scan_lws(s);
	if (s->p < s->end && *s->p == c) {
		s->p++;
		sip_scan_lws(s);
		return true;
	}
	s->p = save;
	return false;
}

/* ASCII case-insensitive equality of n bytes of a with the lower-case
 * bytes lc (inline: it runs for every header name and parameter). */
static inline bool sip_eq_lower(const uint8_t *a, const char *lc, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (sip_lower(a[i]) != (uint8_t)lc[i]) {
			return false;
		}
	}
	return true;
}

/* Comparison with a lower-case literal, without strlen. */
#define SIP_LIT_EQ(sl, lit)                                                    \
	((sl).len == sizeof(lit) - 1 &&                                        \
	 sip_eq_lower((sl).p, lit, sizeof(lit) - 1))

/* A quoted-string starting at '"': sets *inner to the bytes between the
 * quotes (escapes kept). -TL_EPARSE if unterminated or a quoted-pair
 * escapes CR/LF. */
int sip_scan_quoted(struct sip_scan *s, struct slice *inner) TL_MUST_CHECK;

/* Parse a decimal of at most SIP_MAX_DIGITS digits whose value is <= max:
 * the whole slice. */
int sip_num(struct slice s, uint64_t max, uint64_t *out) TL_MUST_CHECK;
/* A host (hostname, IPv4, [IPv6]) at the start of s; sets the slice (IPv6
 * without brackets), its type and the bytes consumed. */
int sip_host_scan(const uint8_t *p, size_t len, struct slice *host,
                  enum sip_host_type *type, size_t *used) TL_MUST_CHECK;
/* One param at s (after its ';'): name [= value]; value.p == NULL
 * without '='. Quoted values keep their quotes. */
int sip_param_one(struct sip_scan *s, struct slice *name,
                  struct slice *value) TL_MUST_CHECK;
/* Params "name[=value]" after the first ';' of a Via, URI or header
 * value: the params slice, ended by ',' or the end of the value. The
 * scanner is left after the list. */
int sip_scan_params(struct sip_scan *s, struct slice *params) TL_MUST_CHECK;

static inline struct slice sip_sl(const uint8_t *a, const uint8_t *b)
{
	return (struct slice){a, (size_t)(b - a)};
}

/* Header table entry (offsets into the message: it is at most 64 KiB). */
struct sip_hent {
	uint16_t name_off;
	uint16_t name_len;
	uint16_t val_off;
	uint16_t val_len;
	uint8_t id;
	uint8_t next; /* next header with the same id, or SIP_NO_HDR */
};

#define SIP_NO_HDR 0xff

/* Bits of struct sip_msg.ok: what parsed. */
enum {
	SIP_OK_START = 1u << 0, /* request line split: method known */
	SIP_OK_VIA = 1u << 1,
	SIP_OK_FROM = 1u << 2,
	SIP_OK_TO = 1u << 3,
	SIP_OK_CALLID = 1u << 4,
	SIP_OK_CSEQ = 1u << 5,
	SIP_OK_RURI = 1u << 6,
};

struct sip_msg {
	const uint8_t *p; /* start of the message (after leading CRLFs) */
	size_t len;
	enum sip_mode mode;
	const char *err;
	int err_rc;
	uint16_t err_status;
	uint32_t ok;
	bool parsed;
	bool is_req;

	enum sip_method method;
	struct slice method_s;
	struct slice ruri_raw;
	uint16_t status;
	struct slice reason;

	size_t nhdrs;
	uint8_t first[SIP_HDR__COUNT];
	uint8_t last[SIP_HDR__COUNT];
	uint8_t count[SIP_HDR__COUNT];

	struct slice call_id;
	int max_fwd;
	bool has_ctype;
	bool has_cl;
	size_t clen;
	struct slice body;

	/* lazy cache */
	bool exp_done;
	int exp_rc;
	uint32_t exp_val;

	/* From here on nothing is cleared by a new parse: each struct is
	 * written whole by its parser and read only when its SIP_OK_* bit
	 * (or has_ctype) says it parsed. */
	struct sip_uri ruri;
	struct sip_via via;
	struct sip_addr from;
	struct sip_addr to;
	struct sip_cseq cseq;
	struct sip_ctype ctype;
	/* only the first nhdrs entries are ever read */
	struct sip_hent h[SIP_MSG_MAX_HDRS];
};

struct slice sip_msg_hname(const struct sip_msg *m, size_t i);
struct slice sip_msg_hval(const struct sip_msg *m, size_t i);
/* sip_hdr_from() for a name already known to be a token. */
enum sip_hdr_id sip_hdr_lookup_tok(const uint8_t *p, size_t len);
/* True if values of this header are comma-separated lists. */
bool sip_hdr_is_list(enum sip_hdr_id id);

/* Scanners of one list value: they stop before the ',' (or the end)
 * that follows it (sip_val.c). */
int sip_via_scan(struct sip_via *v, struct sip_scan *sc) TL_MUST_CHECK;
int sip_addr_scan(struct sip_addr *a, struct sip_scan *sc,
                  struct sip_contact *c) TL_MUST_CHECK;
int sip_contact_scan(struct sip_contact *c, struct sip_scan *sc) TL_MUST_CHECK;

/* Typed values without a public parser of their own (sip_val.c). */
int sip_event_parse_int(struct sip_event *e, struct slice s) TL_MUST_CHECK;
int sip_substate_parse_int(struct sip_substate *ss,
                           struct slice s) TL_MUST_CHECK;
int sip_callinfo_parse_int(struct sip_callinfo *ci,
                           struct slice s) TL_MUST_CHECK;

#endif
