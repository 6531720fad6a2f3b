'use strict';
/**
 * A webpack loader for the replay test only: it inserts a timer at the start of workPoint's main
 * loop, the kind of change that makes a released workflow non-deterministic. Replaying stored
 * histories against the changed bundle must fail.
 */
module.exports = function injectNonDeterminism(source) {
  const marker = 'while (!state.review.rating) {';
  if (!source.includes(marker)) throw new Error('nondeterminism-loader: marker not found in work-point.ts');
  return source.replace(marker, `await condition(() => false, '1 second');\n  ${marker}`);
};
