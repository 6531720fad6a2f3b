import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** data/seeds holds the seed document byte for byte; nobody edits it to make a parser pass. */
const copy = path.join(__dirname, '..', '..', 'data', 'seeds', '000_69415ce730313519.txt');
const original = path.join(__dirname, '..', '..', '..', 'shared', 'seeds', '000_69415ce730313519.txt');

test('the shipped seed is a byte-identical copy of the shared original (where the original is present)', () => {
  const shipped = readFileSync(copy);
  expect(shipped.length).toBeGreaterThan(10_000);
  if (!existsSync(original)) {
    console.warn(`seed-copy: ${original} not present; only the shipped copy was read`);
    return;
  }
  expect(shipped.equals(readFileSync(original))).toBe(true);
});
