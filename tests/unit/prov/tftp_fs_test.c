/* The provisioning namespace (prov_fs): name checks, the root boundary,
 * generated and mapped files, netascii conversion. */
#include "base/buf.h"
#include "prov/prov_fs.h"

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>

struct name_case {
	const char *name;
	size_t len; /* 0: strlen */
	int err;
};

static const struct name_case names[] = {
        {"CTLFile.tlv", 0, 0},
        {"SEP001122334455.cnf.xml.sgn", 0, 0},
        {"firmware/P0030801SR02.sbn", 0, 0},
        {"a..b", 0, 0},
        {"...", 0, 0},
        {".hidden", 0, 0},
        {"a b", 0, 0},
        /* must reject */
        {"", 0, -TL_EPARSE},
        {"/etc/passwd", 0, -TL_EPOLICY},
        {"..", 0, -TL_EPOLICY},
        {"../x", 0, -TL_EPOLICY},
        {"a/../../x", 0, -TL_EPOLICY},
        {"a/..", 0, -TL_EPOLICY},
        {".", 0, -TL_EPOLICY},
        {"./a", 0, -TL_EPOLICY},
        {"a/./b", 0, -TL_EPOLICY},
        {"a//b", 0, -TL_EPOLICY},
        {"a/", 0, -TL_EPOLICY},
        {"..\\x", 0, -TL_EPARSE},
        {"a\\b", 0, -TL_EPARSE},
        {"a\nb", 0, -TL_EPARSE},
        {"a\x7f", 0, -TL_EPARSE},
        {"a\x1b[2J", 0, -TL_EPARSE},
        {"a\0b", 3, -TL_EPARSE}, /* NUL inside */
};

static void test_name_check(void **state)
{
	char longname[PROV_NAME_MAX + 2];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct name_case *t = &names[i];
		size_t len = t->len ? t->len : strlen(t->name);
		int err = prov_fs_name_check(t->name, len);

		if (err != t->err) {
			fail_msg("'%s': got %d, want %d", t->name, err, t->err);
		}
	}
	/* overlong */
	memset(longname, 'a', sizeof(longname));
	assert_int_equal(prov_fs_name_check(longname, PROV_NAME_MAX), 0);
	assert_int_equal(prov_fs_name_check(longname, PROV_NAME_MAX + 1),
	                 -TL_ETOOBIG);
}

struct fx {
	char dir[PATH_MAX];
	char root[PATH_MAX + 8];
	struct prov_fs *fs;
	int gen_calls;
};

static void put(const char *dir, const char *name, const char *s)
{
	char path[PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs(s, f);
	assert_int_equal(fclose(f), 0);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	const char *tmp = getenv("TMPDIR");
	char p[PATH_MAX * 2];

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "%s/tl-provfs-XXXXXX",
	         tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->root, sizeof(f->root), "%s/root", f->dir);
	assert_int_equal(mkdir(f->root, 0755), 0);
	snprintf(p, sizeof(p), "%s/d", f->root);
	assert_int_equal(mkdir(p, 0755), 0);
	put(f->root, "a.txt", "hello\n");
	put(f->root, "d/b.txt", "b\r\n");
	put(f->dir, "outside.txt", "secret");
	put(f->dir, "crl.der", "CRL");
	snprintf(p, sizeof(p), "%s/up", f->root);
	assert_int_equal(symlink("../outside.txt", p), 0);
	snprintf(p, sizeof(p), "%s/d/ok", f->root);
	assert_int_equal(symlink("../a.txt", p), 0);
	snprintf(p, sizeof(p), "%s/dirlink", f->root);
	assert_int_equal(symlink("..", p), 0);
	snprintf(p, sizeof(p), "%s/fifo", f->root);
	assert_int_equal(mkfifo(p, 0600), 0);
	assert_int_equal(prov_fs_new(&f->fs, f->root), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	static const char *const rm[] = {
	        "root/a.txt",   "root/d/b.txt", "root/d/ok", "root/up",
	        "root/dirlink", "root/fifo",    "root/d",    "root",
	        "outside.txt",  "crl.der",
	};
	char p[PATH_MAX * 2];

	prov_fs_free(f->fs);
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", f->dir, rm[i]);
		if (unlink(p) != 0) {
			rmdir(p);
		}
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static int gen(const char *name, struct buf *out, void *arg)
{
	struct fx *f = arg;

	f->gen_calls++;
	if (strcmp(name, "SEPAABBCCDDEEFF.cnf.xml") == 0) {
		buf_put_str(out, "<device/>\n");
		return 0;
	}
	if (strcmp(name, "a.txt") == 0) {
		return -TL_ENOTFOUND; /* fall through to the file */
	}
	if (strcmp(name, "denied.xml") == 0) {
		return -TL_EPOLICY;
	}
	return -TL_ENOTFOUND;
}

static char *read_all(struct prov_file *pf, size_t *len)
{
	size_t n = (size_t)prov_file_size(pf), got;
	char *p = malloc(n + 1);

	assert_non_null(p);
	assert_int_equal(prov_file_read(pf, 0, p, n + 1, &got), 0);
	assert_int_equal(got, n);
	p[n] = '\0';
	*len = n;
	return p;
}

struct open_case {
	const char *name;
	int err;
	const char *content;
};

static const struct open_case opens[] = {
        {"a.txt", 0, "hello\n"},
        {"d/b.txt", 0, "b\r\n"},
        {"d/ok", 0, "hello\n"}, /* a link inside the root */
        {"SEPAABBCCDDEEFF.cnf.xml", 0, "<device/>\n"},
        {"crl.der", 0, "CRL"}, /* mapped from outside the root */
        /* refused */
        {"missing", -TL_ENOTFOUND, NULL},
        {"d/missing", -TL_ENOTFOUND, NULL},
        {"a.txt/x", -TL_ENOTFOUND, NULL},
        {"d", -TL_ENOTFOUND, NULL},
        {"up", -TL_EPOLICY, NULL},
        {"dirlink/outside.txt", -TL_EPOLICY, NULL},
        {"fifo", -TL_EPOLICY, NULL},
        {"denied.xml", -TL_EPOLICY, NULL},
        {"../outside.txt", -TL_EPOLICY, NULL},
        {"/etc/hostname", -TL_EPOLICY, NULL},
};

static void test_open(void **state)
{
	struct fx *f = *state;
	char p[PATH_MAX * 2];

	prov_fs_set_gen(f->fs, gen, f);
	snprintf(p, sizeof(p), "%s/crl.der", f->dir);
	assert_int_equal(prov_fs_map(f->fs, "crl.der", p), 0);
	assert_int_equal(prov_fs_map(f->fs, "../crl.der", p), -TL_EPOLICY);
	for (size_t i = 0; i < sizeof(opens) / sizeof(opens[0]); i++) {
		const struct open_case *t = &opens[i];
		struct prov_file *pf = NULL;
		int err = prov_fs_open(f->fs, t->name, &pf);
		size_t len;

		if (err != t->err) {
			fail_msg("%s: got %d, want %d", t->name, err, t->err);
		}
		if (err) {
			assert_null(pf);
			continue;
		}
		char *got = read_all(pf, &len);

		assert_string_equal(got, t->content);
		free(got);
		prov_file_close(pf);
	}
	assert_true(f->gen_calls > 0);
	prov_file_close(NULL);
}

static void test_read_ranges(void **state)
{
	struct fx *f = *state;
	struct prov_file *pf;
	char b[16];
	size_t got;

	assert_int_equal(prov_fs_open(f->fs, "a.txt", &pf), 0);
	assert_true(prov_file_fd(pf) >= 0);
	assert_null(prov_file_mem(pf).p);
	assert_int_equal(prov_file_read(pf, 2, b, 3, &got), 0);
	assert_int_equal(got, 3);
	assert_memory_equal(b, "llo", 3);
	assert_int_equal(prov_file_read(pf, 4, b, 16, &got), 0);
	assert_int_equal(got, 2);
	assert_int_equal(prov_file_read(pf, 6, b, 16, &got), 0);
	assert_int_equal(got, 0);
	assert_int_equal(prov_file_read(pf, UINT64_MAX, b, 16, &got), 0);
	assert_int_equal(got, 0);
	prov_file_close(pf);
}

static void test_netascii(void **state)
{
	struct fx *f = *state;
	struct prov_file *pf;
	size_t len;
	char *s;

	assert_int_equal(prov_fs_open(f->fs, "d/b.txt", &pf), 0);
	assert_int_equal(prov_file_netascii(pf, 1 << 20), 0);
	assert_int_equal(prov_file_fd(pf), -1);
	/* RFC 1350: CR -> CR NUL, LF -> CR LF. */
	assert_int_equal(prov_file_size(pf), 5);
	s = read_all(pf, &len);
	assert_memory_equal(s, "b\r\0\r\n", 5);
	free(s);
	prov_file_close(pf);
	/* Over the limit. */
	assert_int_equal(prov_fs_open(f->fs, "a.txt", &pf), 0);
	assert_int_equal(prov_file_netascii(pf, 5), -TL_ETOOBIG);
	prov_file_close(pf);
	/* A generated file converts too. */
	prov_fs_set_gen(f->fs, gen, f);
	assert_int_equal(prov_fs_open(f->fs, "SEPAABBCCDDEEFF.cnf.xml", &pf),
	                 0);
	assert_int_equal(prov_file_netascii(pf, 100), 0);
	s = read_all(pf, &len);
	assert_string_equal(s, "<device/>\r\n");
	free(s);
	prov_file_close(pf);
}

static void test_new_errors(void **state)
{
	struct prov_fs *fs = NULL;

	assert_int_equal(prov_fs_new(&fs, "/nonexistent/tl-provfs"), -ENOENT);
	assert_null(fs);
	assert_int_equal(prov_fs_new(&fs, "/dev/null"), -ENOTDIR);
	prov_fs_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_name_check),
	        cmocka_unit_test_setup_teardown(test_open, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_read_ranges, setup,
	                                        teardown),
	        cmocka_unit_test_setup_teardown(test_netascii, setup, teardown),
	        cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
