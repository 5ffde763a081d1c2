// Small assertion and reporting helpers shared by the interop drivers.
export function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
  console.log(`  ok  ${message}`);
}

/** A fetch that records `METHOD path -> status` for every request it makes. */
export function recordingFetch(log) {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : input.toString());
    const method = init?.method || (input instanceof Request ? input.method : 'GET');
    const res = await fetch(input, init);
    log.push(`${method} ${url.pathname} ${res.status}`);
    return res;
  };
}

/** Asserts `wanted` entries appear in `log` in this order (others may come between). */
export function checkSequence(log, wanted, what) {
  let i = 0;
  for (const entry of log) if (i < wanted.length && entry === wanted[i]) i++;
  check(i === wanted.length, `${what}: ${wanted.join(' → ')}${i < wanted.length ? ` (missing "${wanted[i]}" in ${JSON.stringify(log)})` : ''}`);
}

/** The text of a tools/call result's first content block, and its structured content. */
export function toolText(result) {
  return (result.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('\n');
}
