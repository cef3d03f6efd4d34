import type { DeskConfig } from './config/schema.ts';

/**
 * True for any address the desk receives at: everything at the desk domain (the MX points at the
 * desk, so no person has a mailbox there) and every project alias. Used to drop our own mail coming
 * back, and to keep desk addresses out of a ticket's participants.
 */
export const deskAddressMatcher = (config: DeskConfig): ((address: string) => boolean) => {
  const domain = `@${config.domain.toLowerCase()}`;
  const aliases = new Set(
    config.projects.flatMap((project) => project.aliases.map((alias) => alias.toLowerCase())),
  );
  return (address: string): boolean => {
    const lower = address.trim().toLowerCase();
    return lower.endsWith(domain) || aliases.has(lower);
  };
};
