/**
 * The `api` column: the API root a history came from, normalized so that the
 * same server is one source however it was typed (a trailing slash, a default
 * port, upper-case host) and so that no credential is ever stored.
 */
export function normalizeApiRoot(baseUrl: string): string {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return baseUrl.replace(/\/+$/, '');
  }
  const path = url.pathname.replace(/\/+$/, '');
  // userinfo, query and fragment are dropped: the providers' request URLs never use them from the root
  return `${url.protocol}//${url.host}${path}`;
}
