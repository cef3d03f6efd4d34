import type { Node } from 'yaml';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import type { ConfigProblem } from '../errors.ts';
import { ConfigError } from '../errors.ts';
import { ConfigSchema, type DeskConfig } from './schema.ts';

/**
 * Parses and checks a config document. Every problem is collected, YAML syntax and schema alike,
 * each with its line, and thrown together in one ConfigError: a platform engineer fixes the file
 * once, not once per run.
 */
export const parseConfig = (text: string, file = 'postdesk.config.yaml'): DeskConfig => {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const problems: ConfigProblem[] = [];
  for (const error of doc.errors) {
    problems.push({
      path: '(yaml)',
      line: lineCounter.linePos(error.pos[0]).line,
      message: `${error.message.split('\n')[0]} (fix the YAML syntax)`,
    });
  }
  if (problems.length > 0) throw new ConfigError(file, problems);

  const result = ConfigSchema.safeParse(doc.toJS() ?? {});
  if (result.success) return checkCrossFields(result.data, doc.contents, lineCounter, file);

  for (const issue of result.error.issues) {
    const path = issue.path.map(String);
    const extra = issue.code === 'unrecognized_keys' ? issue.keys : [];
    if (extra.length > 0) {
      for (const key of extra) {
        problems.push({
          path: [...path, key].join('.'),
          line: lineOf(doc.contents, [...path, key], lineCounter, true),
          message: `unknown key "${key}" (remove it, or check its spelling against the README's config reference)`,
        });
      }
      continue;
    }
    problems.push({
      path: path.join('.') || '(root)',
      line: lineOf(doc.contents, path, lineCounter, false),
      message: issue.message,
    });
  }
  throw new ConfigError(file, problems);
};

const checkCrossFields = (
  config: DeskConfig,
  root: Node | null,
  lineCounter: LineCounter,
  file: string,
): DeskConfig => {
  const problems: ConfigProblem[] = [];
  const seenKeys = new Map<string, number>();
  const seenPaths = new Map<string, number>();
  const seenAliases = new Map<string, number>();
  config.projects.forEach((project, index) => {
    const firstKey = seenKeys.get(project.key);
    if (firstKey !== undefined) {
      problems.push({
        path: `projects.${index}.key`,
        line: lineOf(root, ['projects', String(index), 'key'], lineCounter, false),
        message: `key "${project.key}" is already used by projects.${firstKey}; each project needs its own key`,
      });
    } else seenKeys.set(project.key, index);
    const firstPath = seenPaths.get(project.path.toLowerCase());
    if (firstPath !== undefined) {
      problems.push({
        path: `projects.${index}.path`,
        line: lineOf(root, ['projects', String(index), 'path'], lineCounter, false),
        message: `project ${project.path} is listed twice (also projects.${firstPath}); merge the two entries`,
      });
    } else seenPaths.set(project.path.toLowerCase(), index);
    project.aliases.forEach((alias, aliasIndex) => {
      const lower = alias.toLowerCase();
      const first = seenAliases.get(lower);
      if (first !== undefined) {
        problems.push({
          path: `projects.${index}.aliases.${aliasIndex}`,
          line: lineOf(root, ['projects', String(index), 'aliases', String(aliasIndex)], lineCounter, false),
          message: `alias ${alias} is already used by projects.${first}; an address can route to one project only`,
        });
      } else seenAliases.set(lower, index);
    });
  });
  if (problems.length > 0) throw new ConfigError(file, problems);
  return config;
};

/** The 1-based line of the node at `path` (or of its key), walking up to the nearest node that exists. */
const lineOf = (
  root: Node | null,
  path: readonly string[],
  lineCounter: LineCounter,
  wantKey: boolean,
): number | undefined => {
  let node: unknown = root;
  let best: number | undefined = rangeLine(root, lineCounter);
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find(
        (item) => String((item.key as { value?: unknown })?.value ?? item.key) === segment,
      );
      if (!pair) break;
      const keyLine = rangeLine(pair.key as Node, lineCounter);
      best = keyLine ?? best;
      node = pair.value;
      if (!wantKey) best = rangeLine(node as Node, lineCounter) ?? keyLine ?? best;
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)];
      if (item === undefined) break;
      node = item;
      best = rangeLine(item as Node, lineCounter) ?? best;
    } else break;
  }
  return best;
};

const rangeLine = (node: Node | null | undefined, lineCounter: LineCounter): number | undefined => {
  const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
  return range ? lineCounter.linePos(range[0]).line : undefined;
};
