/** The smallest valid definition (offset paging, epoch-s times): tests spread their changes over it. */
export const minimalDefinition = {
  request: { path: '/messages', query: { room: '{channel}' } },
  paging: { type: 'offset', param: 'offset', size: { param: 'limit', default: 50, max: 200 } },
  order: 'oldest-first',
  records: 'items',
  fields: { id: 'id', time: { path: 'ts', format: 'epoch-s' } },
};
