/* libFuzzer target for what a media session does with a received datagram
 * (media_session_input: RTP parse, payload type, RFC 3550 accounting,
 * silence fill, G.711 decode, RFC 4733 digit state). The first byte
 * chooses the codec (bit 0) and whether DTMF is on (bit 1); the rest is a
 * sequence of datagrams, each a 2-byte big-endian length and its bytes,
 * fed to a fresh plain-RTP session. Every datagram must be either accepted
 * or counted as refused, and the sink never gets more than 2 s of filler
 * plus the payload per packet. */
#include "media/media.h"

#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static size_t samples;

static void sink(const int16_t *pcm, size_t n, void *arg)
{
	samples += n;
}

static void digit(char d, unsigned ms, void *arg)
{
	if (media_dtmf_event(d) < 0) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	struct media_session_conf c;
	struct media_session *s;
	struct media_stats st;
	uint8_t pkt[MEDIA_RTP_MAX_PACKET];
	size_t off = 1, fed = 0;

	if (size == 0) {
		return 0;
	}
	if (!base) {
		base = event_base_new();
	}
	memset(&c, 0, sizeof(c));
	if (net_addr_set(&c.local, "127.0.0.1", 0) != 0) {
		abort();
	}
	c.codec = (data[0] & 1) ? MEDIA_PCMA : MEDIA_PCMU;
	c.dtmf_pt = (data[0] & 2) ? MEDIA_DTMF_PT_DEFAULT : 0;
	c.on_dtmf = digit;
	if (media_session_new(&s, base, &c) != 0) {
		return 0; /* out of sockets: not the code under test */
	}
	media_session_set_sink(s, sink, NULL);
	samples = 0;
	while (size - off >= 2) {
		size_t n = (size_t)data[off] << 8 | data[off + 1];

		off += 2;
		if (n > size - off) {
			n = size - off;
		}
		if (n > sizeof(pkt)) {
			n = sizeof(pkt);
		}
		memcpy(pkt, data + off, n);
		off += n;
		(void)!media_session_input(s, pkt, n);
		fed++;
	}
	media_session_stats(s, &st);
	if (st.received + st.bad != fed ||
	    samples > fed * (2 * MEDIA_RATE + MEDIA_RTP_MAX_PACKET)) {
		abort();
	}
	media_session_free(s);
	return 0;
}
