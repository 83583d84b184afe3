/* The phone's media glue: one media_session per call (src/media), keyed
 * by the SDES keys negotiated in phone_sip.c; audio from a WAV file or a
 * tone, received audio to a WAV file and through a Goertzel detector. */
#include "phone/phone_int.h"

#include "base/log.h"

#include <string.h>

static void on_audio(const int16_t *pcm, size_t n, void *arg)
{
	struct phone *p = arg;
	struct phone_call *c = &p->call;
	unsigned hz = p->conf.detect_hz ? p->conf.detect_hz : 1000;

	c->frames++;
	if (media_tone_detect(pcm, n, (double)hz)) {
		c->tone_frames++;
		/* A quarter second of tone is a tone heard. */
		if (c->tone_frames >= 12) {
			c->tone_heard = true;
		}
	}
}

static void on_dtmf(char digit, unsigned ms, void *arg)
{
	struct phone *p = arg;
	struct phone_call *c = &p->call;
	size_t l = strlen(c->dtmf);

	(void)ms;
	if (l + 1 < sizeof(c->dtmf)) {
		c->dtmf[l] = digit;
		c->dtmf[l + 1] = 0;
	}
}

int phone_media_open(struct phone *p, struct phone_call *c)
{
	struct media_session_conf mc = {
	        .codec = c->codec,
	        .dtmf_pt = MEDIA_DTMF_PT_DEFAULT,
	        .on_dtmf = on_dtmf,
	        .arg = p,
	};
	struct net_addr local;
	int err = net_addr_set(&mc.local, p->local_host, 0);

	if (err) {
		return err;
	}
	err = media_session_new(&c->ms, p->base, &mc);
	if (err) {
		return err;
	}
	media_session_local(c->ms, &local);
	c->local_port = net_addr_port(&local);
	return 0;
}

int phone_media_start(struct phone *p, struct phone_call *c,
                      const struct net_addr *remote)
{
	int err;

	if (!c->ms) {
		return -TL_ESTATE;
	}
	err = media_session_set_codec(c->ms, c->codec);
	if (!err && c->srtp) {
		err = media_session_set_srtp(c->ms, &c->tx, &c->rx);
	}
	if (!err) {
		err = media_session_set_remote(c->ms, remote);
	}
	if (!err && p->conf.play_wav) {
		err = media_session_send_wav(c->ms, p->conf.play_wav, true);
	} else if (!err && p->conf.tone_hz) {
		err = media_session_send_tone(c->ms, p->conf.tone_hz, 0, 8000);
	}
	if (!err && p->conf.rec_wav) {
		err = media_session_record_wav(c->ms, p->conf.rec_wav);
	}
	if (!err) {
		media_session_set_sink(c->ms, on_audio, p);
		err = media_session_start(c->ms);
	}
	return err;
}

void phone_media_close(struct phone *p, struct phone_call *c)
{
	if (!c->ms) {
		return;
	}
	media_session_stats(c->ms, &c->last_stats);
	int err = media_session_stop(c->ms);
	if (err) {
		log_warn("phone", "%s: recording not finished: %s", p->name,
		         tl_strerror(err));
	}
	media_session_free(c->ms);
	c->ms = NULL;
	media_srtp_key_wipe(&c->tx);
	media_srtp_key_wipe(&c->rx);
	media_srtp_key_wipe(&c->offer_keys[0]);
	media_srtp_key_wipe(&c->offer_keys[1]);
}

void phone_media_hold(struct phone_call *c, bool send, bool recv)
{
	if (c->ms) {
		media_session_set_direction(c->ms, send, recv);
	}
}
