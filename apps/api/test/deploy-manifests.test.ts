// The deployment files — Dockerfile, compose.yaml (and deploy/compose/), deploy/kubernetes/ — checked
// without Docker or a cluster: each against its format's own schema or validator (the Compose
// Specification's JSON schema as dclint ships it, Kubernetes' OpenAPI schemas as kubernetes-models
// compiles them, dockerfile-utils' Dockerfile checks), then against the code: every variable they
// set is a setting the configuration reads, every port, path, probe and file they name exists.
// They read files only: no server, no database.
import { copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '@taskman/core';
import { DCLinter } from 'dclint';
import { type Copy, DockerfileParser, type Instruction } from 'dockerfile-ast';
import { validate as validateDockerfile } from 'dockerfile-utils';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { Job } from 'kubernetes-models/batch/v1';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, parseDocument } from 'yaml';
import { hasPrometheus, promtool } from './helpers/prometheus';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const exists = (file: string) => existsSync(path.join(ROOT, file));

// ---------------------------------------------------------------------------------------------
// The settings the configuration knows: the names loadConfig reads, recorded as it reads them (in
// embedded and in cluster mode), so this list is never written twice and a new setting is known at once.

function knownSettings(): Set<string> {
  const names = new Set<string>();
  const spy = (env: Record<string, string>) =>
    new Proxy(env, {
      get(target, key) {
        if (typeof key === 'string') names.add(key);
        return target[key as string];
      },
    });
  loadConfig(spy({}));
  loadConfig(
    spy({
      DATABASE_URL: 'postgres://db/taskman',
      DATABASE_REPLICA_URL: 'postgres://replica/taskman',
      REDIS_URL: 'redis://redis:6379',
      JWT_SECRET: 'x'.repeat(32),
      SMTP_URL: 'smtp://mail:25',
      LOG_FORMAT: 'json',
    }),
  );
  return names;
}
const SETTINGS = knownSettings();
const DEFAULTS = loadConfig({});
const unknownSettings = (names: string[]) => names.filter((n) => !SETTINGS.has(n));

// ---------------------------------------------------------------------------------------------
// Dockerfile

const dockerfileText = read('Dockerfile');
const dockerfile = DockerfileParser.parse(dockerfileText);
interface Stage {
  name: string | null;
  image: string;
  instructions: Instruction[];
}
const stages: Stage[] = [];
for (const instruction of dockerfile.getInstructions()) {
  if (instruction.getKeyword() === 'FROM') {
    const from = dockerfile
      .getFROMs()
      .find((f) => f.getRange().start.line === instruction.getRange().start.line)!;
    stages.push({ name: from.getBuildStage(), image: from.getImage() ?? '', instructions: [] });
  } else stages.at(-1)?.instructions.push(instruction);
}
const finalStage = stages.at(-1)!;
const inStage = (stage: Stage, keyword: string) =>
  stage.instructions.filter((i) => i.getKeyword() === keyword);
const args = (i: Instruction) => i.getArguments().map((a) => a.getValue());
/** A JSON-form instruction's array (CMD ["node", …]), else its arguments. */
const execForm = (i: Instruction): string[] => {
  const content = i.getArgumentsContent() ?? '';
  const json = content.replace(/^CMD\s+/, '');
  return json.trim().startsWith('[') ? (JSON.parse(json) as string[]) : args(i);
};
const dockerignore = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));
/** Whether .dockerignore keeps a path out of the build context (its plain and **\/name patterns). */
const ignored = (source: string) => {
  const parts = path.posix.normalize(source).split('/');
  return dockerignore.some((p) =>
    p.startsWith('**/')
      ? parts.includes(p.slice(3))
      : !/[*?[]/.test(p) &&
        parts.slice(0, p.replace(/^\//, '').split('/').length).join('/') === p.replace(/^\//, ''),
  );
};

describe('Dockerfile', () => {
  it('passes dockerfile-utils’ validator', () => {
    expect(validateDockerfile(dockerfileText).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual(
      [],
    );
  });

  it('ends with a runtime stage on a slim Node 20 image, production dependencies only', () => {
    expect(stages.length).toBeGreaterThan(1);
    expect(finalStage.name).toBe('runtime');
    expect(finalStage.image).toMatch(/^node:20(\.[\d.]+)?-(bookworm|trixie)-slim$/);
    const runs = inStage(finalStage, 'RUN').map((i) => i.getArgumentsContent() ?? '');
    expect(runs.some((r) => /\bnpm ci\b[^&|;]*--omit=dev/.test(r))).toBe(true);
    expect(runs.filter((r) => /\bnpm (ci|install)\b/.test(r) && !r.includes('--omit=dev'))).toEqual([]);
    // tsx runs the TypeScript at run time: it must survive --omit=dev.
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.dependencies?.tsx).toBeDefined();
    expect(pkg.devDependencies?.tsx).toBeUndefined();
  });

  it('builds the web app in an earlier stage and copies it into the final one', () => {
    const build = stages.find((s) =>
      inStage(s, 'RUN').some((i) => /npm run build:web/.test(i.getArgumentsContent() ?? '')),
    );
    expect(build?.name).toBeTruthy();
    expect(build).not.toBe(finalStage);
    const copies = inStage(finalStage, 'COPY').filter(
      (i) => (i as Copy).getFromFlag()?.getValue() === build!.name,
    );
    expect(copies.map((i) => args(i).at(-1))).toContain('apps/web/dist');
  });

  it('runs as a user that is not root', () => {
    const users = inStage(finalStage, 'USER').map((i) => args(i)[0]!.split(':')[0]);
    expect(users.length).toBeGreaterThan(0);
    expect(['root', '0']).not.toContain(users.at(-1));
  });

  it('checks /health/live with node itself and starts the API', () => {
    const [healthcheck] = inStage(finalStage, 'HEALTHCHECK');
    expect(healthcheck).toBeDefined();
    const probe = healthcheck!.getArgumentsContent()!;
    expect(probe).toMatch(/CMD \["node", "-e",/);
    expect(probe).toContain('/health/live');
    expect(probe).not.toMatch(/\b(curl|wget)\b/);
    const cmd = execForm(inStage(finalStage, 'CMD').at(-1)!);
    expect(cmd.slice(0, 3)).toEqual(['node', '--import', 'tsx']);
    expect(exists(cmd[3]!)).toBe(true);
    expect(cmd[3]).toBe('apps/api/src/main.ts');
    expect(inStage(finalStage, 'EXPOSE').flatMap(args)).toContain(String(DEFAULTS.port));
  });

  it('sets only settings Taskman knows', () => {
    const names = inStage(finalStage, 'ENV').flatMap((i) =>
      dockerfile
        .getENVs()
        .filter((e) => e.getRange().start.line === i.getRange().start.line)
        .flatMap((e) => e.getProperties().map((p) => p.getName())),
    );
    expect(names.length).toBeGreaterThan(0);
    expect(unknownSettings(names)).toEqual([]);
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    const stageNames = stages.map((s) => s.name);
    let copied = 0;
    for (const [index, stage] of stages.entries())
      for (const copy of inStage(stage, 'COPY')) {
        const from = (copy as Copy).getFromFlag()?.getValue();
        const sources = args(copy).slice(0, -1);
        if (from) {
          // From an earlier stage of this file (or an image, which has a ':' or '/').
          if (!/[:/]/.test(from)) expect(stageNames.slice(0, index), copy.toString()).toContain(from);
          continue;
        }
        for (const source of sources) {
          copied++;
          expect(exists(source), `COPY ${source}`).toBe(true);
          expect(ignored(source), `COPY ${source} is excluded by .dockerignore`).toBe(false);
        }
      }
    expect(copied).toBeGreaterThan(5);
  });

  it('keeps dependencies, data and the repository out of the build context', () => {
    for (const path of [
      'node_modules',
      'apps/web/node_modules',
      'data',
      '.git',
      'test-results',
      'apps/web/dist',
    ])
      expect(ignored(path), path).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// compose.yaml

interface ComposeService {
  image?: string;
  build?: { context?: string; target?: string };
  command?: string[];
  environment?: Record<string, string | number | boolean | null>;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  healthcheck?: { test: string[] | string };
  deploy?: { replicas?: number };
  restart?: string;
  stop_grace_period?: string;
}
const composeText = read('compose.yaml');
const composeDoc = parseDocument(composeText, { merge: true });
const compose = composeDoc.toJS() as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const services = compose.services;
const service = (name: string) => {
  const s = services[name];
  if (!s) throw new Error(`compose.yaml has no service ${name}`);
  return s;
};

/** Compose's variable interpolation, taking each default (and a placeholder for a required one). */
const interpolate = (value: string) =>
  value
    .replace(/\$\{(\w+)(:?[-?])([^}]*)\}/g, (_, name, op, arg) => (op.endsWith('-') ? arg : `<${name}>`))
    .replace(/\$\{(\w+)\}/g, '<$1>')
    .replace(/\$\$/g, '$');
const env = (s: ComposeService) =>
  Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, interpolate(String(v ?? ''))]));
/** Seconds in a Compose duration such as 30s or 1m30s. */
const seconds = (d: string) =>
  [...d.matchAll(/(\d+)(h|m|s)/g)].reduce(
    (t, [, n, u]) => t + Number(n) * { h: 3600, m: 60, s: 1 }[u as 'h']!,
    0,
  );
/** The configuration a service's process would load (the required secrets given valid values). */
const configOf = (s: ComposeService) =>
  loadConfig({ ...env(s), JWT_SECRET: 'x'.repeat(32), ENCRYPTION_KEY: 'a'.repeat(64) });
const mounts = (s: ComposeService) =>
  (s.volumes ?? []).map((v) => {
    const [source, target, mode] = interpolate(v).split(':');
    return { source: source!, target: target!, mode };
  });

const REQUIRED_SERVICES = [
  'api',
  'worker',
  'postgres',
  'postgres-replica',
  'redis',
  'nginx',
  'prometheus',
  'grafana',
];
/** Every dclint rule, off unless turned on below: the style ones (key order and such) are a matter of taste. */
const DCLINT_RULES = [
  'no-build-and-image',
  'no-duplicate-container-names',
  'no-duplicate-exported-ports',
  'no-quotes-in-volumes',
  'no-unbound-port-interfaces',
  'no-version-field',
  'require-project-name-field',
  'require-quotes-in-ports',
  'service-container-name-regex',
  'service-dependencies-alphabetical-order',
  'service-image-require-explicit-tag',
  'service-keys-order',
  'service-ports-alphabetical-order',
  'services-alphabetical-order',
  'top-level-properties-order',
];
/** The rules turned on, with their options (compose.yaml quotes with double quotes, as YAML does elsewhere here). */
const DCLINT_ON: Record<string, 2 | [2, Record<string, unknown>]> = {
  'no-duplicate-container-names': 2,
  'no-duplicate-exported-ports': 2,
  'no-quotes-in-volumes': 2,
  'no-version-field': 2,
  'require-project-name-field': 2,
  'require-quotes-in-ports': [2, { quoteType: 'double' }],
  'service-image-require-explicit-tag': 2,
};

describe('compose.yaml', () => {
  it('is valid YAML and valid against the Compose Specification (dclint)', () => {
    expect(composeDoc.errors).toEqual([]);
    const rules = Object.fromEntries(DCLINT_RULES.map((r) => [r, DCLINT_ON[r] ?? (0 as const)]));
    const linter = new DCLinter({ rules, quiet: true, debug: false, exclude: [] });
    const [result] = linter.lintFiles([path.join(ROOT, 'compose.yaml')], false);
    expect(result!.messages.map((m) => `${m.rule}: ${m.message}`)).toEqual([]);
  });

  it('runs every part of the deployment diagram, with 3 API processes and 2 workers', () => {
    expect(Object.keys(services)).toEqual(expect.arrayContaining(REQUIRED_SERVICES));
    expect(service('api').deploy?.replicas).toBe(3);
    expect(service('worker').deploy?.replicas).toBe(2);
  });

  it('gives the API and the worker only settings Taskman knows, the secrets as required variables', () => {
    for (const name of ['api', 'worker']) {
      const environment = service(name).environment ?? {};
      expect(unknownSettings(Object.keys(environment)), name).toEqual([]);
      for (const secret of ['JWT_SECRET', 'ENCRYPTION_KEY'])
        expect(String(environment[secret]), `${name} ${secret}`).toMatch(
          new RegExp(`^\\$\\{${secret}:\\?.+\\}$`),
        );
      expect(String(environment.DATABASE_URL)).toMatch(/\$\{POSTGRES_PASSWORD:\?.+\}/);
      const e = env(service(name));
      expect(new URL(e.DATABASE_URL!).hostname).toBe('postgres');
      expect(new URL(e.DATABASE_REPLICA_URL!).hostname).toBe('postgres-replica');
      expect(new URL(e.REDIS_URL!).hostname).toBe('redis');
      expect(e.APP_URL).toMatch(/^https:\/\//);
    }
    // The whole configuration loads, as the processes would load it.
    const api = configOf(service('api'));
    expect(api).toMatchObject({ mode: 'cluster', trustProxy: true, jobsInProcess: false });
    expect(api.shutdownDrainMs).toBe(5000);
    const worker = configOf(service('worker'));
    expect(worker.metricsPort).toBeGreaterThan(0);
  });

  it('gives processes time to finish when stopped', () => {
    const api = configOf(service('api'));
    expect(seconds(service('api').stop_grace_period ?? '10s') * 1000).toBeGreaterThan(
      api.shutdownDrainMs + 5000,
    );
    expect(seconds(service('worker').stop_grace_period ?? '10s') * 1000).toBeGreaterThan(
      DEFAULTS.jobLockMs + 5000,
    );
  });

  it('builds the API, the worker and nginx from stages of the Dockerfile; the worker runs the worker', () => {
    const stageNames = stages.map((s) => s.name);
    for (const [name, s] of Object.entries(services))
      if (s.build) expect(stageNames, name).toContain(s.build.target);
    expect(service('api').build?.target).toBe(finalStage.name);
    expect(service('worker').image).toBe(service('api').image);
    expect(service('worker').command).toEqual(['node', '--import', 'tsx', 'apps/worker/src/main.ts']);
    expect(exists('apps/worker/src/main.ts')).toBe(true);
  });

  it('checks the worker on its METRICS_PORT', () => {
    const port = env(service('worker')).METRICS_PORT;
    const test = [service('worker').healthcheck?.test ?? []].flat().join(' ');
    expect(test).toContain(`127.0.0.1:${port}/health/live`);
  });

  it('depends only on defined services, and waits for health only where there is a health check', () => {
    const imageHasHealthcheck = inStage(finalStage, 'HEALTHCHECK').length > 0;
    let edges = 0;
    for (const [name, s] of Object.entries(services))
      for (const [dependency, { condition }] of Object.entries(s.depends_on ?? {})) {
        edges++;
        expect(Object.keys(services), `${name} depends on ${dependency}`).toContain(dependency);
        const target = services[dependency]!;
        if (condition === 'service_healthy') {
          const checked =
            target.healthcheck || (target.build?.target === finalStage.name && imageHasHealthcheck);
          expect(checked, `${name} waits for ${dependency} to be healthy`).toBeTruthy();
        }
        if (condition === 'service_completed_successfully') expect(target.restart, dependency).toBe('no');
      }
    expect(edges).toBeGreaterThan(5);
  });

  it('mounts files that exist in the repository, and named volumes that are declared', () => {
    let files = 0;
    for (const [name, s] of Object.entries(services))
      for (const { source } of mounts(s)) {
        if (source.startsWith('.') || source.startsWith('/')) {
          files++;
          expect(exists(source), `${name} mounts ${source}`).toBe(true);
        } else
          expect(Object.keys(compose.volumes ?? {}), `${name} mounts the volume ${source}`).toContain(source);
      }
    expect(files).toBeGreaterThan(5);
  });

  it('gives nginx the template and proxy settings where the official image reads them, and every variable the template uses', () => {
    const nginx = service('nginx');
    const byTarget = Object.fromEntries(mounts(nginx).map((m) => [m.target, m.source]));
    expect(byTarget['/etc/nginx/templates/taskman.conf.template']).toBe(
      './deploy/nginx/taskman.conf.template',
    );
    expect(byTarget['/etc/nginx/taskman-proxy.conf']).toBe('./deploy/nginx/taskman-proxy.conf');
    const template = read('deploy/nginx/taskman.conf.template');
    const code = template
      .split('\n')
      .filter((l) => !l.trim().startsWith('#'))
      .join('\n');
    const used = [...new Set([...code.matchAll(/\$\{([A-Z_]+)\}/g)].map((m) => m[1]!))];
    expect(used.length).toBeGreaterThan(3);
    const e = env(nginx);
    for (const name of used) expect(e[name], `nginx ${name}`).toBeTruthy();
    expect(code).toContain('include taskman-proxy.conf;');
    // The upstream is the API service on the port it listens on, looked up again as containers
    // come and go (Docker's DNS).
    expect(e.UPSTREAM_SERVERS).toMatch(new RegExp(`(^|; )server api:${env(service('api')).PORT} resolve `));
    expect(e.UPSTREAM_SERVERS).toMatch(/^resolver 127\.0\.0\.11 /);
    // The certificate and key live in a volume nginx mounts.
    for (const file of [e.TLS_CERT!, e.TLS_KEY!])
      expect(
        mounts(nginx).some((m) => file.startsWith(`${m.target}/`)),
        file,
      ).toBe(true);
  });

  it('has Prometheus scrape the same jobs as deploy/prometheus/prometheus.yml, found by service name', () => {
    const byTarget = Object.fromEntries(mounts(service('prometheus')).map((m) => [m.target, m.source]));
    const config = parse(read(byTarget['/etc/prometheus/prometheus.yml']!));
    const reference = parse(read('deploy/prometheus/prometheus.yml'));
    expect(config.global).toEqual(reference.global);
    expect(config.rule_files).toEqual(reference.rule_files);
    for (const rule of config.rule_files as string[])
      expect(byTarget[`/etc/prometheus/${rule}`]).toBe(`./deploy/prometheus/${rule}`);
    type Job = {
      job_name: string;
      metrics_path: string;
      dns_sd_configs: { names: string[]; port: number }[];
    };
    const jobs = (j: { scrape_configs: Job[] }) => j.scrape_configs.map((s) => [s.job_name, s.metrics_path]);
    expect(jobs(config)).toEqual(jobs(reference));
    const ports: Record<string, number> = {
      'taskman-api': Number(env(service('api')).PORT),
      'taskman-worker': Number(env(service('worker')).METRICS_PORT),
    };
    const found = { 'taskman-api': 'api', 'taskman-worker': 'worker' } as Record<string, string>;
    for (const job of config.scrape_configs as Job[]) {
      expect(job.dns_sd_configs, job.job_name).toEqual([
        expect.objectContaining({ names: [found[job.job_name]], port: ports[job.job_name] }),
      ]);
    }
  });

  it.skipIf(!hasPrometheus())('has a Prometheus configuration promtool accepts', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'taskman-compose-prometheus-'));
    try {
      copyFileSync(path.join(ROOT, 'deploy/compose/prometheus.yml'), path.join(dir, 'prometheus.yml'));
      copyFileSync(path.join(ROOT, 'deploy/prometheus/alerts.yml'), path.join(dir, 'alerts.yml'));
      const r = await promtool(['check', 'config', path.join(dir, 'prometheus.yml')]);
      expect(r.code, r.output).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('provisions Grafana with the Prometheus service and the Taskman dashboard', () => {
    const byTarget = Object.fromEntries(mounts(service('grafana')).map((m) => [m.target, m.source]));
    const datasources = Object.entries(byTarget).filter(([t]) =>
      t.startsWith('/etc/grafana/provisioning/datasources/'),
    );
    const providers = Object.entries(byTarget).filter(([t]) =>
      t.startsWith('/etc/grafana/provisioning/dashboards/'),
    );
    expect(datasources).toHaveLength(1);
    expect(providers).toHaveLength(1);
    const [source] = parse(read(datasources[0]![1])).datasources;
    expect(source).toMatchObject({ type: 'prometheus', isDefault: true });
    expect(new URL(source.url).hostname).toBe('prometheus');
    const [provider] = parse(read(providers[0]![1])).providers;
    expect(byTarget[`${provider.options.path}/taskman-dashboard.json`]).toBe(
      './deploy/grafana/taskman-dashboard.json',
    );
  });

  it('streams the replica from the primary: WAL for replicas, a replication role and pg_hba entry, pg_basebackup -R', () => {
    const primary = service('postgres');
    expect(primary.command).toContain('wal_level=replica');
    const init = mounts(primary).find((m) => m.target.startsWith('/docker-entrypoint-initdb.d/'));
    const initScript = read(init!.source);
    expect(initScript).toMatch(/CREATE ROLE replicator WITH REPLICATION LOGIN/);
    expect(initScript).toMatch(/host replication replicator .*>> "\$PGDATA\/pg_hba.conf"/);
    const replica = service('postgres-replica');
    const entrypoint = mounts(replica).find((m) => m.source.endsWith('.sh'));
    const script = read(entrypoint!.source);
    expect(script).toMatch(/pg_basebackup[\s\S]*--write-recovery-conf/);
    expect(script).toContain('--username=replicator');
    expect(env(replica).PRIMARY_HOST).toBe('postgres');
    expect(replica.depends_on?.postgres?.condition).toBe('service_healthy');
  });
});

// ---------------------------------------------------------------------------------------------
// deploy/kubernetes/

const K8S = 'deploy/kubernetes';
/** Manifests kept beside the kustomization on purpose but not applied by it (see their comments). */
const OPTIONAL = ['secret.example.yaml', 'migrate-job.yaml'];
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'batch/v1/Job': Job,
};
type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; annotations?: Record<string, string> };
  [key: string]: any;
};
const kustomization = parse(read(`${K8S}/kustomization.yaml`)) as { resources: string[] };
const manifestFiles = readdirSync(path.join(ROOT, K8S)).filter(
  (f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml',
);
const documents = (file: string): Manifest[] => {
  const docs = parseAllDocuments(read(`${K8S}/${file}`));
  for (const d of docs) if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
  return docs.map((d) => d.toJS() as Manifest);
};
const applied = kustomization.resources.flatMap(documents);
const find = (kind: string, name: string) => {
  const m = applied.find((d) => d.kind === kind && d.metadata.name === name);
  if (!m) throw new Error(`no ${kind} ${name} in ${K8S}`);
  return m;
};
const apiDeployment = find('Deployment', 'taskman-api');
const workerDeployment = find('Deployment', 'taskman-worker');
const container = (d: Manifest) => d.spec.template.spec.containers[0];
const containerEnv = (d: Manifest): Record<string, string> =>
  Object.fromEntries(
    (container(d).env ?? []).map((e: { name: string; value?: string }) => [e.name, e.value]),
  );
const configMap = find('ConfigMap', 'taskman-config');
const exampleSecret = documents('secret.example.yaml')[0]!;

describe('deploy/kubernetes', () => {
  it('lists every manifest in kustomization.yaml, except the optional ones', () => {
    for (const file of kustomization.resources) expect(exists(`${K8S}/${file}`), file).toBe(true);
    expect(
      manifestFiles.filter((f) => !kustomization.resources.includes(f) && !OPTIONAL.includes(f)),
    ).toEqual([]);
    for (const file of OPTIONAL) expect(kustomization.resources).not.toContain(file);
  });

  it.each(manifestFiles)('%s is valid against the Kubernetes schemas (kubernetes-models)', (file) => {
    const docs = documents(file);
    expect(docs.length).toBeGreaterThan(0);
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      expect(Model, `${file}: ${doc.apiVersion} ${doc.kind}`).toBeDefined();
      expect(
        () => new Model!(doc as never).validate(),
        `${file}: ${doc.kind} ${doc.metadata?.name}`,
      ).not.toThrow();
    }
  });

  it('sets only settings Taskman knows (ConfigMap, the example Secret, the containers)', () => {
    const names = [
      ...Object.keys(configMap.data),
      ...Object.keys(exampleSecret.stringData),
      ...[apiDeployment, workerDeployment].flatMap((d) => Object.keys(containerEnv(d))),
    ];
    expect(unknownSettings(names)).toEqual([]);
    // The example's placeholders are refused at start, should it be applied as it is.
    const merged = { ...configMap.data, ...exampleSecret.stringData };
    expect(() => loadConfig(merged)).toThrow(/JWT_SECRET|ENCRYPTION_KEY/);
    for (const d of [apiDeployment, workerDeployment])
      expect(container(d).envFrom).toEqual([
        { configMapRef: { name: configMap.metadata.name } },
        { secretRef: { name: exampleSecret.metadata.name } },
      ]);
  });

  it('runs 3 API pods with startup, readiness and liveness probes on the health routes', () => {
    expect(apiDeployment.spec.replicas).toBe(3);
    const c = container(apiDeployment);
    const ports = c.ports.map((p: { name: string }) => p.name);
    expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    expect(c.startupProbe.httpGet.path).toBe('/health/live');
    for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe])
      expect(ports).toContain(probe.httpGet.port);
    expect(c.ports[0].containerPort).toBe(Number(containerEnv(apiDeployment).PORT ?? DEFAULTS.port));
    expect(c.command).toBeUndefined(); // the image's CMD: the API
  });

  it('gives the API its stop time: longer than the drain plus the longest request', () => {
    const api = loadConfig({ ...containerEnv(apiDeployment) });
    expect(api.shutdownDrainMs).toBeGreaterThan(0);
    expect(apiDeployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      api.shutdownDrainMs + api.requestTimeoutMs,
    );
    expect(containerEnv(apiDeployment).TRUST_PROXY).toBe('true');
  });

  it('runs 2 workers, checked on the METRICS_PORT they serve, with time to finish their jobs', () => {
    expect(workerDeployment.spec.replicas).toBe(2);
    const c = container(workerDeployment);
    expect(c.command).toEqual(['node', '--import', 'tsx', 'apps/worker/src/main.ts']);
    const port = c.ports.find((p: { name: string }) => p.name === c.livenessProbe.httpGet.port);
    expect(port.containerPort).toBe(Number(containerEnv(workerDeployment).METRICS_PORT));
    expect(c.livenessProbe.httpGet.path).toBe('/health/live');
    expect(c.startupProbe.httpGet.port).toBe(c.livenessProbe.httpGet.port);
    expect(workerDeployment.spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(
      DEFAULTS.jobLockMs + 5000,
    );
  });

  it('runs every container as non-root on a read-only root file system, with resources and a writable /tmp', () => {
    const pods = [...applied, ...documents('migrate-job.yaml')].filter(
      (d) => d.spec?.template?.spec?.containers,
    );
    expect(pods.length).toBe(3);
    for (const d of pods) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext.runAsNonRoot, d.metadata.name).toBe(true);
      expect(pod.securityContext.runAsUser, d.metadata.name).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.securityContext, c.name).toMatchObject({
          readOnlyRootFilesystem: true,
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        expect(c.resources.requests.memory, c.name).toBeDefined();
        expect(c.resources.limits.memory, c.name).toBeDefined();
        // tsx writes its compile cache to the temporary folder.
        expect(
          c.volumeMounts.map((m: { mountPath: string }) => m.mountPath),
          c.name,
        ).toContain('/tmp');
      }
    }
  });

  it('autoscales the API Deployment on CPU from its replica count', () => {
    const hpa = applied.find((d) => d.kind === 'HorizontalPodAutoscaler')!;
    expect(hpa.spec.scaleTargetRef).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'taskman-api',
    });
    expect(hpa.spec.minReplicas).toBe(apiDeployment.spec.replicas);
    expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
    expect(hpa.spec.metrics).toContainEqual(
      expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) }),
    );
    expect(container(apiDeployment).resources.requests.cpu).toBeDefined();
  });

  it('selects pods and ports that exist from every Service, and Services that exist from the Ingress', () => {
    const deployments = applied.filter((d) => d.kind === 'Deployment');
    for (const svc of applied.filter((d) => d.kind === 'Service')) {
      const target = deployments.find((d) =>
        Object.entries(svc.spec.selector).every(([k, v]) => d.spec.template.metadata.labels[k] === v),
      );
      expect(target, `Service ${svc.metadata.name}`).toBeDefined();
      const named = container(target!).ports.map((p: { name: string }) => p.name);
      for (const p of svc.spec.ports) expect(named, `Service ${svc.metadata.name}`).toContain(p.targetPort);
    }
    const ingresses = applied.filter((d) => d.kind === 'Ingress');
    expect(ingresses.length).toBeGreaterThan(0);
    for (const ing of ingresses) {
      expect(ing.spec.tls?.[0]?.secretName, ing.metadata.name).toBeTruthy();
      expect(ing.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-body-size']).toBe(
        `${DEFAULTS.bodyLimitBytes / 1_048_576}m`,
      );
      for (const rule of ing.spec.rules)
        for (const p of rule.http.paths) {
          const svc = find('Service', p.backend.service.name);
          expect(svc.spec.ports.map((x: { name: string }) => x.name)).toContain(p.backend.service.port.name);
        }
    }
  });
});

describe('the settings these checks compare with', () => {
  it('are the names loadConfig reads', () => {
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'DATABASE_REPLICA_URL',
      'REDIS_URL',
      'JWT_SECRET',
      'METRICS_PORT',
    ])
      expect(SETTINGS.has(name), name).toBe(true);
    expect(unknownSettings(['PORT', 'NOT_A_TASKMAN_SETTING'])).toEqual(['NOT_A_TASKMAN_SETTING']);
  });
});
