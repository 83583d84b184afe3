/* Tone generator (one or two sines) and a Goertzel detector. */
#include "media/media.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

struct media_tone {
	double step[2]; /* radians per sample */
	double phase[2];
	double amp[2];
	int n;
};

int media_tone_new(struct media_tone **out, unsigned f1, unsigned f2,
                   int16_t amplitude)
{
	struct media_tone *t;

	*out = NULL;
	if (f1 == 0 || f1 >= MEDIA_RATE / 2 || f2 >= MEDIA_RATE / 2 ||
	    amplitude <= 0) {
		return -EINVAL;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		return -ENOMEM;
	}
	t->n = f2 ? 2 : 1;
	t->step[0] = 2.0 * M_PI * f1 / MEDIA_RATE;
	t->step[1] = 2.0 * M_PI * f2 / MEDIA_RATE;
	t->amp[0] = t->amp[1] = t->n == 2 ? amplitude / 2.0 : amplitude;
	*out = t;
	return 0;
}

void media_tone_fill(struct media_tone *t, int16_t *pcm, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		double v = 0;

		for (int k = 0; k < t->n; k++) {
			v += t->amp[k] * sin(t->phase[k]);
			t->phase[k] += t->step[k];
			/* keep the phase small so precision never drifts */
			if (t->phase[k] >= 2.0 * M_PI) {
				t->phase[k] -= 2.0 * M_PI;
			}
		}
		pcm[i] = (int16_t)lrint(v);
	}
}

void media_tone_free(struct media_tone *t)
{
	free(t);
}

/* Goertzel (G. Goertzel, 1958): the squared magnitude of the DFT term at
 * freq, with the generalised coefficient so freq need not fall on a bin.
 * Normalised by the signal's energy: a pure sine at freq gives 1. */
double media_tone_power(const int16_t *pcm, size_t n, double freq)
{
	double w = 2.0 * M_PI * freq / MEDIA_RATE;
	double coeff = 2.0 * cos(w);
	double s1 = 0, s2 = 0, energy = 0;

	if (n == 0) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		double x = pcm[i];
		double s0 = x + coeff * s1 - s2;

		s2 = s1;
		s1 = s0;
		energy += x * x;
	}
	if (energy <= 0) {
		return 0;
	}
	double mag2 = s1 * s1 + s2 * s2 - coeff * s1 * s2;
	double share = 2.0 * mag2 / ((double)n * energy);
	return share > 1.0 ? 1.0 : share;
}

#define DETECT_SHARE   0.4
#define DETECT_MIN_RMS 64.0

bool media_tone_detect(const int16_t *pcm, size_t n, double freq)
{
	double energy = 0;

	if (n == 0) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		energy += (double)pcm[i] * pcm[i];
	}
	if (sqrt(energy / (double)n) < DETECT_MIN_RMS) {
		return false;
	}
	return media_tone_power(pcm, n, freq) >= DETECT_SHARE;
}
