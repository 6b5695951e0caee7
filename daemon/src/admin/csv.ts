/**
 * RFC 4180 CSV, safe to open in a spreadsheet in any locale.
 * - A cell that a spreadsheet would run as a formula — first visible character `=`, `+`, `-`, `@`
 *   (or their full-width forms, which some spreadsheets fold), or a leading tab/CR — is prefixed
 *   with a quote, so an exported name like "=HYPERLINK(...)" stays text. Plain numbers such as
 *   `-12.5` are left alone. Leading spaces do not hide a formula: the check looks past them.
 * - A cell holding a semicolon is quoted as well as one holding a comma: spreadsheets in
 *   semicolon locales (de, fr, nl…) split on `;`, and "Ann;=HYPERLINK(…)" would otherwise become
 *   two cells, the second a formula.
 */
const FORMULA_START = /^[\s\u00a0\u3000]*[=+\-@\uff1d\uff0b\uff0d\uff20]|^[\t\r]/;
const NUMBER = /^-?\d+(\.\d+)?$/;

export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return '';
  let text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  if (FORMULA_START.test(text) && !NUMBER.test(text)) text = "'" + text;
  return /[",;\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function toCsv(header: string[], rows: unknown[][]): string {
  return [header, ...rows].map((r) => r.map(csvCell).join(',')).join('\r\n') + '\r\n';
}
