import { templateProblem } from '../cloudinit/render.js';
import { ScheduleError, parseSchedule, validTimeZone } from '../engine/schedule.js';
import type { OptionSpec, OptionValue } from './types.js';

/** A broken template is a start-up error naming the flag or variable that supplied it. */
function templateValidate(value: OptionValue): string | undefined {
  return typeof value === 'string' ? templateProblem(value) : undefined;
}

/** `--schedule` holds one or more periods separated by `;` (cron fields use commas themselves). */
export function schedulePeriods(v: string): string[] {
  return v
    .split(';')
    .map((x) => x.trim())
    .filter((x) => x !== '');
}

function scheduleError(v: OptionValue): string | undefined {
  for (const text of schedulePeriods(String(v))) {
    try {
      parseSchedule(text);
    } catch (e) {
      if (e instanceof ScheduleError) return e.message;
      throw e;
    }
  }
  return undefined;
}

function positiveMoney(v: OptionValue): string | undefined {
  return typeof v === 'number' && v > 0 && Number.isFinite(v) ? undefined : 'must be an amount greater than 0';
}

/** Help and docs sections of the core options, in display order. */
export const CoreCategory = {
  general: 'General',
  scaling: 'Scaling',
  server: 'Woodpecker server',
  agents: 'Agents',
  http: 'Status and admin HTTP',
  capacity: 'Warm capacity and budget',
} as const;

const S = 1000;
const M = 60 * S;

/**
 * Every core option. Rows with `upstream: true` have the same flag, env vars, default (except agent-image) and
 * meaning as the Go woodpecker-ci/autoscaler; the rest are ours. Provider options live with each provider.
 */
export const coreOptions: readonly OptionSpec[] = [
  // General
  {
    key: 'provider',
    flag: 'provider',
    env: ['WOODPECKER_PROVIDER'],
    type: 'string',
    default: '',
    placeholder: 'NAME',
    category: CoreCategory.general,
    upstream: true,
    required: true,
    description:
      'Cloud provider that runs the agents; its own options are listed in its section below. Required (the sandbox demo needs none: `twcloud-scaler demo`).',
  },
  {
    key: 'logLevel',
    flag: 'log-level',
    env: ['WOODPECKER_LOG_LEVEL'],
    type: 'string',
    default: 'info',
    placeholder: 'LEVEL',
    category: CoreCategory.general,
    upstream: true,
    description:
      'Log level: trace, debug, info, warn, error or fatal (panic is read as fatal). An unknown level is a start-up error.',
  },
  {
    key: 'logFormat',
    flag: 'log-format',
    env: ['WOODPECKER_LOG_FORMAT'],
    type: 'string',
    default: 'auto',
    placeholder: 'FORMAT',
    category: CoreCategory.general,
    description: 'Log output: json, pretty (human-readable), or auto = pretty when stderr is a terminal, else JSON.',
  },
  {
    key: 'dryRun',
    flag: 'dry-run',
    env: ['WOODPECKER_DRY_RUN'],
    type: 'bool',
    default: false,
    category: CoreCategory.general,
    description: 'Plan and log every decision, but change nothing on the Woodpecker server or at the cloud provider.',
  },
  {
    key: 'once',
    flag: 'once',
    env: ['WOODPECKER_ONCE'],
    type: 'bool',
    default: false,
    category: CoreCategory.general,
    description: 'Run a single reconcile, then exit.',
  },

  // Scaling
  {
    key: 'poolId',
    flag: 'pool-id',
    env: ['WOODPECKER_POOL_ID'],
    type: 'string',
    default: '1',
    placeholder: 'ID',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Pool identity: agents are named pool-<id>-agent-<random> and servers are marked with it. Only names that are exactly pool-<id>-agent-<letters/digits> belong to the pool (the Go autoscaler matched the pattern anywhere in a name). Autoscalers sharing one Woodpecker server need different pool IDs.',
  },
  {
    key: 'installationId',
    flag: 'installation-id',
    env: ['WOODPECKER_INSTALLATION_ID'],
    type: 'string',
    default: '',
    placeholder: 'ID',
    category: CoreCategory.scaling,
    description:
      'Names this installation in the ownership markers of its servers and IPs and in the tag of its agent names, so that two installations sharing a cloud account (even with the same pool ID) never touch each other\'s resources. Empty = derived from --server-url and --pool-id (with --pools-file: each pool\'s from its id, the one lease\'s from --server-url alone). Set it (1–32 lowercase letters, digits and -) before changing the Woodpecker server URL, or to let two pools deliberately share one identity.',
  },
  {
    key: 'minAgents',
    flag: 'min-agents',
    env: ['WOODPECKER_MIN_AGENTS'],
    type: 'int',
    default: 1,
    placeholder: 'N',
    category: CoreCategory.scaling,
    upstream: true,
    description: 'Fewest schedulable (not drained) agents the pool keeps, even without work. 0 or more.',
  },
  {
    key: 'maxAgents',
    flag: 'max-agents',
    env: ['WOODPECKER_MAX_AGENTS'],
    type: 'int',
    default: 10,
    placeholder: 'N',
    category: CoreCategory.scaling,
    upstream: true,
    description: 'Most schedulable agents the pool runs. At least 1 and not below min-agents.',
  },
  {
    key: 'workflowsPerAgent',
    flag: 'workflows-per-agent',
    env: ['WOODPECKER_WORKFLOWS_PER_AGENT'],
    type: 'int',
    default: 2,
    placeholder: 'N',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Workflows one agent runs in parallel (given to the agent as WOODPECKER_MAX_WORKFLOWS); the queue is divided by it to get the agents needed. At least 1.',
  },
  {
    key: 'reconciliationInterval',
    flag: 'reconciliation-interval',
    env: ['WOODPECKER_RECONCILIATION_INTERVAL'],
    type: 'duration',
    default: 1 * M,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Period of the reconcile loop: read agents and queue, scale up or down, clean up. The first reconcile runs at start (the Go autoscaler waits one interval). Greater than 0.',
  },
  {
    key: 'agentInactivityTimeout',
    flag: 'agent-inactivity-timeout',
    env: ['WOODPECKER_AGENT_INACTIVITY_TIMEOUT', 'WOODPECKER_AGENT_ALLOWED_STARTUP_TIME'],
    type: 'duration',
    default: 10 * M,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Removes a broken agent: one that has not contacted the server for this long (counted from its creation if it never connected, so it also bounds the boot time). About contact, not work; see agent-idle-timeout. WOODPECKER_AGENT_ALLOWED_STARTUP_TIME is the legacy name.',
  },
  {
    key: 'agentIdleTimeout',
    flag: 'agent-idle-timeout',
    env: ['WOODPECKER_AGENT_IDLE_TIMEOUT'],
    type: 'duration',
    default: 10 * M,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Removes a surplus healthy agent (per-second billing only): an agent that ran no workflow for this long may be drained and removed when there is more capacity than work. About work, not contact; see agent-inactivity-timeout.',
  },
  {
    key: 'agentBillingTeardownMargin',
    flag: 'agent-billing-teardown-margin',
    env: ['WOODPECKER_AGENT_BILLING_TEARDOWN_MARGIN'],
    type: 'duration',
    default: 2 * M,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'Hourly billing only: a surplus agent is torn down only in the last margin + reconciliation-interval before its next paid hour (hours counted from its creation).',
  },
  {
    key: 'policy',
    flag: 'policy',
    env: ['WOODPECKER_SCALING_POLICY'],
    type: 'string',
    default: 'default',
    placeholder: 'POLICY',
    category: CoreCategory.scaling,
    description:
      'Scaling policy: default (counts booting agents as incoming capacity, counts owned servers against max-agents, polls the queue between reconciles) or upstream (the Go autoscaler\'s decisions, with our safety fixes).',
  },
  {
    key: 'queuePollInterval',
    flag: 'queue-poll-interval',
    env: ['WOODPECKER_QUEUE_POLL_INTERVAL'],
    type: 'duration',
    default: 2 * S,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    description:
      'Default policy only: between reconciles, read the queue this often and add agents as soon as work is waiting (one small GET each time). 0 disables.',
  },
  {
    key: 'eventStream',
    flag: 'event-stream',
    env: ['WOODPECKER_EVENT_STREAM'],
    type: 'bool',
    default: true,
    category: CoreCategory.scaling,
    description:
      "Default policy only: subscribe to the server's event stream (/api/stream/events) and read the queue as soon as a pipeline is created, instead of waiting for the next queue poll. The stream does not carry private repos the token's user cannot see, so the queue poll stays on as the fallback; reconnects with back-off.",
  },
  // Warm capacity and budget
  {
    key: 'minIdleSlots',
    flag: 'min-idle-slots',
    env: ['WOODPECKER_MIN_IDLE_SLOTS'],
    type: 'int',
    default: 0,
    placeholder: 'N',
    category: CoreCategory.capacity,
    description:
      'Free workflow slots to keep ready beyond the queued and running work (like GitLab Runner\'s idle_count): the pool adds agents until this many slots are free, within max-agents and the budget, so the next workflows start without waiting for a server to boot. Idle slots are billed. 0 or more; schedules can change it by time of day.',
    validate: (v) => (typeof v === 'number' && Number.isInteger(v) && v >= 0 ? undefined : 'must be 0 or more'),
  },
  {
    key: 'schedule',
    flag: 'schedule',
    env: ['WOODPECKER_SCHEDULE'],
    type: 'string',
    default: '',
    placeholder: 'PERIODS',
    category: CoreCategory.capacity,
    description:
      'Changes min-agents and/or min-idle-slots while a period is active: five cron range fields (minute hour day-of-month month day-of-week, names like mon-fri allowed) then key=value settings, e.g. "* 8-18 * * mon-fri min-idle-slots=4 min-agents=1". Several periods are separated by ";"; every matching period applies in order, so the last one wins per setting (put holidays last). Times are in --timezone.',
    validate: scheduleError,
  },
  {
    key: 'timeZone',
    flag: 'timezone',
    env: ['WOODPECKER_TIMEZONE'],
    type: 'string',
    default: 'UTC',
    placeholder: 'ZONE',
    category: CoreCategory.capacity,
    description: 'IANA time zone of the schedules and of the budget\'s days and months, e.g. Europe/Moscow.',
    validate: (v) => (typeof v === 'string' && validTimeZone(v) ? undefined : `unknown time zone ${JSON.stringify(v)}`),
  },
  {
    key: 'forecast',
    flag: 'forecast',
    env: ['WOODPECKER_FORECAST'],
    type: 'bool',
    default: true,
    category: CoreCategory.capacity,
    description:
      'Default policy only: keep free slots for the workflows likely to arrive within one --boot-time, from the pool\'s arrivals of the last 30 minutes: enough for 9 boot times in 10 (a Poisson quantile of rate × boot time), so a busy pool keeps a server ahead of its work and a quiet one (fewer than about 6 ÷ boot-time-in-minutes arrivals an hour: 3 with the default 2m) keeps none. Raises --min-idle-slots when it asks for more; within max-agents and the budget. Idle slots are billed: --forecast=false scales on queued work alone.',
  },
  {
    key: 'bootTime',
    flag: 'boot-time',
    env: ['WOODPECKER_BOOT_TIME'],
    type: 'duration',
    default: 2 * M,
    placeholder: 'DURATION',
    category: CoreCategory.capacity,
    description:
      'How long a new server takes until its agent takes work (measure it with `twcloud-scaler timeweb test`): the forecast\'s horizon. Greater than 0.',
    validate: (v) => (typeof v === 'number' && v > 0 ? undefined : 'must be greater than 0'),
  },
  {
    key: 'budgetDaily',
    flag: 'budget-daily',
    env: ['WOODPECKER_BUDGET_DAILY'],
    type: 'float',
    placeholder: 'AMOUNT',
    category: CoreCategory.capacity,
    description:
      'Spend cap per calendar day, in the account\'s currency, for the daemon\'s servers (price list × billed time, public IPv4 included); with --pools-file for all pools together, and a pool may set a cap of its own in the file besides. New servers are created only while one more hour of every running server plus the new one fits under the cap; running work is never cut. Unset = no cap.',
    validate: positiveMoney,
  },
  {
    key: 'budgetMonthly',
    flag: 'budget-monthly',
    env: ['WOODPECKER_BUDGET_MONTHLY'],
    type: 'float',
    placeholder: 'AMOUNT',
    category: CoreCategory.capacity,
    description: 'Spend cap per calendar month, like --budget-daily. Unset = no cap.',
    validate: positiveMoney,
  },
  {
    key: 'stateFile',
    flag: 'state-file',
    env: ['WOODPECKER_STATE_FILE'],
    type: 'string',
    default: '',
    placeholder: 'FILE',
    category: CoreCategory.capacity,
    description:
      'JSON file where the budget\'s ledger (spend so far this day and month, and up to when each server is paid) survives a restart, for every pool; written atomically after the ticks that change it. Its directory must be writable (the Docker image and the systemd unit set one). A corrupt or unreadable file is a warning and a fresh ledger. Empty = in memory only: with --budget-daily or --budget-monthly, a restart forgets the spend so far that day and month.',
  },
  {
    key: 'danglingGrace',
    flag: 'dangling-grace',
    env: ['WOODPECKER_DANGLING_GRACE'],
    type: 'duration',
    default: 0,
    placeholder: 'DURATION',
    category: CoreCategory.scaling,
    description:
      'An agent without a server, or a server without an agent, is only cleaned up once it is older than this (protects agents still being created). 0 = 2 × reconciliation-interval.',
  },
  {
    key: 'filterLabels',
    flag: 'filter-labels',
    env: ['WOODPECKER_FILTER_LABELS'],
    type: 'string',
    default: '',
    placeholder: 'KEY=VALUE',
    category: CoreCategory.scaling,
    upstream: true,
    description:
      'As in the Go autoscaler 1.5.0 (removed on its main): count only the queue\'s workflows whose labels have exactly this key and value, e.g. platform=linux/arm64, so that one autoscaler serves one architecture or region. Pending and running then count the matching workflows only; free slots stay those of every agent on the server. Empty = every workflow.',
  },
  {
    key: 'poolsFile',
    flag: 'pools-file',
    env: ['WOODPECKER_POOLS_FILE'],
    type: 'string',
    default: '',
    placeholder: 'FILE',
    category: CoreCategory.scaling,
    description:
      'YAML file listing several pools (label-aware scaling), each with an id and its own pool settings named like the flags (max-agents, agent-labels, timewebcloud-preset-id, …); see docs/pools.md. Warm capacity (min-idle-slots, schedule, forecast, boot-time) and a budget cap of its own may be set per pool. The daemon then runs one pool per entry, each scaled by the queued work its agents\' labels match; --pool-id and --filter-labels are refused beside it. Work no pool can run is reported and never scales anything.',
  },

  // Woodpecker server
  {
    key: 'serverUrl',
    flag: 'server-url',
    env: ['WOODPECKER_SERVER'],
    type: 'string',
    default: 'http://localhost:8000',
    placeholder: 'URL',
    category: CoreCategory.server,
    upstream: true,
    description: 'Woodpecker server URL for the REST API (http or https; a path prefix is kept, a trailing / dropped).',
  },
  {
    key: 'serverToken',
    flag: 'server-token',
    env: ['WOODPECKER_TOKEN'],
    fileEnv: ['WOODPECKER_TOKEN_FILE'],
    type: 'string',
    secret: true,
    required: true,
    placeholder: 'TOKEN',
    category: CoreCategory.server,
    upstream: true,
    description: 'Personal access token of a Woodpecker admin user (the agent and queue APIs are admin-only). Required.',
  },
  {
    key: 'requestTimeout',
    flag: 'request-timeout',
    env: ['WOODPECKER_REQUEST_TIMEOUT'],
    type: 'duration',
    default: 30 * S,
    placeholder: 'DURATION',
    category: CoreCategory.server,
    description: 'Time limit for each HTTP request to the Woodpecker server and to the cloud API. Greater than 0.',
  },

  // Agents
  {
    key: 'grpcAddr',
    flag: 'grpc-addr',
    env: ['WOODPECKER_GRPC_ADDR'],
    type: 'string',
    default: 'woodpecker-server:9000',
    placeholder: 'HOST:PORT',
    category: CoreCategory.agents,
    upstream: true,
    description:
      'Woodpecker gRPC address the agents connect to, host:port without a scheme (given to agents as WOODPECKER_SERVER). It must be reachable from the agent servers on the internet: a public DNS name or IP, not a compose service name. Checked at start-up: a malformed value stops the start, a name that does not resolve or a port that refuses connections from here is a warning.',
  },
  {
    key: 'grpcSecure',
    flag: 'grpc-secure',
    env: ['WOODPECKER_GRPC_SECURE'],
    type: 'bool',
    default: false,
    category: CoreCategory.agents,
    upstream: true,
    description: 'Agents connect to gRPC over TLS (given to agents as WOODPECKER_GRPC_SECURE=true).',
  },
  {
    key: 'agentImage',
    flag: 'agent-image',
    env: ['WOODPECKER_AGENT_IMAGE'],
    type: 'string',
    default: 'woodpeckerci/woodpecker-agent:v3',
    placeholder: 'IMAGE',
    category: CoreCategory.agents,
    upstream: true,
    description:
      'Agent container image. Default differs from the Go autoscaler (woodpeckerci/woodpecker-agent:next, which follows the unreleased development branch): we use the v3 release line.',
  },
  {
    key: 'agentEnv',
    flag: 'agent-env',
    env: ['WOODPECKER_AGENT_ENV'],
    type: 'list',
    placeholder: 'KEY=VALUE',
    category: CoreCategory.agents,
    upstream: true,
    description:
      'Extra environment for the agent container, KEY=VALUE (comma-separated or repeated); may override the built-in variables. WOODPECKER_AGENT_LABELS is not allowed here: use agent-labels.',
  },
  {
    key: 'agentLabels',
    flag: 'agent-labels',
    env: ['WOODPECKER_AGENT_LABELS'],
    type: 'list',
    placeholder: 'KEY=VALUE',
    category: CoreCategory.agents,
    upstream: true,
    description:
      'Agent labels, key=value (comma-separated or repeated), given to the agents as WOODPECKER_AGENT_LABELS for workflow label filters.',
  },
  {
    key: 'cloudinitTemplate',
    flag: 'cloudinit-template',
    env: ['WOODPECKER_CLOUDINIT_TEMPLATE'],
    fileEnv: ['WOODPECKER_CLOUDINIT_TEMPLATE_FILE'],
    type: 'string',
    default: '',
    placeholder: 'TEMPLATE',
    category: CoreCategory.agents,
    upstream: true,
    validate: templateValidate,
    description:
      'Custom cloud-init user-data template (Go text/template syntax with .Image, .Environment, .PreExec, .PostExec, as in the Go autoscaler), checked at start-up. Empty = the built-in template. The Go autoscaler 1.1-1.5 name is provider-user-data.',
  },
  {
    key: 'providerUserData',
    flag: 'provider-user-data',
    env: ['WOODPECKER_PROVIDER_USERDATA'],
    fileEnv: ['WOODPECKER_PROVIDER_USERDATA_FILE'],
    type: 'string',
    default: '',
    placeholder: 'TEMPLATE',
    category: CoreCategory.agents,
    upstream: true,
    validate: templateValidate,
    description:
      'The Go autoscaler 1.1-1.5 name of cloudinit-template (same meaning, same syntax). Setting both to different templates is an error.',
  },

  // Status and admin HTTP
  {
    key: 'httpAddr',
    flag: 'http-addr',
    env: ['WOODPECKER_HTTP_ADDR'],
    type: 'string',
    default: '127.0.0.1:8080',
    placeholder: 'HOST:PORT',
    category: CoreCategory.http,
    description:
      'Listen address of the status page, /metrics, health checks and admin endpoints. off or empty disables the listener.',
  },
  {
    key: 'httpToken',
    flag: 'http-token',
    env: ['WOODPECKER_HTTP_TOKEN'],
    fileEnv: ['WOODPECKER_HTTP_TOKEN_FILE'],
    type: 'string',
    secret: true,
    placeholder: 'TOKEN',
    category: CoreCategory.http,
    description:
      'Bearer token for the admin endpoints (pause, cordon, drain). Without it, admin endpoints are refused unless http-addr is a loopback address.',
  },
];
