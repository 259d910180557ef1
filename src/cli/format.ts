// Rows to text for `query` and `status`: an aligned table for people, JSON and CSV for programs.

export type Row = Record<string, unknown>;
export type OutputFormat = 'table' | 'json' | 'csv';

export function formatRows(rows: Row[], format: OutputFormat, columns = columnsOf(rows)): string {
  switch (format) {
    case 'json':
      return JSON.stringify(rows, null, 2);
    case 'csv':
      return [columns.map(csvField).join(','), ...rows.map((row) => columns.map((c) => csvField(cellText(row[c]))).join(','))].join('\n');
    case 'table':
      return table(rows, columns);
  }
}

function columnsOf(rows: Row[]): string[] {
  return rows.length ? Object.keys(rows[0]) : [];
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function csvField(text: string): string {
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function table(rows: Row[], columns: string[]): string {
  if (columns.length === 0) return '(no rows)';
  const cells = rows.map((row) => columns.map((c) => cellText(row[c]).replace(/\s+/g, ' ')));
  // A fold, not Math.max(...lengths): a spread of 200,000 rows overflows the call stack.
  const widths = columns.map((c, i) => Math.min(60, cells.reduce((width, r) => Math.max(width, r[i].length), c.length)));
  const line = (values: string[]) =>
    values.map((v, i) => (v.length > widths[i] ? `${v.slice(0, widths[i] - 1)}…` : v.padEnd(widths[i]))).join('  ').trimEnd();
  return [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line), `(${rows.length} row${rows.length === 1 ? '' : 's'})`].join('\n');
}
