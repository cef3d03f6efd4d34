/**
 * Regions where SES can receive mail (`inbound-smtp.<region>.amazonaws.com`). Taken from
 * /work/shared/reference/aws-ses-inbound.md §1.6: a Jan-2024 copy of the "Email receiving endpoints"
 * table at https://docs.aws.amazon.com/general/latest/gr/ses.html, corroborated by public configs.
 * AWS adds regions over time: when one is missing here, the `additionalInboundRegions` context
 * option extends the list without a code change.
 */
export const SES_INBOUND_REGIONS = [
  'us-east-1',
  'us-east-2',
  'us-west-2',
  'ca-central-1',
  'eu-central-1',
  'eu-west-1',
  'eu-west-2',
  'ap-northeast-1',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
] as const;

/** The SMTP host the desk domain's MX record points at. */
export const inboundSmtpHost = (region: string): string => `inbound-smtp.${region}.amazonaws.com`;

/**
 * Why `region` cannot receive mail, or undefined when it can. An unresolved region (a token, or
 * none at all) is refused too: the MX host and the receipt rule both need a concrete region.
 */
export const inboundRegionProblem = (
  region: string | undefined,
  additional: readonly string[] = [],
): string | undefined => {
  const allowed = [...SES_INBOUND_REGIONS, ...additional];
  if (region === undefined || region === '' || region.includes('${Token[')) {
    return `no explicit AWS region: SES receives mail only in some regions, so the stacks cannot be environment-agnostic; pass -c region=<region> (or set AWS_REGION / a profile region) with one of: ${allowed.join(', ')}`;
  }
  if (allowed.includes(region)) return undefined;
  return `SES cannot receive mail in ${region}; regions with SES inbound: ${allowed.join(', ')} (if AWS has added ${region} since, pass -c additionalInboundRegions=${region})`;
};
