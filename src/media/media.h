/* The media path: RTP (RFC 3550), SRTP through libsrtp2 (RFC 3711,
 * RFC 7714) keyed by SDES (RFC 4568), G.711 (ITU-T G.711), tone generation
 * and Goertzel detection, WAV files (libsndfile), RFC 4733 DTMF events, and
 * a media session that sends and receives one audio stream on a libevent
 * loop owned by the caller.
 *
 * Sub-prefixes: media_rtp_ (header codec), media_dtmf_ (RFC 4733 payload),
 * media_g711_, media_tone_ (generator, detector), media_wav_, media_srtp_
 * (keys and the libsrtp2 wrapper), media_session_.
 *
 * Audio everywhere is 16-bit signed linear PCM, mono, 8000 Hz; a packet
 * carries 20 ms = 160 samples (MEDIA_FRAME_SAMPLES).
 *
 * Ownership: every object is created by its x_new/x_open and released by
 * its x_free (NULL is a no-op). Slices returned by parsers point into the
 * caller's buffer. Nothing here keeps a pointer to a caller's buffer or
 * key after a call returns; SRTP keys are copied and wiped on free. */
#ifndef TL_MEDIA_H
#define TL_MEDIA_H

#include "base/slice.h"
#include "base/tl_err.h"
#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;

#define MEDIA_RATE          8000
#define MEDIA_PTIME_MS      20
#define MEDIA_FRAME_SAMPLES 160 /* MEDIA_RATE * MEDIA_PTIME_MS / 1000 */

/* RFC 3551 §6: static payload types of G.711. */
enum media_codec {
	MEDIA_PCMU = 0, /* µ-law */
	MEDIA_PCMA = 8, /* A-law */
};

/* The usual dynamic payload type of telephone-event (RFC 4733). */
#define MEDIA_DTMF_PT_DEFAULT 101

/* ------------------------------------------------------------------ */
/* RTP header (RFC 3550 §5.1)                                          */
/* ------------------------------------------------------------------ */

#define MEDIA_RTP_HDR_LEN  12
#define MEDIA_RTP_MAX_CSRC 15
/* Largest datagram we receive or build (header, payload, SRTP tag). */
#define MEDIA_RTP_MAX_PACKET 1500

struct media_rtp_hdr {
	uint8_t version; /* always 2 once parsed */
	bool padding;
	bool extension;
	uint8_t cc; /* CSRC count */
	bool marker;
	uint8_t pt; /* payload type, 0..127 */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	uint32_t csrc[MEDIA_RTP_MAX_CSRC];
	/* RFC 3550 §5.3.1 header extension, when extension is set. */
	uint16_t ext_profile;
	struct slice ext; /* the extension words (length * 4 bytes) */
	size_t hdr_len;   /* fixed header + CSRCs + extension */
	uint8_t pad_len;  /* padding bytes at the end, count byte included */
	struct slice payload; /* between the header and the padding */
};

/* Parse one RTP packet (header, extension, padding) with a bounded
 * cursor. Refuses: fewer than 12 bytes (-TL_ETRUNC), version other than 2
 * (-TL_EPARSE), CSRCs or extension running past the end (-TL_ETRUNC),
 * padding with a zero count or a count larger than what follows the header
 * (-TL_EPARSE). The payload may be empty. */
int media_rtp_parse(struct media_rtp_hdr *h, const uint8_t *p,
                    size_t len) TL_MUST_CHECK;

/* Write the header of h (version 2, no padding, no extension; cc CSRCs
 * from h->csrc) followed by payload into out. *out_len is the packet
 * length. -TL_ETOOBIG if it does not fit in cap, -EINVAL for pt > 127 or
 * cc > 15. */
int media_rtp_build(const struct media_rtp_hdr *h, struct slice payload,
                    uint8_t *out, size_t cap, size_t *out_len) TL_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* RFC 4733 telephone-event payload                                    */
/* ------------------------------------------------------------------ */

#define MEDIA_DTMF_LEN 4

/* RFC 4733 §2.3: event (8), E (1), R (1), volume (6), duration (16). */
struct media_dtmf {
	uint8_t event;     /* 0-9, 10 '*', 11 '#', 12-15 'A'-'D' */
	bool end;          /* E bit */
	uint8_t volume;    /* 0..63, -dBm0 */
	uint16_t duration; /* in timestamp units (1/8000 s) */
};

/* Exactly 4 bytes (RFC 4733 §2.3, one event per packet); the R bit must be
 * zero; events above 15 (not DTMF) are refused with -TL_EUNKNOWN. */
int media_dtmf_parse(struct media_dtmf *d, const uint8_t *p,
                     size_t len) TL_MUST_CHECK;
void media_dtmf_build(const struct media_dtmf *d, uint8_t out[MEDIA_DTMF_LEN]);
/* '0'-'9', '*', '#', 'A'-'D' (or 'a'-'d') to the event code; -EINVAL. */
int media_dtmf_event(char digit) TL_MUST_CHECK;
/* The event's character, or '?' for a code above 15. */
char media_dtmf_char(uint8_t event);

/* ------------------------------------------------------------------ */
/* G.711 (ITU-T G.711, table-driven)                                   */
/* ------------------------------------------------------------------ */

uint8_t media_g711_ulaw_encode(int16_t pcm);
int16_t media_g711_ulaw_decode(uint8_t code);
uint8_t media_g711_alaw_encode(int16_t pcm);
int16_t media_g711_alaw_decode(uint8_t code);
/* n samples <-> n codes, with codec MEDIA_PCMU or MEDIA_PCMA. */
void media_g711_encode(enum media_codec codec, const int16_t *pcm, size_t n,
                       uint8_t *out);
void media_g711_decode(enum media_codec codec, const uint8_t *in, size_t n,
                       int16_t *pcm);
/* "PCMU" / "PCMA" (the RFC 3551 encoding names). */
const char *media_codec_name(enum media_codec codec);

/* ------------------------------------------------------------------ */
/* Tones: generator and Goertzel detector                              */
/* ------------------------------------------------------------------ */

struct media_tone;

/* A sine of f1 Hz, or the sum of f1 and f2 (f2 != 0; each at half the
 * amplitude), at 8000 Hz. Frequencies 1..3999 Hz; amplitude 1..32767
 * (peak). */
int media_tone_new(struct media_tone **out, unsigned f1, unsigned f2,
                   int16_t amplitude) TL_MUST_CHECK;
/* The next n samples; the phase continues across calls. */
void media_tone_fill(struct media_tone *t, int16_t *pcm, size_t n);
void media_tone_free(struct media_tone *t);

/* Goertzel: the share (0..1) of the signal's energy found at freq Hz in
 * pcm[0..n) at 8000 Hz; 0 for silence. */
double media_tone_power(const int16_t *pcm, size_t n, double freq);
/* True when freq carries at least 40 % of the energy of pcm and the RMS
 * level is at least 64 (about -54 dBFS): a 1 kHz tone is detected, silence
 * and other frequencies are not. Use n >= 160 (a 50 Hz resolution). */
bool media_tone_detect(const int16_t *pcm, size_t n, double freq);

/* ------------------------------------------------------------------ */
/* WAV files (libsndfile): 16-bit PCM, mono, 8000 Hz                   */
/* ------------------------------------------------------------------ */

struct media_wav;

/* Open for reading. Refuses (-TL_EPARSE) a file that is not mono 8000 Hz
 * audio; any sample format libsndfile reads is converted to 16 bits. */
int media_wav_open_read(struct media_wav **out, const char *path) TL_MUST_CHECK;
/* Up to n samples; *got is 0 at the end of the file. */
int media_wav_read(struct media_wav *w, int16_t *pcm, size_t n,
                   size_t *got) TL_MUST_CHECK;
/* Back to the first sample (to loop a file). */
int media_wav_rewind(struct media_wav *w) TL_MUST_CHECK;

/* Open for writing 16-bit PCM mono 8000 Hz WAV. The samples go to a
 * temporary file beside path, renamed to path by media_wav_close: a
 * reader never sees a half-written file. */
int media_wav_open_write(struct media_wav **out,
                         const char *path) TL_MUST_CHECK;
int media_wav_write(struct media_wav *w, const int16_t *pcm,
                    size_t n) TL_MUST_CHECK;
/* Samples written so far (writer) or the file's length (reader). */
size_t media_wav_frames(const struct media_wav *w);

/* Finish and close: a writer's file is completed and renamed into place.
 * Frees w in every case. */
int media_wav_close(struct media_wav *w) TL_MUST_CHECK;
/* Close without finishing: a writer's temporary file is removed. */
void media_wav_free(struct media_wav *w);

/* Whole-file helpers (tests, tools). *pcm is malloc'd. */
int media_wav_load(const char *path, int16_t **pcm, size_t *n) TL_MUST_CHECK;
int media_wav_save(const char *path, const int16_t *pcm,
                   size_t n) TL_MUST_CHECK;

/* ------------------------------------------------------------------ */
/* SRTP: SDES keys (RFC 4568) and the libsrtp2 wrapper                 */
/* ------------------------------------------------------------------ */

enum media_srtp_suite {
	MEDIA_SRTP_NONE = 0,
	/* RFC 4568 §6.2.1: AES-128 counter mode, HMAC-SHA1 80-bit tag. */
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80 = 1,
	/* RFC 4568 §6.2.2: same with a 32-bit tag on RTP. */
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32 = 2,
	/* RFC 7714 §14.2: AES-128-GCM, 16-byte tag, 12-byte salt. */
	MEDIA_SRTP_AEAD_AES_128_GCM = 3,
};

/* Longest master key || salt we handle (16 + 14). */
#define MEDIA_SRTP_KEY_MAX 30
/* Most bytes protect adds to an RTP packet (the GCM tag). */
#define MEDIA_SRTP_TRAILER_MAX 16
/* Longest key-params string media_srtp_key_format writes, NUL included:
 * "inline:" + base64 of 30 bytes. */
#define MEDIA_SRTP_KEY_PARAMS_MAX 48

/* The RFC 4568 / RFC 7714 suite name, e.g. "AES_CM_128_HMAC_SHA1_80";
 * NULL for an unknown value. */
const char *media_srtp_suite_name(enum media_srtp_suite suite);
/* Exact, case-sensitive suite name; -TL_EUNKNOWN otherwise. */
int media_srtp_suite_parse(struct slice name,
                           enum media_srtp_suite *out) TL_MUST_CHECK;
/* Master key || salt length of the suite: 30 for AES_CM, 28 for GCM;
 * 0 for an unknown suite. */
size_t media_srtp_key_len(enum media_srtp_suite suite);
/* Authentication tag length on RTP: 10, 4 or 16; 0 if unknown. */
size_t media_srtp_tag_len(enum media_srtp_suite suite);

/* One direction's master key and salt. A secret: wipe it when done
 * (media_srtp_key_wipe). */
struct media_srtp_key {
	enum media_srtp_suite suite;
	size_t len; /* == media_srtp_key_len(suite) */
	uint8_t key[MEDIA_SRTP_KEY_MAX];
};

/* A fresh random key for suite (OpenSSL RAND_bytes). */
int media_srtp_key_generate(struct media_srtp_key *k,
                            enum media_srtp_suite suite) TL_MUST_CHECK;
/* RFC 4568 §6.1 key-params of an a=crypto line (the part after the suite):
 * "inline:" base64(key||salt) ["|" lifetime] ["|" MKI ":" length]. The
 * decoded key must have exactly the suite's length. Accepts a lifetime
 * ("2^n" or decimal, not above 2^48 for AES_CM, RFC 3711 §9.2) and
 * ignores it; refuses an MKI (-TL_EUNKNOWN: we send none and libsrtp would
 * need it configured), several keys (";"), bad base64 or a wrong length
 * (-TL_EPARSE), trailing garbage or NUL bytes (-TL_EPARSE). */
int media_srtp_key_parse(struct media_srtp_key *k, enum media_srtp_suite suite,
                         struct slice key_params) TL_MUST_CHECK;
/* Write "inline:<base64 key||salt>" (no lifetime, no MKI) NUL-terminated
 * into out (cap >= MEDIA_SRTP_KEY_PARAMS_MAX suffices). */
int media_srtp_key_format(const struct media_srtp_key *k, char *out,
                          size_t cap) TL_MUST_CHECK;
void media_srtp_key_wipe(struct media_srtp_key *k);

/* Initialise libsrtp2 once per process (thread-safe; media_srtp_new calls
 * it). */
int media_srtp_init(void) TL_MUST_CHECK;
/* Run libsrtp2's own known-answer self-tests of every cipher and
 * authentication function it registered (srtp_crypto_kernel_status);
 * -TL_ECRYPTO if one fails. */
int media_srtp_selftest(void) TL_MUST_CHECK;

/* One SRTP context for a call leg: one outbound stream keyed by tx and one
 * inbound stream keyed by rx, each for whatever SSRC it first sees
 * (libsrtp's ssrc_any_outbound / ssrc_any_inbound). The suites of tx and
 * rx may differ. A replay window of 1024 packets protects the inbound
 * stream. */
struct media_srtp;

int media_srtp_new(struct media_srtp **out, const struct media_srtp_key *tx,
                   const struct media_srtp_key *rx) TL_MUST_CHECK;
/* Protect an RTP packet in place: pkt holds *len bytes of RTP and has room
 * for cap bytes; on success *len grows by the tag. -TL_ETOOBIG when
 * cap < *len + MEDIA_SRTP_TRAILER_MAX, -TL_ECRYPTO on another failure. */
int media_srtp_protect(struct media_srtp *s, uint8_t *pkt, size_t *len,
                       size_t cap) TL_MUST_CHECK;
/* Verify and decrypt an SRTP packet in place; on success *len shrinks to
 * the RTP packet. -TL_EAUTH: the tag does not verify (the packet is left
 * unusable); -TL_ESTALE: a replayed or too old packet; -TL_ETRUNC: too
 * short to be SRTP; -TL_ECRYPTO: another failure. */
int media_srtp_unprotect(struct media_srtp *s, uint8_t *pkt,
                         size_t *len) TL_MUST_CHECK;
void media_srtp_free(struct media_srtp *s);

/* ------------------------------------------------------------------ */
/* Media session: one RTP/SRTP audio stream over UDP                   */
/* ------------------------------------------------------------------ */

struct media_session;

/* Counters. lost follows RFC 3550 §6.4.1 / A.3 (expected - received,
 * never negative). */
struct media_stats {
	uint64_t sent;     /* RTP packets sent (audio and DTMF) */
	uint64_t received; /* valid packets accepted */
	uint64_t lost;
	uint64_t srtp_auth_fail; /* SRTP packets whose tag did not verify */
	uint64_t srtp_replay;    /* SRTP packets refused as replays */
	uint64_t bad;            /* not RTP, wrong payload type, send errors */
	uint64_t bytes_sent;     /* UDP payload bytes */
	uint64_t bytes_received;
	uint64_t dtmf_received; /* digits reported */
	uint32_t remote_ssrc;   /* 0 until a packet was accepted */
	uint32_t local_ssrc;
};

/* A received RFC 4733 digit, reported once per event at its end (or at
 * its first packet if the end never arrives before the next event).
 * duration_ms from the event's duration field. */
typedef void media_dtmf_h(char digit, unsigned duration_ms, void *arg);
/* Audio source: fill pcm[0..n) with the next 20 ms (n = 160). Return
 * false to send nothing this tick (e.g. a file has ended). */
typedef bool media_source_h(int16_t *pcm, size_t n, void *arg);
/* Audio sink: n decoded samples received (silence for lost packets). */
typedef void media_sink_h(const int16_t *pcm, size_t n, void *arg);

struct media_session_conf {
	/* Local address to bind; port 0 picks a free one. Required. */
	struct net_addr local;
	/* Where to send; may be left unset (len 0) and given later. */
	struct net_addr remote;
	enum media_codec codec;
	/* Payload type of telephone-event; 0 disables DTMF both ways. */
	uint8_t dtmf_pt;
	/* SRTP keys, both or neither; NULL: plain RTP. Copied. */
	const struct media_srtp_key *srtp_tx;
	const struct media_srtp_key *srtp_rx;
	/* Our SSRC; 0 picks a random one. */
	uint32_t ssrc;
	media_dtmf_h *on_dtmf; /* may be NULL */
	void *arg;
};

/* Create a session on base (which the caller owns and runs) and bind its
 * UDP socket. It neither sends nor receives until media_session_start.
 * Errors: -errno from socket/bind, -EINVAL for a bad conf. */
int media_session_new(struct media_session **out, struct event_base *base,
                      const struct media_session_conf *conf) TL_MUST_CHECK;
/* Stops, finishes a WAV recording (see media_session_stop), closes the
 * socket and wipes the keys. */
void media_session_free(struct media_session *s);

/* The bound local address (with the port chosen by the system). */
void media_session_local(const struct media_session *s, struct net_addr *out);
int media_session_set_remote(struct media_session *s,
                             const struct net_addr *remote) TL_MUST_CHECK;
/* Change the codec (after an SDP answer or a re-INVITE). */
int media_session_set_codec(struct media_session *s,
                            enum media_codec codec) TL_MUST_CHECK;
/* Re-key (re-INVITE) or switch to plain RTP (both NULL). The counters stay;
 * the sequence number and SSRC continue. */
int media_session_set_srtp(struct media_session *s,
                           const struct media_srtp_key *tx,
                           const struct media_srtp_key *rx) TL_MUST_CHECK;
bool media_session_is_srtp(const struct media_session *s);

/* Sources (each replaces the previous one; the default sends silence). */
int media_session_send_tone(struct media_session *s, unsigned f1, unsigned f2,
                            int16_t amplitude) TL_MUST_CHECK;
/* Send a WAV file's samples; at its end, start again when loop is true,
 * else send silence. */
int media_session_send_wav(struct media_session *s, const char *path,
                           bool loop) TL_MUST_CHECK;
void media_session_send_silence(struct media_session *s);
void media_session_set_source(struct media_session *s, media_source_h *h,
                              void *arg);

/* Sinks: write received audio to a WAV file (completed and renamed into
 * place by media_session_stop or free), or to a callback. Both may be
 * set; a new WAV recording replaces the previous one (which is
 * finished). */
int media_session_record_wav(struct media_session *s,
                             const char *path) TL_MUST_CHECK;
void media_session_set_sink(struct media_session *s, media_sink_h *h,
                            void *arg);

/* Direction (RFC 3264 §8.4 hold: sendonly/inactive). Both true by
 * default. A session that does not send sends no packet at all (DTMF
 * included); one that does not receive still verifies and counts what
 * arrives but gives no audio to the sink and reports no digit. */
void media_session_set_direction(struct media_session *s, bool send, bool recv);

/* Start the 20 ms packetisation timer and the receiver. -TL_ESTATE when
 * already started. Sending waits for a remote address. */
int media_session_start(struct media_session *s) TL_MUST_CHECK;
/* Stop the timer and the receiver and finish the WAV recording, if any:
 * its error (disk full, rename) is returned. Idempotent. */
int media_session_stop(struct media_session *s) TL_MUST_CHECK;

/* RFC 4733 §2.5: send one digit as telephone-event packets in place of
 * audio for duration_ms (40..5000; the end packet sent three times). Digits
 * queue (up to 32) when one is already being sent. -EINVAL for a bad
 * digit, -TL_ESTATE when DTMF is disabled, -TL_ELIMIT when the queue is
 * full. */
int media_session_send_dtmf(struct media_session *s, char digit,
                            unsigned duration_ms) TL_MUST_CHECK;
/* Digits received so far as a NUL-terminated string (the last cap-1 at
 * most, oldest first). */
void media_session_dtmf_received(const struct media_session *s, char *out,
                                 size_t cap);

void media_session_stats(const struct media_session *s,
                         struct media_stats *out);

/* The session's per-packet steps without its socket, for packets carried
 * another way and to measure the media path (bench/srtp_bench.c). The
 * session uses exactly these for every packet it sends and receives. */

/* Build the next RTP packet of the session (its SSRC and next sequence
 * number) with pt, marker, ts and payload into out, and protect it when
 * SRTP is on. Needs cap >= 12 + payload.len + MEDIA_SRTP_TRAILER_MAX.
 * Counts nothing: media_stats.sent counts datagrams that left. */
int media_session_pack(struct media_session *s, uint8_t pt, bool marker,
                       uint32_t ts, struct slice payload, uint8_t *out,
                       size_t cap, size_t *out_len) TL_MUST_CHECK;
/* Take one datagram as if it had arrived on the socket from the remote
 * address: verify and decrypt (SRTP, in place), parse, count (RFC 3550
 * A.1), decode to the sink or report a digit. 0 when accepted, else why it
 * was dropped (and counted in bad, srtp_auth_fail or srtp_replay):
 * -TL_EAUTH, -TL_ESTALE (SRTP replay), -TL_EPARSE / -TL_ETRUNC /
 * -TL_ETRAIL (not RTP, or a malformed telephone-event payload),
 * -TL_EUNKNOWN (another payload type). A well-formed telephone-event that
 * is not a digit (event > 15) is accepted and ignored. */
int media_session_input(struct media_session *s, uint8_t *pkt,
                        size_t len) TL_MUST_CHECK;

#endif
