// OpenTelemetry for an application that uses pg-split: traces of its own statements
// (pg's instrumentation, each span naming the node that answered) and pg-split's
// metrics on a Prometheus endpoint. Load it before the application:
//
//   node --import ./telemetry.mjs app.mjs
//
// Spans go where OTEL_TRACES_EXPORTER says (OTLP to localhost:4318 by default;
// `none` to keep only metrics). Metrics are served on http://0.0.0.0:9464/metrics
// (METRICS_PORT and METRICS_HOST to change it).
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { metrics, NodeSDK } from '@opentelemetry/sdk-node';

const sdk = new NodeSDK({
  serviceName: process.env.OTEL_SERVICE_NAME ?? 'app',
  metricReaders: [new PrometheusExporter({ host: process.env.METRICS_HOST, port: Number(process.env.METRICS_PORT ?? 9464) })],
  instrumentations: [new PgInstrumentation()],
  views: [
    // pg's instrumentation also counts pooled connections, under the same metric names as
    // pg-split but with one pool name for a node's reader and writer pools. Keep pg-split's:
    // two families of one name make an invalid Prometheus scrape.
    {
      meterName: '@opentelemetry/instrumentation-pg',
      instrumentName: 'db.client.connection.*',
      aggregation: { type: metrics.AggregationType.DROP },
    },
  ],
});
sdk.start();

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => void sdk.shutdown().finally(() => process.exit(0)));
}
