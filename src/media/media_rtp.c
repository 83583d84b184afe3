/* RTP header codec (RFC 3550 §5.1) and the RFC 4733 telephone-event
 * payload. Pure functions: no socket, no loop, fuzzed alone. */
#include "media/media.h"

#include "base/cur.h"

#include <errno.h>
#include <string.h>

/* RFC 3550 §5.1: V=2. */
#define RTP_VERSION 2

int media_rtp_parse(struct media_rtp_hdr *h, const uint8_t *p, size_t len)
{
	struct cur c;
	uint8_t b0, b1;
	int err;

	memset(h, 0, sizeof(*h));
	cur_init(&c, p, len);
	if (len < MEDIA_RTP_HDR_LEN) {
		return -TL_ETRUNC;
	}
	err = cur_u8(&c, &b0);
	if (!err) {
		err = cur_u8(&c, &b1);
	}
	if (!err) {
		err = cur_u16be(&c, &h->seq);
	}
	if (!err) {
		err = cur_u32be(&c, &h->ts);
	}
	if (!err) {
		err = cur_u32be(&c, &h->ssrc);
	}
	if (err) {
		return err;
	}
	h->version = b0 >> 6;
	if (h->version != RTP_VERSION) {
		return -TL_EPARSE;
	}
	h->padding = (b0 & 0x20) != 0;
	h->extension = (b0 & 0x10) != 0;
	h->cc = b0 & 0x0f;
	h->marker = (b1 & 0x80) != 0;
	h->pt = b1 & 0x7f;
	for (uint8_t i = 0; i < h->cc; i++) {
		err = cur_u32be(&c, &h->csrc[i]);
		if (err) {
			return err;
		}
	}
	if (h->extension) {
		/* RFC 3550 §5.3.1: profile-defined 16 bits, then the
		 * length in 32-bit words, not counting the 4-byte header. */
		uint16_t words;

		err = cur_u16be(&c, &h->ext_profile);
		if (!err) {
			err = cur_u16be(&c, &words);
		}
		if (!err) {
			err = cur_bytes(&c, (size_t)words * 4, &h->ext);
		}
		if (err) {
			return err;
		}
	}
	h->hdr_len = c.off;
	size_t body = cur_left(&c);
	if (h->padding) {
		/* RFC 3550 §5.1: the last octet counts the padding octets,
		 * itself included; zero is meaningless, and the padding can
		 * never reach into the header. */
		uint8_t n = p[len - 1];

		if (body == 0 || n == 0 || n > body) {
			return -TL_EPARSE;
		}
		h->pad_len = n;
		body -= n;
	}
	err = cur_bytes(&c, body, &h->payload);
	if (!err) {
		err = cur_skip(&c, h->pad_len);
	}
	if (!err) {
		err = cur_end(&c);
	}
	return err;
}

int media_rtp_build(const struct media_rtp_hdr *h, struct slice payload,
                    uint8_t *out, size_t cap, size_t *out_len)
{
	size_t need;

	if (h->pt > 127 || h->cc > MEDIA_RTP_MAX_CSRC) {
		return -EINVAL;
	}
	need = MEDIA_RTP_HDR_LEN + (size_t)h->cc * 4;
	if (payload.len > cap || need > cap - payload.len) {
		return -TL_ETOOBIG;
	}
	out[0] = (uint8_t)(RTP_VERSION << 6 | h->cc);
	out[1] = (uint8_t)((h->marker ? 0x80 : 0) | h->pt);
	out[2] = (uint8_t)(h->seq >> 8);
	out[3] = (uint8_t)h->seq;
	out[4] = (uint8_t)(h->ts >> 24);
	out[5] = (uint8_t)(h->ts >> 16);
	out[6] = (uint8_t)(h->ts >> 8);
	out[7] = (uint8_t)h->ts;
	out[8] = (uint8_t)(h->ssrc >> 24);
	out[9] = (uint8_t)(h->ssrc >> 16);
	out[10] = (uint8_t)(h->ssrc >> 8);
	out[11] = (uint8_t)h->ssrc;
	for (uint8_t i = 0; i < h->cc; i++) {
		uint8_t *q = out + MEDIA_RTP_HDR_LEN + (size_t)i * 4;

		q[0] = (uint8_t)(h->csrc[i] >> 24);
		q[1] = (uint8_t)(h->csrc[i] >> 16);
		q[2] = (uint8_t)(h->csrc[i] >> 8);
		q[3] = (uint8_t)h->csrc[i];
	}
	if (payload.len) {
		memmove(out + need, payload.p, payload.len);
	}
	*out_len = need + payload.len;
	return 0;
}

int media_dtmf_parse(struct media_dtmf *d, const uint8_t *p, size_t len)
{
	struct cur c;
	uint8_t flags;
	int err;

	memset(d, 0, sizeof(*d));
	cur_init(&c, p, len);
	err = cur_u8(&c, &d->event);
	if (!err) {
		err = cur_u8(&c, &flags);
	}
	if (!err) {
		err = cur_u16be(&c, &d->duration);
	}
	if (!err) {
		err = cur_end(&c);
	}
	if (err) {
		return err;
	}
	/* RFC 4733 §2.3: R is reserved, sent as zero. */
	if (flags & 0x40) {
		return -TL_EPARSE;
	}
	/* RFC 4733 §3.2: events 0-15 are the DTMF digits. */
	if (d->event > 15) {
		return -TL_EUNKNOWN;
	}
	d->end = (flags & 0x80) != 0;
	d->volume = flags & 0x3f;
	return 0;
}

void media_dtmf_build(const struct media_dtmf *d, uint8_t out[MEDIA_DTMF_LEN])
{
	out[0] = d->event;
	out[1] = (uint8_t)((d->end ? 0x80 : 0) | (d->volume & 0x3f));
	out[2] = (uint8_t)(d->duration >> 8);
	out[3] = (uint8_t)d->duration;
}

int media_dtmf_event(char digit)
{
	if (digit >= '0' && digit <= '9') {
		return digit - '0';
	}
	switch (digit) {
	case '*':
		return 10;
	case '#':
		return 11;
	case 'A':
	case 'a':
		return 12;
	case 'B':
	case 'b':
		return 13;
	case 'C':
	case 'c':
		return 14;
	case 'D':
	case 'd':
		return 15;
	default:
		return -EINVAL;
	}
}

char media_dtmf_char(uint8_t event)
{
	static const char map[] = "0123456789*#ABCD";

	return event < 16 ? map[event] : '?';
}
