/* Registrar (RFC 3261 §10.3): digest-authenticated REGISTER, in-memory
 * bindings with expiry, per-device security policy at registration.
 *
 * Lines (AOR user = directory number, digest user, HA1s, device, profile
 * mode) are read from the store into memory by cm_reg_reload and looked
 * up without touching the database on the REGISTER path.
 *
 * Ownership: cm_reg_new returns an object freed with cm_reg_free (NULL is
 * a no-op); the store and the digest server are borrowed and must outlive
 * it. */
#ifndef TL_CM_REG_H
#define TL_CM_REG_H

#include "base/buf.h"
#include "base/tl_err.h"
#include "codec/sip/sip_msg.h"
#include "net/net.h"
#include "sip/sip_auth.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>

struct cm_reg;

struct cm_reg_conf {
	const char *realm;        /* digest realm */
	uint32_t min_expires;     /* 0: 60 (423 below it) */
	uint32_t max_expires;     /* 0: 7200 (capped) */
	uint32_t default_expires; /* 0: 3600 */
	unsigned max_contacts;    /* per AOR, 0: 8 */
	/* Challenge order: SHA-256 then MD5 by default (RFC 8760 §2.4). */
	bool md5_first;
	bool md5_only;
};

/* What to answer: the status, a reason phrase (NULL: the default) and
 * extra header lines ("Name: value\r\n"...). The caller initialises
 * hdrs (buf_init) and frees it. */
struct cm_reg_answer {
	uint16_t code;
	const char *reason;
	struct buf hdrs;
};

/* What the transport knows about a request. */
struct cm_req_info {
	enum net_transport tp;
	struct net_addr src;
	/* TLS only: subject CN of the verified client certificate, or
	 * NULL when none was presented. */
	const char *peer_cn;
	uint64_t now_ms; /* monotonic milliseconds */
};

int cm_reg_new(struct cm_reg **out, struct store *st, struct sip_auth_srv *auth,
               const struct cm_reg_conf *conf) TL_MUST_CHECK;
void cm_reg_free(struct cm_reg *r);

/* Re-read lines, devices and profiles from the store. On failure the old
 * tables stay in use. */
int cm_reg_reload(struct cm_reg *r) TL_MUST_CHECK;
/* Bring the lines up to date with the store, re-reading only the lines of
 * devices and lines that changed since the last reload or refresh
 * (store_changes_since); everything, as cm_reg_reload, after a site-wide
 * change (settings, profiles). *lines_changed: the number of line rows
 * (their MWI state included) changed or deleted, non-zero after a full
 * reload. On failure what was already applied stays (consistent) and the
 * next refresh starts from the same point. */
int cm_reg_refresh(struct cm_reg *r, unsigned *lines_changed) TL_MUST_CHECK;

/* Decide the answer to a REGISTER. Returns 0 when ans is set. */
int cm_reg_handle(struct cm_reg *r, struct sip_msg *req,
                  const struct cm_req_info *info,
                  struct cm_reg_answer *ans) TL_MUST_CHECK;

/* Drop expired bindings. */
void cm_reg_expire(struct cm_reg *r, uint64_t now_ms);

/* One current binding of an AOR. */
struct cm_binding {
	const char *contact; /* the Contact URI as registered */
	enum net_transport tp;
	struct net_addr src;
	uint32_t expires_in; /* seconds left */
};
typedef int (*cm_binding_h)(const struct cm_binding *b, void *arg);

/* Visit the live bindings of directory number dn (h non-zero stops).
 * Returns the number visited, or -TL_ENOTFOUND for an unknown dn. */
int cm_reg_lookup(struct cm_reg *r, const char *dn, uint64_t now_ms,
                  cm_binding_h h, void *arg) TL_MUST_CHECK;

/* What the call manager needs to know about a line. Holds the HA1s
 * (secrets: wipe with OPENSSL_cleanse after use, never log). */
struct cm_line_info {
	char dn[64];
	char user[64];
	char realm[128];
	char cn[20]; /* SEP<MAC> of the owning device */
	enum store_sec_mode mode;
	bool auth_invite; /* seed 001: the device challenges INVITE/NOTIFY */
	/* Call forwarding targets (empty: none). */
	char fwd_all[64], fwd_busy[64], fwd_noans[64];
	bool has_md5, has_sha256;
	uint8_t ha1_md5[16];
	uint8_t ha1_sha256[32];
};

/* The line of directory number dn. -TL_ENOTFOUND. */
int cm_reg_line(struct cm_reg *r, struct slice dn,
                struct cm_line_info *out) TL_MUST_CHECK;

/* The caller of a request claiming directory number dn: dn must have a
 * live binding from where the request came (UDP: same address and port;
 * TCP: same address; TLS: a verified certificate naming the line's
 * device, or for a nonsecure device without one the same address), and
 * the device's security policy must allow this transport. Returns 0 and
 * fills out, -TL_ENOTFOUND (no such line), -TL_EPOLICY (wrong transport
 * or certificate for the profile), -TL_EAUTH (not registered from
 * there). */
int cm_reg_identify(struct cm_reg *r, struct slice dn,
                    const struct cm_req_info *info,
                    struct cm_line_info *out) TL_MUST_CHECK;

/* The settings key of a forwarding target: kind "all", "busy" or
 * "noans". */
int cm_fwd_key(char *out, size_t outlen, const char *kind,
               const char *dn) TL_MUST_CHECK;

/* Visit every live binding of every line (dn: its directory number); h
 * non-zero stops. */
typedef int (*cm_each_h)(const char *dn, const struct cm_binding *b, void *arg);
void cm_reg_each(struct cm_reg *r, uint64_t now_ms, cm_each_h h, void *arg);

/* Auto-registration into a DN pool (nonsecure cluster only, seed 002),
 * site settings written by `trustline cluster autoreg` and read with the
 * lines (docs/callmgr.md):
 *   cm.autoreg             "on" (anything else: off)
 *   cm.autoreg.pool        "FIRST-LAST", decimal DNs, at most
 *                          CM_AUTOREG_POOL_MAX numbers
 *   cm.autoreg.profile     security profile of created devices
 *   cm.autoreg.user        digest user name of the pool's password
 *   cm.autoreg.realm       realm of its HA1
 *   cm.autoreg.ha1_md5, cm.autoreg.ha1_sha256   hex HA1 (secrets)
 * A REGISTER whose AOR user is SEP<MAC> from an unknown device, answering
 * the challenge with the pool's credentials over UDP or TCP, creates the
 * device and a line on the first free DN of the pool; the 200 names it in
 * P-Associated-URI (RFC 3455). */
#define CM_AUTOREG_KEY            "cm.autoreg"
#define CM_AUTOREG_POOL_KEY       "cm.autoreg.pool"
#define CM_AUTOREG_PROFILE_KEY    "cm.autoreg.profile"
#define CM_AUTOREG_USER_KEY       "cm.autoreg.user"
#define CM_AUTOREG_REALM_KEY      "cm.autoreg.realm"
#define CM_AUTOREG_HA1_MD5_KEY    "cm.autoreg.ha1_md5"
#define CM_AUTOREG_HA1_SHA256_KEY "cm.autoreg.ha1_sha256"
#define CM_AUTOREG_POOL_MAX       100000ul

/* "FIRST-LAST" (decimal, no leading zeros or signs, FIRST <= LAST, at
 * most CM_AUTOREG_POOL_MAX numbers). -TL_EPARSE. */
int cm_autoreg_pool_parse(const char *s, unsigned long *first,
                          unsigned long *last) TL_MUST_CHECK;

/* Live bindings in total. */
unsigned cm_reg_count(const struct cm_reg *r);

#endif
