import { PROVIDERS } from '../providers/registry.js';

export function listProviders(stdout: NodeJS.WritableStream, json: boolean): void {
  const rows = Object.values(PROVIDERS).map((provider) => ({
    name: provider.name,
    summary: provider.summary,
    auth: provider.credentials.how,
    token: provider.credentials.token,
    apiKey: provider.credentials.apiKey,
    paging:
      provider.paging === 'cursor'
        ? 'time cursor (maxCreateAt, inclusive), newest first'
        : provider.takesPageSize
          ? 'page numbers, newest first, pages in parallel'
          : 'page numbers (fixed size), newest first, pages in parallel',
    defaultBaseUrl: provider.defaultBaseUrl ?? null,
    defaultPageSize: provider.defaultPageSize,
    timezone: provider.name === 'dishawang' ? '+08:00 (naive times; --timezone)' : 'in the data',
  }));
  if (json) {
    stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  for (const row of rows) {
    stdout.write(
      `${row.name}\n` +
        `  ${row.summary}\n` +
        `  auth:      ${row.auth} (token ${row.token}${row.apiKey !== 'unused' ? `, API key ${row.apiKey}` : ''}; CHAT_EXPORT_TOKEN${row.apiKey !== 'unused' ? ', CHAT_EXPORT_API_KEY' : ''})\n` +
        `  paging:    ${row.paging}\n` +
        `  base URL:  ${row.defaultBaseUrl ?? '(none: self-hosted, --base-url required)'}\n` +
        `  page size: ${row.defaultPageSize}${row.name === 'dishawang' ? ' (fixed by the server)' : ''}\n` +
        `  times:     ${row.timezone}\n\n`,
    );
  }
}
