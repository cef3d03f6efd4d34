import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { listId } from '../../core/stages/classify/rules/list-id.ts';
import { context, fixture } from './support.ts';

describe('list_id', () => {
  it('fires on a Google Groups post', () => {
    // Prepare
    const mail = fixture('list-id.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(listId.test(mail, context)).toBe('List-Id=<game-users.googlegroups.com>');
    expect(result).toMatchObject({ verdict: 'bulk', reason: 'list_id' });
  });

  it('does not fire without the header', () => {
    expect(listId.test(fixture('human-question.eml'), context)).toBeUndefined();
  });
});
