/* ITU-T G.711 µ-law and A-law, table-driven: the 256 decoded values and
 * the code of every 16-bit sample are computed once from the segment
 * definitions of G.711 Tables 1a/1b and 2a/2b, then looked up. */
#include "media/media.h"

#include <pthread.h>

static int16_t ulaw_dec[256];
static int16_t alaw_dec[256];
static uint8_t ulaw_enc[65536]; /* indexed by (uint16_t)sample */
static uint8_t alaw_enc[65536];
static pthread_once_t g711_once = PTHREAD_ONCE_INIT;

/* G.711 µ-law: a 14-bit magnitude with a bias of 33 (0x84 on the 16-bit
 * scale), 8 segments of 16 steps, every bit inverted on the wire. */
#define ULAW_BIAS 0x84
#define ULAW_CLIP 32635

static uint8_t ulaw_compute(int sample)
{
	uint8_t sign = 0;
	int mag = sample;
	int seg = 0;

	if (mag < 0) {
		sign = 0x80;
		mag = -mag;
	}
	if (mag > ULAW_CLIP) {
		mag = ULAW_CLIP;
	}
	mag += ULAW_BIAS;
	for (int v = mag >> 8; v > 0 && seg < 7; v >>= 1) {
		seg++;
	}
	uint8_t mant = (uint8_t)((mag >> (seg + 3)) & 0x0f);
	return (uint8_t) ~(sign | (uint8_t)(seg << 4) | mant);
}

static int16_t ulaw_expand(uint8_t code)
{
	uint8_t u = (uint8_t)~code;
	int t = (((u & 0x0f) << 3) + ULAW_BIAS) << ((u & 0x70) >> 4);

	return (int16_t)((u & 0x80) ? ULAW_BIAS - t : t - ULAW_BIAS);
}

/* G.711 A-law: a 13-bit value, segments 0 and 1 linear, even bits
 * inverted on the wire (XOR 0x55), the sign bit set for positive. */
static uint8_t alaw_compute(int sample)
{
	int v = sample >> 3; /* 13 bits */
	uint8_t mask;
	uint8_t code;
	int seg = 0;

	if (v >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		v = -v - 1;
	}
	for (int end = 0x1f; seg < 8 && v > end; end = end << 1 | 1) {
		seg++;
	}
	if (seg >= 8) {
		code = 0x7f;
	} else if (seg < 2) {
		code = (uint8_t)((seg << 4) | ((v >> 1) & 0x0f));
	} else {
		code = (uint8_t)((seg << 4) | ((v >> seg) & 0x0f));
	}
	return code ^ mask;
}

static int16_t alaw_expand(uint8_t code)
{
	uint8_t a = code ^ 0x55;
	int t = (a & 0x0f) << 4;
	int seg = (a & 0x70) >> 4;

	if (seg == 0) {
		t += 8;
	} else {
		t = (t + 0x108) << (seg - 1);
	}
	return (int16_t)((a & 0x80) ? t : -t);
}

static void g711_build(void)
{
	for (int c = 0; c < 256; c++) {
		ulaw_dec[c] = ulaw_expand((uint8_t)c);
		alaw_dec[c] = alaw_expand((uint8_t)c);
	}
	for (int s = -32768; s < 32768; s++) {
		ulaw_enc[(uint16_t)s] = ulaw_compute(s);
		alaw_enc[(uint16_t)s] = alaw_compute(s);
	}
}

static inline void g711_init(void)
{
	(void)pthread_once(&g711_once, g711_build);
}

uint8_t media_g711_ulaw_encode(int16_t pcm)
{
	g711_init();
	return ulaw_enc[(uint16_t)pcm];
}

int16_t media_g711_ulaw_decode(uint8_t code)
{
	g711_init();
	return ulaw_dec[code];
}

uint8_t media_g711_alaw_encode(int16_t pcm)
{
	g711_init();
	return alaw_enc[(uint16_t)pcm];
}

int16_t media_g711_alaw_decode(uint8_t code)
{
	g711_init();
	return alaw_dec[code];
}

void media_g711_encode(enum media_codec codec, const int16_t *pcm, size_t n,
                       uint8_t *out)
{
	const uint8_t *tab = codec == MEDIA_PCMA ? alaw_enc : ulaw_enc;

	g711_init();
	for (size_t i = 0; i < n; i++) {
		out[i] = tab[(uint16_t)pcm[i]];
	}
}

void media_g711_decode(enum media_codec codec, const uint8_t *in, size_t n,
                       int16_t *pcm)
{
	const int16_t *tab = codec == MEDIA_PCMA ? alaw_dec : ulaw_dec;

	g711_init();
	for (size_t i = 0; i < n; i++) {
		pcm[i] = tab[in[i]];
	}
}

const char *media_codec_name(enum media_codec codec)
{
	switch (codec) {
	case MEDIA_PCMU:
		return "PCMU";
	case MEDIA_PCMA:
		return "PCMA";
	}
	return "?";
}
