/**
 * Argument parsing of the `tenantry` command (`node:util` parseArgs) and its help texts.
 * Kept free of the library (and of zod) so that `--help` and argument errors answer at once.
 */
import { parseArgs } from 'node:util';

/** Plans, regions and statuses of the protocol (test/cli-args.test.ts keeps them equal to the schemas). */
export const PLANS = ['free', 'pro', 'enterprise'] as const;
/** Regions of the protocol's `TenantProvisioningRequest`. */
export const REGIONS = ['us-east', 'us-west', 'eu-west', 'eu-central', 'ap-southeast', 'ap-northeast'] as const;
/** Statuses of a tenant record. */
export const STATUSES = ['provisioning', 'active', 'suspended', 'failed', 'destroying'] as const;

type Plan = (typeof PLANS)[number];
type Region = (typeof REGIONS)[number];
type Status = (typeof STATUSES)[number];

/** A command line that could not be understood: printed with the usage, exit code 2. */
export class UsageError extends Error {
  /** The command whose usage to print, when known. */
  readonly command: CommandName | undefined;

  constructor(message: string, command?: CommandName) {
    super(message);
    this.name = 'UsageError';
    this.command = command;
  }
}

/** A parsed command with its arguments. */
export type Command =
  | { name: 'provision'; orgId: string; plan?: Plan; region?: Region }
  | { name: 'list'; status?: Status; plan?: Plan }
  | { name: 'show' | 'suspend' | 'resume' | 'usage'; id: string }
  | { name: 'destroy'; id: string; immediate: boolean; yes: boolean }
  | { name: 'plan'; id: string; plan: Plan }
  | { name: 'migrate'; dir?: string; concurrency?: number; dryRun: boolean }
  | { name: 'purge-expired'; yes: boolean }
  | { name: 'migrate-control-plane' }
  | { name: 'deploy'; bundle: string; planOnly: boolean; allowDestructive: boolean; concurrency?: number }
  | { name: 'rollback'; deploymentId: string; concurrency?: number };

/** The name of a command. */
export type CommandName = Command['name'];

/** What to run: a command and the global options. */
export interface Invocation {
  command: Command;
  /** Print JSON instead of tables. */
  json: boolean;
  /** `--config <path>`, as given. */
  config: string | undefined;
}

/** The outcome of {@link parseCommandLine}: help to print, or an invocation to run. */
export type ParsedCommandLine = { kind: 'help'; text: string } | { kind: 'run'; invocation: Invocation };

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  plan: { type: 'string' },
  region: { type: 'string' },
  status: { type: 'string' },
  immediate: { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  dir: { type: 'string' },
  concurrency: { type: 'string' },
  'dry-run': { type: 'boolean' },
  'plan-only': { type: 'boolean' },
  'allow-destructive': { type: 'boolean' },
} as const;

type OptionName = keyof typeof OPTIONS;

const GLOBAL_OPTIONS: readonly OptionName[] = ['config', 'json', 'help'];

interface CommandSpec {
  args: readonly string[];
  options: readonly OptionName[];
  summary: string;
  usage: string;
  details: string;
}

const SPECS: Readonly<Record<CommandName, CommandSpec>> = {
  provision: {
    args: ['orgId'],
    options: ['plan', 'region'],
    summary: 'create a tenant and its database',
    usage: 'tenantry provision <orgId> [--plan <plan>] [--region <region>]',
    details: [
      `  --plan <plan>       ${PLANS.join(' | ')} (default free)`,
      `  --region <region>   ${REGIONS.join(' | ')} (default us-east)`,
      '',
      'The tenant id is <orgId>. Provisioning an existing tenant shows it as it is; a failed',
      'provisioning is undone and exits 1.',
    ].join('\n'),
  },
  list: {
    args: [],
    options: ['status', 'plan'],
    summary: 'list tenants',
    usage: 'tenantry list [--status <status>] [--plan <plan>] [--json]',
    details: [`  --status <status>   ${STATUSES.join(' | ')}`, `  --plan <plan>       ${PLANS.join(' | ')}`].join('\n'),
  },
  show: {
    args: ['id'],
    options: [],
    summary: "show a tenant's record",
    usage: 'tenantry show <id> [--json]',
    details: 'Database tokens are never printed.',
  },
  suspend: {
    args: ['id'],
    options: [],
    summary: 'suspend a tenant (its requests are refused, its tokens revoked)',
    usage: 'tenantry suspend <id> [--json]',
    details: '',
  },
  resume: {
    args: ['id'],
    options: [],
    summary: 'resume a suspended tenant (also cancels a pending destroy)',
    usage: 'tenantry resume <id> [--json]',
    details: '',
  },
  destroy: {
    args: ['id'],
    options: ['immediate', 'yes'],
    summary: 'destroy a tenant (after the grace period, or now with --immediate)',
    usage: 'tenantry destroy <id> [--immediate] [--yes] [--json]',
    details: [
      '  --immediate   delete the database and the record now (default: mark the tenant',
      '                destroying; `tenantry purge-expired` deletes it after the grace period)',
      '  -y, --yes     do not ask for confirmation (needed when stdin is not a terminal)',
    ].join('\n'),
  },
  plan: {
    args: ['id', 'plan'],
    options: [],
    summary: "change a tenant's plan",
    usage: `tenantry plan <id> <${PLANS.join('|')}> [--json]`,
    details: '',
  },
  usage: {
    args: ['id'],
    options: [],
    summary: "show a tenant's usage (the protocol's TenantUsage)",
    usage: 'tenantry usage <id> [--json]',
    details: 'Counters (requests, deployments) come from the configured quota store.',
  },
  migrate: {
    args: [],
    options: ['dir', 'concurrency', 'dry-run'],
    summary: 'apply migrations to every active tenant database',
    usage: 'tenantry migrate [--dir <folder>] [--concurrency <n>] [--dry-run] [--json]',
    details: [
      '  --dir <folder>      *.sql files, applied in name order (default: provisioning.migrations',
      '                      of the config, else ./migrations)',
      '  --concurrency <n>   tenants migrated at once (default 8)',
      '  --dry-run           report what each tenant would get, change nothing',
      '',
      'Progress goes to stderr; exits 1 when any tenant failed.',
    ].join('\n'),
  },
  'purge-expired': {
    args: [],
    options: ['yes'],
    summary: 'delete the destroying tenants whose grace period is over',
    usage: 'tenantry purge-expired [--yes] [--json]',
    details: '  -y, --yes   do not ask for confirmation (needed when stdin is not a terminal)',
  },
  'migrate-control-plane': {
    args: [],
    options: [],
    summary: "create or upgrade the registry's tables (e.g. PostgreSQL)",
    usage: 'tenantry migrate-control-plane [--json]',
    details: 'Registries that need no migration (libSQL, memory) say so and exit 0.',
  },
  deploy: {
    args: ['bundle'],
    options: ['plan-only', 'allow-destructive', 'concurrency'],
    summary: 'deploy a bundle (bundle.json) to every active tenant database',
    usage: 'tenantry deploy <bundle.json> [--plan] [--allow-destructive] [--concurrency <n>] [--json]',
    details: [
      '  --plan                print the plan (the SQL each tenant would run), change nothing',
      '  --allow-destructive   let the deploy drop objects or fields and narrow types',
      '  --concurrency <n>     tenants deployed at once (default 8)',
      '',
      'Prints the deployment id (for `tenantry rollback`). Progress goes to stderr; exits 1 when',
      'any tenant failed or, with --plan, is blocked.',
    ].join('\n'),
  },
  rollback: {
    args: ['deploymentId'],
    options: ['concurrency'],
    summary: 'roll a deployment back (snapshot for local databases, else the inverse plan)',
    usage: 'tenantry rollback <deploymentId> [--concurrency <n>] [--json]',
    details: [
      '  --concurrency <n>   tenants rolled back at once (default 8)',
      '',
      'Exits 1 when any tenant could not be rolled back (its code says why).',
    ].join('\n'),
  },
};

const GLOBAL_HELP = [
  '  -c, --config <path>   config file (default: ./tenantry.config.js or ./tenantry.config.mjs,',
  '                        else the embedded defaults under ./.tenantry)',
  '      --json            print JSON instead of tables',
  '  -h, --help            show help',
].join('\n');

/** The general usage text. */
export function usageText(): string {
  const heads = Object.entries(SPECS).map(([name, spec]) => [[name, ...spec.args.map((a) => `<${a}>`)].join(' '), spec.summary] as const);
  const width = Math.max(...heads.map(([head]) => head.length));
  const commands = heads.map(([head, summary]) => `  ${head.padEnd(width)}  ${summary}`);
  return [
    'Usage: tenantry <command> [options]',
    '',
    'Commands:',
    ...commands,
    '',
    'Options:',
    GLOBAL_HELP,
    '',
    'Run `tenantry help <command>` for the options of a command.',
    '',
  ].join('\n');
}

/** The help text of one command. */
export function commandHelp(name: CommandName): string {
  const spec = SPECS[name];
  const lines = [`Usage: ${spec.usage}`, '', `${spec.summary[0]!.toUpperCase()}${spec.summary.slice(1)}.`, ''];
  if (spec.details !== '') lines.push(spec.details, '');
  lines.push('Options:', GLOBAL_HELP, '');
  return lines.join('\n');
}

/** True when `name` is a command of the CLI. */
export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(SPECS, name);
}

/**
 * Parses `argv` (without the node and script paths). Throws a {@link UsageError} for an unknown
 * command or option, an option the command does not take, a missing or extra argument, or a
 * bad plan, region, status or number.
 *
 * @example
 * parseCommandLine(['destroy', 'acme', '--yes'])
 * // { kind: 'run', invocation: { command: { name: 'destroy', id: 'acme', immediate: false, yes: true }, json: false, config: undefined } }
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(deployFlags(argv));
  } catch (err) {
    const first = argv.find((arg) => !arg.startsWith('-'));
    throw new UsageError(parseErrorMessage(err), first !== undefined && isCommandName(first) ? first : undefined);
  }
  const { values, positionals, tokens } = parsed;
  const [name, ...rest] = positionals;
  if (name === 'help') {
    if (rest.length === 0) return { kind: 'help', text: usageText() };
    const topic = rest[0]!;
    if (rest.length > 1 || !isCommandName(topic)) throw new UsageError(`help: unknown command "${rest.join(' ')}"`);
    return { kind: 'help', text: commandHelp(topic) };
  }
  if (name === undefined) {
    if (values.help === true) return { kind: 'help', text: usageText() };
    throw new UsageError('missing command');
  }
  if (!isCommandName(name)) throw new UsageError(`unknown command "${name}"`);
  if (values.help === true) return { kind: 'help', text: commandHelp(name) };
  const spec = SPECS[name];
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const option = token.name as OptionName;
    if (!GLOBAL_OPTIONS.includes(option) && !spec.options.includes(option)) {
      throw new UsageError(`${name}: unknown option ${token.rawName}`, name);
    }
  }
  if (rest.length < spec.args.length) throw new UsageError(`${name}: missing <${spec.args[rest.length]!}>`, name);
  if (rest.length > spec.args.length) throw new UsageError(`${name}: unexpected argument "${rest[spec.args.length]!}"`, name);
  const invocation = (command: Command): ParsedCommandLine => ({
    kind: 'run',
    invocation: { command, json: values.json === true, config: values.config },
  });
  const arg = (i: number): string => rest[i]!;
  switch (name) {
    case 'provision': {
      const command: Command = { name, orgId: arg(0) };
      if (values.plan !== undefined) command.plan = oneOf(values.plan, PLANS, '--plan', name);
      if (values.region !== undefined) command.region = oneOf(values.region, REGIONS, '--region', name);
      return invocation(command);
    }
    case 'list': {
      const command: Command = { name };
      if (values.status !== undefined) command.status = oneOf(values.status, STATUSES, '--status', name);
      if (values.plan !== undefined) command.plan = oneOf(values.plan, PLANS, '--plan', name);
      return invocation(command);
    }
    case 'show':
    case 'suspend':
    case 'resume':
    case 'usage':
      return invocation({ name, id: arg(0) });
    case 'destroy':
      return invocation({ name, id: arg(0), immediate: values.immediate === true, yes: values.yes === true });
    case 'plan':
      return invocation({ name, id: arg(0), plan: oneOf(arg(1), PLANS, '<plan>', name) });
    case 'migrate': {
      const command: Command = { name, dryRun: values['dry-run'] === true };
      if (values.dir !== undefined) {
        if (values.dir === '') throw new UsageError('migrate: --dir must not be empty', name);
        command.dir = values.dir;
      }
      if (values.concurrency !== undefined) command.concurrency = positiveInteger(values.concurrency, '--concurrency', name);
      return invocation(command);
    }
    case 'purge-expired':
      return invocation({ name, yes: values.yes === true });
    case 'migrate-control-plane':
      return invocation({ name });
    case 'deploy': {
      if (arg(0) === '') throw new UsageError('deploy: <bundle> must not be empty', name);
      const command: Command = { name, bundle: arg(0), planOnly: values['plan-only'] === true, allowDestructive: values['allow-destructive'] === true };
      if (values.concurrency !== undefined) command.concurrency = positiveInteger(values.concurrency, '--concurrency', name);
      return invocation(command);
    }
    case 'rollback': {
      const command: Command = { name, deploymentId: arg(0) };
      if (values.concurrency !== undefined) command.concurrency = positiveInteger(values.concurrency, '--concurrency', name);
      return invocation(command);
    }
  }
}

/**
 * `deploy --plan` is a flag, while `--plan <plan>` takes a value for other commands: for the
 * `deploy` command, `--plan` is read as `--plan-only`.
 */
function deployFlags(argv: readonly string[]): readonly string[] {
  let command: string | undefined;
  for (let i = 0; i < argv.length && command === undefined; i++) {
    const arg = argv[i]!;
    if (arg === '--') break;
    if (arg === '-c' || arg === '--config') i++;
    else if (!arg.startsWith('-')) command = arg;
  }
  return command === 'deploy' ? argv.map((arg) => (arg === '--plan' ? '--plan-only' : arg)) : argv;
}

function parse(argv: readonly string[]) {
  return parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true, tokens: true });
}

function oneOf<T extends string>(value: string, allowed: readonly T[], what: string, command: CommandName): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${command}: ${what} must be one of ${allowed.join(', ')} (got "${value}")`, command);
}

function positiveInteger(value: string, what: string, command: CommandName): number {
  const n = /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${command}: ${what} must be an integer ≥ 1 (got "${value}")`, command);
  return n;
}

/** parseArgs messages, without their advice to use `--` (tenant ids never start with a dash). */
function parseErrorMessage(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_')) {
    return err.message.split('. To specify')[0]!.replace(/\.$/, '');
  }
  throw err;
}
