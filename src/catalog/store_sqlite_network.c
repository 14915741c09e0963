/*
 * store_sqlite_network.c: the SQLite rows behind OAI-PMH and IIIF Change Discovery
 * (store.h dq_store_network_ops): relic datestamps, tombstones of deleted relics, and the
 * relic part of the audit trail in order. No policy: which records a harvester may see, and
 * what an audit action means to an aggregator, is decided in network.c.
 *
 * Tombstones are kept by triggers on the relics table, so that every way a relic goes (the
 * API, an import, a future tool) leaves one, in the same transaction, and a relic re-created
 * under the same id takes its tombstone away. Migration 14 also fills them from the audit
 * trail for relics deleted before it ran (their dynasty and type are not known any more).
 */
#include "store_sqlite_internal.h"

#include <string.h>

/* ---------------------------------------------------------------- schema (migration 14) */

const char dq_sqlite_network_schema[] =
    "CREATE TABLE relic_tombstones ("
    " id TEXT PRIMARY KEY NOT NULL, deleted_at TEXT NOT NULL,"
    " dynasty TEXT, object_type TEXT,"
    " restricted INTEGER NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1))) WITHOUT ROWID;"
    "CREATE INDEX relic_tombstones_at ON relic_tombstones(deleted_at);"
    "CREATE TRIGGER relic_tombstone_add AFTER DELETE ON relics BEGIN"
    " INSERT OR REPLACE INTO relic_tombstones (id, deleted_at, dynasty, object_type, restricted)"
    " VALUES (old.id, " DQ_SQ_NOW ", old.dynasty, old.object_type, old.restricted); END;"
    "CREATE TRIGGER relic_tombstone_drop AFTER INSERT ON relics BEGIN"
    " DELETE FROM relic_tombstones WHERE id = new.id; END;"
    "INSERT OR IGNORE INTO relic_tombstones (id, deleted_at)"
    " SELECT object, max(at) FROM audit WHERE action = 'relic.delete'"
    " AND object NOT IN (SELECT id FROM relics) GROUP BY object;"
    "CREATE INDEX relics_updated ON relics(updated_at);"
    /* The change feed reads relic rows only: a partial index keeps its paging and count off
     * the logins and image rows around them. */
    "CREATE INDEX audit_relic ON audit(seq) WHERE action GLOB 'relic.*';";

/* ---------------------------------------------------------------- withdrawals (migration 15) */

/* A relic that was public and is restricted now (an edit, an import, or a re-creation under
 * the id of a public relic that was deleted) must not simply vanish for anonymous
 * harvesters, or they keep their public copy for ever: they are told it was deleted, at the
 * moment it left public view. Triggers keep the rows, so every way of writing a relic is
 * covered in its own transaction; the row keeps the dynasty and type the record had while
 * public (its sets then), not what it became since. A relic that was never public gets no
 * row, so its id never reaches an anonymous harvester. Made public again, the row goes and
 * the live record (with its newer datestamp) is listed once more. Rows outlive a delete of
 * the restricted relic: the record stays deleted for anonymous harvesters at the same time. */
/* audit_seq: the audit trail's last seq before the withdrawing write (whose own audit row is
 * appended after the relic row is saved), so the change feed can tell which of the relic's
 * changes were made while it was public, without relying on second-precision times. */
#define LAST_SEQ "(SELECT coalesce(max(seq), 0) FROM audit)"
const char dq_sqlite_withdrawal_schema[] =
    "CREATE TABLE relic_withdrawals ("
    " id TEXT PRIMARY KEY NOT NULL, withdrawn_at TEXT NOT NULL,"
    " audit_seq INTEGER NOT NULL, dynasty TEXT, object_type TEXT) WITHOUT ROWID;"
    "CREATE INDEX relic_withdrawals_at ON relic_withdrawals(withdrawn_at);"
    "CREATE TRIGGER relic_withdraw AFTER UPDATE OF restricted ON relics"
    " WHEN old.restricted = 0 AND new.restricted = 1 BEGIN"
    " INSERT OR REPLACE INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty,"
    " object_type) VALUES (new.id, " DQ_SQ_NOW ", " LAST_SEQ ", old.dynasty, old.object_type);"
    " END;"
    "CREATE TRIGGER relic_republish AFTER UPDATE OF restricted ON relics"
    " WHEN new.restricted = 0 BEGIN DELETE FROM relic_withdrawals WHERE id = new.id; END;"
    /* BEFORE INSERT: the public tombstone is still there (relic_tombstone_drop runs after). */
    "CREATE TRIGGER relic_withdraw_recreated BEFORE INSERT ON relics WHEN new.restricted = 1"
    " BEGIN INSERT OR REPLACE INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty,"
    " object_type) SELECT id, " DQ_SQ_NOW ", " LAST_SEQ ", dynasty, object_type"
    " FROM relic_tombstones"
    " WHERE id = new.id AND restricted = 0; END;"
    "CREATE TRIGGER relic_republish_recreated AFTER INSERT ON relics WHEN new.restricted = 0"
    " BEGIN DELETE FROM relic_withdrawals WHERE id = new.id; END;";

/* ---------------------------------------------------------------- back-fill (migration 19) */

/* Relics restricted before migration 15 existed have no withdrawal row, so anonymous
 * harvesters kept them as live records for ever. The audit trail says which were public and
 * then restricted: every relic write records the fields it changed with their old and new
 * values (relic_doc.c relic_diff_detail), "restricted" among them. A relic gets a row when
 * the last change of "restricted" in its trail went from public (false, or absent) to
 * restricted and it is not public now (restricted, or deleted while restricted: its tombstone
 * says so), dated at that change, with audit_seq the trail's seq before it, as the trigger
 * would have written. Its dynasty and type are those it had just before that change: the old
 * value of the first later change of each (the restricting write's own included), else the
 * current one. A relic created restricted, never public, gets none; nor does one whose
 * trail was lost (imported catalogs). Rows the triggers made are kept (OR IGNORE).
 * A temporary table of the relic audit rows that change one of these three fields, indexed
 * by relic, keeps the correlated lookups off a scan of the whole trail per relic. */
const char dq_sqlite_withdrawal_backfill[] =
    "CREATE TEMP TABLE m19 AS SELECT seq, object, at,"
    " json_type(detail, '$.changed.restricted') IS NOT NULL AS r,"
    " coalesce(json_extract(detail, '$.changed.restricted.old'), 0) AS rold,"
    " coalesce(json_extract(detail, '$.changed.restricted.new'), 0) AS rnew,"
    " json_type(detail, '$.changed.dynasty') IS NOT NULL AS d,"
    " json_extract(detail, '$.changed.dynasty.old') AS dold,"
    " json_type(detail, '$.changed.object_type') IS NOT NULL AS t,"
    " json_extract(detail, '$.changed.object_type.old') AS told"
    " FROM audit WHERE action GLOB 'relic.*' AND json_type(detail, '$.changed') = 'object'"
    " AND (json_type(detail, '$.changed.restricted') IS NOT NULL"
    " OR json_type(detail, '$.changed.dynasty') IS NOT NULL"
    " OR json_type(detail, '$.changed.object_type') IS NOT NULL);"
    "CREATE INDEX temp.m19_object ON m19(object, seq);"
    "INSERT OR IGNORE INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty, object_type)"
    " SELECT e.object, e.at, e.seq - 1,"
    " CASE WHEN EXISTS (SELECT 1 FROM m19 x WHERE x.object = e.object AND x.seq >= e.seq AND x.d)"
    "  THEN (SELECT x.dold FROM m19 x WHERE x.object = e.object AND x.seq >= e.seq AND x.d"
    "  ORDER BY x.seq LIMIT 1) ELSE c.dynasty END,"
    " CASE WHEN EXISTS (SELECT 1 FROM m19 x WHERE x.object = e.object AND x.seq >= e.seq AND x.t)"
    "  THEN (SELECT x.told FROM m19 x WHERE x.object = e.object AND x.seq >= e.seq AND x.t"
    "  ORDER BY x.seq LIMIT 1) ELSE c.object_type END"
    " FROM m19 e JOIN (SELECT id, dynasty, object_type FROM relics WHERE restricted = 1"
    "  UNION ALL SELECT id, dynasty, object_type FROM relic_tombstones"
    "  WHERE restricted = 1 AND id NOT IN (SELECT id FROM relics)) c ON c.id = e.object"
    " WHERE e.r AND e.rold = 0 AND e.rnew = 1"
    " AND e.seq = (SELECT max(x.seq) FROM m19 x WHERE x.object = e.object AND x.r);"
    "DROP TABLE temp.m19;";

/* ---------------------------------------------------------------- stamps */

/* One list over live relics, tombstones and (for those who may not see restricted relics)
 * withdrawals: ?1 from, ?2 until, ?3 dynasty ("" any present), ?4 object type (likewise),
 * ?5 include restricted, ?6 after id, ?7 limit, ?8 with docs, ?9 one id. A withdrawal is
 * listed only while the relic is not public (the triggers keep that so; the NOT EXISTS
 * makes sure no id is listed twice). */
#define STAMP_FILTER(ds)                                                                           \
    " WHERE (?1 IS NULL OR " ds " >= ?1) AND (?2 IS NULL OR " ds " <= ?2)"                         \
    " AND (?3 IS NULL OR (?3 = '' AND dynasty IS NOT NULL) OR dynasty = ?3)"                       \
    " AND (?4 IS NULL OR (?4 = '' AND object_type IS NOT NULL) OR object_type = ?4)"               \
    " AND (?6 IS NULL OR id > ?6) AND (?9 IS NULL OR id = ?9)"
#define STAMP_WHERE(ds) STAMP_FILTER(ds) " AND (?5 OR restricted = 0)"

static const char stamps_sql[] =
    "SELECT id, updated_at, dynasty, object_type, 0, restricted,"
    " CASE WHEN ?8 THEN doc END, has_images, 0 FROM relics" STAMP_WHERE("updated_at")
    " UNION ALL SELECT id, deleted_at, dynasty, object_type, 1, restricted, NULL, 0, 0"
    " FROM relic_tombstones" STAMP_WHERE("deleted_at")
    " UNION ALL SELECT id, withdrawn_at, dynasty, object_type, 1, 1, NULL, 0, audit_seq + 1"
    " FROM relic_withdrawals w" STAMP_FILTER("withdrawn_at") " AND NOT ?5"
    " AND NOT EXISTS (SELECT 1 FROM relics r WHERE r.id = w.id AND r.restricted = 0)"
    " AND NOT EXISTS (SELECT 1 FROM relic_tombstones t WHERE t.id = w.id AND t.restricted = 0)"
    " ORDER BY 1 LIMIT ?7";

static int net_stamps(dq_store_txn_t *t, const dq_store_stamp_query_t *q, dq_store_stamp_cb cb,
                      void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t, stamps_sql, err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, q->from);
    dq_sq_bind_text(st, 2, q->until);
    dq_sq_bind_text(st, 3, q->dynasty);
    dq_sq_bind_text(st, 4, q->object_type);
    sqlite3_bind_int(st, 5, q->include_restricted ? 1 : 0);
    dq_sq_bind_text(st, 6, q->after);
    sqlite3_bind_int(st, 7, q->limit);
    sqlite3_bind_int(st, 8, q->with_docs ? 1 : 0);
    dq_sq_bind_text(st, 9, q->id);
    int r;
    while ((r = dq_sq_row(t, st, "stamps", err)) == 0) {
        dq_store_stamp_row_t row = {
            .id = (const char *)sqlite3_column_text(st, 0),
            .datestamp = (const char *)sqlite3_column_text(st, 1),
            .dynasty = (const char *)sqlite3_column_text(st, 2),
            .object_type = (const char *)sqlite3_column_text(st, 3),
            .deleted = sqlite3_column_int(st, 4),
            .restricted = sqlite3_column_int(st, 5),
            .doc = (const char *)sqlite3_column_text(st, 6),
            .doc_len = (size_t)sqlite3_column_bytes(st, 6),
            .has_images = sqlite3_column_int(st, 7),
            .withdrawn = sqlite3_column_int64(st, 8),
        };
        if (cb(ud, &row) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int net_earliest(dq_store_txn_t *t, char *out, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT min(d) FROM (SELECT min(updated_at) AS d FROM relics"
                                  " UNION ALL SELECT min(deleted_at) FROM relic_tombstones"
                                  " UNION ALL SELECT min(withdrawn_at) FROM relic_withdrawals)",
                                  err);
    if (!st)
        return -1;
    int r = dq_sq_row(t, st, "earliest", err);
    if (r == 0)
        dq_sq_copy_col(out, 32, st, 0);
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- the relic change feed */

static int net_changes(dq_store_txn_t *t, int64_t offset, int limit, dq_store_audit_cb cb,
                       void *ud, dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT seq, at, who, action, object, detail FROM audit"
                                  " WHERE action GLOB 'relic.*' ORDER BY seq LIMIT ?1 OFFSET ?2",
                                  err);
    if (!st)
        return -1;
    sqlite3_bind_int(st, 1, limit);
    sqlite3_bind_int64(st, 2, offset);
    int r;
    while ((r = dq_sq_row(t, st, "changes", err)) == 0) {
        dq_store_audit_row_t row = {
            .seq = sqlite3_column_int64(st, 0),
            .at = (const char *)sqlite3_column_text(st, 1),
            .who = (const char *)sqlite3_column_text(st, 2),
            .action = (const char *)sqlite3_column_text(st, 3),
            .object = (const char *)sqlite3_column_text(st, 4),
            .detail = (const char *)sqlite3_column_text(st, 5),
        };
        if (cb(ud, &row) != 0)
            break;
    }
    sqlite3_reset(st);
    return r < 0 ? -1 : 0;
}

static int net_change_count(dq_store_txn_t *t, int64_t *n, dq_err_t *err)
{
    sqlite3_stmt *st =
        dq_sq_stmt(t, "SELECT count(*) FROM audit WHERE action GLOB 'relic.*'", err);
    if (!st)
        return -1;
    int r = dq_sq_row(t, st, "change count", err);
    if (r == 0)
        *n = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == 0 ? 0 : -1;
}

/* The seq of the first relic.* audit row of id with seq > after, into *seq (0: none). */
static int net_first_change(dq_store_txn_t *t, const char *id, int64_t after, int64_t *seq,
                            dq_err_t *err)
{
    sqlite3_stmt *st = dq_sq_stmt(t,
                                  "SELECT coalesce(min(seq), 0) FROM audit WHERE object = ?1"
                                  " AND seq > ?2 AND action GLOB 'relic.*'",
                                  err);
    if (!st)
        return -1;
    dq_sq_bind_text(st, 1, id);
    sqlite3_bind_int64(st, 2, after);
    int r = dq_sq_row(t, st, "first change", err);
    if (r == 0)
        *seq = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return r == 0 ? 0 : -1;
}

const dq_store_network_ops dq_sqlite_network_ops = {
    .stamps = net_stamps,
    .earliest = net_earliest,
    .relic_changes = net_changes,
    .relic_change_count = net_change_count,
    .first_change = net_first_change,
};
