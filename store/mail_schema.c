/* mail.db schema migrations: append only, never edit a released one.
 *
 * Folder counters, the index queue and the vanished-UID log are kept by triggers, so every
 * path that changes a message (insert, move, flag, expunge, purge) keeps them right without
 * remembering to. Only live messages (expunged_at = 0) count and are indexed. */
#include "mail_int.h"

const char *const mail_migrations[] = {
	/* 1: folders, messages, threads, index queue */
	"CREATE TABLE state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO state VALUES ('modseq', 1), ('uidvalidity', CAST(strftime('%s','now') AS INTEGER));"
	"CREATE TABLE folders ("
	"  id INTEGER PRIMARY KEY,"
	"  parent INTEGER NOT NULL DEFAULT 0,"
	"  name TEXT NOT NULL,"
	"  special INTEGER NOT NULL DEFAULT 0,"
	"  uidvalidity INTEGER NOT NULL,"
	"  uidnext INTEGER NOT NULL DEFAULT 1,"
	"  highestmodseq INTEGER NOT NULL DEFAULT 1,"
	"  total INTEGER NOT NULL DEFAULT 0,"
	"  unread INTEGER NOT NULL DEFAULT 0,"
	"  bytes INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL);"
	"CREATE UNIQUE INDEX folders_name ON folders(parent, name COLLATE NOCASE);"
	"CREATE UNIQUE INDEX folders_special ON folders(special) WHERE special != 0;"
	"CREATE TABLE messages ("
	"  id INTEGER PRIMARY KEY,"
	"  folder_id INTEGER NOT NULL,"
	"  uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL,"
	"  blob TEXT NOT NULL,"
	"  size INTEGER NOT NULL,"
	"  internal_date INTEGER NOT NULL,"
	"  date INTEGER NOT NULL DEFAULT 0,"
	"  flags INTEGER NOT NULL DEFAULT 0,"
	"  keywords TEXT NOT NULL DEFAULT '',"
	"  colour INTEGER NOT NULL DEFAULT 0,"
	"  pinned INTEGER NOT NULL DEFAULT 0,"
	"  note TEXT NOT NULL DEFAULT '',"
	"  snippet TEXT NOT NULL DEFAULT '',"
	"  thread_id INTEGER NOT NULL DEFAULT 0,"
	"  subject TEXT NOT NULL DEFAULT '',"
	"  subject_sort TEXT NOT NULL DEFAULT '',"
	"  from_name TEXT NOT NULL DEFAULT '',"
	"  from_addr TEXT NOT NULL DEFAULT '',"
	"  from_sort TEXT NOT NULL DEFAULT '',"
	"  to_list TEXT NOT NULL DEFAULT '',"
	"  cc_list TEXT NOT NULL DEFAULT '',"
	"  message_id TEXT NOT NULL DEFAULT '',"
	"  in_reply_to TEXT NOT NULL DEFAULT '',"
	"  refs TEXT NOT NULL DEFAULT '',"
	"  has_attachments INTEGER NOT NULL DEFAULT 0,"
	"  envelope TEXT NOT NULL DEFAULT '',"
	"  structure TEXT NOT NULL DEFAULT '',"
	"  header_len INTEGER NOT NULL DEFAULT 0,"
	"  expunged_at INTEGER NOT NULL DEFAULT 0,"
	"  trash_from INTEGER NOT NULL DEFAULT 0,"
	"  delivery_key TEXT UNIQUE);"
	"CREATE UNIQUE INDEX messages_uid ON messages(folder_id, uid);"
	/* list pages: keyset scans on partial indexes of live mail */
	"CREATE INDEX messages_date ON messages(folder_id, pinned, internal_date, id)"
	"  WHERE expunged_at = 0;"
	"CREATE INDEX messages_unread ON messages(folder_id, pinned, internal_date, id)"
	"  WHERE expunged_at = 0 AND (flags & 1) = 0;"
	"CREATE INDEX messages_flagged ON messages(folder_id, pinned, internal_date, id)"
	"  WHERE expunged_at = 0 AND (flags & 4) != 0;"
	"CREATE INDEX messages_colour ON messages(folder_id, colour, pinned, internal_date, id)"
	"  WHERE expunged_at = 0 AND colour != 0;"
	"CREATE INDEX messages_from ON messages(folder_id, from_sort, id) WHERE expunged_at = 0;"
	"CREATE INDEX messages_subject ON messages(folder_id, subject_sort, id) WHERE expunged_at = 0;"
	"CREATE INDEX messages_size ON messages(folder_id, size, id) WHERE expunged_at = 0;"
	"CREATE INDEX messages_thread ON messages(thread_id);"
	"CREATE INDEX messages_expunged ON messages(expunged_at) WHERE expunged_at != 0;"
	"CREATE INDEX messages_blob ON messages(blob);"
	"CREATE TABLE msgids (msgid TEXT PRIMARY KEY, thread_id INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE thread_subjects (subject TEXT PRIMARY KEY, thread_id INTEGER NOT NULL,"
	"  last_date INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE vanished (folder_id INTEGER NOT NULL, uid INTEGER NOT NULL,"
	"  modseq INTEGER NOT NULL, PRIMARY KEY (folder_id, uid)) WITHOUT ROWID;"
	"CREATE TABLE index_queue (seq INTEGER PRIMARY KEY, message_id INTEGER NOT NULL,"
	"  op INTEGER NOT NULL);"
	/* counters */
	"CREATE TRIGGER msg_ins AFTER INSERT ON messages WHEN NEW.expunged_at = 0 BEGIN"
	"  UPDATE folders SET total = total + 1, unread = unread + ((NEW.flags & 1) = 0),"
	"    bytes = bytes + NEW.size WHERE id = NEW.folder_id;"
	"  INSERT INTO index_queue (message_id, op) VALUES (NEW.id, 1);"
	"END;"
	"CREATE TRIGGER msg_del AFTER DELETE ON messages WHEN OLD.expunged_at = 0 BEGIN"
	"  UPDATE folders SET total = total - 1, unread = unread - ((OLD.flags & 1) = 0),"
	"    bytes = bytes - OLD.size WHERE id = OLD.folder_id;"
	"  INSERT OR REPLACE INTO vanished VALUES (OLD.folder_id, OLD.uid, OLD.modseq);"
	"  INSERT INTO index_queue (message_id, op) VALUES (OLD.id, 2);"
	"END;"
	"CREATE TRIGGER msg_count AFTER UPDATE OF folder_id, flags, expunged_at ON messages"
	"  WHEN OLD.folder_id != NEW.folder_id OR (OLD.flags & 1) != (NEW.flags & 1)"
	"    OR OLD.expunged_at != NEW.expunged_at BEGIN"
	"  UPDATE folders SET total = total - 1, unread = unread - ((OLD.flags & 1) = 0),"
	"    bytes = bytes - OLD.size WHERE id = OLD.folder_id AND OLD.expunged_at = 0;"
	"  UPDATE folders SET total = total + 1, unread = unread + ((NEW.flags & 1) = 0),"
	"    bytes = bytes + NEW.size WHERE id = NEW.folder_id AND NEW.expunged_at = 0;"
	"END;"
	/* a live message left its (folder, uid): IMAP clients learn it as vanished */
	"CREATE TRIGGER msg_vanish AFTER UPDATE OF folder_id, uid, expunged_at ON messages"
	"  WHEN OLD.expunged_at = 0 AND (OLD.folder_id != NEW.folder_id OR OLD.uid != NEW.uid"
	"    OR NEW.expunged_at != 0) BEGIN"
	"  INSERT OR REPLACE INTO vanished VALUES (OLD.folder_id, OLD.uid, NEW.modseq);"
	"END;"
	/* index work */
	"CREATE TRIGGER msg_idx_state AFTER UPDATE OF expunged_at ON messages"
	"  WHEN (OLD.expunged_at = 0) != (NEW.expunged_at = 0) BEGIN"
	"  INSERT INTO index_queue (message_id, op)"
	"    VALUES (NEW.id, CASE WHEN NEW.expunged_at = 0 THEN 1 ELSE 2 END);"
	"END;"
	"CREATE TRIGGER msg_idx_folder AFTER UPDATE OF folder_id ON messages"
	"  WHEN OLD.folder_id != NEW.folder_id AND NEW.expunged_at = 0 AND OLD.expunged_at = 0 BEGIN"
	"  INSERT INTO index_queue (message_id, op) VALUES (NEW.id, 3);"
	"END;"
	"CREATE TRIGGER msg_idx_note AFTER UPDATE OF note ON messages"
	"  WHEN OLD.note != NEW.note AND NEW.expunged_at = 0 BEGIN"
	"  INSERT INTO index_queue (message_id, op) VALUES (NEW.id, 1);"
	"END;",
	/* 2: oldest-first pages with pinned mail still on top need an index in that order */
	"CREATE INDEX messages_date_asc ON messages(folder_id, pinned DESC, internal_date, id)"
	"  WHERE expunged_at = 0;",
	/* 3: attachments uploaded for a message being written */
	"CREATE TABLE uploads (id TEXT PRIMARY KEY, blob TEXT NOT NULL, name TEXT NOT NULL,"
	"  type TEXT NOT NULL, size INTEGER NOT NULL, created INTEGER NOT NULL) WITHOUT ROWID;",
	/* 4: the web app's state (open tabs, unsent compose content, selection), per key */
	"CREATE TABLE ui_state (key TEXT PRIMARY KEY, value TEXT NOT NULL,"
	"  version INTEGER NOT NULL DEFAULT 1, updated INTEGER NOT NULL) WITHOUT ROWID;",
	/* 5: CONDSTORE/QRESYNC asks "what changed in this folder since MODSEQ n"; and a live
	 * row deleted outright must vanish at a new MODSEQ, not its last one, or a client
	 * that synced after that change never hears of it */
	"CREATE INDEX messages_modseq ON messages(folder_id, modseq);"
	"DROP TRIGGER msg_del;"
	"CREATE TRIGGER msg_del AFTER DELETE ON messages WHEN OLD.expunged_at = 0 BEGIN"
	"  UPDATE folders SET total = total - 1, unread = unread - ((OLD.flags & 1) = 0),"
	"    bytes = bytes - OLD.size WHERE id = OLD.folder_id;"
	"  UPDATE state SET value = value + 1 WHERE key = 'modseq';"
	"  INSERT OR REPLACE INTO vanished VALUES (OLD.folder_id, OLD.uid,"
	"    (SELECT value FROM state WHERE key = 'modseq'));"
	"  UPDATE folders SET highestmodseq = max(highestmodseq,"
	"    (SELECT value FROM state WHERE key = 'modseq')) WHERE id = OLD.folder_id;"
	"  INSERT INTO index_queue (message_id, op) VALUES (OLD.id, 2);"
	"END;",
	/* 6: an IMAP SELECT lists a folder's live UIDs and finds its first unseen one: from this
	 * index alone, without a lookup of each row (10,000 of them took most of a SELECT);
	 * expunged_at is a column, not a WHERE: SQLite does not take a partial index as covering */
	"CREATE INDEX messages_live_uid ON messages(folder_id, expunged_at, uid, flags);",
};

const int mail_nmigrations = (int)(sizeof(mail_migrations) / sizeof(mail_migrations[0]));
