/* SDP parser and printer: RFC 4566 §5 (fields and their order), RFC 4568
 * §9.1 (a=crypto), RFC 7714 §14.2 (AEAD suites). */
#include "codec/sdp/sdp.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct sdp_ln {
	uint8_t type;
	int8_t media;  /* -1: session level */
	int8_t crypto; /* index in its section, -1: not a crypto line */
	struct slice v;
};

struct sdp_sec {
	struct sdp_media info;
	struct slice head; /* "media port[/n]" of the m= line */
	struct sdp_crypto crypto[SDP_MAX_CRYPTO];
	bool has_c, has_dir;
};

struct sdp {
	struct sdp_ln ln[SDP_MAX_LINES];
	size_t n;
	struct sdp_sec m[SDP_MAX_MEDIA];
	size_t nm;
	enum sdp_dir dir;
	bool has_dir;
	struct slice conn_addr;
};

int sdp_new(struct sdp **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void sdp_free(struct sdp *s)
{
	free(s);
}

/* ---- small scanners ---- */

/* Split at the first SP: head before, *rest after (absent when none). */
static struct slice split_sp(struct slice s, struct slice *rest)
{
	long i = slice_find(s, ' ');

	if (i < 0) {
		*rest = SLICE_NULL;
		return s;
	}
	*rest = slice_make(s.p + i + 1, s.len - (size_t)i - 1);
	return slice_make(s.p, (size_t)i);
}

static bool is_digits(struct slice s, size_t max)
{
	if (s.len == 0 || s.len > max) {
		return false;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9') {
			return false;
		}
	}
	return true;
}

/* RFC 4566 §9 token-char. */
static bool is_token(struct slice s)
{
	static const char extra[] = "!#$%&'*+-.^_`{|}~";

	if (s.len == 0) {
		return false;
	}
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z') || (c && strchr(extra, c)))) {
			return false;
		}
	}
	return true;
}

/* Non-empty run without SP (usernames, addresses). */
static bool is_word(struct slice s)
{
	if (s.len == 0) {
		return false;
	}
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] <= ' ' || s.p[i] == 0x7f) {
			return false;
		}
	}
	return true;
}

static int num(struct slice s, unsigned digits, uint64_t max, uint64_t *out)
{
	uint64_t v;

	if (!is_digits(s, SDP_MAX_LINE)) {
		return -TL_EPARSE;
	}
	if (s.len > digits || slice_to_u64(s, digits, &v) != 0 || v > max) {
		return -TL_ETOOBIG;
	}
	*out = v;
	return 0;
}

/* ---- field syntax ---- */

/* RFC 4566 §5.7: c=<nettype> <addrtype> <connection-address> */
static int parse_conn(struct slice v, struct slice *addr)
{
	struct slice rest, a;
	struct slice net = split_sp(v, &rest);
	struct slice type = split_sp(rest, &a);
	long slash;

	if (!slice_eq_str(net, "IN") ||
	    (!slice_eq_str(type, "IP4") && !slice_eq_str(type, "IP6")) ||
	    !is_word(a)) {
		return -TL_EPARSE;
	}
	slash = slice_find(a, '/');
	*addr = slash >= 0 ? slice_make(a.p, (size_t)slash) : a;
	return addr->len ? 0 : -TL_EPARSE;
}

/* RFC 4566 §5.2: o=<username> <sess-id> <sess-version> <nettype>
 * <addrtype> <unicast-address> */
static int parse_origin(struct slice v)
{
	struct slice rest, f[3];
	uint64_t n;
	struct slice addr;
	int err;

	f[0] = split_sp(v, &rest);
	f[1] = split_sp(rest, &rest);
	f[2] = split_sp(rest, &rest);
	if (!is_word(f[0]) || !rest.p) {
		return -TL_EPARSE;
	}
	for (size_t i = 1; i < 3; i++) {
		err = num(f[i], 19, UINT64_MAX, &n);
		if (err) {
			return err;
		}
	}
	return parse_conn(rest, &addr);
}

/* RFC 4566 §5.9: t=<start-time> <stop-time> */
static int parse_time(struct slice v)
{
	struct slice rest;
	struct slice a = split_sp(v, &rest);
	uint64_t n;
	int err = num(a, 19, UINT64_MAX, &n);

	return err ? err : num(rest, 19, UINT64_MAX, &n);
}

/* RFC 4566 §5.14: m=<media> <port>[/<number of ports>] <proto> <fmt> ... */
static int parse_media(struct slice v, struct sdp_sec *m)
{
	struct slice rest, port, count = SLICE_NULL;
	uint64_t n;
	long slash;
	int err;

	m->info.media = split_sp(v, &rest);
	port = split_sp(rest, &rest);
	m->info.proto = split_sp(rest, &m->info.fmts);
	if (!is_token(m->info.media) || !m->info.fmts.p) {
		return -TL_EPARSE;
	}
	m->head = slice_make(v.p, (size_t)(port.p + port.len - v.p));
	slash = slice_find(port, '/');
	if (slash >= 0) {
		count = slice_make(port.p + slash + 1,
		                   port.len - (size_t)slash - 1);
		port.len = (size_t)slash;
	}
	err = num(port, 5, 65535, &n);
	if (err) {
		return err;
	}
	m->info.port = (uint16_t)n;
	m->info.nports = 1;
	if (count.p) {
		err = num(count, 5, 65535, &n);
		if (err || n == 0) {
			return err ? err : -TL_EPARSE;
		}
		m->info.nports = (uint16_t)n;
	}
	/* proto: token *("/" token) */
	for (struct slice p = m->info.proto, t; p.p;) {
		long i = slice_find(p, '/');
		t = i < 0 ? p : slice_make(p.p, (size_t)i);
		if (!is_token(t)) {
			return -TL_EPARSE;
		}
		p = i < 0 ? SLICE_NULL
		          : slice_make(p.p + i + 1, p.len - (size_t)i - 1);
	}
	for (struct slice f = m->info.fmts, t; f.p;) {
		t = split_sp(f, &f);
		if (!is_token(t)) {
			return -TL_EPARSE;
		}
	}
	m->info.savp = slice_eq_str(m->info.proto, "RTP/SAVP") ||
	               slice_eq_str(m->info.proto, "RTP/SAVPF");
	return 0;
}

static enum sdp_suite suite_from(struct slice s)
{
	static const struct {
		const char *name;
		enum sdp_suite id;
	} t[] = {
	        {"AES_CM_128_HMAC_SHA1_80", SDP_SUITE_AES_CM_128_HMAC_SHA1_80},
	        {"AES_CM_128_HMAC_SHA1_32", SDP_SUITE_AES_CM_128_HMAC_SHA1_32},
	        {"AEAD_AES_128_GCM", SDP_SUITE_AEAD_AES_128_GCM},
	        {"AEAD_AES_256_GCM", SDP_SUITE_AEAD_AES_256_GCM},
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(*t); i++) {
		if (slice_eq_str(s, t[i].name)) {
			return t[i].id;
		}
	}
	return SDP_SUITE_OTHER;
}

/* Master key || salt lengths (RFC 4568 §6.2.1, RFC 7714 §12). */
static size_t suite_key_len(enum sdp_suite id)
{
	switch (id) {
	case SDP_SUITE_AES_CM_128_HMAC_SHA1_80:
	case SDP_SUITE_AES_CM_128_HMAC_SHA1_32:
		return 30;
	case SDP_SUITE_AEAD_AES_128_GCM:
		return 28;
	case SDP_SUITE_AEAD_AES_256_GCM:
		return 44;
	default:
		return 0;
	}
}

static bool b64_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '+' || c == '/';
}

/* Decoded length of a base64 key-salt (RFC 4648 §4), padding optional. */
static int b64_len(struct slice s, size_t *out)
{
	size_t n = 0, pad = 0;

	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] == '=') {
			pad++;
		} else if (pad || !b64_char(s.p[i])) {
			return -TL_EPARSE;
		} else {
			n++;
		}
	}
	if (n == 0 || n % 4 == 1 || pad > 2 || (pad && (n + pad) % 4)) {
		return -TL_EPARSE;
	}
	*out = n * 3 / 4;
	return 0;
}

/* RFC 4568 §9.1: key-param = key-method ":" key-info; only "inline"
 * is defined for SRTP (§6.1): key-salt ["|" lifetime] ["|" MKI ":"
 * length]. */
static int parse_key_param(struct slice kp, size_t want)
{
	struct slice info, salt;
	size_t got;
	long bar;

	if (kp.len < 8 || memcmp(kp.p, "inline:", 7) != 0) {
		return -TL_EPARSE;
	}
	info = slice_make(kp.p + 7, kp.len - 7);
	bar = slice_find(info, '|');
	salt = bar < 0 ? info : slice_make(info.p, (size_t)bar);
	if (b64_len(salt, &got) != 0) {
		return -TL_EPARSE;
	}
	if (want && got != want) {
		return -TL_EPARSE;
	}
	for (size_t i = (size_t)(bar < 0 ? 0 : bar); bar >= 0 && i < info.len;
	     i++) {
		uint8_t c = info.p[i];
		if (!(c == '|' || c == ':' || c == '^' ||
		      (c >= '0' && c <= '9'))) {
			return -TL_EPARSE;
		}
	}
	return 0;
}

int sdp_crypto_parse(struct sdp_crypto *c, struct slice v)
{
	struct slice rest, tag;
	uint64_t n;
	int err;

	memset(c, 0, sizeof(*c));
	tag = split_sp(v, &rest);
	c->suite = split_sp(rest, &rest);
	c->key_params = split_sp(rest, &c->session_params);
	if (!is_digits(tag, 9)) {
		return tag.len > 9 && is_digits(tag, 20) ? -TL_ETOOBIG
		                                         : -TL_EPARSE;
	}
	err = num(tag, 9, 999999999, &n);
	if (err) {
		return err;
	}
	c->tag = (uint32_t)n;
	if (!is_token(c->suite) || !c->key_params.p) {
		return -TL_EPARSE;
	}
	c->suite_id = suite_from(c->suite);
	for (struct slice kp = c->key_params, one; kp.p;) {
		long semi = slice_find(kp, ';');
		one = semi < 0 ? kp : slice_make(kp.p, (size_t)semi);
		err = parse_key_param(one, suite_key_len(c->suite_id));
		if (err) {
			return err;
		}
		kp = semi < 0 ? SLICE_NULL
		              : slice_make(kp.p + semi + 1,
		                           kp.len - (size_t)semi - 1);
	}
	for (struct slice sp = c->session_params, t; sp.p;) {
		t = split_sp(sp, &sp);
		if (!is_word(t)) {
			return -TL_EPARSE;
		}
	}
	return 0;
}

/* ---- lines ---- */

/* Order of session-level fields (RFC 4566 §5); t and r repeat together. */
static int session_rank(uint8_t t)
{
	static const char order[] = "vosiuepcbtzka";

	if (t == 'r') {
		return 9; /* with t */
	}
	const char *p = strchr(order, t);
	return t && p ? (int)(p - order) : -1;
}

static int media_rank(uint8_t t)
{
	static const char order[] = "micbka";
	const char *p = strchr(order, t);

	return t && p ? (int)(p - order) : -1;
}

static int direction(struct slice a, enum sdp_dir *d)
{
	static const char *const names[] = {"sendrecv", "sendonly", "recvonly",
	                                    "inactive"};

	for (size_t i = 0; i < 4; i++) {
		if (slice_eq_str(a, names[i])) {
			*d = (enum sdp_dir)i;
			return 1;
		}
	}
	return 0;
}

static int attribute(struct sdp *s, struct sdp_ln *ln)
{
	struct slice name = ln->v, val = SLICE_NULL;
	long colon = slice_find(ln->v, ':');
	enum sdp_dir d;

	if (colon >= 0) {
		name = slice_make(ln->v.p, (size_t)colon);
		val = slice_make(ln->v.p + colon + 1,
		                 ln->v.len - (size_t)colon - 1);
	}
	if (!is_token(name)) {
		return -TL_EPARSE;
	}
	if (!val.p && direction(name, &d)) {
		bool *has =
		        ln->media < 0 ? &s->has_dir : &s->m[ln->media].has_dir;
		if (*has) {
			return -TL_EDUP;
		}
		*has = true;
		if (ln->media < 0) {
			s->dir = d;
		} else {
			s->m[ln->media].info.dir = d;
		}
		return 0;
	}
	if (!slice_eq_str(name, "crypto")) {
		return 0;
	}
	/* RFC 4568 §9: crypto is a media-level attribute. */
	if (ln->media < 0 || !val.p) {
		return -TL_EPARSE;
	}
	struct sdp_sec *m = &s->m[ln->media];
	if (m->info.n_crypto == SDP_MAX_CRYPTO) {
		return -TL_ETOOBIG;
	}
	struct sdp_crypto *c = &m->crypto[m->info.n_crypto];
	int err = sdp_crypto_parse(c, val);
	if (err) {
		return err;
	}
	/* §9.1: the tag is unique within the media section. */
	for (size_t i = 0; i < m->info.n_crypto; i++) {
		if (m->crypto[i].tag == c->tag) {
			return -TL_EDUP;
		}
	}
	ln->crypto = (int8_t)m->info.n_crypto++;
	return 0;
}

static int one_line(struct sdp *s, struct sdp_ln *ln, int *rank, bool *seen)
{
	int r;
	int err = 0;

	if (ln->type == 'm') {
		if (s->nm == SDP_MAX_MEDIA) {
			return -TL_ETOOBIG;
		}
		ln->media = (int8_t)s->nm;
		s->nm++;
		*rank = 0;
		return parse_media(ln->v, &s->m[ln->media]);
	}
	ln->media = (int8_t)((int)s->nm - 1);
	if (ln->media < 0) {
		r = session_rank(ln->type);
		if (r < 0) {
			return -TL_EPARSE;
		}
		if (r < *rank) {
			return -TL_EPARSE;
		}
		/* v o s i u c z k: at most once at session level. */
		if (strchr("vosiuczk", ln->type) && seen[r]) {
			return -TL_EDUP;
		}
		if (r != 0 && !seen[0]) {
			return -TL_EPARSE; /* v= comes first */
		}
		seen[r] = true;
		*rank = r;
	} else {
		r = media_rank(ln->type);
		if (r < 0 || r < *rank) {
			return -TL_EPARSE;
		}
		*rank = r;
	}
	switch (ln->type) {
	case 'v':
		err = slice_eq_str(ln->v, "0") ? 0 : -TL_EPARSE;
		break;
	case 'o':
		err = parse_origin(ln->v);
		break;
	case 't':
		err = parse_time(ln->v);
		break;
	case 'c':
		if (ln->media >= 0) {
			if (s->m[ln->media].has_c) {
				return -TL_EDUP;
			}
			s->m[ln->media].has_c = true;
			err = parse_conn(ln->v,
			                 &s->m[ln->media].info.conn_addr);
		} else {
			err = parse_conn(ln->v, &s->conn_addr);
		}
		break;
	case 'a':
		err = attribute(s, ln);
		break;
	default:
		break;
	}
	return err;
}

int sdp_parse(struct sdp *s, const uint8_t *p, size_t len)
{
	bool seen[16] = {false};
	int rank = 0;
	size_t off = 0;
	int err;

	memset(s, 0, sizeof(*s));
	if (len > SDP_MAX_SIZE) {
		return -TL_ETOOBIG;
	}
	if (len == 0) {
		return -TL_ETRUNC;
	}
	while (off < len) {
		const uint8_t *lf = memchr(p + off, '\n', len - off);
		size_t end;

		if (!lf) {
			return -TL_ETRUNC;
		}
		end = (size_t)(lf - p);
		size_t vend = end;
		if (vend > off && p[vend - 1] == '\r') {
			vend--;
		}
		if (vend - off > SDP_MAX_LINE) {
			return -TL_ETOOBIG;
		}
		if (s->n == SDP_MAX_LINES) {
			return -TL_ETOOBIG;
		}
		if (vend - off < 2 || p[off + 1] != '=' || p[off] < 'a' ||
		    p[off] > 'z') {
			return -TL_EPARSE;
		}
		/* RFC 4566 §9 text: no NUL, no CR, no LF inside. */
		for (size_t i = off + 2; i < vend; i++) {
			if (p[i] == 0 || p[i] == '\r') {
				return -TL_EPARSE;
			}
		}
		struct sdp_ln *ln = &s->ln[s->n++];
		ln->type = p[off];
		ln->crypto = -1;
		ln->v = slice_make(p + off + 2, vend - off - 2);
		err = one_line(s, ln, &rank, seen);
		if (err) {
			return err;
		}
		off = end + 1;
	}
	/* v, o, s and at least one t (RFC 4566 §5). */
	if (!seen[0] || !seen[1] || !seen[2] || !seen[9]) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < s->nm; i++) {
		struct sdp_sec *m = &s->m[i];
		if (!m->has_dir) {
			m->info.dir = s->dir;
		}
		if (!m->has_c) {
			m->info.conn_addr = s->conn_addr;
		}
		/* RFC 4566 §5.7: c= at session level or in every media. */
		if (!m->info.conn_addr.p) {
			return -TL_EPARSE;
		}
	}
	return 0;
}

size_t sdp_media_count(const struct sdp *s)
{
	return s->nm;
}

int sdp_media_get(const struct sdp *s, size_t i, struct sdp_media *out)
{
	if (i >= s->nm) {
		return -TL_ENOTFOUND;
	}
	*out = s->m[i].info;
	return 0;
}

int sdp_crypto_get(const struct sdp *s, size_t i, size_t j,
                   struct sdp_crypto *out)
{
	if (i >= s->nm || j >= s->m[i].info.n_crypto) {
		return -TL_ENOTFOUND;
	}
	*out = s->m[i].crypto[j];
	return 0;
}

bool sdp_has_crypto(const struct sdp *s)
{
	for (size_t i = 0; i < s->nm; i++) {
		if (s->m[i].info.port && s->m[i].info.n_crypto) {
			return true;
		}
	}
	return false;
}

bool sdp_is_srtp(const struct sdp *s)
{
	size_t active = 0;

	for (size_t i = 0; i < s->nm; i++) {
		if (!s->m[i].info.port) {
			continue;
		}
		active++;
		if (!s->m[i].info.savp || !s->m[i].info.n_crypto) {
			return false;
		}
	}
	return active > 0;
}

bool sdp_on_hold(const struct sdp *s)
{
	for (size_t i = 0; i < s->nm; i++) {
		const struct sdp_media *m = &s->m[i].info;
		if (!m->port) {
			continue;
		}
		return m->dir == SDP_DIR_SENDONLY ||
		       m->dir == SDP_DIR_INACTIVE ||
		       slice_eq_str(m->conn_addr, "0.0.0.0");
	}
	return false;
}

static bool keep_crypto(const struct sdp_crypto *c, const struct sdp_out *o)
{
	if (o->strip_crypto) {
		return false;
	}
	return o->suites == 0 || (c->suite_id & o->suites) != 0;
}

int sdp_print(struct buf *b, const struct sdp *s, const struct sdp_out *o)
{
	bool plain[SDP_MAX_MEDIA];

	for (size_t i = 0; i < s->nm; i++) {
		size_t kept = 0;
		for (size_t j = 0; j < s->m[i].info.n_crypto; j++) {
			kept += keep_crypto(&s->m[i].crypto[j], o);
		}
		plain[i] = s->m[i].info.savp && kept == 0;
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct sdp_ln *ln = &s->ln[i];
		if (ln->crypto >= 0 &&
		    !keep_crypto(&s->m[ln->media].crypto[ln->crypto], o)) {
			continue;
		}
		if (ln->type == 'm' && plain[ln->media]) {
			const struct sdp_sec *m = &s->m[ln->media];
			/* RFC 3711 §12 / RFC 5124: the profile without S. */
			buf_put_str(b, "m=");
			buf_put_slice(b, m->head);
			buf_put_str(b, slice_eq_str(m->info.proto, "RTP/SAVPF")
			                       ? " RTP/AVPF "
			                       : " RTP/AVP ");
			buf_put_slice(b, m->info.fmts);
			buf_put_str(b, "\r\n");
			continue;
		}
		buf_put_u8(b, ln->type);
		buf_put_u8(b, '=');
		buf_put_slice(b, ln->v);
		buf_put_str(b, "\r\n");
	}
	return buf_err(b);
}
