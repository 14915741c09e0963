/*
 * store_pg_kinds.c: the catalog kinds later issues added, in PostgreSQL, each the twin of its
 * SQLite file and numbered as its SQLite migration: spectral captures and their layers
 * (migration 9, store_sqlite_spectral.c), condition records (10, store_sqlite_condition.c),
 * style embeddings and models (11, store_sqlite_style.c), scene layer sets (12,
 * store_sqlite_scene.c), and the OAI-PMH / Change Discovery reads with relic tombstones kept
 * by a trigger (14, store_sqlite_network.c). Row primitives only; the policy of each lives in
 * its neutral file (spectral.c, condition.c, style.c, scene.c, network.c).
 */
#include "catalog.h"
#include "store_pg_internal.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- schemas */

const char dq_pg_spectral_schema[] =
    "CREATE TABLE spectral_captures ("
    " id text COLLATE \"C\" PRIMARY KEY,"
    " relic text COLLATE \"C\" NOT NULL REFERENCES relics(id) ON DELETE CASCADE"
    "   ON UPDATE CASCADE,"
    " width integer NOT NULL CHECK (width >= 1), height integer NOT NULL CHECK (height >= 1),"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX spectral_captures_relic ON spectral_captures(relic, created_at);"
    "CREATE TABLE spectral_layers ("
    " capture text COLLATE \"C\" NOT NULL REFERENCES spectral_captures(id) ON DELETE CASCADE,"
    " name text COLLATE \"C\" NOT NULL, kind text NOT NULL,"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " created_at text NOT NULL,"
    " PRIMARY KEY (capture, name));";

const char dq_pg_condition_schema[] =
    "INSERT INTO dq_counters VALUES ('condition_records', 0);"
    "CREATE TABLE condition_records ("
    " id bigint PRIMARY KEY,"
    " relic_id text COLLATE \"C\" NOT NULL CHECK (length(relic_id) BETWEEN 1 AND 63),"
    " date text COLLATE \"C\" NOT NULL CHECK (length(date) = 10),"
    " published integer NOT NULL CHECK (published IN (0, 1)),"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " author text NOT NULL,"
    " version bigint NOT NULL CHECK (version >= 1),"
    " created_at text NOT NULL, updated_at text NOT NULL);"
    "CREATE INDEX condition_records_relic ON condition_records(relic_id, date, id);";

const char dq_pg_style_schema[] =
    "CREATE TABLE style_embeddings ("
    " image_id text COLLATE \"C\" PRIMARY KEY,"
    " pyramid_sha256 text NOT NULL,"
    " model text NOT NULL,"
    " dim integer NOT NULL CHECK (dim > 0),"
    " vec bytea NOT NULL CHECK (length(vec) = 4 * dim),"
    " palette text NOT NULL CHECK ((palette::json) IS NOT NULL),"
    " named text NOT NULL CHECK ((named::json) IS NOT NULL),"
    " updated_at text NOT NULL);"
    "CREATE TABLE style_models ("
    " label text COLLATE \"C\" PRIMARY KEY,"
    " doc text NOT NULL CHECK ((doc::json) IS NOT NULL),"
    " updated_at text NOT NULL);";

const char dq_pg_scene_schema[] = "CREATE TABLE scene_sets ("
                                  " image_id text COLLATE \"C\" NOT NULL,"
                                  " version bigint NOT NULL CHECK (version > 0),"
                                  " source text NOT NULL,"
                                  " doc text NOT NULL,"
                                  " author text NOT NULL,"
                                  " created_at text NOT NULL,"
                                  " PRIMARY KEY (image_id, version));";

/* Tombstones by triggers, as on SQLite: every way a relic goes leaves one in its transaction,
 * and a relic re-created under the same id takes it away. */
const char dq_pg_network_schema[] =
    "CREATE TABLE relic_tombstones ("
    " id text COLLATE \"C\" PRIMARY KEY, deleted_at text COLLATE \"C\" NOT NULL,"
    " dynasty text COLLATE \"C\", object_type text COLLATE \"C\","
    " restricted integer NOT NULL DEFAULT 0 CHECK (restricted IN (0, 1)));"
    "CREATE INDEX relic_tombstones_at ON relic_tombstones(deleted_at);"
    "CREATE FUNCTION relic_tombstone_add() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " INSERT INTO relic_tombstones (id, deleted_at, dynasty, object_type, restricted)"
    " VALUES (OLD.id, " DQ_PG_NOW ", OLD.dynasty, OLD.object_type, OLD.restricted)"
    " ON CONFLICT (id) DO UPDATE SET deleted_at = excluded.deleted_at,"
    " dynasty = excluded.dynasty, object_type = excluded.object_type,"
    " restricted = excluded.restricted; RETURN NULL; END $$;"
    "CREATE FUNCTION relic_tombstone_drop() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " DELETE FROM relic_tombstones WHERE id = NEW.id; RETURN NULL; END $$;"
    "CREATE TRIGGER relic_tombstone_add AFTER DELETE ON relics FOR EACH ROW"
    " EXECUTE FUNCTION relic_tombstone_add();"
    "CREATE TRIGGER relic_tombstone_drop AFTER INSERT ON relics FOR EACH ROW"
    " EXECUTE FUNCTION relic_tombstone_drop();"
    "INSERT INTO relic_tombstones (id, deleted_at)"
    " SELECT object, max(at) FROM audit WHERE action = 'relic.delete'"
    " AND object NOT IN (SELECT id FROM relics) GROUP BY object ON CONFLICT DO NOTHING;"
    "CREATE INDEX relics_updated ON relics(updated_at);"
    "CREATE INDEX audit_relic ON audit(seq) WHERE action LIKE 'relic.%';";

/* Withdrawals (migration 15), as on SQLite (store_sqlite_network.c says why): a relic that
 * was public and became restricted is listed as deleted to anonymous harvesters. */
/* Audit rows of this transaction are flushed before it commits (and writers hold the
 * writers' lock), so max(seq) here is the last change before the withdrawing write. */
#define PG_LAST_SEQ "(SELECT coalesce(max(seq), 0) FROM audit)"
const char dq_pg_withdrawal_schema[] =
    "CREATE TABLE relic_withdrawals ("
    " id text COLLATE \"C\" PRIMARY KEY, withdrawn_at text COLLATE \"C\" NOT NULL,"
    " audit_seq bigint NOT NULL, dynasty text COLLATE \"C\", object_type text COLLATE \"C\");"
    "CREATE INDEX relic_withdrawals_at ON relic_withdrawals(withdrawn_at);"
    "CREATE FUNCTION relic_withdrawal_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    " IF TG_OP = 'UPDATE' AND OLD.restricted = 0 AND NEW.restricted = 1 THEN"
    "  INSERT INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty, object_type)"
    "  VALUES (NEW.id, " DQ_PG_NOW ", " PG_LAST_SEQ ", OLD.dynasty, OLD.object_type)"
    "  ON CONFLICT (id) DO UPDATE SET withdrawn_at = excluded.withdrawn_at,"
    "  audit_seq = excluded.audit_seq,"
    "  dynasty = excluded.dynasty, object_type = excluded.object_type;"
    " ELSIF TG_OP = 'INSERT' AND NEW.restricted = 1 THEN"
    /* BEFORE INSERT: the public tombstone is still there (relic_tombstone_drop runs after). */
    "  INSERT INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty, object_type)"
    "  SELECT id, " DQ_PG_NOW ", " PG_LAST_SEQ ", dynasty, object_type FROM relic_tombstones"
    "  WHERE id = NEW.id AND restricted = 0"
    "  ON CONFLICT (id) DO UPDATE SET withdrawn_at = excluded.withdrawn_at,"
    "  audit_seq = excluded.audit_seq,"
    "  dynasty = excluded.dynasty, object_type = excluded.object_type;"
    " ELSIF NEW.restricted = 0 THEN"
    "  DELETE FROM relic_withdrawals WHERE id = NEW.id;"
    " END IF; RETURN NEW; END $$;"
    "CREATE TRIGGER relic_withdrawal_keep BEFORE INSERT OR UPDATE OF restricted ON relics"
    " FOR EACH ROW EXECUTE FUNCTION relic_withdrawal_keep();";

/* Migration 19: withdrawal rows for relics restricted before migration 15, from the audit
 * trail, exactly as store_sqlite_network.c's dq_sqlite_withdrawal_backfill says (the last
 * change of "restricted" went from public to restricted, not public now; dated at it; the
 * dynasty and type just before it). `ch` holds the relic audit rows that changed one of the
 * three fields; DISTINCT ON picks each relic's last change of "restricted"; the lateral joins
 * find the first change of dynasty and type from it on (audit_object indexes them by relic). */
const char dq_pg_withdrawal_backfill[] =
    "WITH ch AS (SELECT seq, object, at, c FROM (SELECT seq, object, at,"
    "  detail::json -> 'changed' AS c FROM audit WHERE action LIKE 'relic.%') a"
    "  WHERE json_typeof(c) = 'object' AND (c -> 'restricted' IS NOT NULL"
    "  OR c -> 'dynasty' IS NOT NULL OR c -> 'object_type' IS NOT NULL)),"
    " last_r AS (SELECT DISTINCT ON (object) object, seq, at,"
    "  coalesce(c #>> '{restricted,old}', 'false') AS rold,"
    "  coalesce(c #>> '{restricted,new}', 'false') AS rnew"
    "  FROM ch WHERE c -> 'restricted' IS NOT NULL ORDER BY object, seq DESC),"
    " cur AS (SELECT id, dynasty, object_type FROM relics WHERE restricted = 1"
    "  UNION ALL SELECT t.id, t.dynasty, t.object_type FROM relic_tombstones t"
    "  WHERE t.restricted = 1 AND NOT EXISTS (SELECT 1 FROM relics r WHERE r.id = t.id))"
    " INSERT INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty, object_type)"
    " SELECT e.object, e.at, e.seq - 1,"
    " CASE WHEN d.seq IS NULL THEN cur.dynasty ELSE d.c #>> '{dynasty,old}' END,"
    " CASE WHEN t.seq IS NULL THEN cur.object_type ELSE t.c #>> '{object_type,old}' END"
    " FROM last_r e JOIN cur ON cur.id = e.object"
    " LEFT JOIN LATERAL (SELECT seq, c FROM ch WHERE ch.object = e.object AND ch.seq >= e.seq"
    "  AND ch.c -> 'dynasty' IS NOT NULL ORDER BY seq LIMIT 1) d ON true"
    " LEFT JOIN LATERAL (SELECT seq, c FROM ch WHERE ch.object = e.object AND ch.seq >= e.seq"
    "  AND ch.c -> 'object_type' IS NOT NULL ORDER BY seq LIMIT 1) t ON true"
    " WHERE e.rold = 'false' AND e.rnew = 'true'"
    " ON CONFLICT (id) DO NOTHING;";

/* Migration 26 (issue 15, bulk import): what a new relic costs the server beyond its rows and
 * its search index, cut by design (profile of a 50,000-relic import: foreign-key checks 9 %
 * of the server's CPU, the two row triggers 8 %, unused btrees ~6 %):
 *  - the children of relics (subjects, creators, image links, relic_fts) lose their foreign
 *    keys: each child row ran a lookup of its parent that locked the parent row (SPI, per
 *    row). Only store_pg_relic.c writes these tables, always with their parent in the same
 *    transaction under the writers' lock, and relic_remove deletes them in the statement that
 *    deletes the relic (what ON DELETE CASCADE did). Tables that other kinds keep (annotations,
 *    tours, captures) keep theirs: they are not on the import's path.
 *  - the tombstone and withdrawal upkeep on insert runs once per statement over the inserted
 *    rows (a transition table) instead of two PL/pgSQL calls per row. Same outcome: the row
 *    triggers' BEFORE half read the tombstones before any AFTER half dropped one, as here;
 *    ids are unique within a statement. Updates keep the row trigger (they are one by one).
 *  - btrees no statement reads: the filter and sort columns (searches filter and sort in
 *    danqing's in-memory index; OAI-PMH walks by updated_at and id) and creators by name (the
 *    dictionary reads relic_names). */
const char dq_pg_bulk_schema[] =
    "DO $$ DECLARE c record; BEGIN"
    " FOR c IN SELECT conrelid::regclass AS t, conname FROM pg_constraint"
    "  WHERE contype = 'f' AND confrelid = 'relics'::regclass AND conrelid IN"
    "  ('relic_subjects'::regclass, 'relic_creators'::regclass, 'relic_images'::regclass,"
    "   'relic_fts'::regclass) LOOP"
    "  EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.t, c.conname);"
    " END LOOP; END $$;"
    "DROP INDEX relics_dynasty, relics_type, relics_medium, relics_years, relics_date,"
    " relics_date_desc, relic_creators_name, relic_creators_name_en;"
    "DROP TRIGGER relic_tombstone_drop ON relics;"
    "DROP TRIGGER relic_withdrawal_keep ON relics;"
    "CREATE TRIGGER relic_withdrawal_keep BEFORE UPDATE OF restricted ON relics"
    " FOR EACH ROW EXECUTE FUNCTION relic_withdrawal_keep();"
    "CREATE FUNCTION relics_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
    /* a restricted relic re-created over a public tombstone: withdrawn (as the INSERT branch
     * of relic_withdrawal_keep) */
    " INSERT INTO relic_withdrawals (id, withdrawn_at, audit_seq, dynasty, object_type)"
    "  SELECT t.id, " DQ_PG_NOW ", " PG_LAST_SEQ ", t.dynasty, t.object_type"
    "  FROM relic_tombstones t JOIN new_relics n ON n.id = t.id"
    "  WHERE n.restricted = 1 AND t.restricted = 0"
    "  ON CONFLICT (id) DO UPDATE SET withdrawn_at = excluded.withdrawn_at,"
    "  audit_seq = excluded.audit_seq,"
    "  dynasty = excluded.dynasty, object_type = excluded.object_type;"
    " DELETE FROM relic_withdrawals w USING new_relics n WHERE w.id = n.id AND n.restricted = 0;"
    /* as relic_tombstone_drop */
    " DELETE FROM relic_tombstones t USING new_relics n WHERE t.id = n.id;"
    " RETURN NULL; END $$;"
    "CREATE TRIGGER relics_inserted AFTER INSERT ON relics REFERENCING NEW TABLE AS new_relics"
    " FOR EACH STATEMENT EXECUTE FUNCTION relics_inserted();";

/* ---------------------------------------------------------------- spectral captures */

#define CAP_COLS "id, relic, width, height, doc, created_at, updated_at"

typedef struct {
    dq_spectral_cb cb;
    void *ud;
    int n;
} cap_walk_t;

static int cap_row(void *ud, PGresult *r)
{
    cap_walk_t *w = ud;
    dq_spectral_row_t row;
    memset(&row, 0, sizeof(row));
    dq_pg_copy_col(row.id, sizeof(row.id), r, 0, 0);
    dq_pg_copy_col(row.relic_id, sizeof(row.relic_id), r, 0, 1);
    row.width = (int)dq_pg_col_int(r, 0, 2);
    row.height = (int)dq_pg_col_int(r, 0, 3);
    row.doc = dq_pg_col(r, 0, 4);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 5);
    dq_pg_copy_col(row.modified, sizeof(row.modified), r, 0, 6);
    w->n++;
    return w->cb(w->ud, &row);
}

static int cap_remove(dq_store_txn_t *t, const char *id, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, id);
    /* the layers go by ON DELETE CASCADE */
    if (dq_pg_run(t, "DELETE FROM spectral_captures WHERE id = $1", &p, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int cap_put(dq_store_txn_t *t, const dq_spectral_row_t *row, int replace, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t one;
    if (replace && cap_remove(t, row->id, err) < 0)
        return -1;
    dq_pg_p_text(&p, row->id);
    int e = dq_pg_int(t, "SELECT 1 FROM spectral_captures WHERE id = $1", &p, &one, err);
    if (e < 0)
        return -1;
    if (e == 0) /* checked first: a failed INSERT would abort the whole transaction */
        return dq_err_set(err, DQ_EEXIST, 409, "catalog: spectral capture '%s' exists", row->id);
    p = (pg_params_t){0};
    dq_pg_p_text(&p, row->id);
    dq_pg_p_text(&p, row->relic_id);
    dq_pg_p_int(&p, row->width);
    dq_pg_p_int(&p, row->height);
    dq_pg_p_text(&p, row->doc);
    return dq_pg_run(t,
                     "INSERT INTO spectral_captures (" CAP_COLS ") VALUES ($1, $2, $3, $4, $5, "
                     DQ_PG_NOW ", " DQ_PG_NOW ")",
                     &p, NULL, err);
}

static int cap_get(dq_store_txn_t *t, const char *id, dq_spectral_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    cap_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, id);
    if (dq_pg_walk(t, "SELECT " CAP_COLS " FROM spectral_captures WHERE id = $1", &p, cap_row, &w,
                   err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int cap_list(dq_store_txn_t *t, const char *relic_id, dq_spectral_cb cb, void *ud,
                    dq_err_t *err)
{
    pg_params_t p = {0};
    cap_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, relic_id);
    return dq_pg_walk(t,
                      "SELECT " CAP_COLS " FROM spectral_captures WHERE $1::text IS NULL OR"
                      " relic = $1 ORDER BY created_at, id",
                      &p, cap_row, &w, err);
}

static int layer_put(dq_store_txn_t *t, const dq_spectral_layer_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->capture_id);
    dq_pg_p_text(&p, row->name);
    dq_pg_p_text(&p, row->kind);
    dq_pg_p_text(&p, row->doc);
    return dq_pg_run(t,
                     "INSERT INTO spectral_layers (capture, name, kind, doc, created_at)"
                     " VALUES ($1, $2, $3, $4, " DQ_PG_NOW ") ON CONFLICT (capture, name) DO"
                     " UPDATE SET kind = excluded.kind, doc = excluded.doc,"
                     " created_at = excluded.created_at",
                     &p, NULL, err);
}

typedef struct {
    dq_spectral_layer_cb cb;
    void *ud;
} layer_walk_t;

static int layer_row(void *ud, PGresult *r)
{
    layer_walk_t *w = ud;
    dq_spectral_layer_row_t row;
    memset(&row, 0, sizeof(row));
    dq_pg_copy_col(row.capture_id, sizeof(row.capture_id), r, 0, 0);
    dq_pg_copy_col(row.name, sizeof(row.name), r, 0, 1);
    dq_pg_copy_col(row.kind, sizeof(row.kind), r, 0, 2);
    row.doc = dq_pg_col(r, 0, 3);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 4);
    return w->cb(w->ud, &row);
}

static int layer_list(dq_store_txn_t *t, const char *capture_id, dq_spectral_layer_cb cb,
                      void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    layer_walk_t w = {cb, ud};
    dq_pg_p_text(&p, capture_id);
    return dq_pg_walk(t,
                      "SELECT capture, name, kind, doc, created_at FROM spectral_layers"
                      " WHERE capture = $1 ORDER BY name",
                      &p, layer_row, &w, err);
}

const dq_store_spectral_ops dq_pg_spectral_ops = {
    .put = cap_put,
    .get = cap_get,
    .list = cap_list,
    .remove = cap_remove,
    .put_layer = layer_put,
    .layers = layer_list,
};

/* ---------------------------------------------------------------- condition records */

#define COND_COLS "id, relic_id, date, published, doc, author, version, created_at, updated_at"

typedef struct {
    dq_condition_cb cb;
    void *ud;
    int n;
} cond_walk_t;

static int cond_row(void *ud, PGresult *r)
{
    cond_walk_t *w = ud;
    dq_condition_row_t row = {0};
    row.id = dq_pg_col_int(r, 0, 0);
    dq_pg_copy_col(row.relic_id, sizeof(row.relic_id), r, 0, 1);
    dq_pg_copy_col(row.date, sizeof(row.date), r, 0, 2);
    row.published = (int)dq_pg_col_int(r, 0, 3);
    row.doc = dq_pg_col(r, 0, 4);
    dq_pg_copy_col(row.author, sizeof(row.author), r, 0, 5);
    row.version = dq_pg_col_int(r, 0, 6);
    dq_pg_copy_col(row.created, sizeof(row.created), r, 0, 7);
    dq_pg_copy_col(row.modified, sizeof(row.modified), r, 0, 8);
    w->n++;
    return w->cb(w->ud, &row);
}

static void cond_back(PGresult *r, dq_condition_row_t *row)
{
    row->id = dq_pg_col_int(r, 0, 0);
    row->version = dq_pg_col_int(r, 0, 1);
    dq_pg_copy_col(row->created, sizeof(row->created), r, 0, 2);
    dq_pg_copy_col(row->modified, sizeof(row->modified), r, 0, 3);
    dq_pg_copy_col(row->author, sizeof(row->author), r, 0, 4);
}

static int cond_insert(dq_store_txn_t *t, dq_condition_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->relic_id);
    dq_pg_p_text(&p, row->date);
    dq_pg_p_int(&p, row->published ? 1 : 0);
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_text(&p, row->author);
    PGresult *r = dq_pg_exec(
        t,
        "WITH c AS (UPDATE dq_counters SET value = value + 1 WHERE name = 'condition_records'"
        " RETURNING value) INSERT INTO condition_records (id, relic_id, date, published, doc,"
        " author, version, created_at, updated_at) SELECT c.value, $1, $2, $3, $4, $5, 1, "
        DQ_PG_NOW ", " DQ_PG_NOW " FROM c RETURNING id, version, created_at, updated_at, author",
        &p, err);
    if (!r)
        return -1;
    cond_back(r, row);
    PQclear(r);
    return 0;
}

static int cond_stale(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                      dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t v = 0;
    dq_pg_p_int(&p, id);
    dq_pg_p_text(&p, relic_id);
    int e = dq_pg_int(t, "SELECT version FROM condition_records WHERE id = $1 AND relic_id = $2",
                      &p, &v, err);
    if (e != 0)
        return e;
    return dq_err_set(err, DQ_EEXIST, 412, "version %lld is not the current version %lld",
                      (long long)if_version, (long long)v);
}

static int cond_update(dq_store_txn_t *t, dq_condition_row_t *row, int64_t if_version,
                       dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->date);
    dq_pg_p_int(&p, row->published ? 1 : 0);
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_int(&p, row->id);
    dq_pg_p_text(&p, row->relic_id);
    dq_pg_p_int(&p, if_version);
    PGresult *r = dq_pg_exec(t,
                             "UPDATE condition_records SET date = $1, published = $2, doc = $3,"
                             " version = version + 1, updated_at = " DQ_PG_NOW
                             " WHERE id = $4 AND relic_id = $5 AND ($6 < 0 OR version = $6)"
                             " RETURNING id, version, created_at, updated_at, author",
                             &p, err);
    if (!r)
        return -1;
    int n = PQntuples(r);
    if (n)
        cond_back(r, row);
    PQclear(r);
    return n ? 0 : cond_stale(t, row->relic_id, row->id, if_version, err);
}

static int cond_remove(dq_store_txn_t *t, const char *relic_id, int64_t id, int64_t if_version,
                       dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_int(&p, id);
    dq_pg_p_text(&p, relic_id);
    dq_pg_p_int(&p, if_version);
    if (dq_pg_run(t,
                  "DELETE FROM condition_records WHERE id = $1 AND relic_id = $2"
                  " AND ($3 < 0 OR version = $3)",
                  &p, &n, err) < 0)
        return -1;
    return n ? 0 : cond_stale(t, relic_id, id, if_version, err);
}

static int cond_get(dq_store_txn_t *t, const char *relic_id, int64_t id, dq_condition_cb cb,
                    void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    cond_walk_t w = {cb, ud, 0};
    dq_pg_p_int(&p, id);
    dq_pg_p_text(&p, relic_id);
    if (dq_pg_walk(t,
                   "SELECT " COND_COLS " FROM condition_records WHERE id = $1 AND relic_id = $2",
                   &p, cond_row, &w, err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int cond_list(dq_store_txn_t *t, const char *relic_id, dq_condition_cb cb, void *ud,
                     dq_err_t *err)
{
    pg_params_t p = {0};
    cond_walk_t w = {cb, ud, 0};
    if (!relic_id) /* every relic's (fixity --adopt-layers) */
        return dq_pg_walk(t, "SELECT " COND_COLS " FROM condition_records ORDER BY relic_id, id",
                          NULL, cond_row, &w, err);
    dq_pg_p_text(&p, relic_id);
    return dq_pg_walk(t,
                      "SELECT " COND_COLS " FROM condition_records WHERE relic_id = $1"
                      " ORDER BY date, id",
                      &p, cond_row, &w, err);
}

static int cond_published(dq_store_txn_t *t, const char *relic_id, dq_condition_cb cb, void *ud,
                          dq_err_t *err)
{
    pg_params_t p = {0};
    cond_walk_t w = {cb, ud, 0};
    if (!relic_id)
        return dq_pg_walk(t,
                          "SELECT " COND_COLS " FROM condition_records WHERE published = 1"
                          " ORDER BY relic_id, date, id",
                          NULL, cond_row, &w, err);
    dq_pg_p_text(&p, relic_id);
    return dq_pg_walk(t,
                      "SELECT " COND_COLS " FROM condition_records"
                      " WHERE relic_id = $1 AND published = 1 ORDER BY date, id",
                      &p, cond_row, &w, err);
}

typedef struct {
    dq_store_link_cb cb;
    void *ud;
} role_walk_t;

static int role_row(void *ud, PGresult *r)
{
    role_walk_t *w = ud;
    return w->cb(w->ud, dq_pg_col(r, 0, 0), dq_pg_col_int(r, 0, 1) != 0, dq_pg_col(r, 0, 2));
}

static int cond_role_links(dq_store_txn_t *t, const char *relic_id, const char *role,
                           dq_store_link_cb cb, void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    role_walk_t w = {cb, ud};
    dq_pg_p_text(&p, role);
    if (!relic_id)
        return dq_pg_walk(t,
                          "SELECT r.id, r.restricted, i.image_id FROM relics r"
                          " JOIN relic_images i ON i.relic = r.seq WHERE i.role = $1",
                          &p, role_row, &w, err);
    dq_pg_p_text(&p, relic_id);
    return dq_pg_walk(t,
                      "SELECT r.id, r.restricted, i.image_id FROM relics r"
                      " JOIN relic_images i ON i.relic = r.seq WHERE i.role = $1 AND r.id = $2",
                      &p, role_row, &w, err);
}

const dq_store_condition_ops dq_pg_condition_ops = {
    .insert = cond_insert,
    .update = cond_update,
    .remove = cond_remove,
    .get = cond_get,
    .list = cond_list,
    .published = cond_published,
    .role_links = cond_role_links,
};

/* ---------------------------------------------------------------- style embeddings */

/* The vector crosses as bytea text ("\x" and hex): the floats' bytes as SQLite's blob holds
 * them (this machine's byte order, as the SQLite backend stores them). */
static void put_hex(dq_buf_t *b, const void *data, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = data;
    dq_buf_puts(b, "\\x");
    for (size_t i = 0; i < n; i++) {
        dq_buf_putc(b, hex[s[i] >> 4]);
        dq_buf_putc(b, hex[s[i] & 15]);
    }
}

static int style_put(dq_store_txn_t *t, const dq_style_row_t *r, dq_err_t *err)
{
    dq_buf_t vec = {0};
    pg_params_t p = {0};
    put_hex(&vec, r->vec, (size_t)r->dim * sizeof(float));
    dq_pg_p_text(&p, r->image_id);
    dq_pg_p_text(&p, r->pyramid_sha256 ? r->pyramid_sha256 : "");
    dq_pg_p_text(&p, r->model);
    dq_pg_p_int(&p, r->dim);
    dq_pg_p_text(&p, vec.data);
    dq_pg_p_text(&p, r->palette ? r->palette : "[]");
    dq_pg_p_text(&p, r->named ? r->named : "[]");
    int rc = dq_pg_run(t,
                       "INSERT INTO style_embeddings (image_id, pyramid_sha256, model, dim, vec,"
                       " palette, named, updated_at) VALUES ($1, $2, $3, $4, $5::bytea, $6, $7, "
                       DQ_PG_NOW ") ON CONFLICT (image_id) DO UPDATE SET"
                       " pyramid_sha256 = excluded.pyramid_sha256, model = excluded.model,"
                       " dim = excluded.dim, vec = excluded.vec, palette = excluded.palette,"
                       " named = excluded.named, updated_at = excluded.updated_at",
                       &p, NULL, err);
    dq_buf_free(&vec);
    return rc;
}

#define STYLE_COLS "image_id, pyramid_sha256, model, dim, palette, named, updated_at"

typedef struct {
    dq_style_row_cb cb;
    void *ud;
    int with_vec, n;
    float *vec;
} style_walk_t;

static int unhex(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int style_row(void *ud, PGresult *res)
{
    style_walk_t *w = ud;
    dq_style_row_t r = {
        .image_id = dq_pg_col(res, 0, 0),
        .pyramid_sha256 = dq_pg_col(res, 0, 1),
        .model = dq_pg_col(res, 0, 2),
        .dim = (int)dq_pg_col_int(res, 0, 3),
        .palette = dq_pg_col(res, 0, 4),
        .named = dq_pg_col(res, 0, 5),
        .updated_at = dq_pg_col(res, 0, 6),
    };
    w->n++;
    if (w->with_vec) {
        const char *h = dq_pg_col(res, 0, 7);
        size_t n = (size_t)r.dim * sizeof(float);
        if (!h || r.dim <= 0 || strlen(h) != 2 + 2 * n || h[0] != '\\' || h[1] != 'x')
            return 0; /* a damaged row is skipped, never read past its end */
        free(w->vec);
        w->vec = dq_xmalloc(n);
        unsigned char *b = (unsigned char *)w->vec;
        for (size_t i = 0; i < n; i++) {
            int hi = unhex(h[2 + 2 * i]), lo = unhex(h[3 + 2 * i]);
            if (hi < 0 || lo < 0)
                return 0;
            b[i] = (unsigned char)(hi << 4 | lo);
        }
        r.vec = w->vec;
    }
    return w->cb(w->ud, &r);
}

static int style_get(dq_store_txn_t *t, const char *image_id, dq_style_row_cb cb, void *ud,
                     dq_err_t *err)
{
    pg_params_t p = {0};
    style_walk_t w = {cb, ud, 1, 0, NULL};
    dq_pg_p_text(&p, image_id);
    int rc = dq_pg_walk(t, "SELECT " STYLE_COLS ", vec FROM style_embeddings WHERE image_id = $1",
                        &p, style_row, &w, err);
    free(w.vec);
    return rc < 0 ? -1 : w.n ? 0 : 1;
}

static int style_list(dq_store_txn_t *t, int with_vec, dq_style_row_cb cb, void *ud,
                      dq_err_t *err)
{
    style_walk_t w = {cb, ud, with_vec, 0, NULL};
    int rc = dq_pg_walk(t,
                        with_vec ? "SELECT " STYLE_COLS
                                   ", vec FROM style_embeddings ORDER BY image_id"
                                 : "SELECT " STYLE_COLS " FROM style_embeddings ORDER BY image_id",
                        NULL, style_row, &w, err);
    free(w.vec);
    return rc;
}

static int style_remove(dq_store_txn_t *t, const char *image_id, dq_err_t *err)
{
    pg_params_t p = {0};
    int64_t n = 0;
    dq_pg_p_text(&p, image_id);
    if (dq_pg_run(t, "DELETE FROM style_embeddings WHERE image_id = $1", &p, &n, err) < 0)
        return -1;
    return n ? 0 : 1;
}

static int style_model_put(dq_store_txn_t *t, const char *label, const char *json, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, label);
    dq_pg_p_text(&p, json);
    return dq_pg_run(t,
                     "INSERT INTO style_models (label, doc, updated_at) VALUES ($1, $2, " DQ_PG_NOW
                     ") ON CONFLICT (label) DO UPDATE SET doc = excluded.doc,"
                     " updated_at = excluded.updated_at",
                     &p, NULL, err);
}

static int style_model_get(dq_store_txn_t *t, const char *label, dq_buf_t *out, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, label);
    PGresult *r = dq_pg_exec(t, "SELECT doc FROM style_models WHERE label = $1", &p, err);
    if (!r)
        return -1;
    int rc = PQntuples(r) ? 0 : 1;
    if (rc == 0)
        dq_buf_append(out, PQgetvalue(r, 0, 0), (size_t)PQgetlength(r, 0, 0));
    PQclear(r);
    return rc;
}

const dq_store_style_ops dq_pg_style_ops = {
    .put = style_put,
    .get = style_get,
    .list = style_list,
    .remove = style_remove,
    .model_put = style_model_put,
    .model_get = style_model_get,
};

/* ---------------------------------------------------------------- scene layer sets */

#define SCENE_COLS "image_id, version, source, doc, author, created_at"

typedef struct {
    dq_scene_cb cb;
    void *ud;
    int n;
} scene_walk_t;

static int scene_row(void *ud, PGresult *r)
{
    scene_walk_t *w = ud;
    dq_scene_row_t row;
    memset(&row, 0, sizeof(row));
    dq_pg_copy_col(row.image_id, sizeof(row.image_id), r, 0, 0);
    row.version = dq_pg_col_int(r, 0, 1);
    dq_pg_copy_col(row.source, sizeof(row.source), r, 0, 2);
    row.doc = dq_pg_col(r, 0, 3);
    dq_pg_copy_col(row.author, sizeof(row.author), r, 0, 4);
    dq_pg_copy_col(row.created_at, sizeof(row.created_at), r, 0, 5);
    w->n++;
    return w->cb(w->ud, &row);
}

static int scene_max_version(dq_store_txn_t *t, const char *image_id, int64_t *version,
                             dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, image_id);
    return dq_pg_int(t, "SELECT coalesce(max(version), 0) FROM scene_sets WHERE image_id = $1",
                     &p, version, err) == 0
               ? 0
               : -1;
}

static int scene_insert(dq_store_txn_t *t, const dq_scene_row_t *row, dq_err_t *err)
{
    pg_params_t p = {0};
    dq_pg_p_text(&p, row->image_id);
    dq_pg_p_int(&p, row->version);
    dq_pg_p_text(&p, row->source);
    dq_pg_p_text(&p, row->doc);
    dq_pg_p_text(&p, row->author);
    return dq_pg_run(t,
                     "INSERT INTO scene_sets (" SCENE_COLS ") VALUES ($1, $2, $3, $4, $5, "
                     DQ_PG_NOW ")",
                     &p, NULL, err);
}

static int scene_get(dq_store_txn_t *t, const char *image_id, int64_t version, dq_scene_cb cb,
                     void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    scene_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, image_id);
    dq_pg_p_int(&p, version);
    if (dq_pg_walk(t,
                   "SELECT " SCENE_COLS " FROM scene_sets WHERE image_id = $1"
                   " AND ($2 = 0 OR version = $2) ORDER BY version DESC LIMIT 1",
                   &p, scene_row, &w, err) < 0)
        return -1;
    return w.n ? 0 : 1;
}

static int scene_list(dq_store_txn_t *t, const char *image_id, dq_scene_cb cb, void *ud,
                      dq_err_t *err)
{
    pg_params_t p = {0};
    scene_walk_t w = {cb, ud, 0};
    dq_pg_p_text(&p, image_id);
    return dq_pg_walk(t,
                      "SELECT " SCENE_COLS " FROM scene_sets WHERE image_id = $1"
                      " ORDER BY version DESC",
                      &p, scene_row, &w, err);
}

const dq_store_scene_ops dq_pg_scene_ops = {
    .max_version = scene_max_version,
    .insert = scene_insert,
    .get = scene_get,
    .list = scene_list,
};

/* ---------------------------------------------------------------- network: OAI-PMH stamps */

/* $1 from, $2 until, $3 dynasty ("" any present), $4 object type (likewise), $5 include
 * restricted, $6 after id, $7 limit, $8 with docs, $9 one id (as on SQLite). */
#define STAMP_FILTER(ds)                                                                           \
    " WHERE ($1::text IS NULL OR " ds " >= $1) AND ($2::text IS NULL OR " ds " <= $2)"             \
    " AND ($3::text IS NULL OR ($3 = '' AND dynasty IS NOT NULL) OR dynasty = $3)"                 \
    " AND ($4::text IS NULL OR ($4 = '' AND object_type IS NOT NULL) OR object_type = $4)"         \
    " AND ($6::text IS NULL OR id > $6) AND ($9::text IS NULL OR id = $9)"
#define STAMP_WHERE(ds) STAMP_FILTER(ds) " AND ($5 = 1 OR restricted = 0)"

/* Withdrawals are listed to those who may not see restricted relics, while not public. */
static const char stamps_sql[] =
    "SELECT id, updated_at, dynasty, object_type, 0, restricted,"
    " CASE WHEN $8 = 1 THEN doc END, has_images, 0 FROM relics" STAMP_WHERE("updated_at")
    " UNION ALL SELECT id, deleted_at, dynasty, object_type, 1, restricted, NULL, 0, 0"
    " FROM relic_tombstones" STAMP_WHERE("deleted_at")
    " UNION ALL SELECT id, withdrawn_at, dynasty, object_type, 1, 1, NULL, 0, audit_seq + 1"
    " FROM relic_withdrawals w" STAMP_FILTER("withdrawn_at") " AND $5 = 0"
    " AND NOT EXISTS (SELECT 1 FROM relics r WHERE r.id = w.id AND r.restricted = 0)"
    " AND NOT EXISTS (SELECT 1 FROM relic_tombstones t WHERE t.id = w.id AND t.restricted = 0)"
    " ORDER BY 1 LIMIT $7";

typedef struct {
    dq_store_stamp_cb cb;
    void *ud;
} stamp_walk_t;

static int stamp_row(void *ud, PGresult *r)
{
    stamp_walk_t *w = ud;
    dq_store_stamp_row_t row = {
        .id = dq_pg_col(r, 0, 0),
        .datestamp = dq_pg_col(r, 0, 1),
        .dynasty = dq_pg_col(r, 0, 2),
        .object_type = dq_pg_col(r, 0, 3),
        .deleted = (int)dq_pg_col_int(r, 0, 4),
        .restricted = (int)dq_pg_col_int(r, 0, 5),
        .doc = dq_pg_col(r, 0, 6),
        .doc_len = dq_pg_col(r, 0, 6) ? (size_t)PQgetlength(r, 0, 6) : 0,
        .has_images = (int)dq_pg_col_int(r, 0, 7), /* network: Change Discovery needs it */
        .withdrawn = dq_pg_col_int(r, 0, 8),
    };
    return w->cb(w->ud, &row);
}

static int net_stamps(dq_store_txn_t *t, const dq_store_stamp_query_t *q, dq_store_stamp_cb cb,
                      void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    stamp_walk_t w = {cb, ud};
    dq_pg_p_text(&p, q->from);
    dq_pg_p_text(&p, q->until);
    dq_pg_p_text(&p, q->dynasty);
    dq_pg_p_text(&p, q->object_type);
    dq_pg_p_int(&p, q->include_restricted ? 1 : 0);
    dq_pg_p_text(&p, q->after);
    dq_pg_p_int(&p, q->limit);
    dq_pg_p_int(&p, q->with_docs ? 1 : 0);
    dq_pg_p_text(&p, q->id);
    return dq_pg_walk(t, stamps_sql, &p, stamp_row, &w, err);
}

static int net_earliest(dq_store_txn_t *t, char *out, dq_err_t *err)
{
    PGresult *r = dq_pg_exec(t,
                             "SELECT min(d) FROM (SELECT min(updated_at) AS d FROM relics"
                             " UNION ALL SELECT min(deleted_at) FROM relic_tombstones"
                             " UNION ALL SELECT min(withdrawn_at) FROM relic_withdrawals) s",
                             NULL, err);
    if (!r)
        return -1;
    dq_pg_copy_col(out, 32, r, 0, 0);
    PQclear(r);
    return 0;
}

typedef struct {
    dq_store_audit_cb cb;
    void *ud;
} change_walk_t;

static int change_row(void *ud, PGresult *r)
{
    change_walk_t *w = ud;
    dq_store_audit_row_t row = {
        .seq = dq_pg_col_int(r, 0, 0),
        .at = dq_pg_col(r, 0, 1),
        .who = dq_pg_col(r, 0, 2),
        .action = dq_pg_col(r, 0, 3),
        .object = dq_pg_col(r, 0, 4),
        .detail = dq_pg_col(r, 0, 5),
    };
    return w->cb(w->ud, &row);
}

static int net_changes(dq_store_txn_t *t, int64_t offset, int limit, dq_store_audit_cb cb,
                       void *ud, dq_err_t *err)
{
    pg_params_t p = {0};
    change_walk_t w = {cb, ud};
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    dq_pg_p_int(&p, limit);
    dq_pg_p_int(&p, offset);
    return dq_pg_walk(t,
                      "SELECT seq, at, who, action, object, detail FROM audit"
                      " WHERE action LIKE 'relic.%' ORDER BY seq LIMIT $1 OFFSET $2",
                      &p, change_row, &w, err);
}

static int net_change_count(dq_store_txn_t *t, int64_t *n, dq_err_t *err)
{
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    return dq_pg_int(t, "SELECT count(*) FROM audit WHERE action LIKE 'relic.%'", NULL, n, err) ==
                   0
               ? 0
               : -1;
}

static int net_first_change(dq_store_txn_t *t, const char *id, int64_t after, int64_t *seq,
                            dq_err_t *err)
{
    pg_params_t p = {0};
    if (dq_pg_audit_flush(t, err) < 0)
        return -1;
    t = dq_pg_audit_txn(t);
    dq_pg_p_text(&p, id);
    dq_pg_p_int(&p, after);
    return dq_pg_int(t,
                     "SELECT coalesce(min(seq), 0) FROM audit WHERE object = $1 AND seq > $2"
                     " AND action LIKE 'relic.%'",
                     &p, seq, err) == 0
               ? 0
               : -1;
}

const dq_store_network_ops dq_pg_network_ops = {
    .stamps = net_stamps,
    .earliest = net_earliest,
    .relic_changes = net_changes,
    .relic_change_count = net_change_count,
    .first_change = net_first_change,
};
