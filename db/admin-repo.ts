/**
 * Statements about a database rather than its records, for the launcher and the CLI: is the server there, does a
 * database exist, and the table-by-table copy that moves an old PGlite database into PostgreSQL
 * (launcher/pglite-import.ts). They run on pg's Pool and Client and on PGlite alike, through `SqlConnection`.
 */

/** What these statements need of a connection; pg's Pool and Client and PGlite all have it. */
export interface SqlConnection {
  query<R extends object>(text: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** Resolves when the server answers a query; rejects with the driver's error otherwise. */
export async function ping(db: SqlConnection): Promise<void> {
  await db.query('SELECT 1');
}

/** Creates the database unless it exists; run on a connection to another database of the same server. */
export async function ensureDatabase(db: SqlConnection, name: string): Promise<void> {
  const { rows } = await db.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
  if (rows.length === 0) await db.query(`CREATE DATABASE ${ident(name)}`);
}

/** The application's tables (the migration runner's own table excluded), by name. */
export async function publicTables(db: SqlConnection): Promise<string[]> {
  const { rows } = await db.query<{ name: string }>(
    `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'pgmigrations'
     ORDER BY tablename`,
  );
  return rows.map((r) => r.name);
}

export async function countRows(db: SqlConnection, table: string): Promise<number> {
  const { rows } = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${ident(table)}`);
  return Number(rows[0]?.n ?? 0);
}

/** Every row of a table as JSON text (row_to_json keeps bytea, jsonb, arrays and timestamps for the way back). */
export async function rowsAsJson(db: SqlConnection, table: string): Promise<string[]> {
  const { rows } = await db.query<{ j: string }>(`SELECT row_to_json(t)::text AS j FROM ${ident(table)} t`);
  return rows.map((r) => r.j);
}

/** Inserts rows given as a JSON array of rowsAsJson's objects. */
export async function insertJsonRows(db: SqlConnection, table: string, jsonArray: string): Promise<void> {
  await db.query(`INSERT INTO ${ident(table)} SELECT * FROM json_populate_recordset(NULL::${ident(table)}, $1::json)`, [
    jsonArray,
  ]);
}

/** Sets every serial sequence to continue after the largest id its column holds. */
export async function restartSerialSequences(db: SqlConnection): Promise<void> {
  const { rows: serials } = await db.query<{ table_name: string; column_name: string }>(
    `SELECT table_name, column_name FROM information_schema.columns
      WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'`,
  );
  for (const { table_name: t, column_name: c } of serials) {
    await db.query(
      `SELECT setval(pg_get_serial_sequence($1, $2), coalesce((SELECT max(${ident(c)}) FROM ${ident(t)}), 0) + 1, false)`,
      [ident(t), c],
    );
  }
}

/**
 * Runs `fn` in one transaction with foreign-key triggers off (session_replication_role = replica): rows of a copy
 * arrive table by table, not in foreign-key order, from a source whose constraints hold already. Any error rolls back.
 */
export async function inCopyTransaction<T>(db: SqlConnection, fn: () => Promise<T>): Promise<T> {
  await db.query('BEGIN');
  try {
    await db.query('SET LOCAL session_replication_role = replica');
    const result = await fn();
    await db.query('COMMIT');
    return result;
  } catch (err) {
    await db.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
