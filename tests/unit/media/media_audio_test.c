/* G.711 (ITU-T G.711), tone generator, Goertzel detector, WAV files. */
#include "media/media.h"

#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- G.711 ---- */

static const struct {
	uint8_t code;
	int16_t ulaw, alaw;
} known[] = {
        /* G.711 Tables 2a/2b (µ-law) and 1a/1b (A-law), scaled to 16 bits:
         * the extremes and the smallest steps around zero. */
        {0x00, -32124, -5504}, {0x80, 32124, 5504}, {0xff, 0, 848},
        {0x7f, 0, -848},       {0xfe, 8, 880},      {0x7e, -8, -880},
        {0xd5, 716, 8},        {0x55, -716, -8},    {0xaa, 5372, 32256},
        {0x2a, -5372, -32256}, {0xd4, 748, 24},     {0x54, -748, -24},
};

static void test_g711_known(void **state)
{
	for (size_t i = 0; i < N(known); i++) {
		int16_t u = media_g711_ulaw_decode(known[i].code);
		int16_t a = media_g711_alaw_decode(known[i].code);

		if (u != known[i].ulaw || a != known[i].alaw) {
			fail_msg("code %02x: ulaw %d (want %d) alaw %d (want "
			         "%d)",
			         known[i].code, u, known[i].ulaw, a,
			         known[i].alaw);
		}
	}
	assert_int_equal(media_g711_ulaw_encode(0), 0xff);
	assert_int_equal(media_g711_ulaw_encode(32767), 0x80);
	assert_int_equal(media_g711_ulaw_encode(-32768), 0x00);
	assert_int_equal(media_g711_alaw_encode(0), 0xd5);
	assert_int_equal(media_g711_alaw_encode(-1), 0x55);
	assert_int_equal(media_g711_alaw_encode(32767), 0xaa);
	assert_int_equal(media_g711_alaw_encode(-32768), 0x2a);
}

/* Every 8-bit code decodes to a value that encodes back to the same code
 * (µ-law's negative zero 0x7f excepted: it decodes to 0, which is 0xff). */
static void test_g711_exhaustive_codes(void **state)
{
	for (int c = 0; c < 256; c++) {
		uint8_t u = media_g711_ulaw_encode(
		        media_g711_ulaw_decode((uint8_t)c));
		uint8_t a = media_g711_alaw_encode(
		        media_g711_alaw_decode((uint8_t)c));

		if (c == 0x7f) {
			assert_int_equal(u, 0xff);
		} else if (u != c) {
			fail_msg("ulaw %02x -> %02x", c, u);
		}
		if (a != c) {
			fail_msg("alaw %02x -> %02x", c, a);
		}
	}
}

/* Every 16-bit sample: the quantisation error stays within the segment's
 * half-step (|s|/16 + 16 bounds both laws), encoding is monotonic, and
 * the bulk functions agree with the single-sample ones. */
static void test_g711_exhaustive_samples(void **state)
{
	int16_t prev_u = -32768, prev_a = -32768;
	static int16_t pcm[65536], back[65536];
	static uint8_t enc[65536];

	for (int s = -32768; s < 32768; s++) {
		int16_t du = media_g711_ulaw_decode(
		        media_g711_ulaw_encode((int16_t)s));
		int16_t da = media_g711_alaw_decode(
		        media_g711_alaw_encode((int16_t)s));
		int bound = abs(s) / 16 + 16;

		if (abs(du - s) > bound || abs(da - s) > bound) {
			fail_msg("sample %d: ulaw %d alaw %d", s, du, da);
		}
		if (du < prev_u || da < prev_a) {
			fail_msg("not monotonic at %d", s);
		}
		prev_u = du;
		prev_a = da;
		pcm[s + 32768] = (int16_t)s;
	}
	media_g711_encode(MEDIA_PCMU, pcm, 65536, enc);
	media_g711_decode(MEDIA_PCMU, enc, 65536, back);
	for (int i = 0; i < 65536; i++) {
		assert_int_equal(enc[i], media_g711_ulaw_encode(pcm[i]));
		assert_int_equal(back[i], media_g711_ulaw_decode(enc[i]));
	}
	media_g711_encode(MEDIA_PCMA, pcm, 65536, enc);
	media_g711_decode(MEDIA_PCMA, enc, 65536, back);
	for (int i = 0; i < 65536; i++) {
		assert_int_equal(enc[i], media_g711_alaw_encode(pcm[i]));
		assert_int_equal(back[i], media_g711_alaw_decode(enc[i]));
	}
	assert_string_equal(media_codec_name(MEDIA_PCMU), "PCMU");
	assert_string_equal(media_codec_name(MEDIA_PCMA), "PCMA");
}

/* ---- tones ---- */

static void test_tone_generator(void **state)
{
	struct media_tone *t;
	int16_t pcm[800];
	int peak = 0;

	assert_int_equal(media_tone_new(&t, 0, 0, 1000), -EINVAL);
	assert_int_equal(media_tone_new(&t, 4000, 0, 1000), -EINVAL);
	assert_int_equal(media_tone_new(&t, 1000, 4000, 1000), -EINVAL);
	assert_int_equal(media_tone_new(&t, 1000, 0, 0), -EINVAL);
	assert_int_equal(media_tone_new(&t, 1000, 0, -5), -EINVAL);
	assert_int_equal(media_tone_new(&t, 1000, 0, 16000), 0);
	/* filled in pieces: the phase continues across calls */
	media_tone_fill(t, pcm, 100);
	media_tone_fill(t, pcm + 100, 700);
	for (size_t i = 0; i < N(pcm); i++) {
		peak = abs(pcm[i]) > peak ? abs(pcm[i]) : peak;
	}
	assert_true(peak <= 16000 && peak >= 15900);
	assert_true(media_tone_power(pcm, 800, 1000) > 0.99);
	assert_true(media_tone_power(pcm + 37, 160, 1000) > 0.95);
	media_tone_free(t);
	media_tone_free(NULL);
}

struct detect_case {
	const char *what;
	unsigned f1, f2;
	int16_t amp;
	bool g711;
	double probe;
	bool want;
};

static const struct detect_case detects[] = {
        {"1 kHz at -6 dBFS", 1000, 0, 16000, false, 1000, true},
        {"1 kHz quiet (-40 dBFS)", 1000, 0, 330, false, 1000, true},
        {"1 kHz through µ-law", 1000, 0, 8000, true, 1000, true},
        {"1 kHz probed at 1100", 1000, 0, 16000, false, 1100, false},
        {"1 kHz probed at 500", 1000, 0, 16000, false, 500, false},
        {"1 kHz probed at 2000 (harmonic)", 1000, 0, 16000, false, 2000, false},
        {"1200 Hz probed at 1000", 1200, 0, 16000, false, 1000, false},
        {"DTMF 1 (697+1209), low", 697, 1209, 16000, false, 697, true},
        {"DTMF 1 (697+1209), high", 697, 1209, 16000, false, 1209, true},
        {"DTMF 1 probed at 1000", 697, 1209, 16000, false, 1000, false},
        {"too quiet to count", 1000, 0, 40, false, 1000, false},
};

static void test_goertzel(void **state)
{
	for (size_t i = 0; i < N(detects); i++) {
		const struct detect_case *d = &detects[i];
		struct media_tone *t;
		int16_t pcm[320];
		uint8_t enc[320];

		assert_int_equal(media_tone_new(&t, d->f1, d->f2, d->amp), 0);
		media_tone_fill(t, pcm, N(pcm));
		media_tone_free(t);
		if (d->g711) {
			media_g711_encode(MEDIA_PCMU, pcm, N(pcm), enc);
			media_g711_decode(MEDIA_PCMU, enc, N(pcm), pcm);
		}
		if (media_tone_detect(pcm, N(pcm), d->probe) != d->want) {
			fail_msg("%s: share %.3f", d->what,
			         media_tone_power(pcm, N(pcm), d->probe));
		}
	}
}

static void test_goertzel_silence_noise(void **state)
{
	int16_t pcm[800];

	memset(pcm, 0, sizeof(pcm));
	assert_false(media_tone_detect(pcm, N(pcm), 1000));
	assert_true(media_tone_power(pcm, N(pcm), 1000) == 0);
	assert_false(media_tone_detect(pcm, 0, 1000));
	/* white noise at a fair level: no single frequency dominates */
	srandom(7);
	for (size_t i = 0; i < N(pcm); i++) {
		pcm[i] = (int16_t)((random() % 20001) - 10000);
	}
	assert_false(media_tone_detect(pcm, N(pcm), 1000));
}

/* ---- WAV ---- */

static char dir[256];

static int wav_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/media_wav_XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int count_entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while ((e = readdir(d)) != NULL) {
		n += e->d_name[0] != '.';
	}
	closedir(d);
	return n;
}

static int wav_teardown(void **state)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[600];

	while (d && (e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	}
	if (d) {
		closedir(d);
	}
	return rmdir(dir);
}

static void test_wav_roundtrip(void **state)
{
	char path[512];
	struct media_tone *t;
	struct media_wav *w;
	int16_t pcm[8000], *back = NULL;
	size_t n = 0, got = 0;
	struct stat st;

	snprintf(path, sizeof(path), "%s/tone.wav", dir);
	assert_int_equal(media_tone_new(&t, 1000, 0, 12000), 0);
	media_tone_fill(t, pcm, N(pcm));
	media_tone_free(t);

	assert_int_equal(media_wav_open_write(&w, path), 0);
	assert_int_equal(media_wav_write(w, pcm, 3000), 0);
	assert_int_equal(media_wav_write(w, pcm + 3000, 5000), 0);
	assert_int_equal(media_wav_frames(w), 8000);
	/* not there before it is finished: no half-written file */
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(count_entries(), 1);
	assert_int_equal(media_wav_close(w), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(count_entries(), 1);

	assert_int_equal(media_wav_load(path, &back, &n), 0);
	assert_int_equal(n, 8000);
	assert_memory_equal(back, pcm, sizeof(pcm));
	free(back);

	/* read in pieces, rewind, read again */
	assert_int_equal(media_wav_open_read(&w, path), 0);
	assert_int_equal(media_wav_frames(w), 8000);
	int16_t chunk[160];
	size_t total = 0;
	do {
		assert_int_equal(media_wav_read(w, chunk, N(chunk), &got), 0);
		total += got;
	} while (got > 0);
	assert_int_equal(total, 8000);
	assert_int_equal(media_wav_rewind(w), 0);
	assert_int_equal(media_wav_read(w, chunk, N(chunk), &got), 0);
	assert_int_equal(got, 160);
	assert_memory_equal(chunk, pcm, sizeof(chunk));
	/* a reader cannot write */
	assert_int_equal(media_wav_write(w, pcm, 1), -TL_ESTATE);
	assert_int_equal(media_wav_close(w), 0);
	assert_int_equal(media_wav_close(NULL), 0);
	media_wav_free(NULL);
}

static void test_wav_abandon(void **state)
{
	char path[512];
	struct media_wav *w;
	int16_t pcm[160] = {0};

	snprintf(path, sizeof(path), "%s/gone.wav", dir);
	assert_int_equal(media_wav_open_write(&w, path), 0);
	assert_int_equal(media_wav_write(w, pcm, N(pcm)), 0);
	media_wav_free(w);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(count_entries(), 0);
	/* a directory that does not exist */
	snprintf(path, sizeof(path), "%s/no/such.wav", dir);
	assert_int_equal(media_wav_open_write(&w, path), -ENOENT);
}

static void write_raw(const char *path, int rate, int channels, int format)
{
	SF_INFO info = {0};
	short z[320] = {0};

	info.samplerate = rate;
	info.channels = channels;
	info.format = format;
	SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
	assert_non_null(sf);
	assert_int_equal(sf_write_short(sf, z, 320), 320);
	sf_close(sf);
}

static void test_wav_reject(void **state)
{
	char path[512];
	struct media_wav *w;
	int16_t *pcm;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/missing.wav", dir);
	assert_int_equal(media_wav_open_read(&w, path), -ENOENT);

	snprintf(path, sizeof(path), "%s/text.wav", dir);
	f = fopen(path, "w");
	fputs("RIFF, but not really a wave file\n", f);
	fclose(f);
	assert_int_equal(media_wav_open_read(&w, path), -TL_EPARSE);

	snprintf(path, sizeof(path), "%s/16k.wav", dir);
	write_raw(path, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	assert_int_equal(media_wav_open_read(&w, path), -TL_EPARSE);

	snprintf(path, sizeof(path), "%s/stereo.wav", dir);
	write_raw(path, 8000, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
	assert_int_equal(media_wav_load(path, &pcm, &n), -TL_EPARSE);

	/* another sample format at 8 kHz mono is converted */
	snprintf(path, sizeof(path), "%s/ulaw.wav", dir);
	write_raw(path, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_ULAW);
	assert_int_equal(media_wav_load(path, &pcm, &n), 0);
	assert_int_equal(n, 320);
	free(pcm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_g711_known),
	        cmocka_unit_test(test_g711_exhaustive_codes),
	        cmocka_unit_test(test_g711_exhaustive_samples),
	        cmocka_unit_test(test_tone_generator),
	        cmocka_unit_test(test_goertzel),
	        cmocka_unit_test(test_goertzel_silence_noise),
	        cmocka_unit_test_setup_teardown(test_wav_roundtrip, wav_setup,
	                                        wav_teardown),
	        cmocka_unit_test_setup_teardown(test_wav_abandon, wav_setup,
	                                        wav_teardown),
	        cmocka_unit_test_setup_teardown(test_wav_reject, wav_setup,
	                                        wav_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
