// Identifiers: a short type prefix plus 16 random bytes in base32 (sortable enough for humans, unguessable).
import crypto from 'node:crypto';

const ALPHABET = '0123456789abcdefghjkmnpqrstvwxyz';

export type IdGenerator = (prefix: string) => string;

export const randomId: IdGenerator = (prefix) => {
  const bytes = crypto.randomBytes(10);
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return `${prefix}_${out}`;
};
