// The stream's GROQ filter, evaluated by groq-js (Sanity's own GROQ engine) on one document: what
// decides, for a document rebuilt from the History API, whether the listener would have sent it.
import type { SanityDocument } from './normalize.js';

export type DocumentFilter = (doc: SanityDocument) => Promise<boolean>;

/**
 * `*[<filter>]` over a dataset of this one document: a match when it is in the result. The listen
 * endpoint uses only the filter part of a query, so a projection after it changes nothing here.
 * groq-js is loaded here, on the first catch-up, not when the CLI starts: it is most of its start-up.
 */
export async function createDocumentFilter(query: string, params: Record<string, unknown>): Promise<DocumentFilter> {
  const { evaluate, parse } = await import('groq-js');
  const tree = parse(query, { params });
  return async (doc) => {
    const value = await evaluate(tree, { dataset: [doc], params });
    const result = await value.get();
    return Array.isArray(result) ? result.length > 0 : result !== null && result !== undefined;
  };
}
