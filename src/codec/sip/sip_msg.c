/* SIP message parser (RFC 3261 §7, §18.3, §25): start line, header
 * location, framing headers; header iteration and lazy accessors. */
#include "codec/sip/sip_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

int sip_msg_new(struct sip_msg **out)
{
	struct sip_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		return -ENOMEM;
	}
	memset(m->first, SIP_NO_HDR, sizeof(m->first));
	*out = m;
	return 0;
}

void sip_msg_free(struct sip_msg *m)
{
	free(m);
}

/* Remember the first failure only: it names the problem to answer. */
static int fail(struct sip_msg *m, int rc, const char *why, uint16_t status)
{
	if (m->err == NULL) {
		m->err = why;
		m->err_rc = rc;
		m->err_status = status;
	}
	return rc;
}

struct slice sip_msg_hname(const struct sip_msg *m, size_t i)
{
	return (struct slice){m->p + m->h[i].name_off, m->h[i].name_len};
}

struct slice sip_msg_hval(const struct sip_msg *m, size_t i)
{
	return (struct slice){m->p + m->h[i].val_off, m->h[i].val_len};
}

static bool is_sip20(struct slice v)
{
	return v.len == 7 && slice_eq_nocase(v, SLICE_LIT("SIP/2.0"));
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT (RFC 3261 §25.1) */
static bool is_sip_version(struct slice v)
{
	size_t i = 4, d1 = 0, d2 = 0;

	if (v.len < 7 || v.len > 16 ||
	    !slice_eq_nocase((struct slice){v.p, 4}, SLICE_LIT("SIP/"))) {
		return false;
	}
	while (i < v.len && sip_is(v.p[i], C_DIGIT)) {
		i++;
		d1++;
	}
	if (i >= v.len || v.p[i] != '.') {
		return false;
	}
	i++;
	while (i < v.len && sip_is(v.p[i], C_DIGIT)) {
		i++;
		d2++;
	}
	return i == v.len && d1 > 0 && d2 > 0;
}

/* RFC 3261 §7.2: Status-Line = SIP-Version SP Status-Code SP
 * Reason-Phrase CRLF */
static int parse_status_line(struct sip_msg *m, struct slice line)
{
	const uint8_t *sp = memchr(line.p, ' ', line.len);
	struct slice ver, code;
	uint64_t st;

	m->is_req = false;
	if (sp == NULL) {
		return fail(m, -TL_EPARSE, "Bad Status-Line", 0);
	}
	ver = sip_sl(line.p, sp);
	if (!is_sip20(ver)) {
		return fail(m, -TL_EPARSE, "Version Not Supported", 0);
	}
	if ((size_t)(line.p + line.len - sp) < 5 || sp[4] != ' ') {
		return fail(m, -TL_EPARSE, "Bad Status-Code", 0);
	}
	code = (struct slice){sp + 1, 3};
	if (sip_num(code, 699, &st) < 0 || st < 100) {
		return fail(m, -TL_EPARSE, "Bad Status-Code", 0);
	}
	m->status = (uint16_t)st;
	m->reason = sip_sl(sp + 5, line.p + line.len);
	return 0;
}

/* RFC 3261 §7.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF
 * with exactly one SP between the elements (RFC 4475 §3.1.2.9). */
static int parse_request_line(struct sip_msg *m, struct slice line)
{
	const uint8_t *sp1 = memchr(line.p, ' ', line.len);
	const uint8_t *sp2 = memrchr(line.p, ' ', line.len);
	struct slice ver, uri;
	int rc;

	m->is_req = true;
	if (sp1 == NULL || sp1 == line.p) {
		return fail(m, -TL_EPARSE, "Bad Request-Line", 400);
	}
	m->method_s = sip_sl(line.p, sp1);
	for (size_t i = 0; i < m->method_s.len; i++) {
		if (!sip_is(m->method_s.p[i], C_TOKEN)) {
			m->method_s = SLICE_NULL;
			return fail(m, -TL_EPARSE, "Bad Request-Line", 400);
		}
	}
	m->method = sip_method_from(m->method_s);
	m->ok |= SIP_OK_START;
	if (sp2 == sp1) {
		return fail(m, -TL_EPARSE, "Bad Request-Line", 400);
	}
	ver = sip_sl(sp2 + 1, line.p + line.len);
	if (!is_sip20(ver)) {
		if (is_sip_version(ver)) {
			return fail(m, -TL_EPARSE, "Version Not Supported",
			            505);
		}
		return fail(m, -TL_EPARSE, "Bad Request-Line", 400);
	}
	uri = sip_sl(sp1 + 1, sp2);
	if (uri.len == 0 || memchr(uri.p, ' ', uri.len) != NULL) {
		return fail(m, -TL_EPARSE, "Bad Request-Line", 400);
	}
	m->ruri_raw = uri;
	rc = sip_uri_parse(&m->ruri, uri.p, uri.len);
	if (rc == -TL_ETOOBIG) {
		return fail(m, rc, "Request-URI Too Long", 414);
	}
	/* RFC 3261 §19.1.1: headers are not allowed in a Request-URI
	 * (RFC 4475 §3.1.2.11) */
	if (rc < 0 || m->ruri.headers.p != NULL) {
		return fail(m, -TL_EPARSE, "Bad Request-URI", 400);
	}
	m->ok |= SIP_OK_RURI;
	return 0;
}

static int add_header(struct sip_msg *m, struct slice name, struct slice val)
{
	struct sip_hent *e;
	enum sip_hdr_id id;
	size_t i = m->nhdrs;

	if (i >= SIP_MSG_MAX_HDRS) {
		return fail(m, -TL_ETOOBIG, "Too many headers", 513);
	}
	id = sip_hdr_lookup_tok(name.p, name.len);
	e = &m->h[i];
	e->name_off = (uint16_t)(name.p - m->p);
	e->name_len = (uint16_t)name.len;
	e->val_off = (uint16_t)(val.p - m->p);
	e->val_len = (uint16_t)val.len;
	e->id = (uint8_t)id;
	e->next = SIP_NO_HDR;
	if (m->first[id] == SIP_NO_HDR) {
		m->first[id] = (uint8_t)i;
	} else {
		m->h[m->last[id]].next = (uint8_t)i;
	}
	m->last[id] = (uint8_t)i;
	if (m->count[id] < 255) {
		m->count[id]++;
	}
	m->nhdrs = i + 1;
	return 0;
}

/* The first CR or LF in [p, end), or end. Eight bytes at a time: a
 * header line is short, and a library call per line costs more than the
 * scan (the classic "has a zero byte" test, on bytes xor CR and xor LF;
 * its lowest flagged byte is exact). */
static const uint8_t *find_eol(const uint8_t *p, const uint8_t *end)
{
	static const uint64_t ones = 0x0101010101010101ull;
	static const uint64_t highs = 0x8080808080808080ull;

	/* the lowest flagged byte is the first in memory on little-endian
	 * machines only */
	while (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && end - p >= 8) {
		uint64_t v, a, b, hit;

		memcpy(&v, p, 8);
		a = v ^ (ones * '\r');
		b = v ^ (ones * '\n');
		hit = ((a - ones) & ~a & highs) | ((b - ones) & ~b & highs);
		if (hit != 0) {
			return p + (__builtin_ctzll(hit) >> 3);
		}
		p += 8;
	}
	while (p < end && *p != '\r' && *p != '\n') {
		p++;
	}
	return p;
}

/* Locate every header field: name, ':' and the raw value up to the CRLF
 * not followed by white space (RFC 3261 §7.3.1 folding). *body is set
 * after the empty line. */
static int locate_headers(struct sip_msg *m, const uint8_t *p,
                          const uint8_t *end, const uint8_t **body)
{
	while (p < end) {
		const uint8_t *ns = p, *vs, *q, *cr, *ve;
		struct slice name;
		int rc;

		if (*p == '\r') {
			if (p + 1 >= end || p[1] != '\n') {
				return fail(m, -TL_EPARSE, "Bad line ending",
				            400);
			}
			*body = p + 2;
			return 0;
		}
		{
			struct sip_scan sc = {p, end};

			name = sip_scan_run(&sc, C_TOKEN);
			p = sc.p;
		}
		while (p < end && (*p == ' ' || *p == '\t')) {
			p++;
		}
		if (p >= end) {
			return fail(m, -TL_ETRUNC, "Truncated header", 400);
		}
		if (name.len == 0 || *p != ':') {
			return fail(m, -TL_EPARSE, "Bad header", 400);
		}
		vs = ++p;
		q = p;
		for (;;) {
			cr = find_eol(q, end);
			if (cr == end) {
				return fail(m, -TL_ETRUNC, "Truncated header",
				            400);
			}
			/* a bare LF, or a CR not followed by LF */
			if (*cr != '\r' || cr + 1 >= end || cr[1] != '\n') {
				return fail(m, -TL_EPARSE, "Bad line ending",
				            400);
			}
			if ((size_t)(cr - ns) > SIP_MSG_MAX_LINE) {
				return fail(m, -TL_ETOOBIG, "Header too long",
				            513);
			}
			if (cr + 2 < end && (cr[2] == ' ' || cr[2] == '\t')) {
				q = cr + 3;
				continue;
			}
			break;
		}
		ve = cr;
		while (vs < ve && sip_is(*vs, C_LWS)) {
			vs++;
		}
		/* trailing white space, a trailing fold's CRLF included */
		while (ve > vs && sip_is(ve[-1], C_LWS)) {
			ve--;
		}
		rc = add_header(m, name, sip_sl(vs, ve));
		if (rc < 0) {
			return rc;
		}
		p = cr + 2;
	}
	return fail(m, -TL_ETRUNC, "Missing empty line", 400);
}

/* callid = word [ "@" word ] (RFC 3261 §25.1) */
static bool callid_ok(struct slice s)
{
	struct sip_scan sc;

	sip_scan_init(&sc, s);
	if (sip_scan_run(&sc, C_WORD).len == 0) {
		return false;
	}
	if (!sip_scan_eof(&sc) && *sc.p == '@') {
		sc.p++;
		if (sip_scan_run(&sc, C_WORD).len == 0) {
			return false;
		}
	}
	return sip_scan_eof(&sc);
}

/* CSeq = 1*DIGIT LWS Method (RFC 3261 §20.16) */
static int cseq_parse(struct sip_cseq *c, struct slice s)
{
	struct sip_scan sc;
	struct slice num;
	uint64_t v;

	sip_scan_init(&sc, s);
	num = sip_scan_run(&sc, C_DIGIT);
	if (sip_num(num, UINT32_MAX, &v) < 0 || !sip_scan_lws(&sc)) {
		return -TL_EPARSE;
	}
	c->num = (uint32_t)v;
	c->method_s = sip_scan_run(&sc, C_TOKEN);
	if (c->method_s.len == 0 || !sip_scan_eof(&sc)) {
		return -TL_EPARSE;
	}
	c->method = sip_method_from(c->method_s);
	return 0;
}

/* The first value of a single header; -TL_EDUP when it appears twice
 * (RFC 4475 §3.3.8). */
static int single(struct sip_msg *m, enum sip_hdr_id id, struct slice *v)
{
	if (m->count[id] == 0) {
		return -TL_ENOTFOUND;
	}
	*v = sip_msg_hval(m, m->first[id]);
	return m->count[id] > 1 ? -TL_EDUP : 0;
}

static void parse_framing(struct sip_msg *m)
{
	struct sip_iter it;
	struct slice v;
	int rc;

	/* Via: only the top value now; the rest on iteration */
	sip_msg_iter(&it, m, SIP_HDR_VIA);
	rc = sip_iter_via(&it, &m->via);
	if (rc == 0) {
		fail(m, -TL_EPARSE, "Missing Via", 400);
	} else if (rc < 0) {
		fail(m, -TL_EPARSE, "Bad Via", 400);
	} else {
		m->ok |= SIP_OK_VIA;
	}

	rc = single(m, SIP_HDR_FROM, &v);
	if (rc == -TL_ENOTFOUND) {
		fail(m, -TL_EPARSE, "Missing From", 400);
	} else if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate From", 400);
	} else if (sip_addr_parse(&m->from, v) < 0) {
		fail(m, -TL_EPARSE, "Bad From", 400);
	} else {
		m->ok |= SIP_OK_FROM;
	}

	rc = single(m, SIP_HDR_TO, &v);
	if (rc == -TL_ENOTFOUND) {
		fail(m, -TL_EPARSE, "Missing To", 400);
	} else if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate To", 400);
	} else if (sip_addr_parse(&m->to, v) < 0) {
		fail(m, -TL_EPARSE, "Bad To", 400);
	} else {
		m->ok |= SIP_OK_TO;
	}

	rc = single(m, SIP_HDR_CALL_ID, &v);
	if (rc == -TL_ENOTFOUND) {
		fail(m, -TL_EPARSE, "Missing Call-ID", 400);
	} else if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate Call-ID", 400);
	} else if (!callid_ok(v)) {
		fail(m, -TL_EPARSE, "Bad Call-ID", 400);
	} else {
		m->call_id = v;
		m->ok |= SIP_OK_CALLID;
	}

	rc = single(m, SIP_HDR_CSEQ, &v);
	if (rc == -TL_ENOTFOUND) {
		fail(m, -TL_EPARSE, "Missing CSeq", 400);
	} else if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate CSeq", 400);
	} else if (cseq_parse(&m->cseq, v) < 0) {
		fail(m, -TL_EPARSE, "Bad CSeq", 400);
	} else {
		m->ok |= SIP_OK_CSEQ;
		/* RFC 3261 §8.1.1.5: the CSeq method matches the request's
		 * (RFC 4475 §3.1.2.17) */
		if (m->is_req && m->method_s.p != NULL &&
		    !slice_eq(m->cseq.method_s, m->method_s)) {
			fail(m, -TL_EPARSE, "CSeq method mismatch", 400);
		}
	}

	m->max_fwd = -TL_ENOTFOUND;
	rc = single(m, SIP_HDR_MAX_FORWARDS, &v);
	if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate Max-Forwards", 400);
	} else if (rc == 0) {
		uint64_t mf;

		if (sip_num(v, 255, &mf) < 0) {
			fail(m, -TL_EPARSE, "Bad Max-Forwards", 400);
		} else {
			m->max_fwd = (int)mf;
		}
	}

	rc = single(m, SIP_HDR_CONTENT_TYPE, &v);
	if (rc == -TL_EDUP) {
		fail(m, rc, "Duplicate Content-Type", 400);
	} else if (rc == 0) {
		if (sip_ctype_parse(&m->ctype, v) < 0) {
			fail(m, -TL_EPARSE, "Bad Content-Type", 400);
		} else {
			m->has_ctype = true;
		}
	}
}

/* Content-Length: every line must carry the same number (RFC 4475
 * §3.3.9: never pick one of two different values). */
static int parse_clen(struct sip_msg *m)
{
	uint8_t i = m->first[SIP_HDR_CONTENT_LENGTH];
	bool have = false;
	uint64_t first = 0;

	for (; i != SIP_NO_HDR; i = m->h[i].next) {
		uint64_t v;

		if (sip_num(sip_msg_hval(m, i), UINT32_MAX, &v) < 0) {
			return fail(m, -TL_EPARSE, "Bad Content-Length", 400);
		}
		if (have && v != first) {
			return fail(m, -TL_EDUP, "Conflicting Content-Length",
			            400);
		}
		have = true;
		first = v;
	}
	m->has_cl = have;
	m->clen = (size_t)first;
	return 0;
}

static void reset(struct sip_msg *m)
{
	memset(m, 0, offsetof(struct sip_msg, ruri));
	memset(m->first, SIP_NO_HDR, sizeof(m->first));
	m->max_fwd = -TL_ENOTFOUND;
}

int sip_msg_parse(struct sip_msg *m, const uint8_t *p, size_t len,
                  enum sip_mode mode)
{
	const uint8_t *end, *eol, *body = NULL;
	size_t avail;
	struct slice line;
	int rc;

	reset(m);
	m->mode = mode;
	m->parsed = true;
	if (p == NULL || len == 0) {
		return fail(m, -TL_ETRUNC, "Empty message", 0);
	}
	if (len > SIP_MSG_MAX_SIZE) {
		return fail(m, -TL_ETOOBIG, "Message too large", 513);
	}
	end = p + len;
	/* RFC 3261 §7.5: ignore CRLFs before the start line */
	while (end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
		p += 2;
	}
	m->p = p;
	m->len = (size_t)(end - p);
	eol = memchr(p, '\r', (size_t)(end - p));
	if (eol == NULL || eol + 1 >= end || eol[1] != '\n') {
		return fail(m, eol ? -TL_EPARSE : -TL_ETRUNC, "Bad start line",
		            0);
	}
	line = sip_sl(p, eol);
	if ((size_t)(eol - p) > SIP_MSG_MAX_LINE) {
		return fail(m, -TL_ETOOBIG, "Start line too long", 0);
	}
	if (line.len == 0 || memchr(line.p, '\n', line.len) != NULL ||
	    memchr(line.p, 0, line.len) != NULL) {
		return fail(m, -TL_EPARSE, "Bad start line", 0);
	}
	if (line.len >= 4 &&
	    slice_eq_nocase((struct slice){p, 4}, SLICE_LIT("SIP/"))) {
		rc = parse_status_line(m, line);
	} else {
		rc = parse_request_line(m, line);
	}
	/* go on after a bad request line: enough may parse to answer 400 */
	if (rc < 0 && !(m->ok & SIP_OK_START)) {
		return rc;
	}
	rc = locate_headers(m, eol + 2, end, &body);
	if (body != NULL && (size_t)(body - p) > SIP_MSG_MAX_HEAD) {
		fail(m, -TL_ETOOBIG, "Headers too long", 513);
	}
	/* a NUL may appear in a header only as a quoted-pair (RFC 3261
	 * §25.1); RFC 4475 §3.1.1.2 */
	{
		const uint8_t *hs = eol + 2;
		const uint8_t *he = body ? body : end;
		const uint8_t *z;

		while (hs < he && (z = memchr(hs, 0, (size_t)(he - hs)))) {
			if (z[-1] != '\\') {
				fail(m, -TL_EPARSE, "NUL in header", 400);
				break;
			}
			hs = z + 1;
		}
	}
	parse_framing(m);
	if (body == NULL) {
		return m->err_rc;
	}
	rc = parse_clen(m);
	if (rc < 0) {
		return m->err_rc;
	}
	avail = (size_t)(end - body);
	if (mode == SIP_MODE_STREAM) {
		/* RFC 3261 §18.3: Content-Length is mandatory on streams */
		if (!m->has_cl) {
			fail(m, -TL_EPARSE, "Missing Content-Length", 400);
		} else if (m->clen > avail) {
			fail(m, -TL_ETRUNC, "Content-Length mismatch", 400);
		} else if (m->clen < avail) {
			fail(m, -TL_ETRAIL, "Content-Length mismatch", 400);
		}
	} else if (m->has_cl && m->clen > avail) {
		/* RFC 3261 §18.3: larger than the datagram: 400 */
		fail(m, -TL_EPARSE, "Content-Length mismatch", 400);
	}
	if (m->has_cl && m->clen <= avail) {
		m->body = (struct slice){body, m->clen};
	} else if (!m->has_cl && mode == SIP_MODE_DGRAM) {
		m->body = (struct slice){body, avail};
	} else {
		m->body = (struct slice){body, 0};
	}
	m->len = (size_t)(m->body.p + m->body.len - p);
	return m->err ? m->err_rc : 0;
}

const char *sip_msg_error(const struct sip_msg *m)
{
	return m->err;
}

uint16_t sip_msg_error_status(const struct sip_msg *m)
{
	if (!sip_msg_can_answer(m)) {
		return 0;
	}
	return m->err_status ? m->err_status : (m->err ? 400 : 0);
}

bool sip_msg_can_answer(const struct sip_msg *m)
{
	return m->parsed && m->is_req && (m->ok & SIP_OK_START) &&
	       (m->ok & SIP_OK_VIA) && m->count[SIP_HDR_FROM] > 0 &&
	       m->count[SIP_HDR_TO] > 0 && m->count[SIP_HDR_CALL_ID] > 0 &&
	       m->count[SIP_HDR_CSEQ] > 0;
}

/* ---- start line and framing accessors ---- */

bool sip_msg_is_request(const struct sip_msg *m)
{
	return m->is_req;
}

struct slice sip_msg_raw(const struct sip_msg *m)
{
	return (struct slice){m->p, m->len};
}

enum sip_method sip_msg_method(const struct sip_msg *m)
{
	return m->method;
}

struct slice sip_msg_method_name(const struct sip_msg *m)
{
	return m->method_s;
}

const struct sip_uri *sip_msg_ruri(const struct sip_msg *m)
{
	return (m->ok & SIP_OK_RURI) ? &m->ruri : NULL;
}

uint16_t sip_msg_status(const struct sip_msg *m)
{
	return m->status;
}

struct slice sip_msg_reason(const struct sip_msg *m)
{
	return m->reason;
}

const struct sip_via *sip_msg_via(const struct sip_msg *m)
{
	return (m->ok & SIP_OK_VIA) ? &m->via : NULL;
}

const struct sip_addr *sip_msg_from(const struct sip_msg *m)
{
	return (m->ok & SIP_OK_FROM) ? &m->from : NULL;
}

const struct sip_addr *sip_msg_to(const struct sip_msg *m)
{
	return (m->ok & SIP_OK_TO) ? &m->to : NULL;
}

struct slice sip_msg_call_id(const struct sip_msg *m)
{
	return m->call_id;
}

const struct sip_cseq *sip_msg_cseq(const struct sip_msg *m)
{
	return (m->ok & SIP_OK_CSEQ) ? &m->cseq : NULL;
}

int sip_msg_max_forwards(const struct sip_msg *m)
{
	return m->max_fwd;
}

const struct sip_ctype *sip_msg_ctype(const struct sip_msg *m)
{
	return m->has_ctype ? &m->ctype : NULL;
}

struct slice sip_msg_body(const struct sip_msg *m)
{
	return m->body;
}

bool sip_msg_has_content_length(const struct sip_msg *m)
{
	return m->has_cl;
}

/* ---- generic header access ---- */

size_t sip_msg_hdr_count(const struct sip_msg *m)
{
	return m->nhdrs;
}

int sip_msg_hdr(const struct sip_msg *m, size_t i, struct sip_hdr *out)
{
	if (i >= m->nhdrs) {
		return -TL_ENOTFOUND;
	}
	out->id = (enum sip_hdr_id)m->h[i].id;
	out->name = sip_msg_hname(m, i);
	out->value = sip_msg_hval(m, i);
	return 0;
}

size_t sip_msg_hdr_lines(const struct sip_msg *m, enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR__COUNT) {
		return 0;
	}
	return m->count[id];
}

size_t sip_msg_hdr_lines_name(const struct sip_msg *m, struct slice name)
{
	enum sip_hdr_id id = sip_hdr_from(name);
	size_t n = 0;

	if (id != SIP_HDR_OTHER) {
		return m->count[id];
	}
	for (uint8_t i = m->first[id]; i != SIP_NO_HDR; i = m->h[i].next) {
		if (slice_eq_nocase(sip_msg_hname(m, i), name)) {
			n++;
		}
	}
	return n;
}

int sip_msg_hdr_first(const struct sip_msg *m, enum sip_hdr_id id,
                      struct slice *value)
{
	if ((unsigned)id >= SIP_HDR__COUNT || id == SIP_HDR_OTHER ||
	    m->first[id] == SIP_NO_HDR) {
		return -TL_ENOTFOUND;
	}
	*value = sip_msg_hval(m, m->first[id]);
	return 0;
}

int sip_msg_hdr_first_name(const struct sip_msg *m, struct slice name,
                           struct slice *value)
{
	enum sip_hdr_id id = sip_hdr_from(name);

	if (id != SIP_HDR_OTHER) {
		return sip_msg_hdr_first(m, id, value);
	}
	for (uint8_t i = m->first[id]; i != SIP_NO_HDR; i = m->h[i].next) {
		if (slice_eq_nocase(sip_msg_hname(m, i), name)) {
			*value = sip_msg_hval(m, i);
			return 0;
		}
	}
	return -TL_ENOTFOUND;
}

void sip_msg_iter(struct sip_iter *it, struct sip_msg *m, enum sip_hdr_id id)
{
	memset(it, 0, sizeof(*it));
	it->m = m;
	if ((unsigned)id >= SIP_HDR__COUNT) {
		it->hdr = SIP_NO_HDR;
		return;
	}
	it->id = id;
	it->split = sip_hdr_is_list(id);
	it->hdr = m->first[id];
}

void sip_msg_iter_name(struct sip_iter *it, struct sip_msg *m,
                       struct slice name, bool split)
{
	enum sip_hdr_id id = sip_hdr_from(name);

	sip_msg_iter(it, m, id);
	if (id == SIP_HDR_OTHER) {
		it->name = name;
		it->split = split;
	}
}

static inline bool iter_advance(struct sip_iter *it)
{
	while (it->hdr != SIP_NO_HDR) {
		size_t i = it->hdr;

		it->hdr = it->m->h[i].next;
		if (it->id != SIP_HDR_OTHER ||
		    slice_eq_nocase(sip_msg_hname(it->m, i), it->name)) {
			it->rest = sip_msg_hval(it->m, i);
			return true;
		}
	}
	return false;
}

int sip_iter_next(struct sip_iter *it, struct slice *value)
{
	const uint8_t *q, *e;
	bool inq = false, angle = false;

	for (;;) {
		if (it->rest.p == NULL) {
			if (!iter_advance(it)) {
				return 0;
			}
			if (!it->split) {
				*value = it->rest;
				it->rest = SLICE_NULL;
				break;
			}
			if (it->rest.len == 0) {
				/* an empty list header has no values */
				it->rest = SLICE_NULL;
				continue;
			}
		}
		q = it->rest.p;
		e = q + it->rest.len;
		for (; q < e; q++) {
			uint8_t c;

			/* most bytes are neither quote, bracket nor comma;
			 * inside quotes only '"' and '\\' matter */
			if (inq) {
				while (q < e && !sip_is(*q, C_QSPEC)) {
					q++;
				}
			} else {
				while (q < e && !sip_is(*q, C_SPLIT)) {
					q++;
				}
			}
			if (q >= e) {
				break;
			}
			c = *q;
			if (inq) {
				if (c == '\\') {
					if (++q >= e) {
						return -TL_EPARSE;
					}
				} else if (c == '"') {
					inq = false;
				}
				continue;
			}
			if (c == '"') {
				inq = true;
			} else if (c == '<') {
				if (angle) {
					return -TL_EPARSE;
				}
				angle = true;
			} else if (c == '>') {
				if (!angle) {
					return -TL_EPARSE;
				}
				angle = false;
			} else if (c == ',' && !angle) {
				break;
			}
		}
		if (inq || angle) {
			return -TL_EPARSE;
		}
		*value = slice_trim(sip_sl(it->rest.p, q));
		it->rest = q < e ? sip_sl(q + 1, e) : SLICE_NULL;
		if (value->len == 0) {
			return -TL_EPARSE;
		}
		break;
	}
	if (++it->count > SIP_MSG_MAX_VALUES) {
		return -TL_ETOOBIG;
	}
	return 1;
}

/* Position the iterator on the current value for a direct scan: 1, or 0
 * at the end. */
static inline int iter_cur(struct sip_iter *it)
{
	for (;;) {
		if (it->rest.p == NULL) {
			if (!iter_advance(it)) {
				return 0;
			}
			if (it->split && it->rest.len == 0) {
				/* an empty list header has no values */
				it->rest = SLICE_NULL;
				continue;
			}
		}
		return 1;
	}
}

/* After a directly scanned value: the ',' before the next one, or the
 * end of the header. */
static inline int iter_after(struct sip_iter *it, struct sip_scan *sc)
{
	sip_scan_lws(sc);
	if (sip_scan_eof(sc)) {
		it->rest = SLICE_NULL;
	} else if (it->split && *sc->p == ',') {
		it->rest = sip_sl(sc->p + 1, sc->end);
	} else {
		return -TL_EPARSE;
	}
	if (++it->count > SIP_MSG_MAX_VALUES) {
		return -TL_ETOOBIG;
	}
	return 1;
}

int sip_iter_via(struct sip_iter *it, struct sip_via *v)
{
	struct sip_scan sc;
	int rc = iter_cur(it);

	if (rc <= 0) {
		return rc;
	}
	sip_scan_init(&sc, it->rest);
	rc = sip_via_scan(v, &sc);
	return rc < 0 ? rc : iter_after(it, &sc);
}

int sip_iter_contact(struct sip_iter *it, struct sip_contact *c)
{
	struct sip_scan sc;
	int rc = iter_cur(it);

	if (rc <= 0) {
		return rc;
	}
	sip_scan_init(&sc, it->rest);
	rc = sip_contact_scan(c, &sc);
	if (rc < 0) {
		return rc;
	}
	rc = iter_after(it, &sc);
	if (rc < 0) {
		return rc;
	}
	/* RFC 3261 §10.3 step 6: "*" must be the only Contact value */
	if (c->star &&
	    (it->count > 1 || it->rest.p != NULL || it->hdr != SIP_NO_HDR)) {
		return -TL_EPARSE;
	}
	return 1;
}

int sip_iter_addr(struct sip_iter *it, struct sip_addr *a)
{
	struct sip_scan sc;
	int rc = iter_cur(it);

	if (rc <= 0) {
		return rc;
	}
	sip_scan_init(&sc, it->rest);
	rc = sip_addr_scan(a, &sc, NULL);
	return rc < 0 ? rc : iter_after(it, &sc);
}

int sip_iter_auth(struct sip_iter *it, struct sip_auth *a)
{
	struct slice s;
	int rc = sip_iter_next(it, &s);

	if (rc <= 0) {
		return rc;
	}
	rc = sip_auth_parse(a, s);
	return rc < 0 ? rc : 1;
}

int sip_iter_callinfo(struct sip_iter *it, struct sip_callinfo *ci)
{
	struct slice s;
	int rc = sip_iter_next(it, &s);

	if (rc <= 0) {
		return rc;
	}
	rc = sip_callinfo_parse_int(ci, s);
	return rc < 0 ? rc : 1;
}

int sip_iter_token(struct sip_iter *it, struct slice *tok)
{
	struct sip_scan sc;
	int rc = iter_cur(it);

	if (rc <= 0) {
		return rc;
	}
	/* a list of tokens is cut and checked in one pass */
	sip_scan_init(&sc, it->rest);
	sip_scan_lws(&sc);
	*tok = sip_scan_run(&sc, C_TOKEN);
	if (tok->len == 0) {
		return -TL_EPARSE;
	}
	return iter_after(it, &sc);
}

/* ---- lazily parsed single headers ---- */

/* delta-seconds at the start of a value, up to ';' or white space */
static int first_u32(struct slice v, uint32_t *out)
{
	struct sip_scan sc;
	struct slice num;
	uint64_t n;

	sip_scan_init(&sc, v);
	num = sip_scan_run(&sc, C_DIGIT);
	if (sip_num(num, UINT32_MAX, &n) < 0) {
		return -TL_EPARSE;
	}
	sip_scan_lws(&sc);
	if (!sip_scan_eof(&sc) && *sc.p != ';' && *sc.p != '(') {
		return -TL_EPARSE;
	}
	*out = (uint32_t)n;
	return 0;
}

int sip_msg_expires(struct sip_msg *m, uint32_t *out)
{
	if (!m->exp_done) {
		struct slice v;
		uint64_t n = 0;

		m->exp_done = true;
		m->exp_rc = sip_msg_hdr_first(m, SIP_HDR_EXPIRES, &v);
		if (m->exp_rc == 0) {
			/* RFC 3261 §20.19: Expires = delta-seconds; RFC 4475
			 * §3.1.2.4 wants a 400 for an overlarge one */
			m->exp_rc =
			        sip_num(v, UINT32_MAX, &n) < 0 ? -TL_EPARSE : 0;
			m->exp_val = (uint32_t)n;
		}
	}
	if (m->exp_rc == 0) {
		*out = m->exp_val;
	}
	return m->exp_rc;
}

int sip_msg_hdr_u32(struct sip_msg *m, enum sip_hdr_id id, uint32_t *out)
{
	struct slice v;
	int rc;

	if (id == SIP_HDR_EXPIRES) {
		return sip_msg_expires(m, out);
	}
	rc = sip_msg_hdr_first(m, id, &v);
	if (rc < 0) {
		return rc;
	}
	return first_u32(v, out);
}

int sip_msg_event(struct sip_msg *m, struct sip_event *out)
{
	struct slice v;
	int rc = sip_msg_hdr_first(m, SIP_HDR_EVENT, &v);

	if (rc < 0) {
		return rc;
	}
	return sip_event_parse_int(out, v);
}

int sip_msg_substate(struct sip_msg *m, struct sip_substate *out)
{
	struct slice v;
	int rc = sip_msg_hdr_first(m, SIP_HDR_SUBSCRIPTION_STATE, &v);

	if (rc < 0) {
		return rc;
	}
	return sip_substate_parse_int(out, v);
}

bool sip_msg_has_token(struct sip_msg *m, enum sip_hdr_id id, const char *tok)
{
	struct sip_iter it;
	struct slice t;

	sip_msg_iter(&it, m, id);
	while (sip_iter_token(&it, &t) == 1) {
		if (slice_eq_str_nocase(t, tok)) {
			return true;
		}
	}
	return false;
}

int sip_msg_addr(struct sip_msg *m, enum sip_hdr_id id, struct sip_addr *out)
{
	struct sip_iter it;
	int rc;

	sip_msg_iter(&it, m, id);
	rc = sip_iter_addr(&it, out);
	if (rc == 0) {
		return -TL_ENOTFOUND;
	}
	return rc < 0 ? rc : 0;
}
