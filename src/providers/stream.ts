/**
 * A stream (Airbyte's DeclarativeStream, SimpleRetriever): the requester,
 * paginator, record selector and end/error policy composed into what the
 * walkers drive — `buildRequest` for the paging kind and `parsePage` for an
 * answer. Messages are one stream (./engine.ts adds the message field map);
 * a channel list, a thread's replies or a people directory are streams of
 * the same parts with their own settings and targets, each mapped by its own
 * field map (./field-map.ts).
 */
import type { StatusDescriber } from '../http/client.js';
import type { Definition } from './definition.js';
import type { ExprScope } from './expression.js';
import { compileEndSignals, compileErrorPolicy, type EndSpec, type EnvelopeSpec, type HttpErrorsSpec } from './end-policy.js';
import { compilePaginator, type PageSizes } from './paginator.js';
import { compileRecordSelector, type RecordSelector, type RecordSpec, type RunScope } from './record-selector.js';
import type { Requester, RequestTemplate, TemplateValues } from './requester.js';
import type { PagingPart, ProviderPage, ProviderSettings, ResponseMeta } from './types.js';

/** The parts of a definition one stream is made of (the message stream's are the definition's top-level keys). */
export interface StreamSpec extends RecordSpec {
  request: RequestTemplate;
  paging: Definition['paging'];
  end?: EndSpec | undefined;
  envelope?: EnvelopeSpec | undefined;
  httpErrors?: HttpErrorsSpec | undefined;
}

/**
 * How a stream's target becomes a request: which template (a direct
 * conversation may have its own) and the values its placeholders take.
 */
export interface StreamTargeting<T> {
  template(target: T): RequestTemplate;
  values(target: T): TemplateValues;
  /** names the target in errors ("relation channel 42") */
  label(target: T): string;
}

export type Stream<T> = PagingPart<T> &
  PageSizes & {
    selector: RecordSelector;
    /** `dropped` sees each record the filter leaves out. */
    parsePage(body: unknown, target: T, response?: ResponseMeta, dropped?: (record: unknown, scope: ExprScope) => void): ProviderPage;
    describeStatus: StatusDescriber | undefined;
  };

export function compileStream<T>(spec: StreamSpec, requester: Requester, targeting: StreamTargeting<T>, run?: RunScope): Stream<T> {
  const selector = compileRecordSelector(spec, run);
  const { compile } = selector;
  const policy = compileErrorPolicy(spec.envelope, spec.httpErrors, compile);
  const endSignals = compileEndSignals(spec.end, compile);
  const paginator = compilePaginator<T>(spec.paging, {
    base: (settings: ProviderSettings, target: T, page?: number) =>
      requester.request(settings, targeting.template(target), page === undefined ? targeting.values(target) : { ...targeting.values(target), page }),
    authorize: requester.authorize,
    label: targeting.label,
    compile,
  });
  const next = paginator.next;

  const parsePage = (body: unknown, target: T, response?: ResponseMeta, dropped?: (record: unknown, scope: ExprScope) => void): ProviderPage => {
    const early = selector.pageScope(body);
    // a successful answer: its envelope is judged as a 200's
    policy.check(body, () => targeting.label(target), early, 200);
    const { all, items, scope } = selector.select(body, early, dropped);
    return {
      items,
      records: all.length,
      ...endSignals(body, scope, response),
      next: next ? next(body, scope, response) : undefined,
      context: scope,
    };
  };
  return { ...paginator.part, ...paginator.sizes, selector, parsePage, describeStatus: policy.describeStatus };
}
