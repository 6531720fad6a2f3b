/**
 * Docker cannot run in CI, so the deployment files are checked statically against the code they deploy:
 * config/index.ts (what each process reads), workflows/shared.ts (search attributes), db/migrate.ts
 * (where migrations are read from). When a `docker compose` / `docker-compose` binary is installed, its own
 * validation runs too (it needs no Docker engine).
 *
 * Above ~400 lines on purpose: one static check per deployment file, all against the same parsed compose file.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  ApiConfigSchema,
  LauncherConfigSchema,
  WorkerConfigSchema,
  loadApiConfig,
  loadWorkerConfig,
} from '../../config';
import { MIGRATIONS_DIR } from '../../db/migrate';
import { SEARCH_ATTRIBUTES } from '../../workflows/shared';

const ROOT = path.resolve(__dirname, '../..');
const read = (file: string): string => readFileSync(path.join(ROOT, file), 'utf8');

/** Service names the checks rely on; renaming one in docker-compose.yml must be a deliberate change here too. */
const SERVICE = {
  db: 'postgresql',
  temporal: 'temporal',
  schema: 'temporal-schema',
  setup: 'temporal-setup',
  ui: 'temporal-ui',
  api: 'api',
  worker: 'worker',
} as const;

/** Values for the variables .env.example deliberately leaves blank: compose refuses to start without them. */
const TEST_SECRETS: Readonly<Record<string, string>> = {
  LINK_SECRET: 'test-link-secret-0123456789abcdef0123456789abcdef',
  POSTGRES_PASSWORD: 'test-postgres-password',
};

// ─── compose file model (only the keys checked here; everything else passes through) ─────────────────

const Scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const StringOrList = z.union([z.string(), z.array(z.string())]);
const ServiceSchema = z.looseObject({
  image: z.string().optional(),
  build: z.unknown().optional(),
  command: StringOrList.optional(),
  entrypoint: StringOrList.optional(),
  environment: z.union([z.record(z.string(), Scalar), z.array(z.string())]).optional(),
  depends_on: z
    .union([z.array(z.string()), z.record(z.string(), z.looseObject({ condition: z.string().optional() }))])
    .optional(),
  volumes: z.array(z.union([z.string(), z.looseObject({ source: z.string().optional() })])).optional(),
  ports: z.array(z.union([z.string(), z.number(), z.looseObject({})])).optional(),
  healthcheck: z.looseObject({ test: StringOrList.optional(), disable: z.boolean().optional() }).optional(),
  deploy: z.looseObject({ replicas: z.union([z.number(), z.string()]).optional() }).optional(),
  stop_grace_period: z.string().optional(),
});
type Service = z.infer<typeof ServiceSchema>;
const ComposeSchema = z.looseObject({ services: z.record(z.string(), ServiceSchema) });
type Compose = z.infer<typeof ComposeSchema>;

// ─── compose-style variable interpolation ─────────────────────────────────────────────────────────────

interface Reference {
  name: string;
  /** '' for ${VAR} / $VAR; otherwise one of - :- ? :? + :+ */
  operator: string;
  argument: string;
}

// `$$` is an escaped dollar (left for the container's shell); otherwise ${NAME[op arg]} or $NAME.
const REFERENCE = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g;

function references(text: string): Reference[] {
  const found: Reference[] = [];
  for (const m of text.matchAll(REFERENCE)) {
    const name = m[1] ?? m[4];
    if (name !== undefined) found.push({ name, operator: m[2] ?? '', argument: m[3] ?? '' });
  }
  return found;
}

/** What `docker compose` does to a value: same operators, same "empty counts as unset" for the `:` forms. */
function interpolate(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(REFERENCE, (whole: string, braced?: string, op?: string, arg?: string, bare?: string) => {
    if (whole === '$$') return '$';
    const name = braced ?? bare ?? '';
    const value = vars[name];
    const set = value !== undefined;
    const nonEmpty = set && value !== '';
    switch (op ?? '') {
      case '':
        return value ?? '';
      case ':-':
        return nonEmpty ? value : (arg ?? '');
      case '-':
        return set ? value : (arg ?? '');
      case ':?':
      case '?':
        if (op === ':?' ? !nonEmpty : !set) throw new Error(`${name}: ${arg ?? 'required'}`);
        return value ?? '';
      case ':+':
        return nonEmpty ? (arg ?? '') : '';
      default:
        return set ? (arg ?? '') : '';
    }
  });
}

function mapStrings(node: unknown, fn: (s: string) => string): unknown {
  if (typeof node === 'string') return fn(node);
  if (Array.isArray(node)) return node.map((item: unknown) => mapStrings(item, fn));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]: [string, unknown]) => [k, mapStrings(v, fn)]));
  }
  return node;
}

function allStrings(node: unknown): string[] {
  const out: string[] = [];
  mapStrings(node, (s) => {
    out.push(s);
    return s;
  });
  return out;
}

// ─── .env.example model ───────────────────────────────────────────────────────────────────────────────

interface EnvExampleEntry {
  name: string;
  value: string;
  /** `# NAME=value`: documents the default, sets nothing. */
  commented: boolean;
  line: number;
}

const ENV_LINE = /^(#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/;

function parseEnvExample(text: string): { entries: Map<string, EnvExampleEntry>; lines: string[] } {
  const lines = text.split('\n');
  const entries = new Map<string, EnvExampleEntry>();
  lines.forEach((raw, line) => {
    const m = ENV_LINE.exec(raw.trim());
    if (!m?.[2]) return;
    if (entries.has(m[2])) throw new Error(`.env.example lists ${m[2]} twice`);
    entries.set(m[2], { name: m[2], value: (m[3] ?? '').trim(), commented: m[1] !== undefined, line });
  });
  return { entries, lines };
}

// ─── helpers ──────────────────────────────────────────────────────────────────────────────────────────

type ObjectSchema = typeof ApiConfigSchema | typeof WorkerConfigSchema | typeof LauncherConfigSchema;
const SCHEMAS: ReadonlyArray<readonly [string, ObjectSchema]> = [
  ['api', ApiConfigSchema],
  ['worker', WorkerConfigSchema],
  ['launcher', LauncherConfigSchema],
];

function fieldOf(schema: ObjectSchema, key: string): z.ZodType | undefined {
  return (schema.shape as Record<string, z.ZodType>)[key];
}

/** Variables a process cannot start without: no default and not optional. */
function requiredKeys(schema: ObjectSchema): string[] {
  return Object.keys(schema.shape).filter((key) => fieldOf(schema, key)?.safeParse(undefined).success === false);
}

function environmentOf(service: Service | undefined): Record<string, string> {
  const env = service?.environment;
  if (!env) return {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((pair) => {
        const i = pair.indexOf('=');
        return i < 0 ? [pair, ''] : [pair.slice(0, i), pair.slice(i + 1)];
      }),
    );
  }
  return Object.fromEntries(
    Object.entries(env)
      .filter(([, v]) => v !== null)
      .map(([k, v]) => [k, String(v)]),
  );
}

function dependencies(service: Service | undefined): Record<string, string> {
  const deps = service?.depends_on;
  if (!deps) return {};
  if (Array.isArray(deps)) return Object.fromEntries(deps.map((d) => [d, 'service_started']));
  return Object.fromEntries(Object.entries(deps).map(([k, v]) => [k, v.condition ?? 'service_started']));
}

function commandOf(service: Service | undefined): string[] {
  const cmd = service?.command;
  if (cmd === undefined) return [];
  return Array.isArray(cmd) ? cmd : cmd.split(/\s+/).filter(Boolean);
}

/** Compose durations as used here: 30s, 1m30s, 500ms. */
function durationMs(text: string): number {
  let total = 0;
  const unit: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * (unit[m[2] ?? 's'] ?? 0);
  return total;
}

/** host of `host:port` or of a URL. */
function hostOf(address: string): string {
  if (address.includes('://')) return new URL(address).hostname;
  return address.slice(0, address.lastIndexOf(':'));
}

/** One published port as Docker binds it; hostIp undefined means every interface of the host. */
interface PortBinding {
  spec: string;
  hostIp: string | undefined;
  published: string;
  target: string;
}

type PortSpec = NonNullable<Service['ports']>[number];

const scalarText = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');

/** Short syntax `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` (IPv6 hosts in brackets or bare), or long syntax. */
function portBinding(port: PortSpec): PortBinding {
  if (typeof port === 'object') {
    const host = port.host_ip;
    return {
      spec: JSON.stringify(port),
      hostIp: typeof host === 'string' && host !== '' ? host : undefined,
      published: scalarText(port.published),
      target: scalarText(port.target),
    };
  }
  const spec = String(port);
  const withoutProto = spec.replace(/\/(tcp|udp|sctp)$/, '');
  const last = withoutProto.lastIndexOf(':');
  const target = withoutProto.slice(last + 1);
  const rest = last < 0 ? '' : withoutProto.slice(0, last);
  const middle = rest.lastIndexOf(':');
  const published = middle < 0 ? rest : rest.slice(middle + 1);
  const host = middle < 0 ? '' : rest.slice(0, middle).replace(/^\[(.*)\]$/, '$1');
  return { spec, hostIp: host === '' ? undefined : host, published, target };
}

const portBindings = (svc: Service | undefined): PortBinding[] => (svc?.ports ?? []).map(portBinding);

/** Reachable only from the host itself. No host IP, 0.0.0.0 or :: means every interface. */
const isLoopback = (b: PortBinding): boolean =>
  b.hostIp !== undefined && (/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(b.hostIp) || b.hostIp === '::1');

/** Local bind-mount sources (./…) of a service's volumes. */
function localMounts(service: Service | undefined): Array<{ source: string; target: string }> {
  return (service?.volumes ?? []).flatMap((v) => {
    if (typeof v !== 'string' || !v.startsWith('./')) return [];
    const [source = '', target = ''] = v.split(':');
    return [{ source, target }];
  });
}

// ─── fixtures ─────────────────────────────────────────────────────────────────────────────────────────

const composeText = read('docker-compose.yml');
const rawDocument: unknown = parseYaml(composeText);
const raw: Compose = ComposeSchema.parse(rawDocument);
const envExample = parseEnvExample(read('.env.example'));
/** What `cp .env.example .env` plus the two secrets gives compose to interpolate with. */
const composeVars: Record<string, string> = {
  ...Object.fromEntries(
    [...envExample.entries.values()].filter((e) => !e.commented).map((e) => [e.name, e.value] as const),
  ),
  ...TEST_SECRETS,
};
const compose: Compose = ComposeSchema.parse(mapStrings(rawDocument, (s) => interpolate(s, composeVars)));
const service = (name: string): Service | undefined => compose.services[name];
const apiEnv = environmentOf(service(SERVICE.api));
const workerEnv = environmentOf(service(SERVICE.worker));
const setupEnv = environmentOf(service(SERVICE.setup));

describe('docker-compose.yml', () => {
  it('uses the compose spec (no obsolete version key) and has every service the deployment needs', () => {
    expect(rawDocument).not.toHaveProperty('version');
    expect(Object.keys(compose.services).sort()).toEqual(expect.arrayContaining(Object.values(SERVICE).sort()));
  });

  it('(a) sets every variable the api and worker configs require, and the result loads', () => {
    const cases = [
      [SERVICE.api, ApiConfigSchema, apiEnv],
      [SERVICE.worker, WorkerConfigSchema, workerEnv],
    ] as const;
    for (const [name, schema, env] of cases) {
      const required = requiredKeys(schema);
      // Guard the derivation itself: these two are required today; if that changes, revisit this test.
      expect(required).toEqual(expect.arrayContaining(['DATABASE_URL', 'LINK_SECRET']));
      const missing = required.filter((key) => (env[key] ?? '') === '');
      expect({ service: name, missing }).toEqual({ service: name, missing: [] });
    }
    // The whole environment must parse, not merely be present (a 31-character secret would not).
    expect(() => loadApiConfig(apiEnv)).not.toThrow();
    expect(() => loadWorkerConfig(workerEnv)).not.toThrow();
    // Inside a container the config default 127.0.0.1 would make the API unreachable.
    expect(loadApiConfig(apiEnv).HOST).toBe('0.0.0.0');
    expect(service(SERVICE.api)?.ports ?? []).toContainEqual(
      `${loadApiConfig(apiEnv).PORT}:${loadApiConfig(apiEnv).PORT}`,
    );
  });

  it('passes api and worker only variables their config reads', () => {
    // A typo (LINK_SECRETS) would otherwise be silently ignored while the real variable falls back to its default.
    expect(Object.keys(apiEnv).filter((k) => !(k in ApiConfigSchema.shape))).toEqual([]);
    expect(Object.keys(workerEnv).filter((k) => !(k in WorkerConfigSchema.shape))).toEqual([]);
  });

  it('(b) documents in .env.example every ${VAR} used without a default, and gives secrets no default', () => {
    const undocumented = allStrings(rawDocument)
      .flatMap(references)
      .filter((r) => r.operator === '' || r.operator.endsWith('?'))
      .map((r) => r.name)
      .filter((name) => envExample.entries.get(name)?.commented !== false);
    expect([...new Set(undocumented)]).toEqual([]);

    for (const secret of Object.keys(TEST_SECRETS)) {
      const refs = allStrings(rawDocument)
        .flatMap(references)
        .filter((r) => r.name === secret);
      expect(refs.length).toBeGreaterThan(0);
      expect(refs.every((r) => r.operator === ':?')).toBe(true);
    }
    // And so a fresh copy of .env.example cannot start the stack with a blank secret.
    const withoutSecrets = { ...composeVars, LINK_SECRET: '' };
    expect(() => mapStrings(rawDocument, (s) => interpolate(s, withoutSecrets))).toThrow(/LINK_SECRET/);
  });

  it('(c) connects api and worker to services of this file, after postgresql is healthy and setup is done', () => {
    const names = new Set(Object.keys(compose.services));
    for (const [name, env] of [
      [SERVICE.api, apiEnv],
      [SERVICE.worker, workerEnv],
    ] as const) {
      const db = hostOf(env.DATABASE_URL ?? '');
      const temporal = hostOf(env.TEMPORAL_ADDRESS ?? '');
      expect({ service: name, db: names.has(db), temporal: names.has(temporal) }).toEqual({
        service: name,
        db: true,
        temporal: true,
      });
      expect(dependencies(service(name))).toMatchObject({
        [SERVICE.db]: 'service_healthy',
        [SERVICE.setup]: 'service_completed_successfully',
      });
    }
  });

  it('gives api and worker credentials and a database that postgresql actually creates', () => {
    const pg = environmentOf(service(SERVICE.db));
    for (const env of [apiEnv, workerEnv]) {
      const url = new URL(env.DATABASE_URL ?? '');
      expect(decodeURIComponent(url.username)).toBe(pg.POSTGRES_USER);
      expect(decodeURIComponent(url.password)).toBe(pg.POSTGRES_PASSWORD);
      expect(url.pathname).toBe(`/${pg.POSTGRES_DB}`);
    }
    expect(apiEnv.DATABASE_URL).toBe(workerEnv.DATABASE_URL);
  });

  it('makes api, worker and temporal-setup agree on Temporal address, namespace, task queue and link secret', () => {
    expect(apiEnv.TEMPORAL_ADDRESS).toBe(setupEnv.TEMPORAL_ADDRESS);
    expect(workerEnv.TEMPORAL_ADDRESS).toBe(setupEnv.TEMPORAL_ADDRESS);
    expect(apiEnv.TEMPORAL_NAMESPACE).toBe(setupEnv.NAMESPACE);
    expect(workerEnv.TEMPORAL_NAMESPACE).toBe(setupEnv.NAMESPACE);
    expect(environmentOf(service(SERVICE.ui)).TEMPORAL_DEFAULT_NAMESPACE).toBe(setupEnv.NAMESPACE);
    expect(apiEnv.TEMPORAL_TASK_QUEUE).toBe('duban');
    expect(workerEnv.TEMPORAL_TASK_QUEUE).toBe('duban');
    // Workers sign the links the API verifies.
    expect(workerEnv.LINK_SECRET).toBe(apiEnv.LINK_SECRET);
    expect(workerEnv.PUBLIC_BASE_URL).toBe(apiEnv.PUBLIC_BASE_URL);
  });

  it('(d) registers exactly the search attributes of workflows/shared.ts, within SQL visibility limits', () => {
    const registered = Object.fromEntries(
      (setupEnv.SEARCH_ATTRIBUTES ?? '')
        .split(/\s+/)
        .filter(Boolean)
        .map((pair) => pair.split('=')),
    );
    expect(registered).toEqual(SEARCH_ATTRIBUTES);
    // Temporal's SQL visibility allows per namespace 3 Int, 3 KeywordList and 10 Keyword custom attributes.
    const count = (type: string): number => Object.values(SEARCH_ATTRIBUTES).filter((t) => t === type).length;
    expect(count('Int')).toBeLessThanOrEqual(3);
    expect(count('KeywordList')).toBeLessThanOrEqual(3);
    expect(count('Keyword')).toBeLessThanOrEqual(10);

    const script = read('docker/temporal-setup.sh');
    expect(script).toMatch(/\$SEARCH_ATTRIBUTES/);
    expect(script).toMatch(/temporal operator search-attribute create|operator search-attribute create/);
    expect(script).toMatch(/operator namespace create/);
    expect(localMounts(service(SERVICE.setup)).map((m) => m.source)).toContain('./docker/temporal-setup.sh');
  });

  it('runs Temporal on PostgreSQL, after its schema is set up in both databases', () => {
    const temporal = environmentOf(service(SERVICE.temporal));
    expect(temporal.DB).toBe('postgres12');
    expect(temporal.POSTGRES_SEEDS).toBe(SERVICE.db);
    expect(temporal.BIND_ON_IP).toBe('0.0.0.0');
    expect(dependencies(service(SERVICE.temporal))).toMatchObject({
      [SERVICE.schema]: 'service_completed_successfully',
    });
    expect(dependencies(service(SERVICE.schema))).toMatchObject({ [SERVICE.db]: 'service_healthy' });
    expect(dependencies(service(SERVICE.setup))).toMatchObject({ [SERVICE.temporal]: 'service_healthy' });
    expect(hostOf(setupEnv.TEMPORAL_ADDRESS ?? '')).toBe(SERVICE.temporal);

    // Databases the server uses = databases the init SQL creates = databases the schema script prepares.
    const databases = [temporal.DBNAME ?? 'temporal', temporal.VISIBILITY_DBNAME ?? 'temporal_visibility'];
    const initSql = read('docker/postgres-init.sql');
    const schemaScript = read('docker/temporal-schema.sh');
    for (const db of databases) {
      expect(initSql).toMatch(new RegExp(`CREATE DATABASE ${db};`));
      expect(schemaScript).toMatch(new RegExp(`\\b${db}\\b`));
    }
    expect(schemaScript).toMatch(/setup-schema/);
    expect(schemaScript).toMatch(/update-schema/);
    // Server and admin-tools must be the same release: admin-tools carries the schema the server expects.
    const tag = (name: string): string => (service(name)?.image ?? '').split(':')[1] ?? '';
    expect(tag(SERVICE.schema)).toBe(tag(SERVICE.temporal));
    expect(tag(SERVICE.setup)).toBe(tag(SERVICE.temporal));
  });

  it('runs N worker replicas of the api image that drain on SIGTERM', () => {
    const api = service(SERVICE.api);
    const worker = service(SERVICE.worker);
    expect(worker?.image).toBe(api?.image);
    expect(commandOf(worker)).toEqual(['node', 'dist/worker/main.js']);
    expect(existsSync(path.join(ROOT, 'worker/main.ts'))).toBe(true);
    expect(raw.services[SERVICE.worker]?.deploy?.replicas).toBe('${WORKER_REPLICAS:-2}');
    expect(Number(worker?.deploy?.replicas)).toBeGreaterThanOrEqual(1);
    // The image's HEALTHCHECK probes HTTP, which the worker does not serve.
    expect(worker?.healthcheck?.disable).toBe(true);
    // Docker must wait longer than the processes' own shutdown budgets before SIGKILL.
    const workerGrace = loadWorkerConfig(workerEnv).WORKER_SHUTDOWN_GRACE_MS;
    expect(durationMs(worker?.stop_grace_period ?? '10s')).toBeGreaterThan(workerGrace);
    const apiGrace = loadApiConfig(apiEnv).SHUTDOWN_TIMEOUT_MS;
    expect(durationMs(api?.stop_grace_period ?? '10s')).toBeGreaterThan(apiGrace);
    // The api's compose healthcheck is readiness, not mere liveness.
    expect(JSON.stringify(api?.healthcheck?.test)).toMatch(/\/readyz/);
  });

  it('mounts only files that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const { source } of localMounts(svc)) {
        expect({ service: name, source, exists: existsSync(path.join(ROOT, source)) }).toEqual({
          service: name,
          source,
          exists: true,
        });
      }
    }
  });

  it('uses the same defaults as .env.example documents', () => {
    const mismatches = allStrings(rawDocument)
      .flatMap(references)
      .filter((r) => (r.operator === ':-' || r.operator === '-') && r.argument !== '')
      .filter((r) => {
        const documented = envExample.entries.get(r.name);
        return documented !== undefined && documented.value !== r.argument;
      })
      .map((r) => `${r.name}: compose ${r.argument} vs .env.example ${envExample.entries.get(r.name)?.value ?? ''}`);
    expect([...new Set(mismatches)]).toEqual([]);
  });
});

describe('docker-compose.yml: closed doors', () => {
  it('classifies port mappings the way Docker binds them (the checks below rely on it)', () => {
    const loopback = (port: PortSpec) => isLoopback(portBinding(port));
    for (const open of [
      '8233:8080',
      '8080',
      8080,
      '0.0.0.0:8233:8080',
      '[::]:8233:8080',
      '192.168.1.5:8233:8080',
      '8233:8080/tcp',
      { target: 8080, published: 8233 },
      { target: 8080, published: '8233', host_ip: '0.0.0.0' },
    ]) {
      expect({ open, loopback: loopback(open) }).toEqual({ open, loopback: false });
    }
    for (const closed of [
      '127.0.0.1:8233:8080',
      '127.0.0.1::8080',
      '[::1]:8233:8080',
      '127.0.0.1:8233:8080/tcp',
      { target: 8080, published: '8233', host_ip: '127.0.0.1' },
    ]) {
      expect({ closed, loopback: loopback(closed) }).toEqual({ closed, loopback: true });
    }
    expect(portBinding('127.0.0.1:8233:8080')).toMatchObject({
      hostIp: '127.0.0.1',
      published: '8233',
      target: '8080',
    });
  });

  it('never publishes the Temporal frontend, and publishes the Temporal UI on 127.0.0.1 only', () => {
    expect(portBindings(service(SERVICE.temporal))).toEqual([]);
    const ui = portBindings(service(SERVICE.ui));
    expect(ui.map((b) => b.target)).toEqual(['8080']);
    expect(ui.filter((b) => !isLoopback(b))).toEqual([]);
    expect(ui[0]?.published).toBe(envExample.entries.get('TEMPORAL_UI_PORT')?.value);
    // Loopback by the file itself, not by a variable a .env could change.
    for (const port of raw.services[SERVICE.ui]?.ports ?? []) expect(portBinding(port).spec).toMatch(/^127\.0\.0\.1:/);
  });

  it('runs the Temporal UI read-only: write actions disabled in the UI server, every action switch off', () => {
    const env = environmentOf(service(SERVICE.ui));
    const rawEnv = environmentOf(raw.services[SERVICE.ui]);
    // The UI server answers every non-GET API call with 405 when this is true.
    expect(env.TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('true');
    expect(rawEnv.TEMPORAL_DISABLE_WRITE_ACTIONS).toBe('true');
    for (const action of [
      'WORKFLOW_TERMINATE',
      'WORKFLOW_CANCEL',
      'WORKFLOW_SIGNAL',
      'WORKFLOW_UPDATE',
      'WORKFLOW_RESET',
      'BATCH_ACTIONS',
      'START_WORKFLOW',
      'ACTIVITY_COMMANDS',
    ]) {
      expect({ action, disabled: rawEnv[`TEMPORAL_${action}_DISABLED`] }).toEqual({ action, disabled: 'true' });
    }
  });

  it('publishes nothing but the API beyond the host itself, and PostgreSQL not at all', () => {
    expect(portBindings(service(SERVICE.db))).toEqual([]);
    const exposed = Object.entries(compose.services)
      .filter(([name]) => name !== SERVICE.api)
      .flatMap(([name, svc]) => portBindings(svc).map((b) => ({ service: name, ...b })))
      .filter((b) => !isLoopback(b));
    expect(exposed).toEqual([]);
    // Host networking would bypass every mapping above.
    const hostNetworked = Object.entries(compose.services).filter(([, svc]) => svc.network_mode === 'host');
    expect(hostNetworked.map(([name]) => name)).toEqual([]);
  });
});

describe('.env.example', () => {
  const { entries, lines } = envExample;

  it('(e) lists every variable the api, worker and launcher read, each with a comment', () => {
    const all = new Set(SCHEMAS.flatMap(([, schema]) => Object.keys(schema.shape)));
    expect([...all].filter((key) => !entries.has(key))).toEqual([]);

    const uncommented = [...entries.values()]
      .filter((e) => {
        const previous = lines[e.line - 1]?.trim() ?? '';
        return !previous.startsWith('#') || ENV_LINE.test(previous);
      })
      .map((e) => e.name);
    expect(uncommented).toEqual([]);
  });

  it('shows defaults that config/index.ts really applies', () => {
    const wrong: string[] = [];
    for (const entry of entries.values()) {
      if (entry.value === '') continue;
      for (const [name, schema] of SCHEMAS) {
        const field = fieldOf(schema, entry.name);
        if (!field) continue;
        const asDocumented = field.safeParse(entry.value);
        const byDefault = field.safeParse(undefined);
        if (!asDocumented.success) wrong.push(`${entry.name}: ${name} rejects ${entry.value}`);
        else if (byDefault.success && byDefault.data !== undefined && byDefault.data !== asDocumented.data) {
          wrong.push(`${entry.name}: ${name} default is ${JSON.stringify(byDefault.data)}, not ${entry.value}`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it('sets nothing but blank secrets, so a copied .env never overrides a default by accident', () => {
    const active = [...entries.values()].filter((e) => !e.commented);
    expect(active.map((e) => e.name).sort()).toEqual(Object.keys(TEST_SECRETS).sort());
    expect(active.every((e) => e.value === '')).toBe(true);
  });
});

describe('Dockerfile', () => {
  const text = read('Dockerfile');
  // Instructions with line continuations joined, comments dropped.
  const instructions = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = Object.fromEntries(
    instructions
      .filter((l) => /^ARG\s+\w+=/.test(l))
      .map((l) => {
        const [k = '', v = ''] = l.replace(/^ARG\s+/, '').split('=');
        return [k, v];
      }),
  );
  const stages: string[][] = [];
  for (const l of instructions) {
    if (/^FROM\s/i.test(l)) stages.push([l]);
    else stages.at(-1)?.push(l);
  }
  const runtime = stages.at(-1) ?? [];
  const runs = instructions.filter((l) => l.startsWith('RUN ')).join('\n');

  it('builds from node:20-bookworm-slim in every stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const stage of stages) {
      const image = (stage[0] ?? '').split(/\s+/)[1] ?? '';
      expect(image.replace(/\$\{(\w+)\}/g, (_m, name: string) => args[name] ?? '')).toBe('node:20-bookworm-slim');
    }
  });

  it('installs with npm ci, builds, copies the SQL migrations next to the compiled migrator, prunes dev deps', () => {
    expect(runs).toMatch(/npm ci\b/);
    const build = runs.indexOf('npm run build');
    const copy = runs.search(/cp\s+db\/migrations\/\*\.sql\s+dist\/db\/migrations\/?/);
    const prune = runs.indexOf('npm prune --omit=dev');
    expect(build).toBeGreaterThanOrEqual(0);
    expect(copy).toBeGreaterThan(build);
    expect(prune).toBeGreaterThan(build);
    // That destination is right only while db/migrate.ts reads <its own dir>/migrations …
    expect(path.relative(ROOT, MIGRATIONS_DIR)).toBe(path.join('db', 'migrations'));
    // … and while every migration is plain SQL (the copy takes *.sql only).
    const files = readdirSync(MIGRATIONS_DIR).filter((f) => statSync(path.join(MIGRATIONS_DIR, f)).isFile());
    expect(files.some((f) => f.endsWith('.sql'))).toBe(true);
    expect(files.filter((f) => /\.(ts|js|cjs|mjs)$/.test(f))).toEqual([]);
  });

  it('runs the API as the non-root node user, listening on all interfaces, with a node-based /healthz check', () => {
    expect(runtime).toContain('USER node');
    expect(runtime.join('\n')).toMatch(/HOST=0\.0\.0\.0/);
    const healthcheck = runtime.find((l) => l.startsWith('HEALTHCHECK')) ?? '';
    expect(healthcheck).toMatch(/"node"/);
    expect(healthcheck).toMatch(/\/healthz/);
    const cmd = runtime.find((l) => l.startsWith('CMD ')) ?? '';
    expect(JSON.parse(cmd.slice(4))).toEqual(['node', 'dist/api/main.js']);
    expect(existsSync(path.join(ROOT, 'api/main.ts'))).toBe(true);
    expect(runtime.join('\n')).toMatch(/COPY --from=build \/app\/dist/);
    expect(runtime.join('\n')).toMatch(/COPY --from=build \/app\/node_modules/);
  });

  it('.dockerignore keeps secrets and local state out and every source folder in', () => {
    const patterns = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !l.startsWith('#'));
    // Last matching pattern wins, `!` re-includes: the subset of Docker's rules this file uses.
    const ignored = (file: string): boolean => {
      let result = false;
      for (const p of patterns) {
        const negated = p.startsWith('!');
        const glob = p.replace(/^!/, '').replace(/^\/|\/$/g, '');
        const re = new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
        if (re.test(file)) result = !negated;
      }
      return result;
    };
    for (const secretOrState of ['.env', '.env.production', 'node_modules', 'dist', '.data', '.tools', '.git']) {
      expect({ file: secretOrState, ignored: ignored(secretOrState) }).toEqual({ file: secretOrState, ignored: true });
    }
    // Every top-level folder with TypeScript is needed by `npm run build`, except tests and dev tooling.
    const notInImage = new Set(['test', 'bench', 'scripts', 'node_modules', 'dist']);
    const sourceDirs = readdirSync(ROOT).filter(
      (d) =>
        !d.startsWith('.') &&
        !notInImage.has(d) &&
        statSync(path.join(ROOT, d)).isDirectory() &&
        readdirSync(path.join(ROOT, d)).some((f) => f.endsWith('.ts')),
    );
    const needed = [
      ...sourceDirs,
      'db/migrations/0001_initial.sql',
      'package.json',
      'package-lock.json',
      'tsconfig.json',
      'tsconfig.build.json',
    ];
    expect(needed.filter(ignored)).toEqual([]);
  });
});

// ─── (f) the compose CLI's own validation, where one is installed ────────────────────────────────────

function findComposeCli(): string[] | undefined {
  const candidates = [['docker', 'compose'], ['docker-compose']];
  return candidates.find(([bin = '', ...rest]) => {
    const probe = spawnSync(bin, [...rest, 'version'], { stdio: 'ignore', timeout: 5_000 });
    return probe.status === 0;
  });
}

const composeCli = findComposeCli();
if (!composeCli) {
  // Visible in the test output: the static checks above still ran.
  console.warn(
    'test/deploy: no `docker compose` or `docker-compose` binary; CLI validation skipped (apt-get install docker-compose)',
  );
}
const describeCli = composeCli ? describe : describe.skip;

describeCli(`${composeCli?.join(' ') ?? 'docker compose (not installed)'} config`, () => {
  const run = (extraEnv: Record<string, string>) => {
    const [bin = 'docker', ...rest] = composeCli ?? [];
    // A minimal environment: the developer's shell must not be what makes the file valid.
    return spawnSync(
      bin,
      [
        ...rest,
        '--env-file',
        path.join(ROOT, '.env.example'),
        '-f',
        path.join(ROOT, 'docker-compose.yml'),
        'config',
        '-q',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 15_000,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extraEnv },
      },
    );
  };

  it('validates the file with the secrets set', () => {
    const result = run({ ...TEST_SECRETS });
    expect({ status: result.status, stderr: result.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('refuses to run without LINK_SECRET', () => {
    const result = run({ POSTGRES_PASSWORD: TEST_SECRETS.POSTGRES_PASSWORD ?? '' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/LINK_SECRET/);
  });
});
