/** Helpers for configuration messages: "did you mean …?" and "2nd". */

/** Levenshtein edit distance (insert, delete, substitute). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((prev[j] ?? 0) + 1, (row[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

const words = (s: string): string[] => s.toLowerCase().split(/[-_.\s]+/).filter((w) => w !== '');

/**
 * The known name closest to `name`: among the names that have every word of `name` (as a word prefix:
 * `timewebcloud-zone` → `timewebcloud-availability-zone`), else among all, the smallest edit distance; undefined
 * when nothing is reasonably close. Ties: the first in `known`.
 */
export function closestName(name: string, known: readonly string[]): string | undefined {
  const mine = words(name);
  const byWords = known.filter((k) => {
    const theirs = words(k);
    return mine.length > 0 && mine.every((w) => theirs.some((t) => t.startsWith(w)));
  });
  const pool = byWords.length > 0 ? byWords : known;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of pool) {
    const d = editDistance(name.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  if (byWords.length > 0) return best;
  return bestDistance <= Math.max(3, Math.floor(name.length / 2)) ? best : undefined;
}

/** 1st, 2nd, 3rd, 4th, 11th, 12th, 13th, 21st, 22nd, 101st… */
export function ordinal(n: number): string {
  const mod100 = n % 100;
  if (mod100 >= 11 && mod100 <= 13) return `${n}th`;
  const suffix = ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${n}${suffix}`;
}
