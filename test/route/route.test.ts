import { describe, expect, it } from 'vitest';
import type { RouteTarget } from '../../core/stages/contracts.ts';
import { routeMail } from '../../core/stages/route/index.ts';
import { createReplyToken } from '../../core/threading/reply-token.ts';
import type { StageResult } from '../../core/trace.ts';
import { buildMail } from '../support/mail-factory.ts';
import { configWith, deskConfig, envelopeTo, fixture, noEnvelope } from './support.ts';

const routes = (result: StageResult<RouteTarget[]>) =>
  result.ok
    ? result.value.map((target) => ({
        project: target.project.path,
        address: target.address,
        via: target.via,
        ...(target.replyToken === undefined ? {} : { replyToken: target.replyToken }),
      }))
    : result;

const plainMail = buildMail([
  ['From', 'Jane Doe <jane.doe@example.org>'],
  ['To', 'alex@partner.example.net'],
]);

describe('routeMail', () => {
  describe('from the envelope (SES receipt.recipients)', () => {
    it('routes a Bcc’d desk that no header names', () => {
      // Prepare
      const mail = fixture('bcc-only.eml');
      // Act
      const result = routeMail(mail, envelopeTo('support+game@desk.example.com'), deskConfig);
      // Assess
      expect(result).toMatchObject({ ok: true, verdict: 'routed', reason: 'envelope_recipients' });
      expect(routes(result)).toEqual([
        { project: 'acme/game', address: 'support+game@desk.example.com', via: 'project_key' },
      ]);
    });

    it('does not fall back to To when no envelope recipient routes (fail closed)', () => {
      // Prepare: delivered to an unknown key, while To names a real project.
      const mail = fixture('two-desks.eml');
      // Act
      const result = routeMail(mail, envelopeTo('support+nope@desk.example.com'), deskConfig);
      // Assess
      expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'no_route' });
    });

    it('routes one mail to two desks, in recipient order', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support+shop@desk.example.com', 'SUPPORT+GAME@DESK.EXAMPLE.COM'),
        deskConfig,
      );
      expect(routes(result)).toEqual([
        { project: 'acme/web-shop', address: 'support+shop@desk.example.com', via: 'project_key' },
        { project: 'acme/game', address: 'support+game@desk.example.com', via: 'project_key' },
      ]);
    });

    it('routes a configured alias at another domain, case-insensitively', () => {
      const result = routeMail(plainMail, envelopeTo('Help@ACME.example'), deskConfig);
      expect(routes(result)).toEqual([{ project: 'acme/game', address: 'help@acme.example', via: 'alias' }]);
    });

    it('makes one target per project when a project is reached twice', () => {
      const result = routeMail(
        plainMail,
        envelopeTo(
          'help@acme.example',
          'support+game@desk.example.com',
          'support+acme-game-game@desk.example.com',
        ),
        deskConfig,
      );
      expect(routes(result)).toEqual([{ project: 'acme/game', address: 'help@acme.example', via: 'alias' }]);
    });
  });

  describe('from headers, when there is no envelope', () => {
    it('routes To and Cc desks to both projects (two issues)', () => {
      // Prepare
      const mail = fixture('two-desks.eml');
      // Act
      const result = routeMail(mail, noEnvelope, deskConfig);
      // Assess
      expect(result).toMatchObject({ ok: true, reason: 'header_recipients' });
      expect(routes(result)).toEqual([
        { project: 'acme/game', address: 'support+game@desk.example.com', via: 'project_key' },
        { project: 'acme/web-shop', address: 'support+shop@desk.example.com', via: 'project_key' },
      ]);
    });

    it('routes a desk named only in SES’s Received header', () => {
      const result = routeMail(fixture('received-for-only.eml'), noEnvelope, deskConfig);
      expect(routes(result)).toEqual([
        { project: 'acme/web-shop', address: 'support+shop@desk.example.com', via: 'project_key' },
      ]);
    });

    it('routes a forwarded mail: the alias in To wins the project, the GitLab address is the same one', () => {
      const result = routeMail(fixture('forwarded-gitlab-incoming.eml'), noEnvelope, deskConfig);
      expect(routes(result)).toEqual([{ project: 'acme/game', address: 'help@acme.example', via: 'alias' }]);
    });
  });

  describe('reply tokens', () => {
    it('routes a reply address by the token’s project key, unverified, token kept', () => {
      // Prepare
      const token = createReplyToken('k'.repeat(32), {
        projectKey: 'shop',
        issueIid: 17,
        participantIndex: 1,
        projectPath: 'acme/web-shop',
        participant: 'jane.doe@example.org',
      });
      // Act
      const result = routeMail(plainMail, envelopeTo(`support+${token}@desk.example.com`), deskConfig);
      // Assess
      expect(routes(result)).toEqual([
        {
          project: 'acme/web-shop',
          address: `support+${token}@desk.example.com`,
          via: 'reply_token',
          replyToken: token,
        },
      ]);
    });

    it('lets the reply token win over the plain address of the same project (reply-all)', () => {
      const result = routeMail(fixture('reply-with-desk-cc.eml'), noEnvelope, deskConfig);
      expect(routes(result)).toEqual([
        {
          project: 'acme/game',
          address: 'support+r-game-42-0-k3jaxbm4p7qcr5t6vdwe@desk.example.com',
          via: 'reply_token',
          replyToken: 'r-game-42-0-k3jaxbm4p7qcr5t6vdwe',
        },
      ]);
    });

    it('does not route a token for an unknown project key, and says why', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support+r-gone-3-0-abcdefghijklmnopqrst@desk.example.com'),
        deskConfig,
      );
      expect(result).toMatchObject({ ok: false, reason: 'no_route' });
      expect(!result.ok && result.message).toContain('reply token names unknown project key "gone"');
    });

    it('does not treat a malformed token as a token', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support+r-game-42-0-short@desk.example.com'),
        deskConfig,
      );
      expect(result).toMatchObject({ ok: false, reason: 'no_route' });
    });
  });

  describe('GitLab address forms', () => {
    it('routes incoming+<slug>-<id>-issue-@ when id and slug both match', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('incoming+acme-game-42-issue-@desk.example.com'),
        deskConfig,
      );
      expect(routes(result)).toEqual([
        {
          project: 'acme/game',
          address: 'incoming+acme-game-42-issue-@desk.example.com',
          via: 'gitlab_incoming',
        },
      ]);
    });

    it('accepts the desk mailbox for the -issue- form, and GitLab’s lossy slug of an odd path', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support+acme-corp-game-engine-1001-issue-@desk.example.com'),
        deskConfig,
      );
      expect(routes(result)).toEqual([
        {
          project: 'Acme.Corp/Game_Engine',
          address: 'support+acme-corp-game-engine-1001-issue-@desk.example.com',
          via: 'gitlab_incoming',
        },
      ]);
    });

    it('fails closed when the id matches but the slug names another project', () => {
      // Prepare: id 42 is acme/game; the slug says acme-web-shop.
      const address = 'incoming+acme-web-shop-42-issue-@desk.example.com';
      // Act
      const result = routeMail(plainMail, envelopeTo(address), deskConfig);
      // Assess
      expect(result).toMatchObject({ ok: false, outcome: 'rejected', reason: 'no_route' });
      expect(!result.ok && result.message).toContain('is not the slug of acme/game (fail closed)');
    });

    it.each([
      ['incoming+acme-game-43-issue-@desk.example.com', 'no project has id 43'],
      ['incoming+acme-game-42-issue@desk.example.com', 'mailbox "incoming" is not "support"'],
      ['other+acme-game-42-issue-@desk.example.com', 'mailbox "other" is not "support"'],
    ])('does not route %s', (address, why) => {
      const result = routeMail(plainMail, envelopeTo(address), deskConfig);
      expect(result).toMatchObject({ ok: false, reason: 'no_route', detail: { misses: [{ address, why }] } });
    });

    it('routes the project-key alias <mailbox>+<slug>-<key>@ when slug and key match', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support+acme-web-shop-shop@desk.example.com'),
        deskConfig,
      );
      expect(routes(result)).toEqual([
        {
          project: 'acme/web-shop',
          address: 'support+acme-web-shop-shop@desk.example.com',
          via: 'project_key',
        },
      ]);
    });

    it('fails closed on a project-key alias whose slug is wrong', () => {
      const result = routeMail(plainMail, envelopeTo('support+acme-game-shop@desk.example.com'), deskConfig);
      expect(result).toMatchObject({ ok: false, reason: 'no_route' });
    });

    it('fails closed when GitLab’s lossy slug and a repeated id make two projects match', () => {
      // Prepare: the schema keeps keys, paths and aliases unique, not ids; a/b-c and a-b/c share a slug.
      const [game, shop] = deskConfig.projects;
      if (!game || !shop) throw new Error('fixture config changed');
      const config = {
        ...deskConfig,
        projects: [
          { ...game, path: 'a/b-c', id: 5 },
          { ...shop, path: 'a-b/c', id: 5 },
        ],
      };
      // Act
      const result = routeMail(plainMail, envelopeTo('incoming+a-b-c-5-issue-@desk.example.com'), config);
      // Assess
      expect(result).toMatchObject({ ok: false, reason: 'no_route' });
      expect(!result.ok && result.message).toContain('ambiguous: a/b-c, a-b/c all match (fail closed)');
    });
  });

  describe('no route', () => {
    it('rejects with every recipient seen, and the source', () => {
      // Prepare
      const mail = fixture('bcc-only.eml');
      // Act
      const result = routeMail(mail, noEnvelope, deskConfig);
      // Assess
      expect(result).toEqual({
        ok: false,
        outcome: 'rejected',
        reason: 'no_route',
        message:
          'No recipient routes to a configured project. Recipients seen (headers): alex@partner.example.net.',
        detail: { source: 'headers', recipients: ['alex@partner.example.net'] },
      });
    });

    it('explains desk-domain addresses that did not match', () => {
      const result = routeMail(
        plainMail,
        envelopeTo('support@desk.example.com', 'support+gme@desk.example.com'),
        deskConfig,
      );
      expect(!result.ok && result.message).toBe(
        'No recipient routes to a configured project. Recipients seen (envelope): support@desk.example.com, ' +
          'support+gme@desk.example.com. support@desk.example.com: no project key after "support+". ' +
          'support+gme@desk.example.com: no project has key "gme".',
      );
    });

    it('says "none" when neither envelope nor headers name anyone', () => {
      const result = routeMail(buildMail([['From', 'jane.doe@example.org']]), noEnvelope, deskConfig);
      expect(!result.ok && result.message).toContain('Recipients seen (headers): none.');
    });

    it('caps the list of recipients in the message at 20', () => {
      const many = Array.from({ length: 25 }, (_, index) => `person${index}@example.net`);
      const result = routeMail(plainMail, envelopeTo(...many), deskConfig);
      expect(!result.ok && result.message).toContain('person19@example.net and 5 more.');
    });
  });

  it('honours a custom mailbox name', () => {
    const config = configWith('  - { path: acme/game, key: game }\n', 'mailbox: Contact\n');
    const result = routeMail(plainMail, envelopeTo('contact+game@desk.example.com'), config);
    expect(routes(result)).toEqual([
      { project: 'acme/game', address: 'contact+game@desk.example.com', via: 'project_key' },
    ]);
  });
});
