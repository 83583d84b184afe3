/* libFuzzer target for SIP/SIPS/TEL URIs: parse, and a parsed URI must
 * print to a URI that parses again and compares equal; also the name-addr
 * and Contact parsers on the same bytes. */
#include "base/buf.h"
#include "codec/sip/sip_msg.h"
#include "codec/sip/sip_uri.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_uri u, u2;
	struct sip_addr a;
	struct sip_contact c;
	struct slice st, n, v;
	uint8_t tmp[512];
	size_t len;
	struct buf b;

	if (sip_uri_parse(&u, data, size) == 0) {
		buf_init(&b, 1 << 16);
		sip_uri_print(&b, &u);
		if (buf_err(&b) != 0 || sip_uri_parse(&u2, b.p, b.len) != 0 ||
		    !sip_uri_eq(&u, &u2) || !sip_uri_eq(&u2, &u)) {
			abort();
		}
		buf_free(&b);
		if (sip_uri_unescape(u.user, tmp, sizeof(tmp), &len) == 0 &&
		    len > u.user.len) {
			abort();
		}
		st = u.headers;
		while (sip_uri_header_next(&st, &n, &v) == 1) {
		}
		if (sip_uri_param(&u, "transport", &v) == 0 && v.p == NULL) {
			abort();
		}
	}
	if (sip_addr_parse(&a, (struct slice){data, size}) == 0) {
		buf_init(&b, 1 << 16);
		sip_addr_print(&b, &a);
		if (buf_err(&b) != 0 ||
		    sip_addr_parse(&a, buf_slice(&b)) != 0) {
			abort();
		}
		buf_free(&b);
	}
	if (sip_contact_parse(&c, (struct slice){data, size}) == 0 && c.has_q &&
	    c.q > 1000) {
		abort();
	}
	return 0;
}
