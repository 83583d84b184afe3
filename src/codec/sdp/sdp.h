/* SDP (RFC 4566) with SDES crypto attributes (RFC 4568): a zero-copy,
 * bounded parser and a printer that rewrites a session description for
 * another call leg (the B2BUA of src/callmgr).
 *
 * Ownership: sdp_new returns an object freed with sdp_free (NULL is a
 * no-op). sdp_parse points it at the caller's bytes: every slice handed
 * out points into them and stays valid until they are freed or the
 * object is parsed again. The input is never written.
 *
 * Limits (a session description larger than these is refused with
 * -TL_ETOOBIG): SDP_MAX_SIZE bytes, SDP_MAX_LINES lines, SDP_MAX_LINE
 * bytes per line, SDP_MAX_MEDIA media sections, SDP_MAX_CRYPTO crypto
 * attributes per media section. */
#ifndef TL_SDP_H
#define TL_SDP_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_SIZE   16384
#define SDP_MAX_LINES  256
#define SDP_MAX_LINE   1024
#define SDP_MAX_MEDIA  16
#define SDP_MAX_CRYPTO 8

/* RFC 4566 §6: media direction attributes. */
enum sdp_dir {
	SDP_DIR_SENDRECV = 0, /* also the default when none is given */
	SDP_DIR_SENDONLY,
	SDP_DIR_RECVONLY,
	SDP_DIR_INACTIVE,
};

/* SRTP crypto suites we know (RFC 4568 §6.2, RFC 7714 §14.2). */
enum sdp_suite {
	SDP_SUITE_OTHER = 0,
	SDP_SUITE_AES_CM_128_HMAC_SHA1_80 = 1 << 0,
	SDP_SUITE_AES_CM_128_HMAC_SHA1_32 = 1 << 1,
	SDP_SUITE_AEAD_AES_128_GCM = 1 << 2,
	SDP_SUITE_AEAD_AES_256_GCM = 1 << 3,
};

/* RFC 4568 §9.1: a=crypto:<tag> <crypto-suite> <key-params>
 * [<session-params>]. */
struct sdp_crypto {
	uint32_t tag; /* 1*9DIGIT */
	struct slice suite;
	enum sdp_suite suite_id;
	struct slice key_params;     /* "inline:..." [";inline:..."] */
	struct slice session_params; /* absent if none */
};

/* One m= section. */
struct sdp_media {
	struct slice media; /* "audio", "video", ... */
	uint16_t port;
	uint16_t nports;    /* 1 unless "port/n" */
	struct slice proto; /* "RTP/AVP", "RTP/SAVP", ... */
	struct slice fmts;  /* the format list as written */
	enum sdp_dir dir;   /* media attribute, else session, else sendrecv */
	/* c= of the section, else of the session (address only). */
	struct slice conn_addr;
	size_t n_crypto;
	bool savp; /* proto is RTP/SAVP or RTP/SAVPF */
};

struct sdp;

int sdp_new(struct sdp **out) TL_MUST_CHECK;
void sdp_free(struct sdp *s);

/* Parse a whole session description. Lines end with CRLF or LF (RFC 4566
 * §5 asks for CRLF and allows LF); the last line must end too. Checks:
 * v=0 first, then o= and s= once each, at least one t=, the order of
 * session and media fields, field syntax of v o c m t and a=crypto, no
 * NUL or bare CR, one c= per section, no duplicate crypto tag in a
 * section, known suites carry a key of the right length. Returns 0 or
 * -TL_EPARSE, -TL_ETOOBIG, -TL_EDUP, -TL_ETRUNC (a line without its end),
 * -TL_ETRAIL (bytes after the last line). */
int sdp_parse(struct sdp *s, const uint8_t *p, size_t len) TL_MUST_CHECK;

size_t sdp_media_count(const struct sdp *s);
/* i < sdp_media_count(); -TL_ENOTFOUND otherwise. */
int sdp_media_get(const struct sdp *s, size_t i,
                  struct sdp_media *out) TL_MUST_CHECK;
/* The j-th crypto attribute of media i. */
int sdp_crypto_get(const struct sdp *s, size_t i, size_t j,
                   struct sdp_crypto *out) TL_MUST_CHECK;

/* Parse the value of one crypto attribute (after "crypto:"). */
int sdp_crypto_parse(struct sdp_crypto *c, struct slice v) TL_MUST_CHECK;

/* True when any active media section (port != 0) carries crypto
 * attributes. */
bool sdp_has_crypto(const struct sdp *s);
/* True when every active media section is RTP/SAVP(F) with at least one
 * crypto attribute (and there is at least one). */
bool sdp_is_srtp(const struct sdp *s);
/* True when the first active media section is on hold: sendonly,
 * inactive, or c=0.0.0.0 (RFC 3264 §8.4, RFC 2543 style). */
bool sdp_on_hold(const struct sdp *s);

/* How to print for the other leg. */
struct sdp_out {
	/* Drop every a=crypto and turn RTP/SAVP(F) into RTP/AVP(F): for a
	 * leg that is not TLS (RFC 4568 §8.3: keys only over a secure
	 * signalling channel). */
	bool strip_crypto;
	/* When keeping crypto: the enum sdp_suite bits allowed (0: all).
	 * A section left without crypto is printed as RTP/AVP(F). */
	unsigned suites;
};

/* Print s (as parsed, CRLF line ends) rewritten per o into b. Returns
 * buf_err(b). */
int sdp_print(struct buf *b, const struct sdp *s,
              const struct sdp_out *o) TL_MUST_CHECK;

#endif
