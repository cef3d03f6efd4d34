import {
  DescribeActiveReceiptRuleSetCommand,
  DescribeReceiptRuleSetCommand,
  SESClient,
  SetActiveReceiptRuleSetCommand,
} from '@aws-sdk/client-ses';

/**
 * The custom resource that guards our receipt rule set: an account has one active set per region,
 * CloudFormation has no resource for it (aws/aws-cdk#10321), and SES refuses to delete the active
 * set, so a stack delete that does nothing about it fails, or, done the usual way
 * (SetActiveReceiptRuleSet with no name), switches off whatever set is active, another team's mail
 * included.
 *
 * - `create` mode: nothing on create and update (the set is left for the platform team to
 *   activate); on delete, deactivate our set if it is active and holds only our rules.
 * - `create-and-activate` mode: on create and update, activate our set unless another one is
 *   active; on delete, as above.
 * - On delete, in both modes, a set that holds rules we did not create is never deleted: the
 *   delete fails and says what to do. CloudFormation deletes this resource before the rule and
 *   the set (they are its dependencies), so at that point the set still holds our rule.
 * - A create that failed leaves a marker physical id, and the delete of the rollback does nothing.
 *
 * Every outcome is reported to CloudFormation, so a stack never waits an hour for an answer.
 */

export type GuardMode = 'create' | 'create-and-activate';

export interface GuardProperties {
  readonly RuleSetName: string;
  /** The rules our stack creates in the set; any other rule is someone else's. */
  readonly RuleNames: readonly string[];
  readonly Mode: GuardMode;
}

export interface GuardEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly ResponseURL: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Partial<GuardProperties> & { readonly ServiceToken?: string };
  readonly OldResourceProperties?: Partial<GuardProperties>;
}

export interface GuardResponse {
  readonly Status: 'SUCCESS' | 'FAILED';
  readonly Reason: string;
  readonly PhysicalResourceId: string;
  readonly StackId: string;
  readonly RequestId: string;
  readonly LogicalResourceId: string;
}

/** The physical id of a create that failed: its rollback delete must change nothing. */
export const CREATE_FAILED_ID = 'receipt-rule-set-guard:create-failed';

/** Same form as before the guard existed, so an existing deployment is updated, not replaced. */
export const physicalIdOf = (ruleSetName: string): string => `active-receipt-rule-set:${ruleSetName}`;

class GuardRefusal extends Error {}

const propertiesOf = (raw: GuardEvent['ResourceProperties'] | undefined): GuardProperties => {
  const name = raw?.RuleSetName;
  const rules = raw?.RuleNames;
  const mode = raw?.Mode;
  if (typeof name !== 'string' || name === '') throw new GuardRefusal('RuleSetName is missing');
  if (!Array.isArray(rules) || !rules.every((rule) => typeof rule === 'string')) {
    throw new GuardRefusal('RuleNames must be a list of rule names');
  }
  if (mode !== 'create' && mode !== 'create-and-activate')
    throw new GuardRefusal(`unknown Mode ${String(mode)}`);
  return { RuleSetName: name, RuleNames: rules, Mode: mode };
};

const activeRuleSet = async (ses: SESClient): Promise<string | undefined> =>
  (await ses.send(new DescribeActiveReceiptRuleSetCommand({}))).Metadata?.Name;

/** The rule names in the set, or undefined when there is no such set. */
const rulesIn = async (ses: SESClient, ruleSetName: string): Promise<string[] | undefined> => {
  try {
    const set = await ses.send(new DescribeReceiptRuleSetCommand({ RuleSetName: ruleSetName }));
    return (set.Rules ?? []).map((rule) => rule.Name ?? '');
  } catch (error) {
    if ((error as { name?: string }).name === 'RuleSetDoesNotExistException') return undefined;
    throw error;
  }
};

const activate = async (
  ses: SESClient,
  props: GuardProperties,
  previous: string | undefined,
): Promise<string> => {
  const active = await activeRuleSet(ses);
  if (active === props.RuleSetName) return `${props.RuleSetName} is already the active receipt rule set`;
  if (active !== undefined && active !== previous) {
    throw new GuardRefusal(
      `the receipt rule set "${active}" is active in this region; activating "${props.RuleSetName}" would replace it and stop its mail. Deploy with -c ruleSetMode=existing -c existingRuleSetName=${active} to add the desk rule to it, or with -c ruleSetMode=create and activate a set yourself, or deactivate "${active}" first (aws ses set-active-receipt-rule-set)`,
    );
  }
  await ses.send(new SetActiveReceiptRuleSetCommand({ RuleSetName: props.RuleSetName }));
  return `activated ${props.RuleSetName}${active === undefined ? '' : ` in place of our previous set ${active}`}`;
};

const guardDelete = async (ses: SESClient, props: GuardProperties): Promise<string> => {
  const rules = await rulesIn(ses, props.RuleSetName);
  const active = await activeRuleSet(ses);
  const ours = active === props.RuleSetName;
  const foreign = (rules ?? []).filter((rule) => !props.RuleNames.includes(rule));
  if (foreign.length > 0) {
    const list = foreign.join(', ');
    throw new GuardRefusal(
      `the receipt rule set "${props.RuleSetName}"${ours ? ', the active set of this region,' : ''} holds rules Postdesk did not create (${list}); deleting the stack would delete them${ours ? ' and stop all mail receiving in the region' : ''}. Move them to another rule set (aws ses describe-receipt-rule --rule-set-name ${props.RuleSetName} --rule-name <rule>, then aws ses create-receipt-rule --rule-set-name <other set> --rule file://rule.json${ours ? ', and aws ses set-active-receipt-rule-set --rule-set-name <other set>' : ''}) or delete them (aws ses delete-receipt-rule --rule-set-name ${props.RuleSetName} --rule-name <rule>), then delete the stack again`,
    );
  }
  if (!ours) return `${props.RuleSetName} is not the active receipt rule set; nothing to deactivate`;
  await ses.send(new SetActiveReceiptRuleSetCommand({}));
  return `deactivated ${props.RuleSetName}, which held only the desk's rules (${props.RuleNames.join(', ')})`;
};

/** What to answer CloudFormation; never throws. */
export const processEvent = async (event: GuardEvent, ses: SESClient): Promise<GuardResponse> => {
  const answer = (status: GuardResponse['Status'], physicalId: string, reason: string): GuardResponse => ({
    Status: status,
    Reason: reason.slice(0, 900),
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  });
  if (event.RequestType === 'Delete') {
    const physicalId = event.PhysicalResourceId ?? CREATE_FAILED_ID;
    if (physicalId === CREATE_FAILED_ID) {
      return answer('SUCCESS', physicalId, 'the create failed and changed nothing; nothing to undo');
    }
    try {
      return answer('SUCCESS', physicalId, await guardDelete(ses, propertiesOf(event.ResourceProperties)));
    } catch (error) {
      return answer('FAILED', physicalId, messageOf(error));
    }
  }
  let props: GuardProperties | undefined;
  try {
    props = propertiesOf(event.ResourceProperties);
    const reason =
      props.Mode === 'create-and-activate'
        ? await activate(ses, props, event.OldResourceProperties?.RuleSetName)
        : `${props.RuleSetName} is left as it is (ruleSetMode=create); the stack delete will deactivate it only if it holds nothing but the desk's rules`;
    return answer('SUCCESS', physicalIdOf(props.RuleSetName), reason);
  } catch (error) {
    // A failed create gets the marker id (its rollback delete does nothing); a failed update keeps
    // the resource's id, so CloudFormation rolls back to the old properties.
    const physicalId =
      event.RequestType === 'Create' || event.PhysicalResourceId === undefined
        ? CREATE_FAILED_ID
        : event.PhysicalResourceId;
    return answer('FAILED', physicalId, messageOf(error));
  }
};

const messageOf = (error: unknown): string =>
  error instanceof Error
    ? `${error instanceof GuardRefusal ? '' : `${error.name}: `}${error.message}`
    : String(error);

/** PUTs the answer to CloudFormation's pre-signed URL (the body's content type must be empty). */
export const sendResponse = async (url: string, response: GuardResponse): Promise<void> => {
  const body = JSON.stringify(response);
  const reply = await fetch(url, { method: 'PUT', headers: { 'content-type': '' }, body });
  if (!reply.ok) throw new Error(`CloudFormation did not take the response: HTTP ${reply.status}`);
};

const ses = new SESClient({});

export const handler = async (event: GuardEvent): Promise<void> => {
  const response = await processEvent(event, ses);
  console.log(
    JSON.stringify({
      request: event.RequestType,
      ruleSet: event.ResourceProperties.RuleSetName ?? null,
      status: response.Status,
      reason: response.Reason,
    }),
  );
  await sendResponse(event.ResponseURL, response);
};
