/* The site database behind a narrow, typed interface (DESIGN.md "Data").
 * The SQLite back-end (store_sqlite.c) is the embedded default; every SQL
 * statement lives there so that a PostgreSQL back-end can implement this
 * same header. No SQL, no SQLite type, no statement handle leaves it.
 *
 * Conventions: every fallible function returns 0 or a negative code:
 * -TL_EEXIST (duplicate key), -TL_ENOTFOUND (no such object, or a
 * reference to one, e.g. an unknown profile), -TL_EPARSE (a value that is
 * not acceptable, e.g. a bad MAC), -TL_ESTORE (database failure; the
 * back-end's message is logged), -ENOMEM.
 *
 * Every write runs in a transaction and bumps the change counter
 * (store_generation). Several writes can be made atomic with
 * store_tx_begin / store_tx_commit (nesting is counted: only the outermost
 * pair commits; a rollback anywhere rolls the whole transaction back).
 *
 * Ownership: store_open returns a handle freed with store_close (NULL is a
 * no-op). Records are plain structs filled by the store; strings are
 * NUL-terminated arrays, except store_cert.pem (malloc'd; free it with
 * store_cert_clear). A handle is not thread-safe: one per thread. */
#ifndef TL_STORE_H
#define TL_STORE_H

#include "base/tl_err.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* Open path, creating the database or migrating it to the current schema
 * (WAL mode, foreign keys on, busy timeout). */
int store_open(struct store **out, const char *path) TL_MUST_CHECK;
void store_close(struct store *st);
/* The schema version this build writes (PRAGMA user_version). */
int store_schema_version(void);

int store_tx_begin(struct store *st) TL_MUST_CHECK;
int store_tx_commit(struct store *st) TL_MUST_CHECK;
void store_tx_rollback(struct store *st);
/* A read snapshot: several reads see one consistent state without taking
 * the write lock. No writes inside. Not nested with store_tx_begin. */
int store_read_begin(struct store *st) TL_MUST_CHECK;
void store_read_end(struct store *st);

/* The change counter: bumped by every committed write. Readers (the
 * provisioning server) cache generated files per device until it moves. */
int store_generation(struct store *st, uint64_t *out) TL_MUST_CHECK;

/* ---- site settings: free key/value pairs ---- */

#define STORE_KEY_MAX   64
#define STORE_VALUE_MAX 1024

/* -TL_ENOTFOUND when the key is not set. */
int store_setting_get(struct store *st, const char *key, char *out,
                      size_t outlen) TL_MUST_CHECK;
int store_setting_set(struct store *st, const char *key,
                      const char *value) TL_MUST_CHECK;
int store_setting_del(struct store *st, const char *key) TL_MUST_CHECK;

/* Cluster security mode (seed 002): stored as setting "cluster_mode";
 * nonsecure when not set. Callers check the CTL before setting mixed. */
enum store_cluster_mode {
	STORE_CLUSTER_NONSECURE = 0,
	STORE_CLUSTER_MIXED = 1,
};
int store_cluster_mode_get(struct store *st,
                           enum store_cluster_mode *out) TL_MUST_CHECK;
int store_cluster_mode_set(struct store *st,
                           enum store_cluster_mode mode) TL_MUST_CHECK;
const char *store_cluster_mode_name(enum store_cluster_mode mode);

/* ---- security profiles ---- */

/* Values are Cisco's deviceSecurityMode codes (cisco-formats.md §3). */
enum store_sec_mode {
	STORE_SEC_NONSECURE = 1,
	STORE_SEC_AUTHENTICATED = 2,
	STORE_SEC_ENCRYPTED = 3,
};
/* Values are Cisco's transportLayerProtocol codes (cisco-formats.md §3). */
enum store_transport {
	STORE_TRANSPORT_TCP = 1,
	STORE_TRANSPORT_UDP = 2,
	STORE_TRANSPORT_TLS = 3,
};

#define STORE_NAME_MAX 64

struct store_profile {
	char name[STORE_NAME_MAX];
	enum store_sec_mode mode;
	enum store_transport transport;
	bool auth_invite; /* seed 001: challenge incoming INVITE/NOTIFY */
	bool allow_mic;   /* accept a MIC (not only an LSC) at registration */
};

/* The migration creates "nonsecure" (UDP), "authenticated" and "encrypted"
 * (TLS). A profile in authenticated or encrypted mode must use TLS
 * (-TL_EPARSE otherwise). store_profile_del: -TL_ESTATE while a device
 * uses it. */
int store_profile_add(struct store *st,
                      const struct store_profile *p) TL_MUST_CHECK;
int store_profile_get(struct store *st, const char *name,
                      struct store_profile *out) TL_MUST_CHECK;
int store_profile_update(struct store *st,
                         const struct store_profile *p) TL_MUST_CHECK;
int store_profile_del(struct store *st, const char *name) TL_MUST_CHECK;
typedef int (*store_profile_h)(const struct store_profile *p, void *arg);
int store_profile_list(struct store *st, store_profile_h h,
                       void *arg) TL_MUST_CHECK;

const char *store_sec_mode_name(enum store_sec_mode m);
int store_sec_mode_parse(const char *s, enum store_sec_mode *out) TL_MUST_CHECK;
const char *store_transport_name(enum store_transport t);
int store_transport_parse(const char *s,
                          enum store_transport *out) TL_MUST_CHECK;

/* ---- devices ---- */

/* Accepts 12 hex digits, or 6 pairs separated by ':' or '-' (one
 * separator throughout), any case; writes 12 upper-case hex digits and a
 * NUL. -TL_EPARSE otherwise. */
int store_mac_parse(const char *in, char out[13]) TL_MUST_CHECK;

/* CAPF operation pending for a device (seed 004: install/upgrade,
 * delete, fetch). Install issues a first LSC, upgrade replaces one. */
enum store_capf_op {
	STORE_CAPF_NONE = 0,
	STORE_CAPF_INSTALL = 1,
	STORE_CAPF_UPGRADE = 2,
	STORE_CAPF_DELETE = 3,
	STORE_CAPF_FETCH = 4,
};
const char *store_capf_op_name(enum store_capf_op op);
int store_capf_op_parse(const char *s, enum store_capf_op *out) TL_MUST_CHECK;

struct store_device {
	char mac[13];  /* 12 upper-case hex: the key */
	char name[16]; /* "SEP" + mac unless set */
	/* model, load: [A-Za-z0-9._-]; description: UTF-8 text */
	char model[32];               /* e.g. "8841" */
	char profile[STORE_NAME_MAX]; /* security profile name */
	char load[128];               /* firmware load (image name) or "" */
	char description[128];
	/* capfAuthMode (cisco-formats.md §3): 0 none, 1 auth string,
	 * 2 null string, 3 LSC then MIC, 4 MIC */
	int capf_auth_mode;
	enum store_capf_op capf_op;
	int64_t capf_deadline;     /* complete-by, Unix seconds; 0 = none */
	bool capf_has_auth_string; /* read-only: the string is never read */
	char cert_md5[33];         /* read-only: hex MD5 of the cert DER */
	char cert_serial[80];      /* read-only: of the device certificate */
	int64_t created, updated;  /* read-only */
};

/* add: -TL_EEXIST (MAC or name taken), -TL_ENOTFOUND (profile). The name
 * defaults to SEP<MAC> when empty, the profile to "nonsecure". */
int store_device_add(struct store *st,
                     const struct store_device *d) TL_MUST_CHECK;
int store_device_get(struct store *st, const char *mac,
                     struct store_device *out) TL_MUST_CHECK;
/* Writes every writable field of d (read-only fields are ignored). */
int store_device_update(struct store *st,
                        const struct store_device *d) TL_MUST_CHECK;
/* Deletes the device and its lines. */
int store_device_del(struct store *st, const char *mac) TL_MUST_CHECK;
typedef int (*store_device_h)(const struct store_device *d, void *arg);
int store_device_list(struct store *st, store_device_h h,
                      void *arg) TL_MUST_CHECK;

/* The device's certificate (LSC or MIC, DER): set by the CAPF engine or
 * `device set --cert`; der NULL clears it. Its MD5 is the certHash of the
 * encrypted-config stub (cisco-formats.md §2.3). */
int store_device_cert_set(struct store *st, const char *mac, const uint8_t *der,
                          size_t len) TL_MUST_CHECK;
/* The same for a certificate this site just issued, whose serial (lower-
 * case hex, as store_cert_add takes it) the caller knows: the DER is not
 * decoded again (OpenSSL 3 decodes a certificate's key through its
 * provider decoders, which costs several signatures' worth of CPU). */
int store_device_cert_set_issued(struct store *st, const char *mac,
                                 const uint8_t *der, size_t len,
                                 const char *serial) TL_MUST_CHECK;
/* *der is malloc'd (free it); -TL_ENOTFOUND when the device or its
 * certificate does not exist. */
int store_device_cert_get(struct store *st, const char *mac, uint8_t **der,
                          size_t *len) TL_MUST_CHECK;

/* The CAPF one-time auth string: stored as a salted SHA-256, never
 * readable. NULL clears it. check: 0 on a match, -TL_EAUTH otherwise
 * (also when none is set), compared in constant time. */
int store_device_capf_auth_set(struct store *st, const char *mac,
                               const char *auth_string) TL_MUST_CHECK;
int store_device_capf_auth_check(struct store *st, const char *mac,
                                 const char *auth_string) TL_MUST_CHECK;

/* ---- lines (directory numbers) ---- */

#define STORE_DN_MAX 32

struct store_line {
	char dn[STORE_DN_MAX];    /* directory number: digits, '*', '#', '+' */
	char display[64];         /* display name */
	char device[13];          /* MAC of the device */
	int line_index;           /* button, 1.. (0 on add: next free) */
	char user[64];            /* digest user name; the DN when empty */
	char realm[128];          /* read-only: realm of the stored HA1 */
	char ha1_md5[33];         /* read-only: hex MD5(user:realm:password) */
	char ha1_sha256[65];      /* read-only: hex SHA-256(...) */
	int mwi_new, mwi_old;     /* read-only: MWI state */
	int64_t created, updated; /* read-only */
};

/* add: -TL_EEXIST (DN or the device's line index taken), -TL_ENOTFOUND
 * (device). */
int store_line_add(struct store *st, const struct store_line *l) TL_MUST_CHECK;
int store_line_get(struct store *st, const char *dn,
                   struct store_line *out) TL_MUST_CHECK;
/* Writes display, device, line_index, user (the HA1 is kept: set a new
 * password when the user changes). */
int store_line_update(struct store *st,
                      const struct store_line *l) TL_MUST_CHECK;
int store_line_del(struct store *st, const char *dn) TL_MUST_CHECK;
typedef int (*store_line_h)(const struct store_line *l, void *arg);
/* device NULL: all lines; ordered by device then line index. */
int store_line_list(struct store *st, const char *device, store_line_h h,
                    void *arg) TL_MUST_CHECK;
/* The line whose digest user name is user (the DN for a line without
 * one): how a registrar finds the HA1 for an Authorization header. The
 * caller checks the realm. Digest user names are unique (-TL_EEXIST on
 * add, update or password_set otherwise). */
int store_line_find_user(struct store *st, const char *user,
                         struct store_line *out) TL_MUST_CHECK;
/* Store the digest HA1 values (RFC 7616 §3.4.2) for user:realm:password;
 * the password itself is never stored. */
int store_line_password_set(struct store *st, const char *dn, const char *user,
                            const char *realm,
                            const char *password) TL_MUST_CHECK;

enum store_digest_alg { STORE_DIGEST_MD5, STORE_DIGEST_SHA256 };
/* hex H(user ":" realm ":" password) into out (33 or 65 bytes). */
int store_digest_ha1(enum store_digest_alg alg, const char *user,
                     const char *realm, const char *password, char *out,
                     size_t outlen) TL_MUST_CHECK;

/* ---- change tracking ----
 *
 * Every device and line row carries the generation of the write that last
 * changed it (the value store_generation has once that write commits);
 * a line's message-waiting state counts as the line's, a certificate
 * record (its revocation) as the device's that holds it. Deletions of
 * devices and lines, and a line leaving its device, are recorded with
 * theirs (the most recent 8192). Settings and profiles are site-wide:
 * any change to them has one generation for all. Readers that keep what
 * they derived from the rows (the registrar's lines, the generated
 * configs) redo only what changed. */

enum store_change_kind {
	STORE_CHANGE_DEVICE = 1,
	STORE_CHANGE_LINE = 2,
};

struct store_change {
	enum store_change_kind kind;
	/* the row is gone; for a line, or it left device (moved) */
	bool deleted;
	char key[STORE_DN_MAX]; /* a device: its MAC; a line: its DN */
	char device[13];        /* a line's device (deleted: the one left) */
	uint64_t generation;    /* of the change */
};
/* 0 goes on, a positive value stops (0 returned), a negative one stops
 * with it. */
typedef int (*store_change_h)(const struct store_change *c, void *arg);

/* For a reader that has seen everything up to generation since: visit
 * the deletions (oldest first), then the devices and lines changed after
 * it, and set *upto to the generation that brings the reader to. Rows
 * changed after *upto may be visited too: a reader re-reads each row it
 * is given (inside store_read_begin to read them in the same state).
 * Instead *full is set and nothing is visited when the reader must
 * reload everything: a site-wide change after since, deletions after it
 * no longer recorded, or since ahead of the store (another database). */
int store_changes_since(struct store *st, uint64_t since, uint64_t *upto,
                        bool *full, store_change_h h, void *arg) TL_MUST_CHECK;

/* The generation of the last change that can affect what is derived for
 * device mac: its row, any of its lines (added, changed, deleted or moved
 * off it), a site-wide change, forgotten deletions. Equal stamps mean
 * nothing of the device changed in between. -TL_ENOTFOUND. */
int store_device_stamp(struct store *st, const char *mac,
                       uint64_t *out) TL_MUST_CHECK;

/* ---- MWI state (per DN) ---- */
int store_mwi_set(struct store *st, const char *dn, int new_msgs,
                  int old_msgs) TL_MUST_CHECK;

/* ---- users ---- */

struct store_user {
	char name[64];
	char display[128];
	int64_t created; /* read-only */
};
int store_user_add(struct store *st, const struct store_user *u) TL_MUST_CHECK;
int store_user_get(struct store *st, const char *name,
                   struct store_user *out) TL_MUST_CHECK;
int store_user_del(struct store *st, const char *name) TL_MUST_CHECK;
typedef int (*store_user_h)(const struct store_user *u, void *arg);
int store_user_list(struct store *st, store_user_h h, void *arg) TL_MUST_CHECK;

/* ---- issued and revoked certificates (shared contract) ---- */

struct store_cert {
	char serial[80];   /* lower-case hex of the X.509 serial */
	char subject[256]; /* RFC 4514 one-line subject */
	char issuer[256];
	char profile[32];              /* "ca", "server", "client", "lsc",
	                                * "mic", "sast", ... */
	int64_t not_before, not_after; /* Unix seconds */
	int64_t revoked_at;            /* 0 = not revoked */
	int revoke_reason;             /* RFC 5280 CRLReason */
	char *pem;                     /* malloc'd; freed by store_cert_clear */
};
void store_cert_clear(struct store_cert *c);
/* -TL_EEXIST on duplicate serial */
int store_cert_add(struct store *st, const struct store_cert *c) TL_MUST_CHECK;
/* -TL_ENOTFOUND */
int store_cert_get(struct store *st, const char *serial,
                   struct store_cert *out) TL_MUST_CHECK;
/* -TL_ENOTFOUND, -TL_ESTATE if already revoked */
int store_cert_revoke(struct store *st, const char *serial, int reason,
                      int64_t when) TL_MUST_CHECK;
typedef int (*store_cert_h)(const struct store_cert *c,
                            void *arg); /* non-zero stops */
int store_cert_list(struct store *st, const char *profile /* NULL: all */,
                    store_cert_h h, void *arg) TL_MUST_CHECK;

/* ---- call detail records (written by the call manager) ---- */

struct store_cdr {
	char call_id[128];
	char from_dn[STORE_DN_MAX];
	char to_dn[STORE_DN_MAX];
	int64_t start, answer, end; /* Unix seconds; 0 = did not happen */
	char security[24];          /* "nonsecure", "authenticated", ... */
	char cause[64];
};
int store_cdr_add(struct store *st, const struct store_cdr *c) TL_MUST_CHECK;

/* ---- audit log ---- */

int store_audit(struct store *st, const char *actor, const char *action,
                const char *detail) TL_MUST_CHECK;
struct store_audit_entry {
	int64_t id;
	int64_t at; /* Unix seconds */
	char actor[64];
	char action[64];
	char detail[512];
};
typedef int (*store_audit_h)(const struct store_audit_entry *e, void *arg);
/* Newest first, at most limit entries (0: all). */
int store_audit_list(struct store *st, unsigned limit, store_audit_h h,
                     void *arg) TL_MUST_CHECK;

#endif
