/* SIP, SIPS and TEL URIs: RFC 3261 §19.1 and §25.1, RFC 3966 §3. */
#include "codec/sip/sip_uri.h"
#include "codec/sip/sip_int.h"

#include <string.h>

static int hexval(uint8_t c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	c = sip_lower(c);
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	return -1;
}

/* Every byte of s is in cls or a valid %HH escape (RFC 3261 §25.1
 * "escaped"); at least min bytes. */
static int check_escaped(struct slice s, uint16_t cls, size_t min)
{
	if (s.len < min) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];

		if (c == '%') {
			if (i + 2 >= s.len || hexval(s.p[i + 1]) < 0 ||
			    hexval(s.p[i + 2]) < 0) {
				return -TL_EPARSE;
			}
			i += 2;
			continue;
		}
		if (!sip_is(c, cls)) {
			return -TL_EPARSE;
		}
	}
	return 0;
}

int sip_uri_unescape(struct slice in, uint8_t *dst, size_t dstlen,
                     size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < in.len; i++) {
		uint8_t c = in.p[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= in.len) {
				return -TL_EPARSE;
			}
			hi = hexval(in.p[i + 1]);
			lo = hexval(in.p[i + 2]);
			if (hi < 0 || lo < 0) {
				return -TL_EPARSE;
			}
			/* one level only: "%2541" gives "%41", never "A" */
			c = (uint8_t)(hi * 16 + lo);
			i += 2;
		}
		if (o >= dstlen) {
			return -TL_ETOOBIG;
		}
		dst[o++] = c;
	}
	*outlen = o;
	return 0;
}

enum sip_transport sip_transport_from(struct slice s)
{
	static const struct {
		const char *name;
		size_t len;
		enum sip_transport tp;
	} tps[] = {
	        {"udp", 3, SIP_TP_UDP},           {"tcp", 3, SIP_TP_TCP},
	        {"tls", 3, SIP_TP_TLS},           {"sctp", 4, SIP_TP_SCTP},
	        {"tls-sctp", 8, SIP_TP_TLS_SCTP}, {"ws", 2, SIP_TP_WS},
	        {"wss", 3, SIP_TP_WSS},
	};

	for (size_t i = 0; i < sizeof(tps) / sizeof(tps[0]); i++) {
		if (s.len == tps[i].len &&
		    sip_eq_lower(s.p, tps[i].name, s.len)) {
			return tps[i].tp;
		}
	}
	return SIP_TP_OTHER;
}

const char *sip_transport_name(enum sip_transport tp)
{
	switch (tp) {
	case SIP_TP_UDP:
		return "UDP";
	case SIP_TP_TCP:
		return "TCP";
	case SIP_TP_TLS:
		return "TLS";
	case SIP_TP_SCTP:
		return "SCTP";
	case SIP_TP_TLS_SCTP:
		return "TLS-SCTP";
	case SIP_TP_WS:
		return "WS";
	case SIP_TP_WSS:
		return "WSS";
	case SIP_TP_OTHER:
		break;
	}
	return NULL;
}

#define C_PARAMCHAR (C_PARAM | C_UNRES)

/* RFC 3261 §19.1.1: the parameters a SIP URI may carry once. */
static int uri_known_param(struct sip_uri *u, struct slice n, struct slice v)
{
	struct slice *dst = NULL;

	if (SIP_LIT_EQ(n, "lr")) {
		if (u->lr) {
			return -TL_EPARSE;
		}
		u->lr = true;
		return 0;
	}
	if (SIP_LIT_EQ(n, "ttl")) {
		uint64_t ttl;

		if (u->has_ttl || v.p == NULL || sip_num(v, 255, &ttl) < 0 ||
		    v.len > 3) {
			return -TL_EPARSE;
		}
		u->has_ttl = true;
		u->ttl = (uint8_t)ttl;
		return 0;
	}
	if (SIP_LIT_EQ(n, "transport")) {
		dst = &u->transport;
	} else if (SIP_LIT_EQ(n, "user")) {
		dst = &u->user_param;
	} else if (SIP_LIT_EQ(n, "method")) {
		dst = &u->method;
	} else if (SIP_LIT_EQ(n, "maddr")) {
		dst = &u->maddr;
	} else {
		return 0;
	}
	if (dst->p != NULL || v.p == NULL || v.len == 0) {
		return -TL_EPARSE;
	}
	*dst = v;
	if (dst == &u->transport) {
		u->tp = sip_transport_from(v);
	}
	return 0;
}

/* uri-parameters: *( ";" pname [ "=" pvalue ] ), no LWS inside a URI. */
static int uri_params(struct sip_uri *u, struct slice s, bool tel)
{
	size_t i = 0;

	while (i < s.len) {
		size_t ns = i, ne, vs = 0, ve = 0;
		struct slice n, v = SLICE_NULL;
		int rc;

		while (i < s.len && s.p[i] != ';' && s.p[i] != '=') {
			i++;
		}
		ne = i;
		if (i < s.len && s.p[i] == '=') {
			vs = ++i;
			while (i < s.len && s.p[i] != ';') {
				i++;
			}
			ve = i;
			v = (struct slice){s.p + vs, ve - vs};
			rc = check_escaped(v, C_PARAMCHAR, 1);
			if (rc < 0) {
				return rc;
			}
		}
		n = (struct slice){s.p + ns, ne - ns};
		rc = check_escaped(n, C_PARAMCHAR, 1);
		if (rc < 0) {
			return rc;
		}
		if (!tel) {
			rc = uri_known_param(u, n, v);
			if (rc < 0) {
				return rc;
			}
		}
		if (i < s.len) {
			i++; /* the ';' */
			if (i == s.len) {
				return -TL_EPARSE;
			}
		}
	}
	return 0;
}

/* headers = "?" header *( "&" header ); header = hname "=" hvalue */
static int uri_headers(struct slice s)
{
	struct slice st = s, n, v;
	int rc;

	if (s.len == 0) {
		return -TL_EPARSE;
	}
	while ((rc = sip_uri_header_next(&st, &n, &v)) == 1) {
	}
	return rc;
}

int sip_uri_header_next(struct slice *state, struct slice *name,
                        struct slice *value)
{
	size_t i = 0, eq;
	struct slice s = *state;

	if (s.p == NULL || s.len == 0) {
		return 0;
	}
	while (i < s.len && s.p[i] != '=' && s.p[i] != '&') {
		i++;
	}
	if (i == s.len || s.p[i] != '=') {
		return -TL_EPARSE;
	}
	eq = i++;
	while (i < s.len && s.p[i] != '&') {
		i++;
	}
	*name = (struct slice){s.p, eq};
	*value = (struct slice){s.p + eq + 1, i - eq - 1};
	if (check_escaped(*name, C_HNV | C_UNRES, 1) < 0 ||
	    check_escaped(*value, C_HNV | C_UNRES, 0) < 0) {
		return -TL_EPARSE;
	}
	if (i < s.len) {
		i++;
		if (i == s.len) {
			return -TL_EPARSE;
		}
		*state = (struct slice){s.p + i, s.len - i};
	} else {
		*state = SLICE_NULL;
	}
	return 1;
}

static int parse_sip(struct sip_uri *u, struct slice r)
{
	const uint8_t *at = r.len ? memchr(r.p, '@', r.len) : NULL;
	size_t i = 0, used;
	int rc;

	if (at != NULL) {
		struct slice ui = sip_sl(r.p, at);
		const uint8_t *colon =
		        ui.len ? memchr(ui.p, ':', ui.len) : NULL;

		if (colon != NULL) {
			u->user = sip_sl(ui.p, colon);
			u->password = sip_sl(colon + 1, ui.p + ui.len);
			rc = check_escaped(u->password, C_UNRES | C_PASS, 0);
			if (rc < 0) {
				return rc;
			}
		} else {
			u->user = ui;
		}
		rc = check_escaped(u->user, C_UNRES | C_USER, 1);
		if (rc < 0) {
			return rc;
		}
		i = (size_t)(at - r.p) + 1;
	}
	rc = sip_host_scan(r.p + i, r.len - i, &u->host, &u->host_type, &used);
	if (rc < 0) {
		return rc;
	}
	i += used;
	if (i < r.len && r.p[i] == ':') {
		size_t ps = ++i;
		uint64_t port;

		while (i < r.len && sip_is(r.p[i], C_DIGIT)) {
			i++;
		}
		if (i - ps > 5 || sip_num((struct slice){r.p + ps, i - ps},
		                          65535, &port) < 0) {
			return -TL_EPARSE;
		}
		u->has_port = true;
		u->port = (uint16_t)port;
	}
	if (i < r.len && r.p[i] == ';') {
		size_t ps = ++i;

		while (i < r.len && r.p[i] != '?') {
			i++;
		}
		u->params = (struct slice){r.p + ps, i - ps};
		if (u->params.len == 0) {
			return -TL_EPARSE;
		}
		rc = uri_params(u, u->params, false);
		if (rc < 0) {
			return rc;
		}
	}
	if (i < r.len && r.p[i] == '?') {
		i++;
		u->headers = (struct slice){r.p + i, r.len - i};
		rc = uri_headers(u->headers);
		if (rc < 0) {
			return rc;
		}
		i = r.len;
	}
	return i == r.len ? 0 : -TL_EPARSE;
}

static bool is_visual(uint8_t c)
{
	/* RFC 3966 §3: visual-separator = "-" / "." / "(" / ")" */
	return c == '-' || c == '.' || c == '(' || c == ')';
}

static int parse_tel(struct sip_uri *u, struct slice r)
{
	size_t i = 0, digits = 0;
	bool global;
	int rc;

	while (i < r.len && r.p[i] != ';') {
		i++;
	}
	u->user = (struct slice){r.p, i};
	global = u->user.len > 0 && u->user.p[0] == '+';
	for (size_t k = global ? 1 : 0; k < u->user.len; k++) {
		uint8_t c = u->user.p[k];

		if (sip_is(c, C_DIGIT) ||
		    (!global && (sip_is(c, C_HEX) || c == '*' || c == '#'))) {
			digits++;
		} else if (!is_visual(c)) {
			return -TL_EPARSE;
		}
	}
	if (digits == 0) {
		return -TL_EPARSE;
	}
	if (i < r.len) {
		i++;
		u->params = (struct slice){r.p + i, r.len - i};
		if (u->params.len == 0) {
			return -TL_EPARSE;
		}
		rc = uri_params(u, u->params, true);
		if (rc < 0) {
			return rc;
		}
	}
	/* RFC 3966 §5.1.5: a local number needs a phone-context */
	if (!global) {
		struct slice v;

		if (sip_uri_param(u, "phone-context", &v) < 0 || v.len == 0) {
			return -TL_EPARSE;
		}
	}
	return 0;
}

int sip_uri_parse(struct sip_uri *u, const uint8_t *p, size_t len)
{
	size_t i = 0;
	struct slice rest;

	memset(u, 0, sizeof(*u));
	if (p == NULL || len == 0) {
		return -TL_EPARSE;
	}
	if (len > SIP_URI_MAX_LEN) {
		return -TL_ETOOBIG;
	}
	u->raw = (struct slice){p, len};
	if (!sip_is(p[0], C_ALPHA)) {
		return -TL_EPARSE;
	}
	while (i < len && sip_is(p[i], C_SCHEME)) {
		i++;
	}
	if (i == len || p[i] != ':' || i + 1 == len) {
		return -TL_EPARSE;
	}
	u->scheme_s = (struct slice){p, i};
	rest = (struct slice){p + i + 1, len - i - 1};
	if (SIP_LIT_EQ(u->scheme_s, "sip")) {
		u->scheme = SIP_URI_SIP;
	} else if (SIP_LIT_EQ(u->scheme_s, "sips")) {
		u->scheme = SIP_URI_SIPS;
	} else if (SIP_LIT_EQ(u->scheme_s, "tel")) {
		u->scheme = SIP_URI_TEL;
	} else {
		u->scheme = SIP_URI_OTHER;
		u->opaque = rest;
		/* no white space, controls, 8-bit bytes, or the delimiters
		 * of a name-addr inside a URI (RFC 3261 §25.1); the sip, sips
		 * and tel grammars below check every byte themselves */
		for (size_t k = 0; k < rest.len; k++) {
			uint8_t c = rest.p[k];

			if (c <= 0x20 || c >= 0x7f || c == '<' || c == '>' ||
			    c == '"') {
				memset(u, 0, sizeof(*u));
				return -TL_EPARSE;
			}
		}
		return 0;
	}
	int rc = u->scheme == SIP_URI_TEL ? parse_tel(u, rest)
	                                  : parse_sip(u, rest);
	if (rc < 0) {
		struct slice raw = u->raw;

		memset(u, 0, sizeof(*u));
		u->raw = raw;
		return -TL_EPARSE;
	}
	return 0;
}

int sip_uri_param(const struct sip_uri *u, const char *name, struct slice *val)
{
	struct slice s = u->params;
	struct slice want = slice_from_str(name);
	size_t i = 0;

	while (s.p != NULL && i < s.len) {
		size_t ns = i, ne;

		while (i < s.len && s.p[i] != ';' && s.p[i] != '=') {
			i++;
		}
		ne = i;
		if (i < s.len && s.p[i] == '=') {
			size_t vs = ++i;

			while (i < s.len && s.p[i] != ';') {
				i++;
			}
			if (slice_eq_nocase((struct slice){s.p + ns, ne - ns},
			                    want)) {
				*val = (struct slice){s.p + vs, i - vs};
				return 0;
			}
		} else if (slice_eq_nocase((struct slice){s.p + ns, ne - ns},
		                           want)) {
			*val = (struct slice){s.p + ne, 0};
			return 0;
		}
		i++;
	}
	return -TL_ENOTFOUND;
}

/* Compare two escaped strings by their unescaped bytes. */
static bool esc_eq(struct slice a, struct slice b, bool nocase)
{
	size_t i = 0, j = 0;

	while (i < a.len && j < b.len) {
		uint8_t ca = a.p[i], cb = b.p[j];

		if (ca == '%' && i + 2 < a.len) {
			ca = (uint8_t)(hexval(a.p[i + 1]) * 16 +
			               hexval(a.p[i + 2]));
			i += 2;
		}
		if (cb == '%' && j + 2 < b.len) {
			cb = (uint8_t)(hexval(b.p[j + 1]) * 16 +
			               hexval(b.p[j + 2]));
			j += 2;
		}
		if (nocase) {
			ca = sip_lower(ca);
			cb = sip_lower(cb);
		}
		if (ca != cb) {
			return false;
		}
		i++;
		j++;
	}
	return i == a.len && j == b.len;
}

static bool opt_eq(struct slice a, struct slice b)
{
	if ((a.p == NULL) != (b.p == NULL)) {
		return false;
	}
	return a.p == NULL || esc_eq(a, b, true);
}

/* RFC 3261 §19.1.4: other parameters count only when both URIs carry
 * them. */
static bool other_params_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	struct slice st = a->params, n, v;

	while (sip_param_next(&st, &n, &v) == 1) {
		char name[64];
		struct slice w;

		if (slice_to_cstr(n, name, sizeof(name)) < 0) {
			continue;
		}
		/* the first occurrence on both sides, so that a repeated
		 * name compares the same way in both directions */
		if (sip_uri_param(b, name, &w) == 0 &&
		    sip_uri_param(a, name, &v) == 0) {
			if (!esc_eq(v, w, true)) {
				return false;
			}
		}
	}
	return true;
}

static bool tel_eq(struct slice a, struct slice b)
{
	size_t i = 0, j = 0;

	for (;;) {
		while (i < a.len && is_visual(a.p[i])) {
			i++;
		}
		while (j < b.len && is_visual(b.p[j])) {
			j++;
		}
		if (i == a.len || j == b.len) {
			return i == a.len && j == b.len;
		}
		if (sip_lower(a.p[i]) != sip_lower(b.p[j])) {
			return false;
		}
		i++;
		j++;
	}
}

bool sip_uri_eq(const struct sip_uri *a, const struct sip_uri *b)
{
	if (a->scheme != b->scheme) {
		return false;
	}
	switch (a->scheme) {
	case SIP_URI_OTHER:
		return slice_eq(a->raw, b->raw);
	case SIP_URI_TEL:
		return tel_eq(a->user, b->user) &&
		       slice_eq_nocase(a->params, b->params);
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		break;
	}
	if ((a->user.p == NULL) != (b->user.p == NULL) ||
	    !esc_eq(a->user, b->user, false) ||
	    (a->password.p == NULL) != (b->password.p == NULL) ||
	    !esc_eq(a->password, b->password, false) ||
	    !slice_eq_nocase(a->host, b->host) || a->has_port != b->has_port ||
	    a->port != b->port || !opt_eq(a->transport, b->transport) ||
	    !opt_eq(a->user_param, b->user_param) ||
	    !opt_eq(a->method, b->method) || !opt_eq(a->maddr, b->maddr) ||
	    a->has_ttl != b->has_ttl || a->ttl != b->ttl) {
		return false;
	}
	if (!other_params_eq(a, b) || !other_params_eq(b, a)) {
		return false;
	}
	return slice_eq_nocase(a->headers, b->headers);
}

void sip_uri_print(struct buf *b, const struct sip_uri *u)
{
	switch (u->scheme) {
	case SIP_URI_OTHER:
		buf_put_slice(b, u->raw);
		return;
	case SIP_URI_TEL:
		buf_put_str(b, "tel:");
		buf_put_slice(b, u->user);
		if (u->params.len) {
			buf_put_u8(b, ';');
			buf_put_slice(b, u->params);
		}
		return;
	case SIP_URI_SIP:
	case SIP_URI_SIPS:
		break;
	}
	buf_put_str(b, u->scheme == SIP_URI_SIPS ? "sips:" : "sip:");
	if (u->user.p != NULL) {
		buf_put_slice(b, u->user);
		if (u->password.p != NULL) {
			buf_put_u8(b, ':');
			buf_put_slice(b, u->password);
		}
		buf_put_u8(b, '@');
	}
	if (u->host_type == SIP_HOST_IPV6) {
		buf_put_u8(b, '[');
		buf_put_slice(b, u->host);
		buf_put_u8(b, ']');
	} else {
		buf_put_slice(b, u->host);
	}
	if (u->has_port) {
		buf_printf(b, ":%u", (unsigned)u->port);
	}
	if (u->params.p != NULL) {
		buf_put_u8(b, ';');
		buf_put_slice(b, u->params);
	}
	if (u->headers.p != NULL) {
		buf_put_u8(b, '?');
		buf_put_slice(b, u->headers);
	}
}
