import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

import swagger from '@fastify/swagger';
import Ajv, { type ErrorObject } from 'ajv';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { Counter, Histogram, Registry } from 'prom-client';

import type { ClassifierOptions } from '../classify/classifier';
import { readOnnxMetadata } from '../classify/onnxMetadata';
import { ClassifierBusyError, ClassifyService } from './classifyService';
import { CsvBodyError, csvLabels, parseCsvBody } from './csvBody';
import type { FlowFilter } from './flowQuery';
import type { ListenAddress } from './listen';
import { QueryError, QueryRunner } from './queryRunner';
import type { AnomalyFilter, HostEventFilter, HostFilter } from './hostQuery';
import { anomaliesSchema, BODY_LIMIT, classifySchema, flowsSchema, hostEventsSchema, hostsSchema, modelSchema, monitorSchema, summarySchema } from './schemas';
import type { SummaryQuery } from './summary';
import { parseTime } from './timeParam';
import { loadWebAssets } from './webAssets';

/** Open connections at most; more are closed at once by the HTTP server (counted in /metrics) so that a flood cannot exhaust file descriptors. */
export const MAX_CONNECTIONS = 1024;
/** Sequences queued for the model above which POST /v1/classify answers 503 (bounds memory under overload). */
export const MAX_QUEUED_SEQUENCES = 50_000;
/** A request must arrive whole within this time, and an idle socket is closed after it (slow-client floods). */
const REQUEST_TIMEOUT_MS = 30_000;
const KEEP_ALIVE_TIMEOUT_MS = 10_000;
/** Longest error message sent back: one line, never a stack trace. */
const MAX_ERROR_TEXT = 300;

export interface ServeLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export interface ServeOptions {
  /** The database the sensor writes; null when it writes none (flow routes then answer 503). */
  dbPath: string | null;
  /** The sensor's classifier settings; null when classification is off (classify/model routes answer 503). */
  classify: ClassifierOptions | null;
  /** Bearer token every API route requires; null for none (loopback only, enforced by resolveToken()). */
  token: string | null;
  /** The running sensor's own Prometheus text, appended to the server's at /metrics. */
  extraMetrics?: () => Promise<string>;
  logger: ServeLogger;
  maxQueued?: number;
}

export interface SensorServer {
  app: FastifyInstance;
  classify: ClassifyService | null;
  /** http://HOST:PORT once listening. */
  url: string;
  close(): Promise<void>;
}

/** The server cannot start (address in use, not permitted); the message is one line for the user. */
export class ServeError extends Error {
  override name = 'ServeError';
}

/** An error whose message is the whole answer to the client. */
function httpError(statusCode: number, message: string): Error & { statusCode: number } {
  return Object.assign(new Error(message), { statusCode });
}

function oneLine(text: string): string {
  const line = text.split('\n')[0]!.trim();
  return line.length > MAX_ERROR_TEXT ? line.slice(0, MAX_ERROR_TEXT) + '...' : line;
}

/** "body/3/7 must be <= 65535", "querystring must NOT have additional properties ('limt')". */
function formatSchemaError(errors: ErrorObject[], dataVar: string): Error {
  const e = errors[0];
  if (e === undefined) return new Error(`${dataVar} is invalid`);
  let msg = `${dataVar}${e.instancePath} ${e.message ?? 'is invalid'}`;
  const extra = (e.params as { additionalProperty?: string }).additionalProperty;
  if (extra !== undefined) msg += ` ('${extra.slice(0, 40)}')`;
  const allowed = (e.params as { allowedValues?: unknown[] }).allowedValues;
  if (allowed !== undefined) msg += `: ${allowed.join(', ')}`;
  return new Error(msg);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** The model file's metadata, for GET /v1/model: the contract keys are shown parsed elsewhere; a big drift reference and the self-check are summarised. */
function modelMetadata(path: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let props: Map<string, string>;
  try {
    props = readOnnxMetadata(readFileSync(path)).props;
  } catch {
    return out;
  }
  for (const [k, v] of props) {
    if (k === 'classes') continue;
    if (k === 'input_reference') {
      try {
        const ref = JSON.parse(v) as Record<string, unknown>;
        out[k] = { version: ref.version, n_flows: ref.n_flows, unknown_share: ref.unknown_share, class_priors: ref.class_priors };
      } catch {
        out[k] = '(not JSON)';
      }
      continue;
    }
    if (k === 'self_check') {
      try {
        const c = JSON.parse(v) as { version?: unknown; runtime?: unknown; tolerance?: unknown; rows?: unknown };
        out[k] = { version: c.version, runtime: c.runtime, tolerance: c.tolerance, rows: Array.isArray(c.rows) ? c.rows.length : null };
      } catch {
        out[k] = '(not JSON)';
      }
      continue;
    }
    out[k] = v.length > 4096 ? v.slice(0, 4096) + '...' : v;
  }
  return out;
}

/** Builds the HTTP API and the web view (not listening yet). */
export async function buildServer(opts: ServeOptions): Promise<{ app: FastifyInstance; classify: ClassifyService | null; close(): Promise<void> }> {
  const log = opts.logger;
  const classify = opts.classify !== null ? await ClassifyService.open(opts.classify, opts.maxQueued ?? MAX_QUEUED_SEQUENCES) : null;
  const web = loadWebAssets();

  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    requestTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    forceCloseConnections: true,
    return503OnClosing: true,
    schemaErrorFormatter: formatSchemaError,
  });
  app.server.maxConnections = MAX_CONNECTIONS;

  // Bodies are validated without type coercion (a string "5" is not a length); query strings are text, so
  // their numbers are coerced from it.
  const bodyAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  const queryAjv = new Ajv({ coerceTypes: true, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema, httpPart }) => (httpPart === 'body' ? bodyAjv : queryAjv).compile(schema));

  // Prometheus: the server's own numbers; the running sensor's are appended (extraMetrics).
  const registry = new Registry();
  const requests = new Counter({
    name: 'sensor_api_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sensor_api_request_duration_seconds',
    help: 'HTTP request duration',
    labelNames: ['route'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'sensor_api_connections_dropped_total',
    help: `Connections closed at once because ${MAX_CONNECTIONS} were already open`,
    registers: [registry],
  });
  new Counter({
    name: 'sensor_api_classified_sequences_total',
    help: 'Sequences classified through POST /v1/classify',
    registers: [registry],
    collect() {
      if (classify !== null) {
        this.reset();
        this.inc(classify.sequences);
      }
    },
  });
  app.server.on('drop', () => dropped.inc());
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    requests.inc({ route, status: String(reply.statusCode) });
    duration.observe({ route }, reply.elapsedTime / 1000);
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err instanceof ClassifierBusyError ? 503 : (err.statusCode ?? 500);
    if (status === 503) {
      // Busy, or nothing to serve yet (no database, classification off): the message says which.
      void reply.code(503).header('Retry-After', '1').send({ error: oneLine(err.message) });
    } else if (status >= 500) {
      // A fault of ours: logged in full here, never shown to the client.
      log.error(`serve: ${req.method} ${req.url.slice(0, 200)} failed: ${oneLine(err.message)}`);
      void reply.code(500).send({ error: 'internal error (see the sensor log)' });
    } else {
      void reply.code(status).send({ error: oneLine(err.message) });
    }
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: `no route ${req.method} ${req.url.split('?')[0]!.slice(0, 100)} (see /v1/openapi.json)` });
  });

  // The page and its assets carry no data: they are served without the token (the page asks for it).
  const pageHeaders = {
    'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': 'no-cache',
  };
  app.get('/', { schema: { hide: true } }, async (_req, reply) => reply.headers(pageHeaders).type(web.index.type).send(web.index.body));
  app.get('/assets/:name', { schema: { hide: true, params: { type: 'object', properties: { name: { type: 'string', maxLength: 40 } } } } }, async (req, reply) => {
    const asset = web.files.get((req.params as { name: string }).name);
    if (asset === undefined) throw httpError(404, 'no such asset');
    return reply.headers(pageHeaders).type(asset.type).send(asset.body);
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'sensor API',
        description: 'Flow records, summaries and classification as a service, from the TCP flow sensor (README "HTTP API").',
        version: '1',
      },
      ...(opts.token !== null ? { components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } }, security: [{ bearer: [] }] } : {}),
    },
  });

  // Database work runs in a worker thread: a long summary never stalls classification or the sensor's capture.
  const runner = opts.dbPath !== null ? new QueryRunner(opts.dbPath) : null;
  const query = async <T>(q: (r: QueryRunner) => Promise<T>): Promise<T> => {
    if (runner === null) throw httpError(503, 'this sensor writes no database: flows are served when it runs with --db');
    try {
      return await q(runner);
    } catch (e) {
      // Not there yet or not a sensor database: the client may retry; anything else is a fault of ours (500).
      if (e instanceof QueryError && e.name === 'FlowDbError') throw httpError(503, e.message);
      throw e;
    }
  };
  const service = (): ClassifyService => {
    if (classify === null) throw httpError(503, 'classification is off in this sensor (--no-classify)');
    return classify;
  };

  const tokenDigest = opts.token !== null ? digest(opts.token) : null;
  await app.register(async (api) => {
    if (tokenDigest !== null) {
      api.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
        const h = req.headers.authorization;
        const given = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : null;
        if (given === null || !timingSafeEqual(digest(given), tokenDigest)) {
          void reply.header('WWW-Authenticate', 'Bearer');
          throw httpError(401, 'this API needs the bearer token: send "Authorization: Bearer <token>"');
        }
      });
    }

    // JSON and CSV only: fastify's default text/plain parser would hand a string to the schema.
    api.removeContentTypeParser('text/plain');
    const L = classify?.modelInfo.sequenceLength ?? 30;
    api.addContentTypeParser(['text/csv', 'application/csv'], { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => {
      try {
        done(null, parseCsvBody(body as string, L));
      } catch (e) {
        done(e instanceof CsvBodyError ? httpError(400, e.message) : (e as Error), undefined);
      }
    });

    api.post('/v1/classify', { schema: classifySchema(L) }, async (req) => {
      const s = service();
      const rows = req.body as number[][];
      const labels = csvLabels.get(rows);
      const verdicts = await s.classify(rows);
      const results = new Array<Record<string, unknown>>(verdicts.length);
      for (let i = 0; i < verdicts.length; i++) {
        const v = verdicts[i]!;
        const r: Record<string, unknown> = {
          label: v.label,
          verdict: v.status,
          confidence: v.confidence,
          topk_labels: v.topk.map((t) => t.label),
          topk_scores: v.topk.map((t) => t.p),
        };
        if (labels !== undefined) r.app_service = labels[i];
        results[i] = r;
      }
      return { model_version: s.modelInfo.version, results };
    });

    api.get('/v1/flows', { schema: flowsSchema }, async (req) => {
      const q = req.query as Record<string, string | number | undefined>;
      const f: FlowFilter = { limit: q.limit as number };
      if (q.from !== undefined) f.from = parseTime(String(q.from), 'from');
      if (q.to !== undefined) f.to = parseTime(String(q.to), 'to');
      for (const k of ['label', 'verdict', 'address', 'conn_state', 'end_reason', 'uid'] as const) if (q[k] !== undefined) f[k] = String(q[k]);
      if (q.anomaly !== undefined) f.anomaly = q.anomaly as unknown as boolean;
      if (q.min_score !== undefined) f.min_score = q.min_score as number;
      if (q.port !== undefined) f.port = q.port as number;
      if (q.before !== undefined) f.before = q.before as number;
      return query((r) => r.flows(f));
    });

    api.get('/v1/summary', { schema: summarySchema }, async (req) => {
      const q = req.query as { from?: string; to?: string; buckets: number; top: number };
      const sq: SummaryQuery = {
        ...(q.from !== undefined ? { from: parseTime(q.from, 'from') } : {}),
        ...(q.to !== undefined ? { to: parseTime(q.to, 'to') } : {}),
        buckets: q.buckets,
        top: q.top,
      };
      return query((r) => r.summary(sq));
    });

    api.get('/v1/monitor', { schema: monitorSchema }, async () => query((r) => r.monitor()));

    api.get('/v1/anomalies', { schema: anomaliesSchema }, async (req) => {
      const q = req.query as { from?: string; to?: string; flagged?: boolean; limit: number };
      const f: AnomalyFilter = { limit: q.limit };
      if (q.from !== undefined) f.from = parseTime(q.from, 'from');
      if (q.to !== undefined) f.to = parseTime(q.to, 'to');
      if (q.flagged !== undefined) f.flagged = q.flagged;
      return query((r) => r.anomalies(f));
    });

    api.get('/v1/hosts', { schema: hostsSchema }, async (req) => {
      const q = req.query as { from?: string; to?: string; host?: string; group?: string; before?: number; limit: number };
      const f: HostFilter = { limit: q.limit };
      if (q.from !== undefined) f.from = parseTime(q.from, 'from');
      if (q.to !== undefined) f.to = parseTime(q.to, 'to');
      if (q.host !== undefined) f.host = q.host;
      if (q.group !== undefined) f.group = q.group;
      if (q.before !== undefined) f.before = q.before;
      return query((r) => r.hosts(f));
    });

    api.get('/v1/host-events', { schema: hostEventsSchema }, async (req) => {
      const q = req.query as { from?: string; to?: string; host?: string; before?: number; limit: number };
      const f: HostEventFilter = { limit: q.limit };
      if (q.from !== undefined) f.from = parseTime(q.from, 'from');
      if (q.to !== undefined) f.to = parseTime(q.to, 'to');
      if (q.host !== undefined) f.host = q.host;
      if (q.before !== undefined) f.before = q.before;
      return query((r) => r.hostEvents(f));
    });

    api.get('/v1/model', { schema: modelSchema }, async () => {
      const s = service();
      const m = s.modelInfo;
      const o = s.options;
      return {
        path: m.path,
        version: m.version,
        classes: m.classes,
        sequence_length: m.sequenceLength,
        device: m.device,
        training_data: m.trainingData,
        contract: {
          input: `float32 [N, ${m.sequenceLength}]: raw signed payload lengths, + client to server, - server to client, zero padded`,
          output: `float32 [N, ${m.classes.length}]: class probabilities in the order of classes`,
        },
        rules: { unknown_threshold: s.unknownThreshold, background_classes: m.backgroundClasses, min_payload_packets: o.minPayloadPackets, top_k: o.topK, batch_size: o.batchSize },
        metadata: modelMetadata(m.path),
      };
    });

    api.get('/v1/openapi.json', { schema: { hide: true } }, async () => app.swagger());

    api.get('/metrics', { schema: { hide: true } }, async (_req, reply) => {
      let text = await registry.metrics();
      if (opts.extraMetrics !== undefined) text += '\n' + (await opts.extraMetrics());
      return reply.type(registry.contentType).send(text);
    });
  });

  await app.ready();
  return {
    app,
    classify,
    close: async () => {
      await app.close();
      if (classify !== null) await classify.close();
      if (runner !== null) await runner.close();
    },
  };
}

/** Builds the server and listens on `listen`. A port in use is a one-line error. */
export async function startServer(opts: ServeOptions & { listen: ListenAddress }): Promise<SensorServer> {
  const built = await buildServer(opts);
  try {
    await built.app.listen({ host: opts.listen.host, port: opts.listen.port });
  } catch (e) {
    await built.close();
    throw new ServeError(`Cannot serve on ${opts.listen.host}:${opts.listen.port}: ${oneLine((e as Error).message)}`);
  }
  const addr = built.app.server.address();
  const port = typeof addr === 'object' && addr !== null ? addr.port : opts.listen.port;
  const host = opts.listen.host.includes(':') ? `[${opts.listen.host}]` : opts.listen.host;
  return { app: built.app, classify: built.classify, url: `http://${host}:${port}`, close: built.close };
}
