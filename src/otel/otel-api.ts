import type * as OtelApi from '@opentelemetry/api';

/** `@opentelemetry/api`, an optional peer dependency: null when the application does not have it. */
export type Otel = typeof OtelApi;

let loading: Promise<Otel | null> | null = null;
let otel: Otel | null = null;

/**
 * Loads `@opentelemetry/api` once, if the application has it (every public
 * entry point awaits this before its first statement). Without it, pg-split
 * records nothing and `untraced` runs its function as is.
 */
export function loadOtel(): Promise<Otel | null> {
  loading ??= import('@opentelemetry/api').then(
    (api) => {
      otel = api;
      return api;
    },
    () => null,
  );
  return loading;
}

/** `@opentelemetry/api` if loadOtel() has loaded it by now, else null (what a synchronous constructor can use). */
export function currentOtel(): Otel | null {
  return otel;
}

/**
 * The context key the OpenTelemetry SDK's tracers look up to create no span
 * (`suppressTracing` in `@opentelemetry/core`, `trace/suppress-tracing.ts`);
 * `createContextKey` is `Symbol.for`, so every copy of the API agrees on it.
 */
const SUPPRESS_TRACING = 'OpenTelemetry SDK Context Key SUPPRESS_TRACING';

/**
 * Runs `fn` (and everything it starts) with tracing suppressed: pg-split's own
 * statements, connections and REST requests (status checks, write tokens,
 * replay checks, Patroni polls) make no spans. Application statements never
 * run in here.
 */
export function untraced<T>(fn: () => T): T {
  if (otel === null) return fn();
  const { context, createContextKey } = otel;
  return context.with(context.active().setValue(createContextKey(SUPPRESS_TRACING), true), fn);
}
