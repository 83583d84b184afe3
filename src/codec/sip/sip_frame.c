/* Stream framing for SIP over TCP/TLS (RFC 3261 §18.3, RFC 5626 §3.5.1):
 * find where one message ends in a byte stream. */
#include "codec/sip/sip_int.h"

#include <string.h>

void sip_framer_init(struct sip_framer *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = (max == 0 || max > SIP_MSG_MAX_SIZE) ? SIP_MSG_MAX_SIZE : max;
}

/* The Content-Length of a complete header block (which ends with
 * CRLFCRLF). -TL_ENOTFOUND without one. */
static int head_clen(const uint8_t *p, size_t len, size_t *out)
{
	const uint8_t *end = p + len;
	const uint8_t *line = memchr(p, '\n', len); /* skip the start line */
	bool have = false;
	uint64_t val = 0;

	while (line != NULL && ++line < end) {
		const uint8_t *q = line, *ns = line, *vs, *ve;
		size_t nl;

		while (q < end && sip_is(*q, C_TOKEN)) {
			q++;
		}
		nl = (size_t)(q - ns);
		while (q < end && (*q == ' ' || *q == '\t')) {
			q++;
		}
		if (q < end && *q == ':' &&
		    ((nl == 1 && sip_lower(*ns) == 'l') ||
		     (nl == 14 &&
		      slice_eq_nocase((struct slice){ns, 14},
		                      SLICE_LIT("content-length"))))) {
			uint64_t v;

			vs = q + 1;
			/* the value runs to a CRLF not followed by WSP */
			ve = vs;
			while (ve + 2 < end &&
			       !(ve[0] == '\r' && ve[1] == '\n' &&
			         ve[2] != ' ' && ve[2] != '\t')) {
				ve++;
			}
			if (sip_num(slice_trim(sip_sl(vs, ve)), UINT32_MAX,
			            &v) < 0) {
				return -TL_EPARSE;
			}
			/* RFC 4475 §3.3.9: two different values */
			if (have && v != val) {
				return -TL_EPARSE;
			}
			have = true;
			val = v;
		}
		line = memchr(line, '\n', (size_t)(end - line));
		/* a folded line continues the previous header */
		while (line != NULL && line + 1 < end &&
		       (line[1] == ' ' || line[1] == '\t')) {
			line = memchr(line + 1, '\n', (size_t)(end - line - 1));
		}
	}
	if (!have) {
		return -TL_ENOTFOUND;
	}
	*out = (size_t)val;
	return 0;
}

int sip_framer_feed(struct sip_framer *f, const uint8_t *p, size_t len,
                    size_t *n)
{
	if (f->max == 0) {
		sip_framer_init(f, 0);
	}
	if (f->head_len == 0) {
		const uint8_t *hit;
		size_t from;
		size_t clen = 0;
		int rc;

		if (f->scanned == 0 && len > 0 && p[0] == '\r') {
			/* RFC 5626 §3.5.1 keepalives between messages */
			if (len < 2 || (len == 2 && p[1] == '\n') ||
			    (len == 3 && p[1] == '\n' && p[2] == '\r')) {
				return SIP_FRAME_NEED_MORE;
			}
			if (p[1] != '\n') {
				return -TL_EPARSE;
			}
			*n = (len >= 4 && p[2] == '\r' && p[3] == '\n') ? 4 : 2;
			return SIP_FRAME_KEEPALIVE;
		}
		from = f->scanned > 3 ? f->scanned - 3 : 0;
		hit = len > from ? memmem(p + from, len - from, "\r\n\r\n", 4)
		                 : NULL;
		if (hit == NULL) {
			f->scanned = len;
			if (len > SIP_MSG_MAX_HEAD || len > f->max) {
				return -TL_ETOOBIG;
			}
			return SIP_FRAME_NEED_MORE;
		}
		f->head_len = (size_t)(hit - p) + 4;
		if (f->head_len > SIP_MSG_MAX_HEAD || f->head_len > f->max) {
			return -TL_ETOOBIG;
		}
		rc = head_clen(p, f->head_len, &clen);
		if (rc == -TL_ENOTFOUND) {
			/* RFC 3261 §18.3 makes it mandatory: frame the head
			 * alone and let sip_msg_parse() answer 400 */
			clen = 0;
		} else if (rc < 0) {
			return rc;
		}
		if (clen > f->max - f->head_len) {
			return -TL_ETOOBIG;
		}
		f->body_len = clen;
	}
	if (len < f->head_len + f->body_len) {
		return SIP_FRAME_NEED_MORE;
	}
	*n = f->head_len + f->body_len;
	sip_framer_init(f, f->max);
	return SIP_FRAME_MESSAGE;
}

int sip_frame(const uint8_t *p, size_t len, size_t *n, void *arg)
{
	struct sip_framer f;

	(void)arg;
	sip_framer_init(&f, 0);
	return sip_framer_feed(&f, p, len, n);
}
