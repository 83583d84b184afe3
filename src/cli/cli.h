/* Helpers shared by the cmd_*.c files. Each command is
 *   int cmd_<name>(int argc, char **argv);   argv[0] is the command name
 *   const char cmd_<name>_summary[];         one line for `trustline --help`
 * and the build generates the table. Exit codes: 0 ok, 1 failure,
 * 2 usage error. */
#ifndef TL_CLI_H
#define TL_CLI_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

struct site;
struct store;

enum { CLI_OK = 0, CLI_EFAIL = 1, CLI_EUSAGE = 2 };

/* The site directory: --site DIR, else $TRUSTLINE_SITE, else ./site. */
const char *cli_site_default(void);

/* True when argv holds -h or --help anywhere. */
bool cli_wants_help(int argc, char **argv);

/* Print "trustline CMD: msg" to stderr; returns CLI_EFAIL. */
int cli_fail(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Open the database of the site in dir (a directory holding only
 * trustline.db is enough: the settings then are the defaults). Prints a
 * one-line error naming cmd and returns it on failure. */
int cli_open_store(const char *cmd, const char *dir, struct site *s,
		   struct store **st);

/* Read a one-line secret (password, auth string) from path, or standard
 * input for "-", without its line end: 0, -TL_EPARSE when empty,
 * -TL_ETOOBIG (and the buffer wiped) when it does not fit. */
int cli_read_secret(const char *path, char *out, size_t n);

/* "cli:<user>": who made a change, for the audit log. */
const char *cli_actor(void);

/* Print j indented on stdout and release it (NULL: out of memory). */
int cli_print_json(const char *cmd, json_t *j);

/* Informational log lines off (commands print their own results). */
void cli_quiet(void);

#endif
