/* Lexical helpers of the SIP codec: the character classes of RFC 3261
 * §25.1, LWS, quoted strings, numbers, hosts and parameter lists. */
#include "codec/sip/sip_int.h"

#include <arpa/inet.h>
#include <string.h>

/* Generated from the ABNF of RFC 3261 §25.1 (token, unreserved,
 * user-unreserved, password, param-unreserved, hnv-unreserved, word...). */
const uint16_t sip_cc[256] = {
        [0] = C_QSPEC,
        [9] = C_LWS,
        [10] = C_LWS,
        [13] = C_LWS | C_QSPEC,
        [32] = C_LWS,
        [33] = C_TOKEN | C_UNRES | C_WORD,
        [34] = C_WORD | C_QSPEC | C_SPLIT,
        [36] = C_USER | C_PASS | C_PARAM | C_HNV,
        [37] = C_TOKEN | C_WORD,
        [38] = C_USER | C_PASS | C_PARAM,
        [39] = C_TOKEN | C_UNRES | C_WORD,
        [40] = C_UNRES | C_WORD,
        [41] = C_UNRES | C_WORD,
        [42] = C_TOKEN | C_UNRES | C_WORD,
        [43] = C_TOKEN | C_USER | C_PASS | C_PARAM | C_HNV | C_WORD | C_SCHEME,
        [44] = C_USER | C_PASS | C_SPLIT,
        [45] = C_TOKEN | C_UNRES | C_WORD | C_SCHEME | C_HOST,
        [46] = C_TOKEN | C_UNRES | C_WORD | C_SCHEME | C_HOST,
        [47] = C_USER | C_PARAM | C_HNV | C_WORD,
        [48] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [49] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [50] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [51] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [52] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [53] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [54] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [55] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [56] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [57] = C_TOKEN | C_UNRES | C_WORD | C_DIGIT | C_HEX | C_SCHEME | C_HOST,
        [58] = C_PARAM | C_HNV | C_WORD,
        [59] = C_USER,
        [60] = C_WORD | C_SPLIT,
        [61] = C_USER | C_PASS,
        [62] = C_WORD | C_SPLIT,
        [63] = C_USER | C_HNV | C_WORD,
        [65] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [66] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [67] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [68] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [69] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [70] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [71] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [72] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [73] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [74] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [75] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [76] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [77] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [78] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [79] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [80] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [81] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [82] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [83] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [84] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [85] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [86] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [87] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [88] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [89] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [90] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [91] = C_PARAM | C_HNV | C_WORD,
        [92] = C_WORD | C_QSPEC,
        [93] = C_PARAM | C_HNV | C_WORD,
        [95] = C_TOKEN | C_UNRES | C_WORD,
        [96] = C_TOKEN | C_WORD,
        [97] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [98] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [99] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME | C_HOST,
        [100] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME |
                C_HOST,
        [101] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME |
                C_HOST,
        [102] = C_TOKEN | C_UNRES | C_WORD | C_HEX | C_ALPHA | C_SCHEME |
                C_HOST,
        [103] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [104] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [105] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [106] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [107] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [108] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [109] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [110] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [111] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [112] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [113] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [114] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [115] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [116] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [117] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [118] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [119] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [120] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [121] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [122] = C_TOKEN | C_UNRES | C_WORD | C_ALPHA | C_SCHEME | C_HOST,
        [123] = C_WORD,
        [125] = C_WORD,
        [126] = C_TOKEN | C_UNRES | C_WORD,
};

/* Eight bytes at a time: does v hold a byte equal to c? (the classic
 * "has a zero byte" test on v xor c) */
static inline uint64_t has_byte(uint64_t v, uint8_t c)
{
	static const uint64_t ones = 0x0101010101010101ull;
	uint64_t x = v ^ (ones * c);

	return (x - ones) & ~x & (ones << 7);
}

int sip_scan_quoted(struct sip_scan *s, struct slice *inner)
{
	const uint8_t *start;

	if (s->p >= s->end || *s->p != '"') {
		return -TL_EPARSE;
	}
	s->p++;
	start = s->p;
	while (s->p < s->end) {
		uint8_t c;

		/* qdtext runs fast: skip 8 bytes at a time while none is '"',
		 * '\\', NUL or CR, then byte by byte */
		while (s->end - s->p >= 8) {
			uint64_t v;

			memcpy(&v, s->p, 8);
			if ((has_byte(v, '"') | has_byte(v, '\\') |
			     has_byte(v, 0) | has_byte(v, '\r')) != 0) {
				break;
			}
			s->p += 8;
		}
		while (s->p < s->end && !sip_is(*s->p, C_QSPEC)) {
			s->p++;
		}
		if (s->p >= s->end) {
			break;
		}
		c = *s->p;
		if (c == '"') {
			*inner = sip_sl(start, s->p);
			s->p++;
			return 0;
		}
		if (c == '\\') {
			/* RFC 3261 §25.1: quoted-pair = "\\" (%x00-09 /
			 * %x0B-0C / %x0E-7F) */
			if (s->p + 1 >= s->end || s->p[1] == '\r' ||
			    s->p[1] == '\n' || s->p[1] > 0x7f) {
				return -TL_EPARSE;
			}
			s->p += 2;
			continue;
		}
		/* NUL, or a CR that does not start a fold */
		if (c == 0 || s->p + 2 >= s->end || s->p[1] != '\n' ||
		    (s->p[2] != ' ' && s->p[2] != '\t')) {
			return -TL_EPARSE;
		}
		s->p += 3;
	}
	return -TL_EPARSE;
}

int sip_num(struct slice s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (s.len == 0 || s.len > SIP_MAX_DIGITS) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < s.len; i++) {
		uint8_t c = s.p[i];

		if (c < '0' || c > '9') {
			return -TL_EPARSE;
		}
		/* 19 digits always fit in 64 bits; only a 20th may overflow */
		if (i == 19 && v > (UINT64_MAX - (uint64_t)(c - '0')) / 10) {
			return -TL_ETOOBIG;
		}
		v = v * 10 + (uint64_t)(c - '0');
	}
	if (v > max) {
		return -TL_ETOOBIG;
	}
	*out = v;
	return 0;
}

/* RFC 3261 §25.1: IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "."
 * 1*3DIGIT, each at most 255 */
static int ipv4_check(struct slice h)
{
	unsigned parts = 0, digits = 0, val = 0;

	for (size_t i = 0; i <= h.len; i++) {
		if (i == h.len || h.p[i] == '.') {
			if (digits == 0 || val > 255) {
				return -TL_EPARSE;
			}
			parts++;
			digits = 0;
			val = 0;
			continue;
		}
		if (++digits > 3) {
			return -TL_EPARSE;
		}
		val = val * 10 + (unsigned)(h.p[i] - '0');
	}
	return parts == 4 ? 0 : -TL_EPARSE;
}

int sip_host_scan(const uint8_t *p, size_t len, struct slice *host,
                  enum sip_host_type *type, size_t *used)
{
	size_t n = 0, label = 0, top = 0;
	bool numeric = true;

	if (len == 0) {
		return -TL_EPARSE;
	}
	if (p[0] == '[') {
		/* RFC 3261 §25.1: IPv6reference = "[" IPv6address "]" */
		char tmp[48];
		uint8_t bin[16];
		const uint8_t *close = memchr(p, ']', len);

		if (close == NULL) {
			return -TL_EPARSE;
		}
		n = (size_t)(close - p) - 1;
		if (n == 0 || n >= sizeof(tmp)) {
			return -TL_EPARSE;
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t c = p[1 + i];

			if (!sip_is(c, C_HEX) && c != ':' && c != '.') {
				return -TL_EPARSE;
			}
		}
		memcpy(tmp, p + 1, n);
		tmp[n] = '\0';
		if (inet_pton(AF_INET6, tmp, bin) != 1) {
			return -TL_EPARSE;
		}
		*host = (struct slice){p + 1, n};
		*type = SIP_HOST_IPV6;
		*used = n + 2;
		return 0;
	}
	/* hostname = *( domainlabel "." ) toplabel [ "." ], labels of
	 * alphanum and inner '-', the top label starting with a letter; one
	 * pass, IPv4 checked apart */
	for (; n < len; n++) {
		uint8_t c = p[n];
		uint16_t cls = sip_cc[c];

		if (!(cls & C_HOST)) {
			break;
		}
		if (c == '.') {
			if (n == label || p[n - 1] == '-' || p[label] == '-') {
				return -TL_EPARSE;
			}
			top = label;
			label = n + 1;
			continue;
		}
		numeric &= (cls & C_DIGIT) != 0;
	}
	if (n == 0 || n > 255) {
		return -TL_EPARSE;
	}
	*host = (struct slice){p, n};
	if (numeric) {
		if (ipv4_check(*host) < 0) {
			return -TL_EPARSE;
		}
		*type = SIP_HOST_IPV4;
	} else {
		if (label < n) {
			/* no trailing dot: the last label is the top one */
			if (p[n - 1] == '-' || p[label] == '-') {
				return -TL_EPARSE;
			}
			top = label;
		}
		if (!sip_is(p[top], C_ALPHA)) {
			return -TL_EPARSE;
		}
		*type = SIP_HOST_NAME;
	}
	*used = n;
	return 0;
}

/* Bytes of a generic-param name or unquoted value (RFC 3261 §25.1:
 * token / host, lenient about URI paramchars). */
#define C_PVAL (C_TOKEN | C_UNRES | C_PARAM)

int sip_param_one(struct sip_scan *s, struct slice *name, struct slice *value)
{
	sip_scan_lws(s);
	*name = sip_scan_run(s, C_PVAL);
	if (name->len == 0) {
		return -TL_EPARSE;
	}
	*value = SLICE_NULL;
	if (sip_scan_sep(s, '=')) {
		if (s->p < s->end && *s->p == '"') {
			const uint8_t *q = s->p;
			struct slice inner;
			int rc = sip_scan_quoted(s, &inner);

			if (rc < 0) {
				return rc;
			}
			*value = sip_sl(q, s->p);
		} else {
			*value = sip_scan_run(s, C_PVAL);
			if (value->len == 0) {
				return -TL_EPARSE;
			}
		}
	}
	return 0;
}

int sip_scan_params(struct sip_scan *s, struct slice *params)
{
	const uint8_t *start = NULL, *last = NULL;

	*params = SLICE_NULL;
	while (sip_scan_sep(s, ';')) {
		struct slice name, value;
		int rc;

		if (start == NULL) {
			start = s->p;
		}
		rc = sip_param_one(s, &name, &value);
		if (rc < 0) {
			return rc;
		}
		last = s->p;
	}
	if (start != NULL) {
		*params = sip_sl(start, last);
	}
	return 0;
}

int sip_param_next(struct slice *state, struct slice *name, struct slice *value)
{
	struct sip_scan s;
	int rc;

	if (state->p == NULL || state->len == 0) {
		return 0;
	}
	sip_scan_init(&s, *state);
	rc = sip_param_one(&s, name, value);
	if (rc < 0) {
		return rc;
	}
	sip_scan_lws(&s);
	if (sip_scan_eof(&s)) {
		*state = SLICE_NULL;
		return 1;
	}
	if (*s.p != ';') {
		return -TL_EPARSE;
	}
	s.p++;
	if (sip_scan_eof(&s)) {
		return -TL_EPARSE; /* a trailing ';' names nothing */
	}
	*state = sip_sl(s.p, s.end);
	return 1;
}

int sip_param_get(struct slice params, const char *name, struct slice *value)
{
	struct slice st = params, n, v;
	struct slice want = slice_from_str(name);
	int rc;

	while ((rc = sip_param_next(&st, &n, &v)) == 1) {
		if (slice_eq_nocase(n, want)) {
			/* a present flag parameter still has a non-NULL p */
			*value = v.p ? v : (struct slice){n.p + n.len, 0};
			return 0;
		}
	}
	return rc < 0 ? rc : -TL_ENOTFOUND;
}

int sip_auth_param_next(struct slice *state, struct slice *name,
                        struct slice *value, bool *quoted)
{
	struct sip_scan s;

	if (state->p == NULL) {
		return 0;
	}
	sip_scan_init(&s, *state);
	sip_scan_lws(&s);
	if (sip_scan_eof(&s)) {
		*state = SLICE_NULL;
		return 0;
	}
	*name = sip_scan_run(&s, C_TOKEN);
	if (name->len == 0 || !sip_scan_sep(&s, '=')) {
		return -TL_EPARSE;
	}
	*quoted = false;
	if (s.p < s.end && *s.p == '"') {
		int rc = sip_scan_quoted(&s, value);

		if (rc < 0) {
			return rc;
		}
		*quoted = true;
	} else {
		*value = sip_scan_run(&s, C_PVAL);
		if (value->len == 0) {
			return -TL_EPARSE;
		}
	}
	sip_scan_lws(&s);
	if (sip_scan_eof(&s)) {
		*state = (struct slice){s.p, 0};
		return 1;
	}
	if (*s.p != ',') {
		return -TL_EPARSE;
	}
	s.p++;
	sip_scan_lws(&s);
	if (sip_scan_eof(&s)) {
		return -TL_EPARSE; /* a trailing comma names nothing */
	}
	*state = sip_sl(s.p, s.end);
	return 1;
}

int sip_auth_param_get(const struct sip_auth *a, const char *name,
                       struct slice *value, bool *quoted)
{
	struct slice st = a->params, n, v;
	struct slice want = slice_from_str(name);
	bool q;
	int rc;

	while ((rc = sip_auth_param_next(&st, &n, &v, &q)) == 1) {
		if (slice_eq_nocase(n, want)) {
			*value = v;
			*quoted = q;
			return 0;
		}
	}
	return rc < 0 ? rc : -TL_ENOTFOUND;
}

int sip_unquote(struct slice in, uint8_t *dst, size_t dstlen, size_t *outlen)
{
	size_t o = 0;

	for (size_t i = 0; i < in.len; i++) {
		uint8_t c = in.p[i];

		if (c == '\\') {
			if (i + 1 >= in.len) {
				return -TL_EPARSE;
			}
			c = in.p[++i];
		}
		if (o >= dstlen) {
			return -TL_ETOOBIG;
		}
		dst[o++] = c;
	}
	*outlen = o;
	return 0;
}
