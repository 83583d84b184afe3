/* Registrar line tables kept up to date by cm_reg_refresh: after every
 * kind of change (line added, deleted, moved, its password or MWI state;
 * device profile, name, certificate revoked, device deleted; site-wide
 * settings and profiles) the refreshed tables equal those of a registrar
 * loaded from scratch, and only what changed was read again. Prints the
 * CPU cost of a full reload against a refresh after one enrolment
 * (CM_REG_TEST_LINES sets the number of lines, default 2000). */
#include "callmgr/cm_reg.h"
#include "sip/sip_auth.h"
#include "store/store.h"

#include <openssl/crypto.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

struct fx {
	char path[256];
	struct store *st;
	struct sip_auth_srv *auth;
	struct cm_reg *r;
	unsigned n_dev;
};

static const struct cm_reg_conf rconf = {.realm = "trustline"};

static void mac_of(unsigned i, char mac[13])
{
	snprintf(mac, 13, "0000C0%06X", i & 0xffffffu);
}

static void dn_of(unsigned i, char dn[16])
{
	snprintf(dn, 16, "3%06u", i);
}

static void add_phone(struct store *st, unsigned i, const char *profile)
{
	struct store_device d = {0};
	struct store_line l = {0};

	mac_of(i, d.mac);
	snprintf(d.profile, sizeof(d.profile), "%s", profile);
	assert_int_equal(store_device_add(st, &d), 0);
	dn_of(i, l.dn);
	snprintf(l.device, sizeof(l.device), "%s", d.mac);
	assert_int_equal(store_line_add(st, &l), 0);
	assert_int_equal(
	        store_line_password_set(st, l.dn, l.dn, "trustline", "pw"), 0);
}

static int setup_n(void **state, unsigned n)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sip_auth_cfg acfg = {.nc_slots = 64};

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "%s/cm_reg_test.%d.db",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	unlink(f->path);
	assert_int_equal(store_open(&f->st, f->path), 0);
	assert_int_equal(store_tx_begin(f->st), 0);
	for (unsigned i = 0; i < n; i++) {
		add_phone(f->st, i, i % 2 ? "encrypted" : "nonsecure");
	}
	assert_int_equal(store_tx_commit(f->st), 0);
	f->n_dev = n;
	assert_int_equal(sip_auth_new(&f->auth, &acfg), 0);
	assert_int_equal(cm_reg_new(&f->r, f->st, f->auth, &rconf), 0);
	*state = f;
	return 0;
}

static int setup(void **state)
{
	return setup_n(state, 20);
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char p[300];

	cm_reg_free(f->r);
	sip_auth_free(f->auth);
	store_close(f->st);
	unlink(f->path);
	snprintf(p, sizeof(p), "%s-wal", f->path);
	unlink(p);
	snprintf(p, sizeof(p), "%s-shm", f->path);
	unlink(p);
	free(f);
	return 0;
}

/* Every DN a test may use: the phones' and a few more. */
static void each_dn(const struct fx *f, void (*h)(const char *dn, void *),
                    void *arg)
{
	char dn[16];

	for (unsigned i = 0; i < f->n_dev + 4; i++) {
		dn_of(i, dn);
		h(dn, arg);
	}
	h("9001", arg);
	h("9002", arg);
}

struct cmp {
	struct cm_reg *a, *b;
	unsigned found;
};

static void cmp_dn(const char *dn, void *arg)
{
	struct cmp *c = arg;
	struct cm_line_info x, y;
	int ea = cm_reg_line(c->a, slice_from_str(dn), &x);
	int eb = cm_reg_line(c->b, slice_from_str(dn), &y);

	if (ea != eb) {
		fail_msg("dn %s: refreshed %d, loaded %d", dn, ea, eb);
	}
	if (ea == 0) {
		c->found++;
		assert_string_equal(x.dn, y.dn);
		assert_string_equal(x.user, y.user);
		assert_string_equal(x.realm, y.realm);
		assert_string_equal(x.cn, y.cn);
		assert_int_equal(x.mode, y.mode);
		assert_int_equal(x.auth_invite, y.auth_invite);
		assert_string_equal(x.fwd_all, y.fwd_all);
		assert_string_equal(x.fwd_busy, y.fwd_busy);
		assert_string_equal(x.fwd_noans, y.fwd_noans);
		assert_int_equal(x.has_md5, y.has_md5);
		assert_int_equal(x.has_sha256, y.has_sha256);
		assert_memory_equal(x.ha1_md5, y.ha1_md5, sizeof(x.ha1_md5));
		assert_memory_equal(x.ha1_sha256, y.ha1_sha256,
		                    sizeof(x.ha1_sha256));
	}
	OPENSSL_cleanse(&x, sizeof(x));
	OPENSSL_cleanse(&y, sizeof(y));
}

/* Refresh f->r, then compare it with a registrar loaded from scratch;
 * returns the lines_changed count. */
static unsigned refresh_and_compare(struct fx *f, unsigned *found)
{
	struct cm_reg *fresh = NULL;
	struct cmp c = {.a = f->r};
	unsigned lines = 0;

	assert_int_equal(cm_reg_refresh(f->r, &lines), 0);
	assert_int_equal(cm_reg_new(&fresh, f->st, f->auth, &rconf), 0);
	c.b = fresh;
	each_dn(f, cmp_dn, &c);
	cm_reg_free(fresh);
	if (found) {
		*found = c.found;
	}
	return lines;
}

static void test_refresh_equals_reload(void **state)
{
	struct fx *f = *state;
	struct store_device d;
	struct store_line l;
	struct store_profile p;
	struct cm_line_info li;
	char mac[13], dn[16];
	unsigned found = 0;

	/* nothing changed */
	assert_int_equal(refresh_and_compare(f, &found), 0);
	assert_int_equal(found, f->n_dev);

	/* a new password: the line, at once */
	dn_of(3, dn);
	assert_int_equal(
	        store_line_password_set(f->st, dn, dn, "trustline", "new"), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 1);

	/* a line deleted: gone within the refresh */
	dn_of(4, dn);
	assert_int_equal(store_line_del(f->st, dn), 0);
	assert_int_equal(refresh_and_compare(f, &found), 1);
	assert_int_equal(found, f->n_dev - 1);
	assert_int_equal(cm_reg_line(f->r, slice_from_str(dn), &li),
	                 -TL_ENOTFOUND);

	/* a line added, another moved to a device of another profile */
	mac_of(5, mac);
	memset(&l, 0, sizeof(l));
	snprintf(l.dn, sizeof(l.dn), "9001");
	snprintf(l.device, sizeof(l.device), "%s", mac);
	assert_int_equal(store_line_add(f->st, &l), 0);
	dn_of(6, dn);
	assert_int_equal(store_line_get(f->st, dn, &l), 0);
	mac_of(7, l.device);
	l.line_index = 0;
	assert_int_equal(store_line_update(f->st, &l), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 3);
	assert_int_equal(cm_reg_line(f->r, slice_from_str(dn), &li), 0);
	assert_string_equal(li.cn, "SEP0000C0000007");
	assert_int_equal(li.mode, STORE_SEC_ENCRYPTED);

	/* a device's profile and name: its lines; not a line row */
	mac_of(8, mac);
	assert_int_equal(store_device_get(f->st, mac, &d), 0);
	snprintf(d.profile, sizeof(d.profile), "authenticated");
	snprintf(d.name, sizeof(d.name), "desk-8");
	assert_int_equal(store_device_update(f->st, &d), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 0);
	dn_of(8, dn);
	assert_int_equal(cm_reg_line(f->r, slice_from_str(dn), &li), 0);
	assert_string_equal(li.cn, "desk-8");
	assert_int_equal(li.mode, STORE_SEC_AUTHENTICATED);

	/* MWI state is the line's */
	dn_of(9, dn);
	assert_int_equal(store_mwi_set(f->st, dn, 1, 0), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 1);

	/* a device deleted: its lines go (two of them here) */
	mac_of(5, mac);
	assert_int_equal(store_device_del(f->st, mac), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 2);
	assert_int_equal(cm_reg_line(f->r, slice_from_str("9001"), &li),
	                 -TL_ENOTFOUND);

	/* deleted and added again with another owner in one transaction */
	dn_of(10, dn);
	assert_int_equal(store_tx_begin(f->st), 0);
	assert_int_equal(store_line_del(f->st, dn), 0);
	memset(&l, 0, sizeof(l));
	snprintf(l.dn, sizeof(l.dn), "%s", dn);
	mac_of(11, l.device);
	assert_int_equal(store_line_add(f->st, &l), 0);
	assert_int_equal(store_tx_commit(f->st), 0);
	refresh_and_compare(f, NULL);
	assert_int_equal(cm_reg_line(f->r, slice_from_str(dn), &li), 0);
	assert_string_equal(li.cn, "SEP0000C000000B");
	assert_false(li.has_md5);

	/* site-wide: a forward (a setting), a profile: a full reload */
	assert_int_equal(store_setting_set(f->st, "cm.fwd.all.3000012", "9"),
	                 0);
	assert_true(refresh_and_compare(f, NULL) > 0);
	assert_int_equal(cm_reg_line(f->r, slice_from_str("3000012"), &li), 0);
	assert_string_equal(li.fwd_all, "9");
	assert_int_equal(store_profile_get(f->st, "encrypted", &p), 0);
	p.auth_invite = true;
	assert_int_equal(store_profile_update(f->st, &p), 0);
	assert_true(refresh_and_compare(f, NULL) > 0);
	assert_int_equal(cm_reg_line(f->r, slice_from_str("3000013"), &li), 0);
	assert_true(li.auth_invite);

	/* an audit row (or a CDR) changes no line */
	assert_int_equal(store_audit(f->st, "t", "x", "y"), 0);
	assert_int_equal(refresh_and_compare(f, NULL), 0);

	/* many additions at once: the tables grow */
	assert_int_equal(store_tx_begin(f->st), 0);
	for (unsigned i = f->n_dev; i < f->n_dev + 4; i++) {
		add_phone(f->st, i, "nonsecure");
	}
	for (unsigned i = 100; i < 300; i++) {
		add_phone(f->st, i, "nonsecure");
	}
	assert_int_equal(store_tx_commit(f->st), 0);
	assert_int_equal(refresh_and_compare(f, &found), 204);
	assert_int_equal(cm_reg_line(f->r, slice_from_str("3000299"), &li), 0);
	OPENSSL_cleanse(&li, sizeof(li));
}

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The cost per tick during a boot storm: each tick follows a few
 * enrolments (a device's certificate and CAPF operation). Before, the
 * tick reloaded every line; now it reads the changed devices' lines. */
static void test_refresh_cost(void **state)
{
	struct fx *f = *state;
	enum { REPS = 7, ENROL = 5 };
	double full[REPS], part[REPS];
	unsigned lines;

	for (int k = 0; k < REPS; k++) {
		double t0;

		assert_int_equal(store_tx_begin(f->st), 0);
		for (unsigned e = 0; e < ENROL; e++) {
			struct store_device d;
			char mac[13];

			mac_of((unsigned)(k * ENROL + e) % f->n_dev, mac);
			assert_int_equal(store_device_get(f->st, mac, &d), 0);
			d.capf_op = d.capf_op ? STORE_CAPF_NONE
			                      : STORE_CAPF_INSTALL;
			assert_int_equal(store_device_update(f->st, &d), 0);
		}
		assert_int_equal(store_tx_commit(f->st), 0);
		t0 = cpu_now();
		assert_int_equal(cm_reg_refresh(f->r, &lines), 0);
		part[k] = cpu_now() - t0;
		assert_int_equal(lines, 0);
		t0 = cpu_now();
		assert_int_equal(cm_reg_reload(f->r), 0);
		full[k] = cpu_now() - t0;
	}
	qsort(full, REPS, sizeof(double), cmp_double);
	qsort(part, REPS, sizeof(double), cmp_double);
	print_message("registrar, %u lines, %d devices changed per tick: "
	              "full reload %.3f ms CPU, refresh %.3f ms CPU "
	              "(medians of %d; %.0fx)\n",
	              f->n_dev, ENROL, full[REPS / 2] * 1e3,
	              part[REPS / 2] * 1e3, REPS,
	              part[REPS / 2] > 0 ? full[REPS / 2] / part[REPS / 2]
	                                 : 0.0);
	assert_true(part[REPS / 2] < full[REPS / 2]);
}

static int setup_many(void **state)
{
	const char *e = getenv("CM_REG_TEST_LINES");
	long n = e ? strtol(e, NULL, 10) : 2000;

	return setup_n(state, n >= 20 && n <= 200000 ? (unsigned)n : 2000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test_setup_teardown(test_refresh_equals_reload,
	                                        setup, teardown),
	        cmocka_unit_test_setup_teardown(test_refresh_cost, setup_many,
	                                        teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
