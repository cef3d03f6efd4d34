import { describe, expect, it } from 'vitest';
import { AuthenticationPolicySchema } from '../../core/config/schema.ts';
import { effectivePolicy } from '../../core/pipeline.ts';

/**
 * The policy a mail is held to, cell by cell: what the verdict source can evaluate decides which
 * requirements stand. The default policy (`require: [spam, virus]`) is the path every newcomer's
 * local mail takes, so each cell is asserted on it as well as on a policy that requires all five.
 */
const defaults = AuthenticationPolicySchema.parse({});
const everything = AuthenticationPolicySchema.parse({ require: ['spam', 'virus', 'spf', 'dkim', 'dmarc'] });

describe('effectivePolicy', () => {
  it.each([
    ['ses', defaults, ['spam', 'virus'], []],
    ['ses', everything, ['spam', 'virus', 'spf', 'dkim', 'dmarc'], []],
    // The local desk computes SPF, DKIM, DMARC and ARC, but has no spam or virus scanner.
    ['local', defaults, [], ['spam', 'virus']],
    ['local', everything, ['spf', 'dkim', 'dmarc'], ['spam', 'virus']],
    // A bare file has no receipt at all.
    ['none', defaults, [], ['spam', 'virus']],
    ['none', everything, [], ['spam', 'virus', 'spf', 'dkim', 'dmarc']],
  ] as const)('source %s, require %j', (source, policy, required, notEvaluated) => {
    // Act
    const result = effectivePolicy(policy, source);
    // Assess
    expect(result.policy.require).toEqual(required);
    expect(result.notEvaluated).toEqual(notEvaluated);
    expect(result.policy.on_fail).toBe(policy.on_fail);
    expect(result.policy.honour_dmarc_policy).toBe(policy.honour_dmarc_policy);
  });

  it('the default policy requires spam and virus', () => {
    expect(defaults.require).toEqual(['spam', 'virus']);
  });
});
