/* The timing of the phone's MWI subscription (phone_sip.c): when a
 * granted subscription is refreshed, the growing and bounded pause before
 * a new one after a drop, and what each RFC 6665 §4.1.3 termination
 * reason leads to. */
#include "phone/phone_int.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
/* cmocka needs the headers above first */
#include <cmocka.h>

static void test_refresh_in(void **state)
{
	static const struct {
		uint32_t granted, want;
	} t[] = {
	        {3600, 1800}, {7200, 3600}, {60, 30},
	        {61, 30},     {3, 1},       {2, 1},
	        {1, 1},       {0, 1},       {UINT32_MAX, UINT32_MAX / 2},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		assert_int_equal(phone_mwi_refresh_in(t[i].granted), t[i].want);
		/* always before the subscription ends */
		if (t[i].granted > 1) {
			assert_true(phone_mwi_refresh_in(t[i].granted) <
			            t[i].granted);
		}
	}
}

static void test_retry_in(void **state)
{
	static const uint32_t want[] = {2, 2, 4, 8, 16, 32, 60, 60, 60};
	uint32_t last = 0;

	(void)state;
	for (unsigned n = 0; n < sizeof(want) / sizeof(want[0]); n++) {
		assert_int_equal(phone_mwi_retry_in(n), want[n]);
	}
	/* growing, bounded, no overflow for any count */
	for (unsigned n = 1; n < 100; n++) {
		uint32_t d = phone_mwi_retry_in(n);
		assert_true(d >= last);
		assert_true(d >= 1 && d <= PHONE_MWI_RETRY_MAX);
		last = d;
	}
	assert_int_equal(phone_mwi_retry_in(UINT32_MAX), PHONE_MWI_RETRY_MAX);
}

static void test_resubscribe(void **state)
{
	static const struct {
		const char *reason; /* NULL: none */
		bool has_ra;
		uint32_t ra;
		unsigned fails;
		bool again;
		uint32_t delay;
	} t[] = {
	        /* SHOULD NOT re-subscribe, whatever retry-after says */
	        {"rejected", false, 0, 1, false, 0},
	        {"noresource", true, 10, 1, false, 0},
	        {"invariant", true, 10, 1, false, 0},
	        {"Rejected", false, 0, 1, false, 0},
	        /* at once the first time, then after the growing pause */
	        {"deactivated", false, 0, 1, true, 0},
	        {"deactivated", false, 0, 2, true, 2},
	        {"deactivated", false, 0, 3, true, 4},
	        {"deactivated", false, 0, 50, true, PHONE_MWI_RETRY_MAX},
	        {NULL, false, 0, 1, true, 0},
	        {"something-new", false, 0, 1, true, 0},
	        /* timeout: retry-after has no meaning */
	        {"timeout", true, 500, 1, true, 0},
	        {"timeout", true, 500, 3, true, 4},
	        /* probation: later, at least retry-after */
	        {"probation", false, 0, 1, true, 2},
	        {"probation", true, 30, 1, true, 30},
	        {"probation", true, 1, 3, true, 8},
	        {"probation", true, 86400, 1, true, PHONE_MWI_RETRY_AFTER_MAX},
	        /* giveup: retry-after when given, else at once */
	        {"giveup", true, 20, 1, true, 20},
	        {"giveup", false, 0, 1, true, 0},
	        {"giveup", true, UINT32_MAX, 1, true,
	         PHONE_MWI_RETRY_AFTER_MAX},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint32_t d = 12345;
		struct slice r = t[i].reason ? slice_from_str(t[i].reason)
		                             : (struct slice){0};
		bool again = phone_mwi_resubscribe(r, t[i].has_ra, t[i].ra,
		                                   t[i].fails, &d);
		if (again != t[i].again || d != t[i].delay) {
			fail_msg("case %zu (%s, fails %u): %d %u", i,
			         t[i].reason ? t[i].reason : "none", t[i].fails,
			         again, d);
		}
	}
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(phone_mwi_state_name(MWI_IDLE), "idle");
	assert_string_equal(phone_mwi_state_name(MWI_ACTIVE), "active");
	assert_string_equal(phone_mwi_state_name(MWI_WAITING), "retrying");
	assert_string_equal(phone_mwi_state_name(MWI_UNSUBSCRIBING),
	                    "unsubscribing");
	assert_string_equal(phone_mwi_state_name(MWI_STATE_MAX), "?");
	for (int s = 0; s < MWI_STATE_MAX; s++) {
		assert_non_null(phone_mwi_state_name((enum phone_mwi_state)s));
	}
}

/* No time is left on a subscription that is not granted. */
static void test_left(void **state)
{
	struct phone_line l;

	(void)state;
	memset(&l, 0, sizeof(l));
	assert_int_equal(phone_mwi_left(&l), 0);
	l.mwi.st = MWI_WAITING;
	l.mwi.expires_at = INT64_MAX;
	assert_int_equal(phone_mwi_left(&l), 0);
	l.mwi.st = MWI_ACTIVE;
	l.mwi.expires_at = 1; /* long past on the monotonic clock */
	assert_int_equal(phone_mwi_left(&l), 0);
	l.mwi.expires_at = INT64_MAX;
	assert_int_equal(phone_mwi_left(&l), UINT32_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_refresh_in),
	        cmocka_unit_test(test_retry_in),
	        cmocka_unit_test(test_resubscribe),
	        cmocka_unit_test(test_state_names),
	        cmocka_unit_test(test_left),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
