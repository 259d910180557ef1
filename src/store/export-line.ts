// One line of `sse-sink export`, the same from every store: the row's fields as JSON, then the
// payload as the store holds it, embedded without being parsed and serialized again.
export function exportLine(row: Record<string, unknown>, payload: string): string {
  return `${JSON.stringify(row).slice(0, -1)},"payload":${payload}}`;
}
