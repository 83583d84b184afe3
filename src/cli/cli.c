#include "cli/cli.h"

#include "base/log.h"
#include "cli/site.h"
#include "store/store.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *cli_site_default(void)
{
	const char *s = getenv("TRUSTLINE_SITE");

	return (s && *s) ? s : "./site";
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			return true;
		}
		if (!strcmp(argv[i], "--")) {
			break;
		}
	}
	return false;
}

int cli_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trustline %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EFAIL;
}

int cli_open_store(const char *cmd, const char *dir, struct site *s,
		   struct store **st)
{
	struct stat sb;
	int err;

	if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
		cli_fail(cmd, "no site directory '%s' (see trustline init)",
			 dir);
		return -ENOENT;
	}
	err = site_load(s, dir);
	if (err == -ENOENT) {
		err = site_defaults(s, dir, 0);
	}
	if (err) {
		cli_fail(cmd, "site '%s': %s", dir, tl_strerror(err));
		return err;
	}
	err = store_open(st, s->db);
	if (err) {
		cli_fail(cmd, "cannot open %s: %s", s->db, tl_strerror(err));
	}
	return err;
}

const char *cli_actor(void)
{
	static char a[64];
	struct passwd *pw = getpwuid(getuid());

	snprintf(a, sizeof(a), "cli:%s",
		 pw && pw->pw_name ? pw->pw_name : "unknown");
	return a;
}

int cli_print_json(const char *cmd, json_t *j)
{
	int err;

	if (!j) {
		return cli_fail(cmd, "out of memory");
	}
	err = json_dumpf(j, stdout, JSON_INDENT(2));
	json_decref(j);
	fputc('\n', stdout);
	return err ? CLI_EFAIL : CLI_OK;
}

void cli_quiet(void)
{
	if (log_get_level() == LOG_INFO) {
		log_set_level(LOG_WARN);
	}
}

int cli_read_secret(const char *path, char *out, size_t n)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	size_t len;

	if (!f) {
		return -errno;
	}
	if (!fgets(out, (int)n, f)) {
		if (f != stdin) {
			fclose(f);
		}
		return -TL_EPARSE;
	}
	if (f != stdin) {
		fclose(f);
	}
	len = strcspn(out, "\r\n");
	if (out[len] == '\0' && len == n - 1) {
		OPENSSL_cleanse(out, n);
		return -TL_ETOOBIG;
	}
	out[len] = '\0';
	return len ? 0 : -TL_EPARSE;
}
