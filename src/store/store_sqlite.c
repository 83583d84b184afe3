/* The SQLite back-end of store.h: the only file with SQL in it.
 *
 * One connection per handle, WAL journal (readers never block the writer),
 * foreign keys on, a busy timeout for concurrent processes (the daemon and
 * the admin CLI), prepared statements cached by id for the handle's life.
 * The schema is versioned with PRAGMA user_version and migrated in code. */
#include "base/log.h"
#include "store/store.h"
#include "store/store_int.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define COMP            "store"
#define BUSY_TIMEOUT_MS 5000
#define CERT_DER_MAX    (64 * 1024)
#define PEM_MAX         (256 * 1024)

/* ---- schema and migrations ---- */

/* The generation the current write transaction will commit (migration
 * 3's triggers). */
#define CUR_GEN   "(SELECT generation + 1 FROM meta WHERE id = 1)"
#define SITE_BUMP "UPDATE meta SET site_gen = generation + 1 WHERE id = 1;"
/* Deletion records kept, and how often the older ones are dropped. */
#define DELETED_KEEP        "8192"
#define DELETED_PRUNE_EVERY "256"

/* Migration i brings the schema from version i to i + 1. Never edit a
 * released migration: append a new one. */
static const char *const migrations[] = {
        /* 0 -> 1: the first schema */
        "CREATE TABLE meta ("
        "  id INTEGER PRIMARY KEY CHECK (id = 1),"
        "  generation INTEGER NOT NULL);"
        "INSERT INTO meta VALUES (1, 0);"
        "CREATE TABLE settings ("
        "  key TEXT PRIMARY KEY,"
        "  value TEXT NOT NULL);"
        "CREATE TABLE profiles ("
        "  name TEXT PRIMARY KEY,"
        "  mode INTEGER NOT NULL CHECK (mode BETWEEN 1 AND 3),"
        "  transport INTEGER NOT NULL CHECK (transport BETWEEN 1 AND 3),"
        "  auth_invite INTEGER NOT NULL DEFAULT 0,"
        "  allow_mic INTEGER NOT NULL DEFAULT 0,"
        "  CHECK (mode = 1 OR transport = 3));"
        "INSERT INTO profiles VALUES ('nonsecure', 1, 2, 0, 0),"
        "  ('authenticated', 2, 3, 0, 1), ('encrypted', 3, 3, 0, 1);"
        "CREATE TABLE devices ("
        "  mac TEXT PRIMARY KEY,"
        "  name TEXT NOT NULL UNIQUE,"
        "  model TEXT NOT NULL DEFAULT '',"
        "  profile TEXT NOT NULL REFERENCES profiles(name),"
        "  load TEXT NOT NULL DEFAULT '',"
        "  description TEXT NOT NULL DEFAULT '',"
        "  capf_auth_mode INTEGER NOT NULL DEFAULT 0"
        "    CHECK (capf_auth_mode BETWEEN 0 AND 4),"
        "  capf_op INTEGER NOT NULL DEFAULT 0 CHECK (capf_op BETWEEN 0 AND 4),"
        "  capf_deadline INTEGER NOT NULL DEFAULT 0,"
        "  capf_auth_salt BLOB,"
        "  capf_auth_hash BLOB,"
        "  cert_der BLOB,"
        "  cert_md5 TEXT NOT NULL DEFAULT '',"
        "  cert_serial TEXT NOT NULL DEFAULT '',"
        "  created INTEGER NOT NULL,"
        "  updated INTEGER NOT NULL);"
        "CREATE INDEX devices_profile ON devices(profile);"
        "CREATE TABLE users ("
        "  name TEXT PRIMARY KEY,"
        "  display TEXT NOT NULL DEFAULT '',"
        "  created INTEGER NOT NULL);"
        "CREATE TABLE lines ("
        "  dn TEXT PRIMARY KEY,"
        "  display TEXT NOT NULL DEFAULT '',"
        "  device TEXT NOT NULL REFERENCES devices(mac) ON DELETE CASCADE,"
        "  line_index INTEGER NOT NULL CHECK (line_index BETWEEN 1 AND 64),"
        "  auth_user TEXT NOT NULL DEFAULT '',"
        "  realm TEXT NOT NULL DEFAULT '',"
        "  ha1_md5 TEXT NOT NULL DEFAULT '',"
        "  ha1_sha256 TEXT NOT NULL DEFAULT '',"
        "  created INTEGER NOT NULL,"
        "  updated INTEGER NOT NULL,"
        "  UNIQUE (device, line_index));"
        "CREATE TABLE mwi ("
        "  dn TEXT PRIMARY KEY REFERENCES lines(dn) ON DELETE CASCADE,"
        "  new_msgs INTEGER NOT NULL DEFAULT 0,"
        "  old_msgs INTEGER NOT NULL DEFAULT 0,"
        "  updated INTEGER NOT NULL);"
        "CREATE TABLE certs ("
        "  serial TEXT PRIMARY KEY,"
        "  subject TEXT NOT NULL,"
        "  issuer TEXT NOT NULL,"
        "  profile TEXT NOT NULL,"
        "  not_before INTEGER NOT NULL,"
        "  not_after INTEGER NOT NULL,"
        "  revoked_at INTEGER NOT NULL DEFAULT 0,"
        "  revoke_reason INTEGER NOT NULL DEFAULT 0,"
        "  pem TEXT NOT NULL);"
        "CREATE INDEX certs_profile ON certs(profile);"
        "CREATE TABLE cdrs ("
        "  id INTEGER PRIMARY KEY,"
        "  call_id TEXT NOT NULL,"
        "  from_dn TEXT NOT NULL,"
        "  to_dn TEXT NOT NULL,"
        "  start_at INTEGER NOT NULL,"
        "  answer_at INTEGER NOT NULL,"
        "  end_at INTEGER NOT NULL,"
        "  security TEXT NOT NULL,"
        "  cause TEXT NOT NULL);"
        "CREATE TABLE audit ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
        "  at INTEGER NOT NULL,"
        "  actor TEXT NOT NULL,"
        "  action TEXT NOT NULL,"
        "  detail TEXT NOT NULL);",
        /* 1 -> 2: digest user names are unique (a user is the DN when
         * none is set): the registrar finds a line by the user name of
         * an Authorization header (RFC 7616 §3.4) */
        "CREATE UNIQUE INDEX lines_user ON lines ("
        "  CASE WHEN auth_user = '' THEN dn ELSE auth_user END);",
        /* 2 -> 3: per-row change tracking (store.h "Change tracking"),
         * so that readers reload only what changed: each device and
         * line row carries the generation of the write that last
         * changed it, deletions are recorded, and a site-wide change
         * (settings, profiles) has a generation of its own. The
         * triggers, not the write paths, keep them: every writer (the
         * CLI, an import with sqlite3) is covered. */
        "ALTER TABLE meta ADD COLUMN site_gen INTEGER NOT NULL DEFAULT 0;"
        "ALTER TABLE meta ADD COLUMN deleted_floor INTEGER NOT NULL "
        "  DEFAULT 0;"
        "ALTER TABLE devices ADD COLUMN change_gen INTEGER NOT NULL "
        "  DEFAULT 0;"
        "ALTER TABLE lines ADD COLUMN change_gen INTEGER NOT NULL "
        "  DEFAULT 0;"
        /* this migration's own commit makes generation + 1: a reader
         * of the old schema reloads everything */
        "UPDATE meta SET site_gen = generation + 1;"
        "UPDATE devices SET change_gen = "
        "  (SELECT generation + 1 FROM meta WHERE id = 1);"
        "UPDATE lines SET change_gen = "
        "  (SELECT generation + 1 FROM meta WHERE id = 1);"
        "CREATE INDEX devices_change ON devices(change_gen);"
        "CREATE INDEX lines_change ON lines(change_gen);"
        "CREATE INDEX devices_cert_serial ON devices(cert_serial);"
        "CREATE TABLE deleted ("
        "  id INTEGER PRIMARY KEY,"
        "  kind INTEGER NOT NULL CHECK (kind BETWEEN 1 AND 2),"
        "  key TEXT NOT NULL,"
        "  device TEXT NOT NULL,"
        "  change_gen INTEGER NOT NULL);"
        "CREATE INDEX deleted_change ON deleted(change_gen);"
        "CREATE INDEX deleted_device ON deleted(device, change_gen);"
        /* a row is marked with the generation its transaction commits
         * (store_tx_commit bumps the counter once, at the end); the
         * WHEN clause also stops the trigger's own UPDATE from firing
         * it again */
        "CREATE TRIGGER devices_ins AFTER INSERT ON devices"
        "  WHEN NEW.change_gen IS NOT " CUR_GEN " BEGIN"
        "  UPDATE devices SET change_gen = " CUR_GEN
        "    WHERE mac = NEW.mac; END;"
        "CREATE TRIGGER devices_upd AFTER UPDATE ON devices"
        "  WHEN NEW.change_gen IS NOT " CUR_GEN " BEGIN"
        "  UPDATE devices SET change_gen = " CUR_GEN
        "    WHERE mac = NEW.mac; END;"
        "CREATE TRIGGER devices_rekey AFTER UPDATE OF mac ON devices"
        "  WHEN OLD.mac IS NOT NEW.mac BEGIN"
        "  INSERT INTO deleted (kind, key, device, change_gen)"
        "    VALUES (1, OLD.mac, OLD.mac, " CUR_GEN "); END;"
        "CREATE TRIGGER devices_del AFTER DELETE ON devices BEGIN"
        "  INSERT INTO deleted (kind, key, device, change_gen)"
        "    VALUES (1, OLD.mac, OLD.mac, " CUR_GEN "); END;"
        "CREATE TRIGGER lines_ins AFTER INSERT ON lines"
        "  WHEN NEW.change_gen IS NOT " CUR_GEN " BEGIN"
        "  UPDATE lines SET change_gen = " CUR_GEN " WHERE dn = NEW.dn;"
        "  END;"
        "CREATE TRIGGER lines_upd AFTER UPDATE ON lines"
        "  WHEN NEW.change_gen IS NOT " CUR_GEN " BEGIN"
        "  UPDATE lines SET change_gen = " CUR_GEN " WHERE dn = NEW.dn;"
        "  END;"
        /* a line that moves to another device (or is renumbered)
         * leaves its old device: recorded like a deletion there */
        "CREATE TRIGGER lines_moved AFTER UPDATE OF dn, device ON lines"
        "  WHEN OLD.dn IS NOT NEW.dn OR OLD.device IS NOT NEW.device"
        "  BEGIN INSERT INTO deleted (kind, key, device, change_gen)"
        "    VALUES (2, OLD.dn, OLD.device, " CUR_GEN "); END;"
        /* also fired for the lines a device deletion cascades to */
        "CREATE TRIGGER lines_del AFTER DELETE ON lines BEGIN"
        "  INSERT INTO deleted (kind, key, device, change_gen)"
        "    VALUES (2, OLD.dn, OLD.device, " CUR_GEN "); END;"
        /* message-waiting state is the line's */
        "CREATE TRIGGER mwi_ins AFTER INSERT ON mwi BEGIN"
        "  UPDATE lines SET change_gen = " CUR_GEN " WHERE dn = NEW.dn;"
        "  END;"
        "CREATE TRIGGER mwi_upd AFTER UPDATE ON mwi BEGIN"
        "  UPDATE lines SET change_gen = " CUR_GEN
        "    WHERE dn IN (OLD.dn, NEW.dn); END;"
        /* a certificate's record (its revocation) is the device's that
         * holds it */
        "CREATE TRIGGER certs_ins AFTER INSERT ON certs BEGIN"
        "  UPDATE devices SET change_gen = " CUR_GEN
        "    WHERE cert_serial = NEW.serial; END;"
        "CREATE TRIGGER certs_upd AFTER UPDATE ON certs BEGIN"
        "  UPDATE devices SET change_gen = " CUR_GEN
        "    WHERE cert_serial IN (OLD.serial, NEW.serial); END;"
        "CREATE TRIGGER certs_del AFTER DELETE ON certs BEGIN"
        "  UPDATE devices SET change_gen = " CUR_GEN
        "    WHERE cert_serial = OLD.serial; END;"
        /* site-wide: the cluster mode, forwarding, line secrets and
         * every other setting, and the security profiles */
        "CREATE TRIGGER settings_ins AFTER INSERT ON settings"
        "  BEGIN " SITE_BUMP " END;"
        "CREATE TRIGGER settings_upd AFTER UPDATE ON settings"
        "  BEGIN " SITE_BUMP " END;"
        "CREATE TRIGGER settings_del AFTER DELETE ON settings"
        "  BEGIN " SITE_BUMP " END;"
        "CREATE TRIGGER profiles_ins AFTER INSERT ON profiles"
        "  BEGIN " SITE_BUMP " END;"
        "CREATE TRIGGER profiles_upd AFTER UPDATE ON profiles"
        "  BEGIN " SITE_BUMP " END;"
        "CREATE TRIGGER profiles_del AFTER DELETE ON profiles"
        "  BEGIN " SITE_BUMP " END;"
        /* keep the last DELETED_KEEP deletions; deleted_floor is the
         * newest generation forgotten, below which a reader must
         * reload everything */
        "CREATE TRIGGER deleted_prune AFTER INSERT ON deleted"
        "  WHEN NEW.id % " DELETED_PRUNE_EVERY " = 0 BEGIN"
        "  UPDATE meta SET deleted_floor = max(deleted_floor, coalesce("
        "    (SELECT max(change_gen) FROM deleted"
        "     WHERE id <= NEW.id - " DELETED_KEEP "), 0)) WHERE id = 1;"
        "  DELETE FROM deleted WHERE id <= NEW.id - " DELETED_KEEP ";"
        "  END;",
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

int store_schema_version(void)
{
	return SCHEMA_VERSION;
}

/* ---- cached statements ---- */

enum stmt_id {
	S_GEN_GET,
	S_GEN_BUMP,
	S_CHG_META,
	S_CHG_DELETED,
	S_CHG_DEVICES,
	S_CHG_LINES,
	S_DEV_STAMP,
	S_SET_GET,
	S_SET_PUT,
	S_SET_DEL,
	S_PROF_ADD,
	S_PROF_GET,
	S_PROF_UPD,
	S_PROF_DEL,
	S_PROF_LIST,
	S_PROF_USED,
	S_DEV_ADD,
	S_DEV_GET,
	S_DEV_UPD,
	S_DEV_DEL,
	S_DEV_LIST,
	S_DEV_CERT_SET,
	S_DEV_CERT_GET,
	S_DEV_AUTH_SET,
	S_DEV_AUTH_GET,
	S_LINE_ADD,
	S_LINE_NEXT_INDEX,
	S_LINE_GET,
	S_LINE_UPD,
	S_LINE_DEL,
	S_LINE_LIST,
	S_LINE_LIST_DEV,
	S_LINE_PASS,
	S_LINE_BY_USER,
	S_MWI_PUT,
	S_USER_ADD,
	S_USER_GET,
	S_USER_DEL,
	S_USER_LIST,
	S_CERT_ADD,
	S_CERT_GET,
	S_CERT_REVOKE,
	S_CERT_LIST,
	S_CDR_ADD,
	S_AUDIT_ADD,
	S_AUDIT_LIST,
	S_MAX
};

#define DEV_COLS                                                               \
	"mac, name, model, profile, load, description, capf_auth_mode, "       \
	"capf_op, capf_deadline, capf_auth_hash IS NOT NULL, cert_md5, "       \
	"cert_serial, created, updated"
#define LINE_COLS                                                              \
	"l.dn, l.display, l.device, l.line_index, l.auth_user, l.realm, "      \
	"l.ha1_md5, l.ha1_sha256, coalesce(m.new_msgs, 0), "                   \
	"coalesce(m.old_msgs, 0), l.created, l.updated"
#define CERT_COLS                                                              \
	"serial, subject, issuer, profile, not_before, not_after, "            \
	"revoked_at, "                                                         \
	"revoke_reason, pem"

static const char *const stmt_sql[S_MAX] = {
        [S_GEN_GET] = "SELECT generation FROM meta WHERE id = 1",
        [S_GEN_BUMP] =
                "UPDATE meta SET generation = generation + 1 WHERE id = 1",
        [S_CHG_META] = "SELECT generation, site_gen, deleted_floor FROM meta "
                       "WHERE id = 1",
        [S_CHG_DELETED] = "SELECT kind, key, device, change_gen FROM deleted "
                          "WHERE change_gen > ?1 ORDER BY id",
        [S_CHG_DEVICES] = "SELECT mac, change_gen FROM devices "
                          "WHERE change_gen > ?1",
        [S_CHG_LINES] = "SELECT dn, device, change_gen FROM lines "
                        "WHERE change_gen > ?1",
        [S_DEV_STAMP] =
                "SELECT max(d.change_gen, coalesce((SELECT max(l.change_gen) "
                "FROM lines l WHERE l.device = d.mac), 0), coalesce(("
                "SELECT max(x.change_gen) FROM deleted x WHERE x.device = "
                "d.mac), 0), m.site_gen, m.deleted_floor) FROM devices d, "
                "meta m WHERE d.mac = ?1 AND m.id = 1",
        [S_SET_GET] = "SELECT value FROM settings WHERE key = ?1",
        [S_SET_PUT] = "INSERT INTO settings (key, value) VALUES (?1, ?2) "
                      "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [S_SET_DEL] = "DELETE FROM settings WHERE key = ?1",
        [S_PROF_ADD] = "INSERT INTO profiles (name, mode, transport, "
                       "auth_invite, allow_mic) VALUES (?1, ?2, ?3, ?4, ?5)",
        [S_PROF_GET] = "SELECT name, mode, transport, auth_invite, allow_mic "
                       "FROM profiles WHERE name = ?1",
        [S_PROF_UPD] = "UPDATE profiles SET mode = ?2, transport = ?3, "
                       "auth_invite = ?4, allow_mic = ?5 WHERE name = ?1",
        [S_PROF_DEL] = "DELETE FROM profiles WHERE name = ?1",
        [S_PROF_LIST] = "SELECT name, mode, transport, auth_invite, allow_mic "
                        "FROM profiles ORDER BY name",
        [S_PROF_USED] = "SELECT count(*) FROM devices WHERE profile = ?1",
        [S_DEV_ADD] = "INSERT INTO devices (mac, name, model, profile, load, "
                      "description, capf_auth_mode, capf_op, capf_deadline, "
                      "created, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                      "?8, ?9, ?10, ?10)",
        [S_DEV_GET] = "SELECT " DEV_COLS " FROM devices WHERE mac = ?1",
        [S_DEV_UPD] = "UPDATE devices SET name = ?2, model = ?3, profile = ?4, "
                      "load = ?5, description = ?6, capf_auth_mode = ?7, "
                      "capf_op = ?8, capf_deadline = ?9, updated = ?10 "
                      "WHERE mac = ?1",
        [S_DEV_DEL] = "DELETE FROM devices WHERE mac = ?1",
        [S_DEV_LIST] = "SELECT " DEV_COLS " FROM devices ORDER BY mac",
        [S_DEV_CERT_SET] = "UPDATE devices SET cert_der = ?2, cert_md5 = ?3, "
                           "cert_serial = ?4, updated = ?5 WHERE mac = ?1",
        [S_DEV_CERT_GET] = "SELECT cert_der FROM devices WHERE mac = ?1",
        [S_DEV_AUTH_SET] = "UPDATE devices SET capf_auth_salt = ?2, "
                           "capf_auth_hash = ?3, updated = ?4 WHERE mac = ?1",
        [S_DEV_AUTH_GET] = "SELECT capf_auth_salt, capf_auth_hash FROM devices "
                           "WHERE mac = ?1",
        [S_LINE_ADD] = "INSERT INTO lines (dn, display, device, line_index, "
                       "auth_user, created, updated) VALUES (?1, ?2, ?3, ?4, "
                       "?5, ?6, ?6)",
        [S_LINE_NEXT_INDEX] = "SELECT coalesce(max(line_index), 0) + 1 FROM "
                              "lines WHERE device = ?1",
        [S_LINE_GET] = "SELECT " LINE_COLS " FROM lines l LEFT JOIN mwi m "
                       "ON m.dn = l.dn WHERE l.dn = ?1",
        [S_LINE_UPD] = "UPDATE lines SET display = ?2, device = ?3, "
                       "line_index = ?4, auth_user = ?5, updated = ?6 "
                       "WHERE dn = ?1",
        [S_LINE_DEL] = "DELETE FROM lines WHERE dn = ?1",
        [S_LINE_LIST] = "SELECT " LINE_COLS " FROM lines l LEFT JOIN mwi m "
                        "ON m.dn = l.dn ORDER BY l.device, l.line_index",
        [S_LINE_LIST_DEV] = "SELECT " LINE_COLS " FROM lines l LEFT JOIN mwi m "
                            "ON m.dn = l.dn WHERE l.device = ?1 "
                            "ORDER BY l.line_index",
        [S_LINE_BY_USER] = "SELECT " LINE_COLS " FROM lines l LEFT JOIN mwi m "
                           "ON m.dn = l.dn WHERE CASE WHEN l.auth_user = '' "
                           "THEN l.dn ELSE l.auth_user END = ?1",
        [S_LINE_PASS] = "UPDATE lines SET auth_user = ?2, realm = ?3, "
                        "ha1_md5 = ?4, ha1_sha256 = ?5, updated = ?6 "
                        "WHERE dn = ?1",
        [S_MWI_PUT] = "INSERT INTO mwi (dn, new_msgs, old_msgs, updated) "
                      "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (dn) DO UPDATE SET "
                      "new_msgs = excluded.new_msgs, old_msgs = "
                      "excluded.old_msgs, updated = excluded.updated",
        [S_USER_ADD] = "INSERT INTO users (name, display, created) "
                       "VALUES (?1, ?2, ?3)",
        [S_USER_GET] = "SELECT name, display, created FROM users "
                       "WHERE name = ?1",
        [S_USER_DEL] = "DELETE FROM users WHERE name = ?1",
        [S_USER_LIST] = "SELECT name, display, created FROM users "
                        "ORDER BY name",
        [S_CERT_ADD] = "INSERT INTO certs (" CERT_COLS ") VALUES (?1, ?2, ?3, "
                       "?4, ?5, ?6, ?7, ?8, ?9)",
        [S_CERT_GET] = "SELECT " CERT_COLS " FROM certs WHERE serial = ?1",
        [S_CERT_REVOKE] = "UPDATE certs SET revoked_at = ?2, revoke_reason = "
                          "?3 WHERE serial = ?1 AND revoked_at = 0",
        [S_CERT_LIST] = "SELECT " CERT_COLS " FROM certs WHERE ?1 IS NULL OR "
                        "profile = ?1 ORDER BY not_before, serial",
        [S_CDR_ADD] = "INSERT INTO cdrs (call_id, from_dn, to_dn, start_at, "
                      "answer_at, end_at, security, cause) VALUES (?1, ?2, "
                      "?3, ?4, ?5, ?6, ?7, ?8)",
        [S_AUDIT_ADD] = "INSERT INTO audit (at, actor, action, detail) "
                        "VALUES (?1, ?2, ?3, ?4)",
        [S_AUDIT_LIST] = "SELECT id, at, actor, action, detail FROM audit "
                         "ORDER BY id DESC LIMIT ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[S_MAX];
	int tx_depth;
	bool tx_failed; /* an inner rollback: the outermost commit refuses */
	bool tx_dirty;  /* a write happened: bump the generation on commit */
	bool tx_read;   /* a read snapshot (store_read_begin): no writes */
};

/* Map a SQLite result to the error catalogue; log the engine's message
 * for real failures (constraint violations are the caller's to report). */
static int db_err(struct store *st, int rc, const char *what)
{
	int ext = sqlite3_extended_errcode(st->db);

	if ((rc & 0xff) == SQLITE_CONSTRAINT) {
		switch (ext) {
		case SQLITE_CONSTRAINT_PRIMARYKEY:
		case SQLITE_CONSTRAINT_UNIQUE:
			return -TL_EEXIST;
		case SQLITE_CONSTRAINT_FOREIGNKEY:
			return -TL_ENOTFOUND;
		default:
			return -TL_EPARSE;
		}
	}
	if ((rc & 0xff) == SQLITE_NOMEM) {
		return -ENOMEM;
	}
	log_err(COMP, "%s: %s", what, sqlite3_errmsg(st->db));
	return -TL_ESTORE;
}

static int exec(struct store *st, const char *sql)
{
	char *msg = NULL;
	int rc = sqlite3_exec(st->db, sql, NULL, NULL, &msg);

	if (rc != SQLITE_OK) {
		log_err(COMP, "%s", msg ? msg : sqlite3_errstr(rc));
		sqlite3_free(msg);
		return (rc & 0xff) == SQLITE_NOMEM ? -ENOMEM : -TL_ESTORE;
	}
	return 0;
}

/* The cached statement id, reset and ready for binding. */
static int prep(struct store *st, enum stmt_id id, sqlite3_stmt **out)
{
	if (!st->stmt[id]) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[id], -1,
		                            SQLITE_PREPARE_PERSISTENT,
		                            &st->stmt[id], NULL);

		if (rc != SQLITE_OK) {
			return db_err(st, rc, "prepare");
		}
	}
	sqlite3_reset(st->stmt[id]);
	sqlite3_clear_bindings(st->stmt[id]);
	*out = st->stmt[id];
	return 0;
}

/* Release the statement's read lock; bound text must not outlive it. */
static void done(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static int bind_text(struct store *st, sqlite3_stmt *s, int i, const char *v)
{
	int rc = v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC)
	           : sqlite3_bind_null(s, i);

	return rc == SQLITE_OK ? 0 : db_err(st, rc, "bind");
}

static int bind_i64(struct store *st, sqlite3_stmt *s, int i, int64_t v)
{
	int rc = sqlite3_bind_int64(s, i, v);

	return rc == SQLITE_OK ? 0 : db_err(st, rc, "bind");
}

static int bind_blob(struct store *st, sqlite3_stmt *s, int i, const void *p,
                     size_t n)
{
	int rc = p ? sqlite3_bind_blob64(s, i, p, n, SQLITE_STATIC)
	           : sqlite3_bind_null(s, i);

	return rc == SQLITE_OK ? 0 : db_err(st, rc, "bind");
}

/* Run a statement that returns no row; -TL_ENOTFOUND when changed_one is
 * set and no row changed. */
static int run(struct store *st, sqlite3_stmt *s, bool changed_one)
{
	int rc = sqlite3_step(s);

	if (rc != SQLITE_DONE) {
		return db_err(st, rc, "write");
	}
	if (changed_one && sqlite3_changes(st->db) == 0) {
		return -TL_ENOTFOUND;
	}
	return 0;
}

/* Step once for a row: 0 with a row, -TL_ENOTFOUND without one. */
static int row(struct store *st, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	if (rc == SQLITE_ROW) {
		return 0;
	}
	if (rc == SQLITE_DONE) {
		return -TL_ENOTFOUND;
	}
	return db_err(st, rc, "read");
}

static void col_text(sqlite3_stmt *s, int i, char *dst, size_t n)
{
	const unsigned char *t = sqlite3_column_text(s, i);

	snprintf(dst, n, "%s", t ? (const char *)t : "");
}

static int64_t now(void)
{
	return (int64_t)time(NULL);
}

/* ---- transactions ---- */

int store_tx_begin(struct store *st)
{
	if (st->tx_read) {
		/* a write would be lost when the snapshot ends */
		return -TL_ESTATE;
	}
	if (st->tx_depth == 0) {
		/* IMMEDIATE: take the write lock now, so a busy database is
		 * waited for here (busy timeout) rather than failing at the
		 * first write. */
		int err = exec(st, "BEGIN IMMEDIATE");

		if (err) {
			return err;
		}
		st->tx_failed = false;
		st->tx_dirty = false;
	}
	st->tx_depth++;
	return 0;
}

void store_tx_rollback(struct store *st)
{
	if (st->tx_depth <= 0) {
		return;
	}
	if (--st->tx_depth > 0) {
		st->tx_failed = true;
		return;
	}
	if (exec(st, "ROLLBACK")) {
		log_err(COMP, "rollback failed");
	}
	st->tx_failed = false;
	st->tx_read = false;
	st->tx_dirty = false;
}

int store_tx_commit(struct store *st)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (st->tx_depth <= 0 || st->tx_read) {
		return -TL_ESTATE;
	}
	if (st->tx_depth > 1) {
		st->tx_depth--;
		return 0;
	}
	if (st->tx_failed) {
		store_tx_rollback(st);
		return -TL_ESTATE;
	}
	if (st->tx_dirty) {
		err = prep(st, S_GEN_BUMP, &s);
		if (!err) {
			err = run(st, s, true);
		}
		done(s);
		if (err) {
			store_tx_rollback(st);
			return err;
		}
	}
	err = exec(st, "COMMIT");
	if (err) {
		store_tx_rollback(st);
		return err;
	}
	st->tx_depth = 0;
	st->tx_dirty = false;
	return 0;
}

int store_read_begin(struct store *st)
{
	int err;

	if (st->tx_depth != 0) {
		return -TL_ESTATE;
	}
	err = exec(st, "BEGIN DEFERRED");
	if (!err) {
		st->tx_depth = 1;
		st->tx_read = true;
		st->tx_failed = false;
		st->tx_dirty = false;
	}
	return err;
}

void store_read_end(struct store *st)
{
	if (st->tx_read) {
		st->tx_read = false;
		store_tx_rollback(st);
	}
}

/* Finish the write transaction that tx_begin (store_tx_begin) opened:
 * commit when err is 0, roll back otherwise. */
static int tx_end(struct store *st, int err)
{
	if (err) {
		store_tx_rollback(st);
		return err;
	}
	st->tx_dirty = true;
	return store_tx_commit(st);
}

int store_generation(struct store *st, uint64_t *out)
{
	sqlite3_stmt *s = NULL;
	int err = prep(st, S_GEN_GET, &s);

	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	}
	done(s);
	return err;
}

/* ---- change tracking ---- */

static int mac_key(const char *in, char out[13]);

/* Visit the rows of a change query (since bound as ?1). */
static int changes_visit(struct store *st, enum stmt_id id, uint64_t since,
                         store_change_h h, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_change c;
	int err = prep(st, id, &s);

	if (!err) {
		err = bind_i64(st, s, 1, (int64_t)since);
	}
	while (!err && (err = row(st, s)) == 0) {
		memset(&c, 0, sizeof(c));
		switch (id) {
		case S_CHG_DELETED:
			c.kind = sqlite3_column_int(s, 0) == 1
			                 ? STORE_CHANGE_DEVICE
			                 : STORE_CHANGE_LINE;
			c.deleted = true;
			col_text(s, 1, c.key, sizeof(c.key));
			col_text(s, 2, c.device, sizeof(c.device));
			c.generation = (uint64_t)sqlite3_column_int64(s, 3);
			break;
		case S_CHG_DEVICES:
			c.kind = STORE_CHANGE_DEVICE;
			col_text(s, 0, c.key, sizeof(c.key));
			col_text(s, 0, c.device, sizeof(c.device));
			c.generation = (uint64_t)sqlite3_column_int64(s, 1);
			break;
		default:
			c.kind = STORE_CHANGE_LINE;
			col_text(s, 0, c.key, sizeof(c.key));
			col_text(s, 1, c.device, sizeof(c.device));
			c.generation = (uint64_t)sqlite3_column_int64(s, 2);
			break;
		}
		err = h(&c, arg);
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}

int store_changes_since(struct store *st, uint64_t since, uint64_t *upto,
                        bool *full, store_change_h h, void *arg)
{
	sqlite3_stmt *s = NULL;
	uint64_t gen = 0, site = 0, floor = 0;
	int err = prep(st, S_CHG_META, &s);

	/* the counter first: every row marked up to it is visible by now
	 * (a write commits its rows and the counter together) */
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		gen = (uint64_t)sqlite3_column_int64(s, 0);
		site = (uint64_t)sqlite3_column_int64(s, 1);
		floor = (uint64_t)sqlite3_column_int64(s, 2);
	}
	done(s);
	if (err) {
		return err;
	}
	*upto = gen;
	*full = since > gen || site > since || floor > since;
	if (*full || since == gen) {
		return 0;
	}
	err = changes_visit(st, S_CHG_DELETED, since, h, arg);
	if (!err) {
		err = changes_visit(st, S_CHG_DEVICES, since, h, arg);
	}
	if (!err) {
		err = changes_visit(st, S_CHG_LINES, since, h, arg);
	}
	return err > 0 ? 0 : err;
}

int store_device_stamp(struct store *st, const char *mac, uint64_t *out)
{
	sqlite3_stmt *s = NULL;
	char key[13];
	int err = mac_key(mac, key);

	if (!err) {
		err = prep(st, S_DEV_STAMP, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		*out = (uint64_t)sqlite3_column_int64(s, 0);
	}
	done(s);
	return err;
}

/* ---- open, migrate, close ---- */

static int schema_version(struct store *st, int *out)
{
	sqlite3_stmt *s = NULL;
	int rc =
	        sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL);

	if (rc == SQLITE_OK) {
		rc = sqlite3_step(s);
	}
	if (rc != SQLITE_ROW) {
		sqlite3_finalize(s);
		return db_err(st, rc, "schema version");
	}
	*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	if (*out > SCHEMA_VERSION) {
		log_err(COMP,
		        "database schema %d is newer than this build (%d)",
		        *out, SCHEMA_VERSION);
		return -TL_ESTORE;
	}
	return 0;
}

static int migrate(struct store *st)
{
	int version;
	int err = schema_version(st, &version);

	while (!err && version < SCHEMA_VERSION) {
		char pragma[64];

		err = store_tx_begin(st);
		if (err) {
			return err;
		}
		/* Read again under the write lock: another process opening
		 * the same new database may have migrated it meanwhile. */
		err = schema_version(st, &version);
		if (err || version >= SCHEMA_VERSION) {
			store_tx_rollback(st);
			break;
		}
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d",
		         version + 1);
		err = exec(st, migrations[version]);
		if (!err) {
			err = exec(st, pragma);
		}
		err = tx_end(st, err);
		if (err) {
			log_err(COMP, "migration to schema %d failed",
			        version + 1);
			return err;
		}
		log_info(COMP, "database migrated to schema %d", version + 1);
		version++;
	}
	return err;
}

/* Switch the database to WAL. The mode is stored in the file, so this
 * usually finds it set already. Switching needs the database to itself,
 * and SQLite reports a busy database there at once, without its busy
 * handler: when several processes open a new database together, they
 * retry, bounded by the busy timeout. */
static int wal_on(struct store *st)
{
	for (int waited = 0;; waited += 10) {
		sqlite3_stmt *s = NULL;
		int rc = sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL",
		                            -1, &s, NULL);
		bool wal = false;

		if (rc == SQLITE_OK) {
			rc = sqlite3_step(s);
		}
		if (rc == SQLITE_ROW) {
			const unsigned char *mode = sqlite3_column_text(s, 0);

			wal = mode && strcmp((const char *)mode, "wal") == 0;
			rc = SQLITE_OK;
		}
		sqlite3_finalize(s);
		if (rc == SQLITE_OK) {
			if (wal) {
				return 0;
			}
			log_err(COMP, "the database cannot use a WAL journal");
			return -TL_ESTORE;
		}
		if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) ||
		    waited >= BUSY_TIMEOUT_MS) {
			return db_err(st, rc, "WAL journal");
		}
		sqlite3_sleep(10);
	}
}

int store_open(struct store **out, const char *path)
{
	struct store *st;
	int fd;
	int rc;
	int err;

	*out = NULL;
	if (!path || !*path) {
		return -EINVAL;
	}
	/* The database holds digest HA1 values: owner-only from birth
	 * (SQLite gives its -wal and -shm files the same mode). Only when
	 * it does not exist yet: closing a descriptor of a file drops every
	 * POSIX lock this process holds on it, those of a connection already
	 * open included, and another process would then take itself for
	 * the last user and remove the WAL under that connection. */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
	} else if (errno != EEXIST) {
		return -errno;
	}
	st = calloc(1, sizeof(*st));
	if (!st) {
		return -ENOMEM;
	}
	rc = sqlite3_open_v2(path, &st->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	                             SQLITE_OPEN_NOMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		err = st->db ? db_err(st, rc, "open") : -ENOMEM;
		goto out;
	}
	sqlite3_extended_result_codes(st->db, 1);
	sqlite3_busy_timeout(st->db, BUSY_TIMEOUT_MS);
	err = wal_on(st);
	if (err) {
		goto out;
	}
	err = exec(st, "PRAGMA foreign_keys = ON; "
	               "PRAGMA synchronous = NORMAL; "
	               "PRAGMA secure_delete = ON");
	if (err) {
		goto out;
	}
	err = migrate(st);
out:
	if (err) {
		store_close(st);
		return err;
	}
	*out = st;
	return 0;
}

void store_close(struct store *st)
{
	if (!st) {
		return;
	}
	if (st->tx_depth > 0) {
		st->tx_depth = 1;
		st->tx_read = false;
		store_tx_rollback(st);
	}
	for (int i = 0; i < S_MAX; i++) {
		sqlite3_finalize(st->stmt[i]);
	}
	sqlite3_close(st->db);
	free(st);
}

/* ---- settings ---- */

int store_setting_get(struct store *st, const char *key, char *out,
                      size_t outlen)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_text(key, STORE_KEY_MAX) || !*key) {
		return -TL_EPARSE;
	}
	err = prep(st, S_SET_GET, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		const char *v = (const char *)sqlite3_column_text(s, 0);

		if (strlen(v ? v : "") >= outlen) {
			err = -TL_ETOOBIG;
		} else {
			col_text(s, 0, out, outlen);
		}
	}
	done(s);
	return err;
}

int store_setting_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_text(key, STORE_KEY_MAX) || !*key ||
	    !store_valid_text(value, STORE_VALUE_MAX)) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_SET_PUT, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = bind_text(st, s, 2, value);
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

int store_setting_del(struct store *st, const char *key)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_text(key, STORE_KEY_MAX) || !*key) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_SET_DEL, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_cluster_mode_get(struct store *st, enum store_cluster_mode *out)
{
	char v[32];
	int err = store_setting_get(st, "cluster_mode", v, sizeof(v));

	if (err == -TL_ENOTFOUND) {
		*out = STORE_CLUSTER_NONSECURE;
		return 0;
	}
	if (err) {
		return err;
	}
	return store_cluster_mode_from_name(v, out);
}

int store_cluster_mode_set(struct store *st, enum store_cluster_mode mode)
{
	if (mode != STORE_CLUSTER_NONSECURE && mode != STORE_CLUSTER_MIXED) {
		return -TL_EPARSE;
	}
	return store_setting_set(st, "cluster_mode",
	                         store_cluster_mode_name(mode));
}

/* ---- profiles ---- */

static int profile_check(const struct store_profile *p)
{
	if (!store_valid_name(p->name, sizeof(p->name))) {
		return -TL_EPARSE;
	}
	if (p->mode < STORE_SEC_NONSECURE || p->mode > STORE_SEC_ENCRYPTED ||
	    p->transport < STORE_TRANSPORT_TCP ||
	    p->transport > STORE_TRANSPORT_TLS) {
		return -TL_EPARSE;
	}
	/* cisco-formats.md §3: TLS needs mode 2 or 3, and the secure modes
	 * are defined over TLS. */
	if (p->mode != STORE_SEC_NONSECURE &&
	    p->transport != STORE_TRANSPORT_TLS) {
		return -TL_EPARSE;
	}
	return 0;
}

static int profile_write(struct store *st, enum stmt_id id,
                         const struct store_profile *p)
{
	sqlite3_stmt *s = NULL;
	int err = profile_check(p);

	if (err) {
		return err;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, id, &s);
	if (!err) {
		err = bind_text(st, s, 1, p->name);
	}
	if (!err) {
		err = bind_i64(st, s, 2, p->mode);
	}
	if (!err) {
		err = bind_i64(st, s, 3, p->transport);
	}
	if (!err) {
		err = bind_i64(st, s, 4, p->auth_invite);
	}
	if (!err) {
		err = bind_i64(st, s, 5, p->allow_mic);
	}
	if (!err) {
		err = run(st, s, id == S_PROF_UPD);
	}
	done(s);
	return tx_end(st, err);
}

int store_profile_add(struct store *st, const struct store_profile *p)
{
	return profile_write(st, S_PROF_ADD, p);
}

int store_profile_update(struct store *st, const struct store_profile *p)
{
	return profile_write(st, S_PROF_UPD, p);
}

static void profile_row(sqlite3_stmt *s, struct store_profile *p)
{
	memset(p, 0, sizeof(*p));
	col_text(s, 0, p->name, sizeof(p->name));
	p->mode = (enum store_sec_mode)sqlite3_column_int(s, 1);
	p->transport = (enum store_transport)sqlite3_column_int(s, 2);
	p->auth_invite = sqlite3_column_int(s, 3) != 0;
	p->allow_mic = sqlite3_column_int(s, 4) != 0;
}

int store_profile_get(struct store *st, const char *name,
                      struct store_profile *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_name(name, STORE_NAME_MAX)) {
		return -TL_ENOTFOUND;
	}
	err = prep(st, S_PROF_GET, &s);
	if (!err) {
		err = bind_text(st, s, 1, name);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		profile_row(s, out);
	}
	done(s);
	return err;
}

int store_profile_del(struct store *st, const char *name)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_name(name, STORE_NAME_MAX)) {
		return -TL_ENOTFOUND;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_PROF_USED, &s);
	if (!err) {
		err = bind_text(st, s, 1, name);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err && sqlite3_column_int64(s, 0) > 0) {
		err = -TL_ESTATE;
	}
	done(s);
	s = NULL;
	if (!err) {
		err = prep(st, S_PROF_DEL, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, name);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_profile_list(struct store *st, store_profile_h h, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_profile p;
	int err = prep(st, S_PROF_LIST, &s);

	while (!err && (err = row(st, s)) == 0) {
		profile_row(s, &p);
		err = h(&p, arg);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}

/* ---- devices ---- */

static int device_check(const struct store_device *d)
{
	char mac[13];

	if (store_mac_parse(d->mac, mac) || strcmp(mac, d->mac)) {
		return -TL_EPARSE;
	}
	if (*d->name && !store_valid_name(d->name, sizeof(d->name))) {
		return -TL_EPARSE;
	}
	if ((*d->model && !store_valid_name(d->model, sizeof(d->model))) ||
	    (*d->load && !store_valid_name(d->load, sizeof(d->load))) ||
	    (*d->profile &&
	     !store_valid_name(d->profile, sizeof(d->profile))) ||
	    !store_valid_text(d->description, sizeof(d->description))) {
		return -TL_EPARSE;
	}
	if (d->capf_auth_mode < 0 || d->capf_auth_mode > 4 ||
	    d->capf_op < STORE_CAPF_NONE || d->capf_op > STORE_CAPF_FETCH ||
	    d->capf_deadline < 0) {
		return -TL_EPARSE;
	}
	return 0;
}

static int device_write(struct store *st, enum stmt_id id,
                        const struct store_device *d)
{
	sqlite3_stmt *s = NULL;
	char name[sizeof(d->name)];
	int err = device_check(d);

	if (err) {
		return err;
	}
	if (*d->name) {
		snprintf(name, sizeof(name), "%s", d->name);
	} else {
		snprintf(name, sizeof(name), "SEP%s", d->mac);
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, id, &s);
	if (!err) {
		err = bind_text(st, s, 1, d->mac);
	}
	if (!err) {
		err = bind_text(st, s, 2, name);
	}
	if (!err) {
		err = bind_text(st, s, 3, d->model);
	}
	if (!err) {
		err = bind_text(st, s, 4,
		                *d->profile ? d->profile : "nonsecure");
	}
	if (!err) {
		err = bind_text(st, s, 5, d->load);
	}
	if (!err) {
		err = bind_text(st, s, 6, d->description);
	}
	if (!err) {
		err = bind_i64(st, s, 7, d->capf_auth_mode);
	}
	if (!err) {
		err = bind_i64(st, s, 8, d->capf_op);
	}
	if (!err) {
		err = bind_i64(st, s, 9, d->capf_deadline);
	}
	if (!err) {
		err = bind_i64(st, s, 10, now());
	}
	if (!err) {
		err = run(st, s, id == S_DEV_UPD);
	}
	done(s);
	return tx_end(st, err);
}

int store_device_add(struct store *st, const struct store_device *d)
{
	return device_write(st, S_DEV_ADD, d);
}

int store_device_update(struct store *st, const struct store_device *d)
{
	return device_write(st, S_DEV_UPD, d);
}

static void device_row(sqlite3_stmt *s, struct store_device *d)
{
	memset(d, 0, sizeof(*d));
	col_text(s, 0, d->mac, sizeof(d->mac));
	col_text(s, 1, d->name, sizeof(d->name));
	col_text(s, 2, d->model, sizeof(d->model));
	col_text(s, 3, d->profile, sizeof(d->profile));
	col_text(s, 4, d->load, sizeof(d->load));
	col_text(s, 5, d->description, sizeof(d->description));
	d->capf_auth_mode = sqlite3_column_int(s, 6);
	d->capf_op = (enum store_capf_op)sqlite3_column_int(s, 7);
	d->capf_deadline = sqlite3_column_int64(s, 8);
	d->capf_has_auth_string = sqlite3_column_int(s, 9) != 0;
	col_text(s, 10, d->cert_md5, sizeof(d->cert_md5));
	col_text(s, 11, d->cert_serial, sizeof(d->cert_serial));
	d->created = sqlite3_column_int64(s, 12);
	d->updated = sqlite3_column_int64(s, 13);
}

/* The normalised MAC, or -TL_ENOTFOUND for a value that cannot be one. */
static int mac_key(const char *in, char out[13])
{
	return store_mac_parse(in, out) ? -TL_ENOTFOUND : 0;
}

int store_device_get(struct store *st, const char *mac,
                     struct store_device *out)
{
	sqlite3_stmt *s = NULL;
	char key[13];
	int err = mac_key(mac, key);

	if (!err) {
		err = prep(st, S_DEV_GET, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		device_row(s, out);
	}
	done(s);
	return err;
}

int store_device_del(struct store *st, const char *mac)
{
	sqlite3_stmt *s = NULL;
	char key[13];
	int err = mac_key(mac, key);

	if (err) {
		return err;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_DEV_DEL, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_device_list(struct store *st, store_device_h h, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_device d;
	int err = prep(st, S_DEV_LIST, &s);

	while (!err && (err = row(st, s)) == 0) {
		device_row(s, &d);
		err = h(&d, arg);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}

/* Check the DER is one X.509 certificate with nothing after it, and give
 * its MD5 (cisco-formats.md §2.3 certHash) and serial. */
static int cert_facts(const uint8_t *der, size_t len, char md5[33],
                      char serial[80])
{
	const uint8_t *p = der;
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	int err = -TL_EPARSE;

	if (len == 0 || len > CERT_DER_MAX) {
		return -TL_EPARSE;
	}
	x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {
		goto out;
	}
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	hex = bn ? BN_bn2hex(bn) : NULL;
	if (!hex || strlen(hex) >= 80) {
		err = -TL_ECRYPTO;
		goto out;
	}
	for (char *c = hex; *c; c++) {
		if (*c >= 'A' && *c <= 'F') {
			*c = (char)(*c - 'A' + 'a');
		}
	}
	snprintf(serial, 80, "%s", hex);
	if (EVP_Digest(der, len, h, &hlen, EVP_md5(), NULL) != 1) {
		err = -TL_ECRYPTO;
		goto out;
	}
	store_hex(h, hlen, md5);
	err = 0;
out:
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	return err;
}

static int device_cert_write(struct store *st, const char *key,
                             const uint8_t *der, size_t len, const char *md5,
                             const char *serial)
{
	sqlite3_stmt *s = NULL;
	int err = store_tx_begin(st);

	if (err) {
		return err;
	}
	err = prep(st, S_DEV_CERT_SET, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = bind_blob(st, s, 2, der, len);
	}
	if (!err) {
		err = bind_text(st, s, 3, md5);
	}
	if (!err) {
		err = bind_text(st, s, 4, serial);
	}
	if (!err) {
		err = bind_i64(st, s, 5, now());
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_device_cert_set(struct store *st, const char *mac, const uint8_t *der,
                          size_t len)
{
	char key[13];
	char md5[33] = "";
	char serial[80] = "";
	int err = mac_key(mac, key);

	if (err) {
		return err;
	}
	if (der) {
		err = cert_facts(der, len, md5, serial);
		if (err) {
			return err;
		}
	}
	return device_cert_write(st, key, der, len, md5, serial);
}

int store_device_cert_set_issued(struct store *st, const char *mac,
                                 const uint8_t *der, size_t len,
                                 const char *serial)
{
	uint8_t h[EVP_MAX_MD_SIZE];
	unsigned hlen = 0;
	char key[13];
	char md5[33];
	int err = mac_key(mac, key);

	if (err) {
		return err;
	}
	if (!der || len == 0 || len > CERT_DER_MAX || !serial ||
	    strlen(serial) >= 80) {
		return -EINVAL;
	}
	if (EVP_Digest(der, len, h, &hlen, EVP_md5(), NULL) != 1) {
		return -TL_ECRYPTO;
	}
	store_hex(h, hlen, md5);
	return device_cert_write(st, key, der, len, md5, serial);
}

int store_device_cert_get(struct store *st, const char *mac, uint8_t **der,
                          size_t *len)
{
	sqlite3_stmt *s = NULL;
	char key[13];
	int err = mac_key(mac, key);

	*der = NULL;
	*len = 0;
	if (!err) {
		err = prep(st, S_DEV_CERT_GET, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		const void *p = sqlite3_column_blob(s, 0);
		int n = sqlite3_column_bytes(s, 0);

		if (!p || n <= 0) {
			err = -TL_ENOTFOUND;
		} else if (!(*der = malloc((size_t)n))) {
			err = -ENOMEM;
		} else {
			memcpy(*der, p, (size_t)n);
			*len = (size_t)n;
		}
	}
	done(s);
	return err;
}

#define AUTH_SALT_LEN 16

static int auth_hash(const uint8_t *salt, const char *auth, uint8_t out[32])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned n = 0;
	int err = -TL_ECRYPTO;

	if (!ctx) {
		return -ENOMEM;
	}
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, salt, AUTH_SALT_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, auth, strlen(auth)) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == 32) {
		err = 0;
	}
	EVP_MD_CTX_free(ctx);
	return err;
}

int store_device_capf_auth_set(struct store *st, const char *mac,
                               const char *auth_string)
{
	sqlite3_stmt *s = NULL;
	uint8_t salt[AUTH_SALT_LEN];
	uint8_t hash[32];
	char key[13];
	int err = mac_key(mac, key);

	if (err) {
		return err;
	}
	if (auth_string) {
		if (!*auth_string ||
		    !store_valid_text(auth_string, STORE_NAME_MAX)) {
			return -TL_EPARSE;
		}
		if (RAND_bytes(salt, sizeof(salt)) != 1) {
			return -TL_ECRYPTO;
		}
		err = auth_hash(salt, auth_string, hash);
		if (err) {
			return err;
		}
	}
	err = store_tx_begin(st);
	if (err) {
		goto wipe;
	}
	err = prep(st, S_DEV_AUTH_SET, &s);
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = bind_blob(st, s, 2, auth_string ? salt : NULL,
		                sizeof(salt));
	}
	if (!err) {
		err = bind_blob(st, s, 3, auth_string ? hash : NULL,
		                sizeof(hash));
	}
	if (!err) {
		err = bind_i64(st, s, 4, now());
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	err = tx_end(st, err);
wipe:
	OPENSSL_cleanse(hash, sizeof(hash));
	return err;
}

int store_device_capf_auth_check(struct store *st, const char *mac,
                                 const char *auth_string)
{
	sqlite3_stmt *s = NULL;
	uint8_t salt[AUTH_SALT_LEN];
	uint8_t stored[32];
	uint8_t hash[32];
	char key[13];
	int err = mac_key(mac, key);

	if (!err && !auth_string) {
		err = -TL_EAUTH;
	}
	if (!err) {
		err = prep(st, S_DEV_AUTH_GET, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, key);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		if (sqlite3_column_bytes(s, 0) != AUTH_SALT_LEN ||
		    sqlite3_column_bytes(s, 1) != 32) {
			err = -TL_EAUTH;
		} else {
			memcpy(salt, sqlite3_column_blob(s, 0), sizeof(salt));
			memcpy(stored, sqlite3_column_blob(s, 1),
			       sizeof(stored));
		}
	}
	done(s);
	if (err) {
		return err;
	}
	err = auth_hash(salt, auth_string, hash);
	if (!err && CRYPTO_memcmp(hash, stored, sizeof(hash)) != 0) {
		err = -TL_EAUTH;
	}
	OPENSSL_cleanse(hash, sizeof(hash));
	OPENSSL_cleanse(stored, sizeof(stored));
	return err;
}

/* ---- lines ---- */

static int line_check(const struct store_line *l)
{
	char mac[13];

	if (!store_valid_dn(l->dn) ||
	    !store_valid_text(l->display, sizeof(l->display)) ||
	    (*l->user && !store_valid_text(l->user, sizeof(l->user))) ||
	    strchr(l->user, ':') || strchr(l->user, '"')) {
		return -TL_EPARSE;
	}
	if (l->line_index < 0 || l->line_index > 64) {
		return -TL_EPARSE;
	}
	if (store_mac_parse(l->device, mac) || strcmp(mac, l->device)) {
		return -TL_EPARSE;
	}
	return 0;
}

static int line_index_next(struct store *st, const char *mac, int *out)
{
	sqlite3_stmt *s = NULL;
	int err = prep(st, S_LINE_NEXT_INDEX, &s);

	if (!err) {
		err = bind_text(st, s, 1, mac);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		*out = sqlite3_column_int(s, 0);
		if (*out > 64) {
			err = -TL_ELIMIT;
		}
	}
	done(s);
	return err;
}

static int line_write(struct store *st, enum stmt_id id,
                      const struct store_line *l)
{
	sqlite3_stmt *s = NULL;
	int index = l->line_index;
	int err = line_check(l);

	if (err) {
		return err;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	if (index == 0) {
		err = line_index_next(st, l->device, &index);
	}
	if (!err) {
		err = prep(st, id, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, l->dn);
	}
	if (!err) {
		err = bind_text(st, s, 2, l->display);
	}
	if (!err) {
		err = bind_text(st, s, 3, l->device);
	}
	if (!err) {
		err = bind_i64(st, s, 4, index);
	}
	if (!err) {
		err = bind_text(st, s, 5, l->user);
	}
	if (!err) {
		err = bind_i64(st, s, 6, now());
	}
	if (!err) {
		err = run(st, s, id == S_LINE_UPD);
	}
	done(s);
	return tx_end(st, err);
}

int store_line_add(struct store *st, const struct store_line *l)
{
	return line_write(st, S_LINE_ADD, l);
}

int store_line_update(struct store *st, const struct store_line *l)
{
	return line_write(st, S_LINE_UPD, l);
}

static void line_row(sqlite3_stmt *s, struct store_line *l)
{
	memset(l, 0, sizeof(*l));
	col_text(s, 0, l->dn, sizeof(l->dn));
	col_text(s, 1, l->display, sizeof(l->display));
	col_text(s, 2, l->device, sizeof(l->device));
	l->line_index = sqlite3_column_int(s, 3);
	col_text(s, 4, l->user, sizeof(l->user));
	col_text(s, 5, l->realm, sizeof(l->realm));
	col_text(s, 6, l->ha1_md5, sizeof(l->ha1_md5));
	col_text(s, 7, l->ha1_sha256, sizeof(l->ha1_sha256));
	l->mwi_new = sqlite3_column_int(s, 8);
	l->mwi_old = sqlite3_column_int(s, 9);
	l->created = sqlite3_column_int64(s, 10);
	l->updated = sqlite3_column_int64(s, 11);
}

int store_line_get(struct store *st, const char *dn, struct store_line *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_dn(dn)) {
		return -TL_ENOTFOUND;
	}
	err = prep(st, S_LINE_GET, &s);
	if (!err) {
		err = bind_text(st, s, 1, dn);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		line_row(s, out);
	}
	done(s);
	return err;
}

int store_line_del(struct store *st, const char *dn)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_dn(dn)) {
		return -TL_ENOTFOUND;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_LINE_DEL, &s);
	if (!err) {
		err = bind_text(st, s, 1, dn);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_line_list(struct store *st, const char *device, store_line_h h,
                    void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_line l;
	char key[13];
	int err = 0;

	if (device) {
		err = mac_key(device, key);
		if (err) {
			return 0; /* no such device: no lines */
		}
		err = prep(st, S_LINE_LIST_DEV, &s);
		if (!err) {
			err = bind_text(st, s, 1, key);
		}
	} else {
		err = prep(st, S_LINE_LIST, &s);
	}
	while (!err && (err = row(st, s)) == 0) {
		line_row(s, &l);
		err = h(&l, arg);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	/* STYLE 12: the last row's HA1 values stay on no stack */
	OPENSSL_cleanse(&l, sizeof(l));
	return err;
}

int store_line_find_user(struct store *st, const char *user,
                         struct store_line *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!user || !*user || !store_valid_text(user, 64)) {
		return -TL_ENOTFOUND;
	}
	err = prep(st, S_LINE_BY_USER, &s);
	if (!err) {
		err = bind_text(st, s, 1, user);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		line_row(s, out);
	}
	done(s);
	return err;
}

int store_line_password_set(struct store *st, const char *dn, const char *user,
                            const char *realm, const char *password)
{
	sqlite3_stmt *s = NULL;
	char md5[33];
	char sha[65];
	int err;

	if (!store_valid_dn(dn)) {
		return -TL_ENOTFOUND;
	}
	if (!user || !*user || !store_valid_text(user, 64) ||
	    strchr(user, ':') || strchr(user, '"') || !realm || !*realm ||
	    !store_valid_text(realm, 128) || strchr(realm, '"') || !password ||
	    !*password) {
		return -TL_EPARSE;
	}
	err = store_digest_ha1(STORE_DIGEST_MD5, user, realm, password, md5,
	                       sizeof(md5));
	if (!err) {
		err = store_digest_ha1(STORE_DIGEST_SHA256, user, realm,
		                       password, sha, sizeof(sha));
	}
	if (err) {
		goto out;
	}
	err = store_tx_begin(st);
	if (err) {
		goto out;
	}
	err = prep(st, S_LINE_PASS, &s);
	if (!err) {
		err = bind_text(st, s, 1, dn);
	}
	if (!err) {
		err = bind_text(st, s, 2, user);
	}
	if (!err) {
		err = bind_text(st, s, 3, realm);
	}
	if (!err) {
		err = bind_text(st, s, 4, md5);
	}
	if (!err) {
		err = bind_text(st, s, 5, sha);
	}
	if (!err) {
		err = bind_i64(st, s, 6, now());
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	err = tx_end(st, err);
out:
	OPENSSL_cleanse(md5, sizeof(md5));
	OPENSSL_cleanse(sha, sizeof(sha));
	return err;
}

int store_mwi_set(struct store *st, const char *dn, int new_msgs, int old_msgs)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_dn(dn)) {
		return -TL_ENOTFOUND;
	}
	if (new_msgs < 0 || old_msgs < 0) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_MWI_PUT, &s);
	if (!err) {
		err = bind_text(st, s, 1, dn);
	}
	if (!err) {
		err = bind_i64(st, s, 2, new_msgs);
	}
	if (!err) {
		err = bind_i64(st, s, 3, old_msgs);
	}
	if (!err) {
		err = bind_i64(st, s, 4, now());
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

/* ---- users ---- */

int store_user_add(struct store *st, const struct store_user *u)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_name(u->name, sizeof(u->name)) ||
	    !store_valid_text(u->display, sizeof(u->display))) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_USER_ADD, &s);
	if (!err) {
		err = bind_text(st, s, 1, u->name);
	}
	if (!err) {
		err = bind_text(st, s, 2, u->display);
	}
	if (!err) {
		err = bind_i64(st, s, 3, now());
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

static void user_row(sqlite3_stmt *s, struct store_user *u)
{
	memset(u, 0, sizeof(*u));
	col_text(s, 0, u->name, sizeof(u->name));
	col_text(s, 1, u->display, sizeof(u->display));
	u->created = sqlite3_column_int64(s, 2);
}

int store_user_get(struct store *st, const char *name, struct store_user *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_name(name, 64)) {
		return -TL_ENOTFOUND;
	}
	err = prep(st, S_USER_GET, &s);
	if (!err) {
		err = bind_text(st, s, 1, name);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		user_row(s, out);
	}
	done(s);
	return err;
}

int store_user_del(struct store *st, const char *name)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_name(name, 64)) {
		return -TL_ENOTFOUND;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_USER_DEL, &s);
	if (!err) {
		err = bind_text(st, s, 1, name);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_user_list(struct store *st, store_user_h h, void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_user u;
	int err = prep(st, S_USER_LIST, &s);

	while (!err && (err = row(st, s)) == 0) {
		user_row(s, &u);
		err = h(&u, arg);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}

/* ---- certificates ---- */

void store_cert_clear(struct store_cert *c)
{
	if (!c) {
		return;
	}
	free(c->pem);
	memset(c, 0, sizeof(*c));
}

static bool valid_serial(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n >= 80) {
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!((s[i] >= '0' && s[i] <= '9') ||
		      (s[i] >= 'a' && s[i] <= 'f'))) {
			return false;
		}
	}
	return true;
}

int store_cert_add(struct store *st, const struct store_cert *c)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!valid_serial(c->serial) ||
	    !store_valid_text(c->subject, sizeof(c->subject)) ||
	    !store_valid_text(c->issuer, sizeof(c->issuer)) ||
	    !store_valid_name(c->profile, sizeof(c->profile)) || !c->pem ||
	    strlen(c->pem) > PEM_MAX || c->revoked_at < 0) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_CERT_ADD, &s);
	if (!err) {
		err = bind_text(st, s, 1, c->serial);
	}
	if (!err) {
		err = bind_text(st, s, 2, c->subject);
	}
	if (!err) {
		err = bind_text(st, s, 3, c->issuer);
	}
	if (!err) {
		err = bind_text(st, s, 4, c->profile);
	}
	if (!err) {
		err = bind_i64(st, s, 5, c->not_before);
	}
	if (!err) {
		err = bind_i64(st, s, 6, c->not_after);
	}
	if (!err) {
		err = bind_i64(st, s, 7, c->revoked_at);
	}
	if (!err) {
		err = bind_i64(st, s, 8, c->revoke_reason);
	}
	if (!err) {
		err = bind_text(st, s, 9, c->pem);
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

static int cert_row(sqlite3_stmt *s, struct store_cert *c)
{
	const unsigned char *pem = sqlite3_column_text(s, 8);

	memset(c, 0, sizeof(*c));
	col_text(s, 0, c->serial, sizeof(c->serial));
	col_text(s, 1, c->subject, sizeof(c->subject));
	col_text(s, 2, c->issuer, sizeof(c->issuer));
	col_text(s, 3, c->profile, sizeof(c->profile));
	c->not_before = sqlite3_column_int64(s, 4);
	c->not_after = sqlite3_column_int64(s, 5);
	c->revoked_at = sqlite3_column_int64(s, 6);
	c->revoke_reason = sqlite3_column_int(s, 7);
	c->pem = strdup(pem ? (const char *)pem : "");
	return c->pem ? 0 : -ENOMEM;
}

int store_cert_get(struct store *st, const char *serial, struct store_cert *out)
{
	sqlite3_stmt *s = NULL;
	int err;

	memset(out, 0, sizeof(*out));
	if (!valid_serial(serial)) {
		return -TL_ENOTFOUND;
	}
	err = prep(st, S_CERT_GET, &s);
	if (!err) {
		err = bind_text(st, s, 1, serial);
	}
	if (!err) {
		err = row(st, s);
	}
	if (!err) {
		err = cert_row(s, out);
	}
	done(s);
	return err;
}

int store_cert_revoke(struct store *st, const char *serial, int reason,
                      int64_t when)
{
	sqlite3_stmt *s = NULL;
	struct store_cert c;
	int err;

	/* RFC 5280 §5.3.1: reasons 0..10, 7 unused */
	if (reason < 0 || reason > 10 || reason == 7 || when <= 0) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = store_cert_get(st, serial, &c);
	if (!err && c.revoked_at != 0) {
		err = -TL_ESTATE;
	}
	store_cert_clear(&c);
	if (!err) {
		err = prep(st, S_CERT_REVOKE, &s);
	}
	if (!err) {
		err = bind_text(st, s, 1, serial);
	}
	if (!err) {
		err = bind_i64(st, s, 2, when);
	}
	if (!err) {
		err = bind_i64(st, s, 3, reason);
	}
	if (!err) {
		err = run(st, s, true);
	}
	done(s);
	return tx_end(st, err);
}

int store_cert_list(struct store *st, const char *profile, store_cert_h h,
                    void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_cert c;
	int err = prep(st, S_CERT_LIST, &s);

	if (!err) {
		err = bind_text(st, s, 1, profile);
	}
	while (!err && (err = row(st, s)) == 0) {
		err = cert_row(s, &c);
		if (!err) {
			err = h(&c, arg);
		}
		store_cert_clear(&c);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}

/* ---- CDRs and audit ---- */

int store_cdr_add(struct store *st, const struct store_cdr *c)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!store_valid_text(c->call_id, sizeof(c->call_id)) || !*c->call_id ||
	    !store_valid_text(c->from_dn, sizeof(c->from_dn)) ||
	    !store_valid_text(c->to_dn, sizeof(c->to_dn)) ||
	    !store_valid_text(c->security, sizeof(c->security)) ||
	    !store_valid_text(c->cause, sizeof(c->cause))) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_CDR_ADD, &s);
	if (!err) {
		err = bind_text(st, s, 1, c->call_id);
	}
	if (!err) {
		err = bind_text(st, s, 2, c->from_dn);
	}
	if (!err) {
		err = bind_text(st, s, 3, c->to_dn);
	}
	if (!err) {
		err = bind_i64(st, s, 4, c->start);
	}
	if (!err) {
		err = bind_i64(st, s, 5, c->answer);
	}
	if (!err) {
		err = bind_i64(st, s, 6, c->end);
	}
	if (!err) {
		err = bind_text(st, s, 7, c->security);
	}
	if (!err) {
		err = bind_text(st, s, 8, c->cause);
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

int store_audit(struct store *st, const char *actor, const char *action,
                const char *detail)
{
	sqlite3_stmt *s = NULL;
	int err;

	if (!actor || !*actor || !store_valid_text(actor, 64) || !action ||
	    !*action || !store_valid_text(action, 64) ||
	    !store_valid_text(detail ? detail : "", 512)) {
		return -TL_EPARSE;
	}
	err = store_tx_begin(st);
	if (err) {
		return err;
	}
	err = prep(st, S_AUDIT_ADD, &s);
	if (!err) {
		err = bind_i64(st, s, 1, now());
	}
	if (!err) {
		err = bind_text(st, s, 2, actor);
	}
	if (!err) {
		err = bind_text(st, s, 3, action);
	}
	if (!err) {
		err = bind_text(st, s, 4, detail ? detail : "");
	}
	if (!err) {
		err = run(st, s, false);
	}
	done(s);
	return tx_end(st, err);
}

int store_audit_list(struct store *st, unsigned limit, store_audit_h h,
                     void *arg)
{
	sqlite3_stmt *s = NULL;
	struct store_audit_entry e;
	int err = prep(st, S_AUDIT_LIST, &s);

	if (!err) {
		err = bind_i64(st, s, 1, limit ? (int64_t)limit : -1);
	}
	while (!err && (err = row(st, s)) == 0) {
		memset(&e, 0, sizeof(e));
		e.id = sqlite3_column_int64(s, 0);
		e.at = sqlite3_column_int64(s, 1);
		col_text(s, 2, e.actor, sizeof(e.actor));
		col_text(s, 3, e.action, sizeof(e.action));
		col_text(s, 4, e.detail, sizeof(e.detail));
		err = h(&e, arg);
		if (err > 0) {
			err = 0;
			break;
		}
		if (err) {
			break;
		}
	}
	if (err == -TL_ENOTFOUND) {
		err = 0;
	}
	done(s);
	return err;
}
