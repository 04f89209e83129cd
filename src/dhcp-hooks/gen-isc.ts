import type { BootPlan, BootRule } from './boot-plan.js';
import type { GenerateOptions } from './gen-dnsmasq.js';

/** The name this snippet gives option 175; ISC dhcpd predefines 93 (pxe-system-type) and 97 (pxe-client-id). */
export const ISC_IPXE_OPTION = 'edgeboot-ipxe-encap';

/** ISC's binary literal for a 16-bit option 93 value, e.g. 7 → `00:07`. */
function hex16(code: number): string {
  return `${((code >> 8) & 0xff).toString(16).padStart(2, '0')}:${(code & 0xff).toString(16).padStart(2, '0')}`;
}

/** A string literal for dhcpd.conf(5); file names and URLs never carry quotes, but escape anyway. */
function quote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/**
 * The `execute()` statement for `on commit` (dhcp-eval(5)): the hook gets `isc commit`, then MAC, IP,
 * host name, option 93 values, vendor class, user class and option 97, each "" when absent.
 */
export function iscExecute(hookPath: string, hookArgs: string[] = []): string {
  const args = [
    quote(hookPath),
    ...hookArgs.map(quote),
    '"isc"',
    '"commit"',
    'binary-to-ascii(16, 8, ":", substring(hardware, 1, 6))',
    'binary-to-ascii(10, 8, ".", leased-address)',
    'pick-first-value(option host-name, "")',
    'pick-first-value(binary-to-ascii(10, 16, ",", option pxe-system-type), "")',
    'pick-first-value(option vendor-class-identifier, "")',
    'pick-first-value(option user-class, "")',
    'pick-first-value(binary-to-ascii(16, 8, ":", option pxe-client-id), "")',
  ];
  return `execute(${args.join(',\n          ')})`;
}

/** A URL goes to UEFI HTTP Boot firmware only (option 60 `HTTPClient…`): installers read a `://` file name as a preseed URL. */
function httpOnly(r: BootRule, archTest: string): string {
  if (!r.httpClient) return archTest;
  // dhcpd reads an `if (` as the whole condition, so the parenthesised part must not come first.
  const arches = r.match.kind === 'arch' && r.match.arches.length > 1 ? `(${archTest})` : archTest;
  return `substring(option vendor-class-identifier, 0, 10) = "HTTPClient" and ${arches}`;
}

/**
 * dhcpd.conf statements at global scope (dhcpd.conf(5), dhcp-options(5)) for a plan: `next-server`,
 * one if/elsif chain choosing `filename`, and the `on commit` hook. Include it from the site's dhcpd.conf.
 */
export function generateIsc(plan: BootPlan, o: GenerateOptions = {}): string {
  const lines: string[] = [...(o.header ?? []).map((h) => `# ${h}`)];
  for (const n of plan.notes) lines.push(`# ${n}`);
  lines.push('', `option ${ISC_IPXE_OPTION} code 175 = string;`, '', `next-server ${plan.serverAddress};`, '');
  let first = true;
  for (const r of plan.rules) {
    const test =
      r.match.kind === 'ipxe'
        ? `exists ${ISC_IPXE_OPTION} or option user-class = "iPXE"`
        : httpOnly(r, r.match.arches.map((a) => `option pxe-system-type = ${hex16(a)}`).join(' or '));
    const what = r.match.kind === 'ipxe' ? 'already iPXE: the HTTP entry script, no TFTP loop' : `option 93 = ${r.match.arches.join(' or ')}`;
    lines.push(`${first ? 'if' : '} elsif'} ${test} {`);
    lines.push(`  # ${r.name}: ${what}`);
    lines.push(`  filename ${quote(r.filename)};`);
    if (r.httpClient) {
      // UEFI 2.5 §24.7.2.1: HTTP boot firmware wants option 60 "HTTPClient" in the offer; dhcpd sends
      // only requested options, so add 60 (0x3c) to the client's parameter request list.
      lines.push('  option vendor-class-identifier "HTTPClient";');
      lines.push('  if exists dhcp-parameter-request-list {');
      lines.push('    option dhcp-parameter-request-list = concat(option dhcp-parameter-request-list, 3c);');
      lines.push('  }');
    }
    first = false;
  }
  if (!first) lines.push('}');
  if (o.hookPath) {
    lines.push('', '# Lease events go to edgeboot. dhcpd keeps one `on commit` per scope: merge with any of your own.');
    lines.push('on commit {', `  ${iscExecute(o.hookPath, o.hookArgs)};`, '}');
  }
  return `${lines.join('\n')}\n`;
}
