/**
 * Thrown by a schema that met an integer JSON.parse could not hold exactly;
 * the client then parses that body again with parseJsonKeepingBigIntegers.
 */
export class LossyNumberError extends Error {
  constructor() {
    super('an integer beyond 2^53 lost precision in JSON.parse');
  }
}

// A string literal, or a number literal (only the integers matter below).
const JSON_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g;

/**
 * JSON.parse, except that an integer too large for a double (a 19-digit
 * message id sent as a number) becomes its exact decimal string instead of a
 * rounded number: ids are strings in the output, and two ids that round alike
 * must not collapse into one message.
 */
export function parseJsonKeepingBigIntegers(text: string): unknown {
  const quoted = text.replace(JSON_TOKEN, (token) => {
    if (token.charCodeAt(0) === 34 /* " */ || !/^-?\d{16,}$/.test(token)) return token;
    return Number.isSafeInteger(Number(token)) ? token : `"${token}"`;
  });
  return JSON.parse(quoted);
}
