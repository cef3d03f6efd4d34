import * as route53 from 'aws-cdk-lib/aws-route53';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { inboundSmtpHost } from '../regions.ts';

export interface SendingIdentityProps {
  /** The desk domain. */
  readonly domain: string;
  /** The receiving region: the MX record points at its SES inbound endpoint. */
  readonly region: string;
  /** A Route 53 public zone that holds the domain. @default - records are created by hand */
  readonly hostedZone?: { readonly id: string; readonly name: string } | undefined;
  /**
   * The identity's default configuration set: SES applies it to every send from the domain that
   * names none, so their bounces and complaints are published too. @default - none
   */
  readonly configurationSet?: ses.IConfigurationSet | undefined;
}

/**
 * `Identity.publicHostedZone(zone)` verifies the zone's apex. The desk domain is often a subdomain
 * (desk.example.com in example.com), so the identity is the domain and only the records go to the zone.
 */
class DomainInHostedZone extends ses.Identity {
  constructor(
    readonly value: string,
    readonly hostedZone: route53.IPublicHostedZone,
  ) {
    super();
  }
}

/**
 * The desk domain as an SES identity with Easy DKIM (outbound mail is DKIM-signed for the domain,
 * so DMARC aligns), and, when a Route 53 zone is given, the DKIM CNAMEs and the MX record that
 * sends the domain's mail to SES. Without a zone, the records are stack outputs to create by hand.
 */
export class SendingIdentity extends Construct {
  readonly identity: ses.EmailIdentity;
  /** `10 inbound-smtp.<region>.amazonaws.com`, the MX record's value. */
  readonly mxValue: string;

  constructor(scope: Construct, id: string, props: SendingIdentityProps) {
    super(scope, id);
    const zone =
      props.hostedZone === undefined
        ? undefined
        : route53.PublicHostedZone.fromPublicHostedZoneAttributes(this, 'Zone', {
            hostedZoneId: props.hostedZone.id,
            zoneName: props.hostedZone.name,
          });
    this.identity = new ses.EmailIdentity(this, 'Identity', {
      identity:
        zone === undefined ? ses.Identity.domain(props.domain) : new DomainInHostedZone(props.domain, zone),
      dkimIdentity: ses.DkimIdentity.easyDkim(ses.EasyDkimSigningKeyLength.RSA_2048_BIT),
      ...(props.configurationSet === undefined ? {} : { configurationSet: props.configurationSet }),
    });
    this.mxValue = `10 ${inboundSmtpHost(props.region)}`;
    if (zone !== undefined) {
      new route53.MxRecord(this, 'InboundMx', {
        zone,
        recordName: `${props.domain}.`,
        values: [{ priority: 10, hostName: inboundSmtpHost(props.region) }],
        comment: 'Postdesk: mail for the desk domain goes to SES inbound',
      });
    }
  }
}
