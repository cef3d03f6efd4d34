import { Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/**
 * Acknowledges AwsSolutions-IAM5 for exactly the listed wildcard resources, one finding each, so a
 * new wildcard added later is still reported. cdk-nag names a finding after the resource as
 * CloudFormation will see it, flattened (`Resource::arn:<AWS::Partition>:s3:::bucket/ledger/*`).
 */
export const acknowledgeWildcardResources = (
  scope: IConstruct,
  resources: readonly string[],
  reason: string,
): void => {
  const stack = Stack.of(scope);
  for (const resource of resources) {
    Validations.of(scope).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${flattenCfnReference(stack.resolve(resource))}]`,
      reason,
    });
  }
};

/**
 * The same flattening cdk-nag applies to a resource before it names a finding
 * (cdklabs/cdk-nag `src/utils/flatten-cfn-reference.ts`, which the package does not export).
 */
export const flattenCfnReference = (reference: unknown): string => {
  if (reference === undefined) return '';
  if (typeof reference === 'string') return reference.replace(/\$\{/g, '<').replace(/\}/g, '>');
  if (typeof reference === 'object' && reference !== null) {
    const node = reference as Record<string, unknown>;
    const join = node['Fn::Join'];
    if (Array.isArray(join)) {
      const [delimiter, items] = join as [string, unknown[]];
      return items.map(flattenCfnReference).join(delimiter);
    }
    if (node['Fn::Sub'] !== undefined) return flattenCfnReference(node['Fn::Sub']);
    const getAtt = node['Fn::GetAtt'];
    if (Array.isArray(getAtt)) {
      return `<${flattenCfnReference(getAtt[0])}.${flattenCfnReference(getAtt[1])}>`;
    }
    if (node['Fn::ImportValue'] !== undefined) return flattenCfnReference(node['Fn::ImportValue']);
    if (node['Ref'] !== undefined) return `<${flattenCfnReference(node['Ref'])}>`;
  }
  return JSON.stringify(reference);
};
