/**
 * SQL fragments the repositories share. Instants travel as epoch milliseconds inside JSON batches
 * (jsonb_to_recordset); this turns such a column into a timestamptz, keeping NULL.
 */
export const ts = (col: string) => `CASE WHEN ${col} IS NULL THEN NULL ELSE to_timestamp(${col} / 1000.0) END`;
