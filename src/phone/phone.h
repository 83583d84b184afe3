/* The phone agent (DESIGN.md "Phone boot, as the phone sees it"; seeds 001,
 * 002, 004): a headless endpoint that boots like a secure Cisco phone,
 *   TFTP -> CTL (first use, then only updates signed by a listed SAST)
 *        -> SEP<MAC>.cnf.xml.sgn (signer holds the TFTP role)
 *        -> .cnf.xml.enc.sgn decrypted with its certificate key
 *        -> firmware image (.sgn, image authentication)
 *        -> CAPF (the configured auth mode)
 *        -> registration of every line (UDP/TCP, or TLS with the server
 *           checked against the CTL's CCM role only),
 * then places and answers calls (SDP offer/answer, SRTP with SDES keys on
 * TLS, G.711, WAV or tone audio, RFC 4733 DTMF), challenges incoming
 * INVITE and NOTIFY when its profile says Auth INVITE (seed 001), and
 * shows its state (text and JSON). docs/phone.md describes the state
 * directory and the control-socket line protocol.
 *
 * Boot steps block (TFTP, CAPF): run phone_boot before the event loop.
 * Registration and calls run on the caller's libevent base.
 *
 * Ownership: phone_new returns an object freed by phone_free (NULL is a
 * no-op; not from inside one of its callbacks). The configuration strings
 * are copied. */
#ifndef TL_PHONE_H
#define TL_PHONE_H

#include "base/buf.h"
#include "base/slice.h"
#include "base/tl_err.h"
#include "net/net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct phone;

/* ---- the config file, as the phone reads it ---- */

#define PHONE_MAX_LINES 8
#define PHONE_CNF_MAX   (256 * 1024)

struct phone_cnf_line {
	char dn[32];
	char auth_name[64];
	char password[128]; /* a secret: only from an encrypted config */
	char display[64];
	bool has_password;
	bool auto_answer;
};

struct phone_cnf {
	bool full_config;   /* false: the stub of an encrypted config */
	bool encr_config;   /* the full config is SEP<MAC>.cnf.xml.enc.sgn */
	char cert_hash[33]; /* MD5 of the certificate it is encrypted to */
	int security_mode;  /* 1 nonsecure, 2 authenticated, 3 encrypted */
	int transport;      /* 1 TCP, 2 UDP, 3 TLS (forced for modes 2, 3) */
	char host[256];     /* the call manager (processNodeName) */
	uint16_t sip_port;
	uint16_t sip_tls_port;
	char load[128];     /* loadInformation: the firmware image */
	int capf_auth_mode; /* 0 none, 1 string, 2 null, 3 LSC/MIC, 4 MIC */
	char capf_host[256];
	uint16_t capf_port;
	bool auth_invite;   /* trustlineSecurity/authInvite (seed 001) */
	bool srtp_required; /* trustlineSecurity/srtpRequired */
	size_t n_lines;
	struct phone_cnf_line lines[PHONE_MAX_LINES];
};

/* Parse a config (full or stub). Refuses: empty or over PHONE_CNF_MAX,
 * NUL inside, not well-formed XML, a DTD (no entities, ever), a root other
 * than <device>, a duplicate security field (deviceSecurityMode,
 * transportLayerProtocol, encrConfig, certHash, capfAuthMode,
 * loadInformation, the call manager, capfList, trustlineSecurity), numbers
 * out of range, more than PHONE_MAX_LINES lines, a line without a name,
 * encrConfig without certHash. On error *out is wiped. */
int phone_cnf_parse(struct phone_cnf *out, const uint8_t *p,
                    size_t len) TL_MUST_CHECK;
/* Wipe (line passwords). */
void phone_cnf_wipe(struct phone_cnf *c);
/* "nonsecure", "authenticated", "encrypted", "unknown". */
const char *phone_mode_name(int mode);

/* ---- the agent ---- */

struct phone_conf {
	const char *mac; /* 12 hex digits, any case, ':' or '-' allowed */
	struct net_addr tftp;
	const char *state_dir; /* created when missing (0700) */
	/* The manufacturer-installed certificate and key (PEM), optional. */
	const char *mic_cert;
	const char *mic_key;
	/* CAPF auth string (capfAuthMode 1), optional. */
	const char *auth_string;
	/* Line passwords when the config carries none (nonsecure phones,
	 * or an encrypted config without secrets): "DN=PASSWORD" entries,
	 * or one bare password for every line. */
	const char *const *passwords;
	size_t n_passwords;
	/* Load tests: a line without a password above gets PREFIX + DN. */
	const char *password_prefix;
	/* Local address for SIP and RTP (numeric); NULL: 127.0.0.1. */
	const char *bind_host;
	/* Audio: a WAV file to send, else a tone of tone_hz (0: silence);
	 * received audio to rec_wav (per call: rec_wav, overwritten). */
	const char *play_wav;
	unsigned tone_hz;
	const char *rec_wav;
	/* Report when received audio carries this tone (Goertzel, 0: 1000). */
	unsigned detect_hz;
	bool auto_answer;
	bool prefer_pcma;          /* offer A-law first */
	bool prefer_gcm;           /* offer AEAD_AES_128_GCM first */
	unsigned register_expires; /* 0: 3600 */
	unsigned tftp_timeout_ms;  /* 0: 1000 */
	/* Quiet: log only failures (fleet mode). */
	bool quiet;
	/* State files written atomically but without fsync (fleet mode:
	 * many simulated phones share one disk). */
	bool no_sync;
};

int phone_new(struct phone **out, struct event_base *base,
              const struct phone_conf *conf) TL_MUST_CHECK;
void phone_free(struct phone *p);

/* Boot steps 1-4: CTL, config, firmware, CAPF (blocking). On a refusal
 * the phone keeps what it held before (stored CTL, image, LSC), stays
 * unregistered, and its status names the step and the reason. */
int phone_boot(struct phone *p) TL_MUST_CHECK;
/* Step 5: register every line on the base. */
int phone_register(struct phone *p) TL_MUST_CHECK;
/* Unregister (Expires 0), end calls. */
void phone_shutdown(struct phone *p);

enum phone_state {
	PHONE_BOOTING = 0,
	PHONE_REFUSED, /* a boot step refused: see the status */
	PHONE_REGISTERING,
	PHONE_REGISTERED,  /* every line */
	PHONE_UNREGISTERED /* a registration failed */
};
enum phone_state phone_state(const struct phone *p);
const char *phone_state_name(enum phone_state s);
const char *phone_mac(const struct phone *p);

/* Calls (one active call per phone). */
int phone_dial(struct phone *p, const char *number) TL_MUST_CHECK;
int phone_answer(struct phone *p) TL_MUST_CHECK;
int phone_hangup(struct phone *p) TL_MUST_CHECK;
int phone_hold(struct phone *p) TL_MUST_CHECK;
int phone_resume(struct phone *p) TL_MUST_CHECK;
int phone_transfer(struct phone *p, const char *number) TL_MUST_CHECK;
int phone_dtmf(struct phone *p, const char *digits) TL_MUST_CHECK;

/* The display: state, boot steps, certificate and CTL, lines, call. */
int phone_status(struct phone *p, struct buf *out, bool json) TL_MUST_CHECK;

/* One control-protocol command line (docs/phone.md) without its line end;
 * the reply is appended to out ("ok ..." / "error ..." and body lines,
 * without the terminating empty line). */
void phone_command(struct phone *p, const char *line, struct buf *out);

/* ---- the control socket ---- */

struct phone_ctl;

/* Handles one command line; appends the reply (see phone_command). */
typedef void (*phone_ctl_h)(const char *line, struct buf *reply, void *arg);

/* Listen on a Unix-domain stream socket at path (an existing socket file
 * is replaced; mode 0600). */
int phone_ctl_new(struct phone_ctl **out, struct event_base *base,
                  const char *path, phone_ctl_h h, void *arg) TL_MUST_CHECK;
void phone_ctl_free(struct phone_ctl *c);

/* Client: send one command, read the reply until the empty line.
 * *ok is set from the reply's first word. */
int phone_ctl_call(const char *path, const char *line, unsigned timeout_ms,
                   struct buf *reply, bool *ok) TL_MUST_CHECK;

#endif
