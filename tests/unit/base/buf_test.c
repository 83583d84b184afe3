#include "base/buf.h"
#include "base/rnd.h"
#include "base/slice.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

/* buf_init_ext: bytes stay on the caller's storage while they fit, move
 * to the heap (content kept, storage untouched) when they do not. */
static void test_buf_ext(void **state)
{
	uint8_t mem[16];
	struct buf b;

	memset(mem, 'x', sizeof(mem));
	buf_init_ext(&b, mem, sizeof(mem), 0);
	buf_put_str(&b, "0123456789");
	assert_int_equal(buf_err(&b), 0);
	assert_ptr_equal(b.p, mem);
	assert_memory_equal(mem, "0123456789", 10);
	buf_put_str(&b, "abcdefghij");
	assert_int_equal(buf_err(&b), 0);
	assert_ptr_not_equal(b.p, mem);
	assert_int_equal(b.len, 20);
	assert_memory_equal(b.p, "0123456789abcdefghij", 20);
	/* the caller's bytes beyond what was written are untouched */
	assert_memory_equal(mem + 10, "xxxxxx", 6);
	buf_printf(&b, "%d", 42);
	assert_memory_equal(b.p + 20, "42", 2);
	buf_free(&b);
	assert_null(b.p);

	/* max still applies, below and above the caller's size */
	buf_init_ext(&b, mem, sizeof(mem), 8);
	buf_put_str(&b, "12345678");
	assert_int_equal(buf_err(&b), 0);
	buf_put_u8(&b, '9');
	assert_int_equal(buf_err(&b), -TL_ETOOBIG);
	buf_free(&b);
	buf_init_ext(&b, mem, sizeof(mem), 20);
	buf_put_str(&b, "0123456789abcdefghij");
	assert_int_equal(buf_err(&b), 0);
	buf_put_u8(&b, '!');
	assert_int_equal(buf_err(&b), -TL_ETOOBIG);
	buf_free_secret(&b);

	/* no storage: an ordinary heap buffer */
	buf_init_ext(&b, NULL, 0, 0);
	buf_put_str(&b, "heap");
	assert_int_equal(buf_err(&b), 0);
	assert_memory_equal(b.p, "heap", 4);
	buf_free(&b);
}

static void test_buf_dec(void **state)
{
	static const struct {
		uint64_t v;
		const char *want;
	} cases[] = {
		{0, "0"},
		{7, "7"},
		{10, "10"},
		{5060, "5060"},
		{4294967295u, "4294967295"},
		{UINT64_MAX, "18446744073709551615"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct buf b;
		buf_init(&b, 0);
		buf_put_u8(&b, '<');
		buf_put_dec(&b, cases[i].v);
		buf_put_u8(&b, '>');
		assert_int_equal(buf_err(&b), 0);
		char want[32];
		snprintf(want, sizeof(want), "<%s>", cases[i].want);
		assert_int_equal(b.len, strlen(want));
		assert_memory_equal(b.p, want, b.len);
		buf_free(&b);
	}
	/* over max: refused, nothing half-written */
	struct buf b;
	buf_init(&b, 3);
	buf_put_dec(&b, 1234);
	assert_int_equal(buf_err(&b), -TL_ETOOBIG);
	assert_int_equal(b.len, 0);
	buf_free(&b);
}

/* The pool hands out fresh bytes across refills and large requests, and
 * keeps none of what it handed out. */
static void test_rnd_pool(void **state)
{
	struct rnd_pool r;
	uint8_t a[8], z[8] = {0};
	uint8_t big[RND_POOL_SIZE];

	rnd_pool_init(&r);
	assert_int_equal(rnd_pool_bytes(&r, a, sizeof(a)), 0);
	assert_int_equal(r.off, sizeof(a));
	assert_memory_equal(r.b, z, sizeof(z));
	/* 8 zero bytes from a DRBG: 2^-64 */
	assert_memory_not_equal(a, z, sizeof(a));
	uint8_t prev[8];
	memcpy(prev, a, sizeof(a));
	for (size_t i = 0; i < 3 * RND_POOL_SIZE / sizeof(a); i++) {
		assert_int_equal(rnd_pool_bytes(&r, a, sizeof(a)), 0);
		assert_memory_not_equal(a, prev, sizeof(a));
		memcpy(prev, a, sizeof(a));
	}
	/* not a multiple of the pool: a refill in the middle */
	uint8_t odd[100];
	for (int i = 0; i < 20; i++) {
		assert_int_equal(rnd_pool_bytes(&r, odd, sizeof(odd)), 0);
	}
	assert_int_equal(rnd_pool_bytes(&r, big, sizeof(big)), 0);
	assert_int_equal(rnd_pool_bytes(&r, big, 0), 0);
	rnd_pool_wipe(&r);
	assert_int_equal(r.off, RND_POOL_SIZE);
	for (size_t i = 0; i < RND_POOL_SIZE; i++) {
		assert_int_equal(r.b[i], 0);
	}
}

/* slice_eq_str and _nocase compare without strlen: every length
 * relation, NUL inside the slice, case, and the NULL string. */
static void test_slice_eq_str(void **state)
{
	static const struct {
		struct slice a;
		const char *s;
		bool eq, eq_nocase;
	} cases[] = {
		{SLICE_LIT("Via"), "Via", true, true},
		{SLICE_LIT("Via"), "vIA", false, true},
		{SLICE_LIT("Via"), "Vi", false, false},
		{SLICE_LIT("Vi"), "Via", false, false},
		{SLICE_LIT(""), "", true, true},
		{SLICE_LIT(""), "a", false, false},
		{SLICE_LIT("a"), "", false, false},
		{SLICE_LIT("a\0b"), "a", false, false},
		{SLICE_LIT("a\0"), "a", false, false},
		{SLICE_LIT("["), "{", false, false}, /* not a letter: no case */
		{SLICE_LIT("@"), "`", false, false},
		{SLICE_NULL, "", true, true},
		{SLICE_NULL, NULL, true, true},
		{SLICE_LIT("x"), NULL, false, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(slice_eq_str(cases[i].a, cases[i].s),
				 cases[i].eq);
		assert_int_equal(slice_eq_str_nocase(cases[i].a, cases[i].s),
				 cases[i].eq_nocase);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_ext),
		cmocka_unit_test(test_buf_dec),
		cmocka_unit_test(test_rnd_pool),
		cmocka_unit_test(test_slice_eq_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
