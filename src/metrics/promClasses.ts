import type { Counter as CounterT, Gauge as GaugeT, Histogram as HistogramT, Registry as RegistryT } from 'prom-client';

/*
 * prom-client's classes, each from its own module: the package's index also loads its default metrics, cluster
 * support and @opentelemetry/api, about 40 ms of every run's start-up that an offline run never uses (the model
 * monitor and the latency histograms, which every run has, need only these). They are the modules the index exports,
 * so a registry of the package (daemon/metrics.ts) takes these metrics as usual.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const Counter = require('prom-client/lib/counter') as typeof CounterT;
export const Gauge = require('prom-client/lib/gauge') as typeof GaugeT;
export const Histogram = require('prom-client/lib/histogram') as typeof HistogramT;
export const Registry = require('prom-client/lib/registry') as typeof RegistryT;
/* eslint-enable @typescript-eslint/no-require-imports */
export type Counter<T extends string = string> = CounterT<T>;
export type Gauge<T extends string = string> = GaugeT<T>;
export type Histogram<T extends string = string> = HistogramT<T>;
export type Registry = RegistryT;
