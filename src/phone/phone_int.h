/* Private to src/phone. */
#ifndef TL_PHONE_INT_H
#define TL_PHONE_INT_H

#include "media/media.h"
#include "phone/phone.h"
#include "sip/sip_auth.h"
#include "sip/sip_stack.h"
#include "trust/trust.h"

#include <openssl/evp.h>
#include <openssl/x509.h>

struct event;

enum phone_step {
	STEP_CTL = 0,
	STEP_CONFIG,
	STEP_FIRMWARE,
	STEP_CAPF,
	STEP_REGISTER,
	STEP_MAX
};

enum step_state { STEP_PENDING = 0, STEP_OK, STEP_SKIPPED, STEP_FAILED };

struct phone_stepinfo {
	enum step_state st;
	char detail[200];
};

enum reg_state { REG_IDLE = 0, REG_TRYING, REG_OK, REG_FAILED };

enum {
	PHONE_TARGET_PRIMARY = 0,
	PHONE_TARGET_STANDBY = 1,
	PHONE_TARGET_MAX = 2
};

/* Where the lines register: a transport, an address, and the TLS client
 * context that checks that server (the CTL's CCM role for the call
 * manager; the SRST certificate of the config for a standby). */
struct phone_target {
	const char *role; /* "primary", "standby"; NULL: unused */
	enum net_transport tp;
	struct net_addr addr;
	struct net_tls *tls;
};

/* A line's message-waiting subscription (RFC 3842 over RFC 6665): one
 * dialog, refreshed inside it at half the expiry granted (§4.1.2.1),
 * dropped and started again after a pause when it fails or ends. */
enum phone_mwi_state {
	MWI_IDLE = 0,      /* none: not registered yet, or unsubscribed */
	MWI_TRYING,        /* a new SUBSCRIBE sent */
	MWI_ACTIVE,        /* granted; the refresh timer runs */
	MWI_REFRESHING,    /* a SUBSCRIBE inside the dialog sent */
	MWI_WAITING,       /* dropped: a new subscription after a pause */
	MWI_ENDED,         /* terminated with a reason not to come back */
	MWI_UNSUBSCRIBING, /* Expires: 0 sent */
	MWI_STATE_MAX
};

struct phone_mwi_sub {
	enum phone_mwi_state st;
	/* The dialog (RFC 6665 §4.1.2.1): empty call_id when there is
	 * none; rtag and target come from the 2xx (or the first NOTIFY). */
	char call_id[40];
	char ltag[24];
	char rtag[128];
	char target[256];
	uint32_t cseq;
	uint32_t ask;       /* the Expires asked */
	uint32_t granted;   /* the expiry last granted */
	int64_t expires_at; /* monotonic seconds */
	unsigned auth_tries;
	unsigned fails;     /* drops in a row; a refresh granted resets it */
	uint64_t dialogs;   /* subscriptions started */
	uint64_t refreshes; /* refreshes granted inside their dialog */
	char why[120];      /* the last failure or end */
	struct event *timer;
	struct sip_tsx *tsx;
};

struct phone_line {
	struct phone *p;
	char dn[32];
	char user[64];
	char password[128];
	enum reg_state st;
	char why[160];
	struct sip_auth_client *auth;
	char call_id[64];
	char tag[24];
	uint32_t cseq;
	unsigned auth_tries;
	uint32_t expires;
	bool subscribed; /* MWI (message-summary) */
	struct event *timer;
	struct event *guard; /* no final answer to REGISTER in time */
	struct sip_tsx *tsx;
	struct phone_mwi_sub mwi;
};

enum call_state {
	CALL_IDLE = 0,
	CALL_DIALING, /* INVITE sent, no answer yet */
	CALL_RINGING, /* incoming, not answered */
	CALL_ACTIVE,
	CALL_ENDED,
};

struct phone_call {
	enum call_state st;
	bool outgoing;
	bool held; /* we put it on hold */
	bool remote_held;
	size_t line;
	char number[64];
	char call_id[80];
	char ltag[24];
	char rtag[128];
	char remote_uri[256];    /* the peer's AOR (To of our INVITE) */
	char remote_target[256]; /* Contact of the peer */
	uint32_t cseq;
	uint32_t invite_cseq;
	char security[24]; /* from Call-Info: "Encrypted" ... or "" */
	char end_reason[96];
	unsigned auth_tries;
	struct sip_tsx *inv; /* our INVITE client tsx or their INVITE */
	/* Media. */
	bool srtp; /* SRTP negotiated */
	enum media_codec codec;
	struct media_session *ms;
	uint16_t local_port;
	struct media_srtp_key offer_keys[2]; /* offered, by tag 1 and 2 */
	struct media_srtp_key tx, rx;
	bool have_keys;
	bool offer_in_2xx; /* our offer went in a 2xx: the ACK answers */
	struct media_stats last_stats;
	bool tone_heard;
	uint64_t tone_frames;
	uint64_t frames;
	char dtmf[64];
	unsigned sdp_version;
	unsigned sdp_id;
	int crypto_tag;              /* the a=crypto tag negotiated */
	enum media_srtp_suite suite; /* and its suite */
	struct net_addr remote;      /* the peer's RTP address */
};

/* The peer's SDP as far as the audio stream goes, read in full before
 * any of it is used: the first stream's address, direction, first G.711
 * codec and (when srtp_ok) the crypto lines of supported suites whose
 * keys parse, in the peer's order. */
#define PHONE_SDP_KEYS_MAX 4
struct phone_sdp {
	struct net_addr remote;
	bool has_remote; /* a real address: not 0.0.0.0, not port 0 */
	bool hold;
	enum media_codec codec;
	size_t n_keys;
	struct {
		int tag;
		struct media_srtp_key key;
	} keys[PHONE_SDP_KEYS_MAX];
};

/* A negotiated stream, built before it replaces the call's. */
struct phone_neg {
	bool srtp;
	struct media_srtp_key tx, rx;
	int tag; /* the a=crypto tag of the pair */
	enum media_codec codec;
	struct net_addr remote;
	bool has_remote;
	bool fresh_tx; /* tx was made for this answer */
};

struct phone {
	struct event_base *base;
	struct phone_conf conf; /* strings below are owned copies */
	char mac[13];
	char name[16]; /* SEP<MAC> */
	char state_dir[1024];
	char *strs[16];
	size_t n_strs;
	enum phone_state state;
	char reason[200];
	struct phone_stepinfo steps[STEP_MAX];
	/* Trust. */
	struct trust_ctl *ctl;
	char ctl_signer[256];
	char ctl_sha256[65];
	X509 *cert; /* LSC, else MIC */
	EVP_PKEY *key;
	char cert_kind[8]; /* "LSC", "MIC", "" */
	char cert_subject[256];
	char cert_issuer[256];
	char cert_not_after[32];
	char firmware[128];
	/* Config applied. */
	struct phone_cnf cnf;
	bool have_cnf;
	bool cfg_encrypted; /* the applied config came encrypted to us */
	bool hash_mismatch; /* the last config was for another certificate */
	/* SIP. */
	struct sip_stack *sip;
	struct sip_auth_srv *auth_srv; /* Auth INVITE / Auth MWI */
	char realm[128];
	/* Registration targets (DESIGN.md boot step 6): the call manager
	 * of the config is the primary; secure SRST adds a standby
	 * (srstInfo) kept connected beside it, and "active" moves the lines
	 * to it when the primary fails. Only the primary is filled today. */
	struct phone_target targets[PHONE_TARGET_MAX];
	size_t active;
	struct net_addr local; /* UDP listener, or unset */
	char local_host[64];
	bool server_refused; /* our verify hook refused the server */
	char server_refused_why[160];
	size_t n_lines;
	struct phone_line lines[PHONE_MAX_LINES];
	struct phone_call call;
	bool mwi;
	unsigned mwi_new, mwi_old;
	uint64_t auth_challenges; /* incoming requests we challenged */
	uint64_t auth_accepted;
};

static inline struct phone_target *phone_tgt(struct phone *p)
{
	return &p->targets[p->active];
}

/* phone_sip.c */
int phone_sip_start(struct phone *p) TL_MUST_CHECK;
void phone_sip_stop(struct phone *p);
void phone_call_end(struct phone *p, const char *why);
void phone_update_state(struct phone *p);

/* The MWI subscription's timing (phone_sip.c), without I/O. */
/* Seconds until the refresh of a subscription granted for granted s
 * (> 0): half of it, at least 1. */
uint32_t phone_mwi_refresh_in(uint32_t granted);
/* The pause before a new subscription after fails (>= 1) drops in a row:
 * 2, 4, 8 ... seconds, at most PHONE_MWI_RETRY_MAX. */
#define PHONE_MWI_RETRY_MAX 60
uint32_t phone_mwi_retry_in(unsigned fails);
/* RFC 6665 §4.1.3: after "Subscription-State: terminated" with reason
 * (empty: none) and retry-after, the nth drop in a row (fails >= 1): false
 * when the subscriber should not come back (rejected, noresource,
 * invariant), else true and the pause in *delay. A retry-after is
 * honoured up to PHONE_MWI_RETRY_AFTER_MAX. */
#define PHONE_MWI_RETRY_AFTER_MAX 3600
bool phone_mwi_resubscribe(struct slice reason, bool has_retry_after,
                           uint32_t retry_after, unsigned fails,
                           uint32_t *delay);
/* For the status: "idle", "subscribing", "active", "refreshing",
 * "retrying", "ended", "unsubscribing". */
const char *phone_mwi_state_name(enum phone_mwi_state s);
/* Seconds the subscription has left, 0 when none is granted. */
uint32_t phone_mwi_left(const struct phone_line *l);

/* phone_media.c */
int phone_media_open(struct phone *p, struct phone_call *c) TL_MUST_CHECK;
int phone_media_start(struct phone *p, struct phone_call *c,
                      const struct net_addr *remote) TL_MUST_CHECK;
void phone_media_close(struct phone *p, struct phone_call *c);
void phone_media_hold(struct phone_call *c, bool send, bool recv);
/* SDP offer/answer for the stream (phone_media.c). -TL_EUNKNOWN: no
 * G.711 format; parse errors of sdp_parse. Secrets: wipe both structs. */
int phone_sdp_read(struct phone_sdp *t, struct slice body,
                   bool srtp_ok) TL_MUST_CHECK;
/* Our answer to the offer t in call c (a new call, or a re-offer when c is
 * active). */
int phone_neg_offer(struct phone_neg *n, const struct phone_call *c,
                    const struct phone_sdp *t) TL_MUST_CHECK;
/* The peer's answer t to our offer: full (offer_keys, tags 1 and 2) or
 * our re-offer of c->tx under c->crypto_tag. */
void phone_neg_answer(struct phone_neg *n, const struct phone_call *c,
                      const struct phone_sdp *t, bool full);
/* Make n the stream of c: the running media session first (an error
 * there changes nothing), then c. */
int phone_neg_install(struct phone *p, struct phone_call *c,
                      const struct phone_neg *n) TL_MUST_CHECK;
void phone_sdp_wipe(struct phone_sdp *t);
void phone_neg_wipe(struct phone_neg *n);

void phone_step(struct phone *p, enum phone_step s, enum step_state st,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));

#endif
