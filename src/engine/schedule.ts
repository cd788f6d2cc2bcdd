/**
 * Warm-capacity schedules: periods written as 5-field cron RANGES (minute hour day-of-month month day-of-week, as in
 * GitLab Runner's `[[runners.autoscaler.policy]] periods`), each with the settings it changes while it is active, in
 * one time zone. The last matching schedule wins, per setting. Pure: the caller passes the time.
 *
 *   --schedule '* 8-18 * * mon-fri min-agents=2 min-idle-slots=2'
 *   --schedule '* * 24-26 12 * min-agents=0'          (holidays: later rows win)
 */

export interface ScheduleSettings {
  minAgents?: number;
  minIdleSlots?: number;
}

export interface Schedule {
  /** The text as written (for status and decisions). */
  text: string;
  fields: readonly FieldSet[];
  settings: ScheduleSettings;
}

/** Allowed values of one cron field (undefined = `*`). */
type FieldSet = ReadonlySet<number> | undefined;

interface FieldSpec {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const FIELDS: readonly FieldSpec[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { name: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];

const SETTING_KEYS: Record<string, keyof ScheduleSettings> = {
  'min-agents': 'minAgents',
  'min-idle-slots': 'minIdleSlots',
};

/** A schedule that cannot be read; the message says which part and why. */
export class ScheduleError extends Error {
  override name = 'ScheduleError';
}

function parseValue(raw: string, f: FieldSpec): number {
  const lower = raw.toLowerCase();
  const named = f.names?.indexOf(lower) ?? -1;
  if (named >= 0) return named + (f.name === 'month' ? 1 : 0);
  if (!/^\d+$/.test(raw)) throw new ScheduleError(`${f.name}: "${raw}" is not a number${f.names ? ' or a name' : ''}`);
  const n = Number(raw);
  if (n < f.min || n > f.max) throw new ScheduleError(`${f.name}: ${n} is outside ${f.min}–${f.max}`);
  return n;
}

function parseField(text: string, f: FieldSpec): FieldSet {
  if (text === '*') return undefined;
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    if (range === undefined || range === '') throw new ScheduleError(`${f.name}: empty part in "${text}"`);
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw new ScheduleError(`${f.name}: bad step in "${part}"`);
    let lo: number;
    let hi: number;
    if (range === '*') {
      lo = f.min;
      hi = f.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-');
      lo = parseValue(a ?? '', f);
      hi = parseValue(b ?? '', f);
      if (hi < lo) throw new ScheduleError(`${f.name}: range "${range}" runs backwards`);
    } else {
      lo = parseValue(range, f);
      hi = stepText === undefined ? lo : f.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(f.name === 'day of week' && v === 7 ? 0 : v);
  }
  return out;
}

/** Parses one `--schedule` value: five cron range fields, then `key=value` settings. */
export function parseSchedule(text: string): Schedule {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  if (words.length < 6) {
    throw new ScheduleError(
      `"${text}": expected 5 cron range fields (minute hour day-of-month month day-of-week) and at least one setting, e.g. "* 8-18 * * mon-fri min-idle-slots=2"`,
    );
  }
  const fields = FIELDS.map((f, i) => parseField(words[i] ?? '*', f));
  const settings: ScheduleSettings = {};
  for (const word of words.slice(5)) {
    const eq = word.indexOf('=');
    const key = SETTING_KEYS[eq > 0 ? word.slice(0, eq) : word];
    if (!key) {
      throw new ScheduleError(`"${word}": a schedule sets ${Object.keys(SETTING_KEYS).join(' or ')}, as key=value`);
    }
    const raw = word.slice(eq + 1);
    if (!/^\d+$/.test(raw)) throw new ScheduleError(`"${word}": the value must be a whole number, 0 or more`);
    settings[key] = Number(raw);
  }
  return { text: text.trim(), fields, settings };
}

/** Checks that a time zone name is known to this Node (IANA names such as `Europe/Moscow`, or `UTC`). */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export interface LocalTime {
  minute: number;
  hour: number;
  day: number;
  month: number;
  /** 0 = Sunday */
  weekday: number;
  year: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const WEEKDAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** The wall-clock fields of `ms` in time zone `tz`. */
export function localTime(ms: number, tz: string): LocalTime {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      weekday: 'short',
    });
    formatters.set(tz, f);
  }
  const parts: Record<string, string> = {};
  for (const p of f.formatToParts(new Date(ms))) parts[p.type] = p.value;
  return {
    minute: Number(parts.minute),
    hour: Number(parts.hour),
    day: Number(parts.day),
    month: Number(parts.month),
    year: Number(parts.year),
    weekday: WEEKDAYS.indexOf((parts.weekday ?? '').slice(0, 3).toLowerCase()),
  };
}

/** Cron semantics: when both day-of-month and day-of-week are restricted, either may match. */
export function scheduleMatches(s: Schedule, t: LocalTime): boolean {
  const [minute, hour, dom, month, dow] = s.fields;
  const has = (set: FieldSet, v: number): boolean => set === undefined || set.has(v);
  if (!has(minute, t.minute) || !has(hour, t.hour) || !has(month, t.month)) return false;
  if (dom !== undefined && dow !== undefined) return dom.has(t.day) || dow.has(t.weekday);
  return has(dom, t.day) && has(dow, t.weekday);
}

export interface ActiveSettings extends ScheduleSettings {
  /** The schedules that set something now, in order (for status and reasons). */
  active: string[];
}

/** The settings in force at `ms`: every matching schedule applies in order, so a later one wins per setting. */
export function scheduledSettings(schedules: readonly Schedule[], ms: number, tz: string): ActiveSettings {
  const out: ActiveSettings = { active: [] };
  if (schedules.length === 0) return out;
  const t = localTime(ms, tz);
  for (const s of schedules) {
    if (!scheduleMatches(s, t)) continue;
    out.active.push(s.text);
    if (s.settings.minAgents !== undefined) out.minAgents = s.settings.minAgents;
    if (s.settings.minIdleSlots !== undefined) out.minIdleSlots = s.settings.minIdleSlots;
  }
  return out;
}
