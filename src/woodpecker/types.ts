/**
 * Woodpecker v3 REST API shapes (server v3.17). Only what the autoscaler reads is typed strictly;
 * see docs/architecture.md for the traps (null lists, 50-per-page, HTML fallback).
 */

export interface WoodpeckerAgent {
  id: number;
  /** unix seconds; 0 = unknown */
  created: number;
  updated: number;
  name: string;
  owner_id: number;
  /** Per-agent secret. Never log it. */
  token: string;
  /** unix seconds; 0 = never connected */
  last_contact: number;
  /** unix seconds; 0 = never worked */
  last_work: number;
  platform: string;
  backend: string;
  capacity: number;
  version: string;
  no_schedule: boolean;
  custom_labels: Record<string, string> | null;
  org_id: number;
}

export interface WoodpeckerTask {
  id: string;
  name?: string;
  labels: Record<string, string> | null;
  dependencies: string[] | null;
  run_on: string[] | null;
  dep_status: Record<string, string> | null;
  /** 0 when not assigned */
  agent_id: number;
  pipeline_id?: number;
  repo_id?: number;
  created?: number;
}

export interface QueueStats {
  /** idle polling worker slots on ALL agents of the server */
  worker_count: number;
  pending_count: number;
  waiting_on_deps_count: number;
  running_count: number;
}

export interface QueueInfo {
  pending: WoodpeckerTask[];
  waiting_on_deps: WoodpeckerTask[];
  running: WoodpeckerTask[];
  stats: QueueStats;
  paused: boolean;
}
