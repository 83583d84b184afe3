/* libFuzzer target for the CAPF message parser (src/codec/capf): framing,
 * parsing and every typed element read. An accepted message is printed
 * again element by element and must parse to the same elements. */
#include "base/buf.h"
#include "codec/capf/capf_msg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct capf_msg m, again;
	char s[CAPF_CERT_MAX + 1];
	struct slice sl;
	uint8_t u8;
	uint16_t u16;
	size_t n;
	struct buf b;

	int fr = capf_frame(data, size, &n);
	if (fr == 1 && (n > size || n < CAPF_HDR_LEN)) {
		abort();
	}
	if (capf_msg_parse(&m, data, size) != 0) {
		return 0;
	}
	if (fr != 1 || n != size) {
		abort(); /* the framer must agree with the parser */
	}
	buf_init(&b, 0);
	size_t start = capf_msg_begin(&b, m.cmd, m.session);
	for (unsigned t = 1; t <= CAPF_TAG_MAX; t++) {
		if (!capf_msg_has(&m, t)) {
			continue;
		}
		(void)(capf_msg_u8(&m, t, &u8) == 0);
		(void)(capf_msg_u16(&m, t, &u16) == 0);
		if (capf_msg_str(&m, t, s, sizeof(s)) == 0 &&
		    strlen(s) >= m.el[t].len + 1 && m.el[t].len != 0) {
			abort();
		}
		capf_put_bytes(&b, t, m.el[t].p, m.el[t].len);
	}
	(void)(capf_msg_cert(&m, &u8, &sl) == 0);
	(void)(capf_msg_sig2(&m, &u8, &sl) == 0);
	if (capf_msg_end(&b, start) != 0 ||
	    capf_msg_parse(&again, b.p, b.len) != 0 || again.cmd != m.cmd ||
	    again.session != m.session || again.present != m.present) {
		abort();
	}
	for (unsigned t = 1; t <= CAPF_TAG_MAX; t++) {
		if (capf_msg_has(&m, t) && !slice_eq(m.el[t], again.el[t])) {
			abort();
		}
	}
	buf_free(&b);
	return 0;
}
