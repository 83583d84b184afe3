/* libFuzzer target for the RTP header parser (RFC 3550 §5.1) and the
 * RFC 4733 telephone-event payload parser (src/media). The first byte
 * chooses: even, RTP; odd, telephone-event. An accepted RTP packet must
 * account for every byte, and without padding or extension must print back
 * to the same bytes; an accepted event must print back to its 4 bytes. */
#include "media/media.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void rtp(const uint8_t *data, size_t size)
{
	struct media_rtp_hdr h, again;
	uint8_t out[2048];
	size_t len;

	if (media_rtp_parse(&h, data, size) != 0) {
		return;
	}
	if (h.version != 2 || h.cc > MEDIA_RTP_MAX_CSRC || h.pt > 127 ||
	    h.hdr_len < MEDIA_RTP_HDR_LEN ||
	    h.hdr_len + h.payload.len + h.pad_len != size ||
	    (h.payload.len && h.payload.p != data + h.hdr_len) ||
	    (h.padding != (h.pad_len != 0)) ||
	    (h.extension && h.ext.len % 4 != 0)) {
		abort();
	}
	if (h.padding || h.extension || size > sizeof(out)) {
		return;
	}
	if (media_rtp_build(&h, h.payload, out, sizeof(out), &len) != 0 ||
	    len != size || memcmp(out, data, size) != 0 ||
	    media_rtp_parse(&again, out, len) != 0 || again.seq != h.seq ||
	    again.ts != h.ts || again.ssrc != h.ssrc) {
		abort();
	}
}

static void dtmf(const uint8_t *data, size_t size)
{
	struct media_dtmf d;
	uint8_t out[MEDIA_DTMF_LEN];

	if (media_dtmf_parse(&d, data, size) != 0) {
		return;
	}
	media_dtmf_build(&d, out);
	if (size != MEDIA_DTMF_LEN || memcmp(out, data, size) != 0 ||
	    media_dtmf_char(d.event) == '?') {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	if (data[0] & 1) {
		dtmf(data + 1, size - 1);
	} else {
		rtp(data + 1, size - 1);
	}
	return 0;
}
