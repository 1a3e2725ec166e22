// Keyset pagination over rowid: a page holds `limit` rows and the cursor of the next page.
import type { Page } from '../../protocol/api.js';

/** `rows` was fetched with LIMIT limit + 1; the extra row only says that another page exists. */
export function pageOf<R extends { _rowid: number }, T>(rows: R[], limit: number, map: (row: R) => T): Page<T> {
  const pageRows = rows.slice(0, limit);
  const last = pageRows[pageRows.length - 1];
  return { items: pageRows.map(map), next_cursor: rows.length > limit && last ? String(last._rowid) : null };
}
