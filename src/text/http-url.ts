/** Whether a string is an absolute http(s) URL: the only links and downloads we ever follow from message data. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}
