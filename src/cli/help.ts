/** Help text for every command of the command line. */

export interface CommandHelp {
  usage: string;
  summary: string;
  details: string;
  /** The shared options it takes, by name (as its parser names them). */
  common: readonly string[];
}

/** The options several commands share, by name; each command's help lists those it takes. */
const COMMON: [name: string, text: string][] = [
  [
    'host',
    `  --host URL           engine to use: unix:///path, tcp://host:2376, ssh://user@host; repeat for several
                       engines; default DOCKER_HOST, then the docker CLI's current context (DOCKER_CONTEXT,
                       currentContext in config.json), then the local socket`,
  ],
  [
    'context',
    `  --context NAME       a docker CLI context (docker context ls; in $DOCKER_CONFIG or ~/.docker): its address
                       and TLS files; "default" is the usual resolution; repeat for several engines`,
  ],
  [
    'tls-verify',
    "  --tls-verify         use TLS and verify the engine's certificate (tcp://); default from DOCKER_TLS_VERIFY",
  ],
  ['tls-ca', "  --tls-ca FILE        CA that signed the engine's certificate (default DOCKER_CERT_PATH/ca.pem)"],
  ['tls-cert', '  --tls-cert FILE      client certificate (default DOCKER_CERT_PATH/cert.pem); with --tls-key'],
  [
    'tls-key',
    `  --tls-key FILE       client key (default DOCKER_CERT_PATH/key.pem); any --tls-* flag turns TLS on and
                       wins over DOCKER_TLS_VERIFY/DOCKER_CERT_PATH and a context's files`,
  ],
  ['inventory', '  --inventory FILE     evaluate against a saved inventory instead of a live engine'],
  ['now', '  --now ISO            fix the clock (e.g. 2026-11-27T12:00:00Z), for reproducible plans'],
  ['state-dir', '  --state-dir DIR      where last-used data and the lock live'],
  ['timeout', '  --timeout DUR        bound on every engine call (default 60s)'],
  [
    'registry-check',
    `  --registry-check M   for restorable / protect.unrestorable: live (ask the registries now; the default with
                       an engine), saved (the answers a saved inventory carries; its default) or off (ask none)`,
  ],
  ['registry-timeout', '  --registry-timeout DUR  bound on each registry request (default 10s)'],
  ['json', '  --json               machine-readable output'],
  ['quiet', '  --quiet, --verbose   less or more output (--verbose shows error causes)'],
];

const TLS = ['tls-verify', 'tls-ca', 'tls-cert', 'tls-key'];
const ENGINE = ['host', 'context', ...TLS, 'timeout'];
const REGISTRY = ['registry-check', 'registry-timeout'];

export const COMMANDS: Record<string, CommandHelp> = {
  validate: {
    usage: 'imgsweep validate POLICY... [--json] [--strict]',
    common: ['quiet'],
    summary: 'check policy files; print ok or positioned errors',
    details: `Validates each policy against schemas/policy.schema.json and the semantic rules (unique rule names,
globs that compile, targetUsage below maxUsage, ...). Prints "ok: FILE" for each valid file, or one line per
problem: FILE:LINE:COL key.path: message. Exit 0 when all are valid, 2 otherwise. Nothing is ever deleted.
A valid policy may still get a warning on stderr (FILE:LINE:COL key.path: warning: message), e.g. a rule that
selects every image with no olderThan, unusedFor or keep in a policy without limits. plan, apply -p and
explain print it too, unless --quiet. A warning never changes a plan.
  --json     print {"files":[{"file","ok","problems":[...],"warnings":[...]}]}, each {line,col,path,code,message}
  --strict   a warning fails its file as a problem does: exit 2, no "ok: FILE" (ok: false with --json)`,
  },
  plan: {
    usage: 'imgsweep plan -p POLICY [-o plan.json] [--format text|json|markdown|html] [--inventory FILE]',
    common: [...ENGINE, 'inventory', 'now', 'state-dir', 'json', 'quiet', ...REGISTRY],
    summary: 'evaluate a policy into a removal plan; changes nothing',
    details: `Reads the engine's inventory (or --inventory FILE), evaluates the policy and prints the plan: what would
be untagged, deleted or removed, what is kept and why, and the estimated bytes reclaimed.
  -p, --policy FILE    the policy
  -o, --output FILE    also write the plan as JSON (for "imgsweep apply PLAN.json")
  --format FMT         text (default), json, markdown (for a CI step summary or a PR comment) or html (a
                       self-contained page: --format html > report.html)
Exit 0 when evaluated (even if the plan exceeds a limit: the plan says so); 1 when the disk budget was
skipped because the engine's disk accounting was unavailable (the rules' deletions are still planned); 2 on
bad input.`,
  },
  apply: {
    usage: 'imgsweep apply -p POLICY [--yes] | imgsweep apply PLAN.json [-p POLICY]',
    common: [...ENGINE, 'now', 'state-dir', 'quiet', ...REGISTRY],
    summary: 'plan and execute, or execute a saved plan after re-verifying it',
    details: `Executes a plan safely: re-lists the engine first, untags before
deleting, deletes by full ID without force, children before parents, never touches images of running
containers, skips every step whose facts changed since planning.
  -p, --policy FILE    plan and execute this policy
  PLAN.json            execute a saved plan (must belong to this engine and be younger than --max-plan-age)
  PLAN.json -p POLICY  plan POLICY again now and run only the saved plan's steps that plan also holds; the
                       rest are skipped as "not in the policy's current plan" (recommended for CI hand-offs)
  --yes                do not ask for confirmation (required without a terminal)
  --max-plan-age DUR   oldest saved plan accepted (default 1h)
  --concurrency N      steps in flight per engine (default 4)
  --audit-log FILE     append one JSON line per executed step
  --metrics-file FILE  write Prometheus textfile metrics atomically
  --json               print one JSON report at the end: exit code, totals, each engine's steps (also when
                       refused or failed; errors are in it and on stderr)
  --json-lines         print a JSON line per step as it ends, then a summary line
On a terminal a live line shows steps done, bytes freed so far, elapsed time and the step under way
(not with --quiet).`,
  },
  inventory: {
    usage: 'imgsweep inventory [-o inventory.json] [--format text|json]',
    common: [...ENGINE, 'inventory', 'now', 'state-dir', 'json', 'quiet'],
    summary: "show the engine's images as imgsweep sees them, or save a snapshot",
    details: `Lists images (ID, references, created, size, containers using them) and containers.
  -o, --output FILE    save a snapshot that "plan --inventory FILE" and "explain --inventory FILE" evaluate anywhere
  --format FMT         text (default) or json`,
  },
  explain: {
    usage: 'imgsweep explain REF -p POLICY [--inventory FILE]',
    common: [...ENGINE, 'inventory', 'now', 'state-dir', 'json', 'quiet', ...REGISTRY],
    summary: 'why an image or reference is kept or removed',
    details: `REF is a reference (nginx:1.25, repo@sha256:...), a full image ID, or an ID prefix of at least 12 hex
digits, or a build-cache record's ID (with a buildCache section: whether it is removed, or kept and why). Prints the image's references with each one's fate and the rule or protection that decided it, its
containers, and whether the image is deleted and, if not, why not.`,
  },
  diff: {
    usage: 'imgsweep diff -p OLD.yaml -p NEW.yaml [--inventory FILE] | imgsweep diff OLD-PLAN.json NEW-PLAN.json',
    common: [...ENGINE, 'inventory', 'now', 'state-dir', 'json', 'quiet', ...REGISTRY],
    summary: 'what a policy change does: every image, reference, container and cache record whose fate changes',
    details: `With two policies, plans both against one inventory (--inventory FILE, or the engine read once) at one
time; with two saved plans, compares them as they are. Lists each image whose fate changes (kept, deleted, some
references untagged, or not in the plan) with the rule and reason on each side and the change in bytes, then
references, stopped containers and build-cache records that change, and the totals before and after.
  -p, --policy FILE    the old policy, then the new one (give it twice)
  --format FMT         text (default), json or markdown (for a pull-request comment)
  --exit-code          exit 1 when anything changes (as git diff --exit-code does)
Exit 0 (with --exit-code: 0 when nothing changes, 1 when something does); 2 on bad input.`,
  },
  test: {
    usage: 'imgsweep test DIR|FILE... [--format text|junit]',
    common: ['quiet'],
    summary: 'policy unit tests: what a policy must delete, untag or keep, checked against a plan',
    details: `Each test file (YAML; in a folder, every *.test.yaml) names a policy, an inventory (a saved one, or images
and containers written in the file), a time (now), and expectations about references or images: deleted,
untagged or kept, optionally with the rule, the kept reason and the bytes reclaimed. Each failure is printed with
the expected and actual fate and the explanation of the image, then "N passed, M failed". A test file is validated
like a policy, with positioned errors (schema: schemas/policy-test.schema.json).
  --format FMT         text (default) or junit (JUnit XML, for CI systems; printed also with --quiet)
Exit 0 when every expectation holds, 1 when one fails, 2 when a test file, its policy or its inventory is invalid.`,
  },
  watch: {
    usage: 'imgsweep watch [--host URL | --context NAME] [--state-dir DIR] [--flush-interval 5s]',
    common: [...TLS, 'timeout', 'state-dir', 'quiet'],
    summary: "record image use from the engine's events (long-running, for a systemd service)",
    details: `Follows the engine's container events and records when each image is used, so that containers run with
--rm between two cron runs still count as use for unusedFor and LRU eviction. Reconnects with backoff when the
engine restarts, writes the usage record at most every --flush-interval and on SIGTERM. Never deletes anything.
  --host URL           the engine to watch (one: run one watch per engine); default as for the other commands
  --context NAME       a docker CLI context naming the engine to watch
  --flush-interval DUR how often the usage record is written at most (default 5s)`,
  },
  schema: {
    usage: 'imgsweep schema [policy|plan|inventory]',
    common: [],
    summary: 'print a JSON Schema (default: policy)',
    details: `Prints the JSON Schema for policies (for editors: yaml-language-server), plans or inventory snapshots.`,
  },
  help: {
    usage: 'imgsweep help [COMMAND]',
    common: [],
    summary: 'show help for a command',
    details: '',
  },
};

export function mainHelp(version: string): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`);
  return `imgsweep ${version}: declarative image cleanup for Docker and Podman hosts

Usage: imgsweep COMMAND [options]

Commands:
${lines.join('\n')}

Options most commands take ("imgsweep help COMMAND" lists those a command takes):
${COMMON.map(([, text]) => text).join('\n')}

Exit codes: 0 success; 1 runtime failure or some actions failed; 2 invalid policy, plan, inventory or
usage; 3 refused for safety (a limit exceeded, a foreign or stale plan, the lock held by another run).
Run "imgsweep help COMMAND" for a command's options.
`;
}

export function commandHelp(name: string): string | null {
  const c = COMMANDS[name];
  if (!c) return null;
  return `Usage: ${c.usage}

${c.summary}

${c.details}${c.details ? '\n\n' : ''}${commonOptions(c.common)}`;
}

function commonOptions(names: readonly string[]): string {
  const lines = COMMON.filter(([name]) => names.includes(name)).map(([, text]) => text);
  return lines.length === 0 ? '' : `Common options:\n${lines.join('\n')}\n`;
}
