/**
 * How far ahead of our clock a message may be dated and still move the
 * incremental watermark. A message dated beyond it (a server clock gone wrong,
 * a typo'd import) is exported but would otherwise hide every later message.
 * Shared by the walk (dump/) and the incremental file's adopt (targets/).
 */
export const CLOCK_SKEW_MS = 10 * 60_000;
