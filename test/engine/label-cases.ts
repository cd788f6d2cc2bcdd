/**
 * The label-matching table, written from Woodpecker's rules (server/rpc/filter.go and its test table). Agent
 * labels here are the agent's EFFECTIVE labels (defaults, custom labels and the server's org-id included).
 */
export interface LabelCase {
  what: string;
  agent: Record<string, string>;
  task: Record<string, string>;
  ok: boolean;
  score: number;
}

export const labelCases: readonly LabelCase[] = [
  // Woodpecker's own table
  { what: 'two exact matches', agent: { 'org-id': '123', platform: 'linux' }, task: { 'org-id': '123', platform: 'linux' }, ok: true, score: 20 },
  { what: 'wildcard and exact', agent: { 'org-id': '*', platform: 'linux' }, task: { 'org-id': '123', platform: 'linux' }, ok: true, score: 11 },
  { what: 'partial match', agent: { 'org-id': '123', platform: 'linux' }, task: { 'org-id': '123', platform: 'windows' }, ok: false, score: 0 },
  { what: 'missing key on the agent', agent: {}, task: { needed: 'some' }, ok: false, score: 0 },
  { what: 'no task labels', agent: { docker: 'true' }, task: {}, ok: true, score: 0 },
  { what: 'extra agent labels do not matter', agent: { docker: 'true', shell: 'true', gpu: 'true' }, task: { docker: 'true', shell: 'true' }, ok: true, score: 20 },
  { what: 'an extra task label fails', agent: { docker: 'true', shell: 'true' }, task: { docker: 'true', shell: 'true', gpu: 'true' }, ok: false, score: 0 },
  { what: 'two wildcards', agent: { 'org-id': '*', platform: '*' }, task: { 'org-id': '123', platform: 'linux' }, ok: true, score: 2 },
  // empty and internal task labels
  { what: 'an empty task value is ignored', agent: { platform: 'linux' }, task: { platform: 'linux', gpu: '' }, ok: true, score: 10 },
  { what: 'internal labels are ignored', agent: {}, task: { 'woodpecker-ci.org/forge-id': '1', 'woodpecker-ci.org/branch': 'main' }, ok: true, score: 0 },
  { what: 'internal labels do not add score', agent: { 'woodpecker-ci.org/branch': 'main', repo: '*' }, task: { 'woodpecker-ci.org/branch': 'main', repo: 'a/b' }, ok: true, score: 1 },
  // required agent labels `!key`
  { what: '!key: the task has it', agent: { '!gpu': 'yes' }, task: { gpu: 'yes' }, ok: true, score: 10 },
  { what: '!key: the task lacks it', agent: { '!gpu': 'yes' }, task: {}, ok: false, score: 0 },
  { what: '!key: another value', agent: { '!gpu': 'yes' }, task: { gpu: 'no' }, ok: false, score: 0 },
  { what: '!key: the task value is empty', agent: { '!gpu': 'yes' }, task: { gpu: '' }, ok: false, score: 0 },
  { what: 'plain key wins over !key for the value', agent: { gpu: '*', '!gpu': 'yes' }, task: { gpu: 'yes' }, ok: true, score: 1 },
  {
    what: '!key=* needs the literal value *',
    agent: { '!gpu': '*' },
    task: { gpu: 'yes' },
    ok: false,
    score: 0,
  },
  {
    what: '!key with a comma list',
    agent: { '!size': 'small,large' },
    task: { size: 'large' },
    ok: true,
    score: 10,
  },
  { what: '!key on an internal label is still required', agent: { '!woodpecker-ci.org/event': 'push' }, task: {}, ok: false, score: 0 },
  // comma lists on the agent
  { what: 'comma list, exact element', agent: { size: 'small,large' }, task: { size: 'large' }, ok: true, score: 10 },
  { what: 'comma list, no element', agent: { size: 'small,large' }, task: { size: 'medium' }, ok: false, score: 0 },
  { what: 'comma list with *: the first hit scores', agent: { size: '*,large' }, task: { size: 'large' }, ok: true, score: 1 },
  { what: 'comma list, exact before *', agent: { size: 'large,*' }, task: { size: 'large' }, ok: true, score: 10 },
  {
    what: 'a task value with a comma is one value',
    agent: { size: 'a,b' },
    task: { size: 'a,b' },
    ok: false,
    score: 0,
  },
  // typical agents
  {
    what: 'a plain workflow on a default agent',
    agent: { hostname: 'h', platform: 'linux/amd64', backend: 'docker', repo: '*', 'org-id': '*' },
    task: { repo: 'acme/app', 'org-id': '1', 'woodpecker-ci.org/repo-id': '7' },
    ok: true,
    score: 2,
  },
  {
    what: 'type=gpu on a type=cpu agent',
    agent: { platform: 'linux/amd64', backend: 'docker', repo: '*', 'org-id': '*', type: 'cpu' },
    task: { repo: 'acme/app', 'org-id': '1', type: 'gpu' },
    ok: false,
    score: 0,
  },
  {
    what: 'exact beats wildcard',
    agent: { platform: 'linux/amd64', repo: '*', 'org-id': '*', type: 'gpu' },
    task: { repo: 'acme/app', 'org-id': '1', type: 'gpu', platform: 'linux/amd64' },
    ok: true,
    score: 22,
  },
];
