/* libFuzzer target for sdp_parse (RFC 4566 / RFC 4568). Every accepted
 * description is printed three ways (as parsed, crypto stripped for a
 * non-TLS leg, two suites kept); each print must parse again, and the
 * stripped one must hold no crypto attribute and no RTP/SAVP section with
 * keys: an SDES key must never reach a leg that is not TLS. */
#include "base/buf.h"
#include "codec/sdp/sdp.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void reprint(const struct sdp *s, const struct sdp_out *o)
{
	struct sdp *back = NULL;
	struct buf b;

	buf_init(&b, 0);
	if (sdp_print(&b, s, o) != 0 || sdp_new(&back) != 0) {
		abort();
	}
	if (sdp_parse(back, b.p, b.len) != 0) {
		abort();
	}
	if (o->strip_crypto && sdp_has_crypto(back)) {
		abort();
	}
	if (sdp_media_count(back) != sdp_media_count(s)) {
		abort();
	}
	if (memmem(b.p, b.len, "\r\n\r\n", 4) != NULL) {
		abort(); /* no empty line: a SIP body must stay one body */
	}
	sdp_free(back);
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sdp *s = NULL;

	if (sdp_new(&s) != 0) {
		return 0;
	}
	if (sdp_parse(s, data, size) == 0) {
		reprint(s, &(struct sdp_out){.strip_crypto = false});
		reprint(s, &(struct sdp_out){.strip_crypto = true});
		reprint(s, &(struct sdp_out){
		                   .suites = SDP_SUITE_AES_CM_128_HMAC_SHA1_80 |
		                             SDP_SUITE_AEAD_AES_128_GCM});
	}
	sdp_free(s);
	return 0;
}
