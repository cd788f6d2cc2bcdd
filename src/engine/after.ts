import type { ProviderServer } from '../providers/types.js';
import type { WoodpeckerAgent } from '../woodpecker/types.js';
import type { ActionResult } from './executor.js';
import type { Observation } from './types.js';

/**
 * What a tick's observation looks like once its actions took effect, as far as the results tell: created agents
 * (never contacted, so booting) and their servers are added, drained and reactivated agents flagged, deleted agents
 * and removed servers dropped. The status page shows this, so it never lags the daemon's own decisions by a tick,
 * and the reconciler keeps its cached server list with it. Pure; the observation is not modified.
 */
export function applyResults(obs: Observation, results: readonly ActionResult[]): Observation {
  const noSchedule = new Map<string, boolean>();
  const agentsGone = new Set<string>();
  const serversGone = new Set<string>();
  const newAgents: WoodpeckerAgent[] = [];
  const newServers: ProviderServer[] = [];
  const adopted: ProviderServer[] = [];
  for (const r of results) {
    const a = r.action;
    if (r.agentGone) agentsGone.add(r.name);
    if (r.serverGone) serversGone.add(r.name);
    if (r.drained) noSchedule.set(r.name, true);
    if (r.outcome !== 'done') continue;
    if (a.kind === 'drain' || a.kind === 'reactivate') noSchedule.set(r.name, a.kind === 'drain');
    if (a.kind === 'create') {
      if (r.agent) newAgents.push({ ...r.agent, token: '' });
      if (r.server) newServers.push(r.server);
    }
    // An adopted server carries this installation's marker from now on: owned, no longer a legacy candidate.
    if (a.kind === 'adopt') {
      const s = obs.legacyServers?.find((x) => x.name === r.name);
      if (s) adopted.push(s);
    }
  }
  if (agentsGone.size + serversGone.size + noSchedule.size + newAgents.length + newServers.length + adopted.length === 0) {
    return obs;
  }
  const agents = [
    ...obs.agents
      .filter((x) => !agentsGone.has(x.name))
      .map((x) => {
        const flag = noSchedule.get(x.name);
        return flag === undefined || flag === x.no_schedule ? x : { ...x, no_schedule: flag };
      }),
    ...newAgents,
  ];
  const servers = obs.servers && [...obs.servers.filter((s) => !serversGone.has(s.name)), ...newServers, ...adopted];
  const out: Observation = { ...obs, agents, servers };
  if (adopted.length > 0 && obs.legacyServers) out.legacyServers = obs.legacyServers.filter((s) => !adopted.includes(s));
  return out;
}
