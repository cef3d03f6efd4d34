/**
 * Where SES receives mail (`inbound-smtp.<region>.amazonaws.com`), and nowhere else.
 *
 * Sources, both public:
 * - SES_RECEIVING_PAGE: the SES Developer Guide, "Regions and Amazon SES", section "Email
 *   receiving", which points at the "Email receiving endpoints" table of
 *   https://docs.aws.amazon.com/general/latest/gr/ses.html (checked 2026-12-02).
 * - SES_RECEIVING_2023_NEWS: AWS What's New of 2023-09 announcing receiving in seven more regions
 *   (https://aws.amazon.com/about-aws/whats-new/2023/09/amazon-ses-email-service-7-regions/,
 *   checked 2026-12-02); before it SES received in us-east-1, us-west-2 and eu-west-1 only.
 *
 * What "checked" means here: on that date the list was compared with the copies of these pages
 * that could be read offline. The pages and their "Email receiving" sections are at these
 * addresses; the receiving table's rows were not in the copies, so the seven regions added in
 * 2023 rest on the announcement. Compare again with the live table before changing the list.
 *
 * Only regions every account has are built in. Opt-in regions (ap-southeast-3 and the others an
 * account must enable first) and regions AWS adds later are accepted only when named with the
 * `additionalInboundRegions` option, after checking the page above.
 */
export const SES_RECEIVING_PAGE =
  'https://docs.aws.amazon.com/ses/latest/dg/regions.html#region-receive-email';
const SES_RECEIVING_2023_NEWS =
  'https://aws.amazon.com/about-aws/whats-new/2023/09/amazon-ses-email-service-7-regions/';
const CHECKED = '2026-12-02';

/** One built-in receiving region and the public page that lists it. */
export interface InboundRegion {
  readonly region: string;
  readonly name: string;
  readonly source: string;
  /** The date the source was last compared with this list. */
  readonly checked: string;
}

export const SES_INBOUND_REGION_SOURCES: readonly InboundRegion[] = [
  { region: 'us-east-1', name: 'US East (N. Virginia)', source: SES_RECEIVING_PAGE, checked: CHECKED },
  { region: 'us-west-2', name: 'US West (Oregon)', source: SES_RECEIVING_PAGE, checked: CHECKED },
  { region: 'eu-west-1', name: 'Europe (Ireland)', source: SES_RECEIVING_PAGE, checked: CHECKED },
  { region: 'us-east-2', name: 'US East (Ohio)', source: SES_RECEIVING_2023_NEWS, checked: CHECKED },
  { region: 'ca-central-1', name: 'Canada (Central)', source: SES_RECEIVING_2023_NEWS, checked: CHECKED },
  { region: 'eu-central-1', name: 'Europe (Frankfurt)', source: SES_RECEIVING_2023_NEWS, checked: CHECKED },
  { region: 'eu-west-2', name: 'Europe (London)', source: SES_RECEIVING_2023_NEWS, checked: CHECKED },
  {
    region: 'ap-northeast-1',
    name: 'Asia Pacific (Tokyo)',
    source: SES_RECEIVING_2023_NEWS,
    checked: CHECKED,
  },
  {
    region: 'ap-southeast-1',
    name: 'Asia Pacific (Singapore)',
    source: SES_RECEIVING_2023_NEWS,
    checked: CHECKED,
  },
  {
    region: 'ap-southeast-2',
    name: 'Asia Pacific (Sydney)',
    source: SES_RECEIVING_2023_NEWS,
    checked: CHECKED,
  },
];

/** The built-in receiving regions, none of them opt-in. */
export const SES_INBOUND_REGIONS: readonly string[] = SES_INBOUND_REGION_SOURCES.map((r) => r.region);

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
    return `no explicit AWS region: SES receives mail only in some regions, so the stacks cannot be environment-agnostic. Fix: pass -c region=<region> or set AWS_REGION (or AWS_DEFAULT_REGION), with one of: ${allowed.join(', ')} (the CDK CLI's default region, CDK_DEFAULT_REGION, is not used on its own)`;
  }
  if (allowed.includes(region)) return undefined;
  return `SES cannot receive mail in ${region}; regions with SES inbound: ${allowed.join(', ')} (an opt-in region, or one AWS added since, is accepted with -c additionalInboundRegions=${region} once ${SES_RECEIVING_PAGE} lists it)`;
};
