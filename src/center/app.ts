// Builds the command center: storage, hub, lifecycle, retention, and the Fastify app with its
// plugins, error handling, auth and routes. No listening and no environment here (see index.ts).
import Fastify from 'fastify';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import { pino } from 'pino';
import { resolveConfig } from './config.js';
import type { CenterConfig, ResolvedConfig } from './config.js';
import { openBackend } from './backend.js';
import type { CenterContext } from './context.js';
import type { Storage } from './storage/types.js';
import { Hub } from './sse/hub.js';
import { Metrics } from './metrics/metrics.js';
import { SessionLifecycle } from './lifecycle/lifecycle.js';
import { RetentionJob, runRetention } from './lifecycle/retention.js';
import { LoginGuard } from './auth/rate-limit.js';
import { hashToken } from './auth/secrets.js';
import { bootstrapAdmin } from './auth/bootstrap.js';
import type { BootstrapCredentials } from './auth/bootstrap.js';
import { registerErrorHandling } from './http/errors.js';
import { registerAuth, requireDeclaredAuth } from './http/auth.js';
import type { RegisteredRoute } from './http/auth.js';
import { MAX_PATH_SEGMENT, clientErrorHandler, frameworkErrors, registerHardening, requestSerializer } from './http/hardening.js';
import { sessionRoutes } from './routes/sessions/routes.js';
import { agentRoutes } from './routes/agents/routes.js';
import { ingestFramesRoutes } from './routes/ingest/frames.js';
import { ingestRoutes } from './routes/ingest/routes.js';
import { authRoutes } from './routes/auth/routes.js';
import { orgRoutes } from './routes/orgs/routes.js';
import { ssoRoutes } from './routes/auth/sso.js';
import { OidcProvider } from './auth/oidc.js';
import { systemRoutes } from './routes/system/routes.js';
import { registerWebUi } from './web-ui.js';
import { PcapRecorder } from './pcap/recorder.js';
import { exportRoutes } from './routes/export/routes.js';
import { shareRoutes } from './routes/share/routes.js';
import { AgentCommander } from './agents/commander.js';
import { CallFollower } from './agents/follow.js';

export type { RegisteredRoute } from './http/auth.js';

export interface Center {
  app: FastifyInstance;
  /** every route the app registered, in order: what the route-table tests (auth and bad-input matrix) walk */
  routes: readonly RegisteredRoute[];
  ctx: CenterContext;
  config: ResolvedConfig;
  storage: Storage;
  /** credentials generated at this start (first start only); print them once */
  bootstrap: BootstrapCredentials | null;
  /** runs the retention job once, now (tests, admin tools) */
  runRetention(): ReturnType<typeof runRetention>;
  close(): Promise<void>;
}

export async function createCenter(input: CenterConfig): Promise<Center> {
  const config = resolveConfig(input);
  // request URLs are logged with share tokens redacted (http/hardening.ts)
  const logOptions = { level: config.logLevel, base: { service: 'tunaio-center' }, serializers: { req: requestSerializer } };
  const logger = config.logDestination ? pino(logOptions, config.logDestination) : pino(logOptions);
  const onError = (err: unknown): void => logger.error({ err }, 'background job failed');
  const hub = new Hub();
  const metrics = new Metrics();
  const backend = await openBackend(config, { database: input.database, storage: input.storage, hub, onError });
  const { storage } = backend;
  const lifecycle = new SessionLifecycle(storage, backend.feed, config.now, config.sweepIntervalSeconds * 1000, onError);
  const ctx: CenterContext = {
    config,
    storage,
    hub,
    feed: backend.feed,
    metrics,
    metricsTokenHash: config.metricsToken !== undefined ? hashToken(config.metricsToken) : null,
    lifecycle,
    loginLimiter: new LoginGuard({
      maxFailures: config.loginMaxFailures,
      maxFailuresPerAddress: config.loginMaxFailuresPerAddress,
      windowMs: config.loginWindowSeconds * 1000,
      onLimited: (limit) => metrics.loginRefused.inc({ limit }),
      limiter: backend.loginLimiter,
    }),
    serial: backend.serial,
    pcap: new PcapRecorder(backend.pcapStore, storage),
    agents: new AgentCommander({
      storage,
      vault: backend.tokens,
      leadership: backend.leadership,
      forward: backend.forward,
      now: config.now,
      timeoutMs: config.agentTimeoutSeconds * 1000,
      reconcileMs: config.reconcileSeconds * 1000,
      onError,
      log: (msg, fields) => logger.warn(fields ?? {}, msg),
      info: (msg) => logger.info(msg),
      onAnswerTooLarge: (agent) => metrics.agentAnswersTooLarge.inc({ agent }),
      freshFollows: (sid, ids) => ctx.follower.fresh(sid, ids),
    }),
    oidc: config.oidc ? new OidcProvider(config.oidc) : null,
    follower: new CallFollower({ pushFollow: (sid, from, ids) => ctx.agents.pushFollow(sid, from, ids) }),
    secrets: backend.tokens,
  };
  backend.onForwarded((cmd) => void ctx.agents.onForwarded(cmd));

  let bootstrap: BootstrapCredentials | null;
  try {
    bootstrap = await bootstrapAdmin(storage, { password: config.adminPassword, token: config.adminToken }, config.scryptLog2N);
    await lifecycle.start();
  } catch (e) {
    lifecycle.close();
    await backend.close();
    await storage.close();
    throw e;
  }
  const retentionOnce = () =>
    runRetention(storage, ctx.pcap.store, config, config.now()).then((r) => {
      metrics.auditPruned.inc({}, r.audit);
      if (r.history.length + r.pcap.length + r.audit > 0) logger.info(r, 'retention deleted old data');
      return r;
    });
  const retention = new RetentionJob(retentionOnce, config.retentionIntervalSeconds * 1000, onError);
  retention.start();

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    bodyLimit: 1024 * 1024,
    return503OnClosing: true,
    routerOptions: { maxParamLength: MAX_PATH_SEGMENT },
    frameworkErrors,
    clientErrorHandler,
  });
  await app.register(cookie);
  // An empty body with a JSON content type (fetch clients that always set it, e.g. on DELETE or
  // logout) means "no body", not a 400; anything else goes to Fastify's safe JSON parser. The API
  // takes JSON only: other content types get 400.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser(['application/json', 'text/plain']);
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    // POST /api/ingest (the hot path): plain JSON.parse, without the safe parser's scan of the whole
    // body for "__proto__"/"constructor" keys. The scan is not needed there: the body goes through
    // ingestBodySchema (zod copies known keys only, refuses unknown ones) and each event through
    // fastIngestEvent or ingestEventSchema, which build new objects from known keys only, so a
    // "__proto__" key stays an own data property of a parsed object that nothing reads or merges
    // (see ingest.test.ts: no prototype pollution).
    if (req.routeOptions.url === '/api/ingest') {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        (e as { statusCode?: number }).statusCode = 400;
        return done(e as Error, undefined);
      }
      return done(null, value);
    }
    parseJson(req, text, done);
  });
  registerErrorHandling(app);
  registerHardening(app);
  // every route declares who may call it; the list is what the route-table tests walk
  const routes = requireDeclaredAuth(app);
  registerAuth(app, ctx);
  app.addHook('onResponse', async (req, reply) => {
    ctx.metrics.httpRequests.inc({ method: req.method, route: req.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) });
  });
  // close live streams first, or the server would wait for them
  app.addHook('preClose', async () => hub.abortAll());
  sessionRoutes(app, ctx);
  agentRoutes(app, ctx);
  ingestRoutes(app, ctx);
  ingestFramesRoutes(app, ctx);
  authRoutes(app, ctx);
  ssoRoutes(app, ctx);
  orgRoutes(app, ctx);
  exportRoutes(app, ctx);
  shareRoutes(app, ctx);
  systemRoutes(app, ctx, () => storage.countSessionsByStatus());
  if (config.webRoot !== undefined) await registerWebUi(app, { root: config.webRoot });
  await app.ready();

  let closed = false;
  return {
    app,
    routes,
    ctx,
    config,
    storage,
    bootstrap,
    runRetention: retentionOnce,
    async close() {
      if (closed) return;
      closed = true;
      await ctx.agents.close();
      lifecycle.close();
      retention.close();
      await app.close();
      await ctx.serial(async () => undefined);
      await backend.close();
      await storage.close();
    },
  };
}
