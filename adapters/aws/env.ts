import { PermanentError } from '../../core/errors.ts';

/**
 * Environment read once at cold start, every problem reported at once with what each variable
 * should hold (after Powertools' `packages/commons/src/envUtils.ts`: a variable is required unless
 * it has a default, and the error names it). A function that starts with a missing variable fails
 * every mail the same way; one clear error in the first log line beats a TypeError per mail.
 */

export interface EnvVariable {
  /** What the variable holds, for the error message. */
  description: string;
  /** Used when the variable is unset or empty; without one the variable is required. */
  default?: string | undefined;
}

export class EnvironmentError extends PermanentError {
  readonly variables: readonly string[];
  constructor(problems: readonly { name: string; message: string }[]) {
    super(
      'environment_invalid',
      `the function's environment is incomplete (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${problems
        .map((problem) => `  ${problem.name}: ${problem.message}`)
        .join('\n')}`,
    );
    this.name = 'EnvironmentError';
    this.variables = problems.map((problem) => problem.name);
  }
}

export type EnvSpec = Readonly<Record<string, EnvVariable>>;

/** Values of the variables in `spec`, each present (required) or defaulted. */
export type EnvValues<S extends EnvSpec> = { [K in keyof S]: string };

/**
 * Reads every variable in `spec`; `oneOf` lists groups where at least one must be set (their
 * members are then optional individually and come back as `undefined` when unset).
 */
export const readEnv = <S extends EnvSpec, O extends EnvSpec = Record<never, EnvVariable>>(
  env: NodeJS.ProcessEnv,
  spec: S,
  oneOf: readonly O[] = [],
): EnvValues<S> & { [K in keyof O]: string | undefined } => {
  const problems: { name: string; message: string }[] = [];
  const values: Record<string, string | undefined> = {};
  for (const [name, variable] of Object.entries(spec)) {
    const value = nonEmpty(env[name]) ?? variable.default;
    if (value === undefined) problems.push({ name, message: `not set; set it to ${variable.description}` });
    values[name] = value;
  }
  for (const group of oneOf) {
    const names = Object.keys(group);
    for (const name of names) values[name] = nonEmpty(env[name]);
    if (names.every((name) => values[name] === undefined)) {
      problems.push({
        name: names.join(' or '),
        message: `none is set; set one: ${names.map((name) => `${name} (${group[name]?.description ?? ''})`).join(', or ')}`,
      });
    }
  }
  if (problems.length > 0) throw new EnvironmentError(problems);
  return values as EnvValues<S> & { [K in keyof O]: string | undefined };
};

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value;
