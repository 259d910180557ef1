// Bearer tokens from an environment variable or a file, re-read on every call so that a rotated
// token is used on the next connect. A token is never accepted as a flag value (it would show in ps).
import { readFileSync } from 'node:fs';
import { UsageError } from '../common/errors.js';

export interface TokenSource {
  envVar: string;
  file?: string;
}

/** Returns a function that reads the current token; throws UsageError if none can be had. */
export function tokenReader({ envVar, file }: TokenSource, required: boolean): () => string | undefined {
  const read = (): string | undefined => {
    if (file) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        throw new UsageError(`cannot read --token-file ${file} (${(error as NodeJS.ErrnoException).code}); check the path and its permissions`);
      }
      const token = text.trim();
      if (!token) throw new UsageError(`--token-file ${file} is empty; write the token into it`);
      return token;
    }
    const token = process.env[envVar]?.trim();
    if (!token && required) throw new UsageError(`no token: set ${envVar} or pass --token-file <path>`);
    return token || undefined;
  };
  read();
  return read;
}
