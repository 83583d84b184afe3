/* Registrar: RFC 3261 §10.3 with digest authentication (RFC 7616/8760)
 * and the per-device security policy of seed 002 (authenticated and
 * encrypted devices register only over TLS with their own certificate). */
#include "callmgr/cm_reg.h"

#include "base/log.h"

#include <errno.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CM_KEY_MAX 64

struct cm_line {
	struct cm_line *next_user; /* hash chain by digest user */
	struct cm_line *next_dn;   /* hash chain by directory number */
	char dn[CM_KEY_MAX];
	char user[CM_KEY_MAX];
	char realm[128];
	char cn[20]; /* SEP<MAC> of the owning device */
	enum store_sec_mode mode;
	bool allow_mic;
	bool auth_invite;
	bool revoked; /* the device's certificate is revoked */
	char fwd_all[CM_KEY_MAX], fwd_busy[CM_KEY_MAX], fwd_noans[CM_KEY_MAX];
	bool has_md5, has_sha256;
	uint8_t ha1_md5[16];
	uint8_t ha1_sha256[32];
};

struct cm_lines {
	struct cm_line *all;
	size_t n, cap;
	struct cm_line **by_user;
	struct cm_line **by_dn;
	size_t mask;
};

struct cm_bind {
	struct cm_bind *next;
	char *contact;
	char *call_id;
	uint32_t cseq;
	uint64_t expires_at;
	enum net_transport tp;
	struct net_addr src;
};

struct cm_aor {
	struct cm_aor *next;
	struct cm_bind *binds;
	unsigned n;
	char dn[CM_KEY_MAX];
};

/* Auto-registration into a DN pool (site settings CM_AUTOREG_*, written by
 * `trustline cluster autoreg`), read with the lines. */
struct cm_autoreg {
	bool on;    /* enabled and complete (pool, profile, HA1) */
	bool mixed; /* cluster mode mixed: refused (seed 002) */
	unsigned long first, last;
	char profile[STORE_NAME_MAX];
	char user[CM_KEY_MAX];
	char realm[128];
	bool has_md5, has_sha256;
	uint8_t ha1_md5[16];
	uint8_t ha1_sha256[32];
};

struct cm_reg {
	struct store *st;
	struct sip_auth_srv *auth;
	struct cm_reg_conf conf;
	char realm[128];
	enum sip_auth_alg algs[2];
	size_t n_algs;
	struct cm_lines lines;
	struct cm_aor **aors;
	size_t aor_mask;
	unsigned count;
	struct cm_autoreg ar;
	uint64_t ar_audit_ms; /* refusals of unknown devices: 1 audit/s */
	unsigned ar_quiet;
	uint64_t gen; /* store generation the lines are up to date with */
};

static uint32_t hash_bytes(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h = (h ^ p[i]) * 16777619u;
	}
	return h;
}

static int key_eq(const char *key, struct slice s)
{
	return strlen(key) == s.len && memcmp(key, s.p, s.len) == 0;
}

static void lines_free(struct cm_lines *l)
{
	if (l->all) {
		/* the HA1 values (STYLE 12) */
		OPENSSL_cleanse(l->all, l->cap * sizeof(*l->all));
	}
	free(l->all);
	free(l->by_user);
	free(l->by_dn);
	memset(l, 0, sizeof(*l));
}

static struct cm_line *line_by_user(const struct cm_reg *r, struct slice u)
{
	if (!r->lines.by_user) {
		return NULL;
	}
	for (struct cm_line *l =
	             r->lines.by_user[hash_bytes(u.p, u.len) & r->lines.mask];
	     l; l = l->next_user) {
		if (key_eq(l->user, u)) {
			return l;
		}
	}
	return NULL;
}

static struct cm_line *line_by_dn(const struct cm_reg *r, struct slice dn)
{
	if (!r->lines.by_dn) {
		return NULL;
	}
	for (struct cm_line *l =
	             r->lines.by_dn[hash_bytes(dn.p, dn.len) & r->lines.mask];
	     l; l = l->next_dn) {
		if (key_eq(l->dn, dn)) {
			return l;
		}
	}
	return NULL;
}

static int hex_to_raw(const char *hex, uint8_t *out, size_t n)
{
	if (strlen(hex) != 2 * n) {
		return -TL_EPARSE;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1) {
			return -TL_EPARSE;
		}
		out[i] = (uint8_t)v;
	}
	return 0;
}

struct load_ctx {
	struct cm_reg *r;
	struct cm_line *arr;
	size_t n, cap;
	int err;
};

/* Call forwarding targets live in site settings "cm.fwd.<kind>.<dn>"
 * (written by `trustline calls forward`). */
static void load_forward(struct store *st, const char *kind, const char *dn,
                         char out[CM_KEY_MAX])
{
	char key[STORE_KEY_MAX];

	out[0] = '\0';
	if (cm_fwd_key(key, sizeof(key), kind, dn) != 0 ||
	    store_setting_get(st, key, out, CM_KEY_MAX) != 0) {
		out[0] = '\0';
	}
}

static int load_line(const struct store_line *sl, void *arg)
{
	struct load_ctx *c = arg;
	struct store_device dev;
	struct store_profile prof;
	struct cm_line *l;

	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		struct cm_line *na = realloc(c->arr, ncap * sizeof(*na));
		if (!na) {
			c->err = -ENOMEM;
			return 1;
		}
		c->arr = na;
		c->cap = ncap;
	}
	l = &c->arr[c->n];
	memset(l, 0, sizeof(*l));
	snprintf(l->dn, sizeof(l->dn), "%s", sl->dn);
	snprintf(l->user, sizeof(l->user), "%s",
	         sl->user[0] ? sl->user : sl->dn);
	snprintf(l->realm, sizeof(l->realm), "%s", sl->realm);
	l->has_md5 = hex_to_raw(sl->ha1_md5, l->ha1_md5, 16) == 0;
	l->has_sha256 = hex_to_raw(sl->ha1_sha256, l->ha1_sha256, 32) == 0;
	l->mode = STORE_SEC_NONSECURE;
	if (store_device_get(c->r->st, sl->device, &dev) == 0) {
		struct store_cert cert = {0};
		snprintf(l->cn, sizeof(l->cn), "%s", dev.name);
		/* The certificate the device enrolled with (LSC) or was
		 * given: revoked means no service (seed 002). */
		if (dev.cert_serial[0] &&
		    store_cert_get(c->r->st, dev.cert_serial, &cert) == 0) {
			l->revoked = cert.revoked_at != 0;
		}
		store_cert_clear(&cert);
		if (store_profile_get(c->r->st, dev.profile, &prof) == 0) {
			l->mode = prof.mode;
			l->allow_mic = prof.allow_mic;
			l->auth_invite = prof.auth_invite;
		}
	}
	load_forward(c->r->st, "all", l->dn, l->fwd_all);
	load_forward(c->r->st, "busy", l->dn, l->fwd_busy);
	load_forward(c->r->st, "noans", l->dn, l->fwd_noans);
	c->n++;
	return 0;
}

int cm_fwd_key(char *out, size_t outlen, const char *kind, const char *dn)
{
	int n = snprintf(out, outlen, "cm.fwd.%s.%s", kind, dn);

	return n < 0 || (size_t)n >= outlen ? -TL_ETOOBIG : 0;
}

static struct cm_aor *aor_find(struct cm_reg *r, struct slice dn, bool create);
static void bind_remove(struct cm_reg *r, struct cm_aor *a,
                        struct cm_bind *target);

/* A device whose certificate was revoked loses its registrations at
 * once, not at their expiry. */
static void drop_revoked(struct cm_reg *r)
{
	for (size_t i = 0; i < r->lines.n; i++) {
		struct cm_line *l = &r->lines.all[i];
		struct cm_aor *a;
		if (!l->revoked || !r->aors) {
			continue;
		}
		a = aor_find(r, slice_from_str(l->dn), false);
		if (!a || !a->binds) {
			continue;
		}
		while (a->binds) {
			bind_remove(r, a, a->binds);
		}
		log_warn("registrar",
		         "dn=%s: certificate of %s revoked, "
		         "registrations dropped",
		         l->dn, l->cn);
		if (store_audit(r->st, "registrar", "registration-dropped",
		                l->dn) != 0) {
			log_warn("registrar", "audit log write failed");
		}
	}
}

static bool setting(struct store *st, const char *key, char *out, size_t n)
{
	return store_setting_get(st, key, out, n) == 0;
}

int cm_autoreg_pool_parse(const char *s, unsigned long *first,
                          unsigned long *last)
{
	char *end;
	unsigned long a, b;

	if (s[0] < '1' || s[0] > '9') {
		return -TL_EPARSE;
	}
	errno = 0;
	a = strtoul(s, &end, 10);
	if (errno || *end != '-' || end[1] < '1' || end[1] > '9') {
		return -TL_EPARSE;
	}
	b = strtoul(end + 1, &end, 10);
	if (errno || *end || a > b || b > 999999999999ul ||
	    b - a >= CM_AUTOREG_POOL_MAX) {
		return -TL_EPARSE;
	}
	*first = a;
	*last = b;
	return 0;
}

/* The pool's settings; anything missing or malformed leaves it off. */
static void load_autoreg(struct cm_reg *r)
{
	struct cm_autoreg *a = &r->ar;
	enum store_cluster_mode mode;
	char v[80];
	char hex[65];

	OPENSSL_cleanse(a, sizeof(*a));
	if (store_cluster_mode_get(r->st, &mode) == 0) {
		a->mixed = mode == STORE_CLUSTER_MIXED;
	}
	if (!setting(r->st, CM_AUTOREG_KEY, v, sizeof(v)) || strcmp(v, "on")) {
		return;
	}
	if (!setting(r->st, CM_AUTOREG_POOL_KEY, v, sizeof(v)) ||
	    cm_autoreg_pool_parse(v, &a->first, &a->last) != 0 ||
	    !setting(r->st, CM_AUTOREG_PROFILE_KEY, a->profile,
	             sizeof(a->profile)) ||
	    !setting(r->st, CM_AUTOREG_USER_KEY, a->user, sizeof(a->user)) ||
	    !setting(r->st, CM_AUTOREG_REALM_KEY, a->realm, sizeof(a->realm))) {
		log_warn("registrar", "auto-registration on but incomplete: "
		                      "off");
		return;
	}
	if (setting(r->st, CM_AUTOREG_HA1_MD5_KEY, hex, sizeof(hex))) {
		a->has_md5 = hex_to_raw(hex, a->ha1_md5, 16) == 0;
	}
	if (setting(r->st, CM_AUTOREG_HA1_SHA256_KEY, hex, sizeof(hex))) {
		a->has_sha256 = hex_to_raw(hex, a->ha1_sha256, 32) == 0;
	}
	OPENSSL_cleanse(hex, sizeof(hex));
	a->on = a->has_md5 || a->has_sha256;
}

static void line_link(struct cm_lines *t, struct cm_line *l)
{
	uint32_t hu =
	        hash_bytes((const uint8_t *)l->user, strlen(l->user)) & t->mask;
	uint32_t hd =
	        hash_bytes((const uint8_t *)l->dn, strlen(l->dn)) & t->mask;

	l->next_user = t->by_user[hu];
	t->by_user[hu] = l;
	l->next_dn = t->by_dn[hd];
	t->by_dn[hd] = l;
}

static void line_unlink(struct cm_lines *t, struct cm_line *l)
{
	struct cm_line **pp;

	pp = &t->by_user[hash_bytes((const uint8_t *)l->user, strlen(l->user)) &
	                 t->mask];
	while (*pp && *pp != l) {
		pp = &(*pp)->next_user;
	}
	if (*pp) {
		*pp = l->next_user;
	}
	pp = &t->by_dn[hash_bytes((const uint8_t *)l->dn, strlen(l->dn)) &
	               t->mask];
	while (*pp && *pp != l) {
		pp = &(*pp)->next_dn;
	}
	if (*pp) {
		*pp = l->next_dn;
	}
}

/* Move the lines into an array of cap and hash tables of buckets (a
 * power of two); on failure t is left as it was. */
static int lines_resize(struct cm_lines *t, size_t cap, size_t buckets)
{
	struct cm_lines nt = {.n = t->n, .cap = cap, .mask = buckets - 1};

	nt.all = calloc(cap, sizeof(*nt.all));
	nt.by_user = calloc(buckets, sizeof(*nt.by_user));
	nt.by_dn = calloc(buckets, sizeof(*nt.by_dn));
	if (!nt.all || !nt.by_user || !nt.by_dn) {
		free(nt.all);
		free(nt.by_user);
		free(nt.by_dn);
		return -ENOMEM;
	}
	if (t->n) {
		memcpy(nt.all, t->all, t->n * sizeof(*nt.all));
	}
	for (size_t i = 0; i < nt.n; i++) {
		line_link(&nt, &nt.all[i]);
	}
	lines_free(t);
	*t = nt;
	return 0;
}

/* Forget line dn, if loaded (the last line moves into its place). */
static void line_drop(struct cm_lines *t, const char *dn)
{
	struct cm_line *l = NULL, *last;

	if (t->by_dn) {
		l = t->by_dn[hash_bytes((const uint8_t *)dn, strlen(dn)) &
		             t->mask];
	}
	while (l && strcmp(l->dn, dn)) {
		l = l->next_dn;
	}
	if (!l) {
		return;
	}
	last = &t->all[t->n - 1];
	line_unlink(t, l);
	if (l != last) {
		line_unlink(t, last);
		*l = *last;
		line_link(t, l);
	}
	OPENSSL_cleanse(last, sizeof(*last));
	t->n--;
}

/* Add line src, or replace the loaded line of its DN. */
static int line_put(struct cm_lines *t, const struct cm_line *src)
{
	struct cm_line *l = NULL;
	size_t buckets = t->by_dn ? t->mask + 1 : 16;
	size_t cap = t->cap;
	int err;

	if (t->by_dn) {
		l = t->by_dn[hash_bytes((const uint8_t *)src->dn,
		                        strlen(src->dn)) &
		             t->mask];
	}
	while (l && strcmp(l->dn, src->dn)) {
		l = l->next_dn;
	}
	if (l) {
		line_unlink(t, l);
		*l = *src;
		line_link(t, l);
		return 0;
	}
	while (buckets < 2 * (t->n + 1)) {
		buckets *= 2;
	}
	if (t->n == cap) {
		cap = cap ? cap * 2 : 64;
	}
	if (cap != t->cap || !t->by_dn || buckets != t->mask + 1) {
		err = lines_resize(t, cap, buckets);
		if (err) {
			return err;
		}
	}
	l = &t->all[t->n++];
	*l = *src;
	line_link(t, l);
	return 0;
}

/* Everything from the store: lines, their devices and profiles, the
 * auto-registration pool. */
int cm_reg_reload(struct cm_reg *r)
{
	struct load_ctx c = {.r = r};
	struct cm_lines nl = {0};
	size_t buckets = 16;
	uint64_t gen = 0;
	/* one state for all rows, and fewer lock round trips; inside a
	 * caller's transaction the rows are read as they are */
	bool snap = store_read_begin(r->st) == 0;
	int err;

	err = store_generation(r->st, &gen);
	if (!err) {
		err = store_line_list(r->st, NULL, load_line, &c);
	}
	if (!err) {
		err = c.err;
	}
	if (snap) {
		store_read_end(r->st);
	}
	if (err) {
		if (c.arr) {
			OPENSSL_cleanse(c.arr, c.cap * sizeof(*c.arr));
		}
		free(c.arr);
		return err;
	}
	while (buckets < 2 * c.n) {
		buckets *= 2;
	}
	nl.all = c.arr;
	nl.n = c.n;
	nl.cap = c.cap;
	nl.mask = buckets - 1;
	nl.by_user = calloc(buckets, sizeof(*nl.by_user));
	nl.by_dn = calloc(buckets, sizeof(*nl.by_dn));
	if (!nl.by_user || !nl.by_dn) {
		lines_free(&nl);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nl.n; i++) {
		line_link(&nl, &nl.all[i]);
	}
	lines_free(&r->lines);
	r->lines = nl;
	r->gen = gen;
	load_autoreg(r);
	log_info("registrar", "%zu lines loaded%s", nl.n,
	         r->ar.on ? (r->ar.mixed ? " (auto-registration refused: "
	                                   "mixed mode)"
	                                 : " (auto-registration on)")
	                  : "");
	drop_revoked(r);
	return 0;
}

struct chg_list {
	struct store_change *c;
	size_t n, cap;
};

static int chg_collect(const struct store_change *c, void *arg)
{
	struct chg_list *l = arg;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct store_change *nc = realloc(l->c, cap * sizeof(*nc));
		if (!nc) {
			return -ENOMEM;
		}
		l->c = nc;
		l->cap = cap;
	}
	l->c[l->n++] = *c;
	return 0;
}

/* Read the lines the changes name: every line of a changed device, each
 * changed line that still exists. */
static int refresh_read(struct cm_reg *r, const struct chg_list *cl,
                        struct load_ctx *lc)
{
	struct store_line sl;
	int err = 0;

	for (size_t i = 0; !err && i < cl->n; i++) {
		const struct store_change *c = &cl->c[i];
		if (c->deleted) {
			continue;
		}
		if (c->kind == STORE_CHANGE_DEVICE) {
			err = store_line_list(r->st, c->key, load_line, lc);
		} else {
			err = store_line_get(r->st, c->key, &sl);
			if (!err) {
				err = load_line(&sl, lc);
			} else if (err == -TL_ENOTFOUND) {
				err = 0; /* deleted since: dropped below */
			}
			OPENSSL_cleanse(&sl, sizeof(sl));
		}
		if (!err) {
			err = lc->err;
		}
	}
	return err;
}

int cm_reg_refresh(struct cm_reg *r, unsigned *lines_changed)
{
	struct chg_list cl = {0};
	struct load_ctx lc = {.r = r};
	uint64_t upto = 0;
	bool full = false;
	bool snap = store_read_begin(r->st) == 0;
	unsigned n_lines = 0;
	int err;

	*lines_changed = 0;
	err = store_changes_since(r->st, r->gen, &upto, &full, chg_collect,
	                          &cl);
	if (!err && !full) {
		err = refresh_read(r, &cl, &lc);
	}
	if (snap) {
		store_read_end(r->st);
	}
	if (!err && full) {
		/* settings (forwarding, auto-registration, cluster mode) or
		 * profiles changed, or the record of deletions has a gap */
		err = cm_reg_reload(r);
		if (!err) {
			*lines_changed = (unsigned)r->lines.n + 1;
		}
		goto out;
	}
	if (err) {
		goto out;
	}
	/* A deleted or moved line is dropped, then put back as it is now
	 * if it still exists; each step leaves the tables consistent, so
	 * a failure half way is mended by the next refresh (r->gen has
	 * not moved). */
	for (size_t i = 0; i < cl.n; i++) {
		if (cl.c[i].kind == STORE_CHANGE_LINE) {
			line_drop(&r->lines, cl.c[i].key);
			n_lines++;
		}
	}
	for (size_t i = 0; !err && i < lc.n; i++) {
		err = line_put(&r->lines, &lc.arr[i]);
	}
	if (err) {
		goto out;
	}
	if (cl.n) {
		log_debug("registrar", "%zu changes, %zu lines reloaded", cl.n,
		          lc.n);
	}
	r->gen = upto;
	*lines_changed = n_lines;
	drop_revoked(r);
out:
	if (lc.arr) {
		OPENSSL_cleanse(lc.arr, lc.cap * sizeof(*lc.arr));
	}
	free(lc.arr);
	free(cl.c);
	return err;
}

int cm_reg_new(struct cm_reg **out, struct store *st, struct sip_auth_srv *auth,
               const struct cm_reg_conf *conf)
{
	struct cm_reg *r = calloc(1, sizeof(*r));
	int err;

	if (!r) {
		return -ENOMEM;
	}
	r->st = st;
	r->auth = auth;
	r->conf = *conf;
	if (!r->conf.min_expires) {
		r->conf.min_expires = 60;
	}
	if (!r->conf.max_expires) {
		r->conf.max_expires = 7200;
	}
	if (!r->conf.default_expires) {
		r->conf.default_expires = 3600;
	}
	if (!r->conf.max_contacts) {
		r->conf.max_contacts = 8;
	}
	snprintf(r->realm, sizeof(r->realm), "%s",
	         conf->realm ? conf->realm : "trustline");
	if (conf->md5_first) {
		r->algs[0] = SIP_AUTH_MD5;
		r->algs[1] = SIP_AUTH_SHA256;
	} else {
		r->algs[0] = SIP_AUTH_SHA256;
		r->algs[1] = SIP_AUTH_MD5;
	}
	r->n_algs = conf->md5_only ? 1 : 2;
	if (conf->md5_only) {
		r->algs[0] = SIP_AUTH_MD5;
	}
	r->aor_mask = 4095;
	r->aors = calloc(r->aor_mask + 1, sizeof(*r->aors));
	if (!r->aors) {
		free(r);
		return -ENOMEM;
	}
	err = cm_reg_reload(r);
	if (err) {
		cm_reg_free(r);
		return err;
	}
	*out = r;
	return 0;
}

static void bind_free(struct cm_bind *b)
{
	free(b->contact);
	free(b->call_id);
	free(b);
}

void cm_reg_free(struct cm_reg *r)
{
	if (!r) {
		return;
	}
	for (size_t i = 0; r->aors && i <= r->aor_mask; i++) {
		struct cm_aor *a = r->aors[i];
		while (a) {
			struct cm_aor *na = a->next;
			struct cm_bind *b = a->binds;
			while (b) {
				struct cm_bind *nb = b->next;
				bind_free(b);
				b = nb;
			}
			free(a);
			a = na;
		}
	}
	free(r->aors);
	lines_free(&r->lines);
	OPENSSL_cleanse(&r->ar, sizeof(r->ar));
	free(r);
}

static struct cm_aor *aor_find(struct cm_reg *r, struct slice dn, bool create)
{
	uint32_t h = hash_bytes(dn.p, dn.len) & r->aor_mask;
	struct cm_aor *a;

	for (a = r->aors[h]; a; a = a->next) {
		if (key_eq(a->dn, dn)) {
			return a;
		}
	}
	if (!create || dn.len >= CM_KEY_MAX) {
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		return NULL;
	}
	memcpy(a->dn, dn.p, dn.len);
	a->next = r->aors[h];
	r->aors[h] = a;
	return a;
}

/* Remove expired bindings of one AOR. */
static void aor_prune(struct cm_reg *r, struct cm_aor *a, uint64_t now)
{
	struct cm_bind **pp = &a->binds;

	while (*pp) {
		struct cm_bind *b = *pp;
		if (b->expires_at <= now) {
			*pp = b->next;
			bind_free(b);
			a->n--;
			r->count--;
		} else {
			pp = &b->next;
		}
	}
}

void cm_reg_expire(struct cm_reg *r, uint64_t now_ms)
{
	for (size_t i = 0; i <= r->aor_mask; i++) {
		for (struct cm_aor *a = r->aors[i]; a; a = a->next) {
			aor_prune(r, a, now_ms);
		}
	}
}

unsigned cm_reg_count(const struct cm_reg *r)
{
	return r->count;
}

int cm_reg_lookup(struct cm_reg *r, const char *dn, uint64_t now_ms,
                  cm_binding_h h, void *arg)
{
	struct slice k = slice_from_str(dn);
	struct cm_aor *a;
	int n = 0;

	if (!line_by_dn(r, k)) {
		return -TL_ENOTFOUND;
	}
	a = aor_find(r, k, false);
	if (!a) {
		return 0;
	}
	aor_prune(r, a, now_ms);
	for (struct cm_bind *b = a->binds; b; b = b->next) {
		struct cm_binding cb = {
		        .contact = b->contact,
		        .tp = b->tp,
		        .src = b->src,
		        .expires_in =
		                (uint32_t)((b->expires_at - now_ms) / 1000),
		};
		n++;
		if (h && h(&cb, arg)) {
			break;
		}
	}
	return n;
}

/* ---- REGISTER ---- */

static bool autoreg_usable(const struct cm_reg *r)
{
	/* seed 002: auto-registration is refused in mixed mode */
	return r->ar.on && !r->ar.mixed;
}

static int pool_ha1(const struct cm_reg *r, enum sip_auth_alg alg,
                    uint8_t ha1[SIP_AUTH_HA1_MAX], size_t *len)
{
	if (alg == SIP_AUTH_SHA256 || alg == SIP_AUTH_SHA256_SESS) {
		if (!r->ar.has_sha256) {
			return -TL_ENOTFOUND;
		}
		memcpy(ha1, r->ar.ha1_sha256, 32);
		*len = 32;
		return 0;
	}
	if (!r->ar.has_md5) {
		return -TL_ENOTFOUND;
	}
	memcpy(ha1, r->ar.ha1_md5, 16);
	*len = 16;
	return 0;
}

/* The Cisco device name "SEP" + 12 hex digits of the MAC (any case) as
 * the AOR user: the MAC in upper case. */
static bool sep_mac(struct slice u, char mac[13])
{
	static const char hexd[] = "0123456789ABCDEF";

	if (u.len != 15 || (u.p[0] | 0x20) != 's' || (u.p[1] | 0x20) != 'e' ||
	    (u.p[2] | 0x20) != 'p') {
		return false;
	}
	for (size_t i = 0; i < 12; i++) {
		uint8_t c = u.p[3 + i];
		if (c >= 'a' && c <= 'f') {
			c = (uint8_t)(c - 'a' + 'A');
		}
		if (!memchr(hexd, c, 16) || c == '\0') {
			return false;
		}
		mac[i] = (char)c;
	}
	mac[12] = '\0';
	return true;
}

static bool in_pool(const struct cm_reg *r, const char *dn)
{
	char *end;
	unsigned long v;

	if (dn[0] < '1' || dn[0] > '9') {
		return false;
	}
	errno = 0;
	v = strtoul(dn, &end, 10);
	return !errno && !*end && v >= r->ar.first && v <= r->ar.last;
}

/* The line of device SEP<mac> (its device name), if any. Linear: only
 * REGISTERs and requests naming a device instead of a number get here. */
static struct cm_line *line_by_cn(const struct cm_reg *r, const char *mac)
{
	char cn[20];

	snprintf(cn, sizeof(cn), "SEP%s", mac);
	for (size_t i = 0; i < r->lines.n; i++) {
		if (!strcmp(r->lines.all[i].cn, cn)) {
			return &r->lines.all[i];
		}
	}
	return NULL;
}

static int ha1_lookup(void *arg, struct slice user, struct slice realm,
                      enum sip_auth_alg alg, uint8_t ha1[SIP_AUTH_HA1_MAX],
                      size_t *len)
{
	struct cm_reg *r = arg;
	struct cm_line *l = line_by_user(r, user);

	if (!l && autoreg_usable(r) && key_eq(r->ar.user, user) &&
	    key_eq(r->ar.realm, realm)) {
		return pool_ha1(r, alg, ha1, len);
	}
	if (!l || !key_eq(l->realm, realm)) {
		return -TL_ENOTFOUND;
	}
	if (alg == SIP_AUTH_SHA256 || alg == SIP_AUTH_SHA256_SESS) {
		if (!l->has_sha256) {
			return -TL_ENOTFOUND;
		}
		memcpy(ha1, l->ha1_sha256, 32);
		*len = 32;
	} else {
		if (!l->has_md5) {
			return -TL_ENOTFOUND;
		}
		memcpy(ha1, l->ha1_md5, 16);
		*len = 16;
	}
	return 0;
}

static struct slice addr_bytes(const struct net_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const void *)&a->ss;
		return slice_make(&s4->sin_addr, 4);
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&a->ss;
		return slice_make(&s6->sin6_addr, 16);
	}
	return SLICE_NULL;
}

static int respond(struct cm_reg_answer *ans, uint16_t code, const char *reason)
{
	ans->code = code;
	ans->reason = reason;
	return buf_err(&ans->hdrs);
}

static void audit(struct cm_reg *r, const char *action, const char *dn,
                  const struct cm_req_info *info, const char *why)
{
	char src[NET_ADDR_STRLEN] = "?";
	char detail[512];

	if (net_addr_fmt(&info->src, src, sizeof(src)) != 0) {
		snprintf(src, sizeof(src), "?");
	}
	snprintf(detail, sizeof(detail), "dn=%s transport=%s src=%s: %s", dn,
	         net_transport_name(info->tp), src, why);
	log_warn("registrar", "%s %s", action, detail);
	if (store_audit(r->st, "registrar", action, detail) != 0) {
		log_warn("registrar", "audit log write failed");
	}
}

/* seed 002: a device in authenticated or encrypted mode registers only
 * over TLS, with a client certificate naming the device itself. */
static const char *policy_refusal(const struct cm_line *l,
                                  const struct cm_req_info *info)
{
	if (l->mode == STORE_SEC_NONSECURE) {
		return NULL;
	}
	if (info->tp != NET_TLS) {
		return "Transport not allowed by security profile";
	}
	if (!info->peer_cn) {
		return "Client certificate required";
	}
	if (strcmp(info->peer_cn, l->cn) != 0) {
		return "Certificate does not match device";
	}
	return NULL;
}

struct contact_op {
	struct slice uri;
	uint32_t expires;
};

static struct cm_bind *bind_find(struct cm_aor *a, struct slice uri)
{
	for (struct cm_bind *b = a->binds; b; b = b->next) {
		if (key_eq(b->contact, uri)) {
			return b;
		}
	}
	return NULL;
}

static char *dup_slice(struct slice s)
{
	char *p = malloc(s.len + 1);

	if (p) {
		memcpy(p, s.p, s.len);
		p[s.len] = '\0';
	}
	return p;
}

static void bind_remove(struct cm_reg *r, struct cm_aor *a,
                        struct cm_bind *target)
{
	for (struct cm_bind **pp = &a->binds; *pp; pp = &(*pp)->next) {
		if (*pp == target) {
			*pp = target->next;
			bind_free(target);
			a->n--;
			r->count--;
			return;
		}
	}
}

static int build_ok(struct cm_aor *a, uint64_t now, struct cm_reg_answer *ans)
{
	int err = 0;

	for (struct cm_bind *b = a ? a->binds : NULL; !err && b; b = b->next) {
		err = sip_build_hdrf(&ans->hdrs, "Contact", "<%s>;expires=%u",
		                     b->contact,
		                     (unsigned)((b->expires_at - now) / 1000));
	}
	return err ? err : respond(ans, 200, NULL);
}

static int apply_contacts(struct cm_reg *r, struct sip_msg *req,
                          struct slice dn, const struct cm_req_info *info,
                          struct cm_reg_answer *ans)
{
	struct contact_op ops[16];
	size_t nops = 0;
	bool star = false;
	uint32_t hdr_exp = 0;
	bool has_hdr_exp = sip_msg_expires(req, &hdr_exp) == 0;
	const struct sip_cseq *cseq = sip_msg_cseq(req);
	struct slice call_id = sip_msg_call_id(req);
	uint64_t now = info->now_ms;
	struct sip_iter it;
	struct sip_contact c;
	struct cm_aor *a;
	int rc;

	sip_msg_iter(&it, req, SIP_HDR_CONTACT);
	while ((rc = sip_iter_contact(&it, &c)) == 1) {
		if (c.star) {
			star = true;
			continue;
		}
		if (nops == sizeof(ops) / sizeof(*ops)) {
			return respond(ans, 403, "Too many contacts");
		}
		ops[nops].uri = c.addr.uri_raw;
		ops[nops].expires = c.has_expires ? c.expires
		                    : has_hdr_exp ? hdr_exp
		                                  : r->conf.default_expires;
		nops++;
	}
	if (rc < 0) {
		return respond(ans, 400, "Bad Contact");
	}
	/* RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0. */
	if (star && (nops > 0 || !has_hdr_exp || hdr_exp != 0)) {
		return respond(ans, 400, "Invalid wildcard Contact");
	}
	a = aor_find(r, dn, star || nops > 0);
	if (!a && (star || nops > 0)) {
		return respond(ans, 500, "Out of memory");
	}
	if (a) {
		aor_prune(r, a, now);
	}
	if (star) {
		while (a->binds) {
			bind_remove(r, a, a->binds);
		}
		return build_ok(a, now, ans);
	}
	for (size_t i = 0; i < nops; i++) {
		if (ops[i].expires != 0 &&
		    ops[i].expires < r->conf.min_expires) {
			int err = sip_build_hdrf(&ans->hdrs, "Min-Expires",
			                         "%u", r->conf.min_expires);
			return err ? err : respond(ans, 423, NULL);
		}
		if (ops[i].expires > r->conf.max_expires) {
			ops[i].expires = r->conf.max_expires;
		}
		/* RFC 3261 §10.3 step 7: the same Call-ID with a CSeq that
		 * is not higher is out of order. */
		struct cm_bind *b = bind_find(a, ops[i].uri);
		if (b && key_eq(b->call_id, call_id) && cseq->num <= b->cseq) {
			return respond(ans, 500, "Out of order request");
		}
	}
	for (size_t i = 0; i < nops; i++) {
		struct cm_bind *b = bind_find(a, ops[i].uri);
		if (ops[i].expires == 0) {
			if (b) {
				bind_remove(r, a, b);
			}
			continue;
		}
		if (!b) {
			if (a->n >= r->conf.max_contacts) {
				return respond(ans, 403,
				               "Too many registered contacts");
			}
			b = calloc(1, sizeof(*b));
			if (!b || !(b->contact = dup_slice(ops[i].uri))) {
				free(b);
				return respond(ans, 500, "Out of memory");
			}
			b->next = a->binds;
			a->binds = b;
			a->n++;
			r->count++;
		}
		if (!key_eq(b->call_id ? b->call_id : "", call_id)) {
			char *cid = dup_slice(call_id);
			if (!cid) {
				return respond(ans, 500, "Out of memory");
			}
			free(b->call_id);
			b->call_id = cid;
		}
		b->cseq = cseq->num;
		b->expires_at = now + (uint64_t)ops[i].expires * 1000;
		b->tp = info->tp;
		b->src = info->src;
	}
	return build_ok(a, now, ans);
}

/* RFC 8760 §2.4: a UAC answers the first challenge it supports, but some
 * (SIPp 3.6) read only the first one: the order is configurable. */
static int challenge(struct cm_reg *r, struct slice addr, bool stale,
                     struct buf *hdrs)
{
	/* one nonce for all of them */
	return sip_auth_challenge_algs(r->auth, r->algs, r->n_algs,
	                               slice_from_str(r->realm), addr, stale,
	                               false, hdrs);
}

/* Refusals of unknown devices come from anyone: one audit row a second
 * at most, with the count of those not written. */
static void audit_unknown(struct cm_reg *r, const char *mac,
                          const struct cm_req_info *info, const char *why)
{
	char what[64], text[160];

	if (r->ar_audit_ms && info->now_ms < r->ar_audit_ms + 1000) {
		r->ar_quiet++;
		return;
	}
	r->ar_audit_ms = info->now_ms ? info->now_ms : 1;
	snprintf(what, sizeof(what), "SEP%s", mac);
	if (r->ar_quiet) {
		snprintf(text, sizeof(text), "%s (%u more not logged)", why,
		         r->ar_quiet);
		r->ar_quiet = 0;
		why = text;
	}
	audit(r, "autoreg-refused", what, info, why);
}

/* Create device SEP<mac> with the pool's profile and a line on the first
 * free DN of the pool, in one transaction with its audit row. dn gets
 * the number. -TL_ELIMIT: the pool is full; -TL_EEXIST: the device
 * exists (without a line: not ours to take over). */
static int autoreg_create(struct cm_reg *r, const char *mac,
                          const struct cm_req_info *info, char *dn,
                          size_t dnlen)
{
	char src[NET_ADDR_STRLEN] = "?";
	char detail[256];

	if (net_addr_fmt(&info->src, src, sizeof(src)) != 0) {
		snprintf(src, sizeof(src), "?");
	}
	for (unsigned long v = r->ar.first; v <= r->ar.last; v++) {
		struct store_device d = {0};
		struct store_line l = {0};
		int err;

		/* at most 12 digits (cm_autoreg_pool_parse) */
		snprintf(l.dn, sizeof(l.dn), "%lu", v);
		snprintf(dn, dnlen, "%s", l.dn);
		if (line_by_dn(r, slice_from_str(l.dn))) {
			continue;
		}
		snprintf(d.mac, sizeof(d.mac), "%s", mac);
		snprintf(d.profile, sizeof(d.profile), "%s", r->ar.profile);
		snprintf(d.description, sizeof(d.description),
		         "auto-registered");
		snprintf(l.device, sizeof(l.device), "%s", mac);
		snprintf(detail, sizeof(detail),
		         "SEP%s dn=%s profile=%s transport=%s src=%s", mac,
		         l.dn, r->ar.profile, net_transport_name(info->tp),
		         src);
		err = store_tx_begin(r->st);
		if (err) {
			return err;
		}
		err = store_device_add(r->st, &d);
		if (!err) {
			err = store_line_add(r->st, &l);
			if (err == -TL_EEXIST) {
				/* the DN was taken since our last reload */
				store_tx_rollback(r->st);
				continue;
			}
		}
		if (!err) {
			err = store_audit(r->st, "registrar", "autoreg",
			                  detail);
		}
		if (err) {
			store_tx_rollback(r->st);
			return err;
		}
		err = store_tx_commit(r->st);
		if (!err) {
			log_info("registrar", "autoreg %s", detail);
		}
		return err;
	}
	return -TL_ELIMIT;
}

/* A REGISTER whose AOR user is SEP<MAC> (docs/callmgr.md): a device
 * auto-registered before, or an unknown one to auto-register. Returns
 * the line to register, or NULL with ans set. */
static struct cm_line *autoreg_line(struct cm_reg *r, const char *mac,
                                    struct slice auth_user,
                                    const struct cm_req_info *info,
                                    struct cm_reg_answer *ans, int *err)
{
	struct cm_line *l = line_by_cn(r, mac);
	char dn[CM_KEY_MAX], what[20];

	snprintf(what, sizeof(what), "SEP%s", mac);
	if (l) {
		/* known: its own credentials, or the pool's for a line of
		 * the pool */
		if (key_eq(l->user, auth_user) ||
		    (key_eq(r->ar.user, auth_user) && in_pool(r, l->dn))) {
			return l;
		}
		audit(r, "register-refused", l->dn, info,
		      "credentials do not own this device");
		*err = respond(ans, 403, "Not allowed for this device");
		return NULL;
	}
	if (!key_eq(r->ar.user, auth_user)) {
		audit(r, "register-refused", what, info,
		      "unknown device, not the pool's credentials");
		*err = respond(ans, 403, "Unknown device");
		return NULL;
	}
	if (info->tp != NET_UDP && info->tp != NET_TCP) {
		audit(r, "autoreg-refused", what, info,
		      "auto-registration over UDP or TCP only");
		*err = respond(ans, 403,
		               "Auto-registration over UDP or TCP "
		               "only");
		return NULL;
	}
	*err = autoreg_create(r, mac, info, dn, sizeof(dn));
	if (*err == -TL_ELIMIT) {
		audit(r, "autoreg-refused", what, info, "DN pool exhausted");
		*err = respond(ans, 403, "Auto-registration pool exhausted");
		return NULL;
	}
	if (*err == -TL_EEXIST) {
		audit(r, "autoreg-refused", what, info,
		      "device exists without a line");
		*err = respond(ans, 403, "Device has no line");
		return NULL;
	}
	if (*err || (*err = cm_reg_reload(r)) != 0) {
		log_warn("registrar", "autoreg %s failed: %s", what,
		         tl_strerror(*err));
		*err = respond(ans, 500, "Auto-registration failed");
		return NULL;
	}
	l = line_by_dn(r, slice_from_str(dn));
	if (!l) {
		*err = respond(ans, 500, "Auto-registration failed");
	}
	return l;
}

int cm_reg_handle(struct cm_reg *r, struct sip_msg *req,
                  const struct cm_req_info *info, struct cm_reg_answer *ans)
{
	const struct sip_addr *to = sip_msg_to(req);
	struct slice authz[8];
	size_t n_authz = 0;
	struct sip_auth_outcome oc;
	struct sip_auth_req ar;
	struct cm_line *line, *owner;
	const char *why;
	char dn[CM_KEY_MAX], mac[13];
	bool by_device = false;
	int err;

	if (!to ||
	    (to->uri.scheme != SIP_URI_SIP && to->uri.scheme != SIP_URI_SIPS)) {
		return respond(ans, 404, "Unknown address of record");
	}
	line = line_by_dn(r, to->uri.user);
	/* A device name instead of a number: a device of the auto-
	 * registration pool (docs/callmgr.md "Auto-registration"). */
	if (!line && sep_mac(to->uri.user, mac)) {
		by_device = true;
		if (!line_by_cn(r, mac) && !autoreg_usable(r)) {
			audit_unknown(r, mac, info,
			              r->ar.on ? "auto-registration refused "
			                         "in mixed mode"
			                       : "unknown device, "
			                         "auto-registration off");
			return respond(ans, 403,
			               r->ar.on && r->ar.mixed
			                       ? "Auto-registration refused in "
			                         "mixed mode"
			                       : "Unknown device");
		}
	}
	for (size_t i = 0; i < sip_msg_hdr_count(req) && n_authz < 8; i++) {
		struct sip_hdr h;
		if (sip_msg_hdr(req, i, &h) == 0 &&
		    h.id == SIP_HDR_AUTHORIZATION) {
			authz[n_authz++] = h.value;
		}
	}
	ar = (struct sip_auth_req){
	        .method = SLICE_LIT("REGISTER"),
	        .uri = sip_msg_ruri(req)->raw,
	        .realm = slice_from_str(r->realm),
	        .authz = authz,
	        .n_authz = n_authz,
	        .addr = addr_bytes(&info->src),
	};
	/* Unknown AORs are challenged like known ones: the answer must not
	 * tell which numbers exist. */
	err = sip_auth_check(r->auth, &ar, ha1_lookup, r, &oc);
	if (err) {
		return respond(ans, 500, "Credential lookup failed");
	}
	if (oc.verdict != SIP_AUTH_OK) {
		uint16_t code = (uint16_t)sip_auth_status(oc.verdict, false);
		if (code == 403) {
			return respond(ans, 403, "Too many failures");
		}
		err = challenge(r, ar.addr, oc.verdict == SIP_AUTH_STALE,
		                &ans->hdrs);
		return err ? err : respond(ans, code, NULL);
	}
	if (by_device) {
		line = autoreg_line(r, mac, oc.user, info, ans, &err);
		if (!line) {
			return err;
		}
		why = policy_refusal(line, info);
		if (why) {
			audit(r, "register-refused", line->dn, info, why);
			return respond(ans, 403, why);
		}
		/* RFC 3455 §4.1: the registrar names the AOR it registered,
		 * which is how the device learns its number. */
		err = sip_build_hdrf(&ans->hdrs, "P-Associated-URI",
		                     "<sip:%s@%s>", line->dn, r->realm);
		snprintf(dn, sizeof(dn), "%s", line->dn);
		return err ? err
		           : apply_contacts(r, req, slice_from_str(dn), info,
		                            ans);
	}
	owner = line_by_user(r, oc.user);
	if (!line || !owner || owner != line) {
		if (slice_to_cstr(to->uri.user, dn, sizeof(dn)) != 0) {
			snprintf(dn, sizeof(dn), "?");
		}
		audit(r, "register-refused", dn, info,
		      "credentials do not own this number");
		return respond(ans, 403, "Not allowed for this number");
	}
	why = policy_refusal(line, info);
	if (why) {
		audit(r, "register-refused", line->dn, info, why);
		return respond(ans, 403, why);
	}
	return apply_contacts(r, req, to->uri.user, info, ans);
}

static void line_info(const struct cm_line *l, struct cm_line_info *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->dn, sizeof(out->dn), "%s", l->dn);
	snprintf(out->user, sizeof(out->user), "%s", l->user);
	snprintf(out->realm, sizeof(out->realm), "%s", l->realm);
	snprintf(out->cn, sizeof(out->cn), "%s", l->cn);
	snprintf(out->fwd_all, sizeof(out->fwd_all), "%s", l->fwd_all);
	snprintf(out->fwd_busy, sizeof(out->fwd_busy), "%s", l->fwd_busy);
	snprintf(out->fwd_noans, sizeof(out->fwd_noans), "%s", l->fwd_noans);
	out->mode = l->mode;
	out->auth_invite = l->auth_invite;
	out->has_md5 = l->has_md5;
	out->has_sha256 = l->has_sha256;
	memcpy(out->ha1_md5, l->ha1_md5, sizeof(out->ha1_md5));
	memcpy(out->ha1_sha256, l->ha1_sha256, sizeof(out->ha1_sha256));
}

int cm_reg_line(struct cm_reg *r, struct slice dn, struct cm_line_info *out)
{
	struct cm_line *l = line_by_dn(r, dn);

	if (!l) {
		return -TL_ENOTFOUND;
	}
	line_info(l, out);
	return 0;
}

static bool same_host(const struct net_addr *a, const struct net_addr *b)
{
	struct slice x = addr_bytes(a), y = addr_bytes(b);

	return x.len && slice_eq(x, y);
}

static bool same_port(const struct net_addr *a, const struct net_addr *b)
{
	char x[NET_ADDR_STRLEN], y[NET_ADDR_STRLEN];

	return net_addr_fmt(a, x, sizeof(x)) == 0 &&
	       net_addr_fmt(b, y, sizeof(y)) == 0 && strcmp(x, y) == 0;
}

int cm_reg_identify(struct cm_reg *r, struct slice dn,
                    const struct cm_req_info *info, struct cm_line_info *out)
{
	struct cm_line *l = line_by_dn(r, dn);
	struct cm_aor *a;
	char mac[13];

	/* an auto-registered device may still call itself SEP<MAC> */
	if (!l && sep_mac(dn, mac)) {
		l = line_by_cn(r, mac);
		if (l) {
			dn = slice_from_str(l->dn);
		}
	}
	if (!l) {
		return -TL_ENOTFOUND;
	}
	/* seed 002: a secure device speaks only over TLS with its own
	 * certificate; the binding alone is not enough. */
	if (policy_refusal(l, info)) {
		return -TL_EPOLICY;
	}
	a = aor_find(r, dn, false);
	if (!a) {
		return -TL_EAUTH;
	}
	aor_prune(r, a, info->now_ms);
	for (struct cm_bind *b = a->binds; b; b = b->next) {
		bool ok;
		if (b->tp != info->tp) {
			continue;
		}
		switch (info->tp) {
		case NET_TLS:
			ok = info->peer_cn && strcmp(info->peer_cn, l->cn) == 0;
			/* A nonsecure device without a certificate: the
			 * registered address. */
			ok = ok ||
			     (!info->peer_cn && same_host(&b->src, &info->src));
			break;
		case NET_TCP:
			ok = same_host(&b->src, &info->src);
			break;
		default:
			ok = same_port(&b->src, &info->src);
			break;
		}
		if (ok) {
			line_info(l, out);
			return 0;
		}
	}
	return -TL_EAUTH;
}

void cm_reg_each(struct cm_reg *r, uint64_t now_ms, cm_each_h h, void *arg)
{
	for (size_t i = 0; i <= r->aor_mask; i++) {
		for (struct cm_aor *a = r->aors[i]; a; a = a->next) {
			for (struct cm_bind *b = a->binds; b; b = b->next) {
				struct cm_binding cb = {
				        .contact = b->contact,
				        .tp = b->tp,
				        .src = b->src,
				};
				if (b->expires_at <= now_ms) {
					continue;
				}
				cb.expires_in =
				        (uint32_t)((b->expires_at - now_ms) /
				                   1000);
				if (h(a->dn, &cb, arg)) {
					return;
				}
			}
		}
	}
}
