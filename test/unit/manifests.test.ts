import { readFileSync, readdirSync } from 'node:fs';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { chunkRows, OPTIONS, loadConfig, type Config } from '../../src/config/config.js';
import { ConfigErrors } from '../../src/errors.js';
import { HTTP_PATHS } from '../../src/http/server.js';
import { CONTAINER_RESERVE_SHARE, MB, resolveBudget } from '../../src/memory/budget.js';
import { planMemory } from '../../src/memory/plan.js';
import { youngGeneration } from '../../src/memory/young-generation.js';
import { createMetrics } from '../../src/metrics.js';

/**
 * The deployment files (k8s/, docker-compose.yml, deploy/, Dockerfile) agree
 * with the service: every variable they set is one it reads, with a value it
 * accepts; the memory limit is the budget and holds the configuration; the
 * probes and scrapes hit paths it serves on the port it listens on; the grace
 * periods cover the shutdown; scaling stops at the partition count; the
 * dashboard queries metrics it exports.
 */

const ROOT = new URL('../../', import.meta.url);
const read = (path: string): string => readFileSync(new URL(path, ROOT), 'utf8');

type Dict = Record<string, unknown>;

function dict(value: unknown, where: string): Dict {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where}: expected a mapping`);
  return value as Dict;
}

function list(value: unknown, where: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`);
  return value;
}

/** Every YAML document of a file, merge keys (`<<: *anchor`) resolved as docker compose does. */
function yamlDocuments(path: string): Dict[] {
  return parseAllDocuments(read(path), { merge: true }).flatMap((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    return value === null ? [] : [dict(value, `${path} document ${i + 1}`)];
  });
}

// ---- configuration ----

const ACCEPTED_ENV = new Set(Object.values(OPTIONS).map((option) => option.env));
/** Not the service's configuration, but fine to set for its process. */
const PASS_THROUGH_ENV = /^(NODE_OPTIONS|TESTCONTAINERS_[A-Z0-9_]+)$/;

/** The variables a manifest sets that the service does not read. */
function unknownVariables(env: Record<string, string>): string[] {
  return Object.keys(env).filter((name) => !ACCEPTED_ENV.has(name) && !PASS_THROUGH_ENV.test(name));
}

/** The configuration the service would load from `env`; KAFKA_BROKERS is required, so a placeholder stands in if unset. */
function configFrom(where: string, env: Record<string, string>): Config {
  try {
    return loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', ...env });
  } catch (error) {
    if (error instanceof ConfigErrors) throw new Error(`${where}: ${error.message}`);
    throw error;
  }
}

/** The memory plan of `config` under a container limit of `limitBytes`; throws ConfigError when the budget is too small. */
function planUnderLimit(config: Config, limitBytes: number) {
  const budget = resolveBudget(config.memoryLimitMb, { bytes: limitBytes, source: 'cgroup v2', path: '/sys/fs/cgroup/memory.max' });
  return planMemory({
    budget,
    workers: config.workers,
    chunkSize: chunkRows(config),
    maxMessageBytes: config.maxMessageBytes,
    chunkPoolSize: config.chunkPoolSize,
    youngGenerationBytes: youngGeneration().bytes,
  });
}

/** Kubernetes quantities (`512Mi`, `1Gi`, `536870912`, `500M`) in bytes. */
function k8sBytes(quantity: unknown): number {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(String(quantity));
  if (match === null) throw new Error(`not a memory quantity: ${String(quantity)}`);
  const units: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
  return Number(match[1]) * (match[2] === undefined ? 1 : units[match[2]]!);
}

/** Docker memory sizes (`512m`, `1g`, `524288k`, bytes): binary units. */
function dockerBytes(size: unknown): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmg])?b?$/i.exec(String(size));
  if (match === null) throw new Error(`not a docker memory size: ${String(size)}`);
  const units: Record<string, number> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30 };
  return Number(match[1]) * units[(match[2] ?? 'b').toLowerCase()]!;
}

/** Compose durations (`30s`, `1m30s`, `500ms`, `1h`) in milliseconds. */
function composeMs(duration: unknown): number {
  const text = String(duration);
  const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 1e-3 };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(h|ms|us|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a compose duration: ${text}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

function expectMemoryMatchesBudget(where: string, env: Record<string, string>, config: Config, limitBytes: number): void {
  // Without WORKERS the service takes the node's cores - 1, and the plan checked here would not be the one that runs.
  expect(env.WORKERS, `${where}: set WORKERS so the memory plan does not depend on the machine`).toBeDefined();
  const mostBudget = Math.floor(limitBytes * (1 - CONTAINER_RESERVE_SHARE));
  if (config.memoryLimitMb !== 'auto') {
    expect(config.memoryLimitMb * MB, `${where}: MEMORY_LIMIT_MB must leave the container's reserve below the memory limit`).toBeLessThanOrEqual(mostBudget);
  }
  const plan = planUnderLimit(config, limitBytes);
  expect(plan.budget.bytes).toBeLessThanOrEqual(mostBudget);
}

// ---- Kubernetes ----

const K8S_DIR = 'k8s/';
const k8sFiles = readdirSync(new URL(K8S_DIR, ROOT))
  .filter((file) => /\.ya?ml$/.test(file))
  .sort();
const k8sObjects = k8sFiles
  .filter((file) => !/^kustomization\.ya?ml$/.test(file))
  .flatMap((file) => yamlDocuments(K8S_DIR + file).map((object) => ({ file, object })));

function k8sObject(kind: string): Dict {
  const found = k8sObjects.filter(({ object }) => object.kind === kind);
  expect(found.map(({ file }) => file), `exactly one ${kind} in k8s/`).toHaveLength(1);
  return found[0]!.object;
}

const PARTITIONS_ANNOTATION = 'geowindow.io/input-topic-partitions';

describe('k8s manifests', () => {
  const configMap = k8sObject('ConfigMap');
  const deployment = k8sObject('Deployment');
  const deploymentSpec = dict(deployment.spec, 'Deployment spec');
  const podTemplate = dict(deploymentSpec.template, 'Deployment template');
  const podSpec = dict(podTemplate.spec, 'pod spec');
  const podLabels = dict(dict(podTemplate.metadata, 'pod metadata').labels, 'pod labels');
  const containers = list(podSpec.containers, 'containers').map((c, i) => dict(c, `container ${i}`));
  const container = containers.find((c) => c.name === 'geowindow') ?? dict(undefined, 'container geowindow');

  /** Values Kubernetes would refuse or that cannot be checked here. */
  const envProblems: string[] = [];

  /** The container's environment: ConfigMaps named in envFrom, then env entries (valueFrom ones as ''). */
  function containerEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const source of list(container.envFrom, 'envFrom').map((s) => dict(s, 'envFrom entry'))) {
      if (source.configMapRef === undefined) {
        // A Secret's keys are not in the repository: name each variable in `env` with valueFrom.secretKeyRef instead.
        envProblems.push(`envFrom ${JSON.stringify(source)}: only ConfigMaps in k8s/ can be checked; use env valueFrom`);
        continue;
      }
      const name = dict(source.configMapRef, 'envFrom configMapRef').name;
      const map = k8sObjects.find(({ object }) => object.kind === 'ConfigMap' && dict(object.metadata, 'metadata').name === name);
      if (map === undefined) {
        envProblems.push(`envFrom names ConfigMap ${String(name)}, which is not in k8s/`);
        continue;
      }
      const prefix = typeof source.prefix === 'string' ? source.prefix : '';
      for (const [key, value] of Object.entries(dict(map.object.data ?? {}, 'ConfigMap data'))) {
        if (typeof value !== 'string') envProblems.push(`ConfigMap data ${key} must be a string (quote numbers)`);
        env[prefix + key] = String(value);
      }
    }
    for (const entry of list(container.env, 'env').map((e) => dict(e, 'env entry'))) {
      const name = String(entry.name);
      if (entry.valueFrom !== undefined) {
        env[name] = env[name] ?? '';
        continue;
      }
      if (typeof entry.value !== 'string') envProblems.push(`env ${name} must be a string (quote numbers)`);
      env[name] = String(entry.value);
    }
    return env;
  }

  const env = containerEnv();
  const literalEnv = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  let loaded: Config | undefined;
  /** Loaded in the tests, so a bad value fails them rather than the whole file. */
  const config = (): Config => (loaded ??= configFrom('k8s', literalEnv));
  const partitions = Number(dict(dict(configMap.metadata, 'ConfigMap metadata').annotations ?? {}, 'annotations')[PARTITIONS_ANNOTATION]);

  function containerPort(port: unknown): number {
    if (typeof port === 'number') return port;
    const named = list(container.ports, 'ports')
      .map((p) => dict(p, 'port'))
      .find((p) => p.name === port);
    expect(named, `container port named ${String(port)}`).toBeDefined();
    return Number(named!.containerPort);
  }

  it('kustomization lists every manifest in k8s/', () => {
    const kustomization = yamlDocuments(K8S_DIR + 'kustomization.yaml')[0]!;
    const resources = list(kustomization.resources, 'resources').map(String).sort();
    expect(resources).toEqual(k8sFiles.filter((file) => !/^kustomization\.ya?ml$/.test(file)));
  });

  it('sets only variables the service reads, with values it accepts', () => {
    expect(envProblems).toEqual([]);
    expect(unknownVariables(env)).toEqual([]);
    expect(config().brokers.join(',')).toBe(env.KAFKA_BROKERS);
  });

  it('has memory request == limit, and that limit is a budget the configuration fits', () => {
    const resources = dict(container.resources, 'resources');
    const requests = dict(resources.requests, 'requests');
    const limits = dict(resources.limits, 'limits');
    const limitBytes = k8sBytes(limits.memory);
    expect(k8sBytes(requests.memory)).toBe(limitBytes);
    expectMemoryMatchesBudget('k8s', env, config(), limitBytes);
  });

  it('probes /healthz and /readyz on METRICS_PORT', () => {
    const paths = new Set<string>([HTTP_PATHS.health, HTTP_PATHS.ready]);
    const liveness = dict(dict(container.livenessProbe, 'livenessProbe').httpGet, 'livenessProbe.httpGet');
    const readiness = dict(dict(container.readinessProbe, 'readinessProbe').httpGet, 'readinessProbe.httpGet');
    expect(liveness.path).toBe(HTTP_PATHS.health);
    expect(readiness.path).toBe(HTTP_PATHS.ready);
    const probes = [liveness, readiness];
    if (container.startupProbe !== undefined) probes.push(dict(dict(container.startupProbe, 'startupProbe').httpGet, 'startupProbe.httpGet'));
    for (const probe of probes) {
      expect(paths.has(String(probe.path))).toBe(true);
      expect(containerPort(probe.port)).toBe(config().metricsPort);
    }
  });

  it('exposes /metrics on METRICS_PORT to the Service and to annotation-based scraping', () => {
    const service = k8sObject('Service');
    const serviceSpec = dict(service.spec, 'Service spec');
    expect(dict(serviceSpec.selector, 'Service selector')).toEqual(podLabels);
    for (const port of list(serviceSpec.ports, 'Service ports').map((p) => dict(p, 'Service port'))) {
      expect(containerPort(port.targetPort ?? port.port)).toBe(config().metricsPort);
    }
    const annotations = dict(dict(podTemplate.metadata, 'pod metadata').annotations ?? {}, 'pod annotations');
    if (annotations['prometheus.io/port'] !== undefined) expect(Number(annotations['prometheus.io/port'])).toBe(config().metricsPort);
    if (annotations['prometheus.io/path'] !== undefined) expect(annotations['prometheus.io/path']).toBe(HTTP_PATHS.metrics);
  });

  it('gives the shutdown more time than the preStop sleep plus SHUTDOWN_GRACE_MS', () => {
    const preStop = dict(dict(container.lifecycle ?? {}, 'lifecycle').preStop ?? {}, 'preStop');
    let preStopMs = 0;
    if (preStop.sleep !== undefined) preStopMs = Number(dict(preStop.sleep, 'preStop.sleep').seconds) * 1000;
    if (preStop.exec !== undefined) {
      const command = list(dict(preStop.exec, 'preStop.exec').command, 'preStop command').map(String);
      const sleep = command.join(' ').match(/\bsleep (\d+(?:\.\d+)?)\b/);
      expect(sleep, 'preStop exec is a sleep').not.toBeNull();
      preStopMs = Number(sleep![1]) * 1000;
    }
    const graceMs = Number(podSpec.terminationGracePeriodSeconds ?? 30) * 1000;
    expect(graceMs).toBeGreaterThan(config().shutdownGraceMs + preStopMs);
  });

  it('runs as non-root on a read-only root filesystem', () => {
    const podSecurity = dict(podSpec.securityContext ?? {}, 'pod securityContext');
    const security = dict(container.securityContext ?? {}, 'container securityContext');
    expect(security.runAsNonRoot ?? podSecurity.runAsNonRoot).toBe(true);
    expect(Number(security.runAsUser ?? podSecurity.runAsUser)).toBeGreaterThan(0);
    expect(security.readOnlyRootFilesystem).toBe(true);
    expect(security.allowPrivilegeEscalation).toBe(false);
  });

  it('scales on consumer lag up to the documented partition count and no further', () => {
    expect(Number.isInteger(partitions) && partitions > 0, `ConfigMap annotation ${PARTITIONS_ANNOTATION}`).toBe(true);
    const scaled = k8sObject('ScaledObject');
    const spec = dict(scaled.spec, 'ScaledObject spec');
    expect(dict(spec.scaleTargetRef, 'scaleTargetRef').name).toBe(dict(deployment.metadata, 'Deployment metadata').name);
    const min = Number(spec.minReplicaCount ?? 0);
    const max = Number(spec.maxReplicaCount);
    expect(max).toBeLessThanOrEqual(partitions);
    expect(min).toBeLessThanOrEqual(max);
    if (deploymentSpec.replicas !== undefined) expect(Number(deploymentSpec.replicas)).toBeLessThanOrEqual(partitions);

    const triggers = list(spec.triggers, 'triggers').map((t) => dict(t, 'trigger'));
    const kafka = triggers.filter((t) => t.type === 'kafka' || t.type === 'apache-kafka');
    expect(kafka).toHaveLength(1);
    const metadata = dict(kafka[0]!.metadata, 'kafka trigger metadata');
    for (const [key, value] of Object.entries(metadata)) expect(typeof value, `KEDA metadata ${key} must be a string`).toBe('string');
    expect(metadata.allowIdleConsumers).toBe('false');
    expect(metadata.topic).toBe(config().inputTopic);
    expect(metadata.consumerGroup).toBe(config().groupId);
    expect(metadata.bootstrapServers).toBe(config().brokers.join(','));
    if (metadata.offsetResetPolicy !== undefined) expect(metadata.offsetResetPolicy).toBe(config().startFrom);
    // A partition that keeps up still holds its open window (up to CHUNK_SIZE
    // records) uncommitted; that resting lag alone must not scale past minReplicaCount.
    const lagThreshold = Number(metadata.lagThreshold);
    expect(lagThreshold * Math.max(1, min)).toBeGreaterThanOrEqual(partitions * chunkRows(config()));
  });

  it('has a PodDisruptionBudget for the pods', () => {
    const pdb = dict(k8sObject('PodDisruptionBudget').spec, 'PodDisruptionBudget spec');
    expect(dict(dict(pdb.selector, 'PDB selector').matchLabels, 'PDB matchLabels')).toEqual(podLabels);
    expect(pdb.maxUnavailable !== undefined || pdb.minAvailable !== undefined).toBe(true);
  });
});

// ---- docker compose, Prometheus, Grafana ----

const compose = dict(parse(read('docker-compose.yml'), { merge: true }), 'docker-compose.yml');
const services = dict(compose.services, 'services');

/** Services built from this repository that run the service (not `produce` or `soak`). */
const geowindowServices = Object.entries(services)
  .map(([name, value]) => [name, dict(value, `service ${name}`)] as const)
  .filter(([, service]) => service.build !== undefined)
  .filter(([, service]) => {
    const command = Array.isArray(service.command) ? service.command.map(String) : String(service.command ?? 'run').split(/\s+/);
    return command[0] === 'run';
  });

function composeEnv(service: Dict): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map(String).map((entry) => [entry.split('=', 1)[0]!, entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(dict(env, 'environment')).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

/** `"9465:9464"`, `"127.0.0.1:9465:9464/tcp"` or a long-syntax entry, as host and container port. */
function portMapping(entry: unknown): { host: string | undefined; container: number } {
  if (typeof entry === 'object' && entry !== null) {
    const long = entry as Dict;
    return { host: long.published === undefined ? undefined : String(long.published), container: Number(long.target) };
  }
  const parts = String(entry).replace(/\/(tcp|udp)$/, '').split(':');
  return { host: parts.length > 1 ? parts[parts.length - 2] : undefined, container: Number(parts[parts.length - 1]) };
}

describe('docker-compose.yml', () => {
  it('runs at least two geowindow instances in one consumer group, no more than the input partitions', () => {
    expect(geowindowServices.length).toBeGreaterThanOrEqual(2);
    const configs = geowindowServices.map(([name, service]) => configFrom(`compose ${name}`, composeEnv(service)));
    expect(new Set(configs.map((c) => c.groupId)).size).toBe(1);
    const topics = JSON.stringify(services.topics ?? '');
    const created = new RegExp(`${configs[0]!.inputTopic.replace(/\./g, '\\.')}:(\\d+)`).exec(topics);
    expect(created, 'the topics service creates the input topic with a partition count').not.toBeNull();
    expect(geowindowServices.length).toBeLessThanOrEqual(Number(created![1]));
  });

  for (const [name, service] of geowindowServices) {
    describe(name, () => {
      const env = composeEnv(service);
      let loaded: Config | undefined;
      const config = (): Config => (loaded ??= configFrom(`compose ${name}`, env));

      it('sets only variables the service reads, with values it accepts', () => {
        expect(unknownVariables(env)).toEqual([]);
        expect(config().groupId).toBeTypeOf('string');
      });

      it('has a mem_limit that is a budget the configuration fits', () => {
        expect(service.mem_limit, 'mem_limit is the memory budget').toBeDefined();
        const limitBytes = dockerBytes(service.mem_limit);
        if (service.memswap_limit !== undefined) expect(dockerBytes(service.memswap_limit)).toBe(limitBytes);
        expectMemoryMatchesBudget(`compose ${name}`, env, config(), limitBytes);
      });

      it('publishes METRICS_PORT and stops within its grace period', () => {
        const mappings = list(service.ports, 'ports').map(portMapping);
        expect(mappings.map((m) => m.container)).toContain(config().metricsPort);
        // docker stop waits 10 s by default before SIGKILL.
        const graceMs = service.stop_grace_period === undefined ? 10_000 : composeMs(service.stop_grace_period);
        expect(graceMs).toBeGreaterThan(config().shutdownGraceMs);
      });
    });
  }

  it('publishes no host port twice', () => {
    const hostPorts = Object.values(services)
      .flatMap((service) => list(dict(service, 'service').ports, 'ports').map(portMapping))
      .map((m) => m.host)
      .filter((host): host is string => host !== undefined);
    expect(hostPorts.length).toBeGreaterThan(0);
    expect(new Set(hostPorts).size).toBe(hostPorts.length);
  });

  it('pins every image to a version', () => {
    for (const [name, service] of Object.entries(services)) {
      const image = dict(service, name).image;
      if (image === undefined) continue;
      expect(String(image), name).toMatch(/:v?\d+\.\d+\.\d+/);
    }
  });

  it('has Prometheus scrape /metrics of every geowindow instance on METRICS_PORT', () => {
    const prometheus = dict(parse(read('deploy/prometheus/prometheus.yml')), 'prometheus.yml');
    const jobs = list(prometheus.scrape_configs, 'scrape_configs').map((j) => dict(j, 'scrape config'));
    const job = jobs.find((j) => j.job_name === 'geowindow');
    expect(job).toBeDefined();
    expect(job!.metrics_path ?? '/metrics').toBe(HTTP_PATHS.metrics);
    const targets = list(job!.static_configs, 'static_configs').flatMap((s) => list(dict(s, 'static config').targets, 'targets')).map(String);
    const expected = geowindowServices.map(([name, service]) => `${name}:${configFrom(name, composeEnv(service)).metricsPort}`);
    expect(targets.sort()).toEqual(expected.sort());
  });
});

// ---- Grafana dashboard ----

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/** Metric names a PromQL expression (or a Grafana `label_values(metric, label)` query) selects. */
function metricNames(expr: string): string[] {
  const labelValues = /^\s*label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(expr);
  if (labelValues !== null) return [labelValues[1]!];
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, ' ') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping labels
    .replace(/\$\{?\w+\}?/g, ' ') // Grafana variables
    .replace(/\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b/gi, ' '); // numbers
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*/g)) {
    const after = stripped.slice(match.index + match[0].length);
    if (/^\s*\(/.test(after) || PROMQL_WORDS.has(match[0].toLowerCase())) continue; // a function or an operator
    names.push(match[0]);
  }
  return names;
}

interface Panel {
  readonly title?: string;
  readonly datasource?: { readonly uid?: string };
  readonly targets?: readonly { readonly expr?: string; readonly datasource?: { readonly uid?: string } }[];
  readonly panels?: readonly Panel[];
}

describe('Grafana dashboard', () => {
  const dashboard = JSON.parse(read('deploy/grafana/dashboards/geowindow.json')) as {
    panels: Panel[];
    templating?: { list: { name: string; type: string; query?: string | { query?: string } }[] };
  };
  const panels = dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
  const exprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr ?? ''));
  const variables = dashboard.templating?.list ?? [];
  const variableQueries = variables
    .filter((v) => v.type === 'query')
    .map((v) => (typeof v.query === 'string' ? v.query : (v.query?.query ?? '')));

  it('queries only metrics the service exports', async () => {
    const json = await createMetrics(new Registry()).registry.getMetricsAsJSON();
    const exported = new Set(
      json.flatMap((metric) => {
        const type = String(metric.type);
        if (type === 'histogram') return [`${metric.name}_bucket`, `${metric.name}_sum`, `${metric.name}_count`];
        if (type === 'summary') return [metric.name, `${metric.name}_sum`, `${metric.name}_count`];
        return [metric.name];
      }),
    );
    const queried = [...new Set([...exprs, ...variableQueries].flatMap(metricNames))].sort();
    expect(queried.length).toBeGreaterThan(0);
    expect(queried.filter((name) => !exported.has(name))).toEqual([]);
  });

  it('shows throughput, dead letters, lag, memory against the budget, pauses, worker restarts and latency quantiles', () => {
    const queried = new Set(exprs.flatMap(metricNames));
    for (const name of [
      'geowindow_records_in_total',
      'geowindow_records_aggregated_total',
      'geowindow_records_dead_lettered_total',
      'geowindow_consumer_lag',
      'geowindow_memory_rss_bytes',
      'geowindow_memory_budget_bytes',
      'geowindow_consumer_paused',
      'geowindow_worker_restarts_total',
      'geowindow_window_processing_seconds_bucket',
      'geowindow_end_to_end_latency_seconds_bucket',
    ]) {
      expect(queried.has(name), name).toBe(true);
    }
    for (const histogram of ['geowindow_window_processing_seconds', 'geowindow_end_to_end_latency_seconds']) {
      for (const q of ['0.5', '0.99']) {
        expect(exprs.some((e) => e.includes(`histogram_quantile(${q},`) && e.includes(`${histogram}_bucket`)), `${histogram} p${q}`).toBe(true);
      }
    }
    expect(exprs.some((e) => /by \([^)]*reason/.test(e) && e.includes('geowindow_records_dead_lettered_total'))).toBe(true);
  });

  it('uses the provisioned Prometheus datasource, by uid or through a datasource variable', () => {
    const provisioned = dict(parse(read('deploy/grafana/provisioning/datasources/prometheus.yml')), 'datasources');
    const sources = list(provisioned.datasources, 'datasources').map((d) => dict(d, 'datasource'));
    // A `${datasource}` variable picks the default datasource, so the provisioned one must be it.
    expect(sources.filter((d) => d.type === 'prometheus' && d.isDefault === true)).toHaveLength(1);
    const uids = [
      ...sources.map((d) => d.uid),
      ...variables.filter((v) => v.type === 'datasource' && v.query === 'prometheus').map((v) => '${' + v.name + '}'),
    ];
    for (const panel of panels.filter((p) => (p.targets ?? []).length > 0)) {
      for (const uid of [panel.datasource?.uid, ...(panel.targets ?? []).map((t) => t.datasource?.uid)]) {
        if (uid !== undefined) expect(uids, panel.title).toContain(uid);
      }
    }
  });
});

describe('metricNames', () => {
  it('finds the metrics of a PromQL expression and skips functions, labels, variables and numbers', () => {
    expect(
      metricNames('histogram_quantile(0.99, sum by (le) (rate(a_bucket{instance=~"$instance", x="b_total"}[$__rate_interval]))) / on(job) group_left c'),
    ).toEqual(['a_bucket', 'c']);
    expect(metricNames('sum(max by (topic, partition) (lag{i="1"})) + max(budget) * 0.85')).toEqual(['lag', 'budget']);
    expect(metricNames('label_values(geowindow_records_in_total, instance)')).toEqual(['geowindow_records_in_total']);
  });
});

// ---- Dockerfile ----

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile').replace(/\\\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));

  it('installs without running `prepare` (tsc), and the runtime stage builds nothing', () => {
    for (const line of dockerfile.split('\n').filter((l) => /^RUN .*npm ci/.test(l))) expect(line).toContain('--ignore-scripts');
    expect(runtime).not.toMatch(/^RUN .*\b(npm|npx|tsc)\b/m);
    expect(runtime).toMatch(/^COPY --from=\w+ \/app\/node_modules node_modules$/m);
  });

  it('runs node under tini with --expose-gc as a non-root user', () => {
    expect(runtime).toMatch(/^ENTRYPOINT \["\/usr\/bin\/tini", "--", "node", "--expose-gc", /m);
    const user = /^USER (\S+)$/m.exec(runtime)?.[1];
    expect(user).toBeDefined();
    expect(['root', '0', '0:0']).not.toContain(user);
  });

  it('checks /healthz on the port it exposes, the default METRICS_PORT', () => {
    expect(runtime).toMatch(new RegExp(`^HEALTHCHECK .*${HTTP_PATHS.health}`, 'm'));
    expect(/^EXPOSE (\d+)$/m.exec(runtime)?.[1]).toBe(OPTIONS.metricsPort.fallback);
    expect(/METRICS_PORT=(\d+)/.exec(runtime)?.[1]).toBe(OPTIONS.metricsPort.fallback);
  });
});
