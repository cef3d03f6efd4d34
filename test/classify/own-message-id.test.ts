import { describe, expect, it } from 'vitest';
import { classifyMail } from '../../core/stages/classify/index.ts';
import { ownMessageId } from '../../core/stages/classify/rules/own-message-id.ts';
import { context, fixture, withHeaders } from './support.ts';

describe('own_message_id', () => {
  it('fires on a Message-ID minted at the desk domain', () => {
    // Prepare
    const mail = fixture('own-message-id.eml');
    // Act
    const result = classifyMail(mail, context);
    // Assess
    expect(ownMessageId.test(mail, context)).toBe('Message-ID=postdesk.game.48.thank-you@desk.example.com');
    expect(result).toMatchObject({ verdict: 'own_mail', reason: 'own_message_id' });
  });

  it('compares the domain case-insensitively', () => {
    const mail = withHeaders([], { messageId: 'abc@DESK.Example.COM' });
    expect(ownMessageId.test(mail, context)).toBeDefined();
  });

  it('does not fire for a look-alike domain or a customer’s id', () => {
    expect(
      ownMessageId.test(withHeaders([], { messageId: 'abc@evil-desk.example.com' }), context),
    ).toBeUndefined();
    expect(
      ownMessageId.test(withHeaders([], { messageId: 'abc@desk.example.com.evil' }), context),
    ).toBeUndefined();
    expect(ownMessageId.test(fixture('human-question.eml'), context)).toBeUndefined();
    expect(ownMessageId.test(withHeaders([], { messageId: undefined }), context)).toBeUndefined();
  });
});
