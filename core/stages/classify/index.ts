import type { ParsedMail } from '../../model.ts';
import { pass, type StageResult } from '../../trace.ts';
import type { Classification, Stage } from '../contracts.ts';
import { classifyRules } from './rules/index.ts';
import type { ClassifyContext } from './types.ts';

export { isNoReplySender, suppressesAutoResponse } from './no-reply.ts';
export { classifyRules } from './rules/index.ts';
export type { ClassifyContext, ClassifyRule } from './types.ts';

/** Every reason code of the classify stage: `human` when no rule fired, else the deciding rule's. */
export type ClassifyReason = 'human' | (typeof classifyRules)[number]['reason'];

/**
 * Sorts a mail into human, auto-reply, out-of-office, bulk, bounce or our own mail coming back.
 * GitLab's two rules are the floor, the peers' union the rest (helpdesk-peers §11.1); each rule is
 * one file under `rules/`. Always passes: what a class does (drop, internal note, no
 * acknowledgement) is the pipeline's decision, per project. The verdict is the class.
 */
export const classifyMail = (
  mail: ParsedMail,
  context: ClassifyContext,
): StageResult<Classification, ClassifyReason> => {
  const signals: string[] = [];
  let decided: Omit<Classification, 'signals'> | undefined;
  for (const rule of classifyRules) {
    const found = rule.test(mail, context);
    if (found === undefined) continue;
    signals.push(`${rule.reason}: ${found}`);
    decided ??= { kind: rule.kind, reason: rule.reason };
  }
  const classification: Classification = {
    kind: decided?.kind ?? 'human',
    reason: decided?.reason ?? 'human',
    signals,
  };
  return pass(
    classification,
    classification.kind,
    classification.reason,
    signals.length > 0 ? { signals } : undefined,
  );
};

/** The classify stage: the desk's domain and addresses from the context; our outbound loop header. */
export const classifyStage: Stage<
  ParsedMail,
  Classification,
  ClassifyReason,
  'config' | 'isDeskAddress'
> = async (mail, context) =>
  classifyMail(mail, {
    domain: context.config.domain,
    isDeskAddress: context.isDeskAddress,
    loopHeader: 'x-postdesk-loop',
  });
