/** Replaces every occurrence of a secret in a text. */
export type Masker = (text: string) => string;

export const MASK = '***';

/**
 * Secrets shorter than this are not searched for in free text: they would
 * match ordinary words and garble every line. (`geowindow config` masks them
 * all the same.)
 */
export const MIN_MASKED_LENGTH = 4;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * A function that masks `secrets` in a text, as written and as they appear
 * inside a JSON string (quotes, backslashes and newlines escaped), so it can
 * run over finished log lines too.
 */
export function secretMasker(secrets: readonly string[]): Masker {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < MIN_MASKED_LENGTH) continue;
    forms.add(secret);
    forms.add(JSON.stringify(secret).slice(1, -1));
  }
  if (forms.size === 0) return (text) => text;
  // Longest first, so a secret that contains another is masked whole.
  const pattern = new RegExp([...forms].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g');
  return (text) => text.replace(pattern, MASK);
}
