#include "base/buf.h"
#include "base/cur.h"
#include "base/slice.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static void test_cur_reads(void **state)
{
	static const uint8_t in[] = {1, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef, 9};
	struct cur c;
	uint8_t a;
	uint16_t b;
	uint32_t d;
	struct slice s;

	cur_init(&c, in, sizeof(in));
	assert_int_equal(cur_u8(&c, &a), 0);
	assert_int_equal(a, 1);
	assert_int_equal(cur_u16be(&c, &b), 0);
	assert_int_equal(b, 0x1234);
	assert_int_equal(cur_u32be(&c, &d), 0);
	assert_int_equal(d, 0xdeadbeef);
	assert_int_equal(cur_end(&c), -TL_ETRAIL);
	assert_int_equal(cur_bytes(&c, 1, &s), 0);
	assert_int_equal(s.p[0], 9);
	assert_int_equal(cur_end(&c), 0);
}

/* must reject: every read past the end fails and poisons the cursor */
static void test_cur_rejects(void **state)
{
	static const uint8_t in[] = {1, 2, 3};
	struct cur c, sub;
	uint32_t d;
	uint8_t a;

	cur_init(&c, in, sizeof(in));
	assert_int_equal(cur_u32be(&c, &d), -TL_ETRUNC);
	assert_int_equal(cur_u8(&c, &a), -TL_ETRUNC);
	assert_int_equal(cur_end(&c), -TL_ETRUNC);

	cur_init(&c, in, sizeof(in));
	assert_int_equal(cur_skip(&c, SIZE_MAX), -TL_ETRUNC);

	cur_init(&c, in, sizeof(in));
	assert_int_equal(cur_sub(&c, 2, &sub), 0);
	assert_int_equal(cur_u16be(&sub, &(uint16_t){0}), 0);
	assert_int_equal(cur_u8(&sub, &a), -TL_ETRUNC);
	assert_int_equal(cur_u8(&c, &a), 0);
	assert_int_equal(a, 3);
	assert_int_equal(cur_end(&c), 0);

	cur_init(&c, NULL, 5);
	assert_int_equal(cur_u8(&c, &a), -TL_ETRUNC);
}

static void test_buf(void **state)
{
	struct buf b;

	buf_init(&b, 8);
	buf_put_u16be(&b, 0x0102);
	buf_printf(&b, "%d", 1234);
	assert_int_equal(buf_err(&b), 0);
	assert_int_equal(b.len, 6);
	buf_set_u16be(&b, 0, 0xa0b0);
	assert_int_equal(b.p[0], 0xa0);
	buf_put_str(&b, "toolong");
	assert_int_equal(buf_err(&b), -TL_ETOOBIG);
	assert_int_equal(b.len, 6);
	buf_free(&b);
}

static void test_slice(void **state)
{
	uint64_t v;

	assert_true(slice_eq_str_nocase(SLICE_LIT("Via"), "vIA"));
	assert_false(slice_eq_str_nocase(SLICE_LIT("Vib"), "via"));
	assert_true(slice_eq_str(slice_trim(SLICE_LIT(" \tab\r\n")), "ab"));
	assert_int_equal(slice_to_u64(SLICE_LIT("4294967295"), 10, &v), 0);
	assert_true(v == 4294967295u);
	assert_int_equal(slice_to_u64(SLICE_LIT("12345678901"), 10, &v),
			 -TL_ETOOBIG);
	assert_int_equal(slice_to_u64(SLICE_LIT("-1"), 10, &v), -TL_EPARSE);
	assert_int_equal(slice_to_u64(SLICE_LIT(""), 10, &v), -TL_EPARSE);
	assert_int_equal(slice_find(SLICE_LIT("abc"), 'c'), 2);
	assert_int_equal(slice_find(SLICE_LIT("abc"), 'd'), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cur_reads),
		cmocka_unit_test(test_cur_rejects),
		cmocka_unit_test(test_buf),
		cmocka_unit_test(test_slice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
