/**
 * The real OpenTelemetry SDK for tests: spans to memory, metrics to a reader
 * the test collects on demand, and pg's instrumentation. Import this module
 * before anything that loads `pg`: the instrumentation patches pg only as it
 * is first loaded.
 */
import { context, metrics, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { MeterProvider, MetricReader, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';

/** A reader that collects only when the test asks. */
class OnDemandReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export const spans = new InMemorySpanExporter();
export const metricReader = new OnDemandReader();

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [metricReader] }));
registerInstrumentations({ instrumentations: [new PgInstrumentation()] });

/** One collection of every meter's metrics. */
export async function collect(): Promise<ResourceMetrics> {
  const { resourceMetrics, errors } = await metricReader.collect();
  if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
  return resourceMetrics;
}
